"""Open every object of a ``kotosim run`` and a ``kotosim scan`` file in ROOT itself.

Where PyROOT is importable (``pip install root``: a ~250 MB wheel, so this is not run in CI;
or a conda/system ROOT), this script writes a small KOTO run file and a small KOTO scan file
into a temporary directory, opens them with ROOT, and checks for every object:

- histograms (TH1/TH2): a non-empty title, axis titles on x (and y) and on the content axis,
  and a meaningful number of entries (finite, > 0, and for the scan maps at most the number
  of grid points: uproot's default would be the sum of the bin values, e.g. 5e29 for ratios);
- trees: at least one entry, and every branch readable (GetEntry);
- strings (config, cutflow, README): non-empty;

and draws the Pt-Z histogram (``ptz_0``, COLZ) into a PNG. It installs nothing. Without
PyROOT it prints "PyROOT not available" and exits 0.

    python validation/root_check.py
"""

from __future__ import annotations

import math
import sys
import tempfile
from pathlib import Path


def _walk(directory, prefix=""):
    """(path, object) for every key of a ROOT directory, recursively (latest cycles)."""
    for key in directory.GetListOfKeys():
        name = key.GetName()
        obj = key.ReadObj()
        path = f"{prefix}{name}"
        if obj.InheritsFrom("TDirectory"):
            yield from _walk(obj, path + "/")
        else:
            yield path, obj


def _check_hist(path: str, h, max_entries: float | None) -> list[str]:
    bad = []
    if not h.GetTitle().strip():
        bad.append("empty title")
    axes = [h.GetXaxis()] + ([h.GetYaxis()] if h.GetDimension() >= 2 else [])
    for ax in axes:
        if not ax.GetTitle().strip():
            bad.append(f"axis {ax.GetName()} has no title")
    content = h.GetZaxis() if h.GetDimension() == 2 else h.GetYaxis()
    if not content.GetTitle().strip():
        bad.append("content axis has no title")
    n = h.GetEntries()
    if not (math.isfinite(n) and n > 0):
        bad.append(f"entries = {n}")
    elif max_entries is not None and n > max_entries:
        bad.append(f"entries = {n:g} > {max_entries:g}")
    return bad


def check_file(ROOT, path: Path, max_map_entries: float | None, draw: str | None,
               png: Path | None) -> list[str]:
    """Problems found in one file (empty list: all good)."""
    problems: list[str] = []
    f = ROOT.TFile.Open(str(path))
    if not f or f.IsZombie():
        return [f"{path}: ROOT cannot open it"]
    n_obj = 0
    for name, obj in _walk(f):
        n_obj += 1
        where = f"{path.name}:{name}"
        if obj.InheritsFrom("TH1"):
            # maps/curves of a scan have at most one entry per grid point
            cap = max_map_entries if obj.GetDimension() == 2 or "curves" in name else None
            problems += [f"{where}: {p}" for p in _check_hist(name, obj, cap)]
        elif obj.InheritsFrom("TTree"):
            if obj.GetEntries() < 1:
                problems.append(f"{where}: empty tree")
            for i in range(min(obj.GetEntries(), 3)):
                if obj.GetEntry(i) <= 0:
                    problems.append(f"{where}: entry {i} unreadable")
        elif obj.InheritsFrom("TObjString"):
            if not str(obj.GetString()).strip():
                problems.append(f"{where}: empty string")
        else:
            problems.append(f"{where}: unexpected class {obj.ClassName()}")
    print(f"  {path.name}: {n_obj} objects read")
    if draw is not None:
        h = f.Get(draw)
        c = ROOT.TCanvas("c", "c", 800, 600)
        h.Draw("COLZ")
        c.SaveAs(str(png))
        if not png.exists() or png.stat().st_size == 0:
            problems.append(f"{path.name}:{draw}: drawing produced no image")
        else:
            print(f"  drew {draw} into {png} ({png.stat().st_size} bytes)")
    f.Close()
    return problems


def main() -> int:
    try:
        import ROOT
    except ImportError:
        print("PyROOT not available: nothing checked (install ROOT, e.g. `pip install root`, "
              "to run this check)")
        return 0
    from kotosim.cli import main as kotosim

    ROOT.gROOT.SetBatch(True)
    with tempfile.TemporaryDirectory() as d:
        run, scan = Path(d) / "run.root", Path(d) / "scan.root"
        argv_run = ["run", "koto", "--events", "50000", "--ctau", "0.1,inf", "--sample", "200",
                    "--quiet", "--out", str(run)]
        argv_scan = ["scan", "koto", "--mass", "50:150:3", "--ctau", "1e-2:1e2:5:log",
                     "--events", "20000", "--quiet", "--no-plot", "--out", str(scan)]
        for argv in (argv_run, argv_scan):
            print("kotosim " + " ".join(argv))
            if kotosim(argv) != 0:
                print("FAILED: kotosim did not finish")
                return 1
        print(f"ROOT {ROOT.gROOT.GetVersion()}")
        problems = check_file(ROOT, run, None, "ptz_0", Path(d) / "ptz.png")
        problems += check_file(ROOT, scan, 3 * 5, None, None)
    for p in problems:
        print("  PROBLEM " + p)
    print("all objects read, titled and with meaningful entries" if not problems
          else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
