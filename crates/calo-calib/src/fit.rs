//! Fit of one source spectrum (Mu2e CaloCalibration `SourceCalib/src/SourceFitter.cc`) with a
//! deterministic multi-start (see `docs/calo-calib.md`, "Toy statistics").
//!
//! The procedure for one channel:
//!
//! 1. keep the bins whose centres lie in the fit range (how RooFit reduces a binned dataset to a
//!    range: 75 bins for [40, 115.2] ADC at 1 ADC per bin); `I` is the number of events in
//!    the bins from the range start to the end of the histogram (the original's `integral_evts`,
//!    which sets SourceFitter's yield limits);
//! 2. build the objective: extended binned Poisson likelihood ([`Method::Nll`], saturated model
//!    subtracted) or Neyman chi-square with empty bins skipped ([`Method::Chi2`]). The four
//!    yields enter the expected counts linearly and are profiled out exactly for every shape
//!    (variable projection, `crate::profiled`): the minimisers work on the four shape parameters
//!    `(P, sigma, alpha, beta)`, and the minimum, the Hessian errors of the shape parameters and
//!    the profile interval are those of the full eight-parameter fit;
//! 3. multi-start: a Levenberg-Marquardt descent (Fisher scoring) from each pair of start
//!    positions of the peak ([`FitConfig::starts_adc`], default 93, 99, 105 ADC) and of the
//!    Crystal Ball alpha ([`FitConfig::alpha_starts`], default 1.5, 0.5, 3.0), with yields
//!    0.35/0.25/0.15/0.25 of `I` (toys: a single start lands on a wrong local minimum often
//!    enough to bias the peak by 1-3 %). The basins differ mainly in alpha: a long low-side tail
//!    trades against a higher peak. Against a 9 x 6 grid of starts on 150 toys at the
//!    toy-target statistics (10 000 events), this 3 x 3 grid missed the global minimum once (by
//!    0.67 in `-ln L`), the former 1.5/0.7/3.0 alphas three times; at the design statistics (63 000
//!    events per crystal) it missed none;
//! 4. the lowest minimum is polished by the quasi-Newton method of hep-core, which also gives
//!    the Hessian errors and the fit status; a polish that does not end valid gets the last rung
//!    of the retry ladder (a long simplex-first fit). Up to three minima in distinct basins
//!    (peaks more than 0.5 ADC apart) are tried in order; a higher one replaces an invalid lower
//!    one only if it is valid and less than `UP` above it;
//! 5. the profile-likelihood (MINOS-like) interval of the peak, if requested: secant steps on
//!    the signed root of the profile, each point a Levenberg-Marquardt fit of the other shape
//!    parameters; a profile point below the minimum restarts the fit from there once, as MINOS
//!    does on a new minimum;
//! 6. the yields' Hessian errors and correlations from the implicit-function theorem (see
//!    `yield_errors`); quality: chi-square (Neyman for chi2; Poisson deviance `2 NLL` for nll),
//!    `ndf = bins used - 8 free parameters`, p-value, and the status bits of [`ChannelStatus`].

use crate::model::{self, BinEvaluation, ModelRange, N_PARAMS};
use crate::objective::{SourceObjective, Statistic};
use crate::profiled::{LmSettings, N_SHAPE, ProfiledObjective, YieldBox, th};
use crate::{Error, Result};
use hep_core::fit::{
    FitOptions, FitResult, Method as Algorithm, Objective, Parameter, chi2_p_value, minimize,
};
use serde::{Deserialize, Serialize};

/// The objective of the fit (`--method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Neyman chi-square, `sum (n - nu)^2 / n` over non-empty bins (the original's `"chi2"`).
    Chi2,
    /// Extended binned Poisson likelihood (the original's `"nll"`; the default).
    #[default]
    Nll,
}

bitflags::bitflags! {
    /// Status bits of a channel fit; none set (`bits() == 0`) is a good fit. The tables store
    /// [`ChannelStatus::bits`] in the `status` column.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct ChannelStatus: u32 {
        /// The minimiser did not converge (EDM above tolerance or solver failure).
        const NOT_CONVERGED = 1;
        /// The Hessian was not positive definite: no errors.
        const COVARIANCE_INVALID = 2;
        /// A shape or yield parameter (not the peak) ended at one of its limits: informational,
        /// the peak and its error remain usable (e.g. a tail the data do not constrain).
        const AT_LIMIT = 4;
        /// The profile interval of the peak could not be found (or reached a limit).
        const PROFILE_FAILED = 8;
        /// The fit p-value is below [`FitConfig::p_value_min`].
        const LOW_P_VALUE = 16;
        /// Fewer events in the fit range than [`FitConfig::min_events`].
        const FEW_EVENTS = 32;
        /// No counts in the fit range: nothing was fitted.
        const NO_COUNTS = 64;
        /// A LYSO (CAPHRI) channel in a CsI fit: its 6.13 MeV line sits near 6.13 x 267 = 1637
        /// ADC, outside any CsI window, so it is not fitted (Offline `Sim_crystal.txt`).
        const LYSO_NOT_FITTED = 128;
        /// The peak ended at one of its limits: the line is outside the window (wrong gain or
        /// window); the constant is unusable.
        const PEAK_AT_LIMIT = 256;
        /// Bits that make a fit unusable for a calibration constant.
        const FAILED = Self::NOT_CONVERGED.bits()
            | Self::COVARIANCE_INVALID.bits()
            | Self::NO_COUNTS.bits()
            | Self::LYSO_NOT_FITTED.bits()
            | Self::PEAK_AT_LIMIT.bits();
    }
}

