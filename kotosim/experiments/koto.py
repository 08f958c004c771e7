"""KOTO: K_L -> pi0 phi and the reference K_L -> pi0 nu nubar through the KOTO detector.

The event loop is :mod:`kotosim.kernels.koto`; this module turns a validated geometry into the
kernel configuration, runs both channels and builds the :class:`~kotosim.result.Result`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .. import analytic, engine
from .. import constants as C
from ..geometry import Geometry, GeometryError, Spec, register_check, register_schema, require
from ..kernels import daughters as DK
from ..kernels import koto as K
from ..kernels.sampling import alias_table
from ..result import Result, ratio_error
from ._common import sample_columns

L, E, A, N = "length", "energy", "angle", "1"
BIG = 1e9

SCHEMA: dict[str, Spec] = {
    "beam.target_z": Spec(L, -1e6, 0.0),
    "beam.exit_z": Spec(L, -1e6, 1e6),
    "beam.target_x_lo": Spec(L, -100.0, 100.0),
    "beam.target_x_hi": Spec(L, -100.0, 100.0),
    "beam.target_x_sigma_lo": Spec(L, 0.0, 100.0),
    "beam.target_x_sigma_hi": Spec(L, 0.0, 100.0),
    "beam.target_y_sigma": Spec(L, 0.0, 100.0),
    "beam.target_y_max": Spec(L, 0.0, 100.0),
    "beam.collimator_distance": Spec(L, 1.0, 1e6),
    "beam.collimator_half_x": Spec(L, 0.0, 1e3),
    "beam.collimator_half_y": Spec(L, 0.0, 1e3),
    "beam.spectrum.mu": Spec(E, 0.0, 1e5),
    "beam.spectrum.sigma0": Spec(E, 1e-3, 1e5),
    "beam.spectrum.a": Spec("1/energy", -1.0, 1.0),
    "beam.spectrum.b": Spec("1/energy2", -1.0, 1.0),
    "beam.spectrum.p_min": Spec(E, 0.0, 1e6),
    "beam.spectrum.p_max": Spec(E, 1.0, 1e6),
    "generation.z_max": Spec(L, -1e6, 1e6),
    "csi.z_face": Spec(L, 0.0, 1e6),
    "csi.depth": Spec(L, 0.0, 1e4),
    "csi.radius": Spec(L, 1.0, 1e4),
    "csi.beam_hole_half": Spec(L, 0.0, 1e3),
    "csi.hole_neutral_half": Spec(L, 0.0, 1e3),
    "csi.hole_charged_half": Spec(L, 0.0, 1e3),
    "resolution.constant": Spec(N, 0.0, 1.0),
    "resolution.stochastic": Spec(N, 0.0, 1.0),
    "resolution.position": Spec(L, 0.0, 1e3),
    "cuts.e_gamma_min": Spec(E, 0.0, 1e5),
    "cuts.e_gamma_max": Spec(E, 0.0, 1e6),
    "cuts.e_sum_min": Spec(E, 0.0, 1e6),
    "cuts.hit_radius_max": Spec(L, 0.0, 1e4),
    "cuts.hit_square_min": Spec(L, 0.0, 1e4),
    "cuts.distance_min": Spec(L, 0.0, 1e4),
    "cuts.energy_ratio_min": Spec(N, 0.0, 1.0),
    "cuts.e_theta_min": Spec("energy*angle", 0.0, 1e6),
    "cuts.azimuth_max": Spec(A, 0.0, math.pi),
    "cuts.coe_radius_min": Spec(L, 0.0, 1e4),
    "signal_region.z_min": Spec(L, -1e5, 1e5),
    "signal_region.z_max": Spec(L, -1e5, 1e5),
    "signal_region.pt_min": Spec(E, 0.0, 1e4),
    "signal_region.pt_max": Spec(E, 0.0, 1e4),
    "signal_region.z_slant": Spec(L, -1e5, 1e5),
    "signal_region.pt_min_at_z_max": Spec(E, 0.0, 1e4),
    "histograms.z_bins": Spec(N, 1, 10000, integer=True),
    "histograms.z_low": Spec(L, -1e5, 1e5),
    "histograms.z_high": Spec(L, -1e5, 1e5),
    "histograms.pt_bins": Spec(N, 1, 10000, integer=True),
    "histograms.pt_low": Spec(E, 0.0, 1e5),
    "histograms.pt_high": Spec(E, 0.0, 1e5),
    "histograms.e_bins": Spec(N, 1, 10000, integer=True),
    "histograms.e_low": Spec(E, 0.0, 1e6),
    "histograms.e_high": Spec(E, 0.0, 1e6),
    "analytic.length": Spec(L, 0.0, 1e9),
    "analytic.momentum": Spec(E, 1e-3, 1e9),
    "normalisation.kl_per_pot": Spec(N, 0.0, 1.0),
    "normalisation.pot": Spec(N, 0.0, 1e25),
    "normalisation.ses": Spec(N, 0.0, 1.0),
}
# Downstream detectors, in the order they are listed (upstream first): see geometry/koto.toml.
DOWNSTREAM = ("cc04", "cc05", "cc06", "bhcv", "bhpv")
_DET_KEYS = (("z_front", DK.D_ZF), ("z_back", DK.D_ZB), ("cx", DK.D_CX), ("cy", DK.D_CY),
             ("outer_x", DK.D_AX), ("outer_y", DK.D_AY), ("wing_x", DK.D_BX),
             ("wing_y", DK.D_BY), ("hole_x", DK.D_HX), ("hole_y", DK.D_HY),
             ("charged", DK.D_CH), ("neutral", DK.D_NE), ("e_min", DK.D_EMIN))
for _d in DOWNSTREAM:
    SCHEMA |= {
        f"downstream.{_d}.z_front": Spec(L, -1e6, 1e6),
        f"downstream.{_d}.z_back": Spec(L, -1e6, 1e6),
        f"downstream.{_d}.cx": Spec(L, -1e4, 1e4, optional=0.0),
        f"downstream.{_d}.cy": Spec(L, -1e4, 1e4, optional=0.0),
        f"downstream.{_d}.outer_x": Spec(L, 0.0, 1e9),
        f"downstream.{_d}.outer_y": Spec(L, 0.0, 1e9),
        f"downstream.{_d}.wing_x": Spec(L, 0.0, 1e9, optional=0.0),
        f"downstream.{_d}.wing_y": Spec(L, 0.0, 1e9, optional=0.0),
        f"downstream.{_d}.hole_x": Spec(L, 0.0, 1e9, optional=0.0),
        f"downstream.{_d}.hole_y": Spec(L, 0.0, 1e9, optional=0.0),
        f"downstream.{_d}.charged": Spec(N, 0, 1, integer=True),
        f"downstream.{_d}.neutral": Spec(N, 0, 1, integer=True),
        f"downstream.{_d}.e_min": Spec(E, 0.0, 1e6),
        f"downstream.{_d}.enabled": Spec(N, 0, 1, integer=True, optional=1.0),
    }
# phi decay channels followed at KOTO: model BR key, daughter mass, kind (kernels/daughters.py)
DECAYS = (("ee", C.M_E, DK.TWO_CHARGED), ("mumu", C.M_MU, DK.TWO_CHARGED),
          ("gammagamma", 0.0, DK.TWO_PHOTONS), ("pi+pi-", C.M_PIPLUS, DK.TWO_CHARGED),
          ("pi0pi0", C.M_PI0, DK.FOUR_PHOTONS))


def _require(geo: Geometry, lo: str, hi: str) -> None:
    require(geo, geo[lo] < geo[hi], (lo, hi), f"{lo} < {hi}")


def _check_detector(geo: Geometry) -> None:
    """Relations without which no event can pass (the run would print zeros)."""
    g = geo.values
    hole, r_csi = g["csi.beam_hole_half"], g["csi.radius"]
    sq, r_max = g["cuts.hit_square_min"], g["cuts.hit_radius_max"]
    r_eff = min(r_max, r_csi)
    for ok, keys, rel in (
        (hole < r_csi, ("csi.beam_hole_half", "csi.radius"),
         "beam_hole_half < radius (the beam hole would cover the whole CsI)"),
        (sq < r_max, ("cuts.hit_square_min", "cuts.hit_radius_max"),
         "hit_square_min < hit_radius_max (no hit can pass both cuts)"),
        (sq < r_csi, ("cuts.hit_square_min", "csi.radius"),
         "hit_square_min < CsI radius (no hit on the CsI can pass)"),
        (hole < r_max, ("csi.beam_hole_half", "cuts.hit_radius_max"),
         "beam_hole_half < hit_radius_max (every hit outside the hole fails the radius cut)"),
        (g["cuts.coe_radius_min"] < r_eff,
         ("cuts.coe_radius_min", "cuts.hit_radius_max", "csi.radius"),
         "coe_radius_min < min(hit_radius_max, radius) (the centre of energy lies inside "
         "the hits' radius)"),
        (g["cuts.distance_min"] < 2.0 * r_eff,
         ("cuts.distance_min", "cuts.hit_radius_max", "csi.radius"),
         "distance_min < 2 min(hit_radius_max, radius) (the largest possible photon distance)"),
        (g["cuts.e_sum_min"] < 2.0 * g["cuts.e_gamma_max"],
         ("cuts.e_sum_min", "cuts.e_gamma_max"),
         "e_sum_min < 2 e_gamma_max (two photons below e_gamma_max cannot reach e_sum_min)"),
        (g["signal_region.z_max"] <= g["csi.z_face"], ("signal_region.z_max", "csi.z_face"),
         "signal_region.z_max <= csi.z_face (the reconstructed vertex is always upstream of "
         "the CsI face)"),
        (g["signal_region.z_slant"] <= g["signal_region.z_max"],
         ("signal_region.z_slant", "signal_region.z_max"),
         "z_slant <= z_max (the slanted edge starts inside the signal region)"),
        (g["signal_region.pt_min_at_z_max"] < g["signal_region.pt_max"],
         ("signal_region.pt_min_at_z_max", "signal_region.pt_max"),
         "pt_min_at_z_max < pt_max (the slanted lower edge stays below the upper edge)"),
        (g["beam.exit_z"] < g["signal_region.z_max"], ("beam.exit_z", "signal_region.z_max"),
         "beam.exit_z < signal_region.z_max (no K_L decays upstream of the beam exit)"),
    ):
        require(geo, ok, keys, rel)


def check(geo: Geometry) -> None:
    """Cross-key checks of a KOTO geometry (orderings, a valid spectrum)."""
    if geo["beam.target_x_lo"] > geo["beam.target_x_hi"]:
        raise GeometryError(f"{geo.path}: key 'beam.target_x_hi' must be >= 'beam.target_x_lo'")
    for lo, hi in (("beam.target_z", "beam.exit_z"), ("beam.exit_z", "generation.z_max"),
                   ("beam.spectrum.p_min", "beam.spectrum.p_max"),
                   ("cuts.e_gamma_min", "cuts.e_gamma_max"),
                   ("signal_region.z_min", "signal_region.z_max"),
                   ("signal_region.z_min", "signal_region.z_slant"),
                   ("signal_region.pt_min", "signal_region.pt_max"),
                   ("histograms.z_low", "histograms.z_high"),
                   ("histograms.pt_low", "histograms.pt_high"),
                   ("histograms.e_low", "histograms.e_high")):
        _require(geo, lo, hi)
    for d in DOWNSTREAM:
        _require(geo, f"downstream.{d}.z_front", f"downstream.{d}.z_back")
    require(geo, geo["generation.z_max"] <= geo["csi.z_face"],
            ("generation.z_max", "csi.z_face"), "generation.z_max <= csi.z_face")
    _check_detector(geo)
    spectrum_envelope(geo)  # raises if the spectrum is not a valid unimodal density


register_schema("koto", SCHEMA, ("veto",))
register_check("koto", check)


def detector_rows(geo: Geometry) -> tuple[np.ndarray, tuple[str, ...]]:
    """The enabled downstream detectors as kernel rows (columns ``daughters.D_*``) and names."""
    rows, names = [], []
    for d in DOWNSTREAM:
        if geo[f"downstream.{d}.enabled"] < 0.5:
            continue
        r = np.zeros(DK.NDET)
        for key, col in _DET_KEYS:
            r[col] = geo[f"downstream.{d}.{key}"]
        rows.append(r)
        names.append(d)
    return (np.array(rows) if rows else np.zeros((0, DK.NDET))), tuple(names)


def decay_channels(mass: float, options: Mapping[str, Any] | None
                   ) -> tuple[np.ndarray, dict[str, float], str]:
    """phi decay channels for the kernel (rows [cumulative BR, daughter mass, kind]), the BRs
    and a description.

    ``options``: ``model`` (a :class:`kotosim.model.ScalarModel` at this mass) or ``eps_q`` and
    ``eps_l`` (its decay BRs), or ``br_decay`` (dict with keys ee, mumu, gammagamma, pi+pi-,
    pi0pi0); default: the Higgs-mixing model's decay BRs at this mass (they do not depend on
    the mixing angle)."""
    from ..model import MASS_MAX, ScalarModel

    opts = dict(options or {})
    model = opts.pop("model", None)
    if model is None and ("eps_q" in opts or "eps_l" in opts):
        model = ScalarModel(mass, float(opts.pop("eps_q", 0.0)), float(opts.pop("eps_l", 0.0)))
    br_decay = opts.pop("br_decay", None)
    if opts:
        raise ValueError(f"options: unknown key '{next(iter(opts))}' for koto (allowed: "
                         "model, eps_q, eps_l, br_decay)")
    keys = [k for k, *_ in DECAYS]
    if model is not None:
        if abs(model.mass - mass) > 1e-9 * max(mass, 1.0):
            raise ValueError(f"options: model mass {model.mass:g} MeV differs from mass "
                             f"{mass:g} MeV")
        brs = {k: model.branching_ratios[k] for k in keys}
        src = f"model eps_q = {model.eps_q:g}, eps_l = {model.eps_l:g}"
    elif br_decay is not None:
        unknown = set(br_decay) - set(keys)
        if unknown:
            raise ValueError(f"options: br_decay key '{sorted(unknown)[0]}' unknown (allowed: "
                             f"{', '.join(keys)})")
        brs = {k: float(br_decay.get(k, 0.0)) for k in keys}
        if any(not 0.0 <= b <= 1.0 for b in brs.values()):
            raise ValueError("options: br_decay values must lie in [0, 1]")
        src = "user decay BRs"
    elif 0.0 < mass < MASS_MAX:
        brs = {k: ScalarModel.higgs_mixing(mass, 1e-3).branching_ratios[k] for k in keys}
        src = "Higgs-mixing decay BRs"
    else:
        brs = {k: 0.0 for k in keys}
        src = "no decay"
    rows, cum = [], 0.0
    for k, md, kind in DECAYS:
        if brs[k] > 0.0 and mass > 2.0 * md:
            cum += brs[k]
            rows.append([cum, md, kind])
    if mass > 0.0 and not rows and (model is not None or br_decay is not None):
        raise ValueError(f"options: no open decay channel with BR > 0 at mass = {mass:g} MeV")
    return (np.array(rows) if rows else np.zeros((0, 3))), brs, src


def spectrum_envelope(geo: Geometry, nbins: int = 256) -> tuple[np.ndarray, ...]:
    """Piecewise-constant envelope of the K_L momentum density for exact rejection sampling.

    The density is unimodal with its mode at mu (verified on a fine grid here), so its
    supremum on a bin is its value at the point of the bin closest to mu.
    Returns (edges [MeV], heights, alias-table prob, alias-table alias).
    """
    mu, s0 = geo["beam.spectrum.mu"], geo["beam.spectrum.sigma0"]
    a, b = geo["beam.spectrum.a"], geo["beam.spectrum.b"]
    lo, hi = geo["beam.spectrum.p_min"], geo["beam.spectrum.p_max"]
    grid = np.linspace(lo, hi, 20001)
    sig = s0 * (1.0 - (a + b * grid) * (grid - mu))
    if np.any(sig <= 0):
        i_bad = int(np.argmax(sig <= 0))
        bad = grid[i_bad]
        if i_bad == 0:  # negative width already at p_min: no p_max can help
            raise GeometryError(
                f"{geo.path}: keys 'beam.spectrum.a', 'beam.spectrum.b': the width "
                f"sigma(p) = sigma0 (1 - (a + b p)(p - mu)) is <= 0 at p_min = {lo / 1e3:.3g} "
                "GeV: no valid spectrum; change a, b or p_min")
        raise GeometryError(f"{geo.path}: key 'beam.spectrum.p_max' = {hi / 1e3:.3g} GeV: the "
                            f"width sigma(p) of the spectrum is <= 0 at p = {bad / 1e3:.3g} "
                            f"GeV; allowed p_max < {bad / 1e3:.3g} GeV (or change a, b)")
    f = np.exp(-0.5 * ((grid - mu) / sig) ** 2)
    below, above = grid <= mu, grid >= mu
    if np.any(np.diff(f[below]) < -1e-15) or np.any(np.diff(f[above]) > 1e-15):
        raise GeometryError(f"{geo.path}: key 'beam.spectrum': the momentum density is not "
                            "unimodal in [p_min, p_max]; narrow the range")
    edges = np.linspace(lo, hi, nbins + 1)
    near = np.clip(mu, edges[:-1], edges[1:])
    heights = np.array([K.spectrum_density(x, mu, s0, a, b) for x in near]) * (1 + 1e-12)
    prob, alias = alias_table(heights * np.diff(edges))
    return edges, heights, prob, alias


def kernel_config(geo: Geometry, channel: int, mass: float, n_events: int,
                  chunk_size: int, record_cap: int, smear: bool = True) -> K.KotoConfig:
    """Flatten a KOTO geometry into the kernel's :class:`~kotosim.kernels.koto.KotoConfig`."""
    g = geo.values
    return K.KotoConfig(
        channel=channel, m_k=C.M_KL, ctau_k=C.CTAU_KL, m_pi0=C.M_PI0, m_x=float(mass),
        # K_L e3 vector form factor slope lambda_+ = 0.0297 with m_pi+ scale (PDG; inputs.md 2)
        m_pi_ff=C.M_PIPLUS, ff_slope=0.0297,
        target_z=g["beam.target_z"], exit_z=g["beam.exit_z"],
        tx_lo=g["beam.target_x_lo"], tx_hi=g["beam.target_x_hi"],
        tx_slo=g["beam.target_x_sigma_lo"], tx_shi=g["beam.target_x_sigma_hi"],
        ty_sigma=g["beam.target_y_sigma"], ty_max=g["beam.target_y_max"],
        col_dist=g["beam.collimator_distance"], col_hx=g["beam.collimator_half_x"],
        col_hy=g["beam.collimator_half_y"],
        z_gen_max=g["generation.z_max"], mu=g["beam.spectrum.mu"],
        sigma0=g["beam.spectrum.sigma0"], a=g["beam.spectrum.a"], b=g["beam.spectrum.b"],
        z_csi=g["csi.z_face"], r_csi=g["csi.radius"], hole_half=g["csi.beam_hole_half"],
        res_const=g["resolution.constant"], res_stoch=g["resolution.stochastic"],
        res_pos=g["resolution.position"], smear=bool(smear),
        e_min=g["cuts.e_gamma_min"], e_max=g["cuts.e_gamma_max"], esum_min=g["cuts.e_sum_min"],
        r_max=g["cuts.hit_radius_max"], sq_min=g["cuts.hit_square_min"],
        dist_min=g["cuts.distance_min"], eratio_min=g["cuts.energy_ratio_min"],
        etheta_min=g["cuts.e_theta_min"], azimuth_max=g["cuts.azimuth_max"],
        coe_min=g["cuts.coe_radius_min"],
        sr_zmin=g["signal_region.z_min"], sr_zmax=g["signal_region.z_max"],
        sr_ptmin=g["signal_region.pt_min"], sr_ptmax=g["signal_region.pt_max"],
        sr_zslant=g["signal_region.z_slant"], sr_ptmin_zmax=g["signal_region.pt_min_at_z_max"],
        nz=int(g["histograms.z_bins"]), zlo=g["histograms.z_low"], zhi=g["histograms.z_high"],
        npt=int(g["histograms.pt_bins"]), ptlo=g["histograms.pt_low"],
        pthi=g["histograms.pt_high"], ne=int(g["histograms.e_bins"]),
        elo=g["histograms.e_low"], ehi=g["histograms.e_high"],
        chunk_size=int(chunk_size), n_events=int(n_events), record_cap=int(record_cap),
        csi_depth=g["csi.depth"], hole_charged=g["csi.hole_charged_half"],
        hole_neutral=g["csi.hole_neutral_half"],
    )


