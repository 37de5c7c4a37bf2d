//! Plots: thin helpers over [`plotters`] that write SVG and PNG files, so every tool draws the
//! same way.
//!
//! # What
//!
//! | function | draws |
//! |---|---|
//! | [`histogram`] | a [`Hist1D`] as data points with vertical error bars at the bin centres (ROOT's `"E"` style), optionally with a fitted curve |
//! | [`histogram_with_curves`] | the same with any number of named curves (e.g. a fit and its components) |
//! | [`scatter`] | `(x, y)` markers |
//! | [`lines`] | several named polylines ([`Series`]) with a legend and distinct colours |
//! | [`map2d`] | a uniformly binned 2-D map ([`Map2D`]) as coloured cells with a colour bar |
//!
//! Titles, axis titles, sizes, a logarithmic y axis and explicit axis ranges come from
//! [`PlotOptions`]. Axis titles should carry their unit, e.g. `"Energy (MeV)"`.
//!
//! # Formats
//!
//! The format is chosen from the extension of the output path, case-insensitively: `.svg` gives
//! an SVG document (text is written as `<text>` elements with `font-family="sans-serif"`), `.png`
//! an 8-bit RGB PNG image of exactly `width` x `height` pixels. Any other extension is an
//! [`Error::InvalidArgument`] and nothing is written. See [`Format`].
//!
//! # Font
//!
//! PNG text is rasterised by `plotters`' pure-Rust `ab_glyph` backend, which has no system font
//! lookup (no fontconfig, no freetype): without a registered font, drawing text panics. The crate
//! therefore ships DejaVu Sans (`crates/hep-core/assets/DejaVuSans.ttf`, embedded with
//! `include_bytes!`) and registers it once, as the `"sans-serif"` family, before anything is
//! drawn (see [`register_font`]). DejaVu Sans is distributed under the Bitstream Vera font licence
//! (DejaVu changes are in the public domain); the licence text is in
//! `crates/hep-core/assets/DejaVuSans-LICENSE.txt`.
//!
//! # Atomic output
//!
//! A plot is first rendered completely (SVG into memory, PNG into a temporary file created in the
//! target directory), flushed to disk, and only then renamed onto the final path. If anything
//! fails (bad arguments, a drawing error, a full disk) no file appears at the final path, an
//! existing file there is left untouched, and the temporary file is removed.
//!
//! # Bad data
//!
//! No function panics on bad numbers:
//!
//! * non-finite values (NaN, infinities) and values with magnitude above 1e300 are skipped: a
//!   marker is not drawn, a line is broken into separate pieces at such a point;
//! * with a logarithmic y axis, markers with `y <= 0` are not drawn, lines and error bars are
//!   clipped at the lower edge of the axis;
//! * data outside explicit axis ranges are clipped at the plot frame;
//! * if nothing drawable remains, the plot is still written, with empty axes on a default range
//!   (`0..1`, or `1..10` for a logarithmic y axis) unless explicit ranges are given;
//! * zero-width ranges (a single value, or all values equal) are widened around that value;
//! * a logarithmic axis shows at most 300 decades (the upper ones, if the data span more).
//!
//! Arguments that cannot be drawn are errors, reported before anything is written: a size outside
//! [`MIN_SIZE`]`..=`[`MAX_SIZE`], an explicit range that is not finite or has `low >= high` (or a
//! non-positive end on a logarithmic axis), a [`Map2D`] whose values do not match its shape
//! ([`Error::InvalidArgument`] each).
//!
//! # Determinism
//!
//! Nothing depends on time, randomness or hash order: the same input gives byte-identical SVG (and
//! PNG) files.
//!
//! # Example
//!
//! ```
//! use hep_core::hist::Hist1D;
//! use hep_core::plot::{self, PlotOptions};
//!
//! # fn main() -> hep_core::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let mut h = Hist1D::new(20, 0.0, 10.0)?;
//! for i in 0..200 {
//!     h.fill(5.0 + 2.0 * ((i as f64) * 0.37).sin());
//! }
//! let opts = PlotOptions::new("Calibration peak", "Energy (MeV)", "Entries per 0.5 MeV");
//! plot::histogram(&dir.path().join("peak.svg"), &h, None, &opts)?;
//! plot::histogram(&dir.path().join("peak.png"), &h, None, &opts)?;
//! # Ok(())
//! # }
//! ```

use std::error::Error as StdError;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, FontTransform};

use crate::error::{Error, Result};
use crate::hist::Hist1D;

/// DejaVu Sans, embedded (Bitstream Vera licence, see `assets/DejaVuSans-LICENSE.txt`).
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// The font family name every text element uses; [`register_font`] maps it to [`FONT`].
const FONT_FAMILY: &str = "sans-serif";

/// Default plot width in pixels (SVG user units).
pub const DEFAULT_WIDTH: u32 = 800;
/// Default plot height in pixels (SVG user units).
pub const DEFAULT_HEIGHT: u32 = 600;
/// Smallest accepted width or height in pixels.
pub const MIN_SIZE: u32 = 100;
/// Largest accepted width or height in pixels.
pub const MAX_SIZE: u32 = 16384;

/// Values with a larger magnitude are treated like non-finite values (skipped): the axis-tick
/// algorithm of `plotters` does not terminate on ranges near the `f64` overflow limit.
const MAX_ABS: f64 = 1e300;
/// Smallest positive value shown on a logarithmic axis (same reason as [`MAX_ABS`]).
const MIN_LOG: f64 = 1e-300;
/// Largest span of a logarithmic axis in decades (the tick algorithm of `plotters` needs
/// `high / low` to be finite).
const MAX_DECADES: f64 = 300.0;

/// Ten distinct colours (the "tab10" palette of matplotlib), used in order by [`lines`].
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),  // blue
    RGBColor(255, 127, 14),  // orange
    RGBColor(44, 160, 44),   // green
    RGBColor(214, 39, 40),   // red
    RGBColor(148, 103, 189), // purple
    RGBColor(140, 86, 75),   // brown
    RGBColor(227, 119, 194), // pink
    RGBColor(127, 127, 127), // grey
    RGBColor(188, 189, 34),  // olive
    RGBColor(23, 190, 207),  // cyan
];

/// Curve colours of [`histogram_with_curves`]: red first (the total fit, as in ROOT), then the
/// rest of [`PALETTE`].
const CURVE_PALETTE: [RGBColor; 10] = [
    PALETTE[3], PALETTE[0], PALETTE[2], PALETTE[1], PALETTE[4], PALETTE[5], PALETTE[6], PALETTE[7],
    PALETTE[8], PALETTE[9],
];

/// Colour of histogram data points and scatter markers.
const DATA_COLOR: RGBColor = RGBColor(0, 0, 0);

/// Nine samples of matplotlib's "viridis" colour map at 0, 1/8, ..., 1 (sRGB), linearly
/// interpolated by [`viridis`].
const VIRIDIS: [(u8, u8, u8); 9] = [
    (68, 1, 84),
    (72, 40, 120),
    (62, 73, 137),
    (49, 104, 142),
    (38, 130, 142),
    (31, 158, 137),
    (53, 183, 121),
    (110, 206, 88),
    (253, 231, 37),
];

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/// Output format of a plot: chosen from the file extension ([`Format::from_path`]) or named in
/// a configuration (`"png"`, `"svg"`; serde and [`std::str::FromStr`] take either case). PNG is
/// the default: it stays small for dense plots, where SVG holds one element per point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Scalable vector graphics (`.svg`).
    Svg,
    /// Portable network graphics (`.png`), 8-bit RGB.
    #[default]
    Png,
}

impl std::str::FromStr for Format {
    type Err = Error;

    /// `png` or `svg`, in any case, surrounding blanks ignored.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "png" => Ok(Format::Png),
            "svg" => Ok(Format::Svg),
            other => Err(Error::InvalidArgument(format!(
                "plot format: expected png or svg, found `{other}`"
            ))),
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.extension())
    }
}

impl Format {
    /// The format for `path`, from its extension, case-insensitively (`.svg`, `.SVG`, `.png`, ...).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the extension is missing or is neither `svg` nor `png`.
    pub fn from_path(path: &Path) -> Result<Self> {
        match crate::io::file_extension(path).as_deref() {
            Some("svg") => Ok(Format::Svg),
            Some("png") => Ok(Format::Png),
            _ => Err(Error::InvalidArgument(format!(
                "{}: unsupported plot file extension (expected .svg or .png)",
                path.display()
            ))),
        }
    }

    /// The lower-case file extension without the dot (`"svg"` or `"png"`).
    pub fn extension(self) -> &'static str {
        match self {
            Format::Svg => "svg",
            Format::Png => "png",
        }
    }
}

/// Appearance of a plot: titles, size, axis scale and ranges.
///
/// All fields are public; [`PlotOptions::new`] and the `with_*` methods are shortcuts:
///
/// ```
/// use hep_core::plot::PlotOptions;
/// let opts = PlotOptions::new("Drift time", "Drift time (us)", "Events per 2 us")
///     .with_size(1200, 800)
///     .with_log_y(true)
///     .with_x_range(0.0, 700.0);
/// assert_eq!(opts.width, 1200);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PlotOptions {
    /// Title drawn centred above the plot; empty for none.
    pub title: String,
    /// Title of the x axis, with its unit, e.g. `"Energy (MeV)"`; empty for none.
    pub x_label: String,
    /// Title of the y axis, with its unit, e.g. `"Entries per 0.1 MeV"`; empty for none.
    pub y_label: String,
    /// Title of the colour bar of [`map2d`], with its unit, e.g. `"Fluence (cm^-2)"`; empty for
    /// none. Ignored by the other plots.
    pub z_label: String,
    /// Image width in pixels (SVG user units), `MIN_SIZE..=MAX_SIZE`; default [`DEFAULT_WIDTH`].
    pub width: u32,
    /// Image height in pixels (SVG user units), `MIN_SIZE..=MAX_SIZE`; default [`DEFAULT_HEIGHT`].
    pub height: u32,
    /// Logarithmic y axis for [`histogram`], [`scatter`] and [`lines`] (ignored by [`map2d`]).
    /// Non-positive values cannot be shown: such markers are not drawn, and lines and error bars
    /// are clipped at the lower edge of the axis.
    pub log_y: bool,
    /// Explicit x axis range `(low, high)` in the unit of the data; `None` chooses it from the
    /// data (for histograms and maps: their binning range).
    pub x_range: Option<(f64, f64)>,
    /// Explicit y axis range `(low, high)`; `None` chooses it from the data. With
    /// [`log_y`](Self::log_y) both ends must be at least 1e-300 and span at most 300 decades
    /// (an automatic logarithmic range shows the upper 300 decades of the data).
    pub y_range: Option<(f64, f64)>,
    /// Explicit colour-scale range `(low, high)` of [`map2d`]; `None` uses the minimum and maximum
    /// of the finite cell values. Values outside take the colour of the nearer end.
    pub z_range: Option<(f64, f64)>,
}

