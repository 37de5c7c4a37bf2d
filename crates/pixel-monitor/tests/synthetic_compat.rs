//! The synthetic reference inputs (four fills in August 2022, luminosity, currents, loop
//! temperatures and HV given by closed formulas, a FLUKA-like field) through the jobs with every
//! compatibility switch on: each text output must be what the original scripts compute from the
//! same inputs, worked out here independently from the formulas and the original's rules
//! (fills.csv, the luminosity CSV, the from_database and processed currents, the readout-group
//! temperatures, and the radiation-profile rows).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{NaiveDateTime, TimeZone};
use pixel_monitor::config::Compat;
use pixel_monitor::fluence::{Axis, SPECIES, write_usrbin_ascii};
use pixel_monitor::geometry::Geometry;
use pixel_monitor::jobs::{
    CurrentsFromDbJob, CurrentsJob, FillsJob, FluenceFieldJob, LumiJob, RogTemperaturesJob,
    run_currents, run_currents_from_db, run_fills, run_fluence_field, run_lumi,
    run_rog_temperatures,
};
use pixel_monitor::profile_job::{ProfileJob, run_profile};
use pixel_monitor::pyfmt::repr;
use rand::RngExt;
use rand_distr::{Distribution, Normal};

const US: i64 = 1_000_000;

fn t(s: &str) -> i64 {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .unwrap()
        .and_utc()
        .timestamp_micros()
}

fn naive(us: i64) -> NaiveDateTime {
    chrono::DateTime::from_timestamp_micros(us)
        .unwrap()
        .naive_utc()
}

fn py_datetime(us: i64) -> String {
    let n = naive(us);
    let frac = us.rem_euclid(US);
    if frac == 0 {
        n.format("%Y-%m-%d %H:%M:%S").to_string()
    } else {
        format!("{}.{frac:06}", n.format("%Y-%m-%d %H:%M:%S"))
    }
}

fn sum_ord(s: &str) -> u32 {
    s.bytes().map(u32::from).sum()
}

fn round_to(x: f64, d: i32) -> f64 {
    let k = 10f64.powi(d);
    (x * k).round() / k
}

/// The four fills (number, start, end).
fn fills() -> Vec<(u32, i64, i64)> {
    vec![
        (8000, t("2022-08-01 10:00:00"), t("2022-08-01 22:30:00")),
        (8001, t("2022-08-02 02:15:00"), t("2022-08-02 02:30:00")),
        (8003, t("2022-08-02 06:00:00"), t("2022-08-02 13:07:30")),
        (8005, t("2022-08-03 00:00:00"), t("2022-08-03 04:00:00")),
    ]
}

const L0: f64 = 2e-5; // fb^-1 s^-1
const TAU: f64 = 36_000.0; // s

/// Delivered luminosity in [a, b] (fb^-1), the closed form.
fn lumi(a: i64, b: i64) -> f64 {
    let mut s = 0.0;
    for (_, fs, fe) in fills() {
        let (x, y) = (a.max(fs), b.min(fe));
        if y > x {
            let p = (x - fs) as f64 / US as f64;
            let q = (y - fs) as f64 / US as f64;
            s += L0 * TAU * ((-p / TAU).exp() - (-q / TAU).exp());
        }
    }
    s
}

/// A profile row: (fill or None, start, end, measurement end).
type Row = (Option<u32>, i64, i64, i64);

/// The timeline of prepare_profile.py (upstream), with fills shorter than the delay left out.
fn timeline() -> Vec<Row> {
    let mut rows = Vec::new();
    let mut block = |fill: Option<u32>, b: i64, e: i64| {
        let (delay, step) = (1200 * US, 3600 * US);
        let mut last = b;
        let mut m = b + delay;
        rows.push((fill, last, m, m));
        last = m;
        m = last + step;
        while m < e {
            rows.push((fill, last, m, m));
            last = m;
            m += step;
        }
        let g = (e - last) / US;
        let d = if g > 300 {
            300
        } else if g > 120 {
            120
        } else {
            0
        };
        rows.push((fill, last, e, e - d * US));
    };
    let mut prev: Option<i64> = None;
    for (f, a, b) in fills() {
        if let Some(p) = prev
            && a - p >= 1200 * US
        {
            block(None, p, a);
        }
        if b - a >= 1200 * US {
            block(Some(f), a, b);
        }
        prev = Some(b);
    }
    rows
}

