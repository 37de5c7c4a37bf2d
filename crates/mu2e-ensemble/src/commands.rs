//! One typed configuration and one function per `mu2e-ensemble` subcommand.
//!
//! Every configuration is plain data (serde, TOML-friendly, `Default`), holds every option
//! including the compat switches, and is what `--print-config` prints and `--config` reads:
//!
//! | subcommand | configuration | function |
//! |---|---|---|
//! | `normalizations` | [`NormalizationsConfig`] | [`normalizations`] |
//! | `ce-rmue` | [`CeRmueConfig`] | [`ce_rmue`] |
//! | `gen-primary` | [`GenPrimaryConfig`] | [`gen_primary`] |
//! | `run-si` | [`RunSiConfig`] | [`run_si`] |
//! | `gen-ensemble` | [`GenEnsembleConfig`] | [`gen_ensemble`] |
//! | `si-summary` | [`SiSummaryConfig`] | [`si_summary`] |
//! | `ledger` | [`LedgerConfig`] | [`ledger`] |
//!
//! Options that a run cannot do without (the livetime, an output directory, ...) are `Option`s
//! here so that they may come from a file or the command line; the functions fail with
//! [`Error::InvalidArgument`] naming the option when one is missing. Without a table directory
//! (`tables`) every command uses the Mu2e tables embedded in the crate ([`crate::embedded`]).
//!
//! ```
//! use mu2e_ensemble::commands::{NormalizationsConfig, normalizations};
//! use mu2e_ensemble::constants::ConstantSet;
//! let cfg = NormalizationsConfig {
//!     constants: ConstantSet::Mdc2018,
//!     livetime: Some(1e6),
//!     ..Default::default()
//! };
//! let report = normalizations(&cfg).unwrap();
//! assert!(report.norms.pot.0 > 0.0);
//! assert!(report.text.contains("DIOLeadingLog"));
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use hep_core::manifest::Manifest;
use hep_core::progress::{NoProgress, Progress};
use serde::{Deserialize, Serialize};

use crate::constants::{BeamMode, ConstantSet, PotMethod};
use crate::error::{Error, Result};
use crate::fcl::{SamplingSummary, parse_sampling_summary};
use crate::normalizations::{
    Inputs, Normalizations, PionStops, Quirks, StopRates, Unit, ce_rate_for_signal, compute,
};
use crate::planning::{
    EnsembleParameters, GeneratedCheck, JobCount, check_generated, draw_parameters, job_counts,
    write_run_si_dir,
};
use crate::run_si::{BuildOptions, RunSiDir, RunSiOptions, RunSiPlan, plan, sample_inputs};
use crate::sampler::EnsembleReport;
use crate::samples::{GenPrimaryOptions, PrimaryKind, SampleFileInfo};
use crate::tables::{EnergyCut, SimEfficiencies, Spectrum, Tables};
use crate::units::{Livetime, LivetimeKind};

/// Version written into the manifests of the outputs.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Output format of a printed result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// Aligned text table.
    #[default]
    Table,
    /// JSON.
    Json,
}

fn missing(option: &str, key: &str) -> Error {
    Error::MissingOption {
        what: option.to_string(),
        key: key.to_string(),
    }
}

/// The tables of a command: those in `dir` if given, else the embedded Mu2e tables.
fn load_tables(dir: Option<&Path>) -> Result<Tables> {
    crate::embedded::tables_or_embedded(dir)
}

// ------------------------------------------------------------------------------ stop rates

/// Where the stopped-muon (and pion) rates of mdc2020 and later come from: a SimEfficiencies2
/// CSV and/or explicit numbers, each explicit number overriding the file's.
///
/// There is no default: the real rates are in the Mu2e conditions database; an unofficial
/// example CSV ships in `examples/data/` of this crate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StopRateOptions {
    /// SimEfficiencies2 CSV (`stage,passed,generated,efficiency`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub simeff: Option<PathBuf>,
    /// Stopped mu- per POT in the target (S_mu, x1000 already applied).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_mu_per_pot: Option<f64>,
    /// Muons stopped in the IPA per POT (S_IPA).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipa_stops_per_pot: Option<f64>,
    /// Stopped pi- per POT (S_pi, mds RPC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_pi_per_pot: Option<f64>,
    /// `num_pion_stops` (PiTargetStops passed, mds RPC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pion_stops: Option<f64>,
    /// `num_pion_filters` (PiMinusFilter passed, mds RPC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pion_filters: Option<f64>,
    /// `num_pion_resamples` (PhysicalPionStops generated, mds RPC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pion_resamples: Option<f64>,
    /// `selected_sum_of_weights` (PiSelectedLifeimeWeight_sampler, mds RPC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pion_weight_sum: Option<f64>,
}

