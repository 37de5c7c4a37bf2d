//! Cost functions of the field.
//!
//! | type | objective | `UP` | use |
//! |---|---|---|---|
//! | [`ExtendedBinnedNll`] | `sum_i [nu_i - n_i + n_i ln(n_i / nu_i)]` | 0.5 | histograms, yields free |
//! | [`NeymanChi2`] | `sum_{n_i > 0} (n_i - nu_i)^2 / n_i` | 1 | histograms, the classic chi-square fit |
//! | [`LeastSquares`] | `sum_i ((y_i - f(x_i)) / sigma_i)^2` | 1 | measured points with errors |
//! | [`UnbinnedNll`] | `-sum_i ln f(x_i)` | 0.5 | event lists, normalised density |
//!
//! Binned models fill the expected count `nu_i` of every bin from the parameters and the bin
//! edges, `model(params, edges, out)` with `edges.len() == out.len() + 1`, so a model can integrate
//! its density over each bin or evaluate it at bin centres as it prefers.
//!
//! The extended binned likelihood is the Poisson `-ln L` minus that of the saturated model
//! (Baker and Cousins, Nucl. Instrum. Meth. 221 (1984) 437), so that twice its minimum is
//! asymptotically chi-square distributed with `n_bins - n_params` degrees of freedom and serves as
//! a goodness-of-fit statistic ([`ExtendedBinnedNll::deviance`]). It differs from the plain
//! `sum(nu - n ln nu)` by a constant, so fitted values and errors are the same.

use super::Objective;
use crate::error::{Error, Result};
use crate::hist::Hist1D;
use std::cell::RefCell;

/// One bin's term of the extended binned Poisson likelihood with the saturated model subtracted,
/// `nu - n + n ln(n / nu)` (`nu` for `n = 0`): the contribution of a bin with `n` observed and
/// `nu` expected counts to [`ExtendedBinnedNll`]. `+inf` where `nu` is negative, or zero while
/// `n > 0`.
#[inline]
pub fn poisson_nll_term(n: f64, nu: f64) -> f64 {
    if n > 0.0 {
        if nu > 0.0 {
            nu - n + n * (n / nu).ln()
        } else {
            f64::INFINITY
        }
    } else if nu >= 0.0 {
        nu
    } else {
        f64::INFINITY
    }
}

/// The derivative of [`poisson_nll_term`] in `nu`: `1 - n / nu`.
#[inline]
pub fn poisson_nll_term_dnu(n: f64, nu: f64) -> f64 {
    if n > 0.0 { 1.0 - n / nu } else { 1.0 }
}

/// The second derivative of [`poisson_nll_term`] in `nu`: `n / nu^2` (0 for an empty bin). Its
/// sum over bins, weighted by products of `d nu / d theta`, is the Hessian of the likelihood in
/// parameters on which `nu` depends linearly (yields).
#[inline]
pub fn poisson_nll_term_d2nu(n: f64, nu: f64) -> f64 {
    if n > 0.0 { n / (nu * nu) } else { 0.0 }
}

/// One bin's term of the Neyman chi-square, `(n - nu)^2 / n`, and 0 for an empty bin (skipped).
#[inline]
pub fn neyman_chi2_term(n: f64, nu: f64) -> f64 {
    if n > 0.0 {
        (n - nu) * (n - nu) / n
    } else {
        0.0
    }
}

/// The derivative of [`neyman_chi2_term`] in `nu`: `-2 (n - nu) / n`, and 0 for an empty bin.
#[inline]
pub fn neyman_chi2_term_dnu(n: f64, nu: f64) -> f64 {
    if n > 0.0 { -2.0 * (n - nu) / n } else { 0.0 }
}

/// The second derivative of [`neyman_chi2_term`] in `nu`: `2 / n`, and 0 for an empty bin.
#[inline]
pub fn neyman_chi2_term_d2nu(n: f64, nu: f64) -> f64 {
    let _ = nu;
    if n > 0.0 { 2.0 / n } else { 0.0 }
}

