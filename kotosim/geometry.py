"""Experiment descriptions: TOML files in ``geometry/`` loaded into frozen, validated objects.

Every number in a geometry file is a table ``{ value = ..., unit = "...", source = "..." }``.
Values are converted to kotosim's internal units (hepunits: MeV, mm, ns, rad) and checked
against the experiment's schema: unknown keys, missing keys, wrong units and values out of range
raise :class:`GeometryError` with one line naming the file, the key, the value and what is
allowed.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType

import hepunits as u
import numpy as np

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["GeometryError", "Geometry", "Volume", "load_geometry", "available_geometries",
           "register_check", "require"]


class GeometryError(ValueError):
    """A geometry file or geometry override is invalid (message names file, key and range)."""


# unit string -> (dimension, factor to internal units)
_UNITS: dict[str, tuple[str, float]] = {
    "um": ("length", u.micrometer), "mm": ("length", u.mm), "cm": ("length", u.cm),
    "m": ("length", u.m),
    "MeV": ("energy", u.MeV), "GeV": ("energy", u.GeV), "TeV": ("energy", u.TeV),
    "1/MeV": ("1/energy", 1.0 / u.MeV), "1/GeV": ("1/energy", 1.0 / u.GeV),
    "1/GeV2": ("1/energy2", 1.0 / u.GeV**2), "1/MeV2": ("1/energy2", 1.0 / u.MeV**2),
    "GeV2": ("energy2", u.GeV**2), "MeV2": ("energy2", u.MeV**2),
    "rad": ("angle", u.rad), "mrad": ("angle", u.mrad), "urad": ("angle", u.mrad * 1e-3),
    "deg": ("angle", u.deg),
    "sr": ("solid_angle", u.sr), "msr": ("solid_angle", 1e-3 * u.sr),
    "usr": ("solid_angle", 1e-6 * u.sr),
    "MeV*deg": ("energy*angle", u.MeV * u.deg), "MeV*rad": ("energy*angle", u.MeV * u.rad),
    "1": ("1", 1.0),
}
_DIM_UNIT = {"length": "mm", "energy": "MeV", "1/energy": "1/MeV", "1/energy2": "1/MeV2",
             "energy2": "MeV2",
             "angle": "rad", "solid_angle": "sr", "energy*angle": "MeV*rad", "1": "1"}


@dataclass(frozen=True)
class Spec:
    """Schema entry: dimension and allowed closed range [lo, hi] in internal units."""

    dim: str
    lo: float
    hi: float
    integer: bool = False
    optional: float | None = None  # default value if the key may be omitted


@dataclass(frozen=True)
class Volume:
    """A region of space (internal units, mm). ``shape`` is "cylinder" or "box"."""

    name: str
    shape: str
    params: tuple[float, ...]

    def row(self) -> np.ndarray:
        """The 8-float row used by :mod:`kotosim.kernels.propagation`."""
        r = np.zeros(8)
        if self.shape == "cylinder":
            z1, z2, radius, cx, cy = self.params
            r[:6] = (0, cx, cy, z1, z2, radius)
        else:
            r[0] = 1
            r[1:7] = self.params
        return r


_VOLUME_SPECS: dict[str, dict[str, Spec]] = {
    "cylinder": {
        "z1": Spec("length", -1e9, 1e9), "z2": Spec("length", -1e9, 1e9),
        "radius": Spec("length", 0.0, 1e9),
        "cx": Spec("length", -1e9, 1e9, optional=0.0),
        "cy": Spec("length", -1e9, 1e9, optional=0.0),
    },
    "box": {k: Spec("length", -1e9, 1e9)
            for k in ("xmin", "xmax", "ymin", "ymax", "zmin", "zmax")},
}
_VOLUME_ORDER = {"cylinder": ("z1", "z2", "radius", "cx", "cy"),
                 "box": ("xmin", "xmax", "ymin", "ymax", "zmin", "zmax")}


@dataclass(frozen=True)
class Geometry:
    """A validated experiment description.

    ``values`` maps dotted keys (``"csi.z_face"``) to floats in internal units; ``volumes``
    maps a volume-list name (``"veto"``) to its :class:`Volume` tuple; ``sources`` keeps the
    citation of every value; ``strings`` holds the top-level text fields.
    """

    experiment: str
    path: str
    variant: str | None
    values: Mapping[str, float]
    volumes: Mapping[str, tuple[Volume, ...]]
    sources: Mapping[str, str] = field(repr=False)
    strings: Mapping[str, str] = field(repr=False)

    def __getitem__(self, key: str) -> float:
        return self.values[key]

    def volume_array(self, kind: str) -> np.ndarray:
        """Volumes of list ``kind`` as the (n, 8) float array the kernels take."""
        vols = self.volumes.get(kind, ())
        if not vols:
            return np.zeros((0, 8))
        return np.array([v.row() for v in vols])

    def volume_names(self, kind: str) -> tuple[str, ...]:
        return tuple(v.name for v in self.volumes.get(kind, ()))


# ---------------------------------------------------------------------------------------------
# schemas: experiment -> {"section.key": Spec}, and which volume lists it has
_SCHEMAS: dict[str, dict[str, Spec]] = {}
_VOLUME_LISTS: dict[str, tuple[str, ...]] = {}


def register_schema(experiment: str, specs: dict[str, Spec], volume_lists: tuple[str, ...]) -> None:
    """Declare the keys an experiment's geometry file must have (used by experiment modules)."""
    _SCHEMAS[experiment] = specs
    _VOLUME_LISTS[experiment] = volume_lists


