"""Helpers shared by the experiment drivers."""

from __future__ import annotations

import numpy as np


def refuse_options(options, name: str) -> None:
    """Raise a one-line ValueError if an experiment without model options was given some
    (``--br``, ``--eps-q``, ``--eps-l`` set the CHARM yield and the KOTO phi decays)."""
    if options:
        raise ValueError(f"options: {name} takes none (--br, --eps-q, --eps-l are for charm "
                         f"and koto), got {sorted(options)}")


def sample_columns(rec: np.ndarray, fields: tuple[str, ...]):
    """Event-sample rows as named columns plus builders of vector records.

    Returns ``(col, p4, vertex)``: ``col[name]`` is a column; ``p4(prefix)`` zips the columns
    ``prefix_px/py/pz/e`` into vector ``Momentum4D`` records; ``vertex()`` zips
    ``vtx_x/y/z`` into ``Vector3D`` records (awkward with vector behaviours registered)."""
    import awkward as ak
    import vector

    vector.register_awkward()
    col = {n: rec[:, i] for i, n in enumerate(fields)}

    def p4(prefix: str):
        return ak.zip({"px": col[f"{prefix}_px"], "py": col[f"{prefix}_py"],
                       "pz": col[f"{prefix}_pz"], "E": col[f"{prefix}_e"]},
                      with_name="Momentum4D")

    def vertex():
        return ak.zip({"x": col["vtx_x"], "y": col["vtx_y"], "z": col["vtx_z"]},
                      with_name="Vector3D")

    return col, p4, vertex
