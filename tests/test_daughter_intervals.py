"""The exact path intervals where phi's daughters are seen (kernels.flight.seen_intervals)
against the point rules they replace (daughters_seen, daughters_tracked) at random decay
points, on the CHARM calorimeter face, the LHCb VELO and planes with every kind of area."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kotosim.experiments import charm, lhcb
from kotosim.geometry import load_geometry
from kotosim.kernels import flight as F


def _scratch(planes: np.ndarray):
    """seen_intervals' scratch: the sweep's (st, sw, en, ew), each daughter's, ``one``; and
    the output array."""
    k = 3 * planes.shape[0] + 4
    return (*[np.zeros(2 * k) for _ in range(4)], *[np.zeros(k) for _ in range(4)],
            np.zeros((k, 2)), np.zeros((2 * k, 2)))


def _inside(iv: np.ndarray, m: int, t: float) -> bool:
    return any(iv[j, 0] < t < iv[j, 1] for j in range(m))


def _random_event(rng, spread: float, aim: tuple[float, float, float]):
    """A phi path (origin, unit direction towards ``aim``, spread about it) and two daughter
    momenta about it."""
    o = np.array([rng.normal(0, 5.0), rng.normal(0, 5.0), rng.uniform(-10.0, 10.0)])
    u = np.array(aim) / np.linalg.norm(aim) + rng.normal(0, spread, 3)
    u /= np.linalg.norm(u)
    d = []
    for _ in range(2):
        v = u + rng.normal(0, spread, 3)
        p = rng.uniform(1e3, 3e4)
        v = v / np.linalg.norm(v) * p
        d += [v[0], v[1], v[2], math.hypot(p, 100.0)]
    return o, u, tuple(d)


def _check(planes, n_req, n_need, rule, rng, spread, lo, hi, n_events, energies=None,
           aim=(0.0, 0.0, 1.0)):
    """For random events: every random t strictly inside/outside the intervals agrees with the
    point rule; returns the number of (event, t) pairs where the daughters were seen."""
    *scr, out = _scratch(planes)
    n_seen = 0
    for _ in range(n_events):
        o, u, d = _random_event(rng, spread, aim)
        ok = (True, True) if energies is None else energies(d)
        m = F.seen_intervals(planes, n_req, o[0], o[1], o[2], u[0], u[1], u[2], d, ok[0],
                             ok[1], n_need, lo, hi, *scr, out)
        for j in range(m):  # sorted, disjoint, inside [lo, hi]
            assert lo <= out[j, 0] < out[j, 1] <= hi
            assert j == 0 or out[j, 0] > out[j - 1, 1]
        for t in rng.uniform(lo, hi, 40):
            x, y, z = o + t * u
            want = rule(x, y, z, d)
            got = _inside(out, m, t)
            if want != got:  # only within rounding of an interval end
                ends = out[:m].ravel()
                assert m and np.min(np.abs(ends - t)) < 1e-9 * max(1.0, abs(t)), (t, out[:m])
            n_seen += want
    return n_seen


def test_charm_face_both_and_one_daughter_with_energy_windows():
    geo = load_geometry("charm")
    pl = charm.planes(geo)
    zc = pl[0, 0]
    rng = np.random.default_rng(5)

    def window(d):
        return tuple(2e3 <= d[4 * k + 3] <= 2.5e4 for k in range(2))

    for n_min in (1, 2):
        def rule(x, y, z, d, n_min=n_min):
            return F.daughters_seen(pl, x, y, z, d, 2e3, 2.5e4, n_min)

        seen = _check(pl, pl.shape[0], n_min, rule, rng, 2e-3, 0.9 * zc, 1.01 * zc, 400, window,
                      aim=(pl[0, 1], pl[0, 2], zc))
        assert seen > 500  # the comparison is not between two empty sets


def test_lhcb_velo_modules():
    geo = load_geometry("lhcb")
    pl = lhcb.velo_modules(geo)
    rng = np.random.default_rng(7)
    for n_min in (1, 3, 5):
        def rule(x, y, z, d, n_min=n_min):
            return F.daughters_tracked(pl, x, y, z, d, n_min)

        seen = _check(pl, n_min, 2, rule, rng, 0.05, -50.0, 600.0, 400)
        assert seen > 500


@pytest.mark.parametrize("kind", ["square", "octagon", "annulus", "hole"])
def test_every_kind_of_area(kind):
    """Two planes with one kind of area each; every plane must be hit (n_req = 2, as
    track_accepted), both daughters (n_need = 2)."""
    row = {"square": [0, 1.0, -2.0, 40.0, 0, 0, 0, 0, 0],
           "octagon": [0, 0.5, 0.0, 0, 45.0, 0, 0, 0, 0],
           "annulus": [0, 0.0, 1.0, 0, 0, 8.0, 40.0, 0, 0],
           "hole": [0, 0.0, 0.0, 50.0, 0, 0, 0, 10.0, 3.0]}[kind]
    pl = np.array([[1000.0] + row[1:], [1500.0] + row[1:]])
    rng = np.random.default_rng(11)

    def rule(x, y, z, d):
        return F.daughters_hit(pl, x, y, z, d, 0.0, 1e12)

    seen = _check(pl, 2, 2, rule, rng, 0.03, -20.0, 1600.0, 300)
    assert seen > 300


def test_a_straight_case_by_hand():
    """phi along z from the origin, daughters parallel to it at x slopes +-0.01: on a face
    |x| <= 10 at z = 1000 both are seen while 0.01 (1000 - t) <= 10, i.e. t >= 0."""
    pl = np.array([[1000.0, 0.0, 0.0, 10.0, 0, 0, 0, 0, 0]])
    d = (10.0, 0.0, 1000.0, 1000.05, -10.0, 0.0, 1000.0, 1000.05)
    *scr, out = _scratch(pl)
    m = F.seen_intervals(pl, 1, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, d, True, True, 2, -500.0, 900.0,
                         *scr, out)
    assert m == 1 and out[0, 0] == 0.0 and out[0, 1] == 900.0
    # a face of half-size 5: 0.01 (1000 - t) <= 5 -> t >= 500
    pl[0, 3] = 5.0
    m = F.seen_intervals(pl, 1, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, d, True, True, 2, -500.0, 900.0,
                         *scr, out)
    assert m == 1 and out[0, 0] == pytest.approx(500.0, abs=1e-9) and out[0, 1] == 900.0
    # daughter 1 out of its energy window vetoes where it is seen; one daughter is enough
    m = F.seen_intervals(pl, 1, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, d, True, False, 1, -500.0,
                         900.0, *scr, out)
    assert m == 0
