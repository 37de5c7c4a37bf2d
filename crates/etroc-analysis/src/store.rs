//! Storage of the task tables: Parquet (primary), SQLite (compatibility) and the Arrow IPC
//! (Feather v2) event and time filters.
//!
//! Conventions (those of the original scripts, which write with pandas `to_sql`):
//!
//! * A task writes each of its tables `T` as `<task dir>/T.parquet` (zstd, written atomically)
//!   and, unless SQLite output is switched off, all of them into one SQLite database
//!   `<task dir>/<database>` with the original file, table and column names, so notebooks written
//!   for the original scripts keep working. [`write_tables`] does both; [`read_table`] reads a
//!   table back from its Parquet file as one record batch.
//! * Column types are mapped the way pandas' `to_sql` maps them: integers and booleans to
//!   `INTEGER` (booleans as 0/1), floats to `REAL` (NaN becomes `NULL`), strings to `TEXT`,
//!   `Timestamp(Millisecond)` to `TIMESTAMP` holding the text `YYYY-MM-DD HH:MM:SS`. Indexes are named
//!   `ix_<table>_<column>` as pandas names them.
//! * Event and time filters are Arrow IPC files (magic `ARROW1`, the Feather v2 format) with the
//!   schema `event: int64, accepted: bool` and pandas metadata (a range index), readable with
//!   `pandas.read_feather`. Their buffers are compressed with LZ4 frames, as `to_feather`
//!   writes them by default (`arrow-ipc` is built with its `lz4` feature); uncompressed files are
//!   read as well.
//!
//! Every writer here is atomic: the content goes to a temporary file in the target directory
//! that is renamed onto the target only when complete.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, TimestampMillisecondType,
    UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, BooleanArray, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};

use rayon::prelude::*;

use crate::error::{Error, Result};

/// Directory of the ingested data inside a run, `<run>/data`.
pub const DATA_DIR: &str = "data";
/// File name of the per-task SQLite database of the ingest and most tasks (`data.sqlite`).
pub const DATA_SQLITE: &str = "data.sqlite";
/// Table of the hits in every `data.sqlite` of the chain (`etroc1_data`).
pub const HITS_TABLE: &str = "etroc1_data";
/// File name of an event filter (`event_filter.fd`).
pub const EVENT_FILTER_FILE: &str = "event_filter.fd";
/// File name of a time filter (`time_filter.fd`).
pub const TIME_FILTER_FILE: &str = "time_filter.fd";

/// The Parquet file of table `table` in the task directory `dir`: `<dir>/<table>.parquet`.
pub fn parquet_path(dir: &Path, table: &str) -> PathBuf {
    dir.join(format!("{table}.parquet"))
}

// ---------------------------------------------------------------------------------------------
// Task tables: Parquet + SQLite
// ---------------------------------------------------------------------------------------------

/// One table of a task's output.
#[derive(Debug, Clone, Copy)]
pub struct TableOutput<'a> {
    /// Table name: the SQLite table and the Parquet file stem (e.g. `etroc1_data`).
    pub table: &'a str,
    /// The rows. Column names and types become the SQLite columns (see the module docs).
    pub batch: &'a RecordBatch,
    /// Columns that get a SQLite index `ix_<table>_<column>` (e.g. `&["data_board_id"]`).
    pub indexes: &'a [&'a str],
}

