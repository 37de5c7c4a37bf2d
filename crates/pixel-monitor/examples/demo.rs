//! Simulates a short running period, runs the whole pixel-monitor chain on it, and prints the
//! per-layer summary: `cargo run --release -p pixel-monitor --example demo -- [days] [work dir]`.

use hep_core::progress::NoProgress;
use pixel_monitor::pipeline::{DemoConfig, run_demo};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let days: f64 = args.next().map_or(Ok(5.0), |a| a.parse())?;
    let cfg = DemoConfig {
        days,
        work_dir: args.next().map(Into::into),
        ..DemoConfig::default()
    };
    let summary = run_demo(&cfg, &NoProgress)?;
    print!("{summary}");
    Ok(())
}
