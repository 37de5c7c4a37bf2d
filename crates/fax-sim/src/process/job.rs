//! The `fax-sim process` job: `simulate` output in, peaks, interactions and minitrees out.
//!
//! # Input (a `fax-sim simulate` output directory)
//!
//! `events.parquet` (`event`, `n_samples`; event numbers strictly increasing) and
//! `pulses.parquet` (`event`, `channel`, `start_sample`, `samples`; grouped by event in the
//! order of `events.parquet`). Problems are reported as `path:row: expected ..., found ...`
//! (the 1-based row of the Parquet table).
//!
//! # Output files
//!
//! | file | one row per | columns |
//! |---|---|---|
//! | `peaks.parquet` | peak | see [`peaks_schema`] |
//! | `interactions.parquet` | S1-S2 pair | see [`interactions_schema`] |
//! | `Fundamentals`, `Basics`, `LargestPeakProperties`, `Corrections` (`.parquet` and `.csv`) | event | see [`super::minitrees`] |
//!
//! Each file is written to a temporary name and renamed when complete; a `<file>.manifest.json`
//! sidecar follows after all data files. Events are processed in parallel in blocks of
//! `block_events` and written in event order, so the files do not depend on the thread count.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{Int16Builder, ListBuilder};
use arrow_array::{
    Array, ArrayRef, Float64Array, Int16Array, Int64Array, ListArray, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use hep_core::io::ParquetWriter;
use hep_core::manifest::Manifest;
use hep_core::progress::Progress;
use rayon::prelude::*;
use serde::Serialize;

use super::minitrees::{self, EventId, MINITREES, Minitree, MinitreeCsv};
use super::{EventResult, ProcessConfig, ProcessScratch, Processor};
use crate::error::{Error, Result};
use crate::output::{EVENTS, PULSES, TOOL};
use crate::simulate::Pulses;

/// Peak table file name.
pub const PEAKS: &str = "peaks.parquet";
/// Interaction table file name.
pub const INTERACTIONS: &str = "interactions.parquet";

fn field(name: &str, dt: DataType, nullable: bool, unit: Option<&str>) -> Field {
    let f = Field::new(name, dt, nullable);
    match unit {
        Some(u) => f.with_metadata(std::collections::HashMap::from([(
            "unit".to_string(),
            u.to_string(),
        )])),
        None => f,
    }
}

/// Schema of `peaks.parquet`: one row per peak, in time order within the event. `left`, `right`
/// and `index_of_maximum` are samples (10 ns) since the event start, times are ns since the event
/// start; `x`, `y` (weighted sum, cm) are null without top-array light; `channels` lists the
/// contributing channels (for matching with per-channel truth).
pub fn peaks_schema() -> SchemaRef {
    let f = |n: &str, u: &str| field(n, DataType::Float64, false, Some(u));
    let i = |n: &str, u: Option<&str>| field(n, DataType::Int64, false, u);
    Arc::new(Schema::new(vec![
        i("event_number", None),
        i("peak", None),
        field("type", DataType::Utf8, false, None),
        i("left", Some("samples of 10 ns")),
        i("right", Some("samples of 10 ns")),
        f("area", "pe"),
        f("area_fraction_top", "1"),
        i("n_hits", None),
        i("n_contributing_channels", None),
        i("n_saturated_channels", None),
        f("hit_time_mean", "ns"),
        f("hit_time_std", "ns"),
        f("center_time", "ns"),
        i("index_of_maximum", Some("samples of 10 ns")),
        f("height", "pe/sample"),
        f("area_midpoint", "ns"),
        f("range_50p_area", "ns"),
        f("range_90p_area", "ns"),
        f("rise_time", "ns"),
        i("tight_coincidence", None),
        field("x", DataType::Float64, true, Some("cm")),
        field("y", DataType::Float64, true, Some("cm")),
        field("largest_hit_channel", DataType::Int16, false, None),
        f("largest_hit_area", "pe"),
        field(
            "channels",
            DataType::List(Arc::new(Field::new_list_field(DataType::Int16, false))),
            false,
            None,
        ),
    ]))
}

/// Schema of `interactions.parquet`: one row per S1-S2 pair, `interaction` 0 the main one; `s1`
/// and `s2` are `peak` indices of `peaks.parquet`. Positions in cm, drift time in ns; values that
/// need a position are null without one.
pub fn interactions_schema() -> SchemaRef {
    let i = |n: &str, u: Option<&str>| field(n, DataType::Int64, false, u);
    let o = |n: &str, u: &str| field(n, DataType::Float64, true, Some(u));
    Arc::new(Schema::new(vec![
        i("event_number", None),
        i("interaction", None),
        i("s1", None),
        i("s2", None),
        field("drift_time", DataType::Float64, false, Some("ns")),
        o("x_observed", "cm"),
        o("y_observed", "cm"),
        o("z_observed", "cm"),
        o("x", "cm"),
        o("y", "cm"),
        o("z", "cm"),
        o("s2_lifetime_correction", "1"),
        o("s2_xy_correction_tot", "1"),
        o("s1_xyz_correction", "1"),
        o("cs1", "pe"),
        o("cs2", "pe"),
    ]))
}

/// One processed event with its identity.
struct Done {
    id: EventId,
    result: EventResult,
}

fn peak_batch(events: &[Done]) -> Result<RecordBatch> {
    let rows: Vec<(i64, usize, &super::peaks::Peak)> = events
        .iter()
        .flat_map(|d| {
            d.result
                .peaks
                .iter()
                .enumerate()
                .map(move |(k, p)| (d.id.event_number, k, p))
        })
        .collect();
    let n_ch: usize = rows.iter().map(|r| r.2.channels.len()).sum();
    let mut lb = ListBuilder::with_capacity(Int16Builder::with_capacity(n_ch), rows.len())
        .with_field(Arc::new(Field::new_list_field(DataType::Int16, false)));
    for r in &rows {
        lb.values()
            .extend(r.2.channels.iter().map(|&c| Some(c as i16)));
        lb.append(true);
    }
    type P<'a> = &'a super::peaks::Peak;
    let fc = |g: &dyn Fn(P) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| g(r.2))))
    };
    let oc = |g: &dyn Fn(P) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| {
            let v = g(r.2);
            v.is_finite().then_some(v)
        })))
    };
    let ic = |g: &dyn Fn(P) -> i64| -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| g(r.2))))
    };
    Ok(RecordBatch::try_new(
        peaks_schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| r.1 as i64),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.2.peak_type.as_str()),
            )),
            ic(&|p| p.left),
            ic(&|p| p.right),
            fc(&|p| p.area),
            fc(&|p| p.area_fraction_top),
            ic(&|p| i64::from(p.n_hits)),
            ic(&|p| i64::from(p.n_contributing_channels)),
            ic(&|p| i64::from(p.n_saturated_channels)),
            fc(&|p| p.hit_time_mean),
            fc(&|p| p.hit_time_std),
            fc(&|p| p.center_time),
            ic(&|p| p.index_of_maximum),
            fc(&|p| p.height),
            fc(&|p| p.area_midpoint),
            fc(&|p| p.range_50p_area()),
            fc(&|p| p.range_90p_area()),
            fc(&|p| p.rise_time()),
            ic(&|p| i64::from(p.tight_coincidence)),
            oc(&|p| p.x),
            oc(&|p| p.y),
            Arc::new(Int16Array::from_iter_values(
                rows.iter().map(|r| r.2.largest_hit_channel as i16),
            )),
            fc(&|p| p.largest_hit_area),
            Arc::new(lb.finish()),
        ],
    )?)
}

