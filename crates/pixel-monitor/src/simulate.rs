//! A seeded simulated running period in the export formats the readers take, for the demo, the
//! tests and the benchmarks.
//!
//! # What is simulated
//!
//! * **Fills**: stable-beam fills from the start date, lengths log-normal around
//!   [`SimConfig::mean_fill_h`] (5 % of them shorter than the 20-minute delay), interfills of at
//!   least 1 h plus an exponential part, fill numbers increasing with gaps (the skipped numbers
//!   are fills without stable beams, present in the OMS export and removed by its filters), no
//!   fills during the technical stops.
//! * **Luminosity**: L̇(t) = L̇₀ exp(−(t − t_SB)/τ) during stable beams, L̇₀ around
//!   [`SimConfig::peak_lumi_fb_per_s`]; exported per fill (OMS JSON:API in pb⁻¹), per run and per
//!   lumisection (brilcalc CSV in µb⁻¹, lumisections of 23.31 s with their exact integrals).
//! * **Cooling**: every barrel cooling loop follows the coolant set point with a loop offset and
//!   a small daily wave, warmed to [`TechnicalStop::warm_c`] during the warm part of a technical
//!   stop. Every PLC sensor reads its **physical** position (the DCS alias its OMDS part maps to:
//!   the exports carry the original's alias mix-up, which the processing must undo) plus a sensor
//!   offset and noise; one sensor (`PixelBarrel_BmO_6M_L4D3MF`, the original's outlier) reads
//!   45 °C for a fraction of the time; the broken loops' sensors and two aliases missing from the
//!   correction table are present too.
//! * **HV**: on at 250 V, off during technical stops (`v_voltages` records at each change and
//!   once a day).
//! * **Leakage current** of every readout group: the Hamburg model ([`crate::hamburg`],
//!   [`SimConfig::hamburg`]) integrated on a [`SimConfig::truth_step_s`] grid from zero damage,
//!   with the readout group's fluence (the mean of its modules in the simulated FLUKA field) and
//!   its sensor temperature (pipe + self-heating + fluence heating, [`SimConfig::model`]), scaled
//!   from 20 °C to the sensor temperature, times the group's volume, with relative noise.
//! * **CAEN changes** of all 256 barrel channels (plus two aliases the processing must skip), PLC
//!   changes of all loop and air sensors: change times are Poisson processes with the mean
//!   intervals of the configuration, so a year gives some 10⁷ CAEN rows.
//! * **FLUKA field**: F₀(r, z) = 0.566 r^−1.7 e^−0.01r / √(1 + (z/50)²) n_eq cm⁻² per collision
//!   (≈ 0.09 at r = 2.9 cm, z = 0), split into neutrons 0.30, anti-neutrons 0.01, protons 0.08,
//!   anti-protons 0.02 and pions 0.59 of it, each × (1 + 0.02 N(0, 1)); all particles is their sum;
//!   errors uniform in 1-5 %; 200 r bins on 0-20 cm and 700 z bins on −350-350 cm.
//!
//! Random numbers come from hep-core streams keyed by unit (schedule, loop, sensor, channel), so
//! the files do not depend on the thread count.
//!
//! # Files (in the output directory)
//!
//! `fills.json` (OMS JSON:API with luminosity units; also the per-fill luminosity input),
//! `lumi_byrun.csv`, `lumi_byls.csv`, `caen.{parquet,csv}`, `plc.{parquet,csv}`,
//! `hv.{parquet,csv}` (see [`SimConfig::dcs_format`]), `fluka_usrbin_ascii.txt`,
//! `truth.parquet` (per readout group and hour: pipe and sensor temperature, HV state, fluence rate
//! and cumulative fluence, ΔI/V at 20 °C, current) and `truth.json` (the parameters and the
//! readout groups' fluence per collision), each with its manifest.

use std::collections::BinaryHeap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema};
use chrono::NaiveDate;
use rand::RngExt;
use rand_distr::{Distribution, Exp, LogNormal, Normal};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::{CrossSections, TemperatureModel};
use crate::constants::ZERO_CELSIUS_K;
use crate::dcs::{DcsKind, ExportRow, export_batch};
use crate::error::{Error, Result};
use crate::fills::{field_with_unit, timestamp_type};
use crate::fluence::{Axis, FlukaField, RogFluence, SPECIES, SpeciesData, write_usrbin_ascii};
use crate::geometry::{AliasStatus, Geometry, parse_loop_alias};
use crate::hamburg::{HamburgParams, Integrator, Step};
use crate::normalise::scale_to_temperature;
use crate::output::Outputs;
use crate::time::{Micros, US_PER_DAY, US_PER_H, US_PER_S, from_naive_utc};
use hep_core::progress::Progress;

/// Length of a lumisection (s): 2¹⁸ LHC orbits of 3564 bunch spaces at 40.079 MHz.
pub const LS_SECONDS: f64 = 262_144.0 * 3564.0 / 40.079e6;

/// A technical stop: no beam, HV off, the coolant warmed for part of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TechnicalStop {
    /// Start, days after the start date.
    pub start_day: f64,
    /// Length (days).
    pub days: f64,
    /// Length of the warm period in its middle (days).
    pub warm_days: f64,
    /// Coolant temperature of the warm period (°C).
    pub warm_c: f64,
}

/// Which formats the DCS exports are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DcsFormat {
    /// Parquet only.
    #[default]
    Parquet,
    /// CSV only.
    Csv,
    /// Both.
    Both,
}

