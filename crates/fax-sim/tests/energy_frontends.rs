//! The energy front ends: `create-fake --energy-spectrum` and `from-deposits`.

use std::path::Path;

use fax_sim::deposits::{EnergyConfig, EnergySpectrum, SpectrumSampler};
use fax_sim::fake::{FakeConfig, create_fake};
use fax_sim::instructions::RecoilType;
use fax_sim::yields::{Interaction, NestModel};

fn energy_fake(interaction: Interaction, spectrum: EnergySpectrum, n: u64) -> FakeConfig {
    FakeConfig {
        seed: 7,
        number_event_per_job: n,
        energy: Some(EnergyConfig {
            interaction,
            spectrum,
            field_v_per_cm: 120.0,
            field_map: None,
            density_g_per_cm3: 2.862,
            nest: NestModel::default(),
        }),
        ..FakeConfig::default()
    }
}

/// A field map replaces the uniform field: a constant (0-D) map of 500 V/cm gives exactly the rows
/// of a uniform 500 V/cm; a map falling from 500 V/cm at the cathode side (z = -100 cm) to 100
/// V/cm at the gate gives each row the field at its depth (monotonic in depth, within the map's
/// range, fewer photons where the field is higher); a map with a non-positive field is an error
/// naming the map.
#[test]
fn field_map_gives_the_local_field() {
    let d = tempfile::tempdir().unwrap();
    let constant = d.path().join("constant.json");
    std::fs::write(&constant, r#"{"coordinate_system": [], "field": 500.0}"#).unwrap();
    let ramp = d.path().join("ramp.json");
    std::fs::write(
        &ramp,
        r#"{"coordinate_system": [[-100.0], [-50.0], [0.0]], "field": [500.0, 300.0, 100.0]}"#,
    )
    .unwrap();
    let with = |field: f64, map: Option<&Path>| {
        let mut c = energy_fake(
            Interaction::Beta,
            EnergySpectrum::Flat {
                energy_min_kev: 10.0,
                energy_max_kev: 10.0,
            },
            2000,
        );
        let e = c.energy.as_mut().unwrap();
        e.field_v_per_cm = field;
        e.field_map = map.map(|p| p.to_string_lossy().into_owned());
        c
    };
    let uniform = create_fake(&with(500.0, None)).unwrap();
    let mapped = create_fake(&with(120.0, Some(&constant))).unwrap();
    assert_eq!(uniform, mapped);

    let rows = create_fake(&with(120.0, Some(&ramp))).unwrap();
    let mut by_depth: Vec<(f64, f64, f64)> = rows
        .iter()
        .map(|r| {
            (
                r.depth_cm.unwrap(),
                r.local_field_v_per_cm.unwrap(),
                r.s1_photons as f64,
            )
        })
        .collect();
    by_depth.sort_by(|a, b| a.0.total_cmp(&b.0));
    for w in by_depth.windows(2) {
        assert!(
            w[1].1 >= w[0].1 - 1e-9,
            "field not monotonic in depth: {w:?}"
        );
    }
    assert!(by_depth.iter().all(|r| (100.0..=500.0).contains(&r.1)));
    // Shallow events (weak field) have more light than deep ones (strong field): at 10 keV a beta
    // gives about 48 photons/keV at 100 V/cm and fewer at 400 V/cm; the difference of the means
    // of the two thirds is far above their standard errors.
    let third = by_depth.len() / 3;
    let shallow: Vec<f64> = by_depth[..third].iter().map(|r| r.2).collect();
    let deep: Vec<f64> = by_depth[2 * third..].iter().map(|r| r.2).collect();
    let ((ms, ss), (md, sd)) = (mean_sd(&shallow), mean_sd(&deep));
    let err = (ss * ss / shallow.len() as f64 + sd * sd / deep.len() as f64).sqrt();
    assert!(
        ms - md > 5.0 * err,
        "shallow {ms} +- {ss}, deep {md} +- {sd}"
    );

    let zero = d.path().join("zero.json");
    std::fs::write(&zero, r#"{"coordinate_system": [], "field": 0.0}"#).unwrap();
    let e = create_fake(&with(120.0, Some(&zero)))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("zero.json") && e.contains("positive field"),
        "{e}"
    );
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, var.sqrt())
}

