//! Output tables of `fax-sim simulate`, the simulate job (whole or one shard), and the merge.
//!
//! # Files (in the output directory)
//!
//! | file | one row per | columns |
//! |---|---|---|
//! | `pulses.parquet` | ZLE pulse | `event`, `channel`, `start_sample` (samples of 10 ns since the event start), `samples` (list of raw ADC counts, i16) |
//! | `truth_peaks.parquet` | simulated peak | pax's truth columns, see [`truth_schema`] |
//! | `fax_truth.csv` | simulated peak | the same in pax's truth-file format (`fax_truth_peak_id` first, empty fields for missing values) |
//! | `truth_channels.parquet` | channel with photons, per event | `event`, `channel`, `n_photons`, `n_photoelectrons`, `n_pmt_afterpulses`, `n_pulses_dropped` |
//! | `events.parquet` | event | `event`, `instruction`, `n_samples`, `length_ns`, `n_photons`, `n_electrons`, `n_photo_ionisation_electrons` |
//!
//! Every output gets a `<file>.manifest.json` provenance sidecar, written after all data files.
//!
//! # Shards
//!
//! The units are the events in instruction order. `--shard I/N` simulates the events of
//! [`hep_core::shard::Shard::range`] into `<out>/shards/<I>-of-<N>/` (Parquet tables only) and
//! writes the shard manifest last; [`merge`] joins the shards into exactly the files of a
//! single-process run. Tables are written one record batch per block of `output_block_events` events
//! (aligned to absolute event numbers), and the merge re-forms the same blocks, so the Parquet
//! files are byte-identical.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{Int16Builder, ListBuilder};
use arrow_array::{
    Array, ArrayRef, Float64Array, Int16Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use hep_core::io::ParquetWriter;
use hep_core::manifest::Manifest;
use hep_core::progress::Progress;
use hep_core::shard::{Shard, ShardManifest, collect_shards};
use rayon::prelude::*;
use serde::Serialize;

use crate::config::SimConfig;
use crate::error::{Error, Result};
use crate::instructions::{self, Instruction, py_float};
use crate::simulate::{EventOutput, Scratch, Setup};

/// The tool name in manifests.
pub const TOOL: &str = "fax-sim";
/// The job name of `simulate` shards.
pub const JOB: &str = "fax-sim simulate";
/// Pulse table file name.
pub const PULSES: &str = "pulses.parquet";
/// Truth-peak table file name.
pub const TRUTH_PEAKS: &str = "truth_peaks.parquet";
/// pax-format truth CSV file name (pax's default `truth_file_name` is `fax_truth`).
pub const TRUTH_CSV: &str = "fax_truth.csv";
/// Per-channel truth file name.
pub const TRUTH_CHANNELS: &str = "truth_channels.parquet";
/// Event table file name.
pub const EVENTS: &str = "events.parquet";
/// The Parquet tables, in writing order.
pub const TABLES: [&str; 4] = [PULSES, TRUTH_PEAKS, TRUTH_CHANNELS, EVENTS];

fn field(name: &str, dt: DataType, nullable: bool, unit: Option<&str>) -> Field {
    let f = Field::new(name, dt, nullable);
    match unit {
        Some(u) => f.with_metadata(HashMap::from([("unit".to_string(), u.to_string())])),
        None => f,
    }
}

/// Schema of `pulses.parquet`.
pub fn pulses_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        field("event", DataType::Int64, false, None),
        field("channel", DataType::Int16, false, None),
        field(
            "start_sample",
            DataType::Int64,
            false,
            Some("samples of 10 ns"),
        ),
        field(
            "samples",
            DataType::List(Arc::new(Field::new_list_field(DataType::Int16, false))),
            false,
            Some("ADC counts"),
        ),
    ]))
}

