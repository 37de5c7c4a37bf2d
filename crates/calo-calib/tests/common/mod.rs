//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

/// The real legacy-layout `Cosmics.txt` of the original, beside the workspace. Missing under
/// CI (`CI=true`) is a failure; elsewhere the caller skips with a printed reason.
pub fn cosmics_sample() -> Option<PathBuf> {
    let p =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/calo-calib/Cosmics.txt");
    if p.is_file() {
        return Some(p);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "missing test data {} (the original projects' data files must be present under CI)",
            p.display()
        );
    }
    eprintln!("skipping: {} not found", p.display());
    None
}
