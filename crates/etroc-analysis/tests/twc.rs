//! Time-walk correction (spec §4.2): exact recovery, the non-cumulative iteration and the fit
//! table layout.

use etroc_analysis::odr::{FitMethod, polyval};
use etroc_analysis::times::EventTimes;
use etroc_analysis::twc::{TwcOptions, time_walk_correction};
use hep_core::rng::stream;
use rand::RngExt;

/// Three boards with a quadratic walk in TOT and no jitter.
fn walk_data(n: usize) -> (EventTimes, [[f64; 3]; 3]) {
    let walks = [[0.5, -0.30, 0.05], [-0.2, -0.25, 0.04], [0.1, -0.20, 0.06]];
    let mut rng = stream(9, 0);
    let mut toa = vec![Vec::new(); 3];
    let mut tot = vec![Vec::new(); 3];
    for _ in 0..n {
        let t0: f64 = rng.random_range(3.0..9.0);
        for b in 0..3 {
            let x: f64 = rng.random_range(2.0..6.0);
            toa[b].push(t0 + polyval(&walks[b], x));
            tot[b].push(x);
        }
    }
    let times = EventTimes {
        boards: vec![0, 1, 3],
        event: (0..n as i64).collect(),
        toa_ns: toa,
        tot_ns: tot,
    };
    (times, walks)
}

#[test]
fn the_fit_table_has_the_original_layout() {
    let (times, _) = walk_data(500);
    let acc = vec![true; 500];
    let r = time_walk_correction(
        &times,
        &acc,
        &TwcOptions {
            iterations: 3,
            order: 2,
            method: FitMethod::Odr,
        },
    )
    .unwrap();
    // For each iteration and board one applied-0 and one applied-1 row; iteration N is dropped.
    assert_eq!(r.fits.len(), 3 * 3 * 2);
    assert!(
        r.fits
            .iter()
            .all(|f| f.twc_iteration < 3 && f.coefficients.len() == 3)
    );
    assert_eq!(r.fits.iter().filter(|f| f.twc_applied).count(), 9);
    assert_eq!(r.delta.len(), 4);
    assert_eq!(r.toa_twc.len(), 3);
    assert_eq!(r.delta_twc.len(), 3);
}

#[test]
fn corrections_are_not_cumulative_and_remove_the_walk() {
    let (times, walks) = walk_data(3000);
    let acc = vec![true; 3000];
    for method in [FitMethod::Odr, FitMethod::Ols] {
        let r = time_walk_correction(
            &times,
            &acc,
            &TwcOptions {
                iterations: 4,
                order: 2,
                method,
            },
        )
        .unwrap();
        for k in 0..4 {
            for b in 0..3 {
                let row = r
                    .fits
                    .iter()
                    .find(|f| {
                        f.twc_iteration == k
                            && !f.twc_applied
                            && f.board_id == i64::from(times.boards[b])
                    })
                    .unwrap();
                for e in 0..5 {
                    // TOA_twc(k) = raw TOA + P_k(TOT): always from the raw time.
                    let expect =
                        times.toa_ns[b][e] + polyval(&row.coefficients, times.tot_ns[b][e]);
                    assert!((r.toa_twc[k][b][e] - expect).abs() < 1e-12);
                    // Delta(k) uses the raw own time.
                    let others: f64 = (0..3)
                        .filter(|&j| j != b)
                        .map(|j| {
                            if k == 0 {
                                times.toa_ns[j][e]
                            } else {
                                r.toa_twc[k - 1][j][e]
                            }
                        })
                        .sum::<f64>()
                        / 2.0;
                    assert!((r.delta[k][b][e] - (others - times.toa_ns[b][e])).abs() < 1e-12);
                }
            }
        }
        // From iteration 1 on, the corrected times are walk-free: the spread of
        // (corrected time - common t0) is zero up to the fit precision, so the pairwise
        // differences are constant.
        let last = &r.toa_twc[3];
        let d: Vec<f64> = (0..3000).map(|e| last[0][e] - last[1][e]).collect();
        let mean = d.iter().sum::<f64>() / d.len() as f64;
        let rms = (d.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / d.len() as f64).sqrt();
        assert!(rms < 1e-3, "{method}: rms {rms}");
        // The walk's TOT dependence is the negative of the fitted one (up to a constant).
        let p = &r
            .fits
            .iter()
            .find(|f| f.twc_iteration == 3 && !f.twc_applied && f.board_id == 0)
            .unwrap()
            .coefficients;
        assert!(
            (p[1] + walks[0][1]).abs() < 1e-3 && (p[2] + walks[0][2]).abs() < 1e-3,
            "{method}: {p:?}"
        );
    }
}

#[test]
fn bad_options_are_errors() {
    let (times, _) = walk_data(10);
    assert!(
        time_walk_correction(
            &times,
            &[true; 10],
            &TwcOptions {
                iterations: 0,
                ..TwcOptions::default()
            }
        )
        .is_err()
    );
    assert!(time_walk_correction(&times, &[true; 9], &TwcOptions::default()).is_err());
    // Too few accepted events for the order: NaN coefficients, not a crash.
    let mut acc = vec![false; 10];
    acc[0] = true;
    let r = time_walk_correction(&times, &acc, &TwcOptions::default()).unwrap();
    assert!(
        r.fits
            .iter()
            .all(|f| f.coefficients.iter().all(|c| c.is_nan()) && f.n_points == 0)
    );
}
