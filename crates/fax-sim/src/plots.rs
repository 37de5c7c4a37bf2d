//! Plots of one simulated event, read back from the output tables: the summed top and bottom
//! waveforms with the truth peaks marked (`plot-event`), and the per-channel pulses as a
//! channel-time map (`plot-channels`). Each plot gets a CSV of its points beside it.
//!
//! Amplitudes are in photoelectrons per 10-ns sample: `(baseline - raw) * dt / (gain * k_adc)`
//! with the channel's gain and the ADC factor of the simulation configuration stored in the
//! table's metadata.

use std::io::Write;
use std::path::{Path, PathBuf};

use arrow_array::{Array, Int16Array, Int64Array, ListArray};
use serde::{Deserialize, Serialize};

use crate::config::SimConfig;
use crate::detector::{Array as PmtArray, PmtTable};
use crate::error::{Error, Result};
use crate::output::{EVENTS, PULSES, TRUTH_PEAKS};
use crate::pulse::pe_per_adc_sample;

/// Which part of the event to draw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PlotWindow {
    /// Around the largest truth peak (S2 if any): from 1 us before its first photon to 2 us after
    /// its last (an S1-only event: 0.5 us before to 1.5 us after).
    #[default]
    Auto,
    /// The whole event.
    Full,
    /// An explicit time range (us since the event start).
    Range {
        /// Start (us).
        start_us: f64,
        /// End (us).
        end_us: f64,
    },
}

impl PlotWindow {
    /// Parses `auto`, `full` or `START_US,END_US`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for anything else.
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim() {
            "auto" => Ok(Self::Auto),
            "full" => Ok(Self::Full),
            other => {
                let bad = || {
                    Error::InvalidArgument(format!(
                        "window: expected auto, full or START_US,END_US, found `{other}`"
                    ))
                };
                let (a, b) = other.split_once(',').ok_or_else(bad)?;
                let (a, b): (f64, f64) = (
                    a.trim().parse().map_err(|_| bad())?,
                    b.trim().parse().map_err(|_| bad())?,
                );
                if !(a.is_finite() && b.is_finite() && b > a) {
                    return Err(bad());
                }
                Ok(Self::Range {
                    start_us: a,
                    end_us: b,
                })
            }
        }
    }
}

/// Options of `plot-event` and `plot-channels`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlotConfig {
    /// The event number.
    pub event: u64,
    /// The time window.
    pub window: PlotWindow,
    /// Image width (pixels).
    pub width: u32,
    /// Image height (pixels).
    pub height: u32,
}

impl Default for PlotConfig {
    fn default() -> Self {
        Self {
            event: 0,
            window: PlotWindow::Auto,
            width: 1200,
            height: 700,
        }
    }
}

/// One event read back from the output tables.
#[derive(Debug, Clone)]
pub struct EventData {
    /// Event length (samples).
    pub n_samples: i64,
    /// Pulses: (channel, start sample, raw samples).
    pub pulses: Vec<(usize, i64, Vec<i16>)>,
    /// Truth peaks: (type, mean, first, last photon time in ns).
    pub peaks: Vec<(String, f64, f64, f64, u64)>,
    /// The simulation configuration.
    pub config: SimConfig,
}

fn read_event(dir: &Path, event: u64) -> Result<EventData> {
    let meta = hep_core::io::read_parquet_metadata(dir.join(PULSES))?;
    let config: SimConfig = meta
        .get("fax_sim.configuration")
        .and_then(|s| serde_json::from_str(s).ok())
        .ok_or_else(|| {
            Error::parse(
                dir.join(PULSES),
                0,
                "fax-sim tables with the configuration in their metadata",
                "none",
            )
        })?;
    let ev = event as i64;
    let mut n_samples = None;
    for b in hep_core::io::ParquetReader::open(dir.join(EVENTS))? {
        let b = b?;
        let e = hep_core::io::column_i64(&b, "event")?;
        let n = hep_core::io::column_i64(&b, "n_samples")?;
        for i in 0..b.num_rows() {
            if e.value(i) == ev {
                n_samples = Some(n.value(i));
            }
        }
    }
    let n_samples = n_samples.ok_or_else(|| {
        Error::InvalidArgument(format!(
            "event {event} is not in {}",
            dir.join(EVENTS).display()
        ))
    })?;
    let mut pulses = Vec::new();
    for b in hep_core::io::ParquetReader::open(dir.join(PULSES))? {
        let b = b?;
        let e = hep_core::io::column_i64(&b, "event")?;
        let ch = hep_core::io::column_as::<Int16Array>(&b, "channel")?;
        let st = hep_core::io::column_as::<Int64Array>(&b, "start_sample")?;
        let sm = hep_core::io::column_as::<ListArray>(&b, "samples")?;
        for i in 0..b.num_rows() {
            if e.value(i) == ev {
                let v = sm.value(i);
                let v = v.as_any().downcast_ref::<Int16Array>().ok_or_else(|| {
                    Error::parse(
                        dir.join(PULSES),
                        0,
                        "samples as list<int16>",
                        "another type",
                    )
                })?;
                pulses.push((ch.value(i) as usize, st.value(i), v.values().to_vec()));
            }
        }
    }
    let mut peaks = Vec::new();
    for b in hep_core::io::ParquetReader::open(dir.join(TRUTH_PEAKS))? {
        let b = b?;
        let e = hep_core::io::column_i64(&b, "event")?;
        let t = hep_core::io::column_str(&b, "peak_type")?;
        let m = hep_core::io::column_f64(&b, "t_mean_photons")?;
        let f = hep_core::io::column_f64(&b, "t_first_photon")?;
        let l = hep_core::io::column_f64(&b, "t_last_photon")?;
        let n = hep_core::io::column_i64(&b, "n_photons")?;
        for i in 0..b.num_rows() {
            if e.value(i) == ev {
                peaks.push((
                    t.value(i).to_string(),
                    m.value(i),
                    f.value(i),
                    l.value(i),
                    n.value(i) as u64,
                ));
            }
        }
    }
    Ok(EventData {
        n_samples,
        pulses,
        peaks,
        config,
    })
}

