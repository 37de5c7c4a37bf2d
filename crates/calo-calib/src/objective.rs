//! The source-fit objectives with an analytic gradient.
//!
//! The value is hep-core's extended binned Poisson likelihood or Neyman chi-square (its per-bin
//! terms, `hep_core::fit::cost::poisson_nll_term` and `neyman_chi2_term`) of the
//! [`model`] expected counts. The gradient is analytic in the peak position, the width and the
//! four yields, and a central difference in alpha and beta (their derivatives through the Crystal
//! Ball's tail constants are long and these two are cheap to difference). With exact bin
//! integrals, `nu_i = sum_k N_k F_k(i) + N_bkg B(i)` where
//! `F_k(i) = (G(t_k(x_{i+1})) - G(t_k(x_i))) / D_k`, `G` is the Crystal Ball primitive,
//! `D_k = G(t_k(high)) - G(t_k(low))` and `t_k(x) = (6.13 x / P - E_k) / sigma`. Since
//! `dG/dt = CB(t)`, `dt/dP = -(sigma t + E_k) / (sigma P)` and `dt/dsigma = -t / sigma`, each
//! derivative of `F_k` is a difference of `CB(t) dt` at the bin edges minus `F_k` times the same
//! difference at the range ends, all divided by `D_k`.
//!
//! For centre evaluation ([`BinEvaluation::Centre`]) no analytic gradient is given, and the
//! minimiser differences the value.

use crate::model::{
    self, BinEvaluation, CB_N, CrystalBall, E_FULL_MEV, LINE_ENERGIES_MEV, ModelRange, idx,
};
use hep_core::fit::Objective;
use hep_core::fit::cost::{
    neyman_chi2_term, neyman_chi2_term_dnu, poisson_nll_term, poisson_nll_term_dnu,
};
use std::cell::RefCell;

/// Which statistic the objective is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Statistic {
    /// Extended binned Poisson likelihood, saturated model subtracted (`UP = 0.5`).
    Nll,
    /// Neyman chi-square over non-empty bins (`UP = 1`).
    NeymanChi2,
}

/// A source-fit objective over fixed bins (see the module docs).
pub(crate) struct SourceObjective {
    edges: Vec<f64>,
    counts: Vec<f64>,
    range: ModelRange,
    eval: BinEvaluation,
    stat: Statistic,
    scratch: RefCell<Scratch>,
}

#[derive(Default)]
struct Scratch {
    nu: Vec<f64>,
    dnu: Vec<[f64; 6]>,
    probe: Vec<f64>,
}

/// Indices of the analytic derivatives in `Scratch::dnu`.
const D_PEAK: usize = 0;
const D_WIDTH: usize = 1;

impl SourceObjective {
    pub(crate) fn new(
        edges: Vec<f64>,
        counts: Vec<f64>,
        range: ModelRange,
        eval: BinEvaluation,
        stat: Statistic,
    ) -> Self {
        let n = counts.len();
        Self {
            edges,
            counts,
            range,
            eval,
            stat,
            scratch: RefCell::new(Scratch {
                nu: vec![0.0; n],
                dnu: vec![[0.0; 6]; n],
                probe: vec![0.0; n],
            }),
        }
    }

    /// The observed counts.
    pub(crate) fn counts(&self) -> &[f64] {
        &self.counts
    }

    fn statistic(&self, nu: &[f64]) -> f64 {
        let term = match self.stat {
            Statistic::Nll => poisson_nll_term,
            Statistic::NeymanChi2 => neyman_chi2_term,
        };
        let mut sum = 0.0;
        for (&n, &v) in self.counts.iter().zip(nu) {
            let t = term(n, v);
            if t == f64::INFINITY {
                return t;
            }
            sum += t;
        }
        sum
    }

    /// `d statistic / d nu_i`.
    fn weight(&self, n: f64, v: f64) -> f64 {
        match self.stat {
            Statistic::Nll => poisson_nll_term_dnu(n, v),
            Statistic::NeymanChi2 => neyman_chi2_term_dnu(n, v),
        }
    }

