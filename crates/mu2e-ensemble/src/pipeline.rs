//! The main job end to end ([`run_demo`]): normalisations for a standard livetime, primary
//! samples of every process, one blind ensemble, and a table of expected vs realised counts.
//!
//! The demo uses the `mdc2020` constant set (G1, the 2024-02 README's samples `DIOTail`,
//! `CeEndpoint`, `CRYCosmic`, `IPAMichel`), whose only table, the DIO spectrum, falls back to the
//! analytic Pol58 endpoint spectrum when no `--tables` directory is given (valid for
//! `dem_emin >= 85` MeV; the demo uses 95 MeV). Without a SimEfficiencies2 CSV the stopped-muon
//! rates are those of an unofficial public transcription of the conditions-DB table
//! `SimEfficiencies2`, `Sim_best v1_1 run 1430` (see `docs/mu2e-ensemble.md`, "Sources";
//! `S_μ = 7.6711407768e-4`, `S_IPA = 1.3431495492077653e-8`).
//!
//! For each sample the generated events are 1.5 × the normalisation (so the ensemble cannot run
//! short), spread over at least two files so the allocation crosses file boundaries; the filter
//! efficiency (reco/gen) is the process's nominal value, lowered where needed so that at most
//! [`DemoOptions::max_stored_per_sample`] events are stored.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::constants::{ConstantSet, Process};
use crate::error::{Error, Result};
use crate::normalizations::{Inputs, Normalizations, StopRates, Unit, compute};
use crate::sampler::{EnsembleConfig, EnsembleReport, OutputNaming, SampleInput, build_ensemble};
use crate::samples::{GenPrimaryOptions, PrimaryKind, generate_primary};
use crate::tables::{SimEfficiencies, Tables};
use crate::units::{Livetime, LivetimeSeconds};

/// `S_μ` of the unofficial SimEfficiencies2 transcription (`Sim_best v1_1 run 1430`), stopped μ⁻
/// per POT (×1000 as the originals wrote it).
pub const DEMO_MUON_STOPS_PER_POT: f64 = 7.6711407768e-4;
/// `S_IPA` of the same transcription, IPA muon stops per POT.
pub const DEMO_IPA_STOPS_PER_POT: f64 = 1.3431495492077653e-8;

/// Options of [`run_demo`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DemoOptions {
    /// Livetime (s, wall clock, the G1 convention). Default 1e5 s.
    pub livetime_s: f64,
    /// CE⁻ rate per capture. Default 1e-13.
    pub rue: f64,
    /// DIO lower energy cut (MeV). Default 95.
    pub dio_emin_mev: f64,
    /// Master seed. Default 2026.
    pub seed: u64,
    /// Working directory for samples and the ensemble; `None`: a temporary directory removed at
    /// the end.
    pub work_dir: Option<PathBuf>,
    /// Table directory (`--tables`); `None`: analytic DIO.
    pub tables: Option<PathBuf>,
    /// SimEfficiencies2 CSV; `None`: the transcription values above.
    pub simeff: Option<PathBuf>,
    /// Upper limit of stored events per sample (keeps the demo fast). Default 20 000.
    pub max_stored_per_sample: u64,
    /// Rate of generated cosmic muons (Hz) defining the cosmic livetime. Default 2 Hz.
    pub cosmic_rate_hz: f64,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            livetime_s: 1e5,
            rue: 1e-13,
            dio_emin_mev: 95.0,
            seed: 2026,
            work_dir: None,
            tables: None,
            simeff: None,
            max_stored_per_sample: 20_000,
            cosmic_rate_hz: 2.0,
        }
    }
}

/// One row of the demo table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DemoRow {
    /// Sample name.
    pub sample: String,
    /// Normalisation: expected generated events, or s of cosmic livetime.
    pub norm: f64,
    /// Unit of `norm`.
    pub unit: Unit,
    /// Generated events (or cosmic livetime, s) in the sample files.
    pub generated: f64,
    /// Stored events in the sample files.
    pub stored: u64,
    /// Expected events in the ensemble (`norm · stored / generated`).
    pub expected: f64,
    /// Realised events in the ensemble.
    pub realised: u64,
    /// `(realised − expected)/√expected`.
    pub pull: f64,
}

