//! The demo (hep-demo's main job): a small simulated run through the whole on-disk chain.

use etroc_analysis::pipeline::{DemoOptions, run_demo};

#[test]
fn demo_reports_resolutions_next_to_the_truth() {
    let dir = tempfile::tempdir().unwrap();
    let report = run_demo(&DemoOptions {
        events: 4000,
        seed: 3,
        dir: Some(dir.path().to_path_buf()),
        iterations: 2,
        order: 2,
    })
    .unwrap();
    assert_eq!(report.events_simulated, 4000);
    assert_eq!(report.events_built, 4000);
    assert!(report.events_used > 3800 && report.events_used < 4000);
    assert_eq!(report.boards.len(), 3);
    for b in &report.boards {
        // 4000 events: statistical uncertainty about 0.9 ps; 4 sigma.
        assert!(b.pull.abs() < 4.0, "{b:?}");
    }
    let text = report.to_string();
    assert!(
        text.contains("board") && text.contains("expected"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 2 + 3);
    assert!(
        dir.path()
            .join("run/analyse_time_resolution/timing_info.parquet")
            .is_file()
    );
    // Without a directory the temporary one is removed afterwards.
    let r = run_demo(&DemoOptions {
        events: 1000,
        iterations: 1,
        ..DemoOptions::default()
    })
    .unwrap();
    assert!(!r.run_dir.exists());
}
