"""Fuzz: a million random MIDI messages through the daemon's real JACK input port.

`python -m bench.fuzz_input --messages N` (the full run is 1,000,000; `python -m bench` runs it
with the other benchmarks). Random channel messages and stray bytes (testsupport/midi_fuzz.py)
from a JACK client into `improvd run`, a normal call after them; reported: messages sent, the
daemon alive and answering the call, notes left sounding at a C client and at the Python peer, and
messages lost on the wire (bench/wire.py), VmRSS growth over the run.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from improvd.testsupport.midi_fuzz import send_random

from . import common
from .harness import rss_mb
from .watched_daemon import watched_daemon
from .wire import wire_figures

log = logging.getLogger(__name__)

NAME = "fuzz_input"
FULL, QUICK = 1_000_000, 20_000
SAMPLES = 20  # VmRSS samples over the run
RSS_GROWTH_MB = 5.0
SETTINGS = ("[policy]\nsilence_ms = 300\nstuck_key_s = 2.0\nmax_response_s = 2.0\n"
            "answer_start = \"now\"\n[sampling]\nseed = 1\n")


def answered(peer, timeout: float) -> bool:
    start = time.monotonic()
    peer.play([60, 64, 67, 72])
    return peer.wait_for(lambda: peer.note_ons(since=start), timeout=timeout)


def run(quick: bool = False, results_dir: Path = common.RESULTS_DIR,
        messages: int | None = None) -> dict:
    messages = messages or (QUICK if quick else FULL)
    with watched_daemon(SETTINGS) as w:
        peer, daemon = w.peer, w.daemon
        assert answered(peer, 5), "no answer before the fuzz"
        peer.wait_quiet(0.5, timeout=10)
        rss = [rss_mb(daemon.pid)]
        started = time.monotonic()
        chunk = max(1, messages // SAMPLES)
        for done in range(0, messages, chunk):
            send_random(peer, min(chunk, messages - done), seed=done)
            rss.append(rss_mb(daemon.pid))
        fuzz_s = time.monotonic() - started
        alive = daemon.process.poll() is None
        time.sleep(2.0 + 0.3 + 1.0)  # stale keys released, the fuzz's own call ends
        peer.wait_quiet(0.5, timeout=30)
        after = answered(peer, 8) if alive else False
        peer.wait_quiet(0.5, timeout=10)
    growth = max(rss[1:], default=rss[0]) - rss[1] if len(rss) > 1 else 0.0
    wire, wire_details = wire_figures("6. fuzz", w.daemon_log, w.server_log, w.heard,
                                       w.peer_heard)
    figures = [
        common.figure("6. fuzz: random messages through the real input port", messages,
                      "messages", f">= {FULL:,}", lambda v: v >= FULL,
                      f"in {fuzz_s:.1f} s ({messages / fuzz_s:,.0f}/s); daemon "
                      + ("alive" if alive else "DIED")),
        common.figure("6. fuzz: a normal call answered afterwards", 1.0 if after else 0.0, "",
                      "1 (yes)", lambda v: v == 1.0, "4 notes, answer within 8 s"),
        *wire,
        common.figure("6. fuzz: VmRSS growth", growth, "MB", f"< {RSS_GROWTH_MB:.0f} MB",
                      lambda v: v < RSS_GROWTH_MB,
                      f"highest sample minus the first after {chunk:,} messages; "
                      f"{rss[0]:.1f} MB before the fuzz"),
    ]
    details = {"model": w.described, "messages": messages, "seconds": fuzz_s,
               "rss_mb_every_chunk": rss, "chunk": chunk, **wire_details,
               "jack": "jackd -S -d dummy -r 48000 -p 64 (private server, xruns logged)"}
    out = common.result(NAME, messages < FULL, figures, details)
    common.write_result(NAME, out, results_dir)
    return out


def main() -> int:
    return common.run_alone("python -m bench.fuzz_input", __doc__, "messages", FULL, run)


if __name__ == "__main__":
    raise SystemExit(main())