fn check_binned(edges: &[f64], counts: &[f64]) -> Result<()> {
    if counts.is_empty() {
        return Err(Error::InvalidArgument(
            "binned cost needs at least one bin".into(),
        ));
    }
    if edges.len() != counts.len() + 1 {
        return Err(Error::InvalidArgument(format!(
            "binned cost: {} edges for {} bins (need bins + 1)",
            edges.len(),
            counts.len()
        )));
    }
    if edges.iter().any(|e| !e.is_finite()) || edges.windows(2).any(|w| !(w[0] < w[1])) {
        return Err(Error::InvalidArgument(
            "bin edges must be finite and strictly increasing".into(),
        ));
    }
    if let Some((i, c)) = counts
        .iter()
        .enumerate()
        .find(|(_, c)| !(c.is_finite() && **c >= 0.0))
    {
        return Err(Error::InvalidArgument(format!(
            "bin {i}: count must be finite and non-negative, got {c}"
        )));
    }
    Ok(())
}

/// Binned data and a model of their expected counts, shared by the binned cost functions.
struct Binned<M> {
    edges: Vec<f64>,
    counts: Vec<f64>,
    model: M,
    expected: RefCell<Vec<f64>>,
}

impl<M: Fn(&[f64], &[f64], &mut [f64])> Binned<M> {
    fn new(edges: Vec<f64>, counts: Vec<f64>, model: M) -> Result<Self> {
        check_binned(&edges, &counts)?;
        let n = counts.len();
        Ok(Self {
            edges,
            counts,
            model,
            expected: RefCell::new(vec![0.0; n]),
        })
    }

    /// Calls `term(n_i, nu_i)` for every bin with the model evaluated at `params` into the
    /// reused buffer, summing the terms; stops early with `+inf` if a term is infinite.
    fn sum(&self, params: &[f64], term: impl Fn(f64, f64) -> f64) -> f64 {
        let mut nu = self.expected.borrow_mut();
        (self.model)(params, &self.edges, &mut nu);
        let mut total = 0.0;
        for (&n, &v) in self.counts.iter().zip(nu.iter()) {
            let t = term(n, v);
            if t == f64::INFINITY {
                return t;
            }
            total += t;
        }
        total
    }

    fn expected(&self, params: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.counts.len()];
        (self.model)(params, &self.edges, &mut out);
        out
    }
}

/// Extended binned Poisson negative log-likelihood (saturated-model subtracted), `UP = 0.5`.
///
/// `value = sum_i [nu_i - n_i + n_i ln(n_i / nu_i)]` with `n_i ln(n_i/nu_i) = 0` for `n_i = 0`.
/// The value is `+inf` where a model gives a negative expectation, or zero where the data has
/// counts.
pub struct ExtendedBinnedNll<M> {
    data: Binned<M>,
}

impl<M: Fn(&[f64], &[f64], &mut [f64])> ExtendedBinnedNll<M> {
    /// A likelihood for `counts` (length `n`) in bins with `edges` (length `n + 1`, increasing).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for mismatched lengths, non-increasing or non-finite edges, or a
    /// negative or non-finite count.
    pub fn new(edges: Vec<f64>, counts: Vec<f64>, model: M) -> Result<Self> {
        Ok(Self {
            data: Binned::new(edges, counts, model)?,
        })
    }

    /// A likelihood for the in-range bins of `hist` (under- and overflow are ignored).
    ///
    /// # Errors
    /// As [`ExtendedBinnedNll::new`].
    pub fn from_hist(hist: &Hist1D, model: M) -> Result<Self> {
        Self::new(hist.edges(), hist.contents().to_vec(), model)
    }

    /// Number of bins.
    pub fn n_bins(&self) -> usize {
        self.data.counts.len()
    }

