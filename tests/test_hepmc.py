"""HepMC3 output of the event sample: round trip through pyhepmc, decay graph, bad input."""

from __future__ import annotations

import math
import os
import sys

import awkward as ak
import numpy as np
import pytest
import vector

import kotosim
from kotosim import hepmc
from kotosim.cli import main
from kotosim.result import Result

pyhepmc = pytest.importorskip("pyhepmc")

M_K, M_PI, M_E, M_MU = 493.677, 139.57039, 0.51099895069, 105.6583755  # MeV (PDG)
M_PHI = 250.0
CTAU = np.array([10.0, 1000.0, math.inf])


# ---------------------------------------------------------------------------- synthetic sample
def _two_body(rng, p, m_mother, m1, m2):
    """Isotropic two-body decay of mothers with lab four-momenta p (N, 4): (N, 4) x 2."""
    n = p.shape[0]
    q = math.sqrt((m_mother**2 - (m1 + m2) ** 2) * (m_mother**2 - (m1 - m2) ** 2)) / (2 * m_mother)
    cth = rng.uniform(-1, 1, n)
    phi = rng.uniform(0, 2 * math.pi, n)
    sth = np.sqrt(1 - cth**2)
    k = q * np.stack([sth * np.cos(phi), sth * np.sin(phi), cth], axis=1)
    out = []
    for sign, m in ((1.0, m1), (-1.0, m2)):
        ks = sign * k
        es = math.sqrt(q * q + m * m)
        b = p[:, :3] / p[:, 3:4]
        b2 = (b**2).sum(axis=1)
        g = 1 / np.sqrt(1 - b2)
        bk = (b * ks).sum(axis=1)
        coef = np.where(b2 > 0, (g - 1) * bk / np.where(b2 > 0, b2, 1), 0.0) + g * es
        out.append(np.column_stack([ks + coef[:, None] * b, g * (es + bk)]))
    return out


def _p4(a):
    return ak.zip({"px": a[:, 0], "py": a[:, 1], "pz": a[:, 2], "E": a[:, 3]},
                  with_name="Momentum4D")


def _synthetic(n=300, seed=7, daughter_names=("phi_d1", "phi_d2"), pdg_columns=False):
    """K+ -> pi+ phi, phi -> e+e- / mu+mu- / gamma gamma / not decayed (a quarter each), with
    a flight, the phi decay vertex and three per-ctau weights: a flight-kernel-like sample with
    the daughters the KOTO/flight samples are getting."""
    vector.register_awkward()
    rng = np.random.default_rng(seed)
    pk = rng.uniform(60e3, 90e3, n)
    dirs = np.column_stack([rng.normal(0, 1e-4, n), rng.normal(0, 1e-4, n), np.ones(n)])
    dirs /= np.linalg.norm(dirs, axis=1)[:, None]
    parent = np.column_stack([pk[:, None] * dirs, np.sqrt(pk**2 + M_K**2)])
    flight = rng.uniform(1e3, 6e4, n)
    prod = rng.normal(0, 5.0, (n, 3))
    vtx = prod + flight[:, None] * dirs
    h, phi = _two_body(rng, parent, M_K, M_PI, M_PHI)
    kind = np.arange(n) % 4  # 0 ee, 1 mumu, 2 gamma gamma, 3 not decayed
    d1, d2 = np.full((n, 4), np.nan), np.full((n, 4), np.nan)
    for k, m in ((0, M_E), (1, M_MU), (2, 0.0)):
        s = kind == k
        a, b = _two_body(rng, phi[s], M_PHI, m, m)
        d1[s], d2[s] = a, b
    pphi = phi[:, :3] / np.linalg.norm(phi[:, :3], axis=1)[:, None]
    lphi = rng.uniform(10.0, 2e4, n)
    phi_vtx = np.where((kind < 3)[:, None], vtx + lphi[:, None] * pphi, np.nan)
    fields = {
        "parent": _p4(parent),
        "vertex": ak.zip({"x": vtx[:, 0], "y": vtx[:, 1], "z": vtx[:, 2]}, with_name="Vector3D"),
        "h": _p4(h), "phi": _p4(phi),
        "phi_vertex": ak.zip({"x": phi_vtx[:, 0], "y": phi_vtx[:, 1], "z": phi_vtx[:, 2]},
                             with_name="Vector3D"),
        daughter_names[0]: _p4(d1), daughter_names[1]: _p4(d2),
        "selected": (kind != 1).astype(np.int32), "parent_flight": flight,
        "weight": rng.uniform(0, 1, (n, CTAU.size)),
    }
    if pdg_columns:
        code = np.choose(kind, [11, 13, 22, 0])
        fields[f"{daughter_names[0]}_pdg"] = -code * (kind < 2) + code * (kind >= 2)
        fields[f"{daughter_names[1]}_pdg"] = code * (kind < 2) + code * (kind >= 2)
    sample = ak.zip(fields, depth_limit=1)
    res = Result(experiment="na62", variant=None, mass=M_PHI, ctau=CTAU, n_events=n, seed=seed,
                 acceptance={}, error={}, sample=sample, config={})
    return res, dict(parent=parent, h=h, phi=phi, d1=d1, d2=d2, vtx=vtx, phi_vtx=phi_vtx,
                     flight=flight, kind=kind)


