//! Plots of the source fits: the per-channel fit canvas (SourceFitter's
//! `mu2e_simu_fitSpec_<alg>_<CsI|LYSO>_<id>` canvases) and the global plots of CaloCalibration
//! `SourceCalib/src/SourcePlotter.cc`, as PNG or SVG files.
//!
//! # What is drawn
//!
//! * [`plot_channel`]: one channel's spectrum with the fitted model, in two pads. The upper pad
//!   (70 % of the height) shows the data (counts per bin, error bars `sqrt(n)`; empty bins are not
//!   drawn), the total model and its four components (full-energy line, single escape, double
//!   escape, exponential background) in counts per bin, and dashed vertical lines at the fitted
//!   peak positions `P`, `P 5.619/6.13` and `P 5.108/6.13` (the original drew them at the nominal
//!   98.08 / 89.904 / 81.728 ADC). A panel on the right holds the legend and the fit results
//!   (N, chi2/ndf, p-value, `P` with its errors, the width, sigma/E, ADC2MeV, the status bits).
//!   The lower pad shows the residuals `(n - nu) / sqrt(n)` of the non-empty bins of the fit range,
//!   `nu` from [`model::expected_counts`] (so exactly what the fit compared), with a line at 0.
//! * [`plot_channels`]: [`plot_channel`] for a list of channels (and, optionally, all failed ones).
//! * [`plot_summary`]: distributions of the fitted quantities over the usable channels
//!   ([`ChannelFit::is_ok`]), the constant against the channel id with its mean, mean ± 2 std and the
//!   nominal 0.0625 MeV/ADC, and per-disk maps of the constant, the width and the fit status on the
//!   crystal positions.
//! * [`plot_pairs_and_composite`]: the two SiPMs of each crystal against each other, the
//!   projections along and across the identity line, their difference per crystal, and the peak
//!   against the composite peak of the blended spectrum.
//!
//! # Maps
//!
//! Crystals sit in rows on a [`CRYSTAL_PITCH_MM`] (34.3 mm) square pitch, alternate rows shifted
//! by half a pitch (Offline's `crystalPos.txt`). A map is therefore a uniform grid with cells of
//! half a pitch in x and one pitch in y, spanning the crystals of the disk; each crystal fills the
//! two cells under its face, so the picture is exact for the real geometry. Per-SiPM fits are shown
//! per crystal: the constant and the width are the mean over the crystal's usable SiPMs (one SiPM
//! if its partner failed), the status map counts the crystal's unusable fits (0, 1 or 2). Crystals
//! without a usable fit are empty (white).
//!
//! # Output
//!
//! Every file is written atomically: drawn completely into a temporary file in the target
//! directory, then renamed onto its final name, so an error never leaves a partial plot. The format
//! follows the extension (`.png` or `.svg`, see [`Format::from_path`]). Text is drawn with
//! hep-core's embedded DejaVu Sans ([`plot::register_font`]). The same input gives byte-identical
//! files, whatever the number of threads.
//!
//! No function panics on NaN or empty input: non-finite values are left out of ranges, histograms
//! and maps, and an empty input gives plots with empty axes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hep_core::hist::Hist1D;
use hep_core::plot::{self, DrawResult, Figure, Format, Map2D, PlotOptions};
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use rayon::prelude::*;

use crate::channel::{CrystalPositions, IdMode, N_CRYSTALS, SIPMS_PER_CRYSTAL};
use crate::fit::{ChannelFit, ChannelStatus, FitConfig};
use crate::model::{self, E_FIRST_ESCAPE_MEV, E_FULL_MEV, E_SECOND_ESCAPE_MEV, ModelRange};
use crate::spectra::{Spectrum, SpectrumSet};
use crate::{Error, Result};

/// The nominal CsI calibration constant of the simulation, 0.0625 MeV/ADC (16 ADC/MeV; Offline
/// `common.fcl`), drawn as a reference line on the constant-vs-channel plot (SourcePlotter).
pub const NOMINAL_ADC2MEV: f64 = 0.0625;

/// Crystal pitch on the disks (mm): 34 mm crystals plus 2 x 0.15 mm wrapping (Offline `CaloConst`).
pub const CRYSTAL_PITCH_MM: f64 = 34.3;

/// Size of the per-channel canvas of [`plot_channel`] in pixels (SVG user units), width x height.
pub const CHANNEL_PLOT_SIZE: (u32, u32) = (1000, 800);

/// Size of the distribution plots of [`plot_summary`] in pixels, width x height.
pub const DIST_PLOT_SIZE: (u32, u32) = (800, 600);

/// Size of the constant-vs-channel plot of [`plot_summary`] in pixels, width x height.
pub const SCATTER_PLOT_SIZE: (u32, u32) = (1000, 600);

/// Size of the disk maps of [`plot_summary`] in pixels, width x height.
pub const MAP_PLOT_SIZE: (u32, u32) = (800, 700);

/// The distributions written by [`plot_summary`]: file stem after `dist_`, and what is histogrammed.
pub const DISTRIBUTIONS: [&str; 6] = [
    "peak",
    "adc2mev",
    "width",
    "sigma_over_e",
    "chi2_ndf",
    "p_value",
];

/// The per-disk maps written by [`plot_summary`]: file stem after `map_` (then `_disk<d>`).
pub const MAPS: [&str; 3] = ["adc2mev", "width", "status"];

/// Values with a larger magnitude are treated as missing (the axis-tick code of `plotters` does
/// not terminate near the `f64` overflow limit).
const MAX_ABS: f64 = 1e300;

const FONT_FAMILY: &str = "sans-serif";

/// Colours: data black; total model red, then the components.
const RED: RGBColor = RGBColor(214, 39, 40);
const BLUE: RGBColor = RGBColor(31, 119, 180);
const GREEN: RGBColor = RGBColor(44, 160, 44);
const ORANGE: RGBColor = RGBColor(255, 127, 14);
const PURPLE: RGBColor = RGBColor(148, 103, 189);
const GREY: RGBColor = RGBColor(127, 127, 127);

// ---------------------------------------------------------------------------------------------
// Public functions
// ---------------------------------------------------------------------------------------------

