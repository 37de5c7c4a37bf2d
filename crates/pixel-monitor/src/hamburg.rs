//! The Hamburg model of the radiation-induced leakage current and its annealing (M. Moll, PhD
//! thesis, Universität Hamburg 1999, DESY-THESIS-1999-040; as used by the consumer of the
//! radiation profile, fleble/PixelRadiationDamageSimulation, and by ATLAS, JINST 14 (2019)
//! P06012), integrated over a radiation profile, and fitted to measured currents.
//!
//! # Model
//!
//! A profile is a sequence of steps j of duration t_j, temperature T_j and fluence Φ_j. After
//! step n the current per volume (A/cm³, at the reference temperature 20 °C) is
//!
//! ΔI/V = Σ_{i≤n} Φ_i [ α_I exp(−Σ_{j=i..n} t_j/τ_I(T_j)) + α_0* − β ln( Σ_{j=i..n} Θ(T_j) t_j / t_0 ) ]
//!
//! with 1/τ_I(T) = k_0I exp(−E_I / k_B T) and Θ(T) = exp(−E_I*/k_B · (1/T − 1/T_ref)):
//! α_I = 1.23e-17 A/cm, k_0I = 1.2e13 s⁻¹, E_I = 1.11 eV, α_0* = 7.07e-17 A/cm,
//! β = 3.29e-18 A/cm, E_I* = 1.30 eV, t_0 = 1 min, T_ref = 293.15 K (Moll 1999, table 5.4 and
//! eq. 5.11 to 5.15). The alternative of the CMS paper (the consumer's `use_CMS_paper_alpha0`)
//! replaces α_0* by α_0(T) = −8.9e-17 A/cm + 4.6e-14 A·K/cm · ⟨1/T⟩_i (the time-weighted mean of
//! 1/T since step i) and the logarithm by ln(Σ_{j=i..n} t_j / 1 min) with β = 2.9e-18 A/cm.
//!
//! # Evaluation
//!
//! The exponential term is the O(n) recursion A_n = e^{−t_n/τ_n} (A_{n−1} + Φ_n) (the
//! rescaled form of exp(−S_n) Σ Φ_i exp(S_{i−1}), which would overflow). The logarithmic term
//! does not factorise: it is summed exactly, over the steps with fluence, at each point where the
//! current is asked for (O(n) per point). The model is linear in (α_I, α_0*, β) once the time
//! constants are fixed, so [`fit`] is a weighted linear least-squares fit (nalgebra), with the
//! parameter covariance from the inverse normal matrix.

use nalgebra::{Matrix3, Vector3};
use serde::{Deserialize, Serialize};

use crate::constants::{K_B_EV_PER_K, ZERO_CELSIUS_K};
use crate::error::{Error, Result};

/// The Hamburg-model parameters (SI-like units: A/cm, s, eV, K).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HamburgParams {
    /// α_I (A/cm).
    pub alpha_i: f64,
    /// k_0I (s⁻¹).
    pub k0_i: f64,
    /// E_I (eV).
    pub e_i_ev: f64,
    /// α_0* (A/cm).
    pub alpha0_star: f64,
    /// β (A/cm).
    pub beta: f64,
    /// E_I* (eV).
    pub e_i_star_ev: f64,
    /// t_0 (s).
    pub t0_s: f64,
    /// Reference temperature of Θ (K).
    pub t_ref_k: f64,
    /// Boltzmann constant (eV/K).
    pub k_b: f64,
    /// Use the CMS-paper α_0(T) and logarithm instead of α_0* and Θ.
    pub cms_alpha0: bool,
    /// α_0(T) = a + b ⟨1/T⟩: a (A/cm), CMS-paper option.
    pub cms_alpha0_a: f64,
    /// b (A·K/cm), CMS-paper option.
    pub cms_alpha0_b: f64,
    /// β of the CMS-paper option (A/cm).
    pub cms_beta: f64,
}

impl Default for HamburgParams {
    fn default() -> Self {
        Self {
            alpha_i: 1.23e-17,
            k0_i: 1.2e13,
            e_i_ev: 1.11,
            alpha0_star: 7.07e-17,
            beta: 3.29e-18,
            e_i_star_ev: 1.30,
            t0_s: 60.0,
            t_ref_k: 20.0 + ZERO_CELSIUS_K,
            k_b: K_B_EV_PER_K,
            cms_alpha0: false,
            cms_alpha0_a: -8.9e-17,
            cms_alpha0_b: 4.6e-14,
            cms_beta: 2.9e-18,
        }
    }
}

