//! The detector response of one event, from instructions to zero-length-encoded PMT pulses.
//!
//! [`Setup`] holds everything precomputed from a [`SimConfig`] (maps, templates, luminescence
//! converters, SPE samplers, afterpulse tables); [`Setup::simulate_event`] follows pax
//! `pax/plugins/io/WaveformSimulator.py` (`simulate_single_event`, `s1`, `s2`,
//! `s2_after_pulses`) and `pax/simulation.py` (`s1_photons`, `s2_electrons`, `s2_scintillation`,
//! `queue_signal`, `make_pax_event`), with per-channel sparse pulses instead of dense waveforms.
//!
//! Every random number of event `i` comes from `hep_core::rng::stream(seed, i)`, drawn in a fixed
//! order inside the event, so an event's result depends only on the seed, its index and its
//! instructions: never on threads, shards or other events.

use std::sync::Arc;

use rand::RngExt;
use rand_distr::{Binomial, Distribution, Exp1, Poisson, StandardNormal};

use crate::config::{DelayDistribution, SimConfig};
use crate::data;
use crate::detector::{Array, PmtAfterpulseTable, PmtTable, SpeSpectra};
use crate::error::{Error, Result};
use crate::instructions::Instruction;
use crate::maps::{Field, GasGapMap, InterpMap, PatternMap};
use crate::pulse::{Template, adc_per_current, digitize, zle_intervals};
use crate::s1::S1Timing;
use crate::s2::{Luminescence, drift_time};
use crate::truth::{ChannelTruth, PeakType, TimeStats, TruthPeak};

/// The random generator of one event.
pub type EventRng = hep_core::rng::StreamRng;

/// Everything precomputed from a configuration.
#[derive(Debug)]
pub struct Setup {
    /// The configuration.
    pub config: SimConfig,
    /// The channel table.
    pub pmts: PmtTable,
    is_top: Vec<bool>,
    is_bottom: Vec<bool>,
    live: Vec<bool>,
    allowed: Vec<u16>,
    allowed_top: Vec<u16>,
    allowed_bottom: Vec<u16>,
    s1_ly: Field,
    s2_ly: Field,
    fdc: Option<(Field, Field)>,
    lum: Luminescence,
    s1_pattern: Option<PatternMap>,
    s2_pattern: Option<PatternMap>,
    s1t: S1Timing,
    spe: Option<SpeSpectra>,
    pmt_ap: Option<PmtAfterpulseTable>,
    /// Per channel: probability that a pulse makes any PMT afterpulse, 1 - prod(1 - p_k).
    ap_any: Vec<f64>,
    /// Per channel: suffix products prod_{j >= k} (1 - p_j), one more entry than types.
    ap_suffix: Vec<Vec<f64>>,
    /// SPE templates.
    pub template: Template,
    /// ADC counts per electron/ns.
    pub k_adc: f64,
    max_adc: i32,
    thresholds: Vec<i32>,
    s1_efficiency: f64,
    se_gain: f64,
    transit_sigma_ns: f64,
}

/// The zero-length-encoded pulses of one event, stored flat.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pulses {
    /// Channel of each pulse.
    pub channel: Vec<u16>,
    /// First sample of each pulse (index in the event, 10 ns samples).
    pub start_sample: Vec<i64>,
    /// Offsets of each pulse's samples in `samples` (`len + 1` entries).
    pub offsets: Vec<usize>,
    /// Raw ADC samples of all pulses, concatenated.
    pub samples: Vec<i16>,
}

impl Pulses {
    /// Number of pulses.
    pub fn len(&self) -> usize {
        self.channel.len()
    }

    /// `true` when there are none.
    pub fn is_empty(&self) -> bool {
        self.channel.is_empty()
    }

    /// Samples of pulse `i`.
    pub fn samples_of(&self, i: usize) -> &[i16] {
        &self.samples[self.offsets[i]..self.offsets[i + 1]]
    }
}

/// The result of one event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventOutput {
    /// Event number.
    pub event: u64,
    /// The `instruction` value of the event's first row.
    pub instruction: i64,
    /// Event length in samples.
    pub n_samples: i64,
    /// ZLE pulses.
    pub pulses: Pulses,
    /// Truth peaks.
    pub peaks: Vec<TruthPeak>,
    /// Per-channel truth, for channels with photons.
    pub channels: Vec<ChannelTruth>,
    /// Photons detected (all channels, including photo-ionisation light).
    pub n_photons: u64,
    /// Electrons extracted (instructions only).
    pub n_electrons: u64,
    /// Photo-ionisation electrons.
    pub n_photo_ionisation_electrons: u64,
}

