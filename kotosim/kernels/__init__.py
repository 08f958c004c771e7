"""Numba kernels: plain floats and arrays in, plain floats and arrays out.

Each formula is written once here and reused by every experiment:

- :mod:`kotosim.kernels.kinematics` -- two-body momenta, boosts, isotropic directions;
- :mod:`kotosim.kernels.sampling` -- exact sampling of tabulated spectra, truncated exponentials;
- :mod:`kotosim.kernels.propagation` -- ray/volume path lengths and decay-in-volume probabilities;
- :mod:`kotosim.kernels.daughters` -- phi decay products and the decay points at which detectors
  see them (exact interval sets along phi's path);
- :mod:`kotosim.kernels.koto` -- KOTO detector response, pi0 reconstruction and the event loop.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_STAMP = "kotosim-kernels.sha256"


def _digest() -> str:
    """sha256 of every kernel module's name and source (the flags in ``_flags.py`` included)."""
    h = hashlib.sha256()
    for f in sorted(_HERE.glob("*.py")):
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def _cache_dir() -> Path | None:
    """The directory numba caches this package's kernels in (numba's own locator classes,
    in numba's order: NUMBA_CACHE_DIR, the in-tree __pycache__, the user-wide cache)."""
    from numba.core.caching import CacheImpl

    probe = os.path.join(str(_HERE), "koto.py")
    for cls in CacheImpl._locator_classes:
        try:
            loc = cls.from_function(_digest, probe)
        except Exception:  # a locator that does not apply to plain files
            loc = None
        if loc is not None:
            return Path(loc.get_cache_path())
    return None


def clear_stale_cache() -> bool:
    """Remove numba's cached kernels of this package if any kernel module changed since they
    were written; True if it removed them.

    numba checks a cached function against its own source file only (time stamp and size),
    not against the modules whose functions it inlined or the compilation flags it was built
    with: a kernel cached before ``rng.py``, ``kinematics.py`` or ``_flags.py`` changed would be
    loaded as it was (a reinstall keeps the old cache files). One digest over all kernel
    modules, kept next to the cache, decides for all of them. Errors (a read-only location)
    are ignored: the cache is only an optimisation."""
    try:
        where = _cache_dir()
        if where is None or not where.is_dir():
            return False
        digest = _digest()
        stamp = where / _STAMP
        if stamp.is_file() and stamp.read_text().strip() == digest:
            return False
        mods = {f.stem for f in _HERE.glob("*.py")}
        for f in where.iterdir():
            if f.suffix in (".nbi", ".nbc") and f.name.split(".", 1)[0] in mods:
                f.unlink(missing_ok=True)
        tmp = where / f".{_STAMP}.{os.getpid()}"
        tmp.write_text(digest + "\n")
        os.replace(tmp, stamp)
        return True
    except OSError:
        return False


clear_stale_cache()
