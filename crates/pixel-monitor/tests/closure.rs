//! Closure on simulated data: a simulated period through the profiles of all 128 readout groups
//! and the Hamburg fit. The profile must cover the fills, its fluence must add up to
//! luminosity × cross-section × field, its temperatures must be those of the generating model,
//! and the fitted Hamburg parameters must come back within their errors.

use std::collections::BTreeMap;

use arrow_array::Array;
use hep_core::io::{column_as, column_f64, column_i64, column_str, read_parquet_table};
use pixel_monitor::geometry::Geometry;
use pixel_monitor::hamburg::HamburgParams;
use pixel_monitor::pipeline::{PipelineConfig, Steps, run};
use pixel_monitor::simulate::{DcsFormat, SimConfig, Simulation};

#[test]
fn simulated_period_closes() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = SimConfig {
        dcs_format: DcsFormat::Parquet,
        ..SimConfig::small(30.0)
    };
    let sim = Simulation::new(&cfg).unwrap();
    let sim_dir = tmp.path().join("sim");
    sim.write(&sim_dir, &hep_core::progress::NoProgress)
        .unwrap();
    let pcfg = PipelineConfig {
        out_dir: tmp.path().join("run"),
        inputs: PipelineConfig::simulated_inputs(&sim_dir),
        steps: Steps {
            currents: false,
            temperatures: false,
            air: false,
            annealing: false,
            profile: true,
            hamburg: true,
            plots: false,
        },
        ..PipelineConfig::default()
    };
    let rep = run(&pcfg, &hep_core::progress::NoProgress).unwrap();
    let geo = Geometry::phase1();
    let first = sim.fills.first().unwrap().fill;
    let last = sim.fills.last().unwrap().fill;
    let profile = pcfg.out_dir.join(format!(
        "data/radiation_simulation/profiles/profile_{first}_{last}.parquet"
    ));
    let b = read_parquet_table(&profile).unwrap();
    let names = column_str(&b, "readout_group").unwrap();
    let fill = column_i64(&b, "fill").unwrap();
    let end = column_as::<arrow_array::TimestampMicrosecondArray>(&b, "interval_end").unwrap();
    let start = column_as::<arrow_array::TimestampMicrosecondArray>(&b, "interval_start").unwrap();
    let meas_end =
        column_as::<arrow_array::TimestampMicrosecondArray>(&b, "measurement_end").unwrap();
    let fluence = column_f64(&b, "fluence").unwrap();
    let pipe = column_f64(&b, "pipe_temperature_k").unwrap();
    let temp = column_f64(&b, "temperature_k").unwrap();
    let rate = column_f64(&b, "fluence_rate").unwrap();
    let hv = hep_core::io::column_bool(&b, "hv_on").unwrap();

    // Durations cover every fill exactly, and the timeline has no gap from the first fill on.
    let mut covered: BTreeMap<(String, i64), i64> = BTreeMap::new();
    let mut prev: BTreeMap<String, i64> = BTreeMap::new();
    for i in 0..b.num_rows() {
        let n = names.value(i).to_string();
        if let Some(p) = prev.get(&n) {
            assert_eq!(start.value(i), *p, "gap or overlap in {n} at row {i}");
        }
        prev.insert(n.clone(), end.value(i));
        if !fill.is_null(i) {
            *covered.entry((n, fill.value(i))).or_default() += end.value(i) - start.value(i);
        }
    }
    for g in &geo.readout_groups {
        for f in &sim.fills {
            assert_eq!(
                covered[&(g.name.clone(), i64::from(f.fill))],
                f.end - f.start,
                "{} fill {}",
                g.name,
                f.fill
            );
        }
    }

    // Fluence: sum over the rows = luminosity (per lumisection, as read) x sigma x <F> x 1e12.
    let lumi_total: f64 = {
        let t = pixel_monitor::lumi::read_brilcalc(
            &sim_dir.join("lumi_byls.csv"),
            &pixel_monitor::time::TimeReader::utc(),
        )
        .unwrap();
        let ls = pixel_monitor::lumi::LsLumi::from_table(&t).unwrap();
        sim.fills
            .iter()
            .map(|f| ls.delivered_fb(f.start, f.end))
            .sum()
    };
    let mut sums: BTreeMap<&str, f64> = BTreeMap::new();
    for i in 0..b.num_rows() {
        *sums.entry(names.value(i)).or_default() += fluence.value(i);
    }
    for (k, g) in geo.readout_groups.iter().enumerate() {
        let want = sim.rog_fluence[k] * lumi_total * 80.0 * 1e12;
        let got = sums[g.name.as_str()];
        assert!(
            (got / want - 1.0).abs() < 1e-9,
            "{}: {got} vs {want}",
            g.name
        );
    }

    // Temperatures: the pipe temperature is the generating loop temperature (sensor noise 0.05 K,
    // averaged over 2 to 6 sensors) where the temperature is steady (the newest reading of a
    // sensor can be one PLC interval old, which matters only on the warm-up ramps), and the
    // sensor temperature adds the model's heating.
    let model = pcfg.model;
    let mut diffs: BTreeMap<u8, (f64, f64, f64)> = BTreeMap::new();
    let mut steady = 0usize;
    for i in 0..b.num_rows() {
        let g = geo.rog(names.value(i)).unwrap();
        let rog = geo.rog_index(&g.name).unwrap();
        let t = meas_end.value(i) - 1;
        let truth = sim.pipe_temperature_k(rog, t);
        let before = sim.pipe_temperature_k(rog, t - 3600 * 1_000_000);
        if (truth - before).abs() < 0.5 {
            steady += 1;
            let d = pipe.value(i) - truth;
            let e = diffs.entry(g.layer).or_default();
            e.0 += 1.0;
            e.1 += d;
            e.2 += d * d;
        }
        let heat = if hv.value(i) {
            model.self_heating_k(g.layer) + model.fluence_heating_k_per_rate * rate.value(i)
        } else {
            0.0
        };
        assert!((temp.value(i) - pipe.value(i) - heat).abs() < 1e-9);
        assert_eq!(
            hv.value(i),
            sim.hv_on(meas_end.value(i) - 1),
            "HV state at row {i}"
        );
    }
    assert!(
        steady as f64 > 0.95 * b.num_rows() as f64,
        "{steady} steady rows of {}",
        b.num_rows()
    );
    for (layer, (n, s, s2)) in diffs {
        let mean = s / n;
        let rms = (s2 / n - mean * mean).sqrt();
        assert!(
            mean.abs() < 0.01,
            "layer {layer}: mean pipe difference {mean} K"
        );
        assert!(rms < 0.1, "layer {layer}: rms pipe difference {rms} K");
    }

    // Hamburg fit per layer: alpha_I, alpha_0* and beta within their errors of the truth.
    let truth = HamburgParams::default();
    let h = rep.hamburg.as_ref().unwrap();
    assert_eq!(h.fits.len(), 4);
    for g in &h.fits {
        let want = [truth.alpha_i, truth.alpha0_star, truth.beta];
        for (k, want_k) in want.iter().enumerate() {
            let pull = (g.fit.params[k] - want_k) / g.fit.errors[k];
            eprintln!("{} parameter {k}: pull {pull:.2}", g.group);
            assert!(
                pull.abs() < 3.0,
                "{} parameter {k}: {:e} +- {:e} vs {:e} (pull {pull:.2})",
                g.group,
                g.fit.params[k],
                g.fit.errors[k],
                want[k]
            );
        }
        // And the errors are informative: beta to better than 10 %.
        assert!(
            g.fit.errors[2] < 0.1 * truth.beta,
            "{}: beta error {:e}",
            g.group,
            g.fit.errors[2]
        );
    }
    // Measured against predicted per fill: unbiased within 0.5 %.
    let ratios: Vec<f64> = h
        .comparisons
        .iter()
        .map(|c| c.measured / c.predicted)
        .collect();
    let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
    assert!((mean - 1.0).abs() < 0.005, "measured / predicted = {mean}");
}
