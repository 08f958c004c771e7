"""Plots in the style of the experiments' publications (matplotlib + mplhep)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .io import atomic_path
from .result import Result

__all__ = ["plot_ptz"]


def _style():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep

    plt.style.use(mplhep.style.ROOT)
    return plt, mplhep


def signal_box(cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    """Polygon (Z [mm], Pt [MeV]) of the KOTO signal region with its slanted lower edge."""
    z0, z1, zs = cfg["z_min"], cfg["z_max"], cfg["z_slant"]
    p0, p1, ps = cfg["pt_min"], cfg["pt_max"], cfg["pt_min_at_z_max"]
    return np.array([z0, zs, z1, z1, z0, z0]), np.array([p0, p0, ps, p1, p1, p0])


def plot_ptz(result: Result, path: str | Path, index: int = 0) -> Path:
    """Reconstructed Pt versus Z of events passing all cuts but the signal region, for cτ
    index ``index``, with the signal box and the K_L -> pi0 nu nubar contour (if simulated).
    Written atomically as PNG."""
    plt, mplhep = _style()
    from matplotlib.colors import LogNorm

    h = result.hists["ptz"][index]
    fig, ax = plt.subplots(figsize=(9, 7))
    vals = h.values()
    norm = LogNorm(vmin=vals.max() * 1e-4, vmax=vals.max()) if vals.max() > 0 else None
    art = mplhep.hist2dplot(h, ax=ax, norm=norm, cbarextend=False)
    art.cbar.set_label("events per K$_L$ at the beam exit, per bin")
    ref = result.hists.get("ptz_pinunu")
    if ref:
        r = ref[0].values()
        if r.max() > 0:
            zc = ref[0].axes[0].centers
            pc = ref[0].axes[1].centers
            ax.contour(zc, pc, r.T / r.max(), levels=[0.05, 0.3, 0.7], colors="white",
                       linewidths=1.0, linestyles="dashed")
    sr = result.config.get("signal_region")
    if sr:
        bz, bp = signal_box(sr)
        ax.plot(bz, bp, color="red", lw=2)
    ct = result.ctau[index]
    ctl = r"$c\tau=\infty$" if not math.isfinite(ct) else rf"$c\tau={ct / 1000:g}$ m"
    ax.set_title(rf"KOTO $K_L\to\pi^0\phi$, $m_\phi={result.mass:g}$ MeV, {ctl}", fontsize=16)
    ax.set_xlabel(r"Reconstructed $Z_{vtx}$ [mm]")
    ax.set_ylabel(r"Reconstructed $P_t$ [MeV/$c$]")
    with atomic_path(path, ".png") as tmp:
        fig.savefig(tmp, dpi=100, bbox_inches="tight", format="png")
    plt.close(fig)
    return Path(path)


def plot_result(result: Result, path: str | Path, index: int = 0) -> Path:
    """The experiment's standard plot of ``result`` (KOTO: :func:`plot_ptz`)."""
    from .experiments import get

    return get(result.experiment).plot(result, path, index)
