//! `--print-config` round trips: a run with command-line options and a run with only the
//! printed configuration (`--config FILE`) give byte-identical stdout and output files (every
//! file of the output except the `*.manifest.json` provenance, which records times).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn cmd() -> Command {
    Command::cargo_bin("mu2e-ensemble").unwrap()
}

/// The unofficial example stop rates shipped with the library crate.
fn example_simeff() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../crates/mu2e-ensemble/examples/data")
        .join("SimEfficiencies2_Sim_best_v1_1_run1430_transcription.csv")
}

fn run_ok(args: &[OsString]) -> Vec<u8> {
    let out = cmd().args(args).assert().success().get_output().clone();
    out.stdout
}

/// Every file below `root` except manifests: relative path -> bytes.
fn files(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut m = BTreeMap::new();
    if root.is_file() {
        m.insert(PathBuf::new(), std::fs::read(root).unwrap());
        return m;
    }
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if !p.to_string_lossy().ends_with(".manifest.json") {
                m.insert(
                    p.strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    m
}

fn remove(p: &Path) {
    if p.is_dir() {
        std::fs::remove_dir_all(p).unwrap();
    } else if p.exists() {
        std::fs::remove_file(p).unwrap();
    }
}

/// Runs `sub args`, then `sub args --print-config` into a file, then `sub --config FILE` (plus
/// `tail`, options that are not in the configuration) with the outputs `outputs` removed in
/// between; asserts equal stdout and equal output files. Returns the configuration text.
fn round_trip(
    tmp: &Path,
    sub: &str,
    args: &[OsString],
    tail: &[OsString],
    outputs: &[&Path],
    scratch: &[&Path],
) -> String {
    let with = |extra: &[OsString]| -> Vec<OsString> {
        let mut v: Vec<OsString> = vec![sub.into()];
        v.extend_from_slice(extra);
        v
    };
    let mut first_args = args.to_vec();
    first_args.extend_from_slice(tail);
    let stdout1 = run_ok(&with(&first_args));
    let before: Vec<_> = outputs.iter().map(|o| files(o)).collect();
    assert!(
        before.iter().all(|f| !f.is_empty()),
        "the first run wrote nothing"
    );

    let mut pc = args.to_vec();
    pc.push("--print-config".into());
    let config = String::from_utf8(run_ok(&with(&pc))).unwrap();
    let _: toml::Table = config.parse().expect("--print-config prints TOML");
    let file = tmp.join(format!("{sub}.toml"));
    std::fs::write(&file, &config).unwrap();

    for o in outputs.iter().chain(scratch) {
        remove(o);
    }
    let mut second: Vec<OsString> = vec!["--config".into(), file.into_os_string()];
    second.extend_from_slice(tail);
    let stdout2 = run_ok(&with(&second));
    assert_eq!(
        String::from_utf8_lossy(&stdout1),
        String::from_utf8_lossy(&stdout2),
        "stdout differs"
    );
    for (o, b) in outputs.iter().zip(&before) {
        let after = files(o);
        assert_eq!(
            b.keys().collect::<Vec<_>>(),
            after.keys().collect::<Vec<_>>(),
            "{}",
            o.display()
        );
        for (k, v) in b {
            assert!(after[k] == *v, "{} differs", o.join(k).display());
        }
    }
    config
}

fn os(v: &[&str]) -> Vec<OsString> {
    v.iter().map(OsString::from).collect()
}

#[test]
fn normalizations_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("norm.json");
    let mut args = os(&[
        "--constants",
        "mds",
        "--livetime",
        "3.5e6",
        "--livetime-kind",
        "on-spill",
        "--beam",
        "2BB",
        "--rue",
        "1e-15",
        "--rup",
        "2e-16",
        "--dio-emin",
        "96",
        "--ipa-emin",
        "72",
        "--compat",
        "ce-poisson,ipa-next-threshold",
        "--seed",
        "11",
        "--format",
        "json",
        "--stopped-pi-per-pot",
        "2e-3",
        "--simeff",
    ]);
    args.push(example_simeff().into());
    args.push("--output".into());
    args.push(out.clone().into());
    let config = round_trip(tmp.path(), "normalizations", &args, &[], &[&out], &[]);
    assert!(config.contains("ce_poisson = true"), "{config}");
    assert!(config.contains("beam = \"2BB\""), "{config}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert!(v["pot"].as_f64().unwrap() > 0.0);

    // stdout (no output file) round trips too
    let args = os(&[
        "--constants",
        "mdc2018",
        "--livetime",
        "1e6",
        "--max-livetime",
        "2e6",
        "--kmax",
        "89.5",
    ]);
    let stdout = run_ok(&[os(&["normalizations"]), args.clone()].concat());
    let cfg = String::from_utf8(run_ok(
        &[os(&["normalizations"]), args, os(&["--print-config"])].concat(),
    ))
    .unwrap();
    let file = tmp.path().join("g0.toml");
    std::fs::write(&file, cfg).unwrap();
    let again = run_ok(&[os(&["normalizations", "--config"]), vec![file.into()]].concat());
    assert_eq!(stdout, again);
    assert!(String::from_utf8(stdout).unwrap().contains("DIOLeadingLog"));
}

#[test]
fn command_line_overrides_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("c.toml");
    std::fs::write(
        &file,
        "constants = \"mdc2018\"\nlivetime = 1e6\nformat = \"json\"\n",
    )
    .unwrap();
    let base = |extra: &[&str]| {
        let mut a = os(&["normalizations", "--config"]);
        a.push(file.clone().into());
        a.extend(os(extra));
        let v: serde_json::Value = serde_json::from_slice(&run_ok(&a)).unwrap();
        v["pot"].as_f64().unwrap()
    };
    let pot1 = base(&[]);
    let pot2 = base(&["--livetime", "2e6"]);
    assert_eq!(pot2, 2.0 * pot1);
    // an unknown key is an error naming the file
    std::fs::write(&file, "livetme = 5\n").unwrap();
    let e = cmd()
        .args(["normalizations", "--config"])
        .arg(&file)
        .assert()
        .failure()
        .get_output()
        .stderr
        .clone();
    let e = String::from_utf8(e).unwrap();
    assert!(e.contains("c.toml") && e.contains("livetme"), "{e}");
    // a missing required option names both places
    std::fs::write(&file, "constants = \"mdc2018\"\n").unwrap();
    let e = cmd()
        .args(["normalizations", "--config"])
        .arg(&file)
        .assert()
        .failure()
        .get_output()
        .stderr
        .clone();
    let e = String::from_utf8(e).unwrap();
    assert!(e.contains("--livetime") && e.contains("`livetime`"), "{e}");
}

#[test]
fn ce_rmue_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let args = os(&[
        "--constants",
        "mdc2024",
        "--livetime",
        "1e6",
        "--beam",
        "2bb",
        "--nsig",
        "5",
        "--stopped-mu-per-pot",
        "7.6711407768e-4",
        "--ipa-stops-per-pot",
        "1e-8",
    ]);
    let stdout = run_ok(&[os(&["ce-rmue"]), args.clone()].concat());
    let cfg = run_ok(&[os(&["ce-rmue"]), args, os(&["--print-config"])].concat());
    let file = tmp.path().join("ce.toml");
    std::fs::write(&file, cfg).unwrap();
    let again = run_ok(&[os(&["ce-rmue", "--config"]), vec![file.into()]].concat());
    assert_eq!(stdout, again);
    let rue: f64 = String::from_utf8(stdout).unwrap().trim().parse().unwrap();
    assert!(rue > 0.0 && rue < 1e-10, "{rue}");
}

