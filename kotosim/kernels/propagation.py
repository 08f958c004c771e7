"""Straight-line propagation through volumes and exact decay-in-volume probabilities.

Volumes are rows of a float64 array ``vol`` of shape (n, 8):

- cylinder (axis along z): ``[0, cx, cy, z1, z2, r, 0, 0]`` -- points with z1 <= z <= z2 and
  (x - cx)^2 + (y - cy)^2 <= r^2;
- box: ``[1, xmin, xmax, ymin, ymax, zmin, zmax, 0]``.

All lengths in mm. A ray starts at (x0, y0, z0) with unit direction (dx, dy, dz); its path
length s >= 0 is measured from the start. Each routine returns the interval (L1, L2) of s inside
the volume; an empty intersection is returned as L1 = L2 = 0 (probability exactly zero).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

CYLINDER = 0
BOX = 1
INF = math.inf


@njit(cache=True)
def _slab(o: float, d: float, lo: float, hi: float) -> tuple[float, float]:
    """Interval of s where lo <= o + s d <= hi (may be infinite or empty: a > b)."""
    if d == 0.0:
        if lo <= o <= hi:
            return -INF, INF
        return INF, -INF
    a = (lo - o) / d
    b = (hi - o) / d
    if a > b:
        a, b = b, a
    return a, b


@njit(cache=True)
def ray_cylinder(
    x0: float, y0: float, z0: float, dx: float, dy: float, dz: float,
    cx: float, cy: float, z1: float, z2: float, r: float,
) -> tuple[float, float]:
    """Path-length interval (L1, L2) of a ray inside a z-aligned solid cylinder."""
    a_lo, a_hi = _slab(z0, dz, z1, z2)
    ox = x0 - cx
    oy = y0 - cy
    a = dx * dx + dy * dy
    c = ox * ox + oy * oy - r * r
    if a == 0.0:
        if c > 0.0:
            return 0.0, 0.0
        b_lo, b_hi = -INF, INF
    else:
        b = 2.0 * (dx * ox + dy * oy)
        disc = b * b - 4.0 * a * c
        if disc < 0.0:
            return 0.0, 0.0
        sq = math.sqrt(disc)
        # numerically stable roots (Numerical Recipes 3rd ed., eq. 5.6.4)
        q = -0.5 * (b + sq) if b >= 0.0 else -0.5 * (b - sq)
        if q == 0.0:
            b_lo, b_hi = 0.0, 0.0
        else:
            r1 = q / a
            r2 = c / q
            b_lo, b_hi = (r1, r2) if r1 < r2 else (r2, r1)
    lo = max(a_lo, b_lo, 0.0)
    hi = min(a_hi, b_hi)
    if hi <= lo:
        return 0.0, 0.0
    return lo, hi


@njit(cache=True)
def ray_box(
    x0: float, y0: float, z0: float, dx: float, dy: float, dz: float,
    xmin: float, xmax: float, ymin: float, ymax: float, zmin: float, zmax: float,
) -> tuple[float, float]:
    """Path-length interval (L1, L2) of a ray inside an axis-aligned box (slab method)."""
    ax, bx = _slab(x0, dx, xmin, xmax)
    ay, by = _slab(y0, dy, ymin, ymax)
    az, bz = _slab(z0, dz, zmin, zmax)
    lo = max(ax, ay, az, 0.0)
    hi = min(bx, by, bz)
    if hi <= lo:
        return 0.0, 0.0
    return lo, hi


@njit(cache=True)
def ray_volume(
    vol: np.ndarray, i: int, x0: float, y0: float, z0: float, dx: float, dy: float, dz: float,
) -> tuple[float, float]:
    """Path-length interval of a ray through volume row ``i`` of ``vol``."""
    if vol[i, 0] == CYLINDER:
        return ray_cylinder(x0, y0, z0, dx, dy, dz,
                            vol[i, 1], vol[i, 2], vol[i, 3], vol[i, 4], vol[i, 5])
    return ray_box(x0, y0, z0, dx, dy, dz,
                   vol[i, 1], vol[i, 2], vol[i, 3], vol[i, 4], vol[i, 5], vol[i, 6])


@njit(cache=True)
def decay_probability(l1: float, l2: float, lam: float) -> float:
    """Probability that a particle with decay length ``lam`` decays between path lengths l1, l2.

    P = exp(-l1/lam) - exp(-l2/lam) = exp(-l1/lam) * (-expm1(-(l2 - l1)/lam))
    (inputs.md section 6), exact for l2 - l1 << lam. ``lam = inf`` (stable) gives 0;
    ``lam = 0`` gives 1 if l1 = 0 < l2 (decays at once) and 0 otherwise.
    """
    if not l2 > l1:
        return 0.0
    if lam == INF:
        return 0.0
    if not lam > 0.0:
        return 1.0 if l1 == 0.0 else 0.0
    if l1 == 0.0:  # exp(-0/lam) = 1 exactly: the same number without the call
        return -math.expm1(-l2 / lam)
    return math.exp(-l1 / lam) * -math.expm1(-(l2 - l1) / lam)


@njit(cache=True)
def intervals(
    vol: np.ndarray, x0: float, y0: float, z0: float, dx: float, dy: float, dz: float,
    out: np.ndarray,
) -> None:
    """Fill ``out[i] = (L1, L2)`` for every volume row i of ``vol``."""
    for i in range(vol.shape[0]):
        l1, l2 = ray_volume(vol, i, x0, y0, z0, dx, dy, dz)
        out[i, 0] = l1
        out[i, 1] = l2


@njit(cache=True)
def union_intervals(iv: np.ndarray, merged: np.ndarray) -> int:
    """Merge possibly overlapping intervals ``iv`` (n, 2) into disjoint ones, sorted.

    Writes them to ``merged`` and returns how many there are. Empty intervals are dropped.
    """
    n = 0
    for i in range(iv.shape[0]):
        if iv[i, 1] > iv[i, 0]:
            merged[n, 0] = iv[i, 0]
            merged[n, 1] = iv[i, 1]
            n += 1
    # insertion sort on L1 (n is a handful of volumes)
    for i in range(1, n):
        a, b = merged[i, 0], merged[i, 1]
        j = i - 1
        while j >= 0 and merged[j, 0] > a:
            merged[j + 1, 0] = merged[j, 0]
            merged[j + 1, 1] = merged[j, 1]
            j -= 1
        merged[j + 1, 0] = a
        merged[j + 1, 1] = b
    m = 0
    for i in range(n):
        if m > 0 and merged[i, 0] <= merged[m - 1, 1]:
            if merged[i, 1] > merged[m - 1, 1]:
                merged[m - 1, 1] = merged[i, 1]
        else:
            merged[m, 0] = merged[i, 0]
            merged[m, 1] = merged[i, 1]
            m += 1
    return m


@njit(cache=True)
def union_probability(merged: np.ndarray, m: int, lam: float) -> float:
    """Probability to decay inside the union of ``m`` disjoint intervals ``merged``."""
    p = 0.0
    for i in range(m):
        p += decay_probability(merged[i, 0], merged[i, 1], lam)
    return p


@njit(cache=True)
def survival_outside(mg: np.ndarray, m: int, lam: float) -> float:
    """Probability NOT to decay inside the ``m`` disjoint sorted intervals ``mg``, summed over
    the complement [0, a_1], [b_1, a_2], ..., [b_m, inf) so that it stays exact when it is
    tiny (1 - P would round to 0)."""
    if m == 0 or lam == math.inf:
        return 1.0
    s = decay_probability(0.0, mg[0, 0], lam)
    for r in range(m - 1):
        s += decay_probability(mg[r, 1], mg[r + 1, 0], lam)
    if lam > 0.0:
        s += math.exp(-mg[m - 1, 1] / lam)
    return min(s, 1.0)
