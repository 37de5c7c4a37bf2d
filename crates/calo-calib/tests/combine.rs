//! Integration tests of the reco-table combination (spec §8.1). Expected numbers are worked out
//! by hand in the comments.

mod common;

use approx::assert_relative_eq;
use calo_calib::Error;
use calo_calib::combine::{
    CombineConfig, MSG_BAD_FITS, MSG_INCONSISTENT, MSG_NOT_SIPM, MSG_OK, STATUS_BAD_FITS,
    STATUS_COSMIC_ONLY, STATUS_INCONSISTENT, STATUS_OK, STATUS_SOURCE_ONLY, combine, status_counts,
    write_reco_tables,
};
use calo_calib::tables::{
    CombinedRow, CosmicLayout, CosmicRow, NominalRow, RowCheck, SourceRow, read_combined_table,
    read_cosmic_table, read_energy_table,
};

const N_DB_ROWS: usize = calo_calib::channel::N_DB_ROWS as usize;
const N_SIPMS: usize = calo_calib::channel::N_SIPMS as usize;

use common::cosmics_sample;

/// A standard-layout cosmic row with gain `g` ± `sg` (ADC/MeV) at 20 MeV and χ²/ndf = chisq/60.
fn cosmic(roid: u32, g: f64, sg: f64, chisq: f64) -> CosmicRow {
    CosmicRow {
        roid,
        peak: 20.0 * g,
        errpeak: 20.0 * sg,
        chisq: Some(chisq),
        ndf: Some(60),
        nhits: 800,
        ..Default::default()
    }
}

/// A source row with gain `g` ± `sg` (ADC/MeV) at 6.13 MeV and χ²/ndf = chisq/72.
fn source(roid: u32, g: f64, sg: f64, chisq: f64) -> SourceRow {
    SourceRow {
        roid,
        fullepeak: 6.13 * g,
        fullerrepeak: 6.13 * sg,
        chisq,
        ndf: 72,
        ..Default::default()
    }
}

fn one(
    src: Option<SourceRow>,
    cos: Option<CosmicRow>,
    nominal: Option<&[NominalRow]>,
    cfg: &CombineConfig,
) -> Vec<CombinedRow> {
    let s: Vec<SourceRow> = src.into_iter().collect();
    let c: Vec<CosmicRow> = cos.into_iter().collect();
    let out = combine(Some(&s), Some(&c), nominal, cfg).unwrap();
    assert_eq!(out.len(), N_DB_ROWS);
    for (i, r) in out.iter().enumerate() {
        assert_eq!(r.roid as usize, i);
        assert!([0, 1, 2, 101, 102].contains(&r.status_code));
    }
    out
}

#[test]
fn compatible_measurements_give_the_weighted_mean() {
    // g1 = 26.0 ± 0.3 (cosmic), g2 = 26.4 ± 0.4 (source):
    // μ = (26·0.16 + 26.4·0.09)/0.25 = 26.144, σ = sqrt(0.09·0.16/0.25) = 0.24;
    // χ²_c = 0.16/0.25 = 0.64, p_c = 0.424 > 0.05 → status 0.
    let cfg = CombineConfig::default();
    let out = one(
        Some(source(10, 26.4, 0.4, 72.0)),
        Some(cosmic(10, 26.0, 0.3, 60.0)),
        None,
        &cfg,
    );
    let r = &out[10];
    assert_eq!(
        (r.status_code, r.status_message.as_str()),
        (STATUS_OK, MSG_OK)
    );
    assert_relative_eq!(r.adc2mev, 1.0 / 26.144, max_relative = 1e-12);
    assert_relative_eq!(
        r.adc2mev_err,
        0.24 / (26.144 * 26.144),
        max_relative = 1e-12
    );
    // Compat: the same mean, but written as ADC/MeV.
    let compat = CombineConfig {
        compat: true,
        ..CombineConfig::default()
    };
    let out = one(
        Some(source(10, 26.4, 0.4, 72.0)),
        Some(cosmic(10, 26.0, 0.3, 60.0)),
        None,
        &compat,
    );
    assert_eq!(out[10].status_code, STATUS_OK);
    assert_relative_eq!(out[10].adc2mev, 26.144, max_relative = 1e-12);
    assert_relative_eq!(out[10].adc2mev_err, 0.24, max_relative = 1e-12);
}

