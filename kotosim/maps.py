"""Acceptance maps over (m_φ, cτ): one kinematic sample per mass, streamed, reproducible,
resumable, on local threads or on a Dask cluster.

How a scan runs (DESIGN.md principles 1, 4, 5, 6):

* every mass is simulated once; every cτ of the grid is a weight on the same events;
* a mass is split into the fixed blocks of chunks of :func:`kotosim.engine.blocks`; block
  ``b`` of mass index ``i`` runs ``Experiment.scan_block(geo, mass, ctau, n, seed, i, b)``,
  whose chunk seeds derive from (seed, experiment, channel, mass index, chunk index) only;
* block results (small per-block accumulators, nothing per event) are added in block order
  with :func:`kotosim.engine.merge`, whatever executor computed them and in whatever order
  they finished: the maps are bit-identical on 1 or N threads, locally or on Dask;
* with a checkpoint directory, the merged accumulators of every finished mass are saved
  atomically (``mass_0003.npz``) next to a manifest of the configuration; a resumed scan
  loads them instead of simulating again and ends with the same numbers.

Only the :class:`~kotosim.experiments.Experiment` protocol is used, so any registered
experiment can be scanned; an experiment with a ``reference_block`` also gets the map of the
ratio to its reference channel (KOTO: K_L -> pi0 nu nubar).

Units: masses in MeV, cτ in mm (hepunits, as everywhere in the Python API).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from . import engine
from .api import check_mass
from .geometry import Geometry, load_geometry
from .io import atomic_path, uninterrupted

__all__ = ["ScanResult", "scan", "write_scan_root", "plot_scan", "mass_edges", "ctau_edges",
           "check_scan_ctau", "check_scan_masses", "prepare", "dask_client",
           "remove_checkpoint", "geometry_fingerprint"]

CHECKPOINT_FORMAT = 2  # 2: every mass file carries its identity and a checksum (__meta__)
MAX_SCAN_MASSES = 10_000    # each mass is a separate simulation of n_events decays
MAX_SCAN_CTAU = 10_000      # every cτ is a weight carried in each block's accumulators
MAX_SCAN_POINTS = 10**6     # (mass, cτ) points: maps, per-mass curves and the grid TTree
CTAU_RANGE_MM = (1e-297, 1e303)  # 1e-300 .. 1e300 m: bin edges and the plot's axis in metres
# stay finite, positive normal doubles (cτ far outside 1e-20..1e20 m gives weights 0 or 1)
_MAP_ORDER = ("acceptance", "analytic", "sim_over_analytic", "ratio_reference")
_MAP_TITLES = {
    "acceptance": "acceptance",
    "analytic": "one-formula estimate eps exp(-L m/(p c tau))",
    "sim_over_analytic": "simulation / one-formula estimate",
    "ratio_reference": "acceptance ratio to the reference channel",
}


# ---------------------------------------------------------------------------------------------
# grids and axes

def check_scan_masses(masses: float | Sequence[float] | np.ndarray) -> np.ndarray:
    """Validate a scan's mass points [MeV]: finite, >= 0, strictly increasing."""
    m = np.atleast_1d(np.asarray(masses, dtype=float))
    if m.ndim != 1 or m.size == 0:
        raise ValueError("masses: give one or more phi masses")
    if m.size > MAX_SCAN_MASSES:
        raise ValueError(f"masses: {m.size} points: at most {MAX_SCAN_MASSES} (each mass is a "
                         "separate simulation)")
    if not np.all(np.isfinite(m)) or np.any(m < 0):
        bad = m[~np.isfinite(m) | (m < 0)][0]
        raise ValueError(f"mass = {bad:g} MeV: must be finite and >= 0")
    if np.any(np.diff(m) <= 0):
        k = int(np.argmax(np.diff(m) <= 0))
        raise ValueError(f"masses must be strictly increasing: {m[k]:g} then {m[k + 1]:g} MeV")
    return m


def check_scan_ctau(ctau: float | Sequence[float] | np.ndarray) -> np.ndarray:
    """Validate a scan's cτ points [mm]: finite, > 0, strictly increasing (log axis: no inf)."""
    c = np.atleast_1d(np.asarray(ctau, dtype=float))
    if c.ndim != 1 or c.size == 0:
        raise ValueError("ctau: give one or more proper decay lengths")
    if np.any(np.isinf(c)):
        raise ValueError("ctau = inf is not allowed in a scan (the c*tau axis is logarithmic); "
                         "a large finite value (e.g. 1e6 m) is the stable limit")
    if np.any(np.isnan(c)) or np.any(c <= 0):
        bad = c[np.isnan(c) | (c <= 0)][0]
        raise ValueError(f"ctau = {bad:g} mm: must be > 0")
    lo, hi = CTAU_RANGE_MM
    if np.any((c < lo) | (c > hi)):
        bad = c[(c < lo) | (c > hi)][0]
        raise ValueError(f"ctau = {bad:g} mm: allowed {lo:g}..{hi:g} mm "
                         f"({lo / 1000:g}..{hi / 1000:g} m)")
    if c.size > MAX_SCAN_CTAU:
        raise ValueError(f"ctau: {c.size} points: at most {MAX_SCAN_CTAU} (every c*tau is a "
                         "weight carried by every event)")
    if np.any(np.diff(c) <= 0):
        k = int(np.argmax(np.diff(c) <= 0))
        raise ValueError(f"ctau must be strictly increasing: {c[k]:g} then {c[k + 1]:g} mm")
    return c


