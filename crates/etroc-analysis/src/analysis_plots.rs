//! Plots of the time, time-walk, resolution and DAC-vs-charge tasks (`calculate_times_in_ns.py`,
//! `calculate_time_walk_correction.py`, `analyse_time_resolution.py`, `analyse_dac_vs_charge.py`).
//!
//! The original drew plotly HTML fragments that need the CDN; here every plot is a
//! PNG file (line plots also SVG on request; count maps and scatters always PNG, see [`crate::plot_format`]) drawn with `hep_core::plot`, off unless asked for.
//! Names and directories follow the original:
//!
//! * `plot_times_in_ns_{before,after}_cuts/`: `Board<b>_TOT_vs_TOA_ns_histogram` (count map, 20
//!   bins/ns), `Board<b>_TOT_vs_TOA_ns_scatter`, `toa_board<a>_vs_board<b>` and
//!   `tot_board<a>_vs_board<b>` (count maps, 40 bins/ns), their `_scatter` twins with the OLS
//!   line ("fit: y = α + βx"), `toa_correlation_matrix` and `tot_correlation_matrix` (Pearson
//!   coefficients between boards), `multi_scatter` (TOA against TOT per hit, one colour per board)
//!   and `time_scatter` (every board's TOA and TOT per event), the last two scatter matrices with
//!   the lower half only (see [`crate::matrix_plots`]), and `TOT_vs_TOA_ns_{histogram,scatter}`
//!   (the boards side by side on common axes).
//! * `calculate_time_walk_correction/Iteration_<k>/`: `Board<b>_TWC_Before_Correction` (mean
//!   Delta per TOT bin and the fitted polynomial), `..._Heatmap` (count map of Delta against
//!   TOT), and `Board<b>_TWC_After_Correction` / `_Heatmap` (the residual after the correction),
//!   `multi_scatter` (Delta against TOT per hit, one colour per board) and `time_scatter` (the
//!   corrected TOA of every board per event).
//! * `analyse_time_resolution/`: `plots/Step-<order>-<name>/time_resolution_vs_iteration`,
//!   `plots/Iteration-<k>/time_resolution_vs_step` (ps, the step order on x), and
//!   `twc_iteration_<k>/<step>/time_{delta,diff}_{histogram,pdf}` (one outline per board; `_pdf`
//!   normalised to unit area).
//! * `plot_dac_vs_charge/Board<b>_DAC_vs_Injected_Charge`: the DAC points, the fitted line and the
//!   noise limits.
//!
//! Titles are `Title — Run: <name>`; plotted times are in ps where the original used ps.

// Index loops over parallel columns read more clearly than zipped iterators here.
#![allow(clippy::needless_range_loop)]

use arrow_array::cast::AsArray;
use std::path::{Path, PathBuf};

use hep_core::plot::{
    Map2D, MatrixGroup, MatrixVariable, PlotOptions, Series, lines, map2d, map2d_facets, scatter,
    scatter_facets,
};

use crate::charge_injection::{DAC_CHARGE_TABLE, DAC_FIT_TABLE, DacEstimator, NOISE_LIMIT_TABLE};
use crate::error::Result;
use crate::matrix_plots::DENSE_EXT;
use crate::matrix_plots::{
    MAX_MATRIX_POINTS, draw_correlation_matrix, draw_matrix, draw_scatter_with_ols, strided,
};
use crate::odr::polyval;
use crate::resolution::{TIMING_TABLE, corrected_times, run_steps};
use crate::rundir::{RunDir, names};
use crate::store;
use crate::times::EventTimes;
use crate::twc::{FIT_TABLE, pivot_column, pivot_ns_table, twc_iterations};

fn mkdir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| hep_core::Error::io(dir, e))?;
    Ok(())
}

fn finite_range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if lo.is_finite() && hi.is_finite() {
        if hi > lo {
            Some((lo, hi))
        } else {
            Some((lo - 0.5, hi + 0.5))
        }
    } else {
        None
    }
}

