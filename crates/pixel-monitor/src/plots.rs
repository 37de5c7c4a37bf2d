//! Plots (PNG by default, SVG on request), each with the CSV of its points beside it
//! (`<plot stem>.csv`), drawn with hep-core's plot helpers (`plot_currents.py`,
//! `plot_currents_vs_azimuth.py`, `plotTemperatures.py`, `fluence_plots.py` of PixelMonitoring,
//! and the profile and Hamburg-model comparisons of the consumer code).
//!
//! | job / function | plot |
//! |---|---|
//! | [`PlotCurrentsJob`] | leakage current per layer (mean over its readout groups; per ROC, per cm³, optionally scaled to a reference temperature) against integrated luminosity, fill, fluence or time; or the digital / analog LV currents per layer pair |
//! | [`PlotAzimuthJob`] | the leakage current of each readout group of one layer against its mean azimuth, −z and +z; or the difference between two fills |
//! | [`PlotTemperaturesJob`] | the mean air or pipe temperature per fill against fill number or integrated luminosity |
//! | [`field_plots`] | the FLUKA field map (log10 of the fluence per collision) and its r and z projections |
//! | [`profile_plots`] | a readout group's profile: temperature, fluence rate and leakage current against time |
//! | [`hamburg_plot`] | measured leakage current per volume at the reference temperature against the Hamburg prediction |
//!
//! The original's plot defects are not reproduced: the legend names all layers, the y title says
//! the normalisation, and the reference temperature is in °C (its kelvin reading is the
//! `tref_kelvin` compatibility switch).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use hep_core::plot::{self, Map2D, PlotOptions, Series};
use serde::{Deserialize, Serialize};

use crate::config::{Compat, CrossSections};
use crate::constants::ZERO_CELSIUS_K;
use crate::currents::{SubSystem, read_keyed_text};
use crate::error::{Error, Result};
use crate::fills::Fill;
use crate::fluence::{FlukaField, RogFluence};
use crate::geometry::Geometry;
use crate::lumi::FillLumi;
use crate::normalise::{Normalisation, layer_average, scale_to_temperature};
use crate::output::Outputs;
use crate::time::{TimeSettings, US_PER_DAY};

/// Plot file format: hep-core's [`hep_core::plot::Format`] (PNG by default; `png`/`svg` in
/// configurations).
pub use hep_core::plot::Format as PlotFormat;

/// Writes the CSV of a plot's points: `series,<x>,<y>` rows (csv crate quoting).
fn write_points(path: &Path, x_name: &str, y_name: &str, series: &[Series]) -> Result<()> {
    let err = |e: csv::Error| Error::io(path, std::io::Error::other(e));
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(["series", x_name, y_name]).map_err(err)?;
    for se in series {
        for (x, y) in &se.points {
            out.write_record([
                se.label.as_str(),
                &crate::pyfmt::repr(*x),
                &crate::pyfmt::repr(*y),
            ])
            .map_err(err)?;
        }
    }
    let bytes = out
        .into_inner()
        .map_err(|e| Error::io(path, std::io::Error::other(e.to_string())))?;
    hep_core::io::atomic_write_bytes(path, &bytes)?;
    Ok(())
}

/// Draws markers (and optional lines) and writes the CSV beside; returns both paths.
fn draw(
    dir: &Path,
    stem: &str,
    format: PlotFormat,
    markers: &[Series],
    lines: &[Series],
    opts: &PlotOptions,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let img = dir.join(format!("{stem}.{}", format.extension()));
    let csv = dir.join(format!("{stem}.csv"));
    // Room above the data for the legend (upper right) when it has several entries.
    let entries = markers
        .iter()
        .chain(lines)
        .filter(|s| !s.label.is_empty())
        .count();
    let mut opts = opts.clone();
    if opts.y_range.is_none() && !opts.log_y && entries >= 2 {
        let ys: Vec<f64> = markers
            .iter()
            .chain(lines)
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .filter(|y| y.is_finite())
            .collect();
        if let (Some(lo), Some(hi)) = (
            ys.iter().copied().reduce(f64::min),
            ys.iter().copied().reduce(f64::max),
        ) && hi > lo
        {
            let span = hi - lo;
            opts = opts.with_y_range(
                lo - 0.05 * span,
                hi + (0.12 * entries as f64).min(0.6) * span,
            );
        }
    }
    let opts = &opts;
    plot::scatter_series(&img, markers, lines, opts)?;
    let mut all: Vec<Series> = markers.to_vec();
    all.extend(
        lines
            .iter()
            .map(|l| Series::new(format!("{} (line)", l.label), l.points.clone())),
    );
    write_points(&csv, &opts.x_label, &opts.y_label, &all)?;
    Ok(vec![img, csv])
}

/// The x axis of the current plots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum XAxis {
    /// Integrated delivered luminosity (fb⁻¹).
    #[default]
    Lumi,
    /// Fill number.
    Fill,
    /// Fluence of the layer (n_eq cm⁻²), from the FLUKA field.
    Fluence,
    /// Days since the first fill.
    Time,
}

impl XAxis {
    fn file_part(self) -> &'static str {
        match self {
            XAxis::Lumi => "integrated_lumi",
            XAxis::Fill => "fill_number",
            XAxis::Fluence => "fluence",
            XAxis::Time => "time",
        }
    }
}

