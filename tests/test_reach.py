"""The coupling plane (kotosim.reach) and the constraint files (kotosim.constraints)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import brentq

from kotosim import analytic, reach
from kotosim.cli import main
from kotosim.constraints import (
    ConstraintError,
    available_constraints,
    load_constraint,
    poisson_interval,
    poisson_upper_limit,
)
from kotosim.geometry import load_geometry
from kotosim.model import ScalarModel

N = 20_000
DATA = Path(__file__).resolve().parents[1] / "kotosim" / "constraints" / "data"


def test_public_api():
    import kotosim

    assert {"reach", "ReachResult", "write_reach_root"} <= set(kotosim.__all__)
    assert kotosim.reach is reach and callable(reach)


# ------------------------------------------------------------------------- constraint files
def test_every_shipped_constraint_loads_with_sources():
    names = available_constraints()
    assert {"koto_2015", "koto_2016_2018", "koto_2021", "na62_2017", "na62_2016_2022", "e949",
            "charm", "lhcb_b0_kstar0_mumu", "lhcb_bplus_kplus_mumu",
            "lhcb_b0_kstar0_ee"} <= set(names)
    for n in names:
        c = load_constraint(n)
        assert "arXiv" in c.source or "PLB" in c.source or "INSPIRE" in c.source
        assert 0.5 < c.cl < 1
        assert all(c.sources[k] for k in c.numbers)


def test_poisson_limits_textbook_values():
    # classical 90% CL upper limits for n = 0 and 3 without background: 2.30 and 6.68 (PDG
    # statistics review, table of Poisson upper limits)
    assert poisson_upper_limit(0, 0.0, 0.9) == pytest.approx(2.3026, abs=1e-4)
    assert poisson_upper_limit(3, 0.0, 0.9) == pytest.approx(6.68, abs=5e-3)
    assert poisson_upper_limit(0, 1.0, 0.9) == pytest.approx(1.3026, abs=1e-4)
    lo, hi = poisson_interval(3, 0.0, math.erf(1 / math.sqrt(2)))  # 1 sigma
    # -2 ln L ratio = 1 for n = 3: mu = 1.58 ... 5.08 (solved by hand from the Poisson log L)
    f = lambda mu: 2 * (mu - 3 * math.log(mu) - (3 - 3 * math.log(3))) - 1  # noqa: E731
    assert lo == pytest.approx(brentq(f, 0.5, 3), rel=1e-8)
    assert hi == pytest.approx(brentq(f, 3, 10), rel=1e-8)


@pytest.mark.parametrize("name", ["koto_2015", "koto_2016_2018", "koto_2021"])
def test_koto_limit_method_reproduces_published_ul(name):
    c = load_constraint(name)
    assert c.br_limit() == pytest.approx(c.numbers["published_ul"], rel=0.03)


def _copy(tmp_path: Path, name: str) -> Path:
    src = DATA / f"{name}.toml"
    dst = tmp_path / src.name
    shutil.copy(src, dst)
    text = src.read_text()
    for line in text.splitlines():
        if line.startswith("table = "):
            t = line.split('"')[1]
            shutil.copy(DATA / t, tmp_path / t)
    return dst


@pytest.mark.parametrize("name, old, new, key", [
    ("koto_2015", 'ses = { value = 1.30e-9', 'ses = { value = -1.30e-9', "numbers.ses"),
    ("koto_2015", 'unit = "1", source = "[paper] arXiv:1810.09655: single', 'unit = "ns", '
     'source = "x', "numbers.ses"),
    ("koto_2015", 'observed = { value = 0,', 'observed = { value = 0.5,', "numbers.observed"),
    ("koto_2015", 'limit_method = "poisson_no_background"', 'limit_method = "cls"',
     "limit_method"),
    ("koto_2015", 'method = "koto_events"', 'method = "magic"', "method"),
    ("koto_2015", '[numbers]', 'colour = "red"\n[numbers]', "colour"),
    ("koto_2015", 'cl = { value = 0.90', 'cl = { value = 1.5', "numbers.cl"),
    ("koto_2016_2018", 'lo68 = { value = 1.0e-9', 'lo68 = { value = 5.0e-9', "band"),
    ("na62_2017", 'table = "na62_kpiX_ul_2017.csv"', 'table = "missing.csv"', "table"),
    ("na62_2017", 'reference = "stable"', 'reference = "lifetime"', "reference_tau"),
    ("na62_2016_2022", 'reference = "stable"', 'reference = "lifetime"', "reference"),
    ("na62_2016_2022", 'table_columns = "mass,ul"', 'table_columns = "mass,tau,ul"', "table"),
    ("lhcb_b0_kstar0_ee", 'channel = "b0_kstar0"', 'channel = "bs_phi"', "channel"),
])
def test_malformed_constraint_file_names_file_and_key(tmp_path, name, old, new, key):
    p = _copy(tmp_path, name)
    text = p.read_text()
    assert old in text
    p.write_text(text.replace(old, new, 1))
    with pytest.raises(ConstraintError) as exc:
        load_constraint(p)
    msg = str(exc.value)
    assert "\n" not in msg and str(p) in msg and key in msg


def test_malformed_table_rows(tmp_path):
    p = _copy(tmp_path, "na62_2016_2022")
    t = tmp_path / "na62_kpiX_ul_stable_2016_2022.csv"
    t.write_text(t.read_text() + "12.0,-3e-11\n")
    with pytest.raises(ConstraintError, match="key 'table'.*limits must be"):
        load_constraint(p)


# ------------------------------------------------------------------------- recast physics
def test_stable_limit_reproduced_at_infinite_lifetime():
    c = load_constraint("na62_2016_2022")
    tm = c.table.masses
    ok = np.isfinite(c.table.ul) & (tm > 5) & (tm < 240)
    masses = tm[ok][::40]
    r = reach("ctau", masses, [1e18], experiments=["na62"], n_events=N)
    for meth in ("simulation", "one_formula"):
        got = r.values[("na62_2016_2022", meth)][:, 0]
        np.testing.assert_allclose(got, c.table.ul[ok][::40], rtol=1e-9)


def _stable_rows_check(experiment: str, name: str):
    """At c tau -> inf the recast must return the published stable-X limit (the tau = inf
    rows of the (m, tau) grid) exactly."""
    c = load_constraint(name)
    assert math.isinf(c.reference_tau) and math.isinf(c.table.taus[-1])
    masses = np.array([10.0, 50.0, 100.0])
    r = reach("ctau", masses, [1e18], experiments=[experiment], n_events=N)
    want = c.table.at(masses, math.inf)
    assert np.isfinite(want).all()
    for meth in ("simulation", "one_formula"):
        np.testing.assert_allclose(r.values[(name, meth)][:, 0], want, rtol=1e-12)


def test_na62_2017_reproduces_published_stable_limit_at_infinite_lifetime():
    _stable_rows_check("na62", "na62_2017")


def test_e949_reproduces_published_stable_limit_at_infinite_lifetime():
    _stable_rows_check("e949", "e949")


def test_grid_tau_inf_rows_are_the_stable_limit_and_are_not_interpolated(tmp_path):
    """A grid's tau = inf rows are the stable-X limit: at(m, inf) returns them, a finite
    lifetime past the longest finite one has no limit (no interpolation towards inf), and
    a finite lifetime on the grid returns the published row."""
    p = _copy(tmp_path, "na62_2016_2022")
    (tmp_path / "g.csv").write_text("10,100,4e-9\n10,5000,2e-10\n10,inf,1e-10\n"
                                    "20,100,8e-9\n20,5000,4e-10\n20,inf,2e-10\n")
    text = p.read_text().replace('table = "na62_kpiX_ul_stable_2016_2022.csv"',
                                 'table = "g.csv"').replace('"mass,ul"', '"mass,tau,ul"')
    p.write_text(text)
    c = load_constraint(p)
    assert math.isinf(c.reference_tau)
    assert c.table.at(10.0, math.inf) == pytest.approx(1e-10, rel=1e-12)
    assert c.table.at(15.0, math.inf) == pytest.approx(math.sqrt(1e-10 * 2e-10), rel=1e-12)
    assert c.table.at(20.0, 5.0) == pytest.approx(4e-10, rel=1e-12)
    assert math.isnan(c.table.at(10.0, 7.0))
    (tmp_path / "g.csv").write_text("10,100,4e-9\n10,5000,2e-10\n20,100,8e-9\n20,5000,4e-10\n")
    with pytest.raises(ConstraintError, match="key 'reference'.*no stable-X limit"):
        load_constraint(p)
    (tmp_path / "g.csv").write_text("10,nan,4e-9\n")
    with pytest.raises(ConstraintError, match="key 'table'.*lifetimes must be > 0"):
        load_constraint(p)


def test_one_formula_toy_gives_the_analytic_contour():
    """A toy NA62 with one momentum p and one length L (the one-formula acceptance
    exp(-L m/(p c tau))): the exclusion edge in eps_q must be the root of
    BR(K+ -> pi+ phi; eps_q) exp(-L m/(p c tau(eps_q))) = UL_stable(m)."""
    from kotosim.recast import contours

    c = load_constraint("na62_2016_2022")
    geo = load_geometry("na62")
    L, p = geo["analytic.length"], geo["analytic.momentum"]
    masses = np.array([20.0, 40.0])
    eps = np.geomspace(1e-5, 1e-1, 400)
    r = reach("seed", masses, eps, constraints=["na62_2016_2022"], n_events=2000)
    edges = contours(r.values[("na62_2016_2022", "one_formula")], masses, eps)
    assert [e[3] for e in edges] == [1, 1]  # one lower edge per mass
    for (_i, mass, e_edge, _), el in zip(edges, r.grid.eps_l, strict=True):
        ul = float(c.table.at(mass))

        def f(lq, mass=mass, el=el, ul=ul):
            md = ScalarModel(mass, 10**lq, el)
            return math.log(md.br_kplus_piplusphi
                            * analytic.survival(mass, np.array([md.ctau]), L, p)[0] / ul)

        root = 10 ** brentq(f, -5, -1, xtol=1e-12)
        assert e_edge == pytest.approx(root, rel=2e-3)


def test_contours_monotone_in_ctau():
    """Per event the probability that phi escapes the vetoes grows with c tau and the
    probability of a prompt decay falls: the excluded BR of NA62 and KOTO cannot rise with
    c tau and LHCb's prompt window's cannot fall (exactly, for every mass)."""
    ct = np.geomspace(1e2, 1e8, 13)
    r = reach("ctau", [30.0, 90.0, 180.0], ct, experiments=["koto", "na62", "lhcb"],
              koto_data=["2015"], n_events=N)
    for name, sign in (("na62_2016_2022", -1), ("koto_2015", -1), ("lhcb_b0_kstar0_ee", 1)):
        v = r.values[(name, "simulation")]
        d = np.diff(v, axis=1)
        assert np.all(sign * d[np.isfinite(d)] >= 0), name
        assert np.isfinite(d).sum() > 10


def test_koto_band_from_data_and_published_are_both_present():
    r = reach("seed", [20.0, 50.0], [1e-3, 1e-2], experiments=["koto"], koto_data=["2016"],
              n_events=N)
    b = r.bands["koto_2016_2018"]
    assert b["published"] == (1.0e-9, 4.1e-9, 0.4e-9, 6.2e-9)
    lo68, hi68, _, _ = b["from_data"]
    s_lo, s_hi = poisson_interval(3, 1.22, math.erf(1 / math.sqrt(2)))
    assert (lo68, hi68) == pytest.approx((s_lo * 7.2e-10, s_hi * 7.2e-10))
    br = r.koto_br["simulation"]["koto_2016_2018"]
    # BR_KOTO / BR limit is the deciding quantity
    np.testing.assert_allclose(br / load_constraint("koto_2016_2018").br_limit(),
                               r.values[("koto_2016_2018", "simulation")])


# ------------------------------------------------------------------------- reproducibility
def _small(**kw):
    return reach("higgs", [30.0, 150.0], [1e-8, 1e-6, 1e-4], experiments=["koto", "na62"],
                 koto_data=["2015"], n_events=40_000, seed=7, **kw)


def _same(a, b):
    assert a.values.keys() == b.values.keys()
    for k in a.values:
        np.testing.assert_array_equal(a.values[k], b.values[k])
        np.testing.assert_array_equal(a.errors[k], b.errors[k])


def test_same_seed_same_plane_on_1_and_2_threads():
    _same(_small(threads=1), _small(threads=2))


def test_same_seed_same_plane_on_dask():
    pytest.importorskip("distributed")
    _same(_small(threads=1), _small(workers=2))


def test_charm_bank_and_lhcb_same_plane_on_threads_and_dask():
    """CHARM's parents come from a bank kept per process (drawn once, reused by every mass)
    and LHCb is asked for part of its quantities: the plane is still the same on 1 and 2
    threads and on Dask workers (each with its own bank)."""
    pytest.importorskip("distributed")

    def small(**kw):
        return reach("seed", [30.0, 150.0, 250.0], [1e-3, 1e-2], experiments=["charm", "lhcb"],
                     n_events=2 * 16384, seed=5, **kw)

    one = small(threads=1)
    assert any(np.nanmax(v) > 0 for v in one.values.values())
    _same(one, small(threads=2))
    _same(one, small(workers=2))


# ------------------------------------------------------------------------- CLI
def _run(capsys, tmp_path, *args):
    out = tmp_path / "r.root"
    code = main(["reach", *args, "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    return code, err, out


@pytest.mark.parametrize("args, word", [
    (["--model", "dilaton"], "--model"),
    (["--experiments", "koto,belle"], "belle"),
    (["--experiments", ","], "--experiments"),
    (["--koto-data", "2019"], "2019"),
    (["--masses", ""], "--masses"),
    (["--couplings", ""], "--couplings"),
    (["--couplings", "0,1e-3"], "--couplings"),
    (["--couplings", "-1e-3,1e-3"], "--couplings"),
    (["--model", "higgs", "--couplings", "1e-3,2"], "sin^2 theta"),
    (["--masses", "0,10"], "masses"),
    (["--masses", "10,1000"], "masses"),
    (["--events", "0"], "--events"),
    (["--workers", "2", "--scheduler", "tcp://x:1"], "--workers"),
])
def test_cli_bad_input_one_line_exit_2_no_file(capsys, tmp_path, args, word):
    code, err, out = _run(capsys, tmp_path, "--masses", "10,50", "--couplings", "1e-3,1e-2",
                          *args)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("kotosim: error:") and word in err
    assert list(tmp_path.iterdir()) == []


def test_cli_malformed_constraint_file(capsys, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    p = _copy(bad, "charm")
    p.write_text(p.read_text().replace("events_limit = { value = 2.3", "events_limit = "
                                                                       "{ value = -2.3"))
    code, err, out = _run(capsys, tmp_path, "--masses", "10,50", "--couplings", "1e-3,1e-2",
                          "--constraints", str(p))
    assert code == 2 and err.count("\n") == 1 and "numbers.events_limit" in err
    assert not out.exists() and [x.name for x in tmp_path.iterdir()] == ["bad"]


def test_cli_writes_root_contours_and_pngs(capsys, tmp_path):
    import uproot

    out = tmp_path / "seed.root"
    code = main(["reach", "--model", "seed", "--masses", "20,40,60", "--couplings",
                 "1e-4:1e-1:7:log", "--experiments", "koto,na62", "--koto-data", "2016",
                 "--events", "20000", "--out", str(out), "--quiet"])
    assert code == 0
    text = capsys.readouterr().out
    assert "NA62 2016-22" in text and "arXiv:2012.07571" in text
    with uproot.open(out) as f:
        h = f["na62_2016_2022/simulation"]
        assert h.member("fTitle").startswith("NA62 2016-22: predicted BR / 90% CL limit")
        assert h.axis(0).member("fTitle") == "m_{#phi} [MeV]"
        assert h.axis(1).member("fTitle") == "#epsilon_{q}"
        assert h.values().shape == (3, 7)
        t = f["contours"].arrays(library="np")
        assert t["mass_MeV"].size > 0 and set(t["method"]) <= {0, 1}
        assert "koto_band/koto_2016_2018_simulation" in f
    for png in ("seed_combined.png", "seed_na62_2016_2022.png", "seed_koto_2016_2018.png"):
        assert (tmp_path / png).stat().st_size > 10_000


def test_lhcb_parent_channel_simulated_only_where_a_result_needs_it(monkeypatch):
    """B+ -> K+ phi feeds only the displaced mu mu result (within its table's masses):
    elsewhere only the B0 channel (prompt e+e- window) is simulated."""
    import kotosim.recast as R

    seen, real = {}, R._block

    def spy(state, kind, mass, ctau, n, seed, mass_index, channels, block, threads):
        seen.setdefault(mass, set()).update(channels)
        return real(state, kind, mass, ctau, n, seed, mass_index, channels, block, threads)

    monkeypatch.setattr(R, "_block", spy)
    r = reach("ctau", [100.0, 300.0], [10.0, 100.0], experiments=["lhcb"], n_events=2000)
    b0, bp = R._LH_CHANNELS.index("b0_kstar0"), R._LH_CHANNELS.index("bplus_kplus")
    assert seen[100.0] == {b0} and seen[300.0] == {b0, bp}
    assert np.isnan(r.values[("lhcb_bplus_kplus_mumu", "simulation")][0]).all()
    assert np.isfinite(r.values[("lhcb_bplus_kplus_mumu", "simulation")][1]).all()