/// The values of `v` whose event is kept.
fn accepted<'a>(v: &'a [f64], keep: &'a [bool]) -> impl Iterator<Item = f64> + 'a {
    v.iter().zip(keep).filter(|(_, k)| **k).map(|(x, _)| *x)
}

/// Count map of `(x, y)` with about `per_unit.0` bins per unit of x and `per_unit.1` of y (at
/// most 400 per axis).
fn count_map(
    x: &[f64],
    y: &[f64],
    keep: &[bool],
    per_unit: (f64, f64),
    x_range: Option<(f64, f64)>,
    y_range: Option<(f64, f64)>,
) -> Option<Map2D> {
    let sel = || {
        x.iter()
            .zip(y)
            .zip(keep)
            .filter(|(_, k)| **k)
            .map(|(p, _)| p)
    };
    let xr = x_range.or_else(|| finite_range(sel().map(|p| *p.0)))?;
    let yr = y_range.or_else(|| finite_range(sel().map(|p| *p.1)))?;
    let nx = (((xr.1 - xr.0) * per_unit.0).ceil() as usize).clamp(1, 400);
    let ny = (((yr.1 - yr.0) * per_unit.1).ceil() as usize).clamp(1, 400);
    let mut map = Map2D::new(xr.0, xr.1, nx, yr.0, yr.1, ny).ok()?;
    let mut counts = vec![0.0; nx * ny];
    for (&a, &b) in sel() {
        if !(a.is_finite() && b.is_finite()) || a < xr.0 || a > xr.1 || b < yr.0 || b > yr.1 {
            continue;
        }
        let ix = (((a - xr.0) / (xr.1 - xr.0) * nx as f64) as usize).min(nx - 1);
        let iy = (((b - yr.0) / (yr.1 - yr.0) * ny as f64) as usize).min(ny - 1);
        counts[iy * nx + ix] += 1.0;
    }
    map.values = counts
        .into_iter()
        .map(|c| if c > 0.0 { c } else { f64::NAN })
        .collect();
    Some(map)
}

/// A histogram outline of the accepted finite values with `n` bins over their range.
fn outline(values: &[f64], keep: &[bool], n: usize, normalise: bool) -> Vec<(f64, f64)> {
    let Some((lo, hi)) = finite_range(
        values
            .iter()
            .zip(keep)
            .filter(|(_, k)| **k)
            .map(|(v, _)| *v),
    ) else {
        return Vec::new();
    };
    let mut c = vec![0.0; n];
    let mut total = 0.0;
    for (&v, &k) in values.iter().zip(keep) {
        if k && v.is_finite() {
            let i = (((v - lo) / (hi - lo) * n as f64) as usize).min(n - 1);
            c[i] += 1.0;
            total += 1.0;
        }
    }
    let w = (hi - lo) / n as f64;
    let scale = if normalise && total > 0.0 {
        1.0 / (total * w)
    } else {
        1.0
    };
    let mut pts = Vec::with_capacity(2 * n);
    for (i, &v) in c.iter().enumerate() {
        pts.push((lo + i as f64 * w, v * scale));
        pts.push((lo + (i + 1) as f64 * w, v * scale));
    }
    pts
}

fn title(what: &str, run: &RunDir) -> String {
    format!("{what} — Run: {}", run.name())
}

