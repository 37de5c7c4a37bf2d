//! Quanta draws around NEST's mean yields: NEST v2.4.5 `NESTcalc::GetQuanta`.

use std::f64::consts::{FRAC_2_PI, SQRT_2};

use rand::{Rng, RngExt};
use rand_distr::{Binomial, Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use super::{MeanYields, NestModel, check_positive};
use crate::error::{Error, Result};

/// `1 / sqrt(2 pi)`.
const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// NEST's fluctuation parameters (`NRERWidthsParam`, defaults `default_NRERWidthsParam` of NEST
/// v2.4.5-19, the four optional second-Gaussian values at `NESTcalc::RecombOmegaER`'s built-in
/// defaults), used by `NESTcalc::GetQuanta`, `RecombOmegaNR`, `RecombOmegaER` and `FanoER`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FluctuationParams {
    /// Index 0: NR Fano factor of the ion number, 0.4.
    pub nr_fano_ions: f64,
    /// Index 1: NR Fano factor of the exciton number, 0.4.
    pub nr_fano_excitons: f64,
    /// Index 2: amplitude of the NR recombination excess width `omega`, 0.04; a negative value
    /// instead scales the binomial recombination variance by `1 + value` (Chen Ding's
    /// suppression).
    pub nr_omega_amplitude: f64,
    /// Index 3: centre of the NR `omega` Gaussian in the electron fraction, 0.5.
    pub nr_omega_center: f64,
    /// Index 4: width of the NR `omega` Gaussian in the electron fraction, 0.19.
    pub nr_omega_width: f64,
    /// Index 5: skewness of the NR recombination fluctuations, 2.25.
    pub nr_skewness: f64,
    /// Index 6: ER Fano factor of the total quanta: a value >= 0 is the Fano factor itself; a
    /// negative value `-k` gives `F(rho) + k sqrt(Nq) sqrt(F / (V/cm))` with NEST's
    /// density-dependent `F(rho)`. -0.001.
    pub er_fano: f64,
    /// Index 7: low-field amplitude of the ER `omega`, 0.046452 (it tends to 0.07 above
    /// ~295 V/cm).
    pub er_omega_amplitude: f64,
    /// Index 8: centre of the ER `omega` skew-Gaussian (in electron fraction if < 1, else in
    /// log10 of the quanta number), 0.45.
    pub er_omega_center: f64,
    /// Index 9: width of the ER `omega` skew-Gaussian, 0.205 (at most the centre).
    pub er_omega_width: f64,
    /// Index 10: skew of the ER `omega` skew-Gaussian, -0.2.
    pub er_omega_skew: f64,
    /// Index 11: slope of the NR ion Fano factor in the mean ion number, 0.
    pub nr_fano_ions_slope: f64,
    /// Index 12: slope of the NR exciton Fano factor in the mean exciton number, 0.
    pub nr_fano_excitons_slope: f64,
    /// Index 13: amplitude of the second ER `omega` skew-Gaussian in log10 quanta (used only when
    /// the centre is >= 1), 0.06103.
    pub er_omega2_amplitude: f64,
    /// Index 14: its centre, 5.207.
    pub er_omega2_center: f64,
    /// Index 15: its width, 1.361.
    pub er_omega2_width: f64,
    /// Index 16: its skew, -2.495.
    pub er_omega2_skew: f64,
}

impl Default for FluctuationParams {
    fn default() -> Self {
        Self::from_nest_vector(&[
            0.4, 0.4, 0.04, 0.5, 0.19, 2.25, -0.001, 0.046452, 0.45, 0.205, -0.2, 0., 0.,
        ])
        .expect("13 values")
    }
}

impl FluctuationParams {
    /// From NEST's `NRERWidthsParam` vector: 13 values, or 16/17 with the second ER Gaussian
    /// (NEST's built-in values otherwise).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for fewer than 13 or more than 17 values.
    pub fn from_nest_vector(v: &[f64]) -> Result<Self> {
        if !(13..=17).contains(&v.len()) {
            return Err(Error::InvalidArgument(format!(
                "NEST's fluctuation vector has 13 to 17 values, got {}",
                v.len()
            )));
        }
        let (a2, c2, w2) = if v.len() > 15 {
            (v[13], v[14], v[15])
        } else {
            (0.06103, 5.207, 1.361)
        };
        Ok(Self {
            nr_fano_ions: v[0],
            nr_fano_excitons: v[1],
            nr_omega_amplitude: v[2],
            nr_omega_center: v[3],
            nr_omega_width: v[4],
            nr_skewness: v[5],
            er_fano: v[6],
            er_omega_amplitude: v[7],
            er_omega_center: v[8],
            er_omega_width: v[9],
            er_omega_skew: v[10],
            nr_fano_ions_slope: v[11],
            nr_fano_excitons_slope: v[12],
            er_omega2_amplitude: a2,
            er_omega2_center: c2,
            er_omega2_width: w2,
            er_omega2_skew: if v.len() > 16 { v[16] } else { -2.495 },
        })
    }

