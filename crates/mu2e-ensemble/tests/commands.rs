//! The library calls behind the subcommands: progress reports, required options, the embedded
//! tables as default, and the TOML form of the configurations.

mod common;

use hep_core::progress::CountingProgress;
use mu2e_ensemble::commands::{
    GenPrimaryConfig, NormalizationsConfig, PrimaryType, RunSiConfig, StopRateOptions, gen_primary,
    normalizations,
};
use mu2e_ensemble::constants::ConstantSet;

#[test]
fn gen_primary_reports_every_job() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = GenPrimaryConfig {
        primary: "DIOTail".into(),
        kind: Some(PrimaryType::Dio),
        njobs: Some(3),
        events: Some(200),
        output: Some(tmp.path().join("s")),
        ..Default::default()
    };
    let p = CountingProgress::default();
    let rep = gen_primary(&cfg, &p).unwrap();
    assert_eq!((p.total(), p.done()), (3, 3));
    assert_eq!(rep.files.len(), 3);
    assert_eq!(rep.generated, 600);
    assert_eq!(rep.stored, 600);
    // DIO from the embedded Heeck table with the default cut E >= 95 MeV: no tables read.
    let man =
        std::fs::read_to_string(format!("{}.manifest.json", rep.files[0].path.display())).unwrap();
    assert!(man.contains("\"mu2e-ensemble gen-primary\""), "{man}");
}

#[test]
fn missing_required_options_are_named() {
    let e = gen_primary(&GenPrimaryConfig::default(), &CountingProgress::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("--primary") && e.contains("`primary`"), "{e}");
    let e = normalizations(&NormalizationsConfig::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("--livetime") && e.contains("`livetime`"), "{e}");
    let e = mu2e_ensemble::commands::run_si(&RunSiConfig::default(), &CountingProgress::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("cfg_dir"), "{e}");
}

#[test]
fn embedded_tables_are_the_default_and_equal_a_table_directory() {
    let Some(dir) = common::mu2e_data_dir() else {
        return;
    };
    let rates = StopRateOptions {
        simeff: Some(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("examples/data/SimEfficiencies2_Sim_best_v1_1_run1430_transcription.csv"),
        ),
        ..Default::default()
    };
    let cfg = NormalizationsConfig {
        constants: ConstantSet::Mds,
        livetime: Some(1e6),
        stop_rates: rates,
        ..Default::default()
    };
    let embedded = normalizations(&cfg).unwrap();
    // the mds DIO fraction E >= 95 MeV of the Heeck table (docs: 3.6370937564509995e-11)
    let dio = embedded
        .norms
        .entries
        .iter()
        .find(|e| e.sample == "DIO")
        .unwrap();
    assert_eq!(dio.fraction, Some(3.6370937564509995e-11));
    // only the stop-rate file was read from disk
    assert_eq!(embedded.files.len(), 1);
    if !dir.join("rpcspectrum.tbl").is_file() {
        if std::env::var_os("CI").is_some() {
            panic!("CI: missing {}", dir.display());
        }
        eprintln!("skipping the comparison: {} not found", dir.display());
        return;
    }
    let from_dir = normalizations(&NormalizationsConfig {
        tables: Some(dir),
        ..cfg
    })
    .unwrap();
    assert_eq!(embedded.text, from_dir.text);
}

#[test]
fn configurations_round_trip_through_toml() {
    let cfg = NormalizationsConfig {
        constants: ConstantSet::Mdc2024,
        livetime: Some(1.25e5),
        kmax: Some(89.0),
        ..Default::default()
    };
    let text = toml::to_string(&cfg).unwrap();
    let back: NormalizationsConfig = toml::from_str(&text).unwrap();
    assert_eq!(back, cfg);
    let g = GenPrimaryConfig {
        kind: Some(PrimaryType::IpaMichel),
        cosmic_energy: [10.0, 20.0],
        ..Default::default()
    };
    let text = toml::to_string(&g).unwrap();
    assert!(text.contains("type = \"ipa-michel\""), "{text}");
    assert_eq!(toml::from_str::<GenPrimaryConfig>(&text).unwrap(), g);
    // an unknown key is refused
    assert!(toml::from_str::<RunSiConfig>("cfg_dri = \"x\"").is_err());
    // a partial [compat] table is accepted
    let r: RunSiConfig = toml::from_str("[compat]\nrmc_always_1bb = true\n").unwrap();
    assert!(r.compat.rmc_always_1bb && !r.compat.ce_poisson);
}
