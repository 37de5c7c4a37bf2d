//! The fax-sim command line as a user runs it.

use assert_cmd::Command;

fn fax() -> Command {
    Command::cargo_bin("fax-sim").unwrap()
}

fn stdout(c: &mut Command) -> String {
    let out = c.assert().success().get_output().stdout.clone();
    String::from_utf8(out).unwrap()
}

#[test]
fn create_fake_simulate_plot_shard_merge() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let fake = p.join("fake.csv");
    let s = stdout(fax().args([
        "create-fake",
        "-o",
        fake.to_str().unwrap(),
        "--events",
        "12",
        "--seed",
        "3",
        "--photons",
        "20,40",
        "--electrons",
        "5,10",
    ]));
    assert!(s.contains("wrote 12 instruction rows"), "{s}");
    let text = std::fs::read_to_string(&fake).unwrap();
    assert!(text.starts_with("instruction,recoil_type,x,y,depth,s1_photons,s2_electrons,t\n"));
    assert!(p.join("fake.csv.manifest.json").is_file());
    let out = p.join("sim");
    let s = stdout(fax().args([
        "simulate",
        "-i",
        fake.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--seed",
        "4",
        "--threads",
        "2",
    ]));
    assert!(s.contains("12 events"), "{s}");
    for f in [
        "pulses.parquet",
        "truth_peaks.parquet",
        "fax_truth.csv",
        "truth_channels.parquet",
        "events.parquet",
        "pulses.parquet.manifest.json",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let png = p.join("ev.png");
    stdout(fax().args([
        "plot-event",
        "-i",
        out.to_str().unwrap(),
        "-e",
        "3",
        "-o",
        png.to_str().unwrap(),
    ]));
    assert!(png.is_file() && p.join("ev.csv").is_file());
    let svg = p.join("ch.svg");
    stdout(fax().args([
        "plot-channels",
        "-i",
        out.to_str().unwrap(),
        "-e",
        "3",
        "-o",
        svg.to_str().unwrap(),
        "--window",
        "full",
    ]));
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
    // Sharded run and merge give the same tables.
    let sh = p.join("sharded");
    for i in 0..2 {
        stdout(fax().args([
            "simulate",
            "-i",
            fake.to_str().unwrap(),
            "-o",
            sh.to_str().unwrap(),
            "--seed",
            "4",
            "--shard",
            &format!("{i}/2"),
        ]));
    }
    stdout(fax().args(["merge", "-o", sh.to_str().unwrap()]));
    for f in [
        "pulses.parquet",
        "truth_peaks.parquet",
        "fax_truth.csv",
        "truth_channels.parquet",
        "events.parquet",
    ] {
        assert_eq!(
            std::fs::read(out.join(f)).unwrap(),
            std::fs::read(sh.join(f)).unwrap(),
            "{f}"
        );
    }
    // Slurm scripts.
    let s = stdout(fax().args([
        "submit",
        "-i",
        fake.to_str().unwrap(),
        "-o",
        sh.to_str().unwrap(),
        "--shards",
        "3",
        "--max-parallel",
        "2",
        "--seed",
        "4",
    ]));
    assert!(s.contains("sbatch --parsable"), "{s}");
    let script = std::fs::read_to_string(sh.join("slurm/fax-sim-simulate.sbatch")).unwrap();
    assert!(
        script.contains("#SBATCH --array=0-2%2")
            && script.contains("--shard \"${SLURM_ARRAY_TASK_ID}/3\"")
            && script.contains("slurm/simulate.toml"),
        "{script}"
    );
    // The tasks read the resolved simulation configuration, seed included.
    let job = std::fs::read_to_string(sh.join("slurm/simulate.toml")).unwrap();
    assert!(job.contains("\nseed = 4\n"), "{job}");

    // --print-config (simulation, input, output, [slurm]) fed back alone through --config
    // writes the same scripts, byte for byte.
    let printed = stdout(fax().args([
        "submit",
        "-i",
        fake.to_str().unwrap(),
        "-o",
        sh.to_str().unwrap(),
        "--shards",
        "3",
        "--max-parallel",
        "2",
        "--seed",
        "4",
        "--print-config",
    ]));
    assert!(
        printed.contains("[slurm]") && printed.contains("max_parallel = 2"),
        "{printed}"
    );
    let scripts = |dir: &std::path::Path| hep_cli_support::testing::files_in(dir);
    let before = scripts(&sh.join("slurm"));
    std::fs::remove_dir_all(sh.join("slurm")).unwrap();
    let cfg = d.path().join("submit.toml");
    std::fs::write(&cfg, &printed).unwrap();
    stdout(fax().args(["submit", "--config", cfg.to_str().unwrap()]));
    assert!(scripts(&sh.join("slurm")) == before, "scripts differ");

    // merge, yields, plot-event and plot-channels take --config/--print-config too: the printed
    // configuration gives the same output as the options.
    let m = stdout(fax().args(["merge", "-o", sh.to_str().unwrap(), "--print-config"]));
    let mcfg = d.path().join("merge.toml");
    std::fs::write(&mcfg, &m).unwrap();
    let merged_again = stdout(fax().args(["merge", "--config", mcfg.to_str().unwrap()]));
    assert!(merged_again.contains("merged"), "{merged_again}");
    let yields_args = [
        "yields",
        "--interaction",
        "nr",
        "--energy-kev",
        "20",
        "--field-v-per-cm",
        "120",
        "--format",
        "csv",
    ];
    let direct = stdout(fax().args(yields_args));
    let ycfg = d.path().join("yields.toml");
    std::fs::write(&ycfg, stdout(fax().args(yields_args).arg("--print-config"))).unwrap();
    assert_eq!(
        stdout(fax().args(["yields", "--config", ycfg.to_str().unwrap()])),
        direct
    );
    for plot in ["plot-event", "plot-channels"] {
        let png = d.path().join(format!("{plot}.png"));
        let args = [
            plot,
            "-i",
            out.to_str().unwrap(),
            "--event",
            "1",
            "--window",
            "full",
        ];
        stdout(fax().args(args).args(["-o", png.to_str().unwrap()]));
        let pcfg = d.path().join(format!("{plot}.toml"));
        std::fs::write(
            &pcfg,
            stdout(fax().args(args).args(["-o", "x.png", "--print-config"])),
        )
        .unwrap();
        let png2 = d.path().join(format!("{plot}-2.png"));
        stdout(fax().args([
            plot,
            "-i",
            out.to_str().unwrap(),
            "-o",
            png2.to_str().unwrap(),
            "--config",
            pcfg.to_str().unwrap(),
        ]));
        assert!(
            std::fs::read(&png).unwrap() == std::fs::read(&png2).unwrap(),
            "{plot}"
        );
        assert_eq!(
            std::fs::read(png.with_extension("csv")).unwrap(),
            std::fs::read(png2.with_extension("csv")).unwrap(),
            "{plot} csv"
        );
    }
}

