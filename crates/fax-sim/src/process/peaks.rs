//! Gap-size clustering of hits into peaks, and the peak properties.
//!
//! # Clustering
//!
//! pax `pax/plugins/signal_processing/BuildPeaks.py` (`GapSizeClustering`), on the TPC hits sorted
//! by the sample of their maximum. The gap before a hit is the number of samples between its
//! maximum and the latest maximum before it, minus one (`dsputils.gaps_between_hits`); a cluster
//! ends where the gap exceeds the threshold.
//!
//! 1. First pass, gap `max_gap_size_in_s1like_cluster`: a cluster becomes a peak at once if it
//!    looks like an S1 on its sum waveform (rise time below `s1_risetime_threshold` and 90 %
//!    width below `s1_width_threshold`) or if fewer than 4 channels contribute.
//! 2. Second pass, gap `max_gap_size_in_cluster`, over the hits left.
//!
//! A peak with one contributing channel is a `lone_hit`. pax's later splitting passes
//! (`RejectNoiseHits`, `LocalMinimumClustering`, `TailSeparation`, `NaturalBreaksClustering`)
//! are not run.
//!
//! # Properties
//!
//! pax `pax/plugins/peak_processing/BasicProperties.py` (`BasicProperties`,
//! `SumWaveformProperties`, `integrate_until_fraction`). The sum waveform `w` (pe per sample) of
//! a peak is the sum over its hits of the baseline-subtracted pulse samples inside each hit's
//! extended bounds, from the peak's first to its last sample. Then:
//!
//! - `area` = sum of hit areas (pe); `area_fraction_top` = area in top-array channels / area;
//! - `n_contributing_channels` = channels with positive area; `n_hits`;
//! - `hit_time_mean`, `hit_time_std`: area-weighted mean and standard deviation of the hit
//!   centres (ns);
//! - `index_of_maximum` = first sample of the largest `w`, `height` = that value (pe/sample);
//!   `center_time` = `w`-weighted mean sample time (negative samples weigh 0), in ns;
//! - area times `t(f)`, f = 0, 5, ..., 100 %: the fractional sample at which the cumulative sum
//!   of `w` reaches `f` of the total, the last sample added in proportion, times the sample
//!   duration (ns since the peak's first sample);
//!   `range_area_decile[k] = t(50 + 5k %) - t(50 - 5k %)` (so `range_50p_area` = t(75 %) -
//!   t(25 %), `range_90p_area` = t(95 %) - t(5 %)) and `area_decile_from_midpoint[i] =
//!   t(10 i %) - t(50 %)`; the rise time is `-area_decile_from_midpoint[1]` = t(50 %) - t(10 %);
//! - `tight_coincidence` = distinct channels with a hit maximum within
//!   [`index_of_maximum` - 50 ns, `index_of_maximum` + 50 ns];
//! - position: pax `pax/plugins/posrec/WeightedSum.py`, the mean of the top-array PMT positions
//!   weighted by the peak's area in each (null without top-array area).

use super::config::{PaxVersion, ProcessConfig};
use super::hits::Hit;
use crate::simulate::Pulses;

/// Peak types (pax's `peak.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PeakType {
    /// Scintillation signal.
    S1,
    /// Ionisation (proportional scintillation) signal.
    S2,
    /// Neither.
    Unknown,
    /// A peak with one contributing channel.
    LoneHit,
}

impl PeakType {
    /// pax's name: `s1`, `s2`, `unknown`, `lone_hit`.
    pub fn as_str(self) -> &'static str {
        match self {
            PeakType::S1 => "s1",
            PeakType::S2 => "s2",
            PeakType::Unknown => "unknown",
            PeakType::LoneHit => "lone_hit",
        }
    }
}

