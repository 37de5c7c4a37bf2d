//! Plots of source fits: summary plots, per-channel canvases, failed fits, bad extensions.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use calo_calib::channel::{CrystalPositions, IdMode, N_CRYSTALS};
use calo_calib::fit::{ChannelFit, ChannelStatus, FitConfig, fit_spectrum};
use calo_calib::plots::{
    CHANNEL_PLOT_SIZE, CRYSTAL_PITCH_MM, DISTRIBUTIONS, MAP_PLOT_SIZE, MAPS, SCATTER_PLOT_SIZE,
    plot_channel, plot_channels, plot_summary,
};
use calo_calib::simulate::{SimConfig, simulate_channel};
use calo_calib::spectra::{Spectrum, SpectrumSet};
use hep_core::plot::Format;

/// Id of the channel without counts (not fitted).
const EMPTY_ID: u32 = 7;

struct Fixture {
    set: SpectrumSet,
    fits: Vec<ChannelFit>,
    cfg: FitConfig,
}

/// Three simulated and fitted SiPMs on disk 0 plus one empty, not fitted channel (built once).
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let sim = SimConfig {
            events_per_crystal: 20_000.0,
            seed: 11,
            ..SimConfig::default()
        };
        let cfg = FitConfig {
            peak_interval: false,
            ..FitConfig::default()
        };
        let mut spectra = Vec::new();
        let mut fits = Vec::new();
        for roid in [0u32, 1, 100] {
            let (s, _) = simulate_channel(&sim, roid).unwrap();
            fits.push(fit_spectrum(roid, &s.edges, &s.counts, &cfg).unwrap());
            spectra.push(s);
        }
        spectra.push(Spectrum::uniform(EMPTY_ID, 0.0, 120.0, vec![0.0; 120]));
        spectra.sort_by_key(|s| s.id);
        fits.push(ChannelFit::not_fitted(
            EMPTY_ID,
            0.0,
            ChannelStatus::NO_COUNTS,
        ));
        fits.sort_by_key(|f| f.roid);
        Fixture {
            set: SpectrumSet {
                per_crystal: false,
                spectra,
            },
            fits,
            cfg,
        }
    })
}

/// Crystal positions on a brick pattern of the 34.3 mm pitch (26 per row, odd rows shifted).
fn positions() -> CrystalPositions {
    let mut text = String::new();
    for cry in 0..N_CRYSTALS {
        let (row, col) = ((cry % 674) / 26, (cry % 674) % 26);
        let x = (f64::from(col) - 13.0 + 0.5 * f64::from(row % 2)) * CRYSTAL_PITCH_MM;
        let y = (f64::from(row) - 13.0) * CRYSTAL_PITCH_MM;
        text.push_str(&format!("{} {} {x} {y}\n", cry / 674, cry % 674));
    }
    CrystalPositions::parse(&text, Path::new("synthetic")).unwrap()
}

/// Checks the PNG signature and the IHDR size.
fn assert_png(path: &Path, size: (u32, u32)) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(bytes.len() > 33, "{}", path.display());
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
    assert_eq!(&bytes[12..16], b"IHDR");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((w, h), size, "{}", path.display());
}

