//! Polynomial fits: orthogonal distance regression (the default of the time-walk correction) and
//! ordinary least squares.
//!
//! # Orthogonal distance regression
//!
//! The original fits the time walk with `scipy.odr` and the model `polynomial(K)`, unit weights
//! on x and y, `beta0` = all ones and the ODRPACK defaults (explicit ODR). That is the weighted
//! orthogonal distance problem of Boggs, Byrd and Schnabel (SIAM J. Sci. Stat. Comput. 8 (1987)
//! 1052) with unit weights:
//!
//! ```text
//! minimise  S(beta, delta) = sum_i [ P(x_i + delta_i; beta) - y_i ]^2 + sum_i delta_i^2
//! ```
//!
//! over the K+1 polynomial coefficients `beta` and the n errors `delta` of the explanatory
//! variable, `P(x; beta) = beta_0 + beta_1 x + ... + beta_K x^K`. As in ODRPACK, the joint
//! (beta, delta) problem is solved by Levenberg-Marquardt steps that exploit its structure: the
//! Jacobian of the y-residuals with respect to delta is diagonal and that of the delta-residuals
//! is the identity, so the n delta-components of each step are eliminated in closed form and only
//! a (K+1)x(K+1) system is solved per step. The iteration starts at `beta0` (all ones, as the
//! original) and `delta = 0` (the ODRPACK default) and is run to the minimum (relative change of
//! coefficients below 1e-10), so the result does not depend on the path.
//!
//! The damping uses Marquardt scaling (the diagonal of the Gauss-Newton matrix) and the gain-ratio
//! update of Nielsen (IMM-REP-1999-05), a different trust-region mechanics from ODRPACK's, with the
//! same fixed point. The parameter covariance follows ODRPACK: `(J_r^T J_r)^-1` with the
//! delta-eliminated Jacobian at the solution, times the residual variance `S / (n - K - 1)`.
//!
//! For a straight line (K = 1) unit-weight ODR is Deming regression with unit variance ratio,
//! whose closed form [`deming_line`] gives (used in the tests).
//!
//! # Ordinary least squares
//!
//! [`ols_polynomial`] is the `numpy.polyfit` answer (least squares in y only), solved by a
//! column-scaled QR decomposition of the Vandermonde matrix; [`ols_line`] adds R^2 (the
//! `statsmodels` OLS line of the DAC-vs-charge plot of `analyse_dac_vs_charge.py`).

// Index loops over parallel columns read more clearly than zipped iterators here.
#![allow(clippy::needless_range_loop)]

use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The regression used for the polynomial fits of the time-walk correction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FitMethod {
    /// Orthogonal distance regression with unit weights (the original's `scipy.odr`, default).
    #[default]
    Odr,
    /// Ordinary least squares in y (`numpy.polyfit`), an option.
    Ols,
}

impl std::fmt::Display for FitMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FitMethod::Odr => "odr",
            FitMethod::Ols => "ols",
        })
    }
}

impl std::str::FromStr for FitMethod {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "odr" => Ok(FitMethod::Odr),
            "ols" => Ok(FitMethod::Ols),
            other => Err(Error::InvalidArgument(format!(
                "fit method: expected odr or ols, found {other:?}"
            ))),
        }
    }
}

/// Settings of [`odr_polynomial`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OdrOptions {
    /// Starting coefficients `beta_0..beta_K`; `None` means all ones (the original's choice).
    pub beta0: Option<Vec<f64>>,
    /// Maximum number of iterations of each phase (default 500): of the Levenberg-Marquardt
    /// iteration, of the Newton steps of large samples, and of a Levenberg-Marquardt fallback.
    pub max_iterations: usize,
    /// Convergence: relative size of the last coefficient step, `|step| / |beta|`, below this
    /// value (default 1e-10; ODRPACK's `partol` default is eps^(2/3), about 4e-11, but ODRPACK
    /// usually stops earlier on its sum-of-squares test, a relative change below 1.5e-8).
    pub tolerance: f64,
    /// After each step, move every delta by one exact Newton step of its own 1-D problem at the
    /// new coefficients (default true). The minimum is unchanged; the iteration needs fewer
    /// steps because the Gauss-Newton model ignores the curvature term `r P''` in delta.
    pub polish_delta: bool,
    /// With the subsample start of large samples (131 072 points or more), continue with Newton
    /// steps on the reduced objective (default true; the Levenberg-Marquardt iteration takes over
    /// if they fail). Same minimum; four to six passes over the points instead of about twenty.
    pub reduced_newton: bool,
}

impl Default for OdrOptions {
    fn default() -> Self {
        OdrOptions {
            beta0: None,
            max_iterations: 500,
            tolerance: 1e-10,
            polish_delta: true,
            reduced_newton: true,
        }
    }
}

