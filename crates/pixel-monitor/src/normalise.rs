//! Normalisation of leakage currents: to a reference temperature, per read-out chip, per sensor
//! volume, and layer averages (`currents/helpers.py` of PixelMonitoring).
//!
//! # Temperature scaling
//!
//! The bulk generation current scales as I ∝ T² exp(−E_eff / (2 k_B T)), so
//! I(T_ref) = I(T) · (T_ref/T)² · exp[−(E_eff / 2k_B) · (1/T_ref − 1/T)], both temperatures in
//! kelvin, with E_eff = 1.21 eV (A. Chilingarov, JINST 8 (2013) P10003). k_B is CODATA 2018
//! (8.617333262e-5 eV/K) by default and the original's 8.6173324e-5 eV/K with the
//! `boltzmann_2010` switch. The operations run in the original's order
//! (`I · ratio² · exp(a · b)`), so the compatibility mode gives its digits.
//!
//! # Per read-out chip and per volume
//!
//! Per ROC: I / N_ROC. Per volume: I / (N_ROC · V_ROC) with V_ROC = 0.01869885 cm³ (0.81 × 0.81
//! × 0.0285 cm³, see [`crate::constants::ROC_VOLUME_CM3`]); a 16-ROC module is 0.2991816 cm³.
//! The two are exclusive.

use serde::{Deserialize, Serialize};

use crate::constants::{E_G_EFF_EV, ROC_VOLUME_CM3};

/// How a leakage current is normalised.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Normalisation {
    /// The current of the readout group (µA).
    #[default]
    None,
    /// Per read-out chip (µA per ROC).
    PerRoc,
    /// Per sensor volume (µA per cm³).
    PerVolume,
}

impl Normalisation {
    /// The normalised current of a readout group with `n_rocs` chips.
    pub fn apply(self, current: f64, n_rocs: u32) -> f64 {
        match self {
            Normalisation::None => current,
            Normalisation::PerRoc => current / f64::from(n_rocs),
            Normalisation::PerVolume => per_volume(current, n_rocs),
        }
    }

    /// The unit suffix of the normalised current: `""`, `" / ROC"` or `" / cm^3"`.
    pub fn unit_suffix(self) -> &'static str {
        match self {
            Normalisation::None => "",
            Normalisation::PerRoc => " / ROC",
            Normalisation::PerVolume => " / cm^3",
        }
    }
}

/// The current per sensor volume: I / (N_ROC · V_ROC) (`normalize_leakage_current_to_unit_volume`).
pub fn per_volume(current: f64, n_rocs: u32) -> f64 {
    current / (f64::from(n_rocs) * ROC_VOLUME_CM3)
}

/// The current scaled from `t_meas_k` to `t_ref_k` with E_eff = 1.21 eV and `k_b` (eV/K)
/// (`normalize_leakage_current_to_temperature`).
pub fn scale_to_temperature(current: f64, t_meas_k: f64, t_ref_k: f64, k_b: f64) -> f64 {
    scale_to_temperature_with(current, t_meas_k, t_ref_k, E_G_EFF_EV, k_b)
}

/// As [`scale_to_temperature`] with an explicit effective band gap `e_eff_ev` (eV).
pub fn scale_to_temperature_with(
    current: f64,
    t_meas_k: f64,
    t_ref_k: f64,
    e_eff_ev: f64,
    k_b: f64,
) -> f64 {
    let a = -e_eff_ev / (2.0 * k_b);
    let b = (1.0 / t_ref_k) - (1.0 / t_meas_k);
    let ratio = t_ref_k / t_meas_k;
    current * (ratio * ratio) * (a * b).exp()
}

/// The arithmetic mean of `values` in their order (the y of `plot_currents`); `None` for none.
pub fn layer_average(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    Some(values.iter().fold(0.0, |a, b| a + b) / values.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constants::{K_B_EV_PER_K, ZERO_CELSIUS_K};

    fn ratio(t_to_c: f64, t_from_c: f64) -> f64 {
        scale_to_temperature(
            1.0,
            t_from_c + ZERO_CELSIUS_K,
            t_to_c + ZERO_CELSIUS_K,
            K_B_EV_PER_K,
        )
    }

    #[test]
    fn chilingarov_factors() {
        // I(20 C)/I(-20 C) = 59.00, I(0 C)/I(-20 C) = 8.870, I(20 C)/I(0 C) = 6.652.
        assert!(
            (ratio(20.0, -20.0) - 59.00).abs() < 0.005,
            "{}",
            ratio(20.0, -20.0)
        );
        assert!(
            (ratio(0.0, -20.0) - 8.870).abs() < 0.0005,
            "{}",
            ratio(0.0, -20.0)
        );
        assert!(
            (ratio(20.0, 0.0) - 6.652).abs() < 0.0005,
            "{}",
            ratio(20.0, 0.0)
        );
        // About x2 per 7 K near room temperature.
        let r7 = ratio(27.0, 20.0);
        assert!(r7 > 1.8 && r7 < 2.2, "{r7}");
    }

    #[test]
    fn volumes() {
        assert!((16.0 * ROC_VOLUME_CM3 - 0.2991816).abs() < 1e-12);
        assert!((Normalisation::PerVolume.apply(0.2991816, 16) - 1.0).abs() < 1e-12);
        assert_eq!(Normalisation::PerRoc.apply(48.0, 48), 1.0);
        assert_eq!(layer_average(&[1.0, 2.0, 6.0]), Some(3.0));
        assert_eq!(layer_average(&[]), None);
    }
}
