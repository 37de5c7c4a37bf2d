//! Reproducibility: the profile of all 128 readout groups in one process, and in N = 1, 2, 3
//! shards merged, give byte-identical files; one thread and several give byte-identical files;
//! the simulation does not depend on the thread count either.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hep_core::progress::NoProgress;
use hep_core::shard::Shard;
use pixel_monitor::pipeline::PipelineConfig;
use pixel_monitor::profile_job::{ProfileJob, merge_profile_shards, run_profile_with};
use pixel_monitor::simulate::{DcsFormat, SimConfig, Simulation};

/// Every file under `dir` except manifests and shard directories, with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                if name != "shards" {
                    stack.push(p);
                }
            } else if !name.ends_with(".manifest.json") {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

fn assert_same(a: &BTreeMap<PathBuf, Vec<u8>>, b: &BTreeMap<PathBuf, Vec<u8>>, what: &str) {
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "{what}: file lists"
    );
    for (k, v) in a {
        assert!(v == &b[k], "{what}: {} differs", k.display());
    }
}

#[test]
fn shards_and_threads_give_identical_files() {
    let tmp = tempfile::tempdir().unwrap();
    let sim_dir = tmp.path().join("sim");
    let cfg = SimConfig {
        dcs_format: DcsFormat::Parquet,
        ..SimConfig::small(3.0)
    };
    Simulation::new(&cfg)
        .unwrap()
        .write(&sim_dir, &NoProgress)
        .unwrap();
    let inputs = PipelineConfig::simulated_inputs(&sim_dir);
    let job = |out: &Path| ProfileJob {
        fills: inputs.fills.clone(),
        lumi: inputs.lumi_byls.clone(),
        caen: inputs.caen.clone(),
        plc: inputs.plc.clone(),
        hv: inputs.hv.clone(),
        field: inputs.fluka.clone(),
        output_dir: out.join("profiles"),
        plots_dir: out.join("plots"),
        ..ProfileJob::default()
    };
    let single = tmp.path().join("single");
    let data = job(&single).load().unwrap();
    run_profile_with(&job(&single), &data, None, &NoProgress).unwrap();
    let reference = files(&single);
    // 128 text profiles, the Parquet profile, three plots with their CSVs.
    assert_eq!(
        reference.len(),
        128 + 1 + 6,
        "{:?}",
        reference.keys().collect::<Vec<_>>()
    );

    for n in 1..=3 {
        let dir = tmp.path().join(format!("n{n}"));
        // The plots and the other outputs go where the single run put them, relative to `dir`.
        let j = job(&dir);
        for i in 0..n {
            let r =
                run_profile_with(&j, &data, Some(Shard::new(i, n).unwrap()), &NoProgress).unwrap();
            assert!(
                r.outputs
                    .iter()
                    .all(|p| p.starts_with(Shard::new(i, n).unwrap().dir(&j.output_dir)))
            );
        }
        // Nothing outside the shard directories before the merge.
        assert!(
            files(&dir).is_empty(),
            "shards wrote outside their directories"
        );
        merge_profile_shards(&j).unwrap();
        assert_same(&reference, &files(&dir), &format!("{n} shards"));
    }

    // One thread.
    let one = tmp.path().join("one_thread");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    pool.install(|| run_profile_with(&job(&one), &data, None, &NoProgress))
        .unwrap();
    assert_same(&reference, &files(&one), "one thread");

    // A merge refuses an incomplete shard set.
    let bad = tmp.path().join("bad");
    let j = job(&bad);
    run_profile_with(&j, &data, Some(Shard::new(0, 2).unwrap()), &NoProgress).unwrap();
    let e = merge_profile_shards(&j).unwrap_err().to_string();
    assert!(e.contains("1/2") && e.contains("missing"), "{e}");
}

#[test]
fn simulation_does_not_depend_on_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = SimConfig {
        caen_interval_s: 3600.0,
        plc_interval_s: 3600.0,
        ..SimConfig::small(2.0)
    };
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    Simulation::new(&cfg)
        .unwrap()
        .write(&a, &NoProgress)
        .unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    pool.install(|| Simulation::new(&cfg).unwrap().write(&b, &NoProgress))
        .unwrap();
    assert_same(&files(&a), &files(&b), "simulation");
}
