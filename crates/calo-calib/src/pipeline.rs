//! The end-to-end calibration on simulated input: the main job of `hep-demo`.
//!
//! Simulate source spectra with known gains, fit every channel, simulate cosmic constants from
//! the same gains, combine both into the reconstruction table, and compare with the truth.
//! With [`DemoOptions::work_dir`] the tables and summary plots stay in that directory.

use crate::Result;
use crate::channel::IdMode;
use crate::combine::{CombineConfig, combine, status_counts};
use crate::detector::{Selection, fit_detector, source_table_rows, summary_counts};
use crate::fit::{FitConfig, Method};
use crate::simulate::{
    SimConfig, all_ids, cosmic_table_rows, simulate_cosmic_table, simulate_detector,
};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Options of [`run_demo`].
#[derive(Debug, Clone, PartialEq)]
pub struct DemoOptions {
    /// Master seed.
    pub seed: u64,
    /// Mean events per crystal (63 000, the design figure).
    pub events_per_crystal: f64,
    /// Relative spread of the true gains (kept small enough for SourceFitter's 91-108 ADC window).
    pub gain_spread: f64,
    /// Fit only the first `n` SiPMs (all 2696 when `None`).
    pub n_channels: Option<u32>,
    /// Objective of the source fit.
    pub method: Method,
    /// Keep the outputs here (nothing is written when `None`): `fit/` (`source_fits.parquet`
    /// and `.csv`, `CalSourceEnergyCalib.txt`), `CalCosmicEnergyCalib.txt` (the simulated cosmic
    /// constants), `reco/` (`CalEnergyCalib.txt`, `CalCombinedEnergyCalib.txt`) and `plots/`
    /// (distributions of the fitted parameters, the constant against the channel id and the
    /// per-disk maps, PNG), each file with its manifest.
    pub work_dir: Option<PathBuf>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            seed: 2026,
            events_per_crystal: 63_000.0,
            gain_spread: 0.015,
            n_channels: None,
            method: Method::Nll,
            work_dir: None,
        }
    }
}

/// What [`run_demo`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoReport {
    /// Channels fitted.
    pub n_fitted: usize,
    /// Fits with a usable constant.
    pub n_usable: usize,
    /// Failed fits.
    pub n_failed: usize,
    /// LYSO channels (not fitted in the CsI window).
    pub n_lyso: usize,
    /// Mean and standard deviation of `(adc2mev - truth) / adc2mev_err` over usable fits.
    pub source_pull: (f64, f64),
    /// The same for combined constants with status 0 (source and cosmic agree).
    pub combined_pull: (f64, f64),
    /// Counts of the combination status codes 0, 1, 2, 101, 102.
    pub status_counts: [(i32, usize); 5],
    /// Wall-clock seconds of simulation, fit and combination.
    pub seconds: (f64, f64, f64),
}

