//! The whole chain from one configuration (`run`), and the demo (`run_demo`): a simulated period
//! through the chain with a per-layer summary.
//!
//! `run` writes the original's layout under [`PipelineConfig::out_dir`]:
//!
//! ```text
//! data/fills_info/fills.csv                       fills with stable beams
//! data/luminosity/integrated_luminosity_per_fill.csv
//! data/currents/from_database/<fill>_Barrel.txt   CAEN channels at the measurement time
//! data/currents/processed/<fill>_Barrel_{HV_ByLayer,Ana,Dig}.txt
//! data/temperatures/readout_group/BPix/<fill>.txt
//! data/temperatures/air/<fill>.txt
//! data/temperatures/annealing/<sensor>.txt
//! data/fluence/fluence_field_<suffix>.parquet     (+ txt_files/)
//! data/radiation_simulation/profiles/<ROG>/profile_<ROG>_<label>.txt, profile_<label>.parquet
//! data/hamburg/hamburg_per_fill.csv, hamburg_fit.csv
//! plots/{currents,temperatures,fluence,profiles,hamburg}/
//! ```
//!
//! with Parquet tables beside the text files and a manifest beside every file. The DCS exports
//! are read once and shared by the steps.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use hep_core::progress::Progress;
use serde::{Deserialize, Serialize};

use crate::config::{Compat, CrossSections, Lookback, TemperatureModel};
use crate::currents::CurrentsSettings;
use crate::dcs::{DcsKind, DcsStore};
use crate::error::{Error, Result};
use crate::hamburg::HamburgParams;
use crate::hamburg_job::{FitGrouping, HamburgJob, HamburgReport};
use crate::jobs::{
    self, AnnealingJob, CurrentsFromDbJob, FillsJob, FluenceFieldJob, LumiJob, PlcTemperaturesJob,
    RogTemperaturesJob,
};
use crate::lumi::LsLumi;
use crate::normalise::Normalisation;
use crate::plots::{
    PlotAzimuthJob, PlotCurrentsJob, PlotFormat, PlotTemperaturesJob, Quantity, XAxis,
};
use crate::profile::ProfileSettings;
use crate::profile_job::{ProfileData, ProfileJob, ProfileReport, run_profile_with};
use crate::simulate::{SimConfig, Simulation};
use crate::time::TimeSettings;

/// The inputs of the chain.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineInputs {
    /// OMS fills export (JSON:API or CSV).
    pub fills: Option<PathBuf>,
    /// Per-fill luminosity: OMS JSON:API or brilcalc CSV (default: `lumi_byls`).
    pub lumi: Option<PathBuf>,
    /// brilcalc per-lumisection CSV (`--byls --tssec`), for the profile.
    pub lumi_byls: Option<PathBuf>,
    /// CAEN export.
    pub caen: Option<PathBuf>,
    /// PLC export.
    pub plc: Option<PathBuf>,
    /// HV export.
    pub hv: Option<PathBuf>,
    /// FLUKA USRBIN ASCII file.
    pub fluka: Option<PathBuf>,
    /// Bad-fill list (`None`: the crate's table).
    pub bad_fills: Option<PathBuf>,
    /// Cross-section table (`None`: the shipped one).
    pub cross_sections: Option<PathBuf>,
}

/// Which steps `run` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Steps {
    /// Leakage and LV currents per fill.
    pub currents: bool,
    /// Readout-group temperatures per fill.
    pub temperatures: bool,
    /// Air temperatures per fill.
    pub air: bool,
    /// Annealing daily temperatures.
    pub annealing: bool,
    /// Radiation profiles.
    pub profile: bool,
    /// Hamburg-model comparison and fit.
    pub hamburg: bool,
    /// Plots.
    pub plots: bool,
}

impl Default for Steps {
    fn default() -> Self {
        Self {
            currents: true,
            temperatures: true,
            air: true,
            annealing: true,
            profile: true,
            hamburg: true,
            plots: true,
        }
    }
}

