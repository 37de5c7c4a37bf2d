//! The `run_si` input directory and its per-sample plan (Mu2e/Production
//! `JobConfig/ensemble/run_si.py`: G0 at `c86b086b`, G1 `python/run_si.py` at `14e33106`).
//!
//! Two layouts are read:
//!
//! * **G1** (the 2024-02 README's `python/run_si.py`): one-number files `livetime` (s), `rue`,
//!   `rup`, `kmax`; `settings` with six lines (dem_emin, dep_emin, tmin (ns), max_livetime (s),
//!   run, samplingSeed); one `filenames_<sample>` per sample with one file path per line.
//! * **G0** (`run_si.py` of MDC2018): the same one-number files and `settings`, and a single
//!   `filenames` file with lines `name path start_fraction max_fraction` (one file per sample;
//!   the fraction window `[int(rows·start), int(rows·max))` of each file is the part the
//!   ensemble may use, so several ensembles can share a file).
//!
//! The layout is G0 when `filenames` exists, G1 otherwise. Blank lines and lines starting with
//! `#` are skipped in the file lists. Relative sample paths are resolved against the configuration
//! directory (the original resolved them against the working directory).
//! Errors name the file and line: `cfg/livetime:1: expected a livetime (s) >= 0, found -5`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::constants::{BeamMode, ConstantSet, Process};
use crate::error::{Error, Result};
use crate::normalizations::{Inputs, Quirks, StopRates, Unit, compute};
use crate::sampler::{EnsembleConfig, EnsembleReport, FclOptions, OutputNaming, SampleInput};
use crate::samples::scan_sample_file;
use crate::tables::Tables;
use crate::units::{Livetime, LivetimeKind};

/// Which run_si generation wrote the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// MDC2018: `filenames` with fractions.
    G0,
    /// MDC2020 (2024-02 README): `filenames_<sample>`.
    G1,
}

impl Layout {
    /// The constant set of the generation that used this layout (`mdc2018` for G0, `mdc2020`
    /// for G1).
    pub fn default_constants(self) -> ConstantSet {
        match self {
            Layout::G0 => ConstantSet::Mdc2018,
            Layout::G1 => ConstantSet::Mdc2020,
        }
    }
}

/// The six lines of `settings` (as G0 `genEnsemble.py` writes them).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// DIO generation minimum energy (MeV).
    pub dem_emin: f64,
    /// RMC/RPC (e⁺) generation minimum energy (MeV).
    pub dep_emin: f64,
    /// RPC time cut tmin (ns).
    pub tmin: f64,
    /// Maximum livetime (s); G0 normalises cosmics with it.
    pub max_livetime_s: f64,
    /// Run number (G1 ignored it and used 1201).
    pub run: u32,
    /// The sampling seed.
    pub seed: u64,
}

/// One sample of the directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleList {
    /// Sample name (`DIOTail`, `CRYCosmic`, ...).
    pub name: String,
    /// Its files, in order.
    pub files: Vec<PathBuf>,
    /// G0 only: `(start_fraction, max_fraction)` of every file.
    pub fraction_window: Option<(f64, f64)>,
}

/// A parsed run_si input directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSiDir {
    /// The directory.
    pub dir: PathBuf,
    /// G0 or G1.
    pub layout: Layout,
    /// `livetime` (s, wall clock).
    pub livetime_s: f64,
    /// `rue`: CE⁻ rate per capture.
    pub rue: f64,
    /// `rup`: CE⁺ rate per capture (read but unused in G1).
    pub rup: f64,
    /// `kmax` (MeV), if the file exists (G1 did not read it and used 1.0).
    pub kmax: Option<f64>,
    /// `settings`.
    pub settings: Settings,
    /// The samples, in the order of the constant set's sample list (G1) or of `filenames` (G0).
    pub samples: Vec<SampleList>,
}

fn read_text(path: &Path) -> Result<String> {
    Ok(hep_core::io::read_text(path)?)
}

/// The non-blank lines of a file with their 1-based numbers.
fn lines(text: &str) -> impl Iterator<Item = (u64, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i as u64 + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty())
}

fn parse_f64(path: &Path, line: u64, what: &str, tok: &str) -> Result<f64> {
    match tok.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(Error::input(path, line, what, format!("'{tok}'"))),
    }
}

