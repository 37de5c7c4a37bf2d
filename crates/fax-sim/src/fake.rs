//! Fake instructions: `create-fake` (CreateFake of the fax production) and `from-minitree`
//! (CreateFakeFromPickle).
//!
//! # create-fake
//!
//! `zhut19/processing` `montecarlo/fax_waveform_py/fax_production_process.py` (`CreateFake`):
//! per event a position uniform in a fiducial volume (`r = sqrt(U(0, R^2))`, `phi = U(-pi, pi)`,
//! depth uniform), S1 photons and S2 electrons drawn independently and uniformly from the integers
//! in `[low, high)`, and one of four layouts (`correlated`):
//!
//! * `true`: one row per event with both quanta at t = 1000 ns;
//! * `s1`: S1 only; `s2`: S2 only;
//! * `false`: two rows per event at the same place, the S1 row then the S2 row.
//!
//! Fixed by default (original with `--compat`):
//! * `fv-unclipped`: the 2018 box reaches 100 cm depth, beyond the 96.9 cm drift length, so pax
//!   refuses about 3 % of the S2s; by default the volume is clipped to the TPC;
//! * `s2-time-offset`: S2 rows got `t = 1000 + depth / 0.144`, cm over cm/us added to ns (and the
//!   simulation adds the drift time itself); by default S2 rows have t = 1000 ns.
//!
//! The original `false` layout raised an exception (`drop('temp')` without the column axis); it
//! is implemented here as intended in both modes.
//!
//! # from-minitree
//!
//! CreateFakeFromPickle: one row per event of a minitree table (`event_number, x, y, z, cs1,
//! cs2`) with `instruction = event_number`, `depth = -z`, `s1_photons = round(cs1 / g1)`,
//! `s2_electrons = round(cs2 / g2)`, recoil type NR and t = 1000 ns; g1 = 0.12 and g2 = 23 pe per
//! electron by default (configurable).

use std::path::Path;

use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::deposits::{EnergyConfig, EnergyFrontEnd};
use crate::error::{Error, Result};
use crate::instructions::{Instruction, RecoilType};

/// The row layout of `create-fake`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Correlated {
    /// One row per event with S1 photons and S2 electrons (`'True'`).
    #[default]
    True,
    /// Two rows per event: S1 only, then S2 only (`'False'`).
    False,
    /// S1 only (`'S1'`).
    S1,
    /// S2 only (`'S2'`).
    S2,
}

/// Fiducial volume of the generated positions. Depths are positive below the gate (cm).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "shape", rename_all = "snake_case", deny_unknown_fields)]
pub enum FiducialVolume {
    /// A cylinder: depth uniform in `[depth_min_cm, depth_max_cm]`, radius up to `r_max_cm`.
    /// XENON1T Aug 2017: 9 to 92.9 cm, 36.94 cm; Jul 2018: 5 to 100 cm, 40 cm; XENON100: 0 to
    /// 29.6 cm (14.6 +- 15), sqrt(200) cm.
    Cylinder {
        /// Smallest depth (cm).
        depth_min_cm: f64,
        /// Largest depth (cm).
        depth_max_cm: f64,
        /// Largest radius (cm).
        r_max_cm: f64,
    },
    /// `CreateFakeCSV.py` (2016): depth uniform in `[depth_min_cm, depth_max_cm]` and
    /// `r^2 < r2_offset_cm2 + (z + 100 cm) r2_slope_cm` with z = -depth, by rejection in a
    /// +-46 cm box (1e5 tries, then the origin, as the original).
    R2OfZ {
        /// Smallest depth (cm), 15.
        depth_min_cm: f64,
        /// Largest depth (cm), 90.
        depth_max_cm: f64,
        /// Offset of r^2 (cm2), 1400.
        r2_offset_cm2: f64,
        /// Slope of r^2 in z (cm), 3.5.
        r2_slope_cm: f64,
    },
}

