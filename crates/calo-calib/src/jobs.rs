//! The command-line subcommands as library calls: one configuration struct per job, holding
//! every option (the compat switches included), and one function that does the job and writes
//! the same files as `calo-calib <subcommand>`.
//!
//! | job | configuration | call | writes |
//! |---|---|---|---|
//! | simulate | [`SimulateJob`] | [`run_simulate`] | `spectra.{csv,parquet}`, `truth.csv`, optionally `CalCosmicEnergyCalib.txt` |
//! | fit | [`FitJob`] | [`run_fit`] (and [`run_merge`] after a sharded fit) | `source_fits.{parquet,csv}`, `CalSourceEnergyCalib.txt` (per SiPM) |
//! | combine | [`CombineJob`] | [`run_combine`] | `CalEnergyCalib.txt`, `CalCombinedEnergyCalib.txt` |
//! | plot | [`PlotJob`] | [`run_plot`] | the summary plots, per-disk maps and channel canvases |
//!
//! Every output gets a `.manifest.json` provenance sidecar ([`hep_core::manifest`]) that records
//! the job's configuration (paths with non-UTF-8 parts replaced by U+FFFD). The configurations
//! read from TOML or JSON: missing fields take their defaults (`#[serde(default)]`) and unknown
//! fields are an error; `calo-calib <subcommand> --print-config` prints them as TOML.
//!
//! ```no_run
//! use calo_calib::jobs::{FitJob, run_fit};
//! use hep_core::progress::NoProgress;
//! let job = FitJob {
//!     input: Some("sim/spectra.csv".into()),
//!     output: Some("fit".into()),
//!     ..FitJob::default()
//! };
//! let summary = run_fit(&job, None, &NoProgress)?;
//! println!("{} usable fits of {}", summary.ok, summary.n_channels);
//! # Ok::<(), calo_calib::Error>(())
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use hep_core::io::FileDigest;
use hep_core::manifest::Manifest;
use hep_core::plot::Format;
use hep_core::progress::Progress;
use hep_core::shard::Shard;
use serde::{Deserialize, Serialize};

use crate::channel::{CrystalPositions, IdMode};
use crate::combine::{CombineConfig, combine, status_counts};
use crate::detector::{
    Selection, fit_detector_shard_with_progress, read_source_fits, source_table_rows,
    summary_counts, write_source_fits,
};
use crate::fit::{ChannelFit, FitConfig};
use crate::plots::{plot_channels, plot_pairs_and_composite, plot_summary};
use crate::scale_out::{self, merge_fit_shards, write_fit_shard};
use crate::simulate::{
    SimConfig, all_ids, cosmic_table_rows, simulate_cosmic_table, simulate_detector_with_progress,
    write_truth,
};
use crate::spectra::{read_spectra, write_spectra};
use crate::tables::{
    CosmicLayout, RowCheck, read_cosmic_table, read_nominal_table, read_source_table,
    write_cosmic_table, write_reco_tables,
};
use crate::{Error, Result};

/// File format of the simulated spectra table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpectraFormat {
    /// `spectra.csv`.
    #[default]
    Csv,
    /// `spectra.parquet`.
    Parquet,
}

impl SpectraFormat {
    /// The file extension, `csv` or `parquet`.
    pub const fn extension(self) -> &'static str {
        match self {
            SpectraFormat::Csv => "csv",
            SpectraFormat::Parquet => "parquet",
        }
    }
}

/// Image format of the plots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    /// PNG raster image.
    Png,
    /// SVG vector image.
    Svg,
}

impl From<ImageFormat> for Format {
    fn from(f: ImageFormat) -> Self {
        match f {
            ImageFormat::Png => Format::Png,
            ImageFormat::Svg => Format::Svg,
        }
    }
}

/// The required path `value` of the configuration key `key`.
fn required<'a>(value: &'a Option<PathBuf>, key: &str, what: &str) -> Result<&'a Path> {
    value.as_deref().ok_or_else(|| Error::MissingOption {
        what: what.to_string(),
        key: key.to_string(),
    })
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::Core(hep_core::Error::io(dir, e)))
}

