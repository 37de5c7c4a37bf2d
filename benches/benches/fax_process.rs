//! fax-sim process: pax's processing chain (hits, clustering, peak properties, classification,
//! interactions and corrections) on the production default events (create-fake defaults,
//! x1t_sr1 preset, every effect on), in memory on one thread; simulate + process in memory on
//! two threads (the figure of the 2 000 events/s target); the `process` job from Parquet; and a
//! whole production (create-fake, simulate, process, match, merge) through files.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fax_sim::config::SimConfig;
use fax_sim::fake::{FakeConfig, create_fake};
use fax_sim::output::{EventList, simulate_events, with_threads};
use fax_sim::process::{ProcessConfig, ProcessScratch, Processor};
use fax_sim::simulate::Setup;
use hep_core::progress::NoProgress;
use rayon::prelude::*;

const N: usize = 1000;

fn bench(c: &mut Criterion) {
    let rows = create_fake(&FakeConfig {
        seed: 1,
        number_event_per_job: N as u64,
        ..FakeConfig::default()
    })
    .unwrap();
    let list = EventList::new(rows.clone(), 1);
    let cfg = SimConfig {
        seed: 1,
        ..SimConfig::default()
    };
    let setup = Setup::new(&cfg).unwrap();
    let proc = Processor::new(&ProcessConfig::default()).unwrap();
    let mut events = Vec::with_capacity(N);
    simulate_events(&setup, &list, 0..N, &NoProgress, |blk| {
        events.extend(blk);
        Ok(())
    })
    .unwrap();
    let mut g = c.benchmark_group("fax_process");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(10);
    g.bench_function("process_1000_events_in_memory_1_thread", |b| {
        b.iter(|| {
            let mut s = ProcessScratch::default();
            let n: usize = events
                .iter()
                .map(|e| proc.process_event(&e.pulses, &mut s).unwrap().peaks.len())
                .sum();
            black_box(n)
        })
    });
    g.bench_function(
        "simulate_and_process_1000_events_in_memory_2_threads",
        |b| {
            b.iter(|| {
                with_threads(Some(2), || {
                    let mut n = 0usize;
                    simulate_events(&setup, &list, 0..N, &NoProgress, |blk| {
                        n += blk
                            .par_iter()
                            .map_init(ProcessScratch::default, |s, e| {
                                proc.process_event(&e.pulses, s).unwrap().peaks.len()
                            })
                            .sum::<usize>();
                        Ok(())
                    })
                    .unwrap();
                    black_box(n)
                })
                .unwrap()
            })
        },
    );
    let dir = std::env::temp_dir().join(format!("fax-process-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("fake.csv");
    fax_sim::instructions::write_csv(&input, &rows).unwrap();
    fax_sim::output::run_simulate(&cfg, &input, &dir.join("sim"), None, &NoProgress).unwrap();
    let pcfg = ProcessConfig::default();
    g.bench_function("process_job_1000_events_from_parquet_1_thread", |b| {
        b.iter(|| {
            with_threads(Some(1), || {
                fax_sim::process::job::run_process(
                    &pcfg,
                    &dir.join("sim"),
                    &dir.join("proc"),
                    &NoProgress,
                )
                .unwrap()
            })
            .unwrap()
        })
    });
    // The whole production chain through files: 4 ids of 250 events each through create-fake,
    // simulate, process and match, then the merge, on 2 threads, into a fresh directory.
    let production = fax_sim::production::Production::from_toml(
        "name = \"Bench\"\nnumber_job = 4\nseed = 1\n[fake]\nnumber_event_per_job = 250\n",
        "bench",
    )
    .unwrap();
    let mut round = 0u64;
    g.bench_function("production_1000_events_4_ids_2_threads", |b| {
        b.iter_batched(
            || {
                round += 1;
                let d = dir.join(format!("production-{round}"));
                let _ = std::fs::remove_dir_all(&d);
                d
            },
            |d| {
                let s = with_threads(Some(2), || {
                    fax_sim::production::run_production(&production, &d, None, &NoProgress).unwrap()
                })
                .unwrap();
                assert_eq!(s.n_completed, 4);
                let _ = std::fs::remove_dir_all(&d);
            },
            criterion::BatchSize::PerIteration,
        )
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