/// Writes the global plots of a detector fit into `dir`, once per format in `formats`
/// (duplicates are written once), and returns the paths written, in the order listed here.
///
/// * `dist_<name>.<ext>` for each name of [`DISTRIBUTIONS`]: histograms over the usable channels
///   ([`ChannelFit::is_ok`]) of the peak position (ADC), the constant ADC2MeV (MeV/ADC), the width (MeV),
///   the relative resolution `width / 6.13 MeV` (%), `chi2/ndf` (fits with `ndf > 0`) and the
///   p-value. Ranges come from the 1 % and 99 % quantiles with 15 % padding, rounded to a
///   1-2-5 bin width (the p-value always spans 0 to 1); values outside go to the under- and
///   overflow and are counted in the title, together with N, the mean and the standard deviation
///   of all finite values.
/// * `adc2mev_vs_roid.<ext>`: ADC2MeV (MeV/ADC) of the usable channels against their id (roid, or
///   crystal id in per-crystal `mode`) with Hessian error bars, and horizontal lines at the mean,
///   mean ± 2 std and [`NOMINAL_ADC2MEV`] (SourcePlotter's first plot). The y range covers the 0.5
///   % to 99.5 % quantiles and the lines; points outside are counted in the title.
/// * with `positions`: `map_<name>_disk<d>.<ext>` for each name of [`MAPS`] and each disk `d` that
///   has at least one fit record: the constant (MeV/ADC), the width (MeV) and the number of
///   unusable fits per crystal, on the crystal positions (see the module documentation). The
///   colour scales of the constant and the width span the 2 % to 98 % quantiles of the crystals;
///   values beyond take the colour of the nearer end.
///
/// Fit records whose id is not a valid id of `mode` (e.g. PIN diodes) are left out of the maps.
///
/// # Errors
/// [`Error::Core`] if a plot cannot be drawn or written (I/O, e.g. `dir` does not exist);
/// [`Error::InvalidArgument`] if the crystal positions of a disk span more than 4000 grid cells
/// per axis (not a calorimeter geometry). Files written before the error remain.
pub fn plot_summary(
    dir: &Path,
    fits: &[ChannelFit],
    positions: Option<&CrystalPositions>,
    mode: IdMode,
    formats: &[Format],
) -> Result<Vec<PathBuf>> {
    let formats = dedup_formats(formats);
    let usable: Vec<&ChannelFit> = fits.iter().filter(|f| f.is_ok()).collect();
    let mut written = Vec::new();

    for name in DISTRIBUTIONS {
        let d = distribution(name, &usable)?;
        for &fmt in &formats {
            let path = dir.join(format!("dist_{name}.{}", fmt.extension()));
            plot::histogram_with_curves(&path, &d.hist, &[], &d.opts)?;
            written.push(path);
        }
    }

    let scatter = constant_vs_id(&usable, mode);
    for &fmt in &formats {
        let path = dir.join(format!("adc2mev_vs_roid.{}", fmt.extension()));
        render(&path, SCATTER_PLOT_SIZE, &scatter)?;
        written.push(path);
    }

    if let Some(positions) = positions {
        let per_crystal = aggregate_per_crystal(fits, mode);
        let mut disks: Vec<u32> = fits
            .iter()
            .filter(|f| mode.is_valid(f.roid))
            .map(|f| mode.disk(f.roid))
            .collect();
        disks.sort_unstable();
        disks.dedup();
        for disk in disks {
            let Some(grid) = DiskGrid::new(positions, disk)? else {
                continue;
            };
            for name in MAPS {
                let (map, opts) = disk_map(name, disk, &grid, positions, &per_crystal, mode)?;
                for &fmt in &formats {
                    let path = dir.join(format!("map_{name}_disk{disk}.{}", fmt.extension()));
                    plot::map2d(&path, &map, &opts)?;
                    written.push(path);
                }
            }
        }
    }
    Ok(written)
}

/// SourcePlotter's SiPM-pair and composite-peak plots (P against `CompositePeak`, and the (2c,
/// 2c+1) pair plots), over the usable channels ([`ChannelFit::is_ok`]), into `dir` in each of
/// `formats`:
///
/// * `adc2mev_pairs`: the constants of the two SiPMs of each crystal (even roid `2c` on x, odd
///   `2c + 1` on y), with the identity line (per-SiPM fits only);
/// * `adc2mev_pair_sum` and `adc2mev_pair_diff`: histograms (60 bins) of the projections along
///   the identity line, `(a + b) / sqrt 2`, and across it, `(b - a) / sqrt 2`, each with the
///   Gaussian of the same mean and standard deviation; the ranges are the mean ± 5 standard
///   deviations (SourcePlotter's fixed 0.05-0.08 and ± 0.01 MeV/ADC only suit 16 ADC/MeV);
/// * `adc2mev_pair_diff_vs_crystal`: `b - a` against the crystal id, with its mean;
/// * `peak_vs_composite`: the fitted `P` against the composite peak (the maximum of the total
///   model on `range`, [`model::composite_peak_adc`]) for the CsI channels, with the
///   least-squares straight line (SourcePlotter's pol1 trend).
///
/// Returns the files written. Pair plots are skipped in per-crystal mode.
///
/// # Errors
/// [`Error::Core`] if a plot cannot be drawn or written.
pub fn plot_pairs_and_composite(
    dir: &Path,
    fits: &[ChannelFit],
    mode: IdMode,
    range: ModelRange,
    formats: &[Format],
) -> Result<Vec<PathBuf>> {
    let formats = dedup_formats(formats);
    let usable: Vec<&ChannelFit> = fits
        .iter()
        .filter(|f| f.is_ok() && plottable(f.adc2mev))
        .collect();
    let mut written = Vec::new();
    if mode == IdMode::PerSipm {
        let by_id: BTreeMap<u32, f64> = usable.iter().map(|f| (f.roid, f.adc2mev)).collect();
        // (crystal, even SiPM's constant, odd SiPM's constant)
        let pairs: Vec<(u32, f64, f64)> = by_id
            .iter()
            .filter(|(id, _)| *id % 2 == 0)
            .filter_map(|(&id, &a)| by_id.get(&(id + 1)).map(|&b| (id / 2, a, b)))
            .collect();
        let figs = [
            ("adc2mev_pairs", pair_scatter(&pairs)),
            ("adc2mev_pair_diff_vs_crystal", pair_diff_vs_crystal(&pairs)),
        ];
        for (name, fig) in &figs {
            for &fmt in &formats {
                let path = dir.join(format!("{name}.{}", fmt.extension()));
                render(&path, SCATTER_PLOT_SIZE, fig)?;
                written.push(path);
            }
        }
        let sqrt2 = std::f64::consts::SQRT_2;
        let sums: Vec<f64> = pairs.iter().map(|p| (p.1 + p.2) / sqrt2).collect();
        let diffs: Vec<f64> = pairs.iter().map(|p| (p.2 - p.1) / sqrt2).collect();
        for (name, values, title, x_label) in [
            (
                "adc2mev_pair_sum",
                &sums,
                "SiPM pairs along the identity line",
                "(a + b) / sqrt 2 (MeV/ADC)",
            ),
            (
                "adc2mev_pair_diff",
                &diffs,
                "SiPM pairs across the identity line",
                "(b - a) / sqrt 2 (MeV/ADC)",
            ),
        ] {
            let (hist, curve, opts) = projection_histogram(values, title, x_label)?;
            for &fmt in &formats {
                let path = dir.join(format!("{name}.{}", fmt.extension()));
                plot::histogram_with_curves(&path, &hist, std::slice::from_ref(&curve), &opts)?;
                written.push(path);
            }
        }
    }
    let points: Vec<(f64, f64)> = usable
        .iter()
        .filter(|f| !mode.is_lyso(f.roid))
        .map(|f| (model::composite_peak_adc(&f.params(), range), f.peak))
        .filter(|&(x, y)| plottable(x) && plottable(y))
        .collect();
    let fig = peak_vs_composite(&points);
    for &fmt in &formats {
        let path = dir.join(format!("peak_vs_composite.{}", fmt.extension()));
        render(&path, SCATTER_PLOT_SIZE, &fig)?;
        written.push(path);
    }
    Ok(written)
}

/// Axis range covering `values` with 5 % margins (or a unit-width range around a lone value).
fn padded_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| plottable(*v))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    let (lo, hi) = widen(lo, hi);
    let pad = 0.05 * (hi - lo);
    (lo - pad, hi + pad)
}

fn pair_scatter(pairs: &[(u32, f64, f64)]) -> XyFigure {
    // Same range on both axes so the identity line is the diagonal.
    let r = padded_range(pairs.iter().flat_map(|p| [p.1, p.2]));
    let markers = pairs
        .iter()
        .map(|&(_, a, b)| Marker {
            x: a,
            y: b,
            lo: b,
            hi: b,
        })
        .collect();
    let lines = vec![Line {
        label: "identity".to_string(),
        color: RED,
        dashed: true,
        pieces: clip_pieces(&[vec![(r.0, r.0), (r.1, r.1)]], r, r),
    }];
    XyFigure {
        title: format!(
            "ADC2MeV of the two SiPMs of each crystal: {} pairs",
            pairs.len()
        ),
        x_label: "even SiPM (MeV/ADC)".to_string(),
        y_label: "odd SiPM (MeV/ADC)".to_string(),
        x: r,
        y: r,
        markers,
        lines,
    }
}

