//! Integration tests of `hep_core::io`: atomic output, Parquet round trips, CSV and checksums.

use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{Float64Builder, ListBuilder};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema};
use hep_core::Error;
use hep_core::io::{
    AtomicFile, CsvOptions, FileDigest, ParquetReader, ParquetWriter, atomic_write,
    atomic_write_bytes, column_as, column_bool, column_f64, column_i64, column_str, copy_file,
    read_csv, read_csv_with, read_parquet, read_parquet_metadata, read_parquet_table, sha256_file,
    write_csv, write_csv_with, write_parquet, write_parquet_with_schema,
};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

/// Names of the files in `dir`, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

// ----- atomic output ------------------------------------------------------------------------

#[test]
fn atomic_write_creates_and_replaces() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.txt");
    atomic_write_bytes(&path, b"first").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"first");
    let n = atomic_write(&path, |w| {
        use std::io::Write;
        w.write_all(b"second").map_err(|e| Error::io(&path, e))?;
        Ok(42)
    })
    .unwrap();
    assert_eq!(n, 42);
    assert_eq!(std::fs::read(&path).unwrap(), b"second");
    assert_eq!(entries(dir.path()), ["out.txt"]);
}

#[test]
fn failed_atomic_write_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.txt");
    let err = atomic_write(&path, |w| {
        use std::io::Write;
        w.write_all(b"partial").unwrap();
        Err::<(), _>(Error::InvalidArgument("boom".into()))
    })
    .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)));
    assert!(!path.exists());
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
}

#[test]
fn failed_atomic_write_keeps_previous_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.txt");
    std::fs::write(&path, b"old").unwrap();
    let _ = atomic_write(&path, |w| {
        use std::io::Write;
        w.write_all(b"new content").unwrap();
        Err::<(), _>(Error::InvalidArgument("boom".into()))
    });
    assert_eq!(std::fs::read(&path).unwrap(), b"old");
    assert_eq!(entries(dir.path()), ["out.txt"]);
}

#[test]
fn dropped_atomic_file_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.bin");
    {
        use std::io::Write;
        let mut f = AtomicFile::create(&path).unwrap();
        assert_eq!(f.path(), path);
        f.write_all(b"abc").unwrap();
    }
    assert!(entries(dir.path()).is_empty());
    let mut f = AtomicFile::create(&path).unwrap();
    std::io::Write::write_all(&mut f, b"abc").unwrap();
    f.commit().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"abc");
}

#[test]
fn atomic_write_into_missing_directory_is_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/dir/out.txt");
    let err = atomic_write_bytes(&path, b"x").unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
}

#[cfg(unix)]
#[test]
fn atomic_output_has_ordinary_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.txt");
    atomic_write_bytes(&path, b"x").unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    // Readable by the group and others under the usual umask 022 (not tempfile's private 0600).
    let reference = dir.path().join("reference.txt");
    std::fs::write(&reference, b"x").unwrap();
    let expected = std::fs::metadata(&reference).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, expected & 0o777);
}

// ----- Parquet ------------------------------------------------------------------------------

fn sample_batch() -> RecordBatch {
    let mut list = ListBuilder::new(Float64Builder::new());
    list.values().append_value(1.5);
    list.values().append_value(-2.0);
    list.append(true);
    list.append(false); // null list
    list.values().append_null();
    list.values().append_value(3.25);
    list.append(true);
    list.append(true); // empty list
    let list = list.finish();

    let schema = Arc::new(Schema::new(vec![
        Field::new("event", DataType::Int64, false),
        Field::new("energy", DataType::Float64, true),
        Field::new("crystal", DataType::Utf8, true),
        Field::new("good", DataType::Boolean, true),
        Field::new("samples", list.data_type().clone(), true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![1, 2, 3, i64::MAX])),
        Arc::new(Float64Array::from(vec![
            Some(6.13),
            None,
            Some(-0.0),
            Some(f64::MAX),
        ])),
        Arc::new(StringArray::from(vec![
            Some("a"),
            Some("ü"),
            None,
            Some(""),
        ])),
        Arc::new(BooleanArray::from(vec![
            Some(true),
            None,
            Some(false),
            Some(true),
        ])),
        Arc::new(list),
    ];
    RecordBatch::try_new(schema, columns).unwrap()
}

#[test]
fn parquet_round_trip_all_column_types() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.parquet");
    let batch = sample_batch();
    write_parquet(&path, std::slice::from_ref(&batch)).unwrap();
    let (schema, read_back) = read_parquet(&path).unwrap();
    assert_eq!(schema, batch.schema());
    assert_eq!(read_back, vec![batch]);
    assert_eq!(entries(dir.path()), ["x.parquet"]);
}

