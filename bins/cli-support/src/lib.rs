//! Set-up shared by the hep-rs command-line tools, so that every tool behaves the same way:
//!
//! | item | does |
//! |---|---|
//! | [`init_logging`] | `tracing` to stderr: warnings by default, `-v` info, `-vv` debug, `-vvv` trace; `RUST_LOG` overrides |
//! | [`Bar`] | a [`Progress`] that draws an `indicatif` bar when stderr is a terminal, and nothing otherwise |
//! | [`ConfigArgs`] | the `--config FILE.toml` and `--print-config` options every subcommand takes |
//! | [`load_config`] | the effective configuration: defaults, then the TOML file, then the command-line options |
//! | [`Overrides`] | the command-line options given, as the TOML table [`load_config`] lays over the file |
//! | [`print_config`] | the complete effective configuration as TOML on stdout |
//! | [`ShardArgs`] | `--shard I/N` for jobs that scale out |
//! | [`SubmitArgs`], [`SlurmOptions`], [`submit`] | the `submit` subcommand: Slurm array + merge scripts, printed or submitted |
//! | [`SubmitCommand`], [`SubmitConfig`] | a `submit` whose job is another subcommand's command line |
//! | [`MergeCommand`], [`MergeConfig`] | the `merge` subcommand of a sharded job |
//!
//! Only binaries depend on this crate; libraries take a configuration struct and a `&dyn
//! Progress` and know nothing of the command line.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use hep_core::progress::Progress;
use hep_core::shard::Shard;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
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
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

/// A progress bar on stderr for the stages a library reports through
/// [`Progress`]. Hidden when stderr is not a terminal (batch jobs,
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
        // The message and length first, so that the first frame drawn is complete.
        self.bar.set_message(what.to_string());
        self.bar.set_length(total);
        self.bar.reset();
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
    /// Run only the block I of N of the job's units (0 <= I < N) into OUT/shards/I-of-N/;
    /// `merge` joins the N shards.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
}

/// The Slurm side of a `submit`: how to split the job and what to ask Slurm for. It is the
/// `[slurm]` table of every `submit` subcommand's configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlurmOptions {
    /// Number of shards N (array tasks 0..N-1); at least 1.
    pub shards: usize,
    /// At most this many tasks at once (`--array=...%M`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_parallel: Option<usize>,
    /// Slurm partition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// Time limit per task (Slurm format, e.g. `01:00:00`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// Memory per task (Slurm format, e.g. `2G`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem: Option<String>,
    /// CPUs per task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus_per_task: Option<u32>,
    /// Slurm account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Further `#SBATCH` options, e.g. `--qos=short`.
    pub sbatch: Vec<String>,
    /// Only the shards that are missing or incomplete (after a failure).
    pub only_missing: bool,
    /// Run `sbatch` instead of printing the commands.
    pub submit: bool,
}

impl SlurmOptions {
    /// Checks the options before anything is written: at least one shard.
    ///
    /// # Errors
    /// No shard count (`shards` is 0).
    pub fn check(&self) -> Result<()> {
        if self.shards == 0 {
            bail!("no shard count: give --shards N (N >= 1) or `shards` in [slurm]");
        }
        Ok(())
    }
}

/// The command-line options of a `submit` subcommand, laid over the `[slurm]` table of its
/// configuration (see [`SubmitArgs::overrides`]).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct SubmitArgs {
    /// Number of shards N (array tasks 0..N-1); required here or as `shards` in `[slurm]`.
    #[arg(long, value_name = "N")]
    pub shards: Option<usize>,
    /// At most this many tasks at once (`--array=...%M`).
    #[arg(long, value_name = "M")]
    pub max_parallel: Option<usize>,
    /// Slurm partition.
    #[arg(long)]
    pub partition: Option<String>,
    /// Time limit per task (Slurm format, e.g. 01:00:00).
    #[arg(long)]
    pub time: Option<String>,
    /// Memory per task (Slurm format, e.g. 2G).
    #[arg(long)]
    pub mem: Option<String>,
    /// CPUs per task.
    #[arg(long)]
    pub cpus_per_task: Option<u32>,
    /// Slurm account.
    #[arg(long)]
    pub account: Option<String>,
    /// A further #SBATCH option, e.g. --sbatch=--qos=short (repeatable).
    #[arg(long = "sbatch", value_name = "OPTION", allow_hyphen_values = true)]
    pub extra: Vec<String>,
    /// Only the shards that are missing or incomplete (after a failure): the array lists just
    /// those task ids.
    #[arg(long)]
    pub only_missing: bool,
    /// Run sbatch (array, then the merge with --dependency=afterok) instead of printing the
    /// commands.
    #[arg(long)]
    pub submit: bool,
}