/// Written as its integer value ([`ChannelStatus::bits`]), as the `status` column of the
/// tables; read back keeping unknown bits.
impl Serialize for ChannelStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_u32(self.bits())
    }
}

impl<'de> Deserialize<'de> for ChannelStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        u32::deserialize(d).map(Self::from_bits_retain)
    }
}

/// Start value and limits of a bounded shape parameter, in the parameter's own unit (written
/// with named fields: `{ start = 1.5, lower = 0.1, upper = 5.0 }`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bounded {
    /// Start value of the fit (clamped into the limits).
    pub start: f64,
    /// Lower limit.
    pub lower: f64,
    /// Upper limit.
    pub upper: f64,
}

impl Bounded {
    /// A parameter starting at `start`, limited to `[lower, upper]`.
    pub const fn new(start: f64, lower: f64, upper: f64) -> Self {
        Self {
            start,
            lower,
            upper,
        }
    }
}

/// Settings of the source fit. Defaults are SourceFitter's for the simulation gain of
/// 16 ADC/MeV; [`FitConfig::for_gain`] scales the ADC window to another nominal gain and
/// [`FitConfig::compat`] reproduces the original's settings.
///
/// Missing fields take their default values when read from TOML or JSON; unknown fields are an
/// error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FitConfig {
    /// Objective.
    pub method: Method,
    /// Fit range (ADC): bins whose centres lie inside are used; components are normalised over it.
    pub range_adc: (f64, f64),
    /// Bins whose centres lie in this interval (ADC) enter the objective, when it differs from
    /// `range_adc`. `None` (the default) uses `range_adc`. `--compat` with `chi2` sets it to
    /// [40, 120]: ROOT before 6.36 ignored the range in `createChi2` (ROOT issue #21541), so
    /// the original's chi-square fits summed all 80 bins while the model stayed normalised over
    /// [40, 115.2].
    pub fit_bins_adc: Option<(f64, f64)>,
    /// Limits of the peak position (ADC).
    pub peak_limits_adc: (f64, f64),
    /// Start positions of the peak for the multi-start (ADC).
    pub starts_adc: Vec<f64>,
    /// Start values of the Crystal Ball alpha; the multi-start runs every peak start with each
    /// (1.5, 0.5, 3.0 by default; see the module docs for how they were chosen). The tail and the
    /// peak trade off (a long low tail with a higher peak), so basins differ in alpha as well
    /// as in the peak.
    pub alpha_starts: Vec<f64>,
    /// Start yields as fractions of `I`: full, single escape, double escape, background (the toy
    /// target's fractions).
    pub start_fractions: [f64; 4],
    /// Start and limits of the common width (MeV).
    pub width_mev: Bounded,
    /// Start and limits of the Crystal Ball alpha.
    pub alpha: Bounded,
    /// Start and limits of the background slope (1/ADC).
    pub beta_per_adc: Bounded,
    /// Lower limit of the full-energy yield as a fraction of `I` (0.05 for CsI, 0.10 for LYSO in
    /// SourceFitter).
    pub n_full_min_fraction: f64,
    /// How bin contents are predicted.
    pub bin_evaluation: BinEvaluation,
    /// Compute the profile-likelihood interval of the peak.
    pub peak_interval: bool,
    /// Channels with fewer events than this in the fit range are flagged [`ChannelStatus::FEW_EVENTS`].
    pub min_events: f64,
    /// Fits with a p-value below this are flagged [`ChannelStatus::LOW_P_VALUE`].
    pub p_value_min: f64,
}

impl Default for FitConfig {
    fn default() -> Self {
        Self {
            method: Method::Nll,
            range_adc: (40.0, 115.2),
            fit_bins_adc: None,
            peak_limits_adc: (91.0, 108.0),
            starts_adc: vec![93.0, 99.0, 105.0],
            alpha_starts: vec![1.5, 0.5, 3.0],
            start_fractions: [0.35, 0.25, 0.15, 0.25],
            width_mev: Bounded::new(0.5, 0.2, 1.5),
            alpha: Bounded::new(1.5, 0.1, 5.0),
            beta_per_adc: Bounded::new(-0.05, -1.0, -0.001),
            n_full_min_fraction: 0.05,
            bin_evaluation: BinEvaluation::Integrate,
            peak_interval: true,
            min_events: 1000.0,
            p_value_min: 1e-3,
        }
    }
}

impl FitConfig {
    /// The range (ADC) over which the model is normalised: [`FitConfig::range_adc`].
    pub fn model_range(&self) -> ModelRange {
        ModelRange {
            low: self.range_adc.0,
            high: self.range_adc.1,
        }
    }

    /// The default configuration with the ADC window, peak limits and starts scaled from the
    /// simulation gain of 16 ADC/MeV to `gain_adc_per_mev` (real SiPMs are near 26 ADC/MeV, cosmic
    /// table of run 106521), and the background slope scaled inversely.
    pub fn for_gain(gain_adc_per_mev: f64) -> Self {
        let k = gain_adc_per_mev / 16.0;
        let d = Self::default();
        Self {
            range_adc: (d.range_adc.0 * k, d.range_adc.1 * k),
            fit_bins_adc: None,
            peak_limits_adc: (d.peak_limits_adc.0 * k, d.peak_limits_adc.1 * k),
            starts_adc: d.starts_adc.iter().map(|s| s * k).collect(),
            beta_per_adc: Bounded::new(
                d.beta_per_adc.start / k,
                d.beta_per_adc.lower / k,
                d.beta_per_adc.upper / k,
            ),
            ..d
        }
    }