def run_channel(geo: Geometry, channel: int, mass: float, ctau: np.ndarray, n_events: int,
                seed: int, mass_index: int = 0, *, smear: bool = True, hists: bool = True,
                sample_size: int = 0, chunk_size: int = engine.DEFAULT_CHUNK_SIZE,
                chunks: np.ndarray | None = None,
                progress: Callable[[int], None] | None = None,
                options: Mapping[str, Any] | None = None,
                by_element: bool = True) -> dict[str, np.ndarray]:
    """Run one channel and return the summed accumulators (plus ``rec``/``rec_w`` rows).

    ``chunks`` restricts the run to those global chunk indices (used to distribute work);
    ``options`` fix the phi decay BRs (:func:`decay_channels`); ``by_element``: also the
    fraction of signal events vetoed by each detector element (``region``; without it that
    array has no rows and the kernel skips the attribution -- same events, same weights).
    """
    cap = min(int(sample_size), int(n_events))
    cfg = kernel_config(geo, channel, mass, n_events, chunk_size, cap, smear)
    edges, heights, prob, alias = spectrum_envelope(geo)
    vetoes = geo.volume_array("veto")
    dets, _ = detector_rows(geo)
    chan = decay_channels(mass, options)[0] if channel == K.CHANNEL_PHI else np.zeros((0, 3))
    nct, nv = ctau.size, vetoes.shape[0] + dets.shape[0]
    nh = nct if hists else 0
    rec = np.zeros((cap, K.NREC))
    rec_w = np.zeros((cap, nct))

    def alloc(nb: int) -> dict[str, np.ndarray]:
        return {
            "counts": np.zeros((nb, K.N_HEAD + len(K.STAGES))),
            "sig": np.zeros((nb, 2, nct)),
            "region": np.zeros((nb, nv if by_element else 0, 2, nct)),
            "ptz": np.zeros((nb, nh, 2, cfg.nz, cfg.npt)),
            "egam": np.zeros((nb, nh, 2, cfg.ne)),
        }

    def kernel(batch: np.ndarray, arr: dict[str, np.ndarray]) -> None:
        seeds = engine.chunk_seeds(seed, geo.experiment, channel, mass_index, batch)
        engine.in_threads(lambda s: K.run_chunks(
            cfg, seeds[s], batch[s], edges, heights, prob, alias, ctau, vetoes, dets, chan,
            arr["counts"][s], arr["sig"][s], arr["region"][s], arr["ptz"][s], arr["egam"][s],
            rec, rec_w), batch.size)

    out = engine.run(n_events, chunk_size, alloc, kernel, chunks=chunks, progress=progress)
    out["rec"], out["rec_w"] = rec, rec_w
    return out


