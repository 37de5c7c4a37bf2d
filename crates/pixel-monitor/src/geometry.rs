//! The Phase-1 pixel detector as the monitoring sees it: modules and their positions, readout
//! groups, read-out-chip counts, the power-supply channel names, and the barrel cooling loops.
//!
//! The tables are the crate's own transcriptions of facts from PixelMonitoring
//! (github.com/fleble/PixelMonitoring 36922df; identical in jroloff/PixelMonitoring 0faefb6),
//! embedded with `include_str!` from `crates/pixel-monitor/data/` (see the README there):
//!
//! | table | content |
//! |---|---|
//! | `bpix_modules.csv` | 1184 BPix modules `(name, r (cm), phi (rad), z (cm))` of the module centres, in the original's order |
//! | `fpix_modules.csv` | 672 FPix modules, the same columns |
//! | `module_sizes.csv` | module extent along (r, r·phi, z) (cm) of BPix and FPix |
//! | `rocs_phase1.csv` | read-out chips per readout group (128 BPix groups, 12 FPix half-disks) |
//! | `omds_dcs_aliases.csv` | the corrections of the cooling-loop sensor aliases (OMDS to DCS) and the two broken loops |
//! | `temperature_sensors.txt` | the 65 cooling-loop sensors of the annealing temperatures |
//! | `bad_fills.txt` | 132 fills excluded from the monitoring plots |
//! | `fpix_cabling.csv` | HV group and cooling loop of each FPix module |
//!
//! A BPix readout group (ROG) is one sector of one layer of one half-cylinder,
//! `BPix_<BmI|BmO|BpI|BpO>_SEC<1-8>_LYR<1-4>`: 4 × 8 × 4 = 128 groups, each powered by one HV
//! channel. Its modules are those whose name starts with the group name
//! (`modules.ReadoutGroup` of the original).
//!
//! # Power-supply channels
//!
//! A CAEN power group `PixelBarrel_<hc>_S<n>_LAY14` (or `_LAY23`) has four channels:
//! `channel000` digital LV (A), `channel001` analog LV (A), `channel002` HV of layer 1 (LAY14) or
//! layer 3 (LAY23), `channel003` HV of layer 4 (LAY14) or layer 2 (LAY23), in µA
//! (`pixelDesignUtils.get_readout_group_name_from_omds_leakage_current_cable_name`). The HV set
//! values are on the cables `.../HV1` (layers 1 and 3) and `.../HV2` (layers 2 and 4).
//!
//! # Cooling loops
//!
//! A barrel cooling-loop sensor alias `<n><I|M|R>_L<l>D<d><M|P><N|F>` names the sensor position
//! on the loop (inlet, middle, return), the layer `l`, the loop `d`, the z side, and Near or Far.
//! Near loops cool the inner half-shells (`BmI`, `BpI`), Far loops the outer ones, on both z
//! sides; the sectors follow from the layer and loop (`temperatures/helpers.py`,
//! `get_sectors_regex_from_cooling_loop_sensor_name`), see [`CoolingLoop::serves`].

use std::collections::BTreeMap;

use serde::Serialize;

use crate::constants::ROCS_PER_MODULE;
use crate::error::{Error, Result};

const BPIX_MODULES: &str = include_str!("../data/bpix_modules.csv");
const FPIX_MODULES: &str = include_str!("../data/fpix_modules.csv");
const MODULE_SIZES: &str = include_str!("../data/module_sizes.csv");
const ROCS_PHASE1: &str = include_str!("../data/rocs_phase1.csv");
const ALIASES: &str = include_str!("../data/omds_dcs_aliases.csv");
const SENSORS: &str = include_str!("../data/temperature_sensors.txt");
const BAD_FILLS: &str = include_str!("../data/bad_fills.txt");
const FPIX_CABLING: &str = include_str!("../data/fpix_cabling.csv");

/// A pixel module and the position of its centre.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Module {
    /// Name, e.g. `BPix_BmI_SEC4_LYR1_LDR3F_MOD1` or `FPix_BpI_D1_BLD6_PNL2_RNG1`.
    pub name: String,
    /// Radius of the centre (cm).
    pub r_cm: f64,
    /// Azimuth of the centre (rad, in (−π, π]).
    pub phi_rad: f64,
    /// z of the centre (cm).
    pub z_cm: f64,
}

