"""Acceptance maps over (m_phi, ctau): reproducibility on any executor (threads, a real Dask
LocalCluster), resume after a kill, atomic output, Monte Carlo errors, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import uproot

import kotosim
from kotosim import engine
from kotosim import maps as S
from kotosim.cli import main
from kotosim.experiments import get
from kotosim.geometry import load_geometry

MASSES = [20.0, 120.0, 250.0]
CTAU = np.geomspace(10.0, 1e7, 5)  # mm
N_SMALL = 130_000  # two chunks: one block per mass


def _file_contents(path: Path) -> dict:
    """Everything a scan file holds, as plain arrays (uproot adds UUIDs, so compare this)."""
    out = {}
    with uproot.open(path) as f:
        for key, cls in f.classnames().items():
            key = key.rsplit(";", 1)[0]
            obj = f[key]
            if cls.startswith("TH"):
                out[key] = (obj.values(), obj.variances(), *(a.edges() for a in obj.axes),
                            obj.title)
            elif cls == "TTree":
                out[key] = obj.arrays(library="np")
            elif cls == "TObjString":
                out[key] = str(obj)
    return out


def _assert_same_file(a: Path, b: Path) -> None:
    ca, cb = _file_contents(a), _file_contents(b)
    assert sorted(ca) == sorted(cb)
    for key, va in ca.items():
        vb = cb[key]
        if isinstance(va, dict):
            assert sorted(va) == sorted(vb), key
            for col in va:
                np.testing.assert_array_equal(va[col], vb[col], err_msg=f"{key}:{col}")
        elif isinstance(va, tuple):
            for x, y in zip(va, vb, strict=True):
                if isinstance(x, np.ndarray):
                    np.testing.assert_array_equal(x, y, err_msg=key)
                else:
                    assert x == y, key
        else:
            assert va == vb, key


def _assert_same_maps(a: S.ScanResult, b: S.ScanResult) -> None:
    assert list(a.values) == list(b.values)
    for k in a.values:
        np.testing.assert_array_equal(a.values[k], b.values[k], err_msg=k)
        np.testing.assert_array_equal(a.errors[k], b.errors[k], err_msg=k)
    assert a.config == b.config


@pytest.fixture(scope="module")
def small_scan():
    return S.scan("koto", MASSES, CTAU, N_SMALL, seed=7, threads=1)


# --- reproducibility: threads, Dask, block order, equality with simulate --------------------

def test_scan_equals_simulate_per_mass_bit_for_bit(small_scan):
    for i, m in enumerate(MASSES):
        res = kotosim.simulate("koto", mass=m, ctau=CTAU, n_events=N_SMALL, seed=7,
                               mass_index=i, reference=(i == 0), hists=False)
        np.testing.assert_array_equal(small_scan.values["acceptance"][i],
                                      res.acceptance["phi_per_kl_exit"])
        np.testing.assert_array_equal(small_scan.errors["acceptance"][i],
                                      res.error["phi_per_kl_exit"])
        np.testing.assert_array_equal(small_scan.values["sim_over_analytic"][i],
                                      res.acceptance["sim_over_analytic"])
        if i == 0:  # the reference channel is keyed with mass index 0 in both
            np.testing.assert_array_equal(small_scan.values["ratio_reference"][0],
                                          res.acceptance["ratio_phi_pinunu"])


def test_thread_count_does_not_change_the_maps(small_scan):
    _assert_same_maps(small_scan, S.scan("koto", MASSES, CTAU, N_SMALL, seed=7, threads=2))


def test_block_order_does_not_change_the_result():
    """Two blocks computed in reverse order and merged in block order == the scan."""
    n = 33 * engine.DEFAULT_CHUNK_SIZE + 1000  # 34 chunks -> blocks of 32 and 2 chunks
    geo, exp = load_geometry("koto"), get("koto")
    blocks = engine.blocks(n, engine.DEFAULT_CHUNK_SIZE)
    assert len(blocks) == 2
    parts = {j: exp.scan_block(geo, 80.0, CTAU, n, 3, 0, b)
             for j, b in reversed(list(enumerate(blocks)))}
    tot = engine.merge(parts[j] for j in range(len(blocks)))
    want = exp.scan_finish(geo, 80.0, CTAU, tot, None)
    got = S.scan("koto", [80.0], CTAU, n, seed=3, reference=False)
    np.testing.assert_array_equal(got.values["acceptance"][0], want["acceptance"])
    np.testing.assert_array_equal(got.errors["acceptance"][0], want["error"])


def test_dask_local_cluster_gives_the_same_file(small_scan, tmp_path):
    pytest.importorskip("distributed")
    dask = S.scan("koto", MASSES, CTAU, N_SMALL, seed=7, workers=2)
    _assert_same_maps(small_scan, dask)
    a = S.write_scan_root(small_scan, tmp_path / "local.root")
    b = S.write_scan_root(dask, tmp_path / "dask.root")
    _assert_same_file(a, b)


def test_mass_index_and_seed_key_the_streams(small_scan):
    other = S.scan("koto", MASSES, CTAU, N_SMALL, seed=8, threads=1, reference=False)
    assert not np.array_equal(other.values["acceptance"], small_scan.values["acceptance"])
    assert "ratio_reference" not in other.values


# --- the map's contents and errors ----------------------------------------------------------

def test_root_maps_hold_values_errors_and_grid(small_scan, tmp_path):
    path = S.write_scan_root(small_scan, tmp_path / "s.root")
    with uproot.open(path) as f:
        h = f["koto/acceptance"]
        assert h.classname.startswith("TH2")
        np.testing.assert_array_equal(h.values(), small_scan.values["acceptance"])
        np.testing.assert_array_equal(h.variances(), small_scan.errors["acceptance"] ** 2)
        me, ce = h.axes[0].edges(), h.axes[1].edges()
        assert np.all((me[:-1] < MASSES) & (np.array(MASSES) < me[1:]))
        np.testing.assert_allclose(np.sqrt(ce[:-1] * ce[1:]), CTAU, rtol=1e-12)  # log centres
        for name in ("sim_over_analytic", "analytic", "ratio_reference"):
            assert f[f"koto/{name}"].values().shape == (3, 5)
        c = f["koto/curves/acceptance_m1"]
        np.testing.assert_array_equal(c.values(), small_scan.values["acceptance"][1])
        g = f["koto/grid"].arrays(library="np")
        assert g["mass_MeV"].size == 15
        np.testing.assert_array_equal(g["mass_MeV"].reshape(3, 5)[:, 0], MASSES)
        np.testing.assert_array_equal(g["ctau_mm"].reshape(3, 5)[0], CTAU)
        np.testing.assert_array_equal(g["acceptance_err"].reshape(3, 5),
                                      small_scan.errors["acceptance"])
        cfg = json.loads(str(f["koto/config"]))
        assert cfg["seed"] == 7 and cfg["n_events_per_mass"] == N_SMALL


def test_relative_error_falls_as_one_over_sqrt_n():
    ct = np.array([3e3, 1e6])
    n1 = 2 * engine.DEFAULT_CHUNK_SIZE
    a = S.scan("koto", [100.0], ct, n1, seed=21, reference=False)
    b = S.scan("koto", [100.0], ct, 4 * n1, seed=22, reference=False)
    ra = a.errors["acceptance"][0] / a.values["acceptance"][0]
    rb = b.errors["acceptance"][0] / b.values["acceptance"][0]
    np.testing.assert_allclose(ra / rb, 2.0, rtol=0.15)  # sqrt(4 N / N), within MC tolerance
    # the errors describe the spread: independent seeds agree within them
    diff = a.values["acceptance"][0] - b.values["acceptance"][0]
    sig = np.hypot(a.errors["acceptance"][0], b.errors["acceptance"][0])
    assert np.all(np.abs(diff) < 4 * sig)


def test_memory_does_not_grow_with_events():
    """Only per-block accumulators: the traced peak is the same for 1 and 34 chunks."""
    import tracemalloc

    ct = np.geomspace(1.0, 1e9, 100)
    S.scan("koto", [60.0], ct, 1000, reference=False)  # compile / load caches first
    peaks = []
    for n in (engine.DEFAULT_CHUNK_SIZE, 34 * engine.DEFAULT_CHUNK_SIZE):
        tracemalloc.start()
        S.scan("koto", [60.0], ct, n, reference=False)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 2 * peaks[0] + 1_000_000, peaks  # 8 bytes per event would be 17 MB


def test_edges_for_irregular_masses_and_single_points():
    e = S.mass_edges(np.array([1.0, 2.0, 10.0]))
    np.testing.assert_allclose(e, [0.5, 1.5, 6.0, 14.0])
    assert S.mass_edges(np.array([0.0]))[0] < 0 < S.mass_edges(np.array([0.0]))[1]
    c = S.ctau_edges(np.array([1.0, 100.0]))
    np.testing.assert_allclose(c, [0.1, 10.0, 1000.0])
    with pytest.raises(ValueError, match="inf"):
        S.scan("koto", [10.0], [1.0, np.inf], 1000)
    with pytest.raises(ValueError, match="increasing"):
        S.scan("koto", [10.0, 5.0], [1.0], 1000)


# --- atomic output, checkpoints, resume after a kill ----------------------------------------

def test_failed_write_leaves_no_file(small_scan, tmp_path, monkeypatch):
    def boom(self, name, i):
        raise ValueError("disk full (simulated)")
    monkeypatch.setattr(S.ScanResult, "curve", boom)
    with pytest.raises(ValueError, match="disk full"):
        S.write_scan_root(small_scan, tmp_path / "s.root")
    assert list(tmp_path.iterdir()) == []


def test_cli_failure_keeps_checkpoint_then_resume_completes(tmp_path, monkeypatch, capsys):
    os.chdir(tmp_path)
    args = ["scan", "koto", "--mass", "30,90", "--ctau", "0.1:100:3:log", "--events", "3e4",
            "--out", "m.root", "--no-plot", "--quiet"]
    real = S.ScanResult.curve

    def boom(self, name, i):
        raise ValueError("disk full (simulated)")
    monkeypatch.setattr(S.ScanResult, "curve", boom)
    assert main(args) == 2
    assert "disk full" in capsys.readouterr().err
    assert not (tmp_path / "m.root").exists()
    ck = tmp_path / "m.root.partial" / "koto"
    assert sorted(p.name for p in ck.glob("*.npz")) == ["mass_0000.npz", "mass_0001.npz",
                                                         "reference.npz"]
    monkeypatch.setattr(S.ScanResult, "curve", real)
    assert main(args) == 2  # a checkpoint exists: --resume or remove it
    assert "--resume" in capsys.readouterr().err
    assert main(args + ["--resume"]) == 0
    assert (tmp_path / "m.root").exists() and not (tmp_path / "m.root.partial").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.root"]


def test_resume_after_kill_gives_the_same_file(tmp_path):
    masses = "20:300:12"
    common = ["scan", "koto", "--mass", masses, "--ctau", "1e-3:1e4:7:log", "--events", "4e5",
              "--seed", "5", "--threads", "1", "--no-plot"]
    out = tmp_path / "k.root"
    ck = tmp_path / "k.root.partial" / "koto"
    proc = subprocess.Popen([sys.executable, "-m", "kotosim", *common, "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path)
    deadline = time.monotonic() + 60
    while len(list(ck.glob("mass_*.npz"))) < 2 and proc.poll() is None:
        assert time.monotonic() < deadline, "the scan made no progress"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL, "the scan finished before it could be killed"
    assert not out.exists()
    done = len(list(ck.glob("mass_*.npz")))
    assert 2 <= done < 12
    # another configuration may not resume from it
    rc = main([*common[:-1], "--events", "5e5", "--out", str(out), "--resume", "--no-plot"])
    assert rc == 2 and (tmp_path / "k.root.partial").exists()

    r = subprocess.run([sys.executable, "-m", "kotosim", *common, "--out", str(out),
                        "--resume"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    assert f"{done} of 12 masses" in r.stdout and "already done" in r.stdout
    assert r.stderr == ""  # no progress bar in a pipe
    assert not (tmp_path / "k.root.partial").exists()
    assert main([*common, "--out", str(tmp_path / "full.root"), "--quiet"]) == 0
    _assert_same_file(out, tmp_path / "full.root")


# --- command line --------------------------------------------------------------------------

@pytest.mark.parametrize("args, fragment", [
    (["--mass", "1:280"], "START:STOP:N"),
    (["--mass", "1:280:x"], "whole number"),
    (["--mass", "280:1:5"], "smaller"),
    (["--mass", "10,abc"], "not a number"),
    (["--mass", "5,5"], "twice"),
    (["--mass", "400"], "mass"),
    (["--mass", "10", "--ctau", "1,inf"], "inf"),
    (["--mass", "10", "--ctau", "0:1:3:log"], "log"),
    (["--mass", "10", "--ctau=-1,1"], "> 0"),
    (["--mass", "10", "--out", "x.txt"], "--out"),
    (["--mass", "10", "--events", "0"], "--events"),
    (["--mass", "10", "--workers", "2", "--scheduler", "tcp://h:1"], "not both"),
    (["--ctau", "1"], "--mass"),
])
def test_bad_scan_input_is_one_line_exit_2_no_file(args, fragment, tmp_path, capsys):
    os.chdir(tmp_path)
    rc = main(["scan", "koto", *args])
    err = capsys.readouterr().err
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kotosim: error:") and fragment in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_missing_dask_is_a_clear_error(tmp_path, capsys, monkeypatch):
    os.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    assert main(["scan", "koto", "--mass", "10", "--events", "1000", "--workers", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "kotosim[dask]" in err[0]
    assert list(tmp_path.iterdir()) == []


def test_cli_writes_maps_and_plots(tmp_path, capsys):
    os.chdir(tmp_path)
    assert main(["scan", "koto", "--mass", "50,150", "--ctau", "0.1:10:3:log",
                 "--events", "2e4", "--out", "a.root"]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["a.root", "a_acceptance.png", "a_ratio_reference.png",
                     "a_sim_over_analytic.png"]
    assert "wrote a.root" in capsys.readouterr().out
    with uproot.open(tmp_path / "a.root") as f:
        np.testing.assert_allclose(f["koto/grid"]["ctau_mm"].array(library="np")[:3],
                                   [100.0, 1000.0, 10000.0])
