"""kotosim: Monte Carlo detector acceptance for light long-lived scalars.

Public API::

    import kotosim
    res = kotosim.simulate("koto", mass=100.0, ctau=[10.0, 1e3, math.inf], n_events=10**6)
    print(res.table())
    kotosim.write_root(res, "koto.root")

Units: MeV, mm, ns (hepunits).
"""

from __future__ import annotations

__version__ = "0.1.0"

from .api import simulate
from .geometry import Geometry, GeometryError, available_geometries, load_geometry
from .io import write_root
from .maps import ScanResult, plot_scan, scan, write_scan_root
from .plotting import plot_ptz
from .recast import ReachResult, reach, write_reach_root
from .result import Result

__all__ = [
    "Geometry", "GeometryError", "Result", "__version__", "available_geometries",
    "load_geometry", "plot_ptz", "simulate", "write_root",
    "ScanResult", "plot_scan", "scan", "write_scan_root",
    "ReachResult", "reach", "write_reach_root",
]