fn times_set(
    run: &RunDir,
    dir: &Path,
    times: &EventTimes,
    keep: &[bool],
    max_toa: Option<f64>,
    max_tot: Option<f64>,
) -> Result<Vec<PathBuf>> {
    mkdir(dir)?;
    let mut out = Vec::new();
    let xr = max_tot.map(|m| (0.0, m));
    let yr = max_toa.map(|m| (0.0, m));
    // The faceted twins take one common binning: the range of all boards.
    let all_x = finite_range(times.tot_ns.iter().flat_map(|v| accepted(v, keep)));
    let all_y = finite_range(times.toa_ns.iter().flat_map(|v| accepted(v, keep)));
    let mut facet_maps = Vec::new();
    let mut facet_points = Vec::new();
    for (bi, b) in times.boards.iter().enumerate() {
        let (x, y) = (&times.tot_ns[bi], &times.toa_ns[bi]);
        if let Some(map) = count_map(x, y, keep, (20.0, 20.0), xr, yr) {
            let p = dir.join(format!("Board{b}_TOT_vs_TOA_ns_histogram.{DENSE_EXT}"));
            let opts = PlotOptions::new(
                title(&format!("Board {b} TOT vs TOA"), run),
                "TOT (ns)",
                "TOA (ns)",
            )
            .with_z_label("events");
            map2d(&p, &map, &opts)?;
            out.push(p);
        }
        if let Some(map) = count_map(x, y, keep, (20.0, 20.0), xr.or(all_x), yr.or(all_y)) {
            facet_maps.push((format!("board {b}"), map));
        }
        let pts: Vec<(f64, f64)> = x
            .iter()
            .zip(y)
            .zip(keep)
            .filter(|(_, k)| **k)
            .map(|(p, _)| (*p.0, *p.1))
            .collect();
        let thinned = strided((0..pts.len()).collect(), MAX_MATRIX_POINTS);
        facet_points.push(Series::new(
            format!("board {b}"),
            thinned.into_iter().map(|i| pts[i]).collect(),
        ));
        if !pts.is_empty() {
            let p = dir.join(format!("Board{b}_TOT_vs_TOA_ns_scatter.{DENSE_EXT}"));
            scatter(
                &p,
                &pts,
                &PlotOptions::new(
                    title(&format!("Board {b} TOT vs TOA"), run),
                    "TOT (ns)",
                    "TOA (ns)",
                ),
            )?;
            out.push(p);
        }
    }
    for a in 0..times.boards.len() {
        for c in a + 1..times.boards.len() {
            let (ba, bc) = (times.boards[a], times.boards[c]);
            for (var, label, data) in [("toa", "TOA", &times.toa_ns), ("tot", "TOT", &times.tot_ns)]
            {
                if let Some(map) = count_map(&data[a], &data[c], keep, (40.0, 40.0), None, None) {
                    let p = dir.join(format!("{var}_board{ba}_vs_board{bc}.{DENSE_EXT}"));
                    let opts = PlotOptions::new(
                        title(&format!("{label} board {ba} vs board {bc}"), run),
                        format!("{label} board {ba} (ns)"),
                        format!("{label} board {bc} (ns)"),
                    )
                    .with_z_label("events");
                    map2d(&p, &map, &opts)?;
                    out.push(p);
                }
                let p = dir.join(format!("{var}_board{ba}_vs_board{bc}_scatter.{DENSE_EXT}"));
                let opts = PlotOptions::new(
                    title(&format!("{label} board {ba} vs board {bc}"), run),
                    format!("{label} board {ba} (ns)"),
                    format!("{label} board {bc} (ns)"),
                );
                out.extend(draw_scatter_with_ols(&p, &opts, &data[a], &data[c], keep)?);
            }
        }
    }
    let facet_opts = |what: &str| {
        PlotOptions::new(title(what, run), "TOT (ns)", "TOA (ns)")
            .with_size(crate::ingest_plots::facet_width(times.boards.len()), 520)
            .with_z_label("events")
    };
    if !facet_maps.is_empty() {
        let p = dir.join(format!("TOT_vs_TOA_ns_histogram.{DENSE_EXT}"));
        map2d_facets(&p, &facet_maps, &facet_opts("TOT vs TOA"))?;
        out.push(p);
    }
    if facet_points.iter().any(|s| !s.points.is_empty()) {
        let p = dir.join(format!("TOT_vs_TOA_ns_scatter.{DENSE_EXT}"));
        scatter_facets(&p, &facet_points, &facet_opts("TOT vs TOA"))?;
        out.push(p);
    }
    for (var, label, data) in [("toa", "TOA", &times.toa_ns), ("tot", "TOT", &times.tot_ns)] {
        out.extend(draw_correlation_matrix(
            &dir.join(format!("{var}_correlation_matrix.{DENSE_EXT}")),
            title(&format!("{label} correlation between boards"), run),
            label,
            &times.boards,
            data,
            keep,
        )?);
    }
    out.extend(hits_matrix(
        run,
        dir,
        times,
        keep,
        ("TOA (ns)", &times.toa_ns, 1.0),
        ("TOT (ns)", &times.tot_ns, 1.0),
    )?);
    let mut variables = Vec::new();
    for (bi, b) in times.boards.iter().enumerate() {
        variables.push(MatrixVariable {
            label: format!("TOA {b} (ns)"),
            values: times.toa_ns[bi].clone(),
        });
    }
    for (bi, b) in times.boards.iter().enumerate() {
        variables.push(MatrixVariable {
            label: format!("TOT {b} (ns)"),
            values: times.tot_ns[bi].clone(),
        });
    }
    out.extend(events_matrix(
        run,
        &dir.join(format!("time_scatter.{DENSE_EXT}")),
        "TOA and TOT of every board",
        variables,
        keep,
    )?);
    Ok(out)
}

