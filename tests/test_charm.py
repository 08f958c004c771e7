"""CHARM: parents from the copper dump, off-axis decay volume, daughters, expected events."""

from __future__ import annotations

import math
import os
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import vector

import kotosim
from kotosim import constants as C
from kotosim.geometry import _geometry_dir
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


# ---------------------------------------------------------------------------- BMPT kaons
# BMPT K+ parameters (geometry/charm.toml [bmpt]), re-implemented here in numpy in the paper's
# variables (x_R, p_T) to check the kernel's (y*, p_T) rejection sampler and yield integral
BMPT = dict(A=7.74, B=0.0, al=2.45, be=0.444, a=5.04, g=0.121, d=0.242, r0=1.15, r1=-3.17)
E_BEAM, M_N = 400.0, 0.938272  # GeV


def _bmpt_lab_moments(m, kp, km, ln_a):
    """<p_T>, <p_lab> [GeV] of the forward-hemisphere BMPT spectrum (x A^alpha scaling),
    by quadrature over (x_R, p_T) with the Jacobian d3p/E = pi dp_T^2 E*_max dx_R / p*_L."""
    s = 2 * M_N**2 + 2 * M_N * E_BEAM
    emax = math.sqrt(s) / 2
    ycm = math.atanh(math.sqrt(E_BEAM**2 - M_N**2) / (E_BEAM + M_N))
    x = np.linspace(m / emax, 1.0, 4001)[1:-1][:, None]
    pt = np.linspace(1e-4, 3.0, 1500)[None, :]
    mt = np.sqrt(m * m + pt * pt)
    es = x * emax
    ok = es > mt
    pl = np.sqrt(np.where(ok, es * es - mt * mt, 1.0))
    ap, bp = BMPT["a"] / x ** BMPT["g"], BMPT["a"] ** 2 / (2 * x ** BMPT["d"])
    charge = kp + km * (1 - x) ** (-BMPT["r1"]) / BMPT["r0"]
    inv = ((1 - x) ** BMPT["al"] * (1 + BMPT["B"] * x) * x ** (-BMPT["be"]) * charge
           * (1 + ap * pt + bp * pt**2) * np.exp(-ap * pt))
    xf = pl / math.sqrt(emax**2 - m * m)
    inv = inv * np.exp(ln_a * (0.74 - 0.55 * xf + 0.26 * xf**2) * (0.98 + 0.21 * pt**2))
    w = np.where(ok, inv * pt * emax / pl, 0.0)
    y = np.arctanh(np.where(ok, pl / es, 0.0)) + ycm
    plab = mt * np.cosh(y)  # |p| ~ E for these momenta; exact below
    plab = np.sqrt((mt * np.sinh(y)) ** 2 + pt**2)
    tot = w.sum()
    return float((w * pt).sum() / tot), float((w * plab).sum() / tot), tot


@pytest.mark.parametrize("channel, kp, km, m", [(0, 1.0, 0.0, C.M_KPLUS * 1e-3),
                                                 (2, 0.25, 0.75, C.M_KL * 1e-3)])
def test_bmpt_sampler_moments_against_quadrature(channel, kp, km, m):
    from kotosim.experiments import charm as ch

    geo = kotosim.load_geometry("charm")
    tot = ch.run_channel(geo, channel, 100.0, np.array([1e5]), 40_000, 11, hists=False,
                         sample_size=40_000)
    rec = tot["rec"]
    pt = np.hypot(rec[:, 0], rec[:, 1]) * 1e-3
    p = np.linalg.norm(rec[:, :3], axis=1) * 1e-3
    mpt, mp, _ = _bmpt_lab_moments(m, kp, km, math.log(63.546 / 9.012))
    assert pt.mean() == pytest.approx(mpt, abs=5 * pt.std() / math.sqrt(pt.size))
    assert p.mean() == pytest.approx(mp, abs=5 * p.std() / math.sqrt(p.size))
    assert pt.max() <= 3.0  # the sampled p_T range


