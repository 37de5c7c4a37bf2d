//! Integration tests of `hep_core::manifest`: the JSON provenance sidecar.

use std::path::{Path, PathBuf};

use chrono::DateTime;
use hep_core::Error;
use hep_core::io::sha256_file;
use hep_core::manifest::{Manifest, sidecar_path};
use serde::Serialize;

#[derive(Serialize)]
struct Config {
    bins: u32,
    range_mev: (f64, f64),
    name: &'static str,
}

#[test]
fn manifest_round_trip_with_digests() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("run1.csv");
    std::fs::write(&input, b"abc").unwrap();
    let output = dir.path().join("fits.parquet");
    std::fs::write(&output, b"").unwrap();

    let mut m = Manifest::start("calo-calib", "0.1.0")
        .with_command_line(vec!["calo-calib".into(), "fit".into()])
        .with_configuration(&Config {
            bins: 100,
            range_mev: (0.0, 8.0),
            name: "source",
        })
        .unwrap();
    assert!(m.end_utc.is_none());
    m.add_input(&input).unwrap();
    m.add_seed("master", u64::MAX);
    m.add_seed("toy", 7);
    m.add_output(&output).unwrap();
    m.finish();

    assert_eq!(m.inputs.len(), 1);
    assert_eq!(m.inputs[0].path, input);
    assert_eq!(m.inputs[0].bytes, 3);
    assert_eq!(
        m.inputs[0].sha256,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(m.outputs[0].sha256, sha256_file(&output).unwrap());
    assert_eq!(m.configuration["bins"], 100);
    assert_eq!(m.configuration["range_mev"][1], 8.0);

    let written = m.write_sidecar(&output).unwrap();
    assert_eq!(written, dir.path().join("fits.parquet.manifest.json"));
    let text = std::fs::read_to_string(&written).unwrap();
    assert!(text.ends_with("}\n"), "{text}");
    assert!(text.contains("\n  \"tool\": \"calo-calib\""), "{text}");
    let back = Manifest::read(&written).unwrap();
    assert_eq!(back, m);
    assert_eq!(back.seeds["master"], u64::MAX);
}

#[test]
fn end_is_not_before_start() {
    let mut m = Manifest::start("t", "1");
    std::thread::sleep(std::time::Duration::from_millis(5));
    m.finish();
    let start = DateTime::parse_from_rfc3339(&m.start_utc).unwrap();
    let end = DateTime::parse_from_rfc3339(m.end_utc.as_deref().unwrap()).unwrap();
    assert!(end >= start, "{start} > {end}");
    assert!(m.start_utc.ends_with('Z'));
    assert_eq!(start.offset().local_minus_utc(), 0);
}

#[test]
fn start_records_the_process_command_line() {
    let m = Manifest::start("t", "1");
    let args: Vec<String> = std::env::args().collect();
    assert_eq!(m.command_line, args);
    assert!(m.configuration.is_null());
}

#[test]
fn sidecar_paths() {
    assert_eq!(
        sidecar_path(Path::new("out/fits.parquet")),
        PathBuf::from("out/fits.parquet.manifest.json")
    );
    assert_eq!(
        sidecar_path(Path::new("/abs/dir/x.csv")),
        PathBuf::from("/abs/dir/x.csv.manifest.json")
    );
    assert_eq!(
        sidecar_path(Path::new("plain")),
        PathBuf::from("plain.manifest.json")
    );
}

#[test]
fn missing_input_is_an_error() {
    let mut m = Manifest::start("t", "1");
    let err = m.add_input("/definitely/not/here.csv").unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(m.inputs.is_empty());
}

#[test]
fn reading_a_bad_manifest_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.manifest.json");
    std::fs::write(&path, "{\n  \"tool\": \"t\",\n  \"version\": 3\n}\n").unwrap();
    let err = Manifest::read(&path).unwrap_err();
    assert!(matches!(err, Error::Parse { line: 3, .. }), "{err}");
    assert!(err.to_string().contains("bad.manifest.json:3:"), "{err}");
    let err = Manifest::read(dir.path().join("missing.json")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
}

#[test]
fn minimal_manifest_reads_with_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("min.json");
    std::fs::write(
        &path,
        r#"{"tool":"t","version":"1","command_line":[],"start_utc":"2026-01-01T00:00:00.000Z"}"#,
    )
    .unwrap();
    let m = Manifest::read(&path).unwrap();
    assert!(m.inputs.is_empty() && m.outputs.is_empty() && m.seeds.is_empty());
    assert!(m.end_utc.is_none());
}

/// Paths in a written manifest are relative to its directory, whatever the current directory
/// was; read back they name the same files again.
#[test]
fn paths_are_relative_to_the_manifest_directory() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("data/run1.csv");
    std::fs::create_dir_all(input.parent().unwrap()).unwrap();
    std::fs::write(&input, "a,b\n1,2\n").unwrap();
    let out = d.path().join("out/fits.csv");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    std::fs::write(&out, "x\n").unwrap();
    let mut m = Manifest::start("t", "0");
    m.add_input(&input).unwrap();
    m.add_output(&out).unwrap();
    m.add_output(d.path().join("out/deleted.csv")).unwrap_err();
    let side = m.write_sidecar(&out).unwrap();
    let raw: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&side).unwrap()).unwrap();
    assert_eq!(raw["inputs"][0]["path"], "../data/run1.csv");
    assert_eq!(raw["outputs"][0]["path"], "fits.csv");
    let back = Manifest::read(&side).unwrap();
    assert_eq!(
        std::fs::canonicalize(&back.inputs[0].path).unwrap(),
        std::fs::canonicalize(&input).unwrap()
    );
    assert_eq!(
        std::fs::canonicalize(&back.outputs[0].path).unwrap(),
        std::fs::canonicalize(&out).unwrap()
    );
    // Written again elsewhere (a merge copying inputs), the paths follow the new place.
    let other = d.path().join("merged/deeper");
    std::fs::create_dir_all(&other).unwrap();
    back.write(other.join("m.json")).unwrap();
    let raw: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(other.join("m.json")).unwrap()).unwrap();
    assert_eq!(raw["inputs"][0]["path"], "../../data/run1.csv");
    assert_eq!(raw["outputs"][0]["path"], "../../out/fits.csv");
}
