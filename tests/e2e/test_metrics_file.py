"""`improvd run --metrics FILE`: the measurements the benchmarks read, from a real daemon process
on real JACK ports, on the clock this process shares with it."""

from __future__ import annotations

import time

import pytest

from improvd.daemon.metrics import read_metrics

pytestmark = pytest.mark.e2e


def test_the_daemon_records_what_it_heard_when_the_call_ended_and_each_note_due(
        peer, start_daemon, config_file, tmp_path):
    config = config_file({"policy": {"silence_ms": 300, "response": 1.0},
                          "sampling": {"seed": 3}})
    path = tmp_path / "metrics.jsonl"
    daemon = start_daemon(peer, ["--config", str(config), "--metrics", str(path)])
    start = time.monotonic()
    ended = peer.play([60, 64, 67])
    assert peer.wait_for(lambda: peer.note_ons(since=ended), timeout=5), daemon.log()
    peer.wait_quiet(0.3, timeout=5, since=ended)
    assert daemon.terminate() == 0, daemon.log()
    got = read_metrics(path)
    assert len(got.heard) == 6  # three note-ons, three note-offs, each once in the model state
    assert all(start <= stamp <= in_state <= ended + 0.1 for stamp, in_state, _ in got.heard)
    assert len(got.calls) == 1 and ended <= got.calls[0] <= ended + 0.3 + 0.05
    arrived = [t for t, _ in peer.note_ons(since=ended)]
    assert len(got.dues[0]) == len(arrived) and arrived[0] >= got.dues[0][0][1]
    assert len(got.answers) == 1
