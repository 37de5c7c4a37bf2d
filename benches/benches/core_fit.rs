//! Core fit benchmark: one extended binned likelihood fit of a Gaussian peak on an exponential
//! background (100 bins, 10 000 events, 5 free parameters), with and without Hessian errors,
//! and the profile-likelihood interval of the peak position.

use criterion::{Criterion, criterion_group, criterion_main};
use hep_benches::{peak_on_exponential, peak_parameters, peak_sample};
use hep_core::fit::cost::ExtendedBinnedNll;
use hep_core::fit::{FitOptions, Method, minimize, profile_interval};
use std::hint::black_box;

fn core_fit(c: &mut Criterion) {
    let (edges, counts) = peak_sample(1);
    let nll = ExtendedBinnedNll::new(edges, counts, peak_on_exponential).expect("valid sample");
    let params = peak_parameters();
    let mut g = c.benchmark_group("binned_nll_peak_on_exponential_100bins_10k");
    for (label, method) in [
        ("simplex+lbfgs", Method::SimplexThenQuasiNewton),
        ("lbfgs", Method::QuasiNewton),
    ] {
        let no_errors = FitOptions {
            method,
            compute_covariance: false,
            ..Default::default()
        };
        let with_errors = FitOptions {
            method,
            ..Default::default()
        };
        g.bench_function(format!("{label}/no_errors"), |b| {
            b.iter(|| minimize(black_box(&nll), black_box(&params), &no_errors).expect("fit"))
        });
        g.bench_function(format!("{label}/hessian_errors"), |b| {
            b.iter(|| minimize(black_box(&nll), black_box(&params), &with_errors).expect("fit"))
        });
    }
    let opts = FitOptions::default();
    let fit = minimize(&nll, &params, &opts).expect("fit");
    g.bench_function("profile_interval_of_mean", |b| {
        b.iter(|| profile_interval(black_box(&nll), &params, &fit, 1, 1.0, &opts).expect("minos"))
    });
    g.finish();
}

criterion_group!(benches, core_fit);
criterion_main!(benches);
