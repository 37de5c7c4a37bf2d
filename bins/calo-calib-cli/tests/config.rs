//! `--print-config` round trips: for each subcommand, a run with command-line options and a run
//! with only `--config` of what `--print-config` printed for the same options (plus another
//! output directory) write byte-identical files (manifests aside, which hold times and command
//! lines).

use assert_cmd::Command;
use hep_cli_support::testing;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn cmd() -> Command {
    Command::cargo_bin("calo-calib").unwrap()
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// Every file under `dir` except manifests, by path relative to `dir`, with its bytes.
fn outputs(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    testing::files_below(dir, |name| !testing::is_provenance(name))
}

/// Runs `sub args -o <tmp>/cli`, then `sub args --print-config` into `<tmp>/<sub>.toml`, then
/// `sub --config <tmp>/<sub>.toml -o <tmp>/file`, and asserts both runs wrote the same files
/// with the same bytes. Returns the printed configuration and the files.
fn round_trip(tmp: &Path, sub: &str, args: &[String]) -> (String, BTreeMap<PathBuf, Vec<u8>>) {
    let by_cli = tmp.join(format!("{sub}-cli"));
    let by_file = tmp.join(format!("{sub}-file"));
    cmd()
        .arg(sub)
        .args(args)
        .arg("-o")
        .arg(&by_cli)
        .assert()
        .success();
    let printed = cmd()
        .arg(sub)
        .args(args)
        .arg("-o")
        .arg(&by_cli)
        .arg("--print-config")
        .assert()
        .success();
    let toml_text = String::from_utf8(printed.get_output().stdout.clone()).unwrap();
    let config = tmp.join(format!("{sub}.toml"));
    std::fs::write(&config, &toml_text).unwrap();
    cmd()
        .arg(sub)
        .arg("--config")
        .arg(&config)
        .arg("-o")
        .arg(&by_file)
        .assert()
        .success();
    // Printing the configuration read back gives the same text (but the output directory).
    let reprinted = cmd()
        .arg(sub)
        .arg("--config")
        .arg(&config)
        .arg("--print-config")
        .assert()
        .success();
    assert_eq!(
        String::from_utf8(reprinted.get_output().stdout.clone()).unwrap(),
        toml_text
    );
    let a = outputs(&by_cli);
    let b = outputs(&by_file);
    assert!(!a.is_empty(), "{sub} wrote nothing");
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "{sub}: the two runs wrote different files"
    );
    for (name, bytes) in &a {
        assert!(
            bytes == &b[name],
            "{sub}: {} differs between the command-line and the --config run",
            name.display()
        );
    }
    (toml_text, a)
}

/// A small simulation: 2000 events per crystal, cosmics, seed 5.
fn simulate_args() -> Vec<String> {
    [
        "--events-per-crystal",
        "2000",
        "--gain",
        "16.5",
        "--gain-spread",
        "0.02",
        "--cosmics",
        "--cosmic-bad-fraction",
        "0.1",
        "--seed",
        "5",
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn simulate_from_printed_config_is_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let (text, files) = round_trip(tmp.path(), "simulate", &simulate_args());
    assert!(text.contains("seed = 5\n"), "{text}");
    assert!(text.contains("gain_adc_per_mev = 16.5\n"), "{text}");
    assert!(text.contains("cosmic_bad_fraction = 0.1\n"), "{text}");
    let names: Vec<String> = files.keys().map(|p| s(p)).collect();
    assert_eq!(
        names,
        ["CalCosmicEnergyCalib.txt", "spectra.csv", "truth.csv"]
    );
    // 2696 SiPMs x 120 bins plus the header.
    let spectra = String::from_utf8(files[Path::new("spectra.csv")].clone()).unwrap();
    assert_eq!(spectra.lines().count(), 2696 * 120 + 1);
}

/// Simulates into `<tmp>/sim` and returns the spectra path.
fn simulated(tmp: &Path) -> PathBuf {
    let sim = tmp.join("sim");
    cmd()
        .arg("simulate")
        .args(simulate_args())
        .arg("-o")
        .arg(&sim)
        .assert()
        .success();
    sim
}

#[test]
fn fit_from_printed_config_is_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulated(tmp.path());
    let spectra = s(&sim.join("spectra.csv"));
    // The default likelihood fit with custom starts and a selection.
    let args: Vec<String> = [
        "--input",
        &spectra,
        "--method",
        "nll",
        "--first",
        "4",
        "--last",
        "8",
        "--starts",
        "95,101",
        "--no-peak-interval",
    ]
    .map(String::from)
    .to_vec();
    let (text, files) = round_trip(tmp.path(), "fit", &args);
    assert!(
        text.contains("starts_adc = [\n    95.0,\n    101.0,\n]"),
        "{text}"
    );
    assert!(text.contains("peak_interval = false\n"), "{text}");
    assert!(
        text.contains("[fit.alpha]\nstart = 1.5\nlower = 0.1\nupper = 5.0\n"),
        "{text}"
    );
    let csv = String::from_utf8(files[Path::new("source_fits.csv")].clone()).unwrap();
    assert_eq!(csv.lines().count(), 5);
    assert!(files.contains_key(Path::new("CalSourceEnergyCalib.txt")));

    // The compat chi-square at another gain: the printed configuration holds the resolved
    // window, so the file alone reproduces it.
    let tmp2 = tmp.path().join("compat");
    std::fs::create_dir(&tmp2).unwrap();
    let args: Vec<String> = [
        "--input",
        &spectra,
        "--method",
        "chi2",
        "--compat",
        "--nominal-gain",
        "16.5",
        "--first",
        "0",
        "--last",
        "3",
        "--no-peak-interval",
    ]
    .map(String::from)
    .to_vec();
    let (text, _) = round_trip(&tmp2, "fit", &args);
    assert!(text.contains("compat = true\n"), "{text}");
    assert!(text.contains("nominal_gain = 16.5\n"), "{text}");
    // 98.08 x 16.5/16 and the compat chi-square bins 40-120 ADC x 16.5/16.
    assert!(text.contains("starts_adc = [101.145]\n"), "{text}");
    assert!(
        text.contains("fit_bins_adc = [\n    41.25,\n    123.75,\n]"),
        "{text}"
    );
    assert!(text.contains("bin_evaluation = \"centre\"\n"), "{text}");
}

