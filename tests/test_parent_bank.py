"""CHARM's parents come from their own random stream, independent of the phi mass, so a scan
draws them once (a parent bank) and reuses them for every mass: the same numbers as drawing
them in the kernel, for every mass."""

from __future__ import annotations

import numpy as np

import kotosim
from kotosim.experiments import _flight, charm

CT = np.array([1e3, 1e5, 1e7])


def _run(mass: float, mass_index: int, share: bool, channel: int = 0) -> dict:
    geo = kotosim.load_geometry("charm")
    return charm.run_channel(geo, channel, mass, CT, 30_000, 9, mass_index, hists=False,
                             curve=False, share_parents=share, sample_size=30_000)


def _equal(a: dict, b: dict) -> None:
    for k in ("counts", "q", "curve", "rec", "rec_w"):
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_bank_gives_the_same_numbers_as_drawing_in_the_kernel(monkeypatch):
    _flight._banks.clear()
    drawn = _run(150.0, 4, False)
    banked = _run(150.0, 4, True)  # bank made
    assert len(_flight._banks) == 1
    again = _run(150.0, 4, True)  # bank reused
    _equal(drawn, banked)
    _equal(drawn, again)
    assert drawn["q"].any()
    # a bank that would not fit is not made: the parents are drawn, the same numbers
    _flight._banks.clear()
    monkeypatch.setattr(_flight, "BANK_BYTES", 1000)
    _equal(drawn, _run(150.0, 4, True))
    assert not _flight._banks


def test_every_mass_sees_the_same_parents_and_its_own_decays():
    a = _run(30.0, 0, True, channel=2)
    b = _run(200.0, 7, True, channel=2)
    i = {n: k for k, n in enumerate(charm.F.REC_FIELDS)}
    for col in ("parent_px", "parent_py", "parent_pz", "vtx_z", "w_parent", "parent_flight"):
        np.testing.assert_array_equal(a["rec"][:, i[col]], b["rec"][:, i[col]], err_msg=col)
    # ... but not the same phi: the decays use the mass's own stream (and mass)
    assert not np.array_equal(a["rec"][:, i["phi_px"]], b["rec"][:, i["phi_px"]])
    assert np.all(a["rec"][:, i["w_parent"]] > 0)
