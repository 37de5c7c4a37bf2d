//! Source spectra with known truth: the library side of `calo-calib simulate`.
//!
//! Stands in for Offline's `CaloCalibGun` + Geant4 + digitisation + `SourceCalibDigiAna`: a toy
//! that draws each channel's spectrum from exactly the fit model of [`crate::model`]
//! (SourceFitter's), so that fits can be checked against the truth (closure and toy tests).
//!
//! # Per channel
//!
//! 1. The random stream: [`hep_core::rng::stream`]`(seed, id)` per SiPM, or
//!    `stream_nested(seed, &[1, id])` per crystal. Each channel has its own stream, so a channel's
//!    spectrum depends only on the seed and its id, never on the thread count.
//! 2. True gain `g` (ADC/MeV): `gain_adc_per_mev * (1 + gain_spread * z)`, `z ~ N(0, 1)`, redrawn
//!    until `g > 0` (a Gaussian truncated at zero). LYSO channels (crystals 582, 609, 610, 637)
//!    use `lyso_gain_adc_per_mev` (267 ADC/MeV, Offline `Sim_crystal.txt`) instead.
//! 3. Number of source events `N ~ Poisson(events_per_crystal)` (each SiPM of a crystal sees the
//!    crystal's events; design figure 63 000 per crystal, CaloCalibration
//!    `CalibrationRates.py`), split into full-energy,
//!    single-escape, double-escape and background events by a multinomial draw with the
//!    configured fractions (default 0.35/0.25/0.15/0.25, the toy target of `docs/calo-calib.md`).
//! 4. Line events: energy `E = E_k + sigma * t` with `t` drawn exactly from the Crystal Ball
//!    shape ([`CrystalBallSampler`]), `E_k` = 6.130, 5.619, 5.108 MeV; amplitude `x = E * g`
//!    (ADC). The full peak therefore sits at `P = 6.13 * g` ADC and the model's calibrated energy
//!    `E = (6.13 / P) x` is exactly the drawn energy, as [`crate::model`] assumes.
//! 5. Background events: `x` from `exp(beta x)` truncated to the histogram range (inverse CDF),
//!    so every background event lands in the histogram.
//! 6. The histogram has `n_bins` equal bins on `[hist_low_adc, hist_high_adc)` (default 120 bins
//!    of 1 ADC on `[0, 120)`, as `SourceCalibDigiAna`); line events outside the range are lost (no
//!    under- or overflow is stored).
//!
//! LYSO channels are simulated with their own gain: their lines (6.13 × 267 ≈ 1637 ADC) fall far
//! outside `[0, 120)`, so their spectra hold the background part plus the far power-law tail of
//! the lines (energies below 0.45 MeV, under 1e-3 of the line events). Their truth rows have
//! `is_lyso = true`; a CsI fit of them is meaningless and the fitter is expected to flag them
//! (the original fitted them with CsI seeds and ranges, which fail or land on garbage).
//!
//! # Cosmic constants
//!
//! [`simulate_cosmic_table`] draws a `CalCosmicEnergyCalib`-like table
//! (`CaloCosmicEnecalib_module.cc`) from the simulated gains, for tests of the combination.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{BooleanArray, Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use rand::RngExt;
use rand_distr::{Binomial, ChiSquared, Distribution, Poisson, StandardNormal};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::channel::IdMode;
use crate::error::{Error, Result};
use crate::model::{CB_N, CrystalBall, E_FULL_MEV, LINE_ENERGIES_MEV};
use crate::spectra::{Spectrum, SpectrumSet, TableFormat};
use hep_core::progress::{NoProgress, Progress};

/// First key of the nested random stream of a per-crystal channel: `stream_nested(seed, &[1,
/// id])`.
pub const CRYSTAL_STREAM_KEY: u64 = 1;
/// First key of the nested random stream of a channel's cosmic constants:
/// `stream_nested(seed, &[2, id])`.
pub const COSMIC_STREAM_KEY: u64 = 2;

