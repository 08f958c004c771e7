"""Python side of the shared decay-in-flight kernel (:mod:`kotosim.kernels.flight`):
running chunks through :mod:`kotosim.engine`, turning accumulators into acceptances with
errors, histograms, event samples and the standard plot. Used by NA62, CHARM and LHCb."""

from __future__ import annotations

import functools
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .. import engine
from ..geometry import Geometry, require
from ..kernels import flight as F
from ..kernels.sampling import alias_table
from ..result import Result
from ._common import sample_columns

# the fine c tau grid [mm] of the acceptance curve drawn in the plots (1e-4 m ... 1e6 m)
CTAU_CURVE = np.logspace(-1, 9, 41)


def require_order(geo: Geometry, *pairs: tuple[str, str]) -> None:
    """Raise a one-line GeometryError unless geo[lo] < geo[hi] for every (lo, hi)."""
    for lo, hi in pairs:
        require(geo, geo[lo] < geo[hi], (lo, hi), f"{lo} < {hi}")


# the parents' own stream (cfg.parent_stream): chunk c of channel k is seeded from
# SeedSequence(seed, spawn_key=(experiment, k, PARENT_STREAM, c)) -- no mass index, so every
# phi mass sees the same parents (a mass index is below engine's limit of 10^4 masses)
PARENT_STREAM = 2**31 - 1
# parent banks kept in this process for the next mass (scans, kotosim.reach): at most this
# many bytes; a bank that would not fit is not made (its parents are drawn in the kernel,
# with the same numbers)
BANK_BYTES = 256 * 2**20
_banks: OrderedDict[tuple, np.ndarray] = OrderedDict()
_banks_lock = threading.Lock()


# the BMPT sampler's envelope grid: cells in y* x p_T. On 128 x 256 cells 96% of the envelope
# lies under the density and 92% under the squeeze (K+, K-, K_L on copper at 400 GeV), so a
# kaon costs ~1.05 tries and ~0.1 density evaluations; the table (1 MB) stays in the core's
# cache. Finer grids need fewer evaluations but miss the cache (256 x 512, 4 MB, was slower)
BMPT_NY, BMPT_NPT = 128, 256


def bmpt_table(cfg: F.FlightConfig) -> np.ndarray:
    """(cells, 4) table of :func:`kotosim.kernels.flight.sample_bmpt`: upper and lower bound
    of the density on each cell, alias probability and alias index of the upper bounds.
    Cached on the parent mass and the ``bm_*`` fields of ``cfg``, so that every phi mass of
    a scan reuses it."""
    key = F.FlightConfig(mode=0, source=F.SRC_BMPT, vertex=0, m_parent=cfg.m_parent,
                         ctau_parent=0.0, m_h=0.0, m_phi=0.0, chunk_size=0, n_events=0,
                         record_cap=0,
                         **{k: getattr(cfg, k) for k in cfg._fields if k[:3] == "bm_"})
    return _bmpt_table(key)


@functools.lru_cache(maxsize=16)
def _bmpt_table(cfg: F.FlightConfig) -> np.ndarray:
    ub = F.bmpt_bounds_table(cfg, cfg.m_parent * 1e-3, BMPT_NY)
    prob, alias = alias_table(ub[:, 0])
    return np.column_stack([ub, prob, alias.astype(float)])


def _bank(geo: Geometry, cfg: F.FlightConfig, channel: int, seed: int, batch: np.ndarray,
          pseeds: np.ndarray, ptab: np.ndarray) -> np.ndarray | None:
    """The parents of chunks ``batch`` (:func:`kotosim.kernels.flight.parent_bank`), from
    this process's cache or drawn now and cached; None if it would not fit."""
    size = batch.size * cfg.chunk_size * F.NBANK * 8
    if size > BANK_BYTES // 4:
        return None
    key = (geo.experiment, geo.path, cfg._replace(m_phi=0.0, record_cap=0, fine_curve=False),
           seed, channel, tuple(int(c) for c in batch))
    with _banks_lock:
        if key in _banks:
            _banks.move_to_end(key)
            return _banks[key]
    bank = np.zeros((batch.size, cfg.chunk_size, F.NBANK))
    engine.in_threads(lambda s: F.parent_bank(cfg, pseeds[s], batch[s], bank[s], ptab),
                      batch.size)
    with _banks_lock:
        _banks[key] = bank
        while sum(b.nbytes for b in _banks.values()) > BANK_BYTES:
            _banks.popitem(last=False)
    return bank


