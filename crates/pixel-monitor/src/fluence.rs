//! The FLUKA fluence field and the fluence of modules and readout groups
//! (`getFluenceField.py`, `utils/modules.py`, `fluence/helpers.py` of PixelMonitoring).
//!
//! # The USRBIN ASCII file
//!
//! A FLUKA R-Z USRBIN scoring converted to text: sections separated by lines whose content is
//! exactly `1` (the FORTRAN form feed; text before the first is ignored), in the order all
//! particles, neutrons, anti-neutrons, protons, anti-protons, pions. Each section starts with
//! header lines (title, binning, `R coordinate: from <lo> to <hi> cm, <n> bins (...)`,
//! `Z coordinate: from <lo> to <hi> cm, <n> bins (...)`, axis, `Data follow ...`), then the
//! `n_r × n_z` values, `r` running fastest, any number per line, then a text line and the same
//! number of percentage errors. The binning is read from the `R coordinate` and `Z coordinate`
//! lines (the original hard-coded 200 r bins on 0-20 cm and 700 z bins on −350-350 cm). Values
//! are the 1 MeV neutron-equivalent fluence in silicon **per pp inelastic collision**
//! (n_eq cm⁻² per collision).
//!
//! # Lookup
//!
//! A value at `(r, z)` is the content of the bin that ROOT's `TAxis::FindBin` gives: below the
//! range the underflow bin, at or above the upper edge the overflow bin (both hold 0), otherwise
//! bin `1 + floor(n (x − lo) / (hi − lo))`. The field is kept in f64; the `fluka_th2f` switch
//! rounds the contents to float32 as the original's `TH2F` did, and moves each error one bin down
//! in r and in z as the original's 0-based indices passed to the 1-based `SetBinError` did.
//!
//! # Module and readout-group fluence
//!
//! A BPix module of length 6.48 cm along z is sampled at `z_k = z_c − 3.24 + 0.05 + 0.1 k` while
//! `z_k < z_c + 3.24` (floating-point accumulation, as the original: 65 samples), at the module's
//! r; ⟨F⟩ = (0.1 / 6.48) Σ_k F(r_c, z_k). An FPix module is sampled the same way along r at its
//! z. For an integrated luminosity L (fb⁻¹) and cross-section σ (mb), Φ = ⟨F⟩ · L · σ · 1e12
//! (n_eq cm⁻²), evaluated as the original does (`(dz/size) · ΣF · (L · 1e-15) · (σ · 1e27)`); for
//! a luminosity rate (fb⁻¹ s⁻¹) it is a fluence rate (n_eq cm⁻² s⁻¹). A readout group's fluence
//! is the mean over its modules; the original's `ReadoutGroup.getAverageFluence` returns the
//! **sum** (its division is commented out), which the `rog_fluence_sum` switch reproduces.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch};
use arrow_schema::{DataType, Schema};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::fills::field_with_unit;
use crate::geometry::{Geometry, Module, ModuleSize, ReadoutGroup};
use crate::pyfmt;

/// The species of the six sections, in file order.
pub const SPECIES: [&str; 6] = ["allpart", "neut", "aneut", "prot", "aprot", "pions"];

/// A uniformly binned axis with ROOT's bin numbering (0 underflow, 1..=n, n+1 overflow).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Axis {
    /// Number of bins.
    pub n: usize,
    /// Lower edge (cm).
    pub lo: f64,
    /// Upper edge (cm).
    pub hi: f64,
}

impl Axis {
    /// ROOT's `TAxis::FindBin` for fixed bins (see the module documentation).
    pub fn find_bin(&self, x: f64) -> usize {
        if x < self.lo {
            0
        } else if !(x < self.hi) {
            self.n + 1
        } else {
            1 + (self.n as f64 * (x - self.lo) / (self.hi - self.lo)) as usize
        }
    }

    /// Bin width (cm).
    pub fn width(&self) -> f64 {
        (self.hi - self.lo) / self.n as f64
    }

    /// Centre of 0-based bin `i` (cm).
    pub fn center(&self, i: usize) -> f64 {
        self.lo + (i as f64 + 0.5) * self.width()
    }
}

/// One species' map: contents and relative errors, `[iz * n_r + ir]`, 0-based bins.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeciesMap {
    /// Species name (`allpart`, `neut`, ...).
    pub name: String,
    /// Fluence per pp collision (n_eq cm⁻²).
    pub values: Vec<f64>,
    /// Relative errors (fraction, not %); empty if the file had none.
    pub rel_errors: Vec<f64>,
    /// The value texts as in the file (kept only when reading for the text outputs).
    pub texts: Vec<String>,
    /// The error texts (percent) as in the file (kept only for the text outputs).
    pub error_texts: Vec<String>,
}

