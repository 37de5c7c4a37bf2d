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
            density_g_per_cm3: 2.862,
            nest: NestModel::default(),
        }),
        ..FakeConfig::default()
    }
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