/// The plotted window in samples `[lo, hi)`.
fn window_samples(d: &EventData, w: &PlotWindow) -> (i64, i64) {
    let dt = d.config.digitizer.sample_duration_ns;
    let (lo_ns, hi_ns) = match w {
        PlotWindow::Full => (0.0, d.n_samples as f64 * dt),
        PlotWindow::Range { start_us, end_us } => (start_us * 1000.0, end_us * 1000.0),
        PlotWindow::Auto => {
            let main = d
                .peaks
                .iter()
                .filter(|p| p.0 == "s2")
                .max_by_key(|p| p.4)
                .or_else(|| d.peaks.iter().max_by_key(|p| p.4));
            match main {
                Some(p) if p.0 == "s2" => (p.2 - 1000.0, p.3 + 2000.0),
                Some(p) => (p.2 - 500.0, p.3 + 1500.0),
                None => (0.0, d.n_samples as f64 * dt),
            }
        }
    };
    let lo = ((lo_ns / dt).floor() as i64).clamp(0, d.n_samples.max(1) - 1);
    let hi = ((hi_ns / dt).ceil() as i64).clamp(lo + 1, d.n_samples.max(lo + 1));
    (lo, hi)
}

/// Summed waveforms of the top and bottom arrays (pe per sample) over samples `[lo, hi)`.
pub fn summed_waveforms(d: &EventData, pmts: &PmtTable, lo: i64, hi: i64) -> (Vec<f64>, Vec<f64>) {
    let n = (hi - lo) as usize;
    let (mut top, mut bottom) = (vec![0.0; n], vec![0.0; n]);
    let base = d.config.digitizer.reference_baseline_adc;
    for (ch, st, s) in &d.pulses {
        let c = &pmts.channels[*ch];
        if c.gain <= 0.0 {
            continue;
        }
        let f = pe_per_adc_sample(&d.config.digitizer, c.gain);
        let target = if c.array == PmtArray::Top {
            &mut top
        } else {
            &mut bottom
        };
        for (k, &v) in s.iter().enumerate() {
            let i = st + k as i64;
            if i >= lo && i < hi {
                target[(i - lo) as usize] += f64::from(base - i32::from(v)) * f;
            }
        }
    }
    (top, bottom)
}

/// Most points drawn per waveform line.
const MAX_LINE_POINTS: usize = 500;

fn csv_path(image: &Path) -> PathBuf {
    image.with_extension("csv")
}