/// Schema of `truth_peaks.parquet`: pax's truth columns (`x`, `y`, `z` in cm, `t_*` in ns
/// including the 5 us event padding except the sigmas). Electron columns are null for S1s.
pub fn truth_schema() -> SchemaRef {
    let f = |n: &str, u: &str| field(n, DataType::Float64, false, Some(u));
    let fo = |n: &str, u: &str| field(n, DataType::Float64, true, Some(u));
    Arc::new(Schema::new(vec![
        field("instruction", DataType::Int64, false, None),
        field("repetition", DataType::Int64, false, None),
        field("event", DataType::Int64, false, None),
        field("peak_type", DataType::Utf8, false, None),
        field("g4_id", DataType::Int64, false, None),
        f("x", "cm"),
        f("y", "cm"),
        f("z", "cm"),
        f("t_interaction", "ns"),
        f("top_fraction", "1"),
        field("n_photons", DataType::Int64, false, Some("photons")),
        f("t_mean_photons", "ns"),
        f("t_first_photon", "ns"),
        f("t_last_photon", "ns"),
        f("t_sigma_photons", "ns"),
        field("n_electrons", DataType::Int64, true, Some("electrons")),
        fo("t_mean_electrons", "ns"),
        fo("t_first_electron", "ns"),
        fo("t_last_electron", "ns"),
        fo("t_sigma_electrons", "ns"),
    ]))
}

/// Schema of `truth_channels.parquet`.
pub fn channels_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        field("event", DataType::Int64, false, None),
        field("channel", DataType::Int16, false, None),
        field("n_photons", DataType::Int64, false, Some("photons")),
        field(
            "n_photoelectrons",
            DataType::Int64,
            false,
            Some("photoelectrons"),
        ),
        field("n_pmt_afterpulses", DataType::Int64, false, Some("pulses")),
        field("n_pulses_dropped", DataType::Int64, false, Some("pulses")),
    ]))
}

/// Schema of `events.parquet`.
pub fn events_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        field("event", DataType::Int64, false, None),
        field("instruction", DataType::Int64, false, None),
        field(
            "n_samples",
            DataType::Int64,
            false,
            Some("samples of 10 ns"),
        ),
        field("length_ns", DataType::Int64, false, Some("ns")),
        field("n_photons", DataType::Int64, false, Some("photons")),
        field("n_electrons", DataType::Int64, false, Some("electrons")),
        field(
            "n_photo_ionisation_electrons",
            DataType::Int64,
            false,
            Some("electrons"),
        ),
    ]))
}

fn schema_of(name: &str) -> SchemaRef {
    match name {
        PULSES => pulses_schema(),
        TRUTH_PEAKS => truth_schema(),
        TRUTH_CHANNELS => channels_schema(),
        _ => events_schema(),
    }
}

