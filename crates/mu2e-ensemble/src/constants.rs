//! The four Mu2e constant sets (generations of `normalizations.py`) and their numbers.
//!
//! | set | generation | livetime meaning | stops/POT source |
//! |---|---|---|---|
//! | [`ConstantSet::Mdc2018`] (`mdc2018`) | G0 | wall-clock, converted to 365-day years | hard-coded 0.00187 |
//! | [`ConstantSet::Mdc2020`] (`mdc2020`) | G1 (2024-02 README) | wall-clock seconds | SimEfficiencies2 |
//! | [`ConstantSet::Mdc2024`] (`mdc2024`) | G2 | wall-clock seconds, 1BB/2BB cycle POT | SimEfficiencies2 |
//! | [`ConstantSet::Mds`] (`mds`) | G3 (HEAD, MDS2/MDS3) | **on-spill** seconds | SimEfficiencies2 |
//!
//! Every number below is taken from the originals in Mu2e/Production `JobConfig/ensemble`: G0
//! `normalizations.py` at `c86b086b`, G1 `python/normalizations.py` at `14e33106`, G2 at
//! `92b02531`, G3 `python/normalizations.py` and `python/constants.py` at `2f314d0e`, with the
//! original's reference where it gave one (see `docs/mu2e-ensemble.md`, "Sources").

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One of the four versioned sets of constants and formulas (generations of
/// Mu2e/Production `JobConfig/ensemble`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConstantSet {
    /// G0, `mdc2018`: MDC2018-era `normalizations.py` (`c86b086b`); livetime in years.
    Mdc2018,
    /// G1, `mdc2020`: the 2024-02 README's version (`14e33106`, 2024-02/03); wall-clock seconds.
    Mdc2020,
    /// G2, `mdc2024`: 2024-05 ... 2024-11 (`3cbac588` ... `0b1a3b85`); 1BB/2BB machine-cycle POT.
    Mdc2024,
    /// G3, `mds`: HEAD (`constants.py`, `2f314d0e`); on-spill seconds.
    Mds,
}

impl ConstantSet {
    /// All sets, oldest first.
    pub const ALL: [ConstantSet; 4] = [
        ConstantSet::Mdc2018,
        ConstantSet::Mdc2020,
        ConstantSet::Mdc2024,
        ConstantSet::Mds,
    ];