    /// Fills `nu` and the analytic derivatives `dnu` (peak, width, four yields).
    fn expected_with_derivatives(&self, p: &[f64], nu: &mut [f64], dnu: &mut [[f64; 6]]) {
        let peak = p[idx::PEAK];
        let sigma = p[idx::WIDTH];
        let m = E_FULL_MEV / peak;
        let cb = CrystalBall::new(p[idx::ALPHA], CB_N);
        nu.fill(0.0);
        for d in dnu.iter_mut() {
            *d = [0.0; 6];
        }
        // Per edge and line: G(t), and CB(t) dt/dP, CB(t) dt/dsigma.
        let at = |x: f64, e: f64| {
            let t = (m * x - e) / sigma;
            let g = cb.value(t);
            (
                cb.primitive(t),
                g * (-(sigma * t + e) / (sigma * peak)),
                g * (-t / sigma),
            )
        };
        for (k, &e) in LINE_ENERGIES_MEV.iter().enumerate() {
            let yield_k = p[idx::N_FULL + k];
            let (g_lo, hp_lo, hs_lo) = at(self.range.low, e);
            let (g_hi, hp_hi, hs_hi) = at(self.range.high, e);
            let d = g_hi - g_lo;
            let (dd_p, dd_s) = (hp_hi - hp_lo, hs_hi - hs_lo);
            let mut prev = at(self.edges[0], e);
            for (i, &x) in self.edges[1..].iter().enumerate() {
                let cur = at(x, e);
                let f = (cur.0 - prev.0) / d;
                nu[i] += yield_k * f;
                dnu[i][D_PEAK] += yield_k * ((cur.1 - prev.1) - f * dd_p) / d;
                dnu[i][D_WIDTH] += yield_k * ((cur.2 - prev.2) - f * dd_s) / d;
                dnu[i][2 + k] = f;
                prev = cur;
            }
        }
        // Background: exp(beta x) normalised over the range.
        let beta = p[idx::BETA];
        let prim = |x: f64| {
            if beta.abs() < 1e-12 {
                x - self.range.low
            } else {
                (beta * (x - self.range.low)).exp_m1() / beta
            }
        };
        let norm = prim(self.range.high);
        let mut prev = prim(self.edges[0]);
        for (i, &x) in self.edges[1..].iter().enumerate() {
            let c = prim(x);
            let b = (c - prev) / norm;
            nu[i] += p[idx::N_BKG] * b;
            dnu[i][5] = b;
            prev = c;
        }
    }
}

impl Objective for SourceObjective {
    fn value(&self, p: &[f64]) -> f64 {
        let mut s = self.scratch.borrow_mut();
        model::expected_counts(p, self.range, self.eval, &self.edges, &mut s.nu);
        self.statistic(&s.nu)
    }

    fn gradient(&self, p: &[f64]) -> Option<Vec<f64>> {
        if self.eval != BinEvaluation::Integrate {
            return None;
        }
        let mut s = self.scratch.borrow_mut();
        let Scratch { nu, dnu, probe } = &mut *s;
        self.expected_with_derivatives(p, nu, dnu);
        let mut g = vec![0.0; model::N_PARAMS];
        for ((&n, &v), d) in self.counts.iter().zip(nu.iter()).zip(dnu.iter()) {
            let w = self.weight(n, v);
            g[idx::PEAK] += w * d[D_PEAK];
            g[idx::WIDTH] += w * d[D_WIDTH];
            for k in 0..4 {
                g[idx::N_FULL + k] += w * d[2 + k];
            }
        }
        // Alpha and beta: central differences with steps relative to their scale.
        let mut q = p.to_vec();
        for (i, h) in [
            (idx::ALPHA, 1e-5 * p[idx::ALPHA].abs().max(0.1)),
            (idx::BETA, 1e-6),
        ] {
            q[i] = p[i] + h;
            model::expected_counts(&q, self.range, self.eval, &self.edges, probe);
            let fp = self.statistic(probe);
            q[i] = p[i] - h;
            model::expected_counts(&q, self.range, self.eval, &self.edges, probe);
            let fm = self.statistic(probe);
            q[i] = p[i];
            g[i] = (fp - fm) / (2.0 * h);
        }
        Some(g)
    }

    fn error_def(&self) -> f64 {
        match self.stat {
            Statistic::Nll => 0.5,
            Statistic::NeymanChi2 => 1.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analytic_gradient_matches_central_differences() {
        let truth = [100.0, 0.45, 1.2, -0.04, 3500.0, 2500.0, 1500.0, 2500.0];
        let edges: Vec<f64> = (40..=115).map(f64::from).collect();
        let range = ModelRange {
            low: 40.0,
            high: 115.2,
        };
        let mut mu = vec![0.0; 75];
        model::expected_counts(&truth, range, BinEvaluation::Integrate, &edges, &mut mu);
        // Counts off the model so the gradient is not zero; one empty bin.
        let mut counts: Vec<f64> = mu
            .iter()
            .enumerate()
            .map(|(i, m)| (m * (1.0 + 0.05 * ((i % 7) as f64 - 3.0))).round())
            .collect();
        counts[3] = 0.0;
        let p = [99.3, 0.47, 1.3, -0.035, 3300.0, 2600.0, 1400.0, 2600.0];
        for stat in [Statistic::Nll, Statistic::NeymanChi2] {
            let obj = SourceObjective::new(
                edges.clone(),
                counts.clone(),
                range,
                BinEvaluation::Integrate,
                stat,
            );
            let g = obj.gradient(&p).unwrap();
            for i in 0..8 {
                let h = 1e-5 * p[i].abs().max(1e-2);
                let mut q = p;
                q[i] += h;
                let fp = obj.value(&q);
                q[i] -= 2.0 * h;
                let fm = obj.value(&q);
                let num = (fp - fm) / (2.0 * h);
                let tol = 1e-5 * num.abs().max(1e-3);
                assert!(
                    (g[i] - num).abs() < tol.max(1e-6),
                    "{stat:?} parameter {i}: {} vs {num}",
                    g[i]
                );
            }
        }
    }
}
