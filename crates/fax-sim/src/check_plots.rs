//! `fax-sim plot`: the standard checks of a simulation production, drawn from the `process`
//! minitrees and the `match` table. Each PNG gets a CSV of its points beside it (same name,
//! `.csv`, written with the `csv` crate; missing values never occur: rows without the plotted
//! values are left out).
//!
//! | image | from | shows | CSV columns |
//! |---|---|---|---|
//! | `cs1_cs2.png` | `Corrections.parquet` | cS2 against cS1 of the main interaction (log10 cS2 axis when cS2 spans more than a factor 30) | `event_number`, `cs1_pe`, `cs2_pe` |
//! | `s2_width_drift_time.png` | `Basics.parquet` | S2 50 % area width against drift time, with the diffusion-only expectation | `event_number`, `drift_time_us`, `s2_range_50p_area_ns`, `diffusion_model_ns` |
//! | `position_observed_true.png` | `matched_peaks.parquet` | reconstructed against truth x and y of reconstructed S2s (two panels) | `event_number`, `truth_x_cm`, `truth_y_cm`, `x_cm`, `y_cm` |
//! | `efficiency.png` | `matched_peaks.parquet` | reconstruction efficiency against the truth photons of S1s and S2s, binomial error bars | `peak_type`, `photons_low`, `photons_high`, `n_truth`, `n_reconstructed`, `efficiency`, `error` |
//!
//! The last two need the `match` output (`--matched`); without it they are not drawn.
//!
//! **Diffusion curve.** Electrons drifting for `t` spread along z with sigma `sqrt(2 D_L t)`,
//! i.e. `sqrt(2 D_L t) / v_d` in time; a Gaussian's 50 % area width is 1.349 sigma. The curve is
//! `1.349 sqrt(2 D_L (t_drift - t_gate)) / v_d` with `D_L`, `v_d` and the gate time of
//! [`CheckPlotConfig`] (pax's SR1 values by default). It leaves out the width of the
//! electroluminescence and of the electron trapping at the surface (which matter at short drift
//! times) and the fluctuations of few-electron S2s (the spread of the points).
//!
//! **Efficiency.** Truth peaks of type `s1` and `s2` are binned in log10 of `truth_n_photons`
//! (`efficiency_bins_per_decade` bins per decade); a peak counts as reconstructed when its outcome
//! is `found`, `split` or `merged` (see [`crate::matching`]); the error bar is the binomial
//! standard error sqrt(e (1 - e) / n).

use std::path::{Path, PathBuf};

use arrow_array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
use hep_core::plot::{PlotOptions, Series};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::instructions::py_float;
use crate::matching::MATCHED_PEAKS;

/// Options of `fax-sim plot`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckPlotConfig {
    /// Image width (pixels).
    pub width: u32,
    /// Image height (pixels).
    pub height: u32,
    /// Longitudinal diffusion constant of the curve (cm2/s).
    pub diffusion_cm2_per_s: f64,
    /// Drift velocity of the curve (um/ns).
    pub drift_velocity_um_per_ns: f64,
    /// Drift time of the gas gap and above, not diffusing (ns).
    pub drift_time_gate_ns: f64,
    /// Bins per decade of truth photons in the efficiency plot.
    pub efficiency_bins_per_decade: u32,
}

impl Default for CheckPlotConfig {
    fn default() -> Self {
        Self {
            width: 1000,
            height: 700,
            diffusion_cm2_per_s: 29.35,
            drift_velocity_um_per_ns: 1.335,
            drift_time_gate_ns: 1700.0,
            efficiency_bins_per_decade: 5,
        }
    }
}

/// Image file names, in drawing order.
pub const IMAGES: [&str; 4] = [
    "cs1_cs2.png",
    "s2_width_drift_time.png",
    "position_observed_true.png",
    "efficiency.png",
];

fn read_table(path: &Path) -> Result<RecordBatch> {
    Ok(hep_core::io::read_parquet_table(path)?)
}

fn f64_col<'a>(path: &Path, b: &'a RecordBatch, name: &str) -> Result<&'a Float64Array> {
    b.column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<Float64Array>())
        .ok_or_else(|| {
            Error::parse(
                path,
                1,
                format!("a Float64 column `{name}`"),
                b.column_by_name(name).map_or("no such column".into(), |c| {
                    format!("type {}", c.data_type())
                }),
            )
        })
}

