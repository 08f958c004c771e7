"""E949: K+ -> pi+ phi at rest -- kinematics, isotropy, the exponential escape law,
lifetime limits, pnn1/pnn2 windows, reproducibility, bad input."""

from __future__ import annotations

import math
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import vector
from conftest import assert_bad_geometry
from scipy import integrate, stats

import kotosim
from kotosim import constants as C
from kotosim.cli import main
from kotosim.geometry import _geometry_dir
from kotosim.kernels.kinematics import two_body_momentum

vector.register_awkward()
CTAU = [1e-6, 30.0, 300.0, 3000.0, math.inf]  # mm
POINT = {"target.stop_radius": 0.0, "target.stop_half_length": 0.0}  # K+ stops at the origin


@pytest.fixture(scope="module")
def unsmeared():
    return kotosim.simulate("e949", mass=50.0, ctau=CTAU, n_events=40_000, seed=3,
                            smear=False, sample_size=40_000)


def test_pion_momentum_is_the_two_body_endpoint_at_rest(unsmeared):
    s = unsmeared.sample
    pstar = two_body_momentum(C.M_KPLUS, C.M_PIPLUS, 50.0)
    # p* = sqrt(lambda(M^2, m1^2, m2^2))/(2M), written out here independently of the kernel
    lam = (C.M_KPLUS**2 - (C.M_PIPLUS + 50.0) ** 2) * (C.M_KPLUS**2 - (C.M_PIPLUS - 50.0) ** 2)
    assert pstar == pytest.approx(math.sqrt(lam) / (2 * C.M_KPLUS), rel=1e-12)
    np.testing.assert_allclose(ak.to_numpy(s.h.p), pstar, rtol=1e-9)
    np.testing.assert_allclose(ak.to_numpy(s.phi.p), pstar, rtol=1e-9)
    # K+ at rest = pi+ + phi: zero total momentum, invariant mass m_K
    k = s.h + s.phi
    np.testing.assert_allclose(ak.to_numpy(k.p), 0.0, atol=1e-9)
    np.testing.assert_allclose(ak.to_numpy(k.mass), C.M_KPLUS, rtol=1e-10)
    np.testing.assert_allclose(ak.to_numpy(s.parent.p), 0.0, atol=0.0)
    # unsmeared: the reconstructed momentum is p*, the missing mass is m_phi
    np.testing.assert_allclose(ak.to_numpy(s.h_p_reco), pstar, rtol=1e-9)
    np.testing.assert_allclose(ak.to_numpy(s.m2miss_reco), 50.0**2, rtol=1e-6)


def test_decay_is_isotropic_and_stops_fill_the_target(unsmeared):
    s = unsmeared.sample
    cost = ak.to_numpy(s.h.costheta)
    phi = ak.to_numpy(s.h.phi)
    assert stats.kstest(cost, "uniform", args=(-1.0, 2.0)).pvalue > 1e-3
    assert stats.kstest(phi, "uniform", args=(-math.pi, 2 * math.pi)).pvalue > 1e-3
    # pi+ selected only inside |cos theta| < 0.5: half of the decays (binomial error)
    sel = ak.to_numpy(s.selected) == 1
    assert np.all(np.abs(cost[sel]) < 0.5)
    assert sel.mean() == pytest.approx(0.5, abs=5 * math.sqrt(0.25 / sel.size))
    # stopping points: uniform in the r < 4 cm, |z| < 10 cm cylinder
    r = np.hypot(ak.to_numpy(s.vertex.x), ak.to_numpy(s.vertex.y))
    z = ak.to_numpy(s.vertex.z)
    assert r.max() <= 40.0 and np.abs(z).max() <= 100.0
    assert stats.kstest((r / 40.0) ** 2, "uniform").pvalue > 1e-3
    assert stats.kstest(z, "uniform", args=(-100.0, 200.0)).pvalue > 1e-3


def _escape(lam: float, cmax: float, radius: float, half: float) -> float:
    """Probability that phi from the centre of a cylinder (radius, half-length), flying at a
    polar angle uniform in |cos| < cmax, leaves it before decaying: quadrature of
    exp(-L(u)/lam), L(u) = min(R/sqrt(1-u^2), H/|u|)."""
    def f(u):
        path = min(radius / math.sqrt(1.0 - u * u), half / u if u > 0 else math.inf)
        return math.exp(-path / lam)
    kink = half / math.hypot(radius, half)  # where the exit moves from barrel to end cap
    pts = [kink] if kink < cmax else None
    return integrate.quad(f, 0.0, cmax, points=pts, epsabs=1e-13)[0] / cmax