def mass_edges(masses: np.ndarray) -> np.ndarray:
    """Bin edges around (possibly irregular) mass points: midpoints inside, half a spacing
    outside (the lower edge is kept >= 0 unless a point sits at 0)."""
    m = np.asarray(masses, dtype=float)
    if m.size == 1:
        h = max(0.5, 0.05 * abs(m[0]))
        lo = m[0] - h if m[0] - h >= 0 or m[0] == 0 else 0.5 * m[0]
        return np.array([lo, m[0] + h])
    mid = 0.5 * (m[1:] + m[:-1])
    lo = m[0] - (mid[0] - m[0])
    if lo < 0 and m[0] > 0:
        lo = 0.5 * m[0]
    return np.concatenate([[lo], mid, [m[-1] + (m[-1] - mid[-1])]])


def ctau_edges(ctau: np.ndarray) -> np.ndarray:
    """Log-spaced bin edges around cτ points: geometric midpoints, symmetric in log outside."""
    c = np.asarray(ctau, dtype=float)
    lc = np.log(c)  # in log space: no overflow or underflow for any grid in CTAU_RANGE_MM
    if c.size == 1:
        le = np.array([lc[0] - 0.5 * math.log(10.0), lc[0] + 0.5 * math.log(10.0)])
    else:
        mid = 0.5 * (lc[1:] + lc[:-1])
        le = np.concatenate([[2 * lc[0] - mid[0]], mid, [2 * lc[-1] - mid[-1]]])
    # outer edges kept inside 1e-303..1e306 mm (finite, normal doubles also in metres)
    le[0] = max(le[0], min(math.log(1e-303), lc[0] - 1e-3))
    le[-1] = min(le[-1], max(math.log(1e306), lc[-1] + 1e-3))
    return np.exp(le)


# ---------------------------------------------------------------------------------------------
# the result

@dataclass(eq=False, repr=False)
class ScanResult:
    """An acceptance map over (m_φ, cτ) of one experiment (:func:`scan`).

    Attributes
    ----------
    experiment, variant : geometry name and variant.
    masses : φ mass points [MeV] (strictly increasing).
    ctau : cτ points [mm] (strictly increasing, finite).
    n_events : parent decays simulated per mass (and for the reference channel).
    seed : master seed.
    values : map name -> array (n_masses, n_ctau): ``acceptance`` (per parent at the
        experiment's normalisation point), ``analytic`` (the seed formula),
        ``sim_over_analytic`` and, with a reference channel, ``ratio_reference``
        (NaN where a ratio is undefined).
    errors : map name -> Monte Carlo error of ``values[name]`` (same shape; 0 if none).
    config : run configuration written to the ROOT file (no executor details: the file does
        not depend on how the scan was run).
    resumed_masses : how many masses were loaded from a checkpoint (not written anywhere).
    """

    experiment: str
    variant: str | None
    masses: np.ndarray
    ctau: np.ndarray
    n_events: int
    seed: int
    values: dict[str, np.ndarray]
    errors: dict[str, np.ndarray]
    config: dict[str, Any] = field(default_factory=dict)
    resumed_masses: int = 0

    def __repr__(self) -> str:
        return (f"ScanResult({self.name}: {self.masses.size} masses "
                f"{self.masses[0]:g}..{self.masses[-1]:g} MeV x {self.ctau.size} ctau "
                f"{self.ctau[0]:g}..{self.ctau[-1]:g} mm, {self.n_events} events per mass, "
                f"seed {self.seed}, maps {', '.join(self.values)})")

    @property
    def name(self) -> str:
        """Directory name in the ROOT file: experiment, plus ``_variant`` if any."""
        return self.experiment + (f"_{self.variant}" if self.variant else "")

    @property
    def mass_edges(self) -> np.ndarray:
        return mass_edges(self.masses)

    @property
    def ctau_edges(self) -> np.ndarray:
        return ctau_edges(self.ctau)

    def hist(self, name: str = "acceptance"):
        """Map ``name`` as a 2-D ``hist.Hist`` (mass [MeV] x cτ [mm], Weight storage:
        variance = error²). Undefined (NaN) entries become 0 with error 0."""
        import hist

        h = hist.Hist(
            hist.axis.Variable(self.mass_edges, name="mass", label="m_phi [MeV]"),
            hist.axis.Variable(self.ctau_edges, name="ctau", label="c tau [mm]"),
            storage=hist.storage.Weight(), name=name,
            label=f"{self.name}: {_MAP_TITLES.get(name, name)}")
        v = h.view(flow=False)
        v["value"], v["variance"] = _finite(self.values[name]), _variance(self.errors[name])
        return h

    def curve(self, name: str, mass_index: int):
        """Row ``mass_index`` of map ``name`` as a 1-D ``hist.Hist`` over cτ [mm]."""
        import hist

        h = hist.Hist(hist.axis.Variable(self.ctau_edges, name="ctau", label="c tau [mm]"),
                      storage=hist.storage.Weight(), name=f"{name}_m{mass_index}",
                      label=f"{self.name}: {_MAP_TITLES.get(name, name)}, "
                            f"m_phi = {self.masses[mass_index]:g} MeV")
        v = h.view(flow=False)
        v["value"] = _finite(self.values[name][mass_index])
        v["variance"] = _variance(self.errors[name][mass_index])
        return h


