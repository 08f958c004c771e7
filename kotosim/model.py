"""Light CP-even scalar phi coupled like a Higgs boson: decays, production, lepton g-2.

Model (seed talk slides 32-35; Liu, McGinnis, Wagner, Wang, arXiv:2001.06522)::

    L_eff = eps_q sum_q (m_q/v) phi qbar q + eps_l sum_l (m_l/v) phi lbar l
            + eps_W (2 m_W^2 / v) phi W+ W-,      eps_W = eps_q  (seed slide 34-35)

Higgs-mixing model: eps_q = eps_l = sin(theta) (seed slide 32).  Type-X-like benchmark of the
seed: eps_l ~ 1 >> eps_q ~ 0.01 (seed slide 37).

Units (hepunits convention of kotosim): masses and widths in MeV, lifetimes in ns, lengths in
mm.  Couplings, branching ratios and Delta a are dimensionless.

Validity range: 0 < m_phi < 2 m_K+ (= 987.4 MeV).  Only e+e-, mu+mu-, gamma gamma and pi pi
decays are modelled; above the K Kbar threshold K Kbar, eta eta, 4 pi and the f0(980) region
would be needed, so ``ScalarModel`` refuses such masses.  Already above ~0.3 GeV the leading-
order chiral pi pi width is uncertain by a factor 2-4 (Winkler, arXiv:1809.01876; see the
``pipi`` option).  The production functions (``br_kl_pi0phi`` ... at module level) accept any
m_phi >= 0 and return 0 above the kinematic threshold.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
from scipy import integrate

from kotosim.constants import (
    ALPHA_EM,
    CKM_A,
    CKM_ETABAR,
    CKM_LAMBDA,
    CKM_RHOBAR,
    HBAR,
    HBAR_C,
    M_B0,
    M_BOTTOM,
    M_BPLUS,
    M_CHARM,
    M_DOWN,
    M_E,
    M_KL,
    M_KPLUS,
    M_KSTAR0,
    M_MU,
    M_PI0,
    M_PIPLUS,
    M_STRANGE,
    M_TAU,
    M_TOP,
    M_UP,
    M_W,
    TAU_B0,
    TAU_BPLUS,
    TAU_KL,
    TAU_KPLUS,
    V_HIGGS,
)

__all__ = [
    "GammaGammaHadrons", "PiPi", "KToPiNorm", "ScalarModel", "MASS_MAX", "DELTA_A_MU_SEED",
    "EPS_MAX", "EPS_MIN", "MASS_MIN",
    "loop_f", "a_half", "a_one", "g2_loop_integral", "delta_a_lepton", "ckm_matrix",
    "br_kl_pi0phi", "br_kplus_piplusphi", "br_b_kphi", "br_b0_kstar0phi",
    "eps_l_for_delta_a_mu", "eps_q_for_br_kl", "scan_table", "pipi_dispersive_ratio",
]

GammaGammaHadrons = Literal["quarks", "none", "constituent"]
"""How quarks/hadrons enter the phi -> gamma gamma loop.

* ``"quarks"`` (default): the literal formula of seed slide 37 / arXiv:2001.06522, a sum over
  all six quarks with their PDG masses (u, d, s current MSbar masses at 2 GeV, c and b MSbar,
  top pole).  With these masses u and d nearly decouple for m_phi >> m_u,d, which reproduces the
  "accidental cancellation" of the Higgs-mixing (dashed) curve of seed slide 37.  Caveat: quark
  loops with current masses are not a controlled description of hadronic effects below ~1 GeV.
* ``"none"``: leptons + W + heavy quarks (c, b, t) only; u, d, s (i.e. light hadron loops)
  omitted.
* ``"constituent"``: c, b, t as in "quarks", but u, d, s with typical constituent masses
  (330, 330, 500 MeV; order-of-magnitude values of the non-relativistic quark model, not a PDG
  fit).  An upper-side estimate of light-hadron loops.
"""

PiPi = Literal["chiral", "dispersive"]
"""Treatment of phi -> pi pi.

* ``"chiral"`` (default, the seed/inputs.md choice): leading-order chiral perturbation theory,
  Gamma = 3 eps_q^2 beta (2 m^2/9 + 11 m_pi^2/9)^2 / (32 pi v^2 m)  (Voloshin 1986; quoted in
  Winkler arXiv:1809.01876), split pi+pi- : pi0pi0 = 2 : 1 with thresholds 2 m_pi+ / 2 m_pi0.
* ``"dispersive"``: the chiral widths multiplied by R(m) = Gamma_Winkler / Gamma_chiral, where
  Gamma_Winkler is the dispersive pi pi width of Winkler (arXiv:1809.01876, Fig. of Gamma(S ->
  pi pi)) as digitised in the public scalar_portal code (JLTastet/scalar_portal,
  decay/winkler_pi.txt, companion of arXiv:1904.10447).  R is tabulated below at selected masses
  (rounded, linear interpolation); the digitisation is noisy (~10%) within ~10 MeV of threshold,
  where R is held at its first value (1.5).  This is a rescaling, not a dispersive calculation.
