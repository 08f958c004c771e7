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
