"""A small, fast, counter-free random generator for the kernels: xoshiro256+.

D. Blackman and S. Vigna, "Scrambled linear pseudorandom number generators",
ACM Trans. Math. Softw. 47 (2021) 36 (reference code: prng.di.unimi.it/xoshiro256plus.c).
Period 2^256 - 1; its top 53 bits, used here for doubles, pass BigCrush; the weak low bits
are discarded. The 256-bit state is a ``uint64[4]`` array owned by one chunk and seeded from
``numpy.random.SeedSequence(...).generate_state(4, np.uint64)`` (DESIGN.md principle 4), so a
chunk's stream does not depend on the thread that runs it. It costs ~1 ns a draw where
numba's ``np.random.random`` costs ~10 ns (measured in validation/benchmark_koto.py).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, uint64

from ._flags import FASTMATH

_S17 = uint64(17)
_S45 = uint64(45)
_S19 = uint64(19)
_S11 = uint64(11)
_TWO_M53 = 1.0 / 9007199254740992.0  # 2^-53


def new_state(seeds: np.ndarray) -> np.ndarray:
    """Validate and copy ``(n, 4)`` uint64 seed states (none may be all zero)."""
    st = np.ascontiguousarray(seeds, dtype=np.uint64).reshape(-1, 4).copy()
    if np.any(~st.any(axis=1)):
        raise ValueError("xoshiro256+ state must not be all zero")
    return st


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def next_u64(s: np.ndarray) -> np.uint64:
    """Advance the state ``s`` (uint64[4]) and return 64 random bits (xoshiro256+)."""
    result = s[0] + s[3]
    t = s[1] << _S17
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = (s[3] << _S45) | (s[3] >> _S19)
    return result


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def uniform(s: np.ndarray) -> float:
    """Uniform double in [0, 1) from the top 53 bits."""
    return float(next_u64(s) >> _S11) * _TWO_M53


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def gauss_pair(s: np.ndarray) -> tuple[float, float]:
    """Two independent standard normal numbers (Box & Muller, Ann. Math. Stat. 29 (1958) 610)."""
    u1 = 1.0 - uniform(s)  # in (0, 1]
    r = math.sqrt(-2.0 * math.log(u1))
    t = 2.0 * math.pi * uniform(s)
    return r * math.cos(t), r * math.sin(t)
