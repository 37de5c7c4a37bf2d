//! Expected yields of every process for a livetime, per generation (the `normalizations.py` of
//! each generation of Mu2e/Production `JobConfig/ensemble`).
//!
//! ```no_run
//! use mu2e_ensemble::constants::ConstantSet;
//! use mu2e_ensemble::normalizations::{Inputs, StopRates, compute};
//! use mu2e_ensemble::tables::{SimEfficiencies, Tables};
//! use mu2e_ensemble::units::{Livetime, OnSpillSeconds};
//!
//! let tables = Tables::load("tables/")?;
//! let mut inputs = Inputs::new(ConstantSet::Mds, Livetime::OnSpill(OnSpillSeconds(1e6)));
//! inputs.stop_rates = Some(StopRates::from_simeff(&SimEfficiencies::read("simeff.csv")?)?);
//! inputs.rue = 1e-15;
//! let norms = compute(&inputs, &tables)?;
//! println!("DIO: {}", norms.get("DIO").unwrap());
//! # Ok::<(), mu2e_ensemble::Error>(())
//! ```
//!
//! [`compute`] returns one [`Entry`] per sample of the generation, keyed by the original sample
//! name ([`ConstantSet::samples`]): the expected number of *generated* events, or for the G1+
//! cosmic samples the seconds of cosmic livetime needed ([`Unit`]). These are the `norms` of the
//! originals' `run_si.py`: the sampler multiplies them by reco/gen.
//!
//! For run_si planning build [`Inputs`] as that generation's run_si did: G0 computes RMC
//! at `dep_emin + 1` ([`Inputs::rmc_emin`]) and the cosmics at `max_livetime`
//! ([`Inputs::cosmic_livetime`]); G1 uses `dem_emin` for DIO and ignores the rest.
//!
//! # Quirks (numbered as in `docs/mu2e-ensemble.md`)
//!
//! The defaults are the corrected behaviour; [`Quirks`] switches each original back on:
//! 1. G1 DIO multiplied by the livetime twice ([`Quirks::dio_livetime_squared`]).
//! 2. `S_IPA` lacks the ×1000 of `S_μ`: unclear which is right, so the original is the default
//!    and [`Inputs::ipa_stops_times_1000`] applies the factor.
//! 3. G3 IPA lookup takes the next *strictly higher* threshold and 1.0 above the table
//!    ([`Quirks::ipa_next_threshold`]); the default interpolates and gives 0 above the table.
//! 4. G3 RMC always 1BB with kmax 90.1 ([`Quirks::rmc_always_1bb`]); G3 RPC ignores `tmin`
//!    (kept: the timing cut is inside the pion weights).
//! 5. G3 CE returned a Poisson draw ([`Quirks::ce_poisson`], seeded here); the default is the
//!    expectation.
//!
//! Energy cuts differ per process on purpose (item 10, [`crate::tables::EnergyCut`]).

use rand_distr::{Distribution, Poisson};
use serde::{Deserialize, Serialize};

use crate::constants::{BeamMode, ConstantSet, PotMethod, Process, g0 as c0, g1 as c1, g3 as c3};
use crate::dio::{MIN_VALID_EMIN_MEV, Pol58};
use crate::error::{Error, Result};
use crate::norm::{g0, g1, g2, g3};
use crate::tables::{SimEfficiencies, SimEfficiencyRow, Spectrum, Tables};
use crate::units::{Livetime, LivetimeSeconds, ProtonsOnTarget};

/// SimEfficiencies2 stage names of the stopped-muon rate (G1/G3
/// `normalizations.py`).
pub const MUON_STOP_STAGES: [&str; 2] = ["MuminusStopsCat", "MuBeamCat"];
/// SimEfficiencies2 stage names of the IPA stopped-muon rate.
pub const IPA_STOP_STAGES: [&str; 2] = ["IPAStopsCat", "MuBeamCat"];
/// SimEfficiencies2 stage names of the stopped-pion rate.
pub const PION_STOP_STAGES: [&str; 2] = ["PiBeamCat", "PiTargetStops"];

/// Stopped-particle rates per POT and pion-resampling counters (from SimEfficiencies2).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StopRates {
    /// `S_μ`, stopped μ⁻ per POT in the target: `1000 · eff(MuBeamCat) · eff(MuminusStopsCat)`
    /// (the ×1000 as the originals wrote it).
    pub muon_stops_per_pot: f64,
    /// `S_IPA`, muons stopped in the IPA per POT: `eff(MuBeamCat) · eff(IPAStopsCat)` (no ×1000,
    /// quirk 2; see [`Inputs::ipa_stops_times_1000`]).
    pub ipa_stops_per_pot: f64,
    /// The pion factors of G3 RPC, if known.
    pub pion: Option<PionStops>,
}

