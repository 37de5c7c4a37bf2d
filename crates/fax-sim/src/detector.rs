//! The XENON1T channel layout: PMT arrays, positions, gains, quantum efficiencies, ZLE thresholds,
//! single-photoelectron spectra and the per-channel PMT afterpulse tables.
//!
//! The shipped tables are converted from pax (`XENON1T/pax` commit `871b241`):
//! `pmts.csv` from `pax/config/XENON1T.ini` (`gains` and `gain_sigmas`: the SR1 values, identical in
//! `SR1_parameters.ini`; `quantum_efficiencies`; `pmts[].position`; `[ZLE] special_thresholds`),
//! the afterpulse tables from `pax/config/pmt_afterpulses/sr1_run16347.ini` and
//! `sr1_run10614.ini`, and the spectra from `pax/data/XENON1T_spe_distributions.csv`.

use std::path::Path;

use serde::Deserialize;

use crate::config::DelayDistribution;
use crate::data;
use crate::error::{Error, Result};

/// Number of digitiser channels of XENON1T (`n_channels`).
pub const N_CHANNELS: usize = 260;

/// Which part of the detector a channel belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Array {
    /// Top PMT array (channels 0-126).
    Top,
    /// Bottom PMT array (channels 127-247).
    Bottom,
    /// Muon-veto channels (248-253), not simulated.
    Veto,
    /// Acquisition-monitor channels (254-259), not simulated.
    AcquisitionMonitor,
}

/// One channel of the PMT table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Channel {
    /// Channel number.
    pub channel: usize,
    /// Array.
    pub array: Array,
    /// PMT x (cm); absent for non-TPC channels.
    pub x_cm: Option<f64>,
    /// PMT y (cm).
    pub y_cm: Option<f64>,
    /// Gain (electrons per photoelectron); 0 = dead.
    pub gain: f64,
    /// Width of the gain (electrons), used only without SPE spectra.
    pub gain_sigma: f64,
    /// Quantum efficiency.
    pub quantum_efficiency: f64,
    /// Software-ZLE threshold (ADC counts above baseline).
    pub zle_threshold_adc: i32,
}

impl Channel {
    /// A TPC PMT (top or bottom).
    pub fn is_tpc(&self) -> bool {
        matches!(self.array, Array::Top | Array::Bottom)
    }

    /// A TPC PMT with non-zero gain.
    pub fn is_live_tpc(&self) -> bool {
        self.is_tpc() && self.gain > 0.0
    }
}

/// The channel table.
#[derive(Debug, Clone)]
pub struct PmtTable {
    /// Channels 0..N in order.
    pub channels: Vec<Channel>,
}

fn read_csv_rows<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    label: &Path,
    what: &str,
) -> Result<Vec<T>> {
    let mut rdr = csv::ReaderBuilder::new().from_reader(bytes);
    let mut out = Vec::new();
    for rec in rdr.deserialize::<T>() {
        match rec {
            Ok(r) => out.push(r),
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                return Err(Error::parse(label, line, what, e.to_string()));
            }
        }
    }
    Ok(out)
}

impl PmtTable {
    /// Reads the table from a source (`builtin:pmts.csv` or a CSV path with the columns
    /// `channel,array,x_cm,y_cm,gain,gain_sigma,quantum_efficiency,zle_threshold_adc`).
    ///
    /// # Errors
    /// Located parse errors; [`Error::Config`] if channels are not 0..N in order or `none` is given.
    pub fn from_source(source: &str) -> Result<Self> {
        let s = data::resolve(source)?
            .ok_or_else(|| Error::Config("tpc.pmt_table cannot be none".into()))?;
        let channels: Vec<Channel> = read_csv_rows(&s.bytes, &s.label, "a PMT table row")?;
        for (i, c) in channels.iter().enumerate() {
            if c.channel != i {
                return Err(Error::parse(
                    &s.label,
                    i as u64 + 2,
                    format!("channel {i}"),
                    c.channel.to_string(),
                ));
            }
            if !(c.gain >= 0.0 && c.gain.is_finite() && c.gain_sigma >= 0.0) {
                return Err(Error::parse(
                    &s.label,
                    i as u64 + 2,
                    "gain >= 0 and gain_sigma >= 0",
                    format!("{} and {}", c.gain, c.gain_sigma),
                ));
            }
            if c.is_tpc() && (c.x_cm.is_none() || c.y_cm.is_none()) {
                return Err(Error::parse(
                    &s.label,
                    i as u64 + 2,
                    "x_cm and y_cm for a TPC PMT",
                    "empty",
                ));
            }
        }
        if channels.is_empty() {
            return Err(Error::parse(&s.label, 1, "at least one channel", "none"));
        }
        Ok(Self { channels })
    }

