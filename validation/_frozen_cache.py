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

import os
from pathlib import Path

_STAMP = "kotosim-kernels.sha256"


def clear(module_file: str) -> bool:
    """Drop the numba caches of the frozen module ``module_file`` if the live kernels changed
    since they were written; True if it dropped them. Errors are ignored (only a cache)."""
    from kotosim.kernels import _digest

    try:
        where = Path(module_file).resolve().parent / "__pycache__"
        if not where.is_dir():
            return False
        digest = _digest()
        stamp = where / _STAMP
        if stamp.is_file() and stamp.read_text().strip() == digest:
            return False
        for f in where.iterdir():
            if f.suffix in (".nbi", ".nbc"):
                f.unlink(missing_ok=True)
        tmp = where / f".{_STAMP}.{os.getpid()}"
        tmp.write_text(digest + "\n")
        os.replace(tmp, stamp)
        return True
    except OSError:
        return False