/// The fluence field F(r, z) per pp collision.
#[derive(Debug, Clone, PartialEq)]
pub struct FlukaField {
    /// r axis (cm).
    pub r: Axis,
    /// z axis (cm).
    pub z: Axis,
    /// The species maps; the first is all particles (`allpart`), the one used for fluences.
    pub species: Vec<SpeciesMap>,
    /// Whether the contents were rounded to float32 (`fluka_th2f`).
    pub float32: bool,
}

fn parse_coordinate_line(line: &str) -> Option<(char, Axis)> {
    // `R coordinate: from  0.0000E+00 to  2.0000E+01 cm,   200 bins ( 1.0000E-01 cm wide)`
    let t: Vec<&str> = line.split_whitespace().collect();
    let i = t.iter().position(|w| *w == "coordinate:")?;
    let axis = t.get(i.checked_sub(1)?)?.chars().next()?;
    if t.get(i + 1) != Some(&"from") || t.get(i + 3) != Some(&"to") {
        return None;
    }
    let lo: f64 = t.get(i + 2)?.parse().ok()?;
    let hi: f64 = t.get(i + 4)?.parse().ok()?;
    let n: usize = t.get(i + 6)?.parse().ok()?;
    if t.get(i + 7).map(|w| w.starts_with("bin")) != Some(true) || n == 0 || !(hi > lo) {
        return None;
    }
    Some((axis.to_ascii_uppercase(), Axis { n, lo, hi }))
}

/// Reads a USRBIN ASCII file (see the module documentation). With `keep_text` the value and
/// error texts are kept for [`write_species_texts`]. With `float32` the contents are rounded to
/// float32.
///
/// # Errors
/// A located parse error for a section without `R coordinate`/`Z coordinate` lines, a non-numeric
/// value, the wrong number of values or errors, or no section at all; I/O errors.
pub fn read_usrbin_ascii(path: &Path, keep_text: bool, float32: bool) -> Result<FlukaField> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let lines: Vec<&str> = text.lines().collect();
    let seps: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.trim() == "1")
        .map(|(i, _)| i)
        .collect();
    if seps.is_empty() {
        return Err(Error::parse(
            path,
            1,
            "a USRBIN ASCII file with sections separated by lines `1`",
            "no such line",
        ));
    }
    let mut axes: Option<(Axis, Axis)> = None;
    let mut species = Vec::new();
    for (k, &s) in seps.iter().enumerate() {
        let end = seps.get(k + 1).copied().unwrap_or(lines.len());
        let sec = &lines[s + 1..end];
        let line_no = |j: usize| (s + 2 + j) as u64;
        let mut r_axis = None;
        let mut z_axis = None;
        let mut first_data = None;
        for (j, l) in sec.iter().enumerate() {
            if let Some((c, a)) = parse_coordinate_line(l) {
                match c {
                    'R' => r_axis = Some(a),
                    'Z' => z_axis = Some(a),
                    _ => {}
                }
            }
            if l.trim_start().starts_with("Data follow") {
                first_data = Some(j + 1);
                break;
            }
        }
        let (Some(ra), Some(za), Some(first)) = (r_axis, z_axis, first_data) else {
            return Err(Error::parse(
                path,
                line_no(0),
                "a section header with `R coordinate: from ... to ... cm, N bins`, `Z coordinate: ...` and `Data follow ...` lines",
                format!("section {} without them", k + 1),
            ));
        };
        if let Some((r0, z0)) = axes {
            if r0 != ra || z0 != za {
                return Err(Error::parse(
                    path,
                    line_no(0),
                    "the same binning in every section",
                    format!("section {} differs", k + 1),
                ));
            }
        } else {
            axes = Some((ra, za));
        }
        let n = ra.n * za.n;
        let mut values = Vec::with_capacity(n);
        let mut errors = Vec::new();
        let mut texts = Vec::new();
        let mut error_texts = Vec::new();
        let mut in_errors = false;
        for (j, l) in sec.iter().enumerate().skip(first) {
            let toks: Vec<&str> = l.split_whitespace().collect();
            if toks.is_empty() {
                continue;
            }
            let nums: Option<Vec<f64>> = toks.iter().map(|t| t.parse::<f64>().ok()).collect();
            match nums {
                Some(v) => {
                    let target = if in_errors { &mut errors } else { &mut values };
                    if target.len() + v.len() > n {
                        return Err(Error::parse(
                            path,
                            line_no(j),
                            format!("{n} values ({} r × {} z bins)", ra.n, za.n),
                            "more",
                        ));
                    }
                    if let Some(bad) = v.iter().position(|x| !x.is_finite()) {
                        return Err(Error::parse(
                            path,
                            line_no(j),
                            "finite numbers",
                            format!("`{}`", toks[bad]),
                        ));
                    }
                    target.extend(v);
                    if keep_text {
                        let tt = if in_errors {
                            &mut error_texts
                        } else {
                            &mut texts
                        };
                        tt.extend(toks.iter().map(|t| t.to_string()));
                    }
                }
                None => {
                    if values.len() == n && !in_errors {
                        in_errors = true;
                        continue;
                    }
                    if in_errors && errors.is_empty() {
                        continue;
                    }
                    let bad = toks
                        .iter()
                        .find(|t| t.parse::<f64>().is_err())
                        .unwrap_or(&"");
                    return Err(Error::parse(
                        path,
                        line_no(j),
                        "a line of numbers",
                        format!("`{bad}` in `{}`", l.trim()),
                    ));
                }
            }
        }
        if values.len() != n || !(errors.is_empty() || errors.len() == n) {
            return Err(Error::parse(
                path,
                (s + 1 + sec.len()) as u64,
                format!("{n} values and {n} or no errors in section {}", k + 1),
                format!("{} values and {} errors", values.len(), errors.len()),
            ));
        }
        if float32 {
            for v in &mut values {
                *v = f64::from(*v as f32);
            }
        }
        species.push(SpeciesMap {
            name: SPECIES
                .get(k)
                .map_or_else(|| format!("section{}", k + 1), |s| s.to_string()),
            values,
            rel_errors: errors.into_iter().map(|e| e * 1e-2).collect(),
            texts,
            error_texts,
        });
    }
    let (r, z) = axes.expect("at least one section");
    Ok(FlukaField {
        r,
        z,
        species,
        float32,
    })
}

