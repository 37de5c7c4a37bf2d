//! The `profile` job (all readout groups in one pass over the period, or a shard of them), its
//! shard `merge`, the Slurm scripts of `submit`, and `merge-profiles` (fragments).
//!
//! # Scale-out
//!
//! The units are the readout groups in the order of the original's files (see
//! [`Geometry::readout_groups`]; 128 unless [`ProfileJob::readout_groups`] selects some). With
//! `--shard I/N` the job computes the block of units of [`Shard::range`] and writes only
//! `<output_dir>/shards/<I>-of-<N>/` (the text profiles in their `<ROG>/` directories, the plots of
//! its readout groups in `plots/`, the Parquet rows in `profile_part.parquet`) and its shard
//! manifest last. [`merge_profile_shards`] checks the shards with hep-core's `collect_shards` and
//! writes exactly the files of a single-process run: the text profiles and plots are copied, the
//! Parquet profile is rewritten with one batch per readout group, as the single process writes
//! it, so the files are byte-identical.

use std::fmt;
use std::path::{Path, PathBuf};

use hep_core::progress::Progress;
use hep_core::shard::{Shard, ShardManifest, collect_shards};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::{Compat, CrossSections, Lookback, TemperatureModel};
use crate::dcs::{DcsKind, DcsStore};
use crate::error::{Error, Result};
use crate::fills::Fill;
use crate::fluence::{FlukaField, RogFluence};
use crate::geometry::Geometry;
use crate::lumi::LsLumi;
use crate::output::Outputs;
use crate::plots::PlotFormat;
use crate::profile::{
    ProfileInputs, ProfileSettings, RogProfileReport, Timeline, TimelineReport, profile_batch,
    profile_file_name, profile_schema, profile_text, rog_profile,
};
use crate::profile_merge::{MergeMethod, merge, order_fragments, read_fragments};
use crate::temperatures::TemperatureEngine;
use crate::time::TimeSettings;

/// The job name in shard manifests and Slurm scripts.
pub const PROFILE_JOB: &str = "pixel-monitor profile";

/// `profile`: the radiation profiles of the readout groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProfileJob {
    /// Fills file (`fills.csv` or an OMS export).
    pub fills: Option<PathBuf>,
    /// brilcalc per-lumisection CSV (`--byls --tssec`).
    pub lumi: Option<PathBuf>,
    /// CAEN export.
    pub caen: Option<PathBuf>,
    /// PLC export.
    pub plc: Option<PathBuf>,
    /// HV export (optional).
    pub hv: Option<PathBuf>,
    /// FLUKA field (Parquet from `fluence-field`, or USRBIN ASCII).
    pub field: Option<PathBuf>,
    /// Cross-section table (TOML; `None`: the shipped table).
    pub cross_sections: Option<PathBuf>,
    /// First fill.
    pub first_fill: Option<u32>,
    /// Last fill.
    pub last_fill: Option<u32>,
    /// Readout groups (empty: all 128).
    pub readout_groups: Vec<String>,
    /// Output directory (default `data/radiation_simulation/profiles`).
    pub output_dir: PathBuf,
    /// Label of the files (`profile_<ROG>_<label>.txt`; default `<first fill>_<last fill>`).
    pub label: Option<String>,
    /// Steps.
    pub settings: ProfileSettings,
    /// Look-back bounds.
    pub lookback: Lookback,
    /// Temperature model.
    pub model: TemperatureModel,
    /// Compatibility switches.
    pub compat: Compat,
    /// Zones.
    pub time: TimeSettings,
    /// Readout groups whose profile is drawn (temperature, fluence rate, current against time).
    pub plots_for: Vec<String>,
    /// Plot directory (default `plots/profiles`).
    pub plots_dir: PathBuf,
    /// Plot format.
    pub plot_format: PlotFormat,
}

impl Default for ProfileJob {
    fn default() -> Self {
        Self {
            fills: None,
            lumi: None,
            caen: None,
            plc: None,
            hv: None,
            field: None,
            cross_sections: None,
            first_fill: None,
            last_fill: None,
            readout_groups: Vec::new(),
            output_dir: "data/radiation_simulation/profiles".into(),
            label: None,
            settings: ProfileSettings::default(),
            lookback: Lookback::default(),
            model: TemperatureModel::default(),
            compat: Compat::default(),
            time: TimeSettings::default(),
            plots_for: vec!["BPix_BmI_SEC1_LYR1".into()],
            plots_dir: "plots/profiles".into(),
            plot_format: PlotFormat::Png,
        }
    }
}

