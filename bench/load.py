"""The loaded run: the same benchmarks again beside a busy loop on every core.

A shared machine is never quiet for long, and a player's machine runs other programs: the
latency benchmarks (figures 1-3) are run twice, quiet and under this load, and both runs go in
the table with the load named. Each busy loop is a process of its own at normal priority (nice
0), so it competes with the daemon exactly as another program would; what the daemon keeps under
it is what real-time scheduling (daemon/realtime.py) and a lean hot path buy.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from . import common

# The benchmarks whose figures are timing tails: run quiet and loaded.
TIMED = ("inference", "e2e_latency", "process")


@contextmanager
def busy_loops(cores: int | None = None) -> Iterator[str]:
    """A `while True: pass` process per core while the block runs; yields the load's name."""
    cores = cores or os.cpu_count() or 1
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores)]
    label = f"busy loop on each of {cores} cores"
    try:
        with common.loaded(label):
            yield label
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait()