/// At a fixed energy the sample means of photons and electrons equal NEST's mean yields within
/// 4 standard errors (sd / sqrt(n) of the sample).
#[test]
fn fixed_energy_means_equal_nest_mean_yields() {
    let n = 20_000;
    for (interaction, recoil, e) in [
        (Interaction::Beta, RecoilType::Er, 10.0),
        (Interaction::Nr, RecoilType::Nr, 10.0),
        (Interaction::ErWeighted, RecoilType::Er, 5.0),
    ] {
        let cfg = energy_fake(
            interaction,
            EnergySpectrum::Flat {
                energy_min_kev: e,
                energy_max_kev: e,
            },
            n,
        );
        let rows = create_fake(&cfg).unwrap();
        assert_eq!(rows.len() as u64, n);
        assert!(rows.iter().all(|r| r.recoil_type == recoil
            && r.e_dep_kev == Some(e)
            && r.local_field_v_per_cm == Some(120.0)));
        let y = NestModel::default()
            .mean_yields(interaction, e, 120.0, 2.862)
            .unwrap();
        let ph: Vec<f64> = rows.iter().map(|r| r.s1_photons as f64).collect();
        let el: Vec<f64> = rows.iter().map(|r| r.s2_electrons as f64).collect();
        for (what, v, want) in [
            ("photons", &ph, y.photon_yield),
            ("electrons", &el, y.electron_yield),
        ] {
            let (m, sd) = mean_sd(v);
            let se = sd / (n as f64).sqrt();
            assert!(
                (m - want).abs() < 4.0 * se,
                "{interaction} {what}: sample mean {m} +- {se}, NEST mean {want}"
            );
            assert!(sd > 0.0, "{interaction} {what}: no fluctuations");
        }
    }
}

/// A flat 0-20 keV spectrum: 20 bins of 1 keV, chi-square against the flat expectation below the
/// 0.1 % critical value of 19 degrees of freedom (43.82); every energy in (0, 20].
#[test]
fn flat_spectrum_is_flat() {
    let n = 20_000;
    let cfg = energy_fake(
        Interaction::Beta,
        EnergySpectrum::Flat {
            energy_min_kev: 0.0,
            energy_max_kev: 20.0,
        },
        n,
    );
    let rows = create_fake(&cfg).unwrap();
    let mut counts = [0.0f64; 20];
    for r in &rows {
        let e = r.e_dep_kev.unwrap();
        assert!(e > 0.0 && e <= 20.0, "{e}");
        counts[((e.ceil() as usize).max(1) - 1).min(19)] += 1.0;
    }
    let expected = n as f64 / 20.0;
    let chi2: f64 = counts
        .iter()
        .map(|c| (c - expected).powi(2) / expected)
        .sum();
    assert!(chi2 < 43.82, "chi2 {chi2} for {counts:?}");
}

/// A listed ramp (weight 0 at 0 keV to 1 at 10 keV) has the mean 2/3 10 keV and sd 10/sqrt(18).
#[test]
fn listed_ramp_has_the_ramp_mean() {
    let s =
        SpectrumSampler::parse_csv(b"energy_kev,weight\n0.001,0\n10,1\n", Path::new("ramp.csv"))
            .unwrap();
    let mut rng = hep_core::rng::stream(3, 0);
    let n = 40_000;
    let v: Vec<f64> = (0..n).map(|_| s.sample(&mut rng)).collect();
    let (m, sd) = mean_sd(&v);
    let want = 0.001 + (10.0 - 0.001) * 2.0 / 3.0;
    assert!((m - want).abs() < 4.0 * sd / f64::from(n).sqrt(), "{m}");
    assert!((sd - 10.0 / 18f64.sqrt()).abs() < 0.05, "{sd}");
    // One row: that energy only.
    let one =
        SpectrumSampler::parse_csv(b"energy_kev,weight\n41.5,2\n", Path::new("one.csv")).unwrap();
    assert_eq!(one.sample(&mut rng), 41.5);
}