/// The per-fill measurement window [start, meas].
fn meas_window(start: i64, end: i64) -> (i64, i64) {
    (
        start,
        if end - start < 1200 * US {
            end
        } else {
            start + 1200 * US
        },
    )
}

/// All barrel CAEN cables of Phase 1.
fn barrel_cables() -> Vec<String> {
    let mut v = Vec::new();
    for hc in ["BmI", "BmO", "BpI", "BpO"] {
        for s in 1..=8 {
            for lay in ["14", "23"] {
                for ch in 0..4 {
                    v.push(format!("PixelBarrel_{hc}_S{s}_LAY{lay}/channel00{ch}"));
                }
            }
        }
    }
    v
}

fn imon(cable: &str, at: i64) -> f64 {
    let ch = cable.chars().last().unwrap();
    let so = sum_ord(cable);
    match ch {
        '0' => 2.5 + 0.01 * f64::from(so % 13),
        '1' => 1.5 + 0.01 * f64::from(so % 7),
        _ => {
            let days = (at - t("2022-08-01 00:00:00")) as f64 / 86_400e6;
            round_to(300.0 + 3.0 * f64::from(so % 97) + 20.0 * days, 3)
        }
    }
}

fn vmon(cable: &str) -> f64 {
    if cable.ends_with('0') || cable.ends_with('1') {
        2.7
    } else {
        250.0
    }
}

/// The PLC parts: the 65 of the list, the broken loops, the outlier, two aliases missing from
/// the correction table.
fn plc_parts() -> Vec<String> {
    let mut p = Geometry::phase1().temperature_sensors.clone();
    for e in [
        "PixelBarrel_BmO_6I_L4D3MF",
        "PixelBarrel_BpI_6I_L4D3PN",
        "PixelBarrel_BmO_6M_L4D3MF",
        "PixelBarrel_BpI_3M_L1D1PN",
        "PixelBarrel_BpO_4M_L1D2PF",
    ] {
        p.push(e.into());
    }
    p
}

fn loop_temperature(part: &str, at: i64) -> f64 {
    let sec = (at - t("2022-08-01 00:00:00")) as f64 / US as f64;
    round_to(
        -22.0
            + 0.1 * f64::from(sum_ord(part) % 11)
            + 0.5 * (2.0 * std::f64::consts::PI * sec / 86_400.0).sin(),
        2,
    )
}

/// The readings (time, value) of `part` in window [a, b): at 25 % and 75 % (45 °C at 75 % for
/// the outlier).
fn readings(part: &str, a: i64, b: i64) -> [(i64, f64); 2] {
    let r1 = a + (b - a) / 4;
    let r2 = a + 3 * (b - a) / 4;
    let v2 = if part == "PixelBarrel_BmO_6M_L4D3MF" {
        45.0
    } else {
        loop_temperature(part, r2)
    };
    [(r1, loop_temperature(part, r1)), (r2, v2)]
}

/// The temperature windows: the per-fill windows [start, meas) and every profile row's.
fn temperature_windows() -> Vec<(i64, i64)> {
    let mut w: Vec<(i64, i64)> = fills().iter().map(|&(_, a, b)| meas_window(a, b)).collect();
    w.extend(timeline().iter().map(|r| (r.1, r.3)));
    w.sort_unstable();
    w.dedup();
    w
}

/// The current windows: per fill [start, meas] and every fill row's.
fn current_windows() -> Vec<(i64, i64)> {
    let mut w: Vec<(i64, i64)> = fills().iter().map(|&(_, a, b)| meas_window(a, b)).collect();
    w.extend(
        timeline()
            .iter()
            .filter(|r| r.0.is_some())
            .map(|r| (r.1, r.3)),
    );
    w.sort_unstable();
    w.dedup();
    w
}

/// The original's loop rules, written out: (layer, loop, near) of a DCS alias.
fn loop_of(dcs: &str) -> (u8, u8, bool) {
    let code = dcs.split('_').nth(1).unwrap().as_bytes();
    ((code[1] - b'0'), (code[3] - b'0'), code[5] == b'N')
}

