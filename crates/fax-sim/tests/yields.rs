//! NEST v2 yields against nestpy 2.1.3 (NEST v2.4.5beta-19-g6f889f9): the golden tables of
//! `tests/data/make_nest_yields.py` (committed; CI has no Python).

use std::path::Path;

use fax_sim::yields::{
    Interaction, NestModel, NrYieldParams, XENON_MOLAR_MASS_G_PER_MOL,
    liquid_xenon_density_g_per_cm3, work_function,
};

/// Rows of a committed CSV as (header, records).
fn table(name: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    let mut r = csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

fn col(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name}"))
}

fn num(row: &[String], i: usize) -> f64 {
    row[i].parse().unwrap()
}

/// |a - b| <= tol max(|a|, |b|), or both below 1e-12 in size.
fn rel_close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * a.abs().max(b.abs()) || (a.abs() < 1e-12 && b.abs() < 1e-12)
}

#[test]
fn mean_yields_match_nestpy() {
    let (h, rows) = table("nest_yields.csv");
    assert!(rows.len() >= 240, "{} rows", rows.len());
    let nest = NestModel::default();
    let mut failures = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut worst = 0.0f64;
    for row in &rows {
        let interaction: Interaction = row[col(&h, "interaction")].parse().unwrap();
        seen.insert(interaction.name());
        let e = num(row, col(&h, "energy_kev"));
        let f = num(row, col(&h, "field_v_per_cm"));
        let rho = num(row, col(&h, "density_g_per_cm3"));
        let y = nest.mean_yields(interaction, e, f, rho).unwrap();
        for (name, ours) in [
            ("photon_yield", y.photon_yield),
            ("electron_yield", y.electron_yield),
            ("exciton_ratio", y.exciton_ratio),
            ("lindhard", y.lindhard),
        ] {
            let theirs = num(row, col(&h, name));
            if theirs.abs() > 1e-12 {
                worst = worst.max((ours - theirs).abs() / theirs.abs());
            }
            if !rel_close(ours, theirs, 1e-6) {
                failures.push(format!(
                    "{interaction} {e} keV {f} V/cm {rho} g/cm3 {name}: ours {ours}, nestpy {theirs}"
                ));
            }
        }
    }
    eprintln!("largest relative difference from nestpy: {worst:.3e}");
    assert_eq!(seen.len(), Interaction::ALL.len(), "{seen:?}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// NR with other recoiling mass numbers and a non-default parameter vector (the same vector as
/// `NR_CUSTOM_PARAMETERS` of the script).
#[test]
fn configured_nr_yields_match_nestpy() {
    let (h, rows) = table("nest_yields_nr_variants.csv");
    assert!(rows.len() >= 40);
    let custom = NrYieldParams::from_nest_vector([
        12.0, 1.05, 0.05, -0.06, 10.0, 0.4, 2.5, 0.35, 1.8, 0.55, 1.1, 0.9,
    ]);
    for row in &rows {
        let nest = NestModel {
            nr: match row[col(&h, "nr_parameters")].as_str() {
                "default" => NrYieldParams::default(),
                "custom" => custom,
                other => panic!("unknown parameter set {other}"),
            },
            nr_mass_number: row[col(&h, "mass_number")].parse().unwrap(),
            ..NestModel::default()
        };
        let e = num(row, col(&h, "energy_kev"));
        let f = num(row, col(&h, "field_v_per_cm"));
        let rho = num(row, col(&h, "density_g_per_cm3"));
        let y = nest.mean_yields(Interaction::Nr, e, f, rho).unwrap();
        for (name, ours) in [
            ("photon_yield", y.photon_yield),
            ("electron_yield", y.electron_yield),
            ("exciton_ratio", y.exciton_ratio),
            ("lindhard", y.lindhard),
        ] {
            let theirs = num(row, col(&h, name));
            assert!(
                rel_close(ours, theirs, 1e-6),
                "{row:?} {name}: ours {ours}, nestpy {theirs}"
            );
        }
    }
}

#[test]
fn density_and_work_function_match_nestpy() {
    let (h, rows) = table("nest_density.csv");
    for row in &rows {
        let t = num(row, col(&h, "temperature_k"));
        let p = num(row, col(&h, "pressure_bar"));
        let rho = liquid_xenon_density_g_per_cm3(t, p).unwrap();
        let golden = num(row, col(&h, "density_g_per_cm3"));
        assert!(
            rel_close(rho, golden, 1e-9),
            "{t} K {p} bar: {rho} vs {golden}"
        );
        let w = work_function(golden, XENON_MOLAR_MASS_G_PER_MOL, true).unwrap();
        let (w_ev, alpha) = (num(row, col(&h, "w_ev")), num(row, col(&h, "alpha")));
        assert!(rel_close(w.w_ev, w_ev, 1e-9), "W {} vs {w_ev}", w.w_ev);
        assert!(
            rel_close(w.alpha, alpha, 1e-9),
            "alpha {} vs {alpha}",
            w.alpha
        );
    }
}

/// Sample moments: mean and standard deviation of photons and electrons, their correlation.
fn moments(ph: &[f64], el: &[f64]) -> [f64; 5] {
    let n = ph.len() as f64;
    let mp = ph.iter().sum::<f64>() / n;
    let me = el.iter().sum::<f64>() / n;
    let (mut vp, mut ve, mut c) = (0.0, 0.0, 0.0);
    for (p, e) in ph.iter().zip(el) {
        vp += (p - mp) * (p - mp);
        ve += (e - me) * (e - me);
        c += (p - mp) * (e - me);
    }
    let (sp, se) = ((vp / (n - 1.0)).sqrt(), (ve / (n - 1.0)).sqrt());
    [mp, me, sp, se, c / (n - 1.0) / (sp * se)]
}

/// Over 20 000 draws per case, each moment agrees with nestpy's (10^6 draws) within 5 standard
/// errors: the standard error of a 20 000-draw moment (the spread over 50 batches of nestpy's
/// draws) combined in quadrature with that of the reference itself.
#[test]
fn quanta_moments_match_nestpy() {
    let (h, rows) = table("nest_quanta_moments.csv");
    assert!(rows.len() >= 2);
    let nest = NestModel::default();
    let names = [
        "mean_photons",
        "mean_electrons",
        "sd_photons",
        "sd_electrons",
        "corr",
    ];
    let mut failures = Vec::new();
    let (mut er, mut nr) = (false, false);
    for (case, row) in rows.iter().enumerate() {
        let interaction: Interaction = row[col(&h, "interaction")].parse().unwrap();
        er |= interaction.is_electron_recoil();
        nr |= !interaction.is_electron_recoil();
        let e = num(row, col(&h, "energy_kev"));
        let f = num(row, col(&h, "field_v_per_cm"));
        let rho = num(row, col(&h, "density_g_per_cm3"));
        let n_ref = num(row, col(&h, "n_ref"));
        let n_test = num(row, col(&h, "n_test")) as usize;
        assert_eq!(n_test, 20_000);
        let y = nest.mean_yields(interaction, e, f, rho).unwrap();
        let mut rng = hep_core::rng::stream(2026, case as u64);
        let (mut ph, mut el) = (Vec::with_capacity(n_test), Vec::with_capacity(n_test));
        for _ in 0..n_test {
            let q = nest.draw_quanta(&y, rho, &mut rng).unwrap();
            ph.push(q.photons as f64);
            el.push(q.electrons as f64);
        }
        let ours = moments(&ph, &el);
        for (k, name) in names.iter().enumerate() {
            let theirs = num(row, col(&h, name));
            let se_test = num(row, col(&h, &format!("{name}_se_n_test")));
            let se = se_test * (1.0 + n_test as f64 / n_ref).sqrt();
            let pull = (ours[k] - theirs) / se;
            eprintln!(
                "{interaction} {e} keV {f} V/cm {name}: ours {:.4} nestpy {theirs:.4} pull {pull:+.2}",
                ours[k]
            );
            if pull.abs() > 5.0 {
                failures.push(format!(
                    "{interaction} {e} keV {f} V/cm {rho} g/cm3 {name}: ours {} nestpy {theirs} \
                     (se {se}, pull {pull:.2})",
                    ours[k]
                ));
            }
        }
    }
    assert!(er && nr, "at least one ER and one NR case");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
