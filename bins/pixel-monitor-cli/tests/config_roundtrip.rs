//! `--print-config` reproduces a run: every subcommand of `pixel-monitor` but `submit` and
//! `merge` (tested in `cli.rs`) is run with options that differ from the defaults, its
//! `--print-config` for the same options is saved, and a second run with only `--config <that
//! file>` and other output locations on the command line must write the same bytes; printing the
//! configuration read back gives the same text.
//!
//! The inputs come from a small `simulate` (two days) and from the outputs of the subcommands
//! before (fills, currents, temperatures, the fluence field, profiles) or of `run`.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use hep_cli_support::testing;

fn pm() -> Command {
    Command::cargo_bin("pixel-monitor").unwrap()
}

/// Runs `args` in `dir` and returns stdout; fails the test (with stderr) if the command fails.
fn run_ok(dir: &Path, args: &[OsString]) -> String {
    let out = pm().current_dir(dir).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn args(items: &[&dyn AsRef<OsStr>]) -> Vec<OsString> {
    items.iter().map(|a| a.as_ref().to_owned()).collect()
}

fn cat(parts: &[&[OsString]]) -> Vec<OsString> {
    parts.iter().flat_map(|p| p.iter().cloned()).collect()
}

/// Every file below `root` (relative path -> bytes), without the provenance files, which hold
/// times and command lines (manifests, `task_manifest.json`, `shard.json`).
fn tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    testing::files_below(root, |name| !testing::is_provenance(name))
}

/// The differences between the trees below `a` and `b` (empty when they hold the same bytes).
fn differences(a: &Path, b: &Path) -> Vec<String> {
    testing::differences(&tree(a), &tree(b))
}

/// The printed configuration of a round trip and its two output roots.
struct RoundTrip {
    toml: String,
    cli: PathBuf,
    file: PathBuf,
}

impl RoundTrip {
    /// One round trip of `sub`, each run in its own root directory (A = `<tmp>/<name>-cli`,
    /// B = `<tmp>/<name>-file`, so that a relative output path also lands there):
    /// 1. in A, `sub OPTIONS OUT(A)`;
    /// 2. in A, the same with `--print-config`, saved as `<tmp>/<name>.toml`;
    /// 3. in B, `sub --config <name>.toml OUT(B)`: the outputs given on the command line override
    ///    those of the file;
    /// 4. in B, `sub --config <name>.toml --print-config` must print the same text.
    fn run(
        tmp: &Path,
        name: &str,
        sub: &str,
        options: &[OsString],
        out: impl Fn(&Path) -> Vec<OsString>,
    ) -> RoundTrip {
        let sub = vec![OsString::from(sub)];
        let cli = tmp.join(format!("{name}-cli"));
        let file = tmp.join(format!("{name}-file"));
        std::fs::create_dir_all(&cli).unwrap();
        std::fs::create_dir_all(&file).unwrap();
        run_ok(&cli, &cat(&[&sub, options, &out(&cli)]));
        let toml = run_ok(
            &cli,
            &cat(&[&sub, options, &out(&cli), &args(&[&"--print-config"])]),
        );
        assert!(!toml.is_empty(), "{name}: nothing printed");
        let config = tmp.join(format!("{name}.toml"));
        std::fs::write(&config, &toml).unwrap();
        let with_file = args(&[&"--config", &config]);
        run_ok(&file, &cat(&[&sub, &with_file, &out(&file)]));
        let again = run_ok(
            &file,
            &cat(&[&sub, &with_file, &args(&[&"--print-config"])]),
        );
        assert_eq!(
            again, toml,
            "{name}: the configuration read back prints differently"
        );
        RoundTrip { toml, cli, file }
    }

    /// Asserts that the printed configuration holds `keys` (whole lines).
    fn has(&self, keys: &[&str]) -> &Self {
        for k in keys {
            assert!(
                self.toml.lines().any(|l| l == *k),
                "`{k}` not in\n{}",
                self.toml
            );
        }
        self
    }

    /// Asserts that both runs wrote the same files, byte for byte (and some).
    fn same_outputs(&self) -> &Self {
        assert!(
            !tree(&self.cli).is_empty(),
            "{} is empty",
            self.cli.display()
        );
        let d = differences(&self.cli, &self.file);
        assert!(
            d.is_empty(),
            "{} and {}:\n{}",
            self.cli.display(),
            self.file.display(),
            d.join("\n")
        );
        self
    }
}

/// `-o <root>/out`.
fn out(root: &Path) -> Vec<OsString> {
    args(&[&"-o", &root.join("out")])
}

