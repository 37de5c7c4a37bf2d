//! Ingest of the ETROC1 DAQ files (formats of `Quantumapple/ETROC-DAQ` and the FNAL converter,
//! read as `process_etroc1_single_run_txt.py` and `process_etroc1_single_charge_injection_run.py`
//! read them) and event building.
//!
//! * [`read_beam_txt`]: the beam "txt summary" of the FNAL converter, 7 whitespace-separated
//!   tokens `board_id TOA_code TOT_code CAL_code hit_flag YYYY-MM-DD HH:MM:SS` after a banner of
//!   [`IngestOptions::header_lines`] lines (default 1). Hits with `hit_flag != 1` are dropped
//!   unless [`IngestOptions::keep_all`]; then events are built by order-only pattern matching
//!   ([`EventPattern`]). `pixel_id` comes from the file name ([`BeamFileName`]).
//! * [`read_charge_injection_dat`]: the charge-injection `Split` `.dat`, 5 tokens
//!   `board_id TOA TOT CAL hit_flag`, no header; every hit is its own event (`0..n` after the flag
//!   filter). Phase, pixels, charges and thresholds come from the file name
//!   ([`ChargeInjectionFileName`]).
//! * [`read_raw_words`]: the raw `.dat` of 32-bit words, one decimal integer per line,
//!   decoded as the converter does (all-zero words, board 2 and lines of at most 2 bytes dropped).
//!
//! Malformed input gives [`hep_core::Error::Parse`] `path:line: expected ..., found ...` with the 1-based
//! line number: a wrong token count, a token that is not a non-negative integer, TOA > 1023,
//! TOT > 511, CAL > 1023, a board id outside {0, 1, 2, 3}, a hit flag other than 0/1, a bad date
//! or time. Blank lines are skipped (as pandas does). An empty file, or a file with only the
//! banner, is a run with 0 hits.
//!
//! Speed: the file is read in blocks of [`BLOCK_BYTES`]; each block is cut at line ends into
//! pieces parsed in parallel with rayon straight from the bytes (no per-line allocation), and the
//! pieces are appended in file order, so the result does not depend on the thread count.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Int8Array, Int16Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray, TimestampSecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Largest TOA code (10 bits, data-word bits 20-11).
pub const MAX_TOA_CODE: u16 = 1023;
/// Largest TOT code (9 bits, data-word bits 29-21).
pub const MAX_TOT_CODE: u16 = 511;
/// Largest CAL code (10 bits, data-word bits 10-1).
pub const MAX_CAL_CODE: u16 = 1023;
/// Largest board (FPGA channel) id (2 bits, data-word bits 31-30).
pub const MAX_BOARD_ID: u8 = 3;
/// Bytes read per block; each block is parsed in parallel.
pub const BLOCK_BYTES: usize = 32 << 20;
/// Schema metadata key holding the [`RunMetadata`] (JSON) of a hit table.
pub const RUN_METADATA_KEY: &str = "etroc:run_metadata";

// ---------------------------------------------------------------------------------------------
// Options and metadata
// ---------------------------------------------------------------------------------------------

/// The board pattern of order-only event building (`-p/--event_pattern` of
/// `process_etroc1_single_run_txt.py`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventPattern {
    boards: Vec<u8>,
}

impl EventPattern {
    /// The pattern of the original's `-p` option: 0 = none (every hit its own event, numbered by
    /// its data-line index), 1 = \[0,1,3\] (default), 2 = \[0,1\], 3 = \[0,3\], 4 = \[1,3\],
    /// 5 = \[0,3,1\].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for any other number.
    pub fn from_index(index: u8) -> Result<Self> {
        let boards = match index {
            0 => vec![],
            1 => vec![0, 1, 3],
            2 => vec![0, 1],
            3 => vec![0, 3],
            4 => vec![1, 3],
            5 => vec![0, 3, 1],
            other => {
                return Err(Error::InvalidArgument(format!(
                    "event pattern must be 0..=5, got {other}"
                )));
            }
        };
        Ok(Self { boards })
    }

    /// A custom pattern of distinct board ids (empty = no pattern).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if an id repeats or exceeds [`MAX_BOARD_ID`] (repeated ids would
    /// make matches overlap).
    pub fn custom(boards: Vec<u8>) -> Result<Self> {
        for (i, b) in boards.iter().enumerate() {
            if *b > MAX_BOARD_ID || boards[..i].contains(b) {
                return Err(Error::InvalidArgument(format!(
                    "event pattern {boards:?}: board ids must be distinct and in 0..=3"
                )));
            }
        }
        Ok(Self { boards })
    }

    /// No pattern: every hit is its own event (`-p 0`).
    pub fn none() -> Self {
        Self { boards: Vec::new() }
    }

    /// The board ids in readout order (empty for no pattern).
    pub fn boards(&self) -> &[u8] {
        &self.boards
    }
}

impl Default for EventPattern {
    fn default() -> Self {
        Self {
            boards: vec![0, 1, 3],
        }
    }
}

/// Options of the ingests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestOptions {
    /// Keep hits with `hit_flag == 0` (`-k/--keep-all`); default false.
    pub keep_all: bool,
    /// Event pattern of the beam ingest (ignored by the charge-injection ingest).
    pub pattern: EventPattern,
    /// Leading lines to skip (the banner of the txt summary: 1; the `.dat` files: 0).
    pub header_lines: usize,
    /// Attach the file-name metadata (`pixel_id`, and for charge injection `phase_adjust`,
    /// `board_injected_charge`, `board_discriminator_threshold`); the original's
    /// `add_extra_data`, on in the single-run CLIs and off in the directory processor.
    pub add_extra_data: bool,
}

