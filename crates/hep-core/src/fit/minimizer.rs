//! The minimisation driver behind [`minimize`](super::minimize).

use super::hesse::{covariance_from_hessian, edm as edm_of, gradient_external, hessian_two_pass};
use super::transform::Bounds;
use super::{FitOptions, FitResult, FitStatus, Method, Objective, Parameter, validate_parameters};
use crate::error::Result;
use argmin::core::{CostFunction, Executor, Gradient, State, TerminationReason};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::neldermead::NelderMead;
use argmin::solver::quasinewton::LBFGS;
use std::cell::{Cell, RefCell};

/// One free parameter as the solvers see it: `x = bounds.to_external(u0 + scale * z)`.
#[derive(Debug, Clone)]
pub(crate) struct FreeParam {
    pub index: usize,
    pub bounds: Bounds,
    u0: f64,
    scale: f64,
}

/// The map between the solvers' scaled internal vector `z` and the external parameter vector.
#[derive(Debug, Clone)]
pub(crate) struct ParamMap {
    pub base: Vec<f64>,
    pub free: Vec<FreeParam>,
}

impl ParamMap {
    /// Internal variables centred on `values`, one unit of `z` being about `scales[i]` externally.
    pub(crate) fn new(params: &[Parameter], values: &[f64], scales: &[f64]) -> Self {
        let free = params
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.fixed)
            .map(|(index, p)| {
                let bounds = Bounds::new(p.lower, p.upper);
                let x0 = values[index];
                let u0 = bounds.to_internal(x0);
                let s = scales[index];
                // Internal step that moves x by about s, looking both ways (x0 may sit at a limit).
                let up = (bounds.to_internal(x0 + s) - u0).abs();
                let down = (bounds.to_internal(x0 - s) - u0).abs();
                let mut scale = up.max(down);
                if !(scale.is_finite() && scale > 0.0) {
                    scale = 0.1;
                }
                if let Bounds::Both(..) = bounds {
                    scale = scale.min(1.0);
                }
                FreeParam {
                    index,
                    bounds,
                    u0,
                    scale,
                }
            })
            .collect();
        Self {
            base: values.to_vec(),
            free,
        }
    }

    fn external_into(&self, z: &[f64], out: &mut [f64]) {
        out.copy_from_slice(&self.base);
        for (f, &zi) in self.free.iter().zip(z) {
            out[f.index] = f.bounds.to_external(f.u0 + f.scale * zi);
        }
    }

    pub(crate) fn external(&self, z: &[f64]) -> Vec<f64> {
        let mut x = vec![0.0; self.base.len()];
        self.external_into(z, &mut x);
        x
    }

    /// Rescales each internal variable so that one unit is about one standard deviation, from
    /// the diagonal second differences of the objective at the centre (MIGRAD's seed step:
    /// F. James, MINUIT reference manual). With `F ~ UP z^2` along every axis, the first
    /// quasi-Newton step `-g` is then a diagonal Newton step instead of an arbitrary jump.
    fn seed_scales<O: Objective + ?Sized>(&mut self, obj: &O, calls: &Cell<u64>) {
        let up = obj.error_def();
        let n = self.free.len();
        let mut z = vec![0.0; n];
        let f0 = obj.value(&self.external(&z));
        calls.set(calls.get() + 1);
        if !f0.is_finite() {
            return;
        }
        for i in 0..n {
            z[i] = 1.0;
            let fp = obj.value(&self.external(&z));
            z[i] = -1.0;
            let fm = obj.value(&self.external(&z));
            z[i] = 0.0;
            calls.set(calls.get() + 2);
            let d2 = fp - 2.0 * f0 + fm;
            if fp.is_finite() && fm.is_finite() && d2 > 0.0 {
                let f = &mut self.free[i];
                f.scale *= (2.0 * up / d2).sqrt().clamp(1e-3, 1e3);
                if let Bounds::Both(..) = f.bounds {
                    f.scale = f.scale.min(1.0);
                }
            }
        }
    }

    /// `dx_i/dz_i` of each free parameter at `z`.
    fn jacobian(&self, z: &[f64]) -> Vec<f64> {
        self.free
            .iter()
            .zip(z)
            .map(|(f, &zi)| f.bounds.derivative(f.u0 + f.scale * zi) * f.scale)
            .collect()
    }
}

