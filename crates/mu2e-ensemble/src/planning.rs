//! Ensemble planning (`genEnsemble.py`, G0; the checks of G3
//! `Stage1_initiate_ensemble.sh` and `Stage2_build_sampler.sh`).
//!
//! [`draw_parameters`] draws the hidden parameters of one blind ensemble from a seeded stream
//! (the original used Python's unseeded `random`):
//! * `livetime = max_livetime_rmc · U(0.9, 1.0)` (years);
//! * "one week" regime if `max_livetime_rmc ≤ 6/365·20/24` yr: `log10 rue, log10 rup ~ U(−14,
//!   −12.8)`, otherwise ("one month") `U(−14.6, −13.4)`; refused if rue > 2e-13;
//! * `kmax ~ U(89, 91)` MeV; `dem_emin = 93`, `dep_emin = 83` MeV, `tmin = 400` ns;
//! * settings line 4 = `0.95 · max_livetime_rmc` in seconds, line 6 a sampling seed in 0…10000.
//!
//! [`job_counts`] gives the generation jobs per sample, `int(norm_per_year · T / events_per_job)
//! + 1`, with the per-year normalisations at the *maximum* parameters (DIO at 93 MeV, CE at
//! `10^max exponent`, RMC at 83 MeV with kmax 91, the hard-coded RPC values); RMC uses
//! `max_livetime_rmc`, the others the generation livetime.
//! [`check_generated`] is the Stage2 check "generated ≥ expected", and [`livetime_from_cosmics`]
//! the Stage1 definition of the livetime as the summed `CosmicLivetime` of the cosmic files.

use std::path::Path;

use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::constants::ConstantSet;
use crate::error::{Error, Result};
use crate::normalizations::{Inputs, compute};
use crate::samples::{SampleFileInfo, SampleNormalization};
use crate::tables::Tables;
use crate::units::{Livetime, LivetimeYears};

/// Seconds per 365-day year (run_si's conversion; hep-core's constant).
pub use crate::units::SECONDS_PER_YEAR;
/// Upper limit of the "one week" regime (yr): six 20-hour days.
pub const WEEK_REGIME_MAX_YR: f64 = 6.0 / 365.0 * 20.0 / 24.0;
/// genEnsemble's `dem_emin` (MeV).
pub const DEM_EMIN_MEV: f64 = 93.0;
/// genEnsemble's `dep_emin` (MeV).
pub const DEP_EMIN_MEV: f64 = 83.0;
/// genEnsemble's RPC `tmin` (ns).
pub const TMIN_NS: f64 = 400.0;
/// Largest kmax genEnsemble accepts (MeV).
pub const KMAX_MAX_MEV: f64 = 91.0;
/// Largest rue genEnsemble accepts ("change normalization").
pub const RUE_MAX: f64 = 2e-13;

/// The drawn parameters of one ensemble (what genEnsemble wrote into the run_si directory).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnsembleParameters {
    /// Livetime (yr).
    pub livetime_yr: f64,
    /// CE⁻ rate per capture.
    pub rue: f64,
    /// CE⁺ rate per capture.
    pub rup: f64,
    /// RMC kmax (MeV).
    pub kmax: f64,
    /// DIO minimum energy (MeV).
    pub dem_emin: f64,
    /// RMC/RPC minimum energy (MeV).
    pub dep_emin: f64,
    /// RPC tmin (ns).
    pub tmin: f64,
    /// `0.95 · max_livetime_rmc` (s).
    pub max_livetime_s: f64,
    /// Run number.
    pub run: u32,
    /// Sampling seed (0…10000).
    pub sampling_seed: u32,
    /// `(low, high)` of the log10 rue/rup range used.
    pub log10_rate_range: (f64, f64),
}

/// Longest accepted livetime of a plan (yr): far beyond any run plan of the experiment (a few
/// years), and small enough that event and job counts stay exact integers.
pub const MAX_LIVETIME_YR: f64 = 1000.0;
/// Most generation jobs one sample may need in a plan; more means the inputs are wrong.
pub const MAX_JOBS: f64 = 1e9;

/// The log10 range of rue/rup for a maximum RMC livetime (yr).
pub fn log10_rate_range(max_livetime_rmc_yr: f64) -> (f64, f64) {
    if max_livetime_rmc_yr <= WEEK_REGIME_MAX_YR {
        (-14.0, -12.8)
    } else {
        (-14.6, -13.4)
    }
}