#[test]
fn combine_and_plot_from_printed_config_are_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulated(tmp.path());
    let fit = tmp.path().join("fit");
    cmd()
        .args(["fit", "--first", "0", "--last", "6", "--no-peak-interval"])
        .arg("--input")
        .arg(sim.join("spectra.csv"))
        .arg("-o")
        .arg(&fit)
        .assert()
        .success();

    let args: Vec<String> = vec![
        "--source".into(),
        s(&fit.join("CalSourceEnergyCalib.txt")),
        "--cosmic".into(),
        s(&sim.join("CalCosmicEnergyCalib.txt")),
        "--cosmic-layout".into(),
        "standard".into(),
        "--compat".into(),
    ];
    let (text, files) = round_trip(tmp.path(), "combine", &args);
    assert!(text.contains("cosmic_layout = \"standard\"\n"), "{text}");
    assert!(text.contains("[combine]\n"), "{text}");
    assert!(text.contains("compat = true\n"), "{text}");
    let reco = String::from_utf8(files[Path::new("CalEnergyCalib.txt")].clone()).unwrap();
    assert_eq!(reco.lines().next(), Some("TABLE CalEnergyCalib"));
    assert_eq!(reco.lines().count(), 2721);

    let args: Vec<String> = vec![
        "--fits".into(),
        s(&fit.join("source_fits.parquet")),
        "--input".into(),
        s(&sim.join("spectra.csv")),
        "--channels".into(),
        "2,5".into(),
        "--formats".into(),
        "svg".into(),
    ];
    let (text, files) = round_trip(tmp.path(), "plot", &args);
    assert!(text.contains("channels = [\n    2,\n    5,\n]"), "{text}");
    assert!(text.contains("formats = [\"svg\"]\n"), "{text}");
    for f in [
        "channel_2.svg",
        "channel_5.svg",
        "dist_adc2mev.svg",
        // The per-disk maps, drawn on the shipped crystal positions (no --crystal-positions).
        "map_adc2mev_disk0.svg",
    ] {
        assert!(files.contains_key(Path::new(f)), "{f} missing");
    }
    assert!(!files.keys().any(|p| s(p).ends_with(".png")));
}