def _finite(a: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(a), a, 0.0)


def _variance(err: np.ndarray) -> np.ndarray:
    """err^2 for the sumw2 of a histogram; undefined errors -> 0, and errors whose square
    overflows (ratios to a formula that underflowed, ~1e200) -> the largest double."""
    e = _finite(err)
    with np.errstate(over="ignore"):
        return np.minimum(e * e, np.finfo(float).max)


# ---------------------------------------------------------------------------------------------
# geometry shipped to workers (Geometry holds mappingproxies, which do not pickle)

def _geo_state(geo: Geometry) -> tuple:
    return (geo.experiment, geo.path, geo.variant, dict(geo.values),
            {k: tuple(v) for k, v in geo.volumes.items()}, dict(geo.sources), dict(geo.strings))


def _geo_from_state(state: tuple) -> Geometry:
    exp, path, variant, values, volumes, sources, strings = state
    return Geometry(exp, path, variant, MappingProxyType(dict(values)),
                    MappingProxyType(dict(volumes)), MappingProxyType(dict(sources)),
                    MappingProxyType(dict(strings)))


def geometry_fingerprint(geo: Geometry) -> str:
    """SHA-256 of everything in a geometry that can change the numbers."""
    doc = {"experiment": geo.experiment, "variant": geo.variant,
           "values": {k: float(v) for k, v in geo.values.items()},
           "volumes": {k: [[v.name, v.shape, list(v.params)] for v in vs]
                       for k, vs in geo.volumes.items()}}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# one block: the unit of work on every executor

# one block at a time per process: each block already runs on numba.get_num_threads() threads
# (engine.in_threads), so Dask's worker threads would only oversubscribe the cores
_NUMBA_LOCK = threading.Lock()


@contextlib.contextmanager
def _numba_threads(threads: int | None) -> Iterator[None]:
    if threads is None:
        yield
        return
    import numba

    old = numba.get_num_threads()
    numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(old)


def _block_task(state: tuple, kind: str, mass: float, ctau: np.ndarray, n_events: int,
                seed: int, mass_index: int, block: np.ndarray,
                threads: int | None) -> dict[str, np.ndarray]:
    """Accumulators of one block (``kind`` "mass" or "reference"); runs on any worker."""
    from .experiments import get

    geo = _geo_from_state(state)
    exp = get(geo.experiment)
    with _NUMBA_LOCK, _numba_threads(threads):
        if kind == "reference":
            return exp.reference_block(geo, n_events, seed, block)
        return exp.scan_block(geo, mass, ctau, n_events, seed, mass_index, block)


def _block_events(block: np.ndarray, n_events: int, chunk_size: int) -> int:
    return int(sum(min(chunk_size, n_events - int(c) * chunk_size) for c in block))


# ---------------------------------------------------------------------------------------------
# checkpoints

class CheckpointError(ValueError):
    """A checkpoint that cannot be used (other settings, damaged, not a checkpoint)."""