impl Default for PlotOptions {
    fn default() -> Self {
        PlotOptions {
            title: String::new(),
            x_label: String::new(),
            y_label: String::new(),
            z_label: String::new(),
            width: DEFAULT_WIDTH,
            height: DEFAULT_HEIGHT,
            log_y: false,
            x_range: None,
            y_range: None,
            z_range: None,
        }
    }
}

impl PlotOptions {
    /// Options with a plot title and the two axis titles (which should include units), everything
    /// else at its default (800 x 600 pixels, linear axes, ranges from the data).
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        PlotOptions {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            ..PlotOptions::default()
        }
    }

    /// Sets the image size in pixels (checked when drawing: `MIN_SIZE..=MAX_SIZE` each).
    pub fn with_size(mut self, width: u32, height: u32) -> Self {
        self.width = width;
        self.height = height;
        self
    }

    /// Switches the logarithmic y axis on or off.
    pub fn with_log_y(mut self, log_y: bool) -> Self {
        self.log_y = log_y;
        self
    }

    /// Sets an explicit x range (checked when drawing: finite, `low < high`).
    pub fn with_x_range(mut self, low: f64, high: f64) -> Self {
        self.x_range = Some((low, high));
        self
    }

    /// Sets an explicit y range (checked when drawing: finite, `low < high`, positive with a
    /// logarithmic axis).
    pub fn with_y_range(mut self, low: f64, high: f64) -> Self {
        self.y_range = Some((low, high));
        self
    }

    /// Sets the colour-bar title of [`map2d`] (with its unit).
    pub fn with_z_label(mut self, z_label: impl Into<String>) -> Self {
        self.z_label = z_label.into();
        self
    }

    /// Sets an explicit colour-scale range of [`map2d`] (checked when drawing: finite,
    /// `low < high`).
    pub fn with_z_range(mut self, low: f64, high: f64) -> Self {
        self.z_range = Some((low, high));
        self
    }
}

/// A named polyline: the points are joined in the given order (not sorted).
///
/// `points` are `(x, y)` in the units of the axes. A non-finite point breaks the line.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// Legend entry; an empty label gives no legend entry.
    pub label: String,
    /// The `(x, y)` points, joined in order.
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// A series from a label and its points.
    pub fn new(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            label: label.into(),
            points,
        }
    }

    /// A series sampling `f` at `n` equally spaced x from `x_low` to `x_high` (both included; a
    /// single point at `x_low` if `n == 1`, no point if `n == 0`).
    ///
    /// Handy for overlaying a model, e.g. a fitted density times the bin width, on a histogram.
    pub fn sample(
        label: impl Into<String>,
        x_low: f64,
        x_high: f64,
        n: usize,
        f: impl Fn(f64) -> f64,
    ) -> Self {
        let points = (0..n)
            .map(|i| {
                let x = if n == 1 {
                    x_low
                } else {
                    x_low + (x_high - x_low) * i as f64 / (n - 1) as f64
                };
                (x, f(x))
            })
            .collect();
        Series::new(label, points)
    }
}

/// A curve overlaid on a histogram by [`histogram_with_curves`]: a label (legend entry) and the
/// `(x, y)` points, y in counts per bin of the histogram. The same type as [`Series`].
pub type Curve = Series;

/// A uniformly binned 2-D map: `nx` x `ny` cells on `[x_low, x_high) x [y_low, y_high)`.
///
/// `values` is row-major: the cell `(ix, iy)` (0-based, `ix < nx`, `iy < ny`, `iy = 0` at
/// `y_low`) is `values[iy * nx + ix]`, so `values.len()` must be `nx * ny`. A NaN (or any
/// non-finite value) marks an empty cell, which is not drawn. Edges are in the units of the axes,
/// values in the unit of the colour bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Map2D {
    /// Low edge of the x axis.
    pub x_low: f64,
    /// High edge of the x axis.
    pub x_high: f64,
    /// Number of cells along x (at least 1).
    pub nx: usize,
    /// Low edge of the y axis.
    pub y_low: f64,
    /// High edge of the y axis.
    pub y_high: f64,
    /// Number of cells along y (at least 1).
    pub ny: usize,
    /// Cell values, row-major (`iy * nx + ix`), length `nx * ny`; NaN = empty cell.
    pub values: Vec<f64>,
}

impl Map2D {
    /// A map with every cell empty (NaN).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] under the conditions listed at [`Map2D::validate`].
    pub fn new(
        x_low: f64,
        x_high: f64,
        nx: usize,
        y_low: f64,
        y_high: f64,
        ny: usize,
    ) -> Result<Self> {
        let mut map = Map2D {
            x_low,
            x_high,
            nx,
            y_low,
            y_high,
            ny,
            values: Vec::new(),
        };
        map.validate_axes()?;
        map.values = vec![f64::NAN; nx * ny];
        Ok(map)
    }

    /// Index of cell `(ix, iy)` in [`values`](Self::values): `iy * nx + ix`.
    pub fn index(&self, ix: usize, iy: usize) -> usize {
        iy * self.nx + ix
    }

    /// Value of cell `(ix, iy)`.
    ///
    /// # Panics
    /// If `ix >= nx`, `iy >= ny`, or `values` is shorter than `nx * ny`.
    pub fn get(&self, ix: usize, iy: usize) -> f64 {
        assert!(
            ix < self.nx && iy < self.ny,
            "cell ({ix}, {iy}) outside the map"
        );
        self.values[self.index(ix, iy)]
    }

    /// Sets the value of cell `(ix, iy)`.
    ///
    /// # Panics
    /// If `ix >= nx`, `iy >= ny`, or `values` is shorter than `nx * ny`.
    pub fn set(&mut self, ix: usize, iy: usize, value: f64) {
        assert!(
            ix < self.nx && iy < self.ny,
            "cell ({ix}, {iy}) outside the map"
        );
        let i = self.index(ix, iy);
        self.values[i] = value;
    }

    /// Checks the map's shape.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `nx` or `ny` is 0, an edge is not finite or larger than
    /// 1e300 in magnitude, `x_low >= x_high` or `y_low >= y_high`, or `values.len() != nx * ny`.
    pub fn validate(&self) -> Result<()> {
        self.validate_axes()?;
        let expected = self.nx.checked_mul(self.ny).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "map of {} x {} cells is too large",
                self.nx, self.ny
            ))
        })?;
        if self.values.len() != expected {
            return Err(Error::InvalidArgument(format!(
                "map values: expected nx * ny = {} * {} = {expected} values, found {}",
                self.nx,
                self.ny,
                self.values.len()
            )));
        }
        Ok(())
    }

    fn validate_axes(&self) -> Result<()> {
        if self.nx == 0 || self.ny == 0 {
            return Err(Error::InvalidArgument(format!(
                "map needs at least one cell per axis, found nx = {}, ny = {}",
                self.nx, self.ny
            )));
        }
        check_range("map x axis", (self.x_low, self.x_high))?;
        check_range("map y axis", (self.y_low, self.y_high))?;
        self.nx.checked_mul(self.ny).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "map of {} x {} cells is too large",
                self.nx, self.ny
            ))
        })?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Public functions
// ---------------------------------------------------------------------------------------------

/// Registers the embedded DejaVu Sans as the `"sans-serif"` font family of `plotters`.
///
/// Every function of this module calls it before drawing; call it yourself only if you draw with
/// `plotters` directly (PNG text panics without a registered font). Registration happens once per
/// process; later calls return the first outcome.
///
/// # Errors
/// [`Error::Plot`] (with an empty path) if the embedded font cannot be parsed, which would be a
/// build defect.
pub fn register_font() -> Result<()> {
    static REGISTERED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, FONT)
                .map_err(|_| "the embedded DejaVu Sans font could not be parsed".to_string())
        })
        .clone()
        .map_err(|reason| Error::Plot {
            path: PathBuf::new(),
            reason,
        })
}

/// Draws a histogram as data points with vertical error bars and, optionally, one overlaid curve.
///
/// Each bin `b` in `1..=hist.n_bins()` with a finite content is a marker at
/// `(hist.bin_center(b), hist.bin_content(b))` with an error bar of `± hist.bin_error(b)` (ROOT's
/// `"E"` option). As in ROOT, empty bins (content and error both 0) are not drawn. `curve` (e.g. a
/// fitted model evaluated at many x, in counts per bin) is drawn as a red line. The legend reads
/// "data" and, with a curve, "fit". This is [`histogram_with_curves`] with at most one curve
/// labelled "fit".
///
/// The x axis spans the histogram range (`low..high`) unless [`PlotOptions::x_range`] is set; the y
/// axis starts at 0 (or below, for negative contents) and leaves some room above the highest point
/// of the data and curves. With [`PlotOptions::log_y`] it spans the positive values.
///
/// # Errors
/// * [`Error::InvalidArgument`]: unsupported extension (see [`Format::from_path`]), size outside
///   `MIN_SIZE..=MAX_SIZE`, or an invalid explicit range (not finite, `low >= high`, not
///   positive on a logarithmic axis);
/// * [`Error::Plot`]: `plotters` failed to draw or encode;
/// * [`Error::Io`]: the temporary file could not be created, written or renamed onto `path`.
///
/// On error no file is created at `path`.
pub fn histogram(
    path: &Path,
    hist: &Hist1D,
    curve: Option<&[(f64, f64)]>,
    opts: &PlotOptions,
) -> Result<()> {
    let curves: Vec<Curve> = curve
        .map(|points| vec![Curve::new("fit", points.to_vec())])
        .unwrap_or_default();
    histogram_with_curves(path, hist, &curves, opts)
}