    /// The settings that reproduce the original fit (Mu2e/CaloCalibration commit `0d42e9e`,
    /// `SourceCalib/src/SourceFitter.cc`, class `SourceFitter`), scaled to `nominal_gain_adc_per_mev`
    /// like [`FitConfig::for_gain`] with `k = nominal_gain_adc_per_mev / 16`:
    ///
    /// * a single start of the peak at `98.08 k` ADC (SourceFitter's `fpeak` start: 6.13 MeV at
    ///   16 ADC/MeV) and a single alpha start, the default [`FitConfig::alpha`] start;
    /// * the model density evaluated at bin centres ([`BinEvaluation::Centre`], RooFit's default for
    ///   a binned dataset) instead of integrated over each bin;
    /// * for [`Method::Chi2`], all 80 bins in `[40 k, 120 k]` ADC enter the objective
    ///   ([`FitConfig::fit_bins_adc`]): ROOT before 6.36 ignored the range in `createChi2` (ROOT
    ///   issue #21541), while the model stays normalised over the fit range.
    pub fn compat(nominal_gain_adc_per_mev: f64, method: Method) -> Self {
        let mut c = Self {
            method,
            ..Self::for_gain(nominal_gain_adc_per_mev)
        };
        let k = nominal_gain_adc_per_mev / 16.0;
        c.starts_adc = vec![98.08 * k];
        c.alpha_starts = vec![c.alpha.start];
        c.bin_evaluation = BinEvaluation::Centre;
        if method == Method::Chi2 {
            c.fit_bins_adc = Some((40.0 * k, 120.0 * k));
        }
        c
    }

    /// Sets the fields that depend on the nominal gain and on the compat switch to those of
    /// [`FitConfig::compat`] (with `compat`) or [`FitConfig::for_gain`] (without), for this
    /// configuration's [`FitConfig::method`]: the fit range and bins, the peak limits and starts,
    /// the alpha starts, the background slope and the bin evaluation. Every other field (yield
    /// fractions, width and alpha limits, thresholds, the profile interval) is kept.
    pub fn apply_gain(&mut self, nominal_gain_adc_per_mev: f64, compat: bool) {
        let p = if compat {
            Self::compat(nominal_gain_adc_per_mev, self.method)
        } else {
            Self {
                method: self.method,
                ..Self::for_gain(nominal_gain_adc_per_mev)
            }
        };
        self.range_adc = p.range_adc;
        self.fit_bins_adc = p.fit_bins_adc;
        self.peak_limits_adc = p.peak_limits_adc;
        self.starts_adc = p.starts_adc;
        self.alpha_starts = p.alpha_starts;
        self.beta_per_adc = p.beta_per_adc;
        self.bin_evaluation = p.bin_evaluation;
    }

    fn validate(&self) -> Result<()> {
        let (lo, hi) = self.range_adc;
        let (plo, phi) = self.peak_limits_adc;
        if !(lo < hi && plo < phi && lo.is_finite() && hi.is_finite()) {
            return Err(Error::InvalidArgument(
                "fit range and peak limits must be finite, increasing intervals".into(),
            ));
        }
        if self.starts_adc.is_empty() {
            return Err(Error::InvalidArgument(
                "at least one start position is needed".into(),
            ));
        }
        if let Some(bad) = self.starts_adc.iter().find(|s| !(**s >= plo && **s <= phi)) {
            return Err(Error::InvalidArgument(format!(
                "start positions of the peak must lie within the peak limits [{plo}, {phi}] ADC, \
                 found {bad}"
            )));
        }
        if let Some(bad) = self.alpha_starts.iter().find(|a| !a.is_finite()) {
            return Err(Error::InvalidArgument(format!(
                "alpha start values must be finite, found {bad}"
            )));
        }
        Ok(())
    }
}

/// The fit of one channel, with the columns of `source_fits.csv` (issue 3, item 4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelFit {
    /// SiPM id (or crystal id with `--per-crystal`).
    pub roid: u32,
    /// Events in the spectrum (all bins).
    pub n_events: f64,
    /// Full-energy peak position `P` (ADC).
    pub peak: f64,
    /// Hessian error of `P` (ADC).
    pub peak_err: f64,
    /// Distance from `P` down to the lower end of its profile interval (ADC, positive).
    pub peak_err_low: f64,
    /// Distance from `P` up to the upper end of its profile interval (ADC, positive).
    pub peak_err_high: f64,
    /// Common Crystal Ball width (MeV).
    pub width: f64,
    /// Hessian error of the width (MeV).
    pub width_err: f64,
    /// Crystal Ball alpha.
    pub alpha: f64,
    /// Hessian error of alpha.
    pub alpha_err: f64,
    /// Background slope (1/ADC).
    pub beta: f64,
    /// Hessian error of beta (1/ADC).
    pub beta_err: f64,
    /// Full-energy yield (events in the fit range).
    pub n_full: f64,
    /// Hessian error of the full-energy yield.
    pub n_full_err: f64,
    /// Single-escape yield.
    pub n_first: f64,
    /// Double-escape yield.
    pub n_second: f64,
    /// Background yield.
    pub n_bkg: f64,
    /// Goodness-of-fit chi-square: the Neyman chi-square (chi2) or the Poisson deviance (nll).
    pub chi2: f64,
    /// Extended binned negative log-likelihood at the minimum (saturated model subtracted).
    pub nll: f64,
    /// Degrees of freedom: bins used minus free parameters.
    pub ndf: u32,
    /// Upper-tail chi-square probability of `chi2` with `ndf`.
    pub p_value: f64,
    /// Calibration constant `6.13 MeV / P` (MeV/ADC).
    pub adc2mev: f64,
    /// Its error from the Hessian error of `P`, `6.13 sigma_P / P^2` (MeV/ADC).
    pub adc2mev_err: f64,
    /// Correlation of `P` with the full-energy yield.
    pub corr_peak_n_full: f64,
    /// Status bits; none set is a good fit.
    pub status: ChannelStatus,
    /// Multi-start descents that converged (EDM below tolerance) to a finite minimum.
    pub n_starts_ok: u32,
    /// Objective evaluations spent on the channel (profiled objective: each is one template
    /// computation plus a few 4 x 4 Newton steps on the yields).
    pub n_calls: u64,
}