fn one_number(dir: &Path, name: &str, what: &str, non_negative: bool) -> Result<f64> {
    let path = dir.join(name);
    let text = read_text(&path)?;
    let Some((line, tok)) = lines(&text).next() else {
        return Err(Error::input(&path, 1, what, "an empty file"));
    };
    let v = parse_f64(&path, line, what, tok)?;
    if non_negative && v < 0.0 {
        return Err(Error::input(&path, line, what, tok));
    }
    Ok(v)
}

fn parse_settings(dir: &Path) -> Result<Settings> {
    let path = dir.join("settings");
    let text = read_text(&path)?;
    let rows: Vec<(u64, &str)> = lines(&text).collect();
    const WHAT: [&str; 6] = [
        "dem_emin (MeV)",
        "dep_emin (MeV)",
        "tmin (ns)",
        "max_livetime (s) >= 0",
        "a run number (integer)",
        "a sampling seed (non-negative integer)",
    ];
    if rows.len() < 6 {
        let line = rows.last().map_or(1, |r| r.0 + 1);
        return Err(Error::input(
            &path,
            line,
            format!("6 lines (missing: {})", WHAT[rows.len()]),
            "end of file",
        ));
    }
    let f = |i: usize| parse_f64(&path, rows[i].0, WHAT[i], rows[i].1);
    let max_livetime_s = f(3)?;
    if max_livetime_s < 0.0 {
        return Err(Error::input(&path, rows[3].0, WHAT[3], rows[3].1));
    }
    let run = rows[4]
        .1
        .parse::<u32>()
        .map_err(|_| Error::input(&path, rows[4].0, WHAT[4], rows[4].1))?;
    let seed = rows[5]
        .1
        .parse::<u64>()
        .map_err(|_| Error::input(&path, rows[5].0, WHAT[5], rows[5].1))?;
    Ok(Settings {
        dem_emin: f(0)?,
        dep_emin: f(1)?,
        tmin: f(2)?,
        max_livetime_s,
        run,
        seed,
    })
}

fn resolve(dir: &Path, p: &str) -> PathBuf {
    let p = PathBuf::from(p);
    if p.is_absolute() { p } else { dir.join(p) }
}

