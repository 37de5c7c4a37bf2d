//! Energy front ends: instructions from energies through NEST v2 quanta.
//!
//! * `create-fake --energy-spectrum`: [`EnergyConfig`] in [`crate::fake::FakeConfig`]; per event
//!   an energy drawn from an [`EnergySpectrum`] (flat, or a listed `energy_kev,weight` table) and
//!   its quanta from [`NestModel::quanta`] (mean yields and fluctuations).
//! * `from-deposits`: a table of energy deposits (`event, x, y, z, t, edep_keV, interaction`)
//!   clustered per event in time and space as epix does (`XENONnT/epix`, `epix/clustering.py`:
//!   `find_cluster` and `cluster`), each cluster becoming one instruction row with NEST quanta.
//!
//! Quanta are drawn from `hep_core::rng::stream(seed, event)` (after the position and energy in
//! `create-fake`), so results do not depend on the thread count or on other events.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::instructions::RecoilType;
use crate::yields::{Interaction, NestModel};

/// Default liquid-xenon density (g/cm^3), XENON1T's.
pub const DEFAULT_DENSITY_G_PER_CM3: f64 = 2.862;

/// The spectrum energies are drawn from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "shape", rename_all = "snake_case", deny_unknown_fields)]
pub enum EnergySpectrum {
    /// Uniform in `(energy_min_kev, energy_max_kev]` (keV); equal bounds give one energy.
    Flat {
        /// Lower bound (keV, >= 0).
        energy_min_kev: f64,
        /// Upper bound (keV, > 0, >= `energy_min_kev`).
        energy_max_kev: f64,
    },
    /// A listed spectrum: a CSV with header `energy_kev,weight`, energies strictly increasing,
    /// weights >= 0 (not all zero). The density is linear in energy between the listed points (a
    /// trapezoid histogram, sampled by inverting its CDF exactly); a single row is one energy.
    Listed {
        /// The CSV file.
        path: PathBuf,
    },
}

impl FromStr for EnergySpectrum {
    type Err = Error;

    /// `flat:MIN,MAX` (keV) or the path of a listed-spectrum CSV.
    fn from_str(s: &str) -> Result<Self> {
        if let Some(r) = s.strip_prefix("flat:") {
            let mut it = r.split(',').map(str::trim);
            let (a, b) = (it.next(), it.next());
            let parse = |v: Option<&str>| v.and_then(|v| v.parse::<f64>().ok());
            return match (parse(a), parse(b), it.next()) {
                (Some(lo), Some(hi), None) => Ok(EnergySpectrum::Flat {
                    energy_min_kev: lo,
                    energy_max_kev: hi,
                }),
                _ => Err(Error::InvalidArgument(format!(
                    "energy spectrum: expected flat:MIN_KEV,MAX_KEV, found `{s}`"
                ))),
            };
        }
        Ok(EnergySpectrum::Listed { path: s.into() })
    }
}

impl fmt::Display for EnergySpectrum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnergySpectrum::Flat {
                energy_min_kev,
                energy_max_kev,
            } => write!(f, "flat:{energy_min_kev},{energy_max_kev}"),
            EnergySpectrum::Listed { path } => write!(f, "{}", path.display()),
        }
    }
}

/// A spectrum ready to sample: the points of a piecewise-linear density and its cumulative
/// integral at each point.
#[derive(Debug, Clone, PartialEq)]
pub struct SpectrumSampler {
    energies_kev: Vec<f64>,
    weights: Vec<f64>,
    cdf: Vec<f64>,
}

impl SpectrumSampler {
    /// Checks and prepares a spectrum (reads the CSV of a listed one).
    ///
    /// # Errors
    /// [`Error::Config`] for a flat spectrum with negative, non-finite or inverted bounds or a zero
    /// upper bound; for a listed one, I/O errors and `file:line: expected ..., found ...` for a
    /// missing header, a malformed number, a negative weight, energies not strictly increasing or
    /// not positive, all weights zero, or no rows.
    pub fn new(spectrum: &EnergySpectrum) -> Result<Self> {
        match spectrum {
            EnergySpectrum::Flat {
                energy_min_kev: lo,
                energy_max_kev: hi,
            } => {
                if !(lo.is_finite() && hi.is_finite() && *lo >= 0.0 && hi >= lo && *hi > 0.0) {
                    return Err(Error::Config(format!(
                        "flat energy spectrum: expected 0 <= min <= max, max > 0 (keV), found [{lo}, {hi}]"
                    )));
                }
                Ok(Self::from_points(vec![*lo, *hi], vec![1.0, 1.0]))
            }
            EnergySpectrum::Listed { path } => {
                let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
                Self::parse_csv(&bytes, path)
            }
        }
    }