    /// NEST's vector of all 17 values, in NEST's order.
    pub fn to_nest_vector(&self) -> [f64; 17] {
        [
            self.nr_fano_ions,
            self.nr_fano_excitons,
            self.nr_omega_amplitude,
            self.nr_omega_center,
            self.nr_omega_width,
            self.nr_skewness,
            self.er_fano,
            self.er_omega_amplitude,
            self.er_omega_center,
            self.er_omega_width,
            self.er_omega_skew,
            self.nr_fano_ions_slope,
            self.nr_fano_excitons_slope,
            self.er_omega2_amplitude,
            self.er_omega2_center,
            self.er_omega2_width,
            self.er_omega2_skew,
        ]
    }

    /// NEST refuses an ER `omega` width above its centre (the parameters' old order).
    fn check(&self) -> Result<()> {
        if self.er_omega_width > self.er_omega_center {
            return Err(Error::InvalidArgument(format!(
                "er_omega_width {} exceeds er_omega_center {} (NEST's old parameter order?)",
                self.er_omega_width, self.er_omega_center
            )));
        }
        Ok(())
    }

    /// Excess recombination width of NR, NEST v2.4.5 `NESTcalc::RecombOmegaNR`:
    /// `a exp(-(f - c)^2 / (2 w^2))`, at least 0, in the electron fraction `f`.
    fn omega_nr(&self, elec_frac: f64) -> f64 {
        let d = elec_frac - self.nr_omega_center;
        let w = self.nr_omega_width;
        (self.nr_omega_amplitude * (-0.5 * d * d / (w * w)).exp()).max(0.0)
    }

    /// Excess recombination width of ER, NEST v2.4.5-19 `NESTcalc::RecombOmegaER`: a
    /// field-dependent amplitude `0.07 + (a - 0.07) / (1 + (F/295.2)^251.6)^0.0069114` times a
    /// skew-Gaussian normalised to peak at 1, in the electron fraction (centre < 1) or in log10 of
    /// the mean quanta plus a second skew-Gaussian (centre >= 1).
    fn omega_er(&self, field: f64, elec_frac: f64, nq_mean: f64) -> f64 {
        let ampl = (0.07
            + (self.er_omega_amplitude - 0.07)
                / (1.0 + (field / 295.2).powf(251.6)).powf(0.0069114))
        .max(0.0);
        let skew_gauss = |x: f64, c: f64, w: f64, s: f64| {
            let d = x - c;
            (-0.5 * d * d / (w * w)).exp() * (1.0 + libm::erf(s * d / (w * SQRT_2)))
        };
        let peak_norm = |c: f64, w: f64, s: f64| {
            let mode = c + 2.0 * INV_SQRT_2PI * s * w / (1.0 + s * s).sqrt();
            1.0 / skew_gauss(mode, c, w, s)
        };
        let (c, w, s) = (
            self.er_omega_center,
            self.er_omega_width,
            self.er_omega_skew,
        );
        let norm = peak_norm(c, w, s);
        let omega = if c < 1.0 {
            norm * ampl * skew_gauss(elec_frac, c, w, s)
        } else {
            let (a2, c2, w2, s2) = (
                self.er_omega2_amplitude,
                self.er_omega2_center,
                self.er_omega2_width,
                self.er_omega2_skew,
            );
            let log_nq = nq_mean.log10();
            norm * ampl * skew_gauss(log_nq, c, w, s)
                + peak_norm(c2, w2, s2) * a2 * skew_gauss(log_nq, c2, w2, s2)
        };
        omega.max(0.0)
    }

    /// Fano factor of the total ER quanta in liquid xenon, NEST v2.4.5 `NESTcalc::FanoER`:
    /// `0.12707 - 0.029623 rho - 0.0057042 rho^2 + 0.0015957 rho^3` plus
    /// `|k| sqrt(Nq) sqrt(F)` when `er_fano = k < 0`, or `er_fano` itself when >= 0.
    fn fano_er(&self, density: f64, nq_mean: f64, field: f64) -> f64 {
        if self.er_fano >= 0.0 {
            return self.er_fano;
        }
        let base = 0.12707 - 0.029623 * density - 0.0057042 * density.powi(2)
            + 0.0015957 * density.powi(3);
        base + self.er_fano.abs() * nq_mean.sqrt() * field.sqrt()
    }
}