#[test]
fn parquet_output_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.parquet");
    let b = dir.path().join("b.parquet");
    let batch = sample_batch();
    let meta = [("GenEventCount".to_owned(), "123456".to_owned())];
    write_parquet_with_schema(&a, batch.schema(), &[batch.clone(), batch.clone()], &meta).unwrap();
    write_parquet_with_schema(&b, batch.schema(), &[batch.clone(), batch], &meta).unwrap();
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}

/// A table of `rows` rows: an Int64 key and a Float64 column with repeated and unique values.
fn long_batch(rows: usize, offset: i64) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("event", DataType::Int64, false),
        Field::new("toa_ns", DataType::Float64, true),
    ]));
    let event = Int64Array::from_iter_values((0..rows as i64).map(|i| i + offset));
    let toa = Float64Array::from_iter((0..rows).map(|i| {
        (i % 7 != 3).then(|| {
            if i % 2 == 0 {
                (i % 1000) as f64 * 0.02
            } else {
                (i as f64).sqrt()
            }
        })
    }));
    RecordBatch::try_new(schema, vec![Arc::new(event), Arc::new(toa)]).unwrap()
}

#[test]
fn parallel_parquet_writer_writes_the_streaming_writers_file() {
    // More rows than one row group (1 048 576) in three batches: the parallel column encoder
    // gives byte for byte the file of the sequential streaming writer, at 1 and 2 threads.
    let dir = tempfile::tempdir().unwrap();
    let batches = [
        long_batch(700_000, 0),
        long_batch(500_000, 700_000),
        long_batch(10, 1_200_000),
    ];
    let schema = batches[0].schema();
    let meta = [("run".to_owned(), "7".to_owned())];
    let streamed = dir.path().join("streamed.parquet");
    let mut w = ParquetWriter::create(&streamed, schema.clone(), &meta).unwrap();
    for b in &batches {
        w.write(b).unwrap();
    }
    w.finish().unwrap();
    let expected = std::fs::read(&streamed).unwrap();
    for threads in [1, 2] {
        let path = dir.path().join(format!("parallel{threads}.parquet"));
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| write_parquet_with_schema(&path, schema.clone(), &batches, &meta))
            .unwrap();
        assert!(
            std::fs::read(&path).unwrap() == expected,
            "{threads} threads"
        );
    }
    let table = read_parquet_table(&streamed).unwrap();
    assert_eq!(table.num_rows(), 1_200_010);
    let whole = arrow_select::concat::concat_batches(&schema, &batches).unwrap();
    assert_eq!(table.columns(), whole.columns());
    assert_eq!(
        table.schema().metadata().get("run").map(String::as_str),
        Some("7")
    );
}

#[test]
fn parquet_table_reader_round_trip() {
    // All column types in one batch, the footer metadata in the schema, and a file without rows.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    let batch = sample_batch();
    let meta = [("GenEventCount".to_owned(), "42".to_owned())];
    write_parquet_with_schema(
        &path,
        batch.schema(),
        &[batch.clone(), batch.clone()],
        &meta,
    )
    .unwrap();
    let table = read_parquet_table(&path).unwrap();
    let both =
        arrow_select::concat::concat_batches(&batch.schema(), &[batch.clone(), batch.clone()])
            .unwrap();
    assert_eq!(table.columns(), both.columns());
    assert_eq!(table.schema().fields(), batch.schema().fields());
    assert_eq!(
        table
            .schema()
            .metadata()
            .get("GenEventCount")
            .map(String::as_str),
        Some("42")
    );
    let empty = dir.path().join("empty.parquet");
    write_parquet_with_schema(&empty, batch.schema(), &[], &[]).unwrap();
    let table = read_parquet_table(&empty).unwrap();
    assert_eq!(table.num_rows(), 0);
    assert_eq!(table.num_columns(), 5);
    assert!(matches!(
        read_parquet_table(dir.path().join("missing.parquet")),
        Err(Error::Io { .. })
    ));
}

