//! Event cuts and time cuts in the original CSV formats (`cut_etroc1_single_run.py`,
//! `cut_times_in_ns.py`), and the filter application helper (`utilities.py`).
//!
//! * [`read_event_cuts`] reads `<run>/cuts.csv` (columns `board_id, variable, cut_type,
//!   cut_value`, optional `output`); [`apply_event_cuts`] evaluates it on a hit table.
//! * [`read_time_cuts`] reads `<run>/time_cuts.csv` (columns `cut_type, cut_direction,
//!   variable_1, board_id_1, variable_2, board_id_2, value_1, value_2, value_3`, optional
//!   `output`; rows whose `cut_type` starts with `#` are comments); [`apply_time_cuts`]
//!   evaluates it on the ns table of `calculate_times_in_ns`.
//! * The whole tasks `apply_event_cuts` and `apply_time_cuts` on a run directory, with all their
//!   outputs and plots, are `cut_tasks::run_event_cuts` and `cut_tasks::run_time_cuts`.
//!
//! Semantics (as in the original scripts): the hits are pivoted to one row per event and one column
//! per (variable, board) ([`EventTable`]); every event starts accepted and each cut row is ANDed
//! in, in order. A board missing from an event gives NaN, and every comparison with NaN is false,
//! so the event is rejected unless `keep_nan` (`-k`), which ORs in "the tested value is NaN". In
//! `board_id`, `*` requires the condition for **all** boards present in the data, `#` for **any**
//! of them. The time filter is evaluated over all events of the table, not only those the event
//! filter accepted.
//!
//! Deviations from the original, all of them crashes or silent mistakes there:
//!
//! * a missing cut file is an error ([`Error::MissingFile`]) instead of a completed task that
//!   writes no filter (which made every later task fail);
//! * a `*` in a time-cut `board_id_1` does not break the other rows (the pandas dtype trap);
//!   non-`simple` time cuts need numeric board ids and say so;
//! * unknown header columns, variables, operators, directions, cut types and boards are
//!   reported with `file:line`;
//! * `fit-dist` fits its line on the events where both variables are finite (a NaN made scipy's
//!   fit NaN and rejected every event).

use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::events::EventTable;
use crate::rundir::{RunDir, names};
use crate::store::{self, EVENT_FILTER_FILE, EventFilter, TIME_FILTER_FILE};

/// Name of the event cut file in the run directory.
pub const EVENT_CUTS_FILE: &str = "cuts.csv";
/// Name of the time cut file in the run directory.
pub const TIME_CUTS_FILE: &str = "time_cuts.csv";
/// Name of the copy of the cut file in the cut task directory.
pub const CUTS_BACKUP_FILE: &str = "cuts.backup.csv";
/// Name of the cutflow table written by the cut tasks (an addition to the original).
pub const CUTFLOW_FILE: &str = "cutflow.csv";
/// Directory of the per-row cutflow outputs in the cut task directory.
pub const CUTFLOW_DIR: &str = "CutflowPlots";

// ---------------------------------------------------------------------------------------------
// Cut definitions
// ---------------------------------------------------------------------------------------------

/// A comparison operator of the cut files: `<`, `<=`, `>`, `>=`, `==`, `<>` (not equal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Comparison {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `<>`
    Ne,
}

impl Comparison {
    /// Parses the operator text; `None` if unknown.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "<" => Self::Lt,
            "<=" => Self::Le,
            ">" => Self::Gt,
            ">=" => Self::Ge,
            "==" => Self::Eq,
            "<>" => Self::Ne,
            _ => return None,
        })
    }

    /// `x op value`; false when `x` or `value` is NaN, for every operator including `<>`, as
    /// in the original's filter (a board missing from an event is rejected unless
    /// keep-NaN). Note that a plain pandas `!=` would be true for NaN.
    #[inline]
    pub fn test(self, x: f64, value: f64) -> bool {
        if x.is_nan() || value.is_nan() {
            return false;
        }
        match self {
            Self::Lt => x < value,
            Self::Le => x <= value,
            Self::Gt => x > value,
            Self::Ge => x >= value,
            Self::Eq => x == value,
            Self::Ne => x != value,
        }
    }

    /// The operator text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Eq => "==",
            Self::Ne => "<>",
        }
    }
}

/// The `board_id` of a cut row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum BoardSelector {
    /// One board.
    Board(u8),
    /// `*`: the condition must hold for all boards present in the data (AND).
    All,
    /// `#`: the condition must hold for at least one board (OR).
    Any,
}

impl BoardSelector {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "*" => Some(Self::All),
            "#" => Some(Self::Any),
            _ => s.parse::<u8>().ok().map(Self::Board),
        }
    }
}

impl std::fmt::Display for BoardSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Board(b) => write!(f, "{b}"),
            Self::All => f.write_str("*"),
            Self::Any => f.write_str("#"),
        }
    }
}