    /// Parses a listed spectrum (`energy_kev,weight`); `label` names it in errors.
    ///
    /// # Errors
    /// As [`SpectrumSampler::new`].
    pub fn parse_csv(bytes: &[u8], label: &Path) -> Result<Self> {
        let mut rdr = csv::ReaderBuilder::new().from_reader(bytes);
        let h = rdr
            .headers()
            .map_err(|e| Error::parse(label, 1, "a CSV header energy_kev,weight", e.to_string()))?
            .clone();
        let names: Vec<&str> = h.iter().map(str::trim).collect();
        if names != ["energy_kev", "weight"] {
            return Err(Error::parse(
                label,
                1,
                "the header energy_kev,weight",
                names.join(","),
            ));
        }
        let (mut es, mut ws) = (Vec::new(), Vec::new());
        for rec in rdr.records() {
            let rec = rec.map_err(|e| {
                Error::parse(
                    label,
                    e.position().map_or(0, |p| p.line()),
                    "2 fields energy_kev,weight",
                    e.to_string(),
                )
            })?;
            let line = rec.position().map_or(0, |p| p.line());
            let num = |k: usize, what: &str| -> Result<f64> {
                let f = rec.get(k).unwrap_or("").trim();
                f.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| Error::parse(label, line, what.to_string(), format!("`{f}`")))
            };
            let e = num(0, "a finite energy_kev (keV)")?;
            let w = num(1, "a finite weight")?;
            if e <= 0.0 || es.last().is_some_and(|&p| e <= p) {
                return Err(Error::parse(
                    label,
                    line,
                    format!(
                        "a positive energy_kev above the previous row's ({})",
                        es.last().map_or("none".into(), |p: &f64| p.to_string())
                    ),
                    format!("`{e}`"),
                ));
            }
            if w < 0.0 {
                return Err(Error::parse(label, line, "a weight >= 0", format!("`{w}`")));
            }
            es.push(e);
            ws.push(w);
        }
        match es.len() {
            0 => Err(Error::parse(
                label,
                2,
                "at least one row energy_kev,weight",
                "no rows",
            )),
            1 if ws[0] > 0.0 => Ok(Self::from_points(vec![es[0], es[0]], vec![1.0, 1.0])),
            _ => {
                let s = Self::from_points(es, ws);
                if s.cdf.last().copied().unwrap_or(0.0) > 0.0 {
                    Ok(s)
                } else {
                    Err(Error::parse(
                        label,
                        2,
                        "a positive weight somewhere (rows spanning a positive integral)",
                        "all weights zero",
                    ))
                }
            }
        }
    }

    fn from_points(energies_kev: Vec<f64>, weights: Vec<f64>) -> Self {
        let mut cdf = vec![0.0];
        for i in 1..energies_kev.len() {
            let a = 0.5 * (weights[i - 1] + weights[i]) * (energies_kev[i] - energies_kev[i - 1]);
            cdf.push(cdf[i - 1] + a);
        }
        Self {
            energies_kev,
            weights,
            cdf,
        }
    }

    /// Smallest and largest energy (keV).
    pub fn range_kev(&self) -> (f64, f64) {
        (
            self.energies_kev[0],
            self.energies_kev[self.energies_kev.len() - 1],
        )
    }

    /// Draws one energy (keV) with one uniform number: the inverse of the piecewise-quadratic CDF.
    /// A zero-width spectrum gives its energy; a flat one gives values in `(min, max]`.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let (lo, hi) = self.range_kev();
        let total = self.cdf[self.cdf.len() - 1];
        // 1 - U lies in (0, 1]: never the lower edge (which may be 0 keV).
        let u = (1.0 - rng.random::<f64>()) * total;
        if total <= 0.0 || hi <= lo {
            return hi;
        }
        let k = self
            .cdf
            .partition_point(|&c| c < u)
            .clamp(1, self.cdf.len() - 1);
        let (e0, e1) = (self.energies_kev[k - 1], self.energies_kev[k]);
        let (w0, w1) = (self.weights[k - 1], self.weights[k]);
        let area = self.cdf[k] - self.cdf[k - 1];
        let v = ((u - self.cdf[k - 1]) / area).clamp(0.0, 1.0);
        // Density w0 + (w1 - w0) t on t in [0, 1]; its integral to t over the whole is v.
        let dw = w1 - w0;
        let t = if dw.abs() <= 1e-12 * (w0 + w1) {
            v
        } else {
            let s = 0.5 * (w0 + w1) * v;
            ((w0 * w0 + 2.0 * dw * s).max(0.0).sqrt() - w0) / dw
        };
        e0 + (e1 - e0) * t.clamp(0.0, 1.0)
    }
}

