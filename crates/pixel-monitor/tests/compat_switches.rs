//! Each compatibility switch in both positions (the ones not already covered by the unit tests
//! and the synthetic reference test): the corrected default and the original's behaviour.

use pixel_monitor::config::{Compat, CrossSections, Lookback, TemperatureModel};
use pixel_monitor::dcs::{DcsKind, DcsStore};
use pixel_monitor::fills::Fill;
use pixel_monitor::fluence::{Axis, FlukaField, RogFluence};
use pixel_monitor::geometry::Geometry;
use pixel_monitor::lumi::{BrilRow, BrilTable, LsLumi};
use pixel_monitor::profile::{
    ProfileInputs, ProfileSettings, RowKind, Timeline, profile_header, rog_profile,
};
use pixel_monitor::profile_merge::{Fragment, order_fragments};
use pixel_monitor::temperatures::TemperatureEngine;

const US: i64 = 1_000_000;
const H: i64 = 3600 * US;

fn with<F: FnOnce(&mut Compat)>(f: F) -> Compat {
    let mut c = Compat::default();
    f(&mut c);
    c
}

#[test]
fn current_label() {
    let s = ProfileSettings::default();
    assert!(profile_header(&s, &Compat::default()).ends_with("\tLeakage_current [uA]"));
    assert!(
        profile_header(&s, &with(|c| c.current_label = true))
            .ends_with("\tLeakage_current [mA/cm2]")
    );
    let b = ProfileSettings {
        bunches_column: true,
        ..s
    };
    assert!(profile_header(&b, &Compat::default()).ends_with("\tNumber of bunches"));
}

/// One 3-hour fill with a luminosity falling linearly over it, one-second lumisections.
fn one_fill() -> (Vec<Fill>, LsLumi) {
    let start = 1_659_348_000 * US;
    let fill = Fill {
        fill: 8000,
        start_stable_beam: start,
        end_stable_beam: start + 3 * H,
        bunches_colliding: Some(2400),
    };
    let rows = (0..3 * 3600)
        .map(|s| BrilRow {
            run: 1,
            fill_text: "8000".into(),
            fill: 8000,
            time: start + s * US,
            delivered: 2e-5 * (1.0 - s as f64 / 20_000.0),
            recorded: 0.0,
        })
        .collect();
    let table = BrilTable {
        rows,
        unit: "/fb".into(),
        by_ls: true,
    };
    (vec![fill], LsLumi::from_table(&table).unwrap())
}

#[test]
fn window_rate_and_fluence_sum() {
    let (fills, lumi) = one_fill();
    let field = FlukaField::from_fn(
        Axis {
            n: 200,
            lo: 0.0,
            hi: 20.0,
        },
        Axis {
            n: 700,
            lo: -350.0,
            hi: 350.0,
        },
        |_, _| 0.09,
    );
    let (caen, plc) = (DcsStore::default(), DcsStore::default());
    let sigma = CrossSections::default();
    let settings = ProfileSettings::default();
    let lookback = Lookback::default();
    let geo = Geometry::phase1();
    let l1 = geo.rog_index("BPix_BmI_SEC1_LYR1").unwrap();
    let run = |compat: Compat| {
        let engine =
            TemperatureEngine::new(&plc, None, TemperatureModel::default(), lookback, compat);
        let fluence = RogFluence::new(&field, compat.rog_fluence_sum);
        let inputs = ProfileInputs {
            fills: &fills,
            lumi: &lumi,
            caen: &caen,
            temperatures: &engine,
            fluence: &fluence,
            cross_sections: &sigma,
            settings: &settings,
            lookback: &lookback,
            compat: &compat,
            geometry: &geo,
        };
        let tl = Timeline::new(&inputs).unwrap();
        rog_profile(&inputs, &tl, l1).0
    };
    let fixed = run(Compat::default());
    let original = run(with(|c| c.window_rate = true));
    let summed = run(with(|c| c.rog_fluence_sum = true));
    // Rows: 1200 s, 3600 s, 3600 s, and the last 2400 s whose measurements stop 300 s early.
    assert_eq!(fixed.len(), 4);
    let last = fixed[3];
    assert_eq!(last.spec.kind, RowKind::Fill);
    assert_eq!((last.spec.end - last.spec.start) / US, 2400);
    assert_eq!((last.spec.meas_end - last.spec.meas_start) / US, 2100);
    // Corrected: the rates integrate to the fill's luminosity x sigma x F x 1e12 exactly.
    let total: f64 = fixed.iter().map(|r| r.fluence()).sum();
    // <F> of a module: 65 samples of 0.1 cm over its 6.48 cm (the original's sampling rule).
    let per_collision = 0.1 / 6.48 * 65.0 * 0.09;
    let want = per_collision
        * lumi.delivered_fb(fills[0].start_stable_beam, fills[0].end_stable_beam)
        * 80.0
        * 1e12;
    assert!((total / want - 1.0).abs() < 1e-12, "{total} {want}");
    // Original: the last row's rate is that of its shorter measurement window, higher here
    // because the luminosity falls; the sum no longer matches.
    let last_o = original[3];
    let rate_window = lumi.delivered_fb(last_o.spec.meas_start, last_o.spec.meas_end) / 2100.0
        * per_collision
        * 80.0
        * 1e12;
    assert!((last_o.fluence_rate / rate_window - 1.0).abs() < 1e-12);
    assert!(last_o.fluence_rate > last.fluence_rate);
    let total_o: f64 = original.iter().map(|r| r.fluence()).sum();
    assert!(total_o / want - 1.0 > 1e-4);
    // Summed over the 3 modules of a layer-1 group instead of the mean.
    assert!((summed[1].fluence_rate / fixed[1].fluence_rate - 3.0).abs() < 1e-12);
}