/// `p` with any non-UTF-8 part replaced (U+FFFD), for the configuration recorded in a manifest
/// (JSON holds only UTF-8 strings).
fn lossy(p: &Option<PathBuf>) -> Option<PathBuf> {
    p.as_ref()
        .map(|p| PathBuf::from(p.to_string_lossy().into_owned()))
}

/// A manifest for `calo-calib <sub>` recording `config`.
pub(crate) fn manifest(sub: &str, config: &impl Serialize) -> Result<Manifest> {
    Ok(
        Manifest::start(format!("calo-calib {sub}"), env!("CARGO_PKG_VERSION"))
            .with_configuration(config)?,
    )
}

/// Records `outputs` in `m`, finishes it and writes one sidecar per output.
pub(crate) fn finish(mut m: Manifest, outputs: &[PathBuf]) -> Result<()> {
    for o in outputs {
        m.add_output(o)?;
    }
    m.finish();
    for o in outputs {
        m.write_sidecar(o)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// simulate
// ---------------------------------------------------------------------------------------------

/// `calo-calib simulate`: source spectra of the whole detector with known truth, and optionally
/// cosmic constants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimulateJob {
    /// Output directory (required; created if missing).
    pub output: Option<PathBuf>,
    /// Per-crystal spectra (ids 0..=1347) instead of per-SiPM (0..=2695).
    pub per_crystal: bool,
    /// File format of the spectra table.
    pub format: SpectraFormat,
    /// Also write simulated cosmic constants (`CalCosmicEnergyCalib.txt`).
    pub cosmics: bool,
    /// Relative error of the simulated cosmic peaks (default 0.012).
    pub cosmic_rel_error: f64,
    /// Fraction of cosmic fits simulated with a bad chi-square (default 0).
    pub cosmic_bad_fraction: f64,
    /// The simulation: seed, statistics, gains, line shape and histogram ([`SimConfig`]'s
    /// defaults, but seed 1, the command line's default).
    pub sim: SimConfig,
}

impl Default for SimulateJob {
    fn default() -> Self {
        Self {
            output: None,
            per_crystal: false,
            format: SpectraFormat::Csv,
            cosmics: false,
            cosmic_rel_error: 0.012,
            cosmic_bad_fraction: 0.0,
            sim: SimConfig {
                seed: 1,
                ..SimConfig::default()
            },
        }
    }
}

/// What [`run_simulate`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulateSummary {
    /// Spectra simulated.
    pub n_spectra: usize,
    /// Events in all spectra.
    pub n_events: f64,
    /// Files written (without the manifests), spectra first.
    pub outputs: Vec<PathBuf>,
    /// Wall time (s).
    pub seconds: f64,
}

/// Simulates the spectra of every channel of `job` ([`simulate_detector_with_progress`]) and
/// writes `spectra.<format>`, `truth.csv` and, with [`SimulateJob::cosmics`],
/// `CalCosmicEnergyCalib.txt` ([`simulate_cosmic_table`] with the same seed) into
/// [`SimulateJob::output`], each with its manifest. Everything is computed (and every option
/// checked) before the first file is written. `progress` gets one unit per channel.
///
/// # Errors
/// [`Error::InvalidArgument`] without an output directory or for invalid simulation settings;
/// [`Error::Core`] for I/O failures.
pub fn run_simulate(job: &SimulateJob, progress: &dyn Progress) -> Result<SimulateSummary> {
    let out = required(&job.output, "output", "output directory")?;
    let mode = IdMode::from_per_crystal(job.per_crystal);
    let t0 = Instant::now();
    let (set, truth) = simulate_detector_with_progress(&job.sim, &all_ids(mode), mode, progress)?;
    let cosmics = job
        .cosmics
        .then(|| {
            simulate_cosmic_table(
                job.sim.seed,
                &truth,
                job.cosmic_rel_error,
                job.cosmic_bad_fraction,
            )
        })
        .transpose()?;
    create_dir(out)?;
    let spectra = out.join(format!("spectra.{}", job.format.extension()));
    write_spectra(&spectra, &set)?;
    let truth_path = out.join("truth.csv");
    write_truth(&truth_path, &truth)?;
    let mut outputs = vec![spectra, truth_path];
    if let Some(cos) = cosmics {
        let path = out.join("CalCosmicEnergyCalib.txt");
        write_cosmic_table(&path, &cosmic_table_rows(&cos))?;
        outputs.push(path);
    }
    let recorded = SimulateJob {
        output: lossy(&job.output),
        ..job.clone()
    };
    let mut m = manifest("simulate", &recorded)?;
    m.add_seed("seed", job.sim.seed);
    finish(m, &outputs)?;
    let summary = SimulateSummary {
        n_spectra: set.len(),
        n_events: set.spectra.iter().map(|s| s.n_events()).sum(),
        outputs,
        seconds: t0.elapsed().as_secs_f64(),
    };
    tracing::info!(
        files = summary.outputs.len(),
        seconds = summary.seconds,
        "simulate: wrote {} files into {}",
        summary.outputs.len(),
        out.display()
    );
    Ok(summary)
}

