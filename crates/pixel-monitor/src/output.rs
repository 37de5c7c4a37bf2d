//! Writing a job's outputs: every file complete or absent, then a provenance sidecar
//! (`<file>.manifest.json`, hep-core's [`Manifest`]) beside each, written last.
//!
//! Each sidecar records the tool, version, command line, the job's configuration, its input
//! files (size and SHA-256), seeds and the one output it describes; paths are relative to the
//! sidecar's directory where possible.
//!
//! Text files (a job writes hundreds of per-fill files) go to a temporary name in their
//! directory and are renamed into place, so no reader ever sees a half-written file; their
//! digests are taken from the bytes in memory, and their directories are synced once at the end
//! of the job instead of every file after it is written (see [`sync_dirs`]). Parquet files go through hep-core's atomic writer. A job
//! that fails midway leaves no partial file and no sidecar of an output it did not finish.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use hep_core::io::FileDigest;
use hep_core::manifest::Manifest;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The tool name recorded in manifests.
pub const TOOL: &str = "pixel-monitor";

use hep_core::files::relative_path;

/// Writes `bytes` to a temporary file beside `path` and renames it onto `path`: readers see the
/// old file or the complete new one. The data are not synced here; see [`sync_dirs`].
///
/// # Errors
/// I/O errors; the temporary file is removed then.
pub fn write_replace(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    hep_core::io::remove_stale_temporaries(dir);
    let prefix = hep_core::io::temp_prefix(&name);
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // Ordinary permissions (0o666 minus the umask) rather than tempfile's private 0o600.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(dir).map_err(|e| Error::io(path, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// Syncs the directories holding `files`, once each, so their entries (the renames) are durable
/// (best effort: some file systems refuse to sync directories). The files' data are not synced
/// one by one: a job writes hundreds of small per-fill files, and a sync each would dominate its
/// run time; a file lost to a crash before the kernel wrote it shows as a digest mismatch
/// against its manifest.
///
/// # Errors
/// None at present (kept fallible for file systems that report directory sync errors).
pub fn sync_dirs(files: &[PathBuf]) -> Result<()> {
    let dirs: BTreeSet<&Path> = files.iter().filter_map(|f| f.parent()).collect();
    for d in dirs {
        if let Ok(h) = std::fs::File::open(if d.as_os_str().is_empty() {
            Path::new(".")
        } else {
            d
        }) {
            let _ = h.sync_all();
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Collects a job's outputs and writes their sidecars at the end.
#[derive(Debug)]
pub struct Outputs {
    base: Manifest,
    inputs: Vec<PathBuf>,
    written: Vec<PathBuf>,
    /// Digests known from memory, by output index.
    digests: Vec<Option<FileDigest>>,
    /// Files written without a sync.
    unsynced: Vec<PathBuf>,
}

impl Outputs {
    /// Starts the provenance of a job with its configuration and inputs (hashed now).
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
            digests: Vec::new(),
            unsynced: Vec::new(),
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

    /// Writes a text file (temporary name, then rename) and records it.
    ///
    /// # Errors
    /// I/O errors; nothing is left at `path` then.
    pub fn text(&mut self, path: &Path, text: &str) -> Result<()> {
        Self::parent(path)?;
        write_replace(path, text.as_bytes())?;
        self.written.push(path.to_path_buf());
        self.digests.push(Some(FileDigest {
            path: path.to_path_buf(),
            bytes: text.len() as u64,
            sha256: hex(&Sha256::digest(text.as_bytes())),
        }));
        self.unsynced.push(path.to_path_buf());
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
        self.record(path);
        Ok(())
    }

    /// Records a file written by other means (a plot, a copy); it is hashed when the sidecars
    /// are written.
    pub fn record(&mut self, path: &Path) {
        self.written.push(path.to_path_buf());
        self.digests.push(None);
    }

    /// The outputs recorded so far.
    pub fn written(&self) -> &[PathBuf] {
        &self.written
    }

    /// Syncs the text files' directories, then writes the sidecar of every recorded output (each listing its
    /// one output) and returns the outputs.
    ///
    /// # Errors
    /// I/O errors.
    pub fn finish(mut self) -> Result<Vec<PathBuf>> {
        sync_dirs(&self.unsynced)?;
        self.base.finish();
        let mut rel_cache: Vec<(PathBuf, Vec<PathBuf>)> = Vec::new();
        let mut sidecars = Vec::with_capacity(self.written.len());
        for (out, known) in self.written.iter().zip(&self.digests) {
            let dir = out
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_path_buf();
            let rel = match rel_cache.iter().find(|(d, _)| *d == dir) {
                Some((_, r)) => r.clone(),
                None => {
                    let r: Vec<PathBuf> =
                        self.inputs.iter().map(|p| relative_path(&dir, p)).collect();
                    rel_cache.push((dir.clone(), r.clone()));
                    r
                }
            };
            let mut m = self.base.clone();
            for (d, p) in m.inputs.iter_mut().zip(rel) {
                d.path = p;
            }
            let mut digest = match known {
                Some(d) => d.clone(),
                None => FileDigest::of(out)?,
            };
            digest.path = PathBuf::from(out.file_name().unwrap_or_default());
            m.outputs = vec![digest];
            let mut json = serde_json::to_vec_pretty(&m).map_err(hep_core::Error::Json)?;
            json.push(b'\n');
            let side = hep_core::manifest::sidecar_path(out);
            write_replace(&side, &json)?;
            sidecars.push(side);
        }
        sync_dirs(&sidecars)?;
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
        // In the file, paths are relative to the manifest's directory ...
        let side = d.path().join("sub/out.txt.manifest.json");
        let raw: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&side).unwrap()).unwrap();
        assert_eq!(raw["inputs"][0]["path"], "../in.csv");
        assert_eq!(raw["outputs"][0]["path"], "out.txt");
        // ... and read back they name the files from here.
        let m = Manifest::read(&side).unwrap();
        assert_eq!(m.inputs[0].path, d.path().join("sub/../in.csv"));
        assert_eq!(m.outputs[0].path, out);
        assert_eq!(m.outputs[0].bytes, 6);
        assert_eq!(
            m.outputs[0].sha256,
            hep_core::io::sha256_file(&out).unwrap()
        );
        // No temporary file is left behind.
        let left: Vec<_> = std::fs::read_dir(d.path().join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 2, "{left:?}");
        // Outputs get the permissions an ordinary `File::create` would give them.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&out), mode(&input));
        }
    }
}
