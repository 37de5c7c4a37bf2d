//! Spectrum and efficiency tables, the originals' cut rules, and samplers.
//!
//! The Mu2e tables are plain text, one `E value` pair per line (whitespace-separated; blank and
//! `#` lines skipped): the DIO spectra (`czarnecki_szafron_Al_2016.tbl`, G0;
//! `heeck_finer_binning_2016_szafron.tbl`, G1+), the RPC photon spectrum (`rpcspectrum.tbl`) and
//! the IPA Michel efficiency-versus-threshold table (`ipa_spec_eff.tbl`). The RMC spectrum is not a
//! file: it is the closure approximation built by [`Spectrum::rmc_closure`].
//!
//! # The integration rule (all generations of `normalizations.py`)
//!
//! "The fraction above `emin`" is a ratio of plain sums of table values, added in file order
//! (no trapezoid, no bin width, no interpolation, no Kahan summation), with one of the cut
//! conventions of [`EnergyCut`] (quirk 10 of `docs/mu2e-ensemble.md`: they differ per process on
//! purpose and are kept apart). The numbers are parsed with Rust's correctly rounded `f64` parser,
//! which gives the same values as Python's `float`.

use std::path::{Path, PathBuf};

use rand::RngExt;
use serde::Serialize;

use crate::constants::physics;
use crate::error::{Error, Result};

/// A cut on the energy of table rows (the originals' conventions, quirk 10).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum EnergyCut {
    /// Keep rows whose energy value satisfies `E >= emin` (MeV): DIO (all generations), IPA, and
    /// the G3 RPC.
    AtLeast(f64),
    /// Keep rows whose low bin edge satisfies `E − width/2 >= emin` (MeV): RMC (all) and the G0
    /// RPC.
    LowEdgeAtLeast {
        /// The cut (MeV).
        emin: f64,
        /// The bin width (MeV): 0.1 for RMC, `E[1] − E[0]` of the table for G0 RPC.
        width: f64,
    },
}

impl EnergyCut {
    /// True if a row of energy `e` (MeV) passes the cut (evaluated exactly as the original:
    /// `e - width / 2.0 >= emin` in f64).
    #[inline]
    pub fn passes(self, e: f64) -> bool {
        match self {
            EnergyCut::AtLeast(emin) => e >= emin,
            EnergyCut::LowEdgeAtLeast { emin, width } => e - width / 2.0 >= emin,
        }
    }
}

/// A tabulated spectrum: energies (MeV) and non-negative weights, in file order.
///
/// The weights are "points", not bin contents integrated over a width: [`Spectrum::fraction`]
/// sums them directly (as the originals).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spectrum {
    energies: Vec<f64>,
    values: Vec<f64>,
    /// Plain left-to-right sum of all values.
    total: f64,
    source: Option<PathBuf>,
}

impl Spectrum {
    /// Builds a spectrum from energies (MeV) and weights of equal length.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the lengths differ or the points are outside the validity
    /// range of a spectrum table (see [`Spectrum::read`]).
    pub fn from_points(energies: Vec<f64>, values: Vec<f64>) -> Result<Self> {
        if energies.len() != values.len() {
            return Err(Error::InvalidArgument(format!(
                "spectrum needs as many energies as values, got {} and {}",
                energies.len(),
                values.len()
            )));
        }
        let lines: Vec<u64> = (1..=energies.len() as u64).collect();
        check_spectrum(&energies, &values, &lines).map_err(|(i, expected, found)| {
            Error::InvalidArgument(format!(
                "spectrum point {i}: expected {expected}, found {found}"
            ))
        })?;
        let total = plain_sum(&values);
        Ok(Spectrum {
            energies,
            values,
            total,
            source: None,
        })
    }