/// Draws the parameters of one ensemble from stream `(seed, 0)`.
///
/// # Errors
///
/// [`Error::InvalidArgument`] for a livetime that is not in `(0,` [`MAX_LIVETIME_YR`]`]`, or a
/// drawn rue above [`RUE_MAX`] (impossible with the ranges above, kept as the original's guard).
pub fn draw_parameters(
    max_livetime_rmc_yr: f64,
    run: u32,
    seed: u64,
) -> Result<EnsembleParameters> {
    if !(max_livetime_rmc_yr > 0.0 && max_livetime_rmc_yr <= MAX_LIVETIME_YR) {
        return Err(Error::InvalidArgument(format!(
            "max RMC livetime must be in (0, {MAX_LIVETIME_YR}] yr, got {max_livetime_rmc_yr}"
        )));
    }
    let mut rng = hep_core::rng::stream(seed, 0);
    let livetime_yr = max_livetime_rmc_yr * rng.random_range(0.9..1.0);
    let (lo, hi) = log10_rate_range(max_livetime_rmc_yr);
    let rue = 10f64.powf(rng.random_range(lo..hi));
    let rup = 10f64.powf(rng.random_range(lo..hi));
    if rue > RUE_MAX {
        return Err(Error::InvalidArgument(format!(
            "drawn rue {rue:e} > {RUE_MAX:e}: change normalization"
        )));
    }
    let kmax = rng.random_range(89.0..KMAX_MAX_MEV);
    let sampling_seed = rng.random_range(0..=10_000u32);
    Ok(EnsembleParameters {
        livetime_yr,
        rue,
        rup,
        kmax,
        dem_emin: DEM_EMIN_MEV,
        dep_emin: DEP_EMIN_MEV,
        tmin: TMIN_NS,
        max_livetime_s: 0.95 * max_livetime_rmc_yr * SECONDS_PER_YEAR,
        run,
        sampling_seed,
        log10_rate_range: (lo, hi),
    })
}

