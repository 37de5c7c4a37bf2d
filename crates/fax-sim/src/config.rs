//! The simulation configuration: every constant of the detector response, with explicit units,
//! two presets, pax-like layering of TOML files, and the compatibility switches.
//!
//! # Presets
//!
//! * [`Preset::X1tSr1`] (`x1t_sr1`, the default): pax v6.10+/HEAD with `XENON1T.ini`,
//!   `SR1_parameters.ini` and `Simulation.ini` (repository `XENON1T/pax`, commit `871b241`,
//!   `pax/config/`), PMT afterpulses of `pmt_afterpulses/sr1_run16347.ini`.
//! * [`Preset::X1t2017Prod`] (`x1t_2017_prod`): the fax production of October 2017, pax v6.8.3
//!   with the production's `Personalize.ini` (SR1 drift, diffusion, gain and lifetime values) as
//!   used by `zhut19/processing` `montecarlo/fax_waveform_py`: S1 decay time 41.9 ns, the
//!   5/30-sample PMT pulse window, a 12 ns transit-time spread, the pre-2018 gate photo-ionisation
//!   (p = 1.0e-3, 2.17 +- 0.81 us), the first SR1 PMT afterpulse table (`sr1_run10614.ini`) and
//!   the pax-664 S1 light-yield map.
//!
//! # Layering
//!
//! [`load`] starts from a preset (the `preset` key of the first file, or the default), then
//! merges TOML files key by key, later ones winning, as pax merges `--config A B C`. A file may
//! name `parents = ["base.toml"]` (relative to itself), loaded first and at most once, like pax's
//! `parent_configuration`. Tables merge recursively; arrays (for example the photo-ionisation
//! types) are replaced whole, as pax replaces a whole dictionary value.
//!
//! # Compatibility switches
//!
//! Where pax is known to be wrong, the default is the corrected behaviour and [`Compat`] brings
//! the original back (all of them: `--compat all`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A named set of defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Preset {
    /// SR1 parameters of pax HEAD (v6.10+).
    #[default]
    #[serde(rename = "x1t_sr1")]
    X1tSr1,
    /// The October 2017 fax production (pax v6.8.3 + `Personalize.ini`).
    #[serde(rename = "x1t_2017_prod")]
    X1t2017Prod,
}

impl Preset {
    /// The preset's TOML name.
    pub fn name(self) -> &'static str {
        match self {
            Preset::X1tSr1 => "x1t_sr1",
            Preset::X1t2017Prod => "x1t_2017_prod",
        }
    }

    /// Parses a TOML name.
    ///
    /// # Errors
    /// [`Error::Config`] for an unknown name.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "x1t_sr1" => Ok(Preset::X1tSr1),
            "x1t_2017_prod" => Ok(Preset::X1t2017Prod),
            _ => Err(Error::Config(format!(
                "unknown preset `{name}` (expected x1t_sr1 or x1t_2017_prod)"
            ))),
        }
    }
}

/// The physics-correctness switches: `false` (the default) is the corrected behaviour, `true`
/// reproduces pax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Compat {
    /// `adc-truncation`: convert the current to ADC counts by truncation toward zero, as pax
    /// `simulation.py` `make_pax_event` does (loses about 9 % of a lone SPE's area); default rounds.
    pub adc_truncation: bool,
    /// `template-delay`: place the SPE pulse one sample (10 ns) late, as pax does (`+1 due to
    /// np.diff`, marked `????` in `make_pax_event`); default places it where its charge falls.
    pub template_delay: bool,
    /// `dpe-light-yield`: apply double-photoelectron emission on top of an S1 detection
    /// efficiency and an S2 single-electron gain that already count photoelectrons, as pax does
    /// (15 % too much light); default divides both by `1 + p_dpe`, as XENONnT WFSim does.
    pub dpe_light_yield: bool,
    /// `s2-uniform-pattern`: without an S2 pattern map, spread S2 photons uniformly over all TPC
    /// channels (pax's fallback, top fraction about 0.52); default draws the top/bottom split
    /// from the configured S2 area fraction top, uniform within each array.
    pub s2_uniform_pattern: bool,
    /// `afterpulse-none`: a PMT afterpulse table of `none` fails, as pax's `NoPMTAfterpulses.ini`
    /// (`each_pmt_afterpulse_types = None`) fails with a TypeError; default: `none` switches
    /// PMT afterpulses off.
    pub afterpulse_none: bool,
}

impl Compat {
    /// Every switch's command-line name.
    pub const NAMES: [&'static str; 5] = [
        "adc-truncation",
        "template-delay",
        "dpe-light-yield",
        "s2-uniform-pattern",
        "afterpulse-none",
    ];

    /// Every switch on.
    pub fn all() -> Self {
        Self {
            adc_truncation: true,
            template_delay: true,
            dpe_light_yield: true,
            s2_uniform_pattern: true,
            afterpulse_none: true,
        }
    }

    /// Parses `all` or a comma-separated list of [`Compat::NAMES`].
    ///
    /// # Errors
    /// [`Error::Config`] naming an unknown switch.
    pub fn parse(list: &str) -> Result<Self> {
        let mut c = Self::default();
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match name {
                "all" => c = Self::all(),
                "adc-truncation" => c.adc_truncation = true,
                "template-delay" => c.template_delay = true,
                "dpe-light-yield" => c.dpe_light_yield = true,
                "s2-uniform-pattern" => c.s2_uniform_pattern = true,
                "afterpulse-none" => c.afterpulse_none = true,
                _ => {
                    return Err(Error::Config(format!(
                        "unknown compat switch `{name}` (expected all or {})",
                        Self::NAMES.join(", ")
                    )));
                }
            }
        }
        Ok(c)
    }
}

