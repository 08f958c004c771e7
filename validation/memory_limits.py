"""Memory on absurd and large sizes: peak resident memory (RSS) of `kotosim` subprocesses.

Each command runs in a subprocess in a temporary folder, is watched for at most --timeout
seconds (then stopped with SIGTERM, SIGKILL if needed: this script never hangs) and its RSS is
read from /proc every 0.1 s. For a command still running when stopped, the RSS at 1/3 of the
window and at its end show whether memory is flat (no growth) or grows with the work.

    python validation/memory_limits.py [--timeout 20]

Expected: `run --events 1e20` and `scan --mass 1:280:1000000000` are refused at once (exit 2,
one line) with a small RSS; `run --events 1e8` and `scan` over 10^6 (m, ctau) points run with
flat memory (the growth after the first third of the window is a few MB at most). Linux only.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

CASES = [
    ("baseline: run koto --events 1e5", ["run", "koto", "--events", "1e5"]),
    ("run koto --events 1e20", ["run", "koto", "--events", "1e20"]),
    ("scan koto --mass 1:280:1000000000", ["scan", "koto", "--mass", "1:280:1000000000"]),
    ("run koto --events 1e8", ["run", "koto", "--events", "1e8"]),
    ("scan koto: 1000 masses x 1000 ctau = 1e6 points",
     ["scan", "koto", "--mass", "1:280:1000", "--ctau", "1e-4:1e6:1000:log",
      "--events", "2e5"]),
]


def rss_mb(pid: int) -> float | None:
    """Resident set size of ``pid`` [MB] (None once the process is gone)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def watch(args: list[str], timeout: float) -> dict:
    with tempfile.TemporaryDirectory() as d:
        t0 = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "kotosim", *args, "--quiet"], cwd=d,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        samples: list[tuple[float, float]] = []
        while proc.poll() is None and time.monotonic() - t0 < timeout:
            r = rss_mb(proc.pid)
            if r is not None:
                samples.append((time.monotonic() - t0, r))
            time.sleep(0.1)
        stopped = proc.poll() is None
        if stopped:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        _, err = proc.communicate()
        wall = time.monotonic() - t0
    out = {"rc": proc.returncode, "wall": wall, "stopped": stopped,
           "err": err.strip().splitlines()[-1] if err.strip() else "",
           "peak": max((r for _, r in samples), default=float("nan"))}
    if stopped and samples:
        third = [r for t, r in samples if t >= timeout / 3]
        out["growth"] = (third[-1] - third[0]) if third else float("nan")
        out["rate"] = out["growth"] / max(samples[-1][0] - timeout / 3, 1e-9)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--timeout", type=float, default=20.0,
                   help="seconds each command is watched before it is stopped (default 20)")
    a = p.parse_args()
    if not os.path.exists("/proc/self/status"):
        print("needs Linux /proc to read the memory of a subprocess")
        return 1
    print(f"peak RSS of kotosim subprocesses, each watched for at most {a.timeout:g} s "
          f"(NUMBA_NUM_THREADS={os.environ.get('NUMBA_NUM_THREADS', 'all cores')})\n")
    print(f"{'command':50s} {'outcome':28s} {'wall':>6s} {'peak RSS':>9s} {'growth':>16s}")
    for label, args in CASES:
        r = watch(args, a.timeout)
        if r["stopped"]:
            outcome = "running, stopped at timeout"
            growth = f"{r['growth']:+.1f} MB ({r['rate']:+.2f} MB/s)"
        else:
            outcome = "refused at once" if r["rc"] == 2 else f"finished, exit {r['rc']}"
            growth = "-"
        print(f"{label:50s} {outcome:28s} {r['wall']:5.1f}s {r['peak']:7.0f} MB {growth:>16s}")
        if r["rc"] == 2 and r["err"]:
            print(f"    {r['err']}")
    print("\ngrowth: RSS change from 1/3 of the window to its end (flat memory: a few MB). "
          "Timings are noisy on a shared machine.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
