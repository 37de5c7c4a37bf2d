//! The source-fit objective with the four yields profiled out (variable projection).
//!
//! The expected counts are linear in the yields: `nu_i(theta, N) = sum_k N_k T_ik(theta)` with
//! the normalised templates `T_i0..T_i2` of the three Crystal Ball lines and `T_i3` of the
//! exponential background, and `theta = (P, sigma, alpha, beta)` the shape parameters. Both
//! statistics are convex in `nu`, hence in `N`, so for fixed `theta` the best yields are the
//! unique minimum of a smooth convex function over the box of their limits. This objective
//! returns that minimum,
//!
//! `f(theta) = min_{N in box} S(nu(theta, N))`,
//!
//! found by a projected Newton method (Bertsekas, SIAM J. Control Optim. 20 (1982) 221) on the
//! 4 x 4 problem, warm-started from the previous solution. The outer minimiser then works in four
//! dimensions instead of eight, and each evaluation costs one template computation plus a few
//! 4 x 4 Newton steps. The minimum over `theta` of `f` is the minimum of the full problem, and at
//! the minimum the inverse Hessian of `f` is the `theta` block of the full inverse Hessian (the
//! Schur complement; Golub and Pereyra, SIAM J. Numer. Anal. 10 (1973) 413 for least squares).
//!
//! By the envelope theorem the gradient of `f` is the partial gradient of `S` at the optimal
//! yields, analytic in all four shape parameters (the template derivatives below, with
//! [`CrystalBall::primitive_dalpha`] for alpha). Template derivatives of the Crystal Ball lines, with
//! `T_ik = (G(t_k(x_{i+1})) - G(t_k(x_i))) / D_k`, `t_k(x) = (6.13 x / P - E_k) / sigma`, the
//! primitive `G` with `G' = CB`, and `D_k = G(t_k(high)) - G(t_k(low))`: `dt/dP = -(sigma t +
//! E_k) / (sigma P)`, `dt/dsigma = -t / sigma`, so each derivative is the difference of `CB(t)
//! dt` over the bin minus `T_ik` times the same difference over the range, divided by `D_k`.

use crate::model::{BinEvaluation, CB_N, CrystalBall, E_FULL_MEV, LINE_ENERGIES_MEV, ModelRange};
use crate::objective::Statistic;
use hep_core::fit::Objective;
use hep_core::fit::cost::{
    neyman_chi2_term, neyman_chi2_term_d2nu, neyman_chi2_term_dnu, poisson_nll_term,
    poisson_nll_term_d2nu, poisson_nll_term_dnu,
};
use nalgebra::{Matrix4, Vector4};
use std::cell::RefCell;

/// Number of shape parameters `theta`.
pub(crate) const N_SHAPE: usize = 4;

/// Number of profiled yields.
pub(crate) const N_YIELDS: usize = 4;

/// Indices in `theta`.
pub(crate) mod th {
    pub(crate) const PEAK: usize = 0;
    pub(crate) const WIDTH: usize = 1;
    pub(crate) const ALPHA: usize = 2;
    pub(crate) const BETA: usize = 3;
}

/// Limits and start of the four yields (events in the fit range): full, single escape, double
/// escape, background.
#[derive(Debug, Clone, Copy)]
pub(crate) struct YieldBox {
    /// Lower limits.
    pub(crate) lower: [f64; N_YIELDS],
    /// Upper limits.
    pub(crate) upper: [f64; N_YIELDS],
    /// Start of the first solve.
    pub(crate) start: [f64; N_YIELDS],
}

/// The objective of the shape parameters with the yields profiled (see the module docs).
pub(crate) struct ProfiledObjective {
    edges: Vec<f64>,
    counts: Vec<f64>,
    range: ModelRange,
    eval: BinEvaluation,
    stat: Statistic,
    lower: [f64; N_YIELDS],
    upper: [f64; N_YIELDS],
    scratch: RefCell<Scratch>,
}

struct Scratch {
    /// Templates per bin: three lines and the background.
    tmpl: Vec<[f64; 4]>,
    /// `d T / d P` of the three lines per bin.
    d_peak: Vec<[f64; 3]>,
    /// `d T / d sigma` of the three lines per bin.
    d_width: Vec<[f64; 3]>,
    /// `d T / d alpha` of the three lines per bin.
    d_alpha: Vec<[f64; 3]>,
    /// `d T / d beta` of the background per bin.
    d_beta: Vec<f64>,
    nu: Vec<f64>,
    /// Expected counts of a trial step.
    trial: Vec<f64>,
    /// The yields of the last solution (warm start of the next).
    yields: [f64; N_YIELDS],
}

/// Per-bin value of the statistic (hep-core's terms).
#[inline]
fn term(stat: Statistic, n: f64, nu: f64) -> f64 {
    match stat {
        Statistic::Nll => poisson_nll_term(n, nu),
        Statistic::NeymanChi2 => neyman_chi2_term(n, nu),
    }
}

/// Per-bin first and second derivatives in `nu` of the statistic (no logarithm needed).
#[inline]
fn term_derivatives(stat: Statistic, n: f64, nu: f64) -> (f64, f64) {
    match stat {
        Statistic::Nll => (poisson_nll_term_dnu(n, nu), poisson_nll_term_d2nu(n, nu)),
        Statistic::NeymanChi2 => (neyman_chi2_term_dnu(n, nu), neyman_chi2_term_d2nu(n, nu)),
    }
}