/// Quanta of one deposit, as drawn by [`NestModel::draw_quanta`] (NEST's `QuantaResult`).
///
/// `photons + electrons == excitons + ions` always.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Quanta {
    /// Photons produced (excitons plus recombined ions).
    pub photons: u64,
    /// Electrons escaping recombination.
    pub electrons: u64,
    /// Ions produced.
    pub ions: u64,
    /// Excitons produced.
    pub excitons: u64,
    /// Mean recombination probability used for the draw (0 when there was no recombination).
    pub recombination_probability: f64,
    /// Variance of the escaping-electron number used for the draw (0 when none).
    pub variance: f64,
}

/// NEST's `ValidityTests::nearlyEqual` with its default tolerance 1e-9.
fn nearly_equal(a: f64, b: f64) -> bool {
    if a == b {
        return true;
    }
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || a.abs() + b.abs() < f64::MIN_POSITIVE {
        return diff < 1e-9 * f64::MIN_POSITIVE;
    }
    diff / (a.abs() + b.abs()).min(f64::MAX) < 1e-9
}

/// `mean + sigma z`, z standard normal, at least 0 (NEST `RandomGen::rand_gauss` with `zero_min`).
#[inline]
fn gauss_at_least_zero<R: Rng + ?Sized>(rng: &mut R, mean: f64, sigma: f64) -> f64 {
    let z: f64 = rng.sample(StandardNormal);
    (mean + sigma * z).max(0.0)
}

/// Skew-normal draw of location `xi`, scale `omega`, shape `alpha` (Azzalini's representation,
/// exact; NEST `RandomGen::rand_skewGauss` samples the same density by rejection within
/// `xi +- 6 omega`, a difference of order 1e-9 in probability).
#[inline]
fn skew_normal<R: Rng + ?Sized>(rng: &mut R, xi: f64, omega: f64, alpha: f64) -> f64 {
    let delta = alpha / (1.0 + alpha * alpha).sqrt();
    let u0: f64 = rng.sample(StandardNormal);
    let v: f64 = rng.sample(StandardNormal);
    let u1 = delta * u0 + (1.0 - delta * delta).sqrt() * v;
    xi + omega * if u0 >= 0.0 { u1 } else { -u1 }
}

/// Binomial draw; `n == 0` or `p` at an edge without randomness.
#[inline]
fn binomial<R: Rng + ?Sized>(rng: &mut R, n: u64, p: f64) -> u64 {
    if n == 0 || p <= 0.0 {
        return 0;
    }
    if p >= 1.0 {
        return n;
    }
    Binomial::new(n, p).map(|b| b.sample(rng)).unwrap_or(0)
}

/// `floor(x + 0.5)` as a count, saturating (NEST's `int(floor(x + 0.5))`).
#[inline]
fn round_half_up(x: f64) -> i64 {
    (x + 0.5).floor() as i64
}

impl NestModel {
    /// LUX skewness model of ER recombination (NEST v2.4.5 `NESTcalc::GetQuanta`), with the
    /// electron-equivalent energy `E = W Nq` (keV) and field `F` (V/cm):
    /// `(1.39 + 4 exp(-F/225) (1 - exp(-E/7.7))) / (1 + exp((E - 26.7)/6.4))
    ///  + 22.1 exp(-E/54) exp(-sqrt(F/71)) / (1 + exp(-(E - 26.7)/6.4))`.
    fn er_skewness_lux(energy_kev: f64, field: f64) -> f64 {
        let (alpha0, cc0, cc1) = (1.39, 4.0, 22.1);
        let (e0, e1, e2, e3) = (7.7, 54.0, 26.7, 6.4);
        let (f0, f1) = (225.0f64, 71.0f64);
        let e = energy_kev;
        1.0 / (1.0 + ((e - e2) / e3).exp())
            * (alpha0 + cc0 * (-field / f0).exp() * (1.0 - (-e / e0).exp()))
            + 1.0 / (1.0 + (-(e - e2) / e3).exp())
                * cc1
                * (-e / e1).exp()
                * (-field.sqrt() / f1.sqrt()).exp()
    }

