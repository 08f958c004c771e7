"""``kotosim model`` sub-command: print the light-scalar model quantities, or plot them.

Usage (units: MeV)::

    kotosim model --mass 50 --eps-q 0.01 --eps-l 1
    kotosim model --mass 50 --eps-q 0.01 --eps-l g2        # eps_l fixed by (g-2)_mu
    kotosim model --mass 100 --higgs-mixing 1e-3
    kotosim model plot --out DIR [--sin-theta 1] [--eps-q 0.01 --eps-l 1] [--m-min 1 --m-max 400]

``register(subparsers)`` adds the sub-command to the main ``kotosim`` parser (kotosim/cli.py).
Errors print one line ``kotosim: error: <key>: <message>`` to stderr and return exit code 2.
Numbers are parsed by the handlers (not by argparse) so that bad values give that one line.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from typing import Any, get_args

from kotosim import model as mdl

__all__ = ["register", "run_table", "run_plot"]

_OPTION_FLAGS: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("--gamma-gamma-hadrons", "gamma_gamma_hadrons", get_args(mdl.GammaGammaHadrons),
     "quarks/hadrons in the gamma gamma loop"),
    ("--pipi", "pipi", get_args(mdl.PiPi), "pi pi width: LO chiral or Winkler-rescaled"),
    ("--k-to-pi-norm", "k_to_pi_norm", get_args(mdl.KToPiNorm),
     "K -> pi phi normalisation (seed = Re g with m_K^2, arXiv:2001.06522)"),
)


#: Largest --events of ``model koto``/``koto-scan`` (per channel and mass).
MAX_EVENTS = 10**11


class _CliError(Exception):
    """Bad command-line input; str() is '<key>: <message>'."""


def _one_line_error(message: str) -> None:
    """argparse error hook: one line on stderr, exit code 2 (no usage dump)."""
    print(f"kotosim: error: {message}", file=sys.stderr)
    sys.exit(2)


def _add_option_flags(p: argparse.ArgumentParser) -> None:
    for flag, dest, choices, text in _OPTION_FLAGS:
        p.add_argument(flag, dest=dest, default=choices[0], metavar="{" + ",".join(choices) + "}",
                       help=f"{text} (default: {choices[0]})")


def register(subparsers: Any) -> None:
    """Add the ``model`` sub-command (and its ``plot`` mode) to an argparse subparsers object."""
    p = subparsers.add_parser(
        "model",
        help="light-scalar model: widths, lifetime, BRs, g-2 (units MeV, mm, ns)",
        description="Light scalar phi with Higgs-like couplings eps_q (quarks, W) and eps_l "
                    "(leptons), arXiv:2001.06522. Prints partial widths [MeV], total width, "
                    "tau [ns], c*tau [mm], decay and production BRs and Delta a_e, Delta a_mu. "
                    "Use 'kotosim model plot --out DIR' for the BR / decay-length plot.",
    )
    p.add_argument("--mass", metavar="MEV", help="scalar mass m_phi in MeV (0 < m < 987.4)")
    p.add_argument("--eps-q", dest="eps_q", metavar="EPS_Q",
                   help="quark (and W) coupling relative to the SM Higgs")
    p.add_argument("--eps-l", dest="eps_l", metavar="EPS_L",
                   help="lepton coupling relative to the SM Higgs, or 'g2' to fix it from "
                        "Delta a_mu = 27.4e-10")
    p.add_argument("--higgs-mixing", dest="higgs_mixing", metavar="SIN_THETA",
                   help="Higgs-mixing model eps_q = eps_l = SIN_THETA (instead of --eps-q/-l)")
    _add_option_flags(p)
    p.set_defaults(func=run_table)
    p.error = _one_line_error  # type: ignore[method-assign]

    sub = p.add_subparsers(dest="model_mode", metavar="{plot,koto,koto-scan}")
    pp = sub.add_parser(
        "plot",
        help="plot BR(ee, mumu, gammagamma, pipi) and c*tau vs m_phi (PNG + CSV)",
        description="Draw BR(phi -> ee, mumu, gammagamma, pipi) and the decay length c*tau "
                    "versus m_phi [MeV] for the Higgs-mixing model (dashed) and a type-X-like "
                    "model eps_l >> eps_q (solid), as in arXiv:2001.06522. Writes "
                    "DIR/model_br_ctau.png and DIR/model_br_ctau.csv.",
    )
    pp.add_argument("--out", metavar="DIR", help="output directory (created if missing)")
    pp.add_argument("--sin-theta", dest="sin_theta", default="1",
                    help="Higgs-mixing sin(theta) used for its c*tau curve (default 1)")
    pp.add_argument("--eps-q", dest="eps_q", default="0.01",
                    help="type-X-like model eps_q (default 0.01)")
    pp.add_argument("--eps-l", dest="eps_l", default="1",
                    help="type-X-like model eps_l (default 1)")
    pp.add_argument("--m-min", dest="m_min", default="1", help="lowest m_phi in MeV (default 1)")
    pp.add_argument("--m-max", dest="m_max", default="400",
                    help="highest m_phi in MeV (default 400, must be < 987.4)")
    pp.add_argument("--n-points", dest="n_points", default="400",
                    help="number of masses (default 400)")
    _add_option_flags(pp)
    pp.set_defaults(func=run_plot)
    pp.error = _one_line_error  # type: ignore[method-assign]


    pk = sub.add_parser(
        "koto",
        help="effective BR(K_L -> pi0 phi) seen by KOTO: simulation vs eps BR exp(-L m/(p tau))",
        description="Simulate KOTO at the model's mass and lifetime: BR(KOTO) = BR(K_L -> pi0 "
                    "phi) x A(pi0 phi, c tau)/A(pi0 nu nu), beside the one-formula estimate "
                    "approximation with the geometry file's (L, p).")
    pk.add_argument("--mass", metavar="MEV", help="scalar mass m_phi in MeV")
    pk.add_argument("--eps-q", dest="eps_q", metavar="EPS_Q", help="quark coupling")
    pk.add_argument("--eps-l", dest="eps_l", metavar="EPS_L", default="g2",
                    help="lepton coupling, or 'g2' (default) to fix it from Delta a_mu")
    pk.add_argument("--higgs-mixing", dest="higgs_mixing", metavar="SIN_THETA",
                    help="Higgs-mixing model eps_q = eps_l = SIN_THETA")
    _add_sim_flags(pk)
    _add_option_flags(pk)
    pk.set_defaults(func=run_koto)
    pk.error = _one_line_error  # type: ignore[method-assign]

    ps = sub.add_parser(
        "koto-scan",
        help="effective BR at KOTO over (m_phi, eps_q): ROOT file and plane plot with bands",
        description="Scan (m_phi, eps_q) with eps_l fixed by (g-2)_mu (or given); write the "
                    "simulated and analytic effective BR maps to a ROOT file and draw the "
                    "KOTO-favoured bands (BR_KOTO = 2.1 +2.0 -1.1 (68%), +4.1 -1.7 (95%) "
                    "x 1e-9, Kitahara et al. arXiv:1909.11111; change with --band68/--band95).")
    ps.add_argument("--masses", default="10:260:26",
                    help="masses in MeV: START:STOP:N or a list (default 10:260:26)")
    ps.add_argument("--eps-q", dest="eps_q", default="1e-4:1e-1:31:log",
                    help="eps_q grid: START:STOP:N:log or a list (default 1e-4:1e-1:31:log)")
    ps.add_argument("--eps-l", dest="eps_l", default="g2",
                    help="lepton coupling, or 'g2' (default) to fix it from Delta a_mu")
    ps.add_argument("--band68", default="1.0e-9,4.1e-9", help="68%% CL BR range (lo,hi)")
    ps.add_argument("--band95", default="0.4e-9,6.2e-9", help="95%% CL BR range (lo,hi)")
    ps.add_argument("--out", default="koto_br_scan.root",
                    help="output ROOT file; the PNG is written next to it")
    _add_sim_flags(ps, default_events="500000")
    _add_option_flags(ps)
    ps.set_defaults(func=run_koto_scan)
    ps.error = _one_line_error  # type: ignore[method-assign]


def _add_sim_flags(p: argparse.ArgumentParser, default_events: str = "1000000") -> None:
    p.add_argument("--events", default=default_events,
                   help=f"K_L decays simulated per channel and mass (default {default_events})")
    p.add_argument("--seed", default="1", help="master seed (default 1)")
    p.add_argument("--variant", default=None, help="KOTO geometry variant, e.g. run2016")
    p.add_argument("--geometry", default="koto", help="KOTO geometry name or .toml path")


# ---- helpers ---------------------------------------------------------------------------------
def _number(key: str, text: str | None, *, required: bool = True) -> float:
    if text is None:
        if required:
            raise _CliError(f"{key}: missing value")
        return math.nan
    try:
        x = float(text)
    except ValueError:
        raise _CliError(f"{key}: not a number: {text!r}") from None
    if not math.isfinite(x):
        raise _CliError(f"{key}: must be finite (got {text!r})")
    return x


def _options(args: argparse.Namespace) -> dict[str, str]:
    opts = {}
    for _flag, dest, choices, _text in _OPTION_FLAGS:
        val = getattr(args, dest)
        if val not in choices:
            raise _CliError(f"{dest}: must be one of {', '.join(choices)} (got {val!r})")
        opts[dest] = val
    return opts


@contextlib.contextmanager
def _quiet_font_manager() -> Iterator[None]:
    """mplhep styles ask for fonts that may be absent: silence matplotlib's fallback warnings."""
    logger = logging.getLogger("matplotlib.font_manager")
    old = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(old)


