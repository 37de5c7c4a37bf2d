//! `hep-demo`: the main job of every hep-rs tool on built-in default input.
//!
//! * calo-calib: simulate the Mu2e calorimeter's 2696 SiPM source spectra (63 000 events per
//!   crystal), fit every channel, combine with simulated cosmic constants, and compare the
//!   constants with the truth.
//! * mu2e-ensemble: normalisations for a standard livetime, primary samples for each process,
//!   one blind ensemble, and the expected against the realised counts per sample.
//! * etroc-analysis: simulate a 20 000-event ETROC1 test-beam run, run the whole chain (ingest,
//!   cuts, codes to ns, time-walk correction, resolution), and print each board's time
//!   resolution next to the truth.
//! * fax-sim: a small fax production of the XENON1T production default (50-100 photons, 10-100
//!   electrons per event): fake instructions simulated to zero-length-encoded PMT pulses,
//!   processed into peaks and minitrees, matched to the truth; the S1 and S2 reconstruction
//!   efficiency and area per photon, and the check plots; then the S1-S2 band of flat 0-20 keV
//!   electron and nuclear recoils with NEST v2 quanta.
//! * pixel-monitor: a simulated year of CMS pixel running (200 days of fills, the leakage
//!   currents of every barrel power channel, temperatures, luminosity, a FLUKA map) through the
//!   whole chain: per-fill currents and temperatures, luminosity, the radiation profiles of all
//!   128 barrel readout groups, and the Hamburg-model comparison and fit per layer.
//!
//! `--only TOOL` runs one of them. Tables and plots go into `--output DIR` (default
//! `hep-demo-out/`), one subdirectory per tool, which each run replaces.

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Parser)]
#[command(
    name = "hep-demo",
    version,
    about = "Run the hep-rs main jobs on built-in input"
)]
struct Cli {
    /// Master seed of every job.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Run only this tool's job.
    #[arg(long, value_enum)]
    only: Option<Tool>,
    /// calo-calib: fit only the first N SiPMs instead of all 2696.
    #[arg(long)]
    channels: Option<u32>,
    /// calo-calib: mean events per crystal.
    #[arg(long, default_value_t = 63_000.0)]
    events_per_crystal: f64,
    /// calo-calib: use the Neyman chi-square instead of the Poisson likelihood.
    #[arg(long)]
    chi2: bool,
    /// mu2e-ensemble: livetime of the ensemble (s, wall clock).
    #[arg(long, default_value_t = 1e5)]
    livetime: f64,
    /// etroc-analysis: events of the simulated beam run.
    #[arg(long, default_value_t = 20_000)]
    beam_events: usize,
    /// fax-sim: events to create, simulate, process and match (in 4 production ids).
    #[arg(long, default_value_t = 2000)]
    fax_events: u64,
    /// pixel-monitor: days of running to simulate.
    #[arg(long, default_value_t = 200.0)]
    pixel_days: f64,
    /// Where the tables and plots go: one subdirectory per tool (calo-calib/, mu2e-ensemble/,
    /// etroc-analysis/, fax-sim/, pixel-monitor/), each replaced by the next run.
    #[arg(short, long, value_name = "DIR", default_value = "hep-demo-out")]
    output: PathBuf,
}

/// The file that marks a directory as a hep-demo tool directory (so that a rerun may replace it).
const MARKER: &str = ".hep-demo";

/// An empty `output/<tool>` directory: created, or emptied if an earlier hep-demo run made it.
///
/// # Errors
/// If the directory exists but was not made by hep-demo (no marker file), or cannot be
/// created or removed.
fn tool_dir(output: &Path, tool: &str) -> Result<PathBuf> {
    let dir = output.join(tool);
    if dir.exists() {
        if !dir.join(MARKER).is_file() {
            bail!(
                "{} exists and was not written by hep-demo; choose another --output",
                dir.display()
            );
        }
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(
        dir.join(MARKER),
        "written by hep-demo; the next hep-demo run replaces this directory\n",
    )
    .with_context(|| format!("writing into {}", dir.display()))?;
    Ok(dir)
}

/// The tools with a main job.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Tool {
    /// Mu2e calorimeter source calibration.
    CaloCalib,
    /// Mu2e mock-data ensembles.
    Mu2eEnsemble,
    /// ETROC1 test-beam time resolution.
    EtrocAnalysis,
    /// XENON1T waveform simulation.
    FaxSim,
    /// CMS pixel leakage currents and radiation profiles.
    PixelMonitor,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let runs = |t: Tool| cli.only.is_none_or(|o| o == t);
    if runs(Tool::CaloCalib) {
        calo_calib_job(&cli)?;
    }
    if runs(Tool::Mu2eEnsemble) {
        mu2e_ensemble_job(&cli)?;
    }
    if runs(Tool::EtrocAnalysis) {
        etroc_analysis_job(&cli)?;
    }
    if runs(Tool::FaxSim) {
        fax_sim_job(&cli)?;
    }
    if runs(Tool::PixelMonitor) {
        pixel_monitor_job(&cli)?;
    }
    Ok(())
}

