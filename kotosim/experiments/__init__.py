"""Experiment definitions: each module registers its geometry schema and provides the
functions of :class:`Experiment`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import constants as C
from . import _flight, charm, e949, koto, lhcb, na62


@dataclass(frozen=True)
class Experiment:
    """How to simulate one experiment.

    simulate(geo, mass, ctau, n_events, seed, **options) -> Result
        the full simulation (``kotosim.simulate``);
    max_mass(geo) -> float
        the largest φ mass [MeV] its production channel allows (``mass_note`` says why);
    plot(result, path, index) -> Path
        its standard figure for cτ index ``index``;
    scan_block(geo, mass, ctau, n_events, seed, mass_index, block) -> dict of arrays
        accumulators of one block of chunks (:func:`kotosim.engine.blocks`), no histograms;
        blocks merged in order with :func:`kotosim.engine.merge` give the full run;
    scan_finish(geo, mass, ctau, totals, ref) -> dict of arrays over cτ
        ``acceptance``, ``error``, ``analytic``, ``sim_over_analytic`` (+ ``_error``) and,
        with a reference channel, ``ratio_reference`` (+ ``_error``);
    reference_block(geo, n_events, seed, block) -> dict, or None
        one block of the mass-independent reference channel (KOTO: pi0 nu nubar).
    """

    name: str
    simulate: Callable[..., Any]
    max_mass: Callable[[Any], float]
    mass_note: str
    plot: Callable[..., Any]
    scan_block: Callable[..., dict]
    scan_finish: Callable[..., dict]
    reference_block: Callable[..., dict] | None = None


def _koto_plot(result, path, index=0):
    from ..plotting import plot_ptz

    return plot_ptz(result, path, index)


def _flight_experiment(mod) -> Experiment:
    """An experiment run by the shared decay-in-flight kernel (module with ``simulate``,
    ``scan_block``, ``scan_finish``, ``MAX_MASS`` [MeV] and ``MASS_NOTE``)."""
    return Experiment(mod.__name__.rsplit(".", 1)[1], mod.simulate,
                      lambda geo, m=mod.MAX_MASS: m, mod.MASS_NOTE, _flight.plot,
                      mod.scan_block, mod.scan_finish, None)


_REGISTRY: dict[str, Experiment] = {
    "koto": Experiment("koto", koto.simulate, lambda geo: C.M_KL - C.M_PI0,
                       "K_L -> pi0 phi needs mass < m_KL - m_pi0", _koto_plot,
                       koto.scan_block, koto.scan_finish, koto.reference_block),
    **{m.__name__.rsplit(".", 1)[1]: _flight_experiment(m) for m in (na62, lhcb, charm, e949)},
}


def get(name: str) -> Experiment:
    """The :class:`Experiment` registered under ``name``."""
    return _REGISTRY[name]


def names() -> list[str]:
    return sorted(_REGISTRY)