#[test]
fn parquet_key_value_metadata_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.parquet");
    let batch = sample_batch();
    let meta = [
        ("GenEventCount".to_owned(), "123456".to_owned()),
        ("generator".to_owned(), "mu2e".to_owned()),
    ];
    write_parquet_with_schema(&path, batch.schema(), std::slice::from_ref(&batch), &meta).unwrap();
    let read = read_parquet_metadata(&path).unwrap();
    assert_eq!(read.len(), 2, "{read:?}");
    assert_eq!(read["GenEventCount"], "123456");
    assert_eq!(read["generator"], "mu2e");
    // The data is unchanged; the metadata also shows up in the schema metadata.
    let (schema, batches) = read_parquet(&path).unwrap();
    assert_eq!(schema.metadata()["GenEventCount"], "123456");
    assert_eq!(batches[0].columns(), batch.columns());
}

#[test]
fn parquet_reserved_metadata_key_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.parquet");
    let batch = sample_batch();
    let meta = [("ARROW:schema".to_owned(), "x".to_owned())];
    let err = write_parquet_with_schema(&path, batch.schema(), &[batch], &meta).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn streaming_writer_and_reader() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.parquet");
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, false)]));
    let mut writer = ParquetWriter::create(&path, schema.clone(), &[]).unwrap();
    let mut total = 0.0;
    for k in 0..10 {
        let values: Vec<f64> = (0..1000).map(|i| f64::from(k * 1000 + i)).collect();
        total += values.iter().sum::<f64>();
        let batch =
            RecordBatch::try_new(schema.clone(), vec![Arc::new(Float64Array::from(values))])
                .unwrap();
        writer.write(&batch).unwrap();
    }
    writer
        .add_key_value_metadata("GenEventCount", "10000")
        .unwrap();
    assert!(!path.exists(), "nothing at the target before finish");
    writer.finish().unwrap();

    let reader = ParquetReader::open_with_batch_size(&path, 4096).unwrap();
    assert_eq!(reader.num_rows(), 10_000);
    assert_eq!(reader.key_value_metadata()["GenEventCount"], "10000");
    assert_eq!(reader.schema().fields(), schema.fields());
    let mut sum = 0.0;
    let mut n_batches = 0;
    for batch in reader {
        let batch = batch.unwrap();
        assert!(batch.num_rows() <= 4096);
        sum += column_f64(&batch, "x")
            .unwrap()
            .values()
            .iter()
            .sum::<f64>();
        n_batches += 1;
    }
    assert_eq!(n_batches, 3);
    assert_eq!(sum, total);
}

#[test]
fn dropped_parquet_writer_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.parquet");
    let batch = sample_batch();
    let mut writer = ParquetWriter::create(&path, batch.schema(), &[]).unwrap();
    writer.write(&batch).unwrap();
    drop(writer);
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn parquet_schema_mismatch_and_empty_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.parquet");
    let err = write_parquet(&path, &[]).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");

    let other =
        RecordBatch::try_from_iter([("y", Arc::new(Int64Array::from(vec![1])) as ArrayRef)])
            .unwrap();
    let err = write_parquet(&path, &[sample_batch(), other]).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    assert!(entries(dir.path()).is_empty());

    // An empty file with a schema is fine.
    let batch = sample_batch();
    write_parquet_with_schema(&path, batch.schema(), &[], &[]).unwrap();
    let (schema, batches) = read_parquet(&path).unwrap();
    assert_eq!(schema, batch.schema());
    assert!(batches.is_empty());
}

#[test]
fn reading_garbage_as_parquet_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.parquet");
    std::fs::write(&path, b"this is not parquet").unwrap();
    let err = read_parquet(&path).unwrap_err();
    assert!(matches!(err, Error::Parquet { .. }), "{err}");
    assert!(err.to_string().contains("g.parquet"), "{err}");
    let err = read_parquet(dir.path().join("missing.parquet")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
}