fn interaction_batch(events: &[Done]) -> Result<RecordBatch> {
    let rows: Vec<(i64, usize, &super::interactions::Interaction, &EventResult)> = events
        .iter()
        .flat_map(|d| {
            d.result
                .interactions
                .iter()
                .enumerate()
                .map(move |(k, i)| (d.id.event_number, k, i, &d.result))
        })
        .collect();
    type R<'a> = (
        i64,
        usize,
        &'a super::interactions::Interaction,
        &'a EventResult,
    );
    let oc = |g: &dyn Fn(&R) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| {
            let v = g(r);
            v.is_finite().then_some(v)
        })))
    };
    Ok(RecordBatch::try_new(
        interactions_schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| r.1 as i64),
            )),
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| r.2.s1 as i64),
            )),
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| r.2.s2 as i64),
            )),
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|r| r.2.drift_time),
            )),
            oc(&|r| r.2.x_observed),
            oc(&|r| r.2.y_observed),
            oc(&|r| r.2.z_observed),
            oc(&|r| r.2.x),
            oc(&|r| r.2.y),
            oc(&|r| r.2.z),
            oc(&|r| r.2.s2_lifetime_correction),
            oc(&|r| r.2.s2_xy_correction_tot),
            oc(&|r| r.2.s1_xyz_correction),
            oc(&|r| r.3.peaks[r.2.s1].area * r.2.s1_xyz_correction),
            oc(&|r| r.3.peaks[r.2.s2].area * r.2.s2_lifetime_correction * r.2.s2_xy_correction_tot),
        ],
    )?)
}

