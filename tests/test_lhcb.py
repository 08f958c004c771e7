"""LHCb: B spectrum, B flight, prompt and displaced phi decay probabilities."""

from __future__ import annotations

import math
import os
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import vector
from scipy import stats

import kotosim
from kotosim import constants as C
from kotosim.geometry import _geometry_dir

vector.register_awkward()
CTAU = [1e-7, 15.0, 1e5, 1e7]  # mm


@pytest.fixture(scope="module")
def lhcb50():
    return kotosim.simulate("lhcb", mass=50.0, ctau=CTAU, n_events=30_000, seed=6,
                            sample_size=30_000)


def test_b_spectrum_in_acceptance_and_moments(lhcb50):
    b = lhcb50.sample.parent
    eta = ak.to_numpy(b.eta)
    assert eta.min() > 2.0 and eta.max() < 5.0
    np.testing.assert_allclose(ak.to_numpy(b.mass), C.M_B0, rtol=1e-7)
    # research notes sec. 3a: <p_T> = 5.0 GeV, <p> = 90 GeV for n = 3.5, p0 = 8 GeV, sigma_y 2.8
    pt, p = ak.to_numpy(b.pt), ak.to_numpy(b.p)
    assert pt.mean() == pytest.approx(5030.0, abs=5 * pt.std() / math.sqrt(pt.size))
    assert p.mean() == pytest.approx(89_900.0, abs=5 * p.std() / math.sqrt(p.size))


def test_b_flight_is_exponential_with_pdg_ctau(lhcb50):
    s = lhcb50.sample
    p = ak.to_numpy(s.parent.p)
    lam = p / C.M_B0 * C.CTAU_B0
    flight = ak.to_numpy(s.parent_flight)
    assert stats.kstest(-np.expm1(-flight / lam), "uniform").pvalue > 1e-3
    v = np.stack([ak.to_numpy(s.vertex[c]) for c in "xyz"])
    np.testing.assert_allclose(np.linalg.norm(v, axis=0), flight, rtol=1e-9, atol=1e-12)
    assert flight.mean() == pytest.approx(np.mean(lam), rel=0.05)  # ~ 8 mm at <p> = 90 GeV


def test_prompt_probability_matches_numpy_from_sampled_momenta(lhcb50):
    s = lhcb50.sample
    p = ak.to_numpy(s.phi.p)
    a = lhcb50.acceptance["prompt_b0_kstar0"]
    for i, ct in enumerate(CTAU):
        expect = np.mean(-np.expm1(-5.0 * 50.0 / (p * ct)))
        assert a[i] == pytest.approx(expect, rel=1e-9)
    # long lifetime: P -> m L/(p c tau) averaged over events
    ct = CTAU[-1]
    assert a[-1] == pytest.approx(np.mean(50.0 * 5.0 / (p * ct)), rel=1e-4)
    # short lifetime: every phi decays promptly, none in the displaced region
    assert a[0] == pytest.approx(1.0, abs=1e-12)
    assert lhcb50.acceptance["in_velo_b0_kstar0"][0] == 0.0
    assert lhcb50.acceptance["displaced_ee_b0_kstar0"][0] == 0.0


def test_displaced_region_and_daughter_acceptance(lhcb50):
    a = lhcb50.acceptance
    # the displaced decay needs phi through the VELO cylinder and eta cuts on both daughters
    assert np.all(a["displaced_ee_b0_kstar0"] <= a["in_velo_b0_kstar0"] + 1e-15)
    assert np.all(a["displaced_mumu_b0_kstar0"] == 0.0)  # 50 MeV < 2 m_mu
    assert np.all(a["prompt_ee_in_eta_b0_kstar0"] <= a["prompt_b0_kstar0"] + 1e-15)
    # seed comparison: P = 1 - exp(-m L/(p c tau)) with p = 40 GeV
    ana = -math.expm1(-50.0 * 5.0 / (40_000.0 * 15.0))
    assert a["analytic"][1] == pytest.approx(ana, rel=1e-12)
    assert a["sim_over_analytic"][1] == pytest.approx(a["prompt_b0_kstar0"][1] / ana)