/// Draws a histogram as data points with vertical error bars and any number of named curves.
///
/// The data are drawn as in [`histogram`] (legend entry "data"); each curve is a line, the first
/// one red (the total fit), then blue, green, orange, ... (ten colours, then repeating). Curves
/// with an empty label get no legend entry. Curve points are `(x, counts per bin)`; a non-finite
/// point breaks the line.
///
/// # Errors
/// As [`histogram`]. On error no file is created at `path`.
pub fn histogram_with_curves(
    path: &Path,
    hist: &Hist1D,
    curves: &[Curve],
    opts: &PlotOptions,
) -> Result<()> {
    let log = opts.log_y;
    check_common(path, opts)?;

    // (x, y, error) of the bins to draw.
    let data: Vec<(f64, f64, f64)> = (1..=hist.n_bins())
        .map(|b| (hist.bin_center(b), hist.bin_content(b), hist.bin_error(b)))
        .filter(|&(x, y, e)| {
            plottable(x) && plottable(y) && plottable(e) && !(y == 0.0 && e == 0.0)
        })
        .collect();

    let x = match opts.x_range {
        Some(r) => explicit_range("x range", r, false)?,
        None => (hist.low(), hist.high()),
    };
    let y = match opts.y_range {
        Some(r) => explicit_range("y range", r, log)?,
        None => {
            let mut ys = Vec::new();
            for &(px, py, e) in &data {
                if px >= x.0 && px <= x.1 {
                    ys.extend([py, py + e]);
                    if !log || py - e > 0.0 {
                        ys.push(py - e);
                    }
                }
            }
            for c in curves {
                ys.extend(
                    c.points
                        .iter()
                        .filter(|&&(px, py)| {
                            plottable(px) && px >= x.0 && px <= x.1 && plottable(py)
                        })
                        .map(|&(_, py)| py),
                );
            }
            auto_range(&ys, log, 0.08, true)
        }
    };
    let frame = Frame { x, y, log_y: log };

    let mut items = Vec::with_capacity(curves.len() + 1);
    let markers: Vec<(f64, f64, f64, f64)> = data
        .iter()
        .filter(|&&(px, py, _)| frame.contains(px, py))
        .map(|&(px, py, e)| {
            let lo = (py - e).max(y.0);
            let hi = (py + e).min(y.1);
            (px, py, lo, hi)
        })
        .collect();
    items.push(Item::Markers {
        label: Some("data".to_string()),
        color: DATA_COLOR,
        points: markers,
    });
    for (i, c) in curves.iter().enumerate() {
        items.push(Item::Line {
            label: non_empty(&c.label),
            color: CURVE_PALETTE[i % CURVE_PALETTE.len()],
            pieces: frame.clip_polyline(&c.points),
        });
    }
    render(path, opts, &XyPlot { frame, items })
}

/// Draws `(x, y)` points as markers (no legend).
///
/// Non-finite points are skipped. The axes span the data with a 5 % margin on each side (with a
/// logarithmic y axis: the positive y values) unless explicit ranges are set; with no drawable
/// point, empty axes on the default range are drawn.
///
/// # Errors
/// As [`histogram`]. On error no file is created at `path`.
pub fn scatter(path: &Path, points: &[(f64, f64)], opts: &PlotOptions) -> Result<()> {
    scatter_with_lines(path, points, "", &[], opts)
}

/// Draws several named polylines with a legend, one colour each (ten distinct colours, then
/// repeating).
///
/// Points are joined in their given order; a non-finite point breaks a line. Series with an empty
/// label get no legend entry. The x axis spans the finite points exactly, the y axis with a 5 %
/// margin (unless explicit ranges are set); with no drawable point, empty axes on the default
/// range are drawn.
///
/// # Errors
/// As [`histogram`]. On error no file is created at `path`.
pub fn lines(path: &Path, series: &[Series], opts: &PlotOptions) -> Result<()> {
    let log = opts.log_y;
    check_common(path, opts)?;
    let all = || {
        series
            .iter()
            .flat_map(|s| s.points.iter().copied())
            .filter(|&(x, y)| plottable(x) && plottable(y))
    };
    let x = match opts.x_range {
        Some(r) => explicit_range("x range", r, false)?,
        None => auto_range(&all().map(|p| p.0).collect::<Vec<_>>(), false, 0.0, false),
    };
    let y = match opts.y_range {
        Some(r) => explicit_range("y range", r, log)?,
        None => {
            let ys: Vec<f64> = all()
                .filter(|p| p.0 >= x.0 && p.0 <= x.1)
                .map(|p| p.1)
                .filter(|&v| !log || v >= MIN_LOG)
                .collect();
            auto_range(&ys, log, 0.05, false)
        }
    };
    let frame = Frame { x, y, log_y: log };
    let items = series
        .iter()
        .enumerate()
        .map(|(i, s)| Item::Line {
            label: non_empty(&s.label),
            color: PALETTE[i % PALETTE.len()],
            pieces: frame.clip_polyline(&s.points),
        })
        .collect();
    render(path, opts, &XyPlot { frame, items })
}

/// Draws `(x, y)` points as markers and named polylines over them (e.g. a fitted line), with a
/// legend for the polylines (and for the points if `points_label` is not empty).
///
/// Non-finite points are skipped and break a line. The axes span the markers and the lines with a
/// 5 % margin unless explicit ranges are set.
///
/// # Errors
/// As [`histogram`]. On error no file is created at `path`.
pub fn scatter_with_lines(
    path: &Path,
    points: &[(f64, f64)],
    points_label: &str,
    series: &[Series],
    opts: &PlotOptions,
) -> Result<()> {
    let log = opts.log_y;
    check_common(path, opts)?;
    let finite: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|&(x, y)| plottable(x) && plottable(y) && (!log || y >= MIN_LOG))
        .collect();
    let all_x: Vec<f64> = finite
        .iter()
        .map(|p| p.0)
        .chain(
            series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.0))
                .filter(|v| plottable(*v)),
        )
        .collect();
    let x = match opts.x_range {
        Some(r) => explicit_range("x range", r, false)?,
        None => auto_range(&all_x, false, 0.05, false),
    };
    let y = match opts.y_range {
        Some(r) => explicit_range("y range", r, log)?,
        None => {
            let ys: Vec<f64> = finite
                .iter()
                .copied()
                .chain(series.iter().flat_map(|s| s.points.iter().copied()))
                .filter(|&(px, py)| plottable(px) && plottable(py) && px >= x.0 && px <= x.1)
                .map(|p| p.1)
                .filter(|&v| !log || v >= MIN_LOG)
                .collect();
            auto_range(&ys, log, 0.05, false)
        }
    };
    let frame = Frame { x, y, log_y: log };
    let mut items = vec![Item::Markers {
        label: non_empty(points_label),
        color: DATA_COLOR,
        points: finite
            .iter()
            .filter(|&&(px, py)| frame.contains(px, py))
            .map(|&(px, py)| (px, py, py, py))
            .collect(),
    }];
    items.extend(series.iter().enumerate().map(|(i, s)| Item::Line {
        label: non_empty(&s.label),
        color: PALETTE[(i + 1) % PALETTE.len()],
        pieces: frame.clip_polyline(&s.points),
    }));
    render(path, opts, &XyPlot { frame, items })
}

/// Draws several named sets of `(x, y)` markers and named polylines, with a legend: marker set
/// `i` and line `i` share colour `i` of the ten-colour palette, so a measurement and its
/// prediction can be paired by index (e.g. the layers of a detector against a model).
///
/// Non-finite points are skipped and break a line; with a logarithmic y axis, markers with
/// `y <= 0` are not drawn. The axes span the markers and the lines with a 5 % margin unless
/// explicit ranges are set. Sets and lines with an empty label get no legend entry.
///
/// # Errors
/// As [`histogram`]. On error no file is created at `path`.
pub fn scatter_series(
    path: &Path,
    markers: &[Series],
    lines: &[Series],
    opts: &PlotOptions,
) -> Result<()> {
    let log = opts.log_y;
    check_common(path, opts)?;
    let visible = |&(x, y): &(f64, f64)| plottable(x) && plottable(y) && (!log || y >= MIN_LOG);
    let all = || {
        markers
            .iter()
            .chain(lines)
            .flat_map(|s| s.points.iter().copied())
            .filter(visible)
    };
    let x = match opts.x_range {
        Some(r) => explicit_range("x range", r, false)?,
        None => auto_range(&all().map(|p| p.0).collect::<Vec<_>>(), false, 0.05, false),
    };
    let y = match opts.y_range {
        Some(r) => explicit_range("y range", r, log)?,
        None => {
            let ys: Vec<f64> = all()
                .filter(|p| p.0 >= x.0 && p.0 <= x.1)
                .map(|p| p.1)
                .collect();
            auto_range(&ys, log, 0.05, false)
        }
    };
    let frame = Frame { x, y, log_y: log };
    let mut items: Vec<Item> = markers
        .iter()
        .enumerate()
        .map(|(i, s)| Item::Markers {
            label: non_empty(&s.label),
            color: PALETTE[i % PALETTE.len()],
            points: s
                .points
                .iter()
                .copied()
                .filter(visible)
                .filter(|&(px, py)| frame.contains(px, py))
                .map(|(px, py)| (px, py, py, py))
                .collect(),
        })
        .collect();
    items.extend(lines.iter().enumerate().map(|(i, s)| Item::Line {
        label: non_empty(&s.label),
        color: PALETTE[i % PALETTE.len()],
        pieces: frame.clip_polyline(&s.points),
    }));
    render(path, opts, &XyPlot { frame, items })
}

/// One variable of a [`scatter_matrix`]: its axis label (with the unit) and one value per point.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MatrixVariable {
    /// Axis label, e.g. `"TOA board 0 (ns)"`.
    pub label: String,
    /// One value per point (all variables have the same length); NaN for a missing value.
    pub values: Vec<f64>,
}

/// A set of points of a [`scatter_matrix`] drawn in one colour, with a legend entry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MatrixGroup {
    /// Legend entry, e.g. `"board 1"`.
    pub label: String,
    /// Indices of the group's points into the variables' values.
    pub points: Vec<usize>,
}

