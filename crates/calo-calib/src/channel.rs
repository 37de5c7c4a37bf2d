//! The calorimeter channel model (Mu2e Offline `DataProducts/inc/CaloConst.hh` and `CaloSiPMId.hh`;
//! summarised in `docs/calo-calib.md`, "Channel model and constants").
//!
//! * 2 disks of 674 undoped CsI crystals: crystal id `cry = disk * 674 + i`, `i = 0..673`, so
//!   disk 0 holds crystals 0..=673 and disk 1 crystals 674..=1347.
//! * 2 SiPMs per crystal: readout id `roid = 2 * cry + local` (`local` 0 or 1), so `cry = roid / 2`
//!   and `local = roid % 2`; disk 0 holds roid 0..=1347, disk 1 roid 1348..=2695.
//! * Database tables have 2720 rows: the 2696 SiPMs, 16 disk PIN diodes (roid 2696..=2711), 4
//!   laser-box PIN diodes (2712..=2715) and 4 spares.
//! * The four CAPHRI crystals 582, 609, 610 and 637 (disk 0) are LYSO, not CsI: their SiPMs
//!   (1164/1165, 1218/1219, 1220/1221, 1274/1275) have a gain of about 267 ADC/MeV instead of 16
//!   (`CaloConditions/data/Sim_crystal.txt`), so their 6.13 MeV line sits far outside the CsI
//!   source window.
//!
//! Crystal positions for map plots are read from Offline's `CalorimeterGeom/data/crystalPos.txt`
//! with [`CrystalPositions::read`].

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Number of calorimeter disks.
pub const N_DISKS: u32 = 2;
/// Crystals per disk.
pub const CRYSTALS_PER_DISK: u32 = 674;
/// Crystals in the calorimeter (2 × 674).
pub const N_CRYSTALS: u32 = N_DISKS * CRYSTALS_PER_DISK;
/// SiPMs read out per crystal.
pub const SIPMS_PER_CRYSTAL: u32 = 2;
/// SiPM readout channels (2 × 1348); every `roid` below this is a SiPM.
pub const N_SIPMS: u32 = N_CRYSTALS * SIPMS_PER_CRYSTAL;
/// Rows of every calorimeter calibration DB table (`_nChannelDB`): 2696 SiPMs, 16 disk PIN
/// diodes, 4 laser-box PIN diodes and 4 spares.
pub const N_DB_ROWS: u32 = 2720;
/// The CAPHRI (LYSO) crystals, all on disk 0.
pub const LYSO_CRYSTALS: [u32; 4] = [582, 609, 610, 637];

/// Crystal id of the SiPM `roid` (`roid / 2`).
///
/// Meaningful for SiPM ids (`roid < N_SIPMS`); for PIN-diode and spare rows the result is not a
/// crystal.
pub const fn crystal_of(roid: u32) -> u32 {
    roid / SIPMS_PER_CRYSTAL
}

/// SiPM index within its crystal, 0 or 1 (`roid % 2`).
pub const fn local_of(roid: u32) -> u32 {
    roid % SIPMS_PER_CRYSTAL
}

/// Disk (0 or 1) of the SiPM `roid` (`roid < N_SIPMS`; larger ids give values of 2 and above).
pub const fn disk_of_roid(roid: u32) -> u32 {
    disk_of_crystal(crystal_of(roid))
}

/// Disk (0 or 1) of the crystal `crystal` (`crystal < N_CRYSTALS`).
pub const fn disk_of_crystal(crystal: u32) -> u32 {
    crystal / CRYSTALS_PER_DISK
}

/// The readout id of SiPM `local` (0 or 1) of crystal `crystal`: `2 * crystal + local`.
///
/// # Panics
///
/// In debug builds, if `local > 1`.
pub const fn roid(crystal: u32, local: u32) -> u32 {
    debug_assert!(local < SIPMS_PER_CRYSTAL);
    crystal * SIPMS_PER_CRYSTAL + local
}

/// Whether `crystal` is one of the four CAPHRI LYSO crystals ([`LYSO_CRYSTALS`]).
pub const fn is_lyso_crystal(crystal: u32) -> bool {
    matches!(crystal, 582 | 609 | 610 | 637)
}

/// Whether the SiPM `roid` reads a LYSO crystal (1164/1165, 1218/1219, 1220/1221, 1274/1275).
pub const fn is_lyso_roid(roid: u32) -> bool {
    is_sipm(roid) && is_lyso_crystal(crystal_of(roid))
}