impl RunSiDir {
    /// Reads a run_si input directory. `constants` selects the sample names (default: the
    /// generation of the layout).
    ///
    /// # Errors
    ///
    /// [`Error::Core`] for a missing file; [`hep_core::Error::Parse`] (file:line) for malformed or negative
    /// numbers, short `settings`, malformed `filenames` lines, unknown sample names or (G1) a
    /// missing `filenames_<sample>`: with `mdc2020` (G1) every sample of the set is required, like
    /// the original; other sets use the lists present (at least one).
    pub fn read(dir: &Path, constants: Option<ConstantSet>) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::InvalidArgument(format!(
                "{}: not a directory",
                dir.display()
            )));
        }
        let layout = if dir.join("filenames").is_file() {
            Layout::G0
        } else {
            Layout::G1
        };
        let set = constants.unwrap_or(layout.default_constants());
        let livetime_s = one_number(dir, "livetime", "a livetime (s) >= 0", true)?;
        let rue = one_number(dir, "rue", "rue (a rate >= 0)", true)?;
        let rup = one_number(dir, "rup", "rup (a rate >= 0)", true)?;
        let kmax = if dir.join("kmax").is_file() {
            Some(one_number(dir, "kmax", "kmax (MeV) > 0", true)?)
        } else {
            None
        };
        let settings = parse_settings(dir)?;
        let known: Vec<&str> = set.samples().iter().map(|(_, n)| *n).collect();
        let samples = match layout {
            Layout::G0 => {
                let path = dir.join("filenames");
                let text = read_text(&path)?;
                let mut out: Vec<SampleList> = Vec::new();
                for (line, l) in lines(&text).filter(|(_, l)| !l.starts_with('#')) {
                    let tok: Vec<&str> = l.split_whitespace().collect();
                    if tok.len() != 4 {
                        return Err(Error::input(
                            &path,
                            line,
                            "`name path start_fraction max_fraction`",
                            l,
                        ));
                    }
                    if !known.contains(&tok[0]) {
                        return Err(Error::input(
                            &path,
                            line,
                            format!("a sample name of {set} ({})", known.join(", ")),
                            tok[0],
                        ));
                    }
                    let a = parse_f64(&path, line, "a start fraction in [0, 1]", tok[2])?;
                    let b = parse_f64(&path, line, "a max fraction in [start, 1]", tok[3])?;
                    if !(0.0..=1.0).contains(&a) || !(a..=1.0).contains(&b) {
                        return Err(Error::input(
                            &path,
                            line,
                            "0 <= start_fraction <= max_fraction <= 1",
                            l,
                        ));
                    }
                    if out.iter().any(|s| s.name == tok[0]) {
                        return Err(Error::input(
                            &path,
                            line,
                            "one line per sample (one file per sample in G0)",
                            tok[0],
                        ));
                    }
                    out.push(SampleList {
                        name: tok[0].to_string(),
                        files: vec![resolve(dir, tok[1])],
                        fraction_window: Some((a, b)),
                    });
                }
                out
            }
            Layout::G1 => {
                // Unknown filenames_* files are an error: a typo would silently drop a sample.
                let mut entries: Vec<String> = std::fs::read_dir(dir)
                    .map_err(|e| hep_core::Error::io(dir, e))?
                    .filter_map(|e| e.ok())
                    .filter_map(|e| e.file_name().to_str().map(str::to_string))
                    .filter(|n| n.starts_with("filenames_"))
                    .collect();
                entries.sort();
                for n in &entries {
                    let s = &n["filenames_".len()..];
                    if !known.contains(&s) {
                        return Err(Error::input(
                            dir.join(n),
                            0,
                            format!(
                                "filenames_<sample> with a sample of {set} ({})",
                                known.join(", ")
                            ),
                            s,
                        ));
                    }
                }
                let mut out = Vec::new();
                for name in &known {
                    let path = dir.join(format!("filenames_{name}"));
                    // G1's run_si needed all four lists; other sets use the lists present.
                    if !path.is_file() && set != ConstantSet::Mdc2020 {
                        continue;
                    }
                    if !path.is_file() {
                        return Err(Error::input(
                            &path,
                            0,
                            format!("a file list for sample {name} (required by {set})"),
                            "no such file",
                        ));
                    }
                    let text = read_text(&path)?;
                    let files: Vec<PathBuf> = lines(&text)
                        .filter(|(_, l)| !l.starts_with('#'))
                        .map(|(_, l)| resolve(dir, l))
                        .collect();
                    if files.is_empty() {
                        return Err(Error::input(
                            &path,
                            1,
                            "at least one file path",
                            "an empty list",
                        ));
                    }
                    out.push(SampleList {
                        name: (*name).to_string(),
                        files,
                        fraction_window: None,
                    });
                }
                if out.is_empty() {
                    return Err(Error::input(
                        dir.join(format!("filenames_{}", known[0])),
                        0,
                        format!("at least one filenames_<sample> for {set}"),
                        "none",
                    ));
                }
                out
            }
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            layout,
            livetime_s,
            rue,
            rup,
            kmax,
            settings,
            samples,
        })
    }

    /// The header comments of the original FCL and report (livetime, rue, rup, kmax, dem_emin,
    /// dep_emin, tmin, max_livetime, run).
    pub fn header(&self) -> BTreeMap<String, String> {
        let mut h = BTreeMap::new();
        h.insert("livetime".into(), format!("{:e}", self.livetime_s));
        h.insert("rue".into(), format!("{:e}", self.rue));
        h.insert("rup".into(), format!("{:e}", self.rup));
        h.insert(
            "kmax".into(),
            self.kmax.map_or("n/a".into(), |k| format!("{k}")),
        );
        h.insert("dem_emin".into(), format!("{}", self.settings.dem_emin));
        h.insert("dep_emin".into(), format!("{}", self.settings.dep_emin));
        h.insert("tmin".into(), format!("{}", self.settings.tmin));
        h.insert(
            "max_livetime".into(),
            format!("{:e}", self.settings.max_livetime_s),
        );
        h.insert("run".into(), format!("{}", self.settings.run));
        h
    }
}

