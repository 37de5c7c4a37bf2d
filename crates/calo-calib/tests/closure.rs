//! Closure test (issue 3): simulate channels with known gains, fit them, compare the constants.
//!
//! 200 SiPM channels at the design statistics of 63 000 events per crystal, with a 1.5 % gain
//! spread, fitted with both objectives. The test checks first that every true peak lies inside
//! SourceFitter's window of 91-108 ADC (a peak outside it is flagged PEAK_AT_LIMIT and counted as
//! failed, which is right but is not what closure tests): with this seed a 2 % spread already
//! puts one channel, a 3.8-sigma gain draw, at 90.5 ADC.
//! The pulls `(adc2mev_fit - adc2mev_true) / adc2mev_err` must have a mean within +-0.1 and a
//! width within 1 +- 0.15 (standard errors with 200 channels: 0.071 and 0.050), and fewer than
//! 0.5 % of the fits may fail (none of 200). The Hessian error is used: at 63 000 events the
//! likelihood is parabolic around the peak (spec §9-10). The profile intervals are checked against
//! the Hessian errors and, at their ends, against an independent profile scan.

use calo_calib::channel::IdMode;
use calo_calib::detector::{Selection, fit_detector, source_table_rows};
use calo_calib::fit::{FitConfig, Method, profile_scan};
use calo_calib::simulate::{SimConfig, simulate_detector};

fn stats(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    (
        m,
        (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt(),
    )
}

#[test]
fn fitted_constants_close_on_the_truth_for_both_methods() {
    let sim = SimConfig {
        seed: 42,
        gain_spread: 0.015,
        ..SimConfig::default()
    };
    let ids: Vec<u32> = (0..200).collect();
    let (set, truth) = simulate_detector(&sim, &ids, IdMode::PerSipm).unwrap();
    assert!(
        truth.iter().all(|t| (92.0..107.0).contains(&t.peak_adc)),
        "precondition: every true peak inside the fit window"
    );
    for method in [Method::Nll, Method::Chi2] {
        let cfg = FitConfig {
            method,
            ..FitConfig::default()
        };
        let fits = fit_detector(&set, &cfg, &Selection::default()).unwrap();
        assert_eq!(fits.len(), 200);
        let failed = fits.iter().filter(|f| !f.is_ok()).count();
        assert_eq!(failed, 0, "{method:?}: {failed} failed fits");
        let pulls: Vec<f64> = fits
            .iter()
            .zip(&truth)
            .map(|(f, t)| {
                assert_eq!(f.roid, t.roid);
                (f.adc2mev - t.adc2mev_mev_per_adc) / f.adc2mev_err
            })
            .collect();
        let (m, w) = stats(&pulls);
        let rel: Vec<f64> = fits.iter().map(|f| f.adc2mev_err / f.adc2mev).collect();
        let (rel_m, _) = stats(&rel);
        eprintln!("{method:?}: adc2mev pulls {m:.3} +- {w:.3}; mean relative error {rel_m:.4}");
        assert!(m.abs() < 0.1, "{method:?}: pull mean {m}");
        assert!((w - 1.0).abs() < 0.15, "{method:?}: pull width {w}");
        // §9: about 0.3 % statistical precision on P at 63 000 events.
        assert!(
            (0.002..0.005).contains(&rel_m),
            "{method:?}: relative error {rel_m}"
        );
        // The profile interval is found for every channel. The likelihood being nearly parabolic
        // at this statistics, it agrees with the Hessian error: median ratio within 2 %, 90 % of
        // the channels within 5 %. (The numerical Hessian is the less precise of the two: on the
        // worst channel, roid 120, it is 20 % larger than the profile, which the independent
        // profile scan below confirms.)
        let mut ratios: Vec<f64> = fits
            .iter()
            .map(|f| 0.5 * (f.peak_err_low + f.peak_err_high) / f.peak_err)
            .collect();
        assert!(
            ratios.iter().all(|r| r.is_finite()),
            "{method:?}: missing interval"
        );
        ratios.sort_by(f64::total_cmp);
        let median = ratios[ratios.len() / 2];
        let within = ratios.iter().filter(|r| (*r - 1.0).abs() < 0.05).count();
        eprintln!("{method:?}: interval / Hessian median {median:.3}, {within} of 200 within 5 %");
        assert!(
            (median - 1.0).abs() < 0.02,
            "{method:?}: median ratio {median}"
        );
        assert!(within >= 180, "{method:?}: {within} channels within 5 %");
        // At both ends of the interval the profile (minimised over everything else by the
        // generic minimiser, independently of the fit's own interval search) is UP above the
        // minimum.
        let up = match method {
            Method::Nll => 0.5,
            Method::Chi2 => 1.0,
        };
        for roid in [0u32, 57, 120, 199] {
            let f = &fits[roid as usize];
            let s = set.get(roid).unwrap();
            let ends = [f.peak - f.peak_err_low, f.peak + f.peak_err_high];
            let min = match method {
                Method::Nll => f.nll,
                Method::Chi2 => f.chi2,
            };
            for (x, v) in profile_scan(&s.edges, &s.counts, &cfg, &ends).unwrap() {
                assert!(
                    ((v - min) / up - 1.0).abs() < 2e-3,
                    "{method:?} roid {roid}: profile at {x} is {} UP above the minimum",
                    (v - min) / up
                );
            }
        }
        // The DB archive rows carry the same peaks.
        let rows = source_table_rows(&fits);
        assert_eq!(rows.len(), 2720);
        assert_eq!(rows[17].fullepeak, fits[17].peak);
        assert_eq!(rows[1000].fullepeak, 0.0);
    }
}

/// Per-crystal mode (`--per-crystal`): the crystal histograms of MakeAnalysisTree hold, through
/// its registration quirk (spec §2), one SiPM's amplitude, so they close on the truth like SiPM
/// spectra. 100 crystals of disk 0 and disk 1 each, nll.
#[test]
fn per_crystal_fits_close_on_the_truth() {
    let sim = SimConfig {
        seed: 7,
        gain_spread: 0.015,
        ..SimConfig::default()
    };
    let ids: Vec<u32> = (0..100).chain(674..774).collect();
    let (set, truth) = simulate_detector(&sim, &ids, IdMode::PerCrystal).unwrap();
    assert!(truth.iter().all(|t| (92.0..107.0).contains(&t.peak_adc)));
    let fits = fit_detector(&set, &FitConfig::default(), &Selection::default()).unwrap();
    assert_eq!(fits.len(), 200);
    assert!(fits.iter().all(|f| f.is_ok()));
    let pulls: Vec<f64> = fits
        .iter()
        .zip(&truth)
        .map(|(f, t)| {
            assert_eq!(f.roid, t.roid);
            (f.adc2mev - t.adc2mev_mev_per_adc) / f.adc2mev_err
        })
        .collect();
    let (m, w) = stats(&pulls);
    eprintln!("per crystal: adc2mev pulls {m:.3} +- {w:.3}");
    assert!(m.abs() < 0.1, "pull mean {m}");
    assert!((w - 1.0).abs() < 0.15, "pull width {w}");
    // Disk selection in crystal ids: disk 1 starts at crystal 674.
    let disk1 = fit_detector(
        &set,
        &FitConfig::default(),
        &Selection {
            disk: Some(1),
            ..Selection::default()
        },
    )
    .unwrap();
    assert_eq!(disk1.len(), 100);
    assert!(disk1.iter().all(|f| f.roid >= 674));
}
