"""KOTO chain: spectrum, decay law, pi0 kinematics, reconstruction, acceptances."""

from __future__ import annotations

import math

import awkward as ak
import numpy as np
import pytest
import vector
from scipy import integrate, stats

import kotosim
from kotosim import constants as C
from kotosim.experiments.koto import spectrum_envelope
from kotosim.kernels.kinematics import two_body_momentum
from kotosim.kernels.koto import reconstruct_pi0, spectrum_density

vector.register_awkward()


def test_spectrum_sampling_matches_density(koto_unsmeared):
    geo = kotosim.load_geometry("koto")
    s = koto_unsmeared.sample
    p = ak.to_numpy(s.p_kl)
    g = geo.values
    args = (g["beam.spectrum.mu"], g["beam.spectrum.sigma0"], g["beam.spectrum.a"],
            g["beam.spectrum.b"])
    lo, hi = g["beam.spectrum.p_min"], g["beam.spectrum.p_max"]
    norm = integrate.quad(lambda x: spectrum_density(x, *args), lo, hi, limit=200)[0]

    def cdf(x):
        return np.array([integrate.quad(lambda t: spectrum_density(t, *args), lo, xi,
                                        limit=200)[0] for xi in np.atleast_1d(x)]) / norm

    grid = np.linspace(lo, hi, 400)
    table = cdf(grid)
    assert stats.kstest(p, lambda x: np.interp(x, grid, table)).pvalue > 1e-3
    # inputs.md sec. 2: mean K_L momentum at the exit 2.0 GeV/c, peak 1.42 GeV/c
    mean = integrate.quad(lambda x: x * spectrum_density(x, *args), lo, hi, limit=200)[0] / norm
    assert mean == pytest.approx(2000.0, abs=30.0)
    assert p.mean() == pytest.approx(mean, abs=5 * p.std() / math.sqrt(p.size))


def test_envelope_bounds_density():
    geo = kotosim.load_geometry("koto")
    edges, heights, _, _ = spectrum_envelope(geo)
    g = geo.values
    args = (g["beam.spectrum.mu"], g["beam.spectrum.sigma0"], g["beam.spectrum.a"],
            g["beam.spectrum.b"])
    for k in range(heights.size):
        x = np.linspace(edges[k], edges[k + 1], 50)
        assert max(spectrum_density(xi, *args) for xi in x) <= heights[k]


def test_decay_vertex_follows_exponential_law(koto_unsmeared):
    """Given the K_L momentum, the path s from the exit is exponential with lambda = p c tau/m,
    truncated at the generation end: u = (1 - exp(-s/lambda))/P_dec must be U(0, 1)."""
    s = koto_unsmeared.sample
    geo = kotosim.load_geometry("koto")
    p = ak.to_numpy(s.p_kl)
    z = ak.to_numpy(s.vertex.z)
    path = (z - geo["beam.exit_z"])  # on axis: path = z distance
    lam = p / C.M_KL * C.CTAU_KL
    pdec = -np.expm1(-(geo["generation.z_max"] - geo["beam.exit_z"]) / lam)
    np.testing.assert_allclose(ak.to_numpy(s.w_kl), pdec, rtol=1e-9)
    u = -np.expm1(-path / lam) / pdec
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    # and the raw z distribution of slow K_L is visibly exponential (not flat)
    assert np.mean(z[p < 1000.0]) < np.mean(z[p > 3000.0])


def test_photons_reconstruct_pi0_mass_and_conserve_momentum(koto_unsmeared):
    s = koto_unsmeared.sample
    gg = s.g1 + s.g2
    np.testing.assert_allclose(ak.to_numpy(gg.mass), C.M_PI0, rtol=1e-6)
    np.testing.assert_allclose(ak.to_numpy((gg - s.pi0).px), 0.0, atol=1e-7)
    kl = s.pi0 + s.x
    np.testing.assert_allclose(ak.to_numpy(kl.mass), C.M_KL, rtol=1e-7)
    np.testing.assert_allclose(ak.to_numpy(kl.p), ak.to_numpy(s.p_kl), rtol=1e-9)