def _geometry_dir():
    """The shipped geometry files: the ``kotosim.geometries`` package of an installed
    kotosim, or the repository's ``geometry/`` folder when running from a source tree."""
    try:
        return resources.files("kotosim.geometries")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "geometry"


def available_geometries() -> list[str]:
    """Names of the geometry files shipped with kotosim (``kotosim run NAME``)."""
    return sorted(p.name[:-5] for p in _geometry_dir().iterdir() if p.name.endswith(".toml"))


def _fmt(x: float) -> str:
    return f"{x:g}"


def _convert(path: str, key: str, entry: object, spec: Spec) -> tuple[float, str]:
    if not isinstance(entry, Mapping) or "value" not in entry or "unit" not in entry:
        raise GeometryError(
            f"{path}: key '{key}': expected a table {{ value = ..., unit = "
            f"\"{_DIM_UNIT[spec.dim]}\", source = \"...\" }}, got {entry!r}")
    value, unit = entry["value"], entry["unit"]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise GeometryError(f"{path}: key '{key}': value must be a number, got {value!r}")
    if unit not in _UNITS or _UNITS[unit][0] != spec.dim:
        allowed = ", ".join(k for k, (d, _) in _UNITS.items() if d == spec.dim)
        raise GeometryError(f"{path}: key '{key}': unit {unit!r} is not a {spec.dim} unit "
                            f"(allowed: {allowed})")
    if spec.integer and (not float(value).is_integer()):
        raise GeometryError(f"{path}: key '{key}': value {value!r} must be a whole number")
    x = float(value) * _UNITS[unit][1]
    if not (math.isfinite(x) and spec.lo <= x <= spec.hi):
        f = _UNITS[unit][1]
        u_txt = (" " + unit) if unit != "1" else ""  # unit "1": a plain number
        raise GeometryError(
            f"{path}: key '{key}' = {value:g}{u_txt} is out of range: allowed "
            f"[{_fmt(spec.lo / f)}, {_fmt(spec.hi / f)}]{u_txt or ' (dimensionless)'}")
    return x, str(entry.get("source", ""))