/// The pion factors of the G3 RPC normalisation (G3 `normalizations.py`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PionStops {
    /// `S_π = eff(PiBeamCat) · eff(PiTargetStops)`.
    pub stops_per_pot: f64,
    /// `num_pion_stops`: column 1 (passed) of `PiTargetStops`.
    pub num_pion_stops: f64,
    /// `num_pion_filters`: column 1 of `PiMinusFilter`.
    pub num_pion_filters: f64,
    /// `num_pion_resamples`: column 2 (generated) of `PhysicalPionStops`.
    pub num_pion_resamples: f64,
    /// `selected_sum_of_weights`: column 3 of `PiSelectedLifeimeWeight_sampler` (sic).
    pub selected_sum_of_weights: f64,
}

impl PionStops {
    /// `num_pion_filters / num_pion_stops`.
    pub fn filter_efficiency(&self) -> f64 {
        self.num_pion_filters / self.num_pion_stops
    }

    /// `selected_sum_of_weights / num_pion_resamples`.
    pub fn survival_weight(&self) -> f64 {
        self.selected_sum_of_weights / self.num_pion_resamples
    }
}

impl StopRates {
    /// Reads the rates from a SimEfficiencies2 table exactly as the originals' loops did
    /// (products in file order starting from 1.0; `S_μ` then ×1000). The pion factors are set
    /// when all five pion rows (`PiBeamCat`, `PiTargetStops`, `PiMinusFilter`,
    /// `PhysicalPionStops`, `PiSelectedLifeimeWeight_sampler`) are present.
    ///
    /// Validity range of the rows used (the originals accepted anything and produced negative or
    /// doubled normalisations): each used stage appears once; an efficiency that enters a
    /// product lies in `(0, 1]`; where `generated > 0`, `0 <= passed <= generated` (a row whose
    /// efficiency differs from `passed/generated` by more than 0.1 % is accepted with a warning,
    /// as transcriptions round); the pion counters that divide (`PiTargetStops` passed,
    /// `PhysicalPionStops` generated) are positive and the weight sum is finite and
    /// non-negative. Rows not used are not checked (the real table has a weight sum of 2393.6 in
    /// its efficiency column and rows with 0 generated).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the file if `MuBeamCat`, `MuminusStopsCat` or
    /// `IPAStopsCat` is missing (the originals silently used 1.0); [`hep_core::Error::Parse`] with the
    /// file and line for a used row that is duplicated or outside the validity range.
    pub fn from_simeff(t: &SimEfficiencies) -> Result<Self> {
        let path = t
            .source
            .clone()
            .unwrap_or_else(|| std::path::PathBuf::from("SimEfficiencies2 table"));
        let file = path.display().to_string();
        let once = |stage: &str| -> Result<Option<&SimEfficiencyRow>> {
            let mut rows = t.rows.iter().filter(|r| r.stage == stage);
            let first = rows.next();
            if let (Some(a), Some(b)) = (first, rows.next()) {
                return Err(Error::input(
                    &path,
                    b.line,
                    format!("one row '{stage}' (the first is at line {})", a.line),
                    "a second one",
                ));
            }
            if let Some(r) = first
                && r.generated > 0.0
            {
                if !(0.0..=r.generated).contains(&r.passed) {
                    return Err(Error::input(
                        &path,
                        r.line,
                        format!("'{stage}' passed in [0, generated = {}]", r.generated),
                        format!("{}", r.passed),
                    ));
                }
                let ratio = r.passed / r.generated;
                if (ratio - r.efficiency).abs() > 1e-3 * r.efficiency.abs().max(ratio) {
                    tracing::warn!(
                        "{file}:{}: '{stage}' efficiency {} differs from passed/generated = {ratio}",
                        r.line,
                        r.efficiency
                    );
                }
            }
            Ok(first)
        };
        let efficiency = |r: &SimEfficiencyRow| -> Result<()> {
            if r.efficiency > 0.0 && r.efficiency <= 1.0 {
                Ok(())
            } else {
                Err(Error::input(
                    &path,
                    r.line,
                    format!("an efficiency in (0, 1] for '{}'", r.stage),
                    format!("{}", r.efficiency),
                ))
            }
        };
        let need = |stages: &[&str]| -> Result<f64> {
            for s in stages {
                match once(s)? {
                    None => {
                        return Err(Error::InvalidArgument(format!(
                            "{file}: expected a row '{s}' (needed for the stopped-muon rates), found none"
                        )));
                    }
                    Some(r) => efficiency(r)?,
                }
            }
            Ok(t.product_of_efficiencies(stages).0)
        };
        let rate = need(&MUON_STOP_STAGES)?;
        let ipa = need(&IPA_STOP_STAGES)?;
        let pion = match (
            once("PiBeamCat")?,
            once("PiTargetStops")?,
            once("PiMinusFilter")?,
            once("PhysicalPionStops")?,
            once("PiSelectedLifeimeWeight_sampler")?,
        ) {
            (Some(beam), Some(stops), Some(filter), Some(phys), Some(w)) => {
                efficiency(beam)?;
                efficiency(stops)?;
                let positive = |r: &SimEfficiencyRow, what: &str, v: f64| -> Result<()> {
                    if v > 0.0 {
                        Ok(())
                    } else {
                        Err(Error::input(
                            &path,
                            r.line,
                            format!("a positive {what} for '{}' (it divides)", r.stage),
                            format!("{v}"),
                        ))
                    }
                };
                positive(stops, "passed count", stops.passed)?;
                positive(phys, "generated count", phys.generated)?;
                if filter.passed < 0.0 {
                    return Err(Error::input(
                        &path,
                        filter.line,
                        "a non-negative passed count for 'PiMinusFilter'",
                        format!("{}", filter.passed),
                    ));
                }
                if w.efficiency < 0.0 {
                    return Err(Error::input(
                        &path,
                        w.line,
                        "a non-negative sum of weights for 'PiSelectedLifeimeWeight_sampler'",
                        format!("{}", w.efficiency),
                    ));
                }
                Some(PionStops {
                    stops_per_pot: t.product_of_efficiencies(&PION_STOP_STAGES).0,
                    num_pion_stops: stops.passed,
                    num_pion_filters: filter.passed,
                    num_pion_resamples: phys.generated,
                    selected_sum_of_weights: w.efficiency,
                })
            }
            _ => None,
        };
        Ok(StopRates {
            muon_stops_per_pot: rate * 1000.0,
            ipa_stops_per_pot: ipa,
            pion,
        })
    }
}