/// Whether `roid` is a SiPM channel (`roid < 2696`), as opposed to a PIN diode or spare row.
pub const fn is_sipm(roid: u32) -> bool {
    roid < N_SIPMS
}

/// What the ids of a set of spectra or constants refer to (the CLI's `--per-crystal` switch).
///
/// The original analyzer filled per-SiPM histograms `sipm_<roid>` (the default mode) and
/// per-crystal histograms `cry_<id>` (flagged as temporary in `SourceCalibDigiAna`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdMode {
    /// Ids are SiPM readout ids, 0..=2695.
    #[default]
    PerSipm,
    /// Ids are crystal ids, 0..=1347.
    PerCrystal,
}

impl IdMode {
    /// The mode for the `--per-crystal` flag value.
    pub const fn from_per_crystal(per_crystal: bool) -> Self {
        if per_crystal {
            IdMode::PerCrystal
        } else {
            IdMode::PerSipm
        }
    }

    /// Whether ids are crystal ids.
    pub const fn is_per_crystal(self) -> bool {
        matches!(self, IdMode::PerCrystal)
    }

    /// Number of valid ids: 2696 per SiPM, 1348 per crystal.
    pub const fn n_ids(self) -> u32 {
        match self {
            IdMode::PerSipm => N_SIPMS,
            IdMode::PerCrystal => N_CRYSTALS,
        }
    }

    /// Whether `id` is a valid id in this mode (`id < n_ids()`).
    pub const fn is_valid(self, id: u32) -> bool {
        id < self.n_ids()
    }

    /// Whether `id` is (a SiPM of) a LYSO crystal.
    pub const fn is_lyso(self, id: u32) -> bool {
        match self {
            IdMode::PerSipm => is_lyso_roid(id),
            IdMode::PerCrystal => is_lyso_crystal(id),
        }
    }

    /// The crystal of `id`: itself per crystal, `id / 2` per SiPM.
    pub const fn crystal(self, id: u32) -> u32 {
        match self {
            IdMode::PerSipm => crystal_of(id),
            IdMode::PerCrystal => id,
        }
    }

    /// The disk (0 or 1) of `id`.
    pub const fn disk(self, id: u32) -> u32 {
        disk_of_crystal(self.crystal(id))
    }

    /// What the ids are called in messages: `"roid"` or `"crystal id"`.
    pub const fn id_name(self) -> &'static str {
        match self {
            IdMode::PerSipm => "roid",
            IdMode::PerCrystal => "crystal id",
        }
    }
}

/// The text of Mu2e Offline's `CalorimeterGeom/data/crystalPos.txt` (github.com/Mu2e/Offline,
/// last change `521583d37` of 2026-07-29, snapshot `0878d6b8`, Apache-2.0; md5
/// `f3041c2e8e466bb72cd7454b7c7dfdc6`), shipped unmodified in the crate's `data/` directory: 1348
/// lines `disk index x y`, the crystal centres (mm) in the disk front-face frame. Parse it with
/// [`CrystalPositions::shipped`].
pub const SHIPPED_CRYSTAL_POSITIONS: &str = include_str!("../data/crystalPos.txt");

/// The position of one crystal's centre on its disk's front face.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CrystalPosition {
    /// Disk, 0 or 1.
    pub disk: u32,
    /// Index of the crystal within its disk, 0..=673.
    pub index: u32,
    /// x of the crystal centre in the disk front-face frame (mm).
    pub x_mm: f64,
    /// y of the crystal centre in the disk front-face frame (mm).
    pub y_mm: f64,
}

/// The positions of all 1348 crystals, indexed by crystal id (`disk * 674 + index`).
///
/// Read from Mu2e Offline's `CalorimeterGeom/data/crystalPos.txt`: 1348 lines of
/// `disk idx x y`, whitespace separated, x and y in mm in the disk front-face frame. Every
/// `(disk, idx)` pair must appear exactly once; the lines may come in any order. Blank lines and
/// lines starting with `#` are skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct CrystalPositions {
    positions: Vec<CrystalPosition>,
}

