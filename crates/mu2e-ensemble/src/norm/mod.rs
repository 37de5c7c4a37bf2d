//! The per-generation normalisation formulas, term by term (`normalizations.py` of each
//! generation).
//!
//! Each function is one formula of one generation, with the livetime type that generation meant
//! ([`crate::units`]) and the multiplication order of the original (kept so the results agree
//! to the last bits). Spectrum fractions are inputs here; they come from
//! [`crate::tables`] with the cut conventions of each process. [`crate::normalizations::compute`]
//! wires these together for a whole generation.

/// G0, `mdc2018` (`normalizations.py` at `c86b086b`): livetime in 365-day years, `POT_per_year`
/// from a 0.25 duty factor.
pub mod g0 {
    use crate::constants::{g0, physics};
    use crate::units::{LivetimeYears, ProtonsOnTarget};

    /// Protons on target: `POT_per_year · T_yr`.
    pub fn pot(t: LivetimeYears) -> ProtonsOnTarget {
        ProtonsOnTarget(g0::pot_per_year() * t.0)
    }

    /// CE (either sign): `POT_per_year · 0.00187 · 0.609 · T_yr · rate` (`rate` = rue or rup).
    pub fn ce(t: LivetimeYears, rate: f64) -> f64 {
        g0::pot_per_year()
            * g0::STOPPED_MU_PER_POT
            * physics::CAPTURES_PER_STOPPED_MUON
            * t.0
            * rate
    }

    /// DIO above emin: `POT_per_year · 0.00187 · 0.391 · T_yr · frac` (frac from the Czarnecki
    /// table, `E >= emin`).
    pub fn dio(t: LivetimeYears, frac: f64) -> f64 {
        g0::pot_per_year() * g0::STOPPED_MU_PER_POT * physics::DIO_PER_STOPPED_MUON * t.0 * frac
    }

    /// RMC: `POT_per_year · 0.00187 · 0.609 · 1.43e-5 · T_yr · frac`, × 0.00690 if internal
    /// (frac from the closure spectrum with the low-edge cut).
    pub fn rmc(t: LivetimeYears, frac: f64, internal: bool) -> f64 {
        let n = g0::pot_per_year()
            * g0::STOPPED_MU_PER_POT
            * physics::CAPTURES_PER_STOPPED_MUON
            * physics::RMC_GT_57_PER_CAPTURE
            * t.0
            * frac;
        if internal {
            n * physics::INTERNAL_PER_RMC
        } else {
            n
        }
    }

    /// RPC as run_si computed it (never calling the formula, "FIXME python takes too long"):
    /// `1.59222825e8 · T_yr` external, `1.098685e6 · T_yr` internal.
    pub fn rpc_hardcoded(t: LivetimeYears, internal: bool) -> f64 {
        if internal {
            g0::RPC_INTERNAL_PER_YEAR * t.0
        } else {
            g0::RPC_EXTERNAL_PER_YEAR * t.0
        }
    }

    /// RPC by the G0 formula: `POT_per_year · 0.002484 · 0.0215 · T_yr · avg_survival`, then
    /// `× frac`, then `× 0.00690` if internal (frac from `rpcspectrum.tbl` with the low-edge cut
    /// `E − bw/2 >= emin`; `avg_survival` from [`rpc_survival_probability`]).
    pub fn rpc(t: LivetimeYears, avg_survival: f64, frac: f64, internal: bool) -> f64 {
        let physics_events = g0::pot_per_year()
            * g0::GEOMETRIC_STOPPED_PI_PER_POT
            * physics::RPC_PER_STOPPED_PION
            * t.0
            * avg_survival;
        let n = physics_events * frac;
        if internal {
            n * physics::INTERNAL_RPC_PER_RPC
        } else {
            n
        }
    }

