"""Frozen copy of the decay-in-flight kernel and the primitives it calls, exactly as on main
at commit 83876bb (before the issue-10 speed work): ``kotosim/kernels/{_flags, rng,
kinematics, sampling, propagation, flight}.py``. The benchmark and the "results unchanged"
tests run it side by side with the current kernel. Do not edit: it is the baseline."""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def before_kernel():
    """Run every decay-in-flight experiment through the frozen kernel inside the block:
    :mod:`kotosim.experiments._flight` calls this package's ``run_chunks`` with the
    configuration converted to its own ``FlightConfig`` (fields it does not know are
    dropped; the frozen kernel always fills the fine c tau curve; it draws the parents from
    the event stream, so the parents' own stream and bank arguments of the current
    ``run_chunks`` are dropped too)."""
    from types import SimpleNamespace

    from kotosim.experiments import _flight

    from . import flight as FB

    def run_chunks(cfg, seeds, pseeds, bank, *args):
        old = FB.FlightConfig(**{k: getattr(cfg, k) for k in FB.FlightConfig._fields})
        FB.run_chunks(old, seeds, *args)

    saved = _flight.F
    _flight.F = SimpleNamespace(**{k: getattr(saved, k) for k in dir(saved)
                                   if not k.startswith("__")})
    _flight.F.run_chunks = run_chunks
    try:
        yield FB
    finally:
        _flight.F = saved
