//! Codes to ns (spec §4.1): the bin-width statistics, the TOA/TOT formulas and the event pivot.

use etroc_analysis::times::{
    EventTimes, FbinChoice, board_calibration, convert_hits, toa_ns, tot_ns,
};

#[test]
fn formulas_of_spec_4_1() {
    let f = 3.125 / 130.0;
    assert!((toa_ns(200, f) - (12.5 - 200.0 * f)).abs() < 1e-15);
    // TOT: (2c - floor(c/32)) * fbin.
    assert!((tot_ns(31, f) - 62.0 * f).abs() < 1e-15);
    assert!((tot_ns(32, f) - 63.0 * f).abs() < 1e-15);
    assert!((tot_ns(100, f) - 197.0 * f).abs() < 1e-15);
    assert_eq!(tot_ns(0, f), 0.0);
}

#[test]
fn bin_width_uses_the_accepted_hits_of_each_board() {
    let board = [0, 0, 0, 0, 1, 1, 1, 3];
    let cal = [128, 130, 130, 900, 120, 121, 121, 135];
    let acc = [true, true, true, false, true, true, true, false];
    let c = board_calibration(&board, &cal, &acc).unwrap();
    assert_eq!(c.len(), 3);
    assert!((c[0].calibration_code_mean - 388.0 / 3.0).abs() < 1e-12);
    assert_eq!(c[0].calibration_code_median, 130.0);
    assert_eq!(c[0].calibration_code_mode, 130.0);
    assert!((c[0].fbin_mean - 3.125 * 3.0 / 388.0).abs() < 1e-15);
    assert_eq!(c[1].calibration_code_median, 121.0);
    assert_eq!(c[1].calibration_code_mode, 121.0);
    // Even count: pandas median = mean of the middle two.
    let c2 = board_calibration(&[0, 0], &[128, 131], &[true, true]).unwrap();
    assert_eq!(c2[0].calibration_code_median, 129.5);
    // Board 3 has no accepted hit: NaN (its times become NaN, as in the original).
    assert_eq!(c[2].n_hits, 0);
    assert!(c[2].fbin_mean.is_nan());

    let t = convert_hits(&board, &[100; 8], &[50; 8], &cal, &c, FbinChoice::Mean).unwrap();
    assert!((t.time_of_arrival_ns[0] - (12.5 - 100.0 * c[0].fbin_mean)).abs() < 1e-12);
    assert!(t.time_of_arrival_ns[7].is_nan());
    let e = convert_hits(&board, &[100; 8], &[50; 8], &cal, &c, FbinChoice::Event).unwrap();
    assert!((e.fbin[3] - 3.125 / 900.0).abs() < 1e-15);
    let m = convert_hits(&board, &[100; 8], &[50; 8], &cal, &c, FbinChoice::Median).unwrap();
    assert!((m.fbin[0] - 3.125 / 130.0).abs() < 1e-15);
    // A board without a calibration row is an error, not a panic.
    assert!(convert_hits(&[2], &[1], &[1], &[130], &c, FbinChoice::Mean).is_err());
    assert!(board_calibration(&[0], &[1, 2], &[true]).is_err());
    assert!("foo".parse::<FbinChoice>().is_err());
    assert_eq!("median".parse::<FbinChoice>().unwrap(), FbinChoice::Median);
}

#[test]
fn pivot_one_row_per_event() {
    let ev = [0, 0, 0, 1, 1, 3];
    let b = [0, 1, 3, 0, 3, 1];
    let toa: Vec<f64> = (0..6).map(f64::from).collect();
    let p = EventTimes::from_hits(&ev, &b, &toa, &toa).unwrap();
    assert_eq!(p.boards, vec![0, 1, 3]);
    assert_eq!(p.event, vec![0, 1, 3]);
    assert_eq!(p.toa_ns[2][1], 4.0);
    assert!(p.toa_ns[1][1].is_nan());
    assert_eq!(p.toa_ns[1][2], 5.0);
    // Unsorted input gives the same pivot.
    let q = EventTimes::from_hits(
        &[3, 1, 1, 0, 0, 0],
        &[1, 3, 0, 3, 1, 0],
        &[5.0, 4.0, 3.0, 2.0, 1.0, 0.0],
        &[0.0; 6],
    )
    .unwrap();
    let bits =
        |v: &Vec<Vec<f64>>| -> Vec<u64> { v.iter().flatten().map(|x| x.to_bits()).collect() };
    assert_eq!(bits(&q.toa_ns), bits(&p.toa_ns));
    // Two hits of one board in an event: an error.
    assert!(EventTimes::from_hits(&[0, 0], &[1, 1], &[0.0; 2], &[0.0; 2]).is_err());
}
