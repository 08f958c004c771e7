"""A new user's bad day, values, words and outputs: one test per defect (8, 9, 10, 12-15)."""

from __future__ import annotations

import io
import math
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import kotosim
from kotosim import cli
from kotosim import model as mdl
from kotosim.geometry import GeometryError, load_geometry

REPO = Path(__file__).resolve().parent.parent


def _err(capsys, argv: list[str]) -> tuple[int, str]:
    rc = cli.main(argv)
    return rc, capsys.readouterr().err


# ---------------------------------------------------------------- 8: model overflow
def test_defect8_model_overflow(capsys):
    rc, err = _err(capsys, ["model", "--mass", "50", "--eps-q", "1e300", "--eps-l", "1e300"])
    assert rc == 2 and err.count("\n") == 1
    assert err.startswith("kotosim: error: --eps-q: ") and "10000" in err
    for call in (lambda: mdl.ScalarModel(50.0, 1e300, 1.0), lambda: mdl.ScalarModel(50.0, 1, 1e9),
                 lambda: mdl.br_kl_pi0phi(50.0, 1e300), lambda: mdl.br_b_kphi(50.0, -1e200),
                 lambda: mdl.delta_a_lepton(50.0, 1e300, 105.0),
                 lambda: mdl.ScalarModel(1e-300, 1.0, 1.0)):
        with pytest.raises(ValueError, match=r"^(eps_q|eps_l|mass): "):
            call()
    # the edges of the allowed ranges give finite, positive lifetimes (no under/overflow)
    for m, eq, el in ((mdl.MASS_MIN, mdl.EPS_MIN, 0.0), (mdl.MASS_MIN, 0.0, mdl.EPS_MIN),
                      (900.0, mdl.EPS_MAX, mdl.EPS_MAX), (900.0, -mdl.EPS_MAX, mdl.EPS_MIN)):
        s = mdl.ScalarModel(m, eq, el)
        assert 0.0 < s.total_width < math.inf and 0.0 < s.ctau < math.inf
        assert math.isfinite(s.delta_a_mu) and math.isfinite(s.br_kl_pi0phi)


# ---------------------------------------------------------------- 9: nonsense accepted
@pytest.mark.parametrize(("name", "over", "keys"), [
    ("koto", {"csi.radius": 500.0, "csi.beam_hole_half": 600.0},
     ("csi.beam_hole_half", "csi.radius")),
    ("koto", {"cuts.hit_radius_max": 800.0, "cuts.hit_square_min": 900.0},
     ("cuts.hit_square_min", "cuts.hit_radius_max")),
    ("koto", {"csi.z_face": 10.0, "generation.z_max": 10.0},
     ("signal_region.z_max", "csi.z_face")),
    ("koto", {"signal_region.z_max": 4000.0, "signal_region.z_slant": 4500.0},
     ("signal_region.z_slant", "signal_region.z_max")),
    ("koto", {"cuts.coe_radius_min": 5000.0}, ("cuts.coe_radius_min",)),
    ("koto", {"cuts.distance_min": 9000.0}, ("cuts.distance_min",)),
    ("na62", {"lkr.r_min": 999.0, "lkr.half": 900.0}, ("lkr.r_min", "lkr.half")),
    ("charm", {"detection.ee.e_min": 5e5, "detection.ee.e_max": 6e5},
     ("detection.ee.e_min", "beam.energy")),
    ("lhcb", {"selection.daughter_eta_min": -8.0, "selection.daughter_eta_max": -6.0},
     ("selection.daughter_eta_max", "production.eta_min")),
])
def test_defect9_geometry_cross_checks(name, over, keys):
    with pytest.raises(GeometryError) as exc:
        load_geometry(name, overrides=over)
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith(f"geometry/{name}.toml: keys ")
    assert all(f"'{k}'" in msg for k in keys) and "need " in msg


def test_defect9_undefined_ratio_is_nan_with_note():
    # a signal region above the largest pi0 Pt of K_L -> pi0 X (~231 MeV/c): nothing passes
    over = {"signal_region.pt_min": 400.0, "signal_region.pt_max": 500.0,
            "signal_region.pt_min_at_z_max": 450.0}
    r = kotosim.simulate("koto", mass=50.0, ctau=[1e3, math.inf], n_events=4000, seed=3,
                         overrides=over, hists=False)
    assert np.all(r.acceptance["phi_per_kl_exit"] == 0)
    assert np.all(r.acceptance["pinunu_per_kl_exit"] == 0)
    assert np.all(np.isnan(r.acceptance["ratio_phi_pinunu"]))  # 0/0, not 0
    assert all(np.all(np.isnan(v)) for v in r.region_fraction.values())
    table = r.table()
    assert "ratio_phi_pinunu" in table and re.search(r"ratio_phi_pinunu\s+nan\s+nan", table)
    assert "nan = undefined" in table


