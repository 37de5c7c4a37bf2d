//! Charge-injection directory processing, merge and reprocessing (spec 5.1).

use std::path::Path;

use etroc_analysis::ingest_run::{
    COMBINED_TABLE, DirOptions, process_charge_injection_dir, reprocess_charge_injection_dir,
};
use etroc_analysis::rundir::{RunDir, names};
use etroc_analysis::store;

fn name(dac: u32) -> String {
    format!(
        "TDC_Data_PhaseAdj0_F5P5_QSel20_DAC{dac}_F17P5_QSel20_DAC720_B2P5_QSel20_DAC720_Split_0.dat"
    )
}

fn hits_column(run: &RunDir) -> Vec<i64> {
    let t = store::read_table(&run.task_dir(names::MERGE_RUNS), COMBINED_TABLE).unwrap();
    store::column_to_i64(&t, "hits").unwrap()
}

#[test]
fn reprocess_really_reapplies_the_edited_cuts() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("scan");
    std::fs::create_dir(&input).unwrap();
    // CAL 130, 140, 150, 250: the default cut (CAL < 200) keeps 3.
    let text = " 0 200  50 130 1\n 0 200  50 140 1\n 0 200  50 150 1\n 0 200  50 250 1\n";
    std::fs::write(input.join(name(540)), text).unwrap();
    // An empty file is an individual run with no hits, not a crash.
    std::fs::write(input.join(name(560)), "").unwrap();
    let run = RunDir::create(tmp.path().join("out")).unwrap();
    let opts = DirOptions {
        sqlite: false,
        ..DirOptions::default()
    };
    let rep = process_charge_injection_dir(&input, &run, &opts).unwrap();
    assert_eq!(rep.runs.len(), 2);
    assert!(rep.runs.iter().all(|r| r.outcome.is_ok()), "{:?}", rep.runs);
    assert_eq!(hits_column(&run), [3]);
    assert!(run.task_completed(names::PROCESS_DIRECTORY));
    assert!(run.task_completed(names::MERGE_RUNS));

    // Edit the cut of the first run and reprocess: the merge must see the new cut.
    let sub = Path::new(&name(540)[..name(540).len() - 12]).to_path_buf();
    let sub = run.path().join("Individual_Runs").join(sub);
    std::fs::write(
        sub.join("cuts.csv"),
        "board_id,variable,cut_type,cut_value\n#,calibration_code,<,145\n",
    )
    .unwrap();
    reprocess_charge_injection_dir(&run, &opts).unwrap();
    assert_eq!(hits_column(&run), [2]);

    // With -f, the empty run gets a 0-hit row for its scanned board (board 0, DAC 560).
    let opts = DirOptions {
        filter_default: true,
        ..opts
    };
    let rep = reprocess_charge_injection_dir(&run, &opts).unwrap();
    assert_eq!(hits_column(&run), [2, 0]);
    let d = store::column_to_i64(&rep.merge.combined, "board_discriminator_threshold").unwrap();
    assert_eq!(d, [540, 560]);
}

#[test]
fn missing_directory_is_an_error_in_the_report() {
    let tmp = tempfile::tempdir().unwrap();
    let run = RunDir::create(tmp.path().join("out")).unwrap();
    let e = process_charge_injection_dir(&tmp.path().join("nope"), &run, &DirOptions::default())
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("missing charge-injection data directory"),
        "{e}"
    );
    assert!(!run.task_completed(names::PROCESS_DIRECTORY));
}
