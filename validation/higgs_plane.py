"""Higgs-mixing plane: simulated exclusion edges against published curves, as ratios.

    python validation/higgs_plane.py [--events N] [--png FILE]

For the Higgs-mixing scalar (eps_q = eps_l = sin theta) kotosim.reach gives, at each mass, the
sin^2 theta where a result's deciding quantity crosses 1 (lower edge: BR large enough; upper
edge: phi too short-lived). They are compared with the published Higgs-mixing contours in
validation/data/ (digitised curves as tabulated in the public FORESEE repository,
KlingFelix/FORESEE, Models/DarkHiggs/model/lines; y = theta, sin^2 theta = theta^2):

* NA62 2017 data, K+ -> pi+ X (arXiv:2011.11329)         vs kotosim's na62_2017
* E949 (arXiv:0903.0030, as drawn in FORESEE)            vs kotosim's e949 (if registered)
* CHARM, Winkler's recast (arXiv:1809.01876)             vs kotosim's charm
* LHCb B0 -> K*0 mu mu (arXiv:1508.04094)                vs kotosim's lhcb_b0_kstar0_mumu
* LHCb B+ -> K+ mu mu (arXiv:1612.07818)                 vs kotosim's lhcb_bplus_kplus_mumu

Ratio = kotosim edge / published edge in sin^2 theta (1 = agreement). The NA62 2016-22
simulated edges are printed for information (no published Higgs-mixing curve in hand).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

import kotosim
from kotosim import constants as C
from kotosim.recast import contours

HERE = Path(__file__).resolve().parent / "data"
CURVES = {"na62_2017": "higgs_na62_2017_2011.11329.txt", "e949": "higgs_e949.txt",
          "charm": "higgs_charm_winkler_1809.01876.txt",
          "lhcb_b0_kstar0_mumu": "higgs_lhcb_b0_1508.04094.txt",
          "lhcb_bplus_kplus_mumu": "higgs_lhcb_bplus_1612.08718.txt"}
MASSES = np.array([10.0, 30.0, 50.0, 70.0, 90.0, 100.0, 160.0, 180.0, 200.0, 220.0, 240.0,
                   260.0, 300.0, 350.0, 400.0, 500.0, 700.0, 900.0])
S2 = np.geomspace(1e-14, 1e-1, 261)


def published_edges(fname: str, mass: float) -> tuple[float, float]:
    """Lowest and highest sin^2 theta where the vertical line m = mass crosses the published
    closed contour (NaN, NaN if it does not; the upper one NaN where the contour runs along
    the top of the published figure, i.e. the region has no upper edge there)."""
    d = np.loadtxt(HERE / fname, comments="#")
    x, y = d[:, 0] * 1000.0, d[:, 1]
    xs = np.append(x, x[0])
    ys = np.append(y, y[0])
    hits = []
    for k in range(x.size):
        x0, x1, y0, y1 = xs[k], xs[k + 1], ys[k], ys[k + 1]
        if x0 == x1 or not (min(x0, x1) <= mass <= max(x0, x1)):
            continue
        t = (mass - x0) / (x1 - x0)
        hits.append(math.exp((1 - t) * math.log(y0) + t * math.log(y1)))
    if not hits:
        return math.nan, math.nan
    top = y.max()  # the figure's frame, not an edge of the region
    lo, hi = min(hits), max(hits)
    return (lo ** 2 if lo < 0.98 * top else math.nan), (hi ** 2 if hi < 0.98 * top else math.nan)


def simulated_edges(res, name: str, method: str, i: int) -> tuple[float, float]:
    pts = [p for p in contours(res.values[(name, method)][i:i + 1], res.masses[i:i + 1],
                               res.couplings)]
    lo = [p[2] for p in pts if p[3] == 1]
    hi = [p[2] for p in pts if p[3] == -1]
    return (lo[0] if lo else math.nan), (hi[-1] if hi else math.nan)


# the quantity each grid-based result compares with its published UL(m, tau): production BR
# (x BR(phi -> mu mu) for LHCb's displaced searches), from kotosim.reach's model grid
_PRED = {"na62_2017": ("kplus", None), "e949": ("kplus", None),
         "lhcb_b0_kstar0_mumu": ("b0", "mumu"), "lhcb_bplus_kplus_mumu": ("bplus", "mumu")}


def grid_only_edges(res, name: str, i: int) -> tuple[float, float]:
    """Edges from the published (m, tau) grid alone, no simulation: R = BR_model(sin^2 theta)
    / UL(m, tau(sin^2 theta)) with the grid's limit at the model's lifetime (log-linear in
    tau between the grid's lifetimes; beyond its longest finite lifetime, its stable-X limit
    where it has one). Comparing these with the published edges tests the model (production
    and decay widths); comparing them with kotosim's tests the simulated lifetime
    dependence."""
    c = res.constraints[name]
    tab = c.table
    prod, dec = _PRED[name]
    m = float(res.masses[i])
    pred = res.grid.prod[prod][i] * (res.grid.decay[dec][i] if dec else 1.0)
    tau = res.grid.ctau[i] / C.C_LIGHT  # ns
    fin = tab.taus[np.isfinite(tab.taus)]
    ul = np.array([float(tab.at(m, t)) if t <= fin[-1]
                   else (float(tab.at(m, math.inf)) if tab.has_stable else math.nan)
                   for t in tau])
    with np.errstate(invalid="ignore", divide="ignore"):
        r = pred / ul
    pts = contours(r[None, :], res.masses[i:i + 1], res.couplings)
    lo = [p[2] for p in pts if p[3] == 1]
    hi = [p[2] for p in pts if p[3] == -1]
    return (lo[0] if lo else math.nan), (hi[-1] if hi else math.nan)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=None, help="events per mass and channel "
                    "(default: kotosim.reach's defaults)")
    ap.add_argument("--png", default=None, help="also draw the edges over the published curves")
    ap.add_argument("--k-to-pi-norm", default="seed", help="K -> pi phi normalisation of "
                    "kotosim.model (seed, f0, ...): f0 uses (m_K^2 - m_pi^2) f0(0)")
    ap.add_argument("--pipi", default="chiral", help="phi -> pi pi width: chiral or dispersive "
                    "(Winkler, arXiv:1809.01876)")
    args = ap.parse_args()
    exps = ["na62", "charm", "lhcb"] + (["e949"] if "e949" in kotosim.available_geometries()
                                        else [])
    res = kotosim.reach("higgs", MASSES, S2, experiments=exps, n_events=args.events,
                        k_to_pi_norm=args.k_to_pi_norm, pipi=args.pipi)
    print(f"model options: k_to_pi_norm = {args.k_to_pi_norm}, pipi = {args.pipi}")
    if "e949" not in exps:
        print("E949: no e949 geometry in this kotosim: not compared")
    print(f"Higgs mixing: kotosim edges (simulation; one-formula in brackets) vs published, "
          f"in sin^2 theta; grid {S2.size} points 1e-14..1e-1 (log)\n")
    hdr = (f"{'result':<24} {'m/MeV':>6}  {'lower: kotosim':>22} {'published':>10} {'ratio':>6}"
           f"   {'upper: kotosim':>22} {'published':>10} {'ratio':>6}")
    print(hdr)
    rows = []
    for name in list(CURVES) + ["na62_2016_2022"]:
        if name not in res.constraints:
            continue
        for i, m in enumerate(MASSES):
            slo, shi = simulated_edges(res, name, "simulation", i)
            flo, fhi = simulated_edges(res, name, "one_formula", i)
            plo, phi = (published_edges(CURVES[name], m) if name in CURVES
                        else (math.nan, math.nan))
            if all(math.isnan(v) for v in (slo, shi, plo, phi)):
                continue
            rl, rh = slo / plo, shi / phi
            rows.append((name, m, rl, rh))

            def cell(s, f):
                return f"{s:.2e} ({f:.1e})" if not math.isnan(s) else f"{'-':>9} ({f:.1e})"

            print(f"{res.constraints[name].title:<24} {m:6.0f}  {cell(slo, flo):>22} "
                  f"{plo:10.2e} {rl:6.2f}   {cell(shi, fhi):>22} {phi:10.2e} {rh:6.2f}")
    ratios = [x for r in rows for x in r[2:] if math.isfinite(x)]
    out = [x for x in ratios if not 0.7 <= x <= 1.4]
    print(f"\n{len(out)} of {len(ratios)} compared edges have a ratio outside 0.7-1.4")
    decompose(res, rows, args)
    for note in res.notes:
        print(f"note: {note}")
    if args.png:
        _plot(res, args.png)


def decompose(res, rows: list, args) -> None:
    """Where the ratios come from: (1) the published grid alone with kotosim's model
    (grid-only edge / published edge: the model's production BR and widths vs the ones the
    publication used), (2) kotosim's edge / grid-only edge (the simulated lifetime dependence
    vs the experiment's own), and (3) for K+ -> pi+ X, the ratio again with the K -> pi phi
    amplitude normalised with the scalar form factor (m_K^2 -> (m_K^2 - m_pi^2) f0)."""
    kp = [n for n in ("na62_2017", "e949") if n in res.constraints]
    alt = None
    if kp and args.k_to_pi_norm != "f0":
        exps = sorted({res.constraints[n].experiment for n in kp})
        alt = kotosim.reach("higgs", MASSES, S2, experiments=exps, n_events=args.events,
                            k_to_pi_norm="f0", pipi=args.pipi)
    print("\nDecomposition of each compared ratio (kotosim/published) = (grid-only/published) x "
          "(kotosim/grid-only);\n'grid-only': the published (m, tau) grid with kotosim's model, "
          "no simulation; 'f0': kotosim's ratio with k_to_pi_norm = f0")
    print(f"{'result':<24} {'m/MeV':>6} {'edge':>6} {'ratio':>7} {'grid/pub':>9} "
          f"{'sim/grid':>9} {'f0':>7}")
    dec = []
    for name, m, rl, rh in rows:
        if name not in _PRED:
            continue
        i = int(np.flatnonzero(MASSES == m)[0])
        glo, ghi = grid_only_edges(res, name, i)
        plo, phi = published_edges(CURVES[name], m)
        slo, shi = simulated_edges(res, name, "simulation", i)
        flo, fhi = (simulated_edges(alt, name, "simulation", i) if alt is not None
                    and name in kp else (math.nan, math.nan))
        for edge, r, g, p_, sim, f in (("lower", rl, glo, plo, slo, flo),
                                       ("upper", rh, ghi, phi, shi, fhi)):
            if not math.isfinite(r):
                continue
            print(f"{res.constraints[name].title:<24} {m:6.0f} {edge:>6} {r:7.2f} "
                  f"{g / p_:9.2f} {sim / g:9.2f} {f / p_:7.2f}")
            dec.append((name, m, edge, r, g / p_, sim / g, f / p_))
    explain(res, dec, rows)


# Why the ratios outside 0.7-1.4 are what they are, result by result (the numbers in brackets
# are this run's medians over the rows named; the reasons are checked by the decomposition).
REASONS = {
    "na62_2017": (
        "lower edge, m <= 200 MeV: grid/pub = ratio, sim/grid = 1: the simulation adds nothing "
        "(phi stable there); NA62's curve implies a smaller BR(K+ -> pi+ phi)/sin^2 theta than "
        "kotosim's default amplitude (m_K^2 normalisation, arXiv:2001.06522); with the scalar "
        "form factor (f0 column) the ratio is inside 0.7-1.4. m = 220, 240 MeV: the published "
        "band is narrower than the published grid allows with this model: at NA62's upper "
        "edge (tau ~ 6-12 ns with kotosim's widths) the grid's own limit is far below the "
        "model BR (grid/pub >> 1), and kotosim's shorter phi flight (the 2017 grid falls off "
        "as for a ~2x longer flight, validation/lifetime_dependence.py) adds sim/grid ~ 2.5-3."),
    "e949": ("inside 0.7-1.4 (the FORESEE E949 curve implies a ~0.88x smaller "
             "BR(K+ -> pi+ phi)/sin^2 theta; f0 gives ~1.1)."),
    "lhcb_b0_kstar0_mumu": (
        "300-700 MeV: grid/pub ~ 0.8 (kotosim's BR(B0 -> K*0 phi) x BR(phi -> mu mu) larger "
        "than the curve's) times sim/grid ~ 0.7-0.9 (kotosim's displaced acceptance falls "
        "more slowly with tau than LHCb's limits, the [recalled] VELO region, "
        "validation/lifetime_dependence.py); 900 MeV: grid/pub 0.5 (the model's hadronic "
        "width below the f0(980) rises less than the published one's); 220-260 MeV: the "
        "edge sits at tau ~ 2 ns, beyond the table's 1000 ps, where kotosim's acceptance "
        "(sim/grid 0.3-0.4) is extrapolated by the simulation, not published."),
    "lhcb_bplus_kplus_mumu": (
        "grid/pub 0.7-0.8 (production x BR(mu mu), as for B0) times sim/grid 0.9-1.1: inside "
        "or at the edge of 0.7-1.4; 900 MeV as for B0."),
    "charm": (
        "no published grid: see validation/charm_lhcb_sourced.py. Below 2 m_mu the edge is "
        "~2.3-2.6x Winkler's and ~1 above: kaon production agrees (ratio ~1 where phi -> mu mu "
        "dominates), the e+e- detection differs: kotosim takes ALPINIST's e+e- selection "
        "(each e 5-50 GeV, efficiency 0.51); the 'ee like mumu' diagnostic there shows how "
        "much an e+e- selection as efficient as the mu+mu- one removes."),
}


def _median(v: np.ndarray) -> float:
    v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else math.nan


def explain(res, dec: list, rows: list) -> None:
    print("\nReasons, per result with a ratio outside 0.7-1.4 (medians of this run):")
    for name in [n for n in REASONS if n in res.constraints]:
        rs = [x for r in rows if r[0] == name for x in r[2:] if math.isfinite(x)]
        if not rs:
            continue
        out = sum(not 0.7 <= x <= 1.4 for x in rs)
        d = np.array([r[4:] for r in dec if r[0] == name]).reshape(-1, 3)
        med = [_median(d[:, k]) for k in range(3)]
        print(f"- {res.constraints[name].title}: {out} of {len(rs)} edges outside; median "
              f"ratio {np.median(rs):.2f}, grid/pub {med[0]:.2f}, sim/grid {med[1]:.2f}, "
              f"f0 {med[2]:.2f}. {REASONS[name]}")


def _plot(res, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 7))
    for k, name in enumerate(CURVES):
        if name not in res.constraints:
            continue
        col = f"C{k}"
        d = np.loadtxt(HERE / CURVES[name], comments="#")
        ax.plot(d[:, 0] * 1000, d[:, 1] ** 2, color=col, lw=1, ls=":",
                label=f"{res.constraints[name].title} published")
        for meth, mk in (("simulation", "o"), ("one_formula", "x")):
            pts = contours(res.values[(name, meth)], res.masses, res.couplings)
            ax.plot([p[1] for p in pts], [p[2] for p in pts], mk, color=col, ms=5,
                    label=f"{res.constraints[name].title} kotosim {meth}")
    ax.set_yscale("log")
    ax.set_xlabel(r"$m_\phi$ [MeV]")
    ax.set_ylabel(r"$\sin^2\theta$")
    ax.set_ylim(1e-14, 1e-1)
    ax.legend(fontsize=8, ncol=2)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