    /// The G0 average pion survival probability for an arrival-time cut `tmin` (ns).
    ///
    /// `pot_timing` is the POT timing table (`POTspectrum.dat`: weights at t = t0, t0 + 1, ...
    /// ns, t0 = −125 ns, 251 rows); it is turned into a right-cumulative CDF normalised to
    /// `cdf[0] = 1`. For each stopped pion `(time_ns, tau_normalized)` (the `stoppedPionDumper/stops`
    /// branches `time` and `tauNormalized`): `k = trunc(tmin − time − t0)`; if k < 0 add
    /// `exp(−tau)`, else if k < len − 1 add `exp(−tau)·cdf[k]`, else add 0. Returns the mean over
    /// pions (0 for no pions or an all-zero timing table). G0 `rpc_normalization`.
    pub fn rpc_survival_probability(pot_timing: &[f64], stops: &[(f64, f64)], tmin: f64) -> f64 {
        if stops.is_empty() || pot_timing.is_empty() {
            return 0.0;
        }
        let mut cdf = pot_timing.to_vec();
        for i in (0..cdf.len() - 1).rev() {
            cdf[i] += cdf[i + 1];
        }
        let c0 = cdf[0];
        if c0 == 0.0 {
            return 0.0;
        }
        for c in cdf.iter_mut().rev() {
            *c /= c0;
        }
        let mut total = 0.0;
        for &(time, tau) in stops {
            let x = tmin - time - g0::POT_TIMING_T0_NS;
            // Python int() truncates towards zero
            let k = x.trunc();
            if k < 0.0 {
                total += (-tau).exp();
            } else if (k as usize) < cdf.len() - 1 {
                total += (-tau).exp() * cdf[k as usize];
            }
        }
        total / stops.len() as f64
    }

    /// CRY cosmics (events): `ub_per_year · (253 440 Hz · (1705 − 450) ns) · T_yr`.
    pub fn cry(t: LivetimeYears) -> f64 {
        let per_ub = g0::CRY_RATE_HZ * (g0::CRY_TMAX_S - g0::CRY_TMIN_S);
        g0::ub_per_year() * per_ub * t.0
    }

    /// Daya Bay cosmics (events): `ub_per_year · (5494.24 Hz · (1705 − 400) ns) · T_yr`.
    pub fn dayabay(t: LivetimeYears) -> f64 {
        let per_ub = g0::DYB_RATE_HZ * (g0::DYB_TMAX_S - g0::DYB_TMIN_S);
        g0::ub_per_year() * per_ub * t.0
    }
}

/// G1, `mdc2020` (`python/normalizations.py` at `14e33106`): wall-clock seconds, `POT_per_second` =
/// 4.1447e12.
pub mod g1 {
    use crate::constants::{g1, physics};
    use crate::units::{LivetimeSeconds, OnSpillSeconds, ProtonsOnTarget};

    /// `NPOT = T · POT_per_second` (`livetime_to_pot`).
    pub fn pot(t: LivetimeSeconds) -> ProtonsOnTarget {
        ProtonsOnTarget(t.0 * g1::pot_per_second())
    }

    /// `pot_to_livetime`: `NPOT / POT_per_second`.
    pub fn livetime(pot: ProtonsOnTarget) -> LivetimeSeconds {
        LivetimeSeconds(pot.0 / g1::pot_per_second())
    }

    /// CE: `NPOT · S_μ · 0.609 · rue`.
    pub fn ce(t: LivetimeSeconds, s_mu: f64, rue: f64) -> f64 {
        pot(t).0 * s_mu * physics::CAPTURES_PER_STOPPED_MUON * rue
    }

    /// DIO: `NPOT · S_μ · 0.391 · frac` (fixed). With `livetime_squared` (the original, quirk 1,
    /// fixed upstream in 3cbac588): `NPOT · S_μ · 0.391 · T · frac`.
    pub fn dio(t: LivetimeSeconds, s_mu: f64, frac: f64, livetime_squared: bool) -> f64 {
        let n = pot(t).0 * s_mu * physics::DIO_PER_STOPPED_MUON;
        if livetime_squared {
            n * t.0 * frac
        } else {
            n * frac
        }
    }