    /// The photons and electrons of one deposit with mean quanta `yields` (from
    /// [`NestModel::mean_yields`]) in liquid xenon of `density_g_per_cm3`: NEST v2.4.5-19
    /// `NESTcalc::GetQuanta`.
    ///
    /// * ER (Lindhard factor 1): total quanta Gaussian with variance `Fano Nq` (see
    ///   [`FluctuationParams::er_fano`]), ions binomial with `1 / (1 + Nex/Ni)`;
    /// * NR: ions and excitons independently Gaussian with their Fano factors;
    /// * escaping electrons Gaussian (skew-Gaussian with NEST's skewness, 50 to 4000 V/cm and
    ///   fewer than 1e4 quanta) around `(1 - r) Ni`, `r = 1 - (1 + Nex/Ni) Ne/Nq` the mean
    ///   recombination probability, with variance `r (1 - r) Ni + omega^2 Ni^2`; the mean is
    ///   shifted so that the skewed draw keeps it; the rest of the quanta are photons.
    ///
    /// Gaussian draws are rounded half up and floored at 0 as in NEST. The generator's use (number
    /// and order of draws) is fixed for a given input, so a keyed stream reproduces the draw.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the density is not finite and positive, if the yields are
    /// not finite and non-negative, or if the ER `omega` width exceeds its centre.
    pub fn draw_quanta<R: Rng + ?Sized>(
        &self,
        yields: &MeanYields,
        density_g_per_cm3: f64,
        rng: &mut R,
    ) -> Result<Quanta> {
        check_positive("density_g_per_cm3", density_g_per_cm3)?;
        let p = &self.fluctuations;
        p.check()?;
        let (ly, qy) = (yields.photon_yield, yields.electron_yield);
        let finite = [ly, qy, yields.exciton_ratio, yields.lindhard]
            .iter()
            .all(|v| v.is_finite());
        if !(finite && ly >= 0.0 && qy >= 0.0) {
            return Err(Error::InvalidArgument(format!(
                "mean yields must be finite and non-negative: {yields:?}"
            )));
        }
        let nq_mean = ly + qy;
        if nearly_equal(nq_mean, 0.0) {
            return Ok(Quanta::default());
        }
        let field = yields.field_v_per_cm;
        let is_er = nearly_equal(yields.lindhard, 1.0);
        let elec_frac = (qy / nq_mean).clamp(0.0, 1.0);

        let (mut exciton_ratio, high_e) = if yields.exciton_ratio < 0.0 {
            (0.0, true)
        } else {
            (yields.exciton_ratio, false)
        };
        let ion_frac = 1.0 / (1.0 + exciton_ratio);
        let mut recomb = 1.0 - (exciton_ratio + 1.0) * elec_frac;
        if recomb < 0.0 {
            // NEST changes the ratio for the exciton mean below but keeps the ion fraction.
            exciton_ratio = 1.0 / elec_frac - 1.0;
        }

        let (nq, ni, nex) = if is_er {
            let fano = p.fano_er(density_g_per_cm3, nq_mean, field);
            let nq = round_half_up(gauss_at_least_zero(rng, nq_mean, (fano * nq_mean).sqrt()));
            let nq = nq.max(0) as u64;
            let ni = binomial(rng, nq, ion_frac);
            (nq as i64, ni as i64, (nq - ni) as i64)
        } else {
            let ni_mean = nq_mean * ion_frac;
            let fano_i = (p.nr_fano_ions + p.nr_fano_ions_slope * ni_mean).max(0.0);
            let ni = round_half_up(gauss_at_least_zero(rng, ni_mean, (fano_i * ni_mean).sqrt()));
            let nex_mean = nq_mean * exciton_ratio * ion_frac;
            let fano_x = (p.nr_fano_excitons + p.nr_fano_excitons_slope * nex_mean).max(0.0);
            let nex = round_half_up(gauss_at_least_zero(
                rng,
                nex_mean,
                (fano_x * nex_mean).sqrt(),
            ));
            (ni + nex, ni, nex)
        };
        if nq == 0 {
            return Ok(Quanta::default());
        }
        let nex = nex.clamp(0, nq);
        let ni = ni.clamp(0, nq);

        if nex <= 0 && high_e {
            recomb = ly / ni as f64;
        }
        recomb = recomb.clamp(0.0, 1.0);
        if ni == 0 || nearly_equal(recomb, 0.0) || recomb.is_nan() {
            return Ok(Quanta {
                photons: nex as u64,
                electrons: ni as u64,
                ions: ni as u64,
                excitons: nex as u64,
                recombination_probability: 0.0,
                variance: 0.0,
            });
        }
        let omega = if yields.lindhard < 1.0 {
            p.omega_nr(elec_frac)
        } else {
            p.omega_er(field, elec_frac, nq_mean)
        };
        let binomial_scale = if p.nr_omega_amplitude < 0.0 && yields.lindhard < 1.0 {
            let l = 1.0 + p.nr_omega_amplitude;
            if l <= 0.0 { 1e-6 } else { l }
        } else {
            1.0
        };
        let nif = ni as f64;
        let variance = binomial_scale * recomb * (1.0 - recomb) * nif + omega * omega * nif * nif;

        let skewness = if nq_mean > 1e4 || !(50.0..=4e3).contains(&field) {
            0.0
        } else if is_er {
            match self.er_skewness {
                Some(s) => s,
                None => {
                    let w_ev = self.w(density_g_per_cm3).w_ev;
                    Self::er_skewness_lux(1e-3 * w_ev * nq_mean, field)
                }
            }
        } else {
            p.nr_skewness
        };

        let mean_ne = (1.0 - recomb) * nif;
        let sigma = variance.sqrt();
        let ne_draw = if skewness.abs() > f64::MIN_POSITIVE {
            let s2 = skewness * skewness;
            let width_correction = (1.0 - FRAC_2_PI * s2 / (1.0 + s2)).sqrt();
            let scale = sigma / width_correction;
            let mu_correction = scale * (skewness / (1.0 + s2).sqrt()) * 2.0 * INV_SQRT_2PI;
            skew_normal(rng, mean_ne - mu_correction, scale, skewness)
        } else {
            gauss_at_least_zero(rng, mean_ne, sigma)
        };
        let ne = round_half_up(ne_draw).clamp(0, ni);
        let nph = (nq - ne).clamp(nex, nq);
        debug_assert_eq!(nph + ne, nex + ni);
        Ok(Quanta {
            photons: nph as u64,
            electrons: ne as u64,
            ions: ni as u64,
            excitons: nex as u64,
            recombination_probability: recomb,
            variance,
        })
    }

