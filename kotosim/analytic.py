"""The one-formula estimate the simulation replaces, and the (L, p) it would need.

Seed talk slide 36 (and inputs.md sec. 6): BR_eff = eps * BR * exp(-L m / (p c tau)) with one
decay distance L and one momentum p. Here eps is the simulated acceptance of a stable φ, so
the ratio simulation / formula isolates the treatment of the lifetime.
"""

from __future__ import annotations

import numpy as np

__all__ = ["survival", "effective_length", "effective_momentum", "compare"]


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
