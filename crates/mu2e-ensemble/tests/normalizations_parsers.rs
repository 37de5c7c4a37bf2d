//! Property tests: the table and SimEfficiencies2 readers never panic on arbitrary text, and
//! a well-formed table round-trips through its text form.

use std::path::Path;

use mu2e_ensemble::tables::{EfficiencyTable, SimEfficiencies, Spectrum};
use proptest::prelude::*;

proptest! {
    #[test]
    fn readers_never_panic(text in "[ -~\\t\\n]{0,400}") {
        let p = Path::new("fuzz.tbl");
        let _ = Spectrum::parse(&text, p);
        let _ = EfficiencyTable::parse(&text, p);
        let _ = SimEfficiencies::parse(&text, p);
    }

    #[test]
    fn numeric_lines_never_panic(rows in prop::collection::vec(("[-+0-9.eE]{1,8}", "[-+0-9.eEx]{1,8}"), 0..20)) {
        let text: String = rows.iter().map(|(a, b)| format!("{a} {b}\n")).collect();
        let p = Path::new("fuzz.tbl");
        if let Err(e) = Spectrum::parse(&text, p) {
            prop_assert!(e.to_string().starts_with("fuzz.tbl:"));
        }
        let csv: String = rows.iter().map(|(a, b)| format!("S,{a},{b},0.5\n")).collect();
        if let Err(e) = SimEfficiencies::parse(&csv, p) {
            prop_assert!(e.to_string().starts_with("fuzz.tbl:"));
        }
    }

    #[test]
    fn spectrum_text_round_trip(steps in prop::collection::vec((0.001f64..10.0, 0.0f64..1e3), 2..50), emin in 0.0f64..200.0) {
        // A valid table: strictly increasing energies, weights with a positive sum.
        let mut energy = 0.0;
        let mut points: Vec<(f64, f64)> = steps
            .iter()
            .map(|&(de, w)| {
                energy += de;
                (energy, w)
            })
            .collect();
        points[0].1 += 1.0;
        let text: String = points.iter().map(|(e, v)| format!("{e:?}\t{v:?}\n")).collect();
        let s = Spectrum::parse(&text, Path::new("t.tbl")).unwrap();
        let e: Vec<f64> = points.iter().map(|p| p.0).collect();
        let v: Vec<f64> = points.iter().map(|p| p.1).collect();
        let direct = Spectrum::from_points(e, v).unwrap();
        prop_assert_eq!(s.fraction_at_least(emin), direct.fraction_at_least(emin));
        let f = s.fraction_at_least(emin);
        prop_assert!((0.0..=1.0 + 1e-12).contains(&f));
    }
}
