"""Published results as data: one TOML file per result in ``kotosim/constraints/data/`` (shipped
in the wheel with the limit tables it uses), loaded and validated like geometry files.

A constraint file names the experiment (its geometry), the recast method, the numbers of the
publication (each ``{ value, unit, source }``), the confidence level and the source (arXiv).
Methods (how the simulation is used, see :mod:`kotosim.reach`):

* ``koto_events``: BR(K_L -> pi0 phi) x A(pi0 phi, c tau)/A(pi0 nu nubar) / SES expected events
  vs the Poisson upper limit from the observed events (``limit_method``); optional ``[band]``.
* ``stable_limit_scaled``: BR(K+ -> pi+ phi) x A(m, c tau)/A(m, c tau_ref) vs the published
  UL(m, tau_ref), tau_ref = stable (``reference = "stable"``: a stable-X table, or the tau = inf
  rows of an (m, tau) grid) or ``numbers.reference_tau``.
* ``expected_events``: simulated expected events vs ``numbers.events_limit``.
* ``displaced_limit_scaled``: BR(B -> K(*) phi) BR(phi -> mu mu) A(c tau)/A(c tau_ref) vs the
  published UL(m, tau_ref).
* ``prompt_window``: BR(B0 -> K*0 phi) BR(phi -> ee) A(c tau)/A(0) vs the measurement minus SM.

Bad files raise :class:`ConstraintError` (a ``ValueError``) with one line naming the file and
the key. Units inside: MeV, ns (hepunits); BRs and event counts are dimensionless.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType

import numpy as np
from scipy import optimize, special

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["ConstraintError", "Constraint", "LimitTable", "METHODS", "available_constraints",
           "load_constraint", "poisson_upper_limit", "poisson_interval"]


class ConstraintError(ValueError):
    """A constraint file is invalid (the message names the file and the key)."""


# unit -> (dimension, factor to internal units: MeV, ns)
_UNITS = {"1": ("1", 1.0), "MeV": ("energy", 1.0), "GeV": ("energy", 1e3),
          "ns": ("time", 1.0), "ps": ("time", 1e-3)}

# method -> (required strings, required numbers {key: (dimension, lo, hi)}, optional numbers)
_COMMON = {"cl": ("1", 0.5, 0.9999)}
METHODS: dict[str, tuple[tuple[str, ...], dict[str, tuple[str, float, float]],
                         dict[str, tuple[str, float, float]]]] = {
    "koto_events": (("variant", "fallback_variant", "limit_method"),
                    {"ses": ("1", 1e-15, 1.0), "observed": ("1", 0, 1e6),
                     "background": ("1", 0.0, 1e6), "published_ul": ("1", 0.0, 1.0)},
                    {"published_ul_x135": ("1", 0.0, 1.0)}),
    "stable_limit_scaled": (("table", "table_columns", "reference"), {},
                            {"reference_tau": ("time", 1e-9, 1e9)}),
    "expected_events": ((), {"events_limit": ("1", 1e-6, 1e6)}, {}),
    "displaced_limit_scaled": (("table", "table_columns", "channel"),
                               {"reference_tau": ("time", 1e-9, 1e9)}, {}),
    "prompt_window": (("channel",),
                      {"measured": ("1", 0.0, 1.0), "measured_error_up": ("1", 0.0, 1.0),
                       "sm": ("1", 0.0, 1.0), "sm_error": ("1", 0.0, 1.0),
                       "m_min": ("energy", 0.0, 1e6), "m_max": ("energy", 0.0, 1e6)}, {}),
}
_LIMIT_METHODS = ("poisson_no_background", "poisson")
_BAND_KEYS = ("central", "lo68", "hi68", "lo95", "hi95")
_CHANNELS = ("b0_kstar0", "bplus_kplus")


@dataclass(frozen=True)
class LimitTable:
    """A published limit table: UL(m) for a stable X, or UL(m, tau) on a grid.

    ``masses`` [MeV] (sorted, distinct), ``taus`` [ns] (sorted, empty for a stable-X table;
    a grid may end with ``inf``, the curve published for a stable X), ``ul`` of shape
    (n_mass,) or (n_mass, n_tau), NaN where nothing was published.
    """

    path: str
    masses: np.ndarray
    taus: np.ndarray
    ul: np.ndarray

    @property
    def has_stable(self) -> bool:
        """True if the table has a limit for a stable X (a stable-X table, or a grid with a
        tau = inf column)."""
        return self.taus.size == 0 or bool(np.isinf(self.taus[-1]))

    def at(self, mass: float | np.ndarray, tau: float | None = None) -> np.ndarray:
        """UL at ``mass`` [MeV] (and ``tau`` [ns] for a grid; ``inf`` for a stable X): linear
        in log(UL) between the table's points (log tau for the lifetime); NaN outside the
        table or where a neighbouring point has no limit (no extrapolation, no bridging of
        gaps, none between the longest finite lifetime and a stable X)."""
        m = np.asarray(mass, dtype=float)
        if self.taus.size == 0:
            col = self.ul
        elif tau is None:
            raise ValueError(f"{self.path}: a lifetime is needed for this (m, tau) table")
        elif math.isinf(tau):
            if not self.has_stable:
                raise ValueError(f"{self.path}: no limit for a stable X (tau = inf) in this "
                                 "table")
            col = self.ul[:, -1]
        else:
            fin = np.isfinite(self.taus)
            col = _interp_log(np.log(self.taus[fin]), np.log(tau), self.ul[:, fin].T)
        return _interp_log(self.masses, m, col)


def _interp_log(x: np.ndarray, xq, y: np.ndarray) -> np.ndarray:
    """Interpolate log(y) linearly in x along the first axis of ``y``; NaN outside or next to
    a NaN."""
    xq = np.asarray(xq, dtype=float)
    scalar = xq.ndim == 0
    xq = np.atleast_1d(xq)
    with np.errstate(divide="ignore", invalid="ignore"):
        ly = np.log(y)
    j = np.searchsorted(x, xq, side="right") - 1
    out = np.full((xq.size,) + y.shape[1:], np.nan)
    for k, (jj, q) in enumerate(zip(j, xq, strict=True)):
        if jj < 0 or q > x[-1]:
            continue
        if q == x[jj]:
            out[k] = np.exp(ly[jj])
            continue
        t = (q - x[jj]) / (x[jj + 1] - x[jj])
        out[k] = np.exp((1 - t) * ly[jj] + t * ly[jj + 1])
    return out[0] if scalar else out


@dataclass(frozen=True)
class Constraint:
    """A validated published result (see the module docstring for the methods).

    ``numbers`` in internal units (MeV, ns; the rest dimensionless), ``sources`` their
    citations, ``band`` the favoured BR range (``central``, ``lo68``, ``hi68``, ``lo95``,
    ``hi95``) if the file has one, ``table`` the limit table if the method uses one.
    """

    name: str
    path: str
    experiment: str
    method: str
    title: str
    source: str
    strings: Mapping[str, str]
    numbers: Mapping[str, float]
    sources: Mapping[str, str] = field(repr=False)
    band: Mapping[str, float] | None = None
    table: LimitTable | None = field(default=None, repr=False)

    @property
    def cl(self) -> float:
        return self.numbers["cl"]

    @property
    def reference_tau(self) -> float:
        """Reference lifetime [ns] of a scaled limit (``inf`` for a stable-X reference)."""
        if self.strings.get("reference") == "stable":
            return math.inf
        return self.numbers["reference_tau"]

    def event_limit(self) -> float:
        """Upper limit on the signal events (``koto_events``, ``expected_events``)."""
        if self.method == "expected_events":
            return self.numbers["events_limit"]
        b = 0.0 if self.strings["limit_method"] == "poisson_no_background" else \
            self.numbers["background"]
        return poisson_upper_limit(int(self.numbers["observed"]), b, self.cl)

    def br_limit(self) -> float:
        """``koto_events``: the BR upper limit = event limit x SES. ``prompt_window``: the
        largest new-physics BR the measurement allows (measured - SM + z sigma)."""
        if self.method == "koto_events":
            return self.event_limit() * self.numbers["ses"]
        if self.method == "prompt_window":
            n = self.numbers
            z = float(special.ndtri(self.cl))
            return n["measured"] - n["sm"] + z * math.hypot(n["measured_error_up"], n["sm_error"])
        raise ValueError(f"{self.name}: no single BR limit for method {self.method}")


def poisson_upper_limit(observed: int, background: float, cl: float) -> float:
    """Classical Poisson upper limit on the signal mean s: P(n <= observed | s + b) = 1 - cl,
    i.e. s = Q^{-1}(n + 1, 1 - cl) - b (regularised upper incomplete gamma), not below 0.
    observed = 0, b = 0, cl = 0.9: 2.303."""
    mu = float(special.gammainccinv(observed + 1, 1.0 - cl))
    return max(mu - background, 0.0)


def poisson_interval(observed: int, background: float, cl: float) -> tuple[float, float]:
    """Likelihood-ratio interval on the signal mean s >= 0 of Poisson(n | s + b):
    -2 ln L(s)/L(s_hat) <= chi2_1 quantile of ``cl`` (1.0 for 68.3%, 3.84 for 95%)."""
    from scipy.stats import chi2

    n, b = int(observed), float(background)
    s_hat = max(n - b, 0.0)
    q = float(chi2.ppf(cl, 1))

    def nll(s: float) -> float:
        mu = s + b
        if n == 0:
            return mu
        return mu - n * math.log(mu) if mu > 0 else math.inf

    f = lambda s: 2.0 * (nll(s) - nll(s_hat)) - q  # noqa: E731
    floor = 0.0 if b > 0 or n == 0 else 1e-12 * s_hat  # ln L diverges at s = b = 0
    lo = 0.0 if f(floor) <= 0 else optimize.brentq(f, floor, s_hat)
    hi = optimize.brentq(f, s_hat, s_hat + 10.0 * (n + 5))
    return lo, hi


# ----------------------------------------------------------------------------------- loading
def _data_dir():
    return resources.files("kotosim.constraints").joinpath("data")


def available_constraints() -> list[str]:
    """Names of the constraint files shipped with kotosim."""
    return sorted(p.name[:-5] for p in _data_dir().iterdir() if p.name.endswith(".toml"))


def _number(path: str, key: str, entry: object, spec: tuple[str, float, float]) -> tuple:
    dim, lo, hi = spec
    if not isinstance(entry, Mapping) or "value" not in entry or "unit" not in entry:
        raise ConstraintError(f"{path}: key '{key}': expected a table {{ value = ..., unit = "
                              f"\"...\", source = \"...\" }}, got {entry!r}")
    value, unit = entry["value"], entry["unit"]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConstraintError(f"{path}: key '{key}': value must be a number, got {value!r}")
    if unit not in _UNITS or _UNITS[unit][0] != dim:
        allowed = ", ".join(u for u, (d, _) in _UNITS.items() if d == dim)
        raise ConstraintError(f"{path}: key '{key}': unit {unit!r} not allowed (allowed: "
                              f"{allowed})")
    x = float(value) * _UNITS[unit][1]
    if not (math.isfinite(x) and lo <= x <= hi):
        f = _UNITS[unit][1]
        raise ConstraintError(f"{path}: key '{key}' = {value:g} {unit} is out of range: "
                              f"allowed [{lo / f:g}, {hi / f:g}] {unit}")
    if not str(entry.get("source", "")).strip():
        raise ConstraintError(f"{path}: key '{key}': a source is required")
    return x, str(entry["source"])


def _load_table(path: str, fname: str, columns: str, base) -> LimitTable:
    cols = [c.strip() for c in columns.split(",")]
    if cols not in (["mass", "ul"], ["mass", "tau", "ul"]):
        raise ConstraintError(f"{path}: key 'table_columns' = {columns!r}: allowed 'mass,ul' or "
                              "'mass,tau,ul'")
    if "/" in fname or "\\" in fname:
        raise ConstraintError(f"{path}: key 'table' = {fname!r}: give a file name next to the "
                              "constraint file")
    tp = base.joinpath(fname)
    if not tp.is_file():
        raise ConstraintError(f"{path}: key 'table': file {fname!r} not found")
    try:
        with tp.open("rb") as fh:
            raw = fh.read()
        if fname.endswith(".gz"):
            import gzip

            raw = gzip.decompress(raw)
        lines = [ln for ln in raw.decode().splitlines() if ln.strip() and not ln.startswith("#")]
        arr = np.loadtxt(lines, delimiter=",", ndmin=2)
    except (OSError, ValueError, EOFError) as exc:
        raise ConstraintError(f"{path}: key 'table': {fname} is not a readable CSV table "
                              f"({str(exc).splitlines()[0]})") from None
    if arr.size == 0 or arr.shape[1] != len(cols):
        raise ConstraintError(f"{path}: key 'table': {fname} must have {len(cols)} columns "
                              f"({columns}), found {arr.shape[1] if arr.size else 0}")
    m, ul = arr[:, 0], arr[:, -1]
    if not np.all(np.isfinite(m)) or np.any(m < 0):
        raise ConstraintError(f"{path}: key 'table': {fname}: masses must be finite and >= 0")
    bad = np.isfinite(ul) & ((ul <= 0) | (ul > 1))
    if np.any(bad) or np.any(np.isinf(ul)):
        raise ConstraintError(f"{path}: key 'table': {fname}: limits must be in (0, 1] or nan")
    masses = np.unique(m)
    if len(cols) == 2:
        if masses.size != m.size:
            raise ConstraintError(f"{path}: key 'table': {fname}: a mass appears twice")
        order = np.argsort(m)
        return LimitTable(fname, m[order], np.zeros(0), ul[order])
    tau_ps = arr[:, 1]
    if np.any(np.isnan(tau_ps)) or np.any(tau_ps <= 0):
        raise ConstraintError(f"{path}: key 'table': {fname}: lifetimes must be > 0 "
                              "(inf: a stable X)")
    taus = np.unique(tau_ps)
    grid = np.full((masses.size, taus.size), np.nan)
    grid[np.searchsorted(masses, m), np.searchsorted(taus, tau_ps)] = ul
    return LimitTable(fname, masses, taus * 1e-3, grid)  # ps -> ns


def load_constraint(name_or_path: str | Path) -> Constraint:
    """Load and validate a constraint: a shipped name (``"na62_2016_2022"``) or a path to a
    TOML file (its limit table, if any, must sit next to it)."""
    s = str(name_or_path)
    if s.endswith(".toml") or "/" in s:
        p = Path(s)
        if not p.is_file():
            raise ConstraintError(f"{s}: constraint file not found")
        path, text, base = s, p.read_text(), p.resolve().parent
    else:
        shipped = available_constraints()
        if s not in shipped:
            raise ConstraintError(f"constraint '{s}' is unknown: allowed {', '.join(shipped)} "
                                  "or a path to a .toml file")
        path, base = f"constraints/{s}.toml", _data_dir()
        text = base.joinpath(f"{s}.toml").read_text()
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConstraintError(f"{path}: not valid TOML: {exc}") from None
    method = raw.get("method")
    if method not in METHODS:
        raise ConstraintError(f"{path}: key 'method' = {method!r}: allowed {', '.join(METHODS)}")
    strs, req, opt = METHODS[method]
    top = {"name", "experiment", "method", "title", "source", "numbers", "band", *strs}
    unknown = sorted(set(raw) - top)
    if unknown:
        raise ConstraintError(f"{path}: key '{unknown[0]}' is not known for method '{method}'")
    for key in ("name", "experiment", "title", "source", *strs):
        if not isinstance(raw.get(key), str):
            raise ConstraintError(f"{path}: key '{key}' is missing (a string)")
    for key in ("name", "experiment", "title", "source"):
        if not raw[key].strip():
            raise ConstraintError(f"{path}: key '{key}' must not be empty")
    strings = {k: raw[k] for k in strs}
    if method == "koto_events" and strings["limit_method"] not in _LIMIT_METHODS:
        raise ConstraintError(f"{path}: key 'limit_method' = {strings['limit_method']!r}: "
                              f"allowed {', '.join(_LIMIT_METHODS)}")
    if "channel" in strings and strings["channel"] not in _CHANNELS:
        raise ConstraintError(f"{path}: key 'channel' = {strings['channel']!r}: allowed "
                              f"{', '.join(_CHANNELS)}")
    if method == "stable_limit_scaled" and strings["reference"] not in ("stable", "lifetime"):
        raise ConstraintError(f"{path}: key 'reference' = {strings['reference']!r}: allowed "
                              "stable, lifetime")
    nums_raw = raw.get("numbers", {})
    if not isinstance(nums_raw, Mapping):
        raise ConstraintError(f"{path}: key 'numbers': expected a table [numbers]")
    specs = _COMMON | req | opt
    if method == "stable_limit_scaled" and strings["reference"] == "lifetime":
        req = req | {"reference_tau": opt["reference_tau"]}
    unknown = sorted(set(nums_raw) - set(specs))
    if unknown:
        raise ConstraintError(f"{path}: key 'numbers.{unknown[0]}' is not known for method "
                              f"'{method}'")
    numbers, sources = {}, {}
    for key, spec in specs.items():
        if key not in nums_raw:
            if key in req or key in _COMMON:
                raise ConstraintError(f"{path}: key 'numbers.{key}' is missing")
            continue
        numbers[key], sources[key] = _number(path, f"numbers.{key}", nums_raw[key], spec)
    if "observed" in numbers and not float(numbers["observed"]).is_integer():
        raise ConstraintError(f"{path}: key 'numbers.observed' must be a whole number")
    if method == "prompt_window" and not numbers["m_min"] < numbers["m_max"]:
        raise ConstraintError(f"{path}: key 'numbers.m_max' must be larger than 'numbers.m_min'")
    band = None
    if "band" in raw:
        if method != "koto_events" or not isinstance(raw["band"], Mapping):
            raise ConstraintError(f"{path}: key 'band': only a [band] table of a koto_events "
                                  "constraint is allowed")
        unknown = sorted(set(raw["band"]) - set(_BAND_KEYS))
        if unknown:
            raise ConstraintError(f"{path}: key 'band.{unknown[0]}' is not known (allowed: "
                                  f"{', '.join(_BAND_KEYS)})")
        band = {}
        for key in _BAND_KEYS:
            if key not in raw["band"]:
                raise ConstraintError(f"{path}: key 'band.{key}' is missing")
            band[key], sources[f"band.{key}"] = _number(path, f"band.{key}", raw["band"][key],
                                                        ("1", 0.0, 1.0))
        if not band["lo95"] <= band["lo68"] <= band["central"] <= band["hi68"] <= band["hi95"]:
            raise ConstraintError(f"{path}: key 'band': need lo95 <= lo68 <= central <= hi68 "
                                  "<= hi95")
    table = None
    if "table" in strings:
        table = _load_table(path, strings["table"], strings["table_columns"], base)
        if method == "displaced_limit_scaled" and table.taus.size == 0:
            raise ConstraintError(f"{path}: key 'table_columns': a displaced limit needs "
                                  "'mass,tau,ul'")
        if method == "stable_limit_scaled":
            if strings["reference"] == "stable" and not table.has_stable:
                raise ConstraintError(f"{path}: key 'reference' = 'stable': the table has no "
                                      "stable-X limit (give 'mass,ul', or a 'mass,tau,ul' "
                                      "grid with rows at tau = inf)")
            if strings["reference"] == "lifetime" and table.taus.size == 0:
                raise ConstraintError(f"{path}: key 'reference' = 'lifetime' needs "
                                      "table_columns = 'mass,tau,ul'")
    return Constraint(raw["name"], path, raw["experiment"], method, raw["title"], raw["source"],
                      MappingProxyType(strings), MappingProxyType(numbers),
                      MappingProxyType(sources),
                      MappingProxyType(band) if band is not None else None, table)