    /// IPA Michel: `NPOT · S_IPA · 0.92` (no energy cut in this generation).
    pub fn ipa_michel(t: LivetimeSeconds, s_ipa: f64) -> f64 {
        pot(t).0 * s_ipa * g1::IPA_DECAYS_PER_STOPPED_MUON
    }

    /// CRY cosmics, on- or off-spill: the cosmic livetime needed, `T · 0.323` seconds.
    pub fn cry(t: LivetimeSeconds) -> OnSpillSeconds {
        t.on_spill(g1::DUTY_FACTOR)
    }
}

/// G2, `mdc2024` (e.g. `normalizations.py` at `92b02531`): wall-clock seconds, POT from the SU2020
/// machine cycle.
pub mod g2 {
    use crate::constants::{BeamMode, g2, physics};
    use crate::units::{LivetimeSeconds, OnSpillSeconds, ProtonsOnTarget};

    fn cycle(mode: BeamMode) -> (f64, f64) {
        match mode {
            BeamMode::OneBB => (g2::ONEBB_CYCLE_S, g2::ONEBB_POT_PER_CYCLE),
            BeamMode::TwoBB => (g2::TWOBB_CYCLE_S, g2::TWOBB_POT_PER_CYCLE),
        }
    }

    /// `NPOT = T / 1.33 s · 4e12` (1BB) or `T / 1.4 s · 8e12` (2BB), T wall-clock (SU2020 numbers).
    pub fn pot(t: LivetimeSeconds, mode: BeamMode) -> ProtonsOnTarget {
        let (cycle, per_cycle) = cycle(mode);
        ProtonsOnTarget(t.0 / cycle * per_cycle)
    }

    /// The variant of the published G2 code (3cbac588, `livetime_to_pot`): the cycles are
    /// counted in the on-spill time, `NPOT = (duty · T) / t_cycle · POT_per_cycle`.
    pub fn pot_on_spill_clock(t: LivetimeSeconds, mode: BeamMode) -> ProtonsOnTarget {
        let (cycle, per_cycle) = cycle(mode);
        let on_spill: OnSpillSeconds = t.on_spill(mode.duty_factor());
        ProtonsOnTarget(on_spill.0 / cycle * per_cycle)
    }

    /// CE: `NPOT(mode) · S_μ · 0.609 · rue`.
    pub fn ce(pot: ProtonsOnTarget, s_mu: f64, rue: f64) -> f64 {
        pot.0 * s_mu * physics::CAPTURES_PER_STOPPED_MUON * rue
    }

    /// DIO: `NPOT(mode) · S_μ · 0.391 · frac`.
    pub fn dio(pot: ProtonsOnTarget, s_mu: f64, frac: f64) -> f64 {
        pot.0 * s_mu * physics::DIO_PER_STOPPED_MUON * frac
    }

    /// IPA Michel: `NPOT · S_IPA · 0.92`; G2 always passes the 1BB POT here.
    pub fn ipa_michel(pot_1bb: ProtonsOnTarget, s_ipa: f64) -> f64 {
        pot_1bb.0 * s_ipa * g2::IPA_DECAYS_PER_STOPPED_MUON
    }

    /// CRY or CORSIKA cosmics, on- or off-spill: `T · duty(mode)` seconds of cosmic livetime.
    pub fn cosmic(t: LivetimeSeconds, mode: BeamMode) -> OnSpillSeconds {
        t.on_spill(mode.duty_factor())
    }
}

/// G3, `mds` = HEAD (`python/normalizations.py` and `constants.py` at `2f314d0e`): on-spill
/// seconds.
pub mod g3 {
    use crate::constants::{BeamMode, PotMethod, g3};
    use crate::units::{OnSpillSeconds, ProtonsOnTarget};

