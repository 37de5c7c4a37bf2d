//! End-to-end tests of the `calo-calib` command line.

use assert_cmd::Command;
use std::path::Path;

fn cmd() -> Command {
    Command::cargo_bin("calo-calib").unwrap()
}

fn simulate(dir: &Path) {
    cmd()
        .args([
            "simulate",
            "--events-per-crystal",
            "20000",
            "--cosmics",
            "--seed",
            "7",
            "-o",
        ])
        .arg(dir)
        .assert()
        .success();
}

#[test]
fn simulate_fit_plot_combine_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = tmp.path().join("sim");
    simulate(&sim);
    for f in ["spectra.csv", "truth.csv", "CalCosmicEnergyCalib.txt"] {
        assert!(sim.join(f).is_file(), "{f}");
        assert!(
            sim.join(format!("{f}.manifest.json")).is_file(),
            "{f} manifest"
        );
    }
    let fit = tmp.path().join("fit");
    let out = cmd()
        .args([
            "fit",
            "--method",
            "nll",
            "--first",
            "0",
            "--last",
            "6",
            "--no-peak-interval",
        ])
        .arg("--input")
        .arg(sim.join("spectra.csv"))
        .arg("--output")
        .arg(&fit)
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(text.contains("fitted 6 channels"), "{text}");
    assert!(text.contains("6 usable"), "{text}");
    let table = std::fs::read_to_string(fit.join("CalSourceEnergyCalib.txt")).unwrap();
    assert_eq!(table.lines().next(), Some("TABLE CalSourceEnergyCalib"));
    assert_eq!(table.lines().count(), 2721);
    let csv = std::fs::read_to_string(fit.join("source_fits.csv")).unwrap();
    assert_eq!(csv.lines().count(), 7);
    assert!(csv.starts_with("roid,n_events,peak,peak_err,peak_err_low,peak_err_high,width"));

    let plots = tmp.path().join("plots");
    cmd()
        .args(["plot", "--channels", "2", "--formats", "png"])
        .arg("--fits")
        .arg(fit.join("source_fits.parquet"))
        .arg("--input")
        .arg(sim.join("spectra.csv"))
        .arg("-o")
        .arg(&plots)
        .assert()
        .success();
    assert!(plots.join("channel_2.png").is_file());
    assert!(plots.join("dist_adc2mev.png").is_file());

    let comb = tmp.path().join("comb");
    let out = cmd()
        .arg("combine")
        .arg("--source")
        .arg(fit.join("CalSourceEnergyCalib.txt"))
        .arg("--cosmic")
        .arg(sim.join("CalCosmicEnergyCalib.txt"))
        .arg("-o")
        .arg(&comb)
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(text.contains("combined 2720 channels"), "{text}");
    let reco = std::fs::read_to_string(comb.join("CalEnergyCalib.txt")).unwrap();
    assert_eq!(reco.lines().next(), Some("TABLE CalEnergyCalib"));
    assert_eq!(reco.lines().count(), 2721);
}

#[test]
fn same_seed_gives_identical_outputs_at_one_and_two_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = tmp.path().join("sim");
    simulate(&sim);
    let mut outputs = Vec::new();
    for threads in ["1", "2"] {
        let dir = tmp.path().join(format!("fit{threads}"));
        cmd()
            .env("RAYON_NUM_THREADS", threads)
            .args(["fit", "--first", "10", "--last", "14", "--no-peak-interval"])
            .arg("--input")
            .arg(sim.join("spectra.csv"))
            .arg("-o")
            .arg(&dir)
            .assert()
            .success();
        outputs.push(
            [
                "source_fits.csv",
                "source_fits.parquet",
                "CalSourceEnergyCalib.txt",
            ]
            .map(|f| std::fs::read(dir.join(f)).unwrap()),
        );
    }
    assert!(
        outputs[0] == outputs[1],
        "outputs differ between 1 and 2 threads"
    );
}

#[test]
fn bad_input_gives_a_located_error_and_no_output() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        ("missing column", "roid,bin_low,counts\n0,0,1\n", "bin_high"),
        (
            "negative counts",
            "roid,bin_low,bin_high,counts\n0,0,1,5\n0,1,2,-3\n",
            ":3:",
        ),
        (
            "NaN counts",
            "roid,bin_low,bin_high,counts\n0,0,1,NaN\n",
            ":2:",
        ),
        (
            "gap in bins",
            "roid,bin_low,bin_high,counts\n0,0,1,5\n0,2,3,5\n",
            ":3:",
        ),
        (
            "unknown id",
            "roid,bin_low,bin_high,counts\n9999,0,1,5\n",
            ":2:",
        ),
        (
            "truncated file",
            "roid,bin_low,bin_high,counts\n0,0,1,5\n0,1,2",
            ":3:",
        ),
    ];
    for (what, text, location) in cases {
        let input = tmp.path().join("spectra.csv");
        std::fs::write(&input, text).unwrap();
        let out_dir = tmp.path().join(format!("out-{}", what.replace(' ', "-")));
        let out = cmd()
            .arg("fit")
            .arg("--input")
            .arg(&input)
            .arg("-o")
            .arg(&out_dir)
            .assert()
            .failure();
        let err = String::from_utf8(out.get_output().stderr.clone()).unwrap();
        assert!(err.starts_with("error: "), "{what}: {err}");
        assert!(
            err.contains("spectra.csv") && err.contains(location),
            "{what}: {err}"
        );
        assert!(!err.contains("Stack backtrace"), "{what}: {err}");
        assert!(
            !out_dir.join("source_fits.csv").exists(),
            "{what}: output written"
        );
    }
}