impl StopRateOptions {
    /// The stop rates these options give (`None` if none is given) and the files read.
    ///
    /// # Errors
    /// The errors of [`SimEfficiencies::read`] and [`StopRates::from_simeff`];
    /// [`Error::InvalidArgument`] for an incomplete set of explicit numbers without a file.
    pub fn resolve(&self) -> Result<(Option<StopRates>, Vec<PathBuf>)> {
        let mut files = Vec::new();
        let mut rates = match &self.simeff {
            Some(p) => {
                let t = SimEfficiencies::read(p)?;
                files.push(p.clone());
                Some(StopRates::from_simeff(&t)?)
            }
            None => None,
        };
        let need = |what: &str| Error::InvalidArgument(what.to_string());
        if let Some(s) = self.stopped_mu_per_pot {
            let ipa = self
                .ipa_stops_per_pot
                .or(rates.map(|r| r.ipa_stops_per_pot))
                .ok_or_else(|| {
                    need("--stopped-mu-per-pot needs --ipa-stops-per-pot (or --simeff)")
                })?;
            rates = Some(StopRates {
                muon_stops_per_pot: s,
                ipa_stops_per_pot: ipa,
                pion: rates.and_then(|r| r.pion),
            });
        } else if let Some(ipa) = self.ipa_stops_per_pot {
            let mut r = rates.ok_or_else(|| {
                need("--ipa-stops-per-pot needs --stopped-mu-per-pot (or --simeff)")
            })?;
            r.ipa_stops_per_pot = ipa;
            rates = Some(r);
        }
        let pion_opts = [
            self.stopped_pi_per_pot,
            self.pion_stops,
            self.pion_filters,
            self.pion_resamples,
            self.pion_weight_sum,
        ];
        if pion_opts.iter().any(Option::is_some) {
            let mut r = rates.ok_or_else(|| {
                need(
                    "the pion options need the muon stop rates too (--simeff or --stopped-mu-per-pot)",
                )
            })?;
            let base = r.pion;
            let pick = |v: Option<f64>, f: fn(&PionStops) -> f64, name: &str| -> Result<f64> {
                v.or(base.as_ref().map(f)).ok_or_else(|| {
                    Error::InvalidArgument(format!("missing --{name} (no pion rows in --simeff)"))
                })
            };
            r.pion = Some(PionStops {
                stops_per_pot: pick(
                    self.stopped_pi_per_pot,
                    |p| p.stops_per_pot,
                    "stopped-pi-per-pot",
                )?,
                num_pion_stops: pick(self.pion_stops, |p| p.num_pion_stops, "pion-stops")?,
                num_pion_filters: pick(self.pion_filters, |p| p.num_pion_filters, "pion-filters")?,
                num_pion_resamples: pick(
                    self.pion_resamples,
                    |p| p.num_pion_resamples,
                    "pion-resamples",
                )?,
                selected_sum_of_weights: pick(
                    self.pion_weight_sum,
                    |p| p.selected_sum_of_weights,
                    "pion-weight-sum",
                )?,
            });
            rates = Some(r);
        }
        Ok((rates, files))
    }
}

/// The physics inputs shared by `normalizations` and `ce-rmue`.
#[allow(clippy::too_many_arguments)]
fn base_inputs(
    constants: ConstantSet,
    livetime: Option<f64>,
    kind: LivetimeKind,
    beam: BeamMode,
    pot_method: PotMethod,
    stop_rates: &StopRateOptions,
) -> Result<(Inputs, Vec<PathBuf>)> {
    let livetime = livetime.ok_or_else(|| missing("--livetime", "livetime"))?;
    let livetime = Livetime::from_value(livetime, kind, constants)?;
    let mut inputs = Inputs::new(constants, livetime);
    inputs.beam = beam;
    inputs.pot_method = pot_method;
    let (rates, files) = stop_rates.resolve()?;
    inputs.stop_rates = rates;
    Ok((inputs, files))
}

// ------------------------------------------------------------------------------ normalizations

/// Configuration of `normalizations`: the expected yield of every process of a constant set for
/// a livetime (the `normalizations.py` of each generation, Mu2e/Production
/// `JobConfig/ensemble`). Energies in MeV, times in ns, livetimes in s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NormalizationsConfig {
    /// Constant set (generation): mdc2018, mdc2020, mdc2024 or mds.
    pub constants: ConstantSet,
    /// Livetime (s; meaning set by `livetime_kind`). Required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub livetime: Option<f64>,
    /// How to read `livetime` and `max_livetime`.
    pub livetime_kind: LivetimeKind,
    /// Beam mode (mdc2024, mds).
    pub beam: BeamMode,
    /// How mds converts on-spill time to POT.
    pub pot_method: PotMethod,
    /// Livetime of the cosmic samples (s; default `livetime`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_livetime: Option<f64>,
    /// mu- -> e- conversion rate per capture.
    pub rue: f64,
    /// mu- -> e+ conversion rate per capture (mdc2018, mds).
    pub rup: f64,
    /// RMC closure-spectrum endpoint (MeV); default the generation's (90.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kmax: Option<f64>,
    /// DIO lower energy cut, E >= emin (MeV); default the generation's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dio_emin: Option<f64>,
    /// RPC lower photon-energy cut (MeV); default the generation's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpc_emin: Option<f64>,
    /// RMC lower photon-energy cut, low-edge rule (MeV); default the generation's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rmc_emin: Option<f64>,
    /// IPA Michel threshold (MeV, mds); default 70.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipa_emin: Option<f64>,
    /// RPC arrival-time cut (ns); recorded only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmin: Option<f64>,
    /// Directory with the spectrum tables; absent: the embedded Mu2e tables.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tables: Option<PathBuf>,
    /// DIO spectrum file replacing the generation's standard DIO table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dio_table: Option<PathBuf>,
    /// mdc2018 RPC by the formula with this average pion survival probability.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpc_survival: Option<f64>,
    /// mdc2024: POT from the on-spill time as the published G2 code computed it.
    pub g2_pot_on_spill: bool,
    /// Multiply S_IPA by 1000 like S_mu (the originals did not).
    pub ipa_stops_times_1000: bool,
    /// The originals' bugs to reproduce (all off: the corrected behaviour).
    pub compat: Quirks,
    /// Seed of the CE Poisson draw (`compat.ce_poisson` only).
    pub seed: u64,
    /// Output format.
    pub format: OutputFormat,
    /// Write to this file (with a provenance manifest beside it) instead of returning the text
    /// for stdout only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<PathBuf>,
    /// The stop rates (mdc2020 and later).
    pub stop_rates: StopRateOptions,
}

impl Default for NormalizationsConfig {
    fn default() -> Self {
        Self {
            constants: ConstantSet::Mds,
            livetime: None,
            livetime_kind: LivetimeKind::Native,
            beam: BeamMode::OneBB,
            pot_method: PotMethod::Spill,
            max_livetime: None,
            rue: 0.0,
            rup: 0.0,
            kmax: None,
            dio_emin: None,
            rpc_emin: None,
            rmc_emin: None,
            ipa_emin: None,
            tmin: None,
            tables: None,
            dio_table: None,
            rpc_survival: None,
            g2_pot_on_spill: false,
            ipa_stops_times_1000: false,
            compat: Quirks::default(),
            seed: 0,
            format: OutputFormat::Table,
            output: None,
            stop_rates: StopRateOptions::default(),
        }
    }
}

