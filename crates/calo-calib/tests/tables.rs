//! Integration tests of the Mu2e DB text tables (spec §8).

mod common;

use std::path::Path;

use calo_calib::Error;
use calo_calib::tables::{
    CombinedRow, CosmicLayout, CosmicRow, NominalRow, RowCheck, SourceRow, parse_combined_table,
    parse_cosmic_table, parse_energy_table, parse_source_table, read_combined_table,
    read_cosmic_table, read_energy_table, read_source_table, write_combined_table,
    write_cosmic_table, write_energy_table, write_reco_tables, write_source_table,
};
use proptest::prelude::*;

const N_DB_ROWS: usize = calo_calib::channel::N_DB_ROWS as usize;
const N_SIPMS: usize = calo_calib::channel::N_SIPMS as usize;

/// The real legacy cosmic table, or `None` (with a printed reason) outside CI.
use common::cosmics_sample;

fn input_err(e: Error) -> (u64, String, String) {
    match e {
        Error::Core(hep_core::Error::Parse {
            line,
            expected,
            found,
            ..
        }) => (line, expected, found),
        other => panic!("expected a located parse error, got {other:?}"),
    }
}

#[test]
fn legacy_cosmics_sample_reads_with_legacy9() {
    let Some(path) = cosmics_sample() else { return };
    let rows = read_cosmic_table(&path, CosmicLayout::Legacy9, RowCheck::Strict).unwrap();
    assert_eq!(rows.len(), N_SIPMS);
    let r0 = &rows[0];
    assert_eq!(r0.roid, 0);
    assert_eq!(r0.peak, 506.29);
    assert_eq!(r0.errpeak, 6.39);
    assert_eq!(r0.sigma, 84.09);
    assert_eq!(r0.chisq_per_ndf, Some(1.13223));
    assert_eq!((r0.chisq, r0.ndf), (None, None));
    assert_eq!(r0.nhits, 679);
    assert!((r0.reduced_chisq() - 1.13223).abs() < 1e-12);
    // Dead channel 574 and the LYSO SiPMs are all-zero rows; they read fine.
    for roid in [
        574usize, 1164, 1165, 1218, 1219, 1220, 1221, 1274, 1275, 1524, 1525,
    ] {
        assert_eq!(rows[roid].peak, 0.0, "roid {roid}");
        assert_eq!(rows[roid].nhits, 0);
    }
    let zeros = rows.iter().filter(|r| r.peak == 0.0).count();
    assert_eq!(zeros, 11);
    assert_eq!(rows.last().unwrap().roid, 2695);
}

#[test]
fn legacy_cosmics_sample_fails_with_standard_layout() {
    let Some(path) = cosmics_sample() else { return };
    let e = read_cosmic_table(&path, CosmicLayout::Standard, RowCheck::Strict).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("Cosmics.txt:2:"), "{msg}");
    assert!(msg.contains("--cosmic-layout legacy9"), "{msg}");
    assert!(msg.contains("10 columns"), "{msg}");
}

fn source_rows() -> Vec<SourceRow> {
    (0..N_DB_ROWS as u32)
        .map(|i| {
            if i >= N_SIPMS as u32 {
                return SourceRow::empty(i);
            }
            let x = f64::from(i);
            SourceRow {
                roid: i,
                fullepeak: 150.0 + x * 0.00125,
                fullerrepeak: 0.5,
                fullwidth: 0.48125,
                fullerrwidth: 0.0125,
                firstescepeak: 137.5,
                firstescerrepeak: 0.25,
                firstescwidth: 0.48125,
                firstescerrwidth: 0.0125,
                secescepeak: 125.0,
                secescerrepeak: 0.125,
                secescwidth: 0.48125,
                secescerrwidth: 0.0125,
                frfull: 0.375,
                frfirst: 0.25,
                frsecond: 0.125,
                chisq: 71.5,
                ndf: 72,
            }
        })
        .collect()
}

#[test]
fn source_table_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("source.txt");
    let rows = source_rows();
    write_source_table(&p, &rows).unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("TABLE CalSourceEnergyCalib"));
    assert_eq!(
        lines.next(),
        Some(
            "0,150.00000,0.50000,0.48125,0.01250,137.50000,0.25000,0.48125,0.01250,125.00000,\
             0.12500,0.48125,0.01250,0.37500,0.25000,0.12500,71.50000,72"
        )
    );
    assert_eq!(text.lines().count(), N_DB_ROWS + 1);
    let back = read_source_table(&p, RowCheck::Strict).unwrap();
    assert_eq!(back, rows);
}