impl ProfiledObjective {
    /// An objective over the bins `edges` (ADC) with `counts`, components normalised over
    /// `range`; yields live in `[lower, upper]` and the first solve starts at `start`.
    pub(crate) fn new(
        edges: Vec<f64>,
        counts: Vec<f64>,
        range: ModelRange,
        eval: BinEvaluation,
        stat: Statistic,
        yields: YieldBox,
    ) -> Self {
        let n = counts.len();
        let YieldBox {
            lower,
            upper,
            start,
        } = yields;
        Self {
            edges,
            counts,
            range,
            eval,
            stat,
            lower,
            upper,
            scratch: RefCell::new(Scratch {
                tmpl: vec![[0.0; 4]; n],
                d_peak: vec![[0.0; 3]; n],
                d_width: vec![[0.0; 3]; n],
                d_alpha: vec![[0.0; 3]; n],
                d_beta: vec![0.0; n],
                nu: vec![0.0; n],
                trial: vec![0.0; n],
                yields: clamp4(start, &lower, &upper),
            }),
        }
    }

    /// Restarts the warm start of the yields from `start` (clamped to the limits).
    pub(crate) fn reset_yields(&self, start: [f64; N_YIELDS]) {
        self.scratch.borrow_mut().yields = clamp4(start, &self.lower, &self.upper);
    }

    /// The yield limits.
    pub(crate) fn yield_limits(&self) -> ([f64; N_YIELDS], [f64; N_YIELDS]) {
        (self.lower, self.upper)
    }

    /// The profiled yields at `theta` and the inverse of the yields' Hessian of `S` there, in
    /// units of the error definition (so it is the yields' covariance at fixed `theta`); yields
    /// at a limit have zero rows and columns. `None` where the model is undefined.
    pub(crate) fn yields_at(&self, theta: &[f64]) -> Option<([f64; N_YIELDS], Matrix4<f64>)> {
        let mut s = self.scratch.borrow_mut();
        let (_, y) = self.solve_at(theta, &mut s, false)?;
        s.yields = y;
        let (g, h) = self.grad_hess(&s.tmpl, &s.nu);
        let free = self.free_set(&y, &g);
        let hf = restrict(&h, &free);
        let inv = hf.cholesky()?.inverse();
        let mut cov = inv * (2.0 * self.error_def());
        for (k, _) in free.iter().enumerate().filter(|(_, f)| !**f) {
            cov.row_mut(k).fill(0.0);
            cov.column_mut(k).fill(0.0);
        }
        Some((y, cov))
    }

    /// Fills the templates (and, with `derivatives`, their derivatives in the four shape
    /// parameters) at `theta`: analytic with [`BinEvaluation::Integrate`], central differences
    /// of the templates with [`BinEvaluation::Centre`] (see [`Self::centre_derivatives`]).
    /// Returns false where the model is undefined (a normalisation not positive and finite).
    fn fill_templates(&self, theta: &[f64], s: &mut Scratch, derivatives: bool) -> bool {
        if derivatives && self.eval == BinEvaluation::Centre {
            return self.fill_templates(theta, s, false) && self.centre_derivatives(theta, s);
        }
        let peak = theta[th::PEAK];
        let sigma = theta[th::WIDTH];
        let beta = theta[th::BETA];
        if !(peak > 0.0 && sigma > 0.0) {
            return false;
        }
        let m = E_FULL_MEV / peak;
        let cb = CrystalBall::new(theta[th::ALPHA], CB_N);
        let (lo, hi) = (self.range.low, self.range.high);
        let edges = &self.edges;
        for (k, &e) in LINE_ENERGIES_MEV.iter().enumerate() {
            let t = |x: f64| (m * x - e) / sigma;
            let (t_lo, t_hi) = (t(lo), t(hi));
            let d = cb.primitive(t_hi) - cb.primitive(t_lo);
            if !(d > 0.0 && d.is_finite()) {
                return false;
            }
            match self.eval {
                BinEvaluation::Integrate => {
                    if derivatives {
                        // Per edge: G(t), CB(t) dt/dP, CB(t) dt/dsigma and dG/dalpha.
                        let at = |t: f64| {
                            let v = cb.value(t);
                            [
                                cb.primitive(t),
                                v * (-(sigma * t + e) / (sigma * peak)),
                                v * (-t / sigma),
                                cb.primitive_dalpha(t),
                            ]
                        };
                        let (lo4, hi4) = (at(t_lo), at(t_hi));
                        let dd = [hi4[1] - lo4[1], hi4[2] - lo4[2], hi4[3] - lo4[3]];
                        let mut q0 = at(t(edges[0]));
                        for (i, &x) in edges[1..].iter().enumerate() {
                            let q1 = at(t(x));
                            let f = (q1[0] - q0[0]) / d;
                            s.tmpl[i][k] = f;
                            s.d_peak[i][k] = ((q1[1] - q0[1]) - f * dd[0]) / d;
                            s.d_width[i][k] = ((q1[2] - q0[2]) - f * dd[1]) / d;
                            s.d_alpha[i][k] = ((q1[3] - q0[3]) - f * dd[2]) / d;
                            q0 = q1;
                        }
                    } else {
                        let mut g0 = cb.primitive(t(edges[0]));
                        for (i, &x) in edges[1..].iter().enumerate() {
                            let g1 = cb.primitive(t(x));
                            s.tmpl[i][k] = (g1 - g0) / d;
                            g0 = g1;
                        }
                    }
                }
                BinEvaluation::Centre => {
                    for (i, w) in edges.windows(2).enumerate() {
                        let xc = 0.5 * (w[0] + w[1]);
                        s.tmpl[i][k] = (m / sigma) * cb.value(t(xc)) / d * (w[1] - w[0]);
                    }
                }
            }
        }
        // Background exp(beta (x - low)), normalised over the range. With u = x - low,
        // prim(u) = expm1(beta u) / beta and d prim / d beta = (u e^{beta u} - prim(u)) / beta.
        let small = beta.abs() < 1e-12;
        let prim = |u: f64| {
            if small { u } else { (beta * u).exp_m1() / beta }
        };
        let dprim = |u: f64| {
            if small {
                0.5 * u * u
            } else {
                (u * (beta * u).exp() - prim(u)) / beta
            }
        };
        let norm = prim(hi - lo);
        if !(norm > 0.0 && norm.is_finite()) {
            return false;
        }
        match self.eval {
            BinEvaluation::Integrate => {
                let dnorm = dprim(hi - lo);
                let mut c0 = prim(edges[0] - lo);
                let mut q0 = if derivatives {
                    dprim(edges[0] - lo)
                } else {
                    0.0
                };
                for (i, &x) in edges[1..].iter().enumerate() {
                    let c1 = prim(x - lo);
                    let b = (c1 - c0) / norm;
                    s.tmpl[i][3] = b;
                    if derivatives {
                        let q1 = dprim(x - lo);
                        s.d_beta[i] = ((q1 - q0) - b * dnorm) / norm;
                        q0 = q1;
                    }
                    c0 = c1;
                }
            }
            BinEvaluation::Centre => {
                for (i, w) in edges.windows(2).enumerate() {
                    let xc = 0.5 * (w[0] + w[1]);
                    s.tmpl[i][3] = (beta * (xc - lo)).exp() / norm * (w[1] - w[0]);
                }
            }
        }
        true
    }

