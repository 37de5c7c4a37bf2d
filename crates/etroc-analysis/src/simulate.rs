//! Synthetic data with known truth: a beam run in the txt-summary format and a
//! charge-injection threshold scan in the Split `.dat` format, for closure tests and the demo.
//!
//! The recipes are those below (also in `docs/etroc-analysis.md`); the random numbers come from
//! [`hep_core::rng`] streams instead of numpy's `default_rng(42)`, so the files are statistically
//! equivalent to the original's synthetic run but not byte-identical to it. Each generated block
//! (beam) or run (charge injection) has its own stream, `stream_nested(seed, &[kind, index])`, so
//! the output depends only on the seed.
//!
//! # Beam run
//!
//! Blocks are generated until `n_events` complete 0-1-3 events exist. Per block: `t0 ~ U(3, 9)` ns;
//! with probability 0.02 an incomplete block (one board, drawn uniformly, missing). Per hit:
//! `TOT_true ~ N(4.0, 0.8)` clipped to `[1.5, 7.5]` ns; `TOA_true = t0 + d_b + w_b(TOT_true) +
//! N(0, sigma_b)`, `w_b(x) = -B_b (x-4) + A_b (x-4)^2`; `TOA_code = round((12.5 - TOA_true)/f_b)`
//! clipped to 0..=1023, `f_b = 3.125 / C_b` ns; `TOT_code` the c in 0..=511 minimising
//! `|(2c - floor(c/32)) f_b - TOT_true|`; `CAL = C_b + {-1, 0, +1}` with probabilities
//! {1/4, 1/2, 1/4}, replaced with probability 0.01 by a uniform code in 0..=1023 outside
//! \[115, 145\]. Then 300 stray flag-1 hits (each before a distinct complete block whose
//! predecessor is complete, so no accidental 0-1-3 pattern forms) and 200 flag-0 lines at random
//! positions. The file: a banner line, then `b TOA TOT CAL flag 2023-03-29 HH:MM:SS` with the
//! clock advancing 1 s every 150 lines, named `F5P5_F17P5_B2P5_Synth_seed<seed>.txt`.
//!
//! # Expected resolution
//!
//! The measured resolution after time-walk correction includes the quantisation of the codes:
//! `sigma_eff^2 = sigma_b^2 + f_b^2/12 + E[w_b'(TOT)^2] (2 f_b)^2/12` (TOA bin f_b, TOT bin
//! 2 f_b; `E[w'^2] = B^2 + 4 A^2 Var(TOT)`), about 40.8 / 45.7 / 50.6 ps for the defaults
//! ([`BeamTruth::expected_resolution_ps`]).
//!
//! # Charge-injection scan
//!
//! For each scanned board b and charge Q: thresholds d from `ped_b - 12` to
//! `floor(ped_b + g_b Q) + 11` in steps of 4; hits: 0 for `d < ped - 8` (no file), `U{5000..20000}`
//! for `ped - 8 <= d <= ped + 8` (noise), otherwise `Binomial(4450, erfc((d - ped - g Q) /
//! (sqrt(2) 1.5)) / 2)`. Runs with 0 hits are not written. Only the scanned board's hits are
//! written (`%2d %3d %3d %3d 1`, TOA U(150, 400), TOT U(40, 160), CAL 130 + {-1, 0, 1}); the
//! other boards keep their default DAC in the file name.

// Index loops over parallel columns read more clearly than zipped iterators here.
#![allow(clippy::needless_range_loop)]

use std::io::Write;
use std::path::{Path, PathBuf};

use hep_core::rng::{StreamRng, stream_nested};
use rand::RngExt;
use rand_distr::{Binomial, Distribution};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::times::{CAL_PERIOD_NS, TOA_REFERENCE_NS};

/// Board ids of the ETROC1 telescope, in readout order (FPGA channels 0, 1, 3).
pub const BOARDS: [u8; 3] = [0, 1, 3];

