//! Bounded minimisation with Hessian errors and profile-likelihood intervals.
//!
//! This is the fitting engine of hep-rs, modelled on what physicists expect from MINUIT
//! (F. James and M. Roos, Comput. Phys. Commun. 10 (1975) 343; the MINUIT2 user's guide):
//!
//! * an [`Objective`] (a negative log-likelihood or a chi-square) with its *error definition*
//!   `UP` (0.5 for `-ln L`, 1 for chi-square), so that one standard deviation is where the
//!   objective rises by `UP`;
//! * named [`Parameter`]s with start values, step sizes, optional limits, and a `fixed` flag;
//! * [`minimize`]: Nelder-Mead and/or the quasi-Newton method L-BFGS from `argmin`, in MINUIT's
//!   bounded internal variables scaled by a MIGRAD-like seed step (diagonal second differences),
//!   with a retry ladder while the estimated distance to the minimum (EDM) is too large;
//! * the covariance from a central-difference Hessian of the gradient at the minimum, symmetrised
//!   and inverted by Cholesky decomposition (`nalgebra`): `V = 2 UP H^-1`. The approximate inverse
//!   Hessian that quasi-Newton methods carry is never reported (on the NLL of 10 000 samples of
//!   N(5, 2), argmin's BFGS `inv_hessian` gave errors 1-2 % off the exact 0.0200 and 0.01417, and
//!   NaN with a finite-difference gradient; measured while choosing the fit stack, 2026-11);
//! * [`profile_interval`]: MINOS-like asymmetric intervals, the values of one parameter where the
//!   objective, minimised over all others, rises by `UP * n_sigma^2`;
//! * a [`FitResult`] with [`FitStatus`] flags: converged, covariance positive definite, and
//!   which parameters sit at a limit.
//!
//! The cost functions of the field are in [`cost`]: extended binned Poisson likelihood, Neyman
//! chi-square, least squares and unbinned likelihood; bin-integrated standard shapes for binned
//! models are in [`shapes`].
//!
//! # Example
//!
//! ```
//! use hep_core::fit::{minimize, FitOptions, Parameter, cost::LeastSquares};
//! // y = a + b x through three exactly known points
//! let ls = LeastSquares::new(vec![0.0, 1.0, 2.0], vec![1.0, 3.0, 5.0], vec![0.1; 3],
//!     |p: &[f64], x: f64| p[0] + p[1] * x).unwrap();
//! let params = [Parameter::new("a", 0.0, 0.1), Parameter::new("b", 0.0, 0.1)];
//! let r = minimize(&ls, &params, &FitOptions::default()).unwrap();
//! assert!((r.values[0] - 1.0).abs() < 1e-6 && (r.values[1] - 2.0).abs() < 1e-6);
//! assert!(r.status.is_valid());
//! ```

pub mod cost;
mod hesse;
mod minimizer;
mod profile;
pub mod shapes;
mod transform;

pub use hesse::hessian;
pub use minimizer::minimize;
pub use profile::{ProfileInterval, profile_interval};

use crate::error::{Error, Result};
use nalgebra::DMatrix;

/// A function to minimise, with its error definition.
///
/// Implemented by every type in [`cost`] and by [`FnObjective`] for plain closures.
pub trait Objective {
    /// The objective at parameter values `params` (external values, one per [`Parameter`]).
    ///
    /// Return `f64::INFINITY` (or NaN) where the model is undefined; the minimiser then avoids
    /// that region.
    fn value(&self, params: &[f64]) -> f64;

    /// The analytic gradient, if the objective has one (same length as `params`).
    ///
    /// The default returns `None`, and the minimiser uses central finite differences.
    fn gradient(&self, params: &[f64]) -> Option<Vec<f64>> {
        let _ = params;
        None
    }

    /// The error definition `UP`: 0.5 for a negative log-likelihood, 1 for a chi-square.
    fn error_def(&self) -> f64;
}

impl<O: Objective + ?Sized> Objective for &O {
    fn value(&self, params: &[f64]) -> f64 {
        (**self).value(params)
    }
    fn gradient(&self, params: &[f64]) -> Option<Vec<f64>> {
        (**self).gradient(params)
    }
    fn error_def(&self) -> f64 {
        (**self).error_def()
    }
}

/// A closure `f(params) -> value` with an explicit error definition.
pub struct FnObjective<F> {
    f: F,
    up: f64,
}

impl<F: Fn(&[f64]) -> f64> FnObjective<F> {
    /// A negative log-likelihood (`UP = 0.5`).
    pub fn nll(f: F) -> Self {
        Self { f, up: 0.5 }
    }

    /// A chi-square (`UP = 1`).
    pub fn chi2(f: F) -> Self {
        Self { f, up: 1.0 }
    }

