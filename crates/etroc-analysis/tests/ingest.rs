//! Ingest and event building (spec 1.1-1.4, 2): formats, located errors, empty input, patterns.

use std::path::{Path, PathBuf};

use etroc_analysis::ingest::{
    BeamFileName, ChargeInjectionFileName, EventPattern, Hits, IngestOptions, RunMetadata,
    parse_beam_txt, read_beam_txt, read_charge_injection_dat, read_raw_words,
};

const BANNER: &str = "min file index: 0, max file index: 99\n";

fn line(b: u8, toa: u16, tot: u16, cal: u16, flag: u8) -> String {
    format!("{b} {toa} {tot} {cal} {flag} 2023-03-29 12:00:00\n")
}

fn parse(text: &str, opts: &IngestOptions) -> etroc_analysis::Result<Hits> {
    parse_beam_txt(text.as_bytes(), Path::new("F5P5_F17P5_B2P5_Beam.txt"), opts).map(|r| r.0)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// The error message of parsing `text` (after the banner) with the default options.
fn error_of(body: &str) -> String {
    let text = format!("{BANNER}{}{body}", line(0, 1, 2, 130, 1));
    parse(&text, &IngestOptions::beam_txt())
        .unwrap_err()
        .to_string()
}

#[test]
fn malformed_lines_give_located_errors() {
    let path = "F5P5_F17P5_B2P5_Beam.txt";
    // Line 1 is the banner, line 2 a good hit, line 3 the bad one.
    let cases = [
        (
            "0 1 2 130 1 2023-03-29\n",
            "expected 7 whitespace-separated tokens",
            "found 6 tokens '0 1 2 130 1 2023-03-29'",
        ),
        (
            "0 1 2 130 1 2023-03-29 12:00:00 extra\n",
            "expected 7 whitespace-separated tokens",
            "found 8 tokens",
        ),
        (
            "0 1x 2 130 1 2023-03-29 12:00:00\n",
            "expected TOA code as a non-negative integer",
            "found '1x'",
        ),
        (
            "0 -1 2 130 1 2023-03-29 12:00:00\n",
            "expected TOA code as a non-negative integer",
            "found '-1'",
        ),
        (
            "0 1024 2 130 1 2023-03-29 12:00:00\n",
            "expected TOA code in 0..=1023",
            "found 1024",
        ),
        (
            "0 1 512 130 1 2023-03-29 12:00:00\n",
            "expected TOT code in 0..=511",
            "found 512",
        ),
        (
            "0 1 2 1024 1 2023-03-29 12:00:00\n",
            "expected CAL code in 0..=1023",
            "found 1024",
        ),
        (
            "4 1 2 130 1 2023-03-29 12:00:00\n",
            "expected board_id (0, 1, 2 or 3) in 0..=3",
            "found 4",
        ),
        (
            "0 1 2 130 2 2023-03-29 12:00:00\n",
            "expected hit_flag (0 or 1) in 0..=1",
            "found 2",
        ),
        (
            "0 1 2 130 1 2023-02-30 12:00:00\n",
            "expected a date YYYY-MM-DD and a time HH:MM:SS",
            "found '2023-02-30 12:00:00'",
        ),
        (
            "0 1 2 130 1 2023-03-29 25:00:00\n",
            "expected a date YYYY-MM-DD and a time HH:MM:SS",
            "found '2023-03-29 25:00:00'",
        ),
    ];
    for (body, expected, found) in cases {
        let msg = error_of(body);
        assert!(
            msg.starts_with(&format!("{path}:3: {expected}")),
            "{body:?}: {msg}"
        );
        assert!(msg.contains(found), "{body:?}: {msg}");
    }
}

#[test]
fn error_line_counts_blank_lines_and_banner() {
    let text = format!("{BANNER}\n{}\n\n0 1 2 3\n", line(0, 1, 2, 130, 1));
    let msg = parse(&text, &IngestOptions::beam_txt())
        .unwrap_err()
        .to_string();
    assert!(msg.starts_with("F5P5_F17P5_B2P5_Beam.txt:6: "), "{msg}");
}

#[test]
fn errors_name_the_file_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "run.txt", &format!("{BANNER}0 1 2 3 1 x y\n"));
    let msg = read_beam_txt(&p, &IngestOptions::beam_txt())
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with(&format!("{}:2: expected a date", p.display())),
        "{msg}"
    );
}

