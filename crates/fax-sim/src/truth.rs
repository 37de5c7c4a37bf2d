//! Simulation truth: one record per simulated peak (pax's truth file) and per channel.

use serde::{Deserialize, Serialize};

/// Kind of a truth peak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeakType {
    /// Prompt scintillation.
    S1,
    /// Proportional scintillation of an instruction's electrons.
    S2,
    /// Light of one photo-ionisation electron (written only when configured).
    PhotoionizationAfterpulse,
}

impl PeakType {
    /// pax's spelling (`s1`, `s2`, `photoionization_afterpulse`).
    pub fn as_str(self) -> &'static str {
        match self {
            PeakType::S1 => "s1",
            PeakType::S2 => "s2",
            PeakType::PhotoionizationAfterpulse => "photoionization_afterpulse",
        }
    }
}

/// Statistics of a set of times (ns): count, mean, first, last, population sd (numpy `std`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimeStats {
    /// Number of entries.
    pub n: u64,
    /// Mean (ns).
    pub mean_ns: f64,
    /// Earliest (ns).
    pub first_ns: f64,
    /// Latest (ns).
    pub last_ns: f64,
    /// Standard deviation with divisor n (ns).
    pub sigma_ns: f64,
}

impl TimeStats {
    /// Statistics of `t` (`None` when empty); `shift` (ns) is added to mean, first and last.
    pub fn of(t: &[f64], shift: f64) -> Option<Self> {
        if t.is_empty() {
            return None;
        }
        let n = t.len() as f64;
        let mean = t.iter().sum::<f64>() / n;
        let var = t.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
        let (lo, hi) = t
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                (a.min(x), b.max(x))
            });
        Some(Self {
            n: t.len() as u64,
            mean_ns: mean + shift,
            first_ns: lo + shift,
            last_ns: hi + shift,
            sigma_ns: var.sqrt(),
        })
    }
}

/// One truth peak (pax `WaveformSimulator.store_true_peak`). Every time except the sigmas
/// includes the event padding (5 us), as in pax.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthPeak {
    /// Event number.
    pub event: u64,
    /// Position of the instruction group in the file (0, 1, ...).
    pub instruction: u64,
    /// Repetition index.
    pub repetition: u32,
    /// Peak type.
    pub peak_type: PeakType,
    /// Geant4 id of the instruction (-1 for CSV input).
    pub g4_id: i64,
    /// x (cm): the field-distorted position for S2s.
    pub x_cm: f64,
    /// y (cm).
    pub y_cm: f64,
    /// z (cm, negative below the gate): the true interaction depth.
    pub z_cm: f64,
    /// Interaction time plus padding (ns).
    pub t_interaction_ns: f64,
    /// Fraction of the peak's photons on the top array.
    pub top_fraction: f64,
    /// Photons arriving at the PMTs (after detection, transit time and channel assignment;
    /// before double-PE emission and afterpulses).
    pub photons: TimeStats,
    /// Extracted electrons at the surface (S2 only).
    pub electrons: Option<TimeStats>,
}

/// Per-channel truth of one event.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChannelTruth {
    /// Event number.
    pub event: u64,
    /// Channel.
    pub channel: u16,
    /// Photons detected in the channel (S1, S2 and photo-ionisation).
    pub n_photons: u64,
    /// Photoelectrons: photons plus double-photoelectron emissions.
    pub n_photoelectrons: u64,
    /// PMT afterpulses.
    pub n_pmt_afterpulses: u64,
    /// Pulses dropped because they did not fit in the event window (pax drops them too).
    pub n_pulses_dropped: u64,
}