fn read_svg(path: &Path) -> String {
    let s = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(s.contains("<svg"), "{}", path.display());
    s
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn summary_writes_every_plot_in_both_formats() {
    let fx = fixture();
    assert_eq!(
        fx.fits.iter().filter(|f| f.is_ok()).count(),
        3,
        "{:?}",
        fx.fits
    );
    let dir = tempfile::tempdir().unwrap();
    let pos = positions();
    let written = plot_summary(
        dir.path(),
        &fx.fits,
        Some(&pos),
        IdMode::PerSipm,
        &[Format::Png, Format::Svg, Format::Png],
    )
    .unwrap();

    let mut expected: Vec<String> = Vec::new();
    for ext in ["png", "svg"] {
        for d in DISTRIBUTIONS {
            expected.push(format!("dist_{d}.{ext}"));
        }
        expected.push(format!("adc2mev_vs_roid.{ext}"));
        for m in MAPS {
            expected.push(format!("map_{m}_disk0.{ext}"));
        }
    }
    expected.sort();
    // Only the plots: no disk-1 map (no fit there), no temporary files left behind.
    assert_eq!(file_names(dir.path()), expected);
    let mut got: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    got.sort();
    assert_eq!(got, expected);

    for d in DISTRIBUTIONS {
        assert_png(&dir.path().join(format!("dist_{d}.png")), (800, 600));
    }
    assert_png(&dir.path().join("adc2mev_vs_roid.png"), SCATTER_PLOT_SIZE);
    for m in MAPS {
        assert_png(
            &dir.path().join(format!("map_{m}_disk0.png")),
            MAP_PLOT_SIZE,
        );
    }
    let svg = read_svg(&dir.path().join("dist_peak.svg"));
    assert!(svg.contains("Peak (ADC)"));
    assert!(svg.contains("N = 3"), "usable channels only");
    let svg = read_svg(&dir.path().join("dist_adc2mev.svg"));
    assert!(svg.contains("ADC2MeV (MeV/ADC)"));
    let svg = read_svg(&dir.path().join("dist_width.svg"));
    assert!(svg.contains("Width (MeV)"));
    let svg = read_svg(&dir.path().join("adc2mev_vs_roid.svg"));
    assert!(svg.contains("SiPM id (roid)") && svg.contains("ADC2MeV (MeV/ADC)"));
    assert!(svg.contains("nominal 0.0625"));
    let svg = read_svg(&dir.path().join("map_adc2mev_disk0.svg"));
    assert!(svg.contains("x (mm)") && svg.contains("y (mm)"));
    // Three SiPMs of two crystals: each crystal fills two cells.
    assert!(svg.matches("<rect").count() >= 4);
}

#[test]
fn summary_of_empty_and_failed_fits_does_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let pos = positions();
    let written =
        plot_summary(dir.path(), &[], Some(&pos), IdMode::PerSipm, &[Format::Svg]).unwrap();
    assert_eq!(written.len(), DISTRIBUTIONS.len() + 1);

    let failed: Vec<ChannelFit> = (0..5)
        .map(|i| ChannelFit::not_fitted(2 * i + 1400, 10.0, ChannelStatus::NO_COUNTS))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let written = plot_summary(
        dir.path(),
        &failed,
        Some(&pos),
        IdMode::PerSipm,
        &[Format::Png],
    )
    .unwrap();
    // Maps of disk 1 only (status map shows the failures).
    assert_eq!(written.len(), DISTRIBUTIONS.len() + 1 + MAPS.len());
    assert!(dir.path().join("map_status_disk1.png").exists());
    assert!(!dir.path().join("map_status_disk0.png").exists());

    // Without positions: no maps; per crystal ids.
    let dir = tempfile::tempdir().unwrap();
    let written = plot_summary(
        dir.path(),
        &fixture().fits,
        None,
        IdMode::PerCrystal,
        &[Format::Svg],
    )
    .unwrap();
    assert_eq!(written.len(), DISTRIBUTIONS.len() + 1);
    assert!(read_svg(&dir.path().join("adc2mev_vs_roid.svg")).contains("Crystal id"));
}

#[test]
fn channel_canvas_in_png_and_svg() {
    let fx = fixture();
    let dir = tempfile::tempdir().unwrap();
    let fit = &fx.fits[0];
    let spectrum = fx.set.get(fit.roid).unwrap();
    let png = dir.path().join("c.png");
    plot_channel(&png, spectrum, fit, &fx.cfg).unwrap();
    assert_png(&png, CHANNEL_PLOT_SIZE);
    let svg_path = dir.path().join("c.SVG");
    plot_channel(&svg_path, spectrum, fit, &fx.cfg).unwrap();
    let svg = read_svg(&svg_path);
    for needle in [
        "Amplitude (ADC)",
        "Counts / (1 ADC)",
        "Total model",
        "Full energy",
        "1st escape",
        "2nd escape",
        "Background",
        "χ²/ndf",
        "Channel 0: source fit",
    ] {
        assert!(svg.contains(needle), "missing {needle}");
    }
    // Deterministic output.
    let again = dir.path().join("d.svg");
    plot_channel(&again, spectrum, fit, &fx.cfg).unwrap();
    assert_eq!(svg, read_svg(&again));
    assert_eq!(file_names(dir.path()), ["c.SVG", "c.png", "d.svg"]);
}

#[test]
fn failed_fit_still_gets_a_plot() {
    let fx = fixture();
    let dir = tempfile::tempdir().unwrap();
    let fit = fx.fits.iter().find(|f| f.roid == EMPTY_ID).unwrap();
    let spectrum = fx.set.get(EMPTY_ID).unwrap();
    let svg = dir.path().join("failed.svg");
    plot_channel(&svg, spectrum, fit, &fx.cfg).unwrap();
    let text = read_svg(&svg);
    assert!(text.contains("fit failed (status 64)"));
    assert!(!text.contains("Total model"));
    plot_channel(&dir.path().join("failed.png"), spectrum, fit, &fx.cfg).unwrap();
    assert_png(&dir.path().join("failed.png"), CHANNEL_PLOT_SIZE);

    // A fit with data but NaN parameters and a failure status.
    let real = fx.set.get(100).unwrap();
    let nan_fit = ChannelFit::not_fitted(100, real.n_events(), ChannelStatus::NOT_CONVERGED);
    let path = dir.path().join("nan.svg");
    plot_channel(&path, real, &nan_fit, &fx.cfg).unwrap();
    assert!(read_svg(&path).contains("fit failed (status 1)"));
}