/// First key of the per-block beam streams.
const KEY_BEAM_BLOCK: u64 = 1;
/// Stream key of the stray hits.
const KEY_STRAY: u64 = 2;
/// Stream key of the flag-0 lines.
const KEY_FLAG0: u64 = 3;
/// First key of the per-run charge-injection streams.
const KEY_CHARGE_RUN: u64 = 4;

/// Parameters of the synthetic beam run (module docs). Per-board arrays follow [`BOARDS`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BeamSimConfig {
    /// Master seed of the random streams.
    pub seed: u64,
    /// Number of complete 0-1-3 events (default 20 000).
    pub n_events: usize,
    /// Probability that a block is incomplete (default 0.02).
    pub incomplete_probability: f64,
    /// Number of stray single hits (default 300).
    pub n_stray_hits: usize,
    /// Number of `hit_flag = 0` lines (default 200).
    pub n_flag0_lines: usize,
    /// True jitter per board, sigma_b (ps): 40, 45, 50.
    pub jitter_ps: [f64; 3],
    /// Centre of the CAL code per board, C_b: 130, 128, 132.
    pub cal_code: [u16; 3],
    /// Time offset per board, d_b (ns): 0, +0.35, -0.25.
    pub offset_ns: [f64; 3],
    /// Linear walk coefficient B_b (ns/ns): 0.30, 0.25, 0.20.
    pub walk_linear: [f64; 3],
    /// Quadratic walk coefficient A_b (ns/ns^2): 0.05, 0.04, 0.06.
    pub walk_quadratic: [f64; 3],
    /// TOT distribution: mean and standard deviation (ns), 4.0 and 0.8, clipped to `tot_range_ns`.
    pub tot_mean_ns: f64,
    /// Standard deviation of the true TOT (ns).
    pub tot_sigma_ns: f64,
    /// Clipping range of the true TOT (ns): \[1.5, 7.5\].
    pub tot_range_ns: [f64; 2],
    /// Range of the common event time t0 (ns): \[3, 9\].
    pub t0_range_ns: [f64; 2],
    /// Probability per hit of a CAL outlier (default 0.01).
    pub cal_outlier_probability: f64,
    /// Lines per second of the txt clock (150).
    pub lines_per_second: usize,
}

impl Default for BeamSimConfig {
    fn default() -> Self {
        BeamSimConfig {
            seed: 42,
            n_events: 20_000,
            incomplete_probability: 0.02,
            n_stray_hits: 300,
            n_flag0_lines: 200,
            jitter_ps: [40.0, 45.0, 50.0],
            cal_code: [130, 128, 132],
            offset_ns: [0.0, 0.35, -0.25],
            walk_linear: [0.30, 0.25, 0.20],
            walk_quadratic: [0.05, 0.04, 0.06],
            tot_mean_ns: 4.0,
            tot_sigma_ns: 0.8,
            tot_range_ns: [1.5, 7.5],
            t0_range_ns: [3.0, 9.0],
            cal_outlier_probability: 0.01,
            lines_per_second: 150,
        }
    }
}

impl BeamSimConfig {
    /// The txt file name `F5P5_F17P5_B2P5_Synth_seed<seed>.txt` (pixel ids of boards 0, 1, 3).
    pub fn file_name(&self) -> String {
        format!("F5P5_F17P5_B2P5_Synth_seed{}.txt", self.seed)
    }

    /// TDC bin width f_b = 3.125 / C_b (ns) of board index `i`.
    pub fn fbin_ns(&self, i: usize) -> f64 {
        CAL_PERIOD_NS / f64::from(self.cal_code[i])
    }

    fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidArgument(format!("beam simulation: {m}")));
        if !(0.0..1.0).contains(&self.incomplete_probability)
            || !(0.0..=1.0).contains(&self.cal_outlier_probability)
        {
            return bad("probabilities must be in [0, 1)".into());
        }
        if self.tot_sigma_ns < 0.0 || self.jitter_ps.iter().any(|s| *s < 0.0 || !s.is_finite()) {
            return bad("widths must be non-negative".into());
        }
        if self.tot_range_ns[0] >= self.tot_range_ns[1]
            || self.t0_range_ns[0] >= self.t0_range_ns[1]
        {
            return bad("ranges must be increasing".into());
        }
        if self.cal_code.contains(&0) || self.lines_per_second == 0 {
            return bad("CAL codes and lines per second must be positive".into());
        }
        if self.n_stray_hits > 0 && self.n_events < 2 * self.n_stray_hits {
            return bad(format!(
                "{} stray hits need at least {} complete events",
                self.n_stray_hits,
                2 * self.n_stray_hits
            ));
        }
        Ok(())
    }
}

/// One line of a synthetic file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimHit {
    /// Board id.
    pub board: u8,
    /// TOA code.
    pub toa: u16,
    /// TOT code.
    pub tot: u16,
    /// CAL code.
    pub cal: u16,
    /// Hit flag.
    pub flag: bool,
}

/// The truth of a synthetic beam run, written as JSON next to the txt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BeamTruth {
    /// The configuration.
    pub config: BeamSimConfig,
    /// Board ids.
    pub boards: [u8; 3],
    /// Complete events.
    pub n_complete_events: usize,
    /// Incomplete blocks.
    pub n_incomplete_blocks: usize,
    /// Complete events with at least one CAL outlier.
    pub n_events_with_cal_outlier: usize,
    /// Data lines (banner excluded).
    pub n_lines: usize,
    /// True jitter per board (ps).
    pub jitter_ps: [f64; 3],
    /// Expected measured resolution including TOA and TOT quantisation (ps, module docs).
    pub expected_resolution_ps: [f64; 3],
    /// TDC bin width per board (ns).
    pub fbin_ns: [f64; 3],
}

/// Expected resolution (ps) of board index `i` including quantisation (module docs).
pub fn expected_resolution_ps(cfg: &BeamSimConfig, i: usize) -> f64 {
    let f = cfg.fbin_ns(i);
    let sigma = cfg.jitter_ps[i] * 1e-3;
    let slope_sq =
        cfg.walk_linear[i].powi(2) + 4.0 * cfg.walk_quadratic[i].powi(2) * cfg.tot_sigma_ns.powi(2);
    (sigma * sigma + f * f / 12.0 + slope_sq * (2.0 * f).powi(2) / 12.0).sqrt() * 1e3
}

/// The TOT code c in 0..=511 minimising `|(2c - floor(c/32)) f - tot_ns|`.
pub fn tot_code_for(tot_ns: f64, fbin_ns: f64) -> u16 {
    let target = tot_ns / fbin_ns;
    let m = |c: i64| (2 * c - c.div_euclid(32)) as f64;
    let guess = (target / (2.0 - 1.0 / 32.0)).round() as i64;
    let mut best = 0i64;
    let mut best_d = f64::INFINITY;
    for c in (guess - 3).max(0)..=(guess + 3).min(511) {
        let d = (m(c) - target).abs();
        if d < best_d {
            best_d = d;
            best = c;
        }
    }
    if guess + 3 < 0 {
        best = 0;
    } else if guess - 3 > 511 {
        best = 511;
    }
    best as u16
}