/// Reusable per-thread buffers (results never depend on their previous content).
#[derive(Debug, Default)]
pub struct Scratch {
    photons: Vec<Vec<f64>>,
    arrivals: Vec<f64>,
    electrons: Vec<f64>,
    pool: Vec<f64>,
    pulses: Vec<(f64, f64)>,
    current: Vec<f64>,
    w: Vec<i16>,
    intervals: Vec<(i64, i64)>,
}

fn load_map(source: &str) -> Result<Option<Arc<InterpMap>>> {
    Ok(InterpMap::from_source(source)?.map(Arc::new))
}

fn truncated_gauss(rng: &mut EventRng, mean: f64, sigma: f64) -> f64 {
    if sigma <= 0.0 {
        return mean.max(0.0);
    }
    for _ in 0..10_000 {
        let z: f64 = rng.sample(StandardNormal);
        let v = mean + sigma * z;
        if v >= 0.0 {
            return v;
        }
    }
    0.0
}

fn sample_delay(rng: &mut EventRng, d: &DelayDistribution) -> f64 {
    match *d {
        DelayDistribution::Uniform { low_ns, high_ns } => {
            low_ns + (high_ns - low_ns) * rng.random::<f64>()
        }
        DelayDistribution::Normal { mean_ns, sigma_ns } => {
            let z: f64 = rng.sample(StandardNormal);
            mean_ns + sigma_ns * z
        }
    }
}

fn binomial(rng: &mut EventRng, n: u64, p: f64) -> u64 {
    if n == 0 || p <= 0.0 {
        return 0;
    }
    if p >= 1.0 {
        return n;
    }
    if p <= 0.5 && (n as f64) * p < 30.0 {
        // Inversion from k = 0 with the pmf recurrence (exact; a few steps for small means).
        let r = p / (1.0 - p);
        let mut pk = ((n as f64) * (-p).ln_1p()).exp();
        let mut u: f64 = rng.random();
        let mut k = 0u64;
        while u >= pk && k < n {
            u -= pk;
            k += 1;
            pk *= r * (n - k + 1) as f64 / k as f64;
            if pk <= 0.0 {
                break;
            }
        }
        return k;
    }
    Binomial::new(n, p).map(|b| b.sample(rng)).unwrap_or(0)
}

fn poisson(rng: &mut EventRng, mean: f64) -> u64 {
    if !(mean > 0.0) {
        return 0;
    }
    Poisson::new(mean)
        .map(|p| p.sample(rng) as u64)
        .unwrap_or(0)
}

/// `k` distinct indices of `0..n` in random order (k <= n).
fn choose(rng: &mut EventRng, n: usize, k: usize) -> Vec<usize> {
    rand::seq::index::sample(rng, n, k).into_vec()
}