/// Draws the summed top and bottom waveforms of an event of the simulate output `dir` into
/// `image` (PNG, or SVG by extension), with vertical lines at the truth peaks' mean photon times,
/// and writes the CSV of the points (`time_us, top_pe_per_sample, bottom_pe_per_sample`) beside
/// it. Returns the files written.
///
/// # Errors
/// [`Error::InvalidArgument`] for an event that is not in the tables; table and plot errors.
pub fn plot_event(dir: &Path, cfg: &PlotConfig, image: &Path) -> Result<Vec<PathBuf>> {
    let d = read_event(dir, cfg.event)?;
    let pmts = PmtTable::from_source(&d.config.tpc.pmt_table)?;
    let (lo, hi) = window_samples(&d, &cfg.window);
    let (top, bottom) = summed_waveforms(&d, &pmts, lo, hi);
    let dt_us = d.config.digitizer.sample_duration_ns / 1000.0;
    let t = |i: usize| (lo + i as i64) as f64 * dt_us;
    let mut f = hep_core::io::AtomicFile::create(csv_path(image))?;
    let io = |e| Error::io(csv_path(image), e);
    writeln!(f, "time_us,top_pe_per_sample,bottom_pe_per_sample").map_err(io)?;
    for i in 0..top.len() {
        writeln!(f, "{},{},{}", t(i), top[i], bottom[i]).map_err(io)?;
    }
    f.commit()?;
    let ymax = top.iter().chain(&bottom).cloned().fold(1.0f64, f64::max) * 1.05;
    let ymin = top.iter().chain(&bottom).cloned().fold(0.0f64, f64::min) * 1.05;
    // Long windows: draw the largest sample of each bin of `k` samples, so that narrow peaks
    // stay visible at the image's resolution (the CSV keeps every sample).
    let k = top.len().div_ceil(MAX_LINE_POINTS).max(1);
    let envelope = |w: &[f64]| -> Vec<(f64, f64)> {
        w.chunks(k)
            .enumerate()
            .map(|(b, c)| {
                (
                    t(b * k),
                    c.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
                )
            })
            .collect()
    };
    let mut series = vec![
        hep_core::plot::Series::new("top array", envelope(&top)),
        hep_core::plot::Series::new("bottom array", envelope(&bottom)),
    ];
    let (x0, x1) = (t(0), t(top.len().saturating_sub(1)).max(t(0) + dt_us));
    for kind in ["s1", "s2"] {
        let mut pts = Vec::new();
        for p in d.peaks.iter().filter(|p| p.0 == kind) {
            let tm = p.1 / 1000.0;
            if tm >= x0 && tm <= x1 {
                pts.extend([(tm, ymin), (tm, ymax), (f64::NAN, f64::NAN)]);
            }
        }
        if !pts.is_empty() {
            series.push(hep_core::plot::Series::new(
                format!("{} truth (mean photon time)", kind.to_uppercase()),
                pts,
            ));
        }
    }
    let title = if k > 1 {
        format!(
            "fax-sim event {}: summed waveforms (largest sample per {} ns)",
            cfg.event,
            k as f64 * dt_us * 1000.0
        )
    } else {
        format!("fax-sim event {}: summed waveforms", cfg.event)
    };
    let opts = hep_core::plot::PlotOptions::new(
        title,
        "Time since event start (us)",
        "Amplitude (pe per 10 ns sample)",
    )
    .with_size(cfg.width, cfg.height)
    .with_x_range(x0, x1)
    .with_y_range(ymin.min(-0.05 * ymax), ymax);
    hep_core::plot::lines(image, &series, &opts)?;
    Ok(vec![image.to_path_buf(), csv_path(image)])
}

/// Draws the channel-time map of an event (pe per time bin and channel, TPC channels 0-247)
/// into `image`, with the CSV of the non-empty cells (`channel, time_us, pe`) beside it.
///
/// # Errors
/// As [`plot_event`].
pub fn plot_channels(dir: &Path, cfg: &PlotConfig, image: &Path) -> Result<Vec<PathBuf>> {
    let d = read_event(dir, cfg.event)?;
    let pmts = PmtTable::from_source(&d.config.tpc.pmt_table)?;
    let (lo, hi) = window_samples(&d, &cfg.window);
    let n_tpc = pmts.channels.iter().filter(|c| c.is_tpc()).count();
    let span = (hi - lo) as usize;
    let nx = span.clamp(1, 400);
    let per_bin = span.div_ceil(nx);
    let nx = span.div_ceil(per_bin);
    let dt_us = d.config.digitizer.sample_duration_ns / 1000.0;
    let mut values = vec![0.0; nx * n_tpc];
    let base = d.config.digitizer.reference_baseline_adc;
    for (ch, st, s) in &d.pulses {
        let c = &pmts.channels[*ch];
        if *ch >= n_tpc || c.gain <= 0.0 {
            continue;
        }
        let f = pe_per_adc_sample(&d.config.digitizer, c.gain);
        for (k, &v) in s.iter().enumerate() {
            let i = st + k as i64;
            if i >= lo && i < hi {
                values[ch * nx + ((i - lo) as usize) / per_bin] +=
                    f64::from(base - i32::from(v)) * f;
            }
        }
    }
    let mut f = hep_core::io::AtomicFile::create(csv_path(image))?;
    let io = |e| Error::io(csv_path(image), e);
    writeln!(f, "channel,time_us,pe").map_err(io)?;
    for ch in 0..n_tpc {
        for ix in 0..nx {
            let v = values[ch * nx + ix];
            if v != 0.0 {
                writeln!(
                    f,
                    "{ch},{},{v}",
                    (lo as f64 + (ix * per_bin) as f64) * dt_us
                )
                .map_err(io)?;
            }
        }
    }
    f.commit()?;
    for v in &mut values {
        if *v == 0.0 {
            *v = f64::NAN;
        }
    }
    let map = hep_core::plot::Map2D {
        x_low: lo as f64 * dt_us,
        x_high: (lo as f64 + (nx * per_bin) as f64) * dt_us,
        nx,
        y_low: 0.0,
        y_high: n_tpc as f64,
        ny: n_tpc,
        values,
    };
    let opts = hep_core::plot::PlotOptions::new(
        format!(
            "fax-sim event {}: pulses per channel ({} ns bins; top array 0-126, bottom 127-247)",
            cfg.event,
            per_bin as f64 * dt_us * 1000.0
        ),
        "Time since event start (us)",
        "Channel",
    )
    .with_size(cfg.width, cfg.height)
    .with_z_label("Charge (pe per bin)");
    hep_core::plot::map2d(image, &map, &opts)?;
    Ok(vec![image.to_path_buf(), csv_path(image)])
}
