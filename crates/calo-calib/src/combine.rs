//! The reco-table maker: combination of the source and cosmic constants per roid, after
//! Mu2e CaloCalibration `Combinations/` (`CaloCalibTableMaker`, class `CalEnergyCalibCombiner`,
//! Feb 2026), with its unit, column and fallback problems fixed (listed in
//! `docs/calo-calib.md`, "Combination").
//!
//! # Algorithm (default, corrected)
//!
//! For every roid 0..2719:
//!
//! 1. Roids ≥ 2696 (PIN diodes and spares, Offline `CaloConst.hh`) are not SiPMs: they get the
//!    nominal constant, error 0, status 2 with the message `NOMINAL: not a SiPM` (the original
//!    wrote R0 or 1.0 for them; status 2 because no measurement was used).
//! 2. Each method's measurement (cosmic: `peak`, `errpeak` at `e_ref_cosmic_mev` = 20 MeV;
//!    source: `fullepeak`, `fullerrepeak` at `e_ref_source_mev` = 6.13 MeV) is **valid** if peak
//!    and error are finite, peak > 10⁻¹² and error > 0 (as in `CalEnergyCalibCombiner`). A row
//!    absent from its table is invalid.
//! 3. It **passes** if valid and its fit p-value p = 1 − F_χ²(χ²; ndf) is above `p_min` = 0.01
//!    (the original's gate; computed with [`hep_core::fit::chi2_p_value`]; p is NaN, so failing,
//!    for ndf = 0). For a cosmic row of the legacy 9-column layout, which stores only χ²/ndf, the
//!    gate uses χ² = (χ²/ndf)·n with the assumed n = `legacy_cosmic_ndf` (default 60, see
//!    [`CombineConfig::legacy_cosmic_ndf`]); `None` skips the cosmic gate (validity only).
//! 4. Passing measurements are converted to a **gain** g = peak/E_ref (ADC/MeV) with
//!    σ_g = err/E_ref and combined in gain space, where the errors are closest to Gaussian
//!    (the original combined peak/E_ref, ADC per MeV, and wrote it as MeV/ADC):
//!    - both pass: inverse-variance mean μ = (w₁g₁ + w₂g₂)/(w₁ + w₂), wᵢ = 1/σᵢ²,
//!      σ_μ = (w₁ + w₂)^(−1/2); compatibility χ²_c = (g₁ − g₂)²/(σ₁² + σ₂²),
//!      p_c = 1 − F_χ²(χ²_c; 1); if p_c < `p_compat` = 0.05 → nominal, error 0, status 1
//!      `FALLBACK: inconsistent`; else μ, status 0 `OK: C+S`;
//!    - only cosmic passes → its gain, status 101 `OK: cosmic only`;
//!    - only source passes → its gain, status 102 `OK: source only`;
//!    - neither → nominal, error 0, status 2 `FALLBACK: bad fits`.
//! 5. The output constant is adc2mev = 1/g (MeV/ADC) with error σ_g/g² (MeV/ADC).
//!
//! The **nominal** constant of a roid is its `adc2mev` in the nominal table when one is given and
//! holds the roid (used as is), otherwise `nominal_adc2mev` = 0.0625 MeV/ADC (CsI, Offline
//! `common.fcl`), or `nominal_adc2mev_lyso` = 0.00375 MeV/ADC for the 8 SiPMs of the LYSO (CAPHRI)
//! crystals.
//!
//! # Compat mode (`compat: true`): the original `CalEnergyCalibCombiner` (Feb 2026)
//!
//! Reproduces the original's arithmetic, including its bugs:
//! - the written constant is c = peak/E_ref, i.e. **ADC per MeV** (not MeV/ADC), with error
//!   err/E_ref, and the inverse-variance mean is taken of c;
//! - the fallback R0 is the nominal table's value, or **1.0** when no nominal table is given (or
//!   it lacks the roid); `nominal_adc2mev*` are not used;
//! - the cosmic p-value uses columns 8 and 9 of the file (0-based indices 7 and 8) as χ² and ndf.
//!   For the legacy 9-column file these are χ²/ndf (≈1.1) and Nhits (≈800), so p ≈ 1 for every
//!   valid channel and the cosmic gate never fails — the original's bug;
//! - roids ≥ 2696 go through the same decision as SiPMs (with absent rows this means status 2
//!   `FALLBACK: bad fits` and R0), as the original did.
//!
//! Status codes are those of Offline `CalCombinedEnergyCalibStatus`: exactly 0, 1, 2, 101, 102.