// ---------------------------------------------------------------------------------------------
// fit
// ---------------------------------------------------------------------------------------------

/// `calo-calib fit`: the source fit of every selected spectrum (MakeAnalysisTree +
/// SourceFitter).
///
/// [`FitJob::fit`] is the complete fit configuration used. [`FitJob::nominal_gain`] and
/// [`FitJob::compat`] are presets: [`FitJob::apply_presets`] sets the gain- and compat-dependent
/// fields of [`FitJob::fit`] from them (the command line does so when `--nominal-gain` or
/// `--compat` is given, or `--method` with compat on); [`run_fit`] uses [`FitJob::fit`] as it
/// is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FitJob {
    /// Spectra table, CSV or Parquet by extension (required).
    pub input: Option<PathBuf>,
    /// Output directory (required; created if missing).
    pub output: Option<PathBuf>,
    /// Ids are crystals (0..=1347), not SiPMs.
    pub per_crystal: bool,
    /// Nominal gain (ADC/MeV) the fit window of [`FitJob::fit`] is scaled for (default 16, the
    /// simulation's).
    pub nominal_gain: f64,
    /// Reproduce the original fit ([`FitConfig::compat`]): recorded here, applied to
    /// [`FitJob::fit`] by [`FitJob::apply_presets`].
    pub compat: bool,
    /// Which channels to fit.
    pub selection: Selection,
    /// The fit settings.
    pub fit: FitConfig,
}

impl Default for FitJob {
    fn default() -> Self {
        Self {
            input: None,
            output: None,
            per_crystal: false,
            nominal_gain: 16.0,
            compat: false,
            selection: Selection::default(),
            fit: FitConfig::for_gain(16.0),
        }
    }
}

impl FitJob {
    /// Sets the gain- and compat-dependent fields of [`FitJob::fit`] from
    /// [`FitJob::nominal_gain`] and [`FitJob::compat`] ([`FitConfig::apply_gain`]).
    pub fn apply_presets(&mut self) {
        self.fit.apply_gain(self.nominal_gain, self.compat);
    }

    /// The id mode of [`FitJob::per_crystal`].
    pub const fn mode(&self) -> IdMode {
        IdMode::from_per_crystal(self.per_crystal)
    }
}

/// What [`run_fit`] or [`run_merge`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct FitSummary {
    /// Channels fitted (selected channels of the shard, or all).
    pub n_channels: usize,
    /// Usable fits.
    pub ok: usize,
    /// Failed fits (attempted, no usable constant), empty channels included.
    pub failed: usize,
    /// LYSO channels, not fitted by design.
    pub lyso: usize,
    /// Channels without counts in the fit range (part of `failed`).
    pub empty: usize,
    /// Files written (without the manifests); for a shard, its directory's fit files.
    pub outputs: Vec<PathBuf>,
    /// The shard directory, for a sharded run.
    pub shard_dir: Option<PathBuf>,
    /// Wall time of the fits (s).
    pub seconds: f64,
}

impl FitSummary {
    fn of(fits: &[ChannelFit], outputs: Vec<PathBuf>, seconds: f64) -> Self {
        let (ok, failed, lyso, empty) = summary_counts(fits);
        Self {
            n_channels: fits.len(),
            ok,
            failed,
            lyso,
            empty,
            outputs,
            shard_dir: None,
            seconds,
        }
    }
}

