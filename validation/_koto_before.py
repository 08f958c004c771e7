"""FROZEN COPY of the KOTO kernel before the issue-10 speed work (branch point 7a1d202):
kotosim/kernels/daughters.py followed by kotosim/kernels/koto.py, unchanged except that the two
files are joined into one module and imports are absolute. Used only by
validation/benchmark_koto.py and tests/test_koto_speed_invariance.py to compare the new kernel
with the old one in the same run (speed and random stream). Do not edit.
"""


from __future__ import annotations

import math
from typing import NamedTuple

import _frozen_cache  # (not frozen code) validation/_frozen_cache.py
import numpy as np
from numba import njit, prange

from kotosim.kernels._flags import FASTMATH
from kotosim.kernels.kinematics import boost_to_lab, decay_two_body, isotropic_direction
from kotosim.kernels.propagation import intervals, survival_outside
from kotosim.kernels.rng import gauss_pair, next_u64, uniform
from kotosim.kernels.sampling import sample_envelope, truncated_exponential

# (not part of the frozen code) drop this module's numba cache if the live kernels it inlines
# changed since it was written
_frozen_cache.clear(__file__)

TWO_CHARGED, TWO_PHOTONS, FOUR_PHOTONS = 0, 1, 2
MAX_DAU = 4
NIV = 96
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
    npass = 1  # allowed set: starts as [d1, d2]
    pa[0, 0], pa[0, 1] = d1, d2
    for k in range(nd):
        ux, uy, uz = dau[k, 0], dau[k, 1], dau[k, 2]
        m = 0
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


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def veto_probability(s: np.ndarray, n: int, lam: float) -> float:
    """Probability that phi (decay length ``lam``) decays inside the veto set ``s[:n]``."""
    return 1.0 - survival_outside(s, n, lam)


CHANNEL_PHI = 0      # K_L -> pi0 phi (two-body)
CHANNEL_PINUNU = 1   # K_L -> pi0 nu nubar (three-body, vector form factor)

# cut-flow stages (index into the counts array after N_GEN, SUM_W, SUM_W2)
STAGES = ("generated", "photons on CsI", "energy cuts", "position cuts", "vertex found",
          "shape cuts", "signal region")
N_HEAD = 3  # counts[0] = events, counts[1] = sum P_dec, counts[2] = sum P_dec^2

# columns of the event-sample record
REC_FIELDS = (
    "p_kl", "vtx_x", "vtx_y", "vtx_z",
    "x_px", "x_py", "x_pz", "x_e",
    "pi0_px", "pi0_py", "pi0_pz", "pi0_e",
    "g1_px", "g1_py", "g1_pz", "g1_e", "g2_px", "g2_py", "g2_pz", "g2_e",
    "g1_x", "g1_y", "g2_x", "g2_y",
    "g1_e_reco", "g1_x_reco", "g1_y_reco", "g2_e_reco", "g2_x_reco", "g2_y_reco",
    "z_reco", "pt_reco", "w_kl", "stage", "x_l1", "x_l2",
    "channel", "n_dau", "x_vtx_x", "x_vtx_y", "x_vtx_z",
) + tuple(f"x_d{k + 1}_{c}" for k in range(MAX_DAU) for c in ("px", "py", "pz", "e", "charged"))
NREC = len(REC_FIELDS)


