"""Every thread's Python stack in the log when compiled code crashes the process.

A segfault in the MIDI library's JACK callback or in onnxruntime kills the process with no
Python traceback; faulthandler writes each thread's stack to stderr (the log) first, the one clue
to which thread it was.
"""

from __future__ import annotations

import faulthandler


def enable() -> None:
    try:
        faulthandler.enable()
    except ValueError:  # stderr is no file (a test's capture, io.UnsupportedOperation): no log
        pass
