//! The subcommands: command-line options into library configurations, one call each, the report
//! on stdout.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use hep_cli_support::{Bar, ConfigArgs, ShardArgs, load_config, print_config};
use pixel_monitor::config::Compat;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Prints a line on stdout, ignoring a closed pipe.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// Command-line overrides as a TOML table with dotted keys.
type Over = hep_cli_support::Overrides;

/// Options every subcommand takes: configuration file, compatibility switches, zones.
#[derive(Args, Clone, Default)]
struct Common {
    #[command(flatten)]
    config: ConfigArgs,
    /// Reproduce the original's defects: `all`, or a comma-separated list of lexicographic_fills,
    /// run3_fill_range, rog_fluence_sum, unbounded_lookback, local_time, current_label,
    /// short_fill_gap, window_rate, tref_kelvin, fluka_th2f, annealing_averaging,
    /// merge_name_order, boltzmann_2010 (default: none, the corrected behaviour).
    #[arg(long, value_name = "LIST")]
    compat: Option<String>,
    /// IANA zone of naive timestamps in the inputs (default UTC).
    #[arg(long, value_name = "ZONE")]
    naive_time_zone: Option<String>,
    /// Zone of the original's local-time epochs, used with --compat local_time (default Europe/Zurich).
    #[arg(long, value_name = "ZONE")]
    local_zone: Option<String>,
}

impl Common {
    /// Adds the compatibility switches (only those turned on) and zones to `o` under `prefix`
    /// (empty for top-level `compat` and `time` keys).
    fn apply(&self, o: &mut Over, has_compat: bool, has_time: bool) -> Result<()> {
        if let Some(list) = &self.compat {
            if !has_compat {
                bail!("--compat does not apply to this subcommand");
            }
            let c = Compat::parse(list)?;
            for name in c.enabled() {
                o.flag(&format!("compat.{name}"), true)?;
            }
        }
        if has_time {
            o.set("time.naive_time_zone", self.naive_time_zone.clone())?;
            o.set("time.local_zone", self.local_zone.clone())?;
        } else if self.naive_time_zone.is_some() || self.local_zone.is_some() {
            bail!("--naive-time-zone/--local-zone do not apply to this subcommand");
        }
        Ok(())
    }
}

/// The effective configuration, or `None` after `--print-config`.
fn configure<T: Serialize + DeserializeOwned + Default>(
    common: &Common,
    over: &Over,
) -> Result<Option<T>> {
    let cfg: T = load_config(common.config.config.as_deref(), &over.0)?;
    if common.config.print_config {
        print_config(&cfg)?;
        return Ok(None);
    }
    Ok(Some(cfg))
}

/// Fill range options.
#[derive(Args, Clone, Default)]
struct FillRange {
    /// First fill to analyse (inclusive).
    #[arg(long = "first-fill", visible_alias = "ff", value_name = "FILL")]
    first_fill: Option<u32>,
    /// Last fill to analyse (inclusive).
    #[arg(long = "last-fill", visible_alias = "lf", value_name = "FILL")]
    last_fill: Option<u32>,
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Fills with stable beams from an OMS export (get_fills.py) -> fills.csv and .parquet.
    Fills(FillsArgs),
    /// Delivered and recorded luminosity per fill, cumulative (get_integrated_luminosity.py).
    Lumi(LumiArgs),
    /// CAEN channels at each fill's measurement time (get_currents_from_database.py) -> <fill>_<sub>.txt.
    CurrentsFromDb(CurrentsFromDbArgs),
    /// Leakage current per readout group, LV currents per power group (get_currents.py).
    Currents(CurrentsArgs),
    /// Sensor temperature of the 128 readout groups per fill (get_readout_group_temperatures.py).
    RogTemperatures(RogTemperaturesArgs),
    /// PLC air temperatures in the first 20 min of each fill (getPLCAirTemperatures.py).
    AirTemperatures(PlcArgs),
    /// Latest cooling-pipe temperature per sensor in the first 20 min of each fill (getPLCPipeTemperatures.py).
    PipeTemperatures(PlcArgs),
    /// Daily mean temperature per cooling-loop sensor (getAnnealingTemperatures.py).
    AnnealingTemperatures(AnnealingArgs),
    /// The FLUKA fluence field from its USRBIN ASCII file (getFluenceField.py).
    FluenceField(FluenceFieldArgs),
    /// The field at points, and module and readout-group fluences (getFluence.py).
    Fluence(FluenceArgs),
    /// Leakage (or LV) current per layer against luminosity, fill, fluence or time (plot_currents.py).
    PlotCurrents(PlotCurrentsArgs),
    /// Leakage current of each readout group of a layer against azimuth (plot_currents_vs_azimuth.py).
    PlotCurrentsVsAzimuth(PlotAzimuthArgs),
    /// Mean air (or pipe) temperature per fill (plotTemperatures.py).
    PlotTemperatures(PlotTemperaturesArgs),
    /// Radiation profiles of the readout groups (prepare_profile.py), in one pass or one shard.
    Profile(ProfileArgs),
    /// Join the shards of a profile job into the files of a single run.
    Merge(ProfileArgs),
    /// Write (and with --submit run) the Slurm scripts of a sharded profile job.
    Submit(ProfileSubmitArgs),
    /// Stitch profile fragments together (merge_profiles.py).
    MergeProfiles(MergeProfilesArgs),
    /// Hamburg-model prediction against the measured leakage current, and its fit.
    Hamburg(HamburgArgs),
    /// Simulate a running period in the export formats (fills, brilcalc, CAEN/PLC/HV, FLUKA).
    Simulate(SimulateArgs),
    /// The whole chain from one configuration.
    Run(RunArgs),
}