"""

KToPiNorm = Literal["seed", "f0", "abs_lambda_t", "im_lambda_t"]
"""Normalisation of the K -> pi phi amplitude g (seed slide 32; inputs.md section 1).

* ``"seed"`` (default): g = 3 m_K^2 eps_q/(32 pi^2 v^3) S, S = sum_{q=u,c,t} m_q^2 V*_qd V_qs;
  K_L uses (Re g)^2 (CP-conserving for CP-even phi), K+ uses |g|^2.
* ``"f0"``: as "seed" with m_K^2 replaced by (m_K^2 - m_pi^2) f0, f0 = 0.96 (inputs.md; the
  K -> pi scalar form factor at q^2 ~ 0, f0(0) = f+(0) ~ 0.97, FLAG).
* ``"abs_lambda_t"``: K_L uses |g|^2 (|S|, top dominated) instead of (Re g)^2.
* ``"im_lambda_t"``: K_L uses (Im g)^2 (Im S ~ m_t^2 Im lambda_t).
K+ always uses |g|^2; only the "f0" option changes it.
"""

_GG_CHOICES = get_args(GammaGammaHadrons)
_PIPI_CHOICES = get_args(PiPi)
_KPI_CHOICES = get_args(KToPiNorm)

#: Largest m_phi [MeV] the decay model covers: the K+ K- threshold (see module docstring).
MASS_MAX = 2.0 * M_KPLUS
#: Smallest m_phi [MeV] ``ScalarModel`` takes (1 eV): a numerical guard (the gamma gamma width
#: ~ m^3 would underflow for tiny masses and couplings).
MASS_MIN = 1e-6
#: Delta a_mu = a_mu(exp) - a_mu(SM) = (27.4 +- 7.3) x 10^-10 used by the seed (seed slide 16).
DELTA_A_MU_SEED = 27.4e-10
#: K -> pi scalar form factor used by the "f0" option (inputs.md section 1).
F0_KPI = 0.96

# Constituent quark masses [MeV] for gamma_gamma_hadrons="constituent": typical
# non-relativistic quark-model values (e.g. Griffiths, "Introduction to Elementary Particles",
# m_u ~ m_d ~ 336 MeV, m_s ~ 486-540 MeV); rounded, a model choice, not a measurement.
_M_CONSTITUENT_UD = 330.0
_M_CONSTITUENT_S = 500.0

# Ball-Zwicky light-cone sum-rule form factors (inputs.md section 1):
# B -> K f0(q^2) = r2/(1 - q^2/m_fit^2), r2 = 0.330, m_fit^2 = 37.46 GeV^2 (hep-ph/0406232);
# B -> K* A0(q^2) = r1/(1 - q^2/m_R^2) + r2/(1 - q^2/m_fit^2), r1 = 1.364, r2 = -0.990,
# m_R = m_B, m_fit^2 = 36.78 GeV^2 (hep-ph/0412079).
_BZ_F0_R2 = 0.330
_BZ_F0_MFIT2 = 37.46e6  # MeV^2
_BZ_A0_R1 = 1.364
_BZ_A0_R2 = -0.990
_BZ_A0_MFIT2 = 36.78e6  # MeV^2

# R(m) = Gamma_pipi(Winkler, arXiv:1809.01876, dispersive) / Gamma_pipi(LO chiral), computed by
# us from the digitised Winkler curve in JLTastet/scalar_portal decay/winkler_pi.txt divided by
# the isospin-weighted chiral width of this module (m in MeV).  Rounded to 2-3 digits.
_PIPI_RATIO_M = np.array([
    280.0, 285.0, 290.0, 300.0, 310.0, 325.0, 340.0, 360.0, 380.0, 400.0, 430.0, 460.0,
    500.0, 550.0, 600.0, 650.0, 700.0, 740.0, 780.0, 815.0, 850.0, 875.0, 900.0, 925.0,
    945.0, 962.0, 977.0, 988.0,
])
_PIPI_RATIO_R = np.array([
    1.50, 1.85, 2.08, 2.38, 2.55, 2.80, 2.99, 3.21, 3.42, 3.62, 3.87, 4.08,
    4.33, 4.40, 4.42, 4.42, 4.52, 4.69, 5.01, 5.47, 6.19, 7.10, 8.2, 10.6,
    12.6, 17.0, 21.6, 23.3,
])


# --------------------------------------------------------------------------------------------
# validation helpers: every ValueError message starts with "<parameter>: "
# --------------------------------------------------------------------------------------------
def _check_finite(name: str, value: float) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: must be a real number (got {value!r})") from None
    if not math.isfinite(x):
        raise ValueError(f"{name}: must be finite (got {value!r})")
    return x


#: Largest |eps_q|, |eps_l| accepted [dimensionless].  A numerical guard, far above the
#: perturbative range: eps y_f < 4 pi with y_f = sqrt(2) m_f / v needs |eps_q| < 12.6 (top)
#: and |eps_l| < 1230 (tau).
EPS_MAX = 1e4
#: Smallest non-zero |eps| accepted: below it every width underflows towards 0 (c tau beyond
#: ~1e60 m; give 0 for an uncoupled sector, or c tau = inf for a stable phi).
EPS_MIN = 1e-30


def _check_coupling(name: str, value: float) -> float:
    """A coupling modifier: finite, 0 or EPS_MIN <= |eps| <= EPS_MAX."""
    x = _check_finite(name, value)
    if x != 0.0 and not EPS_MIN <= abs(x) <= EPS_MAX:
        raise ValueError(f"{name}: must be 0 or {EPS_MIN:g} <= |{name}| <= {EPS_MAX:g} "
                         f"(got {x:g})")
    return x


def _check_mass(mass: float, *, allow_zero: bool = False, upper: float | None = None) -> float:
    m = _check_finite("mass", mass)
    if m < 0.0 or (m == 0.0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"mass: m_phi must be {bound} MeV (got {m:g} MeV)")
    if upper is not None and m < MASS_MIN:
        raise ValueError(f"mass: m_phi must be >= {MASS_MIN:g} MeV (1 eV; below, the widths "
                         f"underflow) (got {m:g} MeV)")
    if upper is not None and m >= upper:
        raise ValueError(
            f"mass: m_phi must be < {upper:.1f} MeV (2 m_K+, the K Kbar threshold: the decay "
            f"model has only ee, mumu, gammagamma, pipi) (got {m:g} MeV)"
        )
    return m


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name}: must be one of {', '.join(choices)} (got {value!r})")
    return value


def _check_options(options: dict[str, str]) -> None:
    allowed = {"gamma_gamma_hadrons", "pipi", "k_to_pi_norm"}
    for key in options:
        if key not in allowed:
            raise ValueError(f"{key}: unknown option (allowed: {', '.join(sorted(allowed))})")


# --------------------------------------------------------------------------------------------
# loop functions (inputs.md section 1; Djouadi, Phys. Rept. 457 (2008) 1, hep-ph/0503172)
# --------------------------------------------------------------------------------------------
def loop_f(tau: float) -> complex:
    """f(tau) of the h -> gamma gamma loops, tau = m_phi^2 / (4 m_loop^2) (dimensionless).

    f = arcsin^2(sqrt(tau)) for tau <= 1;
    f = -1/4 [ln((1 + sqrt(1 - 1/tau)) / (1 - sqrt(1 - 1/tau))) - i pi]^2 for tau > 1
    (inputs.md section 1; hep-ph/0503172 eq. 2.22).
    """
    if tau < 0.0:
        raise ValueError(f"tau: must be >= 0 (got {tau:g})")
    if tau <= 1.0:
        return complex(math.asin(math.sqrt(tau)) ** 2, 0.0)
    x = 1.0 / tau
    s = math.sqrt(1.0 - x)
    # 1 - sqrt(1 - x) = x / (1 + sqrt(1 - x)) avoids cancellation for large tau
    log = math.log((1.0 + s) * (1.0 + s) / x)
    return -0.25 * (complex(log, -math.pi)) ** 2


def a_half(tau: float) -> complex:
    """Spin-1/2 loop amplitude A_1/2(tau) = 2 [tau + (tau - 1) f(tau)] / tau^2 (-> 4/3 as tau->0).

    inputs.md section 1 / hep-ph/0503172 eq. 2.21.  For tau < 1e-3 the Taylor series
    4/3 + 14 tau/45 + 8 tau^2/63 + 104 tau^3/1575 (derived from the arcsin^2 series) avoids the
    cancellation of the closed form.
    """
    if tau < 1e-3:
        return complex(4.0 / 3.0 + tau * (14.0 / 45.0 + tau * (8.0 / 63.0 + tau * 104.0 / 1575.0)))
    return 2.0 * (tau + (tau - 1.0) * loop_f(tau)) / tau**2


def a_one(tau: float) -> complex:
    """Spin-1 (W) loop amplitude A_1(tau) = -[2 tau^2 + 3 tau + 3 (2 tau - 1) f(tau)] / tau^2.

    Tends to -7 as tau -> 0 (inputs.md section 1; hep-ph/0503172 eq. 2.21).  Series for
    tau < 1e-3: -7 - 22 tau/15 - 76 tau^2/105 (derived from the arcsin^2 series).
    """
    if tau < 1e-3:
        return complex(-7.0 - tau * (22.0 / 15.0 + tau * 76.0 / 105.0))
    return -(2.0 * tau**2 + 3.0 * tau + 3.0 * (2.0 * tau - 1.0) * loop_f(tau)) / tau**2


# --------------------------------------------------------------------------------------------
# g - 2
# --------------------------------------------------------------------------------------------
def g2_loop_integral(r: float) -> float:
    """I(r) = int_0^1 dx (1-x)^2 (1+x) / ((1-x)^2 + x r^2), r = m_phi / m_lepton (seed slide 19).

    Limits: I -> 3/2 for r -> 0; I -> (ln r^2 - 7/6) / r^2 for r >> 1.
    """
    r = _check_finite("r", r)
    if r < 0.0:
        raise ValueError(f"r: must be >= 0 (got {r:g})")
    r2 = r * r

    def integrand(x: float) -> float:
        return (1.0 - x) ** 2 * (1.0 + x) / ((1.0 - x) ** 2 + x * r2)

    # for r >> 1 the integrand falls from ~1 to ~1/r^2 around x ~ 1/r^2: tell quad
    points = [1.0 / r2] if r2 > 2.0 else None
    val, _err = integrate.quad(integrand, 0.0, 1.0, points=points, epsabs=0.0, epsrel=1e-11,
                               limit=200)
    return float(val)


def delta_a_lepton(mass: float, eps_l: float, m_lepton: float) -> float:
    """One-loop Delta a_l = g^2/(8 pi^2) I(m_phi/m_l), g = eps_l m_l / v (seed slide 19, 35).

    mass, m_lepton in MeV.  CP-even scalar: positive for any eps_l.
    """
    g = _check_coupling("eps_l", eps_l) * m_lepton / V_HIGGS
    return g * g / (8.0 * math.pi**2) * g2_loop_integral(mass / m_lepton)


# --------------------------------------------------------------------------------------------
# CKM and meson decays
# --------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def ckm_matrix() -> np.ndarray:
    """3x3 complex CKM matrix (rows u, c, t; columns d, s, b), exactly unitary, read-only
    (computed once).

    Standard parametrisation built from the PDG 2024 Wolfenstein fit (constants.CKM_*) with
    s12 = lambda, s23 = A lambda^2, s13 e^{i delta} = A lambda^3 (rhobar + i etabar)
    sqrt(1 - A^2 lambda^4) / (sqrt(1 - lambda^2) [1 - A^2 lambda^4 (rhobar + i etabar)])
    (PDG 2024 CKM review, eqs. 12.3 and 12.4).
    """
    lam, a = CKM_LAMBDA, CKM_A
    rho_eta = complex(CKM_RHOBAR, CKM_ETABAR)
    s12 = lam
    s23 = a * lam**2
    s13e = (a * lam**3 * rho_eta * math.sqrt(1.0 - a**2 * lam**4)
            / (math.sqrt(1.0 - lam**2) * (1.0 - a**2 * lam**4 * rho_eta)))
    s13 = abs(s13e)
    phase = s13e / s13  # e^{+i delta}
    c12, c23, c13 = (math.sqrt(1.0 - s**2) for s in (s12, s23, s13))
    em = phase.conjugate()  # e^{-i delta}
    v = np.array([
        [c12 * c13, s12 * c13, s13 * em],
        [-s12 * c23 - c12 * s23 * s13 * phase, c12 * c23 - s12 * s23 * s13 * phase, s23 * c13],
        [s12 * s23 - c12 * c23 * s13 * phase, -c12 * s23 - s12 * c23 * s13 * phase, c23 * c13],
    ], dtype=complex)
    v.flags.writeable = False
    return v


def _kallen(a: float, b: float, c: float) -> float:
    """Kallen function lambda(a, b, c) = a^2 + b^2 + c^2 - 2ab - 2ac - 2bc (squared masses)."""
    return a * a + b * b + c * c - 2.0 * (a * b + a * c + b * c)


def _sqrt_kallen(m_parent: float, m1: float, m2: float) -> float:
    """lambda^(1/2)(M^2, m1^2, m2^2) [MeV^2]; 0 at or above threshold m1 + m2 >= M."""
    if m1 + m2 >= m_parent:
        return 0.0
    return math.sqrt(max(_kallen(m_parent**2, m1**2, m2**2), 0.0))


def _kaon_ckm_sum() -> complex:
    """S = sum_{q=u,c,t} m_q^2 V*_qd V_qs [MeV^2] (seed slide 32); top gives ~96%."""
    v = ckm_matrix()
    return sum(m**2 * v[i, 0].conjugate() * v[i, 1]
               for i, m in enumerate((M_UP, M_CHARM, M_TOP)))


def _kaon_g(m_k: float, m_pi: float, eps_q: float, norm: str) -> complex:
    """K -> pi phi amplitude g [MeV] (seed slide 32): 3 m_K^2 eps_q S / (32 pi^2 v^3)."""
    m2 = (m_k**2 - m_pi**2) * F0_KPI if norm == "f0" else m_k**2
    return 3.0 * m2 * eps_q * _kaon_ckm_sum() / (32.0 * math.pi**2 * V_HIGGS**3)


def br_kl_pi0phi(mass: float, eps_q: float = 1.0, k_to_pi_norm: KToPiNorm = "seed") -> float:
    """BR(K_L -> pi0 phi) (seed slide 32).

    Gamma = X^2 lambda^(1/2)(m_K^2, m_pi^2, m^2) / (16 pi m_K^3),
    X = Re g ("seed", "f0"), |g| ("abs_lambda_t"), Im g ("im_lambda_t").  Divided by the K_L
    width hbar/tau_KL (PDG).  mass [MeV] >= 0; returns 0 for m_phi >= m_KL - m_pi0.
    """
    m = _check_mass(mass, allow_zero=True)
    eps = _check_coupling("eps_q", eps_q)
    norm = _check_choice("k_to_pi_norm", k_to_pi_norm, _KPI_CHOICES)
    lam = _sqrt_kallen(M_KL, M_PI0, m)
    if lam == 0.0:
        return 0.0
    g = _kaon_g(M_KL, M_PI0, eps, norm)
    x = {"abs_lambda_t": abs(g), "im_lambda_t": g.imag}.get(norm, g.real)
    width = x * x * lam / (16.0 * math.pi * M_KL**3)
    return width / (HBAR / TAU_KL)


def br_kplus_piplusphi(mass: float, eps_q: float = 1.0,
                       k_to_pi_norm: KToPiNorm = "seed") -> float:
    """BR(K+ -> pi+ phi) with |g|^2 and the K+ width hbar/tau_K+ (seed slide 32, inputs.md).

    mass [MeV] >= 0; 0 for m_phi >= m_K+ - m_pi+.  Only the "f0" option changes the result.
    """
    m = _check_mass(mass, allow_zero=True)
    eps = _check_coupling("eps_q", eps_q)
    norm = _check_choice("k_to_pi_norm", k_to_pi_norm, _KPI_CHOICES)
    lam = _sqrt_kallen(M_KPLUS, M_PIPLUS, m)
    if lam == 0.0:
        return 0.0
    g = _kaon_g(M_KPLUS, M_PIPLUS, eps, norm)
    width = abs(g) ** 2 * lam / (16.0 * math.pi * M_KPLUS**3)
    return width / (HBAR / TAU_KPLUS)


def _b_coupling() -> complex:
    """C = 3 m_t^2 V*_ts V_tb / (32 pi^2 v^3) [MeV^-1] (inputs.md section 1)."""
    v = ckm_matrix()
    return 3.0 * M_TOP**2 * v[2, 1].conjugate() * v[2, 2] / (32.0 * math.pi**2 * V_HIGGS**3)


def br_b_kphi(mass: float, eps_q: float = 1.0) -> float:
    """BR(B+ -> K+ phi) with the Ball-Zwicky f0 (inputs.md section 1, hep-ph/0406232).

    Gamma = eps_q^2 |C|^2 (m_B^2 - m_K^2)^2 f0(m^2)^2 lambda^(1/2) / (16 pi m_B^3), divided by
    hbar/tau_B+ (PDG).  mass [MeV] >= 0; 0 above m_B+ - m_K+.
    """
    m = _check_mass(mass, allow_zero=True)
    eps = _check_coupling("eps_q", eps_q)
    lam = _sqrt_kallen(M_BPLUS, M_KPLUS, m)
    if lam == 0.0:
        return 0.0
    f0 = _BZ_F0_R2 / (1.0 - m**2 / _BZ_F0_MFIT2)
    width = (eps**2 * abs(_b_coupling()) ** 2 * (M_BPLUS**2 - M_KPLUS**2) ** 2 * f0**2 * lam
             / (16.0 * math.pi * M_BPLUS**3))
    return width / (HBAR / TAU_BPLUS)


def br_b0_kstar0phi(mass: float, eps_q: float = 1.0) -> float:
    """BR(B0 -> K*0 phi) with the Ball-Zwicky A0 (inputs.md section 1, hep-ph/0412079).

    Gamma = eps_q^2 |C|^2 A0(m^2)^2 lambda^(3/2)(m_B^2, m_K*^2, m^2) / (16 pi m_B^3), divided by
    hbar/tau_B0 (PDG).  mass [MeV] >= 0; 0 above m_B0 - m_K*0.
    """
    m = _check_mass(mass, allow_zero=True)
    eps = _check_coupling("eps_q", eps_q)
    lam = _sqrt_kallen(M_B0, M_KSTAR0, m)
    if lam == 0.0:
        return 0.0
    q2 = m**2
    a0 = _BZ_A0_R1 / (1.0 - q2 / M_B0**2) + _BZ_A0_R2 / (1.0 - q2 / _BZ_A0_MFIT2)
    width = eps**2 * abs(_b_coupling()) ** 2 * a0**2 * lam**3 / (16.0 * math.pi * M_B0**3)
    return width / (HBAR / TAU_B0)


def pipi_dispersive_ratio(mass: float) -> float:
    """R(m) = Gamma_pipi(Winkler dispersive) / Gamma_pipi(LO chiral), see ``PiPi`` (mass in MeV).

    Linear interpolation of the tabulated ratio; held constant below 280 MeV (digitisation
    starts there) and above 988 MeV.
    """
    return float(np.interp(mass, _PIPI_RATIO_M, _PIPI_RATIO_R))


# --------------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScalarModel:
    """Light scalar phi with Higgs-like couplings scaled by eps_q (quarks, W) and eps_l (leptons).

    Parameters
    ----------
    mass
        m_phi in MeV, 0 < m_phi < MASS_MAX (= 2 m_K+ = 987.4 MeV).
    eps_q, eps_l
        Coupling modifiers relative to the SM Higgs (seed slide 34); eps_W = eps_q.  0 or
        EPS_MIN <= |eps| <= EPS_MAX (1e-30 ... 1e4); the sign matters for gamma gamma
        interference; not both zero.
    gamma_gamma_hadrons, pipi, k_to_pi_norm
        Treatment options, see ``GammaGammaHadrons``, ``PiPi``, ``KToPiNorm``.  Defaults are the
        seed talk's choices ("quarks", "chiral", "seed").

    All widths in MeV, ``tau`` in ns, ``ctau`` in mm.
    """

    mass: float
    eps_q: float
    eps_l: float
    gamma_gamma_hadrons: GammaGammaHadrons = "quarks"
    pipi: PiPi = "chiral"
    k_to_pi_norm: KToPiNorm = "seed"

    def __post_init__(self) -> None:
        object.__setattr__(self, "mass", _check_mass(self.mass, upper=MASS_MAX))
        object.__setattr__(self, "eps_q", _check_coupling("eps_q", self.eps_q))
        object.__setattr__(self, "eps_l", _check_coupling("eps_l", self.eps_l))
        if self.eps_q == 0.0 and self.eps_l == 0.0:
            raise ValueError("eps_q: eps_q and eps_l cannot both be 0 (phi would be stable)")
        _check_choice("gamma_gamma_hadrons", self.gamma_gamma_hadrons, _GG_CHOICES)
        _check_choice("pipi", self.pipi, _PIPI_CHOICES)
        _check_choice("k_to_pi_norm", self.k_to_pi_norm, _KPI_CHOICES)

    @classmethod
    def higgs_mixing(cls, mass: float, sin_theta: float, **options: str) -> ScalarModel:
        """Higgs-mixing model eps_q = eps_l = eps_W = sin(theta) (seed slide 32), |sin| <= 1."""
        s = _check_finite("sin_theta", sin_theta)
        if not EPS_MIN <= abs(s) <= 1.0:
            raise ValueError(f"sin_theta: must satisfy {EPS_MIN:g} <= |sin_theta| <= 1 "
                             f"(got {s:g})")
        _check_options(options)
        return cls(mass, s, s, **options)

    # ---- couplings ------------------------------------------------------------------------
    @property
    def eps_w(self) -> float:
        """phi W W coupling modifier; eps_W = eps_q (seed slides 34-35, large tan beta)."""
        return self.eps_q

    # ---- partial widths [MeV] -------------------------------------------------------------
    def _width_ll(self, m_l: float) -> float:
        # Gamma(phi -> l l) = eps_l^2 m_l^2 m beta^3 / (8 pi v^2) (seed slide 37; inputs.md)
        if self.mass <= 2.0 * m_l:
            return 0.0
        beta = math.sqrt(1.0 - 4.0 * m_l**2 / self.mass**2)
        return self.eps_l**2 * m_l**2 * self.mass * beta**3 / (8.0 * math.pi * V_HIGGS**2)

    @property
    def width_ee(self) -> float:
        """Gamma(phi -> e+ e-) [MeV]; 0 below 2 m_e."""
        return self._width_ll(M_E)

    @property
    def width_mumu(self) -> float:
        """Gamma(phi -> mu+ mu-) [MeV]; 0 below 2 m_mu."""
        return self._width_ll(M_MU)

    def gammagamma_amplitude(self) -> complex:
        """Sum_f N_c Q_f^2 eps_f A_1/2(tau_f) + eps_W A_1(tau_W) (inputs.md section 1)."""
        m2 = self.mass**2

        def tau(m_loop: float) -> float:
            return m2 / (4.0 * m_loop**2)

        amp = sum(self.eps_l * a_half(tau(m)) for m in (M_E, M_MU, M_TAU))
        heavy = ((M_CHARM, 2.0 / 3.0), (M_BOTTOM, -1.0 / 3.0), (M_TOP, 2.0 / 3.0))
        if self.gamma_gamma_hadrons == "quarks":
            light = ((M_UP, 2.0 / 3.0), (M_DOWN, -1.0 / 3.0), (M_STRANGE, -1.0 / 3.0))
        elif self.gamma_gamma_hadrons == "constituent":
            light = ((_M_CONSTITUENT_UD, 2.0 / 3.0), (_M_CONSTITUENT_UD, -1.0 / 3.0),
                     (_M_CONSTITUENT_S, -1.0 / 3.0))
        else:  # "none"
            light = ()
        amp += sum(self.eps_q * 3.0 * q**2 * a_half(tau(m)) for m, q in light + heavy)
        amp += self.eps_w * a_one(tau(M_W))
        return complex(amp)

    @property
    def width_gammagamma(self) -> float:
        """Gamma(phi -> gamma gamma) [MeV].

        alpha^2 m^3 / (256 pi^3 v^2) |sum_f N_c Q_f^2 eps_f A_1/2 + eps_W A_1|^2 (inputs.md).
        Identical to seed slide 37, alpha^2 m^3/(1024 pi^3) |sum_q 6 eps_q Q^2 A/v + sum_l
        2 eps_l A/v + 2 eps_W A_1/v|^2: pulling out 2/v gives 4/1024 = 1/256 and 6/2 = N_c.
        """
        return (ALPHA_EM**2 * self.mass**3 / (256.0 * math.pi**3 * V_HIGGS**2)
                * abs(self.gammagamma_amplitude()) ** 2)

    def _width_pipi_chiral(self, m_pi: float) -> float:
        # LO chiral total pi pi width evaluated with pion mass m_pi (Voloshin 1986;
        # arXiv:1809.01876; inputs.md): 3 eps_q^2 beta (2m^2/9 + 11 m_pi^2/9)^2 / (32 pi v^2 m)
        if self.mass <= 2.0 * m_pi:
            return 0.0
        beta = math.sqrt(1.0 - 4.0 * m_pi**2 / self.mass**2)
        ff = 2.0 * self.mass**2 / 9.0 + 11.0 * m_pi**2 / 9.0
        w = 3.0 * self.eps_q**2 * beta * ff**2 / (32.0 * math.pi * V_HIGGS**2 * self.mass)
        if self.pipi == "dispersive":
            w *= pipi_dispersive_ratio(self.mass)
        return w

    @property
    def width_pipluspiminus(self) -> float:
        """Gamma(phi -> pi+ pi-) [MeV] = 2/3 of the isospin-symmetric width; 0 below 2 m_pi+."""
        return 2.0 / 3.0 * self._width_pipi_chiral(M_PIPLUS)

    @property
    def width_pi0pi0(self) -> float:
        """Gamma(phi -> pi0 pi0) [MeV] = 1/3 of the isospin-symmetric width; 0 below 2 m_pi0."""
        return 1.0 / 3.0 * self._width_pipi_chiral(M_PI0)

    @property
    def width_pipi(self) -> float:
        """Gamma(phi -> pi pi) = Gamma(pi+ pi-) + Gamma(pi0 pi0) [MeV]."""
        return self.width_pipluspiminus + self.width_pi0pi0

    @property
    def total_width(self) -> float:
        """Total width [MeV]: ee + mumu + gammagamma + pipi."""
        return self.width_ee + self.width_mumu + self.width_gammagamma + self.width_pipi

    @property
    def tau(self) -> float:
        """Proper lifetime [ns] = hbar / Gamma."""
        return HBAR / self.total_width

    @property
    def ctau(self) -> float:
        """Proper decay length c tau [mm] = hbar c / Gamma."""
        return HBAR_C / self.total_width

    @property
    def branching_ratios(self) -> dict[str, float]:
        """Decay BRs: keys "ee", "mumu", "gammagamma", "pipi", "pi+pi-", "pi0pi0"."""
        w = {"ee": self.width_ee, "mumu": self.width_mumu, "gammagamma": self.width_gammagamma,
             "pi+pi-": self.width_pipluspiminus, "pi0pi0": self.width_pi0pi0}
        tot = sum(w.values())
        br = {k: val / tot for k, val in w.items()}
        br["pipi"] = br["pi+pi-"] + br["pi0pi0"]
        return {k: br[k] for k in ("ee", "mumu", "gammagamma", "pipi", "pi+pi-", "pi0pi0")}

    # ---- production -----------------------------------------------------------------------
    @property
    def br_kl_pi0phi(self) -> float:
        """BR(K_L -> pi0 phi), see module function ``br_kl_pi0phi``."""
        return br_kl_pi0phi(self.mass, self.eps_q, self.k_to_pi_norm)

    @property
    def br_kplus_piplusphi(self) -> float:
        """BR(K+ -> pi+ phi), see module function ``br_kplus_piplusphi``."""
        return br_kplus_piplusphi(self.mass, self.eps_q, self.k_to_pi_norm)

    @property
    def br_b_kphi(self) -> float:
        """BR(B+ -> K+ phi), see module function ``br_b_kphi``."""
        return br_b_kphi(self.mass, self.eps_q)

    @property
    def br_b0_kstar0phi(self) -> float:
        """BR(B0 -> K*0 phi), see module function ``br_b0_kstar0phi``."""
        return br_b0_kstar0phi(self.mass, self.eps_q)

    # ---- g - 2 ----------------------------------------------------------------------------
    @property
    def delta_a_e(self) -> float:
        """One-loop Delta a_e from phi (seed slide 19), g = eps_l m_e / v."""
        return delta_a_lepton(self.mass, self.eps_l, M_E)

    @property
    def delta_a_mu(self) -> float:
        """One-loop Delta a_mu from phi (seed slide 19), g = eps_l m_mu / v."""
        return delta_a_lepton(self.mass, self.eps_l, M_MU)


# --------------------------------------------------------------------------------------------
# solvers and scans
# --------------------------------------------------------------------------------------------
def eps_l_for_delta_a_mu(mass: float, target: float = DELTA_A_MU_SEED) -> float:
    """eps_l >= 0 such that Delta a_mu(m_phi) = target (closed form, Delta a ~ eps_l^2).

    Default target: (27.4 +- 7.3) x 10^-10, seed slide 16.  mass in MeV (> 0).
    """
    m = _check_mass(mass)
    t = _check_finite("target", target)
    if t <= 0.0:
        raise ValueError(f"target: Delta a_mu target must be > 0 for a CP-even scalar (got {t:g})")
    eps_l = math.sqrt(t / delta_a_lepton(m, 1.0, M_MU))
    if eps_l > EPS_MAX:
        raise ValueError(f"target: Delta a_mu = {t:g} needs eps_l = {eps_l:.3g} > {EPS_MAX:g}"
                         f" at m_phi = {m:g} MeV")
    return eps_l


def eps_q_for_br_kl(mass: float, target_br: float, **options: str) -> float:
    """eps_q >= 0 such that BR(K_L -> pi0 phi) = target_br (closed form, BR ~ eps_q^2).

    mass in MeV (>= 0, below m_KL - m_pi0).  Options as for ``ScalarModel`` (only
    ``k_to_pi_norm`` matters).
    """
    _check_options(options)
    t = _check_finite("target_br", target_br)
    if not 0.0 < t < 1.0:
        raise ValueError(f"target_br: must satisfy 0 < target_br < 1 (got {t:g})")
    norm = options.get("k_to_pi_norm", "seed")
    br1 = br_kl_pi0phi(mass, 1.0, norm)  # validates mass and norm
    if br1 == 0.0:
        raise ValueError(
            f"mass: K_L -> pi0 phi is closed or vanishes for m_phi = {float(mass):g} MeV "
            f"(threshold m_KL - m_pi0 = {M_KL - M_PI0:.1f} MeV)"
        )
    eps_q = math.sqrt(t / br1)
    if eps_q > EPS_MAX:
        raise ValueError(f"target_br: BR = {t:g} needs eps_q = {eps_q:.3g} > {EPS_MAX:g} at "
                         f"m_phi = {float(mass):g} MeV")
    return eps_q


SCAN_FIELDS: tuple[str, ...] = (
    "mass", "width_ee", "width_mumu", "width_gammagamma", "width_pipluspiminus", "width_pi0pi0",
    "width_pipi", "total_width", "tau", "ctau", "br_ee", "br_mumu", "br_gammagamma", "br_pipi",
    "br_kl_pi0phi", "br_kplus_piplusphi", "br_b_kphi", "br_b0_kstar0phi", "delta_a_e",
    "delta_a_mu",
)


def scan_table(masses: Iterable[float], eps_q: float, eps_l: float, *,
               with_g2: bool = True, **options: str) -> np.ndarray:
    """Numpy structured array, one row per mass, with fields ``SCAN_FIELDS``.

    Units: mass and widths in MeV, tau in ns, ctau in mm; the rest dimensionless.  For the
    Higgs-mixing model pass eps_q = eps_l = sin(theta).  ``with_g2=False`` skips the (slower)
    g-2 integrals and fills NaN.
    """
    _check_options(options)
    ms = np.atleast_1d(np.asarray(list(masses) if not isinstance(masses, np.ndarray) else masses,
                                  dtype=float))
    out = np.zeros(ms.size, dtype=[(f, "f8") for f in SCAN_FIELDS])
    for i, m in enumerate(ms):
        mod = ScalarModel(float(m), eps_q, eps_l, **options)
        br = mod.branching_ratios
        row = {
            "mass": mod.mass, "width_ee": mod.width_ee, "width_mumu": mod.width_mumu,
            "width_gammagamma": mod.width_gammagamma,
            "width_pipluspiminus": mod.width_pipluspiminus, "width_pi0pi0": mod.width_pi0pi0,
            "width_pipi": mod.width_pipi, "total_width": mod.total_width, "tau": mod.tau,
            "ctau": mod.ctau, "br_ee": br["ee"], "br_mumu": br["mumu"],
            "br_gammagamma": br["gammagamma"], "br_pipi": br["pipi"],
            "br_kl_pi0phi": mod.br_kl_pi0phi, "br_kplus_piplusphi": mod.br_kplus_piplusphi,
            "br_b_kphi": mod.br_b_kphi, "br_b0_kstar0phi": mod.br_b0_kstar0phi,
            "delta_a_e": mod.delta_a_e if with_g2 else math.nan,
            "delta_a_mu": mod.delta_a_mu if with_g2 else math.nan,
        }
        for k, val in row.items():
            out[k][i] = val
    return out
