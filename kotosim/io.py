"""ROOT output with uproot: event-sample TTree, TH1/TH2 with sumw2, acceptance summary.

Files are written to a temporary name in the target directory and renamed when complete, so
an interrupted or failed write never leaves a half-written file under the final name.
"""

from __future__ import annotations

import atexit
import errno
import json
import math
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .result import Result

__all__ = ["write_root", "atomic_path", "root_hist", "effective_entries", "run_readme",
           "check_output_path", "handle_signals", "Terminated",
           "os_error_message", "remove_temporary_files", "uninterrupted"]

# --- temporary files and signals ------------------------------------------------------------
# Every temporary file of atomic_path is registered here (temporary name -> final name) from
# the moment it exists until it is renamed or removed. Under handle_signals() SIGINT and SIGTERM
# raise KeyboardInterrupt / Terminated in the main thread, but never inside the few lines that
# create, register, rename or remove a temporary file (deferred to the end of those lines), so
# the registry is always complete and remove_temporary_files() leaves nothing behind.

_LIVE: dict[str, str] = {}
_SIG: dict = {"depth": 0, "pending": None, "fired": False, "raised": None}


class Terminated(KeyboardInterrupt):
    """SIGTERM received: handled like Ctrl-C (temporary files removed, exit code 143)."""


def _raise_for(signum: int) -> None:
    _SIG["fired"] = True
    _SIG["raised"] = signum
    if signum == signal.SIGTERM:
        raise Terminated()
    raise KeyboardInterrupt()


def _on_signal(signum: int, frame: object) -> None:
    if _SIG["fired"]:  # already stopping: let the cleanup finish
        return
    if _SIG["depth"] > 0:
        _SIG["pending"] = signum
        return
    _raise_for(signum)


@contextmanager
def _deferred_signals() -> Iterator[None]:
    """Run a few lines without being interrupted by SIGINT/SIGTERM (raised at the end)."""
    _SIG["depth"] += 1
    try:
        yield
    finally:
        _SIG["depth"] -= 1
        if _SIG["depth"] == 0 and _SIG["pending"] is not None:
            signum, _SIG["pending"] = _SIG["pending"], None
            _raise_for(signum)


def signal_raised() -> int | None:
    """The signal that :func:`handle_signals` turned into an exception, if any (an interrupt
    inside a C extension's import can surface as another exception, e.g. ImportError)."""
    return _SIG["raised"]


uninterrupted = _deferred_signals  # public name: e.g. removing a checkpoint folder


def remove_temporary_files() -> None:
    """Remove every temporary file of :func:`atomic_path` still open (after an interrupt)."""
    with _deferred_signals():
        for tmp in list(_LIVE):
            try:
                os.unlink(tmp)
            except OSError:
                pass
            _LIVE.pop(tmp, None)


atexit.register(remove_temporary_files)