/// One reconstructed peak with its properties. Times are ns since the event start, samples are
/// digitiser samples of the event.
#[derive(Debug, Clone, PartialEq)]
pub struct Peak {
    /// Type.
    pub peak_type: PeakType,
    /// First sample (inclusive).
    pub left: i64,
    /// Last sample (inclusive).
    pub right: i64,
    /// Area (pe).
    pub area: f64,
    /// Fraction of the area in the top array.
    pub area_fraction_top: f64,
    /// Hits.
    pub n_hits: u32,
    /// Channels with positive area.
    pub n_contributing_channels: u32,
    /// Channels with a saturated sample.
    pub n_saturated_channels: u32,
    /// Area-weighted mean hit centre (ns).
    pub hit_time_mean: f64,
    /// Area-weighted standard deviation of the hit centres (ns).
    pub hit_time_std: f64,
    /// Sum-waveform-weighted mean time (ns).
    pub center_time: f64,
    /// Sample of the sum waveform's maximum.
    pub index_of_maximum: i64,
    /// Sum waveform maximum (pe per sample).
    pub height: f64,
    /// Time of 50 % of the area (ns since the event start).
    pub area_midpoint: f64,
    /// `range_area_decile[k]` = t(50 + 5k %) - t(50 - 5k %) (ns), k = 0..=10.
    pub range_area_decile: [f64; 11],
    /// `area_decile_from_midpoint[i]` = t(10 i %) - t(50 %) (ns), i = 0..=10.
    pub area_decile_from_midpoint: [f64; 11],
    /// Distinct channels with a hit maximum within the tight-coincidence window.
    pub tight_coincidence: u32,
    /// Weighted-sum x (cm); NaN without top-array area.
    pub x: f64,
    /// Weighted-sum y (cm); NaN without top-array area.
    pub y: f64,
    /// Channel of the largest hit.
    pub largest_hit_channel: u16,
    /// Area of the largest hit (pe).
    pub largest_hit_area: f64,
    /// Contributing channels, ascending.
    pub channels: Vec<u16>,
}

impl Peak {
    /// `range_50p_area` (ns): t(75 %) - t(25 %).
    pub fn range_50p_area(&self) -> f64 {
        self.range_area_decile[5]
    }

    /// `range_90p_area` (ns): t(95 %) - t(5 %).
    pub fn range_90p_area(&self) -> f64 {
        self.range_area_decile[9]
    }

    /// Rise time (ns): t(50 %) - t(10 %).
    pub fn rise_time(&self) -> f64 {
        -self.area_decile_from_midpoint[1]
    }
}

/// The per-channel facts clustering and position reconstruction need.
#[derive(Debug, Clone)]
pub struct Channels {
    /// pe per ADC count and sample (0: dead).
    pub adc_to_pe: Vec<f64>,
    /// Top-array channel.
    pub is_top: Vec<bool>,
    /// TPC channel (top or bottom).
    pub is_tpc: Vec<bool>,
    /// PMT x (cm), 0 for non-TPC channels.
    pub x: Vec<f64>,
    /// PMT y (cm), 0 for non-TPC channels.
    pub y: Vec<f64>,
}

impl Channels {
    /// The channel facts of a PMT table under a processing configuration.
    pub fn new(pmts: &crate::detector::PmtTable, cfg: &ProcessConfig) -> Self {
        use crate::detector::Array;
        let c = &pmts.channels;
        Self {
            adc_to_pe: c.iter().map(|ch| cfg.adc_to_pe(ch.gain)).collect(),
            is_top: c.iter().map(|ch| ch.array == Array::Top).collect(),
            is_tpc: c.iter().map(|ch| ch.is_tpc()).collect(),
            x: c.iter().map(|ch| ch.x_cm.unwrap_or(0.0)).collect(),
            y: c.iter().map(|ch| ch.y_cm.unwrap_or(0.0)).collect(),
        }
    }

    /// Number of channels.
    pub fn len(&self) -> usize {
        self.adc_to_pe.len()
    }

    /// `true` without channels.
    pub fn is_empty(&self) -> bool {
        self.adc_to_pe.is_empty()
    }
}

/// The area times of a sum waveform `w` (pe per sample): `out[k]` is the fractional sample
/// index at which the cumulative area reaches `k / 20` of the total (pax
/// `integrate_until_fraction` with `linspace(0, 1, 21)`), the last sample needed added in
/// proportion; the 100 % point of a waveform whose cumulative sum never quite reaches the total
/// (rounding) is `w.len()`.
///
/// Returns `false` (and leaves `out` NaN) when the total is not positive.
pub fn area_times(w: &[f64], out: &mut [f64; 21]) -> bool {
    *out = [f64::NAN; 21];
    let total: f64 = w.iter().sum();
    if !(total > 0.0) {
        return false;
    }
    let mut k = 0usize;
    let mut seen = 0.0;
    for (i, &x) in w.iter().enumerate() {
        let frac = x / total;
        while seen + frac >= k as f64 / 20.0 {
            let needed = total * (k as f64 / 20.0 - seen);
            out[k] = if x != 0.0 {
                i as f64 + needed / x
            } else {
                i as f64
            };
            k += 1;
            if k == 21 {
                return true;
            }
        }
        seen += frac;
    }
    for o in out.iter_mut().skip(k) {
        *o = w.len() as f64;
    }
    true
}

