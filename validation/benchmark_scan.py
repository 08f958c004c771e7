"""Benchmark of ``kotosim.scan``: a full KOTO acceptance map, the naive way, peak memory.

    python validation/benchmark_scan.py            # everything (about 1-2 minutes on 2 cores)
    python validation/benchmark_scan.py --no-dask --naive-ctau 5

1. The KOTO map of 50 masses (1..350 MeV) x 100 cτ values (1e-4..1e6 m, log) with 2e5 K_L
   decays per mass (+ 2e5 for the mass-independent K_L -> pi0 nu nubar reference), locally
   (numba threads) and on a local Dask cluster of 2 worker processes: wall time, events/s.
   Both must give the same numbers bit for bit (checked).
2. The naive way, one simulation per cτ value: timed for 3 masses x ``--naive-ctau`` of the
   100 cτ values and extrapolated to 100 cτ and to 50 masses; the naive acceptances are
   compared with the map's (same seeds and mass indices: identical kinematics).
3. Peak memory (ru_maxrss of a fresh process) of a scan of one mass x 100 cτ with 1e6 and
   with 1e7 events per mass: it must not grow with the number of events.

The timings depend on what else runs on the machine (the load average is printed): they are
indicative, not a controlled measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

import kotosim
from kotosim import maps as S  # noqa: E402

MASSES = np.linspace(1.0, 350.0, 50)         # MeV
CTAU = np.geomspace(1e-4, 1e6, 100) * 1000.0  # mm
N = 200_000
SEED = 1

MEM_SNIPPET = """
import resource, sys, numpy as np, kotosim
n = int(sys.argv[1])
r = kotosim.scan("koto", [100.0], np.geomspace(0.1, 1e9, 100), n, seed=1, reference=False)
assert r.values["acceptance"].shape == (1, 100)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def full_map(report: dict, dask: bool, repeat: int) -> S.ScanResult:
    events = N * (MASSES.size + 1)
    times = []
    res = None
    for _ in range(repeat):
        res, dt = _timed(lambda: S.scan("koto", MASSES, CTAU, N, seed=SEED))
        times.append(dt)
    best = min(times)
    report["map_local"] = {"masses": MASSES.size, "ctau": CTAU.size, "events_per_mass": N,
                           "events_total": events, "wall_s": times,
                           "events_per_s": events / best, "threads": _threads()}
    print(f"map {MASSES.size} masses x {CTAU.size} ctau, {N:.0e} K_L per mass (+ reference), "
          f"local, {_threads()} numba threads: wall " + ", ".join(f"{t:.2f}" for t in times)
          + f" s  ->  {events / best / 1e6:.2f} M events/s (best)   [{_load()}]")
    if dask:
        # the cluster start-up (worker processes, numba cache loading) is timed separately
        (cl_res, dt), t_tot = _timed(lambda: _dask_map())
        same = all(np.array_equal(res.values[k], cl_res.values[k], equal_nan=True)
                   and np.array_equal(res.errors[k], cl_res.errors[k], equal_nan=True)
                   for k in res.values)
        report["map_dask"] = {"workers": 2, "wall_s": dt, "wall_with_cluster_start_s": t_tot,
                              "events_per_s": events / dt, "identical_to_local": same}
        print(f"map on a Dask LocalCluster (2 worker processes x 1 thread): wall {dt:.2f} s "
              f"({t_tot:.2f} s with cluster start-up)  ->  {events / dt / 1e6:.2f} M events/s;"
              f" identical to the local map: {same}   [{_load()}]")
    return res


def _dask_map():
    with S.dask_client(workers=2) as client:
        client.run(lambda: kotosim.scan("koto", [50.0], [1e3], 1000, seed=1))  # warm up JIT
        return _timed(lambda: S.scan("koto", MASSES, CTAU, N, seed=SEED, scheduler=client,
                                     threads=1))


def _threads() -> int:
    import numba

    return numba.get_num_threads()