@contextmanager
def handle_signals() -> Iterator[None]:
    """SIGTERM handled like Ctrl-C for the duration: both raise (:class:`Terminated` is a
    ``KeyboardInterrupt``) in the main thread between file operations, and every temporary
    file is removed on the way out. A second signal during the cleanup is ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    _SIG.update(depth=0, pending=None, fired=False, raised=None)
    try:
        yield
    finally:
        _SIG["fired"] = True  # from here on a signal is ignored: cleanup, then old handlers
        try:
            remove_temporary_files()
        finally:
            for s, h in old.items():
                signal.signal(s, h)
            _SIG.update(depth=0, pending=None, fired=False, raised=None)


@contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` only on success.

    On failure or interrupt the temporary file is removed; an ``OSError`` without a file name
    (e.g. a full disk during writing) gets ``path`` as its file name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _deferred_signals():
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix,
                                   dir=path.parent)
        _LIVE[tmp] = str(path)
        os.close(fd)
    try:
        yield Path(tmp)
        with _deferred_signals():
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
            os.replace(tmp, path)
            _LIVE.pop(tmp, None)
    except BaseException as exc:
        with _deferred_signals():
            if os.path.exists(tmp):
                os.unlink(tmp)
            _LIVE.pop(tmp, None)
        if isinstance(exc, OSError) and exc.filename in (None, tmp):
            exc.filename = str(path)
        raise


# --- output paths ---------------------------------------------------------------------------

_TMP_EXTRA = 10  # atomic_path's temporary name: "." + name + "." + 8 random characters


def check_output_path(path: str | Path, option: str = "--out", suffix: str | None = None,
                      mkdir: bool = False, mkdir_option: str | None = "--mkdir") -> Path:
    """Check, before any work, that ``path`` can be written atomically; returns it.

    Refused (``ValueError``, one line naming ``option`` and the path): a wrong suffix, an
    existing directory, a parent that is a file, a missing directory (unless ``mkdir``:
    then :func:`atomic_path` creates it when the file is written), a name too long for the
    file system (with the temporary name's extra characters), a directory where no file can
    be created (read-only, no permission).
    Nothing is left behind by the check (a probe file is created and removed)."""
    p = Path(path)
    if suffix is not None and p.suffix != suffix:
        raise ValueError(f"{option}: '{p}': must end in {suffix}")
    try:
        _check_output(p, option, suffix or p.suffix, mkdir, mkdir_option)
    except OSError as exc:
        raise ValueError(f"{option}: '{p}': {exc.strerror or exc}") from None
    return p


def _check_output(p: Path, option: str, suffix: str, mkdir: bool,
                  mkdir_option: str | None) -> None:
    parent = p.parent
    anc = parent
    while not anc.exists() and anc != anc.parent:
        anc = anc.parent
    if anc.exists() and not anc.is_dir():
        raise ValueError(f"{option}: '{p}': '{anc}' is a file, not a directory")
    try:
        name_max = os.pathconf(anc, "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    tmp_len = len(os.fsencode(p.name)) + _TMP_EXTRA + len(os.fsencode(suffix))
    if tmp_len > name_max:
        raise ValueError(f"{option}: '{p.name[:40]}...': file name too long (at most "
                         f"{name_max - _TMP_EXTRA - len(suffix)} bytes here)")
    if p.is_dir():
        raise ValueError(f"{option}: '{p}' is a directory: give a file name, e.g. "
                         f"{p / ('out' + suffix)}")
    if not parent.exists() and not mkdir:
        hint = f" (create it, or add {mkdir_option})" if mkdir_option else ""
        raise ValueError(f"{option}: '{p}': directory '{parent}' does not exist{hint}")
    # probe: a temporary file in the parent (or, for a directory still to be made by
    # atomic_path when writing, in its nearest existing ancestor), removed at once
    probe = p if parent.exists() else anc / p.name
    try:
        with atomic_path(probe, suffix) as tmp:
            os.unlink(tmp)
            raise _Probe()
    except _Probe:
        pass
    except OSError as exc:
        raise ValueError(f"{option}: '{p}': cannot write in '{probe.parent}': "
                         f"{exc.strerror or exc}") from None


class _Probe(Exception):
    """Ends the writability probe of check_output_path without renaming."""


def os_error_message(exc: OSError) -> tuple[str, int]:
    """One line for an ``OSError`` naming its path, and the exit code: 1 if the disk or quota
    is full (the input was fine), 2 otherwise (a path the user can change)."""
    name = exc.filename
    name = _LIVE.get(name, name) if isinstance(name, str) else name
    what = exc.strerror or str(exc) or type(exc).__name__
    msg = f"{name}: {what}" if name is not None else what
    full = exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
    return msg, 1 if full else 2


def _ctau_label(ct: float) -> str:
    return "inf" if not math.isfinite(ct) else f"{ct:g} mm"


def write_root(result: Result, path: str | Path,
               extra: Callable[[object], None] | None = None) -> Path:
    """Write ``result`` to a ROOT file at ``path`` (atomically) and return the path.

    Contents: ``acceptance`` (TTree, one entry per cτ: ``ctau_mm`` and every acceptance with
    ``<name>_err``); ``region_fraction`` (TTree, per cτ); histograms ``ptz_<i>``,
    ``z_<i>``, ``pt_<i>``, ``egamma_<i>`` for cτ index i (TH2/TH1 with sumw2, per K_L at the
    beam exit or per generated parent; titles with process, m_φ, cτ; entries = effective
    entries) and the reference channel's ``*_pinunu``; ``events`` (TTree of the event
    sample, if any); ``config`` and ``cutflow`` (JSON strings, TObjString); ``README``
    (TObjString describing every object and branch).
    """
    import uproot

    with atomic_path(path) as tmp:
        with uproot.recreate(tmp) as f:
            acc = {"ctau_mm": result.ctau.astype(np.float64)}
            for k, v in result.acceptance.items():
                acc[k] = np.asarray(v, dtype=np.float64)
                acc[f"{k}_err"] = np.asarray(result.error[k], dtype=np.float64)
            t = f.mktree("acceptance", {k: v.dtype for k, v in acc.items()},
                         title="acceptance per ctau")
            t.extend(acc)
            if result.region_fraction:
                reg = {"ctau_mm": result.ctau.astype(np.float64)}
                reg |= {k: np.asarray(v, dtype=np.float64)
                        for k, v in result.region_fraction.items()}
                t = f.mktree("region_fraction", {k: v.dtype for k, v in reg.items()},
                             title="fraction of signal-selected events vetoed by each element")
                t.extend(reg)
            written = _write_hists(f, result)
            if result.sample is not None and len(result.sample) > 0:
                _write_sample(f, result)
            if result.sample is not None and len(result.sample) > 0:
                _write_sample(f, result)
            cfg = dict(result.config)
            cfg |= {"experiment": result.experiment, "mass_MeV": result.mass,
                    "ctau_mm": [c if math.isfinite(c) else "inf" for c in result.ctau],
                    "seed": result.seed, "n_events": result.n_events,
                    "descriptions": result.descriptions}
            f["config"] = json.dumps(cfg)
            f["cutflow"] = json.dumps(result.cutflow)
            f["README"] = run_readme(result, written)
            if extra is not None:
                extra(f)
    return Path(path)


# ---- ROOT objects a physicist opens in ROOT: titles, axis labels, units, meaningful entries

# what each histogram of a run shows (ROOT TLatex in titles)
_HIST_WHAT = {"ptz": "reconstructed P_{t} vs Z_{vtx}", "z": "reconstructed Z_{vtx}",
              "pt": "reconstructed P_{t}", "egamma": "photon energies (both photons)",
              "phi_decay": "#phi decay point"}
_PROCESS = {"koto": "K_{L}#rightarrow#pi^{0}#phi", "na62": "K^{+}#rightarrow#pi^{+}#phi",
            "charm": "CHARM", "lhcb": "LHCb B#rightarrowK^{(*)}#phi"}


def _per(experiment: str) -> str:
    """What the histogram contents are normalised to."""
    return "K_{L} at the beam exit" if experiment == "koto" else "generated parent"


def effective_entries(h) -> float:
    """(sum w)^2 / sum w^2 over all bins: the number of unweighted events with the same
    relative error (ROOT's GetEffectiveEntries); 0 for an empty histogram."""
    sw, sw2 = float(np.sum(h.values(flow=True))), float(np.sum(h.variances(flow=True)))
    return sw * sw / sw2 if sw2 > 0 else 0.0


def root_hist(h, title: str, content: str, entries: float):
    """``h`` (hist.Hist, 1-D or 2-D, Weight storage) as an uproot-writable TH1D/TH2D with the
    ROOT title ``title``, the content axis title ``content`` (y for 1-D, z for 2-D) and
    fEntries = ``entries`` (uproot would store the sum of the values)."""
    import uproot

    w = uproot.writing.identify.to_writable(h)
    _set_member(w, "fTitle", title)
    _set_member(w, "fEntries", float(entries))
    _set_member(w.member("fYaxis" if len(h.axes) == 1 else "fZaxis"), "fTitle", content)
    return w


def _set_member(model, name: str, value) -> None:
    """Set ROOT member ``name`` of an uproot model where it is stored (the model or one of
    its base classes, e.g. TNamed for fTitle, TH1 for fEntries)."""
    stack = [model]
    while stack:
        m = stack.pop()
        if name in m._members:
            m._members[name] = value
            return
        stack.extend(getattr(m, "_bases", []))
    raise KeyError(name)


def _write_hists(f, result: Result) -> list[tuple[str, str, str]]:
    """Write every histogram of ``result`` with a title saying process, m_phi, c tau and the
    normalisation; return (name, class, description) rows for the README."""
    rows = []
    proc = _PROCESS.get(result.experiment, result.experiment)
    per = _per(result.experiment)
    for name, hs in result.hists.items():
        ref = name.endswith("_pinunu")
        base = name[:-7] if ref else name
        for i, h in enumerate(hs):
            if ref:
                where = "reference K_{L}#rightarrow#pi^{0}#nu#bar{#nu}"
            else:
                ct = result.ctau[i]
                ctl = "#infty" if not math.isfinite(ct) else f"{ct / 1000:g} m"
                where = f"{proc}, m_{{#phi}} = {result.mass:g} MeV, c#tau = {ctl}"
            parts = [(base, h)]
            if base == "ptz":
                parts += [("z", h.project("z")), ("pt", h.project("pt"))]
            for b, hh in parts:
                key = f"{b}_pinunu" if ref else f"{b}_{i}"
                title = f"{where}: {_HIST_WHAT.get(b, b)}, per {per}"
                f[key] = root_hist(hh, title, f"per {per}, per bin", effective_entries(hh))
                rows.append((key, "TH2D" if len(hh.axes) == 2 else "TH1D", title))
    return rows


def _describe_column(col: str) -> str:
    """What event-sample column ``col`` holds, with units."""
    from .kernels.koto import STAGES

    docs = {
        "p_kl": "K_L momentum at the beam exit [MeV/c]",
        "vertex": "parent decay vertex x, y, z [mm]",
        "x": "phi four-momentum (reference channel: the nu nubar system) px, py, pz, E [MeV]",
        "pi0": "pi0 four-momentum [MeV]", "g1": "first photon four-momentum [MeV]",
        "g2": "second photon four-momentum [MeV]",
        "hits": "photon hits on the CsI face: g1_x, g1_y, g2_x, g2_y true position [mm]; "
                "*_e_reco, *_x_reco, *_y_reco smeared energy [MeV] and position [mm]",
        "z_reco": "reconstructed pi0 vertex Z [mm]", "pt_reco": "reconstructed pi0 Pt [MeV/c]",
        "w_kl": "K_L weight: probability to decay between the beam exit and the CsI face",
        "stage": "last selection stage passed: " + ", ".join(
            f"{k} = {s}" for k, s in enumerate(STAGES)),
        "x_l1": "phi path length to the entry into the first veto region [mm] (0: none)",
        "x_l2": "phi path length to the exit of the last veto region [mm] (0: none)",
        "parent": "parent meson four-momentum [MeV]",
        "h": "recoil hadron (pi, K, K*) four-momentum [MeV]", "phi": "phi four-momentum [MeV]",
        "h_p_reco": "reconstructed hadron momentum [MeV/c] (NA62)",
        "m2miss_reco": "reconstructed m^2_miss [MeV^2] (NA62)",
        "w_parent": "parent weight: probability to decay in the fiducial volume (NA62) or "
                    "before absorption (CHARM kaons); 1 otherwise",
        "selected": "1 if the lifetime-independent selection passed (NA62: pi+ selected; "
                    "CHARM/LHCb: phi towards the signal volume), else 0",
        "signal_l1": "phi path length to the entry into the first signal volume [mm]",
        "signal_l2": "phi path length to the exit of the last signal volume [mm]",
        "veto_l1": "phi path length to the entry into the first veto volume [mm]",
        "veto_l2": "phi path length to the exit of the last veto volume [mm]",
        "parent_flight": "parent flight distance before its decay [mm]",
        "weight": "signal weight per c tau: weight[i] belongs to ctau_mm[i] of the "
                  "acceptance tree",
    }
    return docs.get(col) or docs.get(col.split("_")[0], "see the kotosim documentation")


def run_readme(result: Result, written: list[tuple[str, str, str]]) -> str:
    """The ``README`` string object of a run file: every object and every branch."""
    per = _per(result.experiment).replace("{", "").replace("}", "")
    lines = [
        f"kotosim run: {result.experiment}"
        + (f" ({result.variant})" if result.variant else "")
        + f", m_phi = {result.mass:g} MeV, {result.n_events} events per channel, seed "
          f"{result.seed}. Units: MeV, mm, ns (c tau in mm in trees, in m in titles).",
        "The data (bins, errors, tree entries) are identical bit for bit for the same seed on "
        "any number of threads; the file bytes are not (ROOT stores a creation time and a "
        "unique id).",
        "",
        "acceptance (TTree): one entry per c tau. Branches: ctau_mm = c tau [mm] (inf: stable "
        "phi); for every quantity X, X and X_err (Monte Carlo error):",
    ]
    lines += [f"  {k}: {d}" for k, d in result.descriptions.items()]
    if result.region_fraction:
        lines.append("region_fraction (TTree): one entry per c tau: ctau_mm and, per veto "
                     "region, the fraction of signal-selected phi that decay inside it.")
    if written:
        lines.append(f"Histograms (sumw2 = Monte Carlo variance): contents per {per}, per "
                     "bin, as in the PNG; entries = effective number of events "
                     "(sum w)^2/sum w^2; <name>_<i> belongs to ctau_mm[i]:")
        lines += [f"  {n} ({c}): {t}" for n, c, t in written]
    if result.sample is not None and len(result.sample) > 0:
        lines.append("events (TTree): the first generated events, whatever the selection. "
                     "Branches:")
        groups: list[tuple[list[str], str]] = []  # columns sharing one description
        for c in _flat_columns(result.sample):
            d = _describe_column(c)
            if groups and groups[-1][1] == d:
                groups[-1][0].append(c)
            else:
                groups.append(([c], d))
        lines += [f"  {', '.join(cs)}: {d}" for cs, d in groups]
    lines += ["config (TObjString): the run configuration (JSON).",
              "cutflow (TObjString): weighted fraction surviving each selection stage, per "
              "channel (JSON).", "README (TObjString): this text."]
    return "\n".join(lines)


def _flat_columns(arr, prefix: str = "") -> dict[str, np.ndarray]:
    import awkward as ak

    out: dict[str, np.ndarray] = {}
    fields = ak.fields(arr)
    if not fields:
        return {prefix.rstrip("_"): ak.to_numpy(arr)}
    for fld in fields:
        out |= _flat_columns(arr[fld], f"{prefix}{fld}_")
    return out


def _write_sample(f, result: Result) -> None:
    cols = _flat_columns(result.sample)
    types = {}
    for k, v in cols.items():
        v = np.ascontiguousarray(v)
        cols[k] = v
        types[k] = np.dtype((v.dtype, v.shape[1:])) if v.ndim > 1 else v.dtype
    t = f.mktree("events", types, title="event sample (true and reconstructed; weight[i] is "
                 "the signal weight for ctau index i)")
    t.extend(cols)