/// The original behaviours that can be switched back on (see
/// `docs/mu2e-ensemble.md`, "Compat switches"); all off by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Quirks {
    /// G1 (`mdc2020`) DIO multiplied by the livetime twice (quirk 1).
    pub dio_livetime_squared: bool,
    /// G3 IPA: efficiency of the next strictly higher threshold, 1.0 above the table (quirk 3).
    pub ipa_next_threshold: bool,
    /// G3 RMC always 1BB with kmax 90.1 MeV, whatever the options (quirk 4).
    pub rmc_always_1bb: bool,
    /// G3 CE is a Poisson draw of the expectation (quirk 5), from a stream of [`Inputs::seed`].
    pub ce_poisson: bool,
}

impl Quirks {
    /// The names accepted by [`Quirks::enable`].
    pub const NAMES: [&'static str; 4] = [
        "dio-livetime-squared",
        "ipa-next-threshold",
        "rmc-1bb",
        "ce-poisson",
    ];

    /// Every original behaviour on (`--compat`).
    pub fn original() -> Self {
        Quirks {
            dio_livetime_squared: true,
            ipa_next_threshold: true,
            rmc_always_1bb: true,
            ce_poisson: true,
        }
    }

    /// Switches on one quirk by name (see [`Quirks::NAMES`]; `all` switches on every one).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an unknown name.
    pub fn enable(&mut self, name: &str) -> Result<()> {
        match name.trim() {
            "all" => *self = Self::original(),
            "dio-livetime-squared" => self.dio_livetime_squared = true,
            "ipa-next-threshold" => self.ipa_next_threshold = true,
            "rmc-1bb" => self.rmc_always_1bb = true,
            "ce-poisson" => self.ce_poisson = true,
            other => {
                return Err(Error::InvalidArgument(format!(
                    "unknown compat quirk '{other}': expected all or one of {}",
                    Self::NAMES.join(", ")
                )));
            }
        }
        Ok(())
    }
}