def test_bmpt_yield_matches_an_independent_integral():
    """Forward K+ on Be (no A-scaling): the package's (y*, p_T) grid integral against the
    (x_R, p_T) quadrature above; the yield on Cu is A x integral / sigma_inel."""
    from kotosim.experiments import charm as ch

    m = C.M_KPLUS * 1e-3
    be = kotosim.load_geometry("charm", overrides={"bmpt.target_mass_number": 9.012,
                                                   "bmpt.sigma_inel_target_mb": 100.0})
    y_be = ch.parent_yield(be, 0)
    *_, tot = _bmpt_lab_moments(m, 1.0, 0.0, 0.0)
    s = 2 * M_N**2 + 2 * M_N * E_BEAM
    emax = math.sqrt(s) / 2
    dx = (1.0 - m / emax) / 4000
    dpt = (3.0 - 1e-4) / 1499
    integral = tot * dx * dpt * 2 * math.pi  # pi dp_T^2 = 2 pi p_T dp_T
    assert y_be == pytest.approx(7.74 * integral / 100.0, rel=0.02)
    # ~38 mb of forward K+ on Be, ~0.19 per inelastic p-Be collision (sigma ~ 200 mb)
    assert 30.0 < y_be * 100.0 < 45.0
    # on copper: yields per POT of 0.1-0.3 (K+ > K_L > K-), scaled by the cascade factor
    cu = kotosim.load_geometry("charm")
    y = [ch.parent_yield(cu, c) for c in range(3)]
    assert 0.1 < y[0] < 0.3 and y[0] > y[2] > y[1]
    cu2 = kotosim.load_geometry("charm", overrides={"bmpt.secondary_factor": 2.0})
    assert ch.parent_yield(cu2, 0) == pytest.approx(2 * y[0], rel=1e-12)


def _decays_along_z(n, e, m, md, seed=1):
    """n isotropic phi -> d d decays of a phi of energy e [MeV] moving along +z (numpy)."""
    rng = np.random.default_rng(seed)
    p = math.sqrt(e * e - m * m)
    bet, gam = p / e, e / m
    q = math.sqrt(m * m / 4 - md * md)
    ct = rng.uniform(-1, 1, n)
    phi = rng.uniform(0, 2 * math.pi, n)
    st = np.sqrt(1 - ct**2)
    px, py, pz = q * st * np.cos(phi), q * st * np.sin(phi), q * ct
    e0 = m / 2
    d = np.empty((n, 8))
    for k, sgn in enumerate((1, -1)):
        d[:, 4 * k], d[:, 4 * k + 1] = sgn * px, sgn * py
        d[:, 4 * k + 2] = gam * (sgn * pz + bet * e0)
        d[:, 4 * k + 3] = gam * (e0 + bet * sgn * pz)
    return d, bet


