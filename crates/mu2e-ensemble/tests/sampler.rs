//! The sampler: statistics of the draws, exact bookkeeping (no event reused within or across
//! ensembles), sub-run splitting, shortfalls, G0 fraction windows and reproducibility.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use hep_core::io::{column_f64, column_i64, column_str, read_parquet};
use mu2e_ensemble::Error;
use mu2e_ensemble::sampler::{
    EnsembleConfig, EnsembleReport, Ledger, OutputNaming, SampleInput, build_ensemble, draw_counts,
    plan_ensemble, pulls_of_draws,
};
use mu2e_ensemble::samples::{GenPrimaryOptions, PrimaryKind, SampleFileInfo, generate_primary};

fn make_sample(
    dir: &Path,
    name: &str,
    kind: PrimaryKind,
    njobs: u32,
    per_job: u64,
    eff: f64,
    seed: u64,
) -> Vec<SampleFileInfo> {
    generate_primary(
        dir,
        &GenPrimaryOptions {
            name: name.into(),
            kind,
            njobs,
            events_per_job: per_job,
            filter_efficiency: eff,
            run: 1202,
            first_subrun: 0,
            owner: "mu2e".into(),
            configuration: "test".into(),
            seed,
        },
    )
    .unwrap()
}

/// Three samples: CE (2 files × 400 generated, eff 0.75), RMC (3 × 500, eff 0.5), cosmics
/// (2 × 600 at 10 Hz = 60 s each, eff 0.4).
fn samples(dir: &Path) -> Vec<SampleInput> {
    let ce = make_sample(dir, "CeEndpoint", PrimaryKind::CeMinus, 2, 400, 0.75, 1);
    let rmc = make_sample(
        dir,
        "RMCExternal",
        PrimaryKind::Rmc {
            kmax_mev: 90.1,
            emin_mev: 85.0,
        },
        3,
        500,
        0.5,
        2,
    );
    let cry = make_sample(
        dir,
        "CRYCosmic",
        PrimaryKind::Cosmic {
            rate_hz: 10.0,
            emin_mev: 1000.0,
            emax_mev: 1e5,
        },
        2,
        600,
        0.4,
        3,
    );
    vec![
        SampleInput::new("CeEndpoint", 150.0, ce),
        SampleInput::new("RMCExternal", 300.0, rmc),
        // 40 s of cosmic livetime out of 120 s simulated.
        SampleInput::new("CRYCosmic", 40.0, cry),
    ]
}

fn config(ledger: &Path, seed: u64, max_per_subrun: u64) -> EnsembleConfig {
    EnsembleConfig {
        seed,
        run: 1201,
        first_subrun: 0,
        max_events_per_subrun: max_per_subrun,
        naming: OutputNaming::default(),
        livetime_s: Some(1000.0),
        ledger: ledger.to_path_buf(),
        header: BTreeMap::new(),
        fcl: None,
    }
}

/// Every output row as (dataset, sampled run, subrun, event), plus the new IDs.
/// (dataset, sampled run, sampled subrun, sampled event).
type SourceId = (String, i64, i64, i64);

fn read_ensemble(report: &EnsembleReport) -> (Vec<SourceId>, Vec<(i64, i64, i64)>) {
    let mut used = Vec::new();
    let mut ids = Vec::new();
    for s in &report.subruns {
        let (_, batches) = read_parquet(&s.path).unwrap();
        for b in batches {
            let ds = column_str(&b, "dataset").unwrap();
            let (r, sr, e) = (
                column_i64(&b, "sampled_run").unwrap(),
                column_i64(&b, "sampled_subrun").unwrap(),
                column_i64(&b, "sampled_event").unwrap(),
            );
            let (nr, ns, ne) = (
                column_i64(&b, "run").unwrap(),
                column_i64(&b, "subrun").unwrap(),
                column_i64(&b, "event").unwrap(),
            );
            for i in 0..b.num_rows() {
                used.push((ds.value(i).to_string(), r.value(i), sr.value(i), e.value(i)));
                ids.push((nr.value(i), ns.value(i), ne.value(i)));
            }
        }
    }
    (used, ids)
}

