//! The main job end to end: normalisations, primary samples, one ensemble, the table.

use mu2e_ensemble::pipeline::{DemoOptions, run_demo};

#[test]
fn demo_runs_and_balances() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = DemoOptions {
        work_dir: Some(tmp.path().to_path_buf()),
        ..DemoOptions::default()
    };
    let r = run_demo(&opts).unwrap();
    println!("{r}");
    let names: Vec<&str> = r.rows.iter().map(|x| x.sample.as_str()).collect();
    assert_eq!(names, ["DIOTail", "CeEndpoint", "CRYCosmic", "IPAMichel"]);
    assert_eq!(r.rows.iter().map(|x| x.realised).sum::<u64>(), r.n_total);
    for row in &r.rows {
        // Each realised count is Poisson(expected): a 5-sigma band fails by chance < 1e-6.
        assert!(row.pull.abs() < 5.0, "{row:?}");
        // expected = norm · stored / generated (spec 2.2 step 3).
        let e = row.norm * row.stored as f64 / row.generated;
        assert!((row.expected / e - 1.0).abs() < 1e-12, "{row:?}");
        // 1.5× the normalisation (events, or s of cosmic livetime) was generated.
        assert!(row.generated >= 1.5 * row.norm * (1.0 - 1e-12), "{row:?}");
    }
    let text = r.to_string();
    assert!(
        text.contains("CeEndpoint") && text.contains("pull"),
        "{text}"
    );
    // The ensemble and its report exist.
    let dir = r.ensemble_dir.unwrap();
    assert!(dir.join("ensemble.json").is_file());
    assert!(
        dir.join("dts.mu2e.ensemble-MC.MDC2020.001201_00000000.parquet")
            .is_file()
    );
}