def test_pi0_momentum_endpoint_two_body(koto_unsmeared):
    s = koto_unsmeared.sample
    kl = s.pi0 + s.x
    pi_rest = s.pi0.boostCM_of_p4(kl)
    pstar = two_body_momentum(C.M_KL, C.M_PI0, 100.0)
    np.testing.assert_allclose(ak.to_numpy(pi_rest.p), pstar, rtol=1e-6)
    # lab transverse momentum of the pi0 never exceeds p* plus the K_L's own pT
    assert np.all(ak.to_numpy(s.pi0.pt) <= pstar + ak.to_numpy(kl.pt) + 1e-6)


def test_pi0_decay_is_isotropic_in_its_rest_frame(koto_unsmeared):
    s = koto_unsmeared.sample
    g_rest = s.g1.boostCM_of_p4(s.pi0)
    cos = ak.to_numpy(g_rest.z / g_rest.p)
    assert stats.kstest(cos, stats.uniform(loc=-1, scale=2).cdf).pvalue > 1e-3


def test_reconstruction_exact_without_smearing(koto_unsmeared):
    s = koto_unsmeared.sample
    ok = ak.to_numpy(s.stage) >= 4
    assert ok.sum() > 500
    z_true = ak.to_numpy(s.vertex.z)[ok]
    np.testing.assert_allclose(ak.to_numpy(s.z_reco)[ok], z_true, atol=1e-4)
    np.testing.assert_allclose(ak.to_numpy(s.pt_reco)[ok], ak.to_numpy(s.pi0.pt)[ok],
                               rtol=1e-6)


def test_reconstruct_pi0_hand_example():
    # pi0 at rest on the axis at d = 3000 mm from the CsI is impossible to reconstruct back to
    # back; use a symmetric forward decay: photons at (+-x, 0) with equal energies E.
    d, x, e = 3000.0, 400.0, 500.0
    # opening angle 2 atan(x/d) must match m^2 = 2 E^2 (1 - cos): choose E accordingly
    cos = math.cos(2 * math.atan(x / d))
    e = C.M_PI0 / math.sqrt(2 * (1 - cos))
    ok, z, pt = reconstruct_pi0(e, x, 0.0, e, -x, 0.0, 6148.0, C.M_PI0)
    assert ok and z == pytest.approx(6148.0 - d, abs=1e-6) and pt == pytest.approx(0, abs=1e-6)


def test_acceptance_falls_with_lifetime_and_vanishes_for_short_ctau():
    res = kotosim.simulate("koto", mass=100.0, ctau=[1e-3, 10.0, 1e3, 1e5, 1e14, math.inf],
                           n_events=150_000, seed=3, reference=False, hists=False)
    a = res.acceptance["phi_per_kl_exit"]
    assert a[0] < 1e-12
    assert np.all(np.diff(a) >= 0)
    assert a[-2] == pytest.approx(a[-1], rel=1e-6)
    # region fractions: short lifetime -> every phi decays in the detector volume and is
    # vetoed there, or (daughters through the CsI beam hole) by a downstream detector
    total = sum(v[0] for v in res.region_fraction.values())
    assert total == pytest.approx(1.0, abs=1e-9)
    assert res.region_fraction["detector"][0] > 0.999
    assert all(v[-1] == 0.0 for v in res.region_fraction.values())


def test_reference_and_ratio(koto_default):
    r = koto_default
    a, e = r.acceptance, r.error
    assert a["pinunu_per_kl_exit"][0] > 0
    ratio = a["phi_per_kl_exit"] / a["pinunu_per_kl_exit"]
    np.testing.assert_allclose(a["ratio_phi_pinunu"], ratio)
    # per-decay = per-exit / mean decay probability (~0.15 in the 7.7 m range)
    frac = a["phi_per_kl_exit"][-1] / a["phi_per_kl_decay"][-1]
    assert 0.10 < frac < 0.20
    assert np.all(e["phi_per_kl_exit"] > 0)


