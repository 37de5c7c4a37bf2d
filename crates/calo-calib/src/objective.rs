//! The full eight-parameter source-fit objective (value only).
//!
//! The value is hep-core's extended binned Poisson likelihood or Neyman chi-square (its per-bin
//! terms, `hep_core::fit::cost::poisson_nll_term` and `neyman_chi2_term`) of the [`model`]
//! expected counts at all eight parameters. The fits minimise the profiled objective of
//! `crate::profiled`, which carries the analytic derivatives; this one gives the likelihood of
//! the final parameters (the `nll` column whatever the method) and is the reference the profiled
//! objective is tested against.

use crate::model::{self, BinEvaluation, ModelRange};
use hep_core::fit::Objective;
use hep_core::fit::cost::{neyman_chi2_term, poisson_nll_term};
use std::cell::RefCell;

/// Which statistic the objective is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Statistic {
    /// Extended binned Poisson likelihood, saturated model subtracted (`UP = 0.5`).
    Nll,
    /// Neyman chi-square over non-empty bins (`UP = 1`).
    NeymanChi2,
}

/// The source-fit objective over fixed bins at all eight parameters (see the module docs).
pub(crate) struct SourceObjective {
    edges: Vec<f64>,
    counts: Vec<f64>,
    range: ModelRange,
    eval: BinEvaluation,
    stat: Statistic,
    nu: RefCell<Vec<f64>>,
}

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
            nu: RefCell::new(vec![0.0; n]),
        }
    }

    /// The observed counts.
    pub(crate) fn counts(&self) -> &[f64] {
        &self.counts
    }
}

impl Objective for SourceObjective {
    fn value(&self, p: &[f64]) -> f64 {
        let mut nu = self.nu.borrow_mut();
        model::expected_counts(p, self.range, self.eval, &self.edges, &mut nu);
        let term = match self.stat {
            Statistic::Nll => poisson_nll_term,
            Statistic::NeymanChi2 => neyman_chi2_term,
        };
        let mut sum = 0.0;
        for (&n, &v) in self.counts.iter().zip(nu.iter()) {
            let t = term(n, v);
            if t == f64::INFINITY {
                return t;
            }
            sum += t;
        }
        sum
    }

    fn error_def(&self) -> f64 {
        match self.stat {
            Statistic::Nll => 0.5,
            Statistic::NeymanChi2 => 1.0,
        }
    }
}