/// Runs a subcommand.
pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::Fills(a) => a.run(),
        Command::Lumi(a) => a.run(),
        Command::CurrentsFromDb(a) => a.run(),
        Command::Currents(a) => a.run(),
        Command::RogTemperatures(a) => a.run(),
        Command::AirTemperatures(a) => a.run(pixel_monitor::temperatures::PlcSource::Air),
        Command::PipeTemperatures(a) => a.run(pixel_monitor::temperatures::PlcSource::Pipe),
        Command::AnnealingTemperatures(a) => a.run(),
        Command::FluenceField(a) => a.run(),
        Command::Fluence(a) => a.run(),
        Command::PlotCurrents(a) => a.run(),
        Command::PlotCurrentsVsAzimuth(a) => a.run(),
        Command::PlotTemperatures(a) => a.run(),
        Command::Profile(a) => a.run(),
        Command::Merge(a) => a.merge(),
        Command::Submit(a) => a.run(),
        Command::MergeProfiles(a) => a.run(),
        Command::Hamburg(a) => a.run(),
        Command::Simulate(a) => a.run(),
        Command::Run(a) => a.run(),
    }
}

// ----- fills, lumi ---------------------------------------------------------------------------

/// Arguments of `fills`.
#[derive(Args)]
pub struct FillsArgs {
    /// The OMS fills export: JSON:API payload (/agg/api/v1/fills) or CSV.
    #[arg(short, long, value_name = "FILE")]
    input: Option<PathBuf>,
    /// Output directory (default data/fills_info).
    #[arg(short, long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// File-name suffix: fills_<SUFFIX>.csv (default none).
    #[arg(long)]
    suffix: Option<String>,
    #[command(flatten)]
    range: FillRange,
    /// Do not apply the OMS quality filters (stable beams, times, delivered luminosity, injection scheme).
    #[arg(long)]
    no_quality_filters: bool,
    /// Drop the fills of the bad-fill list.
    #[arg(long)]
    drop_bad_fills: bool,
    /// Bad-fill list, one fill per line (default: the 132 fills of the original's list).
    #[arg(long, value_name = "FILE")]
    bad_fills: Option<PathBuf>,
    /// Add jroloff's bunches_colliding column to fills.csv.
    #[arg(long)]
    bunches_column: bool,
    #[command(flatten)]
    common: Common,
}

impl FillsArgs {
    fn run(self) -> Result<()> {
        let mut o = Over::default();
        o.set("input", self.input)?;
        o.set("output_dir", self.output_dir)?;
        o.set("suffix", self.suffix)?;
        o.set("selection.first_fill", self.range.first_fill)?;
        o.set("selection.last_fill", self.range.last_fill)?;
        o.set(
            "selection.quality_filters",
            self.no_quality_filters.then_some(false),
        )?;
        o.flag("selection.drop_bad_fills", self.drop_bad_fills)?;
        o.set("bad_fills", self.bad_fills)?;
        o.flag("csv.bunches_column", self.bunches_column)?;
        self.common.apply(&mut o, false, true)?;
        let Some(job) = configure::<pixel_monitor::jobs::FillsJob>(&self.common, &o)? else {
            return Ok(());
        };
        say!("{}", pixel_monitor::jobs::run_fills(&job)?);
        Ok(())
    }
}

/// Arguments of `lumi`.
#[derive(Args)]
pub struct LumiArgs {
    /// OMS per-fill payload (JSON:API with units) or brilcalc CSV (per run or --byls).
    #[arg(short, long, value_name = "FILE")]
    input: Option<PathBuf>,
    /// Source format: auto (JSON = OMS), oms or brilcalc (default auto).
    #[arg(long = "from", value_name = "SOURCE")]
    source: Option<String>,
    /// Output directory (default data/luminosity).
    #[arg(short, long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// File-name suffix.
    #[arg(long)]
    suffix: Option<String>,
    /// First fill (default 1005, as the original).
    #[arg(long = "first-fill", visible_alias = "ff", value_name = "FILL")]
    first_fill: Option<u32>,
    /// Last fill.
    #[arg(long = "last-fill", visible_alias = "lf", value_name = "FILL")]
    last_fill: Option<u32>,
    #[command(flatten)]
    common: Common,
}

impl LumiArgs {
    fn run(self) -> Result<()> {
        let mut o = Over::default();
        o.set("input", self.input)?;
        o.set("source", self.source)?;
        o.set("output_dir", self.output_dir)?;
        o.set("suffix", self.suffix)?;
        o.set("first_fill", self.first_fill)?;
        o.set("last_fill", self.last_fill)?;
        self.common.apply(&mut o, true, true)?;
        let Some(job) = configure::<pixel_monitor::jobs::LumiJob>(&self.common, &o)? else {
            return Ok(());
        };
        say!("{}", pixel_monitor::jobs::run_lumi(&job)?);
        Ok(())
    }
}

// ----- currents -------------------------------------------------------------------------------

/// Arguments of `currents-from-db`.
#[derive(Args)]
pub struct CurrentsFromDbArgs {
    /// Fills file (fills.csv or an OMS export).
    #[arg(long, value_name = "FILE")]
    fills: Option<PathBuf>,
    /// CAEN export (alias, change_date, actual_imon, actual_vmon), CSV or Parquet.
    #[arg(long, value_name = "FILE")]
    caen: Option<PathBuf>,
    /// Output directory (default data/currents/from_database).
    #[arg(short, long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    #[command(flatten)]
    range: FillRange,
    /// Barrel or EndCap (default Barrel).
    #[arg(short = 's', long)]
    sub_system: Option<String>,
    /// Measurement delay after the start of stable beams (s, default 1200).
    #[arg(short = 't', long, value_name = "S")]
    measurement_delay: Option<i64>,
    /// Furthest look-back for a channel without change in the window (h, default 0: the original's window only).
    #[arg(long, value_name = "H")]
    lookback_h: Option<f64>,
    #[command(flatten)]
    common: Common,
}

