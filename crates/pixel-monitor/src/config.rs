//! Configuration pieces shared by the jobs: the compatibility switches, the bounded look-backs,
//! the sensor-temperature model, and the pp inelastic cross-section per fill range.
//!
//! Every job's configuration (see [`crate::jobs`]) is a serde struct with
//! `#[serde(deny_unknown_fields, default)]`, so a TOML file needs only the keys it changes and a
//! misspelt key is an error.
//!
//! # Compatibility switches
//!
//! The original PixelMonitoring scripts have known defects. Each is corrected by default and
//! reproduced by one named switch of [`Compat`] (`--compat all` or `--compat name,name` on the
//! command line, `[compat]` in TOML):
//!
//! | switch | the original's behaviour |
//! |---|---|
//! | `lexicographic_fills` | brilcalc luminosity grouped by the fill number as a string, so fill 10000 sorts before 9999 and the cumulative luminosity is wrong from then on (`get_integrated_luminosity.py`) |
//! | `run3_fill_range` | the pp cross-section is known only up to fill 9318 (`eraUtils.get_fills_for_era`), later fills are an error |
//! | `rog_fluence_sum` | the readout-group "average" fluence is the sum over its modules (`modules.ReadoutGroup.getAverageFluence`), also in the fluence heating of the sensor temperature |
//! | `unbounded_lookback` | the temperature (−10 h steps), HV (−5 h) and leakage-current (−1 h) searches go back in time without limit; here they go back to the start of the data |
//! | `local_time` | profile timestamps (and annealing-day keys) are the epoch of the naive UTC wall time read in the host's local zone |
//! | `current_label` | the profile header calls the current column `Leakage_current [mA/cm2]`; it holds the raw HV current in µA |
//! | `short_fill_gap` | a fill (or interfill) shorter than its delay gets no profile row, leaving a hole in the timeline |
//! | `window_rate` | a profile fill row's fluence rate is the luminosity of its measurement window (which ends up to 300 s before the row does) divided by that window's length, so the profile's fluence does not add up to the delivered luminosity |
//! | `tref_kelvin` | `plot_currents.py -tref` is taken as kelvin, not °C |
//! | `fluka_th2f` | the FLUKA field is stored in float32 (`TH2F`) and its errors land one bin off in r and z |
//! | `annealing_averaging` | the daily means of `getAnnealingTemperatures.py` with its four averaging defects |
//! | `merge_name_order` | profile fragments merged in file-name order (the original's `os.listdir` order is unspecified) instead of by first timestamp |
//! | `boltzmann_2010` | k_B = 8.6173324e-5 eV/K (CODATA 2010) instead of 8.617333262e-5 eV/K |

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::constants::{K_B_EV_PER_K, K_B_EV_PER_K_2010};
use crate::error::{Error, Result};

/// The compatibility switches; all `false` (corrected behaviour) by default. See the module
/// documentation for what each reproduces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Compat {
    /// Fill grouping of brilcalc luminosity in string order.
    pub lexicographic_fills: bool,
    /// Cross-section only for the upstream Run 3 fill list (up to fill 9318).
    pub run3_fill_range: bool,
    /// Readout-group fluence as the sum over modules instead of the mean.
    pub rog_fluence_sum: bool,
    /// Look-backs to the start of the data with the original's stepped windows.
    pub unbounded_lookback: bool,
    /// Profile timestamps and annealing keys as local-zone epochs of UTC wall time.
    pub local_time: bool,
    /// The original's `Leakage_current [mA/cm2]` profile header.
    pub current_label: bool,
    /// No profile rows for fills (and interfills) shorter than their delay.
    pub short_fill_gap: bool,
    /// Fill-row fluence rate from the measurement window's luminosity.
    pub window_rate: bool,
    /// `plot-currents` reference temperature in kelvin.
    pub tref_kelvin: bool,
    /// FLUKA field in float32 with errors shifted by one bin.
    pub fluka_th2f: bool,
    /// The original's daily-mean algorithm of the annealing temperatures.
    pub annealing_averaging: bool,
    /// Profile fragments merged in file-name order.
    pub merge_name_order: bool,
    /// The original's Boltzmann constant (CODATA 2010).
    pub boltzmann_2010: bool,
}

