"""phi decay products and the detectors that see them, exactly integrated over the decay point.

Shared pieces for experiments that veto on what phi's daughters hit (KOTO today; the flight
kernel's :func:`~kotosim.kernels.flight.daughters_hit` checks daughters at one sampled point).

Decay products. ``chan`` rows ``[cumulative BR, daughter mass, kind]`` list the open phi decay
channels (kind ``TWO_CHARGED``: l+ l- or pi+ pi-; ``TWO_PHOTONS``: gamma gamma; ``FOUR_PHOTONS``:
pi0 pi0 -> 4 gamma). :func:`phi_products` draws one channel by its BR (cτ-independent), decays
phi isotropically in its rest frame (:func:`kinematics.decay_two_body`, boosted) and fills up
to four daughters ``[px, py, pz, E, charged]`` [MeV].

The decay point, integrated exactly. phi flies from V0 along the unit vector D; its decay
point is V0 + t D. For fixed daughter momenta a daughter's crossing point with a plane z = z_p
is linear in t:  x_p(t) = V0x + (z_p - V0z) ux/uz + t (Dx - Dz ux/uz)  (and y alike), valid while
the vertex is upstream of the plane. So "the daughter hits the sensitive area of plane p"
(rectangles and a rectangular hole) is a union of at most four t-intervals, and the set of decay
points at which the event is vetoed is a union of intervals, built here in a sorted disjoint
array. The probability not to be vetoed is then exact for every cτ of the grid,
sum over the gaps of exp(-a/lambda) - exp(-b/lambda) (:func:`propagation.survival_outside`):
the decay point is integrated analytically -- the zero-variance limit of drawing it from the
exponential truncated to each interval and weighting it with that interval's probability -- and
the only random numbers, the channel and the rest-frame directions, do not depend on cτ, so one
sample serves the whole cτ grid (DESIGN.md principle 1).

Detector rows ``det`` (float64, columns ``D_*``): an active block between the faces
``z_front`` .. ``z_back`` whose sensitive cross-section about (cx, cy) is the union of the
rectangles |x| <= ax, |y| <= ay and |x| <= bx, |y| <= by minus the hole |x| < hx, |y| < hy
(zero half-sizes switch a rectangle or the hole off). A daughter is seen if it crosses the
sensitive area of either face downstream of its origin (a track that starts in the hole and
leaves through the inner wall crosses the back face inside the block) and the block sees its
kind (``charged``/``neutral`` flags) with energy >= ``e_min``; a decay inside the block's
material is seen.

Detector volumes (the barrels and CsI: ``[[veto]]`` volumes at KOTO): a decay inside one is
vetoed unless every daughter leaves downstream through the calorimeter's beam hole, a square
tube of half-size ``hole_charged`` (charged) or ``hole_neutral`` (photons) from z_csi to
z_csi + depth; those daughters are then followed to the downstream detectors.

Units: MeV, mm.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._flags import FASTMATH
from .kinematics import decay_two_body
from .rng import next_u64, uniform

TWO_CHARGED, TWO_PHOTONS, FOUR_PHOTONS = 0, 1, 2
MAX_DAU = 4
NIV = 96  # capacity of an interval set (the union of a few dozen intervals)

# columns of a downstream-detector row
D_ZF, D_ZB, D_CX, D_CY, D_AX, D_AY, D_BX, D_BY, D_HX, D_HY, D_CH, D_NE, D_EMIN = range(13)
NDET = 13

INF = math.inf


# ---------------------------------------------------------------------------- decay products
@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _splitmix(x: np.uint64) -> tuple[np.uint64, np.uint64]:
    """SplitMix64 step (Steele, Lea, Flood, OOPSLA 2014): (next counter, output)."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    z = x
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x, z ^ (z >> np.uint64(31))


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def event_stream(chunk_seed: np.ndarray, event: int, out: np.ndarray) -> None:
    """A xoshiro256+ state for one event's decay products, from the chunk's seed state and the
    global event index only (SplitMix64, the seeding its authors recommend), so that the
    daughters of an event do not depend on which other events drew daughters."""
    x = chunk_seed[0] ^ (chunk_seed[2] + np.uint64(event) * np.uint64(0xD1B54A32D192ED03))
    for i in range(4):
        x, out[i] = _splitmix(x)
    if out[0] == 0 and out[1] == 0 and out[2] == 0 and out[3] == 0:
        out[0] = np.uint64(1)
    next_u64(out)


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def pick_channel(rs: np.ndarray, chan: np.ndarray) -> int:
    """Channel index drawn with probabilities from the cumulative BR column of ``chan``."""
    u = uniform(rs) * chan[chan.shape[0] - 1, 0]
    for c in range(chan.shape[0]):
        if u < chan[c, 0]:
            return c
    return chan.shape[0] - 1


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def phi_products(rs: np.ndarray, chan: np.ndarray, fx: float, fy: float, fz: float, fe: float,
                 m_phi: float, out: np.ndarray) -> tuple[int, int]:
    """Decay phi (lab four-momentum, mass ``m_phi``) into one channel of ``chan`` drawn by BR.

    Fills ``out[k] = (px, py, pz, E, charged)``; returns (number of daughters, channel).
    pi0 pi0: each pi0 decays at once to gamma gamma (c tau(pi0) = 25 nm)."""
    c = pick_channel(rs, chan)
    md = chan[c, 1]
    kind = int(chan[c, 2])
    d = decay_two_body(rs, fx, fy, fz, fe, m_phi, md, md)
    if kind == FOUR_PHOTONS:
        for h in range(2):
            g = decay_two_body(rs, d[4 * h], d[4 * h + 1], d[4 * h + 2], d[4 * h + 3],
                               md, 0.0, 0.0)
            for k in range(2):
                for j in range(4):
                    out[2 * h + k, j] = g[4 * k + j]
                out[2 * h + k, 4] = 0.0
        return 4, c
    for k in range(2):
        for j in range(4):
            out[k, j] = d[4 * k + j]
        out[k, 4] = 1.0 if kind == TWO_CHARGED else 0.0
    return 2, c