impl CurrentsFromDbArgs {
    fn run(self) -> Result<()> {
        let mut o = Over::default();
        o.set("fills", self.fills)?;
        o.set("caen", self.caen)?;
        o.set("output_dir", self.output_dir)?;
        o.set("first_fill", self.range.first_fill)?;
        o.set("last_fill", self.range.last_fill)?;
        o.set("currents.sub_system", self.sub_system)?;
        o.set("currents.measurement_delay_s", self.measurement_delay)?;
        o.set("currents.lookback_h", self.lookback_h)?;
        self.common.apply(&mut o, false, true)?;
        let Some(job) = configure::<pixel_monitor::jobs::CurrentsFromDbJob>(&self.common, &o)?
        else {
            return Ok(());
        };
        say!("{}", pixel_monitor::jobs::run_currents_from_db(&job)?);
        Ok(())
    }
}

/// Arguments of `currents`.
#[derive(Args)]
pub struct CurrentsArgs {
    /// Directory of the <fill>_<sub>.txt files (default data/currents/from_database).
    #[arg(short, long, value_name = "DIR")]
    input_dir: Option<PathBuf>,
    /// Output directory (default data/currents/processed).
    #[arg(short, long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    #[command(flatten)]
    range: FillRange,
    /// Barrel or EndCap (default Barrel).
    #[arg(short = 's', long)]
    sub_system: Option<String>,
    #[command(flatten)]
    common: Common,
}

impl CurrentsArgs {
    fn run(self) -> Result<()> {
        let mut o = Over::default();
        o.set("input_dir", self.input_dir)?;
        o.set("output_dir", self.output_dir)?;
        o.set("first_fill", self.range.first_fill)?;
        o.set("last_fill", self.range.last_fill)?;
        o.set("sub_system", self.sub_system)?;
        self.common.apply(&mut o, false, false)?;
        let Some(job) = configure::<pixel_monitor::jobs::CurrentsJob>(&self.common, &o)? else {
            return Ok(());
        };
        say!("{}", pixel_monitor::jobs::run_currents(&job)?);
        Ok(())
    }
}

// ----- temperatures ---------------------------------------------------------------------------

/// Look-back options.
#[derive(Args, Clone, Default)]
struct LookbackArgs {
    /// Furthest look-back of the cooling-loop temperature (h, default 240; steps of 10 h).
    #[arg(long, value_name = "H")]
    temperature_max_h: Option<f64>,
    /// Furthest look-back of the HV state (h, default 720).
    #[arg(long, value_name = "H")]
    hv_max_h: Option<f64>,
}

impl LookbackArgs {
    fn apply(&self, o: &mut Over, prefix: &str) -> Result<()> {
        o.set(
            &format!("{prefix}lookback.temperature_max_h"),
            self.temperature_max_h,
        )?;
        o.set(&format!("{prefix}lookback.hv_max_h"), self.hv_max_h)
    }
}

/// Arguments of `rog-temperatures`.
#[derive(Args)]
pub struct RogTemperaturesArgs {
    /// Fills file.
    #[arg(long, value_name = "FILE")]
    fills: Option<PathBuf>,
    /// PLC export (alias, part, change_date, value_converted in degC).
    #[arg(long, value_name = "FILE")]
    plc: Option<PathBuf>,
    /// HV export (cable, change_date, value in V); without it the HV state is unknown.
    #[arg(long, value_name = "FILE")]
    hv: Option<PathBuf>,
    /// Output directory (default data/temperatures/readout_group; files in BPix/).
    #[arg(short, long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    #[command(flatten)]
    range: FillRange,
    /// Measurement delay after the start of stable beams (s, default 1200).
    #[arg(short = 't', long, value_name = "S")]
    measurement_delay: Option<i64>,
    #[command(flatten)]
    lookback: LookbackArgs,
    #[command(flatten)]
    common: Common,
}

impl RogTemperaturesArgs {
    fn run(self) -> Result<()> {
        let mut o = Over::default();
        o.set("fills", self.fills)?;
        o.set("plc", self.plc)?;
        o.set("hv", self.hv)?;
        o.set("output_dir", self.output_dir)?;
        o.set("first_fill", self.range.first_fill)?;
        o.set("last_fill", self.range.last_fill)?;
        o.set("measurement_delay_s", self.measurement_delay)?;
        self.lookback.apply(&mut o, "")?;
        self.common.apply(&mut o, true, true)?;
        let Some(job) = configure::<pixel_monitor::jobs::RogTemperaturesJob>(&self.common, &o)?
        else {
            return Ok(());
        };
        say!("{}", pixel_monitor::jobs::run_rog_temperatures(&job)?);
        Ok(())
    }
}

/// Arguments of `air-temperatures` and `pipe-temperatures`.
#[derive(Args)]
pub struct PlcArgs {
    /// Fills file.
    #[arg(long, value_name = "FILE")]
    fills: Option<PathBuf>,
    /// PLC export.
    #[arg(long, value_name = "FILE")]
    plc: Option<PathBuf>,
    /// Output directory (default data/temperatures/air or .../pipe).
    #[arg(short, long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    #[command(flatten)]
    range: FillRange,
    /// Barrel, EndCap, or empty for both (air only).
    #[arg(short = 's', long)]
    sub_system: Option<String>,
    /// Window after the start of stable beams (s, default 1200).
    #[arg(long, value_name = "S")]
    window: Option<i64>,
    #[command(flatten)]
    common: Common,
}

impl PlcArgs {
    fn run(self, source: pixel_monitor::temperatures::PlcSource) -> Result<()> {
        let mut o = Over::default();
        o.set("source", Some(source))?;
        o.set("fills", self.fills)?;
        o.set("plc", self.plc)?;
        o.set("output_dir", self.output_dir)?;
        o.set("first_fill", self.range.first_fill)?;
        o.set("last_fill", self.range.last_fill)?;
        o.set("sub_system", self.sub_system)?;
        o.set("window_s", self.window)?;
        self.common.apply(&mut o, false, true)?;
        let Some(job) = configure::<pixel_monitor::jobs::PlcTemperaturesJob>(&self.common, &o)?
        else {
            return Ok(());
        };
        say!("{}", pixel_monitor::jobs::run_plc_temperatures(&job)?);
        Ok(())
    }
}

