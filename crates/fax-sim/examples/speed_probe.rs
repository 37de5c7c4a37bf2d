//! Measures the simulation rate of the production default configuration on one thread with
//! effects switched off one at a time (a quick profile; the criterion bench gives the figures).
//!
//! Run with `cargo run --release -p fax-sim --example speed_probe -- [events]` (default 2000
//! events per variant).

use std::time::Instant;

use fax_sim::config::SimConfig;
use fax_sim::fake::{FakeConfig, create_fake};
use fax_sim::simulate::{Scratch, Setup};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let events: u64 = std::env::args().nth(1).map_or(Ok(2000), |a| a.parse())?;
    let rows = create_fake(&FakeConfig {
        seed: 1,
        number_event_per_job: events,
        ..FakeConfig::default()
    })?;
    let base = SimConfig {
        seed: 1,
        ..SimConfig::default()
    };
    let mut variants: Vec<(&str, SimConfig, bool)> = vec![
        ("everything on", base.clone(), true),
        ("truth only (no PMT response)", base.clone(), false),
    ];
    let mut c = base.clone();
    c.afterpulses.pmt = false;
    variants.push(("no PMT afterpulses", c, true));
    let mut c = base.clone();
    c.afterpulses.photo_ionisation = false;
    variants.push(("no photo-ionisation", c, true));
    let mut c = base.clone();
    c.pmt.spe_distributions = "none".into();
    variants.push(("Gaussian SPE gains", c, true));
    for (name, cfg, pulses) in variants {
        let setup = Setup::new(&cfg)?;
        let mut s = Scratch::default();
        let t0 = Instant::now();
        let mut n = 0usize;
        for (e, r) in rows.iter().enumerate() {
            let out = if pulses {
                setup.simulate_event(e as u64, e as u64, 0, std::slice::from_ref(r), &mut s)
            } else {
                setup.simulate_event_truth(e as u64, e as u64, 0, std::slice::from_ref(r), &mut s)
            };
            n += out.pulses.samples.len();
        }
        let dt = t0.elapsed().as_secs_f64();
        println!(
            "{name:32} {:8.0} events/s ({n} samples)",
            rows.len() as f64 / dt
        );
    }
    Ok(())
}
