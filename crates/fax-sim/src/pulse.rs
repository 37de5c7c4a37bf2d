//! PMT pulses and the digitiser: the SPE pulse template, ADC conversion, and the software
//! zero-length encoding, built per channel on short segments instead of full-length waveforms.
//!
//! # Template
//!
//! pax `simulation.py` (`Simulator.__init__`, `custom_pmt_pulse_current`, `digitizer_response`):
//! the measured pulse `pe_pulse_ys` at `pe_pulse_ts` is integrated, `F = cumsum(ys) / sum(ys)`,
//! interpolated linearly with 0 before the first and 1 after the last point. For a pulse at
//! integer-ns offset `o` within its sample, template sample `j` (`j = 0 .. b + a`, with
//! `b = samples_before_pulse_center`, `a = samples_after_pulse_center`) is the current
//! `(F(-o + (j - b + 1) dt) - F(-o + (j - b) dt)) / dt` per electron of gain. It covers the
//! digitiser sample `c - b + j` of the pulse centre `c = floor(t / dt)`; pax adds it one sample
//! later (`c - b + 1 + j`), reproduced by `--compat template-delay`.
//!
//! # ADC
//!
//! `adc = current (e/ns) * e * R * A / (V_range / 2^bits)` (R = 50 ohm, A = 10, 2.25 V, 14 bits:
//! 5.8333e-4 ADC counts per e/ns), rounded to the nearest count (pax truncates toward zero:
//! `--compat adc-truncation`), subtracted from the baseline 16000 and clipped to
//! [0, 2^bits] (pax clips at 16384, not 16383).
//!
//! # Zero-length encoding
//!
//! pax `pax/plugins/ZLE.py` (`SoftwareZLE`): `w = baseline - raw`; a sample is above threshold
//! when `w > threshold + 1`; intervals of such samples are widened by 50 samples on each side,
//! clipped to the event, merged when they touch or overlap, and trimmed to start on an even and
//! end on an odd sample. Samples outside every segment are at the baseline (`w = 0`), never above
//! threshold, so the encoding of each segment equals that of the full waveform when segments are
//! more than `before + after` samples apart (tested against a dense reference).

use crate::config::DigitizerConfig;

/// Elementary charge (C), CODATA 2010 as in pax `units.py`.
pub const ELEMENTARY_CHARGE_C: f64 = 1.602176565e-19;

/// The SPE current templates for each integer-ns offset within a sample.
#[derive(Debug, Clone)]
pub struct Template {
    /// Samples per template, `before + after`.
    pub len: usize,
    /// Samples before the centre sample.
    pub before: usize,
    /// Sample duration (ns, integral).
    pub dt: i64,
    /// `templates[o * len + j]`: current (electrons/ns per electron of gain) of sample `j` at
    /// offset `o` ns.
    pub values: Vec<f64>,
}

/// The integrated, normalised pulse shape F(t) (`interp1d(ts, cumsum(ys)/sum(ys),
/// fill_value=(0, 1))`).
pub fn integrated_pulse(ts: &[f64], ys: &[f64], t: f64) -> f64 {
    let total: f64 = ys.iter().sum();
    if t < ts[0] {
        return 0.0;
    }
    if t > ts[ts.len() - 1] {
        return 1.0;
    }
    let i = ts.partition_point(|x| *x <= t).clamp(1, ts.len() - 1);
    let cum_hi: f64 = ys[..=i].iter().sum::<f64>() / total;
    let cum_lo = cum_hi - ys[i] / total;
    let (t0, t1) = (ts[i - 1], ts[i]);
    cum_lo + (cum_hi - cum_lo) * (t - t0) / (t1 - t0)
}

impl Template {
    /// Precomputes the templates of a digitiser configuration.
    pub fn new(d: &DigitizerConfig) -> Self {
        let dt = d.sample_duration_ns as i64;
        let (b, a) = (d.samples_before_pulse_center, d.samples_after_pulse_center);
        let len = b + a;
        // Cumulative sums once, then linear interpolation (same arithmetic as integrated_pulse).
        let total: f64 = d.pe_pulse_ys.iter().sum();
        let mut cum = Vec::with_capacity(d.pe_pulse_ys.len());
        let mut s = 0.0;
        for y in &d.pe_pulse_ys {
            s += y;
            cum.push(s / total);
        }
        let ts = &d.pe_pulse_ts_ns;
        let f = |t: f64| -> f64 {
            if t < ts[0] {
                return 0.0;
            }
            if t > ts[ts.len() - 1] {
                return 1.0;
            }
            let i = ts.partition_point(|x| *x <= t).clamp(1, ts.len() - 1);
            let (t0, t1) = (ts[i - 1], ts[i]);
            cum[i - 1] + (cum[i] - cum[i - 1]) * (t - t0) / (t1 - t0)
        };
        let dtf = dt as f64;
        let mut values = Vec::with_capacity(dt as usize * len);
        for o in 0..dt {
            let o = o as f64;
            for j in 0..len {
                let lo = -o + (j as f64 - b as f64) * dtf;
                values.push((f(lo + dtf) - f(lo)) / dtf);
            }
        }
        Self {
            len,
            before: b,
            dt,
            values,
        }
    }