def _hists(geo: Geometry, tot: dict[str, np.ndarray], ctau: np.ndarray, tag: str) -> dict:
    import hist

    g = geo.values
    out: dict[str, list] = {f"ptz{tag}": [], f"egamma{tag}": []}
    n = max(float(tot["counts"][0]), 1.0)  # per K_L at the beam exit, as the acceptances
    for i in range(tot["ptz"].shape[0]):
        h = hist.Hist(
            hist.axis.Regular(int(g["histograms.z_bins"]), g["histograms.z_low"],
                              g["histograms.z_high"], name="z", label="Reconstructed Z [mm]"),
            hist.axis.Regular(int(g["histograms.pt_bins"]), g["histograms.pt_low"],
                              g["histograms.pt_high"], name="pt",
                              label="Reconstructed Pt [MeV/c]"),
            storage=hist.storage.Weight())
        v = h.view(flow=False)
        v["value"], v["variance"] = tot["ptz"][i, 0] / n, tot["ptz"][i, 1] / n**2
        out[f"ptz{tag}"].append(h)
        he = hist.Hist(hist.axis.Regular(int(g["histograms.e_bins"]), g["histograms.e_low"],
                                         g["histograms.e_high"], name="e",
                                         label="Photon energy [MeV]"),
                       storage=hist.storage.Weight())
        ve = he.view(flow=False)
        ve["value"], ve["variance"] = tot["egam"][i, 0] / n, tot["egam"][i, 1] / n**2
        out[f"egamma{tag}"].append(he)
    return out