/// One row of `cuts.csv` (`cut_etroc1_single_run.py`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventCut {
    /// 0-based row index in the file (names the cutflow directory `<index>-<output>`).
    pub index: usize,
    /// 1-based line in the file.
    pub line: u64,
    /// Board(s) tested.
    pub board: BoardSelector,
    /// Column of the hit table, e.g. `calibration_code`.
    pub variable: String,
    /// The operator.
    pub comparison: Comparison,
    /// Right-hand side.
    pub value: f64,
    /// Cutflow output name (non-empty `output`), if any.
    pub output: Option<String>,
}

/// The geometric shape of a time cut (the `cut_type`s of `cut_times_in_ns.py`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TimeCutType {
    /// `simple`: (variable_1, board_id_1) op value_1, as an event cut.
    Simple,
    /// `diagonal`: (x + y) op value_1.
    Diagonal,
    /// `diag-dist`: |x − y|/√2 op value_1.
    DiagDist,
    /// `fit-dist`: distance |b·x − y + a|/√(b²+1) to the OLS line y = a + b·x, op value_1.
    FitDist,
    /// `circle`: (x−value_1)² + (y−value_2)² compared with value_3².
    Circle,
    /// `corner-ur`: rounded upper-right corner at (value_1, value_2), radius value_3.
    CornerUr,
    /// `corner-ul`: upper-left corner.
    CornerUl,
    /// `corner-dr`: lower-right corner.
    CornerDr,
    /// `corner-dl`: lower-left corner.
    CornerDl,
    /// `1d-dist`: |x − value_1| compared with value_2.
    OneDDist,
}

impl TimeCutType {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "simple" => Self::Simple,
            "diagonal" => Self::Diagonal,
            "diag-dist" => Self::DiagDist,
            "fit-dist" => Self::FitDist,
            "circle" => Self::Circle,
            "corner-ur" => Self::CornerUr,
            "corner-ul" => Self::CornerUl,
            "corner-dr" => Self::CornerDr,
            "corner-dl" => Self::CornerDl,
            "1d-dist" => Self::OneDDist,
            _ => return None,
        })
    }

    /// The name used in the cut file (`simple`, `diag-dist`, `corner-ur`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Simple => "simple",
            Self::Diagonal => "diagonal",
            Self::DiagDist => "diag-dist",
            Self::FitDist => "fit-dist",
            Self::Circle => "circle",
            Self::CornerUr => "corner-ur",
            Self::CornerUl => "corner-ul",
            Self::CornerDr => "corner-dr",
            Self::CornerDl => "corner-dl",
            Self::OneDDist => "1d-dist",
        }
    }

    /// True for the types whose `cut_direction` is `inside`/`outside` rather than an operator.
    fn is_region(self) -> bool {
        matches!(
            self,
            Self::Circle
                | Self::CornerUr
                | Self::CornerUl
                | Self::CornerDr
                | Self::CornerDl
                | Self::OneDDist
        )
    }

    /// True for the types that use (variable_2, board_id_2).
    fn uses_y(self) -> bool {
        !matches!(self, Self::Simple | Self::OneDDist)
    }
}

/// The `cut_direction` of a time cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CutDirection {
    /// An operator (`simple`, `diagonal`, `diag-dist`, `fit-dist`).
    Compare(Comparison),
    /// `inside` (regions).
    Inside,
    /// `outside` (regions).
    Outside,
}

/// One (non-comment) row of `time_cuts.csv` (`cut_times_in_ns.py`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimeCut {
    /// 0-based row index in the file, comment rows included.
    pub index: usize,
    /// 1-based line in the file.
    pub line: u64,
    /// The type.
    pub cut_type: TimeCutType,
    /// The direction.
    pub direction: CutDirection,
    /// x variable, e.g. `time_of_arrival_ns`.
    pub variable_1: String,
    /// x board (`*`/`#` only for `simple`).
    pub board_1: BoardSelector,
    /// y variable (types with a y).
    pub variable_2: Option<String>,
    /// y board (types with a y).
    pub board_2: Option<u8>,
    /// value_1 (NaN if empty).
    pub value_1: f64,
    /// value_2 (NaN if empty).
    pub value_2: f64,
    /// value_3 (NaN if empty).
    pub value_3: f64,
    /// Cutflow output name, if any.
    pub output: Option<String>,
}

/// One raw CSV row with its line.
struct Row {
    line: u64,
    fields: Vec<String>,
}

