"""Chunked, reproducible execution shared by every experiment.

Events are generated in fixed-size chunks. Chunk ``c`` of a run is seeded from
``numpy.random.SeedSequence(seed, spawn_key=(experiment, channel, mass_index, c))`` -- keyed by
what it is, never by which thread or worker runs it (DESIGN.md principle 4). A kernel fills
per-chunk accumulators; :func:`run` adds them in chunk order, so the sums are bit-identical on
any number of threads, in any batching, or on Dask workers.

The chunks of a block run on ``numba.get_num_threads()`` threads (:func:`in_threads`): the
kernels are serial ``nogil`` loops over their chunks, and Python threads run contiguous slices
of a block side by side. (A ``prange`` loop did the same, but its parallel-loop machinery cost
~3 s of compile time per kernel on first use.)
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

DEFAULT_CHUNK_SIZE = 1 << 14  # events per chunk; part of the random-stream definition
# (16384: small enough to balance 2e5-event scan points over threads; the per-chunk cost
# -- state seeding, accumulator add -- stays below 1% of the chunk time)
BATCH = 32                    # chunks per block: one parallel kernel call, one partial sum

MAX_EVENTS = 10**12           # parent decays per channel (and per scan mass) at most: 1e12
# take more than a day at 1e7 decays/s, the Monte Carlo error is then 1e-6 of the acceptance,
# and larger double-precision sums of unit weights approach 2**53 ~ 9e15 (counts stop exact)

MAX_SEED = 2**63 - 1

__all__ = ["DEFAULT_CHUNK_SIZE", "MAX_EVENTS", "check_n_events", "check_seed", "chunk_seeds",
           "in_threads", "n_chunks", "run"]


def check_seed(seed: object, what: str = "seed") -> int:
    """Validate a master seed: a whole number in 0..2**63-1 (numpy's SeedSequence entropy)."""
    try:
        v = int(seed)  # type: ignore[call-overload]
        whole = v == seed or (isinstance(seed, str) and str(v) == seed.strip())
    except (TypeError, ValueError, OverflowError):
        whole, v = False, -1
    if not whole or not 0 <= v <= MAX_SEED:
        raise ValueError(f"{what} = {seed}: must be a whole number in 0..{MAX_SEED}")
    return v


def check_n_events(n_events: float, what: str = "n_events") -> int:
    """Validate a number of parent decays: a whole number in 1..:data:`MAX_EVENTS`.

    Sizes that cannot finish are refused at once instead of being queued (the work itself is
    built lazily, see :func:`blocks`, so memory would stay flat anyway)."""
    try:
        n = int(n_events)
        whole = n == n_events
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{what} = {n_events}: must be a whole number >= 1") from None
    if n < 1 or not whole:
        raise ValueError(f"{what} = {n_events}: must be a whole number >= 1")
    if n > MAX_EVENTS:
        raise ValueError(f"{what} = {n_events:.3g}: at most {MAX_EVENTS:.0e} parent decays "
                         "(1e12 take more than a day at 1e7 decays/s; their MC error is "
                         "already 1e-6)")
    return n


def experiment_key(name: str) -> int:
    """Stable 32-bit key of an experiment name (CRC-32)."""
    return zlib.crc32(name.encode())


def chunk_seeds(seed: int, experiment: str, channel: int, mass_index: int,
                chunks: np.ndarray) -> np.ndarray:
    """Initial xoshiro256+ states (:mod:`kotosim.kernels.rng`), shape ``(len(chunks), 4)``
    uint64, one per global chunk index, from ``SeedSequence(seed, spawn_key=(experiment,
    channel, mass_index, chunk))``."""
    from .kernels.rng import new_state

    key = experiment_key(experiment)
    return new_state(np.array([
        np.random.SeedSequence(seed, spawn_key=(key, channel, mass_index, int(c)))
        .generate_state(4, dtype=np.uint64) for c in chunks], dtype=np.uint64).reshape(-1, 4))


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            import numba

            _POOL = ThreadPoolExecutor(max(1, numba.config.NUMBA_NUM_THREADS - 1),
                                       thread_name_prefix="kotosim")
        return _POOL


def in_threads(part: Callable[[slice], None], n: int) -> None:
    """Run ``part(slice)`` over ``range(n)`` cut into contiguous slices, one per thread of
    ``numba.get_num_threads()`` (the calling thread runs the first one).

    ``part`` must call a ``nogil`` kernel that writes only the rows of its slice, so the
    result does not depend on the number of threads. Returns when every slice is done, also
    when the calling thread is interrupted (a signal, an error): no thread is left writing into
    arrays the caller is about to discard; the first error is raised."""
    import numba

    nt = max(1, min(int(numba.get_num_threads()), n))
    if nt == 1:
        part(slice(0, n))
        return
    cuts = [n * i // nt for i in range(nt + 1)]
    futs = [_pool().submit(part, slice(cuts[i], cuts[i + 1])) for i in range(1, nt)]
    err: BaseException | None = None
    try:
        part(slice(cuts[0], cuts[1]))
    except BaseException as exc:  # noqa: BLE001 - re-raised below, after the other slices
        err = exc
    while True:  # every slice finishes first, also when a signal interrupts the waiting
        try:
            wait(futs)
            break
        except BaseException as exc:  # noqa: BLE001
            err = err or exc
    if err is not None:
        raise err
    for f in futs:
        f.result()


def n_chunks(n_events: int, chunk_size: int) -> int:
    return -(-n_events // chunk_size)


class _Blocks(Sequence):
    """The blocks of a run, made on demand (memory does not grow with the number of events)."""

    def __init__(self, n_chunks: int) -> None:
        self.n = n_chunks

    def __len__(self) -> int:
        return -(-self.n // BATCH)

    def __getitem__(self, j):
        if isinstance(j, slice):
            return [self[k] for k in range(*j.indices(len(self)))]
        if j < 0:
            j += len(self)
        if not 0 <= j < len(self):
            raise IndexError(j)
        s = j * BATCH
        return np.arange(s, min(s + BATCH, self.n), dtype=np.int64)


def blocks(n_events: int, chunk_size: int) -> Sequence[np.ndarray]:
    """Global chunk indices grouped in blocks of ``BATCH`` (the unit of work and of summation),
    as a lazy sequence: each block's index array is made when it is used.

    A block's accumulators are summed chunk by chunk from zero; a run's totals are the block
    sums added block by block from zero. Any executor that computes blocks independently and
    merges them in block order (:func:`merge`) reproduces :func:`run` bit for bit.
    """
    return _Blocks(n_chunks(n_events, chunk_size))


def merge(partials) -> dict[str, np.ndarray]:
    """Add block results in the order given (block order for reproducible sums)."""
    totals: dict[str, np.ndarray] | None = None
    for part in partials:
        if totals is None:
            totals = {k: np.zeros_like(v) for k, v in part.items()}
        for k, v in part.items():
            totals[k] += v
    return totals if totals is not None else {}


def run(n_events: int, chunk_size: int, alloc: Callable[[int], dict[str, np.ndarray]],
        kernel: Callable[[np.ndarray, dict[str, np.ndarray]], None],
        chunks: np.ndarray | None = None, progress: Callable[[int], None] | None = None,
        ) -> dict[str, np.ndarray]:
    """Run ``kernel(chunk_indices, per_chunk_arrays)`` block by block and return the totals.

    ``alloc(nb)`` returns zeroed arrays whose first axis is the chunk within the block.
    With ``chunks`` (one block, at most ``BATCH`` chunks) only those chunks run and their
    block sum is returned: what a distributed worker computes for :func:`merge`.
    """
    todo = blocks(n_events, chunk_size) if chunks is None else [np.asarray(chunks)]

    def one(block: np.ndarray) -> dict[str, np.ndarray]:
        arrays = alloc(block.size)
        kernel(block, arrays)
        out = {k: np.zeros(v.shape[1:]) for k, v in arrays.items()}
        for k, v in arrays.items():
            for i in range(block.size):  # fixed order: chunk by chunk
                out[k] += v[i]
        if progress is not None:
            progress(int(sum(min(chunk_size, n_events - c * chunk_size) for c in block)))
        return out

    totals = merge(one(b) for b in todo)
    if not totals:
        totals = {k: np.zeros(v.shape[1:]) for k, v in alloc(0).items()}
    return totals