/// Reliability defect 3 (physics values unchecked): `combine --nominal` copied any number into
/// CalEnergyCalib.txt; a nominal constant outside (0, 10] MeV/ADC is now refused with its line
/// and nothing is written.
#[test]
fn hostile_values_nominal_constants_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = tmp.path().join("sim");
    simulate(&sim);
    for (k, bad) in ["-5", "0", "1e308", "nan"].into_iter().enumerate() {
        let nominal = tmp.path().join("nominal.txt");
        std::fs::write(
            &nominal,
            format!("TABLE CalEnergyCalib\n0,0.0625\n1,{bad}\n2,0.0625\n"),
        )
        .unwrap();
        let out_dir = tmp.path().join(format!("reco{k}"));
        let out = cmd()
            .arg("combine")
            .arg("--cosmic")
            .arg(sim.join("CalCosmicEnergyCalib.txt"))
            .arg("--nominal")
            .arg(&nominal)
            .arg("-o")
            .arg(&out_dir)
            .assert()
            .failure();
        let err = String::from_utf8(out.get_output().stderr.clone()).unwrap();
        assert!(
            err.contains("nominal.txt:3: expected a nominal adc2mev in (0, 10] MeV/ADC"),
            "{bad}: {err}"
        );
        assert!(!out_dir.join("CalEnergyCalib.txt").exists(), "{bad}");
    }
}

/// Reliability defect 2 (corrupted Parquet undetected): 16 flipped bytes in a spectra file are a
/// clear error naming the file (through its manifest), never a fit on altered counts.
#[test]
fn corrupted_parquet_spectra_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = tmp.path().join("sim");
    cmd()
        .args([
            "simulate",
            "--events-per-crystal",
            "3000",
            "--format",
            "parquet",
            "-o",
        ])
        .arg(&sim)
        .assert()
        .success();
    let spectra = sim.join("spectra.parquet");
    let good = std::fs::read(&spectra).unwrap();
    for trial in 0..8u64 {
        let mut bad = good.clone();
        // A deterministic spread of 16 positions per trial.
        for k in 0..16u64 {
            let i = ((trial * 7919 + k * 104_729) as usize * 31) % bad.len();
            bad[i] ^= 0x5a;
        }
        std::fs::write(&spectra, &bad).unwrap();
        let out_dir = tmp.path().join(format!("fit{trial}"));
        let out = cmd()
            .args(["fit", "-i"])
            .arg(&spectra)
            .arg("-o")
            .arg(&out_dir)
            .assert()
            .failure();
        let err = String::from_utf8(out.get_output().stderr.clone()).unwrap();
        assert!(
            err.contains("spectra.parquet") && err.contains("does not match its manifest"),
            "trial {trial}: {err}"
        );
        assert!(!out_dir.join("source_fits.parquet").exists());
    }
}

/// Reliability defect 7 (exit codes): `fit --starts NaN` exited 0 with every channel failed;
/// start values outside the peak limits are refused before anything is written.
#[test]
fn exit_codes_fit_with_unusable_starts_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = tmp.path().join("sim");
    simulate(&sim);
    for bad in ["NaN", "1e9", "-5"] {
        let out_dir = tmp.path().join(format!("fit-{bad}"));
        let out = cmd()
            .args(["fit", "-i"])
            .arg(sim.join("spectra.csv"))
            .args([
                "--first",
                "0",
                "--last",
                "4",
                &format!("--starts={bad}"),
                "-o",
            ])
            .arg(&out_dir)
            .assert()
            .failure();
        let err = String::from_utf8(out.get_output().stderr.clone()).unwrap();
        assert!(err.contains("start positions of the peak"), "{bad}: {err}");
        assert!(!out_dir.join("source_fits.csv").exists(), "{bad}");
    }
}

/// Reliability defect 9 (inputs checked before outputs): `simulate --cosmics
/// --cosmic-bad-fraction 2` wrote spectra.csv before refusing the fraction; now nothing is
/// written. A non-UTF-8 output directory no longer fails at the manifest.
#[test]
fn inputs_checked_before_outputs_are_written() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("sim");
    let out = cmd()
        .args([
            "simulate",
            "--events-per-crystal",
            "2000",
            "--cosmics",
            "--cosmic-bad-fraction",
            "2",
            "-o",
        ])
        .arg(&out_dir)
        .assert()
        .failure();
    let err = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(err.contains("fraction"), "{err}");
    assert!(!out_dir.exists(), "nothing written");

    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let odd = tmp
            .path()
            .join(std::ffi::OsStr::from_bytes(b"sim-\xff\xfe"));
        cmd()
            .args(["simulate", "--events-per-crystal", "2000", "-o"])
            .arg(&odd)
            .assert()
            .success();
        let manifest = std::fs::read_to_string(odd.join("truth.csv.manifest.json")).unwrap();
        assert!(manifest.contains("sim-\u{fffd}\u{fffd}"), "{manifest}");
    }
}