/// Writes the tables of one task: `<dir>/<table>.parquet` for each, and, if `sqlite` is
/// `Some(file)`, all of them into the SQLite database `<dir>/<file>` (replacing the file).
///
/// Returns the paths written, in order (Parquet files first, then the database), for the
/// task's provenance manifest. `dir` is created if missing.
///
/// # Errors
///
/// [`Error::Core`] for Parquet or I/O errors, [`Error::Sqlite`] for database errors,
/// [`Error::InvalidArgument`] for a column type SQLite cannot hold. Nothing is left half-written.
pub fn write_tables(
    dir: &Path,
    sqlite: Option<&str>,
    tables: &[TableOutput<'_>],
) -> Result<Vec<PathBuf>> {
    write_tables_cached(dir, sqlite, tables, None)
}

/// [`write_tables`] that also keeps the written batches in `cache` (if given), so that
/// [`read_table_cached`] with the same cache returns them without decoding the files.
///
/// # Errors
///
/// As [`write_tables`].
pub fn write_tables_cached(
    dir: &Path,
    sqlite: Option<&str>,
    tables: &[TableOutput<'_>],
    cache: Option<&TableCache>,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| hep_core::Error::io(dir, e))?;
    // The Parquet files and the SQLite database are independent: write them concurrently.
    let parquet = || -> Result<Vec<PathBuf>> {
        tables
            .par_iter()
            .map(|t| {
                let path = parquet_path(dir, t.table);
                let stamp = hep_core::io::write_parquet_stamped(
                    &path,
                    t.batch.schema(),
                    std::slice::from_ref(t.batch),
                    &schema_metadata_pairs(t.batch),
                )?;
                if let (Some(stamp), Some(cache)) = (stamp, cache) {
                    cache.remember(stamp, t.batch);
                }
                Ok(path)
            })
            .collect()
    };
    let database = || -> Result<Option<PathBuf>> {
        let Some(file) = sqlite else {
            return Ok(None);
        };
        let path = dir.join(file);
        let sql: Vec<SqliteTable<'_>> = tables
            .iter()
            .map(|t| SqliteTable {
                name: t.table,
                batches: std::slice::from_ref(t.batch),
                indexes: t.indexes,
            })
            .collect();
        write_sqlite(&path, &sql, SqliteMode::Replace)?;
        Ok(Some(path))
    };
    let (written, db) = rayon::join(parquet, database);
    let mut written = written?;
    written.extend(db?);
    Ok(written)
}

/// How many written tables a [`TableCache`] keeps decoded in memory.
const REMEMBERED_TABLES: usize = 4;

/// The tables last written through it ([`write_tables_cached`]), at most four, with the stamp of
/// their Parquet file (taken from the written handle): the next task of a chain (`run-beam`)
/// reads the table the previous one wrote ([`read_table_cached`]) without decoding it again.
///
/// Validity: an entry is used only while the file at its path is still that file (same size,
/// file times and inode; see [`hep_core::io::FileStamp`] for the limit), so a file rewritten by
/// anyone else is decoded again. The caller owns the cache: a [`crate::rundir::RunDir`] holds
/// one, shared by its clones and the tasks run through it; nothing is kept between run
/// directories or beyond their lifetime.
#[derive(Debug, Clone, Default)]
pub struct TableCache {
    tables: std::sync::Arc<
        std::sync::Mutex<std::collections::VecDeque<(hep_core::io::FileStamp, RecordBatch)>>,
    >,
}

impl TableCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    fn remember(&self, stamp: hep_core::io::FileStamp, batch: &RecordBatch) {
        if let Ok(mut tables) = self.tables.lock() {
            tables.retain(|(s, _)| s.path() != stamp.path());
            tables.push_back((stamp, batch.clone()));
            while tables.len() > REMEMBERED_TABLES {
                tables.pop_front();
            }
        }
    }

    fn lookup(&self, path: &Path) -> Option<RecordBatch> {
        let stamp = hep_core::io::FileStamp::of(path)?;
        let tables = self.tables.lock().ok()?;
        tables
            .iter()
            .rev()
            .find(|(s, _)| s == &stamp)
            .map(|(_, b)| b.clone())
    }

    /// Forgets every table, releasing their memory.
    pub fn clear(&self) {
        if let Ok(mut tables) = self.tables.lock() {
            tables.clear();
        }
    }
}

/// Reads table `table` of the task directory `dir` (the file `<dir>/<table>.parquet` written by
/// [`write_tables`]) as one record batch. Without the Parquet file, a `*.sqlite` database of
/// `dir` holding the table is read instead ([`read_sqlite_table`]), so run directories written
/// by the original scripts can be continued.
///
/// # Errors
///
/// [`Error::MissingFile`] if neither exists (the task that writes it has not run);
/// [`Error::Core`] or [`Error::Sqlite`] if it cannot be read.
pub fn read_table(dir: &Path, table: &str) -> Result<RecordBatch> {
    read_table_cached(dir, table, None)
}

/// [`read_table`] that first looks in `cache` (if given) for the batch [`write_tables_cached`]
/// wrote to the same, unchanged file.
///
/// # Errors
///
/// As [`read_table`].
pub fn read_table_cached(
    dir: &Path,
    table: &str,
    cache: Option<&TableCache>,
) -> Result<RecordBatch> {
    let path = parquet_path(dir, table);
    if path.is_file() {
        if let Some(batch) = cache.and_then(|c| c.lookup(&path)) {
            return Ok(batch);
        }
        return read_parquet_single(&path);
    }
    // A run directory written by the original scripts has only the SQLite databases.
    if let Some(db) = legacy_database(dir, table) {
        return read_sqlite_table(&db, table);
    }
    Err(Error::MissingFile {
        path,
        what: format!("table '{table}' (Parquet); run the task that writes it first"),
    })
}

/// The file [`read_table`] reads for table `table` of `dir`: `<dir>/<table>.parquet`, or a
/// legacy SQLite database holding the table; `None` if neither exists. Use it to record the
/// input in a task's manifest.
pub fn table_source(dir: &Path, table: &str) -> Option<PathBuf> {
    let path = parquet_path(dir, table);
    if path.is_file() {
        Some(path)
    } else {
        legacy_database(dir, table)
    }
}