/// Configuration of the source-spectrum simulation; every field has a unit in its name or doc.
///
/// Defaults are the simulation values of the original chain (Offline `Sim_crystal.txt`) and
/// the toy target of `docs/calo-calib.md`. Deserialising (TOML, JSON) fills missing fields with
/// defaults and rejects unknown ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Master seed of all random streams.
    pub seed: u64,
    /// Mean number of source photons per crystal (events); each channel draws its count from a
    /// Poisson distribution with this mean. Default 63 000, the design figure
    /// (`CalibrationRates.py`).
    pub events_per_crystal: f64,
    /// Nominal CsI gain (ADC/MeV); default 16.0 (Offline `Sim_crystal.txt`), so the 6.13 MeV
    /// peak sits at 98.08 ADC.
    pub gain_adc_per_mev: f64,
    /// Relative Gaussian spread of the true gain between channels (dimensionless; default 0;
    /// the cosmic table of run 106521 shows about 0.16).
    pub gain_spread: f64,
    /// Crystal Ball width `sigma` of every line (MeV); default 0.45 (toy target).
    pub width_mev: f64,
    /// Crystal Ball tail start `alpha` (in units of sigma); default 1.2 (toy target).
    pub alpha: f64,
    /// Crystal Ball power `n` (dimensionless); default [`CB_N`] = 5 (SourceFitter).
    pub n: f64,
    /// Fraction of generated events in the full-energy line; default 0.35 (toy target).
    pub frac_full: f64,
    /// Fraction in the single-escape line; default 0.25.
    pub frac_first: f64,
    /// Fraction in the double-escape line; default 0.15.
    pub frac_second: f64,
    /// Fraction in the exponential background; default 0.25. The four fractions are normalised
    /// by their sum.
    pub frac_bkg: f64,
    /// Background slope `beta` (1/ADC); default -0.04 (toy target).
    pub beta_per_adc: f64,
    /// Lower edge of the histogram (ADC); default 0.
    pub hist_low_adc: f64,
    /// Upper edge of the histogram (ADC); default 120 (`endBin` of `SourceCalibDigiAna`).
    pub hist_high_adc: f64,
    /// Number of equal bins; default 120 (1 ADC per bin).
    pub n_bins: usize,
    /// Gain of the LYSO (CAPHRI) channels (ADC/MeV); default 267 (Offline `Sim_crystal.txt`).
    pub lyso_gain_adc_per_mev: f64,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            events_per_crystal: 63_000.0,
            gain_adc_per_mev: 16.0,
            gain_spread: 0.0,
            width_mev: 0.45,
            alpha: 1.2,
            n: CB_N,
            frac_full: 0.35,
            frac_first: 0.25,
            frac_second: 0.15,
            frac_bkg: 0.25,
            beta_per_adc: -0.04,
            hist_low_adc: 0.0,
            hist_high_adc: 120.0,
            n_bins: 120,
            lyso_gain_adc_per_mev: 267.0,
        }
    }
}

