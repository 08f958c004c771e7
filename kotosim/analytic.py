"""The one-formula estimate the simulation replaces, and the (L, p) it would need.

Seed talk slide 36 (and inputs.md sec. 6): BR_eff = eps * BR * exp(-L m / (p c tau)) with one
decay distance L and one momentum p. Here eps is the simulated acceptance of a stable φ, so
the ratio simulation / formula isolates the treatment of the lifetime.
"""

from __future__ import annotations

import numpy as np

__all__ = ["survival", "effective_length", "effective_momentum", "compare", "decay_in",
           "compare_decay", "scan_entry"]


def survival(mass: float, ctau: np.ndarray, length: float, momentum: float) -> np.ndarray:
    """exp(-L m/(p cτ)): probability that φ (mass [MeV], momentum [MeV]) flies L [mm]."""
    ctau = np.asarray(ctau, dtype=float)
    with np.errstate(divide="ignore"):
        return np.exp(-length * mass / (momentum * ctau))


def effective_length(mass: float, ctau: np.ndarray, ratio: np.ndarray,
                     momentum: float) -> np.ndarray:
    """L [mm] for which exp(-L m/(p cτ)) equals ``ratio`` = acc(cτ)/acc(stable) at fixed p.
    NaN where undefined (ratio 0 or 1, m = 0, cτ = inf)."""
    ctau = np.asarray(ctau, dtype=float)
    ratio = np.asarray(ratio, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = -np.log(ratio) * momentum * ctau / mass
    ok = (ratio > 0) & (ratio < 1) & np.isfinite(ctau) & (mass > 0)
    return np.where(ok, out, np.nan)


def effective_momentum(mass: float, ctau: np.ndarray, ratio: np.ndarray,
                       length: float) -> np.ndarray:
    """p [MeV] for which exp(-L m/(p cτ)) equals ``ratio`` at fixed L [mm]."""
    ctau = np.asarray(ctau, dtype=float)
    ratio = np.asarray(ratio, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = -length * mass / (np.log(ratio) * ctau)
    ok = (ratio > 0) & (ratio < 1) & np.isfinite(ctau) & (mass > 0)
    return np.where(ok, out, np.nan)


def compare(mass: float, ctau: np.ndarray, acc: np.ndarray, err: np.ndarray,
            acc_stable: float, length: float, momentum: float
            ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Analytic estimate, simulation/analytic ratio and effective (L, p), as acceptance-style
    dicts (values, errors) keyed ``analytic``, ``sim_over_analytic``, ``L_eff_mm``,
    ``p_eff_MeV``. ``acc_stable`` is the simulated acceptance for a stable φ."""
    ana = acc_stable * survival(mass, ctau, length, momentum)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(ana > 0, acc / ana, np.nan)
        er = np.where(ana > 0, err / ana, np.nan)
        frac = acc / acc_stable if acc_stable > 0 else np.full_like(acc, np.nan)
    vals = {"analytic": ana, "sim_over_analytic": r,
            "L_eff_mm": effective_length(mass, ctau, frac, momentum),
            "p_eff_MeV": effective_momentum(mass, ctau, frac, length)}
    errs = {"analytic": np.zeros_like(ana), "sim_over_analytic": er,
            "L_eff_mm": np.full_like(ana, np.nan), "p_eff_MeV": np.full_like(ana, np.nan)}
    return vals, errs


# --- decay inside a region (beam dumps, LHCb prompt window) -----------------------------------
# The same one-(L, p) logic for a signal that needs phi to decay *inside* a region starting at
# distance L1 = ``start`` and ``length`` long: P = exp(-L1 m/(p cτ)) - exp(-(L1 + ΔL) m/(p cτ))
# (inputs.md sec. 6 with one L and one p). For start = 0 this is 1 - exp(-ΔL m/(p cτ)), which
# is ≈ m ΔL/(p cτ) for long lifetimes (seed slide 41, LHCb).

def decay_in(mass: float, ctau: np.ndarray, start: float, length: float,
             momentum: float) -> np.ndarray:
    """exp(-L1 m/(p cτ)) - exp(-(L1+ΔL) m/(p cτ)), written with expm1 (exact for ΔL << λ)."""
    ctau = np.asarray(ctau, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = momentum * ctau / mass if mass > 0 else np.full_like(ctau, np.inf)
        out = np.exp(-start / lam) * -np.expm1(-length / lam)
    return np.where(np.isfinite(lam), out, 0.0)


def _p_eff_decay(mass: float, ct: float, frac: float, start: float, length: float) -> float:
    """p with decay_in(p) = frac on the long-lifetime branch (p above the maximum of P(p))."""
    from scipy.optimize import brentq

    a, b = start * mass / ct, (start + length) * mass / ct

    def f(p: float) -> float:
        return float(np.exp(-a / p) * -np.expm1(-(b - a) / p)) - frac

    p_peak = (b - a) / np.log(b / a)
    if not (0 < frac < f(p_peak) + frac):
        return np.nan
    hi = p_peak
    while f(hi) > 0:
        hi *= 10.0
        if hi > 1e30:
            return np.nan
    return brentq(f, p_peak, hi, rtol=1e-10)


def compare_decay(mass: float, ctau: np.ndarray, acc: np.ndarray, err: np.ndarray,
                  eps: float, start: float, length: float, momentum: float
                  ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Like :func:`compare` for a decay-inside-a-region signal: analytic = eps × decay_in.

    ``eps`` is the simulated lifetime-independent acceptance (phi pointing into the region).
    ``L_eff_mm``: for start = 0 the region length ΔL, for start > 0 the start distance L1,
    that reproduces the simulation at the file's p; ``p_eff_MeV``: the p that does at the
    file's (L1, ΔL) -- for start > 0 on the long-lifetime branch (NaN if none exists)."""
    ctau = np.asarray(ctau, dtype=float)
    ana = eps * decay_in(mass, ctau, start, length, momentum)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(ana > 0, acc / ana, np.nan)
        er = np.where(ana > 0, err / ana, np.nan)
        frac = acc / eps if eps > 0 else np.full_like(acc, np.nan)
    l_eff = np.full_like(ctau, np.nan)
    p_eff = np.full_like(ctau, np.nan)
    for i, (ct, fr) in enumerate(zip(ctau, frac, strict=True)):
        if not (np.isfinite(ct) and mass > 0 and 0 < fr < 1):
            continue
        lam = momentum * ct / mass
        if start == 0:
            l_eff[i] = -np.log1p(-fr) * lam
            p_eff[i] = -length * mass / (ct * np.log1p(-fr))
        else:
            q = -np.expm1(-length / lam)
            if 0 < fr < q:
                l_eff[i] = -lam * np.log(fr / q)
            p_eff[i] = _p_eff_decay(mass, ct, fr, start, length)
    vals = {"analytic": ana, "sim_over_analytic": r, "L_eff_mm": l_eff, "p_eff_MeV": p_eff}
    errs = {"analytic": np.zeros_like(ana), "sim_over_analytic": er,
            "L_eff_mm": np.full_like(ana, np.nan), "p_eff_MeV": np.full_like(ana, np.nan)}
    return vals, errs


def scan_entry(acc: np.ndarray, err: np.ndarray, ana: dict[str, np.ndarray],
               ana_err: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The per-mass dict every experiment's ``scan_finish`` returns (arrays over cτ):
    ``acceptance``, ``error``, ``analytic``, ``sim_over_analytic`` and its error."""
    return {"acceptance": acc, "error": err, "analytic": ana["analytic"],
            "sim_over_analytic": ana["sim_over_analytic"],
            "sim_over_analytic_error": ana_err["sim_over_analytic"]}