/// Arguments of `annealing-temperatures`.
#[derive(Args)]
pub struct AnnealingArgs {
    /// PLC export.
    #[arg(long, value_name = "FILE")]
    plc: Option<PathBuf>,
    /// Output directory (default data/temperatures/annealing).
    #[arg(short, long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// First day, YYYY-MM-DD (the first day is not written, as in the original).
    #[arg(short = 's', long, value_name = "DATE")]
    start_date: Option<String>,
    /// Last day, YYYY-MM-DD.
    #[arg(short = 'e', long, value_name = "DATE")]
    end_date: Option<String>,
    /// Fills file, to take the days from --first-fill and --last-fill.
    #[arg(long, value_name = "FILE")]
    fills: Option<PathBuf>,
    #[command(flatten)]
    range: FillRange,
    /// Sensor list, one part per line (default: the original's 65 sensors).
    #[arg(long, value_name = "FILE")]
    sensor_names: Option<PathBuf>,
    #[command(flatten)]
    common: Common,
}

impl AnnealingArgs {
    fn run(self) -> Result<()> {
        let mut o = Over::default();
        o.set("plc", self.plc)?;
        o.set("output_dir", self.output_dir)?;
        o.set("start_date", self.start_date)?;
        o.set("end_date", self.end_date)?;
        o.set("fills", self.fills)?;
        o.set("first_fill", self.range.first_fill)?;
        o.set("last_fill", self.range.last_fill)?;
        o.set("sensors", self.sensor_names)?;
        self.common.apply(&mut o, true, true)?;
        let Some(job) = configure::<pixel_monitor::jobs::AnnealingJob>(&self.common, &o)? else {
            return Ok(());
        };
        let (r, files) = pixel_monitor::jobs::run_annealing(&job)?;
        say!(
            "{r}  wrote {} files in {}\n",
            files.len(),
            job.output_dir.display()
        );
        Ok(())
    }
}

// ----- fluence --------------------------------------------------------------------------------

/// Arguments of `fluence-field`.
#[derive(Args)]
pub struct FluenceFieldArgs {
    /// The USRBIN ASCII file.
    #[arg(short, long, value_name = "FILE")]
    input: Option<PathBuf>,
    /// Output directory of the field (default data/fluence).
    #[arg(short, long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// Directory of the species text files (default data/fluence/txt_files).
    #[arg(long, value_name = "DIR")]
    txt_dir: Option<PathBuf>,
    /// Suffix of the files (default phase1_6500GeV).
    #[arg(short = 's', long)]
    suffix: Option<String>,
    /// Do not write the species text files.
    #[arg(long)]
    no_texts: bool,
    /// Do not draw the field map and projections.
    #[arg(long)]
    no_plots: bool,
    /// Plot directory (default plots/fluence).
    #[arg(long, value_name = "DIR")]
    plots_dir: Option<PathBuf>,
    /// Plot format: png (default) or svg.
    #[arg(long, value_name = "FORMAT")]
    plot_format: Option<String>,
    #[command(flatten)]
    common: Common,
}

impl FluenceFieldArgs {
    fn run(self) -> Result<()> {
        let mut o = Over::default();
        o.set("input", self.input)?;
        o.set("output_dir", self.output_dir)?;
        o.set("txt_dir", self.txt_dir)?;
        o.set("suffix", self.suffix)?;
        o.set("texts", self.no_texts.then_some(false))?;
        o.set("plots", self.no_plots.then_some(false))?;
        o.set("plots_dir", self.plots_dir)?;
        o.set("plot_format", self.plot_format)?;
        self.common.apply(&mut o, true, false)?;
        let Some(job) = configure::<pixel_monitor::jobs::FluenceFieldJob>(&self.common, &o)? else {
            return Ok(());
        };
        say!("{}", pixel_monitor::jobs::run_fluence_field(&job)?);
        Ok(())
    }
}

/// Arguments of `fluence`.
#[derive(Args)]
pub struct FluenceArgs {
    /// The field: Parquet from fluence-field, or a USRBIN ASCII file.
    #[arg(short, long, value_name = "FILE")]
    field: Option<PathBuf>,
    /// Radius of the point (cm); with -z.
    #[arg(short)]
    r: Option<f64>,
    /// z of the point (cm); with -r.
    #[arg(short)]
    z: Option<f64>,
    /// Integrated luminosity of the fluence tables (fb^-1, default 1).
    #[arg(long, value_name = "FB")]
    lumi_fb: Option<f64>,
    /// pp inelastic cross-section (mb, default 80).
    #[arg(long, value_name = "MB")]
    sigma_mb: Option<f64>,
    /// Write module_fluence.csv and rog_fluence.csv into this directory.
    #[arg(short, long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    #[command(flatten)]
    common: Common,
}

impl FluenceArgs {
    fn run(self) -> Result<()> {
        let mut o = Over::default();
        o.set("field", self.field)?;
        match (self.r, self.z) {
            (Some(r), Some(z)) => o.set("points", Some(vec![[r, z]]))?,
            (None, None) => {}
            _ => bail!("give both -r and -z"),
        }
        o.set("lumi_fb", self.lumi_fb)?;
        o.set("sigma_mb", self.sigma_mb)?;
        o.set("output_dir", self.output_dir)?;
        self.common.apply(&mut o, true, false)?;
        let Some(job) = configure::<pixel_monitor::jobs::FluenceJob>(&self.common, &o)? else {
            return Ok(());
        };
        say!("{}", pixel_monitor::jobs::run_fluence(&job)?);
        Ok(())
    }
}

// ----- plots ----------------------------------------------------------------------------------