fn calo_calib_job(cli: &Cli) -> Result<()> {
    use calo_calib::fit::Method;
    use calo_calib::pipeline::{DemoOptions, run_demo};
    let opts = DemoOptions {
        seed: cli.seed,
        n_channels: cli.channels,
        events_per_crystal: cli.events_per_crystal,
        method: if cli.chi2 { Method::Chi2 } else { Method::Nll },
        work_dir: Some(tool_dir(&cli.output, "calo-calib")?),
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
    if let Some(d) = &opts.work_dir {
        println!(
            "  tables in {} and {}, plots in {}",
            d.join("fit").display(),
            d.join("reco").display(),
            d.join("plots").display()
        );
    }
    Ok(())
}

fn mu2e_ensemble_job(cli: &Cli) -> Result<()> {
    use mu2e_ensemble::pipeline::{DemoOptions, run_demo};
    let opts = DemoOptions {
        seed: cli.seed,
        livetime_s: cli.livetime,
        work_dir: Some(tool_dir(&cli.output, "mu2e-ensemble")?),
        ..DemoOptions::default()
    };
    println!(
        "mu2e-ensemble: normalisations, primary samples and one ensemble for {} s, seed {}",
        opts.livetime_s, opts.seed
    );
    let t = Instant::now();
    let r = run_demo(&opts)?;
    println!("{r}");
    if let Some(d) = &opts.work_dir {
        println!(
            "  primary samples (Parquet) and the ledger in {}, the ensemble in {}",
            d.join("samples").display(),
            d.join("ensemble").display()
        );
    }
    println!("  time: {:.1} s", t.elapsed().as_secs_f64());
    Ok(())
}

fn etroc_analysis_job(cli: &Cli) -> Result<()> {
    use etroc_analysis::pipeline::{DemoOptions, run_demo};
    let opts = DemoOptions {
        seed: cli.seed,
        events: cli.beam_events,
        dir: Some(tool_dir(&cli.output, "etroc-analysis")?),
        plots: true,
        ..DemoOptions::default()
    };
    println!(
        "etroc-analysis: simulated beam run of {} events, whole chain, seed {}",
        opts.events, opts.seed
    );
    let t = Instant::now();
    let r = run_demo(&opts)?;
    println!("{r}");
    println!(
        "  the simulated txt in {}; the run (Parquet, SQLite) in {}, its plots in the task \
         directories (calculate_times_in_ns/, calculate_time_walk_correction/, \
         analyse_time_resolution/)",
        r.run_dir
            .parent()
            .unwrap_or(&r.run_dir)
            .join("input")
            .display(),
        r.run_dir.display()
    );
    println!("  time: {:.1} s", t.elapsed().as_secs_f64());
    Ok(())
}

fn fax_sim_job(cli: &Cli) -> Result<()> {
    use fax_sim::pipeline::{DemoConfig, run_demo};
    let cfg = DemoConfig {
        n_events: cli.fax_events,
        seed: cli.seed,
        ..DemoConfig::default()
    };
    println!(
        "fax-sim: a production of {} fake events of the production default in {} ids, and the \
         S1-S2 band of {} flat 0-20 keV ER and NR events each (NEST v2 quanta), seed {}",
        cfg.n_events, cfg.n_ids, cfg.band_events, cfg.seed
    );
    let dir = tool_dir(&cli.output, "fax-sim")?;
    let t = Instant::now();
    let r = run_demo(&cfg, &dir, &hep_cli_support::Bar::new())?;
    println!("  {r}");
    println!(
        "  tables in {}, check plots in {}, band plot {}",
        dir.join("Fax_Demo").display(),
        dir.join("plots").display(),
        dir.join("band/band.png").display()
    );
    println!("  time: {:.1} s", t.elapsed().as_secs_f64());
    Ok(())
}

fn pixel_monitor_job(cli: &Cli) -> Result<()> {
    use pixel_monitor::pipeline::{DemoConfig, run_demo};
    let cfg = DemoConfig {
        seed: cli.seed,
        days: cli.pixel_days,
        work_dir: Some(tool_dir(&cli.output, "pixel-monitor")?),
        ..DemoConfig::default()
    };
    println!(
        "pixel-monitor: {} simulated days of CMS pixel running through the whole chain, seed {}",
        cfg.days, cfg.seed
    );
    let t = Instant::now();
    let r = run_demo(&cfg, &hep_cli_support::Bar::new())?;
    print!("{r}");
    println!("  time: {:.1} s", t.elapsed().as_secs_f64());
    Ok(())
}
