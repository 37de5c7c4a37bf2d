//! End-to-end tests of the analysis subcommands of `etroc-analysis` (issue 4 item 1 sequence,
//! charge injection, run-beam, replot, and the error paths).

use std::path::Path;

use assert_cmd::Command;

fn cmd() -> Command {
    Command::cargo_bin("etroc-analysis").unwrap()
}

fn run_ok(args: &[&str], dir: &Path) -> String {
    let out = cmd().current_dir(dir).args(args).assert().success();
    String::from_utf8_lossy(&out.get_output().stdout).into_owned()
}

fn simulate_beam(dir: &Path, events: &str) {
    run_ok(&["simulate", "beam", "-o", "sim", "--events", events], dir);
}

const CUTS: &str =
    "board_id,variable,cut_type,cut_value\n*,calibration_code,>=,115\n*,calibration_code,<=,145\n";
const TIME_CUTS: &str = "cut_type,cut_direction,variable_1,board_id_1,variable_2,board_id_2,value_1,value_2,value_3,output\n\
simple,>,time_over_threshold_ns,*,,,2.0,,,tot_min\n";

#[test]
fn the_original_sequence_works() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    simulate_beam(d, "3000");
    let txt = "sim/F5P5_F17P5_B2P5_Synth_seed42.txt";
    assert!(
        d.join("sim/F5P5_F17P5_B2P5_Synth_seed42.truth.json")
            .is_file()
    );
    run_ok(&["process-txt", "--file", txt, "-o", "RUN"], d);
    std::fs::write(d.join("RUN/cuts.csv"), CUTS).unwrap();
    std::fs::write(d.join("RUN/time_cuts.csv"), TIME_CUTS).unwrap();
    run_ok(&["cut", "-o", "RUN"], d);
    let out = run_ok(&["times-ns", "-o", "RUN", "--plots"], d);
    assert!(out.contains("fbin"), "{out}");
    // The multi-variable plots of the original's time-plot set.
    for f in [
        "multi_scatter.png",
        "time_scatter.png",
        "toa_correlation_matrix.png",
        "tot_correlation_matrix.png",
        "toa_board0_vs_board3_scatter.png",
        "TOT_vs_TOA_ns_histogram.png",
        "TOT_vs_TOA_ns_scatter.png",
    ] {
        let p = d.join("RUN/plot_times_in_ns_after_cuts").join(f);
        assert!(p.is_file(), "{f}");
    }
    let fit =
        std::fs::read(d.join("RUN/plot_times_in_ns_after_cuts/toa_board0_vs_board1_scatter.png"))
            .unwrap();
    assert!(fit.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG file");
    run_ok(&["cut-times", "-o", "RUN"], d);
    let out = run_ok(&["twc", "-o", "RUN", "-i", "3", "-p", "2", "--plots"], d);
    for k in 0..3 {
        for f in ["multi_scatter.png", "time_scatter.png"] {
            let p = d
                .join(format!("RUN/calculate_time_walk_correction/Iteration_{k}"))
                .join(f);
            assert!(p.is_file(), "{}", p.display());
        }
    }
    // The fit table (header and 3 x 3 x 2 rows), then the plot count.
    assert_eq!(out.lines().count(), 1 + 3 * 3 * 2 + 1, "{out}");
    assert!(out.ends_with("42 plots written\n"), "{out}");
    let out = run_ok(&["resolution", "-o", "RUN", "--plots"], d);
    // Steps 0-tot_min and 1-Final, 3 iterations, 3 boards.
    assert_eq!(
        out.lines().filter(|l| l.contains("Final")).count(),
        9,
        "{out}"
    );
    assert!(out.contains("0-tot_min"));
    for f in [
        "RUN/calculate_times_in_ns/data.sqlite",
        "RUN/calculate_times_in_ns/board_info_data.parquet",
        "RUN/calculate_time_walk_correction/data.sqlite",
        "RUN/calculate_time_walk_correction/twc_fit_info.parquet",
        "RUN/analyse_time_resolution/time_resolution.sqlite",
        "RUN/analyse_time_resolution/timing_info.parquet",
        "RUN/analyse_time_resolution/twc_iteration_2/Final/data.sqlite",
        "RUN/analyse_time_resolution/plots/Step-1-Final/time_resolution_vs_iteration.png",
        "RUN/analyse_time_resolution/twc_iteration_0/tot_min/time_delta_pdf.png",
    ] {
        assert!(d.join(f).is_file(), "{f}");
    }
    let head = std::fs::read(d.join("RUN/analyse_time_resolution/time_resolution.sqlite")).unwrap();
    assert!(head.starts_with(b"SQLite format 3"));
    for t in [
        "calculate_times_in_ns",
        "calculate_time_walk_correction",
        "analyse_time_resolution",
    ] {
        let r = std::fs::read_to_string(d.join("RUN").join(t).join("task_report.txt")).unwrap();
        assert!(r.starts_with("task_status: no errors"), "{t}: {r}");
    }
    // The stored resolution is in ns: about 0.041 for board 0.
    let (_, batches) =
        hep_core::io::read_parquet(d.join("RUN/analyse_time_resolution/timing_info.parquet"))
            .unwrap();
    let sigma = hep_core::io::column_f64(&batches[0], "time_resolution_new").unwrap();
    assert!(
        sigma.values().iter().all(|&s| s > 0.035 && s < 0.06),
        "{:?}",
        sigma.values()
    );
    // replot redraws every completed task.
    let out = run_ok(&["replot", "-o", "RUN"], d);
    assert!(out.contains("plots written"));
    assert!(
        d.join("RUN/calculate_time_walk_correction/Iteration_2/Board3_TWC_Before_Correction.png")
            .is_file()
    );
}

