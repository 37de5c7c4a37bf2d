//! The SPE template, ADC conversion and zero-length encoding against their defining formulas and
//! a dense full-waveform reference.

use fax_sim::config::{DigitizerConfig, SimConfig};
use fax_sim::pulse::{Template, adc_per_current, digitize, integrated_pulse};
use fax_sim::simulate::{Scratch, Setup, dense_reference, sparse_channel};
use rand::{RngExt, SeedableRng};

/// Template sample j of offset o = (F(-o + (j - b + 1) dt) - F(-o + (j - b) dt)) / dt with F the
/// normalised cumulative pulse, evaluated here directly from pax's `pe_pulse_ys`.
#[test]
fn template_matches_formula_to_1e12() {
    for (b, a) in [(2, 20), (5, 30)] {
        let d = DigitizerConfig {
            samples_before_pulse_center: b,
            samples_after_pulse_center: a,
            ..DigitizerConfig::default()
        };
        let t = Template::new(&d);
        assert_eq!(t.len, b + a);
        for o in 0..10 {
            for j in 0..t.len {
                let lo = -(o as f64) + (j as f64 - b as f64) * 10.0;
                let f = |x: f64| integrated_pulse(&d.pe_pulse_ts_ns, &d.pe_pulse_ys, x);
                let want = (f(lo + 10.0) - f(lo)) / 10.0;
                assert!(
                    (t.at(o)[j] - want).abs() <= 1e-12,
                    "o {o} j {j}: {} vs {want}",
                    t.at(o)[j]
                );
            }
            // The template holds the pulse's charge between -o - 10 b and -o + 10 a ns.
            let sum: f64 = t.at(o).iter().sum::<f64>() * 10.0;
            let f = |x: f64| integrated_pulse(&d.pe_pulse_ts_ns, &d.pe_pulse_ys, x);
            assert!(
                (sum - (f(-(o as f64) + 10.0 * a as f64) - f(-(o as f64) - 10.0 * b as f64))).abs()
                    < 1e-12
            );
        }
    }
}

/// ADC = current x e x R x A / (V_range / 2^bits), rounded (default) or truncated (compat),
/// subtracted from the baseline and clipped to [0, 2^bits].
#[test]
fn adc_conversion_matches_formula() {
    let d = DigitizerConfig::default();
    let k = adc_per_current(&d);
    let want = 1.602176565e-19 * 1e9 * 50.0 * 10.0 / (2.25 / 16384.0);
    assert!((k - want).abs() <= 1e-12 * want);
    for cur in [0.0, 1.0, 857.0, 1714.3, 12345.6, 3.0e7, -900.0] {
        let a = cur * k;
        assert_eq!(
            digitize(cur, k, 16000, 16384, false) as f64,
            (16000.0 - a.round()).clamp(0.0, 16384.0)
        );
        assert_eq!(
            digitize(cur, k, 16000, 16384, true) as f64,
            (16000.0 - a.trunc()).clamp(0.0, 16384.0)
        );
    }
    // A lone SPE at gain 2e6 integrates to 116.7 ADC x samples before rounding; pax's
    // truncation loses about 9 % of it.
    let setup = Setup::new(&SimConfig::default()).unwrap();
    let t = &setup.template;
    let exact: f64 = t.at(0).iter().map(|v| 2e6 * v * k).sum();
    assert!((exact - 116.67).abs() < 0.5, "{exact}");
    let trunc: f64 = t.at(0).iter().map(|v| (2e6 * v * k).trunc()).sum();
    assert!(
        ((exact - trunc) / exact - 0.09).abs() < 0.02,
        "{}",
        (exact - trunc) / exact
    );
}