def naive(report: dict, res: S.ScanResult, n_ct: int) -> None:
    mass_idx = [10, 25, 40]
    ct_idx = np.linspace(0, CTAU.size - 1, n_ct).round().astype(int)
    t0 = time.perf_counter()
    maxdiff = 0.0
    for i in mass_idx:
        for j in ct_idx:
            r = kotosim.simulate("koto", mass=MASSES[i], ctau=[CTAU[j]], n_events=N, seed=SEED,
                                 mass_index=i, reference=False, hists=False)
            a, b = r.acceptance["phi_per_kl_exit"][0], res.values["acceptance"][i, j]
            maxdiff = max(maxdiff, abs(a - b) / b if b > 0 else abs(a))
    dt = time.perf_counter() - t0
    per_sim = dt / (len(mass_idx) * ct_idx.size)
    _, weighted = _timed(lambda: S.scan("koto", MASSES[mass_idx], CTAU, N, seed=SEED,
                                        reference=False))
    naive_3 = per_sim * len(mass_idx) * CTAU.size
    naive_full = per_sim * MASSES.size * CTAU.size
    map_wall = min(report["map_local"]["wall_s"])
    report["naive"] = {"simulations_timed": len(mass_idx) * int(ct_idx.size),
                       "seconds_per_simulation": per_sim,
                       "naive_3_masses_100_ctau_s": naive_3,
                       "weighted_3_masses_100_ctau_s": weighted,
                       "speedup_3_masses": naive_3 / weighted,
                       "naive_full_map_s_extrapolated": naive_full,
                       "speedup_full_map": naive_full / map_wall,
                       "max_rel_diff_naive_vs_map": maxdiff}
    print(f"naive (one simulation per ctau): {len(mass_idx)} masses x {ct_idx.size} ctau timed, "
          f"{per_sim:.3f} s per simulation of {N:.0e} K_L")
    print(f"  3 masses x 100 ctau: naive {naive_3:.1f} s (extrapolated) vs weighted "
          f"{weighted:.2f} s  ->  speed-up x{naive_3 / weighted:.0f}")
    print(f"  50 masses x 100 ctau: naive {naive_full:.0f} s (extrapolated) vs weighted "
          f"{map_wall:.2f} s  ->  speed-up x{naive_full / map_wall:.0f}")
    print(f"  naive acceptances vs the map's: max relative difference {maxdiff:.1e} "
          f"(0 = identical)   [{_load()}]")


def memory(report: dict) -> None:
    out = {}
    for n in (10**6, 10**7):
        r, dt = _timed(lambda n=n: subprocess.run([sys.executable, "-c", MEM_SNIPPET, str(n)],
                                                  capture_output=True, text=True, check=True))
        out[n] = (int(r.stdout.split()[-1]), dt)
    report["memory"] = {str(n): {"maxrss_MiB": kb / 1024, "wall_s": dt}
                        for n, (kb, dt) in out.items()}
    a, b = out[10**6][0] / 1024, out[10**7][0] / 1024
    print(f"peak memory (ru_maxrss, fresh process, 1 mass x 100 ctau): 1e6 events {a:.0f} MiB, "
          f"1e7 events {b:.0f} MiB (difference {b - a:+.1f} MiB); wall {out[10**6][1]:.1f} s, "
          f"{out[10**7][1]:.1f} s (with interpreter start)")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--no-dask", action="store_true", help="skip the Dask LocalCluster run")
    p.add_argument("--naive-ctau", type=int, default=10,
                   help="cτ values per mass simulated the naive way (default 10 of 100)")
    p.add_argument("--repeat", type=int, default=2, help="repetitions of the local map")
    p.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    args = p.parse_args(argv)
    print(f"kotosim {kotosim.__version__}, {os.cpu_count()} cores, {_load()}")
    print("(shared machine: timings are indicative; see the load averages)")
    _, dt = _timed(lambda: S.scan("koto", [50.0, 100.0], CTAU, 20_000, seed=9))
    print(f"warm-up (numba cache load / compile): {dt:.2f} s")
    report: dict = {"cores": os.cpu_count(), "maxrss_self_MiB": None}
    res = full_map(report, not args.no_dask, args.repeat)
    naive(report, res, args.naive_ctau)
    memory(report)
    report["maxrss_self_MiB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
