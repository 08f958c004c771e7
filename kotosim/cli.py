"""Command-line interface: ``kotosim run EXPERIMENT``, ``kotosim model`` and friends.

Bad input is reported as one line ``kotosim: error: ...`` on stderr with exit code 2, and no
output file is written (files are written to a temporary name and renamed when complete).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["GRID_HELP", "main", "parse_ctau_list", "parse_grid", "UsageError"]


class UsageError(ValueError):
    """Invalid command-line input."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit code 2, no usage dump
        # "argument --x: --x: why" / "argument --x: invalid int value" -> "--x: ..."
        m = re.match(r"argument ([^:]+): (?:\1: )?(.*)", message, re.S)
        raise UsageError(f"{m.group(1)}: {m.group(2)}" if m else message)


# options that take no value: a following "-5" is not their value
_FLAG_OPTIONS = {"--quiet", "--no-smear", "--no-reference", "--resume", "--no-plot",
                 "--version", "--help", "-h"}
_NEGATIVE = re.compile(r"^-(\d|\.\d|inf|nan)", re.I)


def _join_negative_values(argv: Sequence[str]) -> list[str]:
    """``--mass -5:10:3`` -> ``--mass=-5:10:3``: argparse would read a value starting with a
    minus as an option ("expected one argument"); joined, it reaches the option's own check,
    which names the real reason."""
    out: list[str] = []
    for tok in argv:
        if (out and _NEGATIVE.match(tok) and out[-1].startswith("--") and "=" not in out[-1]
                and out[-1] not in _FLAG_OPTIONS):
            out[-1] = f"{out[-1]}={tok}"
        else:
            out.append(tok)
    return out


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


def experiment_help() -> str:
    """Help of the EXPERIMENT argument: the shipped names and how a path is recognised."""
    from .geometry import available_geometries

    return (f"shipped geometry name ({', '.join(available_geometries())}) or path to a "
            "geometry .toml; a shipped name wins over a file or folder of that name in the "
            "working directory: an argument with a '/' or ending in .toml is a path (./koto)")


MKDIR_HELP = ("create the output file's missing parent directories when writing (without it a "
              "missing directory is refused before simulating)")

GRID_HELP = ("comma-separated numbers and ranges START:STOP:N (linear, ends included) or "
             "START:STOP:N:log")


MAX_GRID_POINTS = 10**6  # points of one grid option (refused before anything is allocated)


def parse_grid(text: str, option: str, unit: str, max_points: int = MAX_GRID_POINTS,
               why: str = "") -> np.ndarray:
    """Parse a grid such as ``"1:280:56"``, ``"1e-4:1e6:101:log"`` or ``"10,50,100:300:5"``
    into sorted, distinct floats (in the units given on the command line). More than
    ``max_points`` points are refused before they are made (``why`` says why)."""
    pts: list[float] = []
    count = 0
    if not text.strip():
        raise UsageError(f"{option}: empty grid ({GRID_HELP})")
    for item in text.split(","):
        item = item.strip()
        parts = [p.strip() for p in item.split(":")]
        if len(parts) == 1:
            pts.append(_grid_number(parts[0], option, item))
            count += 1
            if count > max_points:
                raise UsageError(f"{option}: more than {max_points:,} points")
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
        count += n
        if count > max_points:
            raise UsageError(f"{option}: '{item}': {count:,} points: at most {max_points:,}"
                             + (f" ({why})" if why else ""))
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


