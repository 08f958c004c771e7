"""NA62: K+ -> pi+ phi with phi invisible, in the decay-in-flight kernel.

K+ beam (75 GeV/c, 1% rms) entering the fiducial volume; K+ decay vertex from the exponential
law truncated to the fiducial volume (weight = its decay probability there); pi+ through the
STRAW chambers (thin-lens magnet kick) to the LKr, with the smeared momentum window and the
two m^2_miss signal regions; phi counted invisible with the probability that it does not
decay inside the instrumented region ([[veto]] volumes, up to the SAC).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .. import analytic, engine
from .. import constants as C
from ..geometry import Geometry, Spec, register_check, register_schema, require
from ..kernels import flight as F
from ..result import Result
from . import _flight
from ._common import refuse_options

L, E, A, N = "length", "energy", "angle", "1"
CHANNEL = 0
MAX_MASS = C.M_KPLUS - C.M_PIPLUS
MASS_NOTE = "K+ -> pi+ phi needs mass < m_K+ - m_pi+"

SCHEMA: dict[str, Spec] = {
    "beam.momentum": Spec(E, 1.0, 1e7),
    "beam.momentum_spread": Spec(N, 0.0, 0.2),
    "beam.divergence": Spec(A, 0.0, 0.1),
    "fiducial.z_min": Spec(L, 0.0, 1e7),
    "fiducial.z_max": Spec(L, 0.0, 1e7),
    **{f"straw.z{i}": Spec(L, 0.0, 1e7) for i in range(1, 5)},
    **{f"straw.hole_x{i}": Spec(L, -1e3, 1e3) for i in range(1, 5)},
    **{f"straw.x_centre{i}": Spec(L, -1e3, 1e3) for i in range(1, 5)},
    "straw.hole_half": Spec(L, 0.0, 1e3),
    "straw.r_max": Spec(L, 1.0, 1e4),
    "magnet.z": Spec(L, 0.0, 1e7),
    "magnet.pt_kick": Spec(E, -1e4, 1e4),
    "lkr.z": Spec(L, 0.0, 1e7),
    "lkr.x_centre": Spec(L, -1e3, 1e3),
    "lkr.half": Spec(L, 1.0, 1e4),
    "lkr.octagon": Spec(L, 1.0, 1e4),
    "lkr.r_min": Spec(L, 0.0, 1e3),
    "cuts.p_min": Spec(E, 0.0, 1e6),
    "cuts.p_max": Spec(E, 0.0, 1e6),
    "cuts.m2miss_r1_min": Spec("energy2", -1e6, 1e6),
    "cuts.m2miss_r1_max": Spec("energy2", -1e6, 1e6),
    "cuts.m2miss_r2_min": Spec("energy2", -1e6, 1e6),
    "cuts.m2miss_r2_max": Spec("energy2", -1e6, 1e6),
    "resolution.gtk_momentum": Spec(N, 0.0, 0.1),
    "resolution.gtk_angle": Spec(A, 0.0, 0.01),
    "resolution.straw_momentum_constant": Spec(N, 0.0, 0.1),
    "resolution.straw_momentum_slope": Spec("1/energy", 0.0, 1e-3),
    "resolution.straw_angle": Spec(A, 0.0, 0.01),
    "histograms.z_bins": Spec(N, 1, 10000, integer=True),
    "histograms.z_low": Spec(L, 0.0, 1e7),
    "histograms.z_high": Spec(L, 0.0, 1e7),
    "analytic.length": Spec(L, 0.0, 1e9),
    "analytic.momentum": Spec(E, 1e-3, 1e9),
}


def check(geo: Geometry) -> None:
    """Orderings: fiducial volume, chambers, LKr, momentum window, m^2_miss regions."""
    _flight.require_order(
        geo, ("fiducial.z_min", "fiducial.z_max"), ("fiducial.z_max", "straw.z1"),
        ("straw.z1", "straw.z2"), ("straw.z2", "magnet.z"), ("magnet.z", "straw.z3"),
        ("straw.z3", "straw.z4"), ("straw.z4", "lkr.z"), ("cuts.p_min", "cuts.p_max"),
        ("cuts.m2miss_r1_min", "cuts.m2miss_r1_max"),
        ("cuts.m2miss_r2_min", "cuts.m2miss_r2_max"),
        ("histograms.z_low", "histograms.z_high"))
    g = geo.values
    for ok, keys, rel in (
        (g["straw.hole_half"] < g["straw.r_max"], ("straw.hole_half", "straw.r_max"),
         "hole_half < r_max (the beam hole would cover the whole STRAW chamber)"),
        (g["lkr.r_min"] < g["lkr.half"], ("lkr.r_min", "lkr.half"),
         "r_min < half (the LKr inner hole would cover the calorimeter)"),
        (g["lkr.r_min"] < g["lkr.octagon"], ("lkr.r_min", "lkr.octagon"),
         "r_min < octagon (the LKr inner hole would cover the calorimeter)"),
        (g["cuts.p_min"] < g["beam.momentum"], ("cuts.p_min", "beam.momentum"),
         "cuts.p_min < beam.momentum (the pi+ carries less than the K+ momentum)"),
    ):
        require(geo, ok, keys, rel)


register_schema("na62", SCHEMA, ("veto",))
register_check("na62", check)


def planes(geo: Geometry) -> np.ndarray:
    """Rows [z, cx, cy, half, oct, r_min, r_max, hole_half, hole_cx] (kernels.flight):
    four STRAW chambers (r < r_max outside the square beam hole) and the LKr front (octagon,
    inner radius)."""
    g = geo.values
    rows = [[g[f"straw.z{i}"], g[f"straw.x_centre{i}"], 0, 0, 0, 0, g["straw.r_max"],
             g["straw.hole_half"], g[f"straw.hole_x{i}"]] for i in range(1, 5)]
    rows.append([g["lkr.z"], g["lkr.x_centre"], 0, g["lkr.half"], g["lkr.octagon"],
                 g["lkr.r_min"], 0, 0, 0])
    return np.array(rows, dtype=float)


def kernel_config(geo: Geometry, mass: float, n_events: int, chunk_size: int,
                  record_cap: int, smear: bool = True) -> F.FlightConfig:
    g = geo.values
    return F.FlightConfig(
        mode=F.MODE_NA62, source=F.SRC_BEAM, vertex=F.VTX_WINDOW, m_parent=C.M_KPLUS,
        ctau_parent=C.CTAU_KPLUS, m_h=C.M_PIPLUS, m_phi=float(mass),
        chunk_size=int(chunk_size), n_events=int(n_events), record_cap=int(record_cap),
        hist_var=F.HIST_Z, hist_log=False, hist_lo=g["histograms.z_low"],
        hist_hi=g["histograms.z_high"],
        p_beam=g["beam.momentum"], p_spread=g["beam.momentum_spread"],
        divergence=g["beam.divergence"], z_start=g["fiducial.z_min"],
        z_end=g["fiducial.z_max"], smear=bool(smear), p_min=g["cuts.p_min"],
        p_max=g["cuts.p_max"], m2_lo1=g["cuts.m2miss_r1_min"], m2_hi1=g["cuts.m2miss_r1_max"],
        m2_lo2=g["cuts.m2miss_r2_min"], m2_hi2=g["cuts.m2miss_r2_max"],
        res_pk=g["resolution.gtk_momentum"], res_thk=g["resolution.gtk_angle"],
        res_ppi_a=g["resolution.straw_momentum_constant"],
        res_ppi_b=g["resolution.straw_momentum_slope"], res_thpi=g["resolution.straw_angle"],
        z_kick=g["magnet.z"], kick=g["magnet.pt_kick"],
    )


def run_channel(geo: Geometry, mass: float, ctau: np.ndarray, n_events: int, seed: int,
                mass_index: int = 0, *, smear: bool = True, hists: bool = True,
                sample_size: int = 0, chunk_size: int = engine.DEFAULT_CHUNK_SIZE,
                chunks: np.ndarray | None = None,
                progress: Callable[[int], None] | None = None, curve: bool = True
                ) -> dict[str, np.ndarray]:
    cap = min(int(sample_size), int(n_events))
    cfg = kernel_config(geo, mass, n_events, chunk_size, cap, smear)
    nb = int(geo["histograms.z_bins"]) if hists else 0
    return _flight.run(geo, cfg, CHANNEL, ctau, seed, mass_index, planes=planes(geo),
                       hist_bins=nb, chunks=chunks, progress=progress, curve=curve)


def scan_block(geo: Geometry, mass: float, ctau: np.ndarray, n_events: int, seed: int,
               mass_index: int, block: np.ndarray) -> dict[str, np.ndarray]:
    """Accumulators of one block of chunks (no histograms, no sample)."""
    return _flight.strip(run_channel(geo, mass, ctau, n_events, seed, mass_index, hists=False,
                                     chunks=block, curve=False))


def _analytic(geo: Geometry, mass: float, ctau: np.ndarray, tot: dict[str, np.ndarray],
              acc: np.ndarray, err: np.ndarray):
    eps, _ = _flight.selected_fraction(tot, decay=True)
    return analytic.compare(mass, ctau, acc, err, eps, geo["analytic.length"],
                            geo["analytic.momentum"])


def scan_finish(geo: Geometry, mass: float, ctau: np.ndarray, tot: dict[str, np.ndarray],
                ref: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Invisible-phi acceptance per K+ decay in the fiducial volume over the c tau grid."""
    acc, err = _flight.quantity(tot, F.Q_MAIN, decay=True)
    ana, ana_err = _analytic(geo, mass, ctau, tot, acc, err)
    return analytic.scan_entry(acc, err, ana, ana_err)