#[test]
fn cosmic_table_round_trip_standard() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cosmic.txt");
    let rows: Vec<CosmicRow> = (0..N_DB_ROWS as u32)
        .map(|i| CosmicRow {
            roid: i,
            peak: 527.25,
            errpeak: 8.5,
            width: 37.125,
            errwidth: 4.875,
            sigma: 84.0625,
            errsigma: 8.6875,
            chisq: Some(66.5),
            ndf: Some(58),
            chisq_per_ndf: None,
            nhits: 800 + u64::from(i),
        })
        .collect();
    write_cosmic_table(&p, &rows).unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    assert_eq!(
        text.lines().nth(1),
        Some("0,527.25000,8.50000,37.12500,4.87500,84.06250,8.68750,66.50000,58,800")
    );
    let back = read_cosmic_table(&p, CosmicLayout::Standard, RowCheck::Strict).unwrap();
    assert_eq!(back, rows);
    // The standard file read as legacy: a clear error pointing to the standard layout.
    let e = read_cosmic_table(&p, CosmicLayout::Legacy9, RowCheck::Strict).unwrap_err();
    assert!(e.to_string().contains("--cosmic-layout standard"), "{e}");
}

#[test]
fn legacy_cosmic_rows_cannot_be_written_in_standard_layout() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cosmic.txt");
    let mut rows: Vec<CosmicRow> = (0..N_DB_ROWS as u32).map(CosmicRow::empty).collect();
    rows[3].chisq = None;
    rows[3].ndf = None;
    rows[3].chisq_per_ndf = Some(1.1);
    let e = write_cosmic_table(&p, &rows).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
    assert!(!p.exists());
}

