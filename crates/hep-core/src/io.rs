//! Reading and writing files: atomic output, Parquet, CSV and SHA-256 checksums.
//!
//! * **Atomic output.** Every writer in this module goes through [`atomic_write`] (or
//!   [`AtomicFile`]): the bytes go to a temporary file in the target's directory, which is flushed,
//!   synced and then renamed onto the target. A failure at any point removes the temporary file, so
//!   either the complete new file exists at the target path or the target is untouched (a file
//!   that was there before keeps its old content).
//! * **Parquet.** [`write_parquet`], [`write_parquet_with_schema`] and the streaming
//!   [`ParquetWriter`] write Arrow record batches with zstd compression (level 3). Free-form
//!   key-value metadata (e.g. `"GenEventCount" -> "123456"`) goes into the file footer and is read
//!   back by [`read_parquet_metadata`] or [`ParquetReader::key_value_metadata`]. [`read_parquet`]
//!   reads a whole file; [`read_parquet_table`] reads it as one batch; [`ParquetReader`] streams
//!   it batch by batch. The in-memory writers and [`read_parquet_table`] encode and decode the
//!   columns in parallel (rayon). Output is deterministic: the same batches and metadata give a
//!   byte-identical file at any thread count, the same file as the streaming writer.
//! * **Columns.** [`column_f64`], [`column_i64`], [`column_str`], [`column_bool`] and the generic
//!   [`column_as`] look a column up by name and downcast it, with an error naming the column and
//!   both types.
//! * **CSV.** [`read_csv`] / [`read_csv_with`] deserialise records with `serde` by header name; a
//!   bad record is reported as `path:line: expected ..., found ...`. [`write_csv`] /
//!   [`write_csv_with`] write atomically.
//! * **Integrity.** Every Parquet reader first checks the file against its provenance sidecar
//!   where one exists ([`crate::integrity::check_input`]): a file changed or corrupted after it
//!   was written is an [`Error::Integrity`] naming it, before any byte is decoded.
//! * **Checksums.** [`sha256_file`] and [`FileDigest`] (path, size, SHA-256) record inputs for the
//!   provenance [`Manifest`](crate::manifest::Manifest); [`copy_file`] copies a file atomically
//!   and hashes it on the way.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::{Array, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tempfile::TempPath;

use crate::error::{Error, Result};
pub use crate::files::{
    AtomicFile, FileDigest, FileStamp, atomic_write, atomic_write_bytes, copy_file, link_or_copy,
    link_tree, read_text, remove_stale_temporaries, sha256_file, temp_prefix,
};
use crate::files::{commit_temp, create_temp};

// ---------------------------------------------------------------------------------------------
// Parquet
// ---------------------------------------------------------------------------------------------

/// The zstd level used for every Parquet file written here. The level is not stored in the file.
const ZSTD_LEVEL: i32 = 3;

fn parquet_err(path: &Path, source: ParquetError) -> Error {
    Error::Parquet {
        path: path.to_path_buf(),
        error: source,
    }
}

fn check_metadata_key(key: &str) -> Result<()> {
    if key == parquet::arrow::ARROW_SCHEMA_META_KEY {
        return Err(Error::InvalidArgument(format!(
            "Parquet key-value metadata key `{key}` is reserved for the Arrow schema"
        )));
    }
    Ok(())
}

