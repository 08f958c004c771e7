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
from collections.abc import Callable
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


def clear_if_stale(where: Path, owned: Callable[[Path], bool]) -> bool:
    """Remove the numba cache files (.nbi, .nbc) in ``where`` for which ``owned(file)`` holds
    if the digest of the kernel modules differs from the one stamped there, then stamp the
    current one; True if it removed them. Errors (a read-only location) are ignored: the
    cache is only an optimisation. Also used for the frozen kernels under validation/, which
    inline these modules."""
    try:
        if not where.is_dir():
            return False
        digest = _digest()
        stamp = where / _STAMP
        if stamp.is_file() and stamp.read_text().strip() == digest:
            return False
        for f in where.iterdir():
            if f.suffix in (".nbi", ".nbc") and owned(f):
                f.unlink(missing_ok=True)
        tmp = where / f".{_STAMP}.{os.getpid()}"
        tmp.write_text(digest + "\n")
        os.replace(tmp, stamp)
        return True
    except OSError:
        return False


def clear_stale_cache() -> bool:
    """Remove numba's cached kernels of this package if any kernel module changed since they
    were written; True if it removed them.

    numba checks a cached function against its own source file only (time stamp and size),
    not against the modules whose functions it inlined or the compilation flags it was built
    with: a kernel cached before ``rng.py``, ``kinematics.py`` or ``_flags.py`` changed would be
    loaded as it was (a reinstall keeps the old cache files). One digest over all kernel
    modules, kept next to the cache, decides for all of them."""
    try:
        where = _cache_dir()
    except OSError:
        return False
    if where is None:
        return False
    mods = {f.stem for f in _HERE.glob("*.py")}
    return clear_if_stale(where, lambda f: f.name.split(".", 1)[0] in mods)

clear_stale_cache()
