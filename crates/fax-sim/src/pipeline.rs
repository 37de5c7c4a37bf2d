//! The demo job: a small fax production with the production default configuration (fake events
//! of 50-100 photons and 10-100 electrons in the 2018 fiducial box), every id through
//! create-fake, simulate, process and match, the tables merged, the reconstruction efficiency and
//! area per photon summarised, and the standard check plots drawn.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use hep_core::progress::Progress;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::matching::{Efficiency, Moments};
use crate::production::{Production, run_production};

/// Configuration of the demo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DemoConfig {
    /// Events in total (split over `n_ids` production ids).
    pub n_events: u64,
    /// Production ids.
    pub n_ids: u64,
    /// Master seed of the production.
    pub seed: u64,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            n_events: 2000,
            n_ids: 4,
            seed: 1,
        }
    }
}

/// The reconstruction of one truth peak type.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TypeResult {
    /// Reconstructed (found, split or merged) over truth peaks.
    pub efficiency: Efficiency,
    /// Reconstructed area over truth photons (pe per photon); the expectation is 1 + p_dpe plus
    /// the afterpulses that fall inside the peak.
    pub area_per_photon: Moments,
}

/// What the demo produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DemoSummary {
    /// Production ids run.
    pub n_ids: u64,
    /// Events simulated.
    pub n_events: u64,
    /// S1 truth peaks and their reconstruction.
    pub s1: TypeResult,
    /// S2 truth peaks and their reconstruction.
    pub s2: TypeResult,
    /// Files written: the merged tables, then the check plots and their CSVs.
    pub outputs: Vec<PathBuf>,
    /// Wall time per event of the whole chain (us); not reproducible.
    pub time_per_event_us: f64,
}

impl fmt::Display for DemoSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = |t: &TypeResult| {
            format!(
                "efficiency {:.4} +- {:.4} ({} of {}), area per photon {:.3} +- {:.3} pe",
                t.efficiency.efficiency,
                t.efficiency.error,
                t.efficiency.k,
                t.efficiency.n,
                t.area_per_photon.mean,
                t.area_per_photon.mean_error
            )
        };
        writeln!(
            f,
            "{} events in {} production ids through create-fake, simulate, process and match, {:.0} us per event",
            self.n_events, self.n_ids, self.time_per_event_us
        )?;
        writeln!(f, "  S1: {}", line(&self.s1))?;
        write!(f, "  S2: {}", line(&self.s2))
    }
}

/// The production configuration of the demo.
fn production(cfg: &DemoConfig) -> Result<Production> {
    if cfg.n_ids == 0 || cfg.n_events < cfg.n_ids {
        return Err(Error::Config(format!(
            "demo: expected at least one event per id and one id, found {} events in {} ids",
            cfg.n_events, cfg.n_ids
        )));
    }
    let text = format!(
        "name = \"Fax_Demo\"\nnumber_job = {}\nseed = {}\n[fake]\nnumber_event_per_job = {}\n",
        cfg.n_ids,
        cfg.seed,
        cfg.n_events / cfg.n_ids
    );
    Production::from_toml(&text, "the demo production")
}

/// Reads the merged `matched_peaks.parquet` and summarises truth type `t`.
fn type_result(path: &Path, t: &str) -> Result<TypeResult> {
    use arrow_array::Array;
    let table = hep_core::io::read_parquet_table(path)?;
    let ty = hep_core::io::column_str(&table, "truth_peak_type")?;
    let outcome = hep_core::io::column_str(&table, "outcome")?;
    let n_ph = hep_core::io::column_i64(&table, "truth_n_photons")?;
    let area = hep_core::io::column_f64(&table, "area")?;
    let (mut n, mut k, mut ratio) = (0u64, 0u64, Vec::new());
    for i in 0..table.num_rows() {
        if ty.value(i) != t {
            continue;
        }
        n += 1;
        if matches!(outcome.value(i), "found" | "split" | "merged") {
            k += 1;
            if !area.is_null(i) && n_ph.value(i) > 0 {
                ratio.push(area.value(i) / n_ph.value(i) as f64);
            }
        }
    }
    Ok(TypeResult {
        efficiency: Efficiency::new(k, n),
        area_per_photon: Moments::of(&ratio),
    })
}

/// Runs the demo production in `dir` (all cores), merges it, summarises the matching and draws
/// the check plots into `dir/plots/`.
///
/// # Errors
/// Configuration and data errors (none for the defaults), I/O errors in `dir`.
pub fn run_demo(cfg: &DemoConfig, dir: &Path, progress: &dyn Progress) -> Result<DemoSummary> {
    let prod = production(cfg)?;
    let t0 = Instant::now();
    let run = run_production(&prod, dir, None, progress)?;
    if let Some(e) = run.failed.first() {
        return Err(Error::InvalidArgument(format!(
            "{} failed in {}: {}",
            e.production_id,
            e.stage.name(),
            e.error_message
        )));
    }
    let root = dir.join(&prod.configurations[0].name);
    let matched = root.join(format!("{}.parquet", crate::matching::MATCHED_PEAKS));
    let mut outputs = run.merged;
    outputs.extend(crate::check_plots::run_plots(
        &crate::check_plots::CheckPlotConfig::default(),
        &root,
        Some(&root),
        &dir.join("plots"),
    )?);
    let n_events = cfg.n_ids * (cfg.n_events / cfg.n_ids);
    Ok(DemoSummary {
        n_ids: cfg.n_ids,
        n_events,
        s1: type_result(&matched, "s1")?,
        s2: type_result(&matched, "s2")?,
        outputs,
        time_per_event_us: t0.elapsed().as_secs_f64() * 1e6 / n_events as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_runs_and_reports() {
        let d = tempfile::tempdir().unwrap();
        let s = run_demo(
            &DemoConfig {
                n_events: 40,
                n_ids: 2,
                seed: 3,
            },
            d.path(),
            &hep_core::progress::NoProgress,
        )
        .unwrap();
        assert_eq!(s.n_events, 40);
        // Every event has one S1 and one S2 truth peak (correlated rows).
        assert_eq!((s.s1.efficiency.n, s.s2.efficiency.n), (40, 40));
        // S2s of 10-100 electrons are large: all are found.
        assert_eq!(s.s2.efficiency.k, 40, "{s}");
        assert!(
            s.to_string().contains("40 events in 2 production ids"),
            "{s}"
        );
        assert!(d.path().join("plots/efficiency.png").is_file());
        assert!(d.path().join("Fax_Demo/Basics.parquet").is_file());
    }
}
