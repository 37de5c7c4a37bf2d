//! # pixel-monitor
//!
//! CMS pixel detector monitoring from exported data: the fills with stable beams, luminosity,
//! the CAEN currents and PLC temperatures of the barrel pixel (BPix) readout groups, the FLUKA
//! fluence field, the leakage current normalised and scaled to a reference temperature, the
//! radiation profile that feeds the Hamburg-model simulation, and the Hamburg model itself.
//!
//! It replaces the PixelMonitoring scripts (github.com/fleble/PixelMonitoring, and the fork
//! jroloff/PixelMonitoring), which query Oracle, OMS and brilcalc per fill and per hour and need
//! lxplus and ROOT. Here every input is an export (OMS JSON:API or CSV, brilcalc CSV,
//! conditions-database tables in CSV or Parquet, the USRBIN ASCII file), every per-fill or
//! per-hour value is an as-of lookup in a columnar store, and the text outputs keep the
//! original's formats so that downstream tools keep working. The original's known defects are
//! corrected by default and reproduced by named compatibility switches ([`config::Compat`]).
//!
//! | module | holds |
//! |---|---|
//! | [`config`] | compatibility switches, look-back bounds, the sensor-temperature model, pp cross-sections per fill range |
//! | [`constants`] | physical and detector constants with their sources |
//! | [`time`] | UTC microseconds inside; readers of the exported timestamp texts; the original's local-time epochs |
//! | [`geometry`] | modules, readout groups, ROC counts, channel names, cooling loops (embedded tables) |
//! | [`fills`] | OMS fills exports, quality filters, bad fills, measurement windows, `fills.csv` |
//! | [`lumi`] | OMS and brilcalc luminosity, per fill and cumulative, per lumisection as prefix sums |
//! | [`dcs`] | the CAEN/PLC/HV exports in a per-channel sorted columnar store with as-of lookups |
//! | [`currents`] | per-fill CAEN readings, leakage current per readout group, LV currents |
//! | [`temperatures`] | readout-group sensor temperature (cooling loops, HV, self- and fluence heating), air and pipe temperatures |
//! | [`annealing`] | daily mean sensor temperatures, corrected and as the original |
//! | [`fluence`] | the USRBIN reader, ROOT `FindBin`, module and readout-group fluence |
//! | [`normalise`] | temperature scaling, per-ROC and per-volume normalisation, layer averages |
//! | [`profile`] | the radiation-profile timeline, rows, text and Parquet forms |
//! | [`profile_merge`] | merging profile fragments (upstream and gap-filling rules) |
//! | [`hamburg`] | the Hamburg model: reference functions, the O(n) integrator, the linear fit |
//! | [`plots`] | every plot, each with its CSV |
//! | [`simulate`] | a seeded running period in the export formats |
//! | [`jobs`], [`profile_job`], [`hamburg_job`] | one configuration and one call per subcommand |
//! | [`pipeline`] | the whole chain (`run`) and the demo (`run_demo`) |
//! | [`output`] | atomic outputs with a manifest beside each |
//! | [`pyfmt`] | Python's number formats of the original's text files |
//! | [`error`] | the crate's error type |
//!
//! # Example
//!
//! Scale a readout group's leakage current from −20 °C to 20 °C and per volume, and ask the
//! Hamburg model what an 80-minute anneal at 60 °C leaves of the damage rate:
//!
//! ```
//! use pixel_monitor::constants::{K_B_EV_PER_K, ZERO_CELSIUS_K};
//! use pixel_monitor::geometry::Geometry;
//! use pixel_monitor::hamburg::HamburgParams;
//! use pixel_monitor::normalise::{Normalisation, scale_to_temperature};
//!
//! let geometry = Geometry::phase1(); // parsed from the embedded tables; keep it
//! let rog = geometry.rog("BPix_BmI_SEC1_LYR1")?;
//! assert_eq!(rog.n_rocs, 48); // 3 modules of 16 read-out chips
//! let at_20c = scale_to_temperature(20.23, -20.0 + ZERO_CELSIUS_K, 20.0 + ZERO_CELSIUS_K, K_B_EV_PER_K);
//! assert!((at_20c - 1193.6).abs() < 0.5); // uA: the factor is 59.0
//! let per_cm3 = Normalisation::PerVolume.apply(at_20c, rog.n_rocs);
//! assert!((per_cm3 - at_20c / 0.8975448).abs() < 1e-9);
//! let alpha = HamburgParams::default().alpha_isothermal(80.0 * 60.0, 60.0 + ZERO_CELSIUS_K);
//! assert!((alpha - 4.0806e-17).abs() < 1e-21); // A/cm
//! # Ok::<(), pixel_monitor::Error>(())
//! ```
//!
//! The command-line tool `pixel-monitor` (package `pixel-monitor-cli`) exposes every job; the
//! formats, subcommands and switches are described in `docs/pixel-monitor.md`.

pub mod annealing;
pub mod config;
pub mod constants;
mod csv_text;
pub mod currents;
pub mod dcs;
pub mod error;
pub mod fills;
pub mod fluence;
pub mod geometry;
pub mod hamburg;
pub mod hamburg_job;
pub mod jobs;
pub mod lumi;
pub mod normalise;
pub mod output;
pub mod pipeline;
pub mod plots;
pub mod profile;
pub mod profile_job;
pub mod profile_merge;
pub mod pyfmt;
pub mod simulate;
pub mod temperatures;
pub mod time;

pub use error::{Error, Result};