    /// Reads a two-column `E value` table (whitespace-separated; blank and `#` lines skipped).
    ///
    /// Validity range (every spectrum table of the originals satisfies it; the weights there are
    /// normalised densities below 0.1): at least [`MIN_SPECTRUM_ROWS`] rows, energies finite and
    /// strictly increasing (no duplicated or unsorted energies), weights finite, non-negative and
    /// at most [`MAX_SPECTRUM_WEIGHT`], with a positive sum. A table outside it made the
    /// fractions, and so the normalisations, silently wrong (e.g. one weight of 1e308 gave a DIO
    /// normalisation of ~0).
    ///
    /// # Errors
    /// [`Error::Core`] if the file cannot be read; [`hep_core::Error::Parse`] with `path:line` for a line
    /// that is not two numbers, for the first value outside the validity range, or for a file
    /// without data.
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = read_text(path)?;
        let mut s = Self::parse(&text, path)?;
        s.source = Some(path.to_path_buf());
        Ok(s)
    }

    /// Parses the text of a two-column table; `path` is only used in error messages.
    ///
    /// # Errors
    /// As [`Spectrum::read`].
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let (energies, values, lines) =
            parse_two_columns(text, path, "energy (MeV)", "spectrum weight")?;
        check_spectrum(&energies, &values, &lines)
            .map_err(|(line, expected, found)| Error::input(path, line, expected, found))?;
        let total = plain_sum(&values);
        Ok(Spectrum {
            energies,
            values,
            total,
            source: None,
        })
    }

    /// The RMC closure-approximation photon spectrum for endpoint `kmax` (MeV), built as the
    /// originals did (G0 and G3 `rmc_normalization`): `n = trunc((kmax − 57.05)/0.1)` rows,
    /// `E_i = 57.05 + i·0.1`, `x = E_i/kmax`, `w_i = (1 − 2x + 2x²)·x·(1 − x)·(1 − x)`.
    /// For kmax = 90.1 this gives 330 rows, not 331.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `kmax` is not finite or not above 57.15 MeV (fewer than one
    /// row).
    pub fn rmc_closure(kmax: f64) -> Result<Self> {
        let start = physics::RMC_SPECTRUM_START_MEV;
        let step = physics::RMC_SPECTRUM_STEP_MEV;
        if !kmax.is_finite() || kmax > 1e4 {
            return Err(Error::InvalidArgument(format!(
                "kmax must be a finite energy in MeV, found {kmax}"
            )));
        }
        let n = ((kmax - start) / step).trunc();
        if n < 1.0 {
            return Err(Error::InvalidArgument(format!(
                "kmax = {kmax} MeV leaves no row of the RMC closure spectrum (needs kmax >= 57.15 MeV)"
            )));
        }
        let n = n as usize;
        let mut energies = Vec::with_capacity(n);
        let mut values = Vec::with_capacity(n);
        for i in 0..n {
            let e = start + i as f64 * step;
            let x = e / kmax;
            let w = (1.0 - 2.0 * x + 2.0 * x * x) * x * (1.0 - x) * (1.0 - x);
            energies.push(e);
            values.push(w);
        }
        Self::from_points(energies, values)
    }

    /// The energies (MeV), in file order.
    pub fn energies(&self) -> &[f64] {
        &self.energies
    }

    /// The weights, in file order.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.energies.len()
    }

    /// True if there are no rows (never for a constructed spectrum).
    pub fn is_empty(&self) -> bool {
        self.energies.is_empty()
    }

    /// The file this spectrum was read from, if any.
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    /// Plain left-to-right sum of all weights.
    pub fn total(&self) -> f64 {
        self.total
    }

    /// The spacing of the first two rows, `E[1] − E[0]` (MeV), as G0 RPC used for its bin
    /// width; 0 for a one-row table.
    pub fn first_spacing(&self) -> f64 {
        if self.energies.len() < 2 {
            0.0
        } else {
            self.energies[1] - self.energies[0]
        }
    }

    /// Plain left-to-right sum of the weights of rows passing `cut`.
    pub fn sum_passing(&self, cut: EnergyCut) -> f64 {
        let mut s = 0.0;
        for (e, v) in self.energies.iter().zip(&self.values) {
            if cut.passes(*e) {
                s += *v;
            }
        }
        s
    }

    /// The fraction of the spectrum passing `cut`: `Σ(passing)/Σ(all)`, 0 when the total is 0
    /// (as the originals).
    pub fn fraction(&self, cut: EnergyCut) -> f64 {
        if self.total == 0.0 {
            0.0
        } else {
            self.sum_passing(cut) / self.total
        }
    }

    /// The fraction with rows `E >= emin` (MeV) kept: DIO, G3 RPC.
    pub fn fraction_at_least(&self, emin: f64) -> f64 {
        self.fraction(EnergyCut::AtLeast(emin))
    }

    /// The fraction with rows of low edge `E − width/2 >= emin` kept: RMC (width 0.1 MeV) and
    /// G0 RPC (width = [`Spectrum::first_spacing`]).
    pub fn fraction_low_edge_at_least(&self, emin: f64, width: f64) -> f64 {
        self.fraction(EnergyCut::LowEdgeAtLeast { emin, width })
    }

    /// A sampler of energies from the rows passing `cut` (for `gen-primary`): a row is chosen
    /// with probability proportional to its weight, then the energy is uniform within that row's
    /// bin (half the spacing to each neighbour; the first/last row use their one neighbour),
    /// clipped below at the cut energy.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if no row with a positive weight passes the cut.
    pub fn sampler(&self, cut: EnergyCut) -> Result<SpectrumSampler> {
        let emin = match cut {
            EnergyCut::AtLeast(e) => e,
            EnergyCut::LowEdgeAtLeast { emin, .. } => emin,
        };
        let n = self.energies.len();
        let mut lo = Vec::new();
        let mut hi = Vec::new();
        let mut cumulative = Vec::new();
        let mut acc = 0.0;
        for i in 0..n {
            let e = self.energies[i];
            let v = self.values[i];
            if !cut.passes(e) || v <= 0.0 {
                continue;
            }
            let left = if i > 0 {
                (e - self.energies[i - 1]) / 2.0
            } else if n > 1 {
                (self.energies[1] - e) / 2.0
            } else {
                0.0
            };
            let right = if i + 1 < n {
                (self.energies[i + 1] - e) / 2.0
            } else {
                left
            };
            acc += v;
            lo.push((e - left.abs()).max(emin));
            hi.push((e + right.abs()).max(emin));
            cumulative.push(acc);
        }
        if cumulative.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "no spectrum row with a positive weight passes the cut {cut:?}"
            )));
        }
        Ok(SpectrumSampler { lo, hi, cumulative })
    }
}

