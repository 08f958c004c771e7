"""Compilation flags shared by the kernels.

``FASTMATH`` is off: the kernels keep IEEE arithmetic. With LLVM's value-changing fast-math
flags (``contract``, ``reassoc``, ``arcp``) the last bits of a result depend on how a kernel
was optimised, and that is not a property of the source: a kernel compiled in the running
process and the same kernel loaded from numba's on-disk cache (as a Dask worker, a resumed
scan or a second ``kotosim`` process does) fused and reordered operations differently, and
the same seed gave acceptances differing at ~1e-15 relative (measured on a cold cache with
``kotosim.scan`` of tests/test_scan.py's map: three fresh compiles agreed with each other but
not with the cached kernel; with IEEE arithmetic all four agree bit for bit). "Same seed,
same numbers, on any executor" is a promise of kotosim, so the flags stay off; the cost in
speed is printed by validation/benchmark_koto.py and benchmark_flight.py.
"""

FASTMATH = False


def inlined(f, **callees):
    """``f``, an ``@njit`` function of a shared kernel module, compiled again from the SAME
    Python function (no copied source) to be inlined at numba-IR level into an event loop
    (``inline="always"``): no call, no reference counting of its array arguments (atomic
    NRT incref/decref on the generator state), with the numpy error model (its divisions are
    by masses, energies and decay lengths > 0). ``callees`` rebinds the names of the functions
    it calls to their inlined versions. Same source and fastmath flags, hence the same
    arithmetic."""
    import types

    from numba import njit

    py = f.py_func
    fn = types.FunctionType(py.__code__, dict(py.__globals__) | callees, py.__name__,
                            py.__defaults__, py.__closure__)
    return njit(inline="always", fastmath=FASTMATH, error_model="numpy")(fn)
