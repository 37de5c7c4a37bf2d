//! S1: detection and emission-time models.
//!
//! pax `simulation.py` `Simulator.s1_photons` and `singlet_triplet_delays`; the excimer fraction
//! and recombination time from NEST v0.98 (`G4S1Light.cc`), as pax computes them in
//! `Simulator.__init__`.

use rand::RngExt;
use rand_distr::{Distribution, Exp1};

use crate::config::{S1Config, S1Model};
use crate::instructions::RecoilType;

/// Precomputed S1 timing constants.
#[derive(Debug, Clone)]
pub struct S1Timing {
    cfg: S1Config,
    /// Fraction of ER photons from primary excimers (after recombination), NEST v0.98.
    pub er_primary_excimer_fraction: f64,
    /// ER recombination time (ns), NEST 2014: (3.5/0.18) (1/20 + 0.41) exp(-0.009 E(V/cm)).
    pub er_recombination_time_ns: f64,
}

impl S1Timing {
    /// Precomputes the constants of `cfg`.
    pub fn new(cfg: &S1Config) -> Self {
        let rho = cfg.liquid_density_g_per_cm3;
        let x = 0.4 - 0.11131 * rho - 0.0026651 * rho * rho;
        let mut f = 1.0 / (1.0 + x);
        f /= 1.0 - (1.0 - f) * (1.0 - cfg.er_recombination_fraction);
        let tr = 3.5 / 0.18 * (1.0 / 20.0 + 0.41) * (-0.009 * cfg.drift_field_v_per_cm).exp();
        Self {
            cfg: cfg.clone(),
            er_primary_excimer_fraction: f,
            er_recombination_time_ns: tr,
        }
    }

    fn singlet_triplet<R: rand::Rng + ?Sized>(&self, rng: &mut R, singlet_fraction: f64) -> f64 {
        let tau = if rng.random::<f64>() < singlet_fraction {
            self.cfg.singlet_lifetime_liquid_ns
        } else {
            self.cfg.triplet_lifetime_liquid_ns
        };
        tau * <Exp1 as Distribution<f64>>::sample(&Exp1, rng)
    }

    /// The emission delay (ns) of one detected photon of a `recoil` S1.
    ///
    /// Model order as in pax: `alpha` (singlet/triplet, singlet fraction 1/(1 + 1/2.8)), `LED`
    /// (uniform in the LED pulse), then the simple model (one exponential) when configured,
    /// else ER (primary excimers, or recombination delay `tau_r (1/U - 1)` clipped at 50 ns plus
    /// singlet/triplet) and NR (singlet/triplet). Each photon is primary/singlet independently,
    /// which has the distribution of pax's binomial split of exchangeable photons.
    pub fn delay<R: rand::Rng + ?Sized>(&self, rng: &mut R, recoil: RecoilType) -> f64 {
        let c = &self.cfg;
        match recoil {
            RecoilType::Alpha => self.singlet_triplet(rng, c.alpha_singlet_fraction),
            RecoilType::Led => c.led_pulse_length_ns * rng.random::<f64>(),
            _ if c.model == S1Model::Simple => {
                c.decay_time_ns * <Exp1 as Distribution<f64>>::sample(&Exp1, rng)
            }
            RecoilType::Er => {
                if rng.random::<f64>() < self.er_primary_excimer_fraction {
                    self.singlet_triplet(rng, c.er_primary_singlet_fraction)
                } else {
                    let u: f64 = 1.0 - rng.random::<f64>();
                    let rec = (self.er_recombination_time_ns * (1.0 / u - 1.0))
                        .clamp(0.0, c.maximum_recombination_time_ns);
                    rec + self.singlet_triplet(rng, c.er_secondary_singlet_fraction)
                }
            }
            RecoilType::Nr => self.singlet_triplet(rng, c.nr_singlet_fraction),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detailed_model_mean_delays() {
        use rand::SeedableRng;
        let c = S1Config {
            model: S1Model::Detailed,
            ..S1Config::default()
        };
        let t = S1Timing::new(&c);
        let mut rng = rand_pcg::Pcg64::seed_from_u64(1);
        let n = 200_000;
        for (recoil, fs) in [
            (RecoilType::Nr, c.nr_singlet_fraction),
            (RecoilType::Alpha, c.alpha_singlet_fraction),
        ] {
            let d: Vec<f64> = (0..n).map(|_| t.delay(&mut rng, recoil)).collect();
            let m = d.iter().sum::<f64>() / n as f64;
            let want = fs * 3.1 + (1.0 - fs) * 24.0;
            let var = 2.0 * (fs * 3.1 * 3.1 + (1.0 - fs) * 24.0 * 24.0) - want * want;
            assert!(
                (m - want).abs() < 4.0 * (var / n as f64).sqrt(),
                "{recoil:?}: {m} vs {want}"
            );
        }
        let d: Vec<f64> = (0..n).map(|_| t.delay(&mut rng, RecoilType::Led)).collect();
        let m = d.iter().sum::<f64>() / n as f64;
        assert!((m - 50.0).abs() < 4.0 * (100.0f64 * 100.0 / 12.0 / n as f64).sqrt());
        // The simple model (XENON1T) ignores the recoil type except alpha and LED.
        let simple = S1Timing::new(&S1Config::default());
        let d: Vec<f64> = (0..n)
            .map(|_| simple.delay(&mut rng, RecoilType::Er))
            .collect();
        let m = d.iter().sum::<f64>() / n as f64;
        assert!((m - 44.77).abs() < 4.0 * 44.77 / (n as f64).sqrt());
    }

    #[test]
    fn nest_constants() {
        let mut c = S1Config {
            drift_field_v_per_cm: 500.0,
            ..S1Config::default()
        };
        let t = S1Timing::new(&c);
        assert!((t.er_primary_excimer_fraction - 0.96351).abs() < 1e-5);
        assert!((t.er_recombination_time_ns - 0.0994).abs() < 1e-4);
        c.drift_field_v_per_cm = 82.0;
        assert!((S1Timing::new(&c).er_recombination_time_ns - 4.2761).abs() < 1e-4);
    }
}
