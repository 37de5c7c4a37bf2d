//! `fax-sim`: XENON1T fax waveform simulation (instructions to zero-length-encoded PMT pulses).
//!
//! Every subcommand parses its options into the library's configuration and calls one library
//! function; see the `fax_sim` crate and `docs/fax-sim.md`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use fax_sim::config::{self, Compat, Preset, SimConfig};
use fax_sim::fake::{Correlated, FakeCompat, FakeConfig, FiducialVolume, FromMinitreeConfig};
use fax_sim::instructions::RecoilType;
use fax_sim::plots::{PlotConfig, PlotWindow};
use hep_cli_support::{Bar, ConfigArgs, ShardArgs, init_logging, load_config, print_config};
use serde::Serialize;

#[derive(Parser)]
#[command(
    name = "fax-sim",
    version,
    about = "XENON1T fax: simulate the TPC's PMT pulses from photon and electron instructions"
)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

/// Options shared by `simulate` and `submit` that override the configuration.
#[derive(clap::Args, Debug, Clone, Default)]
struct SimArgs {
    /// Preset of the defaults: x1t_sr1 (pax HEAD + SR1 parameters, default) or x1t_2017_prod
    /// (the October 2017 fax production).
    #[arg(long, value_name = "NAME")]
    preset: Option<PresetArg>,
    /// Master seed (default 0); event i draws from stream (seed, i).
    #[arg(long)]
    seed: Option<u64>,
    /// Reproduce pax where it is wrong: `all` or a comma list of adc-truncation,
    /// template-delay, dpe-light-yield, s2-uniform-pattern, afterpulse-none.
    #[arg(long, value_name = "LIST")]
    compat: Option<String>,
    /// Evaluate maps by IDW (pax, default) or on a precomputed grid (faster).
    #[arg(long)]
    map_interpolation: Option<MapInterpolationArg>,
}

impl SimArgs {
    fn overrides(&self) -> Result<toml::Table> {
        let mut t = toml::Table::new();
        if let Some(p) = self.preset {
            t.insert("preset".into(), toml::Value::try_from(Preset::from(p))?);
        }
        if let Some(s) = self.seed {
            t.insert(
                "seed".into(),
                toml::Value::Integer(i64::try_from(s).context("--seed must be below 2^63")?),
            );
        }
        if let Some(c) = &self.compat {
            let c = Compat::parse(c)?;
            t.insert("compat".into(), toml::Value::try_from(c)?);
        }
        if let Some(m) = self.map_interpolation {
            t.insert(
                "map_interpolation".into(),
                toml::Value::try_from(config::MapInterpolation::from(m))?,
            );
        }
        Ok(t)
    }

    fn load(&self, cfg: &ConfigArgs) -> Result<SimConfig> {
        let files: Vec<&Path> = cfg.config.iter().map(PathBuf::as_path).collect();
        Ok(config::load(&files, self.overrides()?)?)
    }
}

/// `--preset`.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
enum PresetArg {
    /// pax HEAD + SR1 parameters (default).
    #[value(name = "x1t_sr1")]
    X1tSr1,
    /// The October 2017 fax production.
    #[value(name = "x1t_2017_prod")]
    X1t2017Prod,
}

impl From<PresetArg> for Preset {
    fn from(p: PresetArg) -> Self {
        match p {
            PresetArg::X1tSr1 => Preset::X1tSr1,
            PresetArg::X1t2017Prod => Preset::X1t2017Prod,
        }
    }
}

/// `--map-interpolation`.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
enum MapInterpolationArg {
    /// pax's inverse-distance weighting (default).
    Idw,
    /// A precomputed regular grid (faster).
    Grid,
}

impl From<MapInterpolationArg> for config::MapInterpolation {
    fn from(m: MapInterpolationArg) -> Self {
        match m {
            MapInterpolationArg::Idw => config::MapInterpolation::Idw,
            MapInterpolationArg::Grid => config::MapInterpolation::Grid,
        }
    }
}

/// `--pax-version`.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
enum PaxVersionArg {
    /// pax v6.10 (default).
    #[value(name = "v6.10", alias = "6.10")]
    V6_10,
    /// pax v6.8.
    #[value(name = "v6.8", alias = "6.8")]
    V6_8,
}

/// `yields --format`.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
enum YieldsFormatArg {
    /// One JSON object (default).
    Json,
    /// A CSV header and one row.
    Csv,
}

