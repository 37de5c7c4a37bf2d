//! The source-spectrum model of SourceFitter (spec `calo-calib.md` §3.1).
//!
//! The observable is the SiPM amplitude `x` in ADC counts. The calibrated energy is
//! `E(x) = m x` with `m = 6.13 MeV / P` (MeV/ADC), `P` being the full-energy peak position in ADC.
//! The spectrum is an extended sum of four components, each normalised over the fit range in `x`:
//!
//! * three Crystal Balls in *energy*, at 6.130 (full), 5.619 (single escape) and 5.108 MeV
//!   (double escape), sharing one width `sigma` (MeV), one tail parameter `alpha` and the power
//!   `n = 5` (fixed);
//! * an exponential `exp(beta x)` in ADC (beta in 1/ADC, negative).
//!
//! The Crystal Ball (Gaiser 1982; RooFit `RooCBShape`) in `t = (E - mu) / sigma` is
//! `exp(-t^2/2)` for `t >= -alpha` and `A (B - t)^(-n)` below, with
//! `A = (n/alpha)^n exp(-alpha^2/2)` and `B = n/alpha - alpha`: the tail is on the low-energy side.
//!
//! Expected counts per bin are the exact integrals of the normalised components over the bin
//! ([`BinEvaluation::Integrate`], the default) or, as RooFit does by default, the density at the
//! bin centre times the bin width ([`BinEvaluation::Centre`], for `--compat`).

use serde::{Deserialize, Serialize};

/// Energy of the full-energy line, 6.130 MeV (16N -> 16O* 6.129 MeV gamma; spec §1).
pub const E_FULL_MEV: f64 = 6.13;
/// Electron mass, 0.511 MeV: the escape peaks sit one and two electron masses lower.
pub const ELECTRON_MASS_MEV: f64 = 0.511;
/// Energy of the single-escape peak, 6.130 - 0.511 = 5.619 MeV.
pub const E_FIRST_ESCAPE_MEV: f64 = 5.619;
/// Energy of the double-escape peak, 6.130 - 1.022 = 5.108 MeV.
pub const E_SECOND_ESCAPE_MEV: f64 = 5.108;
/// The Crystal Ball power `n`, fixed at 5 in SourceFitter (spec §3.2).
pub const CB_N: f64 = 5.0;

/// The line energies of the three Crystal Balls, full first (MeV).
pub const LINE_ENERGIES_MEV: [f64; 3] = [E_FULL_MEV, E_FIRST_ESCAPE_MEV, E_SECOND_ESCAPE_MEV];

/// Number of free parameters of the model.
pub const N_PARAMS: usize = 8;

/// Index of each parameter in the parameter vector.
pub mod idx {
    /// Full-energy peak position `P` (ADC).
    pub const PEAK: usize = 0;
    /// Common Crystal Ball width `sigma` (MeV).
    pub const WIDTH: usize = 1;
    /// Crystal Ball tail start `alpha` (in units of sigma).
    pub const ALPHA: usize = 2;
    /// Exponential slope `beta` (1/ADC).
    pub const BETA: usize = 3;
    /// Full-energy yield (events in the fit range).
    pub const N_FULL: usize = 4;
    /// Single-escape yield.
    pub const N_FIRST: usize = 5;
    /// Double-escape yield.
    pub const N_SECOND: usize = 6;
    /// Background yield.
    pub const N_BKG: usize = 7;
}

/// Parameter names in vector order (the SourceFitter names are in the docs of [`idx`]).
pub const PARAM_NAMES: [&str; N_PARAMS] = [
    "peak", "width", "alpha", "beta", "n_full", "n_first", "n_second", "n_bkg",
];

/// How expected bin counts are computed from the densities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BinEvaluation {
    /// Exact integral of each normalised component over the bin (CDF differences).
    #[default]
    Integrate,
    /// Density at the bin centre times the bin width (RooFit's default; the original's numbers).
    Centre,
}

/// The Crystal Ball shape with tail parameter `alpha > 0` and power `n > 1`, in the reduced
/// variable `t = (E - mu) / sigma`; unnormalised (its Gaussian core peaks at 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CrystalBall {
    alpha: f64,
    n: f64,
    a: f64,
    b: f64,
    tail_integral: f64,
    erf_at_alpha: f64,
}

const SQRT_HALF_PI: f64 = 1.253_314_137_315_500_3;

