//! NEST v2 quanta for liquid xenon: mean photon and electron yields of an energy deposit, and
//! draws of the photon and electron numbers around them.
//!
//! The model is NEST's (`NESTCollaboration/nest`, `src/NEST.cpp`), version
//! **v2.4.5beta-19-g6f889f9** (commit `6f889f9`, 2026-07-21), the NEST built into nestpy 2.1.3,
//! against which this module is tested (`tests/yields.rs`, `tests/data/make_nest_yields.py`).
//! Only liquid xenon is implemented (NEST's `ATOM_NUM = 54`, detector not in gas).
//!
//! * [`NestModel::mean_yields`]: mean photons, mean electrons, the exciton-to-ion ratio and the
//!   Lindhard factor of a deposit of `energy_kev` at `field_v_per_cm` and `density_g_per_cm3`
//!   (NEST `NESTcalc::GetYields` and the functions it calls, see [`Interaction`]);
//! * [`NestModel::draw_quanta`]: the numbers of photons and electrons of one deposit, with the
//!   excitation/ionisation split, its Fano-like fluctuations and the (skewed) recombination
//!   fluctuations (NEST `NESTcalc::GetQuanta`), from a caller-supplied generator (use
//!   `hep_core::rng::stream(seed, key)` for reproducible draws);
//! * [`work_function`]: the W value and the exciton-to-ion ratio constant at a density
//!   (NEST `NESTcalc::WorkFunction`);
//! * [`liquid_xenon_density_g_per_cm3`]: the density of liquid xenon from temperature and
//!   pressure (NEST `NESTcalc::GetDensity`).
//!
//! Everything is a pure function of its arguments and of the [`NestModel`] value: no global state,
//! no allocation.
//!
//! # Example
//!
//! ```
//! use fax_sim::yields::{Interaction, NestModel};
//!
//! let nest = NestModel::default();
//! // A 10 keV beta at 120 V/cm in liquid xenon at 2.862 g/cm^3.
//! let mean = nest.mean_yields(Interaction::Beta, 10.0, 120.0, 2.862).unwrap();
//! assert!((mean.photon_yield - 474.96).abs() < 0.01);
//! let mut rng = hep_core::rng::stream(1, 0);
//! let q = nest.draw_quanta(&mean, 2.862, &mut rng).unwrap();
//! assert_eq!(q.photons + q.electrons, q.excitons + q.ions);
//! ```

mod quanta;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub use quanta::{FluctuationParams, Quanta};

/// The NEST version this module follows (`git describe` of `NESTCollaboration/nest`).
pub const NEST_VERSION: &str = "v2.4.5beta-19-g6f889f9";

/// Reference density of NEST's density-dependent corrections (g/cm^3), NEST `DENSITY`.
pub const NEST_REFERENCE_DENSITY_G_PER_CM3: f64 = 2.90;

/// Molar mass of natural xenon (g/mol), NEST `VDetector::molarMass` default.
pub const XENON_MOLAR_MASS_G_PER_MOL: f64 = 131.293;

/// Largest energy of one scintillation photon (keV), NEST `W_SCINT`: no yield exceeds
/// `energy / W_SCINT` quanta.
const W_SCINT_KEV: f64 = 8.5e-3;
/// Avogadro's number as NEST has it (`NEST_AVO`).
const NEST_AVOGADRO: f64 = 6.022_140_9e23;
/// Atomic number of xenon (`ATOM_NUM`).
const XENON_Z: f64 = 54.0;
/// EXO-200 W-value factor (`ZurichEXOW`): 13.7 eV-like W of NEST's default (`OldW13eV = true`).
const EXO_W_FACTOR: f64 = 1.171_626_323_2;
/// EXO-200 charge-yield boost (`ZurichEXOQ`), applied only when the EXO W factor is off.
const EXO_Q_FACTOR: f64 = 1.08;

/// The kind of energy deposit, selecting NEST's yield model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interaction {
    /// Electron recoil of a beta (and Compton scatters): NEST `NESTcalc::GetYieldBetaGR`
    /// (`GetYields` with `beta`, `CH3T`, `C14`, ...), NEST's default ER parameters.
    Beta,
    /// Photoabsorption of a gamma or x-ray: NEST `NESTcalc::GetYieldGamma` (`GetYields` with
    /// `gammaRay`).
    GammaRay,
    /// Electron recoil as a field- and energy-dependent mixture of the beta and gamma models:
    /// NEST `NESTcalc::GetYieldERWeighted` with its default energy and field parameters.
    ErWeighted,
    /// Nuclear recoil: NEST `NESTcalc::GetYieldNR` (`GetYields` with `NR`, `WIMP`, `DD`, ...).
    Nr,
    /// The 83mKr lines at 9.4 keV, 32.1 keV or both summed (41.5 keV): NEST
    /// `NESTcalc::GetYieldKr83m` with a fixed time between the two decays
    /// ([`NestModel::kr83m_delta_t_ns`]).
    Kr83m,
}