impl Setup {
    /// Loads the maps and tables of `config` and precomputes templates and converters.
    ///
    /// # Errors
    /// [`Error::Config`] for an invalid configuration (or `afterpulse_table = "none"` with
    /// `compat.afterpulse_none`), map and table errors naming the file.
    pub fn new(config: &SimConfig) -> Result<Self> {
        config.validate()?;
        let c = config;
        let pmts = PmtTable::from_source(&c.tpc.pmt_table)?;
        let n = pmts.channels.len();
        let is_top: Vec<bool> = pmts
            .channels
            .iter()
            .map(|ch| ch.array == Array::Top)
            .collect();
        let is_bottom: Vec<bool> = pmts
            .channels
            .iter()
            .map(|ch| ch.array == Array::Bottom)
            .collect();
        let live: Vec<bool> = pmts.channels.iter().map(|ch| ch.is_live_tpc()).collect();
        let allowed: Vec<u16> = pmts
            .channels
            .iter()
            .filter(|ch| ch.is_tpc() && (!c.tpc.avoid_dead_pmts || ch.gain > 0.0))
            .map(|ch| ch.channel as u16)
            .collect();
        if allowed.is_empty() {
            return Err(Error::Config(
                "the PMT table has no TPC channel that can receive photons".into(),
            ));
        }
        let allowed_top: Vec<u16> = allowed
            .iter()
            .copied()
            .filter(|&ch| is_top[ch as usize])
            .collect();
        let allowed_bottom: Vec<u16> = allowed
            .iter()
            .copied()
            .filter(|&ch| is_bottom[ch as usize])
            .collect();
        let grid = match c.map_interpolation {
            crate::config::MapInterpolation::Idw => None,
            crate::config::MapInterpolation::Grid => Some(c.map_grid_step_cm),
        };
        let s1_map = load_map(&c.s1.light_yield_map)?;
        let s1_ly = Field::new(s1_map.as_ref(), "map", 3, 1.0, grid)?;
        let s2_map = load_map(&c.s2.light_yield_map)?;
        let s2_ly = Field::new(s2_map.as_ref(), "map", 2, 1.0, grid)?;
        let fdc = match load_map(&c.s2.rz_distortion_map)? {
            None => None,
            Some(m) => Some((
                Field::new(Some(&m), "to_distorted_r", 2, 0.0, grid)?,
                Field::new(Some(&m), "to_distorted_z", 2, 0.0, grid)?,
            )),
        };
        let warping = GasGapMap::from_source(&c.s2.gas_gap_warping_map)?;
        let lum = Luminescence::new(&c.s2, warping);
        let qe_of = |sel: &dyn Fn(&crate::detector::Channel) -> bool| -> Vec<f64> {
            pmts.channels
                .iter()
                .filter(|ch| sel(ch))
                .map(|ch| ch.quantum_efficiency)
                .collect()
        };
        let s1_pattern = PatternMap::from_source(
            &c.s1.pattern_map,
            c.s1.pattern_zoom_factor,
            c.s1.pattern_adjust_to_qe
                .then(|| qe_of(&|ch| ch.is_tpc()))
                .as_deref(),
        )?;
        let s2_pattern = PatternMap::from_source(
            &c.s2.pattern_map,
            c.s2.pattern_zoom_factor,
            c.s2.pattern_adjust_to_qe
                .then(|| qe_of(&|ch| ch.array == Array::Top))
                .as_deref(),
        )?;
        let spe = SpeSpectra::from_source(&c.pmt.spe_distributions)?;
        let pmt_ap = if !c.afterpulses.pmt {
            None
        } else if data::is_none(&c.afterpulses.pmt_table) && c.compat.afterpulse_none {
            return Err(Error::Config(
                "afterpulses.pmt_table = none with compat afterpulse-none: pax fails here \
                 (TypeError: `channel in None` in simulation.py make_pax_event)"
                    .into(),
            ));
        } else {
            PmtAfterpulseTable::from_source(&c.afterpulses.pmt_table)?
        };
        let mut ap_any = vec![0.0; n];
        let mut ap_suffix = vec![vec![1.0]; n];
        if let Some(ap) = &pmt_ap {
            for ch in 0..n {
                let t = ap.types(ch);
                let mut suf = vec![1.0; t.len() + 1];
                for k in (0..t.len()).rev() {
                    suf[k] = suf[k + 1] * (1.0 - t[k].p);
                }
                ap_any[ch] = 1.0 - suf[0];
                ap_suffix[ch] = suf;
            }
        }
        let dpe = if c.compat.dpe_light_yield {
            1.0
        } else {
            1.0 + c.pmt.p_double_pe_emission
        };
        let thresholds = pmts
            .channels
            .iter()
            .map(|ch| {
                if c.zle.special_thresholds {
                    ch.zle_threshold_adc
                } else {
                    c.zle.threshold_adc
                }
            })
            .collect();
        Ok(Self {
            config: c.clone(),
            pmts,
            is_top,
            is_bottom,
            live,
            allowed,
            allowed_top,
            allowed_bottom,
            s1_ly,
            s2_ly,
            fdc,
            lum,
            s1_pattern,
            s2_pattern,
            s1t: S1Timing::new(&c.s1),
            spe,
            pmt_ap,
            ap_any,
            ap_suffix,
            template: Template::new(&c.digitizer),
            k_adc: adc_per_current(&c.digitizer),
            max_adc: 1 << c.digitizer.bits,
            thresholds,
            s1_efficiency: c.s1.detection_efficiency / dpe,
            se_gain: c.s2.secondary_scintillation_gain / dpe,
            transit_sigma_ns: if c.pmt.transit_time_spread_is_fwhm {
                c.pmt.transit_time_spread_ns / (8f64.ln() * 2.0).sqrt()
            } else {
                c.pmt.transit_time_spread_ns
            },
        })
    }

    /// Number of channels.
    pub fn n_channels(&self) -> usize {
        self.pmts.channels.len()
    }

    /// The relative S1 light yield at (x, y, z) in cm.
    pub fn s1_light_yield(&self, x: f64, y: f64, z: f64) -> f64 {
        self.s1_ly.value(&[x, y, z])
    }

    /// The relative S2 light yield at (x, y) in cm.
    pub fn s2_light_yield(&self, x: f64, y: f64) -> f64 {
        self.s2_ly.value(&[x, y])
    }

    /// The effective S1 detection probability per photon at relative light yield 1.
    pub fn s1_efficiency(&self) -> f64 {
        self.s1_efficiency
    }

    /// The effective single-electron gain (photons per electron at relative light yield 1).
    pub fn se_gain(&self) -> f64 {
        self.se_gain
    }

