//! process-dir as shards: merge(shards) gives the data files of a single-process run byte for
//! byte for N = 1, 2, 3 and 7 (more shards than runs), bad shard sets are refused by name, and
//! the array runs on a real Slurm where one runs.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn bin() -> Command {
    Command::cargo_bin("etroc-analysis").unwrap()
}

fn stderr(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

/// A scan of five DAC settings of board 0 (charge 10).
fn scan(dir: &Path) -> PathBuf {
    let d = dir.join("scan");
    std::fs::create_dir_all(&d).unwrap();
    for (k, dac) in [540, 544, 548, 552, 556].into_iter().enumerate() {
        let name = format!(
            "TDC_Data_PhaseAdj0_F5P5_QSel10_DAC{dac}_F17P5_QSel10_DAC720_B2P5_QSel10_DAC720_Split_0.dat"
        );
        let hits: String = (0..3 + k)
            .map(|i| format!(" {} {} 50 {} 1\n", [0, 1, 3][i % 3], 200 + i, 125 + i))
            .collect();
        std::fs::write(d.join(name), hits).unwrap();
    }
    d
}

/// The data files of a run directory (relative path and bytes): everything but the manifests,
/// task reports and logs, which record times, and the shards.
fn data_files(run: &Path) -> Vec<(PathBuf, Vec<u8>)> {
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
    walk(run, run, &mut v);
    v.sort();
    v
}

#[test]
fn merged_shards_equal_the_single_process_run() {
    let tmp = tempfile::tempdir().unwrap();
    let input = scan(tmp.path());
    let single = tmp.path().join("single");
    bin()
        .args(["process-dir", "-i", "-d"])
        .arg(&input)
        .arg("-o")
        .arg(&single)
        .assert()
        .success();
    let reference = data_files(&single);
    assert!(reference.len() > 20, "{}", reference.len());
    for n in [1usize, 2, 3, 7] {
        let out = tmp.path().join(format!("sharded{n}"));
        for i in 0..n {
            bin()
                .args(["process-dir", "-d"])
                .arg(&input)
                .arg("-o")
                .arg(&out)
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
        // A second merge is refused.
        let a = bin().args(["merge", "-o"]).arg(&out).assert().failure();
        assert!(stderr(&a).contains("merged already"), "{}", stderr(&a));
    }
    // Shards of another scan are foreign.
    let out = tmp.path().join("mixed");
    bin()
        .args(["process-dir", "-d"])
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .arg("--shard=0/2")
        .assert()
        .success();
    std::fs::write(input.join("extra_Split_0.dat"), " 0 1 1 1 1\n").unwrap();
    bin()
        .args(["process-dir", "-d"])
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .arg("--shard=1/2")
        .assert()
        .success();
    let a = bin().args(["merge", "-o"]).arg(&out).assert().failure();
    assert!(
        stderr(&a).contains("shard 1/2: differs from shard 0/2 in: inputs"),
        "{}",
        stderr(&a)
    );
}

#[test]
fn slurm_array_and_merge_give_the_single_process_run() {
    use hep_cli_support::slurm_testing::{available, submitted_ids, wait_for};
    if !available("slurm_array_and_merge_give_the_single_process_run") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let input = scan(tmp.path());
    let single = tmp.path().join("single");
    bin()
        .args(["process-dir", "-i", "-d"])
        .arg(&input)
        .arg("-o")
        .arg(&single)
        .assert()
        .success();
    let out = tmp.path().join("slurm");
    let a = bin()
        .current_dir(tmp.path())
        .args([
            "submit",
            "--shards",
            "2",
            "--submit",
            "--",
            "process-dir",
            "-i",
            "-d",
        ])
        .arg(&input)
        .arg("-o")
        .arg(&out)
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
