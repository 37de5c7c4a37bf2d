//! `fax-sim yields`: NEST mean quanta of one deposit, as JSON and CSV.

use assert_cmd::Command;

fn fax() -> Command {
    Command::cargo_bin("fax-sim").unwrap()
}

fn run(args: &[&str]) -> String {
    let out = fax()
        .args(args)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).unwrap()
}

const BETA_10_KEV: [&str; 7] = [
    "yields",
    "--interaction",
    "beta",
    "--energy-kev",
    "10",
    "--field-v-per-cm",
    "120",
];

#[test]
fn json_and_csv_give_nestpy_yields() {
    // nestpy 2.1.3: GetYields(beta, 10 keV, 2.862 g/cm3, 120 V/cm) (tests/data/nest_yields.csv
    // of fax-sim).
    let (photons, electrons) = (474.9602351626777, 262.9520076801715);
    let v: serde_json::Value = serde_json::from_str(&run(&BETA_10_KEV)).unwrap();
    assert_eq!(v["interaction"], "beta");
    assert_eq!(v["density_g_per_cm3"], 2.862);
    let rel = |a: f64, b: f64| (a - b).abs() / b;
    assert!(
        rel(v["photon_yield"].as_f64().unwrap(), photons) < 1e-6,
        "{v}"
    );
    assert!(
        rel(v["electron_yield"].as_f64().unwrap(), electrons) < 1e-6,
        "{v}"
    );
    assert_eq!(v["lindhard"], 1.0);
    assert!(v["nest_version"].as_str().unwrap().starts_with("v2."));

    let mut args = BETA_10_KEV.to_vec();
    args.extend(["--density", "2.862", "--format", "csv"]);
    let text = run(&args);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let header: Vec<&str> = lines[0].split(',').collect();
    let row: Vec<&str> = lines[1].split(',').collect();
    let get = |name: &str| row[header.iter().position(|h| *h == name).unwrap()];
    assert_eq!(get("interaction"), "beta");
    assert!(rel(get("photon_yield").parse().unwrap(), photons) < 1e-6);
    assert!(rel(get("electron_yield").parse().unwrap(), electrons) < 1e-6);
    assert!(get("exciton_ratio").parse::<f64>().unwrap() > 0.0);
}

#[test]
fn out_of_domain_input_is_an_error() {
    for args in [
        vec![
            "yields",
            "--interaction",
            "nr",
            "--energy-kev",
            "-1",
            "--field-v-per-cm",
            "100",
        ],
        vec![
            "yields",
            "--interaction",
            "nr",
            "--energy-kev",
            "5",
            "--field-v-per-cm",
            "100",
            "--density",
            "0",
        ],
        vec![
            "yields",
            "--interaction",
            "alpha",
            "--energy-kev",
            "5",
            "--field-v-per-cm",
            "100",
        ],
        vec![
            "yields",
            "--interaction",
            "kr83m",
            "--energy-kev",
            "20",
            "--field-v-per-cm",
            "100",
        ],
        vec![
            "yields",
            "--interaction",
            "nr",
            "--energy-kev",
            "5",
            "--field-v-per-cm",
            "100",
            "--format",
            "xml",
        ],
    ] {
        let out = fax()
            .args(&args)
            .assert()
            .failure()
            .get_output()
            .stderr
            .clone();
        let err = String::from_utf8(out).unwrap();
        assert!(err.starts_with("error:"), "{args:?}: {err}");
    }
}