    /// Queues photons with emission times `emit` (ns): adds the transit time, assigns channels
    /// (S1: uniform over allowed channels; S2: top/bottom split then uniform within each array),
    /// records arrival times in `scratch.arrivals`. Returns (n_top, n_bottom).
    #[allow(clippy::too_many_arguments)]
    fn queue(
        &self,
        rng: &mut EventRng,
        s2: bool,
        pos: [f64; 3],
        emit: &[f64],
        photons: &mut [Vec<f64>],
        arrivals: &mut Vec<f64>,
    ) -> (u64, u64) {
        let c = &self.config;
        let (mut n_top, mut n_bottom) = (0, 0);
        // A light pattern: cumulative relative LCE over the channels that may receive photons
        // (S1: all TPC channels of the map; S2: the top array), clipped to [0, 1] as pax does.
        let pattern = if s2 {
            self.s2_pattern.as_ref()
        } else {
            self.s1_pattern.as_ref()
        };
        let mut cum: Vec<(f64, u16)> = Vec::new();
        if let Some(pm) = pattern {
            let w = pm.pattern(&pos);
            let set = if s2 { &self.allowed_top } else { &self.allowed };
            let mut acc = 0.0;
            for &ch in set {
                let v = w.get(ch as usize).copied().unwrap_or(0.0).clamp(0.0, 1.0);
                if v > 0.0 {
                    acc += v;
                    cum.push((acc, ch));
                }
            }
        }
        let s2_split = s2
            && (pattern.is_some() || !c.compat.s2_uniform_pattern)
            && !self.allowed_top.is_empty()
            && !self.allowed_bottom.is_empty();
        let from_pattern = |rng: &mut EventRng, cum: &[(f64, u16)]| -> u16 {
            let u = rng.random::<f64>() * cum[cum.len() - 1].0;
            cum[cum.partition_point(|e| e.0 <= u).min(cum.len() - 1)].1
        };
        for &t in emit {
            let z: f64 = rng.sample(StandardNormal);
            let arrival = t + c.pmt.transit_time_mean_ns + self.transit_sigma_ns * z;
            let ch = if s2_split {
                if rng.random::<f64>() < c.s2.mean_area_fraction_top {
                    if cum.is_empty() {
                        self.allowed_top[rng.random_range(0..self.allowed_top.len())]
                    } else {
                        from_pattern(rng, &cum)
                    }
                } else {
                    self.allowed_bottom[rng.random_range(0..self.allowed_bottom.len())]
                }
            } else if !s2 && !cum.is_empty() {
                from_pattern(rng, &cum)
            } else {
                self.allowed[rng.random_range(0..self.allowed.len())]
            } as usize;
            if self.is_top[ch] {
                n_top += 1;
            } else if self.is_bottom[ch] {
                n_bottom += 1;
            }
            photons[ch].push(arrival);
            arrivals.push(arrival);
        }
        (n_top, n_bottom)
    }

    /// S2 photon emission times of one electron arriving at `t_e` (ns) at (x, y): Poisson photons,
    /// luminescence delay and gas singlet/triplet decay, appended to `out`.
    fn s2_light(&self, rng: &mut EventRng, t_e: f64, x: f64, y: f64, ly: f64, out: &mut Vec<f64>) {
        let s = &self.config.s2;
        let n = poisson(rng, self.se_gain * ly);
        if n == 0 {
            return;
        }
        let conv = self.lum.at(x, y);
        for _ in 0..n {
            let tau = if rng.random::<f64>() < s.singlet_fraction_gas {
                s.singlet_lifetime_gas_ns
            } else {
                s.triplet_lifetime_gas_ns
            };
            let e: f64 = Exp1.sample(rng);
            out.push(t_e + conv.time(rng.random::<f64>()) + tau * e);
        }
    }

    /// Simulates one event.
    ///
    /// `event` is the event number (and the random stream key), `group` the position of the
    /// instruction group, `repetition` its repetition index.
    pub fn simulate_event(
        &self,
        event: u64,
        group: u64,
        repetition: u32,
        rows: &[Instruction],
        scratch: &mut Scratch,
    ) -> EventOutput {
        let mut rng = hep_core::rng::stream(self.config.seed, event);
        self.simulate_event_with(&mut rng, event, group, repetition, rows, scratch, true)
    }

    /// The light and charge of one event without the PMT response: truth peaks and per-channel
    /// photon counts only (no pulses, `n_samples` 0). Draws the same numbers as
    /// [`Setup::simulate_event`] up to the digitisation, so its truth is identical.
    pub fn simulate_event_truth(
        &self,
        event: u64,
        group: u64,
        repetition: u32,
        rows: &[Instruction],
        scratch: &mut Scratch,
    ) -> EventOutput {
        let mut rng = hep_core::rng::stream(self.config.seed, event);
        self.simulate_event_with(&mut rng, event, group, repetition, rows, scratch, false)
    }

