//! Plots of the hit tables (`utilities.py` of the original): the `plot_before_cuts` /
//! `plot_after_cuts` set and the charge-injection `DAC_Scan`.
//!
//! The original drew plotly HTML fragments that need the CDN; here every plot is a
//! PNG file (line plots also SVG on request; count maps and scatters always PNG, see [`crate::plot_format`]) drawn with `hep_core::plot`. Names follow the
//! original: `calibration_code_{histogram,pdf}`, `time_of_arrival_{histogram,pdf}`,
//! `time_over_threshold_{histogram,pdf}` (one line per board, `_pdf` normalised to unit area;
//! the CAL histogram on a log y axis), `Board<b>_TOT_vs_TOA` (2-D count map of the codes),
//! `TOT_vs_TOA` (the same maps side by side) and
//! `multi_scatter` (scatter matrix of the CAL, TOA and TOT codes, one colour per board); for a
//! merged charge-injection scan `DAC_Scan` and `multi_scatter` (threshold, hits, phase and
//! charge, as `process_etroc1_charge_injection_data_dir.py`).
//! Titles are "Title — Run: `<name>`".

use std::path::{Path, PathBuf};

use hep_core::plot::{
    Map2D, MatrixGroup, MatrixVariable, PlotOptions, Series, lines, map2d, map2d_facets,
};

use crate::error::Result;
use crate::ingest::{Hits, MAX_CAL_CODE, MAX_TOA_CODE, MAX_TOT_CODE};
use crate::matrix_plots::DENSE_EXT;
use arrow_array::RecordBatch;

use crate::cuts::CutResult;
use crate::matrix_plots::draw_matrix;
use crate::rundir::{RunDir, Task, names};
use crate::store;

/// Width of a figure of `panels` panels side by side: 500 pixels each, within the plot size limit.
pub(crate) fn facet_width(panels: usize) -> u32 {
    (500 * panels.max(1)).min(hep_core::plot::MAX_SIZE as usize) as u32
}

/// Draws the per-board maps side by side (the original's plots faceted by board), on one colour
/// scale; nothing without maps.
fn draw_facets(
    path: &Path,
    maps: Vec<(String, Map2D)>,
    title: String,
    labels: (&str, &str),
) -> Result<Option<PathBuf>> {
    if maps.is_empty() {
        return Ok(None);
    }
    let opts = PlotOptions::new(title, labels.0, labels.1)
        .with_size(facet_width(maps.len()), 520)
        .with_z_label("hits");
    map2d_facets(path, &maps, &opts)?;
    Ok(Some(path.to_path_buf()))
}

/// One-code bins from 0 to `max` (inclusive): counts per board of `values` where `keep`.
fn code_counts(
    values: &[u16],
    boards: &[u8],
    keep: &dyn Fn(usize) -> bool,
    board: u8,
    max: u16,
) -> Vec<f64> {
    let mut c = vec![0.0; usize::from(max) + 1];
    for (i, (&v, &b)) in values.iter().zip(boards).enumerate() {
        if b == board && keep(i) {
            c[usize::from(v.min(max))] += 1.0;
        }
    }
    c
}

/// Largest number of bins of a code histogram: wider code ranges are drawn with several codes
/// per bin, so that neighbouring bins stay a few pixels apart and a sparse tail (the CAL
/// outliers spread over 0..1023) draws as separate steps instead of a solid block.
const MAX_CODE_BINS: usize = 128;

/// Codes per bin of the outline of `[lo, hi]` (1 up to [`MAX_CODE_BINS`] codes).
fn codes_per_bin(lo: usize, hi: usize) -> usize {
    (hi - lo + 1).div_ceil(MAX_CODE_BINS).max(1)
}

/// A histogram outline over the occupied code range `[lo, hi]`: one step polyline (bin edges at
/// half codes, `group` codes per bin), optionally normalised to unit sum. Empty bins are drawn at
/// `floor` (on a log axis a value below the axis, so the outline drops to the bottom edge instead
/// of breaking).
fn steps(
    counts: &[f64],
    lo: usize,
    hi: usize,
    group: usize,
    normalise: bool,
    floor: f64,
) -> Vec<(f64, f64)> {
    let total: f64 = counts.iter().sum();
    let scale = if normalise && total > 0.0 {
        1.0 / total
    } else {
        1.0
    };
    let mut pts = Vec::with_capacity(2 * (hi - lo + 1) / group + 2);
    let mut k = lo;
    while k <= hi {
        let end = (k + group - 1).min(hi);
        let c: f64 = counts[k..=end].iter().sum();
        let y = if c > 0.0 { c * scale } else { floor };
        pts.push((k as f64 - 0.5, y));
        pts.push((end as f64 + 0.5, y));
        k = end + 1;
    }
    pts
}