/// Draws energies from the part of a [`Spectrum`] passing a cut (see [`Spectrum::sampler`]).
#[derive(Debug, Clone)]
pub struct SpectrumSampler {
    lo: Vec<f64>,
    hi: Vec<f64>,
    cumulative: Vec<f64>,
}

impl SpectrumSampler {
    /// Number of rows that can be drawn.
    pub fn rows(&self) -> usize {
        self.cumulative.len()
    }

    /// The energy (MeV) for two uniform numbers `u_row`, `u_in_bin` in `[0, 1)`: the row by
    /// inverse CDF of `u_row`, the position within the bin by `u_in_bin`. Deterministic.
    pub fn energy_at(&self, u_row: f64, u_in_bin: f64) -> f64 {
        let total = *self.cumulative.last().expect("non-empty by construction");
        let target = u_row * total;
        let i = self
            .cumulative
            .partition_point(|c| *c <= target)
            .min(self.cumulative.len() - 1);
        self.lo[i] + u_in_bin * (self.hi[i] - self.lo[i])
    }

    /// Draws one energy (MeV) with `rng` (two uniform draws).
    pub fn sample<R: RngExt + ?Sized>(&self, rng: &mut R) -> f64 {
        let a: f64 = rng.random();
        let b: f64 = rng.random();
        self.energy_at(a, b)
    }
}

/// The IPA Michel efficiency-versus-threshold table (`ipa_spec_eff.tbl` of G3): rows
/// `threshold (MeV)  efficiency` in file order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EfficiencyTable {
    thresholds: Vec<f64>,
    efficiencies: Vec<f64>,
    source: Option<PathBuf>,
}

/// Result of the legacy IPA lookup: the efficiency and whether the 1.0 fallback was used.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct IpaLookup {
    /// The efficiency used.
    pub efficiency: f64,
    /// True if no threshold was strictly above the cut and the original's 1.0 fallback applied.
    pub fallback: bool,
}