impl FlukaField {
    /// A field from a function of the bin centres (for tests and simulation), one species
    /// `allpart`, no errors.
    pub fn from_fn(r: Axis, z: Axis, f: impl Fn(f64, f64) -> f64) -> Self {
        let mut values = Vec::with_capacity(r.n * z.n);
        for iz in 0..z.n {
            for ir in 0..r.n {
                values.push(f(r.center(ir), z.center(iz)));
            }
        }
        Self {
            r,
            z,
            species: vec![SpeciesMap {
                name: "allpart".into(),
                values,
                rel_errors: Vec::new(),
                texts: Vec::new(),
                error_texts: Vec::new(),
            }],
            float32: false,
        }
    }

    /// The content of ROOT bin `(bx, by)` (1-based; 0 and n+1 are under- and overflow, which
    /// hold 0) of the all-particle map.
    pub fn bin_content(&self, bx: usize, by: usize) -> f64 {
        if bx == 0 || by == 0 || bx > self.r.n || by > self.z.n {
            return 0.0;
        }
        self.species[0].values[(by - 1) * self.r.n + (bx - 1)]
    }

    /// F(r, z) of all particles (n_eq cm⁻² per collision), by `FindBin` lookup.
    pub fn at(&self, r_cm: f64, z_cm: f64) -> f64 {
        self.bin_content(self.r.find_bin(r_cm), self.z.find_bin(z_cm))
    }

    /// The absolute error of 0-based bin `(ir, iz)` of species `k`: content × relative error of
    /// the same bin, or with `shifted` (the `fluka_th2f` switch) of bin `(ir + 1, iz + 1)`, 0
    /// beyond the map.
    pub fn abs_error(&self, k: usize, ir: usize, iz: usize, shifted: bool) -> f64 {
        let m = &self.species[k];
        if m.rel_errors.is_empty() {
            return f64::NAN;
        }
        let (er, ez) = if shifted { (ir + 1, iz + 1) } else { (ir, iz) };
        if er >= self.r.n || ez >= self.z.n {
            return 0.0;
        }
        m.values[iz * self.r.n + ir] * m.rel_errors[ez * self.r.n + er]
    }