/// What [`run_demo`] did; `Display` prints a small table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DemoReport {
    /// The options.
    pub options: DemoOptions,
    /// Protons on target.
    pub pot: f64,
    /// Per sample.
    pub rows: Vec<DemoRow>,
    /// Events in the ensemble.
    pub n_total: u64,
    /// Sub-run files written.
    pub subruns: usize,
    /// Where the ensemble was written (`None` if in a removed temporary directory).
    pub ensemble_dir: Option<PathBuf>,
    /// Warnings of the normalisations.
    pub warnings: Vec<String>,
}

impl std::fmt::Display for DemoReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "mu2e-ensemble: mdc2020, livetime {:.3e} s, rue {:.1e}, POT {:.4e}, seed {}",
            self.options.livetime_s, self.options.rue, self.pot, self.options.seed
        )?;
        writeln!(
            f,
            "{:<12} {:>12} {:>10} {:>12} {:>8} {:>12} {:>9} {:>7}",
            "sample", "norm", "unit", "generated", "stored", "expected", "realised", "pull"
        )?;
        for r in &self.rows {
            let unit = match r.unit {
                Unit::Events => "events",
                Unit::CosmicLivetimeSeconds => "s",
            };
            writeln!(
                f,
                "{:<12} {:>12.4e} {:>10} {:>12.4e} {:>8} {:>12.3} {:>9} {:>7.2}",
                r.sample, r.norm, unit, r.generated, r.stored, r.expected, r.realised, r.pull
            )?;
        }
        write!(
            f,
            "ensemble: {} events in {} sub-run file(s)",
            self.n_total, self.subruns
        )?;
        if let Some(d) = &self.ensemble_dir {
            write!(f, " in {}", d.display())?;
        }
        for w in &self.warnings {
            write!(f, "\nwarning: {w}")?;
        }
        Ok(())
    }
}

/// The normalisations of the demo (mdc2020).
///
/// # Errors
///
/// As [`compute`], [`Tables::load`] and [`SimEfficiencies::read`].
pub fn demo_normalizations(opts: &DemoOptions) -> Result<(Normalizations, Tables)> {
    let tables = match &opts.tables {
        Some(d) => Tables::load(d)?,
        None => Tables::none(),
    };
    let stop_rates = match &opts.simeff {
        Some(p) => StopRates::from_simeff(&SimEfficiencies::read(p)?)?,
        None => StopRates {
            muon_stops_per_pot: DEMO_MUON_STOPS_PER_POT,
            ipa_stops_per_pot: DEMO_IPA_STOPS_PER_POT,
            pion: None,
        },
    };
    let mut inp = Inputs::new(
        ConstantSet::Mdc2020,
        Livetime::WallClock(LivetimeSeconds(opts.livetime_s)),
    );
    inp.stop_rates = Some(stop_rates);
    inp.rue = opts.rue;
    inp.dio_emin = opts.dio_emin_mev;
    let n = compute(&inp, &tables)?;
    Ok((n, tables))
}

