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
use crate::instructions::{Instruction, RecoilType};
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
    /// Drift field (V/cm): everywhere, or where `field_map` gives none.
    pub field_v_per_cm: f64,
    /// Optional map of the drift field (V/cm) in pax's interpolating-map format (JSON, or gzipped
    /// JSON ending in `.gz`; a path or `builtin:<file>`), evaluated at each event's position by
    /// inverse-distance weighting of the nearest points, as pax evaluates its maps. The first value
    /// list of the map (in name order) is used; its coordinates are, by dimension: 0-D a
    /// constant, 1-D `(z)`, 2-D `(r, z)`, 3-D `(x, y, z)`, in cm with z = -depth (negative below
    /// the gate). When set, `field_v_per_cm` is not used.
    #[serde(default)]
    pub field_map: Option<String>,
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
    field_map: Option<std::sync::Arc<crate::maps::InterpMap>>,
}

impl EnergyFrontEnd {
    /// Checks the configuration and prepares the spectrum.
    ///
    /// # Errors
    /// As [`SpectrumSampler::new`]; [`Error::Config`] for a non-positive field or density; the
    /// map errors of [`crate::maps::InterpMap::from_source`] for a field map that cannot be read.
    pub fn new(cfg: &EnergyConfig) -> Result<Self> {
        check_medium(cfg.field_v_per_cm, cfg.density_g_per_cm3)?;
        let field_map = match &cfg.field_map {
            None => None,
            Some(source) => Some(
                crate::maps::InterpMap::from_source(source)?
                    .ok_or_else(|| Error::Config(format!("field_map: `{source}` names no map")))?,
            ),
        };
        Ok(Self {
            cfg: cfg.clone(),
            sampler: SpectrumSampler::new(&cfg.spectrum)?,
            field_map: field_map.map(std::sync::Arc::new),
        })
    }

    /// The drift field (V/cm) at `(x, y)` (cm) and `depth` (cm below the gate): the field map's
    /// value there, or the uniform `field_v_per_cm`.
    ///
    /// # Errors
    /// [`Error::Config`] if the map gives a field that is not finite and positive there.
    pub fn field_at(&self, x: f64, y: f64, depth: f64) -> Result<f64> {
        let Some(map) = &self.field_map else {
            return Ok(self.cfg.field_v_per_cm);
        };
        let z = -depth;
        let f = match map.dims() {
            0 => map.value(0, &[]),
            1 => map.value(0, &[z]),
            2 => map.value(0, &[x.hypot(y), z]),
            _ => map.value(0, &[x, y, z]),
        };
        if f.is_finite() && f > 0.0 {
            Ok(f)
        } else {
            Err(Error::Config(format!(
                "field map {}: expected a positive field at x = {x} cm, y = {y} cm, z = {z} cm, \
                 found {f} V/cm",
                map.label().display()
            )))
        }
    }

    /// The recoil type of the rows.
    pub fn recoil_type(&self) -> RecoilType {
        recoil_type_of(self.cfg.interaction)
    }

