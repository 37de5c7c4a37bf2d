//! The Mu2e spectrum tables shipped with the crate (Apache-2.0, `data/LICENSE-Mu2e`).
//!
//! The files are copied unmodified from Mu2e/Offline and Mu2e/Production (repository, path,
//! commit and md5 of each in `data/README.md` of this crate) and embedded gzip-compressed; they
//! are decompressed when asked for. [`tables`] gives the [`Tables`] every command uses when no
//! table directory is given.
//!
//! ```
//! let t = mu2e_ensemble::embedded::tables().unwrap();
//! assert_eq!(t.dio_heeck.as_ref().unwrap().len(), 10398);
//! assert_eq!(t.rpc.as_ref().unwrap().len(), 1400);
//! ```

use std::io::Read;
use std::path::Path;

use crate::tables::{
    DIO_CZARNECKI_FILE, DIO_HEECK_FILE, EfficiencyTable, IPA_FILE, RPC_FILE, Spectrum, Tables,
};
use crate::{Error, Result};

/// The Heeck DIO table scaled to hydrogen (Mu2e/Production `JobConfig/ensemble/tables/`).
pub const DIO_HEECK_1H_FILE: &str = "heeck_finer_binning_2016_szafron-scaled-to-1H.tbl";
/// The Heeck DIO table scaled to carbon (Mu2e/Production `JobConfig/ensemble/tables/`).
pub const DIO_HEECK_6C_FILE: &str = "heeck_finer_binning_2016_szafron-scaled-to-6C.tbl";

/// Every embedded file: (original file name, gzip-compressed bytes).
pub const FILES: [(&str, &[u8]); 6] = [
    (
        DIO_CZARNECKI_FILE,
        include_bytes!("../data/czarnecki_szafron_Al_2016.tbl.gz"),
    ),
    (
        DIO_HEECK_FILE,
        include_bytes!("../data/heeck_finer_binning_2016_szafron.tbl.gz"),
    ),
    (
        DIO_HEECK_1H_FILE,
        include_bytes!("../data/heeck_finer_binning_2016_szafron-scaled-to-1H.tbl.gz"),
    ),
    (
        DIO_HEECK_6C_FILE,
        include_bytes!("../data/heeck_finer_binning_2016_szafron-scaled-to-6C.tbl.gz"),
    ),
    (RPC_FILE, include_bytes!("../data/rpcspectrum.tbl.gz")),
    (IPA_FILE, include_bytes!("../data/ipa_spec_eff.tbl.gz")),
];

/// The original bytes of the embedded file `name` (one of [`FILES`]).
///
/// # Errors
/// [`Error::InvalidArgument`] for a name that is not embedded, or (never for the shipped data)
/// a corrupt compressed stream.
pub fn file(name: &str) -> Result<Vec<u8>> {
    let (_, gz) = FILES.iter().find(|(n, _)| *n == name).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "no embedded table '{name}': expected one of {}",
            FILES.map(|(n, _)| n).join(", ")
        ))
    })?;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(*gz)
        .read_to_end(&mut out)
        .map_err(|e| Error::InvalidArgument(format!("embedded table {name}: {e}")))?;
    Ok(out)
}

fn text(name: &str) -> Result<String> {
    String::from_utf8(file(name)?)
        .map_err(|e| Error::InvalidArgument(format!("embedded table {name}: {e}")))
}

/// The embedded spectrum `name` (a two-column table of [`FILES`]), parsed; errors name it as
/// `embedded:<name>`.
///
/// # Errors
/// As [`file()`] and [`Spectrum::parse`].
pub fn spectrum(name: &str) -> Result<Spectrum> {
    Spectrum::parse(&text(name)?, &Path::new("embedded:").join(name))
}

/// The standard tables of every generation from the embedded files: the Czarnecki (G0) and Heeck
/// (G1+) DIO spectra, the RPC spectrum and the IPA Michel efficiencies. Their
/// [`Tables::files`] is empty (nothing was read from disk).
///
/// # Errors
/// As [`spectrum`] (never for the shipped data).
pub fn tables() -> Result<Tables> {
    Ok(Tables {
        dio_czarnecki: Some(spectrum(DIO_CZARNECKI_FILE)?),
        dio_heeck: Some(spectrum(DIO_HEECK_FILE)?),
        rpc: Some(spectrum(RPC_FILE)?),
        ipa: Some(EfficiencyTable::parse(
            &text(IPA_FILE)?,
            &Path::new("embedded:").join(IPA_FILE),
        )?),
    })
}

/// The tables of a command: those in `dir` ([`Tables::load`]) if given, else the embedded ones
/// ([`tables`]).
///
/// # Errors
/// As [`Tables::load`] and [`tables`].
pub fn tables_or_embedded(dir: Option<&Path>) -> Result<Tables> {
    match dir {
        Some(d) => Tables::load(d),
        None => tables(),
    }
}