    /// The command-line name (`mdc2018`, `mdc2020`, `mdc2024`, `mds`).
    pub fn name(self) -> &'static str {
        match self {
            ConstantSet::Mdc2018 => "mdc2018",
            ConstantSet::Mdc2020 => "mdc2020",
            ConstantSet::Mdc2024 => "mdc2024",
            ConstantSet::Mds => "mds",
        }
    }

    /// The generation index (0 = G0 ... 3 = G3).
    pub fn generation(self) -> u8 {
        match self {
            ConstantSet::Mdc2018 => 0,
            ConstantSet::Mdc2020 => 1,
            ConstantSet::Mdc2024 => 2,
            ConstantSet::Mds => 3,
        }
    }

    /// What a plain "livetime in seconds" meant in this generation.
    pub fn livetime_convention(self) -> LivetimeConvention {
        match self {
            ConstantSet::Mdc2018 => LivetimeConvention::WallClockYears,
            ConstantSet::Mdc2020 | ConstantSet::Mdc2024 => LivetimeConvention::WallClock,
            ConstantSet::Mds => LivetimeConvention::OnSpill,
        }
    }

    /// The processes this generation normalises, in the original's order, with the sample name
    /// the original used for each (the `norms` keys of its `run_si.py` / `calculateEvents.py`).
    ///
    /// G0: `DIOLeadingLog CeMLeadingLog CePLeadingLog RMCexternal RMCinternal RPCexternal
    /// RPCinternal DYBCosmic CRYCosmic` (G0 `run_si.py`). G1: `DIOTail CeEndpoint CRYCosmic
    /// IPAMichel` (G1 `run_si.py`). G2: `DIO CE IPAMichel CRYCosmic CORSIKACosmic` (the G2
    /// `run_si.py` also had the alias `CeMLL` for `CE`, not repeated here; G2's RPC is not included
    /// because its formula changed four times in 2024 with no complete set). G3: `DIO CeMLeadingLog
    /// CePLeadingLog RPCInternal RPCExternal RMCInternal RMCExternal IPAMichel CRYCosmic
    /// CORSIKACosmic` (`Stage1_initiate_ensemble.sh` and `calculateEvents.py`; CE only for signal
    /// injection).
    pub fn samples(self) -> &'static [(Process, &'static str)] {
        use Process::*;
        match self {
            ConstantSet::Mdc2018 => &[
                (Dio, "DIOLeadingLog"),
                (CeMinus, "CeMLeadingLog"),
                (CePlus, "CePLeadingLog"),
                (RmcExternal, "RMCexternal"),
                (RmcInternal, "RMCinternal"),
                (RpcExternal, "RPCexternal"),
                (RpcInternal, "RPCinternal"),
                (CosmicDayaBay, "DYBCosmic"),
                (CosmicCry, "CRYCosmic"),
            ],
            ConstantSet::Mdc2020 => &[
                (Dio, "DIOTail"),
                (CeMinus, "CeEndpoint"),
                (CosmicCry, "CRYCosmic"),
                (IpaMichel, "IPAMichel"),
            ],
            ConstantSet::Mdc2024 => &[
                (Dio, "DIO"),
                (CeMinus, "CE"),
                (IpaMichel, "IPAMichel"),
                (CosmicCry, "CRYCosmic"),
                (CosmicCorsika, "CORSIKACosmic"),
            ],
            ConstantSet::Mds => &[
                (Dio, "DIO"),
                (CeMinus, "CeMLeadingLog"),
                (CePlus, "CePLeadingLog"),
                (RpcInternal, "RPCInternal"),
                (RpcExternal, "RPCExternal"),
                (RmcInternal, "RMCInternal"),
                (RmcExternal, "RMCExternal"),
                (IpaMichel, "IPAMichel"),
                (CosmicCry, "CRYCosmic"),
                (CosmicCorsika, "CORSIKACosmic"),
            ],
        }
    }

    /// The original sample name of `process` in this generation, if it normalised it.
    pub fn sample_name(self, process: Process) -> Option<&'static str> {
        self.samples()
            .iter()
            .find(|(p, _)| *p == process)
            .map(|(_, n)| *n)
    }

    /// The process behind an original sample name of this generation (exact match).
    pub fn process_of(self, sample: &str) -> Option<Process> {
        self.samples()
            .iter()
            .find(|(_, n)| *n == sample)
            .map(|(p, _)| *p)
    }

    /// The default process parameters of this generation (the values its drivers used), see
    /// [`Defaults`].
    pub fn defaults(self) -> Defaults {
        match self {
            // genEnsemble.py (G0): dem_emin 93, dep_emin 83 (run_si: RMC at dep_emin + 1),
            // tmin 400 ns; kmax is drawn in U(89, 91): 90.1 is Offline's reference value.
            ConstantSet::Mdc2018 => Defaults {
                dio_emin: 93.0,
                rmc_emin: 84.0,
                rpc_emin: 84.0,
                ipa_emin: 70.0,
                kmax: 90.1,
                tmin: 400.0,
            },
            // G1/G2/G3: HEAD `Stage1_initiate_ensemble.sh` values: DIO 95, IPA 70, RPC 50
            // (tmin 350), RMC 85 with kmax 90.1.
            ConstantSet::Mdc2020 | ConstantSet::Mdc2024 | ConstantSet::Mds => Defaults {
                dio_emin: 95.0,
                rmc_emin: 85.0,
                rpc_emin: 50.0,
                ipa_emin: 70.0,
                kmax: 90.1,
                tmin: 350.0,
            },
        }
    }
}