def _read(path):
    with pyhepmc.open(path) as f:
        return list(f)


def _mom(p):
    m = p.momentum
    return np.array([m.px, m.py, m.pz, m.e])


def _pos(v):
    x = v.position
    return np.array([x.x, x.y, x.z, x.t])


def _conserved_everywhere(evt):
    for v in evt.vertices:
        if not v.particles_in:
            continue
        pin = sum(_mom(p) for p in v.particles_in)
        pout = sum(_mom(p) for p in v.particles_out)
        assert np.abs(pin - pout).max() <= 1e-9 * pin[3], (evt.event_number, pin, pout)


# ---------------------------------------------------------------------------- round trips
def test_round_trip_synthetic_with_daughters(tmp_path):
    res, t = _synthetic()
    path = hepmc.write_hepmc(res, tmp_path / "ev.hepmc3")
    events = _read(path)
    n = len(res.sample)
    assert len(events) == n
    assert [e.event_number for e in events] == list(range(n))
    names = ["ctau=10mm", "ctau=1000mm", "ctau=inf"]
    w = ak.to_numpy(res.sample.weight)
    expected = {0: (11, -11), 1: (13, -13), 2: (22, 22)}
    for i, e in enumerate(events):
        assert e.momentum_unit == pyhepmc.Units.MEV and e.length_unit == pyhepmc.Units.MM
        assert list(e.run_info.weight_names) == names
        np.testing.assert_array_equal(e.weights, w[i])  # written with 22 digits: exact
        assert e.weight("ctau=inf") == w[i, 2]
        assert e.attributes["selected"].astype(int) == int(t["kind"][i] != 1)
        _conserved_everywhere(e)
        (par,) = [p for p in e.particles if p.status == 4]
        assert par.pid == 321 and not par.parents
        np.testing.assert_allclose(_mom(par), t["parent"][i], rtol=1e-14)
        v0 = par.end_vertex
        beta_inv = t["parent"][i, 3] / np.linalg.norm(t["parent"][i, :3])
        np.testing.assert_allclose(_pos(v0), [*t["vtx"][i], t["flight"][i] * beta_inv],
                                   rtol=1e-13)
        out = {p.pid: p for p in v0.particles_out}
        assert sorted(out) == [54, 211]
        np.testing.assert_allclose(_mom(out[211]), t["h"][i], rtol=1e-14)
        np.testing.assert_allclose(_mom(out[54]), t["phi"][i], rtol=1e-14)
        assert out[211].status == 1
        phi = out[54]
        assert phi.generated_mass == pytest.approx(M_PHI, rel=1e-9)
        if t["kind"][i] == 3:  # not decayed: final, no decay vertex
            assert phi.status == 1 and phi.end_vertex is None and len(e.particles) == 3
            continue
        assert phi.status == 2 and len(e.particles) == 5
        vd = phi.end_vertex
        pp = t["phi"][i]
        tof = np.linalg.norm(t["phi_vtx"][i] - t["vtx"][i]) * pp[3] / np.linalg.norm(pp[:3])
        np.testing.assert_allclose(_pos(vd), [*t["phi_vtx"][i], _pos(v0)[3] + tof], rtol=1e-13)
        d = vd.particles_out
        assert tuple(p.pid for p in d) == expected[t["kind"][i]]
        assert all(p.status == 1 for p in d)
        np.testing.assert_allclose(_mom(d[0]), t["d1"][i], rtol=1e-14, atol=1e-9)
        np.testing.assert_allclose(_mom(d[1]), t["d2"][i], rtol=1e-14, atol=1e-9)
    run = events[0].run_info
    assert run.attributes["experiment"].astype(str) == "na62"
    assert run.attributes["phi_pdg_id"].astype(int) == hepmc.PHI_PDG == 54
    assert run.attributes["phi_mass_MeV"].astype(float) == M_PHI


