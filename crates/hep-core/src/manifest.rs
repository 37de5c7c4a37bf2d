//! The provenance sidecar: a JSON [`Manifest`] written next to every output.
//!
//! A tool creates a manifest when it starts ([`Manifest::start`]), records its configuration,
//! inputs (path, size, SHA-256), random seeds and outputs while it runs, stamps the end time with
//! [`Manifest::finish`] and writes it beside the output with [`Manifest::write_sidecar`]. For an
//! output `out/fits.parquet` the sidecar is `out/fits.parquet.manifest.json` ([`sidecar_path`]).
//!
//! A sidecar looks like this (pretty-printed JSON, keys in this order):
//!
//! ```json
//! {
//!   "tool": "calo-calib",
//!   "version": "0.1.0",
//!   "command_line": ["calo-calib", "fit", "--output", "out"],
//!   "configuration": { "bins": 100 },
//!   "inputs": [{ "path": "data/run1.csv", "bytes": 1234, "sha256": "ba78..." }],
//!   "outputs": [{ "path": "out/fits.parquet", "bytes": 5678, "sha256": "e3b0..." }],
//!   "seeds": { "master": 12345 },
//!   "start_utc": "2026-11-21T10:00:00.000Z",
//!   "end_utc": "2026-11-21T10:00:01.234Z"
//! }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::io::{FileDigest, atomic_write_bytes};

/// Suffix appended to an output's file name to name its sidecar.
pub const SIDECAR_SUFFIX: &str = ".manifest.json";

/// The current time in UTC as RFC 3339 with millisecond precision and a `Z` suffix, e.g.
/// `2026-11-21T10:00:00.000Z`.
pub fn now_utc() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The provenance record of one run of a tool.
///
/// Fields added in later versions are optional when reading (`#[serde(default)]`), so older
/// sidecars stay readable.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Manifest {
    /// Name of the tool (binary or library) that produced the outputs.
    pub tool: String,
    /// Version of the tool, normally `env!("CARGO_PKG_VERSION")`.
    pub version: String,
    /// The command line, program name first.
    pub command_line: Vec<String>,
    /// The effective configuration, defaults included (`null` when not recorded).
    #[serde(default)]
    pub configuration: serde_json::Value,
    /// Input files with size and SHA-256, in the order they were added.
    #[serde(default)]
    pub inputs: Vec<FileDigest>,
    /// Output files with size and SHA-256, in the order they were added.
    #[serde(default)]
    pub outputs: Vec<FileDigest>,
    /// Random seeds by name (e.g. `"master"`).
    #[serde(default)]
    pub seeds: BTreeMap<String, u64>,
    /// When the run started: RFC 3339 in UTC with millisecond precision (see [`now_utc`]).
    pub start_utc: String,
    /// When the run finished, in the same format; `None` until [`Manifest::finish`].
    #[serde(default)]
    pub end_utc: Option<String>,
}

impl Manifest {
    /// Starts a manifest for `tool` at `version`: records the current time as the start and the
    /// process's command line (`std::env::args_os`, non-UTF-8 parts replaced lossily).
    pub fn start(tool: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            tool: tool.into(),
            version: version.into(),
            command_line: std::env::args_os()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            configuration: serde_json::Value::Null,
            inputs: Vec::new(),
            outputs: Vec::new(),
            seeds: BTreeMap::new(),
            start_utc: now_utc(),
            end_utc: None,
        }
    }

    /// Replaces the recorded command line (e.g. for a library call or a test).
    #[must_use]
    pub fn with_command_line(mut self, command_line: Vec<String>) -> Self {
        self.command_line = command_line;
        self
    }

    /// Records `configuration`, serialised to a JSON value.
    ///
    /// # Errors
    ///
    /// [`Error::Json`] if the configuration cannot be represented as JSON (e.g. a map with
    /// non-string keys).
    pub fn with_configuration(mut self, configuration: &impl Serialize) -> Result<Self> {
        self.configuration = serde_json::to_value(configuration)?;
        Ok(self)
    }

    /// Reads the input file `path` and records its path, size and SHA-256.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be read.
    pub fn add_input(&mut self, path: impl AsRef<Path>) -> Result<()> {
        self.inputs.push(FileDigest::of(path)?);
        Ok(())
    }

    /// Reads the finished output file `path` and records its path, size and SHA-256.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be read (call this after the output is written).
    pub fn add_output(&mut self, path: impl AsRef<Path>) -> Result<()> {
        self.outputs.push(FileDigest::of(path)?);
        Ok(())
    }

    /// Records the random seed `seed` under `name`, replacing an earlier seed of that name.
    pub fn add_seed(&mut self, name: impl Into<String>, seed: u64) {
        self.seeds.insert(name.into(), seed);
    }

    /// Records the current time as the end of the run (again, if called twice).
    pub fn finish(&mut self) {
        self.end_utc = Some(now_utc());
    }

    /// Writes the manifest to `path` atomically as pretty-printed JSON with a trailing newline.
    ///
    /// # Errors
    ///
    /// [`Error::Json`] if serialisation fails (e.g. a path that is not valid UTF-8);
    /// [`Error::Io`] or [`Error::InvalidArgument`] as [`atomic_write_bytes`].
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        let mut json = serde_json::to_vec_pretty(self)?;
        json.push(b'\n');
        atomic_write_bytes(path.as_ref(), &json)
    }

    /// Writes the manifest as the sidecar of `output`, i.e. to [`sidecar_path`]`(output)`, and
    /// returns that path.
    ///
    /// # Errors
    ///
    /// As [`Manifest::write`].
    pub fn write_sidecar(&self, output: impl AsRef<Path>) -> Result<PathBuf> {
        let path = sidecar_path(output.as_ref());
        self.write(&path)?;
        Ok(path)
    }

    /// Reads a manifest written by [`Manifest::write`].
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be read; [`Error::Parse`] with the JSON line number if it
    /// is not a valid manifest.
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            let line = u64::try_from(e.line()).unwrap_or(0);
            Error::parse(
                path,
                line,
                "a hep-rs provenance manifest (JSON)",
                e.to_string(),
            )
        })
    }
}

