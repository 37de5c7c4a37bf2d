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
    /// Events per sample of the S1-S2 band (flat 0-20 keV betas and nuclear recoils through NEST
    /// quanta, simulation and processing); 0 leaves the band out.
    pub band_events: u64,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            n_events: 2000,
            n_ids: 4,
            seed: 1,
            band_events: 1000,
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
    /// The S1-S2 band: (median log10(cS2/cS1), events) of the ER and of the NR sample with cS1 in
    /// [`BAND_WINDOW_CS1_PE`].
    pub band: Option<[(f64, usize); 2]>,
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
        write!(f, "  S2: {}", line(&self.s2))?;
        if let Some([er, nr]) = self.band {
            write!(
                f,
                "\n  S1-S2 band, flat 0-20 keV, cS1 {}-{} pe: median log10(cS2/cS1) ER {:.3} ({} events), NR {:.3} ({} events), ER above NR by {:.3}",
                BAND_WINDOW_CS1_PE.0,
                BAND_WINDOW_CS1_PE.1,
                er.0,
                er.1,
                nr.0,
                nr.1,
                er.0 - nr.0
            )?;
        }
        Ok(())
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

/// The cS1 window (pe) in which the demo compares the two bands: where both samples have events.
pub const BAND_WINDOW_CS1_PE: (f64, f64) = (5.0, 25.0);

/// The median of `log10_cs2_over_cs1` and the number of events of the `er` and `nr` samples of a
/// band CSV, over the events with cS1 in [`BAND_WINDOW_CS1_PE`] (the bands fall with cS1, so
/// medians over different cS1 ranges would not compare).
fn band_medians(path: &Path) -> Result<[(f64, usize); 2]> {
    let mut r =
        csv::Reader::from_path(path).map_err(|e| Error::io(path, std::io::Error::other(e)))?;
    let headers = r
        .headers()
        .map_err(|e| Error::io(path, std::io::Error::other(e)))?
        .clone();
    let col = |n: &str| {
        headers
            .iter()
            .position(|h| h == n)
            .ok_or_else(|| Error::parse(path, 1, format!("a column `{n}`"), "none"))
    };
    let (cs, cv, c1) = (col("sample")?, col("log10_cs2_over_cs1")?, col("cs1_pe")?);
    let (mut er, mut nr) = (Vec::new(), Vec::new());
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| Error::io(path, std::io::Error::other(e)))?;
        let num = |k: usize| -> Result<f64> {
            rec[k]
                .parse()
                .map_err(|_| Error::parse(path, i as u64 + 2, "a number", &rec[k]))
        };
        let (v, s1) = (num(cv)?, num(c1)?);
        if !(BAND_WINDOW_CS1_PE.0..=BAND_WINDOW_CS1_PE.1).contains(&s1) {
            continue;
        }
        match &rec[cs] {
            "er" => er.push(v),
            _ => nr.push(v),
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let m = if n == 0 {
            f64::NAN
        } else if n % 2 == 1 {
            v[n / 2]
        } else {
            0.5 * (v[n / 2 - 1] + v[n / 2])
        };
        (m, n)
    };
    Ok([median(&mut er), median(&mut nr)])
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
    let band = if cfg.band_events > 0 {
        let bcfg = crate::yield_plots::BandPlotConfig {
            n_events: cfg.band_events,
            seed: cfg.seed,
            nr_spectrum: crate::deposits::EnergySpectrum::Flat {
                energy_min_kev: 0.0,
                energy_max_kev: 20.0,
            },
            ..crate::yield_plots::BandPlotConfig::default()
        };
        let files = crate::yield_plots::plot_band(&bcfg, &dir.join("band"), progress)?;
        let medians = band_medians(&dir.join("band").join("band.csv"))?;
        outputs.extend(files);
        Some(medians)
    } else {
        None
    };
    let n_events = cfg.n_ids * (cfg.n_events / cfg.n_ids);
    Ok(DemoSummary {
        band,
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
                band_events: 300,
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
        assert!(d.path().join("band/band.png").is_file());
        let [er, nr] = s.band.unwrap();
        // About 13 % of the ER and 55 % of the NR events fall in the cS1 window; the ER band lies
        // about 0.26 above the NR band there, with a spread of about 0.15 per event.
        assert!(er.1 > 15 && nr.1 > 100, "{s}");
        assert!(er.0 - nr.0 > 0.1, "{s}");
    }
}