# ---------------------------------------------------------------------------- interval sets
@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def window(al: float, be: float, lo: float, hi: float) -> tuple[float, float]:
    """Interval of t with lo <= al + be t <= hi (empty: a >= b; may be infinite)."""
    if be == 0.0:
        if lo <= al <= hi:
            return -INF, INF
        return INF, -INF
    a = (lo - al) / be
    b = (hi - al) / be
    if a > b:
        return b, a
    return a, b


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def iv_add(s: np.ndarray, n: int, a: float, b: float) -> int:
    """Union of the sorted disjoint intervals ``s[:n]`` with [a, b], in place; returns the new
    count. Intervals are clipped to t >= 0 (phi is born at t = 0)."""
    a = max(a, 0.0)
    if not b > a:
        return n
    i = 0
    while i < n and s[i, 1] < a:
        i += 1
    j = i
    lo, hi = a, b
    while j < n and s[j, 0] <= b:
        lo = min(lo, s[j, 0])
        hi = max(hi, s[j, 1])
        j += 1
    removed = j - i
    if removed == 0:
        if n == s.shape[0]:  # full (never reached in practice): widen the neighbour instead
            k = min(i, n - 1)
            s[k, 0] = min(s[k, 0], lo)
            s[k, 1] = max(s[k, 1], hi)
            return n
        for k in range(n, i, -1):
            s[k, 0] = s[k - 1, 0]
            s[k, 1] = s[k - 1, 1]
        n += 1
    elif removed > 1:
        sh = removed - 1
        for k in range(i + 1, n - sh):
            s[k, 0] = s[k + sh, 0]
            s[k, 1] = s[k + sh, 1]
        n -= sh
    s[i, 0] = lo
    s[i, 1] = hi
    return n


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _add_clipped(s: np.ndarray, n: int, a: float, b: float, lo: float, hi: float) -> int:
    return iv_add(s, n, max(a, lo), min(b, hi))


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _rect(alx: float, bex: float, aly: float, bey: float, cx: float, cy: float, hx: float,
          hy: float) -> tuple[float, float]:
    """t-interval in which (alx + bex t, aly + bey t) is inside |x-cx| <= hx, |y-cy| <= hy."""
    a1, b1 = window(alx, bex, cx - hx, cx + hx)
    a2, b2 = window(aly, bey, cy - hy, cy + hy)
    return max(a1, a2), min(b1, b2)


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _add_sensitive(s: np.ndarray, n: int, det: np.ndarray, r: int, alx: float, bex: float,
                   aly: float, bey: float, lo: float, hi: float) -> int:
    """Add the t where (alx + bex t, aly + bey t) lies on the sensitive area of row ``r``,
    restricted to [lo, hi]: (A u B) minus the hole."""
    if not hi > lo:
        return n
    cx, cy = det[r, D_CX], det[r, D_CY]
    ha, hb = INF, -INF
    if det[r, D_HX] > 0.0 and det[r, D_HY] > 0.0:
        ha, hb = _rect(alx, bex, aly, bey, cx, cy, det[r, D_HX], det[r, D_HY])
    for q in range(2):
        hx = det[r, D_AX] if q == 0 else det[r, D_BX]
        hy = det[r, D_AY] if q == 0 else det[r, D_BY]
        if not (hx > 0.0 and hy > 0.0):
            continue
        a, b = _rect(alx, bex, aly, bey, cx, cy, hx, hy)
        a = max(a, lo)
        b = min(b, hi)
        if not b > a:
            continue
        if hb > ha and hb > a and ha < b:  # the hole cuts [a, b]
            n = iv_add(s, n, a, ha)
            n = iv_add(s, n, hb, b)
        else:
            n = iv_add(s, n, a, b)
    return n


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _upstream_of(vz: float, dz: float, z: float) -> tuple[float, float]:
    """t-interval in which the decay point vz + t dz is upstream of the plane z."""
    if dz > 0.0:
        return -INF, (z - vz) / dz
    if dz < 0.0:
        return (z - vz) / dz, INF
    return (-INF, INF) if vz < z else (INF, -INF)


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _plane_line(v: float, vz: float, d: float, dz: float, u: float, uz: float,
                z: float) -> tuple[float, float]:
    """(alpha, beta) of the daughter's coordinate on plane z: alpha + beta t."""
    r = u / uz
    return v + (z - vz) * r, d - dz * r


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def add_detector(s: np.ndarray, n: int, det: np.ndarray, r: int, vx: float, vy: float,
                 vz: float, dx: float, dy: float, dz: float, dau: np.ndarray, nd: int) -> int:
    """Add to the veto set the decay points at which detector row ``r`` sees a daughter
    (either face) or the decay happens inside its material."""
    # decay inside the block
    za, zb = window(vz, dz, det[r, D_ZF], det[r, D_ZB])
    n = _add_sensitive(s, n, det, r, vx, dx, vy, dy, max(za, 0.0), zb)
    for k in range(nd):
        uz = dau[k, 2]
        if uz <= 0.0 or dau[k, 3] < det[r, D_EMIN]:
            continue
        if (dau[k, 4] > 0.0 and det[r, D_CH] <= 0.0) or (dau[k, 4] <= 0.0 and
                                                         det[r, D_NE] <= 0.0):
            continue
        for f in range(2):
            z = det[r, D_ZF] if f == 0 else det[r, D_ZB]
            lo, hi = _upstream_of(vz, dz, z)
            alx, bex = _plane_line(vx, vz, dx, dz, dau[k, 0], uz, z)
            aly, bey = _plane_line(vy, vz, dy, dz, dau[k, 1], uz, z)
            n = _add_sensitive(s, n, det, r, alx, bex, aly, bey, max(lo, 0.0), hi)
    return n


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _hole_window(vx: float, vy: float, vz: float, dx: float, dy: float, dz: float, ux: float,
                 uy: float, uz: float, z: float, h: float) -> tuple[float, float]:
    alx, bex = _plane_line(vx, vz, dx, dz, ux, uz, z)
    aly, bey = _plane_line(vy, vz, dy, dz, uy, uz, z)
    return _rect(alx, bex, aly, bey, 0.0, 0.0, h, h)


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def iv_intersect(p: np.ndarray, n_p: int, q: np.ndarray, n_q: int, out: np.ndarray) -> int:
    """Intersection of two sorted disjoint interval sets into ``out``; returns its count."""
    i = j = m = 0
    while i < n_p and j < n_q:
        a = max(p[i, 0], q[j, 0])
        b = min(p[i, 1], q[j, 1])
        if b > a and m < out.shape[0]:
            out[m, 0] = a
            out[m, 1] = b
            m += 1
        if p[i, 1] < q[j, 1]:
            i += 1
        else:
            j += 1
    return m


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def add_volume(s: np.ndarray, n: int, d1: float, d2: float, vx: float, vy: float, vz: float,
               dx: float, dy: float, dz: float, dau: np.ndarray, nd: int, z_csi: float,
               depth: float, hole_ch: float, hole_ne: float, pa: np.ndarray, pb: np.ndarray,
               pc: np.ndarray) -> int:
    """Add the decay points in the detector volume [d1, d2] (path lengths) at which not every
    daughter leaves through the calorimeter's beam hole (scratch arrays ``pa``, ``pb``, ``pc``
    of shape (>= 3, 2))."""
    if not d2 > d1:
        return n
    zb = z_csi + depth
    # int64, not the literal 1: a literal argument makes numba compile the callee twice
    npass = np.int64(1)  # allowed set: starts as [d1, d2]
    pa[0, 0], pa[0, 1] = d1, d2
    for k in range(nd):
        ux, uy, uz = dau[k, 0], dau[k, 1], dau[k, 2]
        m = np.int64(0)
        if uz > 0.0:
            h = hole_ch if dau[k, 4] > 0.0 else hole_ne
            ba, bb = _hole_window(vx, vy, vz, dx, dy, dz, ux, uy, uz, zb, h)
            # vertex upstream of the CsI face: through the front and the back of the hole
            lo, hi = _upstream_of(vz, dz, z_csi)
            fa, fb = _hole_window(vx, vy, vz, dx, dy, dz, ux, uy, uz, z_csi, h)
            m = iv_add(pb, m, max(lo, fa, ba), min(hi, fb, bb))
            # vertex inside the CsI depth: inside the hole, and out through its back
            za, zz = window(vz, dz, z_csi, zb)
            va, vb = _rect(vx, dx, vy, dy, 0.0, 0.0, h, h)
            m = iv_add(pb, m, max(za, va, ba), min(zz, vb, bb))
            # vertex downstream of the CsI: nothing of the calorimeter in the way
            lo2, hi2 = _upstream_of(vz, dz, zb)
            if dz > 0.0:
                m = iv_add(pb, m, hi2, INF)
            elif dz < 0.0:
                m = iv_add(pb, m, 0.0, lo2)
            elif not vz < zb:
                m = iv_add(pb, m, 0.0, INF)
        npass = iv_intersect(pa, npass, pb, m, pc)
        for i in range(npass):
            pa[i, 0], pa[i, 1] = pc[i, 0], pc[i, 1]
        if npass == 0:
            break
    cur = d1
    for i in range(npass):
        if pa[i, 0] > cur:
            n = iv_add(s, n, cur, pa[i, 0])
        cur = max(cur, pa[i, 1])
    if cur < d2:
        n = iv_add(s, n, cur, d2)
    return n
