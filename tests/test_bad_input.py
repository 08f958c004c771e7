"""A new user's bad inputs: every wrong value of ``run``, ``scan``, ``model`` or a geometry file
gives exit code 2, one line ``kotosim: error: ...`` naming the option, key or path, no
traceback, and leaves the working directory exactly as it was.

Most cases run ``kotosim.cli.main`` in-process (fast); a few run the installed command.
Geometry files are shipped files with one or two values changed (by key, not by value), so
the cases keep their meaning when the shipped numbers change.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from kotosim.cli import main
from kotosim.geometry import _geometry_dir

GEO = Path(str(_geometry_dir()))


def _edit(text: str, section: str, key: str, value: float, unit: str) -> str:
    """Replace ``key`` of TOML table ``[section]`` (or the first ``[[section]]``)."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines)
                 if ln.strip() in (f"[{section}]", f"[[{section}]]"))
    for i in range(start + 1, len(lines)):
        if lines[i].startswith("["):
            break
        if re.match(rf"{re.escape(key)}\s*=", lines[i]):
            lines[i] = f'{key} = {{ value = {value}, unit = "{unit}", source = "test" }}'
            return "\n".join(lines) + "\n"
    raise KeyError(f"{section}.{key}")


# name -> (shipped file, [(section, key, value, unit)], words the message must contain)
GEOMETRY_CASES = {
    "hole_larger_than_csi": ("koto", [("csi", "radius", 500, "mm"),
                                      ("csi", "beam_hole_half", 600, "mm")],
                             ["csi.beam_hole_half", "csi.radius"]),
    "impossible_hit_cuts": ("koto", [("cuts", "hit_radius_max", 800, "mm"),
                                     ("cuts", "hit_square_min", 900, "mm")],
                            ["cuts.hit_square_min", "cuts.hit_radius_max"]),
    "csi_face_at_10mm": ("koto", [("csi", "z_face", 10, "mm"), ("generation", "z_max", 10, "mm")],
                         ["signal_region.z_max", "csi.z_face"]),
    "z_slant_beyond_z_max": ("koto", [("signal_region", "z_max", 4000, "mm"),
                                      ("signal_region", "z_slant", 4500, "mm")],
                             ["signal_region.z_slant", "signal_region.z_max"]),
    "e_sum_unreachable": ("koto", [("cuts", "e_gamma_max", 500, "MeV"),
                                   ("cuts", "e_sum_min", 1500, "MeV")],
                          ["cuts.e_sum_min", "cuts.e_gamma_max"]),
    "slant_above_pt_max": ("koto", [("signal_region", "pt_max", 250, "MeV"),
                                    ("signal_region", "pt_min_at_z_max", 300, "MeV")],
                           ["signal_region.pt_min_at_z_max", "signal_region.pt_max"]),
    "z_bins_out_of_range": ("koto", [("histograms", "z_bins", 100000, "1")],
                            ["histograms.z_bins", "[1, 10000]"]),
    "spectrum_width_negative": ("koto", [("beam.spectrum", "a", 0.9, "1/GeV")],
                                ["beam.spectrum.p_max"]),
    "spectrum_invalid_at_p_min": ("koto", [("beam.spectrum", "a", -0.9, "1/GeV")],
                                  ["beam.spectrum.a", "beam.spectrum.b"]),
    "wrong_unit": ("koto", [("csi", "radius", 96.5, "GeV")], ["csi.radius", "unit"]),
    "na62_straw_hole": ("na62", [("straw", "r_max", 500, "mm"), ("straw", "hole_half", 600, "mm")],
                        ["straw.hole_half", "straw.r_max"]),
    "na62_p_min_above_beam": ("na62", [("beam", "momentum", 10, "GeV"),
                                       ("cuts", "p_min", 12, "GeV"), ("cuts", "p_max", 20, "GeV")],
                              ["cuts.p_min", "beam.momentum"]),
    "charm_calorimeter_upstream": ("charm", [("calorimeter", "z", 100, "m")],
                                   ["calorimeter.z"]),
    "charm_e_min_above_beam": ("charm", [("detection.ee", "e_min", 500, "GeV"),
                                         ("detection.ee", "e_max", 600, "GeV")],
                               ["detection.ee.e_min", "beam.energy"]),
    "lhcb_disjoint_eta": ("lhcb", [("selection", "daughter_eta_min", 6, "1"),
                                   ("selection", "daughter_eta_max", 8, "1")],
                          ["selection.daughter_eta_min", "production.eta_max"]),
}