    /// The sum Σ_k F(r_c, z_k) over the 65 samples of a BPix module (see the module docs).
    pub fn bpix_module_sum(&self, m: &Module, size: &ModuleSize) -> f64 {
        let dz = 0.1;
        let mut z = m.z_cm - size.z_cm / 2.0 + dz / 2.0;
        let bx = self.r.find_bin(m.r_cm);
        let mut sum = 0.0;
        while z < m.z_cm + size.z_cm / 2.0 {
            sum += self.bin_content(bx, self.z.find_bin(z));
            z += dz;
        }
        sum
    }

    /// The sum over the samples along r of an FPix module.
    pub fn fpix_module_sum(&self, m: &Module, size: &ModuleSize) -> f64 {
        let dr = 0.1;
        let mut r = m.r_cm - size.r_cm / 2.0 + dr / 2.0;
        let by = self.z.find_bin(m.z_cm);
        let mut sum = 0.0;
        while r < m.r_cm + size.r_cm / 2.0 {
            sum += self.bin_content(self.r.find_bin(r), by);
            r += dr;
        }
        sum
    }
}

/// The fluence of one module for luminosity `lumi` (fb⁻¹, or fb⁻¹ s⁻¹ for a rate) and
/// cross-section `sigma_mb`, from its sample sum, in the original's operation order
/// (`BPixModule.getAverageFluence`): `(dz / size) · sum · (lumi · 1e-15) · (σ · 1e27)`.
pub fn module_fluence(sample_sum: f64, size_cm: f64, lumi: f64, sigma_mb: f64) -> f64 {
    (0.1 / size_cm) * sample_sum * (lumi * 1e-15) * (sigma_mb * 1e27)
}

/// Per-collision module fluences of the BPix readout groups: for each group (in
/// [`Geometry::readout_groups`] order) the sample sums of its modules in table order.
#[derive(Debug, Clone, PartialEq)]
pub struct RogFluence {
    /// Per readout group, the modules' sample sums.
    pub module_sums: Vec<Vec<f64>>,
    /// The BPix module length along z (cm).
    pub size_cm: f64,
    /// Sum over modules (`rog_fluence_sum`) instead of the mean.
    pub sum_over_modules: bool,
}

impl RogFluence {
    /// Precomputes the module sample sums of every readout group.
    pub fn new(field: &FlukaField, sum_over_modules: bool) -> Self {
        let geo = Geometry::phase1();
        let module_sums = geo
            .readout_groups
            .iter()
            .map(|g| {
                g.modules
                    .iter()
                    .map(|&i| field.bpix_module_sum(&geo.bpix_modules[i], &geo.bpix_size))
                    .collect()
            })
            .collect();
        Self {
            module_sums,
            size_cm: geo.bpix_size.z_cm,
            sum_over_modules,
        }
    }

    /// The fluence (n_eq cm⁻², or n_eq cm⁻² s⁻¹ for a rate) of readout group `rog` for `lumi`
    /// (fb⁻¹ or fb⁻¹ s⁻¹) and `sigma_mb`: the sum of the module fluences in table order
    /// (`ReadoutGroup.getAverageFluence`), divided by the number of modules unless summing.
    pub fn fluence(&self, rog: usize, lumi: f64, sigma_mb: f64) -> f64 {
        let sums = &self.module_sums[rog];
        let mut total = 0.0;
        for &s in sums {
            total += module_fluence(s, self.size_cm, lumi, sigma_mb);
        }
        if self.sum_over_modules {
            total
        } else {
            total / sums.len() as f64
        }
    }

    /// The per-collision fluence of readout group `rog` (n_eq cm⁻² per collision): the mean
    /// (or sum) over its modules of ⟨F⟩.
    pub fn per_collision(&self, rog: usize) -> f64 {
        let sums = &self.module_sums[rog];
        let total: f64 = sums.iter().map(|s| 0.1 / self.size_cm * s).sum();
        if self.sum_over_modules {
            total
        } else {
            total / sums.len() as f64
        }
    }
}

/// The per-collision fluence of a module (n_eq cm⁻² per collision): (0.1/length) × sample sum.
pub fn module_per_collision(geo: &Geometry, field: &FlukaField, m: &Module, bpix: bool) -> f64 {
    if bpix {
        0.1 / geo.bpix_size.z_cm * field.bpix_module_sum(m, &geo.bpix_size)
    } else {
        0.1 / geo.fpix_size.r_cm * field.fpix_module_sum(m, &geo.fpix_size)
    }
}

/// The mean per-collision fluence of the modules of a readout group.
pub fn rog_per_collision_mean(geo: &Geometry, field: &FlukaField, g: &ReadoutGroup) -> f64 {
    g.modules
        .iter()
        .map(|&i| module_per_collision(geo, field, &geo.bpix_modules[i], true))
        .sum::<f64>()
        / g.modules.len() as f64
}

