"""Effective K_L -> pi0 phi branching ratio seen by KOTO, from the simulation.

For a model point (m_phi, eps_q, eps_l) of :mod:`kotosim.model`:

    BR(K_L -> pi0 phi; KOTO) = BR(K_L -> pi0 phi) x A_phi(c tau) / A_pinunu

where A are the simulated signal acceptances per K_L (the ratio cancels KOTO's efficiencies
that the simulation does not model) and c tau is the model's proper decay length. The seed's
analytic approximation (slide 36) is printed beside it:

    BR_eff = eps BR exp(-L m/(p tau)),  eps = A_phi(stable)/A_pinunu,

with (L, p) from the geometry file's [analytic] section. The KOTO-favoured range
BR_KOTO = 2.1 (+2.0 -1.1) x 1e-9 at 68% CL, (+4.1 -1.7) at 95% CL is the seed's (slide 36,
from KOTO's 3 events in 2016-18; Kitahara et al. arXiv:1909.11111); both are parameters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import analytic
from .geometry import Geometry, load_geometry
from .model import ScalarModel, eps_l_for_delta_a_mu
from .result import ratio_error

__all__ = ["BAND_68", "BAND_95", "EffectiveBR", "BRScan", "effective_br", "effective_br_scan",
           "write_br_scan"]

# BR_KOTO = 2.1e-9 with (+2.0, -1.1) at 68% CL and (+4.1, -1.7) at 95% CL (seed slide 36)
BAND_68 = (2.1e-9 - 1.1e-9, 2.1e-9 + 2.0e-9)
BAND_95 = (2.1e-9 - 1.7e-9, 2.1e-9 + 4.1e-9)


@dataclass
class EffectiveBR:
    """Simulated vs analytic effective BR at KOTO for one model point (ctau in mm)."""

    model: ScalarModel
    ctau: float
    br: float
    acc_ratio: float
    acc_ratio_error: float
    acc_ratio_stable: float
    br_sim: float
    br_sim_error: float
    br_analytic: float
    length: float
    momentum: float

    @property
    def sim_over_analytic(self) -> float:
        return self.br_sim / self.br_analytic if self.br_analytic > 0 else math.nan

    def table(self) -> str:
        m = self.model
        return "\n".join([
            f"KOTO effective BR: m_phi = {m.mass:g} MeV, eps_q = {m.eps_q:.4g}, "
            f"eps_l = {m.eps_l:.4g}",
            f"  c*tau(phi)                       = {self.ctau:.4e} mm",
            f"  BR(K_L -> pi0 phi)               = {self.br:.4e}",
            f"  A(pi0 phi, c*tau)/A(pi0 nu nu)   = {self.acc_ratio:.4e} ± "
            f"{self.acc_ratio_error:.1e}   (stable phi: {self.acc_ratio_stable:.4f})",
            f"  BR(KOTO), simulation             = {self.br_sim:.4e} ± {self.br_sim_error:.1e}",
            f"  BR(KOTO), one-formula estimate   = {self.br_analytic:.4e}   "
            f"(eps BR exp(-L m/(p tau)), L = {self.length / 1000:g} m, "
            f"p = {self.momentum / 1000:g} GeV, eps = stable ratio)",
            f"  simulation / one-formula         = {self.sim_over_analytic:.4g}",
        ])


def _geo(experiment: str | Path | Geometry, variant: str | None) -> Geometry:
    geo = experiment if isinstance(experiment, Geometry) else load_geometry(experiment, variant)
    if geo.experiment != "koto":
        raise ValueError(f"experiment: effective BR is defined for KOTO, got {geo.experiment!r}")
    return geo


def effective_br(model: ScalarModel, *, n_events: int = 1_000_000, seed: int = 1,
                 experiment: str | Path | Geometry = "koto",
                 variant: str | None = None) -> EffectiveBR:
    """Simulate KOTO at the model's mass and lifetime; return the effective BR."""
    from .api import simulate

    geo = _geo(experiment, variant)
    ct = model.ctau
    res = simulate(geo, mass=model.mass, ctau=[ct, math.inf], n_events=n_events, seed=seed,
                   hists=False, options={"model": model})
    a, e = res.acceptance["ratio_phi_pinunu"], res.error["ratio_phi_pinunu"]
    br = model.br_kl_pi0phi
    L, p = geo["analytic.length"], geo["analytic.momentum"]
    ana = br * a[1] * float(analytic.survival(model.mass, np.array([ct]), L, p)[0])
    return EffectiveBR(model, ct, br, float(a[0]), float(e[0]), float(a[1]), br * float(a[0]),
                       br * float(e[0]), ana, L, p)


