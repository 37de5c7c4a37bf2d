//! Known-answer tests of the polynomial fits (spec §4.2): exact data, the closed-form Deming
//! line, and the ODR optimality conditions on noisy quadratic data.

use etroc_analysis::odr::{
    FitMethod, OdrOptions, deming_line, fit_polynomial, odr_polynomial, ols_line, ols_polynomial,
    polyval, polyval_derivative,
};
use hep_core::rng::stream;
use rand_distr::{Distribution, Normal};

#[test]
fn exact_polynomials_are_recovered_by_both_methods() {
    let truth = [0.3, -0.7, 0.05, 0.01];
    for order in 1..=3 {
        let coeffs = &truth[..=order];
        let x: Vec<f64> = (0..40).map(|i| 1.5 + 0.15 * i as f64).collect();
        let y: Vec<f64> = x.iter().map(|&v| polyval(coeffs, v)).collect();
        for method in [FitMethod::Odr, FitMethod::Ols] {
            let fit = fit_polynomial(&x, &y, order, method).unwrap();
            assert!(fit.converged, "{method} order {order}");
            for (k, (&a, &b)) in fit.coefficients.iter().zip(coeffs).enumerate() {
                assert!(
                    (a - b).abs() < 1e-9,
                    "{method} order {order} p{k}: {a} vs {b}"
                );
            }
            assert!(
                fit.sum_of_squares < 1e-18,
                "{method}: S = {}",
                fit.sum_of_squares
            );
        }
    }
}

#[test]
fn odr_line_equals_the_deming_closed_form_and_differs_from_ols() {
    // Errors of equal size on x and y: OLS is attenuated, ODR (Deming, ratio 1) is not.
    let mut rng = stream(11, 0);
    let noise = Normal::new(0.0, 0.3).unwrap();
    let xt: Vec<f64> = (0..400).map(|i| i as f64 * 0.01).collect();
    let x: Vec<f64> = xt.iter().map(|&v| v + noise.sample(&mut rng)).collect();
    let y: Vec<f64> = xt
        .iter()
        .map(|&v| 1.0 + 0.8 * v + noise.sample(&mut rng))
        .collect();
    let odr = odr_polynomial(&x, &y, 1, &OdrOptions::default()).unwrap();
    let deming = deming_line(&x, &y).unwrap();
    let ols = ols_line(&x, &y).unwrap();
    let olsp = ols_polynomial(&x, &y, 1).unwrap();
    assert!(odr.converged);
    assert!(
        (odr.coefficients[1] - deming.slope).abs() < 1e-10,
        "{odr:?} {deming:?}"
    );
    assert!((odr.coefficients[0] - deming.intercept).abs() < 1e-10);
    assert!((olsp.coefficients[1] - ols.slope).abs() < 1e-12);
    // Attenuation of OLS: slope * var(xt)/(var(xt)+0.09) with var(xt) = 4^2/12 = 1.333.
    assert!(
        ols.slope < deming.slope - 0.02,
        "ols {} deming {}",
        ols.slope,
        deming.slope
    );
}

#[test]
fn odr_quadratic_satisfies_the_optimality_conditions() {
    // At the ODR minimum: delta_i = -r_i P'(x_i+delta_i) for every point (stationarity in delta),
    // and the projections minimise S: compare with S at nearby coefficients.
    let mut rng = stream(12, 0);
    let nx = Normal::new(0.0, 0.2).unwrap();
    let ny = Normal::new(0.0, 0.2).unwrap();
    let truth = [2.5, -1.5, 0.1];
    let xt: Vec<f64> = (0..3000).map(|i| 1.5 + 6.0 * (i as f64) / 3000.0).collect();
    let x: Vec<f64> = xt.iter().map(|&v| v + nx.sample(&mut rng)).collect();
    let y: Vec<f64> = xt
        .iter()
        .map(|&v| polyval(&truth, v) + ny.sample(&mut rng))
        .collect();
    let fit = odr_polynomial(&x, &y, 2, &OdrOptions::default()).unwrap();
    assert!(fit.converged);
    // Orthogonal distance of each point to the curve, by a 1-D minimisation per point.
    let s_at = |b: &[f64]| -> f64 {
        x.iter()
            .zip(&y)
            .map(|(&xi, &yi)| {
                let mut d = 0.0;
                for _ in 0..50 {
                    let u = xi + d;
                    let r = polyval(b, u) - yi;
                    let g = polyval_derivative(b, u);
                    let h = g * g + 1.0 + r * 2.0 * b[2];
                    d -= (r * g + d) / h;
                }
                (polyval(b, xi + d) - yi).powi(2) + d * d
            })
            .sum()
    };
    let s0 = s_at(&fit.coefficients);
    assert!(
        (s0 - fit.sum_of_squares).abs() < 1e-9 * s0,
        "{s0} {}",
        fit.sum_of_squares
    );
    for k in 0..3 {
        for sign in [-1.0, 1.0] {
            let mut b = fit.coefficients.clone();
            b[k] += sign * 1e-4 * b[k].abs().max(1e-2);
            assert!(s_at(&b) > s0, "p{k} {sign}");
        }
    }
    // Equal error variances on x and y: the ODR answer is close to the truth (within 5 standard
    // errors) while OLS is visibly attenuated.
    for (k, &t) in truth.iter().enumerate() {
        assert!(
            (fit.coefficients[k] - t).abs() < 5.0 * fit.std_errors[k],
            "p{k}: {} +- {} vs {t}",
            fit.coefficients[k],
            fit.std_errors[k],
        );
    }
    let ols = ols_polynomial(&x, &y, 2).unwrap();
    assert!(
        (ols.coefficients[1] - fit.coefficients[1]).abs() > 3.0 * fit.std_errors[1],
        "{ols:?} {fit:?}"
    );
}