fn mean_sd(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    if x.len() < 2 {
        return (f64::NAN, f64::NAN);
    }
    let m = x.iter().sum::<f64>() / n;
    (
        m,
        (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt(),
    )
}

/// Writes the tables and summary plots of a demo run into `dir` (see [`DemoOptions::work_dir`]).
fn write_outputs(
    dir: &Path,
    opts: &DemoOptions,
    cfg: &FitConfig,
    fits: &[crate::fit::ChannelFit],
    cosmics: &[crate::simulate::SimulatedCosmic],
    rows: &[crate::tables::CombinedRow],
) -> Result<()> {
    use crate::jobs::{finish, manifest, write_fit_outputs};
    let create = |d: &Path| -> Result<()> {
        std::fs::create_dir_all(d).map_err(|e| hep_core::Error::io(d, e).into())
    };
    let fit_dir = dir.join("fit");
    create(&fit_dir)?;
    write_fit_outputs(&fit_dir, Vec::new(), cfg, IdMode::PerSipm, fits)?;
    create(dir)?;
    let cosmic = dir.join("CalCosmicEnergyCalib.txt");
    crate::tables::write_cosmic_table(&cosmic, &cosmic_table_rows(cosmics))?;
    let mut m = manifest("demo", &serde_json::json!({ "seed": opts.seed }))?;
    m.add_seed("seed", opts.seed);
    finish(m, std::slice::from_ref(&cosmic))?;
    let reco_dir = dir.join("reco");
    create(&reco_dir)?;
    let reco = [
        reco_dir.join("CalEnergyCalib.txt"),
        reco_dir.join("CalCombinedEnergyCalib.txt"),
    ];
    crate::tables::write_reco_tables(&reco[0], &reco[1], rows)?;
    finish(manifest("combine", &CombineConfig::default())?, &reco)?;
    let plot_dir = dir.join("plots");
    create(&plot_dir)?;
    let positions = crate::channel::CrystalPositions::shipped()?;
    let plots = crate::plots::plot_summary(
        &plot_dir,
        fits,
        Some(&positions),
        IdMode::PerSipm,
        &[hep_core::plot::Format::Png],
    )?;
    finish(
        manifest("plot", &serde_json::json!({ "formats": ["png"] }))?,
        &plots,
    )
}

/// Runs the whole chain on simulated input (see the module docs).
///
/// # Errors
/// Configuration errors from the simulation, the fit or the combination.
pub fn run_demo(opts: &DemoOptions) -> Result<DemoReport> {
    let sim = SimConfig {
        seed: opts.seed,
        events_per_crystal: opts.events_per_crystal,
        gain_spread: opts.gain_spread,
        ..SimConfig::default()
    };
    let t0 = Instant::now();
    let mode = IdMode::PerSipm;
    let ids: Vec<u32> = all_ids(mode)
        .into_iter()
        .take(opts.n_channels.map_or(usize::MAX, |n| n as usize))
        .collect();
    let (set, truth) = simulate_detector(&sim, &ids, mode)?;
    let cosmics = simulate_cosmic_table(opts.seed, &truth, 0.012, 0.02)?;
    let t_sim = t0.elapsed().as_secs_f64();

    let t1 = Instant::now();
    let cfg = FitConfig {
        method: opts.method,
        ..FitConfig::default()
    };
    let fits = fit_detector(&set, &cfg, &Selection::default())?;
    let t_fit = t1.elapsed().as_secs_f64();

    let t2 = Instant::now();
    let rows = combine(
        Some(&source_table_rows(&fits)),
        Some(&cosmic_table_rows(&cosmics)),
        None,
        &CombineConfig::default(),
    )?;
    let t_comb = t2.elapsed().as_secs_f64();
    if let Some(dir) = &opts.work_dir {
        write_outputs(dir, opts, &cfg, &fits, &cosmics, &rows)?;
    }

    let source_pulls: Vec<f64> = fits
        .iter()
        .zip(&truth)
        .filter(|(f, _)| f.is_ok())
        .map(|(f, t)| (f.adc2mev - t.adc2mev_mev_per_adc) / f.adc2mev_err)
        .collect();
    let combined_pulls: Vec<f64> = truth
        .iter()
        .filter_map(|t| {
            let r = &rows[t.roid as usize];
            (r.status_code == 0 && r.adc2mev_err > 0.0)
                .then(|| (r.adc2mev - t.adc2mev_mev_per_adc) / r.adc2mev_err)
        })
        .collect();
    let (ok, failed, lyso, _) = summary_counts(&fits);
    Ok(DemoReport {
        n_fitted: fits.len(),
        n_usable: ok,
        n_failed: failed,
        n_lyso: lyso,
        source_pull: mean_sd(&source_pulls),
        combined_pull: mean_sd(&combined_pulls),
        status_counts: status_counts(&rows),
        seconds: (t_sim, t_fit, t_comb),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_demo_closes() {
        let r = run_demo(&DemoOptions {
            n_channels: Some(24),
            events_per_crystal: 20_000.0,
            ..DemoOptions::default()
        })
        .unwrap();
        assert_eq!(r.n_fitted, 24);
        assert_eq!(r.n_usable, 24);
        // 24 pulls: the mean has a standard error of 0.2; allow 4 of them.
        assert!(r.source_pull.0.abs() < 0.8, "{:?}", r.source_pull);
        let total: usize = r.status_counts.iter().map(|(_, n)| n).sum();
        assert_eq!(total, 2720);
    }
}