fn serves(dcs: &str, rog: &str) -> bool {
    let (layer, d, near) = loop_of(dcs);
    let sectors: Vec<u8> = match (layer, d) {
        (1 | 2, 1) => vec![1, 2, 3, 4],
        (1 | 2, 2) => vec![5, 6, 7, 8],
        (_, d) => vec![2 * d - 1, 2 * d],
    };
    let shell = if near { "I" } else { "O" };
    sectors.iter().any(|s| {
        rog.ends_with(&format!("_SEC{s}_LYR{layer}"))
            && &rog[7..8] == shell
            && rog.starts_with("BPix_B")
    })
}

fn required(dcs: &str) -> usize {
    match loop_of(dcs) {
        (1, 1, true) | (1, 2, false) | (2, 2, _) | (3, 1, true) => 2,
        _ => 3,
    }
}

/// The alias table as the original's dict.
fn alias_table() -> BTreeMap<String, Option<String>> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/omds_dcs_aliases.csv"),
    )
    .unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].to_string(),
                (f[2] != "broken").then(|| f[1].to_string()),
            )
        })
        .collect()
}

/// The original's cooling-loop temperature of `rog` over [a, b) (K), or None where it would
/// recurse forever (too few sensors anywhere).
fn pipe_temperature(rog: &str, a: i64, b: i64) -> Option<f64> {
    let table = alias_table();
    let mut vals: Vec<f64> = Vec::new();
    let mut need = None;
    for part in plc_parts() {
        let omds = part.split('_').skip(2).collect::<Vec<_>>().join("_");
        let Some(Some(dcs)) = table.get(&omds) else {
            continue;
        };
        if !serves(dcs, rog) {
            continue;
        }
        need = Some(required(dcs));
        // Newest valid reading in the window.
        let r = readings(&part, a, b);
        let v = if r[1].1 > 40.0 { r[0].1 } else { r[1].1 };
        vals.push(v);
    }
    let need = need?;
    if vals.len() < need {
        return None;
    }
    Some(vals.iter().sum::<f64>() / vals.len() as f64 + 273.15)
}

fn hv_on(rog: &str) -> bool {
    !rog.contains("_SEC8_")
}

fn self_heating(rog: &str) -> f64 {
    if !hv_on(rog) {
        0.0
    } else if rog.ends_with("LYR4") {
        4.0
    } else {
        3.0
    }
}