/// Python's `round(x, 2)` followed by `str`.
fn round2_repr(x: f64) -> String {
    let r: f64 = format!("{x:.2}").parse().expect("formatted number");
    pyfmt::repr(r)
}

/// The exact decimal sum of number texts (Python `Decimal`), converted to the nearest double.
fn decimal_sum(texts: &[&str]) -> Option<f64> {
    let mut parts: Vec<(i128, i32)> = Vec::new();
    for t in texts {
        let t = t.trim();
        let (mant, exp) = match t.find(['e', 'E']) {
            Some(i) => (&t[..i], t[i + 1..].parse::<i32>().ok()?),
            None => (t, 0),
        };
        let neg = mant.starts_with('-');
        let mant = mant.trim_start_matches(['-', '+']);
        let (ip, fp) = mant.split_once('.').unwrap_or((mant, ""));
        let digits = format!("{ip}{fp}");
        if digits.is_empty() || digits.len() > 30 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let m: i128 = digits.parse().ok()?;
        parts.push((if neg { -m } else { m }, exp - fp.len() as i32));
    }
    let min_exp = parts
        .iter()
        .filter(|p| p.0 != 0)
        .map(|p| p.1)
        .min()
        .unwrap_or(0);
    let mut total: i128 = 0;
    for (m, e) in parts {
        if m == 0 {
            continue;
        }
        let shift = u32::try_from(e - min_exp).ok()?;
        total = total.checked_add(m.checked_mul(10i128.checked_pow(shift)?)?)?;
    }
    format!("{total}e{min_exp}").parse().ok()
}

