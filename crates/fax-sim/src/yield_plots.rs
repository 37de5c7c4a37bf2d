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