/// The result of a polynomial fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolyFit {
    /// Coefficients `p0..pK` of `P(x) = p0 + p1 x + ... + pK x^K` (units of y per unit of x^k).
    pub coefficients: Vec<f64>,
    /// Standard errors of the coefficients (ODRPACK's `sd_beta`; for OLS the usual
    /// `sqrt(diag((X^T X)^-1) * S/(n-K-1))`); NaN when n <= K+1.
    pub std_errors: Vec<f64>,
    /// Minimised sum of squares: for ODR `sum (P(x+delta)-y)^2 + sum delta^2`, for OLS
    /// `sum (P(x)-y)^2`.
    pub sum_of_squares: f64,
    /// Number of points used.
    pub n_points: usize,
    /// Iterations on the full sample: Levenberg-Marquardt steps, or for a large sample that took
    /// the Newton path its Newton steps (the subsample's iterations are not counted); 0 for OLS.
    pub iterations: usize,
    /// Whether the convergence criterion was met (always true for OLS).
    pub converged: bool,
    /// The method used.
    pub method: FitMethod,
}

impl PolyFit {
    /// The fitted polynomial at `x`.
    pub fn eval(&self, x: f64) -> f64 {
        polyval(&self.coefficients, x)
    }
}

/// `p0 + p1 x + ... + pK x^K` by Horner's rule (`coefficients` in increasing powers).
pub fn polyval(coefficients: &[f64], x: f64) -> f64 {
    coefficients.iter().rev().fold(0.0, |acc, &c| acc * x + c)
}

/// Second derivative of [`polyval`] with respect to x.
pub fn polyval_second_derivative(coefficients: &[f64], x: f64) -> f64 {
    coefficients
        .iter()
        .enumerate()
        .skip(2)
        .rev()
        .fold(0.0, |acc, (k, &c)| acc * x + (k * (k - 1)) as f64 * c)
}

/// Derivative of [`polyval`] with respect to x.
pub fn polyval_derivative(coefficients: &[f64], x: f64) -> f64 {
    coefficients
        .iter()
        .enumerate()
        .skip(1)
        .rev()
        .fold(0.0, |acc, (k, &c)| acc * x + k as f64 * c)
}

fn check_input(x: &[f64], y: &[f64], order: usize) -> Result<()> {
    if x.len() != y.len() {
        return Err(Error::InvalidArgument(format!(
            "polynomial fit: x has {} points but y has {}",
            x.len(),
            y.len()
        )));
    }
    if x.len() < order + 1 {
        return Err(Error::InvalidArgument(format!(
            "polynomial fit of order {order}: expected at least {} points, found {}",
            order + 1,
            x.len()
        )));
    }
    if let Some(i) = x
        .iter()
        .zip(y)
        .position(|(a, b)| !a.is_finite() || !b.is_finite())
    {
        return Err(Error::InvalidArgument(format!(
            "polynomial fit: point {i} is not finite (x = {}, y = {})",
            x[i], y[i]
        )));
    }
    Ok(())
}

/// Fits a polynomial of `order` with `method` (ODR with the default [`OdrOptions`], or OLS).
///
/// # Errors
/// See [`odr_polynomial`] and [`ols_polynomial`].
pub fn fit_polynomial(x: &[f64], y: &[f64], order: usize, method: FitMethod) -> Result<PolyFit> {
    match method {
        FitMethod::Odr => odr_polynomial(x, y, order, &OdrOptions::default()),
        FitMethod::Ols => ols_polynomial(x, y, order),
    }
}

/// Largest polynomial order of [`odr_polynomial`] (the time walk uses 2).
pub const MAX_ODR_ORDER: usize = 7;
const MAXP: usize = MAX_ODR_ORDER + 1;
/// Points per chunk of the parallel sums: fixed chunks summed in order, so the result does not
/// depend on the number of threads.
const CHUNK: usize = 1 << 14;
/// Size of the subsample that gives large fits their starting point.
const SUBSAMPLE_POINTS: usize = 1 << 15;

/// `[1, u, u^2, ..., u^(p-1)]`.
#[inline]
fn powers(u: f64, p: usize) -> [f64; MAXP] {
    let mut pw = [0.0; MAXP];
    let mut v = 1.0;
    for item in pw.iter_mut().take(p) {
        *item = v;
        v *= u;
    }
    pw
}

/// Sums of the damped normal equations (pass B): the upper triangle of `M` and `G`.
#[derive(Clone, Copy)]
struct Normal {
    m: [f64; MAXP * MAXP],
    g: [f64; MAXP],
}

/// Sums at a trial point (pass C).
#[derive(Clone, Copy)]
struct Trial {
    s: f64,
    h_dot_g: f64,
    h_damp: f64,
    diag: [f64; MAXP],
    jtr: [f64; MAXP],
}

/// Per-point state at the current (beta, delta): residual `r = P(x+delta) - y` and slope
/// `d = P'(x+delta)`, and the sums that the next step needs.
struct Point {
    delta: Vec<f64>,
    r: Vec<f64>,
    d: Vec<f64>,
    s: f64,
    diag: [f64; MAXP],
    jtr: [f64; MAXP],
}