impl IngestOptions {
    /// The defaults of `process_etroc1_single_run_txt.py`: banner of 1 line, pattern \[0,1,3\],
    /// flag filter on, extra data on.
    pub fn beam_txt() -> Self {
        Self {
            keep_all: false,
            pattern: EventPattern::default(),
            header_lines: 1,
            add_extra_data: true,
        }
    }

    /// The defaults of `process_etroc1_single_charge_injection_run.py`: no header, flag filter
    /// on, extra data on.
    pub fn charge_injection() -> Self {
        Self {
            keep_all: false,
            pattern: EventPattern::none(),
            header_lines: 0,
            add_extra_data: true,
        }
    }
}

/// Index of a board in the per-board file-name fields: board 3 is index 2, boards 0, 1, 2 their
/// own value (as `process_etroc1_single_run_txt.py`).
pub fn board_index(board: u8) -> usize {
    if board == 3 { 2 } else { usize::from(board) }
}

/// Pixel ids of boards 0, 1, 3 from a beam file name such as `F5P5_F17P5_B2P5_Beam_HV190.txt`
/// (tokens 0, 1, 2 of the name split on `_`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeamFileName {
    /// Pixel id per board index (see [`board_index`]).
    pub pixel_ids: [String; 3],
}

impl BeamFileName {
    /// Parses the file name of `path`; `None` if it has fewer than 3 `_`-separated tokens.
    pub fn parse(path: &Path) -> Option<Self> {
        let name = path.file_name()?.to_string_lossy();
        let mut tokens = name.split('_');
        let a = tokens.next()?.to_string();
        let b = tokens.next()?.to_string();
        let c = tokens.next()?.to_string();
        Some(Self {
            pixel_ids: [a, b, c],
        })
    }
}

/// One board's settings from a charge-injection file name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeInjectionBoard {
    /// Pixel id, e.g. `F5P5`.
    pub pixel_id: String,
    /// Injected charge (fC): the `QSel` value, taken to be the charge in fC (no
    /// conversion in the original).
    pub injected_charge_fc: i16,
    /// Discriminator threshold (DAC counts): the `DAC` value.
    pub discriminator_threshold_dac: i16,
}

/// The metadata of a charge-injection file or run-directory name
/// `TDC_Data_PhaseAdj<P>_<pix0>_QSel<q0>_DAC<d0>_<pix1>_QSel<q1>_DAC<d1>_<pix3>_QSel<q3>_DAC<d3>[_Split_<k>.dat]`
/// (as `process_etroc1_single_charge_injection_run.py`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeInjectionFileName {
    /// The phase adjustment `P`.
    pub phase_adjust: i8,
    /// Settings per board index (see [`board_index`]).
    pub boards: [ChargeInjectionBoard; 3],
}

impl ChargeInjectionFileName {
    /// Parses the file (or directory) name of `path`.
    ///
    /// # Errors
    ///
    /// [`hep_core::Error::Parse`] (line 0) naming the token that does not fit the scheme.
    pub fn parse(path: &Path) -> Result<Self> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tokens: Vec<&str> = name.split('_').collect();
        let bad = |what: &str, found: &str| {
            Error::input(
                path,
                0,
                format!(
                    "a charge-injection name TDC_Data_PhaseAdj<P>_<pix0>_QSel<q0>_DAC<d0>_<pix1>_\
                     QSel<q1>_DAC<d1>_<pix3>_QSel<q3>_DAC<d3>_Split_<k>.dat ({what})"
                ),
                format!("'{found}' in file name '{name}'"),
            )
        };
        if tokens.len() < 12 {
            return Err(bad(
                "at least 12 '_'-separated tokens",
                &format!("{} tokens", tokens.len()),
            ));
        }
        let number = |token: &str, prefix: &str| -> Result<i64> {
            token
                .strip_prefix(prefix)
                .and_then(|v| v.parse::<i64>().ok())
                .ok_or_else(|| bad(&format!("'{prefix}' followed by an integer"), token))
        };
        let phase = number(tokens[2], "PhaseAdj")?;
        let phase_adjust =
            i8::try_from(phase).map_err(|_| bad("a phase adjustment that fits int8", tokens[2]))?;
        let board = |i: usize| -> Result<ChargeInjectionBoard> {
            let base = 3 * (i + 1);
            let q = number(tokens[base + 1], "QSel")?;
            let d = number(tokens[base + 2], "DAC")?;
            Ok(ChargeInjectionBoard {
                pixel_id: tokens[base].to_string(),
                injected_charge_fc: i16::try_from(q)
                    .map_err(|_| bad("a charge that fits int16", tokens[base + 1]))?,
                discriminator_threshold_dac: i16::try_from(d)
                    .map_err(|_| bad("a threshold that fits int16", tokens[base + 2]))?,
            })
        };
        Ok(Self {
            phase_adjust,
            boards: [board(0)?, board(1)?, board(2)?],
        })
    }
}

/// Run-level metadata of a hit table (from the input file name).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum RunMetadata {
    /// No file-name metadata.
    #[default]
    None,
    /// Beam run: pixel ids.
    Beam(BeamFileName),
    /// Charge-injection run: phase, pixels, charges, thresholds.
    ChargeInjection(ChargeInjectionFileName),
}

// ---------------------------------------------------------------------------------------------
// The hit table
// ---------------------------------------------------------------------------------------------

