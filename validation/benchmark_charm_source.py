"""Throughput of the CHARM kaon source: the BMPT rejection sampler (SRC_BMPT) against the
previous factorised (1 - x_F)^3 x exponential p_T form (SRC_TARGET), same K+ -> pi+ phi chain
(m = 200 MeV, 3 c tau values), measured in the same run. Run:
``NUMBA_NUM_THREADS=1 python validation/benchmark_charm_source.py [--events N]``.
On a shared machine the absolute rates are noisy; the ratio is what is meaningful."""

from __future__ import annotations

import argparse
import time

import numpy as np

import kotosim
from kotosim.experiments import _flight, charm
from kotosim.kernels import flight as F


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=400_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    geo = kotosim.load_geometry("charm")
    ct = np.array([1e4, 1e5, 1e7])
    bmpt = charm.kernel_config(geo, 0, 200.0, args.events, 16384, 0)
    old = bmpt._replace(source=F.SRC_TARGET, xf_power=3.0, pt_a=4.4e-3, pt_b=0.0)
    kw = dict(planes=charm.planes(geo), dau=charm.daughters(geo))
    for cfg in (bmpt, old):  # compile
        _flight.run(geo, cfg._replace(n_events=20_000), 0, ct, 1, 0, **kw)
    best = {}
    for _ in range(args.repeat):
        for lab, cfg in (("BMPT (SRC_BMPT)", bmpt), ("(1-x_F)^3 exp(-4.4 p_T) (SRC_TARGET)", old)):
            t = time.perf_counter()
            _flight.run(geo, cfg, 0, ct, 1, 0, **kw)
            best[lab] = max(best.get(lab, 0.0), args.events / (time.perf_counter() - t))
    for lab, rate in best.items():
        print(f"{lab:40s} {rate / 1e6:6.2f} M K+ decays/s (best of {args.repeat})")
    r = best["BMPT (SRC_BMPT)"] / best["(1-x_F)^3 exp(-4.4 p_T) (SRC_TARGET)"]
    print(f"ratio BMPT / previous source: {r:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
