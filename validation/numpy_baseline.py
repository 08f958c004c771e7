"""NumPy-vectorised re-implementation of the full KOTO chain (speed baseline and cross-check).

Written independently of :mod:`kotosim.kernels.koto` from the formulas of
``/work/shared/physics/inputs.md`` (sections 2 and 6) and the geometry numbers of
``kotosim.load_geometry("koto")``: same physics, same cuts, same reconstruction, but
vectorised over batches of events and driven by ``numpy.random.Generator`` (its own random
stream, so it agrees with the numba chain only within Monte Carlo errors).

Chain per event (units MeV, mm, rad):
K_L momentum at the beam exit (exact rejection under a piecewise-constant envelope) -> beam
origin on the target and direction through the collimator rectangle -> decay vertex from the
exponential law truncated to [beam exit, generation.z_max], weight P_dec -> K_L -> pi0 phi
(two-body) or pi0 nu nubar (three-body, p^3 |f+|^2) -> pi0 -> gamma gamma -> CsI face ->
smearing -> photon cuts -> pi0 vertex on the beam axis -> shape cuts -> Pt-Z signal region ->
weight 1 - P(phi decays inside a veto volume) for every c*tau of a grid.

Run ``python validation/numpy_baseline.py --mass 100 --n 1e6`` for a stand-alone table.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import kotosim
from kotosim import constants as C

BATCH = 1 << 18
CHANNEL_PHI, CHANNEL_PINUNU = 0, 1
N_STAGES = 6  # photons on CsI, energy cuts, position cuts, vertex found, shape cuts, signal region
STAGE_NAMES = ("photons on CsI", "energy cuts", "position cuts", "vertex found",
               "shape cuts", "signal region")
FF_SLOPE = 0.0297  # K_e3 vector form-factor slope lambda_+ (PDG; inputs.md sec. 2)


# ---------------------------------------------------------------------------------------------
# K_L beam
def spectrum(p: np.ndarray, g: dict) -> np.ndarray:
    """Unnormalised K_L momentum density at the exit, "Sato" asymmetric Gaussian
    f = exp(-(p - mu)^2 / (2 sigma(p)^2)), sigma(p) = sigma0 (1 - (a + b p)(p - mu))
    [inputs.md sec. 2, KOTO-MC]; zero where sigma(p) <= 0."""
    s = g["beam.spectrum.sigma0"] * (1.0 - (g["beam.spectrum.a"] + g["beam.spectrum.b"] * p)
                                     * (p - g["beam.spectrum.mu"]))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.exp(-0.5 * ((p - g["beam.spectrum.mu"]) / s) ** 2)
    return np.where(s > 0.0, out, 0.0)


class Envelope:
    """Piecewise-constant upper bound of :func:`spectrum` on [p_min, p_max] (bins of equal
    width). The density is unimodal with mode mu (inputs.md sec. 2), so its supremum on a bin
    is its value at the bin point nearest to mu; a bin is then chosen by inverse CDF of the
    bin areas (np.searchsorted) and p uniformly inside it; accept with probability f/height."""

    def __init__(self, g: dict, nbins: int = 512) -> None:
        self.g = g
        self.edges = np.linspace(g["beam.spectrum.p_min"], g["beam.spectrum.p_max"], nbins + 1)
        near = np.clip(g["beam.spectrum.mu"], self.edges[:-1], self.edges[1:])
        self.h = spectrum(near, g) * (1.0 + 1e-9)
        cdf = np.cumsum(self.h * np.diff(self.edges))
        self.cdf = cdf / cdf[-1]
        fine = np.linspace(self.edges[0], self.edges[-1], 200001)
        k = np.minimum(np.searchsorted(self.edges, fine, side="right") - 1, nbins - 1)
        if np.any(spectrum(fine, g) > self.h[k]):
            raise ValueError("envelope does not bound the K_L spectrum")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        out = np.empty(n)
        done = 0
        while done < n:
            m = int((n - done) * 1.15) + 64
            k = np.minimum(np.searchsorted(self.cdf, rng.random(m), side="right"),
                           self.h.size - 1)
            p = self.edges[k] + (self.edges[k + 1] - self.edges[k]) * rng.random(m)
            keep = p[rng.random(m) * self.h[k] <= spectrum(p, self.g)]
            take = min(keep.size, n - done)
            out[done:done + take] = keep[:take]
            done += take
        return out


def sample_beam(rng: np.random.Generator, g: dict, n: int) -> tuple[np.ndarray, ...]:
    """Origin (x0, y0) on the target image and slopes (tx, ty) [KOTO-MC GsimE14Spectrum.cc,
    geometry/koto.toml]: x flat on [x_lo, x_hi] with half-Gaussian tails (sigma_lo, sigma_hi)
    outside, the three pieces chosen by area (a half-Gaussian of unit peak and width s has area
    s sqrt(pi/2)); y Gaussian truncated at +-y_max; direction towards a uniform point of the
    collimator rectangle (+-hx, +-hy) at distance D downstream: t = (c - x0)/D."""
    lo, hi = g["beam.target_x_lo"], g["beam.target_x_hi"]
    slo, shi = g["beam.target_x_sigma_lo"], g["beam.target_x_sigma_hi"]
    c = math.sqrt(0.5 * math.pi)
    flat = hi - lo
    r = rng.random(n) * (flat + c * (slo + shi))
    tail = np.abs(rng.standard_normal(n))
    x0 = np.where(r < flat, lo + r, np.where(r < flat + c * slo, lo - slo * tail, hi + shi * tail))
    y0 = g["beam.target_y_sigma"] * rng.standard_normal(n)
    bad = np.abs(y0) > g["beam.target_y_max"]
    while np.any(bad):
        y0[bad] = g["beam.target_y_sigma"] * rng.standard_normal(int(bad.sum()))
        bad = np.abs(y0) > g["beam.target_y_max"]
    d = g["beam.collimator_distance"]
    cx = g["beam.collimator_half_x"] * rng.uniform(-1.0, 1.0, n)
    cy = g["beam.collimator_half_y"] * rng.uniform(-1.0, 1.0, n)
    return x0, y0, (cx - x0) / d, (cy - y0) / d


# ---------------------------------------------------------------------------------------------
# kinematics
def isotropic(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unit vectors uniform on the sphere (cos theta, phi uniform); shape (3, n)."""
    cost = rng.uniform(-1.0, 1.0, n)
    phi = rng.uniform(0.0, 2.0 * math.pi, n)
    sint = np.sqrt(np.maximum(0.0, 1.0 - cost * cost))
    return np.stack((sint * np.cos(phi), sint * np.sin(phi), cost))