/// The extent of a module along r, r·φ and z (cm).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ModuleSize {
    /// Along r (cm): the sensor thickness for BPix, the long side for FPix.
    pub r_cm: f64,
    /// Along r·φ (cm).
    pub rphi_cm: f64,
    /// Along z (cm): the long side for BPix, the thickness for FPix.
    pub z_cm: f64,
}

/// A barrel half-cylinder: minus or plus z side, inner or outer half-shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum HalfCylinder {
    /// −z, inner (φ in (−π/2, π/2)).
    BmI,
    /// −z, outer.
    BmO,
    /// +z, inner.
    BpI,
    /// +z, outer.
    BpO,
}

impl HalfCylinder {
    /// All four, in name order.
    pub const ALL: [HalfCylinder; 4] = [Self::BmI, Self::BmO, Self::BpI, Self::BpO];

    /// The name, e.g. `BmI`.
    pub fn name(self) -> &'static str {
        match self {
            Self::BmI => "BmI",
            Self::BmO => "BmO",
            Self::BpI => "BpI",
            Self::BpO => "BpO",
        }
    }

    /// Parses `BmI`, `BmO`, `BpI` or `BpO`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "BmI" => Self::BmI,
            "BmO" => Self::BmO,
            "BpI" => Self::BpI,
            "BpO" => Self::BpO,
            _ => return None,
        })
    }

    /// The z side: `'m'` or `'p'` (the second character of the name).
    pub fn z_side(self) -> char {
        match self {
            Self::BmI | Self::BmO => 'm',
            Self::BpI | Self::BpO => 'p',
        }
    }

    /// Whether this is an inner half-shell (`I`).
    pub fn is_inner(self) -> bool {
        matches!(self, Self::BmI | Self::BpI)
    }
}

/// A BPix readout group: one sector of one layer of one half-cylinder.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadoutGroup {
    /// Name, `BPix_<hc>_SEC<sector>_LYR<layer>`.
    pub name: String,
    /// Half-cylinder.
    pub half_cylinder: HalfCylinder,
    /// Sector, 1 to 8.
    pub sector: u8,
    /// Layer, 1 to 4.
    pub layer: u8,
    /// Indices of its modules into [`Geometry::bpix_modules`], in the original's table order.
    pub modules: Vec<usize>,
    /// Read-out chips (16 per module).
    pub n_rocs: u32,
    /// Arithmetic mean of the module azimuths (rad); no group straddles ±π.
    pub mean_phi_rad: f64,
}

impl ReadoutGroup {
    /// The CAEN power group of the group's HV channel, `PixelBarrel_<hc>_S<n>_LAY14|LAY23`.
    pub fn power_group(&self) -> String {
        let lay = if self.layer == 1 || self.layer == 4 {
            "14"
        } else {
            "23"
        };
        format!(
            "PixelBarrel_{}_S{}_LAY{lay}",
            self.half_cylinder.name(),
            self.sector
        )
    }

    /// The cable of the group's HV (leakage) current, `<power group>/channel002` for layers 1
    /// and 3, `/channel003` for layers 2 and 4.
    pub fn leakage_channel(&self) -> String {
        let ch = if self.layer == 1 || self.layer == 3 {
            2
        } else {
            3
        };
        format!("{}/channel00{ch}", self.power_group())
    }

    /// The HV set-value cable (`v_voltages`), `<power group>/HV1` for layers 1 and 3, `/HV2`
    /// for layers 2 and 4.
    pub fn hv_cable(&self) -> String {
        let n = if self.layer == 1 || self.layer == 3 {
            1
        } else {
            2
        };
        format!("{}/HV{n}", self.power_group())
    }

    /// The z side, `'m'` or `'p'`.
    pub fn z_side(&self) -> char {
        self.half_cylinder.z_side()
    }

    /// Sensor volume of the group (cm³): read-out chips × [`crate::constants::ROC_VOLUME_CM3`].
    pub fn volume_cm3(&self) -> f64 {
        f64::from(self.n_rocs) * crate::constants::ROC_VOLUME_CM3
    }
}

/// The name of the BPix readout group of `half_cylinder`, `sector` and `layer`.
pub fn rog_name(half_cylinder: HalfCylinder, sector: u8, layer: u8) -> String {
    format!("BPix_{}_SEC{sector}_LYR{layer}", half_cylinder.name())
}

