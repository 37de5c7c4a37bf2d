//! The `hamburg` job: the Hamburg-model prediction of the leakage current along a radiation
//! profile, compared with the measured current fill by fill, and the fit of α_I, α_0* and β.
//!
//! For every readout group of a Parquet profile (written by `profile`), the rows are the model's
//! steps (duration, temperature, fluence). At the last row of each fill that has a current read
//! within the row, the
//! measured current (µA) is scaled from the sensor temperature at the reading
//! (`current_temperature_k`) to the reference temperature
//! (20 °C, [`crate::normalise::scale_to_temperature`]) and divided by the readout group's sensor
//! volume; the prediction is ΔI/V at the time of that current reading (the model after the rows
//! before, plus the part of the row up to the reading with its share of the row's fluence;
//! [`crate::hamburg`]), evaluated with the streaming integrator. The fit (per readout group, per layer or over all groups) is the linear
//! least-squares fit of α_I, α_0* and β with the time constants fixed, each point weighted with a
//! relative error of [`HamburgJob::current_error_rel`]; the parameter errors are scaled by
//! √(χ²/ndf) unless [`HamburgJob::scale_errors`] is off. A layer (or all-group) fit takes one
//! point per fill, the mean over the readout groups of measured current and model regressors:
//! the groups of one cooling loop share their temperature readings, so their points are not
//! independent.
//!
//! Outputs: `hamburg_per_fill.csv` and `.parquet` (readout group, fill, time, cumulative fluence,
//! measured and predicted current per volume at the reference temperature, their ratio),
//! `hamburg_fit.csv`, and the plot of measured against predicted current per layer.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema};
use hep_core::plot::Series;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::Compat;
use crate::constants::ZERO_CELSIUS_K;
use crate::error::{Error, Result};
use crate::fills::{field_with_unit, timestamp_type};
use crate::geometry::Geometry;
use crate::hamburg::{FitResult, HamburgParams, Integrator, Step, fit};
use crate::normalise::scale_to_temperature;
use crate::output::Outputs;
use crate::plots::PlotFormat;
use crate::time::{Micros, US_PER_DAY};

/// How fits group the readout groups.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FitGrouping {
    /// One fit per readout group.
    ReadoutGroup,
    /// One fit per layer (default).
    #[default]
    Layer,
    /// One fit over all readout groups.
    All,
}

/// `hamburg`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HamburgJob {
    /// The Parquet profile.
    pub profile: Option<PathBuf>,
    /// Readout groups (empty: all in the profile).
    pub readout_groups: Vec<String>,
    /// Model parameters (the starting values for the fit; k_B follows `boltzmann_2010`).
    pub params: HamburgParams,
    /// Fit α_I, α_0* and β.
    pub fit: bool,
    /// Grouping of the fits.
    pub fit_per: FitGrouping,
    /// Reference temperature of the comparison (°C, default 20, that of the model's α).
    pub t_ref_c: f64,
    /// Relative error of a measured current (default 0.01).
    pub current_error_rel: f64,
    /// Scale the fit errors by √(χ²/ndf).
    pub scale_errors: bool,
    /// Tolerance of the integrator's summary of old contributions (0: exact).
    pub tolerance: f64,
    /// Fluence of a profile row received uniformly during it (default); `false` takes it at the
    /// row's start, the convention of the consumer code (see [`Integrator::with_uniform_fluence`]).
    pub uniform_fluence: bool,
    /// Output directory (default `data/hamburg`).
    pub output_dir: PathBuf,
    /// Plot directory (default `plots/hamburg`).
    pub plots_dir: PathBuf,
    /// Plot format.
    pub plot_format: PlotFormat,
    /// Compatibility switches (`boltzmann_2010`).
    pub compat: Compat,
}

impl Default for HamburgJob {
    fn default() -> Self {
        Self {
            profile: None,
            readout_groups: Vec::new(),
            params: HamburgParams::default(),
            fit: true,
            fit_per: FitGrouping::Layer,
            t_ref_c: 20.0,
            current_error_rel: 0.01,
            scale_errors: true,
            tolerance: 0.01,
            uniform_fluence: true,
            output_dir: "data/hamburg".into(),
            plots_dir: "plots/hamburg".into(),
            plot_format: PlotFormat::Png,
            compat: Compat::default(),
        }
    }
}