/// The four record batches of a block of events.
///
/// # Errors
/// Arrow errors (never for simulation output).
pub fn batches(events: &[EventOutput], sample_duration_ns: i64) -> Result<[RecordBatch; 4]> {
    // Pulses.
    let n_p: usize = events.iter().map(|e| e.pulses.len()).sum();
    let mut ev = Vec::with_capacity(n_p);
    let mut ch = Vec::with_capacity(n_p);
    let mut st = Vec::with_capacity(n_p);
    let n_s: usize = events.iter().map(|e| e.pulses.samples.len()).sum();
    let mut lb = ListBuilder::with_capacity(Int16Builder::with_capacity(n_s), n_p)
        .with_field(Arc::new(Field::new_list_field(DataType::Int16, false)));
    for e in events {
        for i in 0..e.pulses.len() {
            ev.push(e.event as i64);
            ch.push(e.pulses.channel[i] as i16);
            st.push(e.pulses.start_sample[i]);
            lb.values().append_slice(e.pulses.samples_of(i));
            lb.append(true);
        }
    }
    let pulses = RecordBatch::try_new(
        pulses_schema(),
        vec![
            Arc::new(Int64Array::from(ev)),
            Arc::new(Int16Array::from(ch)),
            Arc::new(Int64Array::from(st)),
            Arc::new(lb.finish()),
        ],
    )?;
    // Truth peaks.
    let peaks: Vec<_> = events.iter().flat_map(|e| e.peaks.iter()).collect();
    let fcol = |g: &dyn Fn(&crate::truth::TruthPeak) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(peaks.iter().map(|p| g(p))))
    };
    let ocol = |g: &dyn Fn(&crate::truth::TruthPeak) -> Option<f64>| -> ArrayRef {
        Arc::new(Float64Array::from_iter(peaks.iter().map(|p| g(p))))
    };
    let truth = RecordBatch::try_new(
        truth_schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(
                peaks.iter().map(|p| p.instruction as i64),
            )),
            Arc::new(Int64Array::from_iter_values(
                peaks.iter().map(|p| i64::from(p.repetition)),
            )),
            Arc::new(Int64Array::from_iter_values(
                peaks.iter().map(|p| p.event as i64),
            )),
            Arc::new(StringArray::from_iter_values(
                peaks.iter().map(|p| p.peak_type.as_str()),
            )),
            Arc::new(Int64Array::from_iter_values(peaks.iter().map(|p| p.g4_id))),
            fcol(&|p| p.x_cm),
            fcol(&|p| p.y_cm),
            fcol(&|p| p.z_cm),
            fcol(&|p| p.t_interaction_ns),
            fcol(&|p| p.top_fraction),
            Arc::new(Int64Array::from_iter_values(
                peaks.iter().map(|p| p.photons.n as i64),
            )),
            fcol(&|p| p.photons.mean_ns),
            fcol(&|p| p.photons.first_ns),
            fcol(&|p| p.photons.last_ns),
            fcol(&|p| p.photons.sigma_ns),
            Arc::new(Int64Array::from_iter(
                peaks.iter().map(|p| p.electrons.map(|e| e.n as i64)),
            )),
            ocol(&|p| p.electrons.map(|e| e.mean_ns)),
            ocol(&|p| p.electrons.map(|e| e.first_ns)),
            ocol(&|p| p.electrons.map(|e| e.last_ns)),
            ocol(&|p| p.electrons.map(|e| e.sigma_ns)),
        ],
    )?;
    // Channels.
    let chs: Vec<_> = events.iter().flat_map(|e| e.channels.iter()).collect();
    let i64col = |g: &dyn Fn(&crate::truth::ChannelTruth) -> i64| -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(chs.iter().map(|c| g(c))))
    };
    let channels = RecordBatch::try_new(
        channels_schema(),
        vec![
            i64col(&|c| c.event as i64),
            Arc::new(Int16Array::from_iter_values(
                chs.iter().map(|c| c.channel as i16),
            )),
            i64col(&|c| c.n_photons as i64),
            i64col(&|c| c.n_photoelectrons as i64),
            i64col(&|c| c.n_pmt_afterpulses as i64),
            i64col(&|c| c.n_pulses_dropped as i64),
        ],
    )?;
    let ecol = |g: &dyn Fn(&EventOutput) -> i64| -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(events.iter().map(g)))
    };
    let ev_batch = RecordBatch::try_new(
        events_schema(),
        vec![
            ecol(&|e| e.event as i64),
            ecol(&|e| e.instruction),
            ecol(&|e| e.n_samples),
            ecol(&|e| e.n_samples * sample_duration_ns),
            ecol(&|e| e.n_photons as i64),
            ecol(&|e| e.n_electrons as i64),
            ecol(&|e| e.n_photo_ionisation_electrons as i64),
        ],
    )?;
    Ok([pulses, truth, channels, ev_batch])
}

/// The events of an instruction list: for event `e`, its instruction rows, group index and
/// repetition (`e = group * repetitions + repetition`).
#[derive(Debug, Clone)]
pub struct EventList {
    rows: Vec<Instruction>,
    groups: Vec<std::ops::Range<usize>>,
    repetitions: u32,
}

impl EventList {
    /// Groups `rows` into events.
    pub fn new(rows: Vec<Instruction>, repetitions: u32) -> Self {
        let groups = instructions::group_events(&rows);
        Self {
            rows,
            groups,
            repetitions: repetitions.max(1),
        }
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.groups.len() * self.repetitions as usize
    }