/// Reads a cut CSV: checks the header against `required` and `optional` and returns the rows
/// with fields in the order `required ++ optional` (missing optional fields empty).
fn read_csv_rows(
    path: &Path,
    what: &str,
    required: &[&str],
    optional: &[&str],
) -> Result<Vec<Row>> {
    if !path.is_file() {
        return Err(Error::MissingFile {
            path: path.to_path_buf(),
            what: format!(
                "{what} (CSV with columns {}{}); copy it into the run directory",
                required.join(", "),
                if optional.is_empty() {
                    String::new()
                } else {
                    format!(" and optionally {}", optional.join(", "))
                }
            ),
        });
    }
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| Error::input(path, 1, format!("a readable {what}"), e.to_string()))?;
    let header = rdr
        .headers()
        .map_err(|e| Error::input(path, 1, format!("a {what} header"), e.to_string()))?
        .clone();
    let names: Vec<&str> = header.iter().collect();
    let mut pos = Vec::new();
    for col in required {
        match names.iter().position(|n| n == col) {
            Some(p) => pos.push(Some(p)),
            None => {
                return Err(Error::input(
                    path,
                    1,
                    format!("a header with the columns {}", required.join(", ")),
                    format!("no column '{col}' in '{}'", names.join(",")),
                ));
            }
        }
    }
    for col in optional {
        pos.push(names.iter().position(|n| n == col));
    }
    for n in &names {
        if !required.contains(n) && !optional.contains(n) && !n.is_empty() {
            let known: Vec<&str> = required.iter().chain(optional).copied().collect();
            return Err(Error::input(
                path,
                1,
                format!("only the columns {}", known.join(", ")),
                format!("unknown column '{n}'"),
            ));
        }
    }
    let mut rows = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            Error::input(path, line, format!("a {what} row"), e.to_string())
        })?;
        let line = rec.position().map_or(0, |p| p.line());
        if rec.iter().all(str::is_empty) {
            continue;
        }
        let fields = pos
            .iter()
            .map(|p| p.and_then(|i| rec.get(i)).unwrap_or("").to_string())
            .collect();
        rows.push(Row { line, fields });
    }
    Ok(rows)
}

fn parse_value(path: &Path, line: u64, column: &str, s: &str, required: bool) -> Result<f64> {
    if s.is_empty() && !required {
        return Ok(f64::NAN);
    }
    let v = s.parse::<f64>().map_err(|_| {
        Error::input(
            path,
            line,
            format!("a number in column '{column}'"),
            format!("'{s}'"),
        )
    })?;
    if v.is_nan() && required {
        return Err(Error::input(
            path,
            line,
            format!("a number in column '{column}'"),
            "NaN",
        ));
    }
    Ok(v)
}

/// Longest accepted `output` name (characters).
pub const MAX_OUTPUT_NAME: usize = 100;