impl fmt::Display for ConstantSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ConstantSet {
    type Err = Error;

    /// Parses `mdc2018|g0`, `mdc2020|g1`, `mdc2024|g2`, `mds|mds2|mds3|head|g3`
    /// (case-insensitive).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the accepted values.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "mdc2018" | "g0" => Ok(ConstantSet::Mdc2018),
            "mdc2020" | "g1" => Ok(ConstantSet::Mdc2020),
            "mdc2024" | "g2" => Ok(ConstantSet::Mdc2024),
            "mds" | "mds2" | "mds3" | "head" | "g3" => Ok(ConstantSet::Mds),
            _ => Err(Error::InvalidArgument(format!(
                "unknown constant set '{s}': expected one of mdc2018, mdc2020, mdc2024, mds"
            ))),
        }
    }
}

/// What "the livetime" of a generation means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LivetimeConvention {
    /// Wall-clock seconds, divided by 31 536 000 to years inside the formulas (G0).
    WallClockYears,
    /// Wall-clock seconds (G1, G2).
    WallClock,
    /// Seconds on spill (G3).
    OnSpill,
}

/// The default process parameters of a generation (energies in MeV, times in ns).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Defaults {
    /// Lower DIO energy cut `dem_emin` (MeV).
    pub dio_emin: f64,
    /// Lower RMC photon-energy cut (MeV); for G0 this is run_si's `dep_emin + 1`.
    pub rmc_emin: f64,
    /// Lower RPC photon-energy cut (MeV).
    pub rpc_emin: f64,
    /// IPA Michel energy threshold `ipa_de_min` (MeV).
    pub ipa_emin: f64,
    /// RMC closure-spectrum endpoint `kmax` (MeV).
    pub kmax: f64,
    /// RPC arrival-time cut `tmin` (ns).
    pub tmin: f64,
}

/// A physics process that contributes to an ensemble.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Process {
    /// μ⁻ → e⁻ conversion (CE⁻), rate `rue` per capture.
    CeMinus,
    /// μ⁻ → e⁺ conversion (CE⁺), rate `rup` per capture.
    CePlus,
    /// Decay in orbit of stopped μ⁻ in the aluminium target, above `dio_emin`.
    Dio,
    /// Radiative muon capture, external photon conversion.
    RmcExternal,
    /// Radiative muon capture, internal conversion (× [`g3::INTERNAL_PER_RMC`]).
    RmcInternal,
    /// Radiative pion capture, external photon conversion.
    RpcExternal,
    /// Radiative pion capture, internal conversion (× [`g3::INTERNAL_RPC_PER_RPC`]).
    RpcInternal,
    /// Michel/DIO electrons from muons stopped in the inner proton absorber (IPA).
    IpaMichel,
    /// CRY cosmic rays.
    CosmicCry,
    /// CORSIKA cosmic rays.
    CosmicCorsika,
    /// Daya Bay parameterisation of cosmic rays (G0 only).
    CosmicDayaBay,
}

impl Process {
    /// True for the cosmic-ray samples, normalised by livetime (G1+) instead of an event count.
    pub fn is_cosmic(self) -> bool {
        matches!(
            self,
            Process::CosmicCry | Process::CosmicCorsika | Process::CosmicDayaBay
        )
    }
}

/// The booster-batch mode of the beam (G2, G3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum BeamMode {
    /// One booster batch per cycle (`1BB`), the default of the originals.
    #[default]
    #[serde(rename = "1BB")]
    OneBB,
    /// Two booster batches per cycle (`2BB`).
    #[serde(rename = "2BB")]
    TwoBB,
}

