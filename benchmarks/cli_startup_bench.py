"""Start-up cost of the ``driftmon`` console script: ``--version`` and ``-h``.

Runs each command N times, alternating them, and reports the median wall time and the
median CPU time (user + system of the child, from ``os.wait4``), next to a bare
``python -c pass`` measured in the same loop. CPU time is the steadier number on a
shared machine; wall time is what a user waits.

    python benchmarks/cli_startup_bench.py [N]
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 30
DRIFTMON = shutil.which("driftmon") or "driftmon"
CASES = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "driftmon --version": [DRIFTMON, "--version"],
    "driftmon -h": [DRIFTMON, "-h"],
    "driftmon compare -h": [DRIFTMON, "compare", "-h"],
}


def once(argv: list[str]) -> tuple[float, float]:
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, argv
    return time.perf_counter() - started, usage.ru_utime + usage.ru_stime


def main() -> None:
    for argv in CASES.values():  # warm the page cache
        once(argv)
    wall: dict[str, list[float]] = {k: [] for k in CASES}
    cpu: dict[str, list[float]] = {k: [] for k in CASES}
    for _ in range(N):
        for name, argv in CASES.items():
            w, c = once(argv)
            wall[name].append(w)
            cpu[name].append(c)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs, N={N}")
    print("| command | wall median (ms) | CPU median (ms) | CPU min (ms) |\n|---|---|---|---|")
    for name in CASES:
        print(
            f"| `{name}` | {statistics.median(wall[name]) * 1000:.0f} | "
            f"{statistics.median(cpu[name]) * 1000:.0f} | {min(cpu[name]) * 1000:.0f} |"
        )


if __name__ == "__main__":
    main()