/// How the interpolating maps are evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MapInterpolation {
    /// pax's inverse-distance weighting over the 2 x dim nearest map points (exact pax values).
    #[default]
    Idw,
    /// The IDW map precomputed once on a regular grid, then multilinear interpolation (faster;
    /// agreement with IDW is tested, see [`crate::maps::GridMap`]).
    Grid,
}

/// TPC geometry and channel set-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TpcConfig {
    /// Length of the drift region, gate to cathode (cm). `XENON1T.ini` `tpc_length`.
    pub tpc_length_cm: f64,
    /// Radius of the TPC (cm). `XENON1T.ini` `tpc_radius`.
    pub tpc_radius_cm: f64,
    /// The PMT table (channels, arrays, positions, gains, QE, ZLE thresholds): `builtin:pmts.csv`
    /// or a CSV path of the same columns.
    pub pmt_table: String,
    /// Photons never go to PMTs of gain 0 (`magically_avoid_dead_pmts`, True in `XENON1T.ini`:
    /// the light-yield maps already contain the loss).
    pub avoid_dead_pmts: bool,
}

impl Default for TpcConfig {
    fn default() -> Self {
        Self {
            tpc_length_cm: 96.9,
            tpc_radius_cm: 47.9,
            pmt_table: "builtin:pmts.csv".into(),
            avoid_dead_pmts: true,
        }
    }
}

/// S1 timing model (`s1_model_type` of pax).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum S1Model {
    /// One exponential with `decay_time_ns` for ER and NR (XENON1T).
    #[default]
    Simple,
    /// NEST-98-style singlet/triplet model with ER recombination (pax `s1_photons`).
    Detailed,
}

/// S1 light detection and timing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S1Config {
    /// Fraction of emitted photons detected, LCE x QE (`s1_detection_efficiency`, 0.12, MC paper
    /// draft p. 23), times the relative light-yield map.
    pub detection_efficiency: f64,
    /// Relative S1 light-yield map (3-D, x y z in cm): `builtin:<file>`, a path, or `none`
    /// (uniform 1).
    pub light_yield_map: String,
    /// Per-PMT S1 light pattern (3-D regular grid, pax `PatternFitter` format, one value per TPC
    /// channel), or `none`: photons uniform over the live TPC PMTs (pax's fallback). XENON1T's
    /// `XENON1T_s1_xyz_patterns_interp_corrected_MCv2.4.1.json.gz` is not public.
    pub pattern_map: String,
    /// Upsampling of the pattern grid (`s1_patterns_zoom_factor`).
    pub pattern_zoom_factor: usize,
    /// Multiply the pattern by the PMTs' quantum efficiencies (for MC-derived maps, as pax).
    pub pattern_adjust_to_qe: bool,
    /// Timing model.
    pub model: S1Model,
    /// Decay time of the simple model (ns).
    pub decay_time_ns: f64,
    /// Singlet lifetime in the liquid (ns), NEST 2014.
    pub singlet_lifetime_liquid_ns: f64,
    /// Triplet lifetime in the liquid (ns), NEST 2014.
    pub triplet_lifetime_liquid_ns: f64,
    /// Recombination fraction used for the ER primary/secondary split.
    pub er_recombination_fraction: f64,
    /// Singlet fraction of ER primary excimers, 1/(1 + 1/0.17).
    pub er_primary_singlet_fraction: f64,
    /// Singlet fraction of ER secondary excimers, 1/(1 + 1/0.8).
    pub er_secondary_singlet_fraction: f64,
    /// Singlet fraction for NR, 1/(1 + 1/7.8).
    pub nr_singlet_fraction: f64,
    /// Singlet fraction for alphas, 1/(1 + 1/2.8).
    pub alpha_singlet_fraction: f64,
    /// Upper clip of the recombination delay (ns).
    pub maximum_recombination_time_ns: f64,
    /// Drift field, used only by the detailed ER timing model (V/cm).
    pub drift_field_v_per_cm: f64,
    /// Liquid xenon density for the NEST excimer fraction (g/cm3; pax placeholder 3).
    pub liquid_density_g_per_cm3: f64,
    /// LED pulse length for `LED` instructions (ns).
    pub led_pulse_length_ns: f64,
}

impl Default for S1Config {
    fn default() -> Self {
        Self {
            detection_efficiency: 0.12,
            light_yield_map: "builtin:XENON1T_s1_xyz_ly_kr83m_SR1_pax-680_fdc-3d_v0.json".into(),
            pattern_map: "none".into(),
            pattern_zoom_factor: 1,
            pattern_adjust_to_qe: true,
            model: S1Model::Simple,
            decay_time_ns: 44.77,
            singlet_lifetime_liquid_ns: 3.1,
            triplet_lifetime_liquid_ns: 24.0,
            er_recombination_fraction: 0.9,
            er_primary_singlet_fraction: 1.0 / (1.0 + 1.0 / 0.17),
            er_secondary_singlet_fraction: 1.0 / (1.0 + 1.0 / 0.8),
            nr_singlet_fraction: 1.0 / (1.0 + 1.0 / 7.8),
            alpha_singlet_fraction: 1.0 / (1.0 + 1.0 / 2.8),
            maximum_recombination_time_ns: 50.0,
            drift_field_v_per_cm: 82.0,
            liquid_density_g_per_cm3: 3.0,
            led_pulse_length_ns: 100.0,
        }
    }
}

