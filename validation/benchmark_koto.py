"""Benchmark of the full KOTO chain: numba kernel (all threads, 1 thread) vs the NumPy baseline.

Measures K_L decays per second for K_L -> pi0 phi through the whole chain (beam, decay,
pi0 -> gamma gamma, CsI, smearing, cuts, reconstruction, Pt-Z box, phi decay products followed
through the CsI beam hole to the downstream detectors, veto weights on a c tau grid; no
histograms), against K_L -> pi0 nu nubar through the same chain (no phi, no decay products) in
the same run, and checks that numba and NumPy give the same acceptance per K_L at the exit
within Monte Carlo errors (independent random streams). The NumPy baseline vetoes a phi
decaying inside the detector volume and nothing else, so that comparison runs the numba chain
with the downstream detectors removed and the beam hole closed (the same veto exactly).

Timings on a shared machine are noisy: run it twice and compare.
Usage: ``python validation/benchmark_koto.py [--n-numba 2e7] [--n-numpy 4e6] [--mass 100]``.
"""

from __future__ import annotations

import argparse
import math
import os
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
import numpy_baseline as NB  # noqa: E402

CTAU = [10.0, 100.0, 1e3, 1e4, 1e5, math.inf]  # mm
# the NumPy baseline's veto model: the detector volume only
BASELINE_VETO = {f"downstream.{d}.enabled": 0.0 for d in DOWNSTREAM} | {
    "csi.hole_charged_half": 0.0, "csi.hole_neutral_half": 0.0}

_COLD = """
import time, math, numpy as np, kotosim
from kotosim.experiments import koto as X
from kotosim.experiments.koto import DOWNSTREAM
from kotosim.kernels import koto as K
geo = kotosim.load_geometry("koto")
t = time.perf_counter()
X.run_channel(geo, K.CHANNEL_PHI, 100.0, np.array([1e3, math.inf]), 1000, 1, hists=False)
t1 = time.perf_counter()
X.run_channel(geo, K.CHANNEL_PHI, 100.0, np.array([1e3, math.inf]), 1000, 1, hists=False)
t2 = time.perf_counter()
print(t1 - t, t2 - t1)
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


def cold_compile() -> tuple[float, float] | None:
    """First-call and second-call time of a tiny run in a fresh interpreter with an empty
    numba cache directory: first - second is the JIT compile time of the kernel tree."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, NUMBA_CACHE_DIR=tmp)
        try:
            out = subprocess.run([sys.executable, "-c", _COLD], env=env, capture_output=True,
                                 text=True, check=True, timeout=600)
        except (subprocess.SubprocessError, OSError) as exc:
            print(f"  cold compile measurement failed: {exc}")
            return None
    first, second = (float(x) for x in out.stdout.split())
    return first, second


CPU: dict[tuple[int, int], float] = {}  # (threads, channel) -> CPU seconds of the last run


def run_numba(geo, mass: float, ctau: np.ndarray, n: int, seed: int, threads: int,
              channel: int = K.CHANNEL_PHI):
    old = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        t = time.perf_counter()
        c = time.process_time()
        tot = X.run_channel(geo, channel, mass, ctau, n, seed, hists=False)
        dt = time.perf_counter() - t
        CPU[threads, channel] = time.process_time() - c
    finally:
        numba.set_num_threads(old)
    return tot, dt


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="numba vs NumPy KOTO chain benchmark")
    ap.add_argument("--n-numba", type=float, default=2e7, help="events, numba (each run)")
    ap.add_argument("--n-numpy", type=float, default=4e6, help="events, NumPy")
    ap.add_argument("--mass", type=float, default=100.0, help="phi mass [MeV]")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-cold", action="store_true",
                    help="skip the cold-compile measurement (a fresh interpreter)")
    a = ap.parse_args(argv)
    n_nb, n_np = int(a.n_numba), int(a.n_numpy)
    ctau = np.array(CTAU)
    geo = kotosim.load_geometry("koto")
    environment()

    print("\nCompile / load times")
    if not a.no_cold:
        cold = cold_compile()
        if cold is not None:
            print(f"  cold JIT compile (empty cache, fresh interpreter): {cold[0] - cold[1]:.2f} s "
                  f"(first call {cold[0]:.2f} s, second {cold[1]:.3f} s)")
    t = time.perf_counter()
    X.run_channel(geo, K.CHANNEL_PHI, a.mass, ctau, 1000, a.seed, hists=False)
    t_first = time.perf_counter() - t
    t = time.perf_counter()
    X.run_channel(geo, K.CHANNEL_PHI, a.mass, ctau, 1000, a.seed, hists=False)
    print(f"  warm-up in this process (numba on-disk cache load or compile): "
          f"{t_first - (time.perf_counter() - t):.2f} s  -- excluded from the rates below")
    NB.simulate(NB.CHANNEL_PHI, a.mass, ctau, 1000, a.seed)  # NumPy warm-up (imports, pages)

    nthr = numba.get_num_threads()
    print(f"\nFull chain K_L -> pi0 phi, m = {a.mass:g} MeV, {ctau.size} c tau values, "
          "no histograms (rates in K_L decays generated per second)")
    tot_n, dt_n = run_numba(geo, a.mass, ctau, n_nb, a.seed, nthr)
    _, dt_ref = run_numba(geo, 0.0, np.array([math.inf]), n_nb, a.seed, nthr, K.CHANNEL_PINUNU)
    tot_1, dt_1 = run_numba(geo, a.mass, ctau, n_nb, a.seed, 1)
    t = time.perf_counter()
    acc = NB.simulate(NB.CHANNEL_PHI, a.mass, ctau, n_np, a.seed + 1000)
    dt_p = time.perf_counter() - t
    r_n, r_1, r_p = n_nb / dt_n, n_nb / dt_1, n_np / dt_p
    print(f"  numba, {nthr} threads : {n_nb:.3g} events in {dt_n:6.2f} s -> {r_n / 1e6:6.2f} M/s")
    print(f"  same chain, K_L -> pi0 nu nubar (no phi, no decay products), {nthr} threads: "
          f"{n_nb / dt_ref / 1e6:6.2f} M/s; pi0 phi with decay products runs at "
          f"{dt_ref / dt_n:.3f} x that rate")
    print(f"  numba, 1 thread  : {n_nb:.3g} events in {dt_1:6.2f} s -> {r_1 / 1e6:6.2f} M/s")
    cpu1 = n_nb / CPU[1, K.CHANNEL_PHI]
    print(f"  per CPU-second (process time; less sensitive to other jobs on a shared machine): "
          f"{cpu1 / 1e6:.2f} M per CPU-s on 1 thread -> {nthr * cpu1 / 1e6:.2f} M/s on "
          f"{nthr} idle cores if threads scale perfectly")
    print(f"  NumPy (batches of {NB.BATCH}): {n_np:.3g} events in {dt_p:6.2f} s -> "
          f"{r_p / 1e6:6.2f} M/s")
    print(f"  speed-up numba {nthr} threads / NumPy: {r_n / r_p:5.2f}x; numba 1 thread / NumPy: "
          f"{r_1 / r_p:5.2f}x; thread scaling {r_n / r_1:4.2f}x on {nthr} threads")
    goal = 7e6
    print(f"  goal >= 7 M/s on 2 cores with decay products: {'met' if r_n >= goal else 'NOT met'} "
          f"({r_n / 1e6:.2f} M/s measured)")
    same = all(np.array_equal(tot_n[k], tot_1[k]) for k in ("counts", "sig", "region"))
    print(f"  numba {nthr}-thread and 1-thread accumulators bit-identical: {same}")

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