/// Leakage-current options shared by the current plots.
#[derive(Args, Clone, Default)]
struct LeakageArgs {
    /// Reference temperature of the scaling (degC; kelvin with --compat tref_kelvin).
    #[arg(long = "tref", value_name = "DEGC", allow_hyphen_values = true)]
    t_ref_c: Option<f64>,
    /// Normalise to the sensor volume (uA / cm^3).
    #[arg(long = "normvol", conflicts_with = "per_roc")]
    per_volume: bool,
    /// Normalise to the number of read-out chips (uA / ROC).
    #[arg(long = "normroc")]
    per_roc: bool,
    /// Processed currents directory (default data/currents/processed).
    #[arg(long, value_name = "DIR")]
    currents_dir: Option<PathBuf>,
    /// Readout-group temperatures directory (default data/temperatures/readout_group).
    #[arg(long, value_name = "DIR")]
    temperatures_dir: Option<PathBuf>,
    /// Output directory (default plots/currents).
    #[arg(short, long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// y-axis minimum (default from the data).
    #[arg(long, allow_hyphen_values = true)]
    ymin: Option<f64>,
    /// y-axis maximum.
    #[arg(long, allow_hyphen_values = true)]
    ymax: Option<f64>,
    /// Plot format: png (default) or svg.
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
}

impl LeakageArgs {
    fn apply(&self, o: &mut Over) -> Result<()> {
        o.set("t_ref_c", self.t_ref_c)?;
        if self.per_volume {
            o.set("normalisation", Some("per_volume"))?;
        }
        if self.per_roc {
            o.set("normalisation", Some("per_roc"))?;
        }
        o.set("currents_dir", self.currents_dir.clone())?;
        o.set("temperatures_dir", self.temperatures_dir.clone())?;
        o.set("output_dir", self.output_dir.clone())?;
        match (self.ymin, self.ymax) {
            (Some(a), Some(b)) => o.set("y_range", Some([a, b]))?,
            (None, None) => {}
            _ => bail!("give both --ymin and --ymax"),
        }
        o.set("format", self.format.clone())
    }
}

/// Arguments of `plot-currents`.
#[derive(Args)]
pub struct PlotCurrentsArgs {
    /// Fills file.
    #[arg(long, value_name = "FILE")]
    fills: Option<PathBuf>,
    /// Per-fill luminosity CSV (integrated_luminosity_per_fill.csv).
    #[arg(long, value_name = "FILE")]
    lumi: Option<PathBuf>,
    /// Bad-fill list (default: the original's).
    #[arg(long, value_name = "FILE")]
    bad_fills: Option<PathBuf>,
    #[command(flatten)]
    range: FillRange,
    /// Era label of the title and file name (default <first>_<last>).
    #[arg(long)]
    era: Option<String>,
    /// x axis: lumi (default), fill, fluence or time.
    #[arg(short = 'x', long)]
    x: Option<String>,
    /// Layers to draw, comma separated (default 1,2,3,4).
    #[arg(long, value_delimiter = ',')]
    layers: Option<Vec<u8>>,
    /// Current: leakage (default), digital or analog.
    #[arg(long)]
    quantity: Option<String>,
    /// FLUKA field for -x fluence (Parquet or USRBIN ASCII).
    #[arg(long, value_name = "FILE")]
    field: Option<PathBuf>,
    #[command(flatten)]
    leakage: LeakageArgs,
    #[command(flatten)]
    common: Common,
}

impl PlotCurrentsArgs {
    fn run(self) -> Result<()> {
        let mut o = Over::default();
        o.set("fills", self.fills)?;
        o.set("lumi", self.lumi)?;
        o.set("bad_fills", self.bad_fills)?;
        o.set("first_fill", self.range.first_fill)?;
        o.set("last_fill", self.range.last_fill)?;
        o.set("era", self.era)?;
        o.set("x", self.x)?;
        o.set("layers", self.layers)?;
        o.set("quantity", self.quantity)?;
        o.set("field", self.field)?;
        self.leakage.apply(&mut o)?;
        self.common.apply(&mut o, true, true)?;
        let Some(job) = configure::<pixel_monitor::plots::PlotCurrentsJob>(&self.common, &o)?
        else {
            return Ok(());
        };
        say!("{}", pixel_monitor::plots::run_plot_currents(&job)?);
        Ok(())
    }
}

/// Arguments of `plot-currents-vs-azimuth`.
#[derive(Args)]
pub struct PlotAzimuthArgs {
    /// The fill (the first of a difference).
    #[arg(long = "first-fill", visible_alias = "ff", value_name = "FILL")]
    fill: Option<u32>,
    /// Second fill: plot I(last) - I(first) on the common readout groups.
    #[arg(long = "last-fill", visible_alias = "lf", value_name = "FILL")]
    last_fill: Option<u32>,
    /// Layer, 1 to 4 (default 1).
    #[arg(short = 'l', long)]
    layer: Option<u8>,
    /// Per-fill luminosity CSV (for the title).
    #[arg(long, value_name = "FILE")]
    lumi: Option<PathBuf>,
    /// Also write the original's per-sector CSV.
    #[arg(long = "csv")]
    produce_csv: bool,
    /// Directory of the per-sector CSV (default data/currents/per_sector).
    #[arg(long, value_name = "DIR")]
    csv_dir: Option<PathBuf>,
    #[command(flatten)]
    leakage: LeakageArgs,
    #[command(flatten)]
    common: Common,
}

impl PlotAzimuthArgs {
    fn run(self) -> Result<()> {
        let mut o = Over::default();
        o.set("fill", self.fill)?;
        o.set("last_fill", self.last_fill)?;
        o.set("layer", self.layer)?;
        o.set("lumi", self.lumi)?;
        o.flag("produce_csv", self.produce_csv)?;
        o.set("csv_dir", self.csv_dir)?;
        self.leakage.apply(&mut o)?;
        self.common.apply(&mut o, true, false)?;
        let Some(job) = configure::<pixel_monitor::plots::PlotAzimuthJob>(&self.common, &o)? else {
            return Ok(());
        };
        say!("{}", pixel_monitor::plots::run_plot_azimuth(&job)?);
        Ok(())
    }
}

