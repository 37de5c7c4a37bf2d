//! The whole ETROC1 beam chain without plots on a simulated run of 1 000 000 events (the
//! `etroc_analysis::simulate` beam recipe scaled up: 15 000 stray hits, 10 000 flag-0 lines): parse
//! and event building, event cuts (the default CAL window), codes to ns, TWC (ODR, order 2) and the
//! resolution.
//!
//! * `in_memory/i1` and `in_memory/i3`: [`run_beam_in_memory`] with 1 (the original's default)
//!   and 3 TWC iterations: the computation alone.
//! * `on_disk_parquet/i1`: [`run_beam`] into a fresh run directory with the Parquet tables,
//!   filters, reports and manifests but without the SQLite copies.
//!
//! The input is simulated once, outside the timing, into the system temp directory.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use etroc_analysis::pipeline::{BeamChainOptions, run_beam, run_beam_in_memory};
use etroc_analysis::simulate::{BeamSimConfig, write_beam_run};
use etroc_analysis::twc::TwcOptions;

fn input() -> (PathBuf, PathBuf) {
    let base = std::env::temp_dir().join(format!("etroc-chain-bench-{}", std::process::id()));
    let cfg = BeamSimConfig {
        n_events: 1_000_000,
        n_stray_hits: 15_000,
        n_flag0_lines: 10_000,
        ..BeamSimConfig::default()
    };
    let (txt, _, _) = write_beam_run(&base.join("input"), &cfg).expect("simulation");
    (base, txt)
}

fn options(iterations: usize, sqlite: bool) -> BeamChainOptions {
    BeamChainOptions {
        twc: TwcOptions {
            iterations,
            ..TwcOptions::default()
        },
        sqlite,
        ..BeamChainOptions::default()
    }
}

fn etroc_chain(c: &mut Criterion) {
    let (base, txt) = input();
    let mut g = c.benchmark_group("etroc_beam_chain_1M_events");
    g.sample_size(10);
    for i in [1, 3] {
        let opts = options(i, false);
        g.bench_function(format!("in_memory/i{i}"), |b| {
            b.iter(|| black_box(run_beam_in_memory(&txt, None, None, &opts).expect("chain")))
        });
    }
    let opts = options(1, false);
    let mut k = 0u64;
    g.bench_function("on_disk_parquet/i1", |b| {
        b.iter(|| {
            k += 1;
            let run = base.join(format!("run{k}"));
            let r = run_beam(&txt, &run, &opts).expect("chain");
            let _ = std::fs::remove_dir_all(&run);
            black_box(r)
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&base);
}

criterion_group!(benches, etroc_chain);
criterion_main!(benches);