def run(geo: Geometry, cfg: F.FlightConfig, channel: int, ctau: np.ndarray, seed: int,
        mass_index: int, *, planes: np.ndarray | None = None, dau: np.ndarray | None = None,
        hist_bins: int = 0, chunks: np.ndarray | None = None,
        progress: Callable[[int], None] | None = None, curve: bool = True,
        share_parents: bool = False) -> dict[str, np.ndarray]:
    """Run one parent channel through the flight kernel; summed accumulators (+ rec rows).
    ``curve``: fill the acceptance on the fine c tau grid drawn in the plot (``kotosim run``);
    scans switch it off (its ``curve`` accumulator then stays zero). It consumes no random
    number, so the other results do not depend on it. ``share_parents`` (with
    ``cfg.parent_stream``; scans over masses): keep the parents drawn for this mass for the
    next one -- the same numbers as drawing them again."""
    cfg = cfg._replace(fine_curve=bool(curve))
    signal = geo.volume_array("signal")
    veto = geo.volume_array("veto")
    planes = np.zeros((0, F.NPLANE)) if planes is None else np.ascontiguousarray(planes)
    dau = np.zeros((0, 3)) if dau is None else np.ascontiguousarray(dau)
    ptab = bmpt_table(cfg) if cfg.source == F.SRC_BMPT else np.zeros((0, 4))
    nct = ctau.size
    cap = cfg.record_cap
    rec = np.zeros((cap, F.NREC))
    rec_w = np.zeros((cap, nct))
    nh = nct if hist_bins > 0 else 0
    curve_ct = CTAU_CURVE

    def alloc(nb: int) -> dict[str, np.ndarray]:
        return {"counts": np.zeros((nb, F.N_COUNTS)), "q": np.zeros((nb, F.NQ, 3, nct)),
                "curve": np.zeros((nb, 3, curve_ct.size)),
                "hist": np.zeros((nb, nh, 2, max(hist_bins, 1)))}

    def kernel(batch: np.ndarray, arr: dict[str, np.ndarray]) -> None:
        seeds = engine.chunk_seeds(seed, geo.experiment, channel, mass_index, batch)
        bank = None
        if cfg.parent_stream:
            pseeds = engine.chunk_seeds(seed, geo.experiment, channel, PARENT_STREAM, batch)
            if share_parents:
                bank = _bank(geo, cfg, channel, seed, batch, pseeds, ptab)
        else:
            pseeds = seeds
        if bank is None:
            bank = np.zeros((batch.size, 0, F.NBANK))
        engine.in_threads(lambda s: F.run_chunks(
            cfg, seeds[s], pseeds[s], bank[s], ptab, batch[s], ctau, curve_ct, signal, veto, planes,
            dau, arr["counts"][s], arr["q"][s], arr["curve"][s], arr["hist"][s], rec, rec_w),
            batch.size)

    out = engine.run(cfg.n_events, cfg.chunk_size, alloc, kernel, chunks=chunks,
                     progress=progress)
    out["rec"], out["rec_w"] = rec, rec_w
    return out