/// A two-day simulation in the export formats (Parquet DCS tables).
fn simulate(dir: &Path) -> PathBuf {
    let sim = dir.join("sim");
    run_ok(
        dir,
        &args(&[
            &"simulate",
            &"--small",
            &"--days",
            &"2",
            &"--dcs-format",
            &"parquet",
            &"-o",
            &sim,
        ]),
    );
    sim
}

#[test]
fn fills_lumi_currents_and_temperatures_from_their_printed_config() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let sim = simulate(d);

    let fills = RoundTrip::run(
        d,
        "fills",
        "fills",
        &args(&[
            &"-i",
            &sim.join("fills.json"),
            &"--suffix",
            &"rt",
            &"--first-fill",
            &"9800",
            &"--drop-bad-fills",
            &"--bunches-column",
            &"--naive-time-zone",
            &"Europe/Zurich",
        ]),
        out,
    );
    fills
        .has(&[
            "suffix = \"rt\"",
            "first_fill = 9800",
            "drop_bad_fills = true",
            "bunches_column = true",
            "naive_time_zone = \"Europe/Zurich\"",
        ])
        .same_outputs();
    let fills_csv = fills.cli.join("out/fills_rt.csv");
    assert!(fills_csv.is_file());

    RoundTrip::run(
        d,
        "lumi",
        "lumi",
        &args(&[
            &"-i",
            &sim.join("lumi_byrun.csv"),
            &"--from",
            &"brilcalc",
            &"--suffix",
            &"rt",
            &"--first-fill",
            &"9800",
            &"--compat",
            &"lexicographic_fills",
        ]),
        out,
    )
    .has(&[
        "source = \"brilcalc\"",
        "first_fill = 9800",
        "lexicographic_fills = true",
    ])
    .same_outputs();

    let from_db = RoundTrip::run(
        d,
        "currents-from-db",
        "currents-from-db",
        &args(&[
            &"--fills",
            &fills_csv,
            &"--caen",
            &sim.join("caen.parquet"),
            &"--first-fill",
            &"9800",
            &"-t",
            &"900",
            &"--lookback-h",
            &"2",
        ]),
        out,
    );
    from_db
        .has(&["measurement_delay_s = 900", "lookback_h = 2.0"])
        .same_outputs();

    RoundTrip::run(
        d,
        "currents",
        "currents",
        &args(&[
            &"-i",
            &from_db.cli.join("out"),
            &"--first-fill",
            &"9800",
            &"--last-fill",
            &"9801",
            &"-s",
            &"Barrel",
        ]),
        out,
    )
    .has(&["first_fill = 9800", "last_fill = 9801"])
    .same_outputs();

    RoundTrip::run(
        d,
        "rog-temperatures",
        "rog-temperatures",
        &args(&[
            &"--fills",
            &fills_csv,
            &"--plc",
            &sim.join("plc.parquet"),
            &"--hv",
            &sim.join("hv.parquet"),
            &"-t",
            &"900",
            &"--temperature-max-h",
            &"120",
            &"--hv-max-h",
            &"48",
        ]),
        out,
    )
    .has(&[
        "measurement_delay_s = 900",
        "temperature_max_h = 120.0",
        "hv_max_h = 48.0",
    ])
    .same_outputs();

    RoundTrip::run(
        d,
        "air-temperatures",
        "air-temperatures",
        &args(&[
            &"--fills",
            &fills_csv,
            &"--plc",
            &sim.join("plc.parquet"),
            &"--window",
            &"1800",
            &"-s",
            &"Barrel",
        ]),
        out,
    )
    .has(&[
        "source = \"air\"",
        "sub_system = \"Barrel\"",
        "window_s = 1800",
    ])
    .same_outputs();

    RoundTrip::run(
        d,
        "pipe-temperatures",
        "pipe-temperatures",
        &args(&[
            &"--fills",
            &fills_csv,
            &"--plc",
            &sim.join("plc.parquet"),
            &"--window",
            &"2400",
            &"--last-fill",
            &"9801",
            &"-s",
            &"Barrel",
        ]),
        out,
    )
    .has(&["source = \"pipe\"", "window_s = 2400", "last_fill = 9801"])
    .same_outputs();

    RoundTrip::run(
        d,
        "annealing-temperatures",
        "annealing-temperatures",
        &args(&[
            &"--plc",
            &sim.join("plc.parquet"),
            &"-s",
            &"2024-03-31",
            &"-e",
            &"2024-04-03",
        ]),
        out,
    )
    .has(&["start_date = \"2024-03-31\"", "end_date = \"2024-04-03\""])
    .same_outputs();
}