impl CrystalPositions {
    /// Reads a `crystalPos.txt` file.
    ///
    /// # Errors
    ///
    /// [`Error::Core`] (I/O) if the file cannot be read; otherwise as [`CrystalPositions::parse`].
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = hep_core::io::read_text(path)?;
        Self::parse(&text, path)
    }

    /// Parses the text of a `crystalPos.txt` file; `path` is only used in error messages.
    ///
    /// # Errors
    ///
    /// [`hep_core::Error::Parse`] with the 1-based line for a line without exactly four fields, a disk
    /// other than 0/1, an index outside 0..=673, a non-finite coordinate or a repeated
    /// `(disk, idx)`; and, at the line after the last one, if any crystal is missing.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let mut slots: Vec<Option<(CrystalPosition, u64)>> = vec![None; N_CRYSTALS as usize];
        let mut n_lines = 0u64;
        for (i, raw) in text.lines().enumerate() {
            let line = i as u64 + 1;
            n_lines = line;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = trimmed.split_whitespace().collect();
            if fields.len() != 4 {
                return Err(Error::input(
                    path,
                    line,
                    "4 fields `disk idx x_mm y_mm`",
                    format!("{} fields in `{}`", fields.len(), shorten(trimmed)),
                ));
            }
            let disk: u32 = fields[0]
                .parse()
                .ok()
                .filter(|d| *d < N_DISKS)
                .ok_or_else(|| {
                    Error::input(path, line, "a disk 0 or 1", format!("`{}`", fields[0]))
                })?;
            let index: u32 = fields[1]
                .parse()
                .ok()
                .filter(|i| *i < CRYSTALS_PER_DISK)
                .ok_or_else(|| {
                    Error::input(
                        path,
                        line,
                        "a crystal index in 0..=673",
                        format!("`{}`", fields[1]),
                    )
                })?;
            let coord = |s: &str, what: &str| -> Result<f64> {
                s.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| {
                        Error::input(
                            path,
                            line,
                            format!("a finite {what} (mm)"),
                            format!("`{}`", shorten(s)),
                        )
                    })
            };
            let x_mm = coord(fields[2], "x")?;
            let y_mm = coord(fields[3], "y")?;
            let cry = (disk * CRYSTALS_PER_DISK + index) as usize;
            if let Some((_, first)) = slots[cry] {
                return Err(Error::input(
                    path,
                    line,
                    format!("each (disk, idx) once; ({disk}, {index}) was already on line {first}"),
                    "a repeat",
                ));
            }
            slots[cry] = Some((
                CrystalPosition {
                    disk,
                    index,
                    x_mm,
                    y_mm,
                },
                line,
            ));
        }
        let mut positions = Vec::with_capacity(N_CRYSTALS as usize);
        for (cry, slot) in slots.into_iter().enumerate() {
            match slot {
                Some((p, _)) => positions.push(p),
                None => {
                    return Err(Error::input(
                        path,
                        n_lines + 1,
                        format!("all {N_CRYSTALS} crystals"),
                        format!(
                            "end of file without crystal {cry} (disk {}, idx {})",
                            cry as u32 / CRYSTALS_PER_DISK,
                            cry as u32 % CRYSTALS_PER_DISK
                        ),
                    ));
                }
            }
        }
        Ok(Self { positions })
    }

    /// The crystal positions shipped with the crate: Mu2e Offline's
    /// `CalorimeterGeom/data/crystalPos.txt` (commit `521583d37`, Apache-2.0), embedded
    /// unmodified ([`SHIPPED_CRYSTAL_POSITIONS`]).
    ///
    /// # Errors
    ///
    /// None in practice: the embedded table is checked by the crate's tests; a parse error would
    /// be reported as by [`CrystalPositions::parse`].
    pub fn shipped() -> Result<Self> {
        Self::parse(
            SHIPPED_CRYSTAL_POSITIONS,
            Path::new("calo-calib/data/crystalPos.txt"),
        )
    }

    /// The position of crystal `crystal`, or `None` if `crystal >= 1348`.
    pub fn get(&self, crystal: u32) -> Option<&CrystalPosition> {
        self.positions.get(crystal as usize)
    }

    /// All positions in crystal-id order (1348 entries).
    pub fn as_slice(&self) -> &[CrystalPosition] {
        &self.positions
    }

    /// Number of crystals (always 1348).
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    /// Always `false`: a successfully read table holds every crystal.
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }
}

