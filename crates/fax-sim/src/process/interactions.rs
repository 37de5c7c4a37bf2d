//! Interactions: S1-S2 pairs, drift time, z, and the area corrections.
//!
//! # Pairing
//!
//! pax `pax/plugins/interaction_processing/BuildInteractions.py` (`BuildInteractions`): the S1s
//! ranked by tight coincidence then area (descending; ties keep time order), the first
//! `pair_n_s1s`; the S2s of at least `s2_pairing_threshold` pe ranked by area, the first
//! `pair_n_s2s`. For each S2 (outer loop) and each S1 (inner loop) with the S2's maximum not
//! before the S1's, an interaction with
//! `drift_time = (s2.index_of_maximum - s1.index_of_maximum) * dt` and
//! `z = -v_drift * (drift_time - drift_time_gate)`; x, y are the S2's position. The first
//! interaction is the main one.
//!
//! # Corrections
//!
//! pax `BasicInteractionProperties` and hax `Corrections` v1.6 (`hax/treemakers/corrections.py`):
//!
//! - `s2_lifetime_correction = exp(drift_time / tau_e)`;
//! - `s2_xy_correction_tot|top|bottom = 1 / map|map_top|map_bottom(x_observed, y_observed)` of the
//!   S2 light-yield map; `cs2 = s2 * lifetime * tot`, `cs2_top = s2 * aft * lifetime * top`,
//!   `cs2_bottom = s2 * (1 - aft) * lifetime * bottom`;
//! - 2-D field-distortion correction: `r = r_observed + to_true_r(r_observed, z_observed)`,
//!   `z = z_observed + to_true_z(r_observed, z_observed)`, `(x, y) = (x, y)_observed * r /
//!   r_observed`;
//! - `s1_xyz_correction = 1 / s1_ly_map(x, y, z)` at the corrected position, `cs1 = s1 *
//!   s1_xyz_correction`.
//!
//! A correction whose position is unknown (no top-array light) is NaN.

use std::sync::Arc;

use super::config::ProcessConfig;
use super::peaks::{Peak, PeakType};
use crate::error::Result;
use crate::maps::{Field, InterpMap};

/// One S1-S2 pair with its corrections. Positions in cm, times in ns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interaction {
    /// Index of the S1 in the event's peaks.
    pub s1: usize,
    /// Index of the S2 in the event's peaks.
    pub s2: usize,
    /// Drift time (ns).
    pub drift_time: f64,
    /// Observed x (cm): the S2's weighted-sum position.
    pub x_observed: f64,
    /// Observed y (cm).
    pub y_observed: f64,
    /// Observed z (cm) from the drift time.
    pub z_observed: f64,
    /// `to_true_r(r_observed, z_observed)` (cm).
    pub r_correction_2d: f64,
    /// `to_true_z(r_observed, z_observed)` (cm).
    pub z_correction_2d: f64,
    /// Corrected x (cm).
    pub x: f64,
    /// Corrected y (cm).
    pub y: f64,
    /// Corrected z (cm).
    pub z: f64,
    /// `exp(drift_time / tau_e)`.
    pub s2_lifetime_correction: f64,
    /// `1 / map(x_observed, y_observed)`.
    pub s2_xy_correction_tot: f64,
    /// `1 / map_top(x_observed, y_observed)`.
    pub s2_xy_correction_top: f64,
    /// `1 / map_bottom(x_observed, y_observed)`.
    pub s2_xy_correction_bottom: f64,
    /// `1 / s1_ly_map(x, y, z)`.
    pub s1_xyz_correction: f64,
}

impl Interaction {
    /// Observed r (cm).
    pub fn r_observed(&self) -> f64 {
        self.x_observed.hypot(self.y_observed)
    }

    /// Corrected r (cm).
    pub fn r(&self) -> f64 {
        self.r_observed() + self.r_correction_2d
    }
}

/// The maps of the corrections.
#[derive(Debug)]
pub struct CorrectionMaps {
    s1: Field,
    s2: Field,
    s2_top: Field,
    s2_bottom: Field,
    fdc_r: Field,
    fdc_z: Field,
}

fn load(source: &str) -> Result<Option<Arc<InterpMap>>> {
    Ok(InterpMap::from_source(source)?.map(Arc::new))
}