/// The first `*.sqlite` file of `dir` (by name) that holds table `table`.
fn legacy_database(dir: &Path, table: &str) -> Option<PathBuf> {
    let mut dbs: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "sqlite"))
        .collect();
    dbs.sort();
    dbs.into_iter().find(|db| {
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .and_then(|c| {
                c.query_row(
                    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                    [table],
                    |r| r.get::<_, i64>(0),
                )
            })
            .is_ok_and(|n| n > 0)
    })
}

/// Reads table `table` of the SQLite database `path` (e.g. one written by the original scripts)
/// as a record batch. Declared types map back as [`write_sqlite`] maps them: `INTEGER` to int64,
/// `REAL`/`FLOAT` to float64 (NULL to NaN), `TIMESTAMP` (text `YYYY-MM-DD HH:MM:SS[.ffffff]`) to
/// a timestamp in ms, anything else to utf8.
///
/// # Errors
///
/// [`Error::Sqlite`] if the database or table cannot be read; [`Error::InvalidArgument`] for a
/// value that does not fit its column's declared type.
pub fn read_sqlite_table(path: &Path, table: &str) -> Result<RecordBatch> {
    use arrow_array::builder::{
        Float64Builder, Int64Builder, StringBuilder, TimestampMillisecondBuilder,
    };
    use rusqlite::types::ValueRef;
    let sql = |source| Error::Sqlite {
        path: path.to_path_buf(),
        error: source,
    };
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(sql)?;
    let mut stmt = conn
        .prepare(&format!("SELECT * FROM {}", quote(table)))
        .map_err(sql)?;
    enum Col {
        I(Int64Builder),
        F(Float64Builder),
        T(TimestampMillisecondBuilder),
        S(StringBuilder),
    }
    let mut fields = Vec::new();
    let mut cols = Vec::new();
    let declared: Vec<(String, String)> = conn
        .prepare(&format!("PRAGMA table_info({})", quote(table)))
        .and_then(|mut p| {
            p.query_map([], |r| Ok((r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?
                .collect()
        })
        .map_err(sql)?;
    for (cname, ty) in &declared {
        let ty = ty.to_ascii_uppercase();
        let (dt, col) = if ty.contains("INT") {
            (DataType::Int64, Col::I(Int64Builder::new()))
        } else if ty.contains("REAL") || ty.contains("FLOA") || ty.contains("DOUB") {
            (DataType::Float64, Col::F(Float64Builder::new()))
        } else if ty.contains("TIMESTAMP") || ty.contains("DATETIME") {
            (
                DataType::Timestamp(TimeUnit::Millisecond, None),
                Col::T(TimestampMillisecondBuilder::new()),
            )
        } else {
            (DataType::Utf8, Col::S(StringBuilder::new()))
        };
        fields.push(Field::new(cname, dt, true));
        cols.push(col);
    }
    let bad = |col: &str, v: String| {
        Error::InvalidArgument(format!(
            "{}: table '{table}' column '{col}': unexpected value {v}",
            path.display()
        ))
    };
    let mut rows = stmt.raw_query();
    while let Some(row) = rows.next().map_err(sql)? {
        for (i, col) in cols.iter_mut().enumerate() {
            let v = row.get_ref(i).map_err(sql)?;
            let name = fields[i].name().as_str();
            match (col, v) {
                (Col::I(b), ValueRef::Null) => b.append_null(),
                (Col::I(b), ValueRef::Integer(x)) => b.append_value(x),
                (Col::I(b), ValueRef::Real(x)) if x.fract() == 0.0 => b.append_value(x as i64),
                (Col::F(b), ValueRef::Null) => b.append_value(f64::NAN),
                (Col::F(b), ValueRef::Integer(x)) => b.append_value(x as f64),
                (Col::F(b), ValueRef::Real(x)) => b.append_value(x),
                (Col::T(b), ValueRef::Null) => b.append_null(),
                (Col::T(b), ValueRef::Text(t)) => {
                    let secs = (t.len() >= 19)
                        .then(|| crate::datetime::parse_datetime(&t[..10], &t[11..19]))
                        .flatten()
                        .ok_or_else(|| bad(name, String::from_utf8_lossy(t).into_owned()))?;
                    b.append_value(secs * 1000);
                }
                (Col::S(b), ValueRef::Null) => b.append_null(),
                (Col::S(b), ValueRef::Text(t)) => b.append_value(String::from_utf8_lossy(t)),
                (Col::S(b), ValueRef::Integer(x)) => b.append_value(x.to_string()),
                (Col::S(b), ValueRef::Real(x)) => b.append_value(x.to_string()),
                (_, other) => return Err(bad(name, format!("{other:?}"))),
            }
        }
    }
    let arrays: Vec<ArrayRef> = cols
        .into_iter()
        .map(|c| -> ArrayRef {
            match c {
                Col::I(mut b) => Arc::new(b.finish()),
                Col::F(mut b) => Arc::new(b.finish()),
                Col::T(mut b) => Arc::new(b.finish()),
                Col::S(mut b) => Arc::new(b.finish()),
            }
        })
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .map_err(|e| Error::Core(hep_core::Error::Arrow(e)))
}

/// Reads the whole Parquet file `path` as a single record batch.
///
/// # Errors
///
/// [`Error::Core`] if the file cannot be read or decoded.
pub fn read_parquet_single(path: &Path) -> Result<RecordBatch> {
    Ok(hep_core::io::read_parquet_table(path)?)
}

/// The schema-level metadata of `batch` as sorted key-value pairs (for the Parquet footer).
fn schema_metadata_pairs(batch: &RecordBatch) -> Vec<(String, String)> {
    let mut kv: Vec<(String, String)> = batch
        .schema_ref()
        .metadata()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    kv.sort();
    kv
}

/// Column `name` of `batch` converted to `f64`, whatever its numeric type (integers, floats,
/// booleans as 0/1); nulls become NaN.
///
/// # Errors
///
/// [`Error::InvalidArgument`] if the column is missing or not numeric.
pub fn column_to_f64(batch: &RecordBatch, name: &str) -> Result<Vec<f64>> {
    let col = named_column(batch, name)?;
    macro_rules! conv {
        ($t:ty) => {
            col.as_primitive::<$t>()
                .iter()
                .map(|v| v.map_or(f64::NAN, |x| x as f64))
                .collect()
        };
    }
    Ok(match col.data_type() {
        DataType::Int8 => conv!(Int8Type),
        DataType::Int16 => conv!(Int16Type),
        DataType::Int32 => conv!(Int32Type),
        DataType::Int64 => conv!(Int64Type),
        DataType::UInt8 => conv!(UInt8Type),
        DataType::UInt16 => conv!(UInt16Type),
        DataType::UInt32 => conv!(UInt32Type),
        DataType::UInt64 => conv!(UInt64Type),
        DataType::Float32 => conv!(Float32Type),
        DataType::Float64 => conv!(Float64Type),
        DataType::Boolean => col
            .as_boolean()
            .iter()
            .map(|v| v.map_or(f64::NAN, |b| f64::from(u8::from(b))))
            .collect(),
        other => {
            return Err(Error::InvalidArgument(format!(
                "column '{name}' is {other}, not a numeric column"
            )));
        }
    })
}

/// Column `name` of `batch` converted to `i64` (any integer type).
///
/// # Errors
///
/// [`Error::InvalidArgument`] if the column is missing, not an integer column, holds a null, or
/// a `UInt64` value does not fit.
pub fn column_to_i64(batch: &RecordBatch, name: &str) -> Result<Vec<i64>> {
    let col = named_column(batch, name)?;
    if col.null_count() > 0 {
        return Err(Error::InvalidArgument(format!(
            "column '{name}' has {} null values; expected integers",
            col.null_count()
        )));
    }
    macro_rules! conv {
        ($t:ty) => {
            col.as_primitive::<$t>()
                .values()
                .iter()
                .map(|&x| i64::from(x))
                .collect()
        };
    }
    Ok(match col.data_type() {
        DataType::Int8 => conv!(Int8Type),
        DataType::Int16 => conv!(Int16Type),
        DataType::Int32 => conv!(Int32Type),
        DataType::Int64 => col.as_primitive::<Int64Type>().values().to_vec(),
        DataType::UInt8 => conv!(UInt8Type),
        DataType::UInt16 => conv!(UInt16Type),
        DataType::UInt32 => conv!(UInt32Type),
        DataType::UInt64 => col
            .as_primitive::<UInt64Type>()
            .values()
            .iter()
            .map(|&x| {
                i64::try_from(x).map_err(|_| {
                    Error::InvalidArgument(format!("column '{name}': value {x} exceeds i64"))
                })
            })
            .collect::<Result<_>>()?,
        other => {
            return Err(Error::InvalidArgument(format!(
                "column '{name}' is {other}, not an integer column"
            )));
        }
    })
}

fn named_column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef> {
    batch.column_by_name(name).ok_or_else(|| {
        let names: Vec<&str> = batch
            .schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        Error::InvalidArgument(format!(
            "no column '{name}' in the table (columns: {})",
            names.join(", ")
        ))
    })
}

// ---------------------------------------------------------------------------------------------
// SQLite
// ---------------------------------------------------------------------------------------------

/// One table to write into a SQLite database.
#[derive(Debug, Clone, Copy)]
pub struct SqliteTable<'a> {
    /// Table name (quoted in SQL, so any name works).
    pub name: &'a str,
    /// The rows, in order; all batches share one schema. An empty slice is an error.
    pub batches: &'a [RecordBatch],
    /// Columns that get an index named `ix_<table>_<column>`.
    pub indexes: &'a [&'a str],
}

/// What [`write_sqlite`] does with an existing database file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqliteMode {
    /// Write a new database that replaces the file (the only tables are the given ones).
    Replace,
    /// Keep the tables of an existing database and replace only the given tables (pandas'
    /// `if_exists="replace"` per table). A missing file is created.
    Update,
}

