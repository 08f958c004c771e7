"""The coupling plane: which published results exclude a model point (m_phi, coupling), from
the simulation and from the one-formula estimate, for every experiment at once.

Models (``model=``):

* ``"seed"``: eps_q scanned, eps_l fixed at each mass by Delta a_mu = 27.4e-10 (seed talk
  slides 16, 35; Liu, McGinnis, Wagner, Wang, arXiv:2001.06522);
* ``"higgs"``: Higgs mixing, eps_q = eps_l = sin(theta), sin^2(theta) scanned;
* ``"ctau"``: model-independent (m, c tau) plane; every result gives the production BR it
  excludes (BR(K_L -> pi0 phi), BR(K+ -> pi+ phi), BR(B -> K(*) phi) x BR(phi -> ll), or
  for CHARM one BR(meson -> h phi) for every parent with Higgs-mixing decay BRs).

How a result uses the simulation is stated in its constraint file (:mod:`kotosim.constraints`).
The coupling changes the lifetime and the BRs, never the kinematics: each experiment (and
KOTO data set, i.e. geometry variant) is simulated once per mass, with the exact c tau of every
coupling of that mass as a weight on the same events (DESIGN.md principle 1). Chunks are seeded
from (seed, experiment, channel, mass index, chunk index) and summed in block order, so the
planes are bit-identical on any number of threads and on Dask.

The deciding quantity of a result is ``R`` = prediction / limit (expected events / event
limit, or predicted BR / BR limit): a point is excluded where R >= 1. In the ``ctau`` plane
the stored quantity is the excluded BR (1/R for unit production BR).

One-formula estimate (seed slide 36): the simulated lifetime dependence replaced by
exp(-L m/(p c tau)) (survival to L) or exp(-L1 m/(p c tau)) - exp(-L2 m/(p c tau)) (decay in
[L1, L2]) with each geometry file's [analytic] (L, p), normalised to the simulation where the
lifetime does not matter (stable phi, or c tau -> inf for decays inside a volume).

Units: masses MeV, c tau mm, lifetimes ns (hepunits); couplings dimensionless.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import analytic, engine
from . import constants as C
from .constraints import Constraint, load_constraint, poisson_interval
from .geometry import Geometry, available_geometries, load_geometry
from .io import atomic_path
from .result import ratio_error

__all__ = ["MODELS", "EXPERIMENTS", "KOTO_DATA", "DEFAULT_EVENTS", "ReachResult", "reach",
           "model_grid", "write_reach_root", "plot_reach", "plot_constraint", "contours"]

MODELS = ("seed", "higgs", "ctau")
EXPERIMENTS = ("koto", "na62", "e949", "charm", "lhcb")
#: KOTO data set (CLI name) -> shipped constraint file
KOTO_DATA = {"2015": "koto_2015", "2016": "koto_2016_2018", "2021": "koto_2021"}
_SHIPPED = {"koto": list(KOTO_DATA.values()), "na62": ["na62_2017", "na62_2016_2022"],
            "e949": ["e949"], "charm": ["charm"],
            "lhcb": ["lhcb_b0_kstar0_mumu", "lhcb_bplus_kplus_mumu", "lhcb_b0_kstar0_ee"]}
METHODS = ("simulation", "one_formula")
CT_LONG = 1e12          # mm: c tau at which a decay-inside-a-volume acceptance is normalised
CT_PROMPT = 1e-6        # mm: c tau of a phi decaying at once (prompt acceptance A(0))
_LH_CHANNELS = ("b0_kstar0", "bplus_kplus")
_LH_MUMU = 1  # the phi -> mu+ mu- row of kotosim.experiments.lhcb.DAUGHTERS
_COUPLING_LABEL = {"seed": ("eps_q", r"$\epsilon_q$", "#epsilon_{q}"),
                   "higgs": ("sin2theta", r"$\sin^2\theta$", "sin^{2}#theta"),
                   "ctau": ("ctau_mm", r"$c\tau_\phi$ [m]", "c#tau [mm]")}


# ------------------------------------------------------------------------------- model grid
@dataclass
class ModelGrid:
    """Lifetimes and BRs over (mass, coupling); arrays of shape (n_mass, n_coupling).

    ``ctau`` [mm]; production BRs ``kl`` (K_L -> pi0 phi), ``kplus`` (K+ -> pi+ phi), ``bplus``
    (B+ -> K+ phi), ``b0`` (B0 -> K*0 phi); decay BRs ``ee``, ``mumu``, ``gammagamma``;
    ``eps_l`` per mass (seed model). For ``model="ctau"`` every production BR is 1 and the
    decay BRs are the Higgs-mixing ones (CHARM), BR(phi -> ll) = 1 for LHCb."""

    model: str
    masses: np.ndarray
    couplings: np.ndarray
    ctau: np.ndarray
    prod: dict[str, np.ndarray]
    decay: dict[str, np.ndarray]
    eps_l: np.ndarray


def model_grid(model: str, masses: np.ndarray, couplings: np.ndarray,
               **options: str) -> ModelGrid:
    """Lifetimes and BRs of ``model`` on the grid (see :class:`ModelGrid`). ``options`` are
    the :class:`kotosim.model.ScalarModel` treatment options."""
    from .model import ScalarModel, eps_l_for_delta_a_mu

    nm, nc = masses.size, couplings.size
    shape = (nm, nc)
    prod = {k: np.ones(shape) for k in ("kl", "kplus", "bplus", "b0")}
    decay = {k: np.zeros(shape) for k in ("ee", "mumu", "gammagamma")}
    eps_l = np.full(nm, np.nan)
    if model == "ctau":
        for i, m in enumerate(masses):
            br = ScalarModel.higgs_mixing(float(m), 1e-3, **options).branching_ratios
            for k in decay:
                decay[k][i] = br[k]
        return ModelGrid(model, masses, couplings, np.broadcast_to(couplings, shape).copy(),
                         prod, decay, eps_l)
    ctau = np.zeros(shape)
    for i, m in enumerate(masses):
        if model == "seed":
            eps_l[i] = eps_l_for_delta_a_mu(float(m))
        for j, c in enumerate(couplings):
            md = (ScalarModel(float(m), float(c), eps_l[i], **options) if model == "seed"
                  else ScalarModel.higgs_mixing(float(m), math.sqrt(c), **options))
            ctau[i, j] = md.ctau
            prod["kl"][i, j], prod["kplus"][i, j] = md.br_kl_pi0phi, md.br_kplus_piplusphi
            prod["bplus"][i, j], prod["b0"][i, j] = md.br_b_kphi, md.br_b0_kstar0phi
            br = md.branching_ratios
            for k in decay:
                decay[k][i, j] = br[k]
    return ModelGrid(model, masses, couplings, ctau, prod, decay, eps_l)


# ------------------------------------------------------------------------------- result
@dataclass(eq=False, repr=False)
class ReachResult:
    """The coupling plane (:func:`reach`).

    Attributes
    ----------
    model : "seed", "higgs" or "ctau".
    masses : phi masses [MeV]; couplings : eps_q, sin^2 theta, or c tau [mm].
    grid : lifetimes and BRs (:class:`ModelGrid`).
    constraints : name -> :class:`~kotosim.constraints.Constraint` used.
    values, errors : (constraint, method) -> array (n_mass, n_coupling): the deciding quantity
        R = prediction/limit (models), or the excluded production BR (``ctau``), and its Monte
        Carlo error; NaN where the result says nothing (mass outside its range).
    koto_br : method -> {constraint: BR_KOTO(m, coupling)} for the KOTO data sets (models).
    bands : constraint -> {"published": (lo68, hi68, lo95, hi95), "from_data": (...)}.
    notes : lines worth printing (fallbacks, skipped experiments).
    config : run configuration (written to the ROOT file).
    """

    model: str
    masses: np.ndarray
    couplings: np.ndarray
    grid: ModelGrid
    constraints: dict[str, Constraint]
    values: dict[tuple[str, str], np.ndarray]
    errors: dict[tuple[str, str], np.ndarray]
    koto_br: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    koto_br_error: dict[str, np.ndarray] = field(default_factory=dict)
    bands: dict[str, dict[str, tuple[float, float, float, float]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"ReachResult({self.model}: {self.masses.size} masses x {self.couplings.size} "
                f"couplings, constraints {', '.join(self.constraints)})")

    def excluded(self, name: str, method: str = "simulation") -> np.ndarray:
        """Boolean map: excluded at the result's CL (R >= 1; models only)."""
        if self.model == "ctau":
            raise ValueError("excluded: the ctau plane has no model; use values (excluded BR)")
        v = self.values[(name, method)]
        return np.where(np.isfinite(v), v >= 1.0, False)

    def hist(self, name: str, method: str = "simulation", what: str = "value"):
        """A map as a 2-D ``hist.Hist`` over (m_phi [MeV], coupling): ``what`` = "value" (the
        deciding quantity, variance = MC error^2) or "excluded" (0/1). NaN -> 0."""
        import hist

        from .maps import ctau_edges, mass_edges

        key = _COUPLING_LABEL[self.model][0]
        if what == "excluded":
            vals, var = self.excluded(name, method).astype(float), np.zeros(self.grid.ctau.shape)
            label = f"{self.constraints[name].title}: excluded at {self._cl(name)} CL ({method})"
        else:
            vals = self.values[(name, method)]
            with np.errstate(over="ignore", invalid="ignore"):
                var = self.errors[(name, method)] ** 2  # huge excluded BRs: capped below
            label = f"{self.constraints[name].title}: {quantity_label(self, name)} ({method})"
        h = hist.Hist(hist.axis.Variable(mass_edges(self.masses), name="mass",
                                         label="m_{#phi} [MeV]"),
                      hist.axis.Variable(ctau_edges(self.couplings), name=key,
                                         label=_COUPLING_LABEL[self.model][2]),
                      storage=hist.storage.Weight(), name=f"{name}_{method}_{what}",
                      label=label)
        h.title = label  # the ROOT title (uproot reads .title, else the name)
        v = h.view(flow=False)
        v["value"] = np.where(np.isfinite(vals), vals, 0.0)
        v["variance"] = np.minimum(np.where(np.isfinite(var), var, 0.0), np.finfo(float).max)
        return h

    def _cl(self, name: str) -> str:
        return f"{100 * self.constraints[name].cl:g}%"