#[test]
fn pulls_over_500_ensembles() {
    // Per-sample pulls of 500 seeded draws: mean within ±0.1 and width 1 ± 0.1 (issue 5).
    // With 500 draws the statistical error on the mean is 0.045 and on the width 0.032.
    let means = [2000.0, 150.0, 40.5, 9.3, 0.0];
    let pulls = pulls_of_draws(&means, 1000, 500).unwrap();
    for (s, p) in pulls.iter().enumerate().take(4) {
        let n = p.len() as f64;
        let mean = p.iter().sum::<f64>() / n;
        let width = (p.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        assert!(mean.abs() < 0.1, "sample {s}: pull mean {mean}");
        assert!((width - 1.0).abs() < 0.1, "sample {s}: pull width {width}");
    }
    assert!(pulls[4].iter().all(|&x| x == 0.0));
    // Poisson splitting: the per-sample counts are independent Poisson(mean): check the total
    // and the correlation between two samples (expected 0; 5/√500 band).
    let d: Vec<_> = (0..500)
        .map(|k| draw_counts(&means, 1000 + k).unwrap())
        .collect();
    for x in &d {
        assert_eq!(x.counts.iter().sum::<u64>(), x.n_total);
    }
    let a: Vec<f64> = d.iter().map(|x| x.counts[0] as f64).collect();
    let b: Vec<f64> = d.iter().map(|x| x.counts[1] as f64).collect();
    let (ma, mb) = (a.iter().sum::<f64>() / 500.0, b.iter().sum::<f64>() / 500.0);
    let cov: f64 = a.iter().zip(&b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    let r = cov / (va * vb).sqrt();
    assert!(r.abs() < 5.0 / 500f64.sqrt(), "correlation {r}");
}

#[test]
fn no_event_reused_across_subruns_and_consecutive_ensembles() {
    let tmp = tempfile::tempdir().unwrap();
    let sdir = tmp.path().join("samples");
    std::fs::create_dir_all(&sdir).unwrap();
    let inputs = samples(&sdir);
    let ledger = sdir.join("ledger.json");
    // Expected stored events: CE 150·600/800-ish, RMC 300·(≈750/1500), cosmics 40·(≈480/120 s).
    let mut all: HashSet<(String, i64, i64, i64)> = HashSet::new();
    let mut reports = Vec::new();
    for (k, seed) in [11u64, 12].into_iter().enumerate() {
        let out = tmp.path().join(format!("ens{k}"));
        let rep = build_ensemble(&inputs, &config(&ledger, seed, 97), &out).unwrap();
        let (used, ids) = read_ensemble(&rep);
        assert_eq!(used.len() as u64, rep.draws.n_total);
        // Sub-runs of at most 97 events, renumbered 1..n within each sub-run.
        for s in &rep.subruns {
            assert!(s.events <= 97 && s.events > 0);
        }
        let mut per_sub: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        for (r, s, e) in &ids {
            assert_eq!(*r, 1201);
            per_sub.entry(*s).or_default().push(*e);
        }
        for ev in per_sub.values() {
            assert_eq!(*ev, (1..=ev.len() as i64).collect::<Vec<_>>());
        }
        // Realised counts per dataset equal the draws.
        for (name, n) in rep.outcomes.iter().map(|o| (&o.name, o.realised)) {
            assert_eq!(used.iter().filter(|u| &u.0 == name).count() as u64, n);
        }
        for u in used {
            assert!(all.insert(u.clone()), "event {u:?} used twice");
        }
        reports.push(rep);
    }
    // An output directory holding an ensemble is not overwritten.
    let e = build_ensemble(&inputs, &config(&ledger, 13, 97), &tmp.path().join("ens0"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("already holds an ensemble"), "{e}");
    // The ledger records both ensembles and the union of the ranges.
    let l = Ledger::load(&ledger).unwrap();
    assert_eq!(l.ensembles.len(), 2);
    assert!(l.ensembles.iter().all(|e| e.status == "complete"));
    let used_rows: u64 = l
        .files
        .values()
        .flat_map(|f| f.used.iter())
        .map(|[a, b]| b - a)
        .sum();
    assert_eq!(used_rows as usize, all.len());
    // The manifest records per-file ranges with first/last event IDs.
    for r in &reports[0].ranges {
        assert!(r.first_event.is_some() && r.last_event.is_some());
    }
}

#[test]
fn events_are_copied_faithfully() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = samples(tmp.path());
    let rep = build_ensemble(
        &inputs,
        &config(&tmp.path().join("l.json"), 5, 1_000_000),
        &tmp.path().join("o"),
    )
    .unwrap();
    // Index every source event by (process, run, subrun, event) -> energy.
    let mut src: BTreeMap<(String, i64, i64, i64), f64> = BTreeMap::new();
    for s in &inputs {
        for f in &s.files {
            let (_, bs) = read_parquet(&f.path).unwrap();
            for b in bs {
                let (r, sr, e, en) = (
                    column_i64(&b, "run").unwrap(),
                    column_i64(&b, "subrun").unwrap(),
                    column_i64(&b, "event").unwrap(),
                    column_f64(&b, "energy_mev").unwrap(),
                );
                for i in 0..b.num_rows() {
                    src.insert(
                        (s.name.clone(), r.value(i), sr.value(i), e.value(i)),
                        en.value(i),
                    );
                }
            }
        }
    }
    let (_, bs) = read_parquet(&rep.subruns[0].path).unwrap();
    let mut n = 0;
    for b in bs {
        let ds = column_str(&b, "dataset").unwrap();
        let (r, sr, e, en) = (
            column_i64(&b, "sampled_run").unwrap(),
            column_i64(&b, "sampled_subrun").unwrap(),
            column_i64(&b, "sampled_event").unwrap(),
            column_f64(&b, "energy_mev").unwrap(),
        );
        for i in 0..b.num_rows() {
            let key = (ds.value(i).to_string(), r.value(i), sr.value(i), e.value(i));
            assert_eq!(src[&key].to_bits(), en.value(i).to_bits(), "{key:?}");
            n += 1;
        }
    }
    assert_eq!(n as u64, rep.draws.n_total);
    // The order is interleaved: not all events of one sample first.
    assert!(rep.draws.counts.iter().all(|&c| c > 0));
}

#[test]
fn short_sample_fails_before_writing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut inputs = samples(tmp.path());
    // Ask for 10× the CE normalisation: ≈ 1100 expected stored events, ≈ 600 available.
    inputs[0].norm *= 10.0;
    let ledger = tmp.path().join("l.json");
    let out = tmp.path().join("out");
    let err = build_ensemble(&inputs, &config(&ledger, 1, 1000), &out).unwrap_err();
    let msg = err.to_string();
    match err {
        Error::ShortSample {
            sample,
            needed,
            available,
            shortfall,
            max_livetime_s,
            ..
        } => {
            assert_eq!(sample, "CeEndpoint");
            assert_eq!(shortfall, needed - available);
            // Livetime that fits: 1000 s × available / expected.
            let expected = inputs[0].norm
                * inputs[0].files.iter().map(|f| f.events).sum::<u64>() as f64
                / 800.0;
            assert!((max_livetime_s / (1000.0 * available as f64 / expected) - 1.0).abs() < 1e-12);
        }
        other => panic!("wrong error {other:?}"),
    }
    assert!(
        msg.contains("CeEndpoint") && msg.contains("short by"),
        "{msg}"
    );
    assert!(!out.exists(), "nothing may be written");
    assert!(!ledger.exists(), "the ledger is untouched");
}

#[test]
fn exhausted_files_refuse_the_next_ensemble() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = samples(tmp.path());
    let ledger = tmp.path().join("l.json");
    // Ensembles keep consuming until one is short; each must fail before writing.
    let mut built = 0;
    for seed in 0..20 {
        match build_ensemble(
            &inputs,
            &config(&ledger, seed, 1000),
            &tmp.path().join(format!("o{seed}")),
        ) {
            Ok(_) => built += 1,
            Err(Error::ShortSample { .. }) => {
                assert!(!tmp.path().join(format!("o{seed}")).exists());
                break;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(built >= 2, "built {built}");
}

#[test]
fn g0_fraction_windows_share_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    let files = make_sample(
        tmp.path(),
        "CeMLeadingLog",
        PrimaryKind::CeMinus,
        1,
        2000,
        1.0,
        9,
    );
    let mk = |w: (f64, f64)| SampleInput {
        fraction_window: Some(w),
        ..SampleInput::new("CeMLeadingLog", 300.0, files.clone())
    };
    let ledger = tmp.path().join("l.json");
    // The second half first, then the first half: the windows are independent.
    let b = build_ensemble(
        &[mk((0.5, 1.0))],
        &config(&ledger, 1, 1000),
        &tmp.path().join("b"),
    )
    .unwrap();
    let a = build_ensemble(
        &[mk((0.0, 0.5))],
        &config(&ledger, 2, 1000),
        &tmp.path().join("a"),
    )
    .unwrap();
    assert_eq!(b.ranges[0].start_row, 1000);
    assert_eq!(a.ranges[0].start_row, 0);
    assert!(a.ranges[0].end_row <= 1000);
    // A third ensemble in the first window continues after the second.
    let c = plan_ensemble(&[mk((0.0, 0.5))], &config(&ledger, 3, 1000)).unwrap();
    assert_eq!(c.ranges[0][0].start_row, a.ranges[0].end_row);
}

fn build_in_pool(threads: usize, base: &Path, inputs: &[SampleInput]) -> Vec<(PathBuf, Vec<u8>)> {
    let out = base.join(format!("t{threads}"));
    let ledger = base.join(format!("ledger{threads}.json"));
    let rep = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(|| build_ensemble(inputs, &config(&ledger, 77, 150), &out))
        .unwrap();
    rep.subruns
        .iter()
        .map(|s| {
            (
                PathBuf::from(s.path.file_name().unwrap()),
                std::fs::read(&s.path).unwrap(),
            )
        })
        .collect()
}

#[test]
fn byte_identical_at_one_and_two_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = samples(tmp.path());
    let one = build_in_pool(1, tmp.path(), &inputs);
    let two = build_in_pool(2, tmp.path(), &inputs);
    assert!(one.len() >= 2, "several sub-runs");
    assert_eq!(one, two);
    // Generation too: the same seed gives the same sample files at 1 and 2 threads.
    let g = |n: usize, d: &str| {
        let dir = tmp.path().join(d);
        std::fs::create_dir_all(&dir).unwrap();
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
            .install(|| {
                make_sample(
                    &dir,
                    "DIO",
                    PrimaryKind::Rmc {
                        kmax_mev: 90.1,
                        emin_mev: 80.0,
                    },
                    3,
                    300,
                    0.7,
                    4,
                )
                .iter()
                .map(|f| std::fs::read(&f.path).unwrap())
                .collect::<Vec<_>>()
            })
    };
    assert_eq!(g(1, "g1"), g(2, "g2"));
}

#[test]
fn a_file_listed_twice_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut inputs = samples(tmp.path());
    let f = inputs[0].files[0].clone();
    inputs[0].files.push(f.clone());
    let e = plan_ensemble(&inputs, &config(&tmp.path().join("l.json"), 1, 1000))
        .unwrap_err()
        .to_string();
    assert!(e.contains("listed twice"), "{e}");
    let mut inputs = samples(tmp.path());
    inputs[1].files.push(f);
    let e = plan_ensemble(&inputs, &config(&tmp.path().join("l.json"), 1, 1000))
        .unwrap_err()
        .to_string();
    assert!(e.contains("CeEndpoint") && e.contains("RMCExternal"), "{e}");
}