/// The inputs of a profile, loaded.
pub struct ProfileData {
    /// Fills in the range.
    pub fills: Vec<Fill>,
    /// Per-lumisection luminosity.
    pub lumi: LsLumi,
    /// CAEN store.
    pub caen: DcsStore,
    /// PLC store.
    pub plc: DcsStore,
    /// HV store.
    pub hv: Option<DcsStore>,
    /// Field.
    pub field: FlukaField,
    /// Cross-sections.
    pub cross_sections: CrossSections,
}

fn need<'a>(p: &'a Option<PathBuf>, what: &str) -> Result<&'a Path> {
    p.as_deref()
        .ok_or_else(|| Error::Config(format!("profile: missing input: {what}")))
}

impl ProfileJob {
    /// The input paths, in a fixed order (for manifests).
    pub fn input_paths(&self) -> Vec<&Path> {
        [
            &self.fills,
            &self.lumi,
            &self.caen,
            &self.plc,
            &self.hv,
            &self.field,
            &self.cross_sections,
        ]
        .into_iter()
        .filter_map(|p| p.as_deref())
        .collect()
    }

    /// Loads the inputs (the DCS stores are read in parallel).
    ///
    /// # Errors
    /// Input and configuration errors.
    pub fn load(&self) -> Result<ProfileData> {
        self.settings.validate()?;
        self.lookback.validate()?;
        let r = self.time.reader()?;
        let fills = crate::jobs::load_fills(
            need(&self.fills, "fills")?,
            self.first_fill,
            self.last_fill,
            &self.time,
        )?;
        let lumi_path = need(&self.lumi, "lumi (brilcalc --byls)")?;
        let caen_path = need(&self.caen, "caen")?;
        let plc_path = need(&self.plc, "plc")?;
        let field_path = need(&self.field, "field")?;
        let ((lumi, caen), ((plc, hv), field)) = rayon::join(
            || {
                rayon::join(
                    || -> Result<LsLumi> {
                        LsLumi::from_table(&crate::lumi::read_brilcalc(lumi_path, &r)?)
                    },
                    || DcsStore::read(caen_path, DcsKind::Caen, &r),
                )
            },
            || {
                rayon::join(
                    || {
                        rayon::join(
                            || DcsStore::read(plc_path, DcsKind::Plc, &r),
                            || {
                                self.hv
                                    .as_deref()
                                    .map(|p| DcsStore::read(p, DcsKind::Hv, &r))
                                    .transpose()
                            },
                        )
                    },
                    || crate::jobs::load_field(field_path, &self.compat),
                )
            },
        );
        Ok(ProfileData {
            fills,
            lumi: lumi?,
            caen: caen?,
            plc: plc?,
            hv: hv?,
            field: field?,
            cross_sections: CrossSections::load(self.cross_sections.as_deref())?,
        })
    }

    /// The units: indices into [`Geometry::readout_groups`].
    ///
    /// # Errors
    /// [`Error::Data`] for an unknown readout-group name.
    pub fn units(&self) -> Result<Vec<usize>> {
        let geo = Geometry::phase1();
        if self.readout_groups.is_empty() {
            return Ok((0..geo.readout_groups.len()).collect());
        }
        let mut idx = self
            .readout_groups
            .iter()
            .map(|n| geo.rog(n).map(|_| geo.rog_index(n).expect("known")))
            .collect::<Result<Vec<_>>>()?;
        idx.sort_unstable();
        idx.dedup();
        Ok(idx)
    }

    /// The label of the files.
    pub fn label_for(&self, fills: &[Fill]) -> String {
        self.label
            .clone()
            .unwrap_or_else(|| match (fills.first(), fills.last()) {
                (Some(a), Some(b)) => format!("{}_{}", a.fill, b.fill),
                _ => "empty".into(),
            })
    }

    /// The Parquet profile's file name.
    pub fn parquet_name(label: &str) -> String {
        format!("profile_{label}.parquet")
    }
}

