//! `mu2e-ensemble`: Mu2e process normalisations, primary samples and blind ensembles.
//!
//! The subcommands live in two modules so that their owners can work independently; clap
//! flattens both sets into one command line.

mod args;
mod norm_cmd;
mod sample_cmd;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "mu2e-ensemble",
    version,
    about = "Mu2e process normalisations, primary samples and blind ensembles"
)]
pub(crate) struct Cli {
    /// More log output on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    #[command(flatten)]
    A(norm_cmd::Command),
    #[command(flatten)]
    B(sample_cmd::Command),
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
    hep_cli_support::init_logging(cli.verbose);
    match cli.command {
        Command::A(c) => norm_cmd::run(c),
        Command::B(c) => sample_cmd::run(c),
    }
}