#[test]
fn empty_file_and_banner_only_are_runs_with_zero_hits() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("empty.txt", ""),
        ("banner.txt", BANNER),
        ("nonl.txt", "min file index: 0"),
    ] {
        let p = write(dir.path(), name, text);
        let (hits, s) = read_beam_txt(&p, &IngestOptions::beam_txt()).unwrap();
        assert!(hits.is_empty(), "{name}");
        assert_eq!((s.lines, s.events), (0, 0), "{name}");
        // The empty table still converts to the full schema.
        assert_eq!(hits.to_record_batch().num_rows(), 0);
    }
    let p = write(dir.path(), "x_Split_0.dat", "");
    let opts = IngestOptions {
        add_extra_data: false,
        ..IngestOptions::charge_injection()
    };
    let (hits, _) = read_charge_injection_dat(&p, &opts).unwrap();
    assert!(hits.is_empty());
}

#[test]
fn missing_file_is_an_error() {
    let e = read_beam_txt(Path::new("/nonexistent/x.txt"), &IngestOptions::beam_txt()).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/x.txt"), "{e}");
}

#[test]
fn default_pattern_builds_three_board_events() {
    // A complete event, a flag-0 hit inside a triplet (filtered before matching), an incomplete
    // event (1,3 without 0), a stray 0 followed by a complete event, and trailing junk.
    let mut text = String::from(BANNER);
    text += &line(0, 10, 1, 130, 1);
    text += &line(1, 11, 1, 130, 1);
    text += &line(3, 13, 1, 130, 1); // event 0
    text += &line(1, 21, 1, 130, 1);
    text += &line(3, 23, 1, 130, 1); // incomplete: dropped
    text += &line(0, 30, 1, 130, 1);
    text += &line(1, 0, 0, 0, 0); // flag 0 inside the triplet
    text += &line(1, 31, 1, 130, 1);
    text += &line(3, 33, 1, 130, 1); // event 1
    text += &line(0, 40, 1, 130, 1); // stray
    text += &line(0, 50, 1, 130, 1);
    text += &line(1, 51, 1, 130, 1);
    text += &line(3, 53, 1, 130, 1); // event 2
    text += &line(0, 60, 1, 130, 1);
    text += &line(1, 61, 1, 130, 1); // incomplete at the end
    let (hits, s) = parse_beam_txt(
        text.as_bytes(),
        Path::new("F5P5_F17P5_B2P5_Beam.txt"),
        &IngestOptions::beam_txt(),
    )
    .unwrap();
    assert_eq!(hits.event, vec![0, 0, 0, 1, 1, 1, 2, 2, 2]);
    assert_eq!(hits.data_board_id, vec![0, 1, 3, 0, 1, 3, 0, 1, 3]);
    assert_eq!(
        hits.time_of_arrival,
        vec![10, 11, 13, 30, 31, 33, 50, 51, 53]
    );
    assert_eq!(s.lines, 15);
    assert_eq!(s.hits_after_flag_filter, 14);
    assert_eq!((s.hits_in_events, s.events), (9, 3));
    assert_eq!(
        hits.metadata,
        RunMetadata::Beam(BeamFileName {
            pixel_ids: ["F5P5".into(), "F17P5".into(), "B2P5".into()]
        })
    );
    let batch = hits.to_record_batch();
    let pix = batch
        .column_by_name("pixel_id")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow_array::StringArray>()
        .unwrap();
    assert_eq!(pix.value(0), "F5P5");
    assert_eq!(pix.value(1), "F17P5");
    assert_eq!(pix.value(2), "B2P5");
}

#[test]
fn keep_all_keeps_flag_zero_and_breaks_the_triplet() {
    let mut text = String::from(BANNER);
    text += &line(0, 30, 1, 130, 1);
    text += &line(1, 0, 0, 0, 0);
    text += &line(1, 31, 1, 130, 1);
    text += &line(3, 33, 1, 130, 1);
    let opts = IngestOptions {
        keep_all: true,
        ..IngestOptions::beam_txt()
    };
    let hits = parse(&text, &opts).unwrap();
    assert!(hits.is_empty(), "0,1,1,3 has no 0-1-3 window");
    let opts = IngestOptions {
        keep_all: true,
        pattern: EventPattern::none(),
        ..IngestOptions::beam_txt()
    };
    let hits = parse(&text, &opts).unwrap();
    assert_eq!(hits.hit_flag, vec![true, false, true, true]);
}