/// Plot settings of the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelinePlots {
    /// Format.
    pub format: PlotFormat,
    /// Normalisation of the leakage-current plots (default per volume).
    pub normalisation: Normalisation,
    /// Reference temperature of the leakage-current plots (°C, default 0).
    pub t_ref_c: Option<f64>,
    /// Readout groups whose profile is drawn.
    pub profiles_for: Vec<String>,
}

impl Default for PipelinePlots {
    fn default() -> Self {
        Self {
            format: PlotFormat::Png,
            normalisation: Normalisation::PerVolume,
            t_ref_c: Some(0.0),
            profiles_for: vec!["BPix_BmI_SEC1_LYR1".into(), "BPix_BmI_SEC1_LYR4".into()],
        }
    }
}

/// The configuration of `run`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// Output directory (the original's `data/` and `plots/` go below it; default `out`).
    pub out_dir: PathBuf,
    /// First fill.
    pub first_fill: Option<u32>,
    /// Last fill.
    pub last_fill: Option<u32>,
    /// Inputs.
    pub inputs: PipelineInputs,
    /// Steps.
    pub steps: Steps,
    /// Zones.
    pub time: TimeSettings,
    /// Compatibility switches.
    pub compat: Compat,
    /// Look-back bounds.
    pub lookback: Lookback,
    /// Temperature model.
    pub model: TemperatureModel,
    /// Per-fill current readout.
    pub currents: CurrentsSettings,
    /// Profile steps.
    pub profile: ProfileSettings,
    /// Readout groups of the profile (empty: all 128).
    pub profile_readout_groups: Vec<String>,
    /// Hamburg parameters (fit start and prediction).
    pub hamburg: HamburgParams,
    /// Grouping of the Hamburg fits.
    pub hamburg_fit_per: FitGrouping,
    /// Plots.
    pub plots: PipelinePlots,
    /// Suffix of the fluence-field files (`fluence_field_<suffix>.parquet`).
    pub fluence_suffix: String,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            out_dir: "out".into(),
            first_fill: None,
            last_fill: None,
            inputs: PipelineInputs::default(),
            steps: Steps::default(),
            time: TimeSettings::default(),
            compat: Compat::default(),
            lookback: Lookback::default(),
            model: TemperatureModel::default(),
            currents: CurrentsSettings::default(),
            profile: ProfileSettings::default(),
            profile_readout_groups: Vec::new(),
            hamburg: HamburgParams::default(),
            hamburg_fit_per: FitGrouping::Layer,
            plots: PipelinePlots::default(),
            fluence_suffix: "phase1".into(),
        }
    }
}

impl PipelineConfig {
    /// The inputs of the files `simulate` writes into `dir`.
    pub fn simulated_inputs(dir: &Path) -> PipelineInputs {
        let pick = |stem: &str| {
            let p = dir.join(format!("{stem}.parquet"));
            Some(if p.is_file() {
                p
            } else {
                dir.join(format!("{stem}.csv"))
            })
        };
        PipelineInputs {
            fills: Some(dir.join("fills.json")),
            lumi: Some(dir.join("fills.json")),
            lumi_byls: Some(dir.join("lumi_byls.csv")),
            caen: pick("caen"),
            plc: pick("plc"),
            hv: pick("hv"),
            fluka: Some(dir.join("fluka_usrbin_ascii.txt")),
            bad_fills: None,
            cross_sections: None,
        }
    }
}

/// What `run` did.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineReport {
    /// Fills in the range.
    pub fills: usize,
    /// Step reports, as text.
    pub steps: Vec<String>,
    /// The profile report.
    pub profile: Option<ProfileReport>,
    /// The Hamburg report.
    pub hamburg: Option<HamburgReport>,
    /// Files written.
    pub files: usize,
    /// Wall time per step (s).
    pub seconds: Vec<(String, f64)>,
    /// The output directory.
    pub out_dir: PathBuf,
}