    /// [`Setup::simulate_event`] with a given generator; `with_pulses = false` stops after the
    /// photons are queued (see [`Setup::simulate_event_truth`]).
    #[allow(clippy::too_many_arguments)]
    pub fn simulate_event_with(
        &self,
        rng: &mut EventRng,
        event: u64,
        group: u64,
        repetition: u32,
        rows: &[Instruction],
        scratch: &mut Scratch,
        with_pulses: bool,
    ) -> EventOutput {
        let c = &self.config;
        let n_ch = self.n_channels();
        scratch.photons.resize_with(n_ch, Vec::new);
        for p in &mut scratch.photons {
            p.clear();
        }
        let Scratch {
            photons,
            arrivals,
            electrons,
            pool,
            ..
        } = scratch;
        let pad = c.event_padding_ns;
        let mut out = EventOutput {
            event,
            instruction: rows.first().map_or(0, |r| r.instruction),
            ..Default::default()
        };
        let mut emit: Vec<f64> = Vec::new();
        let r_tpc = c.tpc.tpc_radius_cm;
        for row in rows {
            let (x, y) = match (row.x_cm, row.y_cm) {
                (Some(x), Some(y)) => (x, y),
                _ => loop {
                    let x = r_tpc * (2.0 * rng.random::<f64>() - 1.0);
                    let y = r_tpc * (2.0 * rng.random::<f64>() - 1.0);
                    if x * x + y * y <= r_tpc * r_tpc {
                        break (x, y);
                    }
                },
            };
            let z = match row.depth_cm {
                Some(d) => -d,
                None => -c.tpc.tpc_length_cm * rng.random::<f64>(),
            };
            if row.s1_photons > 0 {
                let p = (self.s1_ly.value(&[x, y, z]) * self.s1_efficiency).clamp(0.0, 1.0);
                let n_det = binomial(rng, row.s1_photons, p);
                if n_det > 0 {
                    emit.clear();
                    for _ in 0..n_det {
                        emit.push(row.t_ns + self.s1t.delay(rng, row.recoil_type));
                    }
                    arrivals.clear();
                    let (nt, nb) = self.queue(rng, false, [x, y, z], &emit, photons, arrivals);
                    out.peaks.push(TruthPeak {
                        event,
                        instruction: group,
                        repetition,
                        peak_type: PeakType::S1,
                        g4_id: row.g4_id,
                        x_cm: x,
                        y_cm: y,
                        z_cm: z,
                        t_interaction_ns: row.t_ns + pad,
                        top_fraction: nt as f64 / (nt + nb).max(1) as f64,
                        photons: TimeStats::of(arrivals, pad).expect("photons"),
                        electrons: None,
                    });
                }
            }
            if row.s2_electrons > 0 && (-c.tpc.tpc_length_cm..=0.0).contains(&z) {
                let r = x.hypot(y);
                let z_d = match &self.fdc {
                    Some((_, dz)) => z + dz.value(&[r, z]),
                    None => z,
                };
                let (mean, sigma) = drift_time(&c.s2, z_d);
                let p = c.s2.electron_extraction_yield
                    * (-mean / (c.s2.electron_lifetime_us * 1000.0)).exp();
                let n_e = binomial(rng, row.s2_electrons, p);
                electrons.clear();
                for _ in 0..n_e {
                    let trap: f64 = Exp1.sample(rng);
                    let mut t = row.t_ns + c.s2.electron_trapping_time_ns * trap;
                    if sigma > 0.0 {
                        let g: f64 = rng.sample(StandardNormal);
                        t += mean + sigma * g;
                    } else {
                        t += mean;
                    }
                    electrons.push(t);
                }
                emit.clear();
                let ly = self.s2_ly.value(&[x, y]);
                let d_t = c.s2.diffusion_transverse_cm2_per_s * 1e-9;
                for &t_e in electrons.iter() {
                    if d_t > 0.0 {
                        let s_t = (2.0 * d_t * mean).sqrt();
                        let gx: f64 = rng.sample(StandardNormal);
                        let gy: f64 = rng.sample(StandardNormal);
                        let (xe, ye) = (x + s_t * gx, y + s_t * gy);
                        let ly_e = self.s2_ly.value(&[xe, ye]);
                        self.s2_light(rng, t_e, x, y, ly_e, &mut emit);
                    } else {
                        self.s2_light(rng, t_e, x, y, ly, &mut emit);
                    }
                }
                if n_e > 0 && !emit.is_empty() {
                    out.n_electrons += n_e;
                    let (mut xo, mut yo) = (x, y);
                    if let Some((dr, _)) = &self.fdc {
                        let phi = y.atan2(x);
                        let ro = r + dr.value(&[r, z]);
                        xo = ro * phi.cos();
                        yo = ro * phi.sin();
                    }
                    arrivals.clear();
                    let (nt, nb) = self.queue(rng, true, [xo, yo, 0.0], &emit, photons, arrivals);
                    out.peaks.push(TruthPeak {
                        event,
                        instruction: group,
                        repetition,
                        peak_type: PeakType::S2,
                        g4_id: row.g4_id,
                        x_cm: xo,
                        y_cm: yo,
                        z_cm: z,
                        t_interaction_ns: row.t_ns + pad,
                        top_fraction: nt as f64 / (nt + nb).max(1) as f64,
                        photons: TimeStats::of(arrivals, pad).expect("photons"),
                        electrons: TimeStats::of(electrons, pad),
                    });
                }
            }
        }
        // Photo-ionisation electrons from every photon queued so far (not from their own light).
        if c.afterpulses.photo_ionisation && !rows.is_empty() {
            pool.clear();
            for p in photons.iter() {
                pool.extend_from_slice(p);
            }
            electrons.clear();
            let tau_ns = c.s2.electron_lifetime_us * 1000.0;
            let max_delay = c
                .afterpulses
                .max_s2_afterpulse_delay_ns
                .unwrap_or(f64::INFINITY);
            let mut delays = Vec::new();
            for ty in &c.afterpulses.s2_types {
                let n = binomial(rng, pool.len() as u64, ty.p) as usize;
                if n == 0 {
                    continue;
                }
                delays.clear();
                for _ in 0..n {
                    delays.push(sample_delay(rng, &ty.delay));
                }
                delays.retain(|d| *d < max_delay);
                let mut kept = Vec::with_capacity(delays.len());
                for &d in &delays {
                    if rng.random::<f64>() < (-d / tau_ns).exp() {
                        kept.push(d);
                    }
                }
                let src = choose(rng, pool.len(), kept.len());
                for (s, d) in src.into_iter().zip(kept) {
                    electrons.push(pool[s] + d);
                }
            }
            out.n_photo_ionisation_electrons = electrons.len() as u64;
            let pi: Vec<f64> = electrons.clone();
            for t_e in pi {
                let r2 = r_tpc * r_tpc * rng.random::<f64>();
                let th = 2.0 * std::f64::consts::PI * rng.random::<f64>();
                let (x, y) = (r2.sqrt() * th.cos(), r2.sqrt() * th.sin());
                emit.clear();
                let ly = self.s2_ly.value(&[x, y]);
                self.s2_light(rng, t_e, x, y, ly, &mut emit);
                if emit.is_empty() {
                    continue;
                }
                arrivals.clear();
                let (nt, nb) = self.queue(rng, true, [x, y, 0.0], &emit, photons, arrivals);
                if c.afterpulses.output_photo_ionisation_truth {
                    out.peaks.push(TruthPeak {
                        event,
                        instruction: group,
                        repetition,
                        peak_type: PeakType::PhotoionizationAfterpulse,
                        g4_id: rows.last().map_or(-1, |r| r.g4_id),
                        x_cm: x,
                        y_cm: y,
                        z_cm: -c.s2.gate_to_anode_distance_mm / 10.0,
                        t_interaction_ns: t_e + pad,
                        top_fraction: nt as f64 / (nt + nb).max(1) as f64,
                        photons: TimeStats::of(arrivals, pad).expect("photons"),
                        electrons: None,
                    });
                }
            }
        }
        if with_pulses {
            self.digitize_event(rng, &mut out, scratch);
        } else {
            out.n_photons = scratch.photons.iter().map(|p| p.len() as u64).sum();
        }
        out
    }