/// Summary of a process run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProcessSummary {
    /// Events processed.
    pub n_events: u64,
    /// Peaks found.
    pub n_peaks: u64,
    /// Peaks per type: s1, s2, unknown, lone_hit.
    pub n_by_type: [u64; 4],
    /// Events with at least one interaction.
    pub n_with_interaction: u64,
    /// Files written (data files, then manifests).
    pub outputs: Vec<PathBuf>,
}

/// The event list of `events.parquet`: (event number, length in samples), checked.
fn read_events(path: &Path) -> Result<Vec<(i64, i64)>> {
    let mut out: Vec<(i64, i64)> = Vec::new();
    for b in hep_core::io::ParquetReader::open(path)? {
        let b = b?;
        let row0 = out.len() as u64 + 1;
        let col = |n: &str| {
            hep_core::io::column_i64(&b, n).map_err(|e| {
                Error::parse(path, row0, format!("an Int64 column `{n}`"), e.to_string())
            })
        };
        let (e, n) = (col("event")?, col("n_samples")?);
        for i in 0..b.num_rows() {
            let row = out.len() as u64 + 1;
            if e.is_null(i) || n.is_null(i) {
                return Err(Error::parse(path, row, "event and n_samples", "null"));
            }
            let (ev, ns) = (e.value(i), n.value(i));
            if let Some(&(prev, _)) = out.last()
                && ev <= prev
            {
                return Err(Error::parse(
                    path,
                    row,
                    format!("an event number above {prev}"),
                    ev.to_string(),
                ));
            }
            if ns < 0 {
                return Err(Error::parse(path, row, "n_samples >= 0", ns.to_string()));
            }
            out.push((ev, ns));
        }
    }
    Ok(out)
}

