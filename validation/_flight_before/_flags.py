"""Compilation flags shared by the kernels.

``FASTMATH`` lets LLVM contract and reorder floating-point arithmetic (no approximate
functions, no finite-math assumption: inf and NaN keep their meaning, which the cτ = inf
weights rely on). Results stay deterministic for a given build.
"""

FASTMATH = False  # as kotosim.kernels._flags since the kernels went IEEE: the frozen copy
# then differs from the new kernels by the speed work only