/// Everything a normalisation needs (energies in MeV, times in ns).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inputs {
    /// The constant set / generation.
    pub constants: ConstantSet,
    /// The ensemble livetime.
    pub livetime: Livetime,
    /// Livetime for the cosmic samples if different (G0 run_si used `max_livetime`); `None`:
    /// [`Inputs::livetime`].
    pub cosmic_livetime: Option<Livetime>,
    /// Booster-batch mode (G2, G3; G0/G1 have one fixed beam model).
    pub beam: BeamMode,
    /// G3 POT method (`spill`, the default of every G3 normalisation, or `cycle`).
    pub pot_method: PotMethod,
    /// μ⁻ → e⁻ conversion rate per capture (`rue`).
    pub rue: f64,
    /// μ⁻ → e⁺ conversion rate per capture (`rup`; G0 and G3 CE⁺).
    pub rup: f64,
    /// RMC closure-spectrum endpoint `kmax` (MeV).
    pub kmax: f64,
    /// DIO lower energy cut `dem_emin` (MeV), `E >= emin`.
    pub dio_emin: f64,
    /// RPC lower photon-energy cut (MeV): G3 `E >= emin`; G0 (formula mode) `E − bw/2 >= emin`.
    pub rpc_emin: f64,
    /// RMC lower photon-energy cut (MeV), low-edge rule `E − 0.05 >= emin`. For G0 run_si this
    /// is `dep_emin + 1`.
    pub rmc_emin: f64,
    /// IPA Michel threshold `ipa_de_min` (MeV), G3 only.
    pub ipa_emin: f64,
    /// RPC arrival-time cut (ns): recorded; used by no normalisation (G0 run_si hard-coded RPC,
    /// G3 ignores it).
    pub tmin: f64,
    /// Stopped-particle rates (required for G1-G3; G0 has its hard-coded 0.00187).
    pub stop_rates: Option<StopRates>,
    /// Multiply `S_IPA` by 1000 like `S_μ` (quirk 2; off = the originals).
    pub ipa_stops_times_1000: bool,
    /// G0 RPC: the average pion survival probability ([`g0::rpc_survival_probability`]). `None`:
    /// run_si's hard-coded values (the original).
    pub g0_rpc_survival: Option<f64>,
    /// Original behaviours switched back on.
    pub quirks: Quirks,
    /// Seed of the CE Poisson draw (only with [`Quirks::ce_poisson`]).
    pub seed: u64,
    /// G2 (`mdc2024`) only: compute NPOT from the on-spill time, `duty · T / t_cycle ·
    /// POT_per_cycle`, as the G2 `livetime_to_pot` of the public history (3cbac588) did. Off:
    /// the SU2020 formula `T / t_cycle · POT_per_cycle` with T wall-clock.
    pub g2_pot_from_on_spill: bool,
}

impl Inputs {
    /// Inputs with the generation's default parameters ([`ConstantSet::defaults`]), `rue = rup =
    /// 0`, 1BB, spill POT, no stop rates, no quirks, seed 0.
    pub fn new(constants: ConstantSet, livetime: Livetime) -> Self {
        let d = constants.defaults();
        Inputs {
            constants,
            livetime,
            cosmic_livetime: None,
            beam: BeamMode::OneBB,
            pot_method: PotMethod::Spill,
            rue: 0.0,
            rup: 0.0,
            kmax: d.kmax,
            dio_emin: d.dio_emin,
            rpc_emin: d.rpc_emin,
            rmc_emin: d.rmc_emin,
            ipa_emin: d.ipa_emin,
            tmin: d.tmin,
            stop_rates: None,
            ipa_stops_times_1000: false,
            g0_rpc_survival: None,
            quirks: Quirks::default(),
            seed: 0,
            g2_pot_from_on_spill: false,
        }
    }

    fn validate(&self) -> Result<()> {
        self.livetime.validate()?;
        if let Some(c) = self.cosmic_livetime {
            c.validate()?;
        }
        for (name, v) in [
            ("rue", self.rue),
            ("rup", self.rup),
            ("kmax", self.kmax),
            ("dio_emin", self.dio_emin),
            ("rpc_emin", self.rpc_emin),
            ("rmc_emin", self.rmc_emin),
            ("ipa_emin", self.ipa_emin),
            ("tmin", self.tmin),
        ] {
            if !v.is_finite() {
                return Err(Error::InvalidArgument(format!(
                    "{name} must be finite, found {v}"
                )));
            }
        }
        if self.rue < 0.0 || self.rup < 0.0 {
            return Err(Error::InvalidArgument(format!(
                "conversion rates must not be negative, found rue {} rup {}",
                self.rue, self.rup
            )));
        }
        if let Some(s) = self.g0_rpc_survival
            && !(0.0..=1.0).contains(&s)
        {
            return Err(Error::InvalidArgument(format!(
                "pion survival probability must lie in [0, 1], found {s}"
            )));
        }
        Ok(())
    }

    fn stop_rates(&self) -> Result<StopRates> {
        self.stop_rates.ok_or_else(|| {
            Error::InvalidArgument(format!(
                "constant set {} needs the stopped-muon rates: give a SimEfficiencies2 CSV (--simeff FILE) or --stopped-mu-per-pot and --ipa-stops-per-pot",
                self.constants
            ))
        })
    }

    /// The G2 POT for wall-clock `t` in `mode` (SU2020 formula, or the published code's).
    fn g2_pot(&self, t: LivetimeSeconds, mode: BeamMode) -> ProtonsOnTarget {
        if self.g2_pot_from_on_spill {
            g2::pot_on_spill_clock(t, mode)
        } else {
            g2::pot(t, mode)
        }
    }

