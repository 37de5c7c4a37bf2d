//! Closure tests of `process` on create-fake + simulate events: reconstructed drift times, S2
//! areas and the S2 efficiency against the simulation truth, with fixed seeds; minitree columns
//! against hax's list; byte-identical outputs at any thread count.
//!
//! Statistical tolerances are 4 standard errors of the tested mean (from the sample itself), so a
//! correct chain fails with probability below 1e-4 per check, while a wrong constant (drift
//! velocity, gate time, a missing 1 + p_dpe, a wrong gain conversion) moves the result by many
//! standard errors.

use std::path::Path;

use arrow_array::Array;

use fax_sim::config::SimConfig;
use fax_sim::fake::{FakeConfig, create_fake};
use fax_sim::output::EventList;
use fax_sim::process::minitrees::{MINITREES, Minitree};
use fax_sim::process::peaks::PeakType as Reco;
use fax_sim::process::{EventResult, ProcessConfig, ProcessScratch, Processor};
use fax_sim::simulate::{EventOutput, Scratch, Setup};
use fax_sim::truth::PeakType as Truth;

fn mean_se(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, (var / n).sqrt())
}

/// `n` create-fake events (default ranges: 50-99 photons, 10-99 electrons, depth 5-100 cm),
/// simulated with `sim`, and processed with `proc`.
fn chain(
    n: u64,
    sim: &SimConfig,
    proc: &ProcessConfig,
) -> Vec<(fax_sim::instructions::Instruction, EventOutput, EventResult)> {
    let fake = FakeConfig {
        seed: 5,
        number_event_per_job: n,
        ..FakeConfig::default()
    };
    let list = EventList::new(create_fake(&fake).unwrap(), 1);
    let setup = Setup::new(sim).unwrap();
    let p = Processor::new(proc).unwrap();
    let (mut s, mut ps) = (Scratch::default(), ProcessScratch::default());
    (0..list.len())
        .map(|e| {
            let (rows, g, rep) = list.event(e);
            let ev = setup.simulate_event(e as u64, g, rep, rows, &mut s);
            let out = p.process_event(&ev.pulses, &mut ps).unwrap();
            (rows[0].clone(), ev, out)
        })
        .collect()
}

/// Simulation without the processes that add signal to an S2 (PMT and photo-ionisation
/// afterpulses) or move its time (field distortion), so the closed forms apply.
fn plain_sim() -> SimConfig {
    let mut c = SimConfig {
        seed: 6,
        ..SimConfig::default()
    };
    c.afterpulses.pmt = false;
    c.afterpulses.photo_ionisation = false;
    c.s2.rz_distortion_map = "none".into();
    c
}

#[test]
fn drift_time_maps_back_to_the_true_depth() {
    let sim = plain_sim();
    let v = sim.s2.drift_velocity_um_per_ns * 1e-4; // cm/ns
    let events = chain(300, &sim, &ProcessConfig::default());
    let mut pulls = Vec::new();
    for (row, ev, out) in &events {
        let Some(i) = out.interactions.first() else {
            continue;
        };
        let ts2 = ev.peaks.iter().find(|p| p.peak_type == Truth::S2).unwrap();
        let depth = row.depth_cm.unwrap();
        assert!((ts2.z_cm + depth).abs() < 1e-9);
        // True drift time: depth / v_d + the gate time (1.7 us).
        let t_true = depth / v + 1700.0;
        // Diffusion spread of this event: the spread of its electrons' arrival times (truth).
        let sigma = ts2.electrons.unwrap().sigma_ns;
        let r = i.drift_time - t_true;
        assert!(
            r.abs() < 10.0 + 4.0 * sigma,
            "depth {depth}: drift time {} vs {t_true} (sigma {sigma})",
            i.drift_time
        );
        // z from the drift time, with the same velocity and gate time.
        assert!((i.z_observed - (-v * (i.drift_time - 1700.0))).abs() < 1e-9);
        pulls.push(r / (10.0 + sigma));
    }
    assert!(pulls.len() > 240, "{} interactions", pulls.len());
    // The S2 maximum trails the electrons' mean arrival by the trapping delay (140 ns mean) and
    // the luminescence time, inside one diffusion spread: the mean pull is between 0 and 1
    // (measured 0.55 +- 0.04). A wrong drift velocity by 1 % moves it by 3 us at 40 cm, i.e.
    // by about 3.)
    let (m, se) = mean_se(&pulls);
    assert!(m > -4.0 * se && m < 1.0, "mean pull {m} +- {se}");
}