/// Draws a scatter matrix, lower half only: for n variables an n x n grid whose panel (row i,
/// column j < i) shows variable j (x) against variable i (y), and whose diagonal panels show the
/// histogram (40 bins) of each variable, one colour per group. The upper half holds the legend.
/// Points with a non-finite coordinate are left out of the panels concerned. Every panel has its
/// own ticks; the axis labels are on the bottom row and the left column.
///
/// The caller chooses the points: drawing a million markers per panel makes a very large SVG, so
/// large samples are best subsampled first. Each axis spans its variable's points with a 5 %
/// margin; [`PlotOptions`]' axis ranges, axis labels and logarithmic y are not used here (the
/// variables carry their labels).
///
/// # Errors
/// [`Error::InvalidArgument`] for fewer than 2 variables, variables of different lengths or a
/// group index out of range; otherwise as [`histogram`]. On error no file is created at `path`.
pub fn scatter_matrix(
    path: &Path,
    variables: &[MatrixVariable],
    groups: &[MatrixGroup],
    opts: &PlotOptions,
) -> Result<()> {
    check_common(path, opts)?;
    if variables.len() < 2 {
        return Err(Error::InvalidArgument(format!(
            "scatter matrix: expected at least 2 variables, found {}",
            variables.len()
        )));
    }
    let n = variables[0].values.len();
    if let Some(v) = variables.iter().find(|v| v.values.len() != n) {
        return Err(Error::InvalidArgument(format!(
            "scatter matrix: variable {:?} has {} values, expected {n}",
            v.label,
            v.values.len()
        )));
    }
    if let Some(g) = groups.iter().find(|g| g.points.iter().any(|&i| i >= n)) {
        return Err(Error::InvalidArgument(format!(
            "scatter matrix: group {:?} refers to a point beyond the {n} values",
            g.label
        )));
    }
    let ranges: Vec<(f64, f64)> = variables
        .iter()
        .map(|v| {
            let used: Vec<f64> = groups
                .iter()
                .flat_map(|g| g.points.iter().map(|&i| v.values[i]))
                .filter(|x| plottable(*x))
                .collect();
            auto_range(&used, false, 0.05, false)
        })
        .collect();
    render(
        path,
        opts,
        &MatrixPlot {
            variables,
            groups,
            ranges,
        },
    )
}

/// Draws a 2-D map as coloured cells with a colour bar on the right.
///
/// Each finite cell is filled with the "viridis" colour of its value on the colour scale (dark
/// violet at the low end, yellow at the high end); empty (NaN) and other non-finite cells are not
/// drawn (they stay white). The colour scale spans the minimum to the maximum of the finite values
/// unless [`PlotOptions::z_range`] is set; the colour bar is labelled with its low end, its high
/// end and three values in between, and titled with [`PlotOptions::z_label`]. The axes span the
/// map's edges unless explicit x/y ranges are set (cells outside are clipped).
/// [`PlotOptions::log_y`] is ignored.
///
/// # Errors
/// * [`Error::InvalidArgument`]: the map fails [`Map2D::validate`] (e.g. `values.len() != nx * ny`),
///   or as in [`histogram`];
/// * [`Error::Plot`], [`Error::Io`]: as in [`histogram`].
///
/// On error no file is created at `path`.
pub fn map2d(path: &Path, map: &Map2D, opts: &PlotOptions) -> Result<()> {
    check_common(path, opts)?;
    map.validate()?;
    let z = match opts.z_range {
        Some(r) => explicit_range("z range", r, false)?,
        None => z_span([map]),
    };
    render(path, opts, &map_plot(map, opts, z)?)
}

/// Draws several 2-D maps side by side ("faceted"), each titled with its label, on one common
/// colour scale (the minimum to the maximum over all maps unless [`PlotOptions::z_range`] is
/// set); every panel has its colour bar. The y axis title is on the first panel only.
///
/// # Errors
/// As [`map2d`], for any of the maps; [`Error::InvalidArgument`] without maps.
pub fn map2d_facets(path: &Path, maps: &[(String, Map2D)], opts: &PlotOptions) -> Result<()> {
    check_common(path, opts)?;
    if maps.is_empty() {
        return Err(Error::InvalidArgument("faceted map: no maps".into()));
    }
    for (_, m) in maps {
        m.validate()?;
    }
    let z = match opts.z_range {
        Some(r) => explicit_range("z range", r, false)?,
        None => z_span(maps.iter().map(|(_, m)| m)),
    };
    let panels = maps
        .iter()
        .map(|(label, m)| Ok((label.clone(), Panel::Map(map_plot(m, opts, z)?))))
        .collect::<Result<Vec<_>>>()?;
    render(path, opts, &Facets { panels })
}

/// Draws several scatter plots side by side ("faceted"), each titled with its series' label, on
/// common axes (the points of all panels with a 5 % margin unless explicit ranges are set). The y
/// axis title is on the first panel only; the y axis is linear ([`PlotOptions::log_y`] is not
/// used).
///
/// # Errors
/// As [`scatter`]; [`Error::InvalidArgument`] without panels.
pub fn scatter_facets(path: &Path, panels: &[Series], opts: &PlotOptions) -> Result<()> {
    check_common(path, opts)?;
    if panels.is_empty() {
        return Err(Error::InvalidArgument("faceted scatter: no panels".into()));
    }
    let finite = |s: &Series| -> Vec<(f64, f64)> {
        s.points
            .iter()
            .copied()
            .filter(|&(x, y)| plottable(x) && plottable(y))
            .collect()
    };
    let all: Vec<(f64, f64)> = panels.iter().flat_map(finite).collect();
    let x = match opts.x_range {
        Some(r) => explicit_range("x range", r, false)?,
        None => auto_range(
            &all.iter().map(|p| p.0).collect::<Vec<_>>(),
            false,
            0.05,
            false,
        ),
    };
    let y = match opts.y_range {
        Some(r) => explicit_range("y range", r, false)?,
        None => auto_range(
            &all.iter().map(|p| p.1).collect::<Vec<_>>(),
            false,
            0.05,
            false,
        ),
    };
    let frame = Frame { x, y, log_y: false };
    let panels = panels
        .iter()
        .map(|s| {
            let points = finite(s)
                .into_iter()
                .filter(|&(px, py)| frame.contains(px, py))
                .map(|(px, py)| (px, py, py, py))
                .collect();
            (
                s.label.clone(),
                Panel::Xy(XyPlot {
                    frame,
                    items: vec![Item::Markers {
                        label: None,
                        color: DATA_COLOR,
                        points,
                    }],
                }),
            )
        })
        .collect();
    render(path, opts, &Facets { panels })
}

/// The colour scale spanning the finite values of `maps`.
fn z_span<'a>(maps: impl IntoIterator<Item = &'a Map2D>) -> (f64, f64) {
    let zs: Vec<f64> = maps
        .into_iter()
        .flat_map(|m| m.values.iter().copied())
        .filter(|&v| plottable(v))
        .collect();
    auto_range(&zs, false, 0.0, false)
}

/// The cells of `map` clipped to the axis ranges of `opts` and coloured on the scale `z`.
fn map_plot(map: &Map2D, opts: &PlotOptions, z: (f64, f64)) -> Result<MapPlot> {
    let x = match opts.x_range {
        Some(r) => explicit_range("x range", r, false)?,
        None => (map.x_low, map.x_high),
    };
    let y = match opts.y_range {
        Some(r) => explicit_range("y range", r, false)?,
        None => (map.y_low, map.y_high),
    };
    let dx = (map.x_high - map.x_low) / map.nx as f64;
    let dy = (map.y_high - map.y_low) / map.ny as f64;
    let mut cells = Vec::new();
    for iy in 0..map.ny {
        let (y0, y1) = (map.y_low + iy as f64 * dy, map.y_low + (iy + 1) as f64 * dy);
        let (y0, y1) = (y0.max(y.0), y1.min(y.1));
        if y0 >= y1 {
            continue;
        }
        for ix in 0..map.nx {
            let v = map.values[map.index(ix, iy)];
            if !plottable(v) {
                continue;
            }
            let (x0, x1) = (map.x_low + ix as f64 * dx, map.x_low + (ix + 1) as f64 * dx);
            let (x0, x1) = (x0.max(x.0), x1.min(x.1));
            if x0 >= x1 {
                continue;
            }
            cells.push((
                (x0, y0),
                (x1, y1),
                viridis(((v - z.0) / (z.1 - z.0)).clamp(0.0, 1.0)),
            ));
        }
    }
    Ok(MapPlot { x, y, z, cells })
}

// ---------------------------------------------------------------------------------------------
// Checks and ranges
// ---------------------------------------------------------------------------------------------

/// True for values that can be placed on an axis (finite, magnitude at most [`MAX_ABS`]).
fn plottable(v: f64) -> bool {
    v.is_finite() && v.abs() <= MAX_ABS
}

fn non_empty(label: &str) -> Option<String> {
    (!label.is_empty()).then(|| label.to_string())
}

/// Checks done before any drawing: extension and size.
fn check_common(path: &Path, opts: &PlotOptions) -> Result<()> {
    Format::from_path(path)?;
    for (name, v) in [("width", opts.width), ("height", opts.height)] {
        if !(MIN_SIZE..=MAX_SIZE).contains(&v) {
            return Err(Error::InvalidArgument(format!(
                "plot {name}: expected {MIN_SIZE} to {MAX_SIZE} pixels, found {v}"
            )));
        }
    }
    Ok(())
}

fn check_range(what: &str, (lo, hi): (f64, f64)) -> Result<()> {
    if !(plottable(lo) && plottable(hi)) || lo >= hi {
        return Err(Error::InvalidArgument(format!(
            "{what}: expected finite low < high (magnitude at most 1e300), found ({lo}, {hi})"
        )));
    }
    Ok(())
}

/// Validates an explicit axis range and widens it if it is too narrow to draw.
fn explicit_range(what: &str, r: (f64, f64), log: bool) -> Result<(f64, f64)> {
    check_range(what, r)?;
    if log {
        if r.0 < MIN_LOG {
            return Err(Error::InvalidArgument(format!(
                "{what}: a logarithmic axis needs low >= 1e-300, found ({}, {})",
                r.0, r.1
            )));
        }
        if r.1.log10() - r.0.log10() > MAX_DECADES {
            return Err(Error::InvalidArgument(format!(
                "{what}: a logarithmic axis spans at most 300 decades, found ({}, {})",
                r.0, r.1
            )));
        }
        let (a, b) = pad_range(r.0.log10(), r.1.log10(), true);
        Ok((10f64.powf(a), 10f64.powf(b)))
    } else {
        Ok(pad_range(r.0, r.1, false))
    }
}

/// Widens a range that is empty or too narrow for the tick algorithm (relative width below 1e-9,
/// or absolute width below 1e-250) around its centre. `log` means the values are decades.
fn pad_range(lo: f64, hi: f64, log: bool) -> (f64, f64) {
    let scale = lo.abs().max(hi.abs());
    let width = hi - lo;
    if width > 1e-9 * scale && width > 1e-250 {
        return (lo, hi);
    }
    let c = 0.5 * (lo + hi);
    let half = if log {
        0.5
    } else if c.abs() > 1e-200 {
        0.1 * c.abs()
    } else {
        0.5
    };
    (c - half, c + half)
}