/// Outcome of [`verify_sidecar`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SidecarCheck {
    /// The sidecar lists the file and its size and SHA-256 match.
    Verified,
    /// There is no sidecar next to the file (e.g. a file from another tool).
    NoSidecar,
    /// The sidecar exists but does not list this file among its outputs.
    NotListed,
}

/// Checks `path` against the provenance sidecar next to it ([`sidecar_path`]), or for a file of
/// a shard directory against the shard's `shard.json`: if the manifest lists an output with the
/// same file name, the file's size and SHA-256 must equal one of the
/// recorded ones. This catches files changed or corrupted after they were written (a flipped
/// byte inside a Parquet page is otherwise often decoded without complaint). The SHA-256 is
/// cached per file version, so a file this process wrote or checked is not hashed again.
///
/// # Errors
///
/// [`Error::Integrity`] naming the file and the sidecar if the content does not match;
/// [`Error::Io`] if the file cannot be read; [`Error::Parse`] if the sidecar is not a manifest.
pub fn verify_sidecar(path: &Path) -> Result<SidecarCheck> {
    let name = path.file_name();
    let mut sidecar = sidecar_path(path);
    let outputs = if sidecar.is_file() {
        Manifest::read(&sidecar)?.outputs
    } else {
        // A file of a shard directory is listed in the shard's manifest instead.
        let shard_manifest = path.with_file_name(crate::shard::SHARD_MANIFEST);
        if !shard_manifest.is_file() || path.file_name() == shard_manifest.file_name() {
            return Ok(SidecarCheck::NoSidecar);
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        sidecar = shard_manifest;
        crate::shard::ShardManifest::read(dir)?.outputs
    };
    let listed: Vec<&FileDigest> = outputs
        .iter()
        .filter(|d| d.path.file_name() == name)
        .collect();
    if listed.is_empty() {
        return Ok(SidecarCheck::NotListed);
    }
    let now = FileDigest::of(path)?;
    if listed
        .iter()
        .any(|d| d.bytes == now.bytes && d.sha256 == now.sha256)
    {
        return Ok(SidecarCheck::Verified);
    }
    let recorded = listed[0];
    Err(Error::Integrity {
        path: path.to_path_buf(),
        reason: format!(
            "content does not match its manifest {} ({} bytes, sha256 {} recorded; {} bytes, \
             sha256 {} found): the file was changed or corrupted after it was written",
            sidecar.display(),
            recorded.bytes,
            recorded.sha256,
            now.bytes,
            now.sha256
        ),
    })
}

/// [`verify_sidecar`] for readers: an error if the content does not match; a warning (once per
/// path and process, through `tracing`) if there is no sidecar or it does not list the file, as
/// the file's integrity cannot be checked then.
///
/// # Errors
///
/// As [`verify_sidecar`].
pub fn check_input(path: &Path) -> Result<()> {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};
    static WARNED: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    match verify_sidecar(path)? {
        SidecarCheck::Verified => Ok(()),
        other => {
            let first = WARNED
                .get_or_init(|| Mutex::new(HashSet::new()))
                .lock()
                .map(|mut set| set.insert(path.to_path_buf()))
                .unwrap_or(true);
            if first {
                let why = if other == SidecarCheck::NoSidecar {
                    "it has no provenance manifest"
                } else {
                    "its manifest does not list it"
                };
                tracing::warn!(
                    "{}: integrity not checked: {why} (a corrupted file may go unnoticed)",
                    path.display()
                );
            }
            Ok(())
        }
    }
}

/// The sidecar path of `output`: the same directory, file name plus `.manifest.json`
/// (`out/fits.parquet` gives `out/fits.parquet.manifest.json`).
pub fn sidecar_path(output: &Path) -> PathBuf {
    let mut name = output.file_name().unwrap_or_default().to_owned();
    name.push(SIDECAR_SUFFIX);
    output.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecar_next_to_output() {
        assert_eq!(
            sidecar_path(Path::new("out/fits.parquet")),
            PathBuf::from("out/fits.parquet.manifest.json")
        );
        assert_eq!(
            sidecar_path(Path::new("fits.parquet")),
            PathBuf::from("fits.parquet.manifest.json")
        );
    }

    #[test]
    fn now_is_rfc3339_utc_millis() {
        let t = now_utc();
        assert!(t.ends_with('Z'), "{t}");
        assert_eq!(t.len(), "2026-11-21T10:00:00.000Z".len(), "{t}");
        chrono::DateTime::parse_from_rfc3339(&t).unwrap();
    }
}
