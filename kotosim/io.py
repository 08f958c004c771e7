"""ROOT output with uproot: event-sample TTree, TH1/TH2 with sumw2, acceptance summary.

Files are written to a temporary name in the target directory and renamed when complete, so
an interrupted or failed write never leaves a half-written file under the final name.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .result import Result

__all__ = ["write_root", "atomic_path"]


@contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix,
                               dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _ctau_label(ct: float) -> str:
    return "inf" if not math.isfinite(ct) else f"{ct:g} mm"


def write_root(result: Result, path: str | Path,
               extra: Callable[[object], None] | None = None) -> Path:
    """Write ``result`` to a ROOT file at ``path`` (atomically) and return the path.

    Contents: ``acceptance`` (TTree, one entry per cτ: ``ctau_mm`` and every acceptance with
    ``<name>_err``); ``region_fraction`` (TTree, per cτ); histograms ``ptz_<i>``,
    ``z_<i>``, ``pt_<i>``, ``egamma_<i>`` for cτ index i (TH2/TH1 with sumw2) and the
    reference channel's ``*_pinunu``; ``events`` (TTree of the event sample, if any);
    ``config`` and ``cutflow`` (JSON strings, TObjString).
    """
    import uproot

    with atomic_path(path) as tmp:
        with uproot.recreate(tmp) as f:
            acc = {"ctau_mm": result.ctau.astype(np.float64)}
            for k, v in result.acceptance.items():
                acc[k] = np.asarray(v, dtype=np.float64)
                acc[f"{k}_err"] = np.asarray(result.error[k], dtype=np.float64)
            t = f.mktree("acceptance", {k: v.dtype for k, v in acc.items()},
                         title="acceptance per ctau")
            t.extend(acc)
            if result.region_fraction:
                reg = {"ctau_mm": result.ctau.astype(np.float64)}
                reg |= {k: np.asarray(v, dtype=np.float64)
                        for k, v in result.region_fraction.items()}
                t = f.mktree("region_fraction", {k: v.dtype for k, v in reg.items()},
                             title="fraction of signal-selected events vetoed by each element")
                t.extend(reg)
            for name, hs in result.hists.items():
                for i, h in enumerate(hs):
                    label = (_ctau_label(result.ctau[i]) if not name.endswith("_pinunu")
                             else "reference")
                    base, tag = (name[:-7], "_pinunu") if name.endswith("_pinunu") else (name, "")
                    h = h.copy()
                    h.label = f"{base} ({label})"
                    f[f"{base}_{i}{tag}" if not tag else f"{base}{tag}"] = h
                    if base == "ptz":
                        zname = f"z_{i}" if not tag else "z_pinunu"
                        ptname = f"pt_{i}" if not tag else "pt_pinunu"
                        f[zname] = h.project("z")
                        f[ptname] = h.project("pt")
            if result.sample is not None and len(result.sample) > 0:
                _write_sample(f, result)
            cfg = dict(result.config)
            cfg |= {"experiment": result.experiment, "mass_MeV": result.mass,
                    "ctau_mm": [c if math.isfinite(c) else "inf" for c in result.ctau],
                    "seed": result.seed, "n_events": result.n_events,
                    "descriptions": result.descriptions}
            f["config"] = json.dumps(cfg)
            f["cutflow"] = json.dumps(result.cutflow)
            if extra is not None:
                extra(f)
    return Path(path)


def _flat_columns(arr, prefix: str = "") -> dict[str, np.ndarray]:
    import awkward as ak

    out: dict[str, np.ndarray] = {}
    fields = ak.fields(arr)
    if not fields:
        return {prefix.rstrip("_"): ak.to_numpy(arr)}
    for fld in fields:
        out |= _flat_columns(arr[fld], f"{prefix}{fld}_")
    return out


def _write_sample(f, result: Result) -> None:
    cols = _flat_columns(result.sample)
    types = {}
    for k, v in cols.items():
        v = np.ascontiguousarray(v)
        cols[k] = v
        types[k] = np.dtype((v.dtype, v.shape[1:])) if v.ndim > 1 else v.dtype
    t = f.mktree("events", types, title="event sample (true and reconstructed; weight[i] is "
                 "the signal weight for ctau index i)")
    t.extend(cols)