    /// Draws an energy (keV) and its quanta at the drift field `field_v_per_cm` (V/cm, see
    /// [`EnergyFrontEnd::field_at`]): `(energy_kev, photons, electrons, excitons)`.
    ///
    /// # Errors
    /// NEST's errors (e.g. 83mKr outside its lines).
    pub fn draw<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        field_v_per_cm: f64,
    ) -> Result<(f64, u64, u64, Option<i64>)> {
        let e = self.sampler.sample(rng);
        let (p, el, ex) = deposit_quanta(
            &self.cfg.nest,
            self.cfg.interaction,
            e,
            field_v_per_cm,
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

// ---------------------------------------------------------------------------------------------
// from-deposits
// ---------------------------------------------------------------------------------------------

/// One energy deposit of a `from-deposits` table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Deposit {
    /// Event number (the instruction group of its rows).
    pub event: i64,
    /// x (cm).
    pub x_cm: f64,
    /// y (cm).
    pub y_cm: f64,
    /// z (cm; pax's convention: negative below the gate, depth = -z).
    pub z_cm: f64,
    /// Time (ns) since the start of the event.
    pub t_ns: f64,
    /// Deposited energy (keV, >= 0).
    pub energy_kev: f64,
    /// NEST yield model of the deposit.
    pub interaction: Interaction,
}

/// The columns of a deposit table, in the order read.
pub const DEPOSIT_COLUMNS: [&str; 7] = ["event", "x", "y", "z", "t", "edep_keV", "interaction"];

fn parse_interaction(s: &str) -> Option<Interaction> {
    match s.trim().parse::<Interaction>() {
        Ok(i) if i != Interaction::Kr83m => Some(i),
        _ => None,
    }
}

const INTERACTION_EXPECTED: &str = "an interaction beta, gamma, er or nr";

fn check_deposit(d: &Deposit, label: &Path, line: u64) -> Result<()> {
    let vals = [d.x_cm, d.y_cm, d.z_cm, d.t_ns, d.energy_kev];
    if vals.iter().any(|v| !v.is_finite()) {
        return Err(Error::parse(
            label,
            line,
            "finite x, y, z, t and edep_keV",
            format!("{vals:?}"),
        ));
    }
    if d.energy_kev < 0.0 {
        return Err(Error::parse(
            label,
            line,
            "edep_keV >= 0",
            format!("`{}`", d.energy_kev),
        ));
    }
    Ok(())
}

/// Reads a deposit table: Parquet when the name ends in `.parquet`, else CSV with a header. The
/// columns `event, x, y, z, t, edep_keV, interaction` are found by name (any case, any order,
/// other columns ignored): event an integer, x, y, z in cm (z negative below the gate), t in ns,
/// edep_keV in keV, interaction one of `beta`, `gamma` (`gamma_ray`), `er` (`er_weighted`), `nr`.
///
/// # Errors
/// I/O and Parquet errors naming the file; `file:line: expected ..., found ...` for a missing
/// column (line 1), a malformed number or interaction, a non-finite value or a negative energy.
/// In a Parquet table, row `i` (from 0) is reported as line `i + 2`, as if it had a header.
pub fn read_deposits(path: &Path) -> Result<Vec<Deposit>> {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
    {
        return read_deposits_parquet(path);
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_deposits_csv(&bytes, path)
}

/// Parses a CSV deposit table; `label` names it in errors. See [`read_deposits`].
///
/// # Errors
/// As [`read_deposits`].
pub fn parse_deposits_csv(bytes: &[u8], label: &Path) -> Result<Vec<Deposit>> {
    let mut rdr = csv::ReaderBuilder::new().from_reader(bytes);
    let h = rdr
        .headers()
        .map_err(|e| Error::parse(label, 1, "a CSV header", e.to_string()))?
        .clone();
    let names: Vec<&str> = h.iter().map(str::trim).collect();
    let mut idx = [0usize; 7];
    for (k, c) in DEPOSIT_COLUMNS.iter().enumerate() {
        idx[k] = names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(c))
            .ok_or_else(|| {
                Error::parse(
                    label,
                    1,
                    format!("a column `{c}` (event,x,y,z,t,edep_keV,interaction)"),
                    h.iter().collect::<Vec<_>>().join(","),
                )
            })?;
    }
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            Error::parse(
                label,
                e.position().map_or(0, |p| p.line()),
                format!("{} fields", h.len()),
                e.to_string(),
            )
        })?;
        let line = rec.position().map_or(0, |p| p.line());
        let field = |k: usize| rec.get(idx[k]).unwrap_or("").trim();
        let num = |k: usize, unit: &str| -> Result<f64> {
            let f = field(k);
            f.parse::<f64>().map_err(|_| {
                Error::parse(
                    label,
                    line,
                    format!("a number in `{}` ({unit})", DEPOSIT_COLUMNS[k]),
                    format!("`{f}`"),
                )
            })
        };
        let ev = field(0);
        let event = ev
            .parse::<i64>()
            .map_err(|_| Error::parse(label, line, "an integer in `event`", format!("`{ev}`")))?;
        let it = field(6);
        let interaction = parse_interaction(it)
            .ok_or_else(|| Error::parse(label, line, INTERACTION_EXPECTED, format!("`{it}`")))?;
        let d = Deposit {
            event,
            x_cm: num(1, "cm")?,
            y_cm: num(2, "cm")?,
            z_cm: num(3, "cm")?,
            t_ns: num(4, "ns")?,
            energy_kev: num(5, "keV")?,
            interaction,
        };
        check_deposit(&d, label, line)?;
        out.push(d);
    }
    Ok(out)
}

