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
    about = "ETROC1 telescope and charge-injection analysis",
    args_override_self = true
)]
pub(crate) struct Cli {
    /// More log output on stderr (-v info, -vv debug); -l and RUST_LOG override.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Log level, as the original scripts' `-l/--log-level` (default WARNING).
    #[arg(
        short = 'l',
        long = "log-level",
        global = true,
        value_enum,
        ignore_case = true
    )]
    log_level: Option<LogLevel>,
    /// Also log everything (debug level and above) to a file, appended: `--log-file` alone writes
    /// `./logging.log` as the original's flag, `--log-file=PATH` another file.
    #[arg(
        long = "log-file",
        global = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "logging.log",
        value_name = "PATH"
    )]
    log_file: Option<std::path::PathBuf>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Python `logging` levels, mapped onto `tracing` levels.
#[derive(Clone, Copy, clap::ValueEnum)]
#[value(rename_all = "UPPER")]
enum LogLevel {
    /// Errors only (tracing has no level above error).
    Critical,
    /// Errors.
    Error,
    /// Warnings and errors (the default).
    Warning,
    /// Progress: each task and its duration.
    Info,
    /// Details of each task.
    Debug,
    /// Everything.
    Notset,
}

impl LogLevel {
    fn directive(self) -> &'static str {
        match self {
            LogLevel::Critical | LogLevel::Error => "error",
            LogLevel::Warning => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Notset => "trace",
        }
    }
}

#[derive(Subcommand)]
pub(crate) enum Command {
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
    init_logging(&cli)?;
    match cli.command {
        Command::A(c) => ingest_cmd::run(c),
        Command::B(c) => analysis_cmd::run(c),
    }
}

/// Log lines on stderr at the chosen level (RUST_LOG, else `-l`, else `-v`), and with
/// `--log-file` every line at debug level or above appended to that file as well.
fn init_logging(cli: &Cli) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::{EnvFilter, Layer as _, fmt};
    let level = match (cli.log_level, cli.verbose) {
        (Some(l), _) => l.directive(),
        (None, 0) => "warn",
        (None, 1) => "info",
        (None, _) => "debug",
    };
    let stderr = fmt::layer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level)));
    let file = match &cli.log_file {
        Some(path) => {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening the log file {}", path.display()))?;
            let everything = match cli.log_level {
                Some(LogLevel::Notset) => "trace",
                _ => "debug",
            };
            Some(
                fmt::layer()
                    .with_ansi(false)
                    .with_writer(std::sync::Mutex::new(f))
                    .with_filter(EnvFilter::new(everything)),
            )
        }
        None => None,
    };
    tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .try_init()
        .context("setting up logging")?;
    Ok(())
}