impl ChannelFit {
    /// The parameter vector in [`model::idx`] order.
    pub fn params(&self) -> [f64; N_PARAMS] {
        [
            self.peak,
            self.width,
            self.alpha,
            self.beta,
            self.n_full,
            self.n_first,
            self.n_second,
            self.n_bkg,
        ]
    }

    /// True if the constant is usable (none of the [`ChannelStatus::FAILED`] bits).
    pub fn is_ok(&self) -> bool {
        !self.status.intersects(ChannelStatus::FAILED)
    }

    /// A record for a channel that was not fitted: NaN values and the given status bits.
    pub fn not_fitted(roid: u32, n_events: f64, status: ChannelStatus) -> Self {
        let nan = f64::NAN;
        Self {
            roid,
            n_events,
            peak: nan,
            peak_err: nan,
            peak_err_low: nan,
            peak_err_high: nan,
            width: nan,
            width_err: nan,
            alpha: nan,
            alpha_err: nan,
            beta: nan,
            beta_err: nan,
            n_full: nan,
            n_full_err: nan,
            n_first: nan,
            n_second: nan,
            n_bkg: nan,
            chi2: nan,
            nll: nan,
            ndf: 0,
            p_value: nan,
            adc2mev: nan,
            adc2mev_err: nan,
            corr_peak_n_full: nan,
            status,
            n_starts_ok: 0,
            n_calls: 0,
        }
    }
}

/// The bins used by the fit: edges and counts of the bins whose centres lie in the range.
fn select_bins(edges: &[f64], counts: &[f64], range: (f64, f64)) -> (Vec<f64>, Vec<f64>) {
    let mut e = Vec::new();
    let mut c = Vec::new();
    for (i, &n) in counts.iter().enumerate() {
        let centre = 0.5 * (edges[i] + edges[i + 1]);
        if centre >= range.0 && centre <= range.1 {
            if e.is_empty() {
                e.push(edges[i]);
            }
            e.push(edges[i + 1]);
            c.push(n);
        }
    }
    (e, c)
}

/// The shape parameters `(P, sigma, alpha, beta)` with their starts, steps and limits
/// (SourceFitter's).
fn shape_parameters(cfg: &FitConfig, peak0: f64, alpha0: f64) -> Vec<Parameter> {
    let (plo, phi) = cfg.peak_limits_adc;
    vec![
        Parameter::new("peak", peak0.clamp(plo, phi), 0.5).with_limits(plo, phi),
        Parameter::new("width", cfg.width_mev.start, 0.02)
            .with_limits(cfg.width_mev.lower, cfg.width_mev.upper),
        Parameter::new("alpha", alpha0.clamp(cfg.alpha.lower, cfg.alpha.upper), 0.1)
            .with_limits(cfg.alpha.lower, cfg.alpha.upper),
        Parameter::new("beta", cfg.beta_per_adc.start, 0.005)
            .with_limits(cfg.beta_per_adc.lower, cfg.beta_per_adc.upper),
    ]
}

/// Limits and starts of the yields (full, single escape, double escape, background) from `I`
/// (SourceFitter: `n_full` in `[0.05 I, I]`, the others in `[0, I]`; starts as fractions of `I`).
fn yield_box(cfg: &FitConfig, integral: f64) -> YieldBox {
    let i = integral.max(1.0);
    let f = cfg.start_fractions;
    let lower = [cfg.n_full_min_fraction * i, 0.0, 0.0, 0.0];
    let upper = [i; 4];
    let start = [(f[0] * i).max(lower[0]), f[1] * i, f[2] * i, f[3] * i];
    YieldBox {
        lower,
        upper,
        start,
    }
}