    /// The derivatives of the bin-centre templates (`--compat`), which have no closed form here:
    /// central differences with a step of 1e-6 of each parameter's size (at least 1e-8), so that
    /// the Levenberg-Marquardt descents and the profile points see the same gradient as with
    /// integrated bins. `s.tmpl` must hold the templates at `theta` and is left as it was.
    /// Returns false if the model is undefined at a shifted point.
    fn centre_derivatives(&self, theta: &[f64], s: &mut Scratch) -> bool {
        let at_theta = s.tmpl.clone();
        for idx in [th::PEAK, th::WIDTH, th::ALPHA, th::BETA] {
            let h = 1e-6 * theta[idx].abs().max(1e-2);
            let mut shifted = theta.to_vec();
            shifted[idx] = theta[idx] + h;
            if !self.fill_templates(&shifted, s, false) {
                return false;
            }
            let plus = s.tmpl.clone();
            shifted[idx] = theta[idx] - h;
            if !self.fill_templates(&shifted, s, false) {
                return false;
            }
            for (i, (p, m)) in plus.iter().zip(&s.tmpl).enumerate() {
                let d = |k: usize| (p[k] - m[k]) / (2.0 * h);
                match idx {
                    th::PEAK => s.d_peak[i] = [d(0), d(1), d(2)],
                    th::WIDTH => s.d_width[i] = [d(0), d(1), d(2)],
                    th::ALPHA => s.d_alpha[i] = [d(0), d(1), d(2)],
                    _ => s.d_beta[i] = d(3),
                }
            }
        }
        s.tmpl = at_theta;
        true
    }

    /// Fills `nu` from the templates and yields; false if the statistic is undefined there
    /// (the likelihood needs `nu > 0` in bins with counts and `nu >= 0` elsewhere).
    fn fill_nu(&self, tmpl: &[[f64; 4]], y: &[f64; N_YIELDS], nu: &mut [f64]) -> bool {
        let mut ok = true;
        for ((v, t), &n) in nu.iter_mut().zip(tmpl).zip(&self.counts) {
            *v = t[0] * y[0] + t[1] * y[1] + t[2] * y[2] + t[3] * y[3];
            if self.stat == Statistic::Nll {
                ok &= if n > 0.0 { *v > 0.0 } else { *v >= 0.0 };
            }
        }
        ok
    }

    /// The statistic of the expected counts `nu`.
    fn value_of(&self, nu: &[f64]) -> f64 {
        let mut sum = 0.0;
        for (&v, &n) in nu.iter().zip(&self.counts) {
            sum += term(self.stat, n, v);
        }
        sum
    }

    /// Fills `nu` from the templates and yields and returns the statistic.
    fn value_at(&self, tmpl: &[[f64; 4]], y: &[f64; N_YIELDS], nu: &mut [f64]) -> f64 {
        if self.fill_nu(tmpl, y, nu) {
            self.value_of(nu)
        } else {
            f64::INFINITY
        }
    }

