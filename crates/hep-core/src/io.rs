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
//!   where one exists ([`crate::manifest::check_input`]): a file changed or corrupted after it
//!   was written is an [`Error::Integrity`] naming it, before any byte is decoded.
//! * **Checksums.** [`sha256_file`] and [`FileDigest`] (path, size, SHA-256) record inputs for the
//!   provenance [`Manifest`](crate::manifest::Manifest); [`copy_file`] copies a file atomically
//!   and hashes it on the way.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use arrow_array::{Array, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tempfile::TempPath;

use crate::error::{Error, Result};

// ---------------------------------------------------------------------------------------------
// Atomic output
// ---------------------------------------------------------------------------------------------

/// The directory a temporary file for `path` must live in (so the final rename stays on one file
/// system), and the file name used to label the temporary file.
fn target_parts(path: &Path) -> Result<(&Path, String)> {
    let name = path.file_name().ok_or_else(|| {
        Error::InvalidArgument(format!("{}: output path has no file name", path.display()))
    })?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Ok((parent, name.to_string_lossy().into_owned()))
}

/// The prefix of this process's temporary files for the output `name`: `.{name}.{pid}.`. A
/// temporary file is `.{name}.{pid}.{token}.tmp` (the token has no dot), so that
/// [`remove_stale_temporaries`] can tell whose it is.
pub fn temp_prefix(name: &str) -> String {
    format!(".{name}.{}.", std::process::id())
}

/// The process id in a temporary file name of the form `.{name}.{pid}.{token}.tmp`, or
/// `.{name}.{pid}.{token}.tmp.png` / `.tmp.svg` (plots, whose encoder needs the extension), if it
/// is one.
fn temp_owner(file_name: &str) -> Option<u32> {
    let base = file_name
        .strip_suffix(".png")
        .or_else(|| file_name.strip_suffix(".svg"))
        .unwrap_or(file_name);
    let inner = base.strip_prefix('.')?.strip_suffix(".tmp")?;
    let mut parts = inner.rsplit('.');
    let _token = parts.next()?;
    let pid = parts.next()?;
    // A name must precede the pid.
    parts.next()?;
    pid.parse().ok()
}

/// Whether process `pid` is running (on Linux, from `/proc`; elsewhere every process counts as
/// running, so nothing is removed).
fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// Removes the temporary files of outputs in `dir` (not below it) that a process which is no
/// longer running left behind when it was killed during a write: files named
/// `.{name}.{pid}.{token}.tmp` whose `pid` is neither this process nor a running one. Returns
/// how many were removed; files that cannot be removed are left (best effort, never an error).
///
/// Every atomic write of this module calls it for the directory it writes into (one directory
/// listing per written file), so a rerun cleans the temporaries of the run that was killed
/// before it.
pub fn remove_stale_temporaries(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let me = std::process::id();
    let mut removed = 0;
    for e in entries.filter_map(|e| e.ok()) {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(temp_owner) else {
            continue;
        };
        if pid != me
            && !process_alive(pid)
            && e.file_type().is_ok_and(|t| t.is_file())
            && std::fs::remove_file(e.path()).is_ok()
        {
            tracing::info!(file = %e.path().display(), "removed a stale temporary file");
            removed += 1;
        }
    }
    removed
}

/// Creates the temporary file for an atomic write of `path`.
///
/// On Unix the file is created with mode `0o666` minus the umask, as `File::create` would, rather
/// than tempfile's private `0o600`, so that the renamed output has ordinary permissions.
fn create_temp(path: &Path) -> Result<(File, TempPath)> {
    let (parent, name) = target_parts(path)?;
    remove_stale_temporaries(parent);
    let prefix = temp_prefix(&name);
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let temp = builder
        .tempfile_in(parent)
        .map_err(|e| Error::io(path, e))?;
    Ok(temp.into_parts())
}

