//! Data files shipped with the crate (from `XENON1T/pax`, BSD licence, see `data/README.md`)
//! and the resolution of data sources named in the configuration.
//!
//! A source is `builtin:<file>` (one of [`BUILTIN`]), a file path, or `none` / empty (no data:
//! the documented fallback applies). Files ending in `.gz` are gunzipped.

use std::io::Read;
use std::path::PathBuf;

use crate::error::{Error, Result};

/// The embedded files, by name.
pub const BUILTIN: &[(&str, &[u8])] = &[
    ("pmts.csv", include_bytes!("../data/pmts.csv")),
    (
        "pmt_afterpulses_sr1_run16347.csv",
        include_bytes!("../data/pmt_afterpulses_sr1_run16347.csv"),
    ),
    (
        "pmt_afterpulses_sr1_run10614.csv",
        include_bytes!("../data/pmt_afterpulses_sr1_run10614.csv"),
    ),
    (
        "XENON1T_s1_xyz_ly_kr83m_SR1_pax-680_fdc-3d_v0.json",
        include_bytes!("../data/XENON1T_s1_xyz_ly_kr83m_SR1_pax-680_fdc-3d_v0.json"),
    ),
    (
        "XENON1T_s1_xyz_ly_kr83m-SR1_pax-664_fdc-adcorrtpf.json",
        include_bytes!("../data/XENON1T_s1_xyz_ly_kr83m-SR1_pax-664_fdc-adcorrtpf.json"),
    ),
    (
        "XENON1T_s2_xy_ly_SR1_v2.2.json.gz",
        include_bytes!("../data/XENON1T_s2_xy_ly_SR1_v2.2.json.gz"),
    ),
    (
        "XENON1T_FDC_SR1_AdCorrTPF.json.gz",
        include_bytes!("../data/XENON1T_FDC_SR1_AdCorrTPF.json.gz"),
    ),
    (
        "XENON1T_gas_gap_warping_SR1_July17.json",
        include_bytes!("../data/XENON1T_gas_gap_warping_SR1_July17.json"),
    ),
    (
        "XENON1T_spe_distributions.csv.gz",
        include_bytes!("../data/XENON1T_spe_distributions.csv.gz"),
    ),
    (
        "XENON1T_dummy_waveforms.csv",
        include_bytes!("../data/XENON1T_dummy_waveforms.csv"),
    ),
];

/// The bytes of a resolved source, with the name used in messages.
#[derive(Debug, Clone)]
pub struct Source {
    /// `builtin:<file>` or the path.
    pub label: PathBuf,
    /// The (gunzipped) content.
    pub bytes: Vec<u8>,
}

/// `true` when the source names no data (`none` or empty).
pub fn is_none(source: &str) -> bool {
    let s = source.trim();
    s.is_empty() || s.eq_ignore_ascii_case("none")
}

/// Resolves a source; `Ok(None)` for `none`.
///
/// # Errors
/// [`Error::Config`] for an unknown builtin name, [`Error::Core`] (I/O) for an unreadable file,
/// [`Error::Map`] for a corrupt gzip stream.
pub fn resolve(source: &str) -> Result<Option<Source>> {
    if is_none(source) {
        return Ok(None);
    }
    let (label, raw): (PathBuf, Vec<u8>) = if let Some(name) = source.strip_prefix("builtin:") {
        let bytes = BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, b)| b.to_vec())
            .ok_or_else(|| {
                Error::Config(format!(
                    "unknown builtin data file `{name}` (known: {})",
                    BUILTIN
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        (PathBuf::from(source), bytes)
    } else {
        let p = PathBuf::from(source);
        let bytes = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
        (p, bytes)
    };
    let bytes = if label.to_string_lossy().ends_with(".gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| Error::map(&label, format!("not a valid gzip file: {e}")))?;
        out
    } else {
        raw
    };
    Ok(Some(Source { label, bytes }))
}
