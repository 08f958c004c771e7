"""Path lengths through volumes and decay-in-volume probabilities."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kotosim.kernels.propagation import (
    decay_probability,
    intervals,
    ray_box,
    ray_cylinder,
    union_intervals,
    union_probability,
)

S2 = math.sqrt(0.5)


def test_cylinder_on_axis_and_from_inside():
    # ray along z from the origin through a cylinder z in [10, 20], r = 5
    assert ray_cylinder(0, 0, 0, 0, 0, 1, 0, 0, 10, 20, 5) == (10, 20)
    # starting inside: L1 = 0
    assert ray_cylinder(0, 0, 15, 0, 0, 1, 0, 0, 10, 20, 5) == (0, 5)
    # starting past it: empty
    assert ray_cylinder(0, 0, 25, 0, 0, 1, 0, 0, 10, 20, 5) == (0, 0)


def test_cylinder_off_axis_hand_computed():
    # cylinder centred at (100, 0), r = 10, z in [0, 1000]; ray from origin at 45 deg in x-z
    l1, l2 = ray_cylinder(0, 0, 0, S2, 0, S2, 100, 0, 0, 1000, 10)
    # x = s/sqrt2 enters at x = 90 and leaves at x = 110
    assert l1 == pytest.approx(90 * math.sqrt(2), rel=1e-12)
    assert l2 == pytest.approx(110 * math.sqrt(2), rel=1e-12)
    # a transverse ray (dz = 0) at z = 500 crossing a chord at y = 6: half-chord 8
    l1, l2 = ray_cylinder(0, 6, 500, 1, 0, 0, 100, 0, 0, 1000, 10)
    assert (l1, l2) == pytest.approx((92, 108), rel=1e-12)


def test_cylinder_miss_and_graze():
    assert ray_cylinder(0, 20, 0, 0, 0, 1, 0, 0, 10, 20, 5) == (0, 0)  # parallel, outside
    assert ray_cylinder(0, 0, 0, 1, 0, 0, 100, 10, 0, 1000, 10) == (0, 0)  # tangent: zero length
    assert ray_cylinder(0, 0, 0, 0, 0, -1, 0, 0, 10, 20, 5) == (0, 0)  # going away


def test_box_hand_computed():
    # box 3 m x 3 m x 35 m at 480-515 m, 3.5-6.5 m off axis in y (CHARM-like), mm
    box = (-1500, 1500, 3500, 6500, 480_000, 515_000)
    # ray aimed at the box centre (0, 5000, 497500)
    d = np.array([0.0, 5000.0, 497500.0])
    d /= np.linalg.norm(d)
    l1, l2 = ray_box(0, 0, 0, *d, *box)
    assert l1 == pytest.approx(480_000 / d[2], rel=1e-12)
    assert l2 == pytest.approx(515_000 / d[2], rel=1e-12)
    # a ray along the axis misses it
    assert ray_box(0, 0, 0, 0, 0, 1, *box) == (0, 0)
    # leaving through the side: aim at the top face
    d = np.array([0.0, 6500.0, 500_000.0])
    d /= np.linalg.norm(d)
    l1, l2 = ray_box(0, 0, 0, *d, *box)
    assert l1 == pytest.approx(480_000 / d[2], rel=1e-12)
    assert l2 == pytest.approx(500_000 / d[2], rel=1e-9)


@pytest.mark.parametrize("lam", [1e-6, 1e-3, 1.0, 1e3, 1e6, 1e9, 1e12, 1e15])
def test_decay_probability_finite_and_bounded(lam):
    for l1, l2 in ((0.0, 10.0), (5.0, 6.0), (1e5, 2e5), (0.0, 1e9)):
        p = decay_probability(l1, l2, lam)
        assert 0.0 <= p <= 1.0 and math.isfinite(p)


def test_decay_probability_limits():
    # long lifetime: P -> (L2 - L1)/lambda
    assert decay_probability(100.0, 110.0, 1e9) == pytest.approx(10.0 / 1e9, rel=1e-6)
    # short lifetime: P -> 0 for a volume away from the start, -> 1 from the start
    assert decay_probability(100.0, 110.0, 1e-3) == 0.0
    assert decay_probability(0.0, 110.0, 1e-3) == pytest.approx(1.0)
    assert decay_probability(5.0, 6.0, math.inf) == 0.0
    # exact exponential law
    assert decay_probability(1.0, 3.0, 2.0) == pytest.approx(math.exp(-0.5) - math.exp(-1.5))


def test_union_merges_overlaps():
    vol = np.array([[0, 0, 0, 0, 100, 50, 0, 0], [0, 0, 0, 50, 300, 20, 0, 0],
                    [1, -1, 1, -1, 1, 500, 600, 0]], dtype=float)
    iv = np.zeros((3, 2))
    intervals(vol, 0, 0, 0, 0, 0, 1, iv)
    merged = np.zeros((3, 2))
    m = union_intervals(iv, merged)
    assert m == 2
    np.testing.assert_allclose(merged[:2], [[0, 300], [500, 600]])
    lam = 250.0
    expect = (1 - math.exp(-300 / lam)) + (math.exp(-500 / lam) - math.exp(-600 / lam))
    assert union_probability(merged, m, lam) == pytest.approx(expect)


# --- issue 4: more hand-computed intervals, limits over the whole c tau range ----------------
def test_box_off_axis_start_inside_and_miss():
    box = (1000, 3000, -500, 500, 0, 10_000)  # x in [1, 3] m, off axis
    # starting inside, going along +z: leaves through the far z face
    assert ray_box(2000, 0, 4000, 0, 0, 1, *box) == (0, 6000)
    # from the origin at 45 deg in x-z: enters at x = 1000, leaves at x = 3000
    l1, l2 = ray_box(0, 0, 0, S2, 0, S2, *box)
    assert (l1, l2) == pytest.approx((1000 * math.sqrt(2), 3000 * math.sqrt(2)), rel=1e-12)
    # aimed below the box (y = -600 plane): misses
    assert ray_box(0, -600, 0, S2, 0, S2, *box) == (0, 0)
    # going away from it
    assert ray_box(0, 0, 0, -S2, 0, S2, *box) == (0, 0)


def test_box_graze_edge_and_face():
    box = (0, 10, 0, 10, 0, 10)
    # a ray touching only the edge x = 10, y = 0 at one point: zero length
    d = np.array([1.0, 1.0, 0.0]) / math.sqrt(2)
    assert ray_box(0, -10, 5, *d, *box) == (0, 0)
    # a ray sliding along the face y = 0 (inside by the closed-interval convention)
    assert ray_box(-5, 0, 5, 1, 0, 0, *box) == (5, 15)


def test_cylinder_off_axis_start_inside():
    # centre (50, 50), r = 10, z in [0, 100]; start at the centre, move along +x
    l1, l2 = ray_cylinder(50, 50, 20, 1, 0, 0, 50, 50, 0, 100, 10)
    assert (l1, l2) == pytest.approx((0, 10), rel=1e-12)
    # start inside, leave through the end cap: 30 deg to z, x-extent 10 reached later
    d = (math.sin(0.1), 0.0, math.cos(0.1))
    l1, l2 = ray_cylinder(50, 50, 90, *d, 50, 50, 0, 100, 10)
    assert l1 == 0 and l2 == pytest.approx(10 / math.cos(0.1), rel=1e-12)


@pytest.mark.parametrize("ctau_m", np.logspace(-9, 12, 43))
def test_decay_probability_over_ctau_range(ctau_m):
    """Realistic lambda = (p/m) c tau from 1e-9 m to 1e12 m: P in [0, 1], never NaN."""
    for p_over_m in (1.0, 100.0, 1e5):
        lam = p_over_m * ctau_m * 1000.0
        for l1, l2 in ((0.0, 5.0), (480_000.0, 515_000.0), (0.0, 2.6e5), (1e3, 1e3)):
            p = decay_probability(l1, l2, lam)
            assert 0.0 <= p <= 1.0 and not math.isnan(p)


def test_decay_probability_long_and_short_lifetime_limits():
    l1, l2 = 480_000.0, 515_000.0
    for lam in (1e12, 1e15, 1e18):
        assert decay_probability(l1, l2, lam) == pytest.approx((l2 - l1) / lam, rel=1e-6)
    for lam in (1e-3, 1.0, 1e3):
        assert 0.0 <= decay_probability(l1, l2, lam) <= math.exp(-l1 / lam)
    assert decay_probability(l1, l2, 1.0) == 0.0


def test_survival_outside_is_exact_when_tiny():
    from kotosim.kernels.flight import survival_outside

    mg = np.array([[0.0, 100.0], [150.0, 200.0]])
    lam = 2.0
    # 1 - P(inside) would round to 0; the complement sum keeps the gap and the tail
    expect = (math.exp(-100 / lam) - math.exp(-150 / lam)) + math.exp(-200 / lam)
    assert survival_outside(mg, 2, lam) == pytest.approx(expect, rel=1e-12)
    assert survival_outside(mg, 2, math.inf) == 1.0
    assert survival_outside(mg, 0, 5.0) == 1.0
    lam = 1e9
    inside = union_probability(mg, 2, lam)
    assert survival_outside(mg, 2, lam) == pytest.approx(1 - inside, rel=1e-12)