/// S2: drift, extraction and electroluminescence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S2Config {
    /// Electron drift velocity in the liquid (um/ns; 1.335 for SR1 at 8 kV cathode).
    pub drift_velocity_um_per_ns: f64,
    /// Drift time from the gate to the anode region added to every S2 (ns).
    pub drift_time_gate_ns: f64,
    /// Longitudinal diffusion constant D_L (cm2/s; Sorensen 2011 model).
    pub diffusion_longitudinal_cm2_per_s: f64,
    /// Transverse diffusion constant D_T (cm2/s). 0 (pax has none); when positive each electron's
    /// x, y is smeared by sqrt(2 D_T t) before its light yield is looked up.
    pub diffusion_transverse_cm2_per_s: f64,
    /// Electron lifetime in the liquid (us).
    pub electron_lifetime_us: f64,
    /// Extraction probability at the liquid surface (pax placeholder 1).
    pub electron_extraction_yield: f64,
    /// Mean of the exponential trapping delay at the surface (ns).
    pub electron_trapping_time_ns: f64,
    /// Detected photons per extracted electron, g_SE (`s2_secondary_sc_gain`).
    pub secondary_scintillation_gain: f64,
    /// Relative S2 light-yield map (2-D, x y in cm): `builtin:<file>`, a path, or `none`.
    pub light_yield_map: String,
    /// Mean fraction of S2 light on the top array.
    pub mean_area_fraction_top: f64,
    /// Per-PMT S2 light pattern of the top array (2-D regular grid over x, y, one value per top
    /// channel), or `none`: top photons uniform over the live top PMTs. XENON1T's
    /// `XENON1T_s2_xy_patterns_top_corrected_MCv2.4.1.json.gz` is not public.
    pub pattern_map: String,
    /// Upsampling of the pattern grid (`s2_patterns_zoom_factor`).
    pub pattern_zoom_factor: usize,
    /// Multiply the pattern by the PMTs' quantum efficiencies (for MC-derived maps, as pax).
    pub pattern_adjust_to_qe: bool,
    /// The (r, z) field-distortion map (`to_distorted_r`, `to_distorted_z`), or `none`.
    pub rz_distortion_map: String,
    /// The gas-gap warping histogram (x, y in cm), or `none` (nominal gap everywhere).
    pub gas_gap_warping_map: String,
    /// Number of precomputed luminescence-time converters between the warping minimum and maximum.
    pub n_luminescence_time_converters: usize,
    /// Nominal gas-gap length (mm).
    pub gas_gap_length_mm: f64,
    /// Gate to anode distance (mm); S2 photons are emitted at z = -this.
    pub gate_to_anode_distance_mm: f64,
    /// Anode voltage (V).
    pub anode_voltage_v: f64,
    /// Relative dielectric constant of liquid xenon.
    pub lxe_dielectric_constant: f64,
    /// Distance from the anode wire centre inside which the field is wire-like, r_A (mm).
    pub anode_field_domination_distance_mm: f64,
    /// Anode wire radius, r_W (um).
    pub anode_wire_radius_um: f64,
    /// Slope of the gas drift velocity vs reduced field (mm/us/Td), fit to Brooks et al. 1982.
    pub gas_drift_velocity_slope_mm_per_us_per_td: f64,
    /// Gas pressure (bar).
    pub pressure_bar: f64,
    /// Gas temperature (K).
    pub temperature_k: f64,
    /// Singlet fraction of gas excimers.
    pub singlet_fraction_gas: f64,
    /// Singlet lifetime in the gas (ns).
    pub singlet_lifetime_gas_ns: f64,
    /// Triplet lifetime in the gas (ns).
    pub triplet_lifetime_gas_ns: f64,
}

impl Default for S2Config {
    fn default() -> Self {
        Self {
            drift_velocity_um_per_ns: 1.335,
            drift_time_gate_ns: 1700.0,
            diffusion_longitudinal_cm2_per_s: 29.35,
            diffusion_transverse_cm2_per_s: 0.0,
            electron_lifetime_us: 550.0,
            electron_extraction_yield: 1.0,
            electron_trapping_time_ns: 140.0,
            secondary_scintillation_gain: 21.3,
            light_yield_map: "builtin:XENON1T_s2_xy_ly_SR1_v2.2.json.gz".into(),
            mean_area_fraction_top: 0.627,
            pattern_map: "none".into(),
            pattern_zoom_factor: 2,
            pattern_adjust_to_qe: true,
            rz_distortion_map: "builtin:XENON1T_FDC_SR1_AdCorrTPF.json.gz".into(),
            gas_gap_warping_map: "builtin:XENON1T_gas_gap_warping_SR1_July17.json".into(),
            n_luminescence_time_converters: 20,
            gas_gap_length_mm: 2.66,
            gate_to_anode_distance_mm: 5.0,
            anode_voltage_v: 4000.0,
            lxe_dielectric_constant: 1.874,
            anode_field_domination_distance_mm: 0.36,
            anode_wire_radius_um: 117.5,
            gas_drift_velocity_slope_mm_per_us_per_td: 0.54,
            pressure_bar: 1.94,
            temperature_k: 273.15 - 95.7,
            singlet_fraction_gas: 0.035,
            singlet_lifetime_gas_ns: 5.88,
            triplet_lifetime_gas_ns: 119.5,
        }
    }
}

/// PMT response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PmtConfig {
    /// Mean PMT transit time (ns).
    pub transit_time_mean_ns: f64,
    /// Transit-time spread (ns), a Gaussian sigma as pax uses it.
    pub transit_time_spread_ns: f64,
    /// Read the spread as a FWHM (sigma = spread / 2.355), as WFSim does. Off by default.
    pub transit_time_spread_is_fwhm: bool,
    /// Probability that a detected photon emits two photoelectrons.
    pub p_double_pe_emission: f64,
    /// Per-channel single-photoelectron area spectra: `builtin:<file>`, a CSV path, or `none`
    /// (truncated Gaussian with the table's gain and gain_sigma).
    pub spe_distributions: String,
}

