//! Every command the README prints runs as printed: each tool's `bash` block is run with the
//! tools CI already built on the `PATH`, in a fresh temporary directory, and must succeed and
//! leave non-empty outputs. The `cargo` lines (install, run, test, bench) are not run here: CI
//! runs the test command itself and the main job.

use std::path::{Path, PathBuf};

/// The `bash` blocks of the README, in order.
fn blocks() -> Vec<String> {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .expect("README.md");
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```bash") => current = Some(String::new()),
            (Some(_), "```") => out.extend(current.take()),
            (Some(b), l) => {
                b.push_str(l);
                b.push('\n');
            }
            (None, _) => {}
        }
    }
    out
}

/// The directory of the workspace's built binaries (`target/<profile>`).
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>")
        .to_path_buf()
}

/// Runs the block whose first command starts with `tool ` (without its `cargo` lines).
fn run_block(tool: &str) {
    let dir = bin_dir();
    if !dir.join(tool).is_file() {
        let msg = format!("{tool} is not built in {}", dir.display());
        assert!(
            std::env::var("CI").is_err(),
            "{msg} (CI runs the whole workspace)"
        );
        eprintln!("skipping: {msg}; run `cargo test --workspace`");
        return;
    }
    let block = blocks()
        .into_iter()
        .find(|b| {
            b.lines()
                .find(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
                .is_some_and(|l| l.starts_with(&format!("{tool} ")))
        })
        .unwrap_or_else(|| panic!("no README block for {tool}"));
    let script: String = block
        .lines()
        .filter(|l| !l.trim_start().starts_with("cargo "))
        .map(|l| format!("{l}\n"))
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![dir];
    paths.extend(std::env::split_paths(&path));
    let out = std::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(tmp.path())
        .env("PATH", std::env::join_paths(paths).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{tool} block failed:\n{script}\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Outputs exist and none is empty.
    let mut files = Vec::new();
    let mut stack = vec![tmp.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    let only_help = script
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .all(|l| l.contains("--help") || !l.contains(" -o ") && !l.contains("--output"));
    assert!(only_help || !files.is_empty(), "{tool}: no outputs");
    for f in &files {
        let len = std::fs::metadata(f).unwrap().len();
        let lock = f.extension().is_some_and(|x| x == "lock");
        assert!(lock || len > 0, "{tool}: {} is empty", f.display());
    }
}

#[test]
fn readme_calo_calib_commands() {
    run_block("calo-calib");
}

#[test]
fn readme_mu2e_ensemble_commands() {
    run_block("mu2e-ensemble");
}

#[test]
fn readme_etroc_analysis_commands() {
    run_block("etroc-analysis");
}

#[test]
fn readme_fax_sim_commands() {
    run_block("fax-sim");
}

#[test]
fn readme_pixel_monitor_commands() {
    run_block("pixel-monitor");
}

/// The README's blocks are all covered: the tools' blocks above, and the blocks of `cargo`
/// commands only (main job, tests, install, benchmarks).
#[test]
fn every_readme_block_is_covered() {
    let tools = [
        "calo-calib",
        "mu2e-ensemble",
        "etroc-analysis",
        "fax-sim",
        "pixel-monitor",
    ];
    for b in blocks() {
        let cmds: Vec<&str> = b
            .lines()
            .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
            .collect();
        let first = cmds.first().copied().unwrap_or_default();
        assert!(
            cmds.iter()
                .all(|l| l.starts_with("cargo ") || l.starts_with("for t in"))
                || tools.iter().any(|t| first.starts_with(&format!("{t} "))),
            "README block not run by any test:\n{b}"
        );
    }
}
