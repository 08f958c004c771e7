"""Bad input: one clear line, exit code 2, no output file; geometry validation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import kotosim
from kotosim.cli import main
from kotosim.geometry import GeometryError, _geometry_dir

KOTO_TOML = Path(str(_geometry_dir().joinpath("koto.toml"))).read_text()


def _run(args, capsys, tmp_path):
    os.chdir(tmp_path)
    rc = main(args)
    err = capsys.readouterr().err
    return rc, err


@pytest.mark.parametrize("args, fragment", [
    (["run", "koto", "--mass", "-1"], "mass"),
    (["run", "koto", "--mass", "400"], "mass"),
    (["run", "koto", "--mass", "abc"], "--mass"),
    (["run", "koto", "--ctau", "-2"], "--ctau"),
    (["run", "koto", "--ctau", "1,x"], "--ctau"),
    (["run", "nosuch"], "unknown"),
    (["run", "koto", "--events", "0"], "--events"),
    (["run", "koto", "--variant", "run1999"], "variant"),
    (["run", "koto", "--out", "x.txt"], "--out"),
    (["run", "koto", "--bogus"], "unrecognized"),
])
def test_bad_cli_input_is_one_line_exit_2_no_file(args, fragment, capsys, tmp_path):
    rc, err = _run(args + ["--events", "1000"] if "--events" not in args else args,
                   capsys, tmp_path)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kotosim: error:") and fragment in lines[0]
    assert list(tmp_path.iterdir()) == []


def _write(tmp_path, text, name="g.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("edit, fragment", [
    (lambda t: t.replace('z_face = { value = 6148.0', 'z_face = { value = -5.0'),
     "csi.z_face"),
    (lambda t: t.replace('z_face = { value = 6148.0, unit = "mm"',
                         'z_face = { value = 6148.0, unit = "MeV"'), "csi.z_face"),
    (lambda t: "\n".join(ln for ln in t.splitlines()
                         if not ln.startswith("radius = { value = 965")),
     "csi.radius"),
    (lambda t: t.replace("[csi]", "[csi\n"), "TOML"),
    (lambda t: t.replace('e_sum_min =', 'e_sum_mni ='), "e_sum_mni"),
    (lambda t: t.replace('pt_max = { value = 250.0', 'pt_max = { value = 100.0'), "pt_max"),
    (lambda t: t.replace('shape = "cylinder"', 'shape = "sphere"', 1), "shape"),
    (lambda t: t.replace('experiment = "koto"', 'experiment = "kotto"'), "experiment"),
])
def test_malformed_geometry_rejected(edit, fragment, tmp_path, capsys):
    p = _write(tmp_path, edit(KOTO_TOML))
    with pytest.raises(GeometryError) as exc:
        kotosim.load_geometry(p)
    assert fragment in str(exc.value) and str(p) in str(exc.value)
    out = tmp_path / "out"
    out.mkdir()
    rc, err = _run(["run", str(p), "--events", "1000"], capsys, out)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and fragment in err
    assert list(out.iterdir()) == []


def test_user_copy_of_geometry_runs(tmp_path):
    p = _write(tmp_path, KOTO_TOML.replace('z_face = { value = 6148.0',
                                           'z_face = { value = 6200.0'))
    g = kotosim.load_geometry(p)
    assert g["csi.z_face"] == 6200.0


@pytest.mark.parametrize("name", kotosim.available_geometries())
def test_every_value_has_unit_and_source(name):
    g = kotosim.load_geometry(name)
    missing = [k for k, s in g.sources.items() if not s.strip()]
    assert not missing


@pytest.mark.parametrize("name", kotosim.available_geometries())
def test_each_geometry_rejects_a_missing_key(name, tmp_path):
    text = Path(str(_geometry_dir().joinpath(f"{name}.toml"))).read_text()
    g = kotosim.load_geometry(name)
    key = next(k for k, s in g.sources.items() if s != "default" and k.count(".") == 1)
    section, leaf = key.split(".")
    lines = text.splitlines()
    start = lines.index(f"[{section}]")
    i = next(j for j in range(start + 1, len(lines)) if lines[j].startswith(f"{leaf} ="))
    p = tmp_path / "g.toml"
    p.write_text("\n".join(lines[:i] + lines[i + 1:]))
    with pytest.raises(GeometryError, match=f"'{key}' is missing"):
        kotosim.load_geometry(p)


def test_console_script_no_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "kotosim", "run", "koto", "--mass", "-3"],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_run_writes_root_and_png(tmp_path, capsys):
    import uproot

    rc, _ = _run(["run", "koto", "--events", "20000", "--ctau", "1,inf", "--sample", "500",
                  "--quiet", "--out", "k.root"], capsys, tmp_path)
    assert rc == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.root", "k_ptz.png"]
    with uproot.open(tmp_path / "k.root") as f:
        assert f.classname_of("events") == "TTree"
        assert f.classname_of("ptz_0") == "TH2D"
        acc = f["acceptance"].arrays(library="np")
        assert acc["ctau_mm"].tolist() == [1000.0, float("inf")]
        assert f["events"].num_entries == 500
        h = f["ptz_1"]
        assert (h.variances() > 0).any()  # sumw2 stored


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    from kotosim.io import atomic_path

    with pytest.raises(RuntimeError), atomic_path(tmp_path / "x.root") as tmp:
        tmp.write_bytes(b"partial")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
