"""Chunked, reproducible execution shared by every experiment.

Events are generated in fixed-size chunks. Chunk ``c`` of a run is seeded from
``numpy.random.SeedSequence(seed, spawn_key=(experiment, channel, mass_index, c))`` -- keyed by
what it is, never by which thread or worker runs it (DESIGN.md principle 4). A kernel fills
per-chunk accumulators; :func:`run` adds them in chunk order, so the sums are bit-identical on
any number of threads, in any batching, or on Dask workers.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np

DEFAULT_CHUNK_SIZE = 1 << 14  # events per chunk; part of the random-stream definition
# (16384: small enough to balance 2e5-event scan points over threads; the per-chunk cost
# -- state seeding, accumulator add -- stays below 1% of the chunk time)
BATCH = 32                    # chunks per block: one parallel kernel call, one partial sum

__all__ = ["DEFAULT_CHUNK_SIZE", "chunk_seeds", "n_chunks", "run"]


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


def n_chunks(n_events: int, chunk_size: int) -> int:
    return -(-n_events // chunk_size)


def blocks(n_events: int, chunk_size: int) -> list[np.ndarray]:
    """Global chunk indices grouped in blocks of ``BATCH`` (the unit of work and of summation).

    A block's accumulators are summed chunk by chunk from zero; a run's totals are the block
    sums added block by block from zero. Any executor that computes blocks independently and
    merges them in block order (:func:`merge`) reproduces :func:`run` bit for bit.
    """
    n = n_chunks(n_events, chunk_size)
    return [np.arange(s, min(s + BATCH, n), dtype=np.int64) for s in range(0, n, BATCH)]


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