    /// Event window, double-PE emission, gains, PMT afterpulses, pulses, ADC and ZLE.
    fn digitize_event(&self, rng: &mut EventRng, out: &mut EventOutput, scratch: &mut Scratch) {
        let c = &self.config;
        let Scratch {
            photons,
            pulses,
            current,
            w,
            intervals,
            ..
        } = scratch;
        let pad = c.event_padding_ns;
        let max_time = photons
            .iter()
            .flatten()
            .fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        let max_time = if max_time.is_finite() { max_time } else { 0.0 };
        let dt = self.template.dt;
        let mut n_samples = ((max_time + 2.0 * pad) as i64) / dt;
        if n_samples % 2 != 0 {
            n_samples += 1;
        }
        out.n_samples = n_samples;
        for (ch, ph) in photons.iter().enumerate().take(self.n_channels()) {
            if ph.is_empty() {
                continue;
            }
            out.n_photons += ph.len() as u64;
            let mut truth = ChannelTruth {
                event: out.event,
                channel: ch as u16,
                n_photons: ph.len() as u64,
                n_photoelectrons: 0,
                n_pmt_afterpulses: 0,
                n_pulses_dropped: 0,
            };
            if !self.live[ch] {
                out.channels.push(truth);
                continue;
            }
            let gain = self.pmts.channels[ch].gain;
            let gain_sigma = self.pmts.channels[ch].gain_sigma;
            let spe = self.spe.as_ref();
            let draw_gain = |rng: &mut EventRng| -> f64 {
                match spe {
                    Some(s) => s.relative_area(ch, rng.random::<f64>()) * gain,
                    None => truncated_gauss(rng, gain, gain_sigma),
                }
            };
            pulses.clear();
            let n_dpe = binomial(rng, ph.len() as u64, c.pmt.p_double_pe_emission) as usize;
            for &t in ph.iter() {
                pulses.push((t, 0.0));
            }
            if n_dpe > 0 {
                for i in choose(rng, ph.len(), n_dpe) {
                    pulses.push((ph[i], 0.0));
                }
            }
            for p in pulses.iter_mut() {
                p.1 = draw_gain(rng);
            }
            truth.n_photoelectrons = pulses.len() as u64;
            if let Some(ap) = &self.pmt_ap {
                // pax draws, per type, Binomial(n, p) source pulses without replacement: every
                // pulse fires each type independently. Equivalently (and with one binomial per
                // channel instead of one per type): the pulses firing any type are
                // Binomial(n, 1 - prod(1 - p_k)), and for each of them the types are decided in
                // order, conditioned on at least one of the remaining ones firing.
                let types = ap.types(ch);
                let n_base = pulses.len();
                let m = binomial(rng, n_base as u64, self.ap_any[ch]) as usize;
                if m > 0 {
                    let suffix = &self.ap_suffix[ch];
                    for src in choose(rng, n_base, m) {
                        let mut forced = true;
                        for (k, ty) in types.iter().enumerate() {
                            let u: f64 = rng.random();
                            let fire = if forced {
                                u * (1.0 - suffix[k]) < ty.p
                            } else {
                                u < ty.p
                            };
                            if !fire {
                                continue;
                            }
                            forced = false;
                            let t = pulses[src].0 + sample_delay(rng, &ty.delay);
                            let amp = match ty.amplification {
                                Some((m, r)) => truncated_gauss(rng, m, r),
                                None => 1.0,
                            };
                            let g = draw_gain(rng) * amp;
                            pulses.push((t, g));
                            truth.n_pmt_afterpulses += 1;
                        }
                    }
                }
            }
            pulses.sort_by(|a, b| a.0.total_cmp(&b.0));
            truth.n_pulses_dropped = self.encode_channel(
                ch,
                pulses,
                n_samples,
                current,
                w,
                intervals,
                &mut out.pulses,
            );
            out.channels.push(truth);
        }
    }
}

