//! The detector fit as shards: merge(shards) gives the single-process files byte for byte for
//! N = 1, 2, 3 and 7 (more shards than channels), bad shard sets are refused by name, and the
//! Slurm scripts run the shards (against a real Slurm where one runs).

use std::path::Path;

use assert_cmd::Command;

fn cmd() -> Command {
    Command::cargo_bin("calo-calib").unwrap()
}

const FILES: [&str; 3] = [
    "source_fits.parquet",
    "source_fits.csv",
    "CalSourceEnergyCalib.txt",
];

fn stderr(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

fn fit_args(spectra: &Path, out: &Path) -> Vec<String> {
    vec![
        "fit".into(),
        "-i".into(),
        spectra.to_string_lossy().into_owned(),
        "--first".into(),
        "100".into(),
        "--last".into(),
        "105".into(),
        "-o".into(),
        out.to_string_lossy().into_owned(),
    ]
}

fn simulate(dir: &Path) -> std::path::PathBuf {
    cmd()
        .args([
            "simulate",
            "--events-per-crystal",
            "3000",
            "--seed",
            "3",
            "--format",
            "parquet",
            "-o",
        ])
        .arg(dir)
        .assert()
        .success();
    dir.join("spectra.parquet")
}

#[test]
fn merged_shards_equal_the_single_process_fit() {
    let tmp = tempfile::tempdir().unwrap();
    let spectra = simulate(&tmp.path().join("sim"));
    let single = tmp.path().join("single");
    cmd().args(fit_args(&spectra, &single)).assert().success();
    for n in [1usize, 2, 3, 7] {
        let out = tmp.path().join(format!("sharded{n}"));
        for i in 0..n {
            cmd()
                .args(fit_args(&spectra, &out))
                .arg(format!("--shard={i}/{n}"))
                .assert()
                .success();
        }
        // Shard outputs only: nothing at the top level before the merge.
        assert!(!out.join("source_fits.csv").exists());
        cmd().args(["merge", "-o"]).arg(&out).assert().success();
        for f in FILES {
            assert_eq!(
                std::fs::read(single.join(f)).unwrap(),
                std::fs::read(out.join(f)).unwrap(),
                "N = {n}: {f}"
            );
        }
    }

    // Refused: a missing shard, an incomplete one, a duplicated one, one of another run.
    let out = tmp.path().join("sharded3");
    let shard = |i: usize| out.join(format!("shards/{i}-of-3"));
    std::fs::rename(shard(1), tmp.path().join("moved")).unwrap();
    let a = cmd().args(["merge", "-o"]).arg(&out).assert().failure();
    assert!(stderr(&a).contains("shard 1/3: missing"), "{}", stderr(&a));
    std::fs::rename(tmp.path().join("moved"), shard(1)).unwrap();

    std::fs::copy(shard(1).join("shard.json"), tmp.path().join("s1.json")).unwrap();
    std::fs::remove_file(shard(1).join("shard.json")).unwrap();
    let a = cmd().args(["merge", "-o"]).arg(&out).assert().failure();
    assert!(
        stderr(&a).contains("shard 1/3: incomplete"),
        "{}",
        stderr(&a)
    );
    std::fs::copy(tmp.path().join("s1.json"), shard(1).join("shard.json")).unwrap();

    std::fs::copy(shard(0).join("shard.json"), shard(2).join("shard.json")).unwrap();
    let a = cmd().args(["merge", "-o"]).arg(&out).assert().failure();
    assert!(
        stderr(&a).contains("shard 2/3:") && stderr(&a).contains("records shard 0/3"),
        "{}",
        stderr(&a)
    );
    // Shard 2 of another selection (a foreign run).
    let mut other = fit_args(&spectra, &out);
    other[6] = "106".into();
    cmd().args(&other).arg("--shard=2/3").assert().success();
    let a = cmd().args(["merge", "-o"]).arg(&out).assert().failure();
    assert!(
        stderr(&a).contains("shard 2/3: differs from shard 0/3 in: configuration"),
        "{}",
        stderr(&a)
    );
}

#[test]
fn submit_writes_array_and_merge_scripts() {
    let tmp = tempfile::tempdir().unwrap();
    let spectra = simulate(&tmp.path().join("sim"));
    let out = tmp.path().join("fit");
    let a = cmd()
        .current_dir(tmp.path())
        .args([
            "submit",
            "--shards",
            "4",
            "--max-parallel",
            "2",
            "--time",
            "00:10:00",
            "--",
        ])
        .args(fit_args(&spectra, &out))
        .assert()
        .success();
    let printed = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
    assert!(printed.contains("sbatch --parsable"), "{printed}");
    let array = std::fs::read_to_string(out.join("slurm/calo-calib-fit.sbatch")).unwrap();
    assert!(array.contains("#SBATCH --array=0-3%2"), "{array}");
    assert!(array.contains("#SBATCH --time=00:10:00"), "{array}");
    assert!(array.contains(" fit -i "), "{array}");
    assert!(
        array.contains("--shard \"${SLURM_ARRAY_TASK_ID}/4\""),
        "{array}"
    );
    let merge = std::fs::read_to_string(out.join("slurm/merge.sbatch")).unwrap();
    assert!(merge.contains(" merge -o "), "{merge}");
    // The task line runs as written: execute it by hand for each shard, then the merge.
    let body = |script: &str| {
        script
            .lines()
            .find(|l| l.starts_with("exec "))
            .unwrap()
            .trim_start_matches("exec ")
            .to_string()
    };
    for i in 0..4 {
        let st = std::process::Command::new("bash")
            .current_dir(tmp.path())
            .env("SLURM_ARRAY_TASK_ID", i.to_string())
            .args(["-c", &body(&array)])
            .status()
            .unwrap();
        assert!(st.success());
    }
    // --only-missing after a lost shard lists just that task.
    std::fs::remove_file(out.join("shards/2-of-4/shard.json")).unwrap();
    cmd()
        .current_dir(tmp.path())
        .args(["submit", "--shards", "4", "--only-missing", "--"])
        .args(fit_args(&spectra, &out))
        .assert()
        .success();
    let array = std::fs::read_to_string(out.join("slurm/calo-calib-fit.sbatch")).unwrap();
    assert!(array.contains("#SBATCH --array=2\n"), "{array}");
    // The job after -- is checked before anything is written.
    let a = cmd()
        .args([
            "submit", "--shards", "2", "--", "fit", "--shard", "0/2", "-i", "x.csv", "-o",
        ])
        .arg(tmp.path().join("bad"))
        .assert()
        .failure();
    assert!(stderr(&a).contains("without --shard"), "{}", stderr(&a));
    assert!(!tmp.path().join("bad").exists());
}

/// The array job and its merge on a real Slurm (CI starts one); the merged outputs equal the
/// single-process fit.
#[test]
fn slurm_array_and_merge_give_the_single_process_fit() {
    use hep_cli_support::slurm_testing::{available, submitted_ids, wait_for};
    if !available("slurm_array_and_merge_give_the_single_process_fit") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let spectra = simulate(&tmp.path().join("sim"));
    let single = tmp.path().join("single");
    cmd().args(fit_args(&spectra, &single)).assert().success();
    let out = tmp.path().join("slurm-fit");
    let a = cmd()
        .current_dir(tmp.path())
        .args(["submit", "--shards", "3", "--submit", "--"])
        .args(fit_args(&spectra, &out))
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
    let states = wait_for(&merge, timeout);
    assert_eq!(states, ["COMPLETED"], "merge {merge}");
    for f in FILES {
        assert_eq!(
            std::fs::read(single.join(f)).unwrap(),
            std::fs::read(out.join(f)).unwrap(),
            "{f}"
        );
    }
}

/// A shard task killed in the middle of its fit (SIGKILL, as Slurm does at the time limit) leaves
/// nothing the merge accepts: the merge names the shard, `submit --only-missing` lists exactly that
/// task, and after the rerun of that one shard the merge succeeds.
#[cfg(unix)]
#[test]
fn a_killed_shard_is_refused_and_resubmitted_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let spectra = simulate(&tmp.path().join("sim"));
    let out = tmp.path().join("fit");
    // The whole detector: shard 1/2 fits 1348 spectra, which takes well over the 0.3 s below.
    let job = |shard: &str| -> Vec<String> {
        vec![
            "fit".into(),
            "-i".into(),
            spectra.to_string_lossy().into_owned(),
            "-o".into(),
            out.to_string_lossy().into_owned(),
            "--shard".into(),
            shard.into(),
        ]
    };
    let exe = assert_cmd::cargo::cargo_bin("calo-calib");
    let mut child = std::process::Command::new(&exe)
        .args(job("1/2"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "shard 1/2 finished within 0.3 s; the kill would test nothing"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(!out.join("shards/1-of-2/shard.json").exists());
    cmd().args(job("0/2")).assert().success();
    let a = cmd().args(["merge", "-o"]).arg(&out).assert().failure();
    assert!(stderr(&a).contains("shard 1/2"), "{}", stderr(&a));
    cmd()
        .current_dir(tmp.path())
        .args(["submit", "--shards", "2", "--only-missing", "--"])
        .args(&job("0/2")[..5])
        .assert()
        .success();
    let array = std::fs::read_to_string(out.join("slurm/calo-calib-fit.sbatch")).unwrap();
    assert!(array.contains("#SBATCH --array=1\n"), "{array}");
    cmd().args(job("1/2")).assert().success();
    cmd().args(["merge", "-o"]).arg(&out).assert().success();
    for f in FILES {
        assert!(out.join(f).is_file(), "{f}");
    }
}