#[test]
fn malformed_spectrum_csv_gives_located_errors() {
    let cases: [(&[u8], &str); 5] = [
        (
            b"energy_kev,weight\n1,1\n2,abc\n",
            "spec.csv:3: expected a finite weight, found `abc`",
        ),
        (
            b"energy,w\n1,1\n",
            "spec.csv:1: expected the header energy_kev,weight",
        ),
        (
            b"energy_kev,weight\n2,1\n1,1\n",
            "spec.csv:3: expected a positive energy_kev above the previous row's (2)",
        ),
        (
            b"energy_kev,weight\n1,-1\n",
            "spec.csv:2: expected a weight >= 0",
        ),
        (
            b"energy_kev,weight\n1,1,3\n",
            "spec.csv:2: expected 2 fields",
        ),
    ];
    for (text, want) in cases {
        let e = SpectrumSampler::parse_csv(text, Path::new("spec.csv")).unwrap_err();
        assert!(e.to_string().contains(want), "{e} (wanted {want})");
    }
    // Through create-fake, the file's own path.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.csv");
    std::fs::write(&p, "energy_kev,weight\n1,x\n").unwrap();
    let e = create_fake(&energy_fake(
        Interaction::Nr,
        EnergySpectrum::Listed { path: p.clone() },
        3,
    ))
    .unwrap_err();
    assert!(
        e.to_string()
            .contains(&format!("{}:2: expected a finite weight", p.display())),
        "{e}"
    );
    assert!("flat:1".parse::<EnergySpectrum>().is_err());
    assert_eq!(
        "flat:0,20".parse::<EnergySpectrum>().unwrap(),
        EnergySpectrum::Flat {
            energy_min_kev: 0.0,
            energy_max_kev: 20.0
        }
    );
}

mod deposits {
    use std::path::Path;

    use fax_sim::deposits::{
        FromDepositsConfig, cluster_deposits, from_deposits, parse_deposits_csv, read_deposits,
    };
    use fax_sim::instructions::RecoilType;
    use fax_sim::yields::Interaction;

    const HEADER: &str = "event,x,y,z,t,edep_keV,interaction\n";

    fn rows(body: &str) -> Vec<fax_sim::deposits::Deposit> {
        parse_deposits_csv(format!("{HEADER}{body}").as_bytes(), Path::new("deps.csv")).unwrap()
    }

    #[test]
    fn close_deposits_merge_with_weighted_position() {
        // 0.001 cm apart in x, 2 ns apart: one cluster of 3 + 1 keV.
        let d = rows("4,1.000,2,-30,100,3,beta\n4,1.001,2,-30,102,1,gamma\n");
        let cfg = FromDepositsConfig::default();
        let c = cluster_deposits(&d, &cfg).unwrap();
        assert_eq!(c.len(), 1);
        let c = c[0];
        assert_eq!((c.event, c.n_deposits), (4, 2));
        assert!((c.energy_kev - 4.0).abs() < 1e-12);
        assert!(
            (c.x_cm - (3.0 * 1.000 + 1.001) / 4.0).abs() < 1e-12,
            "{}",
            c.x_cm
        );
        assert!((c.t_ns - 100.5).abs() < 1e-12);
        assert_eq!((c.y_cm, c.z_cm), (2.0, -30.0));
        assert_eq!(c.interaction, Interaction::Beta);
        let inst = from_deposits(&d, &cfg).unwrap();
        assert_eq!(inst.len(), 1);
        let r = &inst[0];
        assert_eq!((r.instruction, r.recoil_type), (4, RecoilType::Er));
        assert_eq!(r.depth_cm, Some(30.0));
        assert_eq!(r.e_dep_kev, Some(4.0));
        assert_eq!(r.t_ns, 100.5);
        assert!(r.s1_photons > 0 && r.s2_electrons > 0);
        // Reproducible: the same rows again.
        assert_eq!(from_deposits(&d, &cfg).unwrap(), inst);
    }

