"""bench/results/summary.md: one README-ready table built from every benchmark's JSON file."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from . import common

log = logging.getLogger(__name__)

ORDER = ("inference", "e2e_latency", "clock_sync", "process", "training_throughput",
         "markov_peer", "fuzz_input", "soak", "stalled_reader")


def format_value(f: dict) -> str:
    v = f["measured"]
    if v is None:
        return "not measured"
    if isinstance(v, str):
        return v
    digits = 3 if abs(v) < 1 else 2 if abs(v) < 100 else 0
    return f"{v:,.{digits}f} {f['unit']}".strip()


def format_pass(f: dict) -> str:
    return {True: "yes", False: "**no**", None: "-"}[f["pass"]]


def format_line(f: dict) -> str:
    """One figure as a terminal line."""
    return (f"{f['figure']:<58} {format_value(f):>16}  target {f['target']:<14} "
            f"pass {format_pass(f)}  {f['why']}")


def _machine(m: dict) -> str:
    load = ", ".join(f"{x:.1f}" for x in m.get("loadavg", []))
    return f"{m['cpu']}, {m['cores']} cores (load {load})"


def load_results(results_dir: Path) -> list[dict]:
    found = []
    for path in sorted(results_dir.glob("*.json")):
        try:
            found.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            log.warning("skipping %s: %s", path, exc)
    rank = {name: i for i, name in enumerate(ORDER)}
    # The loaded run of a benchmark right below its quiet run.
    return sorted(found, key=lambda r: (rank.get(r.get("benchmark"), len(ORDER)),
                                        bool(r.get("load"))))


def render(results: list[dict]) -> str:
    lines = ["# improvd benchmarks", "",
             "Written by `python -m bench` (`make bench`); each row is a measured value on the "
             "machine named, with the load average at the time: other jobs share these machines, "
             "so figures are medians/percentiles of interleaved runs. Details (all percentiles, "
             "ratios, parity of the rebuilt Keras weights) are in the JSON file of each benchmark.",
             "", "| Figure | Target | Measured | Pass | Notes | Date | Machine |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        quick = " (quick run)" if r.get("quick") else ""
        under = f" [under load: {r['load']}]" if r.get("load") else ""
        for f in r["figures"]:
            why = f["why"].replace("|", "/")
            lines.append(f"| {f['figure']}{under} | {f['target']} | {format_value(f)} | "
                         f"{format_pass(f)} | {why} | {r['date']}{quick} | "
                         f"{_machine(r['machine'])} |")
    models = sorted({r["details"]["model"] for r in results if "model" in r.get("details", {})})
    if models:
        lines += ["", "Model measured: " + "; ".join(models) + "."]
    return "\n".join(lines) + "\n"


def write_summary(results_dir: Path = common.RESULTS_DIR) -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / "summary.md"
    path.write_text(render(load_results(results_dir)))
    return path
