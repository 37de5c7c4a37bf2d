//! Readers on bad input: arbitrary bytes never panic any reader (proptest); malformed lines and
//! unparseable timestamps are reported with their location; a job whose input is bad writes
//! nothing.

use std::collections::BTreeSet;
use std::path::Path;

use pixel_monitor::dcs::{DcsKind, DcsStore};
use pixel_monitor::fills::{FillSelection, read_bad_fills, read_fills};
use pixel_monitor::time::TimeReader;
use proptest::prelude::*;

/// Runs every reader on `bytes` written to files with the extensions the readers dispatch on.
fn all_readers(dir: &Path, bytes: &[u8]) {
    let r = TimeReader::utc();
    for name in ["x.csv", "x.json", "x.txt", "x.parquet"] {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        let _ = read_fills(&p, &r, &FillSelection::default(), &BTreeSet::new());
        let _ = read_bad_fills(&p);
        let _ = pixel_monitor::lumi::read_brilcalc(&p, &r);
        let _ = pixel_monitor::lumi::read_oms_lumi(&p);
        let _ = pixel_monitor::lumi::read_lumi_csv(&p);
        for kind in [DcsKind::Caen, DcsKind::Plc, DcsKind::Hv] {
            let _ = DcsStore::read(&p, kind, &r);
        }
        let _ = pixel_monitor::currents::read_from_database(&p, 1);
        let _ = pixel_monitor::currents::read_keyed_text(&p);
        let _ = pixel_monitor::temperatures::read_plc_text(&p);
        let _ = pixel_monitor::profile::read_profile_text(&p);
        let _ = pixel_monitor::fluence::read_usrbin_ascii(&p, true, false);
        let _ = pixel_monitor::fluence::read_field(&p, false);
        let _ = pixel_monitor::config::CrossSections::read(&p);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let d = tempfile::tempdir().unwrap();
        all_readers(d.path(), &bytes);
    }

    #[test]
    fn mutated_valid_inputs_never_panic(pos in 0usize..400, byte in any::<u8>(), which in 0usize..6) {
        let valid = [
            "fill_number,start_stable_beam,end_stable_beam,bunches_colliding\n8000,2022-08-01 10:00:00.000000,2022-08-01 22:30:00.000000,2400\n",
            "#Data tag : x\n#run:fill,ls,time,beamstatus,E(GeV),delivered(/ub),recorded(/ub),avgpu,source\n1:8000,1:1,1659348000,STABLE BEAMS,6800,10.5,9.8,50,HFOC\n#Summary:\n",
            "alias,change_date,actual_imon,actual_vmon\nCMS_TRACKER/A/PixelBarrel_BpI_S1_LAY14/channel002,2022-08-01 10:19:53,392.609,250.0\n",
            "{\"data\": [{\"attributes\": {\"fill_number\": 8000, \"start_stable_beam\": \"2022-08-01T10:00:00Z\", \"end_stable_beam\": \"2022-08-01T22:30:00Z\", \"delivered_lumi\": 1.5}, \"meta\": {\"row\": {\"delivered_lumi\": {\"units\": \"pb^{-1}\"}}}}]}",
            "Fill\tTimestamp [s]\tDuration [s]\tTemperature [K]\tFluence [n_eq/cm2/s]\tLeakage_current [uA]\n8000\t1659349200\t1200\t\t252.35\t\t 330000123\t\t392.61\n",
            "1\n title\n\n R - Z binning n. 1 \"a\" , generalized particle n. 201\n      R coordinate: from 0.0000E+00 to 2.0000E-01 cm,     2 bins (1.0000E-01 cm wide)\n      Z coordinate: from -1.0000E+00 to 1.0000E+00 cm,     2 bins (1.0000E+00 cm wide)\n      axis\n      Data follow in a matrix\n\n 1.0E-01 2.0E-01 3.0E-01 4.0E-01\n\n Percentage errors follow\n\n 1.0 2.0 3.0 4.0\n",
        ];
        let mut b = valid[which].as_bytes().to_vec();
        if !b.is_empty() {
            let i = pos % b.len();
            b[i] = byte;
        }
        let d = tempfile::tempdir().unwrap();
        all_readers(d.path(), &b);
    }
}