#[test]
fn bad_input_is_an_error() {
    assert!(odr_polynomial(&[1.0], &[1.0], 2, &OdrOptions::default()).is_err());
    assert!(odr_polynomial(&[1.0, 2.0], &[1.0], 0, &OdrOptions::default()).is_err());
    assert!(
        odr_polynomial(
            &[1.0, f64::NAN, 3.0],
            &[1.0, 2.0, 3.0],
            1,
            &OdrOptions::default()
        )
        .is_err()
    );
    assert!(ols_polynomial(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0], 2).is_err());
    let bad = OdrOptions {
        beta0: Some(vec![1.0]),
        ..OdrOptions::default()
    };
    assert!(odr_polynomial(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0], 1, &bad).is_err());
}

#[test]
fn large_samples_reach_the_same_minimum() {
    // 200 000 points take the subsample start; the answer is still the closed-form Deming line.
    let mut rng = stream(13, 0);
    let noise = Normal::new(0.0, 0.25).unwrap();
    let xt: Vec<f64> = (0..200_000)
        .map(|i| 2.0 + 4.0 * (i % 1000) as f64 / 1000.0)
        .collect();
    let x: Vec<f64> = xt.iter().map(|&v| v + noise.sample(&mut rng)).collect();
    let y: Vec<f64> = xt
        .iter()
        .map(|&v| -1.9 + 0.7 * v + noise.sample(&mut rng))
        .collect();
    let odr = odr_polynomial(&x, &y, 1, &OdrOptions::default()).unwrap();
    let deming = deming_line(&x, &y).unwrap();
    assert!(odr.converged);
    assert!(
        (odr.coefficients[1] - deming.slope).abs() < 1e-9,
        "{odr:?} {deming:?}"
    );
    assert!((odr.coefficients[0] - deming.intercept).abs() < 1e-9);
}

#[test]
fn the_fit_does_not_depend_on_the_thread_count() {
    let mut rng = stream(14, 0);
    let noise = Normal::new(0.0, 0.05).unwrap();
    let x: Vec<f64> = (0..140_000)
        .map(|i| 1.5 + 6.0 * (i % 997) as f64 / 997.0)
        .collect();
    let y: Vec<f64> = x
        .iter()
        .map(|&v| polyval(&[-2.0, 0.7, -0.05], v) + noise.sample(&mut rng))
        .collect();
    let fit = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| odr_polynomial(&x, &y, 2, &OdrOptions::default()).unwrap())
    };
    let (a, b) = (fit(1), fit(3));
    let bits = |f: &etroc_analysis::odr::PolyFit| -> Vec<u64> {
        f.coefficients.iter().map(|c| c.to_bits()).collect()
    };
    assert_eq!(bits(&a), bits(&b));
    assert_eq!(a.sum_of_squares.to_bits(), b.sum_of_squares.to_bits());
}

#[test]
fn newton_refinement_of_large_samples_reaches_the_levenberg_marquardt_minimum() {
    // A time-walk-like quadratic with errors in both variables, large enough for the subsample
    // start. The reduced-objective Newton steps and the Levenberg-Marquardt iteration must stop at
    // the same minimum: coefficients to 1e-8 relative (both stop on a relative step of 1e-10),
    // the same S, and the same standard errors (both from the delta-eliminated Gauss-Newton
    // matrix at the solution).
    let mut rng = stream(15, 0);
    let nx = Normal::new(0.0, 0.15).unwrap();
    let ny = Normal::new(0.0, 0.05).unwrap();
    let truth = [-2.0, 0.7, -0.05];
    let xt: Vec<f64> = (0..300_000)
        .map(|i| 1.5 + 6.0 * (i % 1009) as f64 / 1009.0)
        .collect();
    let x: Vec<f64> = xt.iter().map(|&v| v + nx.sample(&mut rng)).collect();
    let y: Vec<f64> = xt
        .iter()
        .map(|&v| polyval(&truth, v) + ny.sample(&mut rng))
        .collect();
    let newton = odr_polynomial(&x, &y, 2, &OdrOptions::default()).unwrap();
    let lm = odr_polynomial(
        &x,
        &y,
        2,
        &OdrOptions {
            reduced_newton: false,
            ..OdrOptions::default()
        },
    )
    .unwrap();
    assert!(newton.converged && lm.converged);
    assert!(
        newton.iterations < lm.iterations,
        "newton {} lm {}",
        newton.iterations,
        lm.iterations
    );
    for k in 0..3 {
        let (a, b) = (newton.coefficients[k], lm.coefficients[k]);
        assert!((a - b).abs() <= 1e-8 * b.abs(), "p{k}: {a} vs {b}");
        let (ea, eb) = (newton.std_errors[k], lm.std_errors[k]);
        assert!((ea - eb).abs() <= 1e-6 * eb, "sd p{k}: {ea} vs {eb}");
    }
    assert!(
        (newton.sum_of_squares - lm.sum_of_squares).abs() <= 1e-12 * lm.sum_of_squares,
        "{} vs {}",
        newton.sum_of_squares,
        lm.sum_of_squares
    );
}
