"""`python -m bench [--quick] [--only NAME ...] [--load both|quiet|busy]`: run the benchmarks.

Each benchmark writes bench/results/<name>.json (figures with their targets and pass flags) and
PNG histograms; summary.md is then rebuilt from every JSON file there. The timing benchmarks
(load.py) run twice by default: quiet, then beside a busy loop on every core (<name>_loaded.json,
the load named in the table). The JACK benchmarks run first and TensorFlow loads last, so its
threads do not share the machine with the latency runs.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import sys
import time
from pathlib import Path

from improvd.daemon import crash_log

from . import common, harness, load, summary

log = logging.getLogger(__name__)

# name -> module; in run order
BENCHMARKS = {
    "e2e_latency": "bench.e2e_latency",
    "clock_sync": "bench.clock_sync",
    "process": "bench.process",
    "inference": "bench.inference",
    "markov_peer": "bench.markov_peer",
    # The long runs: a million fuzzed messages, an hour of calls (--quick: 20,000 and half a minute).
    "fuzz_input": "bench.fuzz_input",
    "soak": "bench.soak",
    "stalled_reader": "bench.stalled_reader",
    "training_throughput": "bench.training_throughput",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny counts: checks the harness")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), metavar="NAME",
                        help=f"run only this one (repeatable): {', '.join(BENCHMARKS)}")
    parser.add_argument("--results", type=Path, default=common.RESULTS_DIR,
                        help="where to write the results (default bench/results)")
    parser.add_argument("--model", type=Path,
                        help="benchmark this exported .onnx (default: models/default.onnx)")
    parser.add_argument("--load", choices=("both", "quiet", "busy"), default="both",
                        help=f"run the timing benchmarks ({', '.join(load.TIMED)}) quiet, beside "
                             "a busy loop on every core, or both (default)")
    parser.add_argument("--priority", type=int, metavar="N",
                        help="the daemon's [realtime] priority in the timing runs (default: its "
                             "own default, 4)")
    args = parser.parse_args(argv)
    harness.realtime_priority = args.priority
    if args.model is not None:
        if not args.model.is_file():
            parser.error(f"--model {args.model}: no such file")
        common.use_model(args.model)
    logging.basicConfig(level=logging.INFO, datefmt="%H:%M:%S",
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    crash_log.enable()  # a crash in compiled code: every thread's stack, not silence
    failed = []
    for name in args.only or BENCHMARKS:
        loads = ("quiet", "busy") if args.load == "both" else (args.load,)
        for how in loads if name in load.TIMED else ("quiet",):
            if not _run_one(name, how, args):
                failed.append(name if how == "quiet" else f"{name} ({how})")
    path = summary.write_summary(args.results)
    print(f"summary: {path}")
    if failed:
        print(f"failed to run: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _run_one(name: str, how: str, args) -> bool:
    started = time.monotonic()
    log.info("running %s%s%s", name, " (quick)" if args.quick else "",
             " beside a busy loop on every core" if how == "busy" else "")
    try:
        with load.busy_loops() if how == "busy" else contextlib.nullcontext():
            out = importlib.import_module(BENCHMARKS[name]).run(quick=args.quick,
                                                                results_dir=args.results)
    except Exception:
        log.exception("benchmark %s failed", name)
        return False
    for f in out["figures"]:
        print(summary.format_line(f))
    log.info("%s took %.0f s", name, time.monotonic() - started)
    return True


if __name__ == "__main__":
    sys.exit(main())
