//! calo-calib source fit of one simulated 10 000-event SiPM spectrum (the toy-target
//! statistics of docs/calo-calib.md):
//! single start, the default multi-start, and the multi-start with the profile interval of the
//! peak. The whole-detector figure comes from `hep-demo` (see docs/performance.md).

use calo_calib::fit::{FitConfig, fit_spectrum};
use calo_calib::simulate::{SimConfig, simulate_channel};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn calo_fit(c: &mut Criterion) {
    let sim = SimConfig {
        seed: 5,
        events_per_crystal: 10_000.0,
        ..SimConfig::default()
    };
    let (s, _) = simulate_channel(&sim, 12).expect("simulation");
    let mut g = c.benchmark_group("calo_source_fit_10k_events");
    g.sample_size(20);
    for (label, cfg) in [
        (
            "nll/single_start",
            FitConfig {
                starts_adc: vec![98.0],
                alpha_starts: vec![1.5],
                peak_interval: false,
                ..FitConfig::default()
            },
        ),
        (
            "nll/multi_start",
            FitConfig {
                peak_interval: false,
                ..FitConfig::default()
            },
        ),
        ("nll/multi_start_with_interval", FitConfig::default()),
    ] {
        g.bench_function(label, |b| {
            b.iter(|| {
                fit_spectrum(12, black_box(&s.edges), black_box(&s.counts), &cfg).expect("fit")
            })
        });
    }
    g.finish();
}

criterion_group!(benches, calo_fit);
criterion_main!(benches);
