"""``kotosim scan``: acceptance maps over (m_φ, cτ) written to one ROOT file plus PNG plots.

Usage (masses in MeV, cτ in metres)::

    kotosim scan koto --mass 1:280:56 --ctau 1e-4:1e6:101:log --events 2e5
    kotosim scan koto --mass 10,50,100:300:5 --ctau 0.01,0.1,1,10 --out maps.root
    kotosim scan koto --mass 1:280:56 --workers 2                 # local Dask cluster
    kotosim scan koto --mass 1:280:56 --scheduler tcp://host:8786 # existing Dask cluster
    kotosim scan koto --mass 1:280:56 --resume                    # continue an interrupted scan

A grid is a comma-separated list of items, each a number or ``START:STOP:N`` (N points,
both ends included, linear) or ``START:STOP:N:log`` (log-spaced); the points are sorted
and must be distinct. ``register(subparsers)`` adds the sub-command to ``kotosim``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .cli import (
    GRID_HELP,
    MKDIR_HELP,
    UsageError,
    _events,
    _positive_int,
    _progress_printer,
    _seed,
    check_outputs,
    experiment_help,
    parse_grid,
    plot_failed,
)

__all__ = ["register", "parse_grid"]



def register(subparsers: Any) -> None:
    """Add the ``scan`` sub-command to the ``kotosim`` parser."""
    s = subparsers.add_parser(
        "scan", help="acceptance maps over (m_phi, c*tau): ROOT file + PNG plots",
        description="Acceptance maps over (m_phi, c*tau), one simulation per mass (every c*tau "
        "is a weight on the same events). Writes one ROOT file with, per experiment, TH2D maps "
        "of the acceptance (errors in sumw2), of simulation / one-formula estimate and (KOTO) "
        "of the ratio to pi0 nu nubar, per-mass curves and a TTree of the exact grid points; "
        "and PNG plots of the maps. Results are bit-identical for any --threads, --workers or "
        "--scheduler. Finished masses are checkpointed in OUT.partial/ (removed on success); "
        "--resume continues an interrupted scan. Grids: " + GRID_HELP + ", e.g. --mass "
        "1:280:56 --ctau 1e-4:1e6:101:log.")
    s.add_argument("experiments", nargs="+", metavar="EXPERIMENT",
                   help=experiment_help() + "; several go into one file, one directory each")
    s.add_argument("--mass", required=True, metavar="GRID",
                   help="phi masses in MeV, e.g. 1:280:56 or 10,50,100")
    s.add_argument("--ctau", default="1e-4:1e6:101:log", metavar="GRID",
                   help="proper decay lengths c*tau in metres, finite (log axis) "
                   "(default 1e-4:1e6:101:log)")
    s.add_argument("--events", type=_events("--events"), default=200_000,
                   help="parent decays simulated per mass (default 2e5, at most 1e12)")
    s.add_argument("--seed", type=_seed("--seed"), default=1,
                   help="master seed, 0..2^63-1 (default 1)")
    s.add_argument("--variant", default=None, help="geometry variant (e.g. run2016 for KOTO)")
    s.add_argument("--out", default=None,
                   help="output ROOT file (default scan_EXPERIMENT[_VARIANT].root); plots are "
                   "written next to it as STEM_MAP.png (STEM_EXPERIMENT_MAP.png for several). "
                   "Checked before simulating; its directory must exist unless --mkdir")
    s.add_argument("--mkdir", action="store_true", help=MKDIR_HELP)
    s.add_argument("--threads", type=_positive_int("--threads"), default=None,
                   help="numba threads per block (default: all cores; with --workers: cores "
                   "per worker)")
    s.add_argument("--workers", type=_positive_int("--workers"), default=None,
                   help="start a local Dask cluster with N worker processes")
    s.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run on an existing Dask cluster, e.g. tcp://host:8786")
    s.add_argument("--resume", action="store_true",
                   help="continue an interrupted scan from OUT.partial/ (same settings only)")
    s.add_argument("--no-reference", action="store_true",
                   help="skip the reference channel (KOTO: K_L -> pi0 nu nubar)")
    s.add_argument("--no-plot", action="store_true", help="write the ROOT file only")
    s.add_argument("--quiet", action="store_true", help="no progress bar or status lines")
    s.set_defaults(func=run_scan)


def _progress(quiet: bool, label: str):
    """Adapter from scan's progress(done, total) to kotosim.cli's progress bar."""
    state: dict[str, Any] = {"cb": None, "last": 0}

    def cb(done: int, total: int) -> None:
        if state["cb"] is None:
            if total == 0:
                return
            if not quiet and sys.stderr.isatty():
                sys.stderr.write(f"  {label}\n")
            state["cb"] = _progress_printer(total, quiet) or (lambda n: None)
        state["cb"](done - state["last"])
        state["last"] = done
    return cb


def run_scan(args: argparse.Namespace) -> int:
    """Handler of ``kotosim scan``; returns the exit code."""
    from . import maps as S

    masses = parse_grid(args.mass, "--mass", "MeV", S.MAX_SCAN_MASSES,
                        "each mass is a separate simulation")
    ctau_m = parse_grid(args.ctau, "--ctau", "m", S.MAX_SCAN_CTAU,
                        "every c*tau is a weight carried by every event")
    if ctau_m[0] <= 0:
        raise UsageError(f"--ctau: {ctau_m[0]:g} m: must be > 0")
    if args.scheduler is not None and args.workers is not None:
        raise UsageError("--scheduler and --workers: give one of them, not both")
    stems = "_".join(Path(e).stem for e in args.experiments)
    variant = f"_{args.variant}" if args.variant else ""
    out = Path(args.out) if args.out else Path(f"scan_{stems}{variant}.root")
    if out.suffix != ".root":
        raise UsageError(f"--out: '{out}': must end in .root")
    partial = out.with_name(out.name + ".partial")

    def say(msg: str) -> None:
        if not args.quiet:
            print(msg, flush=True)

    # validate everything (geometries, mass ranges, checkpoints) before the first simulation
    plans = [S.prepare(e, masses, ctau_m * 1000.0, args.events, args.seed,
                       variant=args.variant, reference=not args.no_reference)
             for e in args.experiments]
    names = [p.name for p in plans]
    if len(set(names)) != len(names):
        raise UsageError(f"experiment given twice: {', '.join(names)}")
    tags = [f"{p.name}_{m}" if len(plans) > 1 else m for p in plans
            for m in ("acceptance", "sim_over_analytic", "ratio_reference")]
    pngs_planned = [] if args.no_plot else [out.with_name(f"{out.stem}_{t}.png") for t in tags]
    check_outputs([out, *pngs_planned], args.mkdir)
    threads = args.threads
    if threads is None and args.workers is not None:
        threads = max(1, (os.cpu_count() or 1) // args.workers)
    results = []
    try:
        for p in plans:
            p.attach_checkpoint(partial / p.name, args.resume)
        if args.resume and not partial.exists():
            say(f"no checkpoint {partial}: starting from the beginning")
        with _executor(args) as client:
            for plan in plans:
                results.append(S.scan(_plan=plan, scheduler=client, threads=threads,
                                      progress=_progress(args.quiet, plan.name), notify=say))
        with np.errstate(all="ignore"):
            for r in results:
                say(_summary(r))
        S.write_scan_root(results, out)
        for p in plans:  # only this scan's checkpoints: never another scan's in the folder
            S.remove_checkpoint(partial / p.name)
    except BaseException as exc:
        kept = [partial / p.name for p in plans
                if not (p.checkpoint is not None and p.checkpoint.discard_if_empty())
                and (partial / p.name).is_dir()]
        from .io import signal_raised

        if isinstance(exc, KeyboardInterrupt) or signal_raised() is not None:
            print(f"kotosim: finished masses are kept in {', '.join(map(str, kept))}: rerun "
                  "the same command with --resume" if kept else
                  "kotosim: no mass was finished: nothing kept", file=sys.stderr)
        raise
    pngs = []
    if not args.no_plot:
        try:
            with np.errstate(all="ignore"):
                for r in results:
                    for name in r.values:
                        if name == "analytic":
                            continue
                        tag = f"{r.name}_{name}" if len(results) > 1 else name
                        pngs.append(S.plot_scan(r, out.with_name(f"{out.stem}_{tag}.png"),
                                                name))
        except Exception as exc:  # the ROOT file is written: keep it, say so
            return plot_failed(exc, out)
    say(f"wrote {out}" + (f" and {len(pngs)} plots ({', '.join(p.name for p in pngs)})"
                          if pngs else ""))
    return 0


class _executor:
    """The Dask client for --workers / --scheduler (shared by all experiments), else None."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.cm = None

    def __enter__(self):
        if self.args.workers is None and self.args.scheduler is None:
            return None
        from .maps import dask_client

        self.cm = dask_client(self.args.scheduler, self.args.workers)
        try:
            client = self.cm.__enter__()
        except ImportError as exc:
            raise UsageError(str(exc)) from None
        if not self.args.quiet:
            info = client.scheduler_info()
            print(f"Dask: {info.get('address', self.args.scheduler)}, "
                  f"{len(info.get('workers', {}))} workers", flush=True)
        return client

    def __exit__(self, *exc):
        return self.cm.__exit__(*exc) if self.cm is not None else False


def _summary(r) -> str:
    acc = r.values["acceptance"]
    k = np.unravel_index(int(np.argmax(acc)), acc.shape)
    return (f"{r.name}: {r.masses.size} masses x {r.ctau.size} ctau, {r.n_events:,d} events "
            f"per mass; largest acceptance {acc[k]:.3e} +- {r.errors['acceptance'][k]:.1e} at "
            f"m = {r.masses[k[0]]:g} MeV, ctau = {r.ctau[k[1]] / 1000:.3g} m"
            + (f" ({r.resumed_masses} masses resumed)" if r.resumed_masses else ""))