    /// Gradient and Hessian of the statistic in the yields, from the current `nu`.
    fn grad_hess(&self, tmpl: &[[f64; 4]], nu: &[f64]) -> (Vector4<f64>, Matrix4<f64>) {
        let mut g = Vector4::zeros();
        let mut h = Matrix4::zeros();
        for ((t, &v), &n) in tmpl.iter().zip(nu).zip(&self.counts) {
            let (w1, w2) = term_derivatives(self.stat, n, v);
            for k in 0..4 {
                g[k] += w1 * t[k];
                if w2 != 0.0 {
                    let a = w2 * t[k];
                    for l in 0..=k {
                        h[(k, l)] += a * t[l];
                    }
                }
            }
        }
        for k in 0..4 {
            for l in 0..k {
                h[(l, k)] = h[(k, l)];
            }
        }
        (g, h)
    }

    /// Yields free to move: not at a limit with the gradient pushing outwards.
    fn free_set(&self, y: &[f64; N_YIELDS], g: &Vector4<f64>) -> [bool; N_YIELDS] {
        let mut free = [true; N_YIELDS];
        for k in 0..N_YIELDS {
            let at_lo = y[k] <= self.lower[k] && g[k] > 0.0;
            let at_hi = y[k] >= self.upper[k] && g[k] < 0.0;
            free[k] = !(at_lo || at_hi);
        }
        free
    }

    /// Projected Newton on the yields from `y`; returns the minimum and leaves `nu` at `y`.
    ///
    /// Both statistics are self-concordant in the yields (`-n ln nu` is, with constant
    /// `1 / sqrt(n) <= 1`; a quadratic trivially), so once the Newton decrement `lambda^2` is
    /// below 0.1 a full step is guaranteed to decrease the function and stay in its domain
    /// (Nesterov and Nemirovskii 1994; Boyd and Vandenberghe, Convex Optimization, 9.6): those
    /// steps are taken without evaluating the function, and the logarithms are computed once, for
    /// the returned minimum. Farther away a backtracking line search along the projected path
    /// guards the step.
    fn solve(
        &self,
        tmpl: &[[f64; 4]],
        nu: &mut [f64],
        trial: &mut [f64],
        y: &mut [f64; N_YIELDS],
    ) -> f64 {
        if !self.fill_nu(tmpl, y, nu) {
            // The warm start is outside the model's domain here: restart from the mean yield.
            let total: f64 = self.counts.iter().sum::<f64>().max(1.0);
            *y = clamp4([0.25 * total; 4], &self.lower, &self.upper);
            if !self.fill_nu(tmpl, y, nu) {
                return f64::INFINITY;
            }
        }
        // The value at `y`, when it has been computed.
        let mut f_here: Option<f64> = None;
        for _ in 0..60 {
            let (g, h) = self.grad_hess(tmpl, nu);
            let free = self.free_set(y, &g);
            let mut gf = g;
            for (gk, _) in gf.iter_mut().zip(&free).filter(|(_, f)| !**f) {
                *gk = 0.0;
            }
            let hf = restrict(&h, &free);
            let d = match hf.cholesky() {
                Some(c) => -c.solve(&gf),
                // Degenerate templates: a scaled gradient step.
                None => Vector4::from_fn(|k, _| -gf[k] / hf[(k, k)].max(1e-300)),
            };
            let decrement = -gf.dot(&d);
            if !(decrement > 1e-12) {
                break;
            }
            let project = |step: f64| {
                let mut cand = *y;
                for k in 0..N_YIELDS {
                    cand[k] = (y[k] + step * d[k]).clamp(self.lower[k], self.upper[k]);
                }
                cand
            };
            if decrement < 0.1 {
                let cand = project(1.0);
                if self.fill_nu(tmpl, &cand, trial) {
                    *y = cand;
                    nu.copy_from_slice(trial);
                    f_here = None;
                    // Quadratic convergence: the next decrement would be below 1e-15.
                    if decrement < 1e-8 {
                        break;
                    }
                    continue;
                }
            }
            // Backtracking on the projected path (Armijo with the projected step).
            let f0 = *f_here.get_or_insert_with(|| self.value_of(nu));
            let mut step = 1.0;
            let mut accepted = false;
            for _ in 0..40 {
                let cand = project(step);
                let fc = self.value_at(tmpl, &cand, trial);
                let predicted: f64 = (0..N_YIELDS).map(|k| g[k] * (cand[k] - y[k])).sum();
                if fc <= f0 + 1e-4 * predicted {
                    *y = cand;
                    nu.copy_from_slice(trial);
                    f_here = Some(fc);
                    accepted = true;
                    break;
                }
                step *= 0.5;
            }
            if !accepted {
                break;
            }
        }
        f_here.unwrap_or_else(|| self.value_of(nu))
    }

    /// Fills the templates at `theta` (with their derivatives if asked) and solves for the
    /// yields from the warm start, without moving it: the minimum and the yields there, with
    /// `nu` left at them. `None` where the model is undefined.
    fn solve_at(
        &self,
        theta: &[f64],
        s: &mut Scratch,
        derivatives: bool,
    ) -> Option<(f64, [f64; N_YIELDS])> {
        if !self.fill_templates(theta, s, derivatives) {
            return None;
        }
        let mut y = s.yields;
        let Scratch {
            tmpl, nu, trial, ..
        } = s;
        let f = self.solve(tmpl, nu, trial, &mut y);
        f.is_finite().then_some((f, y))
    }

