"""What every benchmark shares: percentiles, figures with targets, result files, the machine.

A benchmark returns a result dict; `write_result` stores it as bench/results/<name>.json:
  {"benchmark", "date", "machine", "quick", "figures": [figure...], "details": {...}}
where each figure is {"figure", "target", "measured", "unit", "pass", "why"}. Figures are measured
values only: a figure that could not be measured has measured None and pass None, and says why.
"""

from __future__ import annotations

import logging
import os
import platform
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from improvd.daemon import crash_log
from improvd.daemon.atomic import write_json_atomic

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = Path(__file__).resolve().parent / "results"
SHIPPED_MODEL = PROJECT_ROOT / "models" / "default.onnx"
# The real JACK period of every end-to-end benchmark: jackd -S -d dummy -r 48000 -p 64.
JACK_PERIOD_S = 64 / 48000


def stats(samples: Sequence[float], scale: float = 1.0) -> dict:
    """n, p50, p99, max, mean of `samples` (times `scale`, e.g. 1000 for seconds -> ms)."""
    a = np.asarray(samples, dtype=np.float64) * scale
    if a.size == 0:
        return {"n": 0, "p50": None, "p99": None, "max": None, "mean": None}
    return {"n": int(a.size), "p50": float(np.percentile(a, 50)),
            "p99": float(np.percentile(a, 99)), "max": float(a.max()), "mean": float(a.mean())}


def figure(name: str, measured: float | None, unit: str, target: str,
           passes: Callable[[float], bool] | None, why: str = "") -> dict:
    """One row of the summary. `passes` is None for a figure with no numeric target."""
    ok = None if measured is None or passes is None else bool(passes(measured))
    return {"figure": name, "target": target, "measured": measured, "unit": unit, "pass": ok,
            "why": why}


def time_calls(fn: Callable[[], object], n: int) -> list[float]:
    """Seconds per call of fn(), n calls, each timed on its own with perf_counter."""
    out = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


@contextmanager
def pinned(cpu: int | None = None):
    """The calling thread on one CPU (the last one allowed, by default) while the block runs;
    yields the CPU, or None where affinity cannot be set (then nothing changes)."""
    try:
        allowed = os.sched_getaffinity(0)
        cpu = max(allowed) if cpu is None else cpu
        os.sched_setaffinity(0, {cpu})  # pid 0: this thread on Linux
    except (AttributeError, OSError):
        yield None
        return
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, allowed)


@contextmanager
def as_the_engine_thread(priority: int | None = None):
    """The calling thread as the daemon runs its engine thread (daemon/realtime.py): on one CPU,
    and SCHED_FIFO one step under the daemon's [realtime] priority (`priority`, default the
    config's) where permitted. Yields (cpu or None, the SCHED_FIFO priority or 0 if refused)."""
    from improvd.daemon.config import RealtimeConfig

    engine_priority = (RealtimeConfig().priority if priority is None else priority) - 1
    with pinned() as cpu:
        try:
            policy, param = os.sched_getscheduler(0), os.sched_getparam(0)
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(engine_priority))
        except (AttributeError, OSError, ValueError):  # not permitted, or a priority under 1
            yield cpu, 0
            return
        try:
            yield cpu, engine_priority
        finally:
            os.sched_setscheduler(0, policy, param)