/// Fits one spectrum (`edges` in ADC, length `counts.len() + 1`) of channel `roid`.
///
/// Never fails on data: an empty spectrum gives a [`ChannelFit`] with status
/// [`ChannelStatus::NO_COUNTS`] and NaN values.
///
/// # Errors
/// [`Error::InvalidArgument`] for an invalid configuration or mismatched `edges`/`counts`.
pub fn fit_spectrum(
    roid: u32,
    edges: &[f64],
    counts: &[f64],
    cfg: &FitConfig,
) -> Result<ChannelFit> {
    cfg.validate()?;
    if edges.len() != counts.len() + 1 {
        return Err(Error::InvalidArgument(format!(
            "channel {roid}: {} edges for {} bins",
            edges.len(),
            counts.len()
        )));
    }
    let n_events: f64 = counts.iter().sum();
    let Some((e, c, integral)) = prepare(edges, counts, cfg) else {
        return Ok(ChannelFit::not_fitted(
            roid,
            n_events,
            ChannelStatus::NO_COUNTS,
        ));
    };
    let nll = SourceObjective::new(
        e.clone(),
        c.clone(),
        cfg.model_range(),
        cfg.bin_evaluation,
        Statistic::Nll,
    );
    let (stat, used) = match cfg.method {
        Method::Nll => (Statistic::Nll, c.len()),
        Method::Chi2 => (
            Statistic::NeymanChi2,
            c.iter().filter(|&&n| n > 0.0).count(),
        ),
    };
    let yields = yield_box(cfg, integral);
    let objective =
        ProfiledObjective::new(e, c, cfg.model_range(), cfg.bin_evaluation, stat, yields);
    fit_with(roid, n_events, &objective, yields.start, &nll, cfg, used)
}

/// The profile of the objective in the peak position: for each `P` in `peaks_adc` (ADC), the
/// minimum of the objective over all other parameters with `P` fixed (a 1-D profile
/// scan in P). Each point is the lowest of three starts in the Crystal Ball alpha (0.6, 1.2, 2.5),
/// because the tail parameter and the peak position trade off. Returns `(P, minimum)` pairs;
/// the minimum is `+inf` where no start converged. Subtract the fit's minimum and divide by the
/// error definition (0.5 for nll, 1 for chi2) to get the likelihood-ratio `z^2`.
///
/// # Errors
/// As [`fit_spectrum`]; an empty spectrum gives [`Error::InvalidArgument`].
pub fn profile_scan(
    edges: &[f64],
    counts: &[f64],
    cfg: &FitConfig,
    peaks_adc: &[f64],
) -> Result<Vec<(f64, f64)>> {
    cfg.validate()?;
    let Some((e, c, integral)) = prepare(edges, counts, cfg) else {
        return Err(Error::InvalidArgument(
            "profile scan of an empty spectrum".into(),
        ));
    };
    let stat = match cfg.method {
        Method::Nll => Statistic::Nll,
        Method::Chi2 => Statistic::NeymanChi2,
    };
    let yields = yield_box(cfg, integral);
    let start = yields.start;
    let obj = ProfiledObjective::new(e, c, cfg.model_range(), cfg.bin_evaluation, stat, yields);
    let quick = FitOptions {
        compute_covariance: false,
        ..FitOptions::default()
    };
    let mut out = Vec::with_capacity(peaks_adc.len());
    for &pk in peaks_adc {
        let mut best = f64::INFINITY;
        for a0 in [0.6f64, 1.2, 2.5] {
            let mut params = shape_parameters(cfg, pk, a0);
            params[th::PEAK] = Parameter::new("peak", pk, 0.5).fixed();
            obj.reset_yields(start);
            let r = minimize(&obj, &params, &quick).map_err(Error::Core)?;
            best = best.min(r.min_value);
        }
        out.push((pk, best));
    }
    Ok(out)
}

/// The bins the fit uses (edges, counts) and `I`, the events from the first fitted bin to the end
/// of the histogram (MakeAnalysisTree's `integral_evts`); `None` if the range holds no counts.
fn prepare(edges: &[f64], counts: &[f64], cfg: &FitConfig) -> Option<(Vec<f64>, Vec<f64>, f64)> {
    let (e, c) = select_bins(edges, counts, cfg.fit_bins_adc.unwrap_or(cfg.range_adc));
    if c.is_empty() || c.iter().sum::<f64>() <= 0.0 {
        return None;
    }
    let integral = integral_from(edges, counts, e[0]);
    Some((e, c, integral))
}

/// The fit range of the model.
fn integral_from(edges: &[f64], counts: &[f64], first: f64) -> f64 {
    counts
        .iter()
        .zip(edges)
        .filter(|&(_, &lo)| lo >= first)
        .map(|(n, _)| n)
        .sum()
}