#[test]
fn column_helpers() {
    let batch = sample_batch();
    assert_eq!(column_i64(&batch, "event").unwrap().value(2), 3);
    assert_eq!(column_f64(&batch, "energy").unwrap().value(0), 6.13);
    assert_eq!(column_str(&batch, "crystal").unwrap().value(1), "ü");
    assert!(column_bool(&batch, "good").unwrap().value(0));
    let list = column_as::<arrow_array::ListArray>(&batch, "samples").unwrap();
    assert!(list.is_null(1));

    let err = column_f64(&batch, "event").unwrap_err().to_string();
    assert!(
        err.contains("`event`") && err.contains("Float64") && err.contains("Int64"),
        "{err}"
    );
    let err = column_f64(&batch, "nope").unwrap_err().to_string();
    assert!(err.contains("`nope`") && err.contains("energy"), "{err}");
    let err = column_as::<Int64Array>(&batch, "energy")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("PrimitiveArray<Int64Type>") && err.contains("Float64"),
        "{err}"
    );
}

// ----- CSV ----------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Row {
    run: u32,
    energy: f64,
    label: String,
    flag: Option<bool>,
}

#[test]
fn csv_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.csv");
    let rows = vec![
        Row {
            run: 1,
            energy: 6.13,
            label: "a, with comma".into(),
            flag: Some(true),
        },
        Row {
            run: 2,
            energy: -1e-3,
            label: "b \"quoted\"".into(),
            flag: None,
        },
    ];
    write_csv(&path, &rows).unwrap();
    assert_eq!(read_csv::<Row>(&path).unwrap(), rows);

    let tsv = dir.path().join("rows.tsv");
    let opts = CsvOptions {
        delimiter: b'\t',
        ..CsvOptions::default()
    };
    write_csv_with(&tsv, &rows, &opts).unwrap();
    assert!(
        std::fs::read_to_string(&tsv)
            .unwrap()
            .starts_with("run\tenergy\tlabel\tflag\n")
    );
    assert_eq!(read_csv_with::<Row>(&tsv, &opts).unwrap(), rows);
}

#[test]
fn csv_comments_and_trim() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.csv");
    std::fs::write(
        &path,
        "# a comment\nrun, energy, label, flag\n1, 2.5, x, true\n# another\n\n2, 3.5, y,\n",
    )
    .unwrap();
    let opts = CsvOptions {
        comment: Some(b'#'),
        trim: true,
        ..CsvOptions::default()
    };
    let rows: Vec<Row> = read_csv_with(&path, &opts).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].energy, 3.5);
    assert_eq!(rows[1].flag, None);
}

fn parse_error(path: &Path, text: &str, options: &CsvOptions) -> (u64, String, String, String) {
    std::fs::write(path, text).unwrap();
    match read_csv_with::<Row>(path, options).unwrap_err() {
        e @ Error::Parse { .. } => {
            let shown = e.to_string();
            let Error::Parse {
                line,
                expected,
                found,
                ..
            } = e
            else {
                unreachable!()
            };
            (line, expected, found, shown)
        }
        other => panic!("expected a parse error, got {other}"),
    }
}

#[test]
fn csv_errors_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.csv");
    let plain = CsvOptions::default();

    let (line, expected, found, shown) = parse_error(
        &path,
        "run,energy,label,flag\n1,2.5,x,true\n2,abc,y,false\n",
        &plain,
    );
    assert_eq!(line, 3);
    assert_eq!(expected, "a number in column `energy`");
    assert_eq!(found, "`abc`");
    assert!(
        shown.ends_with("bad.csv:3: expected a number in column `energy`, found `abc`"),
        "{shown}"
    );

    let (line, expected, found, _) =
        parse_error(&path, "run,energy,label,flag\n-1,2.5,x,true\n", &plain);
    assert_eq!(line, 2);
    assert_eq!(expected, "an integer in column `run`");
    assert_eq!(found, "`-1`");

    let (line, expected, found, _) =
        parse_error(&path, "run,energy,label,flag\n1,2.5,x,maybe\n", &plain);
    assert_eq!(
        (line, expected.as_str(), found.as_str()),
        (2, "true or false in column `flag`", "`maybe`")
    );

    // Wrong number of fields.
    let (line, expected, found, _) = parse_error(
        &path,
        "run,energy,label,flag\n1,2.5,x,true\n1,2.5\n",
        &plain,
    );
    assert_eq!(
        (line, expected.as_str(), found.as_str()),
        (3, "4 fields", "2 fields")
    );

    // A missing column (a missing `Option` column would just give `None`).
    let (line, expected, _, _) = parse_error(&path, "run,label,flag\n1,x,true\n", &plain);
    assert_eq!(line, 2);
    assert_eq!(expected, "a value for field `energy`");

    // Line numbers count comment and empty lines.
    let comments = CsvOptions {
        comment: Some(b'#'),
        ..CsvOptions::default()
    };
    let (line, _, found, _) = parse_error(
        &path,
        "# header follows\nrun,energy,label,flag\n\n# skip\n1,2.5,x,true\n1,2.5,x,yes\n",
        &comments,
    );
    assert_eq!(line, 6);
    assert_eq!(found, "`yes`");
}

