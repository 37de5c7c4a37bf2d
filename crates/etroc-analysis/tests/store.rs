//! Storage: SQLite names, types and values (spec 1.5), Parquet round trips, Arrow IPC filters.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use etroc_analysis::ingest::{
    BeamFileName, ChargeInjectionBoard, ChargeInjectionFileName, Hits, RunMetadata,
};
use etroc_analysis::store::{
    self, EventFilter, SqliteMode, SqliteTable, TableOutput, read_filter, read_table, write_filter,
    write_sqlite, write_tables,
};

fn beam_hits() -> Hits {
    Hits {
        event: vec![0, 0, 0, 1, 1, 1],
        data_board_id: vec![0, 1, 3, 0, 1, 3],
        time_of_arrival: vec![100, 200, 300, 1023, 0, 5],
        time_over_threshold: vec![50, 60, 70, 511, 0, 1],
        calibration_code: vec![130, 128, 132, 1023, 0, 131],
        hit_flag: vec![true; 6],
        datetime: Some(vec![1_680_091_200; 6]),
        metadata: RunMetadata::Beam(BeamFileName {
            pixel_ids: ["F5P5".into(), "F17P5".into(), "B2P5".into()],
        }),
    }
}

#[test]
fn ingest_sqlite_schema_and_values_match_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let batch = beam_hits().to_record_batch();
    let written = write_tables(
        dir.path(),
        Some(store::DATA_SQLITE),
        &[TableOutput {
            table: store::HITS_TABLE,
            batch: &batch,
            indexes: &[],
        }],
    )
    .unwrap();
    assert_eq!(
        written,
        vec![
            dir.path().join("etroc1_data.parquet"),
            dir.path().join("data.sqlite")
        ]
    );
    let conn = rusqlite::Connection::open(dir.path().join("data.sqlite")).unwrap();
    let cols: Vec<(String, String)> = conn
        .prepare("PRAGMA table_info(etroc1_data)")
        .unwrap()
        .query_map([], |r| Ok((r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let expect = [
        ("event", "INTEGER"),
        ("data_board_id", "INTEGER"),
        ("time_of_arrival", "INTEGER"),
        ("time_over_threshold", "INTEGER"),
        ("calibration_code", "INTEGER"),
        ("hit_flag", "INTEGER"),
        ("datetime", "TIMESTAMP"),
        ("pixel_id", "TEXT"),
    ];
    assert_eq!(
        cols,
        expect
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>()
    );
    let row: (i64, i64, i64, i64, i64, i64, String, String) = conn
        .query_row(
            "SELECT * FROM etroc1_data WHERE event = 1 AND data_board_id = 0",
            [],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            },
        )
        .unwrap();
    assert_eq!(
        row,
        (
            1,
            0,
            1023,
            511,
            1023,
            1,
            "2023-03-29 12:00:00".to_string(),
            "F5P5".to_string()
        )
    );
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM etroc1_data", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 6);
}

#[test]
fn hits_round_trip_through_parquet_with_units() {
    let dir = tempfile::tempdir().unwrap();
    for hits in [
        beam_hits(),
        Hits {
            datetime: None,
            metadata: RunMetadata::ChargeInjection(ChargeInjectionFileName {
                phase_adjust: -2,
                boards: [
                    ChargeInjectionBoard {
                        pixel_id: "F5P5".into(),
                        injected_charge_fc: 10,
                        discriminator_threshold_dac: 540,
                    },
                    ChargeInjectionBoard {
                        pixel_id: "F17P5".into(),
                        injected_charge_fc: 20,
                        discriminator_threshold_dac: 720,
                    },
                    ChargeInjectionBoard {
                        pixel_id: "B2P5".into(),
                        injected_charge_fc: 30,
                        discriminator_threshold_dac: 721,
                    },
                ],
            }),
            ..beam_hits()
        },
    ] {
        let batch = hits.to_record_batch();
        write_tables(
            dir.path(),
            None,
            &[TableOutput {
                table: "etroc1_data",
                batch: &batch,
                indexes: &[],
            }],
        )
        .unwrap();
        assert!(!dir.path().join("data.sqlite").exists());
        let back = read_table(dir.path(), "etroc1_data").unwrap();
        assert_eq!(Hits::from_record_batch(&back).unwrap(), hits);
        let schema = back.schema();
        assert_eq!(
            schema
                .field_with_name("time_of_arrival")
                .unwrap()
                .metadata()
                .get("unit")
                .map(String::as_str),
            Some("TDC code")
        );
        assert_eq!(
            schema.field_with_name("data_board_id").unwrap().data_type(),
            &DataType::Int8
        );
        if let RunMetadata::ChargeInjection(_) = hits.metadata {
            assert_eq!(
                store::column_to_i64(&back, "board_injected_charge").unwrap(),
                vec![10, 20, 30, 10, 20, 30]
            );
            assert_eq!(
                store::column_to_i64(&back, "board_discriminator_threshold").unwrap(),
                vec![540, 720, 721, 540, 720, 721]
            );
        }
    }
}

#[test]
fn sqlite_maps_types_like_pandas_and_creates_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("data_board_id", DataType::Int64, false),
        Field::new("fbin_mean", DataType::Float64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(vec![0, 1, 3])) as ArrayRef,
            Arc::new(Float64Array::from(vec![Some(0.024), Some(f64::NAN), None])),
        ],
    )
    .unwrap();
    let db = dir.path().join("data.sqlite");
    let tables = [SqliteTable {
        name: "board_info_data",
        batches: std::slice::from_ref(&batch),
        indexes: &["data_board_id"],
    }];
    write_sqlite(&db, &tables, SqliteMode::Replace).unwrap();
    // Update mode keeps other tables and replaces the named one.
    let other = [SqliteTable {
        name: "twc_info",
        batches: std::slice::from_ref(&batch),
        indexes: &[],
    }];
    write_sqlite(&db, &other, SqliteMode::Update).unwrap();
    write_sqlite(&db, &tables, SqliteMode::Update).unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        names,
        [
            "board_info_data",
            "ix_board_info_data_data_board_id",
            "twc_info"
        ]
    );
    let ty: String = conn
        .query_row(
            "SELECT type FROM pragma_table_info('board_info_data') WHERE name = 'fbin_mean'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(ty, "REAL");
    let vals: Vec<Option<f64>> = conn
        .prepare("SELECT fbin_mean FROM board_info_data")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(vals, vec![Some(0.024), None, None], "NaN and null are NULL");
    // Replace mode drops the other table.
    write_sqlite(&db, &tables, SqliteMode::Replace).unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'twc_info'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 0);
    // No temporary file is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn unsupported_column_type_is_an_error_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Date32, false)]));
    let batch = RecordBatch::try_new(
        schema,
        vec![Arc::new(arrow_array::Date32Array::from(vec![1])) as ArrayRef],
    )
    .unwrap();
    let db = dir.path().join("x.sqlite");
    let e = write_sqlite(
        &db,
        &[SqliteTable {
            name: "t",
            batches: std::slice::from_ref(&batch),
            indexes: &[],
        }],
        SqliteMode::Replace,
    )
    .unwrap_err();
    assert!(e.to_string().contains("column 'x' has type Date32"), "{e}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn filters_are_arrow_ipc_files_with_the_original_schema() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("event_filter.fd");
    let f = EventFilter::new(vec![2, 0, 1], vec![false, true, true]).unwrap();
    assert_eq!(f.events(), &[0, 1, 2]);
    assert_eq!(f.accepted(), &[true, true, false]);
    write_filter(&p, &f).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    assert_eq!(&bytes[..6], b"ARROW1");
    assert_eq!(&bytes[bytes.len() - 6..], b"ARROW1");
    let reader =
        arrow_ipc::reader::FileReader::try_new(std::fs::File::open(&p).unwrap(), None).unwrap();
    let schema = reader.schema();
    assert_eq!(schema.field(0).name(), "event");
    assert_eq!(schema.field(0).data_type(), &DataType::Int64);
    assert_eq!(schema.field(1).name(), "accepted");
    assert_eq!(schema.field(1).data_type(), &DataType::Boolean);
    assert!(schema.metadata().contains_key("pandas"));
    assert_eq!(read_filter(&p).unwrap(), f);
    assert_eq!(f.get(2), Some(false));
    assert_eq!(f.get(7), None);
    assert_eq!(f.n_accepted(), 2);
    let g = EventFilter::new(vec![0, 1, 2], vec![true, false, true]).unwrap();
    assert_eq!(f.and(&g).accepted(), &[true, false, false]);
    assert!(EventFilter::new(vec![1, 1], vec![true, true]).is_err());
    // Buffers are LZ4-compressed as pandas writes them: 100 000 consecutive events take 800 kB
    // as plain int64; LZ4 removes most of the repeated high-order zero bytes (about half).
    let big = EventFilter::new(
        (0..100_000).collect(),
        (0..100_000).map(|i| i % 5 != 0).collect(),
    )
    .unwrap();
    let q = dir.path().join("big.fd");
    write_filter(&q, &big).unwrap();
    let size = std::fs::metadata(&q).unwrap().len();
    assert!(size < 600_000, "{size} bytes");
    assert_eq!(read_filter(&q).unwrap(), big);
}

