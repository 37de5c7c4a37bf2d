//! [`ProcessConfig`]: every setting of `fax-sim process`, with pax's defaults.
//!
//! Defaults come from pax (`XENON1T/pax` commit `871b241`): `pax/config/_base.ini` (digitiser,
//! classification bounds, tight-coincidence window), `pax/config/XENON1T.ini` (`[PulseProperties]`,
//! `[HitFinder]`, `[BuildPeaks.GapSizeClustering]`, `[BuildInteractions.BuildInteractions]`,
//! `drift_time_gate`) and `pax/config/SR1_parameters.ini` (`drift_velocity_liquid`,
//! `electron_lifetime_liquid`, the SR1 light-yield maps), the configuration a simulated SR1 run
//! was processed with. The electron lifetime of the corrections is hax's
//! `mc_electron_lifetime_liquid` for Monte Carlo runs after 6385 (`hax/runs.py`, MC run 10000).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Which pax release the clustering gaps and the classifier follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum PaxVersion {
    /// pax v6.8.x, the October 2017 fax production: first-pass gap 240 ns, second-pass gap
    /// 2.5 us, and the area- and AFT-dependent rise-time classifier.
    #[serde(rename = "v6.8")]
    V6_8,
    /// pax v6.10 and later (default): gaps 350 ns and 3.5 us; `AdHocClassification1T` on rise
    /// time, 90 % width, tight coincidence and contributing channels.
    #[default]
    #[serde(rename = "v6.10")]
    V6_10,
}

/// Pulse baseline and hit finder (pax `PulseProperties`, `HitFinder`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HitFinderConfig {
    /// Samples at the start of each pulse that give its baseline (`baseline_samples`).
    pub baseline_samples: usize,
    /// Threshold in units of the pulse's noise sigma (`height_over_noise_threshold`).
    pub height_over_noise_threshold: f64,
    /// Threshold in ADC counts above baseline (`absolute_adc_counts_threshold`).
    pub absolute_adc_counts_threshold: f64,
    /// Threshold in units of minus the pulse minimum (`height_over_min_threshold`).
    pub height_over_min_threshold: f64,
    /// Extension of each hit to the left (ns, `left_extension`).
    pub left_extension_ns: i64,
    /// Extension of each hit to the right (ns, `right_extension`).
    pub right_extension_ns: i64,
}

impl Default for HitFinderConfig {
    fn default() -> Self {
        Self {
            baseline_samples: 47,
            height_over_noise_threshold: 6.0,
            absolute_adc_counts_threshold: 15.0,
            height_over_min_threshold: 0.0,
            left_extension_ns: 30,
            right_extension_ns: 200,
        }
    }
}

/// Gap-size clustering and classification (pax `GapSizeClustering`, `AdHocClassification1T`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusteringConfig {
    /// Largest gap between hit maxima inside an S1-like cluster, first pass (ns); absent: 350
    /// (v6.10) or 240 (v6.8) (`max_gap_size_in_s1like_cluster`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_gap_size_in_s1like_cluster_ns: Option<f64>,
    /// Largest gap inside other clusters, second pass (ns); absent: 3500 (v6.10) or 2500 (v6.8)
    /// (`max_gap_size_in_cluster`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_gap_size_in_cluster_ns: Option<f64>,
    /// Rise-time bound of S1s (ns, `s1_risetime_threshold`).
    pub s1_risetime_threshold_ns: f64,
    /// 90 %-area width bound of S1s (ns, `s1_width_threshold`).
    pub s1_width_threshold_ns: f64,
    /// Hit maxima up to this long before the peak maximum count for the tight coincidence (ns,
    /// `tight_coincidence_window_left`).
    pub tight_coincidence_window_left_ns: i64,
    /// ... and up to this long after it (ns, `tight_coincidence_window_right`).
    pub tight_coincidence_window_right_ns: i64,
    /// Smallest tight coincidence of an S1 (v6.10, `tight_coincidence_threshold`).
    pub tight_coincidence_threshold: u32,
}

impl Default for ClusteringConfig {
    fn default() -> Self {
        Self {
            max_gap_size_in_s1like_cluster_ns: None,
            max_gap_size_in_cluster_ns: None,
            s1_risetime_threshold_ns: 70.0,
            s1_width_threshold_ns: 300.0,
            tight_coincidence_window_left_ns: 50,
            tight_coincidence_window_right_ns: 50,
            tight_coincidence_threshold: 2,
        }
    }
}

