"""Shared fixtures: small KOTO runs reused by several tests (fixed seeds)."""

from __future__ import annotations

import math

import pytest

import kotosim

# beam on the axis: point target, zero collimator aperture (for exact-reconstruction checks)
ON_AXIS = {
    "beam.target_x_lo": 0.0, "beam.target_x_hi": 0.0, "beam.target_x_sigma_lo": 0.0,
    "beam.target_x_sigma_hi": 0.0, "beam.target_y_sigma": 0.0,
    "beam.collimator_half_x": 0.0, "beam.collimator_half_y": 0.0,
}


@pytest.fixture(scope="session")
def koto_unsmeared():
    """K_L -> pi0 phi (100 MeV) with detector resolution off, beam on axis, full sample."""
    return kotosim.simulate("koto", mass=100.0, ctau=[1000.0, math.inf], n_events=60_000,
                            seed=11, smear=False, overrides=ON_AXIS, sample_size=60_000,
                            reference=False)


@pytest.fixture(scope="session")
def koto_default():
    """Default KOTO run with the reference channel and a sample."""
    return kotosim.simulate("koto", mass=100.0, ctau=[100.0, 1000.0, math.inf],
                            n_events=200_000, seed=5, sample_size=50_000)


def assert_bad_geometry(text: str, fragment: str, tmp_path, capsys, monkeypatch) -> None:
    """A geometry file with ``text`` is rejected: GeometryError naming the file and
    ``fragment``; ``kotosim run FILE`` prints one line with ``fragment``, exits 2 and writes
    no file."""
    from kotosim.cli import main
    from kotosim.geometry import GeometryError

    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(GeometryError) as exc:
        kotosim.load_geometry(p)
    assert fragment in str(exc.value) and str(p) in str(exc.value)
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.chdir(out)
    assert main(["run", str(p), "--events", "1000"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0]
    assert list(out.iterdir()) == []