def _checksum(arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of ``arrays`` (sorted by name)."""
    h = hashlib.sha256()
    for k in sorted(arrays):
        a = np.ascontiguousarray(arrays[k])
        h.update(f"{k}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


class _Checkpoint:
    """``DIR/manifest.json`` + one ``.npz`` of merged accumulators per finished task.

    Every ``.npz`` carries ``__meta__`` (JSON): what it is (task kind, mass index, mass [MeV]),
    what made it (seed, events, fingerprints of the grid and of the whole manifest) and a
    SHA-256 checksum of its arrays; a file that does not match is refused, never trusted and
    never deleted."""

    _META = "__meta__"

    def __init__(self, directory: Path, manifest: dict, resume: bool) -> None:
        self.dir = Path(directory)
        self.manifest = manifest
        self.resume = resume
        self.created = False
        self._loaded: dict[tuple[str, int], dict[str, np.ndarray]] = {}
        grid = {"masses_MeV": manifest["masses_MeV"], "ctau_mm": manifest["ctau_mm"]}
        self.grid_sha256 = hashlib.sha256(json.dumps(grid).encode()).hexdigest()
        self.manifest_sha256 = hashlib.sha256(
            json.dumps(manifest, sort_keys=True).encode()).hexdigest()

    def keys(self) -> list[tuple[str, int]]:
        keys = [("reference", 0)] if self.manifest.get("reference") else []
        return keys + [("mass", i) for i in range(len(self.manifest["masses_MeV"]))]

    def check(self) -> None:
        """Refuse an existing checkpoint without ``resume``, one of another configuration,
        files that are not this scan's checkpoint, and (with ``resume``) any mass file that
        does not match this scan or is damaged -- before any work."""
        for d in (self.dir.parent, self.dir):
            if d.exists() and not d.is_dir():
                raise CheckpointError(f"{d}: is a file, not a checkpoint directory: remove or "
                                      "rename it, or choose another --out")
        mpath = self.dir / "manifest.json"
        if not mpath.exists():
            stray = sorted(self.dir.glob("*.npz")) if self.dir.is_dir() else []
            if stray:
                raise CheckpointError(f"{stray[0]}: checkpoint file without a manifest (not "
                                      f"made by this scan): remove {self.dir}")
            return
        if not self.resume:
            raise CheckpointError(f"{self.dir}: a checkpoint of an interrupted scan exists: "
                                  "rerun with --resume, or remove it")
        try:
            old = json.loads(mpath.read_text())
            if not isinstance(old, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"{mpath}: unreadable checkpoint manifest ({exc}); remove "
                                  f"{self.dir}") from None
        for key in sorted(set(old) | set(self.manifest)):
            if old.get(key) != self.manifest.get(key):
                raise CheckpointError(
                    f"cannot resume from {self.dir}: it was made with a different {key} "
                    f"({_short(old.get(key))} instead of {_short(self.manifest.get(key))}); "
                    "rerun with the same settings or remove it")
        names = {self._path(k).name: k for k in self.keys()}
        for p in sorted(self.dir.glob("*.npz")):
            if p.name not in names:
                raise CheckpointError(f"{p}: not a file of this scan's checkpoint: remove it")
            self._loaded[names[p.name]] = self._read(p, names[p.name])

    def start(self) -> None:
        """Create the directory and manifest (a new scan) after :meth:`check`."""
        if not self._loaded:
            self.check()
        mpath = self.dir / "manifest.json"
        if not mpath.exists():
            self.dir.mkdir(parents=True, exist_ok=True)
            self.created = True
            with atomic_path(mpath, ".json") as tmp:
                tmp.write_text(json.dumps(self.manifest, indent=1))

    def discard_if_empty(self) -> bool:
        """Remove a checkpoint this run created that holds no finished task (so that a
        corrected rerun is not refused); True if removed."""
        if not self.created or any(self.dir.glob("*.npz")):
            return False
        remove_checkpoint(self.dir)
        return True

    def _path(self, key: tuple[str, int]) -> Path:
        return self.dir / (f"mass_{key[1]:04d}.npz" if key[0] == "mass" else "reference.npz")

    def _meta(self, key: tuple[str, int]) -> dict:
        m = self.manifest
        return {"format": CHECKPOINT_FORMAT, "kind": key[0],
                "mass_index": key[1] if key[0] == "mass" else None,
                "mass_MeV": m["masses_MeV"][key[1]] if key[0] == "mass" else None,
                "seed": m["seed"], "n_events": m["n_events"],
                "grid_sha256": self.grid_sha256, "manifest_sha256": self.manifest_sha256}

    def _read(self, p: Path, key: tuple[str, int]) -> dict[str, np.ndarray]:
        fix = "remove it to simulate this mass again"
        try:
            with np.load(p, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            meta = json.loads(str(arrays.pop(self._META)))
        except Exception as exc:  # BadZipFile, EOFError, OSError, ValueError, KeyError...
            raise CheckpointError(f"{p}: damaged checkpoint file ({type(exc).__name__}): "
                                  f"{fix}") from None
        want = self._meta(key)
        for k, v in want.items():
            if meta.get(k) != v:
                raise CheckpointError(
                    f"{p}: belongs to another scan or mass ({k} = {_short(meta.get(k))}, "
                    f"expected {_short(v)}): {fix}")
        if meta.get("sha256") != _checksum(arrays):
            raise CheckpointError(f"{p}: checksum mismatch (changed or damaged): {fix}")
        return arrays

    def load(self, key: tuple[str, int]) -> dict[str, np.ndarray] | None:
        """The verified totals of ``key`` if finished (``None`` if not)."""
        if key in self._loaded:
            return self._loaded[key]
        p = self._path(key)
        return self._read(p, key) if p.exists() else None

    def save(self, key: tuple[str, int], totals: dict[str, np.ndarray]) -> None:
        meta = self._meta(key) | {"sha256": _checksum(totals)}
        with atomic_path(self._path(key), ".npz") as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **totals, **{self._META: np.array(json.dumps(meta))})


def _short(v: Any) -> str:
    s = json.dumps(v)
    return s if len(s) <= 60 else s[:57] + "..."


def remove_checkpoint(directory: str | Path) -> None:
    """Delete a scan checkpoint directory (after the output is safely written); its parent
    (the ``OUT.partial/`` folder of the CLI) too if that is then empty, never other scans'."""
    with uninterrupted():  # never half removed (a manifest gone, mass files left)
        shutil.rmtree(directory, ignore_errors=True)
        if Path(directory).parent.name.endswith(".partial"):
            with contextlib.suppress(OSError):
                Path(directory).parent.rmdir()


# ---------------------------------------------------------------------------------------------
# executors

@contextlib.contextmanager
def dask_client(scheduler: Any = None, workers: int | None = None) -> Iterator[Any]:
    """A ``dask.distributed.Client``: connected to ``scheduler`` (an address such as
    ``tcp://host:8786``, or an existing Client, used as is) or to a new ``LocalCluster`` of
    ``workers`` worker processes (one thread each), closed on exit."""
    if scheduler is not None and workers is not None:
        raise ValueError("give either a scheduler address or a number of workers, not both")
    if scheduler is not None and hasattr(scheduler, "submit"):
        yield scheduler
        return
    try:
        import logging

        from distributed import Client, LocalCluster
    except ImportError:
        raise ImportError("running on Dask needs dask.distributed: pip install "
                          "'kotosim[dask]'") from None
    if scheduler is not None:
        try:
            client = Client(str(scheduler), timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise ValueError(f"cannot connect to the Dask scheduler {scheduler}: {exc}"
                             ) from None
        with client:
            yield client
        return
    n = int(workers)  # type: ignore[arg-type]
    if n < 1:
        raise ValueError(f"workers = {workers}: must be >= 1")
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                      dashboard_address=":0", scheduler_kwargs={"dashboard": False},
                      silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        yield client


def _run_local(tasks, threads, on_block, on_done) -> None:
    with _numba_threads(threads):
        for key, args, blocks in tasks:
            def parts(args=args, blocks=blocks):
                for b in blocks:
                    out = _block_task(*args, b, None)
                    on_block(b)
                    yield out
            on_done(key, engine.merge(parts()))  # streamed: one block in memory at a time


def _run_dask(client, tasks, threads, on_block, on_done) -> None:
    from distributed import as_completed

    state = tasks[0][1][0] if tasks else None
    remote_state = client.scatter(state, broadcast=True) if tasks else None
    pending: dict[Any, tuple[tuple[str, int], int, np.ndarray]] = {}
    partials: dict[tuple[str, int], list] = {}
    futures = []
    for key, args, blocks in tasks:
        partials[key] = [None] * len(blocks)
        for j, b in enumerate(blocks):
            fut = client.submit(_block_task, remote_state, *args[1:], b, threads, pure=False)
            pending[fut] = (key, j, b)
            futures.append(fut)
    try:
        for fut in as_completed(futures):
            key, j, b = pending.pop(fut)
            partials[key][j] = fut.result()
            fut.release()
            on_block(b)
            if all(p is not None for p in partials[key]):
                on_done(key, engine.merge(partials.pop(key)))  # block order, not finish order
    finally:
        if pending:
            client.cancel(list(pending))


# ---------------------------------------------------------------------------------------------
# the public entry point

@dataclass
class _Plan:
    geo: Geometry
    exp: Any
    masses: np.ndarray
    ctau: np.ndarray
    n_events: int
    seed: int
    reference: bool
    manifest: dict
    checkpoint: _Checkpoint | None

    @property
    def name(self) -> str:
        """Directory name of this scan in the ROOT file (see :attr:`ScanResult.name`)."""
        return self.geo.experiment + (f"_{self.geo.variant}" if self.geo.variant else "")

    def attach_checkpoint(self, directory: str | Path, resume: bool) -> None:
        """Checkpoint into ``directory``; raises if it cannot be used (see :func:`scan`)."""
        ck = _Checkpoint(Path(directory), self.manifest, resume)
        ck.check()
        self.checkpoint = ck


def prepare(experiment: str | Path | Geometry, masses, ctau, n_events: int, seed: int, *,
            variant: str | None = None, overrides: Mapping[str, float] | None = None,
            reference: bool = True, checkpoint: str | Path | None = None,
            resume: bool = False) -> _Plan:
    """Validate a scan without running it (geometry, grids, checkpoint); used by the CLI to
    check every experiment before the first one starts."""
    from .experiments import get

    geo = experiment if isinstance(experiment, Geometry) else load_geometry(
        experiment, variant, overrides)
    exp = get(geo.experiment)
    m = check_scan_masses(masses)
    for x in m:
        check_mass(x, exp.max_mass(geo), exp.mass_note)
    c = check_scan_ctau(ctau)
    n = engine.check_n_events(n_events)
    if m.size * c.size > MAX_SCAN_POINTS:
        raise ValueError(f"{m.size} masses x {c.size} ctau = {m.size * c.size:,} points: at "
                         f"most {MAX_SCAN_POINTS:,} (maps, per-mass curves and the grid TTree "
                         "grow with it)")
    seed = engine.check_seed(seed)
    use_ref = bool(reference) and exp.reference_block is not None
    from . import __version__

    manifest = {"format": CHECKPOINT_FORMAT, "kotosim": __version__,
                "experiment": geo.experiment, "variant": geo.variant,
                "geometry": geometry_fingerprint(geo), "masses_MeV": m.tolist(),
                "ctau_mm": c.tolist(), "n_events": n, "seed": int(seed),
                "chunk_size": engine.DEFAULT_CHUNK_SIZE, "block_chunks": engine.BATCH,
                "reference": use_ref}
    plan = _Plan(geo, exp, m, c, n, int(seed), use_ref, manifest, None)
    if checkpoint is not None:
        plan.attach_checkpoint(checkpoint, resume)
    return plan


def scan(
    experiment: str | Path | Geometry = "koto",
    masses: float | Sequence[float] | np.ndarray = 100.0,
    ctau: float | Sequence[float] | np.ndarray = 1000.0,
    n_events: int = 200_000,
    seed: int = 1,
    *,
    variant: str | None = None,
    overrides: Mapping[str, float] | None = None,
    reference: bool = True,
    scheduler: Any = None,
    workers: int | None = None,
    threads: int | None = None,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    progress: Callable[[int, int], None] | None = None,
    notify: Callable[[str], None] | None = None,
    _plan: _Plan | None = None,
) -> ScanResult:
    """Acceptance map of an experiment over a grid of φ masses and lifetimes.

    Each mass is simulated once with ``n_events`` parent decays; every cτ of the grid is a
    weight on the same events, so the cost does not grow with the number of cτ values.

    Parameters
    ----------
    experiment : shipped geometry name (``"koto"``, ...), path to a geometry TOML file, or a
        loaded :class:`~kotosim.geometry.Geometry`.
    masses : φ mass points [MeV], strictly increasing (irregular spacing allowed).
    ctau : proper decay lengths cτ of φ [mm], strictly increasing, finite (log axis).
    n_events : parent decays simulated per mass (and for the reference channel, once).
    seed : master seed; block ``b`` of mass index ``i`` uses chunk seeds derived from
        (seed, experiment, channel, i, chunk index) only.
    variant, overrides : as in :func:`kotosim.simulate`.
    reference : also compute the ratio to the experiment's reference channel, if it has one
        (KOTO: K_L -> pi0 nu nubar, mass-independent: simulated once per scan).
    scheduler : address of a running ``dask.distributed`` scheduler (``"tcp://host:8786"``)
        or a ``distributed.Client``: the blocks run there as Dask tasks.
    workers : start a local Dask cluster with this many worker processes instead.
    threads : numba threads per block (locally: default all cores; on a local Dask cluster:
        default cores / workers; on a remote one: the workers' default).
        None of ``scheduler``, ``workers``, ``threads`` changes a single bit of the result.
    checkpoint : directory in which every finished mass is saved (atomically) with a
        manifest of this configuration; it is left in place (remove it with
        :func:`remove_checkpoint` once the output is written).
    resume : load the masses already in ``checkpoint`` instead of simulating them; refused
        if the checkpoint was made with different settings. Without ``resume`` an existing
        checkpoint is refused.
    progress : called as ``progress(events_done, events_total)`` after every block.
    notify : called with one-line status messages (resume, cluster).

    Returns
    -------
    ScanResult with maps of shape (len(masses), len(ctau)).
    """
    plan = _plan or prepare(experiment, masses, ctau, n_events, seed, variant=variant,
                            overrides=overrides, reference=reference, checkpoint=checkpoint,
                            resume=resume)
    geo, exp, n = plan.geo, plan.exp, plan.n_events
    state = _geo_state(geo)
    keys: list[tuple[str, int]] = ([("reference", 0)] if plan.reference else [])
    keys += [("mass", i) for i in range(plan.masses.size)]
    totals: dict[tuple[str, int], dict[str, np.ndarray]] = {}
    ck = plan.checkpoint
    if ck is not None:
        ck.start()
        for key in keys:
            t = ck.load(key)
            if t is not None:
                totals[key] = t
        n_mass = sum(1 for k in totals if k[0] == "mass")
        if totals and notify is not None:
            notify(f"resuming from {ck.dir}: {n_mass} of {plan.masses.size} masses"
                   + (" and the reference channel" if ("reference", 0) in totals else "")
                   + " already done")
    blocks = engine.blocks(n, engine.DEFAULT_CHUNK_SIZE)
    tasks = []
    for key in keys:
        if key in totals:
            continue
        mass = float(plan.masses[key[1]]) if key[0] == "mass" else 0.0
        args = (state, key[0], mass, plan.ctau, n, plan.seed, key[1] if key[0] == "mass" else 0)
        tasks.append((key, args, blocks))
    total = n * len(tasks)
    done = [0]

    def on_block(b: np.ndarray) -> None:
        done[0] += _block_events(b, n, engine.DEFAULT_CHUNK_SIZE)
        if progress is not None:
            progress(done[0], total)

    def on_done(key: tuple[str, int], tot: dict[str, np.ndarray]) -> None:
        if ck is not None:
            ck.save(key, tot)
        totals[key] = tot

    if progress is not None:
        progress(0, total)
    if tasks and (scheduler is not None or workers is not None):
        with dask_client(scheduler, workers) as client:
            th = threads
            if th is None and workers is not None:
                th = max(1, (os.cpu_count() or 1) // int(workers))
            if notify is not None and not hasattr(scheduler, "submit"):
                notify(f"running {sum(len(t[2]) for t in tasks)} blocks on Dask "
                       f"({client.scheduler_info().get('address', scheduler)}, "
                       f"{len(client.scheduler_info().get('workers', {}))} workers)")
            _run_dask(client, tasks, th, on_block, on_done)
    elif tasks:
        _run_local(tasks, threads, on_block, on_done)

    ref = totals.get(("reference", 0)) if plan.reference else None
    rows = [exp.scan_finish(geo, float(m), plan.ctau, totals[("mass", i)], ref)
            for i, m in enumerate(plan.masses)]
    values, errors = _stack(rows, plan.ctau.size)
    from . import __version__

    config = {"experiment": geo.experiment, "variant": geo.variant or "",
              "geometry": geo.path, "geometry_sha256": plan.manifest["geometry"],
              "masses_MeV": plan.masses.tolist(), "ctau_mm": plan.ctau.tolist(),
              "n_events_per_mass": n, "seed": plan.seed,
              "chunk_size": engine.DEFAULT_CHUNK_SIZE, "block_chunks": engine.BATCH,
              "reference": plan.reference, "version": __version__}
    return ScanResult(geo.experiment, geo.variant, plan.masses.copy(), plan.ctau.copy(), n,
                      plan.seed, values, errors, config,
                      resumed_masses=sum(1 for k in keys if k[0] == "mass")
                      - sum(1 for t in tasks if t[0][0] == "mass"))


def _stack(rows: list[dict[str, np.ndarray]], nct: int
           ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """scan_finish rows -> maps: ``error`` is the acceptance's error, ``X_error`` X's."""
    names = [k for k in rows[0] if k != "error" and not k.endswith("_error")]
    names.sort(key=lambda k: (_MAP_ORDER.index(k) if k in _MAP_ORDER else len(_MAP_ORDER), k))
    values, errors = {}, {}
    for k in names:
        ek = "error" if k == "acceptance" else f"{k}_error"
        values[k] = np.array([np.asarray(r[k], dtype=float) for r in rows]).reshape(-1, nct)
        errors[k] = (np.array([np.asarray(r[ek], dtype=float) for r in rows]).reshape(-1, nct)
                     if ek in rows[0] else np.zeros_like(values[k]))
    return values, errors


# ---------------------------------------------------------------------------------------------
# output

def write_scan_root(results: ScanResult | Sequence[ScanResult], path: str | Path) -> Path:
    """Write one or more scans to a ROOT file (atomically: temporary name, then rename).

    Per scan, in directory ``<experiment>[_<variant>]/``: one TH2D per map (``acceptance``,
    ``analytic``, ``sim_over_analytic``, ``ratio_reference``; x = m_φ [MeV] with bin edges
    around the mass points, y = cτ [mm] with log-spaced edges around the cτ points; sumw2 =
    error²); ``curves/<map>_m<i>`` TH1D over cτ for mass index i; ``grid`` TTree with the
    exact points and values (one entry per (mass, cτ): ``mass_index``, ``ctau_index``,
    ``mass_MeV``, ``ctau_mm``, ``<map>``, ``<map>_err``; NaN kept where a ratio is
    undefined, while the histograms hold 0 there); ``config`` (JSON string).
    """
    import uproot

    res = [results] if isinstance(results, ScanResult) else list(results)
    names = [r.name for r in res]
    if len(set(names)) != len(names):
        raise ValueError(f"two scans of the same experiment in one file: {names}")
    with np.errstate(over="ignore", invalid="ignore"), atomic_path(path) as tmp, \
            uproot.recreate(tmp) as f:  # (statistics of histograms over 1e-297..1e303 mm)
        for r in res:
            d = r.name
            for name in r.values:
                f[f"{d}/{name}"] = _root_map(r, name)
            for name in r.values:
                for i in range(r.masses.size):
                    f[f"{d}/curves/{name}_m{i}"] = _root_map(r, name, i)
            nm, nc = r.masses.size, r.ctau.size
            cols = {"mass_index": np.repeat(np.arange(nm, dtype=np.int32), nc),
                    "ctau_index": np.tile(np.arange(nc, dtype=np.int32), nm),
                    "mass_MeV": np.repeat(r.masses, nc), "ctau_mm": np.tile(r.ctau, nm)}
            for name in r.values:
                cols[name] = r.values[name].ravel()
                cols[f"{name}_err"] = r.errors[name].ravel()
            t = f.mktree(f"{d}/grid", {k: v.dtype for k, v in cols.items()},
                         title="scan points: one entry per (mass, ctau)")
            t.extend(cols)
            f[f"{d}/config"] = json.dumps(r.config)
            f[f"{d}/README"] = _scan_readme(r)
    return Path(path)


# ROOT (TLatex) titles of the maps' contents
_ROOT_TITLES = {
    "acceptance": "acceptance per parent",
    "analytic": "one-formula estimate #epsilon e^{-Lm/(pc#tau)} per parent",
    "sim_over_analytic": "simulation / one-formula estimate",
    "ratio_reference": "acceptance ratio to the reference channel",
}


def _root_map(r: ScanResult, name: str, mass_index: int | None = None):
    """Map ``name`` (or its row ``mass_index`` over cτ) as a TH2D (TH1D) with a ROOT title,
    axis titles with units and entries = the number of grid points with a defined value
    (uproot would store the sum of the values, meaningless for ratios)."""
    from .io import _set_member, root_hist

    what = _ROOT_TITLES.get(name, name)
    vals = r.values[name] if mass_index is None else r.values[name][mass_index]
    head = f"{r.name}: {what}, {r.n_events:.3g} events per mass"
    if mass_index is None:
        h = r.hist(name)
        w = root_hist(h, f"{head} (undefined points stored as 0)", what, np.isfinite(vals).sum())
        _set_member(w.member("fXaxis"), "fTitle", "m_{#phi} [MeV]")
        _set_member(w.member("fYaxis"), "fTitle", "c#tau [mm]")
    else:
        h = r.curve(name, mass_index)
        w = root_hist(h, f"{head}, m_{{#phi}} = {r.masses[mass_index]:g} MeV", what,
                      np.isfinite(vals).sum())
        _set_member(w.member("fXaxis"), "fTitle", "c#tau [mm]")
    return w


def _scan_readme(r: ScanResult) -> str:
    """The ``README`` string object of a scan directory: every object and branch."""
    maps = ", ".join(r.values)
    lines = [
        f"kotosim scan: {r.name}, {r.masses.size} masses x {r.ctau.size} c tau, "
        f"{r.n_events} events per mass, seed {r.seed}. Units: MeV, mm.",
        "The data are identical bit for bit for the same seed on any number of threads or "
        "workers; the file bytes are not (ROOT stores a creation time and a unique id).",
        f"Maps (TH2D, x = m_phi [MeV], y = c tau [mm]; sumw2 = Monte Carlo error^2; entries ="
        f" number of grid points with a defined value; undefined points stored as 0): {maps}.",
        *[f"  {k}: {_ROOT_TITLES.get(k, k)}" for k in r.values],
        "curves/<map>_m<i> (TH1D over c tau [mm]): row i (mass index) of each map.",
        "grid (TTree, one entry per (mass, c tau), NaN where a value is undefined): "
        "mass_index, ctau_index; mass_MeV = m_phi [MeV]; ctau_mm = c tau [mm]; for every "
        "map X, X and X_err (Monte Carlo error).",
        "config (TObjString): the scan configuration (JSON).",
        "README (TObjString): this text.",
    ]
    return "\n".join(lines)


# colour-bar labels of plot_scan: short enough for the bar's height (LaTeX as the axes)
_CBAR_LABELS = {
    "acceptance": "acceptance per parent",
    "analytic": r"$\epsilon\,e^{-Lm/(pc\tau)}$ per parent",
    "sim_over_analytic": "simulation / one-formula estimate",
    "ratio_reference": "ratio to the reference channel",
}


def _decade_ticks(axis: Any, lo: float, hi: float) -> None:
    """Over more than 30 decades, at most ~8 decade ticks inside [lo, hi] and no minor ticks
    (matplotlib's LogLocator would step past 1e308 to inf for a 1e-300..1e300 m grid)."""
    a, b = math.ceil(math.log10(lo)), math.floor(math.log10(hi))
    if b - a <= 30:
        return
    from matplotlib.ticker import FixedLocator, NullLocator

    axis.set_major_locator(FixedLocator([10.0 ** k for k in range(a, b + 1,
                                                                 -(-(b - a + 1) // 8))]))
    axis.set_minor_locator(NullLocator())


def plot_scan(result: ScanResult, path: str | Path, name: str = "acceptance") -> Path:
    """Colour map of ``name`` over (m_φ [MeV], cτ [m], log axis) with contours; PNG, atomic."""
    import warnings

    with warnings.catch_warnings():  # no matplotlib warning (with its file path) for the user
        warnings.simplefilter("ignore", UserWarning)
        return _plot_scan(result, path, name)


def _plot_scan(result: ScanResult, path: str | Path, name: str) -> Path:
    import matplotlib.pyplot as plt

    fig = scan_figure(result, name)
    with atomic_path(path, ".png") as tmp:
        fig.savefig(tmp, dpi=100, bbox_inches="tight", format="png")
    plt.close(fig)
    return Path(path)


def scan_figure(result: ScanResult, name: str = "acceptance"):
    """The matplotlib figure :func:`plot_scan` saves (the caller closes it)."""
    from .plotting import _style

    plt, _ = _style()
    from matplotlib.colors import LogNorm

    vals = np.asarray(result.values[name], dtype=float)
    xe, ye = result.mass_edges, result.ctau_edges / 1000.0
    fig, ax = plt.subplots(figsize=(9, 7))
    ratio = name != "acceptance" and name != "analytic"
    ok = np.isfinite(vals) & (vals > 0)
    if ratio:
        norm, cmap = LogNorm(vmin=0.1, vmax=10.0), "RdBu_r"
        levels = [0.5, 1.0, 2.0]
        label = _CBAR_LABELS.get(name, name)
    else:
        vmax = float(vals[ok].max()) if ok.any() else 1.0
        norm, cmap = LogNorm(vmin=vmax * 1e-4, vmax=vmax), "viridis"
        top = math.floor(math.log10(vmax))
        levels = [10.0 ** k for k in range(top - 4, top + 1)]
        label = _CBAR_LABELS.get(name, name)
    masked = np.ma.masked_where(~ok, vals)
    mesh = ax.pcolormesh(xe, ye, masked.T, norm=norm, cmap=cmap, shading="flat")
    cb = fig.colorbar(mesh, ax=ax)
    cb.set_label(label, fontsize=16)
    if result.masses.size > 1 and result.ctau.size > 1 and ok.sum() > 3:
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(ok, vals, np.nan if ratio else 0.0).T
            cs = ax.contour(result.masses, result.ctau / 1000.0, z, levels=levels,
                            colors="k" if ratio else "white", linewidths=1.0)
        ax.clabel(cs, fmt=lambda v: f"{v:g}", fontsize=9)
    ax.set_yscale("log")
    ax.set_xlim(xe[0], xe[-1])
    ax.set_ylim(ye[0], ye[-1])
    _decade_ticks(ax.yaxis, ye[0], ye[-1])
    ax.set_xlabel(r"$m_\phi$ [MeV]")
    ax.set_ylabel(r"$c\tau_\phi$ [m]")
    # two lines, left-aligned and lifted: clear of the colour bar's top tick label
    ax.set_title(f"{result.name}: {_MAP_TITLES.get(name, name)}\n"
                 f"{result.n_events:.2g} events per mass", fontsize=13, loc="left", pad=14)
    return fig