/// Unit-weight explicit orthogonal distance regression of a polynomial of `order` (module docs).
///
/// Each Levenberg-Marquardt step costs two passes over the points, run in parallel over fixed
/// chunks (deterministic at any thread count). With 131 072 points or more the iteration first
/// converges on an evenly strided subsample of about 32 768 points (starting at `beta0`) and
/// continues from that answer on all points, by Newton steps on the reduced objective (one pass
/// each, see [`OdrOptions::reduced_newton`]) or, if those fail, by the Levenberg-Marquardt
/// iteration: same minimum, a few full passes instead of tens.
///
/// # Errors
/// [`Error::InvalidArgument`] if `x` and `y` differ in length, hold fewer than `order + 1` points,
/// hold a non-finite value, `order` exceeds [`MAX_ODR_ORDER`], or `beta0` has the wrong length;
/// also if the normal matrix is singular (for example all x equal).
pub fn odr_polynomial(x: &[f64], y: &[f64], order: usize, opts: &OdrOptions) -> Result<PolyFit> {
    use rayon::prelude::*;
    check_input(x, y, order)?;
    if order > MAX_ODR_ORDER {
        return Err(Error::InvalidArgument(format!(
            "ODR: expected a polynomial order of at most {MAX_ODR_ORDER}, found {order}"
        )));
    }
    let p = order + 1;
    let n = x.len();
    let mut beta = match &opts.beta0 {
        Some(b) if b.len() != p => {
            return Err(Error::InvalidArgument(format!(
                "ODR beta0: expected {p} coefficients, found {}",
                b.len()
            )));
        }
        Some(b) => b.clone(),
        None => vec![1.0; p],
    };
    // Large samples: first converge on an evenly strided subsample (from beta0), then go on
    // from there on all points. The minimum reached is the full sample's; only the path (and the
    // time, several times less) differs.
    if n >= 4 * SUBSAMPLE_POINTS {
        let stride = n / SUBSAMPLE_POINTS;
        let xs: Vec<f64> = x.iter().step_by(stride).copied().collect();
        let ys: Vec<f64> = y.iter().step_by(stride).copied().collect();
        let sub = odr_polynomial(&xs, &ys, order, opts)?;
        if sub.coefficients.iter().all(|c| c.is_finite()) {
            beta = sub.coefficients;
            // Near the minimum, Newton steps on the reduced objective converge quadratically;
            // when they cannot make progress the Levenberg-Marquardt iteration below takes over.
            if opts.reduced_newton
                && let Some(fit) = reduced_newton(x, y, p, &beta, opts)
            {
                return Ok(fit);
            }
        }
    }
    // Pass C at (beta + step, delta + ddelta): fills the new point's buffers and the sums.
    // With `step = None` it evaluates the starting point (delta = 0).
    let polish = opts.polish_delta;
    let trial = |beta: &[f64],
                 step: Option<(&[f64], f64)>,
                 cur: &Point,
                 nd: &mut [f64],
                 nr: &mut [f64],
                 ndd: &mut [f64]|
     -> Trial {
        let new_beta: Vec<f64> = match step {
            Some((st, _)) => beta.iter().zip(st).map(|(b, s)| b + s).collect(),
            None => beta.to_vec(),
        };
        let parts: Vec<Trial> = nd
            .par_chunks_mut(CHUNK)
            .zip(nr.par_chunks_mut(CHUNK))
            .zip(ndd.par_chunks_mut(CHUNK))
            .enumerate()
            .map(|(k, ((nd, nr), ndd))| {
                let lo = k * CHUNK;
                let mut t = Trial {
                    s: 0.0,
                    h_dot_g: 0.0,
                    h_damp: 0.0,
                    diag: [0.0; MAXP],
                    jtr: [0.0; MAXP],
                };
                for j in 0..nd.len() {
                    let i = lo + j;
                    let new_delta = match step {
                        Some((st, lambda)) => {
                            let (di, ri, dl) = (cur.d[i], cur.r[i], cur.delta[i]);
                            let u = x[i] + dl;
                            let pw = powers(u, p);
                            let jstep: f64 = (0..p).map(|a| pw[a] * st[a]).sum();
                            let e = di * di + 1.0;
                            let c = 1.0 / (e * (1.0 + lambda));
                            let dd = -c * (di * ri + dl + di * jstep);
                            t.h_dot_g += dd * (di * ri + dl);
                            t.h_damp += e * dd * dd;
                            dl + dd
                        }
                        None => 0.0,
                    };
                    let mut u = x[i] + new_delta;
                    let mut r = polyval(&new_beta, u) - y[i];
                    let mut new_delta = new_delta;
                    if polish {
                        // One exact Newton step of the point's own 1-D problem
                        // min_delta (P(x+delta) - y)^2 + delta^2 at the new coefficients.
                        let d1 = polyval_derivative(&new_beta, u);
                        let h = d1 * d1 + 1.0 + r * polyval_second_derivative(&new_beta, u);
                        if h > 0.5 {
                            new_delta -= (r * d1 + new_delta) / h;
                            u = x[i] + new_delta;
                            r = polyval(&new_beta, u) - y[i];
                        }
                    }
                    nd[j] = new_delta;
                    nr[j] = r;
                    ndd[j] = polyval_derivative(&new_beta, u);
                    t.s += r * r + new_delta * new_delta;
                    let pw = powers(u, p);
                    for a in 0..p {
                        t.diag[a] += pw[a] * pw[a];
                        t.jtr[a] += pw[a] * r;
                    }
                }
                t
            })
            .collect();
        let mut t = parts[0];
        for q in &parts[1..] {
            t.s += q.s;
            t.h_dot_g += q.h_dot_g;
            t.h_damp += q.h_damp;
            for a in 0..p {
                t.diag[a] += q.diag[a];
                t.jtr[a] += q.jtr[a];
            }
        }
        t
    };
    let empty = Point {
        delta: vec![0.0; n],
        r: vec![0.0; n],
        d: vec![0.0; n],
        s: 0.0,
        diag: [0.0; MAXP],
        jtr: [0.0; MAXP],
    };
    let mut next = Point {
        delta: vec![0.0; n],
        r: vec![0.0; n],
        d: vec![0.0; n],
        s: 0.0,
        diag: [0.0; MAXP],
        jtr: [0.0; MAXP],
    };
    let t0 = trial(
        &beta,
        None,
        &empty,
        &mut next.delta,
        &mut next.r,
        &mut next.d,
    );
    let mut cur = next;
    cur.s = t0.s;
    cur.diag = t0.diag;
    cur.jtr = t0.jtr;
    let mut next = empty;
    let mut lambda = 1e-3; // dimensionless (Marquardt scaling)
    let mut nu = 2.0;
    let mut converged = cur.s == 0.0;
    let mut iterations = 0;
    while !converged && iterations < opts.max_iterations {
        iterations += 1;
        let diag: Vec<f64> = cur.diag[..p].iter().map(|v| v.max(1e-300)).collect();
        loop {
            // Pass B: the delta-eliminated damped normal equations.
            let parts: Vec<Normal> = (0..n.div_ceil(CHUNK))
                .into_par_iter()
                .map(|k| {
                    let mut acc = Normal {
                        m: [0.0; MAXP * MAXP],
                        g: [0.0; MAXP],
                    };
                    for i in k * CHUNK..((k + 1) * CHUNK).min(n) {
                        let (di, ri, dl) = (cur.d[i], cur.r[i], cur.delta[i]);
                        let e = di * di + 1.0;
                        let c = 1.0 / (e * (1.0 + lambda));
                        let w = 1.0 - di * di * c;
                        let g = ri - di * c * (di * ri + dl);
                        let pw = powers(x[i] + dl, p);
                        for a in 0..p {
                            acc.g[a] += pw[a] * g;
                            let wa = w * pw[a];
                            for b in a..p {
                                acc.m[a * MAXP + b] += wa * pw[b];
                            }
                        }
                    }
                    acc
                })
                .collect();
            let mut jtj = DMatrix::<f64>::zeros(p, p);
            let mut rhs = DVector::<f64>::zeros(p);
            for q in &parts {
                for a in 0..p {
                    rhs[a] -= q.g[a];
                    for b in a..p {
                        jtj[(a, b)] += q.m[a * MAXP + b];
                    }
                }
            }
            for a in 0..p {
                for b in 0..a {
                    jtj[(a, b)] = jtj[(b, a)];
                }
                jtj[(a, a)] += lambda * diag[a];
            }
            let step = match jtj.clone().cholesky() {
                Some(ch) => ch.solve(&rhs),
                None => jtj.clone().lu().solve(&rhs).ok_or_else(|| {
                    Error::InvalidArgument(
                        "ODR: singular normal matrix (are all x values equal?)".into(),
                    )
                })?,
            };
            let st: Vec<f64> = step.iter().copied().collect();
            // Pass C: the trial point, its objective and the linear model's prediction.
            let t = trial(
                &beta,
                Some((&st, lambda)),
                &cur,
                &mut next.delta,
                &mut next.r,
                &mut next.d,
            );
            let h_dot_g = t.h_dot_g + (0..p).map(|a| st[a] * cur.jtr[a]).sum::<f64>();
            let h_damp = t.h_damp + (0..p).map(|a| diag[a] * st[a] * st[a]).sum::<f64>();
            let predicted = 0.5 * (lambda * h_damp - h_dot_g);
            let step_norm = step.norm();
            let beta_norm = beta.iter().map(|b| b * b).sum::<f64>().sqrt();
            let rel_step = step_norm / (beta_norm + 1e-300);
            // Near the minimum S changes at the rounding level only (quadratically in the step),
            // so a small step that keeps S within rounding is accepted: the parameters are then
            // resolved to `tolerance`, not only to sqrt(machine epsilon).
            let within_rounding = rel_step < 1e-6 && t.s <= cur.s * (1.0 + 1e-13);
            if t.s.is_finite() && (t.s < cur.s || within_rounding) {
                let rho = if predicted > 0.0 {
                    (cur.s - t.s) / predicted
                } else {
                    1.0
                };
                for (b, s) in beta.iter_mut().zip(&st) {
                    *b += s;
                }
                std::mem::swap(&mut cur, &mut next);
                cur.s = t.s;
                cur.diag = t.diag;
                cur.jtr = t.jtr;
                lambda *= (1.0 - (2.0 * rho - 1.0).powi(3)).clamp(1.0 / 3.0, 1.0);
                nu = 2.0;
                if rel_step <= opts.tolerance || cur.s == 0.0 {
                    converged = true;
                }
                break;
            }
            // Rejected: if even tiny steps fail, we are at the minimum to rounding precision.
            if rel_step <= opts.tolerance || lambda > 1e30 {
                converged = rel_step <= 1e-8;
                break;
            }
            lambda *= nu;
            nu *= 2.0;
        }
    }
    // Covariance: delta-eliminated Gauss-Newton matrix at the solution (lambda = 0).
    let mut jtj = DMatrix::<f64>::zeros(p, p);
    for i in 0..n {
        let di = cur.d[i];
        let w = 1.0 / (di * di + 1.0);
        let pw = powers(x[i] + cur.delta[i], p);
        for a in 0..p {
            for b in 0..p {
                jtj[(a, b)] += w * pw[a] * pw[b];
            }
        }
    }
    let std_errors = std_errors_from(jtj, cur.s, n, p);
    Ok(PolyFit {
        coefficients: beta,
        std_errors,
        sum_of_squares: cur.s,
        n_points: n,
        iterations,
        converged,
        method: FitMethod::Odr,
    })
}