#[test]
fn bulk_filter_lookup_equals_one_lookup_per_event() {
    // Sorted queries with repeats, gaps, events below and above the table and long jumps (the
    // merge walk and its binary-search step), then unsorted queries (the restart): every answer
    // must equal `get(e) == Some(true)`.
    let events: Vec<i64> = (0..5000).map(|i| 3 * i + (i % 7)).collect();
    let accepted: Vec<bool> = (0..5000).map(|i| i % 3 != 1).collect();
    let f = EventFilter::new(events, accepted).unwrap();
    let mut sorted: Vec<i64> = (-5..16_000).step_by(2).collect();
    sorted.extend([16_000, 16_000, 20_000, 1_000_000]);
    let mut unsorted = sorted.clone();
    unsorted.reverse();
    unsorted.extend([7, 14_999, 3, 3, -1, 12_000]);
    for queries in [&sorted, &unsorted] {
        let bulk = f.accepted_of(queries);
        let single: Vec<bool> = queries.iter().map(|&e| f.get(e) == Some(true)).collect();
        assert_eq!(bulk, single);
        assert!(bulk.iter().filter(|&&a| a).count() > 1000);
    }
    assert!(f.accepted_of(&[]).is_empty());
}

#[test]
fn a_table_read_back_from_memory_equals_the_decoded_file() {
    // write_tables keeps the last tables decoded; read_table must return exactly what decoding
    // the Parquet file gives (types, field units, schema metadata, NaN), and must decode again
    // once the file is replaced.
    let dir = tempfile::tempdir().unwrap();
    let hits = beam_hits().to_record_batch();
    let ns_schema = Arc::new(
        Schema::new(vec![
            Field::new("event", DataType::Int64, false),
            Field::new("delta_ns", DataType::Float64, true).with_metadata(
                std::collections::HashMap::from([("unit".to_string(), "ns".to_string())]),
            ),
        ])
        .with_metadata(std::collections::HashMap::from([(
            "run".to_string(),
            "7".to_string(),
        )])),
    );
    let ns = RecordBatch::try_new(
        ns_schema,
        vec![
            Arc::new(Int64Array::from(vec![0, 1, 2])) as ArrayRef,
            Arc::new(Float64Array::from(vec![Some(0.25), None, Some(f64::NAN)])),
        ],
    )
    .unwrap();
    let tables = [
        TableOutput {
            table: "etroc1_data",
            batch: &hits,
            indexes: &[],
        },
        TableOutput {
            table: "twc",
            batch: &ns,
            indexes: &[],
        },
    ];
    let cache = store::TableCache::new();
    store::write_tables_cached(dir.path(), None, &tables, Some(&cache)).unwrap();
    let read = |t: &str, cache: Option<&store::TableCache>| {
        store::read_table_cached(dir.path(), t, cache).unwrap()
    };
    let remembered: Vec<RecordBatch> = ["etroc1_data", "twc"]
        .iter()
        .map(|t| read(t, Some(&cache)))
        .collect();
    // Served from memory: the very buffers of the written batches, not a decoded copy.
    for (r, w) in remembered.iter().zip([&hits, &ns]) {
        for (a, b) in r.columns().iter().zip(w.columns()) {
            assert!(a.to_data().ptr_eq(&b.to_data()), "not from memory");
        }
    }
    // Without the cache (another caller), or after clearing it, the file is decoded.
    for cleared in [false, true] {
        if cleared {
            cache.clear();
        }
        for (t, r) in ["etroc1_data", "twc"].iter().zip(&remembered) {
            let decoded = if cleared {
                read(t, Some(&cache))
            } else {
                read_table(dir.path(), t).unwrap()
            };
            assert!(!decoded.column(0).to_data().ptr_eq(&r.column(0).to_data()));
            assert_eq!(decoded.schema(), r.schema(), "{t}");
            assert_eq!(decoded.num_rows(), r.num_rows(), "{t}");
            for (a, b) in decoded.columns().iter().zip(r.columns()) {
                // NaN != NaN: compare the data buffers bit for bit through the Arrow data.
                assert_eq!(a.to_data(), b.to_data(), "{t}");
            }
        }
    }
    // Written again, then replaced by a file with other rows: the new file is decoded.
    store::write_tables_cached(dir.path(), None, &tables[1..], Some(&cache)).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let other = ns.slice(0, 1);
    hep_core::io::write_parquet(dir.path().join("twc.parquet"), &[other]).unwrap();
    assert_eq!(read("twc", Some(&cache)).num_rows(), 1);
}

