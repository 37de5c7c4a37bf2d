//! Profile-likelihood (MINOS-like) intervals.
//!
//! For parameter `k` with best fit `x_k` and minimum `F_min`, the interval ends are the values
//! `t` where the profile `P(t) = min over the other free parameters of F(.., x_k = t, ..)` equals
//! `F_min + UP * n_sigma^2` (for a likelihood, Wilks' theorem makes this a `n_sigma` confidence
//! interval; F. James, *MINUIT Reference Manual*, MINOS). Each side is bracketed by stepping out
//! from the best fit in units of the Hessian error, doubling the step, and then located by Brent's
//! root finder (argmin `BrentRoot`) to `1e-4` of the Hessian error. Each profile point is a full
//! minimisation of the other parameters, warm-started from the previous point.

use super::{FitOptions, FitResult, Objective, Parameter, minimize};
use crate::error::{Error, Result};
use argmin::core::{CostFunction, Executor};
use argmin::solver::brent::BrentRoot;
use std::cell::{Cell, RefCell};

/// An asymmetric interval of one parameter from [`profile_interval`].
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileInterval {
    /// Parameter index.
    pub index: usize,
    /// Best-fit value.
    pub value: f64,
    /// Lower end of the interval.
    pub lower: f64,
    /// Upper end of the interval.
    pub upper: f64,
    /// The lower end is the parameter's lower limit: the profile stays below the threshold there.
    pub lower_at_limit: bool,
    /// The upper end is the parameter's upper limit.
    pub upper_at_limit: bool,
    /// Objective evaluations spent.
    pub n_calls: u64,
}

impl ProfileInterval {
    /// Distance from the best fit down to the lower end (positive).
    pub fn error_low(&self) -> f64 {
        self.value - self.lower
    }

    /// Distance from the best fit up to the upper end (positive).
    pub fn error_high(&self) -> f64 {
        self.upper - self.value
    }
}

/// One profiled point: the parameter value, `P(t) - target`, and the other parameters there.
struct ProfilePoint {
    t: f64,
    delta: f64,
    values: Vec<f64>,
}

struct Profiler<'a, O: Objective + ?Sized> {
    obj: &'a O,
    params: Vec<Parameter>,
    index: usize,
    target: f64,
    /// Every point profiled so far (the best fit first). A point asked for again returns its
    /// stored value, so the root finder sees one consistent function; a new point is
    /// warm-started from the nearest stored one.
    history: RefCell<Vec<ProfilePoint>>,
    calls: Cell<u64>,
    options: FitOptions,
}

impl<O: Objective + ?Sized> Profiler<'_, O> {
    /// `P(t) - target`.
    fn delta(&self, t: f64) -> f64 {
        let mut ps = self.params.clone();
        {
            let history = self.history.borrow();
            if let Some(p) = history.iter().find(|p| p.t == t) {
                return p.delta;
            }
            let nearest = history
                .iter()
                .min_by(|a, b| (a.t - t).abs().total_cmp(&(b.t - t).abs()))
                .map(|p| &p.values);
            if let Some(warm) = nearest {
                for (p, &w) in ps.iter_mut().zip(warm.iter()) {
                    p.value = w.clamp(
                        p.lower.unwrap_or(f64::NEG_INFINITY),
                        p.upper.unwrap_or(f64::INFINITY),
                    );
                }
            }
        }
        ps[self.index].value = t;
        ps[self.index].fixed = true;
        match minimize(self.obj, &ps, &self.options) {
            Ok(r) => {
                self.calls.set(self.calls.get() + r.n_calls);
                let delta = r.min_value - self.target;
                if r.min_value.is_finite() {
                    self.history.borrow_mut().push(ProfilePoint {
                        t,
                        delta,
                        values: r.values,
                    });
                }
                delta
            }
            Err(_) => f64::NAN,
        }
    }
}

impl<O: Objective + ?Sized> CostFunction for &Profiler<'_, O> {
    type Param = f64;
    type Output = f64;
    fn cost(&self, t: &f64) -> std::result::Result<f64, argmin::core::Error> {
        Ok(self.delta(*t))
    }
}