impl Interaction {
    /// All interactions, in declaration order.
    pub const ALL: [Interaction; 5] = [
        Interaction::Beta,
        Interaction::GammaRay,
        Interaction::ErWeighted,
        Interaction::Nr,
        Interaction::Kr83m,
    ];

    /// The name used in tables and on the command line (`beta`, `gamma_ray`, `er_weighted`,
    /// `nr`, `kr83m`).
    pub fn name(self) -> &'static str {
        match self {
            Interaction::Beta => "beta",
            Interaction::GammaRay => "gamma_ray",
            Interaction::ErWeighted => "er_weighted",
            Interaction::Nr => "nr",
            Interaction::Kr83m => "kr83m",
        }
    }

    /// Whether this is an electron recoil (Lindhard factor 1).
    pub fn is_electron_recoil(self) -> bool {
        self != Interaction::Nr
    }
}

impl fmt::Display for Interaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Interaction {
    type Err = Error;

    /// Parses [`Interaction::name`]; `gamma` is accepted for `gamma_ray`, `er` for `er_weighted`.
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "beta" => Ok(Interaction::Beta),
            "gamma_ray" | "gamma" | "gammaray" => Ok(Interaction::GammaRay),
            "er_weighted" | "er" => Ok(Interaction::ErWeighted),
            "nr" => Ok(Interaction::Nr),
            "kr83m" => Ok(Interaction::Kr83m),
            _ => Err(Error::InvalidArgument(format!(
                "unknown interaction `{s}` (expected beta, gamma_ray, er_weighted, nr or kr83m)"
            ))),
        }
    }
}

/// NEST's 12 nuclear-recoil mean-yield parameters (`NRYieldsParam`, defaults
/// `default_NRYieldsParam` of NEST v2.4.5), used by `NESTcalc::GetYieldNR`:
///
/// * total quanta `Nq = alpha E^beta` (E in keV);
/// * Thomas-Imel box parameter `ti = gamma F^delta (rho / 2.90)^0.3` (F in V/cm, rho in g/cm^3);
/// * charge yield per keV `Qy = 1 / (ti (E + epsilon)^zeta) * (1 - (1 + (E/eta)^lambda)^-nu)`;
/// * light yield per keV `Ly = Nq / E - Qy`, photons `Ly E (1 - (1 + (E/theta)^iota)^-xi)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NrYieldParams {
    /// `alpha` (index 0): amplitude of the total quanta (quanta per keV^beta), 11.
    pub alpha: f64,
    /// `beta` (index 1): exponent of the total quanta, 1.1.
    pub beta: f64,
    /// `gamma` (index 2): Thomas-Imel amplitude, 0.0480.
    pub gamma: f64,
    /// `delta` (index 3): Thomas-Imel field exponent, -0.0533.
    pub delta: f64,
    /// `epsilon` (index 4): energy offset of the charge yield (keV), 12.6.
    pub epsilon: f64,
    /// `eta` (index 5): low-energy roll-off of the charge yield (keV), 0.3.
    pub eta: f64,
    /// `lambda` (index 6): power of the charge roll-off, 2.
    pub lambda: f64,
    /// `theta` (index 7): low-energy roll-off of the light yield (keV), 0.3.
    pub theta: f64,
    /// `iota` (index 8): power of the light roll-off, 2.
    pub iota: f64,
    /// `zeta` (index 9): energy exponent of the charge yield, 0.5.
    pub zeta: f64,
    /// `nu` (index 10): outer power of the charge roll-off, 1.
    pub nu: f64,
    /// `xi` (index 11): outer power of the light roll-off, 1.
    pub xi: f64,
}

impl Default for NrYieldParams {
    fn default() -> Self {
        Self::from_nest_vector([
            11., 1.1, 0.0480, -0.0533, 12.6, 0.3, 2., 0.3, 2., 0.5, 1., 1.,
        ])
    }
}

impl NrYieldParams {
    /// From NEST's parameter vector, in NEST's order.
    pub fn from_nest_vector(v: [f64; 12]) -> Self {
        Self {
            alpha: v[0],
            beta: v[1],
            gamma: v[2],
            delta: v[3],
            epsilon: v[4],
            eta: v[5],
            lambda: v[6],
            theta: v[7],
            iota: v[8],
            zeta: v[9],
            nu: v[10],
            xi: v[11],
        }
    }

    /// NEST's parameter vector, in NEST's order.
    pub fn to_nest_vector(&self) -> [f64; 12] {
        [
            self.alpha,
            self.beta,
            self.gamma,
            self.delta,
            self.epsilon,
            self.eta,
            self.lambda,
            self.theta,
            self.iota,
            self.zeta,
            self.nu,
            self.xi,
        ]
    }
}

