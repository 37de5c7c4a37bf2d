//! One-dimensional fixed-bin histograms.
//!
//! [`Hist1D`] follows ROOT's `TH1D` conventions so that numbers carry over from the original
//! scripts: bins are numbered 1..=`n_bins`, bin 0 is the underflow and bin `n_bins + 1` the
//! overflow; every bin keeps the sum of weights and the sum of squared weights (ROOT's `Sumw2`),
//! and the error of a bin is the square root of the latter.
//!
//! # Bin lookup (`find_bin`)
//!
//! Identical to ROOT's `TAxis::FindFixBin` for fixed binning (ROOT 6 source, `TAxis.cxx`):
//!
//! * `x < low` gives 0 (underflow);
//! * `x >= high` gives `n_bins + 1` (overflow): the upper edge belongs to the overflow;
//! * otherwise `1 + floor(n_bins * (x - low) / (high - low))`, then corrected by one bin if
//!   rounding put `x` below the low edge or at/above the high edge of that bin, where edges are
//!   computed as `low + (i - 1) * width` exactly as `GetBinLowEdge` does;
//! * `NaN` gives the overflow (ROOT's comparisons `x < low` and `!(x < high)` send it there).

use crate::error::{Error, Result};

/// A 1-D histogram with `n_bins` equal-width bins on `[low, high)` plus under- and overflow.
///
/// Storage vectors have length `n_bins + 2` and are indexed by ROOT bin number.
#[derive(Debug, Clone, PartialEq)]
pub struct Hist1D {
    n_bins: usize,
    low: f64,
    high: f64,
    sum_w: Vec<f64>,
    sum_w2: Vec<f64>,
    entries: u64,
}

impl Hist1D {
    /// An empty histogram of `n_bins` bins on `[low, high)` (in the unit of the filled quantity).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `n_bins == 0`, an edge is not finite, or `low >= high`.
    pub fn new(n_bins: usize, low: f64, high: f64) -> Result<Self> {
        if n_bins == 0 {
            return Err(Error::InvalidArgument(
                "histogram needs at least one bin".into(),
            ));
        }
        if !(low.is_finite() && high.is_finite() && low < high) {
            return Err(Error::InvalidArgument(format!(
                "histogram range must be finite with low < high, got [{low}, {high})"
            )));
        }
        Ok(Self {
            n_bins,
            low,
            high,
            sum_w: vec![0.0; n_bins + 2],
            sum_w2: vec![0.0; n_bins + 2],
            entries: 0,
        })
    }

    /// A histogram whose in-range bins hold `counts` (unit weights: the sum of squared weights of
    /// each bin is set equal to its content, as for Poisson counts). Under- and overflow are 0.
    ///
    /// # Errors
    /// As [`Hist1D::new`] with `n_bins = counts.len()`, and [`Error::InvalidArgument`] if a count
    /// is negative or not finite.
    pub fn from_counts(low: f64, high: f64, counts: &[f64]) -> Result<Self> {
        let mut h = Self::new(counts.len(), low, high)?;
        for (i, &c) in counts.iter().enumerate() {
            if !(c.is_finite() && c >= 0.0) {
                return Err(Error::InvalidArgument(format!(
                    "bin {} count must be finite and non-negative, got {c}",
                    i + 1
                )));
            }
            h.sum_w[i + 1] = c;
            h.sum_w2[i + 1] = c;
        }
        h.entries = counts.iter().sum::<f64>().round() as u64;
        Ok(h)
    }

    /// Number of in-range bins.
    pub fn n_bins(&self) -> usize {
        self.n_bins
    }

    /// Lower edge of the range.
    pub fn low(&self) -> f64 {
        self.low
    }

    /// Upper edge of the range (exclusive).
    pub fn high(&self) -> f64 {
        self.high
    }

    /// Width of every bin, `(high - low) / n_bins`.
    pub fn bin_width(&self) -> f64 {
        (self.high - self.low) / self.n_bins as f64
    }

