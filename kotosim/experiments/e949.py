"""E949: K+ -> pi+ phi from stopped K+, phi invisible, in the decay-in-flight kernel.

K+ at rest in the target (``SRC_AT_REST``, decay where it stopped); isotropic two-body decay;
pi+ inside the polar-angle acceptance with its smeared momentum in the pnn1 or pnn2 window
(E949, PRD 79 (2009) 092004, arXiv:0903.0030); phi counted invisible with the probability
that it does not decay inside the detector cylinder ([[veto]], radius 1.45 m). The phi
momentum is the two-body momentum at rest, so the one-formula estimate uses that p.

Result keys mirror NA62's: ``invisible_per_k_decay`` (main), ``stable_per_k_decay`` (its
c tau = inf limit), ``vetoed_per_k_decay``; plus the pnn1/pnn2 split.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .. import analytic, engine
from .. import constants as C
from ..geometry import Geometry, GeometryError, Spec, register_check, register_schema
from ..kernels import flight as F
from ..kernels.kinematics import two_body_momentum
from ..result import Result
from . import _flight
from ._common import refuse_options

L, E, N = "length", "energy", "1"
CHANNEL = 0
MAX_MASS = C.M_KPLUS - C.M_PIPLUS
MASS_NOTE = "K+ -> pi+ phi needs mass < m_K+ - m_pi+"

SCHEMA: dict[str, Spec] = {
    "target.stop_radius": Spec(L, 0.0, 1e3),
    "target.stop_half_length": Spec(L, 0.0, 1e3),
    "cuts.pnn1_p_min": Spec(E, 0.0, 300.0),
    "cuts.pnn1_p_max": Spec(E, 0.0, 300.0),
    "cuts.pnn2_p_min": Spec(E, 0.0, 300.0),
    "cuts.pnn2_p_max": Spec(E, 0.0, 300.0),
    "cuts.cos_theta_max": Spec(N, 0.0, 1.0),
    "resolution.momentum": Spec(N, 0.0, 0.2),
    "histograms.flight_bins": Spec(N, 1, 10000, integer=True),
    "histograms.flight_low": Spec(L, 1e-3, 1e9),
    "histograms.flight_high": Spec(L, 1e-3, 1e9),
    "analytic.length": Spec(L, 1.0, 1e6),
}


def check(geo: Geometry) -> None:
    """Orderings of the windows; the target must lie inside the detector."""
    _flight.require_order(
        geo, ("cuts.pnn1_p_min", "cuts.pnn1_p_max"), ("cuts.pnn2_p_min", "cuts.pnn2_p_max"),
        ("histograms.flight_low", "histograms.flight_high"))
    for v in geo.volumes.get("veto", ()):
        if v.shape == "cylinder":
            z1, z2, r, cx, cy = v.params
            inside = (z1 < -geo["target.stop_half_length"]
                      and geo["target.stop_half_length"] < z2
                      and np.hypot(cx, cy) + geo["target.stop_radius"] < r)
            if not inside:
                raise GeometryError(
                    f"{geo.path}: key 'veto.{v.name}' must contain the K+ stopping region "
                    f"(|z| < target.stop_half_length, r < target.stop_radius)")


register_schema("e949", SCHEMA, ("veto",))
register_check("e949", check)


def kernel_config(geo: Geometry, mass: float, n_events: int, chunk_size: int,
                  record_cap: int, smear: bool = True) -> F.FlightConfig:
    g = geo.values
    return F.FlightConfig(
        mode=F.MODE_E949, source=F.SRC_AT_REST, vertex=F.VTX_AT_REST, m_parent=C.M_KPLUS,
        ctau_parent=C.CTAU_KPLUS, m_h=C.M_PIPLUS, m_phi=float(mass),
        chunk_size=int(chunk_size), n_events=int(n_events), record_cap=int(record_cap),
        hist_var=F.HIST_FLIGHT, hist_log=True, hist_lo=g["histograms.flight_low"],
        hist_hi=g["histograms.flight_high"], smear=bool(smear),
        stop_radius=g["target.stop_radius"], stop_half_length=g["target.stop_half_length"],
        pnn1_lo=g["cuts.pnn1_p_min"], pnn1_hi=g["cuts.pnn1_p_max"],
        pnn2_lo=g["cuts.pnn2_p_min"], pnn2_hi=g["cuts.pnn2_p_max"],
        res_p_rest=g["resolution.momentum"], cos_max=g["cuts.cos_theta_max"],
    )


def run_channel(geo: Geometry, mass: float, ctau: np.ndarray, n_events: int, seed: int,
                mass_index: int = 0, *, smear: bool = True, hists: bool = True,
                sample_size: int = 0, chunk_size: int = engine.DEFAULT_CHUNK_SIZE,
                chunks: np.ndarray | None = None,
                progress: Callable[[int], None] | None = None, curve: bool = True
                ) -> dict[str, np.ndarray]:
    cap = min(int(sample_size), int(n_events))
    cfg = kernel_config(geo, mass, n_events, chunk_size, cap, smear)
    nb = int(geo["histograms.flight_bins"]) if hists else 0
    return _flight.run(geo, cfg, CHANNEL, ctau, seed, mass_index, hist_bins=nb, chunks=chunks,
                       progress=progress, curve=curve)


def scan_block(geo: Geometry, mass: float, ctau: np.ndarray, n_events: int, seed: int,
               mass_index: int, block: np.ndarray) -> dict[str, np.ndarray]:
    """Accumulators of one block of chunks (no histograms, no sample)."""
    return _flight.strip(run_channel(geo, mass, ctau, n_events, seed, mass_index, hists=False,
                                     chunks=block, curve=False))


def phi_momentum(mass: float) -> float:
    """phi momentum [MeV] in K+ -> pi+ phi at rest (the p of the one-formula estimate)."""
    return max(two_body_momentum(C.M_KPLUS, C.M_PIPLUS, float(mass)), 1e-9)


def _analytic(geo: Geometry, mass: float, ctau: np.ndarray, tot: dict[str, np.ndarray],
              acc: np.ndarray, err: np.ndarray):
    eps, _ = _flight.selected_fraction(tot, decay=True)
    return analytic.compare(mass, ctau, acc, err, eps, geo["analytic.length"],
                            phi_momentum(mass))


def scan_finish(geo: Geometry, mass: float, ctau: np.ndarray, tot: dict[str, np.ndarray],
                ref: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Invisible-phi acceptance per stopped K+ over the c tau grid."""
    acc, err = _flight.quantity(tot, F.Q_MAIN, decay=True)
    ana, ana_err = _analytic(geo, mass, ctau, tot, acc, err)
    return analytic.scan_entry(acc, err, ana, ana_err)