/// An axis range covering `values` (already filtered with [`plottable`]) plus `margin` times the
/// width on each side. On a log axis the values below [`MIN_LOG`] are ignored and the margin is
/// applied in decades. `include_zero` (linear axes only) extends the range to 0 without margin on
/// that side. No value gives `0..1` (`1..10` on a log axis).
fn auto_range(values: &[f64], log: bool, margin: f64, include_zero: bool) -> (f64, f64) {
    let t = |v: f64| if log { v.log10() } else { v };
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for &v in values {
        if !plottable(v) || (log && v < MIN_LOG) {
            continue;
        }
        lo = lo.min(t(v));
        hi = hi.max(t(v));
    }
    if lo > hi {
        return if log { (1.0, 10.0) } else { (0.0, 1.0) };
    }
    let zero_lo = include_zero && !log && lo >= 0.0;
    let zero_hi = include_zero && !log && hi <= 0.0;
    if zero_lo {
        lo = 0.0;
    }
    if zero_hi {
        hi = 0.0;
    }
    let width = hi - lo;
    if !zero_lo {
        lo -= margin * width;
    }
    if !zero_hi {
        hi += margin * width;
    }
    let (mut lo, mut hi) = pad_range(lo, hi, log);
    if zero_lo && lo < 0.0 && hi > 0.0 {
        // a histogram whose only non-zero content is positive: keep the axis starting at 0
        lo = 0.0;
    }
    if log {
        // plotters' log ticks need finite ends and a finite ratio hi / lo: show at most
        // MAX_DECADES decades, the upper ones
        let hi = hi.min(305.0);
        let lo = lo.max(-305.0).max(hi - MAX_DECADES);
        (10f64.powf(lo), 10f64.powf(hi))
    } else {
        hi = hi.min(MAX_ABS * 1.2);
        lo = lo.max(-MAX_ABS * 1.2);
        (lo, hi)
    }
}

/// The data rectangle of an x-y plot.
#[derive(Debug, Clone, Copy)]
struct Frame {
    x: (f64, f64),
    y: (f64, f64),
    log_y: bool,
}

impl Frame {
    fn contains(&self, x: f64, y: f64) -> bool {
        x >= self.x.0 && x <= self.x.1 && y >= self.y.0 && y <= self.y.1
    }

    /// y in drawing space (decades on a log axis); non-positive values go far below the axis so
    /// that lines leave through the lower edge.
    fn ty(&self, y: f64) -> f64 {
        if self.log_y {
            let (a, b) = (self.y.0.log10(), self.y.1.log10());
            if y >= MIN_LOG { y.log10() } else { a - (b - a) }
        } else {
            y
        }
    }

    fn inv_ty(&self, t: f64) -> f64 {
        if self.log_y { 10f64.powf(t) } else { t }
    }

    /// Splits a polyline at non-drawable points and clips it to the frame (in drawing space, so
    /// the clipped pieces are straight where plotters draws them straight). Returns the visible
    /// pieces, each with at least two points.
    fn clip_polyline(&self, points: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
        let rect = (self.x.0, self.x.1, self.ty(self.y.0), self.ty(self.y.1));
        let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
        let mut cur: Vec<(f64, f64)> = Vec::new();
        let flush = |cur: &mut Vec<(f64, f64)>, out: &mut Vec<Vec<(f64, f64)>>| {
            if cur.len() >= 2 {
                out.push(std::mem::take(cur));
            } else {
                cur.clear();
            }
        };
        let mut prev: Option<(f64, f64)> = None;
        for &(x, y) in points {
            if !(plottable(x) && plottable(y)) {
                flush(&mut cur, &mut out);
                prev = None;
                continue;
            }
            let p = (x, self.ty(y));
            if let Some(q) = prev {
                match clip_segment(q, p, rect) {
                    Some((a, b)) => {
                        if cur.last() != Some(&a) {
                            flush(&mut cur, &mut out);
                            cur.push(a);
                        }
                        cur.push(b);
                        if b != p {
                            flush(&mut cur, &mut out);
                        }
                    }
                    None => flush(&mut cur, &mut out),
                }
            }
            prev = Some(p);
        }
        flush(&mut cur, &mut out);
        for piece in &mut out {
            for p in piece.iter_mut() {
                p.1 = self.inv_ty(p.1);
            }
        }
        out
    }
}

/// Liang-Barsky clipping of the segment `p -> q` to `rect = (x0, x1, y0, y1)`. Returns the
/// visible part; ends that are inside are returned bit-for-bit unchanged.
fn clip_segment(
    p: (f64, f64),
    q: (f64, f64),
    rect: (f64, f64, f64, f64),
) -> Option<((f64, f64), (f64, f64))> {
    let (x0, x1, y0, y1) = rect;
    let (dx, dy) = (q.0 - p.0, q.1 - p.1);
    let mut t0 = 0.0f64;
    let mut t1 = 1.0f64;
    for (pk, qk) in [
        (-dx, p.0 - x0),
        (dx, x1 - p.0),
        (-dy, p.1 - y0),
        (dy, y1 - p.1),
    ] {
        if pk == 0.0 {
            if qk < 0.0 {
                return None;
            }
        } else {
            let r = qk / pk;
            if pk < 0.0 {
                if r > t1 {
                    return None;
                }
                t0 = t0.max(r);
            } else {
                if r < t0 {
                    return None;
                }
                t1 = t1.min(r);
            }
        }
    }
    if !t0.is_finite() || !t1.is_finite() {
        return None;
    }
    let a = if t0 == 0.0 {
        p
    } else {
        (p.0 + t0 * dx, p.1 + t0 * dy)
    };
    let b = if t1 == 1.0 {
        q
    } else {
        (p.0 + t1 * dx, p.1 + t1 * dy)
    };
    Some((a, b))
}

/// The viridis colour at `f` (clamped to 0..1; NaN gives the low end).
fn viridis(f: f64) -> RGBColor {
    let f = if f.is_nan() { 0.0 } else { f.clamp(0.0, 1.0) };
    let pos = f * (VIRIDIS.len() - 1) as f64;
    let i = (pos.floor() as usize).min(VIRIDIS.len() - 2);
    let w = pos - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    let mix = |u: u8, v: u8| (f64::from(u) + w * (f64::from(v) - f64::from(u))).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

// ---------------------------------------------------------------------------------------------
// Tick labels
// ---------------------------------------------------------------------------------------------

/// Tick-label formatter for a linear axis on `lo..hi` with about `n_ticks` ticks: fixed notation
/// with as many decimals as the tick step needs, scientific notation for large (>= 1e5) or small
/// (< 1e-3) magnitudes.
fn linear_formatter(lo: f64, hi: f64, n_ticks: f64) -> impl Fn(&f64) -> String {
    let width = hi - lo;
    let step_exp = (width / n_ticks).log10().floor();
    let mag = lo.abs().max(hi.abs());
    let scientific = !(1e-3..1e5).contains(&mag);
    let mag_exp = mag.log10().floor();
    move |v: &f64| {
        let v = if v.abs() <= width * 1e-9 { 0.0 } else { *v };
        if scientific {
            if v == 0.0 {
                return "0".to_string();
            }
            let digits = (mag_exp - step_exp).clamp(0.0, 15.0) as usize;
            format!("{v:.digits$e}")
        } else {
            let decimals = (-step_exp).clamp(0.0, 15.0) as usize;
            format!("{v:.decimals$}")
        }
    }
}

/// Tick-label formatter for a logarithmic axis: plain numbers from 0.01 to 99999 (without
/// trailing zeros), `<mantissa>e<exponent>` outside.
fn log_formatter(v: &f64) -> String {
    let v = *v;
    if !(v > 0.0 && v.is_finite()) {
        return format!("{v}");
    }
    let mut exp = v.log10().floor();
    let mut mant = ((v / 10f64.powf(exp)) * 100.0).round() / 100.0;
    if mant >= 10.0 {
        mant /= 10.0;
        exp += 1.0;
    }
    if (-2.0..=4.0).contains(&exp) {
        let decimals = (2.0 - exp).max(0.0) as usize;
        let s = format!("{:.decimals$}", mant * 10f64.powf(exp));
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    } else {
        format!("{mant}e{}", exp as i32)
    }
}

/// `v` with four significant digits, without trailing zeros (scientific notation for magnitudes
/// >= 1e5 or < 1e-3).
fn sig_format(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return if v == 0.0 {
            "0".to_string()
        } else {
            format!("{v}")
        };
    }
    let trim = |s: &str| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    let e = v.abs().log10().floor();
    if (-3.0..5.0).contains(&e) {
        let decimals = (3.0 - e).max(0.0) as usize;
        let s = trim(&format!("{v:.decimals$}"));
        if s == "-0" { "0".to_string() } else { s }
    } else {
        let s = format!("{v:.3e}");
        match s.split_once('e') {
            Some((m, ex)) => format!("{}e{ex}", trim(m)),
            None => s,
        }
    }
}

/// Labels of a colour bar on `z0..z1`: `(fraction of the bar height, text)`. The two ends carry
/// their exact values (four significant digits); "nice" round values (steps of 1, 2 or 5 times a
/// power of ten) are labelled in between where they do not crowd the ends.
fn colour_bar_ticks(z0: f64, z1: f64) -> Vec<(f64, String)> {
    let width = z1 - z0;
    let mut ticks = vec![(0.0, sig_format(z0))];
    let p = 10f64.powf((width / 4.0).log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|s| width / s <= 6.0)
        .unwrap_or(10.0 * p);
    if step > 0.0 && step.is_finite() {
        let fmt = linear_formatter(z0, z1, width / step);
        let first = (z0 / step).ceil();
        for k in 0..10 {
            let v = (first + f64::from(k)) * step;
            let f = (v - z0) / width;
            if f >= 0.92 || f.is_nan() {
                break;
            }
            if f > 0.08 {
                ticks.push((f, fmt(&v)));
            }
        }
    }
    ticks.push((1.0, sig_format(z1)));
    ticks
}

// ---------------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------------

/// The result of drawing a [`Figure`]: plotters' errors of any backend, boxed.
pub type DrawResult = std::result::Result<(), Box<dyn StdError + Send + Sync>>;

/// Something that can draw itself onto a drawing area of any plotters backend.
///
/// Implement it for a custom canvas (several pads, text panels) and write it with
/// [`render_figure`], which chooses SVG or PNG, registers the shipped font and writes atomically,
/// exactly as for the plots of this module. The area is already filled white; `opts` carries the
/// size in pixels and the titles.
pub trait Figure {
    /// Draws onto `root`.
    ///
    /// # Errors
    /// Any plotters drawing error, boxed.
    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>, opts: &PlotOptions) -> DrawResult
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static;
}