/// Sums of one pass of [`reduced_newton`].
#[derive(Clone, Copy)]
struct ReducedSums {
    /// `S(beta)` with every delta at its own minimum.
    s: f64,
    /// Half the gradient of `S`: `sum r u^a`.
    g: [f64; MAXP],
    /// Half the Hessian of the reduced `S` (upper triangle).
    h: [f64; MAXP * MAXP],
    /// The delta-eliminated Gauss-Newton matrix `sum u^a u^b / (1 + d^2)` (upper triangle).
    gn: [f64; MAXP * MAXP],
    /// Points whose 1-D problem has no positive curvature at the delta reached.
    not_convex: usize,
}

/// `(P(u), P'(u), P''(u))` in one Horner sweep over the coefficients (increasing powers).
#[inline(always)]
fn poly_with_derivatives<const P: usize>(c: &[f64; P], u: f64) -> (f64, f64, f64) {
    let (mut v, mut d, mut dd) = (0.0, 0.0, 0.0);
    for k in (0..P).rev() {
        dd = dd * u + 2.0 * d;
        d = d * u + v;
        v = v * u + c[k];
    }
    (v, d, dd)
}

/// Points processed side by side in [`reduced_pass`]: independent dependency chains (two
/// polynomial evaluations and two divisions per point) that the processor overlaps.
const LANES: usize = 4;

