//! Statistical closure tests of the detector response: simulated truth against the closed-form
//! expectations of the pax model, with fixed seeds. Tolerances are 4 standard errors of the
//! quantity tested (estimated from the simulated sample itself or from binomial statistics), so
//! a correct model fails with probability below 1e-4 per check, while a wrong constant (a
//! missing 1/(1 + p_dpe), a wrong drift velocity, a missed 140 ns trapping delay) moves the
//! result by tens of standard errors.

use fax_sim::config::SimConfig;
use fax_sim::instructions::{Instruction, RecoilType};
use fax_sim::s2::{LuminescenceConverter, drift_time};
use fax_sim::simulate::{Scratch, Setup};
use fax_sim::truth::PeakType;

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, var.sqrt())
}

fn s2_row(depth: f64, electrons: u64) -> Instruction {
    Instruction::new(
        0,
        RecoilType::Er,
        Some(0.0),
        Some(0.0),
        Some(depth),
        0,
        electrons,
        1000.0,
    )
}

/// A configuration with the maps that move S2 times switched off (no field distortion, nominal
/// gas gap everywhere), so the closed forms apply exactly.
fn plain() -> SimConfig {
    let mut c = SimConfig {
        seed: 11,
        ..SimConfig::default()
    };
    c.s2.rz_distortion_map = "none".into();
    c.s2.gas_gap_warping_map = "none".into();
    c.afterpulses.photo_ionisation = false;
    c
}

#[test]
fn drift_time_and_electron_survival() {
    let c = plain();
    let setup = Setup::new(&c).unwrap();
    let mut s = Scratch::default();
    let n0 = 400u64;
    for depth in [5.0, 30.0, 60.0, 90.0] {
        let (t_mean, sigma) = drift_time(&c.s2, -depth);
        // Mean drift time = depth / v_d + gate offset (ns): 1.335 um/ns, 1.7 us.
        assert!((t_mean - (depth / 1.335e-4 + 1700.0)).abs() < 1e-6);
        let (mut means, mut n_surv) = (Vec::new(), 0u64);
        let k = 60;
        for e in 0..k {
            let out = setup.simulate_event_truth(e, 0, 0, &[s2_row(depth, n0)], &mut s);
            let p = out
                .peaks
                .iter()
                .find(|p| p.peak_type == PeakType::S2)
                .unwrap();
            let el = p.electrons.unwrap();
            n_surv += el.n;
            // Electron arrival = t + trapping (mean 140 ns) + drift (+ 5 us padding in truth).
            means.push(el.mean_ns - 1000.0 - 5000.0 - 140.0);
        }
        let (m, _) = mean_sd(&means);
        let per_electron_sd = (sigma * sigma + 140.0f64 * 140.0).sqrt();
        let se = per_electron_sd / (n_surv as f64).sqrt();
        assert!(
            (m - t_mean).abs() < 4.0 * se,
            "depth {depth}: mean drift {m} vs {t_mean} (se {se})"
        );
        // Surviving fraction = extraction x exp(-t / tau_e), binomial.
        let p = (-t_mean / 550_000.0).exp();
        let n = (n0 * k) as f64;
        let frac = n_surv as f64 / n;
        let se = (p * (1.0 - p) / n).sqrt();
        assert!(
            (frac - p).abs() < 4.0 * se,
            "depth {depth}: survival {frac} vs {p}"
        );
    }
}