#[test]
fn bad_arguments_error_without_a_file() {
    let fx = fixture();
    let dir = tempfile::tempdir().unwrap();
    let fit = &fx.fits[0];
    let spectrum = fx.set.get(fit.roid).unwrap();
    for name in ["c.pdf", "c", "c.png.txt"] {
        let err = plot_channel(&dir.path().join(name), spectrum, fit, &fx.cfg).unwrap_err();
        assert!(err.to_string().contains("extension"), "{err}");
    }
    // Fit of another channel, and a spectrum without bins.
    let other = &fx.fits[1];
    assert!(plot_channel(&dir.path().join("x.png"), spectrum, other, &fx.cfg).is_err());
    let empty = Spectrum {
        id: fit.roid,
        edges: vec![0.0],
        counts: vec![],
    };
    assert!(plot_channel(&dir.path().join("y.png"), &empty, fit, &fx.cfg).is_err());
    assert!(
        file_names(dir.path()).is_empty(),
        "{:?}",
        file_names(dir.path())
    );
}

#[test]
fn channels_by_id_plus_failed() {
    let fx = fixture();
    let dir = tempfile::tempdir().unwrap();
    let written = plot_channels(
        dir.path(),
        &fx.set,
        &fx.fits,
        &[100, 0, 100],
        true,
        &fx.cfg,
        &[Format::Png],
    )
    .unwrap();
    let want: Vec<PathBuf> = [0, EMPTY_ID, 100]
        .iter()
        .map(|id| dir.path().join(format!("channel_{id}.png")))
        .collect();
    assert_eq!(written, want);
    for p in &want {
        assert_png(p, CHANNEL_PLOT_SIZE);
    }
    assert_eq!(file_names(dir.path()).len(), 3);

    // Without failed channels; an unknown id is an error.
    let dir = tempfile::tempdir().unwrap();
    let written = plot_channels(
        dir.path(),
        &fx.set,
        &fx.fits,
        &[1],
        false,
        &fx.cfg,
        &[Format::Svg],
    )
    .unwrap();
    assert_eq!(written, [dir.path().join("channel_1.svg")]);
    assert!(
        plot_channels(
            dir.path(),
            &fx.set,
            &fx.fits,
            &[5],
            false,
            &fx.cfg,
            &[Format::Svg]
        )
        .is_err()
    );
}

#[test]
fn pair_and_composite_plots_are_written_for_the_usable_pairs() {
    let fx = fixture();
    let dir = tempfile::tempdir().unwrap();
    let range = calo_calib::model::ModelRange {
        low: 40.0,
        high: 115.2,
    };
    let written = calo_calib::plots::plot_pairs_and_composite(
        dir.path(),
        &fx.fits,
        IdMode::PerSipm,
        range,
        &[Format::Svg],
    )
    .unwrap();
    let mut expected: Vec<String> = [
        "adc2mev_pairs",
        "adc2mev_pair_diff_vs_crystal",
        "adc2mev_pair_sum",
        "adc2mev_pair_diff",
        "peak_vs_composite",
    ]
    .iter()
    .map(|n| format!("{n}.svg"))
    .collect();
    expected.sort();
    assert_eq!(file_names(dir.path()), expected);
    assert_eq!(written.len(), 5);
    // SiPMs 0 and 1 form the one complete pair (100's partner 101 was not fitted).
    let pairs = std::fs::read_to_string(dir.path().join("adc2mev_pairs.svg")).unwrap();
    assert!(pairs.contains("1 pairs"), "title names the pair count");
    // Three usable CsI fits on the composite-peak plot.
    let comp = std::fs::read_to_string(dir.path().join("peak_vs_composite.svg")).unwrap();
    assert!(comp.contains("N = 3"));
    // Per-crystal mode: no pair plots.
    let dir2 = tempfile::tempdir().unwrap();
    let w2 = calo_calib::plots::plot_pairs_and_composite(
        dir2.path(),
        &fx.fits,
        IdMode::PerCrystal,
        range,
        &[Format::Png],
    )
    .unwrap();
    assert_eq!(
        file_names(dir2.path()),
        vec!["peak_vs_composite.png".to_string()]
    );
    assert_eq!(w2.len(), 1);
}
