//! End-to-end tests of `mu2e-ensemble normalizations` and `mu2e-ensemble ce-rmue`.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn cmd() -> Command {
    Command::cargo_bin("mu2e-ensemble").unwrap()
}

/// The directory of the original Mu2e tables beside the workspace; missing under CI (`CI=true`)
/// fails, elsewhere the test skips.
fn data_dir() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mu2e-ensemble");
    if p.join("heeck_finer_binning_2016_szafron.tbl").is_file() {
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

const SIMEFF: &str = "SimEfficiencies2_Sim_best_v1_1_run1430_transcription.csv";

fn json(out: &[u8]) -> serde_json::Map<String, serde_json::Value> {
    let v: serde_json::Value = serde_json::from_slice(out).expect("JSON output");
    v.as_object().expect("a JSON object").clone()
}

fn keys(m: &serde_json::Map<String, serde_json::Value>) -> Vec<String> {
    let mut k: Vec<String> = m.keys().cloned().collect();
    k.sort();
    k
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn rel(a: f64, b: f64) -> f64 {
    (a / b - 1.0).abs()
}

#[test]
fn mds_json_from_the_real_tables() {
    let Some(d) = data_dir() else { return };
    let out = cmd()
        .args([
            "normalizations",
            "--constants",
            "mds",
            "--livetime",
            "1e6",
            "--format",
            "json",
        ])
        .arg("--tables")
        .arg(&d)
        .arg("--simeff")
        .arg(d.join(SIMEFF))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    // keys in the generation's sample order, then pot
    let text = String::from_utf8(out.clone()).unwrap();
    let order: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix('"')?.split('"').next())
        .collect();
    assert_eq!(
        order,
        [
            "DIO",
            "CeMLeadingLog",
            "CePLeadingLog",
            "RPCInternal",
            "RPCExternal",
            "RMCInternal",
            "RMCExternal",
            "IPAMichel",
            "CRYCosmic",
            "CORSIKACosmic",
            "pot"
        ]
    );
    let m = json(&out);
    assert_eq!(
        keys(&m),
        sorted(&[
            "CORSIKACosmic",
            "CRYCosmic",
            "CeMLeadingLog",
            "CePLeadingLog",
            "DIO",
            "IPAMichel",
            "RMCExternal",
            "RMCInternal",
            "RPCExternal",
            "RPCInternal",
            "pot"
        ])
    );
    let npot = 1e6 / 1.695e-6 * 1.58e7;
    assert!(rel(m["pot"].as_f64().unwrap(), npot) < 1e-15);
    // DIO at the default 95 MeV: spec 7 fraction
    let dio = npot * 7.6711407768e-4 * 0.391 * 3.6370937564509995e-11;
    assert!(rel(m["DIO"].as_f64().unwrap(), dio) < 1e-12);
    // cosmics: seconds of livetime (on spill)
    assert_eq!(m["CRYCosmic"].as_f64().unwrap(), 1e6);
}

#[test]
fn mdc2018_names_and_analytic_dio_without_tables() {
    let out = cmd()
        .args([
            "normalizations",
            "--constants",
            "mdc2018",
            "--livetime",
            "31536000",
        ])
        .args(["--rue", "1e-16", "--format", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let m = json(&out);
    assert_eq!(
        keys(&m),
        sorted(&[
            "CRYCosmic",
            "CePLeadingLog",
            "CeMLeadingLog",
            "DIOLeadingLog",
            "DYBCosmic",
            "RMCexternal",
            "RMCinternal",
            "RPCexternal",
            "RPCinternal",
            "pot"
        ])
    );
    // one year: POT_per_year, CE and RPC as spec 1.1
    assert!(rel(m["pot"].as_f64().unwrap(), 1.814017699115044e20) < 1e-15);
    let ce = 1.814017699115044e20 * 0.00187 * 0.609 * 1e-16;
    assert!(rel(m["CeMLeadingLog"].as_f64().unwrap(), ce) < 1e-14);
    assert_eq!(m["RPCexternal"].as_f64().unwrap(), 1.59222825e8);
    // DIO(93 MeV) from the analytic spectrum: 1.4e-10 of the 0.391 decays (table: 1.35e-10)
    let dio = m["DIOLeadingLog"].as_f64().unwrap();
    let per_decay = dio / (1.814017699115044e20 * 0.00187 * 0.391);
    assert!((1.2e-10..1.6e-10).contains(&per_decay), "{per_decay}");
}

#[test]
fn mdc2020_compat_reproduces_the_livetime_squared_dio() {
    let Some(d) = data_dir() else { return };
    let run = |compat: bool| {
        let mut c = cmd();
        c.args([
            "normalizations",
            "--constants",
            "mdc2020",
            "--livetime",
            "2e5",
        ])
        .args(["--dio-emin", "95", "--format", "json"])
        .arg("--tables")
        .arg(&d)
        .arg("--simeff")
        .arg(d.join(SIMEFF));
        if compat {
            c.args(["--compat", "dio-livetime-squared"]);
        }
        json(&c.assert().success().get_output().stdout)
    };
    let fixed = run(false);
    let bug = run(true);
    assert_eq!(
        keys(&fixed),
        sorted(&["CRYCosmic", "CeEndpoint", "DIOTail", "IPAMichel", "pot"])
    );
    let r = bug["DIOTail"].as_f64().unwrap() / fixed["DIOTail"].as_f64().unwrap();
    assert!(rel(r, 2e5) < 1e-14, "{r}");
    assert_eq!(bug["CeEndpoint"], fixed["CeEndpoint"]);
    assert!(rel(fixed["CRYCosmic"].as_f64().unwrap(), 2e5 * 0.323) < 1e-15);
}

#[test]
fn output_file_gets_a_manifest() {
    let Some(d) = data_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("norms.json");
    cmd()
        .args([
            "normalizations",
            "--constants",
            "mds",
            "--livetime",
            "1e6",
            "--format",
            "json",
        ])
        .arg("--tables")
        .arg(&d)
        .arg("--simeff")
        .arg(d.join(SIMEFF))
        .arg("--output")
        .arg(&out)
        .assert()
        .success()
        .stdout("");
    let m = json(&std::fs::read(&out).unwrap());
    assert!(m.contains_key("RPCExternal"));
    let man = std::fs::read_to_string(tmp.path().join("norms.json.manifest.json")).unwrap();
    for f in [
        SIMEFF,
        "rpcspectrum.tbl",
        "ipa_spec_eff.tbl",
        "heeck_finer_binning_2016_szafron.tbl",
    ] {
        assert!(man.contains(f), "manifest lacks {f}");
    }
    assert!(man.contains("\"constants\": \"mds\""), "{man}");
}

#[test]
fn table_format_and_print_config() {
    let out = cmd()
        .args([
            "normalizations",
            "--constants",
            "mdc2024",
            "--livetime",
            "1e5",
            "--beam",
            "2BB",
        ])
        .args([
            "--stopped-mu-per-pot",
            "1e-3",
            "--ipa-stops-per-pot",
            "1e-8",
        ])
        .args(["--dio-emin", "90"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let pot_line = text
        .lines()
        .find(|l| l.starts_with("pot "))
        .expect("pot line");
    let pot: f64 = pot_line.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(rel(pot, 1e5 / 1.4 * 8e12) < 1e-15);
    let cry = text.lines().find(|l| l.starts_with("CRYCosmic")).unwrap();
    assert!(cry.contains("s of cosmic livetime"), "{cry}");
    let cfg = cmd()
        .args([
            "normalizations",
            "--constants",
            "mds",
            "--livetime",
            "10",
            "--print-config",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let c: toml::Table = String::from_utf8(cfg).unwrap().parse().expect("TOML");
    assert_eq!(c["constants"].as_str(), Some("mds"));
    assert_eq!(c["livetime"].as_float(), Some(10.0));
    assert_eq!(c["beam"].as_str(), Some("1BB"));
    assert_eq!(c["compat"]["ce_poisson"].as_bool(), Some(false));
}

#[test]
fn ce_rmue_inverts_the_ce_normalisation() {
    let out = cmd()
        .args([
            "ce-rmue",
            "--constants",
            "mds",
            "--livetime",
            "1e6",
            "--nsig",
            "5",
        ])
        .args([
            "--stopped-mu-per-pot",
            "7.6711407768e-4",
            "--ipa-stops-per-pot",
            "1e-8",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let rue: f64 = String::from_utf8(out).unwrap().trim().parse().unwrap();
    let want = 5.0 / (1e6 / 1.695e-6 * 1.58e7 * 7.6711407768e-4 * 0.609);
    assert!(rel(rue, want) < 1e-15, "{rue} {want}");
}

fn stderr_of(c: &mut Command) -> String {
    String::from_utf8(c.assert().failure().code(1).get_output().stderr.clone()).unwrap()
}

#[test]
fn errors_are_clear_and_located() {
    let e = stderr_of(cmd().args([
        "normalizations",
        "--constants",
        "mdc2018",
        "--livetime",
        "-5",
    ]));
    assert!(
        e.contains("error:") && e.contains("non-negative") && e.contains("-5"),
        "{e}"
    );
    let usage = cmd()
        .args([
            "normalizations",
            "--constants",
            "mdc2019",
            "--livetime",
            "5",
        ])
        .assert()
        .failure()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let e = String::from_utf8(usage).unwrap();
    assert!(e.contains("invalid value 'mdc2019'"), "{e}");
    let e = stderr_of(cmd().args(["normalizations", "--constants", "mds", "--livetime", "5"]));
    assert!(e.contains("--simeff"), "{e}");

    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope.csv");
    let e = stderr_of(
        cmd()
            .args([
                "normalizations",
                "--constants",
                "mdc2020",
                "--livetime",
                "5",
                "--simeff",
            ])
            .arg(&missing),
    );
    assert!(e.contains("nope.csv"), "{e}");

    let bad = tmp.path().join("simeff.csv");
    std::fs::write(&bad, "MuBeamCat,1,2,0.5\nMuminusStopsCat,1,2\n").unwrap();
    let e = stderr_of(
        cmd()
            .args([
                "normalizations",
                "--constants",
                "mdc2020",
                "--livetime",
                "5",
                "--simeff",
            ])
            .arg(&bad),
    );
    assert!(
        e.contains("simeff.csv:2: expected 4 comma-separated fields"),
        "{e}"
    );

    let dir = tmp.path().join("tables");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("rpcspectrum.tbl"), "0.05 1.0\n0.15 x\n").unwrap();
    let e = stderr_of(
        cmd()
            .args(["normalizations", "--livetime", "5", "--tables"])
            .arg(&dir),
    );
    assert!(e.contains("rpcspectrum.tbl:2: expected two numbers"), "{e}");

    let e = stderr_of(
        cmd()
            .args([
                "normalizations",
                "--constants",
                "mds",
                "--livetime",
                "5",
                "--compat",
            ])
            .arg("ce-poisson,nonsense"),
    );
    assert!(e.contains("unknown compat quirk 'nonsense'"), "{e}");
}

#[test]
fn dio_table_override_replaces_the_generation_table() {
    let Some(d) = data_dir() else { return };
    let run = |extra: &[&str]| {
        let mut c = cmd();
        c.args([
            "normalizations",
            "--constants",
            "mds",
            "--livetime",
            "1e6",
            "--format",
            "json",
        ])
        .arg("--tables")
        .arg(&d)
        .arg("--simeff")
        .arg(d.join(SIMEFF))
        .args(extra);
        json(&c.assert().success().get_output().stdout)
    };
    let std = run(&[]);
    let c6 = d.join("heeck_finer_binning_2016_szafron-scaled-to-6C.tbl");
    let scaled = run(&["--dio-table", c6.to_str().unwrap()]);
    let want = table_fraction(&c6, 95.0) / 3.6370937564509995e-11;
    let r = scaled["DIO"].as_f64().unwrap() / std["DIO"].as_f64().unwrap();
    assert!(rel(r, want) < 1e-12, "{r} vs {want}");
    assert_eq!(scaled["RPCExternal"], std["RPCExternal"]);
}

/// Fraction `E >= emin` of a two-column table, summed here independently of the library.
fn table_fraction(path: &Path, emin: f64) -> f64 {
    let text = std::fs::read_to_string(path).unwrap();
    let (mut all, mut cut) = (0.0, 0.0);
    for l in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut it = l.split_whitespace().map(|x| x.parse::<f64>().unwrap());
        let (e, v) = (it.next().unwrap(), it.next().unwrap());
        all += v;
        if e >= emin {
            cut += v;
        }
    }
    cut / all
}