/// Writes the original's text files of a field read with `keep_text`: per species
/// `<species><suffix>.txt` (`z = <zc>` lines, then `<rc>\t<value as in the file>`), the error files
/// `<species><suffix>_error.txt` (`<ir> <iz> <relative error:%.4E>`, 0-based bins), and the sums
/// `charged<suffix>.txt` (protons + anti-protons + pions) and `neutral<suffix>.txt` (neutrons +
/// anti-neutrons), `%.4E` of the exact decimal sum. Returns the paths written.
///
/// # Errors
/// [`Error::Data`] if the field was read without its texts or has fewer than six species; I/O
/// errors (files are written atomically).
pub fn write_species_texts(
    field: &FlukaField,
    dir: &Path,
    suffix: &str,
) -> Result<Vec<std::path::PathBuf>> {
    if field.species.len() < 6 || field.species[0].texts.is_empty() {
        return Err(Error::Data(
            "the species texts need a USRBIN file of six sections read with its texts".into(),
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let (r, z) = (field.r, field.z);
    let mut written = Vec::new();
    // z and r of each row as the original accumulates them (rpos += width per value).
    let row_labels: Vec<(String, Vec<String>)> = (0..z.n)
        .map(|iz| {
            let zc = z.lo + z.width() / 2.0 + iz as f64 * z.width();
            let mut rpos = r.lo + r.width() / 2.0;
            let rs = (0..r.n)
                .map(|_| {
                    let s = round2_repr(rpos);
                    rpos += r.width();
                    s
                })
                .collect();
            (round2_repr(zc), rs)
        })
        .collect();
    let species_text = |vals: &dyn Fn(usize) -> String| -> String {
        let mut s = String::with_capacity(r.n * z.n * 24);
        for (iz, (zl, rs)) in row_labels.iter().enumerate() {
            s.push_str(&format!("z = {zl}\n"));
            for (ir, rl) in rs.iter().enumerate() {
                s.push_str(rl);
                s.push('\t');
                s.push_str(&vals(iz * r.n + ir));
                s.push('\n');
            }
        }
        s
    };
    let write = |name: String, text: String, written: &mut Vec<std::path::PathBuf>| -> Result<()> {
        let p = dir.join(name);
        hep_core::io::atomic_write(&p, |w| {
            w.write_all(text.as_bytes())
                .map_err(|e| hep_core::Error::io(&p, e))
        })?;
        written.push(p);
        Ok(())
    };
    for m in &field.species {
        let text = species_text(&|i| m.texts[i].clone());
        write(format!("{}{suffix}.txt", m.name), text, &mut written)?;
        let mut e = String::new();
        if !m.error_texts.is_empty() {
            for iz in 0..z.n {
                let mut rpos = r.lo + r.width() / 2.0;
                let zpos = z.lo + z.width() / 2.0 + iz as f64 * z.width();
                for ir in 0..r.n {
                    let binx = ((rpos - r.lo) / r.width()) as i64;
                    let biny = ((zpos - z.lo) / z.width()) as i64;
                    let err: f64 = m.error_texts[iz * r.n + ir]
                        .parse::<f64>()
                        .unwrap_or(f64::NAN)
                        * 1e-2;
                    e.push_str(&format!("{binx} {biny} {}\n", pyfmt::sci_upper(err, 4)));
                    rpos += r.width();
                }
            }
        }
        write(format!("{}{suffix}_error.txt", m.name), e, &mut written)?;
    }
    for (name, idx) in [
        ("charged", vec![3usize, 4, 5]),
        ("neutral", vec![1usize, 2]),
    ] {
        let text = species_text(&|i| {
            let toks: Vec<&str> = idx
                .iter()
                .map(|&k| field.species[k].texts[i].as_str())
                .collect();
            let s = decimal_sum(&toks)
                .unwrap_or_else(|| toks.iter().filter_map(|t| t.parse::<f64>().ok()).sum());
            pyfmt::sci_upper(s, 4)
        });
        write(format!("{name}{suffix}.txt"), text, &mut written)?;
    }
    Ok(written)
}

/// The field as an Arrow batch, one row per bin (`r_cm`, `z_cm` bin centres; one Float64 column
/// per species, n_eq cm⁻² per collision; `allpart_error` absolute error, null without errors),
/// with the binning in the batch's key-value metadata (`r_bins`, `r_lo_cm`, `r_hi_cm`, `z_bins`,
/// `z_lo_cm`, `z_hi_cm`). `shifted_errors` places the errors as the `fluka_th2f` switch does.
///
/// # Errors
/// Arrow errors (none for a consistent field).
pub fn field_batch(
    field: &FlukaField,
    shifted_errors: bool,
) -> Result<(RecordBatch, Vec<(String, String)>)> {
    let (r, z) = (field.r, field.z);
    let n = r.n * z.n;
    let mut fields = vec![
        field_with_unit("r_cm", DataType::Float64, false, "cm"),
        field_with_unit("z_cm", DataType::Float64, false, "cm"),
    ];
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(Float64Array::from_iter_values(
            (0..n).map(|i| r.center(i % r.n)),
        )),
        Arc::new(Float64Array::from_iter_values(
            (0..n).map(|i| z.center(i / r.n)),
        )),
    ];
    for m in &field.species {
        fields.push(field_with_unit(
            &m.name,
            DataType::Float64,
            false,
            "n_eq cm^-2 per pp collision",
        ));
        cols.push(Arc::new(Float64Array::from(m.values.clone())));
    }
    fields.push(field_with_unit(
        "allpart_error",
        DataType::Float64,
        true,
        "n_eq cm^-2 per pp collision",
    ));
    cols.push(Arc::new(Float64Array::from_iter((0..n).map(|i| {
        let e = field.abs_error(0, i % r.n, i / r.n, shifted_errors);
        (!e.is_nan()).then_some(e)
    }))));
    let meta: Vec<(String, String)> = [
        ("r_bins", r.n.to_string()),
        ("r_lo_cm", pyfmt::repr(r.lo)),
        ("r_hi_cm", pyfmt::repr(r.hi)),
        ("z_bins", z.n.to_string()),
        ("z_lo_cm", pyfmt::repr(z.lo)),
        ("z_hi_cm", pyfmt::repr(z.hi)),
        ("float32", field.float32.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?;
    Ok((batch, meta))
}

/// Reads a field written by [`field_batch`] to Parquet (the cached form), or a USRBIN ASCII file
/// (any other extension).
///
/// # Errors
/// A located error for missing metadata or columns; otherwise as [`read_usrbin_ascii`].
pub fn read_field(path: &Path, float32: bool) -> Result<FlukaField> {
    if hep_core::io::file_extension(path).as_deref() != Some("parquet") {
        return read_usrbin_ascii(path, false, float32);
    }
    let batch = hep_core::io::read_parquet_table(path)?;
    let meta: BTreeMap<String, String> = hep_core::io::read_parquet_metadata(path)?;
    let get = |k: &str| -> Result<f64> {
        meta.get(k).and_then(|v| v.parse().ok()).ok_or_else(|| {
            Error::parse(
                path,
                0,
                format!("the key-value metadata `{k}` of a pixel-monitor field"),
                "none",
            )
        })
    };
    let r = Axis {
        n: get("r_bins")? as usize,
        lo: get("r_lo_cm")?,
        hi: get("r_hi_cm")?,
    };
    let z = Axis {
        n: get("z_bins")? as usize,
        lo: get("z_lo_cm")?,
        hi: get("z_hi_cm")?,
    };
    if batch.num_rows() != r.n * z.n {
        return Err(Error::parse(
            path,
            0,
            format!("{} rows", r.n * z.n),
            batch.num_rows().to_string(),
        ));
    }
    let mut species = Vec::new();
    for name in SPECIES {
        if batch.column_by_name(name).is_none() {
            continue;
        }
        let col = hep_core::io::column_f64(&batch, name)?;
        let mut values: Vec<f64> = col.values().to_vec();
        if float32 {
            for v in &mut values {
                *v = f64::from(*v as f32);
            }
        }
        species.push(SpeciesMap {
            name: name.to_string(),
            values,
            rel_errors: Vec::new(),
            texts: Vec::new(),
            error_texts: Vec::new(),
        });
    }
    if species.first().map(|s| s.name.as_str()) != Some("allpart") {
        return Err(Error::parse(path, 0, "an `allpart` column", "none"));
    }
    Ok(FlukaField {
        r,
        z,
        species,
        float32,
    })
}

/// One section of a USRBIN ASCII file to write: species name, values, percentage errors.
pub type SpeciesData<'a> = (&'a str, Vec<f64>, Option<Vec<f64>>);

/// Writes a field in the USRBIN ASCII layout (for simulations and tests): six sections of
/// `species` (or as many as given), 10 values per line in `%.4E`, with percentage errors
/// `errors_percent` (same layout; all 0 if `None`).
///
/// # Errors
/// I/O errors (atomic write).
pub fn write_usrbin_ascii(
    path: &Path,
    r: Axis,
    z: Axis,
    species: &[SpeciesData<'_>],
) -> Result<()> {
    let mut s = String::new();
    for (k, (name, values, errs)) in species.iter().enumerate() {
        s.push_str("1\n");
        s.push_str(&format!(
            " *****  hep-rs pixel-monitor simulated field, {name}  *****\n\n"
        ));
        s.push_str(&format!(
            " R - Z binning n. {:>3}  \"{name:<10}\" , generalized particle n. {}\n",
            k + 1,
            201 + k
        ));
        s.push_str(&format!(
            "      R coordinate: from {} to {} cm, {:>5} bins ({} cm wide)\n",
            pyfmt::sci_upper(r.lo, 4),
            pyfmt::sci_upper(r.hi, 4),
            r.n,
            pyfmt::sci_upper(r.width(), 4)
        ));
        s.push_str(&format!(
            "      Z coordinate: from {} to {} cm, {:>5} bins ({} cm wide)\n",
            pyfmt::sci_upper(z.lo, 4),
            pyfmt::sci_upper(z.hi, 4),
            z.n,
            pyfmt::sci_upper(z.width(), 4)
        ));
        s.push_str("      axis coordinates: X = 0.0000E+00, Y = 0.0000E+00 cm\n");
        s.push_str(
            "      Data follow in a matrix A(ir,iphi,iz), format (1(5x,1p,10(1x,e11.4)))\n\n",
        );
        let put = |s: &mut String, v: &[f64]| {
            for chunk in v.chunks(10) {
                s.push_str("     ");
                for x in chunk {
                    s.push(' ');
                    s.push_str(&format!("{:>11}", pyfmt::sci_upper(*x, 4)));
                }
                s.push('\n');
            }
        };
        put(&mut s, values);
        s.push_str("\n       Percentage errors follow in a matrix A(ir,iphi,iz), format (1(5x,1p,10(1x,e11.4)))\n\n");
        let zeros = vec![0.0; values.len()];
        put(&mut s, errs.as_deref().unwrap_or(&zeros));
    }
    hep_core::io::atomic_write(path, |w| {
        w.write_all(s.as_bytes())
            .map_err(|e| hep_core::Error::io(path, e))
    })?;
    Ok(())
}

/// Loads the field of a job (Parquet or ASCII).
///
/// # Errors
/// As [`read_field`].
pub fn load_field(path: &Path, compat: &crate::config::Compat) -> Result<FlukaField> {
    read_field(path, compat.fluka_th2f)
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: Axis = Axis {
        n: 200,
        lo: 0.0,
        hi: 20.0,
    };
    const Z: Axis = Axis {
        n: 700,
        lo: -350.0,
        hi: 350.0,
    };

    #[test]
    fn find_bin_like_root() {
        assert_eq!(R.find_bin(-0.01), 0);
        assert_eq!(R.find_bin(0.0), 1);
        assert_eq!(R.find_bin(0.05), 1);
        assert_eq!(R.find_bin(2.93), 30);
        assert_eq!(R.find_bin(20.0), 201);
        assert_eq!(Z.find_bin(-349.5), 1);
        assert_eq!(Z.find_bin(0.0), 351);
    }

    #[test]
    fn sixty_five_samples_and_fluence() {
        let field = FlukaField::from_fn(R, Z, |_, _| 1.0);
        let geo = Geometry::phase1();
        let m = &geo.bpix_modules[0];
        assert_eq!(field.bpix_module_sum(m, &geo.bpix_size), 65.0);
        // <F> = 0.1/6.48 * 65 per collision; times 1 fb^-1 x 80 mb x 1e12.
        let want = 0.1 / 6.48 * 65.0 * 80e12;
        let got = module_fluence(65.0, 6.48, 1.0, 80.0);
        assert!((got / want - 1.0).abs() < 1e-15);
        let rf = RogFluence::new(&field, false);
        let l1 = geo.rog_index("BPix_BmI_SEC1_LYR1").unwrap();
        assert!((rf.fluence(l1, 1.0, 80.0) / want - 1.0).abs() < 1e-15);
        let rs = RogFluence::new(&field, true);
        assert!((rs.fluence(l1, 1.0, 80.0) / (3.0 * want) - 1.0).abs() < 1e-15);
        let l4 = geo.rog_index("BPix_BmI_SEC1_LYR4").unwrap();
        assert!((rs.per_collision(l4) / (16.0 * 0.1 / 6.48 * 65.0) - 1.0).abs() < 1e-15);
    }

    #[test]
    fn ascii_round_trip_and_texts() {
        let d = tempfile::tempdir().unwrap();
        let r = Axis {
            n: 20,
            lo: 0.0,
            hi: 2.0,
        };
        let z = Axis {
            n: 3,
            lo: -1.5,
            hi: 1.5,
        };
        let f = |a: f64| -> Vec<f64> { (0..60).map(|i| a * (1.0 + i as f64)).collect() };
        let species: Vec<SpeciesData<'_>> = SPECIES
            .iter()
            .enumerate()
            .map(|(k, s)| (*s, f(1e-3 * (k + 1) as f64), Some(vec![2.5; 60])))
            .collect();
        let p = d.path().join("usrbin_ascii");
        write_usrbin_ascii(&p, r, z, &species).unwrap();
        let field = read_usrbin_ascii(&p, true, false).unwrap();
        assert_eq!(field.r, r);
        assert_eq!(field.z, z);
        assert_eq!(field.species.len(), 6);
        assert_eq!(field.species[2].values[5], 1.8e-2);
        assert_eq!(field.species[0].rel_errors[0], 0.025);
        assert_eq!(field.at(0.05, -1.0), 1e-3);
        let files = write_species_texts(&field, d.path(), "_t").unwrap();
        assert_eq!(files.len(), 14);
        let charged = std::fs::read_to_string(d.path().join("charged_t.txt")).unwrap();
        // prot + aprot + pions = (4 + 5 + 6) e-3 at the first bin.
        assert!(
            charged.starts_with("z = -1.0\n0.05\t1.5000E-02\n0.15\t3.0000E-02\n"),
            "{charged}"
        );
        let err = std::fs::read_to_string(d.path().join("allpart_t_error.txt")).unwrap();
        assert!(err.starts_with("0 0 2.5000E-02\n1 0 2.5000E-02\n"), "{err}");
        // Shifted errors: bin (0, 0) gets its content times the error of bin (1, 1).
        assert_eq!(field.abs_error(0, 0, 0, true), 1e-3 * 0.025);
        assert_eq!(field.abs_error(0, 19, 0, true), 0.0);
        // Malformed: a bad number is located.
        let text = std::fs::read_to_string(&p)
            .unwrap()
            .replacen("1.0000E-03", "1.0000X-03", 1);
        std::fs::write(&p, text).unwrap();
        let e = read_usrbin_ascii(&p, false, false).unwrap_err().to_string();
        assert!(
            e.contains("usrbin_ascii:10:") && e.contains("1.0000X-03"),
            "{e}"
        );
        assert_eq!(decimal_sum(&["1.2345E-02", "1.0000E-03"]), Some(0.013345));
    }
}