    fn s_ipa(&self, r: &StopRates) -> f64 {
        if self.ipa_stops_times_1000 {
            r.ipa_stops_per_pot * 1000.0
        } else {
            r.ipa_stops_per_pot
        }
    }
}

/// What an entry's value counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Expected number of generated events.
    Events,
    /// Seconds of (on-spill) cosmic livetime to sample (G1+ cosmics).
    CosmicLivetimeSeconds,
}

/// The normalisation of one sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// The process.
    pub process: Process,
    /// The original sample name of the generation.
    pub sample: &'static str,
    /// The expected count, or seconds of cosmic livetime (see `unit`).
    pub value: f64,
    /// What `value` counts.
    pub unit: Unit,
    /// The spectrum fraction or efficiency that entered, if any.
    pub fraction: Option<f64>,
}

/// Which DIO spectrum was used.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DioSource {
    /// A table file (path, or `<memory>`).
    Table(String),
    /// The analytic Pol58 endpoint spectrum ([`crate::dio`]).
    AnalyticPol58,
}

/// The normalisations of one generation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Normalizations {
    /// The constant set used.
    pub constants: ConstantSet,
    /// Protons on target for the livetime.
    pub pot: ProtonsOnTarget,
    /// One entry per sample, in the generation's order.
    pub entries: Vec<Entry>,
    /// The DIO spectrum used.
    pub dio_source: DioSource,
    /// Warnings (e.g. the IPA 1.0 fallback, a missing table replaced by the analytic DIO).
    pub warnings: Vec<String>,
}

impl Normalizations {
    /// The value of a sample by its original name.
    pub fn get(&self, sample: &str) -> Option<f64> {
        self.entries
            .iter()
            .find(|e| e.sample == sample)
            .map(|e| e.value)
    }

    /// The entry of a process.
    pub fn entry(&self, process: Process) -> Option<&Entry> {
        self.entries.iter().find(|e| e.process == process)
    }

    /// The flat JSON object of the CLI, pretty-printed, keys in the generation's sample order
    /// then `pot` (values formatted by `serde_json`, shortest round-trip form).
    pub fn to_json_pretty(&self) -> String {
        let mut s = String::from("{\n");
        let mut items: Vec<(String, f64)> = self
            .entries
            .iter()
            .map(|e| (e.sample.to_string(), e.value))
            .collect();
        items.push(("pot".into(), self.pot.0));
        for (i, (k, v)) in items.iter().enumerate() {
            let key = serde_json::to_string(k).expect("string serialises");
            let val = serde_json::to_string(v).expect("f64 serialises");
            s.push_str(&format!("  {key}: {val}"));
            s.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
        }
        s.push_str("}\n");
        s
    }

    /// The flat JSON object of the CLI: each sample name → value, plus `pot`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        for e in &self.entries {
            m.insert(e.sample.to_string(), serde_json::Value::from(e.value));
        }
        m.insert("pot".into(), serde_json::Value::from(self.pot.0));
        serde_json::Value::Object(m)
    }
}

/// Computes every sample normalisation of `inputs.constants`.
///
/// # Errors
/// [`Error::InvalidArgument`] for a negative or non-finite livetime or parameter, missing stop
/// rates (G1-G3), a G3 RPC/IPA table that is missing, missing pion factors (G3 RPC), or an
/// analytic DIO below [`MIN_VALID_EMIN_MEV`].
pub fn compute(inputs: &Inputs, tables: &Tables) -> Result<Normalizations> {
    inputs.validate()?;
    let mut warnings = Vec::new();
    let (pot, entries, dio_source) = match inputs.constants {
        ConstantSet::Mdc2018 => compute_g0(inputs, tables, &mut warnings)?,
        ConstantSet::Mdc2020 => compute_g1(inputs, tables, &mut warnings)?,
        ConstantSet::Mdc2024 => compute_g2(inputs, tables, &mut warnings)?,
        ConstantSet::Mds => compute_g3(inputs, tables, &mut warnings)?,
    };
    Ok(Normalizations {
        constants: inputs.constants,
        pot,
        entries,
        dio_source,
        warnings,
    })
}

