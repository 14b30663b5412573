"""Figure 3: the daemon as a process on a real JACK server.

  start to ports open   Popen -> both of its JACK MIDI ports exist (probed through libjack)
  resident memory       VmRSS from /proc/<pid>/status once it has answered a phrase
  idle CPU              utime + stime from /proc/<pid>/stat over a quiet stretch
  input flood           10,000 events/s from a JACK client: its queue depth, VmRSS and input ->
                        engine latency per second, against the same latency idle. Under a backlog
                        the model hears only the newest tokens (daemon/context.py: thin); how many
                        it was spared is reported beside.
  flood digest          then twice that rate offered for a few seconds: the events/s the engine
                        takes in when offered more than the target (at 10,000/s offered it can
                        only take in what was sent, which says nothing of its capacity).
"""

from __future__ import annotations

import contextlib
import logging
import re
import statistics
import tempfile
import threading
import time
from pathlib import Path

from improvd.daemon.input_timing import ACTIVE_S
from improvd.daemon.jackd import unique
from improvd.daemon.metrics import read_metrics
from improvd.testsupport.daemon_process import Daemon
from improvd.testsupport.midi_peer import MidiPeer

from . import common
from .harness import (
    PortProbe,
    calls_over_after,
    cpu_seconds,
    dropped_messages,
    memory_mb,
    private_jack_server,
    rss_mb,
    stale_key_releases,
    thinned_tokens,
    thread_cpu_seconds,
    write_config,
)

log = logging.getLogger(__name__)

NAME = "process"
START_S, RSS_MB, IDLE_CPU_PCT, FLOOD_RATE = 1.5, 150.0, 1.0, 10_000
DIGEST_OFFERED = 2 * FLOOD_RATE  # events/s offered to measure the digest capacity


def time_to_ports(start) -> tuple[object, float]:
    """Calls start(name), which returns once the daemon says it listens, while probing JACK for
    the daemon's two ports; returns (daemon, seconds from the call to both ports existing)."""
    name = unique("improvd-bench")
    wanted = {f"{name}:in", f"{name}-out:out"}
    seen: dict[str, float] = {}
    done = threading.Event()
    probe = PortProbe("bench-probe")

    def watch():  # a thread of this process
        while not done.is_set():
            if wanted <= set(probe.ports(re.escape(name))):
                seen["t"] = time.monotonic()
                return
            time.sleep(0.002)

    started = time.monotonic()
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        daemon = start(name)
    finally:
        watcher.join(timeout=5)
        done.set()
        watcher.join()
        probe.close()
    if "t" not in seen:
        daemon.stop()
        raise RuntimeError(f"{name}: ports never seen in JACK although the daemon listens")
    return daemon, seen["t"] - started


# Two idle JACK MIDI clients wired as the daemon is (its input from the player's port, its output
# to the player's synth): the CPU they cost with no Python work at all is the floor under the
# daemon's idle CPU. Wired, not bare: a connected port costs JACK more each period (measured:
# 1.5-2.0% against 1.0-1.4% of a core for the same two clients unconnected).
_BARE_CLIENTS = """
import sys, time, rtmidi
name, source, sink = sys.argv[1:4]
i = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name=name)
o = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=name + "-out")
i.open_port(i.get_ports().index(source), "in")
o.open_port(o.get_ports().index(sink), "out")
print("ready", flush=True)
time.sleep(3600)
"""


@contextlib.contextmanager
def bare_clients(server, peer, tries: int = 3):
    """A process holding two idle python-rtmidi JACK clients connected to `peer` as the daemon
    is; yields its pid, or None when none could be started (a loaded server may refuse a client
    now and then)."""
    import subprocess
    import sys

    for _ in range(tries):
        proc = subprocess.Popen([sys.executable, "-c", _BARE_CLIENTS, unique("bench-bare"),
                                 peer.out_name, peer.in_name],
                                env=server.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                text=True)
        try:
            if proc.stdout.readline().strip() == "ready":
                yield proc.pid
                return
            log.warning("the bare JACK client process did not start (exit %s)", proc.poll())
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    yield None