/// Parses a readout-group name `BPix_<hc>_SEC<n>_LYR<l>` into (half-cylinder, sector, layer).
pub fn parse_rog_name(name: &str) -> Option<(HalfCylinder, u8, u8)> {
    let mut it = name.split('_');
    if it.next()? != "BPix" {
        return None;
    }
    let hc = HalfCylinder::parse(it.next()?)?;
    let sector: u8 = it.next()?.strip_prefix("SEC")?.parse().ok()?;
    let layer: u8 = it.next()?.strip_prefix("LYR")?.parse().ok()?;
    if it.next().is_some() || !(1..=8).contains(&sector) || !(1..=4).contains(&layer) {
        return None;
    }
    Some((hc, sector, layer))
}

/// The sort key of the original's per-readout-group text files: the last character of the name
/// (the layer digit) followed by the name (`lambda item: item[0][-1] + item[0]`).
pub fn text_sort_key(name: &str) -> String {
    let last = name.chars().last().map(String::from).unwrap_or_default();
    last + name
}

/// What a CAEN channel of the barrel is, from its cable name
/// `PixelBarrel_<hc>_S<n>_LAY14|LAY23/channel00<k>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelKind {
    /// `channel000`: digital LV current (A) of the power group.
    Digital {
        /// The power group, e.g. `PixelBarrel_BpI_S1_LAY14`.
        power_group: String,
    },
    /// `channel001`: analog LV current (A) of the power group.
    Analog {
        /// The power group.
        power_group: String,
    },
    /// `channel002`/`channel003`: HV leakage current (µA) of one readout group.
    Leakage {
        /// The readout group, e.g. `BPix_BpI_SEC1_LYR1`.
        readout_group: String,
    },
}

/// The "layer token" of a cable name: for the barrel the last `_` piece of the part before `/`
/// with `LAY` written `LYR` (`LYR14`), for the end-cap the second-to-last piece (`D1`)
/// (`pixelDesignUtils.get_layer_name_from_cable_name`).
pub fn layer_token(cable: &str) -> String {
    let first = cable.split('/').next().unwrap_or("");
    let pieces: Vec<&str> = first.split('_').collect();
    if pieces.first() == Some(&"PixelBarrel") {
        pieces.last().unwrap_or(&"").replace("LAY", "LYR")
    } else if pieces.len() >= 2 {
        pieces[pieces.len() - 2].to_string()
    } else {
        String::new()
    }
}

/// The layer tokens allowed for Phase 1 (`get_layer_names(1) + get_disk_names(1)`); other
/// tokens are the Phase-0 aliases that the latest alias mapping still returns.
pub const PHASE1_LAYER_TOKENS: [&str; 5] = ["LYR14", "LYR23", "D1", "D2", "D3"];

/// The cable of a full DCS alias: its last two `/` elements
/// (`CMS_TRACKER/.../PixelBarrel_BpI_S1_LAY14/channel002` gives
/// `PixelBarrel_BpI_S1_LAY14/channel002`); a name with fewer elements is returned unchanged.
pub fn cable_of_alias(alias: &str) -> &str {
    match alias.rmatch_indices('/').nth(1) {
        Some((i, _)) => &alias[i + 1..],
        None => alias,
    }
}

/// Classifies a Phase-1 barrel CAEN cable; `None` for anything that is not a barrel channel
/// 000-003 of a Phase-1 power group (end-cap channels, the Phase-0 aliases such as
/// `PixelBarrel_BpI_S1_LAY1`, other names).
pub fn classify_barrel_channel(cable: &str) -> Option<ChannelKind> {
    let (group, channel) = cable.split_once('/')?;
    let mut it = group.split('_');
    if it.next()? != "PixelBarrel" {
        return None;
    }
    let hc = HalfCylinder::parse(it.next()?)?;
    let sector: u8 = it.next()?.strip_prefix('S')?.parse().ok()?;
    let lay = it.next()?.strip_prefix("LAY")?;
    if it.next().is_some() || !(1..=8).contains(&sector) || (lay != "14" && lay != "23") {
        return None;
    }
    let k = channel.strip_prefix("channel00")?;
    let power_group = group.to_string();
    Some(match (k, lay) {
        ("0", _) => ChannelKind::Digital { power_group },
        ("1", _) => ChannelKind::Analog { power_group },
        ("2", "14") => ChannelKind::Leakage {
            readout_group: rog_name(hc, sector, 1),
        },
        ("3", "14") => ChannelKind::Leakage {
            readout_group: rog_name(hc, sector, 4),
        },
        ("2", "23") => ChannelKind::Leakage {
            readout_group: rog_name(hc, sector, 3),
        },
        ("3", "23") => ChannelKind::Leakage {
            readout_group: rog_name(hc, sector, 2),
        },
        _ => return None,
    })
}