/// Options of [`plan`] and [`build`] beyond the directory.
#[derive(Debug, Clone, Default)]
pub struct RunSiOptions {
    /// Constant set (default: the layout's generation, see [`Layout::default_constants`]).
    pub constants: Option<ConstantSet>,
    /// Spectrum tables (`--tables DIR`); without the DIO table the analytic Pol58 spectrum is
    /// used (valid for emin >= 85 MeV).
    pub tables: Tables,
    /// Stopped-muon rates (`--simeff FILE`); required by mdc2020, mdc2024, mds.
    pub stop_rates: Option<StopRates>,
    /// Original behaviours (`--compat`): the normalisation quirks, and run 1201 for G1 (quirk 9).
    pub quirks: Quirks,
    /// True to reproduce G1's hard-coded run number 1201 (quirk 9).
    pub compat_run_1201: bool,
    /// Beam mode (G2/G3).
    pub beam: BeamMode,
}

/// One sample of a run_si plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanSample {
    /// Sample name.
    pub name: String,
    /// Process.
    pub process: Process,
    /// Expected generated events, or seconds of cosmic livetime (see `unit`).
    pub norm: f64,
    /// What `norm` counts.
    pub unit: Unit,
    /// The files listed for the sample.
    pub files: Vec<PathBuf>,
    /// G0 fraction window.
    pub fraction_window: Option<(f64, f64)>,
}

/// The per-sample normalisations of a run_si directory, as that generation's run_si computed them
/// (the `norms` of `run_si.py`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSiPlan {
    /// The constant set used.
    pub constants: ConstantSet,
    /// The directory layout.
    pub layout: Layout,
    /// Livetime (s) from `livetime`.
    pub livetime_s: f64,
    /// Protons on target.
    pub pot: f64,
    /// Run number of the ensemble.
    pub run: u32,
    /// Sampling seed.
    pub seed: u64,
    /// The samples.
    pub samples: Vec<PlanSample>,
    /// Warnings from the normalisations.
    pub warnings: Vec<String>,
}

impl RunSiPlan {
    /// The flat JSON of `--plan-only --format json`: sample name → norm, plus `pot`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        for s in &self.samples {
            m.insert(s.name.clone(), serde_json::Value::from(s.norm));
        }
        m.insert("pot".into(), serde_json::Value::from(self.pot));
        serde_json::Value::Object(m)
    }
}

impl std::fmt::Display for RunSiPlan {
    /// A table `sample  process  expected  unit`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "# constants {} ({:?} layout), livetime {} s, POT {:.6e}, run {}, seed {}",
            self.constants, self.layout, self.livetime_s, self.pot, self.run, self.seed
        )?;
        writeln!(f, "{:<16} {:>22}  unit", "sample", "expected")?;
        for s in &self.samples {
            let unit = match s.unit {
                Unit::Events => "generated events",
                Unit::CosmicLivetimeSeconds => "s of cosmic livetime",
            };
            writeln!(f, "{:<16} {:>22.15e}  {unit}", s.name, s.norm)?;
        }
        for w in &self.warnings {
            writeln!(f, "# warning: {w}")?;
        }
        Ok(())
    }
}

impl RunSiDir {
    /// The normalisation inputs as this directory's run_si built them: G0 (`mdc2018`) takes
    /// `livetime` as wall-clock seconds (converted to years inside), RMC at `dep_emin + 1`,
    /// cosmics at `max_livetime`, kmax from `kmax` (required); G1 (`mdc2020`) uses `dem_emin` for
    /// DIO and `rue`, ignoring kmax, rup, dep_emin; G2/G3 use `dem_emin` for DIO, `dep_emin`
    /// for RMC and RPC, `rue`/`rup`, kmax if given (livetime in the generation's own convention).
    ///
    /// # Errors
    ///
    /// [`hep_core::Error::Parse`] if G0's `kmax` file is missing; errors of [`Livetime::from_value`].
    pub fn inputs(&self, set: ConstantSet, opts: &RunSiOptions) -> Result<Inputs> {
        let lt = Livetime::from_value(self.livetime_s, LivetimeKind::Native, set)?;
        let mut inp = Inputs::new(set, lt);
        inp.quirks = opts.quirks;
        inp.stop_rates = opts.stop_rates;
        inp.beam = opts.beam;
        inp.tmin = self.settings.tmin;
        inp.dio_emin = self.settings.dem_emin;
        inp.rue = self.rue;
        match set {
            ConstantSet::Mdc2018 => {
                inp.rup = self.rup;
                inp.kmax = self.kmax.ok_or_else(|| {
                    Error::input(
                        self.dir.join("kmax"),
                        0,
                        "the RMC kmax (MeV), needed by G0",
                        "no such file",
                    )
                })?;
                inp.rmc_emin = self.settings.dep_emin + 1.0;
                inp.rpc_emin = self.settings.dep_emin + 1.0;
                inp.cosmic_livetime = Some(Livetime::from_value(
                    self.settings.max_livetime_s,
                    LivetimeKind::WallClock,
                    set,
                )?);
            }
            ConstantSet::Mdc2020 => {}
            ConstantSet::Mdc2024 | ConstantSet::Mds => {
                inp.rup = self.rup;
                if let Some(k) = self.kmax {
                    inp.kmax = k;
                }
                inp.rmc_emin = self.settings.dep_emin;
                inp.rpc_emin = self.settings.dep_emin;
            }
        }
        Ok(inp)
    }
}