fn fit_with(
    roid: u32,
    n_events: f64,
    objective: &ProfiledObjective,
    yield_start: [f64; 4],
    nll: &SourceObjective,
    cfg: &FitConfig,
    n_bins_used: usize,
) -> Result<ChannelFit> {
    // Ranking the starts: a Levenberg-Marquardt descent of the profiled objective from every
    // start of the grid, to 10^-4 UP (enough to tell basins apart; the best is polished below).
    let mut calls = 0u64;
    let mut minima: Vec<(f64, [f64; N_SHAPE])> = Vec::new();
    let mut n_starts_ok = 0u32;
    let alpha_starts: &[f64] = if cfg.alpha_starts.is_empty() {
        &[cfg.alpha.start]
    } else {
        &cfg.alpha_starts
    };
    let up = objective.error_def();
    let (lower, upper) = shape_limits(cfg);
    for (p0, a0) in start_order(&cfg.starts_adc, alpha_starts) {
        objective.reset_yields(yield_start);
        let params = shape_parameters(cfg, p0, a0);
        let start = [
            params[th::PEAK].value,
            params[th::WIDTH].value,
            params[th::ALPHA].value,
            params[th::BETA].value,
        ];
        let m = objective.minimize_lm(
            start,
            &LmSettings {
                lower,
                upper,
                fixed: [false; N_SHAPE],
                edm_tolerance: RANKING_EDM * up,
                max_evaluations: RANKING_MAX_EVALUATIONS,
                cautious: false,
            },
        );
        calls += m.evaluations;
        if m.value.is_finite() {
            n_starts_ok += u32::from(m.converged);
            minima.push((m.value, m.theta));
        }
    }
    minima.sort_by(|a, b| a.0.total_cmp(&b.0));
    // The ranking fits end at their EDM tolerance, so their minima are already precise: the
    // Hessian errors are computed at the lowest one. Should that point not give a valid fit (no
    // convergence or no positive-definite Hessian), the next-lowest minimum in a distinct basin
    // (peak more than 0.5 ADC away) is tried, up to three.
    let mut candidates: Vec<&[f64; N_SHAPE]> = Vec::new();
    for (_, m) in &minima {
        if candidates.len() == 3 {
            break;
        }
        if candidates
            .iter()
            .all(|c| (c[th::PEAK] - m[th::PEAK]).abs() > 0.5)
        {
            candidates.push(m);
        }
    }
    // Each candidate is polished by the quasi-Newton method, which also gives the Hessian
    // errors; a candidate that does not end valid gets the last rung of the retry ladder, a long
    // simplex-first fit from its minimum. A higher candidate replaces an invalid lower one only
    // if it is valid and less than UP above it: a minimum excluded at one standard deviation is
    // not a better answer than a flagged fit at the global minimum.
    let polish = FitOptions {
        method: Algorithm::QuasiNewton,
        ..FitOptions::default()
    };
    let long = FitOptions {
        method: Algorithm::SimplexThenQuasiNewton,
        max_rounds: 8,
        max_iterations: 10_000,
        ..FitOptions::default()
    };
    let valid = |r: &FitResult| r.status.converged && r.status.covariance_pos_def;
    let mut best: Option<FitResult> = None;
    for start in candidates {
        let mut params = shape_parameters(cfg, start[th::PEAK], start[th::ALPHA]);
        for (p, &v) in params.iter_mut().zip(start) {
            p.value = v.clamp(p.lower.unwrap_or(v), p.upper.unwrap_or(v));
        }
        // Warm-start the yields from this basin's minimum.
        let _ = objective.yields_at(start);
        let mut r = minimize(objective, &params, &polish).map_err(Error::Core)?;
        calls += r.n_calls;
        if !valid(&r) {
            for (p, &v) in params.iter_mut().zip(&r.values) {
                p.value = v.clamp(p.lower.unwrap_or(v), p.upper.unwrap_or(v));
            }
            let _ = objective.yields_at(&r.values);
            let r2 = minimize(objective, &params, &long).map_err(Error::Core)?;
            calls += r2.n_calls;
            if quality_rank(&r2) < quality_rank(&r) {
                r = r2;
            }
        }
        let replace = match &best {
            None => true,
            Some(b) => valid(&r) && r.min_value < b.min_value + up,
        };
        if replace {
            best = Some(r);
        }
        if best.as_ref().is_some_and(valid) {
            break;
        }
    }
    let Some(mut r) = best else {
        return Ok(ChannelFit::not_fitted(
            roid,
            n_events,
            ChannelStatus::NOT_CONVERGED,
        ));
    };

    // The profile interval of the peak. Like MINOS, a profile point below the minimum means the
    // polished minimum was not the lowest: the fit is redone from that point (once) and the
    // interval recomputed; a second such point leaves the interval undefined (flagged).
    let (mut err_low, mut err_high) = (f64::NAN, f64::NAN);
    let mut profile_failed = false;
    if cfg.peak_interval {
        for attempt in 0..2 {
            if !r.status.covariance_pos_def {
                break;
            }
            let theta: [f64; N_SHAPE] = [r.values[0], r.values[1], r.values[2], r.values[3]];
            let mut lower_point = None;
            profile_failed = false;
            for (dir, out) in [(-1.0, &mut err_low), (1.0, &mut err_high)] {
                let side = objective.profile_side(
                    theta,
                    r.min_value,
                    th::PEAK,
                    dir,
                    r.errors[th::PEAK],
                    lower,
                    upper,
                );
                calls += side.evaluations;
                *out = side.error;
                profile_failed |= side.at_limit || !side.error.is_finite();
                lower_point = lower_point.or(side.new_minimum);
            }
            let Some(point) = lower_point.filter(|_| attempt == 0) else {
                break;
            };
            let mut params = shape_parameters(cfg, point[th::PEAK], point[th::ALPHA]);
            for (p, &v) in params.iter_mut().zip(&point) {
                p.value = v.clamp(p.lower.unwrap_or(v), p.upper.unwrap_or(v));
            }
            let _ = objective.yields_at(&point);
            let r2 = minimize(objective, &params, &polish).map_err(Error::Core)?;
            calls += r2.n_calls;
            if !(valid(&r2) && r2.min_value < r.min_value) {
                break;
            }
            r = r2;
        }
    }

    let mut st = ChannelStatus::empty();
    if profile_failed {
        st |= ChannelStatus::PROFILE_FAILED;
    }
    if !r.status.converged {
        st |= ChannelStatus::NOT_CONVERGED;
    }
    if !r.status.covariance_pos_def {
        st |= ChannelStatus::COVARIANCE_INVALID;
    }
    if r.status.at_limit[th::PEAK] {
        st |= ChannelStatus::PEAK_AT_LIMIT;
    }
    if r.status
        .at_limit
        .iter()
        .enumerate()
        .any(|(i, &b)| b && i != th::PEAK)
    {
        st |= ChannelStatus::AT_LIMIT;
    }
    let theta: [f64; N_SHAPE] = [r.values[0], r.values[1], r.values[2], r.values[3]];
    let yields = yield_errors(objective, &theta, &r);
    let Some(yields) = yields else {
        return Ok(ChannelFit::not_fitted(
            roid,
            n_events,
            ChannelStatus::NOT_CONVERGED,
        ));
    };
    let (y_lower, y_upper) = objective.yield_limits();
    let yield_scale = y_upper[0].max(1.0);
    if (0..4).any(|k| {
        yields.values[k] <= y_lower[k] + 1e-9 * yield_scale
            || yields.values[k] >= y_upper[k] - 1e-9 * yield_scale
    }) {
        st |= ChannelStatus::AT_LIMIT;
    }
    let y = yields.values;
    let v = [
        theta[0], theta[1], theta[2], theta[3], y[0], y[1], y[2], y[3],
    ];
    let nll_value = nll.value(&v);
    let ndf = n_bins_used.saturating_sub(N_PARAMS) as u32;
    let chi2 = match cfg.method {
        Method::Chi2 => r.min_value,
        Method::Nll => 2.0 * nll_value,
    };
    let p_value = chi2_p_value(chi2, u64::from(ndf));
    if !(p_value >= cfg.p_value_min) {
        st |= ChannelStatus::LOW_P_VALUE;
    }
    let in_range: f64 = nll.counts().iter().sum();
    if in_range < cfg.min_events {
        st |= ChannelStatus::FEW_EVENTS;
    }
    let peak = theta[th::PEAK];
    let peak_err = r.errors[th::PEAK];
    Ok(ChannelFit {
        roid,
        n_events,
        peak,
        peak_err,
        peak_err_low: err_low,
        peak_err_high: err_high,
        width: theta[th::WIDTH],
        width_err: r.errors[th::WIDTH],
        alpha: theta[th::ALPHA],
        alpha_err: r.errors[th::ALPHA],
        beta: theta[th::BETA],
        beta_err: r.errors[th::BETA],
        n_full: y[0],
        n_full_err: yields.n_full_err,
        n_first: y[1],
        n_second: y[2],
        n_bkg: y[3],
        chi2,
        nll: nll_value,
        ndf,
        p_value,
        adc2mev: model::E_FULL_MEV / peak,
        adc2mev_err: model::E_FULL_MEV * peak_err / (peak * peak),
        corr_peak_n_full: yields.corr_peak_n_full,
        status: st,
        n_starts_ok,
        n_calls: calls,
    })
}