/// What a profile run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProfileReport {
    /// Readout groups computed.
    pub readout_groups: usize,
    /// Fills in the range.
    pub fills: usize,
    /// Rows per readout group.
    pub rows_per_group: usize,
    /// Delivered luminosity of the fills (fb⁻¹).
    pub delivered_fb: f64,
    /// Timeline notes.
    pub timeline: TimelineReport,
    /// Summed per-group reports.
    pub values: RogProfileReport,
    /// The shard, if one.
    pub shard: Option<Shard>,
    /// Files written.
    pub outputs: Vec<PathBuf>,
}

impl fmt::Display for ProfileReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "profile: {} readout groups x {} rows, {} fills, {:.3} fb^-1 delivered{}",
            self.readout_groups,
            self.rows_per_group,
            self.fills,
            self.delivered_fb,
            self.shard
                .map_or(String::new(), |s| format!(" (shard {s})"))
        )?;
        let t = &self.timeline;
        writeln!(
            f,
            "  timeline: {} fills and {} interfills shorter than their delay, {} overlapping fills, {} zero-length rows left out",
            t.short_fills.len(),
            t.short_interfills.len(),
            t.overlapping_fills.len(),
            t.zero_length_rows
        )?;
        writeln!(
            f,
            "  currents: {} fill rows without a current (-999), {} found before their window",
            self.values.current_missing, self.values.current_looked_back
        )?;
        writeln!(f, "  temperatures: {}", self.values.temperatures)?;
        match self.outputs.len() {
            0 => Ok(()),
            n => writeln!(f, "  wrote {n} files, e.g. {}", self.outputs[0].display()),
        }
    }
}

fn add_reports(a: &mut RogProfileReport, b: &RogProfileReport) {
    a.current_missing += b.current_missing;
    a.current_looked_back += b.current_looked_back;
    let (x, y) = (&mut a.temperatures, &b.temperatures);
    x.values += y.values;
    x.looked_back += y.looked_back;
    x.incomplete += y.incomplete;
    x.without_sensors += y.without_sensors;
    x.hv_unknown += y.hv_unknown;
    x.max_lookback_h = x.max_lookback_h.max(y.max_lookback_h);
}

/// The configuration digest of a profile job (the shard is not part of the job).
///
/// # Errors
/// JSON errors (none for a valid job).
pub fn job_digest(job: &ProfileJob) -> Result<String> {
    Ok(hep_core::shard::json_digest(job)?)
}