def boost(p: np.ndarray, e: np.ndarray, bp: np.ndarray, be: np.ndarray, bm: float):
    """Rest-frame four-momenta (p (3, n), e) of a parent with lab (bp, be) and mass bm to the
    lab: with beta = bp/be, gamma = be/bm, E = gamma (E* + beta.p*),
    p = p* + gamma beta (E* + gamma/(gamma+1) beta.p*) (Jackson, CED 3rd ed., eq. 11.19)."""
    gam = be / bm
    beta = bp / be
    bdotp = np.einsum("ij,ij->j", beta, p)
    e_lab = gam * (e + bdotp)
    p_lab = p + gam * beta * (e + gam / (gam + 1.0) * bdotp)
    return p_lab, e_lab


def two_body_q(m: float, m1: float, m2: float) -> float:
    """Rest-frame momentum lambda^1/2(M^2, m1^2, m2^2)/(2M) (PDG Kinematics, eq. 49.17)."""
    a, b, c = m * m, m1 * m1, m2 * m2
    lam = a * a + b * b + c * c - 2.0 * (a * b + a * c + b * c)
    return math.sqrt(max(lam, 0.0)) / (2.0 * m)


def pinunu_energy(rng: np.random.Generator, n: int) -> np.ndarray:
    """pi0 energy in the K_L frame for K_L -> pi0 nu nubar: dGamma/dE_pi ~ p_pi^3 |f+(q^2)|^2,
    f+ = 1 + lambda_+ q^2/m_pi+^2, q^2 = m_K^2 + m_pi^2 - 2 m_K E_pi (inputs.md sec. 2), by
    rejection under the constant bound p_max^3 f+(q^2_max)^2."""
    mk, mp = C.M_KL, C.M_PI0
    emax = (mk * mk + mp * mp) / (2.0 * mk)
    pmax = math.sqrt(emax * emax - mp * mp)
    bound = pmax ** 3 * (1.0 + FF_SLOPE * (mk - mp) ** 2 / C.M_PIPLUS ** 2) ** 2
    out = np.empty(n)
    done = 0
    while done < n:
        m = int((n - done) * 2.2) + 64
        e = rng.uniform(mp, emax, m)
        pp = np.sqrt(np.maximum(e * e - mp * mp, 0.0))
        fp = 1.0 + FF_SLOPE * (mk * mk + mp * mp - 2.0 * mk * e) / C.M_PIPLUS ** 2
        keep = e[rng.random(m) * bound <= pp ** 3 * fp * fp]
        take = min(keep.size, n - done)
        out[done:done + take] = keep[:take]
        done += take
    return out