#[test]
fn unbounded_lookback_of_the_temperature() {
    let geo = Geometry::phase1();
    let rog = geo.rog_index("BPix_BmI_SEC1_LYR1").unwrap();
    let t1 = 1000 * H;
    let t2 = t1 + 1200 * US;
    // L1D1 Near needs 2 sensors; one reads now, the other only 300 h ago.
    let plc = DcsStore::from_rows(
        DcsKind::Plc,
        [
            ("PixelBarrel_BpI_3I_L1D1PN", t1 + 60 * US, -21.0, f64::NAN),
            ("PixelBarrel_BpI_3R_L1D1PN", t1 - 300 * H, -23.0, f64::NAN),
        ],
    );
    let fixed = TemperatureEngine::new(
        &plc,
        None,
        TemperatureModel::default(),
        Lookback::default(),
        Compat::default(),
    );
    let t = fixed.rog_temperature(rog, t1, t2, None);
    assert!(
        t.incomplete && t.n_sensors == 1 && t.lookback_h == 240.0,
        "{t:?}"
    );
    let original = TemperatureEngine::new(
        &plc,
        None,
        TemperatureModel::default(),
        Lookback::default(),
        with(|c| c.unbounded_lookback = true),
    );
    let t = original.rog_temperature(rog, t1, t2, None);
    assert!(
        !t.incomplete && t.n_sensors == 2 && t.lookback_h == 300.0,
        "{t:?}"
    );
    assert!((t.pipe_k - (-22.0 + 273.15)).abs() < 1e-12);
    // A sensor faulty throughout: the search ends at the start of the data, never loops.
    let plc = DcsStore::from_rows(
        DcsKind::Plc,
        [
            ("PixelBarrel_BpI_3I_L1D1PN", t1 + 60 * US, -21.0, f64::NAN),
            ("PixelBarrel_BpI_3R_L1D1PN", t1 - 3000 * H, 45.0, f64::NAN),
            ("PixelBarrel_BpI_3R_L1D1PN", t1 + 60 * US, 45.0, f64::NAN),
        ],
    );
    let original = TemperatureEngine::new(
        &plc,
        None,
        TemperatureModel::default(),
        Lookback::default(),
        with(|c| c.unbounded_lookback = true),
    );
    let t = original.rog_temperature(rog, t1, t2, None);
    assert!(
        t.incomplete && t.n_sensors == 1 && t.lookback_h >= 3000.0,
        "{t:?}"
    );
}

#[test]
fn fluka_float32() {
    let d = tempfile::tempdir().unwrap();
    let r = Axis {
        n: 2,
        lo: 0.0,
        hi: 0.2,
    };
    let z = Axis {
        n: 1,
        lo: -1.0,
        hi: 1.0,
    };
    let p = d.path().join("usrbin");
    pixel_monitor::fluence::write_usrbin_ascii(&p, r, z, &[("allpart", vec![0.1, 0.2], None)])
        .unwrap();
    let f64_field = pixel_monitor::fluence::read_usrbin_ascii(&p, false, false).unwrap();
    let f32_field = pixel_monitor::fluence::read_usrbin_ascii(&p, false, true).unwrap();
    assert_eq!(f64_field.at(0.05, 0.0), 0.1);
    assert_eq!(f32_field.at(0.05, 0.0), f64::from(0.1f32));
    assert_ne!(f32_field.at(0.05, 0.0), 0.1);
}

#[test]
fn merge_order() {
    let frag = |name: &str, first: i64| Fragment {
        name: name.into(),
        header: "H".into(),
        rows: vec![vec![
            "1".into(),
            first.to_string(),
            "10".into(),
            "250".into(),
            "0".into(),
            "-999".into(),
        ]],
    };
    let f = vec![frag("a_late", 200), frag("b_early", 100)];
    let by_time = order_fragments(f.clone(), false);
    assert_eq!(by_time[0].name, "b_early");
    let by_name = order_fragments(f, true);
    assert_eq!(by_name[0].name, "a_late");
}

#[test]
fn boltzmann_constant() {
    let fixed = Compat::default().k_b();
    let original = with(|c| c.boltzmann_2010 = true).k_b();
    assert_eq!(fixed, 8.617333262e-5);
    assert_eq!(original, 8.6173324e-5);
    // The temperature scaling differs in the sixth digit between the two.
    let a = pixel_monitor::normalise::scale_to_temperature(100.0, 253.15, 293.15, fixed);
    let b = pixel_monitor::normalise::scale_to_temperature(100.0, 253.15, 293.15, original);
    assert!(a != b && ((a - b) / a).abs() < 1e-5);
}