/// Writes the G0 run_si directory (`kmax` and `livetime` as `%f`, `rue`/`rup` as `%e`, `settings`
/// as `%f %f %f %f %d %d` on six lines), refusing an existing directory like the original.
///
/// # Errors
///
/// [`Error::InvalidArgument`] if `dir` exists; [`Error::Core`] for I/O failures.
pub fn write_run_si_dir(dir: &Path, p: &EnsembleParameters) -> Result<()> {
    if dir.exists() {
        return Err(Error::InvalidArgument(format!(
            "{} already exists; refusing to overwrite",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| hep_core::Error::io(dir, e))?;
    let w = |name: &str, text: String| {
        hep_core::io::atomic_write_bytes(&dir.join(name), text.as_bytes())
    };
    w("kmax", format!("{:.6}\n", p.kmax))?;
    w(
        "livetime",
        format!("{:.6}\n", p.livetime_yr * SECONDS_PER_YEAR),
    )?;
    w("rue", format!("{}\n", crate::fcl::python_e(p.rue)))?;
    w("rup", format!("{}\n", crate::fcl::python_e(p.rup)))?;
    w(
        "settings",
        format!(
            "{:.6}\n{:.6}\n{:.6}\n{:.6}\n{}\n{}\n",
            p.dem_emin, p.dep_emin, p.tmin, p.max_livetime_s, p.run, p.sampling_seed
        ),
    )?;
    Ok(())
}

/// Generation jobs of one sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobCount {
    /// Sample name (G0).
    pub sample: String,
    /// Expected generated events per year at the maximum parameters.
    pub norm_per_year: f64,
    /// Livetime used (yr).
    pub livetime_yr: f64,
    /// Events per job.
    pub events_per_job: u64,
    /// Reco merge factor.
    pub merge_factor: u32,
    /// `int(norm_per_year · livetime_yr / events_per_job) + 1`.
    pub njobs: u64,
}

/// genEnsemble's `(sample, events per job, merge factor)` (G0 `genEnsemble.py`).
pub const G0_JOBS: [(&str, u64, u32); 6] = [
    ("DIOLeadingLog", 250, 25),
    ("CeMLeadingLog", 250, 25),
    ("RMCexternal", 300_000, 150),
    ("RMCinternal", 20_000, 25),
    ("RPCexternal", 300_000, 10),
    ("RPCinternal", 2_000, 10),
];

/// The job counts of genEnsemble for `max_livetime_rmc_yr` (RMC) and `livetime_gen_yr`
/// (DIO/CE/RPC); DIO needs the Czarnecki table in `tables` (else the analytic Pol58 spectrum).
/// CeP is generated with the CeM jobs in the original and is not listed separately.
///
/// # Errors
///
/// As [`compute`]; [`Error::InvalidArgument`] for livetimes outside `[0,` [`MAX_LIVETIME_YR`]`]`
/// or a sample that would need more than [`MAX_JOBS`] jobs.
pub fn job_counts(
    max_livetime_rmc_yr: f64,
    livetime_gen_yr: f64,
    tables: &Tables,
) -> Result<Vec<JobCount>> {
    for v in [max_livetime_rmc_yr, livetime_gen_yr] {
        if !(0.0..=MAX_LIVETIME_YR).contains(&v) {
            return Err(Error::InvalidArgument(format!(
                "livetimes must be in [0, {MAX_LIVETIME_YR}] yr, got {v}"
            )));
        }
    }
    let mut inp = Inputs::new(ConstantSet::Mdc2018, Livetime::Years(LivetimeYears(1.0)));
    inp.dio_emin = DEM_EMIN_MEV;
    inp.rue = 10f64.powf(log10_rate_range(max_livetime_rmc_yr).1);
    inp.rup = inp.rue;
    inp.rmc_emin = DEP_EMIN_MEV;
    inp.kmax = KMAX_MAX_MEV;
    let norms = compute(&inp, tables)?;
    G0_JOBS
        .iter()
        .map(|&(sample, per_job, merge)| {
            let norm = norms.get(sample).ok_or_else(|| {
                Error::InvalidArgument(format!("no G0 normalisation for {sample}"))
            })?;
            let lt = if sample.starts_with("RMC") {
                max_livetime_rmc_yr
            } else {
                livetime_gen_yr
            };
            let jobs = (norm * lt / per_job as f64).floor() + 1.0;
            if !(jobs <= MAX_JOBS) {
                return Err(Error::InvalidArgument(format!(
                    "{sample}: {norm:e} events/yr x {lt} yr would need {jobs:e} jobs of \
                     {per_job} events (at most {MAX_JOBS:e})"
                )));
            }
            Ok(JobCount {
                sample: sample.to_string(),
                norm_per_year: norm,
                livetime_yr: lt,
                events_per_job: per_job,
                merge_factor: merge,
                njobs: jobs as u64,
            })
        })
        .collect()
}

/// A sample whose generated events (or cosmic livetime) are fewer than needed (Stage2 check).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratedCheck {
    /// Sample name.
    pub sample: String,
    /// Needed: expected generated events, or seconds of cosmic livetime.
    pub needed: f64,
    /// Available: summed `GenEventCount` or `CosmicLivetime` (s) of the files.
    pub generated: f64,
    /// `generated >= needed`.
    pub ok: bool,
}

/// Stage2: for each `(sample, needed, files)`, compares the summed generated events (or cosmic
/// livetime) of the files with what the normalisation needs.
pub fn check_generated(samples: &[(String, f64, Vec<SampleFileInfo>)]) -> Vec<GeneratedCheck> {
    samples
        .iter()
        .map(|(name, needed, files)| {
            let generated: f64 = files.iter().map(|f| f.normalization.value()).sum();
            GeneratedCheck {
                sample: name.clone(),
                needed: *needed,
                generated,
                ok: generated >= *needed,
            }
        })
        .collect()
}

/// Stage1: the livetime (s) defined by a set of cosmic files, the sum of their
/// `CosmicLivetime`.
///
/// # Errors
///
/// [`Error::InvalidArgument`] naming a file that carries `GenEventCount` instead.
pub fn livetime_from_cosmics(files: &[SampleFileInfo]) -> Result<f64> {
    let mut t = 0.0;
    for f in files {
        match f.normalization {
            SampleNormalization::CosmicLivetimeSeconds(s) => t += s,
            SampleNormalization::GenEventCount(_) => {
                return Err(Error::InvalidArgument(format!(
                    "{}: not a cosmic sample (GenEventCount, no CosmicLivetime)",
                    f.path.display()
                )));
            }
        }
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_in_ranges() {
        for seed in 0..200 {
            let p = draw_parameters(WEEK_REGIME_MAX_YR, 1002, seed).unwrap();
            assert!((0.9 * WEEK_REGIME_MAX_YR..WEEK_REGIME_MAX_YR).contains(&p.livetime_yr));
            assert!((1e-14..10f64.powf(-12.8)).contains(&p.rue));
            assert!((89.0..91.0).contains(&p.kmax));
            assert!(p.sampling_seed <= 10_000);
            let m = draw_parameters(30.0 / 365.0, 1002, seed).unwrap();
            assert!((10f64.powf(-14.6)..10f64.powf(-13.4)).contains(&m.rup));
        }
        assert_eq!(
            draw_parameters(0.1, 1, 5).unwrap(),
            draw_parameters(0.1, 1, 5).unwrap()
        );
        assert!(draw_parameters(-1.0, 1, 5).is_err());
    }
}