/// Draws the hit plot set into `dir` (created if needed) for the hits where `accepted` is true
/// (all hits if `None`). `ext` is `svg` or `png`. Returns the files written.
///
/// # Errors
///
/// [`crate::Error::Core`] for drawing or I/O errors.
pub fn plot_hits(
    dir: &Path,
    hits: &Hits,
    accepted: Option<&[bool]>,
    run_name: &str,
    ext: &str,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| hep_core::Error::io(dir, e))?;
    let keep = |i: usize| accepted.is_none_or(|a| a[i]);
    let boards = hits.boards();
    let mut out = Vec::new();
    let vars: [(&str, &str, &[u16], u16, bool); 3] = [
        (
            "calibration_code",
            "CAL code",
            &hits.calibration_code,
            MAX_CAL_CODE,
            true,
        ),
        (
            "time_of_arrival",
            "TOA code",
            &hits.time_of_arrival,
            MAX_TOA_CODE,
            false,
        ),
        (
            "time_over_threshold",
            "TOT code",
            &hits.time_over_threshold,
            MAX_TOT_CODE,
            false,
        ),
    ];
    for (name, label, values, max, log_y) in vars {
        let per_board: Vec<(u8, Vec<f64>)> = boards
            .iter()
            .map(|&b| (b, code_counts(values, &hits.data_board_id, &keep, b, max)))
            .collect();
        let occupied = |c: &Vec<f64>| {
            let lo = c.iter().position(|&x| x > 0.0);
            let hi = c.iter().rposition(|&x| x > 0.0);
            lo.zip(hi)
        };
        let (lo, hi) = per_board
            .iter()
            .filter_map(|(_, c)| occupied(c))
            .fold((usize::from(max), 0), |(a, b), (l, h)| (a.min(l), b.max(h)));
        let (lo, hi) = if lo > hi {
            (0, usize::from(max))
        } else {
            (lo, hi)
        };
        let group = codes_per_bin(lo, hi);
        let per = if group == 1 {
            "per code".to_string()
        } else {
            format!("per {group} codes")
        };
        for (suffix, normalise, y_label) in [
            ("histogram", false, format!("hits {per}")),
            ("pdf", true, format!("probability {per}")),
        ] {
            // On the log axis empty bins sit below the axis (a tenth of the smallest non-zero
            // bin), which keeps every outline one continuous step line.
            let smallest = per_board
                .iter()
                .flat_map(|(_, c)| {
                    let total: f64 = c.iter().sum();
                    let scale = if normalise && total > 0.0 {
                        1.0 / total
                    } else {
                        1.0
                    };
                    c.iter().filter(|&&x| x > 0.0).map(move |&x| x * scale)
                })
                .fold(f64::INFINITY, f64::min);
            let largest_bin = |c: &Vec<f64>| {
                let total: f64 = c.iter().sum();
                let scale = if normalise && total > 0.0 {
                    1.0 / total
                } else {
                    1.0
                };
                c[lo..=hi]
                    .chunks(group)
                    .map(|g| g.iter().sum::<f64>() * scale)
                    .fold(0.0, f64::max)
            };
            let largest = per_board
                .iter()
                .map(|(_, c)| largest_bin(c))
                .fold(0.0, f64::max);
            let log = log_y && smallest.is_finite() && largest > 0.0;
            let floor = if log { smallest / 10.0 } else { 0.0 };
            let series: Vec<Series> = per_board
                .iter()
                .map(|(b, c)| {
                    Series::new(
                        format!("board {b}"),
                        steps(c, lo, hi, group, normalise, floor),
                    )
                })
                .collect();
            let mut opts = PlotOptions::new(format!("{label} — Run: {run_name}"), label, y_label)
                .with_x_range(lo as f64 - 0.5, hi as f64 + 0.5);
            if log {
                opts = opts
                    .with_log_y(true)
                    .with_y_range(smallest / 2.0, largest * 2.0);
            }
            let path = dir.join(format!("{name}_{suffix}.{ext}"));
            lines(&path, &series, &opts)?;
            out.push(path);
        }
    }
    let mut facets = Vec::new();
    for &b in &boards {
        // 2-D map of TOT code against TOA code, 8 codes per cell.
        let (nx, ny) = (128usize, 64usize);
        let mut map = Map2D::new(0.0, 1024.0, nx, 0.0, 512.0, ny)?;
        let mut counts = vec![0.0; nx * ny];
        for i in 0..hits.len() {
            if hits.data_board_id[i] == b && keep(i) {
                let ix = usize::from(hits.time_of_arrival[i]) / 8;
                let iy = usize::from(hits.time_over_threshold[i]) / 8;
                counts[iy * nx + ix] += 1.0;
            }
        }
        map.values = counts
            .into_iter()
            .map(|c| if c > 0.0 { c } else { f64::NAN })
            .collect();
        let opts = PlotOptions::new(
            format!("Board {b} TOT vs TOA — Run: {run_name}"),
            "TOA code",
            "TOT code",
        )
        .with_z_label("hits");
        let path = dir.join(format!("Board{b}_TOT_vs_TOA.{DENSE_EXT}"));
        map2d(&path, &map, &opts)?;
        out.push(path);
        facets.push((format!("board {b}"), map));
    }
    out.extend(draw_facets(
        &dir.join(format!("TOT_vs_TOA.{DENSE_EXT}")),
        facets,
        format!("TOT vs TOA — Run: {run_name}"),
        ("TOA code", "TOT code"),
    )?);
    // Scatter matrix of the three codes, one colour per board.
    let codes = |v: &[u16]| v.iter().map(|&c| f64::from(c)).collect::<Vec<f64>>();
    let variables = vec![
        MatrixVariable {
            label: "CAL code".into(),
            values: codes(&hits.calibration_code),
        },
        MatrixVariable {
            label: "TOA code".into(),
            values: codes(&hits.time_of_arrival),
        },
        MatrixVariable {
            label: "TOT code".into(),
            values: codes(&hits.time_over_threshold),
        },
    ];
    let groups = boards
        .iter()
        .map(|&b| MatrixGroup {
            label: format!("board {b}"),
            points: (0..hits.len())
                .filter(|&i| hits.data_board_id[i] == b && keep(i))
                .collect(),
        })
        .collect();
    out.extend(draw_matrix(
        &dir.join(format!("multi_scatter.{DENSE_EXT}")),
        format!("Codes — Run: {run_name}"),
        variables,
        groups,
    )?);
    Ok(out)
}

