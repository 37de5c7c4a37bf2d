//! The simulate job end to end: the real pax example instructions, reproducibility at any thread
//! and shard count, located errors with nothing written, and readers that never panic.

use std::path::{Path, PathBuf};

use fax_sim::config::SimConfig;
use fax_sim::fake::{FakeConfig, create_fake};
use fax_sim::output::{self, TABLES, TRUTH_CSV, run_simulate, with_threads};
use hep_core::progress::NoProgress;
use hep_core::shard::Shard;

fn shared(name: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/fax-sim")
        .join(name);
    if p.is_file() {
        return Some(p);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "missing test data {} (the original projects' data files must be present under CI)",
            p.display()
        );
    }
    eprintln!("skipping: {} not found", p.display());
    None
}

#[test]
fn pax_dummy_instructions_end_to_end() {
    let Some(input) = shared("XENON1T_dummy_waveforms.csv") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = SimConfig {
        seed: 1,
        ..SimConfig::default()
    };
    let s = run_simulate(&cfg, &input, dir.path(), None, &NoProgress).unwrap();
    // 35 rows in 3 consecutive groups: 21 S1 ladders (NR and ER), 13 S2s (depths 0-90 cm), 1 S1.
    assert_eq!(s.n_events, 3);
    let truth = hep_core::io::read_parquet_table(dir.path().join(output::TRUTH_PEAKS)).unwrap();
    let ev = hep_core::io::column_i64(&truth, "event").unwrap();
    let ty = hep_core::io::column_str(&truth, "peak_type").unwrap();
    let count = |e: i64, t: &str| {
        (0..truth.num_rows())
            .filter(|&i| ev.value(i) == e && ty.value(i) == t)
            .count()
    };
    // Each S2 row survives unless all its electrons are absorbed: only the 10-electron row at
    // 90 cm has a sizeable chance (0.71^10 = 3 %) to vanish, so 12 or 13 S2s.
    assert!((12..=13).contains(&count(1, "s2")), "{}", count(1, "s2"));
    assert_eq!(count(1, "s1"), 0);
    // S1 rows of 10-1000 photons at ~10 % detection: the ones with >= 50 photons are always seen
    // (P(0) < 1e-2 for 50); 16 such rows plus some of the 10-40 photon ones.
    assert!((16..=20).contains(&count(0, "s1")), "{}", count(0, "s1"));
    assert_eq!(count(0, "s2"), 0);
    assert!(count(2, "s1") <= 1 && count(2, "s2") == 0);
    // The pax truth CSV has the same rows.
    let text = std::fs::read_to_string(dir.path().join(TRUTH_CSV)).unwrap();
    assert_eq!(text.lines().count(), truth.num_rows() + 1);
    assert!(text.starts_with("fax_truth_peak_id,instruction,repetition,event,peak_type,g4_id,x,y,z,t_interaction,top_fraction,n_photons,"));
    for f in TABLES.iter().chain([&TRUTH_CSV]) {
        assert!(
            dir.path().join(format!("{f}.manifest.json")).is_file(),
            "{f}"
        );
    }
    let events = hep_core::io::read_parquet_table(dir.path().join(output::EVENTS)).unwrap();
    assert_eq!(events.num_rows(), 3);
}

fn fake_input(dir: &Path, n: u64) -> PathBuf {
    let rows = create_fake(&FakeConfig {
        seed: 9,
        number_event_per_job: n,
        photon_number_low: 5,
        photon_number_high: 20,
        electron_number_low: 1,
        electron_number_high: 4,
        ..FakeConfig::default()
    })
    .unwrap();
    let p = dir.join("fake.csv");
    fax_sim::instructions::write_csv(&p, &rows).unwrap();
    p
}

fn data_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    TABLES
        .iter()
        .chain([&TRUTH_CSV])
        .map(|f| (f.to_string(), std::fs::read(dir.join(f)).unwrap()))
        .collect()
}