    /// Mean yields and one draw of the quanta of a deposit: [`NestModel::mean_yields`] then
    /// [`NestModel::draw_quanta`].
    ///
    /// # Errors
    /// Those of both.
    pub fn quanta<R: Rng + ?Sized>(
        &self,
        interaction: super::Interaction,
        energy_kev: f64,
        field_v_per_cm: f64,
        density_g_per_cm3: f64,
        rng: &mut R,
    ) -> Result<(MeanYields, Quanta)> {
        let y = self.mean_yields(interaction, energy_kev, field_v_per_cm, density_g_per_cm3)?;
        let q = self.draw_quanta(&y, density_g_per_cm3, rng)?;
        Ok((y, q))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yields::Interaction;
    use std::f64::consts::PI;

    #[test]
    fn skew_normal_has_the_skew_normal_mean() {
        let mut rng = hep_core::rng::stream(3, 0);
        let n = 200_000;
        let alpha = 2.25f64;
        let mean: f64 = (0..n)
            .map(|_| skew_normal(&mut rng, 0.0, 1.0, alpha))
            .sum::<f64>()
            / f64::from(n);
        let expected = (2.0 / PI).sqrt() * alpha / (1.0 + alpha * alpha).sqrt();
        assert!(
            (mean - expected).abs() < 5.0 * 0.6 / f64::from(n).sqrt(),
            "{mean} {expected}"
        );
    }

    #[test]
    fn quanta_are_conserved_and_reproducible() {
        let m = NestModel::default();
        for i in Interaction::ALL {
            let e = if i == Interaction::Kr83m { 41.5 } else { 7.0 };
            let y = m.mean_yields(i, e, 200.0, 2.9).unwrap();
            let mut a = hep_core::rng::stream(9, 1);
            let mut b = hep_core::rng::stream(9, 1);
            for _ in 0..1000 {
                let q = m.draw_quanta(&y, 2.9, &mut a).unwrap();
                assert_eq!(q.photons + q.electrons, q.excitons + q.ions);
                assert_eq!(q, m.draw_quanta(&y, 2.9, &mut b).unwrap());
            }
        }
    }

    #[test]
    fn old_parameter_order_is_refused() {
        let mut m = NestModel::default();
        m.fluctuations.er_omega_center = 0.205;
        m.fluctuations.er_omega_width = 0.45;
        let y = m.mean_yields(Interaction::Beta, 10.0, 100.0, 2.9).unwrap();
        let mut rng = hep_core::rng::stream(1, 1);
        assert!(m.draw_quanta(&y, 2.9, &mut rng).is_err());
        assert!(FluctuationParams::from_nest_vector(&[0.0; 12]).is_err());
    }
}