impl NormalizationsConfig {
    /// The normalisation inputs (every generation default filled in) and the input files read.
    ///
    /// # Errors
    /// A missing livetime, an invalid livetime, unreadable stop-rate files.
    pub fn inputs(&self) -> Result<(Inputs, Vec<PathBuf>)> {
        let (mut inputs, files) = base_inputs(
            self.constants,
            self.livetime,
            self.livetime_kind,
            self.beam,
            self.pot_method,
            &self.stop_rates,
        )?;
        if let Some(m) = self.max_livetime {
            inputs.cosmic_livetime = Some(
                Livetime::from_value(m, self.livetime_kind, self.constants).map_err(|e| {
                    Error::InvalidArgument(format!("max_livetime (--max-livetime): {e}"))
                })?,
            );
        }
        inputs.rue = self.rue;
        inputs.rup = self.rup;
        let set = |v: Option<f64>, slot: &mut f64| {
            if let Some(v) = v {
                *slot = v;
            }
        };
        set(self.kmax, &mut inputs.kmax);
        set(self.dio_emin, &mut inputs.dio_emin);
        set(self.rpc_emin, &mut inputs.rpc_emin);
        set(self.rmc_emin, &mut inputs.rmc_emin);
        set(self.ipa_emin, &mut inputs.ipa_emin);
        set(self.tmin, &mut inputs.tmin);
        inputs.g0_rpc_survival = self.rpc_survival;
        inputs.ipa_stops_times_1000 = self.ipa_stops_times_1000;
        inputs.seed = self.seed;
        inputs.g2_pot_from_on_spill = self.g2_pot_on_spill;
        inputs.quirks = self.compat;
        Ok((inputs, files))
    }
}

/// The result of [`normalizations`].
#[derive(Debug, Clone)]
pub struct NormalizationsReport {
    /// The inputs with every default filled in.
    pub inputs: Inputs,
    /// The normalisations.
    pub norms: Normalizations,
    /// The rendered result in the configured format (what goes to stdout or the output file).
    pub text: String,
    /// The input files read (tables, stop rates), sorted.
    pub files: Vec<PathBuf>,
    /// The output file written, if the configuration names one.
    pub written: Option<PathBuf>,
}

/// `normalizations`: computes every process's expected yield for the configuration, renders it,
/// and writes it with a provenance manifest if `cfg.output` is set.
///
/// # Errors
/// Missing or invalid options, unreadable tables or stop-rate files (with `path:line`), a
/// generation that needs stop rates without them, an unwritable output.
pub fn normalizations(cfg: &NormalizationsConfig) -> Result<NormalizationsReport> {
    let start = Instant::now();
    let (inputs, mut files) = cfg.inputs()?;
    let constants = inputs.constants;
    tracing::info!(
        constants = %constants,
        tables = %cfg.tables.as_deref().map_or("embedded".into(), |d| d.display().to_string()),
        "normalizations: start"
    );
    let mut tables = load_tables(cfg.tables.as_deref())?;
    if let Some(p) = &cfg.dio_table {
        let s = Spectrum::read(p)?;
        if constants == ConstantSet::Mdc2018 {
            tables.dio_czarnecki = Some(s);
        } else {
            tables.dio_heeck = Some(s);
        }
    }
    files.extend(tables.files());
    files.sort();
    files.dedup();
    let norms = compute(&inputs, &tables)?;
    for w in &norms.warnings {
        tracing::warn!("{w}");
    }
    let text = match cfg.format {
        OutputFormat::Json => norms.to_json_pretty(),
        OutputFormat::Table => render_normalizations(&inputs, &norms),
    };
    let mut written = None;
    if let Some(out) = &cfg.output {
        hep_core::io::atomic_write_bytes(out, text.as_bytes())?;
        let config = serde_json::json!({
            "configuration": cfg,
            "inputs": inputs,
            "dio_source": norms.dio_source,
            "warnings": norms.warnings,
        });
        let mut m =
            Manifest::start("mu2e-ensemble normalizations", VERSION).with_configuration(&config)?;
        for f in &files {
            m.add_input(f)?;
        }
        if inputs.quirks.ce_poisson {
            m.add_seed("ce-poisson", inputs.seed);
        }
        m.add_output(out)?;
        m.finish();
        m.write_sidecar(out)?;
        written = Some(out.clone());
    }
    tracing::info!(
        entries = norms.entries.len(),
        pot = norms.pot.0,
        seconds = start.elapsed().as_secs_f64(),
        "normalizations: done"
    );
    Ok(NormalizationsReport {
        inputs,
        norms,
        text,
        files,
        written,
    })
}

/// The aligned text table of a normalisation: a header line, one line per sample (expected
/// value, unit, fraction), and the protons on target.
pub fn render_normalizations(inputs: &Inputs, n: &Normalizations) -> String {
    let c = inputs.constants;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# constants {} (G{}), livetime {}, beam {}, POT {:.6e}",
        c,
        c.generation(),
        inputs.livetime,
        inputs.beam,
        n.pot.0
    );
    let _ = writeln!(
        s,
        "{:<16} {:>24}  {:<22} {:>24}",
        "sample", "expected", "unit", "fraction"
    );
    for e in &n.entries {
        let unit = match e.unit {
            Unit::Events => "events",
            Unit::CosmicLivetimeSeconds => "s of cosmic livetime",
        };
        let frac = e
            .fraction
            .map(|f| format!("{f:.16e}"))
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            s,
            "{:<16} {:>24.16e}  {:<22} {:>24}",
            e.sample, e.value, unit, frac
        );
    }
    let _ = writeln!(s, "{:<16} {:>24.16e}  protons on target", "pot", n.pot.0);
    s
}

// ------------------------------------------------------------------------------ ce-rmue

