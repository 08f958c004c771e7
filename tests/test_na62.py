"""NA62: K+ -> pi+ phi kinematics, pi+ selection, phi invisibility, reproducibility."""

from __future__ import annotations

import math

import awkward as ak
import numpy as np
import pytest
import vector
from conftest import assert_bad_geometry

import kotosim
from kotosim import constants as C
from kotosim.cli import main
from kotosim.geometry import _geometry_dir
from kotosim.kernels.kinematics import two_body_momentum

vector.register_awkward()
CTAU = [1e-6, 1e4, 1e6, 1e8, 1e16, math.inf]  # mm


@pytest.fixture(scope="module")
def unsmeared():
    return kotosim.simulate("na62", mass=250.0, ctau=CTAU, n_events=40_000, seed=4,
                            smear=False, sample_size=40_000)


def test_missing_mass_is_phi_mass_without_smearing(unsmeared):
    s = unsmeared.sample
    np.testing.assert_allclose(ak.to_numpy(s.m2miss_reco), 250.0**2, rtol=1e-6)
    # the four-momenta: K+ = pi+ + phi, phi on shell
    k = s.h + s.phi
    np.testing.assert_allclose(ak.to_numpy(k.mass), C.M_KPLUS, rtol=1e-7)
    np.testing.assert_allclose(ak.to_numpy(s.phi.mass), 250.0, rtol=1e-6)


def test_pion_momentum_two_body_endpoints(unsmeared):
    s = unsmeared.sample
    pstar = two_body_momentum(C.M_KPLUS, C.M_PIPLUS, 250.0)
    pi_rest = s.h.boostCM_of_p4(s.parent)
    np.testing.assert_allclose(ak.to_numpy(pi_rest.p), pstar, rtol=1e-6)
    # lab momentum between gamma (E* -+ beta p*) of each event's K+
    estar = math.hypot(pstar, C.M_PIPLUS)
    pk = ak.to_numpy(s.parent.p)
    gam = np.hypot(pk, C.M_KPLUS) / C.M_KPLUS
    bg = pk / C.M_KPLUS
    e = ak.to_numpy(s.h.E)
    assert np.all(e <= gam * estar + bg * pstar + 1e-6)
    assert np.all(e >= gam * estar - bg * pstar - 1e-6)
    # beam momentum 75 GeV/c with 1% rms
    assert pk.mean() == pytest.approx(75_000.0, abs=5 * 750 / math.sqrt(pk.size))
    assert pk.std() == pytest.approx(750.0, rel=0.03)


def test_kaon_decay_weight_is_decay_probability_in_fv(unsmeared):
    s = unsmeared.sample
    pk = ak.to_numpy(s.parent.p)
    lam = pk / C.M_KPLUS * C.CTAU_KPLUS
    z = ak.to_numpy(s.vertex.z)
    dz = ak.to_numpy(s.parent.pz) / pk
    p_fv = -np.expm1(-60_000.0 / dz / lam)
    np.testing.assert_allclose(ak.to_numpy(s.w_parent), p_fv, rtol=1e-9)
    assert z.min() >= 105_000.0 and z.max() <= 165_000.0


def test_selection_window_and_stable_limit(unsmeared):
    s = unsmeared.sample
    sel = ak.to_numpy(s.selected) == 1
    p = ak.to_numpy(s.h_p_reco)[sel]
    assert sel.sum() > 1000 and p.min() > 15_000.0 and p.max() < 35_000.0
    a = unsmeared.acceptance
    inv = a["invisible_per_k_decay"]
    stable = a["stable_per_k_decay"][0]
    assert inv[-1] == pytest.approx(stable, rel=1e-12)   # c tau = inf
    assert inv[-2] == pytest.approx(stable, rel=1e-9)    # c tau = 1e13 m
    assert inv[0] == 0.0                                 # c tau = 1 nm
    assert np.all(np.diff(inv) >= 0)
    # per-decay acceptance = weighted mean of the sample's weights (all events are in it)
    w = ak.to_numpy(s.w_parent)
    assert stable == pytest.approx(np.sum(w * sel) / np.sum(w), rel=1e-9)