/// Sum-waveform quantities of a peak.
#[derive(Debug, Clone, Copy)]
struct WaveformProps {
    index_of_maximum: usize,
    height: f64,
    center: f64,
    times: [f64; 21],
}

fn waveform_props(w: &[f64]) -> Option<WaveformProps> {
    let mut times = [f64::NAN; 21];
    if !area_times(w, &mut times) {
        return None;
    }
    let (mut iom, mut height) = (0, f64::NEG_INFINITY);
    let (mut sw, mut swi) = (0.0, 0.0);
    for (i, &x) in w.iter().enumerate() {
        if x > height {
            height = x;
            iom = i;
        }
        let c = x.max(0.0);
        sw += c;
        swi += c * i as f64;
    }
    if !(sw > 0.0) {
        return None;
    }
    Some(WaveformProps {
        index_of_maximum: iom,
        height,
        center: swi / sw,
        times,
    })
}

/// Rise time and 90 % width (ns) from area times in samples.
fn rise_and_width(t: &[f64; 21], dt: f64) -> (f64, f64) {
    ((t[10] - t[2]) * dt, (t[19] - t[1]) * dt)
}

/// Per-thread buffers of peak building.
#[derive(Debug, Default)]
pub struct PeakScratch {
    w: Vec<f64>,
    area_per_channel: Vec<f64>,
    sat_per_channel: Vec<u32>,
    mask: Vec<bool>,
    rest: Vec<Hit>,
}

/// The inputs of peak building for one event.
pub struct PeakInput<'a> {
    /// The event's pulses.
    pub pulses: &'a Pulses,
    /// Baseline of each pulse (ADC counts on the inverted waveform).
    pub baselines: &'a [f64],
    /// Channel facts.
    pub channels: &'a Channels,
    /// Configuration.
    pub config: &'a ProcessConfig,
}