/// Computes the per-sample expected counts of a run_si directory (`--plan-only`), without
/// touching the sample files.
///
/// # Errors
///
/// As [`RunSiDir::inputs`] and [`compute`]; [`Error::InvalidArgument`] if a listed sample has no
/// normalisation in the constant set.
pub fn plan(dir: &RunSiDir, opts: &RunSiOptions) -> Result<RunSiPlan> {
    let set = opts.constants.unwrap_or(dir.layout.default_constants());
    let inputs = dir.inputs(set, opts)?;
    let norms = compute(&inputs, &opts.tables)?;
    let mut samples = Vec::with_capacity(dir.samples.len());
    for s in &dir.samples {
        let e = norms
            .entries
            .iter()
            .find(|e| e.sample == s.name)
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "sample {} has no normalisation in constant set {set}",
                    s.name
                ))
            })?;
        samples.push(PlanSample {
            name: s.name.clone(),
            process: e.process,
            norm: e.value,
            unit: e.unit,
            files: s.files.clone(),
            fraction_window: s.fraction_window,
        });
    }
    let run = if opts.compat_run_1201 && set == ConstantSet::Mdc2020 {
        1201
    } else {
        dir.settings.run
    };
    Ok(RunSiPlan {
        constants: set,
        layout: dir.layout,
        livetime_s: dir.livetime_s,
        pot: norms.pot.0,
        run,
        seed: dir.settings.seed,
        samples,
        warnings: norms.warnings,
    })
}

/// The original output naming of a generation (`run_si.py`, `make_template_fcl.py`): G0
/// `mcs.mu2e.ensemble-MC.MDC2018i`, G1 `dts.mu2e.ensemble-MC.MDC2020`, G2/G3
/// `dts.mu2e.ensemble-<BB>-<procs>-<int T>s-p<int dem_emin>MeVc.<MDC2024|MDS>` (procs joined by
/// `-`), always with the extension `.parquet`.
pub fn output_naming(plan: &RunSiPlan, dir: &RunSiDir, beam: BeamMode) -> OutputNaming {
    match plan.constants {
        ConstantSet::Mdc2018 => OutputNaming {
            tier: "mcs".into(),
            owner: "mu2e".into(),
            description: "ensemble-MC".into(),
            configuration: "MDC2018i".into(),
        },
        ConstantSet::Mdc2020 => OutputNaming::default(),
        set => {
            let procs: Vec<&str> = plan.samples.iter().map(|s| s.name.as_str()).collect();
            OutputNaming {
                tier: "dts".into(),
                owner: "mu2e".into(),
                description: format!(
                    "ensemble-{}-{}-{}s-p{}MeVc",
                    beam.name(),
                    procs.join("-"),
                    dir.livetime_s as i64,
                    dir.settings.dem_emin as i64
                ),
                configuration: if set == ConstantSet::Mdc2024 {
                    "MDC2024".into()
                } else {
                    "MDS".into()
                },
            }
        }
    }
}