impl SubmitArgs {
    /// The options given, as overrides of the `[slurm]` table (`slurm.shards`, ...).
    ///
    /// # Errors
    /// As [`Overrides::set`].
    pub fn overrides(&self, o: &mut Overrides) -> Result<()> {
        o.set("slurm.shards", self.shards)?;
        o.set("slurm.max_parallel", self.max_parallel)?;
        o.set("slurm.partition", self.partition.clone())?;
        o.set("slurm.time", self.time.clone())?;
        o.set("slurm.mem", self.mem.clone())?;
        o.set("slurm.cpus_per_task", self.cpus_per_task)?;
        o.set("slurm.account", self.account.clone())?;
        if !self.extra.is_empty() {
            o.set("slurm.sbatch", Some(self.extra.clone()))?;
        }
        o.flag("slurm.only_missing", self.only_missing)?;
        o.flag("slurm.submit", self.submit)
    }
}

/// The configuration of a `submit` whose job is another subcommand's command line (given after
/// `--`, or as `job` in the file): the job's arguments and the `[slurm]` options.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubmitConfig {
    /// The job: the subcommand and its options, without the program name and without
    /// `--shard` (each array task adds its own).
    pub job: Vec<String>,
    /// What to ask Slurm for.
    pub slurm: SlurmOptions,
}

/// A `submit` subcommand whose job follows after `--`:
/// `TOOL submit --shards 8 -- JOB OPTIONS`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct SubmitCommand {
    /// The Slurm options.
    #[command(flatten)]
    pub slurm: SubmitArgs,
    /// `--config` and `--print-config`.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The job and its options, without --shard (required here or as `job` in the configuration).
    #[arg(last = true, value_name = "JOB OPTIONS")]
    pub job: Vec<String>,
}

impl SubmitCommand {
    /// The effective configuration (defaults, `--config` file, command line); `None` after
    /// `--print-config` printed it.
    ///
    /// # Errors
    /// As [`load_config`]; no job, or a job that contains `--shard`.
    pub fn load(&self) -> Result<Option<SubmitConfig>> {
        let mut o = Overrides::default();
        self.slurm.overrides(&mut o)?;
        if !self.job.is_empty() {
            o.set("job", Some(self.job.clone()))?;
        }
        let c: SubmitConfig = load_config(self.config.config.as_deref(), &o)?;
        if self.config.print_config {
            print_config(&c)?;
            return Ok(None);
        }
        if c.job.is_empty() {
            bail!("no job: give it after -- or as `job` in the configuration");
        }
        if c.job
            .iter()
            .any(|a| a == "--shard" || a.starts_with("--shard="))
        {
            bail!("give the job without --shard: each array task adds its own");
        }
        Ok(Some(c))
    }
}

/// A `merge` subcommand: joins the shards in an output directory.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct MergeCommand {
    /// The output directory given to the shards (holding `shards/I-of-N/`); required here or
    /// as `output` in the configuration.
    #[arg(short = 'o', long = "output", visible_alias = "out-directory")]
    pub output: Option<PathBuf>,
    /// `--config` and `--print-config`.
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// The configuration of a `merge` subcommand.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MergeConfig {
    /// The output directory of the sharded job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<PathBuf>,
}

impl MergeCommand {
    /// The output directory to merge; `None` after `--print-config` printed the configuration.
    ///
    /// # Errors
    /// As [`load_config`], or no output directory.
    pub fn load(&self) -> Result<Option<PathBuf>> {
        let mut o = Overrides::default();
        o.set("output", self.output.clone())?;
        let c: MergeConfig = load_config(self.config.config.as_deref(), &o)?;
        if self.config.print_config {
            print_config(&c)?;
            return Ok(None);
        }
        c.output
            .map(Some)
            .context("no output directory: give --output or `output` in the configuration")
    }
}