#[test]
fn subrun_starts_for_fcl_follow_the_files() {
    // One sample, three files of 100 stored events (event IDs 1202:j:1..100), sub-runs of 60.
    let tmp = tempfile::tempdir().unwrap();
    let files = make_sample(
        tmp.path(),
        "CeEndpoint",
        PrimaryKind::CeMinus,
        3,
        100,
        1.0,
        3,
    );
    let inputs = [SampleInput::new("CeEndpoint", 250.0, files)];
    let rep = build_ensemble(
        &inputs,
        &config(&tmp.path().join("l.json"), 4, 60),
        &tmp.path().join("o"),
    )
    .unwrap();
    let n = rep.draws.n_total;
    assert!(
        n > 200,
        "the check needs at least three files in use, n = {n}"
    );
    for (k, s) in rep.subruns.iter().enumerate() {
        let (first, last) = (60 * k as u64, (60 * k as u64 + 60).min(n) - 1);
        let st = &s.starts[0];
        assert_eq!(st.count, last - first + 1);
        assert_eq!(
            st.event.subrun as u64,
            first / 100,
            "file of the first event"
        );
        assert_eq!(st.event.event as u64, first % 100 + 1, "skipToEvent");
        assert_eq!(st.spans_files, first / 100 != last / 100, "sub-run {k}");
    }
}