/// Which current a current plot shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Quantity {
    /// HV leakage current per layer.
    #[default]
    Leakage,
    /// Digital LV current per layer pair.
    Digital,
    /// Analog LV current per layer pair.
    Analog,
}

/// `plot-currents`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlotCurrentsJob {
    /// Fills file.
    pub fills: Option<PathBuf>,
    /// Per-fill luminosity CSV (`integrated_luminosity_per_fill.csv`).
    pub lumi: Option<PathBuf>,
    /// Bad-fill list (`None`: the crate's table).
    pub bad_fills: Option<PathBuf>,
    /// Processed currents directory (default `data/currents/processed`).
    pub currents_dir: PathBuf,
    /// Readout-group temperatures directory (default `data/temperatures/readout_group`).
    pub temperatures_dir: PathBuf,
    /// Output directory (default `plots/currents`).
    pub output_dir: PathBuf,
    /// First fill.
    pub first_fill: Option<u32>,
    /// Last fill.
    pub last_fill: Option<u32>,
    /// Era label for the file name and title (default `<first>_<last>`).
    pub era: Option<String>,
    /// x axis.
    pub x: XAxis,
    /// Layers to draw (default all four).
    pub layers: Vec<u8>,
    /// Leakage, digital or analog current.
    pub quantity: Quantity,
    /// Normalisation of the leakage current.
    pub normalisation: Normalisation,
    /// Reference temperature (°C; kelvin with `tref_kelvin`); `None`: no scaling.
    pub t_ref_c: Option<f64>,
    /// y range; `None`: from the data.
    pub y_range: Option<[f64; 2]>,
    /// FLUKA field (for `x = "fluence"`).
    pub field: Option<PathBuf>,
    /// Sub-system.
    pub sub_system: SubSystem,
    /// Plot format.
    pub format: PlotFormat,
    /// Compatibility switches (`tref_kelvin`, `rog_fluence_sum`, `boltzmann_2010`).
    pub compat: Compat,
    /// Zones.
    pub time: TimeSettings,
}

impl Default for PlotCurrentsJob {
    fn default() -> Self {
        Self {
            fills: None,
            lumi: None,
            bad_fills: None,
            currents_dir: "data/currents/processed".into(),
            temperatures_dir: "data/temperatures/readout_group".into(),
            output_dir: "plots/currents".into(),
            first_fill: None,
            last_fill: None,
            era: None,
            x: XAxis::Lumi,
            layers: vec![1, 2, 3, 4],
            quantity: Quantity::Leakage,
            normalisation: Normalisation::None,
            t_ref_c: None,
            y_range: None,
            field: None,
            sub_system: SubSystem::Barrel,
            format: PlotFormat::Png,
            compat: Compat::default(),
            time: TimeSettings::default(),
        }
    }
}

/// The files a plot job wrote.
#[derive(Debug, Clone, Serialize)]
pub struct PlotReport {
    /// What was drawn.
    pub what: String,
    /// Points per series.
    pub points: Vec<(String, usize)>,
    /// Fills skipped (bad, without files).
    pub skipped_fills: usize,
    /// Files written.
    pub outputs: Vec<PathBuf>,
}

impl fmt::Display for PlotReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pts: Vec<String> = self
            .points
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .collect();
        writeln!(
            f,
            "{}: {} ({} fills skipped)",
            self.what,
            pts.join(", "),
            self.skipped_fills
        )?;
        for p in &self.outputs {
            writeln!(f, "  wrote {}", p.display())?;
        }
        Ok(())
    }
}

/// The reference temperature in kelvin: °C + 273.15, or taken as kelvin with `tref_kelvin`.
///
/// # Errors
/// [`Error::Config`] for a non-positive kelvin value (the original divides by zero at
/// `-tref 0` with its kelvin reading).
pub fn t_ref_k(t_ref: f64, compat: &Compat) -> Result<f64> {
    let k = if compat.tref_kelvin {
        t_ref
    } else {
        t_ref + ZERO_CELSIUS_K
    };
    if !(k > 0.0) {
        return Err(Error::Config(format!(
            "reference temperature {t_ref} gives {k} K{}",
            if compat.tref_kelvin {
                " (the tref_kelvin switch reads it as kelvin, as the original)"
            } else {
                ""
            }
        )));
    }
    Ok(k)
}

/// The y-axis title of a leakage-current plot, e.g. `I_leak (uA / ROC) at 0 °C`.
pub fn current_title(text: &str, norm: Normalisation, t_ref_k: Option<f64>) -> String {
    let mut s = format!("{text} (uA{})", norm.unit_suffix());
    if let Some(t) = t_ref_k {
        s.push_str(&format!(
            " at {} °C",
            crate::pyfmt::repr(((t - ZERO_CELSIUS_K) * 100.0).round() / 100.0)
        ));
    }
    s
}