/// The profile-likelihood interval of parameter `index` at `n_sigma` standard deviations
/// (`n_sigma = 1`: the objective rises by `UP`), around the minimum in `fit`.
///
/// `params` are the parameters the fit was made with; `fit` is its result (its values are the
/// starting point, its Hessian errors set the search steps). `options` control the inner
/// minimisations (the covariance is never computed there).
///
/// # Errors
/// [`Error::InvalidArgument`] if `index` is out of range, names a fixed parameter, or
/// `n_sigma <= 0`; [`Error::ProfileInterval`] if a side cannot be bracketed within 40 doublings
/// of the step or the profile is undefined (NaN) along the way.
pub fn profile_interval<O: Objective + ?Sized>(
    objective: &O,
    params: &[Parameter],
    fit: &FitResult,
    index: usize,
    n_sigma: f64,
    options: &FitOptions,
) -> Result<ProfileInterval> {
    let p = params
        .get(index)
        .ok_or_else(|| Error::InvalidArgument(format!("no parameter with index {index}")))?;
    if p.fixed {
        return Err(Error::InvalidArgument(format!(
            "parameter {} is fixed: it has no interval",
            p.name
        )));
    }
    if !(n_sigma > 0.0) {
        return Err(Error::InvalidArgument("n_sigma must be positive".into()));
    }
    let up = objective.error_def();
    let x0 = fit.values[index];
    let sigma = if fit.errors[index].is_finite() && fit.errors[index] > 0.0 {
        fit.errors[index]
    } else {
        p.step
    };
    let mut inner_params = params.to_vec();
    for (i, q) in inner_params.iter_mut().enumerate() {
        if fit.errors[i].is_finite() && fit.errors[i] > 0.0 {
            q.step = fit.errors[i];
        }
    }
    let prof = Profiler {
        obj: objective,
        params: inner_params,
        index,
        target: fit.min_value + up * n_sigma * n_sigma,
        history: RefCell::new(vec![ProfilePoint {
            t: x0,
            delta: -up * n_sigma * n_sigma,
            values: fit.values.clone(),
        }]),
        calls: Cell::new(0),
        options: FitOptions {
            compute_covariance: false,
            ..options.clone()
        },
    };
    let fail = |reason: String| Error::ProfileInterval {
        parameter: p.name.clone(),
        reason,
    };

    let side = |dir: f64| -> Result<(f64, bool)> {
        let limit = if dir > 0.0 {
            p.upper.unwrap_or(f64::INFINITY)
        } else {
            p.lower.unwrap_or(f64::NEG_INFINITY)
        };
        let mut inner = x0;
        let mut step = sigma * n_sigma;
        for _ in 0..40 {
            let mut t = x0 + dir * step;
            let hit_limit = if dir > 0.0 { t >= limit } else { t <= limit };
            if hit_limit {
                t = limit;
            }
            let d = prof.delta(t);
            if d.is_nan() {
                return Err(fail(format!("profile undefined at {t}")));
            }
            if d >= 0.0 {
                let (a, b) = if dir > 0.0 { (inner, t) } else { (t, inner) };
                let tol = 1e-4 * sigma;
                // Brent needs f(a) and f(b) of opposite signs; f(inner) < 0 by construction.
                let solver = BrentRoot::new(a, b, tol);
                let res = Executor::new(&prof, solver)
                    .configure(|s| s.param(0.5 * (a + b)).max_iters(100))
                    .run()
                    .map_err(|e| fail(format!("root finding: {e}")))?;
                let root = *res
                    .state()
                    .param
                    .as_ref()
                    .ok_or_else(|| fail("root finder returned no value".into()))?;
                return Ok((root, false));
            }
            if hit_limit {
                return Ok((limit, true));
            }
            inner = t;
            step *= 2.0;
        }
        Err(fail(
            "no crossing found within 40 doublings of the step".into(),
        ))
    };
    let (upper, upper_at_limit) = side(1.0)?;
    let (lower, lower_at_limit) = side(-1.0)?;
    Ok(ProfileInterval {
        index,
        value: x0,
        lower,
        upper,
        lower_at_limit,
        upper_at_limit,
        n_calls: prof.calls.get(),
    })
}