def test_b0_channel_closes_above_its_threshold():
    m = C.M_B0 - C.M_KSTAR0 + 10.0
    r = kotosim.simulate("lhcb", mass=m, ctau=[10.0], n_events=5000, seed=1, hists=False)
    assert r.acceptance["prompt_b0_kstar0"][0] == 0.0
    assert r.acceptance["prompt_bplus_kplus"][0] > 0.0
    with pytest.raises(ValueError, match="mass"):
        kotosim.simulate("lhcb", mass=C.M_BPLUS - C.M_KPLUS + 1.0, n_events=10)


def _ee_in_eta(phi_p, m, rng):
    """Both electrons of an isotropic phi -> e+e- decay in 2 < eta < 5 (numpy, per phi)."""
    n = phi_p.shape[0]
    q = math.sqrt(m * m / 4 - C.M_E**2)
    ct = rng.uniform(-1, 1, n)
    ph = rng.uniform(0, 2 * math.pi, n)
    st = np.sqrt(1 - ct**2)
    k = q * np.stack([st * np.cos(ph), st * np.sin(ph), ct], axis=1)
    e_phi = np.sqrt((phi_p**2).sum(axis=1) + m * m)
    b = phi_p / e_phi[:, None]
    b2 = (b**2).sum(axis=1)
    g = 1 / np.sqrt(1 - b2)
    ok = np.ones(n, dtype=bool)
    for sgn in (1, -1):
        kk = sgn * k
        bk = (b * kk).sum(axis=1)
        e0 = m / 2
        p_lab = kk + ((g - 1) * bk / b2 + g * e0)[:, None] * b
        eta = np.arcsinh(p_lab[:, 2] / np.hypot(p_lab[:, 0], p_lab[:, 1]))
        ok &= (eta > 2.0) & (eta < 5.0)
    return ok


def test_main_quantity_requires_the_electrons_in_acceptance(lhcb50):
    """The prompt quantity the coupling plane uses is that of B0 -> K*0 e+e- (arXiv:1304.3035):
    prompt AND both electrons in 2 < eta < 5; checked against an independent numpy decay of
    the sampled phi momenta (short lifetime: the electrons' acceptance; long lifetime: that
    acceptance weighted by the prompt probability m L/(p c tau), which favours soft phi)."""
    a = lhcb50.acceptance
    assert lhcb50.config["main_key"] == "prompt_ee_in_eta_b0_kstar0"
    s = lhcb50.sample
    fp = np.stack([ak.to_numpy(s.phi[c]) for c in ("px", "py", "pz")], axis=1)
    ok = _ee_in_eta(fp, 50.0, np.random.default_rng(12))
    n = ok.size
    frac = ok.mean()
    assert a["prompt_ee_in_eta_b0_kstar0"][0] == pytest.approx(frac, abs=5 * math.sqrt(
        frac * (1 - frac) * 2 / n))
    w = 1.0 / np.linalg.norm(fp, axis=1)  # prompt probability ~ m L/(p c tau)
    r = (w * ok).sum() / w.sum()
    r_err = math.sqrt((w**2 * (ok - r) ** 2).sum()) / w.sum()
    ratio = a["prompt_ee_in_eta_b0_kstar0"][-1] / a["prompt_b0_kstar0"][-1]
    assert ratio == pytest.approx(r, abs=5 * math.sqrt(2) * r_err)
    assert ratio < frac  # soft phi (more often prompt) open wider


@pytest.mark.parametrize("name, n_mass, m_lo", [("lhcb_b0_kstar0_X_mumu_ul", 700, 214.0),
                                                ("lhcb_bplus_kplus_X_mumu_ul", 400, 264.0)])