/// The `output` column of a cut row: empty or `nan` for none; otherwise a name that becomes one
/// directory name `<index>-<output>` under `CutflowPlots/`, so it must be a single, safe path
/// component: 1 to [`MAX_OUTPUT_NAME`] ASCII letters, digits, `_`, `-`, `+` or `.`, not
/// starting with `.` (this excludes `..`, `/`, absolute paths and hidden files).
fn output_name(path: &Path, line: u64, s: &str) -> Result<Option<String>> {
    let s = s.trim();
    if s.is_empty() || s.eq_ignore_ascii_case("nan") {
        return Ok(None);
    }
    let safe = s.len() <= MAX_OUTPUT_NAME
        && !s.starts_with('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '.'));
    if !safe {
        return Err(Error::input(
            path,
            line,
            format!(
                "an output name of 1 to {MAX_OUTPUT_NAME} ASCII letters, digits, '_', '-', '+' \
                 or '.' not starting with '.' (it names a directory)"
            ),
            format!("'{s}'"),
        ));
    }
    Ok(Some(s.to_string()))
}

/// Reads an event cut file (the format of `cut_etroc1_single_run.py`).
///
/// # Errors
///
/// [`Error::MissingFile`] if it does not exist; [`hep_core::Error::Parse`] with the line for a missing or
/// unknown column, a bad `board_id` (not a number in 0..=255, `*` or `#`), an unknown
/// `cut_type` or a `cut_value` that is not a number.
pub fn read_event_cuts(path: &Path) -> Result<Vec<EventCut>> {
    let rows = read_csv_rows(
        path,
        "event cut file",
        &["board_id", "variable", "cut_type", "cut_value"],
        &["output"],
    )?;
    rows.into_iter()
        .enumerate()
        .map(|(index, r)| {
            let f = &r.fields;
            let board = BoardSelector::parse(&f[0]).ok_or_else(|| {
                Error::input(
                    path,
                    r.line,
                    "board_id as a board number, '*' (all boards) or '#' (any board)",
                    format!("'{}'", f[0]),
                )
            })?;
            if f[1].is_empty() {
                return Err(Error::input(
                    path,
                    r.line,
                    "a variable name",
                    "an empty field",
                ));
            }
            let comparison = Comparison::parse(&f[2]).ok_or_else(|| {
                Error::input(
                    path,
                    r.line,
                    "cut_type one of <, <=, >, >=, ==, <>",
                    format!("'{}'", f[2]),
                )
            })?;
            Ok(EventCut {
                index,
                line: r.line,
                board,
                variable: f[1].clone(),
                comparison,
                value: parse_value(path, r.line, "cut_value", &f[3], true)?,
                output: output_name(path, r.line, &f[4])?,
            })
        })
        .collect()
}

/// Reads a time cut file (the format of `cut_times_in_ns.py`); comment rows (`cut_type` starting
/// with `#`) are skipped but keep their row index.
///
/// # Errors
///
/// [`Error::MissingFile`] if it does not exist; [`hep_core::Error::Parse`] with the line for a missing or
/// unknown column, an unknown `cut_type` or `cut_direction` (an operator for `simple`,
/// `diagonal`, `diag-dist`, `fit-dist`; `inside`/`outside` for the regions), a bad board id
/// (`*`/`#` only in `board_id_1` of `simple`), a missing variable or a missing value.
pub fn read_time_cuts(path: &Path) -> Result<Vec<TimeCut>> {
    let rows = read_csv_rows(
        path,
        "time cut file",
        &[
            "cut_type",
            "cut_direction",
            "variable_1",
            "board_id_1",
            "variable_2",
            "board_id_2",
            "value_1",
            "value_2",
            "value_3",
        ],
        &["output"],
    )?;
    let mut cuts = Vec::new();
    for (index, r) in rows.into_iter().enumerate() {
        let f = &r.fields;
        if f[0].starts_with('#') {
            continue;
        }
        let bad = |expected: &str, found: &str| {
            Error::input(path, r.line, expected, format!("'{found}'"))
        };
        let cut_type = TimeCutType::parse(&f[0]).ok_or_else(|| {
            bad(
                "cut_type one of simple, diagonal, diag-dist, fit-dist, circle, corner-ur, \
                 corner-ul, corner-dr, corner-dl, 1d-dist (or a comment starting with #)",
                &f[0],
            )
        })?;
        let direction = if cut_type.is_region() {
            match f[1].as_str() {
                "inside" => CutDirection::Inside,
                "outside" => CutDirection::Outside,
                other => {
                    return Err(bad(
                        &format!("cut_direction 'inside' or 'outside' for a {} cut", f[0]),
                        other,
                    ));
                }
            }
        } else {
            CutDirection::Compare(Comparison::parse(&f[1]).ok_or_else(|| {
                bad(
                    &format!(
                        "cut_direction one of <, <=, >, >=, ==, <> for a {} cut",
                        f[0]
                    ),
                    &f[1],
                )
            })?)
        };
        if f[2].is_empty() {
            return Err(bad("variable_1", ""));
        }
        let board_1 = BoardSelector::parse(&f[3])
            .ok_or_else(|| bad("board_id_1 as a board number, '*' or '#'", &f[3]))?;
        if cut_type != TimeCutType::Simple && !matches!(board_1, BoardSelector::Board(_)) {
            return Err(bad(
                &format!(
                    "a board number in board_id_1 for a {} cut ('*'/'#' only for simple)",
                    f[0]
                ),
                &f[3],
            ));
        }
        let (variable_2, board_2) = if cut_type.uses_y() {
            if f[4].is_empty() {
                return Err(bad(&format!("variable_2 for a {} cut", f[0]), ""));
            }
            let b = f[5].parse::<u8>().map_err(|_| {
                bad(
                    &format!("a board number in board_id_2 for a {} cut", f[0]),
                    &f[5],
                )
            })?;
            (Some(f[4].clone()), Some(b))
        } else {
            (None, None)
        };
        let needed = match cut_type {
            TimeCutType::Simple
            | TimeCutType::Diagonal
            | TimeCutType::DiagDist
            | TimeCutType::FitDist => 1,
            TimeCutType::OneDDist => 2,
            _ => 3,
        };
        let v = |k: usize| {
            parse_value(
                path,
                r.line,
                &format!("value_{}", k + 1),
                &f[6 + k],
                k < needed,
            )
        };
        cuts.push(TimeCut {
            index,
            line: r.line,
            cut_type,
            direction,
            variable_1: f[2].clone(),
            board_1,
            variable_2,
            board_2,
            value_1: v(0)?,
            value_2: v(1)?,
            value_3: v(2)?,
            output: output_name(path, r.line, &f[9])?,
        });
    }
    Ok(cuts)
}

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

/// The state of the cutflow after one cut row.
#[derive(Debug, Clone, PartialEq)]
pub struct CutflowStep {
    /// 0-based row index in the cut file.
    pub index: usize,
    /// The row as text, e.g. `calibration_code[*] < 200`.
    pub description: String,
    /// The row's `output` name, if any.
    pub output: Option<String>,
    /// Events that pass this row alone.
    pub passed_alone: usize,
    /// The cumulative filter after this row.
    pub filter: EventFilter,
}

/// The result of a cut file applied to a table.
#[derive(Debug, Clone, PartialEq)]
pub struct CutResult {
    /// The final filter over every event of the table.
    pub filter: EventFilter,
    /// One entry per applied row, in order.
    pub steps: Vec<CutflowStep>,
}

/// The pivot of a table: the event table plus per-hit columns converted to f64 on demand.
struct Pivot<'a> {
    batch: &'a RecordBatch,
    table: EventTable,
    path: &'a Path,
}

