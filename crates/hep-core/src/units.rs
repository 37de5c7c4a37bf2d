//! Units and unit-safe quantities.
//!
//! # Unit constants
//!
//! The constants follow the CLHEP/Geant4 system of units (CLHEP `Units/SystemOfUnits.h`): the
//! base units are the millimetre, the nanosecond, the MeV and the positron charge, each equal to
//! one. A quantity is stored as a plain `f64` *in base units* by multiplying with its unit, and read
//! out in a chosen unit by dividing by it:
//!
//! ```
//! use hep_core::units::*;
//! let drift = 1.2 * us;                     // stored in ns
//! assert_eq!(drift / ns, 1200.0);
//! let e = 6.13 * MeV;
//! assert!((e / keV - 6130.0).abs() < 1e-9);
//! ```
//!
//! # Quantity newtypes
//!
//! Where the original scripts mixed units with costly results (livetime in seconds vs years, the
//! wall-clock vs on-spill livetime, protons on target), the quantity has its own type, so that
//! the mistake does not compile: [`LivetimeSeconds`], [`OnSpillSeconds`], [`LivetimeYears`] and
//! [`ProtonsOnTarget`]. Conversions between them are explicit and name their factor.

#![allow(non_upper_case_globals)]

use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------- length (base: millimetre)
/// Millimetre, the unit of length (1).
pub const millimeter: f64 = 1.0;
/// Millimetre.
pub const mm: f64 = millimeter;
/// Nanometre, 1e-6 mm.
pub const nm: f64 = 1e-6 * mm;
/// Micrometre, 1e-3 mm.
pub const um: f64 = 1e-3 * mm;
/// Centimetre, 10 mm.
pub const cm: f64 = 10.0 * mm;
/// Metre, 1000 mm.
pub const m: f64 = 1000.0 * mm;
/// Kilometre, 1e6 mm.
pub const km: f64 = 1000.0 * m;
/// Square centimetre (for fluences in particles per cm²).
pub const cm2: f64 = cm * cm;
/// Cubic centimetre.
pub const cm3: f64 = cm * cm * cm;

// ---------------------------------------------------------------- time (base: nanosecond)
/// Nanosecond, the unit of time (1).
pub const nanosecond: f64 = 1.0;
/// Nanosecond.
pub const ns: f64 = nanosecond;
/// Picosecond, 1e-3 ns.
pub const ps: f64 = 1e-3 * ns;
/// Microsecond, 1e3 ns.
pub const us: f64 = 1e3 * ns;
/// Millisecond, 1e6 ns.
pub const ms: f64 = 1e6 * ns;
/// Second, 1e9 ns.
pub const s: f64 = 1e9 * ns;
/// Minute, 60 s.
pub const minute: f64 = 60.0 * s;
/// Hour, 3600 s.
pub const hour: f64 = 60.0 * minute;
/// Day, 86 400 s.
pub const day: f64 = 24.0 * hour;
/// Year of 365 days (Geant4 `G4SystemOfUnits`, and the `365*24*60*60` of the Mu2e scripts).
pub const year: f64 = 365.0 * day;
/// Hertz, 1/s.
pub const hertz: f64 = 1.0 / s;
/// Hertz.
pub const Hz: f64 = hertz;
/// Kilohertz.
pub const kHz: f64 = 1e3 * hertz;
/// Megahertz.
pub const MHz: f64 = 1e6 * hertz;

// ---------------------------------------------------------------- energy (base: MeV)
/// Mega-electronvolt, the unit of energy (1).
pub const megaelectronvolt: f64 = 1.0;
/// MeV.
pub const MeV: f64 = megaelectronvolt;
/// Electronvolt, 1e-6 MeV.
pub const eV: f64 = 1e-6 * MeV;
/// Kilo-electronvolt, 1e-3 MeV.
pub const keV: f64 = 1e-3 * MeV;
/// Giga-electronvolt, 1e3 MeV.
pub const GeV: f64 = 1e3 * MeV;
/// Tera-electronvolt, 1e6 MeV.
pub const TeV: f64 = 1e6 * MeV;

// ---------------------------------------------------------------- charge (base: e+)
/// Positron charge, the unit of charge (1).
pub const eplus: f64 = 1.0;
/// Elementary charge in coulomb (exact since the 2019 SI redefinition; CODATA 2018).
pub const E_SI: f64 = 1.602_176_634e-19;
/// Coulomb, 1 / 1.602176634e-19 e+.
pub const coulomb: f64 = eplus / E_SI;
/// Femtocoulomb (charge-injection amplitudes of timing ASICs).
pub const fC: f64 = 1e-15 * coulomb;
/// Picocoulomb.
pub const pC: f64 = 1e-12 * coulomb;
/// Ampere, coulomb per second.
pub const ampere: f64 = coulomb / s;
/// Milliampere.
pub const mA: f64 = 1e-3 * ampere;
/// Microampere (silicon leakage currents).
pub const uA: f64 = 1e-6 * ampere;
/// Nanoampere.
pub const nA: f64 = 1e-9 * ampere;
/// Megavolt, MeV per e+.
pub const megavolt: f64 = megaelectronvolt / eplus;
/// Volt.
pub const volt: f64 = 1e-6 * megavolt;
/// Kilovolt.
pub const kV: f64 = 1e3 * volt;

