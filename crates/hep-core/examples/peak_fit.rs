//! Worked example of hep-core: simulate, histogram, fit, write, plot, record provenance.
//!
//! A Gaussian peak (3000 events at x = 60 with sigma 4) on a falling exponential background (7000
//! events, slope 0.03) in 100 bins on `[0, 100)` is simulated from a seeded stream, fitted with an
//! extended binned likelihood, and the peak position also gets a profile-likelihood interval.
//! Outputs in the output directory (default `out/peak_fit`), each with a `.manifest.json` sidecar:
//! `histogram.parquet` (bin_low, bin_high, counts), `fit.csv` (one row per parameter),
//! `peak_fit.png` and `peak_fit.svg`.
//!
//! Usage: `cargo run --release -p hep-core --example peak_fit -- [OUT_DIR] [SEED]`

use arrow_array::{Float64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use hep_core::fit::cost::ExtendedBinnedNll;
use hep_core::fit::shapes::{add_exponential, add_gaussian};
use hep_core::fit::{FitOptions, Parameter, chi2_p_value, minimize, profile_interval};
use hep_core::hist::Hist1D;
use hep_core::manifest::Manifest;
use hep_core::plot::{self, Curve, PlotOptions};
use hep_core::{io, rng};
use rand_distr::{Distribution, Exp, Normal};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;

/// Truth: signal yield, mean, sigma, background yield, slope (x in arbitrary units "a.u.").
const TRUTH: [f64; 5] = [3000.0, 60.0, 4.0, 7000.0, 0.03];

fn model(p: &[f64], edges: &[f64], out: &mut [f64]) {
    out.fill(0.0);
    add_gaussian(p[0], p[1], p[2], edges, out);
    add_exponential(p[3], p[4], edges, out);
}

#[derive(Serialize)]
struct FitRow<'a> {
    parameter: &'a str,
    truth: f64,
    value: f64,
    error: f64,
    error_low: f64,
    error_high: f64,
    at_limit: bool,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let out = PathBuf::from(args.get(1).map_or("out/peak_fit", String::as_str));
    let seed: u64 = match args.get(2) {
        Some(s) => s
            .parse()
            .map_err(|_| format!("seed: expected an integer, found {s:?}"))?,
        None => 1,
    };
    std::fs::create_dir_all(&out)?;
    let manifest = || {
        let mut m = Manifest::start("peak_fit", env!("CARGO_PKG_VERSION"));
        m.add_seed("seed", seed);
        m
    };

    // Simulate: signal from key 0, background from key 1, keeping events inside the range.
    let mut h = Hist1D::new(100, 0.0, 100.0)?;
    let mut sig = rng::stream(seed, 0);
    let gauss = Normal::new(TRUTH[1], TRUTH[2])?;
    let mut n = 0;
    while n < TRUTH[0] as usize {
        let x = gauss.sample(&mut sig);
        if (0.0..100.0).contains(&x) {
            h.fill(x);
            n += 1;
        }
    }
    let mut bkg = rng::stream(seed, 1);
    let expo = Exp::new(TRUTH[4])?;
    n = 0;
    while n < TRUTH[3] as usize {
        let x = expo.sample(&mut bkg);
        if x < 100.0 {
            h.fill(x);
            n += 1;
        }
    }

    // Histogram as Parquet.
    let edges = h.edges();
    let schema = Arc::new(Schema::new(vec![
        Field::new("bin_low", DataType::Float64, false),
        Field::new("bin_high", DataType::Float64, false),
        Field::new("counts", DataType::Float64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Float64Array::from(edges[..100].to_vec())),
            Arc::new(Float64Array::from(edges[1..].to_vec())),
            Arc::new(Float64Array::from(h.contents().to_vec())),
        ],
    )?;
    let hist_path = out.join("histogram.parquet");
    io::write_parquet(&hist_path, &[batch])?;
    let mut m = manifest();
    m.add_output(&hist_path)?;
    m.finish();
    m.write_sidecar(&hist_path)?;

    // Fit.
    let nll = ExtendedBinnedNll::from_hist(&h, model)?;
    let params = [
        Parameter::new("n_sig", 2500.0, 100.0).with_lower(0.0),
        Parameter::new("mean", 58.0, 0.5).with_limits(40.0, 80.0),
        Parameter::new("sigma", 5.0, 0.3).with_limits(0.5, 20.0),
        Parameter::new("n_bkg", 7500.0, 100.0).with_lower(0.0),
        Parameter::new("slope", 0.02, 0.003).with_limits(1e-4, 1.0),
    ];
    let opts = FitOptions::default();
    let fit = minimize(&nll, &params, &opts)?;
    let minos = profile_interval(&nll, &params, &fit, 1, 1.0, &opts)?;
    let ndf = 100 - params.len() as u64;
    let deviance = nll.deviance(&fit.values);
    let p_value = chi2_p_value(deviance, ndf);

    let rows: Vec<FitRow> = (0..params.len())
        .map(|i| FitRow {
            parameter: &fit.names[i],
            truth: TRUTH[i],
            value: fit.values[i],
            error: fit.errors[i],
            error_low: if i == 1 { minos.error_low() } else { f64::NAN },
            error_high: if i == 1 { minos.error_high() } else { f64::NAN },
            at_limit: fit.status.at_limit[i],
        })
        .collect();
    let fit_path = out.join("fit.csv");
    io::write_csv(&fit_path, &rows)?;
    let mut m = manifest().with_configuration(&serde_json::json!({
        "model": "gaussian + exponential, extended binned Poisson likelihood",
        "bins": 100, "range": [0.0, 100.0], "truth": TRUTH,
    }))?;
    m.add_input(&hist_path)?;
    m.add_output(&fit_path)?;
    m.finish();
    m.write_sidecar(&fit_path)?;

    // Plot: data, total model and background as densities times the bin width (counts per bin).
    let w = h.bin_width();
    let density = |p: &[f64], x: f64, with_signal: bool| {
        let g = if with_signal {
            let z = (x - p[1]) / p[2];
            let norm = hep_core::fit::shapes::normal_cdf(100.0, p[1], p[2])
                - hep_core::fit::shapes::normal_cdf(0.0, p[1], p[2]);
            p[0] * (-0.5 * z * z).exp() / (p[2] * (2.0 * std::f64::consts::PI).sqrt()) / norm
        } else {
            0.0
        };
        let e = p[3] * p[4] * (-p[4] * x).exp() / (1.0 - (-p[4] * 100.0).exp());
        (g + e) * w
    };
    let curves = [
        Curve::sample("fit", 0.0, 100.0, 400, |x| density(&fit.values, x, true)),
        Curve::sample("background", 0.0, 100.0, 400, |x| {
            density(&fit.values, x, false)
        }),
    ];
    let popts = PlotOptions::new(
        "Gaussian peak on exponential background",
        "x (a.u.)",
        "Events / (1 a.u.)",
    );
    for ext in ["png", "svg"] {
        let path = out.join(format!("peak_fit.{ext}"));
        plot::histogram_with_curves(&path, &h, &curves, &popts)?;
        let mut m = manifest();
        m.add_input(&fit_path)?;
        m.add_output(&path)?;
        m.finish();
        m.write_sidecar(&path)?;
    }

    println!("parameter      truth        value        error   pull");
    for r in &rows {
        println!(
            "{:<10} {:>9.4} {:>12.4} {:>12.4} {:>6.2}",
            r.parameter,
            r.truth,
            r.value,
            r.error,
            (r.value - r.truth) / r.error
        );
    }
    println!(
        "mean profile interval: -{:.4} +{:.4}   status valid: {}   deviance/ndf = {:.1}/{} (p = {:.3})",
        minos.error_low(),
        minos.error_high(),
        fit.status.is_valid(),
        deviance,
        ndf,
        p_value
    );
    println!("outputs in {}", out.display());
    Ok(())
}
