"""Acceptance at every experiment for m_phi = 50, 135, 250 MeV and c tau = 1 cm, 1 m, 100 m,
with Monte Carlo errors and the ratio to the one-formula estimate eps BR exp(-L m/(p tau)).

Quantities (see each Result's ``descriptions``):
  KOTO   phi_per_kl_exit: K_L -> pi0 phi in the signal region, phi not decaying in a veto
         region, per K_L at the beam exit; formula: stable acceptance x exp(-L m/(p ctau)),
         L = 3 m, p = 1.5 GeV (geometry/koto.toml [analytic]).
  NA62   invisible_per_k_decay: pi+ selected and phi not decaying before the SAC, per K+ decay
         in the fiducial volume; formula with L = 150 m, p = 50 GeV.
  E949   invisible_per_k_decay: pi+ (from a stopped K+) in pnn1/pnn2 and phi not decaying
         inside the 1.45 m detector, per stopped K+; formula with L = 1.45 m and p the
         two-body momentum at rest.
  LHCb   prompt_b0_kstar0: phi decays within 5 mm of the B vertex, per B0 in 2<eta<5;
         formula 1 - exp(-m L/(p ctau)) with L = 5 mm, p = 40 GeV (seed slide 41).
  CHARM  decay_in_volume_kplus: phi from K+ -> pi+ phi decays in the 480-515 m box, per K+
         produced in the dump (absorption included); formula with L1 = 480 m, dL = 35 m,
         p = 10 GeV.
Usage: python validation/experiments_table.py [--n 1e6] [--seed 1]
"""

from __future__ import annotations

import argparse
import time

import kotosim

MASSES = (50.0, 135.0, 250.0)
CTAU_MM = (10.0, 1.0e3, 1.0e5)  # 1 cm, 1 m, 100 m
MAIN = {"koto": "phi_per_kl_exit", "na62": "invisible_per_k_decay",
        "e949": "invisible_per_k_decay",
        "lhcb": "prompt_b0_kstar0", "charm": "decay_in_volume_kplus"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=float, default=1e6, help="parent decays per point")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    n = int(a.n)
    print(f"{n:.0e} parent decays per (experiment, mass), seed {a.seed}; ratio = sim/formula")
    print(f"{'exp':6} {'m [MeV]':>8} {'ctau':>6}  {'acceptance':>24}  {'sim/formula':>18}")
    for exp, key in MAIN.items():
        t0 = time.perf_counter()
        for m in MASSES:
            r = kotosim.simulate(exp, mass=m, ctau=list(CTAU_MM), n_events=n, seed=a.seed,
                                 hists=False, reference=False)
            for i, ct in enumerate(CTAU_MM):
                v, e = r.acceptance[key][i], r.error[key][i]
                rr, re = r.acceptance["sim_over_analytic"][i], r.error["sim_over_analytic"][i]
                label = {10.0: "1 cm", 1e3: "1 m", 1e5: "100 m"}[ct]
                print(f"{exp:6} {m:8g} {label:>6}  {v:12.4e} ± {e:9.2e}  {rr:9.4g} ± {re:7.2g}")
        print(f"  ({exp}: {key}; {time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
