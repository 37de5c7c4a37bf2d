//! Subcommands of `mu2e-ensemble` for the process normalisations (`normalizations.py`,
//! `calculateEvents.py`): `normalizations` and `ce-rmue`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use hep_core::manifest::Manifest;
use mu2e_ensemble::constants::{BeamMode, ConstantSet, PotMethod};
use mu2e_ensemble::normalizations::{
    Inputs, Normalizations, PionStops, StopRates, Unit, ce_rate_for_signal, compute,
};
use mu2e_ensemble::tables::{SimEfficiencies, Spectrum, Tables};
use mu2e_ensemble::units::{Livetime, LivetimeKind};

/// The subcommands of this module.
#[derive(Subcommand)]
pub enum Command {
    /// Expected yield of every process of a constant set for a livetime (normalizations.py).
    ///
    /// Prints one line per sample, named as that generation's original names it: the expected
    /// number of generated events, or for the mdc2020+ cosmics the seconds of cosmic livetime;
    /// plus the protons on target. Without --tables the DIO uses the analytic Pol58 endpoint
    /// spectrum (valid for --dio-emin >= 85 MeV); mds also needs rpcspectrum.tbl and
    /// ipa_spec_eff.tbl. mdc2020 and later need the stop rates (--simeff or explicit options).
    Normalizations(Box<NormArgs>),
    /// The conversion rate giving NSIG expected CE for a livetime (get_ce_rmue).
    CeRmue(Box<CeRmueArgs>),
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned text table.
    Table,
    /// JSON object: sample name -> value, plus "pot".
    Json,
}

/// Options shared by the normalisation subcommands.
#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Constant set: mdc2018 (G0), mdc2020 (G1), mdc2024 (G2) or mds (G3, HEAD).
    #[arg(long, default_value = "mds")]
    constants: String,
    /// Livetime in seconds (meaning set by --livetime-kind; native: wall clock for
    /// mdc2018/mdc2020/mdc2024, on spill for mds).
    #[arg(long, allow_negative_numbers = true)]
    livetime: f64,
    /// How to read --livetime and --max-livetime: native, wall-clock, on-spill or years.
    #[arg(long, default_value = "native")]
    livetime_kind: String,
    /// Beam mode 1BB or 2BB (mdc2024, mds).
    #[arg(long, default_value = "1BB")]
    beam: String,
    /// How mds converts on-spill time to POT: spill (the original default) or cycle.
    #[arg(long, default_value = "spill")]
    pot_method: String,
    /// SimEfficiencies2 CSV (stage,passed,generated,efficiency) giving the stop rates.
    #[arg(long)]
    simeff: Option<PathBuf>,
    /// Stopped mu- per POT in the target (S_mu, x1000 already applied); overrides --simeff.
    #[arg(long)]
    stopped_mu_per_pot: Option<f64>,
    /// Muons stopped in the IPA per POT (S_IPA); overrides --simeff.
    #[arg(long)]
    ipa_stops_per_pot: Option<f64>,
    /// Stopped pi- per POT (S_pi, mds RPC); overrides --simeff.
    #[arg(long)]
    stopped_pi_per_pot: Option<f64>,
    /// num_pion_stops (PiTargetStops passed, mds RPC); overrides --simeff.
    #[arg(long)]
    pion_stops: Option<f64>,
    /// num_pion_filters (PiMinusFilter passed, mds RPC); overrides --simeff.
    #[arg(long)]
    pion_filters: Option<f64>,
    /// num_pion_resamples (PhysicalPionStops generated, mds RPC); overrides --simeff.
    #[arg(long)]
    pion_resamples: Option<f64>,
    /// selected_sum_of_weights (PiSelectedLifeimeWeight_sampler, mds RPC); overrides --simeff.
    #[arg(long)]
    pion_weight_sum: Option<f64>,
}