impl fmt::Display for PipelineReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.steps {
            write!(f, "{s}")?;
        }
        let t: Vec<String> = self
            .seconds
            .iter()
            .map(|(k, v)| format!("{k} {v:.2} s"))
            .collect();
        writeln!(
            f,
            "run: {} files under {} ({})",
            self.files,
            self.out_dir.display(),
            t.join(", ")
        )
    }
}

fn need<'a>(p: &'a Option<PathBuf>, what: &str) -> Result<&'a Path> {
    p.as_deref()
        .ok_or_else(|| Error::Config(format!("run: missing input `inputs.{what}`")))
}

/// Runs the chain (see the module documentation).
///
/// # Errors
/// Input, configuration and I/O errors of any step.
pub fn run(cfg: &PipelineConfig, progress: &dyn Progress) -> Result<PipelineReport> {
    let out = &cfg.out_dir;
    let data = out.join("data");
    let inp = &cfg.inputs;
    let mut report = PipelineReport {
        fills: 0,
        steps: Vec::new(),
        profile: None,
        hamburg: None,
        files: 0,
        seconds: Vec::new(),
        out_dir: out.clone(),
    };
    let mut clock = Instant::now();
    let mut lap = |report: &mut PipelineReport, name: &str| {
        report
            .seconds
            .push((name.to_string(), clock.elapsed().as_secs_f64()));
        clock = Instant::now();
    };
    // Fills and luminosity.
    let fills_job = FillsJob {
        input: Some(need(&inp.fills, "fills")?.to_path_buf()),
        output_dir: data.join("fills_info"),
        selection: crate::fills::FillSelection {
            first_fill: cfg.first_fill,
            last_fill: cfg.last_fill,
            ..Default::default()
        },
        bad_fills: inp.bad_fills.clone(),
        time: cfg.time.clone(),
        ..FillsJob::default()
    };
    let r = jobs::run_fills(&fills_job)?;
    report.files += r.outputs.len();
    report.steps.push(r.to_string());
    let fills_csv = data.join("fills_info/fills.csv");
    let fills = jobs::load_fills(&fills_csv, None, None, &cfg.time)?;
    report.fills = fills.len();
    let lumi_in = inp
        .lumi
        .clone()
        .or_else(|| inp.lumi_byls.clone())
        .ok_or_else(|| Error::Config("run: missing input `inputs.lumi`".into()))?;
    let lumi_job = LumiJob {
        input: Some(lumi_in),
        output_dir: data.join("luminosity"),
        first_fill: cfg.first_fill.unwrap_or(1005),
        last_fill: cfg.last_fill,
        compat: cfg.compat,
        time: cfg.time.clone(),
        ..LumiJob::default()
    };
    let r = jobs::run_lumi(&lumi_job)?;
    report.files += r.outputs.len();
    report.steps.push(r.to_string());
    let lumi_csv = data.join("luminosity/integrated_luminosity_per_fill.csv");
    lap(&mut report, "fills and luminosity");
    // The DCS exports, once.
    let reader = cfg.time.reader()?;
    let need_caen = cfg.steps.currents || cfg.steps.profile;
    let need_plc =
        cfg.steps.temperatures || cfg.steps.air || cfg.steps.annealing || cfg.steps.profile;
    let caen_path = if need_caen {
        Some(need(&inp.caen, "caen")?)
    } else {
        None
    };
    let plc_path = if need_plc {
        Some(need(&inp.plc, "plc")?)
    } else {
        None
    };
    let ((caen, plc), hv) = rayon::join(
        || {
            rayon::join(
                || {
                    caen_path
                        .map(|p| DcsStore::read(p, DcsKind::Caen, &reader))
                        .transpose()
                },
                || {
                    plc_path
                        .map(|p| DcsStore::read(p, DcsKind::Plc, &reader))
                        .transpose()
                },
            )
        },
        || {
            inp.hv
                .as_deref()
                .map(|p| DcsStore::read(p, DcsKind::Hv, &reader))
                .transpose()
        },
    );
    let (caen, plc, hv) = (caen?, plc?, hv?);
    lap(&mut report, "reading the DCS exports");
    if let Some(store) = &caen
        && cfg.steps.currents
    {
        let job = CurrentsFromDbJob {
            fills: Some(fills_csv.clone()),
            caen: inp.caen.clone(),
            output_dir: data.join("currents/from_database"),
            currents: cfg.currents,
            time: cfg.time.clone(),
            ..CurrentsFromDbJob::default()
        };
        let (r, _) = jobs::run_currents_from_db_with(
            &job,
            &fills,
            store,
            Some(&data.join("currents/processed")),
        )?;
        report.files += r.outputs.len();
        report.steps.push(r.to_string());
        lap(&mut report, "currents");
    }
    if let Some(plc) = &plc {
        if cfg.steps.temperatures {
            let job = RogTemperaturesJob {
                fills: Some(fills_csv.clone()),
                plc: inp.plc.clone(),
                hv: inp.hv.clone(),
                output_dir: data.join("temperatures/readout_group"),
                measurement_delay_s: cfg.currents.measurement_delay_s,
                lookback: cfg.lookback,
                model: cfg.model,
                compat: cfg.compat,
                time: cfg.time.clone(),
                ..RogTemperaturesJob::default()
            };
            let r = jobs::run_rog_temperatures_with(&job, &fills, plc, hv.as_ref())?;
            report.files += r.outputs.len();
            report.steps.push(r.to_string());
        }
        if cfg.steps.air {
            let job = PlcTemperaturesJob {
                fills: Some(fills_csv.clone()),
                plc: inp.plc.clone(),
                output_dir: Some(data.join("temperatures/air")),
                time: cfg.time.clone(),
                ..PlcTemperaturesJob::default()
            };
            let r = jobs::run_plc_temperatures_with(&job, &fills, plc)?;
            report.files += r.outputs.len();
            report.steps.push(r.to_string());
        }
        if cfg.steps.annealing
            && let (Some(a), Some(b)) = (fills.first(), fills.last())
        {
            let job = AnnealingJob {
                plc: inp.plc.clone(),
                output_dir: data.join("temperatures/annealing"),
                compat: cfg.compat,
                time: cfg.time.clone(),
                ..AnnealingJob::default()
            };
            let start = crate::time::to_naive(a.start_stable_beam).date();
            let end = crate::time::to_naive(b.end_stable_beam).date();
            let sensors = crate::geometry::Geometry::phase1()
                .temperature_sensors
                .clone();
            let (r, files) = jobs::run_annealing_with(&job, plc, start, end, &sensors)?;
            report.files += files.len();
            report.steps.push(r.to_string());
        }
        lap(&mut report, "temperatures");
    }
    // Fluence field.
    let field_parquet = data.join(format!(
        "fluence/fluence_field_{}.parquet",
        cfg.fluence_suffix
    ));
    let mut field_path = None;
    if let Some(fluka) = &inp.fluka {
        let job = FluenceFieldJob {
            input: Some(fluka.clone()),
            output_dir: data.join("fluence"),
            txt_dir: data.join("fluence/txt_files"),
            suffix: cfg.fluence_suffix.clone(),
            texts: false,
            plots: cfg.steps.plots,
            plots_dir: out.join("plots/fluence"),
            plot_format: cfg.plots.format,
            compat: cfg.compat,
        };
        let r = jobs::run_fluence_field(&job)?;
        report.files += r.outputs.len();
        report.steps.push(r.to_string());
        field_path = Some(field_parquet.clone());
        lap(&mut report, "fluence field");
    }
    // Profiles.
    let profile_dir = data.join("radiation_simulation/profiles");
    let mut profile_parquet = None;
    if cfg.steps.profile {
        let (Some(caen), Some(plc)) = (caen, plc) else {
            return Err(Error::Config(
                "run: the profile needs the CAEN and PLC exports".into(),
            ));
        };
        let fp = field_path
            .clone()
            .ok_or_else(|| Error::Config("run: the profile needs `inputs.fluka`".into()))?;
        let job = ProfileJob {
            fills: Some(fills_csv.clone()),
            lumi: inp.lumi_byls.clone(),
            caen: inp.caen.clone(),
            plc: inp.plc.clone(),
            hv: inp.hv.clone(),
            field: Some(fp.clone()),
            cross_sections: inp.cross_sections.clone(),
            readout_groups: cfg.profile_readout_groups.clone(),
            output_dir: profile_dir.clone(),
            settings: cfg.profile.clone(),
            lookback: cfg.lookback,
            model: cfg.model,
            compat: cfg.compat,
            time: cfg.time.clone(),
            plots_for: if cfg.steps.plots {
                cfg.plots.profiles_for.clone()
            } else {
                Vec::new()
            },
            plots_dir: out.join("plots/profiles"),
            plot_format: cfg.plots.format,
            ..ProfileJob::default()
        };
        let lumi_byls = need(&inp.lumi_byls, "lumi_byls")?;
        let pdata = ProfileData {
            fills: fills.clone(),
            lumi: LsLumi::from_table(&crate::lumi::read_brilcalc(lumi_byls, &reader)?)?,
            caen,
            plc,
            hv,
            field: jobs::load_field(&fp, &cfg.compat)?,
            cross_sections: CrossSections::load(inp.cross_sections.as_deref())?,
        };
        let r = run_profile_with(&job, &pdata, None, progress)?;
        report.files += r.outputs.len();
        report.steps.push(r.to_string());
        profile_parquet = Some(profile_dir.join(ProfileJob::parquet_name(&job.label_for(&fills))));
        report.profile = Some(r);
        lap(&mut report, "profiles");
    }
    if let (true, Some(pp)) = (cfg.steps.hamburg, &profile_parquet) {
        let job = HamburgJob {
            profile: Some(pp.clone()),
            params: cfg.hamburg,
            fit_per: cfg.hamburg_fit_per,
            output_dir: data.join("hamburg"),
            plots_dir: out.join("plots/hamburg"),
            plot_format: cfg.plots.format,
            compat: cfg.compat,
            ..HamburgJob::default()
        };
        let r = crate::hamburg_job::run_hamburg(&job)?;
        report.files += r.outputs.len();
        report.steps.push(r.to_string());
        report.hamburg = Some(r);
        lap(&mut report, "Hamburg model");
    }
    if cfg.steps.plots && cfg.steps.currents && cfg.steps.temperatures {
        let base = PlotCurrentsJob {
            fills: Some(fills_csv.clone()),
            lumi: Some(lumi_csv.clone()),
            bad_fills: inp.bad_fills.clone(),
            currents_dir: data.join("currents/processed"),
            temperatures_dir: data.join("temperatures/readout_group"),
            output_dir: out.join("plots/currents"),
            normalisation: cfg.plots.normalisation,
            t_ref_c: cfg.plots.t_ref_c,
            field: field_path.clone(),
            format: cfg.plots.format,
            compat: cfg.compat,
            time: cfg.time.clone(),
            ..PlotCurrentsJob::default()
        };
        let mut variants = vec![
            (XAxis::Lumi, Quantity::Leakage),
            (XAxis::Fill, Quantity::Leakage),
            (XAxis::Time, Quantity::Leakage),
        ];
        if field_path.is_some() {
            variants.push((XAxis::Fluence, Quantity::Leakage));
        }
        variants.push((XAxis::Lumi, Quantity::Digital));
        variants.push((XAxis::Lumi, Quantity::Analog));
        for (x, q) in variants {
            let r = crate::plots::run_plot_currents(&PlotCurrentsJob {
                x,
                quantity: q,
                ..base.clone()
            })?;
            report.files += r.outputs.len();
            report.steps.push(r.to_string());
        }
        if let Some(last) = fills.last() {
            for layer in 1..=4 {
                let job = PlotAzimuthJob {
                    fill: Some(last.fill),
                    layer,
                    normalisation: cfg.plots.normalisation,
                    t_ref_c: cfg.plots.t_ref_c,
                    currents_dir: data.join("currents/processed"),
                    temperatures_dir: data.join("temperatures/readout_group"),
                    lumi: Some(lumi_csv.clone()),
                    output_dir: out.join("plots/currents"),
                    format: cfg.plots.format,
                    compat: cfg.compat,
                    ..PlotAzimuthJob::default()
                };
                let r = crate::plots::run_plot_azimuth(&job)?;
                report.files += r.outputs.len();
                report.steps.push(r.to_string());
            }
        }
        if cfg.steps.air {
            let job = PlotTemperaturesJob {
                input_dir: data.join("temperatures/air"),
                fills: Some(fills_csv.clone()),
                output_dir: out.join("plots/temperatures"),
                format: cfg.plots.format,
                time: cfg.time.clone(),
                ..PlotTemperaturesJob::default()
            };
            let r = crate::plots::run_plot_temperatures(&job)?;
            report.files += r.outputs.len();
            report.steps.push(r.to_string());
        }
        lap(&mut report, "plots");
    }
    Ok(report)
}

