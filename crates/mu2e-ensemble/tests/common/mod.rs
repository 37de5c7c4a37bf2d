//! The original projects' data files the tests compare with (the Mu2e tables as published),
//! looked up beside the workspace: missing under CI (`CI=true`) is a failure, elsewhere the
//! caller skips with a printed reason.

use std::path::{Path, PathBuf};

/// The directory of the Mu2e data files, if present.
pub fn mu2e_data_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mu2e-ensemble");
    if dir.join("rpcspectrum.tbl").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "missing test data {} (the original projects' data files must be present under CI)",
        dir.display()
    );
    eprintln!("skipping: {} not found", dir.display());
    None
}
