"""The result of a simulation: acceptances with Monte Carlo errors, histograms, event sample."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Result", "ratio_error"]


def ratio_error(a: np.ndarray, ea: np.ndarray, b: np.ndarray, eb: np.ndarray) -> np.ndarray:
    """Error of a/b for independent a, b (first-order propagation)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(b > 0, a / b, np.nan)
        rel = np.sqrt(np.where(a > 0, (ea / np.where(a > 0, a, 1.0)) ** 2, 0.0)
                      + np.where(b > 0, (eb / np.where(b > 0, b, 1.0)) ** 2, 0.0))
        return np.abs(r) * rel


@dataclass
class Result:
    """Outcome of :func:`kotosim.simulate` for one experiment and one φ mass.

    Attributes
    ----------
    experiment, variant : geometry name and variant.
    mass : φ mass [MeV].
    ctau : proper decay lengths cτ of the grid [mm] (``inf`` = stable).
    n_events : generated events per channel.
    seed : master seed.
    acceptance, error : name -> array over ``ctau`` (dimensionless) and its MC error.
    region_fraction : veto element -> array over ``ctau``: fraction of the signal-selected
        events vetoed by that element (KOTO: the detector volume, then each downstream
        detector; an event seen by several is counted for the first one listed).
    cutflow : channel -> list of (stage, weighted fraction of generated events).
    hists : name -> ``hist.Hist`` (Weight storage), or a list of them per cτ.
    sample : optional awkward Array of event records (vector behaviours registered).
    config : the run configuration (written to the ROOT file).
    """

    experiment: str
    variant: str | None
    mass: float
    ctau: np.ndarray
    n_events: int
    seed: int
    acceptance: dict[str, np.ndarray]
    error: dict[str, np.ndarray]
    region_fraction: dict[str, np.ndarray] = field(default_factory=dict)
    cutflow: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    hists: dict[str, Any] = field(default_factory=dict, repr=False)
    sample: Any = field(default=None, repr=False)
    config: dict[str, Any] = field(default_factory=dict, repr=False)
    descriptions: dict[str, str] = field(default_factory=dict, repr=False)

    def table(self) -> str:
        """Plain-text acceptance table (one row per cτ)."""
        names = list(self.acceptance)
        width = max(len(n) for n in names) if names else 10
        cts = ["inf" if not np.isfinite(ct) else f"{ct / 1000.0:.4g} m" for ct in self.ctau]
        lines = [f"{self.experiment}: m_phi = {self.mass:g} MeV, {self.n_events} events "
                 f"per channel, seed {self.seed}",
                 f"{'c*tau':<{width}} " + " ".join(f"{c:>21}" for c in cts)]
        for n in names:
            cells = []
            for v, e in zip(self.acceptance[n], self.error[n], strict=True):
                cell = f"{v:.4e} ± {e:.1e}" if np.isfinite(e) and e > 0 else f"{v:.4e}"
                cells.append(cell.rjust(21))
            lines.append(f"{n:<{width}} " + " ".join(cells))
        if any(np.isnan(np.asarray(v, dtype=float)).any()
               for d in (self.acceptance, self.region_fraction) for v in d.values()):
            lines.append("  nan = undefined, never 0 (a ratio 0/0: nothing passed the "
                         "denominator's selection; L_eff/p_eff: no single L or p reproduces "
                         "the simulation; see the descriptions)")
        if self.descriptions:
            lines.append("")
            lines += [f"  {n}: {d}" for n, d in self.descriptions.items()]
        if self.region_fraction:
            lines.append("  fraction of signal-selected events vetoed by each element, the "
                         "first listed that sees a phi daughter (per ctau): " + "; ".join(
                             f"{r}: " + ", ".join(f"{x:.3g}" for x in v)
                             for r, v in self.region_fraction.items()))
        return "\n".join(lines)