/// Mean quanta of one deposit (NEST's `YieldResult`).
///
/// `photon_yield` and `electron_yield` are mean *numbers* of quanta for the whole deposit (not per
/// keV), as NEST's `PhotonYield` and `ElectronYield`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanYields {
    /// The deposit's energy (keV).
    pub energy_kev: f64,
    /// Mean number of photons (NEST `PhotonYield`).
    pub photon_yield: f64,
    /// Mean number of electrons escaping recombination (NEST `ElectronYield`).
    pub electron_yield: f64,
    /// Exciton-to-ion ratio `Nex / Ni` (NEST `ExcitonRatio`; may be negative for NR beyond
    /// NEST's validity, which [`NestModel::draw_quanta`] handles as NEST does).
    pub exciton_ratio: f64,
    /// Lindhard factor: fraction of the energy going into quanta (1 for electron recoils).
    pub lindhard: f64,
    /// Drift field of the deposit (V/cm).
    pub field_v_per_cm: f64,
}

/// W value and exciton-to-ion constant of liquid xenon at a density (NEST's `Wvalue`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WorkFunction {
    /// Mean energy per quantum, photon or electron (eV).
    pub w_ev: f64,
    /// Exciton-to-ion ratio constant `alpha` (the high-energy ER limit of `Nex / Ni`).
    pub alpha: f64,
}

/// W value and exciton-to-ion constant at `density_g_per_cm3` (NEST v2.4.5
/// `NESTcalc::WorkFunction`):
///
/// `alpha = 0.067366 + 0.039693 rho`, `W = 18.7263 eV - 1.01e-23 eV cm^3 n_e` with the electron
/// density `n_e = rho / M N_A 54` (`M = molar_mass_g_per_mol`, `N_A = 6.0221409e23`), times
/// 1.1716263232 (EXO-200's W, NEST's default `OldW13eV = true`) when `exo200_w`.
///
/// # Errors
/// [`Error::InvalidArgument`] if the density or the molar mass is not finite and positive.
pub fn work_function(
    density_g_per_cm3: f64,
    molar_mass_g_per_mol: f64,
    exo200_w: bool,
) -> Result<WorkFunction> {
    check_positive("density_g_per_cm3", density_g_per_cm3)?;
    check_positive("molar_mass_g_per_mol", molar_mass_g_per_mol)?;
    Ok(work_function_unchecked(
        density_g_per_cm3,
        molar_mass_g_per_mol,
        exo200_w,
    ))
}

fn work_function_unchecked(density: f64, molar_mass: f64, exo200_w: bool) -> WorkFunction {
    let alpha = 0.067366 + density * 0.039693;
    let electron_density = density / molar_mass * NEST_AVOGADRO * XENON_Z;
    let mut w_ev = 18.7263 - 1.01e-23 * electron_density;
    if exo200_w {
        w_ev *= EXO_W_FACTOR;
    }
    WorkFunction { w_ev, alpha }
}

/// Density of liquid xenon (g/cm^3) at `temperature_k` (K) and `pressure_bar` (bar absolute),
/// NEST v2.4.5 `NESTcalc::GetDensity`: a fit to NIST saturated-liquid data in temperature only;
/// the pressure decides only the phase (liquid if at or above the vapour pressure
/// `10^(4.0519 - 667.16 / T)` bar).
///
/// # Errors
/// [`Error::InvalidArgument`] for non-finite or non-positive input, and where NEST would not give
/// the liquid: below 161.40 K (solid; NEST returns 3.41 g/cm^3 with a warning), at or above
/// 289.7 K (above the critical temperature) or below the vapour pressure (gas).
#[allow(clippy::excessive_precision)] // NEST's fit constants, digit for digit
pub fn liquid_xenon_density_g_per_cm3(temperature_k: f64, pressure_bar: f64) -> Result<f64> {
    check_positive("temperature_k", temperature_k)?;
    check_positive("pressure_bar", pressure_bar)?;
    if temperature_k < 161.40 {
        return Err(Error::InvalidArgument(format!(
            "xenon is solid at {temperature_k} K (below 161.40 K)"
        )));
    }
    if temperature_k >= 289.7 {
        return Err(Error::InvalidArgument(format!(
            "no liquid xenon at {temperature_k} K (at or above 289.7 K)"
        )));
    }
    let vapour_pressure_bar = 10f64.powf(4.0519 - 667.16 / temperature_k);
    if pressure_bar < vapour_pressure_bar {
        return Err(Error::InvalidArgument(format!(
            "xenon is gas at {temperature_k} K and {pressure_bar} bar (vapour pressure \
             {vapour_pressure_bar:.4} bar)"
        )));
    }
    let t = temperature_k;
    let gauss = |centre: f64, width: f64| (-((t - centre) / width).powi(2)).exp();
    Ok(
        2.997_093_808_469_133e2 * (-8.259_886_471_432_352e-2 * t).exp()
            - 1.880_128_658_944_291_5e6
                * gauss(4.082_025_127_617_221_2e2, 2.786_317_022_315_484_6e1)
            - 5.496_450_635_174_305_7e3
                * gauss(6.368_859_734_504_267_2e2, 1.122_581_885_366_181_5e2)
            + 8.345_053_837_068_261_4e2
                * gauss(-4.884_056_892_459_734_2e1, 7.380_414_717_207_110_7e3)
            - 8.308_631_040_594_226_5e2,
    )
}