#[test]
fn every_pattern() {
    // Board sequence 0 1 3 0 3 1 3 1 0 1
    let seq = [0u8, 1, 3, 0, 3, 1, 3, 1, 0, 1];
    let mut text = String::from(BANNER);
    for (i, &b) in seq.iter().enumerate() {
        text += &line(b, i as u16, 0, 130, 1);
    }
    let expect: [(u8, Vec<u16>); 5] = [
        (1, vec![0, 1, 2]),
        (2, vec![0, 1, 8, 9]),
        (3, vec![3, 4]),
        (4, vec![1, 2, 5, 6]),
        (5, vec![3, 4, 5]),
    ];
    for (p, toa) in expect {
        let opts = IngestOptions {
            pattern: EventPattern::from_index(p).unwrap(),
            ..IngestOptions::beam_txt()
        };
        let hits = parse(&text, &opts).unwrap();
        assert_eq!(hits.time_of_arrival, toa, "pattern {p}");
        let n = EventPattern::from_index(p).unwrap().boards().len();
        let ev: Vec<i64> = (0..toa.len()).map(|r| (r / n) as i64).collect();
        assert_eq!(hits.event, ev, "pattern {p}");
    }
    assert!(EventPattern::from_index(6).is_err());
    assert!(EventPattern::custom(vec![0, 0]).is_err());
}

#[test]
fn pattern_zero_numbers_events_by_data_row() {
    // Rows 0..4 (blank lines not counted); row 2 has flag 0 and is dropped.
    let mut text = String::from(BANNER);
    text += &line(0, 0, 0, 130, 1);
    text += "\n";
    text += &line(1, 1, 0, 130, 1);
    text += &line(3, 2, 0, 130, 0);
    text += &line(3, 3, 0, 130, 1);
    let opts = IngestOptions {
        pattern: EventPattern::none(),
        ..IngestOptions::beam_txt()
    };
    let hits = parse(&text, &opts).unwrap();
    assert_eq!(hits.event, vec![0, 1, 3]);
}

#[test]
fn header_lines_option() {
    let text = format!("a\nb\n{}", line(0, 5, 0, 130, 1));
    let opts = IngestOptions {
        header_lines: 2,
        pattern: EventPattern::none(),
        ..IngestOptions::beam_txt()
    };
    assert_eq!(parse(&text, &opts).unwrap().time_of_arrival, vec![5]);
}

#[test]
fn datetime_is_parsed_and_stored() {
    let text =
        format!("{BANNER}0 1 2 130 1 2023-03-29 12:00:00\n0 1 2 130 1 2023-03-29 12:00:01\n");
    let opts = IngestOptions {
        pattern: EventPattern::none(),
        ..IngestOptions::beam_txt()
    };
    let hits = parse(&text, &opts).unwrap();
    let dt = hits.datetime.clone().unwrap();
    assert_eq!(dt[1] - dt[0], 1);
    assert_eq!(
        etroc_analysis::ingest::format_datetime(dt[0]),
        "2023-03-29 12:00:00"
    );
    // In Parquet the column is a timestamp (ms) that other readers see as a time, not a bare
    // integer (Parquet has no seconds unit), and it reads back to the same seconds.
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("hits.parquet");
    hep_core::io::write_parquet(&path, &[hits.to_record_batch()]).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let reader = parquet::file::reader::SerializedFileReader::new(file).unwrap();
    use parquet::file::reader::FileReader;
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let col = (0..schema.num_columns())
        .map(|i| schema.column(i))
        .find(|c| c.name() == "datetime")
        .unwrap();
    assert!(
        matches!(
            col.logical_type_ref(),
            Some(parquet::basic::LogicalType::Timestamp(t))
                if matches!(t.unit, parquet::basic::TimeUnit::MILLIS)
        ),
        "{:?}",
        col.logical_type_ref()
    );
    let back = etroc_analysis::ingest::Hits::from_record_batch(
        &hep_core::io::read_parquet_table(&path).unwrap(),
    )
    .unwrap();
    assert_eq!(back.datetime, hits.datetime);
}

const CI_NAME: &str =
    "TDC_Data_PhaseAdj3_F5P5_QSel10_DAC540_F17P5_QSel10_DAC720_B2P5_QSel10_DAC720_Split_0.dat";