/// Flushes and syncs `file`, then renames `temp` onto `path`. On error the temporary file is
/// removed (dropping a [`TempPath`] deletes it).
///
/// Returns the stamp of the committed file, taken from the still open handle after the rename
/// (so it is this file's even if `path` is replaced right after); `None` if its metadata cannot
/// be read.
fn commit_temp(path: &Path, file: File, temp: TempPath) -> Result<Option<FileStamp>> {
    file.sync_all().map_err(|e| Error::io(path, e))?;
    temp.persist(path).map_err(|e| Error::io(path, e.error))?;
    let stamp = FileStamp::of_open(path, &file);
    drop(file);
    // Make the rename itself durable. Best effort: some file systems refuse to sync directories.
    #[cfg(unix)]
    if let Ok((parent, _)) = target_parts(path)
        && let Ok(dir) = File::open(parent)
    {
        let _ = dir.sync_all();
    }
    Ok(stamp)
}

/// A file being written atomically: the content goes to a temporary file next to the target and
/// only [`commit`](AtomicFile::commit) renames it onto the target path.
///
/// Dropping an `AtomicFile` without committing removes the temporary file and leaves the target
/// untouched. `AtomicFile` implements [`Write`]; [`atomic_write`] is the closure-based shortcut.
#[derive(Debug)]
pub struct AtomicFile {
    target: PathBuf,
    writer: BufWriter<File>,
    temp: TempPath,
}

impl AtomicFile {
    /// Starts an atomic write of `path`, creating the temporary file in `path`'s directory (the
    /// current directory when `path` has no directory part).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `path` has no file name (e.g. `/` or `..`), and [`Error::Io`]
    /// if the temporary file cannot be created (missing directory, no permission).
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let (file, temp) = create_temp(path)?;
        Ok(Self {
            target: path.to_path_buf(),
            writer: BufWriter::with_capacity(64 * 1024, file),
            temp,
        })
    }

    /// The path the file will have after [`commit`](AtomicFile::commit).
    pub fn path(&self) -> &Path {
        &self.target
    }

    /// The buffered writer of the temporary file.
    pub fn writer(&mut self) -> &mut BufWriter<File> {
        &mut self.writer
    }

    /// Flushes, syncs and renames the temporary file onto the target path, replacing any file
    /// that was there.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if flushing, syncing or renaming fails; the temporary file is then removed
    /// and the target is untouched.
    pub fn commit(self) -> Result<()> {
        let Self {
            target,
            writer,
            temp,
        } = self;
        let file = writer
            .into_inner()
            .map_err(|e| Error::io(&target, e.into_error()))?;
        commit_temp(&target, file, temp).map(drop)
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }
}

/// Writes `path` atomically: `write` fills a temporary file in the same directory, which is then
/// flushed, synced and renamed onto `path`. Returns what `write` returned.
///
/// If `write` or any later step fails, the temporary file is removed, nothing new appears at
/// `path`, and a file already at `path` keeps its old content.
///
/// # Errors
///
/// The error returned by `write`; [`Error::InvalidArgument`] if `path` has no file name;
/// [`Error::Io`] if the temporary file cannot be created, flushed, synced or renamed.
pub fn atomic_write<T>(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<T>,
) -> Result<T> {
    let mut file = AtomicFile::create(path)?;
    let value = write(file.writer())?;
    file.commit()?;
    Ok(value)
}

/// Writes `bytes` to `path` atomically (see [`atomic_write`]).
///
/// # Errors
///
/// As [`atomic_write`]: [`Error::InvalidArgument`] for a path without file name, [`Error::Io`] for
/// any failure to create, write or rename the file.
pub fn atomic_write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    atomic_write(path, |w| w.write_all(bytes).map_err(|e| Error::io(path, e)))
}

// ---------------------------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------------------------

/// Reads the text file `path` whole. Unlike `std::fs::read_to_string`, a byte sequence that is
/// not UTF-8 is reported where it is: `path:line: expected UTF-8 text, found byte 0x.. at column
/// c`.
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be read; [`Error::Parse`] with the 1-based line and column
/// of the first invalid byte.
pub fn read_text(path: impl AsRef<Path>) -> Result<String> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let at = e.utf8_error().valid_up_to();
        let line_start = bytes[..at]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        let column = String::from_utf8_lossy(&bytes[line_start..at])
            .chars()
            .count()
            + 1;
        Error::parse(
            path,
            line,
            "UTF-8 text",
            format!("byte 0x{:02x} at column {column}", bytes[at]),
        )
    })
}

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
    /// checked first ([`crate::manifest::check_input`]); without one a warning is logged.
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
        crate::manifest::check_input(path)?;
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
    crate::manifest::check_input(path)?;
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
    crate::manifest::check_input(path)?;
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