    /// `true` when there are no events.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// (rows, group, repetition) of event `e`.
    pub fn event(&self, e: usize) -> (&[Instruction], u64, u32) {
        let g = e / self.repetitions as usize;
        (
            &self.rows[self.groups[g].clone()],
            g as u64,
            (e % self.repetitions as usize) as u32,
        )
    }
}

/// Simulates events `range` of `list` in parallel, in blocks of the configuration's
/// `output_block_events` aligned to absolute event numbers, calling
/// `sink` with each block's outputs in event order.
///
/// # Errors
/// Whatever `sink` returns.
pub fn simulate_events(
    setup: &Setup,
    list: &EventList,
    range: std::ops::Range<usize>,
    progress: &dyn Progress,
    mut sink: impl FnMut(Vec<EventOutput>) -> Result<()> + Send,
) -> Result<()> {
    let block = setup.config.output_block_events.max(1);
    let simulate = |start: usize, end: usize| -> Vec<EventOutput> {
        (start..end)
            .into_par_iter()
            .map_init(Scratch::default, |s, e| {
                let (rows, g, r) = list.event(e);
                setup.simulate_event(e as u64, g, r, rows, s)
            })
            .collect()
    };
    // The sink of block k (e.g. the Parquet encoding) runs while block k + 1 is simulated.
    let mut pending: Option<(Vec<EventOutput>, u64)> = None;
    let mut start = range.start;
    while start < range.end || pending.is_some() {
        let end = if start < range.end {
            (((start as u64 / block) + 1) * block).min(range.end as u64) as usize
        } else {
            start
        };
        let (done, next) = rayon::join(
            || match pending.take() {
                Some((b, n)) => sink(b).map(|()| n),
                None => Ok(0),
            },
            || (start < end).then(|| simulate(start, end)),
        );
        progress.advance(done?);
        pending = next.map(|b| (b, (end - start) as u64));
        start = end;
    }
    Ok(())
}

/// Summary of a simulate or merge run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SimulateSummary {
    /// Events written.
    pub n_events: u64,
    /// Pulses written.
    pub n_pulses: u64,
    /// Truth peaks written.
    pub n_peaks: u64,
    /// Photons detected, summed over events.
    pub n_photons: u64,
    /// Electrons extracted, summed over events.
    pub n_electrons: u64,
    /// Files written (data files, then manifests).
    pub outputs: Vec<PathBuf>,
}

struct Writers {
    w: Vec<ParquetWriter>,
    truth_csv: Option<TruthCsv>,
}

impl Writers {
    /// The Parquet writers of every table, and the truth CSV if `with_csv`.
    fn create(dir: &Path, metadata: &[(String, String)], with_csv: bool) -> Result<Self> {
        let w = TABLES
            .iter()
            .map(|n| {
                ParquetWriter::create(dir.join(n), schema_of(n), metadata).map_err(Error::from)
            })
            .collect::<Result<Vec<_>>>()?;
        let truth_csv = with_csv
            .then(|| TruthCsv::create(&dir.join(TRUTH_CSV)))
            .transpose()?;
        Ok(Self { w, truth_csv })
    }

