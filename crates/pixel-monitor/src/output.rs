//! Writing a job's outputs: every file atomically, then a provenance sidecar
//! (`<file>.manifest.json`, hep-core's [`Manifest`]) beside each, written last.
//!
//! Each sidecar records the tool, version, command line, the job's configuration, its input
//! files (size and SHA-256), seeds and the one output it describes; paths are relative to the
//! sidecar's directory where possible. A job that fails midway leaves no half-written file (each
//! file is written to a temporary name and renamed) and no sidecar for an output it did not
//! finish.

use std::path::{Component, Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use hep_core::io::FileDigest;
use hep_core::manifest::Manifest;
use serde::Serialize;

use crate::error::{Error, Result};

/// The tool name recorded in manifests.
pub const TOOL: &str = "pixel-monitor";

/// The path from directory `from` to `to`, through their canonical forms; `to` unchanged if
/// either cannot be resolved.
pub fn relative_path(from: &Path, to: &Path) -> PathBuf {
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

/// Collects a job's outputs and writes their sidecars at the end.
#[derive(Debug)]
pub struct Outputs {
    base: Manifest,
    inputs: Vec<PathBuf>,
    written: Vec<PathBuf>,
}

impl Outputs {
    /// Starts the provenance of a job with its configuration and inputs (hashed now, so an input
    /// changed during the job is noticed as the later hash's difference).
    ///
    /// # Errors
    /// [`Error::Core`] if the configuration cannot be serialised or an input cannot be read.
    pub fn start(configuration: &impl Serialize, inputs: &[&Path]) -> Result<Self> {
        let mut base =
            Manifest::start(TOOL, env!("CARGO_PKG_VERSION")).with_configuration(configuration)?;
        for p in inputs {
            base.add_input(p)?;
        }
        Ok(Self {
            base,
            inputs: inputs.iter().map(|p| p.to_path_buf()).collect(),
            written: Vec::new(),
        })
    }

    /// Records a seed.
    pub fn add_seed(&mut self, name: &str, seed: u64) {
        self.base.add_seed(name, seed);
    }

    /// Creates the parent directory of `path`.
    fn parent(path: &Path) -> Result<()> {
        if let Some(d) = path.parent()
            && !d.as_os_str().is_empty()
        {
            std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
        }
        Ok(())
    }

    /// Writes a text file atomically and records it.
    ///
    /// # Errors
    /// I/O errors; nothing is left at `path` then.
    pub fn text(&mut self, path: &Path, text: &str) -> Result<()> {
        Self::parent(path)?;
        hep_core::io::atomic_write_bytes(path, text.as_bytes())?;
        self.written.push(path.to_path_buf());
        Ok(())
    }

    /// Writes a Parquet file atomically (streaming, one batch after the other) and records it.
    ///
    /// # Errors
    /// Parquet and I/O errors; nothing is left at `path` then.
    pub fn parquet(
        &mut self,
        path: &Path,
        schema: SchemaRef,
        batches: &[RecordBatch],
        metadata: &[(String, String)],
    ) -> Result<()> {
        Self::parent(path)?;
        let mut w = hep_core::io::ParquetWriter::create(path, schema, metadata)?;
        for b in batches {
            w.write(b)?;
        }
        w.finish()?;
        self.written.push(path.to_path_buf());
        Ok(())
    }

    /// Records a file written by other means (a plot, a copy).
    pub fn record(&mut self, path: &Path) {
        self.written.push(path.to_path_buf());
    }

    /// The outputs recorded so far.
    pub fn written(&self) -> &[PathBuf] {
        &self.written
    }

    /// Writes the sidecar of every recorded output (each listing its one output) and returns the
    /// outputs.
    ///
    /// # Errors
    /// I/O errors.
    pub fn finish(mut self) -> Result<Vec<PathBuf>> {
        self.base.finish();
        for out in &self.written {
            let dir = out
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let mut m = self.base.clone();
            for (d, p) in m.inputs.iter_mut().zip(&self.inputs) {
                d.path = relative_path(dir, p);
            }
            let mut digest = FileDigest::of(out)?;
            digest.path = PathBuf::from(out.file_name().unwrap_or_default());
            m.outputs = vec![digest];
            m.write_sidecar(out)?;
        }
        Ok(self.written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecars_beside_outputs() {
        let d = tempfile::tempdir().unwrap();
        let input = d.path().join("in.csv");
        std::fs::write(&input, "a\n").unwrap();
        let mut o = Outputs::start(&serde_json::json!({"k": 1}), &[&input]).unwrap();
        let out = d.path().join("sub/out.txt");
        o.text(&out, "hello\n").unwrap();
        let files = o.finish().unwrap();
        assert_eq!(files, vec![out.clone()]);
        let m = Manifest::read(d.path().join("sub/out.txt.manifest.json")).unwrap();
        assert_eq!(m.inputs[0].path, PathBuf::from("../in.csv"));
        assert_eq!(m.outputs[0].path, PathBuf::from("out.txt"));
        assert_eq!(m.outputs[0].bytes, 6);
    }
}
