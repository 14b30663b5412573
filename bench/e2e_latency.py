"""Figure 2: end to end through a real JACK server at 64-frame periods (48 kHz: 1.33 ms).

A MIDI peer (an outside JACK client) plays short calls into `improvd run`; the daemon answers on
its output port, which the peer listens to. Everything is stamped on the one monotonic clock:
  reaction        the daemon's "call over" instant -> the first answer note-on reaching the peer
  jitter          |each answer note-on's arrival at the peer - the time the sampler scheduled it|
                  (on JACK the daemon sends half a period early, so a note may arrive before it)
  input to state  the daemon's MIDI-callback stamp of an input note -> its tokens in the model
                  state (and, as a detail, the peer's send -> in state, JACK transport included)
The settings let the answer start at once (max_initial_wait_ms = 0), so the reaction is system
latency only, not a rest the model chose to play.
"""

from __future__ import annotations

import bisect
import logging
import tempfile
import time
from pathlib import Path

import numpy as np

from improvd.daemon.metrics import Metrics, read_metrics
from improvd.testsupport.daemon_process import Daemon
from improvd.testsupport.midi_peer import MidiPeer

from . import common, harness
from .harness import private_jack_server, write_config

log = logging.getLogger(__name__)

NAME = "e2e_latency"
TARGET_MS = common.JACK_PERIOD_S * 1000 + 1.0  # one JACK period + 1 ms
RESPONSE_S = 0.5
EARLY_S = common.JACK_PERIOD_S  # how early a note may arrive and still be the one scheduled
# The first answers pay one-off costs (lazy imports, first onnxruntime runs, page faults); they are
# reported apart and left out of the figures, as a player's first phrase would be a sound check.
WARMUP_CALLS = 2


def play_calls(peer, calls: int) -> tuple[list[float], int]:
    """Play `calls` two-note calls, each after the previous answer went quiet.
    Returns (send time of every input message, calls that got no answer)."""
    import mido

    sent, unanswered = [], 0
    for k in range(calls):
        started = time.monotonic()
        for pitch in (60 + k % 12, 67 + k % 5):
            sent.append(time.monotonic())
            peer.send(mido.Message("note_on", note=pitch, velocity=70 + k % 40))
            time.sleep(0.05)
            sent.append(time.monotonic())
            peer.send(mido.Message("note_off", note=pitch, velocity=0))
            time.sleep(0.02)
        if not peer.wait_for(lambda: peer.note_ons(since=started), timeout=3.0, poll_s=0.005):
            unanswered += 1
        else:  # the answer lasts RESPONSE_S: let it end, so no call overlaps an answer
            first = peer.note_ons(since=started)[0][0]
            time.sleep(max(0.0, first + RESPONSE_S - time.monotonic()))
        # A note-off the listener did not get (a few in a thousand here) is made good by the
        # daemon's All Notes Off: the answer is over then, as a synth hears it.
        peer.wait_quiet(0.1, timeout=3.0, all_off_ends_notes=True)
        if (k + 1) % 50 == 0:
            log.info("%d/%d calls answered", k + 1 - unanswered, k + 1)
    return sent, unanswered


def measure(timing: Metrics, arrivals: list[tuple[float, int]], skip: int = 0) -> dict:
    """Reaction and jitter samples (seconds) from the daemon's metrics and the peer's arrivals
    [(time, pitch)] of answer note-ons; the first `skip` answers (warm-up) are left out. Each
    scheduled note-on meets the first unused arrival of its pitch from EARLY_S before its due
    time: the daemon sends ahead by half a JACK period (daemon/output_latency.py), and a note
    that arrived early matched to the next one of its pitch would count as a phrase late."""
    reaction, jitter, unmatched = [], [], 0
    bounds = timing.calls[1:] + [float("inf")]
    answers = list(zip(timing.calls, bounds, timing.dues))[skip:]
    for call, end, dues in answers:
        # An answer computed ahead is sent so as to reach the listener at the call's end: its
        # first note may arrive up to a period before it (a negative reaction, kept as such).
        mine = [(t, p) for t, p in arrivals if call - EARLY_S <= t < end - EARLY_S]
        if mine:
            reaction.append(mine[0][0] - call)
        used = [False] * len(mine)
        for pitch, due in dues:  # each scheduled note-on meets its own arrival, in order
            match = next((i for i, (t, p) in enumerate(mine)
                          if not used[i] and p == pitch and t >= due - EARLY_S), None)
            if match is None:
                unmatched += 1
                continue
            used[match] = True
            jitter.append(abs(mine[match][0] - due))
    return {"reaction": reaction, "jitter": jitter, "unmatched_due": unmatched}