fn draw_hit(
    cfg: &BeamSimConfig,
    rng: &mut StreamRng,
    i: usize,
    t0: f64,
    outlier: &mut bool,
) -> SimHit {
    let f = cfg.fbin_ns(i);
    let tot_true = (cfg.tot_mean_ns
        + cfg.tot_sigma_ns * rng.sample::<f64, _>(rand_distr::StandardNormal))
    .clamp(cfg.tot_range_ns[0], cfg.tot_range_ns[1]);
    let u = tot_true - 4.0;
    let walk = -cfg.walk_linear[i] * u + cfg.walk_quadratic[i] * u * u;
    let jitter = cfg.jitter_ps[i] * 1e-3 * rng.sample::<f64, _>(rand_distr::StandardNormal);
    let toa_true = t0 + cfg.offset_ns[i] + walk + jitter;
    let toa = ((TOA_REFERENCE_NS - toa_true) / f)
        .round()
        .clamp(0.0, 1023.0) as u16;
    let tot = tot_code_for(tot_true, f);
    let r: f64 = rng.random();
    let mut cal = if r < 0.25 {
        cfg.cal_code[i] - 1
    } else if r < 0.75 {
        cfg.cal_code[i]
    } else {
        cfg.cal_code[i] + 1
    };
    if rng.random::<f64>() < cfg.cal_outlier_probability {
        *outlier = true;
        cal = loop {
            let c: u16 = rng.random_range(0..=1023);
            if !(115..=145).contains(&c) {
                break c;
            }
        };
    }
    SimHit {
        board: BOARDS[i],
        toa,
        tot,
        cal: cal.min(1023),
        flag: true,
    }
}

/// Simulates the beam run: the hit lines in file order and the truth.
///
/// # Errors
/// [`Error::InvalidArgument`] for an inconsistent configuration.
pub fn simulate_beam(cfg: &BeamSimConfig) -> Result<(Vec<SimHit>, BeamTruth)> {
    cfg.validate()?;
    // Blocks: (start index in `hits`, complete?).
    let mut hits: Vec<SimHit> = Vec::with_capacity(3 * cfg.n_events + cfg.n_events / 16 + 16);
    let mut blocks: Vec<(usize, bool)> = Vec::with_capacity(cfg.n_events + cfg.n_events / 16);
    let mut n_complete = 0;
    let mut n_incomplete = 0;
    let mut n_outlier_events = 0;
    let mut block = 0u64;
    while n_complete < cfg.n_events {
        let mut rng = stream_nested(cfg.seed, &[KEY_BEAM_BLOCK, block]);
        block += 1;
        let t0 = rng.random_range(cfg.t0_range_ns[0]..cfg.t0_range_ns[1]);
        let start = hits.len();
        let mut outlier = false;
        if rng.random::<f64>() < cfg.incomplete_probability {
            let missing = rng.random_range(0..3usize);
            for i in (0..3).filter(|&i| i != missing) {
                let h = draw_hit(cfg, &mut rng, i, t0, &mut outlier);
                hits.push(h);
            }
            n_incomplete += 1;
            blocks.push((start, false));
        } else {
            for i in 0..3 {
                let h = draw_hit(cfg, &mut rng, i, t0, &mut outlier);
                hits.push(h);
            }
            n_complete += 1;
            if outlier {
                n_outlier_events += 1;
            }
            blocks.push((start, true));
        }
    }
    // Stray hits before distinct complete blocks whose predecessor is complete.
    let mut inserts: Vec<(usize, SimHit)> = Vec::new();
    if cfg.n_stray_hits > 0 {
        let eligible: Vec<usize> = (1..blocks.len())
            .filter(|&k| blocks[k].1 && blocks[k - 1].1)
            .map(|k| blocks[k].0)
            .collect();
        if eligible.len() < cfg.n_stray_hits {
            return Err(Error::InvalidArgument(format!(
                "beam simulation: {} stray hits but only {} eligible blocks",
                cfg.n_stray_hits,
                eligible.len()
            )));
        }
        let mut rng = stream_nested(cfg.seed, &[KEY_STRAY]);
        let chosen = rand::seq::index::sample(&mut rng, eligible.len(), cfg.n_stray_hits);
        let mut positions: Vec<usize> = chosen.iter().map(|k| eligible[k]).collect();
        positions.sort_unstable();
        for pos in positions {
            let h = SimHit {
                board: BOARDS[rng.random_range(0..3usize)],
                toa: rng.random_range(0..=1023),
                tot: rng.random_range(0..=511),
                cal: rng.random_range(100..=159),
                flag: true,
            };
            inserts.push((pos, h));
        }
    }
    let mut merged = Vec::with_capacity(hits.len() + inserts.len() + cfg.n_flag0_lines);
    let mut next = inserts.iter().peekable();
    for (i, h) in hits.iter().enumerate() {
        while let Some((pos, s)) = next.peek() {
            if *pos == i {
                merged.push(*s);
                next.next();
            } else {
                break;
            }
        }
        merged.push(*h);
    }
    // Flag-0 lines at random positions (anywhere, also inside triplets).
    let mut rng = stream_nested(cfg.seed, &[KEY_FLAG0]);
    let mut zeros: Vec<(usize, SimHit)> = (0..cfg.n_flag0_lines)
        .map(|_| {
            let pos = rng.random_range(0..=merged.len());
            let h = SimHit {
                board: BOARDS[rng.random_range(0..3usize)],
                toa: rng.random_range(0..=1023),
                tot: rng.random_range(0..=511),
                cal: rng.random_range(100..=159),
                flag: false,
            };
            (pos, h)
        })
        .collect();
    zeros.sort_by_key(|z| z.0);
    let mut out = Vec::with_capacity(merged.len() + zeros.len());
    let mut zi = 0;
    for (i, h) in merged.iter().enumerate() {
        while zi < zeros.len() && zeros[zi].0 == i {
            out.push(zeros[zi].1);
            zi += 1;
        }
        out.push(*h);
    }
    out.extend(zeros[zi..].iter().map(|z| z.1));
    let truth = BeamTruth {
        config: cfg.clone(),
        boards: BOARDS,
        n_complete_events: n_complete,
        n_incomplete_blocks: n_incomplete,
        n_events_with_cal_outlier: n_outlier_events,
        n_lines: out.len(),
        jitter_ps: cfg.jitter_ps,
        expected_resolution_ps: [0, 1, 2].map(|i| expected_resolution_ps(cfg, i)),
        fbin_ns: [0, 1, 2].map(|i| cfg.fbin_ns(i)),
    };
    Ok((out, truth))
}