    fn write(&mut self, b: &[RecordBatch]) -> Result<()> {
        for ((w, b), name) in self.w.iter_mut().zip(b).zip(TABLES) {
            w.write(b)?;
            if name == TRUTH_PEAKS
                && let Some(csv) = &mut self.truth_csv
            {
                csv.write(b)?;
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<()> {
        for w in self.w {
            w.finish()?;
        }
        if let Some(csv) = self.truth_csv {
            csv.finish()?;
        }
        Ok(())
    }
}

/// Footer metadata of the tables: the tool and the configuration (identical for shards and the
/// whole run).
fn table_metadata(cfg: &SimConfig) -> Result<Vec<(String, String)>> {
    Ok(vec![
        ("fax_sim.version".into(), env!("CARGO_PKG_VERSION").into()),
        (
            "fax_sim.configuration".into(),
            serde_json::to_string(cfg).map_err(|e| Error::Config(e.to_string()))?,
        ),
    ])
}

/// The header of pax's truth CSV (`WaveformSimulator` `truth_file_name`), in its column order.
pub const TRUTH_CSV_HEADER: [&str; 21] = [
    "fax_truth_peak_id",
    "instruction",
    "repetition",
    "event",
    "peak_type",
    "g4_id",
    "x",
    "y",
    "z",
    "t_interaction",
    "top_fraction",
    "n_photons",
    "t_mean_photons",
    "t_first_photon",
    "t_last_photon",
    "t_sigma_photons",
    "n_electrons",
    "t_mean_electrons",
    "t_first_electron",
    "t_last_electron",
    "t_sigma_electrons",
];

/// The pax-format truth CSV, written (atomically, with the `csv` crate) from batches of the
/// truth-peak table as they are produced, so the table is never read back.
pub struct TruthCsv {
    w: csv::Writer<hep_core::io::AtomicFile>,
    path: PathBuf,
    next_id: u64,
}

impl TruthCsv {
    /// Starts the CSV at `path` (nothing appears there before [`TruthCsv::finish`]).
    ///
    /// # Errors
    /// I/O errors naming the file.
    pub fn create(path: &Path) -> Result<Self> {
        let f = hep_core::io::AtomicFile::create(path)?;
        let mut w = csv::WriterBuilder::new().from_writer(f);
        w.write_record(TRUTH_CSV_HEADER)
            .map_err(|e| Error::io(path, std::io::Error::other(e)))?;
        Ok(Self {
            w,
            path: path.to_path_buf(),
            next_id: 0,
        })
    }

    /// Appends the rows of a truth-peak batch (schema of [`TRUTH_PEAKS`]); peak ids continue
    /// from the previous batch.
    ///
    /// # Errors
    /// A missing or mistyped column; I/O errors.
    pub fn write(&mut self, b: &RecordBatch) -> Result<()> {
        use hep_core::io::{column_f64, column_i64, column_str};
        let i = |n: &str| column_i64(b, n);
        let fl = |n: &str| column_f64(b, n);
        let (ins, rep, ev, pt, g4, np, ne) = (
            i("instruction")?,
            i("repetition")?,
            i("event")?,
            column_str(b, "peak_type")?,
            i("g4_id")?,
            i("n_photons")?,
            i("n_electrons")?,
        );
        let floats = |names: &[&str]| -> Result<Vec<&Float64Array>> {
            names.iter().map(|n| Ok(fl(n)?)).collect()
        };
        let pre = floats(&["x", "y", "z", "t_interaction", "top_fraction"])?;
        let ph = floats(&[
            "t_mean_photons",
            "t_first_photon",
            "t_last_photon",
            "t_sigma_photons",
        ])?;
        let el = floats(&[
            "t_mean_electrons",
            "t_first_electron",
            "t_last_electron",
            "t_sigma_electrons",
        ])?;
        // pandas writes NaN as an empty field.
        let opt = |a: &Float64Array, r: usize| {
            if a.is_null(r) {
                String::new()
            } else {
                py_float(a.value(r))
            }
        };
        let mut rec: Vec<String> = Vec::with_capacity(TRUTH_CSV_HEADER.len());
        for r in 0..b.num_rows() {
            rec.clear();
            rec.push(self.next_id.to_string());
            rec.push(ins.value(r).to_string());
            rec.push(rep.value(r).to_string());
            rec.push(ev.value(r).to_string());
            rec.push(pt.value(r).to_string());
            rec.push(g4.value(r).to_string());
            rec.extend(pre.iter().map(|a| py_float(a.value(r))));
            rec.push(np.value(r).to_string());
            rec.extend(ph.iter().map(|a| py_float(a.value(r))));
            rec.push(if ne.is_null(r) {
                String::new()
            } else {
                py_float(ne.value(r) as f64)
            });
            rec.extend(el.iter().map(|a| opt(a, r)));
            self.w
                .write_record(&rec)
                .map_err(|e| Error::io(&self.path, std::io::Error::other(e)))?;
            self.next_id += 1;
        }
        Ok(())
    }

    /// Flushes and renames the CSV into place.
    ///
    /// # Errors
    /// I/O errors naming the file.
    pub fn finish(self) -> Result<()> {
        let path = self.path;
        let f = self
            .w
            .into_inner()
            .map_err(|e| Error::io(&path, std::io::Error::other(e.to_string())))?;
        f.commit()?;
        Ok(())
    }
}

/// Runs `fax-sim simulate`: reads the instructions, simulates every event (or the events of
/// `shard`, even `0/1`, into `<out>/shards/<I>-of-<N>/`) and writes the tables of this module.
///
/// # Errors
/// Instruction, configuration, map and output errors; nothing partial is left under the final
/// names (each file is written atomically, manifests last).
pub fn run_simulate(
    cfg: &SimConfig,
    input: &Path,
    out: &Path,
    shard: Option<Shard>,
    progress: &dyn Progress,
) -> Result<SimulateSummary> {
    let rows = instructions::read(input)?;
    let setup = Setup::new(cfg)?;
    let list = EventList::new(rows, cfg.event_repetitions);
    let n = list.len();
    let sharded = shard.is_some();
    let shard = shard.unwrap_or_else(Shard::whole);
    let dir = if sharded {
        shard.dir(out)
    } else {
        out.to_path_buf()
    };
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let range = shard.range(n);
    let mut writers = Writers::create(&dir, &table_metadata(cfg)?, !sharded)?;
    let mut summary = SimulateSummary::default();
    progress.start("events", range.len() as u64);
    let dt = cfg.digitizer.sample_duration_ns as i64;
    simulate_events(&setup, &list, range.clone(), progress, |block| {
        summary.n_events += block.len() as u64;
        for e in &block {
            summary.n_pulses += e.pulses.len() as u64;
            summary.n_peaks += e.peaks.len() as u64;
            summary.n_photons += e.n_photons;
            summary.n_electrons += e.n_electrons;
        }
        writers.write(&batches(&block, dt)?)
    })?;
    writers.finish()?;
    progress.finish();
    if !sharded {
        let mut m = Manifest::start(TOOL, env!("CARGO_PKG_VERSION")).with_configuration(cfg)?;
        m.inputs.push(instructions::input_digest(input)?);
        m.add_seed("master", cfg.seed);
        let files: Vec<PathBuf> = TABLES
            .iter()
            .chain([&TRUTH_CSV])
            .map(|n| dir.join(n))
            .collect();
        for f in &files {
            m.add_output(f)?;
        }
        m.finish();
        for f in &files {
            summary.outputs.push(f.clone());
        }
        for f in &files {
            summary.outputs.push(m.write_sidecar(f)?);
        }
    } else {
        let mut sm = ShardManifest::start(TOOL, env!("CARGO_PKG_VERSION"), JOB, cfg, shard, n)?;
        sm.inputs.push(instructions::input_digest(input)?);
        sm.seed = Some(cfg.seed);
        sm.details.insert(
            "configuration".into(),
            serde_json::to_string(cfg).map_err(|e| Error::Config(e.to_string()))?,
        );
        sm.details
            .insert("input".into(), input.to_string_lossy().into_owned());
        for t in TABLES {
            sm.add_output(&dir, t)?;
            summary.outputs.push(dir.join(t));
        }
        summary.outputs.push(sm.write(&dir)?);
    }
    Ok(summary)
}

/// Merges the complete shards under `<out>/shards/` into the files of a single-process run in
/// `out` (byte-identical Parquet tables), after all of hep-core's checks.
///
/// # Errors
/// [`hep_core::error::Error::Shard`] naming a missing, incomplete or mismatching shard; I/O and
/// Parquet errors.
pub fn merge(out: &Path, progress: &dyn Progress) -> Result<SimulateSummary> {
    let shards = collect_shards(out, JOB)?;
    let first = &shards[0].manifest;
    let cfg: SimConfig = first
        .details
        .get("configuration")
        .and_then(|s| serde_json::from_str(s).ok())
        .ok_or_else(|| {
            Error::Config(format!("shard {}: no configuration recorded", first.shard))
        })?;
    let mut summary = SimulateSummary {
        n_events: first.n_units as u64,
        ..Default::default()
    };
    progress.start("tables", TABLES.len() as u64);
    let meta = table_metadata(&cfg)?;
    let block_events = cfg.output_block_events.max(1);
    let mut truth_csv = Some(TruthCsv::create(&out.join(TRUTH_CSV))?);
    for name in TABLES {
        let mut w = ParquetWriter::create(out.join(name), schema_of(name), &meta)?;
        let mut pending: Vec<RecordBatch> = Vec::new();
        let mut block: Option<u64> = None;
        let mut rows = 0u64;
        let mut flush = |pending: &mut Vec<RecordBatch>, w: &mut ParquetWriter| -> Result<()> {
            if pending.is_empty() {
                return Ok(());
            }
            let b = arrow_select::concat::concat_batches(&schema_of(name), pending.iter())?;
            pending.clear();
            w.write(&b)?;
            // The truth CSV and the event totals come from the batches as they are written.
            if name == TRUTH_PEAKS
                && let Some(csv) = truth_csv.as_mut()
            {
                csv.write(&b)?;
            }
            if name == EVENTS {
                summary.n_photons += sum_i64(&b, "n_photons")?;
                summary.n_electrons += sum_i64(&b, "n_electrons")?;
            }
            Ok(())
        };
        for s in &shards {
            for batch in hep_core::io::ParquetReader::open(s.output(name))? {
                let b = batch?;
                let b = RecordBatch::try_new(schema_of(name), b.columns().to_vec())?;
                rows += b.num_rows() as u64;
                let ev = hep_core::io::column_i64(&b, "event")?;
                let mut i = 0;
                while i < b.num_rows() {
                    let blk = ev.value(i) as u64 / block_events;
                    let mut j = i + 1;
                    while j < b.num_rows() && ev.value(j) as u64 / block_events == blk {
                        j += 1;
                    }
                    if block != Some(blk) {
                        flush(&mut pending, &mut w)?;
                        block = Some(blk);
                    }
                    pending.push(b.slice(i, j - i));
                    i = j;
                }
            }
        }
        flush(&mut pending, &mut w)?;
        w.finish()?;
        match name {
            PULSES => summary.n_pulses = rows,
            TRUTH_PEAKS => summary.n_peaks = rows,
            _ => {}
        }
        progress.advance(1);
    }
    progress.finish();
    if let Some(csv) = truth_csv.take() {
        csv.finish()?;
    }
    let mut m = Manifest::start(TOOL, env!("CARGO_PKG_VERSION")).with_configuration(&cfg)?;
    m.inputs = first.inputs.clone();
    m.add_seed("master", cfg.seed);
    let files: Vec<PathBuf> = TABLES
        .iter()
        .chain([&TRUTH_CSV])
        .map(|n| out.join(n))
        .collect();
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

/// The sum of an Int64 column of `b` (a count, never negative).
fn sum_i64(b: &RecordBatch, name: &str) -> Result<u64> {
    Ok(hep_core::io::column_i64(b, name)?
        .values()
        .iter()
        .sum::<i64>()
        .max(0) as u64)
}

/// Runs `f` on a rayon pool of `threads` threads (`None`: the global pool, all cores).
///
/// # Errors
/// [`Error::InvalidArgument`] if the pool cannot be built (e.g. 0 threads).
pub fn with_threads<T: Send>(threads: Option<usize>, f: impl FnOnce() -> T + Send) -> Result<T> {
    match threads {
        None => Ok(f()),
        Some(n) => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .map_err(|e| Error::InvalidArgument(format!("cannot start {n} threads: {e}")))?;
            Ok(pool.install(f))
        }
    }
}