# ---------------------------------------------------------------------------------------------
# veto volumes (inputs.md sec. 6)
def _slab(o: np.ndarray, d: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Path-length interval where lo <= o + s d <= hi ((-inf, inf) or empty if d == 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        a = (lo - o) / d
        b = (hi - o) / d
    inside = (o >= lo) & (o <= hi)
    a = np.where(d == 0.0, np.where(inside, -np.inf, np.inf), a)
    b = np.where(d == 0.0, np.where(inside, np.inf, -np.inf), b)
    return np.minimum(a, b), np.maximum(a, b)


def volume_interval(row: np.ndarray, o: np.ndarray, d: np.ndarray):
    """(L1, L2) of rays o + s d, s >= 0, inside a z-cylinder [0, cx, cy, z1, z2, r] or a box
    [1, xmin, xmax, ymin, ymax, zmin, zmax] (kotosim geometry rows); empty -> (0, 0)."""
    if row[0] == 0:
        zlo, zhi = _slab(o[2], d[2], row[3], row[4])
        ox, oy = o[0] - row[1], o[1] - row[2]
        a = d[0] ** 2 + d[1] ** 2
        b = 2.0 * (d[0] * ox + d[1] * oy)
        c = ox * ox + oy * oy - row[5] ** 2
        disc = b * b - 4.0 * a * c
        sq = np.sqrt(np.maximum(disc, 0.0))
        # stable roots q = -(b + sign(b) sqrt(disc))/2, s = q/a and c/q (Numerical Recipes
        # 3rd ed., eq. 5.6.4)
        q = -0.5 * (b + np.where(b >= 0.0, sq, -sq))
        with np.errstate(divide="ignore", invalid="ignore"):
            r1, r2 = q / a, c / q
        rlo, rhi = np.minimum(r1, r2), np.maximum(r1, r2)
        axial = a == 0.0
        rlo = np.where(axial, np.where(c <= 0.0, -np.inf, np.inf), rlo)
        rhi = np.where(axial, np.where(c <= 0.0, np.inf, -np.inf), rhi)
        miss = (~axial & (disc < 0.0)) | (~axial & (q == 0.0))
        lo = np.maximum(np.maximum(zlo, rlo), 0.0)
        hi = np.minimum(zhi, rhi)
        hi = np.where(miss, -np.inf, hi)
    else:
        lo = np.zeros_like(o[0])
        hi = np.full_like(o[0], np.inf)
        for k in range(3):
            a, b = _slab(o[k], d[k], row[1 + 2 * k], row[2 + 2 * k])
            lo, hi = np.maximum(lo, a), np.minimum(hi, b)
    empty = ~(hi > lo)
    return np.where(empty, 0.0, lo), np.where(empty, 0.0, hi)


def decay_prob(l1: np.ndarray, l2: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """P = exp(-L1/lam) - exp(-L2/lam) = exp(-L1/lam) (-expm1(-(L2 - L1)/lam))
    (inputs.md sec. 6); 0 for lam = inf or an empty interval."""
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.exp(-l1 / lam) * -np.expm1(-(l2 - l1) / lam)
    return np.where(l2 > l1, p, 0.0)


def veto_probability(vetoes: np.ndarray, o: np.ndarray, d: np.ndarray,
                     lam: np.ndarray) -> np.ndarray:
    """Probability to decay inside the union of the veto volumes, lam shape (nct, n).
    The intervals are sorted by L1 and merged by a vectorised sweep."""
    if vetoes.shape[0] == 0:
        return np.zeros_like(lam)
    iv = [volume_interval(row, o, d) for row in vetoes]
    l1 = np.stack([a for a, _ in iv])
    l2 = np.stack([b for _, b in iv])
    order = np.argsort(l1, axis=0)
    l1 = np.take_along_axis(l1, order, 0)
    l2 = np.take_along_axis(l2, order, 0)
    total = np.zeros_like(lam)
    lo, hi = l1[0], l2[0]
    for k in range(1, l1.shape[0]):
        joined = l1[k] <= hi
        total += np.where(joined, 0.0, decay_prob(lo, hi, lam))
        lo = np.where(joined, lo, l1[k])
        hi = np.where(joined, np.maximum(hi, l2[k]), l2[k])
    return total + decay_prob(lo, hi, lam)


# ---------------------------------------------------------------------------------------------
# reconstruction (inputs.md sec. 2; KOTO PRL 122 021802)
def reconstruct(e1, x1, y1, e2, x2, y2, z_csi: float):
    """pi0 vertex Z on the beam axis and Pt. u = d^2, d = z_CsI - Z, solves
    (1 - c^2) u^2 + (2 ip - (R1 + R2) c^2) u + ip^2 - R1 R2 c^2 = 0 with
    c = 1 - m_pi0^2/(2 E1 E2), R_i = x_i^2 + y_i^2, ip = x1 x2 + y1 y2; a root must satisfy
    sign(ip + u) = sign(c) (cosine of the opening angle); of two valid roots the larger d is
    kept (the kotosim convention). p_i = E_i (x_i, y_i, d)/sqrt(R_i + d^2), Pt = |p1T + p2T|."""
    c = 1.0 - C.M_PI0 ** 2 / (2.0 * e1 * e2)
    r1, r2 = x1 * x1 + y1 * y1, x2 * x2 + y2 * y2
    ip = x1 * x2 + y1 * y2
    qa = 1.0 - c * c
    qb = 2.0 * ip - (r1 + r2) * c * c
    qc = ip * ip - r1 * r2 * c * c
    disc = qb * qb - 4.0 * qa * qc
    ok = (qa > 0.0) & (disc >= 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        sq = np.sqrt(np.where(ok, disc, 0.0))
        best = np.full_like(e1, -1.0)
        for u in ((-qb + sq) / (2.0 * qa), (-qb - sq) / (2.0 * qa)):
            good = ok & (u > 0.0) & ((ip + u) * c >= 0.0)
            best = np.where(good & (u > best), u, best)
    ok = best > 0.0
    u = np.where(ok, best, 1.0)
    n1 = e1 / np.sqrt(r1 + u)
    n2 = e2 / np.sqrt(r2 + u)
    pt = np.hypot(n1 * x1 + n2 * x2, n1 * y1 + n2 * y2)
    return ok, z_csi - np.sqrt(u), pt


# ---------------------------------------------------------------------------------------------
def run_batch(rng: np.random.Generator, g: dict, env: Envelope, vetoes: np.ndarray,
              channel: int, mass: float, ctau: np.ndarray, n: int, acc: dict) -> None:
    """Simulate n K_L at the beam exit and add to the accumulators ``acc``."""
    # --- K_L at the beam exit and its decay vertex
    p = env.sample(rng, n)
    x0, y0, tx, ty = sample_beam(rng, g, n)
    norm = np.sqrt(1.0 + tx * tx + ty * ty)
    u_k = np.stack((tx / norm, ty / norm, 1.0 / norm))
    lever = g["beam.exit_z"] - g["beam.target_z"]
    # decay length lambda = (p/m) c tau; path s from the exit truncated to s_max, sampled by
    # inverse CDF s = -lambda ln(1 - u P), weight P = 1 - exp(-s_max/lambda) (inputs.md sec. 2)
    lam_k = p / C.M_KL * C.CTAU_KL
    s_max = (g["generation.z_max"] - g["beam.exit_z"]) * norm
    pdec = -np.expm1(-s_max / lam_k)
    s = np.minimum(-lam_k * np.log1p(-rng.random(n) * pdec), s_max)
    vtx = np.stack((x0 + tx * lever + s * u_k[0], y0 + ty * lever + s * u_k[1],
                    g["beam.exit_z"] + s * u_k[2]))
    kp = p * u_k
    ke = np.sqrt(p * p + C.M_KL ** 2)
    acc["n"] += n
    acc["sw"] += pdec.sum()
    acc["sw2"] += (pdec * pdec).sum()
    # --- K_L -> pi0 X in the K_L frame, boosted to the lab
    if channel == CHANNEL_PHI:
        q = np.full(n, two_body_q(C.M_KL, C.M_PI0, mass))
        epi = np.sqrt(q * q + C.M_PI0 ** 2)
    else:
        epi = pinunu_energy(rng, n)
        q = np.sqrt(np.maximum(epi * epi - C.M_PI0 ** 2, 0.0))
    dirn = isotropic(rng, n)
    pip, pie = boost(q * dirn, epi, kp, ke, C.M_KL)
    xp = kp - pip  # X = phi or the nu nubar system (momentum conservation)
    # --- pi0 -> gamma gamma, isotropic in the pi0 frame (pi0 flight of 25 nm neglected)
    gd = isotropic(rng, n) * (0.5 * C.M_PI0)
    ge = np.full(n, 0.5 * C.M_PI0)
    g1p, g1e = boost(gd, ge, pip, pie, C.M_PI0)
    g2p, g2e = boost(-gd, ge, pip, pie, C.M_PI0)
    # --- photons to the CsI face (straight lines), inside its radius and outside the hole
    zc, rc, hole = g["csi.z_face"], g["csi.radius"], g["csi.beam_hole_half"]
    hits = []
    okh = vtx[2] < zc
    for gp in (g1p, g2p):
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (zc - vtx[2]) / gp[2]
        hx, hy = vtx[0] + t * gp[0], vtx[1] + t * gp[1]
        okh &= (gp[2] > 0.0) & (hx * hx + hy * hy <= rc * rc)
        okh &= ~((np.abs(hx) < hole) & (np.abs(hy) < hole))
        hits.append((hx, hy))
    wk = pdec
    stage_w = [wk[okh].sum()]
    idx = np.nonzero(okh)[0]
    m = idx.size
    # --- CsI response sigma_E/E = c (+) s/sqrt(E/GeV), sigma_xy = pos/sqrt(E/GeV) (inputs.md 2)
    meas = []
    for (hx, hy), ee in ((hits[0], g1e), (hits[1], g2e)):
        e = ee[idx]
        egev = e * 1e-3
        rel = np.sqrt(g["resolution.constant"] ** 2 + g["resolution.stochastic"] ** 2 / egev)
        sp = g["resolution.position"] / np.sqrt(egev)
        z3 = rng.standard_normal((3, m))
        meas.append((e * (1.0 + rel * z3[0]), hx[idx] + sp * z3[1], hy[idx] + sp * z3[2]))
    (e1, x1, y1), (e2, x2, y2) = meas
    w = wk[idx]
    # --- photon cuts (2015 analysis, inputs.md sec. 2)
    ecut = ((e1 > g["cuts.e_gamma_min"]) & (e1 < g["cuts.e_gamma_max"])
            & (e2 > g["cuts.e_gamma_min"]) & (e2 < g["cuts.e_gamma_max"])
            & (e1 + e2 > g["cuts.e_sum_min"])
            & (np.minimum(e1, e2) / np.maximum(e1, e2) > g["cuts.energy_ratio_min"]))
    pcut = ecut.copy()
    for x, y in ((x1, y1), (x2, y2)):
        pcut &= x * x + y * y < g["cuts.hit_radius_max"] ** 2
        pcut &= np.maximum(np.abs(x), np.abs(y)) > g["cuts.hit_square_min"]
    pcut &= (x1 - x2) ** 2 + (y1 - y2) ** 2 > g["cuts.distance_min"] ** 2
    stage_w += [w[ecut].sum(), w[pcut].sum()]
    sel = np.nonzero(pcut)[0]
    e1, x1, y1, e2, x2, y2, w = (a[sel] for a in (e1, x1, y1, e2, x2, y2, w))
    idx = idx[sel]
    okr, zr, pt = reconstruct(e1, x1, y1, e2, x2, y2, zc)
    stage_w.append(w[okr].sum())
    # --- shape cuts with the reconstructed vertex: E*theta per photon, azimuthal opening,
    # centre-of-energy radius (inputs.md sec. 2)
    dist = zc - zr
    shape = okr & (dist > 0.0)
    for e, x, y in ((e1, x1, y1), (e2, x2, y2)):
        shape &= e * np.arctan2(np.hypot(x, y), dist) > g["cuts.e_theta_min"]
    dphi = np.abs(np.arctan2(y1, x1) - np.arctan2(y2, x2))
    dphi = np.where(dphi > math.pi, 2.0 * math.pi - dphi, dphi)
    shape &= dphi < g["cuts.azimuth_max"]
    coe = np.hypot(e1 * x1 + e2 * x2, e1 * y1 + e2 * y2) / (e1 + e2)
    shape &= coe > g["cuts.coe_radius_min"]
    stage_w.append(w[shape].sum())
    # --- Pt-Z signal region; above z_slant the lower Pt edge rises linearly (geometry file)
    zs, zmax = g["signal_region.z_slant"], g["signal_region.z_max"]
    ptlo = g["signal_region.pt_min"] + np.where(
        zr > zs, (g["signal_region.pt_min_at_z_max"] - g["signal_region.pt_min"])
        * (zr - zs) / (zmax - zs), 0.0)
    sr = (shape & (zr > g["signal_region.z_min"]) & (zr < zmax)
          & (pt < g["signal_region.pt_max"]) & (pt > ptlo))
    stage_w.append(w[sr].sum())
    acc["stages"] += np.array(stage_w)
    # --- phi must not decay inside a veto volume: weight 1 - P_union for every c tau
    k = idx[sr]
    ws = w[sr]
    if channel == CHANNEL_PHI and mass > 0.0 and k.size:
        xpk = xp[:, k]
        pmag = np.sqrt((xpk * xpk).sum(axis=0))
        lam = pmag / mass * ctau[:, None]  # lambda = (p/m) c tau (inputs.md sec. 6)
        pv = veto_probability(vetoes, vtx[:, k], xpk / pmag, lam)
        wt = ws * np.maximum(0.0, 1.0 - pv)
    else:
        wt = np.broadcast_to(ws, (ctau.size, ws.size))
    acc["sig"] += wt.sum(axis=1)
    acc["sig2"] += (wt * wt).sum(axis=1)


def simulate(channel: int, mass: float, ctau, n_events: int, seed: int = 1,
             batch: int = BATCH, geometry: str = "koto") -> dict:
    """Run the NumPy chain; returns the summed accumulators (see :func:`acceptances`)."""
    geo = kotosim.load_geometry(geometry)
    g = dict(geo.values)
    ctau = np.atleast_1d(np.asarray(ctau, dtype=float))
    env = Envelope(g)
    vetoes = geo.volume_array("veto")
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    acc = {"n": 0, "sw": 0.0, "sw2": 0.0, "stages": np.zeros(N_STAGES),
           "sig": np.zeros(ctau.size), "sig2": np.zeros(ctau.size)}
    done = 0
    while done < n_events:
        nb = min(batch, n_events - done)
        run_batch(rng, g, env, vetoes, channel, float(mass), ctau, nb, acc)
        done += nb
    return acc


def acceptances(acc: dict) -> tuple[np.ndarray, ...]:
    """(per K_L at the exit, error, per K_L decay in range, error): sum(w)/N with error
    sqrt(sum w^2)/N; per decay divided by the mean decay probability (its error in
    quadrature), the same definitions as kotosim.experiments.koto.acceptances."""
    n = acc["n"]
    a = acc["sig"] / n
    ea = np.sqrt(acc["sig2"]) / n
    pd = acc["sw"] / n
    epd = math.sqrt(max(acc["sw2"] / n - pd * pd, 0.0) / n)
    ad = a / pd
    with np.errstate(divide="ignore", invalid="ignore"):
        ead = ad * np.sqrt(np.where(a > 0, (ea / a) ** 2, 0.0) + (epd / pd) ** 2)
    return a, ea, ad, ead


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mass", type=float, default=100.0, help="phi mass [MeV]")
    ap.add_argument("--pinunu", action="store_true", help="K_L -> pi0 nu nubar instead")
    ap.add_argument("--ctau", type=float, nargs="*", default=[100.0, 1e3, 1e4, 1e5, math.inf],
                    help="c tau grid [mm]")
    ap.add_argument("--n", type=float, default=1e6, help="K_L at the beam exit")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    ch = CHANNEL_PINUNU if a.pinunu else CHANNEL_PHI
    t = time.perf_counter()
    acc = simulate(ch, a.mass, a.ctau, int(a.n), a.seed)
    dt = time.perf_counter() - t
    ae, ee, ad, ed = acceptances(acc)
    what = "pi0 nu nubar" if a.pinunu else f"pi0 phi, m = {a.mass:g} MeV"
    print(f"NumPy KOTO chain, {what}: {int(a.n):.3g} K_L in {dt:.1f} s "
          f"({a.n / dt / 1e6:.2f} M/s)")
    print(f"{'ctau [mm]':>10} {'A per K_L exit':>22} {'A per K_L decay':>22}")
    for i, ct in enumerate(np.atleast_1d(a.ctau)):
        print(f"{ct:10.3g} {ae[i]:12.4e} +- {ee[i]:.1e} {ad[i]:12.4e} +- {ed[i]:.1e}")
    n = acc["n"]
    print("cut flow per K_L at exit: decays in range "
          f"{acc['sw'] / n:.4f}; " + "; ".join(f"{s} {v / n:.5f}"
                                                for s, v in zip(STAGE_NAMES, acc["stages"],
                                                                strict=True)))


if __name__ == "__main__":
    main()
