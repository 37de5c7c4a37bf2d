//! calo-calib as another project uses it: simulate a handful of SiPM source spectra with a seed,
//! fit them, write the constants, and compare the fitted peaks with the truth.
//!
//! ```text
//! cargo run -p calo-calib --example fit_channels -- /tmp/calo-constants
//! ```
//!
//! The first argument is the output directory (default: a new directory under the system's
//! temporary directory). It receives `source_fits.parquet`, `source_fits.csv` and the
//! `CalSourceEnergyCalib.txt` DB table (2720 rows; the channels not fitted are all-zero rows).

use std::path::PathBuf;

use calo_calib::channel::IdMode;
use calo_calib::detector::{Selection, fit_detector, source_table_rows, write_source_fits};
use calo_calib::fit::FitConfig;
use calo_calib::simulate::{SimConfig, simulate_detector};
use calo_calib::tables::write_source_table;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = match std::env::args_os().nth(1) {
        Some(d) => PathBuf::from(d),
        None => std::env::temp_dir().join(format!("calo-calib-example-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir)?;

    // Eight SiPMs (four crystals of disk 0) with gains spread by 3 % around 16 ADC/MeV and the
    // statistics of a 10-minute source run (20 000 events per crystal).
    let sim = SimConfig {
        seed: 2024,
        events_per_crystal: 20_000.0,
        gain_spread: 0.03,
        ..SimConfig::default()
    };
    let ids: Vec<u32> = (0..8).collect();
    let (spectra, truth) = simulate_detector(&sim, &ids, IdMode::PerSipm)?;

    // The default fit: extended binned likelihood, SourceFitter's window for 16 ADC/MeV.
    let cfg = FitConfig::for_gain(16.0);
    let fits = fit_detector(&spectra, &cfg, &Selection::default())?;

    let [parquet, csv] = write_source_fits(&dir, &fits)?;
    let table = dir.join("CalSourceEnergyCalib.txt");
    write_source_table(&table, &source_table_rows(&fits))?;

    println!(" roid  peak (ADC)        truth (ADC)  pull  adc2mev (MeV/ADC)  status");
    for (f, t) in fits.iter().zip(&truth) {
        let pull = (f.peak - t.peak_adc) / f.peak_err;
        println!(
            "{:>5}  {:>7.3} +- {:<5.3}  {:>9.3}  {:>5.2}  {:>17.6}  {:>6}",
            f.roid,
            f.peak,
            f.peak_err,
            t.peak_adc,
            pull,
            f.adc2mev,
            f.status.bits()
        );
    }
    println!(
        "wrote {}, {} and {}",
        parquet.display(),
        csv.display(),
        table.display()
    );
    Ok(())
}