impl EfficiencyTable {
    /// Builds a table from thresholds (MeV, strictly increasing) and efficiencies in `[0, 1]`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for unequal lengths, an empty table, thresholds not strictly
    /// increasing, or efficiencies outside `[0, 1]`.
    pub fn from_points(thresholds: Vec<f64>, efficiencies: Vec<f64>) -> Result<Self> {
        if thresholds.len() != efficiencies.len() || thresholds.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "efficiency table needs equal, non-zero numbers of thresholds and efficiencies, got {} and {}",
                thresholds.len(),
                efficiencies.len()
            )));
        }
        if thresholds.windows(2).any(|w| w[1] <= w[0]) {
            return Err(Error::InvalidArgument(
                "efficiency-table thresholds must increase strictly".into(),
            ));
        }
        if efficiencies.iter().any(|e| !(0.0..=1.0).contains(e)) {
            return Err(Error::InvalidArgument(
                "efficiencies must lie in [0, 1]".into(),
            ));
        }
        Ok(EfficiencyTable {
            thresholds,
            efficiencies,
            source: None,
        })
    }

    /// Reads `threshold efficiency` rows (whitespace-separated; blank and `#` lines skipped).
    ///
    /// # Errors
    /// [`Error::Core`] if unreadable; [`hep_core::Error::Parse`] with `path:line` for a malformed row, an
    /// efficiency outside `[0, 1]`, a threshold not above the previous one, or no data.
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = read_text(path)?;
        let mut t = Self::parse(&text, path)?;
        t.source = Some(path.to_path_buf());
        Ok(t)
    }

    /// Parses the text of an efficiency table; `path` is only used in error messages.
    ///
    /// # Errors
    /// As [`EfficiencyTable::read`].
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let mut thresholds: Vec<f64> = Vec::new();
        let mut efficiencies = Vec::new();
        for (lineno, line) in data_lines(text) {
            let (t, e) = two_numbers(line, path, lineno, "threshold (MeV)", "efficiency")?;
            if !(0.0..=1.0).contains(&e) {
                return Err(Error::input(
                    path,
                    lineno,
                    "an efficiency in [0, 1]",
                    format!("{e}"),
                ));
            }
            if let Some(&prev) = thresholds.last()
                && t <= prev
            {
                return Err(Error::input(
                    path,
                    lineno,
                    format!("a threshold above the previous one ({prev} MeV)"),
                    format!("{t}"),
                ));
            }
            thresholds.push(t);
            efficiencies.push(e);
        }
        if thresholds.is_empty() {
            return Err(Error::input(path, 1, "at least one data row", "none"));
        }
        Ok(EfficiencyTable {
            thresholds,
            efficiencies,
            source: None,
        })
    }

    /// The thresholds (MeV).
    pub fn thresholds(&self) -> &[f64] {
        &self.thresholds
    }

    /// The efficiencies.
    pub fn efficiencies(&self) -> &[f64] {
        &self.efficiencies
    }

    /// The file this table was read from, if any.
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    /// The original G3 lookup (G3 `ipaMichel_normalization`, quirk 3): the efficiency of the
    /// **first row whose threshold is strictly above `ipa_de_min`**; if there is none, 1.0 (flagged
    /// as `fallback`). Reproduces the original's lookup values (see `docs/mu2e-ensemble.md`,
    /// "Reference values").
    pub fn lookup_legacy(&self, ipa_de_min: f64) -> IpaLookup {
        match self.thresholds.iter().position(|t| *t > ipa_de_min) {
            Some(i) => IpaLookup {
                efficiency: self.efficiencies[i],
                fallback: false,
            },
            None => IpaLookup {
                efficiency: 1.0,
                fallback: true,
            },
        }
    }

    /// The corrected lookup (our default): the efficiency at exactly `ipa_de_min`, interpolated
    /// linearly in `ln(efficiency)` between the two neighbouring thresholds (linearly if one of
    /// them is 0); the first efficiency below the first threshold (as the original); 0 above the
    /// last threshold (no tabulated efficiency: the cut is beyond the spectrum of the table), the
    /// last efficiency at exactly the last threshold.
    pub fn efficiency_at(&self, ipa_de_min: f64) -> f64 {
        let t = &self.thresholds;
        let e = &self.efficiencies;
        let n = t.len();
        if ipa_de_min.is_nan() {
            return f64::NAN;
        }
        if ipa_de_min <= t[0] {
            return e[0];
        }
        if ipa_de_min > t[n - 1] {
            return 0.0;
        }
        // first index with t[i] >= x (x > t[0], so i >= 1)
        let i = t.partition_point(|v| *v < ipa_de_min);
        if t[i] == ipa_de_min {
            return e[i];
        }
        let (t0, t1, e0, e1) = (t[i - 1], t[i], e[i - 1], e[i]);
        let f = (ipa_de_min - t0) / (t1 - t0);
        if e0 > 0.0 && e1 > 0.0 {
            (e0.ln() + f * (e1.ln() - e0.ln())).exp()
        } else {
            e0 + f * (e1 - e0)
        }
    }
}