/// The configuration of `simulate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimConfig {
    /// Master seed.
    pub seed: u64,
    /// First day (`YYYY-MM-DD`, 00:00 UTC).
    pub start_date: String,
    /// Length of the period (days).
    pub days: f64,
    /// Number of the first fill.
    pub first_fill: u32,
    /// Typical peak luminosity (fb⁻¹ s⁻¹; 2e-5 is 2e34 cm⁻² s⁻¹).
    pub peak_lumi_fb_per_s: f64,
    /// Luminosity lifetime (h).
    pub lumi_lifetime_h: f64,
    /// Median stable-beam length (h).
    pub mean_fill_h: f64,
    /// Mean interfill length (h), at least 1 h.
    pub mean_interfill_h: f64,
    /// Technical stops.
    pub technical_stops: Vec<TechnicalStop>,
    /// Coolant set point (°C).
    pub coolant_c: f64,
    /// Mean interval between CAEN changes of a channel (s).
    pub caen_interval_s: f64,
    /// Mean interval between PLC changes of a sensor (s).
    pub plc_interval_s: f64,
    /// Relative noise of the HV currents.
    pub current_noise_rel: f64,
    /// Noise of the temperature sensors (K).
    pub temperature_noise_k: f64,
    /// Fraction of the time the outlier sensor reads 45 °C.
    pub faulty_fraction: f64,
    /// Step of the Hamburg-model integration of the true current (s).
    pub truth_step_s: i64,
    /// Step of `truth.parquet` (s).
    pub truth_output_step_s: i64,
    /// The Hamburg parameters of the true current.
    pub hamburg: HamburgParams,
    /// The sensor-temperature model.
    pub model: TemperatureModel,
    /// Formats of the DCS exports.
    pub dcs_format: DcsFormat,
    /// Write the DCS exports ordered by time (as Oracle's `ORDER BY change_date`) rather than by
    /// channel.
    pub order_by_time: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: 2026,
            start_date: "2024-04-01".into(),
            days: 200.0,
            first_fill: 9800,
            peak_lumi_fb_per_s: 2.0e-5,
            lumi_lifetime_h: 12.0,
            mean_fill_h: 9.0,
            mean_interfill_h: 4.0,
            technical_stops: vec![
                TechnicalStop {
                    start_day: 60.0,
                    days: 5.0,
                    warm_days: 2.0,
                    warm_c: 15.0,
                },
                TechnicalStop {
                    start_day: 130.0,
                    days: 5.0,
                    warm_days: 2.0,
                    warm_c: 15.0,
                },
            ],
            coolant_c: -22.0,
            caen_interval_s: 300.0,
            plc_interval_s: 600.0,
            current_noise_rel: 0.003,
            temperature_noise_k: 0.05,
            faulty_fraction: 0.05,
            truth_step_s: 600,
            truth_output_step_s: 3600,
            hamburg: HamburgParams::default(),
            model: TemperatureModel::default(),
            dcs_format: DcsFormat::Parquet,
            order_by_time: true,
        }
    }
}

impl SimConfig {
    /// A small configuration for tests: `days` days with one technical stop in the middle (a
    /// fifth of the period, warm at +20 °C for most of it, so that the annealing separates the
    /// terms of the Hamburg model), coarser change rates, CSV and Parquet.
    pub fn small(days: f64) -> Self {
        Self {
            days,
            technical_stops: vec![TechnicalStop {
                start_day: days * 0.4,
                days: days * 0.2,
                warm_days: days * 0.15,
                warm_c: 20.0,
            }],
            caen_interval_s: 1200.0,
            plc_interval_s: 900.0,
            dcs_format: DcsFormat::Both,
            ..Self::default()
        }
    }

    fn validate(&self) -> Result<()> {
        let pos = [
            ("days", self.days),
            ("peak_lumi_fb_per_s", self.peak_lumi_fb_per_s),
            ("lumi_lifetime_h", self.lumi_lifetime_h),
            ("mean_fill_h", self.mean_fill_h),
            ("caen_interval_s", self.caen_interval_s),
            ("plc_interval_s", self.plc_interval_s),
        ];
        for (n, v) in pos {
            if !(v > 0.0) || !v.is_finite() {
                return Err(Error::Config(format!(
                    "simulate.{n} must be > 0, found {v}"
                )));
            }
        }
        if self.mean_interfill_h < 1.0 || self.truth_step_s <= 0 || self.truth_output_step_s <= 0 {
            return Err(Error::Config(
                "simulate: mean_interfill_h must be >= 1 and the truth steps > 0".into(),
            ));
        }
        if !(0.0..=1.0).contains(&self.faulty_fraction) {
            return Err(Error::Config(
                "simulate.faulty_fraction must be in [0, 1]".into(),
            ));
        }
        Ok(())
    }

    /// The start instant.
    ///
    /// # Errors
    /// [`Error::Config`] for a date not in `YYYY-MM-DD`.
    pub fn start(&self) -> Result<Micros> {
        let d = NaiveDate::parse_from_str(&self.start_date, "%Y-%m-%d").map_err(|_| {
            Error::Config(format!(
                "simulate.start_date: expected YYYY-MM-DD, found `{}`",
                self.start_date
            ))
        })?;
        Ok(from_naive_utc(d.and_hms_opt(0, 0, 0).expect("midnight")))
    }
}

/// A simulated fill.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimFill {
    /// Fill number.
    pub fill: u32,
    /// Start of stable beams (UTC µs).
    pub start: Micros,
    /// End of stable beams (UTC µs).
    pub end: Micros,
    /// Peak luminosity (fb⁻¹ s⁻¹).
    pub peak: f64,
    /// Luminosity lifetime (s).
    pub tau_s: f64,
    /// Colliding bunches.
    pub bunches: u32,
}

impl SimFill {
    /// Delivered luminosity in `[a, b]` ∩ stable beams (fb⁻¹): L̇₀ τ (e^{−(a−t₀)/τ} − e^{−(b−t₀)/τ}).
    pub fn lumi(&self, a: Micros, b: Micros) -> f64 {
        let a = a.max(self.start);
        let b = b.min(self.end);
        if b <= a {
            return 0.0;
        }
        let x = (a - self.start) as f64 / US_PER_S as f64;
        let y = (b - self.start) as f64 / US_PER_S as f64;
        self.peak * self.tau_s * ((-x / self.tau_s).exp() - (-y / self.tau_s).exp())
    }
}

/// A published PLC part and the physical sensor behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimSensor {
    /// The part as exported (`PixelBarrel_<hc>_<OMDS alias>`).
    pub part: String,
    /// Loop index into [`Simulation::loops`] of the physical sensor; `None` for air sensors.
    pub loop_index: Option<usize>,
    /// Offset of the physical sensor (position on the loop plus a sensor offset, K).
    pub offset_k: f64,
    /// Whether the processing uses it (alias known and not broken).
    pub used: bool,
    /// Whether it is the outlier that reads 45 °C part of the time.
    pub outlier: bool,
}

