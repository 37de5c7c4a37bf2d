//! Run directory and task bookkeeping (spec 6.1-6.2, lip-pps-run-manager semantics).

use etroc_analysis::Error;
use etroc_analysis::rundir::{
    RUN_INFO_FILE, RunDir, TASK_MANIFEST_FILE, TASK_REPORT_FILE, TaskStatus, names,
};

fn report(run: &RunDir, task: &str) -> String {
    std::fs::read_to_string(run.task_dir(task).join(TASK_REPORT_FILE)).unwrap()
}

#[test]
fn create_makes_a_run_and_refuses_an_existing_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("my_run");
    let run = RunDir::create(&path).unwrap();
    assert_eq!(run.name(), "my_run");
    let info = std::fs::read_to_string(path.join(RUN_INFO_FILE)).unwrap();
    assert!(
        info.starts_with(
            "This directory contains data for the run 'my_run', created by the RunManager v"
        ),
        "{info}"
    );
    assert!(RunDir::is_run(&path));
    // An ingest needs a new directory, even if it is already a run.
    let e = RunDir::create(&path).unwrap_err();
    assert!(matches!(e, Error::Run { .. }), "{e}");
    assert!(e.to_string().contains("already exists"), "{e}");
    // A plain existing directory is refused too.
    let plain = tmp.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    assert!(RunDir::create(&plain).is_err());
    // open_or_create accepts both and does not rewrite run_info.txt.
    RunDir::open_or_create(&path).unwrap();
    assert_eq!(
        std::fs::read_to_string(path.join(RUN_INFO_FILE)).unwrap(),
        info
    );
    assert!(RunDir::open_or_create(&plain).is_ok());
    assert!(RunDir::is_run(&plain));
}

#[test]
fn open_requires_run_info() {
    let tmp = tempfile::tempdir().unwrap();
    let e = RunDir::open(tmp.path()).unwrap_err().to_string();
    assert!(e.contains("not a run directory (no run_info.txt)"), "{e}");
}

#[test]
fn task_reports_and_gating() {
    let tmp = tempfile::tempdir().unwrap();
    let run = RunDir::create(tmp.path().join("r")).unwrap();
    assert_eq!(run.task_status(names::PROCESS_TXT), TaskStatus::Missing);
    // The cut needs an ingest.
    let e = run
        .task(names::APPLY_EVENT_CUTS, &[names::ANY_INGEST], true)
        .unwrap_err();
    assert!(matches!(e, Error::TaskNotCompleted { .. }), "{e}");
    assert!(
        e.to_string().contains(
            "task 'apply_event_cuts' needs task 'proccess_etroc1_data_run_txt' or \
             'proccess_etroc1_data_run' to have completed without errors"
        ),
        "{e}"
    );
    assert!(!run.task_dir(names::APPLY_EVENT_CUTS).exists());

    let mut t = run.task(names::PROCESS_TXT, &[], true).unwrap();
    let out = t.path("data.txt");
    std::fs::write(&out, "x").unwrap();
    t.add_output(out.clone());
    t.set_configuration(&serde_json::json!({"pattern": 1}))
        .unwrap();
    t.succeed().unwrap();
    assert_eq!(report(&run, names::PROCESS_TXT), "task_status: no errors\n");
    assert!(run.task_completed(names::PROCESS_TXT));
    assert!(run.task_ran_successfully(names::PROCESS_TXT));
    let manifest = hep_core::manifest::Manifest::read(
        run.task_dir(names::PROCESS_TXT).join(TASK_MANIFEST_FILE),
    )
    .unwrap();
    assert_eq!(manifest.tool, "etroc-analysis");
    assert_eq!(manifest.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(manifest.configuration["pattern"], 1);
    assert_eq!(manifest.outputs.len(), 1);
    assert_eq!(
        manifest.outputs[0].sha256,
        hep_core::io::sha256_file(&out).unwrap()
    );
    assert!(hep_core::manifest::sidecar_path(&out).is_file());
    assert!(manifest.end_utc.is_some());

    // Now the cut may run.
    let t = run
        .task(names::APPLY_EVENT_CUTS, &[names::ANY_INGEST], true)
        .unwrap();
    t.incomplete().unwrap();
    assert_eq!(
        run.task_status(names::APPLY_EVENT_CUTS),
        TaskStatus::Incomplete
    );
    assert!(!run.task_completed(names::APPLY_EVENT_CUTS));
    assert!(run.task_ran_successfully(names::APPLY_EVENT_CUTS));
    // ... and a task needing completed cuts refuses to run after an incomplete one.
    assert!(
        run.task(
            names::CALCULATE_TIMES_IN_NS,
            &[names::APPLY_EVENT_CUTS],
            true
        )
        .is_err()
    );
}

#[test]
fn failures_are_recorded_and_block_dependants() {
    let tmp = tempfile::tempdir().unwrap();
    let run = RunDir::create(tmp.path().join("r")).unwrap();
    let e = run
        .run_task(
            names::PROCESS_TXT,
            &[],
            true,
            |_t| -> etroc_analysis::Result<()> { Err(Error::InvalidArgument("boom".into())) },
        )
        .unwrap_err();
    assert_eq!(e.to_string(), "invalid argument: boom");
    let text = report(&run, names::PROCESS_TXT);
    assert!(
        text.starts_with("task_status: there were errors\n"),
        "{text}"
    );
    assert!(text.contains("invalid argument: boom"), "{text}");
    assert_eq!(run.task_status(names::PROCESS_TXT), TaskStatus::Errors);
    assert!(
        run.task(names::APPLY_EVENT_CUTS, &[names::ANY_INGEST], true)
            .is_err()
    );
    // A task dropped unfinished (early return, panic) also leaves an error report.
    {
        let _t = run.task(names::PLOT_BEFORE_CUTS, &[], true).unwrap();
    }
    assert!(report(&run, names::PLOT_BEFORE_CUTS).starts_with("task_status: there were errors\n"));
}

#[test]
fn drop_old_empties_the_task_and_stale_reports_are_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let run = RunDir::create(tmp.path().join("r")).unwrap();
    let t = run.task(names::APPLY_TIME_CUTS, &[], true).unwrap();
    std::fs::write(t.path("old.txt"), "old").unwrap();
    t.succeed().unwrap();
    // Without drop_old the files stay, but the old success report is removed at start.
    let t = run.task(names::APPLY_TIME_CUTS, &[], false).unwrap();
    assert!(t.path("old.txt").exists());
    assert_eq!(run.task_status(names::APPLY_TIME_CUTS), TaskStatus::Missing);
    t.succeed().unwrap();
    let t = run.task(names::APPLY_TIME_CUTS, &[], true).unwrap();
    assert!(!t.path("old.txt").exists());
    t.succeed().unwrap();
}