/// The CE rate inverse (G3 `get_ce_rmue`, for any generation): the conversion rate per
/// capture that gives `nsig` expected CE⁻ for the livetime of `inputs`,
/// `nsig / (NPOT · S_μ · 0.609)` (G0: `nsig / (POT_per_year · 0.00187 · 0.609 · T_yr)`).
///
/// # Errors
/// As [`compute`]; also if `nsig` is negative or not finite, or the livetime is 0.
pub fn ce_rate_for_signal(inputs: &Inputs, nsig: f64) -> Result<f64> {
    inputs.validate()?;
    if !(nsig.is_finite() && nsig >= 0.0) {
        return Err(Error::InvalidArgument(format!(
            "number of signal events must be finite and non-negative, found {nsig}"
        )));
    }
    let per_unit_rate = match inputs.constants {
        ConstantSet::Mdc2018 => g0::ce(inputs.livetime.years(c0::DUTY_FACTOR), 1.0),
        ConstantSet::Mdc2020 => g1::ce(
            inputs.livetime.wall_clock(c1::DUTY_FACTOR),
            inputs.stop_rates()?.muon_stops_per_pot,
            1.0,
        ),
        ConstantSet::Mdc2024 => g2::ce(
            inputs.g2_pot(
                inputs.livetime.wall_clock(inputs.beam.duty_factor()),
                inputs.beam,
            ),
            inputs.stop_rates()?.muon_stops_per_pot,
            1.0,
        ),
        ConstantSet::Mds => {
            let pot = g3::pot(
                inputs.livetime.on_spill(inputs.beam.duty_factor()),
                inputs.beam,
                inputs.pot_method,
            );
            return if pot.0 == 0.0 {
                Err(Error::InvalidArgument(
                    "livetime is 0: no conversion rate gives a signal".into(),
                ))
            } else {
                Ok(g3::ce_rmue(
                    pot,
                    inputs.stop_rates()?.muon_stops_per_pot,
                    nsig,
                ))
            };
        }
    };
    if per_unit_rate == 0.0 {
        return Err(Error::InvalidArgument(
            "livetime is 0: no conversion rate gives a signal".into(),
        ));
    }
    Ok(nsig / per_unit_rate)
}

// ------------------------------------------------------------------------- per generation

type Computed = (ProtonsOnTarget, Vec<Entry>, DioSource);

fn entry(c: ConstantSet, p: Process, value: f64, unit: Unit, fraction: Option<f64>) -> Entry {
    Entry {
        process: p,
        sample: c.sample_name(p).expect("process belongs to the generation"),
        value,
        unit,
        fraction,
    }
}

/// The DIO fraction `E >= emin` from the generation's table, or from Pol58 when it is absent.
fn dio_fraction(
    table: Option<&Spectrum>,
    table_name: &str,
    emin: f64,
    warnings: &mut Vec<String>,
) -> Result<(f64, DioSource)> {
    if let Some(t) = table {
        let src = t
            .source()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "<memory>".into());
        return Ok((t.fraction_at_least(emin), DioSource::Table(src)));
    }
    if emin < MIN_VALID_EMIN_MEV {
        return Err(Error::InvalidArgument(format!(
            "no DIO table {table_name} given (--tables DIR): the built-in analytic spectrum is valid for dio_emin >= {MIN_VALID_EMIN_MEV} MeV, found {emin}"
        )));
    }
    warnings.push(format!(
        "DIO: no {table_name}; using the analytic Pol58 endpoint spectrum (Czarnecki et al. 2011)"
    ));
    Ok((
        Pol58::aluminium().fraction_above(emin),
        DioSource::AnalyticPol58,
    ))
}

fn compute_g0(inputs: &Inputs, tables: &Tables, warnings: &mut Vec<String>) -> Result<Computed> {
    use Process::*;
    let c = ConstantSet::Mdc2018;
    let t = inputs.livetime.years(c0::DUTY_FACTOR);
    let tc = inputs
        .cosmic_livetime
        .unwrap_or(inputs.livetime)
        .years(c0::DUTY_FACTOR);
    let (dio_frac, dio_source) = dio_fraction(
        tables.dio_czarnecki.as_ref(),
        crate::tables::DIO_CZARNECKI_FILE,
        inputs.dio_emin,
        warnings,
    )?;
    let rmc_frac = Spectrum::rmc_closure(inputs.kmax)?.fraction_low_edge_at_least(
        inputs.rmc_emin,
        crate::constants::physics::RMC_SPECTRUM_STEP_MEV,
    );
    let (rpc_ext, rpc_int, rpc_frac) = match inputs.g0_rpc_survival {
        None => (
            g0::rpc_hardcoded(t, false),
            g0::rpc_hardcoded(t, true),
            None,
        ),
        Some(surv) => {
            let rpc = tables.rpc.as_ref().ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "the G0 RPC formula needs the RPC spectrum {} (--tables DIR)",
                    crate::tables::RPC_FILE
                ))
            })?;
            let frac = rpc.fraction_low_edge_at_least(inputs.rpc_emin, rpc.first_spacing());
            (
                g0::rpc(t, surv, frac, false),
                g0::rpc(t, surv, frac, true),
                Some(frac),
            )
        }
    };
    let ev = Unit::Events;
    let entries = vec![
        entry(c, Dio, g0::dio(t, dio_frac), ev, Some(dio_frac)),
        entry(c, CeMinus, g0::ce(t, inputs.rue), ev, None),
        entry(c, CePlus, g0::ce(t, inputs.rup), ev, None),
        entry(
            c,
            RmcExternal,
            g0::rmc(t, rmc_frac, false),
            ev,
            Some(rmc_frac),
        ),
        entry(
            c,
            RmcInternal,
            g0::rmc(t, rmc_frac, true),
            ev,
            Some(rmc_frac),
        ),
        entry(c, RpcExternal, rpc_ext, ev, rpc_frac),
        entry(c, RpcInternal, rpc_int, ev, rpc_frac),
        entry(c, CosmicDayaBay, g0::dayabay(tc), ev, None),
        entry(c, CosmicCry, g0::cry(tc), ev, None),
    ];
    Ok((g0::pot(t), entries, dio_source))
}