# parameter names of kotosim.model / this module -> the command-line option a user typed
_FLAGS = {"mass": "--mass", "eps_q": "--eps-q", "eps_l": "--eps-l", "out": "--out",
          "higgs_mixing": "--higgs-mixing", "m_min": "--m-min", "m_max": "--m-max",
          "n_points": "--n-points", "events": "--events", "seed": "--seed",
          "band68": "--band68", "masses": "--masses", "band95": "--band95", "target": "--eps-l g2",
          **{dest: flag for flag, dest, _c, _t in _OPTION_FLAGS}}


def _flag_message(message: str, args: argparse.Namespace) -> str:
    """'eps_q: ...' -> '--eps-q: ...' (the option the user typed); one line."""
    key, sep, rest = str(message).partition(": ")
    flags = dict(_FLAGS, sin_theta="--sin-theta" if getattr(args, "model_mode", None) == "plot"
                 else "--higgs-mixing")
    if sep and key in flags:
        message = f"{flags[key]}: {rest}"
    return str(message).splitlines()[0] if str(message) else "invalid input"


def _guarded(fn: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    try:
        with _quiet_font_manager():
            return fn(args)
    except (_CliError, ValueError, OverflowError) as exc:
        print(f"kotosim: error: {_flag_message(str(exc), args)}", file=sys.stderr)
        return 2
    except OSError as exc:
        where = f" {exc.filename}:" if exc.filename else ""
        print(f"kotosim: error: --out:{where} {exc.strerror or exc}", file=sys.stderr)
        return 2


# ---- table mode ------------------------------------------------------------------------------
def _build_model(args: argparse.Namespace) -> mdl.ScalarModel:
    opts = _options(args)
    mass = _number("mass", args.mass)
    if args.higgs_mixing is not None:
        if args.eps_q is not None or args.eps_l is not None:
            raise _CliError("higgs_mixing: give either --higgs-mixing or --eps-q/--eps-l, not both")
        return mdl.ScalarModel.higgs_mixing(mass, _number("higgs_mixing", args.higgs_mixing),
                                            **opts)
    if args.eps_q is None or args.eps_l is None:
        raise _CliError("eps_q: give --eps-q and --eps-l, or --higgs-mixing SIN_THETA")
    eps_q = _number("eps_q", args.eps_q)
    if args.eps_l.strip().lower() == "g2":
        eps_l = mdl.eps_l_for_delta_a_mu(mass)
    else:
        eps_l = _number("eps_l", args.eps_l)
    return mdl.ScalarModel(mass, eps_q, eps_l, **opts)


def format_table(m: mdl.ScalarModel) -> str:
    """Human-readable summary of a ScalarModel (units in the labels)."""
    br = m.branching_ratios
    lines = [
        "Light scalar phi (arXiv:2001.06522; kotosim.model)",
        f"  m_phi = {m.mass:g} MeV   eps_q = eps_W = {m.eps_q:.6g}   eps_l = {m.eps_l:.6g}",
        f"  options: gamma_gamma_hadrons={m.gamma_gamma_hadrons}  pipi={m.pipi}  "
        f"k_to_pi_norm={m.k_to_pi_norm}",
        "",
        f"  {'decay':<14}{'width [MeV]':>14}{'BR':>14}",
    ]
    rows = (("e+ e-", m.width_ee, br["ee"]), ("mu+ mu-", m.width_mumu, br["mumu"]),
            ("gamma gamma", m.width_gammagamma, br["gammagamma"]),
            ("pi+ pi-", m.width_pipluspiminus, br["pi+pi-"]),
            ("pi0 pi0", m.width_pi0pi0, br["pi0pi0"]), ("pi pi (sum)", m.width_pipi, br["pipi"]),
            ("total", m.total_width, 1.0))
    lines += [f"  {name:<14}{w:>14.4e}{b:>14.4e}" for name, w, b in rows]
    lines += [
        "",
        f"  tau   = {m.tau:.4e} ns",
        f"  c*tau = {m.ctau:.4e} mm",
        "",
        f"  {'production':<20}{'BR':>14}{'BR / eps_q^2':>16}",
    ]
    prod = (("K_L -> pi0 phi", m.br_kl_pi0phi), ("K+ -> pi+ phi", m.br_kplus_piplusphi),
            ("B+ -> K+ phi", m.br_b_kphi), ("B0 -> K*0 phi", m.br_b0_kstar0phi))
    for name, b in prod:
        per = b / m.eps_q**2 if m.eps_q != 0.0 else math.nan
        lines.append(f"  {name:<20}{b:>14.4e}{per:>16.4e}")
    lines += [
        "",
        f"  Delta a_e  = {m.delta_a_e:.4e}",
        f"  Delta a_mu = {m.delta_a_mu:.4e}   (measured - SM: 27.4e-10, as in arXiv:1810.11028)",
    ]
    return "\n".join(lines)


def _table(args: argparse.Namespace) -> int:
    print(format_table(_build_model(args)))
    return 0


def _sim_args(args: argparse.Namespace) -> tuple[int, int]:
    ev = _number("events", args.events)
    seed = _number("seed", args.seed)
    if not 1 <= ev <= MAX_EVENTS or ev != int(ev):
        raise _CliError(f"events: must be a whole number in [1, {MAX_EVENTS:.0e}] "
                        f"(1e11 K_L decays take ~5 h at 6 M/s) (got {args.events!r})")
    if not 0 <= seed < 2**63 or seed != int(seed):
        raise _CliError(f"seed: must be a whole number in [0, 2^63) (got {args.seed!r})")
    return int(ev), int(seed)


def _koto(args: argparse.Namespace) -> int:
    from kotosim.koto_br import effective_br

    if args.higgs_mixing is None and args.eps_q is None:
        raise _CliError("eps_q: give --eps-q (and optionally --eps-l), or --higgs-mixing")
    if args.higgs_mixing is not None:
        args.eps_l = None
    model = _build_model(args)
    n, seed = _sim_args(args)
    print(effective_br(model, n_events=n, seed=seed, experiment=args.geometry,
                       variant=args.variant).table())
    return 0


def run_koto(args: argparse.Namespace) -> int:
    """Handler of ``kotosim model koto`` (GeometryError is a ValueError: one line, exit 2)."""
    return _guarded(_koto, args)


def _koto_scan(args: argparse.Namespace) -> int:
    from kotosim.cli import UsageError, parse_grid
    from kotosim.koto_br import effective_br_scan, write_br_scan

    opts = _options(args)
    try:
        masses = parse_grid(args.masses, "--masses", "MeV")
        eps_q = parse_grid(args.eps_q, "--eps-q", "")
    except UsageError as exc:
        raise _CliError(str(exc)) from None
    b68 = [_number("band68", t) for t in args.band68.split(",")]
    b95 = [_number("band95", t) for t in args.band95.split(",")]
    for name, b in (("band68", b68), ("band95", b95)):
        if len(b) != 2 or not 0 < b[0] < b[1]:
            raise _CliError(f"{name}: need two increasing positive values lo,hi")
    try:
        for m in masses:
            mdl.ScalarModel(m, 1.0, 1.0, **opts)  # validates the mass range
    except ValueError as exc:
        raise _CliError(f"masses: {str(exc).partition(': ')[2]}") from None
    eps_l = "g2" if args.eps_l.strip().lower() == "g2" else _number("eps_l", args.eps_l)
    if not str(args.out).endswith(".root"):
        raise _CliError(f"out: '{args.out}': must end in .root")
    n, seed = _sim_args(args)
    scan = effective_br_scan(masses, eps_q, eps_l=eps_l, n_events=n, seed=seed,
                             experiment=args.geometry, variant=args.variant, **opts)
    png = str(args.out)[:-5] + ".png"
    write_br_scan(scan, args.out, png, (b68[0], b68[1]), (b95[0], b95[1]))
    print(f"wrote {args.out} and {png}")
    return 0


def run_koto_scan(args: argparse.Namespace) -> int:
    """Handler of ``kotosim model koto-scan``."""
    return _guarded(_koto_scan, args)


def run_table(args: argparse.Namespace) -> int:
    """Handler of ``kotosim model``: print the table; exit code 0, or 2 on bad input."""
    return _guarded(_table, args)


# ---- plot mode -------------------------------------------------------------------------------
_CSV_COLUMNS = ("br_ee", "br_mumu", "br_gammagamma", "br_pipi", "ctau")


def _plot(args: argparse.Namespace) -> int:
    if args.out is None:
        raise _CliError("out: missing value (--out DIR)")
    opts = _options(args)
    sin_theta = _number("sin_theta", args.sin_theta)
    eps_q = _number("eps_q", args.eps_q)
    eps_l = _number("eps_l", args.eps_l)
    m_min = _number("m_min", args.m_min)
    m_max = _number("m_max", args.m_max)
    n_txt = args.n_points
    if not str(n_txt).isdigit() or not 2 <= int(n_txt) <= 100000:
        raise _CliError(f"n_points: must be an integer in [2, 100000] (got {n_txt!r})")
    n = int(n_txt)
    if not 0.0 < m_min < m_max < mdl.MASS_MAX:
        raise _CliError(f"m_min: need 0 < m_min < m_max < {mdl.MASS_MAX:.1f} MeV "
                        f"(got m_min={m_min:g}, m_max={m_max:g})")
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise _CliError(f"out: not a directory: {args.out}")
    # validate the couplings before any work or output
    mdl.ScalarModel.higgs_mixing(m_min, sin_theta, **opts)
    mdl.ScalarModel(m_min, eps_q, eps_l, **opts)

    import numpy as np

    masses = np.linspace(m_min, m_max, n)
    hm = mdl.scan_table(masses, sin_theta, sin_theta, with_g2=False, **opts)
    tx = mdl.scan_table(masses, eps_q, eps_l, with_g2=False, **opts)

    os.makedirs(args.out, exist_ok=True)
    png = os.path.join(args.out, "model_br_ctau.png")
    csv = os.path.join(args.out, "model_br_ctau.csv")
    header = [
        "# kotosim model plot: phi branching ratios and proper decay length vs mass",
        "# source: kotosim.model (arXiv:2001.06522); units: mass MeV, ctau mm",
        f"# hm_* = Higgs mixing, sin_theta = {sin_theta:g}; "
        f"tx_* = type-X-like, eps_q = {eps_q:g}, eps_l = {eps_l:g}",
        "# options: " + " ".join(f"{k}={v}" for k, v in opts.items()),
        ",".join(["mass_MeV"] + [f"hm_{c}" for c in _CSV_COLUMNS]
                 + [f"tx_{c}" for c in _CSV_COLUMNS]),
    ]
    body = [",".join([f"{m:.6g}"] + [f"{hm[c][i]:.6e}" for c in _CSV_COLUMNS]
                     + [f"{tx[c][i]:.6e}" for c in _CSV_COLUMNS])
            for i, m in enumerate(masses)]
    fig = _make_figure(masses, hm, tx, sin_theta, eps_q, eps_l)

    tmp_files: list[str] = []
    try:
        fd, tmp_csv = tempfile.mkstemp(prefix=".model_br_ctau.", suffix=".csv.tmp", dir=args.out)
        tmp_files.append(tmp_csv)
        with os.fdopen(fd, "w") as fh:
            fh.write("\n".join(header + body) + "\n")
        fd, tmp_png = tempfile.mkstemp(prefix=".model_br_ctau.", suffix=".png.tmp", dir=args.out)
        tmp_files.append(tmp_png)
        with os.fdopen(fd, "wb") as fh:
            fig.savefig(fh, format="png", dpi=150)
        umask = os.umask(0)
        os.umask(umask)
        for t in tmp_files:
            os.chmod(t, 0o666 & ~umask)
        os.replace(tmp_csv, csv)
        os.replace(tmp_png, png)
        tmp_files.clear()
    finally:
        for t in tmp_files:
            with contextlib.suppress(OSError):
                os.unlink(t)
        import matplotlib.pyplot as plt

        plt.close(fig)
    print(f"wrote {png}")
    print(f"wrote {csv}")
    return 0


def _make_figure(masses: Any, hm: Any, tx: Any, sin_theta: float, eps_q: float,
                 eps_l: float) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    style: Any = "default"
    with contextlib.suppress(Exception):
        import mplhep

        style = mplhep.style.ROOT
    with plt.style.context(style):
        fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(12, 10), sharex=True,
                                       gridspec_kw={"height_ratios": [3, 2]})
        labels = {"br_ee": r"$e^+e^-$", "br_mumu": r"$\mu^+\mu^-$",
                  "br_gammagamma": r"$\gamma\gamma$", "br_pipi": r"$\pi\pi$"}
        colors = {"br_ee": "tab:blue", "br_mumu": "tab:orange",
                  "br_gammagamma": "tab:green", "br_pipi": "tab:red"}
        for key, lab in labels.items():
            ax1.plot(masses, tx[key], color=colors[key], ls="-", label=lab)
            ax1.plot(masses, hm[key], color=colors[key], ls="--")
        ax1.set_yscale("log")
        ax1.set_ylim(1e-5, 2.0)
        ax1.set_ylabel(r"BR($\phi \to X$)")
        ax1.plot([], [], color="k", ls="-",
                 label=rf"type-X-like: $\epsilon_\ell={eps_l:g}$, $\epsilon_q={eps_q:g}$")
        ax1.plot([], [], color="k", ls="--", label=r"Higgs mixing $\epsilon_q=\epsilon_\ell$")
        ax1.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax2.plot(masses, tx["ctau"], color="k", ls="-",
                 label=rf"type-X-like ($\epsilon_\ell={eps_l:g}$, $\epsilon_q={eps_q:g}$)")
        ax2.plot(masses, hm["ctau"], color="k", ls="--",
                 label=rf"Higgs mixing, $\sin\theta={sin_theta:g}$")
        ax2.set_yscale("log")
        ax2.set_ylabel(r"$c\tau_\phi$ [mm]")
        ax2.set_xlabel(r"$m_\phi$ [MeV]")
        ax2.xaxis.set_major_locator(MaxNLocator(nbins=6))
        ax2.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
        fig.tight_layout()
    return fig


def run_plot(args: argparse.Namespace) -> int:
    """Handler of ``kotosim model plot``: write PNG + CSV; exit code 0, or 2 on bad input."""
    return _guarded(_plot, args)
