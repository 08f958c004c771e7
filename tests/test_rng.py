"""xoshiro256+ generator of the kernels against a plain-Python transcription of the reference C
code (Blackman & Vigna, prng.di.unimi.it/xoshiro256plus.c), and its uniform/normal output."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from scipy import stats

from kotosim.engine import chunk_seeds
from kotosim.kernels.rng import gauss_pair, new_state, next_u64, uniform

M64 = (1 << 64) - 1


def _reference(state, n):
    s = [int(x) for x in state]
    out = []
    for _ in range(n):
        out.append((s[0] + s[3]) & M64)
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = ((s[3] << 45) | (s[3] >> 19)) & M64
    return out


@njit
def _u64(rs, n):
    out = np.empty(n, dtype=np.uint64)
    for i in range(n):
        out[i] = next_u64(rs)
    return out


@njit
def _uniforms(rs, n):
    out = np.empty(n)
    for i in range(n):
        out[i] = uniform(rs)
    return out


@njit
def _normals(rs, n):
    out = np.empty(2 * n)
    for i in range(n):
        out[2 * i], out[2 * i + 1] = gauss_pair(rs)
    return out


def test_matches_reference_algorithm():
    st = new_state(np.random.SeedSequence(123).generate_state(4, np.uint64))[0]
    ref = _reference(st.copy(), 1000)
    assert [int(x) for x in _u64(st, 1000)] == ref


def test_uniform_and_normal_distributions():
    st = new_state(np.random.SeedSequence(7).generate_state(4, np.uint64))[0]
    u = _uniforms(st, 200_000)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    g = _normals(st, 100_000)
    assert stats.kstest(g, "norm").pvalue > 1e-3
    # the two numbers of a pair are uncorrelated
    assert abs(np.corrcoef(g[0::2], g[1::2])[0, 1]) < 5 / np.sqrt(100_000)


def test_chunk_states_distinct_and_keyed():
    a = chunk_seeds(1, "koto", 0, 0, np.arange(4))
    assert a.shape == (4, 4) and a.dtype == np.uint64
    assert len({tuple(r) for r in a}) == 4
    np.testing.assert_array_equal(a[2:], chunk_seeds(1, "koto", 0, 0, np.arange(2, 4)))
    assert not np.array_equal(a, chunk_seeds(1, "koto", 0, 1, np.arange(4)))
    with pytest.raises(ValueError):
        new_state(np.zeros(4, dtype=np.uint64))