def idle_cpu(daemon_pid: int, bare_pid: int | None, seconds: float) -> dict:
    """% of a core over the same `seconds`: the daemon, the bare clients beside it, and the
    daemon's threads by name."""
    threads0, bare0 = thread_cpu_seconds(daemon_pid), bare_pid and cpu_seconds(bare_pid)
    cpu0, t0 = cpu_seconds(daemon_pid), time.monotonic()
    time.sleep(seconds)
    span = time.monotonic() - t0
    pct = 100 / span
    threads = thread_cpu_seconds(daemon_pid)
    return {"daemon": (cpu_seconds(daemon_pid) - cpu0) * pct,
            "bare": None if not bare_pid else (cpu_seconds(bare_pid) - bare0) * pct,
            "by_thread": {name: round((t - threads0.get(name, 0.0)) * pct, 3)
                          for name, t in sorted(threads.items())},
            "seconds": span}


def phrase(peer, pitches, note_s=0.06, gap_s=0.02) -> None:
    import mido

    for p in pitches:
        peer.send(mido.Message("note_on", note=p, velocity=80))
        time.sleep(note_s)
        peer.send(mido.Message("note_off", note=p, velocity=0))
        time.sleep(gap_s)


def flood(peer, seconds: float, rate: int, pid: int) -> tuple[int, list[tuple[float, float]]]:
    """Send `rate` events/s (note-on/off pairs over 16 channels) for `seconds`, paced by the
    clock; returns (events sent, [(time, VmRSS MB)] sampled about once a second)."""
    import mido

    messages = []
    for i in range(512):
        pitch, channel = 36 + (i * 7) % 60, i % 16
        messages += [mido.Message("note_on", note=pitch, velocity=1 + i % 127,
                                  channel=channel).bytes(),
                     mido.Message("note_off", note=pitch, channel=channel).bytes()]
    sent, rss, started = 0, [], time.monotonic()
    next_sample = started
    while (now := time.monotonic()) < started + seconds:
        due = int((now - started) * rate)
        while sent < due:
            peer.send_raw(messages[sent % len(messages)])
            sent += 1
        if now >= next_sample:
            rss.append((now, rss_mb(pid)))
            next_sample += 1.0
        time.sleep(0.001)
    return sent, rss


def per_second(heard, start: float, end: float) -> list[dict]:
    """Per second of the flood, by the time the engine handled them: events taken in, their
    input -> engine latency p99, and the deepest queue seen behind them."""
    rows = []
    for second in range(int(end - start)):
        lo, hi = start + second, start + second + 1
        part = [(s, st, q) for s, st, q in heard if lo <= st < hi]
        rows.append({"second": second, "events": len(part),
                     "latency_p99_ms": common.stats([st - s for s, st, _ in part], 1000)["p99"],
                     "queue_max": max((q for *_, q in part), default=0)})
    return rows


def _taken_in_rate(heard, start: float) -> float:
    """Events taken in per second, from `start` to the last one taken in (a backlog is taken in
    after the sending has ended)."""
    return len(heard) / max(1e-9, max((st for _, st, _ in heard), default=0.0) - start)


def engine_capacity(model, events: int, rounds: int = 2) -> dict:
    """Events/s the engine thread handles in this process, without vs with a metrics file
    (alternated, median of `rounds` each): what the flood races against."""
    from .engine_capacity import events_per_second

    runs: dict[str, list[dict]] = {"plain": [], "metrics": []}
    for _ in range(rounds):
        for mode, got in runs.items():
            got.append(events_per_second(model, events, metrics=mode == "metrics"))
    return {mode: {"events_per_s": statistics.median(r["events_per_s"] for r in got),
                   "model_steps_per_event": got[0]["model_steps_per_event"]}
            for mode, got in runs.items()} | {"events": events, "rounds": rounds}


