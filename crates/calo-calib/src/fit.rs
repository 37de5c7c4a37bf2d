//! Fit of one source spectrum (SourceFitter, spec §3) with a deterministic multi-start (§10).
//!
//! The procedure for one channel:
//!
//! 1. keep the bins whose centres lie in the fit range (how RooFit reduces a binned dataset to a
//!    range, §3.1: 75 bins for [40, 115.2] ADC at 1 ADC per bin); `I` is the number of events in
//!    the bins from the range start to the end of the histogram (the original's `integral_evts`,
//!    which sets the yield limits of §3.2);
//! 2. build the objective: extended binned Poisson likelihood ([`Method::Nll`], saturated model
//!    subtracted) or Neyman chi-square with empty bins skipped ([`Method::Chi2`]);
//! 3. multi-start: one coarse fit from each pair of start positions of the peak
//!    ([`FitConfig::starts_adc`], default 93, 99, 105 ADC) and of the Crystal Ball alpha
//!    ([`FitConfig::alpha_starts`], default 1.5, 0.7, 3.0), with yields 0.35/0.25/0.15/0.25 of
//!    `I` (§10: a single start lands on a wrong local minimum often enough to bias the peak by
//!    1-3 %). §10 suggests six peak starts; on this model the basins differ mainly in alpha, and
//!    the 3 x 3 grid found the global minimum on all 100 toys of `tests/toys.rs` (checked there
//!    against the constrained minimum at the true peak) at half the cost of 6 x 3, while 6 peak
//!    starts with one alpha missed it on some toys;
//! 4. the ranking uses a coarse simplex (it only has to find each start's basin); the best three
//!    minima in distinct basins (peaks more than 0.5 ADC apart) are refitted with Hessian errors
//!    and the lowest valid one is kept; if none is valid, a longer simplex-first fit is the last
//!    rung of the retry ladder;
//! 5. the profile-likelihood (MINOS-like) interval of the peak, if requested;
//! 6. quality: chi-square (Neyman for chi2; Poisson deviance `2 NLL` for nll), `ndf = bins used -
//!    free parameters`, p-value, and the status bits of [`status`].

