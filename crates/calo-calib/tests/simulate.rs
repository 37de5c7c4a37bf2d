//! The source-spectrum simulator: reproducibility, the exact Crystal Ball sampler, closure of the
//! simulated histograms against the fit model, thread-count independence, and the cosmic table.

use calo_calib::Error;
use calo_calib::channel::IdMode;
use calo_calib::model::{BinEvaluation, CB_N, CrystalBall, ModelRange, expected_counts};
use calo_calib::simulate::{
    ChannelTruth, CrystalBallSampler, SimConfig, all_ids, read_truth, simulate_channel,
    simulate_channel_in, simulate_cosmic_table, simulate_detector, write_truth,
};
use calo_calib::spectra::{Spectrum, write_spectra};

fn cfg(events: f64) -> SimConfig {
    SimConfig {
        seed: 2026,
        events_per_crystal: events,
        ..SimConfig::default()
    }
}

#[test]
fn channels_are_reproducible_and_independent() {
    let c = cfg(2000.0);
    let (s1, t1) = simulate_channel(&c, 17).unwrap();
    let (s2, t2) = simulate_channel(&c, 17).unwrap();
    assert_eq!((&s1, &t1), (&s2, &t2));
    let (s3, _) = simulate_channel(&c, 18).unwrap();
    assert_ne!(s1.counts, s3.counts);
    let other_seed = SimConfig {
        seed: 7,
        ..c.clone()
    };
    assert_ne!(
        simulate_channel(&other_seed, 17).unwrap().0.counts,
        s1.counts
    );
    // The crystal-mode stream of id 17 is a different one.
    assert_ne!(
        simulate_channel_in(&c, 17, IdMode::PerCrystal)
            .unwrap()
            .0
            .counts,
        s1.counts
    );
    // A channel inside a detector run is the same as alone.
    let (set, truth) = simulate_detector(&c, &[40, 17, 3], IdMode::PerSipm).unwrap();
    assert_eq!(set.ids(), [3, 17, 40]);
    assert_eq!(set.get(17).unwrap(), &s1);
    assert_eq!(truth[1], t1);
    // Binning and truth bookkeeping.
    assert_eq!(s1.edges.len(), 121);
    assert_eq!((s1.edges[0], s1.edges[120]), (0.0, 120.0));
    assert_eq!(t1.n_full + t1.n_first + t1.n_second + t1.n_bkg, t1.n_events);
    assert_eq!(t1.gain_adc_per_mev, 16.0); // no spread by default
    assert!((t1.peak_adc - 98.08).abs() < 1e-12);
    assert!(!t1.is_lyso);
}

#[test]
fn bad_arguments_are_rejected() {
    let c = cfg(100.0);
    assert!(matches!(
        simulate_channel(&c, 2696),
        Err(Error::InvalidArgument(_))
    ));
    assert!(simulate_channel_in(&c, 1348, IdMode::PerCrystal).is_err());
    assert!(simulate_detector(&c, &[1, 2, 1], IdMode::PerSipm).is_err());
    for bad in [
        SimConfig {
            events_per_crystal: -1.0,
            ..c.clone()
        },
        SimConfig {
            width_mev: 0.0,
            ..c.clone()
        },
        SimConfig {
            n: 1.0,
            ..c.clone()
        },
        SimConfig {
            frac_bkg: f64::NAN,
            ..c.clone()
        },
        SimConfig {
            frac_full: 0.0,
            frac_first: 0.0,
            frac_second: 0.0,
            frac_bkg: 0.0,
            ..c.clone()
        },
        SimConfig {
            n_bins: 0,
            ..c.clone()
        },
        SimConfig {
            hist_high_adc: 0.0,
            ..c.clone()
        },
    ] {
        assert!(bad.validate().is_err(), "{bad:?}");
    }
    assert!(CrystalBallSampler::new(0.0, 5.0).is_err());
    // Zero events is allowed: an empty spectrum.
    let (s, t) = simulate_channel(
        &SimConfig {
            events_per_crystal: 0.0,
            ..c
        },
        0,
    )
    .unwrap();
    assert_eq!((s.n_events(), t.n_events), (0.0, 0));
}

/// Kolmogorov-Smirnov statistic sqrt(n) D of sorted samples against `cdf`.
fn ks(sorted: &[f64], cdf: impl Fn(f64) -> f64) -> f64 {
    let n = sorted.len() as f64;
    let mut d: f64 = 0.0;
    for (i, &x) in sorted.iter().enumerate() {
        let f = cdf(x);
        d = d
            .max((f - i as f64 / n).abs())
            .max(((i + 1) as f64 / n - f).abs());
    }
    d * n.sqrt()
}