/// Writes `tables` into the SQLite database `path`, atomically (a temporary database in the
/// same directory renamed onto `path`).
///
/// Column types follow pandas' `to_sql` (module docs). Rows are inserted in one transaction with
/// a prepared statement (journal and sync off on the temporary file), about a million rows per
/// second.
///
/// # Errors
///
/// [`Error::Sqlite`] for database errors; [`Error::InvalidArgument`] for an empty batch list or
/// an unsupported column type; [`Error::Core`] for I/O errors.
pub fn write_sqlite(path: &Path, tables: &[SqliteTable<'_>], mode: SqliteMode) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| Error::InvalidArgument(format!("{}: no file name", path.display())))?
        .to_string_lossy()
        .into_owned();
    hep_core::io::remove_stale_temporaries(&dir);
    let temp = TempFile(dir.join(format!("{}sqlite.tmp", hep_core::io::temp_prefix(&name))));
    let _ = std::fs::remove_file(&temp.0);
    if mode == SqliteMode::Update && path.is_file() {
        std::fs::copy(path, &temp.0).map_err(|e| hep_core::Error::io(path, e))?;
    }
    let sqlite_err = |source| Error::Sqlite {
        path: path.to_path_buf(),
        error: source,
    };
    {
        let mut conn = rusqlite::Connection::open(&temp.0).map_err(sqlite_err)?;
        conn.execute_batch("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;")
            .map_err(sqlite_err)?;
        let tx = conn.transaction().map_err(sqlite_err)?;
        for t in tables {
            write_one_table(&tx, t).map_err(|e| match e {
                TableError::Sql(source) => sqlite_err(source),
                TableError::Other(e) => e,
            })?;
        }
        tx.commit().map_err(sqlite_err)?;
        conn.close().map_err(|(_, e)| sqlite_err(e))?;
    }
    std::fs::rename(&temp.0, path).map_err(|e| hep_core::Error::io(path, e))?;
    std::mem::forget(temp);
    Ok(())
}

/// Removes the file on drop (the temporary database of a failed write).
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

enum TableError {
    Sql(rusqlite::Error),
    Other(Error),
}

impl From<rusqlite::Error> for TableError {
    fn from(e: rusqlite::Error) -> Self {
        TableError::Sql(e)
    }
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The SQL type pandas' `to_sql` declares for an Arrow type.
fn sql_type(dt: &DataType) -> Option<&'static str> {
    Some(match dt {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Boolean => "INTEGER",
        DataType::Float32 | DataType::Float64 => "REAL",
        DataType::Utf8 | DataType::LargeUtf8 => "TEXT",
        DataType::Timestamp(TimeUnit::Millisecond, _) => "TIMESTAMP",
        _ => return None,
    })
}

fn write_one_table(
    tx: &rusqlite::Transaction<'_>,
    t: &SqliteTable<'_>,
) -> std::result::Result<(), TableError> {
    let first = t.batches.first().ok_or_else(|| {
        TableError::Other(Error::InvalidArgument(format!(
            "table '{}': no record batches to write",
            t.name
        )))
    })?;
    let schema = first.schema();
    let mut cols = Vec::with_capacity(schema.fields().len());
    for f in schema.fields() {
        let ty = sql_type(f.data_type()).ok_or_else(|| {
            TableError::Other(Error::InvalidArgument(format!(
                "table '{}': column '{}' has type {}, which has no SQLite mapping",
                t.name,
                f.name(),
                f.data_type()
            )))
        })?;
        cols.push(format!("{} {ty}", quote(f.name())));
    }
    let table = quote(t.name);
    tx.execute_batch(&format!(
        "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} ({});",
        cols.join(", ")
    ))?;
    let placeholders = vec!["?"; cols.len()].join(", ");
    let mut stmt = tx.prepare(&format!("INSERT INTO {table} VALUES ({placeholders})"))?;
    let mut last_ts: (i64, String) = (i64::MIN, String::new());
    for batch in t.batches {
        if batch.schema().fields() != schema.fields() {
            return Err(TableError::Other(Error::InvalidArgument(format!(
                "table '{}': record batches with different schemas",
                t.name
            ))));
        }
        let columns = batch.columns();
        for row in 0..batch.num_rows() {
            for (i, col) in columns.iter().enumerate() {
                bind_cell(&mut stmt, i + 1, col.as_ref(), row, &mut last_ts)?;
            }
            stmt.raw_execute()?;
        }
    }
    drop(stmt);
    for c in t.indexes {
        if schema.index_of(c).is_err() {
            return Err(TableError::Other(Error::InvalidArgument(format!(
                "table '{}': no column '{c}' to index",
                t.name
            ))));
        }
        tx.execute_batch(&format!(
            "CREATE INDEX {} ON {table} ({});",
            quote(&format!("ix_{}_{c}", t.name)),
            quote(c)
        ))?;
    }
    Ok(())
}

fn bind_cell(
    stmt: &mut rusqlite::Statement<'_>,
    idx: usize,
    col: &dyn Array,
    row: usize,
    last_ts: &mut (i64, String),
) -> rusqlite::Result<()> {
    if col.is_null(row) {
        return stmt.raw_bind_parameter(idx, rusqlite::types::Null);
    }
    macro_rules! int {
        ($t:ty) => {
            stmt.raw_bind_parameter(idx, i64::from(col.as_primitive::<$t>().value(row)))
        };
    }
    match col.data_type() {
        DataType::Int8 => int!(Int8Type),
        DataType::Int16 => int!(Int16Type),
        DataType::Int32 => int!(Int32Type),
        DataType::Int64 => stmt.raw_bind_parameter(idx, col.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => int!(UInt8Type),
        DataType::UInt16 => int!(UInt16Type),
        DataType::UInt32 => int!(UInt32Type),
        DataType::UInt64 => {
            let v = col.as_primitive::<UInt64Type>().value(row);
            match i64::try_from(v) {
                Ok(v) => stmt.raw_bind_parameter(idx, v),
                // SQLite integers are 64-bit signed; larger values go in as REAL, as pandas does.
                Err(_) => stmt.raw_bind_parameter(idx, v as f64),
            }
        }
        DataType::Boolean => stmt.raw_bind_parameter(idx, i64::from(col.as_boolean().value(row))),
        DataType::Float32 | DataType::Float64 => {
            let v = if let DataType::Float32 = col.data_type() {
                f64::from(col.as_primitive::<Float32Type>().value(row))
            } else {
                col.as_primitive::<Float64Type>().value(row)
            };
            if v.is_nan() {
                stmt.raw_bind_parameter(idx, rusqlite::types::Null)
            } else {
                stmt.raw_bind_parameter(idx, v)
            }
        }
        DataType::Utf8 => stmt.raw_bind_parameter(idx, col.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => stmt.raw_bind_parameter(idx, col.as_string::<i64>().value(row)),
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            // The text form has whole seconds, as the original's pandas datetimes.
            let s = col
                .as_primitive::<TimestampMillisecondType>()
                .value(row)
                .div_euclid(1000);
            if s != last_ts.0 {
                *last_ts = (s, crate::datetime::format_datetime(s));
            }
            stmt.raw_bind_parameter(idx, last_ts.1.as_str())
        }
        // `write_one_table` checked every column type with `sql_type`.
        _ => stmt.raw_bind_parameter(idx, rusqlite::types::Null),
    }
}

// ---------------------------------------------------------------------------------------------
// Event and time filters (Arrow IPC / Feather v2)
// ---------------------------------------------------------------------------------------------

/// An event or time filter: for each event number, whether the event is accepted.
///
/// Events are kept sorted ascending and unique, so [`EventFilter::get`] is a binary search.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventFilter {
    event: Vec<i64>,
    accepted: Vec<bool>,
}

impl EventFilter {
    /// Builds a filter from parallel `event` and `accepted` columns (any order; sorted here).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if the lengths differ or an event number repeats.
    pub fn new(event: Vec<i64>, accepted: Vec<bool>) -> Result<Self> {
        if event.len() != accepted.len() {
            return Err(Error::InvalidArgument(format!(
                "filter with {} events but {} accepted flags",
                event.len(),
                accepted.len()
            )));
        }
        let (event, accepted) = if event.windows(2).all(|w| w[0] < w[1]) {
            (event, accepted)
        } else {
            let mut pairs: Vec<(i64, bool)> = event.into_iter().zip(accepted).collect();
            pairs.sort_unstable_by_key(|p| p.0);
            if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
                return Err(Error::InvalidArgument(format!(
                    "filter lists event {} twice",
                    w[0].0
                )));
            }
            pairs.into_iter().unzip()
        };
        Ok(Self { event, accepted })
    }

    /// The event numbers, ascending.
    pub fn events(&self) -> &[i64] {
        &self.event
    }

    /// The accepted flags, parallel to [`EventFilter::events`].
    pub fn accepted(&self) -> &[bool] {
        &self.accepted
    }

    /// Number of events in the filter.
    pub fn len(&self) -> usize {
        self.event.len()
    }

    /// True if the filter lists no event.
    pub fn is_empty(&self) -> bool {
        self.event.is_empty()
    }

    /// Number of accepted events.
    pub fn n_accepted(&self) -> usize {
        self.accepted.iter().filter(|&&a| a).count()
    }

    /// The flag of `event`, or `None` if the filter does not list it.
    pub fn get(&self, event: i64) -> Option<bool> {
        self.event
            .binary_search(&event)
            .ok()
            .map(|i| self.accepted[i])
    }

    /// The flags of many events at once: `accepted_of(events)[i] = get(events[i]) == Some(true)`
    /// (an event the filter does not list is rejected). Sorted `events` (hits or pivots in event
    /// order, the usual case) are matched by one merge walk instead of a binary search each.
    pub fn accepted_of(&self, events: &[i64]) -> Vec<bool> {
        let table = &self.event;
        let mut j = 0usize;
        let mut previous = i64::MIN;
        events
            .iter()
            .map(|&e| {
                if e < previous {
                    j = 0; // not sorted: search from the start
                }
                previous = e;
                // A few linear steps (dense, sorted queries), then a binary search.
                let mut steps = 0;
                while j < table.len() && table[j] < e && steps < 8 {
                    j += 1;
                    steps += 1;
                }
                if j < table.len() && table[j] < e {
                    j += table[j..].partition_point(|&x| x < e);
                }
                j < table.len() && table[j] == e && self.accepted[j]
            })
            .collect()
    }

    /// The event-wise AND of two filters; an event missing from `other` is rejected.
    pub fn and(&self, other: &EventFilter) -> EventFilter {
        let accepted = self
            .accepted
            .iter()
            .zip(other.accepted_of(&self.event))
            .map(|(&a, b)| a && b)
            .collect();
        EventFilter {
            event: self.event.clone(),
            accepted,
        }
    }

    /// The filter as a record batch `event: int64, accepted: bool` (non-nullable).
    pub fn to_record_batch(&self) -> RecordBatch {
        let schema = Arc::new(filter_schema(self.event.len()));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(self.event.clone())),
            Arc::new(BooleanArray::from(self.accepted.clone())),
        ];
        // The schema and columns agree by construction.
        RecordBatch::try_new(schema, columns).expect("filter batch matches its schema")
    }
}

