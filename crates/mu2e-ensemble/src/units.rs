//! Typed livetimes of the normalisations.
//!
//! The originals redefined "livetime" three times: G0 used years of wall-clock time
//! (with a 0.25 duty factor inside the POT rate), G1/G2 wall-clock seconds, G3 seconds **on
//! spill**. The G1 DIO bug multiplied by the livetime twice. Here every livetime is one of the
//! `hep_core::units` newtypes, and the per-generation formulas of [`crate::norm`] take exactly the
//! type their generation meant, so handing seconds to a formula in years (or on-spill seconds to a
//! wall-clock formula) does not compile:
//!
//! ```compile_fail,E0308
//! use mu2e_ensemble::norm::g0;
//! use mu2e_ensemble::units::LivetimeSeconds;
//! // G0 formulas take years: seconds do not compile.
//! let n = g0::ce(LivetimeSeconds(3.15e7), 1e-16);
//! ```
//!
//! ```compile_fail,E0308
//! use mu2e_ensemble::constants::{BeamMode, PotMethod};
//! use mu2e_ensemble::norm::g3;
//! use mu2e_ensemble::units::LivetimeSeconds;
//! // G3 counts POT in on-spill seconds: a wall-clock livetime does not compile.
//! let pot = g3::pot(LivetimeSeconds(1e7), BeamMode::OneBB, PotMethod::Spill);
//! ```
//!
//! ```
//! use mu2e_ensemble::constants::{BeamMode, PotMethod};
//! use mu2e_ensemble::norm::{g0, g3};
//! use mu2e_ensemble::units::LivetimeSeconds;
//! let n = g0::ce(LivetimeSeconds(3.1536e7).to_years(), 1e-16);
//! assert!(n > 0.0);
//! // the conversion names its duty factor
//! let pot = g3::pot(LivetimeSeconds(1e7).on_spill(BeamMode::OneBB.duty_factor()), BeamMode::OneBB, PotMethod::Spill);
//! assert!(pot.value() > 0.0);
//! ```
//!
//! [`Livetime`] is the tagged input of [`crate::normalizations::Inputs`]: it says which kind of
//! time a number is, and converts to the kind a generation needs through that generation's duty
//! factor (explicitly named).

pub use hep_core::units::{
    LivetimeSeconds, LivetimeYears, OnSpillSeconds, ProtonsOnTarget, SECONDS_PER_YEAR,
};
use serde::{Deserialize, Serialize};

use crate::constants::ConstantSet;
use crate::error::{Error, Result};

/// A livetime with its meaning attached.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "kebab-case")]
pub enum Livetime {
    /// Wall-clock seconds (beam on and off).
    WallClock(LivetimeSeconds),
    /// Seconds on spill.
    OnSpill(OnSpillSeconds),
    /// 365-day years of wall-clock time.
    Years(LivetimeYears),
}

/// How to read a bare number of seconds given on a command line or in a config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LivetimeKind {
    /// What the chosen generation meant: wall-clock seconds for `mdc2018`/`mdc2020`/`mdc2024`,
    /// on-spill seconds for `mds`.
    #[default]
    Native,
    /// Wall-clock seconds.
    WallClock,
    /// On-spill seconds.
    OnSpill,
    /// Years of 365 days (wall-clock).
    Years,
}

impl std::str::FromStr for LivetimeKind {
    type Err = Error;

    /// Parses `native`, `wall-clock`, `on-spill`, `years`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for anything else.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "native" => Ok(LivetimeKind::Native),
            "wall-clock" | "wallclock" => Ok(LivetimeKind::WallClock),
            "on-spill" | "onspill" => Ok(LivetimeKind::OnSpill),
            "years" | "yr" => Ok(LivetimeKind::Years),
            _ => Err(Error::InvalidArgument(format!(
                "unknown livetime kind '{s}': expected native, wall-clock, on-spill or years"
            ))),
        }
    }
}