/// Runs the main job (see the module docs).
///
/// # Errors
///
/// As [`demo_normalizations`], [`generate_primary`] and [`build_ensemble`];
/// [`Error::InvalidArgument`] for a non-positive livetime or cosmic rate.
pub fn run_demo(opts: &DemoOptions) -> Result<DemoReport> {
    if !(opts.livetime_s.is_finite() && opts.livetime_s > 0.0) {
        return Err(Error::InvalidArgument(format!(
            "demo livetime must be > 0 s, got {}",
            opts.livetime_s
        )));
    }
    let (norms, tables) = demo_normalizations(opts)?;
    let tmp;
    let work: &Path = match &opts.work_dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| hep_core::Error::io(d, e))?;
            d
        }
        None => {
            tmp = TempDir::new(opts.seed)?;
            &tmp.0
        }
    };
    let samples_dir = work.join("samples");
    std::fs::create_dir_all(&samples_dir).map_err(|e| hep_core::Error::io(&samples_dir, e))?;

    let mut inputs = Vec::new();
    for (k, e) in norms.entries.iter().enumerate() {
        let (kind, nominal_eff) = match e.process {
            Process::CeMinus => (PrimaryKind::CeMinus, 0.8_f64),
            Process::Dio => {
                let spectrum = crate::dio::dio_spectrum(&tables, opts.dio_emin_mev)?;
                (
                    PrimaryKind::Dio {
                        spectrum,
                        emin_mev: opts.dio_emin_mev,
                    },
                    0.5,
                )
            }
            Process::IpaMichel => (PrimaryKind::IpaMichel { emin_mev: 0.0 }, 0.1),
            Process::CosmicCry => (
                PrimaryKind::Cosmic {
                    rate_hz: opts.cosmic_rate_hz,
                    emin_mev: 1_000.0,
                    emax_mev: 1e6,
                },
                0.1,
            ),
            other => {
                return Err(Error::InvalidArgument(format!(
                    "demo: unexpected process {other:?}"
                )));
            }
        };
        // Generated quantity: 1.5 × the norm (events, or livetime → events via the rate).
        let needed_events = match e.unit {
            Unit::Events => 1.5 * e.value,
            Unit::CosmicLivetimeSeconds => 1.5 * e.value * opts.cosmic_rate_hz,
        }
        .max(100.0);
        let njobs = ((needed_events / 4.0e9).ceil() as u32).max(2);
        let events_per_job = (needed_events / f64::from(njobs)).ceil() as u64;
        let total = events_per_job as f64 * f64::from(njobs);
        let eff = nominal_eff
            .min(opts.max_stored_per_sample as f64 / total)
            .max(1e-12);
        let gen_opts = GenPrimaryOptions {
            name: e.sample.to_string(),
            kind,
            njobs,
            events_per_job,
            filter_efficiency: eff,
            run: 1202,
            first_subrun: 0,
            owner: "mu2e".into(),
            configuration: "MDC2020".into(),
            seed: derived_seed(opts.seed, k as u64),
        };
        let files = generate_primary(&samples_dir, &gen_opts)?;
        inputs.push(SampleInput {
            name: e.sample.to_string(),
            norm: e.value,
            files,
            norm_is_livetime: e.unit == Unit::CosmicLivetimeSeconds,
            fraction_window: None,
        });
    }

    let out = work.join("ensemble");
    let cfg = EnsembleConfig {
        seed: opts.seed,
        run: 1201,
        first_subrun: 0,
        max_events_per_subrun: crate::sampler::DEFAULT_MAX_EVENTS_PER_SUBRUN,
        naming: OutputNaming::default(),
        livetime_s: Some(opts.livetime_s),
        ledger: samples_dir.join(crate::sampler::DEFAULT_LEDGER_NAME),
        header: [
            ("livetime".to_string(), format!("{:e}", opts.livetime_s)),
            ("rue".to_string(), format!("{:e}", opts.rue)),
            ("dem_emin".to_string(), format!("{}", opts.dio_emin_mev)),
        ]
        .into_iter()
        .collect(),
        fcl: None,
    };
    let report: EnsembleReport = build_ensemble(&inputs, &cfg, &out)?;
    let rows = inputs
        .iter()
        .zip(&report.expectations)
        .zip(&report.outcomes)
        .zip(&norms.entries)
        .map(|(((i, x), o), e)| DemoRow {
            sample: i.name.clone(),
            norm: i.norm,
            unit: e.unit,
            generated: x.generated,
            stored: x.reco_events,
            expected: o.expected,
            realised: o.realised,
            pull: o.pull,
        })
        .collect();
    Ok(DemoReport {
        options: opts.clone(),
        pot: norms.pot.0,
        rows,
        n_total: report.draws.n_total,
        subruns: report.subruns.len(),
        ensemble_dir: opts.work_dir.as_ref().map(|_| out),
        warnings: norms.warnings,
    })
}

/// The generation seed of sample `k`: the first u64 of stream `(seed, [1, k])`.
fn derived_seed(seed: u64, k: u64) -> u64 {
    use rand::RngExt;
    hep_core::rng::stream_nested(seed, &[1, k]).random::<u64>()
}

/// A scratch directory under the system temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(seed: u64) -> Result<Self> {
        let base = std::env::temp_dir();
        for attempt in 0..1000u32 {
            let p = base.join(format!(
                "mu2e-ensemble-demo-{}-{seed}-{attempt}",
                std::process::id()
            ));
            match std::fs::create_dir(&p) {
                Ok(()) => return Ok(Self(p)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(hep_core::Error::io(&p, e).into()),
            }
        }
        Err(Error::InvalidArgument(format!(
            "cannot create a scratch directory in {}",
            base.display()
        )))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