#[derive(Subcommand)]
enum Command {
    /// NEST v2 mean quanta of one energy deposit in liquid xenon (photon_yield and
    /// electron_yield are mean numbers of quanta of the deposit).
    Yields {
        /// beta, gamma_ray (gamma), er_weighted, nr or kr83m (9.4, 32.1 or 41.5 keV); required.
        #[arg(long, value_name = "KIND")]
        interaction: Option<String>,
        /// Deposited energy (keV, > 0); required.
        #[arg(long, value_name = "KEV", allow_negative_numbers = true)]
        energy_kev: Option<f64>,
        /// Drift field (V/cm, > 0); required.
        #[arg(long, value_name = "V_PER_CM", allow_negative_numbers = true)]
        field_v_per_cm: Option<f64>,
        /// Liquid-xenon density (g/cm^3; default 2.862).
        #[arg(long, value_name = "G_PER_CM3", allow_negative_numbers = true)]
        density: Option<f64>,
        /// Output format: json (one object, default) or csv (header and one row).
        #[arg(long)]
        format: Option<YieldsFormatArg>,
        #[command(flatten)]
        cfg: ConfigArgs,
    },
    /// Simulate an instruction file (pax CSV, or .parquet) into ZLE pulses and truth tables.
    Simulate {
        /// Instruction file: pax CSV (instruction,recoil_type,x,y,depth,s1_photons,s2_electrons,t;
        /// cm, ns) or the Parquet form.
        #[arg(long, short)]
        input: PathBuf,
        /// Output directory (pulses.parquet, truth_peaks.parquet, fax_truth.csv,
        /// truth_channels.parquet, events.parquet, manifests).
        #[arg(long, short)]
        output: PathBuf,
        /// Worker threads (default: all cores). Results do not depend on it.
        #[arg(long)]
        threads: Option<usize>,
        #[command(flatten)]
        sim: SimArgs,
        #[command(flatten)]
        shard: ShardArgs,
        #[command(flatten)]
        cfg: ConfigArgs,
    },
    /// Process simulate output as pax did (hits, peaks, classification, interactions) and build
    /// the hax minitrees (Fundamentals, Basics, LargestPeakProperties, Corrections).
    Process {
        /// simulate output directory (events.parquet, pulses.parquet).
        #[arg(long, short)]
        input: PathBuf,
        /// Output directory (peaks.parquet, interactions.parquet, <minitree>.parquet and .csv,
        /// manifests).
        #[arg(long, short)]
        output: PathBuf,
        /// pax release of the clustering gaps and classifier: v6.10 (default) or v6.8.
        #[arg(long)]
        pax_version: Option<PaxVersionArg>,
        /// Worker threads (default: all cores). Results do not depend on it.
        #[arg(long)]
        threads: Option<usize>,
        #[command(flatten)]
        cfg: ConfigArgs,
    },
    /// Join the complete shards of a sharded simulate into the files of a single run.
    Merge(hep_cli_support::MergeCommand),
    /// Write Slurm array scripts that simulate in N shards and merge; --submit runs sbatch.
    ///
    /// The configuration is simulate's plus `input`, `output` and a [slurm] table; the tasks
    /// read the resolved simulation configuration from <output>/slurm/simulate.toml.
    Submit {
        /// Instruction file (required here or as `input` in the configuration).
        #[arg(long, short)]
        input: Option<PathBuf>,
        /// Output directory (scripts go to <output>/slurm/; required here or as `output`).
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[command(flatten)]
        slurm: hep_cli_support::SubmitArgs,
        #[command(flatten)]
        sim: SimArgs,
        #[command(flatten)]
        cfg: ConfigArgs,
    },
    /// Fax productions: production ids through create-fake, simulate, process and match, resumable.
    Production {
        #[command(subcommand)]
        command: ProductionCommand,
    },
    /// Create fake instructions as the fax production's CreateFake did (pax CSV, or .parquet).
    CreateFake {
        /// Output instruction file (.csv or .parquet).
        #[arg(long, short)]
        output: PathBuf,
        /// Events (default 100).
        #[arg(long)]
        events: Option<u64>,
        /// Seed (default 0).
        #[arg(long)]
        seed: Option<u64>,
        /// Row layout: true (S1 and S2 in one row, default), false (two rows), s1, s2.
        #[arg(long)]
        correlated: Option<String>,
        /// S1 photons drawn from the integers in [LOW, HIGH) (default 50,100).
        #[arg(long, value_name = "LOW,HIGH")]
        photons: Option<String>,
        /// S2 electrons drawn from the integers in [LOW, HIGH) (default 10,100).
        #[arg(long, value_name = "LOW,HIGH")]
        electrons: Option<String>,
        /// Recoil type written to the rows: ER (default), NR, alpha, LED.
        #[arg(long)]
        recoil_type: Option<String>,
        /// Fiducial volume: xenon1t_2018 (depth 5-100 cm, r < 40 cm; default), xenon1t_2017
        /// (9-92.9 cm, r < 36.94 cm), r2_of_z_2016.
        #[arg(long)]
        fv: Option<String>,
        /// Reproduce the original: `all` or fv-unclipped, s2-time-offset.
        #[arg(long, value_name = "LIST")]
        compat: Option<String>,
        /// Energy front end: draw each event's energy from `flat:MIN_KEV,MAX_KEV` or a listed
        /// spectrum FILE.csv (`energy_kev,weight`) and its S1 photons and S2 electrons from NEST
        /// v2 (needs --interaction and --field-v-per-cm, or an [energy] table in --config).
        #[arg(long, value_name = "flat:MIN,MAX|FILE.csv")]
        energy_spectrum: Option<String>,
        /// NEST model of the energy front end: beta, gamma, er (NEST's weighted ER), nr.
        #[arg(long, value_name = "KIND")]
        interaction: Option<String>,
        /// Drift field of the energy front end (V/cm, uniform).
        #[arg(long, value_name = "V_PER_CM")]
        field_v_per_cm: Option<f64>,
        /// Drift-field map of the energy front end (pax map JSON, V/cm; 1-D z, 2-D r,z or 3-D
        /// x,y,z in cm, z negative below the gate), evaluated at each event's position.
        #[arg(long, value_name = "MAP.json")]
        field_map: Option<String>,
        /// Liquid-xenon density of the energy front end (g/cm^3; default 2.862).
        #[arg(long, value_name = "G_PER_CM3")]
        density: Option<f64>,
        #[command(flatten)]
        cfg: ConfigArgs,
    },
    /// Instructions from energy deposits (CSV or Parquet: event, x, y, z, t, edep_keV,
    /// interaction; cm, ns, keV), clustered per event as epix and given NEST v2 quanta.
    FromDeposits {
        /// Deposit table (.csv or .parquet); z negative below the gate (depth = -z).
        #[arg(long, short)]
        input: PathBuf,
        /// Output instruction file (.csv or .parquet).
        #[arg(long, short)]
        output: PathBuf,
        /// Seed (default 0); event e draws from stream (seed, e).
        #[arg(long)]
        seed: Option<u64>,
        /// Drift field (V/cm, uniform; default 120).
        #[arg(long, value_name = "V_PER_CM")]
        field_v_per_cm: Option<f64>,
        /// Liquid-xenon density (g/cm^3; default 2.862).
        #[arg(long, value_name = "G_PER_CM3")]
        density: Option<f64>,
        /// Deposits closer than this merge (cm; default 0.005, epix's).
        #[arg(long, value_name = "CM")]
        micro_separation_cm: Option<f64>,
        /// Time gap that separates deposits (ns; default 10, epix's).
        #[arg(long, value_name = "NS")]
        micro_separation_time_ns: Option<f64>,
        #[command(flatten)]
        cfg: ConfigArgs,
    },
    /// Instructions from a minitree table (CSV or Parquet with event_number, x, y, z, cs1, cs2).
    FromMinitree {
        /// Minitree table (.csv or .parquet).
        #[arg(long, short)]
        input: PathBuf,
        /// Output instruction file (.csv or .parquet).
        #[arg(long, short)]
        output: PathBuf,
        /// pe per emitted S1 photon (default 0.12).
        #[arg(long)]
        g1: Option<f64>,
        /// pe per extracted electron (default 23).
        #[arg(long)]
        g2: Option<f64>,
        /// Divide cs1 also by 1 + p_dpe (for pax-like simulations).
        #[arg(long)]
        undo_dpe: bool,
        /// Use s2 and drift_time (ns) and undo this electron lifetime (us) instead of cs2.
        #[arg(long, value_name = "US")]
        undo_lifetime_us: Option<f64>,
        #[command(flatten)]
        cfg: ConfigArgs,
    },
    /// Match the simulation truth to the reconstruction: peak by peak (default) or as the fax
    /// production's SortTruth + MergeTruth (--compat).
    Match {
        /// simulate output directory (truth_peaks.parquet).
        #[arg(long)]
        simulated: PathBuf,
        /// process output directory (peaks.parquet, Fundamentals.parquet, Basics.parquet).
        #[arg(long)]
        processed: PathBuf,
        /// Output directory (matched_peaks, merged; with --compat truth_sorted and merged; each
        /// .parquet and .csv, manifests).
        #[arg(long, short)]
        output: PathBuf,
        /// Reproduce SortTruth + MergeTruth (event-number join, duplicated rows).
        #[arg(long)]
        compat: bool,
        #[command(flatten)]
        cfg: ConfigArgs,
    },
    /// Standard check plots (PNG + CSV each): cs1_cs2, s2_width_drift_time, and with --matched
    /// position_observed_true and efficiency.
    Plot {
        /// process output directory (Corrections.parquet, Basics.parquet).
        #[arg(long)]
        processed: PathBuf,
        /// match output directory (matched_peaks.parquet).
        #[arg(long)]
        matched: Option<PathBuf>,
        /// Output directory.
        #[arg(long, short)]
        output: PathBuf,
        #[command(flatten)]
        cfg: ConfigArgs,
    },
    /// NEST v2 light and charge yields per keV against energy (beta and NR at 100, 500 and
    /// 1000 V/cm; PNG + CSV each).
    PlotYields {
        /// Output directory.
        #[arg(long, short)]
        output: PathBuf,
        #[command(flatten)]
        cfg: ConfigArgs,
    },
    /// The S1-S2 band: an ER (flat 0-20 keV) and an NR (flat 0-60 keV) fake production through
    /// simulate and process, log10(cS2/cS1) against cS1 (band.png + band.csv).
    PlotBand {
        /// Output directory (er/, nr/ productions, band.png, band.csv).
        #[arg(long, short)]
        output: PathBuf,
        /// Events per sample (default 2000).
        #[arg(long)]
        events: Option<u64>,
        #[command(flatten)]
        cfg: ConfigArgs,
    },
    /// Draw the summed top/bottom waveform of one event with its truth peaks (PNG or SVG + CSV).
    PlotEvent {
        /// simulate output directory.
        #[arg(long, short)]
        input: PathBuf,
        /// Event number (default 0).
        #[arg(long, short)]
        event: Option<u64>,
        /// Image file (.png or .svg); a .csv of the points is written beside it.
        #[arg(long, short)]
        output: PathBuf,
        /// Time window: auto (around the largest truth peak, default), full, or START_US,END_US.
        #[arg(long)]
        window: Option<String>,
        #[command(flatten)]
        cfg: ConfigArgs,
    },
    /// Draw the channel-time map of one event's pulses (PNG or SVG + CSV).
    PlotChannels {
        /// simulate output directory.
        #[arg(long, short)]
        input: PathBuf,
        /// Event number (default 0).
        #[arg(long, short)]
        event: Option<u64>,
        /// Image file (.png or .svg); a .csv of the non-empty cells is written beside it.
        #[arg(long, short)]
        output: PathBuf,
        /// Time window: auto (default), full, or START_US,END_US.
        #[arg(long)]
        window: Option<String>,
        #[command(flatten)]
        cfg: ConfigArgs,
    },
}