#[test]
fn gating_and_bad_arguments_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    simulate_beam(d, "300");
    run_ok(
        &[
            "process-txt",
            "--file",
            "sim/F5P5_F17P5_B2P5_Synth_seed42.txt",
            "-o",
            "RUN",
            "--no-sqlite",
        ],
        d,
    );
    // The resolution needs the TWC task, the TWC the time cuts.
    let out = cmd()
        .current_dir(d)
        .args(["resolution", "-o", "RUN"])
        .assert()
        .failure();
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        err.starts_with("error:") && err.contains("calculate_time_walk_correction"),
        "{err}"
    );
    let out = cmd()
        .current_dir(d)
        .args(["twc", "-o", "RUN"])
        .assert()
        .failure();
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("apply_time_cuts"));
    // Zero iterations are refused by the parser.
    cmd()
        .current_dir(d)
        .args(["twc", "-o", "RUN", "-i", "0"])
        .assert()
        .failure();
    // Not a run.
    let out = cmd()
        .current_dir(d)
        .args(["times-ns", "-o", "nowhere"])
        .assert()
        .failure();
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("nowhere"));
    // A bad fbin choice.
    cmd()
        .current_dir(d)
        .args(["times-ns", "-o", "RUN", "--fbin", "average"])
        .assert()
        .failure();
}

#[test]
fn run_beam_in_one_command() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    simulate_beam(d, "2000");
    std::fs::write(d.join("tc.csv"), TIME_CUTS).unwrap();
    let out = run_ok(
        &[
            "run-beam",
            "--file",
            "sim/F5P5_F17P5_B2P5_Synth_seed42.txt",
            "-o",
            "RB",
            "-i",
            "2",
            "--time-cuts",
            "tc.csv",
            "--no-sqlite",
        ],
        d,
    );
    assert!(out.starts_with("2000 events"), "{out}");
    assert!(
        d.join("RB/analyse_time_resolution/timing_info.parquet")
            .is_file()
    );
    assert!(
        !d.join("RB/analyse_time_resolution/time_resolution.sqlite")
            .exists()
    );
    assert!(d.join("RB/time_cuts.csv").is_file());
    // The output must not exist (a new run).
    cmd()
        .current_dir(d)
        .args([
            "run-beam",
            "--file",
            "sim/F5P5_F17P5_B2P5_Synth_seed42.txt",
            "-o",
            "RB",
        ])
        .assert()
        .failure();
}