#[test]
fn config_printing_layering_and_compat() {
    let d = tempfile::tempdir().unwrap();
    let s = stdout(fax().args([
        "simulate",
        "-i",
        "x.csv",
        "-o",
        "y",
        "--print-config",
        "--preset",
        "x1t_2017_prod",
        "--compat",
        "adc-truncation",
    ]));
    assert!(
        s.contains("preset = \"x1t_2017_prod\"")
            && s.contains("decay_time_ns = 41.9")
            && s.contains("adc_truncation = true"),
        "{s}"
    );
    let cfg = d.path().join("c.toml");
    std::fs::write(&cfg, "[s2]\nelectron_lifetime_us = 450.0\n").unwrap();
    let s = stdout(fax().args([
        "simulate",
        "-i",
        "x.csv",
        "-o",
        "y",
        "--print-config",
        "--config",
        cfg.to_str().unwrap(),
    ]));
    assert!(s.contains("electron_lifetime_us = 450.0"), "{s}");
    let e = fax()
        .args(["simulate", "-i", "x.csv", "-o", "y", "--compat", "nonsense"])
        .assert()
        .failure()
        .get_output()
        .stderr
        .clone();
    assert!(
        String::from_utf8(e)
            .unwrap()
            .contains("unknown compat switch `nonsense`")
    );
    let s = stdout(fax().args([
        "create-fake",
        "-o",
        "z.csv",
        "--print-config",
        "--compat",
        "all",
    ]));
    assert!(
        s.contains("fv_unclipped = true") && s.contains("number_event_per_job = 100"),
        "{s}"
    );
}