impl CorrectionMaps {
    /// Loads the maps of a configuration (IDW lookups as pax and hax).
    ///
    /// # Errors
    /// Map errors naming the file (unreadable, wrong dimension, missing `map`).
    pub fn new(cfg: &ProcessConfig) -> Result<Self> {
        let i = &cfg.interactions;
        let s1 = load(&i.s1_light_yield_map)?;
        let s2 = load(&i.s2_light_yield_map)?;
        let fdc = load(&i.fdc_2d_map)?;
        // A map without top/bottom parts corrects both with the total map.
        let part = |name: &str| -> Result<Field> {
            match &s2 {
                Some(m) if m.names().iter().any(|n| n == name) => {
                    Field::new(Some(m), name, 2, 1.0, None)
                }
                _ => Field::new(s2.as_ref(), "map", 2, 1.0, None),
            }
        };
        Ok(Self {
            s1: Field::new(s1.as_ref(), "map", 3, 1.0, None)?,
            s2: Field::new(s2.as_ref(), "map", 2, 1.0, None)?,
            s2_top: part("map_top")?,
            s2_bottom: part("map_bottom")?,
            fdc_r: Field::new(fdc.as_ref(), "to_true_r", 2, 0.0, None)?,
            fdc_z: Field::new(fdc.as_ref(), "to_true_z", 2, 0.0, None)?,
        })
    }
}

fn at(f: &Field, c: &[f64]) -> f64 {
    if c.iter().all(|v| v.is_finite()) {
        f.value(c)
    } else {
        f64::NAN
    }
}

/// The interactions of an event's peaks (main interaction first).
pub fn build_interactions(
    peaks: &[Peak],
    cfg: &ProcessConfig,
    maps: &CorrectionMaps,
) -> Vec<Interaction> {
    let c = &cfg.interactions;
    let mut s1s: Vec<usize> = (0..peaks.len())
        .filter(|&i| peaks[i].peak_type == PeakType::S1)
        .collect();
    // Stable sorts: equal keys keep time order.
    s1s.sort_by(|&a, &b| {
        let (pa, pb) = (&peaks[a], &peaks[b]);
        pb.tight_coincidence
            .cmp(&pa.tight_coincidence)
            .then(pb.area.total_cmp(&pa.area))
    });
    s1s.truncate(c.pair_n_s1s);
    let mut s2s: Vec<usize> = (0..peaks.len())
        .filter(|&i| {
            peaks[i].peak_type == PeakType::S2 && peaks[i].area >= c.s2_pairing_threshold_pe
        })
        .collect();
    s2s.sort_by(|&a, &b| peaks[b].area.total_cmp(&peaks[a].area));
    s2s.truncate(c.pair_n_s2s);
    let dt = cfg.sample_duration_ns as f64;
    let v_cm_per_ns = c.drift_velocity_um_per_ns * 1e-4;
    let mut out = Vec::new();
    for &s2 in &s2s {
        for &s1 in &s1s {
            let d = peaks[s2].index_of_maximum - peaks[s1].index_of_maximum;
            if d < 0 {
                continue;
            }
            let drift_time = d as f64 * dt;
            let z_obs = -v_cm_per_ns * (drift_time - c.drift_time_gate_ns);
            let (xo, yo) = (peaks[s2].x, peaks[s2].y);
            let ro = xo.hypot(yo);
            let dr = at(&maps.fdc_r, &[ro, z_obs]);
            let dz = at(&maps.fdc_z, &[ro, z_obs]);
            let r = ro + dr;
            // On the axis the direction is undefined; the correction leaves x, y there.
            let scale = if ro > 0.0 { r / ro } else { 1.0 };
            let (x, y, z) = (xo * scale, yo * scale, z_obs + dz);
            out.push(Interaction {
                s1,
                s2,
                drift_time,
                x_observed: xo,
                y_observed: yo,
                z_observed: z_obs,
                r_correction_2d: dr,
                z_correction_2d: dz,
                x,
                y,
                z,
                s2_lifetime_correction: (drift_time / 1000.0 / c.electron_lifetime_us).exp(),
                s2_xy_correction_tot: 1.0 / at(&maps.s2, &[xo, yo]),
                s2_xy_correction_top: 1.0 / at(&maps.s2_top, &[xo, yo]),
                s2_xy_correction_bottom: 1.0 / at(&maps.s2_bottom, &[xo, yo]),
                s1_xyz_correction: 1.0 / at(&maps.s1, &[x, y, z]),
            });
        }
    }
    out
}
