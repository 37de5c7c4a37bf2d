//! Integration tests of `hep_core::plot`: every plot kind written as SVG and PNG, file validity,
//! determinism, and atomicity on errors.

use std::fs;
use std::path::{Path, PathBuf};

use hep_core::Error;
use hep_core::hist::Hist1D;
use hep_core::plot::{self, Curve, Map2D, PlotOptions, Series};

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// Asserts `path` is a PNG of `width` x `height` pixels (signature, IHDR chunk, IEND at the end).
fn assert_png(path: &Path, width: u32, height: u32) {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(bytes.len() > 33, "{}: too short for a PNG", path.display());
    assert_eq!(
        bytes[..8],
        PNG_SIGNATURE,
        "{}: PNG signature",
        path.display()
    );
    assert_eq!(&bytes[12..16], b"IHDR", "{}: first chunk", path.display());
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((w, h), (width, height), "{}: IHDR size", path.display());
    assert_eq!(
        &bytes[bytes.len() - 8..bytes.len() - 4],
        b"IEND",
        "{}: IEND",
        path.display()
    );
}

/// Asserts `path` is a complete SVG document containing every string of `texts`, and returns it.
fn assert_svg(path: &Path, width: u32, height: u32, texts: &[&str]) -> String {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let trimmed = text.trim();
    let body = if trimmed.starts_with("<?xml") {
        trimmed[trimmed.find("?>").unwrap() + 2..].trim_start()
    } else {
        trimmed
    };
    assert!(
        body.starts_with("<svg"),
        "{}: no <svg start",
        path.display()
    );
    assert!(
        trimmed.ends_with("</svg>"),
        "{}: not closed",
        path.display()
    );
    assert!(
        body.contains(&format!("width=\"{width}\""))
            && body.contains(&format!("height=\"{height}\"")),
        "{}: size",
        path.display()
    );
    for t in texts {
        assert!(text.contains(t), "{}: missing text {t:?}", path.display());
    }
    text
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

fn gauss_hist() -> Hist1D {
    let mut h = Hist1D::new(40, 0.0, 10.0).unwrap();
    // deterministic, roughly Gaussian sample around 5 MeV
    for i in 0..4000u32 {
        let u = (f64::from(i) + 0.5) / 4000.0;
        let mut s = 0.0;
        for k in 1..=6u32 {
            s += (u * f64::from(k) * 7.31 + f64::from(k) * 0.123).fract();
        }
        h.fill(5.0 + (s - 3.0) * 1.2);
    }
    h
}

fn gauss_curve(h: &Hist1D) -> Vec<(f64, f64)> {
    let (mu, sigma) = (h.mean(), h.std_dev());
    let norm = h.integral() * h.bin_width() / (sigma * (2.0 * std::f64::consts::PI).sqrt());
    Series::sample("fit", h.low(), h.high(), 400, |x| {
        norm * (-0.5 * ((x - mu) / sigma).powi(2)).exp()
    })
    .points
}

fn sample_map() -> Map2D {
    let mut m = Map2D::new(-5.0, 5.0, 20, 0.0, 100.0, 10).unwrap();
    for iy in 0..10 {
        for ix in 0..20 {
            if (ix + iy) % 7 != 0 {
                m.set(ix, iy, (ix * iy) as f64 * 0.5);
            }
        }
    }
    m
}

/// Every plot kind, written with the given file extension and options.
fn write_all(dir: &Path, ext: &str, opts: &PlotOptions) -> Vec<PathBuf> {
    let h = gauss_hist();
    let curve = gauss_curve(&h);
    let mut out = Vec::new();

    let p = dir.join(format!("hist.{ext}"));
    plot::histogram(&p, &h, Some(&curve), opts).unwrap();
    out.push(p);

    let p = dir.join(format!("hist_nocurve.{ext}"));
    plot::histogram(&p, &h, None, opts).unwrap();
    out.push(p);

    let p = dir.join(format!("hist_components.{ext}"));
    let half: Vec<(f64, f64)> = curve.iter().map(|&(x, y)| (x, 0.5 * y)).collect();
    let flat: Vec<(f64, f64)> = curve.iter().map(|&(x, _)| (x, 5.0)).collect();
    let curves = vec![
        Curve::new("total", curve.clone()),
        Curve::new("signal", half),
        Curve::new("background", flat),
    ];
    plot::histogram_with_curves(&p, &h, &curves, opts).unwrap();
    out.push(p);

    let p = dir.join(format!("scatter.{ext}"));
    let pts: Vec<(f64, f64)> = (0..200)
        .map(|i| {
            let x = f64::from(i) * 0.05;
            (x, 2.0 + (x * 1.7).sin() + 0.1 * (f64::from(i) * 0.77).cos())
        })
        .collect();
    plot::scatter(&p, &pts, opts).unwrap();
    out.push(p);

    let p = dir.join(format!("lines.{ext}"));
    let series = vec![
        Series::sample("sin", 0.0, 10.0, 300, |x| 2.0 + x.sin()),
        Series::sample("cos", 0.0, 10.0, 300, |x| 2.0 + x.cos()),
        Series::sample("const", 0.0, 10.0, 2, |_| 2.5),
    ];
    plot::lines(&p, &series, opts).unwrap();
    out.push(p);

    let p = dir.join(format!("map.{ext}"));
    plot::map2d(&p, &sample_map(), opts).unwrap();
    out.push(p);

    let p = dir.join(format!("scatter_series.{ext}"));
    let layers: Vec<Series> = (1..=4)
        .map(|l| {
            Series::new(
                format!("Layer {l}"),
                (0..50)
                    .map(|i| (f64::from(i), f64::from(l) * (1.0 + 0.02 * f64::from(i))))
                    .collect(),
            )
        })
        .collect();
    let models = vec![Series::sample("model", 0.0, 49.0, 2, |x| 1.0 + 0.02 * x)];
    plot::scatter_series(&p, &layers, &models, opts).unwrap();
    out.push(p);
    out
}

fn options() -> PlotOptions {
    PlotOptions::new("Test plot title", "Energy (MeV)", "Entries per 0.25 MeV")
        .with_z_label("Rate (Hz)")
}

#[test]
fn plot_svg_files_are_complete_and_labelled() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options();
    let files = write_all(dir.path(), "svg", &opts);
    for f in &files {
        assert_svg(
            f,
            800,
            600,
            &["Test plot title", "Energy (MeV)", "Entries per 0.25 MeV"],
        );
    }
    let hist = fs::read_to_string(dir.path().join("hist.svg")).unwrap();
    assert!(
        hist.contains(">\ndata\n</text>"),
        "legend entry of the data"
    );
    assert!(
        hist.contains(">\nfit\n</text>"),
        "legend entry of the curve"
    );
    assert!(hist.contains("<circle"), "data markers");
    assert!(hist.contains("<polyline"), "curve");
    let nocurve = fs::read_to_string(dir.path().join("hist_nocurve.svg")).unwrap();
    assert!(
        !nocurve.contains(">\nfit\n</text>"),
        "no curve, no fit legend"
    );
    let comps = fs::read_to_string(dir.path().join("hist_components.svg")).unwrap();
    for label in ["total", "signal", "background", "data"] {
        assert!(
            comps.contains(&format!(">\n{label}\n</text>")),
            "legend entry {label}"
        );
    }
    let lines = fs::read_to_string(dir.path().join("lines.svg")).unwrap();
    for label in ["sin", "cos", "const"] {
        assert!(
            lines.contains(&format!(">\n{label}\n</text>")),
            "legend entry {label}"
        );
    }
    // three distinct palette colours
    for colour in ["#1F77B4", "#FF7F0E", "#2CA02C"] {
        assert!(lines.to_uppercase().contains(colour), "colour {colour}");
    }
    let map = fs::read_to_string(dir.path().join("map.svg")).unwrap();
    assert!(map.contains("Rate (Hz)"), "colour bar title");
    // colour bar: the minimum (0) and maximum (18 * 9 * 0.5 = 81; cell (19, 9) is empty) of the
    // values are labelled
    let m = sample_map();
    let max = m
        .values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(f64::MIN, f64::max);
    assert_eq!(max, 81.0);
    assert!(map.contains(">\n0\n</text>"), "min label");
    assert!(map.contains(">\n81\n</text>"), "max label");
    assert!(map.contains(">\n40\n</text>"), "intermediate label");
    // only temporary files cleaned up: exactly the outputs are in the directory
    assert_eq!(files_in(dir.path()), {
        let mut f = files.clone();
        f.sort();
        f
    });
}