#[test]
fn s2_areas_reproduce_electrons_survival_and_gain() {
    let sim = plain_sim();
    // Threshold 0: every sample above the baseline is in a hit, so the area is the charge.
    let mut all = ProcessConfig::default();
    all.hit_finder.absolute_adc_counts_threshold = 0.0;
    let dpe = 1.0 + sim.pmt.p_double_pe_emission;
    let setup = Setup::new(&sim).unwrap();
    let tau_ns = sim.s2.electron_lifetime_us * 1000.0;
    let events = chain(300, &sim, &all);
    let default = Processor::new(&ProcessConfig::default()).unwrap();
    let mut ps = ProcessScratch::default();
    let (mut ratio, mut paired) = (Vec::new(), Vec::new());
    // (depth, cs2 / expected S2 without electron loss): cs2 with the true lifetime (550 us in
    // both the simulation and the processing) must not depend on depth.
    let mut flat = Vec::new();
    for (row, ev, out) in &events {
        let Some(i) = out.interactions.first() else {
            continue;
        };
        let ts2 = ev.peaks.iter().find(|p| p.peak_type == Truth::S2).unwrap();
        let t_drift = row.depth_cm.unwrap() / (sim.s2.drift_velocity_um_per_ns * 1e-4);
        // Electrons x survival x extraction x photons per electron x LY(x, y) x (1 + p_dpe), in
        // pe (the SPE spectra have mean 1 in units of the gain).
        let expected = row.s2_electrons as f64
            * (-t_drift / tau_ns).exp()
            * sim.s2.electron_extraction_yield
            * setup.se_gain()
            * setup.s2_light_yield(ts2.x_cm, ts2.y_cm)
            * dpe;
        let s2 = &out.peaks[i.s2];
        ratio.push(s2.area / expected);
        let at_surface = expected * (t_drift / tau_ns).exp();
        flat.push((
            row.depth_cm.unwrap(),
            s2.area * i.s2_lifetime_correction / at_surface,
        ));
        // The same event with pax's thresholds: its largest S2.
        let d = default.process_event(&ev.pulses, &mut ps).unwrap();
        if let Some(j) = d.interactions.first() {
            paired.push(d.peaks[j.s2].area / s2.area);
        }
    }
    assert!(ratio.len() > 240, "{} interactions", ratio.len());
    let (m, se) = mean_se(&ratio);
    assert!((m - 1.0).abs() < 4.0 * se, "area / expected = {m} +- {se}");
    assert!(se < 0.015, "{se}");
    // Least-squares slope of the corrected ratio against depth, with its standard error.
    let n = flat.len() as f64;
    let (mx, my) = (
        flat.iter().map(|p| p.0).sum::<f64>() / n,
        flat.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxx: f64 = flat.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let slope = flat.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>() / sxx;
    let resid: f64 = flat
        .iter()
        .map(|p| (p.1 - my - slope * (p.0 - mx)).powi(2))
        .sum();
    let se_slope = (resid / (n - 2.0) / sxx).sqrt();
    // Without the correction the slope is -1/(v tau) = -1.4 % per cm, about 30 standard errors.
    assert!(
        slope.abs() < 4.0 * se_slope,
        "cs2 slope {slope} +- {se_slope} per cm"
    );
    assert!(se_slope < 0.0005, "{se_slope}");
    // pax's 15-ADC threshold loses the single photoelectrons of the low-charge tail of the SPE
    // spectra: a few per cent of the charge, never more charge.
    let (m, se) = mean_se(&paired);
    assert!(
        m > 0.93 && m < 1.0 - 4.0 * se,
        "area(15 ADC) / area(0 ADC) = {m} +- {se}"
    );
}

#[test]
fn s2_efficiency_above_200_pe() {
    let sim = SimConfig {
        seed: 8,
        ..SimConfig::default()
    };
    let events = chain(600, &sim, &ProcessConfig::default());
    let dpe = 1.0 + sim.pmt.p_double_pe_emission;
    let (mut n, mut found) = (0, 0);
    for (_, ev, out) in &events {
        for t in ev.peaks.iter().filter(|p| p.peak_type == Truth::S2) {
            if t.photons.n as f64 * dpe <= 200.0 {
                continue;
            }
            n += 1;
            // A reconstructed S2 whose samples contain the truth's mean photon time.
            let hit = out.peaks.iter().any(|p| {
                p.peak_type == Reco::S2
                    && (p.left as f64) * 10.0 <= t.photons.mean_ns
                    && t.photons.mean_ns <= (p.right as f64 + 1.0) * 10.0
            });
            found += u64::from(hit);
        }
    }
    assert!(n > 300, "{n} S2s above 200 pe");
    let eff = found as f64 / n as f64;
    assert!(eff > 0.99, "S2 efficiency above 200 pe: {found}/{n}");
}

/// hax's minitree columns (`hax/treemakers/common.py`, `corrections.py` v1.6, as this port
/// makes them) with their units.
#[test]
fn minitree_columns_and_units() {
    let names = |t: Minitree| -> Vec<(String, &'static str)> {
        t.columns().into_iter().map(|c| (c.name, c.unit)).collect()
    };
    let own = |v: &[(&str, &'static str)]| -> Vec<(String, &'static str)> {
        let mut o = vec![
            ("run_number".to_string(), ""),
            ("event_number".to_string(), ""),
        ];
        o.extend(v.iter().map(|(a, b)| (a.to_string(), *b)));
        o
    };
    assert_eq!(
        names(Minitree::Fundamentals),
        own(&[
            ("event_time", "ns since the Unix epoch"),
            ("event_duration", "ns")
        ])
    );
    assert_eq!(
        names(Minitree::Basics),
        own(&[
            ("s1", "pe"),
            ("s2", "pe"),
            ("s1_area_fraction_top", "1"),
            ("s2_area_fraction_top", "1"),
            ("s1_range_50p_area", "ns"),
            ("s2_range_50p_area", "ns"),
            ("x_pax", "cm"),
            ("y_pax", "cm"),
            ("z", "cm"),
            ("drift_time", "ns"),
            ("largest_other_s1", "pe"),
            ("largest_other_s2", "pe"),
            ("largest_veto", "pe"),
            ("largest_unknown", "pe"),
            ("largest_coincidence", "pe"),
        ])
    );
    let lpp = names(Minitree::LargestPeakProperties);
    assert_eq!(lpp.len(), 2 + 4 * 11);
    for t in ["s1", "s2", "lone_hit", "unknown"] {
        for (p, u) in [
            ("area", "pe"),
            ("area_fraction_top", "1"),
            ("n_hits", ""),
            ("hit_time_std", "ns"),
            ("center_time", "ns"),
            ("n_saturated_channels", ""),
            ("n_contributing_channels", ""),
            ("range_50p_area", "ns"),
            ("range_90p_area", "ns"),
            ("x", "cm"),
            ("y", "cm"),
        ] {
            assert!(lpp.contains(&(format!("{t}_{p}"), u)), "{t}_{p}");
        }
    }
    let corr = names(Minitree::Corrections);
    for (c, u) in [
        ("s2", "pe"),
        ("largest_other_s2", "pe"),
        ("r_observed", "cm"),
        ("z_observed", "cm"),
        ("s2_xy_correction_tot", "1"),
        ("s2_lifetime_correction", "1"),
        ("cs2", "pe"),
        ("cs2_top", "pe"),
        ("cs2_bottom", "pe"),
        ("r", "cm"),
        ("x", "cm"),
        ("y", "cm"),
        ("z", "cm"),
        ("s1_xyz_correction", "1"),
        ("cs1", "pe"),
    ] {
        assert!(corr.contains(&(c.to_string(), u)), "{c}");
    }
    // The Parquet schemas carry the same units.
    for t in MINITREES {
        for (f, c) in t.schema().fields().iter().zip(t.columns()) {
            assert_eq!(f.name(), &c.name);
            assert_eq!(
                f.metadata().get("unit").map(String::as_str).unwrap_or(""),
                c.unit
            );
        }
    }
}

fn run_files(sim_dir: &Path, out: &Path, threads: usize, block: usize) -> Vec<(String, Vec<u8>)> {
    let cfg = ProcessConfig {
        block_events: block,
        ..ProcessConfig::default()
    };
    let progress = hep_core::progress::NoProgress;
    fax_sim::output::with_threads(Some(threads), || {
        fax_sim::process::job::run_process(&cfg, sim_dir, out, &progress)
    })
    .unwrap()
    .unwrap();
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.to_string_lossy().ends_with(".manifest.json"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn outputs_are_byte_identical_at_any_thread_count_and_nan_only_where_missing() {
    let d = tempfile::tempdir().unwrap();
    let fake = FakeConfig {
        seed: 2,
        number_event_per_job: 40,
        ..FakeConfig::default()
    };
    let csv = d.path().join("fake.csv");
    fax_sim::instructions::write_csv(&csv, &create_fake(&fake).unwrap()).unwrap();
    let sim_dir = d.path().join("sim");
    let sim = SimConfig {
        seed: 3,
        ..SimConfig::default()
    };
    fax_sim::output::run_simulate(&sim, &csv, &sim_dir, None, &hep_core::progress::NoProgress)
        .unwrap();
    let a = run_files(&sim_dir, &d.path().join("a"), 1, 1024);
    let b = run_files(&sim_dir, &d.path().join("b"), 2, 1024);
    let c = run_files(&sim_dir, &d.path().join("c"), 3, 1024);
    assert_eq!(a.len(), 10);
    assert_eq!(a, b);
    assert_eq!(b, c);
    // Basics CSV: events without an S1-S2 pair have nan in the main-interaction columns and
    // numbers in the largest_* columns; the Parquet has nulls there.
    let text =
        String::from_utf8(a.iter().find(|f| f.0 == "Basics.csv").unwrap().1.clone()).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let mut n_rows = 0;
    for l in lines {
        n_rows += 1;
        let v: Vec<&str> = l.split(',').collect();
        assert_eq!(v.len(), header.len());
        let no_pair = v[2] == "nan";
        for (h, x) in header.iter().zip(&v).skip(2) {
            if h.starts_with("largest_") {
                assert!(x.parse::<f64>().unwrap().is_finite(), "{h} = {x}");
            } else if no_pair {
                assert_eq!(*x, "nan", "{h}");
            }
        }
    }
    assert_eq!(n_rows, 40);
    let t = hep_core::io::read_parquet_table(d.path().join("a/Basics.parquet")).unwrap();
    let s1 = hep_core::io::column_f64(&t, "s1").unwrap();
    let lo = hep_core::io::column_f64(&t, "largest_other_s2").unwrap();
    assert_eq!(lo.null_count(), 0);
    let n_nan = text
        .lines()
        .skip(1)
        .filter(|l| l.split(',').nth(2) == Some("nan"))
        .count();
    assert_eq!(s1.null_count(), n_nan);
    assert!(s1.iter().flatten().all(f64::is_finite));
}

mod fuzz {
    use fax_sim::process::{ProcessConfig, ProcessScratch, Processor};
    use fax_sim::simulate::Pulses;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Arbitrary pulses (any samples, overlapping pulses, any TPC or veto channel) never make
        /// processing panic, and every peak has a positive area and finite properties.
        #[test]
        fn arbitrary_pulses_never_panic(
            pulses in proptest::collection::vec(
                (0u16..260, 0i64..400, proptest::collection::vec(any::<i16>().prop_map(|x| x.rem_euclid(16384)), 1..120)),
                0..40,
            ),
            v68 in any::<bool>(),
        ) {
            let cfg = ProcessConfig {
                pax_version: if v68 { fax_sim::process::PaxVersion::V6_8 } else { fax_sim::process::PaxVersion::V6_10 },
                ..ProcessConfig::default()
            };
            let proc = Processor::new(&cfg).unwrap();
            let mut p = Pulses { offsets: vec![0], ..Pulses::default() };
            for (c, s, v) in &pulses {
                p.channel.push(*c);
                p.start_sample.push(*s);
                p.samples.extend_from_slice(v);
                p.offsets.push(p.samples.len());
            }
            let out = proc.process_event(&p, &mut ProcessScratch::default()).unwrap();
            for pk in &out.peaks {
                prop_assert!(pk.area > 0.0 && pk.area.is_finite());
                prop_assert!(pk.range_50p_area().is_finite() && pk.rise_time().is_finite());
                prop_assert!(pk.left <= pk.index_of_maximum && pk.index_of_maximum <= pk.right);
            }
            for i in &out.interactions {
                prop_assert!(i.drift_time >= 0.0);
            }
        }
    }
}
