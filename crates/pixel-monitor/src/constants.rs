//! Physical and detector constants, each with its source.

/// Boltzmann constant (eV/K), CODATA 2018 (exact since the 2019 SI redefinition):
/// k_B = 1.380649e-23 J/K / 1.602176634e-19 J/eV = 8.617333262...e-5 eV/K.
pub const K_B_EV_PER_K: f64 = 8.617_333_262e-5;

/// The Boltzmann constant (eV/K) of the original, `K_B` in PixelMonitoring
/// `src/utils/constants.py` (CODATA 2010), used with the `boltzmann_2010` compatibility switch.
pub const K_B_EV_PER_K_2010: f64 = 8.617_332_4e-5;

/// Effective band-gap energy (eV) of the leakage-current temperature scaling
/// I ∝ T² exp(−E_eff / (2 k_B T)): E_eff = 1.214 ± 0.014 eV rounded to 1.21 eV, A. Chilingarov,
/// "Temperature dependence of the current generated in Si bulk", JINST 8 (2013) P10003; the value
/// of `E_G_EFF` in PixelMonitoring `src/utils/constants.py`.
pub const E_G_EFF_EV: f64 = 1.21;

/// 0 °C in kelvin.
pub const ZERO_CELSIUS_K: f64 = 273.15;

/// Active volume of one Phase-1 read-out chip's sensor area (cm³): 52 columns (2 of 300 µm, 50 of
/// 150 µm) by 80 rows (1 of 200 µm, 79 of 100 µm) is 0.81 × 0.81 cm², times the 285 µm sensor
/// thickness (PixelMonitoring `src/currents/helpers.py`,
/// `normalize_leakage_current_to_unit_volume`; CMS Tracker Group, JINST 16 (2021) P02027).
pub const ROC_VOLUME_CM3: f64 = 0.018_698_85;

/// Read-out chips per Phase-1 module (2 × 8), JINST 16 (2021) P02027.
pub const ROCS_PER_MODULE: u32 = 16;

/// Sensor thickness of the Phase-1 pixel modules (cm), JINST 16 (2021) P02027.
pub const SENSOR_THICKNESS_CM: f64 = 0.0285;

/// The "not available" value of the radiation profile's fill and current columns
/// (`NA_VALUE` of PixelMonitoring `src/radiation_simulation/prepare_profile.py`).
pub const PROFILE_NA: i64 = -999;

/// Collisions per (fb⁻¹ · mb): 1 fb⁻¹ = 1e39 cm⁻², 1 mb = 1e-27 cm², so L·σ = 1e12 L/fb⁻¹ · σ/mb.
pub const COLLISIONS_PER_FB_MB: f64 = 1e12;