#[test]
fn plot_png_files_have_requested_size() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options();
    for f in write_all(dir.path(), "png", &opts) {
        assert_png(&f, 800, 600);
    }
    let opts = options().with_size(1024, 300);
    let sub = dir.path().join("sub");
    fs::create_dir(&sub).unwrap();
    for f in write_all(&sub, "PNG", &opts) {
        assert_png(&f, 1024, 300);
    }
}

#[test]
fn plot_extension_is_case_insensitive() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options().with_size(300, 200);
    let p = dir.path().join("UPPER.SVG");
    plot::scatter(&p, &[(1.0, 2.0)], &opts).unwrap();
    assert_svg(&p, 300, 200, &["Energy (MeV)"]);
    let p = dir.path().join("Mixed.Png");
    plot::scatter(&p, &[(1.0, 2.0)], &opts).unwrap();
    assert_png(&p, 300, 200);
}

#[test]
fn plot_log_y_and_explicit_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let h = gauss_hist();
    let curve = gauss_curve(&h);
    let opts = options().with_log_y(true);
    for ext in ["svg", "png"] {
        let p = dir.path().join(format!("log.{ext}"));
        plot::histogram(&p, &h, Some(&curve), &opts).unwrap();
        let p = dir.path().join(format!("log_lines.{ext}"));
        let s = vec![Series::sample("exp", 0.0, 10.0, 100, |x| (-x).exp() - 1e-3)];
        plot::lines(&p, &s, &opts).unwrap();
        let p = dir.path().join(format!("zoom.{ext}"));
        let zoom = options().with_x_range(3.0, 6.0).with_y_range(10.0, 200.0);
        plot::histogram(&p, &h, Some(&curve), &zoom).unwrap();
        let p = dir.path().join(format!("zoom_map.{ext}"));
        let zoom = options()
            .with_x_range(0.0, 2.0)
            .with_y_range(-50.0, 50.0)
            .with_z_range(10.0, 20.0);
        plot::map2d(&p, &sample_map(), &zoom).unwrap();
    }
    assert_png(&dir.path().join("log.png"), 800, 600);
    assert_svg(&dir.path().join("log.svg"), 800, 600, &["Test plot title"]);
    assert_png(&dir.path().join("zoom_map.png"), 800, 600);
}

