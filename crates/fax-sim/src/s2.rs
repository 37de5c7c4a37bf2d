//! S2: drift of the electrons and the electroluminescence time profile.
//!
//! Drift: pax `simulation.py` `Simulator.s2_electrons`: mean drift time `-z / v_d + t_gate`,
//! longitudinal diffusion `sigma_t = sqrt(2 D_L t) / v_d` (Sorensen 2011, JINST 6 P05006),
//! survival `extraction_yield * exp(-t / tau_e)`, and per electron an exponential trapping delay
//! at the surface.
//!
//! Electroluminescence: pax `Simulator.__init__` (luminescence converters): the gas gap `d_g`
//! above a liquid layer `d_l = gate_to_anode - d_g` gets `V_g = V_anode / (1 + d_l / (d_g eps))`;
//! the field is `E0 = V_g / (d_g - r_A + r_A ln(r_A / r_W))` uniform beyond `r_A` from the anode
//! wire and `E0 r_A / r` inside; electrons drift at `v = (slope / n) E` with the gas number
//! density `n = P / (k_B T)`; the light yield per unit time is proportional to
//! `max(E / (kV/cm) - 0.8 P / bar, 0) v`. On 1000 points from `d_g` to `r_W` this gives the
//! emission-time CDF, inverted by linear interpolation (0 outside it, as scipy's
//! `interp1d(..., fill_value=0, bounds_error=False)`).

use crate::config::S2Config;
use crate::maps::GasGapMap;

/// Boltzmann constant (J/K), CODATA 2018.
pub const BOLTZMANN_J_PER_K: f64 = 1.380_649e-23;

/// One emission-time converter (uniform number to delay after the electron's arrival, ns).
#[derive(Debug, Clone)]
pub struct LuminescenceConverter {
    /// Gas gap (cm).
    pub gas_gap_cm: f64,
    /// CDF knots (increasing).
    pub cdf: Vec<f64>,
    /// Times at the knots (ns).
    pub t_ns: Vec<f64>,
    index: crate::maps::CdfIndex,
}

impl LuminescenceConverter {
    /// The converter for a gas gap of `dg_cm`.
    pub fn new(c: &S2Config, dg_cm: f64) -> Self {
        let n_per_cm3 = c.pressure_bar * 1e5 / (BOLTZMANN_J_PER_K * c.temperature_k) * 1e-6;
        // v (cm/ns) = slope (mm/us/Td) * E/n (Td); 1 mm/us = 1e-4 cm/ns; 1 Td = 1e-17 V cm2.
        let alpha = c.gas_drift_velocity_slope_mm_per_us_per_td * 1e-4 / (n_per_cm3 * 1e-17);
        let ra = c.anode_field_domination_distance_mm / 10.0;
        let rw = c.anode_wire_radius_um / 1e4;
        let dl = c.gate_to_anode_distance_mm / 10.0 - dg_cm;
        let vg = c.anode_voltage_v / (1.0 + dl / dg_cm / c.lxe_dielectric_constant);
        let e0 = vg / (dg_cm - ra + ra * (ra.ln() - rw.ln()));
        let n = 1000;
        let step = (rw - dg_cm) / (n - 1) as f64;
        let mut t = 0.0;
        let mut t_ns = Vec::with_capacity(n);
        let mut yd = Vec::with_capacity(n);
        for i in 0..n {
            let r = if i == n - 1 {
                rw
            } else {
                dg_cm + step * i as f64
            };
            let e = if r < rw {
                0.0
            } else if r < ra {
                e0 * ra / r
            } else {
                e0
            };
            let v = alpha * e;
            t += -step / v;
            t_ns.push(t);
            yd.push((e / 1000.0 - 0.8 * c.pressure_bar).max(0.0) * v);
        }
        let total: f64 = yd.iter().sum();
        let mut cum = 0.0;
        let cdf: Vec<f64> = yd
            .iter()
            .map(|y| {
                cum += y / total;
                cum
            })
            .collect();
        let index = crate::maps::CdfIndex::new(&cdf);
        Self {
            gas_gap_cm: dg_cm,
            cdf,
            t_ns,
            index,
        }
    }

    /// The emission delay (ns) for the uniform number `u`.
    pub fn time(&self, u: f64) -> f64 {
        let n = self.cdf.len();
        if u < self.cdf[0] || u > self.cdf[n - 1] {
            return 0.0;
        }
        let i = self.index.find(&self.cdf, u).clamp(1, n - 1);
        let (x0, x1) = (self.cdf[i - 1], self.cdf[i]);
        self.t_ns[i - 1] + (self.t_ns[i] - self.t_ns[i - 1]) * (u - x0) / (x1 - x0)
    }
}