@dataclass
class BRScan:
    """Effective BR over a (mass, eps_q) grid; arrays have shape (n_mass, n_eps_q)."""

    masses: np.ndarray
    eps_q: np.ndarray
    eps_l: np.ndarray            # per mass
    ctau: np.ndarray             # mm
    br: np.ndarray               # BR(K_L -> pi0 phi)
    br_sim: np.ndarray
    br_sim_error: np.ndarray
    br_analytic: np.ndarray
    length: float
    momentum: float
    config: dict = field(default_factory=dict)


def effective_br_scan(masses: Sequence[float], eps_q: Sequence[float], *,
                      eps_l: float | str = "g2", n_events: int = 500_000, seed: int = 1,
                      experiment: str | Path | Geometry = "koto", variant: str | None = None,
                      **options: str) -> BRScan:
    """Effective BR at KOTO over masses [MeV] x eps_q, with eps_l fixed by (g-2)_mu ("g2")
    or given. One kinematic sample per mass: all eps_q values (hence lifetimes) of a mass are
    weights on the same events; the pi0 nu nubar reference is simulated once. phi's decay
    BRs (which decide what its daughters are, not its lifetime) are those of the geometric-mean
    eps_q of the grid at each mass: the veto depends on them only through charged vs photon
    daughters."""
    from .api import simulate

    geo = _geo(experiment, variant)
    masses = np.asarray(masses, dtype=float)
    eq = np.asarray(eps_q, dtype=float)
    if masses.ndim != 1 or masses.size == 0 or eq.ndim != 1 or eq.size == 0:
        raise ValueError("masses, eps_q: give one or more values each")
    if np.any(eq <= 0):
        raise ValueError("eps_q: must be > 0 for a scan")
    shape = (masses.size, eq.size)
    ctau, br = np.zeros(shape), np.zeros(shape)
    bsim, berr, bana = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    el = np.zeros(masses.size)
    L, p = geo["analytic.length"], geo["analytic.momentum"]
    ref = simulate(geo, mass=0.0, ctau=[math.inf], n_events=n_events, seed=seed, hists=False)
    r_acc = ref.acceptance["pinunu_per_kl_exit"][0]
    r_err = ref.error["pinunu_per_kl_exit"][0]
    for i, m in enumerate(masses):
        el[i] = eps_l_for_delta_a_mu(m) if eps_l == "g2" else float(eps_l)
        models = [ScalarModel(float(m), float(q), el[i], **options) for q in eq]
        ctau[i] = [md.ctau for md in models]
        br[i] = [md.br_kl_pi0phi for md in models]
        mid = ScalarModel(float(m), float(np.exp(np.mean(np.log(eq)))), el[i], **options)
        res = simulate(geo, mass=float(m), ctau=np.append(ctau[i], math.inf), n_events=n_events,
                       seed=seed, mass_index=i, reference=False, hists=False,
                       options={"model": mid})
        a, e = res.acceptance["phi_per_kl_exit"], res.error["phi_per_kl_exit"]
        ratio = a / r_acc
        rerr = ratio_error(a, e, np.full_like(a, r_acc), np.full_like(a, r_err))
        bsim[i] = br[i] * ratio[:-1]
        berr[i] = br[i] * rerr[:-1]
        bana[i] = br[i] * ratio[-1] * analytic.survival(m, ctau[i], L, p)
    cfg = {"experiment": geo.path, "variant": variant or "", "n_events": int(n_events),
           "seed": int(seed), "eps_l": str(eps_l), "options": dict(options)}
    return BRScan(masses, eq, el, ctau, br, bsim, berr, bana, L, p, cfg)


def _edges(points: np.ndarray, log: bool) -> np.ndarray:
    x = np.log10(points) if log else points.astype(float)
    if x.size == 1:
        e = np.array([x[0] - 0.5, x[0] + 0.5])
    else:
        mid = 0.5 * (x[1:] + x[:-1])
        e = np.concatenate([[x[0] - (mid[0] - x[0])], mid, [x[-1] + (x[-1] - mid[-1])]])
    return 10**e if log else e