def test_published_displaced_limits_are_read_from_the_package(name, n_mass, m_lo):
    from importlib.resources import files

    from kotosim.experiments.lhcb import published_limits

    m, tau, ul = published_limits(name)
    assert np.all(np.isfinite(ul)) and np.all(ul > 0)
    assert m.min() >= m_lo - 20 and np.unique(m).size > n_mass
    assert tau.min() == pytest.approx(0.1, rel=0.05) and tau.max() > 900.0  # 0.1-1000 ps
    head = files("kotosim").joinpath("constraints", "data", f"{name}.csv.gz")
    import gzip

    with head.open("rb") as raw, gzip.open(raw, "rt") as fh:
        first = fh.readline()
    assert first.startswith("# LHCb") and "arXiv:1" in first
    # the limits get weaker at long lifetimes (the chi decays beyond the VELO)
    sel = m == m[np.argmin(abs(m - 1000.0))]
    o = np.argsort(tau[sel])
    assert ul[sel][o][-1] > 5 * ul[sel][o][np.searchsorted(tau[sel][o], 1.0)]


# ---------------------------------------------------------------------------- VELO modules
# Run 1-2 VELO layout (geometry/lhcb.toml [velo], from the B2KstGEE VELO.cxx description):
# left halves (x > 0) at -175 + 30 k (k < 16), 435, 585, 635, 685, 735 mm; right halves
# (x < 0) 15 mm downstream; sensitive 8.2 < r < 42 mm.
Z_LEFT = np.array([-175.0 + 30 * k for k in range(16)] + [435.0, 585.0, 635.0, 685.0, 735.0])


def _modules_crossed_numpy(x, y, z, px, py, pz):
    n = np.zeros(x.size, dtype=int)
    for zl in Z_LEFT:
        for zm, left in ((zl, True), (zl + 15.0, False)):
            t = (zm - z) / pz
            xm, ym = x + t * px, y + t * py
            r = np.hypot(xm, ym)
            side = xm >= 0 if left else xm <= 0
            n += ((zm > z) & (r >= 8.2) & (r <= 42.0) & side).astype(int)
    return n


def test_velo_modules_crossed_against_numpy():
    from kotosim.experiments.lhcb import velo_modules
    from kotosim.kernels import flight as F

    planes = velo_modules(kotosim.load_geometry("lhcb"))
    assert planes.shape == (42, F.NPLANE)
    np.testing.assert_allclose(np.sort(planes[planes[:, 8] < 0, 0]), Z_LEFT)
    rng = np.random.default_rng(4)
    n = 5000
    x, y = rng.normal(0, 10, n), rng.normal(0, 10, n)
    z = rng.uniform(-200, 760, n)
    th = rng.uniform(0.0, 0.3, n)
    ph = rng.uniform(0, 2 * math.pi, n)
    px, py, pz = np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)
    got = np.array([F.planes_crossed(planes, x[i], y[i], z[i], px[i], py[i], pz[i])
                    for i in range(n)])
    expect = _modules_crossed_numpy(x, y, z, px, py, pz)
    # points exactly on x = 0 may count on both halves: none in a random sample
    np.testing.assert_array_equal(got, expect)
    assert got.max() >= 10 and (got == 0).sum() > 0
    assert F.planes_crossed(planes, 0.0, 20.0, 0.0, 0.0, 0.0, -1.0) == 0  # backwards