/// Per readout group, the normalised (and scaled) leakage current of one fill:
/// `(name, current, temperature K)`, in file order.
///
/// # Errors
/// I/O and parse errors of the two files; [`Error::Data`] for a group without temperature.
pub fn fill_rog_currents(
    currents_file: &Path,
    temperatures_file: &Path,
    norm: Normalisation,
    t_ref_k: Option<f64>,
    k_b: f64,
) -> Result<Vec<(String, f64, f64)>> {
    let currents = read_keyed_text(currents_file)?;
    let temps = read_keyed_text(temperatures_file)?;
    let geo = Geometry::phase1();
    let mut out = Vec::new();
    let mut names: Vec<&String> = currents.keys().collect();
    names.sort_by_key(|n| crate::geometry::text_sort_key(n));
    for name in names {
        let g = geo.rog(name)?;
        let t = *temps.get(name).ok_or_else(|| {
            Error::Data(format!(
                "{}: no temperature of {name}",
                temperatures_file.display()
            ))
        })?;
        let mut i = currents[name];
        if let Some(tr) = t_ref_k {
            i = scale_to_temperature(i, t, tr, k_b);
        }
        out.push((name.clone(), norm.apply(i, g.n_rocs), t));
    }
    Ok(out)
}

fn fills_to_plot(
    job_fills: &Path,
    first: Option<u32>,
    last: Option<u32>,
    bad: &BTreeSet<u32>,
    time: &TimeSettings,
) -> Result<(Vec<Fill>, usize)> {
    let all = crate::fills::load_fills(job_fills, first, last, time)?;
    let n = all.len();
    let kept: Vec<Fill> = all
        .into_iter()
        .filter(|f| {
            !bad.contains(&f.fill)
                && crate::time::to_naive(f.start_stable_beam)
                    .format("%Y")
                    .to_string()
                    != "2013"
        })
        .collect();
    let skipped = n - kept.len();
    Ok((kept, skipped))
}

/// Runs `plot-currents`.
///
/// # Errors
/// Input, configuration, plotting and I/O errors.
pub fn run_plot_currents(job: &PlotCurrentsJob) -> Result<PlotReport> {
    let fills_path = job
        .fills
        .as_deref()
        .ok_or_else(|| Error::Config("missing input: the fills file (fills)".into()))?;
    let lumi_path = job
        .lumi
        .as_deref()
        .ok_or_else(|| Error::Config("missing input: the luminosity CSV (lumi)".into()))?;
    let tref = job.t_ref_c.map(|t| t_ref_k(t, &job.compat)).transpose()?;
    let bad = crate::fills::bad_fills(job.bad_fills.as_deref())?;
    let (fills, mut skipped) =
        fills_to_plot(fills_path, job.first_fill, job.last_fill, &bad, &job.time)?;
    let lumi: BTreeMap<u32, FillLumi> = crate::lumi::read_lumi_csv(lumi_path)?
        .into_iter()
        .map(|r| (r.fill, r))
        .collect();
    let geo = Geometry::phase1();
    let sigma = CrossSections::default();
    // Per-layer fluence per fb^-1 per mb.
    let layer_f: BTreeMap<u8, f64> = if job.x == XAxis::Fluence {
        let fp = job
            .field
            .as_deref()
            .ok_or_else(|| Error::Config("x = fluence needs the FLUKA field (field)".into()))?;
        let field = crate::fluence::load_field(fp, &job.compat)?;
        let rf = RogFluence::new(&field, job.compat.rog_fluence_sum);
        (1..=4)
            .map(|l| {
                let v: Vec<f64> = geo
                    .readout_groups
                    .iter()
                    .enumerate()
                    .filter(|(_, g)| g.layer == l)
                    .map(|(i, _)| rf.per_collision(i))
                    .collect();
                (l, v.iter().sum::<f64>() / v.len() as f64)
            })
            .collect()
    } else {
        BTreeMap::new()
    };
    let t0 = fills.first().map_or(0, |f| f.start_stable_beam);
    let sub = job.sub_system.name();
    let mut series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let mut cum_collisions = 0.0; // fb^-1 x mb
    let mut inputs = vec![fills_path.to_path_buf(), lumi_path.to_path_buf()];
    for f in &fills {
        let Some(l) = lumi.get(&f.fill) else {
            skipped += 1;
            continue;
        };
        if l.delivered_fb.is_finite() {
            cum_collisions +=
                l.delivered_fb * sigma.sigma_mb(f.fill, &job.compat).unwrap_or(f64::NAN);
        }
        let x_of = |layer: u8| match job.x {
            XAxis::Lumi => l.integrated_delivered_fb,
            XAxis::Fill => f64::from(f.fill),
            XAxis::Fluence => {
                layer_f.get(&layer).copied().unwrap_or(f64::NAN) * cum_collisions * 1e12
            }
            XAxis::Time => (f.start_stable_beam - t0) as f64 / US_PER_DAY as f64,
        };
        match job.quantity {
            Quantity::Leakage => {
                let cf = job
                    .currents_dir
                    .join(format!("{}_{sub}_HV_ByLayer.txt", f.fill));
                let tf = job
                    .temperatures_dir
                    .join("BPix")
                    .join(format!("{}.txt", f.fill));
                if !cf.is_file() || !tf.is_file() {
                    skipped += 1;
                    continue;
                }
                let rows = fill_rog_currents(&cf, &tf, job.normalisation, tref, job.compat.k_b())?;
                inputs.push(cf);
                inputs.push(tf);
                for &layer in &job.layers {
                    let v: Vec<f64> = rows
                        .iter()
                        .filter(|r| r.0.ends_with(&format!("LYR{layer}")))
                        .map(|r| r.1)
                        .collect();
                    if let Some(avg) = layer_average(&v) {
                        series
                            .entry(format!("Layer {layer}"))
                            .or_default()
                            .push((x_of(layer), avg));
                    }
                }
            }
            Quantity::Digital | Quantity::Analog => {
                let kind = if job.quantity == Quantity::Digital {
                    "Dig"
                } else {
                    "Ana"
                };
                let cf = job
                    .currents_dir
                    .join(format!("{}_{sub}_{kind}.txt", f.fill));
                if !cf.is_file() {
                    skipped += 1;
                    continue;
                }
                let m = read_keyed_text(&cf)?;
                inputs.push(cf);
                for (pair, label) in [("LAY14", "Layers 1 and 4"), ("LAY23", "Layers 2 and 3")] {
                    let v: Vec<f64> = m
                        .iter()
                        .filter(|(k, _)| k.ends_with(pair))
                        .map(|(_, v)| *v)
                        .collect();
                    if let Some(avg) = layer_average(&v) {
                        let layer = if pair == "LAY14" { 1 } else { 2 };
                        series
                            .entry(label.to_string())
                            .or_default()
                            .push((x_of(layer), avg));
                    }
                }
            }
        }
    }
    let era = job
        .era
        .clone()
        .unwrap_or_else(|| match (fills.first(), fills.last()) {
            (Some(a), Some(b)) => format!("{}_{}", a.fill, b.fill),
            _ => "none".into(),
        });
    let (prefix, y_title) = match job.quantity {
        Quantity::Leakage => (
            "i_leak",
            current_title(
                "Mean leakage current per readout group",
                job.normalisation,
                tref,
            ),
        ),
        Quantity::Digital => (
            "i_dig",
            "Mean digital LV current per power group (A)".to_string(),
        ),
        Quantity::Analog => (
            "i_ana",
            "Mean analog LV current per power group (A)".to_string(),
        ),
    };
    let x_title = match job.x {
        XAxis::Lumi => "Integrated delivered luminosity (fb^-1)".to_string(),
        XAxis::Fill => "Fill number".to_string(),
        XAxis::Fluence => "Fluence of the layer, 1 MeV neutron equivalent (n_eq cm^-2)".to_string(),
        XAxis::Time => format!(
            "Days since {}",
            crate::time::to_naive(t0).format("%Y-%m-%d %H:%M UTC")
        ),
    };
    let markers: Vec<Series> = series
        .iter()
        .map(|(k, v)| Series::new(k.clone(), v.clone()))
        .collect();
    let mut opts = PlotOptions::new(
        format!("CMS Barrel Pixel Detector, {era}"),
        x_title,
        y_title,
    )
    .with_size(1000, 700);
    if let Some([a, b]) = job.y_range {
        opts = opts.with_y_range(a, b);
    }
    let stem = format!("{prefix}_{era}_vs_{}", job.x.file_part());
    let refs: Vec<&Path> = inputs
        .iter()
        .map(PathBuf::as_path)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut out = Outputs::start(job, &refs)?;
    for p in draw(&job.output_dir, &stem, job.format, &markers, &[], &opts)? {
        out.record(&p);
    }
    Ok(PlotReport {
        what: format!("plot-currents ({prefix} vs {})", job.x.file_part()),
        points: series.iter().map(|(k, v)| (k.clone(), v.len())).collect(),
        skipped_fills: skipped,
        outputs: out.finish()?,
    })
}