/// Arguments of `normalizations`.
#[derive(Args, Debug, Clone)]
pub struct NormArgs {
    #[command(flatten)]
    common: Common,
    /// Livetime for the cosmic samples (mdc2018 run_si used its max_livetime); default --livetime.
    #[arg(long, allow_negative_numbers = true)]
    max_livetime: Option<f64>,
    /// mu- -> e- conversion rate per capture.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    rue: f64,
    /// mu- -> e+ conversion rate per capture (mdc2018, mds).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    rup: f64,
    /// RMC closure-spectrum endpoint (MeV); default 90.1.
    #[arg(long)]
    kmax: Option<f64>,
    /// DIO lower energy cut, E >= emin (MeV); default 93 (mdc2018) or 95.
    #[arg(long)]
    dio_emin: Option<f64>,
    /// RPC lower photon-energy cut (MeV); default 84 (mdc2018) or 50.
    #[arg(long)]
    rpc_emin: Option<f64>,
    /// RMC lower photon-energy cut, low-edge rule E - 0.05 >= emin (MeV); default 84 (mdc2018,
    /// run_si's dep_emin + 1) or 85.
    #[arg(long)]
    rmc_emin: Option<f64>,
    /// IPA Michel threshold (MeV, mds); default 70.
    #[arg(long)]
    ipa_emin: Option<f64>,
    /// RPC arrival-time cut (ns); recorded only (no generation's normalisation uses it).
    #[arg(long)]
    tmin: Option<f64>,
    /// Directory with the spectrum tables (czarnecki_szafron_Al_2016.tbl,
    /// heeck_finer_binning_2016_szafron.tbl, rpcspectrum.tbl, ipa_spec_eff.tbl).
    #[arg(long)]
    tables: Option<PathBuf>,
    /// DIO spectrum file replacing the generation's standard DIO table.
    #[arg(long)]
    dio_table: Option<PathBuf>,
    /// mdc2018 RPC by the formula with this average pion survival probability (needs
    /// rpcspectrum.tbl) instead of run_si's hard-coded values.
    #[arg(long)]
    rpc_survival: Option<f64>,
    /// mdc2024: POT from the on-spill time duty * T as the published G2 code computed it
    /// (default: the SU2020 machine-cycle formula T / t_cycle * POT_per_cycle with T wall clock).
    #[arg(long)]
    g2_pot_on_spill: bool,
    /// Multiply S_IPA by 1000 like S_mu (the originals did not; quirk 2).
    #[arg(long)]
    ipa_stops_times_1000: bool,
    /// Reproduce the originals' bugs: all, or a comma-separated list of dio-livetime-squared,
    /// ipa-next-threshold, rmc-1bb, ce-poisson.
    #[arg(long, num_args = 0..=1, default_missing_value = "all", value_delimiter = ',')]
    compat: Option<Vec<String>>,
    /// Seed of the CE Poisson draw (--compat ce-poisson only).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Write to this file (with a provenance manifest beside it) instead of stdout.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Print the resolved inputs (every default filled in) as JSON and exit.
    #[arg(long)]
    print_config: bool,
}

/// Arguments of `ce-rmue`.
#[derive(Args, Debug, Clone)]
pub struct CeRmueArgs {
    #[command(flatten)]
    common: Common,
    /// Expected number of CE events wanted.
    #[arg(long, allow_negative_numbers = true)]
    nsig: f64,
}

/// Runs one subcommand.
pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::Normalizations(a) => normalizations(*a),
        Command::CeRmue(a) => ce_rmue(*a),
    }
}

/// Inputs with the common options applied, and the input files used.
fn base_inputs(c: &Common) -> Result<(Inputs, Vec<PathBuf>)> {
    let constants: ConstantSet = c.constants.parse()?;
    let kind: LivetimeKind = c.livetime_kind.parse()?;
    let livetime = Livetime::from_value(c.livetime, kind, constants)?;
    let mut inputs = Inputs::new(constants, livetime);
    inputs.beam = c.beam.parse::<BeamMode>()?;
    inputs.pot_method = c.pot_method.parse::<PotMethod>()?;
    let mut files = Vec::new();
    let mut rates = match &c.simeff {
        Some(p) => {
            let t = SimEfficiencies::read(p)?;
            files.push(p.clone());
            Some(StopRates::from_simeff(&t)?)
        }
        None => None,
    };
    if let Some(s) = c.stopped_mu_per_pot {
        let ipa = c
            .ipa_stops_per_pot
            .or(rates.map(|r| r.ipa_stops_per_pot))
            .context("--stopped-mu-per-pot needs --ipa-stops-per-pot (or --simeff)")?;
        rates = Some(StopRates {
            muon_stops_per_pot: s,
            ipa_stops_per_pot: ipa,
            pion: rates.and_then(|r| r.pion),
        });
    } else if let Some(ipa) = c.ipa_stops_per_pot {
        let mut r =
            rates.context("--ipa-stops-per-pot needs --stopped-mu-per-pot (or --simeff)")?;
        r.ipa_stops_per_pot = ipa;
        rates = Some(r);
    }
    let pion_opts = [
        c.stopped_pi_per_pot,
        c.pion_stops,
        c.pion_filters,
        c.pion_resamples,
        c.pion_weight_sum,
    ];
    if pion_opts.iter().any(Option::is_some) {
        let mut r = rates.context(
            "the pion options need the muon stop rates too (--simeff or --stopped-mu-per-pot)",
        )?;
        let base = r.pion;
        let pick = |v: Option<f64>, f: fn(&PionStops) -> f64, name: &str| -> Result<f64> {
            v.or(base.as_ref().map(f))
                .with_context(|| format!("missing --{name} (no pion rows in --simeff)"))
        };
        r.pion = Some(PionStops {
            stops_per_pot: pick(
                c.stopped_pi_per_pot,
                |p| p.stops_per_pot,
                "stopped-pi-per-pot",
            )?,
            num_pion_stops: pick(c.pion_stops, |p| p.num_pion_stops, "pion-stops")?,
            num_pion_filters: pick(c.pion_filters, |p| p.num_pion_filters, "pion-filters")?,
            num_pion_resamples: pick(c.pion_resamples, |p| p.num_pion_resamples, "pion-resamples")?,
            selected_sum_of_weights: pick(
                c.pion_weight_sum,
                |p| p.selected_sum_of_weights,
                "pion-weight-sum",
            )?,
        });
        rates = Some(r);
    }
    inputs.stop_rates = rates;
    Ok((inputs, files))
}