#[test]
fn crystal_ball_sampler_matches_the_model_shape() {
    let (alpha, n) = (1.2, CB_N);
    let sampler = CrystalBallSampler::new(alpha, n).unwrap();
    let mut rng = hep_core::rng::stream(99, 0);
    let mut t: Vec<f64> = (0..100_000).map(|_| sampler.sample(&mut rng)).collect();
    t.sort_by(f64::total_cmp);
    let cdf_of = |alpha: f64| {
        let cb = CrystalBall::new(alpha, n);
        let total = cb.primitive(f64::INFINITY);
        move |x: f64| cb.primitive(x) / total
    };
    // KS: sqrt(n) D exceeds 1.95 with probability 0.001 under the hypothesis (asymptotic
    // Kolmogorov distribution); the seed is fixed, so this is a deterministic check.
    let d = ks(&t, cdf_of(alpha));
    assert!(d < 1.95, "KS sqrt(n) D = {d}");
    // The test has power: the same samples are far from the alpha = 1.0 shape.
    let d_wrong = ks(&t, cdf_of(1.0));
    assert!(d_wrong > 5.0, "KS against alpha = 1.0: {d_wrong}");

    // Binned Pearson chi-square in 60 bins of equal expected probability, built from the model
    // primitive by bisection. Under the hypothesis chi2 ~ chi2(59): mean 59, sd 10.9; the bound
    // 59 + 5 sd = 113 has a tail probability of about 1e-5.
    let cdf = cdf_of(alpha);
    let nb = 60;
    let quantile = |p: f64| {
        let (mut lo, mut hi) = (-1e4, 50.0);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if cdf(mid) < p {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    };
    let cuts: Vec<f64> = (1..nb).map(|k| quantile(k as f64 / nb as f64)).collect();
    let mut obs = vec![0.0; nb];
    for &x in &t {
        obs[cuts.partition_point(|&c| c <= x)] += 1.0;
    }
    let e = t.len() as f64 / nb as f64;
    let chi2: f64 = obs.iter().map(|o| (o - e) * (o - e) / e).sum();
    assert!(chi2 < 113.0, "chi2 = {chi2} for 59 dof");
    // The tail fraction is the model's primitive at -alpha over the total.
    let tail = t.partition_point(|&x| x < -alpha) as f64 / t.len() as f64;
    let p = sampler.tail_fraction();
    assert!((p - cdf(-alpha)).abs() < 1e-12);
    assert!(
        (tail - p).abs() < 5.0 * (p * (1.0 - p) / 1e5).sqrt(),
        "{tail} vs {p}"
    );
}

/// Expected counts of the simulation in the spectrum's bins: the three lines normalised over the
/// whole real line (events outside the histogram are lost), the background over the histogram.
fn expected(t: &ChannelTruth, edges: &[f64], peak_scale: f64) -> Vec<f64> {
    let mut p = [
        t.peak_adc * peak_scale,
        t.width_mev,
        t.alpha,
        t.beta_per_adc,
        t.n_full as f64,
        t.n_first as f64,
        t.n_second as f64,
        0.0,
    ];
    let nb = edges.len() - 1;
    let mut lines = vec![0.0; nb];
    let everywhere = ModelRange {
        low: -1e5,
        high: 1e5,
    };
    expected_counts(&p, everywhere, BinEvaluation::Integrate, edges, &mut lines);
    p[4..7].fill(0.0);
    p[7] = t.n_bkg as f64;
    let mut bkg = vec![0.0; nb];
    let hist = ModelRange {
        low: edges[0],
        high: edges[nb],
    };
    expected_counts(&p, hist, BinEvaluation::Integrate, edges, &mut bkg);
    lines.iter().zip(&bkg).map(|(a, b)| a + b).collect()
}

fn pearson(s: &Spectrum, mu: &[f64]) -> (f64, usize) {
    let mut chi2 = 0.0;
    let mut ndf = 0;
    for (o, m) in s.counts.iter().zip(mu) {
        if *m > 0.0 {
            chi2 += (o - m) * (o - m) / m;
            ndf += 1;
        }
    }
    (chi2, ndf)
}

#[test]
fn simulated_spectra_follow_the_fit_model() {
    // 63 000 events per channel with the default model (spec §10 fractions), three channels,
    // one with a 16 % gain spread draw. Pearson chi2 over the 120 bins (all expectations are
    // above 5) against the model of model.rs at the truth: under the hypothesis chi2 ~ chi2(120)
    // (mean 120, sd 15.5); the bound 120 + 5 sd = 197 has a tail probability of about 2e-5.
    for (roid, spread) in [(0u32, 0.0), (1000, 0.0), (2001, 0.16)] {
        let c = SimConfig {
            gain_spread: spread,
            ..cfg(63_000.0)
        };
        let (s, t) = simulate_channel(&c, roid).unwrap();
        let mu = expected(&t, &s.edges, 1.0);
        let (chi2, ndf) = pearson(&s, &mu);
        assert_eq!(ndf, 120);
        assert!(chi2 < 197.0, "roid {roid}: chi2 {chi2} / {ndf}");
        // Total in-range counts match the expectation within 5 Poisson sigma.
        let (n, m) = (s.n_events(), mu.iter().sum::<f64>());
        assert!((n - m).abs() < 5.0 * m.sqrt(), "{n} vs {m}");
        // The test has power: a peak 1 % off is rejected.
        if spread == 0.0 {
            let (chi2_off, _) = pearson(&s, &expected(&t, &s.edges, 1.01));
            assert!(
                chi2_off > 400.0,
                "roid {roid}: shifted model chi2 {chi2_off}"
            );
        }
    }
}

#[test]
fn the_full_peak_sits_at_6_13_times_the_gain() {
    // Full-energy line only, 63 000 events. The mean amplitude in the window P ± sigma (ADC) is
    // estimated from the bins, edge bins clipped to the window and weighted by their overlap
    // (uniform within a bin). It is compared with (a) the same estimate on the model expectation,
    // within 5 statistical errors (window sd / sqrt(entries), about 0.02 ADC), and (b) P itself
    // within 0.05 ADC: the core is a Gaussian on both sides of the window (alpha = 1.2 > 1), so
    // the true windowed mean is P, and the bin approximation errs by O(0.01) ADC (both edge bins
    // err in opposite directions).
    for (roid, spread) in [(5u32, 0.0), (6, 0.05), (2690, 0.05)] {
        let c = SimConfig {
            gain_spread: spread,
            frac_full: 1.0,
            frac_first: 0.0,
            frac_second: 0.0,
            frac_bkg: 0.0,
            ..cfg(63_000.0)
        };
        let (s, t) = simulate_channel(&c, roid).unwrap();
        assert_eq!(t.n_full, t.n_events);
        let sigma_adc = t.width_mev * t.gain_adc_per_mev;
        let window = |w: &[f64]| {
            let (mut sw, mut swx, mut swx2) = (0.0, 0.0, 0.0);
            let (a, b) = (t.peak_adc - sigma_adc, t.peak_adc + sigma_adc);
            for (wi, e) in w.iter().zip(s.edges.windows(2)) {
                let (lo, hi) = (e[0].max(a), e[1].min(b));
                if hi > lo {
                    let c = wi * (hi - lo) / (e[1] - e[0]);
                    let x = 0.5 * (lo + hi);
                    sw += c;
                    swx += c * x;
                    swx2 += c * x * x;
                }
            }
            let mean = swx / sw;
            (mean, ((swx2 / sw - mean * mean) / sw).sqrt())
        };
        let (m_sim, err) = window(&s.counts);
        let (m_exp, _) = window(&expected(&t, &s.edges, 1.0));
        assert!(
            (m_sim - m_exp).abs() < 5.0 * err,
            "roid {roid}: {m_sim} vs {m_exp} ± {err}"
        );
        assert!(
            (m_exp - t.peak_adc).abs() < 0.05,
            "roid {roid}: {m_exp} vs P {}",
            t.peak_adc
        );
        assert!((m_sim - t.peak_adc).abs() < 0.05 + 5.0 * err);
    }
}

#[test]
fn event_counts_and_gains_have_the_configured_distributions() {
    // 2000 channels of 5000 events with a 16 % gain spread.
    let c = SimConfig {
        gain_spread: 0.16,
        ..cfg(5000.0)
    };
    let ids: Vec<u32> = (0..2000).collect();
    let (set, truth) = simulate_detector(&c, &ids, IdMode::PerSipm).unwrap();
    let k = truth.len() as f64;
    let n: Vec<f64> = truth.iter().map(|t| t.n_events as f64).collect();
    let mean = n.iter().sum::<f64>() / k;
    let var = n.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (k - 1.0);
    // Poisson(5000): the mean of 2000 counts has sd sqrt(5000/2000) = 1.58, allow 5 sd; the
    // variance/mean ratio is 1 with sd sqrt(2/1999) = 0.032 (Gaussian limit), allow 5 sd.
    assert!((mean - 5000.0).abs() < 5.0 * 1.58, "mean {mean}");
    assert!((var / mean - 1.0).abs() < 0.16, "dispersion {}", var / mean);
    // Fractions: full share of all events, binomial sd sqrt(p(1-p)/N_total), allow 5 sd.
    let total: f64 = n.iter().sum();
    for (share, p) in [
        (truth.iter().map(|t| t.n_full).sum::<u64>(), 0.35),
        (truth.iter().map(|t| t.n_first).sum::<u64>(), 0.25),
        (truth.iter().map(|t| t.n_second).sum::<u64>(), 0.15),
        (truth.iter().map(|t| t.n_bkg).sum::<u64>(), 0.25),
    ] {
        let f = share as f64 / total;
        assert!(
            (f - p).abs() < 5.0 * (p * (1.0 - p) / total).sqrt(),
            "{f} vs {p}"
        );
    }
    // Gains of the CsI channels: relative sd 0.16, its estimate has sd 0.16/sqrt(2k) = 0.0025;
    // the mean ratio has sd 0.16/sqrt(k) = 0.0036; allow 5 sd each.
    let g: Vec<f64> = truth
        .iter()
        .filter(|t| !t.is_lyso)
        .map(|t| t.gain_adc_per_mev / 16.0 - 1.0)
        .collect();
    let kg = g.len() as f64;
    let gm = g.iter().sum::<f64>() / kg;
    let gs = (g.iter().map(|x| (x - gm).powi(2)).sum::<f64>() / (kg - 1.0)).sqrt();
    assert!(gm.abs() < 5.0 * 0.0036, "mean gain offset {gm}");
    assert!((gs - 0.16).abs() < 5.0 * 0.0025, "gain spread {gs}");
    for t in &truth {
        assert!((t.peak_adc - 6.13 * t.gain_adc_per_mev).abs() < 1e-9);
        assert!((t.adc2mev_mev_per_adc * t.gain_adc_per_mev - 1.0).abs() < 1e-12);
    }
    assert_eq!(set.len(), 2000);
}

#[test]
fn lyso_channels_use_their_own_gain_and_keep_only_background() {
    let c = cfg(20_000.0);
    let (set, truth) = simulate_detector(&c, &[1163, 1164, 1275, 1276], IdMode::PerSipm).unwrap();
    let lyso: Vec<bool> = truth.iter().map(|t| t.is_lyso).collect();
    assert_eq!(lyso, [false, true, true, false]);
    for (s, t) in set.spectra.iter().zip(&truth) {
        if t.is_lyso {
            assert_eq!(t.gain_adc_per_mev, 267.0);
            assert!((t.peak_adc - 1636.71).abs() < 1e-9);
            // The line peaks are far above 120 ADC: the histogram holds the background and only
            // the far power-law tail of the lines (E < 0.45 MeV, t < -10), as the model predicts
            // (checked within 5 Poisson sigma).
            let lines_in = s.n_events() - t.n_bkg as f64;
            let lines_exp = expected(t, &s.edges, 1.0).iter().sum::<f64>() - t.n_bkg as f64;
            let n_lines = (t.n_full + t.n_first + t.n_second) as f64;
            assert!(lines_exp < 1e-3 * n_lines, "{lines_exp}");
            assert!(
                (lines_in - lines_exp).abs() < 5.0 * lines_exp.sqrt() + 1.0,
                "{lines_in} vs {lines_exp}"
            );
        } else {
            assert!(s.n_events() > t.n_bkg as f64);
        }
    }
    // Per crystal, 582 is LYSO.
    let (_, t) = simulate_channel_in(&c, 582, IdMode::PerCrystal).unwrap();
    assert!(t.is_lyso);
}

fn detector_bytes(threads: usize) -> Vec<Vec<u8>> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    pool.install(|| {
        let c = SimConfig {
            gain_spread: 0.16,
            ..cfg(3000.0)
        };
        let mut ids: Vec<u32> = (0..64).collect();
        ids.extend([1164, 1165, 2695]);
        let (set, truth) = simulate_detector(&c, &ids, IdMode::PerSipm).unwrap();
        let cosmic = simulate_cosmic_table(5, &truth, 0.012, 0.1).unwrap();
        let names = ["s.csv", "s.parquet", "t.csv", "t.parquet"];
        write_spectra(dir.path().join(names[0]), &set).unwrap();
        write_spectra(dir.path().join(names[1]), &set).unwrap();
        write_truth(dir.path().join(names[2]), &truth).unwrap();
        write_truth(dir.path().join(names[3]), &truth).unwrap();
        let mut out: Vec<Vec<u8>> = names
            .iter()
            .map(|n| std::fs::read(dir.path().join(n)).unwrap())
            .collect();
        out.push(format!("{cosmic:?}").into_bytes());
        out
    })
}