#[test]
fn byte_identical_across_threads_and_shards() {
    let tmp = tempfile::tempdir().unwrap();
    // Output blocks of 16 events: the shard boundaries (33, 50 of 100) split blocks, which the
    // merge must re-form.
    let input = fake_input(tmp.path(), 100);
    let cfg = SimConfig {
        seed: 5,
        output_block_events: 16,
        ..SimConfig::default()
    };
    let run = |threads: usize, out: &Path, shard: Option<Shard>| {
        with_threads(Some(threads), || {
            run_simulate(&cfg, &input, out, shard, &NoProgress).unwrap()
        })
        .unwrap()
    };
    let one = tmp.path().join("one");
    run(1, &one, None);
    let reference = data_files(&one);
    let two = tmp.path().join("two");
    run(2, &two, None);
    assert!(data_files(&two) == reference, "2 threads differ from 1");
    for n in 1..=3 {
        let out = tmp.path().join(format!("shards{n}"));
        for i in 0..n {
            run(1 + i % 2, &out, Some(Shard::new(i, n).unwrap()));
        }
        output::merge(&out, &NoProgress).unwrap();
        for ((name, a), (_, b)) in data_files(&out).iter().zip(&reference) {
            assert!(
                a == b,
                "{name} of {n} merged shards differs from the single run"
            );
        }
    }
    // A missing shard is refused, naming it.
    let out = tmp.path().join("partial");
    run(1, &out, Some(Shard::new(0, 2).unwrap()));
    let e = output::merge(&out, &NoProgress).unwrap_err().to_string();
    assert!(e.contains("1/2"), "{e}");
    // A different seed changes the output.
    let other = tmp.path().join("other");
    let cfg2 = SimConfig {
        seed: 6,
        ..cfg.clone()
    };
    run_simulate(&cfg2, &input, &other, None, &NoProgress).unwrap();
    assert!(data_files(&other) != reference);
}

#[test]
fn malformed_inputs_give_located_errors_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.csv");
    std::fs::write(&bad, "instruction,recoil_type,x,y,depth,s1_photons,s2_electrons,t\n0,ER,1,2,3,10,5,0\n0,ER,1,2,3,ten,5,0\n").unwrap();
    let out = tmp.path().join("out");
    let e = run_simulate(&SimConfig::default(), &bad, &out, None, &NoProgress)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("bad.csv:3: expected a non-negative integer in `s1_photons`, found `ten`"),
        "{e}"
    );
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().next().is_none());
    // A broken map: located JSON error, nothing written.
    let map = tmp.path().join("map.json");
    std::fs::write(
        &map,
        "{\"coordinate_system\": [[0, 0], [1, 1]],\n \"map\": [1.0, oops]}",
    )
    .unwrap();
    let good = fake_input(tmp.path(), 3);
    let mut cfg = SimConfig::default();
    cfg.s2.light_yield_map = map.to_string_lossy().into_owned();
    let e = run_simulate(&cfg, &good, &out, None, &NoProgress)
        .unwrap_err()
        .to_string();
    assert!(e.contains("map.json:2"), "{e}");
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().next().is_none());
    // A map of the wrong dimension.
    std::fs::write(
        &map,
        "{\"coordinate_system\": [[0], [1]], \"map\": [1.0, 2.0]}",
    )
    .unwrap();
    let e = run_simulate(&cfg, &good, &out, None, &NoProgress)
        .unwrap_err()
        .to_string();
    assert!(e.contains("expected a 2-D map"), "{e}");
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]
        #[test]
        fn instruction_csv_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = fax_sim::instructions::parse_csv(&bytes, Path::new("x.csv"));
        }

        #[test]
        fn instruction_csv_with_header_never_panics(body in "[0-9a-zA-Z,.\\-\n ]{0,300}") {
            let text = format!("instruction,recoil_type,x,y,depth,s1_photons,s2_electrons,t\n{body}");
            let _ = fax_sim::instructions::parse_csv(text.as_bytes(), Path::new("x.csv"));
        }

        #[test]
        fn map_json_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = fax_sim::maps::InterpMap::from_json(&bytes, Path::new("m.json"));
        }

        #[test]
        fn map_json_structured_never_panics(pts in proptest::collection::vec(proptest::collection::vec(-1e3f64..1e3, 0..4), 0..8), vals in proptest::collection::vec(-1e3f64..1e3, 0..8), q in proptest::collection::vec(-1e3f64..1e3, 3)) {
            let text = serde_json::json!({"coordinate_system": pts, "map": vals}).to_string();
            if let Ok(m) = fax_sim::maps::InterpMap::from_json(text.as_bytes(), Path::new("m.json")) {
                let v = m.value(0, &q);
                prop_assert!(v.is_finite());
            }
        }
    }
}