impl PeakInput<'_> {
    /// Fills `w` with the sum waveform of `hits` over samples `left..=right` (pe per sample).
    fn sum_waveform(&self, hits: &[Hit], left: i64, right: i64, w: &mut Vec<f64>) {
        w.clear();
        w.resize((right - left + 1) as usize, 0.0);
        let reference = f64::from(self.config.digitizer_reference_baseline_adc);
        for h in hits {
            let p = h.pulse as usize;
            let raw = self.pulses.samples_of(p);
            let start = self.pulses.start_sample[p];
            let k = self.channels.adc_to_pe[h.channel as usize];
            let base = self.baselines[p];
            for s in h.left..=h.right {
                let x = reference - f64::from(raw[(s - start) as usize]) - base;
                w[(s - left) as usize] += x * k;
            }
        }
    }

    /// Builds a peak of `hits` (sorted by maximum) with all properties except the type (set to
    /// `Unknown`, or `LoneHit` for one channel). `None` when the sum waveform is not positive.
    fn build(&self, hits: &[Hit], s: &mut PeakScratch) -> Option<Peak> {
        let cfg = self.config;
        let dt = cfg.sample_duration_ns as f64;
        let left = hits.iter().map(|h| h.left).min()?;
        let right = hits.iter().map(|h| h.right).max()?;
        let mut w = std::mem::take(&mut s.w);
        self.sum_waveform(hits, left, right, &mut w);
        let props = waveform_props(&w);
        s.w = w;
        let props = props?;
        // Per-channel sums (buffers reset afterwards through the same hits).
        let n = self.channels.len();
        s.area_per_channel.resize(n, 0.0);
        s.sat_per_channel.resize(n, 0);
        let (mut area, mut top) = (0.0, 0.0);
        let (mut wx, mut wy) = (0.0, 0.0);
        let mut largest = hits[0];
        for h in hits {
            let c = h.channel as usize;
            s.area_per_channel[c] += h.area_pe;
            s.sat_per_channel[c] += h.n_saturated;
            area += h.area_pe;
            if h.area_pe > largest.area_pe {
                largest = *h;
            }
        }
        let mut channels: Vec<u16> = Vec::new();
        let mut n_sat = 0;
        for h in hits {
            let c = h.channel as usize;
            let a = s.area_per_channel[c];
            if a != 0.0 || s.sat_per_channel[c] != 0 {
                if a > 0.0 {
                    channels.push(h.channel);
                    if self.channels.is_top[c] {
                        top += a;
                        wx += a * self.channels.x[c];
                        wy += a * self.channels.y[c];
                    }
                }
                if s.sat_per_channel[c] > 0 {
                    n_sat += 1;
                }
                s.area_per_channel[c] = 0.0;
                s.sat_per_channel[c] = 0;
            }
        }
        channels.sort_unstable();
        let mean = hits.iter().map(|h| h.center_ns * h.area_pe).sum::<f64>() / area;
        let var = hits
            .iter()
            .map(|h| (h.center_ns - mean).powi(2) * h.area_pe)
            .sum::<f64>()
            / area;
        let iom = left + props.index_of_maximum as i64;
        let (wl, wr) = (
            cfg.clustering.tight_coincidence_window_left_ns / cfg.sample_duration_ns,
            cfg.clustering.tight_coincidence_window_right_ns / cfg.sample_duration_ns,
        );
        let mut tc: Vec<u16> = hits
            .iter()
            .filter(|h| h.index_of_maximum >= iom - wl && h.index_of_maximum <= iom + wr)
            .map(|h| h.channel)
            .collect();
        tc.sort_unstable();
        tc.dedup();
        let t = &props.times;
        let mut range_area_decile = [0.0; 11];
        let mut from_mid = [0.0; 11];
        for k in 0..11 {
            range_area_decile[k] = (t[10 + k] - t[10 - k]) * dt;
            from_mid[k] = (t[2 * k] - t[10]) * dt;
        }
        let n_contributing = channels.len() as u32;
        let (x, y) = if top > 0.0 {
            (wx / top, wy / top)
        } else {
            (f64::NAN, f64::NAN)
        };
        Some(Peak {
            peak_type: if n_contributing == 1 {
                PeakType::LoneHit
            } else {
                PeakType::Unknown
            },
            left,
            right,
            area,
            area_fraction_top: top / area,
            n_hits: hits.len() as u32,
            n_contributing_channels: n_contributing,
            n_saturated_channels: n_sat,
            hit_time_mean: mean,
            hit_time_std: var.max(0.0).sqrt(),
            center_time: (left as f64 + props.center) * dt,
            index_of_maximum: iom,
            height: props.height,
            area_midpoint: (left as f64 + t[10]) * dt,
            range_area_decile,
            area_decile_from_midpoint: from_mid,
            tight_coincidence: tc.len() as u32,
            x,
            y,
            largest_hit_channel: largest.channel,
            largest_hit_area: largest.area_pe,
            channels,
        })
    }

    /// Clusters `hits` (any order; only TPC channels are used) into classified peaks, sorted by
    /// first sample.
    pub fn peaks(&self, hits: &mut Vec<Hit>, s: &mut PeakScratch) -> Vec<Peak> {
        let cfg = self.config;
        let dt = cfg.sample_duration_ns as f64;
        hits.retain(|h| self.channels.is_tpc[h.channel as usize]);
        hits.sort_unstable_by_key(|h| (h.index_of_maximum, h.channel, h.left));
        let mut peaks = Vec::new();
        // First pass.
        let g1 = cfg.s1_gap_ns() / dt;
        s.mask.clear();
        s.mask.resize(hits.len(), false);
        for (l, r) in clusters(hits, g1) {
            let h = &hits[l..r];
            let n_ch = {
                let mut c: Vec<u16> = h.iter().map(|h| h.channel).collect();
                c.sort_unstable();
                c.dedup();
                c.len()
            };
            let left = h.iter().map(|h| h.left).min().unwrap_or(0);
            let right = h.iter().map(|h| h.right).max().unwrap_or(0);
            let mut w = std::mem::take(&mut s.w);
            self.sum_waveform(h, left, right, &mut w);
            let mut t = [f64::NAN; 21];
            let ok = area_times(&w, &mut t);
            s.w = w;
            let (rise, width) = rise_and_width(&t, dt);
            let s1_like = ok
                && rise < cfg.clustering.s1_risetime_threshold_ns
                && width < cfg.clustering.s1_width_threshold_ns;
            if s1_like || n_ch < 4 {
                s.mask[l..r].iter_mut().for_each(|m| *m = true);
                if let Some(p) = self.build(h, s) {
                    peaks.push(p);
                }
            }
        }
        // Second pass over the rest.
        let mut rest = std::mem::take(&mut s.rest);
        rest.clear();
        rest.extend(
            hits.iter()
                .zip(&s.mask)
                .filter(|(_, m)| !**m)
                .map(|(h, _)| *h),
        );
        let g2 = cfg.s2_gap_ns() / dt;
        for (l, r) in clusters(&rest, g2) {
            if let Some(p) = self.build(&rest[l..r], s) {
                peaks.push(p);
            }
        }
        s.rest = rest;
        for p in &mut peaks {
            p.peak_type = classify(p, cfg);
        }
        peaks.sort_by_key(|p| (p.left, p.right, p.index_of_maximum));
        peaks
    }
}