def run(quick: bool = False, results_dir: Path = common.RESULTS_DIR) -> dict:
    calls = WARMUP_CALLS + (5 if quick else 200)
    with (tempfile.TemporaryDirectory(prefix="improvd-bench-") as tmp,
          private_jack_server() as server):
        model, described = common.model_under_test(Path(tmp))
        config = write_config(Path(tmp) / "config.toml", response_s=RESPONSE_S)
        metrics = Path(tmp) / "metrics.jsonl"
        peer = MidiPeer()
        try:
            daemon = Daemon(server, model, peer, ["--config", str(config),
                                                  "--metrics", str(metrics)])
            try:
                sent, unanswered = play_calls(peer, calls)
            finally:
                daemon.stop()
            text = daemon.log()
            arrivals = [(t, m.note) for t, m in peer.note_ons()]
        finally:
            peer.close()
        timing = read_metrics(metrics)
    if not timing.calls:
        raise RuntimeError("the daemon recorded no call over; its log ends:\n" + text[-2000:])
    got = measure(timing, arrivals, skip=WARMUP_CALLS)
    warmup = measure(timing, arrivals)["reaction"][:WARMUP_CALLS]
    skip = 4 * WARMUP_CALLS  # input messages of the warm-up calls
    in_state = [state - stamp for stamp, state, _ in timing.heard[skip:]]
    # Each input event meets the last message the peer sent before the daemon stamped it (the
    # messages of a call are 20 ms or more apart; a message lost on the way leaves no gap here).
    send_to_state = [state - sent[i - 1] for stamp, state, _ in timing.heard[skip:]
                     if (i := bisect.bisect_right(sent, stamp)) > 0]
    reaction, jitter = common.stats(got["reaction"], 1000), common.stats(got["jitter"], 1000)
    # The engine's own record at the end of each answer: its worst send lateness (usually the
    # first note, due the instant the call ended) and its mean model step, both inside the daemon.
    late = [1000 * worst_late for _, _, worst_late in timing.answers]
    steps = [1000 * step_mean for step_mean, _, _ in timing.answers]
    state = common.stats(in_state, 1000)
    within = f"<= {TARGET_MS:.2f} ms (1 JACK period + 1 ms)"
    figures = [
        common.figure("2a. reaction p99 (call over -> first note-on at a JACK client)",
                      reaction["p99"], "ms", within, lambda v: v <= TARGET_MS,
                      f"p50 {reaction['p50']:.2f}, max {reaction['max']:.2f} ms over "
                      f"{reaction['n']} answers" if reaction["n"] else "no answer arrived"),
        common.figure("2b. jitter p99 (note-on arrival - scheduled time)", jitter["p99"], "ms",
                      within, lambda v: v <= TARGET_MS,
                      f"p50 {jitter['p50']:.2f}, max {jitter['max']:.2f} ms over {jitter['n']} "
                      f"notes" if jitter["n"] else "no note matched"),
        common.figure("2c. input to state p99 (MIDI stamp -> token in model state)", state["p99"],
                      "ms", "report only", None,
                      f"p50 {state['p50']:.3f}, max {state['max']:.2f} ms over {state['n']} events"
                      if state["n"] else "no input event logged"),
    ]
    common.histogram({"reaction (ms)": np.asarray(got["reaction"]) * 1000,
                      "jitter (ms)": np.asarray(got["jitter"]) * 1000,
                      "input to state (ms)": np.asarray(in_state) * 1000},
                     results_dir / f"{NAME}.png", "end to end through JACK (64 frames @ 48 kHz)",
                     targets_ms={"reaction (ms)": TARGET_MS, "jitter (ms)": TARGET_MS})
    details = {
        "model": described, "jack": "jackd -S -d dummy -r 48000 -p 64 (private server)",
        "calls_played": calls, "calls_unanswered": unanswered,
        "input_messages_sent": len(sent), "input_events_in_state": len(timing.heard),
        "warmup_calls": WARMUP_CALLS,
        "warmup_reaction_ms": [r * 1000 for r in warmup],
        "answers_logged": len(timing.calls), "unmatched_scheduled_notes": got["unmatched_due"],
        "reaction_ms": reaction, "jitter_ms": jitter, "input_to_state_ms": state,
        "peer_send_to_state_ms": common.stats(send_to_state, 1000),
        "daemon_worst_send_lateness_per_answer_ms": common.stats(late),
        "daemon_engine_step_mean_per_answer_ms": common.stats(steps),
        "target_ms": TARGET_MS,
        "settings": {"silence_ms": 60, "response_s": RESPONSE_S, "max_initial_wait_ms": 0,
                     "realtime_priority": harness.realtime_priority,
                     "measurements": "improvd run --metrics (daemon/metrics.py)"},
    }
    out = common.result(NAME, quick, figures, details)
    common.write_result(NAME, out, results_dir)
    return out
