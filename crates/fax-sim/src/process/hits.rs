//! Pulse baseline and noise, and the hit finder.
//!
//! pax `pax/plugins/signal_processing/PulseProperties.py` (`compute_pulse_properties`) and
//! `HitFinder.py` (`FindHits`, `build_hits`) with `pax/dsputils.py`
//! (`find_intervals_above_threshold`, `extend_intervals`):
//!
//! - the pulse is inverted, `w = reference_baseline - raw` (ADC counts); its baseline is the mean
//!   of the first `baseline_samples` samples, and `w` is taken relative to it;
//! - the noise sigma is the root mean square of the samples below the baseline (0 if none);
//! - the threshold is `int(max(k_noise * sigma, absolute, -k_min * minimum))` and a hit is a run of
//!   samples with `w > threshold`;
//! - each hit is extended `left_extension` to the left and `right_extension` to the right, never
//!   into the neighbouring hit of the same pulse (the right extension of the earlier hit wins),
//!   nor past the pulse;
//! - its area is `sum(w) * adc_to_pe` (pe), its centre the amplitude-weighted sample time (ns),
//!   its height the largest `w` (pe/sample); hits in channels of gain 0 are not searched, and hits
//!   of area <= 0 are dropped.
//!
//! pax splits hits longer than 350 samples at minima of a LOWESS-smoothed waveform; this port
//! does not (with the simulator's noiseless baseline such hits only occur inside very large S2s,
//! whose area and timing do not change).

use super::config::ProcessConfig;

/// One hit: a run of samples above threshold in one pulse, with its extension.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// Channel.
    pub channel: u16,
    /// Index of the pulse the hit was found in (in the event's pulse order).
    pub pulse: u32,
    /// First sample of the extended hit (samples of the event, inclusive).
    pub left: i64,
    /// Last sample of the extended hit (inclusive).
    pub right: i64,
    /// First sample above threshold.
    pub left_central: i64,
    /// Last sample above threshold.
    pub right_central: i64,
    /// Sample of the largest amplitude (the first, if several).
    pub index_of_maximum: i64,
    /// Amplitude-weighted mean time of the extended hit (ns since the event start).
    pub center_ns: f64,
    /// Area (pe).
    pub area_pe: f64,
    /// Largest amplitude (pe per sample).
    pub height_pe: f64,
    /// Samples at the digitiser's lower clip (raw 0).
    pub n_saturated: u32,
}

/// Baseline, noise and extremes of a pulse (ADC counts, on the inverted waveform).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PulseProperties {
    /// Mean of the first `baseline_samples` of `reference - raw`.
    pub baseline: f64,
    /// RMS of the samples below the baseline (0 when there are none).
    pub noise_sigma: f64,
    /// Smallest `w` relative to the baseline.
    pub minimum: f64,
    /// Largest `w` relative to the baseline.
    pub maximum: f64,
}

/// The properties of a pulse of raw samples `raw` (pax `compute_pulse_properties`).
///
/// # Panics
/// Never; an empty pulse gives all zeros.
pub fn pulse_properties(raw: &[i16], reference: i32, baseline_samples: usize) -> PulseProperties {
    if raw.is_empty() {
        return PulseProperties {
            baseline: 0.0,
            noise_sigma: 0.0,
            minimum: 0.0,
            maximum: 0.0,
        };
    }
    let inv = |x: i16| f64::from(reference - i32::from(x));
    let nb = baseline_samples.min(raw.len());
    let baseline = raw[..nb].iter().map(|&x| inv(x)).sum::<f64>() / nb as f64;
    let (mut n, mut m2) = (0u64, 0.0);
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &x in raw {
        let v = inv(x);
        lo = lo.min(v);
        hi = hi.max(v);
        if v < baseline {
            n += 1;
            m2 += (v - baseline) * (v - baseline);
        }
    }
    PulseProperties {
        baseline,
        noise_sigma: if n == 0 { 0.0 } else { (m2 / n as f64).sqrt() },
        minimum: lo - baseline,
        maximum: hi - baseline,
    }
}

/// Per-thread buffers of the hit finder.
#[derive(Debug, Default)]
pub struct HitScratch {
    bounds: Vec<(usize, usize)>,
    central: Vec<(usize, usize)>,
}

