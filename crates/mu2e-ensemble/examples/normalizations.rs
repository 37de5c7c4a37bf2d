//! Expected events per process for a livetime, from the Mu2e tables embedded in the crate.
//!
//! `cargo run -p mu2e-ensemble --example normalizations [LIVETIME_S]` (default 1e6 s) prints two
//! tables: the 2018 constant set (mdc2018, needs no stop rates) and the current one (mds), the
//! latter with the stop rates of `examples/data/` — an unofficial example, not Mu2e data
//! (see `examples/data/README.md`).

use mu2e_ensemble::commands::{NormalizationsConfig, StopRateOptions, normalizations};
use mu2e_ensemble::constants::ConstantSet;
use mu2e_ensemble::normalizations::Unit;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let livetime: f64 = match std::env::args().nth(1) {
        Some(s) => s.parse()?,
        None => 1e6,
    };
    let example_rates = StopRateOptions {
        simeff: Some(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("examples/data/SimEfficiencies2_Sim_best_v1_1_run1430_transcription.csv"),
        ),
        ..Default::default()
    };
    for (constants, stop_rates) in [
        (ConstantSet::Mdc2018, StopRateOptions::default()),
        (ConstantSet::Mds, example_rates),
    ] {
        let cfg = NormalizationsConfig {
            constants,
            livetime: Some(livetime),
            rue: 1e-16,
            stop_rates,
            ..Default::default()
        };
        let report = normalizations(&cfg)?;
        println!(
            "{constants}: livetime {}, {:.4e} protons on target",
            report.inputs.livetime, report.norms.pot.0
        );
        println!("  {:<16} {:>14}  unit", "sample", "expected");
        for e in &report.norms.entries {
            let unit = match e.unit {
                Unit::Events => "events",
                Unit::CosmicLivetimeSeconds => "s of cosmic livetime",
            };
            println!("  {:<16} {:>14.6e}  {unit}", e.sample, e.value);
        }
        println!();
    }
    Ok(())
}
