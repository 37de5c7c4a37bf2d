//! `hep-demo`: the main job of every hep-rs tool on built-in default input.
//!
//! calo-calib: simulate the Mu2e calorimeter's 2696 SiPM source spectra (63 000 events per
//! crystal), fit every channel, combine with simulated cosmic constants, and compare the
//! constants with the truth.

use anyhow::Result;
use calo_calib::fit::Method;
use calo_calib::pipeline::{DemoOptions, run_demo};
use clap::Parser;

#[derive(Parser)]
#[command(
    name = "hep-demo",
    version,
    about = "Run the hep-rs main jobs on built-in input"
)]
struct Cli {
    /// Master seed.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Fit only the first N SiPMs instead of all 2696.
    #[arg(long)]
    channels: Option<u32>,
    /// Mean events per crystal.
    #[arg(long, default_value_t = 63_000.0)]
    events_per_crystal: f64,
    /// Use the Neyman chi-square instead of the Poisson likelihood.
    #[arg(long)]
    chi2: bool,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let opts = DemoOptions {
        seed: cli.seed,
        n_channels: cli.channels,
        events_per_crystal: cli.events_per_crystal,
        method: if cli.chi2 { Method::Chi2 } else { Method::Nll },
        ..DemoOptions::default()
    };
    println!(
        "calo-calib: {} SiPM source spectra, {} events per crystal, seed {}",
        opts.n_channels
            .map_or("all 2696".to_string(), |n| n.to_string()),
        opts.events_per_crystal,
        opts.seed
    );
    let r = run_demo(&opts)?;
    println!(
        "  fitted {} channels: {} usable, {} failed, {} LYSO not fitted (CsI window)",
        r.n_fitted, r.n_usable, r.n_failed, r.n_lyso
    );
    println!(
        "  source constants vs truth: pull mean {:+.3}, width {:.3}",
        r.source_pull.0, r.source_pull.1
    );
    println!(
        "  combined constants (status 0) vs truth: pull mean {:+.3}, width {:.3}",
        r.combined_pull.0, r.combined_pull.1
    );
    let s: Vec<String> = r
        .status_counts
        .iter()
        .map(|(c, n)| format!("{c}: {n}"))
        .collect();
    println!("  reco table status codes: {}", s.join(", "));
    println!(
        "  time: simulate {:.1} s, fit {:.1} s, combine {:.3} s",
        r.seconds.0, r.seconds.1, r.seconds.2
    );
    Ok(())
}