    /// The profiled value at `theta`, optionally with the analytic partial derivatives in all
    /// four shape parameters at the optimal yields. Updates the warm start when `keep` is set.
    fn evaluate(&self, theta: &[f64], derivatives: bool, keep: bool) -> (f64, [f64; N_SHAPE]) {
        let mut s = self.scratch.borrow_mut();
        let Some((f, y)) = self.solve_at(theta, &mut s, derivatives) else {
            return (f64::INFINITY, [f64::NAN; N_SHAPE]);
        };
        if keep {
            s.yields = y;
        }
        let mut d = [0.0; N_SHAPE];
        if derivatives {
            for i in 0..self.counts.len() {
                let (w1, _) = term_derivatives(self.stat, self.counts[i], s.nu[i]);
                let (dp, dw, da) = (&s.d_peak[i], &s.d_width[i], &s.d_alpha[i]);
                d[th::PEAK] += w1 * (y[0] * dp[0] + y[1] * dp[1] + y[2] * dp[2]);
                d[th::WIDTH] += w1 * (y[0] * dw[0] + y[1] * dw[1] + y[2] * dw[2]);
                d[th::ALPHA] += w1 * (y[0] * da[0] + y[1] * da[1] + y[2] * da[2]);
                d[th::BETA] += w1 * y[3] * s.d_beta[i];
            }
        }
        (f, d)
    }
}

/// Settings of [`ProfiledObjective::minimize_lm`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct LmSettings {
    /// Lower limits of the shape parameters.
    pub(crate) lower: [f64; N_SHAPE],
    /// Upper limits of the shape parameters.
    pub(crate) upper: [f64; N_SHAPE],
    /// Parameters held at their start.
    pub(crate) fixed: [bool; N_SHAPE],
    /// Stop when `g^T S^-1 g / 2` is below this (units of the statistic).
    pub(crate) edm_tolerance: f64,
    /// Evaluation budget.
    pub(crate) max_evaluations: u64,
    /// Nielsen's gain-ratio damping instead of Marquardt's factor 10.
    pub(crate) cautious: bool,
}

/// The result of [`ProfiledObjective::minimize_lm`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct LmMinimum {
    /// Shape parameters at the minimum.
    pub(crate) theta: [f64; N_SHAPE],
    /// The profiled objective there.
    pub(crate) value: f64,
    /// The estimated distance to the minimum, `g^T S^-1 g / 2`, fell below the tolerance.
    pub(crate) converged: bool,
    /// Objective evaluations spent (each with the template derivatives).
    pub(crate) evaluations: u64,
}

impl ProfiledObjective {
    /// The profiled value at `theta`, its gradient, and the Gauss-Newton (Fisher scoring)
    /// approximation of its Hessian, the Schur complement `F_tt - F_tN F_NN^-1 F_Nt` of the
    /// Fisher information of all eight parameters over the free yields. The Fisher weights are
    /// `1 / nu` for the likelihood (expected information) and `2 / n` for the Neyman chi-square
    /// (exact Gauss-Newton), in units of the statistic. Updates the warm start.
    fn fisher_at(&self, theta: &[f64]) -> Option<(f64, Vector4<f64>, Matrix4<f64>)> {
        let (f, d) = self.evaluate(theta, true, true);
        if !f.is_finite() {
            return None;
        }
        let s = self.scratch.borrow();
        let y = s.yields;
        let mut ftt = Matrix4::<f64>::zeros();
        let mut ftn = Matrix4::<f64>::zeros();
        let mut fnn = Matrix4::<f64>::zeros();
        for i in 0..self.counts.len() {
            let (n, nu) = (self.counts[i], s.nu[i]);
            let w = match self.stat {
                Statistic::Nll => {
                    if nu > 0.0 {
                        1.0 / nu
                    } else {
                        0.0
                    }
                }
                Statistic::NeymanChi2 => neyman_chi2_term_d2nu(n, nu) / 2.0,
            };
            if w == 0.0 {
                continue;
            }
            let (dp, dw, da) = (&s.d_peak[i], &s.d_width[i], &s.d_alpha[i]);
            let jt = Vector4::new(
                y[0] * dp[0] + y[1] * dp[1] + y[2] * dp[2],
                y[0] * dw[0] + y[1] * dw[1] + y[2] * dw[2],
                y[0] * da[0] + y[1] * da[1] + y[2] * da[2],
                y[3] * s.d_beta[i],
            );
            let t = &s.tmpl[i];
            let jn = Vector4::new(t[0], t[1], t[2], t[3]);
            let wt = jt * w;
            ftt += wt * jt.transpose();
            ftn += wt * jn.transpose();
            fnn += (jn * w) * jn.transpose();
        }
        // Curvature in units of the statistic: the likelihood is half the deviance.
        let scale = 2.0 * self.error_def();
        let mut free = [true; N_YIELDS];
        let tol = 1e-9 * self.upper[0].max(1.0);
        for k in 0..N_YIELDS {
            free[k] = y[k] > self.lower[k] + tol && y[k] < self.upper[k] - tol;
        }
        let fnn_f = restrict(&fnn, &free);
        let mut ftn_f = ftn;
        for (k, _) in free.iter().enumerate().filter(|(_, f)| !**f) {
            ftn_f.column_mut(k).fill(0.0);
        }
        let schur = match fnn_f.cholesky() {
            Some(c) => ftt - ftn_f * c.solve(&ftn_f.transpose()),
            None => ftt,
        };
        Some((f, Vector4::from(d), schur * scale))
    }