// ---------------------------------------------------------------------------------------------
// Checksums
// ---------------------------------------------------------------------------------------------

/// Size of the read buffer used for hashing (64 KiB).
const HASH_BUFFER: usize = 64 * 1024;

/// What identifies one version of a file: its absolute path, size, modification and change
/// times and (on Unix) device and inode numbers.
///
/// Writing a file changes its modification and change times, and replacing it by a rename gives
/// the path a new inode, so two equal stamps of a path mean unchanged content, with one limit:
/// the times have the file system's timestamp granularity (on Linux a clock tick of a few
/// milliseconds before kernel 6.13, nanoseconds after; seconds on FAT), so a rewrite in place that
/// keeps the size and falls within the same tick as the stamp goes unnoticed. Used by the digest
/// cache of [`sha256_file`] and by callers that keep decoded copies of files they wrote.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileStamp {
    path: PathBuf,
    bytes: u64,
    modified: Option<std::time::SystemTime>,
    changed: (i64, i64),
    inode: (u64, u64),
}

impl FileStamp {
    /// The absolute path of the file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The size of the file (bytes).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The stamp of `path` now; `None` if its metadata cannot be read (e.g. it does not exist).
    pub fn of(path: impl AsRef<Path>) -> Option<Self> {
        let path = path.as_ref();
        Self::from_metadata(path, &std::fs::metadata(path).ok()?)
    }

    /// The stamp of the open `file`, recorded under `path`: the version of the file that this
    /// handle reads or wrote, even if `path` has been replaced meanwhile.
    pub fn of_open(path: impl AsRef<Path>, file: &File) -> Option<Self> {
        Self::from_metadata(path.as_ref(), &file.metadata().ok()?)
    }

    fn from_metadata(path: &Path, meta: &std::fs::Metadata) -> Option<Self> {
        #[cfg(unix)]
        let (changed, inode) = {
            use std::os::unix::fs::MetadataExt;
            ((meta.ctime(), meta.ctime_nsec()), (meta.dev(), meta.ino()))
        };
        #[cfg(not(unix))]
        let (changed, inode) = ((0, 0), (0, 0));
        Some(Self {
            path: std::path::absolute(path).ok()?,
            bytes: meta.len(),
            modified: meta.modified().ok(),
            changed,
            inode,
        })
    }
}

/// Digests already computed in this process, by file version. A pipeline that records a file as
/// the output of one step and as the input of the next reads it once. A file rewritten in place
/// gets new file times (and a renamed-over file a new inode), so it is hashed again.
static DIGESTS: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<FileStamp, String>>,
> = std::sync::LazyLock::new(Default::default);

fn remember_digest(stamp: FileStamp, hex: &str) {
    if let Ok(mut cache) = DIGESTS.lock() {
        cache.insert(stamp, hex.to_string());
    }
}

/// Size and SHA-256 of `path` through the process-wide digest cache. The stamp is taken from the
/// open handle that is hashed, before and after reading; the digest is cached only if they agree.
fn hash_file(path: &Path) -> Result<(u64, String)> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let before = FileStamp::of_open(path, &file);
    if let Some(stamp) = &before
        && let Some(hex) = DIGESTS
            .lock()
            .ok()
            .and_then(|cache| cache.get(stamp).cloned())
    {
        return Ok((stamp.bytes, hex));
    }
    let mut hasher = Sha256::new();
    let bytes = for_each_chunk(&mut file, path, HASH_BUFFER, |chunk| {
        hasher.update(chunk);
        Ok(())
    })?;
    let hex = hex_digest(hasher);
    if let Some(stamp) = before
        && stamp.bytes == bytes
        && FileStamp::of_open(path, &file).as_ref() == Some(&stamp)
    {
        remember_digest(stamp, &hex);
    }
    Ok((bytes, hex))
}

