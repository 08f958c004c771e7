"""numba's cache of the kernels is dropped when any kernel module changes (numba itself checks
only the function's own file, not the modules it inlined nor the compilation flags)."""

from __future__ import annotations

import numba

from kotosim import kernels


def test_stale_kernel_cache_is_removed_and_stamped(tmp_path, monkeypatch):
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))
    where = kernels._cache_dir()
    assert where is not None and tmp_path in where.parents
    stale = [where / "koto.run_chunks-579.py311.nbi", where / "rng.uniform-50.py311.1.nbc"]
    other = where / "mymodule.f-3.py311.nbi"  # not a kotosim kernel: kept
    for f in [*stale, other]:
        f.write_bytes(b"x")
    (where / kernels._STAMP).write_text("0" * 64 + "\n")  # written by other kernel sources
    assert kernels.clear_stale_cache() is True
    assert not any(f.exists() for f in stale) and other.exists()
    assert (where / kernels._STAMP).read_text().strip() == kernels._digest()
    stale[0].write_bytes(b"x")  # cached by these very sources: kept
    assert kernels.clear_stale_cache() is False and stale[0].exists()


def test_digest_changes_with_any_kernel_module(tmp_path, monkeypatch):
    for name in ("koto.py", "rng.py", "_flags.py"):
        (tmp_path / name).write_text(f"# {name}\n")
    monkeypatch.setattr(kernels, "_HERE", tmp_path)
    d0 = kernels._digest()
    (tmp_path / "_flags.py").write_text("FASTMATH = True\n")  # only the flags change
    d1 = kernels._digest()
    (tmp_path / "rng.py").write_text("# an inlined helper changed\n")
    assert len({d0, d1, kernels._digest()}) == 3


def test_frozen_kernels_cache_follows_the_live_kernels(tmp_path):
    """validation/_frozen_cache.py: the frozen KOTO kernel inlines live kernel modules, so its
    numba cache is dropped when their digest changes, and kept while it does not."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "validation"))
    import _frozen_cache

    mod = tmp_path / "_frozen.py"
    mod.write_text("# a frozen kernel\n")
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    stale = cache / "_frozen._chunk-615.py311.1.nbc"
    stale.write_bytes(b"x")
    (cache / _frozen_cache._STAMP).write_text("0" * 64 + "\n")
    assert _frozen_cache.clear(str(mod)) is True and not stale.exists()
    assert (cache / _frozen_cache._STAMP).read_text().strip() == kernels._digest()
    stale.write_bytes(b"x")
    assert _frozen_cache.clear(str(mod)) is False and stale.exists()