fn writer_properties(
    path: &Path,
    key_value_metadata: &[(String, String)],
) -> Result<WriterProperties> {
    let level = ZstdLevel::try_new(ZSTD_LEVEL).map_err(|e| parquet_err(path, e))?;
    let kv = key_value_metadata
        .iter()
        .map(|(k, v)| {
            check_metadata_key(k)?;
            Ok(KeyValue::new(k.clone(), v.clone()))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_key_value_metadata((!kv.is_empty()).then_some(kv))
        .build())
}

/// A streaming, atomic Parquet writer for outputs too large to collect in memory.
///
/// Batches are written with zstd compression (level 3) into a temporary file next to the target;
/// [`finish`](ParquetWriter::finish) writes the footer and renames the file onto the target.
/// Dropping the writer without finishing removes the temporary file.
pub struct ParquetWriter {
    path: PathBuf,
    schema: SchemaRef,
    writer: ArrowWriter<File>,
    temp: TempPath,
}

impl std::fmt::Debug for ParquetWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetWriter")
            .field("path", &self.path)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl ParquetWriter {
    /// Starts writing `path` with the given Arrow `schema` and footer key-value metadata
    /// (`(key, value)` pairs, in order; a repeated key is stored twice and the reader keeps the
    /// last value).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a path without file name or the reserved metadata key
    /// `ARROW:schema`; [`Error::Io`] if the temporary file cannot be created;
    /// [`Error::Parquet`] if the schema cannot be expressed in Parquet.
    pub fn create(
        path: impl AsRef<Path>,
        schema: SchemaRef,
        key_value_metadata: &[(String, String)],
    ) -> Result<Self> {
        let path = path.as_ref();
        let props = writer_properties(path, key_value_metadata)?;
        let (file, temp) = create_temp(path)?;
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(props))
            .map_err(|e| parquet_err(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            schema,
            writer,
            temp,
        })
    }

    /// The target path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema every batch must have.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Appends one batch.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if the batch's fields differ from the writer's schema (schema
    /// metadata is ignored); [`Error::Parquet`] if encoding or writing fails.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        check_batch_schema(&self.path, &self.schema, batch)?;
        self.writer
            .write(batch)
            .map_err(|e| parquet_err(&self.path, e))
    }

    /// Adds a footer key-value pair, e.g. a count known only after all batches were written.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for the reserved key `ARROW:schema`.
    pub fn add_key_value_metadata(
        &mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<()> {
        let key = key.into();
        check_metadata_key(&key)?;
        self.writer
            .append_key_value_metadata(KeyValue::new(key, value.into()));
        Ok(())
    }

    /// Writes the footer, syncs and renames the file onto the target path.
    ///
    /// # Errors
    ///
    /// [`Error::Parquet`] if flushing the last row group or the footer fails; [`Error::Io`] if
    /// syncing or renaming fails. The temporary file is removed on any error.
    pub fn finish(self) -> Result<()> {
        let Self {
            path, writer, temp, ..
        } = self;
        let file = writer.into_inner().map_err(|e| parquet_err(&path, e))?;
        commit_temp(&path, file, temp).map(drop)
    }
}

/// Writes `batches` to the Parquet file `path` (zstd level 3, atomic), taking the schema from the
/// first batch.
///
/// # Errors
///
/// [`Error::InvalidArgument`] if `batches` is empty (use [`write_parquet_with_schema`] to write a
/// file with no rows) or the batches' schemas differ; otherwise as [`ParquetWriter`].
pub fn write_parquet(path: impl AsRef<Path>, batches: &[RecordBatch]) -> Result<()> {
    let path = path.as_ref();
    let first = batches.first().ok_or_else(|| {
        Error::InvalidArgument(format!(
            "{}: no record batches to write; the schema is unknown",
            path.display()
        ))
    })?;
    write_parquet_with_schema(path, first.schema(), batches, &[])
}

/// Writes `batches` (possibly none) with the given `schema` and footer key-value metadata to the
/// Parquet file `path` (zstd level 3, atomic), encoding the column chunks of each row group in
/// parallel. The file is byte for byte the one [`ParquetWriter`] writes from the same batches.
///
/// The metadata pairs are readable with [`read_parquet_metadata`]; they also appear in the schema
/// metadata returned by [`read_parquet`].
///
/// # Errors
///
/// As [`ParquetWriter::create`], [`ParquetWriter::write`] and [`ParquetWriter::finish`]; no file
/// is left at `path` on error.
pub fn write_parquet_with_schema(
    path: impl AsRef<Path>,
    schema: SchemaRef,
    batches: &[RecordBatch],
    key_value_metadata: &[(String, String)],
) -> Result<()> {
    write_parquet_stamped(path, schema, batches, key_value_metadata).map(drop)
}