fn read_deposits_parquet(path: &Path) -> Result<Vec<Deposit>> {
    use arrow_array::{Array, Float32Array, Float64Array, Int32Array, Int64Array};
    use arrow_array::{LargeStringArray, StringArray};
    let b = hep_core::io::read_parquet_table(path)?;
    let col = |name: &str| {
        let found = b
            .schema()
            .fields()
            .iter()
            .position(|f| f.name().eq_ignore_ascii_case(name));
        found.map(|i| b.column(i).clone()).ok_or_else(|| {
            Error::parse(
                path,
                1,
                format!("a column `{name}` (event,x,y,z,t,edep_keV,interaction)"),
                b.schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            )
        })
    };
    let n = b.num_rows();
    let mut nums: Vec<Vec<f64>> = Vec::new();
    for name in &DEPOSIT_COLUMNS[..6] {
        let a = col(name)?;
        let any = a.as_any();
        let get = |i: usize| -> f64 {
            if a.is_null(i) {
                f64::NAN
            } else if let Some(a) = any.downcast_ref::<Float64Array>() {
                a.value(i)
            } else if let Some(a) = any.downcast_ref::<Float32Array>() {
                f64::from(a.value(i))
            } else if let Some(a) = any.downcast_ref::<Int64Array>() {
                a.value(i) as f64
            } else if let Some(a) = any.downcast_ref::<Int32Array>() {
                f64::from(a.value(i))
            } else {
                f64::NAN
            }
        };
        let numeric = any.is::<Float64Array>()
            || any.is::<Float32Array>()
            || any.is::<Int64Array>()
            || any.is::<Int32Array>();
        if !numeric {
            return Err(Error::parse(
                path,
                1,
                format!("a numeric column `{name}`"),
                format!("type {}", a.data_type()),
            ));
        }
        nums.push((0..n).map(get).collect());
    }
    let it = col("interaction")?;
    let strs: Vec<Option<String>> = if let Some(s) = it.as_any().downcast_ref::<StringArray>() {
        s.iter().map(|v| v.map(str::to_string)).collect()
    } else if let Some(s) = it.as_any().downcast_ref::<LargeStringArray>() {
        s.iter().map(|v| v.map(str::to_string)).collect()
    } else {
        return Err(Error::parse(
            path,
            1,
            "a string column `interaction`",
            format!("type {}", it.data_type()),
        ));
    };
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let line = i as u64 + 2;
        let ev = nums[0][i];
        if !(ev.is_finite() && ev.fract() == 0.0) {
            return Err(Error::parse(
                path,
                line,
                "an integer in `event`",
                format!("`{ev}`"),
            ));
        }
        let s = strs[i].as_deref().unwrap_or("");
        let interaction = parse_interaction(s)
            .ok_or_else(|| Error::parse(path, line, INTERACTION_EXPECTED, format!("`{s}`")))?;
        let d = Deposit {
            event: ev as i64,
            x_cm: nums[1][i],
            y_cm: nums[2][i],
            z_cm: nums[3][i],
            t_ns: nums[4][i],
            energy_kev: nums[5][i],
            interaction,
        };
        check_deposit(&d, path, line)?;
        out.push(d);
    }
    Ok(out)
}