/// `plot-currents-vs-azimuth`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlotAzimuthJob {
    /// The fill (or the first fill of a difference).
    pub fill: Option<u32>,
    /// The second fill: plot I(last fill) − I(fill) on the common readout groups.
    pub last_fill: Option<u32>,
    /// Layer (1 to 4, default 1).
    pub layer: u8,
    /// Normalisation.
    pub normalisation: Normalisation,
    /// Reference temperature (°C).
    pub t_ref_c: Option<f64>,
    /// Processed currents directory.
    pub currents_dir: PathBuf,
    /// Readout-group temperatures directory.
    pub temperatures_dir: PathBuf,
    /// Per-fill luminosity CSV (for the title's integrated luminosity; optional).
    pub lumi: Option<PathBuf>,
    /// Output directory (default `plots/currents`).
    pub output_dir: PathBuf,
    /// Also write the original's per-sector CSV (`-csv`).
    pub produce_csv: bool,
    /// Directory of the per-sector CSV (default `data/currents/per_sector`).
    pub csv_dir: PathBuf,
    /// y range.
    pub y_range: Option<[f64; 2]>,
    /// Sub-system.
    pub sub_system: SubSystem,
    /// Plot format.
    pub format: PlotFormat,
    /// Compatibility switches (`boltzmann_2010`).
    pub compat: Compat,
}

impl Default for PlotAzimuthJob {
    fn default() -> Self {
        Self {
            fill: None,
            last_fill: None,
            layer: 1,
            normalisation: Normalisation::None,
            t_ref_c: None,
            currents_dir: "data/currents/processed".into(),
            temperatures_dir: "data/temperatures/readout_group".into(),
            lumi: None,
            output_dir: "plots/currents".into(),
            produce_csv: false,
            csv_dir: "data/currents/per_sector".into(),
            y_range: None,
            sub_system: SubSystem::Barrel,
            format: PlotFormat::Png,
            compat: Compat::default(),
        }
    }
}