/// Configuration of `ce-rmue`: the conversion rate giving `nsig` expected CE events for a
/// livetime (`get_ce_rmue` of `calculateEvents.py`, Mu2e/Production `JobConfig/ensemble`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CeRmueConfig {
    /// Constant set (generation).
    pub constants: ConstantSet,
    /// Livetime (s; meaning set by `livetime_kind`). Required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub livetime: Option<f64>,
    /// How to read `livetime`.
    pub livetime_kind: LivetimeKind,
    /// Beam mode (mdc2024, mds).
    pub beam: BeamMode,
    /// How mds converts on-spill time to POT.
    pub pot_method: PotMethod,
    /// Expected number of CE events wanted. Required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nsig: Option<f64>,
    /// The stop rates (mdc2020 and later).
    pub stop_rates: StopRateOptions,
}

impl Default for CeRmueConfig {
    fn default() -> Self {
        Self {
            constants: ConstantSet::Mds,
            livetime: None,
            livetime_kind: LivetimeKind::Native,
            beam: BeamMode::OneBB,
            pot_method: PotMethod::Spill,
            nsig: None,
            stop_rates: StopRateOptions::default(),
        }
    }
}

/// `ce-rmue`: the conversion rate per capture giving `cfg.nsig` expected CE events.
///
/// # Errors
/// Missing livetime or nsig, a negative or non-finite nsig, missing stop rates.
pub fn ce_rmue(cfg: &CeRmueConfig) -> Result<f64> {
    let (inputs, _) = base_inputs(
        cfg.constants,
        cfg.livetime,
        cfg.livetime_kind,
        cfg.beam,
        cfg.pot_method,
        &cfg.stop_rates,
    )?;
    let nsig = cfg.nsig.ok_or_else(|| missing("--nsig", "nsig"))?;
    if !nsig.is_finite() || nsig < 0.0 {
        return Err(Error::InvalidArgument(format!(
            "--nsig must be a finite, non-negative number, found {nsig}"
        )));
    }
    ce_rate_for_signal(&inputs, nsig)
}

// ------------------------------------------------------------------------------ gen-primary

/// Process of `gen-primary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrimaryType {
    /// Conversion electron at the Al endpoint (104.97 MeV/c).
    CeMinus,
    /// Conversion positron (92.32 MeV/c).
    CePlus,
    /// Decay-in-orbit electrons from the DIO spectrum, E >= emin.
    Dio,
    /// RMC photons from the closure spectrum (kmax), low edge >= emin.
    Rmc,
    /// RPC photons from rpcspectrum.tbl, E >= emin.
    Rpc,
    /// IPA Michel electrons (free Michel spectrum), E >= emin.
    IpaMichel,
    /// Cosmic muons; livetime = generated / rate.
    Cosmic,
}

/// Configuration of `gen-primary` (`gen_Primary.sh`, Mu2e/Production `JobConfig/ensemble`):
/// primary event samples as Parquet files, one per job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GenPrimaryConfig {
    /// Sample name (file description and the ensemble's dataset name), e.g. DIOTail. Required.
    pub primary: String,
    /// What to generate. Required.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<PrimaryType>,
    /// Number of jobs (files). Required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub njobs: Option<u32>,
    /// Generated events per job. Required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<u64>,
    /// Fraction of generated events stored, in (0, 1].
    pub filter_efficiency: f64,
    /// Lower energy cut (MeV): default DIO 95, RMC 85, RPC 50, IPA Michel 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emin: Option<f64>,
    /// RMC closure endpoint kmax (MeV).
    pub kmax: f64,
    /// Table directory; absent: the embedded Mu2e tables.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tables: Option<PathBuf>,
    /// Rate of generated cosmic muons (Hz) that defines the cosmic livetime.
    pub rate: f64,
    /// Cosmic muon energy range (MeV): [min, max].
    pub cosmic_energy: [f64; 2],
    /// Run number.
    pub run: u32,
    /// Sub-run of the first job.
    pub first_subrun: u32,
    /// File owner field.
    pub owner: String,
    /// Campaign/version (file configuration field).
    pub campaign: String,
    /// Master seed (job j uses stream (seed, j)).
    pub seed: u64,
    /// Output directory. Required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<PathBuf>,
}

impl Default for GenPrimaryConfig {
    fn default() -> Self {
        Self {
            primary: String::new(),
            kind: None,
            njobs: None,
            events: None,
            filter_efficiency: 1.0,
            emin: None,
            kmax: 90.1,
            tables: None,
            rate: 100.0,
            cosmic_energy: [1000.0, 1e6],
            run: 1202,
            first_subrun: 0,
            owner: "mu2e".into(),
            campaign: "MDC2020".into(),
            seed: 1,
            output: None,
        }
    }
}

impl GenPrimaryConfig {
    /// The output directory.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if it is not set.
    pub fn output_dir(&self) -> Result<&Path> {
        self.output
            .as_deref()
            .ok_or_else(|| missing("--output", "output"))
    }

    /// The generator options and the tables they use.
    ///
    /// # Errors
    /// A missing required option, unreadable tables, an invalid DIO cut.
    pub fn options(&self) -> Result<(GenPrimaryOptions, Tables)> {
        if self.primary.is_empty() {
            return Err(missing("--primary", "primary"));
        }
        let kind = self.kind.ok_or_else(|| missing("--type", "type"))?;
        let njobs = self.njobs.ok_or_else(|| missing("--njobs", "njobs"))?;
        let events = self.events.ok_or_else(|| missing("--events", "events"))?;
        let tables = load_tables(self.tables.as_deref())?;
        let kind = match kind {
            PrimaryType::CeMinus => PrimaryKind::CeMinus,
            PrimaryType::CePlus => PrimaryKind::CePlus,
            PrimaryType::Dio => {
                let emin = self.emin.unwrap_or(95.0);
                let spectrum = crate::dio::dio_spectrum(&tables, emin)?;
                PrimaryKind::Dio {
                    spectrum,
                    emin_mev: emin,
                }
            }
            PrimaryType::Rmc => PrimaryKind::Rmc {
                kmax_mev: self.kmax,
                emin_mev: self.emin.unwrap_or(85.0),
            },
            PrimaryType::Rpc => {
                let spectrum = tables.rpc.clone().ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "--type rpc needs {} in the tables directory",
                        crate::tables::RPC_FILE
                    ))
                })?;
                PrimaryKind::Rpc {
                    spectrum,
                    cut: EnergyCut::AtLeast(self.emin.unwrap_or(50.0)),
                }
            }
            PrimaryType::IpaMichel => PrimaryKind::IpaMichel {
                emin_mev: self.emin.unwrap_or(0.0),
            },
            PrimaryType::Cosmic => PrimaryKind::Cosmic {
                rate_hz: self.rate,
                emin_mev: self.cosmic_energy[0],
                emax_mev: self.cosmic_energy[1],
            },
        };
        let opts = GenPrimaryOptions {
            name: self.primary.clone(),
            kind,
            njobs,
            events_per_job: events,
            filter_efficiency: self.filter_efficiency,
            run: self.run,
            first_subrun: self.first_subrun,
            owner: self.owner.clone(),
            configuration: self.campaign.clone(),
            seed: self.seed,
        };
        Ok((opts, tables))
    }
}

