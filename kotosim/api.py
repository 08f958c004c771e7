"""The public Python API: :func:`simulate`."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import engine
from .geometry import Geometry, load_geometry
from .result import Result

__all__ = ["simulate", "check_mass", "check_ctau"]


def check_ctau(ctau: float | Sequence[float] | np.ndarray) -> np.ndarray:
    """Validate a cτ grid [mm]: positive, finite or ``inf``; returns a 1-D float array."""
    arr = np.atleast_1d(np.asarray(ctau, dtype=float))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError("ctau: give one or more proper decay lengths")
    if np.any(np.isnan(arr)) or np.any(arr <= 0):
        bad = arr[np.isnan(arr) | (arr <= 0)][0]
        raise ValueError(f"ctau = {bad:g} mm: must be > 0 (use inf for a stable phi)")
    return arr


def check_mass(mass: float, upper: float, what: str) -> float:
    """Validate a φ mass [MeV] against the kinematic range [0, upper)."""
    m = float(mass)
    if not (math.isfinite(m) and 0.0 <= m < upper):
        raise ValueError(f"mass = {m:g} MeV: allowed 0 <= mass < {upper:.4f} MeV ({what})")
    return m


def simulate(
    experiment: str | Path | Geometry = "koto",
    mass: float = 100.0,
    ctau: float | Sequence[float] | np.ndarray = math.inf,
    n_events: int = 1_000_000,
    seed: int = 1,
    *,
    variant: str | None = None,
    overrides: Mapping[str, float] | None = None,
    reference: bool = True,
    smear: bool = True,
    hists: bool = True,
    sample_size: int = 0,
    mass_index: int = 0,
    threads: int | None = None,
    chunk_size: int = engine.DEFAULT_CHUNK_SIZE,
    progress: Callable[[int], None] | None = None,
    options: Mapping[str, Any] | None = None,
) -> Result:
    """Simulate φ production and decay at an experiment and return acceptances.

    Parameters
    ----------
    experiment : shipped geometry name (``"koto"``), path to a geometry TOML file, or a
        loaded :class:`~kotosim.geometry.Geometry`.
    mass : φ mass [MeV].
    ctau : proper decay length(s) cτ of φ [mm]; ``math.inf`` for a stable φ. Every value of
        the grid is a weight on the same events (one kinematic sample per mass).
    n_events : parent decays generated per channel.
    seed : master seed; chunk seeds derive from (seed, experiment, channel, mass_index, chunk).
    variant : a ``[variants.NAME]`` table of the geometry file (e.g. ``"run2016"`` for KOTO).
    overrides : dotted geometry keys replaced by values in internal units (MeV, mm, rad, sr).
    reference : also simulate the experiment's reference channel (KOTO: K_L -> pi0 nu nubar).
    smear : apply the detector resolution (off: reconstructed = true quantities).
    hists : fill histograms (one per cτ).
    sample_size : keep the first ``sample_size`` events as an awkward event sample.
    mass_index : index of this mass in a scan (part of the random-stream key).
    threads : numba threads (default: all cores). Results do not depend on it.
    chunk_size : events per chunk (part of the random-stream definition).
    progress : called with the number of events done after each batch of chunks.
    options : experiment-specific options (NA62 ignores them). KOTO: the phi decay BRs that
        decide its daughters, from ``model``, ``eps_q``/``eps_l`` or ``br_decay`` (keys ``ee``,
        ``mumu``, ``gammagamma``, ``pi+pi-``, ``pi0pi0``); default the Higgs-mixing BRs at that
        mass (see :func:`kotosim.experiments.koto.decay_channels`). CHARM: ``model`` (a
        :class:`kotosim.model.ScalarModel`) or ``eps_q``/``eps_l`` for a model point, else
        ``br`` (production BR, every parent) and optionally ``br_decay`` (dict with keys
        ``ee``, ``mumu``, ``gammagamma``); see :mod:`kotosim.experiments.charm`.
    """
    from .experiments import get

    geo = experiment if isinstance(experiment, Geometry) else load_geometry(
        experiment, variant, overrides)
    exp = get(geo.experiment)
    mass = check_mass(mass, exp.max_mass(geo), exp.mass_note)
    ct = check_ctau(ctau)
    n = engine.check_n_events(n_events)
    if sample_size < 0:
        raise ValueError(f"sample_size = {sample_size}: must be >= 0")
    if chunk_size < 1:
        raise ValueError(f"chunk_size = {chunk_size}: must be >= 1")
    import numba

    old = numba.get_num_threads()
    if threads is not None:
        if not 1 <= threads <= numba.config.NUMBA_NUM_THREADS:
            raise ValueError(f"threads = {threads}: allowed 1..{numba.config.NUMBA_NUM_THREADS}")
        numba.set_num_threads(threads)
    try:
        res = exp.simulate(geo, mass, ct, n, int(seed), mass_index=mass_index,
                           reference=reference, smear=smear, hists=hists,
                           sample_size=sample_size, chunk_size=chunk_size, progress=progress,
                           options=dict(options or {}))
    finally:
        numba.set_num_threads(old)
    from . import __version__

    res.config["version"] = __version__
    return res
