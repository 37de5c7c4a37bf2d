//! calo-calib on the whole calorimeter: the 2696 SiPM spectra of both disks at the design
//! statistics of 63 000 events per crystal, multi-start extended-likelihood fits with Hessian
//! errors and the profile interval of the peak, parallel over channels (issue 3, item 8). The
//! spectra are simulated once, outside the measurement.

use calo_calib::channel::IdMode;
use calo_calib::detector::{Selection, fit_detector};
use calo_calib::fit::FitConfig;
use calo_calib::simulate::{SimConfig, all_ids, simulate_detector};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

fn calo_detector(c: &mut Criterion) {
    let sim = SimConfig {
        seed: 2026,
        events_per_crystal: 63_000.0,
        ..SimConfig::default()
    };
    let mode = IdMode::PerSipm;
    let (set, _) = simulate_detector(&sim, &all_ids(mode), mode).expect("simulation");
    let cfg = FitConfig::default();
    let mut g = c.benchmark_group("calo_whole_detector_63k");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(40));
    g.bench_function("nll/multi_start_errors_interval", |b| {
        b.iter(|| {
            let fits =
                fit_detector(black_box(&set), &cfg, &Selection::default()).expect("detector fit");
            assert_eq!(fits.len(), 2696);
            fits
        })
    });
    g.finish();
}

criterion_group!(benches, calo_detector);
criterion_main!(benches);