    /// Channels of `array` with non-zero gain.
    pub fn live(&self, array: Array) -> Vec<usize> {
        self.channels
            .iter()
            .filter(|c| c.array == array && c.gain > 0.0)
            .map(|c| c.channel)
            .collect()
    }
}

/// Inverse-CDF samplers of the per-channel SPE area spectra, relative to the gain (mean 1).
///
/// pax `simulation.py` (`Simulator.__init__`, `get_gains`): each spectrum is scaled so its mean
/// is 1 (`charge / (sum(charge * pdf) / sum(pdf))`), its CDF is the normalised cumulative sum,
/// and a uniform number is turned into a relative area by linear interpolation of (CDF, charge).
/// A channel with an empty spectrum gives 0.
///
/// For speed (a table small enough to stay in cache) the simulation samples this inverse CDF
/// tabulated at 1025 evenly spaced probabilities in single precision, interpolated linearly
/// ([`SpeSpectra::relative_area`]); its mean differs from the exact one by less than 1e-3 of
/// the gain for every live channel (test `table_matches_exact_inverse`).
#[derive(Debug, Clone)]
pub struct SpeSpectra {
    /// Per channel: (cdf, relative area) knots; empty = no spectrum.
    knots: Vec<(Vec<f64>, Vec<f64>)>,
    /// Per channel: the exact inverse at u = i / TABLE, i = 0..=TABLE (empty = no spectrum).
    table: Vec<Vec<f32>>,
}

impl SpeSpectra {
    /// Reads the CSV (`charge` column, then one column per channel named by its number).
    ///
    /// # Errors
    /// Located parse errors for malformed rows or headers.
    pub fn from_source(source: &str) -> Result<Option<Self>> {
        let Some(s) = data::resolve(source)? else {
            return Ok(None);
        };
        let label = s.label;
        let mut rdr = csv::ReaderBuilder::new().from_reader(s.bytes.as_slice());
        let headers = rdr
            .headers()
            .map_err(|e| Error::parse(&label, 1, "a CSV header `charge,0,1,...`", e.to_string()))?
            .clone();
        if headers.get(0) != Some("charge") {
            return Err(Error::parse(
                &label,
                1,
                "first column `charge`",
                headers.get(0).unwrap_or("").to_string(),
            ));
        }
        let mut channel_of_col = Vec::new();
        for (i, h) in headers.iter().enumerate().skip(1) {
            let ch: usize = h.trim().parse().map_err(|_| {
                Error::parse(
                    &label,
                    1,
                    format!("a channel number in column {}", i + 1),
                    h.to_string(),
                )
            })?;
            channel_of_col.push(ch);
        }
        let ncol = channel_of_col.len();
        let mut charge = Vec::new();
        let mut pdf: Vec<Vec<f64>> = vec![Vec::new(); ncol];
        for (row, rec) in rdr.records().enumerate() {
            let line = row as u64 + 2;
            let rec = rec.map_err(|e| Error::parse(&label, line, "a CSV row", e.to_string()))?;
            if rec.len() != ncol + 1 {
                return Err(Error::parse(
                    &label,
                    line,
                    format!("{} fields", ncol + 1),
                    format!("{} fields", rec.len()),
                ));
            }
            let num = |i: usize| -> Result<f64> {
                let f = &rec[i];
                f.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| {
                        Error::parse(
                            &label,
                            line,
                            format!("a number in column {}", i + 1),
                            f.to_string(),
                        )
                    })
            };
            charge.push(num(0)?);
            for (c, p) in pdf.iter_mut().enumerate() {
                let v = num(c + 1)?;
                if v < 0.0 {
                    return Err(Error::parse(
                        &label,
                        line,
                        "a non-negative bin content",
                        v.to_string(),
                    ));
                }
                p.push(v);
            }
        }
        let n_ch = channel_of_col.iter().max().map_or(0, |m| m + 1);
        let mut knots = vec![(Vec::new(), Vec::new()); n_ch];
        for (col, &ch) in channel_of_col.iter().enumerate() {
            let p = &pdf[col];
            let total: f64 = p.iter().sum();
            if total <= 0.0 {
                continue;
            }
            let mean: f64 = charge.iter().zip(p).map(|(q, w)| q * w).sum::<f64>() / total;
            if !(mean > 0.0) {
                continue;
            }
            let mut cum = 0.0;
            let cdf: Vec<f64> = p
                .iter()
                .map(|w| {
                    cum += w;
                    cum / total
                })
                .collect();
            let rel: Vec<f64> = charge.iter().map(|q| q / mean).collect();
            knots[ch] = (cdf, rel);
        }
        let mut out = Self {
            knots,
            table: Vec::new(),
        };
        out.table = (0..out.knots.len())
            .map(|ch| {
                if out.knots[ch].0.is_empty() {
                    Vec::new()
                } else {
                    (0..=SPE_TABLE)
                        .map(|i| out.relative_area_exact(ch, i as f64 / SPE_TABLE as f64) as f32)
                        .collect()
                }
            })
            .collect();
        Ok(Some(out))
    }

    /// `true` when `channel` has a spectrum.
    pub fn has(&self, channel: usize) -> bool {
        self.knots.get(channel).is_some_and(|k| !k.0.is_empty())
    }

    /// The relative SPE area for the uniform number `u` in [0, 1) (0 without a spectrum), from
    /// the tabulated inverse CDF.
    #[inline]
    pub fn relative_area(&self, channel: usize, u: f64) -> f64 {
        let Some(t) = self.table.get(channel).filter(|t| !t.is_empty()) else {
            return 0.0;
        };
        let x = u.clamp(0.0, 1.0) * SPE_TABLE as f64;
        let i = (x as usize).min(SPE_TABLE - 1);
        let f = x - i as f64;
        let (a, b) = (f64::from(t[i]), f64::from(t[i + 1]));
        a + f * (b - a)
    }

    /// The relative SPE area for the uniform number `u` in [0, 1) (0 without a spectrum),
    /// as scipy's `interp1d(cdf, charge)`: linear between the bracketing knots.
    pub fn relative_area_exact(&self, channel: usize, u: f64) -> f64 {
        let Some((cdf, rel)) = self.knots.get(channel) else {
            return 0.0;
        };
        if cdf.len() < 2 {
            return 0.0;
        }
        let idx = cdf.partition_point(|c| *c < u).clamp(1, cdf.len() - 1);
        let (x0, x1) = (cdf[idx - 1], cdf[idx]);
        let (y0, y1) = (rel[idx - 1], rel[idx]);
        if x1 > x0 {
            y0 + (y1 - y0) * (u - x0) / (x1 - x0)
        } else {
            y1
        }
    }
}