/// A point after its Newton step: the new delta, and at it the residual `r = P(x + delta) - y`,
/// the slope `d = P'(x + delta)` and the curvature `h = 1 + d^2 + r P''(x + delta)` of its 1-D
/// problem.
#[derive(Clone, Copy)]
struct NewtonPoint {
    delta: f64,
    r: f64,
    d: f64,
    h: f64,
}

/// One Newton step of the 1-D problem `min_delta (P(x + delta) - y)^2 + delta^2` from `delta`
/// (no step where the problem is not convex).
#[inline(always)]
fn newton_step<const P: usize>(beta: &[f64; P], x: f64, y: f64, delta: f64) -> NewtonPoint {
    let (v0, d0, c0) = poly_with_derivatives(beta, x + delta);
    let r0 = v0 - y;
    let h0 = 1.0 + d0 * d0 + r0 * c0;
    let step = if h0 > 0.0 {
        (r0 * d0 + delta) / h0
    } else {
        0.0
    };
    let delta = delta - step;
    let (v, d, c) = poly_with_derivatives(beta, x + delta);
    let r = v - y;
    NewtonPoint {
        delta,
        r,
        d,
        h: 1.0 + d * d + r * c,
    }
}

/// Per-lane sums of [`reduced_pass`] for `P` coefficients.
struct LaneSums<const P: usize> {
    s: [f64; LANES],
    g: [[f64; LANES]; P],
    h: [[[f64; LANES]; P]; P],
    gn: [[[f64; LANES]; P]; P],
    not_convex: usize,
}