#[test]
fn fluence_profiles_and_hamburg_from_their_printed_config() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let sim = simulate(d);
    let fills_dir = d.join("fills");
    run_ok(
        d,
        &args(&[&"fills", &"-i", &sim.join("fills.json"), &"-o", &fills_dir]),
    );
    let fills_csv = fills_dir.join("fills.csv");

    // The field, its species texts and its plots go to three directories.
    let field = RoundTrip::run(
        d,
        "fluence-field",
        "fluence-field",
        &args(&[
            &"-i",
            &sim.join("fluka_usrbin_ascii.txt"),
            &"--suffix",
            &"rt",
            &"--plot-format",
            &"svg",
        ]),
        |root| {
            args(&[
                &"-o",
                &root.join("field"),
                &"--txt-dir",
                &root.join("txt"),
                &"--plots-dir",
                &root.join("plots"),
            ])
        },
    );
    field
        .has(&["suffix = \"rt\"", "plot_format = \"svg\""])
        .same_outputs();
    let field_parquet = field.cli.join("field/fluence_field_rt.parquet");
    assert!(field_parquet.is_file());
    assert!(field.file.join("plots/fluence_map.svg").is_file());

    RoundTrip::run(
        d,
        "fluence",
        "fluence",
        &args(&[
            &"-f",
            &field_parquet,
            &"-r",
            &"4.3",
            &"-z",
            &"10",
            &"--lumi-fb",
            &"2",
            &"--sigma-mb",
            &"75",
        ]),
        out,
    )
    .has(&["lumi_fb = 2.0", "sigma_mb = 75.0"])
    .same_outputs();

    // Two readout groups; the plots (no option of their own) go to the relative `plots`
    // directory of a partial configuration file, that is into each run's root.
    let partial = d.join("profile.partial.toml");
    std::fs::write(
        &partial,
        "plots_for = [\"BPix_BmI_SEC1_LYR1\"]\nplots_dir = \"plots\"\nplot_format = \"svg\"\n",
    )
    .unwrap();
    let profile = RoundTrip::run(
        d,
        "profile",
        "profile",
        &args(&[
            &"--config",
            &partial,
            &"--fills",
            &fills_csv,
            &"--lumi",
            &sim.join("lumi_byls.csv"),
            &"--caen",
            &sim.join("caen.parquet"),
            &"--plc",
            &sim.join("plc.parquet"),
            &"--hv",
            &sim.join("hv.parquet"),
            &"-f",
            &field_parquet,
            &"--rog",
            &"BPix_BmI_SEC1_LYR1,BPix_BpO_SEC8_LYR4",
            &"--label",
            &"rt",
            &"--fill-step",
            &"1800",
            &"--interfill-step",
            &"7200",
            &"--bunches-column",
            &"--current-max-h",
            &"12",
        ]),
        out,
    );
    profile
        .has(&[
            "label = \"rt\"",
            "plots_dir = \"plots\"",
            "fill_step_s = 1800",
            "interfill_step_s = 7200",
            "bunches_column = true",
            "current_max_h = 12.0",
        ])
        .same_outputs();
    let text = profile
        .cli
        .join("out/BPix_BmI_SEC1_LYR1/profile_BPix_BmI_SEC1_LYR1_rt.txt");
    assert!(
        profile
            .file
            .join("plots/profile_BPix_BmI_SEC1_LYR1_temperature.svg")
            .is_file()
    );

    // merge-profiles: two overlapping fragments of that profile.
    let frag = d.join("fragments");
    std::fs::create_dir_all(&frag).unwrap();
    let content = std::fs::read_to_string(&text).unwrap();
    let lines: Vec<&str> = content.lines().collect();
    assert!(lines.len() > 20, "{content}");
    let header = lines[0];
    let part = |rows: &[&str]| format!("{header}\n{}\n", rows.join("\n"));
    std::fs::write(
        frag.join("profile_part1.txt"),
        part(&lines[1..lines.len() * 2 / 3]),
    )
    .unwrap();
    std::fs::write(
        frag.join("profile_part2.txt"),
        part(&lines[lines.len() / 3..]),
    )
    .unwrap();
    RoundTrip::run(
        d,
        "merge-profiles",
        "merge-profiles",
        &args(&[&"-i", &frag, &"--method", &"gap_filling"]),
        |root| args(&[&"-o", &root.join("merged.txt")]),
    )
    .has(&["method = \"gap_filling\""])
    .same_outputs();

    RoundTrip::run(
        d,
        "hamburg",
        "hamburg",
        &args(&[
            &"-p",
            &profile.cli.join("out/profile_rt.parquet"),
            &"--fit-per",
            &"all",
            &"--current-error-rel",
            &"0.02",
            &"--cms-alpha0",
        ]),
        |root| {
            args(&[
                &"-o",
                &root.join("data"),
                &"--plots-dir",
                &root.join("plots"),
            ])
        },
    )
    .has(&[
        "fit_per = \"all\"",
        "current_error_rel = 0.02",
        "cms_alpha0 = true",
    ])
    .same_outputs();
}