/// Interaction building and corrections (pax `BuildInteractions`, `BasicInteractionProperties`;
/// hax `Corrections`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InteractionConfig {
    /// S1s (ranked by tight coincidence, then area) that are paired (`pair_n_s1s`).
    pub pair_n_s1s: usize,
    /// S2s (ranked by area) that are paired (`pair_n_s2s`).
    pub pair_n_s2s: usize,
    /// Smallest S2 that is paired (pe, `s2_pairing_threshold`).
    pub s2_pairing_threshold_pe: f64,
    /// Electron drift velocity (um/ns, `drift_velocity_liquid`, SR1).
    pub drift_velocity_um_per_ns: f64,
    /// Drift time from the gate to the anode, subtracted before converting to z (ns,
    /// `drift_time_gate`).
    pub drift_time_gate_ns: f64,
    /// Electron lifetime of the S2 lifetime correction (us).
    pub electron_lifetime_us: f64,
    /// Relative S1 light-yield map over (x, y, z) in cm (`s1_light_yield_map`): `builtin:<file>`,
    /// a path, or `none` (no S1 spatial correction).
    pub s1_light_yield_map: String,
    /// Relative S2 light-yield map over (x, y) in cm with the maps `map`, `map_top`,
    /// `map_bottom` (`s2_light_yield_map`, hax `s2_xy_correction_map`), or `none`.
    pub s2_light_yield_map: String,
    /// The 2-D field-distortion map over (r, z) in cm with `to_true_r` and `to_true_z` (hax
    /// `Corrections` `fdc_2d`, the SR1 map the simulator distorts with), or `none` (corrected
    /// positions equal the observed ones).
    pub fdc_2d_map: String,
}

impl Default for InteractionConfig {
    fn default() -> Self {
        Self {
            pair_n_s1s: 3,
            pair_n_s2s: 5,
            s2_pairing_threshold_pe: 70.0,
            drift_velocity_um_per_ns: 1.335,
            drift_time_gate_ns: 1700.0,
            electron_lifetime_us: 550.0,
            s1_light_yield_map: "builtin:XENON1T_s1_xyz_ly_kr83m_SR1_pax-680_fdc-3d_v0.json".into(),
            s2_light_yield_map: "builtin:XENON1T_s2_xy_ly_SR1_v2.2.json.gz".into(),
            fdc_2d_map: "builtin:XENON1T_FDC_SR1_AdCorrTPF.json.gz".into(),
        }
    }
}

/// Every setting of `fax-sim process` (TOML, unknown keys refused).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProcessConfig {
    /// The pax release whose clustering gaps and classifier are used.
    pub pax_version: PaxVersion,
    /// Run number written to every minitree (pax `mc_run_number` of SR1 simulations: 10000).
    pub run_number: i64,
    /// Start of the first event (ns since the Unix epoch); the events follow each other without
    /// gaps, so `event_time` is this plus the lengths of the preceding events.
    pub run_start_time_ns: i64,
    /// The PMT table (gains, arrays, positions): `builtin:pmts.csv` or a CSV path.
    pub pmt_table: String,
    /// Digitiser sample duration (ns, `sample_duration`).
    pub sample_duration_ns: i64,
    /// Reference baseline (ADC counts, `digitizer_reference_baseline`).
    pub digitizer_reference_baseline_adc: i32,
    /// Digitiser voltage range (V, `digitizer_voltage_range`).
    pub digitizer_voltage_range_v: f64,
    /// Digitiser bits (`digitizer_bits`).
    pub digitizer_bits: u32,
    /// PMT circuit load resistor (ohm, `pmt_circuit_load_resistor`).
    pub load_resistor_ohm: f64,
    /// Amplification after the PMT (`external_amplification`).
    pub external_amplification: f64,
    /// Pulse baseline and hit finder.
    pub hit_finder: HitFinderConfig,
    /// Clustering and classification.
    pub clustering: ClusteringConfig,
    /// Interactions and corrections.
    pub interactions: InteractionConfig,
    /// Events processed in parallel and written as one record batch (the outputs do not depend
    /// on it except for the Parquet batch layout).
    pub block_events: usize,
}

impl Default for ProcessConfig {
    fn default() -> Self {
        Self {
            pax_version: PaxVersion::default(),
            run_number: 10000,
            run_start_time_ns: 0,
            pmt_table: "builtin:pmts.csv".into(),
            sample_duration_ns: 10,
            digitizer_reference_baseline_adc: 16000,
            digitizer_voltage_range_v: 2.25,
            digitizer_bits: 14,
            load_resistor_ohm: 50.0,
            external_amplification: 10.0,
            hit_finder: HitFinderConfig::default(),
            clustering: ClusteringConfig::default(),
            interactions: InteractionConfig::default(),
            block_events: 1024,
        }
    }
}

impl ProcessConfig {
    /// First-pass (S1-like) clustering gap (ns) of the configured or version default.
    pub fn s1_gap_ns(&self) -> f64 {
        self.clustering
            .max_gap_size_in_s1like_cluster_ns
            .unwrap_or(match self.pax_version {
                PaxVersion::V6_8 => 240.0,
                PaxVersion::V6_10 => 350.0,
            })
    }

    /// Second-pass clustering gap (ns) of the configured or version default.
    pub fn s2_gap_ns(&self) -> f64 {
        self.clustering
            .max_gap_size_in_cluster_ns
            .unwrap_or(match self.pax_version {
                PaxVersion::V6_8 => 2500.0,
                PaxVersion::V6_10 => 3500.0,
            })
    }