fn i64_col<'a>(path: &Path, b: &'a RecordBatch, name: &str) -> Result<&'a Int64Array> {
    b.column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
        .ok_or_else(|| {
            Error::parse(
                path,
                1,
                format!("an Int64 column `{name}`"),
                b.column_by_name(name).map_or("no such column".into(), |c| {
                    format!("type {}", c.data_type())
                }),
            )
        })
}

fn str_col<'a>(path: &Path, b: &'a RecordBatch, name: &str) -> Result<&'a StringArray> {
    b.column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| {
            Error::parse(
                path,
                1,
                format!("a string column `{name}`"),
                b.column_by_name(name).map_or("no such column".into(), |c| {
                    format!("type {}", c.data_type())
                }),
            )
        })
}

fn val(a: &Float64Array, i: usize) -> Option<f64> {
    (!a.is_null(i) && a.value(i).is_finite()).then(|| a.value(i))
}

/// Writes `rows` under `header` to `path` atomically.
fn write_csv(path: &Path, header: &[&str], rows: &[Vec<String>]) -> Result<()> {
    let f = hep_core::io::AtomicFile::create(path)?;
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(f);
    let io = |e: csv::Error| Error::io(path, std::io::Error::other(e));
    w.write_record(header).map_err(io)?;
    for r in rows {
        w.write_record(r).map_err(io)?;
    }
    let f = w
        .into_inner()
        .map_err(|e| Error::io(path, std::io::Error::other(e.to_string())))?;
    f.commit()?;
    Ok(())
}

/// (low, high) of the finite positive values.
fn span(v: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    v.filter(|x| x.is_finite() && *x > 0.0)
        .fold(None, |acc, x| match acc {
            None => Some((x, x)),
            Some((a, b)) => Some((a.min(x), b.max(x))),
        })
}

/// The diffusion-only 50 % width (ns) after a drift time (ns).
pub fn diffusion_width_ns(cfg: &CheckPlotConfig, drift_time_ns: f64) -> f64 {
    let t = (drift_time_ns - cfg.drift_time_gate_ns).max(0.0);
    let d = cfg.diffusion_cm2_per_s * 1e-9; // cm2/ns
    let v = cfg.drift_velocity_um_per_ns * 1e-4; // cm/ns
    1.349 * (2.0 * d * t).sqrt() / v
}