/// NEST's yield and fluctuation model for liquid xenon, with its parameters.
///
/// `Default` is NEST v2.4.5's defaults as nestpy 2.1.3 uses them with its default detector
/// (`VDetector`): [`NrYieldParams::default`], [`FluctuationParams::default`], the LUX skewness
/// model for ER, EXO-200's W value, natural xenon, and a recoiling nucleus of mass number 131
/// (nestpy's `GetYields` default `A = 131.293`, which NEST truncates to 131).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NestModel {
    /// NR mean-yield parameters (NEST `NRYieldsParam`).
    pub nr: NrYieldParams,
    /// Fluctuation parameters (NEST `NRERWidthsParam`).
    pub fluctuations: FluctuationParams,
    /// Fixed skewness of the ER recombination fluctuations (NEST `GetQuanta`'s `SkewnessER`);
    /// `None` (NEST's -999) uses the LUX energy- and field-dependent skewness model.
    pub er_skewness: Option<f64>,
    /// Mass number of the recoiling nucleus for NR (NEST `GetYieldNR`'s `massNum`, truncated to an
    /// integer as NEST does): yields scale with `sqrt(molar_mass / A)`. 131 by default.
    pub nr_mass_number: u32,
    /// Molar mass of the xenon (g/mol), 131.293 (NEST `VDetector::molarMass`).
    pub molar_mass_g_per_mol: f64,
    /// EXO-200's W value (NEST `VDetector::OldW13eV`, default `true`): W times 1.1716263232.
    /// With `false`, W is not scaled and the ER/NR charge yields get EXO-200's 1.08 boost.
    pub exo200_w: bool,
    /// Time between the two 83mKr decays (ns) for the 9.4 keV and summed 41.5 keV lines
    /// (NEST `GetYieldKr83m` with `minTimeSeparation = maxTimeSeparation`), 1000 ns.
    pub kr83m_delta_t_ns: f64,
}

impl Default for NestModel {
    fn default() -> Self {
        Self {
            nr: NrYieldParams::default(),
            fluctuations: FluctuationParams::default(),
            er_skewness: None,
            nr_mass_number: 131,
            molar_mass_g_per_mol: XENON_MOLAR_MASS_G_PER_MOL,
            exo200_w: true,
            kr83m_delta_t_ns: 1000.0,
        }
    }
}

fn check_positive(name: &str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "{name} must be finite and positive, got {value}"
        )))
    }
}

/// `1 / (1 + (x / scale)^power)` (the logistic-in-log steps of NEST's fits).
#[inline]
fn step_down(x: f64, scale: f64, power: f64) -> f64 {
    1.0 / (1.0 + (x / scale).powf(power))
}

impl NestModel {
    /// W value and exciton-to-ion constant of this model at `density` (unchecked).
    #[inline]
    fn w(&self, density: f64) -> WorkFunction {
        work_function_unchecked(density, self.molar_mass_g_per_mol, self.exo200_w)
    }

