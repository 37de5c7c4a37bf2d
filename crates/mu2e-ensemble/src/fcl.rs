//! Interoperability with art's `SamplingInput` (art-root-io
//! `art_root_io/SamplingInput_source.cc`, driven by Mu2e/Production `run_si.py`): the per-sub-run
//! FCL that run_si rendered, and a parser of the end-of-job summary so a run can continue from a
//! real `mu2e` job.
//!
//! # Template
//!
//! Rendering follows Python's `string.Template.substitute`: `${name}` and `$name` are replaced,
//! `$$` is a literal `$`, an unknown placeholder is an error. The placeholders of the original
//! `fcl/SamplingInput.fcl` are `${comments} ${run} ${subRun} ${samplingSeed} ${datasets}
//! ${outnameMC} ${outnameData}`. [`DEFAULT_TEMPLATE`] is a DTS-level template (G1+: `keep *`,
//! dropping `*_genCounter_*_*` and `*_protonBunchIntensity_*_*` on input).
//!
//! Each dataset entry is `name: { fileNames: ["<file>"] weight: %e skipToEvent: "r:s:e" }`
//! (exactly one file per dataset, a limit of `SamplingInput`); the weight uses Python's `%e`
//! format (`1.234560e+02`). The file name is absolute (a relative one is resolved against the
//! working directory when the FCL is written), because art resolves it against the directory the
//! job runs in, which is rarely the one the ensemble was built in.
//!
//! # Summary
//!
//! After the header line holding the tokens `Dataset`, `Counts`, `fraction` and `Next`, a line
//! whose first token is a known sample is `name count sampled_fraction | expected_fraction weight
//! run: R subRun: S event: E` or ends in `(no more available)`; a `Total` line gives the events
//! of the job. [`SiState::apply_summary`] advances each sample's `skipToEvent` (or to its next file
//! when the current one is exhausted) and credits the events *actually* produced (the original
//! credited the requested count even after an early stop, quirk 6 of `docs/mu2e-ensemble.md`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::samples::EventId;

/// A DTS-level `SamplingInput` template with the original placeholders.
pub const DEFAULT_TEMPLATE: &str = r#"# SamplingInput job written by mu2e-ensemble (hep-rs)
${comments}
#include "Offline/fcl/minimalMessageService.fcl"
#include "Offline/fcl/standardServices.fcl"

process_name: ensemble

source: {
  module_type: SamplingInput
  run: ${run}
  subRun: ${subRun}
  samplingSeed: ${samplingSeed}
  summary: true
  dataSets: {
${datasets}
  }
  inputCommands: ["keep *", "drop *_genCounter_*_*", "drop *_protonBunchIntensity_*_*"]
}

services: @local::Services.Core

physics: {
  e1: [outMC]
  end_paths: [e1]
}

outputs: {
  outMC: {
    module_type: RootOutput
    fileName: "${outnameMC}"
    outputCommands: ["keep *"]
  }
}
# second stream of G0 (unused at DTS level): ${outnameData}
"#;

/// Python `%e`: 6 decimals, exponent with sign and at least two digits (`1.234560e+02`).
pub fn python_e(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    let s = format!("{x:.6e}");
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i32 = exp.parse().unwrap_or(0);
    format!("{mant}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
}

/// Substitutes `${key}` / `$key` (`$$` → `$`) like Python's `string.Template.substitute`.
///
/// # Errors
///
/// [`Error::InvalidArgument`] for a placeholder without a value or a lone `$`.
pub fn render_template(template: &str, values: &[(&str, String)]) -> Result<String> {
    let mut out = String::with_capacity(template.len() + 1024);
    let b = template.as_bytes();
    let mut i = 0;
    let mut last = 0;
    while i < b.len() {
        if b[i] != b'$' {
            i += 1;
            continue;
        }
        out.push_str(&template[last..i]);
        let (name, end) = if b.get(i + 1) == Some(&b'$') {
            out.push('$');
            i += 2;
            last = i;
            continue;
        } else if b.get(i + 1) == Some(&b'{') {
            let close = template[i + 2..].find('}').ok_or_else(|| {
                Error::InvalidArgument(format!("template: unclosed ${{ at byte {i}"))
            })?;
            (&template[i + 2..i + 2 + close], i + 3 + close)
        } else {
            let len = template[i + 1..]
                .bytes()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
                .count();
            if len == 0 {
                return Err(Error::InvalidArgument(format!(
                    "template: invalid placeholder at byte {i}"
                )));
            }
            (&template[i + 1..i + 1 + len], i + 1 + len)
        };
        let v = values.iter().find(|(k, _)| *k == name).ok_or_else(|| {
            Error::InvalidArgument(format!("template: no value for placeholder `{name}`"))
        })?;
        out.push_str(&v.1);
        i = end;
        last = end;
    }
    out.push_str(&template[last..]);
    Ok(out)
}

/// One `dataSets` entry of a `SamplingInput` job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSetEntry {
    /// Dataset (sample) name.
    pub name: String,
    /// The one input file.
    pub file: PathBuf,
    /// Weight (only ratios matter).
    pub weight: f64,
    /// First event to read, if not the start of the file.
    pub skip_to_event: Option<EventId>,
}