def sample_array(rec: np.ndarray, rec_w: np.ndarray, channel: str):
    """Event-sample rows as an awkward Array of records; particles are vector Momentum4D."""
    import awkward as ak

    col, p4, vertex = sample_columns(rec, K.REC_FIELDS)

    return ak.zip({
        "p_kl": col["p_kl"],
        "vertex": vertex(),
        "x": p4("x"), "pi0": p4("pi0"), "g1": p4("g1"), "g2": p4("g2"),
        "hits": ak.zip({n: col[n] for n in ("g1_x", "g1_y", "g2_x", "g2_y", "g1_e_reco",
                                             "g1_x_reco", "g1_y_reco", "g2_e_reco",
                                             "g2_x_reco", "g2_y_reco")}),
        "z_reco": col["z_reco"], "pt_reco": col["pt_reco"], "w_kl": col["w_kl"],
        "stage": col["stage"].astype(np.int32), "x_l1": col["x_l1"], "x_l2": col["x_l2"],
        "channel": col["channel"].astype(np.int32), "n_dau": col["n_dau"].astype(np.int32),
        # phi's daughters (E = 0: absent) and one decay point drawn for the record
        **{f"x_d{k + 1}": p4(f"x_d{k + 1}") for k in range(DK.MAX_DAU)},
        "x_vertex": ak.zip({c: col[f"x_vtx_{c}"] for c in "xyz"}, with_name="Vector3D"),
        "dau_charged": np.stack([col[f"x_d{k + 1}_charged"] for k in range(DK.MAX_DAU)],
                                axis=1),
        "weight": rec_w,
    }, depth_limit=1, with_name=None), channel