fn pair_diff_vs_crystal(pairs: &[(u32, f64, f64)]) -> XyFigure {
    let diffs: Vec<f64> = pairs.iter().map(|p| p.2 - p.1).collect();
    let (mean, std) = mean_std(&diffs);
    let x = padded_range(pairs.iter().map(|p| f64::from(p.0)));
    let y = padded_range(diffs.iter().copied().chain([0.0]));
    let markers = pairs
        .iter()
        .zip(&diffs)
        .map(|(p, &d)| Marker {
            x: f64::from(p.0),
            y: d,
            lo: d,
            hi: d,
        })
        .collect();
    let mut lines = vec![Line {
        label: String::new(),
        color: BLACK,
        dashed: true,
        pieces: clip_pieces(&[vec![(x.0, 0.0), (x.1, 0.0)]], x, y),
    }];
    if plottable(mean) {
        lines.push(Line {
            label: format!("mean {}", sig(mean, 3)),
            color: BLUE,
            dashed: false,
            pieces: clip_pieces(&[vec![(x.0, mean), (x.1, mean)]], x, y),
        });
    }
    XyFigure {
        title: format!(
            "Odd - even SiPM ADC2MeV: N = {}, std {} MeV/ADC",
            pairs.len(),
            sig(std, 3)
        ),
        x_label: "Crystal id".to_string(),
        y_label: "b - a (MeV/ADC)".to_string(),
        x,
        y,
        markers,
        lines,
    }
}

/// A 60-bin histogram of `values` over their mean ± 5 standard deviations, with the Gaussian of
/// the same mean and standard deviation in counts per bin.
fn projection_histogram(
    values: &[f64],
    title: &str,
    x_label: &str,
) -> Result<(Hist1D, plot::Curve, PlotOptions)> {
    let finite: Vec<f64> = values.iter().copied().filter(|v| plottable(*v)).collect();
    let (mean, std) = mean_std(&finite);
    let (lo, hi) = if plottable(mean) && std > 0.0 {
        (mean - 5.0 * std, mean + 5.0 * std)
    } else {
        widen(
            finite.first().copied().unwrap_or(0.0),
            finite.first().copied().unwrap_or(0.0),
        )
    };
    let mut hist = Hist1D::new(60, lo, hi)?;
    for &v in &finite {
        hist.fill(v);
    }
    let w = hist.bin_width();
    let n = finite.len() as f64;
    let curve = if plottable(mean) && std > 0.0 {
        plot::Series::sample(
            format!("Gaussian, sigma {}", sig(std, 3)),
            lo,
            hi,
            301,
            |x| {
                let z = (x - mean) / std;
                n * w * (-0.5 * z * z).exp() / (std * (2.0 * std::f64::consts::PI).sqrt())
            },
        )
    } else {
        plot::Series::default()
    };
    let opts = PlotOptions::new(
        format!("{title}: N = {}", finite.len()),
        x_label,
        "SiPM pairs / bin",
    )
    .with_size(DIST_PLOT_SIZE.0, DIST_PLOT_SIZE.1);
    Ok((hist, curve, opts))
}

fn peak_vs_composite(points: &[(f64, f64)]) -> XyFigure {
    let x = padded_range(points.iter().map(|p| p.0));
    let y = padded_range(points.iter().map(|p| p.1));
    let markers = points
        .iter()
        .map(|&(px, py)| Marker {
            x: px,
            y: py,
            lo: py,
            hi: py,
        })
        .collect();
    // Least-squares straight line y = a + b x.
    let n = points.len() as f64;
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), p| (a + p.0, b + p.1));
    let (mx, my) = (sx / n, sy / n);
    let (sxx, sxy) = points.iter().fold((0.0, 0.0), |(a, b), p| {
        (a + (p.0 - mx) * (p.0 - mx), b + (p.0 - mx) * (p.1 - my))
    });
    let mut lines = Vec::new();
    let mut title = format!("Peak vs composite peak (CsI): N = {}", points.len());
    if points.len() >= 2 && sxx > 0.0 {
        let b = sxy / sxx;
        let a = my - b * mx;
        title.push_str(&format!(", P = {} + {} x", sig(a, 4), sig(b, 4)));
        lines.push(Line {
            label: "least-squares line".to_string(),
            color: RED,
            dashed: false,
            pieces: clip_pieces(&[vec![(x.0, a + b * x.0), (x.1, a + b * x.1)]], x, y),
        });
    }
    XyFigure {
        title,
        x_label: "Composite peak (ADC)".to_string(),
        y_label: "Peak P (ADC)".to_string(),
        x,
        y,
        markers,
        lines,
    }
}

/// Draws the fit canvas of one channel into `path` (PNG or SVG by extension), a canvas of
/// [`CHANNEL_PLOT_SIZE`] pixels; see the module documentation for what it shows.
///
/// The model is drawn when all eight parameters of `fit` are finite (with the peak and the width
/// positive), whatever its status; the components are `yield x density x bin width` (counts per
/// bin), the density from [`model::component_density`] normalised over `cfg.range_adc`, evaluated
/// on 601 points across the fit range. The x axis spans the bins of the fit range (bins whose
/// centres lie in `cfg.range_adc`, as in the fit), or the whole histogram if there is no model.
/// A fit that is not usable ([`ChannelFit::is_ok`]), including one that was not fitted (NaN parameters),
/// is titled "Channel `id`: fit failed (status `N`)". The y axis is titled
/// "Counts / (`w` ADC)" for uniform bins of width `w` ADC, "Counts per bin" otherwise; the x axis
/// "Amplitude (ADC)".
///
/// # Errors
/// * [`Error::InvalidArgument`]: `spectrum.id != fit.roid`, a spectrum without bins, edges that
///   are not `counts.len() + 1` finite increasing values, or a count that is negative or not
///   finite;
/// * [`Error::Core`]: an extension other than `.png`/`.svg` (hep-core's `InvalidArgument`),
///   a drawing error, or I/O.
///
/// On error no file is created at `path`.
pub fn plot_channel(
    path: &Path,
    spectrum: &Spectrum,
    fit: &ChannelFit,
    cfg: &FitConfig,
) -> Result<()> {
    Format::from_path(path)?;
    if spectrum.id != fit.roid {
        return Err(Error::InvalidArgument(format!(
            "plot of channel {}: the fit is of channel {}",
            spectrum.id, fit.roid
        )));
    }
    check_spectrum(spectrum)?;
    let figure = ChannelFigure::build(spectrum, fit, cfg);
    render(path, CHANNEL_PLOT_SIZE, &figure)
}

/// Draws [`plot_channel`] canvases `channel_<id>.<ext>` into `dir` for the channels `ids` and,
/// with `include_failed`, for every fit in `fits` that is not usable ([`ChannelFit::is_ok`]) and has a
/// spectrum in `set`; once per format in `formats` (duplicates once). Each channel is drawn once,
/// in increasing id order; the drawing runs in parallel (rayon) and the files do not depend on
/// the thread count. Returns the paths written, by id, then format.
///
/// If `fits` holds several records of one id, the first is used.
///
/// # Errors
/// * [`Error::InvalidArgument`]: an id of `ids` without a spectrum in `set` or without a fit in
///   `fits`; and as [`plot_channel`];
/// * [`Error::Core`]: drawing or I/O errors.
///
/// Plots of other channels may have been written when an error is returned.
pub fn plot_channels(
    dir: &Path,
    set: &SpectrumSet,
    fits: &[ChannelFit],
    ids: &[u32],
    include_failed: bool,
    cfg: &FitConfig,
    formats: &[Format],
) -> Result<Vec<PathBuf>> {
    let formats = dedup_formats(formats);
    let mut by_id: BTreeMap<u32, &ChannelFit> = BTreeMap::new();
    for f in fits {
        by_id.entry(f.roid).or_insert(f);
    }
    let mut chosen: Vec<u32> = Vec::new();
    for &id in ids {
        if set.get(id).is_none() {
            return Err(Error::InvalidArgument(format!(
                "channel {id}: no spectrum in the input"
            )));
        }
        if !by_id.contains_key(&id) {
            return Err(Error::InvalidArgument(format!(
                "channel {id}: no fit in the fit results"
            )));
        }
        chosen.push(id);
    }
    if include_failed {
        chosen.extend(
            by_id
                .values()
                .filter(|f| !f.is_ok() && set.get(f.roid).is_some())
                .map(|f| f.roid),
        );
    }
    chosen.sort_unstable();
    chosen.dedup();
    let per_channel: Vec<Vec<PathBuf>> = chosen
        .par_iter()
        .map(|&id| -> Result<Vec<PathBuf>> {
            // Both lookups succeed: ids were checked above, failed ones filtered on the set.
            let (Some(spectrum), Some(fit)) = (set.get(id), by_id.get(&id)) else {
                return Ok(Vec::new());
            };
            let mut out = Vec::with_capacity(formats.len());
            for &fmt in &formats {
                let path = dir.join(format!("channel_{id}.{}", fmt.extension()));
                plot_channel(&path, spectrum, fit, cfg)?;
                out.push(path);
            }
            Ok(out)
        })
        .collect::<Result<_>>()?;
    Ok(per_channel.into_iter().flatten().collect())
}