/// The ingested hits (table `etroc1_data` of the original), column-wise, in file order.
///
/// Codes are the raw TDC codes; `datetime` holds the txt's wall-clock time as seconds since
/// 1970-01-01 00:00:00 of the same (unspecified, local) time zone.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Hits {
    /// Event number.
    pub event: Vec<i64>,
    /// Board (FPGA channel) id, 0..=3.
    pub data_board_id: Vec<u8>,
    /// TOA code, 0..=1023.
    pub time_of_arrival: Vec<u16>,
    /// TOT code, 0..=511.
    pub time_over_threshold: Vec<u16>,
    /// CAL code, 0..=1023.
    pub calibration_code: Vec<u16>,
    /// Hit flag.
    pub hit_flag: Vec<bool>,
    /// Wall-clock time of the hit's raw file (s), beam txt only.
    pub datetime: Option<Vec<i64>>,
    /// File-name metadata, expanded to per-hit columns when stored.
    pub metadata: RunMetadata,
}

impl Hits {
    /// Number of hits.
    pub fn len(&self) -> usize {
        self.data_board_id.len()
    }

    /// True if there are no hits.
    pub fn is_empty(&self) -> bool {
        self.data_board_id.is_empty()
    }

    /// The sorted distinct board ids present.
    pub fn boards(&self) -> Vec<u8> {
        let mut seen = [false; 256];
        for &b in &self.data_board_id {
            seen[usize::from(b)] = true;
        }
        (0..=255u8).filter(|&b| seen[usize::from(b)]).collect()
    }

    /// The table as a record batch with the original's columns and dtypes: `event` int64,
    /// `data_board_id` int8, `time_of_arrival`, `time_over_threshold`, `calibration_code` int16,
    /// `hit_flag` bool, then `datetime` (timestamp in ms, whole seconds, txt only), `pixel_id` (utf8) and, for
    /// charge injection, `phase_adjust` int8, `board_injected_charge` int16 (fC),
    /// `board_discriminator_threshold` int16 (DAC). The metadata is also stored as JSON in the
    /// schema metadata under [`RUN_METADATA_KEY`].
    pub fn to_record_batch(&self) -> RecordBatch {
        let unit = |f: Field, u: &str| {
            f.with_metadata(HashMap::from([("unit".to_string(), u.to_string())]))
        };
        let mut fields = vec![
            Field::new("event", DataType::Int64, false),
            Field::new("data_board_id", DataType::Int8, false),
            unit(
                Field::new("time_of_arrival", DataType::Int16, false),
                "TDC code",
            ),
            unit(
                Field::new("time_over_threshold", DataType::Int16, false),
                "TDC code",
            ),
            unit(
                Field::new("calibration_code", DataType::Int16, false),
                "TDC code",
            ),
            Field::new("hit_flag", DataType::Boolean, false),
        ];
        let i16col = |v: &[u16]| -> ArrayRef {
            Arc::new(Int16Array::from_iter_values(v.iter().map(|&x| x as i16)))
        };
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(self.event.clone())),
            Arc::new(Int8Array::from_iter_values(
                self.data_board_id.iter().map(|&b| b as i8),
            )),
            i16col(&self.time_of_arrival),
            i16col(&self.time_over_threshold),
            i16col(&self.calibration_code),
            Arc::new(BooleanArray::from(self.hit_flag.clone())),
        ];
        if let Some(dt) = &self.datetime {
            fields.push(Field::new(
                "datetime",
                DataType::Timestamp(TimeUnit::Millisecond, None),
                false,
            ));
            // Milliseconds: Parquet has no seconds unit, and a seconds column would be stored as
            // a bare integer that pyarrow, pandas and duckdb do not read as a time.
            columns.push(Arc::new(TimestampMillisecondArray::from_iter_values(
                dt.iter().map(|&s| s * 1000),
            )));
        }
        let pixel = |names: &[String; 3]| -> ArrayRef {
            Arc::new(StringArray::from_iter_values(
                self.data_board_id
                    .iter()
                    .map(|&b| names.get(board_index(b)).map_or("", String::as_str)),
            ))
        };
        match &self.metadata {
            RunMetadata::None => {}
            RunMetadata::Beam(m) => {
                fields.push(Field::new("pixel_id", DataType::Utf8, false));
                columns.push(pixel(&m.pixel_ids));
            }
            RunMetadata::ChargeInjection(m) => {
                let names = m.boards.clone().map(|b| b.pixel_id);
                fields.push(Field::new("pixel_id", DataType::Utf8, false));
                columns.push(pixel(&names));
                fields.push(Field::new("phase_adjust", DataType::Int8, false));
                columns.push(Arc::new(Int8Array::from(vec![m.phase_adjust; self.len()])));
                let per_board = |f: &dyn Fn(&ChargeInjectionBoard) -> i16| -> ArrayRef {
                    Arc::new(Int16Array::from_iter(
                        self.data_board_id
                            .iter()
                            .map(|&b| m.boards.get(board_index(b)).map(f)),
                    ))
                };
                fields.push(unit(
                    Field::new("board_injected_charge", DataType::Int16, true),
                    "fC",
                ));
                columns.push(per_board(&|b| b.injected_charge_fc));
                fields.push(unit(
                    Field::new("board_discriminator_threshold", DataType::Int16, true),
                    "DAC",
                ));
                columns.push(per_board(&|b| b.discriminator_threshold_dac));
            }
        }
        let meta = serde_json::to_string(&self.metadata).unwrap_or_default();
        let schema = Schema::new(fields)
            .with_metadata(HashMap::from([(RUN_METADATA_KEY.to_string(), meta)]));
        // Columns are built from the fields above and all have `len()` rows.
        RecordBatch::try_new(Arc::new(schema), columns).expect("hit batch matches its schema")
    }

    /// Reads a hit table back from a record batch written by [`Hits::to_record_batch`] (or any
    /// batch with at least the columns `event`, `data_board_id`, `time_of_arrival`,
    /// `time_over_threshold`, `calibration_code` of integer types; `hit_flag` defaults to true).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a missing column or a value outside the code ranges.
    pub fn from_record_batch(batch: &RecordBatch) -> Result<Self> {
        use crate::store::column_to_i64;
        let narrow = |name: &str, max: i64| -> Result<Vec<u16>> {
            column_to_i64(batch, name)?
                .into_iter()
                .map(|v| {
                    if (0..=max).contains(&v) {
                        Ok(v as u16)
                    } else {
                        Err(Error::InvalidArgument(format!(
                            "column '{name}': value {v} outside 0..={max}"
                        )))
                    }
                })
                .collect()
        };
        let data_board_id = narrow("data_board_id", i64::from(MAX_BOARD_ID))?
            .into_iter()
            .map(|b| b as u8)
            .collect();
        let hit_flag = match batch.column_by_name("hit_flag") {
            Some(_) => column_to_i64(batch, "hit_flag")
                .map(|v| v.into_iter().map(|x| x != 0).collect())
                .or_else(|_| {
                    crate::store::column_to_f64(batch, "hit_flag")
                        .map(|v| v.into_iter().map(|x| x != 0.0).collect())
                })?,
            None => vec![true; batch.num_rows()],
        };
        let datetime = match batch.column_by_name("datetime") {
            // Milliseconds as written since the timestamps became readable elsewhere; seconds
            // as in tables written before.
            Some(c) => Some(
                if let Some(ms) = c.as_any().downcast_ref::<TimestampMillisecondArray>() {
                    ms.values().iter().map(|v| v.div_euclid(1000)).collect()
                } else if let Some(s) = c.as_any().downcast_ref::<TimestampSecondArray>() {
                    s.values().to_vec()
                } else {
                    return Err(Error::InvalidArgument(format!(
                        "column 'datetime' is {}, expected timestamp (ms)",
                        c.data_type()
                    )));
                },
            ),
            None => None,
        };
        let metadata = batch
            .schema_ref()
            .metadata()
            .get(RUN_METADATA_KEY)
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default();
        Ok(Self {
            event: column_to_i64(batch, "event")?,
            data_board_id,
            time_of_arrival: narrow("time_of_arrival", i64::from(MAX_TOA_CODE))?,
            time_over_threshold: narrow("time_over_threshold", i64::from(MAX_TOT_CODE))?,
            calibration_code: narrow("calibration_code", i64::from(MAX_CAL_CODE))?,
            hit_flag,
            datetime,
            metadata,
        })
    }

    /// Keeps the hits where `keep` is true.
    ///
    /// # Panics
    ///
    /// If `keep` is shorter than the table.
    pub fn retain(&mut self, keep: &[bool]) {
        fn f<T: Copy>(v: &mut Vec<T>, keep: &[bool]) {
            let mut i = 0;
            v.retain(|_| {
                let k = keep[i];
                i += 1;
                k
            });
        }
        f(&mut self.event, keep);
        f(&mut self.data_board_id, keep);
        f(&mut self.time_of_arrival, keep);
        f(&mut self.time_over_threshold, keep);
        f(&mut self.calibration_code, keep);
        f(&mut self.hit_flag, keep);
        if let Some(d) = &mut self.datetime {
            f(d, keep);
        }
    }
}

