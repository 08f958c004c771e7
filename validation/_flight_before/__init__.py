"""Frozen copy of the decay-in-flight kernel and the primitives it calls, exactly as on main
at commit 83876bb (before the issue-10 speed work): ``kotosim/kernels/{_flags, rng,
kinematics, sampling, propagation, flight}.py``. The benchmark and the "results unchanged"
tests run it side by side with the current kernel. Do not edit: it is the baseline."""

from __future__ import annotations

import functools
import math
from contextlib import contextmanager

import numpy as np


@functools.lru_cache(maxsize=16)
def _bmpt_envelope(cfg, m_gev: float) -> tuple[float, float, float]:
    """(bm_env, bm_kappa, bm_zmax) of the frozen kernel's BMPT sampler, computed as
    kotosim/experiments/charm.py did before the grid-envelope sampler (to commit 97edc88):
    K exp(-kappa y*) bounds the x factor times the A scaling at p_T = 0 (the running maximum
    from the right of the x factor on a fine x_R grid); Z bounds the p_T envelope's
    integral."""
    from kotosim.experiments.charm import _x_factor

    from . import flight as FB

    p = (cfg.bm_b, cfg.bm_alpha, cfg.bm_beta, 0.0, 0.0, 0.0, cfg.bm_c0, cfg.bm_c1, cfg.bm_c2)
    emax, lna = cfg.bm_emax, cfg.bm_ln_a
    ymax = math.acosh(emax / m_gev)
    xg = np.linspace(m_gev / emax, 1.0, 200_001)[:-1]
    gsup = np.maximum.accumulate(_x_factor(xg, p)[::-1])[::-1] * 1.001
    yg = np.linspace(0.0, ymax, 2001)
    i0 = np.searchsorted(xg, m_gev * np.cosh(yg[:-1]) / emax, side="right") - 1
    g_left = gsup[np.clip(i0, 0, xg.size - 1)]
    best = (0.0, 0.0, 0.0)
    for kap in np.linspace(0.0, 4.0, 81):
        k = float(np.max(g_left * np.exp(kap * yg[1:])))
        norm = ymax if kap == 0 else -math.expm1(-kap * ymax) / kap
        eff = float(np.sum(g_left * np.diff(yg))) / (k * norm)
        if eff > best[0]:
            best = (eff, k, float(kap))
    env, kappa = best[1] * math.exp(max(lna, 0.0) * 0.74 * 0.98), best[2]
    old = FB.FlightConfig(**{k: getattr(cfg, k) for k in FB.FlightConfig._fields
                             if hasattr(cfg, k)})
    e = np.array([FB.bmpt_pt_envelope(float(y), m_gev, old) for y in yg])
    z = [FB.gamma_mix_norm(e[i, 0], e[i, 1], e[i + 1, 2]) for i in range(yg.size - 1)]
    return env, kappa, float(max(z)) * 1.000001


@contextmanager
def before_kernel():
    """Run every decay-in-flight experiment through the frozen kernel inside the block:
    :mod:`kotosim.experiments._flight` calls this package's ``run_chunks`` with the
    configuration converted to its own ``FlightConfig`` (fields it does not know are
    dropped; the frozen kernel always fills the fine c tau curve; it draws the parents from
    the event stream, so the parents' own stream, bank and BMPT-table arguments of the
    current ``run_chunks`` are dropped too; its BMPT sampler gets its own envelope constants,
    :func:`_bmpt_envelope`)."""
    from types import SimpleNamespace

    from kotosim.experiments import _flight

    from . import flight as FB

    def run_chunks(cfg, seeds, pseeds, bank, tab, *args):
        old = FB.FlightConfig(**{k: getattr(cfg, k) for k in FB.FlightConfig._fields
                                 if hasattr(cfg, k)})
        if cfg.source == FB.SRC_BMPT:
            env, kappa, zmax = _bmpt_envelope(cfg, cfg.m_parent * 1e-3)
            old = old._replace(bm_env=env, bm_kappa=kappa, bm_zmax=zmax)
        FB.run_chunks(old, seeds, *args)

    saved = _flight.F
    _flight.F = SimpleNamespace(**{k: getattr(saved, k) for k in dir(saved)
                                   if not k.startswith("__")})
    _flight.F.run_chunks = run_chunks
    try:
        yield FB
    finally:
        _flight.F = saved