/// [`write_parquet_with_schema`], returning the [`FileStamp`] of the written file, taken from the
/// written handle (`None` if its metadata cannot be read): with it a caller can keep the batches
/// and know later whether the file at `path` is still the one it wrote.
///
/// # Errors
///
/// As [`write_parquet_with_schema`].
pub fn write_parquet_stamped(
    path: impl AsRef<Path>,
    schema: SchemaRef,
    batches: &[RecordBatch],
    key_value_metadata: &[(String, String)],
) -> Result<Option<FileStamp>> {
    use parquet::arrow::arrow_writer::{ArrowColumnChunk, ArrowLeafColumn, compute_leaves};
    use rayon::prelude::*;
    let path = path.as_ref();
    for batch in batches {
        check_batch_schema(path, &schema, batch)?;
    }
    let props = writer_properties(path, key_value_metadata)?;
    let max_rows = props.max_row_group_row_count().unwrap_or(usize::MAX).max(1);
    let (file, temp) = create_temp(path)?;
    let pq = |e| parquet_err(path, e);
    let (mut file_writer, factory) = ArrowWriter::try_new(file, schema.clone(), Some(props))
        .and_then(ArrowWriter::into_serialized_writer)
        .map_err(pq)?;
    for (index, group) in row_groups(batches, max_rows).iter().enumerate() {
        let writers = factory.create_column_writers(index).map_err(pq)?;
        // The leaf columns of every batch slice, in the order of the column writers.
        let mut leaves: Vec<Vec<ArrowLeafColumn>> = writers.iter().map(|_| Vec::new()).collect();
        for batch in group {
            let mut k = 0;
            for (field, column) in schema.fields().iter().zip(batch.columns()) {
                for leaf in compute_leaves(field, column).map_err(pq)? {
                    leaves[k].push(leaf);
                    k += 1;
                }
            }
        }
        // Each column chunk is encoded and compressed on its own thread; the chunks are then
        // appended in schema order, so the file does not depend on the thread count.
        let chunks: Vec<ArrowColumnChunk> = writers
            .into_par_iter()
            .zip(leaves)
            .map(|(mut writer, leaves)| {
                for leaf in &leaves {
                    writer.write(leaf)?;
                }
                writer.close()
            })
            .collect::<std::result::Result<_, ParquetError>>()
            .map_err(pq)?;
        let mut row_group = file_writer.next_row_group().map_err(pq)?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut row_group).map_err(pq)?;
        }
        row_group.close().map_err(pq)?;
    }
    let file = file_writer.into_inner().map_err(pq)?;
    commit_temp(path, file, temp)
}

/// Splits `batches` into row groups of at most `max_rows` rows (slices, no copies), the way
/// [`ArrowWriter`] fills its row groups.
fn row_groups(batches: &[RecordBatch], max_rows: usize) -> Vec<Vec<RecordBatch>> {
    let mut groups = Vec::new();
    let mut current = Vec::new();
    let mut rows = 0;
    for batch in batches {
        let mut offset = 0;
        while offset < batch.num_rows() {
            let take = (max_rows - rows).min(batch.num_rows() - offset);
            current.push(batch.slice(offset, take));
            rows += take;
            offset += take;
            if rows == max_rows {
                groups.push(std::mem::take(&mut current));
                rows = 0;
            }
        }
    }
    if rows > 0 {
        groups.push(current);
    }
    groups
}

fn check_batch_schema(path: &Path, schema: &SchemaRef, batch: &RecordBatch) -> Result<()> {
    if batch.schema().fields() != schema.fields() {
        return Err(Error::InvalidArgument(format!(
            "{}: record batch schema {:?} does not match the file schema {:?}",
            path.display(),
            batch.schema().fields(),
            schema.fields()
        )));
    }
    Ok(())
}

/// Default number of rows per batch returned by [`ParquetReader`].
pub const DEFAULT_BATCH_SIZE: usize = 8192;

/// A streaming Parquet reader: an iterator over the file's record batches.
///
/// Opening reads only the footer; each call of `next` decodes one batch of at most the batch size
/// rows.
pub struct ParquetReader {
    path: PathBuf,
    schema: SchemaRef,
    metadata: BTreeMap<String, String>,
    num_rows: u64,
    inner: ParquetRecordBatchReader,
}

impl std::fmt::Debug for ParquetReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetReader")
            .field("path", &self.path)
            .field("schema", &self.schema)
            .field("num_rows", &self.num_rows)
            .finish_non_exhaustive()
    }
}