    /// Mean quanta of a deposit of `energy_kev` (keV) by `interaction` at drift field
    /// `field_v_per_cm` (V/cm) in liquid xenon of density `density_g_per_cm3` (g/cm^3): NEST v2.4.5
    /// `NESTcalc::GetYields` (see [`Interaction`] for the function per interaction), then
    /// `NESTcalc::YieldResultValidity` (each yield at most `energy / 8.5 eV`, at least 0; Lindhard
    /// factor in [0, 1]; no quanta below `W / L`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if energy, field or density is not finite and positive, if the
    /// model's molar mass, NR mass number or 83mKr time separation is invalid, for 83mKr outside
    /// its lines (NEST's windows (9.35, 9.45) and [32.0, 32.2) keV, and 41.5 +- 0.1 keV for the
    /// sum, which NEST assumes for any other energy), and if the model gives a non-finite value
    /// (outside NEST's domain).
    pub fn mean_yields(
        &self,
        interaction: Interaction,
        energy_kev: f64,
        field_v_per_cm: f64,
        density_g_per_cm3: f64,
    ) -> Result<MeanYields> {
        check_positive("energy_kev", energy_kev)?;
        check_positive("field_v_per_cm", field_v_per_cm)?;
        check_positive("density_g_per_cm3", density_g_per_cm3)?;
        check_positive("molar_mass_g_per_mol", self.molar_mass_g_per_mol)?;
        let (e, f, rho) = (energy_kev, field_v_per_cm, density_g_per_cm3);
        let y = match interaction {
            Interaction::Beta => self.beta(e, f, rho),
            Interaction::GammaRay => self.gamma(e, f, rho),
            Interaction::ErWeighted => self.er_weighted(e, f, rho),
            Interaction::Nr => {
                if self.nr_mass_number == 0 {
                    return Err(Error::InvalidArgument(
                        "nr_mass_number must be positive".into(),
                    ));
                }
                self.nr(e, f, rho)
            }
            Interaction::Kr83m => {
                let dt = self.kr83m_delta_t_ns;
                if !(dt.is_finite() && dt >= 0.0) {
                    return Err(Error::InvalidArgument(format!(
                        "kr83m_delta_t_ns must be finite and >= 0, got {dt}"
                    )));
                }
                let line = if e > 9.35 && e < 9.45 {
                    KrLine::Kev9
                } else if (32.0..32.2).contains(&e) {
                    KrLine::Kev32
                } else if (e - 41.5).abs() <= 0.1 {
                    KrLine::Kev41
                } else {
                    return Err(Error::InvalidArgument(format!(
                        "83mKr has lines at 9.4, 32.1 and 41.5 keV, not {e} keV"
                    )));
                };
                self.kr83m(e, line, f, rho)
            }
        };
        let all_finite = [
            y.photon_yield,
            y.electron_yield,
            y.exciton_ratio,
            y.lindhard,
        ]
        .iter()
        .all(|v| v.is_finite());
        if !all_finite {
            return Err(Error::InvalidArgument(format!(
                "NEST's {interaction} model is not defined at {e} keV, {f} V/cm, {rho} g/cm^3"
            )));
        }
        Ok(y)
    }

    /// NEST v2.4.5 `NESTcalc::YieldResultValidity`.
    fn validated(
        energy: f64,
        w_ev: f64,
        photons: f64,
        electrons: f64,
        exciton_ratio: f64,
        lindhard: f64,
        field: f64,
    ) -> MeanYields {
        let max_quanta = energy / W_SCINT_KEV;
        let mut photon_yield = photons.min(max_quanta).max(0.0);
        let mut electron_yield = electrons.min(max_quanta).max(0.0);
        let lindhard = lindhard.clamp(0.0, 1.0);
        if energy < 1e-3 * w_ev / lindhard {
            photon_yield = 0.0;
            electron_yield = 0.0;
        }
        MeanYields {
            energy_kev: energy,
            photon_yield,
            electron_yield,
            exciton_ratio,
            lindhard,
            field_v_per_cm: field,
        }
    }

    /// ER exciton-to-ion ratio `alpha erf(E / 20 keV)` (NEST `NESTcalc::NexONi`).
    #[inline]
    fn er_exciton_ratio(alpha: f64, energy: f64) -> f64 {
        alpha * libm::erf(0.05 * energy)
    }

    /// Betas: NEST v2.4.5 `NESTcalc::GetYieldBetaGR` with the default `ERYieldsParam` (all
    /// field-dependent forms, density correction on). Charge yield per keV
    /// `Qy = m1 + (m2 - m1) / (1 + (E/m3)^m4)^m9 + m5 - m5 / (1 + (E/m7)^m8)^m10`, with
    /// field-dependent `m1, m3, m4, m7, m10`, `m5 = Nq/E / (1 + alpha erf(E/20)) - m1`, then
    /// scaled by `log(1 + c rho^1.7) rho^-1.7` normalised at 2.90 g/cm^3
    /// (`c = 2.90^-0.3 2.90^-1.4`); photons are the rest of `Nq = E / W`.
    fn beta(&self, e: f64, f: f64, rho: f64) -> MeanYields {
        let w = self.w(rho);
        let nq = e * 1e3 / w.w_ev;
        let m01 = 30.66 + (6.1978 - 30.66) * step_down(f, 73.855, 2.0318).powf(0.41883);
        let m02 = 77.293_108_4;
        let m03 = f.log10() * 0.139_462_36 + 0.525_613_12;
        let m04 = 1.822_174_96
            + (2.825_288_09 - 1.822_174_96) * step_down(f, 144.650_296_56, -2.805_320_06);
        let m05 = nq / e / (1.0 + w.alpha * libm::erf(0.05 * e)) - m01;
        let m07 = 7.029_213_01
            + (98.279_367_94 - 7.029_213_01) * step_down(f, 256.481_564_48, 1.291_192_51);
        let m08 = 4.285_781_736;
        let m09 = 0.334_404_958_9;
        let m10 = 0.050_827_393_7
            + (0.116_608_719_9 - 0.050_827_393_7) * step_down(f, 1.392_604_60e2, -0.657_635_92);
        let mut qy = m01 + (m02 - m01) * step_down(e, m03, m04).powf(m09) + m05
            - m05 * step_down(e, m07, m08).powf(m10);
        let rho0 = NEST_REFERENCE_DENSITY_G_PER_CM3;
        let c = (1.0 / rho0).powf(0.3) * (1.0 / rho0).powf(1.4);
        let norm = rho0.powf(1.7) / (1.0 + c * rho0.powf(1.7)).ln();
        qy *= norm * (1.0 + c * rho.powf(1.7)).ln() * rho.powf(-1.7);
        if !self.exo200_w {
            qy *= EXO_Q_FACTOR;
        }
        let ly = nq / e - qy;
        Self::validated(
            e,
            w.w_ev,
            ly * e,
            qy * e,
            Self::er_exciton_ratio(w.alpha, e),
            1.0,
            f,
        )
    }

