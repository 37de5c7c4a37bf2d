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

/// Provenance of a scan: the directory task lists the .dat inputs and the individual runs'
/// data; the merge task lists the runs' hits and event filters as inputs; the sidecar of each
/// run's accepted hits lists that run's two inputs and its one output, not the whole merge;
/// run_info.txt and the default cuts.csv have sidecars; paths are relative to the manifest.
#[test]
fn scan_manifests_list_what_each_file_came_from() {
    use hep_core::manifest::{Manifest, sidecar_path};
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("scan");
    std::fs::create_dir(&input).unwrap();
    let text = " 0 200  50 130 1\n 0 200  50 140 1\n";
    for dac in [540, 550, 560] {
        std::fs::write(input.join(name(dac)), text).unwrap();
    }
    let run = RunDir::create(tmp.path().join("out")).unwrap();
    let opts = DirOptions {
        sqlite: false,
        ..DirOptions::default()
    };
    process_charge_injection_dir(&input, &run, &opts).unwrap();
    let dir_task = Manifest::read(
        run.task_dir(names::PROCESS_DIRECTORY)
            .join("task_manifest.json"),
    )
    .unwrap();
    assert_eq!(dir_task.inputs.len(), 3);
    // Per run: the hits table and the event filter.
    assert_eq!(dir_task.outputs.len(), 3 * 2, "{:?}", dir_task.outputs);
    let merge = Manifest::read(run.task_dir(names::MERGE_RUNS).join("task_manifest.json")).unwrap();
    assert_eq!(merge.inputs.len(), 3 * 2, "{:?}", merge.inputs);
    // Per run the accepted hits, then the combined table.
    assert_eq!(merge.outputs.len(), 3 + 1, "{:?}", merge.outputs);

    let sub = run
        .path()
        .join("Individual_Runs")
        .join(&name(550)[..name(550).len() - 12]);
    let filtered = sub.join("data-filtered/etroc1_data.parquet");
    let side = sidecar_path(&filtered);
    let raw: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&side).unwrap()).unwrap();
    assert_eq!(raw["outputs"].as_array().unwrap().len(), 1);
    assert_eq!(raw["outputs"][0]["path"], "etroc1_data.parquet");
    let inputs: Vec<&str> = raw["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        inputs,
        ["../data/etroc1_data.parquet", "../event_filter.fd"]
    );
    // Files a run holds outside its tasks have sidecars too.
    for f in [
        run.path().join("run_info.txt"),
        sub.join("run_info.txt"),
        sub.join("cuts.csv"),
    ] {
        let m = Manifest::read(sidecar_path(&f)).unwrap();
        assert_eq!(m.outputs.len(), 1, "{}", f.display());
        assert_eq!(
            m.outputs[0].sha256,
            hep_core::io::sha256_file(&f).unwrap(),
            "{}",
            f.display()
        );
    }
}