/// Points of the tabulated SPE inverse CDF (minus one).
const SPE_TABLE: usize = 1024;

/// One PMT afterpulse type of a channel.
#[derive(Debug, Clone, PartialEq)]
pub struct PmtAfterpulseType {
    /// Name (`Xe`, `Ar`, `Uniform0`, ...).
    pub name: String,
    /// Probability per pulse.
    pub p: f64,
    /// Delay distribution.
    pub delay: DelayDistribution,
    /// Amplification (mean, rms) of a truncated Gaussian, or `None` for 1.
    pub amplification: Option<(f64, f64)>,
}

#[derive(Debug, Deserialize)]
struct ApRow {
    channel: usize,
    #[serde(rename = "type")]
    kind: String,
    p: f64,
    time_distribution: String,
    time_parameter_1_ns: f64,
    time_parameter_2_ns: f64,
    amp_mean: Option<f64>,
    amp_rms: Option<f64>,
}

/// Per-channel PMT afterpulse types (`each_pmt_afterpulse_types` of pax).
#[derive(Debug, Clone, Default)]
pub struct PmtAfterpulseTable {
    /// Types per channel (index = channel).
    pub per_channel: Vec<Vec<PmtAfterpulseType>>,
}

impl PmtAfterpulseTable {
    /// Reads the CSV (`channel,type,p,time_distribution,time_parameter_1_ns,time_parameter_2_ns,
    /// amp_mean,amp_rms`; `uniform` takes low, high (either order, as numpy) and `normal` mean,
    /// sigma).
    ///
    /// # Errors
    /// Located parse errors for malformed rows; `Ok(None)` for `none`.
    pub fn from_source(source: &str) -> Result<Option<Self>> {
        let Some(s) = data::resolve(source)? else {
            return Ok(None);
        };
        let rows: Vec<ApRow> = read_csv_rows(&s.bytes, &s.label, "an afterpulse row")?;
        let mut per_channel: Vec<Vec<PmtAfterpulseType>> = Vec::new();
        for (i, r) in rows.into_iter().enumerate() {
            let line = i as u64 + 2;
            if !(0.0..=1.0).contains(&r.p) {
                return Err(Error::parse(&s.label, line, "p in [0, 1]", r.p.to_string()));
            }
            let delay = match r.time_distribution.as_str() {
                "uniform" => DelayDistribution::Uniform {
                    low_ns: r.time_parameter_1_ns,
                    high_ns: r.time_parameter_2_ns,
                },
                "normal" if r.time_parameter_2_ns >= 0.0 => DelayDistribution::Normal {
                    mean_ns: r.time_parameter_1_ns,
                    sigma_ns: r.time_parameter_2_ns,
                },
                other => {
                    return Err(Error::parse(
                        &s.label,
                        line,
                        "uniform, or normal with sigma >= 0",
                        other.to_string(),
                    ));
                }
            };
            let amplification = match (r.amp_mean, r.amp_rms) {
                (Some(m), Some(s2)) => Some((m, s2)),
                (None, None) => None,
                _ => {
                    return Err(Error::parse(
                        &s.label,
                        line,
                        "both amp_mean and amp_rms, or neither",
                        "one of them",
                    ));
                }
            };
            if per_channel.len() <= r.channel {
                per_channel.resize(r.channel + 1, Vec::new());
            }
            per_channel[r.channel].push(PmtAfterpulseType {
                name: r.kind,
                p: r.p,
                delay,
                amplification,
            });
        }
        Ok(Some(Self { per_channel }))
    }