/// Reliability defect 4 (reservations stuck `reserved`): inputs are checked before anything is
/// reserved, and a run that fails after reserving removes its files and gives its rows back.
#[test]
fn ledger_reservation_is_released_when_the_run_fails() {
    use mu2e_ensemble::sampler::FclOptions;
    let tmp = tempfile::tempdir().unwrap();
    let sdir = tmp.path().join("samples");
    std::fs::create_dir_all(&sdir).unwrap();
    let inputs = samples(&sdir);
    let ledger = sdir.join("ledger.json");

    // A bad FCL template is refused before the ledger or the output directory is touched.
    let template = tmp.path().join("bad.fcl");
    std::fs::write(&template, "run: $run\nunknown: ${notAPlaceholder}\n").unwrap();
    let mut cfg = config(&ledger, 21, 97);
    cfg.fcl = Some(FclOptions {
        template: Some(template.clone()),
        with_data_stream: false,
    });
    let out = tmp.path().join("ens_bad_template");
    let e = build_ensemble(&inputs, &cfg, &out).unwrap_err().to_string();
    assert!(
        e.contains("bad.fcl") && e.contains("notAPlaceholder"),
        "{e}"
    );
    assert!(!ledger.exists(), "nothing reserved");
    assert!(!out.exists(), "nothing written");

    // A failure while writing (the first sub-run's name is taken by a directory): the files
    // written so far are removed and the reservation is released.
    let out = tmp.path().join("ens_fails");
    std::fs::create_dir_all(&out).unwrap();
    let cfg = config(&ledger, 22, 97);
    let blocker = out.join(cfg.naming.file_name(cfg.run, cfg.first_subrun));
    std::fs::create_dir_all(&blocker).unwrap();
    assert!(build_ensemble(&inputs, &cfg, &out).is_err());
    let l = Ledger::load(&ledger).unwrap();
    assert!(l.ensembles.is_empty(), "{:?}", l.ensembles);
    assert!(l.files.values().all(|f| f.used.is_empty()));
    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        vec![blocker.file_name().unwrap().to_owned()],
        "{left:?}"
    );

    // The same rows are then available to the next run, which completes.
    std::fs::remove_dir(&blocker).unwrap();
    let rep = build_ensemble(&inputs, &cfg, &out).unwrap();
    let l = Ledger::load(&ledger).unwrap();
    assert_eq!(l.ensembles.len(), 1);
    assert_eq!(l.ensembles[0].status, "complete");
    assert_eq!(
        l.ensembles[0].holder_pid,
        Some(std::process::id()),
        "the holder is recorded"
    );
    assert!(rep.draws.n_total > 0);
}