/// Arguments of `plot-temperatures`.
#[derive(Args)]
pub struct PlotTemperaturesArgs {
    /// Directory of the per-fill air or pipe files (default data/temperatures/air).
    #[arg(short, long, value_name = "DIR")]
    input_dir: Option<PathBuf>,
    /// Source label (default air).
    #[arg(long)]
    source: Option<String>,
    /// Only parts containing this (e.g. BmI).
    #[arg(long)]
    part_filter: Option<String>,
    /// File-name sub-system suffix of the inputs (Barrel, EndCap or none).
    #[arg(short = 's', long)]
    sub_system: Option<String>,
    /// Fills file.
    #[arg(long, value_name = "FILE")]
    fills: Option<PathBuf>,
    /// Per-fill luminosity CSV (for -x lumi).
    #[arg(long, value_name = "FILE")]
    lumi: Option<PathBuf>,
    #[command(flatten)]
    range: FillRange,
    /// x axis: fill (default) or lumi.
    #[arg(short = 'x', long)]
    x: Option<String>,
    /// Output directory (default plots/temperatures).
    #[arg(short, long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// Plot format: png (default) or svg.
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    #[command(flatten)]
    common: Common,
}

impl PlotTemperaturesArgs {
    fn run(self) -> Result<()> {
        let mut o = Over::default();
        o.set("input_dir", self.input_dir)?;
        o.set("source", self.source)?;
        o.set("part_filter", self.part_filter)?;
        o.set("sub_system", self.sub_system)?;
        o.set("fills", self.fills)?;
        o.set("lumi", self.lumi)?;
        o.set("first_fill", self.range.first_fill)?;
        o.set("last_fill", self.range.last_fill)?;
        o.set("x", self.x)?;
        o.set("output_dir", self.output_dir)?;
        o.set("format", self.format)?;
        self.common.apply(&mut o, false, true)?;
        let Some(job) = configure::<pixel_monitor::plots::PlotTemperaturesJob>(&self.common, &o)?
        else {
            return Ok(());
        };
        say!("{}", pixel_monitor::plots::run_plot_temperatures(&job)?);
        Ok(())
    }
}

// ----- profile, merge, submit, merge-profiles ------------------------------------------------

/// Arguments of `profile` and `merge`.
#[derive(Args, Clone)]
pub struct ProfileArgs {
    /// Fills file.
    #[arg(long, value_name = "FILE")]
    fills: Option<PathBuf>,
    /// brilcalc per-lumisection CSV (brilcalc lumi --byls --tssec).
    #[arg(long, value_name = "FILE")]
    lumi: Option<PathBuf>,
    /// CAEN export.
    #[arg(long, value_name = "FILE")]
    caen: Option<PathBuf>,
    /// PLC export.
    #[arg(long, value_name = "FILE")]
    plc: Option<PathBuf>,
    /// HV export.
    #[arg(long, value_name = "FILE")]
    hv: Option<PathBuf>,
    /// FLUKA field (Parquet from fluence-field, or USRBIN ASCII).
    #[arg(short = 'f', long, value_name = "FILE")]
    field: Option<PathBuf>,
    /// Cross-section table (TOML; default: the shipped Run 2 / Run 3 table).
    #[arg(long, value_name = "FILE")]
    cross_sections: Option<PathBuf>,
    #[command(flatten)]
    range: FillRange,
    /// Readout groups, comma separated (default all 128), e.g. BPix_BmI_SEC1_LYR1.
    #[arg(long = "readout-group", visible_alias = "rog", value_delimiter = ',')]
    readout_groups: Option<Vec<String>>,
    /// Output directory (default data/radiation_simulation/profiles).
    #[arg(short, long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// File label: profile_<ROG>_<LABEL>.txt (default <first fill>_<last fill>).
    #[arg(long)]
    label: Option<String>,
    /// Length of the first interfill row (s, default 1200).
    #[arg(long = "interfill-delay", visible_alias = "di", value_name = "S")]
    interfill_delay: Option<i64>,
    /// Length of the first fill row (s, default 1200).
    #[arg(long = "fill-delay", visible_alias = "df", value_name = "S")]
    fill_delay: Option<i64>,
    /// Interfill step (s, default 3600).
    #[arg(long = "interfill-step", visible_alias = "tsi", value_name = "S")]
    interfill_step: Option<i64>,
    /// Fill step (s, default 3600).
    #[arg(long = "fill-step", visible_alias = "tsf", value_name = "S")]
    fill_step: Option<i64>,
    /// Append jroloff's Number of bunches column.
    #[arg(long)]
    bunches_column: bool,
    /// Furthest look-back of the leakage current (h, default 24; 0 as jroloff's fork).
    #[arg(long, value_name = "H")]
    current_max_h: Option<f64>,
    #[command(flatten)]
    lookback: LookbackArgs,
    #[command(flatten)]
    shard: ShardArgs,
    #[command(flatten)]
    common: Common,
}

impl ProfileArgs {
    fn job(&self) -> Result<Option<pixel_monitor::profile_job::ProfileJob>> {
        let mut o = Over::default();
        o.set("fills", self.fills.clone())?;
        o.set("lumi", self.lumi.clone())?;
        o.set("caen", self.caen.clone())?;
        o.set("plc", self.plc.clone())?;
        o.set("hv", self.hv.clone())?;
        o.set("field", self.field.clone())?;
        o.set("cross_sections", self.cross_sections.clone())?;
        o.set("first_fill", self.range.first_fill)?;
        o.set("last_fill", self.range.last_fill)?;
        o.set("readout_groups", self.readout_groups.clone())?;
        o.set("output_dir", self.output_dir.clone())?;
        o.set("label", self.label.clone())?;
        o.set("settings.interfill_delay_s", self.interfill_delay)?;
        o.set("settings.fill_delay_s", self.fill_delay)?;
        o.set("settings.interfill_step_s", self.interfill_step)?;
        o.set("settings.fill_step_s", self.fill_step)?;
        o.flag("settings.bunches_column", self.bunches_column)?;
        o.set("lookback.current_max_h", self.current_max_h)?;
        self.lookback.apply(&mut o, "")?;
        self.common.apply(&mut o, true, true)?;
        configure(&self.common, &o)
    }