// ---------------------------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------------------------

fn plottable(v: f64) -> bool {
    v.is_finite() && v.abs() <= MAX_ABS
}

fn dedup_formats(formats: &[Format]) -> Vec<Format> {
    let mut out: Vec<Format> = Vec::new();
    for &f in formats {
        if !out.contains(&f) {
            out.push(f);
        }
    }
    out
}

/// The finite values, sorted.
fn sorted_finite(values: impl IntoIterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| plottable(*x)).collect();
    v.sort_by(f64::total_cmp);
    v
}

/// Quantile `q` (0..=1) of sorted values by linear interpolation; `None` if empty.
fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
    let i = (pos.floor() as usize).min(n - 1);
    let j = (i + 1).min(n - 1);
    let w = pos - i as f64;
    Some(sorted[i] + w * (sorted[j] - sorted[i]))
}

/// Mean and (population) standard deviation of the finite values; NaN if there are none.
fn mean_std(values: &[f64]) -> (f64, f64) {
    let v: Vec<f64> = values.iter().copied().filter(|x| plottable(*x)).collect();
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var.max(0.0).sqrt())
}

/// `v` with `digits` significant digits, without trailing zeros; "nan" for NaN.
fn sig(v: f64, digits: usize) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    if v == 0.0 {
        return "0".to_string();
    }
    let e = v.abs().log10().floor();
    if (-4.0..6.0).contains(&e) {
        let decimals = ((digits as f64 - 1.0 - e).max(0.0)) as usize;
        let s = format!("{v:.decimals$}");
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        };
        if s == "-0" { "0".to_string() } else { s }
    } else {
        let s = format!("{v:.prec$e}", prec = digits.saturating_sub(1));
        match s.split_once('e') {
            Some((m, e)) if m.contains('.') => {
                format!("{}e{e}", m.trim_end_matches('0').trim_end_matches('.'))
            }
            _ => s,
        }
    }
}

/// The 1-2-5 step at or above `x > 0`.
fn nice_step(x: f64) -> f64 {
    let p = 10f64.powf(x.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|s| *s >= x * (1.0 - 1e-12))
        .unwrap_or(10.0 * p)
}

/// A widened copy of `(lo, hi)` if it is empty or too narrow to draw.
fn widen(lo: f64, hi: f64) -> (f64, f64) {
    let scale = lo.abs().max(hi.abs());
    if hi - lo > 1e-9 * scale && hi - lo > 1e-250 {
        return (lo, hi);
    }
    let c = 0.5 * (lo + hi);
    let half = if c.abs() > 1e-200 { 0.1 * c.abs() } else { 0.5 };
    (c - half, c + half)
}

/// Binning of a distribution: `(n_bins, low, high)` from the 1 % and 99 % quantiles of the
/// (sorted, finite) values, 15 % padding, at least `floor` if given, a 1-2-5 bin width.
fn auto_binning(sorted: &[f64], floor: Option<f64>) -> (usize, f64, f64) {
    let (Some(q0), Some(q1)) = (quantile(sorted, 0.01), quantile(sorted, 0.99)) else {
        return (10, floor.unwrap_or(0.0), floor.unwrap_or(0.0) + 1.0);
    };
    let (q0, q1) = widen(q0, q1);
    let pad = 0.15 * (q1 - q0);
    let mut lo = q0 - pad;
    let hi = q1 + pad;
    if let Some(f) = floor
        && q0 >= f
    {
        lo = lo.max(f);
    }
    let target = (2.0 * (sorted.len() as f64).sqrt())
        .round()
        .clamp(10.0, 60.0);
    let step = nice_step((hi - lo) / target);
    let lo_n = (lo / step).floor() * step;
    let n = (((hi - lo_n) / step).ceil() as usize).clamp(1, 200);
    let hi_n = lo_n + n as f64 * step;
    if plottable(lo_n) && plottable(hi_n) && lo_n < hi_n {
        (n, lo_n, hi_n)
    } else {
        (target as usize, lo, hi.max(lo + 1.0))
    }
}

// ---------------------------------------------------------------------------------------------
// Summary: distributions, constant vs id, maps
// ---------------------------------------------------------------------------------------------

struct Distribution {
    hist: Hist1D,
    opts: PlotOptions,
}

fn distribution(name: &str, usable: &[&ChannelFit]) -> Result<Distribution> {
    type Getter = fn(&ChannelFit) -> f64;
    let (title, x_label, unit, floor, get): (&str, &str, &str, Option<f64>, Getter) = match name {
        "peak" => ("Full-energy peak", "Peak (ADC)", "ADC", None, |f| f.peak),
        "adc2mev" => (
            "Calibration constant",
            "ADC2MeV (MeV/ADC)",
            "MeV/ADC",
            None,
            |f| f.adc2mev,
        ),
        "width" => ("Width", "Width (MeV)", "MeV", Some(0.0), |f| f.width),
        "sigma_over_e" => (
            "Relative resolution at 6.13 MeV",
            "σ/E (%)",
            "%",
            Some(0.0),
            |f| 100.0 * f.width / E_FULL_MEV,
        ),
        "chi2_ndf" => ("Goodness of fit", "χ²/ndf", "", Some(0.0), |f| {
            if f.ndf > 0 {
                f.chi2 / f64::from(f.ndf)
            } else {
                f64::NAN
            }
        }),
        _ => ("Fit probability", "p-value", "", Some(0.0), |f| f.p_value),
    };
    let values: Vec<f64> = usable.iter().map(|f| get(f)).collect();
    let sorted = sorted_finite(values.iter().copied());
    let (n_bins, lo, hi) = if name == "p_value" {
        (20, 0.0, 1.0 + 1e-9)
    } else {
        auto_binning(&sorted, floor)
    };
    let mut hist = Hist1D::new(n_bins, lo, hi)?;
    for &v in &sorted {
        hist.fill(v);
    }
    let (mean, std) = mean_std(&sorted);
    let outside = hist.underflow() + hist.overflow();
    let mut title = format!("{title}: N = {}", sorted.len());
    if !sorted.is_empty() {
        title.push_str(&format!(", mean {}, std {}", sig(mean, 4), sig(std, 3)));
    }
    if outside > 0.0 {
        title.push_str(&format!(", {outside} outside"));
    }
    let width = sig((hi - lo) / n_bins as f64, 3);
    let y_label = if unit.is_empty() {
        format!("Channels / {width}")
    } else {
        format!("Channels / ({width} {unit})")
    };
    let opts = PlotOptions::new(title, x_label, y_label)
        .with_size(DIST_PLOT_SIZE.0, DIST_PLOT_SIZE.1)
        .with_x_range(lo, hi);
    Ok(Distribution { hist, opts })
}