def quantity_label(res: ReachResult, name: str) -> str:
    """Words for the deciding quantity of constraint ``name``."""
    c = res.constraints[name]
    if res.model == "ctau":
        return {"koto_events": "excluded BR(K_L -> pi0 phi)",
                "stable_limit_scaled": "excluded BR(K+ -> pi+ phi)",
                "expected_events": "excluded BR(meson -> h phi), every parent",
                "displaced_limit_scaled": "excluded BR(B -> K(*) phi) x BR(phi -> mu mu)",
                "prompt_window": "excluded BR(B0 -> K*0 phi) x BR(phi -> ee)"}[c.method]
    if c.method in ("koto_events", "expected_events"):
        return f"expected events / {100 * c.cl:g}% CL limit"
    return f"predicted BR / {100 * c.cl:g}% CL limit"


# ------------------------------------------------------------------------------- simulation
@dataclass
class _Unit:
    """One simulation: an experiment geometry (KOTO: one per data-set variant)."""

    key: str
    geo: Geometry
    masks: np.ndarray                    # which masses to simulate
    extras: list[float]                  # c tau values appended to each mass [mm]
    # LHCb parent channel -> the masses at which a result needs it (simulated only there)
    channels: dict[int, np.ndarray] = field(default_factory=dict)
    totals: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)
    reference: dict[str, np.ndarray] | None = None


def _block(state: tuple, kind: str, mass: float, ctau: np.ndarray, n: int, seed: int,
           mass_index: int, channels: tuple[int, ...], block: np.ndarray,
           threads: int | None) -> dict[str, np.ndarray]:
    """Accumulators of one block of chunks; the unit of work on every executor."""
    from . import maps
    from .experiments import _flight, get, koto, lhcb

    geo = maps._geo_from_state(state)
    with maps._NUMBA_LOCK, maps._numba_threads(threads):
        if kind == "reference":
            return koto.reference_block(geo, n, seed, block)
        if geo.experiment == "lhcb":  # both parent channels (scan_block has B0 only)
            out = {}
            for c in channels:
                # what the constraints use: the displaced mu mu and the prompt quantities (no
                # displaced e+e-, no plot curve)
                tot = lhcb.run_channel(geo, c, mass, ctau, n, seed, mass_index, hists=False,
                                       chunks=block, curve=False, displaced=(_LH_MUMU,))
                out |= {f"{_LH_CHANNELS[c]}.{k}": v for k, v in _flight.strip(tot).items()}
            return out
        return get(geo.experiment).scan_block(geo, mass, ctau, n, seed, mass_index, block)