#[test]
fn plots_from_their_printed_config() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let sim = simulate(d);
    let chain = d.join("chain");
    run_ok(d, &args(&[&"run", &"--simulated", &sim, &"-o", &chain]));
    let data = chain.join("data");
    let fills_csv = data.join("fills_info/fills.csv");
    let lumi_csv = data.join("luminosity/integrated_luminosity_per_fill.csv");
    let processed = data.join("currents/processed");
    let rog_temperatures = data.join("temperatures/readout_group");

    RoundTrip::run(
        d,
        "plot-currents",
        "plot-currents",
        &args(&[
            &"--fills",
            &fills_csv,
            &"--lumi",
            &lumi_csv,
            &"--currents-dir",
            &processed,
            &"--temperatures-dir",
            &rog_temperatures,
            &"-x",
            &"fluence",
            &"--field",
            &data.join("fluence/fluence_field_phase1.parquet"),
            &"--layers",
            &"1,3",
            &"--tref",
            &"0",
            &"--normroc",
            &"--era",
            &"rt",
            &"--format",
            &"svg",
            &"--ymin",
            &"0",
            &"--ymax",
            &"50",
        ]),
        out,
    )
    .has(&[
        "era = \"rt\"",
        "x = \"fluence\"",
        "normalisation = \"per_roc\"",
        "t_ref_c = 0.0",
        "format = \"svg\"",
    ])
    .same_outputs();

    RoundTrip::run(
        d,
        "plot-currents-vs-azimuth",
        "plot-currents-vs-azimuth",
        &args(&[
            &"--first-fill",
            &"9800",
            &"--last-fill",
            &"9801",
            &"-l",
            &"2",
            &"--lumi",
            &lumi_csv,
            &"--csv",
            &"--currents-dir",
            &processed,
            &"--temperatures-dir",
            &rog_temperatures,
            &"--tref",
            &"-5",
            &"--format",
            &"svg",
        ]),
        |root| args(&[&"-o", &root.join("plots"), &"--csv-dir", &root.join("csv")]),
    )
    .has(&[
        "last_fill = 9801",
        "layer = 2",
        "t_ref_c = -5.0",
        "produce_csv = true",
    ])
    .same_outputs();

    RoundTrip::run(
        d,
        "plot-temperatures",
        "plot-temperatures",
        &args(&[
            &"-i",
            &data.join("temperatures/air"),
            &"--fills",
            &fills_csv,
            &"--lumi",
            &lumi_csv,
            &"-x",
            &"lumi",
            &"--part-filter",
            &"Bm",
            &"--format",
            &"svg",
        ]),
        out,
    )
    .has(&["x = \"lumi\"", "part_filter = \"Bm\"", "format = \"svg\""])
    .same_outputs();
}

#[test]
fn simulate_and_run_from_their_printed_config() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let sim = RoundTrip::run(
        d,
        "simulate",
        "simulate",
        &args(&[
            &"--small",
            &"--days",
            &"2",
            &"--seed",
            &"7",
            &"--dcs-format",
            &"csv",
            &"--first-fill",
            &"9000",
            &"--start-date",
            &"2023-05-02",
            &"--caen-interval",
            &"2400",
        ]),
        |root| args(&[&"-o", &root.join("sim")]),
    );
    sim.has(&[
        "seed = 7",
        "days = 2.0",
        "dcs_format = \"csv\"",
        "first_fill = 9000",
        "start_date = \"2023-05-02\"",
        "caen_interval_s = 2400.0",
    ])
    .same_outputs();
    let simulated = sim.cli.join("sim");
    assert!(simulated.join("caen.csv").is_file());

    // Two readout groups (no option of their own: a partial configuration file) keep it small.
    let partial = d.join("run.partial.toml");
    std::fs::write(
        &partial,
        "profile_readout_groups = [\"BPix_BmI_SEC1_LYR1\", \"BPix_BpO_SEC8_LYR4\"]\n\
         hamburg_fit_per = \"all\"\n",
    )
    .unwrap();
    let run = RoundTrip::run(
        d,
        "run",
        "run",
        &args(&[
            &"--config",
            &partial,
            &"--simulated",
            &simulated,
            &"--first-fill",
            &"9000",
            &"--last-fill",
            &"9001",
            &"--compat",
            &"window_rate",
            &"--naive-time-zone",
            &"Europe/Zurich",
        ]),
        out,
    );
    run.has(&[
        "first_fill = 9000",
        "last_fill = 9001",
        "hamburg_fit_per = \"all\"",
        "window_rate = true",
        "naive_time_zone = \"Europe/Zurich\"",
    ])
    .same_outputs();
    assert!(
        run.file
            .join("out/data/radiation_simulation/profiles/BPix_BpO_SEC8_LYR4")
            .is_dir()
    );
}