impl ParquetReader {
    /// Opens `path` with batches of [`DEFAULT_BATCH_SIZE`] rows.
    ///
    /// If a provenance sidecar (`<path>.manifest.json`) lists the file, its size and SHA-256 are
    /// checked first ([`crate::integrity::check_input`]); without one a warning is logged.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be opened; [`Error::Integrity`] if it does not match its
    /// manifest; [`Error::Parquet`] if it is not a readable Parquet file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with_batch_size(path, DEFAULT_BATCH_SIZE)
    }

    /// Opens `path` with batches of at most `batch_size` rows.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `batch_size` is 0; otherwise as [`ParquetReader::open`].
    pub fn open_with_batch_size(path: impl AsRef<Path>, batch_size: usize) -> Result<Self> {
        let path = path.as_ref();
        if batch_size == 0 {
            return Err(Error::InvalidArgument(
                "Parquet batch size must be at least 1".into(),
            ));
        }
        crate::integrity::check_input(path)?;
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let builder =
            ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| parquet_err(path, e))?;
        let schema = builder.schema().clone();
        let file_metadata = builder.metadata().file_metadata();
        let metadata = key_value_map(file_metadata.key_value_metadata());
        let num_rows = u64::try_from(file_metadata.num_rows()).unwrap_or(0);
        let inner = builder
            .with_batch_size(batch_size)
            .build()
            .map_err(|e| parquet_err(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            schema,
            metadata,
            num_rows,
            inner,
        })
    }

    /// The file's Arrow schema (its metadata includes the footer key-value metadata).
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The footer key-value metadata, without the internal `ARROW:schema` entry.
    pub fn key_value_metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// Total number of rows in the file, from the footer.
    pub fn num_rows(&self) -> u64 {
        self.num_rows
    }
}

impl Iterator for ParquetReader {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|r| {
            r.map_err(|e| parquet_err(&self.path, ParquetError::ArrowError(e.to_string())))
        })
    }
}

fn key_value_map(kv: Option<&Vec<KeyValue>>) -> BTreeMap<String, String> {
    kv.into_iter()
        .flatten()
        .filter(|kv| kv.key != parquet::arrow::ARROW_SCHEMA_META_KEY)
        .map(|kv| (kv.key.clone(), kv.value.clone().unwrap_or_default()))
        .collect()
}

/// Reads the whole Parquet file `path`: its Arrow schema and all record batches.
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be opened; [`Error::Parquet`] if it is not a valid Parquet
/// file or a column cannot be decoded.
pub fn read_parquet(path: impl AsRef<Path>) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let reader = ParquetReader::open(path)?;
    let schema = reader.schema().clone();
    let batches = reader.collect::<Result<Vec<_>>>()?;
    Ok((schema, batches))
}

/// Reads the whole Parquet file `path` as one record batch, decoding the columns in parallel.
///
/// The schema is the file's Arrow schema; its metadata also holds the footer key-value metadata
/// (as the Parquet reader merges it: a footer value wins over the embedded schema's). Each
/// top-level column is
/// decoded by its own reader over the shared footer, on the rayon pool; the result does not
/// depend on the thread count. For files too large for memory use [`ParquetReader`].
///
/// # Errors
///
/// As [`read_parquet`].
pub fn read_parquet_table(path: impl AsRef<Path>) -> Result<RecordBatch> {
    use parquet::arrow::ProjectionMask;
    use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
    use rayon::prelude::*;
    let path = path.as_ref();
    let pq = |e| parquet_err(path, e);
    crate::integrity::check_input(path)?;
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let stamp = FileStamp::of_open(path, &file);
    let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(pq)?;
    let file_metadata = meta.metadata().file_metadata();
    let rows = usize::try_from(file_metadata.num_rows()).unwrap_or(0);
    // The reader already merges the footer key-value metadata into the schema's.
    let schema = meta.schema().clone();
    let columns = (0..schema.fields().len())
        .into_par_iter()
        .map(|i| -> Result<arrow_array::ArrayRef> {
            let file = File::open(path).map_err(|e| Error::io(path, e))?;
            // Every column from the file whose footer was read, even if `path` is replaced.
            if FileStamp::of_open(path, &file) != stamp {
                return Err(Error::io(
                    path,
                    std::io::Error::other("the file changed while it was being read"),
                ));
            }
            let mask = ProjectionMask::roots(meta.parquet_schema(), [i]);
            let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, meta.clone())
                .with_projection(mask)
                .with_batch_size(rows.max(1))
                .build()
                .map_err(pq)?;
            let arrow = |e: arrow_schema::ArrowError| pq(ParquetError::ArrowError(e.to_string()));
            let parts = reader
                .map(|b| b.map(|b| b.column(0).clone()).map_err(arrow))
                .collect::<Result<Vec<_>>>()?;
            match parts.len() {
                0 => Ok(arrow_array::new_empty_array(schema.field(i).data_type())),
                1 => Ok(parts.into_iter().next().expect("one part")),
                _ => {
                    let refs: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
                    arrow_select::concat::concat(&refs).map_err(arrow)
                }
            }
        })
        .collect::<Result<Vec<_>>>()?;
    RecordBatch::try_new_with_options(
        schema,
        columns,
        &arrow_array::RecordBatchOptions::new().with_row_count(Some(rows)),
    )
    .map_err(|e| parquet_err(path, ParquetError::ArrowError(e.to_string())))
}

