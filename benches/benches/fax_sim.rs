//! fax-sim: the detector response of the production default configuration (create-fake defaults:
//! 50-100 S1 photons and 10-100 S2 electrons per event in the 2018 box, x1t_sr1 preset with every
//! effect on), to ZLE pulses in memory, on one thread; and the same with the Parquet write.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fax_sim::config::{MapInterpolation, SimConfig};
use fax_sim::fake::{FakeConfig, create_fake};
use fax_sim::output::{EventList, simulate_events, with_threads};
use fax_sim::simulate::Setup;
use hep_core::progress::NoProgress;

const N: usize = 1000;

fn bench(c: &mut Criterion) {
    let rows = create_fake(&FakeConfig {
        seed: 1,
        number_event_per_job: N as u64,
        ..FakeConfig::default()
    })
    .unwrap();
    let list = EventList::new(rows.clone(), 1);
    let mut g = c.benchmark_group("fax_sim");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(10);
    for (name, interp) in [
        ("idw", MapInterpolation::Idw),
        ("grid", MapInterpolation::Grid),
    ] {
        let cfg = SimConfig {
            seed: 1,
            map_interpolation: interp,
            map_grid_step_cm: 1.0,
            ..SimConfig::default()
        };
        let setup = Setup::new(&cfg).unwrap();
        g.bench_function(format!("simulate_1000_events_1_thread_{name}"), |b| {
            b.iter(|| {
                with_threads(Some(1), || {
                    let mut n = 0usize;
                    simulate_events(&setup, &list, 0..N, &NoProgress, |blk| {
                        n += blk.iter().map(|e| e.pulses.samples.len()).sum::<usize>();
                        Ok(())
                    })
                    .unwrap();
                    black_box(n)
                })
                .unwrap()
            })
        });
    }
    let dir = tempfile_dir();
    let input = dir.join("fake.csv");
    fax_sim::instructions::write_csv(&input, &rows).unwrap();
    let cfg = SimConfig {
        seed: 1,
        ..SimConfig::default()
    };
    g.bench_function("simulate_1000_events_1_thread_with_parquet_write", |b| {
        b.iter(|| {
            with_threads(Some(1), || {
                fax_sim::output::run_simulate(&cfg, &input, &dir.join("out"), None, &NoProgress)
                    .unwrap()
            })
            .unwrap()
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("fax-sim-bench-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

criterion_group!(benches, bench);
criterion_main!(benches);