/// Options naming a production: its configuration file and output directory.
#[derive(clap::Args, Debug, Clone)]
struct ProductionArgs {
    /// Production configuration (TOML: name, number_job, seed, [fake], [simulate], [process],
    /// [match], [[sweep]]); default: 20 ids of 100 events named Fax_Test.
    #[arg(long, value_name = "FILE.toml")]
    config: Option<PathBuf>,
    /// Production directory (production.toml, {name}/csv, raw, processed, ...).
    #[arg(long, short)]
    output: PathBuf,
    /// Print the resolved production (and for `submit` its [slurm] table) as TOML, which
    /// --config reads back, and exit.
    #[arg(long)]
    print_config: bool,
}

impl ProductionArgs {
    /// The production and the [slurm] table of its file (used by `submit`, ignored otherwise).
    fn load(&self) -> Result<(fax_sim::production::Production, toml::Table)> {
        let Some(path) = &self.config else {
            return Ok((
                fax_sim::production::Production::load(None)?,
                toml::Table::new(),
            ));
        };
        let text = hep_core::io::read_text(path)
            .with_context(|| format!("{}: cannot read the configuration", path.display()))?;
        let mut table: toml::Table = text
            .parse()
            .with_context(|| format!("{}: not a valid TOML configuration", path.display()))?;
        let slurm = match table.remove("slurm") {
            None => toml::Table::new(),
            Some(toml::Value::Table(t)) => t,
            Some(_) => bail!("{}: [slurm] must be a table", path.display()),
        };
        let rest = toml::to_string(&table).context("the production configuration as TOML")?;
        let production =
            fax_sim::production::Production::from_toml(&rest, &path.display().to_string())?;
        Ok((production, slurm))
    }