/// Index ranges of the gap clusters of `hits` (sorted by maximum): a new cluster starts at a hit
/// whose gap (samples between its maximum and the latest earlier maximum, minus one, at least 0)
/// exceeds `gap_samples`.
pub fn clusters(hits: &[Hit], gap_samples: f64) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    if hits.is_empty() {
        return out;
    }
    let mut start = 0;
    let mut boundary = hits[0].index_of_maximum;
    for (i, h) in hits.iter().enumerate().skip(1) {
        let gap = (h.index_of_maximum - boundary - 1).max(0);
        if gap as f64 > gap_samples {
            out.push((start, i));
            start = i;
        }
        boundary = boundary.max(h.index_of_maximum);
    }
    out.push((start, hits.len()));
    out
}

/// Linear interpolation in `(xs, ys)` with linear extrapolation by the end segments (`xs`
/// ascending, at least two points; repeated `x` make a step, the later value applying from it).
fn interp_extrapolate(x: f64, xs: &[f64], ys: &[f64]) -> f64 {
    let n = xs.len();
    // Segment k: xs[k]..xs[k+1], the last with xs[k] <= x (clamped to the end segments).
    let k = xs[..n - 1]
        .iter()
        .rposition(|&v| v <= x)
        .unwrap_or(0)
        .min(n - 2);
    let (x0, x1, y0, y1) = (xs[k], xs[k + 1], ys[k], ys[k + 1]);
    if x1 == x0 {
        return y1;
    }
    y0 + (y1 - y0) * (x - x0) / (x1 - x0)
}