/// Writes a custom [`Figure`] to `path` (SVG or PNG by extension) of `opts.width` x `opts.height`
/// pixels, atomically and with the shipped font, like every plot of this module.
///
/// # Errors
/// As [`histogram`]: [`Error::InvalidArgument`] for a bad extension or size, [`Error::Plot`] for
/// a drawing failure, [`Error::Io`] for file-system failures; no file is left at `path`.
pub fn render_figure(path: &Path, opts: &PlotOptions, figure: &impl Figure) -> Result<()> {
    render(path, opts, figure)
}

/// Sizes (in pixels) scaled with the image size, so that large and small images look alike.
struct Layout {
    title_px: f64,
    desc_px: f64,
    tick_px: f64,
    legend_px: f64,
    margin: u32,
    marker: i32,
    line: u32,
}

impl Layout {
    fn new(opts: &PlotOptions) -> Self {
        let s = (f64::from(opts.width.min(opts.height)) / 600.0).clamp(0.2, 8.0);
        Layout {
            title_px: 24.0 * s,
            desc_px: 18.0 * s,
            tick_px: 15.0 * s,
            legend_px: 15.0 * s,
            margin: (14.0 * s).round().max(2.0) as u32,
            marker: (3.5 * s).round().max(1.0) as i32,
            line: (2.0 * s).round().max(1.0) as u32,
        }
    }

    /// Height of the x label area: tick labels plus the axis title.
    fn x_area(&self, has_desc: bool) -> u32 {
        let desc = if has_desc { 1.6 * self.desc_px } else { 0.0 };
        (1.9 * self.tick_px + desc + 6.0).round() as u32
    }

    /// Width of the y label area: the widest tick label (`chars` characters) plus the axis title.
    fn y_area(&self, chars: usize, has_desc: bool) -> u32 {
        let desc = if has_desc { 1.3 * self.desc_px } else { 0.0 };
        (0.52 * self.tick_px * chars as f64 + desc + 0.6 * self.tick_px + 4.0).round() as u32
    }

    fn text(&self, px: f64) -> TextStyle<'static> {
        TextStyle::from((FONT_FAMILY, px).into_font()).color(&BLACK)
    }
}

/// Longest label (in characters) among a few sample values of an axis.
fn widest_label(fmt: &dyn Fn(&f64) -> String, lo: f64, hi: f64) -> usize {
    (0..=8)
        .map(|i| fmt(&(lo + (hi - lo) * f64::from(i) / 8.0)).chars().count())
        .max()
        .unwrap_or(1)
}

/// Draws the title (if any) and returns the area below it.
fn titled<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    opts: &PlotOptions,
    lay: &Layout,
) -> std::result::Result<DrawingArea<DB, Shift>, DrawingAreaErrorKind<DB::ErrorType>> {
    if opts.title.is_empty() {
        Ok(root.clone())
    } else {
        root.titled(&opts.title, lay.text(lay.title_px))
    }
}

/// Renders `fig` to `path` atomically (see the module documentation).
fn render(path: &Path, opts: &PlotOptions, fig: &impl Figure) -> Result<()> {
    let format = Format::from_path(path)?;
    check_common(path, opts)?;
    register_font().map_err(|e| match e {
        Error::Plot { reason, .. } => Error::Plot {
            path: path.to_path_buf(),
            reason,
        },
        other => other,
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let plot_error = |e: Box<dyn StdError + Send + Sync>| Error::Plot {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let size = (opts.width, opts.height);
    let tmp = match format {
        Format::Svg => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
                draw_root(&root, opts, fig).map_err(plot_error)?;
            }
            let mut tmp = temp_file(path, dir, format)?;
            tmp.write_all(svg.as_bytes())
                .map_err(|e| Error::io(tmp.path(), e))?;
            tmp
        }
        Format::Png => {
            let tmp = temp_file(path, dir, format)?;
            {
                // The image encoder picks PNG from the temporary file's ".png" suffix.
                let root = BitMapBackend::new(tmp.path(), size).into_drawing_area();
                draw_root(&root, opts, fig).map_err(plot_error)?;
            }
            tmp
        }
    };
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::io(tmp.path(), e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// The temporary file of the plot `path` in `dir`: `.{name}.{pid}.{token}.tmp.{ext}` (the
/// format's extension last, for the image encoder), named like every other temporary of
/// [`crate::io`] so that a rerun removes the ones a killed process left
/// ([`crate::io::remove_stale_temporaries`], called here). Readable by everyone on Unix, like a
/// file created with the usual umask.
fn temp_file(path: &Path, dir: &Path, format: Format) -> Result<tempfile::NamedTempFile> {
    crate::io::remove_stale_temporaries(dir);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plot".into());
    let prefix = crate::io::temp_prefix(&name);
    let suffix = format!(".tmp.{}", format.extension());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(&suffix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    builder.tempfile_in(dir).map_err(|e| Error::io(dir, e))
}

fn draw_root<DB>(root: &DrawingArea<DB, Shift>, opts: &PlotOptions, fig: &impl Figure) -> DrawResult
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    fig.draw(root, opts)?;
    root.present()?;
    Ok(())
}

/// One thing drawn on an x-y plot, already clipped to the frame.
enum Item {
    /// Markers with vertical error bars: `(x, y, y_low, y_high)`; no bar if `y_low == y_high`.
    Markers {
        label: Option<String>,
        color: RGBColor,
        points: Vec<(f64, f64, f64, f64)>,
    },
    /// A line in visible pieces.
    Line {
        label: Option<String>,
        color: RGBColor,
        pieces: Vec<Vec<(f64, f64)>>,
    },
}

/// An x-y plot: histogram, scatter or lines.
struct XyPlot {
    frame: Frame,
    items: Vec<Item>,
}

impl Figure for XyPlot {
    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>, opts: &PlotOptions) -> DrawResult
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let lay = Layout::new(opts);
        let area = titled(root, opts, &lay)?;
        let (x, y) = (self.frame.x, self.frame.y);
        let x_fmt = linear_formatter(x.0, x.1, 10.0);
        let y_fmt: Box<dyn Fn(&f64) -> String> = if self.frame.log_y {
            Box::new(log_formatter)
        } else {
            Box::new(linear_formatter(y.0, y.1, 10.0))
        };
        let y_chars = if self.frame.log_y {
            [y.0, y.1, (y.0 * y.1).sqrt()]
                .iter()
                .map(|v| log_formatter(v).chars().count())
                .max()
                .unwrap_or(1)
                .max(5)
        } else {
            widest_label(&*y_fmt, y.0, y.1)
        };
        let mut builder = ChartBuilder::on(&area);
        builder
            .margin(lay.margin)
            .margin_right(2 * lay.margin)
            .x_label_area_size(lay.x_area(!opts.x_label.is_empty()))
            .y_label_area_size(lay.y_area(y_chars, !opts.y_label.is_empty()));
        if self.frame.log_y {
            let mut chart = builder.build_cartesian_2d(x.0..x.1, (y.0..y.1).log_scale())?;
            self.draw_in(&mut chart, opts, &lay, &x_fmt, &*y_fmt)
        } else {
            let mut chart = builder.build_cartesian_2d(x.0..x.1, y.0..y.1)?;
            self.draw_in(&mut chart, opts, &lay, &x_fmt, &*y_fmt)
        }
    }
}

impl XyPlot {
    fn draw_in<'a, DB, Y>(
        &self,
        chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, Y>>,
        opts: &PlotOptions,
        lay: &Layout,
        x_fmt: &dyn Fn(&f64) -> String,
        y_fmt: &dyn Fn(&f64) -> String,
    ) -> DrawResult
    where
        DB: DrawingBackend + 'a,
        DB::ErrorType: 'static,
        Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        {
            let mut mesh = chart.configure_mesh();
            mesh.x_label_formatter(x_fmt)
                .y_label_formatter(y_fmt)
                .label_style(lay.text(lay.tick_px))
                .axis_desc_style(lay.text(lay.desc_px))
                .bold_line_style(BLACK.mix(0.12))
                .max_light_lines(0)
                .axis_style(BLACK.stroke_width(1));
            if !opts.x_label.is_empty() {
                mesh.x_desc(opts.x_label.as_str());
            }
            if !opts.y_label.is_empty() {
                mesh.y_desc(opts.y_label.as_str());
            }
            mesh.draw()?;
        }

        let mut any_label = false;
        for item in &self.items {
            match item {
                Item::Markers {
                    label,
                    color,
                    points,
                } => {
                    let bar_style = color.stroke_width(lay.line.div_ceil(2));
                    chart.draw_series(points.iter().filter(|p| p.2 < p.3).map(
                        |&(x, y, lo, hi)| ErrorBar::new_vertical(x, lo, y, hi, bar_style, 0),
                    ))?;
                    let r = lay.marker;
                    let fill = color.filled();
                    let anno = chart.draw_series(
                        points
                            .iter()
                            .map(|&(x, y, _, _)| Circle::new((x, y), r, fill)),
                    )?;
                    if let Some(label) = label {
                        any_label = true;
                        anno.label(label.as_str())
                            .legend(move |(lx, ly)| Circle::new((lx + 10, ly), r, fill));
                    }
                }
                Item::Line {
                    label,
                    color,
                    pieces,
                } => {
                    let style = color.stroke_width(lay.line);
                    for piece in pieces {
                        chart
                            .draw_series(std::iter::once(PathElement::new(piece.clone(), style)))?;
                    }
                    if let Some(label) = label {
                        any_label = true;
                        chart
                            .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())?
                            .label(label.as_str())
                            .legend(move |(lx, ly)| {
                                PathElement::new(vec![(lx, ly), (lx + 20, ly)], style)
                            });
                    }
                }
            }
        }
        if any_label {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .label_font(lay.text(lay.legend_px))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.5))
                .draw()?;
        }
        Ok(())
    }
}

/// A scatter matrix (see [`scatter_matrix`]).
struct MatrixPlot<'a> {
    variables: &'a [MatrixVariable],
    groups: &'a [MatrixGroup],
    ranges: Vec<(f64, f64)>,
}

/// Bins of the histograms on the diagonal of a scatter matrix.
const MATRIX_BINS: usize = 40;

/// A tick-label formatter.
type TickFormat = dyn Fn(&f64) -> String;

