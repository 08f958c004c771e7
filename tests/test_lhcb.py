"""LHCb: B spectrum, B flight, prompt and displaced phi decay probabilities."""

from __future__ import annotations

import math

import awkward as ak
import numpy as np
import pytest
import vector
from scipy import stats

import kotosim
from kotosim import constants as C

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
