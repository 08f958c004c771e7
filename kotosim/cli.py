"""Command-line interface: ``kotosim run EXPERIMENT``, ``kotosim model`` and friends.

Bad input is reported as one line ``kotosim: error: ...`` on stderr with exit code 2, and no
output file is written (files are written to a temporary name and renamed when complete).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["GRID_HELP", "main", "parse_ctau_list", "parse_grid", "UsageError"]


class UsageError(ValueError):
    """Invalid command-line input."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit code 2, no usage dump
        raise UsageError(message)


def parse_ctau_list(text: str) -> list[float]:
    """Parse ``"0.01,1,inf"`` (metres) into cτ values in mm."""
    out = []
    for tok in text.split(","):
        tok = tok.strip()
        try:
            v = float(tok)
        except ValueError:
            raise UsageError(f"--ctau: '{tok}' is not a number (give metres, e.g. 0.01,1,inf)"
                             ) from None
        if math.isnan(v) or v <= 0:
            raise UsageError(f"--ctau: {tok} m: must be > 0 (inf for a stable phi)")
        out.append(v * 1000.0)
    return out


GRID_HELP = ("comma-separated numbers and ranges START:STOP:N (linear, ends included) or "
             "START:STOP:N:log")


def parse_grid(text: str, option: str, unit: str) -> np.ndarray:
    """Parse a grid such as ``"1:280:56"``, ``"1e-4:1e6:101:log"`` or ``"10,50,100:300:5"``
    into sorted, distinct floats (in the units given on the command line)."""
    pts: list[float] = []
    if not text.strip():
        raise UsageError(f"{option}: empty grid ({GRID_HELP})")
    for item in text.split(","):
        item = item.strip()
        parts = [p.strip() for p in item.split(":")]
        if len(parts) == 1:
            pts.append(_grid_number(parts[0], option, item))
            continue
        if len(parts) not in (3, 4) or (len(parts) == 4 and parts[3] not in ("lin", "log")):
            raise UsageError(f"{option}: '{item}' is not a number or START:STOP:N[:log]")
        a, b = _grid_number(parts[0], option, item), _grid_number(parts[1], option, item)
        try:
            n = int(parts[2])
        except ValueError:
            raise UsageError(f"{option}: '{item}': N = '{parts[2]}' is not a whole number"
                             ) from None
        if n < 1:
            raise UsageError(f"{option}: '{item}': N must be >= 1")
        if n > 1 and not a < b:
            raise UsageError(f"{option}: '{item}': START must be smaller than STOP")
        if len(parts) == 4 and parts[3] == "log":
            if a <= 0:
                raise UsageError(f"{option}: '{item}': a log range needs START > 0")
            pts.extend(np.geomspace(a, b, n).tolist() if n > 1 else [a])
        else:
            pts.extend(np.linspace(a, b, n).tolist() if n > 1 else [a])
    arr = np.sort(np.asarray(pts, dtype=float))
    dup = np.flatnonzero(np.diff(arr) == 0)
    if dup.size:
        raise UsageError(f"{option}: {arr[dup[0]]:g} {unit} appears twice")
    return arr


def _grid_number(tok: str, option: str, item: str) -> float:
    try:
        v = float(tok)
    except ValueError:
        raise UsageError(f"{option}: '{tok}' in '{item}' is not a number") from None
    if math.isnan(v):
        raise UsageError(f"{option}: '{item}': nan is not allowed")
    if math.isinf(v) and option == "--ctau":
        raise UsageError("--ctau: inf is not allowed in a scan (the c*tau axis is "
                         "logarithmic); a large value such as 1e6 (m) is the stable limit")
    if math.isinf(v):
        raise UsageError(f"{option}: '{item}': must be finite")
    return v


def _positive_int(name: str):
    def conv(s: str) -> int:
        try:
            v = int(float(s))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name}: '{s}' is not a whole number") from None
        if v < 1 or v != float(s):
            raise argparse.ArgumentTypeError(f"{name}: {s}: must be a whole number >= 1")
        return v
    return conv


def _float(name: str):
    def conv(s: str) -> float:
        try:
            return float(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name}: '{s}' is not a number") from None
    return conv


def _progress_printer(total: int, quiet: bool):
    """A progress callback printing events done, events/s and time left on a terminal."""
    if quiet or not sys.stderr.isatty():
        return None
    import time

    t0 = time.perf_counter()
    done = [0]

    def cb(n: int) -> None:
        done[0] += n
        dt = max(time.perf_counter() - t0, 1e-9)
        rate = done[0] / dt
        left = max(total - done[0], 0) / rate if rate > 0 else 0.0
        sys.stderr.write(f"\r  {done[0]:>12,d}/{total:,d} events  {rate / 1e6:6.2f} M/s  "
                         f"{left:6.1f} s left ")
        if done[0] >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()
    return cb