/// At most 80 characters of `s`, for messages.
pub(crate) fn shorten(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(MAX).collect();
        out.push_str("...");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_follow_calo_sipm_id() {
        assert_eq!(N_CRYSTALS, 1348);
        assert_eq!(N_SIPMS, 2696);
        assert_eq!(crystal_of(1165), 582);
        assert_eq!(local_of(1165), 1);
        assert_eq!(roid(582, 1), 1165);
        assert_eq!(disk_of_roid(1347), 0);
        assert_eq!(disk_of_roid(1348), 1);
        assert_eq!(disk_of_crystal(673), 0);
        assert_eq!(disk_of_crystal(674), 1);
        let lyso: Vec<u32> = (0..N_SIPMS).filter(|&r| is_lyso_roid(r)).collect();
        assert_eq!(lyso, [1164, 1165, 1218, 1219, 1220, 1221, 1274, 1275]);
        for c in LYSO_CRYSTALS {
            assert!(is_lyso_crystal(c));
        }
        assert_eq!((0..N_CRYSTALS).filter(|&c| is_lyso_crystal(c)).count(), 4);
        assert!(is_sipm(2695) && !is_sipm(2696));
        assert!(!is_lyso_roid(2696 + 1164));
        assert_eq!(IdMode::PerCrystal.n_ids(), 1348);
        assert!(IdMode::PerCrystal.is_lyso(637) && !IdMode::PerSipm.is_lyso(637));
        assert_eq!(IdMode::PerSipm.disk(2000), 1);
    }

    fn synthetic() -> String {
        let mut s = String::new();
        for cry in 0..N_CRYSTALS {
            s.push_str(&format!("{} {} {}.5 -{}\n", cry / 674, cry % 674, cry, cry));
        }
        s
    }

    #[test]
    fn parses_and_reports_bad_lines() {
        let p = Path::new("pos.txt");
        let ok = CrystalPositions::parse(&synthetic(), p).unwrap();
        assert_eq!(ok.len(), 1348);
        let c = ok.get(700).unwrap();
        assert_eq!((c.disk, c.index, c.x_mm, c.y_mm), (1, 26, 700.5, -700.0));
        assert!(ok.get(1348).is_none());

        let mut lines: Vec<String> = synthetic().lines().map(str::to_owned).collect();
        let check = |lines: &[String], want_line: u64, needle: &str| {
            let e = CrystalPositions::parse(&lines.join("\n"), p).unwrap_err();
            let msg = e.to_string();
            assert!(
                matches!(e, Error::Core(hep_core::Error::Parse { line, .. }) if line == want_line),
                "{msg}"
            );
            assert!(msg.contains(needle), "{msg}");
        };
        let orig = lines[9].clone();
        lines[9] = "0 9 1.0".into();
        check(&lines, 10, "4 fields");
        lines[9] = "2 9 1.0 2.0".into();
        check(&lines, 10, "disk 0 or 1");
        lines[9] = "0 674 1.0 2.0".into();
        check(&lines, 10, "0..=673");
        lines[9] = "0 9 nan 2.0".into();
        check(&lines, 10, "finite x");
        lines[9] = "0 8 1.0 2.0".into();
        check(&lines, 10, "already on line 9");
        lines[9] = orig;
        lines.pop();
        check(&lines, 1348, "crystal 1347");
    }

    /// Reads Offline's real `crystalPos.txt`, the copy shipped in the crate's `data/` directory.
    #[test]
    fn reads_the_real_crystal_positions() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/crystalPos.txt");
        let pos = CrystalPositions::read(&path).unwrap();
        assert_eq!(pos.len(), 1348);
        // First and last lines of the file: `0 0 -188.65 377.3` and `1 673 -480.2 411.6`.
        let first = pos.get(0).unwrap();
        assert_eq!(
            (first.disk, first.index, first.x_mm, first.y_mm),
            (0, 0, -188.65, 377.3)
        );
        let last = pos.get(1347).unwrap();
        assert_eq!(
            (last.disk, last.index, last.x_mm, last.y_mm),
            (1, 673, -480.2, 411.6)
        );
        // Crystals sit on a 34.3 mm pitch: nearest-neighbour distances on disk 0 are >= 34.3 mm
        // (to 0.01 mm) and the disk spans well under its 1.3 m envelope.
        let d0: Vec<_> = pos.as_slice()[..674].to_vec();
        let mut min_d = f64::INFINITY;
        for (i, a) in d0.iter().enumerate() {
            for b in &d0[i + 1..] {
                min_d = min_d.min((a.x_mm - b.x_mm).hypot(a.y_mm - b.y_mm));
            }
            assert!(a.x_mm.hypot(a.y_mm) < 700.0);
        }
        assert!((min_d - 34.3).abs() < 0.01, "nearest neighbours {min_d} mm");
    }
}