/// The simulated period: schedule, cooling, fluence and the true currents.
#[derive(Debug, Clone)]
pub struct Simulation {
    /// The configuration.
    pub config: SimConfig,
    /// Start (UTC µs).
    pub start: Micros,
    /// End (UTC µs).
    pub end: Micros,
    /// The fills with stable beams, in time order.
    pub fills: Vec<SimFill>,
    /// Fill numbers of the OMS records without stable beams.
    pub no_beam_fills: Vec<u32>,
    /// The barrel cooling loops `(layer, disk, near)` and their offsets (K).
    pub loops: Vec<((u8, u8, bool), f64, f64)>,
    /// The PLC sensors.
    pub sensors: Vec<SimSensor>,
    /// The FLUKA field (as read back from its text, 4 significant digits).
    pub field: FlukaField,
    /// The species maps written to the USRBIN file.
    species: Vec<(Vec<f64>, Vec<f64>)>,
    /// Per readout group: fluence per collision (mean over modules).
    pub rog_fluence: Vec<f64>,
    /// Per readout group: the serving sensors (indices into `sensors`).
    rog_sensors: Vec<Vec<usize>>,
    /// Per readout group: ΔI/V at 20 °C (A/cm³) on the truth grid (index k: at start + k·step).
    truth: Vec<Vec<f64>>,
    /// Cross-section table.
    sigma: CrossSections,
    /// The detector geometry the period is simulated for.
    geometry: Geometry,
}

fn warm_profile(t: Micros, start: Micros, stops: &[TechnicalStop], coolant: f64) -> f64 {
    let ramp = 2.0 * US_PER_H as f64;
    for s in stops {
        let ts = start as f64 + s.start_day * US_PER_DAY as f64;
        let a = ts + (s.days - s.warm_days) / 2.0 * US_PER_DAY as f64;
        let b = a + s.warm_days * US_PER_DAY as f64;
        let t = t as f64;
        if t > a && t < b + ramp {
            let up = ((t - a) / ramp).min(1.0);
            let down = if t > b { 1.0 - (t - b) / ramp } else { 1.0 };
            return (s.warm_c - coolant) * up.min(down);
        }
    }
    0.0
}