    #[test]
    fn far_or_late_deposits_stay_apart() {
        let cfg = FromDepositsConfig::default();
        // 1 cm apart at the same time.
        let d = rows("0,0,0,-10,0,5,nr\n0,1,0,-10,0,5,nr\n");
        let c = cluster_deposits(&d, &cfg).unwrap();
        assert_eq!(c.len(), 2);
        let inst = from_deposits(&d, &cfg).unwrap();
        assert_eq!(inst.len(), 2);
        assert!(
            inst.iter()
                .all(|r| r.recoil_type == RecoilType::Nr && r.instruction == 0)
        );
        // Same place, 1 us apart: two rows, in time order.
        let d = rows("1,0,0,-10,1000,5,beta\n1,0,0,-10,0,7,beta\n");
        let inst = from_deposits(&d, &cfg).unwrap();
        assert_eq!(inst.len(), 2);
        assert_eq!((inst[0].t_ns, inst[1].t_ns), (0.0, 1000.0));
        assert_eq!(
            (inst[0].e_dep_kev, inst[1].e_dep_kev),
            (Some(7.0), Some(5.0))
        );
        // A chain: a-b and b-c within 0.004 cm, a-c 0.008 cm apart: one cluster (single linkage).
        let d =
            rows("2,0,0,-5,0,1,er\n2,0.004,0,-5,0,1,er\n2,0.008,0,-5,0,1,er\n3,0,0,-5,0,1,er\n");
        let c = cluster_deposits(&d, &cfg).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].event, c[0].n_deposits, c[1].event), (2, 3, 3));
        assert_eq!(c[0].interaction, Interaction::ErWeighted);
    }

    #[test]
    fn malformed_deposit_rows_give_located_errors() {
        let cases = [
            (
                "0,abc,0,-1,0,1,beta\n",
                "deps.csv:2: expected a number in `x` (cm), found `abc`",
            ),
            (
                "0,0,0,-1,0,1,beta\n0,0,0,-1,0,1,muon\n",
                "deps.csv:3: expected an interaction beta, gamma, er or nr, found `muon`",
            ),
            ("0,0,0,-1,0,-1,beta\n", "deps.csv:2: expected edep_keV >= 0"),
            (
                "x,0,0,-1,0,1,beta\n",
                "deps.csv:2: expected an integer in `event`",
            ),
            ("0,0,0,-1,0,1\n", "deps.csv:2: expected 7 fields"),
        ];
        for (body, want) in cases {
            let e = parse_deposits_csv(format!("{HEADER}{body}").as_bytes(), Path::new("deps.csv"))
                .unwrap_err();
            assert!(e.to_string().contains(want), "{e} (wanted {want})");
        }
        let e =
            parse_deposits_csv(b"event,x,y,z,t,interaction\n", Path::new("deps.csv")).unwrap_err();
        assert!(
            e.to_string()
                .contains("deps.csv:1: expected a column `edep_keV`"),
            "{e}"
        );
    }

    #[test]
    fn parquet_deposits_read_like_csv() {
        use std::sync::Arc;

        use arrow_array::{Float64Array, Int64Array, RecordBatch, StringArray};
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("deps.parquet");
        let f = |v: &[f64]| Arc::new(Float64Array::from(v.to_vec())) as arrow_array::ArrayRef;
        let b = RecordBatch::try_from_iter([
            (
                "event",
                Arc::new(Int64Array::from(vec![0, 0])) as arrow_array::ArrayRef,
            ),
            ("x", f(&[0.0, 0.001])),
            ("y", f(&[0.0, 0.0])),
            ("z", f(&[-3.0, -3.0])),
            ("t", f(&[0.0, 0.0])),
            ("edep_keV", f(&[1.0, 1.0])),
            (
                "interaction",
                Arc::new(StringArray::from(vec!["nr", "bad"])),
            ),
        ])
        .unwrap();
        hep_core::io::write_parquet(&p, &[b]).unwrap();
        let e = read_deposits(&p).unwrap_err();
        assert!(
            e.to_string()
                .contains(&format!("{}:3: expected an interaction", p.display())),
            "{e}"
        );
    }
}

