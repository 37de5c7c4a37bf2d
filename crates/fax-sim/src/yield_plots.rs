//! `fax-sim plot-yields`: NEST v2 mean light and charge yields per keV against energy, for
//! electron recoils (betas, NEST `GetYieldBetaGR`) and nuclear recoils (NEST `GetYieldNR`) at
//! several drift fields, from [`NestModel::mean_yields`] (photons and electrons of the deposit
//! divided by its energy).
//!
//! | image | shows | CSV columns |
//! |---|---|---|
//! | `light_yield_beta.png` | beta photons per keV against log10 of the energy, one curve per field | `interaction`, `field_v_per_cm`, `energy_kev`, `photons_per_kev`, `electrons_per_kev` |
//! | `charge_yield_beta.png` | beta electrons per keV | the same |
//! | `light_yield_nr.png` | NR photons per keV | the same |
//! | `charge_yield_nr.png` | NR electrons per keV | the same |
//!
//! `fax-sim plot-band` ([`plot_band`]): the S1-S2 band, log10(cS2/cS1) against cS1, of an ER and
//! an NR fake production (energy front end, simulate, process, match).
//!
//! The energy axis is log10(E / keV) (the plotting layer has no logarithmic x axis), from
//! `energy_min_kev` to `energy_max_kev` with `points_per_decade` energies per decade. Each CSV
//! is written atomically beside its PNG with the `csv` crate.

use std::path::{Path, PathBuf};

use hep_core::plot::{PlotOptions, Series};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::instructions::py_float;
use crate::yields::{Interaction, NestModel};

/// Options of `fax-sim plot-yields`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct YieldPlotConfig {
    /// Image width (pixels).
    pub width: u32,
    /// Image height (pixels).
    pub height: u32,
    /// Drift fields of the curves (V/cm).
    pub fields_v_per_cm: Vec<f64>,
    /// Lowest energy (keV, > 0).
    pub energy_min_kev: f64,
    /// Highest energy (keV).
    pub energy_max_kev: f64,
    /// Energies per decade (log-spaced).
    pub points_per_decade: u32,
    /// Liquid-xenon density (g/cm^3).
    pub density_g_per_cm3: f64,
    /// NEST model parameters.
    pub nest: NestModel,
}

impl Default for YieldPlotConfig {
    fn default() -> Self {
        Self {
            width: 1000,
            height: 700,
            fields_v_per_cm: vec![100.0, 500.0, 1000.0],
            energy_min_kev: 1.0,
            energy_max_kev: 100.0,
            points_per_decade: 40,
            density_g_per_cm3: crate::deposits::DEFAULT_DENSITY_G_PER_CM3,
            nest: NestModel::default(),
        }
    }
}

/// Image file names, in drawing order.
pub const YIELD_IMAGES: [&str; 4] = [
    "light_yield_beta.png",
    "charge_yield_beta.png",
    "light_yield_nr.png",
    "charge_yield_nr.png",
];

/// One point of a yield curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct YieldPoint {
    /// Field (V/cm).
    pub field_v_per_cm: f64,
    /// Energy (keV).
    pub energy_kev: f64,
    /// Mean photons per keV.
    pub photons_per_kev: f64,
    /// Mean electrons per keV.
    pub electrons_per_kev: f64,
}

/// The log-spaced energies (keV) of the curves.
///
/// # Errors
/// [`Error::Config`] for a non-positive or inverted range or zero points per decade.
pub fn energies_kev(cfg: &YieldPlotConfig) -> Result<Vec<f64>> {
    let (lo, hi) = (cfg.energy_min_kev, cfg.energy_max_kev);
    if !(lo.is_finite() && hi.is_finite() && lo > 0.0 && hi > lo && cfg.points_per_decade > 0) {
        return Err(Error::Config(format!(
            "plot-yields: expected 0 < energy_min_kev < energy_max_kev and points_per_decade >= 1, found [{lo}, {hi}] keV, {}",
            cfg.points_per_decade
        )));
    }
    let decades = (hi / lo).log10();
    let n = (decades * f64::from(cfg.points_per_decade)).ceil().max(1.0) as usize;
    Ok((0..=n)
        .map(|i| lo * 10f64.powf(decades * i as f64 / n as f64))
        .collect())
}

