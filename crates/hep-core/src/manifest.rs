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
//!   "inputs": [{ "path": "../data/run1.csv", "bytes": 1234, "sha256": "ba78..." }],
//!   "outputs": [{ "path": "fits.parquet", "bytes": 5678, "sha256": "e3b0..." }],
//!   "seeds": { "master": 12345 },
//!   "start_utc": "2026-11-21T10:00:00.000Z",
//!   "end_utc": "2026-11-21T10:00:01.234Z"
//! }
//! ```
//!
//! Paths in the file are relative to the manifest's own directory (`fits.parquet` beside it,
//! `../data/run1.csv` one level up), so a manifest stays right wherever its directory is moved
//! or copied together with its inputs, and does not depend on where the command ran. In memory
//! they are paths that work from the current directory: [`Manifest::write`] turns them into
//! relative ones, [`Manifest::read`] joins them to the manifest's directory. A file that cannot
//! be resolved when the manifest is written (deleted in the meantime) keeps its path as
//! recorded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::files::{FileDigest, atomic_write_bytes, relative_path};

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
        let path = path.as_ref();
        let dir = manifest_dir(path);
        let mut m = self.clone();
        for d in m.inputs.iter_mut().chain(m.outputs.iter_mut()) {
            d.path = relative_path(dir, &d.path);
        }
        let mut json = serde_json::to_vec_pretty(&m)?;
        json.push(b'\n');
        atomic_write_bytes(path, &json)
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
        let mut m: Self = serde_json::from_slice(&bytes).map_err(|e| {
            let line = u64::try_from(e.line()).unwrap_or(0);
            Error::parse(
                path,
                line,
                "a hep-rs provenance manifest (JSON)",
                e.to_string(),
            )
        })?;
        let dir = manifest_dir(path);
        for d in m.inputs.iter_mut().chain(m.outputs.iter_mut()) {
            if d.path.is_relative() {
                d.path = dir.join(&d.path);
            }
        }
        Ok(m)
    }
}

/// The directory of a manifest file (`.` for a bare file name).
fn manifest_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
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