/// Summary numbers of an ingest, for logs and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct IngestSummary {
    /// Data lines read (blank lines and the banner excluded).
    pub lines: u64,
    /// Hits after the hit-flag filter.
    pub hits_after_flag_filter: u64,
    /// Hits kept in events (after pattern matching).
    pub hits_in_events: u64,
    /// Number of events.
    pub events: u64,
}

// ---------------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------------

/// Reads a beam txt summary and builds events. With
/// [`IngestOptions::add_extra_data`] the pixel ids are taken from the file name; a name with
/// fewer than 3 `_`-separated tokens leaves [`Hits::metadata`] as [`RunMetadata::None`] (the
/// original crashed).
///
/// # Errors
///
/// [`hep_core::Error::Parse`] for a malformed line (module docs); [`Error::Core`] if the file cannot be read.
pub fn read_beam_txt(path: &Path, options: &IngestOptions) -> Result<(Hits, IngestSummary)> {
    let mut hits = read_lines(path, Format::BeamTxt, options)?;
    if options.add_extra_data
        && let Some(m) = BeamFileName::parse(path)
    {
        hits.0.metadata = RunMetadata::Beam(m);
    }
    Ok(build_events(
        hits,
        EventNumbering::Pattern(options.pattern.clone()),
    ))
}

/// Parses beam txt bytes already in memory (as [`read_beam_txt`]; `path` only labels errors and
/// provides the file-name metadata). Used by benchmarks and tests.
///
/// # Errors
///
/// As [`read_beam_txt`].
pub fn parse_beam_txt(
    bytes: &[u8],
    path: &Path,
    options: &IngestOptions,
) -> Result<(Hits, IngestSummary)> {
    let mut parsed = parse_reader(bytes, path, Format::BeamTxt, options)?;
    if options.add_extra_data
        && let Some(m) = BeamFileName::parse(path)
    {
        parsed.0.metadata = RunMetadata::Beam(m);
    }
    Ok(build_events(
        parsed,
        EventNumbering::Pattern(options.pattern.clone()),
    ))
}