use crate::model::{self, BinEvaluation, ModelRange, N_PARAMS, idx};
use crate::objective::{SourceObjective, Statistic};
use crate::{Error, Result};
use hep_core::fit::{
    FitOptions, FitResult, Method as Algorithm, Objective, Parameter, chi2_p_value, minimize,
    profile_interval,
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

/// Status bits of a channel fit; 0 means a good fit.
pub mod status {
    /// The minimiser did not converge (EDM above tolerance or solver failure).
    pub const NOT_CONVERGED: u32 = 1;
    /// The Hessian was not positive definite: no errors.
    pub const COVARIANCE_INVALID: u32 = 2;
    /// A shape or yield parameter (not the peak) ended at one of its limits: informational, the
    /// peak and its error remain usable (e.g. a tail the data do not constrain).
    pub const AT_LIMIT: u32 = 4;
    /// The profile interval of the peak could not be found (or reached a limit).
    pub const PROFILE_FAILED: u32 = 8;
    /// The fit p-value is below [`FitConfig::p_value_min`](super::FitConfig::p_value_min).
    pub const LOW_P_VALUE: u32 = 16;
    /// Fewer events in the fit range than [`FitConfig::min_events`](super::FitConfig::min_events).
    pub const FEW_EVENTS: u32 = 32;
    /// No counts in the fit range: nothing was fitted.
    pub const NO_COUNTS: u32 = 64;
    /// A LYSO (CAPHRI) channel in a CsI fit: its 6.13 MeV line sits near 6.13 x 267 = 1637 ADC,
    /// outside any CsI window, so it is not fitted (spec §0, §9).
    pub const LYSO_NOT_FITTED: u32 = 128;
    /// The peak ended at one of its limits: the line is outside the window (wrong gain or
    /// window); the constant is unusable.
    pub const PEAK_AT_LIMIT: u32 = 256;

    /// Bits that make a fit unusable for a calibration constant.
    pub const FAILED: u32 =
        NOT_CONVERGED | COVARIANCE_INVALID | NO_COUNTS | LYSO_NOT_FITTED | PEAK_AT_LIMIT;
}

/// Settings of the source fit. Defaults are SourceFitter's (§3.2) for the simulation gain of
/// 16 ADC/MeV; [`FitConfig::for_gain`] scales the ADC window to another nominal gain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitConfig {
    /// Objective.
    pub method: Method,
    /// Fit range (ADC): bins whose centres lie inside are used; components are normalised over it.
    pub range_adc: (f64, f64),
    /// Bins whose centres lie in this interval (ADC) enter the objective, when it differs from
    /// `range_adc`. `None` (the default) uses `range_adc`. `--compat` with `chi2` sets it to
    /// [40, 120]: ROOT before 6.36 ignored the range in `createChi2` (ROOT #21541, spec §3.1), so
    /// the original's chi-square fits summed all 80 bins while the model stayed normalised over
    /// [40, 115.2].
    pub fit_bins_adc: Option<(f64, f64)>,
    /// Limits of the peak position (ADC).
    pub peak_limits_adc: (f64, f64),
    /// Start positions of the peak for the multi-start (ADC).
    pub starts_adc: Vec<f64>,
    /// Start values of the Crystal Ball alpha; the multi-start runs every peak start with each.
    /// The tail and the peak trade off (a long low tail with a higher peak, §9), so basins differ
    /// in alpha as well as in the peak.
    pub alpha_starts: Vec<f64>,
    /// Start yields as fractions of `I`: full, single escape, double escape, background (§10).
    pub start_fractions: [f64; 4],
    /// Start and limits of the common width (MeV).
    pub width_mev: (f64, f64, f64),
    /// Start and limits of the Crystal Ball alpha.
    pub alpha: (f64, f64, f64),
    /// Start and limits of the background slope (1/ADC).
    pub beta_per_adc: (f64, f64, f64),
    /// Lower limit of the full-energy yield as a fraction of `I` (0.05 for CsI, §3.2).
    pub n_full_min_fraction: f64,
    /// How bin contents are predicted.
    pub bin_evaluation: BinEvaluation,
    /// Compute the profile-likelihood interval of the peak.
    pub peak_interval: bool,
    /// Channels with fewer events than this in the fit range are flagged [`status::FEW_EVENTS`].
    pub min_events: f64,
    /// Fits with a p-value below this are flagged [`status::LOW_P_VALUE`].
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
            alpha_starts: vec![1.5, 0.7, 3.0],
            start_fractions: [0.35, 0.25, 0.15, 0.25],
            width_mev: (0.5, 0.2, 1.5),
            alpha: (1.5, 0.1, 5.0),
            beta_per_adc: (-0.05, -1.0, -0.001),
            n_full_min_fraction: 0.05,
            bin_evaluation: BinEvaluation::Integrate,
            peak_interval: true,
            min_events: 1000.0,
            p_value_min: 1e-3,
        }
    }
}