/// Fits the selected spectra of [`FitJob::input`] and writes the outputs into
/// [`FitJob::output`]: `source_fits.parquet`, `source_fits.csv` and, per SiPM,
/// `CalSourceEnergyCalib.txt` ([`write_fit_outputs`]). With `shard`, fits only that block of
/// the selected channels and writes it into `<output>/shards/<I>-of-<N>/`
/// ([`crate::scale_out`]); [`run_merge`] joins the shards. `progress` gets one unit per
/// channel.
///
/// A run in which no channel gave a usable fit still writes its outputs (they record why) and
/// returns its summary with `ok == 0`; the command line then fails.
///
/// # Errors
/// [`Error::InvalidArgument`] without input or output, for an invalid configuration, or when no
/// channel matches the selection (unsharded); [`hep_core::Error::Parse`] for a malformed spectra table;
/// [`Error::Core`] for I/O failures.
pub fn run_fit(job: &FitJob, shard: Option<Shard>, progress: &dyn Progress) -> Result<FitSummary> {
    let input = required(&job.input, "input", "spectra table")?;
    let out = required(&job.output, "output", "output directory")?;
    let mode = job.mode();
    let t_read = Instant::now();
    let set = read_spectra(input, mode)?;
    tracing::info!(
        spectra = set.len(),
        seconds = t_read.elapsed().as_secs_f64(),
        "read {} spectra from {}",
        set.len(),
        input.display()
    );
    let t0 = Instant::now();
    if let Some(shard) = shard {
        let n_units = crate::detector::selected_spectra(&set, &job.selection)?.len();
        let fits =
            fit_detector_shard_with_progress(&set, &job.fit, &job.selection, shard, progress)?;
        let seconds = t0.elapsed().as_secs_f64();
        let sjob = scale_out::FitJob {
            config: job.fit.clone(),
            selection: job.selection,
            mode,
        };
        let dir = write_fit_shard(out, input, &sjob, shard, n_units, &fits)?;
        let outputs = [scale_out::SHARD_FITS_FILE, "source_fits.csv"]
            .iter()
            .map(|f| dir.join(f))
            .collect();
        let mut s = FitSummary::of(&fits, outputs, seconds);
        s.shard_dir = Some(dir);
        return Ok(s);
    }
    let fits =
        fit_detector_shard_with_progress(&set, &job.fit, &job.selection, Shard::whole(), progress)?;
    let seconds = t0.elapsed().as_secs_f64();
    if fits.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "no channel of {} matches the selection",
            input.display()
        )));
    }
    create_dir(out)?;
    let inputs = vec![FileDigest::of(input)?];
    let recorded = FitJob {
        input: lossy(&job.input),
        output: lossy(&job.output),
        ..job.clone()
    };
    let outputs = write_fit_outputs(out, inputs, &recorded, mode, &fits)?;
    Ok(FitSummary::of(&fits, outputs, seconds))
}

/// Writes the outputs of a detector fit into `dir` (the same for a single process and a merge of
/// shards): `source_fits.parquet` and `.csv` ([`write_source_fits`]) and, per SiPM,
/// `CalSourceEnergyCalib.txt`, each with a manifest recording `inputs` and `configuration`.
/// Returns the files written.
///
/// # Errors
/// [`Error::Core`] for I/O failures.
pub fn write_fit_outputs(
    dir: &Path,
    inputs: Vec<FileDigest>,
    configuration: &impl Serialize,
    mode: IdMode,
    fits: &[ChannelFit],
) -> Result<Vec<PathBuf>> {
    let mut outputs = write_source_fits(dir, fits)?.to_vec();
    if mode == IdMode::PerSipm {
        let path = dir.join("CalSourceEnergyCalib.txt");
        crate::tables::write_source_table(&path, &source_table_rows(fits))?;
        outputs.push(path);
    }
    let mut m = manifest("fit", configuration)?;
    m.inputs = inputs;
    finish(m, &outputs)?;
    Ok(outputs)
}

/// Joins the shards of a sharded [`run_fit`] in `output` ([`merge_fit_shards`]) and writes the
/// outputs of a single-process fit there ([`write_fit_outputs`], recording the shards' job).
///
/// # Errors
/// As [`merge_fit_shards`]; [`Error::Core`] for I/O failures.
pub fn run_merge(output: &Path) -> Result<FitSummary> {
    let t0 = Instant::now();
    let merged = merge_fit_shards(output)?;
    tracing::info!(
        shards = merged.shards.len(),
        channels = merged.fits.len(),
        "merging {} shards of {} channels",
        merged.shards.len(),
        merged.fits.len()
    );
    let inputs = merged.shards[0].manifest.inputs.clone();
    let outputs = write_fit_outputs(output, inputs, &merged.job, merged.job.mode, &merged.fits)?;
    Ok(FitSummary::of(
        &merged.fits,
        outputs,
        t0.elapsed().as_secs_f64(),
    ))
}