impl SimConfig {
    /// Checks every field's domain.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] naming the field: `events_per_crystal` negative, not finite or
    /// above 1e12; gains not finite and positive; `gain_spread` negative or not finite;
    /// `width_mev` or `alpha` not positive; `n <= 1`; a fraction negative or not finite, or all
    /// zero; `beta_per_adc` not finite; a histogram range that is not finite with low < high;
    /// `n_bins == 0`.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str, v: f64| {
            Err(Error::InvalidArgument(format!(
                "simulation: {what}, got {v}"
            )))
        };
        let e = self.events_per_crystal;
        if !(e.is_finite() && (0.0..=1e12).contains(&e)) {
            return bad("events_per_crystal must be in 0..=1e12", e);
        }
        for (name, v) in [
            ("gain_adc_per_mev", self.gain_adc_per_mev),
            ("lyso_gain_adc_per_mev", self.lyso_gain_adc_per_mev),
            ("width_mev", self.width_mev),
            ("alpha", self.alpha),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return bad(&format!("{name} must be finite and positive"), v);
            }
        }
        if !(self.gain_spread.is_finite() && self.gain_spread >= 0.0) {
            return bad(
                "gain_spread must be finite and non-negative",
                self.gain_spread,
            );
        }
        if !(self.n.is_finite() && self.n > 1.0) {
            return bad("n must be finite and above 1", self.n);
        }
        for (name, v) in [
            ("frac_full", self.frac_full),
            ("frac_first", self.frac_first),
            ("frac_second", self.frac_second),
            ("frac_bkg", self.frac_bkg),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(&format!("{name} must be finite and non-negative"), v);
            }
        }
        let sum = self.frac_full + self.frac_first + self.frac_second + self.frac_bkg;
        if !(sum > 0.0) {
            return bad("the fractions must not all be zero; their sum", sum);
        }
        if !self.beta_per_adc.is_finite() {
            return bad("beta_per_adc must be finite", self.beta_per_adc);
        }
        let (lo, hi) = (self.hist_low_adc, self.hist_high_adc);
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(Error::InvalidArgument(format!(
                "simulation: histogram range must be finite with low < high, got [{lo}, {hi})"
            )));
        }
        if self.n_bins == 0 {
            return Err(Error::InvalidArgument(
                "simulation: n_bins must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// The four fractions (full, first, second, background) normalised to sum 1.
    pub fn fractions(&self) -> [f64; 4] {
        let f = [
            self.frac_full,
            self.frac_first,
            self.frac_second,
            self.frac_bkg,
        ];
        let sum: f64 = f.iter().sum();
        f.map(|v| v / sum)
    }
}

/// Exact sampler of the Crystal Ball shape of [`crate::model::CrystalBall`] in the reduced
/// variable `t = (E - mu) / sigma` (density proportional to `exp(-t^2/2)` for `t >= -alpha`, and
/// to `A (B - t)^(-n)` below, normalised over the real line).
///
/// The shape is a mixture of its two pieces with weights equal to their integrals: the power-law
/// tail (weight `primitive(-alpha)`) is sampled by its analytic inverse CDF, the Gaussian core by
/// drawing `N(0, 1)` until `t >= -alpha` (acceptance above one half for any `alpha > 0`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CrystalBallSampler {
    alpha: f64,
    n: f64,
    a: f64,
    b: f64,
    tail_weight: f64,
    tail_fraction: f64,
}

impl CrystalBallSampler {
    /// The sampler for tail start `alpha > 0` (units of sigma) and power `n > 1`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `alpha` is not finite and positive or `n` not finite and
    /// above 1.
    pub fn new(alpha: f64, n: f64) -> Result<Self> {
        if !(alpha.is_finite() && alpha > 0.0 && n.is_finite() && n > 1.0) {
            return Err(Error::InvalidArgument(format!(
                "Crystal Ball needs alpha > 0 and n > 1, got alpha = {alpha}, n = {n}"
            )));
        }
        let cb = CrystalBall::new(alpha, n);
        let (a, b) = cb.tail_constants();
        let tail_weight = cb.primitive(-alpha);
        let total = cb.primitive(f64::INFINITY);
        Ok(Self {
            alpha,
            n,
            a,
            b,
            tail_weight,
            tail_fraction: tail_weight / total,
        })
    }

    /// The probability that `t < -alpha` (the tail's share of the shape).
    pub fn tail_fraction(&self) -> f64 {
        self.tail_fraction
    }

    /// One draw of `t` (units of sigma).
    pub fn sample<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        if rng.random::<f64>() < self.tail_fraction {
            // Tail CDF (unnormalised): F(t) = A/(n-1) (B - t)^(1-n) for t < -alpha. Solve
            // F(t) = v with v = u * F(-alpha), u in (0, 1].
            let u = 1.0 - rng.random::<f64>();
            let v = u * self.tail_weight;
            self.b - (v * (self.n - 1.0) / self.a).powf(-1.0 / (self.n - 1.0))
        } else {
            loop {
                let z: f64 = StandardNormal.sample(rng);
                if z >= -self.alpha {
                    return z;
                }
            }
        }
    }
}

/// The truth of one simulated channel (one row of the truth table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelTruth {
    /// SiPM readout id, or crystal id for a per-crystal simulation.
    pub roid: u32,
    /// Whether the channel is (a SiPM of) a LYSO crystal, simulated with the LYSO gain.
    pub is_lyso: bool,
    /// True gain `g` (ADC/MeV).
    pub gain_adc_per_mev: f64,
    /// True full-energy peak position `P = 6.13 MeV * g` (ADC).
    pub peak_adc: f64,
    /// True calibration constant `1 / g` (MeV/ADC), the quantity of `CalEnergyCalib.adc2mev`.
    pub adc2mev_mev_per_adc: f64,
    /// Crystal Ball width `sigma` (MeV).
    pub width_mev: f64,
    /// Crystal Ball tail start (units of sigma).
    pub alpha: f64,
    /// Background slope (1/ADC).
    pub beta_per_adc: f64,
    /// Generated events (all components, before the histogram range).
    pub n_events: u64,
    /// Generated full-energy events.
    pub n_full: u64,
    /// Generated single-escape events.
    pub n_first: u64,
    /// Generated double-escape events.
    pub n_second: u64,
    /// Generated background events (all inside the histogram range).
    pub n_bkg: u64,
}

