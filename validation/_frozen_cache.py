"""Stale-cache guard for the frozen kernels (``_koto_before.py``, ``_flight_before/``).

The frozen copies inline functions of the live ``kotosim.kernels`` modules (rng, kinematics,
sampling, propagation, the flags). numba checks a cached function against its own file only,
so a frozen kernel cached before one of those modules changed would be loaded as it was and
no longer be the same code as a fresh compile (seen: KOTO's frozen-kernel test then differed
in the last bits). :func:`clear` drops the numba cache files in a frozen module's
``__pycache__`` whenever the digest of the live kernel modules differs from the one stored
there -- the same rule as :func:`kotosim.kernels.clear_stale_cache`.
"""

from __future__ import annotations

from pathlib import Path

from kotosim.kernels import _STAMP, clear_if_stale

__all__ = ["clear", "_STAMP"]


def clear(module_file: str) -> bool:
    """Drop the numba caches of the frozen module ``module_file`` if the live kernels changed
    since they were written; True if it dropped them (errors ignored: only a cache)."""
    return clear_if_stale(Path(module_file).resolve().parent / "__pycache__", lambda f: True)
