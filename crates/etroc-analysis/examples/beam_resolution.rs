//! Simulates a small ETROC1 beam run with a fixed seed, runs the whole beam chain through the
//! library (ingest, event cuts, codes to ns, time cuts, three time-walk iterations, resolution)
//! and prints each board's time resolution (ps) next to the simulated truth.
//!
//! ```text
//! cargo run -p etroc-analysis --example beam_resolution [OUTPUT_DIR]
//! ```
//!
//! `OUTPUT_DIR` (default: a fresh temporary directory, removed at the end) receives the
//! simulated txt (`sim/`) and the run directory (`run/`).

use std::path::PathBuf;

use etroc_analysis::jobs::{RunBeamConfig, SimKind, SimulateConfig, SimulateReport};
use etroc_analysis::pipeline::{BeamChainOptions, compare_with_truth};
use etroc_analysis::twc::TwcOptions;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (base, temporary) = match std::env::args_os().nth(1) {
        Some(d) => (PathBuf::from(d), false),
        None => (
            std::env::temp_dir().join(format!("etroc-beam-resolution-{}", std::process::id())),
            true,
        ),
    };
    let sim = SimulateConfig {
        kind: SimKind::Beam,
        out_directory: Some(base.join("sim")),
        seed: 2023,
        events: 4_000,
        ..SimulateConfig::default()
    };
    let SimulateReport::Beam { txt, truth, .. } = etroc_analysis::jobs::simulate(&sim)? else {
        return Err("simulate beam wrote no beam run".into());
    };
    let run = base.join("run");
    if run.exists() {
        std::fs::remove_dir_all(&run)?;
    }
    let cfg = RunBeamConfig {
        file: Some(txt),
        out_directory: run,
        chain: BeamChainOptions {
            twc: TwcOptions {
                iterations: 3,
                ..TwcOptions::default()
            },
            ..BeamChainOptions::default()
        },
        ..RunBeamConfig::default()
    };
    let report = etroc_analysis::jobs::run_beam_job(&cfg, &hep_core::progress::NoProgress)?;
    println!(
        "{} events built, {} after the cuts; per-board time resolution after 3 TWC iterations:",
        report.chain.events, report.chain.events_final
    );
    println!("board  true jitter (ps)  expected (ps)  measured (ps)  pull");
    for b in compare_with_truth(&report.chain, &truth) {
        println!(
            "{:>5}  {:>16.1}  {:>13.1}  {:>6.1} ± {:>4.1}  {:>+5.2}",
            b.board, b.true_jitter_ps, b.expected_ps, b.measured_ps, b.measured_unc_ps, b.pull
        );
    }
    if temporary {
        std::fs::remove_dir_all(&base)?;
    } else {
        println!("run directory: {}", cfg.out_directory.display());
    }
    Ok(())
}