impl HamburgParams {
    /// τ_I(T) (s).
    pub fn tau_i(&self, t_k: f64) -> f64 {
        1.0 / (self.k0_i * (-self.e_i_ev / (self.k_b * t_k)).exp())
    }

    /// Θ(T), the time-scaling factor to the reference temperature.
    pub fn theta(&self, t_k: f64) -> f64 {
        (-self.e_i_star_ev / self.k_b * (1.0 / t_k - 1.0 / self.t_ref_k)).exp()
    }

    /// The current-related damage rate α (A/cm) after an isothermal anneal of `t_s` seconds at
    /// `t_k`: α_I exp(−t/τ_I) + α_0* − β ln(Θ t / t_0) (or the CMS-paper form).
    pub fn alpha_isothermal(&self, t_s: f64, t_k: f64) -> f64 {
        let a = self.alpha_i * (-t_s / self.tau_i(t_k)).exp();
        if self.cms_alpha0 {
            a + self.cms_alpha0_a + self.cms_alpha0_b / t_k - self.cms_beta * (t_s / 60.0).ln()
        } else {
            a + self.alpha0_star - self.beta * (self.theta(t_k) * t_s / self.t0_s).ln()
        }
    }
}

/// One step of a radiation profile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Step {
    /// Duration (s).
    pub duration_s: f64,
    /// Sensor temperature (K).
    pub temperature_k: f64,
    /// Fluence received in the step (n_eq cm⁻²).
    pub fluence: f64,
}

/// The fluence-weighted sums of the model at one point, from which ΔI/V is linear in the
/// parameters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Basis {
    /// Σ Φ_i exp(−Σ t/τ_I) (n_eq cm⁻²).
    pub exp_term: f64,
    /// Σ Φ_i (n_eq cm⁻²).
    pub fluence: f64,
    /// Σ Φ_i ln(...) (n_eq cm⁻²).
    pub log_term: f64,
    /// Σ Φ_i ⟨1/T⟩_i (n_eq cm⁻² K⁻¹), CMS-paper option.
    pub inv_t_term: f64,
}

impl Basis {
    /// ΔI/V (A/cm³) for the parameters.
    pub fn current_per_volume(&self, p: &HamburgParams) -> f64 {
        if p.cms_alpha0 {
            p.alpha_i * self.exp_term
                + p.cms_alpha0_a * self.fluence
                + p.cms_alpha0_b * self.inv_t_term
                - p.cms_beta * self.log_term
        } else {
            p.alpha_i * self.exp_term + p.alpha0_star * self.fluence - p.beta * self.log_term
        }
    }

    /// The regressors of (α_I, α_0*, β): `[exp_term, fluence, −log_term]`.
    pub fn regressors(&self) -> [f64; 3] {
        [self.exp_term, self.fluence, -self.log_term]
    }
}

/// The model sums after each step in `at` (indices into `steps`, any order).
///
/// # Panics
/// If an index in `at` is out of range.
pub fn evaluate(steps: &[Step], p: &HamburgParams, at: &[usize]) -> Vec<Basis> {
    let n = steps.len();
    // Exponential term at every step (O(n) recursion), fluence totals, prefix sums.
    let mut exp_term = vec![0.0; n];
    let mut fluence = vec![0.0; n];
    let mut u = vec![0.0; n + 1]; // Σ Θ t (or Σ t for the CMS option)
    let mut w = vec![0.0; n + 1]; // Σ t / T
    let mut tt = vec![0.0; n + 1]; // Σ t
    let mut a = 0.0;
    let mut f = 0.0;
    for (j, s) in steps.iter().enumerate() {
        a = (-s.duration_s / p.tau_i(s.temperature_k)).exp() * (a + s.fluence);
        f += s.fluence;
        exp_term[j] = a;
        fluence[j] = f;
        let scale = if p.cms_alpha0 {
            1.0
        } else {
            p.theta(s.temperature_k)
        };
        u[j + 1] = u[j] + scale * s.duration_s;
        w[j + 1] = w[j] + s.duration_s / s.temperature_k;
        tt[j + 1] = tt[j] + s.duration_s;
    }
    let with_fluence: Vec<usize> = (0..n).filter(|&i| steps[i].fluence != 0.0).collect();
    let t0 = if p.cms_alpha0 { 60.0 } else { p.t0_s };
    at.iter()
        .map(|&k| {
            let mut log_term = 0.0;
            let mut inv_t = 0.0;
            for &i in with_fluence.iter().take_while(|&&i| i <= k) {
                let phi = steps[i].fluence;
                log_term += phi * ((u[k + 1] - u[i]) / t0).ln();
                if p.cms_alpha0 {
                    inv_t += phi * (w[k + 1] - w[i]) / (tt[k + 1] - tt[i]);
                }
            }
            Basis {
                exp_term: exp_term[k],
                fluence: fluence[k],
                log_term,
                inv_t_term: inv_t,
            }
        })
        .collect()
}