#[test]
fn energy_and_combined_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("energy.txt");
    let rows: Vec<NominalRow> = (0..N_DB_ROWS as u32)
        .map(|roid| NominalRow {
            roid,
            adc2mev: 0.0625,
        })
        .collect();
    write_energy_table(&p, &rows).unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.starts_with("TABLE CalEnergyCalib\n0,0.06250\n1,0.06250\n"));
    assert_eq!(read_energy_table(&p, RowCheck::Strict).unwrap(), rows);

    let pc = dir.path().join("combined.txt");
    let crow: Vec<CombinedRow> = (0..N_DB_ROWS as u32)
        .map(|roid| CombinedRow {
            roid,
            adc2mev: 0.03825,
            adc2mev_err: 0.00035,
            status_code: if roid == 7 { 101 } else { 0 },
            status_message: if roid == 7 {
                r#"odd, "quoted" message"#.into()
            } else {
                "OK: C+S".into()
            },
        })
        .collect();
    write_combined_table(&pc, &crow).unwrap();
    let text = std::fs::read_to_string(&pc).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("TABLE CalCombinedEnergyCalib"));
    assert_eq!(lines.next(), Some(r#"0,0.03825,0.00035,0,"OK: C+S""#));
    assert_eq!(
        text.lines().nth(8),
        Some(r#"7,0.03825,0.00035,101,"odd, ""quoted"" message""#)
    );
    assert_eq!(read_combined_table(&pc, RowCheck::Strict).unwrap(), crow);

    // Both outputs together.
    let (a, b) = (dir.path().join("reco.txt"), dir.path().join("info.txt"));
    write_reco_tables(&a, &b, &crow).unwrap();
    assert!(
        std::fs::read_to_string(&a)
            .unwrap()
            .starts_with("TABLE CalEnergyCalib\n0,0.03825\n")
    );
    assert_eq!(std::fs::read_to_string(&b).unwrap(), text);
}

#[test]
fn writers_reject_bad_rows_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("energy.txt");
    let good: Vec<NominalRow> = (0..N_DB_ROWS as u32)
        .map(|roid| NominalRow {
            roid,
            adc2mev: 0.0625,
        })
        .collect();
    // Too few rows.
    assert!(matches!(
        write_energy_table(&p, &good[..N_SIPMS]),
        Err(Error::InvalidArgument(_))
    ));
    // Out of order.
    let mut swapped = good.clone();
    swapped.swap(10, 11);
    assert!(matches!(
        write_energy_table(&p, &swapped),
        Err(Error::InvalidArgument(_))
    ));
    // NaN.
    let mut nan = good.clone();
    nan[5].adc2mev = f64::NAN;
    assert!(matches!(
        write_energy_table(&p, &nan),
        Err(Error::InvalidArgument(_))
    ));
    assert!(!p.exists());
    // An existing file is untouched by a failed write, and no temporary file is left.
    write_energy_table(&p, &good).unwrap();
    let before = std::fs::read(&p).unwrap();
    assert!(write_energy_table(&p, &nan).is_err());
    assert_eq!(std::fs::read(&p).unwrap(), before);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    // write_reco_tables leaves neither file on a bad row.
    let bad: Vec<CombinedRow> = (0..10u32)
        .map(|roid| CombinedRow {
            roid,
            ..Default::default()
        })
        .collect();
    let (a, b) = (dir.path().join("a.txt"), dir.path().join("b.txt"));
    assert!(write_reco_tables(&a, &b, &bad).is_err());
    assert!(!a.exists() && !b.exists());
}

fn energy_text(rows: impl IntoIterator<Item = u32>) -> String {
    let mut s = String::from("TABLE CalEnergyCalib\n");
    for r in rows {
        s.push_str(&format!("{r},0.06250\n"));
    }
    s
}

#[test]
fn reader_row_checks() {
    let p = Path::new("t.txt");
    // 2696 and 2720 rows are fine in strict mode, anything else is not.
    assert_eq!(
        parse_energy_table(&energy_text(0..2696), p, RowCheck::Strict)
            .unwrap()
            .len(),
        2696
    );
    assert_eq!(
        parse_energy_table(&energy_text(0..2720), p, RowCheck::Strict)
            .unwrap()
            .len(),
        2720
    );
    let (line, expected, found) =
        input_err(parse_energy_table(&energy_text(0..100), p, RowCheck::Strict).unwrap_err());
    assert_eq!(line, 102);
    assert!(
        expected.contains("2696 rows") && found.contains("100 rows"),
        "{expected} / {found}"
    );
    // A gap: error at the line of the row after it (line 1 is the header, row 5 is line 7).
    let gap = energy_text((0..5).chain(6..2720));
    let (line, expected, found) =
        input_err(parse_energy_table(&gap, p, RowCheck::Strict).unwrap_err());
    assert_eq!((line, found.as_str()), (7, "roid 6"));
    assert!(expected.contains("roid 5"));
    // AllowGaps accepts the gap, but not duplicates or decreasing roids, nor roid >= 2720.
    let rows = parse_energy_table(&gap, p, RowCheck::AllowGaps).unwrap();
    assert_eq!(rows.len(), 2719);
    assert_eq!(rows[5].roid, 6);
    let dup = energy_text([0, 1, 1, 2]);
    let (line, _, found) = input_err(parse_energy_table(&dup, p, RowCheck::AllowGaps).unwrap_err());
    assert_eq!((line, found.as_str()), (4, "roid 1"));
    let down = energy_text([0, 3, 2]);
    assert!(parse_energy_table(&down, p, RowCheck::AllowGaps).is_err());
    let big = energy_text([0, 2720]);
    let (line, expected, _) =
        input_err(parse_energy_table(&big, p, RowCheck::AllowGaps).unwrap_err());
    assert_eq!(line, 3);
    assert!(expected.contains("0..2719"));
}

#[test]
fn reader_header_comments_and_parse_errors() {
    let p = Path::new("t.txt");
    // Blank and comment lines are skipped but counted for line numbers.
    let text = "# a comment\n\nTABLE CalEnergyCalib\n# roid,adc2mev\n0,0.0625\n\n1,abc\n";
    let (line, expected, found) =
        input_err(parse_energy_table(text, p, RowCheck::AllowGaps).unwrap_err());
    assert_eq!(line, 7);
    assert!(expected.contains("column 2 (adc2mev)"), "{expected}");
    assert_eq!(found, "`abc`");
    // Wrong table name.
    let e = parse_energy_table("TABLE CalEnergyCalibX\n0,1\n", p, RowCheck::AllowGaps).unwrap_err();
    assert_eq!(
        e.to_string(),
        "t.txt:1: expected the header `TABLE CalEnergyCalib`, found `TABLE CalEnergyCalibX`"
    );
    let e = parse_cosmic_table(
        &energy_text(0..2),
        p,
        CosmicLayout::Standard,
        RowCheck::AllowGaps,
    )
    .unwrap_err();
    assert!(e.to_string().contains("TABLE CalCosmicEnergyCalib"));
    // No header at all, or an empty file.
    assert!(parse_energy_table("0,0.0625\n", p, RowCheck::AllowGaps).is_err());
    assert!(parse_energy_table("", p, RowCheck::AllowGaps).is_err());
    // Wrong column count.
    let (line, expected, found) = input_err(
        parse_energy_table("TABLE CalEnergyCalib\n0,0.06,1\n", p, RowCheck::AllowGaps).unwrap_err(),
    );
    assert_eq!(line, 2);
    assert!(expected.starts_with("2 columns"), "{expected}");
    assert_eq!(found, "3 columns");
    // ndf must be an integer (an integral float is accepted).
    let mut row = vec!["0".to_string()];
    row.extend((0..16).map(|_| "1.0".to_string()));
    row.push("72.00000".into());
    let ok = format!("TABLE CalSourceEnergyCalib\n{}\n", row.join(","));
    assert_eq!(
        parse_source_table(&ok, p, RowCheck::AllowGaps).unwrap()[0].ndf,
        72
    );
    *row.last_mut().unwrap() = "72.5".into();
    let bad = format!("TABLE CalSourceEnergyCalib\n{}\n", row.join(","));
    let (_, expected, _) = input_err(parse_source_table(&bad, p, RowCheck::AllowGaps).unwrap_err());
    assert!(expected.contains("column 18 (ndf)"), "{expected}");
    // Combined table: unterminated quote.
    let e = parse_combined_table(
        "TABLE CalCombinedEnergyCalib\n0,1.0,0.0,0,\"OK\n",
        p,
        RowCheck::AllowGaps,
    )
    .unwrap_err();
    assert!(e.to_string().contains("unterminated"), "{e}");
    // Missing file.
    assert!(matches!(
        read_energy_table(Path::new("/nonexistent/x.txt"), RowCheck::Strict),
        Err(Error::Core(_))
    ));
}

proptest! {
    #[test]
    fn parsers_never_panic(body in "(\\PC{0,30}\n){0,8}", header in prop::sample::select(vec![
        "TABLE CalEnergyCalib\n", "TABLE CalSourceEnergyCalib\n", "TABLE CalCosmicEnergyCalib\n",
        "TABLE CalCombinedEnergyCalib\n", "",
    ])) {
        let text = format!("{header}{body}");
        let p = Path::new("x");
        for check in [RowCheck::Strict, RowCheck::AllowGaps] {
            let _ = parse_energy_table(&text, p, check);
            let _ = parse_source_table(&text, p, check);
            let _ = parse_combined_table(&text, p, check);
            let _ = parse_cosmic_table(&text, p, CosmicLayout::Standard, check);
            let _ = parse_cosmic_table(&text, p, CosmicLayout::Legacy9, check);
        }
    }

    #[test]
    fn csv_like_rows_never_panic(fields in prop::collection::vec("[0-9.eE+\\-\"a, ]{0,8}", 1..20)) {
        let text = format!("TABLE CalCombinedEnergyCalib\n0,{}\n", fields.join(","));
        let _ = parse_combined_table(&text, Path::new("x"), RowCheck::AllowGaps);
        let text = format!("TABLE CalCosmicEnergyCalib\n0,{}\n", fields.join(","));
        let (layout, check) = (CosmicLayout::Legacy9, RowCheck::AllowGaps);
        let _ = parse_cosmic_table(&text, Path::new("x"), layout, check);
    }
}

/// Reliability defect 10: the table readers name the file and line of a byte that is not UTF-8.
#[test]
fn non_utf8_bytes_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("energy.txt");
    std::fs::write(&p, b"TABLE CalEnergyCalib\n0,0.0625\n1,0.06\xfe\n").unwrap();
    let e = read_energy_table(&p, RowCheck::AllowGaps)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("energy.txt:3: expected UTF-8 text, found byte 0xfe"),
        "{e}"
    );
}
