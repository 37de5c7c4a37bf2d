//! `pixel-monitor`: CMS pixel detector monitoring, leakage-current analysis and radiation
//! profiles from exported data (the PixelMonitoring scripts, offline).
//!
//! Every subcommand fills one library configuration (`pixel_monitor::jobs`, `profile_job`,
//! `hamburg_job`, `plots`, `simulate`, `pipeline`) from the defaults, the `--config` TOML file and
//! its command-line options, in that order, and calls one library function. `--print-config`
//! prints the effective configuration.

mod cmds;

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "pixel-monitor",
    version,
    about = "CMS pixel monitoring: fills, luminosity, currents, temperatures, fluence, radiation profiles, Hamburg model",
    long_about = "CMS pixel monitoring from exported data: fills (OMS), luminosity (OMS, brilcalc), CAEN/PLC/HV \
                  time series (conditions-database exports, CSV or Parquet), the FLUKA fluence field; per-fill \
                  currents and temperatures in the original text formats, radiation profiles for the Hamburg-model \
                  simulation, plots. Every subcommand takes --config FILE.toml and --print-config; --compat \
                  reproduces the original scripts' known defects (all, or a comma-separated list)."
)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: cmds::Command,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    hep_cli_support::init_logging(cli.verbose);
    match cmds::run(cli.command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