def strip(tot: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Accumulators only (for scans): no event sample, no histograms."""
    return {k: v for k, v in tot.items() if k not in ("rec", "rec_w", "hist")}


# ---------------------------------------------------------------------------- estimators
def per_parent(s: np.ndarray, n: float) -> tuple[np.ndarray, np.ndarray]:
    """Acceptance per generated parent, sum(w a)/N, and its error sqrt(sum (w a)^2)/N."""
    if n <= 0:  # 0/0: undefined
        return np.full(s.shape[-1], np.nan), np.full(s.shape[-1], np.nan)
    return s[0] / n, np.sqrt(s[1]) / n


def per_decay(s: np.ndarray, sw: float, sw2: float) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean sum(w a)/sum(w) (acceptance per parent decay) and its delta-method
    error sqrt(sum w^2 (a - R)^2)/sum(w), from the sums (sum wa, sum (wa)^2, sum w^2 a)."""
    if sw <= 0:  # no parent decay in the region: 0/0, undefined
        return np.full(s.shape[-1], np.nan), np.full(s.shape[-1], np.nan)
    r = s[0] / sw
    var = np.maximum(s[1] - 2.0 * r * s[2] + r * r * sw2, 0.0)
    return r, np.sqrt(var) / sw


def quantity(tot: dict[str, np.ndarray], k: int, decay: bool) -> tuple[np.ndarray, np.ndarray]:
    """Quantity ``k`` of the kernel per parent decay (``decay``) or per generated parent."""
    c = tot["counts"]
    if decay:
        return per_decay(tot["q"][k], c[1], c[2])
    return per_parent(tot["q"][k], c[0])


def curve(tot: dict[str, np.ndarray], decay: bool) -> tuple[np.ndarray, np.ndarray]:
    c = tot["counts"]
    return per_decay(tot["curve"], c[1], c[2]) if decay else per_parent(tot["curve"], c[0])


def selected_fraction(tot: dict[str, np.ndarray], decay: bool) -> tuple[float, float]:
    """Lifetime-independent selection g (NA62: pi+ selected; CHARM/LHCb: phi crosses the
    signal volume) per parent decay or per parent, with its error."""
    c = tot["counts"]
    s = np.array([[c[3]], [c[4]], [c[4]]])
    r, e = per_decay(s, c[1], c[2]) if decay else per_parent(s, c[0])
    return float(r[0]), float(e[0])


# ---------------------------------------------------------------------------- outputs
def histograms(tot: dict[str, np.ndarray], cfg: F.FlightConfig, name: str, label: str
               ) -> dict[str, list]:
    """The phi decay-point histograms (one per c tau, Weight storage), normalised per
    generated parent."""
    import hist

    h_arr = tot["hist"]
    out = []
    n = max(tot["counts"][0], 1.0)
    nb = h_arr.shape[-1]
    for i in range(h_arr.shape[0]):
        ax = (hist.axis.Regular(nb, cfg.hist_lo, cfg.hist_hi, name="x", label=label,
                                transform=hist.axis.transform.log) if cfg.hist_log else
              hist.axis.Regular(nb, cfg.hist_lo, cfg.hist_hi, name="x", label=label))
        h = hist.Hist(ax, storage=hist.storage.Weight())
        v = h.view(flow=False)
        v["value"], v["variance"] = h_arr[i, 0] / n, h_arr[i, 1] / n**2
        out.append(h)
    return {name: out}


def sample_array(rec: np.ndarray, rec_w: np.ndarray, parent: str, h: str):
    """Event-sample rows as an awkward Array of records; particles are vector Momentum4D."""
    import awkward as ak

    col, p4, vertex = sample_columns(rec, F.REC_FIELDS)

    return ak.zip({
        "parent": p4("parent"),
        "vertex": vertex(),
        "h": p4("h"), "phi": p4("phi"),
        "h_p_reco": col["h_p_reco"], "m2miss_reco": col["m2miss_reco"],
        "w_parent": col["w_parent"], "selected": col["selected"].astype(np.int32),
        "signal_l1": col["signal_l1"], "signal_l2": col["signal_l2"],
        "veto_l1": col["veto_l1"], "veto_l2": col["veto_l2"],
        "parent_flight": col["parent_flight"], "weight": rec_w,
    }, depth_limit=1), f"{parent} -> {h} phi"


def curve_config(tot: dict[str, np.ndarray], decay: bool, what: str) -> dict:
    v, e = curve(tot, decay)
    return {"what": what, "ctau_mm": CTAU_CURVE.tolist(), "value": v.tolist(),
            "error": e.tolist()}


def plot(result: Result, path: str | Path, index: int = 0) -> Path:
    """Two panels: the main acceptance versus c tau (fine grid curve, simulated points with
    errors and the seed formula at the run's c tau values), and the phi decay-point
    distribution for c tau index ``index`` with the experiment's region edges."""
    from ..io import atomic_path
    from ..plotting import _style

    plt, _ = _style()
    cfg = result.config
    main = cfg["main_key"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(18, 7), layout="constrained")
    cv = cfg.get("acceptance_curve")
    if cv:
        x = np.array(cv["ctau_mm"]) / 1000.0
        y, e = np.array(cv["value"]), np.array(cv["error"])
        ax1.plot(x, y, color="C0", label=f"simulation: {cv['what']}")
        ax1.fill_between(x, y - e, y + e, color="C0", alpha=0.3)
    ct = result.ctau / 1000.0
    fin = np.isfinite(ct)
    ax1.errorbar(ct[fin], result.acceptance[main][fin], yerr=result.error[main][fin], fmt="o",
                 color="C0")
    ana = cfg.get("analytic_curve")
    if ana:
        ax1.plot(np.array(ana["ctau_mm"]) / 1000.0, ana["value"], "--", color="C3",
                 label=ana["label"])
    ax1.set_xscale("log")
    shown = [np.asarray(ln.get_ydata(), dtype=float) for ln in ax1.get_lines()]
    if any(np.any(y > 0) for y in shown):  # a log axis needs a positive value
        ax1.set_yscale("log")
    else:
        ax1.text(0.5, 0.5, "no accepted event", transform=ax1.transAxes, ha="center",
                 fontsize=16)
    ax1.set_xlabel(r"$c\tau_\phi$ [m]")
    ax1.set_ylabel(cfg.get("main_label", main), fontsize=18)
    ax1.legend(fontsize=12)
    pos = [v for v in ax1.get_lines()[0].get_ydata() if v > 0] if cv else []
    if pos:
        ax1.set_ylim(max(min(pos), max(pos) * 1e-8) / 2, max(pos) * 3)
    hs = result.hists.get("phi_decay")
    if hs:
        h = hs[index]
        edges = h.axes[0].edges
        ax2.stairs(h.values(), edges, color="C0")
        for xline, lab in cfg.get("plot_lines", []):
            ax2.axvline(xline, color="C3", ls="--", lw=1.5)
            ax2.text(xline, ax2.get_ylim()[1] * 0.9, f" {lab}", color="C3", fontsize=11,
                     rotation=90, va="top")
        if cfg.get("hist_log"):
            ax2.set_xscale("log")
        ax2.set_xlabel(h.axes[0].label)
        ax2.set_ylabel("decays per parent, per bin", fontsize=18)
        c = result.ctau[index]
        ctl = r"$c\tau=\infty$" if not math.isfinite(c) else rf"$c\tau={c / 1000:g}$ m"
        ax2.set_title(ctl, fontsize=14)
    fig.suptitle(rf"{cfg.get('title', result.experiment)}, $m_\phi={result.mass:g}$ MeV",
                 fontsize=16)
    with atomic_path(path, ".png") as tmp:
        fig.savefig(tmp, dpi=90, bbox_inches="tight", format="png")
    plt.close(fig)
    return Path(path)