#[test]
fn plot_svg_output_is_deterministic() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let opts = options();
    let fa = write_all(a.path(), "svg", &opts);
    let fb = write_all(b.path(), "svg", &opts);
    for (x, y) in fa.iter().zip(&fb) {
        assert_eq!(
            fs::read(x).unwrap(),
            fs::read(y).unwrap(),
            "{}",
            x.display()
        );
    }
    let pa = a.path().join("d.png");
    let pb = b.path().join("d.png");
    plot::map2d(&pa, &sample_map(), &opts).unwrap();
    plot::map2d(&pb, &sample_map(), &opts).unwrap();
    assert_eq!(fs::read(pa).unwrap(), fs::read(pb).unwrap());
}

#[test]
fn plot_unknown_extension_is_an_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options();
    let h = gauss_hist();
    for name in ["plot.pdf", "plot", "plot.svgz", "plot.png.tmp"] {
        let p = dir.path().join(name);
        let err = plot::histogram(&p, &h, None, &opts).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{name}: {err}");
        assert!(plot::scatter(&p, &[(1.0, 1.0)], &opts).is_err());
        assert!(plot::lines(&p, &[], &opts).is_err());
        assert!(plot::map2d(&p, &sample_map(), &opts).is_err());
        assert!(!p.exists(), "{name} was created");
    }
    assert!(
        files_in(dir.path()).is_empty(),
        "{:?}",
        files_in(dir.path())
    );
}