impl<const P: usize> LaneSums<P> {
    fn new() -> Self {
        LaneSums {
            s: [0.0; LANES],
            g: [[0.0; LANES]; P],
            h: [[[0.0; LANES]; P]; P],
            gn: [[[0.0; LANES]; P]; P],
            not_convex: 0,
        }
    }

    /// Adds the terms of one point (after its Newton step, see [`newton_step`]) to lane `l`.
    #[inline(always)]
    fn add(&mut self, l: usize, x: f64, point: NewtonPoint) {
        let NewtonPoint { delta, r, d, h } = point;
        self.not_convex += usize::from(h <= 0.0);
        let u = x + delta;
        let pw: [f64; P] = std::array::from_fn(|a| u.powi(a as i32));
        // v_a = d u^a + r a u^(a-1)
        let v: [f64; P] =
            std::array::from_fn(|a| d * pw[a] + if a > 0 { r * a as f64 * pw[a - 1] } else { 0.0 });
        let inv_h = 1.0 / h;
        let w = 1.0 / (1.0 + d * d);
        self.s[l] += r * r + delta * delta;
        for a in 0..P {
            self.g[a][l] += r * pw[a];
            let va = v[a] * inv_h;
            for b in a..P {
                self.h[a][b][l] += pw[a] * pw[b] - va * v[b];
                self.gn[a][b][l] += w * pw[a] * pw[b];
            }
        }
    }

    /// The lanes summed in lane order.
    fn total(&self) -> ReducedSums {
        let mut t = ReducedSums {
            s: self.s.iter().sum(),
            g: [0.0; MAXP],
            h: [0.0; MAXP * MAXP],
            gn: [0.0; MAXP * MAXP],
            not_convex: self.not_convex,
        };
        for a in 0..P {
            t.g[a] = self.g[a].iter().sum();
            for b in a..P {
                t.h[a * MAXP + b] = self.h[a][b].iter().sum();
                t.gn[a * MAXP + b] = self.gn[a][b].iter().sum();
            }
        }
        t
    }
}

/// One pass of [`reduced_newton`] for `P = order + 1` coefficients (a compile-time constant,
/// so the per-point polynomial work unrolls): moves every delta by one Newton step of its 1-D
/// problem at `beta` (from `delta_in` into `delta_out`) and returns the sums at the new deltas.
/// Delta converges with beta (the joint iteration is Newton's method on (beta, delta) with the
/// delta block eliminated), so a single step per pass is enough. Fixed chunks, and fixed lanes
/// within a chunk, summed in order: the same result at any thread count.
fn reduced_pass<const P: usize>(
    x: &[f64],
    y: &[f64],
    beta: &[f64],
    delta_in: &[f64],
    delta_out: &mut [f64],
) -> ReducedSums {
    use rayon::prelude::*;
    let mut c = [0.0; P];
    c.copy_from_slice(&beta[..P]);
    let beta = &c;
    let parts: Vec<ReducedSums> = delta_out
        .par_chunks_mut(CHUNK)
        .enumerate()
        .map(|(k, out)| {
            let lo = k * CHUNK;
            let n = out.len();
            let (x, y, delta_in) = (&x[lo..lo + n], &y[lo..lo + n], &delta_in[lo..lo + n]);
            let mut lanes = LaneSums::<P>::new();
            let full = n - n % LANES;
            for j in (0..full).step_by(LANES) {
                let points: [NewtonPoint; LANES] =
                    std::array::from_fn(|l| newton_step(beta, x[j + l], y[j + l], delta_in[j + l]));
                for (l, point) in points.into_iter().enumerate() {
                    out[j + l] = point.delta;
                    lanes.add(l, x[j + l], point);
                }
            }
            for j in full..n {
                let point = newton_step(beta, x[j], y[j], delta_in[j]);
                out[j] = point.delta;
                lanes.add(0, x[j], point);
            }
            lanes.total()
        })
        .collect();
    let mut t = parts[0];
    for q in &parts[1..] {
        t.s += q.s;
        t.not_convex += q.not_convex;
        for a in 0..P {
            t.g[a] += q.g[a];
            for b in a..P {
                t.h[a * MAXP + b] += q.h[a * MAXP + b];
                t.gn[a * MAXP + b] += q.gn[a * MAXP + b];
            }
        }
    }
    t
}

