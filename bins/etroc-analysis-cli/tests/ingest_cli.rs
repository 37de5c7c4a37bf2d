//! CLI tests of `process-txt`, `process-dat`, `process-dir`, `cut` and `cut-times`.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use etroc_analysis::rundir::{RunDir, names};
use etroc_analysis::store::{self, TableOutput};

fn bin() -> Command {
    Command::cargo_bin("etroc-analysis").unwrap()
}

/// A beam txt with `events` complete 0-1-3 events, a stray board-0 hit before event 5, and a
/// flag-0 line inside event 7. CAL of board 3 is 300 in every 4th event; TOA of board b in
/// event e is 100 + e + b.
fn beam_file(dir: &Path, events: usize) -> PathBuf {
    let mut text = String::from("min file index: 0, max file index: 99\n");
    for e in 0..events {
        if e == 5 {
            text += "0 999 10 130 1 2023-03-29 12:00:00\n";
        }
        for b in [0u8, 1, 3] {
            if e == 7 && b == 1 {
                text += "1 0 0 0 0 2023-03-29 12:00:00\n";
            }
            let cal = if b == 3 && e % 4 == 0 { 300 } else { 130 };
            text += &format!(
                "{b} {} {} {cal} 1 2023-03-29 12:00:{:02}\n",
                100 + e + usize::from(b),
                50 + e,
                e % 60
            );
        }
    }
    let p = dir.join("F5P5_F17P5_B2P5_Beam_HV190.txt");
    std::fs::write(&p, text).unwrap();
    p
}

fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.assert().success().get_output().stdout.clone();
    String::from_utf8(out).unwrap()
}

fn stderr_of_failure(cmd: &mut Command) -> String {
    let out = cmd.assert().failure().code(1).get_output().stderr.clone();
    String::from_utf8(out).unwrap()
}

#[test]
fn beam_chain_process_cut_cut_times() {
    let tmp = tempfile::tempdir().unwrap();
    let input = beam_file(tmp.path(), 20);
    let run = tmp.path().join("run");
    let out = stdout_of(
        bin()
            .args(["process-txt", "--file"])
            .arg(&input)
            .arg("-o")
            .arg(&run),
    );
    assert!(
        out.contains("62 data lines, 61 hits after the hit-flag filter, 60 hits in 20 events"),
        "{out}"
    );
    assert!(run.join("run_info.txt").is_file());
    let task = run.join(names::PROCESS_TXT);
    assert_eq!(
        std::fs::read_to_string(task.join("task_report.txt")).unwrap(),
        "task_status: no errors\n"
    );
    assert!(
        task.join("original_data/F5P5_F17P5_B2P5_Beam_HV190.txt")
            .is_file()
    );
    assert!(task.join("task_manifest.json").is_file());
    assert!(run.join("data/data.sqlite").is_file());
    let hits = store::read_table(&run.join("data"), store::HITS_TABLE).unwrap();
    let ev = store::column_to_i64(&hits, "event").unwrap();
    assert_eq!(ev.len(), 60);
    assert_eq!(
        ev.iter().collect::<std::collections::BTreeSet<_>>().len(),
        20
    );
    // The stray hit (TOA 999) is not in any event.
    let toa = store::column_to_i64(&hits, "time_of_arrival").unwrap();
    assert!(!toa.contains(&999));

    // Event cuts: the user copies cuts.csv into the run.
    std::fs::write(
        run.join("cuts.csv"),
        "board_id,variable,cut_type,cut_value,output\n*,calibration_code,<,200,cal\n",
    )
    .unwrap();
    let out = stdout_of(bin().arg("cut").arg("-o").arg(&run));
    assert!(
        out.contains("apply_event_cuts: 15 of 20 events accepted"),
        "{out}"
    );
    let ev = store::read_filter(&run.join("event_filter.fd")).unwrap();
    assert_eq!(ev.len(), 20);
    assert!((0..20).all(|e| ev.get(e) == Some(e % 4 != 0)));
    assert!(
        run.join("apply_event_cuts/CutflowPlots/0-cal/event_filter.fd")
            .is_file()
    );

    // cut-times needs calculate_times_in_ns; before it exists it refuses.
    std::fs::write(
        run.join("time_cuts.csv"),
        "cut_type,cut_direction,variable_1,board_id_1,variable_2,board_id_2,value_1,value_2,value_3,output\n\
         simple,<,time_of_arrival,0,,,110,,,early\n\
         #simple,<,time_of_arrival,0,,,0,,,\n\
         1d-dist,inside,time_of_arrival,1,,,105,3,,window\n",
    )
    .unwrap();
    let err = stderr_of_failure(bin().arg("cut-times").arg("-o").arg(&run));
    assert!(
        err.starts_with("error: task 'apply_time_cuts' needs task 'calculate_times_in_ns'"),
        "{err}"
    );
    // Stand in for `times-ns` with the library (a table with event, data_board_id and the
    // cut variables; here the codes themselves).
    let r = RunDir::open(&run).unwrap();
    let table = store::read_table(&r.data_dir(), store::HITS_TABLE).unwrap();
    r.run_task(
        names::CALCULATE_TIMES_IN_NS,
        &[names::APPLY_EVENT_CUTS],
        true,
        |t| {
            let o = store::write_tables(
                t.dir(),
                None,
                &[TableOutput {
                    table: store::HITS_TABLE,
                    batch: &table,
                    indexes: &[],
                }],
            )?;
            t.add_outputs(o);
            Ok(())
        },
    )
    .unwrap();
    let out = stdout_of(bin().arg("cut-times").arg("-o").arg(&run));
    // early: TOA0 = 100 + e < 110 -> e < 10; window: |101 + e - 105| < 3 -> e in 2..=6.
    assert!(
        out.contains("apply_time_cuts: 5 of 20 events accepted"),
        "{out}"
    );
    let tf = store::read_filter(&run.join("time_filter.fd")).unwrap();
    assert!((0..20).all(|e| tf.get(e) == Some((2..=6).contains(&e))));
    let steps = etroc_analysis::cuts::time_cut_steps(&r).unwrap();
    let names: Vec<_> = steps.iter().map(|s| (s.index, s.name.clone())).collect();
    assert_eq!(names, [(0, "early".to_string()), (2, "window".to_string())]);
}