/// The random stream of channel `id` in `mode` (see the module docs).
fn channel_stream(seed: u64, id: u32, mode: IdMode) -> hep_core::rng::StreamRng {
    match mode {
        IdMode::PerSipm => hep_core::rng::stream(seed, u64::from(id)),
        IdMode::PerCrystal => {
            hep_core::rng::stream_nested(seed, &[CRYSTAL_STREAM_KEY, u64::from(id)])
        }
    }
}

/// Draws `Binomial(n, p)`, with the degenerate cases handled without a distribution object.
fn binomial<R: rand::Rng + ?Sized>(rng: &mut R, n: u64, p: f64) -> u64 {
    if n == 0 || p <= 0.0 {
        0
    } else if p >= 1.0 {
        n
    } else {
        Binomial::new(n, p)
            .expect("0 < p < 1 is a valid binomial probability")
            .sample(rng)
    }
}

/// Simulates SiPM `roid` (per-SiPM mode); see [`simulate_channel_in`].
///
/// # Errors
///
/// As [`simulate_channel_in`].
pub fn simulate_channel(cfg: &SimConfig, roid: u32) -> Result<(Spectrum, ChannelTruth)> {
    simulate_channel_in(cfg, roid, IdMode::PerSipm)
}

/// Simulates channel `id` (a SiPM or a crystal id according to `mode`): its spectrum (uniform
/// bins on the configured range, ADC) and its truth. The result depends only on `cfg` and `id`.
///
/// # Errors
///
/// [`Error::InvalidArgument`] if `cfg` is invalid ([`SimConfig::validate`]) or `id` is outside
/// the mode's range.
pub fn simulate_channel_in(
    cfg: &SimConfig,
    id: u32,
    mode: IdMode,
) -> Result<(Spectrum, ChannelTruth)> {
    cfg.validate()?;
    if !mode.is_valid(id) {
        return Err(Error::InvalidArgument(format!(
            "{} {id} is outside 0..={}",
            mode.id_name(),
            mode.n_ids() - 1
        )));
    }
    let sampler = CrystalBallSampler::new(cfg.alpha, cfg.n)?;
    Ok(simulate_valid(cfg, &sampler, id, mode))
}

/// The simulation proper; `cfg` and `id` are valid.
fn simulate_valid(
    cfg: &SimConfig,
    sampler: &CrystalBallSampler,
    id: u32,
    mode: IdMode,
) -> (Spectrum, ChannelTruth) {
    let mut rng = channel_stream(cfg.seed, id, mode);
    let is_lyso = mode.is_lyso(id);
    let g0 = if is_lyso {
        cfg.lyso_gain_adc_per_mev
    } else {
        cfg.gain_adc_per_mev
    };
    let gain = loop {
        let z: f64 = StandardNormal.sample(&mut rng);
        let g = g0 * (1.0 + cfg.gain_spread * z);
        if g > 0.0 {
            break g;
        }
    };
    let n_events = if cfg.events_per_crystal > 0.0 {
        let d = Poisson::new(cfg.events_per_crystal).expect("validated Poisson mean");
        d.sample(&mut rng) as u64
    } else {
        0
    };
    // Multinomial split by sequential binomials.
    let fr = cfg.fractions();
    let mut n_k = [0u64; 4];
    let mut remaining = n_events;
    let mut rest = 1.0;
    for k in 0..3 {
        let p = if rest > 0.0 { fr[k] / rest } else { 0.0 };
        n_k[k] = binomial(&mut rng, remaining, p);
        remaining -= n_k[k];
        rest -= fr[k];
    }
    n_k[3] = remaining;

    let (low, high, nb) = (cfg.hist_low_adc, cfg.hist_high_adc, cfg.n_bins);
    let inv_w = nb as f64 / (high - low);
    let mut counts = vec![0.0f64; nb];
    // Bin of x, clamped to the last bin against rounding at the upper edge.
    let bin = |x: f64| (((x - low) * inv_w) as usize).min(nb - 1);
    for (k, &e_k) in LINE_ENERGIES_MEV.iter().enumerate() {
        for _ in 0..n_k[k] {
            let x = (e_k + cfg.width_mev * sampler.sample(&mut rng)) * gain;
            if x >= low && x < high {
                counts[bin(x)] += 1.0;
            }
        }
    }
    let span = high - low;
    let beta = cfg.beta_per_adc;
    let bl = beta * span;
    for _ in 0..n_k[3] {
        let u: f64 = rng.random();
        let x = if bl.abs() < 1e-12 {
            low + u * span
        } else {
            low + (u * bl.exp_m1()).ln_1p() / beta
        };
        // Inside [low, high] up to rounding: every background event is kept.
        counts[bin(x.clamp(low, high))] += 1.0;
    }
    let spectrum = Spectrum::uniform(id, low, high, counts);
    let truth = ChannelTruth {
        roid: id,
        is_lyso,
        gain_adc_per_mev: gain,
        peak_adc: E_FULL_MEV * gain,
        adc2mev_mev_per_adc: 1.0 / gain,
        width_mev: cfg.width_mev,
        alpha: cfg.alpha,
        beta_per_adc: cfg.beta_per_adc,
        n_events,
        n_full: n_k[0],
        n_first: n_k[1],
        n_second: n_k[2],
        n_bkg: n_k[3],
    };
    (spectrum, truth)
}