/// The filter schema with pandas metadata describing a `RangeIndex` of `rows` rows, so that
/// `pandas.read_feather` gives the same frame as the original's `to_feather`.
fn filter_schema(rows: usize) -> Schema {
    let pandas = serde_json::json!({
        "index_columns": [{"kind": "range", "name": null, "start": 0, "stop": rows, "step": 1}],
        "column_indexes": [{"name": null, "field_name": null, "pandas_type": "unicode",
                            "numpy_type": "object", "metadata": {"encoding": "UTF-8"}}],
        "columns": [
            {"name": "event", "field_name": "event", "pandas_type": "int64",
             "numpy_type": "int64", "metadata": null},
            {"name": "accepted", "field_name": "accepted", "pandas_type": "bool",
             "numpy_type": "bool", "metadata": null}
        ],
        "creator": {"library": "etroc-analysis", "version": env!("CARGO_PKG_VERSION")},
        "pandas_version": "1.5.3"
    });
    Schema::new(vec![
        Field::new("event", DataType::Int64, false),
        Field::new("accepted", DataType::Boolean, false),
    ])
    .with_metadata(std::collections::HashMap::from([(
        "pandas".to_string(),
        pandas.to_string(),
    )]))
}

/// Schema-metadata key of a filter: the file (relative to the run directory) whose table the
/// filter was computed from.
pub const FILTER_SOURCE_KEY: &str = "hep_rs.derived_from";
/// Schema-metadata key of a filter: the SHA-256 of that file when the filter was computed.
pub const FILTER_SOURCE_SHA256_KEY: &str = "hep_rs.derived_from_sha256";

