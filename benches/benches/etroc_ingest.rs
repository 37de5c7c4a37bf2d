//! ETROC1 ingest benchmark: parse a beam txt summary of 10 million hit lines (the FNAL
//! converter's format) and build the 3-board events, from memory and from a file.
//!
//! The input mimics the FNAL converter output: a banner line, then `board TOA TOT CAL flag date
//! time` lines in the 0, 1, 3 readout order with 1 % hit-flag-0 lines mixed in, the clock advancing
//! one second every 150 lines. Throughput is reported in lines per second (target: 1e7/s).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use etroc_analysis::ingest::{IngestOptions, parse_beam_txt, read_beam_txt};
use std::hint::black_box;
use std::path::Path;

/// Number of data lines of the generated file.
const LINES: usize = 10_000_000;

/// A beam txt of `lines` data lines (deterministic: a fixed linear congruential sequence).
fn generate(lines: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(lines * 38 + 64);
    out.extend_from_slice(b"min file index: 0, max file index: 99\n");
    let mut state: u64 = 42;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as u32
    };
    let boards = [0u8, 1, 3];
    for i in 0..lines {
        let b = boards[i % 3];
        let (toa, tot, cal) = (next() % 1024, next() % 512, 128 + next() % 5);
        let flag = u8::from(next() % 100 != 0);
        let secs = i / 150;
        let line = format!(
            "{b} {toa} {tot} {cal} {flag} 2023-03-29 {:02}:{:02}:{:02}\n",
            (secs / 3600) % 24,
            (secs / 60) % 60,
            secs % 60
        );
        out.extend_from_slice(line.as_bytes());
    }
    out
}

fn etroc_ingest(c: &mut Criterion) {
    let bytes = generate(LINES);
    let name = Path::new("F5P5_F17P5_B2P5_Beam_HV190.txt");
    let opts = IngestOptions::beam_txt();
    let mut g = c.benchmark_group("etroc_ingest_beam_txt_10M_lines");
    g.sample_size(10);
    g.throughput(Throughput::Elements(LINES as u64));
    g.bench_function("parse_in_memory", |b| {
        b.iter(|| parse_beam_txt(black_box(&bytes), name, &opts).expect("valid input"))
    });
    let path = std::env::temp_dir().join(format!("etroc_ingest_bench_{}", std::process::id()));
    std::fs::create_dir_all(&path).expect("temp dir");
    let file = path.join(name);
    std::fs::write(&file, &bytes).expect("write input");
    g.bench_function("read_file", |b| {
        b.iter(|| read_beam_txt(black_box(&file), &opts).expect("valid input"))
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&path);
}

criterion_group!(benches, etroc_ingest);
criterion_main!(benches);