impl FitConfig {
    /// The default configuration with the ADC window, peak limits and starts scaled from the
    /// simulation gain of 16 ADC/MeV to `gain_adc_per_mev` (real SiPMs are near 26 ADC/MeV, §9),
    /// and the background slope scaled inversely.
    pub fn for_gain(gain_adc_per_mev: f64) -> Self {
        let k = gain_adc_per_mev / 16.0;
        let d = Self::default();
        Self {
            range_adc: (d.range_adc.0 * k, d.range_adc.1 * k),
            fit_bins_adc: None,
            peak_limits_adc: (d.peak_limits_adc.0 * k, d.peak_limits_adc.1 * k),
            starts_adc: d.starts_adc.iter().map(|s| s * k).collect(),
            beta_per_adc: (
                d.beta_per_adc.0 / k,
                d.beta_per_adc.1 / k,
                d.beta_per_adc.2 / k,
            ),
            ..d
        }
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
    /// Status bits (see [`status`]); 0 is a good fit.
    pub status: u32,
    /// Starts that converged to a finite minimum.
    pub n_starts_ok: u32,
    /// Objective evaluations spent on the channel.
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

    /// True if the constant is usable (none of the [`status::FAILED`] bits).
    pub fn is_ok(&self) -> bool {
        self.status & status::FAILED == 0
    }

    /// A record for a channel that was not fitted: NaN values and the given status bits.
    pub fn not_fitted(roid: u32, n_events: f64, status: u32) -> Self {
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

fn parameters(cfg: &FitConfig, peak0: f64, integral: f64) -> Vec<Parameter> {
    let f = cfg.start_fractions;
    let i = integral.max(1.0);
    let (plo, phi) = cfg.peak_limits_adc;
    let yield_step = (0.02 * i).max(1.0);
    vec![
        Parameter::new("peak", peak0.clamp(plo, phi), 0.5).with_limits(plo, phi),
        Parameter::new("width", cfg.width_mev.0, 0.02)
            .with_limits(cfg.width_mev.1, cfg.width_mev.2),
        Parameter::new("alpha", cfg.alpha.0, 0.1).with_limits(cfg.alpha.1, cfg.alpha.2),
        Parameter::new("beta", cfg.beta_per_adc.0, 0.005)
            .with_limits(cfg.beta_per_adc.1, cfg.beta_per_adc.2),
        Parameter::new(
            "n_full",
            (f[0] * i).max(cfg.n_full_min_fraction * i),
            yield_step,
        )
        .with_limits(cfg.n_full_min_fraction * i, i),
        Parameter::new("n_first", f[1] * i, yield_step).with_limits(0.0, i),
        Parameter::new("n_second", f[2] * i, yield_step).with_limits(0.0, i),
        Parameter::new("n_bkg", f[3] * i, yield_step).with_limits(0.0, i),
    ]
}

/// Fits one spectrum (`edges` in ADC, length `counts.len() + 1`) of channel `roid`.
///
/// Never fails on data: an empty spectrum gives a [`ChannelFit`] with status
/// [`status::NO_COUNTS`] and NaN values.
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
        return Ok(ChannelFit::not_fitted(roid, n_events, status::NO_COUNTS));
    };
    let make = |stat| {
        SourceObjective::new(
            e.clone(),
            c.clone(),
            model_range(cfg),
            cfg.bin_evaluation,
            stat,
        )
    };
    let nll = make(Statistic::Nll);
    match cfg.method {
        Method::Nll => fit_with(roid, n_events, integral, &nll, &nll, cfg, c.len()),
        Method::Chi2 => {
            let chi2 = make(Statistic::NeymanChi2);
            let used = chi2.n_used_bins();
            fit_with(roid, n_events, integral, &chi2, &nll, cfg, used)
        }
    }
}

/// The profile of the objective in the peak position: for each `P` in `peaks_adc` (ADC), the
/// minimum of the objective over all other parameters with `P` fixed (spec §13.8: a 1-D profile
/// scan in P). Each point is the lowest of three starts in the Crystal Ball alpha (0.6, 1.2, 2.5),
/// because the tail parameter and the peak position trade off (§9). Returns `(P, minimum)` pairs;
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
    let quick = FitOptions {
        compute_covariance: false,
        ..FitOptions::default()
    };
    let scan = |obj: &dyn Objective| -> Result<Vec<(f64, f64)>> {
        let mut out = Vec::with_capacity(peaks_adc.len());
        for &pk in peaks_adc {
            let mut best = f64::INFINITY;
            for a0 in [0.6f64, 1.2, 2.5] {
                let mut params = parameters(cfg, pk, integral);
                params[idx::PEAK] = Parameter::new("peak", pk, 0.5).fixed();
                params[idx::ALPHA].value = a0.clamp(cfg.alpha.1, cfg.alpha.2);
                let r = minimize(obj, &params, &quick).map_err(Error::Core)?;
                best = best.min(r.min_value);
            }
            out.push((pk, best));
        }
        Ok(out)
    };
    match cfg.method {
        Method::Nll => scan(&SourceObjective::new(
            e,
            c,
            model_range(cfg),
            cfg.bin_evaluation,
            Statistic::Nll,
        )),
        Method::Chi2 => scan(&SourceObjective::new(
            e,
            c,
            model_range(cfg),
            cfg.bin_evaluation,
            Statistic::NeymanChi2,
        )),
    }
}