def test_pdg_columns_and_single_ctau(tmp_path):
    res, t = _synthetic(n=40, pdg_columns=True)
    events = _read(hepmc.write_hepmc(res, tmp_path / "one.hepmc", ctau_index=1))
    w = ak.to_numpy(res.sample.weight)[:, 1]
    for i, e in enumerate(events):
        assert list(e.run_info.weight_names) == ["ctau=1000mm"]
        assert list(e.weights) == [w[i]]
        phi = [p for p in e.particles if p.pid == 54][0]
        if t["kind"][i] < 2:  # the given ids (antiparticle first here) win over the default
            code = 11 if t["kind"][i] == 0 else 13
            assert [p.pid for p in phi.end_vertex.particles_out] == [-code, code]


def test_koto_sample_round_trip(tmp_path):
    res = kotosim.simulate("koto", mass=100.0, ctau=[100.0, math.inf], n_events=4000, seed=3,
                           sample_size=150, reference=False, hists=False)
    events = _read(hepmc.write_hepmc(res, tmp_path / "koto.hepmc3"))
    s = res.sample
    assert len(events) == len(s) == 150
    vtx = np.column_stack([ak.to_numpy(s.vertex[c]) for c in "xyz"])
    for i, e in enumerate(events):
        _conserved_everywhere(e)
        (kl,) = [p for p in e.particles if p.status == 4]
        assert kl.pid == 130
        # the K_L is rebuilt from its products: its momentum is the sampled K_L momentum
        assert np.linalg.norm(_mom(kl)[:3]) == pytest.approx(float(s.p_kl[i]), rel=1e-12)
        assert kl.generated_mass == pytest.approx(497.611, rel=1e-9)
        np.testing.assert_allclose(_pos(kl.end_vertex), [*vtx[i], 0.0], rtol=1e-14)
        out = {p.pid: p for p in kl.end_vertex.particles_out}
        assert sorted(out) == [54, 111] and out[111].status == 2
        # phi decays (KOTO samples its daughters) at the recorded decay point
        phi = out[54]
        assert phi.status == 2
        np.testing.assert_allclose(_pos(phi.end_vertex)[:3],
                                   [float(s.x_vertex[c][i]) for c in "xyz"], rtol=1e-12)
        assert len(phi.end_vertex.particles_out) == int(s.n_dau[i])
        gg = out[111].end_vertex
        np.testing.assert_allclose(_pos(gg), _pos(kl.end_vertex))  # pi0 flight neglected
        assert [p.pid for p in gg.particles_out] == [22, 22]
        np.testing.assert_allclose(_mom(gg.particles_out[0]),
                                   [float(s.g1[c][i]) for c in ("px", "py", "pz", "E")],
                                   rtol=1e-14)
        np.testing.assert_array_equal(e.weights, ak.to_numpy(s.weight)[i])
        assert e.attributes["stage"].astype(int) == int(s.stage[i])