/// The table a filter was derived from: its path relative to the run directory and its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterSource {
    /// Path relative to the run directory, `/`-separated (e.g. `data/etroc1_data.parquet`).
    pub relative_path: String,
    /// SHA-256 of the file when the filter was computed.
    pub sha256: String,
}

/// Writes `filter` to `path` as an Arrow IPC file (Feather v2) with LZ4-frame compressed
/// buffers, as `pandas.DataFrame.to_feather` writes it, atomically.
///
/// # Errors
///
/// [`Error::Ipc`] if encoding fails; [`Error::Core`] for I/O errors.
pub fn write_filter(path: &Path, filter: &EventFilter) -> Result<()> {
    write_filter_from(path, filter, None)
}

/// [`write_filter`] recording the table the filter was derived from in the schema metadata
/// ([`FILTER_SOURCE_KEY`], [`FILTER_SOURCE_SHA256_KEY`]), so that a reader can refuse a filter
/// of another run or of an older version of the data ([`read_filter_with_source`]).
///
/// # Errors
///
/// As [`write_filter`].
pub fn write_filter_from(
    path: &Path,
    filter: &EventFilter,
    source: Option<&FilterSource>,
) -> Result<()> {
    let mut batch = filter.to_record_batch();
    if let Some(src) = source {
        let mut meta = batch.schema().metadata().clone();
        meta.insert(FILTER_SOURCE_KEY.to_string(), src.relative_path.clone());
        meta.insert(FILTER_SOURCE_SHA256_KEY.to_string(), src.sha256.clone());
        let schema = Arc::new(batch.schema().as_ref().clone().with_metadata(meta));
        batch = batch
            .with_schema(schema)
            .map_err(|e| Error::InvalidArgument(format!("filter schema: {e}")))?;
    }
    let ipc_err = |source| Error::Ipc {
        path: path.to_path_buf(),
        error: source,
    };
    let options = arrow_ipc::writer::IpcWriteOptions::default()
        .try_with_compression(Some(arrow_ipc::CompressionType::LZ4_FRAME))
        .map_err(ipc_err)?;
    let mut buf = Vec::new();
    {
        let mut w = arrow_ipc::writer::FileWriter::try_new_with_options(
            &mut buf,
            batch.schema_ref(),
            options,
        )
        .map_err(ipc_err)?;
        w.write(&batch).map_err(ipc_err)?;
        w.finish().map_err(ipc_err)?;
    }
    hep_core::io::atomic_write_bytes(path, &buf)?;
    Ok(())
}

