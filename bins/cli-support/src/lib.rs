//! Set-up shared by the hep-rs command-line tools, so that every tool behaves the same way:
//!
//! | item | does |
//! |---|---|
//! | [`init_logging`] | `tracing` to stderr: warnings by default, `-v` info, `-vv` debug, `-vvv` trace; `RUST_LOG` overrides |
//! | [`Bar`] | a [`Progress`](hep_core::progress::Progress) that draws an `indicatif` bar when stderr is a terminal, and nothing otherwise |
//! | [`ConfigArgs`] | the `--config FILE.toml` and `--print-config` options every subcommand takes |
//! | [`load_config`] | the effective configuration: defaults, then the TOML file, then the command-line options |
//! | [`print_config`] | the complete effective configuration as TOML on stdout |
//! | [`ShardArgs`] | `--shard I/N` for jobs that scale out |
//!
//! Only binaries depend on this crate; libraries take a configuration struct and a `&dyn
//! Progress` and know nothing of the command line.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use hep_core::progress::Progress;
use hep_core::shard::Shard;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing_subscriber::EnvFilter;

/// Starts logging to stderr. The level is `warn` plus one step per `-v` (`info`, `debug`,
/// `trace`) for every crate; a `RUST_LOG` filter in the environment replaces it.
pub fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    // A second initialisation (tests calling main twice) is harmless.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// A progress bar on stderr for the stages a library reports through
/// [`Progress`](hep_core::progress::Progress). Hidden when stderr is not a terminal (batch jobs,
/// pipes, CI), so logs stay clean.
pub struct Bar {
    bar: ProgressBar,
}

impl Bar {
    /// A bar that draws only if stderr is a terminal.
    pub fn new() -> Self {
        Self::with_target(std::io::stderr().is_terminal())
    }

    /// A bar that never draws (for tests and `--quiet`).
    pub fn hidden() -> Self {
        Self::with_target(false)
    }

    fn with_target(visible: bool) -> Self {
        let bar = ProgressBar::with_draw_target(
            None,
            if visible {
                ProgressDrawTarget::stderr_with_hz(10)
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        let style = ProgressStyle::with_template(
            "{msg:>16} [{elapsed_precise}] {wide_bar} {pos}/{len} ({eta} left)",
        )
        .expect("the progress template is valid");
        bar.set_style(style);
        Self { bar }
    }
}

impl Default for Bar {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress for Bar {
    fn start(&self, what: &str, total: u64) {
        self.bar.reset();
        self.bar.set_length(total);
        self.bar.set_position(0);
        self.bar.set_message(what.to_string());
        self.bar.enable_steady_tick(Duration::from_millis(200));
    }

    fn advance(&self, n: u64) {
        self.bar.inc(n);
    }

    fn finish(&self) {
        self.bar.disable_steady_tick();
        self.bar.finish_and_clear();
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// `--config FILE.toml` and `--print-config`, flattened into every subcommand's arguments.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ConfigArgs {
    /// Read the configuration from this TOML file; options given on the command line override it.
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
    /// Print the complete effective configuration (defaults included) as TOML and exit.
    #[arg(long)]
    pub print_config: bool,
}

/// `--shard I/N`: run only shard `I` of `N` of a job (see [`hep_core::shard`]).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ShardArgs {
    /// Run only the block I of N of the job's units (0 <= I < N) into <out>/shards/I-of-N/;
    /// `merge` joins the N shards.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
}

/// The effective configuration of a subcommand: `T::default()`, overlaid with the TOML file (if
/// any), overlaid with `overrides` (the options given on the command line).
///
/// `overrides` is any serialisable value whose fields mirror (a subset of) `T`'s, with `None`
/// for options not given; `None` fields must be skipped when serialising
/// (`#[serde(skip_serializing_if = "Option::is_none")]`). Tables are merged key by key, so a
/// nested section of the file keeps the keys the command line does not set. Unknown keys in the
/// file are an error if `T` denies them (`#[serde(deny_unknown_fields)]`).
///
/// # Errors
/// The file cannot be read or is not valid TOML (with its path and the TOML error's position),
/// or the merged table does not describe a valid `T`.
pub fn load_config<T, O>(file: Option<&Path>, overrides: &O) -> Result<T>
where
    T: Serialize + DeserializeOwned + Default,
    O: Serialize,
{
    let mut table = toml::Table::try_from(T::default())
        .context("the default configuration cannot be written as TOML")?;
    if let Some(path) = file {
        let text = hep_core::io::read_text(path)
            .with_context(|| format!("{}: cannot read the configuration", path.display()))?;
        let file_table: toml::Table = text
            .parse()
            .with_context(|| format!("{}: not a valid TOML configuration", path.display()))?;
        merge(&mut table, file_table);
        // Validate the file on its own first, for a message that names the file.
        toml::Value::Table(table.clone())
            .try_into::<T>()
            .with_context(|| format!("{}: invalid configuration", path.display()))?;
    }
    let over = toml::Table::try_from(overrides)
        .context("the command-line options cannot be written as TOML")?;
    merge(&mut table, over);
    toml::Value::Table(table)
        .try_into::<T>()
        .context("invalid configuration (after applying the command-line options)")
}

/// Merges `over` into `base`: tables recursively, every other value replaced.
pub fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(key, v);
            }
        }
    }
}

/// Prints `config` as TOML on stdout (what `--print-config` shows).
///
/// # Errors
/// If the configuration cannot be written as TOML.
pub fn print_config<T: Serialize>(config: &T) -> Result<()> {
    let text = toml::to_string_pretty(config).context("cannot write the configuration as TOML")?;
    print!("{text}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Serialize, Deserialize, Default, Debug, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Inner {
        a: f64,
        b: String,
    }

    #[derive(Serialize, Deserialize, Default, Debug, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Cfg {
        seed: u64,
        inner: Inner,
    }

    #[derive(Serialize, Default)]
    struct Over {
        #[serde(skip_serializing_if = "Option::is_none")]
        seed: Option<u64>,
    }

    #[test]
    fn defaults_then_file_then_command_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "seed = 3\n[inner]\na = 2.5\n").unwrap();
        let c: Cfg = load_config(Some(&path), &Over::default()).unwrap();
        assert_eq!(c.seed, 3);
        assert_eq!(c.inner.a, 2.5);
        assert_eq!(c.inner.b, "");
        let c: Cfg = load_config(Some(&path), &Over { seed: Some(9) }).unwrap();
        assert_eq!(c.seed, 9);
        assert_eq!(c.inner.a, 2.5);
        let c: Cfg = load_config(None, &Over::default()).unwrap();
        assert_eq!(c, Cfg::default());
        std::fs::write(&path, "sed = 3\n").unwrap();
        let e = format!(
            "{:#}",
            load_config::<Cfg, _>(Some(&path), &Over::default()).unwrap_err()
        );
        assert!(e.contains("c.toml") && e.contains("sed"), "{e}");
        std::fs::write(&path, "seed = \n").unwrap();
        let e = format!(
            "{:#}",
            load_config::<Cfg, _>(Some(&path), &Over::default()).unwrap_err()
        );
        assert!(e.contains("not a valid TOML"), "{e}");
    }

    #[test]
    fn hidden_bar_takes_reports() {
        let b = Bar::hidden();
        b.start("units", 3);
        b.advance(2);
        b.finish();
    }
}
