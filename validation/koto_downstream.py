"""KOTO with phi's decay products followed to the downstream detectors.

Prints

1. the seed-point effective BR (m_phi = 50 MeV, eps_q = 0.01, eps_l from (g-2)_mu, c tau about
   1.5 cm; arXiv:2001.06522 slides 35-41): simulation / one-formula estimate
   eps BR exp(-L m/(p tau)) (L = 3 m, p = 1.5 GeV), for the 2015, 2016-18 and 2021 layouts, and
   its band when each recalled input (detector thresholds, beam-hole apertures, signal box) is
   moved over its plausible range;
2. the fraction of signal-selected events vetoed by each element (detector volume = barrels
   and CsI; CC04, CC05, CC06, BHCV, BHPV), the first element that sees a daughter;
3. the acceptance ratio A(pi0 X0, 135 MeV, stable)/A(pi0 nu nubar) for each layout against
   the ratio implied by KOTO's published limits, UL(pi0 nu nubar)/UL(pi0 X0):
   2015 3.0/2.4 = 1.25 (PRL 122 (2019) 021802, arXiv:1810.09655) and
   2021 2.2/1.6 = 1.375 (PRL 134 (2025) 081802, arXiv:2411.11237), with the rounding ranges.

Usage: ``python validation/koto_downstream.py [--n 2e6] [--seed 1]``.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import kotosim
from kotosim.koto_br import effective_br
from kotosim.model import ScalarModel, eps_l_for_delta_a_mu
from kotosim.result import ratio_error

LAYOUTS = ((None, "2015 (PRL 122 021802)"), ("run2016", "2016-18 (PRL 126 121801)"),
           ("run2021", "2021 (PRL 134 081802)"))

# recalled inputs and their plausible ranges (internal units: MeV, mm)
BANDS = (
    ("BHPV threshold e_min [MeV]", ("downstream.bhpv.e_min",), 50.0, 300.0),
    ("CC04-CC06 threshold e_min [MeV]",
     ("downstream.cc04.e_min", "downstream.cc05.e_min", "downstream.cc06.e_min"), 1.0, 50.0),
    ("CsI hole, charged half-aperture [mm]", ("csi.hole_charged_half",), 65.0, 75.0),
    ("CsI hole, photon half-aperture [mm]", ("csi.hole_neutral_half",), 72.0, 82.0),
)
# signal boxes (z_min, z_max, z_slant) to try for the later runs: the recalled one and 2015's
BOXES = (("recalled 3200-5000 mm", None), ("2015 box 3000-4700 mm",
                                           {"signal_region.z_min": 3000.0,
                                            "signal_region.z_max": 4700.0,
                                            "signal_region.z_slant": 4000.0}))
PUBLISHED = {None: (3.0 / 2.4, 2.95 / 2.45, 3.05 / 2.35),
             "run2021": (2.2 / 1.6, 2.15 / 1.65, 2.25 / 1.55)}


def seed_model() -> ScalarModel:
    return ScalarModel(50.0, 0.01, eps_l_for_delta_a_mu(50.0))


def _br(model, variant, overrides, n, seed):
    geo = kotosim.load_geometry("koto", variant, overrides)
    return effective_br(model, n_events=n, seed=seed, experiment=geo)


def seed_point(n: int, seed: int) -> None:
    model = seed_model()
    print(f"1. Seed point: m_phi = 50 MeV, eps_q = 0.01, eps_l = {model.eps_l:.4g} "
          f"((g-2)_mu), c tau = {model.ctau:.2f} mm, BR(K_L -> pi0 phi) = "
          f"{model.br_kl_pi0phi:.3e}; decay BRs {', '.join(f'{k} {v:.3g}' for k, v in model.branching_ratios.items() if v > 0)}")  # noqa: E501
    print("   BR(KOTO) = BR x A(pi0 phi, c tau)/A(pi0 nu nubar); one-formula estimate "
          "eps BR exp(-L m/(p tau)), L = 3 m, p = 1.5 GeV, eps = stable-phi ratio")
    for variant, label in LAYOUTS:
        e = _br(model, variant, None, n, seed)
        print(f"   {label:<26} simulation {e.br_sim:.3e} +- {e.br_sim_error:.1e}, "
              f"formula {e.br_analytic:.3e}, simulation/formula {e.sim_over_analytic:.3f}")
        lo, hi = e.br_sim, e.br_sim
        for name, keys, a, b in BANDS:
            vals = []
            for v in (a, b):
                x = _br(model, variant, {k: v for k in keys}, n, seed)
                vals.append(x.br_sim)
            lo, hi = min(lo, *vals), max(hi, *vals)
            print(f"      {name:<40} {a:g} .. {b:g}: BR(KOTO) {vals[0]:.3e} .. {vals[1]:.3e} "
                  f"({vals[0] / e.br_sim:.3f} .. {vals[1] / e.br_sim:.3f} x)")
        if variant is not None:
            for bname, ov in BOXES[1:]:
                x = _br(model, variant, ov, n, seed)
                lo, hi = min(lo, x.br_sim), max(hi, x.br_sim)
                print(f"      {'signal box: ' + bname:<40}       BR(KOTO) {x.br_sim:.3e} "
                      f"({x.br_sim / e.br_sim:.3f} x)")
        print(f"      band over the recalled inputs: {lo:.3e} .. {hi:.3e} "
              f"(simulation/formula {lo / e.br_analytic:.3f} .. {hi / e.br_analytic:.3f})")


def fractions(n: int, seed: int) -> None:
    model = seed_model()
    print("\n2. Fraction of signal-selected K_L -> pi0 phi events vetoed by each element "
          "(first element seeing a daughter), seed point and c tau = 10 x / 100 x longer")
    ctau = [model.ctau, 10 * model.ctau, 100 * model.ctau]
    for variant, label in LAYOUTS:
        r = kotosim.simulate("koto", variant=variant, mass=50.0, ctau=ctau, n_events=n,
                             seed=seed, reference=False, hists=False,
                             options={"model": model})
        a = r.acceptance["phi_per_kl_exit"]
        print(f"   {label}")
        print(f"      {'c tau [mm]':<12}" + "".join(f"{c:>12.4g}" for c in ctau))
        for k, v in r.region_fraction.items():
            print(f"      {k:<12}" + "".join(f"{x:12.3e}" for x in v))
        stable = kotosim.simulate("koto", variant=variant, mass=50.0, ctau=[math.inf],
                                  n_events=n, seed=seed, reference=False, hists=False)
        s = stable.acceptance["phi_per_kl_exit"][0]
        print(f"      {'not vetoed':<12}" + "".join(f"{x / s:12.3e}" for x in a))


def ratios(n: int, seed: int) -> None:
    print("\n3. A(pi0 X0, m = 135 MeV, stable)/A(pi0 nu nubar) vs the published limits' ratio")
    for variant, label in LAYOUTS:
        boxes = BOXES if variant is not None else BOXES[:1]
        for bname, ov in boxes:
            r = kotosim.simulate("koto", variant=variant, overrides=ov, mass=135.0,
                                 ctau=[math.inf], n_events=n, seed=seed, hists=False)
            a, e = r.acceptance["phi_per_kl_exit"], r.error["phi_per_kl_exit"]
            ra, re = r.acceptance["pinunu_per_kl_exit"], r.error["pinunu_per_kl_exit"]
            q = float(a[0] / ra[0])
            qe = float(ratio_error(a, e, ra, re)[0])
            box = "" if variant is None else bname
            txt = f"   {label:<26} {box:<24} kotosim {q:.3f} +- {qe:.3f}"
            if variant in PUBLISHED:
                v, lo, hi = PUBLISHED[variant]
                txt += (f"; published (implied) {v:.3f} [{lo:.2f}, {hi:.2f}]; "
                        f"kotosim/published {q / v:.3f}")
            print(txt)
    print("   (2016-18 published no pi0 X0 limit. Differences are reported, not tuned: the "
          "unmodelled shape, timing and veto cuts need not cancel between two- and "
          "three-body pi0 spectra.)")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="KOTO downstream detectors and decay products")
    ap.add_argument("--n", type=float, default=2e6, help="K_L per channel and run")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    t = time.perf_counter()
    n = int(a.n)
    seed_point(n, a.seed)
    fractions(n, a.seed)
    ratios(n, a.seed)
    print(f"\n({time.perf_counter() - t:.0f} s, {n:.3g} K_L per channel and run, "
          f"seed {a.seed}; errors are Monte Carlo errors; numpy {np.__version__})")


if __name__ == "__main__":
    main()