#[test]
fn original_task_names_are_kept() {
    assert_eq!(names::PROCESS_TXT, "proccess_etroc1_data_run_txt");
    assert_eq!(names::PROCESS_DAT, "proccess_etroc1_data_run");
    assert_eq!(names::APPLY_EVENT_CUTS, "apply_event_cuts");
    assert_eq!(names::APPLY_TIME_CUTS, "apply_time_cuts");
    assert_eq!(names::CALCULATE_TIMES_IN_NS, "calculate_times_in_ns");
    assert_eq!(
        names::CALCULATE_TIME_WALK_CORRECTION,
        "calculate_time_walk_correction"
    );
    assert_eq!(names::ANALYSE_TIME_RESOLUTION, "analyse_time_resolution");
    assert_eq!(names::MERGE_RUNS, "merge_etroc1_runs");
}

/// What a failed ingest leaves (a run whose only task reports errors) does not block the retry
/// with the same output directory; a run with a successful task, or with a file of the user's, is
/// never removed.
#[test]
fn a_failed_ingest_does_not_block_the_retry() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("run");
    let bad = tmp.path().join("bad.txt");
    // Invalid UTF-8 fails the ingest with a located error.
    std::fs::write(
        &bad,
        b"min file index: 0, max file index: 0\n0 368 65 130 1 2023-03-29 \xff\n",
    )
    .unwrap();
    let opts = etroc_analysis::ingest_run::ProcessOptions::beam_txt();
    assert!(etroc_analysis::ingest_run::process_txt(&bad, &path, &opts).is_err());
    assert!(RunDir::is_leftover(&path), "the failed ingest left a run");
    let good = tmp.path().join("good.txt");
    std::fs::write(
        &good,
        "min file index: 0, max file index: 0\n0 368 65 130 1 2023-03-29 00:00:00\n\
         1 360 78 127 1 2023-03-29 00:00:00\n3 395 78 131 1 2023-03-29 00:00:00\n",
    )
    .unwrap();
    etroc_analysis::ingest_run::process_txt(&good, &path, &opts).unwrap();
    assert!(!RunDir::is_leftover(&path));
    let e = etroc_analysis::ingest_run::process_txt(&good, &path, &opts).unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
    // A leftover with a file of the user's in it is kept.
    let kept = tmp.path().join("kept");
    assert!(etroc_analysis::ingest_run::process_txt(&bad, &kept, &opts).is_err());
    std::fs::write(kept.join("cuts.csv"), "x\n").unwrap();
    assert!(!RunDir::is_leftover(&kept));
    assert!(etroc_analysis::ingest_run::process_txt(&good, &kept, &opts).is_err());
    assert!(kept.join("cuts.csv").is_file());
}