#[test]
fn command_line_overrides_the_file_and_unknown_keys_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("fit.toml");
    std::fs::write(
        &config,
        "input = \"a.csv\"\noutput = \"x\"\n[selection]\nfirst = 3\n[fit]\nmethod = \"chi2\"\nmin_events = 50.0\n",
    )
    .unwrap();
    let out = cmd()
        .args([
            "fit",
            "--first",
            "7",
            "--method",
            "nll",
            "-o",
            "y",
            "--print-config",
        ])
        .arg("--config")
        .arg(&config)
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        text.contains("input = \"a.csv\"\noutput = \"y\"\n"),
        "{text}"
    );
    assert!(text.contains("[selection]\nfirst = 7\n"), "{text}");
    assert!(text.contains("method = \"nll\"\n"), "{text}");
    assert!(text.contains("min_events = 50.0\n"), "{text}");

    // --nominal-gain rescales the window of the file's [fit] table and keeps its other keys.
    let out = cmd()
        .args(["fit", "--nominal-gain", "32", "--print-config"])
        .arg("--config")
        .arg(&config)
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        text.contains("peak_limits_adc = [\n    182.0,\n    216.0,\n]"),
        "{text}"
    );
    assert!(text.contains("min_events = 50.0\n"), "{text}");

    std::fs::write(&config, "[fit]\nmethd = \"chi2\"\n").unwrap();
    let out = cmd()
        .args(["fit", "--print-config", "--config"])
        .arg(&config)
        .assert()
        .failure();
    let err = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(err.contains("fit.toml") && err.contains("methd"), "{err}");

    // The defaults of the command line: simulate's seed is 1.
    let out = cmd()
        .args(["simulate", "--print-config"])
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        text.contains("[sim]\nseed = 1\nevents_per_crystal = 63000.0\n"),
        "{text}"
    );
    assert!(!text.contains("output"), "{text}");

    // Without an input anywhere, a clear error.
    let out = cmd().args(["fit", "-o", "y"]).assert().failure();
    let err = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(err.contains("give --input or set `input`"), "{err}");
}

#[test]
fn merge_and_submit_from_printed_config_are_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulated(tmp.path());
    let spectra = s(&sim.join("spectra.csv"));
    let out = tmp.path().join("sharded");
    let fit = |shard: &str| {
        cmd()
            .args(["fit", "--input", &spectra, "--first", "0", "--last", "5"])
            .args(["--no-peak-interval", "--shard", shard, "-o"])
            .arg(&out)
            .assert()
            .success();
    };
    fit("0/2");
    fit("1/2");
    cmd().arg("merge").arg("-o").arg(&out).assert().success();
    let by_cli = testing::files_in(&out);
    assert!(
        by_cli.contains_key("source_fits.csv"),
        "{:?}",
        by_cli.keys()
    );
    let printed = cmd()
        .arg("merge")
        .arg("-o")
        .arg(&out)
        .arg("--print-config")
        .assert()
        .success();
    let text = String::from_utf8(printed.get_output().stdout.clone()).unwrap();
    assert_eq!(text, format!("output = \"{}\"\n", s(&out)));
    let merge_toml = tmp.path().join("merge.toml");
    std::fs::write(&merge_toml, &text).unwrap();
    for f in by_cli.keys() {
        std::fs::remove_file(out.join(f)).unwrap();
    }
    cmd()
        .arg("merge")
        .arg("--config")
        .arg(&merge_toml)
        .assert()
        .success();
    assert!(testing::files_in(&out) == by_cli, "merge outputs differ");

    // submit: the job after -- and the Slurm options, printed, fed back alone.
    let sub = tmp.path().join("submitted");
    let job = ["fit", "--input", &spectra, "-o", &s(&sub), "--last", "5"];
    let slurm = [
        "--shards",
        "3",
        "--time",
        "00:20:00",
        "--sbatch=--qos=short",
    ];
    cmd()
        .arg("submit")
        .args(slurm)
        .arg("--")
        .args(job)
        .assert()
        .success();
    let scripts = testing::files_in(&sub.join("slurm"));
    assert_eq!(scripts.len(), 2, "{:?}", scripts.keys());
    let printed = cmd()
        .arg("submit")
        .args(slurm)
        .arg("--print-config")
        .arg("--")
        .args(job)
        .assert()
        .success();
    let text = String::from_utf8(printed.get_output().stdout.clone()).unwrap();
    assert!(
        text.starts_with("job = [\n    \"fit\",")
            && text
                .contains("[slurm]\nshards = 3\ntime = \"00:20:00\"\nsbatch = [\"--qos=short\"]\n"),
        "{text}"
    );
    std::fs::remove_dir_all(sub.join("slurm")).unwrap();
    let submit_toml = tmp.path().join("submit.toml");
    std::fs::write(&submit_toml, &text).unwrap();
    cmd()
        .arg("submit")
        .arg("--config")
        .arg(&submit_toml)
        .assert()
        .success();
    assert!(
        testing::files_in(&sub.join("slurm")) == scripts,
        "scripts differ"
    );
    // No shard count anywhere: a clear error.
    let e = cmd()
        .args(["submit", "--", "fit", "-i", "x.csv", "-o", "y"])
        .assert()
        .failure();
    let err = String::from_utf8(e.get_output().stderr.clone()).unwrap();
    assert!(err.contains("--shards"), "{err}");
}