/// A group of past fluence contributions of the logarithmic term, summarised by their total,
/// the fluence-weighted mean and the centred second moment of their annealing-time origin u_i.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bucket {
    weight: f64,
    mean: f64,
    m2: f64,
    u_min: f64,
    u_max: f64,
}

impl Bucket {
    fn merge(a: Bucket, b: Bucket) -> Bucket {
        let w = a.weight + b.weight;
        let d = b.mean - a.mean;
        Bucket {
            weight: w,
            mean: a.mean + d * b.weight / w,
            m2: a.m2 + b.m2 + d * d * a.weight * b.weight / w,
            u_min: a.u_min.min(b.u_min),
            u_max: a.u_max.max(b.u_max),
        }
    }
}

/// A streaming Hamburg-model integrator: feed the steps in order, read the current after any
/// step, in O(1) for the exponential term and O(number of buckets) for the logarithmic one.
///
/// With `tolerance` 0 every step with fluence keeps its own term and the result equals
/// [`evaluate`] to rounding. With `tolerance` ε > 0, neighbouring past contributions whose
/// annealing-time origins u (the cumulative Θ·t at which they were received) span at most
/// ε · (U_now − u_max) are summarised by their weight, mean and second moment, and
/// ln(U − u) is expanded to second order around the mean; the neglected third-order term is below
/// ε³/24 per unit fluence, so the number of buckets grows only with ln(U)/ε. The CMS-paper
/// option is evaluated without buckets.
#[derive(Debug, Clone)]
pub struct Integrator {
    p: HamburgParams,
    tolerance: f64,
    exp_term: f64,
    fluence: f64,
    u: f64,
    w: f64,
    t: f64,
    buckets: Vec<Bucket>,
    cms: Vec<(f64, f64, f64, f64)>,
    next_merge: usize,
    uniform: bool,
}

impl Integrator {
    /// A fresh integrator (no damage yet).
    pub fn new(p: HamburgParams, tolerance: f64) -> Self {
        Self {
            p,
            tolerance: tolerance.max(0.0),
            exp_term: 0.0,
            fluence: 0.0,
            u: 0.0,
            w: 0.0,
            t: 0.0,
            buckets: Vec::new(),
            cms: Vec::new(),
            next_merge: 64,
            uniform: false,
        }
    }

    /// Treats the fluence of a step as received uniformly during it, instead of at its start
    /// (the consumer's convention, `Σ_{j≥i}`): the exponential term integrates the step exactly,
    /// Φ τ/t (1 − e^{−t/τ}), and the logarithmic term takes the step's contribution at the middle
    /// of its Θ·t with the variance (Θt)²/12 of a uniform spread. This removes the bias of
    /// order β ln 2 on recently received fluence that the start convention has. (The CMS-paper
    /// option keeps the start convention in its logarithm.)
    #[must_use]
    pub fn with_uniform_fluence(mut self, uniform: bool) -> Self {
        self.uniform = uniform;
        self
    }

    /// Adds one step (duration (s), temperature (K), fluence (n_eq cm⁻²) received in it).
    pub fn step(&mut self, s: Step) {
        let p = &self.p;
        let x = s.duration_s / p.tau_i(s.temperature_k);
        let decay = (-x).exp();
        self.exp_term = if self.uniform && x > 0.0 {
            // -expm1(-x)/x, accurate for small x.
            decay * self.exp_term + s.fluence * (-(-x).exp_m1() / x)
        } else {
            decay * (self.exp_term + s.fluence)
        };
        self.fluence += s.fluence;
        let scale = if p.cms_alpha0 {
            1.0
        } else {
            p.theta(s.temperature_k)
        };
        if s.fluence != 0.0 {
            let width = if self.uniform {
                scale * s.duration_s
            } else {
                0.0
            };
            if p.cms_alpha0 {
                self.cms.push((s.fluence, self.t, self.w, 0.0));
            } else {
                self.buckets.push(Bucket {
                    weight: s.fluence,
                    mean: self.u + width / 2.0,
                    m2: s.fluence * width * width / 12.0,
                    u_min: self.u,
                    u_max: self.u + width,
                });
            }
        }
        self.u += scale * s.duration_s;
        self.w += s.duration_s / s.temperature_k;
        self.t += s.duration_s;
        if self.tolerance > 0.0 && self.buckets.len() >= self.next_merge {
            self.compact();
            self.next_merge = (2 * self.buckets.len()).max(64);
        }
    }