def _tree(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): (p.stat().st_size if p.is_file() else -1)
            for p in root.rglob("*")}


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A working directory holding edited geometry files under geo/."""
    geo = tmp_path / "geo"
    geo.mkdir()
    for name, (ship, edits, _) in GEOMETRY_CASES.items():
        text = (GEO / f"{ship}.toml").read_text()
        for sec, key, val, unit in edits:
            text = _edit(text, sec, key, val, unit)
        (geo / f"{name}.toml").write_text(text)
    (geo / "binary.toml").write_bytes(b"\x00\xff\xfe\x89PNG garbage \xc3\x28")
    (geo / "not_toml.toml").write_text("this is = = not toml [[\n")
    (geo / "unknown_key.toml").write_text(
        (GEO / "koto.toml").read_text() + '\n[extra]\nfoo = { value = 1, unit = "1" }\n')
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _check(work: Path, capsys, argv: list[str], words: list[str]) -> None:
    before = _tree(work)
    rc = main(argv)
    out, err = capsys.readouterr()
    assert rc == 2, (argv, out, err)
    assert err.startswith("kotosim: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err + out
    for w in words:
        assert w in err, (w, err)
    assert _tree(work) == before, "the working directory changed"


RUN_CASES = [
    (["run", "--events", "abc"], ["--events"]),
    (["run", "--events", "0"], ["--events"]),
    (["run", "--events", "-5"], ["--events"]),
    (["run", "--events", "1.5"], ["--events"]),
    (["run", "--mass", "-5"], ["mass", "-5"]),
    (["run", "--mass", "abc"], ["--mass"]),
    (["run", "--mass", "1e9"], ["mass"]),
    (["run", "--ctau", "-1,1"], ["--ctau", "must be > 0"]),
    (["run", "--ctau", "0"], ["--ctau"]),
    (["run", "--ctau", "abc"], ["--ctau"]),
    (["run", "--ctau", "nan"], ["--ctau"]),
    (["run", "--sample", "-1"], ["--sample"]),
    (["run", "--sample", "lots"], ["--sample"]),
    (["run", "--plot-ctau", "5"], ["--plot-ctau"]),
    (["run", "--plot-ctau", "-1"], ["--plot-ctau"]),
    (["run", "--threads", "0"], ["--threads"]),
    (["run", "--variant", "nope"], ["variant", "nope"]),
    (["run", "nope"], ["nope"]),
    (["run", "--out", "x.txt"], ["--out"]),
    (["run", "--bogus"], ["--bogus"]),
    (["run", "--seed", "x"], ["--seed"]),
    (["run", "charm", "--eps-q", "0.01"], ["--eps-l"]),
    (["run", "charm", "--eps-l", "1"], ["--eps-q"]),
    (["run", "charm", "--eps-q", "0.01", "--eps-l", "1", "--br", "1e-9"], ["--br"]),
    (["run", "charm", "--eps-q", "0.01", "--eps-l", "1", "--ctau", "1"], ["--ctau"]),
    (["run", "charm", "--eps-q", "1e300", "--eps-l", "1"], ["eps_q", "10000"]),
    (["run", "charm", "--br", "2"], ["br"]),
    (["run", "na62", "--br", "1e-9"], ["--br"]),
    (["run", "e949", "--br", "1e-9"], ["--br", "E949"]),
    (["run", "koto", "--br", "1e-9"], ["br", "koto"]),
    (["run", "lhcb", "--mass", "6000"], ["mass"]),
]

SCAN_CASES = [
    (["scan", "koto", "--mass", "-5:10:3"], ["mass", "-5"]),
    (["scan", "koto", "--mass", "abc"], ["--mass"]),
    (["scan", "koto", "--mass", "10:1:3"], ["--mass"]),
    (["scan", "koto", "--mass", "1:10:0"], ["--mass"]),
    (["scan", "koto", "--mass", "10,10"], ["--mass"]),
    (["scan", "koto", "--mass", "10", "--ctau", "inf"], ["--ctau"]),
    (["scan", "koto", "--mass", "10", "--ctau", "1:2:3:cubic"], ["--ctau"]),
    (["scan", "koto", "--mass", "10", "--ctau", "-1:1:3:log"], ["--ctau"]),
    (["scan", "koto", "--mass", "400"], ["mass"]),
    (["scan", "koto", "--mass", "10", "--events", "0"], ["--events"]),
    (["scan", "koto", "--mass", "10", "--workers", "0"], ["--workers"]),
    (["scan", "nope", "--mass", "10"], ["nope"]),
    (["scan", "koto"], ["--mass"]),
]

MODEL_CASES = [
    (["model", "--mass", "50", "--eps-q", "1e300", "--eps-l", "1e300"], ["--eps-q", "10000"]),
    (["model", "--mass", "50", "--eps-q", "0.01", "--eps-l", "1e5"], ["--eps-l", "10000"]),
    (["model", "--mass", "50", "--eps-q", "1e-300", "--eps-l", "1"], ["--eps-q", "1e-30"]),
    (["model", "--mass", "1e-300", "--eps-q", "1", "--eps-l", "1"], ["--mass"]),
    (["model", "--mass", "2000", "--eps-q", "1", "--eps-l", "1"], ["--mass", "987.4"]),
    (["model", "--mass", "50", "--higgs-mixing", "0"], ["--higgs-mixing"]),
    (["model", "--mass", "50", "--higgs-mixing", "2"], ["--higgs-mixing"]),
    (["model", "--mass", "50", "--eps-q", "1"], ["--eps-l"]),
    (["model", "--mass", "50", "--eps-q", "x", "--eps-l", "1"], ["--eps-q"]),
    (["model", "--mass", "50", "--eps-q", "1", "--eps-l", "1", "--gamma-gamma-hadrons", "x"],
     ["--gamma-gamma-hadrons"]),
    (["model", "koto", "--mass", "50", "--eps-q", "0.01", "--events", "1e20"], ["--events"]),
    (["model", "koto", "--mass", "50", "--eps-q", "0.01", "--seed", "-1"], ["--seed"]),
    (["model", "koto-scan", "--masses", "-5:10:3"], ["--masses"]),
    (["model", "koto-scan", "--eps-q", "1e300"], ["--eps-q"]),
    (["model", "koto-scan", "--band68", "5e-9,1e-9"], ["band68"]),
    (["model", "plot", "--out", "p", "--n-points", "1"], ["--n-points"]),
    (["model", "plot", "--out", "p", "--m-max", "2000"], ["--m-min"]),
    (["model", "plot", "--out", "p", "--sin-theta", "0"], ["--sin-theta"]),
]


@pytest.mark.parametrize(("argv", "words"), RUN_CASES)
def test_bad_run_input(work, capsys, argv, words):
    _check(work, capsys, argv, words)


@pytest.mark.parametrize(("argv", "words"), SCAN_CASES)
def test_bad_scan_input(work, capsys, argv, words):
    _check(work, capsys, argv, words)


@pytest.mark.parametrize(("argv", "words"), MODEL_CASES)
def test_bad_model_input(work, capsys, argv, words):
    _check(work, capsys, argv, words)


@pytest.mark.parametrize("name", sorted(GEOMETRY_CASES))
def test_bad_geometry_file(work, capsys, name):
    path = f"geo/{name}.toml"
    _check(work, capsys, ["run", path, "--events", "1000"], [path, *GEOMETRY_CASES[name][2]])


@pytest.mark.parametrize(("name", "words"), [
    ("binary", ["UTF-8"]), ("not_toml", ["TOML"]), ("unknown_key", ["extra.foo"]),
    ("missing", ["not found"]),
])
def test_unreadable_geometry_file(work, capsys, name, words):
    path = f"geo/{name}.toml"
    _check(work, capsys, ["run", path, "--events", "1000"], [path, *words])


def test_bad_geometry_file_in_a_scan(work, capsys):
    _check(work, capsys, ["scan", "geo/hole_larger_than_csi.toml", "--mass", "10"],
           ["geo/hole_larger_than_csi.toml", "csi.beam_hole_half"])


@pytest.mark.parametrize(("argv", "words"), [
    (["model", "--mass", "50", "--eps-q", "1e300", "--eps-l", "1e300"], ["--eps-q"]),
    (["run", "koto", "--ctau", "-1,1"], ["--ctau"]),
    (["run", "geo/binary.toml"], ["geo/binary.toml"]),
])
def test_bad_input_installed_command(work, argv, words):
    """The same through the ``kotosim`` entry point in a fresh interpreter."""
    before = _tree(work)
    p = subprocess.run([sys.executable, "-m", "kotosim", *argv], capture_output=True,
                       text=True, timeout=120, cwd=work)
    assert p.returncode == 2, p.stderr
    assert p.stderr.startswith("kotosim: error: ") and p.stderr.count("\n") == 1, p.stderr
    assert "Traceback" not in p.stderr
    for w in words:
        assert w in p.stderr
    assert _tree(work) == before