impl FiducialVolume {
    /// The XENON1T box of the July 2018 scripts (the production's later version).
    pub fn xenon1t_2018() -> Self {
        FiducialVolume::Cylinder {
            depth_min_cm: 5.0,
            depth_max_cm: 100.0,
            r_max_cm: 40.0,
        }
    }

    /// The XENON1T box of the August 2017 scripts.
    pub fn xenon1t_2017() -> Self {
        FiducialVolume::Cylinder {
            depth_min_cm: 9.0,
            depth_max_cm: 92.9,
            r_max_cm: 36.94,
        }
    }

    /// The 2016 `CreateFakeCSV.py` volume.
    pub fn r2_of_z_2016() -> Self {
        FiducialVolume::R2OfZ {
            depth_min_cm: 15.0,
            depth_max_cm: 90.0,
            r2_offset_cm2: 1400.0,
            r2_slope_cm: 3.5,
        }
    }
}

/// Compatibility switches of `create-fake` (`false` = fixed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct FakeCompat {
    /// `fv-unclipped`: do not clip the volume to the TPC.
    pub fv_unclipped: bool,
    /// `s2-time-offset`: S2 rows at `t = 1000 + depth / 0.144` (ns + us).
    pub s2_time_offset: bool,
}

impl FakeCompat {
    /// Command-line names.
    pub const NAMES: [&'static str; 2] = ["fv-unclipped", "s2-time-offset"];

    /// Parses `all` or a comma-separated list of [`FakeCompat::NAMES`].
    ///
    /// # Errors
    /// [`Error::Config`] naming an unknown switch.
    pub fn parse(list: &str) -> Result<Self> {
        let mut c = Self::default();
        for n in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match n {
                "all" => {
                    c = Self {
                        fv_unclipped: true,
                        s2_time_offset: true,
                    }
                }
                "fv-unclipped" => c.fv_unclipped = true,
                "s2-time-offset" => c.s2_time_offset = true,
                _ => {
                    return Err(Error::Config(format!(
                        "unknown compat switch `{n}` (expected all or {})",
                        Self::NAMES.join(", ")
                    )));
                }
            }
        }
        Ok(c)
    }
}

/// Configuration of `fax-sim create-fake` (the `[BASICS]` keys of a production config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FakeConfig {
    /// Master seed; event `i` draws from `hep_core::rng::stream(seed, i)`.
    pub seed: u64,
    /// Events to generate (`number_event_per_job`).
    pub number_event_per_job: u64,
    /// S1 photons are drawn from the integers in [low, high).
    pub photon_number_low: u64,
    /// Upper bound (exclusive) of S1 photons.
    pub photon_number_high: u64,
    /// S2 electrons are drawn from the integers in [low, high).
    pub electron_number_low: u64,
    /// Upper bound (exclusive) of S2 electrons.
    pub electron_number_high: u64,
    /// Row layout.
    pub correlated: Correlated,
    /// Recoil type written to every row.
    pub recoil_type: RecoilType,
    /// Interaction time of the rows (ns; `default_event_time`).
    pub event_time_ns: f64,
    /// Drift velocity of the original's S2 time offset (cm/us), only with `s2-time-offset`.
    pub compat_drift_velocity_cm_per_us: f64,
    /// Fiducial volume.
    pub fv: FiducialVolume,
    /// TPC drift length (cm) the volume is clipped to.
    pub tpc_length_cm: f64,
    /// TPC radius (cm) the volume is clipped to.
    pub tpc_radius_cm: f64,
    /// Compatibility switches.
    pub compat: FakeCompat,
    /// Energy front end (`--energy-spectrum`): when set, each event's S1 photons and S2 electrons
    /// are NEST quanta of an energy drawn from this spectrum instead of the uniform integer
    /// ranges, and the recoil type follows the interaction (NR for `nr`, else ER).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub energy: Option<EnergyConfig>,
}

