"""CHARM (CERN beam dump, 1985): phi from K+, K-, K_L and B mesons made by 400 GeV protons in
a thick copper dump, decaying to e+e-, mu+mu- or gamma gamma in the off-axis decay volume.

Per parent channel (decay-in-flight kernel, ``MODE_CHARM``): kaons from the BMPT invariant
cross section (Bonesini et al., EPJ C20 (2001) 13) scaled from Be to Cu (``SRC_BMPT``; yield
per proton = its forward-hemisphere integral / sigma_inel(p-Cu), kaons from the hadronic
cascade not included), B mesons from a factorised (x_F, p_T) spectrum (yield per proton in the
geometry file); kaons decay before being absorbed in copper with probability
lambda_abs/(lambda_abs + beta gamma c tau) (the event weight); B mesons fly their PDG c tau;
P -> h phi; phi's path through the decay volume ([[signal]] box), phi -> d d isotropic, and
the exact probability, at each c tau, that phi decays at a point of that path from which at
least ``min_on_face`` daughters reach the calorimeter face ([calorimeter]), each inside its
energy window (the CHARM selection as ALPINIST implements it; the path intervals are found once
per event, :func:`kotosim.kernels.flight.seen_intervals`). The parents come from their own
random stream, the same for every phi mass (scans draw them once). Expected events = POT x sum over
parents of yield x BR(P -> h phi) x sum over channels of BR(phi -> d d) x efficiency x
acceptance.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .. import analytic, engine
from .. import constants as C
from ..geometry import Geometry, GeometryError, Spec, register_check, register_schema, require
from ..kernels import flight as F
from ..result import Result
from . import _flight

L, E, N = "length", "energy", "1"

# parent channels: key, label, parent mass, c tau, recoil hadron mass, kaon (absorbed) or not
PARENTS = (
    ("kplus", "K+ -> pi+ phi", C.M_KPLUS, C.CTAU_KPLUS, C.M_PIPLUS, True),
    ("kminus", "K- -> pi- phi", C.M_KPLUS, C.CTAU_KPLUS, C.M_PIPLUS, True),
    ("kl", "K_L -> pi0 phi", C.M_KL, C.CTAU_KL, C.M_PI0, True),
    ("bplus", "B+- -> K+- phi", C.M_BPLUS, C.CTAU_BPLUS, C.M_KPLUS, False),
    ("b0", "B0 -> K*0 phi", C.M_B0, C.CTAU_B0, C.M_KSTAR0, False),
)
# the parent channels in the plot titles (LaTeX, like the other experiments' titles)
_TEX = {"kplus": r"$K^+\to\pi^+\phi$", "kminus": r"$K^-\to\pi^-\phi$",
        "kl": r"$K_L\to\pi^0\phi$", "bplus": r"$B^\pm\to K^\pm\phi$",
        "b0": r"$B^0\to K^{*0}\phi$"}
_TEX_PARENT = {"kplus": "$K^+$", "kminus": "$K^-$", "kl": "$K_L$", "bplus": r"$B^\pm$",
               "b0": "$B^0$"}
# phi decay channels seen by CHARM: key, daughter mass
DECAYS = (("ee", C.M_E), ("mumu", C.M_MU), ("gammagamma", 0.0))
MAX_MASS = C.M_BPLUS - C.M_KPLUS
MASS_NOTE = "B+ -> K+ phi needs mass < m_B+ - m_K+ (kaon parents only below m_K - m_pi)"

SCHEMA: dict[str, Spec] = {
    "beam.energy": Spec(E, 1e3, 1e8),
    "beam.target_nucleon_mass": Spec(E, 100.0, 2000.0),
    "normalisation.pot": Spec(N, 0.0, 1e25),
    "normalisation.events_limit": Spec(N, 0.0, 1e6),
    "calorimeter.z": Spec(L, 0.0, 1e7),
    "calorimeter.x_centre": Spec(L, -1e5, 1e5),
    "calorimeter.y_centre": Spec(L, -1e5, 1e5),
    "calorimeter.half": Spec(L, 1.0, 1e5),
    "histograms.z_bins": Spec(N, 1, 10000, integer=True),
    "histograms.z_low": Spec(L, -1e7, 1e7),
    "histograms.z_high": Spec(L, -1e7, 1e7),
    "analytic.start": Spec(L, 0.0, 1e9),
    "analytic.length": Spec(L, 0.0, 1e9),
    "analytic.momentum": Spec(E, 1e-3, 1e9),
}
# BMPT kaon spectrum (geometry/charm.toml [bmpt]; Bonesini et al., EPJ C20 (2001) 13)
SCHEMA |= {
    "bmpt.norm": Spec(N, 1e-9, 1e6),
    "bmpt.b": Spec(N, 0.0, 100.0),
    "bmpt.alpha": Spec(N, 0.0, 100.0),
    "bmpt.beta": Spec(N, 0.0, 0.99),
    "bmpt.a": Spec("1/energy", 1e-5, 1.0),
    "bmpt.gamma": Spec(N, 0.0, 10.0),
    "bmpt.delta": Spec(N, 0.0, 10.0),
    "bmpt.r0": Spec(N, 1e-3, 1e3),
    "bmpt.r1": Spec(N, -100.0, 0.0),
    "bmpt.reference_mass_number": Spec(N, 1.0, 300.0),
    "bmpt.target_mass_number": Spec(N, 1.0, 300.0),
    "bmpt.sigma_inel_target_mb": Spec(N, 1.0, 1e5),
    "bmpt.pt_max": Spec(E, 100.0, 10_000.0),
    "bmpt.secondary_factor": Spec(N, 0.0, 100.0),
}
for _key, *_rest, _kaon in PARENTS:
    if _kaon:
        SCHEMA |= {f"parents.{_key}.kplus_fraction": Spec(N, 0.0, 1.0),
                   f"parents.{_key}.kminus_fraction": Spec(N, 0.0, 1.0),
                   f"parents.{_key}.absorption_length": Spec(L, 1e-3, 1e6)}
    else:
        SCHEMA |= {f"parents.{_key}.yield_per_pot": Spec(N, 0.0, 100.0),
                   f"parents.{_key}.xf_power": Spec(N, 0.0, 100.0),
                   f"parents.{_key}.pt_slope": Spec("1/energy", 0.0, 1.0),
                   f"parents.{_key}.pt_gauss": Spec("1/energy2", 0.0, 1.0)}
for _key, _ in DECAYS:
    SCHEMA |= {f"detection.{_key}.e_min": Spec(E, 0.0, 1e8),
               f"detection.{_key}.e_max": Spec(E, 0.0, 1e8),
               f"detection.{_key}.efficiency": Spec(N, 0.0, 1.0),
               f"detection.{_key}.min_on_face": Spec(N, 1, 2, integer=True)}


def check(geo: Geometry) -> None:
    _flight.require_order(geo, ("histograms.z_low", "histograms.z_high"),
                          *[(f"detection.{k}.e_min", f"detection.{k}.e_max") for k, _ in DECAYS])
    for key, *_, kaon in PARENTS:
        if kaon:
            if geo[f"parents.{key}.kplus_fraction"] + geo[f"parents.{key}.kminus_fraction"] <= 0:
                raise GeometryError(f"{geo.path}: key 'parents.{key}.kplus_fraction': "
                                    "kplus_fraction + kminus_fraction must be > 0")
            continue
        if geo[f"parents.{key}.pt_slope"] == 0 and geo[f"parents.{key}.pt_gauss"] == 0:
            raise GeometryError(f"{geo.path}: key 'parents.{key}.pt_slope': pt_slope and "
                                "pt_gauss cannot both be 0 (allowed: one of them > 0)")
    if not geo.volumes.get("signal"):
        raise GeometryError(f"{geo.path}: key 'signal': at least one [[signal]] volume needed")
    lna = max(math.log(geo["bmpt.target_mass_number"] / geo["bmpt.reference_mass_number"]), 0)
    a = geo["bmpt.a"] * 1e3  # 1/GeV
    if lna > 0 and 0.74 * 0.21 * lna * geo["bmpt.pt_max"] * 1e-3 > 0.5 * a:
        raise GeometryError(f"{geo.path}: key 'bmpt.pt_max' = {geo['bmpt.pt_max'] / 1e3:g} GeV "
                            "is too large for the A-scaled sampler of this target (allowed: "
                            f"pt_max <= {0.5 * a / (0.74 * 0.21 * lna):.3g} GeV)")
    g = geo.values
    for k, _ in DECAYS:
        require(geo, g[f"detection.{k}.e_min"] < g["beam.energy"],
                (f"detection.{k}.e_min", "beam.energy"),
                "e_min < beam.energy (no daughter carries more than the beam energy)")
    for v in geo.volumes["signal"]:
        zmin, zmax = (f"signal.{v.name}.zmin", f"signal.{v.name}.zmax") if v.shape == "box" \
            else (f"signal.{v.name}.z1", f"signal.{v.name}.z2")
        require(geo, g[zmin] >= 0.0, (zmin,),
                f"{zmin} >= 0 (the decay volume is downstream of the dump at z = 0)")
        require(geo, g[zmax] <= g["calorimeter.z"], (zmax, "calorimeter.z"),
                f"{zmax} <= calorimeter.z (the calorimeter is behind the decay volume)")


register_schema("charm", SCHEMA, ("signal",))
register_check("charm", check)


def planes(geo: Geometry) -> np.ndarray:
    """The calorimeter face: a square about (x_centre, y_centre) at z."""
    g = geo.values
    return np.array([[g["calorimeter.z"], g["calorimeter.x_centre"], g["calorimeter.y_centre"],
                      g["calorimeter.half"], 0, 0, 0, 0, 0]], dtype=float)


def daughters(geo: Geometry) -> np.ndarray:
    """Rows [daughter mass, e_min, e_max, daughters needed on the calorimeter face]."""
    return np.array([[m, geo[f"detection.{k}.e_min"], geo[f"detection.{k}.e_max"],
                      geo[f"detection.{k}.min_on_face"]] for k, m in DECAYS])


# ---------------------------------------------------------------------------- BMPT kaons
def _bmpt_params(geo: Geometry, key: str) -> tuple[float, ...]:
    """(B, alpha, beta, a [1/GeV], gamma, delta, c0, c1, c2, ln(A/A_Be), E*_max [GeV],
    y_cm, p_T max [GeV]) of parent ``key``: charge factor c0 + c1 (1 - x_R)^c2 with
    c0 = K+ fraction, c1 = K- fraction / r0, c2 = -r1 (K- = K+ / (r0 (1 - x_R)^r1))."""
    g = geo.values
    m_n = g["beam.target_nucleon_mass"] * 1e-3
    e_b = g["beam.energy"] * 1e-3
    p_b = math.sqrt(max(e_b * e_b - m_n * m_n, 0.0))
    s = 2.0 * m_n * m_n + 2.0 * m_n * e_b
    return (g["bmpt.b"], g["bmpt.alpha"], g["bmpt.beta"], g["bmpt.a"] * 1e3, g["bmpt.gamma"],
            g["bmpt.delta"], g[f"parents.{key}.kplus_fraction"],
            g[f"parents.{key}.kminus_fraction"] / g["bmpt.r0"], -g["bmpt.r1"],
            math.log(g["bmpt.target_mass_number"] / g["bmpt.reference_mass_number"]),
            0.5 * math.sqrt(s), math.atanh(p_b / (e_b + m_n)), g["bmpt.pt_max"] * 1e-3)


def _x_factor(x: np.ndarray, p: tuple[float, ...]) -> np.ndarray:
    b, al, be, _, _, _, c0, c1, c2 = p[:9]
    return (1 - x) ** al * (1 + b * x) * x ** (-be) * (c0 + c1 * (1 - x) ** c2)


@functools.lru_cache(maxsize=64)
def _bmpt_integral(p: tuple[float, ...], m_gev: float) -> float:
    """Forward-hemisphere integral of the BMPT shape on the target nucleus [A-units x GeV^2]:
    2 pi int dy* int dp_T p_T x(x_R) pt(x_R, p_T) A^alpha, by the trapezoidal rule on a
    1200 x 1200 grid (y* in [0, acosh(E*_max/m)], p_T < pt_max)."""
    _, _, _, a, gam, dl, *_rest = p
    lna, emax, _, ptmax = p[9:]
    ymax = math.acosh(emax / m_gev)
    y = np.linspace(0.0, ymax, 1200)[:, None]
    pt = np.linspace(0.0, ptmax, 1200)[None, :]
    mt = np.sqrt(m_gev**2 + pt**2)
    x = mt * np.cosh(y) / emax
    ok = x < 1.0
    xs = np.where(ok, x, 0.5)
    ap, bp = a / xs**gam, a * a / (2 * xs**dl)
    xf = mt * np.sinh(y) / math.sqrt(emax**2 - m_gev**2)
    alpha = (0.74 - 0.55 * xf + 0.26 * xf**2) * (0.98 + 0.21 * pt**2)
    f = np.where(ok, _x_factor(xs, p) * (1 + ap * pt + bp * pt**2) * np.exp(-ap * pt)
                 * np.exp(lna * alpha), 0.0) * pt
    return 2 * math.pi * float(np.trapezoid(np.trapezoid(f, pt[0], axis=1), y[:, 0]))


def parent_yield(geo: Geometry, channel: int) -> float:
    """Parents of ``channel`` per proton on target: kaons from the BMPT integral over the
    forward CM hemisphere on the target nucleus / sigma_inel(p-target) x secondary_factor;
    B mesons from ``parents.<key>.yield_per_pot``."""
    key, _, m_p, *_r, kaon = PARENTS[channel]
    if not kaon:
        return geo[f"parents.{key}.yield_per_pot"]
    integral = _bmpt_integral(_bmpt_params(geo, key), m_p * 1e-3)
    return (geo["bmpt.norm"] * integral / geo["bmpt.sigma_inel_target_mb"]
            * geo["bmpt.secondary_factor"])


def open_parents(mass: float) -> list[int]:
    return [c for c, p in enumerate(PARENTS) if mass < p[2] - p[4]]


def kernel_config(geo: Geometry, channel: int, mass: float, n_events: int, chunk_size: int,
                  record_cap: int) -> F.FlightConfig:
    g = geo.values
    key, _, m_p, ctau_p, m_h, kaon = PARENTS[channel]
    pre = f"parents.{key}."
    common = dict(
        mode=F.MODE_CHARM, vertex=F.VTX_ABSORB if kaon else F.VTX_FREE,
        m_parent=m_p, ctau_parent=ctau_p, m_h=m_h, m_phi=float(mass),
        chunk_size=int(chunk_size), n_events=int(n_events), record_cap=int(record_cap),
        hist_var=F.HIST_Z, hist_log=False, hist_lo=g["histograms.z_low"],
        hist_hi=g["histograms.z_high"], e_beam=g["beam.energy"],
        m_target=g["beam.target_nucleon_mass"], parent_stream=True)
    if kaon:
        p = _bmpt_params(geo, key)
        b, al, be, a, gam, dl, c0, c1, c2, lna, emax, ycm, ptmax = p
        ymax = math.acosh(emax / (m_p * 1e-3))
        return F.FlightConfig(
            source=F.SRC_BMPT, abs_length=g[pre + "absorption_length"], bm_b=b, bm_alpha=al,
            bm_beta=be, bm_a=a, bm_gamma=gam, bm_delta=dl, bm_c0=c0, bm_c1=c1, bm_c2=c2,
            bm_ln_a=lna, bm_emax=emax, bm_ycm=ycm, bm_ptmax=ptmax, bm_npt=_flight.BMPT_NPT,
            bm_dy=ymax / _flight.BMPT_NY, bm_dpt=ptmax / _flight.BMPT_NPT, **common)
    return F.FlightConfig(source=F.SRC_TARGET, xf_power=g[pre + "xf_power"],
                          pt_a=g[pre + "pt_slope"], pt_b=g[pre + "pt_gauss"], **common)


def run_channel(geo: Geometry, channel: int, mass: float, ctau: np.ndarray, n_events: int,
                seed: int, mass_index: int = 0, *, hists: bool = True, sample_size: int = 0,
                chunk_size: int = engine.DEFAULT_CHUNK_SIZE, chunks: np.ndarray | None = None,
                progress: Callable[[int], None] | None = None, curve: bool = True,
                share_parents: bool = False) -> dict[str, np.ndarray]:
    """One parent channel. The parents come from their own random stream, the same for
    every phi mass; ``share_parents`` (scans) keeps them for the next mass
    (:func:`kotosim.experiments._flight.run`)."""
    cap = min(int(sample_size), int(n_events))
    cfg = kernel_config(geo, channel, mass, n_events, chunk_size, cap)
    nb = int(geo["histograms.z_bins"]) if hists else 0
    return _flight.run(geo, cfg, channel, ctau, seed, mass_index, planes=planes(geo),
                       dau=daughters(geo), hist_bins=nb, chunks=chunks, progress=progress,
                       curve=curve, share_parents=share_parents)


# ---------------------------------------------------------------------------- branching ratios
def branching_ratios(mass: float, options: Mapping[str, Any] | None
                     ) -> tuple[dict[str, float] | None, dict[str, float], str]:
    """(production BR per parent or None, phi decay BRs, description) from the options.

    ``model`` (ScalarModel) or ``eps_q`` and ``eps_l``: the model's production BRs (K- as K+,
    B+- from br_b_kphi, B0 from br_b0_kstar0phi) and decay BRs. ``br``: one production BR
    for every parent; decay BRs from ``br_decay`` or else those of the Higgs-mixing model at
    this mass (independent of sin theta). Without options: production BR None."""
    from ..model import MASS_MAX, ScalarModel

    opts = dict(options or {})
    model = opts.pop("model", None)
    if ("eps_q" in opts) != ("eps_l" in opts):  # no silent default for the missing coupling
        have, miss = ("eps_q", "eps_l") if "eps_q" in opts else ("eps_l", "eps_q")
        raise ValueError(f"{miss} (--{miss.replace('_', '-')}): a model point needs both "
                         f"eps_q and eps_l (--eps-q and --eps-l); only {have} was given")
    if "eps_q" in opts:
        if model is not None:
            raise ValueError("eps_q: give either a model or eps_q/eps_l, not both")
        model = ScalarModel(mass, float(opts.pop("eps_q")), float(opts.pop("eps_l")))
    br = opts.pop("br", None)
    br_decay = opts.pop("br_decay", None)
    if opts:
        raise ValueError(f"options: unknown key '{next(iter(opts))}' for charm (allowed: "
                         "model, eps_q, eps_l, br, br_decay)")
    if model is not None and (br is not None or br_decay is not None):
        which = "br" if br is not None else "br_decay"
        raise ValueError(f"{which} (--br): a model point (eps_q, eps_l) fixes every production and "
                         f"decay BR: give either {which} or the model point, not both")
    if model is not None:
        if abs(model.mass - mass) > 1e-9 * max(mass, 1.0):
            raise ValueError(f"options: model mass {model.mass:g} MeV differs from mass "
                             f"{mass:g} MeV")
        prod = {"kplus": model.br_kplus_piplusphi, "kminus": model.br_kplus_piplusphi,
                "kl": model.br_kl_pi0phi, "bplus": model.br_b_kphi,
                "b0": model.br_b0_kstar0phi}
        brs = model.branching_ratios
        dec = {k: brs[k] for k, _ in DECAYS}
        return prod, dec, (f"model eps_q = {model.eps_q:g}, eps_l = {model.eps_l:g} "
                           f"(model c tau = {model.ctau / 1000:.4g} m)")
    if br_decay is not None:
        dec = {k: float(br_decay.get(k, 0.0)) for k, _ in DECAYS}
        unknown = set(br_decay) - {k for k, _ in DECAYS}
        if unknown:
            raise ValueError(f"options: br_decay key '{sorted(unknown)[0]}' unknown (allowed: "
                             "ee, mumu, gammagamma)")
        if not (all(0.0 <= v <= 1.0 for v in dec.values()) and sum(dec.values()) <= 1.0):
            raise ValueError(f"options: br_decay = {dec}: each BR in [0, 1], sum <= 1")
        src = "user decay BRs"
    elif 0 < mass < MASS_MAX:
        brs = ScalarModel.higgs_mixing(mass, 1e-3).branching_ratios
        dec = {k: brs[k] for k, _ in DECAYS}
        src = "Higgs-mixing decay BRs"
    else:  # above the model's range: no decay BRs, so no detection probability (nan)
        dec = {k: np.nan for k, _ in DECAYS}
        src = (f"no decay BRs outside 0 < m_phi < {MASS_MAX:.1f} MeV (the scalar model stops "
               "at the K Kbar threshold): detected_* and events are undefined (nan); per-channel "
               "acceptances are given")
    if br is None:
        return None, dec, src
    b = float(br)
    if not 0 <= b <= 1:
        raise ValueError(f"options: br = {b:g}: allowed 0 <= br <= 1")
    return {key: b for key, *_ in PARENTS}, dec, f"production BR = {b:g} for every parent, {src}"


def model_ctau(mass: float, options: Mapping[str, Any] | None) -> float | None:
    """c tau [mm] fixed by the model point in ``options`` (``model`` or ``eps_q``/``eps_l``),
    or None without a model point."""
    opts = dict(options or {})
    model = opts.get("model")
    if model is None and "eps_q" in opts and "eps_l" in opts:
        from ..model import ScalarModel

        model = ScalarModel(mass, float(opts["eps_q"]), float(opts["eps_l"]))
    return None if model is None else float(model.ctau)


def check_model_ctau(mass: float, ctau: np.ndarray, options: Mapping[str, Any] | None) -> None:
    """A model point fixes c tau: refuse a c tau grid other than the model's own value (the
    expected events would belong to another model)."""
    ct = model_ctau(mass, options)
    if ct is None:
        return
    if ctau.size != 1 or not np.isclose(ctau[0], ct, rtol=1e-6, atol=0.0):
        given = ", ".join(f"{c / 1000:g}" for c in ctau)
        raise ValueError(f"ctau (--ctau): the model point fixes c tau = {ct / 1000:.6g} m "
                         f"(from m_phi, eps_q, eps_l); got {given} m: leave out --ctau to use "
                         "it, or give --br for a free c tau")


# ---------------------------------------------------------------------------- results
def _parent_results(geo: Geometry, tot, dec: dict[str, float]):
    """Per-parent acceptances: decay in volume, per channel with daughters, and the
    BR- and efficiency-weighted detection probability (per produced parent)."""
    q1 = _flight.quantity(tot, F.Q_SIGNAL, False)
    per_ch = {k: _flight.quantity(tot, F.Q_DAU + c, False) for c, (k, _) in enumerate(DECAYS)}
    det = np.zeros_like(q1[0])
    det_e = np.zeros_like(q1[0])
    for k, (v, e) in per_ch.items():
        f = dec[k] * geo[f"detection.{k}.efficiency"]
        det += f * v
        det_e += f * e  # channels share events: errors added linearly (conservative)
    return q1, per_ch, (det, det_e)


def _main_parent(mass: float) -> int:
    """K+ while open, else B+-: the parent whose decay-in-volume acceptance is compared with
    the seed formula."""
    return 0 if 0 in open_parents(mass) else 3


def _analytic(geo: Geometry, mass: float, ctau: np.ndarray, tot, acc, err):
    eps, _ = _flight.selected_fraction(tot, decay=False)
    return analytic.compare_decay(mass, ctau, acc, err, eps, geo["analytic.start"],
                                  geo["analytic.length"], geo["analytic.momentum"])


def scan_block(geo: Geometry, mass: float, ctau: np.ndarray, n_events: int, seed: int,
               mass_index: int, block: np.ndarray) -> dict[str, np.ndarray]:
    """Accumulators of one block for every open parent (keys prefixed by the parent)."""
    out: dict[str, np.ndarray] = {}
    for c in open_parents(mass):
        tot = _flight.strip(run_channel(geo, c, mass, ctau, n_events, seed, mass_index,
                                        hists=False, chunks=block, curve=False,
                                        share_parents=True))
        out |= {f"{PARENTS[c][0]}.{k}": v for k, v in tot.items()}
    return out


def _split(tot: dict[str, np.ndarray], key: str) -> dict[str, np.ndarray] | None:
    sub = {k.split(".", 1)[1]: v for k, v in tot.items() if k.startswith(key + ".")}
    return sub or None


def scan_finish(geo: Geometry, mass: float, ctau: np.ndarray, tot: dict[str, np.ndarray],
                ref: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Detection probability per produced parent, averaged over the parents with their yields
    (Higgs-mixing decay BRs and efficiencies applied, equal production BRs), over the c tau
    grid; the seed formula is compared with the main parent's decay-in-volume acceptance."""
    _, dec, _ = branching_ratios(mass, None)
    acc = np.zeros(ctau.size)
    var = np.zeros(ctau.size)
    ysum = 0.0
    for c in open_parents(mass):
        sub = _split(tot, PARENTS[c][0])
        if sub is None:
            continue
        y = parent_yield(geo, c)
        _, _, (d, de) = _parent_results(geo, sub, dec)
        acc += y * d
        var += (y * de) ** 2
        ysum += y
    acc = acc / ysum if ysum > 0 else np.full(ctau.size, np.nan)  # 0/0: undefined
    err = np.sqrt(var) / ysum if ysum > 0 else np.full(ctau.size, np.nan)
    main = _split(tot, PARENTS[_main_parent(mass)][0])
    ana = {"analytic": np.zeros(ctau.size), "sim_over_analytic": np.full(ctau.size, np.nan)}
    ana_err = {"sim_over_analytic": np.full(ctau.size, np.nan)}
    if main is not None:
        a1, e1 = _flight.quantity(main, F.Q_SIGNAL, False)
        ana, ana_err = _analytic(geo, mass, ctau, main, a1, e1)
    return analytic.scan_entry(acc, err, ana, ana_err)