/// `multi_scatter`: one point per hit of an accepted event, `x` against `y` (each scaled by its
/// factor, e.g. ns to ps), one colour per board.
fn hits_matrix(
    run: &RunDir,
    dir: &Path,
    times: &EventTimes,
    keep: &[bool],
    x: (&str, &[Vec<f64>], f64),
    y: (&str, &[Vec<f64>], f64),
) -> Result<Option<PathBuf>> {
    let mut xv = Vec::new();
    let mut yv = Vec::new();
    let mut groups = Vec::new();
    for (bi, b) in times.boards.iter().enumerate() {
        let first = xv.len();
        for e in 0..times.len() {
            if keep[e] {
                xv.push(x.1[bi][e] * x.2);
                yv.push(y.1[bi][e] * y.2);
            }
        }
        groups.push(MatrixGroup {
            label: format!("board {b}"),
            points: (first..xv.len()).collect(),
        });
    }
    let variables = vec![
        MatrixVariable {
            label: x.0.to_string(),
            values: xv,
        },
        MatrixVariable {
            label: y.0.to_string(),
            values: yv,
        },
    ];
    draw_matrix(
        &dir.join(format!("multi_scatter.{DENSE_EXT}")),
        title(&format!("{} and {}", x.0, y.0), run),
        variables,
        groups,
    )
}

/// `time_scatter`: one point per accepted event, every variable against every other.
fn events_matrix(
    run: &RunDir,
    path: &Path,
    what: &str,
    variables: Vec<MatrixVariable>,
    keep: &[bool],
) -> Result<Option<PathBuf>> {
    let groups = vec![MatrixGroup {
        label: "events".into(),
        points: (0..keep.len()).filter(|&e| keep[e]).collect(),
    }];
    draw_matrix(path, title(what, run), variables, groups)
}