/// Reads only the footer key-value metadata of the Parquet file `path` (without the internal
/// `ARROW:schema` entry).
///
/// # Errors
///
/// As [`ParquetReader::open`].
pub fn read_parquet_metadata(path: impl AsRef<Path>) -> Result<BTreeMap<String, String>> {
    let path = path.as_ref();
    crate::integrity::check_input(path)?;
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| parquet_err(path, e))?;
    Ok(key_value_map(
        builder.metadata().file_metadata().key_value_metadata(),
    ))
}

// ---------------------------------------------------------------------------------------------
// Column helpers
// ---------------------------------------------------------------------------------------------

/// Looks up the column `name` of `batch` and downcasts it to the array type `A`.
///
/// # Errors
///
/// [`Error::InvalidArgument`] naming the column if it does not exist (listing the columns that
/// do) or if it is not an `A` (giving its actual Arrow type).
pub fn column_as<'a, A: Array + 'static>(batch: &'a RecordBatch, name: &str) -> Result<&'a A> {
    column_typed(batch, name, &short_type_name(std::any::type_name::<A>()))
}

/// `std::any::type_name` without module paths:
/// `arrow_array::array::PrimitiveArray<arrow_array::types::Int64Type>` gives
/// `PrimitiveArray<Int64Type>`.
fn short_type_name(full: &str) -> String {
    let mut out = String::with_capacity(full.len());
    let mut segment = String::new();
    let mut chars = full.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_alphanumeric() || c == '_' {
            segment.push(c);
        } else if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            segment.clear();
        } else {
            out.push_str(&segment);
            segment.clear();
            out.push(c);
        }
    }
    out.push_str(&segment);
    out
}

/// `field` with a `unit` field metadata entry, the workspace's convention for every physical
/// column of a Parquet table: the unit as written in the docs (`"MeV"`, `"ns"`, `"ADC"`; `"1"`
/// for a dimensionless quantity), which pyarrow, polars and duckdb show in the schema.
pub fn with_unit(field: arrow_schema::Field, unit: &str) -> arrow_schema::Field {
    let mut meta = field.metadata().clone();
    meta.insert("unit".to_string(), unit.to_string());
    field.with_metadata(meta)
}

/// The extension of `path` in lower case (`"csv"` for `data/Spectra.CSV`), or `None` if it has
/// none or it is not UTF-8. Tools choose formats from it.
pub fn file_extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
}

/// The column names of `batch`, in schema order.
pub fn column_names(batch: &RecordBatch) -> Vec<&str> {
    batch
        .schema_ref()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect()
}

fn column_typed<'a, A: Array + 'static>(
    batch: &'a RecordBatch,
    name: &str,
    expected: &str,
) -> Result<&'a A> {
    let column = batch.column_by_name(name).ok_or_else(|| {
        let names = column_names(batch);
        Error::InvalidArgument(format!(
            "no column `{name}` in the record batch (columns: {})",
            names.join(", ")
        ))
    })?;
    column.as_any().downcast_ref::<A>().ok_or_else(|| {
        Error::InvalidArgument(format!(
            "column `{name}`: expected {expected}, found {}",
            column.data_type()
        ))
    })
}

/// The `Float64` column `name` of `batch`.
///
/// # Errors
///
/// [`Error::InvalidArgument`] if the column is missing or not `Float64`.
pub fn column_f64<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a Float64Array> {
    column_typed(batch, name, "Float64")
}