/// Newton's method on the reduced objective `S(beta) = sum_i min_delta_i [(P(x_i + delta_i) -
/// y_i)^2 + delta_i^2]` (variable projection: the joint minimum of the module docs, with every
/// delta eliminated exactly).
///
/// Each pass moves every `delta_i` by one Newton step of its own 1-D problem (from its last
/// value) and sums, at the new deltas, the gradient `2 sum r u^a` (exact when every delta is at
/// its minimum, by the envelope theorem; `u = x + delta`, `r = P(u) - y`, `d = P'(u)`) and the
/// reduced Hessian `2 sum [u^a u^b - v_a v_b / h]` with `v_a = d u^a + r a u^(a-1)` and
/// `h = 1 + d^2 + r P''(u)` (the Schur complement of the diagonal delta block). Beta and delta
/// converge together and quadratically: from the subsample's answer, a few tenths of a percent
/// away, four to six passes instead of the twenty of the Levenberg-Marquardt iteration. Returns `None` (and the caller
/// falls back to Levenberg-Marquardt) if the Hessian is not positive definite, a 1-D problem is not
/// convex at its delta, or a step does not lower `S` even after halving.
fn reduced_newton(
    x: &[f64],
    y: &[f64],
    p: usize,
    beta0: &[f64],
    opts: &OdrOptions,
) -> Option<PolyFit> {
    let n = x.len();
    let pass = |beta: &[f64], delta_in: &[f64], delta_out: &mut [f64]| -> ReducedSums {
        match p {
            1 => reduced_pass::<1>(x, y, beta, delta_in, delta_out),
            2 => reduced_pass::<2>(x, y, beta, delta_in, delta_out),
            3 => reduced_pass::<3>(x, y, beta, delta_in, delta_out),
            4 => reduced_pass::<4>(x, y, beta, delta_in, delta_out),
            5 => reduced_pass::<5>(x, y, beta, delta_in, delta_out),
            6 => reduced_pass::<6>(x, y, beta, delta_in, delta_out),
            7 => reduced_pass::<7>(x, y, beta, delta_in, delta_out),
            _ => reduced_pass::<8>(x, y, beta, delta_in, delta_out),
        }
    };
    let symmetric = |m: &[f64; MAXP * MAXP]| {
        DMatrix::<f64>::from_fn(p, p, |a, b| m[a.min(b) * MAXP + a.max(b)])
    };
    let mut beta = beta0.to_vec();
    let mut delta = vec![0.0; n];
    let mut trial_delta = vec![0.0; n];
    let mut cur = pass(&beta, &vec![0.0; n], &mut delta);
    let mut iterations = 0;
    while iterations < opts.max_iterations {
        if cur.not_convex > 0 || !cur.s.is_finite() {
            return None;
        }
        let hess = symmetric(&cur.h);
        let grad = DVector::from_fn(p, |a, _| -cur.g[a]);
        let step = hess.cholesky()?.solve(&grad);
        let beta_norm = beta.iter().map(|b| b * b).sum::<f64>().sqrt();
        let mut scale = 1.0;
        let accepted = loop {
            let trial_beta: Vec<f64> = beta
                .iter()
                .zip(step.iter())
                .map(|(b, s)| b + scale * s)
                .collect();
            let t = pass(&trial_beta, &delta, &mut trial_delta);
            let rel_step = scale * step.norm() / (beta_norm + 1e-300);
            // At the minimum S changes at the rounding level only; a tiny step that keeps S
            // within rounding is accepted (see the Levenberg-Marquardt loop).
            let within_rounding = rel_step < 1e-6 && t.s <= cur.s * (1.0 + 1e-13);
            if t.s.is_finite() && (t.s < cur.s || within_rounding) {
                break Some((trial_beta, t, rel_step));
            }
            scale *= 0.5;
            if scale < 1.0 / 16.0 {
                break None;
            }
        };
        let (new_beta, t, rel_step) = accepted?;
        iterations += 1;
        beta = new_beta;
        std::mem::swap(&mut delta, &mut trial_delta);
        cur = t;
        if rel_step <= opts.tolerance || cur.s == 0.0 {
            if cur.not_convex > 0 {
                return None;
            }
            let std_errors = std_errors_from(symmetric(&cur.gn), cur.s, n, p);
            return Some(PolyFit {
                coefficients: beta,
                std_errors,
                sum_of_squares: cur.s,
                n_points: n,
                iterations,
                converged: true,
                method: FitMethod::Odr,
            });
        }
    }
    None
}

fn std_errors_from(normal: DMatrix<f64>, s: f64, n: usize, p: usize) -> Vec<f64> {
    if n <= p {
        return vec![f64::NAN; p];
    }
    let res_var = s / (n - p) as f64;
    match normal.try_inverse() {
        Some(inv) => (0..p).map(|a| (inv[(a, a)] * res_var).sqrt()).collect(),
        None => vec![f64::NAN; p],
    }
}