/// Reads `input` (the file `path`) to its end in chunks of `buffer` bytes, handing each chunk to
/// `each`; returns the number of bytes read.
fn for_each_chunk(
    input: &mut File,
    path: &Path,
    buffer: usize,
    mut each: impl FnMut(&[u8]) -> Result<()>,
) -> Result<u64> {
    let mut buf = vec![0u8; buffer];
    let mut bytes = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(bytes),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(path, e)),
        };
        each(&buf[..n])?;
        bytes += n as u64;
    }
}

/// Makes `dst` a hard link to `src` (no data copied; both names stay valid), atomically: the
/// link is made under a temporary name in `dst`'s directory and renamed onto `dst`, replacing a
/// file there. Where a hard link is impossible (another file system, no support) the file is
/// copied with [`copy_file`] instead.
///
/// # Errors
///
/// [`Error::Io`] if neither the link nor the copy can be made; nothing is left at `dst` then.
pub fn link_or_copy(src: impl AsRef<Path>, dst: impl AsRef<Path>) -> Result<()> {
    let (src, dst) = (src.as_ref(), dst.as_ref());
    let (parent, name) = target_parts(dst)?;
    remove_stale_temporaries(parent);
    let temp = parent.join(format!(
        "{}link{}.tmp",
        temp_prefix(&name),
        LINK_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    match std::fs::hard_link(src, &temp) {
        Ok(()) => std::fs::rename(&temp, dst).map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            Error::io(dst, e)
        }),
        Err(_) => copy_file(src, dst).map(drop),
    }
}

static LINK_COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Recreates the directory tree `src` under `dst` (created as needed), each file hard-linked or
/// copied with [`link_or_copy`], in name order.
///
/// # Errors
///
/// [`Error::Io`] if a directory cannot be read or created, or a file neither linked nor copied.
pub fn link_tree(src: impl AsRef<Path>, dst: impl AsRef<Path>) -> Result<()> {
    let (src, dst) = (src.as_ref(), dst.as_ref());
    std::fs::create_dir_all(dst).map_err(|e| Error::io(dst, e))?;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(src)
        .map_err(|e| Error::io(src, e))?
        .map(|e| e.map(|e| e.path()).map_err(|err| Error::io(src, err)))
        .collect::<Result<_>>()?;
    entries.sort();
    for path in entries {
        let to = dst.join(path.file_name().unwrap_or_default());
        if path.is_dir() {
            link_tree(&path, &to)?;
        } else {
            link_or_copy(&path, &to)?;
        }
    }
    Ok(())
}

/// Copies the file `src` to `dst` atomically (see [`atomic_write`]) and returns the digest of
/// the copy, computed from the bytes as they are written: one read of `src` gives both the copy
/// and its SHA-256. The digest is remembered for `dst` and, if it did not change meanwhile, for
/// `src` (see [`sha256_file`]), so recording either in a manifest reads nothing more.
///
/// # Errors
///
/// [`Error::Io`] if `src` cannot be read or `dst` cannot be written; nothing is left at `dst`
/// then.
pub fn copy_file(src: impl AsRef<Path>, dst: impl AsRef<Path>) -> Result<FileDigest> {
    let (src, dst) = (src.as_ref(), dst.as_ref());
    let mut input = File::open(src).map_err(|e| Error::io(src, e))?;
    let before = FileStamp::of_open(src, &input);
    let (file, temp) = create_temp(dst)?;
    let mut writer = BufWriter::with_capacity(64 * 1024, file);
    let mut hasher = Sha256::new();
    let bytes = for_each_chunk(&mut input, src, COPY_BUFFER, |chunk| {
        hasher.update(chunk);
        writer.write_all(chunk).map_err(|e| Error::io(dst, e))
    })?;
    let file = writer
        .into_inner()
        .map_err(|e| Error::io(dst, e.into_error()))?;
    let copy = commit_temp(dst, file, temp)?;
    let sha256 = hex_digest(hasher);
    if let Some(copy) = copy {
        remember_digest(copy, &sha256);
    }
    if let Some(original) = before
        && original.bytes == bytes
        && FileStamp::of_open(src, &input).as_ref() == Some(&original)
    {
        remember_digest(original, &sha256);
    }
    Ok(FileDigest {
        path: dst.to_path_buf(),
        bytes,
        sha256,
    })
}