// ---------------------------------------------------------------------------------------------
// combine
// ---------------------------------------------------------------------------------------------

/// `calo-calib combine`: the reconstruction table from source and cosmic constants (the
/// CaloCalibration reco-table maker).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CombineJob {
    /// `CalSourceEnergyCalib` table (from `fit`); at least one of `source` and `cosmic`.
    pub source: Option<PathBuf>,
    /// `CalCosmicEnergyCalib` table.
    pub cosmic: Option<PathBuf>,
    /// Column layout of the cosmic table.
    pub cosmic_layout: CosmicLayout,
    /// Nominal `CalEnergyCalib` table (roid, adc2mev) used for fallbacks.
    pub nominal: Option<PathBuf>,
    /// Output directory (required; created if missing).
    pub output: Option<PathBuf>,
    /// The combination settings, the compat switch included.
    pub combine: CombineConfig,
}

/// What [`run_combine`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct CombineSummary {
    /// Rows of the reconstruction table.
    pub n_rows: usize,
    /// Rows per status, as [`status_counts`].
    pub status_counts: [(i32, usize); 5],
    /// Files written (without the manifests).
    pub outputs: Vec<PathBuf>,
}

/// Reads the tables of `job`, combines them ([`combine`]) and writes `CalEnergyCalib.txt` and
/// `CalCombinedEnergyCalib.txt` ([`write_reco_tables`]) into [`CombineJob::output`].
///
/// # Errors
/// [`Error::InvalidArgument`] without output or without both `source` and `cosmic`;
/// [`hep_core::Error::Parse`] for malformed tables; as [`combine`]; [`Error::Core`] for I/O failures.
pub fn run_combine(job: &CombineJob) -> Result<CombineSummary> {
    let out = required(&job.output, "output", "output directory")?;
    if job.source.is_none() && job.cosmic.is_none() {
        return Err(Error::InvalidArgument(
            "give at least one of --source and --cosmic (`source`, `cosmic`)".into(),
        ));
    }
    let source = job
        .source
        .as_deref()
        .map(|p| read_source_table(p, RowCheck::AllowGaps))
        .transpose()?;
    let cosmic = job
        .cosmic
        .as_deref()
        .map(|p| read_cosmic_table(p, job.cosmic_layout, RowCheck::AllowGaps))
        .transpose()?;
    let nominal = job
        .nominal
        .as_deref()
        .map(|p| read_nominal_table(p, RowCheck::AllowGaps))
        .transpose()?;
    tracing::info!(
        source = source.as_ref().map_or(0, Vec::len),
        cosmic = cosmic.as_ref().map_or(0, Vec::len),
        nominal = nominal.as_ref().map_or(0, Vec::len),
        "combining {} source, {} cosmic and {} nominal rows",
        source.as_ref().map_or(0, Vec::len),
        cosmic.as_ref().map_or(0, Vec::len),
        nominal.as_ref().map_or(0, Vec::len)
    );
    let t0 = Instant::now();
    let rows = combine(
        source.as_deref(),
        cosmic.as_deref(),
        nominal.as_deref(),
        &job.combine,
    )?;
    create_dir(out)?;
    let reco = out.join("CalEnergyCalib.txt");
    let combined = out.join("CalCombinedEnergyCalib.txt");
    write_reco_tables(&reco, &combined, &rows)?;
    let recorded = CombineJob {
        source: lossy(&job.source),
        cosmic: lossy(&job.cosmic),
        nominal: lossy(&job.nominal),
        output: lossy(&job.output),
        ..job.clone()
    };
    let mut m = manifest("combine", &recorded)?;
    for p in [&job.source, &job.cosmic, &job.nominal]
        .into_iter()
        .flatten()
    {
        m.add_input(p)?;
    }
    let outputs = vec![reco, combined];
    finish(m, &outputs)?;
    let counts = status_counts(&rows);
    tracing::info!(
        rows = rows.len(),
        seconds = t0.elapsed().as_secs_f64(),
        "combined {} channels in {:.3} s",
        rows.len(),
        t0.elapsed().as_secs_f64()
    );
    Ok(CombineSummary {
        n_rows: rows.len(),
        status_counts: counts,
        outputs,
    })
}