/// The constant-vs-id plot of the usable fits.
fn constant_vs_id(usable: &[&ChannelFit], mode: IdMode) -> XyFigure {
    let pts: Vec<(f64, f64, f64)> = usable
        .iter()
        .filter(|f| plottable(f.adc2mev))
        .map(|f| {
            let e = if plottable(f.adc2mev_err) {
                f.adc2mev_err.abs()
            } else {
                0.0
            };
            (f64::from(f.roid), f.adc2mev, e)
        })
        .collect();
    let ys: Vec<f64> = pts.iter().map(|p| p.1).collect();
    let (mean, std) = mean_std(&ys);
    let sorted = sorted_finite(ys.iter().copied());

    // x: the ids with 2 % margins, or the whole id range if there is nothing to show.
    let x = match (pts.first(), pts.last()) {
        (Some(a), Some(b)) => {
            let (lo, hi) = (a.0.min(b.0), a.0.max(b.0));
            let m = (0.02 * (hi - lo)).max(1.0);
            (lo - m, hi + m)
        }
        _ => (0.0, f64::from(mode.n_ids())),
    };
    // y: robust range of the constants plus every line.
    let mut y_vals = vec![NOMINAL_ADC2MEV];
    if let (Some(a), Some(b)) = (quantile(&sorted, 0.005), quantile(&sorted, 0.995)) {
        y_vals.extend([a, b]);
    }
    if plottable(mean) && plottable(std) {
        y_vals.extend([mean - 2.0 * std, mean + 2.0 * std]);
    }
    let (ylo, yhi) = y_vals
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let (ylo, yhi) = widen(ylo, yhi);
    let pad = 0.08 * (yhi - ylo);
    let y = (ylo - pad, yhi + pad);

    let mut outside = 0usize;
    let markers: Vec<Marker> = pts
        .iter()
        .filter(|&&(px, py, _)| {
            let inside = py >= y.0 && py <= y.1 && px >= x.0 && px <= x.1;
            outside += usize::from(!inside);
            inside
        })
        .map(|&(px, py, e)| Marker {
            x: px,
            y: py,
            lo: (py - e).max(y.0),
            hi: (py + e).min(y.1),
        })
        .collect();
    let hline = |v: f64| vec![vec![(x.0, v), (x.1, v)]];
    let mut lines = Vec::new();
    if plottable(mean) && plottable(std) {
        lines.push(Line {
            label: format!("mean {}", sig(mean, 5)),
            color: BLUE,
            dashed: false,
            pieces: hline(mean),
        });
        lines.push(Line {
            label: "mean ± 2 std".to_string(),
            color: GREEN,
            dashed: true,
            pieces: hline(mean - 2.0 * std),
        });
        lines.push(Line {
            label: String::new(),
            color: GREEN,
            dashed: true,
            pieces: hline(mean + 2.0 * std),
        });
    }
    lines.push(Line {
        label: format!("nominal {NOMINAL_ADC2MEV}"),
        color: RED,
        dashed: false,
        pieces: hline(NOMINAL_ADC2MEV),
    });
    let mut title = format!("ADC2MeV vs {}: N = {}", mode.id_name(), pts.len());
    if plottable(mean) && mean != 0.0 {
        title.push_str(&format!(
            ", mean {} MeV/ADC, std {} %",
            sig(mean, 5),
            sig(100.0 * std / mean, 3)
        ));
    }
    if outside > 0 {
        title.push_str(&format!(", {outside} outside"));
    }
    let x_label = match mode {
        IdMode::PerSipm => "SiPM id (roid)",
        IdMode::PerCrystal => "Crystal id",
    };
    XyFigure {
        title,
        x_label: x_label.to_string(),
        y_label: "ADC2MeV (MeV/ADC)".to_string(),
        x,
        y,
        markers,
        lines,
    }
}

/// Per-crystal sums of the fit records.
#[derive(Debug, Clone, Copy, Default)]
struct CrystalAgg {
    records: u32,
    unusable: u32,
    adc2mev_sum: f64,
    adc2mev_n: u32,
    width_sum: f64,
    width_n: u32,
}

fn aggregate_per_crystal(fits: &[ChannelFit], mode: IdMode) -> Vec<CrystalAgg> {
    let mut agg = vec![CrystalAgg::default(); N_CRYSTALS as usize];
    for f in fits.iter().filter(|f| mode.is_valid(f.roid)) {
        let a = &mut agg[mode.crystal(f.roid) as usize];
        a.records += 1;
        if !f.is_ok() {
            a.unusable += 1;
            continue;
        }
        if plottable(f.adc2mev) {
            a.adc2mev_sum += f.adc2mev;
            a.adc2mev_n += 1;
        }
        if plottable(f.width) {
            a.width_sum += f.width;
            a.width_n += 1;
        }
    }
    agg
}

/// The uniform grid of one disk's map: half-pitch cells in x, pitch cells in y.
struct DiskGrid {
    x_low: f64,
    nx: usize,
    y_low: f64,
    ny: usize,
}

const MAX_GRID_CELLS: f64 = 4000.0;

impl DiskGrid {
    /// The grid covering the crystals of `disk`, or `None` if the disk has no crystal.
    fn new(positions: &CrystalPositions, disk: u32) -> Result<Option<Self>> {
        let half = 0.5 * CRYSTAL_PITCH_MM;
        let on_disk = positions.as_slice().iter().filter(|p| p.disk == disk);
        let (mut x0, mut x1, mut y0, mut y1) = (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        );
        for p in on_disk {
            x0 = x0.min(p.x_mm);
            x1 = x1.max(p.x_mm);
            y0 = y0.min(p.y_mm);
            y1 = y1.max(p.y_mm);
        }
        if !(x0 <= x1 && y0 <= y1) {
            return Ok(None);
        }
        let nx = ((x1 - x0) / half).round() + 2.0;
        let ny = ((y1 - y0) / CRYSTAL_PITCH_MM).round() + 1.0;
        if !(nx <= MAX_GRID_CELLS && ny <= MAX_GRID_CELLS) {
            return Err(Error::InvalidArgument(format!(
                "crystal positions of disk {disk} span {x0}..{x1} mm x {y0}..{y1} mm: more than \
                 {MAX_GRID_CELLS} map cells of {CRYSTAL_PITCH_MM} mm per axis"
            )));
        }
        Ok(Some(Self {
            x_low: x0 - half,
            nx: nx as usize,
            y_low: y0 - half,
            ny: ny as usize,
        }))
    }

    /// The two cells `(ix, iy)` under a crystal centred at `(x, y)` (mm).
    fn cells(&self, x: f64, y: f64) -> [(usize, usize); 2] {
        let half = 0.5 * CRYSTAL_PITCH_MM;
        let ix = ((x - half - self.x_low) / half).round().max(0.0) as usize;
        let ix = ix.min(self.nx.saturating_sub(2));
        let iy = ((y - self.y_low) / CRYSTAL_PITCH_MM - 0.5).round().max(0.0) as usize;
        let iy = iy.min(self.ny - 1);
        [(ix, iy), ((ix + 1).min(self.nx - 1), iy)]
    }

    fn empty_map(&self) -> Result<Map2D> {
        let half = 0.5 * CRYSTAL_PITCH_MM;
        Ok(Map2D::new(
            self.x_low,
            self.x_low + self.nx as f64 * half,
            self.nx,
            self.y_low,
            self.y_low + self.ny as f64 * CRYSTAL_PITCH_MM,
            self.ny,
        )?)
    }
}

