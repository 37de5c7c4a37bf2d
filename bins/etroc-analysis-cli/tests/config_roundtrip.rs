//! `--print-config` reproduces a run: `simulate`, `run-beam`, `process-txt`, `twc`,
//! `resolution` and `cut` are run with options, their `--print-config`
//! (same options) is saved, and a second run with `--config` only (and another output
//! directory) must write the same bytes. Also: plots are PNG by default, SVG only on request and
//! then only for the line plots.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn bin(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("etroc-analysis").unwrap();
    c.current_dir(dir);
    c
}

fn run_ok(dir: &Path, args: &[&str]) -> String {
    let out = bin(dir).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `args` with `--print-config` appended and saves the TOML as `name`.
fn save_config(dir: &Path, args: &[&str], name: &str) -> PathBuf {
    let mut a = args.to_vec();
    a.push("--print-config");
    let toml = run_ok(dir, &a);
    assert!(!toml.is_empty());
    let p = dir.join(name);
    std::fs::write(&p, toml).unwrap();
    p
}

/// Every file below `root` (relative path -> bytes), without the provenance files, which hold
/// times and absolute paths.
fn tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                // Provenance: manifests, and run_info.txt with the run's creation time.
                if name.ends_with(".manifest.json")
                    || name == "task_manifest.json"
                    || name == "run_info.txt"
                {
                    continue;
                }
                out.insert(
                    p.strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn assert_same_tree(a: &Path, b: &Path) {
    let ta = tree(a);
    let tb = tree(b);
    assert!(!ta.is_empty(), "{} is empty", a.display());
    assert_eq!(
        ta.keys().collect::<Vec<_>>(),
        tb.keys().collect::<Vec<_>>(),
        "the same files"
    );
    for (k, v) in &ta {
        assert!(v == &tb[k], "{} differs", k.display());
    }
}

/// `text` without white space and trailing commas in arrays (TOML arrays print on several lines).
fn squash(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .replace(",]", "]")
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_tree(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

const TXT: &str = "sim/F5P5_F17P5_B2P5_Synth_seed7.txt";

fn simulate_small(d: &Path) {
    run_ok(
        d,
        &[
            "simulate", "beam", "-o", "sim", "--seed", "7", "--events", "1500",
        ],
    );
}

#[test]
fn simulate_beam_from_its_printed_config() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let args = [
        "simulate",
        "beam",
        "-o",
        "A",
        "--seed",
        "11",
        "--events",
        "800",
        "--stray-hits",
        "5",
    ];
    run_ok(d, &args);
    let cfg = save_config(d, &args, "sim.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.contains("seed = 11"), "{text}");
    assert!(text.contains("events = 800"), "{text}");
    run_ok(d, &["simulate", "--config", "sim.toml", "-o", "B"]);
    assert!(d.join("B/F5P5_F17P5_B2P5_Synth_seed11.txt").is_file());
    assert_same_tree(&d.join("A"), &d.join("B"));
    // The file alone reproduces the first run's directory name too.
    std::fs::remove_dir_all(d.join("A")).unwrap();
    run_ok(d, &["simulate", "--config", "sim.toml"]);
    assert_same_tree(&d.join("A"), &d.join("B"));
}

#[test]
fn run_beam_from_its_printed_config() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    simulate_small(d);
    // The run name is in the plot titles and tables, so both runs are named RUN, in A/ and B/.
    let args = [
        "run-beam",
        "--file",
        TXT,
        "-o",
        "A/RUN",
        "-i",
        "2",
        "-p",
        "3",
        "--ols",
        "--fbin",
        "median",
        "--copy-input",
    ];
    run_ok(d, &args);
    save_config(d, &args, "beam.toml");
    let text = std::fs::read_to_string(d.join("beam.toml")).unwrap();
    for key in [
        "file = \"sim/F5P5_F17P5_B2P5_Synth_seed7.txt\"",
        "fbin = \"median\"",
        "method = \"ols\"",
        "iterations = 2",
        "order = 3",
        "copy_input = true",
    ] {
        assert!(text.contains(key), "{key}: {text}");
    }
    run_ok(d, &["run-beam", "--config", "beam.toml", "-o", "B/RUN"]);
    assert_same_tree(&d.join("A/RUN"), &d.join("B/RUN"));
    assert!(
        d.join("A/RUN/proccess_etroc1_data_run_txt/original_data/F5P5_F17P5_B2P5_Synth_seed7.txt")
            .is_file()
    );
}

#[test]
fn run_beam_plots_are_png_by_default() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    simulate_small(d);
    run_ok(d, &["run-beam", "--file", TXT, "-o", "RUN", "--plots"]);
    let files = tree(&d.join("RUN"));
    let count = |e: &str| {
        files
            .keys()
            .filter(|p| p.extension().is_some_and(|x| x == e))
            .count()
    };
    assert_eq!(count("png"), 68);
    assert_eq!(count("svg"), 0);
    for (p, bytes) in &files {
        if p.extension().is_some_and(|x| x == "png") {
            assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{}", p.display());
        }
    }
}

/// A run directory after process-txt, cut, times-ns and cut-times, as `<d>/A/RUN` and a copy
/// `<d>/B/RUN`.
fn prepared_runs(d: &Path) {
    simulate_small(d);
    run_ok(d, &["process-txt", "--file", TXT, "-o", "A/RUN"]);
    std::fs::write(
        d.join("A/RUN/cuts.csv"),
        "board_id,variable,cut_type,cut_value\n*,calibration_code,>=,115\n*,calibration_code,<=,145\n",
    )
    .unwrap();
    std::fs::write(
        d.join("A/RUN/time_cuts.csv"),
        "cut_type,cut_direction,variable_1,board_id_1,variable_2,board_id_2,value_1,value_2,value_3,output\n\
         simple,>,time_over_threshold_ns,*,,,2.0,,,tot_min\n",
    )
    .unwrap();
    run_ok(d, &["cut", "-o", "A/RUN"]);
    run_ok(d, &["times-ns", "-o", "A/RUN"]);
    run_ok(d, &["cut-times", "-o", "A/RUN"]);
    copy_tree(&d.join("A"), &d.join("B"));
}

#[test]
fn twc_from_its_printed_config_with_svg_line_plots() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    prepared_runs(d);
    let args = ["twc", "-o", "A/RUN", "-p", "1", "--plots", "--svg"];
    run_ok(d, &args);
    save_config(d, &args, "twc.toml");
    let text = std::fs::read_to_string(d.join("twc.toml")).unwrap();
    assert!(
        squash(&text).contains("plot_formats=[\"png\",\"svg\"]"),
        "{text}"
    );
    run_ok(d, &["twc", "--config", "twc.toml", "-o", "B/RUN"]);
    let task = "RUN/calculate_time_walk_correction";
    assert_same_tree(&d.join("A").join(task), &d.join("B").join(task));
    // SVG on request for the line plots only; the dense ones stay PNG.
    let it = d.join("A").join(task).join("Iteration_0");
    assert!(it.join("Board0_TWC_Before_Correction.svg").is_file());
    assert!(it.join("Board0_TWC_Before_Correction.png").is_file());
    assert!(
        it.join("Board0_TWC_Before_Correction_Heatmap.png")
            .is_file()
    );
    assert!(!it.join("Board0_TWC_Before_Correction_Heatmap.svg").exists());
    assert!(it.join("multi_scatter.png").is_file());
    assert!(!it.join("multi_scatter.svg").exists());
    // Options given with --config override the file, key by key.
    let out = run_ok(
        d,
        &["twc", "--config", "twc.toml", "-i", "3", "--print-config"],
    );
    assert!(
        out.contains("iterations = 3") && out.contains("order = 1"),
        "{out}"
    );
    // --formats, --svg and --plot-format.
    let a = run_ok(d, &["twc", "--formats", "svg,png", "--print-config"]);
    let b = run_ok(d, &["twc", "--svg", "--print-config"]);
    assert_eq!(a, b);
    let c = run_ok(d, &["twc", "--plot-format", "svg", "--print-config"]);
    assert!(squash(&c).contains("plot_formats=[\"svg\"]"), "{c}");
    let e = run_ok(d, &["twc", "--print-config"]);
    assert!(squash(&e).contains("plot_formats=[\"png\"]"), "{e}");
}

#[test]
fn resolution_and_cut_from_their_printed_configs() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    prepared_runs(d);
    run_ok(d, &["twc", "-o", "A/RUN"]);
    run_ok(d, &["twc", "-o", "B/RUN"]);
    let args = ["resolution", "-o", "A/RUN", "--plots", "--no-sqlite"];
    run_ok(d, &args);
    save_config(d, &args, "res.toml");
    assert!(
        std::fs::read_to_string(d.join("res.toml"))
            .unwrap()
            .contains("sqlite = false")
    );
    run_ok(d, &["resolution", "--config", "res.toml", "-o", "B/RUN"]);
    let task = "RUN/analyse_time_resolution";
    assert!(
        !d.join("B")
            .join(task)
            .join("time_resolution.sqlite")
            .exists()
    );
    assert!(
        d.join("B")
            .join(task)
            .join("plots/Step-1-Final/time_resolution_vs_iteration.png")
            .is_file()
    );
    assert_same_tree(&d.join("A").join(task), &d.join("B").join(task));
    // cut with a cut file and -k, again from its configuration.
    std::fs::write(
        d.join("mycuts.csv"),
        "board_id,variable,cut_type,cut_value,output\n*,calibration_code,>=,120,cal\n",
    )
    .unwrap();
    let args = ["cut", "-o", "A/RUN", "--cuts", "mycuts.csv", "-k"];
    run_ok(d, &args);
    save_config(d, &args, "cut.toml");
    assert!(
        std::fs::read_to_string(d.join("cut.toml"))
            .unwrap()
            .contains("keep_events = true")
    );
    run_ok(d, &["cut", "--config", "cut.toml", "-o", "B/RUN"]);
    let task = "RUN/apply_event_cuts";
    assert_same_tree(&d.join("A").join(task), &d.join("B").join(task));
}