impl Setup {
    /// Places the time-sorted pulses `(time ns, gain)` of channel `ch` in an event of
    /// `n_samples` samples, digitises them segment by segment and appends the ZLE pulses to
    /// `out`. Returns the number of pulses dropped for not fitting in the event (pax drops a
    /// pulse whose first sample is below 0 or whose end reaches the last sample).
    #[allow(clippy::too_many_arguments)]
    fn encode_channel(
        &self,
        ch: usize,
        pulses: &[(f64, f64)],
        n_samples: i64,
        current: &mut Vec<f64>,
        w: &mut Vec<i16>,
        intervals: &mut Vec<(i64, i64)>,
        out: &mut Pulses,
    ) -> u64 {
        let c = &self.config;
        let tmpl = &self.template;
        let dt = tmpl.dt;
        let pad = c.event_padding_ns;
        let tl = tmpl.len as i64;
        let shift = -(tmpl.before as i64) + i64::from(c.compat.template_delay);
        let (zb, za) = (
            c.zle.samples_to_store_before as i64,
            c.zle.samples_to_store_after as i64,
        );
        let baseline = c.digitizer.reference_baseline_adc;
        let truncate = c.compat.adc_truncation;
        let thr = self.thresholds[ch];
        let mut dropped = 0;
        let mut seg_start = 0i64;
        let mut seg_end = 0i64; // exclusive
        current.clear();
        let base_raw = baseline.clamp(0, self.max_adc) as i16;
        let k_adc = self.k_adc;
        let max_adc = self.max_adc;
        let mut flush = |seg_start: i64, current: &mut Vec<f64>, out: &mut Pulses| {
            if current.is_empty() {
                return;
            }
            // Raw samples of the segment's signal region; outside it the waveform is baseline.
            w.clear();
            w.resize(current.len(), 0);
            if truncate {
                for (o, &cur) in w.iter_mut().zip(current.iter()) {
                    *o = digitize(cur, k_adc, baseline, max_adc, true);
                }
            } else {
                for (o, &cur) in w.iter_mut().zip(current.iter()) {
                    *o = digitize(cur, k_adc, baseline, max_adc, false);
                }
            }
            intervals.clear();
            zle_intervals(w, baseline, seg_start, n_samples, thr, zb, za, intervals);
            if out.offsets.is_empty() {
                out.offsets.push(0);
            }
            let seg_end = seg_start + w.len() as i64;
            for &(l, r) in intervals.iter() {
                out.channel.push(ch as u16);
                out.start_sample.push(l);
                let a = l.max(seg_start).min(r + 1);
                let b = (r + 1).min(seg_end).max(a);
                let n = out.samples.len();
                out.samples.resize(n + (a - l) as usize, base_raw);
                out.samples
                    .extend_from_slice(&w[(a - seg_start) as usize..(b - seg_start) as usize]);
                let n = out.samples.len();
                out.samples.resize(n + (r + 1 - b) as usize, base_raw);
                out.offsets.push(out.samples.len());
            }
            current.clear();
        };
        for &(t, g) in pulses {
            let centre = (t + pad) as i64;
            let off = centre.rem_euclid(dt);
            let left = centre.div_euclid(dt) + shift;
            let right = left + tl; // exclusive: pax's `righter_index`
            if left < 0 || right >= n_samples {
                dropped += 1;
                continue;
            }
            if current.is_empty() || left > seg_end - 1 + zb + za {
                flush(seg_start, current, out);
                seg_start = left;
                seg_end = left;
            }
            if right > seg_end {
                current.resize((right - seg_start) as usize, 0.0);
                seg_end = right;
            }
            let base = (left - seg_start) as usize;
            for (k, v) in tmpl.at(off as usize).iter().enumerate() {
                current[base + k] += g * v;
            }
        }
        flush(seg_start, current, out);
        dropped
    }
}