    /// Gammas (photoabsorption): NEST v2.4.5 `NESTcalc::GetYieldGamma`. Charge yield per keV
    /// `Qy = m1 + (1000/W - m1) / (1 + (E/2)^2) + m5 - m5 / (1 + (E/m7)^2)` with
    /// `m1 = 33.951 + (3.3284 - 33.951) / (1 + (F/165.34)^0.72665)`,
    /// `m5 = 23.156 + (10.737 - 23.156) / (1 + (F/34.195)^0.87459)`,
    /// `m7 = 66.825 + (829.25 - 66.825) / (1 + (F / (240720 rho^-8.2076))^0.83344)`.
    fn gamma(&self, e: f64, f: f64, rho: f64) -> MeanYields {
        let w = self.w(rho);
        let m1 = 33.951 + (3.3284 - 33.951) * step_down(f, 165.34, 0.72665);
        let m2 = 1000.0 / w.w_ev;
        let m5 = 23.156 + (10.737 - 23.156) * step_down(f, 34.195, 0.87459);
        let dens_corr = 240_720.0 / rho.powf(8.2076);
        let m7 = 66.825 + (829.25 - 66.825) * step_down(f, dens_corr, 0.83344);
        let nq = e * 1000.0 / w.w_ev;
        let mut qy = m1 + (m2 - m1) * step_down(e, 2.0, 2.0) + m5 - m5 * step_down(e, m7, 2.0);
        if !self.exo200_w {
            qy *= EXO_Q_FACTOR;
        }
        let ly = nq / e - qy;
        Self::validated(
            e,
            w.w_ev,
            ly * e,
            qy * e,
            Self::er_exciton_ratio(w.alpha, e),
            1.0,
            f,
        )
    }

    /// Weighted ER: NEST v2.4.5 `NESTcalc::GetYieldERWeighted` with its default `EnergyParams`
    /// `{0.23, 0.77, 2.95, -1.44}` and `FieldParams` `{421.15, 3.27}`: gamma weight
    /// `0.23 + 0.77 erf(2.95 (ln E - 1.44)) (1 - 1 / (1 + (F/421.15)^3.27))`, the beta weight the
    /// rest, each model's validated yields mixed linearly.
    fn er_weighted(&self, e: f64, f: f64, rho: f64) -> MeanYields {
        let b = self.beta(e, f, rho);
        let g = self.gamma(e, f, rho);
        let wg =
            0.23 + 0.77 * libm::erf(2.95 * (e.ln() - 1.44)) * (1.0 - step_down(f, 421.15, 3.27));
        let wb = 1.0 - wg;
        let mix = |x: f64, y: f64| wg * x + wb * y;
        Self::validated(
            e,
            self.w(rho).w_ev,
            mix(g.photon_yield, b.photon_yield),
            mix(g.electron_yield, b.electron_yield),
            mix(g.exciton_ratio, b.exciton_ratio),
            mix(g.lindhard, b.lindhard),
            mix(g.field_v_per_cm, b.field_v_per_cm),
        )
    }