/// One row of a SimEfficiencies2 table (`stage,passed,generated,efficiency`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimEfficiencyRow {
    /// Stage name (column 0), e.g. `MuBeamCat`.
    pub stage: String,
    /// Events passed (column 1; kept as f64 because the original converts with `float()`).
    pub passed: f64,
    /// Events generated (column 2).
    pub generated: f64,
    /// Efficiency (column 3).
    pub efficiency: f64,
    /// 1-based line number in the file.
    pub line: u64,
}

/// A SimEfficiencies2 table as printed by the Mu2e conditions DB tool (`dbTool print-run ...
/// --table SimEfficiencies2 --content`): CSV rows `stage,passed,generated,efficiency`, no header
/// (the rows G1 and G3 `normalizations.py` read). Replaces the hidden DB query of the originals
/// (`--simeff FILE`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimEfficiencies {
    /// The rows, in file order.
    pub rows: Vec<SimEfficiencyRow>,
    /// The file read, if any.
    pub source: Option<PathBuf>,
}

impl SimEfficiencies {
    /// Reads a SimEfficiencies2 CSV file. Blank lines and lines starting with `#` are skipped; a
    /// first line whose last field is the word `efficiency` is taken as a header and skipped.
    ///
    /// # Errors
    /// [`Error::Core`] if unreadable; [`hep_core::Error::Parse`] with `path:line` for a row without four
    /// comma-separated fields, non-numeric columns 1-3, or an empty file.
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = read_text(path)?;
        let mut s = Self::parse(&text, path)?;
        s.source = Some(path.to_path_buf());
        Ok(s)
    }

    /// Parses SimEfficiencies2 CSV text; `path` is only used in error messages.
    ///
    /// # Errors
    /// As [`SimEfficiencies::read`].
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let mut rows = Vec::new();
        for (lineno, line) in data_lines(text) {
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            if fields.len() != 4 {
                return Err(Error::input(
                    path,
                    lineno,
                    "4 comma-separated fields stage,passed,generated,efficiency",
                    format!("{} field(s) in '{line}'", fields.len()),
                ));
            }
            if rows.is_empty() && fields[3].eq_ignore_ascii_case("efficiency") {
                continue;
            }
            if fields[0].is_empty() {
                return Err(Error::input(path, lineno, "a stage name", "an empty field"));
            }
            let num = |k: usize, what: &str| -> Result<f64> {
                fields[k]
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| {
                        Error::input(path, lineno, format!("a number ({what})"), fields[k])
                    })
            };
            rows.push(SimEfficiencyRow {
                stage: fields[0].to_string(),
                passed: num(1, "passed")?,
                generated: num(2, "generated")?,
                efficiency: num(3, "efficiency")?,
                line: lineno,
            });
        }
        if rows.is_empty() {
            return Err(Error::input(
                path,
                1,
                "at least one row stage,passed,generated,efficiency",
                "none",
            ));
        }
        Ok(SimEfficiencies { rows, source: None })
    }

    /// The first row of `stage`, if any.
    pub fn get(&self, stage: &str) -> Option<&SimEfficiencyRow> {
        self.rows.iter().find(|r| r.stage == stage)
    }

    /// The product `1.0 · eff(row) · eff(row) ...` over the rows whose stage is one of `stages`,
    /// in file order (the originals' loop), and the number of rows used.
    pub fn product_of_efficiencies(&self, stages: &[&str]) -> (f64, usize) {
        let mut p = 1.0;
        let mut n = 0;
        for r in &self.rows {
            if stages.contains(&r.stage.as_str()) {
                p *= r.efficiency;
                n += 1;
            }
        }
        (p, n)
    }
}