/// Writes the Slurm scripts of a sharded job into `<out>/slurm/` and prints the `sbatch`
/// commands, or, with `submit`, submits them and prints the job ids. `task` is the job's
/// command line without `--shard` (program first), `merge` the merge's.
///
/// Relative paths in the commands are resolved in the current directory, which the tasks `cd`
/// to. With `only_missing` only the shards [`hep_core::shard::missing_shards`] finds are run;
/// if there are none, nothing is written or submitted.
///
/// # Errors
/// No shards, invalid options, unwritable scripts, or a failing `sbatch`.
pub fn submit(
    args: &SlurmOptions,
    job: &str,
    out: &Path,
    task: Vec<String>,
    merge: Vec<String>,
) -> Result<()> {
    args.check()?;
    let only_tasks = if args.only_missing {
        let missing = hep_core::shard::missing_shards(out, job, args.shards);
        if missing.is_empty() {
            println!(
                "all {} shards of {job} in {} are complete; run the merge",
                args.shards,
                out.display()
            );
            return Ok(());
        }
        missing
    } else {
        Vec::new()
    };
    let spec = hep_core::shard::SlurmArray {
        job: job.replace(' ', "-"),
        count: args.shards,
        max_parallel: args.max_parallel,
        task_command: task,
        merge_command: merge,
        workdir: std::env::current_dir().context("the current directory")?,
        partition: args.partition.clone(),
        time: args.time.clone(),
        mem: args.mem.clone(),
        cpus_per_task: args.cpus_per_task,
        account: args.account.clone(),
        extra_directives: args.sbatch.clone(),
        only_tasks,
    };
    let scripts = spec.write(out)?;
    if args.submit {
        let (array, merge) = scripts.submit()?;
        println!(
            "submitted array job {array} ({} tasks) and merge job {merge} (afterok:{array})",
            if spec.only_tasks.is_empty() {
                spec.count
            } else {
                spec.only_tasks.len()
            }
        );
    } else {
        println!(
            "# Slurm scripts in {}; submit with:",
            scripts.array.parent().unwrap_or(out).display()
        );
        for c in scripts.commands() {
            println!("{c}");
        }
    }
    Ok(())
}

