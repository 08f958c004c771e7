"""HepMC3 output of the event sample, for detector simulation (Geant4, DD4hep's ``ddsim``).

:func:`write_hepmc` writes one ``GenEvent`` per event of ``Result.sample`` (units MeV and mm)
with the parent, its decay products and their decays as a HepMC3 graph, and the sample's signal
weight for every cτ as a named event weight. It needs the optional package ``pyhepmc``
(``pip install 'kotosim[hepmc]'``).

Record conventions (read from the fields of the awkward sample, so new particles flow through)
-----------------------------------------------------------------------------------------
* particle: every field with vector's ``Momentum4D`` behaviour (px, py, pz, E [MeV]).
* ``parent``: the decaying initial particle. Without it (KOTO) the initial particle is the sum
  of the primary products (the decay conserves four-momentum), of the experiment's species.
* ``vertex`` (x, y, z [mm]): the parent's decay point, where the primary products start.
* ``parent_flight`` [mm] (optional): the parent's path from its production point to ``vertex``;
  it fixes the time origin t = 0 at the parent's production. Without it t = 0 at ``vertex``.
* mother of a particle field ``<m>_<anything>``: the particle field ``<m>`` (longest match;
  e.g. ``phi_e1`` is a daughter of ``phi``, ``x_g1`` of ``x``); the KOTO photons ``g1``, ``g2``
  are the π⁰'s; every other particle is a primary product of the parent.
* ``<m>_vertex`` (x, y, z [and t], mm): the decay point of particle ``<m>``, where its
  daughters start. Without it they start where ``<m>`` was produced, which is accepted only for
  a prompt mother (PDG cτ < 1 µm: π⁰ → γγ, cτ = 25 nm). The time of a decay point is the
  production time plus flight / β = flight × E/|p| (mm/c).
* ``<name>_pdg`` (integer, optional): the PDG id of particle ``<name>`` event by event (e.g.
  daughters that are e⁺e⁻ in one event and γγ in another).
* a particle whose E is not finite or ≤ 0 in an event is absent from that event; a particle with
  no daughter present is final (status 1) there.
* ``weight`` (events × cτ): the signal weight for each cτ of ``Result.ctau``.
* every other numeric per-event field becomes an event attribute of the same name (nested
  records joined with ``_``), so events can be selected as in the ROOT ``events`` tree;
  the event number is the entry of that tree.

Before anything is written, four-momentum is checked at every decay and every non-prompt decay
must have a finite decay point: a sample whose daughters do not follow the naming above is
refused with a message saying so.

Species: the parent and its two-body products from the experiment (KOTO: K_L → π⁰ φ, π⁰ → γγ;
NA62: K⁺ → π⁺ φ; LHCb: B⁰ → K*⁰ φ; CHARM: the main parent of the run), φ as :data:`PHI_PDG`,
other particles from ``<name>_pdg`` or identified by their mass among γ, e, μ, π⁰, π±, K_L, K±,
K*⁰, B⁰, B± (PDG masses from the ``particle`` package). Two charged daughters of the same kind
are written particle first, antiparticle second (e⁻ e⁺, μ⁻ μ⁺, π⁺ π⁻): φ is a neutral scalar
decaying isotropically, so the assignment does not change any distribution.

Status codes (HepMC3 conventions, Buckley et al., arXiv:1912.08005): 4 for the parent
(an incoming particle whose production is not simulated), 2 for a particle decayed here, 1 for
a final one. The parent has no production vertex: HepMC3 3.2's ASCII reader does not read back
a vertex without incoming particles, and DD4hep starts the simulation at the end vertex of a
parent-less particle (DDG4/hepmc/HepMC3EventReader.cpp, readParticles).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .io import atomic_path
from .result import Result

__all__ = ["PHI_PDG", "HepMCError", "write_hepmc", "require_pyhepmc", "check_output"]

#: PDG code written for φ: 54, the spin-0 (scalar) mediator of the PDG Monte Carlo numbering
#: scheme (PDG review "Monte Carlo particle numbering scheme", revised 2019: 51-53 dark-matter
#: particles, 54 and 55 scalar and vector mediators), also used by Pythia 8 for the scalar
#: mediator whose couplings to fermions are sin(mixing) times the Higgs couplings
#: (pythia.org/latest-manual/DarkMatterProcesses.html). Not 25, the Standard Model Higgs, which
#: simulation chains treat as such (DD4hep's ddsim drops PDG 25 by default, RejectPDGs).
PHI_PDG = 54

INSTALL_HINT = "pip install 'kotosim[hepmc]' (or pip install 'pyhepmc>=2.13')"
SUFFIXES = (".hepmc3", ".hepmc")
PROMPT_CTAU = 1e-3  # mm: a mother without a <name>_vertex field must decay within 1 um

# the KOTO photons are the pi0's daughters (names kept from the sample)
_MOTHER_ALIAS = {"g1": "pi0", "g2": "pi0"}
# species of named fields, per experiment; "parent" is the initial particle
_SPECIES: dict[str, dict[str, int]] = {
    "koto": {"parent": 130, "pi0": 111, "g1": 22, "g2": 22},
    "na62": {"parent": 321, "h": 211},
    "lhcb": {"parent": 511, "h": 313},
}
# CHARM: the sample is the run's main parent (config "main_key" = decay_in_volume_<key>)
_CHARM = {"kplus": (321, 211), "kminus": (-321, -211), "kl": (130, 111),
          "bplus": (521, 321), "b0": (511, 313)}
_PHI_NAMES = ("phi", "x")
# identified by mass when a field has no known species
_CANDIDATES = (22, 11, 13, 111, 211, 130, 321, 313, 511, 521)


class HepMCError(ValueError):
    """An event sample or option that cannot be written as HepMC3 (one-line message)."""


def require_pyhepmc():
    """Import and return ``pyhepmc``; raise :class:`HepMCError` with the install line if it is
    missing."""
    try:
        import pyhepmc
    except ImportError:
        raise HepMCError(f"HepMC3 output needs pyhepmc, which is not installed: {INSTALL_HINT}"
                         ) from None
    return pyhepmc


def check_output(path: str | Path | None, sample_size: int) -> None:
    """Command-line checks of ``--hepmc PATH`` before a run (one-line :class:`HepMCError`)."""
    if path is None:
        return
    p = Path(path)
    if sample_size <= 0:
        raise HepMCError(f"--hepmc: needs an event sample: give --sample N with N >= 1 "
                         f"(got --sample {sample_size})")
    if p.suffix not in SUFFIXES:
        raise HepMCError(f"--hepmc: '{p}': must end in .hepmc3 or .hepmc")
    if p.is_dir():
        raise HepMCError(f"--hepmc: '{p}' is a directory")
    parent = next((q for q in p.absolute().parents if q.exists()), None)
    if parent is None or not parent.is_dir():
        raise HepMCError(f"--hepmc: '{p}': {parent} is not a directory")
    if not _writable(parent):
        raise HepMCError(f"--hepmc: '{p}': directory {parent} is not writable")
    require_pyhepmc()


def _writable(d: Path) -> bool:
    import os

    return os.access(d, os.W_OK | os.X_OK)


# ---------------------------------------------------------------------------- sample reading
def _record_name(arr) -> str | None:
    import awkward as ak

    return ak.parameters(arr).get("__record__")


def _np(x) -> np.ndarray:
    import awkward as ak

    if x.ndim == 1 and isinstance(ak.type(x).content, ak.types.OptionType):
        x = ak.fill_none(x, np.nan)
    return np.asarray(ak.to_numpy(x), dtype=np.float64)


def _four(arr) -> np.ndarray:
    """(N, 4) px, py, pz, E [MeV] of a Momentum4D field."""
    return np.stack([_np(arr.px), _np(arr.py), _np(arr.pz), _np(arr.E)], axis=1)


def _point(arr) -> tuple[np.ndarray, np.ndarray | None]:
    """(N, 3) x, y, z [mm] of a vertex record, and its t [mm] if it has one."""
    import awkward as ak

    xyz = np.stack([_np(arr["x"]), _np(arr["y"]), _np(arr["z"])], axis=1)
    return xyz, (_np(arr["t"]) if "t" in ak.fields(arr) else None)


def _mass2(p: np.ndarray) -> np.ndarray:
    return p[:, 3] ** 2 - (p[:, 0] ** 2 + p[:, 1] ** 2 + p[:, 2] ** 2)


def _charged(code: int) -> bool:
    from particle import Particle

    return Particle.from_pdgid(code).charge != 0


def _pdg_mass(code: int) -> float:
    from particle import Particle

    m = Particle.from_pdgid(abs(code)).mass
    return 0.0 if m is None else float(m)


def _ctau(code: int) -> float:
    """c tau [mm] from the ``particle`` package; inf for a code it does not know (phi)."""
    from particle import Particle
    from particle.particle import ParticleNotFound

    try:
        ct = Particle.from_pdgid(code).ctau
    except ParticleNotFound:
        return math.inf
    return math.inf if ct is None else float(ct)


def _mass_ok(p: np.ndarray, m: float, present: np.ndarray) -> np.ndarray:
    """Invariant mass of the four-vectors equal to m within float precision (per event)."""
    m2 = _mass2(p)
    tol = 1e-12 * p[:, 3] ** 2 + 1e-6 * m * m + 1e-12
    return ~present | (np.abs(m2 - m * m) <= tol)


def _identify(name: str, p: np.ndarray, present: np.ndarray) -> np.ndarray:
    """PDG id (unsigned) of particle ``name`` per event, from its invariant mass."""
    out = np.zeros(p.shape[0], dtype=np.int64)
    for code in _CANDIDATES:
        hit = present & (out == 0) & _mass_ok(p, _pdg_mass(code), np.ones_like(present))
        out[hit] = code
    bad = present & (out == 0)
    if np.any(bad):
        i = int(np.argmax(bad))
        m = math.sqrt(max(_mass2(p[i:i + 1])[0], 0.0))
        raise HepMCError(f"particle '{name}': mass {m:.6g} MeV (event {i}) matches no known "
                         f"species; add an integer field '{name}_pdg' or pass pdg={{'{name}': "
                         "code}")
    return out


class _Sample:
    """The particles, their decay tree, vertices and PDG ids of an event sample."""

    def __init__(self, result: Result, pdg: Mapping[str, int] | None, phi_pdg: int):
        import awkward as ak
        import vector

        vector.register_awkward()
        s = result.sample
        fields = list(ak.fields(s))
        self.n = len(s)
        self.names = [f for f in fields if _record_name(s[f]) == "Momentum4D"]
        if not self.names:
            raise HepMCError("the event sample has no particle (vector Momentum4D) fields")
        self.p = {f: _four(s[f]) for f in self.names}
        self.present = {f: np.isfinite(self.p[f]).all(axis=1) & (self.p[f][:, 3] > 0)
                        for f in self.names}
        # decay tree: mother of every particle field; "parent" is the root
        self.mother: dict[str, str] = {}
        for d in self.names:
            if d == "parent":
                continue
            m = _MOTHER_ALIAS.get(d)
            if m not in self.names:
                pre = [c for c in self.names if c not in (d, "parent") and d.startswith(c + "_")]
                m = max(pre, key=len) if pre else "parent"
            self.mother[d] = m
        self.children = {m: [d for d in self.names if self.mother.get(d) == m]
                         for m in ["parent", *self.names]}
        if "parent" not in self.names:
            roots = self.children["parent"]
            if not roots:
                raise HepMCError("the event sample has neither a 'parent' field nor its products")
            self.p["parent"] = sum(np.where(self.present[r][:, None], self.p[r], 0.0)
                                   for r in roots)
            self.present["parent"] = np.ones(self.n, dtype=bool)
        # vertices: the parent's decay point, and <m>_vertex for particle m
        if "vertex" not in fields:
            raise HepMCError("the event sample has no 'vertex' field (the parent's decay point)")
        self.vertex = {"parent": _point(s["vertex"])}
        for m in self.names:
            if f"{m}_vertex" in fields:
                self.vertex[m] = _point(s[f"{m}_vertex"])
        p0 = self.p["parent"]
        if "parent_flight" in fields:
            beta_inv = p0[:, 3] / np.linalg.norm(p0[:, :3], axis=1)
            self.t0 = _np(s["parent_flight"]) * beta_inv
            self.t_origin = "t = 0 at the parent's production point"
        else:
            self.t0 = np.zeros(self.n)
            self.t_origin = "t = 0 at the parent's decay point (its flight is not recorded)"
        self.pdg = self._species(result, fields, dict(pdg or {}), phi_pdg)
        if "weight" not in fields:
            raise HepMCError("the event sample has no 'weight' field (signal weight per ctau)")
        w = np.asarray(ak.to_numpy(s["weight"]), dtype=np.float64)
        self.weights = w.reshape(self.n, -1)
        used = set(self.names) | {"vertex", "weight"} | {f"{m}_vertex" for m in self.names} \
            | {f"{m}_pdg" for m in self.names}
        self.attributes: dict[str, np.ndarray] = {}
        for f in fields:
            if f not in used:
                self._flatten(s[f], f)

    def _flatten(self, arr, name: str) -> None:
        import awkward as ak

        if ak.fields(arr):
            for sub in ak.fields(arr):
                self._flatten(arr[sub], f"{name}_{sub}")
            return
        try:
            v = ak.to_numpy(arr)
        except (ValueError, TypeError):
            return  # not a flat numeric column
        if v.ndim == 1 and v.dtype.kind in "iufb":
            self.attributes[re.sub(r"\s+", "_", name)] = v

    def _species(self, result: Result, fields: list[str], override: dict[str, int],
                 phi_pdg: int) -> dict[str, np.ndarray]:
        import awkward as ak

        table = dict(_SPECIES.get(result.experiment, {}))
        if result.experiment == "charm":
            key = str(result.config.get("main_key", "")).removeprefix("decay_in_volume_")
            if key in _CHARM:
                table["parent"], table["h"] = _CHARM[key]
        for nm in _PHI_NAMES:
            table[nm] = phi_pdg
        out: dict[str, np.ndarray] = {}
        n = self.n
        for name in ["parent", *[f for f in self.names if f != "parent"]]:
            p, present = self.p[name], self.present[name]
            if name in override:
                code = np.full(n, int(override[name]), dtype=np.int64)
            elif f"{name}_pdg" in fields:
                code = np.asarray(ak.to_numpy(result.sample[f"{name}_pdg"]), dtype=np.int64)
            elif name in table:
                code = np.full(n, table[name], dtype=np.int64)
                m = result.mass if table[name] == phi_pdg else _pdg_mass(table[name])
                bad = ~_mass_ok(p, m, present)
                if np.any(bad):
                    i = int(np.argmax(bad))
                    raise HepMCError(
                        f"particle '{name}' of the {result.experiment} sample: mass "
                        f"{math.sqrt(max(_mass2(p[i:i + 1])[0], 0.0)):.6g} MeV (event {i}) is "
                        f"not that of PDG id {table[name]} ({m:.6g} MeV); pass pdg={{'{name}': "
                        "code}")
            elif name == "parent":
                raise HepMCError(f"no parent species known for experiment "
                                 f"'{result.experiment}'; pass pdg={{'parent': code}}")
            else:
                code = _identify(name, p, present)
            out[name] = code
        # charged pairs among siblings: particle first, antiparticle second
        charged = [c for c in _CANDIDATES if _charged(c)]
        for kids in self.children.values():
            seen: list[np.ndarray] = []
            for d in kids:
                if d in override or f"{d}_pdg" in fields or d in table:
                    continue
                c = out[d]
                nprev = sum(((s == c).astype(int) for s in seen), np.zeros(n, dtype=int))
                seen.append(c)
                out[d] = np.where(np.isin(c, charged) & (nprev % 2 == 1), -c, c)
        return out

    # ------------------------------------------------------------------------ checks
    def check(self) -> None:
        """Four-momentum conserved at every decay (relative 1e-7 of the mother's energy) and a
        finite decay point for every decay (given unless the mother is prompt)."""
        for m, kids in self.children.items():
            if not kids:
                continue
            any_kid = np.zeros(self.n, dtype=bool)
            tot = np.zeros((self.n, 4))
            for d in kids:
                any_kid |= self.present[d]
                tot += np.where(self.present[d][:, None], self.p[d], 0.0)
            act = any_kid & self.present[m]
            diff = np.abs(tot - self.p[m]).max(axis=1)
            bad = act & ~(diff <= 1e-7 * self.p[m][:, 3] + 1e-9)
            if np.any(bad):
                i = int(np.argmax(bad))
                raise HepMCError(
                    f"four-momentum not conserved at the decay of '{m}' into "
                    f"{', '.join(kids)} (event {i}, off by {diff[i]:.3g} MeV): the daughters "
                    "of a particle P are the fields named 'P_<name>' (e.g. phi_e1), one decay "
                    "per event (absent ones with E = nan); other particles are the parent's")
            if m == "parent" or m in self.vertex:
                xyz = self.vertex[m][0]
            else:  # no decay point given: only a prompt decay (pi0, c tau = 25 nm) is right
                slow = [int(c) for c in np.unique(np.abs(self.pdg[m][act]))
                        if _ctau(int(c)) >= PROMPT_CTAU]
                if slow:
                    raise HepMCError(
                        f"particle '{m}' (PDG {slow[0]}) decays in the sample but there is no "
                        f"'{m}_vertex' field (its decay point x, y, z in mm); only particles "
                        f"with c*tau < {PROMPT_CTAU * 1e3:g} um decay where they are produced")
                continue
            nan = act & ~np.isfinite(xyz).all(axis=1)
            if np.any(nan):
                i = int(np.argmax(nan))
                name = "vertex" if m == "parent" else f"{m}_vertex"
                raise HepMCError(f"'{name}' is not finite in event {i} although '{m}' has "
                                 "daughters there")


# ---------------------------------------------------------------------------- writing
def _weight_names(ctau: np.ndarray) -> list[str]:
    """'ctau=15mm', 'ctau=inf', ...: HepMC3 splits names at blanks, so none has a blank."""
    for digits in (6, 10, 17):
        names = ["ctau=inf" if not math.isfinite(c) else f"ctau={c:.{digits}g}mm"
                 for c in ctau]
        if len(set(names)) == len(names):
            return names
    return [f"ctau[{i}]={c!r}mm" for i, c in enumerate(ctau)]


def write_hepmc(result: Result, path: str | Path, ctau_index: int | None = None, *,
                pdg: Mapping[str, int] | None = None, phi_pdg: int = PHI_PDG) -> Path:
    """Write the event sample of ``result`` to a HepMC3 ASCII file at ``path`` (atomically).

    One ``GenEvent`` per sampled event, numbered as the entries of the ROOT ``events`` tree;
    units MeV and mm (times in mm/c). Event weights: the signal weight for every cτ of
    ``result.ctau``, named ``ctau=<value>mm`` (``ctau=inf`` for a stable φ) in the run info; with
    ``ctau_index`` only that cτ's weight. Events of zero weight are kept. ``pdg`` overrides the
    PDG id of named particle fields (``{"parent": 130}``); ``phi_pdg`` is the code written for
    φ (default :data:`PHI_PDG`). Conventions: see the module documentation.

    Raises :class:`HepMCError` (a ``ValueError``) for a result without a usable sample, a bad
    ``ctau_index`` or a missing ``pyhepmc``.
    """
    if result.sample is None or len(result.sample) == 0:
        raise HepMCError("the result has no event sample: simulate with sample_size >= 1 "
                         "(command line: --sample N)")
    nct = len(result.ctau)
    if ctau_index is not None and not (isinstance(ctau_index, (int, np.integer))
                                       and 0 <= ctau_index < nct):
        raise HepMCError(f"ctau_index: {ctau_index!r}: allowed 0..{nct - 1}")
    hp = require_pyhepmc()
    smp = _Sample(result, pdg, int(phi_pdg))
    if smp.weights.shape[1] != nct:
        raise HepMCError(f"the sample has {smp.weights.shape[1]} weights per event but the "
                         f"result {nct} ctau values")
    smp.check()
    cols = list(range(nct)) if ctau_index is None else [int(ctau_index)]
    names = _weight_names(np.asarray(result.ctau, dtype=float))
    run = _run_info(hp, result, smp, [names[c] for c in cols], phi_pdg)
    with atomic_path(path) as tmp:
        with hp.open(tmp, "w") as f:
            for i in range(smp.n):
                f.write(_event(hp, run, smp, i, cols))
    return Path(path)


def _run_info(hp, result: Result, smp: _Sample, weight_names: list[str], phi_pdg: int):
    from . import __version__

    run = hp.GenRunInfo()
    run.tools = [hp.GenRunInfo.ToolInfo("kotosim", __version__,
                                        "light scalar phi acceptance simulation")]
    run.weight_names = weight_names
    attrs: dict[str, Any] = {
        "experiment": result.experiment, "variant": result.variant or "default",
        "phi_mass_MeV": float(result.mass), "phi_pdg_id": int(phi_pdg),
        "seed": int(result.seed), "events_generated": int(result.n_events),
        "time_origin": smp.t_origin,
        "weights": "signal weight of the event for each ctau (the kotosim sample's weight)",
    }
    for k, v in attrs.items():
        run.attributes[k] = v
    return run


def _generated_mass(code: int, p: np.ndarray) -> float:
    if code == 22:
        return 0.0
    return math.sqrt(max(float(p[3] ** 2 - p[0] ** 2 - p[1] ** 2 - p[2] ** 2), 0.0))


def _event(hp, run, smp: _Sample, i: int, cols: list[int]):
    evt = hp.GenEvent(run, hp.Units.MEV, hp.Units.MM)
    evt.event_number = i
    made: dict[str, Any] = {}

    def particle(name: str, status: int):
        p = smp.p[name][i]
        code = int(smp.pdg[name][i])
        gp = hp.GenParticle(hp.FourVector(*p.tolist()), code, status)
        gp.generated_mass = _generated_mass(code, p)
        made[name] = gp
        return gp

    def decay(name: str, gp, prod: np.ndarray) -> None:
        """Attach the decay vertex of particle ``name`` (produced at ``prod`` = x, y, z, t)."""
        kids = [d for d in smp.children[name] if smp.present[d][i]]
        if not kids:
            return
        if name == "parent":
            xyz, t = smp.vertex["parent"]
            pos = np.array([*xyz[i], smp.t0[i] if t is None else t[i]])
        elif name in smp.vertex:
            xyz, t = smp.vertex[name]
            if t is not None:
                pos = np.array([*xyz[i], t[i]])
            else:
                p = smp.p[name][i]
                flight = float(np.linalg.norm(xyz[i] - prod[:3]))
                pos = np.array([*xyz[i], prod[3] + flight * p[3] / np.linalg.norm(p[:3])])
        else:
            pos = prod  # prompt decay
        v = hp.GenVertex(hp.FourVector(*pos.tolist()))
        evt.add_vertex(v)
        v.add_particle_in(gp)
        for d in kids:
            grand = any(smp.present[g][i] for g in smp.children[d])
            gd = particle(d, 2 if grand else 1)
            v.add_particle_out(gd)
            decay(d, gd, pos)

    root = particle("parent", 4)
    evt.add_particle(root)
    decay("parent", root, np.full(4, np.nan))
    evt.weights = [float(smp.weights[i, c]) for c in cols]
    for k, v in smp.attributes.items():
        x = v[i]
        evt.attributes[k] = int(x) if v.dtype.kind in "iub" else float(x)
    return evt
