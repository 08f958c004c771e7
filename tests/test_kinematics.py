"""Kinematics kernels: conservation laws, endpoints, isotropy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numba import njit
from scipy import stats

from kotosim import constants as C
from kotosim.kernels.kinematics import (
    boost_to_lab,
    decay_two_body,
    isotropic_direction,
    two_body_momentum,
)
from kotosim.kernels.rng import new_state, uniform


def _state(seed):
    return new_state(np.random.SeedSequence(seed).generate_state(4, np.uint64))[0]


@njit
def _decays_kernel(n, rs, m_parent, m1, m2):
    out = np.empty((n, 13))
    for i in range(n):
        p = 5000.0 * uniform(rs)
        ux, uy, uz = isotropic_direction(rs)
        e = math.sqrt(p * p + m_parent * m_parent)
        d = decay_two_body(rs, p * ux, p * uy, p * uz, e, m_parent, m1, m2)
        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = p * ux, p * uy, p * uz, e
        for k in range(8):
            out[i, 4 + k] = d[k]
        out[i, 12] = 0.0
    return out


def _decays(n, seed, m_parent, m1, m2):
    return _decays_kernel(n, _state(seed), m_parent, m1, m2)


@njit
def _dirs_kernel(n, rs):
    out = np.empty((n, 3))
    for i in range(n):
        out[i, 0], out[i, 1], out[i, 2] = isotropic_direction(rs)
    return out


def _dirs(n, seed):
    return _dirs_kernel(n, _state(seed))


def _mass(px, py, pz, e):
    return np.sqrt(np.maximum(e**2 - px**2 - py**2 - pz**2, 0.0))


def test_two_body_momentum_against_hand_value():
    # K_L -> pi0 pi0 pi0 is 3-body; use K+ -> pi+ pi0: p* = 205.14 MeV (PDG kinematics)
    p = two_body_momentum(C.M_KPLUS, C.M_PIPLUS, C.M_PI0)
    lam = ((C.M_KPLUS**2 - (C.M_PIPLUS + C.M_PI0) ** 2)
           * (C.M_KPLUS**2 - (C.M_PIPLUS - C.M_PI0) ** 2))
    assert p == pytest.approx(math.sqrt(lam) / (2 * C.M_KPLUS), rel=1e-14)
    assert p == pytest.approx(205.14, abs=0.05)
    assert two_body_momentum(100.0, 60.0, 50.0) == 0.0  # below threshold


@pytest.mark.parametrize("m_phi", [0.0, 50.0, 200.0, 362.0])
def test_two_body_conserves_four_momentum_and_masses(m_phi):
    d = _decays(20_000, 3, C.M_KL, C.M_PI0, m_phi)
    parent, a, b = d[:, 0:4], d[:, 4:8], d[:, 8:12]
    scale = parent[:, 3:4]
    np.testing.assert_allclose((a + b - parent) / scale, 0.0, atol=1e-12)
    np.testing.assert_allclose(_mass(*a.T), C.M_PI0, rtol=1e-7, atol=1e-6)
    np.testing.assert_allclose(_mass(*b.T), m_phi, atol=2e-4 * max(m_phi, 1.0) + 1e-3)


def test_boost_inverts_and_handles_large_gamma():
    # a 50 MeV particle at 400 GeV (gamma = 8000): boost a rest-frame vector and back
    m, p = 50.0, 4.0e5
    e = math.hypot(p, m)
    q = boost_to_lab(10.0, -5.0, 20.0, math.sqrt(525.0 + 30.0**2), 0.0, 0.0, p, e, m)
    back = boost_to_lab(q[0], q[1], q[2], q[3], 0.0, 0.0, -p, e, m)
    # the round trip cancels lab components of size ~gamma^2 * 20 MeV: allow gamma^2 * eps
    np.testing.assert_allclose(back, (10.0, -5.0, 20.0, math.sqrt(525.0 + 900.0)),
                               atol=8000.0**2 * 40.0 * 2.3e-16)
    # invariant mass preserved
    assert _mass(*q) == pytest.approx(30.0, rel=1e-6)


def test_isotropic_direction_is_uniform_on_the_sphere():
    u = _dirs(200_000, 7)
    np.testing.assert_allclose(np.linalg.norm(u, axis=1), 1.0, rtol=1e-12)
    # cos(theta) ~ U(-1, 1) and phi ~ U(-pi, pi): KS tests at fixed seed
    assert stats.kstest(u[:, 2], stats.uniform(loc=-1, scale=2).cdf).pvalue > 1e-3
    phi = np.arctan2(u[:, 1], u[:, 0])
    assert stats.kstest(phi, stats.uniform(loc=-math.pi, scale=2 * math.pi).cdf).pvalue > 1e-3
    # mean vector compatible with 0 (sigma = 1/sqrt(3 n) per component)
    assert np.all(np.abs(u.mean(axis=0)) < 5 / math.sqrt(3 * len(u)))