/// Mean yields per keV of `interaction` at every field and energy of `cfg`.
///
/// # Errors
/// Those of [`energies_kev`] and of [`NestModel::mean_yields`].
pub fn yield_curves(cfg: &YieldPlotConfig, interaction: Interaction) -> Result<Vec<YieldPoint>> {
    let es = energies_kev(cfg)?;
    let mut out = Vec::new();
    for &f in &cfg.fields_v_per_cm {
        for &e in &es {
            let y = cfg
                .nest
                .mean_yields(interaction, e, f, cfg.density_g_per_cm3)?;
            out.push(YieldPoint {
                field_v_per_cm: f,
                energy_kev: e,
                photons_per_kev: y.photon_yield / e,
                electrons_per_kev: y.electron_yield / e,
            });
        }
    }
    Ok(out)
}

fn write_csv(path: &Path, interaction: Interaction, pts: &[YieldPoint]) -> Result<()> {
    let f = hep_core::io::AtomicFile::create(path)?;
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(f);
    let io = |e: csv::Error| Error::io(path, std::io::Error::other(e));
    w.write_record([
        "interaction",
        "field_v_per_cm",
        "energy_kev",
        "photons_per_kev",
        "electrons_per_kev",
    ])
    .map_err(io)?;
    for p in pts {
        w.write_record([
            interaction.name().to_string(),
            py_float(p.field_v_per_cm),
            py_float(p.energy_kev),
            py_float(p.photons_per_kev),
            py_float(p.electrons_per_kev),
        ])
        .map_err(io)?;
    }
    let f = w
        .into_inner()
        .map_err(|e| Error::io(path, std::io::Error::other(e.to_string())))?;
    f.commit()?;
    Ok(())
}

/// Draws the four yield plots into `out` (created if needed); returns the files written (each
/// image, then its CSV).
///
/// # Errors
/// Configuration, NEST, plot and I/O errors.
pub fn plot_yields(cfg: &YieldPlotConfig, out: &Path) -> Result<Vec<PathBuf>> {
    if cfg.fields_v_per_cm.is_empty() {
        return Err(Error::Config(
            "plot-yields: fields_v_per_cm: expected at least one field".into(),
        ));
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let mut files = Vec::new();
    let mut k = 0;
    for (interaction, name) in [
        (Interaction::Beta, "electron recoils (beta model)"),
        (Interaction::Nr, "nuclear recoils"),
    ] {
        let pts = yield_curves(cfg, interaction)?;
        for light in [true, false] {
            let img = out.join(YIELD_IMAGES[k]);
            k += 1;
            let series: Vec<Series> = cfg
                .fields_v_per_cm
                .iter()
                .map(|&f| {
                    Series::new(
                        format!("{f} V/cm"),
                        pts.iter()
                            .filter(|p| p.field_v_per_cm == f)
                            .map(|p| {
                                (
                                    p.energy_kev.log10(),
                                    if light {
                                        p.photons_per_kev
                                    } else {
                                        p.electrons_per_kev
                                    },
                                )
                            })
                            .collect(),
                    )
                })
                .collect();
            let y_max = series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.1))
                .filter(|v| v.is_finite())
                .fold(0.0f64, f64::max);
            let (what, unit) = if light {
                ("light yield", "photons / keV")
            } else {
                ("charge yield", "electrons / keV")
            };
            let opts = PlotOptions::new(
                format!(
                    "NEST v2 mean {what} of {name}, {} g/cm^3",
                    cfg.density_g_per_cm3
                ),
                "log10(energy / keV)",
                format!("{what} ({unit})"),
            )
            .with_size(cfg.width, cfg.height)
            // A margin of 0.05 decade on each side keeps the last tick label inside the image.
            .with_x_range(
                cfg.energy_min_kev.log10() - 0.05,
                cfg.energy_max_kev.log10() + 0.05,
            )
            // Room above the curves for the legend (upper right).
            .with_y_range(0.0, (1.35 * y_max).max(1.0));
            hep_core::plot::lines(&img, &series, &opts)?;
            write_csv(&img.with_extension("csv"), interaction, &pts)?;
            files.push(img.clone());
            files.push(img.with_extension("csv"));
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn energies_span_the_range_log_spaced() {
        let e = energies_kev(&YieldPlotConfig::default()).unwrap();
        assert_eq!(e.len(), 81);
        assert!((e[0] - 1.0).abs() < 1e-12 && (e[80] - 100.0).abs() < 1e-9);
        assert!((e[40] - 10.0).abs() < 1e-9);
        assert!(
            energies_kev(&YieldPlotConfig {
                energy_min_kev: 0.0,
                ..YieldPlotConfig::default()
            })
            .is_err()
        );
    }
}

/// Options of `fax-sim plot-band`: the S1-S2 band of an ER and an NR fake sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BandPlotConfig {
    /// Events per sample.
    pub n_events: u64,
    /// Production ids per sample (the events are split among them).
    pub n_ids: u64,
    /// Master seed of both productions.
    pub seed: u64,
    /// Drift field of the NEST quanta (V/cm).
    pub field_v_per_cm: f64,
    /// ER sample: NEST model and spectrum.
    pub er_interaction: Interaction,
    /// ER spectrum (flat 0-20 keV).
    pub er_spectrum: crate::deposits::EnergySpectrum,
    /// NR spectrum (flat 0-60 keV).
    pub nr_spectrum: crate::deposits::EnergySpectrum,
    /// Width of the cS1 bins of the median lines (pe).
    pub median_bin_pe: f64,
    /// Image width (pixels).
    pub width: u32,
    /// Image height (pixels).
    pub height: u32,
}