    /// Minimises the profiled objective over the shape parameters by Levenberg-Marquardt steps
    /// on the Fisher-scoring Hessian of [`Self::fisher_at`] (Marquardt's diagonal damping,
    /// J. SIAM 11 (1963) 431), from `start`, within `lower..upper`; parameters with `fixed` set
    /// stay at their start. Stops when the estimated distance to the minimum `g^T S^-1 g / 2`
    /// is below `edm_tolerance` (in units of the statistic), after `max_evaluations`, or when
    /// no step decreases the objective.
    ///
    /// The damping follows Marquardt (divide by 10 after a successful step, multiply by 10
    /// after a failed one), which takes long steps and so reaches the bottom of a start's basin
    /// in few evaluations; with `cautious` it follows Nielsen's gain-ratio rule instead (IMM
    /// report, DTU 1999), which damps steps whose decrease the quadratic model over-predicts, as
    /// along a flat tail parameter near its limit where the Fisher curvature is too small: the
    /// profile points need that stability more than speed.
    pub(crate) fn minimize_lm(&self, start: [f64; N_SHAPE], settings: &LmSettings) -> LmMinimum {
        let LmSettings {
            lower,
            upper,
            fixed,
            edm_tolerance,
            max_evaluations,
            cautious,
        } = *settings;
        let mut theta = start;
        for k in 0..N_SHAPE {
            theta[k] = theta[k].clamp(lower[k], upper[k]);
        }
        let mut evaluations = 1;
        let Some((mut f, mut g, mut h)) = self.fisher_at(&theta) else {
            return LmMinimum {
                theta,
                value: f64::INFINITY,
                converged: false,
                evaluations,
            };
        };
        let mut lambda = 1e-3;
        let mut nu = 2.0;
        let mut converged = false;
        while evaluations < max_evaluations {
            // Free parameters: not fixed, and not at a limit with the gradient pushing out.
            let mut free = [true; N_SHAPE];
            for k in 0..N_SHAPE {
                let out_low = theta[k] <= lower[k] && g[k] > 0.0;
                let out_high = theta[k] >= upper[k] && g[k] < 0.0;
                free[k] = !(fixed[k] || out_low || out_high);
            }
            let mut gf = g;
            for (gk, _) in gf.iter_mut().zip(&free).filter(|(_, f)| !**f) {
                *gk = 0.0;
            }
            let hf = restrict(&h, &free);
            let Some(chol) = hf.cholesky() else {
                break;
            };
            let edm = 0.5 * gf.dot(&chol.solve(&gf));
            if edm < edm_tolerance {
                converged = true;
                break;
            }
            let mut damped = hf;
            for k in 0..N_SHAPE {
                damped[(k, k)] *= 1.0 + lambda;
            }
            let Some(step) = damped.cholesky().map(|c| -c.solve(&gf)) else {
                break;
            };
            let mut cand = theta;
            for k in 0..N_SHAPE {
                cand[k] = (theta[k] + step[k]).clamp(lower[k], upper[k]);
            }
            // Reduction predicted by the quadratic model for the (projected) step taken.
            let taken = Vector4::from_fn(|k, _| cand[k] - theta[k]);
            let predicted = -(gf.dot(&taken) + 0.5 * taken.dot(&(hf * taken)));
            let kept_yields = self.scratch.borrow().yields;
            evaluations += 1;
            match self.fisher_at(&cand) {
                Some((fc, gc, hc)) if fc < f => {
                    let rho = if predicted > 0.0 {
                        (f - fc) / predicted
                    } else {
                        1.0
                    };
                    (theta, f, g, h) = (cand, fc, gc, hc);
                    lambda =
                        (lambda * (1.0 / 3.0f64).max(1.0 - (2.0 * rho - 1.0).powi(3))).max(1e-9);
                    nu = 2.0;
                }
                _ => {
                    // Rejected: restore the warm start and damp harder.
                    self.scratch.borrow_mut().yields = kept_yields;
                    if cautious {
                        lambda *= nu;
                        nu *= 2.0;
                    } else {
                        lambda *= 10.0;
                    }
                    if lambda > 1e10 {
                        break;
                    }
                }
            }
        }
        // Leave the warm start at the minimum.
        let _ = self.evaluate(&theta, false, true);
        LmMinimum {
            theta,
            value: f,
            converged,
            evaluations,
        }
    }
}

/// One side of a profile-likelihood interval (see [`ProfiledObjective::profile_side`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProfileSide {
    /// Distance from the minimum to where the profile rises by `UP` (positive), or NaN.
    pub(crate) error: f64,
    /// The parameter's limit was reached before the profile rose by `UP`.
    pub(crate) at_limit: bool,
    /// Objective evaluations spent.
    pub(crate) evaluations: u64,
    /// A profile point below the minimum (by more than `10^-3 UP`): the shape parameters of a
    /// lower minimum's neighbourhood, from which the fit should be redone.
    pub(crate) new_minimum: Option<[f64; N_SHAPE]>,
}