def simulate(geo: Geometry, mass: float, ctau: Sequence[float] | np.ndarray, n_events: int,
             seed: int, *, mass_index: int = 0, reference: bool = True, smear: bool = True,
             hists: bool = True, sample_size: int = 0,
             chunk_size: int = engine.DEFAULT_CHUNK_SIZE,
             progress: Callable[[int], None] | None = None,
             options: Mapping[str, Any] | None = None) -> Result:
    """Simulate phi from K+, K-, K_L, B+- and B0 at CHARM (mass [MeV], c tau grid [mm]).

    ``n_events`` parent decays are generated per open parent channel. ``options``: see
    :func:`branching_ratios`. ``reference`` and ``smear`` are not used."""
    ctau = np.asarray(ctau, dtype=float)
    nct = ctau.size
    prod, dec, br_src = branching_ratios(mass, options)
    check_model_ctau(mass, ctau, options)
    pot = geo["normalisation.pot"]
    acc: dict[str, np.ndarray] = {}
    err: dict[str, np.ndarray] = {}
    desc: dict[str, str] = {}
    flows: dict[str, list] = {}
    h: dict[str, list] = {}
    sample = None
    events = np.zeros(nct)
    events_var = np.zeros(nct)
    per_br = np.zeros(nct)
    per_br_var = np.zeros(nct)
    main_c = _main_parent(mass)
    main_tot = None
    for c, (key, label, *_rest) in enumerate(PARENTS):
        if c not in open_parents(mass):
            continue
        y = parent_yield(geo, c)
        tot = run_channel(geo, c, mass, ctau, n_events, seed, mass_index,
                          hists=hists and c == main_c,
                          sample_size=sample_size if c == main_c else 0,
                          chunk_size=chunk_size, progress=progress)
        (a1, e1), per_ch, (d, de) = _parent_results(geo, tot, dec)
        acc[f"decay_in_volume_{key}"], err[f"decay_in_volume_{key}"] = a1, e1
        desc[f"decay_in_volume_{key}"] = (f"{label}: phi decays inside the decay volume, per "
                                          f"{key} produced in the dump")
        for k, (v, e) in per_ch.items():
            acc[f"{k}_{key}"], err[f"{k}_{key}"] = v, e
            desc[f"{k}_{key}"] = (f"{label}: phi decays in the volume and both phi -> {k} "
                                  "daughters reach the calorimeter in their energy window "
                                  "(efficiency not applied), per parent produced")
        acc[f"detected_{key}"], err[f"detected_{key}"] = d, de
        desc[f"detected_{key}"] = (f"{label}: sum over channels of BR(phi->dd) x efficiency x "
                                   "acceptance, per parent produced")
        per_br += pot * y * d
        per_br_var += (pot * y * de) ** 2
        if prod is not None:
            events += pot * y * prod[key] * d
            events_var += (pot * y * prod[key] * de) ** 2
        c0 = tot["counts"]
        flows[label] = [("produced", 1.0), ("decays before absorption",
                                            c0[1] / max(c0[0], 1.0)),
                        ("phi towards the decay volume",
                         _flight.selected_fraction(tot, False)[0])]
        if c == main_c:
            main_tot = tot
            if hists:
                cfg = kernel_config(geo, c, mass, n_events, chunk_size, 0)
                h = _flight.histograms(tot, cfg, "phi_decay",
                                       "z of the phi decay [mm] (phi towards the volume)")
            if sample_size > 0:
                sample, _ = _flight.sample_array(tot["rec"], tot["rec_w"], key, "h")
    acc["events_per_unit_br"] = per_br
    err["events_per_unit_br"] = np.sqrt(per_br_var)
    desc["events_per_unit_br"] = (f"expected signal events for BR(parent -> h phi) = 1 for "
                                  f"every parent, POT = {pot:.3g}, {br_src}")
    if prod is not None:
        acc["expected_events"] = events
        err["expected_events"] = np.sqrt(events_var)
        desc["expected_events"] = (f"expected signal events, POT = {pot:.3g}, {br_src}; "
                                   f"CHARM saw 0: excluded at 90% CL above "
                                   f"{geo['normalisation.events_limit']:g}")
    mkey = f"decay_in_volume_{PARENTS[main_c][0]}"
    g = geo.values
    eps = 0.0
    if main_tot is not None:
        ana, ana_err = _analytic(geo, mass, ctau, main_tot, acc[mkey], err[mkey])
        acc |= ana
        err |= ana_err
        eps = _flight.selected_fraction(main_tot, False)[0]
        desc |= {"analytic": f"one-formula estimate for {mkey}: eps x [exp(-L1 m/(p ctau)) - "
                             f"exp(-(L1+dL) m/(p ctau))], eps = simulated fraction of phi "
                             f"towards the volume, L1 = {g['analytic.start'] / 1e3:g} m, "
                             f"dL = {g['analytic.length'] / 1e3:g} m, "
                             f"p = {g['analytic.momentum'] / 1e3:g} GeV",
                 "sim_over_analytic": f"{mkey} / one-formula estimate",
                 "L_eff_mm": "start distance L1 [mm] the formula needs at that p",
                 "p_eff_MeV": "p [MeV] the formula needs at that L1 (long-lifetime branch)"}
    ct_curve = _flight.CTAU_CURVE
    config = {
        "geometry": geo.path, "variant": geo.variant or "", "chunk_size": int(chunk_size),
        "mass_index": int(mass_index), "main_key": mkey, "br_source": br_src,
        "main_label": f"P(decay in volume) per {_TEX_PARENT[PARENTS[main_c][0]]}",
        "title": f"CHARM {_TEX[PARENTS[main_c][0]]}",
        "acceptance_curve": (_flight.curve_config(main_tot, False, "decay in volume")
                             if main_tot is not None else None),
        "analytic_curve": {
            "ctau_mm": ct_curve.tolist(),
            "value": (eps * analytic.decay_in(mass, ct_curve, g["analytic.start"],
                                              g["analytic.length"],
                                              g["analytic.momentum"])).tolist(),
            "label": rf"one-formula estimate, p = {g['analytic.momentum'] / 1e3:g} GeV"},
        "plot_lines": [(v.params[4], "volume") for v in geo.volumes["signal"]]
        + [(v.params[5], "calorimeter") for v in geo.volumes["signal"]],
        "hist_log": False,
    }
    return Result(
        experiment=geo.experiment, variant=geo.variant, mass=float(mass), ctau=ctau,
        n_events=int(n_events), seed=int(seed), acceptance=acc, error=err, cutflow=flows,
        hists=h, sample=sample, config=config, descriptions=desc)