/// Standard file name of the G0 DIO table (Offline `czarnecki_szafron_Al_2016.tbl`).
pub const DIO_CZARNECKI_FILE: &str = "czarnecki_szafron_Al_2016.tbl";
/// Standard file name of the G1+ DIO table (Production `heeck_finer_binning_2016_szafron.tbl`).
pub const DIO_HEECK_FILE: &str = "heeck_finer_binning_2016_szafron.tbl";
/// Standard file name of the RPC photon spectrum (Bistirlich, `rpcspectrum.tbl`).
pub const RPC_FILE: &str = "rpcspectrum.tbl";
/// Standard file name of the IPA Michel efficiency table (`ipa_spec_eff.tbl`).
pub const IPA_FILE: &str = "ipa_spec_eff.tbl";

/// The external tables of the normalisations. Every table is optional: a generation fails with
/// a clear error only when it needs a table that is missing (the DIO spectrum falls back to the
/// analytic endpoint spectrum of the `dio` module: `dio::dio_spectrum`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tables {
    /// G0 DIO spectrum (`czarnecki_szafron_Al_2016.tbl`).
    pub dio_czarnecki: Option<Spectrum>,
    /// G1+ DIO spectrum (`heeck_finer_binning_2016_szafron.tbl`).
    pub dio_heeck: Option<Spectrum>,
    /// RPC photon spectrum (`rpcspectrum.tbl`).
    pub rpc: Option<Spectrum>,
    /// IPA Michel efficiency table (`ipa_spec_eff.tbl`).
    pub ipa: Option<EfficiencyTable>,
}

impl Tables {
    /// No tables at all (DIO then uses the analytic spectrum; G3 RPC/IPA cannot be computed).
    pub fn none() -> Self {
        Self::default()
    }

    /// Loads every standard table present in `dir` ([`DIO_CZARNECKI_FILE`], [`DIO_HEECK_FILE`],
    /// [`RPC_FILE`], [`IPA_FILE`]); absent files are left `None`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `dir` is not a directory or holds none of the tables;
    /// otherwise the errors of [`Spectrum::read`] / [`EfficiencyTable::read`] with `file:line`.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(Error::InvalidArgument(format!(
                "tables directory {} does not exist or is not a directory",
                dir.display()
            )));
        }
        let opt = |name: &str| {
            let p = dir.join(name);
            p.is_file().then_some(p)
        };
        let t = Tables {
            dio_czarnecki: opt(DIO_CZARNECKI_FILE).map(Spectrum::read).transpose()?,
            dio_heeck: opt(DIO_HEECK_FILE).map(Spectrum::read).transpose()?,
            rpc: opt(RPC_FILE).map(Spectrum::read).transpose()?,
            ipa: opt(IPA_FILE).map(EfficiencyTable::read).transpose()?,
        };
        if t.files().is_empty() {
            return Err(Error::InvalidArgument(format!(
                "tables directory {} holds none of {DIO_CZARNECKI_FILE}, {DIO_HEECK_FILE}, {RPC_FILE}, {IPA_FILE}",
                dir.display()
            )));
        }
        Ok(t)
    }

    /// The files the tables were read from (for manifests).
    pub fn files(&self) -> Vec<PathBuf> {
        [
            self.dio_czarnecki.as_ref().and_then(|s| s.source()),
            self.dio_heeck.as_ref().and_then(|s| s.source()),
            self.rpc.as_ref().and_then(|s| s.source()),
            self.ipa.as_ref().and_then(|s| s.source()),
        ]
        .into_iter()
        .flatten()
        .map(Path::to_path_buf)
        .collect()
    }
}

// ------------------------------------------------------------------------------ helpers

fn read_text(path: &Path) -> Result<String> {
    Ok(hep_core::io::read_text(path)?)
}

/// Non-blank, non-`#` lines with their 1-based numbers.
fn data_lines(text: &str) -> impl Iterator<Item = (u64, &str)> {
    text.lines().enumerate().filter_map(|(i, l)| {
        let t = l.trim();
        (!t.is_empty() && !t.starts_with('#')).then_some((i as u64 + 1, t))
    })
}