    /// The bin edges.
    pub fn edges(&self) -> &[f64] {
        &self.data.edges
    }

    /// The observed counts.
    pub fn counts(&self) -> &[f64] {
        &self.data.counts
    }

    /// The model's expected counts per bin at `params`.
    pub fn expected(&self, params: &[f64]) -> Vec<f64> {
        self.data.expected(params)
    }

    /// The likelihood-ratio deviance `2 * value`, asymptotically chi-square distributed.
    pub fn deviance(&self, params: &[f64]) -> f64 {
        2.0 * self.value(params)
    }
}

impl<M: Fn(&[f64], &[f64], &mut [f64])> Objective for ExtendedBinnedNll<M> {
    fn value(&self, params: &[f64]) -> f64 {
        self.data.sum(params, poisson_nll_term)
    }

    fn error_def(&self) -> f64 {
        0.5
    }
}

/// Neyman chi-square `sum_{n_i > 0} (n_i - nu_i)^2 / n_i`, `UP = 1`.
///
/// Bins with zero counts are skipped (their variance estimate would be zero), as in ROOT's
/// default chi-square fit; [`NeymanChi2::n_used_bins`] counts the bins that enter.
pub struct NeymanChi2<M> {
    data: Binned<M>,
}

impl<M: Fn(&[f64], &[f64], &mut [f64])> NeymanChi2<M> {
    /// A chi-square for `counts` (length `n`) in bins with `edges` (length `n + 1`).
    ///
    /// # Errors
    /// As [`ExtendedBinnedNll::new`].
    pub fn new(edges: Vec<f64>, counts: Vec<f64>, model: M) -> Result<Self> {
        Ok(Self {
            data: Binned::new(edges, counts, model)?,
        })
    }

    /// A chi-square for the in-range bins of `hist`.
    ///
    /// # Errors
    /// As [`ExtendedBinnedNll::new`].
    pub fn from_hist(hist: &Hist1D, model: M) -> Result<Self> {
        Self::new(hist.edges(), hist.contents().to_vec(), model)
    }

    /// Number of bins with non-zero counts (those that enter the sum).
    pub fn n_used_bins(&self) -> usize {
        self.data.counts.iter().filter(|&&n| n > 0.0).count()
    }

    /// The model's expected counts per bin at `params`.
    pub fn expected(&self, params: &[f64]) -> Vec<f64> {
        self.data.expected(params)
    }
}

impl<M: Fn(&[f64], &[f64], &mut [f64])> Objective for NeymanChi2<M> {
    fn value(&self, params: &[f64]) -> f64 {
        self.data.sum(params, neyman_chi2_term)
    }

    fn error_def(&self) -> f64 {
        1.0
    }
}

/// Least squares `sum_i ((y_i - f(params, x_i)) / sigma_i)^2`, `UP = 1`.
pub struct LeastSquares<F> {
    x: Vec<f64>,
    y: Vec<f64>,
    sigma: Vec<f64>,
    model: F,
}

impl<F: Fn(&[f64], f64) -> f64> LeastSquares<F> {
    /// Points `(x_i, y_i)` with errors `sigma_i > 0` on `y` (all three of equal length).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for unequal or zero lengths, non-finite values, or a
    /// non-positive sigma.
    pub fn new(x: Vec<f64>, y: Vec<f64>, sigma: Vec<f64>, model: F) -> Result<Self> {
        if x.is_empty() || x.len() != y.len() || x.len() != sigma.len() {
            return Err(Error::InvalidArgument(format!(
                "least squares: lengths x {}, y {}, sigma {} must be equal and non-zero",
                x.len(),
                y.len(),
                sigma.len()
            )));
        }
        if x.iter().chain(&y).any(|v| !v.is_finite()) {
            return Err(Error::InvalidArgument(
                "least squares: non-finite x or y".into(),
            ));
        }
        if let Some(s) = sigma.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            return Err(Error::InvalidArgument(format!(
                "least squares: sigma must be finite and positive, got {s}"
            )));
        }
        Ok(Self { x, y, sigma, model })
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.x.len()
    }

    /// Always false (construction rejects empty data); present for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }
}

