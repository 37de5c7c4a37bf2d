//! Writing files safely and knowing what was read: atomic output, temporaries, checksums.
//!
//! The lowest layer of hep-core's file handling, below [`crate::manifest`], [`crate::shard`] and
//! [`crate::io`] (which re-exports everything public here):
//!
//! * **Atomic output.** [`atomic_write`], [`atomic_write_bytes`] and [`AtomicFile`] write to a
//!   temporary file in the target's directory (`.{name}.{pid}.{token}.tmp`), flush, sync and
//!   rename it onto the target; a failure removes the temporary, so the target holds either the
//!   complete new content or its old one. [`remove_stale_temporaries`] removes the temporaries of
//!   processes that were killed; every atomic write calls it for its directory.
//! * **Checksums.** [`FileDigest`] (path, size, SHA-256), [`sha256_file`]; [`copy_file`] copies a
//!   file atomically and hashes it on the way; [`link_or_copy`] and [`link_tree`] hard-link
//!   outputs (merges).
//! * [`read_text`]: a whole text file, with the path in the error.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

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
pub(crate) fn create_temp(path: &Path) -> Result<(File, TempPath)> {
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
pub(crate) fn commit_temp(path: &Path, file: File, temp: TempPath) -> Result<Option<FileStamp>> {
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
/// keeps the size and falls within the same tick as the stamp goes unnoticed. Used by callers that
/// keep decoded copies of files they wrote.
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

/// Size and SHA-256 of `path`, read in chunks of [`HASH_BUFFER`] bytes. No digest is kept between
/// calls (no process-wide cache): a caller that records the same file twice reads it twice.
fn hash_file(path: &Path) -> Result<(u64, String)> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let bytes = for_each_chunk(&mut file, path, HASH_BUFFER, |chunk| {
        hasher.update(chunk);
        Ok(())
    })?;
    Ok((bytes, hex_digest(hasher)))
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
    // The link is made under a fresh random name (`.{name}.{pid}.{token}.tmp`, the shape every
    // atomic write uses, so a stale one is cleaned up the same way); tempfile retries on a clash.
    let made = tempfile::Builder::new()
        .prefix(&temp_prefix(&name))
        .suffix(".tmp")
        .make_in(parent, |temp| std::fs::hard_link(src, temp));
    match made {
        // Dropping the temporary (on a failed rename) removes it.
        Ok(temp) => temp
            .persist(dst)
            .map(drop)
            .map_err(|e| Error::io(dst, e.error)),
        Err(_) => copy_file(src, dst).map(drop),
    }
}

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
/// and its SHA-256.
///
/// # Errors
///
/// [`Error::Io`] if `src` cannot be read or `dst` cannot be written; nothing is left at `dst`
/// then.
pub fn copy_file(src: impl AsRef<Path>, dst: impl AsRef<Path>) -> Result<FileDigest> {
    let (src, dst) = (src.as_ref(), dst.as_ref());
    let mut input = File::open(src).map_err(|e| Error::io(src, e))?;
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
    commit_temp(dst, file, temp)?;
    let sha256 = hex_digest(hasher);
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
/// Every call reads the file: nothing is cached between calls, so a file changed since an
/// earlier call gets its new digest.
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be opened or read.
pub fn sha256_file(path: impl AsRef<Path>) -> Result<String> {
    hash_file(path.as_ref()).map(|(_, hex)| hex)
}

/// The path from directory `from` to `to` (`../in.csv`), through their canonical forms; `to`
/// unchanged if either cannot be resolved (a file that no longer exists, say).
pub fn relative_path(from: &Path, to: &Path) -> PathBuf {
    use std::path::Component;
    let (Ok(a), Ok(b)) = (std::fs::canonicalize(from), std::fs::canonicalize(to)) else {
        return to.to_path_buf();
    };
    let ac: Vec<Component> = a.components().collect();
    let bc: Vec<Component> = b.components().collect();
    let common = ac.iter().zip(&bc).take_while(|(x, y)| x == y).count();
    let mut p = PathBuf::new();
    for _ in common..ac.len() {
        p.push("..");
    }
    for c in &bc[common..] {
        p.push(c.as_os_str());
    }
    p
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
    /// Records the size and SHA-256 of `path`, reading the whole file (nothing is cached between
    /// calls; see [`sha256_file`]).
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
}