impl ProfiledObjective {
    /// The distance from the minimum `theta_min` (objective `f_min`) to where the profile of
    /// shape parameter `index`, minimised over the other shape parameters (and the yields),
    /// rises by `UP`, on the side `direction` (+1 or -1): one side of the MINOS-like interval.
    ///
    /// The signed root `z(x) = sqrt((f_prof(x) - f_min) / UP)` is linear in `x` for a parabolic
    /// profile, so secant steps on `z(x) = 1` from the Hessian error `error_hint` converge in a
    /// few iterations also for skewed profiles; each profile point is a Levenberg-Marquardt fit
    /// warm-started from the previous one. Returns NaN (not at a limit) if the profile dips below
    /// `f_min` (a lower minimum exists) or the iteration does not converge.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn profile_side(
        &self,
        theta_min: [f64; N_SHAPE],
        f_min: f64,
        index: usize,
        direction: f64,
        error_hint: f64,
        lower: [f64; N_SHAPE],
        upper: [f64; N_SHAPE],
    ) -> ProfileSide {
        let up = self.error_def();
        let mut fixed = [false; N_SHAPE];
        fixed[index] = true;
        let mut evaluations = 0;
        let mut warm = theta_min;
        let warm_yields = self.scratch.borrow().yields;
        let mut new_minimum = None;
        let mut z_at = |x: f64, warm: &mut [f64; N_SHAPE], evaluations: &mut u64| -> f64 {
            let mut start = *warm;
            start[index] = x;
            let m = self.minimize_lm(
                start,
                &LmSettings {
                    lower,
                    upper,
                    fixed,
                    edm_tolerance: 1e-7,
                    max_evaluations: 100,
                    cautious: true,
                },
            );
            *evaluations += m.evaluations;
            *warm = m.theta;
            let d = m.value - f_min;
            if d < -1e-3 * up {
                new_minimum = Some(m.theta);
            }
            if d < -1e-3 * up || !d.is_finite() {
                f64::NAN
            } else {
                (d.max(0.0) / up).sqrt()
            }
        };
        let limit = if direction > 0.0 {
            upper[index]
        } else {
            lower[index]
        };
        let x_min = theta_min[index];
        let step = if error_hint.is_finite() && error_hint > 0.0 {
            error_hint
        } else {
            1e-2 * (upper[index] - lower[index])
        };
        let (mut x0, mut z0) = (x_min, 0.0);
        let mut x1 = x_min + direction * step;
        let mut result = ProfileSide {
            error: f64::NAN,
            at_limit: false,
            evaluations: 0,
            new_minimum: None,
        };
        if (x1 - limit) * direction >= 0.0 {
            x1 = limit;
        }
        let mut z1 = z_at(x1, &mut warm, &mut evaluations);
        for _ in 0..30 {
            if !z1.is_finite() {
                break;
            }
            if (z1 - 1.0).abs() < 1e-4 {
                result.error = (x1 - x_min).abs();
                break;
            }
            if x1 == limit && z1 < 1.0 {
                result.at_limit = true;
                result.error = (x1 - x_min).abs();
                break;
            }
            let slope = (z1 - z0) / (x1 - x0);
            let mut x2 = if slope.is_finite() && slope * direction > 0.0 {
                x1 + (1.0 - z1) / slope
            } else {
                // Flat or turning profile: walk on with doubled steps.
                x1 + direction * 2.0 * (x1 - x_min).abs().max(step)
            };
            if (x2 - limit) * direction >= 0.0 {
                x2 = limit;
            }
            (x0, z0) = (x1, z1);
            x1 = x2;
            z1 = z_at(x1, &mut warm, &mut evaluations);
        }
        // Leave the warm start at the minimum.
        self.scratch.borrow_mut().yields = warm_yields;
        result.evaluations = evaluations;
        result.new_minimum = new_minimum;
        result
    }
}

impl Objective for ProfiledObjective {
    fn value(&self, theta: &[f64]) -> f64 {
        self.evaluate(theta, false, true).0
    }

    fn gradient(&self, theta: &[f64]) -> Option<Vec<f64>> {
        if self.eval != BinEvaluation::Integrate {
            return None;
        }
        let (f, d) = self.evaluate(theta, true, true);
        if !f.is_finite() {
            return Some(vec![f64::NAN; N_SHAPE]);
        }
        Some(d.to_vec())
    }

    fn error_def(&self) -> f64 {
        match self.stat {
            Statistic::Nll => 0.5,
            Statistic::NeymanChi2 => 1.0,
        }
    }
}

fn clamp4(y: [f64; 4], lo: &[f64; 4], hi: &[f64; 4]) -> [f64; 4] {
    let mut out = y;
    for k in 0..4 {
        out[k] = y[k].clamp(lo[k], hi[k]);
    }
    out
}