/// Options of [`build`] for the sampler.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildOptions {
    /// Maximum events per sub-run (default 1 000 000).
    pub max_events_per_subrun: u64,
    /// Ledger file (default `mu2e-ensemble-ledger.json` in the directory of the first file of
    /// the first sample).
    pub ledger: Option<PathBuf>,
    /// Seed override (default: `settings` line 6).
    pub seed: Option<u64>,
    /// Write `SamplingInput_sr<k>.fcl` per sub-run into the output directory.
    pub emit_fcl: bool,
    /// FCL template (default [`crate::fcl::DEFAULT_TEMPLATE`]).
    pub fcl_template: Option<PathBuf>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            max_events_per_subrun: crate::sampler::DEFAULT_MAX_EVENTS_PER_SUBRUN,
            ledger: None,
            seed: None,
            emit_fcl: false,
            fcl_template: None,
        }
    }
}

/// Reads every sample file's footer and turns a plan into sampler inputs.
///
/// # Errors
///
/// As [`scan_sample_file`]; [`Error::InvalidArgument`] if a sample's files do not match its
/// normalisation unit (e.g. a G1 cosmic file without `CosmicLivetime`).
pub fn sample_inputs(plan: &RunSiPlan) -> Result<Vec<SampleInput>> {
    plan.samples
        .iter()
        .map(|s| {
            let files = s
                .files
                .iter()
                .map(|p| scan_sample_file(p))
                .collect::<Result<Vec<_>>>()?;
            Ok(SampleInput {
                name: s.name.clone(),
                norm: s.norm,
                files,
                norm_is_livetime: s.unit == Unit::CosmicLivetimeSeconds,
                fraction_window: s.fraction_window,
            })
        })
        .collect()
}

/// `run-si CFG_DIR OUT_DIR`: plans, draws, allocates (failing before writing if a sample is
/// short) and writes the ensemble into `out_dir`, plus the FCL per sub-run with
/// [`BuildOptions::emit_fcl`].
///
/// # Errors
///
/// As [`plan`], [`sample_inputs`] and [`crate::sampler::build_ensemble`].
pub fn build(
    dir: &RunSiDir,
    opts: &RunSiOptions,
    bopts: &BuildOptions,
    out_dir: &Path,
) -> Result<EnsembleReport> {
    let (inputs, cfg) = ensemble_setup(dir, opts, bopts)?;
    crate::sampler::build_ensemble(&inputs, &cfg, out_dir)
}

/// The sampler inputs and configuration of the ensemble(s) a run_si directory describes (what
/// [`build`] samples; a series of ensembles starts from the same).
///
/// # Errors
///
/// As [`plan`] and [`sample_inputs`]; [`Error::InvalidArgument`] without sample files.
pub fn ensemble_setup(
    dir: &RunSiDir,
    opts: &RunSiOptions,
    bopts: &BuildOptions,
) -> Result<(Vec<SampleInput>, EnsembleConfig)> {
    let p = plan(dir, opts)?;
    let inputs = sample_inputs(&p)?;
    let ledger = match &bopts.ledger {
        Some(l) => l.clone(),
        None => default_ledger(&inputs)?,
    };
    let cfg = EnsembleConfig {
        seed: bopts.seed.unwrap_or(p.seed),
        run: p.run,
        first_subrun: 0,
        max_events_per_subrun: bopts.max_events_per_subrun,
        naming: output_naming(&p, dir, opts.beam),
        livetime_s: Some(dir.livetime_s),
        ledger,
        header: dir.header(),
        fcl: bopts.emit_fcl.then(|| FclOptions {
            template: bopts.fcl_template.clone(),
            with_data_stream: p.constants == ConstantSet::Mdc2018,
        }),
    };
    Ok((inputs, cfg))
}

/// The default ledger path: [`crate::sampler::DEFAULT_LEDGER_NAME`] in the directory of the first
/// file of the first sample.
///
/// # Errors
///
/// [`Error::InvalidArgument`] if there are no files.
pub fn default_ledger(inputs: &[SampleInput]) -> Result<PathBuf> {
    let f = inputs
        .iter()
        .flat_map(|s| s.files.first())
        .next()
        .ok_or_else(|| Error::InvalidArgument("no sample files".into()))?;
    Ok(ledger_beside(Some(&f.path)))
}

/// [`crate::sampler::DEFAULT_LEDGER_NAME`] in the directory of `first_file` (the current
/// directory without a file or for a bare file name): where [`default_ledger`] puts the ledger.
pub fn ledger_beside(first_file: Option<&Path>) -> PathBuf {
    first_file
        .and_then(Path::parent)
        .unwrap_or(Path::new("."))
        .join(crate::sampler::DEFAULT_LEDGER_NAME)
}