/// The result of [`gen_primary`].
#[derive(Debug, Clone)]
pub struct GenPrimaryReport {
    /// The files written, in job order.
    pub files: Vec<SampleFileInfo>,
    /// Generated events (all jobs).
    pub generated: u64,
    /// Stored events (all jobs).
    pub stored: u64,
}

/// `gen-primary`: writes the sample files into the output directory (created if needed), each
/// with a provenance manifest, reporting each finished job to `progress`.
///
/// # Errors
/// As [`GenPrimaryConfig::options`] and [`crate::samples::generate_primary`]; I/O failures.
pub fn gen_primary(cfg: &GenPrimaryConfig, progress: &dyn Progress) -> Result<GenPrimaryReport> {
    let (opts, tables) = cfg.options()?;
    let out = cfg.output_dir()?;
    std::fs::create_dir_all(out).map_err(|e| hep_core::Error::io(out, e))?;
    let files = crate::samples::generate_primary_with_progress(out, &opts, progress)?;
    let mut m = Manifest::start("mu2e-ensemble gen-primary", VERSION)
        .with_configuration(&opts.manifest_configuration()?)?;
    m.add_seed("seed", opts.seed);
    for p in tables.files() {
        m.add_input(p)?;
    }
    for f in &files {
        m.add_output(&f.path)?;
    }
    m.finish();
    for f in &files {
        m.write_sidecar(&f.path)?;
    }
    Ok(GenPrimaryReport {
        generated: opts.events_per_job * u64::from(opts.njobs),
        stored: files.iter().map(|f| f.events).sum(),
        files,
    })
}

// ------------------------------------------------------------------------------ run-si

/// Configuration of `run-si` (`run_si.py` + SamplingInput, Mu2e/Production
/// `JobConfig/ensemble`): a blind ensemble from a run_si input directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunSiConfig {
    /// The run_si input directory. Required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cfg_dir: Option<PathBuf>,
    /// Output directory of the ensemble (not needed with `plan_only`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_dir: Option<PathBuf>,
    /// Only compute the per-sample expected counts.
    pub plan_only: bool,
    /// With `plan_only`: compare the generated events of the listed files with the needs.
    pub check_generated: bool,
    /// Output format of the plan and of the summary.
    pub format: OutputFormat,
    /// Constant set (default: mdc2018 for the G0 layout, mdc2020 for G1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constants: Option<ConstantSet>,
    /// Directory with the spectrum tables; absent: the embedded Mu2e tables.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tables: Option<PathBuf>,
    /// Beam mode (G2/G3).
    pub beam: BeamMode,
    /// The normalisation quirks of the originals to reproduce.
    pub compat: Quirks,
    /// Reproduce G1's hard-coded run number 1201 (quirk 9).
    pub compat_run_1201: bool,
    /// Maximum events per sub-run (output file).
    pub max_events_per_subrun: u64,
    /// Ledger of consumed events (default: beside the first sample file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ledger: Option<PathBuf>,
    /// Seed (default: line 6 of `settings`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Also write `SamplingInput_sr<k>.fcl` per sub-run.
    pub emit_fcl: bool,
    /// FCL template (default: a built-in DTS-level template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fcl_template: Option<PathBuf>,
    /// Build a series of this many ensembles into `out_dir/ensemble_<k>/`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ensembles: Option<usize>,
    /// Plan and reserve the whole series without writing it.
    pub reserve: bool,
    /// The stop rates (mdc2020 and later).
    pub stop_rates: StopRateOptions,
}

impl Default for RunSiConfig {
    fn default() -> Self {
        Self {
            cfg_dir: None,
            out_dir: None,
            plan_only: false,
            check_generated: false,
            format: OutputFormat::Table,
            constants: None,
            tables: None,
            beam: BeamMode::OneBB,
            compat: Quirks::default(),
            compat_run_1201: false,
            max_events_per_subrun: crate::sampler::DEFAULT_MAX_EVENTS_PER_SUBRUN,
            ledger: None,
            seed: None,
            emit_fcl: false,
            fcl_template: None,
            ensembles: None,
            reserve: false,
            stop_rates: StopRateOptions::default(),
        }
    }
}

impl RunSiConfig {
    /// The run_si directory.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `cfg_dir` is not set.
    pub fn cfg_dir(&self) -> Result<&Path> {
        self.cfg_dir
            .as_deref()
            .ok_or_else(|| missing("CFG_DIR", "cfg_dir"))
    }

    /// The planning options (tables loaded, stop rates resolved).
    ///
    /// # Errors
    /// Unreadable tables or stop-rate files.
    pub fn options(&self) -> Result<RunSiOptions> {
        let (stop_rates, _) = self.stop_rates.resolve()?;
        Ok(RunSiOptions {
            constants: self.constants,
            tables: load_tables(self.tables.as_deref())?,
            stop_rates,
            quirks: self.compat,
            compat_run_1201: self.compat_run_1201,
            beam: self.beam,
        })
    }

