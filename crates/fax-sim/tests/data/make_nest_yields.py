#!/usr/bin/env python3
"""Golden values of NEST's liquid-xenon yields for fax-sim's `yields` module (tests/yields.rs).

Made with nestpy 2.1.3 (PyPI wheel), which carries NEST v2.4.5beta-19-g6f889f9
(NESTCollaboration/nest commit 6f889f9; the wheel's NEST prints "Warning: m5 is slightly energy
dependent in the beta model", a message of that commit). CI has no Python: the outputs are
committed. Re-create them with

    python3 -m venv /tmp/nestvenv && /tmp/nestvenv/bin/pip install nestpy==2.1.3 numpy
    /tmp/nestvenv/bin/python crates/fax-sim/tests/data/make_nest_yields.py

Every call passes field, density and the mass number explicitly: nestpy's defaults (density 2.9,
drift_field 124, A = 131.293) are not our API's. The calculator uses nestpy's bare `VDetector`
(NEST's defaults: molar mass 131.293 g/mol, liquid, OldW13eV = true), which is what the yields
depend on; no detector-specific quantity enters.

Outputs (next to this script):

* nest_yields.csv: NESTcalc::GetYields (beta, gammaRay, NR, Kr83m) and
  NESTcalc::GetYieldERWeighted (er_weighted) on a grid of energies, fields and two densities;
  photon_yield and electron_yield are mean numbers of quanta of the deposit. NR uses A = 131
  (NEST truncates A to an integer; nestpy's default 131.293 gives the same 131). Kr83m passes
  A = Z = 1000, i.e. a fixed 1000 ns between the two decays.
* nest_yields_nr_variants.csv: NESTcalc::GetYields(NR) with other recoiling mass numbers and with
  a non-default NR parameter vector (`nr_parameters`, NEST's order).
* nest_density.csv: NESTcalc::GetDensity(T, P) for liquid, and NESTcalc::WorkFunction at that
  density.
* nest_quanta_moments.csv: moments of NESTcalc::GetQuanta over N_REF draws per case (seeded):
  means and standard deviations of photons and electrons and their correlation, each with the
  standard error it has for a sample of N_TEST draws, estimated as the spread of the moment over
  N_REF / N_TEST independent batches of N_TEST draws.
"""

import csv
import math
import os

import numpy as np
import nestpy

HERE = os.path.dirname(os.path.abspath(__file__))
NESTPY_VERSION = "2.1.3"
NEST_VERSION = "v2.4.5beta-19-g6f889f9"

ENERGIES_KEV = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0]
FIELDS_V_PER_CM = [50.0, 120.0, 500.0, 1000.0]
DENSITIES_G_PER_CM3 = [2.862, 2.95]
KR83M_LINES_KEV = [9.4, 32.1, 41.5]
KR83M_DELTA_T_NS = 1000.0
NR_MASS_NUMBER = 131.0

NR_CUSTOM_PARAMETERS = [12.0, 1.05, 0.05, -0.06, 10.0, 0.4, 2.5, 0.35, 1.8, 0.55, 1.1, 0.9]

N_REF = 1_000_000
N_TEST = 20_000
SEED = 20_260_721
QUANTA_CASES = [
    ("beta", 10.0, 120.0, 2.862),
    ("beta", 100.0, 1000.0, 2.862),
    ("gamma_ray", 50.0, 500.0, 2.862),
    ("nr", 10.0, 120.0, 2.862),
    ("nr", 50.0, 500.0, 2.862),
    ("nr", 2.0, 50.0, 2.95),
]

SPECIES = {
    "beta": nestpy.interactions.beta,
    "gamma_ray": nestpy.interactions.gammaRay,
    "nr": nestpy.interactions.NR,
    "kr83m": nestpy.interactions.Kr83m,
}


def yields(nc, interaction, energy, field, density):
    if interaction == "er_weighted":
        return nc.GetYieldERWeighted(energy=energy, density=density, drift_field=field)
    a = z = 54.0
    if interaction == "nr":
        a = NR_MASS_NUMBER
    if interaction == "kr83m":
        a = z = KR83M_DELTA_T_NS  # max and min time separation of the decays
    return nc.GetYields(interaction=SPECIES[interaction], energy=energy, density=density,
                        drift_field=field, A=a, Z=z)