/// A barrel cooling loop: layer `l`, loop `d`, Near (inner half-shells) or Far (outer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct CoolingLoop {
    /// Layer, 1 to 4.
    pub layer: u8,
    /// Loop index `D<d>`, 1 to 4.
    pub disk: u8,
    /// `true` for Near (`N`): cools `BmI`/`BpI`; `false` for Far (`F`): `BmO`/`BpO`.
    pub near: bool,
}

impl CoolingLoop {
    /// The sectors this loop cools (`get_sectors_regex_from_cooling_loop_sensor_name`): layers 1
    /// and 2 have two loops of four sectors, layers 3 and 4 four loops of two sectors.
    pub fn sectors(&self) -> std::ops::RangeInclusive<u8> {
        match (self.layer, self.disk) {
            (1 | 2, 1) => 1..=4,
            (1 | 2, _) => 5..=8,
            (_, d) => (2 * d - 1)..=(2 * d),
        }
    }

    /// Whether the loop cools the readout group (both z sides).
    pub fn serves(&self, rog: &ReadoutGroup) -> bool {
        rog.layer == self.layer
            && rog.half_cylinder.is_inner() == self.near
            && self.sectors().contains(&rog.sector)
    }

    /// How many working sensors the temperature of the loop needs
    /// (`get_number_of_sensors_in_cooling_loop`): L1D1 3 if Far else 2, L1D2 2 if Far else 3,
    /// L2D1 3, L2D2 2, L3D1 3 if Far else 2, other L3 loops and all L4 loops 3.
    pub fn required_sensors(&self) -> usize {
        match (self.layer, self.disk, self.near) {
            (1, 1, true) | (1, 2, false) | (2, 2, _) | (3, 1, true) => 2,
            _ => 3,
        }
    }
}

/// A cooling-loop sensor alias `<n><I|M|R>_L<l>D<d><M|P><N|F>`, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoopAlias {
    /// The alias text.
    pub alias: String,
    /// Its loop.
    pub cooling_loop: CoolingLoop,
}

/// Parses a cooling-loop sensor alias such as `4R_L1D2MN`.
pub fn parse_loop_alias(alias: &str) -> Option<LoopAlias> {
    let (pos, code) = alias.split_once('_')?;
    let b = pos.as_bytes();
    if b.len() < 2
        || !b[..b.len() - 1].iter().all(u8::is_ascii_digit)
        || !b"IMR".contains(&b[b.len() - 1])
    {
        return None;
    }
    let c = code.as_bytes();
    if c.len() != 6 || c[0] != b'L' || c[2] != b'D' {
        return None;
    }
    let layer = (c[1] as char).to_digit(10)? as u8;
    let disk = (c[3] as char).to_digit(10)? as u8;
    if !(1..=4).contains(&layer) || !(1..=4).contains(&disk) || (layer <= 2 && disk > 2) {
        return None;
    }
    if c[4] != b'M' && c[4] != b'P' {
        return None;
    }
    let near = match c[5] {
        b'N' => true,
        b'F' => false,
        _ => return None,
    };
    Some(LoopAlias {
        alias: alias.to_string(),
        cooling_loop: CoolingLoop { layer, disk, near },
    })
}

/// What the alias correction says about an OMDS sensor alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AliasStatus {
    /// The alias maps to this DCS alias (possibly itself).
    Maps(String),
    /// The sensor's loop is broken; its readings are not used.
    Broken,
    /// The alias is not in the map; its readings are not used.
    Unknown,
}