fn two_numbers(
    line: &str,
    path: &Path,
    lineno: u64,
    first: &str,
    second: &str,
) -> Result<(f64, f64)> {
    let mut it = line.split_whitespace();
    let a = it.next();
    let b = it.next();
    let extra = it.next();
    let parse = |s: Option<&str>| {
        s.and_then(|s| s.parse::<f64>().ok())
            .filter(|v| v.is_finite())
    };
    match (parse(a), parse(b), extra) {
        (Some(x), Some(y), None) => Ok((x, y)),
        _ => Err(Error::input(
            path,
            lineno,
            format!("two numbers '{first} {second}'"),
            format!("'{line}'"),
        )),
    }
}

/// Fewest rows of a spectrum table.
pub const MIN_SPECTRUM_ROWS: usize = 2;
/// Largest accepted spectrum weight: far above any real table (their weights are normalised
/// densities below 0.1), far below where sums of 10^5 weights lose all precision.
pub const MAX_SPECTRUM_WEIGHT: f64 = 1e30;

/// The validity range of a spectrum (see [`Spectrum::read`]); on failure the line (or point
/// number) from `lines`, what was expected and what was found.
fn check_spectrum(
    energies: &[f64],
    values: &[f64],
    lines: &[u64],
) -> std::result::Result<(), (u64, String, String)> {
    let last = lines.last().copied().unwrap_or(1);
    if energies.len() < MIN_SPECTRUM_ROWS {
        return Err((
            last,
            format!("at least {MIN_SPECTRUM_ROWS} rows in a spectrum table"),
            format!("{} row(s)", energies.len()),
        ));
    }
    for (i, ((&e, &w), &line)) in energies.iter().zip(values).zip(lines).enumerate() {
        if !e.is_finite() {
            return Err((line, "a finite energy (MeV)".into(), format!("{e}")));
        }
        if i > 0 && e <= energies[i - 1] {
            return Err((
                line,
                format!(
                    "an energy above the previous row's {} MeV (energies strictly increasing)",
                    energies[i - 1]
                ),
                format!("{e}"),
            ));
        }
        if !(0.0..=MAX_SPECTRUM_WEIGHT).contains(&w) {
            return Err((
                line,
                format!("a spectrum weight in [0, {MAX_SPECTRUM_WEIGHT:e}]"),
                format!("{w}"),
            ));
        }
    }
    if !(plain_sum(values) > 0.0) {
        return Err((
            last,
            "a spectrum with a positive sum of weights".into(),
            "all weights 0".into(),
        ));
    }
    Ok(())
}

fn parse_two_columns(
    text: &str,
    path: &Path,
    first: &str,
    second: &str,
) -> Result<(Vec<f64>, Vec<f64>, Vec<u64>)> {
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    let mut lines = Vec::new();
    for (lineno, line) in data_lines(text) {
        let (x, y) = two_numbers(line, path, lineno, first, second)?;
        if y < 0.0 {
            return Err(Error::input(
                path,
                lineno,
                format!("a non-negative {second}"),
                format!("{y}"),
            ));
        }
        xs.push(x);
        ys.push(y);
        lines.push(lineno);
    }
    if xs.is_empty() {
        return Err(Error::input(path, 1, "at least one data row", "none"));
    }
    Ok((xs, ys, lines))
}