/// Size of the read buffer of [`copy_file`] (1 MiB).
const COPY_BUFFER: usize = 1 << 20;

fn hex_digest(hasher: Sha256) -> String {
    hasher
        .finalize()
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            use std::fmt::Write as _;
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The SHA-256 of the file `path` as 64 lowercase hex digits, read in 64 KiB chunks.
///
/// Digests are cached for the life of the process by [`FileStamp`] (absolute path, size,
/// modification and change times, device and inode), so a file recorded as an output and then as
/// an input is read once; a file changed since is hashed again.
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be opened or read.
pub fn sha256_file(path: impl AsRef<Path>) -> Result<String> {
    hash_file(path.as_ref()).map(|(_, hex)| hex)
}

/// A file's identity for provenance: its path (as given), size and SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileDigest {
    /// The path as given to [`FileDigest::of`] (not canonicalised, so relative paths stay
    /// relative). Serialised as UTF-8, with bytes that are not UTF-8 replaced by U+FFFD, so that
    /// a manifest can always be written whatever the file names.
    #[serde(serialize_with = "serialize_path_lossy")]
    pub path: PathBuf,
    /// Size (bytes).
    pub bytes: u64,
    /// SHA-256 of the content, 64 lowercase hex digits.
    pub sha256: String,
}

fn serialize_path_lossy<S: serde::Serializer>(
    path: &Path,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    serializer.serialize_str(&path.to_string_lossy())
}

impl FileDigest {
    /// Records the size and SHA-256 of `path`, reading it unless this process already hashed the
    /// same version of the file (see [`sha256_file`]).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be opened or read.
    pub fn of(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let (bytes, sha256) = hash_file(path)?;
        Ok(Self {
            path: path.to_path_buf(),
            bytes,
            sha256,
        })
    }

    /// The digest of `content` recorded under the name `label` (for data that is not a file of
    /// its own, e.g. a table shipped inside a tool: `builtin:<name>`).
    pub fn of_bytes(label: impl Into<PathBuf>, content: &[u8]) -> Self {
        use std::fmt::Write as _;
        let sha256 = Sha256::digest(content)
            .iter()
            .fold(String::with_capacity(64), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            });
        Self {
            path: label.into(),
            bytes: content.len() as u64,
            sha256,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rerun removes the temporary files a killed writer left (dead pid), and nothing else: not
    /// this process's own, not a running process's, not other hidden files.
    #[test]
    fn stale_temporaries_of_dead_writers_are_removed_on_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // pid 4294967295 is above every Linux pid_max: never running.
        let stale = d.join(".fits.parquet.4294967295.Ab12Cd.tmp");
        let stale_link = d.join(".fits.csv.4294967295.link7.tmp");
        let mine = d.join(format!("{}Xy34Zw.tmp", temp_prefix("other.csv")));
        let running = d.join(".a.csv.1.Qq11Qq.tmp"); // pid 1 runs on every Unix system
        let hidden = d.join(".hidden.tmp");
        for p in [&stale, &stale_link, &mine, &running, &hidden] {
            std::fs::write(p, b"x").unwrap();
        }
        assert_eq!(
            temp_owner(".fits.parquet.4294967295.Ab12Cd.tmp"),
            Some(4294967295)
        );
        assert_eq!(temp_owner(".hidden.tmp"), None);
        assert_eq!(temp_owner(".7.tmp"), None);
        atomic_write_bytes(&d.join("new.txt"), b"new").unwrap();
        if cfg!(target_os = "linux") {
            assert!(!stale.exists() && !stale_link.exists());
        }
        assert!(mine.exists() && running.exists() && hidden.exists());
        assert_eq!(std::fs::read(d.join("new.txt")).unwrap(), b"new");
    }

    #[test]
    fn target_parts_of_bare_name_is_current_dir() {
        let (parent, name) = target_parts(Path::new("out.csv")).unwrap();
        assert_eq!(parent, Path::new("."));
        assert_eq!(name, "out.csv");
        assert!(target_parts(Path::new("/")).is_err());
    }

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
