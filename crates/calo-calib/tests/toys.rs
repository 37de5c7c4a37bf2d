//! The statistical target of spec §10: toys of the source model, fitted with the multi-start.
//!
//! Truth: P = 100 ADC, sigma = 0.45 MeV, alpha = 1.2, n = 5, beta = -0.04 /ADC, fractions
//! full/first/second/background = 0.35/0.25/0.15/0.25 of 10 000 events on [40, 120] ADC, 120 bins
//! of 1 ADC, fit range [40, 115.2]. Each toy draws Poisson counts around the exact bin integrals
//! of the model. Over 100 toys the pulls of P must have a mean within +-0.15 and a width within
//! 1 +- 0.15 for both objectives.
//!
//! Following §10, coverage is judged with the profile likelihood: the pull is the signed root of
//! the likelihood ratio, `sign(P_fit - P_true) sqrt((F(P_true) - F_min) / UP)`, with `F(P_true)`
//! the objective minimised over all other parameters at the true peak. It is below `n` exactly
//! when the `n`-sigma profile interval covers the truth. The pull with the side of the MINOS-like
//! interval towards the truth, `(P_fit - P_true) / err`, only agrees with it where the profile is
//! parabolic out to the truth: at 10 000 events the model has distant local minima (a long
//! low-side tail, alpha about 0.7, trades against a higher peak), and on a few toys the global
//! minimum is there, 3-4 ADC from the truth on a plateau-shaped profile, where `err` (the slope
//! near the minimum) understates the distance. Both pulls and the Hessian pull are printed.

use calo_calib::fit::{ChannelFit, FitConfig, Method, fit_spectrum, profile_scan};
use calo_calib::model::{BinEvaluation, ModelRange, expected_counts};
use rand_distr::{Distribution, Poisson};
use rayon::prelude::*;

const TRUTH: [f64; 8] = [100.0, 0.45, 1.2, -0.04, 3500.0, 2500.0, 1500.0, 2500.0];
const TOYS: u64 = 100;

fn toy(seed: u64) -> (Vec<f64>, Vec<f64>) {
    let edges: Vec<f64> = (0..=120).map(f64::from).collect();
    let mut mu = vec![0.0; 80];
    let range = ModelRange {
        low: 40.0,
        high: 120.0,
    };
    expected_counts(
        &TRUTH,
        range,
        BinEvaluation::Integrate,
        &edges[40..],
        &mut mu,
    );
    let mut r = hep_core::rng::stream(20_261_121, seed);
    let mut counts = vec![0.0; 120];
    for (c, &m) in counts[40..].iter_mut().zip(&mu) {
        *c = Poisson::new(m).unwrap().sample(&mut r);
    }
    (edges, counts)
}

fn stats(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let s = (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    (m, s)
}

fn interval_pull(f: &ChannelFit) -> f64 {
    let d = f.peak - TRUTH[0];
    d / if d > 0.0 {
        f.peak_err_low
    } else {
        f.peak_err_high
    }
}

/// Signed root of the likelihood ratio at the true peak (see the module docs).
fn ratio_pull(f: &ChannelFit, edges: &[f64], counts: &[f64], cfg: &FitConfig) -> f64 {
    let at_truth = profile_scan(edges, counts, cfg, &[TRUTH[0]]).unwrap()[0].1;
    let (min, up) = match cfg.method {
        Method::Nll => (f.nll, 0.5),
        Method::Chi2 => (f.chi2, 1.0),
    };
    // The multi-start must have found the global minimum: the constrained minimum at the truth
    // can only be higher, up to the minimiser's precision (EDM below 1e-4 UP).
    assert!(
        at_truth >= min - 1e-3,
        "toy {}: the fit missed a lower minimum ({at_truth} at the truth < {min})",
        f.roid
    );
    (f.peak - TRUTH[0]).signum() * ((at_truth - min).max(0.0) / up).sqrt()
}

type Fitted = (ChannelFit, f64);

#[test]
fn toy_pulls_of_the_peak_meet_the_spec_target_for_both_methods() {
    let fits: Vec<(Fitted, Fitted)> = (0..TOYS)
        .into_par_iter()
        .map(|seed| {
            let (edges, counts) = toy(seed);
            let fit = |method| {
                let cfg = FitConfig {
                    method,
                    ..FitConfig::default()
                };
                let f = fit_spectrum(seed as u32, &edges, &counts, &cfg).unwrap();
                let z = ratio_pull(&f, &edges, &counts, &cfg);
                (f, z)
            };
            (fit(Method::Nll), fit(Method::Chi2))
        })
        .collect();
    for (label, pick) in [("nll", 0usize), ("chi2", 1usize)] {
        let pairs: Vec<&Fitted> = fits
            .iter()
            .map(|p| if pick == 0 { &p.0 } else { &p.1 })
            .collect();
        let sel: Vec<&ChannelFit> = pairs.iter().map(|p| &p.0).collect();
        let failed = sel.iter().filter(|f| !f.is_ok()).count();
        assert_eq!(failed, 0, "{label}: {failed} failed fits");
        let ratio: Vec<f64> = pairs.iter().map(|p| p.1).collect();
        let interval: Vec<f64> = sel.iter().map(|f| interval_pull(f)).collect();
        let hesse: Vec<f64> = sel
            .iter()
            .map(|f| (f.peak - TRUTH[0]) / f.peak_err)
            .collect();
        let (pm, pw) = stats(&ratio);
        let (im, iw) = stats(&interval);
        let (hm, hw) = stats(&hesse);
        let (_, spread) = stats(&sel.iter().map(|f| f.peak).collect::<Vec<_>>());
        eprintln!(
            "{label}: likelihood-ratio pulls {pm:.3} +- {pw:.3}; interval-side pulls {im:.3} +- \
             {iw:.3}; Hessian pulls {hm:.3} +- {hw:.3}; spread of P {spread:.3} ADC"
        );
        // 100 toys: standard errors 0.10 (mean) and 0.07 (width).
        assert!(pm.abs() < 0.15, "{label}: likelihood-ratio pull mean {pm}");
        assert!(
            (pw - 1.0).abs() < 0.15,
            "{label}: likelihood-ratio pull width {pw}"
        );
    }
    // On the same spectra the two objectives agree within their errors: no systematic offset,
    // and at least 95 of 100 toys within one error. The remaining few are toys whose likelihood
    // has two separated minima of similar depth (see the module docs), where the Neyman
    // chi-square and the Poisson likelihood can pick different ones.
    let diffs: Vec<f64> = fits
        .iter()
        .map(|((a, _), (b, _))| (a.peak - b.peak) / a.peak_err.max(b.peak_err))
        .collect();
    let worst = diffs.iter().fold(0.0f64, |m, d| m.max(d.abs()));
    let (dm, dw) = stats(&diffs);
    eprintln!(
        "chi2 - nll peak difference in units of the error: {dm:.3} +- {dw:.3}, worst {worst:.3}"
    );
    let beyond = diffs.iter().filter(|d| d.abs() >= 1.0).count();
    eprintln!("toys where chi2 and nll differ by one error or more: {beyond}");
    assert!(dm.abs() < 0.1, "mean chi2-nll difference {dm} errors");
    assert!(beyond <= 5, "{beyond} toys differ by one error or more");
}
