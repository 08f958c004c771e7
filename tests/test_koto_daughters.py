"""phi decay products at KOTO: kinematics of the decay, the veto set of decay points, the
downstream detectors (kernels/daughters.py, experiments/koto.py)."""

from __future__ import annotations

import math

import awkward as ak
import numpy as np
import pytest
from scipy import stats

import kotosim
from kotosim import constants as C
from kotosim.cli import main
from kotosim.experiments.koto import DOWNSTREAM, decay_channels
from kotosim.geometry import GeometryError, _geometry_dir
from kotosim.kernels import daughters as DK
from kotosim.kernels.propagation import decay_probability, ray_cylinder
from kotosim.kernels.rng import new_state

KOTO_TOML = (_geometry_dir() / "koto.toml").read_text()

NO_DOWNSTREAM = {f"downstream.{d}.enabled": 0.0 for d in DOWNSTREAM}
NO_HOLE = {"csi.hole_charged_half": 0.0, "csi.hole_neutral_half": 0.0}
FULL_DISCS = {}
for _d in DOWNSTREAM:
    FULL_DISCS |= {f"downstream.{_d}.outer_x": 1e7, f"downstream.{_d}.outer_y": 1e7,
                   f"downstream.{_d}.wing_x": 0.0, f"downstream.{_d}.wing_y": 0.0,
                   f"downstream.{_d}.hole_x": 0.0, f"downstream.{_d}.hole_y": 0.0,
                   f"downstream.{_d}.charged": 1.0, f"downstream.{_d}.neutral": 1.0,
                   f"downstream.{_d}.e_min": 0.0}


def _decays(kind: int, m_d: float, m_phi: float, p: float, n: int, seed: int = 3):
    """n decays of a phi of momentum p along (0.3, -0.2, 1)/|.| into one channel."""
    chan = np.array([[1.0, m_d, kind]])
    rs = new_state(np.array([[seed, 7, 11, 13]]))[0]
    u = np.array([0.3, -0.2, 1.0]) / math.sqrt(1.13)
    f = np.append(p * u, math.hypot(p, m_phi))
    out = np.zeros((n, DK.MAX_DAU, 5))
    nd = np.zeros(n, dtype=int)
    for i in range(n):
        nd[i], _ = DK.phi_products(rs, chan, f[0], f[1], f[2], f[3], m_phi, out[i])
    return f, out, nd


@pytest.mark.parametrize("kind, m_d, m_phi, n_exp, charged", [
    (DK.TWO_CHARGED, C.M_E, 50.0, 2, 1.0),
    (DK.TWO_CHARGED, C.M_MU, 300.0, 2, 1.0),
    (DK.TWO_PHOTONS, 0.0, 50.0, 2, 0.0),
    (DK.FOUR_PHOTONS, C.M_PI0, 330.0, 4, 0.0),
])
def test_four_momentum_conserved_in_phi_decay(kind, m_d, m_phi, n_exp, charged):
    f, out, nd = _decays(kind, m_d, m_phi, 1500.0, 2000)
    assert np.all(nd == n_exp)
    tot = out[:, :n_exp, :4].sum(axis=1)
    np.testing.assert_allclose(tot, np.broadcast_to(f, tot.shape), rtol=1e-12, atol=1e-9)
    m2 = out[:, :n_exp, 3] ** 2 - (out[:, :n_exp, :3] ** 2).sum(axis=2)
    m_each = 0.0 if kind == DK.FOUR_PHOTONS else m_d
    np.testing.assert_allclose(m2, m_each ** 2, atol=1e-6 * m_phi ** 2)
    assert np.all(out[:, :n_exp, 4] == charged)
    if kind == DK.FOUR_PHOTONS:  # the photon pairs rebuild a pi0 each
        for h in range(2):
            g = out[:, 2 * h, :4] + out[:, 2 * h + 1, :4]
            np.testing.assert_allclose(np.sqrt(g[:, 3] ** 2 - (g[:, :3] ** 2).sum(axis=1)),
                                       C.M_PI0, rtol=1e-9)


