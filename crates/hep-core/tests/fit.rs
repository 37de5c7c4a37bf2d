//! Statistical validation of `hep_core::fit` against analytic answers and seeded toys.

use hep_core::fit::cost::{ExtendedBinnedNll, LeastSquares, NeymanChi2, UnbinnedNll};
use hep_core::fit::shapes::{add_exponential, add_gaussian};
use hep_core::fit::{
    FitOptions, FnObjective, Method, Objective, Parameter, minimize, profile_interval,
};
use hep_core::rng::stream;
use rand::RngExt;
use rand_distr::{Distribution, Normal, Poisson};
use rayon::prelude::*;

fn gauss_pdf(p: &[f64], x: f64) -> f64 {
    let z = (x - p[0]) / p[1];
    (-0.5 * z * z).exp() / (p[1] * (2.0 * std::f64::consts::PI).sqrt())
}

#[test]
fn gaussian_unbinned_errors_match_asymptotic_formulas() {
    let n = 10_000;
    let mut r = stream(12345, 0);
    let normal = Normal::new(5.0, 2.0).unwrap();
    let data: Vec<f64> = (0..n).map(|_| normal.sample(&mut r)).collect();
    let nll = UnbinnedNll::new(data.clone(), gauss_pdf).unwrap();
    let params = [
        Parameter::new("mu", 4.0, 0.1),
        Parameter::new("sigma", 1.5, 0.1).with_lower(0.0),
    ];
    for method in [
        Method::SimplexThenQuasiNewton,
        Method::QuasiNewton,
        Method::NelderMead,
    ] {
        let opts = FitOptions {
            method,
            ..Default::default()
        };
        let fit = minimize(&nll, &params, &opts).unwrap();
        assert!(fit.status.is_valid(), "{method:?}: {:?}", fit.status);
        // The maximum-likelihood estimates are the sample mean and the population sd.
        let mean = data.iter().sum::<f64>() / n as f64;
        let sd = (data.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
        assert!((fit.values[0] - mean).abs() < 1e-4 * sd, "{method:?} mu");
        assert!((fit.values[1] - sd).abs() < 1e-4 * sd, "{method:?} sigma");
        // Hessian errors: sigma/sqrt(N) and sigma/sqrt(2N), within 2 % (the criterion).
        let e_mu = fit.values[1] / (n as f64).sqrt();
        let e_sigma = fit.values[1] / (2.0 * n as f64).sqrt();
        assert!(
            (fit.errors[0] / e_mu - 1.0).abs() < 0.02,
            "{method:?} {}",
            fit.errors[0]
        );
        assert!(
            (fit.errors[1] / e_sigma - 1.0).abs() < 0.02,
            "{method:?} {}",
            fit.errors[1]
        );
        assert!(fit.correlation(0, 1).unwrap().abs() < 0.05);
        assert!(fit.edm < 1e-4 * 0.5);
    }
}

/// Gaussian peak (yield `p[0]`, mean `p[1]`, width `p[2]`) on a flat background (yield `p[3]`),
/// integrated over each bin.
fn peak_on_flat(p: &[f64], edges: &[f64], out: &mut [f64]) {
    out.fill(0.0);
    add_gaussian(p[0], p[1], p[2], edges, out);
    add_exponential(p[3], 0.0, edges, out);
}

#[test]
fn toy_pulls_of_the_peak_mean_are_standard_normal() {
    // The issue asks for 200 toys with |mean| < 0.15 and |width - 1| < 0.1. With this seed the
    // first 200 toys give a width of 1.10, a 2-sigma fluctuation (2000 toys give 1.007 +- 0.016),
    // so the test uses 1000 toys: the same tolerances are then 4.7 (mean) and 4.5 (width)
    // standard errors, which a correct fitter passes and a 10 % error mis-estimate fails.
    const TOYS: u64 = 1000;
    let truth = [800.0, 50.0, 4.0, 400.0];
    let edges: Vec<f64> = (0..=50).map(|i| 20.0 + 1.2 * i as f64).collect();
    let pulls: Vec<f64> = (0..TOYS)
        .into_par_iter()
        .map(|toy| {
            let mut r = stream(20_261_121, toy);
            let mut expected = vec![0.0; 50];
            peak_on_flat(&truth, &edges, &mut expected);
            let counts: Vec<f64> = expected
                .iter()
                .map(|&nu| Poisson::new(nu).unwrap().sample(&mut r))
                .collect();
            let nll = ExtendedBinnedNll::new(edges.clone(), counts, peak_on_flat).unwrap();
            let params = [
                Parameter::new("n_sig", 700.0, 30.0).with_lower(0.0),
                Parameter::new("mean", 48.0 + 4.0 * r.random::<f64>(), 0.2),
                Parameter::new("sigma", 5.0, 0.2).with_limits(0.5, 20.0),
                Parameter::new("n_bkg", 300.0, 20.0).with_lower(0.0),
            ];
            let fit = minimize(&nll, &params, &FitOptions::default()).unwrap();
            assert!(fit.status.is_valid(), "toy {toy}: {:?}", fit.status);
            (fit.values[1] - truth[1]) / fit.errors[1]
        })
        .collect();
    let n = pulls.len() as f64;
    let mean = pulls.iter().sum::<f64>() / n;
    let width = (pulls.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    // With 1000 toys the mean has a standard error of 0.032 and the width one of 0.022.
    assert!(mean.abs() < 0.15, "pull mean {mean}");
    assert!((width - 1.0).abs() < 0.1, "pull width {width}");
}

/// The interval of a Poisson mean `mu` from `n` counts, where `mu - n ln mu` rises by 0.5 above
/// its minimum at `mu = n`, solved by Newton's method.
fn analytic_poisson_interval(n: f64) -> (f64, f64) {
    let f = |mu: f64| mu - n * mu.ln() - (n - n * n.ln()) - 0.5;
    let df = |mu: f64| 1.0 - n / mu;
    let solve = |mut mu: f64| {
        for _ in 0..100 {
            mu -= f(mu) / df(mu);
        }
        mu
    };
    (solve(n - n.sqrt()), solve(n + n.sqrt()))
}

#[test]
fn profile_interval_of_a_poisson_mean_is_analytic() {
    // Counts in 20 bins from an exponential shape; the total mean `mu` (p[0]) is profiled over
    // the slope (p[1]). The extended likelihood factorises, so the profile in `mu` is exactly
    // `mu - N ln mu` with N the total count.
    let edges: Vec<f64> = (0..=20).map(|i| i as f64 * 0.5).collect();
    let model = |p: &[f64], e: &[f64], out: &mut [f64]| {
        let (lo, hi) = (e[0], e[e.len() - 1]);
        let norm = (-lo / p[1]).exp() - (-hi / p[1]).exp();
        for (i, o) in out.iter_mut().enumerate() {
            *o = p[0] * ((-e[i] / p[1]).exp() - (-e[i + 1] / p[1]).exp()) / norm;
        }
    };
    let mut r = stream(99, 1);
    let mut expected = vec![0.0; 20];
    model(&[40.0, 3.0], &edges, &mut expected);
    let counts: Vec<f64> = expected
        .iter()
        .map(|&nu| Poisson::new(nu).unwrap().sample(&mut r))
        .collect();
    let total: f64 = counts.iter().sum();
    let nll = ExtendedBinnedNll::new(edges, counts, model).unwrap();
    let params = [
        Parameter::new("mu", 30.0, 5.0).with_lower(0.0),
        Parameter::new("slope", 2.0, 0.5).with_limits(0.05, 100.0),
    ];
    let opts = FitOptions::default();
    let fit = minimize(&nll, &params, &opts).unwrap();
    assert!(fit.status.is_valid(), "{:?}", fit.status);
    assert!((fit.values[0] - total).abs() < 1e-4 * total.sqrt());
    let iv = profile_interval(&nll, &params, &fit, 0, 1.0, &opts).unwrap();
    let (lo, hi) = analytic_poisson_interval(total);
    assert!(
        (iv.lower / lo - 1.0).abs() < 1e-3,
        "lower {} vs {lo}",
        iv.lower
    );
    assert!(
        (iv.upper / hi - 1.0).abs() < 1e-3,
        "upper {} vs {hi}",
        iv.upper
    );
    assert!(!iv.lower_at_limit && !iv.upper_at_limit);
    // The interval is asymmetric the Poisson way: longer above than below.
    assert!(iv.error_high() > iv.error_low());
    // Hessian error of the yield: sqrt(N).
    assert!((fit.errors[0] / total.sqrt() - 1.0).abs() < 0.01);
}

#[test]
fn single_parameter_profile_of_one_poisson_count() {
    let n = 10.0;
    let nll = FnObjective::nll(move |p: &[f64]| p[0] - n * p[0].ln());
    let params = [Parameter::new("mu", 5.0, 1.0).with_lower(1e-9)];
    let fit = minimize(&nll, &params, &FitOptions::default()).unwrap();
    let iv = profile_interval(&nll, &params, &fit, 0, 1.0, &FitOptions::default()).unwrap();
    let (lo, hi) = analytic_poisson_interval(n);
    assert!((iv.lower / lo - 1.0).abs() < 1e-3 && (iv.upper / hi - 1.0).abs() < 1e-3);
    // Two standard deviations: the rise is UP * 4 = 2.
    let iv2 = profile_interval(&nll, &params, &fit, 0, 2.0, &FitOptions::default()).unwrap();
    let rise = nll.value(&[iv2.upper]) - fit.min_value;
    assert!((rise - 2.0).abs() < 1e-3, "rise {rise}");
}

#[test]
fn parameter_pushed_against_its_limit_is_flagged() {
    // The data fall with x, but the slope is limited to >= 0: the best fit sits at the limit.
    let x: Vec<f64> = (0..10).map(|i| i as f64).collect();
    let y: Vec<f64> = x.iter().map(|v| 5.0 - v).collect();
    let ls = LeastSquares::new(x, y, vec![0.5; 10], |p: &[f64], x: f64| p[0] + p[1] * x).unwrap();
    let params = [
        Parameter::new("a", 1.0, 0.1),
        Parameter::new("b", 1.0, 0.1).with_lower(0.0),
    ];
    let fit = minimize(&ls, &params, &FitOptions::default()).unwrap();
    assert!(fit.values[1] < 1e-3, "b = {}", fit.values[1]);
    assert_eq!(fit.status.at_limit, vec![false, true]);
    assert!(fit.status.any_at_limit() && !fit.status.is_valid());
    // With b at 0 the best a is the mean of y, 0.5.
    assert!((fit.values[0] - 0.5).abs() < 1e-3);
    // The limit is also reported by the profile interval of b.
    let iv = profile_interval(&ls, &params, &fit, 1, 1.0, &FitOptions::default()).unwrap();
    assert!(iv.lower_at_limit && !iv.upper_at_limit);
}

#[test]
fn straight_line_least_squares_matches_closed_form() {
    let x: Vec<f64> = (0..8).map(|i| i as f64).collect();
    let y = vec![1.1, 2.9, 5.2, 6.8, 9.1, 11.0, 12.8, 15.2];
    let s = 0.3;
    let ls = LeastSquares::new(x.clone(), y.clone(), vec![s; 8], |p: &[f64], x: f64| {
        p[0] + p[1] * x
    })
    .unwrap();
    let fit = minimize(
        &ls,
        &[Parameter::new("a", 0.0, 1.0), Parameter::new("b", 0.0, 1.0)],
        &FitOptions::default(),
    )
    .unwrap();
    let n = x.len() as f64;
    let (sx, sy) = (x.iter().sum::<f64>(), y.iter().sum::<f64>());
    let sxx = x.iter().map(|v| v * v).sum::<f64>();
    let sxy = x.iter().zip(&y).map(|(a, b)| a * b).sum::<f64>();
    let det = n * sxx - sx * sx;
    let b = (n * sxy - sx * sy) / det;
    let a = (sy - b * sx) / n;
    assert!((fit.values[0] - a).abs() < 1e-6 && (fit.values[1] - b).abs() < 1e-6);
    // Covariance of the weighted linear fit: s^2 * [[sxx, -sx], [-sx, n]] / det.
    let v = fit.covariance.as_ref().unwrap();
    assert!((v[(0, 0)] / (s * s * sxx / det) - 1.0).abs() < 1e-4);
    assert!((v[(1, 1)] / (s * s * n / det) - 1.0).abs() < 1e-4);
    assert!((v[(0, 1)] / (-s * s * sx / det) - 1.0).abs() < 1e-4);
}

#[test]
fn neyman_chi2_constant_fit_is_the_harmonic_mean() {
    // For a constant model the Neyman estimate is N_used / sum(1/n_i) over non-empty bins.
    let counts = vec![10.0, 0.0, 14.0, 7.0, 0.0, 12.0];
    let edges: Vec<f64> = (0..=6).map(f64::from).collect();
    let chi = NeymanChi2::new(
        edges,
        counts.clone(),
        |p: &[f64], _: &[f64], o: &mut [f64]| o.fill(p[0]),
    )
    .unwrap();
    let fit = minimize(
        &chi,
        &[Parameter::new("c", 5.0, 1.0)],
        &FitOptions::default(),
    )
    .unwrap();
    let used: Vec<f64> = counts.into_iter().filter(|&c| c > 0.0).collect();
    let harmonic = used.len() as f64 / used.iter().map(|c| 1.0 / c).sum::<f64>();
    assert!((fit.values[0] - harmonic).abs() < 1e-6);
    // Error: 1 / sqrt(sum 1/n_i).
    let err = 1.0 / used.iter().map(|c| 1.0 / c).sum::<f64>().sqrt();
    assert!((fit.errors[0] / err - 1.0).abs() < 1e-4);
    assert_eq!(chi.n_used_bins(), 4);
}

#[test]
fn fixed_parameters_stay_put_and_have_no_error() {
    let f = FnObjective::chi2(|p: &[f64]| (p[0] - 1.0).powi(2) + (p[1] - p[0]).powi(2) / 4.0);
    let params = [
        Parameter::new("a", 0.0, 0.5),
        Parameter::new("b", 3.0, 0.5).fixed(),
    ];
    let fit = minimize(&f, &params, &FitOptions::default()).unwrap();
    assert_eq!(fit.values[1], 3.0);
    assert_eq!(fit.errors[1], 0.0);
    // d/da: 2(a-1) - 2(3-a)/4 = 0  =>  a = 1.4; d2/da2 = 2.5 => error sqrt(2/2.5).
    assert!((fit.values[0] - 1.4).abs() < 1e-6);
    assert!((fit.errors[0] - (2.0f64 / 2.5).sqrt()).abs() < 1e-5);
}

#[test]
fn a_flat_parameter_at_its_limit_is_held_fixed_for_the_covariance() {
    // `c` enters only linearly: the best fit pushes it to its upper limit, where the objective
    // has no curvature in it, so the full Hessian is singular. The covariance of `a` and `b` must
    // still be reported, with `c` flagged and its error NaN.
    let f = FnObjective::chi2(|p: &[f64]| {
        (p[0] - 1.0).powi(2) / 0.04 + (p[1] + 2.0).powi(2) / 0.25 + 0.01 * (5.0 - p[2])
    });
    let params = [
        Parameter::new("a", 0.0, 0.1),
        Parameter::new("b", 0.0, 0.1),
        Parameter::new("c", 1.0, 0.5).with_limits(0.1, 5.0),
    ];
    let fit = minimize(&f, &params, &FitOptions::default()).unwrap();
    assert!(
        fit.status.covariance_pos_def && fit.status.converged,
        "{:?}",
        fit.status
    );
    assert_eq!(fit.status.at_limit, vec![false, false, true]);
    assert!((fit.errors[0] - 0.2).abs() < 1e-4 && (fit.errors[1] - 0.5).abs() < 1e-4);
    assert!(fit.errors[2].is_nan());
}
