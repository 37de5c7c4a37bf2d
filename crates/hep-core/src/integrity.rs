//! Integrity of inputs: a file is checked against the provenance manifest that lists it (its
//! sidecar, or the `shard.json` of its shard directory) before it is read, so a file changed or
//! corrupted after it was written is refused with a clear error. Every Parquet reader of
//! [`crate::io`] calls [`check_input`].

use std::path::Path;

use crate::error::{Error, Result};
use crate::files::FileDigest;
use crate::manifest::{Manifest, sidecar_path};

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
/// computed from the file's bytes at each call.
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

/// [`verify_sidecar`] for readers: an error if the content does not match; a warning (through
/// `tracing`, at each read) if there is no sidecar or it does not list the file, as the file's
/// integrity cannot be checked then.
///
/// # Errors
///
/// As [`verify_sidecar`].
pub fn check_input(path: &Path) -> Result<()> {
    match verify_sidecar(path)? {
        SidecarCheck::Verified => Ok(()),
        other => {
            let why = if other == SidecarCheck::NoSidecar {
                "it has no provenance manifest"
            } else {
                "its manifest does not list it"
            };
            tracing::warn!(
                "{}: integrity not checked: {why} (a corrupted file may go unnoticed)",
                path.display()
            );
            Ok(())
        }
    }
}
