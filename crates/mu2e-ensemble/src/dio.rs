//! The built-in analytic DIO endpoint spectrum (used when no DIO table is given).
//!
//! Near the endpoint the electron spectrum of muon decay in orbit in aluminium is the polynomial
//! (Czarnecki, Garcia i Tormo, Marciano, Phys. Rev. D 84, 013006 (2011), the "Pol58" form of
//! Offline `Mu2eUtilities/src/CzarneckiSpectrum.cc`)
//!
//! ```text
//! (1/Γ₀) dΓ/dE = a5 δ⁵ + a6 δ⁶ + a7 δ⁷ + a8 δ⁸,   δ = E_μ − E − E²/(2 M_N)
//! (a5..a8) = (8.64340e-17, 1.16874e-17, −1.87828e-19, 9.16327e-20) MeV⁻⁶..MeV⁻⁹
//! ```
//!
//! with `E_μ` = 105.194 MeV (Al, Offline `globalConstants_01.txt`) and `M_N` the ²⁷Al nuclear
//! mass. It is normalised to the free muon decay rate `Γ₀`; the bound decay rate in Al differs
//! from `Γ₀` by well under 1 %, which is neglected, so its integral above `emin` is the fraction of
//! DIO decays above `emin`.
//!
//! **Validity:** the expansion describes the last ~20 MeV of the spectrum. Use it for
//! `emin >= 85 MeV` ([`MIN_VALID_EMIN_MEV`]). Against the tabulated Heeck–Szafron spectrum
//! (`heeck_finer_binning_2016_szafron.tbl`) the fractions agree within 10 % (measured ratios 1.01-1.09) for emin in
//! 85–100 MeV (checked in the tests); the tables remain the reference of the originals.

use crate::error::{Error, Result};
use crate::tables::{DIO_HEECK_FILE, Spectrum, Tables};

/// Muon energy in bound 1s aluminium, 105.194 MeV (Offline `globalConstants_01.txt`).
pub const AL_MUON_ENERGY_MEV: f64 = 105.194;
/// ²⁷Al nuclear mass (MeV): AME2020 atomic mass 26.98153841 u × 931.49410372 MeV/u minus 13
/// electron masses (electron binding neglected).
pub const AL_NUCLEUS_MASS_MEV: f64 = 26.981_538_41 * 931.494_103_72 - 13.0 * 0.510_998_95;
/// Pol58 coefficients `a5, a6, a7, a8` for Al (MeV⁻⁶ ... MeV⁻⁹), Czarnecki et al. 2011.
pub const POL58_AL: [f64; 4] = [8.64340e-17, 1.16874e-17, -1.87828e-19, 9.16327e-20];
/// Lowest `emin` (MeV) for which the analytic spectrum is documented as valid.
pub const MIN_VALID_EMIN_MEV: f64 = 85.0;

/// The Pol58 DIO endpoint spectrum of a nucleus.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pol58 {
    /// Bound muon energy `E_μ` (MeV).
    pub muon_energy: f64,
    /// Nuclear mass `M_N` (MeV).
    pub nucleus_mass: f64,
    /// Coefficients `a5..a8` (MeV⁻⁶ ... MeV⁻⁹).
    pub coefficients: [f64; 4],
}

impl Default for Pol58 {
    fn default() -> Self {
        Self::aluminium()
    }
}

impl Pol58 {
    /// The aluminium spectrum ([`AL_MUON_ENERGY_MEV`], [`AL_NUCLEUS_MASS_MEV`], [`POL58_AL`]).
    pub fn aluminium() -> Self {
        Pol58 {
            muon_energy: AL_MUON_ENERGY_MEV,
            nucleus_mass: AL_NUCLEUS_MASS_MEV,
            coefficients: POL58_AL,
        }
    }

    /// `δ(E) = E_μ − E − E²/(2 M_N)` (MeV).
    pub fn delta(&self, e: f64) -> f64 {
        self.muon_energy - e - e * e / (2.0 * self.nucleus_mass)
    }

    /// The endpoint energy (MeV), where `δ = 0`: `M_N (sqrt(1 + 2E_μ/M_N) − 1)`, evaluated as
    /// `2E_μ / (sqrt(1 + 2E_μ/M_N) + 1)` to avoid cancellation (104.97 MeV for Al).
    pub fn endpoint(&self) -> f64 {
        let m = self.nucleus_mass;
        2.0 * self.muon_energy / ((1.0 + 2.0 * self.muon_energy / m).sqrt() + 1.0)
    }

    /// The spectrum density `(1/Γ₀) dΓ/dE` (per MeV) at electron energy `e` (MeV); 0 beyond
    /// the endpoint.
    pub fn density(&self, e: f64) -> f64 {
        let d = self.delta(e);
        if d <= 0.0 {
            return 0.0;
        }
        let [a5, a6, a7, a8] = self.coefficients;
        let d5 = d * d * d * d * d;
        d5 * (a5 + d * (a6 + d * (a7 + d * a8)))
    }