def involuntary_switches() -> int:
    """How often the calling thread has been preempted so far (Linux: /proc/thread-self)."""
    try:
        for line in Path("/proc/thread-self/status").read_text().splitlines():
            if line.startswith("nonvoluntary_ctxt_switches:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def stolen_time(seconds: float, gap_s: float = 20e-6) -> dict:
    """How the machine interrupts a thread that never sleeps: the calling thread reads the clock
    in a tight loop for `seconds` and counts the gaps between two reads longer than `gap_s`
    (a read takes well under a microsecond). On a VM these are the host's and the timer's
    interruptions; a model step they land in is that much slower, whatever the model does."""
    gaps = []
    clock = time.perf_counter
    started = last = clock()
    end = started + seconds
    while (now := clock()) < end:
        if now - last > gap_s:
            gaps.append(now - last)
        last = now
    span = last - started
    a = np.asarray(gaps)
    return {"seconds": span, "gaps_per_s": len(gaps) / span,
            "gaps_over_50us_per_s": int((a > 50e-6).sum()) / span,
            "gap_ms": stats(a, 1000), "time_lost_pct": 100 * float(a.sum()) / span}


def machine() -> dict:
    """CPU model and cores (from /proc/cpuinfo), load average, GPU presence by device file."""
    from improvd.training.machine import cpu_model

    model = cpu_model()
    gpu = Path("/proc/driver/nvidia/version").exists() or Path("/dev/nvidia0").exists()
    return {"cpu": model, "cores": os.cpu_count(), "loadavg": list(os.getloadavg()),
            "gpu": "present" if gpu else "no GPU available", "python": platform.python_version()}


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


_chosen_model: Path | None = None


def use_model(path: Path) -> None:
    """Benchmark this .onnx file instead of the shipped model (`python -m bench --model`)."""
    global _chosen_model
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    _chosen_model = Path(path)


def model_under_test(tmp_dir: Path) -> tuple[Path, str]:
    """(path, description): the model given to use_model, else the shipped models/default.onnx,
    else a random-weights model of the same contract (improvd.testsupport, as the tests use), so
    the benchmarks run before a model is shipped."""
    if _chosen_model is not None:
        return _chosen_model, str(_chosen_model)
    if SHIPPED_MODEL.is_file():
        return SHIPPED_MODEL, "models/default.onnx"
    from improvd.testsupport.random_model import make_random_recurrent_model

    path = make_random_recurrent_model(Path(tmp_dir) / "random.onnx")
    return path, "random-weights fixture (models/default.onnx not shipped yet)"


_load: str | None = None  # the load a run is made under (load.py); None: no load of ours


@contextmanager
def loaded(label: str):
    """Results written inside are the loaded run's: <name>_loaded.json, the load named."""
    global _load
    _load = label
    try:
        yield
    finally:
        _load = None


def _suffixed(path: Path) -> Path:
    return path if _load is None else path.with_name(f"{path.stem}_loaded{path.suffix}")


def write_result(name: str, result: dict, results_dir: Path = RESULTS_DIR) -> Path:
    """bench/results/<name>.json (<name>_loaded.json under load), written beside and renamed:
    never a half-written file."""
    return write_json_atomic(_suffixed(results_dir / f"{name}.json"), result, sort_keys=False,
                             default=float)


def histogram(samples_ms: dict[str, Sequence[float]], path: Path, title: str,
              targets_ms: dict[str, float] | None = None) -> Path | None:
    """One PNG with a histogram per series (ms); a dashed line marks a series' target if given."""
    series = {k: v for k, v in samples_ms.items() if len(v)}
    if not series:
        return None
    path = _suffixed(path)
    import matplotlib

    matplotlib.use("Agg")  # no display on a headless machine
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(series), 1, figsize=(7, 2.4 * len(series)), squeeze=False)
    for ax, (name, values) in zip(axes[:, 0], series.items()):
        values = np.asarray(values, dtype=np.float64)
        low, high = max(float(values.min()), 1e-4), float(values.max())
        if high / low > 50:  # latency tails: log bins show the body and the tail together
            ax.hist(np.clip(values, low, None), bins=np.geomspace(low, high * 1.001, 60),
                    color="tab:blue")
            ax.set_xscale("log")
        else:
            ax.hist(values, bins=60, color="tab:blue")
        if name in (targets_ms or {}):
            ax.axvline(targets_ms[name], color="tab:red", linestyle="--", label="target")
            ax.legend()
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("ms")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def result(name: str, quick: bool, figures: list[dict], details: dict) -> dict:
    return {"benchmark": name, "date": now_utc(), "machine": machine(), "quick": quick,
            "load": _load, "figures": figures, "details": details}


def run_alone(prog: str, doc: str, option: str, default: float, run: Callable) -> int:
    """`python -m bench.<name> --<option> N`: one long-run benchmark on its own, its figures
    printed (run(results_dir=..., <option>=N) -> result)."""
    import argparse

    from .summary import format_line

    parser = argparse.ArgumentParser(prog=prog, description=doc)
    parser.add_argument(f"--{option}", type=type(default), default=default)
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    crash_log.enable()  # a crash in compiled code: every thread's stack, not silence
    out = run(results_dir=args.results, **{option: getattr(args, option)})
    for f in out["figures"]:
        print(format_line(f))
    return 0