#[test]
fn gen_primary_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("samples");
    let mut args = os(&[
        "--primary",
        "DIOTail",
        "--type",
        "dio",
        "--njobs",
        "2",
        "--events",
        "400",
        "--filter-efficiency",
        "0.5",
        "--emin",
        "96",
        "--run",
        "1300",
        "--first-subrun",
        "3",
        "--owner",
        "test",
        "--campaign",
        "MDC2020x",
        "--seed",
        "9",
        "--output",
    ]);
    args.push(out.clone().into());
    let config = round_trip(tmp.path(), "gen-primary", &args, &[], &[&out], &[]);
    assert!(config.contains("type = \"dio\""), "{config}");
    assert_eq!(files(&out).len(), 2);

    let cosmic = tmp.path().join("cosmic");
    let mut args = os(&[
        "--primary",
        "CRY",
        "--type",
        "cosmic",
        "--njobs",
        "1",
        "--events",
        "300",
        "--rate",
        "3",
        "--cosmic-energy",
        "2000",
        "5e5",
        "--output",
    ]);
    args.push(cosmic.clone().into());
    round_trip(tmp.path(), "gen-primary", &args, &[], &[&cosmic], &[]);
}

/// A G1 run_si directory with four small samples.
fn run_si_dir(cfg: &Path) {
    std::fs::create_dir_all(cfg).unwrap();
    std::fs::write(cfg.join("livetime"), "20000\n").unwrap();
    std::fs::write(cfg.join("rue"), "1e-13\n").unwrap();
    std::fs::write(cfg.join("rup"), "0\n").unwrap();
    std::fs::write(cfg.join("settings"), "95\n83\n400\n3e4\n1300\n17\n").unwrap();
    let samples = cfg.join("samples");
    for args in [
        &[
            "--primary",
            "DIOTail",
            "--type",
            "dio",
            "--njobs",
            "2",
            "--events",
            "3000",
        ][..],
        &[
            "--primary",
            "CeEndpoint",
            "--type",
            "ce-minus",
            "--njobs",
            "1",
            "--events",
            "100",
        ][..],
        &[
            "--primary",
            "CRYCosmic",
            "--type",
            "cosmic",
            "--njobs",
            "2",
            "--events",
            "20000",
            "--rate",
            "1",
            "--filter-efficiency",
            "0.02",
        ][..],
        &[
            "--primary",
            "IPAMichel",
            "--type",
            "ipa-michel",
            "--njobs",
            "2",
            "--events",
            "2000000000",
            "--filter-efficiency",
            "1e-6",
        ][..],
    ] {
        cmd()
            .arg("gen-primary")
            .args(args)
            .arg("--output")
            .arg(&samples)
            .assert()
            .success();
    }
    for s in ["DIOTail", "CeEndpoint", "CRYCosmic", "IPAMichel"] {
        let mut names: Vec<String> = std::fs::read_dir(&samples)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(&format!(".{s}.")) && n.ends_with(".parquet"))
            .map(|n| format!("samples/{n}\n"))
            .collect();
        names.sort();
        std::fs::write(cfg.join(format!("filenames_{s}")), names.concat()).unwrap();
    }
}