    /// Any objective with error definition `up`.
    pub fn with_error_def(f: F, up: f64) -> Self {
        Self { f, up }
    }
}

impl<F: Fn(&[f64]) -> f64> Objective for FnObjective<F> {
    fn value(&self, params: &[f64]) -> f64 {
        (self.f)(params)
    }
    fn error_def(&self) -> f64 {
        self.up
    }
}

/// One fit parameter: name, start value, step size, optional limits, fixed flag.
///
/// The step is the expected scale of the parameter's uncertainty (as in MINUIT); the minimiser
/// uses it to scale its internal variables, and a good guess (within a factor 10 of the final
/// error) helps. Values and limits are in the parameter's own unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    /// Name, used in results and messages.
    pub name: String,
    /// Start value (must lie within the limits).
    pub value: f64,
    /// Initial step, a positive guess of the uncertainty.
    pub step: f64,
    /// Lower limit, if any.
    pub lower: Option<f64>,
    /// Upper limit, if any.
    pub upper: Option<f64>,
    /// If true the parameter stays at `value` and has zero error.
    pub fixed: bool,
}

impl Parameter {
    /// A free, unbounded parameter.
    pub fn new(name: impl Into<String>, value: f64, step: f64) -> Self {
        Self {
            name: name.into(),
            value,
            step,
            lower: None,
            upper: None,
            fixed: false,
        }
    }

    /// The same parameter limited to `[lower, upper]`.
    pub fn with_limits(mut self, lower: f64, upper: f64) -> Self {
        self.lower = Some(lower);
        self.upper = Some(upper);
        self
    }

    /// The same parameter limited to `>= lower`.
    pub fn with_lower(mut self, lower: f64) -> Self {
        self.lower = Some(lower);
        self
    }

    /// The same parameter limited to `<= upper`.
    pub fn with_upper(mut self, upper: f64) -> Self {
        self.upper = Some(upper);
        self
    }

    /// The same parameter, fixed at its value.
    pub fn fixed(mut self) -> Self {
        self.fixed = true;
        self
    }

    fn validate(&self) -> Result<()> {
        let bad = |why: &str| {
            Err(Error::InvalidArgument(format!(
                "parameter {}: {why}",
                self.name
            )))
        };
        if !self.value.is_finite() {
            return bad("start value is not finite");
        }
        let step_ok = self.step.is_finite() && self.step > 0.0;
        if !self.fixed && !step_ok {
            return bad("step must be finite and positive");
        }
        if let (Some(a), Some(b)) = (self.lower, self.upper)
            && !(a < b)
        {
            return bad("lower limit must be below the upper limit");
        }
        if self.lower.is_some_and(|a| self.value < a || a.is_nan())
            || self.upper.is_some_and(|b| self.value > b || b.is_nan())
        {
            return bad("start value lies outside the limits");
        }
        Ok(())
    }
}

/// The algorithm [`minimize`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// Nelder-Mead simplex only (robust, no derivatives, slower to converge precisely).
    NelderMead,
    /// L-BFGS quasi-Newton with a More-Thuente line search only; rounds after the first of the
    /// retry ladder run the simplex first.
    QuasiNewton,
    /// Nelder-Mead to approach the minimum, then L-BFGS to polish it (the default: the fastest
    /// and most robust of the three on the core-fit benchmark, see `docs/performance.md`).
    #[default]
    SimplexThenQuasiNewton,
}

/// Options of [`minimize`].
#[derive(Debug, Clone, PartialEq)]
pub struct FitOptions {
    /// Minimisation algorithm.
    pub method: Method,
    /// Compute the Hessian, covariance, errors and EDM at the minimum (default true).
    pub compute_covariance: bool,
    /// Convergence requires EDM below `edm_tolerance * UP` (default 1e-4, i.e. MINUIT2's
    /// `0.002 * tolerance` with its default tolerance of 0.05).
    pub edm_tolerance: f64,
    /// Maximum number of rounds of the retry ladder (default 4).
    pub max_rounds: usize,
    /// Maximum iterations of each argmin solver run (default 2000).
    pub max_iterations: u64,
    /// Override of the simplex stopping rule: the standard deviation of the objective over the
    /// simplex vertices, in units of `UP`. `None` uses `1e-3` before the quasi-Newton polish and
    /// `1e-9` for [`Method::NelderMead`] alone. A loose value (e.g. `0.05`) gives a cheap,
    /// approximate minimum, enough to rank the starts of a multi-start fit.
    pub simplex_tolerance: Option<f64>,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            method: Method::default(),
            compute_covariance: true,
            edm_tolerance: 1e-4,
            max_rounds: 4,
            max_iterations: 2000,
            simplex_tolerance: None,
        }
    }
}

