"""The optimised KOTO kernel draws the same events as the kernel before the speed work.

``validation/_koto_before.py`` is a frozen copy of ``kernels/koto.py`` + ``kernels/daughters.py``
at the branch point of the speed work. Both kernels run here, in the same test run, through the
same driver (:func:`kotosim.experiments.koto.run_channel`) at fixed seeds; every accumulator
(cut flow, acceptance sums, veto attribution, Pt-Z and photon-energy histograms) and the
event-sample rows must be bit-identical. No expected number is hard-coded: the reference is the
old kernel's output.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numba
import numpy as np
import pytest

import kotosim
from kotosim.experiments import koto as X
from kotosim.kernels import koto as K

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "validation"))
import _koto_before as B  # noqa: E402

KEYS = ("counts", "sig", "region", "ptz", "egam", "rec", "rec_w")
CTAU = np.array([30.0, 300.0, 3e3, 3e4, math.inf])


def _run(mod, channel: int, mass: float, ctau: np.ndarray, seed: int, threads: int,
         overrides: dict | None = None, smear: bool = True) -> dict[str, np.ndarray]:
    """run_channel with the kernel module ``mod`` in place of kernels/koto.py."""
    geo = kotosim.load_geometry("koto", overrides=overrides)
    old_k, old_t = X.K, numba.get_num_threads()
    X.K = mod
    numba.set_num_threads(threads)
    try:
        return X.run_channel(geo, channel, mass, ctau, 60_000, seed, smear=smear, hists=True,
                             sample_size=3000, chunk_size=4096)
    finally:
        X.K = old_k
        numba.set_num_threads(old_t)


CASES = [
    pytest.param(K.CHANNEL_PHI, 100.0, CTAU, 3, None, True, id="pi0phi-100MeV"),
    pytest.param(K.CHANNEL_PHI, 300.0, CTAU, 4, None, True, id="pi0phi-300MeV-pipi"),
    pytest.param(K.CHANNEL_PHI, 20.0, CTAU, 5, None, False, id="pi0phi-20MeV-unsmeared"),
    pytest.param(K.CHANNEL_PINUNU, 0.0, np.array([math.inf]), 6, None, True, id="pi0nunu"),
]


@pytest.mark.parametrize("channel, mass, ctau, seed, overrides, smear", CASES)
def test_new_kernel_reproduces_old_kernel_bit_for_bit(channel, mass, ctau, seed, overrides,
                                                      smear):
    old = _run(B, channel, mass, ctau, seed, 1, overrides, smear)
    new = _run(K, channel, mass, ctau, seed, 1, overrides, smear)
    n_sig = old["counts"][K.N_HEAD + len(K.STAGES) - 1]
    assert n_sig > 0  # the comparison covers events that reach the signal region
    if channel == K.CHANNEL_PHI:
        assert np.any(old["region"] > 0)  # ... and phi daughters that are seen
    for k in KEYS:
        np.testing.assert_array_equal(new[k], old[k], err_msg=k)


def test_new_kernel_same_on_one_and_two_threads():
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs NUMBA_NUM_THREADS >= 2")
    one = _run(K, K.CHANNEL_PHI, 150.0, CTAU, 8, 1)
    two = _run(K, K.CHANNEL_PHI, 150.0, CTAU, 8, 2)
    for k in KEYS:
        np.testing.assert_array_equal(one[k], two[k], err_msg=k)


def test_squeeze_is_below_density_and_envelope():
    """The squeeze never exceeds the density anywhere in its bin (it only skips exp calls
    whose outcome is already decided) and is useful (close to the envelope on most bins)."""
    geo = kotosim.load_geometry("koto")
    edges, heights, _, _ = X.spectrum_envelope(geo)
    cfg = X.kernel_config(geo, K.CHANNEL_PHI, 100.0, 10, 10, 0)
    low = K.squeeze_table(cfg, edges)
    args = (cfg.mu, cfg.sigma0, cfg.a, cfg.b)
    for k in range(low.size):
        x = np.linspace(edges[k], edges[k + 1], 41)
        assert low[k] <= min(K.spectrum_density(xi, *args) for xi in x)
        assert low[k] <= heights[k]
    assert np.sum(low * np.diff(edges)) > 0.9 * np.sum(heights * np.diff(edges))