def _execute(tasks: list[tuple[tuple, tuple]], workers: int | None, scheduler: Any,
             threads: int | None, progress: Callable[[int, int], None] | None
             ) -> dict[tuple, dict[str, np.ndarray]]:
    """Run every task's blocks (locally, or on Dask) and merge each task's blocks in block
    order. ``tasks``: (key, args of :func:`_block` without block and threads); args[4] is the
    task's number of events."""
    from . import maps

    cs = engine.DEFAULT_CHUNK_SIZE
    total, done = sum(args[4] for _, args in tasks), [0]

    def tick(b: np.ndarray, n: int) -> None:
        done[0] += int(sum(min(cs, n - int(c) * cs) for c in b))
        if progress is not None:
            progress(done[0], total)

    if not tasks:
        return {}
    if workers is None and scheduler is None:
        out: dict[tuple, dict[str, np.ndarray]] = {}
        with maps._numba_threads(threads):
            for key, args in tasks:
                parts = []
                for b in engine.blocks(args[4], cs):
                    parts.append(_block(*args, b, None))
                    tick(b, args[4])
                out[key] = engine.merge(parts)
        return out
    from distributed import as_completed

    with maps.dask_client(scheduler, workers) as client:
        th = threads
        if th is None and workers is not None:
            import os

            th = max(1, (os.cpu_count() or 1) // int(workers))
        states: dict[int, Any] = {}
        pending, parts = {}, {}
        for key, args in tasks:
            sid = id(args[0])
            if sid not in states:
                states[sid] = client.scatter(args[0], broadcast=True)
            blocks = engine.blocks(args[4], cs)
            parts[key] = [None] * len(blocks)
            for j, b in enumerate(blocks):
                fut = client.submit(_block, states[sid], *args[1:], b, th, pure=False)
                pending[fut] = (key, j, b, args[4])
        try:
            for fut in as_completed(list(pending)):
                key, j, b, n = pending.pop(fut)
                parts[key][j] = fut.result()
                fut.release()
                tick(b, n)
        finally:
            if pending:
                client.cancel(list(pending))
    return {key: engine.merge(p) for key, p in parts.items()}  # block order


# ------------------------------------------------------------------------------- recast
def _ratio(a: np.ndarray, ea: np.ndarray, b: np.ndarray, eb: np.ndarray):
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(b > 0, a / np.where(b > 0, b, 1.0), np.nan)
    return r, ratio_error(a, ea, b, eb)


def _deciding(model: str, pred: np.ndarray, acc: np.ndarray, err: np.ndarray,
              limit) -> tuple[np.ndarray, np.ndarray]:
    """R = pred x acc / limit (models) or the excluded BR = limit / acc (ctau plane)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if model == "ctau":
            v = np.where(acc > 0, limit / np.where(acc > 0, acc, 1.0), np.inf)
            e = np.where(acc > 0, v * err / np.where(acc > 0, acc, 1.0), np.nan)
            return np.where(np.isfinite(limit), v, np.nan), e
        r = pred * acc / limit
        return r, np.abs(pred * err / limit)


def reach(
    model: str = "seed",
    masses: float | Sequence[float] | np.ndarray = (10.0, 50.0, 100.0, 200.0),
    couplings: float | Sequence[float] | np.ndarray = (1e-3, 1e-2, 1e-1),
    *,
    experiments: Sequence[str] | None = None,
    koto_data: Sequence[str] | None = None,
    constraints: Sequence[str | Path] | None = None,
    n_events: int | dict[str, int] | None = None,
    seed: int = 1,
    workers: int | None = None,
    scheduler: Any = None,
    threads: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    **options: str,
) -> ReachResult:
    """Which published results exclude each point of a (m_phi, coupling) plane.

    Parameters
    ----------
    model : ``"seed"`` (couplings = eps_q; eps_l from (g-2)_mu at each mass), ``"higgs"``
        (couplings = sin^2 theta) or ``"ctau"`` (couplings = c tau [mm]; the result is the
        production BR each experiment excludes).
    masses : phi masses [MeV], strictly increasing, 0 < m < 987.4 MeV (2 m_K+).
    couplings : strictly increasing, > 0 (sin^2 theta <= 1; c tau finite).
    experiments : subset of ``EXPERIMENTS`` (default: all whose geometry is in this kotosim).
    koto_data : KOTO data sets, subset of ``("2015", "2016", "2021")`` (default all).
    constraints : constraint names or files to use instead of the shipped ones of
        ``experiments`` (e.g. a copied file with a changed number).
    n_events : parent decays simulated per mass, experiment and channel: one number for all,
        or a dict per experiment; default ``DEFAULT_EVENTS``.
    seed : master seed (chunk seeds from seed, experiment, channel, mass index, chunk).
    workers, scheduler : run on a local Dask cluster of ``workers`` processes, or on the
        scheduler at this address; threads : numba threads. None of them changes the result.
    progress : called as ``progress(events_done, events_total)``.
    options : :class:`kotosim.model.ScalarModel` treatment options.
    """
    from .experiments import _flight
    from .experiments import koto as koto_mod
    from .kernels import flight as F
    from .maps import _geo_state, check_scan_masses
    from .model import MASS_MAX

    if model not in MODELS:
        raise ValueError(f"model '{model}' is unknown: allowed {', '.join(MODELS)}")
    m = check_scan_masses(masses)
    if np.any(m <= 0) or np.any(m >= MASS_MAX):
        bad = m[(m <= 0) | (m >= MASS_MAX)][0]
        raise ValueError(f"masses: {bad:g} MeV: allowed 0 < m_phi < {MASS_MAX:.1f} MeV (2 m_K+, "
                         "the range of the scalar model)")
    cpl = np.atleast_1d(np.asarray(couplings, dtype=float))
    name = {"seed": "eps_q", "higgs": "sin^2 theta", "ctau": "c tau"}[model]
    if cpl.ndim != 1 or cpl.size == 0:
        raise ValueError(f"couplings: give one or more values of {name}")
    if not np.all(np.isfinite(cpl)) or np.any(cpl <= 0):
        bad = cpl[~np.isfinite(cpl) | (cpl <= 0)][0]
        raise ValueError(f"couplings: {name} = {bad:g}: must be finite and > 0")
    if np.any(np.diff(cpl) <= 0):
        raise ValueError(f"couplings: {name} values must be strictly increasing")
    if model == "higgs" and np.any(cpl > 1):
        raise ValueError(f"couplings: sin^2 theta = {cpl[cpl > 1][0]:g}: must be <= 1")
    events = _events(n_events)
    cons = _select(experiments, koto_data, constraints)
    notes: list[str] = []
    grid = model_grid(model, m, cpl, **options)

    # ---- simulation units: one per experiment geometry (KOTO: per variant)
    units: dict[str, _Unit] = {}
    c_unit: dict[str, str] = {}
    for cname, c in cons.items():
        variant = None
        if c.method == "koto_events":
            variant = _koto_variant(c, notes)
        key = c.experiment + (f":{variant}" if variant else "")
        if key not in units:
            units[key] = _Unit(key, load_geometry(c.experiment, variant),
                               np.zeros(m.size, bool), [])
        u = units[key]
        applies = _applies(c, m)
        u.masks |= applies
        u.extras += _extras(c)
        if c.method in ("displaced_limit_scaled", "prompt_window"):
            ch = _LH_CHANNELS.index(c.strings["channel"])
            u.channels[ch] = u.channels.get(ch, np.zeros(m.size, bool)) | applies
        c_unit[cname] = key
    tasks: list[tuple[tuple, tuple]] = []
    states = {}
    for key, u in units.items():
        u.extras = sorted(set(u.extras))
        states[key] = _geo_state(u.geo)
        n = events.get(u.geo.experiment, _DEFAULT_OTHER)
        if u.geo.experiment == "koto":
            tasks.append(((key, -1), (states[key], "reference", 0.0, np.array([math.inf]), n,
                                      int(seed), 0, ())))
        for i in np.flatnonzero(u.masks):
            ct = np.concatenate([grid.ctau[i], u.extras])
            chs = tuple(sorted(ch for ch, mk in u.channels.items() if mk[i]))
            tasks.append(((key, int(i)), (states[key], "mass", float(m[i]), ct, n, int(seed),
                                          int(i), chs)))
    totals = _execute(tasks, workers, scheduler, threads, progress)
    for (key, i), tot in totals.items():
        if i < 0:
            units[key].reference = tot
        else:
            units[key].totals[i] = tot

    # ---- the recast of every constraint, simulation and one-formula
    nm, nc = grid.ctau.shape
    values: dict[tuple[str, str], np.ndarray] = {}
    errors: dict[tuple[str, str], np.ndarray] = {}
    koto_br: dict[str, dict[str, np.ndarray]] = {"simulation": {}, "one_formula": {}}
    koto_br_err: dict[str, np.ndarray] = {}
    bands: dict[str, dict[str, tuple[float, float, float, float]]] = {}
    for cname, c in cons.items():
        u = units[c_unit[cname]]
        geo = u.geo
        vs = {meth: np.full((nm, nc), np.nan) for meth in METHODS}
        es = {meth: np.full((nm, nc), np.nan) for meth in METHODS}
        for i in np.flatnonzero(_applies(c, m)):
            tot = u.totals[i]
            mass = float(m[i])
            ct = grid.ctau[i]
            ext = {x: nc + k for k, x in enumerate(u.extras)}
            if c.method == "koto_events":
                a, e, _, _ = koto_mod.acceptances(tot)
                r_acc, r_err, _, _ = koto_mod.acceptances(u.reference)
                ratio, rerr = _ratio(a, e, np.full_like(a, r_acc[0]), np.full_like(a, r_err[0]))
                sim, sim_e = ratio[:nc], rerr[:nc]
                form = ratio[ext[math.inf]] * analytic.survival(
                    mass, ct, geo["analytic.length"], geo["analytic.momentum"])
                pred = grid.prod["kl"][i]
                limit = c.br_limit()
                if model != "ctau":  # BR(K_L -> pi0 phi; KOTO) needs a model's BR
                    for meth, x in (("simulation", sim), ("one_formula", form)):
                        koto_br[meth].setdefault(cname, np.full((nm, nc), np.nan))[i] = pred * x
                    koto_br_err.setdefault(cname, np.full((nm, nc), np.nan))[i] = pred * sim_e
            elif c.method == "stable_limit_scaled":
                from .experiments import get

                row = get(geo.experiment).scan_finish(geo, mass, np.concatenate(
                    [ct, u.extras]), tot, None)
                a, e = row["acceptance"], row["error"]
                cref = c.reference_tau * C.C_LIGHT
                j = ext[cref]
                sim, sim_e = _ratio(a[:nc], e[:nc], np.full(nc, a[j]), np.full(nc, e[j]))
                L, p = geo["analytic.length"], _formula_momentum(geo, mass)
                form = (analytic.survival(mass, ct, L, p)
                        / analytic.survival(mass, np.array([cref]), L, p)[0])
                pred = grid.prod["kplus"][i]
                limit = float(c.table.at(mass, c.reference_tau))
            elif c.method == "expected_events":
                sim, sim_e, form = _charm_events(geo, mass, ct, tot, grid, i, u.extras)
                pred, limit = np.ones(nc), c.numbers["events_limit"]
            else:  # LHCb
                ch = c.strings["channel"]
                sub = {k.split(".", 1)[1]: v for k, v in tot.items() if k.startswith(ch + ".")}
                if c.method == "displaced_limit_scaled":
                    a, e = _flight.quantity(sub, F.Q_DAU + _LH_MUMU, False)  # mu mu
                    cref = c.reference_tau * C.C_LIGHT
                    l1 = geo["selection.displaced_min"]
                    l2 = geo.volumes["signal"][0].params[1]  # VELO region z2 [mm]
                    form = (analytic.decay_in(mass, ct, l1, l2 - l1, geo["analytic.momentum"])
                            / analytic.decay_in(mass, np.array([cref]), l1, l2 - l1,
                                                geo["analytic.momentum"])[0])
                    pred = grid.prod["b0" if ch == "b0_kstar0" else "bplus"][i]
                    pred = pred * (grid.decay["mumu"][i] if model != "ctau" else 1.0)
                    limit = float(c.table.at(mass, c.reference_tau))
                else:
                    a, e = _flight.quantity(sub, F.Q_PROMPT_DAU, False)  # prompt, ee in eta
                    cref = CT_PROMPT
                    form = analytic.decay_in(mass, ct, 0.0, geo["analytic.length"],
                                             geo["analytic.momentum"])
                    pred = grid.prod["b0"][i] * (grid.decay["ee"][i] if model != "ctau" else 1.0)
                    limit = c.br_limit()
                j = ext[cref]
                sim, sim_e = _ratio(a[:nc], e[:nc], np.full(nc, a[j]), np.full(nc, e[j]))
            for meth, acc, err in (("simulation", sim, sim_e),
                                   ("one_formula", form, np.zeros(nc))):
                vs[meth][i], es[meth][i] = _deciding(model, pred, acc, err, limit)
        for meth in METHODS:
            values[(cname, meth)], errors[(cname, meth)] = vs[meth], es[meth]
        if c.method == "koto_events" and model != "ctau":
            b: dict[str, tuple[float, float, float, float]] = {}
            if c.band is not None:
                b["published"] = (c.band["lo68"], c.band["hi68"], c.band["lo95"],
                                  c.band["hi95"])
            if c.numbers["observed"] > 0:
                ses, nobs, bkg = c.numbers["ses"], int(c.numbers["observed"]), \
                    c.numbers["background"]
                lo68, hi68 = poisson_interval(nobs, bkg, math.erf(1 / math.sqrt(2)))  # 1 sigma
                lo95, hi95 = poisson_interval(nobs, bkg, 0.95)
                b["from_data"] = (lo68 * ses, hi68 * ses, lo95 * ses, hi95 * ses)
            if b:
                bands[cname] = b
    from . import __version__

    config = {"model": model, "masses_MeV": m.tolist(), "couplings": cpl.tolist(),
              "coupling": _COUPLING_LABEL[model][0],
              "n_events": {u.geo.experiment: events.get(u.geo.experiment, _DEFAULT_OTHER)
                           for u in units.values()}, "seed": int(seed),
              "chunk_size": engine.DEFAULT_CHUNK_SIZE, "options": dict(options),
              "constraints": {k: {"file": c.path, "source": c.source, "method": c.method,
                                  "cl": c.cl, "experiment": c.experiment,
                                  "unit": c_unit[k]} for k, c in cons.items()},
              "eps_l": "(g-2)_mu, Delta a_mu = 27.4e-10 (arXiv:2001.06522)"
              if model == "seed" else "", "version": __version__, "notes": notes}
    return ReachResult(model, m, cpl, grid, cons, values, errors, koto_br, koto_br_err, bands,
                       notes, config)


#: Default parent decays per mass and channel, in whole chunks of the engine (2^14 events
#: each), chosen by the MC error they leave on the deciding quantity R next to the exclusion
#: edges of the seed plane (median relative error where 0.5 < R < 2; printed by
#: validation/benchmark_reach.py): KOTO 12 chunks (196,608) -> ~2.5% (its acceptance is
#: ~1e-2 per K_L decay); NA62 6 (98,304) -> ~1.2%; E949 2 (32,768) -> ~0.9% (their recast is
#: a ratio of acceptances, with other uncertainties of several per cent); CHARM 6 (98,304 for
#: each of five parents) -> ~5.5%; LHCb 3 (49,152; acceptances O(0.1-1) per B) -> ~1% prompt
#: e+e-, ~16% displaced mu mu. Pass n_events (or --events) for more.
DEFAULT_EVENTS = {k: n * engine.DEFAULT_CHUNK_SIZE for k, n in
                  {"koto": 12, "na62": 6, "e949": 2, "charm": 6, "lhcb": 3}.items()}
_DEFAULT_OTHER = 200_000


def _events(n_events) -> dict[str, int]:
    if n_events is None:
        return dict(DEFAULT_EVENTS)
    if isinstance(n_events, dict):
        out = dict(DEFAULT_EVENTS)
        for k, v in n_events.items():
            if k not in EXPERIMENTS:
                raise ValueError(f"n_events: experiment '{k}' is unknown: allowed "
                                 f"{', '.join(EXPERIMENTS)}")
            out[k] = _whole(v)
        return out
    n = _whole(n_events)
    return dict.fromkeys(EXPERIMENTS, n)


def _whole(v) -> int:
    n = int(v)
    if n < 1 or n != v:
        raise ValueError(f"n_events = {v}: must be a whole number >= 1")
    return n


def _select(experiments, koto_data, constraints) -> dict[str, Constraint]:
    """The constraints of a run (validated), keyed by name."""
    have = set(available_geometries())
    if constraints is not None:
        out = {}
        for item in constraints:
            c = load_constraint(item)
            if c.experiment not in have:
                raise ValueError(f"{c.path}: key 'experiment' = {c.experiment!r}: no such "
                                 f"geometry in this kotosim (allowed {', '.join(sorted(have))})")
            if c.name in out:
                raise ValueError(f"constraints: '{c.name}' given twice")
            out[c.name] = c
        if not out:
            raise ValueError("constraints: give at least one constraint")
        return out
    if experiments is None:
        exps = [e for e in EXPERIMENTS if e in have]
    else:
        exps = list(experiments)
        if not exps:
            raise ValueError(f"experiments: give at least one of {', '.join(EXPERIMENTS)}")
        for e in exps:
            if e not in EXPERIMENTS:
                raise ValueError(f"experiment '{e}' is unknown: allowed {', '.join(EXPERIMENTS)}")
            if e not in have:
                raise ValueError(f"experiment '{e}': its geometry is not in this kotosim "
                                 f"(available: {', '.join(sorted(have))})")
    kd = list(KOTO_DATA) if koto_data is None else list(koto_data)
    for d in kd:
        if d not in KOTO_DATA:
            raise ValueError(f"koto data set '{d}' is unknown: allowed {', '.join(KOTO_DATA)}")
    if not kd:
        raise ValueError(f"koto data: give at least one of {', '.join(KOTO_DATA)}")
    names = []
    for e in exps:
        names += [KOTO_DATA[d] for d in kd] if e == "koto" else _SHIPPED[e]
    return {nm: load_constraint(nm) for nm in names}


def _koto_variant(c: Constraint, notes: list[str]) -> str | None:
    """The geometry variant of a KOTO data set, or its fallback (with a note) if this
    kotosim's koto.toml does not have it."""
    from .geometry import GeometryError

    v = c.strings["variant"] or None
    if v is None:
        return None
    try:
        load_geometry("koto", v)
        return v
    except GeometryError:
        fb = c.strings["fallback_variant"] or None
        notes.append(f"{c.title}: KOTO geometry variant '{v}' is not in this kotosim; using "
                     f"{repr(fb) if fb else 'the default layout'} instead")
        return fb


def _applies(c: Constraint, masses: np.ndarray) -> np.ndarray:
    """Masses [MeV] at which a constraint can say something (production open, limit known)."""
    if c.method == "koto_events":
        return masses < C.M_KL - C.M_PI0
    if c.method == "expected_events":
        return masses < C.M_BPLUS - C.M_KPLUS
    if c.method == "prompt_window":
        return (masses >= c.numbers["m_min"]) & (masses < c.numbers["m_max"])
    ok = np.isfinite(c.table.at(masses, c.reference_tau))
    if c.method == "stable_limit_scaled":
        ok &= masses < C.M_KPLUS - C.M_PIPLUS
    return ok


def _extras(c: Constraint) -> list[float]:
    """c tau values [mm] a constraint needs besides the model's: its reference lifetime."""
    if c.method == "koto_events":
        return [math.inf]
    if c.method == "stable_limit_scaled":
        return [c.reference_tau * C.C_LIGHT, math.inf]
    if c.method == "expected_events":
        return [CT_LONG]
    if c.method == "displaced_limit_scaled":
        return [c.reference_tau * C.C_LIGHT]
    return [CT_PROMPT]


def _formula_momentum(geo: Geometry, mass: float) -> float:
    """The p [MeV] of the one-formula estimate: the geometry file's ``analytic.momentum``, or,
    for a source at rest (E949: K+ -> pi+ phi at rest), the experiment module's
    ``phi_momentum(mass)`` (two-body momentum)."""
    if "analytic.momentum" in geo.values:
        return geo["analytic.momentum"]
    import importlib

    mod = importlib.import_module(f"kotosim.experiments.{geo.experiment}")
    if not hasattr(mod, "phi_momentum"):
        raise ValueError(f"{geo.path}: key 'analytic.momentum' is missing (needed for the "
                         "one-formula estimate)")
    return float(mod.phi_momentum(mass))


def _charm_events(geo: Geometry, mass: float, ct: np.ndarray, tot: dict[str, np.ndarray],
                  grid: ModelGrid, i: int, extras: list[float]):
    """Expected CHARM events (per unit production BR for the ctau plane), its MC error and the
    one-formula version, over the couplings of mass index i."""
    from .experiments import _flight, charm
    from .kernels import flight as F

    nc = ct.size
    jl = nc + extras.index(CT_LONG)
    pot = geo["normalisation.pot"]
    prod_key = {"kplus": "kplus", "kminus": "kplus", "kl": "kl", "bplus": "bplus", "b0": "b0"}
    ev, var, form = np.zeros(nc), np.zeros(nc), np.zeros(nc)
    ana = analytic.decay_in(mass, ct, geo["analytic.start"], geo["analytic.length"],
                            geo["analytic.momentum"])
    ana_long = float(analytic.decay_in(mass, np.array([CT_LONG]), geo["analytic.start"],
                                       geo["analytic.length"], geo["analytic.momentum"])[0])
    for c in charm.open_parents(mass):
        key = charm.PARENTS[c][0]
        sub = {k.split(".", 1)[1]: v for k, v in tot.items() if k.startswith(key + ".")}
        # parents per proton: charm.parent_yield where it exists (computed kaon yields),
        # else the geometry file's yield_per_pot
        y = (charm.parent_yield(geo, c) if hasattr(charm, "parent_yield")
             else geo[f"parents.{key}.yield_per_pot"])
        br_p = grid.prod[prod_key[key]][i]
        d, de, df = np.zeros(nc), np.zeros(nc), np.zeros(nc)
        for k, (dk, _) in enumerate(charm.DECAYS):
            a, e = _flight.quantity(sub, F.Q_DAU + k, False)
            f = grid.decay[dk][i] * geo[f"detection.{dk}.efficiency"]
            d += f * a[:nc]
            de += f * e[:nc]  # channels share events: linear sum (as kotosim.experiments.charm)
            g = a[jl] / ana_long if ana_long > 0 else 0.0
            df += f * g * ana
        ev += pot * y * br_p * d
        var += (pot * y * br_p * de) ** 2
        form += pot * y * br_p * df
    return ev, np.sqrt(var), form


# ------------------------------------------------------------------------------- contours
def _crossings(x: np.ndarray, y: np.ndarray, level: float) -> list[tuple[float, int]]:
    """Points where y crosses ``level`` along x (log-log interpolation; NaN counts as below):
    (x, +1) where y rises through the level with x, (x, -1) where it falls."""
    out = []
    with np.errstate(divide="ignore", invalid="ignore"):
        yy = np.where(np.isfinite(y), y, 0.0)
        above = yy >= level
        for j in np.flatnonzero(above[1:] != above[:-1]):
            y0, y1, x0, x1 = yy[j], yy[j + 1], x[j], x[j + 1]
            if y0 > 0 and y1 > 0:
                t = (math.log(level) - math.log(y0)) / (math.log(y1) - math.log(y0))
            else:
                t = (level - y0) / (y1 - y0)
            xc = math.exp(math.log(x0) + t * (math.log(x1) - math.log(x0)))
            out.append((xc, 1 if y1 >= level else -1))
    return out


def contours(values: np.ndarray, masses: np.ndarray, couplings: np.ndarray,
             level: float = 1.0) -> list[tuple[int, float, float, int]]:
    """Edges of the region ``values >= level`` along the coupling axis at every mass:
    rows (mass index, mass [MeV], coupling, direction), direction +1 where the region starts
    (lower edge) and -1 where it ends (upper edge) as the coupling grows."""
    rows = []
    for i, mass in enumerate(masses):
        for xc, d in _crossings(couplings, values[i], level):
            rows.append((i, float(mass), xc, d))
    return rows


# ------------------------------------------------------------------------------- output
def write_reach_root(res: ReachResult, path: str | Path) -> Path:
    """ROOT file (atomic). Per constraint directory ``<name>/``: ``simulation`` and
    ``one_formula`` TH2D of the deciding quantity (x = m_phi [MeV], y = coupling; sumw2 = MC
    error^2), ``excluded_simulation``/``excluded_one_formula`` (0/1, models). ``koto_band/``:
    BR_KOTO TH2D per KOTO data set and method. ``model/ctau_mm``: c tau over the plane.
    ``contours`` TTree: constraint index, method (0 simulation, 1 one-formula), kind
    (0 exclusion edge, 1..4 band lo68/hi68/lo95/hi95 of the published band, 5..8 of the band
    from the data), mass_MeV, coupling, direction. ``config``: JSON (constraint indices,
    sources, notes)."""
    import hist
    import uproot

    from .maps import ctau_edges, mass_edges

    names = list(res.constraints)
    xe, ye = mass_edges(res.masses), ctau_edges(res.couplings)
    key, _, root_lab = _COUPLING_LABEL[res.model]

    def th2(vals, name, title):
        h = hist.Hist(hist.axis.Variable(xe, name="mass", label="m_{#phi} [MeV]"),
                      hist.axis.Variable(ye, name=key, label=root_lab),
                      storage=hist.storage.Weight(), name=name, label=title)
        h.title = title
        v = h.view(flow=False)
        v["value"], v["variance"] = np.where(np.isfinite(vals), vals, 0.0), 0.0
        return h

    rows = {k: [] for k in ("constraint", "method", "kind", "mass_MeV", "coupling",
                            "direction")}

    def add(ci, mi, kind, pts):
        for _, mass, cp, d in pts:
            for k, v in zip(rows, (ci, mi, kind, mass, cp, d), strict=True):
                rows[k].append(v)

    with atomic_path(path) as tmp, uproot.recreate(tmp) as f:
        for ci, nm in enumerate(names):
            for mi, meth in enumerate(METHODS):
                h = res.hist(nm, meth)
                f[f"{nm}/{meth}"] = h
                if res.model != "ctau":
                    f[f"{nm}/excluded_{meth}"] = res.hist(nm, meth, "excluded")
                    add(ci, mi, 0, contours(res.values[(nm, meth)], res.masses, res.couplings))
            if nm in res.koto_br.get("simulation", {}):
                for mi, meth in enumerate(METHODS):
                    br = res.koto_br[meth][nm]
                    f[f"koto_band/{nm}_{meth}"] = th2(
                        br, f"{nm}_{meth}", f"{res.constraints[nm].title}: BR(K_L -> pi0 phi) "
                        f"x A(c tau)/A(pi0 nu nubar) ({meth})")
                    for off, src in ((1, "published"), (5, "from_data")):
                        edges = res.bands.get(nm, {}).get(src)
                        if edges is None:
                            continue
                        for k, lev in enumerate(edges):
                            if lev > 0:
                                add(ci, mi, off + k, contours(br, res.masses, res.couplings,
                                                              lev))
        f["model/ctau_mm"] = th2(res.grid.ctau, "ctau_mm", "c tau of phi [mm]")
        t = f.mktree("contours", {"constraint": np.int32, "method": np.int32,
                                  "kind": np.int32, "mass_MeV": np.float64,
                                  "coupling": np.float64, "direction": np.int32},
                     title="edges of excluded regions and of the KOTO band along the coupling "
                           "at each mass")
        t.extend({"constraint": np.array(rows["constraint"], np.int32),
                  "method": np.array(rows["method"], np.int32),
                  "kind": np.array(rows["kind"], np.int32),
                  "mass_MeV": np.array(rows["mass_MeV"], np.float64),
                  "coupling": np.array(rows["coupling"], np.float64),
                  "direction": np.array(rows["direction"], np.int32)})
        f["config"] = json.dumps(res.config | {"constraint_index": names,
                                               "bands": {k: v for k, v in res.bands.items()}})
    return Path(path)


# one colour per shipped result in the combined figure
_COLOURS = {"na62_2017": "#1f77b4", "na62_2016_2022": "#08306b", "e949": "#17becf",
            "charm": "#2ca02c", "lhcb_b0_kstar0_mumu": "#9467bd",
            "lhcb_bplus_kplus_mumu": "#e377c2", "lhcb_b0_kstar0_ee": "#bcbd22"}


def _ydata(res: ReachResult) -> np.ndarray:
    return res.couplings / 1000.0 if res.model == "ctau" else res.couplings


def plot_reach(res: ReachResult, path: str | Path) -> Path:
    """The combined figure (models): for each result the excluded region from the simulation
    (shaded, solid edge) and the one-formula edge (dashed); the KOTO-favoured band (published
    and from the data) from the simulation (filled) and the formula (dashed). For the ``ctau``
    plane: one panel per result with the excluded BR. PNG, written atomically."""
    from .plotting import _style

    plt, _ = _style()
    y = _ydata(res)
    mm, yy = np.meshgrid(res.masses, y, indexing="ij")
    if res.model == "ctau":
        return _plot_ctau(res, path, plt)
    fig, ax = plt.subplots(figsize=(12, 9))
    handles = []
    from matplotlib.patches import Patch

    for nm, c in res.constraints.items():
        if c.method == "koto_events":
            continue
        col = _COLOURS.get(nm, "0.4")
        sim = np.nan_to_num(res.values[(nm, "simulation")])
        form = np.nan_to_num(res.values[(nm, "one_formula")])
        if res.masses.size > 1 and y.size > 1:
            if np.any(sim >= 1):
                ax.contourf(mm, yy, sim, levels=[1.0, np.inf], colors=[col], alpha=0.25)
                ax.contour(mm, yy, sim, levels=[1.0], colors=[col], linewidths=2.4)
            if np.any(form >= 1):
                ax.contour(mm, yy, form, levels=[1.0], colors=[col], linewidths=1.8,
                           linestyles="dashed")
        handles.append(Patch(facecolor=col, alpha=0.45, edgecolor=col, lw=2,
                             label=f"{c.title} ({100 * c.cl:g}% CL)"))
    for nm, c in res.constraints.items():
        if c.method != "koto_events":
            continue
        sim = np.where(res.excluded(nm), 1.0, 0.0)
        if res.masses.size > 1 and y.size > 1 and sim.any():
            ax.contour(mm, yy, res.values[(nm, "simulation")], levels=[1.0],
                       colors=[_KOTO_LINE[nm] if nm in _KOTO_LINE else "#8c564b"],
                       linewidths=2.2)
            ax.contour(mm, yy, np.nan_to_num(res.values[(nm, "one_formula")]), levels=[1.0],
                       colors=[_KOTO_LINE.get(nm, "#8c564b")], linewidths=1.4,
                       linestyles="dashed")
        handles.append(plt.Line2D([], [], color=_KOTO_LINE.get(nm, "#8c564b"), lw=2.2,
                                  label=f"{c.title}: excluded above ({100 * c.cl:g}% CL)"))
    for nm, b in res.bands.items():
        br = np.nan_to_num(res.koto_br["simulation"][nm])
        brf = np.nan_to_num(res.koto_br["one_formula"][nm])
        if "published" in b and res.masses.size > 1 and y.size > 1:
            lo68, hi68, lo95, hi95 = b["published"]
            ax.contourf(mm, yy, br, levels=[lo95, lo68, hi68, hi95],
                        colors=["#f4a6a6", "#d62728", "#f4a6a6"], alpha=0.85)
            ax.contour(mm, yy, brf, levels=[lo95, hi95], colors="#7f0000",
                       linestyles="dashed", linewidths=1.4)
            handles.append(Patch(facecolor="#d62728", label="KOTO excess 68% (95% light), "
                                 "arXiv:1909.11111"))
        if "from_data" in b and res.masses.size > 1 and y.size > 1:
            lo68, hi68, _, _ = b["from_data"]
            ax.contour(mm, yy, br, levels=[lo68, hi68], colors="#d62728", linewidths=1.5,
                       linestyles="dotted")
            handles.append(plt.Line2D([], [], color="#d62728", lw=1.5, ls="dotted",
                                      label="KOTO 2016-18 final (3 ev., b = 1.22): 68% band"))
    handles.append(plt.Line2D([], [], color="k", lw=2.2, label="simulation (kotosim)"))
    handles.append(plt.Line2D([], [], color="k", lw=1.6, ls="dashed",
                              label=r"one-formula $\epsilon\,BR\,e^{-Lm/(p\tau)}$"))
    ax.set_yscale("log")
    ax.set_xlim(res.masses[0], res.masses[-1])
    ax.set_ylim(y[0], y[-1])
    ax.set_xlabel(r"$m_\phi$ [MeV]", fontsize=20)
    ax.set_ylabel(_COUPLING_LABEL[res.model][1], fontsize=20)
    ax.tick_params(labelsize=16)
    title = (r"Light scalar, $\epsilon_\ell$ from $(g-2)_\mu$ (arXiv:2001.06522)"
             if res.model == "seed" else r"Higgs-mixing scalar")
    ax.set_title(title, fontsize=18)
    ax.legend(handles=handles, fontsize=14, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              frameon=False)
    with atomic_path(path, ".png") as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)
    return Path(path)