// ---------------------------------------------------------------------------------------------
// plot
// ---------------------------------------------------------------------------------------------

/// `calo-calib plot`: SourcePlotter's summary plots, the per-disk maps and per-channel canvases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlotJob {
    /// `source_fits.parquet` (or `.csv`) written by `fit` (required).
    pub fits: Option<PathBuf>,
    /// The spectra the fits were made from (needed for `channels` and `failed`).
    pub input: Option<PathBuf>,
    /// Output directory (required; created if missing).
    pub output: Option<PathBuf>,
    /// Ids are crystals (0..=1347), not SiPMs.
    pub per_crystal: bool,
    /// Crystal positions in the `crystalPos.txt` format for the per-disk maps; `None` uses the
    /// positions shipped with the crate ([`CrystalPositions::shipped`]).
    pub crystal_positions: Option<PathBuf>,
    /// Channels to draw with their fitted model.
    pub channels: Vec<u32>,
    /// Also draw every failed fit.
    pub failed: bool,
    /// Nominal gain (ADC/MeV) the fits used: sets the fit window drawn (default 16).
    pub nominal_gain: f64,
    /// Image formats (default PNG and SVG).
    pub formats: Vec<ImageFormat>,
}

impl Default for PlotJob {
    fn default() -> Self {
        Self {
            fits: None,
            input: None,
            output: None,
            per_crystal: false,
            crystal_positions: None,
            channels: Vec::new(),
            failed: false,
            nominal_gain: 16.0,
            formats: vec![ImageFormat::Png, ImageFormat::Svg],
        }
    }
}