/// Writes the synthetic inputs; returns the FLUKA allpart values (per bin, as written).
fn write_inputs(dir: &Path) -> Vec<f64> {
    // OMS fills with luminosity in pb^-1.
    let mut data = Vec::new();
    for (f, a, b) in fills() {
        let d_pb = round_to(lumi(a, b) * 1e3, 3);
        data.push(serde_json::json!({
            "id": f.to_string(), "type": "fills",
            "attributes": {
                "fill_number": f,
                "start_stable_beam": format!("{}Z", naive(a).format("%Y-%m-%dT%H:%M:%S")),
                "end_stable_beam": format!("{}Z", naive(b).format("%Y-%m-%dT%H:%M:%S")),
                "delivered_lumi": d_pb, "recorded_lumi": round_to(0.93 * d_pb, 3),
                "stable_beams": true, "injection_scheme": "25ns_2400b"
            },
            "meta": {"row": {"delivered_lumi": {"units": "pb^{-1}"}, "recorded_lumi": {"units": "pb^{-1}"}}}
        }));
    }
    std::fs::write(
        dir.join("fills.json"),
        serde_json::to_string(&serde_json::json!({"data": data})).unwrap(),
    )
    .unwrap();
    // brilcalc --byls --tssec in /fb: one-second "lumisections" with their exact integrals.
    let mut s = String::from(
        "#Data tag : test , Norm tag: None\n#run:fill,ls,time,beamstatus,E(GeV),delivered(/fb),recorded(/fb),avgpu,source\n",
    );
    for (f, a, b) in fills() {
        let mut ls = 1;
        let mut x = a;
        while x < b {
            let d = lumi(x, x + US);
            s.push_str(&format!(
                "1:{f},{ls}:{ls},{},STABLE BEAMS,6800,{},{},50,HFOC\n",
                x / US,
                repr(d),
                repr(0.93 * d)
            ));
            ls += 1;
            x += US;
        }
    }
    s.push_str("#Summary:\n");
    std::fs::write(dir.join("lumi_byls.csv"), s).unwrap();
    // CAEN: every channel changes 7 s before the end of every current window.
    let mut caen = String::from("alias,change_date,actual_imon,actual_vmon\n");
    let mut cables = barrel_cables();
    cables.push("PixelBarrel_BpI_S1_LAY1/channel002".into());
    cables.push("PixelEndCap_BpI_D1_ROG1/channel002".into());
    for (_, b) in current_windows() {
        let at = b - 7 * US;
        for c in &cables {
            caen.push_str(&format!(
                "CMS_TRACKER/PixelBarrel/{c},{},{},{}\n",
                py_datetime(at),
                repr(imon(c, at)),
                repr(vmon(c))
            ));
        }
    }
    std::fs::write(dir.join("caen.csv"), caen).unwrap();
    // PLC: two readings per sensor and window.
    let mut plc = String::from("alias,part,change_date,value_converted\n");
    for (a, b) in temperature_windows() {
        for p in plc_parts() {
            for (at, v) in readings(&p, a, b) {
                plc.push_str(&format!(
                    "CMS_TRACKER/PLC/{p},{p},{},{}\n",
                    py_datetime(at),
                    repr(v)
                ));
            }
        }
    }
    std::fs::write(dir.join("plc.csv"), plc).unwrap();
    // HV: one record per cable, long before (off a 5 h grid of every window start).
    let mut hv = String::from("cable,change_date,value\n");
    let at = t("2022-07-31 00:00:01") + 500_000;
    for c in barrel_cables().iter().filter(|c| c.ends_with("channel000")) {
        let pg = c.split('/').next().unwrap();
        for n in [1, 2] {
            let v = if pg.contains("_S8_") { 0.0 } else { 250.0 };
            hv.push_str(&format!("{pg}/HV{n},{},{}\n", py_datetime(at), repr(v)));
        }
    }
    std::fs::write(dir.join("hv.csv"), hv).unwrap();
    // FLUKA: F0 with species fractions (1 + 0.02 N(0,1)), errors uniform in [1, 5] %. The
    // binning is the original's (0.1 cm in r, 1 cm in z), cut to |z| < 30 cm, which holds every
    // BPix module: the reader takes the binning from the header, and the bins the modules sample
    // are the same as in the full 700-bin file.
    let r = Axis {
        n: 200,
        lo: 0.0,
        hi: 20.0,
    };
    let z = Axis {
        n: 60,
        lo: -30.0,
        hi: 30.0,
    };
    let mut rng = hep_core::rng::stream(7, 1);
    let normal = Normal::new(0.0, 1.0).unwrap();
    let fr: Vec<f64> = [0.30, 0.01, 0.08, 0.02, 0.59]
        .iter()
        .map(|f| f * (1.0 + 0.02 * normal.sample(&mut rng)))
        .collect();
    let round4 = |x: f64| -> f64 { pixel_monitor::pyfmt::sci_upper(x, 4).parse().unwrap() };
    let mut maps = vec![Vec::new(); 6];
    for iz in 0..z.n {
        for ir in 0..r.n {
            let (rc, zc) = (r.center(ir), z.center(iz));
            let f0 =
                0.566 * rc.powf(-1.7) * (-0.01 * rc).exp() / (1.0 + (zc / 50.0).powi(2)).sqrt();
            let parts: Vec<f64> = fr.iter().map(|f| round4(f0 * f)).collect();
            maps[0].push(round4(parts.iter().sum()));
            for (k, p) in parts.iter().enumerate() {
                maps[k + 1].push(*p);
            }
        }
    }
    let species: Vec<pixel_monitor::fluence::SpeciesData<'_>> = SPECIES
        .iter()
        .zip(&maps)
        .map(|(n, m)| {
            (
                *n,
                m.clone(),
                Some(
                    (0..m.len())
                        .map(|_| round4(1.0 + 4.0 * rng.random::<f64>()))
                        .collect(),
                ),
            )
        })
        .collect();
    write_usrbin_ascii(&dir.join("usrbin_ascii"), r, z, &species).unwrap();
    maps[0].clone()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn compat_outputs_match_the_original_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let allpart = write_inputs(d);
    let compat = Compat::all();
    let out = d.join("data");
    let fills_csv = out.join("fills_info/fills.csv");

    // fills.csv
    run_fills(&FillsJob {
        input: Some(d.join("fills.json")),
        output_dir: out.join("fills_info"),
        ..FillsJob::default()
    })
    .unwrap();
    let mut want = String::from("fill_number,start_stable_beam,end_stable_beam\n");
    for (f, a, b) in fills() {
        want.push_str(&format!(
            "{f},{}.000000,{}.000000\n",
            naive(a).format("%Y-%m-%d %H:%M:%S"),
            naive(b).format("%Y-%m-%d %H:%M:%S")
        ));
    }
    assert_eq!(read(&fills_csv), want);

    // Luminosity per fill from OMS: value x 1e12 x 1e-15, running sums.
    run_lumi(&LumiJob {
        input: Some(d.join("fills.json")),
        output_dir: out.join("luminosity"),
        compat,
        ..LumiJob::default()
    })
    .unwrap();
    let mut want = String::from(
        "fill,delivered (/fb),recorded (/fb),integrated delivered (/fb),integrated recorded (/fb)\n",
    );
    let (mut cd, mut cr) = (0.0, 0.0);
    for (f, a, b) in fills() {
        let d_pb = round_to(lumi(a, b) * 1e3, 3);
        let del = d_pb * 1e12 * 1e-15;
        let rec = round_to(0.93 * d_pb, 3) * 1e12 * 1e-15;
        cd += del;
        cr += rec;
        want.push_str(&format!(
            "{f},{},{},{},{}\n",
            repr(del),
            repr(rec),
            repr(cd),
            repr(cr)
        ));
    }
    assert_eq!(
        read(&out.join("luminosity/integrated_luminosity_per_fill.csv")),
        want
    );

    // Currents from the export: every Phase-1 barrel channel at window end - 7 s.
    run_currents_from_db(&CurrentsFromDbJob {
        fills: Some(fills_csv.clone()),
        caen: Some(d.join("caen.csv")),
        output_dir: out.join("currents/from_database"),
        ..CurrentsFromDbJob::default()
    })
    .unwrap();
    let mut cables = barrel_cables();
    cables.sort();
    for (f, a, b) in fills() {
        let (_, m) = meas_window(a, b);
        let at = m - 7 * US;
        let want: String = cables
            .iter()
            .map(|c| {
                format!(
                    "{c}   {}   {}   {}\n",
                    repr(imon(c, at)),
                    repr(vmon(c)),
                    py_datetime(at)
                )
            })
            .collect();
        assert_eq!(
            read(&out.join(format!("currents/from_database/{f}_Barrel.txt"))),
            want,
            "fill {f}"
        );
    }
    run_currents(&CurrentsJob {
        input_dir: out.join("currents/from_database"),
        output_dir: out.join("currents/processed"),
        first_fill: Some(8000),
        last_fill: Some(8005),
        ..CurrentsJob::default()
    })
    .unwrap();
    let key = |n: &str| format!("{}{n}", n.chars().last().unwrap());
    for (f, a, b) in fills() {
        let at = meas_window(a, b).1 - 7 * US;
        let mut hv: Vec<(String, f64)> = Vec::new();
        let mut dig: Vec<(String, f64)> = Vec::new();
        let mut ana: Vec<(String, f64)> = Vec::new();
        for c in &cables {
            let (pg, ch) = c.split_once('/').unwrap();
            let v = imon(c, at);
            let (hc, s, lay) = (&pg[12..15], &pg[17..18], &pg[22..24]);
            match (ch, lay) {
                ("channel000", _) => dig.push((pg.to_string(), v)),
                ("channel001", _) => ana.push((pg.to_string(), v)),
                ("channel002", "14") => hv.push((format!("BPix_{hc}_SEC{s}_LYR1"), v)),
                ("channel003", "14") => hv.push((format!("BPix_{hc}_SEC{s}_LYR4"), v)),
                ("channel002", "23") => hv.push((format!("BPix_{hc}_SEC{s}_LYR3"), v)),
                _ => hv.push((format!("BPix_{hc}_SEC{s}_LYR2"), v)),
            }
        }
        for (suffix, mut rows) in [("HV_ByLayer", hv), ("Dig", dig), ("Ana", ana)] {
            rows.sort_by_key(|r| key(&r.0));
            let want: String = rows.iter().map(|(n, v)| format!("{n} {v:.4}\n")).collect();
            assert_eq!(
                read(&out.join(format!("currents/processed/{f}_Barrel_{suffix}.txt"))),
                want,
                "{f} {suffix}"
            );
        }
    }

    // Readout-group temperatures at [start, meas).
    let rep = run_rog_temperatures(&RogTemperaturesJob {
        fills: Some(fills_csv.clone()),
        plc: Some(d.join("plc.csv")),
        hv: Some(d.join("hv.csv")),
        output_dir: out.join("temperatures/readout_group"),
        compat,
        ..RogTemperaturesJob::default()
    })
    .unwrap();
    let geo = Geometry::phase1();
    let mut hung = 0;
    for (f, a, b) in fills() {
        let (w0, w1) = meas_window(a, b);
        let text = read(&out.join(format!("temperatures/readout_group/BPix/{f}.txt")));
        let got: BTreeMap<&str, &str> = text.lines().map(|l| l.split_once(' ').unwrap()).collect();
        assert_eq!(got.len(), 128);
        for g in &geo.readout_groups {
            match pipe_temperature(&g.name, w0, w1) {
                Some(p) => assert_eq!(
                    got[g.name.as_str()],
                    format!("{:.4}", p + self_heating(&g.name)),
                    "fill {f} {}",
                    g.name
                ),
                None => hung += 1, // the original recurses forever for these
            }
        }
    }
    // Loop L3D4 Near has two of its three sensors in these inputs: the original never returns
    // for its readout groups; here they end at the start of the data and are counted.
    assert_eq!(hung, 4 * 4);
    assert_eq!(rep.temperatures.incomplete, 16);

    // Radiation profiles of three readout groups.
    run_fluence_field(&FluenceFieldJob {
        input: Some(d.join("usrbin_ascii")),
        output_dir: out.join("fluence"),
        txt_dir: out.join("fluence/txt_files"),
        texts: false,
        plots: false,
        compat,
        ..FluenceFieldJob::default()
    })
    .unwrap();
    let rogs = [
        "BPix_BmI_SEC1_LYR1",
        "BPix_BpO_SEC8_LYR4",
        "BPix_BmO_SEC5_LYR2",
    ];
    let profile_dir = out.join("radiation_simulation/profiles");
    run_profile(
        &ProfileJob {
            fills: Some(fills_csv.clone()),
            lumi: Some(d.join("lumi_byls.csv")),
            caen: Some(d.join("caen.csv")),
            plc: Some(d.join("plc.csv")),
            hv: Some(d.join("hv.csv")),
            field: Some(out.join("fluence/fluence_field_phase1_6500GeV.parquet")),
            readout_groups: rogs.iter().map(|s| s.to_string()).collect(),
            output_dir: profile_dir.clone(),
            compat,
            plots_for: Vec::new(),
            ..ProfileJob::default()
        },
        None,
        &hep_core::progress::NoProgress,
    )
    .unwrap();
    let zurich = chrono_tz::Europe::Zurich;
    let f32_content = |r: f64, z: f64| -> f64 {
        let bin = |x: f64, n: usize, lo: f64, hi: f64| {
            if x < lo {
                0
            } else if !(x < hi) {
                n + 1
            } else {
                1 + (n as f64 * (x - lo) / (hi - lo)) as usize
            }
        };
        let (bx, by) = (bin(r, 200, 0.0, 20.0), bin(z, 60, -30.0, 30.0));
        if bx == 0 || by == 0 || bx > 200 || by > 60 {
            0.0
        } else {
            f64::from(allpart[(by - 1) * 200 + (bx - 1)] as f32)
        }
    };
    for rog in rogs {
        let g = geo.rog(rog).unwrap();
        // Per module: the 65-sample sum of float32 contents along z at the module's r.
        let sums: Vec<f64> = g
            .modules
            .iter()
            .map(|&i| {
                let m = &geo.bpix_modules[i];
                let mut z = m.z_cm - 6.48 / 2.0 + 0.1 / 2.0;
                let mut s = 0.0;
                while z < m.z_cm + 6.48 / 2.0 {
                    s += f32_content(m.r_cm, z);
                    z += 0.1;
                }
                s
            })
            .collect();
        let channel = g.leakage_channel();
        let mut want = String::from(
            "Fill\tTimestamp [s]\tDuration [s]\tTemperature [K]\tFluence [n_eq/cm2/s]\tLeakage_current [mA/cm2]\n",
        );
        for (fill, start, end, meas) in timeline() {
            let local = zurich
                .from_local_datetime(&naive(end))
                .earliest()
                .unwrap()
                .timestamp();
            let pipe = pipe_temperature(rog, start, meas).unwrap();
            let duration = (end - start) / US;
            let line = match fill {
                None => format!(
                    "-999\t{local}\t{duration}\t\t{:>4.2}\t\t{:>10}\t\t{:>6.2}",
                    pipe + self_heating(rog),
                    0,
                    -999.0
                ),
                Some(f) => {
                    let rate = lumi(start, meas) / ((meas - start) as f64 / US as f64);
                    let mut phi = 0.0;
                    for s in &sums {
                        phi += (0.1 / 6.48) * s * (rate * 1e-15) * (80.0 * 1e27);
                    }
                    let heat = if hv_on(rog) { 3e-8 * phi } else { 0.0 };
                    let temp = pipe + self_heating(rog) + heat;
                    let current = imon(&channel, meas - 7 * US);
                    format!(
                        "{f}\t{local}\t{duration}\t\t{temp:>4.2}\t\t{:>10}\t\t{current:>6.2}",
                        phi.trunc() as i64
                    )
                }
            };
            want.push_str(&line);
            want.push('\n');
        }
        let got = read(
            &profile_dir
                .join(rog)
                .join(format!("profile_{rog}_8000_8005.txt")),
        );
        assert_eq!(got, want, "{rog}");
    }
}