/// The demo's options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DemoConfig {
    /// Master seed.
    pub seed: u64,
    /// Days simulated.
    pub days: f64,
    /// Mean interval between CAEN changes (s).
    pub caen_interval_s: f64,
    /// Work directory (`None`: a temporary directory, removed at the end).
    pub work_dir: Option<PathBuf>,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            seed: 2026,
            days: 200.0,
            caen_interval_s: 600.0,
            work_dir: None,
        }
    }
}

/// One layer of the demo's summary.
#[derive(Debug, Clone, Serialize)]
pub struct DemoLayer {
    /// Layer.
    pub layer: u8,
    /// Mean fluence of its readout groups at the last fill (n_eq cm⁻²).
    pub fluence: f64,
    /// Measured current per volume at 20 °C (µA cm⁻³), mean of the readout groups.
    pub measured: f64,
    /// Hamburg prediction with the published parameters (µA cm⁻³).
    pub predicted: f64,
    /// Fitted (α_I, α_0*, β) with errors (A/cm), if the fit converged.
    pub fit: Option<([f64; 3], [f64; 3])>,
}

/// What the demo did.
#[derive(Debug, Clone, Serialize)]
pub struct DemoSummary {
    /// The options.
    pub config: DemoConfig,
    /// Fills simulated.
    pub fills: usize,
    /// Delivered luminosity (fb⁻¹).
    pub delivered_fb: f64,
    /// CAEN change rows.
    pub caen_rows: usize,
    /// Per layer.
    pub layers: Vec<DemoLayer>,
    /// Temperature look-backs of the profile (values, looked back, at bound).
    pub lookbacks: (usize, usize, usize),
    /// Where the plots are (`None` if the work directory was temporary).
    pub plots_dir: Option<PathBuf>,
    /// Seconds: simulation, chain.
    pub seconds: (f64, f64),
}