/// Writes the beam lines in the txt-summary format of the FNAL converter: the banner
/// `min file index: 0, max file index: 99`, then `b TOA TOT CAL flag 2023-03-29 HH:MM:SS`.
pub fn write_beam_txt(
    w: &mut impl Write,
    hits: &[SimHit],
    lines_per_second: usize,
) -> std::io::Result<()> {
    writeln!(w, "min file index: 0, max file index: 99")?;
    let per = lines_per_second.max(1);
    let mut stamp = String::new();
    for (i, h) in hits.iter().enumerate() {
        if i % per == 0 {
            let s = (i / per) % 86_400;
            stamp = format!(
                "2023-03-29 {:02}:{:02}:{:02}",
                s / 3600,
                (s / 60) % 60,
                s % 60
            );
        }
        writeln!(
            w,
            "{} {} {} {} {} {}",
            h.board,
            h.toa,
            h.tot,
            h.cal,
            u8::from(h.flag),
            stamp
        )?;
    }
    Ok(())
}

/// Simulates a beam run into `dir`: the txt (named by [`BeamSimConfig::file_name`]) and the truth
/// `<txt stem>.truth.json`. Returns `(txt path, truth path, truth)`.
///
/// # Errors
/// Configuration errors, and [`Error::Core`] for I/O errors (files are written atomically).
pub fn write_beam_run(dir: &Path, cfg: &BeamSimConfig) -> Result<(PathBuf, PathBuf, BeamTruth)> {
    let (hits, truth) = simulate_beam(cfg)?;
    std::fs::create_dir_all(dir).map_err(|e| hep_core::Error::io(dir, e))?;
    let txt = dir.join(cfg.file_name());
    hep_core::io::atomic_write(&txt, |w| {
        write_beam_txt(w, &hits, cfg.lines_per_second).map_err(|e| hep_core::Error::io(&txt, e))
    })?;
    let truth_path = dir.join(format!(
        "{}.truth.json",
        cfg.file_name().trim_end_matches(".txt")
    ));
    let json =
        serde_json::to_vec_pretty(&truth).map_err(|e| Error::InvalidArgument(e.to_string()))?;
    hep_core::io::atomic_write_bytes(&truth_path, &json)?;
    Ok((txt, truth_path, truth))
}

