"""``kotosim reach``: which published results exclude each point of the (m_phi, coupling)
plane, from the simulation and from the one-formula estimate; ROOT file and PNG figures.

Usage (masses in MeV; couplings eps_q, sin^2 theta, or c tau in metres)::

    kotosim reach --model seed  --masses 1:280:56 --couplings 1e-4:1e-1:61:log
    kotosim reach --model higgs --masses 1:280:56 --couplings 1e-10:1e-2:81:log
    kotosim reach --model seed --experiments koto,na62 --koto-data 2021
    kotosim reach --model ctau --masses 10:250:25 --couplings 1e-4:1e6:51:log

``register(subparsers)`` adds the sub-command to ``kotosim``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .cli import GRID_HELP, UsageError, _positive_int, parse_grid

__all__ = ["register"]

_DEFAULT_COUPLINGS = {"seed": "1e-4:1e-1:61:log", "higgs": "1e-10:1e-2:81:log",
                      "ctau": "1e-4:1e6:61:log"}


def register(subparsers: Any) -> None:
    """Add the ``reach`` sub-command to the ``kotosim`` parser."""
    from .engine import DEFAULT_CHUNK_SIZE
    from .recast import DEFAULT_EVENTS, EXPERIMENTS, KOTO_DATA, MODELS

    names = {"koto": "KOTO", "na62": "NA62", "e949": "E949", "charm": "CHARM", "lhcb": "LHCb"}
    ev_default = ", ".join(f"{names.get(k, k)} {v}" for k, v in DEFAULT_EVENTS.items())

    s = subparsers.add_parser(
        "reach", help="which experiments exclude each (m_phi, coupling): ROOT file + PNGs",
        description="The coupling plane: for every published result (KOTO 2015, 2016-18, 2021 "
        "K_L -> pi0 nu nubar; NA62 2017 and 2016-22 and E949 K+ -> pi+ X; CHARM beam dump; "
        "LHCb B -> K(*) X(mu mu) displaced and B0 -> K*0 e+e-) the quantity that decides "
        "(expected events or predicted BR over the limit) from the simulation and from the "
        "one-formula estimate eps BR exp(-L m/(p tau)), the excluded regions and the "
        "KOTO-favoured band (arXiv:1909.11111). Models: seed = eps_q scanned with eps_l "
        "fixed by (g-2)_mu (arXiv:2001.06522); higgs = sin^2 theta; ctau = the BR each "
        "result excludes at (m_phi, c tau). One simulation per mass and experiment; every "
        "coupling is a weight. Grids: " + GRID_HELP + ".")
    s.add_argument("--model", default="seed", help=f"one of {', '.join(MODELS)} (default seed)")
    s.add_argument("--masses", default="1:280:56", metavar="GRID",
                   help="phi masses in MeV (default 1:280:56)")
    s.add_argument("--couplings", default=None, metavar="GRID",
                   help="eps_q (seed), sin^2 theta (higgs) or c*tau in metres (ctau); default "
                   + ", ".join(f"{k}: {v}" for k, v in _DEFAULT_COUPLINGS.items()))
    s.add_argument("--experiments", default=None, metavar="LIST",
                   help=f"comma-separated subset of {','.join(EXPERIMENTS)} (default: all "
                   "available)")
    s.add_argument("--koto-data", default=None, metavar="LIST",
                   help=f"KOTO data sets, comma-separated subset of {','.join(KOTO_DATA)} "
                   "(default all)")
    s.add_argument("--constraints", default=None, metavar="FILES",
                   help="comma-separated constraint names or .toml files to use instead of "
                   "the shipped results of --experiments")
    s.add_argument("--out", default=None,
                   help="output ROOT file (default reach_MODEL.root); PNGs are written next "
                   "to it as STEM_combined.png and STEM_CONSTRAINT.png")
    s.add_argument("--events", type=_positive_int("--events"), default=None,
                   help="parent decays simulated per mass, experiment and channel (default "
                   f"{ev_default}: whole numbers of {DEFAULT_CHUNK_SIZE}-event chunks)")
    s.add_argument("--seed", type=int, default=1, help="master seed (default 1)")
    s.add_argument("--threads", type=_positive_int("--threads"), default=None,
                   help="numba threads (default all cores); results do not depend on it")
    s.add_argument("--workers", type=_positive_int("--workers"), default=None,
                   help="start a local Dask cluster with N worker processes")
    s.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run on an existing Dask cluster, e.g. tcp://host:8786")
    s.add_argument("--no-plot", action="store_true", help="write the ROOT file only")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=run_reach)


def _list(text: str | None, option: str) -> list[str] | None:
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise UsageError(f"{option}: empty list")
    return items


def run_reach(args: argparse.Namespace) -> int:
    """Validate everything, compute the plane, write the ROOT file and the PNGs."""
    from .recast import MODELS, plot_constraint, plot_reach, quantity_label, reach, write_reach_root

    if args.model not in MODELS:
        raise UsageError(f"--model: '{args.model}' is unknown: allowed {', '.join(MODELS)}")
    if args.workers is not None and args.scheduler is not None:
        raise UsageError("--workers and --scheduler: give one, not both")
    masses = parse_grid(args.masses, "--masses", "MeV")
    cpl_text = args.couplings if args.couplings is not None else _DEFAULT_COUPLINGS[args.model]
    cpl = parse_grid(cpl_text, "--couplings", "m" if args.model == "ctau" else "")
    if (cpl <= 0).any():
        raise UsageError(f"--couplings: {cpl[cpl <= 0][0]:g}: must be > 0")
    if args.model == "ctau":
        cpl = cpl * 1000.0  # m -> mm
    out = Path(args.out) if args.out else Path(f"reach_{args.model}.root")
    if out.suffix != ".root":
        raise UsageError(f"--out: '{out}': must end in .root")
    experiments = _list(args.experiments, "--experiments")
    koto_data = _list(args.koto_data, "--koto-data")
    cons = _list(args.constraints, "--constraints")
    progress = None
    if not args.quiet and sys.stderr.isatty():
        def progress(done: int, total: int) -> None:
            sys.stderr.write(f"\r  {done:>14,d}/{total:,d} events simulated ")
            if done >= total:
                sys.stderr.write("\n")
            sys.stderr.flush()
    res = reach(args.model, masses, cpl, experiments=experiments, koto_data=koto_data,
                constraints=cons, n_events=args.events, seed=args.seed, workers=args.workers,
                scheduler=args.scheduler, threads=args.threads, progress=progress)
    for note in res.notes:
        print(f"note: {note}")
    _summary(res, quantity_label)
    write_reach_root(res, out)
    written = [str(out)]
    if not args.no_plot:
        written.append(str(plot_reach(res, out.with_name(out.stem + "_combined.png"))))
        if args.model != "ctau":
            for nm in res.constraints:
                written.append(str(plot_constraint(res, nm, out.with_name(
                    f"{out.stem}_{nm}.png"))))
    print("wrote " + ", ".join(written))
    return 0


def _summary(res, quantity_label) -> None:
    """One line per result: source, CL, method and (models) how much of the plane it
    excludes, from the simulation and from the one-formula estimate."""
    import numpy as np

    ev = ", ".join(f"{k} {v:.2g}" for k, v in res.config["n_events"].items())
    print(f"{res.model} plane: {res.masses.size} masses x {res.couplings.size} couplings; "
          f"events per mass and channel: {ev}; seed {res.config['seed']}")
    for nm, c in res.constraints.items():
        line = f"  {c.title:<26} {c.source:<55} {100 * c.cl:g}% CL"
        if res.model != "ctau":
            fr = [float(np.mean(res.excluded(nm, m))) for m in ("simulation", "one_formula")]
            line += (f"  excluded: {100 * fr[0]:5.1f}% of the plane (simulation), "
                     f"{100 * fr[1]:5.1f}% (one-formula)")
        else:
            line += f"  map: {quantity_label(res, nm)}"
        print(line)