/// The ns plots of a run before and after the event cuts (`plot_times_in_ns_before_cuts/`,
/// `plot_times_in_ns_after_cuts/`); `max_toa`/`max_tot` fix the axis ends (ns, `-a`/`-t`).
/// These are all dense plots (count maps, scatters, matrices), so they are PNG whatever the
/// extension `_ext` asks for (kept for a signature like the other plot functions').
///
/// # Errors
/// Missing tables or filters; drawing and I/O errors.
pub fn plot_times(
    run: &RunDir,
    _ext: &str,
    max_toa: Option<f64>,
    max_tot: Option<f64>,
) -> Result<Vec<PathBuf>> {
    let batch = run.read_table(
        &run.task_dir(names::CALCULATE_TIMES_IN_NS),
        store::HITS_TABLE,
    )?;
    let (times, _) = pivot_ns_table(&batch)?;
    let ev = crate::cuts::read_run_filter(run, &run.path().join(store::EVENT_FILTER_FILE))?;
    let all = vec![true; times.len()];
    let accepted = ev.accepted_of(&times.event);
    let mut out = times_set(
        run,
        &run.path().join("plot_times_in_ns_before_cuts"),
        &times,
        &all,
        max_toa,
        max_tot,
    )?;
    out.extend(times_set(
        run,
        &run.path().join("plot_times_in_ns_after_cuts"),
        &times,
        &accepted,
        max_toa,
        max_tot,
    )?);
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn twc_pair(
    run: &RunDir,
    dir: &Path,
    name: &str,
    board: i64,
    x: &[f64],
    y: &[f64],
    keep: &[bool],
    coefficients: Option<&[f64]>,
    ext: &str,
) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let Some((lo, hi)) = finite_range(x.iter().zip(keep).filter(|(_, k)| **k).map(|(v, _)| *v))
    else {
        return Ok(out);
    };
    let nb = 40;
    let w = (hi - lo) / nb as f64;
    let mut sum = vec![0.0; nb];
    let mut cnt = vec![0.0; nb];
    for ((&a, &b), &k) in x.iter().zip(y).zip(keep) {
        if k && a.is_finite() && b.is_finite() {
            let i = (((a - lo) / w) as usize).min(nb - 1);
            sum[i] += b;
            cnt[i] += 1.0;
        }
    }
    let profile: Vec<(f64, f64)> = (0..nb)
        .filter(|&i| cnt[i] >= 5.0)
        .map(|i| (lo + (i as f64 + 0.5) * w, sum[i] / cnt[i] * 1e3))
        .collect();
    let mut series = vec![Series::new("mean per TOT bin", profile)];
    if let Some(c) = coefficients {
        let label = format!(
            "fit: {}",
            c.iter()
                .enumerate()
                .map(|(k, v)| if k == 0 {
                    format!("{v:.4}")
                } else {
                    format!("{v:+.4} x^{k}")
                })
                .collect::<Vec<_>>()
                .join(" ")
        );
        series.push(Series::sample(label, lo, hi, 100, |t| polyval(c, t) * 1e3));
    }
    let p = dir.join(format!("Board{board}_TWC_{name}.{ext}"));
    lines(
        &p,
        &series,
        &PlotOptions::new(
            title(
                &format!("Board {board} time walk, {}", name.replace('_', " ")),
                run,
            ),
            "TOT (ns)",
            "Delta TOA to reference (ps)",
        ),
    )?;
    out.push(p);
    let yps: Vec<f64> = y.iter().map(|v| v * 1e3).collect();
    // 20 bins/ns in TOT, 10 ps bins in Delta.
    if let Some(map) = count_map(x, &yps, keep, (20.0, 0.1), None, None) {
        let p = dir.join(format!("Board{board}_TWC_{name}_Heatmap.{DENSE_EXT}"));
        let opts = PlotOptions::new(
            title(
                &format!("Board {board} time walk, {}", name.replace('_', " ")),
                run,
            ),
            "TOT (ns)",
            "Delta TOA to reference (ps)",
        )
        .with_z_label("events");
        map2d(&p, &map, &opts)?;
        out.push(p);
    }
    Ok(out)
}