#[test]
fn malformed_input_fails_with_location_and_an_error_report() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("A_B_C.txt");
    std::fs::write(
        &input,
        "banner\n0 1 2 130 1 2023-03-29 12:00:00\n1 1024 2 130 1 2023-03-29 12:00:00\n",
    )
    .unwrap();
    let run = tmp.path().join("run");
    let err = stderr_of_failure(
        bin()
            .args(["process-txt", "--file"])
            .arg(&input)
            .arg("-o")
            .arg(&run),
    );
    assert!(
        err.contains(&format!(
            "{}:3: expected TOA code in 0..=1023, found 1024",
            input.display()
        )),
        "{err}"
    );
    let report =
        std::fs::read_to_string(run.join(names::PROCESS_TXT).join("task_report.txt")).unwrap();
    assert!(
        report.starts_with("task_status: there were errors"),
        "{report}"
    );
    assert!(!run.join("data/etroc1_data.parquet").exists());
    // The cut refuses to run on a failed ingest.
    std::fs::write(
        run.join("cuts.csv"),
        "board_id,variable,cut_type,cut_value\n",
    )
    .unwrap();
    let err = stderr_of_failure(bin().arg("cut").arg("-o").arg(&run));
    assert!(
        err.contains("needs task 'proccess_etroc1_data_run_txt'"),
        "{err}"
    );
    // A missing input is an error that creates no run.
    let err = stderr_of_failure(
        bin()
            .args(["process-txt", "--file"])
            .arg(tmp.path().join("nope.txt"))
            .arg("-o")
            .arg(tmp.path().join("run2")),
    );
    assert!(err.contains("nope.txt: missing input file"), "{err}");
    assert!(!tmp.path().join("run2").exists());
    // An existing output directory is refused.
    let err = stderr_of_failure(
        bin()
            .args(["process-txt", "--file"])
            .arg(&input)
            .arg("-o")
            .arg(&run),
    );
    assert!(err.contains("already exists"), "{err}");
}