#[test]
fn process_txt_from_its_printed_config() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    simulate_small(d);
    let args = [
        "process-txt",
        "--file",
        TXT,
        "-o",
        "A/RUN",
        "-p",
        "2",
        "-k",
        "--no-sqlite",
        "--plots",
    ];
    run_ok(d, &args);
    save_config(d, &args, "ingest.toml");
    let text = std::fs::read_to_string(d.join("ingest.toml")).unwrap();
    for key in ["event_pattern = 2", "keep_all = true", "sqlite = false"] {
        assert!(text.contains(key), "{key}: {text}");
    }
    run_ok(
        d,
        &["process-txt", "--config", "ingest.toml", "-o", "B/RUN"],
    );
    assert!(!d.join("B/RUN/data/data.sqlite").exists());
    assert!(
        d.join("B/RUN/plot_before_cuts/calibration_code_histogram.png")
            .is_file()
    );
    assert_same_tree(&d.join("A/RUN"), &d.join("B/RUN"));
}

#[test]
fn unknown_keys_and_missing_inputs_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("bad.toml"), "filee = \"x.txt\"\n").unwrap();
    let out = bin(d)
        .args(["run-beam", "--config", "bad.toml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml") && err.contains("filee"), "{err}");
    let out = bin(d).args(["run-beam", "-o", "X"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("beam txt file") && err.contains("`file`"),
        "{err}"
    );
    assert!(!d.join("X").exists());
}