/// Draws the check plots of the `process` output `processed` (and of the `match` output
/// `matched`, if given) into `out`; returns the files written (each image, then its CSV).
///
/// # Errors
/// `path:1: expected a Float64 column ..., found ...` for a missing or mistyped column; table,
/// plot and I/O errors.
pub fn run_plots(
    cfg: &CheckPlotConfig,
    processed: &Path,
    matched: Option<&Path>,
    out: &Path,
) -> Result<Vec<PathBuf>> {
    if cfg.efficiency_bins_per_decade == 0 {
        return Err(Error::Config(
            "efficiency_bins_per_decade: expected at least 1, found 0".into(),
        ));
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let mut files = Vec::new();
    let opts = |title: &str, x: &str, y: &str| {
        PlotOptions::new(title, x, y).with_size(cfg.width, cfg.height)
    };
    let done = |image: &str, files: &mut Vec<PathBuf>| {
        let p = out.join(image);
        files.push(p.clone());
        files.push(p.with_extension("csv"));
        p
    };

    // cS1 - cS2.
    let path = processed.join("Corrections.parquet");
    let t = read_table(&path)?;
    let (ev, cs1, cs2) = (
        i64_col(&path, &t, "event_number")?,
        f64_col(&path, &t, "cs1")?,
        f64_col(&path, &t, "cs2")?,
    );
    let pts: Vec<(i64, f64, f64)> = (0..t.num_rows())
        .filter_map(|i| Some((ev.value(i), val(cs1, i)?, val(cs2, i)?)))
        .collect();
    let img = done(IMAGES[0], &mut files);
    write_csv(
        &img.with_extension("csv"),
        &["event_number", "cs1_pe", "cs2_pe"],
        &pts.iter()
            .map(|p| vec![p.0.to_string(), py_float(p.1), py_float(p.2)])
            .collect::<Vec<_>>(),
    )?;
    let log = span(pts.iter().map(|p| p.2)).is_some_and(|(a, b)| b > 30.0 * a);
    let o = opts(
        &format!("cS2 against cS1 ({} events)", pts.len()),
        "cS1 (pe)",
        if log {
            "cS2 (pe, log scale)"
        } else {
            "cS2 (pe)"
        },
    )
    .with_log_y(log);
    hep_core::plot::scatter(
        &img,
        &pts.iter().map(|p| (p.1, p.2)).collect::<Vec<_>>(),
        &o,
    )?;

    // S2 width - drift time.
    let path = processed.join("Basics.parquet");
    let t = read_table(&path)?;
    let (ev, dt, w) = (
        i64_col(&path, &t, "event_number")?,
        f64_col(&path, &t, "drift_time")?,
        f64_col(&path, &t, "s2_range_50p_area")?,
    );
    let pts: Vec<(i64, f64, f64)> = (0..t.num_rows())
        .filter_map(|i| Some((ev.value(i), val(dt, i)?, val(w, i)?)))
        .collect();
    let img = done(IMAGES[1], &mut files);
    write_csv(
        &img.with_extension("csv"),
        &[
            "event_number",
            "drift_time_us",
            "s2_range_50p_area_ns",
            "diffusion_model_ns",
        ],
        &pts.iter()
            .map(|p| {
                vec![
                    p.0.to_string(),
                    py_float(p.1 / 1000.0),
                    py_float(p.2),
                    py_float(diffusion_width_ns(cfg, p.1)),
                ]
            })
            .collect::<Vec<_>>(),
    )?;
    let t_max = pts.iter().map(|p| p.1).fold(0.0f64, f64::max).max(1.0);
    // Room above the points for the legend.
    let w_max = pts.iter().map(|p| p.2).fold(0.0f64, f64::max).max(1.0);
    let curve = Series::sample(
        format!(
            "diffusion only: 1.349 sqrt(2 D t) / v, D = {} cm2/s, v = {} um/ns",
            cfg.diffusion_cm2_per_s, cfg.drift_velocity_um_per_ns
        ),
        0.0,
        t_max / 1000.0,
        200,
        |us| diffusion_width_ns(cfg, us * 1000.0),
    );
    hep_core::plot::scatter_with_lines(
        &img,
        &pts.iter().map(|p| (p.1 / 1000.0, p.2)).collect::<Vec<_>>(),
        "main S2",
        &[curve],
        &opts(
            &format!("S2 width against drift time ({} events)", pts.len()),
            "Drift time (us)",
            "S2 50 % area width (ns)",
        )
        .with_y_range(0.0, w_max * 1.3),
    )?;

    let Some(mdir) = matched else {
        return Ok(files);
    };
    let path = mdir.join(format!("{MATCHED_PEAKS}.parquet"));
    let t = read_table(&path)?;
    let ty = str_col(&path, &t, "truth_peak_type")?;
    let outcome = str_col(&path, &t, "outcome")?;
    let ev = i64_col(&path, &t, "event_number")?;
    let np = i64_col(&path, &t, "truth_n_photons")?;
    let (tx, tyy, x, y) = (
        f64_col(&path, &t, "truth_x")?,
        f64_col(&path, &t, "truth_y")?,
        f64_col(&path, &t, "x")?,
        f64_col(&path, &t, "y")?,
    );
    let reconstructed = |i: usize| ["found", "split", "merged"].contains(&outcome.value(i));

    // Observed - true position.
    let pts: Vec<(i64, f64, f64, f64, f64)> = (0..t.num_rows())
        .filter(|&i| ty.value(i) == "s2" && reconstructed(i))
        .filter_map(|i| {
            Some((
                ev.value(i),
                val(tx, i)?,
                val(tyy, i)?,
                val(x, i)?,
                val(y, i)?,
            ))
        })
        .collect();
    let img = done(IMAGES[2], &mut files);
    write_csv(
        &img.with_extension("csv"),
        &["event_number", "truth_x_cm", "truth_y_cm", "x_cm", "y_cm"],
        &pts.iter()
            .map(|p| {
                vec![
                    p.0.to_string(),
                    py_float(p.1),
                    py_float(p.2),
                    py_float(p.3),
                    py_float(p.4),
                ]
            })
            .collect::<Vec<_>>(),
    )?;
    let lim = pts
        .iter()
        .flat_map(|p| [p.1, p.2, p.3, p.4])
        .fold(0.0f64, |a, v| a.max(v.abs()))
        .max(1.0)
        * 1.05;
    // Pearson correlation of reconstructed and true coordinate, shown in the panel titles: near 1
    // with a position-dependent S2 light pattern, near 0 when the simulation spread the top-array
    // light uniformly (no S2 pattern map), so the reader sees which case the plot shows.
    let xs: Vec<(f64, f64)> = pts.iter().map(|p| (p.1, p.3)).collect();
    let ys: Vec<(f64, f64)> = pts.iter().map(|p| (p.2, p.4)).collect();
    let (cx, cy) = (correlation(&xs), correlation(&ys));
    hep_core::plot::scatter_facets(
        &img,
        &[
            Series::new(
                format!("x: reconstructed against truth, correlation {cx:.2}"),
                xs,
            ),
            Series::new(
                format!("y: reconstructed against truth, correlation {cy:.2}"),
                ys,
            ),
        ],
        &opts(
            &format!("S2 position, weighted sum ({} S2s)", pts.len()),
            "Truth position (cm)",
            "Reconstructed position (cm)",
        )
        .with_x_range(-lim, lim)
        .with_y_range(-lim, lim),
    )?;

    // Efficiency against truth photons.
    let k = f64::from(cfg.efficiency_bins_per_decade);
    let mut rows = Vec::new();
    let mut markers = Vec::new();
    let mut bars = Vec::new();
    for kind in ["s1", "s2"] {
        let sel: Vec<(f64, bool)> = (0..t.num_rows())
            .filter(|&i| ty.value(i) == kind && np.value(i) > 0)
            .map(|i| (np.value(i) as f64, reconstructed(i)))
            .collect();
        let (mut pts, mut bar) = (Vec::new(), Vec::new());
        if let Some((lo, hi)) = span(sel.iter().map(|s| s.0)) {
            let b0 = (lo.log10() * k).floor() as i64;
            let b1 = (hi.log10() * k).floor() as i64;
            for b in b0..=b1 {
                let (l, h) = (10f64.powf(b as f64 / k), 10f64.powf((b + 1) as f64 / k));
                let inside: Vec<bool> = sel
                    .iter()
                    .filter(|s| ((s.0.log10() * k).floor() as i64) == b)
                    .map(|s| s.1)
                    .collect();
                if inside.is_empty() {
                    continue;
                }
                let n = inside.len() as f64;
                let r = inside.iter().filter(|&&x| x).count() as f64;
                let e = r / n;
                let err = (e * (1.0 - e) / n).sqrt();
                rows.push(vec![
                    kind.to_string(),
                    py_float(l),
                    py_float(h),
                    (n as u64).to_string(),
                    (r as u64).to_string(),
                    py_float(e),
                    py_float(err),
                ]);
                let xc = (b as f64 + 0.5) / k;
                pts.push((xc, e));
                bar.extend([(xc, e - err), (xc, e + err), (f64::NAN, f64::NAN)]);
            }
        }
        markers.push(Series::new(
            format!("{} ({} truth peaks)", kind.to_uppercase(), sel.len()),
            pts,
        ));
        bars.push(Series::new("", bar));
    }
    let img = done(IMAGES[3], &mut files);
    write_csv(
        &img.with_extension("csv"),
        &[
            "peak_type",
            "photons_low",
            "photons_high",
            "n_truth",
            "n_reconstructed",
            "efficiency",
            "error",
        ],
        &rows,
    )?;
    hep_core::plot::scatter_series(
        &img,
        &markers,
        &bars,
        &opts(
            "Reconstruction efficiency (found, split or merged)",
            "log10(truth photons at the PMTs)",
            "Efficiency",
        )
        .with_y_range(-0.02, 1.25),
    )?;
    Ok(files)
}

/// The Pearson correlation of the pairs `(u, v)` (NaN below two pairs or without spread).
fn correlation(pairs: &[(f64, f64)]) -> f64 {
    if pairs.len() < 2 {
        return f64::NAN;
    }
    let n = pairs.len() as f64;
    let (mu, mv) = pairs
        .iter()
        .fold((0.0, 0.0), |(a, b), &(u, v)| (a + u / n, b + v / n));
    let (suv, suu, svv) = pairs.iter().fold((0.0, 0.0, 0.0), |(c, a, b), &(u, v)| {
        (
            c + (u - mu) * (v - mv),
            a + (u - mu).powi(2),
            b + (v - mv).powi(2),
        )
    });
    suv / (suu * svv).sqrt()
}