    /// Prints the production snapshot if --print-config was given; true if it did.
    fn printed(&self, production: &fax_sim::production::Production) -> Result<bool> {
        if self.print_config {
            print!("{}", production.snapshot()?);
        }
        Ok(self.print_config)
    }
}

#[derive(Subcommand)]
enum ProductionCommand {
    /// Run every production id (or those of --shard I/N) through the stages it has not
    /// completed; the whole production is merged at the end.
    Run {
        #[command(flatten)]
        prod: ProductionArgs,
        /// Worker threads (default: all cores). Results do not depend on it.
        #[arg(long)]
        threads: Option<usize>,
        #[command(flatten)]
        shard: ShardArgs,
    },
    /// Concatenate the tables of all (complete) production ids into OUTPUT/{name}/*.parquet.
    Merge {
        #[command(flatten)]
        prod: ProductionArgs,
    },
    /// List complete, failed and missing production ids.
    Status {
        #[command(flatten)]
        prod: ProductionArgs,
    },
    /// Write a Slurm array job over the production ids (--shards tasks) and its merge job;
    /// --submit runs sbatch.
    Submit {
        #[command(flatten)]
        prod: ProductionArgs,
        #[command(flatten)]
        slurm: hep_cli_support::SubmitArgs,
    },
}

fn production(command: ProductionCommand) -> Result<()> {
    use fax_sim::production as p;
    match command {
        ProductionCommand::Run {
            prod,
            threads,
            shard,
        } => {
            let (production, _) = prod.load()?;
            if prod.printed(&production)? {
                return Ok(());
            }
            let bar = Bar::new();
            let s = fax_sim::output::with_threads(threads, || {
                p::run_production(&production, &prod.output, shard.shard, &bar)
            })??;
            println!(
                "{} production ids: {} run, {} complete already, {} failed",
                s.n_ids,
                s.n_completed,
                s.n_skipped,
                s.failed.len()
            );
            for e in &s.failed {
                eprintln!(
                    "{} failed in {} ({}): {}",
                    e.production_id,
                    e.stage.name(),
                    e.error_type,
                    e.error_message
                );
            }
            for f in &s.merged {
                println!("wrote {}", f.display());
            }
            if !s.failed.is_empty() {
                bail!(
                    "{} production ids failed (errors/<id>.json); run again to retry them",
                    s.failed.len()
                );
            }
        }
        ProductionCommand::Merge { prod } => {
            let (production, _) = prod.load()?;
            if prod.printed(&production)? {
                return Ok(());
            }
            for f in p::merge_production(&production, &prod.output, &Bar::new())? {
                println!("wrote {}", f.display());
            }
        }
        ProductionCommand::Status { prod } => {
            let (production, _) = prod.load()?;
            if prod.printed(&production)? {
                return Ok(());
            }
            let s = p::status(&production, &prod.output)?;
            println!(
                "{} complete, {} failed, {} missing",
                s.complete.len(),
                s.failed.len(),
                s.missing.len()
            );
            for id in &s.failed {
                println!("failed {id}");
            }
            for id in &s.missing {
                println!("missing {id}");
            }
        }
        ProductionCommand::Submit { prod, slurm } => {
            let (production, file_slurm) = prod.load()?;
            let slurm = slurm_options(file_slurm, &slurm)?;
            if prod.print_config {
                let mut all: toml::Table = production.snapshot()?.parse()?;
                all.insert("slurm".into(), toml::Value::try_from(&slurm)?);
                return print_config(&all);
            }
            slurm.check()?;
            let n = production.ids().len();
            if slurm.shards > n {
                bail!("--shards {}: the production has only {n} ids", slurm.shards);
            }
            // The tasks read the resolved production from a copy beside the scripts, so that
            // they do not depend on where (or whether) the configuration file lives.
            let copy = write_job_config(&prod.output, "production.toml", &production.snapshot()?)?;
            let exe = hep_cli_support::current_program()?;
            let out = absolute(&prod.output)?;
            let common = vec!["--output".to_string(), out, "--config".into(), copy];
            let mut task = vec![exe.clone(), "production".into(), "run".into()];
            task.extend(common.iter().cloned());
            let mut merge = vec![exe, "production".into(), "merge".into()];
            merge.extend(common);
            hep_cli_support::submit(&slurm, p::JOB, &prod.output, task, merge)?;
        }
    }
    Ok(())
}

