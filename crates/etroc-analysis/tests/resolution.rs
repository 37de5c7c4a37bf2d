//! Resolution statistics (spec §4.3): the formulas on data with known widths, and the error and
//! flag cases (fewer than 3 boards, negative variance, too few events).

use etroc_analysis::resolution::{Step, analyse, resolution_rows, sample_std, width_uncertainty};
use hep_core::rng::stream;
use rand_distr::{Distribution, Normal};

/// Times of `n` events for boards with jitters `sigmas` (ns) around a common t0.
fn times(sigmas: &[f64], n: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut rng = stream(seed, 0);
    let t0 = Normal::new(5.0, 1.0).unwrap();
    let mut out = vec![Vec::with_capacity(n); sigmas.len()];
    for _ in 0..n {
        let t: f64 = t0.sample(&mut rng);
        for (b, &s) in sigmas.iter().enumerate() {
            out[b].push(t + Normal::new(0.0, s).unwrap().sample(&mut rng));
        }
    }
    out
}

#[test]
fn sample_std_is_ddof_1_and_skips_rejected_and_nan() {
    let v = [1.0, 2.0, 3.0, 4.0, f64::NAN, 100.0];
    let a = [true, true, true, true, true, false];
    let (w, n) = sample_std(&v, &a);
    assert_eq!(n, 4);
    assert!((w - (5.0f64 / 3.0).sqrt()).abs() < 1e-15);
    assert!((width_uncertainty(w, n) - w / 6f64.sqrt()).abs() < 1e-15);
    assert!(sample_std(&[1.0], &[true]).0.is_nan());
}

#[test]
fn three_boards_recover_the_jitters_and_both_estimators_agree() {
    let sig = [0.040, 0.045, 0.050];
    let n = 40_000;
    let t = times(&sig, n, 1);
    let rows = resolution_rows(&[0, 1, 3], &t, &vec![true; n], 2, "Final", 0).unwrap();
    for (r, &s) in rows.iter().zip(&sig) {
        assert!(r.is_ok(), "{r:?}");
        // Pull within 4 sigma of the statistical uncertainty.
        assert!(
            (r.time_resolution_new - s).abs() < 4.0 * r.time_resolution_new_unc,
            "{r:?}"
        );
        // N = 3: the two estimators are algebraically identical (spec §4.3).
        assert!((r.time_resolution - r.time_resolution_new).abs() < 1e-14);
        // Width of Delta_i: sigma_i^2 + (sum of the others)/4.
        let others: f64 = sig.iter().filter(|&&x| x != s).map(|x| x * x).sum();
        let expect = (s * s + others / 4.0).sqrt();
        assert!((r.time_delta_width - expect).abs() < 4.0 * r.time_delta_width_unc);
        assert_eq!(r.n_events, n);
        assert_eq!(r.step_name, "Final");
        assert_eq!(r.step_order, 2);
    }
    // Cyclic differences: (0,1), (1,3), (3,0).
    let w01 = (sig[0] * sig[0] + sig[1] * sig[1]).sqrt();
    assert!((rows[0].time_diff_width - w01).abs() < 4.0 * rows[0].time_diff_width_unc);
}

#[test]
fn n_board_formula_inverts_the_delta_widths() {
    // Feed exact widths through four boards: sigma^2 from (N-1)/(N^3-2N^2)[(N^2-N-1)w_i^2 - sum w_j^2].
    let sig = [0.030, 0.040, 0.050, 0.060];
    let n = 60_000;
    let t = times(&sig, n, 2);
    let rows = resolution_rows(&[0, 1, 2, 3], &t, &vec![true; n], 0, "Final", 0).unwrap();
    for (r, &s) in rows.iter().zip(&sig) {
        assert!(
            (r.time_resolution_new - s).abs() < 4.0 * r.time_resolution_new_unc,
            "{r:?}"
        );
        // The pairwise 3-board estimate is not defined for N = 4.
        assert!(r.time_resolution.is_nan());
        assert!(r.is_ok());
    }
}

#[test]
fn too_few_boards_is_an_error() {
    let t = times(&[0.04, 0.05], 100, 3);
    let e = resolution_rows(&[0, 1], &t, &[true; 100], 0, "Final", 0).unwrap_err();
    assert!(e.to_string().contains("at least 3 boards"), "{e}");
    let e = analyse(
        &[0, 1],
        &[t],
        &[Step {
            order: 0,
            name: "Final".into(),
            accepted: vec![true; 100],
        }],
    );
    assert!(e.is_err());
}

#[test]
fn negative_variance_is_flagged_not_hidden() {
    // Board 0 and 1 identical, board 3 with a huge independent spread: w^d(0,1) = 0 and the
    // system gives sigma_0^2 < 0 and sigma_1^2 < 0 (the "Middle Power" case of spec §8.2).
    let n = 2000;
    let mut rng = stream(4, 0);
    let g = Normal::new(0.0, 1.0).unwrap();
    let base: Vec<f64> = (0..n).map(|_| g.sample(&mut rng) * 0.01).collect();
    let b3: Vec<f64> = (0..n).map(|_| g.sample(&mut rng) * 0.5).collect();
    let t = vec![
        base.clone(),
        base.iter().map(|v| v + 1e-6 * g.sample(&mut rng)).collect(),
        b3,
    ];
    let rows = resolution_rows(&[0, 1, 3], &t, &vec![true; n], 0, "Final", 0).unwrap();
    let flagged: Vec<_> = rows
        .iter()
        .filter(|r| r.flag.contains("negative_variance"))
        .collect();
    assert!(!flagged.is_empty(), "{rows:?}");
    for r in flagged {
        assert!(r.time_resolution_new.is_nan() && r.time_resolution_new_unc.is_nan());
        assert!(r.time_resolution.is_nan());
    }
    // The board with a real positive variance keeps its value.
    assert!(rows[2].time_resolution_new.is_finite());
}

#[test]
fn too_few_events_is_flagged() {
    let t = times(&[0.04, 0.045, 0.05], 10, 5);
    let mut acc = vec![false; 10];
    acc[3] = true;
    let rows = resolution_rows(&[0, 1, 3], &t, &acc, 0, "Final", 0).unwrap();
    for r in &rows {
        assert!(r.flag.contains("too_few_events"));
        assert!(r.time_resolution_new.is_nan());
        assert_eq!(r.n_events, 1);
    }
}