impl Compat {
    /// The names of all switches, in documentation order.
    pub const NAMES: [&'static str; 13] = [
        "lexicographic_fills",
        "run3_fill_range",
        "rog_fluence_sum",
        "unbounded_lookback",
        "local_time",
        "current_label",
        "short_fill_gap",
        "window_rate",
        "tref_kelvin",
        "fluka_th2f",
        "annealing_averaging",
        "merge_name_order",
        "boltzmann_2010",
    ];

    /// Every switch on: the original's behaviour throughout.
    pub fn all() -> Self {
        Self {
            lexicographic_fills: true,
            run3_fill_range: true,
            rog_fluence_sum: true,
            unbounded_lookback: true,
            local_time: true,
            current_label: true,
            short_fill_gap: true,
            window_rate: true,
            tref_kelvin: true,
            fluka_th2f: true,
            annealing_averaging: true,
            merge_name_order: true,
            boltzmann_2010: true,
        }
    }

    fn flag(&mut self, name: &str) -> Option<&mut bool> {
        Some(match name {
            "lexicographic_fills" => &mut self.lexicographic_fills,
            "run3_fill_range" => &mut self.run3_fill_range,
            "rog_fluence_sum" => &mut self.rog_fluence_sum,
            "unbounded_lookback" => &mut self.unbounded_lookback,
            "local_time" => &mut self.local_time,
            "current_label" => &mut self.current_label,
            "short_fill_gap" => &mut self.short_fill_gap,
            "window_rate" => &mut self.window_rate,
            "tref_kelvin" => &mut self.tref_kelvin,
            "fluka_th2f" => &mut self.fluka_th2f,
            "annealing_averaging" => &mut self.annealing_averaging,
            "merge_name_order" => &mut self.merge_name_order,
            "boltzmann_2010" => &mut self.boltzmann_2010,
            _ => return None,
        })
    }

    /// Parses a command-line list: `all`, or switch names separated by commas (an empty string
    /// gives no switch).
    ///
    /// # Errors
    /// [`Error::Config`] naming an unknown switch and listing the known ones.
    pub fn parse(list: &str) -> Result<Self> {
        let list = list.trim();
        if list == "all" {
            return Ok(Self::all());
        }
        let mut c = Self::default();
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if name == "all" {
                c = Self::all();
                continue;
            }
            *c.flag(name).ok_or_else(|| {
                Error::Config(format!(
                    "unknown compatibility switch `{name}` (expected all or any of {})",
                    Self::NAMES.join(", ")
                ))
            })? = true;
        }
        Ok(c)
    }

    /// The names of the switches that are on.
    pub fn enabled(&self) -> Vec<&'static str> {
        let mut copy = *self;
        Self::NAMES
            .iter()
            .copied()
            .filter(|n| *copy.flag(n).expect("known name"))
            .collect()
    }

    /// The Boltzmann constant (eV/K) these switches select.
    pub fn k_b(&self) -> f64 {
        if self.boltzmann_2010 {
            K_B_EV_PER_K_2010
        } else {
            K_B_EV_PER_K
        }
    }
}

/// The bounds of the searches back in time when a window holds too little data.
///
/// The original searched without limit (temperature in steps of 10 h, the HV state in steps of
/// 5 h, the profile's leakage current in steps of 1 h); a sensor that never recovers made it
/// recurse forever. Here every search stops at its bound, and every value that needed a search
/// records how far it looked (hours before the window start), so the reports can count them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Lookback {
    /// Step of the cooling-loop temperature search (h, default 10 as the original).
    pub temperature_step_h: f64,
    /// Furthest look-back of the cooling-loop temperature before the window start (h, default
    /// 240).
    pub temperature_max_h: f64,
    /// Step of the HV-state search (h, default 5 as the original).
    pub hv_step_h: f64,
    /// Furthest look-back of the HV state (h, default 720).
    pub hv_max_h: f64,
    /// Furthest look-back of the profile's leakage current (h, default 24); beyond it the row
    /// gets the NA value −999. 0 reproduces jroloff's fork, which never looks back.
    pub current_max_h: f64,
    /// Whether a readout group whose HV state is unknown within the bound counts as HV on
    /// (default `true`, the state of the detector in physics running). Each such value is
    /// counted in the reports.
    pub hv_unknown_is_on: bool,
}