#[test]
fn log_level_and_log_file_as_the_original() {
    // -l/--log-level takes Python's level names (any case); --log-file alone appends
    // everything from debug level up to ./logging.log.
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    simulate_beam(d, "500");
    let out = cmd()
        .current_dir(d)
        .args([
            "process-txt",
            "--file",
            "sim/F5P5_F17P5_B2P5_Synth_seed42.txt",
            "-o",
            "RUN",
            "--no-sqlite",
            "-l",
            "info",
            "--log-file",
        ])
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("task proccess_etroc1_data_run_txt: no errors"),
        "{stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "no colour codes off a terminal: {stderr}"
    );
    std::fs::write(d.join("RUN/cuts.csv"), CUTS).unwrap();
    let run_ok_warn = cmd()
        .current_dir(d)
        .args(["cut", "-o", "RUN", "-l", "WARNING", "--log-file"])
        .assert()
        .success();
    assert!(run_ok_warn.get_output().stderr.is_empty());
    let log = std::fs::read_to_string(d.join("logging.log")).unwrap();
    // Both runs appended; the file has the debug lines that stderr did not show.
    assert!(
        log.contains("task proccess_etroc1_data_run_txt: started"),
        "{log}"
    );
    assert!(log.contains("task apply_event_cuts: no errors"), "{log}");
    // An explicit path, and a level that does not exist.
    run_ok(
        &[
            "times-ns",
            "-o",
            "RUN",
            "--no-sqlite",
            "--log-file=t.log",
            "-l",
            "DEBUG",
        ],
        d,
    );
    // The flag before the subcommand does not swallow it.
    std::fs::remove_file(d.join("logging.log")).unwrap();
    run_ok(&["--log-file", "cut", "-o", "RUN"], d);
    let log = std::fs::read_to_string(d.join("logging.log")).unwrap();
    assert!(log.contains("task apply_event_cuts: no errors"), "{log}");
    let log = std::fs::read_to_string(d.join("t.log")).unwrap();
    assert!(log.contains("fbin mean"), "{log}");
    let err = cmd()
        .current_dir(d)
        .args(["resolution", "-o", "RUN", "-l", "LOUD"])
        .assert()
        .failure();
    let stderr = String::from_utf8_lossy(&err.get_output().stderr).into_owned();
    assert!(
        stderr.contains("CRITICAL") && stderr.contains("NOTSET"),
        "{stderr}"
    );
}

#[test]
fn charge_injection_dac_vs_charge_and_reprocess() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // A coarse scan (step 8) keeps the test small.
    run_ok(&["simulate", "charge", "-o", "scan", "--step", "8"], d);
    run_ok(
        &["process-dir", "-d", "scan", "-o", "CI", "-i", "--no-sqlite"],
        d,
    );
    let slopes = |out: &str| -> Vec<f64> {
        out.lines()
            .skip(1)
            .take(3)
            .map(|l| l.split_whitespace().nth(2).unwrap().parse().unwrap())
            .collect()
    };
    // The default estimator, the 50 % point, interpolates linearly between two grid points;
    // with a step of 8 DAC, wider than the whole edge (sigma_DAC = 1.5), that puts it anywhere
    // within +-4 DAC, so the slope over 10-30 fC is good to about 8/20 = 0.4 DAC/fC only. The
    // 3 % of the spec's step-4 scan is checked in tests/closure.rs.
    let out = run_ok(&["dac-vs-charge", "-o", "CI"], d);
    for (s, g) in slopes(&out).iter().zip([3.0, 2.5, 3.5]) {
        assert!((s - g).abs() <= 0.5, "{out}");
    }
    // The original's estimator: DAC_max on a step-8 grid over 10-30 fC is quantised in slope
    // steps of 8/20 = 0.4 DAC/fC (plus up to one DAC of edge jitter per point).
    let out = run_ok(
        &[
            "dac-vs-charge",
            "-o",
            "CI",
            "--plots",
            "--estimator",
            "max-with-hits",
        ],
        d,
    );
    for (s, g) in slopes(&out).iter().zip([3.0, 2.5, 3.5]) {
        assert!((s - g).abs() <= 0.5, "{out}");
    }
    assert!(d.join("CI/calculate_dac_points/data.sqlite").is_file());
    assert!(
        d.join("CI/plot_dac_vs_charge/Board1_DAC_vs_Injected_Charge.png")
            .is_file()
    );
    // The fit table records the estimator, so the plots (and replot) show the points the line
    // was fitted to.
    let fit =
        etroc_analysis::store::read_table(&d.join("CI/calculate_dac_points"), "dac_charge_fit")
            .unwrap();
    let est = fit.column_by_name("estimator").unwrap();
    let est = est
        .as_any()
        .downcast_ref::<arrow_array::StringArray>()
        .unwrap();
    assert!(est.iter().all(|e| e == Some("max-with-hits")));
    // Tighten one run's cut so that it rejects everything; reprocess re-applies it.
    let runs = d.join("CI/Individual_Runs");
    let first = std::fs::read_dir(&runs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(
        first.join("cuts.csv"),
        "board_id,variable,cut_type,cut_value\n#,calibration_code,<,0",
    )
    .unwrap();
    let out = run_ok(&["reprocess-dir", "-o", "CI"], d);
    assert!(out.contains("re-applied the cuts"), "{out}");
    let report = std::fs::read_to_string(first.join("apply_event_cuts/task_report.txt")).unwrap();
    assert!(report.starts_with("task_status: no errors"));
    let out = run_ok(&["reprocess-dir", "-o", "CI", "--compat"], d);
    assert!(out.contains("--compat"));
}