/// The `Int64` column `name` of `batch`.
///
/// # Errors
///
/// [`Error::InvalidArgument`] if the column is missing or not `Int64`.
pub fn column_i64<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a Int64Array> {
    column_typed(batch, name, "Int64")
}

/// The `Utf8` (string) column `name` of `batch`.
///
/// # Errors
///
/// [`Error::InvalidArgument`] if the column is missing or not `Utf8`.
pub fn column_str<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a StringArray> {
    column_typed(batch, name, "Utf8")
}

/// The `Boolean` column `name` of `batch`.
///
/// # Errors
///
/// [`Error::InvalidArgument`] if the column is missing or not `Boolean`.
pub fn column_bool<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a BooleanArray> {
    column_typed(batch, name, "Boolean")
}

// ---------------------------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------------------------

/// Options of [`read_csv_with`] and [`write_csv_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    /// Field delimiter byte (default `b','`).
    pub delimiter: u8,
    /// Lines starting with this byte are skipped when reading (default `None`; `Some(b'#')` for
    /// `#` comments). Ignored when writing.
    pub comment: Option<u8>,
    /// Trim ASCII whitespace around headers and fields when reading (default `false`).
    pub trim: bool,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            delimiter: b',',
            comment: None,
            trim: false,
        }
    }
}

/// Longest record or field text quoted in a parse error (in characters).
const MAX_FOUND_CHARS: usize = 200;

fn shorten(text: &str) -> String {
    if text.chars().count() <= MAX_FOUND_CHARS {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(MAX_FOUND_CHARS).collect();
        s.push_str("...");
        s
    }
}

fn record_text(record: &csv::ByteRecord, delimiter: u8) -> String {
    let joined = record.iter().collect::<Vec<_>>().join(&[delimiter][..]);
    format!("`{}`", shorten(&String::from_utf8_lossy(&joined)))
}

/// Turns a `csv` error met at `line` (1-based) into an [`Error`].
fn csv_error(path: &Path, err: csv::Error, line: u64) -> Error {
    let line = err.position().map_or(line, csv::Position::line);
    let message = err.to_string();
    match err.into_kind() {
        csv::ErrorKind::Io(e) => Error::io(path, e),
        csv::ErrorKind::Utf8 { err, .. } => Error::parse(
            path,
            line,
            "UTF-8 text",
            format!("invalid UTF-8 in field {}", err.field() + 1),
        ),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => Error::parse(
            path,
            line,
            format!("{expected_len} fields"),
            format!("{len} fields"),
        ),
        _ => Error::parse(path, line, "a CSV record", message),
    }
}

/// Describes a failed deserialisation of `record` as expected / found texts.
fn describe_deserialize(
    err: &csv::DeserializeError,
    record: &csv::ByteRecord,
    headers: &csv::StringRecord,
    delimiter: u8,
) -> (String, String) {
    let field = err.field().and_then(|i| usize::try_from(i).ok());
    let column = field
        .map(|i| match headers.get(i) {
            Some(h) => format!(" in column `{h}`"),
            None => format!(" in field {}", i + 1),
        })
        .unwrap_or_default();
    let found = field
        .and_then(|i| record.get(i))
        .map(|f| format!("`{}`", shorten(&String::from_utf8_lossy(f))))
        .unwrap_or_else(|| record_text(record, delimiter));
    let expected = match err.kind() {
        csv::DeserializeErrorKind::ParseInt(_) => format!("an integer{column}"),
        csv::DeserializeErrorKind::ParseFloat(_) => format!("a number{column}"),
        csv::DeserializeErrorKind::ParseBool(_) => format!("true or false{column}"),
        csv::DeserializeErrorKind::InvalidUtf8(_) => format!("UTF-8 text{column}"),
        csv::DeserializeErrorKind::UnexpectedEndOfRow => "more fields in the record".to_owned(),
        csv::DeserializeErrorKind::Unsupported(what) => {
            format!("a type CSV can hold{column} (unsupported: {what})")
        }
        csv::DeserializeErrorKind::Message(msg) => {
            if let Some(field) = msg.strip_prefix("missing field ") {
                format!("a value for field {field}")
            } else if let Some((_, wanted)) = msg.split_once(", expected ") {
                format!("{wanted}{column}")
            } else {
                format!("a valid record{column} ({msg})")
            }
        }
    };
    (expected, found)
}