@pytest.mark.parametrize("cmax, half", [(1.0, 1450.0), (0.5, 1300.0)])
def test_escape_probability_is_the_exponential_law(cmax, half):
    m = 50.0
    over = POINT | {"cuts.cos_theta_max": cmax, "veto.detector.z1": -half,
                    "veto.detector.z2": half}
    r = kotosim.simulate("e949", mass=m, ctau=CTAU, n_events=60_000, seed=5, smear=False,
                         hists=False, overrides=over)
    p = two_body_momentum(C.M_KPLUS, C.M_PIPLUS, m)
    eps = r.acceptance["stable_per_k_decay"][0]
    assert eps == pytest.approx(cmax, abs=5 * math.sqrt(cmax * (1 - cmax) / 60_000) + 1e-12)
    for i, ct in enumerate(CTAU[1:4], start=1):
        expect = eps * _escape(p / m * ct, cmax, 1450.0, half)
        got, err = r.acceptance["invisible_per_k_decay"][i], r.error["invisible_per_k_decay"][i]
        assert got == pytest.approx(expect, abs=5 * err), (ct, got, expect, err)
        # visible + invisible = selected, per event
        assert got + r.acceptance["vetoed_per_k_decay"][i] == pytest.approx(eps, rel=1e-9)


def test_long_and_short_lifetime_limits(unsmeared):
    a = unsmeared.acceptance
    eps = a["stable_per_k_decay"][0]
    assert eps > 0.4
    assert a["invisible_per_k_decay"][-1] == eps          # c tau = inf: stable
    assert a["vetoed_per_k_decay"][-1] == 0.0
    assert a["invisible_per_k_decay"][0] < 1e-300           # decays at once: always vetoed
    assert a["vetoed_per_k_decay"][0] == pytest.approx(eps, rel=1e-12)
    assert np.all(np.diff(a["invisible_per_k_decay"]) > 0)  # monotone in c tau
    # long lifetimes: the one-formula estimate with L = 1.45 m becomes exact
    assert a["sim_over_analytic"][-1] == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("mass, window", [(50.0, "pnn1"), (200.0, "pnn2"), (C.M_PI0, None),
                                          (270.0, None)])
def test_pnn1_and_pnn2_windows(mass, window):
    r = kotosim.simulate("e949", mass=mass, ctau=[math.inf], n_events=20_000, seed=2,
                         smear=False, hists=False)
    a = r.acceptance
    for w in ("pnn1", "pnn2"):
        v = a[f"invisible_{w}_per_k_decay"][0]
        assert (v > 0.4) if w == window else (v == 0.0)
    assert a["invisible_per_k_decay"][0] == (a["invisible_pnn1_per_k_decay"][0]
                                             + a["invisible_pnn2_per_k_decay"][0])


def test_same_seed_identical_on_one_and_two_threads():
    kw = dict(mass=180.0, ctau=[500.0, math.inf], n_events=40_000, seed=8, chunk_size=4096)
    r1 = kotosim.simulate("e949", threads=1, **kw)
    r2 = kotosim.simulate("e949", threads=2, **kw)
    for k in r1.acceptance:
        np.testing.assert_array_equal(r1.acceptance[k], r2.acceptance[k])
    np.testing.assert_array_equal(r1.hists["phi_decay"][0].values(),
                                  r2.hists["phi_decay"][0].values())


E949_TOML = Path(str(_geometry_dir().joinpath("e949.toml"))).read_text()


@pytest.mark.parametrize("edit, fragment", [
    (lambda t: t.replace('cos_theta_max = { value = 0.5', 'cos_theta_max = { value = 1.5'),
     "cuts.cos_theta_max"),
    (lambda t: t.replace('pnn1_p_max = { value = 229.0', 'pnn1_p_max = { value = 200.0'),
     "cuts.pnn1_p_max"),
    (lambda t: t.replace('radius = { value = 1.45, unit = "m"', 'radius = { value = 3.0, '
                         'unit = "cm"'), "veto.detector"),
    (lambda t: t.replace('momentum = { value = 0.011, unit = "1"',
                         'momentum = { value = 0.011, unit = "MeV"'), "resolution.momentum"),
])
def test_bad_e949_geometry_rejected(edit, fragment, tmp_path, capsys, monkeypatch):
    assert_bad_geometry(edit(E949_TOML), fragment, tmp_path, capsys, monkeypatch)


def test_cli_run_e949_writes_root_and_png(tmp_path, monkeypatch):
    import uproot

    monkeypatch.chdir(tmp_path)
    assert main(["run", "e949", "--mass", "50", "--ctau", "0.01,1,100", "--events", "20000",
                 "--sample", "100", "--quiet", "--out", "e.root"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.root", "e_plot.png"]
    with uproot.open(tmp_path / "e.root") as f:
        acc = f["acceptance"].arrays(library="np")
        assert acc["ctau_mm"].tolist() == [10.0, 1000.0, 100000.0]
        assert "invisible_per_k_decay" in acc and f["events"].num_entries == 100
        assert f.classname_of("phi_decay_0") == "TH1D"