/// The original's filters come from `pandas.DataFrame.to_feather`, which pyarrow compresses with
/// LZ4 frames by default: such a file (written here the same way, LZ4-framed record batches in
/// an Arrow IPC file) reads back like an uncompressed one, so existing run directories stay
/// usable.
#[test]
fn lz4_compressed_filters_from_pandas_are_read() {
    use arrow_array::BooleanArray;
    use arrow_ipc::CompressionType;
    use arrow_ipc::writer::{FileWriter, IpcWriteOptions};
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("event_filter.fd");
    let schema = Arc::new(Schema::new(vec![
        Field::new("event", DataType::Int64, false),
        Field::new("accepted", DataType::Boolean, false),
    ]));
    let n = 10_000i64;
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from_iter_values(0..n)) as ArrayRef,
            Arc::new(BooleanArray::from_iter((0..n).map(|i| Some(i % 3 != 0)))),
        ],
    )
    .unwrap();
    let write = |path: &Path, compression| {
        let options = IpcWriteOptions::default()
            .try_with_compression(compression)
            .unwrap();
        let file = std::fs::File::create(path).unwrap();
        let mut w = FileWriter::try_new_with_options(file, &schema, options).unwrap();
        w.write(&batch).unwrap();
        w.finish().unwrap();
        std::fs::metadata(path).unwrap().len()
    };
    let plain = write(&dir.path().join("plain.fd"), None);
    let lz4 = write(&p, Some(CompressionType::LZ4_FRAME));
    assert!(lz4 < plain, "LZ4 file {lz4} bytes, plain {plain}");
    let f = read_filter(&p).unwrap();
    assert_eq!(f.events().len(), n as usize);
    assert_eq!(f.n_accepted(), (0..n).filter(|i| i % 3 != 0).count());
    assert_eq!(f.get(3), Some(false));
    assert_eq!(f.get(4), Some(true));
}

