"""LHCb: B0 -> K*0 phi and B+ -> K+ phi in pp collisions, in the decay-in-flight kernel.

B mesons from a parametrised (p_T, y) spectrum inside 2 < eta < 5 (research notes sec. 3a:
dsigma/dp_T ~ p_T (1 + p_T^2/p0^2)^-n, Gaussian rapidity; tuned here to <p_T> ~ 5 GeV and
<p> ~ 90 GeV, NOT an LHCb fit), the B flight (PDG c tau) before its decay, then phi's
probability to decay

- *prompt*: within ``selection.prompt_length`` (default 5 mm) of the B vertex, as the
  e+e- vertex of the B -> K* e+e- measurement must coincide with the K* vertex;
- *displaced*: inside the VELO region ([[signal]] volumes) beyond
  ``selection.displaced_min`` from the B vertex, with both daughters (e+e- or mu+mu-) in
  2 < eta < 5, both crossing at least ``velo.min_modules`` VELO half-modules downstream of
  the decay point (the module layout of the Run 1-2 VELO, [velo]): the exact probability over
  the path intervals where this holds (:func:`kotosim.kernels.flight.seen_intervals`).

Acceptances are per B meson produced in 2 < eta < 5 that decays to K(*) phi.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .. import analytic, engine
from .. import constants as C
from ..geometry import Geometry, GeometryError, Spec, register_check, register_schema, require
from ..kernels import flight as F
from ..result import Result
from . import _flight
from ._common import refuse_options

L, E, N = "length", "energy", "1"

# parent channels: (key, label, parent mass, parent c tau, recoil hadron mass)
CHANNELS = (
    ("b0_kstar0", "B0 -> K*0 phi", C.M_B0, C.CTAU_B0, C.M_KSTAR0),
    ("bplus_kplus", "B+ -> K+ phi", C.M_BPLUS, C.CTAU_BPLUS, C.M_KPLUS),
)
# phi decay channels whose daughters are tracked: (key, daughter mass)
DAUGHTERS = (("ee", C.M_E), ("mumu", C.M_MU))
MAX_MASS = C.M_BPLUS - C.M_KPLUS
MASS_NOTE = ("B+ -> K+ phi needs mass < m_B+ - m_K+ (B0 -> K*0 phi closes at "
             f"{C.M_B0 - C.M_KSTAR0:.1f} MeV; the K*0 is taken at its pole mass)")

SCHEMA: dict[str, Spec] = {
    "production.pt0": Spec(E, 1.0, 1e6),
    "production.n": Spec(N, 1.01, 100.0),
    "production.sigma_y": Spec(N, 0.01, 100.0),
    "production.eta_min": Spec(N, -10.0, 10.0),
    "production.eta_max": Spec(N, -10.0, 10.0),
    "selection.prompt_length": Spec(L, 0.0, 1e4),
    "selection.displaced_min": Spec(L, 0.0, 1e4),
    "selection.daughter_eta_min": Spec(N, -10.0, 10.0),
    "selection.daughter_eta_max": Spec(N, -10.0, 10.0),
    "histograms.flight_bins": Spec(N, 1, 10000, integer=True),
    "histograms.flight_low": Spec(L, 1e-6, 1e9),
    "histograms.flight_high": Spec(L, 1e-6, 1e9),
    "analytic.length": Spec(L, 0.0, 1e9),
    "analytic.momentum": Spec(E, 1e-3, 1e9),
    # VELO modules (Run 1-2), see geometry/lhcb.toml [velo]
    "velo.first_module_z": Spec(L, -1e4, 1e4),
    "velo.central_spacing": Spec(L, 1.0, 1e3),
    "velo.n_central": Spec(N, 0, 100, integer=True),
    "velo.right_offset": Spec(L, -1e3, 1e3),
    "velo.low_angle_z": Spec(L, -1e4, 1e5),
    "velo.low_angle_second_z": Spec(L, -1e4, 1e5),
    "velo.low_angle_spacing": Spec(L, 1.0, 1e3),
    "velo.n_low_angle": Spec(N, 0, 100, integer=True),
    "velo.r_min": Spec(L, 0.0, 1e3),
    "velo.r_max": Spec(L, 0.1, 1e4),
    "velo.min_modules": Spec(N, 0, 100, integer=True),
}


def check(geo: Geometry) -> None:
    _flight.require_order(geo, ("production.eta_min", "production.eta_max"),
                          ("selection.daughter_eta_min", "selection.daughter_eta_max"),
                          ("histograms.flight_low", "histograms.flight_high"),
                          ("velo.r_min", "velo.r_max"))
    if not geo.volumes.get("signal"):
        raise GeometryError(f"{geo.path}: key 'signal': at least one [[signal]] volume (the "
                            "VELO region of displaced decays) needed")
    g = geo.values
    require(geo, g["selection.daughter_eta_min"] < g["production.eta_max"]
            and g["production.eta_min"] < g["selection.daughter_eta_max"],
            ("selection.daughter_eta_min", "selection.daughter_eta_max", "production.eta_min",
             "production.eta_max"), "overlapping B and daughter eta ranges")


register_schema("lhcb", SCHEMA, ("signal",))
register_check("lhcb", check)


def velo_modules(geo: Geometry) -> np.ndarray:
    """VELO half-modules as ``planes`` rows: a half annulus r_min < r < r_max on the x > 0
    side (left half) or x < 0 side (right half, ``right_offset`` downstream) at each module z:
    ``n_central`` modules every ``central_spacing`` from ``first_module_z``, then the
    low-angle modules at ``low_angle_z``, ``low_angle_second_z`` and every
    ``low_angle_spacing`` after it (``n_low_angle`` in all)."""
    g = geo.values
    z_left = [g["velo.first_module_z"] + k * g["velo.central_spacing"]
              for k in range(int(g["velo.n_central"]))]
    n_low = int(g["velo.n_low_angle"])
    if n_low > 0:
        z_left.append(g["velo.low_angle_z"])
    z_left += [g["velo.low_angle_second_z"] + k * g["velo.low_angle_spacing"]
               for k in range(n_low - 1)]
    big = 1e7  # a "beam hole" covering the other half plane
    rows = []
    for z in z_left:
        for zz, side in ((z, -1.0), (z + g["velo.right_offset"], 1.0)):
            rows.append([zz, 0.0, 0.0, 0.0, 0.0, g["velo.r_min"], g["velo.r_max"], big,
                         side * big])
    return np.array(rows, dtype=float).reshape(-1, F.NPLANE)


def daughters() -> np.ndarray:
    """Rows [daughter mass, e_min, e_max] of the tracked phi decay channels."""
    return np.array([[m, 0.0, np.inf] for _, m in DAUGHTERS])


def kernel_config(geo: Geometry, channel: int, mass: float, n_events: int, chunk_size: int,
                  record_cap: int) -> F.FlightConfig:
    g = geo.values
    _, _, m_b, ctau_b, m_h = CHANNELS[channel]
    return F.FlightConfig(
        mode=F.MODE_LHCB, source=F.SRC_COLLIDER, vertex=F.VTX_FREE, m_parent=m_b,
        ctau_parent=ctau_b, m_h=m_h, m_phi=float(mass), chunk_size=int(chunk_size),
        n_events=int(n_events), record_cap=int(record_cap), hist_var=F.HIST_FLIGHT,
        hist_log=True, hist_lo=g["histograms.flight_low"], hist_hi=g["histograms.flight_high"],
        pt0=g["production.pt0"], pt_n=g["production.n"], sigma_y=g["production.sigma_y"],
        eta_min=g["production.eta_min"], eta_max=g["production.eta_max"],
        prompt_length=g["selection.prompt_length"],
        displaced_min=g["selection.displaced_min"],
        dau_eta_min=g["selection.daughter_eta_min"],
        dau_eta_max=g["selection.daughter_eta_max"],
        velo_min_modules=int(g["velo.min_modules"]))


def open_channels(mass: float) -> list[int]:
    """Parent channels kinematically open at this phi mass."""
    return [c for c, ch in enumerate(CHANNELS) if mass < ch[2] - ch[4]]


def run_channel(geo: Geometry, channel: int, mass: float, ctau: np.ndarray, n_events: int,
                seed: int, mass_index: int = 0, *, hists: bool = True, sample_size: int = 0,
                chunk_size: int = engine.DEFAULT_CHUNK_SIZE, chunks: np.ndarray | None = None,
                progress: Callable[[int], None] | None = None, curve: bool = True,
                displaced: Sequence[int] | None = None) -> dict[str, np.ndarray]:
    """One parent channel. ``displaced``: only the prompt quantities and the displaced
    acceptance of these daughter channels (indices into ``DAUGHTERS``) are computed -- the
    others, and the decay probability in the VELO region, stay 0 (default: everything)."""
    cap = min(int(sample_size), int(n_events))
    cfg = kernel_config(geo, channel, mass, n_events, chunk_size, cap)
    if displaced is not None:
        cfg = cfg._replace(q_mask=(1 << F.Q_MAIN) | (1 << F.Q_PROMPT_DAU)
                           | sum(1 << (F.Q_DAU + int(c)) for c in set(displaced)))
    nb = int(geo["histograms.flight_bins"]) if hists else 0
    return _flight.run(geo, cfg, channel, ctau, seed, mass_index, planes=velo_modules(geo),
                       dau=daughters(), hist_bins=nb, chunks=chunks, progress=progress, curve=curve)


def scan_block(geo: Geometry, mass: float, ctau: np.ndarray, n_events: int, seed: int,
               mass_index: int, block: np.ndarray) -> dict[str, np.ndarray]:
    """B0 -> K*0 phi accumulators of one block (the seed's B -> K* e+e- case)."""
    if 0 not in open_channels(mass):
        return {"counts": np.zeros(F.N_COUNTS), "q": np.zeros((F.NQ, 3, ctau.size)),
                "curve": np.zeros((3, _flight.CTAU_CURVE.size))}
    return _flight.strip(run_channel(geo, 0, mass, ctau, n_events, seed, mass_index,
                                     hists=False, chunks=block, curve=False))


def _analytic(geo: Geometry, mass: float, ctau: np.ndarray, acc, err):
    # seed slide 41: P ~ 1 - exp(-m L/(p c tau)) ~ m L/(p c tau), every B counted (eps = 1)
    return analytic.compare_decay(mass, ctau, acc, err, 1.0, 0.0, geo["analytic.length"],
                                  geo["analytic.momentum"])


def scan_finish(geo: Geometry, mass: float, ctau: np.ndarray, tot: dict[str, np.ndarray],
                ref: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Prompt probability of B0 -> K*0 phi with both phi -> e+e- daughters in the LHCb
    acceptance (the B -> K* e+e- selection, arXiv:1304.3035) over the c tau grid, and the seed
    formula (prompt probability only)."""
    acc, err = _flight.quantity(tot, F.Q_PROMPT_DAU, decay=False)
    ana, ana_err = _analytic(geo, mass, ctau, acc, err)
    return analytic.scan_entry(acc, err, ana, ana_err)


def simulate(geo: Geometry, mass: float, ctau: Sequence[float] | np.ndarray, n_events: int,
             seed: int, *, mass_index: int = 0, reference: bool = True, smear: bool = True,
             hists: bool = True, sample_size: int = 0,
             chunk_size: int = engine.DEFAULT_CHUNK_SIZE,
             progress: Callable[[int], None] | None = None, options=None) -> Result:
    """Simulate B0 -> K*0 phi and B+ -> K+ phi (mass [MeV], c tau grid [mm]) at LHCb.
    ``reference`` and ``smear`` are accepted for the common interface only; ``options`` must
    be empty."""
    refuse_options(options, "LHCb")
    ctau = np.asarray(ctau, dtype=float)
    nct = ctau.size
    acc: dict[str, np.ndarray] = {}
    err: dict[str, np.ndarray] = {}
    desc: dict[str, str] = {}
    h: dict[str, list] = {}
    flows = {}
    sample = None
    main_tot = None
    for c, (key, label, _, _, _) in enumerate(CHANNELS):
        if c in open_channels(mass):
            tot = run_channel(geo, c, mass, ctau, n_events, seed, mass_index, hists=hists,
                              sample_size=sample_size if c == 0 else 0, chunk_size=chunk_size,
                              progress=progress)
        else:
            tot = None
        if tot is None:
            zero = np.zeros(nct)
            vals = {"prompt": (zero, zero), "prompt_ee_in_eta": (zero, zero),
                    "in_velo": (zero, zero)}
            vals |= {f"displaced_{d}": (zero, zero) for d, _ in DAUGHTERS}
        else:
            vals = {"prompt": _flight.quantity(tot, F.Q_MAIN, False),
                    "prompt_ee_in_eta": _flight.quantity(tot, F.Q_PROMPT_DAU, False),
                    "in_velo": _flight.quantity(tot, F.Q_SIGNAL, False)}
            vals |= {f"displaced_{d}": _flight.quantity(tot, F.Q_DAU + k, False)
                     for k, (d, _) in enumerate(DAUGHTERS)}
            flows[label] = [("B in eta range", 1.0),
                            ("phi crosses the VELO region", _flight.selected_fraction(
                                tot, False)[0])]
        for name, (v, e) in vals.items():
            acc[f"{name}_{key}"] = v
            err[f"{name}_{key}"] = e
        pl = geo["selection.prompt_length"]
        desc |= {
            f"prompt_{key}": f"{label}: phi decays within {pl:g} mm of the B vertex, per B "
                             "in 2<eta<5",
            f"prompt_ee_in_eta_{key}": f"{label}: prompt and both phi -> e+e- daughters in "
                                       f"{geo['selection.daughter_eta_min']:g}<eta<"
                                       f"{geo['selection.daughter_eta_max']:g}",
            f"in_velo_{key}": f"{label}: phi decays in the VELO region beyond "
                              f"{geo['selection.displaced_min']:g} mm, per B",
        }
        desc |= {f"displaced_{d}_{key}": f"{label}: as in_velo and both phi -> {d} daughters in "
                 f"{geo['selection.daughter_eta_min']:g}<eta<"
                 f"{geo['selection.daughter_eta_max']:g}, each through >= "
                 f"{int(geo['velo.min_modules'])} VELO modules after the decay point"
                 for d, _ in DAUGHTERS}
        if c == 0:
            main_tot = tot
            if tot is not None and hists:
                cfg = kernel_config(geo, 0, mass, n_events, chunk_size, 0)
                h = _flight.histograms(tot, cfg, "phi_decay",
                                       "phi flight distance from the B vertex [mm]")
            if tot is not None and sample_size > 0:
                sample, _ = _flight.sample_array(tot["rec"], tot["rec_w"], "B0", "K*0")
    ana, ana_err = _analytic(geo, mass, ctau, acc["prompt_b0_kstar0"],
                             err["prompt_b0_kstar0"])
    # the main quantity: prompt AND both electrons in the acceptance, as the B0 -> K*0 e+e-
    # measurement (arXiv:1304.3035) sees them
    main = "prompt_ee_in_eta_b0_kstar0"
    acc |= ana
    err |= ana_err
    g = geo.values
    desc |= {"analytic": "one-formula estimate for the prompt probability: 1 - exp(-m L/(p ctau)) "
                         f"(~ m L/(p ctau)) with L = {g['analytic.length']:g} mm, "
                         f"p = {g['analytic.momentum'] / 1000:g} GeV",
             "sim_over_analytic": "prompt_b0_kstar0 / one-formula estimate",
             "L_eff_mm": "prompt length L [mm] the formula needs at that p",
             "p_eff_MeV": "p [MeV] the formula needs at that L"}
    ct_curve = _flight.CTAU_CURVE
    config = {
        "geometry": geo.path, "variant": geo.variant or "", "chunk_size": int(chunk_size),
        "mass_index": int(mass_index), "main_key": main,
        "main_label": "P(prompt, $e^\\pm$ in acceptance) for B$^0\\to K^{*0}\\phi$",
        "title": r"LHCb $B\to K^{(*)}\phi$",
        "acceptance_curve": (_flight.curve_config(main_tot, False, "prompt (no daughter "
                                                  "requirement), B0 -> K*0 phi")
                             if main_tot is not None else None),
        "analytic_curve": {
            "ctau_mm": ct_curve.tolist(),
            "value": analytic.decay_in(mass, ct_curve, 0.0, g["analytic.length"],
                                       g["analytic.momentum"]).tolist(),
            "label": rf"$1-e^{{-mL/(pc\tau)}}$, L = {g['analytic.length']:g} mm, "
                     rf"p = {g['analytic.momentum'] / 1e3:g} GeV"},
        "plot_lines": [(g["selection.prompt_length"], "prompt window")],
        "hist_log": True,
    }
    return Result(
        experiment=geo.experiment, variant=geo.variant, mass=float(mass), ctau=ctau,
        n_events=int(n_events), seed=int(seed), acceptance=acc, error=err, cutflow=flows,
        hists=h, sample=sample, config=config, descriptions=desc)


def published_limits(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(m_X [MeV], tau_X [ps], 95% CL upper limit on BR) rows of a published LHCb displaced
    X -> mu+ mu- limit grid shipped with kotosim (``kotosim/constraints/data/<name>.csv.gz``:
    ``lhcb_b0_kstar0_X_mumu_ul``, arXiv:1508.04094; ``lhcb_bplus_kplus_X_mumu_ul``,
    arXiv:1612.07818); points without a published limit are dropped."""
    import gzip
    from importlib.resources import files

    res = files("kotosim").joinpath("constraints", "data", f"{name}.csv.gz")
    with res.open("rb") as raw, gzip.open(raw, "rt") as fh:
        arr = np.loadtxt(fh, delimiter=",", comments="#")
    arr = arr[np.isfinite(arr[:, 2])]
    return arr[:, 0], arr[:, 1], arr[:, 2]