impl<'a> Pivot<'a> {
    fn new(batch: &'a RecordBatch, source: Option<&'a Path>) -> Result<Self> {
        let path = source.unwrap_or(Path::new(UNNAMED_CUTS));
        let event = store::column_to_i64(batch, "event")?;
        let board: Vec<u8> = store::column_to_i64(batch, "data_board_id")?
            .into_iter()
            .map(|b| {
                u8::try_from(b).map_err(|_| {
                    Error::InvalidArgument(format!("data_board_id {b} outside 0..=255"))
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            batch,
            table: EventTable::build(&event, &board)?,
            path,
        })
    }

    /// The per-event column of (variable, board), checked.
    fn column(&self, line: u64, variable: &str, board: u8) -> Result<Vec<f64>> {
        if !self.table.boards().contains(&board) {
            return Err(Error::input(
                self.path,
                line,
                format!(
                    "a board present in the data ({})",
                    list(self.table.boards())
                ),
                format!("board {board}"),
            ));
        }
        let values = self.values(line, variable)?;
        Ok(self.table.column(board, &values))
    }

    fn values(&self, line: u64, variable: &str) -> Result<Vec<f64>> {
        if matches!(variable, "event" | "data_board_id") {
            return Err(Error::input(
                self.path,
                line,
                "a variable to cut on (not the event or board number)",
                format!("'{variable}'"),
            ));
        }
        if self.batch.column_by_name(variable).is_none() {
            let names: Vec<String> = self
                .batch
                .schema_ref()
                .fields()
                .iter()
                .filter(|f| {
                    f.data_type().is_numeric()
                        && !matches!(f.name().as_str(), "event" | "data_board_id")
                })
                .map(|f| f.name().clone())
                .collect();
            return Err(Error::input(
                self.path,
                line,
                format!("a variable of the table ({})", names.join(", ")),
                format!("unknown variable '{variable}'"),
            ));
        }
        store::column_to_f64(self.batch, variable)
            .map_err(|e| Error::input(self.path, line, "a numeric variable", e.to_string()))
    }

    /// Evaluates a one-variable condition over a board selector: per board `cond(x) ||
    /// (keep_nan && x is NaN)`, combined with AND (`*`) or OR (`#`).
    fn selector_mask(
        &self,
        line: u64,
        variable: &str,
        board: BoardSelector,
        keep_nan: bool,
        cond: impl Fn(f64) -> bool,
    ) -> Result<Vec<bool>> {
        let n = self.table.n_events();
        let one = |col: &[f64]| -> Vec<bool> {
            col.iter()
                .map(|&x| cond(x) || (keep_nan && x.is_nan()))
                .collect()
        };
        match board {
            BoardSelector::Board(b) => Ok(one(&self.column(line, variable, b)?)),
            BoardSelector::All | BoardSelector::Any => {
                let values = self.values(line, variable)?;
                let all = board == BoardSelector::All;
                let mut acc = vec![all; n];
                for &b in self.table.boards() {
                    let m = one(&self.table.column(b, &values));
                    for (a, m) in acc.iter_mut().zip(m) {
                        *a = if all { *a && m } else { *a || m };
                    }
                }
                Ok(acc)
            }
        }
    }
}

fn list(boards: &[u8]) -> String {
    boards
        .iter()
        .map(u8::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// How errors name cuts that come from no file (`source` `None` in [`apply_event_cuts`] and
/// [`apply_time_cuts`]).
pub const UNNAMED_CUTS: &str = "<cuts>";

/// Applies event cuts to a hit table with columns `event`, `data_board_id` and the
/// cut variables. `source` (the cut file, if the cuts come from one) labels errors as
/// `source:line: ...`; without it they read `<cuts>:line: ...`.
///
/// # Errors
///
/// [`hep_core::Error::Parse`] at the cut's line for an unknown variable or a board absent from the data;
/// [`Error::InvalidArgument`] if the table lacks `event`/`data_board_id` or has two hits of one
/// board in an event.
pub fn apply_event_cuts(
    table: &RecordBatch,
    cuts: &[EventCut],
    keep_nan: bool,
    source: Option<&Path>,
) -> Result<CutResult> {
    let pivot = Pivot::new(table, source)?;
    let mut accepted = vec![true; pivot.table.n_events()];
    let mut steps = Vec::with_capacity(cuts.len());
    for cut in cuts {
        let (op, v) = (cut.comparison, cut.value);
        let mask = pivot.selector_mask(cut.line, &cut.variable, cut.board, keep_nan, |x| {
            op.test(x, v)
        })?;
        steps.push(and_step(
            &pivot,
            &mut accepted,
            &mask,
            cut.index,
            format!("{}[{}] {} {}", cut.variable, cut.board, op.as_str(), v),
            cut.output.clone(),
        ));
    }
    Ok(CutResult {
        filter: filter_of(&pivot, accepted),
        steps,
    })
}

fn filter_of(pivot: &Pivot<'_>, accepted: Vec<bool>) -> EventFilter {
    // Events are sorted and unique in the event table.
    EventFilter::new(pivot.table.events().to_vec(), accepted).unwrap_or_default()
}

fn and_step(
    pivot: &Pivot<'_>,
    accepted: &mut [bool],
    mask: &[bool],
    index: usize,
    description: String,
    output: Option<String>,
) -> CutflowStep {
    for (a, &m) in accepted.iter_mut().zip(mask) {
        *a = *a && m;
    }
    CutflowStep {
        index,
        description,
        output,
        passed_alone: mask.iter().filter(|&&m| m).count(),
        filter: filter_of(pivot, accepted.to_vec()),
    }
}

/// Applies time cuts to the ns hit table (columns `event`, `data_board_id` and the
/// cut variables, e.g. `time_of_arrival_ns`, `time_over_threshold_ns`), over all its events.
/// `source` labels errors as in [`apply_event_cuts`].
///
/// # Errors
///
/// As [`apply_event_cuts`]; also [`hep_core::Error::Parse`] for a `fit-dist` cut whose x values have no
/// spread (no line can be fitted).
pub fn apply_time_cuts(
    table: &RecordBatch,
    cuts: &[TimeCut],
    keep_nan: bool,
    source: Option<&Path>,
) -> Result<CutResult> {
    let pivot = Pivot::new(table, source)?;
    let n = pivot.table.n_events();
    let mut accepted = vec![true; n];
    let mut steps = Vec::with_capacity(cuts.len());
    for cut in cuts {
        let mask = time_cut_mask(&pivot, cut, keep_nan)?;
        let description = describe_time_cut(cut);
        steps.push(and_step(
            &pivot,
            &mut accepted,
            &mask,
            cut.index,
            description,
            cut.output.clone(),
        ));
    }
    Ok(CutResult {
        filter: filter_of(&pivot, accepted),
        steps,
    })
}

fn describe_time_cut(c: &TimeCut) -> String {
    let dir = match c.direction {
        CutDirection::Compare(op) => op.as_str().to_string(),
        CutDirection::Inside => "inside".into(),
        CutDirection::Outside => "outside".into(),
    };
    let y = match (&c.variable_2, c.board_2) {
        (Some(v), Some(b)) => format!(" vs {v}[{b}]"),
        _ => String::new(),
    };
    format!(
        "{} {}[{}]{y} {dir} ({}, {}, {})",
        c.cut_type.as_str(),
        c.variable_1,
        c.board_1,
        c.value_1,
        c.value_2,
        c.value_3
    )
}

/// The rounded-corner region of `cut_times_in_ns.py` (see `docs/etroc-analysis.md`) at (e1, e2)
/// with radius r; `sx`, `sy` = +1 for the "right"/"up" corner sides (ur: (+1, +1), ul: (−1, +1),
/// dr: (+1, −1), dl: (−1, −1)).
///
/// For `ur`: (x < e1 ∧ y ≤ e2−r) ∨ (x ≤ e1−r ∧ y < e2) ∨ ((x−(e1−r))² + (y−(e2−r))² < r²); the
/// others mirror x (`ul`: e1+r, x > …) and/or y (`dr`: e2+r, y > …).
#[allow(clippy::too_many_arguments)]
fn in_corner(x: f64, y: f64, e1: f64, e2: f64, r: f64, sx: f64, sy: f64) -> bool {
    // Mirror into the `ur` frame: u = sx·x, v = sy·y, corner at (sx·e1, sy·e2).
    let (u, v, c1, c2) = (sx * x, sy * y, sx * e1, sy * e2);
    (u < c1 && v <= c2 - r)
        || (u <= c1 - r && v < c2)
        || ((u - (c1 - r)).powi(2) + (v - (c2 - r)).powi(2) < r * r)
}

fn time_cut_mask(pivot: &Pivot<'_>, cut: &TimeCut, keep_nan: bool) -> Result<Vec<bool>> {
    let line = cut.line;
    if cut.cut_type == TimeCutType::Simple {
        let CutDirection::Compare(op) = cut.direction else {
            unreachable!("simple cuts are parsed with an operator")
        };
        let v = cut.value_1;
        return pivot.selector_mask(line, &cut.variable_1, cut.board_1, keep_nan, |x| {
            op.test(x, v)
        });
    }
    let BoardSelector::Board(b1) = cut.board_1 else {
        unreachable!("non-simple cuts are parsed with a numeric board_id_1")
    };
    let x = pivot.column(line, &cut.variable_1, b1)?;
    let y = match (&cut.variable_2, cut.board_2) {
        (Some(v), Some(b)) => pivot.column(line, v, b)?,
        _ => vec![0.0; x.len()],
    };
    let (v1, v2, v3) = (cut.value_1, cut.value_2, cut.value_3);
    let keep = |x: f64, y: f64, pass: bool| -> bool {
        if x.is_nan() || y.is_nan() {
            return keep_nan;
        }
        pass
    };
    let dir_region = |inside: bool| -> bool {
        match cut.direction {
            CutDirection::Inside => inside,
            CutDirection::Outside => !inside,
            CutDirection::Compare(_) => false,
        }
    };
    let cmp = |value: f64| -> bool {
        match cut.direction {
            CutDirection::Compare(op) => op.test(value, v1),
            _ => false,
        }
    };
    let mask: Vec<bool> = match cut.cut_type {
        TimeCutType::Simple => unreachable!("handled above"),
        TimeCutType::Diagonal => x
            .iter()
            .zip(&y)
            .map(|(&x, &y)| keep(x, y, cmp(x + y)))
            .collect(),
        TimeCutType::DiagDist => x
            .iter()
            .zip(&y)
            .map(|(&x, &y)| keep(x, y, cmp((x - y).abs() / std::f64::consts::SQRT_2)))
            .collect(),
        TimeCutType::FitDist => {
            let (a, b) = ols_line(&x, &y).ok_or_else(|| {
                Error::input(
                    pivot.path,
                    line,
                    "a fit-dist cut on variables with at least 2 events and a spread in x",
                    "no line can be fitted",
                )
            })?;
            let norm = (b * b + 1.0).sqrt();
            x.iter()
                .zip(&y)
                .map(|(&x, &y)| keep(x, y, cmp((b * x - y + a).abs() / norm)))
                .collect()
        }
        TimeCutType::Circle => x
            .iter()
            .zip(&y)
            .map(|(&x, &y)| {
                let d2 = (x - v1).powi(2) + (y - v2).powi(2);
                let r2 = v3 * v3;
                let pass = match cut.direction {
                    CutDirection::Inside => d2 < r2,
                    _ => d2 > r2,
                };
                keep(x, y, pass)
            })
            .collect(),
        TimeCutType::CornerUr
        | TimeCutType::CornerUl
        | TimeCutType::CornerDr
        | TimeCutType::CornerDl => {
            let (sx, sy) = match cut.cut_type {
                TimeCutType::CornerUr => (1.0, 1.0),
                TimeCutType::CornerUl => (-1.0, 1.0),
                TimeCutType::CornerDr => (1.0, -1.0),
                _ => (-1.0, -1.0),
            };
            x.iter()
                .zip(&y)
                .map(|(&x, &y)| keep(x, y, dir_region(in_corner(x, y, v1, v2, v3, sx, sy))))
                .collect()
        }
        TimeCutType::OneDDist => x
            .iter()
            .map(|&x| {
                let d = (x - v1).abs();
                let pass = match cut.direction {
                    CutDirection::Inside => d < v2,
                    _ => d > v2,
                };
                keep(x, 0.0, pass)
            })
            .collect(),
    };
    Ok(mask)
}

/// The OLS line `y = a + b x` (scipy's `linregress`, [`crate::odr::ols_line`]) through the points
/// where both are finite;
/// `None` with fewer than 2 such points or all x equal.
fn ols_line(x: &[f64], y: &[f64]) -> Option<(f64, f64)> {
    let (xs, ys): (Vec<f64>, Vec<f64>) = x
        .iter()
        .zip(y)
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .map(|(x, y)| (*x, *y))
        .unzip();
    crate::odr::ols_line(&xs, &ys)
        .ok()
        .map(|f| (f.intercept, f.slope))
}

// ---------------------------------------------------------------------------------------------
// Filter application (`utilities.py`)
// ---------------------------------------------------------------------------------------------

/// Per-hit filter flags (as the original's `utilities.py`): every hit carries its event's flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HitSelection {
    /// The event filter's flag of each hit's event (false if the event is not in the filter).
    pub event_filter: Vec<bool>,
    /// The time filter's flag, if a time filter was given.
    pub time_filter: Option<Vec<bool>>,
    /// `event_filter ∧ time_filter`: the hits that plots and statistics use.
    pub accepted: Vec<bool>,
}

/// Joins the filters onto hits by event number: `accepted = event_filter [∧ time_filter]`
/// (as `utilities.py` joins them on `event`). An event absent from a filter counts as rejected.
pub fn select_hits(
    hit_event: &[i64],
    event_filter: &EventFilter,
    time_filter: Option<&EventFilter>,
) -> HitSelection {
    let ev = event_filter.accepted_of(hit_event);
    let tf: Option<Vec<bool>> = time_filter.map(|t| t.accepted_of(hit_event));
    let accepted = match &tf {
        Some(t) => ev.iter().zip(t).map(|(&a, &b)| a && b).collect(),
        None => ev.clone(),
    };
    HitSelection {
        event_filter: ev,
        time_filter: tf,
        accepted,
    }
}

/// Reads the run-root filters: `<run>/event_filter.fd` and, if `with_time`, `<run>/time_filter.fd`.
///
/// # Errors
///
/// [`Error::MissingFile`] naming the cut task to run if a filter is missing; as
/// [`read_run_filter`] otherwise (a filter of another run or of older data is refused).
pub fn read_run_filters(
    run: &RunDir,
    with_time: bool,
) -> Result<(EventFilter, Option<EventFilter>)> {
    let ev = read_run_filter(run, &run.path().join(EVENT_FILTER_FILE))?;
    let tf = if with_time {
        Some(read_run_filter(run, &run.path().join(TIME_FILTER_FILE))?)
    } else {
        None
    };
    Ok((ev, tf))
}

/// One step of the resolution analysis defined by the time cuts (`analyse_time_resolution.py`): a
/// cutflow directory `apply_time_cuts/CutflowPlots/<index>-<name>/` with its cumulative
/// `time_filter.fd`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeCutStep {
    /// The row index (`step_order`).
    pub index: usize,
    /// The `output` name (`step_name`).
    pub name: String,
    /// The cumulative filter file of the step.
    pub filter_path: PathBuf,
}

/// Lists the time-cut steps of a run, sorted by index; the `Final` step (the run-root
/// `time_filter.fd`) is not included: its order is (largest index) + 1, or 0 without steps
/// (the original crashed then: `largest_idx` was None).
///
/// # Errors
///
/// [`Error::Core`] if the directory cannot be listed.
pub fn time_cut_steps(run: &RunDir) -> Result<Vec<TimeCutStep>> {
    let dir = run.task_dir(names::APPLY_TIME_CUTS).join(CUTFLOW_DIR);
    let mut steps = Vec::new();
    if !dir.is_dir() {
        return Ok(steps);
    }
    for entry in std::fs::read_dir(&dir).map_err(|e| hep_core::Error::io(&dir, e))? {
        let entry = entry.map_err(|e| hep_core::Error::io(&dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((idx, step)) = name.split_once('-') else {
            continue;
        };
        let Ok(index) = idx.parse::<usize>() else {
            continue;
        };
        let filter_path = entry.path().join(TIME_FILTER_FILE);
        if filter_path.is_file() {
            steps.push(TimeCutStep {
                index,
                name: step.to_string(),
                filter_path,
            });
        }
    }
    steps.sort_by(|a, b| a.index.cmp(&b.index).then(a.name.cmp(&b.name)));
    Ok(steps)
}

// ---------------------------------------------------------------------------------------------
// The cut tasks
// ---------------------------------------------------------------------------------------------

/// Options of the cut tasks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CutOptions {
    /// Keep events where a tested value is NaN (`-k/--keep-events`).
    pub keep_nan: bool,
    /// The cut file; `None` = `<run>/cuts.csv` (event cuts) or `<run>/time_cuts.csv` (time cuts).
    pub cut_file: Option<PathBuf>,
    /// Empty the task directory first.
    pub drop_old: bool,
    /// Draw the cutflow plots of every row with an `output` in these formats (dense plots are
    /// always PNG, see [`crate::plot_format`]); empty (default) = no plots.
    pub plots: Vec<crate::plot_format::PlotFormat>,
    /// Upper end of the TOA axis of the time plots (ns, `-a/--max_toa`); `None` = automatic.
    pub max_toa_ns: Option<f64>,
    /// Upper end of the TOT axis of the time plots (ns, `-t/--max_tot`); `None` = automatic.
    pub max_tot_ns: Option<f64>,
}

impl Default for CutOptions {
    fn default() -> Self {
        Self {
            keep_nan: false,
            cut_file: None,
            drop_old: true,
            plots: Vec::new(),
            max_toa_ns: None,
            max_tot_ns: None,
        }
    }
}

/// What a cut task did.
#[derive(Debug, Clone, PartialEq)]
pub struct CutReport {
    /// The cut result.
    pub result: CutResult,
    /// Events in the table.
    pub events: usize,
    /// Accepted events.
    pub accepted: usize,
    /// Files written.
    pub outputs: Vec<PathBuf>,
}

/// The header of `cutflow.csv` (the fields of [`CutflowRow`]).
pub(crate) const CUTFLOW_HEADER: &str =
    "index,cut,output,passed_alone,accepted_cumulative,events\n";

#[derive(Serialize)]
pub(crate) struct CutflowRow<'a> {
    pub(crate) index: usize,
    pub(crate) cut: &'a str,
    pub(crate) output: &'a str,
    pub(crate) passed_alone: usize,
    pub(crate) accepted_cumulative: usize,
    pub(crate) events: usize,
}

/// The [`store::FilterSource`] of a filter computed from the table file `source` of `run`.
///
/// # Errors
///
/// [`Error::Core`] if the file cannot be hashed.
pub fn filter_source(run: &RunDir, source: &Path) -> Result<store::FilterSource> {
    let relative = source.strip_prefix(run.path()).unwrap_or(source);
    let relative_path = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    Ok(store::FilterSource {
        relative_path,
        sha256: hep_core::io::sha256_file(source)?,
    })
}

/// Reads a filter of `run` and checks that the table it records as its source (a path inside
/// the run) still has the recorded SHA-256, so that a filter copied from another run, or left
/// from before the data were re-ingested, is refused instead of silently selecting the wrong
/// events. Filters written by the original scripts record no source and are read as they are.
///
/// # Errors
///
/// As [`store::read_filter`]; [`Error::InvalidArgument`] naming both files if the source is
/// missing or has changed.
pub fn read_run_filter(run: &RunDir, path: &Path) -> Result<EventFilter> {
    let (filter, source) = store::read_filter_with_source(path)?;
    if let Some(src) = source {
        let file = run.path().join(&src.relative_path);
        let now = if file.is_file() {
            Some(hep_core::io::sha256_file(&file)?)
        } else {
            None
        };
        if now.as_deref() != Some(src.sha256.as_str()) {
            return Err(Error::InvalidArgument(format!(
                "{}: this filter was computed from {} (sha256 {}), which {} in run {}: it \
                 belongs to another run or to older data; rerun the cut task",
                path.display(),
                src.relative_path,
                src.sha256,
                if now.is_some() {
                    "has changed"
                } else {
                    "does not exist"
                },
                run.path().display()
            )));
        }
    }
    Ok(filter)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header written for an empty cutflow is the one the rows would have.
    #[test]
    fn empty_cutflow_header_matches_the_rows() {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.serialize(CutflowRow {
            index: 0,
            cut: "c",
            output: "",
            passed_alone: 1,
            accepted_cumulative: 1,
            events: 1,
        })
        .unwrap();
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        assert_eq!(text.lines().next().unwrap(), CUTFLOW_HEADER.trim_end());
    }
}