#[derive(Serialize, Default)]
struct FakeOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    number_event_per_job: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    photon_number_low: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    photon_number_high: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    electron_number_low: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    electron_number_high: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    correlated: Option<Correlated>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recoil_type: Option<RecoilType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fv: Option<FiducialVolume>,
    #[serde(skip_serializing_if = "Option::is_none")]
    compat: Option<FakeCompat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    energy: Option<toml::Table>,
}

/// The `[energy]` keys given on the command line (`None` when none is).
fn energy_overrides(
    spectrum: Option<&str>,
    interaction: Option<&str>,
    field_v_per_cm: Option<f64>,
    field_map: Option<&str>,
    density: Option<f64>,
) -> Result<Option<toml::Table>> {
    let mut t = toml::Table::new();
    if let Some(m) = field_map {
        t.insert("field_map".into(), toml::Value::String(m.to_string()));
    }
    if let Some(s) = spectrum {
        let s: fax_sim::deposits::EnergySpectrum = s.parse()?;
        t.insert("spectrum".into(), toml::Value::try_from(s)?);
    }
    if let Some(i) = interaction {
        let i: fax_sim::yields::Interaction = i.parse()?;
        t.insert("interaction".into(), toml::Value::try_from(i)?);
    }
    if let Some(f) = field_v_per_cm {
        t.insert("field_v_per_cm".into(), toml::Value::Float(f));
    }
    if let Some(d) = density {
        t.insert("density_g_per_cm3".into(), toml::Value::Float(d));
    }
    Ok((!t.is_empty()).then_some(t))
}

#[derive(Serialize, Default)]
struct DepositOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    field_v_per_cm: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    density_g_per_cm3: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    micro_separation_cm: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    micro_separation_time_ns: Option<f64>,
}

#[derive(Serialize, Default)]
struct ProcessOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pax_version: Option<fax_sim::process::PaxVersion>,
}

#[derive(Serialize, Default)]
struct MatchOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    compat: Option<bool>,
}

#[derive(Serialize, Default)]
struct MinitreeOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    g1_pe_per_photon: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    g2_pe_per_electron: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    undo_dpe: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    undo_lifetime_us: Option<f64>,
}

fn range_pair(s: &str, what: &str) -> Result<(u64, u64)> {
    let (a, b) = s
        .split_once(',')
        .with_context(|| format!("{what}: expected LOW,HIGH, found `{s}`"))?;
    Ok((
        a.trim()
            .parse()
            .with_context(|| format!("{what}: LOW `{a}`"))?,
        b.trim()
            .parse()
            .with_context(|| format!("{what}: HIGH `{b}`"))?,
    ))
}

fn write_instructions(path: &Path, rows: &[fax_sim::instructions::Instruction]) -> Result<()> {
    // `-o some/dir/fake.csv` creates the directory, as every other output option does.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
    {
        fax_sim::instructions::write_parquet(path, rows)?;
    } else {
        fax_sim::instructions::write_csv(path, rows)?;
    }
    Ok(())
}

/// The [slurm] options: those of the configuration file, overridden by the command line.
fn slurm_options(
    file: toml::Table,
    args: &hep_cli_support::SubmitArgs,
) -> Result<hep_cli_support::SlurmOptions> {
    let mut o = hep_cli_support::Overrides::default();
    args.overrides(&mut o)?;
    let mut t = toml::Table::new();
    t.insert("slurm".into(), toml::Value::Table(file));
    hep_cli_support::merge(&mut t, o.0);
    Ok(t.remove("slurm")
        .map(toml::Value::try_into)
        .transpose()
        .context("invalid [slurm] options")?
        .unwrap_or_default())
}

/// `path` made absolute, as a string for a command line.
fn absolute(path: &Path) -> Result<String> {
    Ok(std::path::absolute(path)
        .with_context(|| format!("{}", path.display()))?
        .to_string_lossy()
        .into_owned())
}

