"""NumPy-vectorised re-implementation of the NA62 K+ -> pi+ phi chain (speed baseline and
cross-check of the decay-in-flight kernel).

Written from the geometry file's numbers (``kotosim.load_geometry("na62")``, whose every value
cites its source) and the formulas the NA62 selection uses, not from
:mod:`kotosim.kernels.flight`: vectorised over batches, driven by ``numpy.random.Generator``
(its own random stream), so it agrees with the numba chain only within Monte Carlo errors.

Chain per event (MeV, mm, rad):
K+ at the fiducial-volume entrance: p = p_beam (1 + spread g), slopes divergence x g ->
decay vertex from the exponential law truncated to the fiducial volume, weight = the decay
probability there -> K+ -> pi+ phi isotropic in the K+ frame, boosted (Jackson eq. 11.19) ->
selection: the true pi+ crosses the four STRAW chambers (r < r_max, outside the square beam
hole) and the LKr front (square, octagon, inner radius) with a thin-lens p_T kick at the
magnet; the GTK-smeared K+ and STRAW-smeared pi+ give p_reco in [p_min, p_max] and
m^2_miss in region 1 or 2 -> phi invisible with the probability that it does not decay inside
the [[veto]] cylinders, exp(-L/lambda) summed over the gaps, for every c tau of a grid.

Run ``python validation/numpy_na62.py --mass 100 --n 1e6`` for a stand-alone table.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import kotosim
from kotosim import constants as C

BATCH = 1 << 18


def _boost(px, py, pz, e, bx, by, bz, be, bm):
    """Rest-frame four-momenta to the lab of a parent (bx, by, bz, be), mass bm."""
    pdot = bx * px + by * py + bz * pz
    f = (e + pdot / (be + bm)) / bm
    return px + f * bx, py + f * by, pz + f * bz


def _on_plane(row, x, y):
    """Whether (x, y) is on the sensitive area of a plane row (same row format as
    ``kotosim.experiments.na62.planes``: z, cx, cy, half, oct, r_min, r_max, hole, hole_cx)."""
    z, cx, cy, half, octa, rmin, rmax, hole, hole_cx = row
    dx, dy = x - cx, y - cy
    ok = np.ones(x.shape, dtype=bool)
    if half > 0:
        ok &= (np.abs(dx) <= half) & (np.abs(dy) <= half)
    if octa > 0:
        ok &= np.abs(dx) + np.abs(dy) <= octa
    r2 = dx * dx + dy * dy
    ok &= r2 >= rmin * rmin
    if rmax > 0:
        ok &= r2 <= rmax * rmax
    if hole > 0:
        ok &= ~((np.abs(x - hole_cx) < hole) & (np.abs(dy) < hole))
    return ok


def _track(planes, z_kick, kick, x, y, z, px, py, pz):
    """pi+ straight between planes, its p_x changed by ``kick`` at the magnet."""
    ok = pz > 0
    pz = np.where(ok, pz, 1.0)
    px = px.copy()
    kicked = False
    for row in planes:
        zp = row[0]
        ok &= zp > z
        if not kicked and zp > z_kick:
            up = z_kick > z  # propagate to the magnet first, then kick
            x = np.where(up, x + (z_kick - z) * px / pz, x)
            y = np.where(up, y + (z_kick - z) * py / pz, y)
            z = np.where(up, z_kick, z)
            px = px + kick
            kicked = True
        x = x + (zp - z) * px / pz
        y = y + (zp - z) * py / pz
        z = np.full_like(x, zp)
        ok &= _on_plane(row, x, y)
    return ok


def _cylinder(v, u, z1, z2, r, cx, cy):
    """Path-length interval [lo, hi] of the rays v + t u (t >= 0) in a z-aligned cylinder of
    radius r about (cx, cy) between z1 and z2."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ta, tb = (z1 - v[2]) / u[2], (z2 - v[2]) / u[2]
    lo_z, hi_z = np.minimum(ta, tb), np.maximum(ta, tb)
    ox, oy = v[0] - cx, v[1] - cy
    a = u[0] ** 2 + u[1] ** 2
    b = 2 * (ox * u[0] + oy * u[1])
    c = ox ** 2 + oy ** 2 - r * r
    disc = b * b - 4 * a * c
    sq = np.sqrt(np.maximum(disc, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        r1, r2 = (-b - sq) / (2 * a), (-b + sq) / (2 * a)
    inside = c <= 0
    r1 = np.where(a > 0, r1, np.where(inside, -np.inf, np.inf))
    r2 = np.where(a > 0, r2, np.where(inside, np.inf, -np.inf))
    r1 = np.where(disc >= 0, r1, np.inf)
    lo = np.maximum(np.maximum(lo_z, r1), 0.0)
    hi = np.minimum(hi_z, r2)
    empty = ~(hi > lo)
    return np.where(empty, 0.0, lo), np.where(empty, 0.0, hi)


def _survival(ivs, lam):
    """P(no decay inside the union of the intervals ``ivs`` [(lo, hi), ...]) per event, for a
    decay length ``lam`` per event: exp sums over the gaps of the sorted union."""
    lo = np.stack([i[0] for i in ivs], axis=1)
    hi = np.stack([i[1] for i in ivs], axis=1)
    empty = ~(hi > lo)
    lo = np.where(empty, np.inf, lo)
    hi = np.where(empty, np.inf, hi)
    order = np.argsort(lo, axis=1)
    lo = np.take_along_axis(lo, order, 1)
    hi = np.take_along_axis(hi, order, 1)
    lam = lam[:, None]
    p_in = np.zeros(lo.shape[0])
    cur_lo, cur_hi = lo[:, 0].copy(), hi[:, 0].copy()
    for k in range(1, lo.shape[1]):  # merge overlapping neighbours
        touch = lo[:, k] <= cur_hi
        done = ~touch & np.isfinite(cur_lo)
        p_in += np.where(done, np.exp(-cur_lo / lam[:, 0]) - np.exp(-cur_hi / lam[:, 0]), 0.0)
        cur_hi = np.where(touch, np.maximum(cur_hi, hi[:, k]), hi[:, k])
        cur_lo = np.where(touch, cur_lo, lo[:, k])
    fin = np.isfinite(cur_lo)
    with np.errstate(invalid="ignore"):
        last = np.exp(-cur_lo / lam[:, 0]) - np.exp(-cur_hi / lam[:, 0])
    p_in += np.where(fin, last, 0.0)
    return np.clip(1.0 - p_in, 0.0, 1.0)


def run(mass: float, ctau: np.ndarray, n: int, seed: int = 1) -> dict[str, np.ndarray]:
    """Sums over ``n`` K+ entering the fiducial volume: sum w, sum w^2, and per c tau the sums
    of w a, (w a)^2 and w^2 a for the invisible acceptance a (w = K+ decay probability)."""
    from kotosim.experiments import na62

    geo = kotosim.load_geometry("na62")
    g = geo.values
    planes = na62.planes(geo)
    vetoes = [v.params for v in geo.volumes["veto"]]
    if any(v.shape != "cylinder" for v in geo.volumes["veto"]):
        raise ValueError("numpy_na62: only cylindrical [[veto]] volumes are implemented")
    mk, mpi = C.M_KPLUS, C.M_PIPLUS
    rng = np.random.default_rng(seed)
    nct = ctau.size
    sw = sw2 = 0.0
    s = np.zeros((3, nct))
    sel_w = 0.0
    done = 0
    q = math.sqrt(max((mk * mk - (mpi + mass) ** 2) * (mk * mk - (mpi - mass) ** 2), 0.0)) / (
        2 * mk)  # two-body momentum (PDG Kinematics eq. 49.17)
    e_pi = math.sqrt(q * q + mpi * mpi)
    e_phi = math.sqrt(q * q + mass * mass)
    while done < n:
        m = min(BATCH, n - done)
        done += m
        gs = rng.standard_normal((3, m))
        p = g["beam.momentum"] * (1 + g["beam.momentum_spread"] * gs[0])
        tx, ty = g["beam.divergence"] * gs[1], g["beam.divergence"] * gs[2]
        nrm = np.sqrt(1 + tx * tx + ty * ty)
        kx, ky, kz = p * tx / nrm, p * ty / nrm, p / nrm
        ek = np.sqrt(p * p + mk * mk)
        lam_k = p / mk * C.CTAU_KPLUS
        smax = (g["fiducial.z_max"] - g["fiducial.z_min"]) * nrm
        w = -np.expm1(-smax / lam_k)
        sk = -lam_k * np.log1p(-rng.random(m) * w)
        vx, vy, vz = sk * tx / nrm, sk * ty / nrm, g["fiducial.z_min"] + sk / nrm
        cost = 2 * rng.random(m) - 1
        phi = 2 * math.pi * rng.random(m)
        sint = np.sqrt(1 - cost * cost)
        ux, uy, uz = sint * np.cos(phi), sint * np.sin(phi), cost
        hx, hy, hz = _boost(q * ux, q * uy, q * uz, e_pi, kx, ky, kz, ek, mk)
        fx, fy, fz = _boost(-q * ux, -q * uy, -q * uz, e_phi, kx, ky, kz, ek, mk)
        # smeared K+ (GTK) and pi+ (STRAW): momentum (1 + rel g), slopes + theta g
        gk, gp = rng.standard_normal((3, m)), rng.standard_normal((3, m))
        ph = np.sqrt(hx * hx + hy * hy + hz * hz)

        def smear(px, py, pz, pm, rel, th, gg):
            sx, sy = px / pz + th * gg[0], py / pz + th * gg[1]
            qq = pm * (1 + rel * gg[2])
            nn = np.sqrt(1 + sx * sx + sy * sy)
            return qq * sx / nn, qq * sy / nn, qq / nn

        rkx, rky, rkz = smear(kx, ky, kz, p, g["resolution.gtk_momentum"],
                              g["resolution.gtk_angle"], gk)
        rel = np.sqrt(g["resolution.straw_momentum_constant"] ** 2
                      + (g["resolution.straw_momentum_slope"] * ph) ** 2)
        rx, ry, rz = smear(hx, hy, hz, ph, rel, g["resolution.straw_angle"], gp)
        p_reco = np.sqrt(rx * rx + ry * ry + rz * rz)
        de = np.sqrt(rkx ** 2 + rky ** 2 + rkz ** 2 + mk * mk) - np.sqrt(p_reco ** 2 + mpi * mpi)
        m2 = de * de - ((rkx - rx) ** 2 + (rky - ry) ** 2 + (rkz - rz) ** 2)
        sel = _track(planes, g["magnet.z"], g["magnet.pt_kick"], vx, vy, vz, hx, hy, hz)
        sel &= (g["cuts.p_min"] < p_reco) & (p_reco < g["cuts.p_max"])
        sel &= (((g["cuts.m2miss_r1_min"] < m2) & (m2 < g["cuts.m2miss_r1_max"]))
                | ((g["cuts.m2miss_r2_min"] < m2) & (m2 < g["cuts.m2miss_r2_max"])))
        sw += w.sum()
        sw2 += (w * w).sum()
        sel_w += w[sel].sum()
        # phi from the vertex along its momentum: survival outside the veto cylinders
        pf = np.sqrt(fx * fx + fy * fy + fz * fz)
        v = (vx[sel], vy[sel], vz[sel])
        u = (fx[sel] / pf[sel], fy[sel] / pf[sel], fz[sel] / pf[sel])
        ivs = [_cylinder(v, u, *prm) for prm in vetoes]
        ws = w[sel]
        for i, ct in enumerate(ctau):
            a = (np.ones(ws.size) if not np.isfinite(ct) or mass <= 0
                 else _survival(ivs, pf[sel] / mass * ct))
            s[0, i] += (ws * a).sum()
            s[1, i] += ((ws * a) ** 2).sum()
            s[2, i] += (ws * ws * a).sum()
    return {"sw": np.array(sw), "sw2": np.array(sw2), "s": s, "sel_w": np.array(sel_w)}


def per_decay(t: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Invisible acceptance per K+ decay in the fiducial volume and its delta-method error."""
    sw, sw2, s = float(t["sw"]), float(t["sw2"]), t["s"]
    r = s[0] / sw
    return r, np.sqrt(np.maximum(s[1] - 2 * r * s[2] + r * r * sw2, 0.0)) / sw


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mass", type=float, default=100.0, help="phi mass [MeV]")
    ap.add_argument("--ctau", type=float, nargs="*", default=[1e3, 1e4, 1e5, 1e6, math.inf],
                    help="c tau grid [mm]")
    ap.add_argument("--n", type=float, default=1e6, help="K+ entering the fiducial volume")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    ct = np.array(a.ctau)
    t = time.perf_counter()
    tot = run(a.mass, ct, int(a.n), a.seed)
    dt = time.perf_counter() - t
    print(f"NumPy NA62 chain, K+ -> pi+ phi, m = {a.mass:g} MeV: {a.n:.0e} K+ in {dt:.1f} s "
          f"({a.n / dt / 1e6:.2f} M/s)")
    acc, err = per_decay(tot)
    for c, x, e in zip(ct, acc, err, strict=True):
        print(f"  c tau {c:10.4g} mm: invisible acceptance per K+ decay {x:.4e} +- {e:.1e}")


if __name__ == "__main__":
    main()