impl BeamMode {
    /// The original's spelling, `1BB` or `2BB`.
    pub fn name(self) -> &'static str {
        match self {
            BeamMode::OneBB => "1BB",
            BeamMode::TwoBB => "2BB",
        }
    }

    /// The on-spill duty factor of G2/G3: 0.323 (1BB) or 0.246 (2BB) (G2 `normalizations.py`, G3
    /// `constants.py`).
    pub fn duty_factor(self) -> f64 {
        match self {
            BeamMode::OneBB => g3::ONEBB_DF,
            BeamMode::TwoBB => g3::TWOBB_DF,
        }
    }
}

impl fmt::Display for BeamMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BeamMode {
    type Err = Error;

    /// Parses `1BB` or `2BB` (case-insensitive).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for anything else (the original raised `ValueError`).
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "1BB" => Ok(BeamMode::OneBB),
            "2BB" => Ok(BeamMode::TwoBB),
            _ => Err(Error::InvalidArgument(format!(
                "unknown beam mode '{s}': expected 1BB or 2BB"
            ))),
        }
    }
}

/// How G3 converts on-spill time to protons on target (G3 `get_pot(..., method=)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PotMethod {
    /// `NPOT = T_on / SPILL · protons_per_spill` (the default, used by every G3 normalisation).
    #[default]
    Spill,
    /// `NPOT = T_on / t_cycle · (POT_per_cycle / duty)`.
    Cycle,
}

impl FromStr for PotMethod {
    type Err = Error;

    /// Parses `spill` or `cycle`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for anything else.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "spill" => Ok(PotMethod::Spill),
            "cycle" => Ok(PotMethod::Cycle),
            _ => Err(Error::InvalidArgument(format!(
                "unknown POT method '{s}': expected spill or cycle"
            ))),
        }
    }
}

/// Physics constants shared by all generations (G0 `normalizations.py` and G3
/// `constants.py`).
pub mod physics {
    /// Nuclear captures per stopped μ⁻ in aluminium, 0.609.
    pub const CAPTURES_PER_STOPPED_MUON: f64 = 0.609;
    /// Decays in orbit per stopped μ⁻ in aluminium, 0.391 (= 1 − 0.609).
    pub const DIO_PER_STOPPED_MUON: f64 = 0.391;
    /// Radiative muon captures with E_γ > 57 MeV per capture, 1.43e-5 (Phys. Rev. C 59, 2853
    /// (1999)).
    pub const RMC_GT_57_PER_CAPTURE: f64 = 1.43e-5;
    /// Internal-conversion fraction of RMC, 0.00690 (copied from the RPC value).
    pub const INTERNAL_PER_RMC: f64 = 0.00690;
    /// Radiative captures per stopped π⁻, 0.0215 (Mu2e docdb-469).
    pub const RPC_PER_STOPPED_PION: f64 = 0.0215;
    /// Internal-conversion fraction of RPC, 0.00690 (Mu2e docdb-717).
    pub const INTERNAL_RPC_PER_RPC: f64 = 0.00690;
    /// Mu2e micro-bunch period, 1695 ns, in seconds.
    pub const MICROBUNCH_PERIOD_S: f64 = 1695e-9;
    /// Low edge of the RMC closure spectrum, 57.05 MeV (first row centre; G0 `rmc_normalization`).
    pub const RMC_SPECTRUM_START_MEV: f64 = 57.05;
    /// Row spacing of the RMC closure spectrum, 0.1 MeV.
    pub const RMC_SPECTRUM_STEP_MEV: f64 = 0.1;
}

