"""Relativistic kinematics kernels (units: MeV, natural c = 1 for momenta/energies)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._flags import FASTMATH
from .rng import sincos_2pi, uniform


@njit(cache=True, fastmath=FASTMATH)
def kallen(a: float, b: float, c: float) -> float:
    """Kallen function lambda(a, b, c) = a^2 + b^2 + c^2 - 2ab - 2ac - 2bc."""
    return a * a + b * b + c * c - 2.0 * (a * b + a * c + b * c)


@njit(cache=True, fastmath=FASTMATH)
def two_body_momentum(m_parent: float, m1: float, m2: float) -> float:
    """Daughter momentum [MeV] in the rest frame of a parent of mass ``m_parent`` -> m1 + m2.

    p* = lambda^(1/2)(M^2, m1^2, m2^2) / (2 M)  (PDG Review "Kinematics", eq. 49.17).
    Returns 0 at and below threshold.
    """
    lam = kallen(m_parent * m_parent, m1 * m1, m2 * m2)
    if lam <= 0.0:
        return 0.0
    return math.sqrt(lam) / (2.0 * m_parent)


@njit(cache=True, fastmath=FASTMATH)
def isotropic_direction(rs: np.ndarray, poly: bool = False) -> tuple[float, float, float]:
    """Unit vector uniformly distributed on the sphere (cos(theta) and phi uniform).
    ``poly``: cos and sin of phi from :func:`kotosim.kernels.rng.sincos_2pi` (same uniforms)."""
    cost = 2.0 * uniform(rs) - 1.0
    if poly:
        sn, cs = sincos_2pi(uniform(rs))
        sint = math.sqrt(max(0.0, 1.0 - cost * cost))
        return sint * cs, sint * sn, cost
    phi = 2.0 * math.pi * uniform(rs)
    sint = math.sqrt(max(0.0, 1.0 - cost * cost))
    return sint * math.cos(phi), sint * math.sin(phi), cost


@njit(cache=True, fastmath=FASTMATH)
def _boost(px: float, py: float, pz: float, e: float, pdot: float, bpx: float, bpy: float,
           bpz: float, be: float, ibm: float, ibe: float) -> tuple[float, float, float, float]:
    """:func:`boost_to_lab` given P.p* = ``pdot``, 1/M = ``ibm`` and 1/(E_P + M) = ``ibe``."""
    f = (e + pdot * ibe) * ibm
    return px + f * bpx, py + f * bpy, pz + f * bpz, (be * e + pdot) * ibm


@njit(cache=True, fastmath=FASTMATH)
def boost_to_lab(
    px: float, py: float, pz: float, e: float,
    bpx: float, bpy: float, bpz: float, be: float, bm: float,
) -> tuple[float, float, float, float]:
    """Boost (px, py, pz, e), given in the rest frame of a parent with lab four-momentum
    (bpx, bpy, bpz, be) and mass ``bm``, into the lab frame.

    Uses the form E = (E_P E* + P.p*)/M, p = p* + P (E* + P.p*/(E_P + M))/M
    (Jackson, Classical Electrodynamics, eq. 11.19 written with P = gamma*beta*M), which stays
    accurate for gamma >> 1 where 1/sqrt(1 - beta^2) loses digits.
    """
    return _boost(px, py, pz, e, bpx * px + bpy * py + bpz * pz, bpx, bpy, bpz, be, 1.0 / bm,
                  1.0 / (be + bm))


@njit(cache=True, fastmath=FASTMATH)
def decay_two_body(
    rs: np.ndarray, bpx: float, bpy: float, bpz: float, be: float, bm: float, m1: float, m2: float,
    poly: bool = False,
) -> tuple[float, float, float, float, float, float, float, float]:
    """Isotropic two-body decay of a parent (lab four-momentum, mass ``bm``) into m1 + m2,
    drawing its direction from the generator state ``rs``.

    Returns the lab four-momenta (p1x, p1y, p1z, E1, p2x, p2y, p2z, E2) in MeV. ``poly``: see
    :func:`isotropic_direction`.
    """
    q = two_body_momentum(bm, m1, m2)
    ux, uy, uz = isotropic_direction(rs, poly)
    e1 = math.sqrt(q * q + m1 * m1)
    e2 = math.sqrt(q * q + m2 * m2)
    # both daughters boosted by _boost with p2* = -p1*: P.p* and the reciprocals are shared
    px, py, pz = q * ux, q * uy, q * uz
    ibm = 1.0 / bm
    ibe = 1.0 / (be + bm)
    pdot = bpx * px + bpy * py + bpz * pz
    a = _boost(px, py, pz, e1, pdot, bpx, bpy, bpz, be, ibm, ibe)
    b = _boost(-px, -py, -pz, e2, -pdot, bpx, bpy, bpz, be, ibm, ibe)
    return a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]