/// The original's ROOT y title (`make_y_axis_title`), used in the per-sector CSV header.
pub fn root_y_title(text: &str, norm: Normalisation, t_ref_k: Option<f64>) -> String {
    let mut unit = String::from("#muA");
    match norm {
        Normalisation::PerRoc => unit.push_str(" / ROC"),
        Normalisation::PerVolume => unit.push_str(" / cm^{3}"),
        Normalisation::None => {}
    }
    let corr = t_ref_k.map_or(String::new(), |t| {
        format!(
            "(corr. to {} #circC)",
            crate::pyfmt::trunc_int(t - ZERO_CELSIUS_K).unwrap_or(0)
        )
    });
    let s = format!("{text} [{unit}] {corr}");
    s.strip_suffix(' ').map(String::from).unwrap_or(s)
}

/// Runs `plot-currents-vs-azimuth`.
///
/// # Errors
/// Input, configuration, plotting and I/O errors.
pub fn run_plot_azimuth(job: &PlotAzimuthJob) -> Result<PlotReport> {
    let fill = job
        .fill
        .ok_or_else(|| Error::Config("plot-currents-vs-azimuth: fill is required".into()))?;
    if !(1..=4).contains(&job.layer) {
        return Err(Error::Config(format!(
            "layer must be 1 to 4, found {}",
            job.layer
        )));
    }
    let tref = job
        .t_ref_c
        .map(|t| {
            t_ref_k(
                t,
                &Compat {
                    tref_kelvin: false,
                    ..job.compat
                },
            )
        })
        .transpose()?;
    let sub = job.sub_system.name();
    type FillRows = (PathBuf, PathBuf, Vec<(String, f64, f64)>);
    let load = |f: u32| -> Result<FillRows> {
        let cf = job.currents_dir.join(format!("{f}_{sub}_HV_ByLayer.txt"));
        let tf = job.temperatures_dir.join("BPix").join(format!("{f}.txt"));
        let rows = fill_rog_currents(&cf, &tf, job.normalisation, tref, job.compat.k_b())?;
        let lyr = format!("LYR{}", job.layer);
        Ok((
            cf,
            tf,
            rows.into_iter().filter(|r| r.0.ends_with(&lyr)).collect(),
        ))
    };
    let geo = Geometry::phase1();
    let (cf, tf, first) = load(fill)?;
    let mut inputs = vec![cf, tf];
    let (rows, temps2, name) = match job.last_fill {
        None => (
            first.clone(),
            None,
            format!("leakage_current_vs_azimuthal_angle_fill_{fill}"),
        ),
        Some(lf) => {
            let (c2, t2, second) = load(lf)?;
            inputs.push(c2);
            inputs.push(t2);
            let a: BTreeMap<&str, (f64, f64)> =
                first.iter().map(|r| (r.0.as_str(), (r.1, r.2))).collect();
            let d: Vec<(String, f64, f64)> = second
                .iter()
                .filter_map(|r| a.get(r.0.as_str()).map(|(v, t)| (r.0.clone(), r.1 - v, *t)))
                .collect();
            let t2: BTreeMap<String, f64> = second.iter().map(|r| (r.0.clone(), r.2)).collect();
            (
                d,
                Some(t2),
                format!("leakage_current_difference_vs_azimuthal_angle_fills_{fill}_{lf}"),
            )
        }
    };
    let mut name = format!("{name}_BPix_layer_{}", job.layer);
    match job.normalisation {
        Normalisation::PerRoc => name.push_str("_perRoc"),
        Normalisation::PerVolume => name.push_str("_volumeNormalization"),
        Normalisation::None => {}
    }
    if let Some(t) = tref {
        name.push_str(&format!("_correctedTo{}K", t.trunc() as i64));
    }
    let side = |c: char| -> Vec<(f64, f64)> {
        rows.iter()
            .filter(|r| r.0.as_bytes()[6] as char == c)
            .map(|r| {
                (
                    geo.rog(&r.0).map(|g| g.mean_phi_rad).unwrap_or(f64::NAN),
                    r.1,
                )
            })
            .collect()
    };
    let markers = vec![Series::new("-z", side('m')), Series::new("+z", side('p'))];
    let text = if job.last_fill.is_some() {
        "Leakage-current difference"
    } else {
        "Leakage current"
    };
    let mut title = match job.last_fill {
        None => format!("Fill {fill}, BPix layer {}", job.layer),
        Some(lf) => format!("Fills difference {lf}/{fill}, BPix layer {}", job.layer),
    };
    if let (Some(lp), None) = (&job.lumi, job.last_fill)
        && let Some(l) = crate::lumi::read_lumi_csv(lp)?
            .iter()
            .find(|r| r.fill == fill)
    {
        title.push_str(&format!(", {:.1} fb^-1", l.integrated_delivered_fb));
        inputs.push(lp.clone());
    }
    let mut opts = PlotOptions::new(
        title,
        "Mean azimuth of the readout group's modules (rad)",
        current_title(text, job.normalisation, tref),
    )
    .with_size(1000, 700)
    .with_x_range(-std::f64::consts::PI, std::f64::consts::PI);
    if let Some([a, b]) = job.y_range {
        opts = opts.with_y_range(a, b);
    }
    let refs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
    let mut out = Outputs::start(job, &refs)?;
    for p in draw(&job.output_dir, &name, job.format, &markers, &[], &opts)? {
        out.record(&p);
    }
    if job.produce_csv {
        let ylab = root_y_title(
            if job.last_fill.is_some() {
                "#DeltaI_{leak}"
            } else {
                "I_{leak}"
            },
            job.normalisation,
            tref,
        );
        let mut s = crate::csv_text::CsvText::new(match temps2 {
            None => vec![
                "readout_group".to_string(),
                ylab.to_string(),
                "sensor_temperature [K]".to_string(),
            ],
            // The original's header has the literal braces (an f-string left unformatted).
            Some(_) => vec![
                "readout_group".to_string(),
                ylab.to_string(),
                "sensor_temperature_fill_{first_fill} [K]".to_string(),
                "sensor_temperature_fill_{last_fill} [K]".to_string(),
            ],
        });
        let mut ordered: Vec<&(String, f64, f64)> =
            rows.iter().filter(|r| r.0.as_bytes()[6] == b'm').collect();
        ordered.extend(rows.iter().filter(|r| r.0.as_bytes()[6] == b'p'));
        for r in ordered {
            let mut row = vec![
                r.0.clone(),
                crate::pyfmt::repr(r.1),
                crate::pyfmt::repr(r.2),
            ];
            if let Some(t2) = &temps2 {
                row.push(crate::pyfmt::repr(t2[&r.0]));
            }
            s.row(row);
        }
        out.text(&job.csv_dir.join(format!("{name}_data.csv")), &s.finish())?;
    }
    Ok(PlotReport {
        what: "plot-currents-vs-azimuth".into(),
        points: markers
            .iter()
            .map(|s| (s.label.clone(), s.points.len()))
            .collect(),
        skipped_fills: 0,
        outputs: out.finish()?,
    })
}

