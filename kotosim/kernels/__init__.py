"""Numba kernels: plain floats and arrays in, plain floats and arrays out.

Each formula is written once here and reused by every experiment:

- :mod:`kotosim.kernels.kinematics` -- two-body momenta, boosts, isotropic directions;
- :mod:`kotosim.kernels.sampling` -- exact sampling of tabulated spectra, truncated exponentials;
- :mod:`kotosim.kernels.propagation` -- ray/volume path lengths and decay-in-volume probabilities;
- :mod:`kotosim.kernels.daughters` -- phi decay products and the decay points at which detectors
  see them (exact interval sets along phi's path);
- :mod:`kotosim.kernels.koto` -- KOTO detector response, pi0 reconstruction and the event loop.
"""
