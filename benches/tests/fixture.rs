//! The benchmark fixture fits back to its truth (keeps the bench honest: it times a fit that works).

use hep_benches::{PEAK_TRUTH, peak_on_exponential, peak_parameters, peak_sample};
use hep_core::fit::cost::ExtendedBinnedNll;
use hep_core::fit::{FitOptions, chi2_p_value, minimize};

#[test]
fn fixture_fit_recovers_truth() {
    let (edges, counts) = peak_sample(1);
    assert_eq!(counts.iter().sum::<f64>(), 10_000.0);
    let nll = ExtendedBinnedNll::new(edges, counts, peak_on_exponential).unwrap();
    let fit = minimize(&nll, &peak_parameters(), &FitOptions::default()).unwrap();
    assert!(fit.status.is_valid(), "{:?}", fit.status);
    for (i, truth) in PEAK_TRUTH.iter().enumerate() {
        let pull = (fit.values[i] - truth) / fit.errors[i];
        assert!(pull.abs() < 4.0, "parameter {i}: pull {pull}");
    }
    let p = chi2_p_value(nll.deviance(&fit.values), 95);
    assert!(p > 1e-3, "p-value {p}");
}