#[test]
fn charge_injection_file_name() {
    let m = ChargeInjectionFileName::parse(Path::new(CI_NAME)).unwrap();
    assert_eq!(m.phase_adjust, 3);
    assert_eq!(m.boards[0].pixel_id, "F5P5");
    assert_eq!(m.boards[0].injected_charge_fc, 10);
    assert_eq!(m.boards[0].discriminator_threshold_dac, 540);
    assert_eq!(m.boards[2].pixel_id, "B2P5");
    assert_eq!(m.boards[2].discriminator_threshold_dac, 720);
    // The run-directory name (without _Split_0.dat) parses the same way.
    let dir_name = &CI_NAME[..CI_NAME.len() - 12];
    assert_eq!(
        ChargeInjectionFileName::parse(Path::new(dir_name)).unwrap(),
        m
    );
    let e = ChargeInjectionFileName::parse(Path::new(
        "TDC_Data_PhaseAdjX_F5P5_QSel10_DAC540_F17P5_QSel10_DAC720_B2P5_QSel10_DAC720_Split_0.dat",
    ))
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("'PhaseAdj' followed by an integer") && e.contains("'PhaseAdjX'"),
        "{e}"
    );
    let e = ChargeInjectionFileName::parse(Path::new("run_0.dat"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("at least 12"), "{e}");
}

#[test]
fn charge_injection_dat() {
    let dir = tempfile::tempdir().unwrap();
    // "%2d %3d %3d %3d %d" with leading spaces; flag-0 rows dropped, events renumbered.
    let text = " 0 200  50 130 1\n 1 201  51 129 0\n 3 202  52 131 1\n";
    let p = write(dir.path(), CI_NAME, text);
    let (hits, s) = read_charge_injection_dat(&p, &IngestOptions::charge_injection()).unwrap();
    assert_eq!(hits.event, vec![0, 1]);
    assert_eq!(hits.data_board_id, vec![0, 3]);
    assert_eq!(hits.calibration_code, vec![130, 131]);
    assert!(hits.datetime.is_none());
    assert_eq!(s.lines, 3);
    let batch = hits.to_record_batch();
    let q = etroc_analysis::store::column_to_i64(&batch, "board_discriminator_threshold").unwrap();
    assert_eq!(q, vec![540, 720]);
    let ph = etroc_analysis::store::column_to_i64(&batch, "phase_adjust").unwrap();
    assert_eq!(ph, vec![3, 3]);
    // 7 tokens is not the .dat format.
    let p = write(dir.path(), CI_NAME, "0 1 2 3 1 2023-03-29 12:00:00\n");
    let e = read_charge_injection_dat(&p, &IngestOptions::charge_injection()).unwrap_err();
    assert!(
        e.to_string()
            .contains(":1: expected 5 whitespace-separated tokens"),
        "{e}"
    );
}

#[test]
fn raw_words() {
    let dir = tempfile::tempdir().unwrap();
    let word = |b: u32, toa: u32, tot: u32, cal: u32, f: u32| {
        (b << 30) | (tot << 21) | (toa << 11) | (cal << 1) | f
    };
    let text = format!(
        "{}\n0\n{}\n\n{}\n{}\n7\n{}\n",
        word(0, 100, 50, 130, 1),
        word(1, 101, 51, 131, 1),
        word(2, 102, 52, 132, 1), // board 2 dropped
        word(3, 103, 53, 133, 1),
        word(3, 104, 54, 134, 0), // flag 0 dropped by the filter
    );
    let p = write(dir.path(), "raw.dat", &text);
    let opts = IngestOptions {
        header_lines: 0,
        ..IngestOptions::beam_txt()
    };
    let (hits, _) = read_raw_words(&p, &opts).unwrap();
    assert_eq!(hits.data_board_id, vec![0, 1, 3]);
    assert_eq!(hits.time_of_arrival, vec![100, 101, 103]);
    assert_eq!(hits.time_over_threshold, vec![50, 51, 53]);
    assert_eq!(hits.calibration_code, vec![130, 131, 133]);
    assert_eq!(hits.event, vec![0, 0, 0]);
    let p = write(dir.path(), "bad.dat", "123\n4294967296\n");
    let e = read_raw_words(&p, &opts).unwrap_err().to_string();
    assert!(
        e.contains("bad.dat:2: expected a 32-bit data word as a non-negative integer"),
        "{e}"
    );
}