/// The TWC plots of every iteration (`calculate_time_walk_correction/Iteration_<k>/`).
///
/// # Errors
/// Missing tables or filters; drawing and I/O errors.
pub fn plot_twc(run: &RunDir, ext: &str) -> Result<Vec<PathBuf>> {
    let dir = run.task_dir(names::CALCULATE_TIME_WALK_CORRECTION);
    let batch = run.read_table(&dir, store::HITS_TABLE)?;
    let n = twc_iterations(&dir)?;
    let fits = run.read_table(&dir, FIT_TABLE)?;
    let f_iter = store::column_to_i64(&fits, "twc_iteration")?;
    let f_board = store::column_to_i64(&fits, "board_id")?;
    let f_applied = store::column_to_i64(&fits, "twc_applied")?;
    let mut f_coef = Vec::new();
    for p in 0.. {
        match store::column_to_f64(&fits, &format!("p{p}")) {
            Ok(c) => f_coef.push(c),
            Err(_) => break,
        }
    }
    let coef_of = |k: usize, b: i64, applied: i64| -> Option<Vec<f64>> {
        (0..fits.num_rows())
            .find(|&r| f_iter[r] == k as i64 && f_board[r] == b && f_applied[r] == applied)
            .map(|r| f_coef.iter().map(|c| c[r]).collect())
    };
    let (times, index) = pivot_ns_table(&batch)?;
    let (ev, tf) = crate::cuts::read_run_filters(run, true)?;
    let keep = crate::twc::event_flags(&times, &ev, tf.as_ref());
    let column = |name: &str| pivot_column(&batch, name, &times, &index);
    let mut out = Vec::new();
    for k in 0..n {
        let d = dir.join(format!("Iteration_{k}"));
        mkdir(&d)?;
        let before = column(&format!("delta_toa_to_reference_iteration_{k}"))?;
        let after = column(&format!("delta_toa_to_reference_iteration_{k}_twc"))?;
        let corrected = column(&format!("time_of_arrival_twc_iteration_{k}"))?;
        out.extend(hits_matrix(
            run,
            &d,
            &times,
            &keep,
            ("TOT (ns)", &times.tot_ns, 1.0),
            ("Delta TOA to reference (ps)", &before, 1e3),
        )?);
        let variables = times
            .boards
            .iter()
            .enumerate()
            .map(|(bi, b)| MatrixVariable {
                label: format!("TOA TWC {b} (ns)"),
                values: corrected[bi].clone(),
            })
            .collect();
        out.extend(events_matrix(
            run,
            &d.join(format!("time_scatter.{DENSE_EXT}")),
            &format!("Corrected TOA, iteration {k}"),
            variables,
            &keep,
        )?);
        for (bi, &b) in times.boards.iter().enumerate() {
            let b = i64::from(b);
            out.extend(twc_pair(
                run,
                &d,
                "Before_Correction",
                b,
                &times.tot_ns[bi],
                &before[bi],
                &keep,
                coef_of(k, b, 0).as_deref(),
                ext,
            )?);
            out.extend(twc_pair(
                run,
                &d,
                "After_Correction",
                b,
                &times.tot_ns[bi],
                &after[bi],
                &keep,
                coef_of(k, b, 1).as_deref(),
                ext,
            )?);
        }
    }
    Ok(out)
}