/// Reads a charge-injection Split `.dat`: every hit is its own event, numbered
/// `0..n` after the flag filter. With [`IngestOptions::add_extra_data`] the file-name metadata
/// is attached (a name that does not follow the scheme is then an error).
///
/// # Errors
///
/// [`hep_core::Error::Parse`] for a malformed line or file name; [`Error::Core`] if the file cannot be read.
pub fn read_charge_injection_dat(
    path: &Path,
    options: &IngestOptions,
) -> Result<(Hits, IngestSummary)> {
    let metadata = if options.add_extra_data {
        RunMetadata::ChargeInjection(ChargeInjectionFileName::parse(path)?)
    } else {
        RunMetadata::None
    };
    let mut parsed = read_lines(path, Format::SplitDat, options)?;
    parsed.0.metadata = metadata;
    Ok(build_events(parsed, EventNumbering::Sequential))
}

/// Reads a raw `.dat` of 32-bit ETROC1 words, one decimal integer per line, decoded
/// by bit position (board 31-30, TOT 29-21, TOA 20-11, CAL 10-1, hit flag 0). All-zero words,
/// board 2 and lines of at most 2 bytes are dropped, as the converters do; then the flag filter
/// and the event building of `options` apply (`pattern` empty = one event per hit, numbered in
/// order). No datetime exists in this format.
///
/// # Errors
///
/// [`hep_core::Error::Parse`] for a line that is not an unsigned 32-bit integer; [`Error::Core`] if the
/// file cannot be read.
pub fn read_raw_words(path: &Path, options: &IngestOptions) -> Result<(Hits, IngestSummary)> {
    let mut parsed = read_lines(path, Format::RawWords, options)?;
    parsed.0.datetime = None;
    let numbering = if options.pattern.boards().is_empty() {
        EventNumbering::Sequential
    } else {
        EventNumbering::Pattern(options.pattern.clone())
    };
    Ok(build_events(parsed, numbering))
}

/// Decodes one 32-bit ETROC1 word (bits 31-30 board, 29-21 TOT,
/// 20-11 TOA, 10-1 CAL, 0 hit flag; as the DAQ's converters decode it) into
/// `(board, toa, tot, cal, hit_flag)`.
pub fn decode_word(word: u32) -> (u8, u16, u16, u16, bool) {
    (
        (word >> 30) as u8,
        ((word >> 11) & 0x3ff) as u16,
        ((word >> 21) & 0x1ff) as u16,
        ((word >> 1) & 0x3ff) as u16,
        word & 1 == 1,
    )
}

// ---------------------------------------------------------------------------------------------
// Event building
// ---------------------------------------------------------------------------------------------

enum EventNumbering {
    /// Pattern matching (an empty pattern numbers hits by their data-row index).
    Pattern(EventPattern),
    /// `0..n` in order (charge injection).
    Sequential,
}

/// Parsed hits plus the data-row index of each (for pattern 0) and the line count.
type Parsed = (Hits, Vec<u64>, u64);

fn build_events(
    (mut hits, rows, lines): Parsed,
    numbering: EventNumbering,
) -> (Hits, IngestSummary) {
    let after_flag = hits.len() as u64;
    match numbering {
        EventNumbering::Sequential => hits.event = (0..hits.len() as i64).collect(),
        EventNumbering::Pattern(p) if p.boards().is_empty() => {
            hits.event = rows.into_iter().map(|r| r as i64).collect();
        }
        EventNumbering::Pattern(p) => {
            let pat = p.boards();
            let n = pat.len();
            let ids = &hits.data_board_id;
            let mut keep = vec![false; ids.len()];
            let mut i = 0;
            // Distinct ids: matches never overlap, so jumping past a match finds them all.
            while i + n <= ids.len() {
                if ids[i..i + n] == *pat {
                    keep[i..i + n].fill(true);
                    i += n;
                } else {
                    i += 1;
                }
            }
            hits.retain(&keep);
            hits.event = (0..hits.len()).map(|r| (r / n) as i64).collect();
        }
    }
    // Events are non-decreasing in every numbering, so distinct events are the value changes.
    let events = match hits.event.first() {
        None => 0,
        Some(_) => 1 + hits.event.windows(2).filter(|w| w[0] != w[1]).count() as u64,
    };
    let summary = IngestSummary {
        lines,
        hits_after_flag_filter: after_flag,
        hits_in_events: hits.len() as u64,
        events,
    };
    (hits, summary)
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    BeamTxt,
    SplitDat,
    RawWords,
}

impl Format {
    fn expected(self) -> &'static str {
        match self {
            Format::BeamTxt => {
                "7 whitespace-separated tokens 'board_id TOA_code TOT_code CAL_code hit_flag \
                 YYYY-MM-DD HH:MM:SS'"
            }
            Format::SplitDat => {
                "5 whitespace-separated tokens 'board_id TOA_code TOT_code CAL_code hit_flag'"
            }
            Format::RawWords => "one unsigned 32-bit integer (an ETROC1 data word)",
        }
    }

    fn tokens(self) -> usize {
        match self {
            Format::BeamTxt => 7,
            Format::SplitDat => 5,
            Format::RawWords => 1,
        }
    }
}

fn read_lines(path: &Path, format: Format, options: &IngestOptions) -> Result<Parsed> {
    let file = std::fs::File::open(path).map_err(|e| hep_core::Error::io(path, e))?;
    parse_reader(file, path, format, options)
}