    fn run(self) -> Result<()> {
        let Some(job) = self.job()? else {
            return Ok(());
        };
        let bar = Bar::new();
        say!(
            "{}",
            pixel_monitor::profile_job::run_profile(&job, self.shard.shard, &bar)?
        );
        Ok(())
    }

    fn merge(self) -> Result<()> {
        if self.shard.shard.is_some() {
            bail!("merge joins all shards; it takes no --shard");
        }
        let Some(job) = self.job()? else {
            return Ok(());
        };
        say!(
            "{}",
            pixel_monitor::profile_job::merge_profile_shards(&job)?
        );
        Ok(())
    }
}

/// Arguments of `submit`.
#[derive(Args)]
pub struct ProfileSubmitArgs {
    /// The profile job's configuration (TOML, as `profile --config` reads it), optionally with a
    /// [slurm] table of the submit options; required. The tasks run `profile --config
    /// <output_dir>/slurm/profile.toml --shard I/N` and the merge `merge --config` on that copy.
    #[arg(long, value_name = "FILE.toml")]
    config: Option<PathBuf>,
    /// Print the complete effective configuration (the profile job and its [slurm] table) as
    /// TOML and exit.
    #[arg(long)]
    print_config: bool,
    #[command(flatten)]
    slurm: hep_cli_support::SubmitArgs,
}

impl ProfileSubmitArgs {
    fn run(self) -> Result<()> {
        let Some(path) = &self.config else {
            bail!("submit needs the profile job's configuration: give --config FILE.toml");
        };
        let text = hep_core::io::read_text(path)
            .with_context(|| format!("{}: cannot read the configuration", path.display()))?;
        let mut table: toml::Table = text
            .parse()
            .with_context(|| format!("{}: not a valid TOML configuration", path.display()))?;
        // The [slurm] table is submit's; the rest is the profile job, checked now rather than in
        // every array task.
        let mut slurm = toml::Table::new();
        if let Some(t) = table.remove("slurm") {
            slurm = t
                .try_into()
                .with_context(|| format!("{}: [slurm] must be a table", path.display()))?;
        }
        let job: pixel_monitor::profile_job::ProfileJob = toml::Value::Table(table)
            .try_into()
            .with_context(|| format!("{}: invalid profile configuration", path.display()))?;
        let mut o = hep_cli_support::Overrides::default();
        self.slurm.overrides(&mut o)?;
        let mut slurm_table = toml::Table::new();
        slurm_table.insert("slurm".into(), toml::Value::Table(slurm));
        hep_cli_support::merge(&mut slurm_table, o.0);
        let slurm: hep_cli_support::SlurmOptions = slurm_table
            .remove("slurm")
            .map(toml::Value::try_into)
            .transpose()
            .with_context(|| format!("{}: invalid [slurm] options", path.display()))?
            .unwrap_or_default();
        let job_toml = toml::to_string_pretty(&job).context("writing the profile job as TOML")?;
        if self.print_config {
            let mut all = toml::Table::try_from(&job).context("the profile job as TOML")?;
            all.insert(
                "slurm".into(),
                toml::Value::try_from(&slurm).context("the [slurm] options as TOML")?,
            );
            return print_config(&all);
        }
        slurm.check()?;
        // The tasks read a copy of the job without [slurm] (which `profile` does not accept).
        let slurm_dir = job.output_dir.join("slurm");
        std::fs::create_dir_all(&slurm_dir)
            .with_context(|| format!("{}: cannot create", slurm_dir.display()))?;
        let copy = slurm_dir.join("profile.toml");
        hep_core::files::atomic_write_bytes(&copy, job_toml.as_bytes())?;
        let exe = hep_cli_support::current_program()?;
        let cfg = std::path::absolute(&copy).context("resolving the configuration path")?;
        let cfg = cfg.to_string_lossy().into_owned();
        hep_cli_support::submit(
            &slurm,
            pixel_monitor::profile_job::PROFILE_JOB,
            &job.output_dir,
            vec![
                exe.clone(),
                "profile".into(),
                "--config".into(),
                cfg.clone(),
            ],
            vec![exe, "merge".into(), "--config".into(), cfg],
        )
    }
}

/// Arguments of `merge-profiles`.
#[derive(Args)]
pub struct MergeProfilesArgs {
    /// Directory of the fragments.
    #[arg(short, long, value_name = "DIR")]
    input_directory: Option<PathBuf>,
    /// Merged profile file.
    #[arg(short, long, value_name = "FILE")]
    output_profile: Option<PathBuf>,
    /// upstream (later fragment wins; default) or gap_filling (jroloff).
    #[arg(long)]
    method: Option<String>,
    #[command(flatten)]
    common: Common,
}

impl MergeProfilesArgs {
    fn run(self) -> Result<()> {
        let mut o = Over::default();
        o.set("input_dir", self.input_directory)?;
        o.set("output", self.output_profile)?;
        o.set("method", self.method)?;
        self.common.apply(&mut o, true, false)?;
        let Some(job) =
            configure::<pixel_monitor::profile_job::MergeProfilesJob>(&self.common, &o)?
        else {
            return Ok(());
        };
        say!("{}", pixel_monitor::profile_job::run_merge_profiles(&job)?);
        Ok(())
    }
}

// ----- hamburg, simulate, run ----------------------------------------------------------------