def test_daughter_four_momenta_sum_to_phi():
    from kotosim.kernels.kinematics import decay_two_body
    from kotosim.kernels.rng import new_state

    rs = new_state(np.array([1, 2, 3, 5], dtype=np.uint64))[0]
    for fx, fy, fz, m, md in ((100.0, -50.0, 2e4, 200.0, C.M_E), (0.0, 0.0, 5e3, 300.0, C.M_MU)):
        fe = math.sqrt(fx * fx + fy * fy + fz * fz + m * m)
        d = decay_two_body(rs, fx, fy, fz, fe, m, md, md)
        np.testing.assert_allclose([d[0] + d[4], d[1] + d[5], d[2] + d[6], d[3] + d[7]],
                                   [fx, fy, fz, fe], rtol=1e-12, atol=1e-9)
        for k in range(2):
            m2 = d[4 * k + 3] ** 2 - d[4 * k] ** 2 - d[4 * k + 1] ** 2 - d[4 * k + 2] ** 2
            assert math.sqrt(max(m2, 0.0)) == pytest.approx(md, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("e_min", [2000.0, 5000.0, 8000.0])
def test_energy_threshold_efficiency_is_the_flat_two_body_spectrum(e_min):
    """phi (E = 10 GeV, m = 200 MeV) along z -> gamma gamma: the lab photon energy is flat on
    [E(1-b)/2, E(1+b)/2]. Whole-face calorimeter: both photons above e_min with probability
    (E - 2 e_min)/(b E); half-face (x > 0): exactly one photon on it, above e_min with
    probability ((1+b)E/2 - e_min)/(b E) for min_on_face = 1, never for min_on_face = 2."""
    from kotosim.kernels import flight as F

    e, m = 10_000.0, 200.0
    d, b = _decays_along_z(40_000, e, m, 0.0)
    full = np.array([[1e4, 0, 0, 1e9, 0, 0, 0, 0, 0]], dtype=float)
    half = np.array([[1e4, 1e9, 0, 1e9, 0, 0, 0, 0, 0]], dtype=float)  # x in [0, 2e9]
    n = d.shape[0]
    res = {}
    for name, pl in (("full", full), ("half", half)):
        for nmin in (1, 2):
            res[name, nmin] = np.mean([F.daughters_seen(pl, 0.0, 0.0, 0.0, d[i], e_min, 1e9,
                                                        nmin) for i in range(n)])
    both = np.clip((e - 2 * e_min) / (b * e), 0, 1)
    one = np.clip(((1 + b) * e / 2 - e_min) / (b * e), 0, 1)
    tol = 5 * math.sqrt(0.25 / n) + 1e-12
    assert res["full", 2] == pytest.approx(both, abs=tol)
    assert res["full", 1] == pytest.approx(both, abs=tol)  # both on the face: both must pass
    assert res["half", 1] == pytest.approx(one, abs=tol)
    assert res["half", 2] == 0.0
    # daughters_hit is the two-daughter rule
    for i in range(0, n, 997):
        assert F.daughters_hit(full, 0.0, 0.0, 0.0, d[i], e_min, 1e9) == \
            F.daughters_seen(full, 0.0, 0.0, 0.0, d[i], e_min, 1e9, 2)


CHARM_TOML = Path(str(_geometry_dir().joinpath("charm.toml"))).read_text()


@pytest.mark.parametrize("edit, fragment", [
    (lambda t: t.replace('beta = { value = 0.444', 'beta = { value = 1.5'), "bmpt.beta"),
    (lambda t: t.replace('min_on_face = { value = 1', 'min_on_face = { value = 3', 1),
     "detection.ee.min_on_face"),
    (lambda t: t.replace('min_on_face = { value = 2', 'min_on_face = { value = 1.5', 1),
     "detection.mumu.min_on_face"),
    (lambda t: t.replace('pt_max = { value = 3.0', 'pt_max = { value = 9.0'), "bmpt.pt_max"),
    (lambda t: t.replace('kplus_fraction = { value = 0.0', 'kplus_fraction = { value = -1', 1),
     "parents.kminus.kplus_fraction"),
])
def test_bad_charm_geometry_is_one_line_exit_2(edit, fragment, tmp_path, capsys):
    from kotosim.cli import main

    p = tmp_path / "c.toml"
    p.write_text(edit(CHARM_TOML))
    out = tmp_path / "out"
    out.mkdir()
    os.chdir(out)
    rc = main(["run", str(p), "--events", "1000", "--mass", "100"])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and fragment in err
    assert list(out.iterdir()) == []


BMPT_CASES = [
    (0, {}), (1, {}), (2, {}),
    # pion-like BMPT shape (B > 0: the x_R factor is not monotonic) on a light target
    (0, {"bmpt.b": 1.57, "bmpt.alpha": 3.45, "bmpt.beta": 0.517, "bmpt.a": 6.1e-3,
         "bmpt.gamma": 0.153, "bmpt.delta": 0.478, "bmpt.target_mass_number": 4.0}),
]


def _bmpt_setup(channel, overrides):
    from kotosim.experiments import _flight
    from kotosim.experiments import charm as ch

    geo = kotosim.load_geometry("charm", overrides=overrides)
    cfg = ch.kernel_config(geo, channel, 100.0, 10, 10, 0)
    return geo, cfg, _flight.bmpt_table(cfg)


@pytest.mark.parametrize("channel, overrides", BMPT_CASES)
def test_bmpt_envelope_bounds_the_spectrum(channel, overrides):
    """The rejection sampler is exact only if every cell's upper bound is above the density
    and its squeeze below it: checked with the kernel's own density at the cell corners
    (where monotone bounds are attained) and at random points, as the sampler places them.
    The bounds also bracket the independent (trapezoidal) yield integral."""
    from kotosim.experiments import charm as ch
    from kotosim.kernels import flight as F

    geo, cfg, tab = _bmpt_setup(channel, overrides)
    m = cfg.m_parent * 1e-3
    npt = cfg.bm_npt
    rng = np.random.default_rng(3)
    cells = rng.choice(tab.shape[0], 3000, p=tab[:, 0] / tab[:, 0].sum())  # where kaons come from
    cells = np.concatenate([cells, rng.integers(0, tab.shape[0], 3000)])  # anywhere
    worst = 0.0
    for k in cells:
        iy, ip = divmod(int(k), npt)
        for uy, up in [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0), tuple(rng.random(2))]:
            f = F.bmpt_density((iy + uy) * cfg.bm_dy, (ip + up) * cfg.bm_dpt, m, cfg)
            assert tab[k, 1] <= f <= tab[k, 0], (k, uy, up)
            if tab[k, 0] > 0.0:
                worst = max(worst, f / tab[k, 0])
    assert worst > 0.95  # the upper bounds are tight somewhere
    key = ("kplus", "kminus", "kl")[channel]
    area = cfg.bm_dy * cfg.bm_dpt
    integral = ch._bmpt_integral(ch._bmpt_params(geo, key), m) / (2 * math.pi)
    assert tab[:, 1].sum() * area < integral < tab[:, 0].sum() * area
    assert integral > 0.85 * tab[:, 0].sum() * area  # acceptance of the rejection