    /// The sampler options.
    pub fn build_options(&self) -> BuildOptions {
        BuildOptions {
            max_events_per_subrun: self.max_events_per_subrun,
            ledger: self.ledger.clone(),
            seed: self.seed,
            emit_fcl: self.emit_fcl,
            fcl_template: self.fcl_template.clone(),
        }
    }

    /// The run_si directory read and the planning options.
    ///
    /// # Errors
    /// As [`RunSiConfig::options`] and [`RunSiDir::read`].
    pub fn setup(&self) -> Result<(RunSiDir, RunSiOptions)> {
        let opts = self.options()?;
        let dir = RunSiDir::read(self.cfg_dir()?, opts.constants)?;
        Ok((dir, opts))
    }
}

/// The result of [`run_si`].
#[derive(Debug, Clone)]
pub enum RunSiOutcome {
    /// `plan_only`: the plan, and the generated-events check if asked for.
    Plan {
        /// The per-sample normalisations.
        plan: RunSiPlan,
        /// The check of the generated events against the needs (`check_generated`).
        checks: Option<Vec<GeneratedCheck>>,
    },
    /// One ensemble written.
    Ensemble(Box<EnsembleReport>),
    /// A series of ensembles written (`ensembles`).
    Series(Vec<EnsembleReport>),
    /// A series planned and reserved (`reserve`): its ensembles and their total events.
    Reserved {
        /// Ensembles in the series.
        ensembles: usize,
        /// Events of all ensembles.
        events: u64,
    },
}

impl RunSiOutcome {
    /// The report printed for this outcome in `format` (`out` is the output directory named in
    /// it).
    ///
    /// # Errors
    /// JSON serialisation failures (never for these types).
    pub fn render(&self, format: OutputFormat, out: &Path) -> Result<String> {
        let json = |v: &serde_json::Value| -> Result<String> {
            Ok(format!(
                "{}\n",
                serde_json::to_string_pretty(v).map_err(hep_core::Error::from)?
            ))
        };
        let mut s = String::new();
        match self {
            RunSiOutcome::Plan { plan, checks } => match format {
                OutputFormat::Json => {
                    let mut v = plan.to_json();
                    if let Some(c) = checks {
                        v["generated_check"] = to_value(c)?;
                    }
                    s = json(&v)?;
                }
                OutputFormat::Table => {
                    let _ = write!(s, "{plan}");
                    for c in checks.iter().flatten() {
                        let _ = writeln!(
                            s,
                            "check {:<16} needed {:>14.6e} generated {:>14.6e} {}",
                            c.sample,
                            c.needed,
                            c.generated,
                            if c.ok { "ok" } else { "NOT ENOUGH" }
                        );
                    }
                }
            },
            RunSiOutcome::Ensemble(rep) => match format {
                OutputFormat::Json => s = json(&to_value(&rep.outcomes)?)?,
                OutputFormat::Table => {
                    let _ = writeln!(
                        s,
                        "ensemble: {} events (expected {:.3}) in {} sub-run file(s) in {}, seed {}",
                        rep.draws.n_total,
                        rep.expected_total,
                        rep.subruns.len(),
                        out.display(),
                        rep.config.seed
                    );
                    let _ = writeln!(
                        s,
                        "{:<16} {:>14} {:>10} {:>7}",
                        "sample", "expected", "realised", "pull"
                    );
                    for o in &rep.outcomes {
                        let _ = writeln!(
                            s,
                            "{:<16} {:>14.3} {:>10} {:>7.2}",
                            o.name, o.expected, o.realised, o.pull
                        );
                    }
                }
            },
            RunSiOutcome::Series(reports) => {
                for (k, r) in reports.iter().enumerate() {
                    let _ = writeln!(
                        s,
                        "ensemble {k}: {} events (expected {:.3}), seed {}",
                        r.draws.n_total, r.expected_total, r.config.seed
                    );
                }
            }
            RunSiOutcome::Reserved { ensembles, events } => {
                let _ = writeln!(
                    s,
                    "planned and reserved {ensembles} ensembles ({events} events) in {}",
                    out.display()
                );
            }
        }
        Ok(s)
    }

    /// True if a generated-events check found a sample short.
    pub fn check_failed(&self) -> bool {
        matches!(self, RunSiOutcome::Plan { checks: Some(c), .. } if c.iter().any(|c| !c.ok))
    }
}

fn to_value<T: Serialize>(v: &T) -> Result<serde_json::Value> {
    Ok(serde_json::to_value(v).map_err(hep_core::Error::from)?)
}

/// `run-si` in one process: the plan (`plan_only`), one ensemble, a series (`ensembles`), or the
/// reservation of a series (`reserve`). Sub-run files written are reported to `progress`.
/// (Shards of a series, `--shard I/N`, are [`crate::scale_out::run_series_shard`].)
///
/// # Errors
/// A missing `cfg_dir` or `out_dir`; as [`crate::run_si::plan`],
/// [`crate::sampler::build_ensemble`] and [`crate::series::build_series`].
pub fn run_si(cfg: &RunSiConfig, progress: &dyn Progress) -> Result<RunSiOutcome> {
    let start = Instant::now();
    let (dir, opts) = cfg.setup()?;
    tracing::info!(
        samples = dir.samples.len(),
        livetime_s = dir.livetime_s,
        "run-si: read {}",
        cfg.cfg_dir()?.display()
    );
    if cfg.plan_only {
        let p = plan(&dir, &opts)?;
        let checks = if cfg.check_generated {
            let inputs = sample_inputs(&p)?;
            Some(check_generated(
                &inputs
                    .into_iter()
                    .map(|s| (s.name, s.norm, s.files))
                    .collect::<Vec<_>>(),
            ))
        } else {
            None
        };
        tracing::info!(
            samples = p.samples.len(),
            seconds = start.elapsed().as_secs_f64(),
            "run-si: planned"
        );
        return Ok(RunSiOutcome::Plan { plan: p, checks });
    }
    let out = cfg
        .out_dir
        .as_deref()
        .ok_or_else(|| missing("OUT_DIR (or --plan-only)", "out_dir"))?;
    let b = cfg.build_options();
    if cfg.ensembles.is_some() || cfg.reserve {
        let count = cfg.ensembles.unwrap_or(1);
        let (inputs, ecfg) = crate::run_si::ensemble_setup(&dir, &opts, &b)?;
        if cfg.reserve {
            let plan = crate::series::plan_series(&inputs, &ecfg, count, out)?;
            return Ok(RunSiOutcome::Reserved {
                ensembles: plan.entries.len(),
                events: plan.entries.iter().map(|e| e.plan.draws.n_total).sum(),
            });
        }
        let reports =
            crate::series::build_series_with_progress(&inputs, &ecfg, count, out, progress)?;
        tracing::info!(
            ensembles = reports.len(),
            seconds = start.elapsed().as_secs_f64(),
            "run-si: series written"
        );
        return Ok(RunSiOutcome::Series(reports));
    }
    let (inputs, ecfg) = crate::run_si::ensemble_setup(&dir, &opts, &b)?;
    let rep = crate::sampler::build_ensemble_with_progress(&inputs, &ecfg, out, progress)?;
    Ok(RunSiOutcome::Ensemble(Box::new(rep)))
}