/// Draws `DAC_Scan.<ext>` of a merged charge-injection scan: hits against threshold (DAC), one
/// line per (board, charge), rows sorted by (board, threshold) as in the original.
///
/// `rows` are `(board, charge_fc, threshold_dac, hits)`.
///
/// # Errors
///
/// [`crate::Error::Core`] for drawing or I/O errors.
pub fn plot_dac_scan(
    dir: &Path,
    rows: &[(u8, i16, i16, i64)],
    run_name: &str,
    ext: &str,
) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| hep_core::Error::io(dir, e))?;
    let mut sorted = rows.to_vec();
    sorted.sort_by_key(|r| (r.0, r.1, r.2));
    let mut series: Vec<Series> = Vec::new();
    for r in &sorted {
        let label = format!("board {} Q = {} fC", r.0, r.1);
        match series.last_mut() {
            Some(s) if s.label == label => s.points.push((f64::from(r.2), r.3 as f64)),
            _ => series.push(Series::new(label, vec![(f64::from(r.2), r.3 as f64)])),
        }
    }
    let path = dir.join(format!("DAC_Scan.{ext}"));
    lines(
        &path,
        &series,
        &PlotOptions::new(
            format!("DAC scan — Run: {run_name}"),
            "discriminator threshold (DAC)",
            "hits",
        ),
    )?;
    Ok(path)
}

/// The task `plot_before_cuts`: [`plot_hits`] of all ingested hits.
///
/// # Errors
///
/// [`crate::Error::TaskNotCompleted`] without a completed ingest; reading and drawing errors.
pub fn plot_before_cuts(run: &RunDir, ext: &str) -> Result<Vec<PathBuf>> {
    run.run_task(
        names::PLOT_BEFORE_CUTS,
        &[names::ANY_INGEST],
        true,
        |task| {
            let hits =
                Hits::from_record_batch(&run.read_table(&run.data_dir(), store::HITS_TABLE)?)?;
            let out = plot_hits(task.dir(), &hits, None, run.name(), ext)?;
            task.add_outputs(out.iter().cloned());
            Ok(out)
        },
    )
}