#[test]
fn corrected_profile_differs_where_the_original_was_wrong() {
    // The same inputs without compatibility switches: true UTC timestamps, the current label in
    // uA, a row for the short fill 8001, mean (not summed) fluence.
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write_inputs(d);
    let out = d.join("data");
    run_fills(&FillsJob {
        input: Some(d.join("fills.json")),
        output_dir: out.join("fills_info"),
        ..FillsJob::default()
    })
    .unwrap();
    run_fluence_field(&FluenceFieldJob {
        input: Some(d.join("usrbin_ascii")),
        output_dir: out.join("fluence"),
        texts: false,
        plots: false,
        ..FluenceFieldJob::default()
    })
    .unwrap();
    let profile_dir: PathBuf = out.join("profiles");
    let job = ProfileJob {
        fills: Some(out.join("fills_info/fills.csv")),
        lumi: Some(d.join("lumi_byls.csv")),
        caen: Some(d.join("caen.csv")),
        plc: Some(d.join("plc.csv")),
        hv: Some(d.join("hv.csv")),
        field: Some(out.join("fluence/fluence_field_phase1_6500GeV.parquet")),
        readout_groups: vec!["BPix_BmI_SEC1_LYR1".into()],
        output_dir: profile_dir.clone(),
        plots_for: Vec::new(),
        ..ProfileJob::default()
    };
    run_profile(&job, None, &hep_core::progress::NoProgress).unwrap();
    let text =
        read(&profile_dir.join("BPix_BmI_SEC1_LYR1/profile_BPix_BmI_SEC1_LYR1_8000_8005.txt"));
    let mut lines = text.lines();
    assert!(lines.next().unwrap().ends_with("Leakage_current [uA]"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    // The first row ends at 10:20 UTC: the true epoch.
    assert_eq!(
        rows[0][1].parse::<i64>().unwrap(),
        t("2022-08-01 10:20:00") / US
    );
    // One covering row for fill 8001 and none missing: the timeline is gap-free.
    assert!(rows.iter().any(|r| r[0] == "8001"));
    let mut prev_end = None;
    for r in &rows {
        let (ts, dur): (i64, i64) = (r[1].parse().unwrap(), r[2].parse().unwrap());
        if let Some(p) = prev_end {
            assert_eq!(ts - dur, p);
        }
        prev_end = Some(ts);
    }
}