impl Default for Lookback {
    fn default() -> Self {
        Self {
            temperature_step_h: 10.0,
            temperature_max_h: 240.0,
            hv_step_h: 5.0,
            hv_max_h: 720.0,
            current_max_h: 24.0,
            hv_unknown_is_on: true,
        }
    }
}

impl Lookback {
    /// Checks that steps are positive and bounds non-negative.
    ///
    /// # Errors
    /// [`Error::Config`] naming the bad value.
    pub fn validate(&self) -> Result<()> {
        for (name, v, positive) in [
            ("temperature_step_h", self.temperature_step_h, true),
            ("hv_step_h", self.hv_step_h, true),
            ("temperature_max_h", self.temperature_max_h, false),
            ("hv_max_h", self.hv_max_h, false),
            ("current_max_h", self.current_max_h, false),
        ] {
            let ok = v.is_finite() && if positive { v > 0.0 } else { v >= 0.0 };
            if !ok {
                return Err(Error::Config(format!(
                    "lookback.{name} must be {} and finite, found {v}",
                    if positive { "> 0" } else { ">= 0" }
                )));
            }
        }
        Ok(())
    }
}

/// The model of the silicon-sensor temperature from the cooling-loop temperature
/// (PixelMonitoring `src/temperatures/helpers.py`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TemperatureModel {
    /// Self-heating of layers 1 to 3 with HV on (K, default 3).
    pub self_heating_l123_k: f64,
    /// Self-heating of layer 4 with HV on (K, default 4).
    pub self_heating_l4_k: f64,
    /// Heating by the particle flux with HV on (K per n_eq cm⁻² s⁻¹, default 3e-8), applied to
    /// fill rows of the radiation profile.
    pub fluence_heating_k_per_rate: f64,
    /// Cooling-loop readings above this are faulty and skipped (°C, default 40).
    pub faulty_above_c: f64,
}

impl Default for TemperatureModel {
    fn default() -> Self {
        Self {
            self_heating_l123_k: 3.0,
            self_heating_l4_k: 4.0,
            fluence_heating_k_per_rate: 3e-8,
            faulty_above_c: 40.0,
        }
    }
}

impl TemperatureModel {
    /// The self-heating (K) of a readout group of `layer` (1 to 4) with HV on.
    pub fn self_heating_k(&self, layer: u8) -> f64 {
        if layer == 4 {
            self.self_heating_l4_k
        } else {
            self.self_heating_l123_k
        }
    }
}

/// One fill range with its pp inelastic cross-section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Era {
    /// Label (a year, e.g. `"2024"`).
    pub name: String,
    /// First fill of the range (inclusive).
    pub first_fill: u32,
    /// Last fill of the range (inclusive).
    pub last_fill: u32,
    /// LHC run (2 or 3).
    pub run: u8,
    /// pp inelastic cross-section (mb).
    pub sigma_mb: f64,
}

/// The pp inelastic cross-section per fill range: the table shipped with the crate
/// (`data/cross_sections.toml`, Run 2 and Run 3 up to 2026) or one read from a TOML file with
/// the same `[[era]]` layout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrossSections {
    /// The ranges, in any order, not overlapping.
    pub era: Vec<Era>,
}

/// The shipped cross-section table.
const CROSS_SECTIONS_TOML: &str = include_str!("../data/cross_sections.toml");

/// Last fill of the upstream Run 3 list (`fills_2022 = range(7920, 9319)` in PixelMonitoring
/// `src/utils/eraUtils.py`).
pub const UPSTREAM_LAST_RUN3_FILL: u32 = 9318;

impl Default for CrossSections {
    fn default() -> Self {
        Self::parse(CROSS_SECTIONS_TOML, Path::new("data/cross_sections.toml"))
            .expect("the shipped cross-section table is valid")
    }
}

impl CrossSections {
    /// Parses and checks a TOML table (`path` names it in errors).
    ///
    /// # Errors
    /// [`Error::Config`] for invalid TOML, a range with first > last, a non-positive
    /// cross-section, or overlapping ranges.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let t: Self =
            toml::from_str(text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        t.validate()
            .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        Ok(t)
    }