impl Default for PmtConfig {
    fn default() -> Self {
        Self {
            transit_time_mean_ns: 46.0,
            transit_time_spread_ns: 13.6,
            transit_time_spread_is_fwhm: false,
            p_double_pe_emission: 0.15,
            spe_distributions: "builtin:XENON1T_spe_distributions.csv.gz".into(),
        }
    }
}

/// Digitiser (CAEN V1724 as set up in XENON1T) and the SPE pulse template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DigitizerConfig {
    /// Sample duration (ns).
    pub sample_duration_ns: f64,
    /// Full voltage range (V).
    pub voltage_range_v: f64,
    /// ADC bits.
    pub bits: u32,
    /// Baseline written where there is no signal (ADC counts).
    pub reference_baseline_adc: i32,
    /// PMT circuit load resistor (ohm).
    pub load_resistor_ohm: f64,
    /// External amplification factor.
    pub external_amplification: f64,
    /// Times of the measured SPE pulse shape (ns since its maximum), 1-ns steps.
    pub pe_pulse_ts_ns: Vec<f64>,
    /// Amplitudes of the SPE pulse shape (any scale; integrated and normalised).
    pub pe_pulse_ys: Vec<f64>,
    /// Template samples before the pulse centre.
    pub samples_before_pulse_center: usize,
    /// Template samples after the pulse centre.
    pub samples_after_pulse_center: usize,
}

/// `pe_pulse_ys` of `XENON1T.ini` (pax commit 871b241), sampled at -12..=196 ns.
pub const PE_PULSE_YS: [f64; 209] = [
    1.18008086046e-13,
    2.01510001127e-11,
    1.79965780012e-09,
    8.48007314484e-08,
    2.14369872461e-06,
    3.0103039879e-05,
    0.000252465494218,
    0.00142372973015,
    0.00594658692409,
    0.0181027762995,
    0.0378550569464,
    0.0548947436835,
    0.0607148468144,
    0.0584407043053,
    0.0538666257444,
    0.049285064956,
    0.0450635550292,
    0.0412023916068,
    0.0376720355609,
    0.0344441716911,
    0.0314928818088,
    0.0287944681474,
    0.0263272634409,
    0.0240714569457,
    0.0220089353681,
    0.0201231374208,
    0.0183989208421,
    0.016822440809,
    0.0153810387686,
    0.0137867416949,
    0.0123374131303,
    0.00632022273936,
    0.00594109035522,
    0.00556195797109,
    0.00518282558696,
    0.00480369320282,
    0.00442456081869,
    0.00404542843455,
    0.00366629605042,
    0.00330303609974,
    0.00295564858253,
    0.00289396486761,
    0.0028322811527,
    0.00277059743778,
    0.00270891372286,
    0.00264723000794,
    0.00258554629303,
    0.00252386257811,
    0.00246217886319,
    0.00240161621109,
    0.0023421746218,
    0.00230291216317,
    0.00226364970454,
    0.00222438724591,
    0.00218512478727,
    0.00214586232864,
    0.00210659987001,
    0.00206733741138,
    0.00202807495275,
    0.00198974698459,
    0.0019523535069,
    0.00193178085771,
    0.00191120820851,
    0.00189063555931,
    0.00187006291012,
    0.00184949026092,
    0.00182891761173,
    0.00180834496253,
    0.00178777231334,
    0.00176727799968,
    0.00174686202156,
    0.00172785608315,
    0.00170885014474,
    0.00168984420633,
    0.00167083826791,
    0.0016518323295,
    0.00163282639109,
    0.00161382045268,
    0.00159481451426,
    0.00157618468749,
    0.00155793097236,
    0.00154644726676,
    0.00153496356117,
    0.00152347985557,
    0.00151199614997,
    0.00150051244438,
    0.00148902873878,
    0.00147754503318,
    0.00146606132759,
    0.00145456952089,
    0.00144306961308,
    0.00143142388541,
    0.00141977815774,
    0.00140813243006,
    0.00139648670239,
    0.00138484097471,
    0.00137319524704,
    0.00136154951937,
    0.00134990379169,
    0.00133936312617,
    0.0013299275228,
    0.00134038303817,
    0.00135083855354,
    0.00136129406891,
    0.00137174958428,
    0.00138220509965,
    0.00139266061502,
    0.00140311613039,
    0.00141357164576,
    0.0014245434863,
    0.00143603165202,
    0.00145681367089,
    0.00147759568976,
    0.00149837770863,
    0.0015191597275,
    0.00153994174637,
    0.00156072376524,
    0.0015815057841,
    0.00160228780297,
    0.00162151412482,
    0.00163918474964,
    0.001628852828,
    0.00161852090637,
    0.00160818898473,
    0.0015978570631,
    0.00158752514146,
    0.00157719321983,
    0.00156686129819,
    0.00155652937656,
    0.00154540666555,
    0.00153349316516,
    0.00150734545599,
    0.00148119774682,
    0.00145505003766,
    0.00142890232849,
    0.00140275461932,
    0.00137660691016,
    0.00135045920099,
    0.00132431149182,
    0.00129884549887,
    0.00127406122213,
    0.00126154783725,
    0.00124903445237,
    0.00123652106748,
    0.0012240076826,
    0.00121149429772,
    0.00119898091283,
    0.00118646752795,
    0.00117395414307,
    0.0011621578489,
    0.00115107864546,
    0.00115290707493,
    0.0011547355044,
    0.00115656393387,
    0.00115839236335,
    0.00116022079282,
    0.00116204922229,
    0.00116387765176,
    0.00116570608124,
    0.0011670716643,
    0.00116797440097,
    0.00116054590234,
    0.00115311740372,
    0.0011456889051,
    0.00113826040648,
    0.00113083190786,
    0.00112340340924,
    0.00111597491062,
    0.001108546412,
    0.00109849237286,
    0.0010858127932,
    0.00102587348421,
    0.000965934175218,
    0.000905994866227,
    0.000846055557235,
    0.000786116248244,
    0.000726176939252,
    0.000666237630261,
    0.000606298321269,
    0.000548218272083,
    0.000491997482703,
    0.000469243369824,
    0.000446489256945,
    0.000423735144066,
    0.000400981031187,
    0.000378226918308,
    0.000355472805429,
    0.00033271869255,
    0.000309964579671,
    0.000287844335944,
    0.000266357961371,
    0.000256281231553,
    0.000246204501734,
    0.000236127771915,
    0.000226051042096,
    0.000215974312277,
    0.000205897582458,
    0.000195820852639,
    0.00018574412282,
    0.000176132715964,
    0.000166986632072,
    0.000166216361511,
    0.00016544609095,
    0.00016467582039,
    0.000163905549829,
    0.000163135279268,
    0.000162365008708,
    0.000161594738147,
    0.000160824467586,
];