# ---------------------------------------------------------------------------- bad input (API)
def test_daughters_not_named_after_their_mother_are_refused(tmp_path):
    res, _ = _synthetic(n=20, daughter_names=("d1", "d2"))
    with pytest.raises(hepmc.HepMCError, match="four-momentum not conserved at the decay of "
                       "'parent'"):
        hepmc.write_hepmc(res, tmp_path / "x.hepmc3")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("change, fragment", [
    (lambda r: setattr(r, "sample", None), "no event sample"),
    (lambda r: setattr(r, "experiment", "koto"), "mass"),  # a K+ sample labelled KOTO
    (lambda r: setattr(r, "mass", 200.0), "'phi'"),        # phi mass not the result's
    (lambda r: setattr(r, "sample", r.sample[[f for f in r.sample.fields if f != "phi_vertex"]]),
     "no 'phi_vertex' field"),                              # phi decays, but where?
    (lambda r: setattr(r, "sample", ak.with_field(r.sample, np.full(len(r.sample), np.nan),
                                                  ["phi_vertex", "x"])),
     "'phi_vertex' is not finite"),
])
def test_bad_result_is_refused_without_file(change, fragment, tmp_path):
    res, _ = _synthetic(n=10)
    change(res)
    with pytest.raises(hepmc.HepMCError, match=fragment):
        hepmc.write_hepmc(res, tmp_path / "x.hepmc3")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("index", [3, -1, 1.0])
def test_bad_ctau_index(index, tmp_path):
    res, _ = _synthetic(n=5)
    with pytest.raises(hepmc.HepMCError, match="ctau_index"):
        hepmc.write_hepmc(res, tmp_path / "x.hepmc3", ctau_index=index)
    assert list(tmp_path.iterdir()) == []


def test_failure_while_writing_leaves_no_file(tmp_path, monkeypatch):
    res, _ = _synthetic(n=10)
    real = hepmc._event

    def flaky(hp, run, smp, i, cols):
        if i == 5:
            raise RuntimeError("disk full")
        return real(hp, run, smp, i, cols)

    monkeypatch.setattr(hepmc, "_event", flaky)
    with pytest.raises(RuntimeError):
        hepmc.write_hepmc(res, tmp_path / "x.hepmc3")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------- command line
def test_cli_writes_hepmc(tmp_path, capsys):
    os.chdir(tmp_path)
    rc = main(["run", "na62", "--mass", "100", "--ctau", "1,inf", "--events", "3000",
               "--sample", "40", "--out", "n.root", "--hepmc", "n.hepmc3", "--quiet"])
    assert rc == 0, capsys.readouterr().err
    assert "n.hepmc3" in capsys.readouterr().out
    events = _read(tmp_path / "n.hepmc3")
    assert len(events) == 40
    assert list(events[0].run_info.weight_names) == ["ctau=1000mm", "ctau=inf"]
    assert {p.pid for p in events[0].particles} == {321, 211, 54}


@pytest.mark.parametrize("args, fragment", [
    (["--sample", "0", "--hepmc", "e.hepmc3"], "--sample"),
    (["--hepmc", "e.txt"], ".hepmc3"),
    (["--hepmc", "d.hepmc3"], "is a directory"),
    (["--hepmc", "afile/e.hepmc3"], "not a directory"),
])
def test_cli_bad_hepmc_option(args, fragment, tmp_path, capsys):
    os.chdir(tmp_path)
    (tmp_path / "d.hepmc3").mkdir()
    (tmp_path / "afile").write_text("")
    rc = main(["run", "na62", "--events", "1000", "--quiet", *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("kotosim: error: --")
    assert fragment in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "d.hepmc3"]
    assert list((tmp_path / "d.hepmc3").iterdir()) == []


def test_cli_without_pyhepmc_says_how_to_install(tmp_path, capsys, monkeypatch):
    os.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "pyhepmc", None)  # import fails as if not installed
    rc = main(["run", "na62", "--events", "1000", "--hepmc", "e.hepmc3", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "pip install 'kotosim[hepmc]'" in err[0]
    assert list(tmp_path.iterdir()) == []
