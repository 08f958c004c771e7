"""kotosim.engine.in_threads: the slices of a block cover every chunk once, on any number of
threads, and an error in any slice is raised only after every slice has finished."""

from __future__ import annotations

import threading
import time

import numba
import numpy as np
import pytest

from kotosim import engine


@pytest.fixture
def two_threads():
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs 2 numba threads")
    old = numba.get_num_threads()
    numba.set_num_threads(2)
    yield
    numba.set_num_threads(old)


@pytest.mark.parametrize("n", [1, 2, 3, 31, 32])
def test_slices_cover_each_chunk_once(n, two_threads):
    hits = np.zeros(n, dtype=int)
    names = set()

    def part(s: slice) -> None:
        names.add(threading.current_thread().name)
        hits[s] += 1

    engine.in_threads(part, n)
    assert hits.tolist() == [1] * n
    assert len(names) == min(2, n)  # the calling thread and one pool thread when n >= 2


def test_error_raised_after_every_slice_finished(two_threads):
    done = []

    def part(s: slice) -> None:
        if s.start == 0:
            raise RuntimeError("first slice failed")
        time.sleep(0.2)
        done.append(s)

    with pytest.raises(RuntimeError, match="first slice"):
        engine.in_threads(part, 4)
    assert done == [slice(2, 4)]  # the other slice ran to its end before the error came out


def test_error_in_a_pool_slice_is_raised(two_threads):
    def part(s: slice) -> None:
        if s.start > 0:
            raise ValueError("second slice failed")

    with pytest.raises(ValueError, match="second slice"):
        engine.in_threads(part, 4)


def test_one_thread_runs_in_the_caller():
    old = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        seen = []
        engine.in_threads(lambda s: seen.append((s, threading.current_thread().name)), 5)
    finally:
        numba.set_num_threads(old)
    assert seen == [(slice(0, 5), threading.current_thread().name)]