/// Left-to-right sum (no compensation), as Python's `sum` and the originals' loops.
fn plain_sum(v: &[f64]) -> f64 {
    let mut s = 0.0;
    for x in v {
        s += *x;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rmc_row_count_follows_truncation() {
        let s = Spectrum::rmc_closure(90.1).unwrap();
        assert_eq!(s.len(), 330);
        assert_eq!(s.energies()[0], 57.05);
        assert_eq!(s.energies()[2], 57.05 + 2.0 * 0.1);
        assert_eq!(Spectrum::rmc_closure(91.0).unwrap().len(), 339);
        assert!(Spectrum::rmc_closure(57.1).is_err());
    }

    #[test]
    fn located_parse_errors() {
        let p = Path::new("x.tbl");
        let e = Spectrum::parse("1 2\n\n# c\n3 abc\n", p)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "x.tbl:4: expected two numbers 'energy (MeV) spectrum weight', found '3 abc'"
        );
        let e = Spectrum::parse("1 -2\n", p).unwrap_err().to_string();
        assert!(e.starts_with("x.tbl:1: expected a non-negative"), "{e}");
        let e = Spectrum::parse("\n# only\n", p).unwrap_err().to_string();
        assert!(e.contains("at least one data row"), "{e}");
        let e = EfficiencyTable::parse("50 0.1\n49 0.05\n", p)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("x.tbl:2: expected a threshold above"), "{e}");
        let e = SimEfficiencies::parse("MuBeamCat,1,2\n", Path::new("s.csv"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("s.csv:1: expected 4 comma-separated"), "{e}");
        let e = SimEfficiencies::parse("A,1,2,3\nB,1,x,3\n", Path::new("s.csv"))
            .unwrap_err()
            .to_string();
        assert_eq!(e, "s.csv:2: expected a number (generated), found x");
    }

    #[test]
    fn cuts_and_fractions() {
        let s = Spectrum::from_points(vec![1.0, 2.0, 3.0], vec![1.0, 2.0, 1.0]).unwrap();
        assert_eq!(s.fraction_at_least(2.0), 0.75);
        assert_eq!(s.fraction_at_least(0.0), 1.0);
        assert_eq!(s.fraction_at_least(3.5), 0.0);
        assert_eq!(s.fraction_low_edge_at_least(2.0, 1.0), 0.25);
        assert_eq!(s.fraction_low_edge_at_least(1.5, 1.0), 0.75);
        // One row, all zeros, duplicate energies, a huge weight: outside the validity range.
        assert!(Spectrum::from_points(vec![1.0], vec![1.0]).is_err());
        assert!(Spectrum::from_points(vec![1.0, 2.0], vec![0.0, 0.0]).is_err());
        assert!(Spectrum::from_points(vec![1.0, 1.0], vec![1.0, 1.0]).is_err());
        assert!(Spectrum::from_points(vec![1.0, 2.0], vec![1e308, 1.0]).is_err());
    }

    #[test]
    fn sampler_stays_in_cut_and_follows_weights() {
        let s = Spectrum::from_points(vec![1.0, 2.0, 3.0, 4.0], vec![5.0, 1.0, 3.0, 0.0]).unwrap();
        let sm = s.sampler(EnergyCut::AtLeast(2.0)).unwrap();
        assert_eq!(sm.rows(), 2);
        // row 2.0 carries 1/4 of the weight, bin [2.0 (clipped), 2.5]
        assert_eq!(sm.energy_at(0.0, 0.0), 2.0);
        assert_eq!(sm.energy_at(0.2, 1.0), 2.5);
        assert_eq!(sm.energy_at(0.25, 0.5), 3.0);
        assert_eq!(sm.energy_at(0.999, 1.0), 3.5);
        assert!(s.sampler(EnergyCut::AtLeast(3.5)).is_err());
    }

    #[test]
    fn ipa_lookups() {
        let t =
            EfficiencyTable::from_points(vec![50.0, 60.0, 70.0], vec![0.1, 0.01, 0.001]).unwrap();
        assert_eq!(t.lookup_legacy(40.0).efficiency, 0.1);
        assert_eq!(t.lookup_legacy(50.0).efficiency, 0.01);
        assert_eq!(t.lookup_legacy(69.9).efficiency, 0.001);
        assert_eq!(
            t.lookup_legacy(70.0),
            IpaLookup {
                efficiency: 1.0,
                fallback: true
            }
        );
        assert_eq!(t.efficiency_at(40.0), 0.1);
        assert_eq!(t.efficiency_at(50.0), 0.1);
        assert!((t.efficiency_at(55.0) - (0.1f64 * 0.01).sqrt()).abs() < 1e-15);
        assert_eq!(t.efficiency_at(70.0), 0.001);
        assert_eq!(t.efficiency_at(70.1), 0.0);
    }

    #[test]
    fn simeff_products_in_file_order() {
        let s = SimEfficiencies::parse(
            "# header comment\nstage,passed,generated,efficiency\nA,1,10,0.5\nB,2,10,0.25\nA2,0,0,3\n",
            Path::new("s.csv"),
        )
        .unwrap();
        assert_eq!(s.rows.len(), 3);
        assert_eq!(s.get("B").unwrap().line, 4);
        assert_eq!(s.product_of_efficiencies(&["A", "B"]), (0.125, 2));
        assert_eq!(s.product_of_efficiencies(&["Z"]), (1.0, 0));
    }
}