/// Simulates the channels `ids` (SiPM or crystal ids per `mode`, any order) in parallel with
/// rayon; spectra and truths come back sorted by id. Byte-identical at any thread count.
///
/// # Errors
///
/// [`Error::InvalidArgument`] for an invalid `cfg`, an id outside the mode's range, or a
/// repeated id.
pub fn simulate_detector(
    cfg: &SimConfig,
    ids: &[u32],
    mode: IdMode,
) -> Result<(SpectrumSet, Vec<ChannelTruth>)> {
    simulate_detector_with_progress(cfg, ids, mode, &NoProgress)
}

/// [`simulate_detector`] reporting each simulated channel to `progress` (stage `"channels"`)
/// and logging (`tracing`, info level) the start and end with the channel and event counts and
/// the time taken. The reports never change the spectra.
///
/// # Errors
///
/// As [`simulate_detector`].
pub fn simulate_detector_with_progress(
    cfg: &SimConfig,
    ids: &[u32],
    mode: IdMode,
    progress: &dyn Progress,
) -> Result<(SpectrumSet, Vec<ChannelTruth>)> {
    cfg.validate()?;
    let sampler = CrystalBallSampler::new(cfg.alpha, cfg.n)?;
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    for w in ids.windows(2) {
        if w[0] == w[1] {
            return Err(Error::InvalidArgument(format!(
                "{} {} requested twice",
                mode.id_name(),
                w[0]
            )));
        }
    }
    if let Some(&bad) = ids.iter().find(|&&id| !mode.is_valid(id)) {
        return Err(Error::InvalidArgument(format!(
            "{} {bad} is outside 0..={}",
            mode.id_name(),
            mode.n_ids() - 1
        )));
    }
    let t0 = std::time::Instant::now();
    tracing::info!(
        channels = ids.len(),
        seed = cfg.seed,
        "simulating {} {} spectra",
        ids.len(),
        mode.id_name()
    );
    progress.start("channels", ids.len() as u64);
    let results: Vec<(Spectrum, ChannelTruth)> = ids
        .par_iter()
        .map(|&id| {
            let r = simulate_valid(cfg, &sampler, id, mode);
            progress.advance(1);
            r
        })
        .collect();
    progress.finish();
    let (spectra, truths): (Vec<Spectrum>, Vec<ChannelTruth>) = results.into_iter().unzip();
    let events: u64 = truths.iter().map(|t| t.n_events).sum();
    tracing::info!(
        channels = spectra.len(),
        events,
        seconds = t0.elapsed().as_secs_f64(),
        "simulated {} spectra ({events} events) in {:.2} s",
        spectra.len(),
        t0.elapsed().as_secs_f64()
    );
    Ok((
        SpectrumSet {
            per_crystal: mode.is_per_crystal(),
            spectra,
        },
        truths,
    ))
}