/// One piece of a block, parsed.
#[derive(Default)]
struct Piece {
    board: Vec<u8>,
    toa: Vec<u16>,
    tot: Vec<u16>,
    cal: Vec<u16>,
    flag: Vec<bool>,
    datetime: Vec<i64>,
    /// Data-row index within the piece of each kept hit.
    row: Vec<u32>,
    /// Newlines in the piece.
    lines: u64,
    /// Data rows (non-blank lines) in the piece.
    rows: u64,
}

struct PieceError {
    /// 0-based line within the piece.
    line: u64,
    expected: String,
    found: String,
}

fn parse_reader(
    reader: impl Read + Send,
    path: &Path,
    format: Format,
    options: &IngestOptions,
) -> Result<Parsed> {
    parse_blocks(reader, path, format, options, BLOCK_BYTES)
}

fn parse_blocks(
    mut reader: impl Read + Send,
    path: &Path,
    format: Format,
    options: &IngestOptions,
    block_bytes: usize,
) -> Result<Parsed> {
    let io = |e| Error::Core(hep_core::Error::io(path, e));
    let mut hits = Hits {
        datetime: (format == Format::BeamTxt).then(Vec::new),
        ..Hits::default()
    };
    let mut rows: Vec<u64> = Vec::new();
    let mut line_base: u64 = 0; // lines consumed before the current block
    let mut row_base: u64 = 0;
    let mut header_left = options.header_lines;
    let pieces_per_block = rayon::current_num_threads().max(1) * 4;
    // The data-row index is needed only to number events without a pattern.
    let keep_rows = format == Format::BeamTxt && options.pattern.boards().is_empty();
    let (mut buf, mut eof) = read_block(&mut reader, Vec::new(), block_bytes).map_err(io)?;
    loop {
        // The complete lines of this block end at the last newline (or the end of the file).
        let complete = if eof {
            buf.len()
        } else {
            match buf.iter().rposition(|&b| b == b'\n') {
                Some(p) => p + 1,
                None => {
                    // A line longer than the block: read more.
                    (buf, eof) = read_block(&mut reader, buf, block_bytes).map_err(io)?;
                    continue;
                }
            }
        };
        let tail = buf[complete..].to_vec();
        buf.truncate(complete);
        let mut pos = 0;
        while header_left > 0 && pos < complete {
            match buf[pos..complete].iter().position(|&b| b == b'\n') {
                Some(p) => pos += p + 1,
                None => pos = complete,
            }
            header_left -= 1;
            line_base += 1;
        }
        let body = &buf[pos..complete];
        let cuts = split_at_lines(body, pieces_per_block);
        let parse = || -> Vec<std::result::Result<Piece, PieceError>> {
            cuts.par_windows(2)
                .map(|w| parse_piece(&body[w[0]..w[1]], format, options.keep_all, keep_rows))
                .collect()
        };
        // Read the next block while this one is parsed.
        let (results, next) = if eof {
            (parse(), None)
        } else {
            let (r, n) = rayon::join(parse, || read_block(&mut reader, tail, block_bytes));
            (r, Some(n.map_err(io)?))
        };
        for r in results {
            match r {
                Ok(p) => {
                    hits.data_board_id.extend_from_slice(&p.board);
                    hits.time_of_arrival.extend_from_slice(&p.toa);
                    hits.time_over_threshold.extend_from_slice(&p.tot);
                    hits.calibration_code.extend_from_slice(&p.cal);
                    hits.hit_flag.extend_from_slice(&p.flag);
                    if let Some(d) = &mut hits.datetime {
                        d.extend_from_slice(&p.datetime);
                    }
                    rows.extend(p.row.iter().map(|&r| row_base + u64::from(r)));
                    line_base += p.lines;
                    row_base += p.rows;
                }
                Err(e) => {
                    return Err(Error::input(
                        path,
                        line_base + e.line + 1,
                        e.expected,
                        e.found,
                    ));
                }
            }
        }
        match next {
            None => break,
            Some(n) => (buf, eof) = n,
        }
    }
    Ok((hits, rows, row_base))
}

/// Appends up to `block_bytes` bytes of `reader` to `buf`; also returns whether the end of the
/// input was reached.
fn read_block(
    reader: &mut (impl Read + Send),
    mut buf: Vec<u8>,
    block_bytes: usize,
) -> std::io::Result<(Vec<u8>, bool)> {
    let want = block_bytes.max(1);
    buf.reserve(want);
    let n = reader.by_ref().take(want as u64).read_to_end(&mut buf)?;
    Ok((buf, n < want))
}

/// Cut positions (including 0 and `body.len()`) splitting `body` into about `n` pieces at line
/// ends.
fn split_at_lines(body: &[u8], n: usize) -> Vec<usize> {
    let mut cuts = vec![0];
    let step = body.len() / n.max(1) + 1;
    let mut target = step;
    while target < body.len() {
        match body[target..].iter().position(|&b| b == b'\n') {
            Some(p) => {
                let c = target + p + 1;
                if c < body.len() {
                    cuts.push(c);
                }
                target = c + step;
            }
            None => break,
        }
    }
    cuts.push(body.len());
    cuts
}

#[inline]
fn is_space(b: u8) -> bool {
    b == b' ' || b == b'\t' || b == b'\r' || b == b'\x0b' || b == b'\x0c'
}

/// Parses an unsigned decimal token; `None` if empty, not all digits, or above `u32::MAX`.
#[inline]
fn parse_u32(tok: &[u8]) -> Option<u32> {
    if tok.is_empty() || tok.len() > 10 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in tok {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + u64::from(d);
    }
    u32::try_from(v).ok()
}