/// The axes of one scatter-matrix panel: four ticks each, the axis titles only where given
/// (the outer row and column).
fn panel_mesh<DB>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    lay: &Layout,
    formats: (&TickFormat, &TickFormat),
    x_desc: Option<&str>,
    y_desc: Option<&str>,
) -> DrawResult
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let mut mesh = chart.configure_mesh();
    mesh.disable_mesh()
        .x_labels(4)
        .y_labels(4)
        .x_label_formatter(formats.0)
        .y_label_formatter(formats.1)
        .label_style(lay.text(lay.tick_px))
        .axis_desc_style(lay.text(lay.desc_px));
    if let Some(d) = x_desc {
        mesh.x_desc(d);
    }
    if let Some(d) = y_desc {
        mesh.y_desc(d);
    }
    mesh.draw()?;
    Ok(())
}

impl Figure for MatrixPlot<'_> {
    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>, opts: &PlotOptions) -> DrawResult
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let n = self.variables.len();
        let lay = Layout::new(opts);
        // Text scaled to the panel, not to the whole image.
        let panel_lay = Layout::new(&PlotOptions {
            width: (opts.width / n as u32).max(1) * 2,
            height: (opts.height / n as u32).max(1) * 2,
            ..opts.clone()
        });
        let area = titled(root, opts, &lay)?;
        let panels = area.split_evenly((n, n));
        for i in 0..n {
            for j in 0..n {
                let panel = &panels[i * n + j];
                if j > i {
                    continue;
                }
                let (x, y_var) = (self.ranges[j], &self.variables[i]);
                let x_var = &self.variables[j];
                let x_fmt = linear_formatter(x.0, x.1, 4.0);
                let mut builder = ChartBuilder::on(panel);
                builder
                    .margin((panel_lay.margin / 2).max(1))
                    .x_label_area_size(panel_lay.x_area(i == n - 1))
                    .y_label_area_size(panel_lay.y_area(6, j == 0));
                if i == j {
                    // Histogram of variable i per group.
                    let width = (x.1 - x.0) / MATRIX_BINS as f64;
                    let counts: Vec<Vec<f64>> = self
                        .groups
                        .iter()
                        .map(|g| {
                            let mut c = vec![0.0; MATRIX_BINS];
                            for &p in &g.points {
                                let v = x_var.values[p];
                                if plottable(v) && v >= x.0 && v < x.1 {
                                    let k = (((v - x.0) / width) as usize).min(MATRIX_BINS - 1);
                                    c[k] += 1.0;
                                }
                            }
                            c
                        })
                        .collect();
                    let top = counts
                        .iter()
                        .flatten()
                        .fold(0.0f64, |a, &b| a.max(b))
                        .max(1.0)
                        * 1.05;
                    let y_fmt = linear_formatter(0.0, top, 4.0);
                    let mut chart = builder.build_cartesian_2d(x.0..x.1, 0.0..top)?;
                    panel_mesh(
                        &mut chart,
                        &panel_lay,
                        (&x_fmt, &y_fmt),
                        (i == n - 1).then_some(x_var.label.as_str()),
                        (j == 0).then_some("points"),
                    )?;
                    for (g, c) in counts.iter().enumerate() {
                        let style = PALETTE[g % PALETTE.len()].stroke_width(panel_lay.line);
                        let mut pts = Vec::with_capacity(2 * MATRIX_BINS + 2);
                        pts.push((x.0, 0.0));
                        for (k, &v) in c.iter().enumerate() {
                            pts.push((x.0 + k as f64 * width, v));
                            pts.push((x.0 + (k + 1) as f64 * width, v));
                        }
                        pts.push((x.1, 0.0));
                        chart.draw_series(std::iter::once(PathElement::new(pts, style)))?;
                    }
                } else {
                    let y = self.ranges[i];
                    let y_fmt = linear_formatter(y.0, y.1, 4.0);
                    let mut chart = builder.build_cartesian_2d(x.0..x.1, y.0..y.1)?;
                    panel_mesh(
                        &mut chart,
                        &panel_lay,
                        (&x_fmt, &y_fmt),
                        (i == n - 1).then_some(x_var.label.as_str()),
                        (j == 0).then_some(y_var.label.as_str()),
                    )?;
                    let r = (panel_lay.marker / 2).max(1);
                    for (g, group) in self.groups.iter().enumerate() {
                        let fill = PALETTE[g % PALETTE.len()].mix(0.6).filled();
                        chart.draw_series(group.points.iter().filter_map(|&p| {
                            let (px, py) = (x_var.values[p], y_var.values[p]);
                            (plottable(px)
                                && plottable(py)
                                && px >= x.0
                                && px <= x.1
                                && py >= y.0
                                && py <= y.1)
                                .then(|| Circle::new((px, py), r, fill))
                        }))?;
                    }
                }
            }
        }
        // Legend in the empty upper-right panel.
        if n > 1 && !self.groups.is_empty() {
            let legend = &panels[n - 1];
            let (w, _) = legend.dim_in_pixel();
            let step = (1.5 * lay.legend_px).round() as i32;
            for (g, group) in self.groups.iter().enumerate() {
                let ty = step * (g as i32 + 1);
                let color = PALETTE[g % PALETTE.len()];
                legend.draw(&Circle::new((w as i32 / 4, ty), lay.marker, color.filled()))?;
                legend.draw(&Text::new(
                    group.label.clone(),
                    (w as i32 / 4 + 2 * lay.marker + 6, ty),
                    lay.text(lay.legend_px)
                        .pos(Pos::new(HPos::Left, VPos::Center)),
                ))?;
            }
        }
        Ok(())
    }
}

/// One panel of a faceted figure.
enum Panel {
    Xy(XyPlot),
    Map(MapPlot),
}

/// Panels side by side under one title (see [`scatter_facets`], [`map2d_facets`]).
struct Facets {
    panels: Vec<(String, Panel)>,
}

impl Figure for Facets {
    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>, opts: &PlotOptions) -> DrawResult
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let lay = Layout::new(opts);
        let area = titled(root, opts, &lay)?;
        let n = self.panels.len();
        let columns = area.split_evenly((1, n));
        for (k, ((label, panel), column)) in self.panels.iter().zip(&columns).enumerate() {
            let panel_opts = PlotOptions {
                title: label.clone(),
                y_label: if k == 0 {
                    opts.y_label.clone()
                } else {
                    String::new()
                },
                width: (opts.width / n as u32).max(1),
                ..opts.clone()
            };
            match panel {
                Panel::Xy(p) => p.draw(column, &panel_opts)?,
                Panel::Map(m) => m.draw(column, &panel_opts)?,
            }
        }
        Ok(())
    }
}

/// One map cell: lower-left and upper-right corner (axis units) and its colour.
type Cell = ((f64, f64), (f64, f64), RGBColor);

/// A 2-D map, cells already clipped and coloured.
struct MapPlot {
    x: (f64, f64),
    y: (f64, f64),
    z: (f64, f64),
    cells: Vec<Cell>,
}

