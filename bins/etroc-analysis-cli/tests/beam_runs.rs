//! Several beam runs in one job (`run-beams`) and as shards: merge(shards) gives the data files of
//! a single-process job byte for byte for N = 1, 2, 3 and 7 (more shards than runs), a failing run
//! is recorded and makes the exit code non-zero, a shard of another job is refused by name, and the
//! array runs on a real Slurm where one runs.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn bin() -> Command {
    Command::cargo_bin("etroc-analysis").unwrap()
}

fn stderr(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

/// Three simulated beam runs of 1500 events (seeds 1, 2, 3).
fn runs(dir: &Path) -> Vec<PathBuf> {
    let d = dir.join("sim");
    (1..=3)
        .map(|seed| {
            bin()
                .args(["simulate", "beam", "--events", "1500", "--seed"])
                .arg(seed.to_string())
                .arg("-o")
                .arg(&d)
                .assert()
                .success();
            d.join(format!("F5P5_F17P5_B2P5_Synth_seed{seed}.txt"))
        })
        .collect()
}

/// The data files below `dir` (relative path and bytes): everything but manifests, task reports,
/// logs and `run_info.txt` (which record times and command lines), and the shards.
fn data_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            if rel.starts_with("shards") || rel.starts_with("slurm") {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                if !(name.ends_with(".json") || name.ends_with(".log") || name == "run_info.txt") {
                    out.push((rel, std::fs::read(&p).unwrap()));
                }
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, dir, &mut v);
    v.sort();
    v
}

fn job(files: &[PathBuf], out: &Path) -> Vec<String> {
    let mut v = vec![
        "run-beams".to_string(),
        "--no-sqlite".into(),
        "--files".into(),
    ];
    v.extend(files.iter().map(|f| f.to_string_lossy().into_owned()));
    v.extend(["-o".into(), out.to_string_lossy().into_owned()]);
    v
}

#[test]
fn merged_shards_equal_the_single_process_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let files = runs(tmp.path());
    let single = tmp.path().join("single");
    let a = bin().args(job(&files, &single)).assert().success();
    let printed = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
    assert!(printed.contains("3 runs"), "{printed}");
    let summary = std::fs::read_to_string(single.join("beam_runs_resolution.csv")).unwrap();
    // Three boards per run, one step (no time cuts) and one TWC iteration: 9 rows and a header.
    assert_eq!(summary.lines().count(), 10, "{summary}");
    assert!(
        single
            .join("beam_runs_resolution.csv.manifest.json")
            .is_file()
    );
    for line in summary.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f[1], "ok", "{line}");
        // The simulated boards have resolutions of a few tens of ps.
        let ps: f64 = f[9].parse().unwrap();
        assert!((20.0..80.0).contains(&ps), "{line}");
    }
    let reference = data_files(&single);
    assert!(reference.len() > 30, "{}", reference.len());
    for n in [1usize, 2, 3, 7] {
        let out = tmp.path().join(format!("sharded{n}"));
        for i in 0..n {
            bin()
                .args(job(&files, &out))
                .arg(format!("--shard={i}/{n}"))
                .assert()
                .success();
        }
        bin().args(["merge", "-o"]).arg(&out).assert().success();
        let got = data_files(&out);
        assert_eq!(
            got.iter().map(|f| &f.0).collect::<Vec<_>>(),
            reference.iter().map(|f| &f.0).collect::<Vec<_>>(),
            "N = {n}"
        );
        for (a, b) in got.iter().zip(&reference) {
            assert!(a.1 == b.1, "N = {n}: {} differs", a.0.display());
        }
        let a = bin().args(["merge", "-o"]).arg(&out).assert().failure();
        assert!(stderr(&a).contains("merged already"), "{}", stderr(&a));
    }
    // A missing shard is named.
    let out = tmp.path().join("partial");
    bin()
        .args(job(&files, &out))
        .arg("--shard=0/2")
        .assert()
        .success();
    let a = bin().args(["merge", "-o"]).arg(&out).assert().failure();
    assert!(stderr(&a).contains("shard 1/2: missing"), "{}", stderr(&a));
    // A shard of another list of runs is foreign.
    bin()
        .args(job(&files[..2], &out))
        .arg("--shard=1/2")
        .assert()
        .success();
    let a = bin().args(["merge", "-o"]).arg(&out).assert().failure();
    assert!(
        stderr(&a).contains("shard 1/2: differs from shard 0/2"),
        "{}",
        stderr(&a)
    );
}

#[test]
fn a_failing_run_is_recorded_and_the_others_go_on() {
    let tmp = tempfile::tempdir().unwrap();
    let mut files = runs(tmp.path());
    files.truncate(1);
    let bad = tmp.path().join("sim/broken.txt");
    std::fs::write(&bad, "this is not a beam summary\n").unwrap();
    files.push(bad);
    let out = tmp.path().join("out");
    let a = bin().args(job(&files, &out)).assert().failure();
    assert!(stderr(&a).contains("1 of 2 runs failed"), "{}", stderr(&a));
    let summary = std::fs::read_to_string(out.join("beam_runs_resolution.csv")).unwrap();
    assert!(summary.contains("\nbroken,failed,"), "{summary}");
    assert_eq!(summary.matches(",ok,").count(), 3, "{summary}");
    // Two files with one run name are refused before anything is written.
    let out2 = tmp.path().join("dup");
    let dup = vec![files[0].clone(), files[0].clone()];
    let a = bin().args(job(&dup, &out2)).assert().failure();
    assert!(stderr(&a).contains("run name"), "{}", stderr(&a));
    assert!(!out2.exists());
}

#[test]
fn slurm_array_and_merge_give_the_single_process_runs() {
    use hep_cli_support::slurm_testing::{available, submitted_ids, wait_for};
    if !available("slurm_array_and_merge_give_the_single_process_runs") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let files = runs(tmp.path());
    let single = tmp.path().join("single");
    bin().args(job(&files, &single)).assert().success();
    let out = tmp.path().join("slurm");
    let a = bin()
        .current_dir(tmp.path())
        .args(["submit", "--shards", "2", "--submit", "--"])
        .args(job(&files, &out))
        .assert()
        .success();
    let printed = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
    eprintln!("{printed}");
    let (array, merge) = submitted_ids(&printed).expect("job ids printed");
    let timeout = std::time::Duration::from_secs(300);
    let states = wait_for(&array, timeout);
    assert!(
        states.iter().all(|s| s == "COMPLETED"),
        "array {array}: {states:?}"
    );
    assert_eq!(wait_for(&merge, timeout), ["COMPLETED"], "merge {merge}");
    assert_eq!(data_files(&out), data_files(&single));
}