#[test]
fn plot_failures_leave_no_file_and_keep_old_files() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options();
    let mut bad = sample_map();
    bad.values.pop();
    for ext in ["svg", "png"] {
        let p = dir.path().join(format!("bad_map.{ext}"));
        let err = plot::map2d(&p, &bad, &opts).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
        assert!(!p.exists());

        // bad sizes and ranges
        let p = dir.path().join(format!("bad.{ext}"));
        for o in [
            options().with_size(0, 600),
            options().with_size(800, 99_999),
            options().with_x_range(1.0, 1.0),
            options().with_x_range(f64::NAN, 1.0),
            options().with_y_range(2.0, 1.0),
            options().with_log_y(true).with_y_range(0.0, 10.0),
        ] {
            assert!(plot::scatter(&p, &[(1.0, 1.0)], &o).is_err(), "{o:?}");
            assert!(
                plot::histogram(&p, &gauss_hist(), None, &o).is_err(),
                "{o:?}"
            );
            assert!(!p.exists());
        }
        assert!(plot::map2d(&p, &sample_map(), &options().with_z_range(3.0, 3.0)).is_err());

        // a failing plot does not touch an existing file
        let keep = dir.path().join(format!("keep.{ext}"));
        fs::write(&keep, b"old content").unwrap();
        assert!(plot::map2d(&keep, &bad, &opts).is_err());
        assert_eq!(fs::read(&keep).unwrap(), b"old content");
    }
    let mut remaining: Vec<String> = files_in(dir.path())
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    remaining.sort();
    assert_eq!(remaining, ["keep.png", "keep.svg"]);

    // a missing directory is an I/O error, and nothing is created
    let p = dir.path().join("no/such/dir/plot.svg");
    let err = plot::scatter(&p, &[(1.0, 1.0)], &opts).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(!dir.path().join("no").exists());
}

#[test]
fn plot_an_existing_file_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("replace.svg");
    fs::write(&p, b"old").unwrap();
    plot::scatter(&p, &[(1.0, 1.0), (2.0, 3.0)], &options()).unwrap();
    assert_svg(&p, 800, 600, &["Energy (MeV)"]);
}

#[test]
fn plot_bad_data_does_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options();
    let nasty = [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        0.0,
        -0.0,
        1e308,
        -1e308,
        f64::MIN_POSITIVE,
        5e-324,
        -1.0,
        1.0,
        1e-300,
        1e300,
    ];
    let mut points = Vec::new();
    for &x in &nasty {
        for &y in &nasty {
            points.push((x, y));
        }
    }
    let mut n = 0;
    for log in [false, true] {
        let o = opts.clone().with_log_y(log);
        for ext in ["svg", "png"] {
            let mut run = |f: &dyn Fn(&Path) -> hep_core::Result<()>| {
                n += 1;
                let p = dir.path().join(format!("nasty{n}.{ext}"));
                f(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                assert!(p.exists());
            };
            // empty inputs
            run(&|p| plot::scatter(p, &[], &o));
            run(&|p| plot::lines(p, &[], &o));
            run(&|p| plot::lines(p, &[Series::new("empty", vec![])], &o));
            run(&|p| plot::histogram(p, &Hist1D::new(5, 0.0, 1.0).unwrap(), Some(&[]), &o));
            // all values non-finite
            run(&|p| plot::scatter(p, &[(f64::NAN, 1.0), (1.0, f64::INFINITY)], &o));
            // a single point, all values equal
            run(&|p| plot::scatter(p, &[(3.0, 3.0)], &o));
            run(&|p| plot::scatter(p, &[(0.0, 0.0), (0.0, 0.0)], &o));
            run(&|p| plot::lines(p, &[Series::new("flat", vec![(1.0, 7.0), (1.0, 7.0)])], &o));
            run(&|p| plot::scatter(p, &[(1e10, 1.0), (1e10 + 1e-6, 1.0)], &o));
            // every combination of extreme values
            run(&|p| plot::scatter(p, &points, &o));
            run(&|p| plot::lines(p, &[Series::new("nasty", points.clone())], &o));
            // NaN and negative bin contents, a nasty curve
            run(&|p| {
                let mut h = Hist1D::new(10, -1.0, 1.0).unwrap();
                h.fill_weighted(-0.5, f64::NAN);
                h.fill_weighted(0.0, -3.0);
                h.fill_weighted(0.5, 2.0);
                plot::histogram(p, &h, Some(&points), &o)
            });
            // maps: all empty, one value, extreme values
            run(&|p| plot::map2d(p, &Map2D::new(0.0, 1.0, 3, 0.0, 1.0, 2).unwrap(), &o));
            run(&|p| {
                let mut m = Map2D::new(0.0, 1.0, 3, 0.0, 1.0, 2).unwrap();
                m.set(1, 1, 4.0);
                plot::map2d(p, &m, &o)
            });
            run(&|p| {
                let m = Map2D {
                    values: vec![f64::NAN, f64::INFINITY, -1e308, 1e308, 0.0, 1.0],
                    ..Map2D::new(-1e300, 1e300, 3, 0.0, 1e-9, 2).unwrap()
                };
                plot::map2d(p, &m, &o)
            });
            // the smallest accepted image
            run(&|p| plot::histogram(p, &gauss_hist(), None, &o.clone().with_size(100, 100)));
            run(&|p| plot::map2d(p, &sample_map(), &o.clone().with_size(100, 100)));
        }
    }
}

