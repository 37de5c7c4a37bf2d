//! genEnsemble planning (spec 3.1): job counts of the worked example, draws, directory round trip.

use std::path::PathBuf;

use mu2e_ensemble::planning::{
    WEEK_REGIME_MAX_YR, draw_parameters, job_counts, livetime_from_cosmics, write_run_si_dir,
};
use mu2e_ensemble::run_si::{Layout, RunSiDir};
use mu2e_ensemble::samples::{SampleFileInfo, SampleNormalization};
use mu2e_ensemble::tables::Tables;

mod common;

fn shared_tables() -> Option<PathBuf> {
    common::mu2e_data_dir()
}

/// The worked example of spec 3.1, from running the original genEnsemble.py: a "week"
/// (6/365·20/24 yr) asks for DIO 1011, CE 2, RMCext 3259, RMCint 338, RPCext 8, RPCint 8 jobs;
/// a 30-day month for 6066, 3, 19552, 2024, 44, 46.
#[test]
fn worked_example_job_counts() {
    let Some(dir) = shared_tables() else { return };
    let tables = Tables::load(&dir).unwrap();
    let njobs = |t: f64| -> Vec<u64> {
        job_counts(t, t, &tables)
            .unwrap()
            .iter()
            .map(|j| j.njobs)
            .collect()
    };
    // DIO, CeM, RMCext, RMCint, RPCext, RPCint
    assert_eq!(njobs(WEEK_REGIME_MAX_YR), vec![1011, 2, 3259, 338, 8, 8]);
    assert_eq!(njobs(30.0 / 365.0), vec![6066, 3, 19552, 2024, 44, 46]);
}

#[test]
fn drawn_directory_reads_back_as_g0() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("ens");
    let p = draw_parameters(WEEK_REGIME_MAX_YR, 1002, 42).unwrap();
    write_run_si_dir(&d, &p).unwrap();
    // genEnsemble refuses to overwrite.
    assert!(write_run_si_dir(&d, &p).is_err());
    // A G0 directory needs `filenames`; write one sample line.
    std::fs::write(d.join("filenames"), "CeMLeadingLog ce.parquet 0.0 0.5\n").unwrap();
    let r = RunSiDir::read(&d, None).unwrap();
    assert_eq!(r.layout, Layout::G0);
    assert!((r.livetime_s / 31_536_000.0 / p.livetime_yr - 1.0).abs() < 1e-6);
    assert!(
        (r.rue / p.rue - 1.0).abs() < 1e-6,
        "%e keeps 7 significant digits"
    );
    assert!((r.kmax.unwrap() - p.kmax).abs() < 1e-6);
    assert_eq!(r.settings.run, 1002);
    assert_eq!(u64::from(p.sampling_seed), r.settings.seed);
    assert_eq!(r.samples[0].fraction_window, Some((0.0, 0.5)));
}

#[test]
fn livetime_is_the_summed_cosmic_livetime() {
    let f = |t: f64| SampleFileInfo {
        path: "c.parquet".into(),
        events: 10,
        normalization: SampleNormalization::CosmicLivetimeSeconds(t),
        process: None,
    };
    assert_eq!(livetime_from_cosmics(&[f(1.5), f(2.25)]).unwrap(), 3.75);
    let mut g = f(1.0);
    g.normalization = SampleNormalization::GenEventCount(5);
    assert!(livetime_from_cosmics(&[f(1.0), g]).is_err());
}