fn parse_piece(
    bytes: &[u8],
    format: Format,
    keep_all: bool,
    keep_rows: bool,
) -> std::result::Result<Piece, PieceError> {
    let mut p = Piece::default();
    let want = format.tokens();
    let mut toks: [(usize, usize); 8] = [(0, 0); 8];
    let mut last_dt: ([u8; 19], i64) = ([0; 19], 0);
    let mut has_last_dt = false;
    let mut i = 0;
    let n = bytes.len();
    let hint = n / 36 + 1;
    p.board.reserve(hint);
    p.toa.reserve(hint);
    p.tot.reserve(hint);
    p.cal.reserve(hint);
    p.flag.reserve(hint);
    if format == Format::BeamTxt {
        p.datetime.reserve(hint);
    }
    if keep_rows {
        p.row.reserve(hint);
    }
    while i < n {
        // Fast path: a well-formed line, parsed straight from the bytes. Anything unusual
        // (including every error) goes to the general path below, which reports it.
        if format != Format::RawWords
            && let Some(r) = fast_line(bytes, i, format == Format::BeamTxt)
        {
            let secs = if format == Format::BeamTxt && (keep_all || r.flag) {
                let (d, t) = (&bytes[r.date..r.date + 10], &bytes[r.time..r.time + 8]);
                if has_last_dt && last_dt.0[..10] == *d && last_dt.0[11..] == *t {
                    Some(last_dt.1)
                } else if let Some(secs) = parse_datetime(d, t) {
                    last_dt.0[..10].copy_from_slice(d);
                    last_dt.0[11..].copy_from_slice(t);
                    last_dt.1 = secs;
                    has_last_dt = true;
                    Some(secs)
                } else {
                    None
                }
            } else {
                Some(0)
            };
            if let Some(secs) = secs {
                if r.newline {
                    p.lines += 1;
                }
                let row = p.rows;
                p.rows += 1;
                i = r.end;
                if !keep_all && !r.flag {
                    continue;
                }
                if format == Format::BeamTxt {
                    p.datetime.push(secs);
                }
                p.board.push(r.board);
                p.toa.push(r.toa);
                p.tot.push(r.tot);
                p.cal.push(r.cal);
                p.flag.push(r.flag);
                if keep_rows {
                    p.row.push(row as u32);
                }
                continue;
            }
        }
        let line_start = i;
        // Tokenise one line.
        let mut nt = 0usize;
        loop {
            while i < n && is_space(bytes[i]) {
                i += 1;
            }
            if i >= n || bytes[i] == b'\n' {
                break;
            }
            let s = i;
            while i < n && !is_space(bytes[i]) && bytes[i] != b'\n' {
                i += 1;
            }
            if nt < toks.len() {
                toks[nt] = (s, i);
            }
            nt += 1;
        }
        let line_end = i;
        let line_no = p.lines;
        if i < n {
            i += 1; // the newline
            p.lines += 1;
        }
        if nt == 0 {
            continue; // blank line
        }
        let line = &bytes[line_start..line_end];
        let err = |expected: String, found: String| PieceError {
            line: line_no,
            expected,
            found,
        };
        if format == Format::RawWords && line.len() <= 2 {
            continue; // the converters skip lines of length <= 2
        }
        if nt != want {
            return Err(err(
                format.expected().into(),
                format!(
                    "{nt} token{} '{}'",
                    if nt == 1 { "" } else { "s" },
                    String::from_utf8_lossy(line).trim()
                ),
            ));
        }
        let row = p.rows;
        p.rows += 1;
        let tok = |k: usize| &bytes[toks[k].0..toks[k].1];
        let int = |k: usize, name: &str| -> std::result::Result<u32, PieceError> {
            parse_u32(tok(k)).ok_or_else(|| {
                err(
                    format!("{name} as a non-negative integer"),
                    format!("'{}'", String::from_utf8_lossy(tok(k))),
                )
            })
        };
        let (board, toa, tot, cal, flag) = if format == Format::RawWords {
            let word = int(0, "a 32-bit data word")?;
            if word == 0 {
                continue;
            }
            let (b, toa, tot, cal, f) = decode_word(word);
            if b == 2 {
                continue;
            }
            (b, toa, tot, cal, f)
        } else {
            let range = |k: usize, name: &str, max: u32| -> std::result::Result<u32, PieceError> {
                let v = int(k, name)?;
                if v > max {
                    return Err(err(format!("{name} in 0..={max}"), v.to_string()));
                }
                Ok(v)
            };
            let board = range(0, "board_id (0, 1, 2 or 3)", u32::from(MAX_BOARD_ID))?;
            let toa = range(1, "TOA code", u32::from(MAX_TOA_CODE))?;
            let tot = range(2, "TOT code", u32::from(MAX_TOT_CODE))?;
            let cal = range(3, "CAL code", u32::from(MAX_CAL_CODE))?;
            let flag = range(4, "hit_flag (0 or 1)", 1)?;
            (board as u8, toa as u16, tot as u16, cal as u16, flag == 1)
        };
        if !keep_all && !flag {
            continue;
        }
        if format == Format::BeamTxt {
            let (d, t) = (tok(5), tok(6));
            let same = has_last_dt
                && d.len() == 10
                && t.len() == 8
                && last_dt.0[..10] == *d
                && last_dt.0[11..] == *t;
            if !same {
                let secs = parse_datetime(d, t).ok_or_else(|| {
                    err(
                        "a date YYYY-MM-DD and a time HH:MM:SS".into(),
                        format!(
                            "'{} {}'",
                            String::from_utf8_lossy(d),
                            String::from_utf8_lossy(t)
                        ),
                    )
                })?;
                last_dt.0[..10].copy_from_slice(d);
                last_dt.0[11..].copy_from_slice(t);
                last_dt.1 = secs;
                has_last_dt = true;
            }
            p.datetime.push(last_dt.1);
        }
        p.board.push(board);
        p.toa.push(toa);
        p.tot.push(tot);
        p.cal.push(cal);
        p.flag.push(flag);
        if keep_rows {
            p.row.push(row as u32);
        }
    }
    Ok(p)
}