fn compute_g1(inputs: &Inputs, tables: &Tables, warnings: &mut Vec<String>) -> Result<Computed> {
    use Process::*;
    let c = ConstantSet::Mdc2020;
    let r = inputs.stop_rates()?;
    let t: LivetimeSeconds = inputs.livetime.wall_clock(c1::DUTY_FACTOR);
    let tc = inputs
        .cosmic_livetime
        .unwrap_or(inputs.livetime)
        .wall_clock(c1::DUTY_FACTOR);
    let (frac, src) = dio_fraction(
        tables.dio_heeck.as_ref(),
        crate::tables::DIO_HEECK_FILE,
        inputs.dio_emin,
        warnings,
    )?;
    let dio = g1::dio(
        t,
        r.muon_stops_per_pot,
        frac,
        inputs.quirks.dio_livetime_squared,
    );
    let entries = vec![
        entry(c, Dio, dio, Unit::Events, Some(frac)),
        entry(
            c,
            CeMinus,
            g1::ce(t, r.muon_stops_per_pot, inputs.rue),
            Unit::Events,
            None,
        ),
        entry(
            c,
            CosmicCry,
            g1::cry(tc).0,
            Unit::CosmicLivetimeSeconds,
            None,
        ),
        entry(
            c,
            IpaMichel,
            g1::ipa_michel(t, inputs.s_ipa(&r)),
            Unit::Events,
            None,
        ),
    ];
    Ok((g1::pot(t), entries, src))
}

fn compute_g2(inputs: &Inputs, tables: &Tables, warnings: &mut Vec<String>) -> Result<Computed> {
    use Process::*;
    let c = ConstantSet::Mdc2024;
    let r = inputs.stop_rates()?;
    let mode = inputs.beam;
    let t = inputs.livetime.wall_clock(mode.duty_factor());
    let tc = inputs
        .cosmic_livetime
        .unwrap_or(inputs.livetime)
        .wall_clock(mode.duty_factor());
    let pot = inputs.g2_pot(t, mode);
    let pot_1bb = inputs.g2_pot(t, BeamMode::OneBB);
    let (frac, src) = dio_fraction(
        tables.dio_heeck.as_ref(),
        crate::tables::DIO_HEECK_FILE,
        inputs.dio_emin,
        warnings,
    )?;
    let cosmic = g2::cosmic(tc, mode).0;
    let entries = vec![
        entry(
            c,
            Dio,
            g2::dio(pot, r.muon_stops_per_pot, frac),
            Unit::Events,
            Some(frac),
        ),
        entry(
            c,
            CeMinus,
            g2::ce(pot, r.muon_stops_per_pot, inputs.rue),
            Unit::Events,
            None,
        ),
        entry(
            c,
            IpaMichel,
            g2::ipa_michel(pot_1bb, inputs.s_ipa(&r)),
            Unit::Events,
            None,
        ),
        entry(c, CosmicCry, cosmic, Unit::CosmicLivetimeSeconds, None),
        entry(c, CosmicCorsika, cosmic, Unit::CosmicLivetimeSeconds, None),
    ];
    Ok((pot, entries, src))
}