def _flatten(tbl: Mapping, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for k, v in tbl.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and "value" not in v:
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _load_volumes(path: str, kind: str, raw: object, overrides: dict[str, object],
                  values: dict, sources: dict) -> tuple[Volume, ...]:
    if not isinstance(raw, list):
        raise GeometryError(f"{path}: key '{kind}': expected an array of tables [[{kind}]]")
    vols = []
    names: set[str] = set()
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise GeometryError(f"{path}: key '{kind}[{i}]': expected a table")
        name = item.get("name")
        shape = item.get("shape")
        if not isinstance(name, str) or not name or name in names:
            raise GeometryError(f"{path}: key '{kind}[{i}].name': a unique non-empty name is "
                                f"required, got {name!r}")
        names.add(name)
        if shape not in _VOLUME_SPECS:
            raise GeometryError(f"{path}: key '{kind}.{name}.shape' = {shape!r}: allowed "
                                f"{sorted(_VOLUME_SPECS)}")
        specs = _VOLUME_SPECS[shape]
        unknown = set(item) - set(specs) - {"name", "shape"}
        if unknown:
            raise GeometryError(f"{path}: key '{kind}.{name}.{sorted(unknown)[0]}' is not "
                                f"allowed for a {shape} (allowed: {', '.join(specs)})")
        p = []
        for k in _VOLUME_ORDER[shape]:
            key = f"{kind}.{name}.{k}"
            entry = overrides.pop(key, item.get(k))
            if entry is None:
                if specs[k].optional is None:
                    raise GeometryError(f"{path}: key '{key}' is missing")
                x, src = specs[k].optional, "default"
            else:
                x, src = _convert(path, key, entry, specs[k])
            values[key] = x
            sources[key] = src
            p.append(x)
        lo_hi = (("z1", "z2"),) if shape == "cylinder" else (("xmin", "xmax"), ("ymin", "ymax"),
                                                             ("zmin", "zmax"))
        for lo, hi in lo_hi:
            if not values[f"{kind}.{name}.{lo}"] < values[f"{kind}.{name}.{hi}"]:
                raise GeometryError(f"{path}: key '{kind}.{name}.{hi}' must be larger than "
                                    f"'{kind}.{name}.{lo}'")
        vols.append(Volume(name, shape, tuple(p)))
    return tuple(vols)


def resolve_path(name_or_path: str | Path) -> tuple[str, str]:
    """Return (display path, TOML text) for a shipped geometry name or a file path.

    A shipped name (``koto``) wins over a file or folder of that name in the working
    directory; an argument that looks like a path (has a ``/``, or ends in ``.toml``, or is
    a :class:`~pathlib.Path`) is always a path (``./koto`` for a file named ``koto``)."""
    s = str(name_or_path)
    looks_like_path = (isinstance(name_or_path, Path) or s.endswith(".toml") or "/" in s
                       or os.sep in s)
    if looks_like_path or (s not in available_geometries() and Path(s).exists()):
        p = Path(s)
        if not p.is_file():
            raise GeometryError(f"{s}: geometry file not found")
        return s, p.read_text()
    shipped = available_geometries()
    if s not in shipped:
        raise GeometryError(f"experiment '{s}' is unknown: allowed {', '.join(shipped)} "
                            "or a path to a .toml file")
    return f"geometry/{s}.toml", _geometry_dir().joinpath(f"{s}.toml").read_text()


def load_geometry(name_or_path: str | Path, variant: str | None = None,
                  overrides: Mapping[str, float] | None = None) -> Geometry:
    """Load and validate a geometry: a shipped name (``"koto"``) or a path to a TOML file.

    ``variant`` applies the dotted-key overrides of ``[variants.NAME]`` in the file;
    ``overrides`` then replaces values by dotted key, given in internal units (MeV, mm, rad,
    sr), checked against the same ranges.
    """
    try:
        path, text = resolve_path(name_or_path)
    except UnicodeDecodeError:
        raise GeometryError(f"{name_or_path}: not a geometry file: not UTF-8 text (a TOML "
                            "file is expected)") from None
    except OSError as exc:
        raise GeometryError(f"{name_or_path}: cannot read the geometry file: "
                            f"{exc.strerror or exc}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise GeometryError(f"{path}: not valid TOML: {exc}") from None
    exp = raw.get("experiment")
    if exp not in _SCHEMAS:
        _ensure_registered()
    if exp not in _SCHEMAS:
        raise GeometryError(f"{path}: key 'experiment' = {exp!r}: allowed {sorted(_SCHEMAS)}")
    schema = _SCHEMAS[exp]
    vlists = _VOLUME_LISTS[exp]
    variants = raw.pop("variants", {})
    pending: dict[str, object] = {}  # variant and user overrides not yet applied
    if variant is not None:
        if variant not in variants:
            raise GeometryError(f"{path}: variant '{variant}' is unknown: allowed "
                                f"{sorted(variants) or 'none'}")
        pending = dict(variants[variant])
    strings = {k: v for k, v in raw.items() if isinstance(v, str)}
    vol_raw = {k: raw.pop(k) for k in list(raw) if k in vlists}
    flat = {k: v for k, v in _flatten({k: v for k, v in raw.items()
                                       if not isinstance(v, str)}).items()}
    unknown = sorted(set(flat) - set(schema))
    if unknown:
        raise GeometryError(f"{path}: key '{unknown[0]}' is not known for experiment '{exp}'")
    values: dict[str, float] = {}
    sources: dict[str, str] = {}
    for key, val in (overrides or {}).items():
        spec = schema.get(key)
        if spec is None and key.split(".")[0] in vlists:
            spec = Spec("length", -1e9, 1e9)
        if spec is None:
            raise GeometryError(f"{path}: override key '{key}' is not known for experiment '{exp}'")
        pending[key] = {"value": float(val) / _UNITS[_DIM_UNIT[spec.dim]][1],
                        "unit": _DIM_UNIT[spec.dim], "source": "user override"}
    for key, spec in schema.items():
        entry = pending.pop(key, flat.get(key))
        if entry is None:
            if spec.optional is None:
                raise GeometryError(f"{path}: key '{key}' is missing")
            values[key], sources[key] = spec.optional, "default"
            continue
        values[key], sources[key] = _convert(path, key, entry, spec)
    volumes = {k: _load_volumes(path, k, vol_raw.get(k, []), pending, values, sources)
               for k in vlists}
    if pending:
        raise GeometryError(f"{path}: variant '{variant}' key '{next(iter(pending))}' is not "
                            "a key of this geometry")
    geo = Geometry(exp, path, variant, MappingProxyType(values), MappingProxyType(volumes),
                   MappingProxyType(sources), MappingProxyType(strings))
    check = _CHECKS.get(exp)
    if check is not None:
        check(geo)
    return geo


_CHECKS: dict[str, object] = {}


def _show(geo: Geometry, key: str) -> str:
    """``key`` = value with its internal unit (mm, MeV, ...; no unit for plain numbers)."""
    spec = _SCHEMAS.get(geo.experiment, {}).get(key)
    unit = _DIM_UNIT[spec.dim] if spec is not None else "mm"  # volume keys are lengths
    return f"'{key}' = {geo.values[key]:g}" + (f" {unit}" if unit != "1" else "")


def require(geo: Geometry, ok: bool, keys: tuple[str, ...] | list[str], relation: str) -> None:
    """Cross-key check for ``register_check`` functions: unless ``ok``, raise one line naming
    the file, the keys with their values and the relation they violate."""
    if not ok:
        shown = ", ".join(_show(geo, k) for k in keys)
        raise GeometryError(f"{geo.path}: keys {shown}: need {relation}")


def register_check(experiment: str, fn) -> None:
    """Register a cross-key consistency check run after loading (raises GeometryError)."""
    _CHECKS[experiment] = fn


def _ensure_registered() -> None:
    """Import the experiment modules, which register their schemas."""
    from . import experiments  # noqa: F401