use hep_core::fit::chi2_p_value;

use crate::channel;
pub use crate::tables::write_reco_tables;
use crate::tables::{CombinedRow, CosmicRow, MAX_NOMINAL_ADC2MEV, NominalRow, SourceRow};
use crate::{Error, Result};

/// Status 0: both methods passed and agree; the constant is their weighted mean.
pub const STATUS_OK: i32 = 0;
/// Status 1: both methods passed but disagree (p_c < `p_compat`); the constant is nominal.
pub const STATUS_INCONSISTENT: i32 = 1;
/// Status 2: no method passed (or not a SiPM); the constant is nominal.
pub const STATUS_BAD_FITS: i32 = 2;
/// Status 101: only the cosmic method passed.
pub const STATUS_COSMIC_ONLY: i32 = 101;
/// Status 102: only the source method passed.
pub const STATUS_SOURCE_ONLY: i32 = 102;

/// Message of [`STATUS_OK`].
pub const MSG_OK: &str = "OK: C+S";
/// Message of [`STATUS_INCONSISTENT`].
pub const MSG_INCONSISTENT: &str = "FALLBACK: inconsistent";
/// Message of [`STATUS_BAD_FITS`] for a SiPM (or any roid in compat mode).
pub const MSG_BAD_FITS: &str = "FALLBACK: bad fits";
/// Message of [`STATUS_BAD_FITS`] for roids ≥ 2696 (PIN diodes, spares) in the default mode.
pub const MSG_NOT_SIPM: &str = "NOMINAL: not a SiPM";
/// Message of [`STATUS_COSMIC_ONLY`].
pub const MSG_COSMIC_ONLY: &str = "OK: cosmic only";
/// Message of [`STATUS_SOURCE_ONLY`].
pub const MSG_SOURCE_ONLY: &str = "OK: source only";

const N_SIPMS: usize = channel::N_SIPMS as usize;
const N_DB_ROWS: usize = channel::N_DB_ROWS as usize;

/// Smallest usable peak (ADC), as in `CalEnergyCalibCombiner`.
const MIN_PEAK: f64 = 1e-12;

/// Settings of [`combine`]. The defaults are the original's constants and the
/// corrected (non-compat) behaviour.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CombineConfig {
    /// Reference energy of the cosmic MIP peak (MeV): 20 MeV for 34.3 mm of CsI
    /// (CaloCalibration `CaloCosmicEnecalib_module.cc`).
    pub e_ref_cosmic_mev: f64,
    /// Reference energy of the source full-energy peak (MeV): 6.13 MeV (the ¹⁶N γ line).
    pub e_ref_source_mev: f64,
    /// A method passes if its fit p-value is above this (dimensionless; default 0.01).
    pub p_min: f64,
    /// Two passing methods are inconsistent if their compatibility p-value is below this
    /// (dimensionless; default 0.05, i.e. |Δ| > 1.96σ).
    pub p_compat: f64,
    /// Nominal CsI constant (MeV/ADC) used when no nominal table is given or it lacks the roid;
    /// default 0.0625 = 1/16 ADC/MeV (Offline `common.fcl`). Not used in compat mode (the original
    /// used 1.0).
    pub nominal_adc2mev: f64,
    /// Nominal constant of the LYSO SiPMs (MeV/ADC), used like `nominal_adc2mev`; default
    /// 0.00375 (Offline `common.fcl`). Not used in compat mode.
    pub nominal_adc2mev_lyso: f64,
    /// ndf assumed for legacy 9-column cosmic rows, which store only χ²/ndf: the gate uses
    /// p = 1 − F_χ²((χ²/ndf)·n; n). Default 60: the langaus fit uses 330/rebin bins on
    /// [0, 2000] ADC (55, 66 or 110 bins for rebin 6/5/3, `CaloCosmicEnecalib_module.cc`) minus 4
    /// parameters and the empty bins, so about 40–100; 60 is a middle value. `None` skips the
    /// p-value gate for legacy cosmic rows (validity only). Ignored in compat mode and for standard
    /// rows.
    pub legacy_cosmic_ndf: Option<u32>,
    /// Reproduce the original combiner's arithmetic and bugs (see the module docs).
    pub compat: bool,
}

impl Default for CombineConfig {
    fn default() -> Self {
        CombineConfig {
            e_ref_cosmic_mev: 20.0,
            e_ref_source_mev: 6.13,
            p_min: 0.01,
            p_compat: 0.05,
            nominal_adc2mev: 0.0625,
            nominal_adc2mev_lyso: 0.00375,
            legacy_cosmic_ndf: Some(60),
            compat: false,
        }
    }
}

