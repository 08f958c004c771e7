"""Benchmark of the full KOTO chain: the numba kernel before the speed work (frozen copy
``validation/_koto_before.py``) vs the current kernel vs the NumPy baseline, 1 and 2 threads.

Two paths are timed, before and after interleaved (repeats alternate, so a change of the
machine's load hits both): (a) the K_L -> pi0 phi chain without histograms (scans), (b) the
default ``kotosim run koto`` path (pi0 phi with Pt-Z and photon-energy histograms, the event
sample, and the K_L -> pi0 nu nubar reference; its rate counts the K_L decays of both
channels). Wall-clock and per-CPU-second (process time) rates are printed with the load
average: on a shared machine the per-CPU-second rate and the before/after ratio are the
meaningful numbers.

Measures K_L decays per second for K_L -> pi0 phi through the whole chain (beam, decay,
pi0 -> gamma gamma, CsI, smearing, cuts, reconstruction, Pt-Z box, phi decay products followed
through the CsI beam hole to the downstream detectors, veto weights on a c tau grid; no
histograms), against K_L -> pi0 nu nubar through the same chain (no phi, no decay products) in
the same run, and checks that numba and NumPy give the same acceptance per K_L at the exit
within Monte Carlo errors (independent random streams). The NumPy baseline vetoes a phi
decaying inside the detector volume and nothing else, so that comparison runs the numba chain
with the downstream detectors removed and the beam hole closed (the same veto exactly).

Usage: ``python validation/benchmark_koto.py [--n-numba 1e7] [--n-numpy 2e6] [--mass 100]
[--repeats 2]``.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

import kotosim
from kotosim.experiments import koto as X
from kotosim.experiments.koto import DOWNSTREAM
from kotosim.kernels import koto as K

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _koto_before as KB  # noqa: E402  (frozen kernel before the speed work)
import numpy_baseline as NB  # noqa: E402

KERNELS = {"before": KB, "new": K}

CTAU = [10.0, 100.0, 1e3, 1e4, 1e5, math.inf]  # mm
# the NumPy baseline's veto model: the detector volume only
BASELINE_VETO = {f"downstream.{d}.enabled": 0.0 for d in DOWNSTREAM} | {
    "csi.hole_charged_half": 0.0, "csi.hole_neutral_half": 0.0}

_COLD = """
import sys, time, math, numpy as np, kotosim
sys.path.insert(0, {vdir!r})
from kotosim.experiments import koto as X
if {before!r}:
    import _koto_before
    X.K = _koto_before
geo = kotosim.load_geometry("koto")
def run():  # the default `kotosim run koto` path: both channels, histograms, event sample
    X.simulate(geo, 100.0, [1000.0], 1000, 1, sample_size=1000)