fn disk_map(
    name: &str,
    disk: u32,
    grid: &DiskGrid,
    positions: &CrystalPositions,
    agg: &[CrystalAgg],
    mode: IdMode,
) -> Result<(Map2D, PlotOptions)> {
    let mut map = grid.empty_map()?;
    let mut values = Vec::new();
    for (cry, p) in positions.as_slice().iter().enumerate() {
        if p.disk != disk {
            continue;
        }
        let Some(a) = agg.get(cry) else { continue };
        let v = match name {
            "adc2mev" if a.adc2mev_n > 0 => a.adc2mev_sum / f64::from(a.adc2mev_n),
            "width" if a.width_n > 0 => a.width_sum / f64::from(a.width_n),
            "status" if a.records > 0 => f64::from(a.unusable),
            _ => continue,
        };
        if !plottable(v) {
            continue;
        }
        values.push(v);
        for (ix, iy) in grid.cells(p.x_mm, p.y_mm) {
            map.set(ix, iy, v);
        }
    }
    let per_sipm = !mode.is_per_crystal();
    let (what, z_label) = match name {
        "adc2mev" => ("ADC2MeV", "ADC2MeV (MeV/ADC)"),
        "width" => ("Width", "Width (MeV)"),
        _ => ("Unusable fits", "Unusable fits per crystal"),
    };
    let detail = match (name, per_sipm) {
        ("status", true) => " (of 2 SiPMs)",
        ("status", false) => "",
        (_, true) => " (mean of the usable SiPMs)",
        (_, false) => "",
    };
    let title = format!("{what}, disk {disk}{detail}");
    let mut opts = PlotOptions::new(title, "x (mm)", "y (mm)")
        .with_size(MAP_PLOT_SIZE.0, MAP_PLOT_SIZE.1)
        .with_z_label(z_label);
    if name == "status" {
        let max = if per_sipm { SIPMS_PER_CRYSTAL } else { 1 };
        opts = opts.with_z_range(0.0, f64::from(max));
    } else {
        let sorted = sorted_finite(values);
        if let (Some(a), Some(b)) = (quantile(&sorted, 0.02), quantile(&sorted, 0.98))
            && a < b
            && b - a > 1e-9 * a.abs().max(b.abs())
        {
            opts = opts.with_z_range(a, b);
        }
    }
    Ok((map, opts))
}

// ---------------------------------------------------------------------------------------------
// Per-channel canvas
// ---------------------------------------------------------------------------------------------

fn check_spectrum(s: &Spectrum) -> Result<()> {
    let n = s.counts.len();
    if n == 0 {
        return Err(Error::InvalidArgument(format!(
            "spectrum {} has no bins",
            s.id
        )));
    }
    if s.edges.len() != n + 1 {
        return Err(Error::InvalidArgument(format!(
            "spectrum {}: {} edges for {n} bins",
            s.id,
            s.edges.len()
        )));
    }
    if !s.edges.iter().all(|e| plottable(*e)) || s.edges.windows(2).any(|w| !(w[0] < w[1])) {
        return Err(Error::InvalidArgument(format!(
            "spectrum {}: bin edges must be finite and increasing",
            s.id
        )));
    }
    if let Some(c) = s.counts.iter().find(|c| !(c.is_finite() && **c >= 0.0)) {
        return Err(Error::InvalidArgument(format!(
            "spectrum {}: count {c} is not finite and non-negative",
            s.id
        )));
    }
    Ok(())
}

/// Status bits in words.
fn status_text(status: ChannelStatus) -> String {
    let bits = status.bits();
    if bits == 0 {
        return "status 0 (ok)".to_string();
    }
    let names = [
        (ChannelStatus::NOT_CONVERGED, "not converged"),
        (ChannelStatus::COVARIANCE_INVALID, "no covariance"),
        (ChannelStatus::AT_LIMIT, "at limit"),
        (ChannelStatus::PROFILE_FAILED, "no profile"),
        (ChannelStatus::LOW_P_VALUE, "low p"),
        (ChannelStatus::FEW_EVENTS, "few events"),
        (ChannelStatus::NO_COUNTS, "no counts"),
        (ChannelStatus::LYSO_NOT_FITTED, "LYSO"),
        (ChannelStatus::PEAK_AT_LIMIT, "peak at limit"),
    ];
    let words: Vec<&str> = names
        .iter()
        .filter(|(b, _)| status.contains(*b))
        .map(|(_, n)| *n)
        .collect();
    if words.is_empty() {
        format!("status {bits}")
    } else {
        format!("status {bits}: {}", words.join(", "))
    }
}

/// The canvas of one channel, computed before drawing.
struct ChannelFigure {
    title: String,
    y_label: String,
    x: (f64, f64),
    y: (f64, f64),
    data: Vec<Marker>,
    curves: Vec<Line>,
    peak_lines: Vec<f64>,
    residual_y: (f64, f64),
    residuals: Vec<Marker>,
    text: Vec<String>,
}