    /// ROOT bin number of `x` (see the module docs): 0 underflow, 1..=n_bins, n_bins+1 overflow.
    pub fn find_bin(&self, x: f64) -> usize {
        if x < self.low {
            return 0;
        }
        if !(x < self.high) {
            return self.n_bins + 1;
        }
        let n = self.n_bins as f64;
        let mut bin = 1 + (n * (x - self.low) / (self.high - self.low)) as usize;
        // Rounding in the division can land one bin off at an edge; fix it against the edges
        // computed the way `bin_low_edge` computes them.
        if bin > self.n_bins {
            bin = self.n_bins;
        }
        if x < self.bin_low_edge(bin) {
            bin -= 1;
        } else if bin < self.n_bins && !(x < self.bin_low_edge(bin + 1)) {
            bin += 1;
        }
        bin
    }

    /// Low edge of ROOT bin `bin`: `low + (bin - 1) * width` (for bin 0 this is `low - width`).
    pub fn bin_low_edge(&self, bin: usize) -> f64 {
        self.low + (bin as f64 - 1.0) * self.bin_width()
    }

    /// High edge of ROOT bin `bin` (`bin_low_edge(bin + 1)`).
    pub fn bin_high_edge(&self, bin: usize) -> f64 {
        self.bin_low_edge(bin + 1)
    }

    /// Centre of ROOT bin `bin`.
    pub fn bin_center(&self, bin: usize) -> f64 {
        self.low + (bin as f64 - 0.5) * self.bin_width()
    }

    /// The `n_bins + 1` in-range bin edges, `low` first and `high` last.
    pub fn edges(&self) -> Vec<f64> {
        let mut e: Vec<f64> = (1..=self.n_bins + 1)
            .map(|b| self.bin_low_edge(b))
            .collect();
        e[self.n_bins] = self.high;
        e
    }

    /// Adds one entry of unit weight at `x`.
    pub fn fill(&mut self, x: f64) {
        self.fill_weighted(x, 1.0);
    }

    /// Adds one entry of weight `w` at `x` (sum of weights += w, sum of squared weights += w²).
    pub fn fill_weighted(&mut self, x: f64, w: f64) {
        let b = self.find_bin(x);
        self.sum_w[b] += w;
        self.sum_w2[b] += w * w;
        self.entries += 1;
    }

    /// Sum of weights in ROOT bin `bin` (0 and `n_bins + 1` are under/overflow).
    ///
    /// # Panics
    /// If `bin > n_bins + 1`.
    pub fn bin_content(&self, bin: usize) -> f64 {
        self.sum_w[bin]
    }

    /// Error of ROOT bin `bin`: the square root of its sum of squared weights.
    ///
    /// # Panics
    /// If `bin > n_bins + 1`.
    pub fn bin_error(&self, bin: usize) -> f64 {
        self.sum_w2[bin].sqrt()
    }

    /// Sum of squared weights of ROOT bin `bin`.
    ///
    /// # Panics
    /// If `bin > n_bins + 1`.
    pub fn bin_sum_w2(&self, bin: usize) -> f64 {
        self.sum_w2[bin]
    }

    /// The in-range contents (bins 1..=n_bins), length `n_bins`.
    pub fn contents(&self) -> &[f64] {
        &self.sum_w[1..=self.n_bins]
    }

    /// The in-range sums of squared weights, length `n_bins`.
    pub fn sum_w2(&self) -> &[f64] {
        &self.sum_w2[1..=self.n_bins]
    }

    /// Sum of weights below the range (bin 0).
    pub fn underflow(&self) -> f64 {
        self.sum_w[0]
    }

    /// Sum of weights at or above the upper edge (bin `n_bins + 1`).
    pub fn overflow(&self) -> f64 {
        self.sum_w[self.n_bins + 1]
    }

    /// Number of `fill` calls (ROOT's `GetEntries`), whatever their weights or bins.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Sum of weights of the in-range bins (ROOT's `Integral()`).
    pub fn integral(&self) -> f64 {
        self.contents().iter().sum()
    }