impl Figure for MapPlot {
    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>, opts: &PlotOptions) -> DrawResult
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let lay = Layout::new(opts);
        let s = lay.tick_px / 15.0;
        let area = titled(root, opts, &lay)?;
        let (x, y, z) = (self.x, self.y, self.z);
        let x_fmt = linear_formatter(x.0, x.1, 10.0);
        let y_fmt = linear_formatter(y.0, y.1, 10.0);
        let z_ticks = colour_bar_ticks(z.0, z.1);
        let z_chars = z_ticks
            .iter()
            .map(|t| t.1.chars().count())
            .max()
            .unwrap_or(1);

        // Colour bar geometry (pixels): gap | bar | tick | labels | title
        let gap = (22.0 * s).round() as i32;
        let bar = (18.0 * s).round().max(4.0) as i32;
        let tick = (5.0 * s).round().max(2.0) as i32;
        let labels = (0.52 * lay.tick_px * z_chars as f64 + 6.0 * s).round() as i32;
        let title = if opts.z_label.is_empty() {
            0
        } else {
            (1.6 * lay.desc_px).round() as i32
        };
        let right = gap + bar + tick + labels + title + lay.margin as i32;

        let mut builder = ChartBuilder::on(&area);
        builder
            .margin(lay.margin)
            .margin_right(right.max(0) as u32)
            .x_label_area_size(lay.x_area(!opts.x_label.is_empty()))
            .y_label_area_size(
                lay.y_area(widest_label(&y_fmt, y.0, y.1), !opts.y_label.is_empty()),
            );
        let mut chart = builder.build_cartesian_2d(x.0..x.1, y.0..y.1)?;
        {
            let mut mesh = chart.configure_mesh();
            mesh.disable_mesh()
                .x_label_formatter(&x_fmt)
                .y_label_formatter(&y_fmt)
                .label_style(lay.text(lay.tick_px))
                .axis_desc_style(lay.text(lay.desc_px))
                .axis_style(BLACK.stroke_width(1));
            if !opts.x_label.is_empty() {
                mesh.x_desc(opts.x_label.as_str());
            }
            if !opts.y_label.is_empty() {
                mesh.y_desc(opts.y_label.as_str());
            }
            mesh.draw()?;
        }
        chart.draw_series(
            self.cells
                .iter()
                .map(|&(a, b, c)| Rectangle::new([a, b], c.filled())),
        )?;

        // Colour bar, in absolute pixel coordinates of the root area.
        // Pixel ranges are absolute; `root` may be a panel of a larger image.
        let (px, py) = chart.plotting_area().get_pixel_range();
        let (bx, by) = root.get_base_pixel();
        let (px, py) = (px.start - bx..px.end - bx, py.start - by..py.end - by);
        let (top, bottom) = (py.start, py.end);
        let height = f64::from(bottom - top);
        let x0 = px.end + gap;
        let x1 = x0 + bar;
        let n_steps = 64;
        let edge = |i: i32| bottom - (height * f64::from(i) / f64::from(n_steps)).round() as i32;
        for i in 0..n_steps {
            let color = viridis((f64::from(i) + 0.5) / f64::from(n_steps));
            root.draw(&Rectangle::new(
                [(x0, edge(i + 1)), (x1, edge(i))],
                color.filled(),
            ))?;
        }
        root.draw(&Rectangle::new(
            [(x0, top), (x1, bottom)],
            BLACK.stroke_width(1),
        ))?;
        let label_style = lay
            .text(lay.tick_px)
            .pos(Pos::new(HPos::Left, VPos::Center));
        for (f, text) in &z_ticks {
            let ty = bottom - (height * f).round() as i32;
            root.draw(&PathElement::new(vec![(x1, ty), (x1 + tick, ty)], BLACK))?;
            root.draw(&Text::new(
                text.clone(),
                (x1 + tick + (3.0 * s).round() as i32, ty),
                label_style.clone(),
            ))?;
        }
        if !opts.z_label.is_empty() {
            let style = lay
                .text(lay.desc_px)
                .transform(FontTransform::Rotate270)
                .pos(Pos::new(HPos::Center, VPos::Center));
            let tx = x1 + tick + labels + title / 2;
            root.draw(&Text::new(
                opts.z_label.clone(),
                (tx, (top + bottom) / 2),
                style,
            ))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_from_extension() {
        assert_eq!(
            Format::from_path(Path::new("a/b.svg")).unwrap(),
            Format::Svg
        );
        assert_eq!(Format::from_path(Path::new("b.SVG")).unwrap(), Format::Svg);
        assert_eq!(Format::from_path(Path::new("b.Png")).unwrap(), Format::Png);
        for bad in ["b.pdf", "b", "b.svg.gz", ".png.txt"] {
            assert!(
                matches!(
                    Format::from_path(Path::new(bad)),
                    Err(Error::InvalidArgument(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn font_registers() {
        register_font().unwrap();
        register_font().unwrap();
    }

    #[test]
    fn pad_widens_degenerate_ranges() {
        assert_eq!(pad_range(0.0, 1.0, false), (0.0, 1.0));
        assert_eq!(pad_range(5.0, 5.0, false), (4.5, 5.5));
        assert_eq!(pad_range(0.0, 0.0, false), (-0.5, 0.5));
        assert_eq!(pad_range(2.0, 2.0, true), (1.5, 2.5));
        let (a, b) = pad_range(1e10, 1e10 + 1e-7, false);
        assert!(b - a > 1.0);
    }

    #[test]
    fn auto_ranges() {
        assert_eq!(auto_range(&[], false, 0.05, false), (0.0, 1.0));
        assert_eq!(auto_range(&[], true, 0.05, false), (1.0, 10.0));
        assert_eq!(
            auto_range(&[f64::NAN, f64::INFINITY], false, 0.05, false),
            (0.0, 1.0)
        );
        let (a, b) = auto_range(&[1.0, 3.0], false, 0.5, false);
        assert_eq!((a, b), (0.0, 4.0));
        // histograms start at zero
        let (a, b) = auto_range(&[2.0, 10.0], false, 0.1, true);
        assert_eq!(a, 0.0);
        assert!((b - 11.0).abs() < 1e-12);
        let (a, _) = auto_range(&[-2.0, 10.0], false, 0.1, true);
        assert!(a < -2.0);
        // a single positive value on a histogram still starts at zero
        let (a, b) = auto_range(&[3.0, 3.0], false, 0.1, true);
        assert_eq!(a, 0.0);
        assert!(b > 3.0);
        // log: non-positive values ignored, decades
        let (a, b) = auto_range(&[-1.0, 0.0, 1.0, 100.0], true, 0.0, false);
        assert!((a - 1.0).abs() < 1e-12 && (b - 100.0).abs() < 1e-9);
        let (a, b) = auto_range(&[1e-300, 1e300], true, 0.05, false);
        assert!((b / a).is_finite() && b >= 1e300 && a > 0.0);
        let (a, b) = auto_range(&[10.0], true, 0.05, false);
        assert!(a < 10.0 && b > 10.0 && a > 0.0);
    }

    #[test]
    fn explicit_range_checks() {
        assert!(explicit_range("x", (0.0, 1.0), false).is_ok());
        assert!(explicit_range("x", (1.0, 1.0), false).is_err());
        assert!(explicit_range("x", (2.0, 1.0), false).is_err());
        assert!(explicit_range("x", (f64::NAN, 1.0), false).is_err());
        assert!(explicit_range("x", (0.0, f64::INFINITY), false).is_err());
        assert!(explicit_range("y", (0.0, 1.0), true).is_err());
        assert!(explicit_range("y", (-1.0, 1.0), true).is_err());
        assert!(explicit_range("y", (1e-300, 1e300), true).is_err());
        assert!(explicit_range("y", (1e-100, 1e200), true).is_ok());
        let (a, b) = explicit_range("y", (0.1, 10.0), true).unwrap();
        assert!((a - 0.1).abs() < 1e-12 && (b - 10.0).abs() < 1e-9);
    }

    #[test]
    fn segment_clipping() {
        let rect = (0.0, 1.0, 0.0, 1.0);
        // inside: unchanged
        assert_eq!(
            clip_segment((0.2, 0.2), (0.8, 0.5), rect),
            Some(((0.2, 0.2), (0.8, 0.5)))
        );
        // crossing the right edge
        let (a, b) = clip_segment((0.5, 0.5), (1.5, 0.5), rect).unwrap();
        assert_eq!(a, (0.5, 0.5));
        assert!((b.0 - 1.0).abs() < 1e-12 && (b.1 - 0.5).abs() < 1e-12);
        // fully outside
        assert_eq!(clip_segment((2.0, 2.0), (3.0, 3.0), rect), None);
        assert_eq!(clip_segment((-1.0, 2.0), (2.0, 2.0), rect), None);
        // through the whole box
        let (a, b) = clip_segment((-1.0, 0.5), (2.0, 0.5), rect).unwrap();
        assert!((a.0 - 0.0).abs() < 1e-12 && (b.0 - 1.0).abs() < 1e-12);
    }

    #[test]
    fn polyline_clipping_breaks_at_nan_and_edges() {
        let frame = Frame {
            x: (0.0, 10.0),
            y: (0.0, 1.0),
            log_y: false,
        };
        let pts = [
            (1.0, 0.5),
            (2.0, 0.5),
            (f64::NAN, 0.5),
            (3.0, 0.5),
            (4.0, 0.5),
            (5.0, 2.0), // leaves through the top
            (6.0, 0.5), // re-enters
            (7.0, 0.5),
        ];
        let pieces = frame.clip_polyline(&pts);
        assert_eq!(pieces.len(), 3, "{pieces:?}");
        assert_eq!(pieces[0], vec![(1.0, 0.5), (2.0, 0.5)]);
        assert_eq!(pieces[1].len(), 3);
        assert_eq!(pieces[1][..2], [(3.0, 0.5), (4.0, 0.5)]);
        assert!((pieces[1][2].1 - 1.0).abs() < 1e-12);
        assert_eq!(pieces[2].len(), 3);
        assert_eq!(pieces[2][1..], [(6.0, 0.5), (7.0, 0.5)]);
        // a single point draws nothing
        assert!(frame.clip_polyline(&[(1.0, 0.5)]).is_empty());
    }

    #[test]
    fn log_clipping_sends_non_positive_below_axis() {
        let frame = Frame {
            x: (0.0, 10.0),
            y: (1.0, 100.0),
            log_y: true,
        };
        let pieces = frame.clip_polyline(&[(1.0, 10.0), (2.0, 0.0)]);
        assert_eq!(pieces.len(), 1);
        let end = pieces[0][1];
        assert!((end.1 - 1.0).abs() < 1e-9, "{end:?}");
        assert!(end.0 > 1.0 && end.0 < 2.0);
    }

    #[test]
    fn tick_labels() {
        let f = linear_formatter(0.0, 10.0, 10.0);
        assert_eq!(f(&2.0), "2");
        let f = linear_formatter(0.0, 1.0, 10.0);
        assert_eq!(f(&0.2), "0.2");
        assert_eq!(f(&1e-17), "0.0");
        let f = linear_formatter(0.0, 2e6, 10.0);
        assert_eq!(f(&1.5e6), "1.5e6");
        let f = linear_formatter(0.0, 1e-7, 10.0);
        assert_eq!(f(&5e-8), "5.0e-8");
        assert_eq!(log_formatter(&1.0), "1");
        assert_eq!(log_formatter(&0.30000000000000004), "0.3");
        assert_eq!(log_formatter(&20.0), "20");
        assert_eq!(log_formatter(&1e-7), "1e-7");
        assert_eq!(log_formatter(&2.5e8), "2.5e8");
        assert_eq!(log_formatter(&0.01), "0.01");
    }

    #[test]
    fn colour_bar_labels() {
        let t = colour_bar_ticks(0.0, 81.0);
        let texts: Vec<&str> = t.iter().map(|x| x.1.as_str()).collect();
        assert_eq!(texts, ["0", "20", "40", "60", "81"]);
        assert_eq!(t[0].0, 0.0);
        assert_eq!(t[4].0, 1.0);
        assert!((t[1].0 - 20.0 / 81.0).abs() < 1e-12);
        let t = colour_bar_ticks(0.123456, 0.987654);
        assert_eq!(t.first().unwrap().1, "0.1235");
        assert_eq!(t.last().unwrap().1, "0.9877");
        assert!(t.iter().any(|x| x.1 == "0.4"), "{t:?}");
        let t = colour_bar_ticks(-2.5e6, 1.0e7);
        assert_eq!(t.first().unwrap().1, "-2.5e6");
        assert_eq!(t.last().unwrap().1, "1e7");
        assert_eq!(sig_format(-0.0), "0");
        assert_eq!(sig_format(1234.5678), "1235");
        assert_eq!(sig_format(0.000123456), "1.235e-4");
    }

    #[test]
    fn viridis_ends() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(viridis(-3.0), viridis(0.0));
        assert_eq!(viridis(7.0), viridis(1.0));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
        assert_eq!(viridis(0.5), RGBColor(38, 130, 142));
    }

    #[test]
    fn map_validation() {
        assert!(Map2D::new(0.0, 1.0, 0, 0.0, 1.0, 1).is_err());
        assert!(Map2D::new(0.0, 0.0, 1, 0.0, 1.0, 1).is_err());
        assert!(Map2D::new(0.0, 1.0, 1, f64::NAN, 1.0, 1).is_err());
        let mut m = Map2D::new(0.0, 1.0, 3, 0.0, 1.0, 2).unwrap();
        assert_eq!(m.values.len(), 6);
        m.set(2, 1, 4.0);
        assert_eq!(m.values[5], 4.0);
        assert_eq!(m.get(2, 1), 4.0);
        assert!(m.validate().is_ok());
        m.values.pop();
        assert!(matches!(m.validate(), Err(Error::InvalidArgument(_))));
    }

    #[test]
    fn series_sampling() {
        let s = Series::sample("f", 0.0, 1.0, 3, |x| 2.0 * x);
        assert_eq!(s.points, vec![(0.0, 0.0), (0.5, 1.0), (1.0, 2.0)]);
        assert_eq!(
            Series::sample("f", 0.0, 1.0, 1, |x| x).points,
            vec![(0.0, 0.0)]
        );
        assert!(Series::sample("f", 0.0, 1.0, 0, |x| x).points.is_empty());
    }
}