#[test]
fn csv_invalid_utf8_is_a_parse_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.csv");
    std::fs::write(&path, b"run,energy,label,flag\n1,2.5,\xff\xfe,true\n").unwrap();
    let err = read_csv::<Row>(&path).unwrap_err();
    assert!(matches!(err, Error::Parse { line: 2, .. }), "{err}");
    std::fs::write(&path, b"run,en\xffergy,label,flag\n1,2.5,x,true\n").unwrap();
    let err = read_csv::<Row>(&path).unwrap_err();
    assert!(matches!(err, Error::Parse { line: 1, .. }), "{err}");
}

#[test]
fn csv_missing_file_is_io_error() {
    let err = read_csv::<Row>("/definitely/not/here.csv").unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
}

#[test]
fn csv_empty_file_has_no_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.csv");
    std::fs::write(&path, b"").unwrap();
    assert!(read_csv::<Row>(&path).unwrap().is_empty());
    write_csv::<Row>(&path, &[]).unwrap();
    assert!(read_csv::<Row>(&path).unwrap().is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn read_csv_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fuzz.csv");
        std::fs::write(&path, &bytes).unwrap();
        let _ = read_csv::<Row>(&path);
        let _ = read_csv_with::<Row>(&path, &CsvOptions { comment: Some(b'#'), trim: true, ..CsvOptions::default() });
    }

    #[test]
    fn read_csv_never_panics_on_near_valid_text(
        body in "(run,energy,label,flag\n)?([0-9a-z.,\" #-]{0,20}\n){0,8}"
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fuzz.csv");
        std::fs::write(&path, body.as_bytes()).unwrap();
        let _ = read_csv::<Row>(&path);
    }
}

// ----- checksums ----------------------------------------------------------------------------