def simulate(geo: Geometry, mass: float, ctau: Sequence[float] | np.ndarray, n_events: int,
             seed: int, *, mass_index: int = 0, reference: bool = True, smear: bool = True,
             hists: bool = True, sample_size: int = 0,
             chunk_size: int = engine.DEFAULT_CHUNK_SIZE,
             progress: Callable[[int], None] | None = None, options=None) -> Result:
    """Simulate K+ -> pi+ phi (mass [MeV], c tau grid [mm]) at NA62. ``reference`` is
    accepted for the common interface and not used; ``options`` must be empty."""
    refuse_options(options, "NA62")
    ctau = np.asarray(ctau, dtype=float)
    tot = run_channel(geo, mass, ctau, n_events, seed, mass_index, smear=smear, hists=hists,
                      sample_size=sample_size, chunk_size=chunk_size, progress=progress)
    inv_d, inv_de = _flight.quantity(tot, F.Q_MAIN, decay=True)
    inv_p, inv_pe = _flight.quantity(tot, F.Q_MAIN, decay=False)
    vet_d, vet_de = _flight.quantity(tot, F.Q_SIGNAL, decay=True)
    eps, eps_e = _flight.selected_fraction(tot, decay=True)
    c = tot["counts"]
    pdec = c[1] / c[0] if c[0] > 0 else np.nan
    acc = {"invisible_per_k_decay": inv_d, "invisible_per_k_entering": inv_p,
           "vetoed_per_k_decay": vet_d, "stable_per_k_decay": np.full(ctau.size, eps),
           "k_decay_in_fv": np.full(ctau.size, pdec)}
    err = {"invisible_per_k_decay": inv_de, "invisible_per_k_entering": inv_pe,
           "vetoed_per_k_decay": vet_de, "stable_per_k_decay": np.full(ctau.size, eps_e),
           "k_decay_in_fv": np.zeros(ctau.size)}
    desc = {
        "invisible_per_k_decay": "K+ -> pi+ phi with the pi+ selected (STRAW+LKr acceptance, "
                                 "15-35 GeV/c, m2miss in R1 or R2, smeared) and phi not "
                                 "decaying before the SAC, per K+ decay in the fiducial volume",
        "invisible_per_k_entering": "the same per K+ entering the fiducial volume",
        "vetoed_per_k_decay": "pi+ selected but phi decays in the instrumented region "
                              "(vetoed), per K+ decay in the fiducial volume",
        "stable_per_k_decay": "pi+ selection alone (= invisible acceptance of a stable phi)",
        "k_decay_in_fv": "probability that a K+ entering the fiducial volume decays in it",
    }
    ana, ana_err = _analytic(geo, mass, ctau, tot, inv_d, inv_de)
    acc |= ana
    err |= ana_err
    desc |= {"analytic": "one-formula estimate: stable-phi acceptance x exp(-L m/(p ctau)) with "
                         f"L = {geo['analytic.length'] / 1000:g} m, "
                         f"p = {geo['analytic.momentum'] / 1000:g} GeV",
             "sim_over_analytic": "simulation / one-formula estimate",
             "L_eff_mm": "L [mm] the formula needs at that p to match the simulation",
             "p_eff_MeV": "p [MeV] the formula needs at that L to match the simulation"}
    cfg = kernel_config(geo, mass, n_events, chunk_size, 0, smear)
    h = _flight.histograms(tot, cfg, "phi_decay",
                           "z of the phi decay [mm] (pi+ selected)") if hists else {}
    sample = None
    if sample_size > 0:
        sample, _ = _flight.sample_array(tot["rec"], tot["rec_w"], "K+", "pi+")
    ct_curve = _flight.CTAU_CURVE
    g = geo.values
    config = {
        "geometry": geo.path, "variant": geo.variant or "", "smear": bool(smear),
        "chunk_size": int(chunk_size), "mass_index": int(mass_index),
        "main_key": "invisible_per_k_decay",
        "main_label": "invisible acceptance per K$^+$ decay in FV",
        "title": r"NA62 $K^+\to\pi^+\phi$, $\phi$ invisible",
        "acceptance_curve": _flight.curve_config(tot, True, "per K+ decay in FV"),
        "analytic_curve": {
            "ctau_mm": ct_curve.tolist(),
            "value": (eps * analytic.survival(mass, ct_curve, g["analytic.length"],
                                              g["analytic.momentum"])).tolist(),
            "label": rf"$\epsilon\,e^{{-Lm/(p c\tau)}}$, L = {g['analytic.length'] / 1e3:g} m,"
                     rf" p = {g['analytic.momentum'] / 1e3:g} GeV"},
        "plot_lines": [(g["fiducial.z_min"], "FV"), (g["fiducial.z_max"], "FV end"),
                       (g["lkr.z"], "LKr")] + [(v.params[1], v.name)
                                               for v in geo.volumes.get("veto", ())[-1:]],
        "hist_log": False,
    }
    return Result(
        experiment=geo.experiment, variant=geo.variant, mass=float(mass), ctau=ctau,
        n_events=int(n_events), seed=int(seed), acceptance=acc, error=err,
        cutflow={"K+ -> pi+ phi": [("K+ entering FV", 1.0), ("K+ decays in FV", pdec),
                                   ("pi+ selected", pdec * eps)]},
        hists=h, sample=sample, config=config, descriptions=desc)
