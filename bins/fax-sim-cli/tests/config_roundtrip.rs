//! `--print-config` reproduces a run: every subcommand (`create-fake`, `from-deposits`,
//! `from-minitree`, `simulate`, `process`, `match`, `plot`, `plot-yields`, `plot-band` and
//! `production run`) is run with options that differ from the defaults, its `--print-config` for
//! the same options is saved, and a second run with only `--config <that file>` (the inputs and
//! another output location on the command line, where they are arguments) must write the same
//! bytes; printing the configuration read back gives the same text.
//!
//! `yields`, `merge`, `submit`, `plot-event`, `plot-channels` and `production submit` are tested
//! in `cli.rs` and `production.rs`.
//!
//! Tagged tables (`[fv]`, spectra) given as another variant than the default's or the file's
//! replace that table whole (`hep_core::config::merge_tables`); three cases check it.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use hep_cli_support::testing;

fn fax() -> Command {
    Command::cargo_bin("fax-sim").unwrap()
}

/// Runs `args` and returns stdout, or the command line and stderr if the command fails.
fn try_run(args: &[OsString]) -> Result<String, String> {
    let out = fax().args(args).output().unwrap();
    if !out.status.success() {
        return Err(format!(
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8(out.stdout).unwrap())
}

fn run_ok(args: &[OsString]) -> String {
    try_run(args).unwrap_or_else(|e| panic!("{e}"))
}

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

fn cat(parts: &[&[OsString]]) -> Vec<OsString> {
    parts.iter().flat_map(|p| p.iter().cloned()).collect()
}

/// Every file below `root` (relative path -> bytes), without the provenance files, which hold
/// times and command lines: manifests, `task_manifest.json`, `shard.json`, and a production's
/// completion records (`*.done.json`: the seconds taken and the hashes of the manifests) and
/// logs (`productionlog/*.log`: time stamps).
fn tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    testing::files_below(root, |name| {
        !testing::is_provenance(name) && !name.ends_with(".done.json") && !name.ends_with(".log")
    })
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
    /// One round trip of `sub`:
    /// 1. `sub FIXED OPTIONS OUT(A)` (A = `<tmp>/<name>-cli`);
    /// 2. the same with `--print-config`, saved as `<tmp>/<name>.toml`;
    /// 3. `sub FIXED --config <name>.toml OUT(B)` (B = `<tmp>/<name>-file`);
    /// 4. `sub FIXED --config <name>.toml OUT(B) --print-config` must print the same text.
    ///
    /// FIXED are the inputs (command-line arguments, not configuration keys); OUT gives the output
    /// location.
    fn run(
        tmp: &Path,
        name: &str,
        sub: &[&str],
        fixed: &[OsString],
        options: &[OsString],
        out: impl Fn(&Path) -> Vec<OsString>,
    ) -> RoundTrip {
        Self::attempt(tmp, name, sub, fixed, options, out).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`RoundTrip::run`], returning the first failure (a command that fails, or a configuration
    /// that prints differently when read back) instead of panicking.
    fn attempt(
        tmp: &Path,
        name: &str,
        sub: &[&str],
        fixed: &[OsString],
        options: &[OsString],
        out: impl Fn(&Path) -> Vec<OsString>,
    ) -> Result<RoundTrip, String> {
        let sub = os(sub);
        let cli = tmp.join(format!("{name}-cli"));
        let file = tmp.join(format!("{name}-file"));
        try_run(&cat(&[&sub, fixed, options, &out(&cli)]))?;
        let toml = try_run(&cat(&[
            &sub,
            fixed,
            options,
            &out(&cli),
            &os(&["--print-config"]),
        ]))?;
        if toml.is_empty() {
            return Err(format!("{name}: nothing printed"));
        }
        let config = tmp.join(format!("{name}.toml"));
        std::fs::write(&config, &toml).unwrap();
        let with_file = [OsString::from("--config"), config.into_os_string()];
        try_run(&cat(&[&sub, fixed, &with_file, &out(&file)]))?;
        let again = try_run(&cat(&[
            &sub,
            fixed,
            &with_file,
            &out(&file),
            &os(&["--print-config"]),
        ]))?;
        if again != toml {
            return Err(format!(
                "{name}: the configuration read back prints differently:\n{again}\ninstead of\n{toml}"
            ));
        }
        Ok(RoundTrip { toml, cli, file })
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
    fn same_outputs(&self) {
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
    }
}

fn path(p: &Path) -> OsString {
    p.as_os_str().to_owned()
}

/// `-o <root>/<file>`.
fn out_file(file: &'static str) -> impl Fn(&Path) -> Vec<OsString> {
    move |root| vec!["-o".into(), path(&root.join(file))]
}

/// `-o <root>`.
fn out_dir(root: &Path) -> Vec<OsString> {
    vec!["-o".into(), path(root)]
}

#[test]
fn instruction_makers_from_their_printed_config() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();

    // create-fake, uniform ranges, pax CSV.
    RoundTrip::run(
        d,
        "create-fake",
        &["create-fake"],
        &[],
        &os(&[
            "--events",
            "20",
            "--seed",
            "3",
            "--photons",
            "20,40",
            "--electrons",
            "5,10",
            "--correlated",
            "false",
            "--recoil-type",
            "NR",
            "--fv",
            "xenon1t_2017",
            "--compat",
            "s2-time-offset",
        ]),
        out_file("fake.csv"),
    )
    .has(&[
        "seed = 3",
        "number_event_per_job = 20",
        "photon_number_low = 20",
        "electron_number_high = 10",
        "correlated = \"false\"",
        "recoil_type = \"NR\"",
        "depth_min_cm = 9.0",
        "s2_time_offset = true",
    ])
    .same_outputs();

    // create-fake with the energy front end, Parquet.
    RoundTrip::run(
        d,
        "create-fake-energy",
        &["create-fake"],
        &[],
        &os(&[
            "--events",
            "15",
            "--seed",
            "8",
            "--energy-spectrum",
            "flat:5,20",
            "--interaction",
            "nr",
            "--field-v-per-cm",
            "200",
            "--density",
            "2.9",
        ]),
        out_file("fake.parquet"),
    )
    .has(&[
        "[energy]",
        "interaction = \"nr\"",
        "field_v_per_cm = 200.0",
        "density_g_per_cm3 = 2.9",
        "energy_min_kev = 5.0",
        "energy_max_kev = 20.0",
    ])
    .same_outputs();

    RoundTrip::run(
        d,
        "create-fake-r2-of-z",
        &["create-fake"],
        &[],
        &os(&["--events", "10", "--seed", "2", "--fv", "r2_of_z_2016"]),
        out_file("fake.csv"),
    )
    .has(&["shape = \"r2_of_z\"", "r2_offset_cm2 = 1400.0"])
    .same_outputs();

    let spectrum = d.join("spectrum.csv");
    std::fs::write(
        &spectrum,
        "energy_kev,weight\n2.0,1.0\n10.0,3.0\n30.0,0.5\n",
    )
    .unwrap();
    let listed = d.join("listed.partial.toml");
    std::fs::write(
        &listed,
        format!(
            "[energy]\ninteraction = \"beta\"\nfield_v_per_cm = 120.0\n\
             [energy.spectrum]\nshape = \"listed\"\npath = {:?}\n",
            spectrum.to_str().unwrap()
        ),
    )
    .unwrap();
    RoundTrip::run(
        d,
        "create-fake-listed-then-flat",
        &["create-fake"],
        &[],
        &[
            OsString::from("--config"),
            path(&listed),
            OsString::from("--energy-spectrum"),
            OsString::from("flat:5,20"),
        ],
        out_file("fake.csv"),
    )
    .has(&["shape = \"flat\"", "energy_max_kev = 20.0"])
    .same_outputs();
    // The listed spectrum alone (file only) does make the round trip.
    RoundTrip::run(
        d,
        "create-fake-listed",
        &["create-fake"],
        &[],
        &[
            OsString::from("--config"),
            path(&listed),
            OsString::from("--events"),
            OsString::from("12"),
        ],
        out_file("fake.parquet"),
    )
    .has(&["shape = \"listed\"", "interaction = \"beta\""])
    .same_outputs();

    // from-deposits.
    let deposits = d.join("deposits.csv");
    std::fs::write(
        &deposits,
        "event,x,y,z,t,edep_keV,interaction\n\
         0,1.0,2.0,-30.0,0.0,10.0,beta\n\
         0,1.001,2.0,-30.0,1.0,5.0,beta\n\
         1,-5.0,3.0,-60.0,0.0,25.0,nr\n\
         1,10.0,3.0,-20.0,100.0,4.0,gamma\n\
         2,0.0,0.0,-50.0,0.0,15.0,er\n",
    )
    .unwrap();
    RoundTrip::run(
        d,
        "from-deposits",
        &["from-deposits"],
        &[OsString::from("-i"), path(&deposits)],
        &os(&[
            "--seed",
            "6",
            "--field-v-per-cm",
            "300",
            "--density",
            "2.9",
            "--micro-separation-cm",
            "0.5",
            "--micro-separation-time-ns",
            "50",
        ]),
        out_file("instructions.csv"),
    )
    .has(&[
        "seed = 6",
        "field_v_per_cm = 300.0",
        "micro_separation_cm = 0.5",
        "micro_separation_time_ns = 50.0",
    ])
    .same_outputs();

    // from-minitree, with the uncorrected S2 and the drift time.
    let minitree = d.join("minitree.csv");
    std::fs::write(
        &minitree,
        "event_number,x,y,z,cs1,cs2,s2,drift_time\n\
         0,1.0,2.0,-30.0,50.0,3000.0,2500.0,200000.0\n\
         1,-5.0,3.0,-60.0,120.0,8000.0,6000.0,400000.0\n\
         2,0.5,-7.0,-10.0,20.0,1000.0,900.0,80000.0\n",
    )
    .unwrap();
    RoundTrip::run(
        d,
        "from-minitree",
        &["from-minitree"],
        &[OsString::from("-i"), path(&minitree)],
        &os(&[
            "--g1",
            "0.15",
            "--g2",
            "20",
            "--undo-dpe",
            "--undo-lifetime-us",
            "600",
        ]),
        out_file("instructions.parquet"),
    )
    .has(&[
        "g1_pe_per_photon = 0.15",
        "g2_pe_per_electron = 20.0",
        "undo_dpe = true",
        "undo_lifetime_us = 600.0",
    ])
    .same_outputs();
}

#[test]
fn simulate_process_match_plot_from_their_printed_config() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let fake = d.join("fake.csv");
    run_ok(&cat(&[
        &os(&["create-fake", "--events", "12", "--seed", "3", "-o"]),
        &[path(&fake)],
    ]));

    let sim = RoundTrip::run(
        d,
        "simulate",
        &["simulate"],
        &[OsString::from("-i"), path(&fake)],
        &os(&[
            "--seed",
            "4",
            "--compat",
            "template-delay",
            "--map-interpolation",
            "grid",
            "--threads",
            "2",
        ]),
        out_dir,
    );
    sim.has(&[
        "seed = 4",
        "template_delay = true",
        "map_interpolation = \"grid\"",
    ])
    .same_outputs();

    let process = RoundTrip::run(
        d,
        "process",
        &["process"],
        &[OsString::from("-i"), path(&sim.cli)],
        &os(&["--pax-version", "v6.8", "--threads", "2"]),
        out_dir,
    );
    process.has(&["pax_version = \"v6.8\""]).same_outputs();

    let matched = RoundTrip::run(
        d,
        "match",
        &["match"],
        &[
            OsString::from("--simulated"),
            path(&sim.cli),
            OsString::from("--processed"),
            path(&process.cli),
        ],
        &os(&["--compat"]),
        out_dir,
    );
    matched.has(&["compat = true"]).same_outputs();

    // plot has no option of its own: a partial configuration file is the "option", the printed
    // (complete) one must give the same plots.
    let partial = d.join("plot.partial.toml");
    std::fs::write(
        &partial,
        "efficiency_bins_per_decade = 3\nwidth = 640\nheight = 480\n",
    )
    .unwrap();
    let peak_match = d.join("match-peaks");
    run_ok(&cat(&[
        &os(&["match", "--simulated"]),
        &[path(&sim.cli)],
        &os(&["--processed"]),
        &[path(&process.cli)],
        &out_dir(&peak_match),
    ]));
    RoundTrip::run(
        d,
        "plot",
        &["plot"],
        &[
            OsString::from("--processed"),
            path(&process.cli),
            OsString::from("--matched"),
            path(&peak_match),
        ],
        &[OsString::from("--config"), path(&partial)],
        out_dir,
    )
    .has(&[
        "efficiency_bins_per_decade = 3",
        "width = 640",
        "height = 480",
        "drift_time_gate_ns = 1700.0",
    ])
    .same_outputs();
}

#[test]
fn plot_yields_and_plot_band_from_their_printed_config() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let partial = d.join("yields.partial.toml");
    std::fs::write(
        &partial,
        "fields_v_per_cm = [200.0, 800.0]\npoints_per_decade = 10\nenergy_max_kev = 50.0\n",
    )
    .unwrap();
    let yields = RoundTrip::run(
        d,
        "plot-yields",
        &["plot-yields"],
        &[],
        &[OsString::from("--config"), path(&partial)],
        out_dir,
    );
    yields
        .has(&[
            "points_per_decade = 10",
            "energy_max_kev = 50.0",
            "density_g_per_cm3 = 2.862",
        ])
        .same_outputs();
    assert!(yields.toml.contains("800.0"), "{}", yields.toml);

    let spectrum = d.join("spectrum.csv");
    std::fs::write(
        &spectrum,
        "energy_kev,weight\n1.0,1.0\n10.0,2.0\n20.0,0.5\n",
    )
    .unwrap();
    let listed = d.join("band.partial.toml");
    std::fs::write(
        &listed,
        format!(
            "[er_spectrum]\nshape = \"listed\"\npath = {:?}\n",
            spectrum.to_str().unwrap()
        ),
    )
    .unwrap();
    RoundTrip::run(
        d,
        "plot-band-listed",
        &["plot-band"],
        &[],
        &[
            OsString::from("--config"),
            path(&listed),
            OsString::from("--events"),
            OsString::from("40"),
        ],
        out_dir,
    )
    .has(&["shape = \"listed\"", "n_events = 40"])
    .same_outputs();

    let band = RoundTrip::run(
        d,
        "plot-band",
        &["plot-band"],
        &[],
        &os(&["--events", "40"]),
        out_dir,
    );
    band.has(&["n_events = 40", "er_interaction = \"beta\""])
        .same_outputs();
    assert!(band.cli.join("band.csv").is_file());
}

#[test]
fn production_run_from_its_printed_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let production = d.join("production.in.toml");
    std::fs::write(
        &production,
        "name = \"Rt_Test\"\nnumber_job = 2\nseed = 9\n\
         [fake]\nnumber_event_per_job = 8\nphoton_number_low = 30\n",
    )
    .unwrap();
    let run = RoundTrip::run(
        d,
        "production-run",
        &["production", "run"],
        &[],
        &[
            OsString::from("--config"),
            path(&production),
            OsString::from("--threads"),
            OsString::from("2"),
        ],
        out_dir,
    );
    run.has(&[
        "name = \"Rt_Test\"",
        "number_job = 2",
        "seed = 9",
        "number_event_per_job = 8",
        "photon_number_low = 30",
    ])
    .same_outputs();
    assert!(run.file.join("Rt_Test/Basics.parquet").is_file());
}
