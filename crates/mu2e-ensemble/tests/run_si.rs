//! run_si input directories (spec 2.1), the plan of each generation (spec 2.2), the full run
//! with `--emit-fcl`, the SamplingInput summary parser (spec 2.3) and located errors.

use std::path::Path;

use mu2e_ensemble::constants::ConstantSet;
use mu2e_ensemble::fcl::{NextEvent, SiSampleState, SiState, parse_sampling_summary};
use mu2e_ensemble::normalizations::{Quirks, StopRates, Unit};
use mu2e_ensemble::run_si::{
    BuildOptions, Layout, RunSiDir, RunSiOptions, build, plan, sample_inputs,
};
use mu2e_ensemble::sampler::OutputNaming;
use mu2e_ensemble::samples::{GenPrimaryOptions, PrimaryKind, generate_primary};

const S_MU: f64 = 7.6711407768e-4;
const S_IPA: f64 = 1.3431495492077653e-8;

fn stop_rates() -> StopRates {
    StopRates {
        muon_stops_per_pot: S_MU,
        ipa_stops_per_pot: S_IPA,
        pion: None,
    }
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// A G1 directory: livetime 2e4 s, rue 1e-13, settings (95, 83, 400, 3e4, 1300, 17).
fn g1_dir(dir: &Path) {
    write(dir, "livetime", "20000.0\n");
    write(dir, "rue", "1.000000e-13\n");
    write(dir, "rup", "1.000000e-14\n");
    write(dir, "kmax", "90.100000\n");
    write(dir, "settings", "95.0\n83.0\n400.0\n30000.0\n1300\n17\n");
}

fn g1_samples(dir: &Path) {
    let sdir = dir.join("samples");
    std::fs::create_dir_all(&sdir).unwrap();
    let mk = |name: &str, kind: PrimaryKind, njobs: u32, per_job: u64, eff: f64, seed: u64| {
        let files = generate_primary(
            &sdir,
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
        .unwrap();
        // Relative paths are resolved against the configuration directory.
        let list: String = files
            .iter()
            .map(|f| {
                format!(
                    "samples/{}\n",
                    f.path.file_name().unwrap().to_string_lossy()
                )
            })
            .collect();
        write(dir, &format!("filenames_{name}"), &list);
    };
    let dio = mu2e_ensemble::dio::Pol58::aluminium()
        .to_spectrum(95.0, 0.01)
        .unwrap();
    mk(
        "DIOTail",
        PrimaryKind::Dio {
            spectrum: dio,
            emin_mev: 95.0,
        },
        2,
        2000,
        0.5,
        1,
    );
    mk("CeEndpoint", PrimaryKind::CeMinus, 1, 100, 0.9, 2);
    mk(
        "CRYCosmic",
        PrimaryKind::Cosmic {
            rate_hz: 1.0,
            emin_mev: 1e3,
            emax_mev: 1e5,
        },
        2,
        15000,
        0.02,
        3,
    );
    mk(
        "IPAMichel",
        PrimaryKind::IpaMichel { emin_mev: 0.0 },
        2,
        2_000_000_000,
        1e-6,
        4,
    );
}

fn opts() -> RunSiOptions {
    RunSiOptions {
        stop_rates: Some(stop_rates()),
        ..RunSiOptions::default()
    }
}

#[test]
fn g1_plan_term_by_term() {
    let tmp = tempfile::tempdir().unwrap();
    g1_dir(tmp.path());
    g1_samples(tmp.path());
    let d = RunSiDir::read(tmp.path(), None).unwrap();
    assert_eq!(d.layout, Layout::G1);
    assert_eq!(d.samples.len(), 4);
    let p = plan(&d, &opts()).unwrap();
    assert_eq!(p.constants, ConstantSet::Mdc2020);
    // Spec 1.2: NPOT = T · 0.323/1695e-9 · (0.75·1.6e7 + 0.25·3.9e7).
    let t = 20000.0;
    let npot = t * (0.323 / 1695e-9 * (0.75 * 1.6e7 + 0.25 * 3.9e7));
    assert!((p.pot / npot - 1.0).abs() < 1e-12);
    let get = |n: &str| p.samples.iter().find(|s| s.name == n).unwrap();
    assert!((get("CeEndpoint").norm / (npot * S_MU * 0.609 * 1e-13) - 1.0).abs() < 1e-12);
    assert!((get("IPAMichel").norm / (npot * S_IPA * 0.92) - 1.0).abs() < 1e-12);
    assert_eq!(get("CRYCosmic").unit, Unit::CosmicLivetimeSeconds);
    assert!((get("CRYCosmic").norm / (t * 0.323) - 1.0).abs() < 1e-12);
    // DIO: the G1 livetime-squared bug only with --compat (spec 6 quirk 1).
    let dio = get("DIOTail").norm;
    let mut o = opts();
    o.quirks = Quirks {
        dio_livetime_squared: true,
        ..Quirks::default()
    };
    let bugged = plan(&d, &o).unwrap();
    let dio_bug = bugged
        .samples
        .iter()
        .find(|s| s.name == "DIOTail")
        .unwrap()
        .norm;
    assert!((dio_bug / (dio * t) - 1.0).abs() < 1e-12);
    // G1 hard-coded run 1201 (quirk 9) only in compat.
    assert_eq!(p.run, 1300);
    o.compat_run_1201 = true;
    assert_eq!(plan(&d, &o).unwrap().run, 1201);
    let json = p.to_json();
    assert_eq!(json["CeEndpoint"].as_f64().unwrap(), get("CeEndpoint").norm);
    assert!(json["pot"].as_f64().is_some());
    // The keys in the plan's sample order, then `pot`, as the original's dict printed them.
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut want: Vec<&str> = p.samples.iter().map(|s| s.name.as_str()).collect();
    want.push("pot");
    assert_eq!(keys, want);
}

#[test]
fn g0_plan_uses_dep_emin_plus_one_and_max_livetime() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(d, "livetime", "432000.000000\n");
    write(d, "rue", "2.000000e-14\n");
    write(d, "rup", "3.000000e-14\n");
    write(d, "kmax", "91.000000\n");
    // RMC at dep_emin + 1 = 85 MeV with kmax 91: closure fraction 0.010709269091307089 (spec 7).
    write(
        d,
        "settings",
        "93.000000\n84.000000\n400.000000\n500000.000000\n1002\n4711\n",
    );
    let names = [
        "DIOLeadingLog",
        "CeMLeadingLog",
        "CePLeadingLog",
        "RMCexternal",
        "RMCinternal",
        "RPCexternal",
        "RPCinternal",
        "DYBCosmic",
        "CRYCosmic",
    ];
    let lines: String = names
        .iter()
        .map(|n| format!("{n} {n}.parquet 0.0 1.0\n"))
        .collect();
    write(d, "filenames", &lines);
    let dir = RunSiDir::read(d, None).unwrap();
    assert_eq!(dir.layout, Layout::G0);
    let p = plan(&dir, &RunSiOptions::default()).unwrap();
    assert_eq!(p.constants, ConstantSet::Mdc2018);
    let get = |n: &str| p.samples.iter().find(|s| s.name == n).unwrap().norm;
    let pot_per_year = 365.0 * 24.0 * 3600.0 / 1695e-9 * 0.25 * 3.9e7;
    let ub_per_year = 365.0 * 24.0 * 3600.0 / 1695e-9 * 0.25;
    let t_yr = 432000.0 / 31_536_000.0;
    let max_yr = 500000.0 / 31_536_000.0;
    let rel = |a: f64, b: f64| (a / b - 1.0).abs();
    assert!(
        rel(
            get("CeMLeadingLog"),
            pot_per_year * 0.00187 * 0.609 * t_yr * 2e-14
        ) < 1e-12
    );
    assert!(
        rel(
            get("CePLeadingLog"),
            pot_per_year * 0.00187 * 0.609 * t_yr * 3e-14
        ) < 1e-12
    );
    let rmc = pot_per_year * 0.00187 * 0.609 * 1.43e-5 * t_yr * 0.010709269091307089;
    assert!(rel(get("RMCexternal"), rmc) < 1e-12);
    assert!(rel(get("RMCinternal"), rmc * 0.0069) < 1e-12);
    assert!(rel(get("RPCexternal"), 1.59222825e8 * t_yr) < 1e-12);
    assert!(rel(get("RPCinternal"), 1.098685e6 * t_yr) < 1e-12);
    assert!(
        rel(
            get("CRYCosmic"),
            ub_per_year * 253440.0 * (1705e-9 - 450e-9) * max_yr
        ) < 1e-12
    );
    assert!(
        rel(
            get("DYBCosmic"),
            ub_per_year * 5494.24 * (1705e-9 - 400e-9) * max_yr
        ) < 1e-12
    );
    assert_eq!(
        p.samples.iter().filter(|s| s.unit == Unit::Events).count(),
        9
    );
}

#[test]
fn full_run_with_fcl_and_no_reuse_between_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    std::fs::create_dir_all(&cfg).unwrap();
    g1_dir(&cfg);
    g1_samples(&cfg);
    let d = RunSiDir::read(&cfg, None).unwrap();
    let b = BuildOptions {
        emit_fcl: true,
        max_events_per_subrun: 400,
        ..BuildOptions::default()
    };
    let out = tmp.path().join("out");
    let rep = build(&d, &opts(), &b, &out).unwrap();
    assert!(rep.subruns.len() >= 2);
    let first = &rep.subruns[0];
    assert_eq!(
        first.path.file_name().unwrap().to_string_lossy(),
        OutputNaming::default().file_name(1300, 0)
    );
    let fcl = std::fs::read_to_string(out.join("SamplingInput_sr0.fcl")).unwrap();
    assert!(!fcl.contains("${"), "{fcl}");
    assert!(fcl.contains("samplingSeed: 17"), "seed + subrun");
    assert!(fcl.contains("subRun: 0") && fcl.contains("run: 1300"));
    assert!(fcl.contains("dts.mu2e.ensemble-MC.MDC2020.001300_00000000.art"));
    for st in &first.starts {
        assert!(
            fcl.contains(&format!("skipToEvent: \"{}\"", st.event)),
            "{fcl}"
        );
    }
    assert!(
        std::fs::read_to_string(out.join("SamplingInput_sr1.fcl"))
            .unwrap()
            .contains("samplingSeed: 18")
    );
    // The sidecar manifest of the report lists the outputs and the seed.
    let m = hep_core::manifest::Manifest::read(out.join("ensemble.json.manifest.json")).unwrap();
    assert_eq!(m.seeds["seed"], 17);
    assert_eq!(m.outputs.len(), rep.subruns.len() * 2 + 1);
    // The default ledger sits next to the samples; a second run continues after the first.
    let ledger = cfg.join("samples").join("mu2e-ensemble-ledger.json");
    assert!(ledger.is_file());
    let rep2 = build(
        &d,
        &opts(),
        &BuildOptions {
            seed: Some(99),
            ..b.clone()
        },
        &tmp.path().join("out2"),
    )
    .unwrap();
    for r2 in &rep2.ranges {
        for r1 in rep.ranges.iter().filter(|r| r.path == r2.path) {
            assert!(
                r2.start_row >= r1.end_row || r2.end_row <= r1.start_row,
                "{r1:?} {r2:?}"
            );
        }
    }
    // Inputs of the plan read back with the right normalisation kinds.
    let p = plan(&d, &opts()).unwrap();
    let inputs = sample_inputs(&p).unwrap();
    assert!(
        inputs
            .iter()
            .find(|s| s.name == "CRYCosmic")
            .unwrap()
            .norm_is_livetime
    );
}