/// Quality flags of a fit.
#[derive(Debug, Clone, PartialEq)]
pub struct FitStatus {
    /// The minimiser stopped normally and (when the covariance was computed) EDM is below
    /// tolerance.
    pub converged: bool,
    /// The Hessian was positive definite, so the covariance and errors are meaningful. When the
    /// full Hessian is not, but becomes so with the parameters that sit at a limit held fixed,
    /// this is true, those parameters have a NaN error and zero rows in the covariance, and they
    /// are flagged in `at_limit`.
    pub covariance_pos_def: bool,
    /// Per parameter: the value sits at one of its limits (within 1e-3 of its step, or of its
    /// error when known). A parameter at a limit has a meaningless symmetric error.
    pub at_limit: Vec<bool>,
    /// Rounds of the retry ladder that were used (1 = first try succeeded).
    pub rounds: usize,
}

impl FitStatus {
    /// True if any parameter is at a limit.
    pub fn any_at_limit(&self) -> bool {
        self.at_limit.iter().any(|&b| b)
    }

    /// Converged, with a positive-definite covariance and no parameter at a limit.
    pub fn is_valid(&self) -> bool {
        self.converged && self.covariance_pos_def && !self.any_at_limit()
    }
}

/// The outcome of [`minimize`].
#[derive(Debug, Clone)]
pub struct FitResult {
    /// Parameter names, in input order.
    pub names: Vec<String>,
    /// Best-fit values (fixed parameters keep their value).
    pub values: Vec<f64>,
    /// Hessian errors, `sqrt(V_ii)`; 0 for fixed parameters, NaN when no covariance exists.
    pub errors: Vec<f64>,
    /// Covariance matrix `V = 2 UP H^-1` over all parameters (rows/columns of fixed parameters
    /// are zero); `None` if not computed or not positive definite.
    pub covariance: Option<DMatrix<f64>>,
    /// Objective at the minimum.
    pub min_value: f64,
    /// Estimated distance to the minimum, MINUIT's `0.5 g^T H^-1 g` (gradient `g`, Hessian `H`),
    /// leaving out parameters held at a limit by their gradient; NaN when no covariance exists.
    pub edm: f64,
    /// Error definition of the objective.
    pub error_def: f64,
    /// Number of objective evaluations.
    pub n_calls: u64,
    /// Quality flags.
    pub status: FitStatus,
}

impl FitResult {
    /// Index of the parameter called `name`.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// Best-fit value of the parameter called `name`.
    pub fn value(&self, name: &str) -> Option<f64> {
        self.index(name).map(|i| self.values[i])
    }

    /// Hessian error of the parameter called `name`.
    pub fn error(&self, name: &str) -> Option<f64> {
        self.index(name).map(|i| self.errors[i])
    }

    /// Correlation coefficient of parameters `i` and `j`, if the covariance exists.
    pub fn correlation(&self, i: usize, j: usize) -> Option<f64> {
        let v = self.covariance.as_ref()?;
        Some(v[(i, j)] / (v[(i, i)] * v[(j, j)]).sqrt())
    }
}

/// Upper-tail probability of a chi-square value `chi2` with `ndf` degrees of freedom
/// (the fit p-value). NaN if `ndf == 0` or `chi2` is not finite and non-negative.
pub fn chi2_p_value(chi2: f64, ndf: u64) -> f64 {
    use statrs::distribution::{ChiSquared, ContinuousCDF};
    if ndf == 0 || !(chi2.is_finite() && chi2 >= 0.0) {
        return f64::NAN;
    }
    match ChiSquared::new(ndf as f64) {
        Ok(d) => d.sf(chi2),
        Err(_) => f64::NAN,
    }
}

pub(crate) fn validate_parameters(params: &[Parameter]) -> Result<()> {
    if params.is_empty() {
        return Err(Error::InvalidArgument(
            "a fit needs at least one parameter".into(),
        ));
    }
    for p in params {
        p.validate()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_values() {
        // chi2 = ndf = 2: sf = exp(-1)
        assert!((chi2_p_value(2.0, 2) - (-1.0f64).exp()).abs() < 1e-12);
        assert!(chi2_p_value(1.0, 0).is_nan());
    }

    #[test]
    fn bad_parameters_are_rejected() {
        let f = FnObjective::chi2(|p: &[f64]| p[0] * p[0]);
        let o = FitOptions::default();
        assert!(minimize(&f, &[], &o).is_err());
        assert!(minimize(&f, &[Parameter::new("a", 1.0, 0.0)], &o).is_err());
        assert!(
            minimize(
                &f,
                &[Parameter::new("a", 5.0, 1.0).with_limits(0.0, 1.0)],
                &o
            )
            .is_err()
        );
        assert!(
            minimize(
                &f,
                &[Parameter::new("a", 0.5, 1.0).with_limits(1.0, 0.0)],
                &o
            )
            .is_err()
        );
    }
}