#[test]
fn plot_empty_labels_and_title_are_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let opts = PlotOptions::default();
    for ext in ["svg", "png"] {
        let p = dir.path().join(format!("bare.{ext}"));
        plot::lines(&p, &[Series::sample("", 0.0, 1.0, 10, |x| x * x)], &opts).unwrap();
        let p = dir.path().join(format!("bare_map.{ext}"));
        plot::map2d(&p, &sample_map(), &opts).unwrap();
    }
    assert_png(&dir.path().join("bare.png"), 800, 600);
    let svg = assert_svg(&dir.path().join("bare.svg"), 800, 600, &[]);
    assert!(svg.contains("<polyline"), "the line is drawn");
}

#[test]
fn plot_scatter_with_lines_and_scatter_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let pts: Vec<(f64, f64)> = (0..200)
        .map(|i| {
            (
                f64::from(i) * 0.1,
                1.0 + 0.5 * f64::from(i) * 0.1 + 0.1 * f64::from(i % 7),
            )
        })
        .collect();
    let line = Series::sample("fit: y = 1.30 + 0.50x", 0.0, 20.0, 2, |x| 1.3 + 0.5 * x);
    let p = dir.path().join("fit.svg");
    plot::scatter_with_lines(&p, &pts, "", std::slice::from_ref(&line), &options()).unwrap();
    let svg = assert_svg(&p, 800, 600, &["Test plot title", "fit: y = 1.30 + 0.50x"]);
    // 200 markers (circles) are drawn.
    assert!(
        svg.matches("<circle").count() >= 200,
        "{}",
        svg.matches("<circle").count()
    );
    // Several marker sets with a legend each, and a line in the first set's colour.
    let sets = vec![
        Series::new("Layer 1", vec![(0.0, 1.0), (1.0, 2.0), (f64::NAN, 3.0)]),
        Series::new("Layer 2", vec![(0.0, 2.0), (1.0, 4.0)]),
        Series::new("", vec![(0.5, 3.0)]),
    ];
    let p = dir.path().join("series.svg");
    plot::scatter_series(&p, &sets, std::slice::from_ref(&line), &options()).unwrap();
    let svg = assert_svg(
        &p,
        800,
        600,
        &["Layer 1", "Layer 2", "fit: y = 1.30 + 0.50x"],
    );
    assert!(
        svg.contains("#1F77B4") || svg.contains("#1f77b4"),
        "first palette colour"
    );
    // Scatter matrix: 3 variables, 2 groups; lower half only, labels on the outer panels,
    // the legend in the upper half.
    let n = 300;
    let vars: Vec<plot::MatrixVariable> = ["TOA (ns)", "TOT (ns)", "CAL"]
        .iter()
        .enumerate()
        .map(|(k, label)| plot::MatrixVariable {
            label: (*label).to_string(),
            values: (0..n)
                .map(|i| f64::from(i) * (k as f64 + 1.0) + if i == 5 { f64::NAN } else { 0.0 })
                .collect(),
        })
        .collect();
    let groups = vec![
        plot::MatrixGroup {
            label: "board 0".into(),
            points: (0..150).collect(),
        },
        plot::MatrixGroup {
            label: "board 1".into(),
            points: (150..300).collect(),
        },
    ];
    let m = dir.path().join("multi_scatter.svg");
    plot::scatter_matrix(&m, &vars, &groups, &options()).unwrap();
    let svg = assert_svg(
        &m,
        800,
        600,
        &["TOA (ns)", "TOT (ns)", "CAL", "board 0", "board 1"],
    );
    // Three lower panels with 300 points each, less point 5 (NaN in every variable):
    // 3 x 299 markers, plus the two legend markers.
    assert_eq!(svg.matches("<circle").count(), 3 * 299 + 2);
    let png = dir.path().join("multi_scatter.png");
    plot::scatter_matrix(&png, &vars, &groups, &options()).unwrap();
    assert_png(&png, 800, 600);
    // Bad input: one variable, lengths that differ, an index out of range; no file left.
    let bad = dir.path().join("bad.svg");
    assert!(matches!(
        plot::scatter_matrix(&bad, &vars[..1], &groups, &options()),
        Err(Error::InvalidArgument(_))
    ));
    let mut short = vars.clone();
    short[1].values.pop();
    assert!(plot::scatter_matrix(&bad, &short, &groups, &options()).is_err());
    let far = vec![plot::MatrixGroup {
        label: "x".into(),
        points: vec![n as usize],
    }];
    assert!(plot::scatter_matrix(&bad, &vars, &far, &options()).is_err());
    assert!(!bad.exists());
}

