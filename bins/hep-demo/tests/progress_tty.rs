//! Every CLI draws a progress bar when stderr is a terminal and none when it is piped.
//!
//! The terminal is a real pseudo-terminal from util-linux `script` (on every Debian-like
//! system); the piped run is the same command with stderr captured. The bar is recognised by its
//! template (`[hh:mm:ss] ... pos/len`, see `hep_cli_support::Bar`).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory of the workspace's built binaries (`target/<profile>`).
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>")
        .to_path_buf()
}

/// True if `text` holds a drawn bar: an elapsed time `[hh:mm:ss]` followed on the same line
/// by a `pos/len` count.
fn has_bar(text: &str) -> bool {
    text.split(['\r', '\n']).any(|line| {
        let Some(start) = line.find('[') else {
            return false;
        };
        let rest = &line[start..];
        let is_clock = rest.len() > 10
            && rest.as_bytes()[9] == b']'
            && rest[1..9].chars().enumerate().all(|(i, c)| {
                if i == 2 || i == 5 {
                    c == ':'
                } else {
                    c.is_ascii_digit()
                }
            });
        is_clock
            && rest[10..].split_whitespace().any(|w| {
                w.split_once('/').is_some_and(|(a, b)| {
                    !a.is_empty()
                        && !b.is_empty()
                        && a.chars().all(|c| c.is_ascii_digit())
                        && b.chars().all(|c| c.is_ascii_digit())
                })
            })
    })
}

/// Runs `tool args` once under a pseudo-terminal and once piped, in fresh directories, and
/// returns (terminal output, piped stderr).
fn both_ways(tool: &str, args: &[&str]) -> Option<(String, String)> {
    let exe = bin_dir().join(tool);
    if !exe.is_file() {
        let msg = format!("{tool} is not built in {}", exe.display());
        assert!(
            std::env::var("CI").is_err(),
            "{msg} (CI builds every binary)"
        );
        eprintln!("skipped: {msg}");
        return None;
    }
    let quoted: Vec<String> = std::iter::once(exe.display().to_string())
        .chain(args.iter().map(|a| (*a).to_string()))
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect();
    let tty_dir = tempfile::tempdir().unwrap();
    let tty = Command::new("script")
        .args(["-q", "-e", "-c", &quoted.join(" "), "/dev/null"])
        .current_dir(tty_dir.path())
        .output()
        .expect("util-linux `script` runs");
    assert!(
        tty.status.success(),
        "{tool} {args:?} under a terminal: {}",
        String::from_utf8_lossy(&tty.stdout)
    );
    let pipe_dir = tempfile::tempdir().unwrap();
    let piped = Command::new(&exe)
        .args(args)
        .current_dir(pipe_dir.path())
        .output()
        .unwrap();
    assert!(
        piped.status.success(),
        "{tool} {args:?} piped: {}",
        String::from_utf8_lossy(&piped.stderr)
    );
    Some((
        String::from_utf8_lossy(&tty.stdout).into_owned(),
        String::from_utf8_lossy(&piped.stderr).into_owned(),
    ))
}

fn check(tool: &str, args: &[&str]) {
    if let Some((tty, piped)) = both_ways(tool, args) {
        assert!(
            has_bar(&tty),
            "{tool} {args:?}: no progress bar on a terminal:\n{tty}"
        );
        assert!(
            !has_bar(&piped),
            "{tool} {args:?}: a progress bar in a pipe:\n{piped}"
        );
    }
}

#[test]
fn bar_recogniser() {
    assert!(has_bar(
        "\r        simulate [00:00:01] ####---- 12/100 (3s left)"
    ));
    assert!(!has_bar("simulated 100 events in 0.3 s"));
    assert!(!has_bar("[00:00:01] no count here"));
}

#[test]
fn fax_sim_simulate() {
    check(
        "fax-sim",
        &[
            "simulate",
            "-i",
            "builtin:XENON1T_dummy_waveforms.csv",
            "-o",
            "sim",
        ],
    );
}

#[test]
fn pixel_monitor_simulate() {
    check(
        "pixel-monitor",
        &["simulate", "-o", "sim", "--days", "10", "--small"],
    );
}

#[test]
fn calo_calib_simulate() {
    check(
        "calo-calib",
        &["simulate", "-o", "sim", "--events-per-crystal", "2000"],
    );
}

#[test]
fn mu2e_ensemble_gen_primary() {
    check(
        "mu2e-ensemble",
        &[
            "gen-primary",
            "--primary",
            "DIOTail",
            "--type",
            "dio",
            "--njobs",
            "4",
            "--events",
            "20000",
            "--output",
            "samples",
        ],
    );
}

#[test]
fn etroc_analysis_simulate_and_run_beam() {
    // The bar of run-beam counts the chain's tasks; the input comes from `simulate beam`.
    let exe = bin_dir().join("etroc-analysis");
    if !exe.is_file() {
        assert!(std::env::var("CI").is_err(), "etroc-analysis is not built");
        return;
    }
    let input = tempfile::tempdir().unwrap();
    let sim = input.path().join("sim");
    let status = Command::new(&exe)
        .args(["simulate", "beam", "--events", "3000", "-o"])
        .arg(&sim)
        .status()
        .unwrap();
    assert!(status.success());
    let txt = sim.join("F5P5_F17P5_B2P5_Synth_seed42.txt");
    check(
        "etroc-analysis",
        &["run-beam", "--file", txt.to_str().unwrap(), "-o", "run"],
    );
}