#[test]
fn empty_input_is_a_run_with_zero_hits() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("A_B_C.txt");
    std::fs::write(&input, "").unwrap();
    let run = tmp.path().join("run");
    let out = stdout_of(
        bin()
            .args(["process-txt", "--no-sqlite", "--file"])
            .arg(&input)
            .arg("-o")
            .arg(&run),
    );
    assert!(
        out.contains("0 data lines, 0 hits after the hit-flag filter, 0 hits in 0 events"),
        "{out}"
    );
    assert!(!run.join("data/data.sqlite").exists());
    std::fs::write(
        run.join("cuts.csv"),
        "board_id,variable,cut_type,cut_value\n#,calibration_code,<,200\n",
    )
    .unwrap();
    let out = stdout_of(bin().arg("cut").arg("-o").arg(&run));
    assert!(out.contains("0 of 0 events accepted"), "{out}");
}

#[test]
fn cut_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let input = beam_file(tmp.path(), 3);
    let run = tmp.path().join("run");
    bin()
        .args(["process-txt", "--file"])
        .arg(&input)
        .arg("-o")
        .arg(&run)
        .assert()
        .success();
    let err = stderr_of_failure(bin().arg("cut").arg("-o").arg(&run));
    assert!(err.contains("cuts.csv: missing event cut file"), "{err}");
    std::fs::write(
        run.join("cuts.csv"),
        "board_id,variable,cut_type,cut_value\n0,calibration_code,=>,200\n",
    )
    .unwrap();
    let err = stderr_of_failure(bin().arg("cut").arg("-o").arg(&run));
    assert!(
        err.contains("cuts.csv:2: expected cut_type one of"),
        "{err}"
    );
    let err = stderr_of_failure(bin().arg("cut").arg("-o").arg(tmp.path().join("nope")));
    assert!(err.contains("not a run directory"), "{err}");
    // --cuts takes another file.
    let other = tmp.path().join("my_cuts.csv");
    std::fs::write(
        &other,
        "board_id,variable,cut_type,cut_value\n0,time_of_arrival,>,100\n",
    )
    .unwrap();
    let out = stdout_of(
        bin()
            .arg("cut")
            .arg("-o")
            .arg(&run)
            .arg("--cuts")
            .arg(&other),
    );
    assert!(out.contains("2 of 3 events accepted"), "{out}");
}

const CI: &str = "TDC_Data_PhaseAdj0_{p0}_QSel{q}_DAC{d0}_F17P5_QSel{q}_DAC720_B2P5_QSel{q}_DAC720_Split_{k}.dat";

fn ci_name(q: u32, d0: u32, k: u32) -> String {
    CI.replace("{p0}", "F5P5")
        .replace("{q}", &q.to_string())
        .replace("{d0}", &d0.to_string())
        .replace("{k}", &k.to_string())
}

#[test]
fn process_dat_writes_charge_injection_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join(ci_name(10, 540, 0));
    std::fs::write(&f, " 0 200  50 130 1\n 0 201  51 250 1\n").unwrap();
    let run = tmp.path().join("run");
    let out = stdout_of(
        bin()
            .args(["process-dat", "--file"])
            .arg(&f)
            .arg("-o")
            .arg(&run),
    );
    assert!(out.contains("2 hits in 2 events"), "{out}");
    assert!(run.join("data/data.sqlite").is_file());
    let t = store::read_table(&run.join("data"), store::HITS_TABLE).unwrap();
    let col = |c: &str| store::column_to_i64(&t, c).unwrap();
    assert_eq!(col("phase_adjust"), [0, 0]);
    assert_eq!(col("board_injected_charge"), [10, 10]);
    assert_eq!(col("board_discriminator_threshold"), [540, 540]);
    assert!(t.column_by_name("pixel_id").is_some());
    assert!(
        run.join(names::PROCESS_DAT)
            .join("task_report.txt")
            .is_file()
    );
}