    fn compact(&mut self) {
        let mut out: Vec<Bucket> = Vec::with_capacity(self.buckets.len());
        for b in self.buckets.drain(..) {
            if let Some(last) = out.last_mut() {
                let span = b.u_max - last.u_min;
                if span <= self.tolerance * (self.u - b.u_max) {
                    *last = Bucket::merge(*last, b);
                    continue;
                }
            }
            out.push(b);
        }
        self.buckets = out;
    }

    /// The model sums after the steps so far.
    pub fn basis(&self) -> Basis {
        let p = &self.p;
        let mut log_term = 0.0;
        let mut inv_t = 0.0;
        if p.cms_alpha0 {
            for &(phi, t_i, w_i, _) in &self.cms {
                log_term += phi * ((self.t - t_i) / 60.0).ln();
                inv_t += phi * (self.w - w_i) / (self.t - t_i);
            }
        } else {
            for b in &self.buckets {
                let d = self.u - b.mean;
                log_term += b.weight * (d / p.t0_s).ln() - b.m2 / (2.0 * d * d);
            }
        }
        Basis {
            exp_term: self.exp_term,
            fluence: self.fluence,
            log_term,
            inv_t_term: inv_t,
        }
    }

    /// ΔI/V (A/cm³) after the steps so far.
    pub fn current_per_volume(&self) -> f64 {
        self.basis().current_per_volume(&self.p)
    }

    /// Number of terms the logarithmic sum keeps.
    pub fn n_terms(&self) -> usize {
        self.buckets.len() + self.cms.len()
    }
}

/// A fitted parameter set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FitResult {
    /// (α_I, α_0*, β) (A/cm).
    pub params: [f64; 3],
    /// Their standard errors (A/cm).
    pub errors: [f64; 3],
    /// The covariance matrix ((A/cm)²), row-major.
    pub covariance: [[f64; 3]; 3],
    /// χ² of the fit.
    pub chi2: f64,
    /// Degrees of freedom (points − 3).
    pub ndf: usize,
}

