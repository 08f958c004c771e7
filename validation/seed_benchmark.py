"""The seed's benchmark point through every published result: simulation and one-formula.

    python validation/seed_benchmark.py [--events N]

Benchmark (seed talk slides 35-41, arXiv:2001.06522): m_phi = 50 MeV, eps_q = 0.01, eps_l fixed
by Delta a_mu = 27.4e-10. For every constraint: the deciding quantity R = prediction / limit
(expected events over the event limit, or predicted BR over the BR limit) from the simulation
(with its Monte Carlo error) and from the one-formula estimate exp(-L m/(p tau)) with the
geometry file's (L, p); R >= 1 is excluded. The KOTO lines also give BR(K_L -> pi0 phi; KOTO)
against the favoured band (arXiv:1909.11111: 2.1 +2.0 -1.1 e-9 at 68% CL).
"""

from __future__ import annotations

import argparse
import math

import kotosim
from kotosim.recast import quantity_label

MASS, EPS_Q = 50.0, 0.01


def _where(x: float, band: tuple[float, float, float, float]) -> str:
    lo68, hi68, lo95, hi95 = band
    return ("inside 68%" if lo68 <= x <= hi68 else "inside 95%" if lo95 <= x <= hi95
            else "outside 95%")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000,
                    help="parent decays per channel (default 1e6: one mass only)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    r = kotosim.reach("seed", [MASS], [EPS_Q], n_events=args.events, seed=args.seed)
    g = r.grid
    print(f"Seed benchmark: m_phi = {MASS:g} MeV, eps_q = {EPS_Q:g}, eps_l = {g.eps_l[0]:.4g} "
          f"((g-2)_mu), c tau = {g.ctau[0, 0]:.4g} mm")
    print(f"  BR(K_L -> pi0 phi) = {g.prod['kl'][0, 0]:.3e}, BR(K+ -> pi+ phi) = "
          f"{g.prod['kplus'][0, 0]:.3e}, BR(B0 -> K*0 phi) = {g.prod['b0'][0, 0]:.3e}, "
          f"BR(B+ -> K+ phi) = {g.prod['bplus'][0, 0]:.3e}")
    print(f"  BR(phi -> ee) = {g.decay['ee'][0, 0]:.4f}, gamma gamma "
          f"{g.decay['gammagamma'][0, 0]:.2e}; {args.events:.2g} events per channel")
    for note in r.notes:
        print(f"  note: {note}")
    print()
    print(f"{'result':<26} {'CL':>4}  {'R simulation':>20} {'verdict':>12}  "
          f"{'R one-formula':>13} {'verdict':>12}  quantity")
    for nm, c in r.constraints.items():
        v, e = r.values[(nm, "simulation")][0, 0], r.errors[(nm, "simulation")][0, 0]
        f = r.values[(nm, "one_formula")][0, 0]

        def verdict(x: float) -> str:
            return "no limit" if not math.isfinite(x) else ("EXCLUDED" if x >= 1 else "allowed")

        sv = f"{v:.3g} ± {e:.1g}" if math.isfinite(v) else "-"
        fv = f"{f:.3g}" if math.isfinite(f) else "-"
        print(f"{c.title:<26} {100 * c.cl:>3g}%  {sv:>20} {verdict(v):>12}  {fv:>13} "
              f"{verdict(f):>12}  {quantity_label(r, nm)}")
    print()
    print("KOTO: BR(K_L -> pi0 phi) x A(pi0 phi, c tau)/A(pi0 nu nubar)")
    for nm, br in r.koto_br["simulation"].items():
        brf = r.koto_br["one_formula"][nm][0, 0]
        err = r.koto_br_error[nm][0, 0]
        line = (f"  {r.constraints[nm].title:<14} simulation {br[0, 0]:.3e} ± {err:.1e}, "
                f"one-formula {brf:.3e}")
        b = r.bands.get(nm, {})
        if "published" in b:
            lo68, hi68, lo95, hi95 = b["published"]
            line += (f"; arXiv:1909.11111 band 68% [{lo68:.2g}, {hi68:.2g}], 95% "
                     f"[{lo95:.2g}, {hi95:.2g}]: simulation {_where(br[0, 0], b['published'])}, "
                     f"one-formula {_where(brf, b['published'])}")
        if "from_data" in b:
            lo68, hi68, _, hi95 = b["from_data"]
            line += (f"; from the final 2016-18 numbers (3 events, b = 1.22) 68% "
                     f"[{lo68:.2g}, {hi68:.2g}], 95% below {hi95:.2g}")
        print(line)
    # seed slide 41: P(prompt) ~ m L/(p c tau) = 50/40000 x 5/15 ~ 4e-4
    geo = kotosim.load_geometry("lhcb")
    p_seed = MASS * geo["analytic.length"] / (geo["analytic.momentum"] * g.ctau[0, 0])
    print(f"\nLHCb prompt window: seed slide 41 estimate m L/(p c tau) = {p_seed:.2e} "
          f"(L = {geo['analytic.length']:g} mm, p = {geo['analytic.momentum'] / 1e3:g} GeV, "
          f"this c tau)")
    rr = kotosim.reach("ctau", [MASS], [g.ctau[0, 0]], constraints=["lhcb_b0_kstar0_ee"],
                       n_events=args.events, seed=args.seed)
    lim = rr.constraints["lhcb_b0_kstar0_ee"].br_limit()
    ratio = lim / rr.values[("lhcb_b0_kstar0_ee", "simulation")][0, 0]
    print(f"  simulated A(c tau)/A(0) (prompt, both e in 2<eta<5) = {ratio:.2e}")
    print(f"  allowed new-physics BR(B0 -> K*0 ee) = {lim:.3g} (measured - SM + 1.645 sigma)")


if __name__ == "__main__":
    main()