/// Draws the plots of `job` into [`PlotJob::output`]: [`plot_summary`] (with the per-disk maps
/// on [`PlotJob::crystal_positions`] or the shipped positions), [`plot_pairs_and_composite`] on
/// the window of [`FitConfig::for_gain`]`(nominal_gain)`, and, with `channels` or `failed`,
/// [`plot_channels`]. Returns the files written (without the manifests).
///
/// # Errors
/// [`Error::InvalidArgument`] without fits or output, with `channels`/`failed` but no `input`,
/// or for a channel without a spectrum or fit; [`hep_core::Error::Parse`] for malformed inputs;
/// [`Error::Core`] for drawing and I/O failures.
pub fn run_plot(job: &PlotJob) -> Result<Vec<PathBuf>> {
    let fits_path = required(&job.fits, "fits", "fit results")?;
    let out = required(&job.output, "output", "output directory")?;
    let need_spectra = !job.channels.is_empty() || job.failed;
    if need_spectra && job.input.is_none() {
        return Err(Error::InvalidArgument(
            "--channels and --failed need the spectra (--input)".into(),
        ));
    }
    let t0 = Instant::now();
    let formats: Vec<Format> = job.formats.iter().map(|&f| f.into()).collect();
    let fits = read_source_fits(fits_path)?;
    tracing::info!(
        fits = fits.len(),
        channels = job.channels.len(),
        "plot: {} fit records from {}",
        fits.len(),
        fits_path.display()
    );
    let positions = match &job.crystal_positions {
        Some(p) => CrystalPositions::read(p)?,
        None => CrystalPositions::shipped()?,
    };
    let mode = IdMode::from_per_crystal(job.per_crystal);
    create_dir(out)?;
    let mut outputs = plot_summary(out, &fits, Some(&positions), mode, &formats)?;
    let cfg = FitConfig::for_gain(job.nominal_gain);
    outputs.extend(plot_pairs_and_composite(
        out,
        &fits,
        mode,
        cfg.model_range(),
        &formats,
    )?);
    let recorded = PlotJob {
        fits: lossy(&job.fits),
        input: lossy(&job.input),
        output: lossy(&job.output),
        crystal_positions: lossy(&job.crystal_positions),
        ..job.clone()
    };
    let mut m = manifest("plot", &recorded)?;
    m.add_input(fits_path)?;
    if let (true, Some(input)) = (need_spectra, job.input.as_deref()) {
        let set = read_spectra(input, mode)?;
        outputs.extend(plot_channels(
            out,
            &set,
            &fits,
            &job.channels,
            job.failed,
            &cfg,
            &formats,
        )?);
        m.add_input(input)?;
    }
    if let Some(p) = &job.crystal_positions {
        m.add_input(p)?;
    }
    finish(m, &outputs)?;
    tracing::info!(
        plots = outputs.len(),
        seconds = t0.elapsed().as_secs_f64(),
        "plot: wrote {} plots into {} in {:.2} s",
        outputs.len(),
        out.display(),
        t0.elapsed().as_secs_f64()
    );
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_fit_job_is_the_default_fit() {
        let job = FitJob::default();
        assert_eq!(job.fit, FitConfig::default());
        let mut j = job.clone();
        j.apply_presets();
        assert_eq!(j, job);
    }

    #[test]
    fn presets_scale_the_window_and_keep_the_rest() {
        let mut job = FitJob {
            nominal_gain: 32.0,
            ..FitJob::default()
        };
        job.fit.min_events = 7.0;
        job.apply_presets();
        assert_eq!(job.fit.range_adc, (80.0, 230.4));
        assert_eq!(job.fit.peak_limits_adc, (182.0, 216.0));
        assert_eq!(job.fit.starts_adc, vec![186.0, 198.0, 210.0]);
        assert_eq!(job.fit.min_events, 7.0);
        job.compat = true;
        job.fit.method = crate::fit::Method::Chi2;
        job.apply_presets();
        assert_eq!(job.fit.starts_adc, vec![196.16]);
        assert_eq!(job.fit.alpha_starts, vec![1.5]);
        assert_eq!(job.fit.fit_bins_adc, Some((80.0, 240.0)));
        assert_eq!(job.fit.bin_evaluation, crate::model::BinEvaluation::Centre);
    }

    #[test]
    fn progress_counts_every_simulated_and_fitted_channel() {
        use hep_core::progress::CountingProgress;
        let sim = SimConfig {
            events_per_crystal: 4000.0,
            ..SimConfig::default()
        };
        let p = CountingProgress::default();
        let ids = [3, 0, 7, 1164, 5];
        let (set, _) = simulate_detector_with_progress(&sim, &ids, IdMode::PerSipm, &p).unwrap();
        assert_eq!((p.total(), p.done()), (5, 5));
        let (plain, _) = crate::simulate::simulate_detector(&sim, &ids, IdMode::PerSipm).unwrap();
        assert_eq!(set, plain, "reports never change the spectra");
        let cfg = FitConfig {
            peak_interval: false,
            ..FitConfig::default()
        };
        let sel = Selection {
            last: Some(1200),
            ..Selection::default()
        };
        let p = CountingProgress::default();
        let fits = fit_detector_shard_with_progress(&set, &cfg, &sel, Shard::whole(), &p).unwrap();
        // Ids 0, 3, 5, 7 and the LYSO SiPM 1164 (not fitted, still one unit).
        assert_eq!((p.total(), p.done()), (5, 5));
        assert_eq!(fits.len(), 5);
        assert_eq!(
            fits.iter().map(|f| f.roid).collect::<Vec<_>>(),
            [0, 3, 5, 7, 1164]
        );
        let plain = crate::detector::fit_detector(&set, &cfg, &sel).unwrap();
        // NaN fields (no profile interval, the LYSO channel) compare by bits.
        let bits = |f: &[ChannelFit]| -> Vec<Vec<u64>> {
            f.iter()
                .map(|c| c.params().iter().map(|v| v.to_bits()).collect())
                .collect()
        };
        assert_eq!(bits(&fits), bits(&plain));
    }

    #[test]
    fn jobs_without_paths_are_errors_naming_the_key() {
        let e = run_fit(&FitJob::default(), None, &hep_core::progress::NoProgress)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`input`"), "{e}");
        let e = run_plot(&PlotJob::default()).unwrap_err().to_string();
        assert!(e.contains("`fits`"), "{e}");
        let e = run_combine(&CombineJob {
            output: Some("x".into()),
            ..CombineJob::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("--source"), "{e}");
    }
}