def test_mc_error_scales_as_one_over_sqrt_n():
    kw = dict(mass=50.0, ctau=[math.inf], seed=9, reference=False, hists=False)
    r1 = kotosim.simulate("koto", n_events=50_000, **kw)
    r4 = kotosim.simulate("koto", n_events=200_000, **kw)
    rel1 = r1.error["phi_per_kl_exit"][0] / r1.acceptance["phi_per_kl_exit"][0]
    rel4 = r4.error["phi_per_kl_exit"][0] / r4.acceptance["phi_per_kl_exit"][0]
    assert rel1 / rel4 == pytest.approx(2.0, rel=0.15)
    # and the two estimates agree within their errors
    d = r1.acceptance["phi_per_kl_exit"][0] - r4.acceptance["phi_per_kl_exit"][0]
    assert abs(d) < 5 * math.hypot(r1.error["phi_per_kl_exit"][0], r4.error["phi_per_kl_exit"][0])


def test_same_seed_identical_on_one_and_two_threads():
    kw = dict(mass=150.0, ctau=[500.0, math.inf], n_events=140_000, seed=21, chunk_size=8192)
    r1 = kotosim.simulate("koto", threads=1, **kw)
    r2 = kotosim.simulate("koto", threads=2, **kw)
    for k in r1.acceptance:
        np.testing.assert_array_equal(r1.acceptance[k], r2.acceptance[k])
    np.testing.assert_array_equal(r1.hists["ptz"][0].values(), r2.hists["ptz"][0].values())
    r3 = kotosim.simulate("koto", threads=2, **(kw | {"seed": 22}))
    assert r3.acceptance["phi_per_kl_exit"][1] != r1.acceptance["phi_per_kl_exit"][1]


def test_variant_run2016_moves_the_calorimeter():
    g15 = kotosim.load_geometry("koto")
    g16 = kotosim.load_geometry("koto", variant="run2016")
    assert g15["csi.z_face"] == 6148.0 and g16["csi.z_face"] == 6168.0
    assert g16.volumes["veto"][0].params[1] == 6668.0


def test_massless_phi_and_kinematic_limit():
    r = kotosim.simulate("koto", mass=0.0, ctau=[1.0], n_events=50_000, seed=1,
                         reference=False, hists=False)
    # a massless phi never decays (infinite time dilation): weight = 1 for any c tau
    assert r.acceptance["phi_per_kl_exit"][0] > 0
    with pytest.raises(ValueError, match="mass"):
        kotosim.simulate("koto", mass=C.M_KL - C.M_PI0 + 0.01, n_events=10)


def test_tiny_survival_is_exact_not_rounded_to_zero():
    """m = 250 MeV, c tau = 1 cm: survival ~exp(-50) must not round to 0 (1 - P does). For a
    phi born inside the detector volume and leaving the veto regions at path length L2 with
    no gap, the weight is exactly w_KL exp(-L2 m/(p c tau))."""
    r = kotosim.simulate("koto", mass=250.0, ctau=[10.0], n_events=100_000, seed=8,
                         reference=False, hists=False, sample_size=100_000)
    s = r.sample
    sel = ak.to_numpy(s.stage) == 6
    w = ak.to_numpy(s.weight[:, 0])[sel]
    assert r.acceptance["phi_per_kl_exit"][0] > 0 and np.all(w > 0)
    lam = ak.to_numpy(s.x.p)[sel] / 250.0 * 10.0
    expect = ak.to_numpy(s.w_kl)[sel] * np.exp(-ak.to_numpy(s.x_l2)[sel] / lam)
    rel = np.abs(w / expect - 1.0)
    assert np.all(w >= expect * (1 - 1e-9))  # gaps only add survival
    assert np.median(rel) < 1e-9