/// G0 (`mdc2018`) beam and rate constants (`normalizations.py` at `c86b086b`).
pub mod g0 {
    /// Mean protons per micro-bunch, 3.9e7 (mixing prolog `protonBunchIntensity.extendedMean`).
    pub const MEAN_PBI: f64 = 3.9e7;
    /// Duty factor, 0.25.
    pub const DUTY_FACTOR: f64 = 0.25;
    /// Stopped μ⁻ per POT, 0.00187 (hard-coded).
    pub const STOPPED_MU_PER_POT: f64 = 0.00187;
    /// Geometric π⁻ stops per POT, 0.002484 (docdb-7468).
    pub const GEOMETRIC_STOPPED_PI_PER_POT: f64 = 0.002484;
    /// run_si's hard-coded RPC external yield per year of livetime, 1.59222825e8.
    pub const RPC_EXTERNAL_PER_YEAR: f64 = 1.59222825e8;
    /// run_si's hard-coded RPC internal yield per year of livetime, 1.098685e6.
    pub const RPC_INTERNAL_PER_YEAR: f64 = 1.098685e6;
    /// CRY cosmic rate, 253 440 Hz.
    pub const CRY_RATE_HZ: f64 = 253_440.0;
    /// CRY time window start, 450 ns (in s).
    pub const CRY_TMIN_S: f64 = 450e-9;
    /// CRY time window end, 1705 ns (in s).
    pub const CRY_TMAX_S: f64 = 1705e-9;
    /// Daya Bay cosmic rate, 5494.24 Hz.
    pub const DYB_RATE_HZ: f64 = 5494.24;
    /// Daya Bay time window start, 400 ns (in s).
    pub const DYB_TMIN_S: f64 = 400e-9;
    /// Daya Bay time window end, 1705 ns (in s).
    pub const DYB_TMAX_S: f64 = 1705e-9;
    /// POT timing table start, −125 ns (`t0` of the survival loop).
    pub const POT_TIMING_T0_NS: f64 = -125.0;

    /// Micro-bunches per year: `365·24·60·60 / 1695e-9 · 0.25` = 4.651327433628318e12
    /// (evaluated in the original's order).
    pub fn ub_per_year() -> f64 {
        (365.0 * 24.0 * 60.0 * 60.0) / 1695e-9 * DUTY_FACTOR
    }

    /// POT per year: `ub_per_year · 3.9e7` = 1.814017699115044e20.
    pub fn pot_per_year() -> f64 {
        ub_per_year() * MEAN_PBI
    }
}

/// G1 (`mdc2020`) beam constants (`python/normalizations.py` at `14e33106`).
pub mod g1 {
    /// Low-intensity protons per micro-bunch, 1.6e7.
    pub const MEAN_PBI_LOW: f64 = 1.6e7;
    /// High-intensity protons per micro-bunch, 3.9e7.
    pub const MEAN_PBI_HIGH: f64 = 3.9e7;
    /// On-spill duty factor, 0.323 (also used for "off-spill" cosmics).
    pub const DUTY_FACTOR: f64 = 0.323;
    /// IPA decays per stopped muon, 0.92 (comment "carbon").
    pub const IPA_DECAYS_PER_STOPPED_MUON: f64 = 0.92;

    /// Mean protons per micro-bunch, `0.75·1.6e7 + 0.25·3.9e7` = 2.175e7.
    pub fn mean_pbi() -> f64 {
        MEAN_PBI_LOW * 0.75 + MEAN_PBI_HIGH * 0.25
    }

    /// Micro-bunches per second, `(1/1695e-9) · 0.323` = 190 560.47...
    pub fn ub_per_second() -> f64 {
        (1.0 / super::physics::MICROBUNCH_PERIOD_S) * DUTY_FACTOR
    }

    /// POT per wall-clock second, `ub_per_second · mean_pbi` = 4.144690265486726e12.
    pub fn pot_per_second() -> f64 {
        ub_per_second() * mean_pbi()
    }
}

/// G2 (`mdc2024`) beam constants (SU2020 numbers, `Mu2e/su2020`
/// `analysis/pot_normalization.org`).
pub mod g2 {
    /// 1BB protons per machine cycle, 4e12.
    pub const ONEBB_POT_PER_CYCLE: f64 = 4e12;
    /// 2BB protons per machine cycle, 8e12.
    pub const TWOBB_POT_PER_CYCLE: f64 = 8e12;
    /// 1BB machine cycle, 1.33 s.
    pub const ONEBB_CYCLE_S: f64 = 1.33;
    /// 2BB machine cycle, 1.4 s.
    pub const TWOBB_CYCLE_S: f64 = 1.4;
    /// IPA decays per stopped muon, 0.92.
    pub const IPA_DECAYS_PER_STOPPED_MUON: f64 = 0.92;
}