/// Reads an event or time filter written by [`write_filter`] or by the original scripts
/// (columns `event` of any integer type and `accepted` bool; other columns are ignored).
///
/// # Errors
///
/// [`Error::MissingFile`] if `path` does not exist; [`Error::Ipc`] if it is not a readable Arrow
/// IPC file (including LZ4-compressed files, see the module docs); [`Error::InvalidArgument`] if
/// a column is missing, has the wrong type or holds nulls, or an event repeats.
pub fn read_filter(path: &Path) -> Result<EventFilter> {
    read_filter_with_source(path).map(|(f, _)| f)
}

/// [`read_filter`], with the table it was derived from if the filter records one (filters of
/// the original scripts do not).
///
/// # Errors
///
/// As [`read_filter`].
pub fn read_filter_with_source(path: &Path) -> Result<(EventFilter, Option<FilterSource>)> {
    if !path.is_file() {
        return Err(Error::MissingFile {
            path: path.to_path_buf(),
            what: "filter (Arrow IPC file with event:int64, accepted:bool); run the cut task first"
                .into(),
        });
    }
    let ipc_err = |source| Error::Ipc {
        path: path.to_path_buf(),
        error: source,
    };
    let file = std::fs::File::open(path).map_err(|e| hep_core::Error::io(path, e))?;
    let reader = arrow_ipc::reader::FileReader::try_new(std::io::BufReader::new(file), None)
        .map_err(ipc_err)?;
    let meta = reader.schema().metadata().clone();
    let source = match (
        meta.get(FILTER_SOURCE_KEY),
        meta.get(FILTER_SOURCE_SHA256_KEY),
    ) {
        (Some(p), Some(h)) => Some(FilterSource {
            relative_path: p.clone(),
            sha256: h.clone(),
        }),
        _ => None,
    };
    let mut event = Vec::new();
    let mut accepted = Vec::new();
    for batch in reader {
        let batch = batch.map_err(ipc_err)?;
        let bad = |m: String| Error::InvalidArgument(format!("{}: {m}", path.display()));
        event.extend(column_to_i64(&batch, "event").map_err(|e| bad(e.to_string()))?);
        let acc = batch
            .column_by_name("accepted")
            .ok_or_else(|| bad("no column 'accepted'".into()))?;
        let acc = acc.as_boolean_opt().ok_or_else(|| {
            bad(format!(
                "column 'accepted' is {}, not bool",
                acc.data_type()
            ))
        })?;
        if acc.null_count() > 0 {
            return Err(bad("column 'accepted' has null values".into()));
        }
        accepted.extend(acc.values().iter());
    }
    let filter = EventFilter::new(event, accepted)
        .map_err(|e| Error::InvalidArgument(format!("{}: {e}", path.display())))?;
    Ok((filter, source))
}

/// Sub-directory of the individual runs of a charge-injection scan.
pub const INDIVIDUAL_RUNS_DIR: &str = "Individual_Runs";
/// The default event cut the directory processor writes into every individual run (as the
/// original): each hit is its own event, so this keeps hits with CAL < 200.
pub const DEFAULT_CHARGE_INJECTION_CUTS: &str =
    "board_id,variable,cut_type,cut_value\n#,calibration_code,<,200";
/// Table of the merged scan.
pub const COMBINED_TABLE: &str = "combined_etroc1_data";