impl ChannelFigure {
    fn build(s: &Spectrum, fit: &ChannelFit, cfg: &FitConfig) -> Self {
        let n = s.counts.len();
        let centre = |i: usize| 0.5 * (s.edges[i] + s.edges[i + 1]);
        let p = fit.params();
        let range = cfg.model_range();
        let range_ok = plottable(range.low) && plottable(range.high) && range.low < range.high;
        let fitted =
            range_ok && p.iter().all(|v| plottable(*v)) && fit.peak > 0.0 && fit.width > 0.0;
        // Bins of the fit range (centres inside, as in the fit).
        let fit_bins: Vec<usize> = if range_ok {
            (0..n)
                .filter(|&i| centre(i) >= range.low && centre(i) <= range.high)
                .collect()
        } else {
            Vec::new()
        };
        let x = match (fitted, fit_bins.first(), fit_bins.last()) {
            (true, Some(&a), Some(&b)) => (s.edges[a], s.edges[b + 1]),
            _ => (s.edges[0], s.edges[n]),
        };

        // Data points in the x range.
        let data_raw: Vec<(f64, f64, f64)> = (0..n)
            .filter(|&i| centre(i) >= x.0 && centre(i) <= x.1 && s.counts[i] > 0.0)
            .map(|i| (centre(i), s.counts[i], s.counts[i].sqrt()))
            .collect();

        // Model curves (counts per bin) on a fine grid inside the fit range.
        let widths: Vec<f64> = s.edges.windows(2).map(|w| w[1] - w[0]).collect();
        let bin_width_at = |xv: f64| {
            let i = s.edges.partition_point(|e| *e <= xv).clamp(1, n) - 1;
            widths[i]
        };
        let mut curves = Vec::new();
        let mut peak_lines = Vec::new();
        if fitted {
            let (a, b) = (range.low.max(x.0), range.high.min(x.1));
            let n_pts = 601;
            let xs: Vec<f64> = (0..n_pts)
                .map(|i| a + (b - a) * i as f64 / (n_pts - 1) as f64)
                .collect();
            let yields = [fit.n_full, fit.n_first, fit.n_second, fit.n_bkg];
            let comps: Vec<Vec<(f64, f64)>> = (0..4)
                .map(|k| {
                    xs.iter()
                        .map(|&xv| {
                            let d = model::component_density(&p, range, k, xv);
                            (xv, yields[k] * d * bin_width_at(xv))
                        })
                        .collect()
                })
                .collect();
            let total: Vec<(f64, f64)> = xs
                .iter()
                .enumerate()
                .map(|(i, &xv)| (xv, comps.iter().map(|c| c[i].1).sum()))
                .collect();
            curves.push(Line {
                label: "Total model".into(),
                color: RED,
                dashed: false,
                pieces: vec![total],
            });
            let specs = [
                ("Full energy", BLUE, false),
                ("1st escape", GREEN, false),
                ("2nd escape", ORANGE, false),
                ("Background", PURPLE, true),
            ];
            for ((label, color, dashed), pts) in specs.into_iter().zip(comps) {
                curves.push(Line {
                    label: label.into(),
                    color,
                    dashed,
                    pieces: vec![pts],
                });
            }
            for e in [E_FULL_MEV, E_FIRST_ESCAPE_MEV, E_SECOND_ESCAPE_MEV] {
                let xv = fit.peak * e / E_FULL_MEV;
                if xv >= x.0 && xv <= x.1 {
                    peak_lines.push(xv);
                }
            }
        }

        // y range of the upper pad.
        let mut y_max = data_raw.iter().map(|d| d.1 + d.2).fold(0.0f64, f64::max);
        for c in &curves {
            for piece in &c.pieces {
                for &(_, yv) in piece {
                    if plottable(yv) {
                        y_max = y_max.max(yv);
                    }
                }
            }
        }
        let y = if y_max > 0.0 && plottable(y_max) {
            (0.0, 1.1 * y_max)
        } else {
            (0.0, 1.0)
        };
        let data = data_raw
            .iter()
            .map(|&(xv, yv, e)| Marker {
                x: xv,
                y: yv,
                lo: (yv - e).max(y.0),
                hi: (yv + e).min(y.1),
            })
            .collect();
        for c in &mut curves {
            c.pieces = clip_pieces(&c.pieces, x, y);
        }

        // Residuals in the fit range.
        let mut res_raw: Vec<(f64, f64)> = Vec::new();
        if fitted && !fit_bins.is_empty() {
            let first = fit_bins[0];
            let last = fit_bins[fit_bins.len() - 1];
            let edges = &s.edges[first..=last + 1];
            let mut mu = vec![0.0; last + 1 - first];
            model::expected_counts(&p, range, cfg.bin_evaluation, edges, &mut mu);
            for (k, i) in (first..=last).enumerate() {
                let c = s.counts[i];
                if c > 0.0 {
                    let r = (c - mu[k]) / c.sqrt();
                    if plottable(r) {
                        res_raw.push((centre(i), r));
                    }
                }
            }
        }
        let r_max = res_raw.iter().map(|r| r.1.abs()).fold(0.0f64, f64::max);
        let r = (1.15 * r_max).clamp(3.5, 50.0);
        let residual_y = (-r, r);
        let residuals = res_raw
            .iter()
            .filter(|&&(_, rv)| rv.abs() <= r)
            .map(|&(xv, rv)| Marker {
                x: xv,
                y: rv,
                lo: (rv - 1.0).max(-r),
                hi: (rv + 1.0).min(r),
            })
            .collect();

        // Title, y label and the result text.
        let usable = fit.is_ok();
        let title = if usable {
            format!("Channel {}: source fit", fit.roid)
        } else {
            format!(
                "Channel {}: fit failed (status {})",
                fit.roid,
                fit.status.bits()
            )
        };
        let uniform = s.is_uniform();
        let y_label = if uniform {
            format!("Counts / ({} ADC)", sig(widths[0], 4))
        } else {
            "Counts per bin".to_string()
        };
        let mut text = vec![format!("N = {}", sig(fit.n_events, 8))];
        if fitted {
            text.push(format!("χ²/ndf = {:.1}/{}", fit.chi2, fit.ndf));
            text.push(format!("p-value = {}", sig(fit.p_value, 3)));
            let peak = if plottable(fit.peak_err_low) && plottable(fit.peak_err_high) {
                format!(
                    "P = {:.2} +{:.2} -{:.2} ADC",
                    fit.peak, fit.peak_err_high, fit.peak_err_low
                )
            } else {
                format!("P = {:.2} ± {:.2} ADC", fit.peak, fit.peak_err)
            };
            text.push(peak);
            text.push(format!("σ = {:.3} ± {:.3} MeV", fit.width, fit.width_err));
            text.push(format!("σ/E = {:.2} %", 100.0 * fit.width / E_FULL_MEV));
            text.push(format!("ADC2MeV = {} MeV/ADC", sig(fit.adc2mev, 5)));
        } else {
            text.push("no model".to_string());
        }
        text.push(status_text(fit.status));
        ChannelFigure {
            title,
            y_label,
            x,
            y,
            data,
            curves,
            peak_lines,
            residual_y,
            residuals,
            text,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Drawing
// ---------------------------------------------------------------------------------------------

/// A data point with a vertical error bar from `lo` to `hi` (already clamped to the axis).
#[derive(Debug, Clone, Copy)]
struct Marker {
    x: f64,
    y: f64,
    lo: f64,
    hi: f64,
}

/// A line in pieces (already clipped), with its legend entry (none if empty).
#[derive(Debug, Clone)]
struct Line {
    label: String,
    color: RGBColor,
    dashed: bool,
    pieces: Vec<Vec<(f64, f64)>>,
}

/// Splits polylines at points that are not finite or outside the frame.
fn clip_pieces(pieces: &[Vec<(f64, f64)>], x: (f64, f64), y: (f64, f64)) -> Vec<Vec<(f64, f64)>> {
    let mut out = Vec::new();
    for piece in pieces {
        let mut cur: Vec<(f64, f64)> = Vec::new();
        for &(px, py) in piece {
            let inside =
                plottable(px) && plottable(py) && px >= x.0 && px <= x.1 && py >= y.0 && py <= y.1;
            if inside {
                cur.push((px, py));
            } else if !cur.is_empty() {
                if cur.len() >= 2 {
                    out.push(std::mem::take(&mut cur));
                } else {
                    cur.clear();
                }
            }
        }
        if cur.len() >= 2 {
            out.push(cur);
        }
    }
    out
}

/// Pixel sizes scaled with the canvas.
struct Scale(f64);

impl Scale {
    fn new(size: (u32, u32)) -> Self {
        Scale((f64::from(size.0.min(size.1)) / 600.0).clamp(0.2, 8.0))
    }

    fn px(&self, v: f64) -> i32 {
        (v * self.0).round().max(1.0) as i32
    }

    fn upx(&self, v: f64) -> u32 {
        (v * self.0).round().max(1.0) as u32
    }

    fn font(&self, px: f64) -> TextStyle<'static> {
        TextStyle::from((FONT_FAMILY, px * self.0).into_font()).color(&BLACK)
    }
}

/// Tick labels with as many decimals as a tenth of the range needs.
fn tick_formatter(lo: f64, hi: f64) -> impl Fn(&f64) -> String {
    let width = hi - lo;
    let step = width / 10.0;
    let decimals = if step > 0.0 && step.is_finite() {
        (-step.log10().floor()).clamp(0.0, 12.0) as usize
    } else {
        0
    };
    move |v: &f64| {
        let v = if v.abs() <= width * 1e-9 { 0.0 } else { *v };
        format!("{v:.decimals$}")
    }
}

/// Renders `fig` into `path` atomically through hep-core (SVG or PNG by extension, shipped font).
fn render(path: &Path, size: (u32, u32), fig: &impl Figure) -> Result<()> {
    let opts = PlotOptions {
        width: size.0,
        height: size.1,
        ..PlotOptions::default()
    };
    plot::render_figure(path, &opts, fig)?;
    Ok(())
}

type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Draws markers with error bars and lines into a chart; lines with a label get a legend entry
/// registered with the chart when `legend` is set.
fn draw_content<DB>(
    chart: &mut Chart<'_, DB>,
    sc: &Scale,
    markers: &[Marker],
    lines: &[Line],
    legend: bool,
) -> DrawResult
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let width = sc.upx(2.0);
    for line in lines {
        let style = line.color.stroke_width(width);
        let mut labelled = !legend || line.label.is_empty();
        let dash = (sc.px(8.0), sc.px(5.0));
        if line.pieces.is_empty() && !labelled {
            chart
                .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())?
                .label(line.label.as_str())
                .legend(move |(lx, ly)| PathElement::new(vec![(lx, ly), (lx + 20, ly)], style));
            continue;
        }
        for piece in &line.pieces {
            let ann = if line.dashed {
                chart.draw_series(DashedLineSeries::new(
                    piece.iter().copied(),
                    dash.0,
                    dash.1,
                    style,
                ))?
            } else {
                chart.draw_series(LineSeries::new(piece.iter().copied(), style))?
            };
            if !labelled {
                ann.label(line.label.as_str())
                    .legend(move |(lx, ly)| PathElement::new(vec![(lx, ly), (lx + 20, ly)], style));
                labelled = true;
            }
        }
    }
    // Smaller markers when there are many (the constant of every SiPM).
    let r = match markers.len() {
        0..=300 => sc.px(3.0),
        301..=1000 => sc.px(2.0),
        _ => sc.px(1.5),
    };
    let bar = if markers.len() > 300 { GREY } else { BLACK };
    chart.draw_series(
        markers
            .iter()
            .filter(|m| m.hi > m.lo)
            .map(|m| PathElement::new(vec![(m.x, m.lo), (m.x, m.hi)], bar.stroke_width(1))),
    )?;
    chart.draw_series(
        markers
            .iter()
            .map(|m| Circle::new((m.x, m.y), r, BLACK.filled())),
    )?;
    Ok(())
}