/// The objective in the solvers' coordinates; remembers the best point ever evaluated, so a
/// solver that fails (e.g. a line search that cannot proceed) loses nothing.
struct Internal<'a, O: Objective + ?Sized> {
    obj: &'a O,
    map: ParamMap,
    calls: &'a Cell<u64>,
    best: RefCell<(f64, Vec<f64>)>,
    scratch: RefCell<Vec<f64>>,
}

impl<O: Objective + ?Sized> Internal<'_, O> {
    fn eval(&self, z: &[f64]) -> f64 {
        let mut x = self.scratch.borrow_mut();
        self.map.external_into(z, &mut x);
        let v = self.obj.value(&x);
        self.calls.set(self.calls.get() + 1);
        let v = if v.is_nan() { f64::INFINITY } else { v };
        let mut best = self.best.borrow_mut();
        if v < best.0 {
            best.0 = v;
            best.1.clear();
            best.1.extend_from_slice(z);
        }
        v
    }
}

impl<O: Objective + ?Sized> CostFunction for Internal<'_, O> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, z: &Self::Param) -> std::result::Result<f64, argmin::core::Error> {
        Ok(self.eval(z))
    }
}

/// Central-difference step in the scaled internal variables (one unit ~ one step/error).
const Z_STEP: f64 = 1e-4;

impl<O: Objective + ?Sized> Gradient for Internal<'_, O> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    fn gradient(&self, z: &Self::Param) -> std::result::Result<Vec<f64>, argmin::core::Error> {
        let x = self.map.external(z);
        if let Some(gx) = self.obj.gradient(&x) {
            let jac = self.map.jacobian(z);
            return Ok(self
                .map
                .free
                .iter()
                .zip(jac)
                .map(|(f, j)| gx[f.index] * j)
                .collect());
        }
        let mut zz = z.clone();
        let mut g = Vec::with_capacity(z.len());
        for i in 0..z.len() {
            zz[i] = z[i] + Z_STEP;
            let fp = self.eval(&zz);
            zz[i] = z[i] - Z_STEP;
            let fm = self.eval(&zz);
            zz[i] = z[i];
            g.push((fp - fm) / (2.0 * Z_STEP));
        }
        Ok(g)
    }
}

/// Outcome of one solver run: whether it stopped for a good reason.
fn run_simplex<O: Objective + ?Sized>(
    prob: &Internal<'_, O>,
    z0: Vec<f64>,
    sd_tolerance: f64,
    max_iters: u64,
) -> bool {
    let n = z0.len();
    let mut vertices = vec![z0.clone()];
    for i in 0..n {
        let mut v = z0.clone();
        v[i] += 1.0;
        vertices.push(v);
    }
    let solver = match NelderMead::new(vertices).with_sd_tolerance(sd_tolerance) {
        Ok(s) => s,
        Err(_) => return false,
    };
    match Executor::new(ProblemRef(prob), solver)
        .configure(|s| s.max_iters(max_iters))
        .run()
    {
        Ok(res) => matches!(
            res.state().get_termination_reason(),
            Some(TerminationReason::SolverConverged)
        ),
        Err(_) => false,
    }
}

fn run_quasi_newton<O: Objective + ?Sized>(
    prob: &Internal<'_, O>,
    z0: Vec<f64>,
    max_iters: u64,
) -> bool {
    let solver = match LBFGS::new(MoreThuenteLineSearch::new(), 10).with_tolerance_grad(1e-6) {
        Ok(s) => s,
        Err(_) => return false,
    };
    match Executor::new(ProblemRef(prob), solver)
        .configure(|s| s.param(z0).max_iters(max_iters))
        .run()
    {
        Ok(res) => matches!(
            res.state().get_termination_reason(),
            Some(TerminationReason::SolverConverged)
        ),
        Err(_) => false,
    }
}

/// argmin takes its problem by value; this borrows ours so the best-point tracker survives.
struct ProblemRef<'p, 'a, O: Objective + ?Sized>(&'p Internal<'a, O>);

