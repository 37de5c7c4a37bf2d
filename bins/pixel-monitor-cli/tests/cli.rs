//! The command line as a user runs it: simulate, the whole chain, single subcommands, shards and
//! their merge, the Slurm scripts, configuration files, --print-config and error messages.

use std::path::Path;

use assert_cmd::Command;

fn pm() -> Command {
    Command::cargo_bin("pixel-monitor").unwrap()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn simulate(dir: &Path) {
    let out = pm()
        .args([
            "simulate",
            "--small",
            "--days",
            "2",
            "--dcs-format",
            "parquet",
            "-o",
        ])
        .arg(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("fills"), "{}", stdout(&out));
    for f in [
        "fills.json",
        "lumi_byls.csv",
        "caen.parquet",
        "plc.parquet",
        "hv.parquet",
        "fluka_usrbin_ascii.txt",
    ] {
        assert!(dir.join(f).is_file(), "{f}");
        assert!(
            dir.join(format!("{f}.manifest.json")).is_file(),
            "{f} manifest"
        );
    }
}

#[test]
fn simulate_then_run_the_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = tmp.path().join("sim");
    simulate(&sim);
    let run = tmp.path().join("run");
    let out = pm()
        .args(["run", "--simulated"])
        .arg(&sim)
        .arg("-o")
        .arg(&run)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("hamburg:") && text.contains("profile: 128 readout groups"),
        "{text}"
    );
    let data = run.join("data");
    assert!(data.join("fills_info/fills.csv").is_file());
    assert!(
        data.join("luminosity/integrated_luminosity_per_fill.csv")
            .is_file()
    );
    let processed: Vec<_> = std::fs::read_dir(data.join("currents/processed"))
        .unwrap()
        .collect();
    assert!(processed.len() > 6);
    assert!(
        data.join("radiation_simulation/profiles/BPix_BmI_SEC1_LYR1")
            .is_dir()
    );
    assert!(
        run.join("plots/hamburg/leakage_current_vs_hamburg_model.png")
            .is_file()
    );
    assert!(
        run.join("plots/hamburg/leakage_current_vs_hamburg_model.csv")
            .is_file()
    );
    // Every file has its manifest.
    let fills_manifest =
        std::fs::read_to_string(data.join("fills_info/fills.csv.manifest.json")).unwrap();
    assert!(fills_manifest.contains("\"tool\": \"pixel-monitor\""));
}

