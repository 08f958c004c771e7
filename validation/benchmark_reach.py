"""Speed of ``kotosim.reach``: the whole seed-model plane for every experiment.

    python validation/benchmark_reach.py [--no-baseline]

The plane of the issue: 56 masses (1..280 MeV) x 61 eps_q (1e-4..1e-1, log), eps_l from
(g-2)_mu, every available experiment and all three KOTO data sets, at the default statistics
(kotosim.recast.DEFAULT_EVENTS). Timed after compilation (a small plane is run first). Printed:
wall and CPU time, the load average before and after (the machine is shared: a wall time
measured under load is not the machine's speed), the time per experiment, and, as the
baseline measured in the same run, ``kotosim.scan`` of the same experiments, masses and
statistics over a fixed grid of the same number of c tau values (the simulation alone, no
recast): the ratio reach / scan is the cost of the recast itself. The median relative MC error
of the deciding quantity next to each exclusion edge is printed too (is the default statistics
enough?).
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np

import kotosim
from kotosim.recast import DEFAULT_EVENTS, EXPERIMENTS

MASSES = np.linspace(1.0, 280.0, 56)
EPS_Q = np.geomspace(1e-4, 1e-1, 61)


def _load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def _timed(fn):
    """(result, wall [s], user CPU [s]); system CPU is printed by the caller if large."""
    w, c = time.perf_counter(), os.times()
    out = fn()
    c2 = os.times()
    sys_cpu = c2.system - c.system
    if sys_cpu > 1.0:
        print(f"  (system CPU {sys_cpu:.1f} s: threads waiting on a loaded machine)")
    return out, time.perf_counter() - w, c2.user - c.user


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-baseline", action="store_true", help="skip the kotosim.scan baseline")
    args = ap.parse_args()
    exps = [e for e in EXPERIMENTS if e in kotosim.available_geometries()]
    print(f"cores: {os.cpu_count()}, experiments: {', '.join(exps)}; events per mass and "
          "channel: " + ", ".join(f"{e} {DEFAULT_EVENTS[e]:.0e}" for e in exps))
    kotosim.reach("seed", [20.0, 250.0], [1e-3, 1e-2], n_events=20_000)  # compile / load caches
    print(f"before: {_load()}")
    res, wall, cpu = _timed(lambda: kotosim.reach("seed", MASSES, EPS_Q))
    print(f"after:  {_load()}")
    print(f"\nfull seed plane {MASSES.size} x {EPS_Q.size}, all experiments: {wall:.1f} s wall, "
          f"{cpu:.1f} s user CPU (target <= 60 s wall on 2 cores; on an otherwise idle machine "
          f"the wall time is about CPU / 2 = {cpu / 2:.0f} s)")
    for note in res.notes:
        print(f"  note: {note}")
    print("\nper experiment (separate runs):")
    per = {}
    for e in exps:
        _, w, c = _timed(lambda e=e: kotosim.reach("seed", MASSES, EPS_Q, experiments=[e]))
        per[e] = w
        print(f"  {e:<6} {w:6.1f} s wall, {c:6.1f} s user CPU   ({_load()})")
    print("\nMC error next to the exclusion edges (median relative error of R where 0.5 < R < 2):")
    for nm in res.constraints:
        v, e = res.values[(nm, "simulation")], res.errors[(nm, "simulation")]
        near = np.isfinite(v) & (v > 0.5) & (v < 2)
        if near.any():
            print(f"  {res.constraints[nm].title:<26} {np.median(e[near] / v[near]):.2%} "
                  f"({near.sum()} points)")
    if args.no_baseline:
        return
    print("\nbaseline: kotosim.scan, same masses and statistics, 63 c tau values (1 mm..1e6 m):")
    ct = np.geomspace(1.0, 1e9, 63)
    tot = 0.0
    for e in exps:
        m = MASSES[MASSES < {"koto": 362.0, "na62": 354.0, "e949": 354.0}.get(e, 1e9)]
        variants = [None, "run2016"] if e == "koto" else [None]
        for v in variants:
            _, w, c = _timed(lambda e=e, v=v, m=m: kotosim.scan(
                e, m, ct, DEFAULT_EVENTS[e], variant=v))
            tot += w
            print(f"  scan {e}{'/' + v if v else ''}: {w:6.1f} s wall, {c:6.1f} s user CPU")
    print(f"  baseline total {tot:.1f} s wall; reach / baseline = {wall / tot:.2f} "
          f"(reach simulates LHCb's B+ channel too and skips masses without a limit)")
    print(f"after baseline: {_load()}")
    if not math.isfinite(wall):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
