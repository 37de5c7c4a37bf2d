//! Reliability defect 3 (physics values unchecked): SimEfficiencies2 rows and spectrum tables
//! outside their documented validity range are refused with the file and line, instead of
//! giving negative, doubled or vanishing normalisations with exit 0.

use std::path::Path;

use mu2e_ensemble::normalizations::StopRates;
use mu2e_ensemble::tables::{SimEfficiencies, Spectrum};

const GOOD: &str = "\
MuBeamCat,213816,100000000,0.00213816
EleBeamCat,5532579,100000000,0.05532579
MuminusStopsCat,1435092,4000000000,0.000358773
IPAStopsCat,22519,3584800000,0.00000628180093729078
PiBeamCat,0,0,0.001880093
PiTargetStops,41324703,80000000,0.5165587875
PiMinusFilter,6634478,0,0
PhysicalPionStops,0,10000000000,0
PiSelectedLifeimeWeight_sampler,0,0,2393.604874
";

fn rates(text: &str) -> Result<StopRates, String> {
    let mut t = SimEfficiencies::parse(text, Path::new("simeff.csv")).map_err(|e| e.to_string())?;
    t.source = Some("simeff.csv".into());
    StopRates::from_simeff(&t).map_err(|e| e.to_string())
}

#[test]
fn hostile_values_simefficiencies_rows_are_refused() {
    // The real table (with its unused rows of 0 generated and a weight sum > 1) is accepted.
    let r = rates(GOOD).unwrap();
    assert!((r.muon_stops_per_pot - 0.00213816 * 0.000358773 * 1000.0).abs() < 1e-18);
    assert!(r.pion.is_some());
    let with = |from: &str, to: &str| GOOD.replace(from, to);

    // A negative efficiency (gave a negative DIO normalisation).
    let e = rates(&with("0.000358773", "-0.000358773")).unwrap_err();
    assert!(
        e.contains("simeff.csv:3: expected an efficiency in (0, 1] for 'MuminusStopsCat'"),
        "{e}"
    );
    // An efficiency above 1.
    let e = rates(&with("100000000,0.00213816", "100000000,1.5")).unwrap_err();
    assert!(e.contains("simeff.csv:1:") && e.contains("(0, 1]"), "{e}");
    // Zero: a product of zero is no rate.
    let e = rates(&with("3584800000,0.00000628180093729078", "3584800000,0")).unwrap_err();
    assert!(e.contains("simeff.csv:4:"), "{e}");
    // More passed than generated.
    let e = rates(&with("1435092,4000000000", "5000000000,4000000000")).unwrap_err();
    assert!(
        e.contains("simeff.csv:3:") && e.contains("passed in [0, generated"),
        "{e}"
    );
    // A duplicated row (multiplied in again by the originals).
    let dup = format!("{GOOD}MuminusStopsCat,1435092,4000000000,0.000358773\n");
    let e = rates(&dup).unwrap_err();
    assert!(
        e.contains("simeff.csv:10: expected one row 'MuminusStopsCat' (the first is at line 3)"),
        "{e}"
    );
    // Pion counters that divide must be positive.
    let e = rates(&with(
        "PhysicalPionStops,0,10000000000",
        "PhysicalPionStops,0,0",
    ))
    .unwrap_err();
    assert!(
        e.contains("simeff.csv:8:") && e.contains("positive generated count"),
        "{e}"
    );
}

#[test]
fn hostile_values_spectrum_tables_are_refused() {
    let parse = |text: &str| {
        Spectrum::parse(text, Path::new("spec.tbl"))
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    parse("# E w\n100.0 0.01\n100.1 0.02\n").unwrap();
    let e = parse("100.0 1e308\n100.1 0.02\n").unwrap_err();
    assert!(
        e.contains("spec.tbl:1: expected a spectrum weight in [0, 1e30]"),
        "{e}"
    );
    let e = parse("100.0 0.01\n").unwrap_err();
    assert!(e.contains("spec.tbl:1: expected at least 2 rows"), "{e}");
    let e = parse("100.0 0\n100.1 0\n").unwrap_err();
    assert!(
        e.contains("spec.tbl:2: expected a spectrum with a positive sum"),
        "{e}"
    );
    let e = parse("100.0 0.01\n100.0 0.02\n").unwrap_err();
    assert!(
        e.contains("spec.tbl:2: expected an energy above the previous row"),
        "{e}"
    );
    let e = parse("100.1 0.01\n100.0 0.02\n").unwrap_err();
    assert!(e.contains("spec.tbl:2:"), "{e}");
    let e = parse("100.0 -0.01\n100.1 0.02\n").unwrap_err();
    assert!(e.contains("spec.tbl:1:"), "{e}");
}

/// Reliability defect 10: every text reader names the file and line of a byte that is not
/// UTF-8.
#[test]
fn non_utf8_bytes_are_located_in_every_table_reader() {
    use mu2e_ensemble::tables::EfficiencyTable;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.tbl");
    std::fs::write(&p, b"100.0 0.1\n100.1 0.2\n100.2 \xff\n").unwrap();
    for e in [
        Spectrum::read(&p).map(drop).unwrap_err().to_string(),
        EfficiencyTable::read(&p).map(drop).unwrap_err().to_string(),
        SimEfficiencies::read(&p).map(drop).unwrap_err().to_string(),
    ] {
        assert!(
            e.contains("t.tbl:3: expected UTF-8 text, found byte 0xff"),
            "{e}"
        );
    }
}