#[test]
fn incompatible_measurements_fall_back_to_nominal() {
    // 26.0 ± 0.3 vs 28.5 ± 0.4: Δ = 2.5 = 5σ (σ = 0.5), χ²_c = 25, p_c = 5.7e-7 < 0.05.
    let nominal: Vec<NominalRow> = (0..N_DB_ROWS as u32)
        .map(|roid| NominalRow {
            roid,
            adc2mev: 0.05,
        })
        .collect();
    for (nom, expect) in [(None, 0.0625), (Some(nominal.as_slice()), 0.05)] {
        let out = one(
            Some(source(3, 28.5, 0.4, 72.0)),
            Some(cosmic(3, 26.0, 0.3, 60.0)),
            nom,
            &CombineConfig::default(),
        );
        let r = &out[3];
        assert_eq!(r.status_code, STATUS_INCONSISTENT);
        assert_eq!(r.status_message, MSG_INCONSISTENT);
        assert_eq!((r.adc2mev, r.adc2mev_err), (expect, 0.0));
    }
    // Just inside 1.96σ (Δ = 0.95 = 1.9σ) is still consistent.
    let out = one(
        Some(source(3, 26.95, 0.4, 72.0)),
        Some(cosmic(3, 26.0, 0.3, 60.0)),
        None,
        &CombineConfig::default(),
    );
    assert_eq!(out[3].status_code, STATUS_OK);
}

#[test]
fn bad_fit_p_values_leave_one_method() {
    let cfg = CombineConfig::default();
    // Source χ² = 150 for 72 ndf: p ≈ 1.6e-7 < 0.01 → cosmic only:
    // adc2mev = 1/26, error = 0.3/26².
    let out = one(
        Some(source(0, 26.4, 0.4, 150.0)),
        Some(cosmic(0, 26.0, 0.3, 60.0)),
        None,
        &cfg,
    );
    assert_eq!(out[0].status_code, STATUS_COSMIC_ONLY);
    assert_eq!(out[0].status_message, "OK: cosmic only");
    assert_relative_eq!(out[0].adc2mev, 1.0 / 26.0, max_relative = 1e-12);
    assert_relative_eq!(out[0].adc2mev_err, 0.3 / 676.0, max_relative = 1e-12);
    // Cosmic χ² = 100 for 60 ndf: p ≈ 9.4e-4 → source only: 1/26.4, error 0.4/26.4².
    let out = one(
        Some(source(0, 26.4, 0.4, 72.0)),
        Some(cosmic(0, 26.0, 0.3, 100.0)),
        None,
        &cfg,
    );
    assert_eq!(out[0].status_code, STATUS_SOURCE_ONLY);
    assert_eq!(out[0].status_message, "OK: source only");
    assert_relative_eq!(out[0].adc2mev, 1.0 / 26.4, max_relative = 1e-12);
    assert_relative_eq!(
        out[0].adc2mev_err,
        0.4 / (26.4 * 26.4),
        max_relative = 1e-12
    );
    // Both bad → nominal, status 2.
    let out = one(
        Some(source(0, 26.4, 0.4, 150.0)),
        Some(cosmic(0, 26.0, 0.3, 100.0)),
        None,
        &cfg,
    );
    assert_eq!(out[0].status_code, STATUS_BAD_FITS);
    assert_eq!(out[0].status_message, MSG_BAD_FITS);
    assert_eq!(out[0].adc2mev, 0.0625);
    // ndf = 0: p is undefined, the method fails.
    let mut s = source(0, 26.4, 0.4, 72.0);
    s.ndf = 0;
    let out = one(Some(s), None, None, &cfg);
    assert_eq!(out[0].status_code, STATUS_BAD_FITS);
}

#[test]
fn invalid_rows_give_status_2() {
    let cfg = CombineConfig::default();
    let mut bad_peak = source(1, 26.4, 0.4, 72.0);
    bad_peak.fullepeak = 0.0;
    let mut bad_err = cosmic(1, 26.0, 0.3, 60.0);
    bad_err.errpeak = 0.0;
    let out = one(Some(bad_peak), Some(bad_err), None, &cfg);
    assert_eq!(out[1].status_code, STATUS_BAD_FITS);
    assert_eq!((out[1].adc2mev, out[1].adc2mev_err), (0.0625, 0.0));
    let mut nan = source(1, 26.4, 0.4, 72.0);
    nan.fullerrepeak = f64::NAN;
    let out = one(Some(nan), Some(CosmicRow::empty(1)), None, &cfg);
    assert_eq!(out[1].status_code, STATUS_BAD_FITS);
    // Absent rows are invalid: every other roid of these calls is status 2, and the LYSO
    // SiPMs fall back to the LYSO nominal constant.
    assert_eq!(out[0].status_code, STATUS_BAD_FITS);
    assert_eq!(out[1164].adc2mev, 0.00375);
    assert_eq!(
        status_counts(&out),
        [(0, 0), (1, 0), (2, N_DB_ROWS), (101, 0), (102, 0)]
    );
    // One invalid method leaves the other.
    let mut inv = cosmic(1, 26.0, 0.3, 60.0);
    inv.peak = f64::INFINITY;
    let out = one(Some(source(1, 26.4, 0.4, 72.0)), Some(inv), None, &cfg);
    assert_eq!(out[1].status_code, STATUS_SOURCE_ONLY);
}