/// Ordinary least-squares polynomial of `order` (`numpy.polyfit` up to the coefficient order).
///
/// # Errors
/// [`Error::InvalidArgument`] on mismatched lengths, fewer than `order + 1` points, non-finite
/// values or a rank-deficient design (fewer than `order + 1` distinct x).
pub fn ols_polynomial(x: &[f64], y: &[f64], order: usize) -> Result<PolyFit> {
    check_input(x, y, order)?;
    let p = order + 1;
    let n = x.len();
    let mut a = DMatrix::<f64>::zeros(n, p);
    for (i, &xi) in x.iter().enumerate() {
        let mut pw = 1.0;
        for k in 0..p {
            a[(i, k)] = pw;
            pw *= xi;
        }
    }
    let scale: Vec<f64> = (0..p)
        .map(|k| {
            let nrm = a.column(k).norm();
            if nrm > 0.0 { nrm } else { 1.0 }
        })
        .collect();
    for k in 0..p {
        let sk = scale[k];
        a.column_mut(k).iter_mut().for_each(|v| *v /= sk);
    }
    let b = DVector::from_column_slice(y);
    let qr = a.clone().qr();
    let r = qr.r();
    let rank_ok = (0..p).all(|k| r[(k, k)].abs() > 1e-12 * r[(0, 0)].abs().max(1e-300));
    if !rank_ok {
        return Err(Error::InvalidArgument(format!(
            "OLS polynomial of order {order}: rank-deficient design (fewer than {p} distinct x values)"
        )));
    }
    let qtb = qr.q().transpose() * &b;
    let sol = r
        .solve_upper_triangular(&qtb)
        .ok_or_else(|| Error::InvalidArgument("OLS polynomial: singular R".into()))?;
    let coefficients: Vec<f64> = (0..p).map(|k| sol[k] / scale[k]).collect();
    let s: f64 = x
        .iter()
        .zip(y)
        .map(|(&xi, &yi)| (polyval(&coefficients, xi) - yi).powi(2))
        .sum();
    let rtr = r.transpose() * &r;
    let mut std_errors = std_errors_from(rtr, s, n, p);
    for (k, e) in std_errors.iter_mut().enumerate() {
        *e /= scale[k];
    }
    Ok(PolyFit {
        coefficients,
        std_errors,
        sum_of_squares: s,
        n_points: n,
        iterations: 0,
        converged: true,
        method: FitMethod::Ols,
    })
}

/// A straight line `y = intercept + slope * x` with its coefficient of determination.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LineFit {
    /// Intercept alpha (units of y).
    pub intercept: f64,
    /// Slope beta (units of y per unit of x).
    pub slope: f64,
    /// R^2 = 1 - SS_res/SS_tot (NaN when all y are equal).
    pub r_squared: f64,
}

impl LineFit {
    /// `intercept + slope * x`.
    pub fn eval(&self, x: f64) -> f64 {
        self.intercept + self.slope * x
    }
}

/// Means and centred second moments `(x̄, ȳ, s_xx, s_yy, s_xy)` (sums, not divided by n).
fn moments(x: &[f64], y: &[f64]) -> (f64, f64, f64, f64, f64) {
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0);
    for (&a, &b) in x.iter().zip(y) {
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
        sxy += (a - mx) * (b - my);
    }
    (mx, my, sxx, syy, sxy)
}

/// OLS straight line with R^2 (the `statsmodels` OLS trendline of the original's plots).
///
/// # Errors
/// [`Error::InvalidArgument`] with fewer than 2 points, mismatched lengths, non-finite values or
/// all x equal.
pub fn ols_line(x: &[f64], y: &[f64]) -> Result<LineFit> {
    check_input(x, y, 1)?;
    let (mx, my, sxx, syy, sxy) = moments(x, y);
    if sxx <= 0.0 {
        return Err(Error::InvalidArgument(
            "OLS line: all x values are equal".into(),
        ));
    }
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let ss_res: f64 = x
        .iter()
        .zip(y)
        .map(|(&a, &b)| (b - intercept - slope * a).powi(2))
        .sum();
    let r_squared = if syy > 0.0 {
        1.0 - ss_res / syy
    } else {
        f64::NAN
    };
    Ok(LineFit {
        intercept,
        slope,
        r_squared,
    })
}

/// Deming regression with unit error-variance ratio: the closed-form orthogonal (total least
/// squares) straight line, `slope = (s_yy - s_xx + sqrt((s_yy - s_xx)^2 + 4 s_xy^2)) / (2 s_xy)`
/// (Deming 1943; equal to unit-weight ODR of a line).
///
/// # Errors
/// [`Error::InvalidArgument`] with fewer than 2 points, mismatched lengths, non-finite values or
/// `s_xy = 0` (no preferred direction).
pub fn deming_line(x: &[f64], y: &[f64]) -> Result<LineFit> {
    check_input(x, y, 1)?;
    let (mx, my, sxx, syy, sxy) = moments(x, y);
    if sxy == 0.0 {
        return Err(Error::InvalidArgument(
            "Deming line: x and y are uncorrelated (s_xy = 0)".into(),
        ));
    }
    let slope = (syy - sxx + ((syy - sxx).powi(2) + 4.0 * sxy * sxy).sqrt()) / (2.0 * sxy);
    let intercept = my - slope * mx;
    let ss_res: f64 = x
        .iter()
        .zip(y)
        .map(|(&a, &b)| (b - intercept - slope * a).powi(2))
        .sum();
    let r_squared = if syy > 0.0 {
        1.0 - ss_res / syy
    } else {
        f64::NAN
    };
    Ok(LineFit {
        intercept,
        slope,
        r_squared,
    })
}
