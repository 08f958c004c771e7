"""Physical constants in kotosim's unit system (hepunits: MeV, mm, ns).

Masses and lifetimes come from the PDG via the ``particle`` package, never typed by hand.
Constants the ``particle`` package does not provide cite their source next to them.
"""

from __future__ import annotations

from hepunits import constants as _hc
from particle import Particle

__all__ = [
    "M_KL", "M_KPLUS", "M_PI0", "M_PIPLUS", "M_B0", "M_BPLUS", "M_KSTAR0", "M_E", "M_MU",
    "M_W", "M_TOP", "CTAU_KL", "CTAU_KPLUS", "CTAU_B0", "CTAU_BPLUS", "TAU_KL", "TAU_KPLUS",
    "HBAR_C", "HBAR", "ALPHA_EM", "C_LIGHT", "V_HIGGS", "M_TAU",
]


def _mass(pdgid: int) -> float:
    """PDG mass of ``pdgid`` in MeV."""
    m = Particle.from_pdgid(pdgid).mass
    if m is None:  # pragma: no cover - PDG table always has these
        raise ValueError(f"no PDG mass for {pdgid}")
    return float(m)


def _ctau(pdgid: int) -> float:
    """PDG proper decay length c*tau of ``pdgid`` in mm."""
    return float(Particle.from_pdgid(pdgid).ctau)


def _tau(pdgid: int) -> float:
    """PDG lifetime of ``pdgid`` in ns."""
    return float(Particle.from_pdgid(pdgid).lifetime)


M_KL = _mass(130)        # K_L^0
M_KPLUS = _mass(321)     # K^+
M_PI0 = _mass(111)       # pi^0
M_PIPLUS = _mass(211)    # pi^+
M_B0 = _mass(511)        # B^0
M_BPLUS = _mass(521)     # B^+
M_KSTAR0 = _mass(313)    # K^*(892)^0
M_E = _mass(11)
M_MU = _mass(13)
M_TAU = _mass(15)
M_W = _mass(24)
M_TOP = _mass(6)
CTAU_KL = _ctau(130)     # mm (PDG: 15.34 m)
CTAU_KPLUS = _ctau(321)  # mm (PDG: 3.711 m)
CTAU_B0 = _ctau(511)     # mm
CTAU_BPLUS = _ctau(521)  # mm
TAU_KL = _tau(130)       # ns
TAU_KPLUS = _tau(321)    # ns

HBAR_C = float(_hc.hbarc)            # MeV*mm (CODATA, via hepunits)
HBAR = float(_hc.hbar)               # MeV*ns
C_LIGHT = float(_hc.c_light)         # mm/ns
# alpha(0) = 1/137.035999177, CODATA 2022 recommended value (hepunits has no alpha).
ALPHA_EM = 1.0 / 137.035999177
# Higgs vacuum expectation value v = (sqrt(2) G_F)^(-1/2) = 246.22 GeV
# (PDG 2024, G_F from mu decay);
# inputs.md section 1.
V_HIGGS = 246.22e3  # MeV

# --- Appended for kotosim.model (light-scalar model, issue 3) -----------------------------------
# Quark masses (PDG, via the ``particle`` package): u, d, s are MSbar masses at mu = 2 GeV,
# c and b are MSbar m_q(m_q); the top mass is the direct-measurement (pole-like) mass M_TOP above.
M_UP = _mass(2)
M_DOWN = _mass(1)
M_STRANGE = _mass(3)
M_CHARM = _mass(4)
M_BOTTOM = _mass(5)
TAU_B0 = _tau(511)       # ns (particle package: 1.511 ps)
TAU_BPLUS = _tau(521)    # ns (particle package: 1.637 ps)
# CKM matrix, Wolfenstein parameters of the PDG 2024 global fit (PDG 2024 review
# "CKM quark-mixing matrix", Ceccucci, Ligeti, Sakai, eq. 12.27):
# lambda = 0.22501 +- 0.00068, A = 0.826 +0.016 -0.015, rhobar = 0.1591 +- 0.0094,
# etabar = 0.3523 +0.0073 -0.0071.
CKM_LAMBDA = 0.22501
CKM_A = 0.826
CKM_RHOBAR = 0.1591
CKM_ETABAR = 0.3523

__all__ += [
    "M_UP", "M_DOWN", "M_STRANGE", "M_CHARM", "M_BOTTOM", "TAU_B0", "TAU_BPLUS",
    "CKM_LAMBDA", "CKM_A", "CKM_RHOBAR", "CKM_ETABAR",
]
