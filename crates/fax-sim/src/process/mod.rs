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

#[cfg(test)]
mod tests {
    use super::peaks::PeakType;
    use super::*;

    /// Pulses at `start` of 47 baseline samples, the signal (ADC counts above baseline), then 10
    /// baseline samples, one per channel.
    fn pulses(channels: &[usize], start: i64, signal: &[i32], into: &mut Pulses) {
        if into.offsets.is_empty() {
            into.offsets.push(0);
        }
        for &c in channels {
            into.channel.push(c as u16);
            into.start_sample.push(start);
            into.samples.extend(std::iter::repeat_n(16000i16, 47));
            into.samples
                .extend(signal.iter().map(|s| (16000 - s) as i16));
            into.samples.extend(std::iter::repeat_n(16000i16, 10));
            into.offsets.push(into.samples.len());
        }
    }

    #[test]
    fn hand_built_s1_and_s2() {
        let proc = Processor::new(&ProcessConfig::default()).unwrap();
        let ch = &proc.channels;
        let live = |top: bool| {
            (0..ch.len())
                .filter(move |&c| ch.is_tpc[c] && ch.is_top[c] == top && ch.adc_to_pe[c] > 0.0)
        };
        let s1_ch: Vec<usize> = live(true).take(3).chain(live(false).take(2)).collect();
        let s2_ch: Vec<usize> = live(true)
            .skip(3)
            .take(6)
            .chain(live(false).take(2))
            .collect();
        let mut p = Pulses::default();
        // S1: 30 then 90 ADC counts in five channels, samples 1047 and 1048.
        pulses(&s1_ch, 1000, &[30, 90], &mut p);
        // S2: a 40-sample box of 60 ADC counts in eight channels, samples 5047..5086.
        pulses(&s2_ch, 5000, &[60; 40], &mut p);
        let out = proc
            .process_event(&p, &mut ProcessScratch::default())
            .unwrap();
        assert_eq!(out.peaks.len(), 2, "{:?}", out.peaks);
        let (s1, s2) = (&out.peaks[0], &out.peaks[1]);
        assert_eq!((s1.peak_type, s2.peak_type), (PeakType::S1, PeakType::S2));
        let k = |chs: &[usize]| chs.iter().map(|&c| ch.adc_to_pe[c]).sum::<f64>();
        let k_top = |chs: &[usize]| {
            chs.iter()
                .filter(|&&c| ch.is_top[c])
                .map(|&c| ch.adc_to_pe[c])
                .sum::<f64>()
        };
        // Areas: ADC counts x pe per ADC count of each channel.
        assert!((s1.area - 120.0 * k(&s1_ch)).abs() < 1e-9);
        assert!((s2.area - 2400.0 * k(&s2_ch)).abs() < 1e-9);
        assert!((s1.area_fraction_top - k_top(&s1_ch) / k(&s1_ch)).abs() < 1e-12);
        assert_eq!(
            (s1.n_contributing_channels, s1.n_hits, s1.tight_coincidence),
            (5, 5, 5)
        );
        assert_eq!(s2.n_contributing_channels, 8);
        // Bounds: 3 samples of left extension, the pulse end on the right.
        assert_eq!((s1.left, s1.right, s1.index_of_maximum), (1044, 1058, 1048));
        assert!((s1.height - 90.0 * k(&s1_ch)).abs() < 1e-9);
        // Hit centre: (47 * 30 + 48 * 90) / 120 samples after 1000; all channels alike.
        assert!((s1.hit_time_mean - 10_477.5).abs() < 1e-9 && s1.hit_time_std < 1e-6);
        // Sum waveform 1:3 in two samples: t(5 %) = 3.2, t(10 %) = 3.4, t(25 %) = 4,
        // t(50 %) = 4 + 1/3, t(75 %) = 4 + 2/3, t(95 %) = 4 + 2.8/3 samples after the peak start.
        assert!(
            (s1.range_50p_area() - 20.0 / 3.0).abs() < 1e-9,
            "{}",
            s1.range_50p_area()
        );
        assert!(
            (s1.rise_time() - (43.0 + 1.0 / 3.0 - 34.0) * 1.0).abs() < 1e-9,
            "{}",
            s1.rise_time()
        );
        assert!((s1.range_90p_area() - (49.0 + 1.0 / 3.0 - 32.0)).abs() < 1e-9);
        assert!((s1.area_midpoint - (1044.0 + 4.0 + 1.0 / 3.0) * 10.0).abs() < 1e-9);
        // Box of 40 samples: rise time 0.4 x 400 ns, 50 % width 200 ns, maximum at its start.
        assert!((s2.rise_time() - 160.0).abs() < 1e-9);
        assert!((s2.range_50p_area() - 200.0).abs() < 1e-9);
        assert_eq!(s2.index_of_maximum, 5047);
        // Weighted-sum position of the S1: top PMT positions weighted by their areas.
        let (mut wx, mut w) = (0.0, 0.0);
        for &c in s1_ch.iter().filter(|&&c| ch.is_top[c]) {
            wx += ch.adc_to_pe[c] * 120.0 * ch.x[c];
            w += ch.adc_to_pe[c] * 120.0;
        }
        assert!((s1.x - wx / w).abs() < 1e-9);
        // One interaction: drift time (5047 - 1048) samples, z = -v (t - 1.7 us).
        assert_eq!(out.interactions.len(), 1);
        let i = out.interactions[0];
        assert_eq!((i.s1, i.s2), (0, 1));
        assert_eq!(i.drift_time, 39_990.0);
        assert!((i.z_observed + 1.335e-4 * (39_990.0 - 1700.0)).abs() < 1e-12);
        assert!((i.s2_lifetime_correction - (39.99f64 / 550.0).exp()).abs() < 1e-12);
    }
}
