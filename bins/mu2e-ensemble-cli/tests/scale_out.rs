//! gen-primary as shards: merge(shards) gives the single-process files byte for byte for
//! N = 1, 2, 3 and 7 (more shards than jobs), bad shard sets are refused by name, and the array
//! runs on a real Slurm where one runs.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use hep_cli_support::testing;

fn cmd() -> Command {
    Command::cargo_bin("mu2e-ensemble").unwrap()
}

fn stderr(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

fn job(out: &Path) -> Vec<String> {
    [
        "gen-primary",
        "--primary",
        "RMCExternal",
        "--type",
        "rmc",
        "--njobs",
        "5",
        "--events",
        "2000",
        "--filter-efficiency",
        "0.5",
        "--seed",
        "9",
        "--output",
    ]
    .iter()
    .map(ToString::to_string)
    .chain(std::iter::once(out.to_string_lossy().into_owned()))
    .collect()
}

/// The Parquet files of `dir` (sorted) and their bytes.
fn samples(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    v.sort();
    v.into_iter()
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (PathBuf::from(p.file_name().unwrap()), b)
        })
        .collect()
}

#[test]
fn merged_shards_equal_the_single_process_samples() {
    let tmp = tempfile::tempdir().unwrap();
    let single = tmp.path().join("single");
    cmd().args(job(&single)).assert().success();
    let reference = samples(&single);
    assert_eq!(reference.len(), 5);
    for n in [1usize, 2, 3, 7] {
        let out = tmp.path().join(format!("sharded{n}"));
        for i in 0..n {
            cmd()
                .args(job(&out))
                .arg(format!("--shard={i}/{n}"))
                .assert()
                .success();
        }
        cmd()
            .args(["merge", "--output"])
            .arg(&out)
            .assert()
            .success();
        assert_eq!(samples(&out), reference, "N = {n}");
        // The merged files carry their manifests, which verify.
        for (name, _) in &reference {
            hep_core::io::read_parquet(out.join(name)).unwrap();
        }
    }
    let out = tmp.path().join("sharded3");
    std::fs::remove_dir_all(out.join("shards/0-of-3")).unwrap();
    let a = cmd()
        .args(["merge", "--output"])
        .arg(&out)
        .assert()
        .failure();
    assert!(stderr(&a).contains("shard 0/3: missing"), "{}", stderr(&a));
    // A shard of another seed is foreign.
    let mut other = job(&out);
    other[12] = "10".into();
    cmd().args(&other).arg("--shard=0/3").assert().success();
    let a = cmd()
        .args(["merge", "--output"])
        .arg(&out)
        .assert()
        .failure();
    assert!(
        stderr(&a).contains("shard 1/3: differs from shard 0/3 in: configuration"),
        "{}",
        stderr(&a)
    );
}

#[test]
fn slurm_array_and_merge_give_the_single_process_samples() {
    use hep_cli_support::slurm_testing::{available, submitted_ids, wait_for};
    if !available("slurm_array_and_merge_give_the_single_process_samples") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let single = tmp.path().join("single");
    cmd().args(job(&single)).assert().success();
    let out = tmp.path().join("slurm");
    let a = cmd()
        .current_dir(tmp.path())
        .args(["submit", "--shards", "2", "--submit", "--"])
        .args(job(&out))
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
    assert_eq!(samples(&out), samples(&single));
}

#[test]
fn merge_and_submit_from_printed_config_are_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("sharded");
    for i in 0..2 {
        cmd()
            .args(job(&out))
            .arg(format!("--shard={i}/2"))
            .assert()
            .success();
    }
    cmd().arg("merge").arg("-o").arg(&out).assert().success();
    let by_cli = testing::files_in(&out);
    assert!(!by_cli.is_empty());
    let printed = cmd()
        .arg("merge")
        .arg("-o")
        .arg(&out)
        .arg("--print-config")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let merge_toml = tmp.path().join("merge.toml");
    std::fs::write(&merge_toml, printed).unwrap();
    for f in by_cli.keys() {
        std::fs::remove_file(out.join(f)).unwrap();
    }
    cmd()
        .arg("merge")
        .arg("--config")
        .arg(&merge_toml)
        .assert()
        .success();
    assert!(testing::files_in(&out) == by_cli, "merge outputs differ");

    let sub = tmp.path().join("submitted");
    let slurm = ["--shards", "2", "--mem", "2G", "--partition", "debug"];
    cmd()
        .arg("submit")
        .args(slurm)
        .arg("--")
        .args(job(&sub))
        .assert()
        .success();
    let scripts = testing::files_in(&sub.join("slurm"));
    assert_eq!(scripts.len(), 2);
    let printed = cmd()
        .arg("submit")
        .args(slurm)
        .arg("--print-config")
        .arg("--")
        .args(job(&sub))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(printed).unwrap();
    assert!(
        text.contains("\"gen-primary\",")
            && text.contains("[slurm]\nshards = 2\npartition = \"debug\"\nmem = \"2G\"\n"),
        "{text}"
    );
    std::fs::remove_dir_all(sub.join("slurm")).unwrap();
    let submit_toml = tmp.path().join("submit.toml");
    std::fs::write(&submit_toml, text).unwrap();
    cmd()
        .arg("submit")
        .arg("--config")
        .arg(&submit_toml)
        .assert()
        .success();
    assert!(
        testing::files_in(&sub.join("slurm")) == scripts,
        "scripts differ"
    );
}