fn normalizations(a: NormArgs) -> Result<()> {
    let (mut inputs, mut files) = base_inputs(&a.common)?;
    let constants = inputs.constants;
    if let Some(m) = a.max_livetime {
        let kind: LivetimeKind = a.common.livetime_kind.parse()?;
        inputs.cosmic_livetime =
            Some(Livetime::from_value(m, kind, constants).context("--max-livetime")?);
    }
    inputs.rue = a.rue;
    inputs.rup = a.rup;
    let set = |v: Option<f64>, slot: &mut f64| {
        if let Some(v) = v {
            *slot = v;
        }
    };
    set(a.kmax, &mut inputs.kmax);
    set(a.dio_emin, &mut inputs.dio_emin);
    set(a.rpc_emin, &mut inputs.rpc_emin);
    set(a.rmc_emin, &mut inputs.rmc_emin);
    set(a.ipa_emin, &mut inputs.ipa_emin);
    set(a.tmin, &mut inputs.tmin);
    inputs.g0_rpc_survival = a.rpc_survival;
    inputs.ipa_stops_times_1000 = a.ipa_stops_times_1000;
    inputs.seed = a.seed;
    inputs.g2_pot_from_on_spill = a.g2_pot_on_spill;
    if let Some(list) = &a.compat {
        for q in list {
            inputs.quirks.enable(q)?;
        }
    }
    if a.print_config {
        println!("{}", serde_json::to_string_pretty(&inputs)?);
        return Ok(());
    }

    let mut tables = match &a.tables {
        Some(dir) => Tables::load(dir)?,
        None => Tables::none(),
    };
    if let Some(p) = &a.dio_table {
        let s = Spectrum::read(p)?;
        if constants == ConstantSet::Mdc2018 {
            tables.dio_czarnecki = Some(s);
        } else {
            tables.dio_heeck = Some(s);
        }
    }
    files.extend(tables.files());
    files.sort();
    files.dedup();

    let norms = compute(&inputs, &tables)?;
    for w in &norms.warnings {
        tracing::warn!("{w}");
    }
    let text = match a.format {
        Format::Json => norms.to_json_pretty(),
        Format::Table => render_table(&inputs, &norms),
    };
    match &a.output {
        None => {
            std::io::stdout().write_all(text.as_bytes())?;
        }
        Some(out) => {
            hep_core::io::atomic_write_bytes(out, text.as_bytes())
                .with_context(|| format!("writing {}", out.display()))?;
            let config = serde_json::json!({
                "inputs": inputs,
                "dio_source": norms.dio_source,
                "warnings": norms.warnings,
                "tables": a.tables,
                "format": format!("{:?}", a.format).to_lowercase(),
            });
            let mut m = Manifest::start("mu2e-ensemble normalizations", env!("CARGO_PKG_VERSION"))
                .with_configuration(&config)?;
            for f in &files {
                m.add_input(f)?;
            }
            if inputs.quirks.ce_poisson {
                m.add_seed("ce-poisson", inputs.seed);
            }
            m.add_output(out)?;
            m.finish();
            m.write_sidecar(out)?;
            eprintln!("wrote {}", out.display());
        }
    }
    Ok(())
}

fn render_table(inputs: &Inputs, n: &Normalizations) -> String {
    use std::fmt::Write as _;
    let c = inputs.constants;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# constants {} (G{}), livetime {}, beam {}, POT {:.6e}",
        c,
        c.generation(),
        inputs.livetime,
        inputs.beam,
        n.pot.0
    );
    let _ = writeln!(
        s,
        "{:<16} {:>24}  {:<22} {:>24}",
        "sample", "expected", "unit", "fraction"
    );
    for e in &n.entries {
        let unit = match e.unit {
            Unit::Events => "events",
            Unit::CosmicLivetimeSeconds => "s of cosmic livetime",
        };
        let frac = e
            .fraction
            .map(|f| format!("{f:.16e}"))
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            s,
            "{:<16} {:>24.16e}  {:<22} {:>24}",
            e.sample, e.value, unit, frac
        );
    }
    let _ = writeln!(s, "{:<16} {:>24.16e}  protons on target", "pot", n.pot.0);
    s
}

fn ce_rmue(a: CeRmueArgs) -> Result<()> {
    let (inputs, _) = base_inputs(&a.common)?;
    if !a.nsig.is_finite() || a.nsig < 0.0 {
        bail!(
            "--nsig must be a finite, non-negative number, found {}",
            a.nsig
        );
    }
    let rue = ce_rate_for_signal(&inputs, a.nsig)?;
    println!("{rue:e}");
    Ok(())
}