#[test]
fn process_dir_ingests_cuts_and_merges() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("scan");
    std::fs::create_dir(&input).unwrap();
    // Board 0 scanned at DAC 540, 544 and 548 with Q = 10; hits with CAL 250 fail the default cut.
    // 548 has no board-0 hit but two trigger-board hits.
    let files = [
        (
            540,
            " 0 200  50 130 1\n 0 201  50 131 1\n 0 202  50 250 1\n",
        ),
        (544, " 0 200  50 130 1\n 3 201  50 130 1\n"),
        (548, " 3 200  50 130 1\n 1 200  50 130 1\n"),
    ];
    for (dac, text) in files {
        std::fs::write(input.join(ci_name(10, dac, 0)), text).unwrap();
        // Other splits are ignored.
        std::fs::write(input.join(ci_name(10, dac, 1)), "junk\n").unwrap();
    }
    let out_dir = tmp.path().join("ci");
    let out = stdout_of(
        bin()
            .args(["process-dir", "-i", "-d"])
            .arg(&input)
            .arg("-o")
            .arg(&out_dir),
    );
    assert!(
        out.contains("3 individual runs (0 failed), 5 merged rows"),
        "{out}"
    );
    let ind = out_dir.join("Individual_Runs");
    let sub = ind.join(&ci_name(10, 540, 0)[..ci_name(10, 540, 0).len() - 12]);
    assert_eq!(
        std::fs::read_to_string(sub.join("cuts.csv")).unwrap(),
        "board_id,variable,cut_type,cut_value\n#,calibration_code,<,200"
    );
    assert!(sub.join("data-filtered/data.sqlite").is_file());
    assert!(out_dir.join("merge_etroc1_runs/data.sqlite").is_file());
    let rows = merged(&out_dir);
    assert_eq!(
        rows,
        [
            (0, 2, 10, 540),
            (0, 1, 10, 544),
            (3, 1, 10, 720),
            (1, 1, 10, 720),
            (3, 1, 10, 720)
        ]
    );

    // With -f the rows are reconciled with the scanned board 0 (trigger board 3 here).
    let out_dir = tmp.path().join("ci_f");
    let out = stdout_of(
        bin()
            .args(["process-dir", "-i", "-p", "-f", "-t", "3", "-d"])
            .arg(&input)
            .arg("-o")
            .arg(&out_dir),
    );
    assert!(out.contains("3 merged rows"), "{out}");
    assert!(out_dir.join("plot_etroc1_combined/DAC_Scan.png").is_file());
    // The scatter matrix is dense: PNG whatever the format.
    let m = std::fs::read(out_dir.join("plot_etroc1_combined/multi_scatter.png")).unwrap();
    assert!(m.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert!(
        !out_dir
            .join("plot_etroc1_combined/multi_scatter.svg")
            .exists()
    );
    let sub = &ci_name(10, 540, 0)[..ci_name(10, 540, 0).len() - 12];
    assert!(
        out_dir
            .join("Individual_Runs")
            .join(sub)
            .join("plot_after_cuts/calibration_code_histogram.png")
            .is_file()
    );
    let rows: Vec<(i64, i64, i64)> = merged(&out_dir)
        .into_iter()
        .map(|r| (r.0, r.1, r.3))
        .collect();
    // 540: one board-0 row; 544: trigger row dropped; 548: the row left after dropping board 3
    // is board 1's, kept as the original does (the replacement applies to a single row only).
    assert_eq!(rows, [(0, 2, 540), (0, 1, 544), (1, 1, 720)]);
}

/// (board, hits, charge, threshold) rows of the merged table.
fn merged(run: &Path) -> Vec<(i64, i64, i64, i64)> {
    let t = store::read_table(&run.join("merge_etroc1_runs"), "combined_etroc1_data").unwrap();
    let col = |c: &str| store::column_to_i64(&t, c).unwrap();
    let (b, h, q, d) = (
        col("data_board_id"),
        col("hits"),
        col("board_injected_charge"),
        col("board_discriminator_threshold"),
    );
    (0..t.num_rows())
        .map(|i| (b[i], h[i], q[i], d[i]))
        .collect()
}