impl fmt::Display for DemoSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "  simulated {} days: {} fills, {:.1} fb^-1 delivered, {} CAEN change rows",
            self.config.days, self.fills, self.delivered_fb, self.caen_rows
        )?;
        writeln!(
            f,
            "  layer | fluence (n_eq/cm2) | I/V at 20 C measured | Hamburg prediction | ratio | fitted alpha_I, alpha_0*, beta (1e-17 A/cm)"
        )?;
        for l in &self.layers {
            let fit = l.fit.map_or("-".to_string(), |(p, e)| {
                format!(
                    "{:.2}+-{:.2}, {:.2}+-{:.2}, {:.3}+-{:.3}",
                    p[0] * 1e17,
                    e[0] * 1e17,
                    p[1] * 1e17,
                    e[1] * 1e17,
                    p[2] * 1e17,
                    e[2] * 1e17
                )
            });
            writeln!(
                f,
                "  {:>5} | {:>18.3e} | {:>14.1} uA/cm3 | {:>12.1} uA/cm3 | {:.3} | {}",
                l.layer,
                l.fluence,
                l.measured,
                l.predicted,
                l.measured / l.predicted,
                fit
            )?;
        }
        writeln!(
            f,
            "  (published: alpha_I 1.23, alpha_0* 7.07, beta 0.329; the simulated current follows them)"
        )?;
        writeln!(
            f,
            "  profile temperatures: {} values, {} looked back, {} at the look-back bound",
            self.lookbacks.0, self.lookbacks.1, self.lookbacks.2
        )?;
        match &self.plots_dir {
            Some(p) => writeln!(f, "  plots in {}", p.display())?,
            None => writeln!(
                f,
                "  (temporary work directory removed; hep-demo keeps them in --output DIR)"
            )?,
        }
        writeln!(
            f,
            "  time: simulation {:.1} s, chain {:.1} s",
            self.seconds.0, self.seconds.1
        )
    }
}