def write_br_scan(scan: BRScan, path: str | Path, png: str | Path | None = None,
                  band68: tuple[float, float] = BAND_68,
                  band95: tuple[float, float] = BAND_95) -> None:
    """ROOT file (TH2 maps over (m_phi, eps_q) of the simulated and analytic effective BR, of
    cτ and of the true BR; the grid as a TTree; the config) and a PNG of the (m, eps_q) plane
    with the KOTO-favoured bands from the simulation (filled) and the analytic formula (lines).
    Both written atomically."""
    import json

    import hist
    import uproot

    from .io import atomic_path

    me, qe = _edges(scan.masses, False), _edges(scan.eps_q, True)

    def h2(values, variances=None):
        h = hist.Hist(hist.axis.Variable(me, name="mass", label="m_phi [MeV]"),
                      hist.axis.Variable(qe, name="eps_q", label="eps_q"),
                      storage=hist.storage.Weight())
        v = h.view(flow=False)
        v["value"] = values
        v["variance"] = variances if variances is not None else 0.0
        return h

    with atomic_path(path) as tmp:
        with uproot.recreate(tmp) as f:
            f["br_eff_sim"] = h2(scan.br_sim, scan.br_sim_error**2)
            f["br_eff_analytic"] = h2(scan.br_analytic)
            f["ctau_mm"] = h2(scan.ctau)
            f["br_kl_pi0phi"] = h2(scan.br)
            mm, qq = np.meshgrid(scan.masses, scan.eps_q, indexing="ij")
            el = np.broadcast_to(scan.eps_l[:, None], mm.shape)
            cols = {"mass": mm.ravel(), "eps_q": qq.ravel(), "eps_l": el.ravel().copy(),
                    "ctau_mm": scan.ctau.ravel(), "br": scan.br.ravel(),
                    "br_sim": scan.br_sim.ravel(), "br_sim_err": scan.br_sim_error.ravel(),
                    "br_analytic": scan.br_analytic.ravel()}
            t = f.mktree("grid", {k: np.float64 for k in cols})
            t.extend({k: np.ascontiguousarray(v, dtype=np.float64) for k, v in cols.items()})
            f["config"] = json.dumps(scan.config | {
                "band68": band68, "band95": band95, "L_mm": scan.length,
                "p_MeV": scan.momentum})
    if png is not None:
        _plot_plane(scan, png, band68, band95)


def _plot_plane(scan: BRScan, png: str | Path, band68, band95) -> None:
    from .io import atomic_path
    from .plotting import _style

    plt, _ = _style()
    fig, ax = plt.subplots(figsize=(9, 7))
    m, q = np.meshgrid(scan.masses, scan.eps_q, indexing="ij")
    ax.contourf(m, q, scan.br_sim, levels=[band95[0], band68[0], band68[1], band95[1]],
                colors=["#f4a6a6", "#d62728", "#f4a6a6"], extend="neither")
    ax.contour(m, q, scan.br_analytic, levels=[band68[0], band68[1]], colors="k",
               linestyles="dashed", linewidths=1.5)
    ax.contour(m, q, scan.br_analytic, levels=[band95[0], band95[1]], colors="k",
               linestyles="dotted", linewidths=1.2)
    ax.plot([], [], color="#d62728", lw=8, label="simulation, 68% CL")
    ax.plot([], [], color="#f4a6a6", lw=8, label="simulation, 95% CL")
    ax.plot([], [], color="k", ls="dashed",
            label=rf"$\epsilon BR\, e^{{-Lm/p\tau}}$, 68% (L={scan.length / 1000:g} m, "
                  rf"p={scan.momentum / 1000:g} GeV)")
    ax.plot([], [], color="k", ls="dotted", label="analytic, 95%")
    ax.set_yscale("log")
    ax.set_xlabel(r"$m_\phi$ [MeV]")
    ax.set_ylabel(r"$\epsilon_q$")
    ax.set_title(r"KOTO-favoured $BR(K_L\to\pi^0\phi)_{\rm eff}$, $\epsilon_\ell$ from "
                 r"$(g-2)_\mu$" if scan.config.get("eps_l") == "g2" else
                 r"KOTO-favoured $BR(K_L\to\pi^0\phi)_{\rm eff}$", fontsize=15)
    ax.legend(fontsize=11, loc="lower right")
    with atomic_path(png, ".png") as tmp:
        fig.savefig(tmp, dpi=100, bbox_inches="tight", format="png")
    plt.close(fig)