impl CrystalBall {
    /// The shape for `alpha > 0` (tail on the low side) and `n > 1`.
    pub fn new(alpha: f64, n: f64) -> Self {
        let alpha = alpha.abs();
        let a = (n / alpha).powf(n) * (-0.5 * alpha * alpha).exp();
        let b = n / alpha - alpha;
        // Integral of the tail from -infinity to -alpha: A/(n-1) (B + alpha)^(1-n).
        let tail_integral = a / (n - 1.0) * (n / alpha).powf(1.0 - n);
        Self {
            alpha,
            n,
            a,
            b,
            tail_integral,
            erf_at_alpha: libm::erf(-alpha * std::f64::consts::FRAC_1_SQRT_2),
        }
    }

    /// The tail constants `(A, B)`: below `t = -alpha` the shape is `A (B - t)^(-n)`, with
    /// `A = (n/alpha)^n exp(-alpha^2/2)` and `B = n/alpha - alpha`.
    pub fn tail_constants(&self) -> (f64, f64) {
        (self.a, self.b)
    }

    /// The shape at `t`.
    pub fn value(&self, t: f64) -> f64 {
        if t >= -self.alpha {
            (-0.5 * t * t).exp()
        } else {
            self.a * (self.b - t).powf(-self.n)
        }
    }

    /// The integral of the shape from `-infinity` to `t`.
    pub fn primitive(&self, t: f64) -> f64 {
        if t >= -self.alpha {
            self.tail_integral
                + SQRT_HALF_PI
                    * (libm::erf(t * std::f64::consts::FRAC_1_SQRT_2) - self.erf_at_alpha)
        } else {
            self.a / (self.n - 1.0) * (self.b - t).powf(1.0 - self.n)
        }
    }
}

/// The fit range and binning-independent settings of the model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ModelRange {
    /// Lower end of the fit range (ADC).
    pub low: f64,
    /// Upper end of the fit range (ADC); components are normalised over `[low, high]`.
    pub high: f64,
}

/// Fills `out` (length `edges.len() - 1`) with the expected counts of the model with parameters
/// `p` (see [`idx`]) in the bins with `edges` (ADC), each component normalised over `range`.
///
/// With [`BinEvaluation::Centre`], `out[i] = width_i * sum_k N_k f_k(centre_i)`.
pub fn expected_counts(
    p: &[f64],
    range: ModelRange,
    eval: BinEvaluation,
    edges: &[f64],
    out: &mut [f64],
) {
    let peak = p[idx::PEAK];
    let sigma = p[idx::WIDTH];
    let beta = p[idx::BETA];
    let m = E_FULL_MEV / peak; // MeV per ADC
    let cb = CrystalBall::new(p[idx::ALPHA], CB_N);
    let yields = [p[idx::N_FULL], p[idx::N_FIRST], p[idx::N_SECOND]];
    // Reduced variable of line k at x: t = (m x - E_k) / sigma.
    let t = |x: f64, e: f64| (m * x - e) / sigma;
    let mut norm = [0.0; 3];
    for (k, &e) in LINE_ENERGIES_MEV.iter().enumerate() {
        norm[k] = cb.primitive(t(range.high, e)) - cb.primitive(t(range.low, e));
    }
    // Exponential primitive relative to range.low keeps exp() of order one.
    let exp_prim = |x: f64| {
        if beta.abs() < 1e-12 {
            x - range.low
        } else {
            (beta * (x - range.low)).exp_m1() / beta
        }
    };
    let bkg_norm = exp_prim(range.high);
    match eval {
        BinEvaluation::Integrate => {
            let mut prev = [0.0; 3];
            for (k, &e) in LINE_ENERGIES_MEV.iter().enumerate() {
                prev[k] = cb.primitive(t(edges[0], e));
            }
            let mut prev_b = exp_prim(edges[0]);
            for (o, &x) in out.iter_mut().zip(&edges[1..]) {
                let mut v = 0.0;
                for (k, &e) in LINE_ENERGIES_MEV.iter().enumerate() {
                    let c = cb.primitive(t(x, e));
                    v += yields[k] * (c - prev[k]) / norm[k];
                    prev[k] = c;
                }
                let cb_ = exp_prim(x);
                v += p[idx::N_BKG] * (cb_ - prev_b) / bkg_norm;
                prev_b = cb_;
                *o = v;
            }
        }
        BinEvaluation::Centre => {
            // Densities in x: f_k(x) = m/sigma * CB(t) / norm_k (norm_k is in units of t).
            for (i, o) in out.iter_mut().enumerate() {
                let (x0, x1) = (edges[i], edges[i + 1]);
                let xc = 0.5 * (x0 + x1);
                let mut v = 0.0;
                for (k, &e) in LINE_ENERGIES_MEV.iter().enumerate() {
                    v += yields[k] * (m / sigma) * cb.value(t(xc, e)) / norm[k];
                }
                v += p[idx::N_BKG] * (beta * (xc - range.low)).exp() / bkg_norm;
                *o = v * (x1 - x0);
            }
        }
    }
}