/// One fill of one readout group: measured and predicted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FillComparison {
    /// Readout group.
    pub readout_group: String,
    /// Layer.
    pub layer: u8,
    /// Fill.
    pub fill: u32,
    /// Time of the current reading compared (UTC µs).
    pub time: Micros,
    /// Fluence received up to the reading (n_eq cm⁻²).
    pub fluence: f64,
    /// Measured current per volume at the reference temperature (µA cm⁻³).
    pub measured: f64,
    /// Predicted current per volume (µA cm⁻³).
    pub predicted: f64,
    /// The model's regressors at the row.
    pub regressors: [f64; 3],
}

/// One fit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupFit {
    /// The group (`layer 1`, a readout group, or `all`).
    pub group: String,
    /// Points.
    pub points: usize,
    /// The fit.
    pub fit: FitResult,
}

/// What `hamburg` did.
#[derive(Debug, Clone, Serialize)]
pub struct HamburgReport {
    /// Per fill and readout group.
    pub comparisons: Vec<FillComparison>,
    /// Fits.
    pub fits: Vec<GroupFit>,
    /// Per layer: mean measured / predicted over the last fill's readout groups.
    pub layers: Vec<(u8, f64, f64, f64)>,
    /// Files written.
    pub outputs: Vec<PathBuf>,
}

impl fmt::Display for HamburgReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "hamburg: {} fill comparisons", self.comparisons.len())?;
        for (l, phi, m, p) in &self.layers {
            writeln!(
                f,
                "  layer {l}: fluence {phi:.3e} n_eq/cm2, measured {m:.1} uA/cm3, predicted {p:.1} uA/cm3 at 20 C (ratio {:.3})",
                m / p
            )?;
        }
        for g in &self.fits {
            let e = &g.fit;
            writeln!(
                f,
                "  fit {}: alpha_I = ({:.3} +- {:.3})e-17 A/cm, alpha_0* = ({:.3} +- {:.3})e-17 A/cm, beta = ({:.3} +- {:.3})e-18 A/cm, chi2/ndf = {:.1}/{}",
                g.group,
                e.params[0] * 1e17,
                e.errors[0] * 1e17,
                e.params[1] * 1e17,
                e.errors[1] * 1e17,
                e.params[2] * 1e18,
                e.errors[2] * 1e18,
                e.chi2,
                e.ndf
            )?;
        }
        match self.outputs.len() {
            0 => Ok(()),
            n => writeln!(f, "  wrote {n} files, e.g. {}", self.outputs[0].display()),
        }
    }
}

/// The rows of one readout group in a profile table.
struct GroupRows {
    name: String,
    fill: Vec<Option<i64>>,
    end: Vec<Micros>,
    duration: Vec<f64>,
    temperature: Vec<Option<f64>>,
    fluence: Vec<f64>,
    current: Vec<Option<f64>>,
    current_time: Vec<Option<Micros>>,
    current_temperature: Vec<Option<f64>>,
}