/// Weighted linear least squares of y = α_I x₀ + α_0* x₁ + β x₂ (the [`Basis::regressors`]) to
/// points `(x, y, σ_y)` (y in A/cm³). The covariance is the inverse of the normal matrix XᵀWX
/// (W = 1/σ²), i.e. the errors assume the σ are the measurement errors.
///
/// # Errors
/// [`Error::Data`] for fewer than 3 points, a non-positive σ, or a singular normal matrix (the
/// profile does not separate the three terms).
pub fn fit(points: &[([f64; 3], f64, f64)]) -> Result<FitResult> {
    if points.len() < 3 {
        return Err(Error::Data(format!(
            "Hamburg fit: need at least 3 points, have {}",
            points.len()
        )));
    }
    // Column scales to condition the normal matrix.
    let mut scale = [0.0f64; 3];
    for (x, _, s) in points {
        if !(*s > 0.0) || !s.is_finite() {
            return Err(Error::Data(format!(
                "Hamburg fit: every error must be > 0, found {s}"
            )));
        }
        for k in 0..3 {
            scale[k] = scale[k].max(x[k].abs());
        }
    }
    for s in &mut scale {
        if *s == 0.0 {
            *s = 1.0;
        }
    }
    let mut nm = Matrix3::<f64>::zeros();
    let mut rhs = Vector3::<f64>::zeros();
    for (x, y, s) in points {
        let w = 1.0 / (s * s);
        let v = Vector3::new(x[0] / scale[0], x[1] / scale[1], x[2] / scale[2]);
        nm += w * v * v.transpose();
        rhs += w * *y * v;
    }
    let inv = nm
        .try_inverse()
        .ok_or_else(|| Error::Data("Hamburg fit: the normal matrix is singular".into()))?;
    let theta = inv * rhs;
    let params = [
        theta[0] / scale[0],
        theta[1] / scale[1],
        theta[2] / scale[2],
    ];
    let mut covariance = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            covariance[i][j] = inv[(i, j)] / (scale[i] * scale[j]);
        }
    }
    let errors = [
        covariance[0][0].sqrt(),
        covariance[1][1].sqrt(),
        covariance[2][2].sqrt(),
    ];
    let chi2 = points
        .iter()
        .map(|(x, y, s)| {
            let m = params[0] * x[0] + params[1] * x[1] + params[2] * x[2];
            ((y - m) / s).powi(2)
        })
        .sum();
    Ok(FitResult {
        params,
        errors,
        covariance,
        chi2,
        ndf: points.len() - 3,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constants::K_B_EV_PER_K_2010;

    fn c(t: f64) -> f64 {
        t + ZERO_CELSIUS_K
    }

    fn rel(a: f64, b: f64) -> f64 {
        (a / b - 1.0).abs()
    }

    #[test]
    fn reference_digits() {
        // Independent Hamburg-model checks with k_B = 8.617333262e-5 eV/K, to the digits given:
        // tau_I 60 C 5158.41 s, 20 C 1.00861e6 s, 0 C 2.51751e7 s, -20 C 1.04471e9 s;
        // Theta 60 C 482.389, 0 C 0.0230985, -20 C 2.94171e-4;
        // alpha 80 min at 60 C 4.0806e-17, 10 d at 20 C 4.4421e-17, 1 y at -20 C 6.6050e-17.
        let p = HamburgParams::default();
        assert!(
            (p.tau_i(c(60.0)) - 5158.41).abs() < 0.005,
            "{}",
            p.tau_i(c(60.0))
        );
        assert!((p.tau_i(c(60.0)) / 60.0 - 85.97).abs() < 0.005);
        assert!(rel(p.tau_i(c(20.0)), 1.00861e6) < 5e-6);
        assert!(rel(p.tau_i(c(0.0)), 2.51751e7) < 5e-6);
        assert!(rel(p.tau_i(c(-20.0)), 1.04471e9) < 5e-6);
        assert!((p.theta(c(60.0)) - 482.389).abs() < 0.0005);
        assert!(rel(p.theta(c(0.0)), 0.0230985) < 5e-6);
        assert!(rel(p.theta(c(-20.0)), 2.94171e-4) < 5e-6);
        assert!((p.alpha_isothermal(80.0 * 60.0, c(60.0)) - 4.0806e-17).abs() < 0.00005e-17);
        assert!((p.alpha_isothermal(10.0 * 86400.0, c(20.0)) - 4.4421e-17).abs() < 0.00005e-17);
        assert!((p.alpha_isothermal(365.0 * 86400.0, c(-20.0)) - 6.6050e-17).abs() < 0.00005e-17);
        // The original's k_B changes the fifth digit of tau only slightly.
        let q = HamburgParams {
            k_b: K_B_EV_PER_K_2010,
            ..p
        };
        assert!(rel(q.tau_i(c(60.0)), p.tau_i(c(60.0))) < 1e-5);
    }

    #[test]
    fn profile_matches_isothermal_and_double_sum() {
        let p = HamburgParams::default();
        // One irradiation step of negligible length then 80 min at 60 C in 16 steps.
        let mut steps = vec![Step {
            duration_s: 1e-9,
            temperature_k: c(60.0),
            fluence: 1e14,
        }];
        steps.extend((0..16).map(|_| Step {
            duration_s: 300.0,
            temperature_k: c(60.0),
            fluence: 0.0,
        }));
        let b = evaluate(&steps, &p, &[16]);
        let alpha = b[0].current_per_volume(&p) / 1e14;
        assert!(
            rel(alpha, p.alpha_isothermal(4800.0 + 1e-9, c(60.0))) < 1e-12,
            "{alpha}"
        );
        // A mixed profile against the naive double sum.
        let steps: Vec<Step> = (0..50)
            .map(|k| Step {
                duration_s: 3600.0 + 10.0 * k as f64,
                temperature_k: c(if k % 7 == 0 {
                    15.0
                } else {
                    -20.0 + 0.1 * k as f64
                }),
                fluence: if k % 3 == 0 {
                    0.0
                } else {
                    1e11 * (1.0 + k as f64)
                },
            })
            .collect();
        for cms in [false, true] {
            let p = HamburgParams {
                cms_alpha0: cms,
                ..HamburgParams::default()
            };
            let got = evaluate(&steps, &p, &[49, 20])
                .iter()
                .map(|b| b.current_per_volume(&p))
                .collect::<Vec<_>>();
            for (g, n) in got.iter().zip([49usize, 20]) {
                let mut want = 0.0;
                for i in 0..=n {
                    let mut st = 0.0;
                    let mut u = 0.0;
                    let mut tsum = 0.0;
                    let mut w = 0.0;
                    for s in &steps[i..=n] {
                        st += s.duration_s / p.tau_i(s.temperature_k);
                        u += p.theta(s.temperature_k) * s.duration_s;
                        tsum += s.duration_s;
                        w += s.duration_s / s.temperature_k;
                    }
                    let phi = steps[i].fluence;
                    want += phi
                        * if cms {
                            p.alpha_i * (-st).exp() + p.cms_alpha0_a + p.cms_alpha0_b * w / tsum
                                - p.cms_beta * (tsum / 60.0).ln()
                        } else {
                            p.alpha_i * (-st).exp() + p.alpha0_star - p.beta * (u / 60.0).ln()
                        };
                }
                assert!(rel(*g, want) < 1e-12, "{g} {want}");
            }
        }
        // No overflow over 20 years at 60 C.
        let long: Vec<Step> = (0..20 * 365)
            .map(|_| Step {
                duration_s: 86400.0,
                temperature_k: c(60.0),
                fluence: 1e10,
            })
            .collect();
        let b = evaluate(&long, &p, &[long.len() - 1]);
        assert!(b[0].exp_term.is_finite() && b[0].current_per_volume(&p).is_finite());
    }

    #[test]
    fn integrator_exact_and_bucketed() {
        let p = HamburgParams::default();
        let steps: Vec<Step> = (0..3000)
            .map(|k| Step {
                duration_s: 600.0,
                temperature_k: c(if (k / 500) % 3 == 2 { 15.0 } else { -20.0 }),
                fluence: if (k / 60) % 2 == 0 { 1e10 } else { 0.0 },
            })
            .collect();
        let want = evaluate(&steps, &p, &[2999])[0].current_per_volume(&p);
        let mut exact = Integrator::new(p, 0.0);
        let mut approx = Integrator::new(p, 0.05);
        for s in &steps {
            exact.step(*s);
            approx.step(*s);
        }
        assert!(rel(exact.current_per_volume(), want) < 1e-12);
        assert!(
            rel(approx.current_per_volume(), want) < 1e-7,
            "{} {want}",
            approx.current_per_volume()
        );
        assert!(
            approx.n_terms() < exact.n_terms() / 5,
            "{} {}",
            approx.n_terms(),
            exact.n_terms()
        );
    }

    #[test]
    fn module_current_reference() {
        // A module with 1e14 n_eq/cm2 and alpha = 3.99e-17 A/cm draws 1193.7 uA at 20 C and
        // 20.23 uA at -20 C (volume 0.2991816 cm3).
        let i20: f64 = 3.99e-17 * 1e14 * 0.2991816 * 1e6;
        assert!((i20 - 1193.7).abs() < 0.05);
        let im20 = crate::normalise::scale_to_temperature(i20, c(20.0), c(-20.0), K_B_EV_PER_K);
        assert!((im20 - 20.23).abs() < 0.005, "{im20}");
    }

    #[test]
    fn linear_fit_recovers_parameters() {
        let p = HamburgParams::default();
        let steps: Vec<Step> = (0..400)
            .map(|k| Step {
                duration_s: 3600.0,
                temperature_k: c(if (k / 50) % 4 == 3 { 20.0 } else { -20.0 }),
                fluence: if k % 2 == 0 { 5e11 } else { 0.0 },
            })
            .collect();
        let at: Vec<usize> = (10..400).step_by(5).collect();
        let b = evaluate(&steps, &p, &at);
        let pts: Vec<_> = b
            .iter()
            .map(|b| {
                (
                    b.regressors(),
                    b.current_per_volume(&p),
                    1e-6 * b.current_per_volume(&p),
                )
            })
            .collect();
        let r = fit(&pts).unwrap();
        assert!(rel(r.params[0], p.alpha_i) < 1e-6, "{:?}", r.params);
        assert!(rel(r.params[1], p.alpha0_star) < 1e-6);
        assert!(rel(r.params[2], p.beta) < 1e-6);
        assert!(r.chi2 < 1e-6);
        assert!(fit(&pts[..2]).is_err());
    }
}