/// The embedded tables, parsed ([`Geometry::phase1`]).
#[derive(Debug, Clone)]
pub struct Geometry {
    /// The 1184 BPix modules, in the original's table order.
    pub bpix_modules: Vec<Module>,
    /// The 672 FPix modules, in the original's table order.
    pub fpix_modules: Vec<Module>,
    /// BPix module size.
    pub bpix_size: ModuleSize,
    /// FPix module size.
    pub fpix_size: ModuleSize,
    /// Read-out chips per readout group (BPix groups and FPix half-disks).
    pub rocs: BTreeMap<String, u32>,
    /// The 128 BPix readout groups in the order of the original's text files (layer first, then
    /// name; see [`text_sort_key`]). This is also the unit order of sharded jobs.
    pub readout_groups: Vec<ReadoutGroup>,
    /// OMDS alias to DCS alias (identity entries included).
    pub alias_map: BTreeMap<String, String>,
    /// The broken loops' OMDS aliases.
    pub broken_aliases: Vec<String>,
    /// The 65 cooling-loop sensors of the annealing temperatures (`PixelBarrel_<hc>_<alias>`).
    pub temperature_sensors: Vec<String>,
    /// Fills excluded from the monitoring plots.
    pub bad_fills: Vec<u32>,
    /// FPix module to (HV group, cooling loop).
    pub fpix_cabling: BTreeMap<String, (String, String)>,
    index: BTreeMap<String, usize>,
}

/// The records of an embedded CSV table (header skipped), read with the csv crate.
fn csv_rows(text: &'static str, name: &str) -> impl Iterator<Item = csv::StringRecord> {
    csv::ReaderBuilder::new()
        .from_reader(text.as_bytes())
        .into_records()
        .map(|r| r.unwrap_or_else(|e| panic!("embedded table {name}: {e}")))
        .collect::<Vec<_>>()
        .into_iter()
}

fn modules(text: &'static str, name: &str) -> Vec<Module> {
    csv_rows(text, name)
        .map(|f| Module {
            name: f[0].to_string(),
            r_cm: f[1].parse().expect("embedded module table"),
            phi_rad: f[2].parse().expect("embedded module table"),
            z_cm: f[3].parse().expect("embedded module table"),
        })
        .collect()
}

impl Geometry {
    /// The Phase-1 geometry, parsed from the crate's embedded tables.
    ///
    /// Each call parses the tables anew (about 3000 short CSV rows, of the order of a
    /// millisecond): build it once and keep it in the object that uses it (the simulator, the
    /// temperature engine and the profile inputs do), not in a loop.
    ///
    /// # Panics
    /// Never: the embedded tables are checked by the crate's tests.
    pub fn phase1() -> Geometry {
        Geometry::build()
    }

    fn build() -> Geometry {
        let bpix_modules = modules(BPIX_MODULES, "bpix_modules.csv");
        let fpix_modules = modules(FPIX_MODULES, "fpix_modules.csv");
        let mut bpix_size = None;
        let mut fpix_size = None;
        for f in csv_rows(MODULE_SIZES, "module_sizes.csv") {
            let s = ModuleSize {
                r_cm: f[1].parse().expect("embedded size table"),
                rphi_cm: f[2].parse().expect("embedded size table"),
                z_cm: f[3].parse().expect("embedded size table"),
            };
            match &f[0] {
                "BPix" => bpix_size = Some(s),
                "FPix" => fpix_size = Some(s),
                _ => {}
            }
        }
        let rocs: BTreeMap<String, u32> = csv_rows(ROCS_PHASE1, "rocs_phase1.csv")
            .map(|f| (f[0].to_string(), f[1].parse().expect("embedded ROC table")))
            .collect();
        let mut alias_map = BTreeMap::new();
        let mut broken_aliases = Vec::new();
        for f in csv_rows(ALIASES, "omds_dcs_aliases.csv") {
            if &f[2] == "broken" {
                broken_aliases.push(f[0].to_string());
            } else {
                alias_map.insert(f[0].to_string(), f[1].to_string());
            }
        }
        let temperature_sensors = SENSORS
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(String::from)
            .collect();
        let bad_fills = BAD_FILLS
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        let fpix_cabling = csv_rows(FPIX_CABLING, "fpix_cabling.csv")
            .map(|f| (f[0].to_string(), (f[1].to_string(), f[2].to_string())))
            .collect();
        let mut names: Vec<String> = Vec::new();
        for layer in 1..=4u8 {
            for hc in HalfCylinder::ALL {
                for sector in 1..=8u8 {
                    names.push(rog_name(hc, sector, layer));
                }
            }
        }
        names.sort_by_key(|n| text_sort_key(n));
        let readout_groups: Vec<ReadoutGroup> = names
            .iter()
            .map(|name| {
                let (half_cylinder, sector, layer) = parse_rog_name(name).expect("valid name");
                let modules: Vec<usize> = bpix_modules
                    .iter()
                    .enumerate()
                    .filter(|(_, m)| {
                        m.name.starts_with(name.as_str()) && m.name[name.len()..].starts_with('_')
                    })
                    .map(|(i, _)| i)
                    .collect();
                let mean_phi_rad = modules
                    .iter()
                    .map(|&i| bpix_modules[i].phi_rad)
                    .fold(0.0, |a, b| a + b)
                    / modules.len() as f64;
                let n_rocs = rocs.get(name).copied().unwrap_or(0);
                ReadoutGroup {
                    name: name.clone(),
                    half_cylinder,
                    sector,
                    layer,
                    modules,
                    n_rocs,
                    mean_phi_rad,
                }
            })
            .collect();
        let index = readout_groups
            .iter()
            .enumerate()
            .map(|(i, g)| (g.name.clone(), i))
            .collect();
        Geometry {
            bpix_modules,
            fpix_modules,
            bpix_size: bpix_size.expect("BPix size in the table"),
            fpix_size: fpix_size.expect("FPix size in the table"),
            rocs,
            readout_groups,
            alias_map,
            broken_aliases,
            temperature_sensors,
            bad_fills,
            fpix_cabling,
            index,
        }
    }