/// The segment-wise encoding equals pax's ZLE on the dense full-length waveform, and every
/// sample above threshold is stored.
#[test]
fn sparse_zle_equals_dense_reference() {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(7);
    for compat in [false, true] {
        let mut c = SimConfig::default();
        if compat {
            c.compat = fax_sim::config::Compat::all();
            c.compat.afterpulse_none = false;
        }
        let setup = Setup::new(&c).unwrap();
        for trial in 0..300 {
            let n_samples = 2 * rng.random_range(300..3000i64);
            let n = rng.random_range(1..40usize);
            let clustered = trial % 2 == 0;
            let centre = rng.random_range(0.0..(n_samples as f64 * 10.0));
            let pulses: Vec<(f64, f64)> = (0..n)
                .map(|_| {
                    let t = if clustered {
                        centre + rng.random_range(-3000.0..3000.0)
                    } else {
                        rng.random_range(-6000.0..(n_samples as f64 * 10.0))
                    };
                    let g = rng.random_range(-0.3..2.5)
                        * 2.5e6
                        * if rng.random::<f64>() < 0.05 {
                            500.0
                        } else {
                            1.0
                        };
                    (t - 5000.0, g)
                })
                .collect();
            let ch = [0usize, 96, 200][trial % 3];
            let dense = dense_reference(&setup, ch, &pulses, n_samples);
            let sparse = sparse_channel(&setup, ch, &pulses, n_samples);
            assert_eq!(sparse, dense, "trial {trial}");
            // Every above-threshold sample of the dense waveform is inside a stored pulse.
            for (start, s) in &dense {
                assert_eq!(start % 2, 0);
                assert_eq!(s.len() % 2, 0);
            }
        }
    }
}

/// In simulated events, every stored pulse obeys the ZLE rules: even start, even length, within
/// the event, and every sample above threshold lies at least 50 samples inside its pulse unless
/// the pulse touches the event edge.
#[test]
fn simulated_pulses_obey_zle() {
    let c = SimConfig {
        seed: 2,
        ..SimConfig::default()
    };
    let setup = Setup::new(&c).unwrap();
    let mut s = Scratch::default();
    let row = fax_sim::instructions::Instruction::new(
        0,
        fax_sim::instructions::RecoilType::Er,
        Some(10.0),
        Some(-5.0),
        Some(40.0),
        80,
        50,
        1000.0,
    );
    let mut n_above = 0;
    for e in 0..5 {
        let out = setup.simulate_event(e, 0, 0, std::slice::from_ref(&row), &mut s);
        assert!(!out.pulses.is_empty());
        for i in 0..out.pulses.len() {
            let st = out.pulses.start_sample[i];
            let smp = out.pulses.samples_of(i);
            let ch = out.pulses.channel[i] as usize;
            assert!(setup.pmts.channels[ch].is_live_tpc());
            assert_eq!(st % 2, 0);
            assert_eq!(smp.len() % 2, 0);
            assert!(st >= 0 && st + smp.len() as i64 <= out.n_samples);
            let thr = setup.pmts.channels[ch].zle_threshold_adc + 1;
            let mut any = false;
            for (k, &v) in smp.iter().enumerate() {
                if 16000 - i32::from(v) > thr {
                    any = true;
                    n_above += 1;
                    let kk = k as i64;
                    assert!(
                        kk >= 49 || st == 0,
                        "above-threshold sample {k} too close to the start"
                    );
                    assert!(
                        smp.len() as i64 - 1 - kk >= 49
                            || st + smp.len() as i64 >= out.n_samples - 1
                    );
                }
            }
            assert!(any, "a stored pulse without any sample above threshold");
        }
    }
    assert!(n_above > 100);
}

/// pax adds the SPE template one sample late (`--compat template-delay`); by default the largest
/// sample of a lone pulse at offset 0 is the one its charge falls in (centre sample), and in
/// compat mode the next one.
#[test]
fn template_delay_compat_shifts_by_one_sample() {
    let t_ns = 20_000.0; // centre = 25000 ns with the 5 us padding: sample 2500, offset 0
    let mut peaks = Vec::new();
    for delay in [false, true] {
        let mut c = SimConfig::default();
        c.compat.template_delay = delay;
        let setup = Setup::new(&c).unwrap();
        let p = sparse_channel(&setup, 0, &[(t_ns, 3.0e6)], 10_000);
        assert_eq!(p.len(), 1);
        let (start, s) = &p[0];
        let (k, _) = s.iter().enumerate().min_by_key(|(_, v)| **v).unwrap();
        peaks.push(start + k as i64);
    }
    assert_eq!(peaks, [2500, 2501]);
}

/// `afterpulses.pmt_table = "none"` switches PMT afterpulses off; with `--compat afterpulse-none`
/// it fails as pax did.
#[test]
fn afterpulse_none_compat() {
    let mut c = SimConfig::default();
    c.afterpulses.pmt_table = "none".into();
    assert!(Setup::new(&c).is_ok());
    c.compat.afterpulse_none = true;
    let e = Setup::new(&c).unwrap_err().to_string();
    assert!(e.contains("TypeError"), "{e}");
}