#[test]
fn bad_timestamps_are_located_and_nothing_is_written() {
    let d = tempfile::tempdir().unwrap();
    let fills = d.path().join("fills.csv");
    std::fs::write(
        &fills,
        "fill_number,start_stable_beam,end_stable_beam\n8000,2022-08-01 10:00:00,2022-08-01 22:30:00\n8001,2022-08-32 02:15:00,2022-08-02 02:30:00\n",
    )
    .unwrap();
    let out = d.path().join("out");
    let e = pixel_monitor::jobs::run_fills(&pixel_monitor::jobs::FillsJob {
        input: Some(fills.clone()),
        output_dir: out.clone(),
        ..Default::default()
    })
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("fills.csv:3:") && e.contains("2022-08-32 02:15:00"),
        "{e}"
    );
    assert!(!out.exists(), "a failed job left output behind");

    // A CAEN export with a bad number on line 3: the currents job writes nothing.
    std::fs::write(
        &fills,
        "fill_number,start_stable_beam,end_stable_beam\n8000,2022-08-01 10:00:00,2022-08-01 22:30:00\n",
    )
    .unwrap();
    let caen = d.path().join("caen.csv");
    std::fs::write(
        &caen,
        "alias,change_date,actual_imon,actual_vmon\nA/PixelBarrel_BpI_S1_LAY14/channel002,2022-08-01 10:19:53,392.609,250.0\nA/PixelBarrel_BpI_S1_LAY14/channel003,2022-08-01 10:19:53,39x,250.0\n",
    )
    .unwrap();
    let e = pixel_monitor::jobs::run_currents_from_db(&pixel_monitor::jobs::CurrentsFromDbJob {
        fills: Some(fills),
        caen: Some(caen),
        output_dir: out.clone(),
        ..Default::default()
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("caen.csv:3:") && e.contains("39x"), "{e}");
    assert!(!out.exists());
}

#[test]
fn unmapped_aliases_are_counted() {
    let d = tempfile::tempdir().unwrap();
    let fills = d.path().join("fills.csv");
    std::fs::write(
        &fills,
        "fill_number,start_stable_beam,end_stable_beam\n8000,2022-08-01 10:00:00,2022-08-01 22:30:00\n",
    )
    .unwrap();
    let caen = d.path().join("caen.csv");
    std::fs::write(
        &caen,
        "alias,change_date,actual_imon,actual_vmon\n\
         A/PixelBarrel_BpI_S1_LAY14/channel002,2022-08-01 10:19:53,392.609,250.0\n\
         A/PixelBarrel_BpI_S1_LAY1/channel002,2022-08-01 10:19:53,1.0,250.0\n\
         A/PixelEndCap_BpI_D1_ROG1/channel002,2022-08-01 10:19:53,1.0,250.0\n\
         A/PixelBarrel_BpI_S1_LAY14/channel007,2022-08-01 10:19:53,1.0,250.0\n\
         A/TIB_layer1/channel002,2022-08-01 10:19:53,1.0,250.0\n",
    )
    .unwrap();
    let out = d.path().join("out");
    let r = pixel_monitor::jobs::run_currents_from_db_with(
        &pixel_monitor::jobs::CurrentsFromDbJob {
            fills: Some(fills.clone()),
            caen: Some(caen.clone()),
            output_dir: out.join("db"),
            ..Default::default()
        },
        &pixel_monitor::jobs::load_fills(&fills, None, None, &Default::default()).unwrap(),
        &DcsStore::read(&caen, DcsKind::Caen, &TimeReader::utc()).unwrap(),
        Some(&out.join("processed")),
    )
    .unwrap()
    .0;
    assert_eq!(r.readout.phase0_alias_channels, 1);
    assert_eq!(r.readout.other_subsystem_channels, 1);
    assert_eq!(r.readout.not_pixel_channels, 1);
    // channel007 passes the alias filters but maps to nothing.
    assert_eq!(r.readout.unmapped_readings, 1);
    let text = r.to_string();
    assert!(
        text.contains("1 readings mapped to no readout group"),
        "{text}"
    );
}