/// All ids of `mode`: 0..=2695 per SiPM, 0..=1347 per crystal.
pub fn all_ids(mode: IdMode) -> Vec<u32> {
    (0..mode.n_ids()).collect()
}

// ---------------------------------------------------------------------------------------------
// Truth table I/O
// ---------------------------------------------------------------------------------------------

/// The truth-table columns, in the order written (the field names of [`ChannelTruth`]).
pub const TRUTH_COLUMNS: [&str; 13] = [
    "roid",
    "is_lyso",
    "gain_adc_per_mev",
    "peak_adc",
    "adc2mev_mev_per_adc",
    "width_mev",
    "alpha",
    "beta_per_adc",
    "n_events",
    "n_full",
    "n_first",
    "n_second",
    "n_bkg",
];

/// Writes a truth table as CSV or Parquet by extension, atomically. In CSV, `is_lyso` is
/// `true`/`false`; in Parquet, `roid` and the counts are Int64, `is_lyso` Boolean, the rest
/// Float64.
///
/// # Errors
///
/// [`Error::InvalidArgument`] for an unknown extension; [`Error::Core`] for I/O or Parquet
/// errors (no file is left at `path`).
pub fn write_truth(path: impl AsRef<Path>, truth: &[ChannelTruth]) -> Result<()> {
    let path = path.as_ref();
    match TableFormat::from_path(path)? {
        TableFormat::Csv => Ok(hep_core::io::write_csv(path, truth)?),
        TableFormat::Parquet => {
            let schema = Arc::new(Schema::new(
                TRUTH_COLUMNS
                    .iter()
                    .map(|&c| {
                        let ty = match c {
                            "is_lyso" => DataType::Boolean,
                            "roid" | "n_events" | "n_full" | "n_first" | "n_second" | "n_bkg" => {
                                DataType::Int64
                            }
                            _ => DataType::Float64,
                        };
                        Field::new(c, ty, false)
                    })
                    .collect::<Vec<_>>(),
            ));
            let f = |get: fn(&ChannelTruth) -> f64| {
                Arc::new(Float64Array::from_iter_values(truth.iter().map(get)))
                    as arrow_array::ArrayRef
            };
            let i = |get: fn(&ChannelTruth) -> u64| {
                Arc::new(Int64Array::from_iter_values(
                    truth.iter().map(|t| get(t) as i64),
                )) as arrow_array::ArrayRef
            };
            let columns = vec![
                i(|t| u64::from(t.roid)),
                Arc::new(BooleanArray::from(
                    truth.iter().map(|t| t.is_lyso).collect::<Vec<_>>(),
                )) as arrow_array::ArrayRef,
                f(|t| t.gain_adc_per_mev),
                f(|t| t.peak_adc),
                f(|t| t.adc2mev_mev_per_adc),
                f(|t| t.width_mev),
                f(|t| t.alpha),
                f(|t| t.beta_per_adc),
                i(|t| t.n_events),
                i(|t| t.n_full),
                i(|t| t.n_first),
                i(|t| t.n_second),
                i(|t| t.n_bkg),
            ];
            let batch =
                RecordBatch::try_new(schema.clone(), columns).map_err(hep_core::Error::from)?;
            Ok(hep_core::io::write_parquet_with_schema(
                path,
                schema,
                &[batch],
                &[],
            )?)
        }
    }
}