    /// Nuclear recoils: NEST v2.4.5 `NESTcalc::GetYieldNR` (formulae at [`NrYieldParams`]).
    /// Both yields are scaled by `sqrt(molar_mass / A)`; the exciton-to-ion ratio comes from
    /// inverting the Thomas-Imel recombination `Ni = 4/ti (exp(Ne ti / 4) - 1)`, `Nex = Nq - Ni`,
    /// and is set to `alpha` above 100 keV if smaller and to 1 below 1 keV if larger; the
    /// Lindhard factor is `Nq W / E`.
    fn nr(&self, e: f64, f: f64, rho: f64) -> MeanYields {
        let p = &self.nr;
        let scale = (self.molar_mass_g_per_mol / f64::from(self.nr_mass_number)).sqrt();
        let mut nq = p.alpha * e.powf(p.beta);
        if !self.exo200_w {
            nq *= EXO_W_FACTOR;
        }
        let ti = p.gamma * f.powf(p.delta) * (rho / NEST_REFERENCE_DENSITY_G_PER_CM3).powf(0.3);
        let mut qy = 1.0 / (ti * (e + p.epsilon).powf(p.zeta))
            * (1.0 - step_down(e, p.eta, p.lambda).powf(p.nu));
        if !self.exo200_w {
            qy *= EXO_Q_FACTOR;
        }
        let ly = (nq / e - qy).max(0.0);
        let qy = qy.max(0.0);
        let ne = qy * e * scale;
        let nph = ly * e * scale * (1.0 - step_down(e, p.theta, p.iota).powf(p.xi));
        let nq = nph + ne;
        let ni = 4.0 / ti * ((ne * ti / 4.0).exp() - 1.0);
        let mut ratio = (nq - ni) / ni;
        let w = self.w(rho);
        if ratio < w.alpha && e > 1e2 {
            ratio = w.alpha;
        }
        if ratio > 1.0 && e < 1.0 {
            ratio = 1.0;
        }
        let lindhard = nq / e * w.w_ev * 1e-3;
        Self::validated(e, w.w_ev, nph, ne, ratio, lindhard, f)
    }

    /// 83mKr: NEST v2.4.5 `NESTcalc::GetYieldKr83m` at a fixed decay separation `dt`. 9.4 keV:
    /// photons `9.4 (a1 a2 F ln(1 + 1/(a2 F)) + a3)` with `a1 = -19.575`, `a2 = 5.823e-4`,
    /// `a3 = min(69.986 + 3e5 / dt^2, 87)`, electrons the rest of `9.4 keV / W` (at least 0).
    /// 32.1 keV: photons of the cascade as gamma-model sums
    /// `0.76 (g30 + g2) + 0.15 (g18 + g12 + g2) + 0.09 (g18 + g10 + 2 g2)` (`gE` = photons of
    /// [`Interaction::GammaRay`] at E keV), electrons `32 keV / W` minus photons. 41.5 keV: the
    /// sum of both.
    fn kr83m(&self, e: f64, line: KrLine, f: f64, rho: f64) -> MeanYields {
        let w = self.w(rho);
        let dt = self.kr83m_delta_t_ns;
        let nq_9 = 9.4e3 / w.w_ev;
        let (a1, a2) = (-19.575f64, 5.823e-4);
        let a3 = (69.986 + 3e5 / (dt * dt)).min(87.0);
        let nph_9 = 9.4 * (a1 * a2 * f * (1.0 + 1.0 / (a2 * f)).ln() + a3);
        let ne_9 = (nq_9 - nph_9).max(0.0);
        let g = |energy: f64| self.gamma(energy, f, rho).photon_yield;
        let (g2, g10, g12, g18, g30) = (g(2.0), g(10.0), g(12.0), g(18.0), g(30.0));
        let nph_32 = 0.76 * (g30 + g2) + 0.15 * (g18 + g12 + g2) + 0.09 * (g18 + g10 + g2 + g2);
        let ne_32 = 32e3 / w.w_ev - nph_32;
        let (mut nph, mut ne) = match line {
            KrLine::Kev9 => (nph_9, ne_9),
            KrLine::Kev32 => (nph_32, ne_32),
            KrLine::Kev41 => (nph_9 + nph_32, ne_9 + ne_32),
        };
        if !self.exo200_w {
            let total = nph + ne;
            ne *= EXO_Q_FACTOR;
            nph = total - ne;
        }
        Self::validated(
            e,
            w.w_ev,
            nph,
            ne,
            Self::er_exciton_ratio(w.alpha, e),
            1.0,
            f,
        )
    }
}

#[derive(Debug, Clone, Copy)]
enum KrLine {
    Kev9,
    Kev32,
    Kev41,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_input_is_an_error() {
        let m = NestModel::default();
        for (e, f, rho) in [
            (-1.0, 100.0, 2.9),
            (0.0, 100.0, 2.9),
            (10.0, 0.0, 2.9),
            (10.0, 100.0, 0.0),
            (f64::NAN, 100.0, 2.9),
            (10.0, f64::INFINITY, 2.9),
        ] {
            for i in Interaction::ALL {
                assert!(m.mean_yields(i, e, f, rho).is_err(), "{i} {e} {f} {rho}");
            }
        }
        assert!(m.mean_yields(Interaction::Kr83m, 20.0, 100.0, 2.9).is_err());
        assert!(work_function(0.0, 131.293, true).is_err());
        assert!(liquid_xenon_density_g_per_cm3(150.0, 2.0).is_err());
        assert!(liquid_xenon_density_g_per_cm3(177.0, 0.5).is_err());
        assert!(liquid_xenon_density_g_per_cm3(-1.0, 2.0).is_err());
    }

