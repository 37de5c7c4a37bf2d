//! The crystal positions shipped with the crate (Mu2e Offline `crystalPos.txt`).

use calo_calib::channel::{CrystalPositions, SHIPPED_CRYSTAL_POSITIONS};

#[test]
fn shipped_positions_hold_1348_crystals_674_per_disk() {
    let p = CrystalPositions::shipped().unwrap();
    assert_eq!(p.len(), 1348);
    let disk0 = p.as_slice().iter().filter(|c| c.disk == 0).count();
    let disk1 = p.as_slice().iter().filter(|c| c.disk == 1).count();
    assert_eq!((disk0, disk1), (674, 674));
    // The first line of the file: disk 0, index 0 at (-188.65, 377.3) mm.
    let c0 = p.get(0).unwrap();
    assert_eq!(
        (c0.disk, c0.index, c0.x_mm, c0.y_mm),
        (0, 0, -188.65, 377.3)
    );
    // Crystal 674 is index 0 of disk 1.
    let c = p.get(674).unwrap();
    assert_eq!((c.disk, c.index), (1, 0));
    // The embedded text is the file unmodified: 1348 lines.
    assert_eq!(SHIPPED_CRYSTAL_POSITIONS.lines().count(), 1348);
    assert_eq!(
        SHIPPED_CRYSTAL_POSITIONS.lines().next(),
        Some("0 0 -188.65 377.3")
    );
}
