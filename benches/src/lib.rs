//! Shared fixtures of the hep-rs criterion benches.
//!
//! The benches themselves are in `benches/benches/*.rs`; run them with
//! `cargo bench -p hep-benches` (add `-- --quick` for a short run). Figures are recorded in
//! `docs/performance.md`.

use hep_core::fit::shapes::{add_exponential, add_gaussian};
use hep_core::rng::stream;
use rand_distr::{Distribution, Exp, Normal};

/// Truth of the core-fit benchmark: a Gaussian peak on an exponential background on `[0, 100)`.
///
/// Parameters, in order: signal yield (events), peak mean, peak sigma (both in the x unit),
/// background yield (events), background slope (1/x unit).
pub const PEAK_TRUTH: [f64; 5] = [3000.0, 60.0, 4.0, 7000.0, 0.03];

/// Range and binning of the core-fit benchmark: 100 bins on `[0, 100)`.
pub const PEAK_RANGE: (f64, f64, usize) = (0.0, 100.0, 100);

/// Expected counts per bin of the peak-on-exponential model, integrated analytically over each
/// bin (`edges.len() == out.len() + 1`). Parameters as in [`PEAK_TRUTH`].
pub fn peak_on_exponential(p: &[f64], edges: &[f64], out: &mut [f64]) {
    out.fill(0.0);
    add_gaussian(p[0], p[1], p[2], edges, out);
    add_exponential(p[3], p[4], edges, out);
}

/// A histogram of 10 000 events drawn from [`PEAK_TRUTH`] (seeded, reproducible), as
/// `(edges, counts)`.
pub fn peak_sample(seed: u64) -> (Vec<f64>, Vec<f64>) {
    let (lo, hi, n) = PEAK_RANGE;
    let mut h = hep_core::hist::Hist1D::new(n, lo, hi).expect("valid binning");
    let mut r = stream(seed, 0);
    let gauss = Normal::new(PEAK_TRUTH[1], PEAK_TRUTH[2]).expect("valid normal");
    let expo = Exp::new(PEAK_TRUTH[4]).expect("valid exponential");
    let n_sig = PEAK_TRUTH[0] as usize;
    let n_tot = (PEAK_TRUTH[0] + PEAK_TRUTH[3]) as usize;
    let mut filled = 0;
    while filled < n_tot {
        let x = if filled < n_sig {
            gauss.sample(&mut r)
        } else {
            expo.sample(&mut r)
        };
        if (lo..hi).contains(&x) {
            h.fill(x);
            filled += 1;
        }
    }
    (h.edges(), h.contents().to_vec())
}

/// Start values, steps and limits of the core-fit benchmark (deliberately off the truth).
pub fn peak_parameters() -> Vec<hep_core::fit::Parameter> {
    use hep_core::fit::Parameter;
    vec![
        Parameter::new("n_sig", 2500.0, 100.0).with_lower(0.0),
        Parameter::new("mean", 58.0, 0.5).with_limits(40.0, 80.0),
        Parameter::new("sigma", 5.0, 0.3).with_limits(0.5, 20.0),
        Parameter::new("n_bkg", 7500.0, 100.0).with_lower(0.0),
        Parameter::new("slope", 0.02, 0.003).with_limits(1e-4, 1.0),
    ]
}