/// Renders the `${datasets}` block.
pub fn render_datasets(entries: &[DataSetEntry]) -> String {
    let mut s = String::new();
    for e in entries {
        s.push_str(&format!("    {}: {{\n", e.name));
        let file = std::path::absolute(&e.file).unwrap_or_else(|_| e.file.clone());
        s.push_str(&format!("      fileNames: [\"{}\"]\n", file.display()));
        s.push_str(&format!("      weight: {}\n", python_e(e.weight)));
        if let Some(id) = e.skip_to_event {
            s.push_str(&format!("      skipToEvent: \"{id}\"\n"));
        }
        s.push_str("    }\n");
    }
    s
}

/// Everything one sub-run's FCL needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubrunFcl {
    /// `key: value` header comments.
    pub comments: Vec<(String, String)>,
    /// Run number.
    pub run: u32,
    /// Sub-run number.
    pub subrun: u32,
    /// `samplingSeed` (run_si: seed + subrun).
    pub sampling_seed: u64,
    /// The datasets.
    pub datasets: Vec<DataSetEntry>,
    /// MC output file name.
    pub outname_mc: String,
    /// Data output file name (G0 only; empty otherwise).
    pub outname_data: String,
}

impl SubrunFcl {
    /// Renders the FCL with `template`.
    ///
    /// # Errors
    ///
    /// As [`render_template`].
    pub fn render(&self, template: &str) -> Result<String> {
        let comments: String = self
            .comments
            .iter()
            .map(|(k, v)| format!("# {k}: {v}\n"))
            .collect();
        render_template(
            template,
            &[
                ("comments", comments.trim_end().to_string()),
                ("run", self.run.to_string()),
                ("subRun", self.subrun.to_string()),
                ("samplingSeed", self.sampling_seed.to_string()),
                (
                    "datasets",
                    render_datasets(&self.datasets).trim_end().to_string(),
                ),
                ("outnameMC", self.outname_mc.clone()),
                ("outnameData", self.outname_data.clone()),
            ],
        )
    }
}

/// The next event of a dataset after a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NextEvent {
    /// The next unread event.
    At(EventId),
    /// `(no more available)`: the file is exhausted.
    NoMoreAvailable,
}

/// One dataset line of the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryLine {
    /// Dataset name.
    pub dataset: String,
    /// Events read from it.
    pub count: u64,
    /// Realised fraction.
    pub sampled_fraction: f64,
    /// Expected fraction (weight / Σ weights).
    pub expected_fraction: f64,
    /// Specified weight.
    pub weight: f64,
    /// Where to continue.
    pub next: NextEvent,
    /// 1-based line number in the log.
    pub line: u64,
}

/// A parsed `SamplingInput` end-of-job summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingSummary {
    /// Dataset lines, in log order.
    pub datasets: Vec<SummaryLine>,
    /// The `Total` count, if present.
    pub total: Option<u64>,
}

