//! Generates small primary samples and builds a tiny blind ensemble from them.
//!
//! `cargo run -p mu2e-ensemble --example small_ensemble [DIR]` writes into DIR (default: a new
//! temporary directory, removed at the end): `cfg/` (a run_si input directory with its
//! `samples/`) and `ensemble/` (the ensemble's sub-run files and `ensemble.json`). The stop
//! rates are illustrative numbers, not Mu2e data.

use std::path::{Path, PathBuf};

use hep_core::progress::NoProgress;
use mu2e_ensemble::commands::{
    GenPrimaryConfig, OutputFormat, PrimaryType, RunSiConfig, StopRateOptions, gen_primary, run_si,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tmp;
    let root: PathBuf = match std::env::args().nth(1) {
        Some(d) => PathBuf::from(d),
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let cfg_dir = root.join("cfg");
    let samples = cfg_dir.join("samples");

    // 1. Primary samples: (name, type, jobs, events per job, filter efficiency, cosmic rate).
    let plan: [(&str, PrimaryType, u32, u64, f64); 4] = [
        ("DIOTail", PrimaryType::Dio, 2, 3000, 0.5),
        ("CeEndpoint", PrimaryType::CeMinus, 1, 100, 1.0),
        ("CRYCosmic", PrimaryType::Cosmic, 2, 20_000, 0.02),
        ("IPAMichel", PrimaryType::IpaMichel, 2, 2_000_000_000, 1e-6),
    ];
    for (name, kind, njobs, events, eff) in plan {
        let cfg = GenPrimaryConfig {
            primary: name.into(),
            kind: Some(kind),
            njobs: Some(njobs),
            events: Some(events),
            filter_efficiency: eff,
            rate: 1.0,
            output: Some(samples.clone()),
            ..Default::default()
        };
        let rep = gen_primary(&cfg, &NoProgress)?;
        println!(
            "{name}: {} files, {} generated, {} stored",
            rep.files.len(),
            rep.generated,
            rep.stored
        );
        write_file_list(&cfg_dir, name, &rep.files)?;
    }

    // 2. The run_si directory: livetime (s), rue, rup, settings (line 6: the seed).
    std::fs::write(cfg_dir.join("livetime"), "20000\n")?;
    std::fs::write(cfg_dir.join("rue"), "1e-13\n")?;
    std::fs::write(cfg_dir.join("rup"), "0\n")?;
    std::fs::write(cfg_dir.join("settings"), "95\n83\n400\n3e4\n1300\n17\n")?;

    // 3. The ensemble.
    let cfg = RunSiConfig {
        cfg_dir: Some(cfg_dir),
        out_dir: Some(root.join("ensemble")),
        max_events_per_subrun: 500,
        stop_rates: StopRateOptions {
            stopped_mu_per_pot: Some(7.6711407768e-4),
            ipa_stops_per_pot: Some(1.3431495492077653e-8),
            ..Default::default()
        },
        ..Default::default()
    };
    let outcome = run_si(&cfg, &NoProgress)?;
    print!(
        "{}",
        outcome.render(OutputFormat::Table, &root.join("ensemble"))?
    );
    Ok(())
}

/// `filenames_<sample>`: the sample's files, relative to the run_si directory.
fn write_file_list(
    cfg_dir: &Path,
    name: &str,
    files: &[mu2e_ensemble::samples::SampleFileInfo],
) -> std::io::Result<()> {
    let list: String = files
        .iter()
        .map(|f| {
            let rel = f.path.strip_prefix(cfg_dir).unwrap_or(&f.path);
            format!("{}\n", rel.display())
        })
        .collect();
    std::fs::write(cfg_dir.join(format!("filenames_{name}")), list)
}