#[test]
fn plot_facets_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let opts = PlotOptions::new("TOT vs TOA", "TOA (ns)", "TOT (ns)").with_size(1500, 500);
    let panels: Vec<Series> = (0..3)
        .map(|b| {
            Series::new(
                format!("board {b}"),
                (0..50)
                    .map(|i| (f64::from(i) * 0.1, f64::from(b) + f64::from(i % 5)))
                    .collect(),
            )
        })
        .collect();
    let p = dir.path().join("TOT_vs_TOA_ns_scatter.svg");
    plot::scatter_facets(&p, &panels, &opts).unwrap();
    let svg = assert_svg(
        &p,
        1500,
        500,
        &["TOT vs TOA", "board 0", "board 1", "board 2"],
    );
    assert_eq!(svg.matches("<circle").count(), 150);
    // The y title once (first panel), the x title under every panel.
    assert_eq!(svg.matches("TOT (ns)").count(), 1);
    assert_eq!(svg.matches("TOA (ns)").count(), 3);
    let maps: Vec<(String, Map2D)> = (0..2)
        .map(|b| {
            let mut m = sample_map();
            m.values.iter_mut().for_each(|v| *v *= f64::from(b + 1));
            (format!("board {b}"), m)
        })
        .collect();
    let q = dir.path().join("TOT_vs_TOA_ns_histogram.png");
    plot::map2d_facets(&q, &maps, &opts.clone().with_z_label("hits")).unwrap();
    assert_png(&q, 1500, 500);
    let bad = dir.path().join("bad.svg");
    assert!(plot::scatter_facets(&bad, &[], &opts).is_err());
    assert!(plot::map2d_facets(&bad, &[], &opts).is_err());
    assert!(!bad.exists());
}

/// A plot's temporary file is named like every other atomic write's (`.{name}.{pid}.{token}.tmp`
/// plus the image extension), so the next plot written into the directory removes the one a
/// killed process left, and leaves nothing of its own.
#[test]
fn plot_temporaries_of_a_killed_writer_are_removed_by_the_next_plot() {
    let dir = tempfile::tempdir().unwrap();
    // pid 4294967295 is above every Linux pid_max: never running.
    let stale_png = dir.path().join(".hist.png.4294967295.Ab12Cd.tmp.png");
    let stale_svg = dir.path().join(".hist.svg.4294967295.Ef34Gh.tmp.svg");
    let other = dir.path().join(".notes.png");
    for p in [&stale_png, &stale_svg, &other] {
        fs::write(p, b"partial").unwrap();
    }
    let p = dir.path().join("hist.png");
    plot::histogram(&p, &gauss_hist(), None, &options()).unwrap();
    assert_png(&p, options().width, options().height);
    if cfg!(target_os = "linux") {
        assert!(!stale_png.exists() && !stale_svg.exists());
    }
    assert!(
        other.exists(),
        "a hidden file that is not a temporary stays"
    );
    let mut left = files_in(dir.path());
    left.sort();
    assert_eq!(left, vec![other, p]);
}