    /// The template of offset `o` (ns, `0 <= o < dt`).
    pub fn at(&self, o: usize) -> &[f64] {
        &self.values[o * self.len..(o + 1) * self.len]
    }
}

/// ADC counts per unit current (electrons/ns) of a digitiser configuration.
pub fn adc_per_current(d: &DigitizerConfig) -> f64 {
    let dv = d.voltage_range_v / 2f64.powi(d.bits as i32);
    ELEMENTARY_CHARGE_C * 1e9 * d.load_resistor_ohm * d.external_amplification / dv
}

/// Photoelectrons per ADC count and sample of a channel of gain `gain` (pax `adc_to_pe`).
pub fn pe_per_adc_sample(d: &DigitizerConfig, gain: f64) -> f64 {
    d.sample_duration_ns / (gain * adc_per_current(d))
}

/// The raw sample of a summed current (electrons/ns): baseline minus the ADC counts, clipped to
/// [0, 2^bits].
#[inline]
pub fn digitize(current: f64, k_adc: f64, baseline: i32, max_adc: i32, truncate: bool) -> i16 {
    // Clamp in floating point first so the conversion to i32 never saturates; `as` truncates
    // toward zero, and rounding is half away from zero.
    let a = (current * k_adc).clamp(-1e9, 1e9);
    let counts = if truncate {
        a as i32
    } else {
        (a + 0.5f64.copysign(a)) as i32
    };
    (baseline - counts).clamp(0, max_adc) as i16
}

/// ZLE intervals (inclusive, absolute sample indices) of the raw samples `raw` starting at
/// absolute index `first`, in an event of `n_samples` samples, appended to `out`.
///
/// A sample is above threshold when `baseline - raw > threshold + 1` (`threshold` is the
/// configured ZLE threshold; pax adds 1, see `ZLE.py`).
#[allow(clippy::too_many_arguments)]
pub fn zle_intervals(
    raw: &[i16],
    baseline: i32,
    first: i64,
    n_samples: i64,
    threshold: i32,
    before: i64,
    after: i64,
    out: &mut Vec<(i64, i64)>,
) {
    // baseline - raw > threshold + 1  <=>  raw < baseline - threshold - 1
    let limit = baseline - threshold - 1;
    let start_len = out.len();
    let push = |l: i64, r: i64, out: &mut Vec<(i64, i64)>| {
        let l = (l - before).clamp(0, n_samples - 1);
        let r = (r + after).clamp(0, n_samples - 1);
        let n = out.len();
        if n > start_len && l <= out[n - 1].1 {
            out[n - 1].1 = r.max(out[n - 1].1);
        } else {
            out.push((l, r));
        }
    };
    let mut k = 0;
    let n = raw.len();
    while k < n {
        if i32::from(raw[k]) < limit {
            let l = k;
            while k < n && i32::from(raw[k]) < limit {
                k += 1;
            }
            push(first + l as i64, first + k as i64 - 1, out);
        } else {
            k += 1;
        }
    }
    // Trim to even start, odd end.
    let mut k = start_len;
    while k < out.len() {
        let (mut l, mut r) = out[k];
        if l % 2 != 0 {
            l += 1;
        }
        if r % 2 != 1 {
            r -= 1;
        }
        if r >= l {
            out[k] = (l, r);
            k += 1;
        } else {
            out.remove(k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adc_factor_is_pax_value() {
        let d = DigitizerConfig::default();
        let k = adc_per_current(&d);
        assert!((k - 5.833_3e-4).abs() < 1e-7, "{k}");
        // One PE at gain 2e6 integrates to 116.7 ADC counts x samples.
        assert!((2e6 / 10.0 * k - 116.67).abs() < 0.01);
        assert!((pe_per_adc_sample(&d, 2e6) - 0.008571).abs() < 1e-6);
    }

    #[test]
    fn template_shape_offset_zero() {
        let t = Template::new(&DigitizerConfig::default());
        let frac: Vec<f64> = t.at(0).iter().map(|v| v * 10.0).collect();
        let want = [0.0, 0.180, 0.409, 0.156, 0.040, 0.025, 0.021, 0.018];
        for (g, w) in frac.iter().zip(want) {
            assert!((g - w).abs() < 0.0015, "{frac:?}");
        }
    }
}