impl CombineConfig {
    fn validate(&self) -> Result<()> {
        let pos = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(Error::InvalidArgument(format!(
                    "{name} must be finite and > 0, got {v}"
                )))
            }
        };
        pos("e_ref_cosmic_mev", self.e_ref_cosmic_mev)?;
        pos("e_ref_source_mev", self.e_ref_source_mev)?;
        pos("nominal_adc2mev", self.nominal_adc2mev)?;
        pos("nominal_adc2mev_lyso", self.nominal_adc2mev_lyso)?;
        for (name, p) in [("p_min", self.p_min), ("p_compat", self.p_compat)] {
            if !(0.0..=1.0).contains(&p) {
                return Err(Error::InvalidArgument(format!(
                    "{name} must be in [0, 1], got {p}"
                )));
            }
        }
        if self.legacy_cosmic_ndf == Some(0) {
            return Err(Error::InvalidArgument(
                "legacy_cosmic_ndf must be > 0 (or None to skip the gate)".into(),
            ));
        }
        Ok(())
    }
}

/// One method's measurement of one roid, in gain units (ADC/MeV).
#[derive(Debug, Clone, Copy)]
struct Measurement {
    gain: f64,
    err: f64,
    p_value: f64,
}

impl Measurement {
    fn from_peak(peak: f64, err: f64, e_ref: f64, p_value: f64) -> Option<Self> {
        let valid = peak.is_finite() && err.is_finite() && peak > MIN_PEAK && err > 0.0;
        valid.then(|| Measurement {
            gain: peak / e_ref,
            err: err / e_ref,
            p_value,
        })
    }

    fn passes(&self, p_min: f64) -> bool {
        self.p_value > p_min
    }
}

/// Indexes `rows` by roid; rejects roids ≥ 2720 and duplicates.
fn index_rows<'a, R>(
    rows: Option<&'a [R]>,
    what: &str,
    roid: impl Fn(&R) -> u32,
) -> Result<Vec<Option<&'a R>>> {
    let mut idx = vec![None; N_DB_ROWS];
    for r in rows.unwrap_or_default() {
        let id = roid(r) as usize;
        let slot = idx.get_mut(id).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "{what} row with roid {id} (roids are 0..{})",
                N_DB_ROWS - 1
            ))
        })?;
        if slot.is_some() {
            return Err(Error::InvalidArgument(format!(
                "{what} rows hold roid {id} twice"
            )));
        }
        *slot = Some(r);
    }
    Ok(idx)
}

fn cosmic_p_value(row: &CosmicRow, cfg: &CombineConfig) -> f64 {
    if cfg.compat {
        // The original: column [7] as χ², column [8] as ndf, whatever the layout.
        return match (row.chisq_per_ndf, row.chisq, row.ndf) {
            (Some(reduced), _, _) => chi2_p_value(reduced, row.nhits),
            (None, Some(c), Some(n)) => chi2_p_value(c, u64::from(n)),
            _ => f64::NAN,
        };
    }
    match (row.chisq, row.ndf, row.chisq_per_ndf) {
        (Some(c), Some(n), _) => chi2_p_value(c, u64::from(n)),
        (_, _, Some(reduced)) => match cfg.legacy_cosmic_ndf {
            Some(n) => chi2_p_value(reduced * f64::from(n), u64::from(n)),
            None => 1.0,
        },
        _ => f64::NAN,
    }
}