fn read_profile(path: &std::path::Path) -> Result<Vec<GroupRows>> {
    use hep_core::io::{column_f64, column_i64, column_str};
    let b = hep_core::io::read_parquet_table(path)?;
    let names = column_str(&b, "readout_group")?;
    let fill = column_i64(&b, "fill")?;
    let end = hep_core::io::column_as::<TimestampMicrosecondArray>(&b, "interval_end")?;
    let dur = column_f64(&b, "duration_s")?;
    let temp = column_f64(&b, "temperature_k")?;
    let flu = column_f64(&b, "fluence")?;
    let cur = column_f64(&b, "leakage_current_ua")?;
    let cur_t = hep_core::io::column_as::<TimestampMicrosecondArray>(&b, "current_time")?;
    let cur_temp = column_f64(&b, "current_temperature_k")?;
    use arrow_array::Array;
    let mut out: Vec<GroupRows> = Vec::new();
    for i in 0..b.num_rows() {
        let n = names.value(i);
        if out.last().is_none_or(|g| g.name != n) {
            out.push(GroupRows {
                name: n.to_string(),
                fill: Vec::new(),
                end: Vec::new(),
                duration: Vec::new(),
                temperature: Vec::new(),
                fluence: Vec::new(),
                current: Vec::new(),
                current_time: Vec::new(),
                current_temperature: Vec::new(),
            });
        }
        let g = out.last_mut().expect("pushed");
        g.fill.push((!fill.is_null(i)).then(|| fill.value(i)));
        g.end.push(end.value(i));
        g.duration.push(dur.value(i));
        g.temperature
            .push((!temp.is_null(i)).then(|| temp.value(i)));
        g.fluence.push(flu.value(i));
        g.current.push((!cur.is_null(i)).then(|| cur.value(i)));
        g.current_time
            .push((!cur_t.is_null(i)).then(|| cur_t.value(i)));
        g.current_temperature
            .push((!cur_temp.is_null(i)).then(|| cur_temp.value(i)));
    }
    Ok(out)
}

fn compare_group(
    g: &GroupRows,
    p: &HamburgParams,
    t_ref_k: f64,
    tolerance: f64,
    uniform: bool,
) -> Result<Vec<FillComparison>> {
    let geo = Geometry::phase1();
    let rog = geo.rog(&g.name)?;
    let n = g.end.len();
    // The last row of each fill with a temperature and a current read within the row (a
    // reading found by the look-back belongs to an earlier time than the row's model state).
    let mut last_of_fill: BTreeMap<i64, usize> = BTreeMap::new();
    for i in 0..n {
        let start = g.end[i] - (g.duration[i] * 1e6).round() as i64;
        if let (Some(f), Some(_), Some(_), Some(ti)) =
            (g.fill[i], g.current[i], g.temperature[i], g.current_time[i])
            && ti >= start
        {
            last_of_fill.insert(f, i);
        }
    }
    let wanted: std::collections::BTreeSet<usize> = last_of_fill.values().copied().collect();
    let mut it = Integrator::new(*p, tolerance).with_uniform_fluence(uniform);
    let mut prev_t = 253.15;
    let mut phi = 0.0;
    let mut out = Vec::new();
    for i in 0..n {
        let t = g.temperature[i].unwrap_or(prev_t);
        prev_t = t;
        let step = Step {
            duration_s: g.duration[i],
            temperature_k: t,
            fluence: g.fluence[i],
        };
        // The model at the time of the current reading: the row up to that time, with its
        // fluence in proportion.
        let at_reading = wanted.contains(&i).then(|| {
            let start = g.end[i] - (g.duration[i] * 1e6).round() as i64;
            let ti = g.current_time[i].unwrap_or(g.end[i]).clamp(start, g.end[i]);
            let frac = if g.duration[i] > 0.0 {
                (ti - start) as f64 / 1e6 / g.duration[i]
            } else {
                1.0
            };
            let mut partial = it.clone();
            partial.step(Step {
                duration_s: step.duration_s * frac,
                temperature_k: t,
                fluence: step.fluence * frac,
            });
            (partial.basis(), ti, phi + step.fluence * frac)
        });
        phi += g.fluence[i];
        it.step(step);
        if let Some((basis, ti, phi_at)) = at_reading {
            let t_read = g.current_temperature[i].unwrap_or(t);
            let i20 = scale_to_temperature(g.current[i].expect("filtered"), t_read, t_ref_k, p.k_b);
            out.push(FillComparison {
                readout_group: g.name.clone(),
                layer: rog.layer,
                fill: g.fill[i].expect("filtered") as u32,
                time: ti,
                fluence: phi_at,
                measured: i20 / rog.volume_cm3(),
                predicted: basis.current_per_volume(p) * 1e6,
                regressors: basis.regressors(),
            });
        }
    }
    Ok(out)
}

