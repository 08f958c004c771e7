"""The shared decay-in-flight event loop of NA62, E949, CHARM and LHCb.

Per event (DESIGN.md "the way data flows"):

1. a parent P from the experiment's *source* (``SRC_BEAM``: fixed-momentum beam with a
   Gaussian spread along the axis; ``SRC_TARGET``: factorised (x_F, p_T) spectrum from a point
   target; ``SRC_BMPT``: the BMPT invariant cross section (x_R, p_T) scaled to the target
   nucleus, from a point target; ``SRC_COLLIDER``: (p_T, y) spectrum from the interaction
   point, 2 < eta < 5; ``SRC_AT_REST``: a K+ stopped in a target, at rest, uniform in a
   cylinder -- E949);
2. its decay vertex (``VTX_WINDOW``: exponential law truncated to a z window, weight = the
   probability to decay in it; ``VTX_FREE``: untruncated exponential, weight 1;
   ``VTX_ABSORB``: decay competing with absorption in the dump, weight
   lambda_abs/(lambda_abs + lambda_dec); ``VTX_AT_REST``: decay where the parent stopped,
   weight 1 -- every stopped K+ decays);
3. the two-body decay P -> h phi (isotropic, :func:`kinematics.decay_two_body`);
4. phi's straight path through the ``signal`` and ``veto`` volume lists
   (:mod:`kinematics.propagation`) and, for every c tau of the grid, the exact probabilities
   P = exp(-L1/lambda) - exp(-L2/lambda) (DESIGN.md principle 1);
5. the experiment-specific selection, picked by the integer ``cfg.mode`` -- small njit
   functions, no copied event loops:

   - ``MODE_NA62``: pi+ (h) smeared momentum window, the two m^2_miss regions, pi+ inside the
     STRAW chambers and the LKr (``planes``, magnet kick); phi counted invisible with weight
     1 - P(decay in the veto volumes);
   - ``MODE_CHARM``: phi -> d d (``dau`` rows: e+e-, mu+mu-, gamma gamma) decaying inside the
     signal volume where at least ``dau[c, 3]`` (default 2) daughters reach the calorimeter
     face (``planes``), each of those in the energy window: the path intervals where this
     holds are found exactly once per event (:func:`seen_intervals`) and the decay
     probability over them is summed for every c tau;
   - ``MODE_E949``: pi+ from a K+ at rest (E949, arXiv:0903.0030): smeared momentum in the
     pnn1 or pnn2 window, polar angle inside the drift-chamber acceptance; phi counted
     invisible with weight 1 - P(decay inside the detector) like NA62; quantities Q_DAU and
     Q_DAU + 1 hold the invisible acceptance of pnn1 and pnn2 separately;
   - ``MODE_LHCB``: prompt (phi decays within ``prompt_length`` of the B vertex; also with the
     channel-0 daughters in dau_eta_min..dau_eta_max) and displaced (decay inside the signal
     volume beyond ``displaced_min``, daughters in the eta range; with ``velo_min_modules``
     > 0 both daughters through that many VELO modules, ``planes``, downstream of the decay
     point: exact path intervals as for CHARM).

Accumulators (per chunk, summed by :func:`kotosim.engine.run` in chunk order):

- ``counts[N_COUNTS]``: events, sum w, sum w^2, sum w g, sum w^2 g (w: parent weight,
  g: the lifetime-independent selection -- NA62 pi+ selected; CHARM/LHCb phi path crosses a
  signal volume);
- ``q[NQ, 3, nct]``: for each quantity a(c tau): sum w a, sum (w a)^2, sum w^2 a (the last for
  the ratio-estimator error of acceptances per parent decay);
- ``curve[3, ncurve]``: the same for quantity 0 (NA62, LHCb) or 1 (CHARM) on a fine c tau grid;
- ``hist[nct, 2, nbins]``: distribution of the phi decay point (lab z or flight distance),
  weighted by w g (LHCb: by w).

Speed without changing the events: every azimuth and Box-Muller angle takes its sin/cos from
:func:`kotosim.kernels.rng.sincos_2pi` (the same uniform, a polynomial instead of libm, values
within 1e-15); helpers are inlined; ``fine_curve`` off (scans) skips the fine c tau grid; the
VELO module count stops once ``velo_min_modules`` is reached. The same seed gives the same
events as the libm version, every cut passed alike, acceptances equal to ~1e-13 relative
(tests/test_flight_speed_invariance.py; throughput: validation/benchmark_flight.py).

Units: MeV, mm, rad.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from . import kinematics as _kin
from . import propagation as _prop
from ._flags import FASTMATH, inlined
from .propagation import intervals, union_intervals
from .rng import gauss_pair, sincos_2pi, uniform
from .sampling import truncated_exponential

# every kernel here: cached, FASTMATH (no approximate functions), and error_model="numpy" (no
# zero-division check on each division: the divisions are guarded by the physics -- |p| > 0,
# p_z > 0 before slopes, lambda > 0 -- and a run that passed under the Python model gives the
# same bits under the NumPy model). Small helpers are inlined at numba IR level (no call, no
# reference counting of the arrays they take inside the event loop); they use the same
# flags as their callers, so the arithmetic is unchanged.
_JIT = {"cache": True, "fastmath": FASTMATH, "error_model": "numpy"}
_INLINE = {**_JIT, "inline": "always"}
# the per-c tau survival and decay probabilities, inlined into the event loop (no call, no
# reference counting of the interval arrays; ~20% of the NA62 plot-curve path)
decay_probability = inlined(_prop.decay_probability)
survival_outside = inlined(_prop.survival_outside, decay_probability=decay_probability)
# the two-body decays of the event loop (parent and phi), inlined with their isotropic
# direction: no call and no reference counting of the generator state per decay
decay_two_body = inlined(_kin.decay_two_body, isotropic_direction=inlined(
    _kin.isotropic_direction, uniform=uniform))

SRC_BEAM, SRC_TARGET, SRC_COLLIDER = 0, 1, 2
# BMPT invariant cross section (Bonesini et al., EPJ C20 (2001) 13) on a thick target; a value
# far from the others so that a source added elsewhere cannot take the same number silently
SRC_BMPT = 10
VTX_WINDOW, VTX_FREE, VTX_ABSORB = 0, 1, 2
MODE_NA62, MODE_CHARM, MODE_LHCB = 0, 1, 2
HIST_Z, HIST_FLIGHT = 0, 1
# E949 (stopped K+): a fourth source, vertex law and selection
SRC_AT_REST = 3
VTX_AT_REST = 3
MODE_E949 = 3

N_COUNTS = 5
NQ = 5            # quantity 0: main; 1: decay in signal volume; 2..4: daughter channels 0..2
MAX_DAU = NQ - 2  # at most three daughter channels
# quantity indices
Q_MAIN, Q_SIGNAL, Q_DAU = 0, 1, 2
Q_PROMPT_DAU = NQ - 1  # LHCb (at most two daughter channels): prompt, channel-0 daughters in eta

# columns of the event-sample record
REC_FIELDS = (
    "parent_px", "parent_py", "parent_pz", "parent_e",
    "vtx_x", "vtx_y", "vtx_z",
    "h_px", "h_py", "h_pz", "h_e",
    "phi_px", "phi_py", "phi_pz", "phi_e",
    "h_p_reco", "m2miss_reco", "w_parent", "selected",
    "signal_l1", "signal_l2", "veto_l1", "veto_l2", "parent_flight",
)
NREC = len(REC_FIELDS)


class FlightConfig(NamedTuple):
    """Scalar configuration of the flight kernel (internal units: MeV, mm, rad).

    Fields not used by a mode keep their defaults."""

    mode: int
    source: int
    vertex: int
    m_parent: float
    ctau_parent: float
    m_h: float
    m_phi: float
    chunk_size: int
    n_events: int
    record_cap: int
    hist_var: int = HIST_Z
    hist_log: bool = False
    hist_lo: float = 0.0
    hist_hi: float = 1.0
    # SRC_BEAM
    p_beam: float = 0.0
    p_spread: float = 0.0       # relative rms
    divergence: float = 0.0     # rms angle per plane [rad]
    z_start: float = 0.0
    z_end: float = 0.0
    # SRC_TARGET (x_F, p_T) from a point target at the origin
    e_beam: float = 0.0
    m_target: float = 0.0
    xf_power: float = 0.0
    pt_a: float = 0.0           # [1/MeV]
    pt_b: float = 0.0           # [1/MeV^2]
    abs_length: float = 0.0     # VTX_ABSORB [mm]
    # SRC_BMPT (see sample_bmpt; GeV units as in the paper, forward CM hemisphere)
    bm_b: float = 0.0           # B
    bm_alpha: float = 0.0       # alpha: (1 - x_R)^alpha
    bm_beta: float = 0.0        # beta: x_R^-beta
    bm_a: float = 1.0           # a [1/GeV]: a'(x_R) = a / x_R^gamma
    bm_gamma: float = 0.0
    bm_delta: float = 0.0       # b'(x_R) = a^2 / (2 x_R^delta)
    bm_c0: float = 1.0          # charge factor c0 + c1 (1 - x_R)^c2 (K-/K+ ratio, K0 mixture)
    bm_c1: float = 0.0
    bm_c2: float = 0.0
    bm_ln_a: float = 0.0        # ln(A_target / A_Be) for the Barton et al. A^alpha scaling
    bm_emax: float = 1.0        # E*_max [GeV] (x_R = E*/E*_max)
    bm_ycm: float = 0.0         # rapidity of the p-nucleon CM in the lab
    bm_ptmax: float = 3.0       # p_T cut-off [GeV] of the sampled spectrum
    bm_npt: int = 1             # the sampler's envelope grid: p_T cells per y* row
    bm_dy: float = 1.0          # cell size in y*
    bm_dpt: float = 1.0         # cell size in p_T [GeV]
    # SRC_COLLIDER
    pt0: float = 1.0
    pt_n: float = 3.5
    sigma_y: float = 1.0
    eta_min: float = 2.0
    eta_max: float = 5.0
    # MODE_NA62 pi+ selection
    smear: bool = True
    p_min: float = 0.0
    p_max: float = 0.0
    m2_lo1: float = 0.0
    m2_hi1: float = 0.0
    m2_lo2: float = 0.0
    m2_hi2: float = 0.0
    res_pk: float = 0.0         # K+ sigma_p/p (GTK)
    res_thk: float = 0.0        # K+ angular resolution per plane [rad]
    res_ppi_a: float = 0.0      # pi+ sigma_p/p constant term
    res_ppi_b: float = 0.0      # pi+ sigma_p/p term proportional to p [1/MeV]
    res_thpi: float = 0.0       # pi+ angular resolution per plane [rad]
    z_kick: float = 0.0         # magnet (thin lens) position
    kick: float = 0.0           # p_x kick of a positive particle [MeV]
    # MODE_LHCB
    prompt_length: float = 0.0
    displaced_min: float = 0.0
    dau_eta_min: float = 2.0
    dau_eta_max: float = 5.0
    # SRC_AT_REST: stopping point uniform in a cylinder about the origin (axis z)
    stop_radius: float = 0.0
    stop_half_length: float = 0.0
    # MODE_E949 pi+ selection: momentum windows pnn1, pnn2 [MeV], sigma_p/p, |cos theta| max
    pnn1_lo: float = 0.0
    pnn1_hi: float = 0.0
    pnn2_lo: float = 0.0
    pnn2_hi: float = 0.0
    res_p_rest: float = 0.0
    cos_max: float = 1.0
    velo_min_modules: int = 0   # displaced: daughters must cross this many ``planes`` (0: off)
    # fill ``curve`` (the fine c tau grid drawn in the plot); scans switch it off
    fine_curve: bool = True
    # parents (momentum, flight, weight, vertex) from their own random stream ``pseeds``, which
    # does not depend on the phi mass: every mass then sees the same parents, and a bank of
    # them (:func:`parent_bank`) drawn once serves every mass (CHARM)
    parent_stream: bool = False
    # the quantities wanted (bit k for quantity k): one left out stays zero and costs nothing
    # -- daughter channel c is followed to the detectors only with bit Q_DAU + c, the decay
    # probability in the signal volume only with bit Q_SIGNAL (kotosim.reach asks only for
    # what it uses)
    q_mask: int = (1 << NQ) - 1


# ---------------------------------------------------------------------------- sources
@njit(**_INLINE)
def sample_xf(rs: np.ndarray, n: float) -> float:
    """x_F in [0, 1) from dN/dx_F ~ (1 - x_F)^n (inverse CDF: 1 - (1 - u)^(1/(n+1)))."""
    return 1.0 - (1.0 - uniform(rs)) ** (1.0 / (n + 1.0))


@njit(**_INLINE)
def sample_pt(rs: np.ndarray, a: float, b: float) -> float:
    """p_T from dN/dp_T ~ p_T exp(-a p_T - b p_T^2), exact.

    a > 0: Gamma(2, 1/a) proposal (sum of two exponentials), accepted with exp(-b p_T^2);
    a = 0: inverse CDF of the Gaussian form, p_T = sqrt(-ln(1 - u)/b)."""
    if a > 0.0:
        while True:
            pt = -(math.log(1.0 - uniform(rs)) + math.log(1.0 - uniform(rs))) / a
            if b <= 0.0 or uniform(rs) <= math.exp(-b * pt * pt):
                return pt
    return math.sqrt(-math.log(1.0 - uniform(rs)) / b)


@njit(**_INLINE)
def bmpt_kinematics(y: float, pt: float, mg: float, cfg: FlightConfig
                    ) -> tuple[float, float]:
    """(x_R, x_F) = m_T (cosh y*, sinh y*) / (E*_max, p*_max) of a meson of mass ``mg`` [GeV]
    at CM rapidity y* >= 0 and p_T [GeV] (cosh and sinh from one exp); both rise with y* and
    p_T."""
    mt = math.sqrt(mg * mg + pt * pt)
    e = math.exp(y)
    ie = 1.0 / e
    return (mt * 0.5 * (e + ie) / cfg.bm_emax,
            mt * 0.5 * (e - ie) / math.sqrt(cfg.bm_emax * cfg.bm_emax - mg * mg))


@njit(**_INLINE)
def bmpt_x_parts(x: float, cfg: FlightConfig) -> tuple[float, float, float, float]:
    """The x_R dependence of BMPT at 0 < x_R < 1: (D, I, a', b') with the x_R factor
    (1 - x)^alpha (1 + B x) x^-beta times the charge factor c0 + c1 (1 - x)^c2
    (K- = K+ / (r0 (1 - x)^r1), K0 = (K+ + 3 K-)/4) split into D = (1 - x)^alpha x^-beta
    (c0 + c1 (1 - x)^c2), non-increasing in x (alpha, beta, c1, c2 >= 0 by the geometry
    schema), and I = 1 + B x, non-decreasing (B >= 0); and the p_T-shape parameters
    a' = a/x^gamma [1/GeV], b' = a^2/(2 x^delta) [1/GeV^2], non-increasing (gamma, delta >= 0).
    The powers are exponentials of multiples of ln x and ln(1 - x)."""
    lx = math.log(x)
    l1 = math.log1p(-x)
    # c1 = 0 (K+): the charge factor is c0, without an exp
    cf = cfg.bm_c0 if cfg.bm_c1 == 0.0 else cfg.bm_c0 + cfg.bm_c1 * math.exp(cfg.bm_c2 * l1)
    return (math.exp(cfg.bm_alpha * l1 - cfg.bm_beta * lx) * cf, 1.0 + cfg.bm_b * x,
            cfg.bm_a * math.exp(-cfg.bm_gamma * lx),
            0.5 * cfg.bm_a * cfg.bm_a * math.exp(-cfg.bm_delta * lx))


@njit(**_INLINE)
def barton_alpha(xf: float, pt: float) -> float:
    """A-dependence exponent of invariant cross sections, sigma ~ A^alpha(x_F, p_T) with
    alpha = (0.74 - 0.55 x_F + 0.26 x_F^2)(0.98 + 0.21 p_T^2) (p_T in GeV; Barton et al.,
    PRD 27 (1983) 2580, as used with BMPT). The first factor falls on 0 <= x_F <= 1 (its
    minimum is at x_F = 0.55/0.52 > 1), the second rises with p_T; both are positive."""
    return (0.74 - 0.55 * xf + 0.26 * xf * xf) * (0.98 + 0.21 * pt * pt)


@njit(**_INLINE)
def bmpt_pt_shape(pt: float, ap: float, bp: float) -> float:
    """p_T times the BMPT p_T factor: h = p_T (1 + a' p_T + b' p_T^2) exp(-a' p_T) (GeV)."""
    return pt * (1.0 + ap * pt + bp * pt * pt) * math.exp(-ap * pt)


@njit(**_JIT)
def bmpt_density(y: float, pt: float, mg: float, cfg: FlightConfig) -> float:
    """dN/dy* dp_T up to a constant for a meson of mass ``mg`` [GeV] at CM rapidity y* >= 0
    and p_T [GeV]: p_T E d3sigma/dp3 (BMPT) x A^alpha(x_F, p_T) (Be -> target); 0 where
    x_R >= 1 (:func:`bmpt_kinematics`)."""
    x, xf = bmpt_kinematics(y, pt, mg, cfg)
    if not x < 1.0:
        return 0.0
    dec, inc, ap, bp = bmpt_x_parts(x, cfg)
    return dec * inc * bmpt_pt_shape(pt, ap, bp) * math.exp(cfg.bm_ln_a
                                                             * barton_alpha(xf, pt))


@njit(**_JIT)
def bmpt_pt_shape_range(ap: float, bp: float, p0: float, p1: float) -> tuple[float, float]:
    """(min, max) of h(p) = :func:`bmpt_pt_shape` on [p0, p1] for a', b' > 0:
    h' = exp(-a' p) c(p), c(p) = 1 + a' p + (3 b' - a'^2) p^2 - a' b' p^3, whose coefficients
    change sign once (Descartes): c has one positive root p*, h rises below it and falls
    above. The minimum is at an end; the maximum at an end or at p* (bisection of c)."""
    h0 = bmpt_pt_shape(p0, ap, bp)
    h1 = bmpt_pt_shape(p1, ap, bp)
    hi = max(h0, h1)
    c2, c3 = 3.0 * bp - ap * ap, -ap * bp
    if 1.0 + p0 * (ap + p0 * (c2 + p0 * c3)) > 0.0 > 1.0 + p1 * (ap + p1 * (c2 + p1 * c3)):
        lo_, hi_ = p0, p1
        for _ in range(64):
            mid = 0.5 * (lo_ + hi_)
            if 1.0 + mid * (ap + mid * (c2 + mid * c3)) > 0.0:
                lo_ = mid
            else:
                hi_ = mid
        hi = max(hi, bmpt_pt_shape(lo_, ap, bp), bmpt_pt_shape(hi_, ap, bp))
    return min(h0, h1), hi


@njit(**_JIT)
def bmpt_cell_bounds(cfg: FlightConfig, mg: float, y0: float, y1: float, p0: float,
                     p1: float) -> tuple[float, float]:
    """(upper, lower) bound of :func:`bmpt_density` on the cell y0 <= y* <= y1 (y0 >= 0),
    p0 <= p_T <= p1, from monotonicity: x_R and x_F lie in [x(y0, p0), x(y1, p1)]; D, I,
    a', b' (:func:`bmpt_x_parts`) and the x_F part of alpha are bounded at one end of that
    range each; the p_T factor falls with a' and rises with b', so its bounds over the cell
    are the range of h (:func:`bmpt_pt_shape_range`) at (a' at the upper x end, b' at the
    lower) for the maximum and the reverse for the minimum. Only points with x_R < 1 count;
    the lower bound is 0 on cells that reach x_R = 1. The margins 1 +- 1e-6 cover rounding in
    the density as evaluated anywhere in the cell."""
    xlo, xflo = bmpt_kinematics(y0, p0, mg, cfg)
    if not xlo < 1.0:
        return 0.0, 0.0
    xhi, xfhi = bmpt_kinematics(y1, p1, mg, cfg)
    full = xhi < 1.0 - 1e-9
    xhi = min(xhi, 1.0 - 1e-16)
    xfhi = min(xfhi, 1.0)  # x_F < 1 wherever x_R < 1
    dec_hi, inc_lo, ap_hi, bp_hi = bmpt_x_parts(xlo, cfg)
    dec_lo, inc_hi, ap_lo, bp_lo = bmpt_x_parts(xhi, cfg)
    al_hi = barton_alpha(xflo, p1)
    al_lo = barton_alpha(xfhi, p0)
    lna = cfg.bm_ln_a
    upper = (dec_hi * inc_hi * bmpt_pt_shape_range(ap_lo, bp_hi, p0, p1)[1]
             * math.exp(max(lna * al_lo, lna * al_hi)))
    if not full:
        return upper * (1.0 + 1e-6), 0.0
    lower = (dec_lo * inc_lo * bmpt_pt_shape_range(ap_hi, bp_lo, p0, p1)[0]
             * math.exp(min(lna * al_lo, lna * al_hi)))
    return upper * (1.0 + 1e-6), lower * (1.0 - 1e-6)


@njit(**_JIT)
def bmpt_bounds_table(cfg: FlightConfig, mg: float, ny: int) -> np.ndarray:
    """(ny * cfg.bm_npt, 2) upper and lower bounds of :func:`bmpt_density` on the sampler's
    grid, cell k = iy * bm_npt + ip covering [iy, iy + 1] dy x [ip, ip + 1] dpt."""
    out = np.zeros((ny * cfg.bm_npt, 2))
    for iy in range(ny):
        for ip in range(cfg.bm_npt):
            hi, lo = bmpt_cell_bounds(cfg, mg, iy * cfg.bm_dy, (iy + 1) * cfg.bm_dy,
                                      ip * cfg.bm_dpt, (ip + 1) * cfg.bm_dpt)
            out[iy * cfg.bm_npt + ip, 0] = hi
            out[iy * cfg.bm_npt + ip, 1] = lo
    return out


@njit(**_INLINE)
def sample_bmpt(rs: np.ndarray, cfg: FlightConfig, m: float, tab: np.ndarray
                ) -> tuple[float, float]:
    """(p_T, lab p_z) [MeV] of a meson of mass ``m`` [MeV] from the BMPT invariant cross
    section E d3sigma/dp3 ~ x-factor(x_R) p_T-factor(x_R, p_T), scaled from Be to the target
    with A^alpha(x_F, p_T), in the forward CM hemisphere (y* > 0), p_T < bm_ptmax.

    Exact rejection sampling of :func:`bmpt_density` under a piecewise-constant envelope on a
    grid of cells in (y*, p_T): ``tab[k]`` = (upper bound U_k on cell k, lower bound L_k,
    alias probability, alias index) (:func:`bmpt_cell_bounds`; the alias table of the U_k,
    M. D. Vose, IEEE TSE 17 (1991) 972). Per try: a cell, a uniform point in it and
    v = u U_k; v <= L_k accepts without evaluating the density (squeeze: Marsaglia, Comm. ACM
    20 (1977) 47), else the density decides (~1.05 tries and ~0.1 density evaluations per
    kaon on the default grid, :data:`kotosim.experiments._flight.BMPT_NY`)."""
    mg = m * 1e-3
    nc = tab.shape[0]
    npt = cfg.bm_npt
    while True:
        u = uniform(rs) * nc
        k = min(int(u), nc - 1)
        if u - k >= tab[k, 2]:
            k = int(tab[k, 3])
        iy = k // npt
        y = (iy + uniform(rs)) * cfg.bm_dy
        pt = (k - iy * npt + uniform(rs)) * cfg.bm_dpt
        v = uniform(rs) * tab[k, 0]
        if v <= tab[k, 1] or v <= bmpt_density(y, pt, mg, cfg):
            # p_z = m_T sinh(y* + y_cm) from one exp: the error is ~1e-16 m_T (relative ~1e-16
            # at CHARM, where y* + y_cm >= y_cm = 3.4)
            e = math.exp(y + cfg.bm_ycm)
            return pt * 1e3, math.sqrt(mg * mg + pt * pt) * 0.5 * (e - 1.0 / e) * 1e3


@njit(**_INLINE)
def sample_collider_pt(rs: np.ndarray, p0: float, n: float) -> float:
    """p_T from dN/dp_T ~ p_T (1 + p_T^2/p0^2)^(-n) (research notes sec. 3a), inverse CDF
    p_T = p0 sqrt((1 - u)^(1/(1-n)) - 1)."""
    u = uniform(rs)
    return p0 * math.sqrt((1.0 - u) ** (1.0 / (1.0 - n)) - 1.0)


@njit(**_INLINE)
def fixed_target_pz(xf: float, pt: float, m: float, e_beam: float, m_target: float) -> float:
    """Lab p_z of a hadron with Feynman x_F = p*_L/(sqrt(s)/2) and p_T, produced by a beam of
    energy e_beam on a nucleon (mass m_target) at rest: p_z = gamma (p*_L + beta E*)."""
    p_beam = math.sqrt(max(e_beam * e_beam - m_target * m_target, 0.0))
    s = m_target * m_target * 2.0 + 2.0 * m_target * e_beam
    rs = math.sqrt(s)
    gam = (e_beam + m_target) / rs
    bg = p_beam / rs
    pl = xf * 0.5 * rs
    es = math.sqrt(m * m + pt * pt + pl * pl)
    return gam * pl + bg * es


@njit(**_INLINE)
def sample_parent(rs: np.ndarray, cfg: FlightConfig, tab: np.ndarray
                  ) -> tuple[float, float, float, float, float, float]:
    """Parent origin (x, y, z) and momentum (px, py, pz) from the configured source
    (``tab``: the BMPT sampler's envelope table, :func:`sample_bmpt`; empty otherwise)."""
    if cfg.source == SRC_BEAM:
        g1, g2 = gauss_pair(rs, True)
        p = cfg.p_beam * (1.0 + cfg.p_spread * g1)
        tx = cfg.divergence * g2
        ty = cfg.divergence * gauss_pair(rs, True)[0] if cfg.divergence > 0.0 else 0.0
        nrm = math.sqrt(1.0 + tx * tx + ty * ty)
        return 0.0, 0.0, cfg.z_start, p * tx / nrm, p * ty / nrm, p / nrm
    sphi, cphi = sincos_2pi(uniform(rs))  # azimuth
    if cfg.source == SRC_BMPT:
        pt, pz = sample_bmpt(rs, cfg, cfg.m_parent, tab)
        return 0.0, 0.0, 0.0, pt * cphi, pt * sphi, pz
    if cfg.source == SRC_TARGET:
        xf = sample_xf(rs, cfg.xf_power)
        pt = sample_pt(rs, cfg.pt_a, cfg.pt_b)
        pz = fixed_target_pz(xf, pt, cfg.m_parent, cfg.e_beam, cfg.m_target)
        return 0.0, 0.0, 0.0, pt * cphi, pt * sphi, pz
    # SRC_COLLIDER: Gaussian rapidity, p_T independent; kept only inside eta_min..eta_max
    while True:
        pt = sample_collider_pt(rs, cfg.pt0, cfg.pt_n)
        y = cfg.sigma_y * gauss_pair(rs, True)[0]
        mt = math.sqrt(cfg.m_parent * cfg.m_parent + pt * pt)
        pz = mt * math.sinh(y)
        if pt > 0.0:
            eta = math.asinh(pz / pt)
            if cfg.eta_min < eta < cfg.eta_max:
                return 0.0, 0.0, 0.0, pt * cphi, pt * sphi, pz


@njit(**_INLINE)
def sample_vertex(rs: np.ndarray, cfg: FlightConfig, p: float, dz: float) -> tuple[float, float]:
    """Path length s of the parent before it decays and the event weight."""
    lam = p / cfg.m_parent * cfg.ctau_parent
    if cfg.vertex == VTX_WINDOW:
        return truncated_exponential(rs, lam, (cfg.z_end - cfg.z_start) / dz)
    if cfg.vertex == VTX_ABSORB:
        # decay (length lam) competes with absorption (length la): the first to happen is at
        # an exponential distance of length lam la/(lam + la); it is a decay with probability
        # la/(la + lam) (notes sec. 2c; inputs.md sec. 4)
        la = cfg.abs_length
        lc = lam * la / (lam + la)
        s = -lc * math.log1p(-uniform(rs))
        return s, la / (la + lam)
    s = -lam * math.log1p(-uniform(rs))
    return s, 1.0


# ---------------------------------------------------------------------------- stopped K+ (E949)
@njit(**_INLINE)
def sample_stop(rs: np.ndarray, cfg: FlightConfig) -> tuple[float, float, float]:
    """Stopping point of a K+ at rest: uniform in the cylinder r < stop_radius,
    |z| < stop_half_length (r = R sqrt(u) for a uniform disc)."""
    r = cfg.stop_radius * math.sqrt(uniform(rs))
    sa, ca = sincos_2pi(uniform(rs))
    z = cfg.stop_half_length * (2.0 * uniform(rs) - 1.0)
    return r * ca, r * sa, z


@njit(**_INLINE)
def parent_and_vertex(rs: np.ndarray, cfg: FlightConfig, tab: np.ndarray
                      ) -> tuple[float, float, float, float, float, float, float, float, float]:
    """Parent momentum (kx, ky, kz, |p|), its flight s to the decay vertex, the event weight
    and the vertex (vx, vy, vz), for every source: a parent at rest (``SRC_AT_REST``) decays
    where it stopped with weight 1; the others fly from their origin (:func:`sample_vertex`)."""
    if cfg.source == SRC_AT_REST:
        vx, vy, vz = sample_stop(rs, cfg)
        return 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, vx, vy, vz
    x0, y0, z0, kx, ky, kz = sample_parent(rs, cfg, tab)
    pk = math.sqrt(kx * kx + ky * ky + kz * kz)
    s, w = sample_vertex(rs, cfg, pk, kz / pk)
    return (kx, ky, kz, pk, s, w, x0 + s * kx / pk, y0 + s * ky / pk, z0 + s * kz / pk)


@njit(**_INLINE)
def e949_select(rs: np.ndarray, cfg: FlightConfig, hx: float, hy: float, hz: float
                ) -> tuple[bool, float, float, int]:
    """pi+ of K+ -> pi+ phi at rest: |cos theta| < cos_max (drift-chamber and range-stack
    acceptance) and the smeared momentum p (1 + res_p_rest g) in pnn1 or pnn2.
    Returns (passed, p_reco, m^2_miss from p_reco, window: 0 pnn1, 1 pnn2, -1 none)."""
    p = math.sqrt(hx * hx + hy * hy + hz * hz)
    q = p * (1.0 + cfg.res_p_rest * gauss_pair(rs, True)[0]) if cfg.smear else p
    m2 = missing_mass2(0.0, 0.0, 0.0, cfg.m_parent, 0.0, 0.0, q, cfg.m_h)
    if not abs(hz) < cfg.cos_max * p:
        return False, q, m2, -1
    if cfg.pnn1_lo < q < cfg.pnn1_hi:
        return True, q, m2, 0
    if cfg.pnn2_lo < q < cfg.pnn2_hi:
        return True, q, m2, 1
    return False, q, m2, -1


@njit(**_INLINE)
def invisible_mode(mode: int) -> bool:
    """Modes where phi counts as invisible unless it decays in the ``veto`` volumes."""
    return mode == MODE_NA62 or mode == MODE_E949


# ---------------------------------------------------------------------------- detector planes
# rows of ``planes``: [z, cx, cy, half, oct, r_min, r_max, hole_half, hole_cx]
#   accepted if |x-cx|, |y-cy| <= half (half > 0), |x-cx| + |y-cy| <= oct (oct > 0),
#   r_min <= r <= r_max about (cx, cy) (r_max > 0) and outside the square beam hole of
#   half-size hole_half centred at (hole_cx, cy) (hole_half > 0).
NPLANE = 9


@njit(**_INLINE)
def on_plane(planes: np.ndarray, i: int, x: float, y: float) -> bool:
    """Whether the point (x, y) on plane row ``i`` is inside its sensitive area."""
    dx = x - planes[i, 1]
    dy = y - planes[i, 2]
    half, octa = planes[i, 3], planes[i, 4]
    if half > 0.0 and (abs(dx) > half or abs(dy) > half):
        return False
    if octa > 0.0 and abs(dx) + abs(dy) > octa:
        return False
    r2 = dx * dx + dy * dy
    if r2 < planes[i, 5] * planes[i, 5]:
        return False
    if planes[i, 6] > 0.0 and r2 > planes[i, 6] * planes[i, 6]:
        return False
    hh = planes[i, 7]
    if hh > 0.0 and abs(x - planes[i, 8]) < hh and abs(dy) < hh:
        return False
    return True


@njit(**_INLINE)
def track_accepted(planes: np.ndarray, x: float, y: float, z: float, px: float, py: float,
                   pz: float, z_kick: float, kick: float) -> bool:
    """Straight track from (x, y, z) through every plane downstream of it; at ``z_kick`` its
    p_x changes by ``kick`` (thin-lens dipole, charge included in the sign). Planes must be
    sorted in z. Fails if it goes backwards or any plane upstream of its origin exists."""
    if pz <= 0.0:
        return False
    kicked = False
    for i in range(planes.shape[0]):
        zp = planes[i, 0]
        if zp <= z:
            return False
        if kick != 0.0 and not kicked and zp > z_kick:
            if z_kick > z:  # propagate to the magnet, then kick
                x += (z_kick - z) * px / pz
                y += (z_kick - z) * py / pz
                z = z_kick
            px += kick
            kicked = True
        x += (zp - z) * px / pz
        y += (zp - z) * py / pz
        z = zp
        if not on_plane(planes, i, x, y):
            return False
    return True


# ---------------------------------------------------------------------------- NA62 selection
@njit(**_INLINE)
def _smear_track(rs: np.ndarray, p: float, px: float, py: float, pz: float, rel: float, th: float
                 ) -> tuple[float, float, float]:
    """Momentum scaled by (1 + rel g) and both slopes shifted by th g (Gaussian g)."""
    g1, g2 = gauss_pair(rs, True)
    g3 = gauss_pair(rs, True)[0]
    tx = px / pz + th * g1
    ty = py / pz + th * g2
    q = p * (1.0 + rel * g3)
    n = math.sqrt(1.0 + tx * tx + ty * ty)
    return q * tx / n, q * ty / n, q / n


@njit(**_INLINE)
def missing_mass2(kx: float, ky: float, kz: float, m_k: float, hx: float, hy: float,
                  hz: float, m_h: float) -> float:
    """m^2_miss = (P_K - P_pi)^2 from the two 3-momenta and mass hypotheses [MeV^2]."""
    ek = math.sqrt(kx * kx + ky * ky + kz * kz + m_k * m_k)
    eh = math.sqrt(hx * hx + hy * hy + hz * hz + m_h * m_h)
    de = ek - eh
    dx, dy, dz = kx - hx, ky - hy, kz - hz
    return de * de - (dx * dx + dy * dy + dz * dz)


@njit(**_INLINE)
def na62_select(rs: np.ndarray, cfg: FlightConfig, planes: np.ndarray, vx: float, vy: float,
                vz: float, kx: float, ky: float, kz: float, hx: float, hy: float, hz: float
                ) -> tuple[bool, float, float]:
    """pi+ in the STRAW chambers and LKr, 15 < p < 35 GeV/c and m^2_miss in R1 or R2, both
    from the smeared K+ (GTK) and pi+ (STRAW) momenta. Returns (passed, p_reco, m2_reco)."""
    if cfg.smear:
        pk = math.sqrt(kx * kx + ky * ky + kz * kz)
        ph = math.sqrt(hx * hx + hy * hy + hz * hz)
        kx, ky, kz = _smear_track(rs, pk, kx, ky, kz, cfg.res_pk, cfg.res_thk)
        rel = math.sqrt(cfg.res_ppi_a ** 2 + (cfg.res_ppi_b * ph) ** 2)
        rx, ry, rz = _smear_track(rs, ph, hx, hy, hz, rel, cfg.res_thpi)
    else:
        rx, ry, rz = hx, hy, hz
    p_reco = math.sqrt(rx * rx + ry * ry + rz * rz)
    m2 = missing_mass2(kx, ky, kz, cfg.m_parent, rx, ry, rz, cfg.m_h)
    ok = track_accepted(planes, vx, vy, vz, hx, hy, hz, cfg.z_kick, cfg.kick)
    ok = ok and cfg.p_min < p_reco < cfg.p_max
    ok = ok and (cfg.m2_lo1 < m2 < cfg.m2_hi1 or cfg.m2_lo2 < m2 < cfg.m2_hi2)
    return ok, p_reco, m2


# ---------------------------------------------------------------------------- daughters
@njit(**_INLINE)
def eta_of(px: float, py: float, pz: float) -> float:
    pt = math.sqrt(px * px + py * py)
    if pt == 0.0:
        return math.inf if pz > 0.0 else -math.inf
    return math.asinh(pz / pt)


@njit(**_JIT)
def daughters_hit(planes: np.ndarray, x: float, y: float, z: float, d: tuple,
                  e_min: float, e_max: float) -> bool:
    """CHARM: both daughters (lab four-momenta ``d``) from (x, y, z) reach every plane inside
    its area, each with energy in [e_min, e_max]."""
    for k in range(2):
        e = d[4 * k + 3]
        if not (e_min <= e <= e_max):
            return False
        if not track_accepted(planes, x, y, z, d[4 * k], d[4 * k + 1], d[4 * k + 2], 0.0, 0.0):
            return False
    return True


@njit(**_INLINE)
def daughters_seen(planes: np.ndarray, x: float, y: float, z: float, d: tuple,
                   e_min: float, e_max: float, n_min: int) -> bool:
    """CHARM: at least ``n_min`` of the two daughters (lab four-momenta ``d``) from (x, y, z)
    reach every plane inside its area, and every daughter that does has its energy in
    [e_min, e_max] (ALPINIST ExpParameters.C twoPhotonCondition, CHARM case: one shower on the
    calorimeter with 5 < E < 50 GeV, or two, both in that window). n_min = 2 is
    :func:`daughters_hit`."""
    n_on = 0
    for k in range(2):
        if track_accepted(planes, x, y, z, d[4 * k], d[4 * k + 1], d[4 * k + 2], 0.0, 0.0):
            e = d[4 * k + 3]
            if not (e_min <= e <= e_max):
                return False
            n_on += 1
    return n_on >= n_min


@njit(**_INLINE)
def planes_crossed(planes: np.ndarray, x: float, y: float, z: float, px: float, py: float,
                   pz: float, n_stop: int = 1 << 30) -> int:
    """Number of plane rows downstream of (x, y, z) whose sensitive area the straight track
    (px, py, pz) crosses (LHCb: VELO half-modules; planes in any z order), counted up to
    ``n_stop`` (the count stops there: enough for a "crosses at least n_stop" test)."""
    if pz <= 0.0:
        return 0
    n = 0
    for i in range(planes.shape[0]):
        zp = planes[i, 0]
        if zp > z and on_plane(planes, i, x + (zp - z) * px / pz, y + (zp - z) * py / pz):
            n += 1
            if n >= n_stop:
                break
    return n


@njit(**_INLINE)
def daughters_tracked(planes: np.ndarray, x: float, y: float, z: float, d: tuple,
                      n_min: int) -> bool:
    """LHCb displaced: both daughters (lab four-momenta ``d``) from (x, y, z) cross at least
    ``n_min`` VELO modules (``planes`` rows) downstream of the decay point."""
    for k in range(2):
        if planes_crossed(planes, x, y, z, d[4 * k], d[4 * k + 1], d[4 * k + 2],
                          n_min) < n_min:
            return False
    return True


# ---------------------------------------------------------------------- daughters along the path
# The daughters' lab momenta do not depend on where on its path phi decays, so whether they are
# seen is a function of the path length t alone: the hit point of a daughter from V + t u on a
# plane at z moves on a straight line as t changes, every boundary of a sensitive area (square,
# octagon, circle, square hole) is crossed at a root of a linear or quadratic equation in t, and
# the seen set is a finite union of t intervals. :func:`seen_intervals` finds it exactly, and
# the acceptance at every c tau is then the exact decay probability over those intervals
# (DESIGN.md principle 1) -- no decay point is drawn for each c tau, and the cost does not grow
# with the number of c tau values. The same rules as :func:`daughters_seen` and
# :func:`daughters_tracked` at one point (tests/test_daughter_intervals.py checks them against
# each other at random points).
_EMPTY = (math.inf, -math.inf)


@njit(**_INLINE)
def _cut_inv(c0: float, c1: float, ic1: float, lo: float, hi: float) -> tuple[float, float]:
    """[lo, hi] intersected with {t : c0 + c1 t <= 0}, ic1 = 1/c1 given (no division here;
    the callers compute it once per track)."""
    if c1 == 0.0:
        return (lo, hi) if c0 <= 0.0 else _EMPTY
    r = -c0 * ic1
    if c1 > 0.0:
        return lo, min(hi, r)
    return max(lo, r), hi


@njit(**_INLINE)
def _disc(ax: float, bx: float, ay: float, by: float, aa: float, iaa: float, r: float
          ) -> tuple[float, float]:
    """The t interval where |(ax, ay) + t (bx, by)| <= r (lo > hi: none), aa = bx^2 + by^2,
    iaa = 1/aa: the roots of a quadratic, in the cancellation-free form q/aa, cc/q."""
    bb = ax * bx + ay * by
    cc = ax * ax + ay * ay - r * r
    if aa == 0.0:
        return (-math.inf, math.inf) if cc <= 0.0 else _EMPTY
    disc = bb * bb - aa * cc
    if disc < 0.0:
        return _EMPTY
    q = -bb - math.sqrt(disc) if bb >= 0.0 else -bb + math.sqrt(disc)
    t1 = q * iaa
    t2 = cc / q if q != 0.0 else t1
    return (t1, t2) if t1 <= t2 else (t2, t1)


@njit(**_INLINE)
def _plane_row(planes: np.ndarray, i: int) -> tuple:
    """Row ``i`` of the (n, NPLANE) plane array as a tuple of scalars."""
    return (planes[i, 0], planes[i, 1], planes[i, 2], planes[i, 3], planes[i, 4],
            planes[i, 5], planes[i, 6], planes[i, 7], planes[i, 8])


@njit(**_INLINE)
def plane_intervals(row: tuple, ox: float, oy: float, oz: float, uz: float, iuz: float,
                    sx: float, sy: float, bx: float, by: float, ibx: float, iby: float,
                    aa: float, iaa: float, lo: float, hi: float
                    ) -> tuple[int, float, float, float, float, float, float]:
    """The t in [lo, hi] for which a straight track of slopes (sx, sy) = (dx/dz, dy/dz),
    dz > 0, from (ox, oy, oz) + t u starts upstream of the plane ``row`` (a plane row as a
    tuple, :func:`_plane_row`) and hits it inside its sensitive area (:func:`on_plane`): at
    most three disjoint sorted intervals, returned as (count, a1, b1, a2, b2, a3, b3). Per
    track (:func:`track_intervals`): the hit point moves by (bx, by) = (ux - uz sx,
    uy - uz sy) per unit t; iuz, ibx, iby, iaa are the reciprocals of uz, bx, by and
    aa = bx^2 + by^2. Scalars in and out: no array reference is counted in the plane loop."""
    none = (0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    z = row[0]
    lo, hi = _cut_inv(oz - z, uz, iuz, lo, hi)  # decay point upstream of the plane
    if not hi > lo:
        return none
    ax = ox + (z - oz) * sx - row[1]
    ay = oy + (z - oz) * sy - row[2]
    half, octa = row[3], row[4]
    if half > 0.0:
        lo, hi = _cut_inv(ax - half, bx, ibx, lo, hi)
        lo, hi = _cut_inv(-ax - half, -bx, -ibx, lo, hi)
        lo, hi = _cut_inv(ay - half, by, iby, lo, hi)
        lo, hi = _cut_inv(-ay - half, -by, -iby, lo, hi)
    if octa > 0.0:
        for sgx in (-1.0, 1.0):
            for sgy in (-1.0, 1.0):
                c1 = sgx * bx + sgy * by
                lo, hi = _cut_inv(sgx * ax + sgy * ay - octa, c1, 1.0 / c1 if c1 != 0.0 else 0.0,
                                  lo, hi)
    if not hi > lo:
        return none
    # excluded: inside the square hole, inside r_min (open sets); the hole first (LHCb: the
    # other half plane), as it often excludes everything
    h1, h2 = _EMPTY
    hh = row[7]
    if hh > 0.0:
        hx = ax + row[1] - row[8]
        h1, h2 = -math.inf, math.inf
        h1, h2 = _cut_inv(hx - hh, bx, ibx, h1, h2)
        h1, h2 = _cut_inv(-hx - hh, -bx, -ibx, h1, h2)
        h1, h2 = _cut_inv(ay - hh, by, iby, h1, h2)
        h1, h2 = _cut_inv(-ay - hh, -by, -iby, h1, h2)
        if h1 <= lo and h2 >= hi:
            return none
    if row[6] > 0.0:
        t1, t2 = _disc(ax, bx, ay, by, aa, iaa, row[6])
        lo, hi = max(lo, t1), min(hi, t2)
        if not hi > lo:
            return none
    e1, e2 = _EMPTY
    if row[5] > 0.0:
        e1, e2 = _disc(ax, bx, ay, by, aa, iaa, row[5])
    if h1 < e1:
        e1, e2, h1, h2 = h1, h2, e1, e2
    # [lo, hi] minus the two excluded intervals (sorted by start): at most three pieces
    m = 0
    a1 = b1 = a2 = b2 = a3 = b3 = 0.0
    cur = lo
    for s, e in ((e1, e2), (h1, h2)):
        if not e > s:
            continue
        if s > cur:
            b = min(s, hi)
            if b > cur:  # m is 0 or 1 here
                if m == 0:
                    a1, b1 = cur, b
                else:
                    a2, b2 = cur, b
                m += 1
        cur = max(cur, e)
        if cur >= hi:
            break
    if hi > cur:
        if m == 0:
            a1, b1 = cur, hi
        elif m == 1:
            a2, b2 = cur, hi
        else:
            a3, b3 = cur, hi
        m += 1
    return m, a1, b1, a2, b2, a3, b3


@njit(**_INLINE)
def _isort(t: np.ndarray, w: np.ndarray, n: int) -> None:
    """Sort t[:n] (and w alongside) in place: insertion sort, linear for the nearly sorted
    lists it gets (plane after plane)."""
    for i in range(1, n):
        a, b = t[i], w[i]
        j = i - 1
        while j >= 0 and t[j] > a:
            t[j + 1], w[j + 1] = t[j], w[j]
            j -= 1
        t[j + 1], w[j + 1] = a, b


@njit(**_JIT)
def _sweep(st: np.ndarray, sw: np.ndarray, en: np.ndarray, ew: np.ndarray, n: int, thr: float,
           out: np.ndarray) -> int:
    """Intervals [st[j], en[j]] (j < n) with weights sw[j] (ew: scratch): write to ``out`` the
    sorted disjoint intervals where the summed weight of the intervals covering t is >= thr;
    returns how many (zero-length ones dropped)."""
    for j in range(n):
        ew[j] = sw[j]
    _isort(st, sw, n)
    _isort(en, ew, n)
    m = 0
    c = 0.0
    start = 0.0
    i = k = 0
    while i < n or k < n:
        t = st[i] if (i < n and (k >= n or st[i] <= en[k])) else en[k]
        before = c
        while i < n and st[i] == t:  # every step at the same t at once
            c += sw[i]
            i += 1
        while k < n and en[k] == t:
            c -= ew[k]
            k += 1
        if before < thr <= c:
            start = t
        elif c < thr <= before and t > start:
            out[m, 0], out[m, 1] = start, t
            m += 1
    return m


@njit(**_JIT)
def track_intervals(planes: np.ndarray, n_req: int, ox: float, oy: float, oz: float,
                    ux: float, uy: float, uz: float, dx: float, dy: float, dz: float,
                    lo: float, hi: float, st: np.ndarray, sw: np.ndarray, en: np.ndarray,
                    ew: np.ndarray, out: np.ndarray) -> int:
    """The t in [lo, hi] for which the track (dx, dy, dz) from (ox, oy, oz) + t (ux, uy, uz)
    hits at least ``n_req`` (>= 1) plane rows downstream of its origin (``n_req`` = every
    row: :func:`track_accepted` without a kick; ``n_req`` = n: :func:`planes_crossed` >= n).
    Intervals to ``out``; returns how many. ``st``, ``sw``, ``en``, ``ew``: scratch."""
    if dz <= 0.0:
        return 0
    sx, sy = dx / dz, dy / dz
    bx, by = ux - uz * sx, uy - uz * sy
    aa = bx * bx + by * by
    iuz = 1.0 / uz if uz != 0.0 else 0.0
    ibx = 1.0 / bx if bx != 0.0 else 0.0
    iby = 1.0 / by if by != 0.0 else 0.0
    iaa = 1.0 / aa if aa != 0.0 else 0.0
    n = np.int64(0)  # not a literal 0: numba would compile _sweep for it too
    for i in range(planes.shape[0]):
        k, a1, b1, a2, b2, a3, b3 = plane_intervals(
            _plane_row(planes, i), ox, oy, oz, uz, iuz, sx, sy, bx, by, ibx, iby, aa, iaa, lo,
            hi)
        if k > 0:
            st[n], en[n], sw[n] = a1, b1, 1.0
            n += 1
        if k > 1:
            st[n], en[n], sw[n] = a2, b2, 1.0
            n += 1
        if k > 2:
            st[n], en[n], sw[n] = a3, b3, 1.0
            n += 1
    if n < n_req:
        return 0
    return _sweep(st, sw, en, ew, n, float(n_req), out)


@njit(**_JIT)
def seen_intervals(planes: np.ndarray, n_req: int, ox: float, oy: float, oz: float, ux: float,
                   uy: float, uz: float, d: tuple, ok0: bool, ok1: bool, n_need: int,
                   lo: float, hi: float, st: np.ndarray, sw: np.ndarray, en: np.ndarray,
                   ew: np.ndarray, tst: np.ndarray, tsw: np.ndarray, ten: np.ndarray,
                   tew: np.ndarray, one: np.ndarray, out: np.ndarray) -> int:
    """The t in [lo, hi] at which phi, decaying at (ox, oy, oz) + t (ux, uy, uz) into the two
    daughters ``d`` (lab four-momenta), is seen: at least ``n_need`` (>= 1) of the daughters
    whose flag ``ok0``/``ok1`` is set (energy in the window) pass :func:`track_intervals`, and
    no daughter whose flag is off does (CHARM: :func:`daughters_seen`, n_req = every plane;
    LHCb: :func:`daughters_tracked`, both flags on, n_need = 2). Intervals to ``out``; returns
    how many. ``st``, ``sw``, ``en``, ``ew`` (this sweep), ``tst``, ``tsw``, ``ten``, ``tew``
    (each daughter's), ``one``: scratch."""
    n = np.int64(0)
    for k in range(2):
        m = track_intervals(planes, n_req, ox, oy, oz, ux, uy, uz, d[4 * k], d[4 * k + 1],
                            d[4 * k + 2], lo, hi, tst, tsw, ten, tew, one)
        w = 1.0 if (ok0 if k == 0 else ok1) else -3.0  # seen out of its window: vetoes
        for j in range(m):
            st[n], en[n], sw[n] = one[j, 0], one[j, 1], w
            n += 1
    return _sweep(st, sw, en, ew, n, float(n_need), out)

# ---------------------------------------------------------------------------- the event loop
@njit(**_INLINE)
def _acc(q: np.ndarray, k: int, i: int, w: float, a: float) -> None:
    wa = w * a
    q[k, 0, i] += wa
    q[k, 1, i] += wa * wa
    q[k, 2, i] += w * wa


@njit(**_INLINE)
def _row8(a: np.ndarray, c: int) -> tuple:
    """Row ``c`` of an (n, 8) array as a tuple of scalars (no array view in the loop)."""
    return (a[c, 0], a[c, 1], a[c, 2], a[c, 3], a[c, 4], a[c, 5], a[c, 6], a[c, 7])


@njit(**_INLINE)
def _prob_seen(seen: np.ndarray, nseen: np.ndarray, c: int, lam: float) -> float:
    """Probability to decay inside the ``nseen[c]`` disjoint intervals ``seen[c]``."""
    p = 0.0
    for j in range(nseen[c]):
        p += decay_probability(seen[c, j, 0], seen[c, j, 1], lam)
    return p


@njit(**_INLINE)
def _hist_bin(cfg: FlightConfig, v: float, nb: int) -> int:
    if cfg.hist_log:
        if not v > 0.0:
            return -1
        f = (math.log(v) - math.log(cfg.hist_lo)) / (math.log(cfg.hist_hi) - math.log(cfg.hist_lo))
    else:
        f = (v - cfg.hist_lo) / (cfg.hist_hi - cfg.hist_lo)
    if not (0.0 <= f < 1.0):
        return -1
    return int(f * nb)


@njit(**_JIT)
def _chunk(cfg: FlightConfig, seed: np.ndarray, pseed: np.ndarray, bank: np.ndarray,
           tab: np.ndarray, chunk: int, ctau: np.ndarray,
           ctau_curve: np.ndarray, signal: np.ndarray, veto: np.ndarray, planes: np.ndarray,
           dau: np.ndarray,
           counts: np.ndarray, q: np.ndarray, curve: np.ndarray, hist: np.ndarray,
           rec: np.ndarray, rec_w: np.ndarray) -> None:
    rs = seed.copy()  # this chunk's xoshiro256+ state
    rp = pseed.copy() if cfg.parent_stream else rs  # the parents' own stream, or the same
    banked = bank.shape[0] > 0
    first = chunk * cfg.chunk_size
    n = min(cfg.chunk_size, cfg.n_events - first)
    nct = ctau.size
    ncv = ctau_curve.size if cfg.fine_curve else 0
    ns, nv, nd = signal.shape[0], veto.shape[0], dau.shape[0]
    iv_s = np.zeros((max(ns, 1), 2))
    mg_s = np.zeros((max(ns, 1), 2))
    iv_v = np.zeros((max(nv, 1), 2))
    mg_v = np.zeros((max(nv, 1), 2))
    a = np.zeros((NQ, nct))
    dk = np.zeros((MAX_DAU, 8))
    dok = np.zeros(MAX_DAU, dtype=np.bool_)
    # daughters seen along the phi path (CHARM, LHCb): scratch and, per channel, the t intervals
    tracked = nd > 0 and planes.shape[0] > 0 and (
        cfg.mode == MODE_CHARM or (cfg.mode == MODE_LHCB and cfg.velo_min_modules > 0))
    kiv = 3 * planes.shape[0] + 4  # intervals: at most 3 a plane
    st, sw, en, ew = np.zeros(2 * kiv), np.zeros(2 * kiv), np.zeros(2 * kiv), np.zeros(2 * kiv)
    tst, tsw, ten, tew = np.zeros(kiv), np.zeros(kiv), np.zeros(kiv), np.zeros(kiv)
    one, both = np.zeros((kiv, 2)), np.zeros((2 * kiv, 2))
    seen = np.zeros((MAX_DAU, 2 * kiv * max(ns, 1), 2))
    nseen = np.zeros(MAX_DAU, dtype=np.int64)
    n_req = planes.shape[0] if cfg.mode == MODE_CHARM else cfg.velo_min_modules
    # the decay probability in the signal volume, where it is used (NA62/E949 overwrite
    # Q_SIGNAL with the veto probability; LHCb without tracking copies it to Q_DAU)
    need_psig = not invisible_mode(cfg.mode) and (
        (cfg.q_mask >> Q_SIGNAL) & 1 or (cfg.mode == MODE_LHCB and not tracked))
    nbins = hist.shape[2]
    fill = hist.shape[0] > 0
    for j in range(n):
        g = first + j
        # --- parent, its decay vertex and P -> h phi
        if banked:  # drawn before from the parents' stream (:func:`parent_bank`)
            kx, ky, kz, pk, s, w, vx, vy, vz = (bank[j, 0], bank[j, 1], bank[j, 2], bank[j, 3],
                                                bank[j, 4], bank[j, 5], bank[j, 6], bank[j, 7],
                                                bank[j, 8])
        else:
            kx, ky, kz, pk, s, w, vx, vy, vz = parent_and_vertex(rp, cfg, tab)
        ek = math.sqrt(pk * pk + cfg.m_parent * cfg.m_parent)
        d = decay_two_body(rs, kx, ky, kz, ek, cfg.m_parent, cfg.m_h, cfg.m_phi, True)
        hx, hy, hz = d[0], d[1], d[2]
        fx, fy, fz, fe = d[4], d[5], d[6], d[7]
        pf = math.sqrt(fx * fx + fy * fy + fz * fz)
        ux, uy, uz = fx / pf, fy / pf, fz / pf
        # --- phi path intervals through the signal volumes (NA62/E949 use them only for the
        # event sample) and, after the selection, through the veto volumes
        recorded = g < cfg.record_cap
        msig = 0
        mveto = 0
        if ns > 0 and (recorded or not invisible_mode(cfg.mode)):
            intervals(signal, vx, vy, vz, ux, uy, uz, iv_s)
            msig = union_intervals(iv_s, mg_s)
        if cfg.mode == MODE_LHCB:  # the displaced region starts beyond displaced_min
            for r in range(msig):
                mg_s[r, 0] = max(mg_s[r, 0], cfg.displaced_min)
        # --- lifetime-independent selection g
        p_reco, m2 = 0.0, 0.0
        win = -1
        if cfg.mode == MODE_NA62:
            sel, p_reco, m2 = na62_select(rs, cfg, planes, vx, vy, vz, kx, ky, kz, hx, hy, hz)
        elif cfg.mode == MODE_E949:
            sel, p_reco, m2, win = e949_select(rs, cfg, hx, hy, hz)
        else:
            sel = False
            for r in range(msig):
                if mg_s[r, 1] > mg_s[r, 0]:
                    sel = True
        # the veto intervals enter only the weights of selected events (NA62/E949, the modes
        # with [[veto]] volumes) and the event sample; no random number is drawn for them
        if nv > 0 and (recorded or sel):
            intervals(veto, vx, vy, vz, ux, uy, uz, iv_v)
            mveto = union_intervals(iv_v, mg_v)
        # daughters (CHARM, LHCb): one rest-frame decay per channel, shared by all c tau
        # (CHARM: only when phi's path crosses the signal volume; LHCb: always, for the prompt
        # quantity)
        need_dau = cfg.mode == MODE_LHCB or (cfg.mode == MODE_CHARM and msig > 0)
        for c in range(nd):
            dok[c] = False
            if need_dau and cfg.m_phi > 2.0 * dau[c, 0]:
                dd = decay_two_body(rs, fx, fy, fz, fe, cfg.m_phi, dau[c, 0], dau[c, 0], True)
                for k in range(8):
                    dk[c, k] = dd[k]
                dok[c] = True
                if cfg.mode == MODE_LHCB:
                    for k in range(2):
                        eta = eta_of(dd[4 * k], dd[4 * k + 1], dd[4 * k + 2])
                        if not (cfg.dau_eta_min < eta < cfg.dau_eta_max):
                            dok[c] = False
        # the path intervals where each channel's daughters are seen, once for every c tau
        if tracked and msig > 0:
            for c in range(nd):
                nseen[c] = 0
                if not dok[c] or not (cfg.q_mask >> (Q_DAU + c)) & 1:
                    continue
                dd = _row8(dk, c)
                if cfg.mode == MODE_CHARM:
                    ok0 = dau[c, 1] <= dd[3] <= dau[c, 2]
                    ok1 = dau[c, 1] <= dd[7] <= dau[c, 2]
                    n_need = int(dau[c, 3]) if dau.shape[1] > 3 else 2
                else:
                    ok0, ok1, n_need = True, True, 2
                nb = seen_intervals(planes, n_req, vx, vy, vz, ux, uy, uz, dd, ok0, ok1,
                                    n_need, mg_s[0, 0], mg_s[msig - 1, 1], st, sw, en, ew,
                                    tst, tsw, ten, tew, one, both)
                # ... inside the signal intervals (both lists sorted and disjoint)
                for j in range(nb):
                    for r in range(msig):
                        lo_ = max(both[j, 0], mg_s[r, 0])
                        hi_ = min(both[j, 1], mg_s[r, 1])
                        if hi_ > lo_:
                            seen[c, nseen[c], 0] = lo_
                            seen[c, nseen[c], 1] = hi_
                            nseen[c] += 1
        counts[0] += 1.0
        counts[1] += w
        counts[2] += w * w
        if sel:
            counts[3] += w
            counts[4] += w * w
        # --- every c tau: decay weights. An event that adds nothing at any c tau skips the
        # loop (NA62/E949: pi+ not selected; CHARM: phi path misses the decay volume): the same
        # numbers, no random number is drawn there
        active = sel if invisible_mode(cfg.mode) else (cfg.mode == MODE_LHCB or msig > 0)
        nct_e = nct if active else 0
        for i in range(nct_e):
            for k in range(NQ):
                a[k, i] = 0.0
            lam = math.inf if cfg.m_phi <= 0.0 else pf / cfg.m_phi * ctau[i]
            psig = 0.0
            if need_psig:
                for r in range(msig):
                    psig += decay_probability(mg_s[r, 0], mg_s[r, 1], lam)
                a[Q_SIGNAL, i] = psig
            if invisible_mode(cfg.mode):
                if sel:
                    pveto = 0.0
                    for r in range(mveto):
                        pveto += decay_probability(mg_v[r, 0], mg_v[r, 1], lam)
                    a[Q_MAIN, i] = survival_outside(mg_v, mveto, lam)
                    a[Q_SIGNAL, i] = pveto  # selected pi+, but phi decays visibly: vetoed
                    if win >= 0:  # E949: the invisible acceptance per momentum window
                        a[Q_DAU + win, i] = a[Q_MAIN, i]
                else:
                    a[Q_SIGNAL, i] = 0.0
            elif cfg.mode == MODE_LHCB:
                a[Q_MAIN, i] = decay_probability(0.0, cfg.prompt_length, lam)
                if tracked:  # both daughters through the VELO: exact over their t intervals
                    for c in range(nd):
                        a[Q_DAU + c, i] = _prob_seen(seen, nseen, c, lam) if msig > 0 else 0.0
                else:
                    for c in range(nd):
                        if dok[c]:
                            a[Q_DAU + c, i] = psig
                if nd > 0 and dok[0]:  # prompt with channel-0 daughters in the eta range
                    a[Q_PROMPT_DAU, i] = a[Q_MAIN, i]
            else:  # MODE_CHARM: daughters to the calorimeter face, exact over their intervals
                for c in range(nd):
                    a[Q_DAU + c, i] = _prob_seen(seen, nseen, c, lam) if msig > 0 else 0.0
            for k in range(NQ):
                if a[k, i] != 0.0:
                    _acc(q, k, i, w, a[k, i])
            # decay-point distribution (untruncated exponential), weight w g
            if fill and (sel or cfg.mode == MODE_LHCB) and lam < math.inf:
                t = -lam * math.log1p(-uniform(rs))
                v = vz + t * uz if cfg.hist_var == HIST_Z else t
                b = _hist_bin(cfg, v, nbins)
                if b >= 0:
                    hist[i, 0, b] += w
                    hist[i, 1, b] += w * w
        # --- fine c tau grid for the plot's curve (cheap quantities only)
        for i in range(ncv if active else 0):
            lam = math.inf if cfg.m_phi <= 0.0 else pf / cfg.m_phi * ctau_curve[i]
            if invisible_mode(cfg.mode):
                if not sel:
                    continue
                v = survival_outside(mg_v, mveto, lam)
            elif cfg.mode == MODE_LHCB:
                v = decay_probability(0.0, cfg.prompt_length, lam)
            else:
                v = 0.0
                for r in range(msig):
                    v += decay_probability(mg_s[r, 0], mg_s[r, 1], lam)
            if v != 0.0:
                wv = w * v
                curve[0, i] += wv
                curve[1, i] += wv * wv
                curve[2, i] += w * wv
        if recorded:
            r_ = rec[g]
            r_[0], r_[1], r_[2], r_[3] = kx, ky, kz, ek
            r_[4], r_[5], r_[6] = vx, vy, vz
            r_[7], r_[8], r_[9], r_[10] = hx, hy, hz, d[3]
            r_[11], r_[12], r_[13], r_[14] = fx, fy, fz, fe
            r_[15], r_[16], r_[17], r_[18] = p_reco, m2, w, 1.0 if sel else 0.0
            if msig > 0:
                r_[19], r_[20] = mg_s[0, 0], mg_s[msig - 1, 1]
            if mveto > 0:
                r_[21], r_[22] = mg_v[0, 0], mg_v[mveto - 1, 1]
            r_[23] = s
            for i in range(nct_e):  # (rows of skipped events stay 0)
                rec_w[g, i] = w * a[Q_MAIN if cfg.mode != MODE_CHARM else Q_SIGNAL, i]


@njit(nogil=True, **_JIT)
def run_chunks(cfg: FlightConfig, seeds: np.ndarray, pseeds: np.ndarray, bank: np.ndarray,
               tab: np.ndarray, chunks: np.ndarray, ctau: np.ndarray,
               ctau_curve: np.ndarray, signal: np.ndarray, veto: np.ndarray,
               planes: np.ndarray, dau: np.ndarray, counts: np.ndarray, q: np.ndarray,
               curve: np.ndarray, hist: np.ndarray, rec: np.ndarray, rec_w: np.ndarray) -> None:
    """Simulate chunks ``chunks[k]`` with seeds ``seeds[k]``, one after the other, without the
    GIL (threads run disjoint slices: :func:`kotosim.engine.in_threads`); chunk k writes only
    its own accumulators ``counts[k]``, ``q[k]``, ... and its own event-sample rows.
    ``pseeds[k]``: the parents' stream of chunk k (``cfg.parent_stream``); ``bank[k]``: its
    parents drawn before by :func:`parent_bank` (shape (chunks.size, 0, NBANK): none, draw
    them here); ``tab``: the BMPT sampler's envelope table (:func:`sample_bmpt`)."""
    for k in range(chunks.size):
        _chunk(cfg, seeds[k], pseeds[k], bank[k], tab, chunks[k], ctau, ctau_curve, signal,
               veto, planes, dau, counts[k], q[k], curve[k], hist[k], rec, rec_w)


NBANK = 9  # columns of a parent bank: kx, ky, kz, |p|, flight s, weight w, vx, vy, vz


@njit(nogil=True, **_JIT)
def parent_bank(cfg: FlightConfig, pseeds: np.ndarray, chunks: np.ndarray,
                out: np.ndarray, tab: np.ndarray) -> None:
    """The parents of chunks ``chunks[k]`` drawn from their own streams ``pseeds[k]``, in the
    order :func:`_chunk` draws them: ``out[k, j]`` = :func:`parent_and_vertex` of event j
    (``tab``: the BMPT sampler's envelope table, as for :func:`run_chunks`)."""
    for k in range(chunks.size):
        rp = pseeds[k].copy()
        n = min(cfg.chunk_size, cfg.n_events - chunks[k] * cfg.chunk_size)
        for j in range(n):
            r = parent_and_vertex(rp, cfg, tab)
            for c in range(NBANK):
                out[k, j, c] = r[c]
