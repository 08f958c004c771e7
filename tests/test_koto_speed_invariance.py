"""The optimised KOTO kernel draws the same events as the kernel before the speed work.

``validation/_koto_before.py`` is a frozen copy of ``kernels/koto.py`` + ``kernels/daughters.py``
at the branch point of the speed work. Both kernels run here, in the same test run, through the
same driver (:func:`kotosim.experiments.koto.run_channel`) at fixed seeds. The new kernel draws
the same uniforms in the same order; it takes sin/cos of the random angles from its own
branch-free kernel (a few 1e-16 from libm) and LLVM may fuse/reassociate differently across the
inlined helpers, so values agree to the last bits, not bit for bit. Required: the cut flow and the
sums of K_L decay weights identical, every event's stage, channel and number of daughters
identical, the acceptance sums equal to 1e-12 relative; veto attribution, histograms, event
weights and event-sample kinematics to 1e-10 relative (or 1e-12 of the column's largest value
for components near zero): last-bit differences grow through boosts at gamma ~ 20 and in
survival factors exp(-L/lambda) ~ exp(-60). No expected number is hard-coded: the reference is
the old kernel's output.
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
def test_new_kernel_reproduces_old_kernel(channel, mass, ctau, seed, overrides,
                                                      smear):
    old = _run(B, channel, mass, ctau, seed, 1, overrides, smear)
    new = _run(K, channel, mass, ctau, seed, 1, overrides, smear)
    n_sig = old["counts"][K.N_HEAD + len(K.STAGES) - 1]
    assert n_sig > 0  # the comparison covers events that reach the signal region
    if channel == K.CHANNEL_PHI:
        assert np.any(old["region"] > 0)  # ... and phi daughters that are seen
    np.testing.assert_array_equal(new["counts"], old["counts"])  # cut flow, sum of P_dec
    np.testing.assert_allclose(new["sig"], old["sig"], rtol=1e-12, atol=0.0)  # acceptances
    for k in ("region", "ptz", "egam", "rec_w"):
        np.testing.assert_allclose(new[k], old[k], rtol=1e-10, atol=0.0, err_msg=k)
    exact = [K.REC_FIELDS.index(c) for c in ("stage", "channel", "n_dau")]
    np.testing.assert_array_equal(new["rec"][:, exact], old["rec"][:, exact])
    for c, name in enumerate(K.REC_FIELDS):  # components near 0: 1e-12 of the column's scale
        col = old["rec"][:, c]
        scale = np.max(np.abs(col[np.isfinite(col)]), initial=0.0)
        np.testing.assert_allclose(new["rec"][:, c], col, rtol=1e-10, atol=1e-12 * scale,
                                   equal_nan=True, err_msg=name)


def test_new_kernel_same_on_one_and_two_threads():
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs NUMBA_NUM_THREADS >= 2")
    one = _run(K, K.CHANNEL_PHI, 150.0, CTAU, 8, 1)
    two = _run(K, K.CHANNEL_PHI, 150.0, CTAU, 8, 2)
    for k in KEYS:
        np.testing.assert_array_equal(one[k], two[k], err_msg=k)  # NaN == NaN here


def test_sincos_2pi_matches_libm():
    """The branch-free sin/cos of 2 pi u: within 4 ulp of 1 of libm's sin/cos(2 pi u)
    (whose own argument 2 pi u is rounded), on the unit circle, exact at the quarter turns."""
    u = np.concatenate([np.random.default_rng(7).random(20_000),
                        np.arange(16) / 16.0, [1.0 - 2.0**-53, 2.0**-40]])
    sc = np.array([K.sincos_2pi(x) for x in u])
    assert np.max(np.abs(sc[:, 0] - np.sin(2 * np.pi * u))) < 4 * 2.0**-52
    assert np.max(np.abs(sc[:, 1] - np.cos(2 * np.pi * u))) < 4 * 2.0**-52
    assert np.max(np.abs(sc[:, 0] ** 2 + sc[:, 1] ** 2 - 1.0)) < 4 * 2.0**-52
    q = np.arange(4) / 4.0
    np.testing.assert_array_equal([K.sincos_2pi(x) for x in q],
                                  [(0.0, 1.0), (1.0, 0.0), (0.0, -1.0), (-1.0, 0.0)])


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