#[test]
fn reading_a_missing_or_wrong_filter_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let e = read_filter(&dir.path().join("event_filter.fd"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("event_filter.fd: missing filter"), "{e}");
    let p = dir.path().join("junk.fd");
    std::fs::write(&p, b"not arrow").unwrap();
    let e = read_filter(&p).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("{}: arrow ipc:", p.display())),
        "{e}"
    );
}

#[test]
fn missing_table_names_the_file() {
    let e = read_table(Path::new("/nonexistent/run/data"), "etroc1_data")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("/nonexistent/run/data/etroc1_data.parquet: missing table 'etroc1_data'"),
        "{e}"
    );
}

/// Tables larger than one Parquet row group come back as one batch, in order.
#[test]
fn large_table_reads_back_as_one_batch() {
    let dir = tempfile::tempdir().unwrap();
    let n = 1_100_000i64;
    let schema = Arc::new(Schema::new(vec![Field::new(
        "event",
        DataType::Int64,
        false,
    )]));
    let batch = RecordBatch::try_new(
        schema,
        vec![Arc::new(Int64Array::from_iter_values(0..n)) as ArrayRef],
    )
    .unwrap();
    write_tables(
        dir.path(),
        None,
        &[TableOutput {
            table: "t",
            batch: &batch,
            indexes: &[],
        }],
    )
    .unwrap();
    let back = read_table(dir.path(), "t").unwrap();
    assert_eq!(back.num_rows(), n as usize);
    let v = store::column_to_i64(&back, "event").unwrap();
    assert!(v.iter().enumerate().all(|(i, &x)| x == i as i64));
}