/// Reliability defect 4 (after a kill): a reservation whose holder process is gone is stale and
/// `release_stale` gives its rows back; a live holder's is kept; complete ensembles never go.
#[test]
fn ledger_stale_reservation_of_a_killed_run_is_released() {
    use mu2e_ensemble::sampler::{
        FileRange, LedgerEntry, LedgerFile, host_name, release_reservation, release_stale,
    };
    let tmp = tempfile::tempdir().unwrap();
    let ledger_path = tmp.path().join("ledger.json");
    let file = tmp.path().join("sample.parquet");
    std::fs::write(&file, b"x").unwrap();
    // A process that has exited: its pid is free (a reused pid would only keep the entry).
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = child.id();
    child.wait().unwrap();
    let range = |a, b| FileRange {
        sample: "s".into(),
        path: file.clone(),
        start_row: a,
        end_row: b,
        first_event: None,
        last_event: None,
    };
    let entry = |id: &str, status: &str, pid: u32, r: FileRange| LedgerEntry {
        output_dir: tmp.path().join(id),
        seed: 1,
        status: status.into(),
        reserved_utc: "2026-12-04T00:00:00.000Z".into(),
        ranges: vec![r],
        id: id.into(),
        holder_pid: Some(pid),
        holder_host: Some(host_name()),
    };
    let mut ledger = Ledger {
        version: 1,
        ..Ledger::default()
    };
    let mut lf = LedgerFile {
        rows: 100,
        used: Vec::new(),
    };
    for (a, b) in [(0, 10), (10, 20), (20, 30)] {
        lf.mark(a, b).unwrap();
    }
    ledger
        .files
        .insert(mu2e_ensemble::sampler::ledger_key(&file), lf);
    ledger.ensembles = vec![
        entry("killed", "reserved", dead_pid, range(0, 10)),
        entry("running", "reserved", std::process::id(), range(10, 20)),
        entry("done", "complete", dead_pid, range(20, 30)),
    ];
    ledger.save(&ledger_path).unwrap();
    assert!(ledger.ensembles[0].is_stale());
    assert!(!ledger.ensembles[1].is_stale());
    assert!(!ledger.ensembles[2].is_stale());

    let released = release_stale(&ledger_path).unwrap();
    assert_eq!(released.len(), 1);
    assert_eq!(released[0].id, "killed");
    let l = Ledger::load(&ledger_path).unwrap();
    assert_eq!(l.ensembles.len(), 2);
    assert_eq!(l.files.values().next().unwrap().used, vec![[10, 30]]);
    // A complete ensemble is never released, not even by id.
    let e = release_reservation(&ledger_path, "done")
        .unwrap_err()
        .to_string();
    assert!(e.contains("never released"), "{e}");
    release_reservation(&ledger_path, "running").unwrap();
    let l = Ledger::load(&ledger_path).unwrap();
    assert_eq!(l.files.values().next().unwrap().used, vec![[20, 30]]);
}

/// Reliability defect 5 (stale lock): the ledger lock is an OS advisory lock, so a lock file
/// left by a killed process does not block the next run.
#[test]
fn ledger_stale_lock_file_does_not_block() {
    let tmp = tempfile::tempdir().unwrap();
    let sdir = tmp.path().join("samples");
    std::fs::create_dir_all(&sdir).unwrap();
    let inputs = samples(&sdir);
    let ledger = sdir.join("ledger.json");
    std::fs::write(sdir.join("ledger.json.lock"), b"left by a killed run").unwrap();
    let t = std::time::Instant::now();
    build_ensemble(&inputs, &config(&ledger, 31, 97), &tmp.path().join("ens")).unwrap();
    // The old lock waited 60 s before giving up; the advisory lock is taken at once.
    assert!(t.elapsed() < std::time::Duration::from_secs(30));
}