/// Reads a truth table written by [`write_truth`] (CSV or Parquet by extension).
///
/// # Errors
///
/// [`Error::InvalidArgument`] for an unknown extension; [`Error::Core`] for I/O, Parquet, a
/// missing or mistyped column, or a malformed CSV record (with its line); [`hep_core::Error::Parse`] for a
/// null or negative integer in Parquet (with its row).
pub fn read_truth(path: impl AsRef<Path>) -> Result<Vec<ChannelTruth>> {
    let path = path.as_ref();
    match TableFormat::from_path(path)? {
        TableFormat::Csv => Ok(hep_core::io::read_csv(path)?),
        TableFormat::Parquet => {
            use arrow_array::Array;
            use hep_core::io::{column_bool, column_f64, column_i64};
            let (_, batches) = hep_core::io::read_parquet(path)?;
            let mut out = Vec::new();
            let mut row0 = 0u64;
            for b in &batches {
                let int = |name: &str, i: usize| -> Result<u64> {
                    let c = column_i64(b, name)?;
                    if c.is_null(i) || c.value(i) < 0 {
                        return Err(Error::input(
                            path,
                            row0 + i as u64 + 1,
                            format!("a non-negative integer in column `{name}`"),
                            format!(
                                "row {}: {:?}",
                                row0 + i as u64 + 1,
                                c.is_valid(i).then(|| c.value(i))
                            ),
                        ));
                    }
                    Ok(c.value(i) as u64)
                };
                let flt =
                    |name: &str, i: usize| -> Result<f64> { Ok(column_f64(b, name)?.value(i)) };
                let lyso = column_bool(b, "is_lyso")?;
                for i in 0..b.num_rows() {
                    let roid = u32::try_from(int("roid", i)?).map_err(|_| {
                        Error::input(
                            path,
                            row0 + i as u64 + 1,
                            "a roid below 2^32",
                            "a larger one",
                        )
                    })?;
                    out.push(ChannelTruth {
                        roid,
                        is_lyso: lyso.value(i),
                        gain_adc_per_mev: flt("gain_adc_per_mev", i)?,
                        peak_adc: flt("peak_adc", i)?,
                        adc2mev_mev_per_adc: flt("adc2mev_mev_per_adc", i)?,
                        width_mev: flt("width_mev", i)?,
                        alpha: flt("alpha", i)?,
                        beta_per_adc: flt("beta_per_adc", i)?,
                        n_events: int("n_events", i)?,
                        n_full: int("n_full", i)?,
                        n_first: int("n_first", i)?,
                        n_second: int("n_second", i)?,
                        n_bkg: int("n_bkg", i)?,
                    });
                }
                row0 += b.num_rows() as u64;
            }
            Ok(out)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Cosmic constants
// ---------------------------------------------------------------------------------------------

/// Reference energy of the cosmic MIP peak, 20 MeV (34 mm of CsI at about 5.6 MeV/cm;
/// CaloCalibration `CaloCosmicEnecalib_module.cc`).
pub const COSMIC_MPV_MEV: f64 = 20.0;
/// Default relative error of a simulated cosmic MPV, 1.2 %.
pub const DEFAULT_COSMIC_REL_ERROR: f64 = 0.012;
/// Degrees of freedom of a simulated cosmic langaus fit.
pub const COSMIC_NDF: u32 = 60;
/// Mean number of hits per channel of a simulated cosmic run (about 800 in run 106521's
/// `Cosmics.txt`).
pub const COSMIC_NHITS_MEAN: f64 = 800.0;
/// Offset added to the chi-square of a "bad" cosmic fit: `chisq = 100 + X`, `X ~ chi2(60)`, so
/// its p-value with 60 degrees of freedom is below 0.001.
pub const BAD_COSMIC_CHISQ_OFFSET: f64 = 100.0;

/// One simulated row of a `CalCosmicEnergyCalib`-like table (Offline `DbTables`: `roid, peak,
/// errpeak, width, errwidth, sigma, errsigma, chisq, ndf, nhits`), all amplitudes in ADC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimulatedCosmic {
    /// SiPM readout id (or crystal id, following the truth rows).
    pub roid: u32,
    /// Landau MPV of the path-corrected MIP peak (ADC): `20 MeV * g * (1 + N(0, rel_error))`.
    pub peak_adc: f64,
    /// Its error (ADC): `rel_error * peak_adc`.
    pub err_peak_adc: f64,
    /// Landau width (ADC), about 0.07 × peak.
    pub width_adc: f64,
    /// Error of the Landau width (ADC), 3 % of it.
    pub err_width_adc: f64,
    /// Gaussian sigma of the langaus (ADC), about 0.16 × peak.
    pub sigma_adc: f64,
    /// Error of the Gaussian sigma (ADC), 3 % of it.
    pub err_sigma_adc: f64,
    /// Fit chi-square: a `chi2(ndf)` draw (uniform p-value), or 100 plus such a draw for bad
    /// channels (p < 0.001).
    pub chisq: f64,
    /// Degrees of freedom of the fit (60; 0 for LYSO channels).
    pub ndf: u32,
    /// Hits in the channel's histogram, `Poisson(800)`.
    pub nhits: u64,
}

/// Draws cosmic constants for the channels of `truth` (`CalCosmicEnergyCalib` layout), one
/// row per truth row in the same order, from `stream_nested(seed, &[2, roid])`.
///
/// For a CsI channel: `peak = 20 MeV * g * (1 + rel_error * z)` (ADC), `err_peak = rel_error *
/// peak`; width = 0.07 peak (1 + 0.05 z'), sigma = 0.16 peak (1 + 0.05 z''), each with a 3 %
/// error; `nhits ~ Poisson(800)`; `chisq ~ chi2(60)`, `ndf = 60`. With probability
/// `bad_fraction` the channel is bad: `chisq = 100 + chi2(60)` (p < 0.001). LYSO channels get
/// an all-zero row, as in the real table of run 106521 (no fit).
///
/// # Errors
///
/// [`Error::InvalidArgument`] if `rel_error` is negative or not finite, or `bad_fraction` is
/// outside `[0, 1]`.
pub fn simulate_cosmic_table(
    seed: u64,
    truth: &[ChannelTruth],
    rel_error: f64,
    bad_fraction: f64,
) -> Result<Vec<SimulatedCosmic>> {
    if !(rel_error.is_finite() && rel_error >= 0.0) {
        return Err(Error::InvalidArgument(format!(
            "cosmic relative error must be finite and non-negative, got {rel_error}"
        )));
    }
    if !(0.0..=1.0).contains(&bad_fraction) {
        return Err(Error::InvalidArgument(format!(
            "bad fraction must be in [0, 1], got {bad_fraction}"
        )));
    }
    let chi2 = ChiSquared::new(f64::from(COSMIC_NDF)).expect("60 degrees of freedom");
    let nhits = Poisson::new(COSMIC_NHITS_MEAN).expect("positive mean");
    Ok(truth
        .iter()
        .map(|t| {
            if t.is_lyso {
                return SimulatedCosmic {
                    roid: t.roid,
                    peak_adc: 0.0,
                    err_peak_adc: 0.0,
                    width_adc: 0.0,
                    err_width_adc: 0.0,
                    sigma_adc: 0.0,
                    err_sigma_adc: 0.0,
                    chisq: 0.0,
                    ndf: 0,
                    nhits: 0,
                };
            }
            let mut rng =
                hep_core::rng::stream_nested(seed, &[COSMIC_STREAM_KEY, u64::from(t.roid)]);
            let z: [f64; 3] = std::array::from_fn(|_| StandardNormal.sample(&mut rng));
            let peak = COSMIC_MPV_MEV * t.gain_adc_per_mev * (1.0 + rel_error * z[0]);
            let width = 0.07 * peak * (1.0 + 0.05 * z[1]);
            let sigma = 0.16 * peak * (1.0 + 0.05 * z[2]);
            let mut chisq = chi2.sample(&mut rng);
            if rng.random::<f64>() < bad_fraction {
                chisq += BAD_COSMIC_CHISQ_OFFSET;
            }
            SimulatedCosmic {
                roid: t.roid,
                peak_adc: peak,
                err_peak_adc: rel_error * peak.abs(),
                width_adc: width,
                err_width_adc: 0.03 * width.abs(),
                sigma_adc: sigma,
                err_sigma_adc: 0.03 * sigma.abs(),
                chisq,
                ndf: COSMIC_NDF,
                nhits: nhits.sample(&mut rng) as u64,
            }
        })
        .collect())
}

/// The `CalCosmicEnergyCalib` table (10-column layout, 2720 rows in roid order) of simulated
/// cosmic constants; channels without a simulated row get an all-zero (invalid) row.
pub fn cosmic_table_rows(sim: &[SimulatedCosmic]) -> Vec<crate::tables::CosmicRow> {
    let mut rows: Vec<crate::tables::CosmicRow> = (0..crate::channel::N_DB_ROWS)
        .map(crate::tables::CosmicRow::empty)
        .collect();
    for c in sim.iter().filter(|c| c.roid < crate::channel::N_DB_ROWS) {
        rows[c.roid as usize] = crate::tables::CosmicRow {
            roid: c.roid,
            peak: c.peak_adc,
            errpeak: c.err_peak_adc,
            width: c.width_adc,
            errwidth: c.err_width_adc,
            sigma: c.sigma_adc,
            errsigma: c.err_sigma_adc,
            chisq: Some(c.chisq),
            ndf: Some(c.ndf),
            chisq_per_ndf: None,
            nhits: c.nhits,
        };
    }
    rows
}