/// Writes a job's resolved configuration to `<out>/slurm/<name>` (atomically) and returns its
/// absolute path.
fn write_job_config(out: &Path, name: &str, text: &str) -> Result<String> {
    let dir = out.join("slurm");
    std::fs::create_dir_all(&dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let path = dir.join(name);
    hep_core::files::atomic_write_bytes(&path, text.as_bytes())?;
    absolute(&path)
}

/// The configuration of `plot-event` and `plot-channels`; `None` after --print-config.
fn plot_config(
    event: Option<u64>,
    window: Option<&str>,
    cfg: &ConfigArgs,
) -> Result<Option<PlotConfig>> {
    let mut o = hep_cli_support::Overrides::default();
    o.set(
        "event",
        event
            .map(i64::try_from)
            .transpose()
            .context("--event must be below 2^63")?,
    )?;
    o.set("window", window.map(PlotWindow::parse).transpose()?)?;
    let config: PlotConfig = load_config(cfg.config.as_deref(), &o)?;
    if cfg.print_config {
        print_config(&config)?;
        return Ok(None);
    }
    Ok(Some(config))
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match cli.command {
        Command::Yields {
            interaction,
            energy_kev,
            field_v_per_cm,
            density,
            format,
            cfg,
        } => {
            use fax_sim::yields::{Interaction, YieldsConfig, YieldsFormat};
            let mut o = hep_cli_support::Overrides::default();
            o.set(
                "interaction",
                interaction.map(|i| i.parse::<Interaction>()).transpose()?,
            )?;
            o.set("energy_kev", energy_kev)?;
            o.set("field_v_per_cm", field_v_per_cm)?;
            o.set("density_g_per_cm3", density)?;
            let format = format.map(|f| match f {
                YieldsFormatArg::Json => YieldsFormat::Json,
                YieldsFormatArg::Csv => YieldsFormat::Csv,
            });
            o.set("format", format)?;
            let config: YieldsConfig = load_config(cfg.config.as_deref(), &o)?;
            if cfg.print_config {
                return print_config(&config);
            }
            print!(
                "{}",
                fax_sim::yields::yields(&config)?.render(config.format)?
            );
        }
        Command::Simulate {
            input,
            output,
            threads,
            sim,
            shard,
            cfg,
        } => {
            let config = sim.load(&cfg)?;
            if cfg.print_config {
                return print_config(&config);
            }
            let bar = Bar::new();
            let s = fax_sim::output::with_threads(threads, || {
                fax_sim::output::run_simulate(&config, &input, &output, shard.shard, &bar)
            })??;
            println!(
                "{} events, {} pulses, {} truth peaks, {} photons detected, {} electrons extracted",
                s.n_events, s.n_pulses, s.n_peaks, s.n_photons, s.n_electrons
            );
            for f in &s.outputs {
                println!("wrote {}", f.display());
            }
        }
        Command::Process {
            input,
            output,
            pax_version,
            threads,
            cfg,
        } => {
            let o = ProcessOverrides {
                pax_version: pax_version.map(|v| match v {
                    PaxVersionArg::V6_10 => fax_sim::process::PaxVersion::V6_10,
                    PaxVersionArg::V6_8 => fax_sim::process::PaxVersion::V6_8,
                }),
            };
            let config: fax_sim::process::ProcessConfig = load_config(cfg.config.as_deref(), &o)?;
            if cfg.print_config {
                return print_config(&config);
            }
            let bar = Bar::new();
            let s = fax_sim::output::with_threads(threads, || {
                fax_sim::process::job::run_process(&config, &input, &output, &bar)
            })??;
            println!(
                "{} events: {} peaks ({} s1, {} s2, {} unknown, {} lone_hit), {} with an S1-S2 pair",
                s.n_events,
                s.n_peaks,
                s.n_by_type[0],
                s.n_by_type[1],
                s.n_by_type[2],
                s.n_by_type[3],
                s.n_with_interaction
            );
            for f in &s.outputs {
                println!("wrote {}", f.display());
            }
        }
        Command::Production { command } => production(command)?,
        Command::Merge(m) => {
            let Some(output) = m.load()? else {
                return Ok(());
            };
            let s = fax_sim::output::merge(&output, &Bar::new())?;
            println!(
                "merged {} events: {} pulses, {} truth peaks",
                s.n_events, s.n_pulses, s.n_peaks
            );
            for f in &s.outputs {
                println!("wrote {}", f.display());
            }
        }
        Command::Submit {
            input,
            output,
            slurm,
            sim,
            cfg,
        } => {
            // The simulation configuration is resolved (and checked) now, once, rather than in
            // every array task.
            let files: Vec<&Path> = cfg.config.iter().map(PathBuf::as_path).collect();
            let (config, mut job) =
                config::load_job(&files, sim.overrides()?, &["input", "output", "slurm"])?;
            let file_path = |key: &str, job: &mut toml::Table| -> Result<Option<PathBuf>> {
                job.remove(key)
                    .map(|v| {
                        v.try_into::<PathBuf>()
                            .with_context(|| format!("`{key}` must be a path"))
                    })
                    .transpose()
            };
            let input = input.or(file_path("input", &mut job)?);
            let output = output.or(file_path("output", &mut job)?);
            let file_slurm = match job.remove("slurm") {
                None => toml::Table::new(),
                Some(toml::Value::Table(t)) => t,
                Some(_) => bail!("[slurm] must be a table"),
            };
            let slurm = slurm_options(file_slurm, &slurm)?;
            if cfg.print_config {
                let mut all = config.to_table()?;
                if let Some(i) = &input {
                    all.insert("input".into(), toml::Value::try_from(i)?);
                }
                if let Some(o) = &output {
                    all.insert("output".into(), toml::Value::try_from(o)?);
                }
                all.insert("slurm".into(), toml::Value::try_from(&slurm)?);
                return print_config(&all);
            }
            slurm.check()?;
            let input = input.context("no instruction file: give --input or `input`")?;
            let output = output.context("no output directory: give --output or `output`")?;
            let copy = write_job_config(&output, "simulate.toml", &toml::to_string(&config)?)?;
            let exe = hep_cli_support::current_program()?;
            let task = vec![
                exe.clone(),
                "simulate".into(),
                "--input".into(),
                absolute(&input)?,
                "--output".into(),
                absolute(&output)?,
                "--config".into(),
                copy,
            ];
            let merge = vec![exe, "merge".into(), "--output".into(), absolute(&output)?];
            hep_cli_support::submit(&slurm, fax_sim::output::JOB, &output, task, merge)?;
        }
        Command::CreateFake {
            output,
            events,
            seed,
            correlated,
            photons,
            electrons,
            recoil_type,
            fv,
            compat,
            energy_spectrum,
            interaction,
            field_v_per_cm,
            field_map,
            density,
            cfg,
        } => {
            let mut o = FakeOverrides {
                seed,
                number_event_per_job: events,
                energy: energy_overrides(
                    energy_spectrum.as_deref(),
                    interaction.as_deref(),
                    field_v_per_cm,
                    field_map.as_deref(),
                    density,
                )?,
                ..Default::default()
            };
            if let Some(c) = correlated {
                o.correlated = Some(match c.to_ascii_lowercase().as_str() {
                    "true" => Correlated::True,
                    "false" => Correlated::False,
                    "s1" => Correlated::S1,
                    "s2" => Correlated::S2,
                    _ => bail!("--correlated: expected true, false, s1 or s2, found `{c}`"),
                });
            }
            if let Some(p) = photons {
                let (a, b) = range_pair(&p, "--photons")?;
                (o.photon_number_low, o.photon_number_high) = (Some(a), Some(b));
            }
            if let Some(p) = electrons {
                let (a, b) = range_pair(&p, "--electrons")?;
                (o.electron_number_low, o.electron_number_high) = (Some(a), Some(b));
            }
            if let Some(r) = recoil_type {
                o.recoil_type = Some(RecoilType::parse(&r).with_context(|| {
                    format!("--recoil-type: expected ER, NR, alpha or LED, found `{r}`")
                })?);
            }
            if let Some(f) = fv {
                o.fv = Some(match f.as_str() {
                    "xenon1t_2018" => FiducialVolume::xenon1t_2018(),
                    "xenon1t_2017" => FiducialVolume::xenon1t_2017(),
                    "r2_of_z_2016" => FiducialVolume::r2_of_z_2016(),
                    _ => bail!(
                        "--fv: expected xenon1t_2018, xenon1t_2017 or r2_of_z_2016, found `{f}`"
                    ),
                });
            }
            if let Some(c) = compat {
                o.compat = Some(FakeCompat::parse(&c)?);
            }
            let config: FakeConfig = load_config(cfg.config.as_deref(), &o)?;
            if cfg.print_config {
                return print_config(&config);
            }
            let rows = fax_sim::fake::create_fake(&config)?;
            write_instructions(&output, &rows)?;
            let mut m = hep_core::manifest::Manifest::start("fax-sim", env!("CARGO_PKG_VERSION"))
                .with_configuration(&config)?;
            m.add_seed("master", config.seed);
            if let Some(fax_sim::deposits::EnergyConfig {
                spectrum: fax_sim::deposits::EnergySpectrum::Listed { path },
                ..
            }) = &config.energy
            {
                m.add_input(path)?;
            }
            if let Some(map) = config.energy.as_ref().and_then(|e| e.field_map.as_ref())
                && !map.starts_with("builtin:")
            {
                m.add_input(map)?;
            }
            m.add_output(&output)?;
            m.finish();
            m.write_sidecar(&output)?;
            println!(
                "wrote {} instruction rows to {}",
                rows.len(),
                output.display()
            );
        }
        Command::FromDeposits {
            input,
            output,
            seed,
            field_v_per_cm,
            density,
            micro_separation_cm,
            micro_separation_time_ns,
            cfg,
        } => {
            let o = DepositOverrides {
                seed,
                field_v_per_cm,
                density_g_per_cm3: density,
                micro_separation_cm,
                micro_separation_time_ns,
            };
            let config: fax_sim::deposits::FromDepositsConfig =
                load_config(cfg.config.as_deref(), &o)?;
            if cfg.print_config {
                return print_config(&config);
            }
            let deposits = fax_sim::deposits::read_deposits(&input)?;
            let rows = fax_sim::deposits::from_deposits(&deposits, &config)?;
            write_instructions(&output, &rows)?;
            let mut m = hep_core::manifest::Manifest::start("fax-sim", env!("CARGO_PKG_VERSION"))
                .with_configuration(&config)?;
            m.add_seed("master", config.seed);
            m.add_input(&input)?;
            m.add_output(&output)?;
            m.finish();
            m.write_sidecar(&output)?;
            println!(
                "wrote {} instruction rows ({} deposits) to {}",
                rows.len(),
                deposits.len(),
                output.display()
            );
        }
        Command::FromMinitree {
            input,
            output,
            g1,
            g2,
            undo_dpe,
            undo_lifetime_us,
            cfg,
        } => {
            let o = MinitreeOverrides {
                g1_pe_per_photon: g1,
                g2_pe_per_electron: g2,
                undo_dpe: undo_dpe.then_some(true),
                undo_lifetime_us,
            };
            let config: FromMinitreeConfig = load_config(cfg.config.as_deref(), &o)?;
            if cfg.print_config {
                return print_config(&config);
            }
            let table = fax_sim::fake::MinitreeColumns::read(&input)?;
            let rows = fax_sim::fake::from_minitree(&table, &input, &config)?;
            write_instructions(&output, &rows)?;
            let mut m = hep_core::manifest::Manifest::start("fax-sim", env!("CARGO_PKG_VERSION"))
                .with_configuration(&config)?;
            m.add_input(&input)?;
            m.add_output(&output)?;
            m.finish();
            m.write_sidecar(&output)?;
            println!(
                "wrote {} instruction rows to {}",
                rows.len(),
                output.display()
            );
        }
        Command::Match {
            simulated,
            processed,
            output,
            compat,
            cfg,
        } => {
            let o = MatchOverrides {
                compat: compat.then_some(true),
            };
            let config: fax_sim::matching::MatchConfig = load_config(cfg.config.as_deref(), &o)?;
            if cfg.print_config {
                return print_config(&config);
            }
            let s = fax_sim::matching::run_match(
                &config,
                &simulated,
                &processed,
                &output,
                &Bar::new(),
            )?;
            println!(
                "{} truth events, {} minitree events, {} merged rows{}",
                s.n_truth_events,
                s.n_minitree_events,
                s.n_merged_rows,
                if s.compat { " (compat)" } else { "" }
            );
            for t in &s.types {
                println!(
                    "{}: efficiency {:.4} +- {:.4} ({}/{}), area / truth photons {:.4} +- {:.4} pe (expected about {:.3}); {}",
                    t.peak_type,
                    t.efficiency.efficiency,
                    t.efficiency.error,
                    t.efficiency.k,
                    t.efficiency.n,
                    t.area_per_photon.mean,
                    t.area_per_photon.mean_error,
                    s.expected_area_per_photon,
                    t.outcomes
                        .iter()
                        .map(|(k, v)| format!("{k} {v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            println!(
                "s2 above {} pe: efficiency {:.4} +- {:.4} ({}/{}); s2 x - truth x {:.2} cm (rms {:.2}), y - truth y {:.2} cm (rms {:.2})",
                s.large_s2_pe,
                s.large_s2_efficiency.efficiency,
                s.large_s2_efficiency.error,
                s.large_s2_efficiency.k,
                s.large_s2_efficiency.n,
                s.s2_dx_cm.mean,
                s.s2_dx_cm.rms,
                s.s2_dy_cm.mean,
                s.s2_dy_cm.rms
            );
            for f in &s.outputs {
                println!("wrote {}", f.display());
            }
        }
        Command::Plot {
            processed,
            matched,
            output,
            cfg,
        } => {
            let config: fax_sim::check_plots::CheckPlotConfig =
                load_config(cfg.config.as_deref(), &MatchOverrides::default())?;
            if cfg.print_config {
                return print_config(&config);
            }
            let files =
                fax_sim::check_plots::run_plots(&config, &processed, matched.as_deref(), &output)?;
            if matched.is_none() {
                println!("no --matched: position_observed_true and efficiency not drawn");
            }
            for f in files {
                println!("wrote {}", f.display());
            }
        }
        Command::PlotYields { output, cfg } => {
            let config: fax_sim::yield_plots::YieldPlotConfig =
                load_config(cfg.config.as_deref(), &MatchOverrides::default())?;
            if cfg.print_config {
                return print_config(&config);
            }
            for f in fax_sim::yield_plots::plot_yields(&config, &output)? {
                println!("wrote {}", f.display());
            }
        }
        Command::PlotBand {
            output,
            events,
            cfg,
        } => {
            let mut o = toml::Table::new();
            if let Some(n) = events {
                o.insert(
                    "n_events".into(),
                    toml::Value::Integer(i64::try_from(n).context("--events must be below 2^63")?),
                );
            }
            let config: fax_sim::yield_plots::BandPlotConfig =
                load_config(cfg.config.as_deref(), &o)?;
            if cfg.print_config {
                return print_config(&config);
            }
            for f in fax_sim::yield_plots::plot_band(&config, &output, &Bar::new())? {
                println!("wrote {}", f.display());
            }
        }
        Command::PlotEvent {
            input,
            event,
            output,
            window,
            cfg,
        } => {
            let Some(config) = plot_config(event, window.as_deref(), &cfg)? else {
                return Ok(());
            };
            for f in fax_sim::plots::plot_event(&input, &config, &output)? {
                println!("wrote {}", f.display());
            }
        }
        Command::PlotChannels {
            input,
            event,
            output,
            window,
            cfg,
        } => {
            let Some(config) = plot_config(event, window.as_deref(), &cfg)? else {
                return Ok(());
            };
            for f in fax_sim::plots::plot_channels(&input, &config, &output)? {
                println!("wrote {}", f.display());
            }
        }
    }
    Ok(())
}