/// `run-si --ensembles K --shard I/N`: writes the block `shard` of the series planned (and
/// reserved) before in `out_dir` (by `reserve`), into `out_dir/shards/I-of-N/`; returns the
/// indices of the ensembles written.
///
/// # Errors
/// A missing `cfg_dir`/`out_dir`, `reserve` set, no planned series in `out_dir` or one of
/// another size; as [`crate::scale_out::run_series_shard`].
pub fn run_si_shard(
    cfg: &RunSiConfig,
    shard: hep_core::shard::Shard,
) -> Result<std::ops::Range<usize>> {
    let count = cfg.ensembles.unwrap_or(1);
    if cfg.reserve {
        return Err(Error::InvalidArgument(
            "--reserve plans the whole series once; run the shards without it".into(),
        ));
    }
    let out = cfg
        .out_dir
        .as_deref()
        .ok_or_else(|| missing("OUT_DIR", "out_dir"))?;
    let (dir, opts) = cfg.setup()?;
    let (inputs, _) = crate::run_si::ensemble_setup(&dir, &opts, &cfg.build_options())?;
    let plan = crate::series::SeriesPlan::read(out).map_err(|e| {
        Error::InvalidArgument(format!(
            "shards write a planned series: run `run-si ... --ensembles {count} --reserve` \
             (or `submit`) first ({e})"
        ))
    })?;
    if plan.entries.len() != count {
        return Err(Error::InvalidArgument(format!(
            "the series in {} has {} ensembles, not {count}",
            out.display(),
            plan.entries.len()
        )));
    }
    crate::scale_out::run_series_shard(&inputs, out, shard)?;
    Ok(shard.range(count))
}

// ------------------------------------------------------------------------------ gen-ensemble

/// Configuration of `gen-ensemble` (`genEnsemble.py`, Mu2e/Production `JobConfig/ensemble`):
/// draws the parameters of a blind ensemble and plans its generation jobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GenEnsembleConfig {
    /// Directory to create (refused if it exists). Required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// Maximum livetime of the RMC generation (yr). Required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_livetime_rmc: Option<f64>,
    /// Livetime of the DIO/CE/RPC generation (yr). Required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub livetime_gen: Option<f64>,
    /// Run number.
    pub run: u32,
    /// Seed of the draws.
    pub seed: u64,
    /// Directory with the tables; absent: the embedded Mu2e tables.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tables: Option<PathBuf>,
    /// Output format of the printed plan.
    pub format: OutputFormat,
}

impl Default for GenEnsembleConfig {
    fn default() -> Self {
        Self {
            dir: None,
            max_livetime_rmc: None,
            livetime_gen: None,
            run: 1002,
            seed: 1,
            tables: None,
            format: OutputFormat::Table,
        }
    }
}

/// The result of [`gen_ensemble`].
#[derive(Debug, Clone)]
pub struct GenEnsembleReport {
    /// The directory written.
    pub dir: PathBuf,
    /// The drawn parameters.
    pub parameters: EnsembleParameters,
    /// The jobs per sample.
    pub jobs: Vec<JobCount>,
    /// The printed report in the configured format.
    pub text: String,
}

/// `gen-ensemble`: draws the parameters, writes the run_si directory and `jobs.json` (with a
/// manifest beside it) and renders the plan.
///
/// # Errors
/// Missing options, an existing directory, unreadable tables, invalid livetimes.
pub fn gen_ensemble(cfg: &GenEnsembleConfig) -> Result<GenEnsembleReport> {
    let dir = cfg.dir.clone().ok_or_else(|| missing("DIR", "dir"))?;
    let max_rmc = cfg
        .max_livetime_rmc
        .ok_or_else(|| missing("MAX_LIVETIME_RMC", "max_livetime_rmc"))?;
    let gen_lt = cfg
        .livetime_gen
        .ok_or_else(|| missing("LIVETIME_GEN", "livetime_gen"))?;
    let start = Instant::now();
    tracing::info!(seed = cfg.seed, "gen-ensemble: start");
    let tables = load_tables(cfg.tables.as_deref())?;
    let params = draw_parameters(max_rmc, cfg.run, cfg.seed)?;
    let jobs = job_counts(max_rmc, gen_lt, &tables)?;
    write_run_si_dir(&dir, &params)?;
    let out = dir.join("jobs.json");
    let doc = serde_json::json!({ "parameters": params, "jobs": jobs });
    let pretty = serde_json::to_string_pretty(&doc).map_err(hep_core::Error::from)?;
    hep_core::io::atomic_write_bytes(&out, format!("{pretty}\n").as_bytes())?;
    let mut m = Manifest::start("mu2e-ensemble gen-ensemble", VERSION).with_configuration(&doc)?;
    m.add_seed("seed", cfg.seed);
    for p in tables.files() {
        m.add_input(p)?;
    }
    for n in ["kmax", "livetime", "rue", "rup", "settings", "jobs.json"] {
        m.add_output(dir.join(n))?;
    }
    m.finish();
    m.write_sidecar(&out)?;
    let mut text = String::new();
    match cfg.format {
        OutputFormat::Json => text = format!("{pretty}\n"),
        OutputFormat::Table => {
            let _ = writeln!(
                text,
                "{}: livetime {:.6} yr, rue {:.3e}, rup {:.3e}, kmax {:.3} MeV, seed {}",
                dir.display(),
                params.livetime_yr,
                params.rue,
                params.rup,
                params.kmax,
                params.sampling_seed
            );
            let _ = writeln!(
                text,
                "{:<14} {:>14} {:>10} {:>9} {:>7}",
                "sample", "norm/yr", "ev/job", "merge", "njobs"
            );
            for j in &jobs {
                let _ = writeln!(
                    text,
                    "{:<14} {:>14.6e} {:>10} {:>9} {:>7}",
                    j.sample, j.norm_per_year, j.events_per_job, j.merge_factor, j.njobs
                );
            }
        }
    }
    tracing::info!(
        jobs = jobs.len(),
        seconds = start.elapsed().as_secs_f64(),
        "gen-ensemble: wrote {}",
        dir.display()
    );
    Ok(GenEnsembleReport {
        dir,
        parameters: params,
        jobs,
        text,
    })
}