impl<O: Objective + ?Sized> CostFunction for ProblemRef<'_, '_, O> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, z: &Vec<f64>) -> std::result::Result<f64, argmin::core::Error> {
        self.0.cost(z)
    }
}

impl<O: Objective + ?Sized> Gradient for ProblemRef<'_, '_, O> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, z: &Vec<f64>) -> std::result::Result<Vec<f64>, argmin::core::Error> {
        self.0.gradient(z)
    }
}

/// Minimises `objective` over `params` and, unless disabled, computes the Hessian covariance.
///
/// The retry ladder: each round runs the chosen [`Method`] from the best point so far, in
/// internal variables re-centred on it and scaled by the latest error estimates; the fit is
/// converged when the solver stops normally and EDM `= 0.5 g^T H^-1 g` is below
/// `edm_tolerance * UP`. Up to `max_rounds` rounds are tried; from the second round on, the
/// simplex always runs before the quasi-Newton polish.
///
/// # Errors
/// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for an empty parameter list, a
/// non-finite start value, a non-positive step of a free parameter, crossed limits, or a start
/// value outside its limits. A fit that does not converge is *not* an error: it is reported in
/// [`FitResult::status`].
pub fn minimize<O: Objective + ?Sized>(
    objective: &O,
    params: &[Parameter],
    options: &FitOptions,
) -> Result<FitResult> {
    validate_parameters(params)?;
    let up = objective.error_def();
    let calls = Cell::new(0u64);
    let mut values: Vec<f64> = params.iter().map(|p| p.value).collect();
    let mut scales: Vec<f64> = params.iter().map(|p| p.step).collect();
    let n_free = params.iter().filter(|p| !p.fixed).count();
    let names = params.iter().map(|p| p.name.clone()).collect();

    if n_free == 0 {
        let v = objective.value(&values);
        return Ok(FitResult {
            names,
            errors: vec![0.0; params.len()],
            covariance: None,
            min_value: v,
            edm: 0.0,
            error_def: up,
            n_calls: 1,
            status: FitStatus {
                converged: v.is_finite(),
                covariance_pos_def: false,
                at_limit: vec![false; params.len()],
                rounds: 0,
            },
            values,
        });
    }

    let mut best_value = f64::INFINITY;
    let mut rounds = 0;
    let mut converged = false;
    let mut hesse = None;
    while rounds < options.max_rounds.max(1) {
        rounds += 1;
        let mut map = ParamMap::new(params, &values, &scales);
        map.seed_scales(objective, &calls);
        let z0 = vec![0.0; n_free];
        let prob = Internal {
            obj: objective,
            map,
            calls: &calls,
            best: RefCell::new((f64::INFINITY, z0.clone())),
            scratch: RefCell::new(values.clone()),
        };
        prob.eval(&z0);
        let use_simplex = match options.method {
            Method::NelderMead | Method::SimplexThenQuasiNewton => true,
            Method::QuasiNewton => rounds > 1,
        };
        let use_qn = !matches!(options.method, Method::NelderMead);
        let mut solver_ok = true;
        if use_simplex {
            let tol = up
                * options
                    .simplex_tolerance
                    .unwrap_or(if use_qn { 1e-3 } else { 1e-9 });
            let start = prob.best.borrow().1.clone();
            let ok = run_simplex(&prob, start, tol, options.max_iterations);
            solver_ok = ok;
        }
        if use_qn {
            let start = prob.best.borrow().1.clone();
            solver_ok = run_quasi_newton(&prob, start, options.max_iterations);
        }
        let (fmin, zbest) = prob.best.borrow().clone();
        values = prob.map.external(&zbest);
        best_value = fmin;

        if !options.compute_covariance {
            converged = solver_ok && fmin.is_finite();
            if converged {
                break;
            }
            continue;
        }
        let free: Vec<usize> = prob.map.free.iter().map(|f| f.index).collect();
        let h = hessian_two_pass(objective, params, &values, &free, &calls);
        let g = gradient_external(objective, params, &values, &free, &scales, &calls);
        let near_limit: Vec<bool> = free
            .iter()
            .map(|&i| {
                let p = &params[i];
                let tol = 1e-3 * scales[i].min(p.step);
                p.lower.is_some_and(|a| values[i] - a <= tol)
                    || p.upper.is_some_and(|b| b - values[i] <= tol)
            })
            .collect();
        // If the full Hessian is not positive definite and some parameters sit at a limit (where
        // the objective is often flat, e.g. a tail parameter that the data do not constrain), the
        // covariance of the others is computed with those held fixed.
        let mut excluded = vec![false; free.len()];
        let mut cov = covariance_from_hessian(&h, up);
        if cov.is_none() && near_limit.iter().any(|&b| b) {
            let keep: Vec<usize> = (0..free.len()).filter(|&a| !near_limit[a]).collect();
            let sub =
                nalgebra::DMatrix::from_fn(keep.len(), keep.len(), |r, c| h[(keep[r], keep[c])]);
            if let Some(vs) = covariance_from_hessian(&sub, up) {
                let mut v = nalgebra::DMatrix::zeros(free.len(), free.len());
                for (r, &a) in keep.iter().enumerate() {
                    for (c, &b) in keep.iter().enumerate() {
                        v[(a, b)] = vs[(r, c)];
                    }
                }
                excluded = near_limit.clone();
                cov = Some(v);
            }
        }
        // A parameter held at a limit by its gradient is at a constrained minimum: leave it out
        // of the EDM (MINUIT gets the same effect from the vanishing dx/du of its transform), and
        // so is a parameter excluded from the covariance.
        let active: Vec<bool> = free
            .iter()
            .zip(&g)
            .enumerate()
            .map(|(a, (&i, &gi))| {
                let p = &params[i];
                let tol = 1e-3 * scales[i].min(p.step);
                let at_lower = p.lower.is_some_and(|lo| values[i] - lo <= tol) && gi > 0.0;
                let at_upper = p.upper.is_some_and(|hi| hi - values[i] <= tol) && gi < 0.0;
                !(at_lower || at_upper || excluded[a])
            })
            .collect();
        let edm = if cov.is_some() {
            edm_of(&h, &g, &active)
        } else {
            f64::NAN
        };
        if let Some(v) = &cov {
            for (a, &i) in free.iter().enumerate() {
                let e = v[(a, a)].sqrt();
                if e.is_finite() && e > 0.0 {
                    scales[i] = e;
                }
            }
        }
        converged = fmin.is_finite() && edm.is_finite() && edm < options.edm_tolerance * up;
        hesse = Some((free, cov, edm, excluded));
        if converged {
            break;
        }
    }

    let n = params.len();
    let mut errors = vec![0.0; n];
    let mut covariance = None;
    let mut edm = f64::NAN;
    let mut pos_def = false;
    if let Some((free, cov, e, excluded)) = hesse {
        edm = e;
        match cov {
            Some(v) => {
                pos_def = true;
                let mut full = nalgebra::DMatrix::zeros(n, n);
                for (a, &i) in free.iter().enumerate() {
                    for (b, &j) in free.iter().enumerate() {
                        full[(i, j)] = v[(a, b)];
                    }
                }
                for (a, &i) in free.iter().enumerate() {
                    errors[i] = if excluded[a] {
                        f64::NAN
                    } else {
                        full[(i, i)].sqrt()
                    };
                }
                covariance = Some(full);
            }
            None => {
                for &i in &free {
                    errors[i] = f64::NAN;
                }
            }
        }
    } else {
        for (i, p) in params.iter().enumerate() {
            if !p.fixed {
                errors[i] = f64::NAN;
            }
        }
    }
    let at_limit = params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if p.fixed {
                return false;
            }
            let tol = if errors[i].is_finite() && errors[i] > 0.0 {
                1e-3 * errors[i].min(p.step)
            } else {
                1e-3 * p.step
            };
            p.lower.is_some_and(|a| values[i] - a <= tol)
                || p.upper.is_some_and(|b| b - values[i] <= tol)
        })
        .collect();
    Ok(FitResult {
        names,
        values,
        errors,
        covariance,
        min_value: best_value,
        edm,
        error_def: up,
        n_calls: calls.get(),
        status: FitStatus {
            converged,
            covariance_pos_def: pos_def,
            at_limit,
            rounds,
        },
    })
}
