"""Soak: continuous calls and barge-ins for an hour against `improvd run` on a real JACK server.

`python -m bench.soak --minutes M` (the full run is 60; `python -m bench` runs it with the others).
A JACK client plays a call of 4-6 notes, waits for the answer, and about one time in three cuts it
by playing on (a barge-in); reported: answers given, notes left sounding at a C client and at the
Python peer, messages lost on the wire (bench/wire.py), VmRSS growth after the warm-up, and the
drift of the reaction time (call end -> first answer note at the peer, minus silence_ms) from the
first tenth of the answers to the last.
"""

from __future__ import annotations

import logging
import random
import statistics
import time
from pathlib import Path


from . import common
from .harness import rss_mb
from .watched_daemon import watched_daemon
from .wire import wire_figures

log = logging.getLogger(__name__)

NAME = "soak"
FULL_MIN, QUICK_MIN = 60.0, 0.5
SILENCE_S, RESPONSE_S, BARGE_IN = 0.3, 2.0, 0.3
RSS_GROWTH_MB, RSS_EVERY_S = 5.0, 10.0
SETTINGS = (f"[policy]\nsilence_ms = {int(SILENCE_S * 1000)}\nresponse = {RESPONSE_S}\n"
            "answer_start = \"now\"\nend_on_pulse = false\nbarge_in = \"stop\"\n"
            "[sampling]\nseed = 1\n")


def soak(peer, daemon, seconds: float, rng: random.Random) -> dict:
    """Calls until `seconds` have passed; returns the counts and samples."""
    reactions, rss, calls, barge_ins = [], [], 0, 0
    started = time.monotonic()
    next_rss = started
    while (now := time.monotonic()) < started + seconds:
        if now >= next_rss:
            rss.append((now - started, rss_mb(daemon.pid)))
            next_rss += RSS_EVERY_S
        low = rng.randrange(48, 72)
        ended = peer.play([low + rng.choice((0, 2, 4, 5, 7, 9, 12)) for _ in range(
            rng.randrange(4, 7))], note_s=0.12, gap_s=0.03)
        calls += 1
        if not peer.wait_for(lambda: peer.note_ons(since=ended), timeout=SILENCE_S + 3):
            continue
        reactions.append((time.monotonic() - started,
                          peer.note_ons(since=ended)[0][0] - ended - SILENCE_S))
        if rng.random() < BARGE_IN:
            time.sleep(rng.uniform(0.2, 0.8))  # then the next call cuts the answer
            barge_ins += 1
        else:
            peer.wait_quiet(0.4, timeout=RESPONSE_S + 4, since=ended)
    rss.append((time.monotonic() - started, rss_mb(daemon.pid)))
    return {"calls": calls, "reactions": reactions, "barge_ins": barge_ins, "rss": rss,
            "seconds": time.monotonic() - started}


def run(quick: bool = False, results_dir: Path = common.RESULTS_DIR,
        minutes: float | None = None) -> dict:
    minutes = minutes or (QUICK_MIN if quick else FULL_MIN)
    with watched_daemon(SETTINGS) as w:
        got = soak(w.peer, w.daemon, minutes * 60, random.Random(6))
        w.peer.wait_quiet(0.5, timeout=10)
        alive = w.daemon.process.poll() is None
    reactions = [r * 1000 for _, r in got["reactions"]]
    tenth = max(1, len(reactions) // 10)
    drift = (statistics.median(reactions[-tenth:]) - statistics.median(reactions[:tenth])
             if reactions else None)
    rss = got["rss"]
    warm = next((mb for t, mb in rss if t >= got["seconds"] / 10), rss[0][1])
    growth = max(mb for t, mb in rss if t >= got["seconds"] / 10) - warm if rss else None
    wire, wire_details = wire_figures("6. soak", w.daemon_log, w.server_log, w.heard,
                                       w.peer_heard)
    figures = [
        common.figure("6. soak: answers given", len(reactions), "answers", "report only", None,
                      f"{got['calls']} calls, {got['barge_ins']} barge-ins in "
                      f"{got['seconds'] / 60:.1f} min; daemon " + ("alive" if alive else "DIED")),
        common.figure("6. soak: duration", got["seconds"] / 60, "min", f">= {FULL_MIN:.0f} min",
                      lambda v: v >= FULL_MIN, "continuous calls and barge-ins"),
        *wire,
        common.figure("6. soak: VmRSS growth after the first tenth", growth, "MB",
                      f"< {RSS_GROWTH_MB:.0f} MB", lambda v: v < RSS_GROWTH_MB,
                      f"{warm:.1f} MB after the first tenth, sampled every {RSS_EVERY_S:.0f} s"),
        common.figure("6. soak: reaction drift, last tenth vs first (median)", drift, "ms",
                      "report only", None,
                      f"reaction p50 {statistics.median(reactions):.1f} ms over {len(reactions)} "
                      "answers (first answer note - call end - silence_ms, at the peer)"
                      if reactions else "no answer"),
    ]
    details = {"model": w.described, "minutes": minutes, **{k: got[k] for k in
               ("calls", "barge_ins", "seconds")}, "rss_mb": rss,
               "reaction_ms": common.stats(reactions), **wire_details,
               "jack": "jackd -S -d dummy -r 48000 -p 64 (private server, xruns logged)"}
    out = common.result(NAME, minutes < FULL_MIN, figures, details)
    common.write_result(NAME, out, results_dir)
    return out


def main() -> int:
    return common.run_alone("python -m bench.soak", __doc__, "minutes", FULL_MIN, run)


if __name__ == "__main__":
    raise SystemExit(main())