_KOTO_LINE = {"koto_2015": "#8c564b", "koto_2016_2018": "#ff7f0e", "koto_2021": "#5a5a5a"}


def plot_constraint(res: ReachResult, name: str, path: str | Path) -> Path:
    """Colour map of one result's deciding quantity over the plane with its exclusion edge
    (simulation solid, one-formula dashed). PNG, atomic."""
    from matplotlib.colors import LogNorm

    from .maps import ctau_edges, mass_edges
    from .plotting import _style

    plt, _ = _style()
    c = res.constraints[name]
    v = res.values[(name, "simulation")]
    ok = np.isfinite(v) & (v > 0)
    fig, ax = plt.subplots(figsize=(9, 7))
    ye = ctau_edges(res.couplings) / (1000.0 if res.model == "ctau" else 1.0)
    y = _ydata(res)
    if ok.any():
        hi = float(np.max(v[ok & np.isfinite(v)])) if np.isfinite(v[ok]).any() else 1.0
        lo = float(np.min(v[ok]))
        norm = LogNorm(vmin=max(lo, hi * 1e-12), vmax=hi) if hi > lo else None
        mesh = ax.pcolormesh(mass_edges(res.masses), ye, np.ma.masked_where(~ok, v).T,
                             norm=norm, cmap="viridis", shading="flat")
        fig.colorbar(mesh, ax=ax).set_label(quantity_label(res, name))
        if res.model != "ctau" and res.masses.size > 1 and y.size > 1:
            mm, yy = np.meshgrid(res.masses, y, indexing="ij")
            for meth, ls in (("simulation", "solid"), ("one_formula", "dashed")):
                z = np.nan_to_num(res.values[(name, meth)])
                if np.any(z >= 1) and np.any(z < 1):
                    ax.contour(mm, yy, z, levels=[1.0], colors="w", linestyles=ls,
                               linewidths=2)
    ax.set_yscale("log")
    ax.set_xlabel(r"$m_\phi$ [MeV]")
    ax.set_ylabel(_COUPLING_LABEL[res.model][1])
    ax.set_title(f"{c.title} ({c.source.split(',')[-1].strip()}): white = excluded edge, "
                 "solid simulation, dashed one-formula" if res.model != "ctau" else
                 f"{c.title}: {quantity_label(res, name)}", fontsize=11)
    with atomic_path(path, ".png") as tmp:
        fig.savefig(tmp, dpi=90, bbox_inches="tight", format="png")
    plt.close(fig)
    return Path(path)