/// The original sequence with the cut files copied in by the user: `process-txt`, `cut`,
/// `times-ns`, `cut-times`, with the cutflow plots.
#[test]
fn original_sequence_with_times_ns_and_plots() {
    let tmp = tempfile::tempdir().unwrap();
    let input = beam_file(tmp.path(), 20);
    let run = tmp.path().join("run");
    bin()
        .args(["process-txt", "--no-copy-input", "--file"])
        .arg(&input)
        .arg("-o")
        .arg(&run)
        .assert()
        .success();
    std::fs::write(
        run.join("cuts.csv"),
        "board_id,variable,cut_type,cut_value,output\n*,calibration_code,<,200,cal\n",
    )
    .unwrap();
    bin()
        .args(["cut", "--plots", "-o"])
        .arg(&run)
        .assert()
        .success();
    let cutflow = run.join("apply_event_cuts/CutflowPlots/0-cal");
    assert!(cutflow.join("calibration_code_histogram.png").is_file());
    assert!(run.join("plot_after_cuts/Board3_TOT_vs_TOA.png").is_file());
    assert!(run.join("plot_after_cuts/multi_scatter.png").is_file());
    assert!(run.join("plot_after_cuts/TOT_vs_TOA.png").is_file());
    bin().args(["times-ns", "-o"]).arg(&run).assert().success();
    // TOA of board 0 is 12.5 - (100 + e) * 3.125/130 ns, about 9.6 to 10.1 ns.
    std::fs::write(
        run.join("time_cuts.csv"),
        "cut_type,cut_direction,variable_1,board_id_1,variable_2,board_id_2,value_1,value_2,value_3,output\n\
         1d-dist,inside,time_of_arrival_ns,0,,,10,5,,win\n\
         simple,<,time_of_arrival_ns,0,,,9,,,\n",
    )
    .unwrap();
    let out = stdout_of(bin().args(["cut-times", "--plots", "-o"]).arg(&run));
    assert!(
        out.contains("apply_time_cuts: 0 of 20 events accepted"),
        "{out}"
    );
    let step = run.join("apply_time_cuts/CutflowPlots/0-win");
    let f = store::read_filter(&step.join("time_filter.fd")).unwrap();
    assert_eq!(f.n_accepted(), 20);
    assert!(step.join("plots/calibration_code_histogram.png").is_file());
    assert!(
        step.join("time_plots/Board0_TOT_vs_TOA_ns_histogram.png")
            .is_file()
    );
    assert!(step.join("time_plots/time_of_arrival_ns_pdf.png").is_file());
    assert!(step.join("time_plots/multi_scatter.png").is_file());
    assert!(
        step.join("time_plots/TOT_vs_TOA_ns_histogram.png")
            .is_file()
    );
    assert_eq!(
        std::fs::read_to_string(run.join("apply_time_cuts/task_report.txt")).unwrap(),
        "task_status: no errors\n"
    );
}

#[test]
fn raw_word_input() {
    let tmp = tempfile::tempdir().unwrap();
    let word = |b: u32, toa: u32, tot: u32, cal: u32| {
        (b << 30) | (tot << 21) | (toa << 11) | (cal << 1) | 1
    };
    let f = tmp.path().join("F5P5_F17P5_B2P5_raw.dat");
    std::fs::write(
        &f,
        format!(
            "{}\n{}\n0\n{}\n",
            word(0, 100, 50, 130),
            word(1, 101, 51, 131),
            word(3, 103, 53, 133)
        ),
    )
    .unwrap();
    let run = tmp.path().join("run");
    let out = stdout_of(
        bin()
            .args(["process-txt", "--raw-words", "--file"])
            .arg(&f)
            .arg("-o")
            .arg(&run),
    );
    assert!(out.contains("3 hits in 1 events"), "{out}");
    let t = store::read_table(&run.join("data"), store::HITS_TABLE).unwrap();
    assert_eq!(
        store::column_to_i64(&t, "time_of_arrival").unwrap(),
        [100, 101, 103]
    );
    assert!(t.column_by_name("datetime").is_none());
}

/// Reliability defect 7 (exit codes): process-dir exited 0 when every input failed; now a
/// directory whose every run fails (or that holds no run) is an error.
#[test]
fn exit_codes_process_dir_with_only_failed_runs_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("scan");
    std::fs::create_dir(&input).unwrap();
    for dac in [540, 544] {
        std::fs::write(input.join(ci_name(10, dac, 0)), "not a hit line\n").unwrap();
    }
    let e = stderr_of_failure(
        bin()
            .args(["process-dir", "-i", "-d"])
            .arg(&input)
            .arg("-o")
            .arg(tmp.path().join("ci")),
    );
    assert!(e.contains("every one of the 2 runs"), "{e}");
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let e = stderr_of_failure(
        bin()
            .args(["process-dir", "-i", "-d"])
            .arg(&empty)
            .arg("-o")
            .arg(tmp.path().join("ci2")),
    );
    assert!(e.contains("no charge-injection runs"), "{e}");
}