def _count(name: str):
    """A whole number >= 0 written as 10000 or 1e4 (like --events)."""
    def conv(s: str) -> int:
        try:
            x = float(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{s}' is not a whole number") from None
        if not (math.isfinite(x) and x >= 0 and x == int(x)):
            raise argparse.ArgumentTypeError(f"{s}: must be a whole number >= 0")
        return int(x)
    return conv


def _events(name: str):
    """``--events``: a whole number 1..1e12 (engine.MAX_EVENTS), refused at once if larger."""
    def conv(s: str) -> int:
        from .engine import check_n_events

        try:
            v = float(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name}: '{s}' is not a whole number") from None
        try:
            return check_n_events(v, name)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{name} = ")) from None
    return conv


def _seed(name: str):
    """``--seed``: a whole number 0..2**63-1."""
    def conv(s: str) -> int:
        from .engine import check_seed

        try:
            return check_seed(s.strip(), name)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{name} = ")) from None
    return conv


MAX_RUN_CTAU = 100  # each cτ of `run` gets its own histograms (~2.5 MB per cτ per block)


def check_outputs(paths: Sequence[Path], mkdir: bool, option: str = "--out") -> None:
    """Check every output path of a command before any work (see
    :func:`kotosim.io.check_output_path`); raises UsageError naming ``option`` and the path."""
    from .io import check_output_path

    for p in paths:
        try:
            check_output_path(p, option, suffix=p.suffix, mkdir=mkdir)
        except ValueError as exc:
            raise UsageError(str(exc)) from None


def plot_failed(exc: Exception, kept: Path) -> int:
    """Report a plotting failure in one line (the ROOT file is complete) -> exit code 1."""
    msg = str(exc).splitlines()[0] if str(exc) else ""
    print(f"kotosim: error: plotting failed ({type(exc).__name__}: {msg}); {kept} is complete "
          "and kept", file=sys.stderr)
    return 1


def _float(name: str):
    def conv(s: str) -> float:
        try:
            return float(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name}: '{s}' is not a number") from None
    return conv


_PROGRESS_OPEN = [False]  # a progress line without its newline is on the terminal


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
        _PROGRESS_OPEN[0] = done[0] < total
        if done[0] >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()
    return cb


def _run_ctau(args: argparse.Namespace) -> tuple[list[float], str]:
    """The run's cτ grid [mm]: --ctau, or a model point's own cτ (CHARM --eps-q/--eps-l), or
    1 m; and a line saying where a model's cτ comes from."""
    if args.eps_q is not None and args.eps_l is not None and args.ctau is None:
        from .experiments.charm import model_ctau

        ct = model_ctau(args.mass, {"eps_q": args.eps_q, "eps_l": args.eps_l})
        return [ct], (f"model point m_phi = {args.mass:g} MeV, eps_q = {args.eps_q:g}, "
                      f"eps_l = {args.eps_l:g}: c*tau = {ct / 1000:.6g} m (its own lifetime)")
    return parse_ctau_list("1" if args.ctau is None else args.ctau), ""


def _cmd_run(args: argparse.Namespace) -> int:
    from .api import simulate
    from .io import write_root
    from .plotting import plot_result

    ctau, note = _run_ctau(args)
    if len(ctau) > MAX_RUN_CTAU:
        raise UsageError(f"--ctau: {len(ctau)} values: at most {MAX_RUN_CTAU} in a run (each "
                         "gets its own histograms); use kotosim scan for fine c*tau grids")
    if not 0 <= args.plot_ctau < len(ctau):
        raise UsageError(f"--plot-ctau: {args.plot_ctau}: allowed 0..{len(ctau) - 1}")
    variant = f"_{args.variant}" if args.variant else ""
    out = Path(args.out) if args.out else Path(f"{Path(args.experiment).stem}{variant}"
                                                 f"_m{args.mass:g}.root")
    if out.suffix != ".root":
        raise UsageError(f"--out: '{out}': must end in .root")
    from .geometry import load_geometry

    geo = load_geometry(args.experiment, args.variant)  # geometry errors before path errors
    from .api import check_mass
    from .experiments import get

    exp = get(geo.experiment)
    check_mass(args.mass, exp.max_mass(geo), exp.mass_note)
    png = out.with_name(out.stem + ("_ptz.png" if geo.experiment == "koto" else "_plot.png"))
    check_outputs([out, png], args.mkdir)
    if args.hepmc is not None:
        from .hepmc import check_output

        check_output(args.hepmc, args.sample)
    nch = 1 if args.no_reference else 2
    options = {k: v for k, v in (("br", args.br), ("eps_q", args.eps_q), ("eps_l", args.eps_l))
               if v is not None}
    res = simulate(geo, mass=args.mass, ctau=ctau, n_events=args.events,
                   seed=args.seed, variant=args.variant, reference=not args.no_reference,
                   smear=not args.no_smear, sample_size=args.sample, threads=args.threads,
                   progress=_progress_printer(nch * args.events, args.quiet),
                   options=options or None)
    if note:
        print(note)
    print(res.table())
    write_root(res, out)
    try:
        with np.errstate(all="ignore"):
            plot_result(res, png, args.plot_ctau)
    except Exception as exc:  # the ROOT file is written: keep it, say so
        return plot_failed(exc, out)
    print(f"wrote {out} and {png}")
    if args.hepmc is not None:
        from .hepmc import write_hepmc

        print(f"wrote {write_hepmc(res, args.hepmc)} (HepMC3, {len(res.sample)} events)")
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
    r.add_argument("experiment", nargs="?", default="koto", help=experiment_help())
    r.add_argument("--mass", type=_float("--mass"), default=100.0,
                   help="phi mass in MeV (default 100)")
    r.add_argument("--ctau", default=None,
                   help="comma-separated proper decay lengths c*tau of phi in metres; 'inf' "
                   "for a stable phi (default 1; with --eps-q/--eps-l the model's own c*tau)")
    r.add_argument("--events", type=_events("--events"), default=1_000_000,
                   help="parent decays generated per channel (default 1e6, at most 1e12)")
    r.add_argument("--seed", type=_seed("--seed"), default=1,
                   help="master seed, 0..2^63-1 (default 1)")
    r.add_argument("--variant", default=None,
                   help="geometry variant, e.g. run2016 for the KOTO 2016-18 layout")
    r.add_argument("--out", default=None, help="output ROOT file (default "
                   "EXPERIMENT[_VARIANT]_mMASS.root); the plot is written next to it. Checked "
                   "before simulating; its directory must exist unless --mkdir is given")
    r.add_argument("--mkdir", action="store_true", help=MKDIR_HELP)
    r.add_argument("--sample", type=_count("--sample"), default=10_000,
                   help="events kept in the event-sample TTree (default 10000; 0 for none)")
    r.add_argument("--hepmc", default=None, metavar="FILE",
                   help="also write the event sample as HepMC3 (.hepmc3) for a Geant4 "
                   "simulation; needs --sample N >= 1 and pyhepmc")
    r.add_argument("--plot-ctau", type=int, default=0,
                   help="index of the c*tau value to plot (default 0)")
    r.add_argument("--threads", type=_positive_int("--threads"), default=None,
                   help="numba threads (default: all cores); results do not depend on it")
    r.add_argument("--no-smear", action="store_true", help="switch off detector resolution")
    r.add_argument("--no-reference", action="store_true",
                   help="skip the reference channel (KOTO: K_L -> pi0 nu nubar)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.add_argument("--br", type=_float("--br"), default=None,
                   help="CHARM: production BR(parent -> h phi) for every parent (not with "
                   "--eps-q/--eps-l)")
    r.add_argument("--eps-q", type=_float("--eps-q"), default=None,
                   help="CHARM: model point (arXiv:2001.06522), quark coupling modifier; needs "
                   "--eps-l; fixes c*tau and every BR")
    r.add_argument("--eps-l", type=_float("--eps-l"), default=None,
                   help="CHARM: model point, lepton coupling modifier; needs --eps-q")
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
    """Entry point of the ``kotosim`` command; returns the exit code.

    SIGTERM is handled like Ctrl-C (temporary files removed; exit code 143, 130 for Ctrl-C);
    an ``OSError`` is one line naming the path (exit code 2, or 1 for a full disk)."""
    from .io import Terminated, handle_signals

    try:
        with handle_signals():
            return _main(argv)
    except KeyboardInterrupt as exc:  # a signal after the command's own handling
        return 143 if isinstance(exc, Terminated) else 130


def _main(argv: Sequence[str] | None = None) -> int:
    from .geometry import GeometryError
    from .io import Terminated, os_error_message, signal_raised

    try:
        parser = build_parser()
        args = parser.parse_args(_join_negative_values(sys.argv[1:] if argv is None
                                                       else argv))
        if args.command == "run" and args.sample < 0:
            raise UsageError(f"--sample: {args.sample}: must be >= 0")
        return int(args.func(args) or 0)
    except (UsageError, GeometryError, ValueError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"kotosim: error: {msg}", file=sys.stderr)
        return 2
    except Terminated:
        print("kotosim: terminated (SIGTERM)", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        if _PROGRESS_OPEN[0]:  # end the progress line first
            sys.stderr.write("\n")
            _PROGRESS_OPEN[0] = False
        print("kotosim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `kotosim run ... | head`: stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # temporary files are removed by atomic_path / handle_signals
        msg, code = os_error_message(exc)
        print(f"kotosim: error: {msg}", file=sys.stderr)
        return code
    except Exception:  # an interrupt that a C extension turned into another exception
        import signal

        if signal_raised() is None:
            raise
        term = signal_raised() == signal.SIGTERM
        print(f"kotosim: {'terminated (SIGTERM)' if term else 'interrupted'}", file=sys.stderr)
        return 143 if term else 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