impl Default for BandPlotConfig {
    fn default() -> Self {
        use crate::deposits::EnergySpectrum;
        Self {
            n_events: 2000,
            n_ids: 2,
            seed: 1,
            field_v_per_cm: 120.0,
            er_interaction: Interaction::Beta,
            er_spectrum: EnergySpectrum::Flat {
                energy_min_kev: 0.0,
                energy_max_kev: 20.0,
            },
            nr_spectrum: EnergySpectrum::Flat {
                energy_min_kev: 0.0,
                energy_max_kev: 60.0,
            },
            median_bin_pe: 5.0,
            width: 1000,
            height: 700,
        }
    }
}

/// One event of the band: sample (`er` or `nr`), event number, cS1 and cS2 (pe).
type BandPoint = (&'static str, i64, f64, f64);

/// Median of log10(cS2/cS1) per cS1 bin of `width` pe (bins with at least 10 events), at the bin
/// centres.
fn medians(pts: &[(f64, f64)], width: f64) -> Vec<(f64, f64)> {
    let mut bins: std::collections::BTreeMap<i64, Vec<f64>> = Default::default();
    for &(x, y) in pts {
        bins.entry((x / width).floor() as i64).or_default().push(y);
    }
    bins.into_iter()
        .filter(|(_, v)| v.len() >= 10)
        .map(|(k, mut v)| {
            v.sort_by(f64::total_cmp);
            let n = v.len();
            let m = if n % 2 == 1 {
                v[n / 2]
            } else {
                0.5 * (v[n / 2 - 1] + v[n / 2])
            };
            ((k as f64 + 0.5) * width, m)
        })
        .collect()
}

/// `fax-sim plot-band`: runs an ER and an NR fake production (create-fake with the energy front
/// end, simulate, process, match) under `dir/er` and `dir/nr`, then draws `band.png`: log10(cS2 /
/// cS1) against cS1 of the main interaction (`Corrections` minitree) of both samples, with the
/// median per `median_bin_pe` bin as lines; `band.csv` holds `sample, event_number, cs1_pe,
/// cs2_pe, log10_cs2_over_cs1` (events with positive cS1 and cS2 only).
///
/// # Errors
/// Configuration errors; a failed production id; table, plot and I/O errors.
pub fn plot_band(
    cfg: &BandPlotConfig,
    dir: &Path,
    progress: &dyn hep_core::progress::Progress,
) -> Result<Vec<PathBuf>> {
    use crate::production::{Production, run_production};
    if cfg.n_ids == 0 || cfg.n_events < cfg.n_ids || !(cfg.median_bin_pe > 0.0) {
        return Err(Error::Config(format!(
            "plot-band: expected n_events >= n_ids >= 1 and median_bin_pe > 0, found {} events, {} ids, {} pe",
            cfg.n_events, cfg.n_ids, cfg.median_bin_pe
        )));
    }
    let mut pts: Vec<BandPoint> = Vec::new();
    for (sample, interaction, spectrum) in [
        ("er", cfg.er_interaction, &cfg.er_spectrum),
        ("nr", Interaction::Nr, &cfg.nr_spectrum),
    ] {
        let fake = crate::fake::FakeConfig {
            number_event_per_job: cfg.n_events / cfg.n_ids,
            energy: Some(crate::deposits::EnergyConfig {
                interaction,
                spectrum: spectrum.clone(),
                field_v_per_cm: cfg.field_v_per_cm,
                field_map: None,
                density_g_per_cm3: crate::deposits::DEFAULT_DENSITY_G_PER_CM3,
                nest: NestModel::default(),
            }),
            ..crate::fake::FakeConfig::default()
        };
        let mut t = toml::Table::new();
        t.insert("name".into(), format!("Fax_Band_{sample}").into());
        t.insert("number_job".into(), toml::Value::Integer(cfg.n_ids as i64));
        t.insert("seed".into(), toml::Value::Integer(cfg.seed as i64));
        t.insert(
            "fake".into(),
            toml::Value::try_from(&fake).map_err(|e| Error::Config(e.to_string()))?,
        );
        let prod = Production::from_toml(
            &toml::to_string(&t).map_err(|e| Error::Config(e.to_string()))?,
            "the band production",
        )?;
        let out = dir.join(sample);
        let run = run_production(&prod, &out, None, progress)?;
        if let Some(e) = run.failed.first() {
            return Err(Error::InvalidArgument(format!(
                "{sample} sample: {} failed in {}: {}",
                e.production_id,
                e.stage.name(),
                e.error_message
            )));
        }
        let path = out
            .join(&prod.configurations[0].name)
            .join("Corrections.parquet");
        let table = hep_core::io::read_parquet_table(&path)?;
        let ev = hep_core::io::column_i64(&table, "event_number")?;
        let cs1 = hep_core::io::column_f64(&table, "cs1")?;
        let cs2 = hep_core::io::column_f64(&table, "cs2")?;
        use arrow_array::Array;
        for i in 0..table.num_rows() {
            if cs1.is_null(i) || cs2.is_null(i) {
                continue;
            }
            let (a, b) = (cs1.value(i), cs2.value(i));
            if a.is_finite() && b.is_finite() && a > 0.0 && b > 0.0 {
                pts.push((sample, ev.value(i), a, b));
            }
        }
    }
    let img = dir.join("band.png");
    let csv_path = img.with_extension("csv");
    {
        let f = hep_core::io::AtomicFile::create(&csv_path)?;
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(f);
        let io = |e: csv::Error| Error::io(&csv_path, std::io::Error::other(e));
        w.write_record([
            "sample",
            "event_number",
            "cs1_pe",
            "cs2_pe",
            "log10_cs2_over_cs1",
        ])
        .map_err(io)?;
        for p in &pts {
            w.write_record([
                p.0.to_string(),
                p.1.to_string(),
                py_float(p.2),
                py_float(p.3),
                py_float((p.3 / p.2).log10()),
            ])
            .map_err(io)?;
        }
        let f = w
            .into_inner()
            .map_err(|e| Error::io(&csv_path, std::io::Error::other(e.to_string())))?;
        f.commit()?;
    }
    let series = |s: &str| -> Vec<(f64, f64)> {
        pts.iter()
            .filter(|p| p.0 == s)
            .map(|p| (p.2, (p.3 / p.2).log10()))
            .collect()
    };
    let (er, nr) = (series("er"), series("nr"));
    let markers = vec![
        Series::new(
            format!("ER ({}), {} events", cfg.er_interaction, er.len()),
            er.clone(),
        ),
        Series::new(format!("NR, {} events", nr.len()), nr.clone()),
    ];
    // Lines share colour i with marker set i: two empty lines first, so that the medians get
    // colours of their own and stay visible over the markers.
    let lines = vec![
        Series::new("", Vec::new()),
        Series::new("", Vec::new()),
        Series::new("ER median", medians(&er, cfg.median_bin_pe)),
        Series::new("NR median", medians(&nr, cfg.median_bin_pe)),
    ];
    let opts = PlotOptions::new(
        format!(
            "S1-S2 band: ER ({}) {} keV, NR {} keV, {} V/cm",
            cfg.er_interaction, cfg.er_spectrum, cfg.nr_spectrum, cfg.field_v_per_cm
        ),
        "cS1 (pe)",
        "log10(cS2 / cS1)",
    )
    .with_size(cfg.width, cfg.height);
    hep_core::plot::scatter_series(&img, &markers, &lines, &opts)?;
    Ok(vec![img, csv_path])
}
