"""CHARM: parents from the copper dump, off-axis decay volume, daughters, expected events."""

from __future__ import annotations

import math

import awkward as ak
import numpy as np
import pytest
import vector

import kotosim
from kotosim import constants as C
from kotosim.model import ScalarModel

vector.register_awkward()
CTAU = [1e-3, 1e4, 1e5, 1e9]  # mm
LAM_ABS = 153.0  # mm, geometry/charm.toml


@pytest.fixture(scope="module")
def charm():
    return kotosim.simulate("charm", mass=200.0, ctau=CTAU, n_events=40_000, seed=3,
                            sample_size=40_000, options={"br": 1e-9})


def _box_interval(v, u):
    """Entry/exit path lengths through the CHARM decay box, slab method in numpy."""
    lo = np.array([-1500.0, 3300.0, 480_000.0])
    hi = np.array([1500.0, 6300.0, 515_000.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (lo[:, None] - v) / u
        t2 = (hi[:, None] - v) / u
    a = np.maximum(np.max(np.minimum(t1, t2), axis=0), 0.0)
    b = np.min(np.maximum(t1, t2), axis=0)
    return np.where(b > a, a, 0.0), np.where(b > a, b, 0.0)


def test_kaon_weight_is_decay_before_absorption(charm):
    s = charm.sample  # K+ (the main parent at 200 MeV)
    p = ak.to_numpy(s.parent.p)
    lam = p / C.M_KPLUS * C.CTAU_KPLUS
    np.testing.assert_allclose(ak.to_numpy(s.w_parent), LAM_ABS / (LAM_ABS + lam), rtol=1e-9)
    # decay competes with absorption: the flight is exponential with length
    # lam_abs lam/(lam_abs + lam) (~15 cm, inside the dump), event by event
    lc = LAM_ABS * lam / (LAM_ABS + lam)
    from scipy import stats

    assert stats.kstest(ak.to_numpy(s.parent_flight) / lc, "expon").pvalue > 1e-3


def test_off_axis_box_intervals_against_numpy(charm):
    s = charm.sample
    v = np.stack([ak.to_numpy(s.vertex[c]) for c in "xyz"])
    u = np.stack([ak.to_numpy(s.phi[c]) for c in ("px", "py", "pz")])
    u /= np.linalg.norm(u, axis=0)
    l1, l2 = _box_interval(v, u)
    hit = l2 > l1
    assert hit.sum() > 20  # phi towards a box 3.3-6.3 m off axis at 480-515 m
    np.testing.assert_allclose(ak.to_numpy(s.signal_l1), l1, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(ak.to_numpy(s.signal_l2), l2, rtol=1e-9, atol=1e-6)
    # every hit is ~ 7-13 mrad off axis
    ang = np.hypot(u[0], u[1])[hit]
    assert ang.min() > 5e-3 and ang.max() < 15e-3


def test_long_lifetime_decay_in_volume_is_path_over_lambda(charm):
    s = charm.sample
    w = ak.to_numpy(s.w_parent)
    dl = ak.to_numpy(s.signal_l2 - s.signal_l1)
    p = ak.to_numpy(s.phi.p)
    expect = np.sum(w * dl * 200.0 / (p * CTAU[-1])) / w.size
    assert charm.acceptance["decay_in_volume_kplus"][-1] == pytest.approx(expect, rel=1e-4)
    assert charm.acceptance["decay_in_volume_kplus"][0] == 0.0  # decays in the dump


def test_daughters_and_expected_events(charm):
    a = charm.acceptance
    for par in ("kplus", "kminus", "kl", "bplus", "b0"):
        for ch in ("ee", "mumu", "gammagamma"):
            assert np.all(a[f"{ch}_{par}"] <= a[f"decay_in_volume_{par}"] * (1 + 1e-12))
        assert np.all(a[f"detected_{par}"] >= 0)
    assert np.all(a["mumu_kplus"] == 0)  # 200 MeV < 2 m_mu
    assert np.all(a["ee_kplus"][1:] > 0) and np.all(a["gammagamma_kplus"][1:] > 0)
    np.testing.assert_allclose(a["expected_events"], 1e-9 * a["events_per_unit_br"],
                               rtol=1e-12)


def test_expected_events_for_a_model_point_use_its_brs():
    m = ScalarModel(150.0, 0.01, 1.0)
    r = kotosim.simulate("charm", mass=150.0, ctau=[m.ctau], n_events=5000, seed=2,
                         hists=False, options={"model": m})
    a = r.acceptance
    brs = m.branching_ratios
    det = sum(brs[k] * eff * a[f"{k}_kplus"][0] for k, eff in
              (("ee", 0.51), ("mumu", 0.85), ("gammagamma", 0.51)))
    assert a["detected_kplus"][0] == pytest.approx(det, rel=1e-12)
    assert a["expected_events"][0] > 0
    with pytest.raises(ValueError, match="options"):
        kotosim.simulate("charm", mass=150.0, n_events=10, options={"bogus": 1})


def test_charm_reproducible_on_one_and_two_threads():
    kw = dict(mass=300.0, ctau=[1e4, math.inf], n_events=20_000, seed=5, chunk_size=4096,
              hists=False)
    r1 = kotosim.simulate("charm", threads=1, **kw)
    r2 = kotosim.simulate("charm", threads=2, **kw)
    for k in r1.acceptance:
        np.testing.assert_array_equal(r1.acceptance[k], r2.acceptance[k])


@pytest.mark.parametrize("name", ["na62", "lhcb", "charm"])
def test_scan_blocks_merge_to_simulate(name):
    """scan_block over every block, merged in order, gives what simulate gives."""
    from kotosim import engine
    from kotosim.experiments import get

    geo = kotosim.load_geometry(name)
    exp = get(name)
    ct = np.array([1e3, 1e5])
    n = 150_000  # three chunks of the default size, one block
    blocks = engine.blocks(n, engine.DEFAULT_CHUNK_SIZE)
    assert exp.reference_block is None
    fin = exp.scan_finish(geo, 100.0, ct, engine.merge(
        exp.scan_block(geo, 100.0, ct, n, 7, 0, b) for b in blocks), None)
    assert np.all(np.isfinite(fin["acceptance"])) and np.all(fin["error"] >= 0)
    if name != "charm":  # CHARM's scan acceptance is the yield-weighted detection probability
        r = kotosim.simulate(name, mass=100.0, ctau=ct, n_events=n, seed=7, hists=False)
        np.testing.assert_allclose(fin["acceptance"], r.acceptance[r.config["main_key"]],
                                   rtol=1e-12)
