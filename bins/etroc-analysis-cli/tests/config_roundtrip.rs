//! `--print-config` reproduces a run: `simulate`, `run-beam`, `run-beams`, `process-txt`,
//! `process-dat`, `dac-vs-charge`, `replot`, `twc`,
//! `resolution`, `cut`, `process-dir`, `reprocess-dir`, `merge` and `submit` are run with
//! options, their `--print-config` (same options) is saved, and a second run with `--config`
//! only (and another output directory) must write the same bytes. Also: plots are PNG by
//! default, SVG only on request and then only for the line plots; a `submit` whose
//! configuration file holds the job and the shard count needs no option.

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
/// times and absolute paths: manifests, and run_info.txt with the run's creation time.
fn tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    hep_cli_support::testing::files_below(root, |name| {
        !hep_cli_support::testing::is_provenance(name) && name != "run_info.txt"
    })
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

/// A scan of five DAC settings of board 0 (charge 10), a few hits each.
fn small_scan(d: &Path) {
    let scan = d.join("scan");
    std::fs::create_dir_all(&scan).unwrap();
    for (k, dac) in [540, 544, 548, 552, 556].into_iter().enumerate() {
        let name = format!(
            "TDC_Data_PhaseAdj0_F5P5_QSel10_DAC{dac}_F17P5_QSel10_DAC720_B2P5_QSel10_DAC720_Split_0.dat"
        );
        let hits: String = (0..3 + k)
            .map(|i| {
                format!(
                    " {} {} 50 {} 1\n",
                    [0, 1, 3][i % 3],
                    200 + i,
                    125 + 40 * (i % 2)
                )
            })
            .collect();
        std::fs::write(scan.join(name), hits).unwrap();
    }
}

/// [`tree`] of `root` without the paths that start with `skip`.
fn tree_without(root: &Path, skip: &str) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut t = tree(root);
    t.retain(|k, _| !k.starts_with(skip));
    t
}

#[test]
fn process_dir_from_its_printed_config() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    small_scan(d);
    let args = [
        "process-dir",
        "-d",
        "scan",
        "-o",
        "A/SCAN",
        "-i",
        "-k",
        "-p",
        "--b0",
        "530",
        "--b3",
        "700",
        "-f",
        "-t",
        "3",
        "--no-sqlite",
    ];
    let first = run_ok(d, &args);
    assert_eq!(
        first,
        "A/SCAN: 5 individual runs (0 failed), 10 merged rows\n"
    );
    save_config(d, &args, "dir.toml");
    let text = std::fs::read_to_string(d.join("dir.toml")).unwrap();
    assert_eq!(
        text,
        "directory = \"scan\"\nout_directory = \"A/SCAN\"\ndate_prefix = false\nkeep_all = true\n\
         plots = true\nplot_formats = [\"png\"]\nb0 = 530\nb1 = 720\nb3 = 700\n\
         filter_default = true\ntrigger_board = 3\nsqlite = false\n"
    );
    let second = run_ok(d, &["process-dir", "--config", "dir.toml", "-o", "B/SCAN"]);
    assert_eq!(
        second,
        "B/SCAN: 5 individual runs (0 failed), 10 merged rows\n"
    );
    assert!(!d.join("B/SCAN/merge_etroc1_runs/data.sqlite").exists());
    assert!(d.join("B/SCAN/plot_etroc1_combined/DAC_Scan.png").is_file());
    assert_same_tree(&d.join("A"), &d.join("B"));
}

#[test]
fn reprocess_dir_from_its_printed_config() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    small_scan(d);
    run_ok(d, &["process-dir", "-d", "scan", "-o", "A/SCAN", "-i"]);
    copy_tree(&d.join("A"), &d.join("B"));
    let args = [
        "reprocess-dir",
        "-o",
        "A/SCAN",
        "--plots",
        "--svg",
        "--b1",
        "710",
        "-f",
        "--no-sqlite",
    ];
    let first = run_ok(d, &args);
    save_config(d, &args, "re.toml");
    let text = std::fs::read_to_string(d.join("re.toml")).unwrap();
    for key in [
        "out_directory = \"A/SCAN\"",
        "plots = true",
        "compat = false",
        "b1 = 710",
        "filter_default = true",
        "sqlite = false",
    ] {
        assert!(text.contains(key), "{key}: {text}");
    }
    assert_eq!(
        squash(&text)
            .matches("plot_formats=[\"png\",\"svg\"]")
            .count(),
        1,
        "{text}"
    );
    let second = run_ok(d, &["reprocess-dir", "--config", "re.toml", "-o", "B/SCAN"]);
    assert_eq!(first, second);
    assert_eq!(
        first,
        "re-applied the cuts of 5 runs (0 failed), merged 10 rows\n3 plots written\n"
    );
    assert_same_tree(&d.join("A"), &d.join("B"));
    // The original's behaviour, from a configuration too.
    let args = ["reprocess-dir", "-o", "A/SCAN", "--compat", "-t", "1"];
    let first = run_ok(d, &args);
    save_config(d, &args, "compat.toml");
    let second = run_ok(
        d,
        &["reprocess-dir", "--config", "compat.toml", "-o", "B/SCAN"],
    );
    assert_eq!(first, second);
    assert!(first.contains("(cuts not re-applied: --compat)"), "{first}");
    assert_same_tree(&d.join("A"), &d.join("B"));
}