/// A dense reference of the digitisation of one channel: the full-length waveform of pulses
/// `(time ns, gain)` and pax's ZLE on it, as (start sample, samples) pairs. For tests of the
/// segment-wise encoding; `setup`'s configuration supplies template, ADC and ZLE settings.
pub fn dense_reference(
    setup: &Setup,
    channel: usize,
    pulses: &[(f64, f64)],
    n_samples: i64,
) -> Vec<(i64, Vec<i16>)> {
    let c = &setup.config;
    let t = &setup.template;
    let mut current = vec![0.0; n_samples as usize];
    let shift = -(t.before as i64) + i64::from(c.compat.template_delay);
    for &(time, g) in pulses {
        let centre = (time + c.event_padding_ns) as i64;
        let left = centre.div_euclid(t.dt) + shift;
        let right = left + t.len as i64;
        if left < 0 || right >= n_samples {
            continue;
        }
        for (k, v) in t.at(centre.rem_euclid(t.dt) as usize).iter().enumerate() {
            current[left as usize + k] += g * v;
        }
    }
    let baseline = c.digitizer.reference_baseline_adc;
    let raw: Vec<i16> = current
        .iter()
        .map(|&x| {
            digitize(
                x,
                setup.k_adc,
                baseline,
                setup.max_adc,
                c.compat.adc_truncation,
            )
        })
        .collect();
    let mut itv = Vec::new();
    zle_intervals(
        &raw,
        baseline,
        0,
        n_samples,
        setup.thresholds[channel],
        c.zle.samples_to_store_before as i64,
        c.zle.samples_to_store_after as i64,
        &mut itv,
    );
    itv.into_iter()
        .map(|(l, r)| (l, raw[l as usize..=r as usize].to_vec()))
        .collect()
}

/// Encodes the pulses `(time ns, gain)` of one channel through the segment-wise path used by
/// the simulation (no DPE, no afterpulses), for comparison with [`dense_reference`].
pub fn sparse_channel(
    setup: &Setup,
    channel: usize,
    pulses_in: &[(f64, f64)],
    n_samples: i64,
) -> Vec<(i64, Vec<i16>)> {
    let mut ps = pulses_in.to_vec();
    ps.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = Pulses::default();
    let (mut cur, mut w, mut itv) = (Vec::new(), Vec::new(), Vec::new());
    setup.encode_channel(
        channel, &ps, n_samples, &mut cur, &mut w, &mut itv, &mut out,
    );
    (0..out.len())
        .map(|i| (out.start_sample[i], out.samples_of(i).to_vec()))
        .collect()
}