/// The multi-start grid in a Latin-square order: the peak starts from the middle of the list
/// outwards, and each round of `peaks.len()` starts pairs every peak with a different alpha, so
/// that any prefix of the order spreads over both directions of the grid.
fn start_order(peaks: &[f64], alphas: &[f64]) -> Vec<(f64, f64)> {
    let mid = (peaks.len() as f64 - 1.0) / 2.0;
    let mut by_centre: Vec<usize> = (0..peaks.len()).collect();
    by_centre.sort_by(|&a, &b| {
        (a as f64 - mid)
            .abs()
            .total_cmp(&(b as f64 - mid).abs())
            .then(a.cmp(&b))
    });
    let mut out = Vec::with_capacity(peaks.len() * alphas.len());
    for offset in 0..alphas.len() {
        for (i, &p) in by_centre.iter().enumerate() {
            out.push((peaks[p], alphas[(i + offset) % alphas.len()]));
        }
    }
    out
}

/// Lower and upper limits of the shape parameters `(P, sigma, alpha, beta)`.
fn shape_limits(cfg: &FitConfig) -> ([f64; N_SHAPE], [f64; N_SHAPE]) {
    (
        [
            cfg.peak_limits_adc.0,
            cfg.width_mev.lower,
            cfg.alpha.lower,
            cfg.beta_per_adc.lower,
        ],
        [
            cfg.peak_limits_adc.1,
            cfg.width_mev.upper,
            cfg.alpha.upper,
            cfg.beta_per_adc.upper,
        ],
    )
}

/// EDM tolerance of the ranking descents, in units of `UP`.
const RANKING_EDM: f64 = 1e-4;

/// Evaluation budget of one ranking descent: enough for the Levenberg-Marquardt steps to reach
/// a basin's bottom from any grid start at 10 000 events (typically 5-30 are used); a descent
/// that creeps along a flat direction is ranked where it stopped.
const RANKING_MAX_EVALUATIONS: u64 = 60;

/// The profiled yields at the minimum and what the output needs of their covariance.
struct YieldErrors {
    values: [f64; 4],
    n_full_err: f64,
    corr_peak_n_full: f64,
}