/// `plot-temperatures`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlotTemperaturesJob {
    /// Directory of the per-fill air or pipe files (default `data/temperatures/air`).
    pub input_dir: PathBuf,
    /// Source label for titles and file names (default `air`).
    pub source: String,
    /// Only readings whose part contains this (e.g. `BmI`); empty: all.
    pub part_filter: String,
    /// File-name sub-system suffix as written by the temperature job (`Barrel`, `EndCap` or empty).
    pub sub_system: String,
    /// Fills file.
    pub fills: Option<PathBuf>,
    /// Per-fill luminosity CSV (for `x = "lumi"`).
    pub lumi: Option<PathBuf>,
    /// First fill.
    pub first_fill: Option<u32>,
    /// Last fill.
    pub last_fill: Option<u32>,
    /// x axis: fill number or integrated luminosity.
    pub x: XAxis,
    /// Output directory (default `plots/temperatures`).
    pub output_dir: PathBuf,
    /// Plot format.
    pub format: PlotFormat,
    /// Zones.
    pub time: TimeSettings,
}

impl Default for PlotTemperaturesJob {
    fn default() -> Self {
        Self {
            input_dir: "data/temperatures/air".into(),
            source: "air".into(),
            part_filter: String::new(),
            sub_system: String::new(),
            fills: None,
            lumi: None,
            first_fill: None,
            last_fill: None,
            x: XAxis::Fill,
            output_dir: "plots/temperatures".into(),
            format: PlotFormat::Png,
            time: TimeSettings::default(),
        }
    }
}

/// Runs `plot-temperatures`: the mean of the readings of each fill's file.
///
/// # Errors
/// Input, configuration, plotting and I/O errors.
pub fn run_plot_temperatures(job: &PlotTemperaturesJob) -> Result<PlotReport> {
    let fills_path = job
        .fills
        .as_deref()
        .ok_or_else(|| Error::Config("missing input: the fills file (fills)".into()))?;
    let fills = crate::fills::load_fills(fills_path, job.first_fill, job.last_fill, &job.time)?;
    let lumi: BTreeMap<u32, f64> = match (&job.lumi, job.x) {
        (Some(p), _) => crate::lumi::read_lumi_csv(p)?
            .into_iter()
            .map(|r| (r.fill, r.integrated_delivered_fb))
            .collect(),
        (None, XAxis::Lumi) => {
            return Err(Error::Config(
                "x = lumi needs the luminosity CSV (lumi)".into(),
            ));
        }
        _ => BTreeMap::new(),
    };
    if !matches!(job.x, XAxis::Fill | XAxis::Lumi) {
        return Err(Error::Config(
            "plot-temperatures: x must be fill or lumi".into(),
        ));
    }
    let sub = if job.sub_system.is_empty() {
        String::new()
    } else {
        format!("_{}", job.sub_system)
    };
    let mut pts = Vec::new();
    let mut skipped = 0;
    let mut inputs = vec![fills_path.to_path_buf()];
    for f in &fills {
        let p = job.input_dir.join(format!("{}{sub}.txt", f.fill));
        if !p.is_file() {
            skipped += 1;
            continue;
        }
        let rows = crate::temperatures::read_plc_text(&p)?;
        let v: Vec<f64> = rows
            .iter()
            .filter(|r| r.part.contains(&job.part_filter) && !r.value.is_nan())
            .map(|r| r.value)
            .collect();
        let x = match job.x {
            XAxis::Lumi => match lumi.get(&f.fill) {
                Some(l) => *l,
                None => {
                    skipped += 1;
                    continue;
                }
            },
            _ => f64::from(f.fill),
        };
        if let Some(m) = layer_average(&v) {
            pts.push((x, m));
            inputs.push(p);
        } else {
            skipped += 1;
        }
    }
    let label = format!("{} {} temperature", job.part_filter, job.source)
        .trim()
        .to_string();
    let x_title = if job.x == XAxis::Lumi {
        "Integrated delivered luminosity (fb^-1)"
    } else {
        "Fill number"
    };
    let opts = PlotOptions::new(
        format!("CMS Pixel Detector, {label}"),
        x_title,
        format!("Mean {label} per fill (°C)"),
    )
    .with_size(1000, 700);
    let markers = vec![Series::new(label.clone(), pts)];
    let refs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
    let mut out = Outputs::start(job, &refs)?;
    let stem = format!("temperatures_{}{sub}_vs_{}", job.source, job.x.file_part());
    for p in draw(&job.output_dir, &stem, job.format, &markers, &[], &opts)? {
        out.record(&p);
    }
    Ok(PlotReport {
        what: "plot-temperatures".into(),
        points: vec![(label, markers[0].points.len())],
        skipped_fills: skipped,
        outputs: out.finish()?,
    })
}