class KotoConfig(NamedTuple):
    """Scalar configuration of the KOTO kernel (internal units)."""

    channel: int
    m_k: float
    ctau_k: float
    m_pi0: float
    m_x: float
    m_pi_ff: float
    ff_slope: float
    target_z: float
    exit_z: float
    tx_lo: float
    tx_hi: float
    tx_slo: float
    tx_shi: float
    ty_sigma: float
    ty_max: float
    col_dist: float
    col_hx: float
    col_hy: float
    z_gen_max: float
    mu: float
    sigma0: float
    a: float
    b: float
    z_csi: float
    r_csi: float
    hole_half: float
    res_const: float
    res_stoch: float
    res_pos: float
    smear: bool
    e_min: float
    e_max: float
    esum_min: float
    r_max: float
    sq_min: float
    dist_min: float
    eratio_min: float
    etheta_min: float
    azimuth_max: float
    coe_min: float
    sr_zmin: float
    sr_zmax: float
    sr_ptmin: float
    sr_ptmax: float
    sr_zslant: float
    sr_ptmin_zmax: float
    nz: int
    zlo: float
    zhi: float
    npt: int
    ptlo: float
    pthi: float
    ne: int
    elo: float
    ehi: float
    chunk_size: int
    n_events: int
    record_cap: int
    csi_depth: float = 500.0
    hole_charged: float = 75.0
    hole_neutral: float = 75.0


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def spectrum_density(p: float, mu: float, sigma0: float, a: float, b: float) -> float:
    """Unnormalised K_L momentum density at the beam exit ("Sato" asymmetric Gaussian).

    f(p) = exp(-(p - mu)^2 / (2 sigma(p)^2)), sigma(p) = sigma0 (1 - (a + b p)(p - mu))
    [KOTO-MC, inputs.md sec. 2]; p, mu, sigma0 in MeV, a in 1/MeV, b in 1/MeV^2.
    """
    s = sigma0 * (1.0 - (a + b * p) * (p - mu))
    if s <= 0.0:
        return 0.0
    t = (p - mu) / s
    return math.exp(-0.5 * t * t)


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def sample_kl_momentum(rs: np.ndarray, cfg: KotoConfig, edges: np.ndarray, heights: np.ndarray,
                       prob: np.ndarray, alias: np.ndarray) -> float:
    """Exact draw from :func:`spectrum_density` by rejection under a piecewise-constant
    envelope whose heights bound f on each bin (checked when the envelope is built)."""
    while True:
        p, h = sample_envelope(rs, edges, heights, prob, alias)
        if uniform(rs) * h <= spectrum_density(p, cfg.mu, cfg.sigma0, cfg.a, cfg.b):
            return p


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def form_factor_weight(e_pi: float, m_k: float, m_pi: float, m_pi_ff: float,
                       slope: float) -> float:
    """dGamma/dE_pi for K -> pi nu nubar up to a constant: p_pi^3 |f+(q^2)|^2,
    f+ = 1 + slope q^2 / m_pi+^2, q^2 = m_K^2 + m_pi^2 - 2 m_K E_pi (inputs.md sec. 2)."""
    p2 = e_pi * e_pi - m_pi * m_pi
    if p2 <= 0.0:
        return 0.0
    q2 = m_k * m_k + m_pi * m_pi - 2.0 * m_k * e_pi
    fp = 1.0 + slope * q2 / (m_pi_ff * m_pi_ff)
    return p2 * math.sqrt(p2) * fp * fp


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def sample_pinunu_energy(rs: np.ndarray, m_k: float, m_pi: float, m_pi_ff: float,
                         slope: float) -> float:
    """Pion energy in the K rest frame for K -> pi nu nubar, by rejection (exact)."""
    e_max = (m_k * m_k + m_pi * m_pi) / (2.0 * m_k)
    p_max = math.sqrt(e_max * e_max - m_pi * m_pi)
    # bound: p^3 <= p_max^3 and f+ is largest at q^2_max = (m_K - m_pi)^2
    q2max = (m_k - m_pi) ** 2
    fmax = 1.0 + slope * max(q2max, 0.0) / (m_pi_ff * m_pi_ff)
    bound = p_max ** 3 * fmax * fmax
    while True:
        e = m_pi + (e_max - m_pi) * uniform(rs)
        if uniform(rs) * bound <= form_factor_weight(e, m_k, m_pi, m_pi_ff, slope):
            return e


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def reconstruct_pi0(e1: float, x1: float, y1: float, e2: float, x2: float, y2: float,
                    z_csi: float, m_pi0: float) -> tuple[bool, float, float]:
    """KOTO pi0 reconstruction assuming the pi0 decayed on the beam axis at (0, 0, Z).

    With d = z_csi - Z, R_i = x_i^2 + y_i^2, ip = x1 x2 + y1 y2 and c = 1 - m^2/(2 E1 E2)
    (the cosine of the opening angle), u = d^2 solves A u^2 + B u + C = 0 with
    A = 1 - c^2, B = 2 ip - (R1 + R2) c^2, C = ip^2 - R1 R2 c^2; the root must satisfy
    sign(ip + u) = sign(c). Then p_i = E_i (x_i, y_i, d)/sqrt(R_i + d^2) and Pt = |p1T + p2T|.
    [inputs.md sec. 2; KOTO PRL 122 021802]. Where both roots are consistent the one farther
    from the calorimeter (larger d) is kept. Returns (ok, Z, Pt).
    """
    c = 1.0 - m_pi0 * m_pi0 / (2.0 * e1 * e2)
    r1 = x1 * x1 + y1 * y1
    r2 = x2 * x2 + y2 * y2
    ip = x1 * x2 + y1 * y2
    c2 = c * c
    qa = 1.0 - c2
    qb = 2.0 * ip - (r1 + r2) * c2
    qc = ip * ip - r1 * r2 * c2
    if qa <= 0.0:
        return False, 0.0, 0.0
    disc = qb * qb - 4.0 * qa * qc
    if disc < 0.0:
        return False, 0.0, 0.0
    sq = math.sqrt(disc)
    best = -1.0
    for k in range(2):
        uu = (-qb + sq) / (2.0 * qa) if k == 0 else (-qb - sq) / (2.0 * qa)
        if uu > 0.0 and (ip + uu) * c >= 0.0 and uu > best:
            best = uu
    if best <= 0.0:
        return False, 0.0, 0.0
    d = math.sqrt(best)
    n1 = e1 / math.sqrt(r1 + best)
    n2 = e2 / math.sqrt(r2 + best)
    px = n1 * x1 + n2 * x2
    py = n1 * y1 + n2 * y2
    return True, z_csi - d, math.sqrt(px * px + py * py)


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def sample_beam(rs: np.ndarray, cfg: KotoConfig) -> tuple[float, float, float, float]:
    """K_L origin (x, y) on the target and slopes (tx, ty) of its direction.

    x: flat on [tx_lo, tx_hi] with half-Gaussian tails of widths tx_slo / tx_shi outside;
    y: Gaussian (ty_sigma) truncated at +-ty_max; direction towards a uniform point of the
    collimator rectangle (+-col_hx, +-col_hy) at col_dist downstream [KOTO-MC
    GsimE14Spectrum.cc, getSquareProfile201504].
    """
    c = math.sqrt(0.5 * math.pi)  # a half-Gaussian of sigma s has area s*sqrt(pi/2)
    flat = cfg.tx_hi - cfg.tx_lo
    tot = flat + c * (cfg.tx_slo + cfg.tx_shi)
    n1, n2 = gauss_pair(rs)
    x0 = 0.0
    if tot > 0.0:
        r = uniform(rs) * tot
        if r < flat:
            x0 = cfg.tx_lo + r
        elif r < flat + c * cfg.tx_slo:
            x0 = cfg.tx_lo - abs(cfg.tx_slo * n2)
        else:
            x0 = cfg.tx_hi + abs(cfg.tx_shi * n2)
    y0 = 0.0
    if cfg.ty_sigma > 0.0:
        y0 = cfg.ty_sigma * n1
        while abs(y0) > cfg.ty_max:
            y0 = cfg.ty_sigma * gauss_pair(rs)[0]
    cx = cfg.col_hx * (2.0 * uniform(rs) - 1.0)
    cy = cfg.col_hy * (2.0 * uniform(rs) - 1.0)
    return x0, y0, (cx - x0) / cfg.col_dist, (cy - y0) / cfg.col_dist


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def in_signal_region(cfg: KotoConfig, z: float, pt: float) -> bool:
    """Pt-Z signal box; above ``sr_zslant`` the lower Pt edge rises linearly to
    ``sr_ptmin_zmax`` at ``sr_zmax`` (geometry-file parameters)."""
    if not (cfg.sr_zmin < z < cfg.sr_zmax and pt < cfg.sr_ptmax):
        return False
    lo = cfg.sr_ptmin
    if z > cfg.sr_zslant:
        lo += (cfg.sr_ptmin_zmax - cfg.sr_ptmin) * (z - cfg.sr_zslant) / (
            cfg.sr_zmax - cfg.sr_zslant)
    return pt > lo


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def smear_photon(rs: np.ndarray, cfg: KotoConfig, e: float, x: float,
                 y: float) -> tuple[float, float, float]:
    """CsI response: sigma_E/E = const (+) stoch/sqrt(E/GeV), sigma_xy = pos/sqrt(E/GeV)
    [KOTO-MC, inputs.md sec. 2]. Energies in MeV."""
    if not cfg.smear:
        return e, x, y
    eg = e * 1e-3
    rel = math.sqrt(cfg.res_const ** 2 + cfg.res_stoch ** 2 / eg)
    sp = cfg.res_pos / math.sqrt(eg)
    nx, ny = gauss_pair(rs)
    ne = gauss_pair(rs)[0]  # the pair's second number is dropped (keeps the stream simple)
    return e * (1.0 + rel * ne), x + sp * nx, y + sp * ny


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def photon_cuts(cfg: KotoConfig, e1: float, x1: float, y1: float,
                e2: float, x2: float, y2: float) -> int:
    """Energy and position cuts on the two clusters; returns the number of stages passed
    (0: energy cuts failed, 1: position cuts failed, 2: passed)."""
    for e in (e1, e2):
        if not (cfg.e_min < e < cfg.e_max):
            return 0
    if e1 + e2 <= cfg.esum_min:
        return 0
    if min(e1, e2) / max(e1, e2) <= cfg.eratio_min:
        return 0
    for x, y in ((x1, y1), (x2, y2)):
        if x * x + y * y >= cfg.r_max * cfg.r_max:
            return 1
        if max(abs(x), abs(y)) <= cfg.sq_min:
            return 1
    if (x1 - x2) ** 2 + (y1 - y2) ** 2 <= cfg.dist_min ** 2:
        return 1
    return 2


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def shape_cuts(cfg: KotoConfig, e1: float, x1: float, y1: float,
               e2: float, x2: float, y2: float, z: float) -> bool:
    """Cuts using the reconstructed vertex: E*theta per photon, azimuthal opening angle,
    centre-of-energy radius [inputs.md sec. 2]."""
    d = cfg.z_csi - z
    if d <= 0.0:
        return False
    for e, x, y in ((e1, x1, y1), (e2, x2, y2)):
        if e * math.atan2(math.sqrt(x * x + y * y), d) <= cfg.etheta_min:
            return False
    dphi = abs(math.atan2(y1, x1) - math.atan2(y2, x2))
    if dphi > math.pi:
        dphi = 2.0 * math.pi - dphi
    if dphi >= cfg.azimuth_max:
        return False
    cx = (e1 * x1 + e2 * x2) / (e1 + e2)
    cy = (e1 * y1 + e2 * y2) / (e1 + e2)
    return cx * cx + cy * cy > cfg.coe_min * cfg.coe_min


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _hit(cfg: KotoConfig, vx: float, vy: float, vz: float, px: float, py: float,
         pz: float) -> tuple[bool, float, float]:
    """Straight photon to the CsI face; False if it goes backwards, passes outside the
    calorimeter radius or into the beam hole."""
    if pz <= 0.0 or vz >= cfg.z_csi:
        return False, 0.0, 0.0
    t = (cfg.z_csi - vz) / pz
    x = vx + t * px
    y = vy + t * py
    if x * x + y * y > cfg.r_csi * cfg.r_csi:
        return False, x, y
    if abs(x) < cfg.hole_half and abs(y) < cfg.hole_half:
        return False, x, y
    return True, x, y


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _chunk(cfg: KotoConfig, seed: np.ndarray, chunk: int, edges: np.ndarray, heights: np.ndarray,
           prob: np.ndarray, alias: np.ndarray, ctau: np.ndarray, vetoes: np.ndarray,
           dets: np.ndarray, chan: np.ndarray, counts: np.ndarray,
           sig: np.ndarray, region: np.ndarray, ptz: np.ndarray,
           egam: np.ndarray, rec: np.ndarray, rec_w: np.ndarray) -> None:
    rs = seed.copy()  # this chunk's xoshiro256+ state
    rsd = seed.copy()  # per-event stream of the phi decay products
    first = chunk * cfg.chunk_size
    n = min(cfg.chunk_size, cfg.n_events - first)
    nct = ctau.size
    nv = vetoes.shape[0]
    ndet = dets.shape[0]
    iv = np.zeros((max(nv, 1), 2))
    sv = np.zeros((NIV, 2))   # veto set of decay points (path lengths)
    sa = np.zeros((NIV, 2))   # scratch for the beam-hole escape sets
    sb = np.zeros((NIV, 2))
    sc = np.zeros((NIV, 2))
    dau = np.zeros((MAX_DAU, 5))
    w = np.zeros(nct)
    pprev = np.zeros(nct)
    fill = ptz.shape[0] > 0
    for j in range(n):
        g = first + j
        stage = 0
        # --- K_L at the beam exit: momentum and direction inside the pencil beam
        p = sample_kl_momentum(rs, cfg, edges, heights, prob, alias)
        x0, y0, tx, ty = sample_beam(rs, cfg)
        norm = math.sqrt(1.0 + tx * tx + ty * ty)
        dx, dy, dz = tx / norm, ty / norm, 1.0 / norm
        ex = x0 + tx * (cfg.exit_z - cfg.target_z)
        ey = y0 + ty * (cfg.exit_z - cfg.target_z)
        # --- decay vertex: exponential law from the exit, truncated to the generation range
        lam_k = p / cfg.m_k * cfg.ctau_k
        s, wk = truncated_exponential(rs, lam_k, (cfg.z_gen_max - cfg.exit_z) * norm)
        vx, vy, vz = ex + s * dx, ey + s * dy, cfg.exit_z + s * dz
        ek = math.sqrt(p * p + cfg.m_k * cfg.m_k)
        kx, ky, kz = p * dx, p * dy, p * dz
        # --- K_L -> pi0 X
        if cfg.channel == CHANNEL_PHI:
            d = decay_two_body(rs, kx, ky, kz, ek, cfg.m_k, cfg.m_pi0, cfg.m_x)
            pix, piy, piz, pie = d[0], d[1], d[2], d[3]
            xx, xy, xz, xe = d[4], d[5], d[6], d[7]
        else:
            epi = sample_pinunu_energy(rs, cfg.m_k, cfg.m_pi0, cfg.m_pi_ff, cfg.ff_slope)
            q = math.sqrt(epi * epi - cfg.m_pi0 * cfg.m_pi0)
            ux, uy, uz = isotropic_direction(rs)
            pix, piy, piz, pie = boost_to_lab(q * ux, q * uy, q * uz, epi,
                                              kx, ky, kz, ek, cfg.m_k)
            xx, xy, xz, xe = kx - pix, ky - piy, kz - piz, ek - pie
        # --- pi0 -> gamma gamma (isotropic); the pi0 flight (c tau = 25 nm) is neglected
        gg = decay_two_body(rs, pix, piy, piz, pie, cfg.m_pi0, 0.0, 0.0)
        ok1, h1x, h1y = _hit(cfg, vx, vy, vz, gg[0], gg[1], gg[2])
        ok2, h2x, h2y = _hit(cfg, vx, vy, vz, gg[4], gg[5], gg[6])
        e1, x1, y1, e2, x2, y2 = gg[3], h1x, h1y, gg[7], h2x, h2y
        zr, ptr = 0.0, 0.0
        if ok1 and ok2:
            stage = 1
            e1, x1, y1 = smear_photon(rs, cfg, gg[3], h1x, h1y)
            e2, x2, y2 = smear_photon(rs, cfg, gg[7], h2x, h2y)
            stage += photon_cuts(cfg, e1, x1, y1, e2, x2, y2)
            if stage == 3:
                okr, zr, ptr = reconstruct_pi0(e1, x1, y1, e2, x2, y2, cfg.z_csi, cfg.m_pi0)
                if okr:
                    stage = 4
                    if shape_cuts(cfg, e1, x1, y1, e2, x2, y2, zr):
                        stage = 5
                        if in_signal_region(cfg, zr, ptr):
                            stage = 6
        counts[0] += 1.0
        counts[1] += wk
        counts[2] += wk * wk
        for k in range(stage + 1):  # stage 0 = generated (decays in the generation range)
            counts[N_HEAD + k] += wk
        l1 = l2 = 0.0
        nd, ch = 0, -1
        px_, ux, uy, uz = 0.0, 0.0, 0.0, 1.0
        # phi weights are needed in the signal region, for the Pt-Z histograms of the
        # shape-selected events, and for the event sample
        if stage == 6 or (stage == 5 and fill) or g < cfg.record_cap:
            # --- X = phi: where it decays, its daughters and what sees them
            # (kernels/daughters.py: the veto set of decay points, integrated exactly)
            for i in range(nct):
                w[i] = wk
            if cfg.channel == CHANNEL_PHI and cfg.m_x > 0.0 and chan.shape[0] > 0:
                event_stream(seed, g, rsd)
                nd, ch = phi_products(rsd, chan, xx, xy, xz, xe, cfg.m_x, dau)
                px_ = math.sqrt(xx * xx + xy * xy + xz * xz)
                ux, uy, uz = xx / px_, xy / px_, xz / px_
                intervals(vetoes, vx, vy, vz, ux, uy, uz, iv)
                nsv = 0
                attribute = stage == 6
                if attribute:
                    for i in range(nct):
                        pprev[i] = 0.0
                for r in range(nv + ndet):
                    if r < nv:
                        nsv = add_volume(sv, nsv, iv[r, 0], iv[r, 1], vx, vy, vz, ux, uy, uz,
                                         dau, nd, cfg.z_csi, cfg.csi_depth, cfg.hole_charged,
                                         cfg.hole_neutral, sa, sb, sc)
                    else:
                        nsv = add_detector(sv, nsv, dets, r - nv, vx, vy, vz, ux, uy, uz,
                                           dau, nd)
                    if attribute:  # vetoed by this element and by none listed before it
                        for i in range(nct):
                            p_ = veto_probability(sv, nsv, px_ / cfg.m_x * ctau[i])
                            dw = wk * (p_ - pprev[i])
                            region[r, 0, i] += dw
                            region[r, 1, i] += dw * dw
                            pprev[i] = p_
                if nsv > 0:
                    l1, l2 = sv[0, 0], sv[nsv - 1, 1]
                for i in range(nct):
                    # survival summed over the gaps: exact even when it is ~exp(-50)
                    w[i] = wk * survival_outside(sv, nsv, px_ / cfg.m_x * ctau[i])
            if stage >= 5:
                if stage == 6:
                    for i in range(nct):
                        sig[0, i] += w[i]
                        sig[1, i] += w[i] * w[i]
                if fill:
                    iz = int((zr - cfg.zlo) / (cfg.zhi - cfg.zlo) * cfg.nz)
                    ip = int((ptr - cfg.ptlo) / (cfg.pthi - cfg.ptlo) * cfg.npt)
                    ie1 = int((e1 - cfg.elo) / (cfg.ehi - cfg.elo) * cfg.ne)
                    ie2 = int((e2 - cfg.elo) / (cfg.ehi - cfg.elo) * cfg.ne)
                    for i in range(ptz.shape[0]):
                        if 0 <= iz < cfg.nz and 0 <= ip < cfg.npt:
                            ptz[i, 0, iz, ip] += w[i]
                            ptz[i, 1, iz, ip] += w[i] * w[i]
                        for ie in (ie1, ie2):
                            if 0 <= ie < cfg.ne:
                                egam[i, 0, ie] += w[i]
                                egam[i, 1, ie] += w[i] * w[i]
            if g < cfg.record_cap:
                r_ = rec[g]
                r_[0], r_[1], r_[2], r_[3] = p, vx, vy, vz
                r_[4], r_[5], r_[6], r_[7] = xx, xy, xz, xe
                r_[8], r_[9], r_[10], r_[11] = pix, piy, piz, pie
                for k in range(8):
                    r_[12 + k] = gg[k]
                r_[20], r_[21], r_[22], r_[23] = h1x, h1y, h2x, h2y
                r_[24], r_[25], r_[26] = e1, x1, y1
                r_[27], r_[28], r_[29] = e2, x2, y2
                r_[30], r_[31], r_[32], r_[33] = zr, ptr, wk, stage
                r_[34], r_[35] = l1, l2
                r_[36], r_[37] = ch, nd
                # one phi decay point for the record (detector simulation, display): drawn
                # from the exponential law of the first finite c tau of the grid; the weights
                # integrate over decay points exactly and do not use it
                r_[38] = r_[39] = r_[40] = math.nan
                if nd > 0:
                    for i in range(nct):
                        if ctau[i] < math.inf:
                            t_ = -px_ / cfg.m_x * ctau[i] * math.log1p(-uniform(rsd))
                            r_[38], r_[39], r_[40] = vx + t_ * ux, vy + t_ * uy, vz + t_ * uz
                            break
                for k in range(nd):
                    for c in range(5):
                        r_[41 + 5 * k + c] = dau[k, c]
                for i in range(nct):
                    rec_w[g, i] = w[i]


@njit(cache=True, parallel=True, fastmath=FASTMATH, error_model="numpy")
def run_chunks(cfg: KotoConfig, seeds: np.ndarray, chunks: np.ndarray, edges: np.ndarray,
               heights: np.ndarray, prob: np.ndarray, alias: np.ndarray, ctau: np.ndarray,
               vetoes: np.ndarray, dets: np.ndarray, chan: np.ndarray,
               counts: np.ndarray, sig: np.ndarray, region: np.ndarray,
               ptz: np.ndarray, egam: np.ndarray, rec: np.ndarray, rec_w: np.ndarray) -> None:
    """Simulate chunks ``chunks[k]`` with seeds ``seeds[k]`` in parallel; chunk k writes only
    ``counts[k]``, ``sig[k]``, ... and the event-sample rows of its own global event indices."""
    for k in prange(chunks.size):
        _chunk(cfg, seeds[k], chunks[k], edges, heights, prob, alias, ctau, vetoes, dets, chan,
               counts[k], sig[k], region[k], ptz[k], egam[k], rec, rec_w)