    /// Photoelectrons per (ADC count x sample) of a channel of gain `gain` (electrons per pe);
    /// 0 for a dead channel. pax `dsputils.adc_to_pe`:
    /// `dt * V_range / (2^bits * R * A * e) / gain`.
    pub fn adc_to_pe(&self, gain: f64) -> f64 {
        if gain <= 0.0 {
            return 0.0;
        }
        let adc_to_e = self.sample_duration_ns as f64 * 1e-9 * self.digitizer_voltage_range_v
            / (2f64.powi(self.digitizer_bits as i32)
                * self.load_resistor_ohm
                * self.external_amplification
                * crate::pulse::ELEMENTARY_CHARGE_C);
        adc_to_e / gain
    }

    /// Checks every value against its domain.
    ///
    /// # Errors
    /// [`Error::Config`] naming the first bad key.
    pub fn validate(&self) -> Result<()> {
        let pos = |v: f64, k: &str| -> Result<()> {
            if v > 0.0 && v.is_finite() {
                Ok(())
            } else {
                Err(Error::Config(format!("{k} must be positive, found {v}")))
            }
        };
        let nonneg = |v: f64, k: &str| -> Result<()> {
            if v >= 0.0 && v.is_finite() {
                Ok(())
            } else {
                Err(Error::Config(format!("{k} must be >= 0, found {v}")))
            }
        };
        pos(self.sample_duration_ns as f64, "sample_duration_ns")?;
        pos(self.digitizer_voltage_range_v, "digitizer_voltage_range_v")?;
        pos(self.load_resistor_ohm, "load_resistor_ohm")?;
        pos(self.external_amplification, "external_amplification")?;
        if !(1..=16).contains(&self.digitizer_bits) {
            return Err(Error::Config(format!(
                "digitizer_bits must be in 1..=16, found {}",
                self.digitizer_bits
            )));
        }
        let h = &self.hit_finder;
        if h.baseline_samples == 0 {
            return Err(Error::Config(
                "hit_finder.baseline_samples must be at least 1".into(),
            ));
        }
        nonneg(
            h.height_over_noise_threshold,
            "hit_finder.height_over_noise_threshold",
        )?;
        nonneg(
            h.absolute_adc_counts_threshold,
            "hit_finder.absolute_adc_counts_threshold",
        )?;
        nonneg(
            h.height_over_min_threshold,
            "hit_finder.height_over_min_threshold",
        )?;
        nonneg(h.left_extension_ns as f64, "hit_finder.left_extension_ns")?;
        nonneg(h.right_extension_ns as f64, "hit_finder.right_extension_ns")?;
        nonneg(
            self.s1_gap_ns(),
            "clustering.max_gap_size_in_s1like_cluster_ns",
        )?;
        nonneg(self.s2_gap_ns(), "clustering.max_gap_size_in_cluster_ns")?;
        let c = &self.clustering;
        nonneg(
            c.tight_coincidence_window_left_ns as f64,
            "clustering.tight_coincidence_window_left_ns",
        )?;
        nonneg(
            c.tight_coincidence_window_right_ns as f64,
            "clustering.tight_coincidence_window_right_ns",
        )?;
        let i = &self.interactions;
        nonneg(
            i.s2_pairing_threshold_pe,
            "interactions.s2_pairing_threshold_pe",
        )?;
        pos(
            i.drift_velocity_um_per_ns,
            "interactions.drift_velocity_um_per_ns",
        )?;
        nonneg(i.drift_time_gate_ns, "interactions.drift_time_gate_ns")?;
        pos(i.electron_lifetime_us, "interactions.electron_lifetime_us")?;
        if self.block_events == 0 {
            return Err(Error::Config("block_events must be at least 1".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adc_to_pe_is_pax_value() {
        // 10 ns * 2.25 V / (2^14 * 50 ohm * 10 * e) = 1.7142e5 electrons per ADC count x sample.
        let c = ProcessConfig::default();
        let k = c.adc_to_pe(2e6);
        assert!((k - 0.008_571).abs() < 1e-6, "{k}");
        assert_eq!(c.adc_to_pe(0.0), 0.0);
    }

    #[test]
    fn toml_round_trip_and_versions() {
        let c = ProcessConfig::default();
        let t = toml::to_string(&c).unwrap();
        let back: ProcessConfig = toml::from_str(&t).unwrap();
        assert_eq!(back, c);
        let v68: ProcessConfig = toml::from_str("pax_version = \"v6.8\"").unwrap();
        assert_eq!((v68.s1_gap_ns(), v68.s2_gap_ns()), (240.0, 2500.0));
        assert_eq!((c.s1_gap_ns(), c.s2_gap_ns()), (350.0, 3500.0));
        assert!(toml::from_str::<ProcessConfig>("bogus = 1").is_err());
        let bad: ProcessConfig =
            toml::from_str("[interactions]\nelectron_lifetime_us = 0").unwrap();
        assert!(bad.validate().is_err());
    }
}