#[test]
fn yield_plots_write_images_and_csvs() {
    use fax_sim::yield_plots::{YIELD_IMAGES, YieldPlotConfig, plot_yields};
    let dir = tempfile::tempdir().unwrap();
    let cfg = YieldPlotConfig {
        width: 400,
        height: 300,
        ..YieldPlotConfig::default()
    };
    let files = plot_yields(&cfg, dir.path()).unwrap();
    assert_eq!(files.len(), 8);
    for img in YIELD_IMAGES {
        let p = dir.path().join(img);
        assert!(std::fs::metadata(&p).unwrap().len() > 1000, "{img}");
        let mut rdr = csv::Reader::from_path(p.with_extension("csv")).unwrap();
        let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
        // 3 fields x 81 energies.
        assert_eq!(rows.len(), 3 * 81, "{img}");
    }
    // The 10 keV beta point at 100 V/cm is NEST's mean photons over 10 keV.
    let mut rdr = csv::Reader::from_path(dir.path().join("light_yield_beta.csv")).unwrap();
    let row = rdr
        .records()
        .map(Result::unwrap)
        .find(|r| &r[1] == "100.0" && (r[2].parse::<f64>().unwrap() - 10.0).abs() < 1e-9)
        .unwrap();
    let y = NestModel::default()
        .mean_yields(Interaction::Beta, 10.0, 100.0, 2.862)
        .unwrap();
    let got: f64 = row[3].parse().unwrap();
    assert!((got - y.photon_yield / 10.0).abs() < 1e-6 * got, "{got}");
}

/// A tiny band: both samples through the production, the CSV and image written, ER above NR on
/// average in log10(cS2/cS1).
#[test]
fn band_plot_runs_a_small_production() {
    use fax_sim::yield_plots::{BandPlotConfig, plot_band};
    let dir = tempfile::tempdir().unwrap();
    let cfg = BandPlotConfig {
        n_events: 60,
        n_ids: 1,
        er_spectrum: EnergySpectrum::Flat {
            energy_min_kev: 5.0,
            energy_max_kev: 15.0,
        },
        nr_spectrum: EnergySpectrum::Flat {
            energy_min_kev: 20.0,
            energy_max_kev: 40.0,
        },
        width: 400,
        height: 300,
        ..BandPlotConfig::default()
    };
    let files = plot_band(&cfg, dir.path(), &hep_core::progress::NoProgress).unwrap();
    assert_eq!(files.len(), 2);
    let mut rdr = csv::Reader::from_path(&files[1]).unwrap();
    let (mut er, mut nr) = (Vec::new(), Vec::new());
    for r in rdr.records() {
        let r = r.unwrap();
        let v: f64 = r[4].parse().unwrap();
        if &r[0] == "er" {
            er.push(v)
        } else {
            nr.push(v)
        }
    }
    assert!(er.len() > 30 && nr.len() > 30, "{} {}", er.len(), nr.len());
    let (me, _) = mean_sd(&er);
    let (mn, _) = mean_sd(&nr);
    assert!(me > mn + 0.1, "ER {me}, NR {mn}");
}
