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
//! likelihood is parabolic around the peak (spec §9-10).

use calo_calib::channel::IdMode;
use calo_calib::detector::{Selection, fit_detector, source_table_rows};
use calo_calib::fit::{FitConfig, Method};
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
            peak_interval: false,
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
        // The DB archive rows carry the same peaks.
        let rows = source_table_rows(&fits);
        assert_eq!(rows.len(), 2720);
        assert_eq!(rows[17].fullepeak, fits[17].peak);
        assert_eq!(rows[1000].fullepeak, 0.0);
    }
}