#[test]
fn merge_from_its_printed_config() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    small_scan(d);
    for out in ["A", "B"] {
        for shard in ["0/2", "1/2"] {
            run_ok(
                d,
                &[
                    "process-dir",
                    "-d",
                    "scan",
                    "-o",
                    out,
                    "--shard",
                    shard,
                    "-t",
                    "3",
                ],
            );
        }
    }
    let first = run_ok(d, &["merge", "--out-directory", "A"]);
    save_config(d, &["merge", "--output", "B"], "merge.toml");
    assert_eq!(
        std::fs::read_to_string(d.join("merge.toml")).unwrap(),
        "output = \"B\"\n"
    );
    let second = run_ok(d, &["merge", "--config", "merge.toml"]);
    assert_eq!(first, "A: 5 individual runs (0 failed), 15 merged rows\n");
    assert_eq!(second, "B: 5 individual runs (0 failed), 15 merged rows\n");
    let (a, b) = (
        tree_without(&d.join("A"), "shards"),
        tree_without(&d.join("B"), "shards"),
    );
    assert!(
        a.keys().any(|k| k.starts_with("merge_etroc1_runs")),
        "{:?}",
        a.keys()
    );
    assert_eq!(a, b);
    // No output directory anywhere is a clear error.
    let out = bin(d).arg("merge").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no output directory"), "{err}");
}

/// The Slurm scripts in `<dir>/slurm/` (name -> text).
fn scripts(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir.join("slurm"))
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn submit_from_its_printed_config() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    small_scan(d);
    let slurm = [
        "submit",
        "--shards",
        "3",
        "--max-parallel",
        "2",
        "--partition",
        "short",
        "--time",
        "00:10:00",
        "--sbatch=--qos=low",
    ];
    let job = [
        "--",
        "process-dir",
        "-d",
        "scan",
        "-o",
        "OUT",
        "-i",
        "--b0",
        "530",
    ];
    let args: Vec<&str> = slurm.iter().chain(&job).copied().collect();
    let first = run_ok(d, &args);
    let a = scripts(&d.join("OUT"));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        ["etroc-analysis-process-dir.sbatch", "merge.sbatch"]
    );
    let array = &a["etroc-analysis-process-dir.sbatch"];
    for line in [
        "#SBATCH --partition=short\n",
        "#SBATCH --time=00:10:00\n",
        "#SBATCH --qos=low\n",
        "#SBATCH --array=0-2%2\n",
        " process-dir -d scan -o OUT -i --b0 530 --no-date-prefix -o OUT --shard \"${SLURM_ARRAY_TASK_ID}/3\"\n",
    ] {
        assert!(array.contains(line), "{line}: {array}");
    }
    assert!(
        a["merge.sbatch"].contains(" merge -o OUT\n"),
        "{}",
        a["merge.sbatch"]
    );
    // --print-config goes before the job's `--`.
    let printed: Vec<&str> = slurm
        .iter()
        .copied()
        .chain(["--print-config"])
        .chain(job)
        .collect();
    let toml = run_ok(d, &printed);
    std::fs::write(d.join("submit.toml"), &toml).unwrap();
    assert!(toml.contains("shards = 3"), "{toml}");
    std::fs::remove_dir_all(d.join("OUT")).unwrap();
    let second = run_ok(d, &["submit", "--config", "submit.toml"]);
    assert_eq!(first, second);
    assert_eq!(a, scripts(&d.join("OUT")));
}