/// The yields at `theta` with the full-energy yield's error and its correlation with the peak.
///
/// With `J = d N* / d theta` (central differences of the profiled yields) and `V` the shape
/// covariance of `r`, the yields' covariance is `H_NN^-1 + J V J^T` and their covariance with the
/// shape parameters `J V`: the blocks of the inverse of the full Hessian (implicit-function
/// theorem). Yields at a limit have no error (NaN), as a parameter at a limit in MINUIT; so do
/// the yields when they cannot be solved at a shifted shape (the fit itself stands). `None` only
/// if the yields cannot be solved at `theta` itself.
fn yield_errors(
    objective: &ProfiledObjective,
    theta: &[f64; 4],
    r: &FitResult,
) -> Option<YieldErrors> {
    let (y, cov_fixed) = objective.yields_at(theta)?;
    let without_errors = YieldErrors {
        values: y,
        n_full_err: f64::NAN,
        corr_peak_n_full: f64::NAN,
    };
    let Some(v) = r.covariance.as_ref().filter(|v| v.nrows() == N_SHAPE) else {
        return Some(without_errors);
    };
    if cov_fixed[(0, 0)] == 0.0 {
        return Some(without_errors);
    }
    // d n_full* / d theta_j.
    let mut j_row = [0.0; N_SHAPE];
    let mut differentiable = true;
    for (j, jr) in j_row.iter_mut().enumerate() {
        let err = r.errors[j];
        let h = if err.is_finite() && err > 0.0 {
            1e-3 * err
        } else {
            1e-6 * theta[j].abs().max(1e-3)
        };
        let mut q = *theta;
        q[j] = theta[j] + h;
        let yp = objective.yields_at(&q).map(|r| r.0[0]);
        q[j] = theta[j] - h;
        let ym = objective.yields_at(&q).map(|r| r.0[0]);
        match yp.zip(ym) {
            Some((yp, ym)) => *jr = (yp - ym) / (2.0 * h),
            None => differentiable = false,
        }
    }
    // Restore the warm start at the minimum.
    let _ = objective.yields_at(theta);
    // The shape fit stands even if the yields cannot be solved next to it; only their
    // propagated error is then unknown.
    if !differentiable {
        return Some(without_errors);
    }
    let mut jv = [0.0; N_SHAPE];
    for (b, jvb) in jv.iter_mut().enumerate() {
        *jvb = (0..N_SHAPE).map(|a| j_row[a] * v[(a, b)]).sum();
    }
    let var_full = cov_fixed[(0, 0)] + (0..N_SHAPE).map(|b| jv[b] * j_row[b]).sum::<f64>();
    let var_peak = v[(th::PEAK, th::PEAK)];
    Some(YieldErrors {
        values: y,
        n_full_err: var_full.sqrt(),
        corr_peak_n_full: jv[th::PEAK] / (var_full * var_peak).sqrt(),
    })
}

/// Orders fits: valid (converged with a covariance) before invalid, then by minimum.
fn quality_rank(r: &FitResult) -> (u8, f64) {
    let bad = u8::from(!(r.status.converged && r.status.covariance_pos_def));
    (bad, r.min_value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BinEvaluation, expected_counts};

    fn spectrum() -> (Vec<f64>, Vec<f64>) {
        let truth = [100.0, 0.45, 1.2, -0.04, 3500.0, 2500.0, 1500.0, 2500.0];
        let edges: Vec<f64> = (0..=120).map(f64::from).collect();
        let mut mu = vec![0.0; 80];
        let range = ModelRange {
            low: 40.0,
            high: 120.0,
        };
        expected_counts(
            &truth,
            range,
            BinEvaluation::Integrate,
            &edges[40..],
            &mut mu,
        );
        let mut counts = vec![0.0; 120];
        for (c, m) in counts[40..].iter_mut().zip(&mu) {
            *c = m.round();
        }
        (edges, counts)
    }

    #[test]
    fn the_compat_chi2_range_uses_all_80_bins() {
        let (edges, counts) = spectrum();
        let base = FitConfig {
            method: Method::Chi2,
            peak_interval: false,
            ..FitConfig::default()
        };
        let f = fit_spectrum(0, &edges, &counts, &base).unwrap();
        assert_eq!(f.ndf, 75 - 8);
        let compat = FitConfig {
            fit_bins_adc: Some((40.0, 120.0)),
            ..base
        };
        let g = fit_spectrum(0, &edges, &counts, &compat).unwrap();
        assert_eq!(g.ndf, 80 - 8, "the original's ndof");
        assert!(f.is_ok() && g.is_ok());
        // Both describe the same spectrum: the peaks agree to well within an error.
        assert!(
            (f.peak - g.peak).abs() < f.peak_err,
            "{} vs {}",
            f.peak,
            g.peak
        );
    }

    #[test]
    fn compat_bin_centre_fits_descend_and_profile() {
        // With bin-centre evaluation (--compat) the descents and the profile points need the
        // templates' derivatives too: every start must descend (not stay where it began) and the
        // profile interval must be the profile's, close to the Hessian error on a spectrum without
        // fluctuations (within 30 %), not the much narrower conditional interval.
        let (edges, counts) = spectrum();
        let cfg = FitConfig {
            bin_evaluation: BinEvaluation::Centre,
            ..FitConfig::default()
        };
        let f = fit_spectrum(0, &edges, &counts, &cfg).unwrap();
        assert!(f.is_ok(), "{f:?}");
        assert!(f.n_starts_ok > 0, "{f:?}");
        for side in [f.peak_err_low, f.peak_err_high] {
            let r = side.abs() / f.peak_err;
            assert!(r > 0.7 && r < 1.3, "{side} vs {}", f.peak_err);
        }
    }

    #[test]
    fn an_empty_spectrum_is_a_status_not_an_error() {
        let edges: Vec<f64> = (0..=120).map(f64::from).collect();
        let f = fit_spectrum(5, &edges, &[0.0; 120], &FitConfig::default()).unwrap();
        assert_eq!(f.status, ChannelStatus::NO_COUNTS);
        assert!(f.peak.is_nan() && !f.is_ok());
    }
}
