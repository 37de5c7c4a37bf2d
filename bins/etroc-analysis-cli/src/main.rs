//! `etroc-analysis`: ETROC1 telescope and charge-injection analysis.
//!
//! The subcommands live in two modules, ingest and cuts (`ingest_cmd`) and the time analysis and
//! charge injection (`analysis_cmd`), with the argument types they share in `common`; clap
//! flattens both sets into one command line.

mod analysis_cmd;
mod common;
mod ingest_cmd;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "etroc-analysis",
    version,
    about = "ETROC1 telescope and charge-injection analysis"
)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    #[command(flatten)]
    A(ingest_cmd::Command),
    #[command(flatten)]
    B(analysis_cmd::Command),
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::A(c) => ingest_cmd::run(c),
        Command::B(c) => analysis_cmd::run(c),
    }
}