def test_opening_angle_matches_two_body_result():
    """phi -> gamma gamma, isotropic in the phi frame: 1 - cos(opening) = 2/(gamma^2 (1 -
    beta^2 c^2)) with c = cos(theta*) uniform, so F(X) = sqrt((1 - 2/(gamma^2 X)))/beta for
    X = 1 - cos(opening) >= 2/gamma^2 (the minimum opening angle 2 asin(1/gamma))."""
    m, p = 50.0, 400.0
    _, out, _ = _decays(DK.TWO_PHOTONS, 0.0, m, p, 20000, seed=5)
    a, b = out[:, 0, :3], out[:, 1, :3]
    cosop = (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    x = 1.0 - cosop
    gam = math.hypot(p, m) / m
    beta = p / math.hypot(p, m)
    assert x.min() >= 2.0 / gam**2 * (1 - 1e-9)

    def cdf(xx):
        return np.sqrt(np.clip(1.0 - 2.0 / (gam**2 * np.asarray(xx)), 0.0, None)) / beta

    assert stats.kstest(x, cdf).pvalue > 1e-3


def test_interval_union_is_exact():
    s = np.zeros((DK.NIV, 2))
    n = 0
    for a, b in ((5, 6), (1, 2), (1.5, 3), (10, 11), (2.9, 5.5), (-4, 0.5), (7, 7)):
        n = DK.iv_add(s, n, a, b)
    np.testing.assert_array_equal(s[:n], [[0, 0.5], [1, 6], [10, 11]])


def _sample_run(overrides, ctau, n=60_000, seed=4, **kw):
    return kotosim.simulate("koto", mass=50.0, ctau=ctau, n_events=n, seed=seed,
                            reference=False, hists=False, sample_size=n, overrides=overrides,
                            **kw)


def _stage6(res):
    s = res.sample
    sel = ak.to_numpy(s.stage) == 6
    assert sel.sum() > 300
    return s[sel]


def test_no_downstream_no_hole_is_exact_detector_volume_survival():
    """Downstream detectors removed and the beam hole closed: the weight is the exact
    probability not to decay inside the detector volume, w_KL (P(0, L1) + exp(-L2/lambda))."""
    ctau = [15.0, 300.0, 5000.0]
    res = _sample_run(NO_DOWNSTREAM | NO_HOLE, ctau)
    assert set(res.region_fraction) == {"detector"}
    s = _stage6(res)
    geo = kotosim.load_geometry("koto")
    z1, z2 = geo["veto.detector.z1"], geo["veto.detector.z2"]
    rad = geo["veto.detector.radius"]
    vx, vy, vz = (ak.to_numpy(getattr(s.vertex, c)) for c in "xyz")
    px, py, pz = (ak.to_numpy(getattr(s.x, c)) for c in ("px", "py", "pz"))
    p = np.sqrt(px**2 + py**2 + pz**2)
    for i, ct in enumerate(ctau):
        w = ak.to_numpy(s.weight[:, i])
        exp = np.empty_like(w)
        for j in range(w.size):
            l1, l2 = ray_cylinder(vx[j], vy[j], vz[j], px[j] / p[j], py[j] / p[j],
                                  pz[j] / p[j], 0.0, 0.0, z1, z2, rad)
            lam = p[j] / 50.0 * ct
            exp[j] = decay_probability(0.0, l1, lam) + math.exp(-l2 / lam)
        np.testing.assert_allclose(w, ak.to_numpy(s.w_kl) * exp, rtol=1e-9, atol=1e-300)
    # with the beam hole open (still nothing downstream) escapes only add acceptance
    open_ = _sample_run(NO_DOWNSTREAM, ctau)
    a0, a1 = res.acceptance["phi_per_kl_exit"], open_.acceptance["phi_per_kl_exit"]
    assert np.all(a1 >= a0 * (1 - 1e-12)) and np.any(a1 > a0)


def test_full_discs_veto_every_decay_upstream_of_the_last_one():
    """Every downstream detector a full disc without hole, seeing everything: a phi decaying
    anywhere before the back of the last one (BHPV) is vetoed, so the weight is exactly
    w_KL exp(-t_last/lambda), t_last the path to the BHPV back face."""
    ctau = [100.0, 2000.0, 3e4]
    res = _sample_run(FULL_DISCS, ctau, n=40_000)
    s = _stage6(res)
    fwd = ak.to_numpy((s.x_d1.pz > 0) | (s.x_d2.pz > 0))
    assert fwd.mean() > 0.999
    s = s[fwd]
    geo = kotosim.load_geometry("koto", overrides=FULL_DISCS)
    zl = geo["downstream.bhpv.z_back"]
    pz = ak.to_numpy(s.x.pz)
    p = ak.to_numpy(s.x.p)
    t_last = (zl - ak.to_numpy(s.vertex.z)) * p / pz
    for i, ct in enumerate(ctau):
        exp = ak.to_numpy(s.w_kl) * np.exp(-t_last / (p / 50.0 * ct))
        np.testing.assert_allclose(ak.to_numpy(s.weight[:, i]), exp, rtol=1e-9, atol=1e-300)
    # the decays between the BHCV and the end of the BHPV are the BHPV's
    assert np.all(res.region_fraction["bhpv"] > 0.0)


def test_daughters_do_not_depend_on_sample_size_or_threads():
    kw = dict(mass=50.0, ctau=[15.0, 300.0, math.inf], n_events=70_000, seed=21,
              reference=False, hists=False, chunk_size=8192)
    r1 = kotosim.simulate("koto", threads=1, **kw)
    r2 = kotosim.simulate("koto", threads=2, sample_size=20_000, **kw)
    for k in r1.acceptance:
        np.testing.assert_array_equal(r1.acceptance[k], r2.acceptance[k])
    for k in r1.region_fraction:
        np.testing.assert_array_equal(r1.region_fraction[k], r2.region_fraction[k])


def test_region_fractions_add_up_to_the_vetoed_fraction():
    res = kotosim.simulate("koto", mass=50.0, ctau=[15.0, 300.0, 3000.0, math.inf],
                           n_events=100_000, seed=2, reference=False, hists=False)
    a = res.acceptance["phi_per_kl_exit"]
    vetoed = sum(res.region_fraction.values())
    np.testing.assert_allclose(vetoed + a / a[-1], 1.0, rtol=1e-9)
    assert list(res.region_fraction) == ["detector", "cc04", "cc05", "cc06", "bhcv", "bhpv"]


def test_decay_channels_from_model_and_options():
    from kotosim.model import ScalarModel

    rows, brs, _ = decay_channels(300.0, {"model": ScalarModel(300.0, 0.01, 1.0)})
    assert rows.shape[0] == 5 and rows[-1, 0] == pytest.approx(1.0)
    rows, _, _ = decay_channels(50.0, {"br_decay": {"gammagamma": 1.0}})
    assert rows.shape == (1, 3) and rows[0, 2] == DK.TWO_PHOTONS
    with pytest.raises(ValueError, match="br_decay"):
        decay_channels(50.0, {"br_decay": {"tautau": 1.0}})
    with pytest.raises(ValueError, match="unknown key 'br'"):
        decay_channels(50.0, {"br": 1e-9})
    with pytest.raises(ValueError, match="open decay channel"):
        decay_channels(50.0, {"br_decay": {"mumu": 1.0}})


def test_variants_run2016_run2021_layouts():
    g16 = kotosim.load_geometry("koto", variant="run2016")
    g21 = kotosim.load_geometry("koto", variant="run2021")
    assert g16["csi.z_face"] == g21["csi.z_face"] == 6168.0
    assert g21["downstream.cc04.z_front"] - g16["downstream.cc04.z_front"] == 65.0
    for g in (g16, g21):
        zs = [g[f"downstream.{d}.z_front"] for d in DOWNSTREAM]
        assert zs == sorted(zs) and zs[0] > g["veto.detector.z2"]


@pytest.mark.parametrize("edit, fragment", [
    (lambda t: t.replace('hole_x = { value = 106.6', 'hole_x = { value = -1.0'),
     "downstream.cc05.hole_x"),
    (lambda t: t.replace('neutral = { value = 0, unit = "1"', 'neutral = { value = 2, unit = "1"'),
     "downstream.bhcv.neutral"),
    (lambda t: t.replace('z_back = { value = 18195.0', 'z_back = { value = 12000.0'),
     "downstream.bhpv.z_back"),
    (lambda t: t.replace('hole_charged_half = { value = 72.0, unit = "mm"',
                         'hole_charged_half = { value = 72.0, unit = "MeV"'),
     "csi.hole_charged_half"),
    (lambda t: t.replace('e_min = { value = 100.0, unit = "MeV"',
                         'e_min = { value = 100.0, unit = "mm"'), "downstream.bhpv.e_min"),
])
def test_bad_downstream_geometry_one_line_exit_2(edit, fragment, tmp_path, capsys, monkeypatch):
    text = edit(KOTO_TOML)
    assert text != KOTO_TOML
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(GeometryError, match=fragment.replace(".", r"\.")):
        kotosim.load_geometry(p)
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.chdir(out)
    rc = main(["run", str(p), "--events", "1000"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and fragment in err[0] and err[0].startswith("kotosim:")
    assert list(out.iterdir()) == []


def test_recorded_phi_decay_point_follows_the_decay_law():
    """The sample's x_vertex (one decay point per event, for detector simulation) lies on phi's
    line and its distance follows exp(-t/lambda) of the first finite c tau; the daughters'
    four-momenta add up to phi's."""
    res = _sample_run(None, [math.inf, 300.0], n=20_000)
    s = res.sample
    d = np.stack([ak.to_numpy(getattr(s.x_vertex, c)) - ak.to_numpy(getattr(s.vertex, c))
                  for c in "xyz"], axis=1)
    p3 = np.stack([ak.to_numpy(getattr(s.x, c)) for c in ("px", "py", "pz")], axis=1)
    p = np.linalg.norm(p3, axis=1)
    t = np.linalg.norm(d, axis=1)
    np.testing.assert_allclose(d, t[:, None] * p3 / p[:, None], atol=1e-6 * (1 + t.max()))
    assert stats.kstest(-np.expm1(-t / (p / 50.0 * 300.0)), "uniform").pvalue > 1e-3
    tot = s.x_d1 + s.x_d2 + s.x_d3 + s.x_d4
    for c in ("px", "py", "pz", "E"):
        np.testing.assert_allclose(ak.to_numpy(getattr(tot, c)), ak.to_numpy(getattr(s.x, c)),
                                   rtol=1e-9, atol=1e-6)