#[test]
fn s2_width_follows_diffusion_luminescence_and_gas_decay() {
    let c = plain();
    let setup = Setup::new(&c).unwrap();
    let mut s = Scratch::default();
    // Photon-level variance: luminescence (numerical CDF), gas singlet/triplet mixture, transit.
    let lum = LuminescenceConverter::new(&c.s2, c.s2.gas_gap_length_mm / 10.0);
    let m = 100_000;
    let ts: Vec<f64> = (0..m)
        .map(|i| lum.time((i as f64 + 0.5) / m as f64))
        .collect();
    let lum_mean = ts.iter().sum::<f64>() / m as f64;
    let lum_var = ts.iter().map(|t| (t - lum_mean).powi(2)).sum::<f64>() / m as f64;
    let (f, ts_, tt) = (
        c.s2.singlet_fraction_gas,
        c.s2.singlet_lifetime_gas_ns,
        c.s2.triplet_lifetime_gas_ns,
    );
    let gas_mean = f * ts_ + (1.0 - f) * tt;
    let gas_var = 2.0 * (f * ts_ * ts_ + (1.0 - f) * tt * tt) - gas_mean * gas_mean;
    let transit_var = c.pmt.transit_time_spread_ns.powi(2);
    let mut widths = Vec::new();
    for depth in [5.0, 30.0, 60.0, 90.0] {
        let (t_mean, sigma_diff) = drift_time(&c.s2, -depth);
        // sqrt(2 D |t| ) / v = sqrt(2 D |z| / v^3) for t = |z| / v (plus the gate offset).
        let v = 1.335e-4;
        let d = 29.35e-9;
        let alt = (2.0 * d * (depth / v + 1700.0)).sqrt() / v;
        assert!((alt - sigma_diff).abs() < 1e-9);
        let expect_var =
            sigma_diff * sigma_diff + 140.0f64.powi(2) + lum_var + gas_var + transit_var;
        let mut s2v = Vec::new();
        let mut mean_delay = Vec::new();
        for e in 0..40 {
            let out = setup.simulate_event_truth(1000 + e, 0, 0, &[s2_row(depth, 1000)], &mut s);
            let p = out
                .peaks
                .iter()
                .find(|p| p.peak_type == PeakType::S2)
                .unwrap();
            s2v.push(p.photons.sigma_ns.powi(2));
            mean_delay.push(p.photons.mean_ns - p.electrons.unwrap().mean_ns);
        }
        let (mv, sdv) = mean_sd(&s2v);
        let se = sdv / (s2v.len() as f64).sqrt();
        // Expected E[s^2]: photons cluster by electron (about 18.5 per electron, Poisson), so the
        // sample variance loses (1 + 1/18.5)/n_e of the electron-level variance.
        let ne_typ = 1000.0 * (-t_mean / 550_000.0).exp();
        let expect =
            expect_var - (sigma_diff * sigma_diff + 140.0f64.powi(2)) * (1.0 + 1.0 / 18.5) / ne_typ;
        assert!(
            (mv - expect).abs() < 4.0 * se + 1e-3 * expect,
            "depth {depth}: width^2 {mv} vs {expect} (se {se})"
        );
        // Photons follow their electron by luminescence + gas decay + transit on average.
        let (md, sdd) = mean_sd(&mean_delay);
        let want = lum_mean + gas_mean + c.pmt.transit_time_mean_ns;
        assert!(
            (md - want).abs() < 4.0 * sdd / (mean_delay.len() as f64).sqrt() + 0.5,
            "depth {depth}: delay {md} vs {want}"
        );
        widths.push(mv.sqrt());
    }
    // Widths grow with depth.
    assert!(widths.windows(2).all(|w| w[1] > w[0]), "{widths:?}");
}

#[test]
fn s1_photons_follow_light_yield_map() {
    let c = SimConfig {
        seed: 5,
        ..SimConfig::default()
    };
    let setup = Setup::new(&c).unwrap();
    let mut s = Scratch::default();
    // Sample values of the SR1 S1 map (pax IDW lookup of the real map).
    for (x, y, z, ly_ref) in [
        (0.0, 0.0, -10.0, 0.781),
        (0.0, 0.0, -50.0, 1.003),
        (0.0, 0.0, -90.0, 1.385),
        (40.0, 0.0, -90.0, 1.180),
    ] {
        let ly = setup.s1_light_yield(x, y, z);
        assert!(
            (ly - ly_ref).abs() < 5e-4,
            "LY({x},{y},{z}) = {ly}, pax {ly_ref}"
        );
        let n0 = 2000u64;
        let p = 0.12 / 1.15 * ly;
        let k = 50;
        let mut tot = 0u64;
        let mut tmean = Vec::new();
        for e in 0..k {
            let row =
                Instruction::new(0, RecoilType::Er, Some(x), Some(y), Some(-z), n0, 0, 1000.0);
            let out = setup.simulate_event_truth(e, 0, 0, &[row], &mut s);
            let pk = &out.peaks[0];
            tot += pk.photons.n;
            tmean.push((pk.photons.mean_ns - 6000.0, pk.photons.n as f64));
        }
        let n = (n0 * k) as f64;
        let se = (n * p * (1.0 - p)).sqrt();
        assert!(
            (tot as f64 - n * p).abs() < 4.0 * se,
            "({x},{y},{z}): {tot} detected vs {}",
            n * p
        );
        // S1 mean photon time = t + padding + transit mean 46 ns + decay time 44.77 ns.
        let w: f64 = tmean.iter().map(|t| t.1).sum();
        let m = tmean.iter().map(|t| t.0 * t.1).sum::<f64>() / w;
        let se = (44.77f64.powi(2) + 13.6f64.powi(2)).sqrt() / w.sqrt();
        assert!((m - (46.0 + 44.77)).abs() < 4.0 * se, "S1 mean time {m}");
    }
    // The uncorrected (compat) efficiency is 15 % higher.
    let mut cc = c.clone();
    cc.compat.dpe_light_yield = true;
    let setup = Setup::new(&cc).unwrap();
    assert!((setup.s1_efficiency() - 0.12).abs() < 1e-15);
}

