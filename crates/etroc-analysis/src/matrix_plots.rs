//! The multi-variable plots of the original (`utilities.py`): scatter matrices (`multi_scatter`,
//! `time_scatter`, lower half only), correlation matrices (`toa_correlation_matrix`,
//! `tot_correlation_matrix`) and the board-against-board scatters with their OLS line
//! (`toa_board<a>_vs_board<b>_scatter`, legend "fit: y = α + βx").
//!
//! Scatter matrices and scatters draw about [`MAX_MATRIX_POINTS`] points (each group thinned by
//! the same factor, rounded up): an evenly strided subsample of the selected points (the same
//! points at every call), so that the plots of a run of a million events draw quickly. The
//! histograms on the diagonal of a scatter matrix show the same subsample; the correlation
//! coefficients and the OLS lines use every selected point.

use std::path::{Path, PathBuf};

use hep_core::plot::{
    Map2D, MatrixGroup, MatrixVariable, PlotOptions, Series, map2d, scatter_matrix,
    scatter_with_lines,
};

use crate::error::Result;
use crate::odr::ols_line;

/// File extension of the dense plots (count maps, scatters, scatter matrices, correlation
/// matrices): always PNG, whatever line-plot formats are asked for, since an SVG holds one
/// element per point or cell (see [`crate::plot_format`]).
pub const DENSE_EXT: &str = "png";

/// Largest number of points drawn in one scatter panel.
pub const MAX_MATRIX_POINTS: usize = 20_000;

/// At most `max` of `indices`, evenly strided (all of them if there are not more).
pub fn strided(indices: Vec<usize>, max: usize) -> Vec<usize> {
    if indices.len() <= max || max == 0 {
        return indices;
    }
    let n = indices.len();
    (0..max).map(|k| indices[k * n / max]).collect()
}

/// Points per group, [`MAX_MATRIX_POINTS`] in all (at most one more per group: the share of each
/// is rounded up), each group thinned by the same factor.
fn thin_groups(groups: Vec<MatrixGroup>) -> Vec<MatrixGroup> {
    let total: usize = groups.iter().map(|g| g.points.len()).sum();
    if total <= MAX_MATRIX_POINTS {
        return groups;
    }
    groups
        .into_iter()
        .map(|g| {
            let keep = (g.points.len() * MAX_MATRIX_POINTS).div_ceil(total);
            MatrixGroup {
                label: g.label,
                points: strided(g.points, keep),
            }
        })
        .collect()
}

/// Draws the scatter matrix `path` of `variables` with one colour per group (points thinned to
/// about [`MAX_MATRIX_POINTS`], see the module docs); nothing is drawn (and `None` returned)
/// without points or with fewer than two variables.
///
/// # Errors
/// Drawing and I/O errors.
pub fn draw_matrix(
    path: &Path,
    title: String,
    variables: Vec<MatrixVariable>,
    groups: Vec<MatrixGroup>,
) -> Result<Option<PathBuf>> {
    let groups: Vec<MatrixGroup> = thin_groups(groups)
        .into_iter()
        .filter(|g| !g.points.is_empty())
        .collect();
    if groups.is_empty() || variables.len() < 2 {
        return Ok(None);
    }
    let n = variables.len() as u32;
    let side = (300 * n).clamp(800, 2400);
    let opts = PlotOptions::new(title, "", "").with_size(side + side / 8, side);
    scatter_matrix(path, &variables, &groups, &opts)?;
    Ok(Some(path.to_path_buf()))
}

/// Pearson correlation coefficient of `a` and `b` over the points where `keep` holds and both
/// are finite; NaN with fewer than 2 such points or a constant variable.
pub fn correlation(a: &[f64], b: &[f64], keep: &[bool]) -> f64 {
    let (mut n, mut sa, mut sb) = (0.0, 0.0, 0.0);
    for ((&x, &y), &k) in a.iter().zip(b).zip(keep) {
        if k && x.is_finite() && y.is_finite() {
            n += 1.0;
            sa += x;
            sb += y;
        }
    }
    if n < 2.0 {
        return f64::NAN;
    }
    let (ma, mb) = (sa / n, sb / n);
    let (mut saa, mut sbb, mut sab) = (0.0, 0.0, 0.0);
    for ((&x, &y), &k) in a.iter().zip(b).zip(keep) {
        if k && x.is_finite() && y.is_finite() {
            saa += (x - ma) * (x - ma);
            sbb += (y - mb) * (y - mb);
            sab += (x - ma) * (y - mb);
        }
    }
    if saa > 0.0 && sbb > 0.0 {
        sab / (saa * sbb).sqrt()
    } else {
        f64::NAN
    }
}