fn err_of(dir: &Path) -> String {
    RunSiDir::read(dir, None).unwrap_err().to_string()
}

#[test]
fn bad_directories_give_located_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    g1_dir(d);
    std::fs::remove_file(d.join("livetime")).unwrap();
    let e = err_of(d);
    assert!(e.contains("livetime"), "{e}");
    write(d, "livetime", "1e4 s\n");
    let e = err_of(d);
    assert!(
        e.contains("livetime:1: expected a livetime (s) >= 0, found '1e4 s'"),
        "{e}"
    );
    write(d, "livetime", "\n-5\n");
    let e = err_of(d);
    assert!(e.contains("livetime:2:") && e.contains("-5"), "{e}");
    write(d, "livetime", "100\n");
    write(d, "settings", "95\n83\n400\n3e4\n1300\n");
    let e = err_of(d);
    assert!(e.contains("settings:6: expected 6 lines"), "{e}");
    write(d, "settings", "95\n83\n400\n3e4\n13.5\n7\n");
    let e = err_of(d);
    assert!(e.contains("settings:5: expected a run number"), "{e}");
    write(d, "settings", "95\n83\n400\n3e4\n1300\n7\n");
    // G1 needs every list of mdc2020.
    let e = err_of(d);
    assert!(
        e.contains("filenames_DIOTail") && e.contains("required"),
        "{e}"
    );
    write(d, "filenames_DIOTial", "x.parquet\n");
    let e = err_of(d);
    assert!(
        e.contains("filenames_DIOTial") && e.contains("DIOTial"),
        "{e}"
    );
    // G0: malformed `filenames` line.
    std::fs::remove_file(d.join("filenames_DIOTial")).unwrap();
    write(d, "filenames", "CeMLeadingLog a.parquet 0.0\n");
    let e = err_of(d);
    assert!(
        e.contains("filenames:1: expected `name path start_fraction max_fraction`"),
        "{e}"
    );
    write(d, "filenames", "CeMLeadingLog a.parquet 0.6 0.5\n");
    assert!(err_of(d).contains("filenames:1:"));
}

