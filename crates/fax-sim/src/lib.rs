//! XENON1T fax waveform simulation and processing.
//!
//! Replaces the fax production chain (the pax waveform simulator, processing and hax minitrees):
//! simulating time projection chamber PMT waveforms from photon and electron instructions, finding
//! peaks, building event minitrees and matching them to the simulation truth.
//!
//! The behaviour, formulas and constants are specified in `shared/specs/fax-sim.md`.
//! This crate is a placeholder until that work lands; it has no public items yet.