#[test]
fn single_subcommands_shards_and_slurm() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = tmp.path().join("sim");
    simulate(&sim);
    let d = tmp.path();
    // fills from the OMS export, with a config file.
    let cfg = d.join("fills.toml");
    std::fs::write(
        &cfg,
        format!(
            "input = \"{}\"\noutput_dir = \"{}\"\n",
            sim.join("fills.json").display(),
            d.join("fi").display()
        ),
    )
    .unwrap();
    let out = pm().args(["fills", "--config"]).arg(&cfg).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("kept"));
    let fills = d.join("fi/fills.csv");
    assert!(
        std::fs::read_to_string(&fills)
            .unwrap()
            .starts_with("fill_number,start_stable_beam,end_stable_beam\n")
    );
    // lumi with the lexicographic compat switch named.
    let out = pm()
        .args(["lumi", "--compat", "lexicographic_fills", "-i"])
        .arg(sim.join("lumi_byrun.csv"))
        .arg("-o")
        .arg(d.join("lumi"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("string order"));
    // The field, then the fluence at a point.
    let out = pm()
        .args(["fluence-field", "--no-texts", "--no-plots", "-i"])
        .arg(sim.join("fluka_usrbin_ascii.txt"))
        .arg("-o")
        .arg(d.join("fluence"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let field = d.join("fluence/fluence_field_phase1_6500GeV.parquet");
    let out = pm()
        .args(["fluence", "-r", "2.9", "-z", "0", "-f"])
        .arg(&field)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("Fluence at r = 2.9 cm and z = 0 cm:\n0.0"),
        "{}",
        stdout(&out)
    );

    // The profile of two readout groups in two shards, merged.
    let prof = d.join("prof.toml");
    std::fs::write(
        &prof,
        format!(
            "fills = \"{}\"\nlumi = \"{}\"\ncaen = \"{}\"\nplc = \"{}\"\nhv = \"{}\"\nfield = \"{}\"\nreadout_groups = [\"BPix_BmI_SEC1_LYR1\", \"BPix_BpO_SEC8_LYR4\"]\noutput_dir = \"{}\"\nplots_for = []\n",
            fills.display(),
            sim.join("lumi_byls.csv").display(),
            sim.join("caen.parquet").display(),
            sim.join("plc.parquet").display(),
            sim.join("hv.parquet").display(),
            field.display(),
            d.join("profiles").display()
        ),
    )
    .unwrap();
    for s in ["0/2", "1/2"] {
        let out = pm()
            .args(["profile", "--config"])
            .arg(&prof)
            .args(["--shard", s])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            stdout(&out).contains(&format!("(shard {s})")),
            "{}",
            stdout(&out)
        );
    }
    let out = pm()
        .args(["merge", "--config"])
        .arg(&prof)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let merged: Vec<_> = std::fs::read_dir(d.join("profiles"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        merged
            .iter()
            .any(|n| n.starts_with("profile_") && n.ends_with(".parquet")),
        "{merged:?}"
    );
    assert!(merged.contains(&"BPix_BpO_SEC8_LYR4".to_string()));
    // A merge with another configuration is refused.
    let out = pm()
        .args(["merge", "--config"])
        .arg(&prof)
        .args(["--current-max-h", "1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("another configuration"),
        "{}",
        stderr(&out)
    );

    // Slurm scripts.
    let out = pm()
        .args(["submit", "--config"])
        .arg(&prof)
        .args(["--shards", "2", "--time", "01:00:00"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("sbatch --parsable"),
        "{}",
        stdout(&out)
    );
    let script =
        std::fs::read_to_string(d.join("profiles/slurm/pixel-monitor-profile.sbatch")).unwrap();
    assert!(
        script.contains("#SBATCH --array=0-1") && script.contains("profile --config"),
        "{script}"
    );
    // --print-config shows the job with its [slurm] table; fed back alone through --config it
    // writes the same scripts, byte for byte.
    let printed = pm()
        .args(["submit", "--config"])
        .arg(&prof)
        .args(["--shards", "2", "--time", "01:00:00", "--print-config"])
        .output()
        .unwrap();
    assert!(printed.status.success(), "{}", stderr(&printed));
    let text = stdout(&printed);
    assert!(
        text.contains("[slurm]")
            && text.contains("shards = 2")
            && text.contains("time = \"01:00:00\""),
        "{text}"
    );
    let slurm_dir = d.join("profiles/slurm");
    let scripts = |dir: &std::path::Path| hep_cli_support::testing::files_in(dir);
    let before = scripts(&slurm_dir);
    assert_eq!(before.len(), 3, "array, merge and the job's configuration");
    std::fs::remove_dir_all(&slurm_dir).unwrap();
    let submit_toml = d.join("submit.toml");
    std::fs::write(&submit_toml, &text).unwrap();
    let out = pm()
        .args(["submit", "--config"])
        .arg(&submit_toml)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(scripts(&slurm_dir) == before, "scripts differ");

    // merge-profiles of the two text profiles as fragments.
    let frag = d.join("frag");
    std::fs::create_dir_all(&frag).unwrap();
    for rog in ["BPix_BmI_SEC1_LYR1"] {
        let dir = d.join("profiles").join(rog);
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "txt") {
                std::fs::copy(&p, frag.join(p.file_name().unwrap())).unwrap();
            }
        }
    }
    let out = pm()
        .args(["merge-profiles", "--method", "gap_filling", "-i"])
        .arg(&frag)
        .arg("-o")
        .arg(d.join("merged.txt"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        std::fs::read_to_string(d.join("merged.txt"))
            .unwrap()
            .starts_with("Fill\tTimestamp [s]")
    );
}

#[test]
fn print_config_and_errors() {
    let out = pm()
        .args([
            "profile",
            "--print-config",
            "--first-fill",
            "8000",
            "--compat",
            "local_time",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for want in [
        "first_fill = 8000",
        "fill_delay_s = 1200",
        "local_time = true",
        "current_label = false",
        "naive_time_zone = \"UTC\"",
    ] {
        assert!(text.contains(want), "{want} in {text}");
    }
    // An unknown compatibility switch names the known ones.
    let out = pm()
        .args(["lumi", "--compat", "local_tim", "-i", "x.csv"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("local_tim") && stderr(&out).contains("boltzmann_2010"),
        "{}",
        stderr(&out)
    );
    // A misspelt key in a configuration file.
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("c.toml");
    std::fs::write(&cfg, "fill_dealy_s = 10\n").unwrap();
    let out = pm()
        .args(["profile", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("fill_dealy_s"), "{}", stderr(&out));
    // A bad input line is located.
    let bad = tmp.path().join("fills.csv");
    std::fs::write(
        &bad,
        "fill_number,start_stable_beam,end_stable_beam\n8000,2022-08-01 10:00:00,never\n",
    )
    .unwrap();
    let out = pm()
        .args(["fills", "-i"])
        .arg(&bad)
        .arg("-o")
        .arg(tmp.path().join("o"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("fills.csv:2:") && stderr(&out).contains("never"),
        "{}",
        stderr(&out)
    );
    assert!(!tmp.path().join("o").exists());
    // Help texts give units and defaults.
    let out = pm().args(["profile", "--help"]).output().unwrap();
    let help = stdout(&out);
    assert!(
        help.contains("(s, default 1200)") && help.contains("--shard"),
        "{help}"
    );
}

/// Files below `dir` (relative paths), without manifests and the Slurm and shard directories.
fn outputs(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                if name != "slurm" && name != "shards" {
                    stack.push(p);
                }
            } else if !name.ends_with(".manifest.json") && !name.ends_with(".log") {
                files.push(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    files.sort();
    files
}

/// Under CI (real single-node Slurm started by `.ci/run`): `submit --submit` runs the profile as
/// an array of three tasks and the merge after them; the merged text and Parquet profiles are
/// byte-identical to the single-process profile.
#[test]
fn slurm_array_and_merge_give_the_single_process_profile() {
    use hep_cli_support::slurm_testing::{available, submitted_ids, wait_for};
    if !available("slurm_array_and_merge_give_the_single_process_profile") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let sim = d.join("sim");
    simulate(&sim);
    let out = pm()
        .args(["fluence-field", "--no-texts", "--no-plots", "-i"])
        .arg(sim.join("fluka_usrbin_ascii.txt"))
        .arg("-o")
        .arg(d.join("fluence"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let fills = d.join("fi");
    let out = pm()
        .args(["fills", "-i"])
        .arg(sim.join("fills.json"))
        .arg("-o")
        .arg(&fills)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let config = |name: &str| {
        let path = d.join(format!("{name}.toml"));
        std::fs::write(
            &path,
            format!(
                "fills = \"{}\"\nlumi = \"{}\"\ncaen = \"{}\"\nplc = \"{}\"\nhv = \"{}\"\nfield = \"{}\"\nreadout_groups = [\"BPix_BmI_SEC1_LYR1\", \"BPix_BpO_SEC8_LYR4\", \"BPix_BpI_SEC4_LYR2\"]\noutput_dir = \"{}\"\nplots_for = []\n",
                fills.join("fills.csv").display(),
                sim.join("lumi_byls.csv").display(),
                sim.join("caen.parquet").display(),
                sim.join("plc.parquet").display(),
                sim.join("hv.parquet").display(),
                d.join("fluence/fluence_field_phase1_6500GeV.parquet").display(),
                d.join(name).display()
            ),
        )
        .unwrap();
        path
    };
    let single = config("single");
    let out = pm()
        .args(["profile", "--config"])
        .arg(&single)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let sharded = config("sharded");
    let out = pm()
        .current_dir(d)
        .args(["submit", "--config"])
        .arg(&sharded)
        .args(["--shards", "3", "--submit"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    let (array, merge) = submitted_ids(&printed).expect("job ids printed");
    let timeout = std::time::Duration::from_secs(300);
    let states = wait_for(&array, timeout);
    assert!(
        states.iter().all(|s| s == "COMPLETED"),
        "array {array}: {states:?}"
    );
    assert_eq!(wait_for(&merge, timeout), ["COMPLETED"], "merge {merge}");
    let a = outputs(&d.join("single"));
    let b = outputs(&d.join("sharded"));
    assert_eq!(a, b);
    assert!(
        a.iter()
            .any(|p| p.extension().is_some_and(|x| x == "parquet")),
        "{a:?}"
    );
    assert!(a.len() >= 4, "{a:?}");
    for f in &a {
        assert!(
            std::fs::read(d.join("single").join(f)).unwrap()
                == std::fs::read(d.join("sharded").join(f)).unwrap(),
            "{} differs",
            f.display()
        );
    }
}

/// A simulated period too short to hold a fill is a valid (beamless) simulation, not a panic.
#[test]
fn a_simulated_day_without_fills_has_no_beam() {
    let d = tempfile::tempdir().unwrap();
    let out = pm()
        .args(["simulate", "--small", "--days", "1", "-o"])
        .arg(d.path().join("t"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("0 fills, 0.00 fb^-1 delivered"),
        "{}",
        stdout(&out)
    );
}