/// Draws the correlation matrix of one variable across boards: cell (board a, board b) holds the
/// Pearson coefficient of `values[a]` and `values[b]` over the `keep` events. The axes are the
/// board ids (cells of width 1 centred on each id; ids without a board stay empty); colour scale
/// -1 to 1.
///
/// # Errors
/// Drawing and I/O errors.
pub fn draw_correlation_matrix(
    path: &Path,
    title: String,
    axis: &str,
    boards: &[u8],
    values: &[Vec<f64>],
    keep: &[bool],
) -> Result<Option<PathBuf>> {
    let Some(&max) = boards.iter().max() else {
        return Ok(None);
    };
    let n = usize::from(max) + 1;
    let (lo, hi) = (-0.5, n as f64 - 0.5);
    let mut map = Map2D::new(lo, hi, n, lo, hi, n)?;
    for (i, &a) in boards.iter().enumerate() {
        for (j, &b) in boards.iter().enumerate() {
            let r = if i == j {
                1.0
            } else {
                correlation(&values[i], &values[j], keep)
            };
            map.set(usize::from(a), usize::from(b), r);
        }
    }
    let opts = PlotOptions::new(title, format!("{axis} board"), format!("{axis} board"))
        .with_z_label("correlation")
        .with_z_range(-1.0, 1.0)
        .with_size(800, 700);
    map2d(path, &map, &opts)?;
    Ok(Some(path.to_path_buf()))
}

/// Draws `y` against `x` over the `keep` events (thinned to [`MAX_MATRIX_POINTS`]) with the OLS
/// line fitted to all of them, labelled "fit: y = α + βx" with two decimals as the original's
/// trendline; `None` with fewer than 2 points or all x equal.
///
/// # Errors
/// Drawing and I/O errors.
pub fn draw_scatter_with_ols(
    path: &Path,
    opts: &PlotOptions,
    x: &[f64],
    y: &[f64],
    keep: &[bool],
) -> Result<Option<PathBuf>> {
    let selected: Vec<usize> = (0..x.len())
        .filter(|&i| keep[i] && x[i].is_finite() && y[i].is_finite())
        .collect();
    let xs: Vec<f64> = selected.iter().map(|&i| x[i]).collect();
    let ys: Vec<f64> = selected.iter().map(|&i| y[i]).collect();
    let Ok(line) = ols_line(&xs, &ys) else {
        return Ok(None);
    };
    let (lo, hi) = xs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let fit = Series::sample(
        format!("fit: y = {:.2} + {:.2}x", line.intercept, line.slope),
        lo,
        hi,
        2,
        |t| line.eval(t),
    );
    let points: Vec<(f64, f64)> = strided((0..xs.len()).collect(), MAX_MATRIX_POINTS)
        .into_iter()
        .map(|i| (xs[i], ys[i]))
        .collect();
    scatter_with_lines(path, &points, "", &[fit], opts)?;
    Ok(Some(path.to_path_buf()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strided_keeps_the_ends_and_the_count() {
        assert_eq!(strided((0..5).collect(), 10), vec![0, 1, 2, 3, 4]);
        let s = strided((0..100).collect(), 10);
        assert_eq!(s, vec![0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
        let g = thin_groups(vec![
            MatrixGroup {
                label: "a".into(),
                points: (0..30_000).collect(),
            },
            MatrixGroup {
                label: "b".into(),
                points: (0..10_000).collect(),
            },
        ]);
        assert_eq!(g[0].points.len(), 15_000);
        assert_eq!(g[1].points.len(), 5_000);
    }

    #[test]
    fn correlation_of_known_samples() {
        let a: Vec<f64> = (0..100).map(f64::from).collect();
        let b: Vec<f64> = a.iter().map(|v| 3.0 - 2.0 * v).collect();
        let keep = vec![true; 100];
        assert!((correlation(&a, &b, &keep) + 1.0).abs() < 1e-12);
        assert!((correlation(&a, &a, &keep) - 1.0).abs() < 1e-12);
        // Symmetric +-1 pattern around a line: uncorrelated with the index.
        let c: Vec<f64> = (0..100)
            .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let r = correlation(&a, &c, &keep);
        assert!(r.abs() < 0.02, "{r}");
        assert!(correlation(&a, &b, &[false; 100]).is_nan());
    }
}
