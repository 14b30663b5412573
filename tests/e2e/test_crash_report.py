"""A crash in compiled code (the MIDI library's JACK callback, onnxruntime) leaves the daemon's
log with every thread's Python stack, not silence: the one clue to which thread it was."""

from __future__ import annotations

import signal

import pytest

pytestmark = pytest.mark.e2e


def test_a_segfault_writes_every_threads_stack_to_the_log(peer, start_daemon):
    daemon = start_daemon(peer)
    daemon.process.send_signal(signal.SIGSEGV)
    assert daemon.process.wait(timeout=10) == -signal.SIGSEGV
    log = daemon.log()
    assert "Fatal Python error: Segmentation fault" in log, log[-3000:]
    # The input thread's loop and the engine's are among the stacks.
    assert "daemon/ports.py" in log and "daemon/engine.py" in log, log[-3000:]