/// The set of converters: one at the nominal gap, or `n` evenly spaced over the warping map's
/// range (pax: `n_luminescence_time_converters` = 20), the nearest one used at each (x, y).
#[derive(Debug, Clone)]
pub struct Luminescence {
    converters: Vec<LuminescenceConverter>,
    warping: Option<GasGapMap>,
    base_cm: f64,
}

impl Luminescence {
    /// Precomputes the converters.
    pub fn new(c: &S2Config, warping: Option<GasGapMap>) -> Self {
        let base_cm = c.gas_gap_length_mm / 10.0;
        let gaps: Vec<f64> = match &warping {
            None => vec![base_cm],
            Some(w) => {
                let n = c.n_luminescence_time_converters;
                let (lo, hi) = w.range_cm;
                (0..n)
                    .map(|i| {
                        base_cm
                            + if n == 1 {
                                lo
                            } else {
                                lo + (hi - lo) * i as f64 / (n - 1) as f64
                            }
                    })
                    .collect()
            }
        };
        let converters = gaps
            .iter()
            .map(|&g| LuminescenceConverter::new(c, g))
            .collect();
        Self {
            converters,
            warping,
            base_cm,
        }
    }

    /// The converter for an S2 at (x, y) in cm.
    pub fn at(&self, x: f64, y: f64) -> &LuminescenceConverter {
        let Some(w) = &self.warping else {
            return &self.converters[0];
        };
        let dg = self.base_cm + w.warping_cm(x, y);
        let mut best = 0;
        for (i, c) in self.converters.iter().enumerate() {
            if (c.gas_gap_cm - dg).abs() < (self.converters[best].gas_gap_cm - dg).abs() {
                best = i;
            }
        }
        &self.converters[best]
    }
}

/// Drift of an S2 from depth `z_cm` (negative below the gate): mean drift time (ns) and its
/// diffusion spread sigma (ns).
pub fn drift_time(c: &S2Config, z_cm: f64) -> (f64, f64) {
    let v = c.drift_velocity_um_per_ns * 1e-4; // cm/ns
    let mean = -z_cm / v + c.drift_time_gate_ns;
    let d = c.diffusion_longitudinal_cm2_per_s * 1e-9; // cm2/ns
    let sigma = (2.0 * d * mean).sqrt() / v;
    (mean, sigma)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_worked_numbers() {
        let c = S2Config::default();
        let (m, s) = drift_time(&c, -50.0);
        assert!(
            (m - 376_236.0).abs() < 100.0 && (s - 1113.0).abs() < 1.0,
            "{m} {s}"
        );
        let (m, s) = drift_time(&c, -5.0);
        assert!(
            (m - 39_154.0).abs() < 100.0 && (s - 359.0).abs() < 1.0,
            "{m} {s}"
        );
        let x1t = S2Config {
            drift_velocity_um_per_ns: 1.44,
            diffusion_longitudinal_cm2_per_s: 22.8,
            ..c
        };
        let (m, s) = drift_time(&x1t, -50.0);
        assert!(
            (m - 348_922.0).abs() < 100.0 && (s - 876.0).abs() < 1.0,
            "{m} {s}"
        );
    }

    #[test]
    fn luminescence_worked_numbers() {
        let c = S2Config::default();
        let l = LuminescenceConverter::new(&c, 0.266);
        // Total transit 359 ns; emission time mean 216 ns, sd 116 ns; quantiles 23/227/358 ns.
        assert!((l.t_ns[999] - 359.0).abs() < 1.0, "{}", l.t_ns[999]);
        let n = 200_000;
        let ts: Vec<f64> = (0..n)
            .map(|i| l.time((i as f64 + 0.5) / n as f64))
            .collect();
        let mean = ts.iter().sum::<f64>() / n as f64;
        let sd = (ts.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
        assert!(
            (mean - 216.0).abs() < 1.0 && (sd - 116.0).abs() < 1.0,
            "{mean} {sd}"
        );
        for (q, want) in [(0.05, 23.0), (0.5, 227.0), (0.95, 358.0)] {
            assert!((l.time(q) - want).abs() < 1.0, "{q}: {}", l.time(q));
        }
    }
}