    /// `get_pot(T_on, mode, method)`: spill `T_on / 1.695e-6 · (1.58e7 | 3.93e7)`; cycle
    /// `T_on / (1.33 | 1.4) · ((4e12 | 8e12) / (0.323 | 0.246))`.
    pub fn pot(t: OnSpillSeconds, mode: BeamMode, method: PotMethod) -> ProtonsOnTarget {
        match method {
            PotMethod::Spill => {
                let pps = match mode {
                    BeamMode::OneBB => g3::ONEBB_PROTONS_PER_SPILL,
                    BeamMode::TwoBB => g3::TWOBB_PROTONS_PER_SPILL,
                };
                ProtonsOnTarget(t.0 / g3::SPILL_S * pps)
            }
            PotMethod::Cycle => {
                let (cycle, per_cycle) = match mode {
                    BeamMode::OneBB => (g3::ONEBB_CYCLE_S, g3::ONEBB_POT_PER_CYCLE / g3::ONEBB_DF),
                    BeamMode::TwoBB => (g3::TWOBB_CYCLE_S, g3::TWOBB_POT_PER_CYCLE / g3::TWOBB_DF),
                };
                ProtonsOnTarget(t.0 / cycle * per_cycle)
            }
        }
    }

    /// CE expectation `λ = NPOT · S_μ · 0.609 · rate` (the original returned a Poisson draw of
    /// it, quirk 5; the draw is done by the caller on request).
    pub fn ce(pot: ProtonsOnTarget, s_mu: f64, rate: f64) -> f64 {
        pot.0 * s_mu * g3::CAPTURES_PER_STOPPED_MUON * rate
    }

    /// `get_ce_rmue`: the conversion rate giving `nsig` expected CE, `nsig / (NPOT · S_μ · 0.609)`.
    pub fn ce_rmue(pot: ProtonsOnTarget, s_mu: f64, nsig: f64) -> f64 {
        nsig / (pot.0 * s_mu * g3::CAPTURES_PER_STOPPED_MUON)
    }

    /// DIO: `(NPOT · S_μ · 0.391) · frac` (frac from the Heeck table, `E >= emin`).
    pub fn dio(pot: ProtonsOnTarget, s_mu: f64, frac: f64) -> f64 {
        let base = pot.0 * s_mu * g3::DIO_PER_STOPPED_MUON;
        base * frac
    }

    /// RPC: `NPOT · S_π · (filters/stops) · (weights/resamples) · 0.0215 · frac`, × 0.00690 if
    /// internal (frac from `rpcspectrum.tbl` with `E >= emin`, no half-bin shift; `t_min` is not
    /// used, quirk 4: the timing cut lives in the pion-resampling weights).
    pub fn rpc(
        pot: ProtonsOnTarget,
        s_pi: f64,
        filter_efficiency: f64,
        survival_weight: f64,
        frac: f64,
        internal: bool,
    ) -> f64 {
        let n =
            pot.0 * s_pi * filter_efficiency * survival_weight * g3::RPC_PER_STOPPED_PION * frac;
        if internal {
            n * g3::INTERNAL_RPC_PER_RPC
        } else {
            n
        }
    }

    /// RMC: `(NPOT · S_μ · 0.609 · 1.43e-5) · frac`, × 0.00690 if internal (frac from the closure
    /// spectrum with the low-edge cut).
    pub fn rmc(pot: ProtonsOnTarget, s_mu: f64, frac: f64, internal: bool) -> f64 {
        let base = pot.0 * s_mu * g3::CAPTURES_PER_STOPPED_MUON * g3::RMC_GT_57_PER_CAPTURE;
        let n = base * frac;
        if internal {
            n * g3::INTERNAL_PER_RMC
        } else {
            n
        }
    }

    /// IPA Michel: `NPOT · S_IPA · 0.9299 · eff` (eff from the IPA threshold table).
    pub fn ipa_michel(pot: ProtonsOnTarget, s_ipa: f64, eff: f64) -> f64 {
        pot.0 * s_ipa * g3::IPA_DECAYS_PER_STOPPED_MUON * eff
    }

    /// CRY or CORSIKA cosmics: the on-spill livetime itself (seconds of cosmic livetime).
    pub fn cosmic(t: OnSpillSeconds) -> OnSpillSeconds {
        t
    }
}