    /// The fraction of decays with `E >= emin` (MeV): the integral of [`Pol58::density`] from
    /// `emin` to the endpoint, by 12-point Gauss–Legendre quadrature (exact for this degree-16
    /// polynomial in E up to rounding). 0 for `emin` at or above the endpoint.
    pub fn fraction_above(&self, emin: f64) -> f64 {
        let hi = self.endpoint();
        if emin >= hi {
            return 0.0;
        }
        let (x, w) = gauss_legendre_12();
        let half = 0.5 * (hi - emin);
        let mid = 0.5 * (hi + emin);
        let mut s = 0.0;
        for (xi, wi) in x.iter().zip(&w) {
            s += wi * self.density(mid + half * xi);
        }
        s * half
    }

    /// The spectrum tabulated from `emin` to the endpoint in steps of `step` MeV (points at
    /// `emin + (i + 1/2)·step`, value = density × step), for sampling DIO energies without a
    /// table ([`Spectrum::sampler`]).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `step` is not positive or `emin` is not below the endpoint.
    pub fn to_spectrum(&self, emin: f64, step: f64) -> Result<Spectrum> {
        let hi = self.endpoint();
        if !(step > 0.0) || !(emin < hi) {
            return Err(Error::InvalidArgument(format!(
                "analytic DIO spectrum needs step > 0 and emin below the endpoint {hi:.3} MeV, got step {step}, emin {emin}"
            )));
        }
        let n = ((hi - emin) / step).ceil() as usize;
        let mut e = Vec::with_capacity(n);
        let mut v = Vec::with_capacity(n);
        for i in 0..n {
            let x = emin + (i as f64 + 0.5) * step;
            e.push(x);
            v.push(self.density(x) * step);
        }
        Spectrum::from_points(e, v)
    }
}

/// Nodes and weights of the 12-point Gauss–Legendre rule on [−1, 1] (Newton iteration on P₁₂).
fn gauss_legendre_12() -> ([f64; 12], [f64; 12]) {
    const N: usize = 12;
    let mut x = [0.0; N];
    let mut w = [0.0; N];
    for i in 0..N {
        let mut z = (std::f64::consts::PI * (i as f64 + 0.75) / (N as f64 + 0.5)).cos();
        let mut dp = 0.0;
        for _ in 0..100 {
            // Legendre recurrence for P_N(z) and P_{N-1}(z)
            let (mut p0, mut p1) = (1.0, z);
            for k in 2..=N {
                let p2 = ((2 * k - 1) as f64 * z * p1 - (k - 1) as f64 * p0) / k as f64;
                p0 = p1;
                p1 = p2;
            }
            dp = N as f64 * (z * p1 - p0) / (z * z - 1.0);
            let dz = p1 / dp;
            z -= dz;
            if dz.abs() < 1e-16 {
                break;
            }
        }
        x[i] = z;
        w[i] = 2.0 / ((1.0 - z * z) * dp * dp);
    }
    (x, w)
}

/// The DIO electron spectrum to sample above `emin_mev` (MeV): the G1+ table
/// ([`DIO_HEECK_FILE`]) if `tables` holds it, else the analytic Pol58 endpoint spectrum of
/// aluminium ([`Pol58`]) tabulated in 0.01 MeV steps from `emin_mev`.
///
/// # Errors
/// [`Error::InvalidArgument`] without the table if `emin_mev` is below [`MIN_VALID_EMIN_MEV`]
/// (the analytic form is not valid there) or not below the endpoint.
pub fn dio_spectrum(tables: &Tables, emin_mev: f64) -> Result<Spectrum> {
    if let Some(s) = &tables.dio_heeck {
        return Ok(s.clone());
    }
    let min = MIN_VALID_EMIN_MEV;
    if emin_mev < min {
        return Err(Error::InvalidArgument(format!(
            "the analytic DIO spectrum is valid for emin >= {min} MeV, found {emin_mev}; \
             give --tables with {DIO_HEECK_FILE}"
        )));
    }
    Pol58::aluminium().to_spectrum(emin_mev, 0.01)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_and_delta() {
        let p = Pol58::aluminium();
        let e = p.endpoint();
        assert!((e - 104.97).abs() < 0.01, "{e}");
        assert!(p.delta(e).abs() < 1e-12);
        assert_eq!(p.density(e + 0.01), 0.0);
        assert!((AL_NUCLEUS_MASS_MEV - 25126.5).abs() < 0.1);
    }

    #[test]
    fn quadrature_is_exact_for_the_polynomial() {
        let (_, w) = gauss_legendre_12();
        assert!((w.iter().sum::<f64>() - 2.0).abs() < 1e-14);
        // compare with a fine midpoint sum
        let p = Pol58::aluminium();
        let (lo, hi) = (90.0, p.endpoint());
        let n = 200_000;
        let h = (hi - lo) / n as f64;
        let mid: f64 = (0..n)
            .map(|i| p.density(lo + (i as f64 + 0.5) * h))
            .sum::<f64>()
            * h;
        let gl = p.fraction_above(lo);
        assert!((gl / mid - 1.0).abs() < 1e-8, "{gl} {mid}");
        assert_eq!(p.fraction_above(105.0), 0.0);
    }

    #[test]
    fn tabulation_integrates_to_the_fraction() {
        let p = Pol58::aluminium();
        let s = p.to_spectrum(95.0, 0.001).unwrap();
        assert!((s.total() / p.fraction_above(95.0) - 1.0).abs() < 1e-5);
        assert!(p.to_spectrum(106.0, 0.1).is_err());
    }
}
