#!/usr/bin/env bash
# Writes a small run of every tool's outputs into OUT for the interop check (check.py).
# Usage: produce.sh BIN_DIR OUT   (BIN_DIR holds the five CLIs, e.g. target/debug)
set -euo pipefail
bin=$(cd "$1" && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)
cd "$out"
run() { printf '+ %s\n' "$*" >&2; "$@" >/dev/null; }

# calo-calib: spectra (CSV and Parquet), the fit tables, the combined constants.
run "$bin/calo-calib" simulate -o calo/sim --cosmics --events-per-crystal 3000
run "$bin/calo-calib" simulate -o calo/sim_parquet --events-per-crystal 3000 --format parquet
run "$bin/calo-calib" fit --input calo/sim/spectra.csv -o calo/fit --first 0 --last 24
run "$bin/calo-calib" combine --source calo/fit/CalSourceEnergyCalib.txt \
    --cosmic calo/sim/CalCosmicEnergyCalib.txt -o calo/reco

# mu2e-ensemble: primary samples, a run_si ensemble with its ledger.
cfg=mu2e/cfg
mkdir -p "$cfg"
echo 20000 > "$cfg/livetime"; echo 1e-13 > "$cfg/rue"; echo 0 > "$cfg/rup"
printf '95\n83\n400\n3e4\n1300\n17\n' > "$cfg/settings"
run "$bin/mu2e-ensemble" gen-primary --primary DIOTail --type dio --njobs 2 --events 3000 \
    --filter-efficiency 0.5 --output "$cfg/samples"
run "$bin/mu2e-ensemble" gen-primary --primary CeEndpoint --type ce-minus --njobs 1 --events 100 \
    --output "$cfg/samples"
run "$bin/mu2e-ensemble" gen-primary --primary CRYCosmic --type cosmic --njobs 2 --events 20000 \
    --rate 1 --filter-efficiency 0.02 --output "$cfg/samples"
run "$bin/mu2e-ensemble" gen-primary --primary IPAMichel --type ipa-michel --njobs 2 \
    --events 2000000000 --filter-efficiency 1e-6 --output "$cfg/samples"
for s in DIOTail CeEndpoint CRYCosmic IPAMichel; do
    (cd "$cfg" && ls samples | grep "\.$s\..*\.parquet$" | sed 's#^#samples/#') > "$cfg/filenames_$s"
done
run "$bin/mu2e-ensemble" run-si "$cfg" mu2e/ensemble --stopped-mu-per-pot 7.6711407768e-4 \
    --ipa-stops-per-pot 1.3431495492077653e-8 --emit-fcl

# etroc-analysis: a beam run through the whole chain; a charge-injection scan.
run "$bin/etroc-analysis" simulate beam -o etroc/sim --events 3000
run "$bin/etroc-analysis" run-beam --file etroc/sim/F5P5_F17P5_B2P5_Synth_seed42.txt -o etroc/beam_run
run "$bin/etroc-analysis" simulate charge -o etroc/charge_sim --step 40
run "$bin/etroc-analysis" process-dir --directory etroc/charge_sim -o etroc/charge_run

# fax-sim: instructions, pulses and truth, peaks and minitrees, the truth matching.
run "$bin/fax-sim" create-fake -o fax/fake.csv --events 50 --seed 1
run "$bin/fax-sim" simulate -i fax/fake.csv -o fax/sim --seed 1
run "$bin/fax-sim" process -i fax/sim -o fax/proc
run "$bin/fax-sim" match --simulated fax/sim --processed fax/proc -o fax/match

# pixel-monitor: a small simulated period through the whole chain.
run "$bin/pixel-monitor" simulate -o pixel/sim --days 10 --small
run "$bin/pixel-monitor" run --simulated pixel/sim -o pixel/out
