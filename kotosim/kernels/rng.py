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


# fdlibm minimax coefficients of sin and cos on [-pi/4, pi/4] (Sun Microsystems 1993, as in
# musl src/math/__sin.c and __cos.c): |error| < 2^-58 relative on the interval
_S1, _S2, _S3 = -1.66666666666666324348e-01, 8.33333333332248946124e-03, -1.98412698298579493134e-04
_S4, _S5, _S6 = 2.75573137070700676789e-06, -2.50507602534068634195e-08, 1.58969099521155010221e-10
_C1, _C2, _C3 = 4.16666666666666019037e-02, -1.38888888888741095749e-03, 2.48015872894767294178e-05
_C4, _C5, _C6 = -2.75573143513906633035e-07, 2.08757232129817482790e-09, -1.13596475577881948265e-11
_HALF_PI = 0.5 * math.pi


@njit(cache=True, error_model="numpy")  # no fastmath: the compensated sum in cos must stay
def sincos_2pi(u: float) -> tuple[float, float]:
    """(sin 2 pi u, cos 2 pi u) for u in [0, 1), without a branchy range reduction: the
    quadrant n = round(4u) and f = 4u - n in [-1/2, 1/2] are exact, x = f pi/2 is rounded
    once, then the fdlibm kernels (musl __sin.c, __cos.c) and the quadrant's signs. Absolute
    difference from math.sin/cos(2 pi u) below 1e-15 (that of rounding 2 pi u itself;
    tested); several times faster than glibc sincos on random angles, which mispredicts its
    branchy range reduction. Consumes no random number."""
    n = math.floor(4.0 * u + 0.5)
    x = (4.0 * u - n) * _HALF_PI
    z = x * x
    w = z * z
    r = _S2 + z * (_S3 + z * _S4) + z * w * (_S5 + z * _S6)
    sn = x + z * x * (_S1 + z * r)
    rc = z * (_C1 + z * (_C2 + z * _C3)) + w * w * (_C4 + z * (_C5 + z * _C6))
    hz = 0.5 * z
    w = 1.0 - hz
    cs = w + (((1.0 - w) - hz) + z * rc)
    q = int(n) & 3
    if q & 1:
        sn, cs = cs, -sn
    if q & 2:
        sn, cs = -sn, -cs
    return sn, cs


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def gauss_pair(s: np.ndarray, poly: bool = False) -> tuple[float, float]:
    """Two independent standard normal numbers (Box & Muller, Ann. Math. Stat. 29 (1958) 610).
    ``poly``: cos and sin of the angle from :func:`sincos_2pi` (same uniforms, same order;
    values within 1e-15 of the libm ones)."""
    u1 = 1.0 - uniform(s)  # in (0, 1]
    r = math.sqrt(-2.0 * math.log(u1))
    if poly:
        sn, cs = sincos_2pi(uniform(s))
        return r * cs, r * sn
    t = 2.0 * math.pi * uniform(s)
    return r * math.cos(t), r * math.sin(t)
