//! The source-spectrum model of SourceFitter (Mu2e CaloCalibration
//! `SourceCalib/src/SourceFitter.cc`; formulas in `docs/calo-calib.md`, "The original fit").
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

/// Energy of the full-energy line, 6.130 MeV (16N -> 16O* 6.129 MeV gamma).
pub const E_FULL_MEV: f64 = 6.13;
/// Electron mass, 0.511 MeV: the escape peaks sit one and two electron masses lower.
pub const ELECTRON_MASS_MEV: f64 = 0.511;
/// Energy of the single-escape peak, 6.130 - 0.511 = 5.619 MeV.
pub const E_FIRST_ESCAPE_MEV: f64 = 5.619;
/// Energy of the double-escape peak, 6.130 - 1.022 = 5.108 MeV.
pub const E_SECOND_ESCAPE_MEV: f64 = 5.108;
/// The Crystal Ball power `n`, fixed at 5 in SourceFitter.
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
    /// `n` when it is a small integer (SourceFitter's 5): the tail then uses `powi`, several
    /// times cheaper than `powf`.
    n_int: Option<i32>,
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
            n_int: (n.fract() == 0.0 && (2.0..=16.0).contains(&n)).then_some(n as i32),
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
        } else if let Some(k) = self.n_int {
            self.a / (self.b - t).powi(k)
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
        } else if let Some(k) = self.n_int {
            self.a / ((self.n - 1.0) * (self.b - t).powi(k - 1))
        } else {
            self.a / (self.n - 1.0) * (self.b - t).powf(1.0 - self.n)
        }
    }
}

impl CrystalBall {
    /// The derivative of [`CrystalBall::primitive`] in `alpha` at fixed `t` and `n`.
    ///
    /// With `A = (n/alpha)^n exp(-alpha^2/2)`, `B = n/alpha - alpha`, `dA/dalpha = -A (n/alpha +
    /// alpha)` and `dB/dalpha = -(n/alpha^2 + 1)`:
    ///
    /// * tail (`t < -alpha`): `A (B - t)^(-n) [(n/alpha^2 + 1) - (n/alpha + alpha) (B - t) / (n - 1)]`;
    /// * core: the Gaussian part does not depend on alpha except through its lower end, so the
    ///   derivative is the constant `exp(-alpha^2/2) [1 - n (1 + 1/alpha^2) / (n - 1)]` (the
    ///   derivative of the tail integral `n exp(-alpha^2/2) / (alpha (n - 1))` plus
    ///   `exp(-alpha^2/2)` from the moving lower end of the error function).
    ///
    /// Both sides agree at `t = -alpha`.
    pub fn primitive_dalpha(&self, t: f64) -> f64 {
        let (n, alpha) = (self.n, self.alpha);
        let k = n / (alpha * alpha) + 1.0;
        if t >= -alpha {
            (-0.5 * alpha * alpha).exp() * (1.0 - n * (1.0 + 1.0 / (alpha * alpha)) / (n - 1.0))
        } else {
            let u = self.b - t;
            let core = match self.n_int {
                Some(m) => self.a / u.powi(m),
                None => self.a * u.powf(-n),
            };
            core * (k - (n / alpha + alpha) * u / (n - 1.0))
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

/// The composite peak (ADC): the position of the maximum of the total model density (all four
/// components with their yields) on `range`, the "visible" peak of the blended spectrum
/// (SourceFitter's `CompositePeak`). Found on a 0.05 ADC grid and refined by golden
/// section to 1e-6 ADC. NaN if a parameter is not finite.
pub fn composite_peak_adc(p: &[f64], range: ModelRange) -> f64 {
    if p.iter().take(N_PARAMS).any(|v| !v.is_finite()) {
        return f64::NAN;
    }
    let total = |x: f64| -> f64 {
        (0..4)
            .map(|c| p[idx::N_FULL + c] * component_density(p, range, c, x))
            .sum()
    };
    let step = 0.05;
    let n = ((range.high - range.low) / step).floor() as usize;
    let (mut best_x, mut best_v) = (range.low, f64::NEG_INFINITY);
    for i in 0..=n {
        let x = range.low + step * i as f64;
        let v = total(x);
        if v > best_v {
            (best_x, best_v) = (x, v);
        }
    }
    // Golden-section search on the bracket around the grid maximum.
    let (mut a, mut b) = (
        (best_x - step).max(range.low),
        (best_x + step).min(range.high),
    );
    let r = 0.5 * (5f64.sqrt() - 1.0);
    let (mut c, mut d) = (b - r * (b - a), a + r * (b - a));
    let (mut fc, mut fd) = (total(c), total(d));
    while b - a > 1e-6 {
        if fc > fd {
            (b, d, fd) = (d, c, fc);
            c = b - r * (b - a);
            fc = total(c);
        } else {
            (a, c, fc) = (c, d, fd);
            d = a + r * (b - a);
            fd = total(d);
        }
    }
    0.5 * (a + b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alpha_derivative_of_the_primitive_matches_differences() {
        for t in [-9.0, -3.0, -1.3, -1.1, 0.0, 2.5] {
            let a = 1.2;
            let h = 1e-6;
            let num = (CrystalBall::new(a + h, 5.0).primitive(t)
                - CrystalBall::new(a - h, 5.0).primitive(t))
                / (2.0 * h);
            let ana = CrystalBall::new(a, 5.0).primitive_dalpha(t);
            assert!(
                (num - ana).abs() < 1e-7 * num.abs().max(1e-3),
                "t {t}: {ana} vs {num}"
            );
            // Non-integer power: the powf path.
            let num = (CrystalBall::new(a + h, 4.5).primitive(t)
                - CrystalBall::new(a - h, 4.5).primitive(t))
                / (2.0 * h);
            let ana = CrystalBall::new(a, 4.5).primitive_dalpha(t);
            assert!(
                (num - ana).abs() < 1e-7 * num.abs().max(1e-3),
                "n 4.5 t {t}: {ana} vs {num}"
            );
        }
    }

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
    fn the_composite_peak_is_at_p_for_a_lone_line_and_below_it_with_a_tail() {
        let range = ModelRange {
            low: 40.0,
            high: 115.2,
        };
        // Only the full-energy line: its maximum is at P exactly.
        let p = [100.0, 0.45, 3.0, -0.04, 5000.0, 0.0, 0.0, 0.0];
        assert!((composite_peak_adc(&p, range) - 100.0).abs() < 1e-5);
        // The single escape 8.3 ADC below P, as strong as 5/7 of the full line and as wide (7.3
        // ADC), pulls the blended maximum between the two lines.
        let q = composite_peak_adc(&truth(), range);
        let first = 100.0 * E_FIRST_ESCAPE_MEV / E_FULL_MEV;
        assert!(q < 100.0 && q > first, "{q}");
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
