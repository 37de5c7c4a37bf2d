//! mu2e-ensemble: every normalisation of the four constant sets once the tables are loaded, and a
//! blind ensemble of 10 million events from Parquet samples (issue 5 "Done when": well under a
//! millisecond, and under 10 s on the 2-core reference machine).
//!
//! The tables are the original Mu2e tables, read when present beside the workspace (all four
//! sets; CI provides them); without them only the sets that need no table files are timed (mdc2018,
//! mdc2020, mdc2024 with the analytic DIO spectrum). The ensemble samples (four processes, 13.2 M
//! stored events in 12 files) are generated once in a scratch directory; each iteration builds the
//! ensemble with a fresh ledger, so every iteration draws, allocates, reads, interleaves and writes
//! 10 M events (ten sub-run files of 1 M events) plus the report and manifests.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use mu2e_ensemble::constants::ConstantSet;
use mu2e_ensemble::normalizations::{Inputs, StopRates, compute};
use mu2e_ensemble::sampler::{EnsembleConfig, OutputNaming, SampleInput, build_ensemble};
use mu2e_ensemble::samples::{GenPrimaryOptions, PrimaryKind, generate_primary};
use mu2e_ensemble::tables::{SimEfficiencies, Tables};
use mu2e_ensemble::units::{Livetime, LivetimeKind};

/// The original tables beside the workspace, if present (optional input; not part of the
/// repository).
fn original_tables() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/mu2e-ensemble");
    p.is_dir().then_some(p)
}

fn normalizations(c: &mut Criterion) {
    let (tables, rates) = match original_tables() {
        Some(d) => (
            Tables::load(&d).expect("tables"),
            StopRates::from_simeff(
                &SimEfficiencies::read(
                    d.join("SimEfficiencies2_Sim_best_v1_1_run1430_transcription.csv"),
                )
                .expect("simeff"),
            )
            .expect("stop rates"),
        ),
        None => (
            Tables::none(),
            StopRates {
                muon_stops_per_pot: mu2e_ensemble::pipeline::DEMO_MUON_STOPS_PER_POT,
                ipa_stops_per_pot: mu2e_ensemble::pipeline::DEMO_IPA_STOPS_PER_POT,
                pion: None,
            },
        ),
    };
    let sets: Vec<ConstantSet> = if tables.rpc.is_some() && tables.ipa.is_some() {
        ConstantSet::ALL.to_vec()
    } else {
        vec![
            ConstantSet::Mdc2018,
            ConstantSet::Mdc2020,
            ConstantSet::Mdc2024,
        ]
    };
    let inputs: Vec<Inputs> = sets
        .iter()
        .map(|&s| {
            let mut i = Inputs::new(
                s,
                Livetime::from_value(1e6, LivetimeKind::Native, s).expect("livetime"),
            );
            i.stop_rates = Some(rates);
            i.rue = 1e-15;
            i.rup = 1e-15;
            i
        })
        .collect();
    c.bench_function("mu2e_normalizations/all_sets_tables_loaded", |b| {
        b.iter(|| {
            for i in &inputs {
                black_box(compute(black_box(i), &tables).expect("normalisations"));
            }
        })
    });
}

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn make_samples(dir: &Path) -> Vec<SampleInput> {
    // (name, kind, jobs, generated per job, filter efficiency, norm)
    let specs: Vec<(&str, PrimaryKind, u32, u64, f64, f64)> = vec![
        (
            "CeEndpoint",
            PrimaryKind::CeMinus,
            3,
            1_250_000,
            0.8,
            1.25e6,
        ),
        (
            "RMCExternal",
            PrimaryKind::Rmc {
                kmax_mev: 90.1,
                emin_mev: 80.0,
            },
            3,
            2_000_000,
            0.5,
            5.0e6,
        ),
        (
            "IPAMichel",
            PrimaryKind::IpaMichel { emin_mev: 0.0 },
            3,
            4_000_000_000,
            3.5e-4,
            1.1e10,
        ),
        // 1 Hz: 2.5e6 s of simulated cosmic livetime per file.
        (
            "CRYCosmic",
            PrimaryKind::Cosmic {
                rate_hz: 1.0,
                emin_mev: 1e3,
                emax_mev: 1e6,
            },
            3,
            2_500_000,
            0.4,
            6.6e6,
        ),
    ];
    specs
        .into_iter()
        .enumerate()
        .map(|(k, (name, kind, njobs, per_job, eff, norm))| {
            let files = generate_primary(
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
                    configuration: "bench".into(),
                    seed: k as u64,
                },
            )
            .expect("generate samples");
            SampleInput::new(name, norm, files)
        })
        .collect()
}

fn ensemble(c: &mut Criterion) {
    let base = std::env::temp_dir().join(format!("mu2e-ensemble-bench-{}", std::process::id()));
    std::fs::create_dir_all(&base).expect("scratch dir");
    let scratch = Scratch(base.clone());
    let samples_dir = base.join("samples");
    std::fs::create_dir_all(&samples_dir).expect("samples dir");
    let inputs = make_samples(&samples_dir);
    let expected: f64 = inputs
        .iter()
        .map(|s| {
            s.norm * s.files.iter().map(|f| f.events).sum::<u64>() as f64
                / s.files.iter().map(|f| f.normalization.value()).sum::<f64>()
        })
        .sum();
    eprintln!("ensemble bench: expected {expected:.0} events per ensemble");
    let mut g = c.benchmark_group("mu2e_ensemble");
    g.sample_size(10);
    let mut k = 0u64;
    g.bench_function("build_10M_events_from_parquet", |b| {
        b.iter_batched(
            || {
                k += 1;
                let out = base.join("out");
                let _ = std::fs::remove_dir_all(&out);
                let ledger = base.join(format!("ledger{k}.json"));
                let _ = std::fs::remove_file(&ledger);
                (out, ledger)
            },
            |(out, ledger)| {
                let cfg = EnsembleConfig {
                    seed: 7,
                    run: 1201,
                    first_subrun: 0,
                    max_events_per_subrun: 1_000_000,
                    naming: OutputNaming::default(),
                    livetime_s: None,
                    ledger,
                    header: Default::default(),
                    fcl: None,
                };
                black_box(build_ensemble(&inputs, &cfg, &out).expect("ensemble"))
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
    drop(scratch);
}

criterion_group!(benches, normalizations, ensemble);
criterion_main!(benches);