/// A generated file large enough to be cut into many parallel pieces gives exactly what a
/// straightforward line-by-line reading gives.
#[test]
fn parallel_parse_matches_sequential_reference() {
    let mut text = String::from(BANNER);
    let mut expect = Vec::new();
    let mut state: u64 = 12345;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as u32
    };
    for i in 0..60_000u32 {
        let b = [0u8, 1, 3][(i % 3) as usize];
        let (toa, tot, cal) = (next() % 1024, next() % 512, 120 + next() % 20);
        let flag = u8::from(next() % 50 != 0);
        text += &format!(
            "{b} {toa} {tot} {cal} {flag} 2023-03-29 12:{:02}:{:02}\n",
            (i / 60) % 60,
            i % 60
        );
        if flag == 1 {
            expect.push((b, toa as u16, tot as u16, cal as u16));
        }
    }
    let opts = IngestOptions {
        pattern: EventPattern::none(),
        ..IngestOptions::beam_txt()
    };
    let hits = parse(&text, &opts).unwrap();
    let got: Vec<(u8, u16, u16, u16)> = (0..hits.len())
        .map(|i| {
            (
                hits.data_board_id[i],
                hits.time_of_arrival[i],
                hits.time_over_threshold[i],
                hits.calibration_code[i],
            )
        })
        .collect();
    assert_eq!(got, expect);
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Arbitrary bytes give hits or a located error, never a panic.
        #[test]
        fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            for p in 0..=5u8 {
                let opts = IngestOptions {
                    pattern: EventPattern::from_index(p).unwrap(),
                    ..IngestOptions::beam_txt()
                };
                if let Err(e) = parse_beam_txt(&bytes, Path::new("a_b_c.txt"), &opts) {
                    prop_assert!(e.to_string().starts_with("a_b_c.txt:"), "{}", e);
                }
            }
        }

        /// Near-valid lines (numbers, dates and separators shuffled) never panic either, and
        /// valid ones always parse.
        #[test]
        fn near_valid_lines(
            fields in proptest::collection::vec(
                prop_oneof![
                    (0u32..5000).prop_map(|v| v.to_string()),
                    Just("2023-03-29".to_string()),
                    Just("12:00:00".to_string()),
                    Just("-1".to_string()),
                    Just("".to_string()),
                ],
                0..9,
            ),
            sep in prop_oneof![Just(" "), Just("\t"), Just("  ")],
        ) {
            let text = format!("banner\n{}\n", fields.join(sep));
            let _ = parse(&text, &IngestOptions::beam_txt());
            let good = format!("banner\n0{sep}1{sep}2{sep}3{sep}1{sep}2023-03-29{sep}12:00:00\r\n");
            let opts = IngestOptions { pattern: EventPattern::none(), ..IngestOptions::beam_txt() };
            prop_assert_eq!(parse(&good, &opts).unwrap().len(), 1);
        }
    }
}

/// The synthetic run of spec 7.1 (simulated here with the crate's generator): pattern matching
/// on the flag-1 stream finds exactly the complete events, whatever the 300 stray hits, the
/// incomplete blocks and the 200 flag-0 lines inside triplets.
#[test]
fn synthetic_run_gives_exactly_the_complete_events() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = etroc_analysis::simulate::BeamSimConfig::default();
    let (txt, _, truth) = etroc_analysis::simulate::write_beam_run(dir.path(), &cfg).unwrap();
    let (hits, s) = read_beam_txt(&txt, &IngestOptions::beam_txt()).unwrap();
    assert_eq!(truth.n_complete_events, 20_000);
    assert_eq!(s.events, 20_000);
    assert_eq!(s.lines as usize, truth.n_lines);
    assert_eq!(
        s.hits_after_flag_filter as usize,
        truth.n_lines - cfg.n_flag0_lines
    );
    assert_eq!(s.hits_in_events, 60_000);
    assert!(hits.data_board_id.chunks(3).all(|c| c == [0, 1, 3]));
    assert!(
        hits.event
            .chunks(3)
            .enumerate()
            .all(|(e, c)| c.iter().all(|&x| x == e as i64))
    );
    assert_eq!(
        hits.metadata,
        RunMetadata::Beam(BeamFileName {
            pixel_ids: ["F5P5".into(), "F17P5".into(), "B2P5".into()]
        })
    );
}