/// Parses the summary in a `mu2e` log (`path` is used in error messages).
///
/// # Errors
///
/// [`hep_core::Error::Parse`] (path:line) if no header is found, a dataset line is malformed, a fraction
/// is not a number in `[0, 1]` or a weight not a finite non-negative number, a known dataset
/// appears twice, or a known dataset is missing from the summary.
pub fn parse_sampling_summary(path: &Path, text: &str, known: &[&str]) -> Result<SamplingSummary> {
    let mut in_summary = false;
    let mut datasets = Vec::new();
    let mut total = None;
    for (i, l) in text.lines().enumerate() {
        let line = i as u64 + 1;
        let tok: Vec<&str> = l.split_whitespace().collect();
        if !in_summary {
            in_summary = ["Dataset", "Counts", "fraction", "Next"]
                .iter()
                .all(|h| tok.contains(h));
            continue;
        }
        let Some(first) = tok.first() else { continue };
        if *first == "Total" {
            total = Some(
                tok.get(1)
                    .and_then(|t| t.parse::<u64>().ok())
                    .ok_or_else(|| Error::input(path, line, "`Total <count> ...`", l.trim()))?,
            );
            continue;
        }
        if !known.contains(first) {
            continue;
        }
        let bad = |what: &str| Error::input(path, line, what, l.trim());
        let bar = tok
            .iter()
            .position(|t| *t == "|")
            .ok_or_else(|| bad("`name count fraction | expected weight next`"))?;
        let num = |k: usize, what: &str| -> Result<f64> {
            tok.get(k)
                .and_then(|t| t.parse::<f64>().ok())
                .ok_or_else(|| bad(what))
        };
        let count = tok
            .get(1)
            .and_then(|t| t.parse::<u64>().ok())
            .ok_or_else(|| bad("an integer count after the name"))?;
        let fraction = |k: usize, what: &str| -> Result<f64> {
            num(k, what).and_then(|v| {
                if (0.0..=1.0).contains(&v) {
                    Ok(v)
                } else {
                    Err(bad(what))
                }
            })
        };
        let sampled_fraction = fraction(2, "a sampled fraction in [0, 1]")?;
        let expected_fraction = fraction(bar + 1, "an expected fraction in [0, 1] after `|`")?;
        let weight = num(bar + 2, "a weight").and_then(|w| {
            if w.is_finite() && w >= 0.0 {
                Ok(w)
            } else {
                Err(bad("a finite, non-negative weight"))
            }
        })?;
        if let Some(prev) = datasets.iter().find(|d: &&SummaryLine| d.dataset == *first) {
            return Err(Error::input(
                path,
                line,
                format!(
                    "one line for dataset {first} (the first is at line {})",
                    prev.line
                ),
                "a second one",
            ));
        }
        let next = if l.contains("(no more available)") {
            NextEvent::NoMoreAvailable
        } else {
            let n = tok.len();
            let p = |t: &str| t.parse::<u32>().ok();
            let id = (n >= 6
                && tok[n - 6] == "run:"
                && tok[n - 4] == "subRun:"
                && tok[n - 2] == "event:")
                .then(|| Some((p(tok[n - 5])?, p(tok[n - 3])?, p(tok[n - 1])?)))
                .flatten();
            match id {
                Some((run, subrun, event)) => NextEvent::At(EventId { run, subrun, event }),
                None => {
                    return Err(bad(
                        "`run: R subRun: S event: E` or `(no more available)` at the end",
                    ));
                }
            }
        };
        datasets.push(SummaryLine {
            dataset: (*first).to_string(),
            count,
            sampled_fraction,
            expected_fraction,
            weight,
            next,
            line,
        });
    }
    if !in_summary {
        return Err(Error::input(
            path,
            text.lines().count() as u64,
            "a SamplingInput summary header (Dataset Counts fraction ... Next)",
            "none",
        ));
    }
    if let Some(missing) = known
        .iter()
        .find(|k| !datasets.iter().any(|d| d.dataset == **k))
    {
        return Err(Error::input(
            path,
            text.lines().count() as u64,
            format!("a summary line for the requested dataset {missing}"),
            "none",
        ));
    }
    Ok(SamplingSummary { datasets, total })
}

/// Where a sample stands in an art-driven run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiSampleState {
    /// Sample name.
    pub name: String,
    /// Its files.
    pub files: Vec<PathBuf>,
    /// Index of the current file.
    pub file_index: usize,
    /// `skipToEvent` of the next job (None = start of the file).
    pub skip_to_event: Option<EventId>,
    /// Events read so far.
    pub used: u64,
    /// Weight of the sample in each job.
    pub weight: f64,
}

/// The state of an art-driven run_si loop, continued job by job from the summaries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiState {
    /// Per sample.
    pub samples: Vec<SiSampleState>,
    /// Events produced so far (from the summaries' `Total`).
    pub produced: u64,
    /// Events wanted in total.
    pub n_total: u64,
    /// Next sub-run number.
    pub next_subrun: u32,
}