/// Runs `fax-sim process` on the `simulate` output in `input`, writing into `out`.
///
/// # Errors
/// Configuration and map errors; located errors for malformed input tables; I/O errors. Nothing
/// partial is left under the final names.
pub fn run_process(
    cfg: &ProcessConfig,
    input: &Path,
    out: &Path,
    progress: &dyn Progress,
) -> Result<ProcessSummary> {
    let proc = Processor::new(cfg)?;
    let events_path = input.join(EVENTS);
    let pulses_path = input.join(PULSES);
    let events = read_events(&events_path)?;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    // Event start times: back to back from the run start.
    let dt = cfg.sample_duration_ns;
    let mut ids = Vec::with_capacity(events.len());
    let mut t = cfg.run_start_time_ns;
    for &(ev, ns) in &events {
        let d = ns * dt;
        ids.push(EventId {
            run_number: cfg.run_number,
            event_number: ev,
            event_time: t,
            event_duration: d,
        });
        t += d;
    }
    let meta = vec![
        (
            "fax_sim.version".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
        (
            "fax_sim.process_configuration".to_string(),
            serde_json::to_string(cfg).map_err(|e| Error::Config(e.to_string()))?,
        ),
    ];
    let mut w_peaks = ParquetWriter::create(out.join(PEAKS), peaks_schema(), &meta)?;
    let mut w_ia = ParquetWriter::create(out.join(INTERACTIONS), interactions_schema(), &meta)?;
    let mut w_trees = Vec::new();
    for t in MINITREES {
        w_trees.push((
            ParquetWriter::create(out.join(format!("{}.parquet", t.name())), t.schema(), &meta)?,
            MinitreeCsv::create(t, &out.join(format!("{}.csv", t.name())))?,
        ));
    }
    let mut summary = ProcessSummary::default();
    progress.start("events", events.len() as u64);
    let block = cfg.block_events;
    let n_channels = proc.channels.len();
    // Pulses of the current block, one entry per event of the block.
    let mut blk_start = 0usize;
    let mut pending: Vec<Pulses> = vec![Pulses::default(); block.min(events.len())];
    for p in &mut pending {
        p.offsets.push(0);
    }
    let mut flush = |start: usize, pend: &mut Vec<Pulses>| -> Result<()> {
        let end = (start + block).min(events.len());
        if start >= end {
            return Ok(());
        }
        let results: Vec<Result<EventResult>> = pend[..end - start]
            .par_iter()
            .map_init(ProcessScratch::default, |s, p| proc.process_event(p, s))
            .collect();
        let mut done = Vec::with_capacity(end - start);
        for (k, r) in results.into_iter().enumerate() {
            done.push(Done {
                id: ids[start + k],
                result: r?,
            });
        }
        for d in &done {
            summary.n_peaks += d.result.peaks.len() as u64;
            for p in &d.result.peaks {
                summary.n_by_type[p.peak_type as usize] += 1;
            }
            summary.n_with_interaction += u64::from(!d.result.interactions.is_empty());
        }
        summary.n_events += done.len() as u64;
        w_peaks.write(&peak_batch(&done)?)?;
        w_ia.write(&interaction_batch(&done)?)?;
        for (t, (wp, wc)) in MINITREES.iter().zip(w_trees.iter_mut()) {
            let rows: Vec<_> = done
                .iter()
                .map(|d| minitrees::row(*t, &d.id, &d.result))
                .collect();
            wp.write(&minitrees::batch(*t, &rows)?)?;
            wc.write(&rows)?;
        }
        for p in pend.iter_mut() {
            p.channel.clear();
            p.start_sample.clear();
            p.samples.clear();
            p.offsets.clear();
            p.offsets.push(0);
        }
        progress.advance(done.len() as u64);
        Ok(())
    };
    let mut row = 0u64;
    let mut cur = 0usize; // index into events of the last pulse's event
    for b in hep_core::io::ParquetReader::open(&pulses_path)? {
        let b = b?;
        let loc = |r: u64, what: String, e: String| Error::parse(&pulses_path, r, what, e);
        let e = hep_core::io::column_i64(&b, "event")
            .map_err(|e| loc(row + 1, "an Int64 column `event`".into(), e.to_string()))?;
        let ch = hep_core::io::column_as::<Int16Array>(&b, "channel")
            .map_err(|e| loc(row + 1, "an Int16 column `channel`".into(), e.to_string()))?;
        let st = hep_core::io::column_i64(&b, "start_sample").map_err(|e| {
            loc(
                row + 1,
                "an Int64 column `start_sample`".into(),
                e.to_string(),
            )
        })?;
        let sm = hep_core::io::column_as::<ListArray>(&b, "samples").map_err(|e| {
            loc(
                row + 1,
                "a list<int16> column `samples`".into(),
                e.to_string(),
            )
        })?;
        let values = sm
            .values()
            .as_any()
            .downcast_ref::<Int16Array>()
            .ok_or_else(|| {
                loc(
                    row + 1,
                    "samples as list<int16>".into(),
                    sm.value_type().to_string(),
                )
            })?;
        let offs = sm.value_offsets();
        for i in 0..b.num_rows() {
            row += 1;
            if e.is_null(i) || ch.is_null(i) || st.is_null(i) || sm.is_null(i) {
                return Err(loc(
                    row,
                    "event, channel, start_sample and samples".into(),
                    "a null".into(),
                ));
            }
            let ev = e.value(i);
            if events.get(cur).is_none_or(|x| x.0 != ev) {
                let k = events.partition_point(|x| x.0 < ev);
                if k >= events.len() || events[k].0 != ev {
                    return Err(loc(
                        row,
                        "an event of events.parquet".into(),
                        format!("event {ev}"),
                    ));
                }
                if k < cur {
                    return Err(loc(
                        row,
                        format!(
                            "pulses grouped by event in order (event {} or later)",
                            events[cur].0
                        ),
                        format!("event {ev}"),
                    ));
                }
                cur = k;
            }
            while cur >= blk_start + block {
                flush(blk_start, &mut pending)?;
                blk_start += block;
            }
            let c = ch.value(i);
            if c < 0 || c as usize >= n_channels {
                return Err(loc(
                    row,
                    format!("a channel in 0..{n_channels}"),
                    c.to_string(),
                ));
            }
            let (a, z) = (offs[i] as usize, offs[i + 1] as usize);
            let s0 = st.value(i);
            let len = (z - a) as i64;
            let n_samples = events[cur].1;
            if s0 < 0 || s0 + len > n_samples || len == 0 {
                return Err(loc(
                    row,
                    format!("a non-empty pulse inside the event's {n_samples} samples"),
                    format!("start_sample {s0}, {len} samples"),
                ));
            }
            let raw = &values.values()[a..z];
            if values.null_count() > 0 && (a..z).any(|k| values.is_null(k)) {
                return Err(loc(
                    row,
                    "samples without nulls".into(),
                    "a null sample".into(),
                ));
            }
            let p = &mut pending[cur - blk_start];
            p.channel.push(c as u16);
            p.start_sample.push(s0);
            p.samples.extend_from_slice(raw);
            p.offsets.push(p.samples.len());
        }
    }
    while blk_start < events.len() {
        flush(blk_start, &mut pending)?;
        blk_start += block;
    }
    progress.finish();
    w_peaks.finish()?;
    w_ia.finish()?;
    let mut files = vec![out.join(PEAKS), out.join(INTERACTIONS)];
    for (t, (wp, wc)) in MINITREES.iter().zip(w_trees) {
        wp.finish()?;
        wc.finish()?;
        files.push(out.join(format!("{}.parquet", t.name())));
        files.push(out.join(format!("{}.csv", t.name())));
    }
    let mut m = Manifest::start(TOOL, env!("CARGO_PKG_VERSION")).with_configuration(cfg)?;
    m.add_input(&events_path)?;
    m.add_input(&pulses_path)?;
    for f in &files {
        m.add_output(f)?;
    }
    m.finish();
    summary.outputs.extend(files.iter().cloned());
    for f in &files {
        summary.outputs.push(m.write_sidecar(f)?);
    }
    Ok(summary)
}

/// The minitree file names (`<name>.parquet`, `<name>.csv`) of `tree`.
pub fn minitree_files(tree: Minitree) -> [String; 2] {
    [
        format!("{}.parquet", tree.name()),
        format!("{}.csv", tree.name()),
    ]
}