def _plot_ctau(res: ReachResult, path, plt) -> Path:
    from matplotlib.colors import LogNorm

    from .maps import ctau_edges, mass_edges

    names = list(res.constraints)
    ncol = min(3, len(names))
    nrow = -(-len(names) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(7 * ncol, 5.5 * nrow), squeeze=False,
                             layout="constrained")
    ye = ctau_edges(res.couplings) / 1000.0
    y = _ydata(res)
    mm, yy = np.meshgrid(res.masses, y, indexing="ij")
    for ax, nm in zip(axes.flat, names, strict=False):
        v = res.values[(nm, "simulation")]
        ok = np.isfinite(v) & (v > 0) & (v < 1)
        if ok.any():
            mesh = ax.pcolormesh(mass_edges(res.masses), ye, np.ma.masked_where(~ok, v).T,
                                 norm=LogNorm(vmin=max(v[ok].min(), 1e-14), vmax=v[ok].max()),
                                 cmap="viridis_r", shading="flat")
            fig.colorbar(mesh, ax=ax).set_label("excluded BR", fontsize=12)
            if res.masses.size > 1 and y.size > 1:
                lev = 10.0 ** np.arange(math.floor(math.log10(v[ok].min())), 0)
                f = np.where(np.isfinite(res.values[(nm, "one_formula")]),
                             res.values[(nm, "one_formula")], np.nan)
                if lev.size:
                    ax.contour(mm, yy, np.where(ok, v, np.nan), levels=lev, colors="w",
                               linewidths=1.2)
                    ax.contour(mm, yy, f, levels=lev, colors="w", linewidths=1.0,
                               linestyles="dashed")
        ax.set_yscale("log")
        ax.set_title(f"{res.constraints[nm].title}: {quantity_label(res, nm)}", fontsize=11)
        ax.set_xlabel(r"$m_\phi$ [MeV]")
        ax.set_ylabel(r"$c\tau_\phi$ [m]")
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    fig.suptitle("BR excluded per result; contours every decade: solid simulation, dashed "
                 "one-formula", fontsize=14)
    with atomic_path(path, ".png") as tmp:
        fig.savefig(tmp, dpi=80, bbox_inches="tight", format="png")
    plt.close(fig)
    return Path(path)