#[test]
fn submit_with_job_and_shards_from_the_file_only() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    small_scan(d);
    // The job's own options may come from its configuration file as well.
    std::fs::write(
        d.join("dir.toml"),
        "directory = \"scan\"\nout_directory = \"OUT\"\ntrigger_board = 3\n",
    )
    .unwrap();
    std::fs::write(
        d.join("submit.toml"),
        "job = [\"process-dir\", \"--config\", \"dir.toml\"]\n[slurm]\nshards = 2\n",
    )
    .unwrap();
    let out = run_ok(d, &["submit", "--config", "submit.toml"]);
    // The date prefix is fixed once, here: YYYYMMDD-OUT.
    let dated: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.len() == 12 && n.ends_with("-OUT") && n[..8].bytes().all(|b| b.is_ascii_digit())
        })
        .collect();
    assert_eq!(dated.len(), 1, "{out}");
    let dated = &dated[0];
    assert!(!d.join("OUT").exists());
    assert!(
        out.starts_with(&format!("# Slurm scripts in {dated}/slurm; submit with:\n")),
        "{out}"
    );
    let s = scripts(&d.join(dated));
    let array = &s["etroc-analysis-process-dir.sbatch"];
    assert!(array.contains("#SBATCH --array=0-1\n"), "{array}");
    assert!(
        array.contains(&format!(
            " process-dir --config dir.toml --no-date-prefix -o {dated} --shard \"${{SLURM_ARRAY_TASK_ID}}/2\"\n"
        )),
        "{array}"
    );
    assert!(s["merge.sbatch"].contains(&format!(" merge -o {dated}\n")));
    // The array tasks and the merge, run by hand, give the run in the dated directory.
    for i in 0..2 {
        let shard = format!("{i}/2");
        run_ok(
            d,
            &[
                "process-dir",
                "--config",
                "dir.toml",
                "--no-date-prefix",
                "-o",
                dated,
                "--shard",
                &shard,
            ],
        );
    }
    let merged = run_ok(d, &["merge", "-o", dated]);
    assert_eq!(
        merged,
        format!("{dated}: 5 individual runs (0 failed), 15 merged rows\n")
    );
    // Without a job or a shard count the submit says what is missing.
    std::fs::write(d.join("nojob.toml"), "[slurm]\nshards = 2\n").unwrap();
    let o = bin(d)
        .args(["submit", "--config", "nojob.toml"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no job"));
    std::fs::write(
        d.join("noshards.toml"),
        "job = [\"process-dir\", \"--config\", \"dir.toml\"]\n",
    )
    .unwrap();
    let o = bin(d)
        .args(["submit", "--config", "noshards.toml"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no shard count"));
}

#[test]
fn process_dat_and_dac_vs_charge_from_their_printed_configs() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    small_scan(d);
    let file = "scan/TDC_Data_PhaseAdj0_F5P5_QSel10_DAC548_F17P5_QSel10_DAC720_B2P5_QSel10_DAC720_Split_0.dat";
    let args = [
        "process-dat",
        "--file",
        file,
        "-o",
        "A/DAT",
        "-k",
        "--no-sqlite",
        "--plots",
    ];
    run_ok(d, &args);
    save_config(d, &args, "dat.toml");
    let text = std::fs::read_to_string(d.join("dat.toml")).unwrap();
    for key in ["keep_all = true", "sqlite = false", "plots = true"] {
        assert!(text.contains(key), "{key}: {text}");
    }
    run_ok(d, &["process-dat", "--config", "dat.toml", "-o", "B/DAT"]);
    assert_same_tree(&d.join("A/DAT"), &d.join("B/DAT"));

    // dac-vs-charge on a processed scan, with options that differ from the defaults.
    run_ok(d, &["process-dir", "-d", "scan", "-o", "A/SCAN", "-i"]);
    copy_tree(&d.join("A/SCAN"), &d.join("B/SCAN"));
    let args = [
        "dac-vs-charge",
        "-o",
        "A/SCAN",
        "--plots",
        "--no-sqlite",
        "-r",
        "5",
        "-d",
        "20",
        "-w",
        "4",
    ];
    run_ok(d, &args);
    save_config(d, &args, "dac.toml");
    let text = std::fs::read_to_string(d.join("dac.toml")).unwrap();
    for key in ["rolling_window = 5", "max_diff = 20", "sqlite = false"] {
        assert!(text.contains(key), "{key}: {text}");
    }
    run_ok(
        d,
        &["dac-vs-charge", "--config", "dac.toml", "-o", "B/SCAN"],
    );
    assert_same_tree(&d.join("A/SCAN"), &d.join("B/SCAN"));
}

#[test]
fn run_beams_and_replot_from_their_printed_configs() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    simulate_small(d);
    run_ok(
        d,
        &[
            "simulate", "beam", "-o", "sim2", "--seed", "8", "--events", "1500",
        ],
    );
    let second = "sim2/F5P5_F17P5_B2P5_Synth_seed8.txt";
    let args = [
        "run-beams",
        "--files",
        TXT,
        second,
        "-o",
        "A/BEAMS",
        "--no-sqlite",
        "-i",
        "2",
        "--fbin",
        "median",
    ];
    run_ok(d, &args);
    save_config(d, &args, "beams.toml");
    let text = std::fs::read_to_string(d.join("beams.toml")).unwrap();
    assert!(text.contains("fbin = \"median\""), "{text}");
    assert!(text.contains("iterations = 2"), "{text}");
    run_ok(d, &["run-beams", "--config", "beams.toml", "-o", "B/BEAMS"]);
    assert_same_tree(&d.join("A/BEAMS"), &d.join("B/BEAMS"));

    // replot of one of those runs, SVG line plots on request.
    let run = "F5P5_F17P5_B2P5_Synth_seed7";
    let args_a = format!("A/BEAMS/{run}");
    let args = ["replot", "-o", args_a.as_str(), "--svg"];
    run_ok(d, &args);
    save_config(d, &args, "replot.toml");
    let text = std::fs::read_to_string(d.join("replot.toml")).unwrap();
    assert!(text.contains("svg"), "{text}");
    let args_b = format!("B/BEAMS/{run}");
    run_ok(
        d,
        &["replot", "--config", "replot.toml", "-o", args_b.as_str()],
    );
    assert_same_tree(&d.join("A/BEAMS"), &d.join("B/BEAMS"));
}