    /// Types of `channel` (empty when it has none).
    pub fn types(&self, channel: usize) -> &[PmtAfterpulseType] {
        self.per_channel.get(channel).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_pmt_table_matches_pax() {
        let t = PmtTable::from_source("builtin:pmts.csv").unwrap();
        assert_eq!(t.channels.len(), N_CHANNELS);
        let dead: Vec<usize> = t
            .channels
            .iter()
            .filter(|c| c.is_tpc() && c.gain == 0.0)
            .map(|c| c.channel)
            .collect();
        assert_eq!(
            dead,
            [
                1, 2, 12, 26, 27, 34, 62, 65, 73, 79, 86, 88, 91, 102, 118, 130, 134, 135, 137,
                139, 148, 150, 152, 162, 167, 178, 183, 190, 198, 203, 206, 213, 214, 234, 239,
                244
            ]
        );
        assert_eq!(t.live(Array::Top).len(), 112);
        assert_eq!(t.live(Array::Bottom).len(), 100);
        let live: Vec<f64> = t
            .channels
            .iter()
            .filter(|c| c.is_live_tpc())
            .map(|c| c.gain)
            .collect();
        let mean = live.iter().sum::<f64>() / live.len() as f64;
        assert!((mean / 3.08e6 - 1.0).abs() < 0.01, "{mean}");
        assert_eq!(t.channels[96].zle_threshold_adc, 108);
        assert_eq!(t.channels[0].x_cm, Some(-12.345668451390225));
    }

    #[test]
    fn table_matches_exact_inverse() {
        let s = SpeSpectra::from_source("builtin:XENON1T_spe_distributions.csv.gz")
            .unwrap()
            .unwrap();
        let t = PmtTable::from_source("builtin:pmts.csv").unwrap();
        let mut n_live_with = 0;
        for c in t.channels.iter().filter(|c| c.is_live_tpc()) {
            assert!(
                s.has(c.channel),
                "live channel {} without a spectrum",
                c.channel
            );
            n_live_with += 1;
            let m = 200_000;
            let (mut a, mut b) = (0.0, 0.0);
            for i in 0..m {
                let u = (i as f64 + 0.5) / m as f64;
                a += s.relative_area(c.channel, u);
                b += s.relative_area_exact(c.channel, u);
            }
            let (a, b) = (a / m as f64, b / m as f64);
            assert!((a - b).abs() < 1e-3, "channel {}: {a} vs {b}", c.channel);
            // Mean 1 up to pax's half-bin offset of the linear inverse (bins of 1 unit).
            assert!((b - 1.0).abs() < 0.03, "channel {}: mean {b}", c.channel);
        }
        assert_eq!(n_live_with, 212);
    }

    #[test]
    fn afterpulse_tables_total_probability() {
        let t = PmtAfterpulseTable::from_source("builtin:pmt_afterpulses_sr1_run16347.csv")
            .unwrap()
            .unwrap();
        let tot: Vec<f64> = (0..N_CHANNELS)
            .map(|c| t.types(c).iter().map(|a| a.p).sum())
            .collect();
        let mean = tot.iter().sum::<f64>() / tot.len() as f64;
        // pax sr1_run16347: mean total afterpulse probability 2.9 % per pulse, maximum 34 %.
        assert!((mean - 0.0288).abs() < 0.0005, "{mean}");
        assert!((tot.iter().cloned().fold(0.0, f64::max) - 0.341).abs() < 0.001);
    }
}
