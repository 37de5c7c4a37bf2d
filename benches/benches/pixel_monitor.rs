//! pixel-monitor on one simulated year: 200 days of running (about 330 fills), every CAEN channel
//! of the barrel changing every 300 s on average (about 1.5e7 change rows), the PLC and HV
//! exports, per-lumisection luminosity, all in Parquet as the exports of the conditions
//! database would be.
//!
//! * `read_dcs_exports`: the CAEN, PLC and HV Parquet files into the columnar stores.
//! * `currents_temperatures_profiles`: `pipeline::run` with the per-fill currents (text files
//!   and Parquet), the per-fill readout-group temperatures, and the radiation profiles of all
//!   128 readout groups (text and Parquet), reading every input, without plots, air and annealing
//!   temperatures or the Hamburg fit.
//!
//! The input is simulated once, outside the timing, into `$PIXEL_BENCH_DIR` (default: the system
//! temp directory), and kept between runs.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use hep_core::progress::NoProgress;
use pixel_monitor::dcs::{DcsKind, DcsStore};
use pixel_monitor::pipeline::{PipelineConfig, Steps, run};
use pixel_monitor::simulate::{SimConfig, Simulation};
use pixel_monitor::time::TimeReader;

fn input() -> PathBuf {
    let base = std::env::var_os("PIXEL_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("pixel-monitor-bench"));
    let dir = base.join("year");
    if !dir.join("truth.json").is_file() {
        let cfg = SimConfig::default();
        Simulation::new(&cfg)
            .expect("simulation")
            .write(&dir, &NoProgress)
            .expect("simulated files");
    }
    dir
}

fn pixel_year(c: &mut Criterion) {
    let sim = input();
    let rows = hep_core::io::ParquetReader::open(sim.join("caen.parquet"))
        .expect("caen")
        .num_rows();
    eprintln!(
        "pixel-monitor bench input: {} CAEN change rows in {}",
        rows,
        sim.display()
    );
    let mut g = c.benchmark_group(format!(
        "pixel_monitor_year_{}M_caen_rows",
        rows / 1_000_000
    ));
    g.sample_size(10);
    g.bench_function("read_dcs_exports", |b| {
        b.iter(|| {
            let r = TimeReader::utc();
            let caen = DcsStore::read(&sim.join("caen.parquet"), DcsKind::Caen, &r).expect("caen");
            let plc = DcsStore::read(&sim.join("plc.parquet"), DcsKind::Plc, &r).expect("plc");
            let hv = DcsStore::read(&sim.join("hv.parquet"), DcsKind::Hv, &r).expect("hv");
            black_box((caen.n_rows(), plc.n_rows(), hv.n_rows()))
        })
    });
    let out = sim.parent().expect("base").join("run");
    let cfg = PipelineConfig {
        out_dir: out.clone(),
        inputs: PipelineConfig::simulated_inputs(&sim),
        steps: Steps {
            currents: true,
            temperatures: true,
            air: false,
            annealing: false,
            profile: true,
            hamburg: false,
            plots: false,
        },
        ..PipelineConfig::default()
    };
    g.bench_function("currents_temperatures_profiles", |b| {
        b.iter(|| {
            let r = run(&cfg, &NoProgress).expect("chain");
            black_box(r.files)
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&out);
}

criterion_group!(benches, pixel_year);
criterion_main!(benches);