    /// Weighted mean of the in-range bin centres (ROOT's `GetMean` from bin contents).
    /// `NaN` for an empty histogram.
    pub fn mean(&self) -> f64 {
        let sw = self.integral();
        let sx: f64 = (1..=self.n_bins)
            .map(|b| self.sum_w[b] * self.bin_center(b))
            .sum();
        sx / sw
    }

    /// Weighted standard deviation of the in-range bin centres (ROOT's `GetStdDev` from bin
    /// contents, population form). `NaN` for an empty histogram.
    pub fn std_dev(&self) -> f64 {
        let m = self.mean();
        let sw = self.integral();
        let v: f64 = (1..=self.n_bins)
            .map(|b| self.sum_w[b] * (self.bin_center(b) - m).powi(2))
            .sum::<f64>()
            / sw;
        v.max(0.0).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn root_bin_numbering() {
        let h = Hist1D::new(10, 0.0, 1.0).unwrap();
        assert_eq!(h.find_bin(-0.1), 0);
        assert_eq!(h.find_bin(0.0), 1);
        assert_eq!(h.find_bin(0.05), 1);
        assert_eq!(h.find_bin(0.1), 2);
        assert_eq!(h.find_bin(0.999_999), 10);
        assert_eq!(h.find_bin(1.0), 11, "upper edge belongs to the overflow");
        assert_eq!(
            h.find_bin(f64::NAN),
            11,
            "NaN goes to the overflow as in ROOT"
        );
        assert_eq!(h.find_bin(f64::NEG_INFINITY), 0);
    }

    #[test]
    fn edge_rounding_is_corrected() {
        // 0.3 is not representable: 3 * 0.1 = 0.30000000000000004 > 0.3, so the naive formula
        // and the edge disagree unless the lookup is checked against the computed edges.
        let h = Hist1D::new(10, 0.0, 1.0).unwrap();
        for b in 1..=10 {
            let e = h.bin_low_edge(b);
            assert_eq!(h.find_bin(e), b, "low edge {e} of bin {b}");
        }
        let h = Hist1D::new(120, 0.0, 120.0).unwrap();
        assert_eq!(h.find_bin(40.0), 41);
        assert_eq!(h.find_bin(115.2), 116);
    }

    #[test]
    fn weights_and_errors() {
        let mut h = Hist1D::new(4, 0.0, 4.0).unwrap();
        h.fill_weighted(1.5, 2.0);
        h.fill_weighted(1.5, 3.0);
        h.fill(-1.0);
        h.fill(9.0);
        assert_eq!(h.bin_content(2), 5.0);
        assert!((h.bin_error(2) - 13f64.sqrt()).abs() < 1e-15);
        assert_eq!(h.underflow(), 1.0);
        assert_eq!(h.overflow(), 1.0);
        assert_eq!(h.entries(), 4);
        assert_eq!(h.integral(), 5.0);
        assert_eq!(h.mean(), 1.5);
        assert_eq!(h.std_dev(), 0.0);
        assert_eq!(h.edges(), vec![0.0, 1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn bad_binning_is_an_error() {
        assert!(Hist1D::new(0, 0.0, 1.0).is_err());
        assert!(Hist1D::new(5, 1.0, 1.0).is_err());
        assert!(Hist1D::new(5, 0.0, f64::INFINITY).is_err());
        assert!(Hist1D::from_counts(0.0, 1.0, &[1.0, -2.0]).is_err());
    }

    proptest! {
        #[test]
        fn find_bin_agrees_with_edges(n in 1usize..500, low in -1e3f64..1e3, w in 1e-3f64..1e3, x in -2e3f64..4e3) {
            let high = low + w;
            let h = Hist1D::new(n, low, high).unwrap();
            let b = h.find_bin(x);
            prop_assert!(b <= n + 1);
            if b == 0 { prop_assert!(x < low); }
            else if b == n + 1 { prop_assert!(x >= high); }
            else {
                prop_assert!(x >= h.bin_low_edge(b));
                prop_assert!(b == n || x < h.bin_low_edge(b + 1));
            }
        }
    }
}