/// The absolute path of the running program, for the commands of [`submit`].
///
/// # Errors
/// If the operating system cannot tell.
pub fn current_program() -> Result<String> {
    Ok(std::env::current_exe()
        .context("the path of this program")?
        .to_string_lossy()
        .into_owned())
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

/// The options given on the command line, as a TOML table with one entry per option given (a
/// dotted key such as `chain.twc.order` makes the nested tables), to be laid over the
/// configuration file by [`load_config`]. Options not given are left out, so that the file's
/// value (or the default) stays.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Overrides(pub toml::Table);

impl Overrides {
    /// Sets `key` (dotted for nested tables) to `value` if it is `Some`.
    ///
    /// # Errors
    /// If `value` cannot be written as TOML, or a part of `key` already holds a value that is
    /// not a table.
    pub fn set<T: Serialize>(&mut self, key: &str, value: Option<T>) -> Result<()> {
        let Some(v) = value else { return Ok(()) };
        let v = toml::Value::try_from(v).with_context(|| format!("option {key}"))?;
        let mut parts: Vec<&str> = key.split('.').collect();
        let last = parts.pop().unwrap_or(key);
        let mut t = &mut self.0;
        for p in parts {
            t = t
                .entry(p.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .with_context(|| format!("option {key}: `{p}` is both a value and a table"))?;
        }
        t.insert(last.to_string(), v);
        Ok(())
    }

    /// Sets the boolean `key` to true if the flag was given (a clap `bool` flag).
    ///
    /// # Errors
    /// As [`Overrides::set`].
    pub fn flag(&mut self, key: &str, given: bool) -> Result<()> {
        self.set(key, given.then_some(true))
    }

    /// Sets `key` to `value` if the flag was given (`--no-sqlite` sets `sqlite = false`).
    ///
    /// # Errors
    /// As [`Overrides::set`].
    pub fn flag_value<T: Serialize>(&mut self, key: &str, given: bool, value: T) -> Result<()> {
        self.set(key, given.then_some(value))
    }
}

/// Merges `over` into `base`: tables recursively, every other value replaced, a table naming
/// another variant of a tagged enum replaced whole ([`hep_core::config::merge_tables`]).
pub fn merge(base: &mut toml::Table, over: toml::Table) {
    hep_core::config::merge_tables(base, over);
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

    #[test]
    fn overrides_nest_dotted_keys_and_skip_options_not_given() {
        let mut o = Overrides::default();
        o.set("seed", Some(7u64)).unwrap();
        o.set("inner.a", Some(2.5)).unwrap();
        o.set("inner.b", None::<String>).unwrap();
        o.flag("inner.on", true).unwrap();
        o.flag("off", false).unwrap();
        o.flag_value("sqlite", true, false).unwrap();
        assert_eq!(
            toml::to_string(&o).unwrap(),
            "seed = 7\nsqlite = false\n\n[inner]\na = 2.5\non = true\n"
        );
        assert!(o.set("seed.x", Some(1)).is_err());
    }
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

/// Helpers for the CLI tests that compare the files two runs wrote (a run with options against a
/// run from its printed configuration, a sharded run against a single process).
pub mod testing {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    /// True for the provenance files, which hold times and command lines and so differ between
    /// two otherwise identical runs: `*.manifest.json`, `task_manifest.json`, `shard.json`.
    pub fn is_provenance(name: &str) -> bool {
        name.ends_with(".manifest.json") || name == "task_manifest.json" || name == "shard.json"
    }

    /// Every file below `root` whose file name `keep` accepts, by path relative to `root`, with
    /// its bytes; empty if `root` does not exist.
    ///
    /// # Panics
    /// If a directory or file below `root` cannot be read (a test failure).
    pub fn files_below(root: &Path, keep: impl Fn(&str) -> bool) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut out = BTreeMap::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries {
                let p = e.expect("a directory entry").path();
                if p.is_dir() {
                    stack.push(p);
                } else if keep(&p.file_name().unwrap_or_default().to_string_lossy()) {
                    let rel = p.strip_prefix(root).unwrap_or(&p).to_path_buf();
                    out.insert(rel, std::fs::read(&p).expect("a readable file"));
                }
            }
        }
        out
    }

    /// The files directly in `dir` (not below), provenance aside, by name, with their bytes.
    ///
    /// # Panics
    /// If `dir` or a file in it cannot be read.
    pub fn files_in(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        std::fs::read_dir(dir)
            .expect("a readable directory")
            .map(|e| e.expect("a directory entry").path())
            .filter(|p| p.is_file())
            .map(|p| {
                (
                    p.file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned(),
                    p,
                )
            })
            .filter(|(name, _)| !is_provenance(name))
            .map(|(name, p)| (name, std::fs::read(&p).expect("a readable file")))
            .collect()
    }

    /// What differs between two sets of files (empty when they hold the same names and bytes),
    /// naming `a` the command-line run and `b` the `--config` run.
    pub fn differences(
        a: &BTreeMap<PathBuf, Vec<u8>>,
        b: &BTreeMap<PathBuf, Vec<u8>>,
    ) -> Vec<String> {
        let mut d = Vec::new();
        for (k, v) in a {
            match b.get(k) {
                None => d.push(format!("{} only in the command-line run", k.display())),
                Some(w) if w != v => d.push(format!("{} differs", k.display())),
                Some(_) => {}
            }
        }
        for k in b.keys().filter(|k| !a.contains_key(*k)) {
            d.push(format!("{} only in the --config run", k.display()));
        }
        d
    }
}

/// Helpers for the tests that submit real Slurm jobs (CI starts a single-node Slurm with
/// `.ci/slurm-up`; elsewhere those tests skip with a printed reason).
pub mod slurm_testing {
    use std::time::{Duration, Instant};

    /// Whether a Slurm controller answers (`sinfo` succeeds). Under CI (`CI=true`) a missing
    /// Slurm is a failure, not a skip.
    ///
    /// # Panics
    /// Under CI when no Slurm answers.
    pub fn available(test: &str) -> bool {
        let ok = std::process::Command::new("sinfo")
            .arg("-h")
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{test}: no Slurm answers under CI (.ci/run starts one with .ci/slurm-up)"
            );
            eprintln!("{test}: skipped, no Slurm controller answers (sinfo failed)");
        }
        ok
    }

    /// The job ids in the line `submit --submit` prints (`submitted array job A ... merge job M`).
    pub fn submitted_ids(stdout: &str) -> Option<(String, String)> {
        let line = stdout
            .lines()
            .find(|l| l.starts_with("submitted array job"))?;
        let words: Vec<&str> = line.split_whitespace().collect();
        let array = words.get(3)?.to_string();
        let merge = words
            .iter()
            .position(|w| *w == "merge")
            .and_then(|i| words.get(i + 2))?
            .to_string();
        Some((array, merge))
    }

    /// The `JobState` of every task of job `id` (`scontrol show job`).
    pub fn job_states(id: &str) -> Vec<String> {
        let out = std::process::Command::new("scontrol")
            .args(["show", "job", id])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        out.split_whitespace()
            .filter_map(|w| w.strip_prefix("JobState="))
            .map(str::to_string)
            .collect()
    }

    /// Waits (at most `timeout`) until every task of job `id` has left the queue states
    /// (PENDING, RUNNING, ...), prints the final states for the CI log and returns them.
    pub fn wait_for(id: &str, timeout: Duration) -> Vec<String> {
        let t0 = Instant::now();
        loop {
            let states = job_states(id);
            let done = !states.is_empty()
                && states.iter().all(|s| {
                    !matches!(
                        s.as_str(),
                        "PENDING" | "RUNNING" | "CONFIGURING" | "COMPLETING" | "SUSPENDED"
                    )
                });
            if done || t0.elapsed() > timeout {
                eprintln!(
                    "slurm job {id}: {states:?} after {:.1} s",
                    t0.elapsed().as_secs_f64()
                );
                return states;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}