/// Simulates a period, runs the whole chain on it and summarises per layer.
///
/// # Errors
/// Any simulation or chain error.
pub fn run_demo(cfg: &DemoConfig, progress: &dyn Progress) -> Result<DemoSummary> {
    let tmp;
    let work: PathBuf = match &cfg.work_dir {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
            tmp.path().to_path_buf()
        }
    };
    let t = Instant::now();
    let sim_cfg = SimConfig {
        seed: cfg.seed,
        days: cfg.days,
        caen_interval_s: cfg.caen_interval_s,
        ..SimConfig::default()
    };
    let sim = Simulation::new(&sim_cfg)?;
    let sim_dir = work.join("simulated");
    sim.write(&sim_dir, progress)?;
    let t_sim = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let pcfg = PipelineConfig {
        out_dir: work.join("run"),
        inputs: PipelineConfig::simulated_inputs(&sim_dir),
        ..PipelineConfig::default()
    };
    let rep = run(&pcfg, progress)?;
    let t_run = t.elapsed().as_secs_f64();
    let caen_rows = hep_core::io::ParquetReader::open(sim_dir.join("caen.parquet"))
        .map(|r| r.num_rows() as usize)
        .unwrap_or(0);
    let hamburg = rep.hamburg.as_ref();
    let layers = hamburg
        .map(|h| {
            h.layers
                .iter()
                .map(|&(layer, fluence, measured, predicted)| DemoLayer {
                    layer,
                    fluence,
                    measured,
                    predicted,
                    fit: h
                        .fits
                        .iter()
                        .find(|g| g.group == format!("layer {layer}"))
                        .map(|g| (g.fit.params, g.fit.errors)),
                })
                .collect()
        })
        .unwrap_or_default();
    let lookbacks = rep.profile.as_ref().map_or((0, 0, 0), |p| {
        let t = &p.values.temperatures;
        (t.values, t.looked_back, t.incomplete)
    });
    Ok(DemoSummary {
        config: cfg.clone(),
        fills: sim.fills.len(),
        delivered_fb: sim.fills.iter().map(|f| f.lumi(f.start, f.end)).sum(),
        caen_rows,
        layers,
        lookbacks,
        plots_dir: cfg.work_dir.as_ref().map(|_| work.join("run/plots")),
        seconds: (t_sim, t_run),
    })
}