impl SiState {
    /// Applies one job's summary: adds the counts, moves `skipToEvent` on (or to the next file on
    /// `(no more available)`), and credits the events produced.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if a sample ran out of files ("HAS RUN OUT OF FILES" in the
    /// original), or a sample of the state is missing from the summary.
    pub fn apply_summary(&mut self, summary: &SamplingSummary) -> Result<()> {
        let mut produced = 0;
        for s in &mut self.samples {
            let Some(l) = summary.datasets.iter().find(|l| l.dataset == s.name) else {
                return Err(Error::InvalidArgument(format!(
                    "sample {} is missing from the summary",
                    s.name
                )));
            };
            s.used += l.count;
            produced += l.count;
            match l.next {
                NextEvent::At(id) => s.skip_to_event = Some(id),
                NextEvent::NoMoreAvailable => {
                    s.skip_to_event = None;
                    s.file_index += 1;
                    if s.file_index >= s.files.len() {
                        return Err(Error::InvalidArgument(format!(
                            "sample {} has run out of files after {} events",
                            s.name, s.used
                        )));
                    }
                }
            }
        }
        self.produced += summary.total.unwrap_or(produced);
        self.next_subrun += 1;
        Ok(())
    }

    /// The FCL of the next job (`n_this = min(max_per_subrun, n_total − produced)` events, to be
    /// passed as `--nevts`), or None when the run is complete.
    pub fn next_job(
        &self,
        run: u32,
        seed: u64,
        max_per_subrun: u64,
        naming: &OutputNaming,
    ) -> Option<(SubrunFcl, u64)> {
        if self.produced >= self.n_total {
            return None;
        }
        let n_this = max_per_subrun.min(self.n_total - self.produced);
        let datasets = self
            .samples
            .iter()
            .map(|s| DataSetEntry {
                name: s.name.clone(),
                file: s.files[s.file_index].clone(),
                weight: s.weight,
                skip_to_event: s.skip_to_event,
            })
            .collect();
        let mut outname = naming.file_name(run, self.next_subrun);
        outname.truncate(outname.len() - ".parquet".len());
        outname.push_str(".art");
        Some((
            SubrunFcl {
                comments: vec![("nevts".into(), n_this.to_string())],
                run,
                subrun: self.next_subrun,
                sampling_seed: seed + u64::from(self.next_subrun),
                datasets,
                outname_mc: outname,
                outname_data: String::new(),
            },
            n_this,
        ))
    }
}

/// Output naming: `<tier>.<owner>.<description>.<configuration>.<run:06>_<subrun:08>.parquet`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputNaming {
    /// Data tier (`dts` from G1 on; `mcs` in G0).
    pub tier: String,
    /// Owner (`mu2e`).
    pub owner: String,
    /// Description (`ensemble-MC`).
    pub description: String,
    /// Configuration (`MDC2020`, `MDC2018i`, ...).
    pub configuration: String,
}

impl Default for OutputNaming {
    /// The G1 name `dts.mu2e.ensemble-MC.MDC2020.*`.
    fn default() -> Self {
        Self {
            tier: "dts".into(),
            owner: "mu2e".into(),
            description: "ensemble-MC".into(),
            configuration: "MDC2020".into(),
        }
    }
}

impl OutputNaming {
    /// The file name of one sub-run.
    pub fn file_name(&self, run: u32, subrun: u32) -> String {
        format!(
            "{}.{}.{}.{}.{run:06}_{subrun:08}.parquet",
            self.tier, self.owner, self.description, self.configuration
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_absolute() {
        let text = render_datasets(&[DataSetEntry {
            name: "DIOTail".into(),
            file: "samples/dts.mu2e.DIOTail.MDC2020.001202_00000000.parquet".into(),
            weight: 443.0,
            skip_to_event: None,
        }]);
        let cwd = std::env::current_dir().unwrap();
        let expected = cwd.join("samples/dts.mu2e.DIOTail.MDC2020.001202_00000000.parquet");
        assert!(
            text.contains(&format!("fileNames: [\"{}\"]", expected.display())),
            "{text}"
        );
        assert!(text.contains("weight: 4.430000e+02"), "{text}");
    }

    #[test]
    fn python_e_format() {
        assert_eq!(python_e(123.456), "1.234560e+02");
        assert_eq!(python_e(0.000123), "1.230000e-04");
        assert_eq!(python_e(0.0), "0.000000e+00");
        assert_eq!(python_e(1e100), "1.000000e+100");
    }

    #[test]
    fn template_like_python() {
        let v = [("a", "X".to_string()), ("bc", "Y".to_string())];
        assert_eq!(render_template("$a-${bc}-$$-$bc.", &v).unwrap(), "X-Y-$-Y.");
        assert!(render_template("${zz}", &v).is_err());
        assert!(render_template("$ ", &v).is_err());
    }
}