impl Livetime {
    /// Tags a bare `value` of kind `kind` for generation `constants`
    /// ([`LivetimeKind::Native`]: seconds as that generation meant them).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `value` is negative or not finite.
    pub fn from_value(value: f64, kind: LivetimeKind, constants: ConstantSet) -> Result<Self> {
        use crate::constants::LivetimeConvention as C;
        let lt = match kind {
            LivetimeKind::Native => match constants.livetime_convention() {
                C::WallClockYears | C::WallClock => Livetime::WallClock(LivetimeSeconds(value)),
                C::OnSpill => Livetime::OnSpill(OnSpillSeconds(value)),
            },
            LivetimeKind::WallClock => Livetime::WallClock(LivetimeSeconds(value)),
            LivetimeKind::OnSpill => Livetime::OnSpill(OnSpillSeconds(value)),
            LivetimeKind::Years => Livetime::Years(LivetimeYears(value)),
        };
        lt.validate()?;
        Ok(lt)
    }

    /// The bare number (in its own unit).
    pub fn raw(self) -> f64 {
        match self {
            Livetime::WallClock(t) => t.0,
            Livetime::OnSpill(t) => t.0,
            Livetime::Years(t) => t.0,
        }
    }

    /// Checks that the livetime is finite and not negative.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the value.
    pub fn validate(self) -> Result<()> {
        let v = self.raw();
        if v.is_finite() && v >= 0.0 {
            Ok(())
        } else {
            Err(Error::InvalidArgument(format!(
                "livetime must be a finite, non-negative number, found {v}"
            )))
        }
    }

    /// As wall-clock seconds; on-spill time is divided by `duty_factor`.
    pub fn wall_clock(self, duty_factor: f64) -> LivetimeSeconds {
        match self {
            Livetime::WallClock(t) => t,
            Livetime::OnSpill(t) => t.to_wall_clock(duty_factor),
            Livetime::Years(t) => t.to_seconds(),
        }
    }

    /// As on-spill seconds; wall-clock time is multiplied by `duty_factor`.
    pub fn on_spill(self, duty_factor: f64) -> OnSpillSeconds {
        match self {
            Livetime::WallClock(t) => t.on_spill(duty_factor),
            Livetime::OnSpill(t) => t,
            Livetime::Years(t) => t.to_seconds().on_spill(duty_factor),
        }
    }

    /// As 365-day years of wall-clock time (`seconds / 31 536 000`, run_si's conversion);
    /// on-spill time is first divided by `duty_factor`.
    pub fn years(self, duty_factor: f64) -> LivetimeYears {
        match self {
            Livetime::Years(t) => t,
            other => other.wall_clock(duty_factor).to_years(),
        }
    }
}

impl std::fmt::Display for Livetime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Livetime::WallClock(t) => write!(f, "{t} (wall clock)"),
            Livetime::OnSpill(t) => write!(f, "{t} (on spill)"),
            Livetime::Years(t) => write!(f, "{t} (wall clock)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_kind_follows_generation() {
        let a = Livetime::from_value(10.0, LivetimeKind::Native, ConstantSet::Mdc2020).unwrap();
        assert_eq!(a, Livetime::WallClock(LivetimeSeconds(10.0)));
        let b = Livetime::from_value(10.0, LivetimeKind::Native, ConstantSet::Mds).unwrap();
        assert_eq!(b, Livetime::OnSpill(OnSpillSeconds(10.0)));
        assert_eq!(b.wall_clock(0.5), LivetimeSeconds(20.0));
        assert_eq!(a.on_spill(0.5), OnSpillSeconds(5.0));
        assert_eq!(
            Livetime::WallClock(LivetimeSeconds(SECONDS_PER_YEAR)).years(0.25),
            LivetimeYears(1.0)
        );
    }

    #[test]
    fn negative_livetime_is_an_error() {
        let e = Livetime::from_value(-1.0, LivetimeKind::Native, ConstantSet::Mds)
            .unwrap_err()
            .to_string();
        assert!(e.contains("non-negative") && e.contains("-1"), "{e}");
        assert!(Livetime::from_value(f64::NAN, LivetimeKind::Years, ConstantSet::Mds).is_err());
    }
}