#[test]
fn run_si_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cfg");
    run_si_dir(&dir);
    let ens = tmp.path().join("ens");
    let ledger = tmp.path().join("ledger.json");
    let mut args: Vec<OsString> = vec![dir.clone().into(), ens.clone().into()];
    args.extend(os(&[
        "--stopped-mu-per-pot",
        "7.6711407768e-4",
        "--ipa-stops-per-pot",
        "1.3431495492077653e-8",
        "--max-events-per-subrun",
        "300",
        "--seed",
        "5",
        "--compat",
        "run-1201,rmc-1bb",
        "--emit-fcl",
        "--ledger",
    ]));
    args.push(ledger.clone().into());
    let config = round_trip(tmp.path(), "run-si", &args, &[], &[&ens], &[&ledger]);
    assert!(config.contains("compat_run_1201 = true"), "{config}");
    assert!(
        ens.join("dts.mu2e.ensemble-MC.MDC2020.001201_00000000.parquet")
            .is_file()
    );
    assert!(ens.join("SamplingInput_sr0.fcl").is_file());
    // the manifest names the subcommand
    let man = std::fs::read_to_string(ens.join("ensemble.json.manifest.json")).unwrap();
    assert!(man.contains("\"mu2e-ensemble run-si\""), "{man}");

    // --plan-only round trips too
    let mut plan_args: Vec<OsString> = vec![dir.into()];
    plan_args.extend(os(&[
        "--plan-only",
        "--format",
        "json",
        "--stopped-mu-per-pot",
        "7.6711407768e-4",
        "--ipa-stops-per-pot",
        "1.3431495492077653e-8",
    ]));
    let stdout = run_ok(&[os(&["run-si"]), plan_args.clone()].concat());
    let cfg = run_ok(&[os(&["run-si"]), plan_args, os(&["--print-config"])].concat());
    let file = tmp.path().join("plan.toml");
    std::fs::write(&file, cfg).unwrap();
    assert_eq!(
        stdout,
        run_ok(&[os(&["run-si", "--config"]), vec![file.into()]].concat())
    );
}

#[test]
fn gen_ensemble_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("closedEnsemble0");
    let mut args: Vec<OsString> = vec![d.clone().into()];
    args.extend(os(&["0.0822", "0.05", "--run", "1010", "--seed", "4"]));
    let config = round_trip(tmp.path(), "gen-ensemble", &args, &[], &[&d], &[]);
    assert!(config.contains("seed = 4"), "{config}");
    assert!(d.join("jobs.json").is_file() && d.join("settings").is_file());
}

#[test]
fn verbose_logs_the_stages_with_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let out = cmd()
        .args([
            "-v",
            "gen-primary",
            "--primary",
            "CeEndpoint",
            "--type",
            "ce-minus",
            "--njobs",
            "2",
            "--events",
            "50",
            "--output",
        ])
        .arg(tmp.path().join("s"))
        .env_remove("RUST_LOG")
        .assert()
        .success()
        .get_output()
        .stderr
        .clone();
    let e = String::from_utf8(out).unwrap();
    assert!(
        e.contains("gen-primary: generating") && e.contains("jobs=2"),
        "{e}"
    );
    assert!(
        e.contains("gen-primary: done") && e.contains("stored=100"),
        "{e}"
    );
}