def run(quick: bool = False, results_dir: Path = common.RESULTS_DIR) -> dict:
    starts, phrases, idle_s, flood_s = (1, 2, 1.0, 3.0) if quick else (5, 10, 10.0, 30.0)
    digest_s = 2.0 if quick else 5.0
    with (tempfile.TemporaryDirectory(prefix="improvd-bench-") as tmp,
          private_jack_server() as server):
        model, described = common.model_under_test(Path(tmp))
        config = write_config(Path(tmp) / "config.toml")
        metrics = Path(tmp) / "metrics.jsonl"
        args = ["--config", str(config), "--metrics", str(metrics)]
        peer = MidiPeer()
        try:
            start_s = []
            for _ in range(starts - 1):
                daemon, seconds = time_to_ports(lambda n: Daemon(server, model, None, args,
                                                                 client_name=n))
                start_s.append(seconds)
                daemon.stop()
            daemon, seconds = time_to_ports(lambda n: Daemon(server, model, peer, args,
                                                             client_name=n))
            start_s.append(seconds)
            try:
                for k in range(phrases):  # answered phrases: warm, and idle input -> state latency
                    phrase(peer, [60 + k, 64 + k, 67 + k, 72 + k])
                    time.sleep(1.0)
                idle_until = time.monotonic()
                memory = memory_mb(daemon.pid)
                rss_warm = memory["VmRSS"]
                # Idle: the last answer over, and past the input thread's fast-look window.
                peer.wait_quiet(0.2, timeout=30)
                # The bare clients are measured beside the daemon, over the same seconds: the
                # machine's noise then weighs on both alike.
                with bare_clients(server, peer) as bare_pid:
                    time.sleep(ACTIVE_S + 0.5)
                    idle = idle_cpu(daemon.pid, bare_pid, idle_s)
                idle_cpu_pct, bare_cpu = idle["daemon"], idle["bare"]
                flood_start = time.monotonic()
                cpu0 = cpu_seconds(daemon.pid)
                sent, rss = flood(peer, flood_s, FLOOD_RATE, daemon.pid)
                flood_end = time.monotonic()
                flood_cpu = 100 * (cpu_seconds(daemon.pid) - cpu0) / (flood_end - flood_start)
                # The answer to the flood comes once the backlog has drained (the engine does
                # not end a call while input is queued): wait for it, then for its end.
                peer.wait_for(lambda: calls_over_after(metrics, flood_end), timeout=180,
                              poll_s=0.2)
                answered = calls_over_after(metrics, flood_end)
                drain_s = answered[0] - flood_end if answered else None
                peer.wait_quiet(1.0, timeout=60)
                digest_start = time.monotonic()
                digest_sent, _ = flood(peer, digest_s, DIGEST_OFFERED, daemon.pid)
                digest_end = time.monotonic()
                peer.wait_for(lambda: calls_over_after(metrics, digest_end), timeout=180,
                              poll_s=0.2)
                peer.wait_quiet(1.0, timeout=60)
                alive = daemon.process.poll() is None
                rss_after = rss_mb(daemon.pid) if alive else None
            finally:
                daemon.stop()
            text = daemon.log()
        finally:
            peer.close()
        capacity = engine_capacity(model, 4_000 if quick else 20_000)
        timing = read_metrics(metrics)
    dropped, thinned = dropped_messages(text), thinned_tokens(text)
    idle_lat = common.stats([st - s for s, st, _ in timing.heard if s < idle_until], 1000)
    in_flood = [(s, st, q) for s, st, q in timing.heard if flood_start <= s < flood_end]
    flood_lat = common.stats([st - s for s, st, _ in in_flood], 1000)
    seconds = per_second(timing.heard, flood_start, flood_end)
    third = max(1, len(seconds) // 3)
    early, late = seconds[third:2 * third] or seconds, seconds[-third:]
    queue_growth = max(r["queue_max"] for r in late) - max(r["queue_max"] for r in early)
    rss_growth = rss[-1][1] - rss[len(rss) // 3][1] if len(rss) > 1 else 0.0
    ratio = flood_lat["p99"] / idle_lat["p99"] if flood_lat["n"] and idle_lat["n"] else None
    handled_rate = _taken_in_rate(in_flood, flood_start)
    in_digest = [(s, st, q) for s, st, q in timing.heard if digest_start <= s < digest_end]
    digest_rate = _taken_in_rate(in_digest, digest_start)
    stale = stale_key_releases(text)
    figures = [
        common.figure("3. start to ports open (median)", statistics.median(start_s), "s",
                      f"<= {START_S} s", lambda v: v <= START_S,
                      f"{len(start_s)} starts: " + ", ".join(f"{s:.2f}" for s in start_s) + " s"),
        common.figure("3. resident memory (VmRSS, after answering)", rss_warm, "MB",
                      f"<= {RSS_MB:.0f} MB", lambda v: v <= RSS_MB,
                      f"of which JACK's shared segment (RssShmem) "
                      f"{memory.get('RssShmem', 0):.0f} MB, own (RssAnon) "
                      f"{memory.get('RssAnon', 0):.0f} MB"),
        # The two JACK clients' own cost (their process threads run every period whatever the
        # daemon does) is measured apart, in a process of its own, and taken off.
        common.figure("3. idle CPU beyond two bare JACK clients", None if bare_cpu is None
                      else idle_cpu_pct - bare_cpu, "% of a core", f"<= {IDLE_CPU_PCT}%",
                      lambda v: v <= IDLE_CPU_PCT,
                      f"daemon {idle_cpu_pct:.2f}% over {idle_s:.0f} s with no input, from "
                      f"{ACTIVE_S + 0.5:.1f} s after the last note; two bare rtmidi JACK clients "
                      "wired alike, over the same seconds: " + (
                          f"{bare_cpu:.2f}%" if bare_cpu is not None else "could not start") +
                      "; the daemon's threads: " + ", ".join(
                          f"{name} {pct:.2f}%" for name, pct in idle["by_thread"].items()
                          if pct > 0)),
        common.figure("3. flood digest (events/s taken in by the engine)", digest_rate,
                      "events/s", f">= {FLOOD_RATE:,}/s", lambda v: v >= FLOOD_RATE,
                      f"{digest_sent / digest_s:,.0f} events/s offered for {digest_s:.0f} s, "
                      f"{len(in_digest):,} of {digest_sent:,} taken in; at "
                      f"{sent / flood_s:,.0f} events/s for {flood_s:.0f} s {len(in_flood):,} of "
                      f"{sent:,}; {dropped:,} dropped by the daemon in all; the model was spared "
                      f"{thinned:,} tokens (it hears the newest); {stale} stale-key releases"),
        common.figure("3. flood: queue growth, last third vs middle third", queue_growth,
                      "events", "bounded (<= 64)", lambda v: v <= 64,
                      f"queue max {max((r['queue_max'] for r in seconds), default=0)}; "
                      f"{sent / flood_s:,.0f} events/s sent, {handled_rate:,.0f}/s taken in, "
                      f"{dropped:,} dropped by the daemon; the engine alone handles "
                      f"{capacity['plain']['events_per_s']:,.0f}/s "
                      f"({capacity['metrics']['events_per_s']:,.0f}/s recording metrics)"),
        common.figure("3. flood: VmRSS growth, last two thirds", rss_growth, "MB",
                      "bounded (<= 5 MB)", lambda v: v <= 5.0,
                      f"{rss[0][1]:.1f} -> {rss[-1][1]:.1f} MB" if rss else ""),
        common.figure("3. flood: input->engine p99 / idle p99", ratio, "x", "<= 2x",
                      lambda v: v <= 2.0,
                      f"flood p99 {flood_lat['p99']:.1f} ms vs idle p99 {idle_lat['p99']:.2f} ms"
                      if ratio else "no latency sample"),
    ]
    common.histogram({"input to state, idle (ms)": [(st - s) * 1000 for s, st, _ in timing.heard
                                                    if s < idle_until],
                      "input to state, under flood (ms)": [(st - s) * 1000
                                                           for s, st, _ in in_flood]},
                     results_dir / f"{NAME}.png", f"input -> model state, idle vs "
                                                  f"{FLOOD_RATE:,} events/s flood")
    details = {
        "model": described, "start_to_ports_s": start_s, "rss_mb_warm": rss_warm,
        "memory_mb_warm": memory,
        "rss_mb_after_flood": rss_after, "idle_cpu_pct": idle_cpu_pct,
        "bare_jack_clients_idle_cpu_pct": bare_cpu, "idle_seconds": idle_s,
        "idle_cpu_pct_by_thread": idle["by_thread"],
        "flood": {"seconds": flood_s, "events_sent": sent, "rate_sent": sent / flood_s,
                  "events_taken_in": len(in_flood), "rate_taken_in": handled_rate,
                  "dropped_by_daemon": dropped, "tokens_thinned_for_the_model": thinned,
                  "cpu_pct": flood_cpu,
                  "alive_after": alive, "backlog_drained_s_after_flood": drain_s,
                  "rss_mb_samples": [round(m, 1) for _, m in rss],
                  "per_second": seconds, "input_to_state_ms": flood_lat},
        "digest": {"seconds": digest_s, "events_offered": digest_sent,
                   "rate_offered": digest_sent / digest_s, "events_taken_in": len(in_digest),
                   "rate_taken_in": digest_rate,
                   "input_to_state_ms": common.stats([st - s for s, st, _ in in_digest], 1000)},
        "stale_key_releases": stale,
        "idle_input_to_state_ms": idle_lat, "engine_capacity": capacity,
        "note": "the daemon records its measurements with --metrics (one record per event)",
    }
    out = common.result(NAME, quick, figures, details)
    common.write_result(NAME, out, results_dir)
    return out
