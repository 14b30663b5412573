"""`improvd` command line: one entry, subcommands registered by the part that owns them.

This is the one module that reaches all three layers (daemon <- training <- export): daemon
commands (run, ports) live in daemon/commands.py; training commands (train, evaluate, generate)
in training/commands.py; export commands (export, verify, quantize) in export/commands.py.
Each `register(subparsers)` imports only argparse-level code, so `improvd run` never loads
TensorFlow or music21: the heavy imports happen inside the training handlers.
"""

from __future__ import annotations

import argparse
import logging
import sys

from . import crash_log
from .errors import CommandError


def build_parser() -> argparse.ArgumentParser:
    from . import commands as daemon_commands

    parser = argparse.ArgumentParser(
        prog="improvd",
        description="Real-time MIDI improvisation: listens to a phrase and answers it.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more logging (-v info, -vv debug with latency figures)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    daemon_commands.register(sub)
    try:
        from improvd.export import commands as export_commands
        from improvd.training import commands as training_commands
    except ImportError:  # a runtime-only install without the training folders
        pass
    else:
        training_commands.register(sub)
        export_commands.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    if args.command == "run":
        level = min(level, logging.INFO)  # a musician wants to see listening/responding
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    crash_log.enable()  # a crash in compiled code: every thread's stack in the log
    try:
        return int(args.handler(args) or 0)
    except CommandError as exc:
        print(f"improvd {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