// ---------------------------------------------------------------------------------------------
// Charge injection
// ---------------------------------------------------------------------------------------------

/// The truth file of a simulated charge-injection scan, beside its `.dat` files.
pub const CHARGE_SCAN_TRUTH_FILE: &str = "charge_scan.truth.json";

/// Parameters of the synthetic threshold scan (module docs). Per-board arrays follow [`BOARDS`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChargeScanConfig {
    /// Master seed.
    pub seed: u64,
    /// Pixel ids: F5P5, F17P5, B2P5.
    pub pixel_ids: [String; 3],
    /// Default discriminator thresholds (DAC) of the non-scanned boards: 535, 720, 720.
    pub default_dac: [i32; 3],
    /// Pedestals (DAC): 520, 560, 545.
    pub pedestal_dac: [f64; 3],
    /// Gains (DAC/fC): 3.0, 2.5, 3.5.
    pub gain_dac_per_fc: [f64; 3],
    /// Injected charges (fC; the QSel value): 10, 20, 30.
    pub charges_fc: Vec<i32>,
    /// Injections per run: 4450.
    pub n_injections: u64,
    /// Discriminator noise (DAC): 1.5.
    pub sigma_dac: f64,
    /// Threshold step (DAC): 4.
    pub step_dac: i32,
    /// Phase adjustment in the file names.
    pub phase_adjust: i32,
    /// Range of the hit count of a noise run, `ped - 8 <= d <= ped + 8` (default 5000..=20000).
    pub noise_hits: [u64; 2],
}

impl Default for ChargeScanConfig {
    fn default() -> Self {
        ChargeScanConfig {
            seed: 42,
            pixel_ids: ["F5P5".into(), "F17P5".into(), "B2P5".into()],
            default_dac: [535, 720, 720],
            pedestal_dac: [520.0, 560.0, 545.0],
            gain_dac_per_fc: [3.0, 2.5, 3.5],
            charges_fc: vec![10, 20, 30],
            n_injections: 4450,
            sigma_dac: 1.5,
            step_dac: 4,
            phase_adjust: 0,
            noise_hits: [5000, 20000],
        }
    }
}

/// One simulated charge-injection run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChargeRun {
    /// Index of the scanned board in [`BOARDS`].
    pub board_index: usize,
    /// Injected charge (fC).
    pub charge_fc: i32,
    /// Threshold of the scanned board (DAC).
    pub dac: i32,
    /// Number of hits.
    pub hits: u64,
    /// File name of the run's Split 0 file.
    pub file_name: String,
}

/// The truth of a simulated scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChargeScanTruth {
    /// The configuration.
    pub config: ChargeScanConfig,
    /// The runs written (0-hit runs are not).
    pub runs: Vec<ChargeRun>,
    /// Total data lines.
    pub n_lines: u64,
}

