"""`python -m bench [--quick] [--only NAME ...]`: run the benchmarks, write bench/results/.

Each benchmark writes bench/results/<name>.json (figures with their targets and pass flags) and
PNG histograms; summary.md is then rebuilt from every JSON file there. The JACK benchmarks run
first and TensorFlow loads last, so its threads do not share the machine with the latency runs.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import time
from pathlib import Path

from . import common, summary

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
    args = parser.parse_args(argv)
    if args.model is not None:
        if not args.model.is_file():
            parser.error(f"--model {args.model}: no such file")
        common.use_model(args.model)
    logging.basicConfig(level=logging.INFO, datefmt="%H:%M:%S",
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    failed = []
    for name in args.only or BENCHMARKS:
        started = time.monotonic()
        log.info("running %s%s", name, " (quick)" if args.quick else "")
        try:
            out = importlib.import_module(BENCHMARKS[name]).run(quick=args.quick,
                                                                results_dir=args.results)
        except Exception:
            log.exception("benchmark %s failed", name)
            failed.append(name)
            continue
        for f in out["figures"]:
            print(summary.format_line(f))
        log.info("%s took %.0f s", name, time.monotonic() - started)
    path = summary.write_summary(args.results)
    print(f"summary: {path}")
    if failed:
        print(f"failed to run: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