fn compute_g3(inputs: &Inputs, tables: &Tables, warnings: &mut Vec<String>) -> Result<Computed> {
    use Process::*;
    let c = ConstantSet::Mds;
    let r = inputs.stop_rates()?;
    let s_mu = r.muon_stops_per_pot;
    let mode = inputs.beam;
    let t = inputs.livetime.on_spill(mode.duty_factor());
    let tc = inputs
        .cosmic_livetime
        .unwrap_or(inputs.livetime)
        .on_spill(mode.duty_factor());
    let pot = g3::pot(t, mode, inputs.pot_method);

    // CE (expectation, or the original's Poisson draw)
    let ce_value = |rate: f64, key: u64| -> Result<f64> {
        let lambda = g3::ce(pot, s_mu, rate);
        if !inputs.quirks.ce_poisson || lambda == 0.0 {
            return Ok(lambda);
        }
        let mut rng = hep_core::rng::stream_nested(inputs.seed, &[0xCE, key]);
        let d = Poisson::new(lambda).map_err(|e| {
            Error::InvalidArgument(format!("cannot draw Poisson({lambda}) for CE: {e}"))
        })?;
        Ok(d.sample(&mut rng))
    };
    let ce_minus = ce_value(inputs.rue, 0)?;
    let ce_plus = ce_value(inputs.rup, 1)?;

    let (dio_frac, src) = dio_fraction(
        tables.dio_heeck.as_ref(),
        crate::tables::DIO_HEECK_FILE,
        inputs.dio_emin,
        warnings,
    )?;

    // RPC
    let rpc_table = tables.rpc.as_ref().ok_or_else(|| {
        Error::InvalidArgument(format!(
            "constant set mds needs the RPC spectrum {} (--tables DIR)",
            crate::tables::RPC_FILE
        ))
    })?;
    let pion = r.pion.ok_or_else(|| {
        Error::InvalidArgument(
            "constant set mds needs the pion factors for RPC: SimEfficiencies2 rows PiBeamCat, PiTargetStops, PiMinusFilter, PhysicalPionStops, PiSelectedLifeimeWeight_sampler (--simeff FILE, or all of --stopped-pi-per-pot, --pion-stops, --pion-filters, --pion-resamples and --pion-weight-sum)".into(),
        )
    })?;
    let rpc_frac = rpc_table.fraction_at_least(inputs.rpc_emin);
    let rpc = |internal: bool| {
        g3::rpc(
            pot,
            pion.stops_per_pot,
            pion.filter_efficiency(),
            pion.survival_weight(),
            rpc_frac,
            internal,
        )
    };

    // RMC (quirk 4: always 1BB and kmax 90.1)
    let (rmc_pot, kmax) = if inputs.quirks.rmc_always_1bb {
        (
            g3::pot(t, BeamMode::OneBB, inputs.pot_method),
            c3::DEFAULT_KMAX_MEV,
        )
    } else {
        (pot, inputs.kmax)
    };
    let rmc_frac = Spectrum::rmc_closure(kmax)?.fraction_low_edge_at_least(
        inputs.rmc_emin,
        crate::constants::physics::RMC_SPECTRUM_STEP_MEV,
    );

    // IPA (quirk 3)
    let ipa_table = tables.ipa.as_ref().ok_or_else(|| {
        Error::InvalidArgument(format!(
            "constant set mds needs the IPA efficiency table {} (--tables DIR)",
            crate::tables::IPA_FILE
        ))
    })?;
    let ipa_eff = if inputs.quirks.ipa_next_threshold {
        let l = ipa_table.lookup_legacy(inputs.ipa_emin);
        if l.fallback {
            warnings.push(format!(
                "IPAMichel: no threshold above ipa_emin = {} MeV; using the original's efficiency 1.0",
                inputs.ipa_emin
            ));
        }
        l.efficiency
    } else {
        ipa_table.efficiency_at(inputs.ipa_emin)
    };

    let ev = Unit::Events;
    let cosmic = g3::cosmic(tc).0;
    let entries = vec![
        entry(c, Dio, g3::dio(pot, s_mu, dio_frac), ev, Some(dio_frac)),
        entry(c, CeMinus, ce_minus, ev, None),
        entry(c, CePlus, ce_plus, ev, None),
        entry(c, RpcInternal, rpc(true), ev, Some(rpc_frac)),
        entry(c, RpcExternal, rpc(false), ev, Some(rpc_frac)),
        entry(
            c,
            RmcInternal,
            g3::rmc(rmc_pot, s_mu, rmc_frac, true),
            ev,
            Some(rmc_frac),
        ),
        entry(
            c,
            RmcExternal,
            g3::rmc(rmc_pot, s_mu, rmc_frac, false),
            ev,
            Some(rmc_frac),
        ),
        entry(
            c,
            IpaMichel,
            g3::ipa_michel(pot, inputs.s_ipa(&r), ipa_eff),
            ev,
            Some(ipa_eff),
        ),
        entry(c, CosmicCry, cosmic, Unit::CosmicLivetimeSeconds, None),
        entry(c, CosmicCorsika, cosmic, Unit::CosmicLivetimeSeconds, None),
    ];
    Ok((pot, entries, src))
}
