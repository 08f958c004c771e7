"""Compilation flags shared by the kernels.

``FASTMATH`` lets LLVM contract and reorder floating-point arithmetic (no approximate
functions, no finite-math assumption: inf and NaN keep their meaning, which the cτ = inf
weights rely on). Results stay deterministic for a given build.
"""

FASTMATH = {"contract", "reassoc", "nsz", "arcp"}