# ---------------------------------------------------------------- 10: CHARM model point
def test_defect10_charm_model_point_fixes_ctau(tmp_path, capsys):
    out = tmp_path / "c.root"
    for argv, flag in ((["--eps-q", "0.01"], "--eps-l"),
                       (["--eps-q", "0.01", "--eps-l", "1.2", "--br", "1e-9"], "--br"),
                       (["--eps-q", "0.01", "--eps-l", "1.2", "--ctau", "1"], "--ctau")):
        rc, err = _err(capsys, ["run", "charm", "--mass", "50", "--out", str(out), *argv])
        assert rc == 2 and flag in err and err.count("\n") == 1
    assert not out.exists()
    m = mdl.ScalarModel(50.0, 0.01, 1.2)
    assert cli.main(["run", "charm", "--mass", "50", "--eps-q", "0.01", "--eps-l", "1.2",
                     "--events", "2000", "--quiet", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"c*tau = {m.ctau / 1000:.6g} m" in text  # the model's own c tau, printed
    import uproot

    with uproot.open(out) as f:
        t = f["acceptance"].arrays(library="np")
    np.testing.assert_allclose(t["ctau_mm"], [m.ctau], rtol=1e-12)
    assert t["expected_events"][0] > 0
    with pytest.raises(ValueError, match="ctau"):  # the API refuses another c tau as well
        kotosim.simulate("charm", mass=50.0, ctau=[1e3], n_events=100, hists=False,
                         options={"model": m})


# ---------------------------------------------------------------- 12: messages
@pytest.mark.parametrize(("argv", "good", "bad"), [
    (["run", "--mass", "-5:10:3"], "mass", "expected one argument"),
    (["run", "--ctau", "-1,1"], "must be > 0", "expected one argument"),
    (["scan", "koto", "--mass", "-5:10:3"], "mass", "expected one argument"),
    (["model", "koto-scan", "--masses", "-5:10:3"], "--masses", "expected one argument"),
    (["run", "--events", "x"], "--events: 'x'", "argument --events"),
])
def test_defect12_option_messages(capsys, argv, good, bad):
    rc, err = _err(capsys, argv)
    assert rc == 2 and good in err and bad not in err


def test_defect12_geometry_messages(tmp_path):
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\x00\xff\xfe garbage")
    with pytest.raises(GeometryError, match=re.escape(str(binary))):
        load_geometry(binary)
    with pytest.raises(GeometryError) as exc:
        load_geometry("koto", overrides={"resolution.constant": 2.0})
    assert "= 2 is out of range: allowed [0, 1] (dimensionless)" in str(exc.value)
    assert " 1 is out" not in str(exc.value)
    with pytest.raises(GeometryError) as exc:  # width negative already at p_min
        load_geometry("koto", overrides={"beam.spectrum.a": -9e-4})  # 1/MeV
    assert "beam.spectrum.a" in str(exc.value) and "allowed p_max" not in str(exc.value)


def test_defect12_help_and_cli_wording(capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["model", "koto-scan", "--help"])
    assert "%%" not in capsys.readouterr().out
    src = "\n".join(p.read_text() for p in (REPO / "kotosim").rglob("*.py"))
    assert "resume=True)" not in src.replace("resume=True) ->", "")  # no API syntax in errors


def test_defect12_sample_accepts_what_events_accepts(tmp_path, capsys):
    out = tmp_path / "s.root"
    assert cli.main(["run", "--events", "2e3", "--sample", "1e9", "--ctau", "inf", "--quiet",
                     "--no-reference", "--out", str(out)]) == 0
    assert out.exists()


def test_defect12_ctrl_c_message_on_its_own_line(monkeypatch):
    class TTY(io.StringIO):
        def isatty(self):
            return True

    err = TTY()
    monkeypatch.setattr(sys, "stderr", err)

    def interrupted(args):
        cli._progress_printer(1000, False)(10)  # a progress line without its newline
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_cmd_run", interrupted)
    assert cli.main(["run"]) == 130
    assert err.getvalue().endswith(" left \nkotosim: interrupted\n")


def test_defect12_no_matplotlib_warning_at_the_na62_endpoint(tmp_path):
    from kotosim.plotting import plot_result

    r = kotosim.simulate("na62", mass=354.0, ctau=[1e3, math.inf], n_events=3000, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot_result(r, tmp_path / "n.png")
    assert (tmp_path / "n.png").stat().st_size > 0


# ---------------------------------------------------------------- 13: words
_INTERNAL = ("seed formula", "seed target", "seed's", "seed slide", "inputs.md", "issue goal",
             "issue ")


def test_defect13_no_internal_words_in_output_and_help(capsys, tmp_path):
    for argv in (["--help"], ["run", "--help"], ["scan", "--help"], ["model", "--help"],
                 ["model", "koto", "--help"], ["model", "koto-scan", "--help"],
                 ["model", "plot", "--help"]):
        with pytest.raises(SystemExit):
            cli.build_parser().parse_args(argv)
    assert cli.main(["model", "--mass", "50", "--eps-q", "0.01", "--eps-l", "1"]) == 0
    for exp in ("koto", "na62", "charm", "lhcb"):
        r = kotosim.simulate(exp, mass=50.0, ctau=[1e3], n_events=1000, hists=False)
        print(r.table(), r.config)
    text = capsys.readouterr().out.lower()
    for w in _INTERNAL:
        assert w not in text, w
    assert "one-formula estimate" in text and "arxiv:" in text
    readme = (REPO / "README.md").read_text().lower()
    for w in _INTERNAL[:5]:
        assert w not in readme, w


# ---------------------------------------------------------------- 14: ROOT files
def test_defect14_root_titles_entries_and_readme(tmp_path):
    import uproot

    r = kotosim.simulate("koto", mass=100.0, ctau=[1e2, math.inf], n_events=20_000, seed=2,
                         sample_size=50)
    path = kotosim.write_root(r, tmp_path / "r.root")
    with uproot.open(path) as f:
        hists = [k for k, c in f.classnames().items() if c.startswith("TH")]
        assert len(hists) == 12
        for k in hists:
            h = f[k]
            assert h.title and ("c#tau" in h.title or "reference" in h.title), k
            assert "per K_{L} at the beam exit" in h.title, k
            content = h.member("fZaxis" if h.classname == "TH2D" else "fYaxis")
            assert h.member("fXaxis").member("fTitle") and content.member("fTitle"), k
            # entries: the effective number of events, between 1 and the events generated
            assert 1 <= h.member("fEntries") <= r.n_events, (k, h.member("fEntries"))
        assert "c#tau = 0.1 m" in f["ptz_0"].title and "c#tau = #infty" in f["ptz_1"].title
        # the same normalisation as the PNG: per K_L at the beam exit (sum <= 1)
        assert 0 < f["ptz_1"].values().sum() < 1
        np.testing.assert_allclose(f["ptz_1"].values(), r.hists["ptz"][1].values())
        readme = str(f["README"])
        for branch in f["events"].keys():
            assert branch in readme, branch
        assert "stage: last selection stage passed: 0 = generated" in readme
        assert "bit for bit" in readme and "creation time" in readme


def test_defect14_scan_map_entries(tmp_path):
    import uproot

    s = kotosim.scan("koto", masses=[50.0, 150.0], ctau=[1e1, 1e3, 1e5], n_events=5000,
                     seed=1)
    path = kotosim.write_scan_root(s, tmp_path / "s.root")
    with uproot.open(path) as f:
        for name in s.values:
            h = f[f"koto/{name}"]
            assert h.member("fEntries") == np.isfinite(s.values[name]).sum() <= 6
            assert h.member("fXaxis").member("fTitle") == "m_{#phi} [MeV]"
            assert h.member("fYaxis").member("fTitle") == "c#tau [mm]"
            assert h.member("fZaxis").member("fTitle") and h.title.startswith("koto: ")
        c = f["koto/curves/sim_over_analytic_m0"]
        assert c.member("fEntries") <= 3 and "m_{#phi} = 50 MeV" in c.title
        assert "ctau_mm" in str(f["koto/README"])


def test_defect14_root_check_script_without_pyroot():
    try:
        import ROOT  # noqa: F401
        pytest.skip("PyROOT present: run validation/root_check.py by hand")
    except ImportError:
        pass
    p = subprocess.run([sys.executable, str(REPO / "validation" / "root_check.py")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "PyROOT not available" in p.stdout


# ---------------------------------------------------------------- 15: plot cosmetics
def test_defect15_scan_map_title_and_colour_bar_label_fit():
    import matplotlib.pyplot as plt

    from kotosim.maps import ScanResult, scan_figure

    masses, ctau = np.linspace(1, 280, 8), np.geomspace(0.1, 1e9, 12)
    vals = np.outer(np.linspace(0.5, 2, 8), np.ones(12))
    r = ScanResult("koto", "run2016", masses, ctau, 200_000, 1,
                   {"acceptance": vals * 1e-3, "ratio_reference": vals},
                   {"acceptance": vals * 1e-5, "ratio_reference": vals * 0.01})
    for name in r.values:
        fig = scan_figure(r, name)
        fig.canvas.draw()
        rend = fig.canvas.get_renderer()
        ax, cax = fig.axes[0], fig.axes[1]
        title = ax.title if ax.title.get_text() else ax._left_title
        tb = title.get_window_extent(rend)
        for a in (ax, cax):
            for lab in a.get_yticklabels() + a.get_xticklabels():
                if lab.get_text():
                    assert not tb.overlaps(lab.get_window_extent(rend)), (name, lab.get_text())
        lb = cax.yaxis.label.get_window_extent(rend)
        cb = cax.get_window_extent(rend)
        assert cb.y0 - 1 <= lb.y0 and lb.y1 <= cb.y1 + 1, name  # label within the bar
        plt.close(fig)


def test_defect15_charm_title_in_latex():
    r = kotosim.simulate("charm", mass=50.0, ctau=[1e3], n_events=500, hists=False)
    assert r.config["title"].startswith("CHARM $") and r"\to" in r.config["title"]
    assert "$" in r.config["main_label"]
