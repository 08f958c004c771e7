"""KOTO event loop: K_L beam -> K_L -> pi0 X -> gamma gamma -> CsI -> (Z, Pt) -> cuts.

One function per formula; the chunk loop (:func:`run_chunks`, ``nogil``: threads run slices of
a block side by side, :func:`kotosim.engine.in_threads`) gives each chunk its own generator
state and per-chunk accumulators, so that the caller sums them in chunk order (bit-identical
for any thread count).
Units: MeV, mm, rad.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from . import kinematics as _kin
from . import rng as _rng
from . import sampling as _smp
from ._flags import FASTMATH
from ._flags import inlined as _inlined
from .daughters import (
    MAX_DAU,
    NIV,
    add_detector,
    add_volume,
    event_stream,
    phi_products,
)
from .propagation import intervals, survival_outside

# sin/cos of 2 pi u without a branchy range reduction: kotosim.kernels.rng.sincos_2pi (glibc's
# sincos of a random angle costs ~24 ns here, this ~5 ns).
sincos_2pi = _rng.sincos_2pi


# the primitives of the per-event path that take array arguments, inlined (kinematics, rng,
# sampling stay unchanged). The generator step itself is left to LLVM's inliner: numba's
# reference-count pruning already removes its incref/decref, and inlining it at numba-IR level
# at its ~25 call sites costs ~20% more compile time for no measurable gain.
uniform = _rng.uniform
truncated_exponential = _inlined(_smp.truncated_exponential, uniform=uniform)


# Box-Muller pairs and isotropic directions with sin/cos of the angle from sincos_2pi: the
# shared kernels called with poly=True (the same uniforms in the same order as with libm)
gauss_pair = _inlined(_rng.gauss_pair, uniform=uniform)
isotropic_direction = _inlined(_kin.isotropic_direction, uniform=uniform)

boost_to_lab = _kin.boost_to_lab
decay_two_body = _inlined(_kin.decay_two_body, isotropic_direction=isotropic_direction)

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
def squeeze_table(cfg: KotoConfig, edges: np.ndarray) -> np.ndarray:
    """Lower bounds of :func:`spectrum_density` on the envelope bins ("squeeze", Marsaglia,
    Comm. ACM 20 (1977) 47; Devroye, Non-Uniform Random Variate Generation (1986) II.5).

    The density is unimodal (checked when the envelope is built), so on a bin its minimum is
    at one of the two edges; the factor 1 - 1e-9 keeps the bound below the density as
    evaluated in floating point anywhere inside the bin."""
    nb = edges.size - 1
    low = np.empty(nb)
    f0 = spectrum_density(edges[0], cfg.mu, cfg.sigma0, cfg.a, cfg.b)
    for k in range(nb):
        f1 = spectrum_density(edges[k + 1], cfg.mu, cfg.sigma0, cfg.a, cfg.b)
        low[k] = min(f0, f1) * (1.0 - 1e-9)
        f0 = f1
    return low


@njit(inline="always", fastmath=FASTMATH, error_model="numpy")
def sample_kl_momentum(rs: np.ndarray, mu: float, sigma0: float, a: float, b: float,
                       edges: np.ndarray, heights: np.ndarray, prob: np.ndarray,
                       alias: np.ndarray, low: np.ndarray) -> float:
    """Exact draw from :func:`spectrum_density` by rejection under a piecewise-constant
    envelope whose heights bound f on each bin (checked when the envelope is built).

    Per try: a bin from the alias table of the bin areas and a point in it (the draw of
    :func:`kotosim.kernels.sampling.sample_envelope`), then accept if u h <= f(p). Below the
    squeeze ``low[k]`` <= f on the bin the test is decided without evaluating f (no exp):
    the same uniforms, the same accepted values, ~30x fewer exp calls."""
    nb = prob.size
    while True:
        u = uniform(rs) * nb
        k = min(int(u), nb - 1)
        if u - k >= prob[k]:
            k = alias[k]
        p = edges[k] + (edges[k + 1] - edges[k]) * uniform(rs)
        v = uniform(rs) * heights[k]
        if v <= low[k] or v <= spectrum_density(p, mu, sigma0, a, b):
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


@njit(inline="always", fastmath=FASTMATH, error_model="numpy")
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


@njit(inline="always", fastmath=FASTMATH, error_model="numpy")
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
    n1, n2 = gauss_pair(rs, True)
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
            y0 = cfg.ty_sigma * gauss_pair(rs, True)[0]
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


@njit(inline="always", fastmath=FASTMATH, error_model="numpy")
def smear_photon(rs: np.ndarray, cfg: KotoConfig, e: float, x: float,
                 y: float) -> tuple[float, float, float]:
    """CsI response: sigma_E/E = const (+) stoch/sqrt(E/GeV), sigma_xy = pos/sqrt(E/GeV)
    [KOTO-MC, inputs.md sec. 2]. Energies in MeV."""
    if not cfg.smear:
        return e, x, y
    eg = e * 1e-3
    rel = math.sqrt(cfg.res_const ** 2 + cfg.res_stoch ** 2 / eg)
    sp = cfg.res_pos / math.sqrt(eg)
    nx, ny = gauss_pair(rs, True)
    ne = gauss_pair(rs, True)[0]  # the pair's second number is dropped (keeps the stream simple)
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
    sd = np.zeros((NIV, 2))   # the veto set before the current element (attribution)
    dau = np.zeros((MAX_DAU, 5))
    w = np.zeros(nct)
    pprev = np.zeros(nct)
    surv = np.zeros(nct)  # survival outside the veto set after the last element that changed it
    fill = ptz.shape[0] > 0
    by_element = region.shape[0] > 0  # fractions vetoed per element asked for
    low = squeeze_table(cfg, edges)
    mu, sigma0, sa_, sb_ = cfg.mu, cfg.sigma0, cfg.a, cfg.b
    for j in range(n):
        g = first + j
        stage = 0
        # --- K_L at the beam exit: momentum and direction inside the pencil beam
        p = sample_kl_momentum(rs, mu, sigma0, sa_, sb_, edges, heights, prob, alias, low)
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
            d = decay_two_body(rs, kx, ky, kz, ek, cfg.m_k, cfg.m_pi0, cfg.m_x, True)
            pix, piy, piz, pie = d[0], d[1], d[2], d[3]
            xx, xy, xz, xe = d[4], d[5], d[6], d[7]
        else:
            epi = sample_pinunu_energy(rs, cfg.m_k, cfg.m_pi0, cfg.m_pi_ff, cfg.ff_slope)
            q = math.sqrt(epi * epi - cfg.m_pi0 * cfg.m_pi0)
            ux, uy, uz = isotropic_direction(rs, True)
            pix, piy, piz, pie = boost_to_lab(q * ux, q * uy, q * uz, epi,
                                              kx, ky, kz, ek, cfg.m_k)
            xx, xy, xz, xe = kx - pix, ky - piy, kz - piz, ek - pie
        # --- pi0 -> gamma gamma (isotropic); the pi0 flight (c tau = 25 nm) is neglected
        gg = decay_two_body(rs, pix, piy, piz, pie, cfg.m_pi0, 0.0, 0.0, True)
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
                nsv = np.int64(0)  # not a literal 0: one compile of each callee
                attribute = stage == 6 and by_element
                have_surv = False
                if attribute:
                    for i in range(nct):
                        pprev[i] = 0.0
                for r in range(nv + ndet):
                    n0 = nsv
                    if attribute:
                        for q in range(nsv):
                            sd[q, 0], sd[q, 1] = sv[q, 0], sv[q, 1]
                    if r < nv:
                        nsv = add_volume(sv, nsv, iv[r, 0], iv[r, 1], vx, vy, vz, ux, uy, uz,
                                         dau, nd, cfg.z_csi, cfg.csi_depth, cfg.hole_charged,
                                         cfg.hole_neutral, sa, sb, sc)
                    else:
                        nsv = add_detector(sv, nsv, dets, r - nv, vx, vy, vz, ux, uy, uz,
                                           dau, nd)
                    changed = nsv != n0
                    if attribute and not changed:
                        for q in range(nsv):
                            if sv[q, 0] != sd[q, 0] or sv[q, 1] != sd[q, 1]:
                                changed = True
                                break
                    # vetoed by this element and by none listed before it (an element that
                    # leaves the veto set as it was adds exactly 0: skipped)
                    if attribute and changed:
                        for i in range(nct):
                            # veto_probability, keeping its survival for the weights below
                            surv[i] = survival_outside(sv, nsv, px_ / cfg.m_x * ctau[i])
                            p_ = 1.0 - surv[i]
                            dw = wk * (p_ - pprev[i])
                            region[r, 0, i] += dw
                            region[r, 1, i] += dw * dw
                            pprev[i] = p_
                        have_surv = True
                if nsv > 0:
                    l1, l2 = sv[0, 0], sv[nsv - 1, 1]
                for i in range(nct):
                    # survival summed over the gaps: exact even when it is ~exp(-50); the
                    # attribution computed it already for the final veto set (the set after
                    # the last element that changed it)
                    if not have_surv:
                        surv[i] = survival_outside(sv, nsv, px_ / cfg.m_x * ctau[i])
                    w[i] = wk * surv[i]
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


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def run_chunks(cfg: KotoConfig, seeds: np.ndarray, chunks: np.ndarray, edges: np.ndarray,
               heights: np.ndarray, prob: np.ndarray, alias: np.ndarray, ctau: np.ndarray,
               vetoes: np.ndarray, dets: np.ndarray, chan: np.ndarray,
               counts: np.ndarray, sig: np.ndarray, region: np.ndarray,
               ptz: np.ndarray, egam: np.ndarray, rec: np.ndarray, rec_w: np.ndarray) -> None:
    """Simulate chunks ``chunks[k]`` with seeds ``seeds[k]``, one after the other, without
    the GIL; chunk k writes only ``counts[k]``, ``sig[k]``, ... and the event-sample rows of its
    own global event indices (so threads may run disjoint slices of chunks at once)."""
    for k in range(chunks.size):
        _chunk(cfg, seeds[k], chunks[k], edges, heights, prob, alias, ctau, vetoes, dets, chan,
               counts[k], sig[k], region[k], ptz[k], egam[k], rec, rec_w)