    /// The index of the readout group `name` into [`readout_groups`](Self::readout_groups).
    pub fn rog_index(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// The readout group `name`.
    ///
    /// # Errors
    /// [`Error::Data`] for a name that is not one of the 128 BPix groups (the FPix groups of the
    /// original are not implemented there either).
    pub fn rog(&self, name: &str) -> Result<&ReadoutGroup> {
        self.rog_index(name)
            .map(|i| &self.readout_groups[i])
            .ok_or_else(|| {
                Error::Data(format!(
                    "`{name}` is not a BPix readout group (expected BPix_<BmI|BmO|BpI|BpO>_SEC<1-8>_LYR<1-4>)"
                ))
            })
    }

    /// The alias correction of an OMDS cooling-loop alias (`omds_dcs_aliases.omds_to_dcs_alias`).
    pub fn dcs_alias(&self, omds_alias: &str) -> AliasStatus {
        if self.broken_aliases.iter().any(|b| b == omds_alias) {
            AliasStatus::Broken
        } else {
            match self.alias_map.get(omds_alias) {
                Some(d) => AliasStatus::Maps(d.clone()),
                None => AliasStatus::Unknown,
            }
        }
    }

    /// The readout groups of `layer` (1 to 4), in file order.
    pub fn layer_groups(&self, layer: u8) -> impl Iterator<Item = &ReadoutGroup> {
        self.readout_groups.iter().filter(move |g| g.layer == layer)
    }

    /// The number of read-out chips expected from the module count (16 per module).
    pub fn rocs_from_modules(&self, rog: &ReadoutGroup) -> u32 {
        rog.modules.len() as u32 * ROCS_PER_MODULE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_radii() {
        let g = Geometry::phase1();
        assert_eq!(g.bpix_modules.len(), 1184);
        assert_eq!(g.fpix_modules.len(), 672);
        assert_eq!(g.readout_groups.len(), 128);
        // Modules, ROCs and mean radius per layer: JINST 16 (2021) P02027 and the original's
        // configuration (96/224/352/512 modules, 1536/3584/5632/8192 ROCs, 2.93/6.78/10.88/15.99 cm).
        let want = [
            (96, 1536, 2.934),
            (224, 3584, 6.776),
            (352, 5632, 10.885),
            (512, 8192, 15.989),
        ];
        for (layer, (n_mod, n_roc, r)) in (1..=4u8).zip(want) {
            let groups: Vec<_> = g.layer_groups(layer).collect();
            assert_eq!(groups.len(), 32);
            let mods: usize = groups.iter().map(|x| x.modules.len()).sum();
            let rocs: u32 = groups.iter().map(|x| x.n_rocs).sum();
            assert_eq!(mods, n_mod);
            assert_eq!(rocs, n_roc);
            let mean_r = groups
                .iter()
                .flat_map(|x| x.modules.iter().map(|&i| g.bpix_modules[i].r_cm))
                .sum::<f64>()
                / mods as f64;
            assert!((mean_r - r).abs() < 1e-3, "layer {layer}: {mean_r}");
            for x in &groups {
                assert_eq!(x.n_rocs, g.rocs_from_modules(x), "{}", x.name);
            }
        }
        let fpix_rocs: u32 = g
            .rocs
            .iter()
            .filter(|(k, _)| k.starts_with("PixelEndCap"))
            .map(|(_, v)| v)
            .sum();
        assert_eq!(fpix_rocs, 10_752);
        assert_eq!(g.bpix_size.z_cm, 6.48);
        assert_eq!(g.fpix_size.r_cm, 6.48);
        assert_eq!(g.temperature_sensors.len(), 65);
        assert_eq!(g.bad_fills.len(), 132);
        assert_eq!(g.alias_map.len(), 67);
        assert_eq!(g.fpix_cabling.len(), 672);
    }

    #[test]
    fn channels() {
        let g = Geometry::phase1();
        let r = g.rog("BPix_BmI_SEC4_LYR2").unwrap();
        assert_eq!(r.leakage_channel(), "PixelBarrel_BmI_S4_LAY23/channel003");
        assert_eq!(r.hv_cable(), "PixelBarrel_BmI_S4_LAY23/HV2");
        assert_eq!(
            classify_barrel_channel("PixelBarrel_BmI_S4_LAY23/channel003"),
            Some(ChannelKind::Leakage {
                readout_group: "BPix_BmI_SEC4_LYR2".into()
            })
        );
        assert_eq!(
            classify_barrel_channel("PixelBarrel_BpI_S1_LAY1/channel002"),
            None
        );
        assert_eq!(
            classify_barrel_channel("PixelEndCap_BpI_D1_ROG1/channel002"),
            None
        );
        assert_eq!(layer_token("PixelBarrel_BpI_S1_LAY14/channel002"), "LYR14");
        assert_eq!(layer_token("PixelEndCap_BpI_D1_ROG1/channel002"), "D1");
        assert_eq!(
            cable_of_alias("CMS_TRACKER/A/B/PixelBarrel_BpI_S1_LAY14/channel002"),
            "PixelBarrel_BpI_S1_LAY14/channel002"
        );
        for x in &g.readout_groups {
            assert!(x.mean_phi_rad.abs() <= std::f64::consts::PI);
            assert_eq!(
                x.half_cylinder.is_inner(),
                x.mean_phi_rad.abs() < std::f64::consts::FRAC_PI_2,
                "{}",
                x.name
            );
        }
        // File order: layer digit first.
        assert_eq!(g.readout_groups[0].name, "BPix_BmI_SEC1_LYR1");
        assert_eq!(g.readout_groups[127].name, "BPix_BpO_SEC8_LYR4");
    }

    #[test]
    fn loops() {
        let g = Geometry::phase1();
        let a = parse_loop_alias("4R_L1D2MN").unwrap();
        assert_eq!(
            a.cooling_loop,
            CoolingLoop {
                layer: 1,
                disk: 2,
                near: true
            }
        );
        assert_eq!(a.cooling_loop.required_sensors(), 3);
        assert!(a.cooling_loop.serves(g.rog("BPix_BpI_SEC6_LYR1").unwrap()));
        assert!(!a.cooling_loop.serves(g.rog("BPix_BpO_SEC6_LYR1").unwrap()));
        assert!(!a.cooling_loop.serves(g.rog("BPix_BpI_SEC2_LYR1").unwrap()));
        let b = parse_loop_alias("2R_L3D2MF").unwrap().cooling_loop;
        assert_eq!(b.sectors(), 3..=4);
        assert_eq!(
            g.dcs_alias("6R_L4D3MF"),
            AliasStatus::Maps("4R_L2D2MF".into())
        );
        assert_eq!(g.dcs_alias("6I_L4D3MF"), AliasStatus::Broken);
        assert_eq!(g.dcs_alias("6M_L4D3XX"), AliasStatus::Unknown);
        for (omds, dcs) in &g.alias_map {
            assert!(parse_loop_alias(omds).is_some(), "{omds}");
            assert!(parse_loop_alias(dcs).is_some(), "{dcs}");
        }
        assert!(parse_loop_alias("4X_L1D2MN").is_none());
        assert!(parse_loop_alias("4I_L1D3MN").is_none());
    }
}