/// A single-pad x-y plot: markers with error bars and labelled lines (the constant-vs-id plot).
struct XyFigure {
    title: String,
    x_label: String,
    y_label: String,
    x: (f64, f64),
    y: (f64, f64),
    markers: Vec<Marker>,
    lines: Vec<Line>,
}

impl Figure for XyFigure {
    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>, opts: &PlotOptions) -> DrawResult
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let sc = Scale::new((opts.width, opts.height));
        let area = root.titled(&self.title, sc.font(20.0))?;
        let x_fmt = tick_formatter(self.x.0, self.x.1);
        let y_fmt = tick_formatter(self.y.0, self.y.1);
        let mut chart = ChartBuilder::on(&area)
            .margin(sc.upx(14.0))
            .margin_right(sc.upx(28.0))
            .x_label_area_size(sc.upx(58.0))
            .y_label_area_size(sc.upx(95.0))
            .build_cartesian_2d(self.x.0..self.x.1, self.y.0..self.y.1)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .label_style(sc.font(15.0))
            .axis_desc_style(sc.font(18.0))
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .draw()?;
        draw_content(&mut chart, &sc, &self.markers, &self.lines, true)?;
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(sc.font(15.0))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.5))
            .draw()?;
        Ok(())
    }
}

impl Figure for ChannelFigure {
    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>, opts: &PlotOptions) -> DrawResult
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let sc = Scale::new((opts.width, opts.height));
        let area = root.titled(&self.title, sc.font(20.0))?;
        let (w, h) = area.dim_in_pixel();
        let split = (f64::from(h) * 0.70).round() as i32;
        let (upper, lower) = area.split_vertically(split);
        let panel = sc.upx(250.0);
        let margin = sc.upx(12.0);
        let y_area = sc.upx(75.0);
        let x_fmt = tick_formatter(self.x.0, self.x.1);

        // Upper pad: data, model, components.
        let y_fmt = tick_formatter(self.y.0, self.y.1);
        let mut top = ChartBuilder::on(&upper)
            .margin(margin)
            .margin_bottom(0)
            .margin_right(panel)
            .x_label_area_size(sc.upx(8.0))
            .y_label_area_size(y_area)
            .build_cartesian_2d(self.x.0..self.x.1, self.y.0..self.y.1)?;
        top.configure_mesh()
            .disable_mesh()
            .x_label_formatter(&|_| String::new())
            .y_label_formatter(&y_fmt)
            .label_style(sc.font(14.0))
            .axis_desc_style(sc.font(17.0))
            .y_desc(self.y_label.as_str())
            .draw()?;
        let grey = GREY.stroke_width(1);
        for &xv in &self.peak_lines {
            top.draw_series(DashedLineSeries::new(
                [(xv, self.y.0), (xv, self.y.1)],
                sc.px(6.0),
                sc.px(5.0),
                grey,
            ))?;
        }
        draw_content(&mut top, &sc, &self.data, &self.curves, false)?;

        // Legend and results in the panel on the right of the upper pad.
        let x0 = w as i32 - panel as i32 + sc.px(18.0);
        let mut ty = sc.px(24.0);
        let step = sc.px(24.0);
        let text_style = sc.font(15.0).pos(Pos::new(HPos::Left, VPos::Center));
        let r = sc.px(3.0);
        upper.draw(&PathElement::new(
            vec![
                (x0 + sc.px(12.0), ty - sc.px(8.0)),
                (x0 + sc.px(12.0), ty + sc.px(8.0)),
            ],
            BLACK.stroke_width(1),
        ))?;
        upper.draw(&Circle::new((x0 + sc.px(12.0), ty), r, BLACK.filled()))?;
        upper.draw(&Text::new(
            "Data",
            (x0 + sc.px(32.0), ty),
            text_style.clone(),
        ))?;
        for c in &self.curves {
            ty += step;
            let style = c.color.stroke_width(sc.upx(2.0));
            let seg = vec![(x0, ty), (x0 + sc.px(24.0), ty)];
            if c.dashed {
                upper.draw(&DashedPathElement::new(seg, sc.px(6.0), sc.px(4.0), style))?;
            } else {
                upper.draw(&PathElement::new(seg, style))?;
            }
            upper.draw(&Text::new(
                c.label.clone(),
                (x0 + sc.px(32.0), ty),
                text_style.clone(),
            ))?;
        }
        ty += step;
        for line in &self.text {
            ty += step;
            upper.draw(&Text::new(line.clone(), (x0, ty), text_style.clone()))?;
        }

        // Lower pad: residuals.
        let ry = self.residual_y;
        let ry_fmt = tick_formatter(ry.0, ry.1);
        let mut bottom = ChartBuilder::on(&lower)
            .margin(margin)
            .margin_top(sc.upx(6.0))
            .margin_right(panel)
            .x_label_area_size(sc.upx(58.0))
            .y_label_area_size(y_area)
            .build_cartesian_2d(self.x.0..self.x.1, ry.0..ry.1)?;
        bottom
            .configure_mesh()
            .disable_mesh()
            .y_labels(5)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&ry_fmt)
            .label_style(sc.font(14.0))
            .axis_desc_style(sc.font(17.0))
            .x_desc("Amplitude (ADC)")
            .y_desc("(data - model)/√data")
            .draw()?;
        let zero = Line {
            label: String::new(),
            color: GREY,
            dashed: false,
            pieces: vec![vec![(self.x.0, 0.0), (self.x.1, 0.0)]],
        };
        draw_content(&mut bottom, &sc, &self.residuals, &[zero], false)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_and_binning() {
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[1.0, 3.0], 0.5), Some(2.0));
        let (n, lo, hi) = auto_binning(&[], None);
        assert!(n > 0 && lo < hi);
        let (n, lo, hi) = auto_binning(&[5.0], None);
        assert!(n > 0 && lo < 5.0 && hi > 5.0);
        let (n, lo, hi) = auto_binning(&[0.0, 0.0], Some(0.0));
        assert!(n > 0 && lo <= 0.0 && hi > 0.0, "{lo} {hi}");
        let v: Vec<f64> = (0..1000).map(|i| 0.06 + 1e-5 * f64::from(i)).collect();
        let (n, lo, hi) = auto_binning(&v, None);
        assert!(n <= 200 && lo < 0.0601 && hi > 0.0699, "{n} {lo} {hi}");
        assert_eq!(nice_step(0.3), 0.5);
        assert_eq!(nice_step(1.0), 1.0);
        assert_eq!(sig(1.0, 4), "1");
        assert_eq!(sig(0.0625, 4), "0.0625");
        assert_eq!(sig(f64::NAN, 4), "NaN");
        assert_eq!(sig(5e-5, 3), "5e-5");
        assert_eq!(sig(1.25e-7, 3), "1.25e-7");
    }

    #[test]
    fn grid_puts_brick_rows_on_half_cells() {
        let mut text = String::new();
        for cry in 0..N_CRYSTALS {
            let (row, col) = ((cry % 674) / 26, (cry % 674) % 26);
            let x = (f64::from(col) + 0.5 * f64::from(row % 2)) * CRYSTAL_PITCH_MM;
            let y = f64::from(row) * CRYSTAL_PITCH_MM;
            text.push_str(&format!("{} {} {x} {y}\n", cry / 674, cry % 674));
        }
        let pos = CrystalPositions::parse(&text, Path::new("synthetic")).unwrap();
        let g = DiskGrid::new(&pos, 0).unwrap().unwrap();
        assert_eq!(g.ny, 26);
        assert_eq!(g.nx, 2 * 26 + 1);
        assert_eq!(g.cells(0.0, 0.0), [(0, 0), (1, 0)]);
        assert_eq!(
            g.cells(0.5 * CRYSTAL_PITCH_MM, CRYSTAL_PITCH_MM),
            [(1, 1), (2, 1)]
        );
        assert_eq!(
            g.cells(25.5 * CRYSTAL_PITCH_MM, 25.0 * CRYSTAL_PITCH_MM),
            [(51, 25), (52, 25)]
        );
    }
}
