"""Experiment definitions: each module registers its geometry schema and provides
``simulate(geo, mass, ctau, n_events, seed, **options) -> Result``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import constants as C
from . import koto


@dataclass(frozen=True)
class Experiment:
    """How to simulate one experiment: its driver and its φ mass range."""

    name: str
    simulate: Any
    max_mass: Any  # geometry -> largest φ mass [MeV]
    mass_note: str


_REGISTRY = {
    "koto": Experiment("koto", koto.simulate, lambda geo: C.M_KL - C.M_PI0,
                       "K_L -> pi0 phi needs mass < m_KL - m_pi0"),
}


def get(name: str) -> Experiment:
    """The :class:`Experiment` registered under ``name``."""
    return _REGISTRY[name]