/// The runs of the scan (without drawing the hit lines): thresholds, hit counts, file names.
///
/// # Errors
/// [`Error::InvalidArgument`] for a non-positive step or a negative noise.
pub fn charge_scan_runs(cfg: &ChargeScanConfig) -> Result<Vec<ChargeRun>> {
    if cfg.step_dac <= 0 || cfg.sigma_dac <= 0.0 {
        return Err(Error::InvalidArgument(
            "charge scan: step and sigma must be positive".into(),
        ));
    }
    let mut runs = Vec::new();
    for (bi, _) in BOARDS.iter().enumerate() {
        let ped = cfg.pedestal_dac[bi];
        let g = cfg.gain_dac_per_fc[bi];
        for &q in &cfg.charges_fc {
            let start = (ped - 12.0).round() as i32;
            let end = (ped + g * f64::from(q)).floor() as i32 + 11;
            let mut d = start;
            while d <= end {
                let mut rng =
                    stream_nested(cfg.seed, &[KEY_CHARGE_RUN, bi as u64, q as u64, d as u64]);
                let df = f64::from(d);
                let hits = if df < ped - 8.0 {
                    0
                } else if df <= ped + 8.0 {
                    rng.random_range(cfg.noise_hits[0]..=cfg.noise_hits[1].max(cfg.noise_hits[0]))
                } else {
                    // erfc((d - mu)/(sqrt(2) sigma))/2 = P(N(d, sigma) < mu).
                    let p = hep_core::fit::shapes::normal_cdf(
                        ped + g * f64::from(q),
                        df,
                        cfg.sigma_dac,
                    );
                    Binomial::new(cfg.n_injections, p.clamp(0.0, 1.0))
                        .map_err(|e| Error::InvalidArgument(format!("charge scan: {e}")))?
                        .sample(&mut rng)
                };
                if hits > 0 {
                    let name_part = |i: usize| {
                        let dac = if i == bi { d } else { cfg.default_dac[i] };
                        format!("{}_QSel{}_DAC{}", cfg.pixel_ids[i], q, dac)
                    };
                    runs.push(ChargeRun {
                        board_index: bi,
                        charge_fc: q,
                        dac: d,
                        hits,
                        file_name: format!(
                            "TDC_Data_PhaseAdj{}_{}_{}_{}_Split_0.dat",
                            cfg.phase_adjust,
                            name_part(0),
                            name_part(1),
                            name_part(2)
                        ),
                    });
                }
                d += cfg.step_dac;
            }
        }
    }
    Ok(runs)
}

/// Writes the scan into `dir` (one Split 0 `.dat` per run with hits, ETROC-DAQ's Split format) and
/// the truth `charge_scan.truth.json`. Runs are drawn in parallel, each from its own stream.
///
/// # Errors
/// Configuration and I/O errors.
pub fn write_charge_scan(dir: &Path, cfg: &ChargeScanConfig) -> Result<ChargeScanTruth> {
    use rayon::prelude::*;
    let runs = charge_scan_runs(cfg)?;
    std::fs::create_dir_all(dir).map_err(|e| hep_core::Error::io(dir, e))?;
    runs.par_iter().try_for_each(|run| -> Result<()> {
        let mut rng = stream_nested(
            cfg.seed,
            &[
                KEY_CHARGE_RUN + 1,
                run.board_index as u64,
                run.charge_fc as u64,
                run.dac as u64,
            ],
        );
        let board = BOARDS[run.board_index];
        let path = dir.join(&run.file_name);
        hep_core::io::atomic_write(&path, |w| {
            for _ in 0..run.hits {
                let toa: u16 = rng.random_range(150..400);
                let tot: u16 = rng.random_range(40..160);
                let c: u16 = 129 + rng.random_range(0..3u16);
                writeln!(w, "{board:2} {toa:3} {tot:3} {c:3} 1")
                    .map_err(|e| hep_core::Error::io(&path, e))?;
            }
            Ok(())
        })?;
        Ok(())
    })?;
    let truth = ChargeScanTruth {
        config: cfg.clone(),
        n_lines: runs.iter().map(|r| r.hits).sum(),
        runs,
    };
    let json =
        serde_json::to_vec_pretty(&truth).map_err(|e| Error::InvalidArgument(e.to_string()))?;
    hep_core::io::atomic_write_bytes(&dir.join(CHARGE_SCAN_TRUTH_FILE), &json)?;
    Ok(truth)
}