/// The type of a peak with computed properties; lone hits stay lone hits.
///
/// - v6.10 (pax `ClassifyPeaks.py`, `AdHocClassification1T`): S1 if the rise time is below
///   `s1_risetime_threshold`, the 90 % width below `s1_width_threshold` and the tight coincidence
///   at least `tight_coincidence_threshold` (unknown if only the coincidence fails); otherwise S2
///   if at least 4 channels contribute, else unknown.
/// - v6.8 (pax v6.8.x `AdHocClassification1T`): the rise-time bound is interpolated in area
///   (80, 75, 70, 70 ns at 0, 5, 10, 100 pe, extrapolated linearly). Below it: unknown for a tight
///   coincidence of at most 2; S1 for areas above 100 or below 5 pe; in between S1 if the rise
///   time is below the AFT bound (70, 70, 68, 65, 60, 0, 0 ns at AFT 0, 0.4, 0.5, 0.6, 0.7, 0.7,
///   1.0), else S2. Above it: S2 if more than 4 channels contribute, else unknown.
pub fn classify(p: &Peak, cfg: &ProcessConfig) -> PeakType {
    if p.peak_type == PeakType::LoneHit {
        return PeakType::LoneHit;
    }
    let rise = p.rise_time();
    let c = &cfg.clustering;
    match cfg.pax_version {
        PaxVersion::V6_10 => {
            if rise < c.s1_risetime_threshold_ns && p.range_90p_area() < c.s1_width_threshold_ns {
                if p.tight_coincidence >= c.tight_coincidence_threshold {
                    PeakType::S1
                } else {
                    PeakType::Unknown
                }
            } else if p.n_contributing_channels >= 4 {
                PeakType::S2
            } else {
                PeakType::Unknown
            }
        }
        PaxVersion::V6_8 => {
            let bound =
                interp_extrapolate(p.area, &[0.0, 5.0, 10.0, 100.0], &[80.0, 75.0, 70.0, 70.0]);
            if rise < bound {
                if p.tight_coincidence <= 2 {
                    PeakType::Unknown
                } else if p.area > 100.0 || p.area < 5.0 {
                    PeakType::S1
                } else {
                    let aft = p.area_fraction_top.clamp(0.0, 1.0);
                    let aft_bound = interp_extrapolate(
                        aft,
                        &[0.0, 0.4, 0.5, 0.6, 0.7, 0.7, 1.0],
                        &[70.0, 70.0, 68.0, 65.0, 60.0, 0.0, 0.0],
                    );
                    if rise < aft_bound {
                        PeakType::S1
                    } else {
                        PeakType::S2
                    }
                }
            } else if p.n_contributing_channels > 4 {
                PeakType::S2
            } else {
                PeakType::Unknown
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_times_of_a_box() {
        // Four samples of 1 pe: t(f) = 4 f samples exactly.
        let mut t = [0.0; 21];
        assert!(area_times(&[1.0, 1.0, 1.0, 1.0], &mut t));
        for (k, v) in t.iter().enumerate() {
            assert!((v - 4.0 * k as f64 / 20.0).abs() < 1e-12, "{k}: {v}");
        }
        // range_50p_area = (3 - 1) samples, 90 %: 3.8 - 0.2; rise time = 2 - 0.4.
    }

    #[test]
    fn area_times_of_a_triangle() {
        // w = 1, 3: total 4. t(25 %) = 1 (end of first sample); t(50 %) = 1 + 1/3; t(10 %) = 0.4;
        // t(75 %) = 1 + 2/3; t(5 %) = 0.2; t(95 %) = 1 + 2.8/3.
        let mut t = [0.0; 21];
        assert!(area_times(&[1.0, 3.0], &mut t));
        let dt = 10.0;
        assert!((t[5] - 1.0).abs() < 1e-12);
        assert!((t[10] - 4.0 / 3.0).abs() < 1e-12);
        let range50 = (t[15] - t[5]) * dt;
        assert!((range50 - 20.0 / 3.0).abs() < 1e-9, "{range50}");
        let rise = (t[10] - t[2]) * dt;
        assert!((rise - (40.0 / 3.0 - 4.0)).abs() < 1e-9, "{rise}");
        let range90 = (t[19] - t[1]) * dt;
        assert!((range90 - ((1.0 + 2.8 / 3.0) - 0.2) * 10.0).abs() < 1e-9);
        assert!(!area_times(&[0.0, 0.0], &mut t));
    }

    fn hit(ch: u16, iom: i64) -> Hit {
        Hit {
            channel: ch,
            pulse: 0,
            left: iom,
            right: iom,
            left_central: iom,
            right_central: iom,
            index_of_maximum: iom,
            center_ns: iom as f64 * 10.0,
            area_pe: 1.0,
            height_pe: 1.0,
            n_saturated: 0,
        }
    }

    #[test]
    fn gap_clusters() {
        let h = [hit(0, 0), hit(1, 35), hit(2, 71), hit(3, 72)];
        // Gaps 34, 35, 0 samples: threshold 35 keeps all together, 34 splits before the third.
        assert_eq!(clusters(&h, 35.0), vec![(0, 4)]);
        assert_eq!(clusters(&h, 34.0), vec![(0, 2), (2, 4)]);
        assert_eq!(clusters(&h, 33.0), vec![(0, 1), (1, 2), (2, 4)]);
        assert!(clusters(&[], 1.0).is_empty());
    }

    #[test]
    fn interpolation_with_step_and_extrapolation() {
        let xs = [0.0, 0.4, 0.5, 0.6, 0.7, 0.7, 1.0];
        let ys = [70.0, 70.0, 68.0, 65.0, 60.0, 0.0, 0.0];
        assert_eq!(interp_extrapolate(0.2, &xs, &ys), 70.0);
        assert!((interp_extrapolate(0.65, &xs, &ys) - 62.5).abs() < 1e-9);
        assert_eq!(interp_extrapolate(0.7, &xs, &ys), 0.0);
        assert_eq!(interp_extrapolate(0.69999, &xs, &ys).round(), 60.0);
        let b = |a: f64| interp_extrapolate(a, &[0.0, 5.0, 10.0, 100.0], &[80.0, 75.0, 70.0, 70.0]);
        assert_eq!(
            (b(2.5), b(5.0), b(50.0), b(1000.0)),
            (77.5, 75.0, 70.0, 70.0)
        );
    }

    fn peak(area: f64, rise: f64, width90: f64, tc: u32, n_ch: u32, aft: f64) -> Peak {
        let mut range_area_decile = [0.0; 11];
        range_area_decile[9] = width90;
        let mut area_decile_from_midpoint = [0.0; 11];
        area_decile_from_midpoint[1] = -rise;
        Peak {
            peak_type: PeakType::Unknown,
            left: 0,
            right: 0,
            area,
            area_fraction_top: aft,
            n_hits: n_ch,
            n_contributing_channels: n_ch,
            n_saturated_channels: 0,
            hit_time_mean: 0.0,
            hit_time_std: 0.0,
            center_time: 0.0,
            index_of_maximum: 0,
            height: 0.0,
            area_midpoint: 0.0,
            range_area_decile,
            area_decile_from_midpoint,
            tight_coincidence: tc,
            x: f64::NAN,
            y: f64::NAN,
            largest_hit_channel: 0,
            largest_hit_area: 0.0,
            channels: Vec::new(),
        }
    }

    #[test]
    fn classifier_variants() {
        let v10 = ProcessConfig::default();
        let v8 = ProcessConfig {
            pax_version: PaxVersion::V6_8,
            ..ProcessConfig::default()
        };
        use PeakType::*;
        // (area, rise, width90, tight coincidence, channels, aft) -> (v6.10, v6.8)
        let cases = [
            // Fast, narrow, 3-fold: S1 in both.
            ((50.0, 40.0, 100.0, 3, 10, 0.2), (S1, S1)),
            // 2-fold: S1 in v6.10 (>= 2), unknown in v6.8 (<= 2).
            ((50.0, 40.0, 100.0, 2, 10, 0.2), (S1, Unknown)),
            // 1-fold: unknown in both.
            ((50.0, 40.0, 100.0, 1, 10, 0.2), (Unknown, Unknown)),
            // Rise 72 ns at 3 pe: above v6.10's 70 ns, below v6.8's 76 ns bound (area < 5: S1).
            ((3.0, 72.0, 100.0, 3, 3, 0.2), (Unknown, S1)),
            // Rise 62 ns at 50 pe with AFT 0.65 (bound 62.5 ns): S1; at AFT 0.7 (bound 0): S2.
            ((50.0, 62.0, 100.0, 3, 10, 0.65), (S1, S1)),
            ((50.0, 62.0, 100.0, 3, 10, 0.7), (S1, S2)),
            // Wide: S2 with 4 channels in v6.10, but v6.8 needs more than 4.
            ((500.0, 400.0, 1000.0, 4, 4, 0.6), (S2, Unknown)),
            ((500.0, 400.0, 1000.0, 4, 5, 0.6), (S2, S2)),
            // Fast but 90 % width above 300 ns: not an S1 in v6.10.
            ((500.0, 40.0, 400.0, 4, 5, 0.6), (S2, S1)),
        ];
        for ((a, r, w, tc, n, aft), (want10, want8)) in cases {
            let p = peak(a, r, w, tc, n, aft);
            assert_eq!(
                classify(&p, &v10),
                want10,
                "v6.10 {a} {r} {w} {tc} {n} {aft}"
            );
            assert_eq!(classify(&p, &v8), want8, "v6.8 {a} {r} {w} {tc} {n} {aft}");
        }
        let mut lone = peak(1.0, 10.0, 10.0, 1, 1, 1.0);
        lone.peak_type = LoneHit;
        assert_eq!(classify(&lone, &v10), LoneHit);
    }
}