/// The task `plot_after_cuts`: [`plot_hits`] of the hits of events accepted by the run-root
/// `event_filter.fd`.
///
/// # Errors
///
/// [`crate::Error::TaskNotCompleted`] without completed event cuts; reading and drawing errors.
pub fn plot_after_cuts(run: &RunDir, ext: &str) -> Result<Vec<PathBuf>> {
    run.run_task(
        names::PLOT_AFTER_CUTS,
        &[names::APPLY_EVENT_CUTS],
        true,
        |task| {
            let hits =
                Hits::from_record_batch(&run.read_table(&run.data_dir(), store::HITS_TABLE)?)?;
            let (ev, _) = crate::cuts::read_run_filters(run, false)?;
            let sel = crate::cuts::select_hits(&hits.event, &ev, None);
            let out = plot_hits(task.dir(), &hits, Some(&sel.accepted), run.name(), ext)?;
            task.add_outputs(out.iter().cloned());
            Ok(out)
        },
    )
}

/// The task `plot_etroc1_combined`: [`plot_dac_scan`] of the merged table.
///
/// # Errors
///
/// [`crate::Error::TaskNotCompleted`] without a completed merge; reading and drawing errors.
pub fn plot_combined(run: &RunDir, ext: &str) -> Result<Vec<PathBuf>> {
    run.run_task(names::PLOT_COMBINED, &[names::MERGE_RUNS], true, |task| {
        let t = run.read_table(
            &run.task_dir(names::MERGE_RUNS),
            crate::store::COMBINED_TABLE,
        )?;
        let b = store::column_to_i64(&t, "data_board_id")?;
        let q = store::column_to_i64(&t, "board_injected_charge")?;
        let d = store::column_to_i64(&t, "board_discriminator_threshold")?;
        let h = store::column_to_i64(&t, "hits")?;
        let rows: Vec<(u8, i16, i16, i64)> = (0..t.num_rows())
            .map(|i| (b[i] as u8, q[i] as i16, d[i] as i16, h[i]))
            .collect();
        let mut out = vec![plot_dac_scan(task.dir(), &rows, run.name(), ext)?];
        // Scatter matrix of threshold, hits, phase and charge (as the original), one colour per
        // board.
        let phase = store::column_to_f64(&t, "phase_adjust")?;
        let as_f64 = |v: &[i64]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
        let variables = vec![
            MatrixVariable {
                label: "threshold (DAC)".into(),
                values: as_f64(&d),
            },
            MatrixVariable {
                label: "hits".into(),
                values: as_f64(&h),
            },
            MatrixVariable {
                label: "phase adjust".into(),
                values: phase,
            },
            MatrixVariable {
                label: "injected charge (fC)".into(),
                values: as_f64(&q),
            },
        ];
        let mut ids: Vec<i64> = b.clone();
        ids.sort_unstable();
        ids.dedup();
        let groups = ids
            .iter()
            .map(|&id| MatrixGroup {
                label: format!("board {id}"),
                points: (0..t.num_rows()).filter(|&i| b[i] == id).collect(),
            })
            .collect();
        out.extend(draw_matrix(
            &task.dir().join(format!("multi_scatter.{DENSE_EXT}")),
            format!("DAC scan — Run: {}", run.name()),
            variables,
            groups,
        )?);
        task.add_outputs(out.iter().cloned());
        Ok(out)
    })
}

/// The cutflow plots of the event cuts: [`plot_hits`] of the accepted hits after each row with
/// an `output`, in `apply_event_cuts/CutflowPlots/<index>-<output>/` (as
/// `cut_etroc1_single_run.py`).
///
/// `table` is the hit table the cuts were applied to.
///
/// # Errors
///
/// Reading and drawing errors.
pub fn plot_event_cutflow(
    run: &RunDir,
    task: &Task,
    table: &RecordBatch,
    result: &CutResult,
    ext: &str,
) -> Result<Vec<PathBuf>> {
    let hits = Hits::from_record_batch(table)?;
    let mut out = Vec::new();
    for step in &result.steps {
        if let Some(name) = &step.output {
            let dir = task
                .path(crate::cuts::CUTFLOW_DIR)
                .join(format!("{}-{name}", step.index));
            let sel = crate::cuts::select_hits(&hits.event, &step.filter, None);
            out.extend(plot_hits(
                &dir,
                &hits,
                Some(&sel.accepted),
                run.name(),
                ext,
            )?);
        }
    }
    Ok(out)
}