#[test]
fn sha256_known_values() {
    let dir = tempfile::tempdir().unwrap();
    let abc = dir.path().join("abc");
    std::fs::write(&abc, b"abc").unwrap();
    assert_eq!(
        sha256_file(&abc).unwrap(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    let d = FileDigest::of(&empty).unwrap();
    assert_eq!(
        d.sha256,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(d.bytes, 0);
    assert_eq!(d.path, empty);
}

#[test]
fn sha256_of_file_larger_than_buffer() {
    // One million 'a' (FIPS 180-2 test vector), spanning many 64 KiB reads.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a");
    std::fs::write(&path, vec![b'a'; 1_000_000]).unwrap();
    let d = FileDigest::of(&path).unwrap();
    assert_eq!(d.bytes, 1_000_000);
    assert_eq!(
        d.sha256,
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
    );
    let json = serde_json::to_string(&d).unwrap();
    assert_eq!(serde_json::from_str::<FileDigest>(&json).unwrap(), d);
}

#[test]
fn digest_of_a_file_changed_in_place_is_recomputed() {
    // Same path, same inode, same size, new content: the cached digest must not be reused. The
    // rewrite comes 20 ms later, beyond the file system's timestamp granularity (a few ms at
    // most on Linux), which is the documented limit of FileStamp.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    std::fs::write(&path, b"abc").unwrap();
    let first = sha256_file(&path).unwrap();
    assert_eq!(sha256_file(&path).unwrap(), first);
    std::thread::sleep(std::time::Duration::from_millis(20));
    {
        use std::io::{Seek, Write};
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.seek(std::io::SeekFrom::Start(0)).unwrap();
        f.write_all(b"abd").unwrap();
    }
    let second = FileDigest::of(&path).unwrap();
    assert_ne!(second.sha256, first);
    assert_eq!(
        second.sha256,
        "a52d159f262b2c6ddb724a61840befc36eb30c88877a4030b65cbe86298449c9"
    );
}

#[test]
fn copy_file_is_atomic_and_returns_the_digest_of_the_copy() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("a");
    // 2.5 MiB: several copy buffers.
    let content: Vec<u8> = (0..2_621_440u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&src, &content).unwrap();
    let dst = dir.path().join("copy");
    let d = copy_file(&src, &dst).unwrap();
    assert_eq!(std::fs::read(&dst).unwrap(), content);
    assert_eq!(d.bytes, content.len() as u64);
    assert_eq!(d.path, dst);
    // The digest equals an independent hash of the copy (a fresh file, not in the cache).
    let fresh = dir.path().join("fresh");
    std::fs::write(&fresh, &content).unwrap();
    assert_eq!(d.sha256, sha256_file(&fresh).unwrap());
    assert_eq!(sha256_file(&src).unwrap(), d.sha256);
    assert_eq!(sha256_file(&dst).unwrap(), d.sha256);
    // A missing source leaves nothing behind.
    let err = copy_file(dir.path().join("missing"), dir.path().join("c2")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert_eq!(entries(dir.path()), ["a", "copy", "fresh"]);
}

#[test]
fn sha256_of_missing_file_is_io_error() {
    let err = sha256_file("/definitely/not/here").unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
}

/// Reliability defect 2 (corrupted Parquet undetected): a file whose provenance manifest lists
/// it is checked against the recorded SHA-256 by every Parquet reader, so a flipped byte is a
/// clear error naming the file, whatever the page it lands in.
#[test]
fn corrupted_parquet_is_detected_by_its_manifest() {
    use hep_core::integrity::{SidecarCheck, verify_sidecar};
    use hep_core::manifest::Manifest;
    use rand::RngExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spectra.parquet");
    write_parquet(&path, &[long_batch(20_000, 0)]).unwrap();
    assert_eq!(verify_sidecar(&path).unwrap(), SidecarCheck::NoSidecar);
    let mut m = Manifest::start("test", "0");
    m.add_output(&path).unwrap();
    m.write_sidecar(&path).unwrap();
    assert_eq!(verify_sidecar(&path).unwrap(), SidecarCheck::Verified);
    let good = std::fs::read(&path).unwrap();
    assert_eq!(
        read_parquet(&path)
            .unwrap()
            .1
            .iter()
            .map(|b| b.num_rows())
            .sum::<usize>(),
        20_000
    );

    let mut rng = hep_core::rng::stream(2026, 2);
    for trial in 0..8 {
        // 16 random bytes flipped anywhere in the file (pages, footer or magic).
        let mut bad = good.clone();
        for _ in 0..16 {
            let i = rng.random_range(0..bad.len());
            bad[i] ^= 1 << rng.random_range(0..8u32);
        }
        std::fs::write(&path, &bad).unwrap();
        for e in [
            read_parquet(&path).map(drop).unwrap_err(),
            read_parquet_table(&path).map(drop).unwrap_err(),
            ParquetReader::open(&path).map(drop).unwrap_err(),
            read_parquet_metadata(&path).map(drop).unwrap_err(),
        ] {
            assert!(matches!(e, Error::Integrity { .. }), "trial {trial}: {e}");
            let text = e.to_string();
            assert!(
                text.contains("spectra.parquet") && text.contains("does not match its manifest"),
                "{text}"
            );
        }
    }
    // A manifest that does not list the file only warns.
    std::fs::write(&path, &good).unwrap();
    let mut other = Manifest::start("test", "0");
    other.outputs.clear();
    other.write_sidecar(&path).unwrap();
    assert_eq!(verify_sidecar(&path).unwrap(), SidecarCheck::NotListed);
    read_parquet(&path).unwrap();
}

/// Reliability defect 10 (errors name file and line, non-UTF-8 included): the shared text reader
/// reports the line and column of the first byte that is not UTF-8.
#[test]
fn non_utf8_text_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("table.txt");
    std::fs::write(&p, b"# header\n1 2\n3 \xe9t\xe9 4\n").unwrap();
    let e = hep_core::io::read_text(&p).unwrap_err().to_string();
    assert!(
        e.ends_with("table.txt:3: expected UTF-8 text, found byte 0xe9 at column 3"),
        "{e}"
    );
    std::fs::write(&p, "caf\u{e9}\n").unwrap();
    assert_eq!(hep_core::io::read_text(&p).unwrap(), "caf\u{e9}\n");
}
