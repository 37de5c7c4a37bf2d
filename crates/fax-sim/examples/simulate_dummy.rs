//! Simulates pax's example instruction file (`XENON1T_dummy_waveforms.csv`, shipped with the
//! crate) with the default SR1 configuration and prints what came out of each event.
//!
//! Run with `cargo run -p fax-sim --example simulate_dummy`.

use std::path::Path;

use fax_sim::config::SimConfig;
use fax_sim::data;
use fax_sim::instructions;
use fax_sim::output::EventList;
use fax_sim::simulate::{Scratch, Setup};
use fax_sim::truth::PeakType;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let csv = data::resolve("builtin:XENON1T_dummy_waveforms.csv")?.expect("shipped file");
    let rows = instructions::parse_csv(&csv.bytes, Path::new("XENON1T_dummy_waveforms.csv"))?;
    let config = SimConfig {
        seed: 1,
        ..SimConfig::default()
    };
    let setup = Setup::new(&config)?;
    let events = EventList::new(rows, 1);
    let mut scratch = Scratch::default();
    for e in 0..events.len() {
        let (rows, group, rep) = events.event(e);
        let out = setup.simulate_event(e as u64, group, rep, rows, &mut scratch);
        let n = |t| out.peaks.iter().filter(|p| p.peak_type == t).count();
        println!(
            "event {e}: {} instruction rows, {} S1 and {} S2 truth peaks, {} photons detected, \
             {} electrons extracted, {} ZLE pulses, {:.1} us long",
            rows.len(),
            n(PeakType::S1),
            n(PeakType::S2),
            out.n_photons,
            out.n_electrons,
            out.pulses.len(),
            out.n_samples as f64 * 10.0 / 1000.0
        );
    }
    Ok(())
}