impl Default for DigitizerConfig {
    fn default() -> Self {
        Self {
            sample_duration_ns: 10.0,
            voltage_range_v: 2.25,
            bits: 14,
            reference_baseline_adc: 16000,
            load_resistor_ohm: 50.0,
            external_amplification: 10.0,
            pe_pulse_ts_ns: (-12..=196).map(f64::from).collect(),
            pe_pulse_ys: PE_PULSE_YS.to_vec(),
            samples_before_pulse_center: 2,
            samples_after_pulse_center: 20,
        }
    }
}

/// Software zero-length encoding (pax `ZLE.SoftwareZLE`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ZleConfig {
    /// Threshold in ADC counts above baseline for channels without a special one; a sample is
    /// kept when baseline - raw > threshold + 1.
    pub threshold_adc: i32,
    /// Use the per-channel thresholds of the PMT table (`special_thresholds` of `XENON1T.ini`).
    pub special_thresholds: bool,
    /// Samples stored before each above-threshold interval.
    pub samples_to_store_before: usize,
    /// Samples stored after each above-threshold interval.
    pub samples_to_store_after: usize,
}

impl Default for ZleConfig {
    fn default() -> Self {
        Self {
            threshold_adc: 15,
            special_thresholds: true,
            samples_to_store_before: 50,
            samples_to_store_after: 50,
        }
    }
}

/// Delay distribution of an afterpulse type (numpy's `uniform` or `normal` in pax).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "distribution", rename_all = "snake_case", deny_unknown_fields)]
pub enum DelayDistribution {
    /// Uniform between low_ns and high_ns (numpy's `uniform`, either order).
    Uniform {
        /// Lower edge (ns).
        low_ns: f64,
        /// Upper edge (ns).
        high_ns: f64,
    },
    /// Gaussian.
    Normal {
        /// Mean (ns).
        mean_ns: f64,
        /// Standard deviation (ns).
        sigma_ns: f64,
    },
}

/// One photo-ionisation (S2 afterpulse) type of `s2_afterpulse_types`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S2AfterpulseType {
    /// Name (`Volume`, `Gate`).
    pub name: String,
    /// Probability that one detected photon liberates such an electron.
    pub p: f64,
    /// Delay of the electron after the photon.
    pub delay: DelayDistribution,
}

/// Photo-ionisation and PMT afterpulses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AfterpulseConfig {
    /// Simulate photo-ionisation electrons (S2 afterpulses).
    pub photo_ionisation: bool,
    /// The photo-ionisation types.
    pub s2_types: Vec<S2AfterpulseType>,
    /// Photo-ionisation delays at or above this are dropped (ns); absent = no limit.
    pub max_s2_afterpulse_delay_ns: Option<f64>,
    /// Write truth rows of type `photoionization_afterpulse` (`output_PI_truth_info`).
    pub output_photo_ionisation_truth: bool,
    /// Simulate PMT afterpulses.
    pub pmt: bool,
    /// The per-channel PMT afterpulse table: `builtin:<file>`, a CSV path, or `none`.
    pub pmt_table: String,
}

impl Default for AfterpulseConfig {
    fn default() -> Self {
        Self {
            photo_ionisation: true,
            s2_types: vec![
                S2AfterpulseType {
                    name: "Volume".into(),
                    p: 1.3e-2,
                    delay: DelayDistribution::Uniform {
                        low_ns: 0.0,
                        high_ns: 700_000.0,
                    },
                },
                S2AfterpulseType {
                    name: "Gate".into(),
                    p: 1.4e-3,
                    delay: DelayDistribution::Normal {
                        mean_ns: 1370.0,
                        sigma_ns: 150.0,
                    },
                },
            ],
            max_s2_afterpulse_delay_ns: None,
            output_photo_ionisation_truth: false,
            pmt: true,
            pmt_table: "builtin:pmt_afterpulses_sr1_run16347.csv".into(),
        }
    }
}

/// The whole detector-response configuration of `fax-sim simulate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimConfig {
    /// The preset the defaults come from (read first by [`load`]).
    pub preset: Preset,
    /// Master seed: event `i` draws from `hep_core::rng::stream(seed, i)`.
    pub seed: u64,
    /// Times each instruction group is simulated (`event_repetitions`).
    pub event_repetitions: u32,
    /// Padding before the first and after the last photon of an event (ns).
    pub event_padding_ns: f64,
    /// How the light-yield and distortion maps are evaluated.
    pub map_interpolation: MapInterpolation,
    /// Grid step of [`MapInterpolation::Grid`] (cm).
    pub map_grid_step_cm: f64,
    /// Events simulated in parallel and written as one record batch (outputs do not depend on
    /// it except for the Parquet batch layout, which shards and merge keep).
    pub output_block_events: u64,
    /// Compatibility switches.
    pub compat: Compat,
    /// Geometry and channels.
    pub tpc: TpcConfig,
    /// S1.
    pub s1: S1Config,
    /// S2.
    pub s2: S2Config,
    /// PMTs.
    pub pmt: PmtConfig,
    /// Digitiser.
    pub digitizer: DigitizerConfig,
    /// Zero-length encoding.
    pub zle: ZleConfig,
    /// Afterpulses.
    pub afterpulses: AfterpulseConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self::preset(Preset::default())
    }
}