#[test]
fn non_sipm_channels_are_nominal() {
    // Valid, good measurements for roid 2700 (a PIN diode): default mode ignores them.
    let out = one(
        Some(source(2700, 26.4, 0.4, 72.0)),
        Some(cosmic(2700, 26.0, 0.3, 60.0)),
        None,
        &CombineConfig::default(),
    );
    for r in &out[N_SIPMS..] {
        assert_eq!(r.status_code, STATUS_BAD_FITS);
        assert_eq!(r.status_message, MSG_NOT_SIPM);
        assert_eq!((r.adc2mev, r.adc2mev_err), (0.0625, 0.0));
    }
    // Compat mode treats them like SiPMs, as the original did.
    let compat = CombineConfig {
        compat: true,
        ..CombineConfig::default()
    };
    let out = one(
        Some(source(2700, 26.4, 0.4, 72.0)),
        Some(cosmic(2700, 26.0, 0.3, 60.0)),
        None,
        &compat,
    );
    assert_eq!(out[2700].status_code, STATUS_OK);
    assert_eq!(out[2701].status_code, STATUS_BAD_FITS);
    assert_eq!(out[2701].status_message, MSG_BAD_FITS);
    assert_eq!(out[2701].adc2mev, 1.0);
}

#[test]
fn compat_units_and_fallback() {
    let compat = CombineConfig {
        compat: true,
        ..CombineConfig::default()
    };
    // Cosmic only: c = peak/20 = 26 ADC/MeV written as the "constant", error 6/20 = 0.3.
    let out = one(None, Some(cosmic(5, 26.0, 0.3, 60.0)), None, &compat);
    assert_eq!(out[5].status_code, STATUS_COSMIC_ONLY);
    assert_relative_eq!(out[5].adc2mev, 26.0, max_relative = 1e-12);
    assert_relative_eq!(out[5].adc2mev_err, 0.3, max_relative = 1e-12);
    // Fallback without nominal table: 1.0 (also for LYSO); with one: its value.
    assert_eq!((out[4].adc2mev, out[4].status_code), (1.0, STATUS_BAD_FITS));
    assert_eq!(out[1164].adc2mev, 1.0);
    let nominal = [NominalRow {
        roid: 4,
        adc2mev: 0.0625,
    }];
    let out = one(
        None,
        Some(cosmic(5, 26.0, 0.3, 60.0)),
        Some(&nominal),
        &compat,
    );
    assert_eq!(out[4].adc2mev, 0.0625);
    assert_eq!(out[6].adc2mev, 1.0);
}

#[test]
fn methods_not_used() {
    let cfg = CombineConfig::default();
    let c = [cosmic(0, 26.0, 0.3, 60.0)];
    let s = [source(0, 26.4, 0.4, 72.0)];
    let out = combine(None, Some(&c), None, &cfg).unwrap();
    assert_eq!(out[0].status_code, STATUS_COSMIC_ONLY);
    let out = combine(Some(&s), None, None, &cfg).unwrap();
    assert_eq!(out[0].status_code, STATUS_SOURCE_ONLY);
    let out = combine(None, None, None, &cfg).unwrap();
    assert_eq!(out.len(), N_DB_ROWS);
    assert!(out.iter().all(|r| r.status_code == STATUS_BAD_FITS));
}

#[test]
fn bad_inputs_and_config_are_rejected() {
    let cfg = CombineConfig::default();
    let dup = [cosmic(0, 26.0, 0.3, 60.0), cosmic(0, 26.0, 0.3, 60.0)];
    assert!(matches!(
        combine(None, Some(&dup), None, &cfg),
        Err(Error::InvalidArgument(_))
    ));
    let big = [source(2720, 26.0, 0.3, 60.0)];
    assert!(matches!(
        combine(Some(&big), None, None, &cfg),
        Err(Error::InvalidArgument(_))
    ));
    for bad in [
        CombineConfig {
            e_ref_cosmic_mev: 0.0,
            ..cfg.clone()
        },
        CombineConfig {
            p_min: 1.5,
            ..cfg.clone()
        },
        CombineConfig {
            nominal_adc2mev: f64::NAN,
            ..cfg.clone()
        },
        CombineConfig {
            legacy_cosmic_ndf: Some(0),
            ..cfg.clone()
        },
    ] {
        assert!(matches!(
            combine(None, None, None, &bad),
            Err(Error::InvalidArgument(_))
        ));
    }
}