/// Reads all records of the headed CSV file `path` as `T` (matched to columns by header name),
/// with default [`CsvOptions`].
///
/// # Errors
///
/// As [`read_csv_with`].
pub fn read_csv<T: DeserializeOwned>(path: impl AsRef<Path>) -> Result<Vec<T>> {
    read_csv_with(path, &CsvOptions::default())
}

/// Reads all records of the headed CSV file `path` as `T`, with the given options.
///
/// The first (non-comment) line is the header. Empty lines are skipped. An empty field
/// deserialises as `None` for an `Option` field.
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be read; [`Error::Parse`] for the first bad record, with its
/// 1-based line number, what was expected (e.g. "a number in column `energy`") and what was found
/// (the offending field or record). Wrong field counts and invalid UTF-8 are parse errors too.
pub fn read_csv_with<T: DeserializeOwned>(
    path: impl AsRef<Path>,
    options: &CsvOptions,
) -> Result<Vec<T>> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(options.delimiter)
        .comment(options.comment)
        .trim(if options.trim {
            csv::Trim::All
        } else {
            csv::Trim::None
        })
        .has_headers(true)
        .from_reader(std::io::BufReader::with_capacity(64 * 1024, file));
    let headers = reader.headers().map_err(|e| csv_error(path, e, 1))?.clone();
    let mut record = csv::ByteRecord::new();
    let mut rows = Vec::new();
    loop {
        let last_line = record.position().map_or(1, csv::Position::line);
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(path, e, last_line)),
        }
        let line = record.position().map_or(0, csv::Position::line);
        match record.deserialize::<T>(Some(headers.as_byte_record())) {
            Ok(row) => rows.push(row),
            Err(e) => {
                let err = match e.kind() {
                    csv::ErrorKind::Deserialize { err, .. } => {
                        let (expected, found) =
                            describe_deserialize(err, &record, &headers, options.delimiter);
                        Error::parse(path, line, expected, found)
                    }
                    _ => csv_error(path, e, line),
                };
                return Err(err);
            }
        }
    }
    Ok(rows)
}

/// Writes `rows` to the CSV file `path` atomically, with a header row taken from `T`'s field
/// names and default [`CsvOptions`].
///
/// # Errors
///
/// As [`write_csv_with`].
pub fn write_csv<T: Serialize>(path: impl AsRef<Path>, rows: &[T]) -> Result<()> {
    write_csv_with(path, rows, &CsvOptions::default())
}

/// Writes `rows` to the CSV file `path` atomically with the given delimiter (`comment` and `trim`
/// are ignored). The header row comes from `T`'s field names; with no rows the file is empty.
///
/// # Errors
///
/// [`Error::InvalidArgument`] if a row cannot be written as a CSV record (e.g. a nested
/// structure); [`Error::Io`] if the file cannot be written. No file is left at `path` on error.
pub fn write_csv_with<T: Serialize>(
    path: impl AsRef<Path>,
    rows: &[T],
    options: &CsvOptions,
) -> Result<()> {
    let path = path.as_ref();
    atomic_write(path, |w| {
        let mut writer = csv::WriterBuilder::new()
            .delimiter(options.delimiter)
            .has_headers(true)
            .from_writer(w);
        for (i, row) in rows.iter().enumerate() {
            writer.serialize(row).map_err(|e| {
                let message = e.to_string();
                match e.into_kind() {
                    csv::ErrorKind::Io(e) => Error::io(path, e),
                    _ => Error::InvalidArgument(format!(
                        "{}: row {i} cannot be written as CSV: {message}",
                        path.display()
                    )),
                }
            })?;
        }
        writer.flush().map_err(|e| Error::io(path, e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_type_names() {
        assert_eq!(
            short_type_name(std::any::type_name::<Int64Array>()),
            "PrimitiveArray<Int64Type>"
        );
        assert_eq!(short_type_name("a::B<c::D, e::F>"), "B<D, F>");
    }

    #[test]
    fn shorten_truncates_long_text() {
        let long = "x".repeat(500);
        assert_eq!(shorten(&long).chars().count(), MAX_FOUND_CHARS + 3);
        assert_eq!(shorten("abc"), "abc");
    }
}