/// G3 (`mds`, HEAD `constants.py` at `2f314d0e`) constants.
pub mod g3 {
    pub use super::physics::{
        CAPTURES_PER_STOPPED_MUON, DIO_PER_STOPPED_MUON, INTERNAL_PER_RMC, INTERNAL_RPC_PER_RPC,
        RMC_GT_57_PER_CAPTURE, RPC_PER_STOPPED_PION,
    };
    /// IPA decays per stopped muon, 0.92990 (history 0.92 → 0.86 → 0.9299).
    pub const IPA_DECAYS_PER_STOPPED_MUON: f64 = 0.92990;
    /// Micro-bunch period `SPILL`, 1.695e-6 s.
    pub const SPILL_S: f64 = 1.695e-6;
    /// 1BB duty factor, 0.323.
    pub const ONEBB_DF: f64 = 0.323;
    /// 2BB duty factor, 0.246.
    pub const TWOBB_DF: f64 = 0.246;
    /// 1BB protons per 1695 ns bunch, 1.58e7.
    pub const ONEBB_PROTONS_PER_SPILL: f64 = 1.58e7;
    /// 2BB protons per 1695 ns bunch, 3.93e7.
    pub const TWOBB_PROTONS_PER_SPILL: f64 = 3.93e7;
    /// 1BB POT per cycle, 4e12.
    pub const ONEBB_POT_PER_CYCLE: f64 = 4e12;
    /// 2BB POT per cycle, 8e12.
    pub const TWOBB_POT_PER_CYCLE: f64 = 8e12;
    /// 1BB cycle, 1.33 s.
    pub const ONEBB_CYCLE_S: f64 = 1.33;
    /// 2BB cycle, 1.4 s.
    pub const TWOBB_CYCLE_S: f64 = 1.4;
    /// RMC `k_max` used by HEAD `calculateEvents.py` (it never passes one), 90.1 MeV.
    pub const DEFAULT_KMAX_MEV: f64 = 90.1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g0_beam_numbers_match_spec() {
        assert_eq!(g0::ub_per_year(), 4.651327433628318e12);
        assert_eq!(g0::pot_per_year(), 1.814017699115044e20);
    }

    #[test]
    fn g1_beam_numbers_match_spec() {
        assert_eq!(g1::mean_pbi(), 2.175e7);
        assert!((g1::ub_per_second() - 190_560.47).abs() < 0.01);
        assert_eq!(g1::pot_per_second(), 4.144690265486726e12);
    }

    #[test]
    fn parse_names() {
        for c in ConstantSet::ALL {
            assert_eq!(c.name().parse::<ConstantSet>().unwrap(), c);
        }
        assert_eq!("HEAD".parse::<ConstantSet>().unwrap(), ConstantSet::Mds);
        let e = "mdc2019".parse::<ConstantSet>().unwrap_err().to_string();
        assert!(
            e.contains("mdc2019") && e.contains("mdc2018, mdc2020"),
            "{e}"
        );
        assert_eq!("2bb".parse::<BeamMode>().unwrap(), BeamMode::TwoBB);
        assert!("3BB".parse::<BeamMode>().is_err());
    }

    #[test]
    fn sample_names_round_trip() {
        for c in ConstantSet::ALL {
            for (p, n) in c.samples() {
                assert_eq!(c.sample_name(*p), Some(*n));
                assert_eq!(c.process_of(n), Some(*p));
            }
        }
        assert_eq!(
            ConstantSet::Mdc2020.sample_name(Process::Dio),
            Some("DIOTail")
        );
        assert_eq!(ConstantSet::Mdc2020.sample_name(Process::RmcExternal), None);
    }
}
