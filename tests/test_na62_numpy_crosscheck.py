"""The NA62 chain of the decay-in-flight kernel against an independent NumPy implementation
(``validation/numpy_na62.py``, written from the geometry file and the selection's formulas,
with its own random stream): the invisible acceptance per K+ decay agrees within Monte Carlo
errors at every c tau, for phi masses where different cuts bind (m^2_miss region 1 or 2)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

import kotosim
from kotosim.experiments import _flight, na62
from kotosim.kernels import flight as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "validation"))
import numpy_na62 as NN  # noqa: E402

CTAU = np.array([100.0, 1e3, 1e4, 1e6, math.inf])  # mm


@pytest.mark.parametrize("mass", [40.0, 120.0, 220.0])
def test_numba_and_numpy_na62_agree(mass):
    n = 300_000
    ref = NN.run(mass, CTAU, n, seed=21)
    a, ea = NN.per_decay(ref)
    tot = na62.run_channel(kotosim.load_geometry("na62"), mass, CTAU, n, 22, hists=False,
                           curve=False)
    b, eb = _flight.quantity(tot, F.Q_MAIN, decay=True)
    assert np.all(a > 0) and np.all(b > 0)  # the selection accepts events at every c tau
    assert np.all(np.diff(b) >= 0)  # longer-lived phi escapes the veto more often
    pull = (b - a) / np.hypot(ea, eb)
    assert np.all(np.abs(pull) < 4.0), pull  # 4 sigma: fails with probability ~1e-4
