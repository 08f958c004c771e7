"""The faster decay-in-flight kernel gives the same events as before (issue 10).

"Before" is the frozen kernel of ``validation/_flight_before`` (main at 83876bb), run in the
same test session on the same seeds: same uniforms consumed in the same order, so every event
passes or fails the same cuts (checked on the per-event sample) and the acceptances agree to
1e-12 relative (the new kernel inlines helpers and takes sin/cos from a polynomial, which moves
the last bits of some numbers). Also: 1 and 2 threads give identical results, the plot's fine
c tau curve consumes no random number, and the sin/cos and VELO-count shortcuts are exact.

CHARM and LHCb no longer draw a decay point for each c tau (issue 8: the daughters are followed
over exact path intervals, :func:`kotosim.kernels.flight.seen_intervals`): their events differ
from the frozen kernel's from the first decay in the signal volume on, and their acceptances
are checked against it statistically (every pull within 4 sigma).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numba
import numpy as np
import pytest

import kotosim
from kotosim.kernels import flight as F
from kotosim.kernels import rng

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "validation"))
from _flight_before import before_kernel  # noqa: E402

RTOL = 1e-12
CASES = {  # experiment: (mass [MeV], c tau [mm])
    "na62": (100.0, [100.0, 1e4, 1e6, math.inf]),
    "charm": (200.0, [1e3, 1e5, math.inf]),
    "lhcb": (1000.0, [1.0, 100.0, 1e4]),
    "e949": (100.0, [100.0, 1e4, math.inf]),
}
N = 20_000


def _run(exp: str, **kw) -> kotosim.Result:
    mass, ctau = CASES[exp]
    return kotosim.simulate(exp, mass=mass, ctau=ctau, n_events=N, seed=3, chunk_size=4096,
                            sample_size=N, **kw)


def _same(a: kotosim.Result, b: kotosim.Result, rtol: float) -> None:
    assert a.acceptance.keys() == b.acceptance.keys()
    for k in a.acceptance:
        np.testing.assert_allclose(a.acceptance[k], b.acceptance[k], rtol=rtol, atol=0,
                                   err_msg=k)
        np.testing.assert_allclose(a.error[k], b.error[k], rtol=max(rtol, 1e-10), atol=0,
                                   err_msg=k)
    assert a.cutflow.keys() == b.cutflow.keys()
    for k in a.cutflow:
        assert [c[0] for c in a.cutflow[k]] == [c[0] for c in b.cutflow[k]]
        np.testing.assert_allclose([c[1] for c in a.cutflow[k]], [c[1] for c in b.cutflow[k]],
                                   rtol=rtol, atol=0)
    for k in a.hists:
        for ha, hb in zip(a.hists[k], b.hists[k], strict=True):
            np.testing.assert_allclose(ha.values(), hb.values(), rtol=rtol, atol=0)


IDENTICAL = ["e949", "na62"]  # the same random stream as the frozen kernel


@pytest.mark.parametrize("exp", IDENTICAL)
def test_same_events_as_before(exp):
    with before_kernel():
        old = _run(exp)
    new = _run(exp)
    _same(old, new, RTOL)
    # event by event: the same parents, the same cuts passed, the same weights
    sa, sb = old.sample, new.sample
    assert len(sa) == len(sb) == N
    np.testing.assert_array_equal(np.asarray(sa["selected"]), np.asarray(sb["selected"]))
    for field in ("w_parent", "h_p_reco", "parent_flight"):
        np.testing.assert_allclose(np.asarray(sa[field]), np.asarray(sb[field]), rtol=1e-12,
                                   atol=1e-9)
    np.testing.assert_allclose(np.asarray(sa["phi"].pz), np.asarray(sb["phi"].pz), rtol=1e-12,
                               atol=1e-9)
    assert np.asarray(sb["selected"]).sum() > 0


@pytest.mark.parametrize("exp", ["charm", "lhcb"])
def test_exact_daughters_agree_with_the_sampled_decay_points(exp):
    """The exact decay probability over the daughters' path intervals is the expectation of
    the frozen kernel's one-point-per-c-tau estimate: the same acceptances within the MC
    errors of both (independent events: the random streams part at the first decay point)."""
    with before_kernel():
        old = _run(exp)
    new = _run(exp)
    assert old.acceptance.keys() == new.acceptance.keys()
    n_compared = 0
    for k in old.acceptance:
        a, b = np.asarray(old.acceptance[k]), np.asarray(new.acceptance[k])
        ea, eb = np.asarray(old.error[k]), np.asarray(new.error[k])
        sig = np.sqrt(ea**2 + eb**2)
        has = sig > 0  # entries without an MC error (zero, or the one-formula estimate) skipped
        pull = np.abs(a - b)[has] / sig[has]
        assert np.all(pull < 4.0), (k, pull)
        n_compared += pull.size
    assert n_compared >= 6
    assert new.acceptance.keys() and any(np.any(np.asarray(v) > 0)
                                         for v in new.acceptance.values())


@pytest.mark.parametrize("exp", ["na62", "charm", "lhcb"])
def test_one_and_two_threads_identical(exp):
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        a = _run(exp)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        b = _run(exp)
    finally:
        numba.set_num_threads(old)
    _same(a, b, 0.0)


def test_scan_path_skips_only_the_curve():
    """curve=False (scans) leaves every other accumulator bit-identical and the curve zero."""
    from kotosim.experiments import na62

    geo = kotosim.load_geometry("na62")
    ct = np.array([1e3, math.inf])
    a = na62.run_channel(geo, 100.0, ct, 30_000, 5, hists=False, curve=True)
    b = na62.run_channel(geo, 100.0, ct, 30_000, 5, hists=False, curve=False)
    np.testing.assert_array_equal(a["counts"], b["counts"])
    np.testing.assert_array_equal(a["q"], b["q"])
    assert np.all(b["curve"] == 0.0) and np.any(a["curve"] > 0.0)


def test_sincos_2pi_accurate_and_same_uniforms():
    u = np.concatenate([np.random.default_rng(4).random(20_000),
                        np.arange(16) / 16.0, [1.0 - 2.0**-53, 2.0**-53]])
    got = np.array([rng.sincos_2pi(x) for x in u])
    ref = np.array([(math.sin(2 * math.pi * x), math.cos(2 * math.pi * x)) for x in u])
    # libm's own value carries the rounding of 2 pi u (up to 2 pi x 2^-53 = 7e-16)
    assert np.max(np.abs(got - ref)) < 1e-15
    np.testing.assert_allclose(np.hypot(got[:, 0], got[:, 1]), 1.0, rtol=0, atol=3e-16)
    # the polynomial Box-Muller pair consumes exactly the uniforms of the libm one
    s1 = rng.new_state(np.array([[1, 2, 3, 4]], dtype=np.uint64))[0]
    s2 = s1.copy()
    for _ in range(1000):
        g1 = rng.gauss_pair(s1)
        g2 = rng.gauss_pair(s2, True)
        assert abs(g1[0] - g2[0]) < 1e-14 and abs(g1[1] - g2[1]) < 1e-14
    np.testing.assert_array_equal(s1, s2)


def test_planes_crossed_stops_at_n_stop():
    planes = np.zeros((6, F.NPLANE))
    planes[:, 0] = np.arange(1.0, 7.0) * 100.0
    planes[:, 3] = 1e6  # full planes
    assert F.planes_crossed(planes, 0.0, 0.0, 0.0, 0.1, 0.0, 1.0) == 6
    for k in range(1, 8):
        assert F.planes_crossed(planes, 0.0, 0.0, 0.0, 0.1, 0.0, 1.0, k) == min(k, 6)
    assert F.planes_crossed(planes, 0.0, 0.0, 350.0, 0.1, 0.0, 1.0, 2) == 2
