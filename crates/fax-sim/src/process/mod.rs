//! `fax-sim process`: the pax processing chain on simulated ZLE pulses, and the hax minitrees.
//!
//! | module | holds |
//! |---|---|
//! | [`config`] | [`ProcessConfig`]: every setting with pax's defaults, the v6.8/v6.10 switch |
//! | [`hits`] | pulse baseline and noise, the hit finder |
//! | [`peaks`] | gap-size clustering, peak properties, weighted-sum position, classification |
//! | [`interactions`] | S1-S2 pairing, drift time, z, lifetime/light-yield/field-distortion corrections |
//! | [`minitrees`] | hax's Fundamentals, Basics, LargestPeakProperties and Corrections |
//! | [`job`] | reading `simulate` output, the parallel run, `peaks.parquet`, `interactions.parquet`, minitrees |
//!
//! [`Processor::process_event`] turns the pulses of one event into its peaks and interactions;
//! it depends only on the event, so results never depend on threads or on other events.
//!
//! # Example
//!
//! ```
//! use fax_sim::config::SimConfig;
//! use fax_sim::instructions::{Instruction, RecoilType};
//! use fax_sim::process::{ProcessConfig, Processor, ProcessScratch};
//! use fax_sim::process::peaks::PeakType;
//! use fax_sim::simulate::{Scratch, Setup};
//!
//! let setup = Setup::new(&SimConfig::default()).unwrap();
//! // 2000 photons and 200 electrons at 30 cm depth, on the axis, at t = 1 us.
//! let row = Instruction::new(0, RecoilType::Er, Some(0.0), Some(0.0), Some(30.0), 2000, 200, 1000.0);
//! let ev = setup.simulate_event(0, 0, 0, &[row], &mut Scratch::default());
//! let proc = Processor::new(&ProcessConfig::default()).unwrap();
//! let out = proc.process_event(&ev.pulses, &mut ProcessScratch::default()).unwrap();
//! let main = out.interactions[0];
//! assert_eq!(out.peaks[main.s2].peak_type, PeakType::S2);
//! // 30 cm at 1.335 um/ns is 224.7 us of drift, plus the 1.7 us gate time.
//! assert!((main.drift_time - 226_400.0).abs() < 2_000.0, "{}", main.drift_time);
//! ```

pub mod config;
pub mod hits;
pub mod interactions;
pub mod job;
pub mod minitrees;
pub mod peaks;

pub use config::{PaxVersion, ProcessConfig};

use crate::detector::PmtTable;
use crate::error::{Error, Result};
use crate::simulate::Pulses;
use hits::{Hit, HitScratch};
use interactions::{CorrectionMaps, Interaction};
use peaks::{Channels, Peak, PeakInput, PeakScratch};

/// Everything precomputed from a [`ProcessConfig`]: channel facts and correction maps.
#[derive(Debug)]
pub struct Processor {
    /// The configuration.
    pub config: ProcessConfig,
    /// Channel facts (gains as pe per ADC count, arrays, positions).
    pub channels: Channels,
    maps: CorrectionMaps,
}

/// Reusable per-thread buffers (results never depend on their previous content).
#[derive(Debug, Default)]
pub struct ProcessScratch {
    hit: HitScratch,
    peak: PeakScratch,
    hits: Vec<Hit>,
    baselines: Vec<f64>,
}

/// The processing result of one event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventResult {
    /// Peaks in time order (by first sample).
    pub peaks: Vec<Peak>,
    /// Interactions, the main one first.
    pub interactions: Vec<Interaction>,
}

impl Processor {
    /// Validates the configuration, reads the PMT table and the maps.
    ///
    /// # Errors
    /// [`Error::Config`] for a bad value; table and map errors naming the file.
    pub fn new(config: &ProcessConfig) -> Result<Self> {
        config.validate()?;
        let pmts = PmtTable::from_source(&config.pmt_table)?;
        Ok(Self {
            config: config.clone(),
            channels: Channels::new(&pmts, config),
            maps: CorrectionMaps::new(config)?,
        })
    }

    /// Finds hits, peaks and interactions in the pulses of one event.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a pulse of a channel outside the PMT table.
    pub fn process_event(&self, pulses: &Pulses, s: &mut ProcessScratch) -> Result<EventResult> {
        let cfg = &self.config;
        s.hits.clear();
        s.baselines.clear();
        for i in 0..pulses.len() {
            let ch = pulses.channel[i];
            let k = *self.channels.adc_to_pe.get(ch as usize).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "pulse of channel {ch}, but the PMT table has {} channels",
                    self.channels.len()
                ))
            })?;
            let k = if self.channels.is_tpc[ch as usize] {
                k
            } else {
                0.0
            };
            let b = hits::find_hits(
                pulses.samples_of(i),
                pulses.start_sample[i],
                ch,
                i as u32,
                k,
                cfg,
                &mut s.hit,
                &mut s.hits,
            );
            s.baselines.push(b);
        }
        let input = PeakInput {
            pulses,
            baselines: &s.baselines,
            channels: &self.channels,
            config: cfg,
        };
        let peaks = input.peaks(&mut s.hits, &mut s.peak);
        let interactions = interactions::build_interactions(&peaks, cfg, &self.maps);
        Ok(EventResult {
            peaks,
            interactions,
        })
    }
}