#[test]
fn bad_input_fails_with_location() {
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("bad.csv");
    std::fs::write(
        &bad,
        "instruction,recoil_type,x,y,depth,s1_photons,s2_electrons,t\n0,QQ,1,2,3,1,1,0\n",
    )
    .unwrap();
    let out = d.path().join("o");
    let e = fax()
        .args([
            "simulate",
            "-i",
            bad.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
        .assert()
        .failure()
        .get_output()
        .stderr
        .clone();
    let e = String::from_utf8(e).unwrap();
    assert!(
        e.contains("bad.csv:2: expected ER, NR, alpha or LED in `recoil_type`, found `QQ`"),
        "{e}"
    );
    let e = fax()
        .args([
            "plot-event",
            "-i",
            out.to_str().unwrap(),
            "-e",
            "0",
            "-o",
            "x.png",
        ])
        .assert()
        .failure()
        .get_output()
        .stderr
        .clone();
    assert!(!String::from_utf8(e).unwrap().is_empty());
}

#[test]
fn help_names_units_and_defaults() {
    let s = stdout(fax().args(["simulate", "--help"]));
    assert!(
        s.contains("--shard") && s.contains("--compat") && s.contains("cm, ns"),
        "{s}"
    );
    let s = stdout(fax().args(["create-fake", "--help"]));
    assert!(
        s.contains("default 50,100") && s.contains("r < 40 cm"),
        "{s}"
    );
}

/// simulate as a real Slurm array plus merge gives the single-process files (skipped with a
/// reason where no Slurm runs; required under CI).
#[test]
fn slurm_array_and_merge_give_the_single_process_simulation() {
    use hep_cli_support::slurm_testing::{available, submitted_ids, wait_for};
    if !available("slurm_array_and_merge_give_the_single_process_simulation") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let fake = p.join("fake.csv");
    stdout(fax().args([
        "create-fake",
        "-o",
        fake.to_str().unwrap(),
        "--events",
        "10",
        "--seed",
        "5",
    ]));
    let single = p.join("single");
    stdout(fax().args([
        "simulate",
        "-i",
        fake.to_str().unwrap(),
        "-o",
        single.to_str().unwrap(),
        "--seed",
        "6",
    ]));
    let out = p.join("slurm");
    let printed = stdout(fax().current_dir(p).args([
        "submit",
        "-i",
        fake.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--shards",
        "3",
        "--seed",
        "6",
        "--submit",
    ]));
    eprintln!("{printed}");
    let (array, merge) = submitted_ids(&printed).expect("job ids printed");
    let timeout = std::time::Duration::from_secs(300);
    let states = wait_for(&array, timeout);
    assert!(
        states.iter().all(|s| s == "COMPLETED"),
        "array {array}: {states:?}"
    );
    assert_eq!(wait_for(&merge, timeout), ["COMPLETED"], "merge {merge}");
    for f in [
        "pulses.parquet",
        "truth_peaks.parquet",
        "fax_truth.csv",
        "truth_channels.parquet",
        "events.parquet",
    ] {
        assert!(
            std::fs::read(single.join(f)).unwrap() == std::fs::read(out.join(f)).unwrap(),
            "{f} differs"
        );
    }
}

#[test]
fn process_simulated_output_and_locate_bad_input() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let fake = p.join("fake.csv");
    stdout(fax().args([
        "create-fake",
        "-o",
        fake.to_str().unwrap(),
        "--events",
        "20",
        "--seed",
        "1",
    ]));
    let sim = p.join("sim");
    stdout(fax().args([
        "simulate",
        "-i",
        fake.to_str().unwrap(),
        "-o",
        sim.to_str().unwrap(),
        "--seed",
        "1",
    ]));
    let out = p.join("proc");
    let s = stdout(fax().args([
        "process",
        "--input",
        sim.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--threads",
        "2",
    ]));
    assert!(s.starts_with("20 events: "), "{s}");
    for t in [
        "Fundamentals",
        "Basics",
        "LargestPeakProperties",
        "Corrections",
    ] {
        for ext in ["parquet", "csv"] {
            let f = out.join(format!("{t}.{ext}"));
            assert!(f.is_file(), "{}", f.display());
            assert!(out.join(format!("{t}.{ext}.manifest.json")).is_file());
        }
    }
    for f in ["peaks.parquet", "interactions.parquet"] {
        assert!(out.join(f).is_file() && out.join(format!("{f}.manifest.json")).is_file());
    }
    let basics = std::fs::read_to_string(out.join("Basics.csv")).unwrap();
    assert!(
        basics.starts_with("run_number,event_number,s1,s2,"),
        "{basics}"
    );
    assert_eq!(basics.lines().count(), 21);
    // A configuration file, overridden by the command line, and --print-config.
    let cfg = p.join("process.toml");
    std::fs::write(
        &cfg,
        "pax_version = \"v6.8\"\n[interactions]\nelectron_lifetime_us = 450.0\n",
    )
    .unwrap();
    let printed = stdout(fax().args([
        "process",
        "-i",
        sim.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
        "--pax-version",
        "v6.10",
        "--print-config",
    ]));
    assert!(printed.contains("pax_version = \"v6.10\""), "{printed}");
    assert!(
        printed.contains("electron_lifetime_us = 450.0"),
        "{printed}"
    );
    let out68 = p.join("proc68");
    stdout(fax().args([
        "process",
        "-i",
        sim.to_str().unwrap(),
        "-o",
        out68.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
    ]));
    assert!(out68.join("Corrections.csv").is_file());
    // Malformed input: an events table without n_samples gives a located error and no output.
    let bad = p.join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::copy(sim.join("pulses.parquet"), bad.join("pulses.parquet")).unwrap();
    std::fs::copy(sim.join("pulses.parquet"), bad.join("events.parquet")).unwrap();
    let bad_out = p.join("bad_out");
    let e = fax()
        .args([
            "process",
            "-i",
            bad.to_str().unwrap(),
            "-o",
            bad_out.to_str().unwrap(),
        ])
        .assert()
        .failure()
        .get_output()
        .stderr
        .clone();
    let e = String::from_utf8(e).unwrap();
    assert!(
        e.contains("events.parquet:1: expected an Int64 column `n_samples`"),
        "{e}"
    );
    assert!(!bad_out.exists() || std::fs::read_dir(&bad_out).unwrap().next().is_none());
    // A text file where a Parquet table should be: the error names it.
    std::fs::write(bad.join("events.parquet"), "not parquet\n").unwrap();
    let e = fax()
        .args([
            "process",
            "-i",
            bad.to_str().unwrap(),
            "-o",
            bad_out.to_str().unwrap(),
        ])
        .assert()
        .failure()
        .get_output()
        .stderr
        .clone();
    assert!(String::from_utf8(e).unwrap().contains("events.parquet"));
    // An unknown version is refused.
    fax()
        .args([
            "process",
            "-i",
            sim.to_str().unwrap(),
            "-o",
            bad_out.to_str().unwrap(),
            "--pax-version",
            "v7",
        ])
        .assert()
        .failure();
}