def simulate(geo: Geometry, mass: float, ctau: Sequence[float] | np.ndarray, n_events: int,
             seed: int, *, mass_index: int = 0, reference: bool = True, smear: bool = True,
             hists: bool = True, sample_size: int = 0,
             chunk_size: int = engine.DEFAULT_CHUNK_SIZE,
             progress: Callable[[int], None] | None = None, options=None) -> Result:
    """Simulate K+ -> pi+ phi from stopped K+ (mass [MeV], c tau grid [mm]) at E949.
    ``reference`` is accepted for the common interface and not used; ``options`` must be
    empty."""
    refuse_options(options, "E949")
    ctau = np.asarray(ctau, dtype=float)
    tot = run_channel(geo, mass, ctau, n_events, seed, mass_index, smear=smear, hists=hists,
                      sample_size=sample_size, chunk_size=chunk_size, progress=progress)
    keys = {"invisible_per_k_decay": F.Q_MAIN, "vetoed_per_k_decay": F.Q_SIGNAL,
            "invisible_pnn1_per_k_decay": F.Q_DAU, "invisible_pnn2_per_k_decay": F.Q_DAU + 1}
    acc, err = {}, {}
    for key, k in keys.items():
        acc[key], err[key] = _flight.quantity(tot, k, decay=True)
    eps, eps_e = _flight.selected_fraction(tot, decay=True)
    acc["stable_per_k_decay"] = np.full(ctau.size, eps)
    err["stable_per_k_decay"] = np.full(ctau.size, eps_e)
    g = geo.values
    win = (f"pnn1 {g['cuts.pnn1_p_min']:g}-{g['cuts.pnn1_p_max']:g} or pnn2 "
           f"{g['cuts.pnn2_p_min']:g}-{g['cuts.pnn2_p_max']:g} MeV/c")
    desc = {
        "invisible_per_k_decay": f"K+ -> pi+ phi at rest with the pi+ selected ({win}, "
                                 f"|cos theta| < {g['cuts.cos_theta_max']:g}, smeared) and phi "
                                 "not decaying inside the detector, per stopped K+",
        "vetoed_per_k_decay": "pi+ selected but phi decays inside the detector (vetoed), "
                              "per stopped K+",
        "invisible_pnn1_per_k_decay": "invisible acceptance with the pi+ in pnn1",
        "invisible_pnn2_per_k_decay": "invisible acceptance with the pi+ in pnn2",
        "stable_per_k_decay": "pi+ selection alone (= invisible acceptance of a stable phi)",
    }
    inv, inv_e = acc["invisible_per_k_decay"], err["invisible_per_k_decay"]
    ana, ana_err = _analytic(geo, mass, ctau, tot, inv, inv_e)
    acc |= ana
    err |= ana_err
    p_phi = phi_momentum(mass)
    desc |= {"analytic": "one-formula estimate: stable-phi acceptance x exp(-L m/(p ctau)) "
                         f"with L = {g['analytic.length'] / 1000:g} m, p = {p_phi:.4g} MeV "
                         "(two-body momentum at rest)",
             "sim_over_analytic": "simulation / one-formula estimate",
             "L_eff_mm": "L [mm] the formula needs at that p to match the simulation",
             "p_eff_MeV": "p [MeV] the formula needs at that L to match the simulation"}
    cfg = kernel_config(geo, mass, n_events, chunk_size, 0, smear)
    h = _flight.histograms(tot, cfg, "phi_decay",
                           "phi flight from the K+ stop [mm]"
                           ) if hists else {}
    sample = None
    if sample_size > 0:
        sample, _ = _flight.sample_array(tot["rec"], tot["rec_w"], "K+", "pi+")
    ct_curve = _flight.CTAU_CURVE
    radius = [v.params[2] for v in geo.volumes.get("veto", ()) if v.shape == "cylinder"]
    config = {
        "geometry": geo.path, "variant": geo.variant or "", "smear": bool(smear),
        "chunk_size": int(chunk_size), "mass_index": int(mass_index),
        "main_key": "invisible_per_k_decay",
        "main_label": "invisible acceptance per stopped K$^+$",
        "title": r"E949 $K^+\to\pi^+\phi$ at rest, $\phi$ invisible",
        "acceptance_curve": _flight.curve_config(tot, True, "per stopped K+"),
        "analytic_curve": {
            "ctau_mm": ct_curve.tolist(),
            "value": (eps * analytic.survival(mass, ct_curve, g["analytic.length"],
                                              p_phi)).tolist(),
            "label": rf"$\epsilon\,e^{{-Lm/(p c\tau)}}$, L = {g['analytic.length'] / 1e3:g} m,"
                     rf" p = {p_phi:.0f} MeV"},
        "plot_lines": [(r, "detector radius") for r in radius[:1]],
        "hist_log": True,
    }
    return Result(
        experiment=geo.experiment, variant=geo.variant, mass=float(mass), ctau=ctau,
        n_events=int(n_events), seed=int(seed), acceptance=acc, error=err,
        cutflow={"K+ -> pi+ phi": [("K+ stopped and decayed", 1.0), ("pi+ selected", eps)]},
        hists=h, sample=sample, config=config, descriptions=desc)