/// A logarithmic y range from the decade below the smallest positive y to the decade above the
/// largest, of the points whose x passes `keep`, so that every decade is labelled.
fn decade_range(opts: PlotOptions, series: &[Series], keep: impl Fn(f64) -> bool) -> PlotOptions {
    let ys: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|p| keep(p.0) && p.1 > 0.0 && p.1.is_finite())
        .map(|p| p.1)
        .collect();
    match (
        ys.iter().copied().reduce(f64::min),
        ys.iter().copied().reduce(f64::max),
    ) {
        (Some(lo), Some(hi)) => {
            let a = 10f64.powf(lo.log10().floor());
            let mut b = 10f64.powf(hi.log10().ceil());
            if b <= a {
                b = a * 10.0;
            }
            opts.with_y_range(a, b)
        }
        _ => opts,
    }
}

/// The field map (log10 of the all-particle fluence per collision, 2 ≤ r < 20 cm (the pixel
/// detector's radii; closer to the beam the field is steep and would dominate the colour scale),
/// |z| ≤ 100 cm, two r bins merged) and its r projections (at z = 0, 20, 50 cm) and z projections (at the four layer
/// radii); returns the files (plots and CSVs).
///
/// # Errors
/// Plotting and I/O errors.
pub fn field_plots(field: &FlukaField, dir: &Path, format: PlotFormat) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut written = Vec::new();
    let (r, z) = (field.r, field.z);
    let z_lo = z.find_bin(-100.0).max(1) - 1;
    let z_hi = (z.find_bin(100.0 - 1e-9)).min(z.n);
    let r_lo = (r.find_bin(2.0).max(1) - 1).min(r.n - 2);
    let nr = (r.n - r_lo) / 2;
    let nz = z_hi - z_lo;
    let r0 = r.lo + r_lo as f64 * r.width();
    let mut map = Map2D::new(
        r0,
        r0 + 2.0 * nr as f64 * r.width(),
        nr,
        z.lo + z_lo as f64 * z.width(),
        z.lo + z_hi as f64 * z.width(),
        nz,
    )?;
    let mut csv = crate::csv_text::CsvText::new(["r_cm", "z_cm", "log10_fluence_per_collision"]);
    for iz in 0..nz {
        for ir in 0..nr {
            let a = field.bin_content(r_lo + 2 * ir + 1, z_lo + iz + 1);
            let b = field.bin_content(r_lo + 2 * ir + 2, z_lo + iz + 1);
            let v = 0.5 * (a + b);
            let l = if v > 0.0 { v.log10() } else { f64::NAN };
            map.set(ir, iz, l);
            csv.row([
                crate::pyfmt::repr(r0 + (2 * ir + 1) as f64 * r.width()),
                crate::pyfmt::repr(map.y_low + (iz as f64 + 0.5) * z.width()),
                crate::pyfmt::repr(l),
            ]);
        }
    }
    let img = dir.join(format!("fluence_map.{}", format.extension()));
    let opts = PlotOptions::new("FLUKA fluence field, all particles", "r (cm)", "z (cm)")
        .with_size(800, 1000)
        .with_z_label("log10(fluence per pp collision / (n_eq cm^-2))");
    plot::map2d(&img, &map, &opts)?;
    let csvp = dir.join("fluence_map.csv");
    hep_core::io::atomic_write_bytes(&csvp, csv.finish().as_bytes())?;
    written.push(img);
    written.push(csvp);
    let rp: Vec<Series> = [0.0, 20.0, 50.0]
        .iter()
        .map(|&zz| {
            let iz = z.find_bin(zz + 1e-9);
            Series::new(
                format!("z = {zz} cm"),
                (0..r.n)
                    .map(|ir| (r.center(ir), field.bin_content(ir + 1, iz)))
                    .collect(),
            )
        })
        .collect();
    let opts = PlotOptions::new(
        "FLUKA field: radial profiles",
        "r (cm)",
        "Fluence per pp collision (n_eq cm^-2)",
    )
    .with_size(1000, 700)
    .with_log_y(true)
    .with_x_range(1.0, r.hi);
    let opts = decade_range(opts, &rp, |x| x >= 1.0);
    let img = dir.join(format!("fluence_vs_r.{}", format.extension()));
    plot::lines(&img, &rp, &opts)?;
    let csvp = dir.join("fluence_vs_r.csv");
    write_points(&csvp, &opts.x_label, &opts.y_label, &rp)?;
    written.push(img);
    written.push(csvp);
    let zp: Vec<Series> = [(1, 2.93), (2, 6.78), (3, 10.88), (4, 15.99)]
        .iter()
        .map(|&(l, rr)| {
            let ir = r.find_bin(rr);
            Series::new(
                format!("layer {l}, r = {rr} cm"),
                (0..z.n)
                    .map(|iz| (z.center(iz), field.bin_content(ir, iz + 1)))
                    .collect(),
            )
        })
        .collect();
    let opts = PlotOptions::new(
        "FLUKA field: z profiles at the BPix layer radii",
        "z (cm)",
        "Fluence per pp collision (n_eq cm^-2)",
    )
    .with_size(1000, 700)
    .with_log_y(true)
    .with_x_range(-100.0, 100.0);
    let opts = decade_range(opts, &zp, |x| (-100.0..=100.0).contains(&x));
    let img = dir.join(format!("fluence_vs_z.{}", format.extension()));
    plot::lines(&img, &zp, &opts)?;
    let csvp = dir.join("fluence_vs_z.csv");
    write_points(&csvp, &opts.x_label, &opts.y_label, &zp)?;
    written.push(img);
    written.push(csvp);
    Ok(written)
}

