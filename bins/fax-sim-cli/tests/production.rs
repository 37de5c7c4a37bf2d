//! `fax-sim production`: resumable productions, as a user runs them.
//!
//! The central test kills a production with SIGKILL while it runs, starts it again, and checks
//! that only the unfinished production ids run and that every table equals, byte for byte, the
//! tables of an uninterrupted run.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use assert_cmd::Command;

const CONFIG: &str = r#"
name = "Kill_Test"
number_job = 8
seed = 5
[fake]
number_event_per_job = 40
"#;

fn fax() -> Command {
    Command::cargo_bin("fax-sim").unwrap()
}

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("production.in.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn run(config: &Path, out: &Path, threads: &str) -> std::process::Output {
    fax()
        .args(["production", "run", "--config"])
        .arg(config)
        .arg("--output")
        .arg(out)
        .args(["--threads", threads])
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The completion records of the last stage (match) present in `root/merged`.
fn complete_ids(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(root.join("merged"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let id = name.strip_suffix(".done.json")?.to_string();
                    Some((id, std::fs::read(e.path()).ok()?))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Every data file (not manifests, logs or records) under `dir`, relative, sorted.
fn data_files(dir: &Path, base: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            data_files(&p, base, out);
        } else {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            if n.ends_with(".parquet") || n.ends_with(".csv") {
                out.push(p.strip_prefix(base).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
}

#[test]
fn killed_production_resumes_with_only_the_missing_ids_and_identical_tables() {
    let d = tempfile::tempdir().unwrap();
    let cfg = write_config(d.path(), CONFIG);
    let reference = d.path().join("reference");
    let o = run(&cfg, &reference, "2");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let s = text(&o.stdout);
    assert!(
        s.contains("8 production ids: 8 run, 0 complete already, 0 failed"),
        "{s}"
    );

    // The same production, killed once two ids have finished every stage.
    let killed = d.path().join("killed");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("fax-sim"))
        .args(["production", "run", "--config"])
        .arg(&cfg)
        .arg("--output")
        .arg(&killed)
        .args(["--threads", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let root = killed.join("Kill_Test");
    let t0 = Instant::now();
    while complete_ids(&root).len() < 2 {
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "no id completed in 300 s"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the production ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let done_at_kill = complete_ids(&root);
    assert!(
        done_at_kill.len() >= 2 && done_at_kill.len() < 8,
        "killed with {} of 8 ids complete",
        done_at_kill.len()
    );
    assert!(
        !root.join("Basics.parquet").exists(),
        "merged before it was killed"
    );
    let status = fax()
        .args(["production", "status", "--config"])
        .arg(&cfg)
        .arg("--output")
        .arg(&killed)
        .output()
        .unwrap();
    let st = text(&status.stdout);
    assert!(
        st.starts_with(&format!(
            "{} complete, 0 failed, {} missing",
            done_at_kill.len(),
            8 - done_at_kill.len()
        )),
        "{st}"
    );

    // Started again: exactly the unfinished ids run.
    let o = run(&cfg, &killed, "2");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let s = text(&o.stdout);
    let expected = format!(
        "8 production ids: {} run, {} complete already, 0 failed",
        8 - done_at_kill.len(),
        done_at_kill.len()
    );
    assert!(s.contains(&expected), "expected `{expected}` in\n{s}");
    // The ids complete at the kill were not touched (their records are unchanged).
    let after = complete_ids(&root);
    for (id, rec) in &done_at_kill {
        let now = after.iter().find(|(i, _)| i == id).unwrap();
        assert_eq!(&now.1, rec, "{id} was run again");
    }

    // Every table, per id and merged, equals the uninterrupted run's byte for byte.
    let (mut a, mut b) = (Vec::new(), Vec::new());
    data_files(&reference, &reference, &mut a);
    data_files(&killed, &killed, &mut b);
    assert_eq!(a, b, "different file sets");
    assert!(a.iter().any(|p| p.ends_with("Kill_Test/Basics.parquet")));
    assert!(a.len() > 8 * 10, "{} files", a.len());
    for f in &a {
        assert!(
            std::fs::read(reference.join(f)).unwrap() == std::fs::read(killed.join(f)).unwrap(),
            "{} differs after the resumed run",
            f.display()
        );
    }
}

#[test]
fn failed_id_is_recorded_retried_and_only_then_merged() {
    let d = tempfile::tempdir().unwrap();
    let cfg = write_config(
        d.path(),
        "name = \"Fail_Test\"\nnumber_job = 3\n[fake]\nnumber_event_per_job = 5\n",
    );
    let out = d.path().join("out");
    // A file where id 1's simulate output directory must go makes that stage fail.
    let blocker = out.join("Fail_Test/raw/Fail_Test_000001");
    std::fs::create_dir_all(blocker.parent().unwrap()).unwrap();
    std::fs::write(&blocker, "not a directory").unwrap();
    let o = run(&cfg, &out, "2");
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(
        err.contains("Fail_Test_000001 failed in simulate (io)"),
        "{err}"
    );
    let rec: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join("Fail_Test/errors/Fail_Test_000001.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(rec["production_id"], "Fail_Test_000001");
    assert_eq!(rec["stage"], "simulate");
    assert_eq!(rec["error_type"], "io");
    assert!(!out.join("Fail_Test/Basics.parquet").exists());
    let merge = fax()
        .args(["production", "merge", "--config"])
        .arg(&cfg)
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    assert!(!merge.status.success());
    assert!(
        text(&merge.stderr).contains("1 production ids are not complete (1 failed, 0 missing"),
        "{}",
        text(&merge.stderr)
    );

    std::fs::remove_file(&blocker).unwrap();
    let o = run(&cfg, &out, "2");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let s = text(&o.stdout);
    assert!(
        s.contains("3 production ids: 1 run, 2 complete already, 0 failed"),
        "{s}"
    );
    assert!(!out.join("Fail_Test/errors/Fail_Test_000001.json").exists());
    let basics = out.join("Fail_Test/Basics.parquet");
    let (schema, batches) = hep_core::io::read_parquet(&basics).unwrap();
    assert_eq!(schema.field(0).name(), "production_id");
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 15);

    // A damaged output is found and only its stage and the later ones run again.
    let peaks = out.join("Fail_Test/processed/Fail_Test_000002/peaks.parquet");
    std::fs::write(&peaks, b"damaged").unwrap();
    let o = run(&cfg, &out, "1");
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("3 production ids: 1 run, 2 complete already"));
    let log =
        std::fs::read_to_string(out.join("Fail_Test/productionlog/Fail_Test_000002.log")).unwrap();
    assert_eq!(log.matches("simulate:").count(), 1, "{log}");
    assert_eq!(log.matches("process:").count(), 2, "{log}");
    assert_eq!(log.matches("match:").count(), 2, "{log}");
    let matched = out.join("Fail_Test/matched_peaks.parquet");
    let t = hep_core::io::read_parquet_table(&matched).unwrap();
    assert!(t.schema().field_with_name("truth_n_photons").is_ok());

    // Another configuration in the same directory is refused.
    let other = write_config(d.path(), "name = \"Fail_Test\"\nnumber_job = 4\n");
    let o = run(&other, &out, "1");
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("holds a production of another configuration"));
}

#[test]
fn sweep_gives_one_configuration_per_entry_and_submit_writes_an_array_over_ids() {
    let d = tempfile::tempdir().unwrap();
    let cfg = write_config(
        d.path(),
        r#"
number_job = 3
[fake]
number_event_per_job = 4
[[sweep]]
name = "test_with_100_photons"
fake = { photon_number_low = 50, photon_number_high = 150 }
[[sweep]]
name = "test_with_300_photons"
fake = { photon_number_low = 250, photon_number_high = 350 }
number_job = 2
"#,
    );
    let out = d.path().join("out");
    let o = fax()
        .args(["production", "run", "--print-config", "--config"])
        .arg(&cfg)
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    let s = text(&o.stdout);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(s.matches("[[configurations]]").count(), 2, "{s}");
    assert!(s.contains("photon_number_high = 350"));
    let o = fax()
        .args(["production", "submit", "--shards", "2", "--config"])
        .arg(&cfg)
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let script = std::fs::read_to_string(out.join("slurm/fax-sim-production.sbatch")).unwrap();
    assert!(script.contains("#SBATCH --array=0-1"), "{script}");
    assert!(script.contains("production run --output"), "{script}");
    assert!(
        script.contains("--shard \"${SLURM_ARRAY_TASK_ID}/2\""),
        "{script}"
    );
    let merge = std::fs::read_to_string(out.join("slurm/merge.sbatch")).unwrap();
    assert!(merge.contains("production merge --output"), "{merge}");
    // --print-config (the resolved production and its [slurm] table), fed back alone through
    // --config, writes the same scripts byte for byte; the snapshot reads back as the same
    // production.
    let o = fax()
        .args([
            "production",
            "submit",
            "--shards",
            "2",
            "--print-config",
            "--config",
        ])
        .arg(&cfg)
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let printed = text(&o.stdout);
    assert!(
        printed.contains("[slurm]") && printed.contains("shards = 2"),
        "{printed}"
    );
    let scripts = || {
        [
            "fax-sim-production.sbatch",
            "merge.sbatch",
            "production.toml",
        ]
        .map(|f| std::fs::read(out.join("slurm").join(f)).unwrap())
    };
    let before = scripts();
    std::fs::remove_dir_all(out.join("slurm")).unwrap();
    let printed_dir = d.path().join("printed");
    std::fs::create_dir_all(&printed_dir).unwrap();
    let printed_cfg = write_config(&printed_dir, &printed);
    assert_ne!(printed_cfg, cfg);
    let o = fax()
        .args(["production", "submit", "--config"])
        .arg(&printed_cfg)
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(scripts() == before, "scripts differ");

    // The two shards by hand, then the merge: the ids of both configurations.
    for i in 0..2 {
        let o = fax()
            .args([
                "production",
                "run",
                "--shard",
                &format!("{i}/2"),
                "--config",
            ])
            .arg(&cfg)
            .arg("--output")
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert!(out.join(format!("shards/{i}-of-2/shard.json")).is_file());
    }
    let ids0 = std::fs::read_to_string(out.join("shards/0-of-2/ids.txt")).unwrap();
    assert_eq!(
        ids0,
        "test_with_100_photons_000000\ntest_with_100_photons_000001\n"
    );
    let o = fax()
        .args(["production", "merge", "--config"])
        .arg(&cfg)
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let (_, b) =
        hep_core::io::read_parquet(out.join("test_with_300_photons/Fundamentals.parquet")).unwrap();
    assert_eq!(b.iter().map(|b| b.num_rows()).sum::<usize>(), 2 * 4);
    // More S1 photons in the second configuration: a larger mean S1 truth.
    let mean_s1 = |name: &str| {
        let t =
            hep_core::io::read_parquet_table(out.join(name).join("truth_peaks.parquet")).unwrap();
        let ty = hep_core::io::column_str(&t, "peak_type").unwrap();
        let n = hep_core::io::column_i64(&t, "n_photons").unwrap();
        let v: Vec<f64> = (0..t.num_rows())
            .filter(|&i| ty.value(i) == "s1")
            .map(|i| n.value(i) as f64)
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    assert!(mean_s1("test_with_300_photons") > 2.0 * mean_s1("test_with_100_photons"));
}

/// A production as a real Slurm array over its ids plus the merge job gives the tables of a run
/// on this machine (skipped with a reason where no Slurm runs; required under CI).
#[test]
fn slurm_array_over_production_ids_gives_the_local_tables() {
    use hep_cli_support::slurm_testing::{available, submitted_ids, wait_for};
    if !available("slurm_array_over_production_ids_gives_the_local_tables") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let cfg = write_config(
        d.path(),
        "name = \"Slurm_Test\"\nnumber_job = 5\nseed = 9\n[fake]\nnumber_event_per_job = 6\n",
    );
    let local = d.path().join("local");
    let o = run(&cfg, &local, "2");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = d.path().join("slurm");
    let o = fax()
        .current_dir(d.path())
        .args([
            "production",
            "submit",
            "--shards",
            "3",
            "--submit",
            "--config",
        ])
        .arg(&cfg)
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let printed = text(&o.stdout);
    eprintln!("{printed}");
    let (array, merge) = submitted_ids(&printed).expect("job ids printed");
    let timeout = Duration::from_secs(300);
    let states = wait_for(&array, timeout);
    assert!(
        states.iter().all(|s| s == "COMPLETED"),
        "array {array}: {states:?}"
    );
    assert_eq!(wait_for(&merge, timeout), ["COMPLETED"], "merge {merge}");
    let (mut a, mut b) = (Vec::new(), Vec::new());
    data_files(&local, &local, &mut a);
    data_files(&out, &out, &mut b);
    assert_eq!(a, b);
    for f in &a {
        assert!(
            std::fs::read(local.join(f)).unwrap() == std::fs::read(out.join(f)).unwrap(),
            "{} differs",
            f.display()
        );
    }
}