/// Configuration of `fax-sim from-deposits`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FromDepositsConfig {
    /// Master seed; the clusters of event `e` draw their quanta from
    /// `hep_core::rng::stream(seed, e as u64)`, in time order.
    pub seed: u64,
    /// Deposits at most this far apart (cm) join a cluster (single linkage, as epix's DBSCAN
    /// with `min_samples = 1`); epix's `micro_separation` default 0.005.
    pub micro_separation_cm: f64,
    /// Deposits of an event sorted in time start a new time group after a gap larger than this
    /// (ns), epix's `micro_separation_time` default 10.
    pub micro_separation_time_ns: f64,
    /// Drift field, uniform (V/cm); 120 (XENON1T SR0).
    pub field_v_per_cm: f64,
    /// Liquid-xenon density (g/cm^3), 2.862.
    pub density_g_per_cm3: f64,
    /// NEST model parameters (NEST v2.4.5 defaults).
    pub nest: NestModel,
}

impl Default for FromDepositsConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            micro_separation_cm: 0.005,
            micro_separation_time_ns: 10.0,
            field_v_per_cm: 120.0,
            density_g_per_cm3: DEFAULT_DENSITY_G_PER_CM3,
            nest: NestModel::default(),
        }
    }
}

/// One cluster of deposits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cluster {
    /// Event number.
    pub event: i64,
    /// Energy-weighted x (cm).
    pub x_cm: f64,
    /// Energy-weighted y (cm).
    pub y_cm: f64,
    /// Energy-weighted z (cm, negative below the gate).
    pub z_cm: f64,
    /// Energy-weighted time (ns).
    pub t_ns: f64,
    /// Summed energy (keV).
    pub energy_kev: f64,
    /// The interaction of the cluster's largest deposit (the first of equal ones).
    pub interaction: Interaction,
    /// Deposits merged.
    pub n_deposits: usize,
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// Clusters deposits per event as epix (`XENONnT/epix`, `epix/clustering.py`): per event the
/// deposits are sorted by time and split where consecutive times differ by more than
/// `micro_separation_time_ns` (`simple_1d_clustering`); within each time group, deposits at most
/// `micro_separation_cm` apart are joined transitively (`_find_cluster`: DBSCAN, `min_samples =
/// 1`); a cluster has the energy-weighted position and time and the summed energy (`cluster`).
/// Clusters with zero summed energy are dropped (they have no quanta and no weighted position).
///
/// Returned ordered by event number, then by time group, then by the cluster's first deposit in
/// time.
///
/// # Errors
/// [`Error::Config`] for a negative or non-finite separation.
pub fn cluster_deposits(deposits: &[Deposit], cfg: &FromDepositsConfig) -> Result<Vec<Cluster>> {
    let (ds, dt) = (cfg.micro_separation_cm, cfg.micro_separation_time_ns);
    if !(ds.is_finite() && ds >= 0.0 && dt.is_finite() && dt >= 0.0) {
        return Err(Error::Config(format!(
            "micro_separation_cm and micro_separation_time_ns: expected finite values >= 0, found {ds} cm, {dt} ns"
        )));
    }
    let mut by_event: std::collections::BTreeMap<i64, Vec<usize>> = Default::default();
    for (i, d) in deposits.iter().enumerate() {
        by_event.entry(d.event).or_default().push(i);
    }
    let mut out = Vec::new();
    for (event, mut idx) in by_event {
        idx.sort_by(|&a, &b| deposits[a].t_ns.total_cmp(&deposits[b].t_ns));
        let mut start = 0;
        while start < idx.len() {
            let mut end = start + 1;
            while end < idx.len() && deposits[idx[end]].t_ns - deposits[idx[end - 1]].t_ns <= dt {
                end += 1;
            }
            let group = &idx[start..end];
            // Single-linkage in space: a sweep along x, pairs within ds joined.
            let m = group.len();
            let mut parent: Vec<usize> = (0..m).collect();
            let mut by_x: Vec<usize> = (0..m).collect();
            by_x.sort_by(|&a, &b| deposits[group[a]].x_cm.total_cmp(&deposits[group[b]].x_cm));
            for (p, &a) in by_x.iter().enumerate() {
                let da = &deposits[group[a]];
                for &b in &by_x[p + 1..] {
                    let db = &deposits[group[b]];
                    if db.x_cm - da.x_cm > ds {
                        break;
                    }
                    let d2 = (db.x_cm - da.x_cm).powi(2)
                        + (db.y_cm - da.y_cm).powi(2)
                        + (db.z_cm - da.z_cm).powi(2);
                    if d2 <= ds * ds {
                        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
                        if ra != rb {
                            parent[ra.max(rb)] = ra.min(rb);
                        }
                    }
                }
            }
            // Clusters in order of their first deposit in time.
            let mut slot: Vec<Option<usize>> = vec![None; m];
            let mut members: Vec<Vec<usize>> = Vec::new();
            for (k, &g) in group.iter().enumerate() {
                let r = find(&mut parent, k);
                match slot[r] {
                    Some(p) => members[p].push(g),
                    None => {
                        slot[r] = Some(members.len());
                        members.push(vec![g]);
                    }
                }
            }
            for mem in members {
                let e: f64 = mem.iter().map(|&i| deposits[i].energy_kev).sum();
                if e <= 0.0 {
                    continue;
                }
                let w = |f: fn(&Deposit) -> f64| {
                    mem.iter()
                        .map(|&i| f(&deposits[i]) * deposits[i].energy_kev)
                        .sum::<f64>()
                        / e
                };
                let main = mem.iter().copied().fold(mem[0], |best, i| {
                    if deposits[i].energy_kev > deposits[best].energy_kev {
                        i
                    } else {
                        best
                    }
                });
                out.push(Cluster {
                    event,
                    x_cm: w(|d| d.x_cm),
                    y_cm: w(|d| d.y_cm),
                    z_cm: w(|d| d.z_cm),
                    t_ns: w(|d| d.t_ns),
                    energy_kev: e,
                    interaction: deposits[main].interaction,
                    n_deposits: mem.len(),
                });
            }
            start = end;
        }
    }
    Ok(out)
}