/// Runs `profile` on loaded inputs, for all units or one shard.
///
/// # Errors
/// Input, configuration and I/O errors.
pub fn run_profile_with(
    job: &ProfileJob,
    data: &ProfileData,
    shard: Option<Shard>,
    progress: &dyn Progress,
) -> Result<ProfileReport> {
    let units = job.units()?;
    let sharded = shard.is_some();
    let shard = shard.unwrap_or_else(Shard::whole);
    let block: Vec<usize> = units[shard.range(units.len())].to_vec();
    let geo = Geometry::phase1();
    let fluence = RogFluence::new(&data.field, job.compat.rog_fluence_sum);
    let engine = TemperatureEngine::new(
        &data.plc,
        data.hv.as_ref(),
        job.model,
        job.lookback,
        job.compat,
    );
    let inputs = ProfileInputs {
        fills: &data.fills,
        lumi: &data.lumi,
        caen: &data.caen,
        temperatures: &engine,
        fluence: &fluence,
        cross_sections: &data.cross_sections,
        settings: &job.settings,
        lookback: &job.lookback,
        compat: &job.compat,
        geometry: &geo,
    };
    let tl = Timeline::new(&inputs)?;
    let label = job.label_for(&data.fills);
    let base = if sharded {
        shard.dir(&job.output_dir)
    } else {
        job.output_dir.clone()
    };
    let plots_dir = if sharded {
        base.join("plots")
    } else {
        job.plots_dir.clone()
    };
    let parquet_path = if sharded {
        base.join("profile_part.parquet")
    } else {
        base.join(ProfileJob::parquet_name(&label))
    };
    std::fs::create_dir_all(&base).map_err(|e| Error::io(&base, e))?;
    let mut out = Outputs::start(job, &job.input_paths())?;
    let mut report = ProfileReport {
        readout_groups: block.len(),
        fills: data.fills.len(),
        rows_per_group: tl.rows.len(),
        delivered_fb: data
            .fills
            .iter()
            .map(|f| {
                data.lumi
                    .delivered_fb(f.start_stable_beam, f.end_stable_beam)
            })
            .sum(),
        timeline: tl.report.clone(),
        shard: sharded.then_some(shard),
        ..ProfileReport::default()
    };
    progress.start("readout groups", block.len() as u64);
    let mut writer = hep_core::io::ParquetWriter::create(&parquet_path, profile_schema(), &[])?;
    let mut shard_outputs: Vec<PathBuf> = Vec::new();
    for chunk in block.chunks(rayon::current_num_threads().max(1) * 4) {
        // Each readout group is computed and formatted in parallel; files are written in order.
        type Done = (
            usize,
            Vec<crate::profile::ProfileRow>,
            RogProfileReport,
            String,
            arrow_array::RecordBatch,
        );
        let results: Vec<Done> = chunk
            .par_iter()
            .map(|&rog| -> Result<Done> {
                let (rows, rep) = rog_profile(&inputs, &tl, rog);
                let name = &geo.readout_groups[rog].name;
                let text = profile_text(&rows, &job.settings, &job.compat, &job.time)?;
                let batch = profile_batch(name, &rows)?;
                progress.advance(1);
                Ok((rog, rows, rep, text, batch))
            })
            .collect::<Result<_>>()?;
        for (rog, rows, rep, text, batch) in &results {
            let name = &geo.readout_groups[*rog].name;
            let rel = PathBuf::from(name).join(profile_file_name(name, &label));
            out.text(&base.join(&rel), text)?;
            shard_outputs.push(rel);
            writer.write(batch)?;
            add_reports(&mut report.values, rep);
            if job.plots_for.iter().any(|p| p == name) {
                for p in crate::plots::profile_plots(name, rows, &plots_dir, job.plot_format)? {
                    shard_outputs.push(
                        p.strip_prefix(&base)
                            .map(Path::to_path_buf)
                            .unwrap_or_else(|_| p.clone()),
                    );
                    out.record(&p);
                }
            }
        }
    }
    writer.finish()?;
    progress.finish();
    out.record(&parquet_path);
    if sharded {
        // Shard outputs carry no sidecars; the merge writes them for the final files.
        let mut m = ShardManifest::start(
            crate::output::TOOL,
            env!("CARGO_PKG_VERSION"),
            PROFILE_JOB,
            job,
            shard,
            units.len(),
        )?;
        for p in job.input_paths() {
            m.add_input(p)?;
        }
        for rel in &shard_outputs {
            m.add_output(&base, rel)?;
        }
        m.add_output(&base, "profile_part.parquet")?;
        m.details.insert("label".into(), label.clone());
        m.write(&base)?;
        report.outputs = out.written().to_vec();
        return Ok(report);
    }
    report.outputs = out.finish()?;
    Ok(report)
}

/// Runs `profile` (loads the inputs, then [`run_profile_with`]).
///
/// # Errors
/// As [`run_profile_with`].
pub fn run_profile(
    job: &ProfileJob,
    shard: Option<Shard>,
    progress: &dyn Progress,
) -> Result<ProfileReport> {
    let data = job.load()?;
    run_profile_with(job, &data, shard, progress)
}