/// Arguments of `hamburg`.
#[derive(Args)]
pub struct HamburgArgs {
    /// The Parquet profile (profile_<label>.parquet).
    #[arg(short, long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// Readout groups, comma separated (default all in the profile).
    #[arg(long = "readout-group", visible_alias = "rog", value_delimiter = ',')]
    readout_groups: Option<Vec<String>>,
    /// Do not fit alpha_I, alpha_0* and beta.
    #[arg(long)]
    no_fit: bool,
    /// Fit per readout_group, layer (default) or all.
    #[arg(long)]
    fit_per: Option<String>,
    /// Use the CMS-paper alpha_0(T) variant for the prediction.
    #[arg(long)]
    cms_alpha0: bool,
    /// Relative error of a measured current (default 0.01).
    #[arg(long)]
    current_error_rel: Option<f64>,
    /// Output directory (default data/hamburg).
    #[arg(short, long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// Plot directory (default plots/hamburg).
    #[arg(long, value_name = "DIR")]
    plots_dir: Option<PathBuf>,
    #[command(flatten)]
    common: Common,
}

impl HamburgArgs {
    fn run(self) -> Result<()> {
        let mut o = Over::default();
        o.set("profile", self.profile)?;
        o.set("readout_groups", self.readout_groups)?;
        o.set("fit", self.no_fit.then_some(false))?;
        o.set("fit_per", self.fit_per)?;
        o.flag("params.cms_alpha0", self.cms_alpha0)?;
        o.set("current_error_rel", self.current_error_rel)?;
        o.set("output_dir", self.output_dir)?;
        o.set("plots_dir", self.plots_dir)?;
        self.common.apply(&mut o, true, false)?;
        let Some(job) = configure::<pixel_monitor::hamburg_job::HamburgJob>(&self.common, &o)?
        else {
            return Ok(());
        };
        say!("{}", pixel_monitor::hamburg_job::run_hamburg(&job)?);
        Ok(())
    }
}

/// The configuration of `simulate`: the simulation and its output directory.
#[derive(Debug, Clone, PartialEq, Default, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
struct SimulateJob {
    /// Output directory (default `simulated`).
    out_dir: Option<PathBuf>,
    /// The simulation.
    simulation: pixel_monitor::simulate::SimConfig,
}

/// Arguments of `simulate`.
#[derive(Args)]
pub struct SimulateArgs {
    /// Output directory (default simulated).
    #[arg(short, long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    /// Master seed (default 2026).
    #[arg(long)]
    seed: Option<u64>,
    /// Start date YYYY-MM-DD (default 2024-04-01).
    #[arg(long, value_name = "DATE")]
    start_date: Option<String>,
    /// Length of the period (days, default 200).
    #[arg(long)]
    days: Option<f64>,
    /// First fill number (default 9800).
    #[arg(long)]
    first_fill: Option<u32>,
    /// Mean interval between CAEN changes of a channel (s, default 300; 200 days give about 1.5e7 rows).
    #[arg(long, value_name = "S")]
    caen_interval: Option<f64>,
    /// DCS export format: parquet (default), csv or both.
    #[arg(long)]
    dcs_format: Option<String>,
    /// Small test scale: one technical stop, coarse change rates, CSV and Parquet.
    #[arg(long)]
    small: bool,
    #[command(flatten)]
    config: ConfigArgs,
}

impl SimulateArgs {
    fn run(self) -> Result<()> {
        let mut o = Over::default();
        if self.small {
            let days = self.days.unwrap_or(10.0);
            let small = toml::Table::try_from(pixel_monitor::simulate::SimConfig::small(days))?;
            o.0.insert("simulation".into(), toml::Value::Table(small));
        }
        o.set("out_dir", self.out_dir)?;
        o.set("simulation.seed", self.seed)?;
        o.set("simulation.start_date", self.start_date)?;
        o.set("simulation.days", self.days)?;
        o.set("simulation.first_fill", self.first_fill)?;
        o.set("simulation.caen_interval_s", self.caen_interval)?;
        o.set("simulation.dcs_format", self.dcs_format)?;
        let job: SimulateJob = load_config(self.config.config.as_deref(), &o.0)?;
        if self.config.print_config {
            print_config(&job)?;
            return Ok(());
        }
        let out = job.out_dir.clone().unwrap_or_else(|| "simulated".into());
        let bar = Bar::new();
        let sim = pixel_monitor::simulate::Simulation::new(&job.simulation)?;
        let files = sim.write(&out, &bar)?;
        // `+ 0.0`: the empty sum is -0.0, which would print as "-0.00".
        let lumi: f64 = sim
            .fills
            .iter()
            .map(|f| f.lumi(f.start, f.end))
            .sum::<f64>()
            + 0.0;
        say!(
            "simulate: {} days from {}, {} fills, {:.2} fb^-1 delivered\n  wrote {} files in {}\n",
            job.simulation.days,
            job.simulation.start_date,
            sim.fills.len(),
            lumi,
            files.len(),
            out.display()
        );
        Ok(())
    }
}

/// Arguments of `run`.
#[derive(Args)]
pub struct RunArgs {
    /// Output directory (default out).
    #[arg(short, long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    /// Take every input from a directory written by `simulate`.
    #[arg(long, value_name = "DIR")]
    simulated: Option<PathBuf>,
    #[command(flatten)]
    range: FillRange,
    #[command(flatten)]
    common: Common,
}

impl RunArgs {
    fn run(self) -> Result<()> {
        let mut o = Over::default();
        o.set("out_dir", self.out_dir)?;
        if let Some(d) = &self.simulated {
            let inputs = toml::Table::try_from(
                pixel_monitor::pipeline::PipelineConfig::simulated_inputs(d),
            )?;
            o.0.insert("inputs".into(), toml::Value::Table(inputs));
        }
        o.set("first_fill", self.range.first_fill)?;
        o.set("last_fill", self.range.last_fill)?;
        self.common.apply(&mut o, true, true)?;
        let Some(cfg) = configure::<pixel_monitor::pipeline::PipelineConfig>(&self.common, &o)?
        else {
            return Ok(());
        };
        let bar = Bar::new();
        say!("{}", pixel_monitor::pipeline::run(&cfg, &bar)?);
        Ok(())
    }
}