/// A line accepted by the fast path.
struct FastLine {
    board: u8,
    toa: u16,
    tot: u16,
    cal: u16,
    flag: bool,
    /// Start of the date token (beam txt).
    date: usize,
    /// Start of the time token (beam txt).
    time: usize,
    /// Index after the line (after its newline).
    end: usize,
    /// The line ended with a newline (not at the end of the piece).
    newline: bool,
}

/// Parses a well-formed data line starting at `start`: 5 in-range integers, then (beam txt) a
/// 10-byte date and an 8-byte time token. `None` for anything else (blank lines, wrong token
/// counts, out-of-range values, long numbers, ...), which the general path then handles.
#[inline]
fn fast_line(b: &[u8], start: usize, beam: bool) -> Option<FastLine> {
    let n = b.len();
    let mut i = start;
    let blank = |c: u8| c == b' ' || c == b'\t';
    while i < n && blank(b[i]) {
        i += 1;
    }
    let mut v = [0u32; 5];
    for (k, slot) in v.iter_mut().enumerate() {
        if k > 0 {
            if i >= n || !blank(b[i]) {
                return None;
            }
            while i < n && blank(b[i]) {
                i += 1;
            }
        }
        let s = i;
        let mut x = 0u32;
        while i < n {
            let d = b[i].wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            x = x * 10 + u32::from(d);
            i += 1;
            if i - s > 6 {
                return None;
            }
        }
        if i == s {
            return None;
        }
        *slot = x;
    }
    if v[0] > u32::from(MAX_BOARD_ID)
        || v[1] > u32::from(MAX_TOA_CODE)
        || v[2] > u32::from(MAX_TOT_CODE)
        || v[3] > u32::from(MAX_CAL_CODE)
        || v[4] > 1
    {
        return None;
    }
    let (mut date, mut time) = (0, 0);
    if beam {
        for (len, slot) in [(10usize, &mut date), (8, &mut time)] {
            if i >= n || !blank(b[i]) {
                return None;
            }
            while i < n && blank(b[i]) {
                i += 1;
            }
            *slot = i;
            i += len;
            if i > n {
                return None;
            }
        }
    }
    while i < n && (blank(b[i]) || b[i] == b'\r') {
        i += 1;
    }
    let newline = i < n;
    if newline && b[i] != b'\n' {
        return None;
    }
    Some(FastLine {
        board: v[0] as u8,
        toa: v[1] as u16,
        tot: v[2] as u16,
        cal: v[3] as u16,
        flag: v[4] == 1,
        date,
        time,
        end: i + usize::from(newline),
        newline,
    })
}

pub use crate::datetime::{format_datetime, parse_datetime};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_decoding() {
        // board 3, TOT 300, TOA 700, CAL 130, flag 1
        let w: u32 = (3 << 30) | (300 << 21) | (700 << 11) | (130 << 1) | 1;
        assert_eq!(decode_word(w), (3, 700, 300, 130, true));
    }

    /// Small blocks (down to shorter than a line) give the same hits and the same error lines
    /// as one block.
    #[test]
    fn block_boundaries_do_not_matter() {
        let mut text = String::from("banner line\n");
        for i in 0..500 {
            let b = [0, 1, 3, 1][i % 4];
            let flag = u8::from(i % 7 != 0);
            text.push_str(&format!(
                "{b} {} {} 130 {flag} 2023-03-29 12:{:02}:00\n",
                i % 1024,
                i % 512,
                i % 60
            ));
            if i % 50 == 0 {
                text.push_str("   \n");
            }
        }
        let opts = IngestOptions::beam_txt();
        let path = Path::new("x.txt");
        let whole = parse_blocks(text.as_bytes(), path, Format::BeamTxt, &opts, 1 << 20)
            .map_err(|e| e.to_string())
            .unwrap();
        for block in [7, 40, 64, 100, 1000] {
            let part = parse_blocks(text.as_bytes(), path, Format::BeamTxt, &opts, block)
                .map_err(|e| e.to_string())
                .unwrap();
            assert_eq!(part.0, whole.0, "block {block}");
            assert_eq!(part.1, whole.1, "block {block}");
            assert_eq!(part.2, whole.2, "block {block}");
        }
        let bad = text.replace("3 302 302 130", "3 302 302 1300");
        let line = bad.lines().position(|l| l.contains(" 1300 ")).unwrap() as u64 + 1;
        for block in [7, 64, 1 << 20] {
            let e = parse_blocks(bad.as_bytes(), path, Format::BeamTxt, &opts, block).unwrap_err();
            assert!(
                e.to_string().starts_with(&format!(
                    "x.txt:{line}: expected CAL code in 0..=1023, found 1300"
                )),
                "{e}"
            );
        }
    }

    #[test]
    fn pieces_split_at_newlines() {
        let body = b"a\nbb\nccc\nd\n";
        for n in 1..6 {
            let cuts = split_at_lines(body, n);
            assert_eq!(*cuts.first().unwrap(), 0);
            assert_eq!(*cuts.last().unwrap(), body.len());
            for c in &cuts[1..cuts.len() - 1] {
                assert_eq!(body[c - 1], b'\n');
            }
        }
    }
}
