//! The embedded Mu2e tables are the original files, unmodified.

mod common;

use mu2e_ensemble::embedded::{self, FILES};
use sha2::{Digest, Sha256};

/// SHA-256 of the original (uncompressed) files, computed from the published files whose md5
/// sums the provenance table in `data/README.md` gives.
const SHA256: [(&str, &str); 6] = [
    (
        "czarnecki_szafron_Al_2016.tbl",
        "88f077151272827ac476fca91f3da1361fddc2e27b5f4395ecbed3f515bab2d2",
    ),
    (
        "heeck_finer_binning_2016_szafron.tbl",
        "8125e43955a70cfc6bc612aad706e7c27e58c5ed31c62b3ad63cc8a1c09744e8",
    ),
    (
        "heeck_finer_binning_2016_szafron-scaled-to-1H.tbl",
        "f1359ddcbf96cb3ef627dab7a99d5c936e3605d6082576b497606e6800848d83",
    ),
    (
        "heeck_finer_binning_2016_szafron-scaled-to-6C.tbl",
        "e9da15f1187abc2e84646530009057bf82b937a43b2ef4fad1d612fa2eb3da98",
    ),
    (
        "rpcspectrum.tbl",
        "25d71eb8863c6c522339e33ff433921894f41e5bd7390950559423662d0ad9cb",
    ),
    (
        "ipa_spec_eff.tbl",
        "d3d2c1afa6c67e21aa248933d3229ea800eaa8ae9c517c25fed788199c75d5c4",
    ),
];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn embedded_files_have_the_original_digests() {
    assert_eq!(FILES.len(), SHA256.len());
    for (name, want) in SHA256 {
        let bytes = embedded::file(name).unwrap();
        assert_eq!(hex(&Sha256::digest(&bytes)), want, "{name}");
    }
    let e = embedded::file("nope.tbl").unwrap_err().to_string();
    assert!(
        e.contains("nope.tbl") && e.contains("rpcspectrum.tbl"),
        "{e}"
    );
}

#[test]
fn embedded_files_equal_the_shared_copies() {
    let Some(dir) = common::mu2e_data_dir() else {
        return;
    };
    for (name, _) in FILES {
        let disk = std::fs::read(dir.join(name)).unwrap();
        assert!(embedded::file(name).unwrap() == disk, "{name} differs");
    }
}

#[test]
fn embedded_tables_parse_with_the_documented_shapes() {
    let t = embedded::tables().unwrap();
    let cz = t.dio_czarnecki.as_ref().unwrap();
    assert_eq!(cz.len(), 1051);
    assert_eq!(cz.energies()[0], 0.0);
    let h = t.dio_heeck.as_ref().unwrap();
    assert_eq!(h.len(), 10398);
    assert_eq!(h.energies()[0], 1.0);
    assert_eq!(*h.energies().last().unwrap(), 104.97);
    let rpc = t.rpc.as_ref().unwrap();
    assert_eq!(rpc.len(), 1400);
    assert_eq!(rpc.energies()[0], 0.05);
    let ipa = t.ipa.as_ref().unwrap();
    assert_eq!(ipa.thresholds().len(), 100);
    assert_eq!(ipa.thresholds()[0], 50.0);
    // nothing was read from disk
    assert!(t.files().is_empty());
    // the scaled DIO tables parse too
    assert_eq!(
        embedded::spectrum(embedded::DIO_HEECK_6C_FILE)
            .unwrap()
            .len(),
        embedded::spectrum(embedded::DIO_HEECK_1H_FILE)
            .unwrap()
            .len()
    );
}
