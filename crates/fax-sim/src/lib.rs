//! XENON1T fax: the pax waveform simulator rebuilt for speed and reproducibility.
//!
//! Analysts describe energy deposits as photons and electrons at positions (pax's instruction
//! CSV) and get the zero-length-encoded PMT pulses the XENON1T TPC would record, with the
//! simulation truth per peak and per channel. The physics follows pax (`XENON1T/pax`,
//! `pax/simulation.py` and `pax/plugins/io/WaveformSimulator.py`), event by event, with
//! per-channel sparse pulses instead of dense 700 us waveforms, and every random number drawn from
//! a stream keyed by the event number.
//!
//! | module | holds |
//! |---|---|
//! | [`error`] | the crate's error type |
//! | [`config`] | [`config::SimConfig`]: every constant with units, presets, TOML layering, compat switches |
//! | [`data`] | the embedded pax data files and data-source resolution |
//! | [`yields`] | NEST v2 mean yields and quanta draws of liquid xenon from energies (keV) |
//! | [`instructions`] | the pax instruction CSV and its Parquet form, event grouping |
//! | [`fake`] | `create-fake` (CreateFake) and `from-minitree` (CreateFakeFromPickle) |
//! | [`deposits`] | energy front ends: `create-fake --energy-spectrum` (spectra, NEST quanta) and `from-deposits` (epix-like clustering of energy deposits) |
//! | [`maps`] | pax's IDW interpolating maps, their grid form, the gas-gap warping map |
//! | [`detector`] | channel table, SPE spectra, PMT afterpulse tables |
//! | [`s1`], [`s2`] | S1 timing; drift, diffusion and electroluminescence |
//! | [`pulse`] | SPE template, ADC conversion, software ZLE |
//! | [`truth`] | truth records per peak and per channel |
//! | [`simulate`] | [`simulate::Setup`] and the simulation of one event |
//! | [`output`] | output tables (Parquet, pax truth CSV), the simulate job, shards and merge |
//! | [`plots`] | summed waveform and channel-time map of one event |
//! | [`process`] | `process`: pax hit finding, clustering, peak properties, classification, interactions; hax minitrees |
//! | [`matching`] | `match`: peak-level truth matching, efficiencies and biases; the production's SortTruth + MergeTruth (`--compat`) |
//! | [`check_plots`] | `plot`: cS1-cS2, S2 width against drift time, observed against true position, efficiency |
//! | [`yield_plots`] | `plot-yields`: NEST v2 light and charge yields per keV against energy, beta and NR, several fields; `plot-band`: the S1-S2 band of ER and NR fake productions |
//! | [`production`] | productions: production ids through every stage, resumable, sharded |
//! | [`pipeline`] | the demo job |
//!
//! # Example
//!
//! ```
//! use fax_sim::config::SimConfig;
//! use fax_sim::instructions::{Instruction, RecoilType};
//! use fax_sim::simulate::{Scratch, Setup};
//!
//! let setup = Setup::new(&SimConfig::default()).unwrap();
//! // 100 photons and 20 electrons at 30 cm depth, on the axis, at t = 1 us.
//! let row = Instruction::new(0, RecoilType::Er, Some(0.0), Some(0.0), Some(30.0), 100, 20, 1000.0);
//! let ev = setup.simulate_event(0, 0, 0, &[row], &mut Scratch::default());
//! assert!(ev.pulses.len() > 0);
//! assert!(ev.peaks.iter().any(|p| p.peak_type == fax_sim::truth::PeakType::S2));
//! ```

pub mod check_plots;
pub mod config;
pub mod data;
pub mod deposits;
pub mod detector;
pub mod error;
pub mod fake;
pub mod instructions;
pub mod maps;
pub mod matching;
pub mod output;
pub mod pipeline;
pub mod plots;
pub mod process;
pub mod production;
pub mod pulse;
pub mod s1;
pub mod s2;
pub mod simulate;
pub mod truth;
pub mod yield_plots;
pub mod yields;

pub use error::{Error, Result};