    /// Reads a TOML table from `path`.
    ///
    /// # Errors
    /// [`Error::Core`] (I/O) if it cannot be read, otherwise as [`CrossSections::parse`].
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text, path)
    }

    /// The shipped table, or the one at `path`.
    ///
    /// # Errors
    /// As [`CrossSections::read`].
    pub fn load(path: Option<&Path>) -> Result<Self> {
        match path {
            Some(p) => Self::read(p),
            None => Ok(Self::default()),
        }
    }

    fn validate(&self) -> Result<()> {
        let mut ranges: BTreeMap<u32, &Era> = BTreeMap::new();
        for e in &self.era {
            if e.first_fill > e.last_fill || !(e.sigma_mb > 0.0) || !e.sigma_mb.is_finite() {
                return Err(Error::Config(format!(
                    "era {}: expected first_fill <= last_fill and sigma_mb > 0, found {}..{} and {} mb",
                    e.name, e.first_fill, e.last_fill, e.sigma_mb
                )));
            }
            ranges.insert(e.first_fill, e);
        }
        let mut prev: Option<&Era> = None;
        for e in ranges.values() {
            if let Some(p) = prev
                && e.first_fill <= p.last_fill
            {
                return Err(Error::Config(format!(
                    "eras {} and {} overlap",
                    p.name, e.name
                )));
            }
            prev = Some(e);
        }
        Ok(())
    }

    /// The era holding `fill`, if any.
    pub fn era(&self, fill: u32) -> Option<&Era> {
        self.era
            .iter()
            .find(|e| e.first_fill <= fill && fill <= e.last_fill)
    }

    /// The pp inelastic cross-section (mb) of `fill`. With `compat.run3_fill_range`, Run 3 fills
    /// after fill 9318 have none, as in the original.
    ///
    /// # Errors
    /// [`Error::Data`] for a fill outside every range ("Fill number outside of valid range").
    pub fn sigma_mb(&self, fill: u32, compat: &Compat) -> Result<f64> {
        let era = self
            .era(fill)
            .filter(|e| !(compat.run3_fill_range && e.run >= 3 && fill > UPSTREAM_LAST_RUN3_FILL));
        era.map(|e| e.sigma_mb).ok_or_else(|| {
            Error::Data(format!(
                "fill {fill}: no pp cross-section (fill number outside of the valid ranges{})",
                if compat.run3_fill_range {
                    "; the run3_fill_range compatibility switch ends Run 3 at fill 9318"
                } else {
                    ""
                }
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compat_parse() {
        assert_eq!(Compat::parse("all").unwrap(), Compat::all());
        let c = Compat::parse("local_time, rog_fluence_sum").unwrap();
        assert!(c.local_time && c.rog_fluence_sum && !c.fluka_th2f);
        assert_eq!(c.enabled(), vec!["rog_fluence_sum", "local_time"]);
        assert_eq!(Compat::parse("").unwrap(), Compat::default());
        let e = Compat::parse("local_tme").unwrap_err().to_string();
        assert!(
            e.contains("local_tme") && e.contains("boltzmann_2010"),
            "{e}"
        );
        assert_eq!(Compat::all().enabled().len(), Compat::NAMES.len());
    }

    #[test]
    fn cross_sections() {
        let t = CrossSections::default();
        let c = Compat::default();
        assert_eq!(t.sigma_mb(6500, &c).unwrap(), 79.1);
        assert_eq!(t.sigma_mb(8000, &c).unwrap(), 80.0);
        assert_eq!(t.sigma_mb(10_500, &c).unwrap(), 80.0);
        assert!(t.sigma_mb(3000, &c).is_err());
        let compat = Compat {
            run3_fill_range: true,
            ..Compat::default()
        };
        assert_eq!(t.sigma_mb(9318, &compat).unwrap(), 80.0);
        assert!(t.sigma_mb(9319, &compat).is_err());
        assert_eq!(t.sigma_mb(6500, &compat).unwrap(), 79.1);
        let bad = "[[era]]\nname='a'\nfirst_fill=1\nlast_fill=10\nrun=2\nsigma_mb=79.1\n\
                   [[era]]\nname='b'\nfirst_fill=10\nlast_fill=20\nrun=2\nsigma_mb=79.1\n";
        assert!(CrossSections::parse(bad, Path::new("x.toml")).is_err());
    }
}
