"""Random sampling kernels.

Random numbers come from :mod:`kotosim.kernels.rng` (xoshiro256+): every sampling function
takes the generator state ``rs`` of the chunk it works for (DESIGN.md principle 4), so results
do not depend on which thread runs a chunk.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._flags import FASTMATH
from .rng import gauss_pair, uniform  # noqa: F401  (gauss_pair re-exported)


@njit(cache=True, fastmath=FASTMATH)
def truncated_exponential(rs: np.ndarray, lam: float, s_max: float) -> tuple[float, float]:
    """Sample s in [0, s_max] from exp(-s/lam) truncated to that range.

    Returns ``(s, p)`` with ``p = 1 - exp(-s_max/lam)``, the probability of the untruncated
    exponential to fall in [0, s_max] (the weight that undoes the truncation). Inverse CDF:
    s = -lam * ln(1 - u p), written with log1p/expm1 so it stays exact for s_max << lam.
    """
    if not lam > 0.0:
        return 0.0, 1.0
    p = -math.expm1(-s_max / lam)
    u = uniform(rs)
    s = -lam * math.log1p(-u * p)
    if s > s_max:
        s = s_max
    return s, p


def alias_table(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker/Vose alias table (M. D. Vose, IEEE TSE 17 (1991) 972) for O(1) sampling of a
    discrete distribution proportional to ``weights``. Returns (prob, alias)."""
    w = np.asarray(weights, dtype=float)
    n = w.size
    p = w * n / w.sum()
    prob = np.ones(n)
    alias = np.arange(n)
    small = [i for i in range(n) if p[i] < 1.0]
    large = [i for i in range(n) if p[i] >= 1.0]
    while small and large:
        s, lg = small.pop(), large.pop()
        prob[s], alias[s] = p[s], lg
        p[lg] -= 1.0 - p[s]
        (small if p[lg] < 1.0 else large).append(lg)
    return prob, alias


@njit(cache=True, fastmath=FASTMATH)
def sample_envelope(
    rs: np.ndarray, edges: np.ndarray, heights: np.ndarray, prob: np.ndarray, alias: np.ndarray,
) -> tuple[float, float]:
    """Draw x from the piecewise-constant envelope with bin ``edges`` and ``heights``, whose
    bins are picked with the alias table (``prob``, ``alias``) of the bin areas.
    Returns ``(x, height_at_x)``."""
    u = uniform(rs) * prob.size
    k = min(int(u), prob.size - 1)
    if u - k >= prob[k]:
        k = alias[k]
    x = edges[k] + (edges[k + 1] - edges[k]) * uniform(rs)
    return x, heights[k]