/// The cutflow plots of the time cuts, for each row with an `output`, in
/// `apply_time_cuts/CutflowPlots/<index>-<output>/` (as `cut_times_in_ns.py`): `plots/`
/// ([`plot_hits`] of the codes) and `time_plots/` ([`plot_times_ns`]) of the hits accepted by the
/// event filter and the cumulative time filter of that row.
///
/// `ns_table` is the table of `calculate_times_in_ns` the cuts were applied to.
///
/// # Errors
///
/// Missing tables or filters; reading and drawing errors.
pub fn plot_time_cutflow(
    run: &RunDir,
    task: &Task,
    ns_table: &RecordBatch,
    result: &CutResult,
    ext: &str,
    options: &crate::cuts::CutOptions,
) -> Result<Vec<PathBuf>> {
    let hits = Hits::from_record_batch(&run.read_table(&run.data_dir(), store::HITS_TABLE)?)?;
    let (event_filter, _) = crate::cuts::read_run_filters(run, false)?;
    let ns_event = store::column_to_i64(ns_table, "event")?;
    let ns_board: Vec<u8> = store::column_to_i64(ns_table, "data_board_id")?
        .into_iter()
        .map(|b| b.clamp(0, 255) as u8)
        .collect();
    let toa = store::column_to_f64(ns_table, "time_of_arrival_ns")?;
    let tot = store::column_to_f64(ns_table, "time_over_threshold_ns")?;
    let mut out = Vec::new();
    for step in &result.steps {
        if let Some(name) = &step.output {
            let dir = task
                .path(crate::cuts::CUTFLOW_DIR)
                .join(format!("{}-{name}", step.index));
            let sel = crate::cuts::select_hits(&hits.event, &event_filter, Some(&step.filter));
            out.extend(plot_hits(
                &dir.join("plots"),
                &hits,
                Some(&sel.accepted),
                run.name(),
                ext,
            )?);
            let sel = crate::cuts::select_hits(&ns_event, &event_filter, Some(&step.filter));
            out.extend(plot_times_ns(
                &dir.join("time_plots"),
                &NsHits {
                    board: &ns_board,
                    toa_ns: &toa,
                    tot_ns: &tot,
                },
                &sel.accepted,
                run.name(),
                ext,
                (options.max_toa_ns, options.max_tot_ns),
            )?);
        }
    }
    Ok(out)
}

/// Per-hit times in ns (parallel slices), for [`plot_times_ns`].
#[derive(Debug, Clone, Copy)]
pub struct NsHits<'a> {
    /// Board id of each hit.
    pub board: &'a [u8],
    /// TOA (ns).
    pub toa_ns: &'a [f64],
    /// TOT (ns).
    pub tot_ns: &'a [f64],
}