/// Joins the shards of a profile job into the files of a single-process run.
///
/// # Errors
/// [`Error::Core`] (`Error::Shard`) for missing, incomplete or mismatched shards, or shards of
/// another configuration; I/O and Parquet errors.
pub fn merge_profile_shards(job: &ProfileJob) -> Result<ProfileReport> {
    let shards = collect_shards(&job.output_dir, PROFILE_JOB)?;
    let digest = job_digest(job)?;
    if let Some(s) = shards
        .iter()
        .find(|s| s.manifest.configuration_sha256 != digest)
    {
        return Err(Error::Core(hep_core::Error::Shard {
            shard: s.manifest.shard.to_string(),
            reason: "was run with another configuration than the one given to merge".into(),
        }));
    }
    let label = shards[0]
        .manifest
        .details
        .get("label")
        .cloned()
        .unwrap_or_default();
    let units = job.units()?;
    let geo = Geometry::phase1();
    let mut out = Outputs::start(job, &job.input_paths())?;
    let parquet_path = job.output_dir.join(ProfileJob::parquet_name(&label));
    let mut writer = hep_core::io::ParquetWriter::create(&parquet_path, profile_schema(), &[])?;
    let mut rows_per_group = 0;
    for s in &shards {
        let range = s.manifest.first_unit..s.manifest.end_unit;
        let part = hep_core::io::read_parquet_table(s.output("profile_part.parquet"))?;
        let names = hep_core::io::column_str(&part, "readout_group")?;
        let mut start = 0;
        for &rog in &units[range] {
            let name = &geo.readout_groups[rog].name;
            let mut end = start;
            while end < part.num_rows() && names.value(end) == name {
                end += 1;
            }
            let slice = part.slice(start, end - start);
            let batch =
                arrow_array::RecordBatch::try_new(profile_schema(), slice.columns().to_vec())?;
            writer.write(&batch)?;
            rows_per_group = end - start;
            start = end;
            let rel = PathBuf::from(name).join(profile_file_name(name, &label));
            let text = std::fs::read_to_string(s.output(&rel))
                .map_err(|e| Error::io(s.output(&rel), e))?;
            out.text(&job.output_dir.join(&rel), &text)?;
        }
        if start != part.num_rows() {
            return Err(Error::Core(hep_core::Error::Shard {
                shard: s.manifest.shard.to_string(),
                reason: "profile_part.parquet holds rows of readout groups outside its units"
                    .into(),
            }));
        }
        let plots = s.dir.join("plots");
        if plots.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&plots)
                .map_err(|e| Error::io(&plots, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            for p in entries {
                let target = job.plots_dir.join(p.file_name().unwrap_or_default());
                std::fs::create_dir_all(&job.plots_dir)
                    .map_err(|e| Error::io(&job.plots_dir, e))?;
                hep_core::io::copy_file(&p, &target)?;
                out.record(&target);
            }
        }
    }
    writer.finish()?;
    out.record(&parquet_path);
    Ok(ProfileReport {
        readout_groups: units.len(),
        rows_per_group,
        outputs: out.finish()?,
        ..ProfileReport::default()
    })
}

/// `merge-profiles`: stitches profile fragments together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MergeProfilesJob {
    /// Directory of the fragments (every regular file is one).
    pub input_dir: Option<PathBuf>,
    /// The merged profile.
    pub output: Option<PathBuf>,
    /// Upstream ("later fragment wins") or gap-filling (jroloff).
    pub method: MergeMethod,
    /// Compatibility switches (`merge_name_order`).
    pub compat: Compat,
}

impl Default for MergeProfilesJob {
    fn default() -> Self {
        Self {
            input_dir: None,
            output: None,
            method: MergeMethod::Upstream,
            compat: Compat::default(),
        }
    }
}

/// What `merge-profiles` did.
#[derive(Debug, Clone, Serialize)]
pub struct MergeReport {
    /// Fragments in merge order.
    pub fragments: Vec<String>,
    /// Rows written.
    pub rows: usize,
    /// Files written.
    pub outputs: Vec<PathBuf>,
}

impl fmt::Display for MergeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "merge-profiles: {} fragments ({}), {} rows",
            self.fragments.len(),
            self.fragments.join(", "),
            self.rows
        )?;
        for p in &self.outputs {
            writeln!(f, "  wrote {}", p.display())?;
        }
        Ok(())
    }
}

/// Runs `merge-profiles`.
///
/// # Errors
/// Input and I/O errors.
pub fn run_merge_profiles(job: &MergeProfilesJob) -> Result<MergeReport> {
    let dir = job
        .input_dir
        .as_deref()
        .ok_or_else(|| Error::Config("merge-profiles: input_dir is required".into()))?;
    let output = job
        .output
        .as_deref()
        .ok_or_else(|| Error::Config("merge-profiles: output is required".into()))?;
    let frags = order_fragments(read_fragments(dir)?, job.compat.merge_name_order);
    let text = merge(&frags, job.method)?;
    let mut paths: Vec<PathBuf> = frags.iter().map(|f| dir.join(&f.name)).collect();
    paths.sort();
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let mut out = Outputs::start(job, &refs)?;
    out.text(output, &text)?;
    Ok(MergeReport {
        fragments: frags.iter().map(|f| f.name.clone()).collect(),
        rows: text.lines().count().saturating_sub(1),
        outputs: out.finish()?,
    })
}