impl Default for FakeConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            number_event_per_job: 100,
            photon_number_low: 50,
            photon_number_high: 100,
            electron_number_low: 10,
            electron_number_high: 100,
            correlated: Correlated::True,
            recoil_type: RecoilType::Er,
            event_time_ns: 1000.0,
            compat_drift_velocity_cm_per_us: 0.144,
            fv: FiducialVolume::xenon1t_2018(),
            tpc_length_cm: 96.9,
            tpc_radius_cm: 47.9,
            compat: FakeCompat::default(),
            energy: None,
        }
    }
}

fn check_range(lo: u64, hi: u64, what: &str) -> Result<()> {
    if hi <= lo {
        return Err(Error::Config(format!(
            "{what}: the upper bound (exclusive) must exceed the lower, found [{lo}, {hi})"
        )));
    }
    Ok(())
}

/// Generates the instructions of `create-fake`.
///
/// With [`FakeConfig::energy`], each event draws (after its position) an energy from the spectrum
/// and its NEST quanta ([`crate::deposits`]); the rows also carry `e_dep_kev`,
/// `local_field_v_per_cm` and `n_excitons`.
///
/// # Errors
/// [`Error::Config`] for empty quanta ranges or a volume with no room inside the TPC; those of
/// [`EnergyFrontEnd::new`] and NEST's for an energy front end.
pub fn create_fake(cfg: &FakeConfig) -> Result<Vec<Instruction>> {
    let front = cfg.energy.as_ref().map(EnergyFrontEnd::new).transpose()?;
    if front.is_none()
        && matches!(
            cfg.correlated,
            Correlated::True | Correlated::False | Correlated::S1
        )
    {
        check_range(
            cfg.photon_number_low,
            cfg.photon_number_high,
            "photon_number",
        )?;
    }
    if front.is_none()
        && matches!(
            cfg.correlated,
            Correlated::True | Correlated::False | Correlated::S2
        )
    {
        check_range(
            cfg.electron_number_low,
            cfg.electron_number_high,
            "electron_number",
        )?;
    }
    let clip = !cfg.compat.fv_unclipped;
    let mut out = Vec::new();
    for ev in 0..cfg.number_event_per_job {
        let mut rng = hep_core::rng::stream(cfg.seed, ev);
        let (x, y, depth) = match cfg.fv {
            FiducialVolume::Cylinder {
                depth_min_cm,
                depth_max_cm,
                r_max_cm,
            } => {
                let (mut d0, mut d1, mut rm) = (depth_min_cm, depth_max_cm, r_max_cm);
                if clip {
                    d0 = d0.max(0.0);
                    d1 = d1.min(cfg.tpc_length_cm);
                    rm = rm.min(cfg.tpc_radius_cm);
                }
                if !(d1 >= d0 && rm >= 0.0) {
                    return Err(Error::Config(format!(
                        "the fiducial volume has no room inside the TPC (depth [{d0}, {d1}] cm, r <= {rm} cm)"
                    )));
                }
                let r = (rm * rm * rng.random::<f64>()).sqrt();
                let phi = std::f64::consts::PI * (2.0 * rng.random::<f64>() - 1.0);
                (
                    r * phi.cos(),
                    r * phi.sin(),
                    d0 + (d1 - d0) * rng.random::<f64>(),
                )
            }
            FiducialVolume::R2OfZ {
                depth_min_cm,
                depth_max_cm,
                r2_offset_cm2,
                r2_slope_cm,
            } => {
                let (mut d0, mut d1) = (depth_min_cm, depth_max_cm);
                if clip {
                    d0 = d0.max(0.0);
                    d1 = d1.min(cfg.tpc_length_cm);
                }
                let mut found = (0.0, 0.0, 0.0);
                for _ in 0..100_000 {
                    let x = 46.0 * (2.0 * rng.random::<f64>() - 1.0);
                    let y = 46.0 * (2.0 * rng.random::<f64>() - 1.0);
                    let d = d0 + (d1 - d0) * rng.random::<f64>();
                    let r2 = x * x + y * y;
                    if r2 < r2_offset_cm2 + (100.0 - d) * r2_slope_cm
                        && (!clip || r2 <= cfg.tpc_radius_cm.powi(2))
                    {
                        found = (x, y, d);
                        break;
                    }
                }
                found
            }
        };
        let (s1, s2, energy) = match &front {
            Some(f) => {
                let field = f.field_at(x, y, depth)?;
                let (e, p, el, ex) = f.draw(&mut rng, field)?;
                (p, el, Some((e, field, ex)))
            }
            None => (
                rng.random_range(
                    cfg.photon_number_low..cfg.photon_number_high.max(cfg.photon_number_low + 1),
                ),
                rng.random_range(
                    cfg.electron_number_low
                        ..cfg.electron_number_high.max(cfg.electron_number_low + 1),
                ),
                None,
            ),
        };
        let recoil_type = front.as_ref().map_or(cfg.recoil_type, |f| f.recoil_type());
        let t = cfg.event_time_ns;
        let t_s2 = if cfg.compat.s2_time_offset {
            t + depth / cfg.compat_drift_velocity_cm_per_us
        } else {
            t
        };
        let row = |s1: u64, s2: u64, t: f64| {
            let mut r = Instruction::new(
                ev as i64,
                recoil_type,
                Some(x),
                Some(y),
                Some(depth),
                s1,
                s2,
                t,
            );
            if let Some((e, f, ex)) = energy {
                r.e_dep_kev = Some(e);
                r.local_field_v_per_cm = Some(f);
                r.n_excitons = ex;
            }
            r
        };
        match cfg.correlated {
            Correlated::True => out.push(row(s1, s2, t)),
            Correlated::S1 => out.push(row(s1, 0, t)),
            Correlated::S2 => out.push(row(0, s2, t_s2)),
            Correlated::False => {
                out.push(row(s1, 0, t));
                out.push(row(0, s2, t_s2));
            }
        }
    }
    Ok(out)
}