/// The profile sanity plots of one readout group: temperature, fluence rate and leakage current
/// against days since `t0`; returns the files.
///
/// # Errors
/// Plotting and I/O errors.
pub fn profile_plots(
    rog: &str,
    rows: &[crate::profile::ProfileRow],
    dir: &Path,
    format: PlotFormat,
) -> Result<Vec<PathBuf>> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let t0 = first.spec.start;
    let day = |t: i64| (t - t0) as f64 / US_PER_DAY as f64;
    let x_title = format!(
        "Days since {}",
        crate::time::to_naive(t0).format("%Y-%m-%d %H:%M UTC")
    );
    let mut out = Vec::new();
    let fill_rows = || rows.iter().filter(|r| r.fill.is_some());
    let inter_rows = || rows.iter().filter(|r| r.fill.is_none());
    let t_fill = Series::new(
        "fill rows",
        fill_rows()
            .map(|r| (day(r.spec.end), r.temperature.sensor_k))
            .collect(),
    );
    let t_inter = Series::new(
        "interfill rows",
        inter_rows()
            .map(|r| (day(r.spec.end), r.temperature.sensor_k))
            .collect(),
    );
    let opts = PlotOptions::new(
        format!("Radiation profile of {rog}: sensor temperature"),
        x_title.clone(),
        "Sensor temperature (K)",
    )
    .with_size(1100, 600);
    out.extend(draw(
        dir,
        &format!("profile_{rog}_temperature"),
        format,
        &[t_fill, t_inter],
        &[],
        &opts,
    )?);
    let rate = Series::new(
        "fill rows",
        fill_rows()
            .map(|r| (day(r.spec.end), r.fluence_rate))
            .collect(),
    );
    let opts = PlotOptions::new(
        format!("Radiation profile of {rog}: fluence rate"),
        x_title.clone(),
        "Fluence rate (n_eq cm^-2 s^-1)",
    )
    .with_size(1100, 600);
    out.extend(draw(
        dir,
        &format!("profile_{rog}_fluence_rate"),
        format,
        &[rate],
        &[],
        &opts,
    )?);
    let cur = Series::new(
        "fill rows",
        fill_rows()
            .filter_map(|r| r.current_ua.map(|c| (day(r.spec.end), c)))
            .collect(),
    );
    let opts = PlotOptions::new(
        format!("Radiation profile of {rog}: leakage current"),
        x_title,
        "Leakage current of the readout group (uA)",
    )
    .with_size(1100, 600);
    out.extend(draw(
        dir,
        &format!("profile_{rog}_leakage_current"),
        format,
        &[cur],
        &[],
        &opts,
    )?);
    Ok(out)
}

/// Measured leakage current per volume at the reference temperature against the Hamburg
/// prediction, per readout group (markers: data; lines: prediction), against days; returns the
/// files.
///
/// # Errors
/// Plotting and I/O errors.
pub fn hamburg_plot(
    name: &str,
    title: &str,
    x_title: &str,
    data: &[Series],
    prediction: &[Series],
    dir: &Path,
    format: PlotFormat,
) -> Result<Vec<PathBuf>> {
    let opts = PlotOptions::new(
        title,
        x_title,
        "Leakage current per volume at 20 °C (uA cm^-3)",
    )
    .with_size(1100, 700);
    draw(dir, name, format, data, prediction, &opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles() {
        assert_eq!(
            root_y_title("I_{leak}", Normalisation::PerRoc, Some(273.15)),
            "I_{leak} [#muA / ROC] (corr. to 0 #circC)"
        );
        assert_eq!(
            root_y_title("I_{leak}", Normalisation::None, None),
            "I_{leak} [#muA]"
        );
        assert_eq!(
            current_title("I_leak", Normalisation::PerVolume, Some(273.15)),
            "I_leak (uA / cm^3) at 0.0 °C"
        );
        assert_eq!(t_ref_k(0.0, &Compat::default()).unwrap(), 273.15);
        assert!(
            t_ref_k(
                0.0,
                &Compat {
                    tref_kelvin: true,
                    ..Compat::default()
                }
            )
            .is_err()
        );
    }
}