impl<F: Fn(&[f64], f64) -> f64> Objective for LeastSquares<F> {
    fn value(&self, params: &[f64]) -> f64 {
        self.x
            .iter()
            .zip(&self.y)
            .zip(&self.sigma)
            .map(|((&x, &y), &s)| {
                let r = (y - (self.model)(params, x)) / s;
                r * r
            })
            .sum()
    }

    fn error_def(&self) -> f64 {
        1.0
    }
}

/// Unbinned negative log-likelihood `-sum_i ln f(params, x_i)`, `UP = 0.5`.
///
/// `f` must be a probability density normalised over the data range for every parameter value;
/// a non-positive density gives `+inf`.
pub struct UnbinnedNll<F> {
    data: Vec<f64>,
    density: F,
}

impl<F: Fn(&[f64], f64) -> f64> UnbinnedNll<F> {
    /// A likelihood for the events `data`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for empty data or a non-finite value.
    pub fn new(data: Vec<f64>, density: F) -> Result<Self> {
        if data.is_empty() || data.iter().any(|v| !v.is_finite()) {
            return Err(Error::InvalidArgument(
                "unbinned likelihood needs non-empty, finite data".into(),
            ));
        }
        Ok(Self { data, density })
    }
}

impl<F: Fn(&[f64], f64) -> f64> Objective for UnbinnedNll<F> {
    fn value(&self, params: &[f64]) -> f64 {
        let mut sum = 0.0;
        for &x in &self.data {
            let f = (self.density)(params, x);
            if !(f > 0.0) {
                return f64::INFINITY;
            }
            sum -= f.ln();
        }
        sum
    }

    fn error_def(&self) -> f64 {
        0.5
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binned_values_by_hand() {
        let edges = vec![0.0, 1.0, 2.0, 3.0];
        let counts = vec![4.0, 0.0, 9.0];
        let flat = |p: &[f64], _e: &[f64], out: &mut [f64]| out.fill(p[0]);
        let nll = ExtendedBinnedNll::new(edges.clone(), counts.clone(), flat).unwrap();
        // nu = 5: (5-4+4 ln(4/5)) + 5 + (5-9+9 ln(9/5))
        let want = (5.0 - 4.0 + 4.0 * (0.8f64).ln()) + 5.0 + (5.0 - 9.0 + 9.0 * (1.8f64).ln());
        assert!((nll.value(&[5.0]) - want).abs() < 1e-12);
        assert_eq!(nll.value(&[-1.0]), f64::INFINITY);
        let chi = NeymanChi2::new(edges, counts, flat).unwrap();
        assert_eq!(chi.n_used_bins(), 2);
        assert!((chi.value(&[5.0]) - (1.0 / 4.0 + 16.0 / 9.0)).abs() < 1e-12);
    }

    #[test]
    fn bad_inputs() {
        let m = |_: &[f64], _: &[f64], _: &mut [f64]| {};
        assert!(ExtendedBinnedNll::new(vec![0.0, 1.0], vec![1.0, 2.0], m).is_err());
        assert!(ExtendedBinnedNll::new(vec![0.0, 0.0, 1.0], vec![1.0, 2.0], m).is_err());
        assert!(NeymanChi2::new(vec![0.0, 1.0], vec![-1.0], m).is_err());
        let f = |_: &[f64], x: f64| x;
        assert!(LeastSquares::new(vec![1.0], vec![1.0], vec![0.0], f).is_err());
        assert!(LeastSquares::new(vec![1.0], vec![], vec![1.0], f).is_err());
        assert!(UnbinnedNll::new(vec![f64::NAN], f).is_err());
    }
}