#[test]
fn bad_sample_files_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path();
    g1_dir(cfg);
    g1_samples(cfg);
    let d = RunSiDir::read(cfg, None).unwrap();
    // A listed file that does not exist.
    write(cfg, "filenames_CeEndpoint", "samples/missing.parquet\n");
    let d2 = RunSiDir::read(cfg, None).unwrap();
    let e = sample_inputs(&plan(&d2, &opts()).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.parquet"), "{e}");
    // Not a Parquet file.
    write(cfg, "samples/garbage.parquet", "not parquet");
    write(cfg, "filenames_CeEndpoint", "samples/garbage.parquet\n");
    let e = sample_inputs(&plan(&RunSiDir::read(cfg, None).unwrap(), &opts()).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("garbage.parquet"), "{e}");
    // A cosmic list holding a counted (GenEventCount) sample: refused by the sampler.
    write(
        cfg,
        "filenames_CeEndpoint",
        "samples/dts.mu2e.CeEndpoint.test.001202_00000000.parquet\n",
    );
    let extra = generate_primary(
        &cfg.join("samples"),
        &GenPrimaryOptions {
            name: "CeEndpoint".into(),
            kind: PrimaryKind::CeMinus,
            njobs: 1,
            events_per_job: 50,
            filter_efficiency: 1.0,
            run: 1202,
            first_subrun: 5,
            owner: "mu2e".into(),
            configuration: "test".into(),
            seed: 8,
        },
    )
    .unwrap();
    write(
        cfg,
        "filenames_CRYCosmic",
        &format!("{}\n", extra[0].path.display()),
    );
    let e = build(
        &RunSiDir::read(cfg, None).unwrap(),
        &opts(),
        &BuildOptions::default(),
        &tmp.path().join("o"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("CRYCosmic") && e.contains("GenEventCount"),
        "{e}"
    );
    assert!(!tmp.path().join("o").exists());
    // Without stop rates mdc2020 cannot be planned.
    let e = plan(&d, &RunSiOptions::default()).unwrap_err().to_string();
    assert!(e.contains("simeff"), "{e}");
}

#[test]
fn sampling_input_summary_continues_a_run() {
    let log = "\
%MSG-i SamplingInput: ...
 Dataset            Counts   fraction  | Expected fraction      Weight     Next event
 DIOTail               612   0.612000  |          0.600000  1.200000e+03  run: 1202 subRun: 3 event: 77
 CeEndpoint              5   0.005000  |          0.004000  8.000000e+00  (no more available)
 CRYCosmic             383   0.383000  |          0.396000  7.920000e+02  run: 1202 subRun: 0 event: 1234
 Total                1000
";
    let known = ["DIOTail", "CeEndpoint", "CRYCosmic"];
    let s = parse_sampling_summary(Path::new("job.log"), log, &known).unwrap();
    assert_eq!(s.total, Some(1000));
    assert_eq!(s.datasets.len(), 3);
    assert_eq!(s.datasets[0].count, 612);
    assert_eq!(s.datasets[0].weight, 1200.0);
    assert_eq!(s.datasets[1].next, NextEvent::NoMoreAvailable);
    let mut st = SiState {
        samples: known
            .iter()
            .map(|n| SiSampleState {
                name: (*n).into(),
                files: vec![format!("{n}_0.art").into(), format!("{n}_1.art").into()],
                file_index: 0,
                skip_to_event: None,
                used: 0,
                weight: 1.0,
            })
            .collect(),
        produced: 0,
        n_total: 1500,
        next_subrun: 0,
    };
    st.apply_summary(&s).unwrap();
    assert_eq!(st.produced, 1000);
    assert_eq!(
        st.samples[0].skip_to_event.unwrap().to_string(),
        "1202:3:77"
    );
    assert_eq!(
        st.samples[1].file_index, 1,
        "exhausted file: move to the next one"
    );
    let (fcl, n) = st
        .next_job(1201, 100, 1_000_000, &OutputNaming::default())
        .unwrap();
    assert_eq!(n, 500);
    assert_eq!(fcl.subrun, 1);
    assert_eq!(fcl.sampling_seed, 101);
    let text = fcl.render(mu2e_ensemble::fcl::DEFAULT_TEMPLATE).unwrap();
    assert!(
        text.contains("CeEndpoint_1.art") && text.contains("skipToEvent: \"1202:3:77\""),
        "{text}"
    );
    // A second exhaustion of CeEndpoint: out of files.
    let e = st.apply_summary(&s).unwrap_err().to_string();
    assert!(
        e.contains("CeEndpoint") && e.contains("out of files"),
        "{e}"
    );
    // Malformed lines are located.
    let bad = log.replace(
        "run: 1202 subRun: 3 event: 77",
        "run: 1202 subRun: x event: 77",
    );
    let e = parse_sampling_summary(Path::new("job.log"), &bad, &known)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("job.log:3:"), "{e}");
    let e = parse_sampling_summary(Path::new("job.log"), "nothing here\n", &known)
        .unwrap_err()
        .to_string();
    assert!(e.contains("SamplingInput summary header"), "{e}");
}
