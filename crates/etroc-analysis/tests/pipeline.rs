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
        plots: true,
    })
    .unwrap();
    // The plots are PNG files under the task directories of the run.
    fn pngs(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| {
                if p.is_dir() {
                    pngs(&p)
                } else {
                    usize::from(p.extension().is_some_and(|x| x == "png"))
                }
            })
            .sum()
    }
    let pngs = |task: &str| pngs(&report.run_dir.join(task));
    assert!(pngs("analyse_time_resolution") > 0);
    assert!(pngs("calculate_time_walk_correction") > 0);
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