@pytest.mark.parametrize("channel, overrides", [BMPT_CASES[0], BMPT_CASES[3]])
def test_bmpt_sampler_against_the_density(channel, overrides):
    """Kaons drawn by the kernel (lab momenta turned back into CM y* and p_T) against the
    density integrated over 8 x 8 bins (midpoint rule, 24 x 24 points a bin): chi^2 within
    5 sigma of its number of degrees of freedom."""
    from kotosim.kernels import flight as F

    _, cfg, tab = _bmpt_setup(channel, overrides)
    n = 200_000
    cfg = cfg._replace(n_events=n, chunk_size=n)
    out = np.zeros((1, n, F.NBANK))
    seeds = np.array([[0x9E3779B97F4A7C15, 7, 11, 13]], dtype=np.uint64)
    F.parent_bank(cfg, seeds, np.array([0]), out, tab)
    kx, ky, kz = out[0, :, 0], out[0, :, 1], out[0, :, 2]
    m = cfg.m_parent * 1e-3
    pt = np.hypot(kx, ky) * 1e-3
    e = np.sqrt((kx**2 + ky**2 + kz**2) * 1e-6 + m * m)
    y = np.arctanh(kz * 1e-3 / e) - cfg.bm_ycm
    ymax = math.acosh(cfg.bm_emax / m)
    assert y.min() > -1e-9 and y.max() < ymax + 1e-9 and pt.max() <= cfg.bm_ptmax
    ye = np.linspace(0.0, ymax, 9)
    pe = np.quantile(pt, np.linspace(0, 1, 9))  # bins of similar content
    pe[0], pe[-1] = 0.0, cfg.bm_ptmax
    obs = np.histogram2d(y, pt, bins=[ye, pe])[0]
    exp = np.zeros_like(obs)
    for i in range(8):
        yc = ye[i] + (np.arange(24) + 0.5) / 24 * (ye[i + 1] - ye[i])
        for j in range(8):
            pc = pe[j] + (np.arange(24) + 0.5) / 24 * (pe[j + 1] - pe[j])
            f = [F.bmpt_density(a, b, m, cfg) for a in yc for b in pc]
            exp[i, j] = np.mean(f) * (ye[i + 1] - ye[i]) * (pe[j + 1] - pe[j])
    exp *= n / exp.sum()
    use = exp > 20
    chi2 = float(np.sum((obs[use] - exp[use]) ** 2 / exp[use]))
    ndf = int(use.sum()) - 1
    assert ndf > 30
    assert chi2 < ndf + 5 * math.sqrt(2 * ndf), (chi2, ndf)