/// Runs `hamburg`.
///
/// # Errors
/// Input, configuration, fit and I/O errors.
pub fn run_hamburg(job: &HamburgJob) -> Result<HamburgReport> {
    let path = job.profile.as_deref().ok_or_else(|| {
        Error::Config("hamburg: the Parquet profile (profile) is required".into())
    })?;
    if !(job.current_error_rel > 0.0) {
        return Err(Error::Config(
            "hamburg.current_error_rel must be > 0".into(),
        ));
    }
    let mut p = job.params;
    if job.compat.boltzmann_2010 {
        p.k_b = job.compat.k_b();
    }
    let t_ref_k = job.t_ref_c + ZERO_CELSIUS_K;
    let groups: Vec<GroupRows> = read_profile(path)?
        .into_iter()
        .filter(|g| job.readout_groups.is_empty() || job.readout_groups.contains(&g.name))
        .collect();
    let per: Vec<Vec<FillComparison>> = groups
        .par_iter()
        .map(|g| compare_group(g, &p, t_ref_k, job.tolerance, job.uniform_fluence))
        .collect::<Result<_>>()?;
    let comparisons: Vec<FillComparison> = per.into_iter().flatten().collect();
    let mut fits = Vec::new();
    if job.fit {
        // Points: per readout group its fills; per layer (or all) the mean over the readout
        // groups of each fill, because the groups of one cooling loop share their temperature
        // readings and so their errors.
        let mut sets: BTreeMap<String, BTreeMap<u32, Vec<&FillComparison>>> = BTreeMap::new();
        for c in &comparisons {
            let (key, sub) = match job.fit_per {
                FitGrouping::ReadoutGroup => (c.readout_group.clone(), c.fill),
                FitGrouping::Layer => (format!("layer {}", c.layer), c.fill),
                FitGrouping::All => ("all".into(), c.fill),
            };
            sets.entry(key).or_default().entry(sub).or_default().push(c);
        }
        for (group, per_fill) in sets {
            let pts: Vec<([f64; 3], f64, f64)> = per_fill
                .values()
                .map(|cs| {
                    let n = cs.len() as f64;
                    let mut x = [0.0; 3];
                    let mut y = 0.0;
                    for c in cs {
                        for (xk, rk) in x.iter_mut().zip(c.regressors) {
                            *xk += rk / n;
                        }
                        y += c.measured * 1e-6 / n;
                    }
                    (x, y, job.current_error_rel * y.abs().max(1e-12))
                })
                .collect();
            let Ok(mut r) = fit(&pts) else { continue };
            if job.scale_errors && r.ndf > 0 {
                let s = (r.chi2 / r.ndf as f64).sqrt();
                for k in 0..3 {
                    r.errors[k] *= s;
                    for l in 0..3 {
                        r.covariance[k][l] *= s * s;
                    }
                }
            }
            fits.push(GroupFit {
                group,
                points: pts.len(),
                fit: r,
            });
        }
    }
    // Layer summary at the last compared fill.
    let last_fill = comparisons.iter().map(|c| c.fill).max();
    let layers = (1..=4u8)
        .filter_map(|l| {
            let v: Vec<&FillComparison> = comparisons
                .iter()
                .filter(|c| c.layer == l && Some(c.fill) == last_fill)
                .collect();
            if v.is_empty() {
                return None;
            }
            let n = v.len() as f64;
            Some((
                l,
                v.iter().map(|c| c.fluence).sum::<f64>() / n,
                v.iter().map(|c| c.measured).sum::<f64>() / n,
                v.iter().map(|c| c.predicted).sum::<f64>() / n,
            ))
        })
        .collect();
    let mut out = Outputs::start(job, &[path])?;
    let mut csv = String::from(
        "readout_group,fill,time,fluence (n_eq/cm2),measured (uA/cm3 at T_ref),predicted (uA/cm3),ratio\n",
    );
    for c in &comparisons {
        csv.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            c.readout_group,
            c.fill,
            crate::time::iso_utc(c.time),
            crate::pyfmt::repr(c.fluence),
            crate::pyfmt::repr(c.measured),
            crate::pyfmt::repr(c.predicted),
            crate::pyfmt::repr(c.measured / c.predicted)
        ));
    }
    out.text(&job.output_dir.join("hamburg_per_fill.csv"), &csv)?;
    let b = comparisons_batch(&comparisons)?;
    out.parquet(
        &job.output_dir.join("hamburg_per_fill.parquet"),
        b.schema(),
        &[b],
        &[],
    )?;
    let mut fcsv = String::from(
        "group,points,alpha_i (A/cm),alpha_i_error,alpha0_star (A/cm),alpha0_star_error,beta (A/cm),beta_error,chi2,ndf\n",
    );
    for g in &fits {
        let r = &g.fit;
        fcsv.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{}\n",
            g.group,
            g.points,
            crate::pyfmt::repr(r.params[0]),
            crate::pyfmt::repr(r.errors[0]),
            crate::pyfmt::repr(r.params[1]),
            crate::pyfmt::repr(r.errors[1]),
            crate::pyfmt::repr(r.params[2]),
            crate::pyfmt::repr(r.errors[2]),
            crate::pyfmt::repr(r.chi2),
            r.ndf
        ));
    }
    out.text(&job.output_dir.join("hamburg_fit.csv"), &fcsv)?;
    // Plot: per layer, mean over readout groups per fill, against days.
    if let Some(t0) = comparisons.iter().map(|c| c.time).min() {
        let mut data: Vec<Series> = Vec::new();
        let mut pred: Vec<Series> = Vec::new();
        for l in 1..=4u8 {
            let mut per_fill: BTreeMap<u32, (Micros, f64, f64, f64)> = BTreeMap::new();
            for c in comparisons.iter().filter(|c| c.layer == l) {
                let e = per_fill.entry(c.fill).or_insert((c.time, 0.0, 0.0, 0.0));
                e.1 += c.measured;
                e.2 += c.predicted;
                e.3 += 1.0;
            }
            if per_fill.is_empty() {
                continue;
            }
            let day = |t: Micros| (t - t0) as f64 / US_PER_DAY as f64;
            data.push(Series::new(
                format!("Layer {l} measured"),
                per_fill.values().map(|v| (day(v.0), v.1 / v.3)).collect(),
            ));
            pred.push(Series::new(
                format!("Layer {l} Hamburg model"),
                per_fill.values().map(|v| (day(v.0), v.2 / v.3)).collect(),
            ));
        }
        let x_title = format!(
            "Days since {}",
            crate::time::to_naive(t0).format("%Y-%m-%d %H:%M UTC")
        );
        for p in crate::plots::hamburg_plot(
            "leakage_current_vs_hamburg_model",
            "Leakage current at 20 °C: measured and Hamburg model",
            &x_title,
            &data,
            &pred,
            &job.plots_dir,
            job.plot_format,
        )? {
            out.record(&p);
        }
    }
    Ok(HamburgReport {
        comparisons,
        fits,
        layers,
        outputs: out.finish()?,
    })
}

fn comparisons_batch(c: &[FillComparison]) -> Result<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("readout_group", DataType::Utf8, false),
        Field::new("fill", DataType::Int64, false),
        field_with_unit("time", timestamp_type(), false, "UTC"),
        field_with_unit("fluence", DataType::Float64, false, "n_eq cm^-2"),
        field_with_unit(
            "measured_current_per_volume",
            DataType::Float64,
            false,
            "uA cm^-3 at T_ref",
        ),
        field_with_unit(
            "predicted_current_per_volume",
            DataType::Float64,
            false,
            "uA cm^-3 at T_ref",
        ),
    ]));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            c.iter().map(|x| x.readout_group.as_str()),
        )),
        Arc::new(Int64Array::from_iter_values(
            c.iter().map(|x| i64::from(x.fill)),
        )),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(c.iter().map(|x| x.time))
                .with_timezone("UTC"),
        ),
        Arc::new(Float64Array::from_iter_values(c.iter().map(|x| x.fluence))),
        Arc::new(Float64Array::from_iter_values(c.iter().map(|x| x.measured))),
        Arc::new(Float64Array::from_iter_values(
            c.iter().map(|x| x.predicted),
        )),
    ];
    Ok(RecordBatch::try_new(schema, cols)?)
}