#[test]
fn s2_area_fraction_top() {
    let mut c = plain();
    let setup = Setup::new(&c).unwrap();
    let mut s = Scratch::default();
    let (mut top, mut all) = (0.0, 0.0);
    for e in 0..30 {
        let out = setup.simulate_event_truth(e, 0, 0, &[s2_row(10.0, 200)], &mut s);
        let p = out
            .peaks
            .iter()
            .find(|p| p.peak_type == PeakType::S2)
            .unwrap();
        top += p.top_fraction * p.photons.n as f64;
        all += p.photons.n as f64;
    }
    let f = top / all;
    let se = (0.627 * 0.373 / all).sqrt();
    assert!((f - 0.627).abs() < 4.0 * se, "AFT {f}");
    // pax's fallback (uniform over the 212 live PMTs, 112 on top) in compat mode.
    c.compat.s2_uniform_pattern = true;
    let setup = Setup::new(&c).unwrap();
    let (mut top, mut all) = (0.0, 0.0);
    for e in 0..30 {
        let out = setup.simulate_event_truth(e, 0, 0, &[s2_row(10.0, 200)], &mut s);
        let p = &out.peaks[0];
        top += p.top_fraction * p.photons.n as f64;
        all += p.photons.n as f64;
    }
    let want = 112.0 / 212.0;
    let f = top / all;
    assert!(
        (f - want).abs() < 4.0 * (want * (1.0 - want) / all).sqrt(),
        "compat AFT {f}"
    );
}

#[test]
fn photo_ionisation_rate() {
    let mut c = SimConfig {
        seed: 3,
        ..SimConfig::default()
    };
    c.afterpulses.pmt = false;
    let setup = Setup::new(&c).unwrap();
    let mut s = Scratch::default();
    let tau: f64 = 550_000.0;
    // Volume: p = 1.3e-2, uniform on [0, 700 us]: mean survival tau/D (1 - exp(-D/tau)).
    let d: f64 = 700_000.0;
    let vol = 1.3e-2 * tau / d * (1.0 - (-d / tau).exp());
    // Gate: p = 1.4e-3, Normal(1.37 us, 0.15 us): mean survival exp(-mu/tau + s^2/(2 tau^2)).
    let gate = 1.4e-3 * (-1370.0 / tau + 150.0f64.powi(2) / (2.0 * tau * tau)).exp();
    let (mut pool, mut n_pi) = (0.0, 0.0);
    for e in 0..40 {
        let row = Instruction::new(
            0,
            RecoilType::Er,
            Some(0.0),
            Some(0.0),
            Some(20.0),
            0,
            100,
            1000.0,
        );
        let out = setup.simulate_event_truth(e, 0, 0, &[row], &mut s);
        pool += out.peaks[0].photons.n as f64;
        n_pi += out.n_photo_ionisation_electrons as f64;
    }
    let want = pool * (vol + gate);
    assert!(
        (n_pi - want).abs() < 4.0 * want.sqrt(),
        "photo-ionisation electrons {n_pi} vs {want}"
    );
}