def write_yields(nc):
    rows = []
    for density in DENSITIES_G_PER_CM3:
        for field in FIELDS_V_PER_CM:
            for interaction in ["beta", "gamma_ray", "er_weighted", "nr"]:
                for energy in ENERGIES_KEV:
                    rows.append((interaction, energy, field, density))
            for energy in KR83M_LINES_KEV:
                rows.append(("kr83m", energy, field, density))
    with open(os.path.join(HERE, "nest_yields.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["interaction", "energy_kev", "field_v_per_cm", "density_g_per_cm3",
                    "photon_yield", "electron_yield", "exciton_ratio", "lindhard"])
        for interaction, energy, field, density in rows:
            y = yields(nc, interaction, energy, field, density)
            w.writerow([interaction, energy, field, density, repr(y.PhotonYield),
                        repr(y.ElectronYield), repr(y.ExcitonRatio), repr(y.Lindhard)])


def write_nr_variants(nc):
    with open(os.path.join(HERE, "nest_yields_nr_variants.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["nr_parameters", "mass_number", "energy_kev", "field_v_per_cm",
                    "density_g_per_cm3", "photon_yield", "electron_yield", "exciton_ratio",
                    "lindhard"])
        for params, a in [("default", 129.0), ("default", 136.0), ("custom", 131.0)]:
            kw = {"nr_parameters": NR_CUSTOM_PARAMETERS} if params == "custom" else {}
            for energy in ENERGIES_KEV:
                for field in [50.0, 500.0]:
                    density = 2.862
                    y = nc.GetYields(interaction=nestpy.interactions.NR, energy=energy,
                                     density=density, drift_field=field, A=a, Z=54.0, **kw)
                    w.writerow([params, int(a), energy, field, density, repr(y.PhotonYield),
                                repr(y.ElectronYield), repr(y.ExcitonRatio), repr(y.Lindhard)])


def write_density():
    with open(os.path.join(HERE, "nest_density.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["temperature_k", "pressure_bar", "density_g_per_cm3", "w_ev", "alpha"])
        for t, p in [(165.0, 1.5), (170.0, 2.0), (173.0, 1.94), (177.0, 2.0), (180.0, 3.0),
                     (190.0, 4.0), (200.0, 6.0)]:
            rho = nestpy.NESTcalc.GetDensity(T=t, P=p, inGas=False, evtNum=0, molarMass=131.293)
            wv = nestpy.NESTcalc.WorkFunction(rho, 131.293, True)
            w.writerow([t, p, repr(rho), repr(wv.Wq_eV), repr(wv.alpha)])


def moments(ph, el):
    return [ph.mean(), el.mean(), ph.std(ddof=1), el.std(ddof=1), np.corrcoef(ph, el)[0, 1]]


def write_moments(nc):
    names = ["mean_photons", "mean_electrons", "sd_photons", "sd_electrons", "corr"]
    nestpy.RandomGen.rndm().set_seed(SEED)
    with open(os.path.join(HERE, "nest_quanta_moments.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        header = ["interaction", "energy_kev", "field_v_per_cm", "density_g_per_cm3", "n_ref",
                  "n_test"]
        for n in names:
            header += [n, n + "_se_n_test"]
        w.writerow(header)
        for interaction, energy, field, density in QUANTA_CASES:
            y = yields(nc, interaction, energy, field, density)
            ph = np.empty(N_REF)
            el = np.empty(N_REF)
            for i in range(N_REF):
                q = nc.GetQuanta(y, density)
                ph[i] = q.photons
                el[i] = q.electrons
            full = moments(ph, el)
            batches = np.array([moments(ph[k:k + N_TEST], el[k:k + N_TEST])
                                for k in range(0, N_REF, N_TEST)])
            se = batches.std(axis=0, ddof=1)
            row = [interaction, energy, field, density, N_REF, N_TEST]
            for v, s in zip(full, se):
                row += [repr(float(v)), repr(float(s))]
            w.writerow(row)
            print(interaction, energy, field, density, full, se, flush=True)


def main():
    import importlib.metadata
    have = importlib.metadata.version("nestpy")
    if have != NESTPY_VERSION:
        raise SystemExit(f"nestpy {NESTPY_VERSION} expected, found {have}")
    nc = nestpy.NESTcalc(nestpy.detectors.VDetector())
    write_yields(nc)
    write_nr_variants(nc)
    write_density()
    write_moments(nc)


if __name__ == "__main__":
    main()