/// The density of one component in `x` (per ADC, normalised over `range`), for plotting:
/// `component` 0..=2 are the full, single- and double-escape lines, 3 the background. Multiply by
/// the yield and the bin width to draw counts per bin.
pub fn component_density(p: &[f64], range: ModelRange, component: usize, x: f64) -> f64 {
    let peak = p[idx::PEAK];
    let sigma = p[idx::WIDTH];
    let m = E_FULL_MEV / peak;
    if component < 3 {
        let cb = CrystalBall::new(p[idx::ALPHA], CB_N);
        let e = LINE_ENERGIES_MEV[component];
        let t = |x: f64| (m * x - e) / sigma;
        let norm = cb.primitive(t(range.high)) - cb.primitive(t(range.low));
        m / sigma * cb.value(t(x)) / norm
    } else {
        let beta = p[idx::BETA];
        let norm = if beta.abs() < 1e-12 {
            range.high - range.low
        } else {
            (beta * (range.high - range.low)).exp_m1() / beta
        };
        (beta * (x - range.low)).exp() / norm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crystal_ball_is_continuous_and_its_primitive_integrates_it() {
        let cb = CrystalBall::new(1.2, 5.0);
        // Continuity of value and primitive at t = -alpha.
        let (l, r) = (cb.value(-1.2 - 1e-12), cb.value(-1.2 + 1e-12));
        assert!((l - r).abs() < 1e-9);
        let (l, r) = (cb.primitive(-1.2 - 1e-12), cb.primitive(-1.2 + 1e-12));
        assert!((l - r).abs() < 1e-9);
        // Numerical integral (Simpson, fine grid) against the primitive.
        let (a, b, n) = (-30.0, 4.0, 200_000);
        let h = (b - a) / n as f64;
        let mut s = cb.value(a) + cb.value(b);
        for i in 1..n {
            let w = if i % 2 == 1 { 4.0 } else { 2.0 };
            s += w * cb.value(a + i as f64 * h);
        }
        let simpson = s * h / 3.0;
        let exact = cb.primitive(b) - cb.primitive(a);
        assert!((simpson / exact - 1.0).abs() < 1e-9, "{simpson} vs {exact}");
    }

    fn truth() -> [f64; 8] {
        [100.0, 0.45, 1.2, -0.04, 3500.0, 2500.0, 1500.0, 2500.0]
    }

    #[test]
    fn yields_count_events_in_the_range() {
        let range = ModelRange {
            low: 40.0,
            high: 115.2,
        };
        // 752 bins of 0.1 ADC exactly covering the range.
        let edges: Vec<f64> = (0..=752).map(|i| 40.0 + 0.1 * i as f64).collect();
        let mut out = vec![0.0; 752];
        expected_counts(&truth(), range, BinEvaluation::Integrate, &edges, &mut out);
        let total: f64 = out.iter().sum();
        assert!((total - 10_000.0).abs() < 1e-6, "{total}");
        // Centre evaluation on fine bins agrees with integration to O(width^2).
        let mut c = vec![0.0; 752];
        expected_counts(&truth(), range, BinEvaluation::Centre, &edges, &mut c);
        let tc: f64 = c.iter().sum();
        assert!((tc / total - 1.0).abs() < 1e-4, "{tc}");
    }

    #[test]
    fn the_full_peak_sits_at_p_and_escapes_scale_with_it() {
        let p = truth();
        let range = ModelRange {
            low: 40.0,
            high: 115.2,
        };
        let f = |x: f64| component_density(&p, range, 0, x);
        // Maximum of the full-energy component at x = P.
        assert!(f(100.0) > f(99.9) && f(100.0) > f(100.1));
        let g = |x: f64| component_density(&p, range, 1, x);
        let x1 = 100.0 * E_FIRST_ESCAPE_MEV / E_FULL_MEV;
        assert!(g(x1) > g(x1 - 0.1) && g(x1) > g(x1 + 0.1));
        // Width in ADC is sigma * P / 6.13: at one sigma the Gaussian core is exp(-1/2).
        let s_adc = 0.45 * 100.0 / E_FULL_MEV;
        assert!((f(100.0 + s_adc) / f(100.0) - (-0.5f64).exp()).abs() < 1e-12);
    }
}