#[test]
fn output_is_byte_identical_at_one_and_two_threads() {
    let one = detector_bytes(1);
    let two = detector_bytes(2);
    assert_eq!(one.len(), two.len());
    for (a, b) in one.iter().zip(&two) {
        assert!(!a.is_empty());
        assert!(a == b, "outputs differ between 1 and 2 threads");
    }
}

#[test]
fn truth_tables_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (_, truth) = simulate_detector(&cfg(100.0), &[0, 1164, 2695], IdMode::PerSipm).unwrap();
    for name in ["t.csv", "t.parquet"] {
        let p = dir.path().join(name);
        write_truth(&p, &truth).unwrap();
        assert_eq!(read_truth(&p).unwrap(), truth, "{name}");
    }
    let text = std::fs::read_to_string(dir.path().join("t.csv")).unwrap();
    assert!(text.starts_with("roid,is_lyso,gain_adc_per_mev,peak_adc,adc2mev_mev_per_adc,"));
}

#[test]
fn cosmic_table_has_the_configured_statistics() {
    let c = SimConfig {
        gain_spread: 0.16,
        ..cfg(10.0)
    };
    let (_, truth) = simulate_detector(&c, &all_ids(IdMode::PerSipm), IdMode::PerSipm).unwrap();
    let rows = simulate_cosmic_table(11, &truth, 0.012, 0.1).unwrap();
    assert_eq!(rows, simulate_cosmic_table(11, &truth, 0.012, 0.1).unwrap());
    assert_eq!(rows.len(), 2696);
    let csi: Vec<_> = rows
        .iter()
        .zip(&truth)
        .filter(|(_, t)| !t.is_lyso)
        .collect();
    assert_eq!(csi.len(), 2688);
    for (r, t) in rows.iter().zip(&truth) {
        assert_eq!(r.roid, t.roid);
        if t.is_lyso {
            assert_eq!((r.peak_adc, r.ndf, r.nhits), (0.0, 0, 0));
        }
    }
    let k = csi.len() as f64;
    // Pulls of the MPV against 20 MeV * g: mean 0 (sd 1/sqrt(k) = 0.019), sd 1 (sd of the
    // estimate 1/sqrt(2k) = 0.014); allow 5 sd. The pull uses rel_error * 20 g as the error.
    let pulls: Vec<f64> = csi
        .iter()
        .map(|(r, t)| {
            let truth = 20.0 * t.gain_adc_per_mev;
            (r.peak_adc - truth) / (0.012 * truth)
        })
        .collect();
    let pm = pulls.iter().sum::<f64>() / k;
    let ps = (pulls.iter().map(|x| (x - pm).powi(2)).sum::<f64>() / (k - 1.0)).sqrt();
    assert!(pm.abs() < 5.0 * 0.019, "pull mean {pm}");
    assert!((ps - 1.0).abs() < 5.0 * 0.014, "pull sd {ps}");
    for (r, _) in &csi {
        assert!((r.err_peak_adc / r.peak_adc - 0.012).abs() < 1e-12);
        assert!(r.width_adc > 0.0 && r.sigma_adc > r.width_adc);
        assert_eq!(r.ndf, 60);
    }
    // chi2(60) exceeds 88.38 with probability 0.01 (its 99th percentile); bad channels (10 %)
    // always do. Expected share 0.9 * 0.01 + 0.1 = 0.109, binomial sd 0.006; allow 5 sd.
    let high = csi.iter().filter(|(r, _)| r.chisq > 88.38).count() as f64 / k;
    assert!((high - 0.109).abs() < 0.03, "share with p < 0.01: {high}");
    // Good channels: mean chi2 = 60 (sd of the mean sqrt(120 / k) = 0.21).
    let good: Vec<f64> = csi
        .iter()
        .map(|(r, _)| r.chisq)
        .filter(|&x| x < 100.0)
        .collect();
    let gm = good.iter().sum::<f64>() / good.len() as f64;
    assert!((gm - 60.0).abs() < 1.5, "mean good chi2 {gm}");
    let nh = csi.iter().map(|(r, _)| r.nhits as f64).sum::<f64>() / k;
    assert!(
        (nh - 800.0).abs() < 5.0 * (800.0 / k).sqrt(),
        "mean nhits {nh}"
    );
    assert!(simulate_cosmic_table(1, &truth, -0.1, 0.0).is_err());
    assert!(simulate_cosmic_table(1, &truth, 0.01, 1.5).is_err());
}