def test_long_lifetime_veto_probability_is_path_over_lambda(unsmeared):
    """P(visible decay) -> Delta L m/(p c tau), computed with numpy from the sample."""
    s = unsmeared.sample
    sel = ak.to_numpy(s.selected) == 1
    w = ak.to_numpy(s.w_parent)
    dl = ak.to_numpy(s.veto_l2 - s.veto_l1)
    p = ak.to_numpy(s.phi.p)
    ct = CTAU[3]
    expect = np.sum((w * dl * 250.0 / (p * ct))[sel]) / np.sum(w)
    got = unsmeared.acceptance["vetoed_per_k_decay"][3]
    assert got == pytest.approx(expect, rel=2e-3)
    # the veto region runs to the SAC at 261 m from vertices at 105-165 m
    assert np.all((dl[sel] > 95_000.0) & (dl[sel] < 160_000.0))


def test_pi0_mass_falls_between_the_signal_regions():
    r = kotosim.simulate("na62", mass=C.M_PI0, ctau=[math.inf], n_events=20_000, seed=2,
                         smear=False, hists=False)
    assert r.acceptance["invisible_per_k_decay"][0] == 0.0


def test_seed_formula_comparison_is_filled(unsmeared):
    a = unsmeared.acceptance
    assert np.all(np.isfinite(a["sim_over_analytic"][1:4]))
    # long lifetimes: both -> the stable acceptance
    assert a["sim_over_analytic"][4] == pytest.approx(1.0, abs=1e-6)
    assert np.isfinite(a["L_eff_mm"][2]) and np.isfinite(a["p_eff_MeV"][2])


def test_same_seed_identical_on_one_and_two_threads():
    kw = dict(mass=60.0, ctau=[3e4, math.inf], n_events=40_000, seed=8, chunk_size=4096)
    r1 = kotosim.simulate("na62", threads=1, **kw)
    r2 = kotosim.simulate("na62", threads=2, **kw)
    for k in r1.acceptance:
        np.testing.assert_array_equal(r1.acceptance[k], r2.acceptance[k])
    np.testing.assert_array_equal(r1.hists["phi_decay"][0].values(),
                                  r2.hists["phi_decay"][0].values())


NA62_TOML = __import__("pathlib").Path(str(_geometry_dir().joinpath("na62.toml"))).read_text()


@pytest.mark.parametrize("edit, fragment", [
    (lambda t: t.replace('z_max = { value = 165.0', 'z_max = { value = 95.0'),
     "fiducial.z_max"),
    (lambda t: t.replace('momentum_spread = { value = 0.01', 'momentum_spread = { value = 5'),
     "beam.momentum_spread"),
    (lambda t: t.replace('m2miss_r1_max = { value = 0.01, unit = "GeV2"',
                         'm2miss_r1_max = { value = 0.01, unit = "GeV"'), "m2miss_r1_max"),
])
def test_bad_na62_geometry_rejected(edit, fragment, tmp_path, capsys, monkeypatch):
    assert_bad_geometry(edit(NA62_TOML), fragment, tmp_path, capsys, monkeypatch)


def test_cli_run_na62_writes_root_and_png(tmp_path, monkeypatch, capsys):
    import uproot

    monkeypatch.chdir(tmp_path)
    assert main(["run", "na62", "--mass", "100", "--ctau", "1,inf", "--events", "20000",
                 "--sample", "200", "--quiet", "--out", "n.root"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n.root", "n_plot.png"]
    with uproot.open(tmp_path / "n.root") as f:
        acc = f["acceptance"].arrays(library="np")
        assert "invisible_per_k_decay" in acc and f["events"].num_entries == 200
        assert f.classname_of("phi_decay_0") == "TH1D"