/// Draws the time plots of the accepted hits into `dir`: `time_of_arrival_ns_{histogram,pdf}`
/// and `time_over_threshold_ns_{histogram,pdf}` (one line per board, 40 bins/ns) and
/// `Board<b>_TOT_vs_TOA_ns_histogram` (2-D count map, 20 bins/ns) and `multi_scatter` (TOA
/// against TOT, one colour per board, see [`crate::matrix_plots`]). The axes run from 0 to
/// `max.0` (TOA) and `max.1` (TOT) in ns, or to the largest accepted value if `None`
/// (`-a/-t` of `calculate_times_in_ns.py`).
///
/// # Errors
///
/// Drawing and I/O errors.
pub fn plot_times_ns(
    dir: &Path,
    ns: &NsHits<'_>,
    accepted: &[bool],
    run_name: &str,
    ext: &str,
    max: (Option<f64>, Option<f64>),
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| hep_core::Error::io(dir, e))?;
    let mut boards: Vec<u8> = ns.board.to_vec();
    boards.sort_unstable();
    boards.dedup();
    let keep = |i: usize| accepted.get(i).copied().unwrap_or(false);
    let upper = |v: &[f64], m: Option<f64>| -> f64 {
        m.filter(|m| *m > 0.0).unwrap_or_else(|| {
            let hi = (0..v.len())
                .filter(|&i| keep(i) && v[i].is_finite())
                .map(|i| v[i])
                .fold(0.0f64, f64::max);
            if hi > 0.0 { hi } else { 1.0 }
        })
    };
    let (toa_hi, tot_hi) = (upper(ns.toa_ns, max.0), upper(ns.tot_ns, max.1));
    let mut out = Vec::new();
    for (name, label, values, hi) in [
        ("time_of_arrival_ns", "TOA (ns)", ns.toa_ns, toa_hi),
        ("time_over_threshold_ns", "TOT (ns)", ns.tot_ns, tot_hi),
    ] {
        let nbins = ((hi * 40.0).ceil() as usize).clamp(1, 2000);
        let width = hi / nbins as f64;
        let counts: Vec<(u8, Vec<f64>)> = boards
            .iter()
            .map(|&b| {
                let mut c = vec![0.0; nbins];
                for (i, &v) in values.iter().enumerate() {
                    if ns.board[i] == b && keep(i) && (0.0..hi).contains(&v) {
                        c[((v / width) as usize).min(nbins - 1)] += 1.0;
                    }
                }
                (b, c)
            })
            .collect();
        for (suffix, normalise, y_label) in [
            ("histogram", false, "hits per bin"),
            ("pdf", true, "probability per bin"),
        ] {
            let series: Vec<Series> = counts
                .iter()
                .map(|(b, c)| {
                    let total: f64 = c.iter().sum();
                    let scale = if normalise && total > 0.0 {
                        1.0 / total
                    } else {
                        1.0
                    };
                    let pts = c
                        .iter()
                        .enumerate()
                        .flat_map(|(k, &n)| {
                            let x0 = k as f64 * width;
                            [(x0, n * scale), (x0 + width, n * scale)]
                        })
                        .collect();
                    Series::new(format!("board {b}"), pts)
                })
                .collect();
            let path = dir.join(format!("{name}_{suffix}.{ext}"));
            lines(
                &path,
                &series,
                &PlotOptions::new(format!("{label} — Run: {run_name}"), label, y_label)
                    .with_x_range(0.0, hi),
            )?;
            out.push(path);
        }
    }
    let mut facets = Vec::new();
    for &b in &boards {
        let nx = ((toa_hi * 20.0).ceil() as usize).clamp(1, 400);
        let ny = ((tot_hi * 20.0).ceil() as usize).clamp(1, 400);
        let mut map = Map2D::new(0.0, toa_hi, nx, 0.0, tot_hi, ny)?;
        let mut counts = vec![0.0; nx * ny];
        for i in 0..ns.board.len() {
            let (x, y) = (ns.toa_ns[i], ns.tot_ns[i]);
            if ns.board[i] == b
                && keep(i)
                && (0.0..toa_hi).contains(&x)
                && (0.0..tot_hi).contains(&y)
            {
                let ix = ((x / toa_hi * nx as f64) as usize).min(nx - 1);
                let iy = ((y / tot_hi * ny as f64) as usize).min(ny - 1);
                counts[iy * nx + ix] += 1.0;
            }
        }
        map.values = counts
            .into_iter()
            .map(|c| if c > 0.0 { c } else { f64::NAN })
            .collect();
        let path = dir.join(format!("Board{b}_TOT_vs_TOA_ns_histogram.{DENSE_EXT}"));
        map2d(
            &path,
            &map,
            &PlotOptions::new(
                format!("Board {b} TOT vs TOA — Run: {run_name}"),
                "TOA (ns)",
                "TOT (ns)",
            )
            .with_z_label("hits"),
        )?;
        out.push(path);
        facets.push((format!("board {b}"), map));
    }
    out.extend(draw_facets(
        &dir.join(format!("TOT_vs_TOA_ns_histogram.{DENSE_EXT}")),
        facets,
        format!("TOT vs TOA — Run: {run_name}"),
        ("TOA (ns)", "TOT (ns)"),
    )?);
    let groups = boards
        .iter()
        .map(|&b| MatrixGroup {
            label: format!("board {b}"),
            points: (0..ns.board.len())
                .filter(|&i| ns.board[i] == b && keep(i))
                .collect(),
        })
        .collect();
    let variables = vec![
        MatrixVariable {
            label: "TOA (ns)".into(),
            values: ns.toa_ns.to_vec(),
        },
        MatrixVariable {
            label: "TOT (ns)".into(),
            values: ns.tot_ns.to_vec(),
        },
    ];
    out.extend(draw_matrix(
        &dir.join(format!("multi_scatter.{DENSE_EXT}")),
        format!("TOA and TOT — Run: {run_name}"),
        variables,
        groups,
    )?);
    Ok(out)
}