// ------------------------------------------------------------------------------ si-summary

/// Configuration of `si-summary`: the SamplingInput end-of-job summary of a mu2e log.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SiSummaryConfig {
    /// The mu2e log. Required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<PathBuf>,
    /// Dataset names to read. Required (non-empty).
    pub samples: Vec<String>,
}

/// `si-summary`: parses the summary of the log.
///
/// # Errors
/// Missing options, an unreadable log, a log without the summary (with `path:line`).
pub fn si_summary(cfg: &SiSummaryConfig) -> Result<SamplingSummary> {
    let log = cfg.log.as_deref().ok_or_else(|| missing("LOG", "log"))?;
    if cfg.samples.is_empty() {
        return Err(missing("--samples", "samples"));
    }
    let text = hep_core::io::read_text(log)?;
    let known: Vec<&str> = cfg.samples.iter().map(String::as_str).collect();
    parse_sampling_summary(log, &text, &known)
}

// ------------------------------------------------------------------------------ ledger

/// Configuration of `ledger`: list the ensembles and reservations of an event ledger and give
/// back reservations that a killed run left behind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LedgerConfig {
    /// The ledger file (`mu2e-ensemble-ledger.json` beside the sample files). Required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ledger: Option<PathBuf>,
    /// Release every reservation whose holder process of this host no longer runs
    /// ([`crate::sampler::release_stale`]).
    pub release_stale: bool,
    /// Release the reservation with this id, whoever holds it
    /// ([`crate::sampler::release_reservation`]); use it only when the holder is known to be gone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
}

/// What `ledger` did and found.
#[derive(Debug, Clone)]
pub struct LedgerReport {
    /// The reservation released by id, if one was asked for.
    pub released: Option<crate::sampler::LedgerEntry>,
    /// The stale reservations released (`None` if not asked for).
    pub released_stale: Option<Vec<crate::sampler::LedgerEntry>>,
    /// The ledger as it reads afterwards.
    pub ledger: crate::sampler::Ledger,
}

impl LedgerReport {
    /// The releases done, one line each, then the ledger as an aligned table: status, events
    /// allocated, whether the reservation is stale, id, output directory.
    pub fn render(&self) -> String {
        let mut t = String::new();
        if let Some(e) = &self.released {
            let _ = writeln!(
                t,
                "released {} ({} row ranges, output {})",
                e.id,
                e.ranges.len(),
                e.output_dir.display()
            );
        }
        if let Some(released) = &self.released_stale {
            for e in released {
                let _ = writeln!(
                    t,
                    "released stale reservation {} (holder pid {} gone; output {})",
                    e.id,
                    e.holder_pid.map_or("?".into(), |p| p.to_string()),
                    e.output_dir.display()
                );
            }
            if released.is_empty() {
                t.push_str("no stale reservations\n");
            }
        }
        let _ = writeln!(
            t,
            "{:<10} {:>12} {:<6} {:<40} output",
            "status", "events", "stale", "id"
        );
        for e in &self.ledger.ensembles {
            let events: u64 = e.ranges.iter().map(|r| r.len()).sum();
            let _ = writeln!(
                t,
                "{:<10} {:>12} {:<6} {:<40} {}",
                e.status,
                events,
                if e.is_stale() { "yes" } else { "no" },
                if e.id.is_empty() { "-" } else { &e.id },
                e.output_dir.display()
            );
        }
        t
    }
}

/// `ledger`: releases what the configuration asks for (by id first, then the stale ones), each
/// under the ledger's lock, and reads the ledger back.
///
/// # Errors
/// No ledger given or no such file, an unknown or complete reservation id, a ledger that cannot
/// be read, locked or written.
pub fn ledger(cfg: &LedgerConfig) -> Result<LedgerReport> {
    use crate::sampler::{Ledger, release_reservation, release_stale};
    let path = cfg
        .ledger
        .as_deref()
        .ok_or_else(|| missing("LEDGER", "ledger"))?;
    if !path.exists() {
        return Err(Error::InvalidArgument(format!(
            "{}: no such ledger",
            path.display()
        )));
    }
    let released = cfg
        .release
        .as_deref()
        .map(|id| release_reservation(path, id))
        .transpose()?;
    let released_stale = if cfg.release_stale {
        Some(release_stale(path)?)
    } else {
        None
    };
    Ok(LedgerReport {
        released,
        released_stale,
        ledger: Ledger::load(path)?,
    })
}

/// [`run_si`] without progress reports.
///
/// # Errors
/// As [`run_si`].
pub fn run_si_quiet(cfg: &RunSiConfig) -> Result<RunSiOutcome> {
    run_si(cfg, &NoProgress)
}