/// Combines the source and cosmic constants into the reco table, one row per roid 0..2719
/// (`CalEnergyCalibCombiner` with its fixes; see the module docs for the algorithm, compat mode and
/// status codes).
///
/// Inputs may be partial (any subset of roids, in any order; a 2696-row table is typical); an
/// absent row is an invalid measurement. `None` for a method means it is not used (the
/// original's `useCosmic`/`useSource` = 0). The output `adc2mev` is in MeV/ADC (ADC/MeV in
/// compat mode, as the original).
///
/// # Errors
///
/// [`Error::InvalidArgument`] if a table holds a roid ≥ 2720 or a roid twice, a nominal row's
/// `adc2mev` is outside `(0,` [`MAX_NOMINAL_ADC2MEV`]`]` MeV/ADC, or if `cfg` is out of its
/// domain (non-positive or non-finite energies or nominal constants, p thresholds outside
/// [0, 1], `legacy_cosmic_ndf` = 0).
pub fn combine(
    source: Option<&[SourceRow]>,
    cosmic: Option<&[CosmicRow]>,
    nominal: Option<&[NominalRow]>,
    cfg: &CombineConfig,
) -> Result<Vec<CombinedRow>> {
    cfg.validate()?;
    if let Some(bad) = nominal
        .unwrap_or_default()
        .iter()
        .find(|r| !(r.adc2mev > 0.0 && r.adc2mev <= MAX_NOMINAL_ADC2MEV))
    {
        return Err(Error::InvalidArgument(format!(
            "nominal table, roid {}: expected adc2mev in (0, {MAX_NOMINAL_ADC2MEV}] MeV/ADC, found {}",
            bad.roid, bad.adc2mev
        )));
    }
    let src_idx = index_rows(source, "source", |r| r.roid)?;
    let cos_idx = index_rows(cosmic, "cosmic", |r| r.roid)?;
    let nom_idx = index_rows(nominal, "nominal", |r| r.roid)?;

    let mut out = Vec::with_capacity(N_DB_ROWS);
    for roid in 0..N_DB_ROWS as u32 {
        let i = roid as usize;
        let nominal_value = match nom_idx[i] {
            Some(n) => n.adc2mev,
            None if cfg.compat => 1.0,
            None if channel::is_lyso_roid(roid) => cfg.nominal_adc2mev_lyso,
            None => cfg.nominal_adc2mev,
        };
        let fallback = |code: i32, msg: &str| CombinedRow {
            roid,
            adc2mev: nominal_value,
            adc2mev_err: 0.0,
            status_code: code,
            status_message: msg.to_string(),
        };
        if !cfg.compat && i >= N_SIPMS {
            out.push(fallback(STATUS_BAD_FITS, MSG_NOT_SIPM));
            continue;
        }

        let cos = cos_idx[i].and_then(|r| {
            Measurement::from_peak(
                r.peak,
                r.errpeak,
                cfg.e_ref_cosmic_mev,
                cosmic_p_value(r, cfg),
            )
        });
        let src = src_idx[i].and_then(|r| {
            Measurement::from_peak(
                r.fullepeak,
                r.fullerrepeak,
                cfg.e_ref_source_mev,
                chi2_p_value(r.chisq, u64::from(r.ndf)),
            )
        });
        let cos = cos.filter(|m| m.passes(cfg.p_min));
        let src = src.filter(|m| m.passes(cfg.p_min));

        let (gain, err, code, msg) = match (cos, src) {
            (None, None) => {
                out.push(fallback(STATUS_BAD_FITS, MSG_BAD_FITS));
                continue;
            }
            (Some(c), None) => (c.gain, c.err, STATUS_COSMIC_ONLY, MSG_COSMIC_ONLY),
            (None, Some(s)) => (s.gain, s.err, STATUS_SOURCE_ONLY, MSG_SOURCE_ONLY),
            (Some(c), Some(s)) => {
                let (w1, w2) = (c.err.powi(-2), s.err.powi(-2));
                let mean = (w1 * c.gain + w2 * s.gain) / (w1 + w2);
                let sigma = (w1 + w2).sqrt().recip();
                let chi2_c = (c.gain - s.gain).powi(2) / (c.err.powi(2) + s.err.powi(2));
                let p_c = chi2_p_value(chi2_c, 1);
                // A NaN p_c (infinite χ²_c) counts as inconsistent.
                if p_c.is_nan() || p_c < cfg.p_compat {
                    out.push(fallback(STATUS_INCONSISTENT, MSG_INCONSISTENT));
                    continue;
                }
                (mean, sigma, STATUS_OK, MSG_OK)
            }
        };
        let (adc2mev, adc2mev_err) = if cfg.compat {
            (gain, err)
        } else {
            (gain.recip(), err / (gain * gain))
        };
        out.push(CombinedRow {
            roid,
            adc2mev,
            adc2mev_err,
            status_code: code,
            status_message: msg.to_string(),
        });
    }
    Ok(out)
}

/// Number of rows per status code, in the order 0, 1, 2, 101, 102 (other codes are not
/// counted). For summaries of a [`combine`] result.
pub fn status_counts(rows: &[CombinedRow]) -> [(i32, usize); 5] {
    let mut counts = [
        (STATUS_OK, 0),
        (STATUS_INCONSISTENT, 0),
        (STATUS_BAD_FITS, 0),
        (STATUS_COSMIC_ONLY, 0),
        (STATUS_SOURCE_ONLY, 0),
    ];
    for r in rows {
        if let Some(c) = counts.iter_mut().find(|(code, _)| *code == r.status_code) {
            c.1 += 1;
        }
    }
    counts
}