/// The resolution plots (`analyse_time_resolution/plots/...` and the per-(iteration, step)
/// histograms).
///
/// # Errors
/// Missing tables or filters; drawing and I/O errors.
pub fn plot_resolution(run: &RunDir, ext: &str) -> Result<Vec<PathBuf>> {
    let dir = run.task_dir(names::ANALYSE_TIME_RESOLUTION);
    let table = run.read_table(&dir, TIMING_TABLE)?;
    let board = store::column_to_i64(&table, "data_board_id")?;
    let order = store::column_to_i64(&table, "step_order")?;
    let iter = store::column_to_i64(&table, "twc_iteration")?;
    let sigma = store::column_to_f64(&table, "time_resolution_new")?;
    let names_col = hep_core::io::column_str(&table, "step_name")?;
    let rows = table.num_rows();
    let mut boards: Vec<i64> = board.clone();
    boards.sort_unstable();
    boards.dedup();
    let mut steps: Vec<(i64, String)> = (0..rows)
        .map(|r| (order[r], names_col.value(r).to_string()))
        .collect();
    steps.sort();
    steps.dedup();
    let mut iterations: Vec<i64> = iter.clone();
    iterations.sort_unstable();
    iterations.dedup();
    let mut out = Vec::new();
    for (o, name) in &steps {
        let d = dir.join("plots").join(format!("Step-{o}-{name}"));
        mkdir(&d)?;
        let series: Vec<Series> = boards
            .iter()
            .map(|&b| {
                Series::new(
                    format!("board {b}"),
                    (0..rows)
                        .filter(|&r| board[r] == b && order[r] == *o)
                        .map(|r| (iter[r] as f64, sigma[r] * 1e3))
                        .collect(),
                )
            })
            .collect();
        let p = d.join(format!("time_resolution_vs_iteration.{ext}"));
        lines(
            &p,
            &series,
            &PlotOptions::new(
                title(
                    &format!("Time resolution vs TWC iteration, step {name}"),
                    run,
                ),
                "TWC iteration",
                "time resolution (ps)",
            ),
        )?;
        out.push(p);
    }
    for &k in &iterations {
        let d = dir.join("plots").join(format!("Iteration-{k}"));
        mkdir(&d)?;
        let series: Vec<Series> = boards
            .iter()
            .map(|&b| {
                Series::new(
                    format!("board {b}"),
                    (0..rows)
                        .filter(|&r| board[r] == b && iter[r] == k)
                        .map(|r| (order[r] as f64, sigma[r] * 1e3))
                        .collect(),
                )
            })
            .collect();
        let p = d.join(format!("time_resolution_vs_step.{ext}"));
        let labels: Vec<String> = steps.iter().map(|(o, n)| format!("{o}={n}")).collect();
        lines(
            &p,
            &series,
            &PlotOptions::new(
                title(&format!("Time resolution vs cut step, iteration {k}"), run),
                format!("step ({})", labels.join(", ")),
                "time resolution (ps)",
            ),
        )?;
        out.push(p);
    }
    // Histograms of time_delta and time_diff per (iteration, step).
    let tdir = run.task_dir(names::CALCULATE_TIME_WALK_CORRECTION);
    let n = twc_iterations(&tdir)?;
    let batch = run.read_table(&tdir, store::HITS_TABLE)?;
    let (times, toa_twc) = corrected_times(&batch, n)?;
    let run_step_list = run_steps(run, &times)?;
    let nb = times.boards.len();
    for (k, t) in toa_twc.iter().enumerate() {
        for step in &run_step_list {
            let d = dir.join(format!("twc_iteration_{k}")).join(&step.name);
            mkdir(&d)?;
            for (what, f) in [("time_delta", 0), ("time_diff", 1)] {
                for (suffix, norm) in [("histogram", false), ("pdf", true)] {
                    let series: Vec<Series> = (0..nb)
                        .map(|i| {
                            let v: Vec<f64> = (0..times.len())
                                .map(|e| {
                                    if f == 0 {
                                        let s: f64 =
                                            (0..nb).filter(|&j| j != i).map(|j| t[j][e]).sum();
                                        (s / (nb - 1) as f64 - t[i][e]) * 1e3
                                    } else {
                                        (t[i][e] - t[(i + 1) % nb][e]) * 1e3
                                    }
                                })
                                .collect();
                            Series::new(
                                format!("board {}", times.boards[i]),
                                outline(&v, &step.accepted, 100, norm),
                            )
                        })
                        .collect();
                    let p = d.join(format!("{what}_{suffix}.{ext}"));
                    let y = if norm {
                        "probability density (1/ps)"
                    } else {
                        "events"
                    };
                    lines(
                        &p,
                        &series,
                        &PlotOptions::new(
                            title(&format!("{what}, iteration {k}, step {}", step.name), run),
                            format!("{what} (ps)"),
                            y,
                        ),
                    )?;
                    out.push(p);
                }
            }
        }
    }
    Ok(out)
}