#[test]
fn legacy_cosmic_sample_compat_vs_default() {
    let Some(path) = cosmics_sample() else { return };
    let rows = read_cosmic_table(&path, CosmicLayout::Legacy9, RowCheck::Strict).unwrap();
    let valid = rows.iter().filter(|r| r.peak > 0.0).count();
    assert_eq!(valid, 2685);

    // Compat: χ² = reduced χ² (≈1.1) with ndf = Nhits (≈800) gives p ≈ 1: every valid channel
    // passes the cosmic gate — the original's bug.
    for r in rows.iter().filter(|r| r.peak > 0.0) {
        let p = hep_core::fit::chi2_p_value(r.chisq_per_ndf.unwrap(), r.nhits);
        assert!(p > 0.999, "roid {}: p = {p}", r.roid);
    }
    let compat = CombineConfig {
        compat: true,
        ..CombineConfig::default()
    };
    let out = combine(None, Some(&rows), None, &compat).unwrap();
    let counts = status_counts(&out);
    assert_eq!(counts[3], (STATUS_COSMIC_ONLY, valid));
    assert_eq!(counts[2], (STATUS_BAD_FITS, N_DB_ROWS - valid));
    // Compat constants are ADC/MeV: median ≈ 26 (spec §6), fallback 1.0.
    let mut c: Vec<f64> = out
        .iter()
        .filter(|r| r.status_code == STATUS_COSMIC_ONLY)
        .map(|r| r.adc2mev)
        .collect();
    c.sort_by(f64::total_cmp);
    let median = c[c.len() / 2];
    assert!((25.0..28.0).contains(&median), "median {median}");
    assert_eq!(out[574].adc2mev, 1.0);

    // Default: a real gate with the assumed ndf = 60 rejects the worse fits (χ²/ndf > 1.47).
    let out = combine(None, Some(&rows), None, &CombineConfig::default()).unwrap();
    let counts = status_counts(&out);
    let passed = counts[3].1;
    eprintln!("default gate (ndf 60): {passed} of {valid} valid channels pass");
    assert!(passed < valid && passed > valid / 2, "{passed} of {valid}");
    let expected = rows
        .iter()
        .filter(|r| {
            r.peak > 0.0 && hep_core::fit::chi2_p_value(r.chisq_per_ndf.unwrap() * 60.0, 60) > 0.01
        })
        .count();
    assert_eq!(passed, expected);
    // Constants in MeV/ADC: median ≈ 20/527 ≈ 0.038.
    let mut m: Vec<f64> = out
        .iter()
        .filter(|r| r.status_code == STATUS_COSMIC_ONLY)
        .map(|r| r.adc2mev)
        .collect();
    m.sort_by(f64::total_cmp);
    let median = m[m.len() / 2];
    assert!((0.035..0.041).contains(&median), "median {median}");
    // Skipping the legacy gate: every valid channel passes.
    let skip = CombineConfig {
        legacy_cosmic_ndf: None,
        ..CombineConfig::default()
    };
    let out = combine(None, Some(&rows), None, &skip).unwrap();
    assert_eq!(status_counts(&out)[3].1, valid);

    // The two output tables round-trip.
    let dir = tempfile::tempdir().unwrap();
    let (reco, info) = (
        dir.path().join("RecoTable.txt"),
        dir.path().join("Combined.txt"),
    );
    write_reco_tables(&reco, &info, &out).unwrap();
    let reco_rows = read_energy_table(&reco, RowCheck::Strict).unwrap();
    let info_rows = read_combined_table(&info, RowCheck::Strict).unwrap();
    assert_eq!(reco_rows.len(), N_DB_ROWS);
    for ((a, b), c) in out.iter().zip(&reco_rows).zip(&info_rows) {
        assert!((a.adc2mev - b.adc2mev).abs() <= 5e-6);
        assert_eq!(b.adc2mev, c.adc2mev);
        assert_eq!(
            (a.status_code, &a.status_message),
            (c.status_code, &c.status_message)
        );
    }
}