impl Simulation {
    /// Builds the simulation (schedule, sensors, field, true currents).
    ///
    /// # Errors
    /// [`Error::Config`] for an invalid configuration; [`Error::Data`] if a fill has no
    /// cross-section.
    pub fn new(config: &SimConfig) -> Result<Self> {
        config.validate()?;
        let start = config.start()?;
        let end = start + (config.days * US_PER_DAY as f64) as i64;
        let (fills, no_beam_fills) = schedule(config, start, end);
        let geo = Geometry::phase1();
        // Loops.
        let mut loops = Vec::new();
        let mut rng = hep_core::rng::stream(config.seed, 2);
        let normal = Normal::new(0.0, 1.0).expect("valid");
        for layer in 1..=4u8 {
            for disk in 1..=(if layer <= 2 { 2 } else { 4 }) {
                for near in [true, false] {
                    let off = 0.3 * normal.sample(&mut rng);
                    let phase = rng.random::<f64>() * std::f64::consts::TAU;
                    loops.push(((layer, disk, near), off, phase));
                }
            }
        }
        let loop_index = |l: &crate::geometry::CoolingLoop| {
            loops
                .iter()
                .position(|(k, _, _)| *k == (l.layer, l.disk, l.near))
                .expect("every loop simulated")
        };
        // Sensors: the 65 of the list, the outlier, 5I_L3D4PN, the broken loops, two aliases the
        // correction table lacks, and the air sensors.
        let mut parts: Vec<String> = geo.temperature_sensors.clone();
        for extra in [
            "PixelBarrel_BmO_6M_L4D3MF",
            "PixelBarrel_BpI_5I_L3D4PN",
            "PixelBarrel_BmO_6I_L4D3MF",
            "PixelBarrel_BpI_6I_L4D3PN",
            "PixelBarrel_BpI_3M_L1D1PN",
            "PixelBarrel_BpO_4M_L1D2PF",
        ] {
            parts.push(extra.to_string());
        }
        let mut sensors = Vec::new();
        for (k, part) in parts.iter().enumerate() {
            let mut r = hep_core::rng::stream(config.seed, 1000 + k as u64);
            let omds = part.split('_').skip(2).collect::<Vec<_>>().join("_");
            let (dcs, used) = match geo.dcs_alias(&omds) {
                AliasStatus::Maps(d) => (d, true),
                AliasStatus::Broken | AliasStatus::Unknown => (omds.clone(), false),
            };
            let a = parse_loop_alias(&dcs).expect("simulated aliases parse");
            let pos = match dcs.as_bytes()[dcs.find('_').expect("alias") - 1] {
                b'I' => -0.2,
                b'M' => 0.0,
                _ => 0.2,
            };
            sensors.push(SimSensor {
                part: part.clone(),
                loop_index: Some(loop_index(&a.cooling_loop)),
                offset_k: pos + 0.1 * normal.sample(&mut r),
                used,
                outlier: part == "PixelBarrel_BmO_6M_L4D3MF",
            });
        }
        for hc in ["BmI", "BmO", "BpI", "BpO"] {
            sensors.push(SimSensor {
                part: format!("PixelBarrel_{hc}_Air"),
                loop_index: None,
                offset_k: 0.0,
                used: false,
                outlier: false,
            });
        }
        let rog_sensors: Vec<Vec<usize>> = geo
            .readout_groups
            .iter()
            .map(|g| {
                sensors
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| {
                        s.used
                            && s.loop_index.is_some_and(|i| {
                                let ((layer, disk, near), _, _) = loops[i];
                                crate::geometry::CoolingLoop { layer, disk, near }.serves(g)
                            })
                    })
                    .map(|(i, _)| i)
                    .collect()
            })
            .collect();
        // Field.
        let r_axis = Axis {
            n: 200,
            lo: 0.0,
            hi: 20.0,
        };
        let z_axis = Axis {
            n: 700,
            lo: -350.0,
            hi: 350.0,
        };
        let fractions = [0.30, 0.01, 0.08, 0.02, 0.59];
        let mut rf = hep_core::rng::stream(config.seed, 3);
        let f: Vec<f64> = (0..fractions.len())
            .map(|_| 1.0 + 0.02 * normal.sample(&mut rf))
            .collect();
        let round4 = |x: f64| -> f64 { crate::pyfmt::sci_upper(x, 4).parse().expect("number") };
        let n = r_axis.n * z_axis.n;
        let mut parts_maps: Vec<Vec<f64>> = vec![Vec::with_capacity(n); fractions.len()];
        let mut allpart = Vec::with_capacity(n);
        for iz in 0..z_axis.n {
            for ir in 0..r_axis.n {
                let (r, z) = (r_axis.center(ir), z_axis.center(iz));
                let f0 =
                    0.566 * r.powf(-1.7) * (-0.01 * r).exp() / (1.0 + (z / 50.0).powi(2)).sqrt();
                let mut sum = 0.0;
                for (k, fr) in fractions.iter().enumerate() {
                    let v = f0 * fr * f[k];
                    sum += v;
                    parts_maps[k].push(round4(v));
                }
                allpart.push(round4(sum));
            }
        }
        let mut re = hep_core::rng::stream(config.seed, 4);
        let mut species = vec![(
            allpart.clone(),
            (0..n)
                .map(|_| round4(1.0 + 4.0 * re.random::<f64>()))
                .collect(),
        )];
        for m in parts_maps {
            let e = (0..n)
                .map(|_| round4(1.0 + 4.0 * re.random::<f64>()))
                .collect();
            species.push((m, e));
        }
        let field = FlukaField::from_fn(r_axis, z_axis, |_, _| 0.0);
        let field = FlukaField {
            species: vec![crate::fluence::SpeciesMap {
                name: "allpart".into(),
                values: allpart,
                rel_errors: Vec::new(),
                texts: Vec::new(),
                error_texts: Vec::new(),
            }],
            ..field
        };
        let rf = RogFluence::new(&field, false);
        let rog_fluence: Vec<f64> = (0..geo.readout_groups.len())
            .map(|i| rf.per_collision(i))
            .collect();
        let mut sim = Simulation {
            config: config.clone(),
            start,
            end,
            fills,
            no_beam_fills,
            loops,
            sensors,
            field,
            species,
            rog_fluence,
            rog_sensors,
            truth: Vec::new(),
            sigma: CrossSections::default(),
            geometry: geo,
        };
        for f in &sim.fills {
            sim.sigma
                .sigma_mb(f.fill, &crate::config::Compat::default())?;
        }
        sim.truth = sim.integrate_truth();
        Ok(sim)
    }

    /// The detector geometry of the simulation (the Phase-1 pixel detector).
    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// The fill with stable beams at `t`, if any.
    pub fn fill_at(&self, t: Micros) -> Option<&SimFill> {
        let i = self.fills.partition_point(|f| f.start <= t);
        i.checked_sub(1)
            .map(|i| &self.fills[i])
            .filter(|f| t < f.end)
    }

    /// The luminosity rate at `t` (fb⁻¹ s⁻¹).
    pub fn lumi_rate(&self, t: Micros) -> f64 {
        self.fill_at(t).map_or(0.0, |f| {
            f.peak * (-((t - f.start) as f64 / US_PER_S as f64) / f.tau_s).exp()
        })
    }

    /// Delivered luminosity in `[a, b]` (fb⁻¹).
    pub fn lumi(&self, a: Micros, b: Micros) -> f64 {
        let i = self.fills.partition_point(|f| f.end <= a);
        self.fills[i..]
            .iter()
            .take_while(|f| f.start < b)
            .map(|f| f.lumi(a, b))
            .sum()
    }

    /// The cross-section (mb) in force at `t` (of the fill at or before it).
    fn sigma_at(&self, t: Micros) -> f64 {
        let i = self.fills.partition_point(|f| f.start <= t);
        // A period without fills has no luminosity: any cross-section gives zero fluence.
        let Some(f) = self
            .fills
            .get(i.saturating_sub(1).min(self.fills.len().saturating_sub(1)))
        else {
            return 80.0;
        };
        self.sigma
            .sigma_mb(f.fill, &crate::config::Compat::default())
            .unwrap_or(80.0)
    }

    /// Whether the HV is on at `t` (off during technical stops).
    pub fn hv_on(&self, t: Micros) -> bool {
        !self.config.technical_stops.iter().any(|s| {
            let a = self.start + (s.start_day * US_PER_DAY as f64) as i64;
            let b = a + (s.days * US_PER_DAY as f64) as i64;
            t >= a && t < b
        })
    }

    /// The coolant temperature of loop `k` at `t` (°C, noiseless).
    pub fn loop_temperature_c(&self, k: usize, t: Micros) -> f64 {
        let (_, off, phase) = self.loops[k];
        let day = (t - self.start) as f64 / US_PER_DAY as f64;
        self.config.coolant_c
            + off
            + 0.2 * (std::f64::consts::TAU * day + phase).sin()
            + warm_profile(
                t,
                self.start,
                &self.config.technical_stops,
                self.config.coolant_c,
            )
    }

    /// The physical (noiseless) reading of sensor `i` at `t` (°C).
    pub fn sensor_value_c(&self, i: usize, t: Micros) -> f64 {
        let s = &self.sensors[i];
        match s.loop_index {
            Some(k) => self.loop_temperature_c(k, t) + s.offset_k,
            None => {
                18.0 + 0.5
                    * ((t - self.start) as f64 / US_PER_DAY as f64 * std::f64::consts::TAU).sin()
            }
        }
    }

    /// The true pipe temperature of readout group `rog` at `t` (K): the mean physical reading of
    /// the sensors serving it.
    pub fn pipe_temperature_k(&self, rog: usize, t: Micros) -> f64 {
        let s = &self.rog_sensors[rog];
        s.iter().map(|&i| self.sensor_value_c(i, t)).sum::<f64>() / s.len() as f64 + ZERO_CELSIUS_K
    }

    /// The true fluence rate of readout group `rog` at `t` (n_eq cm⁻² s⁻¹).
    pub fn fluence_rate(&self, rog: usize, t: Micros) -> f64 {
        self.rog_fluence[rog] * self.lumi_rate(t) * self.sigma_at(t) * 1e12
    }

    /// The true sensor temperature (K): pipe + self-heating + fluence heating with HV on.
    pub fn sensor_temperature_k(&self, rog: usize, t: Micros) -> f64 {
        let layer = self.geometry.readout_groups[rog].layer;
        let mut x = self.pipe_temperature_k(rog, t);
        if self.hv_on(t) {
            x += self.config.model.self_heating_k(layer)
                + self.config.model.fluence_heating_k_per_rate * self.fluence_rate(rog, t);
        }
        x
    }

    fn integrate_truth(&self) -> Vec<Vec<f64>> {
        let step = self.config.truth_step_s * US_PER_S;
        let n = ((self.end - self.start) / step + 2) as usize;
        (0..self.geometry.readout_groups.len())
            .into_par_iter()
            .map(|rog| {
                let mut it = Integrator::new(self.config.hamburg, 0.02).with_uniform_fluence(true);
                let mut out = Vec::with_capacity(n);
                out.push(0.0);
                for k in 0..n - 1 {
                    let a = self.start + k as i64 * step;
                    let b = a + step;
                    let mid = a + step / 2;
                    let phi = self.rog_fluence[rog] * self.lumi(a, b) * self.sigma_at(mid) * 1e12;
                    it.step(Step {
                        duration_s: step as f64 / US_PER_S as f64,
                        temperature_k: self.sensor_temperature_k(rog, mid),
                        fluence: phi,
                    });
                    out.push(it.current_per_volume());
                }
                out
            })
            .collect()
    }

    /// The true ΔI/V at 20 °C of readout group `rog` at `t` (A/cm³), interpolated on the truth
    /// grid.
    pub fn current_per_volume_20c(&self, rog: usize, t: Micros) -> f64 {
        let step = (self.config.truth_step_s * US_PER_S) as f64;
        let x = ((t - self.start) as f64 / step).max(0.0);
        let v = &self.truth[rog];
        let k = (x.floor() as usize).min(v.len() - 2);
        let f = (x - k as f64).min(1.0);
        v[k] * (1.0 - f) + v[k + 1] * f
    }

    /// The true leakage current of readout group `rog` at `t` (µA, at the sensor temperature);
    /// 0 with HV off.
    pub fn leakage_current_ua(&self, rog: usize, t: Micros) -> f64 {
        if !self.hv_on(t) {
            return 0.0;
        }
        let g = &self.geometry.readout_groups[rog];
        let i20 = self.current_per_volume_20c(rog, t) * g.volume_cm3() * 1e6;
        scale_to_temperature(
            i20,
            20.0 + ZERO_CELSIUS_K,
            self.sensor_temperature_k(rog, t),
            self.config.hamburg.k_b,
        )
    }

    /// Writes every file into `dir` (see the module documentation) and returns their paths.
    ///
    /// # Errors
    /// I/O and Parquet errors.
    pub fn write(&self, dir: &Path, progress: &dyn Progress) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut out = Outputs::start(&self.config, &[])?;
        out.add_seed("master", self.config.seed);
        progress.start("simulate: files", 8);
        out.text(&dir.join("fills.json"), &self.fills_json())?;
        progress.advance(1);
        out.text(&dir.join("lumi_byrun.csv"), &self.brilcalc_by_run())?;
        out.text(&dir.join("lumi_byls.csv"), &self.brilcalc_by_ls())?;
        progress.advance(1);
        let species: Vec<SpeciesData<'_>> = SPECIES
            .iter()
            .zip(&self.species)
            .map(|(n, (v, e))| (*n, v.clone(), Some(e.clone())))
            .collect();
        let fluka = dir.join("fluka_usrbin_ascii.txt");
        write_usrbin_ascii(&fluka, self.field.r, self.field.z, &species)?;
        out.record(&fluka);
        progress.advance(1);
        for kind in [DcsKind::Caen, DcsKind::Plc, DcsKind::Hv] {
            for p in self.write_dcs(dir, kind)? {
                out.record(&p);
            }
            progress.advance(1);
        }
        let (batch, _) = self.truth_batch()?;
        out.parquet(&dir.join("truth.parquet"), batch.schema(), &[batch], &[])?;
        out.text(&dir.join("truth.json"), &self.truth_json()?)?;
        progress.advance(2);
        progress.finish();
        out.finish()
    }

    fn fills_json(&self) -> String {
        let mut data = Vec::new();
        let mut rng = hep_core::rng::stream(self.config.seed, 5);
        for f in &self.fills {
            let d_fb = f.lumi(f.start, f.end);
            data.push(serde_json::json!({
                "id": f.fill.to_string(),
                "type": "fills",
                "attributes": {
                    "fill_number": f.fill,
                    "start_stable_beam": crate::time::iso_utc(f.start),
                    "end_stable_beam": crate::time::iso_utc(f.end),
                    "delivered_lumi": (d_fb * 1e3 * 1e3).round() / 1e3,
                    "recorded_lumi": (0.93 * d_fb * 1e3 * 1e3).round() / 1e3,
                    "stable_beams": true,
                    "injection_scheme": format!("25ns_{}b_{}_hep_rs", f.bunches, f.bunches - 60),
                    "bunches_colliding": f.bunches,
                },
                "meta": {"row": {
                    "delivered_lumi": {"units": "pb^{-1}"},
                    "recorded_lumi": {"units": "pb^{-1}"},
                }},
            }));
        }
        for &n in &self.no_beam_fills {
            let t = self.start + (rng.random::<f64>() * (self.end - self.start) as f64) as i64;
            data.push(serde_json::json!({
                "id": n.to_string(),
                "type": "fills",
                "attributes": {
                    "fill_number": n,
                    "start_stable_beam": null,
                    "end_stable_beam": null,
                    "delivered_lumi": 0.0,
                    "recorded_lumi": 0.0,
                    "stable_beams": false,
                    "injection_scheme": format!("Single_12b_{}", crate::time::iso_utc(t)),
                    "bunches_colliding": 0,
                },
                "meta": {"row": {
                    "delivered_lumi": {"units": "pb^{-1}"},
                    "recorded_lumi": {"units": "pb^{-1}"},
                }},
            }));
        }
        data.sort_by_key(|d| d["attributes"]["fill_number"].as_u64());
        let doc = serde_json::json!({"data": data, "links": {}, "meta": {"totalResourceCount": data.len()}});
        serde_json::to_string_pretty(&doc).expect("JSON") + "\n"
    }

    /// The runs of a fill: 1 to 3 consecutive runs, split at fixed fractions.
    fn runs(&self, k: usize) -> Vec<(u32, Micros, Micros)> {
        let f = &self.fills[k];
        let n = 1 + (f.fill % 3) as usize;
        let base = 380_000 + 4 * k as u32;
        (0..n)
            .map(|i| {
                let a = f.start + (f.end - f.start) * i as i64 / n as i64;
                let b = f.start + (f.end - f.start) * (i as i64 + 1) / n as i64;
                (base + i as u32, a, b)
            })
            .collect()
    }

    fn brilcalc_by_run(&self) -> String {
        let mut s = String::from(
            "#Data tag : 24v1 , Norm tag: None\n#run:fill,time,nls,ncms,delivered(/ub),recorded(/ub)\n",
        );
        let (mut tn, mut td, mut tr, mut nls_all, mut nruns) = (0usize, 0.0, 0.0, 0u64, 0usize);
        for (k, f) in self.fills.iter().enumerate() {
            tn += 1;
            for (run, a, b) in self.runs(k) {
                let d = f.lumi(a, b) * 1e9;
                let nls = ((b - a) as f64 / US_PER_S as f64 / LS_SECONDS).ceil() as u64;
                nls_all += nls;
                nruns += 1;
                td += d;
                tr += 0.93 * d;
                s.push_str(&format!(
                    "{run}:{},{},{nls},{nls},{},{}\n",
                    f.fill,
                    crate::time::to_naive(a).format("%m/%d/%y %H:%M:%S"),
                    crate::pyfmt::repr(d),
                    crate::pyfmt::repr(0.93 * d)
                ));
            }
        }
        s.push_str(&format!(
            "#Summary:\n#nfill,nrun,nls,ncms,totdelivered(/ub),totrecorded(/ub)\n#{tn},{nruns},{nls_all},{nls_all},{},{}\n",
            crate::pyfmt::repr(td),
            crate::pyfmt::repr(tr)
        ));
        s
    }

    fn brilcalc_by_ls(&self) -> String {
        let mut s = String::from(
            "#Data tag : 24v1 , Norm tag: None\n#run:fill,ls,time,beamstatus,E(GeV),delivered(/ub),recorded(/ub),avgpu,source\n",
        );
        for (k, f) in self.fills.iter().enumerate() {
            for (run, a, b) in self.runs(k) {
                let mut ls = 1u32;
                let mut t = a as f64;
                while t < b as f64 {
                    let t2 = (t + LS_SECONDS * US_PER_S as f64).min(b as f64);
                    let d = f.lumi(t as i64, t2 as i64) * 1e9;
                    let pu =
                        d / (LS_SECONDS * 11_245.6 * f64::from(f.bunches)) * 80e-27 * 1e-24 * 1e30;
                    s.push_str(&format!(
                        "{run}:{},{ls}:{ls},{},STABLE BEAMS,6800,{},{},{:.1},HFOC\n",
                        f.fill,
                        (t as i64).div_euclid(US_PER_S),
                        crate::pyfmt::repr(d),
                        crate::pyfmt::repr(0.93 * d),
                        pu
                    ));
                    ls += 1;
                    t = t2;
                }
            }
        }
        s.push_str("#Summary:\n");
        s
    }

    /// The exported channels of one kind: (alias, generator state).
    fn channels(&self, kind: DcsKind) -> Vec<Channel> {
        let geo = &self.geometry;
        let mut out = Vec::new();
        match kind {
            DcsKind::Caen => {
                for hc in ["BmI", "BmO", "BpI", "BpO"] {
                    for s in 1..=8 {
                        for lay in ["14", "23"] {
                            let pg = format!("PixelBarrel_{hc}_S{s}_LAY{lay}");
                            for ch in 0..4 {
                                let cable = format!("{pg}/channel00{ch}");
                                let what = match crate::geometry::classify_barrel_channel(&cable) {
                                    Some(crate::geometry::ChannelKind::Leakage {
                                        readout_group,
                                    }) => ChannelWhat::Leakage(
                                        geo.rog_index(&readout_group).expect("rog"),
                                    ),
                                    _ => {
                                        let sum: u32 = cable.bytes().map(u32::from).sum();
                                        if ch == 0 {
                                            ChannelWhat::Lv(2.5 + 0.01 * f64::from(sum % 13), 2.7)
                                        } else {
                                            ChannelWhat::Lv(1.5 + 0.01 * f64::from(sum % 7), 2.0)
                                        }
                                    }
                                };
                                out.push(Channel {
                                    alias: format!("CMS_TRACKER/PixelBarrel_{hc}/{cable}"),
                                    what,
                                    interval_s: self.config.caen_interval_s,
                                });
                            }
                        }
                    }
                }
                for extra in [
                    "PixelBarrel_BpI_S1_LAY1/channel002",
                    "PixelEndCap_BpI_D1_ROG1/channel002",
                ] {
                    out.push(Channel {
                        alias: format!("CMS_TRACKER/Pixel/{extra}"),
                        what: ChannelWhat::Lv(3.0, 300.0),
                        interval_s: self.config.caen_interval_s * 20.0,
                    });
                }
            }
            DcsKind::Plc => {
                for (i, s) in self.sensors.iter().enumerate() {
                    out.push(Channel {
                        alias: format!("CMS_TRACKER/TK_PLCS/{}", s.part),
                        what: ChannelWhat::Sensor(i),
                        interval_s: self.config.plc_interval_s,
                    });
                }
            }
            DcsKind::Hv => {
                for hc in ["BmI", "BmO", "BpI", "BpO"] {
                    for s in 1..=8 {
                        for lay in ["14", "23"] {
                            for hv in [1, 2] {
                                out.push(Channel {
                                    alias: format!("PixelBarrel_{hc}_S{s}_LAY{lay}/HV{hv}"),
                                    what: ChannelWhat::Hv,
                                    interval_s: 86_400.0,
                                });
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// The change rows of channel `c` (index `k` of its kind), in time order.
    fn channel_rows(&self, kind: DcsKind, k: usize, c: &Channel) -> Vec<(Micros, f64, f64)> {
        let key = 10_000 + 1000 * kind as u64 + k as u64;
        let mut rng = hep_core::rng::stream(self.config.seed, key);
        let normal = Normal::new(0.0, 1.0).expect("valid");
        let mut rows = Vec::new();
        if let ChannelWhat::Hv = c.what {
            // A record at the start, at each HV change and once a day.
            let mut times: Vec<Micros> = vec![self.start - US_PER_H];
            for s in &self.config.technical_stops {
                let a = self.start + (s.start_day * US_PER_DAY as f64) as i64;
                times.push(a);
                times.push(a + (s.days * US_PER_DAY as f64) as i64);
            }
            let mut t = self.start + (rng.random::<f64>() * US_PER_DAY as f64) as i64;
            while t < self.end {
                times.push(t);
                t += US_PER_DAY;
            }
            times.sort_unstable();
            for t in times {
                rows.push((t, if self.hv_on(t) { 250.0 } else { 0.0 }, f64::NAN));
            }
            return rows;
        }
        let exp = Exp::new(1.0 / (c.interval_s * US_PER_S as f64)).expect("positive rate");
        let mut t = self.start - (exp.sample(&mut rng) as i64).min(US_PER_H);
        let mut faulty_until = i64::MIN;
        while t < self.end {
            match c.what {
                ChannelWhat::Leakage(rog) => {
                    let i = self.leakage_current_ua(rog, t);
                    let on = self.hv_on(t);
                    let v = if on {
                        i * (1.0 + self.config.current_noise_rel * normal.sample(&mut rng))
                    } else {
                        0.01 * normal.sample(&mut rng)
                    };
                    let vmon = if on {
                        250.0 + 0.05 * normal.sample(&mut rng)
                    } else {
                        0.0
                    };
                    rows.push((t, round_to(v, 3), round_to(vmon, 2)));
                }
                ChannelWhat::Lv(i, v) => {
                    rows.push((
                        t,
                        round_to(i + 0.005 * normal.sample(&mut rng), 3),
                        round_to(v + 0.01 * normal.sample(&mut rng), 2),
                    ));
                }
                ChannelWhat::Sensor(s) => {
                    let sensor = &self.sensors[s];
                    let mut v = self.sensor_value_c(s, t)
                        + self.config.temperature_noise_k * normal.sample(&mut rng);
                    if sensor.outlier {
                        if t >= faulty_until
                            && rng.random::<f64>() < self.config.faulty_fraction / 10.0
                        {
                            faulty_until = t + (10.0 * c.interval_s * US_PER_S as f64) as i64;
                        }
                        if t < faulty_until {
                            v = 45.0;
                        }
                    }
                    rows.push((t, round_to(v, 2), f64::NAN));
                }
                ChannelWhat::Hv => unreachable!("handled above"),
            }
            t += (exp.sample(&mut rng) as i64).max(US_PER_S);
        }
        rows
    }

    fn write_dcs(&self, dir: &Path, kind: DcsKind) -> Result<Vec<PathBuf>> {
        let channels = self.channels(kind);
        // Generate per channel in parallel (keyed streams), then order.
        let per: Vec<Vec<(Micros, f64, f64)>> = channels
            .par_iter()
            .enumerate()
            .map(|(k, c)| self.channel_rows(kind, k, c))
            .collect();
        let name = match kind {
            DcsKind::Caen => "caen",
            DcsKind::Plc => "plc",
            DcsKind::Hv => "hv",
        };
        let mut written = Vec::new();
        let order: Vec<(usize, usize)> = if self.config.order_by_time {
            // k-way merge by (time, channel).
            let mut heap = BinaryHeap::new();
            for (c, rows) in per.iter().enumerate() {
                if let Some(r) = rows.first() {
                    heap.push(std::cmp::Reverse((r.0, c, 0usize)));
                }
            }
            let total: usize = per.iter().map(Vec::len).sum();
            let mut order = Vec::with_capacity(total);
            while let Some(std::cmp::Reverse((_, c, i))) = heap.pop() {
                order.push((c, i));
                if let Some(r) = per[c].get(i + 1) {
                    heap.push(std::cmp::Reverse((r.0, c, i + 1)));
                }
            }
            order
        } else {
            per.iter()
                .enumerate()
                .flat_map(|(c, rows)| (0..rows.len()).map(move |i| (c, i)))
                .collect()
        };
        let row = |&(c, i): &(usize, usize)| ExportRow {
            alias: channels[c].alias.clone(),
            change_date: per[c][i].0,
            value: per[c][i].1,
            value2: per[c][i].2,
        };
        let fmt = self.config.dcs_format;
        if matches!(fmt, DcsFormat::Parquet | DcsFormat::Both) {
            let p = dir.join(format!("{name}.parquet"));
            let schema = export_batch(kind, &[])?.schema();
            let mut w = hep_core::io::ParquetWriter::create(&p, schema, &[])?;
            for chunk in order.chunks(262_144) {
                let rows: Vec<ExportRow> = chunk.iter().map(row).collect();
                w.write(&export_batch(kind, &rows)?)?;
            }
            w.finish()?;
            written.push(p);
        }
        if matches!(fmt, DcsFormat::Csv | DcsFormat::Both) {
            let p = dir.join(format!("{name}.csv"));
            hep_core::io::atomic_write(&p, |w| {
                let io = |e| hep_core::Error::io(&p, e);
                writeln!(w, "{}", crate::dcs::export_header(kind).join(",")).map_err(io)?;
                let num = |x: f64| {
                    if x.is_nan() {
                        String::new()
                    } else {
                        crate::pyfmt::repr(x)
                    }
                };
                for o in &order {
                    let r = row(o);
                    let t = crate::time::fills_csv_str(r.change_date);
                    match kind {
                        DcsKind::Caen => {
                            writeln!(w, "{},{t},{},{}", r.alias, num(r.value), num(r.value2))
                        }
                        DcsKind::Plc => {
                            let part = r.alias.rsplit('/').next().unwrap_or(&r.alias);
                            writeln!(w, "{},{part},{t},{}", r.alias, num(r.value))
                        }
                        DcsKind::Hv => writeln!(w, "{},{t},{}", r.alias, num(r.value)),
                    }
                    .map_err(io)?;
                }
                Ok(())
            })?;
            written.push(p);
        }
        Ok(written)
    }

    /// The hourly truth per readout group as an Arrow batch.
    ///
    /// # Errors
    /// Arrow errors (none).
    pub fn truth_batch(&self) -> Result<(RecordBatch, usize)> {
        let geo = &self.geometry;
        let step = self.config.truth_output_step_s * US_PER_S;
        let times: Vec<Micros> = (0..)
            .map(|k| self.start + k * step)
            .take_while(|&t| t <= self.end)
            .collect();
        let mut rog = Vec::new();
        let mut time = Vec::new();
        let (mut pipe, mut sensor, mut hv, mut rate, mut cum, mut i20, mut cur) =
            (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
        for (r, g) in geo.readout_groups.iter().enumerate() {
            let mut fl = 0.0;
            let mut prev = self.start;
            for &t in &times {
                fl += self.rog_fluence[r] * self.lumi(prev, t) * self.sigma_at(t) * 1e12;
                prev = t;
                rog.push(g.name.clone());
                time.push(t);
                pipe.push(self.pipe_temperature_k(r, t));
                sensor.push(self.sensor_temperature_k(r, t));
                hv.push(self.hv_on(t));
                rate.push(self.fluence_rate(r, t));
                cum.push(fl);
                i20.push(self.current_per_volume_20c(r, t));
                cur.push(self.leakage_current_ua(r, t));
            }
        }
        let n = rog.len();
        let f = |name: &str, unit: &str| field_with_unit(name, DataType::Float64, false, unit);
        let schema = Arc::new(Schema::new(vec![
            Field::new("readout_group", DataType::Utf8, false),
            field_with_unit("time", timestamp_type(), false, "UTC"),
            f("pipe_temperature_k", "K"),
            f("sensor_temperature_k", "K"),
            Field::new("hv_on", DataType::Boolean, false),
            f("fluence_rate", "n_eq cm^-2 s^-1"),
            f("fluence", "n_eq cm^-2"),
            f("current_per_volume_20c", "A cm^-3"),
            f("leakage_current_ua", "uA"),
        ]));
        let cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(rog)),
            Arc::new(TimestampMicrosecondArray::from(time).with_timezone("UTC")),
            Arc::new(Float64Array::from(pipe)),
            Arc::new(Float64Array::from(sensor)),
            Arc::new(BooleanArray::from(hv)),
            Arc::new(Float64Array::from(rate)),
            Arc::new(Float64Array::from(cum)),
            Arc::new(Float64Array::from(i20)),
            Arc::new(Float64Array::from(cur)),
        ];
        Ok((RecordBatch::try_new(schema, cols)?, n))
    }

    fn truth_json(&self) -> Result<String> {
        let geo = &self.geometry;
        let rogs: Vec<serde_json::Value> = geo
            .readout_groups
            .iter()
            .enumerate()
            .map(|(i, g)| {
                serde_json::json!({
                    "readout_group": g.name,
                    "fluence_per_collision": self.rog_fluence[i],
                    "volume_cm3": g.volume_cm3(),
                    "sensors": self.rog_sensors[i].iter().map(|&s| self.sensors[s].part.clone()).collect::<Vec<_>>(),
                })
            })
            .collect();
        let total_lumi: f64 = self.fills.iter().map(|f| f.lumi(f.start, f.end)).sum();
        let v = serde_json::json!({
            "config": self.config,
            "fills": self.fills.len(),
            "delivered_lumi_fb": total_lumi,
            "readout_groups": rogs,
        });
        Ok(serde_json::to_string_pretty(&v).map_err(hep_core::Error::Json)? + "\n")
    }
}

fn round_to(x: f64, digits: i32) -> f64 {
    let k = 10f64.powi(digits);
    (x * k).round() / k
}

#[derive(Debug, Clone, Copy)]
enum ChannelWhat {
    Leakage(usize),
    Lv(f64, f64),
    Sensor(usize),
    Hv,
}

#[derive(Debug, Clone)]
struct Channel {
    alias: String,
    what: ChannelWhat,
    interval_s: f64,
}

fn schedule(c: &SimConfig, start: Micros, end: Micros) -> (Vec<SimFill>, Vec<u32>) {
    let mut rng = hep_core::rng::stream(c.seed, 1);
    let fill_len = LogNormal::new((c.mean_fill_h * 3600.0).ln(), 0.5).expect("valid");
    let gap = Exp::new(1.0 / ((c.mean_interfill_h - 1.0).max(0.01) * 3600.0)).expect("valid");
    let mut t = start + 2 * US_PER_H;
    let mut fill = c.first_fill;
    let mut fills = Vec::new();
    let mut no_beam = Vec::new();
    while t < end {
        if let Some(s) = c.technical_stops.iter().find(|s| {
            let a = start + (s.start_day * US_PER_DAY as f64) as i64;
            let b = a + (s.days * US_PER_DAY as f64) as i64;
            t >= a - 2 * US_PER_H && t < b
        }) {
            t = start + ((s.start_day + s.days) * US_PER_DAY as f64) as i64 + 6 * US_PER_H;
            continue;
        }
        while rng.random::<f64>() < 0.15 {
            no_beam.push(fill);
            fill += 1;
        }
        let len_s = if rng.random::<f64>() < 0.05 {
            300.0 + 840.0 * rng.random::<f64>()
        } else {
            fill_len.sample(&mut rng).clamp(1800.0, 26.0 * 3600.0)
        };
        let len = (len_s.round() as i64) * US_PER_S;
        // Stable-beam times on whole seconds, as OMS gives them.
        let s0 = t.div_euclid(US_PER_S) * US_PER_S;
        let e0 = s0 + len;
        if e0 > end {
            break;
        }
        // No fill overlapping a technical stop.
        let hits_stop = c.technical_stops.iter().any(|s| {
            let a = start + (s.start_day * US_PER_DAY as f64) as i64;
            e0 > a - 2 * US_PER_H && s0 < a
        });
        if hits_stop {
            t = e0;
            continue;
        }
        let bunches = [2352, 2400, 2460][(rng.random::<f64>() * 3.0) as usize % 3];
        fills.push(SimFill {
            fill,
            start: s0,
            end: e0,
            peak: c.peak_lumi_fb_per_s * (0.85 + 0.2 * rng.random::<f64>()),
            tau_s: c.lumi_lifetime_h * 3600.0,
            bunches,
        });
        fill += 1;
        t = e0 + US_PER_H + ((gap.sample(&mut rng)).round() as i64) * US_PER_S;
    }
    (fills, no_beam)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_simulation_is_consistent() {
        let c = SimConfig::small(4.0);
        let s = Simulation::new(&c).unwrap();
        assert!(s.fills.len() >= 4, "{}", s.fills.len());
        for w in s.fills.windows(2) {
            assert!(w[0].end <= w[1].start && w[0].fill < w[1].fill);
        }
        // Every readout group has at least the sensors its loop needs, except the two loops
        // whose sensor lists the original lacks (none here: the outlier and 5I_L3D4PN are in).
        let geo = Geometry::phase1();
        for (i, _) in geo.readout_groups.iter().enumerate() {
            assert!(!s.rog_sensors[i].is_empty());
        }
        // Current grows with fluence.
        let l1 = geo.rog_index("BPix_BmI_SEC1_LYR1").unwrap();
        let f = s.fills.last().unwrap();
        let later = s.current_per_volume_20c(l1, f.end);
        assert!(later > 0.0);
        let phi: f64 =
            s.fills.iter().map(|f| f.lumi(f.start, f.end)).sum::<f64>() * s.rog_fluence[l1] * 80e12;
        // alpha between 3e-17 and 2e-16 A/cm right after irradiation.
        let alpha = later / phi;
        assert!(alpha > 3e-17 && alpha < 2e-16, "{alpha}");
        // The lumisections add up to the fills.
        let total: f64 = s.fills.iter().map(|f| f.lumi(f.start, f.end)).sum();
        assert!((s.lumi(s.start, s.end) / total - 1.0).abs() < 1e-12);
    }
}