t, c = time.perf_counter(), time.process_time()
run()
t1, c1 = time.perf_counter(), time.process_time()
run()
t2, c2 = time.perf_counter(), time.process_time()
print(t1 - t, t2 - t1, c1 - c, c2 - c1)
"""


def environment() -> None:
    """Print the machine, thread and BLAS set-up."""
    try:
        ncpu = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        ncpu = os.cpu_count()
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, numba {numba.__version__}, "
          f"kotosim {kotosim.__version__}")
    print(f"CPUs available: {ncpu}; numba threads: {numba.config.NUMBA_NUM_THREADS} "
          f"(NUMBA_NUM_THREADS={os.environ.get('NUMBA_NUM_THREADS', 'unset')})")
    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')} (may be set on this "
          "machine: it selects OpenBLAS's kernel; the NumPy chain is elementwise and uses "
          "almost no BLAS)")
    try:
        from threadpoolctl import threadpool_info

        for info in threadpool_info():
            print(f"  threadpool: {info.get('internal_api')} {info.get('version')} "
                  f"{info.get('architecture', '')} threads={info.get('num_threads')} "
                  f"({info.get('filepath')})")
    except ImportError:
        try:
            blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
            print(f"  threadpoolctl not installed; NumPy built against BLAS {blas.get('name')} "
                  f"{blas.get('version', '')} (runtime kernel not introspectable without "
                  "threadpoolctl)")
        except Exception as exc:  # pragma: no cover - very old numpy
            print(f"  threadpoolctl not installed; BLAS info unavailable ({exc})")


def cold_compile(before: bool = False) -> tuple[float, ...] | None:
    """First-call and second-call time of a tiny default-path run in a fresh interpreter with
    an empty numba cache directory: first - second is the JIT compile time of the kernel tree
    (``before``: the frozen kernel)."""
    code = _COLD.format(vdir=str(Path(__file__).resolve().parent), before=before)
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, NUMBA_CACHE_DIR=tmp)
        try:
            out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                 text=True, check=True, timeout=900)
        except (subprocess.SubprocessError, OSError) as exc:
            print(f"  cold compile measurement failed: {exc}")
            return None
    return tuple(float(x) for x in out.stdout.split())  # wall 1st, 2nd; CPU 1st, 2nd


CPU: dict[tuple[int, int], float] = {}  # (threads, channel) -> CPU seconds of the last run


@contextlib.contextmanager
def kernel(mod):
    """Run the driver (kotosim.experiments.koto) with kernel module ``mod``."""
    old = X.K
    X.K = mod
    try:
        yield
    finally:
        X.K = old


def run_numba(geo, mass: float, ctau: np.ndarray, n: int, seed: int, threads: int,
              channel: int = K.CHANNEL_PHI, mod=K):
    old = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        with kernel(mod):
            t = time.perf_counter()
            c = time.process_time()
            tot = X.run_channel(geo, channel, mass, ctau, n, seed, hists=False)
            dt = time.perf_counter() - t
            CPU[threads, channel] = time.process_time() - c
    finally:
        numba.set_num_threads(old)
    return tot, dt


def timed(path: str, mod, geo, mass: float, ctau: np.ndarray, n: int, seed: int,
          threads: int) -> tuple[float, float, object]:
    """(wall s, CPU s, result) of one run of ``path`` ("chain" or "default")."""
    old = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        with kernel(mod):
            t, c = time.perf_counter(), time.process_time()
            if path == "chain":
                out = X.run_channel(geo, K.CHANNEL_PHI, mass, ctau, n, seed, hists=False)
            else:  # `kotosim run koto`: 1 m, histograms, 10^4-event sample, reference channel
                out = X.simulate(geo, mass, [1000.0], n, seed, sample_size=10_000)
            return time.perf_counter() - t, time.process_time() - c, out
    finally:
        numba.set_num_threads(old)


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="KOTO chain benchmark: kernel before / after the "
                                 "speed work / NumPy")
    ap.add_argument("--n-numba", type=float, default=1e7, help="K_L decays per numba run")
    ap.add_argument("--n-numpy", type=float, default=2e6, help="events, NumPy")
    ap.add_argument("--mass", type=float, default=100.0, help="phi mass [MeV]")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=2, help="interleaved repeats per setting")
    ap.add_argument("--no-cold", action="store_true",
                    help="skip the cold-compile measurement (a fresh interpreter)")
    a = ap.parse_args(argv)
    n_nb, n_np = int(a.n_numba), int(a.n_numpy)
    ctau = np.array(CTAU)
    geo = kotosim.load_geometry("koto")
    environment()
    print(f"machine at start: {load()} ({os.cpu_count()} CPUs; other jobs share them)")

    print("\nCompile / load times (`kotosim run koto` path, fresh interpreter, empty cache)")
    if not a.no_cold:
        for name, before in (("before", True), ("new", False)):
            cold = cold_compile(before)
            if cold is not None:
                print(f"  {name:6s}: cold JIT compile {cold[0] - cold[1]:.2f} s wall, "
                      f"{cold[2] - cold[3]:.2f} CPU-s (first call {cold[0]:.2f} s, second "
                      f"{cold[1]:.3f} s; {load()})")
    for mod in KERNELS.values():  # warm up (compile or load from cache) every kernel
        with kernel(mod):
            X.run_channel(geo, K.CHANNEL_PHI, a.mass, ctau, 1000, a.seed, hists=False)
            X.simulate(geo, a.mass, [1000.0], 1000, a.seed, sample_size=100)
    NB.simulate(NB.CHANNEL_PHI, a.mass, ctau, 1000, a.seed)  # NumPy warm-up

    nthr = numba.get_num_threads()
    threads = sorted({1, min(2, nthr)})
    wall: dict[tuple, list[float]] = {}
    cpu: dict[tuple, list[float]] = {}
    res: dict[tuple, object] = {}
    for path in ("chain", "default"):
        per = n_nb if path == "chain" else 2 * n_nb  # K_L decays simulated per run
        for _ in range(a.repeats):
            for th in threads:
                for name, mod in KERNELS.items():
                    dt, dc, out = timed(path, mod, geo, a.mass, ctau, n_nb, a.seed, th)
                    wall.setdefault((path, name, th), []).append(per / dt)
                    cpu.setdefault((path, name, th), []).append(per / dc)
                    res[path, name, th] = out
    t = time.perf_counter()
    acc = NB.simulate(NB.CHANNEL_PHI, a.mass, ctau, n_np, a.seed + 1000)
    r_p = n_np / (time.perf_counter() - t)
    t = time.perf_counter()
    NB.simulate(NB.CHANNEL_PHI, a.mass, np.array([1000.0]), n_np // 2, a.seed + 2000)
    NB.simulate(NB.CHANNEL_PINUNU, 0.0, np.array([math.inf]), n_np // 2, a.seed + 3000)
    r_p_def = n_np / (time.perf_counter() - t)
    print(f"machine after the timed runs: {load()}")

    print(f"\nK_L decays per second, m = {a.mass:g} MeV, {n_nb:.3g} K_L per run and channel, "
          f"median of {a.repeats} interleaved repeats (wall clock | per CPU-second)")
    print(f"{'path':34s}{'thr':>4}{'before':>18}{'new':>18}{'new/before':>12}")
    labels = {"chain": f"(a) pi0 phi chain, {ctau.size} ctau, no hists",
              "default": "(b) default `run koto` (2 channels)"}
    for path in ("chain", "default"):
        for th in threads:
            wb = statistics.median(wall[path, "before", th])
            wn = statistics.median(wall[path, "new", th])
            cb = statistics.median(cpu[path, "before", th])
            cn = statistics.median(cpu[path, "new", th])
            print(f"{labels[path]:34s}{th:>4}{wb / 1e6:8.2f} | {cb / 1e6:5.2f} M"
                  f"{wn / 1e6:8.2f} | {cn / 1e6:5.2f} M{wn / wb:6.2f} | {cn / cb:4.2f}")
    print(f"{'NumPy baseline (a), 1 thread':34s}{1:>4}{r_p / 1e6:8.2f} M/s")
    print(f"{'NumPy baseline (b), no hists':34s}{1:>4}{r_p_def / 1e6:8.2f} M/s")
    top = max(threads)
    for path, goal in (("chain", 15e6), ("default", 13e6)):
        wn = statistics.median(wall[path, "new", top])
        c1 = statistics.median(cpu[path, "new", 1])
        print(f"  goal {goal / 1e6:.0f} M/s on 2 idle cores, {labels[path]}: measured "
              f"{wn / 1e6:.2f} M/s on {top} threads; estimate for 2 idle cores from the 1-thread "
              f"rate per CPU-second x 2 (perfect scaling): {2 * c1 / 1e6:.2f} M/s -> "
              f"{'met' if 2 * c1 >= goal else 'NOT met'} (estimate)")
    for path in ("chain",):
        for th in threads:
            b, nw = res[path, "before", th], res[path, "new", th]
            same_cut = np.array_equal(b["counts"], nw["counts"])
            rel = np.max(np.abs(nw["sig"] - b["sig"]) / np.maximum(np.abs(b["sig"]), 1e-300))
            print(f"  {labels[path]}, {th} thread(s): cut flow before == new: {same_cut}; "
                  f"max relative acceptance difference {rel:.1e}")
    if len(threads) > 1:
        same = all(np.array_equal(res["chain", "new", 1][k], res["chain", "new", top][k])
                   for k in ("counts", "sig", "region"))
        print(f"  new kernel, 1 and {top} threads: accumulators bit-identical: {same}")
    tot_n = res["chain", "new", top]

    print("\nAcceptance per K_L at the beam exit: numba vs NumPy (independent random streams; "
          "numba with the baseline's veto: detector volume only)")
    geo_b = kotosim.load_geometry("koto", overrides=BASELINE_VETO)
    tot_b, _ = run_numba(geo_b, a.mass, ctau, n_nb, a.seed, nthr)
    a_n, e_n, _, _ = X.acceptances(tot_b)
    a_p, e_p, _, _ = NB.acceptances(acc)
    print(f"{'ctau [mm]':>10}{'numba':>24}{'NumPy':>24}{'diff/sigma':>12}")
    pulls = []
    for i, ct in enumerate(ctau):
        s = math.hypot(e_n[i], e_p[i])
        pull = (a_p[i] - a_n[i]) / s if s > 0 else 0.0
        pulls.append(pull)
        print(f"{ct:10.3g}{a_n[i]:12.4e} +- {e_n[i]:8.2e}{a_p[i]:12.4e} +- {e_p[i]:8.2e}"
              f"{pull:12.2f}")
    print(f"  max |diff|/sigma = {max(abs(p) for p in pulls):.2f} (values at different c tau "
          "share events, so they are correlated)")
    a_f, e_f, _, _ = X.acceptances(tot_n)
    print("  with the downstream detectors and the beam hole (full chain), numba: " + ", ".join(
        f"{x:.4e}" for x in a_f))
    pd_n = tot_n["counts"][1] / tot_n["counts"][0]
    print(f"  mean K_L decay probability in range: numba {pd_n:.5f}, "
          f"NumPy {acc['sw'] / acc['n']:.5f}")


if __name__ == "__main__":
    main()