/// The energy front end of `create-fake` (`[energy]` of its configuration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnergyConfig {
    /// NEST yield model: `beta`, `gamma_ray` (gamma), `er_weighted` (er), `nr`.
    pub interaction: Interaction,
    /// The spectrum the energy of each event is drawn from.
    pub spectrum: EnergySpectrum,
    /// Drift field, uniform (V/cm).
    pub field_v_per_cm: f64,
    /// Liquid-xenon density (g/cm^3), 2.862 by default.
    #[serde(default = "default_density")]
    pub density_g_per_cm3: f64,
    /// NEST model parameters (NEST v2.4.5 defaults).
    #[serde(default)]
    pub nest: NestModel,
}

fn default_density() -> f64 {
    DEFAULT_DENSITY_G_PER_CM3
}

/// The recoil type written for an interaction: NR for [`Interaction::Nr`], else ER.
pub fn recoil_type_of(interaction: Interaction) -> RecoilType {
    if interaction.is_electron_recoil() {
        RecoilType::Er
    } else {
        RecoilType::Nr
    }
}

/// Checks field and density.
fn check_medium(field_v_per_cm: f64, density_g_per_cm3: f64) -> Result<()> {
    if !(field_v_per_cm.is_finite() && field_v_per_cm > 0.0) {
        return Err(Error::Config(format!(
            "field_v_per_cm: expected a finite positive field, found {field_v_per_cm}"
        )));
    }
    if !(density_g_per_cm3.is_finite() && density_g_per_cm3 > 0.0) {
        return Err(Error::Config(format!(
            "density_g_per_cm3: expected a finite positive density, found {density_g_per_cm3}"
        )));
    }
    Ok(())
}

/// Photons and electrons of one deposit: NEST quanta at `energy_kev`; zero below 0 keV.
fn deposit_quanta<R: Rng + ?Sized>(
    nest: &NestModel,
    interaction: Interaction,
    energy_kev: f64,
    field_v_per_cm: f64,
    density_g_per_cm3: f64,
    rng: &mut R,
) -> Result<(u64, u64, Option<i64>)> {
    if energy_kev <= 0.0 {
        return Ok((0, 0, Some(0)));
    }
    let (_, q) = nest.quanta(
        interaction,
        energy_kev,
        field_v_per_cm,
        density_g_per_cm3,
        rng,
    )?;
    Ok((q.photons, q.electrons, i64::try_from(q.excitons).ok()))
}

/// A prepared energy front end (the spectrum read once).
#[derive(Debug, Clone)]
pub struct EnergyFrontEnd {
    cfg: EnergyConfig,
    sampler: SpectrumSampler,
}

impl EnergyFrontEnd {
    /// Checks the configuration and prepares the spectrum.
    ///
    /// # Errors
    /// As [`SpectrumSampler::new`]; [`Error::Config`] for a non-positive field or density.
    pub fn new(cfg: &EnergyConfig) -> Result<Self> {
        check_medium(cfg.field_v_per_cm, cfg.density_g_per_cm3)?;
        Ok(Self {
            cfg: cfg.clone(),
            sampler: SpectrumSampler::new(&cfg.spectrum)?,
        })
    }

    /// The recoil type of the rows.
    pub fn recoil_type(&self) -> RecoilType {
        recoil_type_of(self.cfg.interaction)
    }

    /// Draws an energy (keV) and its quanta: `(energy_kev, photons, electrons, excitons)`.
    ///
    /// # Errors
    /// NEST's errors (e.g. 83mKr outside its lines).
    pub fn draw<R: Rng + ?Sized>(&self, rng: &mut R) -> Result<(f64, u64, u64, Option<i64>)> {
        let e = self.sampler.sample(rng);
        let (p, el, ex) = deposit_quanta(
            &self.cfg.nest,
            self.cfg.interaction,
            e,
            self.cfg.field_v_per_cm,
            self.cfg.density_g_per_cm3,
            rng,
        )?;
        Ok((e, p, el, ex))
    }

    /// The drift field (V/cm).
    pub fn field_v_per_cm(&self) -> f64 {
        self.cfg.field_v_per_cm
    }
}
