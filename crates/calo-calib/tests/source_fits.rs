//! The `source_fits` table as other tools read it: missing values are null (never NaN), units sit
//! in the field metadata, and `failed` means what the command line reports as failed.

use arrow_array::Array;
use calo_calib::detector::{read_source_fits, summary_counts, write_source_fits};
use calo_calib::fit::{ChannelFit, ChannelStatus};

#[test]
fn not_fitted_channels_are_null_and_lyso_is_not_a_failure() {
    let fits = vec![
        ChannelFit::not_fitted(0, 0.0, ChannelStatus::NO_COUNTS),
        ChannelFit::not_fitted(1, 500.0, ChannelStatus::LYSO_NOT_FITTED),
    ];
    let (ok, failed, lyso, empty) = summary_counts(&fits);
    assert_eq!((ok, failed, lyso, empty), (0, 1, 1, 1));
    let d = tempfile::tempdir().unwrap();
    let [parquet, csv] = write_source_fits(d.path(), &fits).unwrap();
    let (schema, batches) = hep_core::io::read_parquet(&parquet).unwrap();
    let b = &batches[0];
    let peak = hep_core::io::column_f64(b, "peak").unwrap();
    assert_eq!(peak.null_count(), 2, "a peak that does not exist is null");
    assert!(schema.field_with_name("peak").unwrap().is_nullable());
    assert_eq!(
        schema.field_with_name("peak").unwrap().metadata()["unit"],
        "ADC"
    );
    assert_eq!(
        schema.field_with_name("adc2mev").unwrap().metadata()["unit"],
        "MeV/ADC"
    );
    let failed_col = hep_core::io::column_i64(b, "failed").unwrap();
    assert_eq!(failed_col.values().to_vec(), vec![1, 0]);
    assert_eq!(
        hep_core::io::column_f64(b, "n_events").unwrap().value(1),
        500.0
    );
    // The CSV has empty fields where Parquet has nulls, and no NaN anywhere.
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(!text.contains("NaN"), "{text}");
    let mut r = csv::Reader::from_path(&csv).unwrap();
    let headers = r.headers().unwrap().clone();
    let peak_at = headers.iter().position(|h| h == "peak").unwrap();
    for rec in r.records() {
        assert_eq!(&rec.unwrap()[peak_at], "");
    }
    // Reading back gives the in-memory NaN markers again.
    let back = read_source_fits(&parquet).unwrap();
    assert!(back[1].peak.is_nan());
    assert_eq!(back[1].status, ChannelStatus::LYSO_NOT_FITTED);
}