/// Finds the hits of one pulse and appends them to `out`.
///
/// `raw`: the pulse's raw samples (ADC counts); `start`: its first sample in the event;
/// `adc_to_pe`: pe per ADC count and sample of the channel (0: dead channel, nothing is found).
/// Returns the pulse's baseline (ADC counts on the inverted waveform; 0 when not searched).
#[allow(clippy::too_many_arguments)]
pub fn find_hits(
    raw: &[i16],
    start: i64,
    channel: u16,
    pulse: u32,
    adc_to_pe: f64,
    cfg: &ProcessConfig,
    scratch: &mut HitScratch,
    out: &mut Vec<Hit>,
) -> f64 {
    if adc_to_pe <= 0.0 || raw.is_empty() {
        return 0.0;
    }
    let h = &cfg.hit_finder;
    let reference = cfg.digitizer_reference_baseline_adc;
    let p = pulse_properties(raw, reference, h.baseline_samples);
    let threshold = (h.height_over_noise_threshold * p.noise_sigma)
        .max(h.absolute_adc_counts_threshold)
        .max(-h.height_over_min_threshold * p.minimum)
        .trunc();
    let HitScratch { bounds: b, central } = scratch;
    // The baseline-subtracted, inverted sample (ADC counts), computed where needed.
    let wv = |x: i16| f64::from(reference - i32::from(x)) - p.baseline;
    // Runs above threshold (inclusive bounds).
    b.clear();
    let mut i = 0;
    let n = raw.len();
    while i < n {
        if wv(raw[i]) > threshold {
            let l = i;
            while i < n && wv(raw[i]) > threshold {
                i += 1;
            }
            b.push((l, i - 1));
        } else {
            i += 1;
        }
    }
    if b.is_empty() {
        return p.baseline;
    }
    let le = (h.left_extension_ns / cfg.sample_duration_ns) as usize;
    let re = (h.right_extension_ns / cfg.sample_duration_ns) as usize;
    central.clear();
    central.extend_from_slice(b);
    // Right extensions first (they win), then left extensions up to the previous hit's end.
    let nb = b.len();
    for k in 0..nb {
        let max_r = if k + 1 == nb { n - 1 } else { b[k + 1].0 - 1 };
        b[k].1 = (b[k].1 + re).min(max_r);
    }
    for k in 0..nb {
        let min_l = if k == 0 { 0 } else { b[k - 1].1 + 1 };
        b[k].0 = b[k].0.saturating_sub(le).max(min_l);
    }
    // A sample is saturated when raw reached the digitiser's floor (pax: w above
    // reference - baseline - 0.5).
    let sat = f64::from(reference) - p.baseline - 0.5;
    let dt = cfg.sample_duration_ns as f64;
    for (k, &(l, r)) in b.iter().enumerate() {
        let (mut amp, mut arg, mut area, mut center, mut n_sat) =
            (f64::NEG_INFINITY, 0, 0.0, 0.0, 0);
        for (j, x) in raw[l..=r].iter().map(|&x| wv(x)).enumerate() {
            if x > amp {
                amp = x;
                arg = j;
            }
            if x > sat {
                n_sat += 1;
            }
            area += x;
            center += x * j as f64;
        }
        if area <= 0.0 {
            continue;
        }
        center /= area;
        out.push(Hit {
            channel,
            pulse,
            left: start + l as i64,
            right: start + r as i64,
            left_central: start + central[k].0 as i64,
            right_central: start + central[k].1 as i64,
            index_of_maximum: start + (l + arg) as i64,
            center_ns: (start as f64 + l as f64 + center) * dt,
            area_pe: area * adc_to_pe,
            height_pe: amp * adc_to_pe,
            n_saturated: n_sat,
        });
    }
    p.baseline
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pulse(w: &[i32]) -> Vec<i16> {
        // 47 baseline samples, then the signal (ADC counts above baseline).
        let mut v = vec![16000i16; 47];
        v.extend(w.iter().map(|x| (16000 - x) as i16));
        v.extend(std::iter::repeat_n(16000i16, 40));
        v
    }

    #[test]
    fn baseline_and_noise() {
        let raw = [16000i16, 16002, 15998, 16000, 15990];
        let p = pulse_properties(&raw, 16000, 4);
        // Inverted: 0, -2, 2, 0, 10; baseline 0; below baseline: -2 -> sigma 2.
        assert_eq!(p.baseline, 0.0);
        assert_eq!(p.noise_sigma, 2.0);
        assert_eq!((p.minimum, p.maximum), (-2.0, 10.0));
    }

    #[test]
    fn one_hit_area_center_extension() {
        let cfg = ProcessConfig::default();
        // Samples above 15 ADC: 20, 40, 20 at pulse indices 48..=50 (one sample of 10 below).
        let raw = pulse(&[10, 20, 40, 20, 5]);
        let mut out = Vec::new();
        find_hits(
            &raw,
            100,
            3,
            0,
            0.01,
            &cfg,
            &mut HitScratch::default(),
            &mut out,
        );
        assert_eq!(out.len(), 1);
        let h = out[0];
        assert_eq!((h.left_central, h.right_central), (148, 150));
        // Extension: 3 samples left, 20 right.
        assert_eq!((h.left, h.right), (145, 170));
        // Area: all signal samples inside the extension, 95 ADC x 0.01 pe.
        assert!((h.area_pe - 0.95).abs() < 1e-12);
        assert_eq!(h.index_of_maximum, 149);
        assert!((h.height_pe - 0.4).abs() < 1e-12);
        // Centre: (10*2 + 20*3 + 40*4 + 20*5 + 5*6) / 95 samples after 145.
        let c = (145.0 + (20.0 + 60.0 + 160.0 + 100.0 + 30.0) / 95.0) * 10.0;
        assert!((h.center_ns - c).abs() < 1e-9);
    }

    #[test]
    fn neighbouring_hits_do_not_overlap_and_dead_channel_is_skipped() {
        let cfg = ProcessConfig::default();
        let mut sig = vec![0; 12];
        sig[0] = 30;
        sig[10] = 30;
        let raw = pulse(&sig);
        let mut out = Vec::new();
        let mut s = HitScratch::default();
        find_hits(&raw, 0, 1, 0, 1.0, &cfg, &mut s, &mut out);
        assert_eq!(out.len(), 2);
        // First hit extends right until just before the second (sample 56), the second's left
        // extension stops there.
        assert_eq!(out[0].right, 56);
        assert_eq!(out[1].left, 57);
        assert_eq!((out[0].area_pe, out[1].area_pe), (30.0, 30.0));
        out.clear();
        find_hits(&raw, 0, 1, 0, 0.0, &cfg, &mut s, &mut out);
        assert!(out.is_empty());
        // At exactly the threshold (15) nothing is found: the test is w > threshold.
        find_hits(&pulse(&[15]), 0, 1, 0, 1.0, &cfg, &mut s, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn saturation_counted() {
        let cfg = ProcessConfig::default();
        let raw = pulse(&[16000, 16000, 100]);
        let mut out = Vec::new();
        find_hits(
            &raw,
            0,
            1,
            0,
            1.0,
            &cfg,
            &mut HitScratch::default(),
            &mut out,
        );
        assert_eq!(out[0].n_saturated, 2);
    }
}