impl SimConfig {
    /// The full configuration of a preset.
    pub fn preset(preset: Preset) -> Self {
        let mut c = Self {
            preset,
            seed: 0,
            event_repetitions: 1,
            event_padding_ns: 5000.0,
            map_interpolation: MapInterpolation::Idw,
            map_grid_step_cm: 1.0,
            output_block_events: 1024,
            compat: Compat::default(),
            tpc: TpcConfig::default(),
            s1: S1Config::default(),
            s2: S2Config::default(),
            pmt: PmtConfig::default(),
            digitizer: DigitizerConfig::default(),
            zle: ZleConfig::default(),
            afterpulses: AfterpulseConfig::default(),
        };
        if preset == Preset::X1t2017Prod {
            // pax v6.8.3 XENON1T.ini + the production's Personalize.ini.
            c.s1.decay_time_ns = 41.9;
            c.s1.light_yield_map =
                "builtin:XENON1T_s1_xyz_ly_kr83m-SR1_pax-664_fdc-adcorrtpf.json".into();
            c.pmt.transit_time_spread_ns = 12.0;
            c.digitizer.samples_before_pulse_center = 5;
            c.digitizer.samples_after_pulse_center = 30;
            c.afterpulses.s2_types[1] = S2AfterpulseType {
                name: "Gate".into(),
                p: 1.0e-3,
                delay: DelayDistribution::Normal {
                    mean_ns: 2170.0,
                    sigma_ns: 810.0,
                },
            };
            c.afterpulses.pmt_table = "builtin:pmt_afterpulses_sr1_run10614.csv".into();
        }
        c
    }