/// Configuration of `fax-sim from-minitree`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FromMinitreeConfig {
    /// Detected photoelectrons per emitted photon used to invert cs1 (`s1_detection_efficiency`).
    pub g1_pe_per_photon: f64,
    /// Single-electron gain used to invert cs2 (pe per electron; SR0 23).
    pub g2_pe_per_electron: f64,
    /// Also divide cs1 by `1 + p_dpe`: for a simulation that applies double-PE emission on top of
    /// g1 (pax, `--compat dpe-light-yield`).
    pub undo_dpe: bool,
    /// Probability of double-PE emission for `undo_dpe`.
    pub p_double_pe_emission: f64,
    /// Read the uncorrected `s2` and `drift_time` (ns) columns instead of `cs2` and undo the
    /// electron-lifetime loss with this lifetime (us). `None`: use `cs2` as is.
    pub undo_lifetime_us: Option<f64>,
    /// Recoil type of the rows (the original forced NR).
    pub recoil_type: RecoilType,
    /// Interaction time of the rows (ns).
    pub event_time_ns: f64,
    /// Rows per job; with `job_index` takes rows `[k N, (k + 1) N)` of the table. `None`: all.
    pub events_per_job: Option<usize>,
    /// The job index k.
    pub job_index: usize,
}

impl Default for FromMinitreeConfig {
    fn default() -> Self {
        Self {
            g1_pe_per_photon: 0.12,
            g2_pe_per_electron: 23.0,
            undo_dpe: false,
            p_double_pe_emission: 0.15,
            undo_lifetime_us: None,
            recoil_type: RecoilType::Nr,
            event_time_ns: 1000.0,
            events_per_job: None,
            job_index: 0,
        }
    }
}