def test_bmpt_pt_shape_range_is_the_range_on_a_dense_grid():
    """The envelope's p_T bounds (min and max of p (1 + a p + b p^2) exp(-a p) on a cell,
    from the one positive root of its derivative) against a dense grid, for cells below, at
    and above the maximum and both signs of 3 b - a^2."""
    from kotosim.kernels import flight as F

    rng = np.random.default_rng(5)
    n_peak = 0
    for _ in range(400):
        a, b = rng.uniform(0.5, 12.0), rng.uniform(0.05, 60.0)
        p0 = rng.uniform(0.0, 1.5)
        p1 = p0 + rng.uniform(1e-3, 0.5)
        lo, hi = F.bmpt_pt_shape_range(a, b, p0, p1)
        p = np.linspace(p0, p1, 4001)
        h = p * (1 + a * p + b * p * p) * np.exp(-a * p)
        assert lo == pytest.approx(h.min(), rel=1e-12)
        assert h.max() * (1 - 1e-9) <= hi <= h.max() * (1 + 1e-6)
        n_peak += bool(h.max() > max(h[0], h[-1]) * (1 + 1e-9))
    assert n_peak > 20  # cells with the maximum inside were checked


def test_bmpt_cell_bounds_for_random_parameters_in_the_schema():
    """The monotonicity behind the cell bounds holds for every BMPT parameter set the
    geometry schema allows (B >= 0, alpha >= 0, 0 <= beta < 1, gamma, delta >= 0 with
    delta != 2 gamma, K- admixture with any r1 <= 0, targets lighter and heavier than Be):
    on a coarse grid, lower <= density <= upper at every corner and at random points."""
    from kotosim.experiments import charm as ch
    from kotosim.kernels import flight as F

    rng = np.random.default_rng(11)
    for _ in range(8):
        over = {"bmpt.b": rng.uniform(0, 3), "bmpt.alpha": rng.uniform(0, 5),
                "bmpt.beta": rng.uniform(0, 0.9), "bmpt.a": rng.uniform(2e-3, 8e-3),
                "bmpt.gamma": rng.uniform(0, 0.5), "bmpt.delta": rng.uniform(0, 1.0),
                "bmpt.r1": -rng.uniform(0, 5), "bmpt.target_mass_number": rng.uniform(2, 200),
                "parents.kl.kplus_fraction": rng.uniform(0, 1)}
        try:
            geo = kotosim.load_geometry("charm", overrides=over)
        except kotosim.GeometryError:  # p_T range too large for a heavy target: refused
            continue
        cfg = ch.kernel_config(geo, 2, 100.0, 10, 10, 0)
        m = cfg.m_parent * 1e-3
        ny, npt = 24, 48
        cfg = cfg._replace(bm_npt=npt, bm_dy=math.acosh(cfg.bm_emax / m) / ny,
                           bm_dpt=cfg.bm_ptmax / npt)
        tab = F.bmpt_bounds_table(cfg, m, ny)
        assert np.all(tab[:, 1] <= tab[:, 0]) and tab[:, 0].max() > 0
        for k in range(tab.shape[0]):
            iy, ip = divmod(k, npt)
            for uy, up in [(0, 0), (0, 1), (1, 0), (1, 1), tuple(rng.random(2)),
                           tuple(rng.random(2))]:
                f = F.bmpt_density((iy + uy) * cfg.bm_dy, (ip + up) * cfg.bm_dpt, m, cfg)
                assert tab[k, 1] <= f <= tab[k, 0], (over, k, uy, up)
