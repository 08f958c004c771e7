"""A new user's bad day: work, files and processes (sizes, checkpoints, output paths, signals,
option validation, extreme cτ grids, name shadowing).

Every bad-input case asserts the exit code, one line naming the option/key/path, no traceback,
and that the output directory holds exactly what it held before.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from kotosim import engine
from kotosim import maps as S
from kotosim.cli import main, parse_grid

SCAN = ["scan", "koto", "--mass", "30,90", "--ctau", "0.1,1,10", "--events", "3e4",
        "--out", "m.root", "--no-plot", "--quiet"]


def _snapshot(d: Path) -> dict[str, bytes | None]:
    """Every file and folder under ``d`` (hidden ones too) with its bytes."""
    return {str(p.relative_to(d)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(d.rglob("*"))}


def _cli(args, tmp_path, capsys):
    """Run ``kotosim ARGS`` in ``tmp_path``; (exit code, stderr lines, files before, after)."""
    os.chdir(tmp_path)
    before = _snapshot(tmp_path)
    rc = main(list(args))
    err = capsys.readouterr().err
    return rc, err.strip().splitlines(), before, _snapshot(tmp_path)


def _refused(args, tmp_path, capsys, *fragments, code=2):
    """The command is refused with one line naming every fragment and touches nothing."""
    rc, lines, before, after = _cli(args, tmp_path, capsys)
    assert rc == code, lines
    assert len(lines) == 1 and lines[0].startswith("kotosim: error:"), lines
    assert "Traceback" not in lines[0]
    for f in fragments:
        assert f in lines[0], (f, lines[0])
    assert after == before
    return lines[0]


def _no_hidden_files(d: Path) -> None:
    assert [p for p in d.rglob(".*")] == []


# --- defect 1: absurd sizes ----------------------------------------------------------------

def test_defect1_run_with_1e20_events_refused_at_once(tmp_path, capsys):
    t0 = time.perf_counter()
    msg = _refused(["run", "koto", "--events", "1e20"], tmp_path, capsys, "--events", "1e+12")
    assert "day" in msg  # says why
    assert time.perf_counter() - t0 < 5.0
    with pytest.raises(ValueError, match="at most"):
        import kotosim

        kotosim.simulate("koto", n_events=10**20)


def test_defect1_scan_with_1e9_masses_refused_before_allocating(tmp_path, capsys):
    import tracemalloc

    tracemalloc.start()
    _refused(["scan", "koto", "--mass", "1:280:1000000000"], tmp_path, capsys, "--mass",
             "at most 10,000", "separate simulation")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50e6  # the 8 GB grid was never made


@pytest.mark.parametrize("args, fragments", [
    (["--mass", "1:280:1000", "--ctau", "1e-3:1e3:10000:log"], ["points", "1,000,000"]),
    (["--mass", "10", "--ctau", "1e-3:1e3:20000:log"], ["--ctau", "at most 10,000"]),
    (["--mass", "10", "--events", "2e12"], ["--events", "1e+12"]),
])
def test_defect1_scan_size_limits(args, fragments, tmp_path, capsys):
    _refused(["scan", "koto", *args], tmp_path, capsys, *fragments)


def test_defect1_run_ctau_count_limited(tmp_path, capsys):
    ct = ",".join(str(1 + i) for i in range(101))
    _refused(["run", "koto", "--ctau", ct, "--events", "1000"], tmp_path, capsys, "--ctau",
             "at most 100")


def test_defect1_blocks_are_built_lazily():
    b = engine.blocks(engine.MAX_EVENTS, engine.DEFAULT_CHUNK_SIZE)
    n = engine.n_chunks(engine.MAX_EVENTS, engine.DEFAULT_CHUNK_SIZE)
    assert len(b) == -(-n // engine.BATCH) and sys.getsizeof(b) < 1000
    assert b[-1][-1] == n - 1 and b[0].tolist() == list(range(engine.BATCH))
    # the same blocks as a list built eagerly
    small = engine.blocks(10**6 + 5, 1000)
    eager = [np.arange(s, min(s + engine.BATCH, 1001)) for s in range(0, 1001, engine.BATCH)]
    assert len(small) == len(eager)
    assert all(np.array_equal(x, y) for x, y in zip(small, eager, strict=True))
    with pytest.raises(ValueError, match="whole number"):
        engine.check_n_events(2.5)


def test_defect1_grid_parser_counts_before_making_points():
    with pytest.raises(ValueError, match="at most 10"):
        parse_grid("1:2:11", "--mass", "MeV", 10)
    assert parse_grid("1:2:10", "--mass", "MeV", 10).size == 10


# --- defect 2: checkpoints carry what they are ----------------------------------------------

@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """The checkpoint the command SCAN leaves when it is stopped after both masses."""
    d = tmp_path_factory.mktemp("ck")
    ct = parse_grid("0.1,1,10", "--ctau", "m") * 1000.0
    ck = d / "m.root.partial" / "koto"
    S.scan("koto", parse_grid("30,90", "--mass", "MeV"), ct, 30_000, 1, checkpoint=ck)
    assert sorted(p.name for p in ck.iterdir()) == ["manifest.json", "mass_0000.npz",
                                                     "mass_0001.npz", "reference.npz"]
    return d


def _with_checkpoint(checkpoint, tmp_path) -> Path:
    shutil.copytree(checkpoint / "m.root.partial", tmp_path / "m.root.partial")
    return tmp_path / "m.root.partial" / "koto"


def test_defect2_checkpoint_resumes_when_it_matches(checkpoint, tmp_path, capsys):
    _with_checkpoint(checkpoint, tmp_path)
    os.chdir(tmp_path)
    assert main(SCAN + ["--resume"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.root"]


def test_defect2_checkpoint_from_other_mass_refused(checkpoint, tmp_path, capsys):
    ck = _with_checkpoint(checkpoint, tmp_path)
    shutil.copy(ck / "mass_0000.npz", ck / "mass_0001.npz")
    _refused(SCAN + ["--resume"], tmp_path, capsys, "mass_0001.npz", "mass_index")


def test_defect2_checkpoint_from_other_settings_refused(checkpoint, tmp_path, capsys):
    ck = _with_checkpoint(checkpoint, tmp_path)
    # a file of a scan with another seed, its manifest replaced by this scan's
    other = tmp_path / "other"
    ct = parse_grid("0.1,1,10", "--ctau", "m") * 1000.0
    S.scan("koto", [30.0, 90.0], ct, 30_000, 2, checkpoint=other, reference=False)
    shutil.copy(other / "mass_0001.npz", ck / "mass_0001.npz")
    shutil.rmtree(other)
    _refused(SCAN + ["--resume"], tmp_path, capsys, "mass_0001.npz", "seed")


def test_defect2_checkpoint_with_changed_numbers_refused(checkpoint, tmp_path, capsys):
    ck = _with_checkpoint(checkpoint, tmp_path)
    with np.load(ck / "mass_0001.npz") as z:
        arrays = {k: z[k] for k in z.files}
    key = next(k for k in arrays if k != "__meta__")
    arrays[key] = arrays[key] * 2.0
    with open(ck / "mass_0001.npz", "wb") as fh:
        np.savez(fh, **arrays)
    _refused(SCAN + ["--resume"], tmp_path, capsys, "mass_0001.npz", "checksum")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "no_meta"])
def test_defect2_damaged_checkpoint_is_one_line(damage, checkpoint, tmp_path, capsys):
    ck = _with_checkpoint(checkpoint, tmp_path)
    p = ck / "mass_0000.npz"
    data = p.read_bytes()
    if damage == "truncate":
        p.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        p.write_bytes(b"\x00\xff" * 100)
    elif damage == "empty":
        p.write_bytes(b"")
    else:
        with np.load(p) as z:
            arrays = {k: z[k] for k in z.files if k != "__meta__"}
        with open(p, "wb") as fh:
            np.savez(fh, **arrays)
    _refused(SCAN + ["--resume"], tmp_path, capsys, "mass_0000.npz", "damaged")


def test_defect2_damaged_manifest_is_one_line(checkpoint, tmp_path, capsys):
    ck = _with_checkpoint(checkpoint, tmp_path)
    (ck / "manifest.json").write_text("[1, 2")
    _refused(SCAN + ["--resume"], tmp_path, capsys, "manifest.json")


@pytest.mark.parametrize("resume", [[], ["--resume"]])
def test_defect2_partial_that_is_a_plain_file_refused(resume, tmp_path, capsys):
    (tmp_path / "m.root.partial").write_text("not a folder")
    _refused(SCAN + resume, tmp_path, capsys, "m.root.partial", "not a checkpoint directory")


def test_defect2_mass_file_without_manifest_refused_not_deleted(checkpoint, tmp_path, capsys):
    ck = _with_checkpoint(checkpoint, tmp_path)
    (ck / "manifest.json").unlink()
    _refused(SCAN, tmp_path, capsys, "without a manifest", "m.root.partial")


def test_defect2_checkpoint_file_records_what_it_is(checkpoint):
    with np.load(checkpoint / "m.root.partial" / "koto" / "mass_0001.npz") as z:
        meta = json.loads(str(z["__meta__"]))
        arrays = {k: z[k] for k in z.files if k != "__meta__"}
    assert meta["kind"] == "mass" and meta["mass_index"] == 1 and meta["mass_MeV"] == 90.0
    assert meta["seed"] == 1 and meta["n_events"] == 30_000
    assert len(meta["grid_sha256"]) == 64 and meta["sha256"] == S._checksum(arrays)


# --- defect 3: names and other scans' checkpoints --------------------------------------------

def test_defect3_default_names_include_the_variant(tmp_path, capsys):
    os.chdir(tmp_path)
    assert main(["run", "koto", "--variant", "run2016", "--events", "2000", "--no-reference",
                 "--quiet", "--sample", "0"]) == 0
    assert main(["scan", "koto", "--variant", "run2016", "--mass", "50", "--ctau", "1",
                 "--events", "2000", "--no-reference", "--no-plot", "--quiet"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "koto_run2016_m100.root", "koto_run2016_m100_ptz.png", "scan_koto_run2016.root"]


def test_defect3_default_names_include_a_user_geometry(tmp_path, capsys):
    from kotosim.geometry import _geometry_dir

    (tmp_path / "mykoto.toml").write_text(_geometry_dir().joinpath("koto.toml").read_text())
    os.chdir(tmp_path)
    assert main(["scan", "mykoto.toml", "--mass", "50", "--ctau", "1", "--events", "2000",
                 "--no-reference", "--no-plot", "--quiet"]) == 0
    assert (tmp_path / "scan_mykoto.root").exists()


def test_defect3_other_scan_never_deletes_a_checkpoint(checkpoint, tmp_path, capsys):
    ck = _with_checkpoint(checkpoint, tmp_path)
    kept = _snapshot(ck)
    other = ["scan", "koto", "--variant", "run2016", "--mass", "50", "--ctau", "1",
             "--events", "2000", "--no-reference", "--no-plot", "--quiet", "--out", "m.root"]
    os.chdir(tmp_path)
    assert main(other) == 0  # same output file, another variant: its own sub-folder
    assert _snapshot(ck) == kept
    # the same experiment with other settings: refused, the file named, nothing deleted
    _refused(SCAN[:-4] + ["--events", "4e4"] + SCAN[-4:], tmp_path, capsys,
             "m.root.partial/koto", "--resume")
    _refused(SCAN[:-4] + ["--events", "4e4"] + SCAN[-4:] + ["--resume"], tmp_path, capsys,
             "m.root.partial/koto", "n_events")
    assert _snapshot(ck) == kept


# --- defect 4: output paths checked before simulating ----------------------------------------

@pytest.fixture
def no_simulation(monkeypatch):
    """Fail the test if anything is simulated."""
    import kotosim.api

    def boom(*a, **k):
        raise AssertionError("simulated before checking the output path")
    monkeypatch.setattr(kotosim.api, "simulate", boom)
    monkeypatch.setattr(S, "scan", boom)


def _read_only_dir(tmp_path: Path) -> Path:
    if os.geteuid() == 0:  # root writes anywhere on a normal file system
        return Path("/sys")
    d = tmp_path / "ro"
    d.mkdir(mode=0o555)
    return d


@pytest.mark.parametrize("cmd", [["run", "koto", "--events", "1000"],
                                 ["scan", "koto", "--mass", "10", "--events", "1000"]])
@pytest.mark.parametrize("case, fragment", [
    ("read_only", "cannot write"),
    ("existing_dir", "is a directory"),
    ("parent_is_file", "is a file, not a directory"),
    ("too_long", "file name too long"),
    ("missing_dir", "--mkdir"),
])
def test_defect4_output_path_checked_before_simulating(cmd, case, fragment, tmp_path, capsys,
                                                        no_simulation):
    work = tmp_path / "work"
    work.mkdir()
    out = {"read_only": lambda: _read_only_dir(tmp_path) / "x.root",
           "existing_dir": lambda: (work / "d.root").mkdir() or work / "d.root",
           "parent_is_file": lambda: ((work / "f").write_text(""), work / "f" / "x.root")[1],
           "too_long": lambda: work / ("a" * 250 + ".root"),
           "missing_dir": lambda: work / "nosuch" / "x.root"}[case]()
    shown = str(out) if case != "too_long" else "aaaa"
    _refused([*cmd, "--out", str(out)], work, capsys, "--out", shown, fragment)


def test_defect4_mkdir_creates_missing_directories(tmp_path, capsys):
    os.chdir(tmp_path)
    assert main(["run", "koto", "--events", "2000", "--no-reference", "--quiet", "--sample",
                 "0", "--out", "a/b/x.root", "--mkdir"]) == 0
    assert sorted(p.name for p in (tmp_path / "a" / "b").iterdir()) == ["x.root", "x_ptz.png"]


def test_defect4_mkdir_after_validation_only(tmp_path, capsys):
    _refused(["run", "koto", "--mass", "-4", "--out", "a/b/x.root", "--mkdir"], tmp_path,
             capsys, "mass")


def test_defect4_disk_full_while_writing_exit_1_no_temp(tmp_path, capsys, monkeypatch):
    import uproot

    def full(path, *a, **k):
        Path(path).write_bytes(b"root" * 100)
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(uproot, "recreate", full)
    rc, lines, before, after = _cli(["run", "koto", "--events", "2000", "--no-reference",
                                     "--quiet", "--out", "k.root"], tmp_path, capsys)
    assert rc == 1 and len(lines) == 1
    assert "k.root" in lines[0] and "No space left" in lines[0]
    assert after == before


def test_defect4_oserror_while_writing_names_the_path(tmp_path, capsys, monkeypatch):
    def denied(self, *a, **k):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "m.root"))
    monkeypatch.setattr(S.ScanResult, "curve", denied)
    rc, lines, _, after = _cli(SCAN, tmp_path, capsys)
    assert rc == 2 and len(lines) == 1 and "m.root: Permission denied" in lines[0]
    assert not any(p.startswith(".") or p == "m.root" for p in after)


# --- defect 5: SIGTERM is handled like Ctrl-C ------------------------------------------------

def test_defect5_sigterm_while_writing_removes_the_temporary_file(tmp_path):
    from kotosim.io import Terminated, atomic_path, handle_signals

    with pytest.raises(Terminated), handle_signals(), atomic_path(tmp_path / "x.root") as tmp:
        tmp.write_bytes(b"half")
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1.0)  # the handler raises here
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_defect5_signal_in_a_critical_section_is_deferred(tmp_path):
    from kotosim.io import _LIVE, _deferred_signals, handle_signals

    with pytest.raises(KeyboardInterrupt), handle_signals():
        with _deferred_signals():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)
            done = True  # reached: not interrupted inside
        assert done
    assert not _LIVE


def test_defect5_terminated_scan_says_where_its_checkpoint_is(tmp_path):
    args = ["scan", "koto", "--mass", "20:300:30", "--ctau", "1", "--events", "1e5",
            "--threads", "1", "--no-plot", "--out", "t.root"]
    proc = subprocess.Popen([sys.executable, "-m", "kotosim", *args], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, NUMBA_NUM_THREADS="1"))
    ck = tmp_path / "t.root.partial" / "koto"
    deadline = time.monotonic() + 60
    while not list(ck.glob("mass_*.npz")) and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    assert f"kept in {Path('t.root.partial') / 'koto'}" in err and "--resume" in err
    assert [p.name for p in tmp_path.iterdir()] == ["t.root.partial"]
    _no_hidden_files(tmp_path)


# --- defect 6: every option validated before any file is touched ----------------------------

@pytest.mark.parametrize("cmd", [["run", "koto", "--events", "1000"],
                                 ["scan", "koto", "--mass", "10", "--events", "1000"]])
@pytest.mark.parametrize("seed", ["-1", "1.5", "x", str(2**63)])
def test_defect6_bad_seed_names_the_option(cmd, seed, tmp_path, capsys):
    _refused([*cmd, f"--seed={seed}"], tmp_path, capsys, "--seed")


def test_defect6_failed_scan_leaves_no_manifest(tmp_path, capsys, monkeypatch):
    def bad(*a, **k):
        raise ValueError("simulated failure in the first block")
    monkeypatch.setattr(S, "_block_task", bad)
    rc, lines, before, after = _cli(SCAN, tmp_path, capsys)
    assert rc == 2 and len(lines) == 1 and "simulated failure" in lines[0]
    assert after == before  # no manifest left behind
    monkeypatch.undo()
    os.chdir(tmp_path)
    assert main(SCAN) == 0  # the corrected run is not refused


def test_defect6_seed_checked_by_the_python_api():
    with pytest.raises(ValueError, match="seed"):
        S.prepare("koto", [10.0], [1000.0], 1000, -1)


# --- defect 7: extreme cτ grids ------------------------------------------------------------

def test_defect7_extreme_ctau_grid_writes_file_and_plots_quietly(tmp_path, capsys):
    os.chdir(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["scan", "koto", "--mass", "10,50", "--ctau", "1e-300,1,1e300",
                     "--events", "5000", "--quiet", "--out", "e.root"]) == 0
        assert main(["run", "koto", "--ctau", "1e-300,1e300", "--events", "5000",
                     "--quiet", "--out", "r.root", "--sample", "0"]) == 0
    assert [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)] == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "e.root", "e_acceptance.png", "e_ratio_reference.png", "e_sim_over_analytic.png",
        "r.root", "r_ptz.png"]
    e = S.ctau_edges(np.array([1e-297, 1e3, 1e303]))
    assert np.all(np.isfinite(e)) and np.all(np.diff(e) > 0) and e[0] > 0
    assert np.all(np.isfinite(e / 1000.0)) and (e[0] / 1000.0) > np.finfo(float).tiny


def test_defect7_ctau_outside_the_representable_range_refused(tmp_path, capsys):
    _refused(["scan", "koto", "--mass", "10", "--ctau", "1e-305,1"], tmp_path, capsys,
             "ctau", "1e-300")


@pytest.mark.parametrize("cmd", ["run", "scan"])
def test_defect7_plot_failure_keeps_root_file_and_no_temp(cmd, tmp_path, capsys,
                                                          monkeypatch):
    import kotosim.plotting
    from kotosim.io import atomic_path

    def broken(result, path, *a):
        with atomic_path(path, ".png") as tmp:
            tmp.write_bytes(b"half a png")
            raise RuntimeError("no renderer")
    monkeypatch.setattr(kotosim.plotting, "plot_result", broken)
    monkeypatch.setattr(S, "plot_scan", broken)
    args = (["run", "koto", "--events", "2000", "--no-reference", "--sample", "0"]
            if cmd == "run" else ["scan", "koto", "--mass", "10", "--events", "2000"])
    rc, lines, _, after = _cli([*args, "--quiet", "--out", "p.root"], tmp_path, capsys)
    assert rc == 1 and len(lines) == 1
    assert "plotting failed" in lines[0] and "p.root is complete and kept" in lines[0]
    assert list(after) == ["p.root"]


# --- defect 11: shipped names win unless the argument looks like a path ----------------------

def test_defect11_shipped_name_wins_over_local_folder_and_file(tmp_path, capsys):
    from kotosim.geometry import load_geometry

    (tmp_path / "koto").mkdir()
    (tmp_path / "na62").write_text("garbage = [")
    os.chdir(tmp_path)
    assert load_geometry("koto").experiment == "koto"
    assert load_geometry("na62").experiment == "na62"
    _refused(["run", "./na62", "--events", "1000"], tmp_path, capsys, "./na62")
    _refused(["run", "./koto", "--events", "1000"], tmp_path, capsys, "./koto")


def test_defect11_help_says_how_names_are_resolved(capsys):
    for cmd in ("run", "scan"):
        with pytest.raises(SystemExit):
            main([cmd, "--help"])
        out = " ".join(capsys.readouterr().out.split())
        assert "a shipped name wins" in out and "ending in .toml is a path" in out
        assert "--mkdir" in out