def acceptances(tot: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """(per K_L at exit, error, per K_L decay in range, error) from summed accumulators.

    Per exit: sum(w)/N, error sqrt(sum w^2)/N. Per decay: divided by the mean decay
    probability sum(P_dec)/N, whose error is added in quadrature (correlation neglected:
    conservative).
    """
    n, sw, sw2 = tot["counts"][0], tot["counts"][1], tot["counts"][2]
    if n == 0:  # 0/0: undefined, not 0
        z = np.full(tot["sig"].shape[1], np.nan)
        return z, z, z, z
    a_exit = tot["sig"][0] / n
    e_exit = np.sqrt(tot["sig"][1]) / n
    pdec = sw / n
    e_pdec = math.sqrt(max(sw2 / n - pdec**2, 0.0) / n)
    a_dec = a_exit / pdec if pdec > 0 else np.full_like(a_exit, np.nan)
    e_dec = ratio_error(a_exit, e_exit, np.full_like(a_exit, pdec), np.full_like(a_exit, e_pdec))
    return a_exit, e_exit, a_dec, e_dec


_SCAN_DROPS = ("rec", "rec_w", "ptz", "egam", "region")  # what scans do not use


def scan_block(geo: Geometry, mass: float, ctau: np.ndarray, n_events: int, seed: int,
               mass_index: int, block: np.ndarray) -> dict[str, np.ndarray]:
    """Accumulators of one block of chunks of K_L -> pi0 phi, without histograms (scans)."""
    tot = run_channel(geo, K.CHANNEL_PHI, mass, ctau, n_events, seed, mass_index, hists=False,
                      chunks=block, by_element=False)
    return {k: v for k, v in tot.items() if k not in _SCAN_DROPS}


def reference_block(geo: Geometry, n_events: int, seed: int,
                    block: np.ndarray) -> dict[str, np.ndarray]:
    """Accumulators of one block of the reference channel K_L -> pi0 nu nubar."""
    tot = run_channel(geo, K.CHANNEL_PINUNU, 0.0, np.array([math.inf]), n_events, seed, 0,
                      hists=False, chunks=block, by_element=False)
    return {k: v for k, v in tot.items() if k not in _SCAN_DROPS}


def scan_finish(geo: Geometry, mass: float, ctau: np.ndarray, tot: dict[str, np.ndarray],
                ref: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Acceptance per K_L at the exit over the cτ grid, its error, the seed formula and the
    ratio to it; with ``ref`` (merged reference blocks) also the ratio to pi0 nu nubar."""
    a_exit, e_exit, _, _ = acceptances(tot)
    ana, ana_err = analytic.compare(mass, ctau, a_exit, e_exit, acceptances_stable(tot),
                                    geo["analytic.length"], geo["analytic.momentum"])
    out = analytic.scan_entry(a_exit, e_exit, ana, ana_err)
    if ref is not None:
        r_exit, r_err, _, _ = acceptances(ref)
        out["ratio_reference"] = (a_exit / r_exit[0] if r_exit[0] > 0  # 0/0: undefined
                                  else np.full_like(a_exit, np.nan))
        out["ratio_reference_error"] = ratio_error(a_exit, e_exit, np.full_like(a_exit, r_exit[0]),
                                                   np.full_like(a_exit, r_err[0]))
    return out


def acceptances_stable(tot: dict[str, np.ndarray]) -> float:
    """Acceptance per K_L at the exit for a stable phi: the signal-region count of the
    cut flow (weights without phi decay)."""
    n = tot["counts"][0]
    return float(tot["counts"][K.N_HEAD + len(K.STAGES) - 1] / n) if n > 0 else 0.0


def cutflow(tot: dict[str, np.ndarray]) -> list[tuple[str, float]]:
    """Weighted fraction of generated K_L (at the beam exit) surviving each stage."""
    n = max(tot["counts"][0], 1.0)
    c = tot["counts"]
    out = [("K_L at beam exit", 1.0), ("decays in generation range", c[1] / n)]
    out += [(s, c[K.N_HEAD + k] / n) for k, s in enumerate(K.STAGES) if k > 0]
    return out


def simulate(geo: Geometry, mass: float, ctau: Sequence[float] | np.ndarray, n_events: int,
             seed: int, *, mass_index: int = 0, reference: bool = True, smear: bool = True,
             hists: bool = True, sample_size: int = 0,
             chunk_size: int = engine.DEFAULT_CHUNK_SIZE,
             progress: Callable[[int], None] | None = None,
             options: Mapping[str, Any] | None = None) -> Result:
    """Simulate K_L -> pi0 phi (mass [MeV], cτ grid [mm]) and K_L -> pi0 nu nubar at KOTO.

    phi decays to e+e-, mu+mu-, gamma gamma, pi pi with BRs from ``options`` (see
    :func:`decay_channels`; default the Higgs-mixing model's); its daughters are followed to
    the calorimeter's beam hole and the downstream detectors (:mod:`kotosim.kernels.daughters`).
    """
    ctau = np.asarray(ctau, dtype=float)
    _, brs, br_src = decay_channels(mass, options)
    tot = run_channel(geo, K.CHANNEL_PHI, mass, ctau, n_events, seed, mass_index, smear=smear,
                      hists=hists, sample_size=sample_size, chunk_size=chunk_size,
                      progress=progress, options=options)
    a_exit, e_exit, a_dec, e_dec = acceptances(tot)
    acc = {"phi_per_kl_exit": a_exit, "phi_per_kl_decay": a_dec}
    err = {"phi_per_kl_exit": e_exit, "phi_per_kl_decay": e_dec}
    desc = {
        "phi_per_kl_exit": "K_L->pi0 phi in the signal region and no phi daughter seen (decay "
                           "products followed through the CsI beam hole to CC04-CC06, BHCV, "
                           f"BHPV; {br_src}), per K_L at the beam exit",
        "phi_per_kl_decay": "the same per K_L decaying between the beam exit and the CsI face",
    }
    flows = {"pi0 phi": cutflow(tot)}
    h = _hists(geo, tot, ctau, "") if hists else {}
    if reference:
        ref = run_channel(geo, K.CHANNEL_PINUNU, 0.0, np.array([math.inf]), n_events, seed,
                          mass_index, smear=smear, hists=hists, chunk_size=chunk_size,
                          progress=progress)
        r_exit, re_exit, r_dec, re_dec = (np.full(ctau.size, x[0]) for x in acceptances(ref))
        acc |= {"pinunu_per_kl_exit": r_exit, "pinunu_per_kl_decay": r_dec,
                "ratio_phi_pinunu": np.divide(a_exit, r_exit, out=np.full_like(a_exit, np.nan),
                                              where=r_exit > 0)}  # nan: 0/0 undefined
        err |= {"pinunu_per_kl_exit": re_exit, "pinunu_per_kl_decay": re_dec,
                "ratio_phi_pinunu": ratio_error(a_exit, e_exit, r_exit, re_exit)}
        desc |= {"pinunu_per_kl_exit": "K_L->pi0 nu nubar in the signal region per K_L at exit",
                 "pinunu_per_kl_decay": "K_L->pi0 nu nubar per K_L decay in range",
                 "ratio_phi_pinunu": "acceptance ratio pi0 phi / pi0 nu nubar (survives the "
                                     "unmodelled shape, timing and veto efficiencies)"}
        flows["pi0 nu nubar"] = cutflow(ref)
        if hists:
            h |= _hists(geo, ref, np.array([math.inf]), "_pinunu")
    # the seed's one-formula estimate with this file's (L, p), eps = simulated stable acceptance
    stable = acceptances_stable(tot)
    ana, ana_err = analytic.compare(mass, ctau, a_exit, e_exit, stable,
                                    geo["analytic.length"], geo["analytic.momentum"])
    acc |= {f"{k}": v for k, v in ana.items()}
    err |= {f"{k}": v for k, v in ana_err.items()}
    desc |= {"analytic": "one-formula estimate: stable-phi acceptance x exp(-L m/(p ctau)) with "
                         f"L = {geo['analytic.length'] / 1000:g} m, "
                         f"p = {geo['analytic.momentum'] / 1000:g} GeV",
             "sim_over_analytic": "simulation / one-formula estimate",
             "L_eff_mm": "L [mm] the formula needs at that p to match the simulation",
             "p_eff_MeV": "p [MeV] the formula needs at that L to match the simulation"}
    n_in = tot["counts"][K.N_HEAD + len(K.STAGES) - 1]
    names = geo.volume_names("veto") + detector_rows(geo)[1]
    regions = {name: (tot["region"][r, 0] / n_in if n_in > 0 else np.full(ctau.size, np.nan))
               for r, name in enumerate(names)}
    for r, name in enumerate(names):  # the same as acceptance-table rows, with MC errors
        key = f"vetoed_by_{name}"
        acc[key] = regions[name]
        err[key] = (np.sqrt(tot["region"][r, 1]) / n_in if n_in > 0
                    else np.full(ctau.size, np.nan))
        desc[key] = (f"fraction of signal-selected pi0 phi events vetoed by {name} (phi "
                     "decay seen there first)")
    sample = None
    if sample_size > 0:
        sample, _ = sample_array(tot["rec"], tot["rec_w"], "pi0 phi")
    return Result(
        experiment=geo.experiment, variant=geo.variant, mass=float(mass), ctau=ctau,
        n_events=int(n_events), seed=int(seed), acceptance=acc, error=err,
        region_fraction=regions, cutflow=flows, hists=h, sample=sample,
        config={"geometry": geo.path, "variant": geo.variant or "", "smear": bool(smear),
                "chunk_size": int(chunk_size), "mass_index": int(mass_index),
                "phi_decay_brs": {k: float(v) for k, v in brs.items()},
                "phi_decay_brs_source": br_src,
                "signal_region": {k.split(".")[1]: v for k, v in geo.values.items()
                                  if k.startswith("signal_region.")}},
        descriptions=desc,
    )