/// The bins the fit uses (edges, counts) and `I`, the events from the first fitted bin to the end
/// of the histogram (§2 `integral_evts`); `None` if the range holds no counts.
fn prepare(edges: &[f64], counts: &[f64], cfg: &FitConfig) -> Option<(Vec<f64>, Vec<f64>, f64)> {
    let (e, c) = select_bins(edges, counts, cfg.fit_bins_adc.unwrap_or(cfg.range_adc));
    if c.is_empty() || c.iter().sum::<f64>() <= 0.0 {
        return None;
    }
    let integral = integral_from(edges, counts, e[0]);
    Some((e, c, integral))
}

/// The fit range of the model.
fn model_range(cfg: &FitConfig) -> ModelRange {
    ModelRange {
        low: cfg.range_adc.0,
        high: cfg.range_adc.1,
    }
}

fn integral_from(edges: &[f64], counts: &[f64], first: f64) -> f64 {
    counts
        .iter()
        .zip(edges)
        .filter(|&(_, &lo)| lo >= first)
        .map(|(n, _)| n)
        .sum()
}

fn fit_with<O: Objective>(
    roid: u32,
    n_events: f64,
    integral: f64,
    objective: &O,
    nll: &SourceObjective,
    cfg: &FitConfig,
    n_bins_used: usize,
) -> Result<ChannelFit> {
    // Ranking the starts: a coarse simplex brings each start into its basin, and L-BFGS takes it
    // to the bottom of that basin (a coarse simplex alone leaves values several units too high).
    let quick = FitOptions {
        compute_covariance: false,
        method: Algorithm::SimplexThenQuasiNewton,
        simplex_tolerance: Some(0.05),
        max_rounds: 1,
        ..FitOptions::default()
    };
    let mut calls = 0u64;
    // Multi-start without errors; rank the minima.
    let mut minima: Vec<(f64, FitResult)> = Vec::new();
    let alpha_starts: &[f64] = if cfg.alpha_starts.is_empty() {
        &[cfg.alpha.0]
    } else {
        &cfg.alpha_starts
    };
    for (&p0, &a0) in cfg
        .starts_adc
        .iter()
        .flat_map(|p| alpha_starts.iter().map(move |a| (p, a)))
    {
        let mut params = parameters(cfg, p0, integral);
        params[idx::ALPHA].value = a0.clamp(cfg.alpha.1, cfg.alpha.2);
        let r = minimize(objective, &params, &quick).map_err(Error::Core)?;
        calls += r.n_calls;
        if r.min_value.is_finite() {
            minima.push((r.min_value, r));
        }
    }
    let n_starts_ok = minima.len() as u32;
    minima.sort_by(|a, b| a.0.total_cmp(&b.0));
    // The coarse minima only rank the basins: refit the best three that lie in distinct basins
    // (peaks more than 0.5 ADC apart) with errors and keep the lowest valid minimum, so that two
    // minima closer than the coarse tolerance are still told apart.
    let mut candidates: Vec<&FitResult> = Vec::new();
    for (_, m) in &minima {
        if candidates.len() == 3 {
            break;
        }
        if candidates
            .iter()
            .all(|c| (c.values[idx::PEAK] - m.values[idx::PEAK]).abs() > 0.5)
        {
            candidates.push(m);
        }
    }
    let full = FitOptions::default();
    let mut best: Option<(Vec<Parameter>, FitResult)> = None;
    for start in candidates {
        let mut params = parameters(cfg, start.values[idx::PEAK], integral);
        for (p, &v) in params.iter_mut().zip(&start.values) {
            p.value = v.clamp(p.lower.unwrap_or(v), p.upper.unwrap_or(v));
        }
        let r = minimize(objective, &params, &full).map_err(Error::Core)?;
        calls += r.n_calls;
        if best
            .as_ref()
            .is_none_or(|(_, b)| quality_rank(&r) < quality_rank(b))
        {
            best = Some((params, r));
        }
    }
    let Some((mut params, mut r)) = best else {
        return Ok(ChannelFit::not_fitted(
            roid,
            n_events,
            status::NOT_CONVERGED,
        ));
    };
    if !(r.status.converged && r.status.covariance_pos_def) {
        // Last rung: a long simplex-first fit from the best point.
        for (p, &v) in params.iter_mut().zip(&r.values) {
            p.value = v.clamp(p.lower.unwrap_or(v), p.upper.unwrap_or(v));
        }
        let long = FitOptions {
            method: Algorithm::SimplexThenQuasiNewton,
            max_rounds: 8,
            max_iterations: 10_000,
            ..FitOptions::default()
        };
        let r2 = minimize(objective, &params, &long).map_err(Error::Core)?;
        calls += r2.n_calls;
        if quality_rank(&r2) < quality_rank(&r) {
            r = r2;
        }
    }

    let mut st = 0u32;
    if !r.status.converged {
        st |= status::NOT_CONVERGED;
    }
    if !r.status.covariance_pos_def {
        st |= status::COVARIANCE_INVALID;
    }
    if r.status.at_limit[idx::PEAK] {
        st |= status::PEAK_AT_LIMIT;
    }
    if r.status
        .at_limit
        .iter()
        .enumerate()
        .any(|(i, &b)| b && i != idx::PEAK)
    {
        st |= status::AT_LIMIT;
    }
    let (mut err_low, mut err_high) = (f64::NAN, f64::NAN);
    if cfg.peak_interval && r.status.covariance_pos_def {
        // The profile points are warm-started next to each other: the quasi-Newton method alone
        // converges there, without the simplex.
        let inner = FitOptions {
            method: Algorithm::QuasiNewton,
            ..FitOptions::default()
        };
        match profile_interval(objective, &params, &r, idx::PEAK, 1.0, &inner) {
            Ok(iv) => {
                calls += iv.n_calls;
                err_low = iv.error_low();
                err_high = iv.error_high();
                if iv.lower_at_limit || iv.upper_at_limit {
                    st |= status::PROFILE_FAILED;
                }
            }
            Err(_) => st |= status::PROFILE_FAILED,
        }
    }
    let v = &r.values;
    let nll_value = nll.value(v);
    let n_free = N_PARAMS;
    let ndf = n_bins_used.saturating_sub(n_free) as u32;
    let chi2 = match cfg.method {
        Method::Chi2 => r.min_value,
        Method::Nll => 2.0 * nll_value,
    };
    let p_value = chi2_p_value(chi2, u64::from(ndf));
    if !(p_value >= cfg.p_value_min) {
        st |= status::LOW_P_VALUE;
    }
    let in_range: f64 = nll.counts().iter().sum();
    if in_range < cfg.min_events {
        st |= status::FEW_EVENTS;
    }
    let peak = v[idx::PEAK];
    let peak_err = r.errors[idx::PEAK];
    Ok(ChannelFit {
        roid,
        n_events,
        peak,
        peak_err,
        peak_err_low: err_low,
        peak_err_high: err_high,
        width: v[idx::WIDTH],
        width_err: r.errors[idx::WIDTH],
        alpha: v[idx::ALPHA],
        alpha_err: r.errors[idx::ALPHA],
        beta: v[idx::BETA],
        beta_err: r.errors[idx::BETA],
        n_full: v[idx::N_FULL],
        n_full_err: r.errors[idx::N_FULL],
        n_first: v[idx::N_FIRST],
        n_second: v[idx::N_SECOND],
        n_bkg: v[idx::N_BKG],
        chi2,
        nll: nll_value,
        ndf,
        p_value,
        adc2mev: model::E_FULL_MEV / peak,
        adc2mev_err: model::E_FULL_MEV * peak_err / (peak * peak),
        corr_peak_n_full: r.correlation(idx::PEAK, idx::N_FULL).unwrap_or(f64::NAN),
        status: st,
        n_starts_ok,
        n_calls: calls,
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
    fn an_empty_spectrum_is_a_status_not_an_error() {
        let edges: Vec<f64> = (0..=120).map(f64::from).collect();
        let f = fit_spectrum(5, &edges, &[0.0; 120], &FitConfig::default()).unwrap();
        assert_eq!(f.status, status::NO_COUNTS);
        assert!(f.peak.is_nan() && !f.is_ok());
    }
}