/// `h` with the rows and columns of yields that are not free replaced by the identity.
fn restrict(h: &Matrix4<f64>, free: &[bool; 4]) -> Matrix4<f64> {
    let mut r = *h;
    for k in 0..4 {
        if !free[k] {
            r.row_mut(k).fill(0.0);
            r.column_mut(k).fill(0.0);
            r[(k, k)] = 1.0;
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{self, idx};
    use crate::objective::SourceObjective;
    use hep_core::fit::{FitOptions, Method as Algorithm, Parameter, minimize};

    /// A spectrum for the objectives' unit tests: the model at P = 100 ADC on 1-ADC bins of
    /// [40, 115] ADC (range [40, 115.2]), its counts pushed off the model by up to 15 % in a
    /// 7-bin pattern so that gradients do not vanish, and one empty bin.
    fn perturbed_spectrum() -> (Vec<f64>, Vec<f64>, ModelRange) {
        let truth = [100.0, 0.45, 1.2, -0.04, 3500.0, 2500.0, 1500.0, 2500.0];
        let edges: Vec<f64> = (40..=115).map(f64::from).collect();
        let range = ModelRange {
            low: 40.0,
            high: 115.2,
        };
        let mut mu = vec![0.0; 75];
        model::expected_counts(&truth, range, BinEvaluation::Integrate, &edges, &mut mu);
        let mut counts: Vec<f64> = mu
            .iter()
            .enumerate()
            .map(|(i, m)| (m * (1.0 + 0.05 * ((i % 7) as f64 - 3.0))).round())
            .collect();
        counts[3] = 0.0;
        (edges, counts, range)
    }

    fn setup(stat: Statistic) -> (ProfiledObjective, SourceObjective) {
        let (edges, counts, range) = perturbed_spectrum();
        let total: f64 = counts.iter().sum();
        let prof = ProfiledObjective::new(
            edges.clone(),
            counts.clone(),
            range,
            BinEvaluation::Integrate,
            stat,
            YieldBox {
                lower: [0.05 * total, 0.0, 0.0, 0.0],
                upper: [total; 4],
                start: [0.3 * total; 4],
            },
        );
        let full = SourceObjective::new(edges, counts, range, BinEvaluation::Integrate, stat);
        (prof, full)
    }

    /// The profiled value equals the minimum of the full objective over the yields at fixed
    /// shape, and the profiled gradient equals central differences of the profiled value.
    #[test]
    fn profile_equals_the_minimum_over_yields_and_its_gradient_is_exact() {
        for stat in [Statistic::Nll, Statistic::NeymanChi2] {
            let (prof, full) = setup(stat);
            let theta = [99.3, 0.47, 1.3, -0.035];
            let f = prof.value(&theta);
            // Full minimisation over the yields with the shape fixed.
            let (y, _) = prof.yields_at(&theta).unwrap();
            let mut params = vec![
                Parameter::new("peak", theta[0], 0.5).fixed(),
                Parameter::new("width", theta[1], 0.02).fixed(),
                Parameter::new("alpha", theta[2], 0.1).fixed(),
                Parameter::new("beta", theta[3], 0.005).fixed(),
            ];
            for (k, name) in ["n_full", "n_first", "n_second", "n_bkg"]
                .iter()
                .enumerate()
            {
                params.push(Parameter::new(*name, 0.9 * y[k] + 10.0, 50.0).with_lower(0.0));
            }
            let opts = FitOptions {
                method: Algorithm::SimplexThenQuasiNewton,
                compute_covariance: false,
                edm_tolerance: 1e-8,
                ..FitOptions::default()
            };
            let r = minimize(&full, &params, &opts).unwrap();
            assert!(
                (r.min_value - f).abs() < 1e-6 * (1.0 + f.abs()),
                "{stat:?}: full {} vs profiled {f}",
                r.min_value
            );
            for (k, &yk) in y.iter().enumerate() {
                let v = r.values[idx::N_FULL + k];
                assert!((v - yk).abs() < 1e-3 * yk.max(1.0), "{k}: {v} vs {yk}");
            }
            let g = prof.gradient(&theta).unwrap();
            for i in 0..4 {
                let h = 1e-5 * theta[i].abs().max(1e-2);
                let mut q = theta;
                q[i] += h;
                let fp = prof.value(&q);
                q[i] -= 2.0 * h;
                let fm = prof.value(&q);
                let num = (fp - fm) / (2.0 * h);
                assert!(
                    (g[i] - num).abs() < 1e-4 * num.abs().max(1e-2),
                    "{stat:?} parameter {i}: {} vs {num}",
                    g[i]
                );
            }
        }
    }

    #[test]
    fn a_yield_pressed_against_its_limit_stays_there() {
        let (prof, _) = setup(Statistic::Nll);
        // A double-escape yield forced to an upper limit below its best value.
        let (lo, mut hi) = prof.yield_limits();
        hi[2] = 100.0;
        let p2 = ProfiledObjective::new(
            prof.edges.clone(),
            prof.counts.clone(),
            prof.range,
            prof.eval,
            prof.stat,
            YieldBox {
                lower: lo,
                upper: hi,
                start: [1000.0; 4],
            },
        );
        let (y, cov) = p2.yields_at(&[100.0, 0.45, 1.2, -0.04]).unwrap();
        assert_eq!(y[2], 100.0);
        assert_eq!(cov[(2, 2)], 0.0);
        assert!(cov[(0, 0)] > 0.0);
    }
}