    #[test]
    fn interaction_names_round_trip() {
        for i in Interaction::ALL {
            assert_eq!(i.name().parse::<Interaction>().unwrap(), i);
        }
        assert_eq!(
            "gamma".parse::<Interaction>().unwrap(),
            Interaction::GammaRay
        );
        assert!("alpha".parse::<Interaction>().is_err());
    }

    #[test]
    fn nr_parameter_vector_round_trips() {
        let p = NrYieldParams::default();
        assert_eq!(NrYieldParams::from_nest_vector(p.to_nest_vector()), p);
    }
}

/// How `fax-sim yields` prints its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum YieldsFormat {
    /// One pretty-printed JSON object.
    #[default]
    Json,
    /// A CSV header and one row.
    Csv,
}

/// Configuration of `fax-sim yields`: one deposit whose mean quanta [`NestModel::default`] gives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct YieldsConfig {
    /// The kind of deposit. Required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interaction: Option<Interaction>,
    /// Deposited energy (keV, > 0). Required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub energy_kev: Option<f64>,
    /// Drift field (V/cm, > 0). Required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field_v_per_cm: Option<f64>,
    /// Liquid-xenon density (g/cm^3); 2.862 by default (NEST's `DENSITY` for XENON1T's
    /// `detector.hh`).
    pub density_g_per_cm3: f64,
    /// Output format.
    pub format: YieldsFormat,
}

impl Default for YieldsConfig {
    fn default() -> Self {
        Self {
            interaction: None,
            energy_kev: None,
            field_v_per_cm: None,
            density_g_per_cm3: 2.862,
            format: YieldsFormat::Json,
        }
    }
}

/// The row `fax-sim yields` prints: the deposit and its mean quanta.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct YieldsRow {
    /// [`Interaction::name`].
    pub interaction: &'static str,
    /// Deposited energy (keV).
    pub energy_kev: f64,
    /// Drift field (V/cm).
    pub field_v_per_cm: f64,
    /// Liquid-xenon density (g/cm^3).
    pub density_g_per_cm3: f64,
    /// Mean number of photons of the deposit.
    pub photon_yield: f64,
    /// Mean number of electrons of the deposit.
    pub electron_yield: f64,
    /// Exciton-to-ion ratio.
    pub exciton_ratio: f64,
    /// Lindhard factor.
    pub lindhard: f64,
    /// The NEST version the model follows ([`NEST_VERSION`]).
    pub nest_version: &'static str,
}

impl YieldsRow {
    /// The row as `format` prints it (ending in a newline).
    ///
    /// # Errors
    /// Never in practice (JSON or CSV of plain numbers and names).
    pub fn render(&self, format: YieldsFormat) -> Result<String> {
        match format {
            YieldsFormat::Json => serde_json::to_string_pretty(self)
                .map(|s| s + "\n")
                .map_err(|e| Error::InvalidArgument(format!("yields as JSON: {e}"))),
            YieldsFormat::Csv => {
                let mut w = csv::Writer::from_writer(Vec::new());
                w.serialize(self)
                    .map_err(|e| Error::InvalidArgument(format!("yields as CSV: {e}")))?;
                let bytes = w
                    .into_inner()
                    .map_err(|e| Error::InvalidArgument(format!("yields as CSV: {e}")))?;
                String::from_utf8(bytes)
                    .map_err(|e| Error::InvalidArgument(format!("yields as CSV: {e}")))
            }
        }
    }
}

/// `fax-sim yields`: the mean quanta of the configured deposit ([`NestModel::mean_yields`] of
/// the default model).
///
/// # Errors
/// [`Error::InvalidArgument`] for a missing interaction, energy or field, and as
/// [`NestModel::mean_yields`].
pub fn yields(cfg: &YieldsConfig) -> Result<YieldsRow> {
    let missing = |what: &str, key: &str| {
        Error::InvalidArgument(format!(
            "missing {what}: give it on the command line or as `{key}` in the configuration"
        ))
    };
    let kind = cfg
        .interaction
        .ok_or_else(|| missing("--interaction", "interaction"))?;
    let energy_kev = cfg
        .energy_kev
        .ok_or_else(|| missing("--energy-kev", "energy_kev"))?;
    let field = cfg
        .field_v_per_cm
        .ok_or_else(|| missing("--field-v-per-cm", "field_v_per_cm"))?;
    let y = NestModel::default().mean_yields(kind, energy_kev, field, cfg.density_g_per_cm3)?;
    Ok(YieldsRow {
        interaction: kind.name(),
        energy_kev,
        field_v_per_cm: field,
        density_g_per_cm3: cfg.density_g_per_cm3,
        photon_yield: y.photon_yield,
        electron_yield: y.electron_yield,
        exciton_ratio: y.exciton_ratio,
        lindhard: y.lindhard,
        nest_version: NEST_VERSION,
    })
}