    /// Checks every value against its domain.
    ///
    /// # Errors
    /// [`Error::Config`] naming the first bad key.
    pub fn validate(&self) -> Result<()> {
        let prob = |v: f64, k: &str| -> Result<()> {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(Error::Config(format!("{k} must be in [0, 1], found {v}")))
            }
        };
        let pos = |v: f64, k: &str| -> Result<()> {
            if v > 0.0 && v.is_finite() {
                Ok(())
            } else {
                Err(Error::Config(format!("{k} must be positive, found {v}")))
            }
        };
        let nonneg = |v: f64, k: &str| -> Result<()> {
            if v >= 0.0 && v.is_finite() {
                Ok(())
            } else {
                Err(Error::Config(format!(
                    "{k} must be zero or positive, found {v}"
                )))
            }
        };
        pos(self.tpc.tpc_length_cm, "tpc.tpc_length_cm")?;
        pos(self.tpc.tpc_radius_cm, "tpc.tpc_radius_cm")?;
        nonneg(self.event_padding_ns, "event_padding_ns")?;
        pos(self.map_grid_step_cm, "map_grid_step_cm")?;
        if self.output_block_events == 0 {
            return Err(Error::Config(
                "output_block_events must be at least 1".into(),
            ));
        }
        if self.event_repetitions == 0 {
            return Err(Error::Config("event_repetitions must be at least 1".into()));
        }
        prob(self.s1.detection_efficiency, "s1.detection_efficiency")?;
        pos(self.s1.decay_time_ns, "s1.decay_time_ns")?;
        pos(
            self.s1.singlet_lifetime_liquid_ns,
            "s1.singlet_lifetime_liquid_ns",
        )?;
        pos(
            self.s1.triplet_lifetime_liquid_ns,
            "s1.triplet_lifetime_liquid_ns",
        )?;
        prob(
            self.s1.er_recombination_fraction,
            "s1.er_recombination_fraction",
        )?;
        prob(
            self.s1.er_primary_singlet_fraction,
            "s1.er_primary_singlet_fraction",
        )?;
        prob(
            self.s1.er_secondary_singlet_fraction,
            "s1.er_secondary_singlet_fraction",
        )?;
        prob(self.s1.nr_singlet_fraction, "s1.nr_singlet_fraction")?;
        prob(self.s1.alpha_singlet_fraction, "s1.alpha_singlet_fraction")?;
        nonneg(
            self.s1.maximum_recombination_time_ns,
            "s1.maximum_recombination_time_ns",
        )?;
        nonneg(self.s1.led_pulse_length_ns, "s1.led_pulse_length_ns")?;
        pos(
            self.s2.drift_velocity_um_per_ns,
            "s2.drift_velocity_um_per_ns",
        )?;
        nonneg(
            self.s2.diffusion_longitudinal_cm2_per_s,
            "s2.diffusion_longitudinal_cm2_per_s",
        )?;
        nonneg(
            self.s2.diffusion_transverse_cm2_per_s,
            "s2.diffusion_transverse_cm2_per_s",
        )?;
        pos(self.s2.electron_lifetime_us, "s2.electron_lifetime_us")?;
        prob(
            self.s2.electron_extraction_yield,
            "s2.electron_extraction_yield",
        )?;
        pos(
            self.s2.electron_trapping_time_ns,
            "s2.electron_trapping_time_ns",
        )?;
        nonneg(
            self.s2.secondary_scintillation_gain,
            "s2.secondary_scintillation_gain",
        )?;
        prob(self.s2.mean_area_fraction_top, "s2.mean_area_fraction_top")?;
        pos(self.s2.gas_gap_length_mm, "s2.gas_gap_length_mm")?;
        pos(
            self.s2.gate_to_anode_distance_mm,
            "s2.gate_to_anode_distance_mm",
        )?;
        if self.s2.gas_gap_length_mm >= self.s2.gate_to_anode_distance_mm {
            return Err(Error::Config(
                "s2.gas_gap_length_mm must be below s2.gate_to_anode_distance_mm".into(),
            ));
        }
        pos(self.s2.anode_voltage_v, "s2.anode_voltage_v")?;
        pos(
            self.s2.lxe_dielectric_constant,
            "s2.lxe_dielectric_constant",
        )?;
        pos(
            self.s2.anode_field_domination_distance_mm,
            "s2.anode_field_domination_distance_mm",
        )?;
        pos(self.s2.anode_wire_radius_um, "s2.anode_wire_radius_um")?;
        if self.s2.anode_wire_radius_um / 1000.0 >= self.s2.anode_field_domination_distance_mm {
            return Err(Error::Config(
                "s2.anode_wire_radius_um must be below s2.anode_field_domination_distance_mm"
                    .into(),
            ));
        }
        pos(
            self.s2.gas_drift_velocity_slope_mm_per_us_per_td,
            "s2.gas_drift_velocity_slope_mm_per_us_per_td",
        )?;
        pos(self.s2.pressure_bar, "s2.pressure_bar")?;
        pos(self.s2.temperature_k, "s2.temperature_k")?;
        if self.s2.n_luminescence_time_converters == 0 {
            return Err(Error::Config(
                "s2.n_luminescence_time_converters must be at least 1".into(),
            ));
        }
        prob(self.s2.singlet_fraction_gas, "s2.singlet_fraction_gas")?;
        pos(
            self.s2.singlet_lifetime_gas_ns,
            "s2.singlet_lifetime_gas_ns",
        )?;
        pos(
            self.s2.triplet_lifetime_gas_ns,
            "s2.triplet_lifetime_gas_ns",
        )?;
        nonneg(
            self.pmt.transit_time_spread_ns,
            "pmt.transit_time_spread_ns",
        )?;
        prob(self.pmt.p_double_pe_emission, "pmt.p_double_pe_emission")?;
        pos(
            self.digitizer.sample_duration_ns,
            "digitizer.sample_duration_ns",
        )?;
        if self.digitizer.sample_duration_ns.fract() != 0.0 {
            return Err(Error::Config(
                "digitizer.sample_duration_ns must be a whole number of ns".into(),
            ));
        }
        pos(self.digitizer.voltage_range_v, "digitizer.voltage_range_v")?;
        if !(1..=15).contains(&self.digitizer.bits) {
            return Err(Error::Config(format!(
                "digitizer.bits must be 1..=15 (samples are i16), found {}",
                self.digitizer.bits
            )));
        }
        pos(
            self.digitizer.load_resistor_ohm,
            "digitizer.load_resistor_ohm",
        )?;
        pos(
            self.digitizer.external_amplification,
            "digitizer.external_amplification",
        )?;
        let d = &self.digitizer;
        if d.pe_pulse_ts_ns.len() != d.pe_pulse_ys.len() || d.pe_pulse_ts_ns.len() < 2 {
            return Err(Error::Config(
                "digitizer.pe_pulse_ts_ns and pe_pulse_ys must have the same length (>= 2)".into(),
            ));
        }
        if d.pe_pulse_ts_ns.windows(2).any(|w| !(w[1] > w[0])) {
            return Err(Error::Config(
                "digitizer.pe_pulse_ts_ns must increase strictly".into(),
            ));
        }
        if d.pe_pulse_ys.iter().any(|y| !(y.is_finite() && *y >= 0.0))
            || d.pe_pulse_ys.iter().sum::<f64>() <= 0.0
        {
            return Err(Error::Config(
                "digitizer.pe_pulse_ys must be finite, non-negative and not all zero".into(),
            ));
        }
        if self.zle.threshold_adc < 0 {
            return Err(Error::Config("zle.threshold_adc must be >= 0".into()));
        }
        for t in &self.afterpulses.s2_types {
            prob(t.p, &format!("afterpulses.s2_types `{}` p", t.name))?;
            match t.delay {
                DelayDistribution::Uniform { low_ns, high_ns } => {
                    if !(low_ns.is_finite() && high_ns.is_finite()) {
                        return Err(Error::Config(format!(
                            "afterpulses.s2_types `{}`: need finite low_ns and high_ns",
                            t.name
                        )));
                    }
                }
                DelayDistribution::Normal { mean_ns, sigma_ns } => {
                    if !(mean_ns.is_finite() && sigma_ns >= 0.0 && sigma_ns.is_finite()) {
                        return Err(Error::Config(format!(
                            "afterpulses.s2_types `{}`: need finite mean_ns and sigma_ns >= 0",
                            t.name
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// The configuration as a TOML table (every default written out).
    ///
    /// # Errors
    /// [`Error::Config`] if it cannot be represented (it always can).
    pub fn to_table(&self) -> Result<toml::Table> {
        toml::Table::try_from(self).map_err(|e| Error::Config(e.to_string()))
    }
}

pub use hep_core::config::merge_tables;

fn read_table(path: &Path) -> Result<toml::Table> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    text.parse::<toml::Table>().map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].lines().count().max(1) as u64)
            .unwrap_or(0);
        Error::parse(path, line, "a TOML configuration", e.message().to_string())
    })
}

/// Reads `path` and its `parents` (depth first, each file once) into `layers`, parents first.
fn collect_layers(
    path: &Path,
    seen: &mut BTreeSet<PathBuf>,
    layers: &mut Vec<(PathBuf, toml::Table)>,
) -> Result<()> {
    let canon = std::fs::canonicalize(path).map_err(|e| Error::io(path, e))?;
    if !seen.insert(canon) {
        return Ok(());
    }
    let mut table = read_table(path)?;
    if let Some(parents) = table.remove("parents") {
        let list = parents.as_array().ok_or_else(|| {
            Error::parse(
                path,
                0,
                "`parents` as an array of file names",
                parents.to_string(),
            )
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        for p in list {
            let name = p.as_str().ok_or_else(|| {
                Error::parse(path, 0, "`parents` entries as strings", p.to_string())
            })?;
            collect_layers(&dir.join(name), seen, layers)?;
        }
    }
    layers.push((path.to_path_buf(), table));
    Ok(())
}

/// Loads a configuration: the preset (the last `preset` key among the files and `overrides`,
/// else the default), then each file with its parents, then `overrides`, merged key by key.
///
/// `key` selects a sub-table of every file (e.g. `Some("sim")` for a job configuration holding
/// the simulation under `[sim]`); `None` uses the files' top level.
///
/// # Errors
/// [`Error::Core`] (located) for an unreadable or invalid TOML file, [`Error::Config`] for an
/// unknown key, a wrong type or a value outside its domain.
pub fn load(files: &[&Path], overrides: toml::Table) -> Result<SimConfig> {
    Ok(load_job(files, overrides, &[])?.0)
}

/// [`load`] for a job whose configuration files hold, beside the simulation, keys of the job
/// itself (`input`, `output`, a `[slurm]` table): the top-level `job_keys` are taken out of every
/// file (a later file's value replaces an earlier one's) and returned beside the simulation
/// configuration.
///
/// # Errors
/// As [`load`].
pub fn load_job(
    files: &[&Path],
    overrides: toml::Table,
    job_keys: &[&str],
) -> Result<(SimConfig, toml::Table)> {
    let mut seen = BTreeSet::new();
    let mut layers = Vec::new();
    for f in files {
        collect_layers(f, &mut seen, &mut layers)?;
    }
    let mut job = toml::Table::new();
    for (_, t) in &mut layers {
        for key in job_keys {
            if let Some(v) = t.remove(*key) {
                job.insert((*key).to_string(), v);
            }
        }
    }
    let mut preset = Preset::default();
    for (path, t) in &layers {
        if let Some(p) = t.get("preset") {
            let name = p
                .as_str()
                .ok_or_else(|| Error::parse(path, 0, "preset as a string", p.to_string()))?;
            preset = Preset::from_name(name)
                .map_err(|e| Error::parse(path, 0, "x1t_sr1 or x1t_2017_prod", e.to_string()))?;
        }
    }
    if let Some(p) = overrides.get("preset").and_then(|v| v.as_str()) {
        preset = Preset::from_name(p)?;
    }
    let mut table = SimConfig::preset(preset).to_table()?;
    for (path, t) in layers {
        merge_tables(&mut table, t.clone());
        toml::Value::Table(table.clone())
            .try_into::<SimConfig>()
            .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    }
    merge_tables(&mut table, overrides);
    let cfg: SimConfig = toml::Value::Table(table)
        .try_into()
        .map_err(|e| Error::Config(e.to_string()))?;
    cfg.validate()?;
    Ok((cfg, job))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_round_trip_and_validate() {
        for p in [Preset::X1tSr1, Preset::X1t2017Prod] {
            let c = SimConfig::preset(p);
            c.validate().unwrap();
            let text = toml::to_string(&c).unwrap();
            let back: SimConfig = toml::from_str(&text).unwrap();
            assert_eq!(back, c);
        }
        assert_eq!(SimConfig::default().preset, Preset::X1tSr1);
        assert_eq!(
            SimConfig::preset(Preset::X1t2017Prod).s1.decay_time_ns,
            41.9
        );
    }

    #[test]
    fn layering_parents_and_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("base.toml");
        std::fs::write(
            &base,
            "preset = \"x1t_2017_prod\"\n[s2]\nelectron_lifetime_us = 450.0\n",
        )
        .unwrap();
        let top = dir.path().join("top.toml");
        std::fs::write(
            &top,
            "parents = [\"base.toml\"]\nseed = 7\n[s2]\ndrift_velocity_um_per_ns = 1.44\n",
        )
        .unwrap();
        let mut over = toml::Table::new();
        over.insert("seed".into(), toml::Value::Integer(9));
        let c = load(&[&top], over).unwrap();
        assert_eq!(c.preset, Preset::X1t2017Prod);
        assert_eq!(c.s1.decay_time_ns, 41.9);
        assert_eq!(c.s2.electron_lifetime_us, 450.0);
        assert_eq!(c.s2.drift_velocity_um_per_ns, 1.44);
        assert_eq!(c.seed, 9);
        std::fs::write(&top, "[s2]\nelectron_lifetim_us = 1.0\n").unwrap();
        let e = load(&[&top], toml::Table::new()).unwrap_err().to_string();
        assert!(e.contains("electron_lifetim_us"), "{e}");
        std::fs::write(&top, "[s2]\nelectron_lifetime_us = -1.0\n").unwrap();
        let e = load(&[&top], toml::Table::new()).unwrap_err().to_string();
        assert!(e.contains("electron_lifetime_us"), "{e}");
        std::fs::write(&top, "seed = \n").unwrap();
        let e = load(&[&top], toml::Table::new()).unwrap_err().to_string();
        assert!(e.contains("top.toml:1"), "{e}");
    }

    #[test]
    fn compat_parsing() {
        assert_eq!(Compat::parse("all").unwrap(), Compat::all());
        let c = Compat::parse("adc-truncation,template-delay").unwrap();
        assert!(c.adc_truncation && c.template_delay && !c.dpe_light_yield);
        assert!(Compat::parse("nope").is_err());
    }
}
