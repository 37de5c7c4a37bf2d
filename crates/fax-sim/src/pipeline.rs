//! The demo job: fake instructions from the production default configuration (50-100 photons,
//! 10-100 electrons per event in the 2018 fiducial box), simulated to ZLE pulses in memory.

use std::fmt;
use std::time::Instant;

use hep_core::progress::Progress;
use serde::{Deserialize, Serialize};

use crate::config::SimConfig;
use crate::error::Result;
use crate::fake::{FakeConfig, create_fake};
use crate::output::{EventList, simulate_events};
use crate::simulate::Setup;

/// Configuration of the demo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DemoConfig {
    /// Events to create and simulate.
    pub n_events: u64,
    /// Seed of both steps.
    pub seed: u64,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            n_events: 2000,
            seed: 1,
        }
    }
}

/// What the demo produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DemoSummary {
    /// Events simulated.
    pub n_events: u64,
    /// Photons detected in total.
    pub n_photons: u64,
    /// Electrons extracted in total.
    pub n_electrons: u64,
    /// ZLE pulses made.
    pub n_pulses: u64,
    /// Wall time per event of the simulation (us), set-up excluded; not reproducible.
    pub time_per_event_us: f64,
}

impl fmt::Display for DemoSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.n_events.max(1) as f64;
        write!(
            f,
            "{} events simulated, {} photons detected ({:.1} per event), {} electrons extracted ({:.1} per event), {} ZLE pulses, {:.1} us per event",
            self.n_events,
            self.n_photons,
            self.n_photons as f64 / n,
            self.n_electrons,
            self.n_electrons as f64 / n,
            self.n_pulses,
            self.time_per_event_us
        )
    }
}

/// Creates the fake instructions, simulates them (all cores) and summarises.
///
/// # Errors
/// Configuration and data errors (none for the defaults).
pub fn run_demo(cfg: &DemoConfig, progress: &dyn Progress) -> Result<DemoSummary> {
    let fake = FakeConfig {
        seed: cfg.seed,
        number_event_per_job: cfg.n_events,
        ..FakeConfig::default()
    };
    let rows = create_fake(&fake)?;
    let sim = SimConfig {
        seed: cfg.seed,
        ..SimConfig::default()
    };
    let setup = Setup::new(&sim)?;
    let list = EventList::new(rows, 1);
    let mut s = DemoSummary {
        n_events: list.len() as u64,
        n_photons: 0,
        n_electrons: 0,
        n_pulses: 0,
        time_per_event_us: 0.0,
    };
    progress.start("events", list.len() as u64);
    let t0 = Instant::now();
    simulate_events(&setup, &list, 0..list.len(), progress, |block| {
        for e in &block {
            s.n_photons += e.n_photons;
            s.n_electrons += e.n_electrons;
            s.n_pulses += e.pulses.len() as u64;
        }
        Ok(())
    })?;
    progress.finish();
    s.time_per_event_us = t0.elapsed().as_secs_f64() * 1e6 / s.n_events.max(1) as f64;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_runs_and_reports() {
        let s = run_demo(
            &DemoConfig {
                n_events: 20,
                seed: 3,
            },
            &hep_core::progress::NoProgress,
        )
        .unwrap();
        assert_eq!(s.n_events, 20);
        // 50-100 photons at ~10 % detection and 10-100 electrons at ~60 % survival x ~18 photons.
        assert!(s.n_photons > 20 * 200 && s.n_electrons > 20 * 10, "{s}");
        assert!(s.to_string().contains("20 events simulated"));
    }
}
