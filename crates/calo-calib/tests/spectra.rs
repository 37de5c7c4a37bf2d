//! Spectra table I/O: round trips, every bad-input kind with its line, and no panics on
//! arbitrary text.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use calo_calib::Error;
use calo_calib::channel::IdMode;
use calo_calib::spectra::{Spectrum, SpectrumSet, parse_spectra_csv, read_spectra, write_spectra};
use proptest::prelude::*;

fn sample_set() -> SpectrumSet {
    SpectrumSet {
        per_crystal: false,
        spectra: vec![
            Spectrum::uniform(3, 0.0, 120.0, (0..120).map(|i| f64::from(i % 7)).collect()),
            // Non-uniform binning and non-integer counts survive too.
            Spectrum {
                id: 1164,
                edges: vec![-1.5, 0.1, 0.30000000000000004, 7.25, 1e3],
                counts: vec![0.0, 2.5, 1e-7, 12345.0],
            },
            Spectrum::uniform(2695, 40.0, 115.2, vec![1.0; 752]),
        ],
    }
}

#[test]
fn round_trip_csv_and_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let set = sample_set();
    for name in ["s.csv", "s.parquet", "S.CSV"] {
        let path = dir.path().join(name);
        write_spectra(&path, &set).unwrap();
        let back = read_spectra(&path, IdMode::PerSipm).unwrap();
        assert_eq!(back, set, "{name}");
        // Bit-exact edges and counts.
        for (a, b) in back.spectra.iter().zip(&set.spectra) {
            assert!(
                a.edges
                    .iter()
                    .zip(&b.edges)
                    .all(|(x, y)| x.to_bits() == y.to_bits())
            );
        }
    }
    assert!(matches!(
        write_spectra(dir.path().join("s.txt"), &set),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn per_crystal_round_trip_and_helpers() {
    let dir = tempfile::tempdir().unwrap();
    let set = SpectrumSet {
        per_crystal: true,
        spectra: vec![Spectrum::uniform(1347, 0.0, 4.0, vec![1.0, 2.0, 3.0, 4.0])],
    };
    let path = dir.path().join("c.parquet");
    write_spectra(&path, &set).unwrap();
    assert_eq!(read_spectra(&path, IdMode::PerCrystal).unwrap(), set);
    let s = &set.spectra[0];
    assert_eq!(s.n_events(), 10.0);
    assert_eq!(s.integral_from(2.0), 7.0);
    assert_eq!(s.integral_from(1.5), 7.0);
    assert!((s.mean() - (0.5 + 3.0 + 7.5 + 14.0) / 10.0).abs() < 1e-12);
    let h = s.to_hist().unwrap();
    assert_eq!(h.n_bins(), 4);
    assert_eq!(h.integral(), 10.0);
    assert!(set.get(1347).is_some() && set.get(0).is_none());
    let irregular = Spectrum {
        id: 0,
        edges: vec![0.0, 1.0, 3.0],
        counts: vec![1.0, 1.0],
    };
    assert!(!irregular.is_uniform());
    assert!(irregular.to_hist().is_err());
}

#[test]
fn blocks_may_come_in_any_id_order() {
    let text = "counts,bin_high,roid,bin_low,extra\n\
                1,1,7,0,x\n2,2,7,1,y\n\n5,1,2,0,z\n";
    let set = parse_spectra_csv(text.as_bytes(), Path::new("t.csv"), IdMode::PerSipm).unwrap();
    assert_eq!(set.ids(), [2, 7]);
    assert_eq!(set.get(7).unwrap().edges, [0.0, 1.0, 2.0]);
    assert_eq!(set.get(7).unwrap().counts, [1.0, 2.0]);
    // Header only: an empty set.
    let empty = parse_spectra_csv(
        "roid,bin_low,bin_high,counts\n".as_bytes(),
        Path::new("t.csv"),
        IdMode::PerSipm,
    )
    .unwrap();
    assert!(empty.is_empty());
}

/// Parses `text` and checks it fails with a located parse error at `line` with `needle` in the message.
fn bad(text: &str, mode: IdMode, line: u64, needle: &str) {
    let r = parse_spectra_csv(text.as_bytes(), Path::new("bad.csv"), mode);
    match r {
        Err(e @ Error::Core(hep_core::Error::Parse { .. })) => {
            let msg = e.to_string();
            let Error::Core(hep_core::Error::Parse { line: got, .. }) = e else {
                unreachable!()
            };
            assert_eq!(got, line, "wrong line for {text:?}: {msg}");
            assert!(
                msg.starts_with(&format!("bad.csv:{line}: expected")),
                "{msg}"
            );
            assert!(msg.contains(needle), "{needle:?} not in {msg:?}");
        }
        other => panic!("expected an input error for {text:?}, got {other:?}"),
    }
}

const H: &str = "roid,bin_low,bin_high,counts\n";

#[test]
fn every_bad_input_kind_reports_its_line() {
    let m = IdMode::PerSipm;
    bad("", m, 1, "header");
    bad("roid,bin_low,counts\n0,0,1\n", m, 1, "`bin_high`");
    bad("roid,bin_low,bin_high,counts,roid\n", m, 1, "`roid` once");
    bad(
        &format!("{H}0,0,1,5\n0,1,2,x\n"),
        m,
        3,
        "a number in column `counts`",
    );
    bad(
        &format!("{H}0,0,1,5\n1.5,1,2,3\n"),
        m,
        3,
        "an integer in column `roid`",
    );
    bad(&format!("{H}0,0,1,5\n0,1,2,-1\n"), m, 3, "non-negative");
    bad(&format!("{H}0,0,1,5\n0,1,2,NaN\n"), m, 3, "non-negative");
    bad(&format!("{H}0,0,1,5\n0,1,2,inf\n"), m, 3, "non-negative");
    bad(
        &format!("{H}0,0,1,5\n0,1,inf,1\n"),
        m,
        3,
        "finite `bin_high`",
    );
    bad(
        &format!("{H}0,0,1,5\n0,1,1,1\n"),
        m,
        3,
        "`bin_high` > `bin_low`",
    );
    bad(&format!("{H}0,0,1,5\n0,2,3,1\n"), m, 3, "a gap");
    bad(&format!("{H}0,0,1,5\n0,0.5,3,1\n"), m, 3, "overlapping");
    bad(
        &format!("{H}0,0,1,5\n1,0,1,1\n0,1,2,1\n"),
        m,
        4,
        "started at line 2",
    );
    bad(&format!("{H}2696,0,1,5\n"), m, 2, "roid in 0..=2695");
    bad(&format!("{H}-1,0,1,5\n"), m, 2, "roid in 0..=2695");
    bad(
        &format!("{H}1348,0,1,5\n"),
        IdMode::PerCrystal,
        2,
        "crystal id in 0..=1347",
    );
    // Truncated last line (fewer fields), and one with too many.
    bad(
        &format!("{H}0,0,1,5\n0,1,2,5\n0,2,3"),
        m,
        4,
        "4 fields as in the header",
    );
    bad(&format!("{H}0,0,1,5,9\n"), m, 2, "found 5 fields");
    // Invalid UTF-8 in a field.
    let mut bytes = format!("{H}0,0,1,").into_bytes();
    bytes.extend_from_slice(&[0xff, 0xfe, b'\n']);
    let e = parse_spectra_csv(&bytes[..], Path::new("bad.csv"), m).unwrap_err();
    assert!(
        matches!(e, Error::Core(hep_core::Error::Parse { line: 2, .. })),
        "{e}"
    );
    // Bins within the 1e-9 relative tolerance are contiguous.
    let ok = format!("{H}0,0,100,5\n0,100.00000001,200,1\n");
    parse_spectra_csv(ok.as_bytes(), Path::new("ok.csv"), m).unwrap();
    bad(
        &format!("{H}0,0,100,5\n0,100.000001,200,1\n"),
        m,
        3,
        "a gap",
    );
}

fn write_batch(path: &PathBuf, cols: Vec<(&str, ArrayRef)>) {
    let batch = RecordBatch::try_from_iter(cols).unwrap();
    hep_core::io::write_parquet(path, &[batch]).unwrap();
}

#[test]
fn parquet_errors_name_the_row_or_column() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("b.parquet");
    let ids: ArrayRef = Arc::new(Int64Array::from(vec![0, 0, 0]));
    let f = |v: Vec<f64>| -> ArrayRef { Arc::new(Float64Array::from(v)) };
    write_batch(
        &p,
        vec![
            ("roid", ids.clone()),
            ("bin_low", f(vec![0.0, 1.0, 3.0])),
            ("bin_high", f(vec![1.0, 2.0, 4.0])),
            ("counts", f(vec![1.0, 1.0, 1.0])),
        ],
    );
    let e = read_spectra(&p, IdMode::PerSipm).unwrap_err();
    assert!(
        matches!(e, Error::Core(hep_core::Error::Parse { line: 3, .. })),
        "{e}"
    );
    assert!(e.to_string().contains("(row 3)"), "{e}");

    write_batch(
        &p,
        vec![
            ("roid", ids.clone()),
            ("bin_low", f(vec![0.0, 1.0, 2.0])),
            ("counts", f(vec![1.0, 1.0, 1.0])),
        ],
    );
    let e = read_spectra(&p, IdMode::PerSipm).unwrap_err();
    assert!(
        matches!(e, Error::Core(hep_core::Error::Parse { line: 0, .. })),
        "{e}"
    );
    assert!(e.to_string().contains("`bin_high`"), "{e}");

    write_batch(
        &p,
        vec![
            ("roid", f(vec![0.0, 0.0, 0.0])),
            ("bin_low", f(vec![0.0, 1.0, 2.0])),
            ("bin_high", f(vec![1.0, 2.0, 3.0])),
            ("counts", f(vec![1.0, 1.0, 1.0])),
        ],
    );
    let e = read_spectra(&p, IdMode::PerSipm).unwrap_err();
    assert!(e.to_string().contains("Int64"), "{e}");

    let nulls: ArrayRef = Arc::new(Float64Array::from(vec![Some(1.0), None, Some(1.0)]));
    write_batch(
        &p,
        vec![
            ("roid", ids),
            ("bin_low", f(vec![0.0, 1.0, 2.0])),
            ("bin_high", f(vec![1.0, 2.0, 3.0])),
            ("counts", nulls),
        ],
    );
    let e = read_spectra(&p, IdMode::PerSipm).unwrap_err();
    assert!(
        matches!(e, Error::Core(hep_core::Error::Parse { line: 2, .. })),
        "{e}"
    );
}

#[test]
fn missing_file_is_an_io_error() {
    let e = read_spectra("/nonexistent/x.csv", IdMode::PerSipm).unwrap_err();
    assert!(matches!(e, Error::Core(_)), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC*") {
        let _ = parse_spectra_csv(text.as_bytes(), Path::new("p.csv"), IdMode::PerSipm);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut input = H.as_bytes().to_vec();
        input.extend_from_slice(&bytes);
        let _ = parse_spectra_csv(&input[..], Path::new("p.csv"), IdMode::PerCrystal);
    }

    #[test]
    fn plausible_rows_never_panic(
        rows in proptest::collection::vec(
            ("-2|0|1|2|1347|2695|2696|99999999999", "-1|0|0.5|1|2|1e308|nan|inf|x",
             "0|1|2|3|-inf|1e-320", "0|1|-1|2.5|NaN|"),
            0..20,
        )
    ) {
        let mut text = String::from(H);
        for (a, b, c, d) in rows {
            text.push_str(&format!("{a},{b},{c},{d}\n"));
        }
        let _ = parse_spectra_csv(text.as_bytes(), Path::new("p.csv"), IdMode::PerSipm);
    }
}