#[test]
fn pmt_afterpulse_and_dpe_rates() {
    let mut c = SimConfig {
        seed: 4,
        ..SimConfig::default()
    };
    c.afterpulses.photo_ionisation = false;
    let setup = Setup::new(&c).unwrap();
    let table = fax_sim::detector::PmtAfterpulseTable::from_source(&c.afterpulses.pmt_table)
        .unwrap()
        .unwrap();
    let mut s = Scratch::default();
    let (mut n_ph, mut n_pe, mut n_ap, mut want_ap, mut var_ap) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for e in 0..20 {
        let row = Instruction::new(
            0,
            RecoilType::Er,
            Some(0.0),
            Some(0.0),
            Some(20.0),
            0,
            100,
            1000.0,
        );
        let out = setup.simulate_event(e, 0, 0, &[row], &mut s);
        for ch in &out.channels {
            n_ph += ch.n_photons as f64;
            n_pe += ch.n_photoelectrons as f64;
            n_ap += ch.n_pmt_afterpulses as f64;
            for t in table.types(ch.channel as usize) {
                want_ap += ch.n_photoelectrons as f64 * t.p;
                var_ap += ch.n_photoelectrons as f64 * t.p * (1.0 - t.p);
            }
        }
    }
    assert!(
        (n_ap - want_ap).abs() < 4.0 * var_ap.sqrt(),
        "PMT afterpulses {n_ap} vs {want_ap}"
    );
    // Per photoelectron, the mean total probability over the live TPC PMTs (photons are spread
    // nearly uniformly over them): 3.45 % for sr1_run16347 (2.9 % over all 260 channels).
    let live: Vec<f64> = setup
        .pmts
        .channels
        .iter()
        .filter(|ch| ch.is_live_tpc())
        .map(|ch| table.types(ch.channel).iter().map(|t| t.p).sum())
        .collect();
    let live_mean = live.iter().sum::<f64>() / live.len() as f64;
    assert!((live_mean - 0.0345).abs() < 0.0005, "{live_mean}");
    assert!((n_ap / n_pe - live_mean).abs() < 0.004, "{}", n_ap / n_pe);
    let p = c.pmt.p_double_pe_emission;
    let dpe = n_pe - n_ph;
    assert!(
        (dpe - p * n_ph).abs() < 4.0 * (n_ph * p * (1.0 - p)).sqrt(),
        "DPE {dpe} of {n_ph}"
    );
}

#[test]
fn s2_top_pattern_map_distributes_top_light() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s2_pattern.json");
    // 2 x 2 grid over +-50 cm; every cell: channel 0 weight 1, channel 3 weight 0.5, others 0.
    let mut pmt = vec![0.0; 127];
    pmt[0] = 1.0;
    pmt[3] = 0.5;
    let cell = serde_json::json!(pmt);
    let map = serde_json::json!({"coordinate_system": [["x", [-50.0, 50.0, 2]], ["y", [-50.0, 50.0, 2]]], "map": [[cell, cell], [cell, cell]], "name": "t", "description": ""});
    std::fs::write(&p, map.to_string()).unwrap();
    let mut c = plain();
    c.s2.pattern_map = p.to_string_lossy().into_owned();
    c.s2.pattern_adjust_to_qe = false;
    let setup = Setup::new(&c).unwrap();
    let mut s = Scratch::default();
    let (mut n0, mut n3, mut top, mut all) = (0.0, 0.0, 0.0, 0.0);
    for e in 0..10 {
        let out = setup.simulate_event(e, 0, 0, &[s2_row(10.0, 100)], &mut s);
        for ch in &out.channels {
            match ch.channel {
                0 => n0 += ch.n_photons as f64,
                3 => n3 += ch.n_photons as f64,
                c if c <= 126 => panic!("top photons in channel {c} outside the pattern"),
                _ => {}
            }
        }
        let pk = &out.peaks[0];
        top += pk.top_fraction * pk.photons.n as f64;
        all += pk.photons.n as f64;
    }
    assert!((top - n0 - n3).abs() < 0.5);
    let f = n0 / top;
    assert!(
        (f - 2.0 / 3.0).abs() < 4.0 * (2.0 / 9.0 / top).sqrt(),
        "{f}"
    );
    assert!((top / all - 0.627).abs() < 4.0 * (0.627 * 0.373 / all).sqrt());
}