/// Columns of a minitree table, by name.
#[derive(Debug, Clone, Default)]
pub struct MinitreeColumns {
    /// Column names and values (nulls and `nan` as NaN).
    pub columns: Vec<(String, Vec<f64>)>,
}

impl MinitreeColumns {
    fn get(&self, name: &str, label: &Path) -> Result<&[f64]> {
        self.columns
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
            .ok_or_else(|| {
                Error::parse(
                    label,
                    1,
                    format!("a column `{name}`"),
                    self.columns
                        .iter()
                        .map(|c| c.0.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                )
            })
    }

    /// Reads a CSV (header row; numbers, `nan` or empty for missing) or Parquet (by extension)
    /// table.
    ///
    /// # Errors
    /// Located parse errors; Parquet errors naming the file.
    pub fn read(path: &Path) -> Result<Self> {
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
        {
            let b = hep_core::io::read_parquet_table(path)?;
            let mut columns = Vec::new();
            for (i, f) in b.schema().fields().iter().enumerate() {
                let a = b.column(i);
                let v: Option<Vec<f64>> =
                    if let Some(a) = a.as_any().downcast_ref::<arrow_array::Float64Array>() {
                        Some(a.iter().map(|x| x.unwrap_or(f64::NAN)).collect())
                    } else if let Some(a) = a.as_any().downcast_ref::<arrow_array::Int64Array>() {
                        Some(a.iter().map(|x| x.map_or(f64::NAN, |x| x as f64)).collect())
                    } else if let Some(a) = a.as_any().downcast_ref::<arrow_array::Float32Array>() {
                        Some(a.iter().map(|x| x.map_or(f64::NAN, f64::from)).collect())
                    } else {
                        a.as_any()
                            .downcast_ref::<arrow_array::Int32Array>()
                            .map(|a| a.iter().map(|x| x.map_or(f64::NAN, f64::from)).collect())
                    };
                if let Some(v) = v {
                    columns.push((f.name().clone(), v));
                }
            }
            return Ok(Self { columns });
        }
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let mut rdr = csv::ReaderBuilder::new().from_reader(bytes.as_slice());
        let headers = rdr
            .headers()
            .map_err(|e| Error::parse(path, 1, "a CSV header", e.to_string()))?
            .clone();
        let mut columns: Vec<(String, Vec<f64>)> = headers
            .iter()
            .map(|h| (h.trim().to_string(), Vec::new()))
            .collect();
        for rec in rdr.records() {
            let rec = rec.map_err(|e| {
                Error::parse(
                    path,
                    e.position().map_or(0, |p| p.line()),
                    format!("{} fields", headers.len()),
                    e.to_string(),
                )
            })?;
            let line = rec.position().map_or(0, |p| p.line());
            for (k, f) in rec.iter().enumerate() {
                let f = f.trim();
                let v = if f.is_empty() || f.eq_ignore_ascii_case("nan") {
                    f64::NAN
                } else {
                    f.parse::<f64>().map_err(|_| {
                        Error::parse(
                            path,
                            line,
                            format!("a number in `{}`", columns[k].0),
                            format!("`{f}`"),
                        )
                    })?
                };
                columns[k].1.push(v);
            }
        }
        Ok(Self { columns })
    }
}

/// Builds instructions from a minitree table (`label` names it in errors).
///
/// # Errors
/// A located error for a missing column or a row whose values are missing or give negative
/// quanta.
pub fn from_minitree(
    table: &MinitreeColumns,
    label: &Path,
    cfg: &FromMinitreeConfig,
) -> Result<Vec<Instruction>> {
    if !(cfg.g1_pe_per_photon > 0.0 && cfg.g2_pe_per_electron > 0.0) {
        return Err(Error::Config(
            "g1_pe_per_photon and g2_pe_per_electron must be positive".into(),
        ));
    }
    let ev = table.get("event_number", label)?;
    let x = table.get("x", label)?;
    let y = table.get("y", label)?;
    let z = table.get("z", label)?;
    let cs1 = table.get("cs1", label)?;
    let (s2, dt) = match cfg.undo_lifetime_us {
        None => (table.get("cs2", label)?, None),
        Some(_) => (
            table.get("s2", label)?,
            Some(table.get("drift_time", label)?),
        ),
    };
    let n = ev.len();
    let range = match cfg.events_per_job {
        Some(k) => (cfg.job_index * k).min(n)..((cfg.job_index + 1) * k).min(n),
        None => 0..n,
    };
    let g1 = cfg.g1_pe_per_photon
        * if cfg.undo_dpe {
            1.0 + cfg.p_double_pe_emission
        } else {
            1.0
        };
    let mut out = Vec::with_capacity(range.len());
    for i in range {
        let line = i as u64 + 2;
        let vals = [ev[i], x[i], y[i], z[i], cs1[i], s2[i]];
        if vals.iter().any(|v| !v.is_finite()) {
            return Err(Error::parse(
                label,
                line,
                "finite event_number, x, y, z, cs1 and cs2 (row)",
                format!("{vals:?}"),
            ));
        }
        let mut electrons = s2[i] / cfg.g2_pe_per_electron;
        if let (Some(tau), Some(dt)) = (cfg.undo_lifetime_us, dt) {
            electrons *= (dt[i] / 1000.0 / tau).exp();
        }
        let photons = (cs1[i] / g1).round();
        let electrons = electrons.round();
        if photons < 0.0 || electrons < 0.0 || !electrons.is_finite() {
            return Err(Error::parse(
                label,
                line,
                "non-negative cs1 and cs2 (row)",
                format!("cs1 {} cs2 {}", cs1[i], s2[i]),
            ));
        }
        out.push(Instruction::new(
            ev[i] as i64,
            cfg.recoil_type,
            Some(x[i]),
            Some(y[i]),
            Some(-z[i]),
            photons as u64,
            electrons as u64,
            cfg.event_time_ns,
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_and_ranges() {
        let mut c = FakeConfig {
            number_event_per_job: 2000,
            ..FakeConfig::default()
        };
        let rows = create_fake(&c).unwrap();
        assert_eq!(rows.len(), 2000);
        assert!(
            rows.iter()
                .all(|r| (50..100).contains(&r.s1_photons) && (10..100).contains(&r.s2_electrons))
        );
        assert!(
            rows.iter().any(|r| r.s1_photons == 99) && !rows.iter().any(|r| r.s1_photons == 100)
        );
        assert!(rows.iter().all(|r| {
            let d = r.depth_cm.unwrap();
            (5.0..=96.9).contains(&d)
        }));
        assert!(
            rows.iter()
                .all(|r| r.x_cm.unwrap().hypot(r.y_cm.unwrap()) <= 40.0)
        );
        c.compat.fv_unclipped = true;
        let rows = create_fake(&c).unwrap();
        let beyond = rows.iter().filter(|r| r.depth_cm.unwrap() > 96.9).count() as f64 / 2000.0;
        // 3.1 / 95 = 3.3 % of the depths lie below the cathode.
        assert!(
            (beyond - 0.033).abs() < 4.0 * (0.033f64 * 0.967 / 2000.0).sqrt(),
            "{beyond}"
        );
        c.correlated = Correlated::False;
        c.number_event_per_job = 3;
        c.compat = FakeCompat::default();
        let rows = create_fake(&c).unwrap();
        assert_eq!(rows.len(), 6);
        assert_eq!(rows[4].instruction, 2);
        assert_eq!((rows[4].s2_electrons, rows[5].s1_photons), (0, 0));
        assert_eq!(rows[5].t_ns, 1000.0);
        c.compat.s2_time_offset = true;
        let rows = create_fake(&c).unwrap();
        assert!((rows[5].t_ns - (1000.0 + rows[5].depth_cm.unwrap() / 0.144)).abs() < 1e-9);
    }
}