def test_velo_requirement_reduces_long_lifetimes_and_switches_off():
    """With every module a full plane and one crossing required, the VELO requirement is
    the geometric displaced region again (same expectation; decays there have z < 600 mm);
    the real modules remove more of the long-lifetime decays (far from the vertex) than of
    the short ones."""
    ct = np.array([0.3, 30.0, 300.0])  # mm
    kw = dict(mass=300.0, ctau=ct, n_events=60_000, seed=8, hists=False)
    off = kotosim.simulate("lhcb", overrides={"velo.min_modules": 0}, **kw)
    full = kotosim.simulate("lhcb", overrides={"velo.min_modules": 1, "velo.r_min": 0.0,
                                                "velo.r_max": 1e4}, **kw)
    real = kotosim.simulate("lhcb", **kw)
    k = "displaced_mumu_b0_kstar0"
    e = np.hypot(off.error[k], full.error[k])
    np.testing.assert_allclose(full.acceptance[k], off.acceptance[k], atol=5 * e.max(),
                               rtol=0)
    # prompt quantities do not depend on the VELO requirement (the decay points drawn for it
    # shift the random stream, so only in expectation)
    ep = np.hypot(real.error["prompt_b0_kstar0"], off.error["prompt_b0_kstar0"])
    np.testing.assert_allclose(real.acceptance["prompt_b0_kstar0"],
                               off.acceptance["prompt_b0_kstar0"], atol=0, rtol=0.05)
    assert np.all(abs(real.acceptance["prompt_b0_kstar0"] - off.acceptance["prompt_b0_kstar0"])
                  < 5 * ep + 1e-12)
    r_real = real.acceptance[k] / off.acceptance[k]
    assert np.all(r_real <= 1.0 + 5 * e / off.acceptance[k])
    assert r_real[2] < r_real[0] - 0.1


def test_lhcb_reproducible_on_one_and_two_threads():
    kw = dict(mass=300.0, ctau=[3.0, 300.0], n_events=20_000, seed=5, chunk_size=4096,
              hists=False)
    r1 = kotosim.simulate("lhcb", threads=1, **kw)
    r2 = kotosim.simulate("lhcb", threads=2, **kw)
    for key in r1.acceptance:
        np.testing.assert_array_equal(r1.acceptance[key], r2.acceptance[key])


LHCB_TOML = Path(str(_geometry_dir().joinpath("lhcb.toml"))).read_text()


@pytest.mark.parametrize("edit, fragment", [
    (lambda t: t.replace('r_min = { value = 8.2', 'r_min = { value = 80.0'), "velo.r_max"),
    (lambda t: t.replace('min_modules = { value = 3', 'min_modules = { value = 2.5'),
     "velo.min_modules"),
    (lambda t: t.replace('central_spacing = { value = 30.0', 'central_spacing = { value = -3'),
     "velo.central_spacing"),
])
def test_bad_lhcb_geometry_is_one_line_exit_2(edit, fragment, tmp_path, capsys):
    from kotosim.cli import main

    p = tmp_path / "l.toml"
    p.write_text(edit(LHCB_TOML))
    out = tmp_path / "out"
    out.mkdir()
    os.chdir(out)
    rc = main(["run", str(p), "--events", "1000", "--mass", "300"])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and fragment in err
    assert list(out.iterdir()) == []


def test_only_the_asked_quantities_same_numbers():
    """``displaced=(mu mu,)`` (what kotosim.reach asks for): the prompt and mu mu displaced
    accumulators are bit-identical to a full run (no random number depends on the others),
    and the quantities left out stay zero."""
    from kotosim.experiments import lhcb as L
    from kotosim.kernels import flight as F

    geo = kotosim.load_geometry("lhcb")
    ct = np.array([1.0, 30.0, 1e3])
    full = L.run_channel(geo, 0, 300.0, ct, 20_000, 4, hists=False, curve=False)
    part = L.run_channel(geo, 0, 300.0, ct, 20_000, 4, hists=False, curve=False,
                         displaced=(1,))
    np.testing.assert_array_equal(full["counts"], part["counts"])
    for k in (F.Q_MAIN, F.Q_DAU + 1, F.Q_PROMPT_DAU):
        np.testing.assert_array_equal(full["q"][k], part["q"][k])
        assert full["q"][k][0].any()
    for k in (F.Q_SIGNAL, F.Q_DAU + 0):
        assert full["q"][k][0].any() and not part["q"][k].any()