def _cmd_run(args: argparse.Namespace) -> int:
    from .api import simulate
    from .io import write_root
    from .plotting import plot_result

    ctau = parse_ctau_list(args.ctau)
    if not 0 <= args.plot_ctau < len(ctau):
        raise UsageError(f"--plot-ctau: {args.plot_ctau}: allowed 0..{len(ctau) - 1}")
    out = Path(args.out) if args.out else Path(f"{Path(args.experiment).stem}_m{args.mass:g}"
                                                 ".root")
    if out.suffix != ".root":
        raise UsageError(f"--out: '{out}': must end in .root")
    nch = 1 if args.no_reference else 2
    options = {k: v for k, v in (("br", args.br), ("eps_q", args.eps_q), ("eps_l", args.eps_l))
               if v is not None}
    res = simulate(args.experiment, mass=args.mass, ctau=ctau, n_events=args.events,
                   seed=args.seed, variant=args.variant, reference=not args.no_reference,
                   smear=not args.no_smear, sample_size=args.sample, threads=args.threads,
                   progress=_progress_printer(nch * args.events, args.quiet),
                   options=options or None)
    print(res.table())
    write_root(res, out)
    suffix = "_ptz.png" if res.experiment == "koto" else "_plot.png"
    png = plot_result(res, out.with_name(out.stem + suffix), args.plot_ctau)
    print(f"wrote {out} and {png}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    p = _Parser(prog="kotosim", description="Monte Carlo acceptance for light long-lived "
                "scalars at KOTO, NA62, CHARM and LHCb. Units: MeV, m (on the command line).")
    p.add_argument("--version", action="version", version=f"kotosim {__version__}")
    sub = p.add_subparsers(dest="command", parser_class=_Parser, required=True)
    r = sub.add_parser("run", help="simulate one experiment at one phi mass",
                       description="Simulate phi production and decay at an experiment, print "
                       "the acceptance table, and write a ROOT file and a PNG plot.")
    r.add_argument("experiment", nargs="?", default="koto",
                   help="shipped geometry name (koto, ...) or path to a geometry .toml")
    r.add_argument("--mass", type=_float("--mass"), default=100.0,
                   help="phi mass in MeV (default 100)")
    r.add_argument("--ctau", default="1",
                   help="comma-separated proper decay lengths c*tau of phi in metres; 'inf' "
                   "for a stable phi (default 1)")
    r.add_argument("--events", type=_positive_int("--events"), default=1_000_000,
                   help="parent decays generated per channel (default 1e6)")
    r.add_argument("--seed", type=int, default=1, help="master seed (default 1)")
    r.add_argument("--variant", default=None,
                   help="geometry variant, e.g. run2016 for the KOTO 2016-18 layout")
    r.add_argument("--out", default=None, help="output ROOT file (default EXPERIMENT_mMASS.root)"
                   "; the plot is written next to it")
    r.add_argument("--sample", type=int, default=10_000,
                   help="events kept in the event-sample TTree (default 10000; 0 for none)")
    r.add_argument("--plot-ctau", type=int, default=0,
                   help="index of the c*tau value to plot (default 0)")
    r.add_argument("--threads", type=_positive_int("--threads"), default=None,
                   help="numba threads (default: all cores); results do not depend on it")
    r.add_argument("--no-smear", action="store_true", help="switch off detector resolution")
    r.add_argument("--no-reference", action="store_true",
                   help="skip the reference channel (KOTO: K_L -> pi0 nu nubar)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.add_argument("--br", type=_float("--br"), default=None,
                   help="CHARM: production BR(parent -> h phi) for every parent")
    r.add_argument("--eps-q", type=_float("--eps-q"), default=None,
                   help="CHARM: model point, quark coupling modifier (with --eps-l)")
    r.add_argument("--eps-l", type=_float("--eps-l"), default=None,
                   help="CHARM: model point, lepton coupling modifier (with --eps-q)")
    r.set_defaults(func=_cmd_run)
    for mod in _plugins():
        mod.register(sub)
    return p


def _plugins():
    """Sub-command modules that add themselves with ``register(subparsers)``."""
    import importlib

    mods = []
    for name in ("kotosim.model_cli", "kotosim.scan_cli", "kotosim.reach_cli"):
        try:
            mods.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return mods


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kotosim`` command; returns the exit code."""
    from .geometry import GeometryError

    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command == "run" and args.sample < 0:
            raise UsageError(f"--sample: {args.sample}: must be >= 0")
        return int(args.func(args) or 0)
    except (UsageError, GeometryError, ValueError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"kotosim: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kotosim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `kotosim run ... | head`: stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