// ---------------------------------------------------------------- temperature
/// Kelvin, the unit of temperature (1).
pub const kelvin: f64 = 1.0;
/// Zero of the Celsius scale in kelvin.
pub const CELSIUS_ZERO_K: f64 = 273.15;

// ---------------------------------------------------------------- physical constants
/// Speed of light in vacuum, 299.792458 mm/ns (CODATA, exact).
pub const c_light: f64 = 299.792_458 * mm / ns;
/// Boltzmann constant in eV/K (CODATA 2018, exact): 8.617333262e-5 eV/K.
pub const k_Boltzmann: f64 = 8.617_333_262e-5 * eV / kelvin;

/// Seconds in a 365-day year, 31 536 000 (the Mu2e `run_si.py` conversion `365*24*60*60`).
pub const SECONDS_PER_YEAR: f64 = 31_536_000.0;

macro_rules! quantity {
    ($(#[$doc:meta])* $name:ident, $unit:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub f64);

        impl $name {
            #[doc = concat!("The value in ", $unit, ".")]
            pub fn value(self) -> f64 {
                self.0
            }
        }

        impl std::ops::Add for $name {
            type Output = Self;
            fn add(self, o: Self) -> Self {
                Self(self.0 + o.0)
            }
        }

        impl std::ops::Sub for $name {
            type Output = Self;
            fn sub(self, o: Self) -> Self {
                Self(self.0 - o.0)
            }
        }

        impl std::ops::Mul<f64> for $name {
            type Output = Self;
            fn mul(self, k: f64) -> Self {
                Self(self.0 * k)
            }
        }

        impl std::ops::Div for $name {
            type Output = f64;
            fn div(self, o: Self) -> f64 {
                self.0 / o.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{} {}", self.0, $unit)
            }
        }
    };
}

quantity!(
    /// A wall-clock livetime (beam on and off included), in seconds.
    ///
    /// Mu2e generations G0-G2 meant this by "livetime"; G3 (MDS) means [`OnSpillSeconds`].
    LivetimeSeconds,
    "s"
);
quantity!(
    /// A livetime counted only while beam is on spill, in seconds (Mu2e G3/MDS convention).
    OnSpillSeconds,
    "s"
);
quantity!(
    /// A livetime in 365-day years (Mu2e G0 formulas; 1 year = [`SECONDS_PER_YEAR`] s).
    LivetimeYears,
    "yr"
);
quantity!(
    /// A number of protons on target (POT). Not a livetime: convert through a beam model.
    ProtonsOnTarget,
    "POT"
);

impl LivetimeSeconds {
    /// The same livetime in 365-day years: `seconds / 31 536 000`.
    pub fn to_years(self) -> LivetimeYears {
        LivetimeYears(self.0 / SECONDS_PER_YEAR)
    }

    /// The on-spill part of this wall-clock livetime for a beam duty factor in `[0, 1]`:
    /// `seconds * duty_factor`.
    pub fn on_spill(self, duty_factor: f64) -> OnSpillSeconds {
        OnSpillSeconds(self.0 * duty_factor)
    }
}

impl LivetimeYears {
    /// The same livetime in seconds: `years * 31 536 000`.
    pub fn to_seconds(self) -> LivetimeSeconds {
        LivetimeSeconds(self.0 * SECONDS_PER_YEAR)
    }
}

impl OnSpillSeconds {
    /// The wall-clock livetime that contains this on-spill time for a duty factor in `(0, 1]`:
    /// `seconds / duty_factor`.
    pub fn to_wall_clock(self, duty_factor: f64) -> LivetimeSeconds {
        LivetimeSeconds(self.0 / duty_factor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_arithmetic() {
        assert_eq!(1.0 * s / ns, 1e9);
        assert_eq!(3.0 * cm / mm, 30.0);
        assert!((6.13 * MeV / keV - 6130.0).abs() < 1e-9);
        assert!((1.0 * fC / eplus - 6_241.509_074).abs() < 1e-3);
        assert_eq!(year / s, SECONDS_PER_YEAR);
        assert!((c_light * (1.0 * ns) / mm - 299.792_458).abs() < 1e-12);
    }

    #[test]
    fn livetime_conversions() {
        let t = LivetimeSeconds(SECONDS_PER_YEAR * 2.0);
        assert_eq!(t.to_years(), LivetimeYears(2.0));
        assert_eq!(t.to_years().to_seconds(), t);
        let on = t.on_spill(0.25);
        assert_eq!(on, OnSpillSeconds(SECONDS_PER_YEAR * 0.5));
        assert_eq!(on.to_wall_clock(0.25), t);
        assert_eq!(format!("{}", ProtonsOnTarget(3.0)), "3 POT");
        assert_eq!(LivetimeSeconds(4.0) / LivetimeSeconds(2.0), 2.0);
    }

    #[test]
    fn newtypes_serialise_as_numbers() {
        let j = serde_json::to_string(&LivetimeSeconds(1.5)).unwrap();
        assert_eq!(j, "1.5");
    }
}