/// A run directory written by the original scripts (SQLite only, as pandas' `to_sql` writes
/// it) can be continued: the hit table is read from `data/data.sqlite`.
#[test]
fn legacy_run_directory_is_read_from_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("legacy");
    std::fs::create_dir_all(run.join("data")).unwrap();
    std::fs::create_dir_all(run.join("proccess_etroc1_data_run_txt")).unwrap();
    std::fs::write(
        run.join("run_info.txt"),
        "This directory contains data for the run 'legacy', created by the RunManager v0.3.0 on 2023-03-29 12:00:00",
    )
    .unwrap();
    std::fs::write(
        run.join("proccess_etroc1_data_run_txt/task_report.txt"),
        "task_status: no errors\n",
    )
    .unwrap();
    let conn = rusqlite::Connection::open(run.join("data/data.sqlite")).unwrap();
    conn.execute_batch(
        "CREATE TABLE \"etroc1_data\" (\"event\" INTEGER, \"data_board_id\" INTEGER, \
         \"time_of_arrival\" INTEGER, \"time_over_threshold\" INTEGER, \"calibration_code\" INTEGER, \
         \"hit_flag\" INTEGER, \"datetime\" TIMESTAMP, \"pixel_id\" TEXT);
         INSERT INTO etroc1_data VALUES (0, 0, 100, 50, 130, 1, '2023-03-29 12:00:00', 'F5P5');
         INSERT INTO etroc1_data VALUES (0, 1, 101, 51, 131, 1, '2023-03-29 12:00:00', 'F17P5');
         INSERT INTO etroc1_data VALUES (1, 0, 102, 52, 300, 1, '2023-03-29 12:00:01', 'F5P5');
         INSERT INTO etroc1_data VALUES (1, 1, 103, 53, 129, 1, '2023-03-29 12:00:01', 'F17P5');",
    )
    .unwrap();
    drop(conn);
    let batch = read_table(&run.join("data"), "etroc1_data").unwrap();
    let hits = Hits::from_record_batch(&batch).unwrap();
    assert_eq!(hits.event, [0, 0, 1, 1]);
    assert_eq!(hits.calibration_code, [130, 131, 300, 129]);
    assert_eq!(
        hits.datetime.as_ref().unwrap()[2] - hits.datetime.as_ref().unwrap()[0],
        1
    );
    // The event cut runs on it.
    let r = etroc_analysis::rundir::RunDir::open(&run).unwrap();
    std::fs::write(
        run.join("cuts.csv"),
        "board_id,variable,cut_type,cut_value\n*,calibration_code,<,200\n",
    )
    .unwrap();
    let rep = etroc_analysis::cut_tasks::run_event_cuts(&r, &Default::default()).unwrap();
    assert_eq!(rep.result.filter.accepted(), &[true, false]);
    // And the next task too: codes to ns reads the hits from the SQLite database and records
    // that database as its input.
    let cal = etroc_analysis::times::calculate_times_in_ns(&r, &Default::default()).unwrap();
    assert!(!cal.is_empty());
    let manifest =
        std::fs::read_to_string(run.join("calculate_times_in_ns/task_manifest.json")).unwrap();
    assert!(manifest.contains("data.sqlite"), "{manifest}");
}