/// `from-deposits`: clusters ([`cluster_deposits`]) and one instruction row per cluster with
/// `instruction = event`, `depth = -z` (the instruction's depth is positive below the gate), x, y
/// and t of the cluster, S1 photons and S2 electrons one draw of [`NestModel::quanta`] of the
/// cluster's energy and interaction at the configured field, recoil type NR for `nr` and ER
/// otherwise, and `e_dep_kev`, `local_field_v_per_cm`, `n_excitons` filled in.
///
/// # Errors
/// Those of [`cluster_deposits`]; [`Error::Config`] for a non-positive field or density; NEST's.
pub fn from_deposits(deposits: &[Deposit], cfg: &FromDepositsConfig) -> Result<Vec<Instruction>> {
    check_medium(cfg.field_v_per_cm, cfg.density_g_per_cm3)?;
    let clusters = cluster_deposits(deposits, cfg)?;
    let mut out = Vec::with_capacity(clusters.len());
    let mut k = 0;
    while k < clusters.len() {
        let event = clusters[k].event;
        let mut rng = hep_core::rng::stream(cfg.seed, event as u64);
        while k < clusters.len() && clusters[k].event == event {
            let c = &clusters[k];
            let (p, el, ex) = deposit_quanta(
                &cfg.nest,
                c.interaction,
                c.energy_kev,
                cfg.field_v_per_cm,
                cfg.density_g_per_cm3,
                &mut rng,
            )?;
            let mut r = Instruction::new(
                event,
                recoil_type_of(c.interaction),
                Some(c.x_cm),
                Some(c.y_cm),
                Some(-c.z_cm),
                p,
                el,
                c.t_ns,
            );
            r.e_dep_kev = Some(c.energy_kev);
            r.local_field_v_per_cm = Some(cfg.field_v_per_cm);
            r.n_excitons = ex;
            out.push(r);
            k += 1;
        }
    }
    Ok(out)
}