/// The task `plot_dac_vs_charge` (needs `calculate_dac_points`): one plot per board with the
/// DAC points the line was fitted to (the estimator stored in `dac_charge_fit`; DAC_max for a
/// table without that column), the fitted line and the noise limits.
///
/// # Errors
/// Gating, missing tables; drawing and I/O errors.
pub fn plot_dac_vs_charge(run: &RunDir, ext: &str) -> Result<Vec<PathBuf>> {
    run.run_task(
        names::PLOT_DAC_VS_CHARGE,
        &[names::CALCULATE_DAC_POINTS],
        true,
        |task| {
            let src = run.task_dir(names::CALCULATE_DAC_POINTS);
            let pts = run.read_table(&src, DAC_CHARGE_TABLE)?;
            let fit = run.read_table(&src, DAC_FIT_TABLE)?;
            let lim = run.read_table(&src, NOISE_LIMIT_TABLE)?;
            let estimator = match fit.column_by_name("estimator") {
                Some(col) => match col
                    .as_string_opt::<i32>()
                    .and_then(|c| c.iter().flatten().next())
                {
                    Some(name) => name.parse()?,
                    None => DacEstimator::MaxWithHits,
                },
                None => DacEstimator::MaxWithHits,
            };
            let pb = store::column_to_i64(&pts, "data_board_id")?;
            let pq = store::column_to_f64(&pts, "board_injected_charge")?;
            let pd = match estimator {
                DacEstimator::MaxWithHits => {
                    store::column_to_f64(&pts, "board_discriminator_threshold")?
                }
                DacEstimator::HalfEfficiency => store::column_to_f64(&pts, "half_efficiency_dac")?,
            };
            let fb = store::column_to_i64(&fit, "data_board_id")?;
            let fa = store::column_to_f64(&fit, "alpha_dac")?;
            let fbeta = store::column_to_f64(&fit, "beta_dac_per_fc")?;
            let lb = store::column_to_i64(&lim, "data_board_id")?;
            let lmin = store::column_to_f64(&lim, "noise_min_dac")?;
            let lmax = store::column_to_f64(&lim, "noise_max_dac")?;
            let mut out = Vec::new();
            let d = task.dir().to_path_buf();
            for (r, &b) in fb.iter().enumerate() {
                let points: Vec<(f64, f64)> = (0..pts.num_rows())
                    .filter(|&i| pb[i] == b)
                    .map(|i| (pq[i], pd[i]))
                    .collect();
                let qmax = points.iter().map(|p| p.0).fold(0.0, f64::max) + 2.0;
                let (a, be) = (fa[r], fbeta[r]);
                let mut series = vec![
                    Series::new("DAC points", points),
                    Series::sample(format!("fit: y = {a:.2} + {be:.2}x"), 0.0, qmax, 50, |q| {
                        a + be * q
                    }),
                ];
                if let Some(l) = lb.iter().position(|&x| x == b)
                    && lmin[l].is_finite()
                    && lmax[l].is_finite()
                {
                    series.push(Series::new(
                        format!("Noise: {}-{}", lmin[l].floor(), lmax[l].ceil()),
                        vec![(0.0, lmin[l]), (qmax, lmin[l])],
                    ));
                    series.push(Series::new("", vec![(0.0, lmax[l]), (qmax, lmax[l])]));
                }
                let p = d.join(format!("Board{b}_DAC_vs_Injected_Charge.{ext}"));
                lines(
                    &p,
                    &series,
                    &PlotOptions::new(
                        title(&format!("Board {b} DAC vs injected charge"), run),
                        "injected charge (fC)",
                        "discriminator threshold (DAC)",
                    ),
                )?;
                out.push(p);
            }
            task.add_outputs(out.iter().cloned());
            Ok(out)
        },
    )
}
