"""Accompany mode on a virtual clock: the player's part is played into the real Engine (policy,
analysis, steering, sampler, scheduler, as `improvd run` uses them) with time moved by hand, and
everything the engine plays along is kept. The counterpart of offline.answer_call, for
evaluations and tests of accompany mode."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from .config import Config
from .engine import Engine
from .events import Event, Note, events_to_notes
from .offline import STEP_S, Collector, VirtualClock, offline_config

TAIL_S = 10.0  # after the player's last note: the accompaniment has long stopped by then


def accompany_part(config: Config, runner, part: Sequence[Event], *, seed: int | None = None,
                   step_s: float = STEP_S) -> list[Note]:
    """Play `part` (times in seconds) with improvd in accompany mode; returns its notes."""
    config = offline_config(config, seed)
    config = dataclasses.replace(config, policy=dataclasses.replace(config.policy,
                                                                    mode="accompany"))
    events = sorted(part, key=lambda e: (e.time, e.is_note_on, e.pitch))
    runner.reset()
    clock = VirtualClock(events[0].time)
    out = Collector(clock)
    engine = Engine(config, runner, out, clock=clock)
    i, ticks, origin = 0, 0, clock.now
    end = events[-1].time + TAIL_S
    while clock.now <= end:
        while i < len(events) and events[i].time <= clock.now:
            engine.handle(events[i], events[i].time)
            i += 1
        engine.tick(clock.now)
        engine.scheduler.run_due(clock.now)
        if i == len(events) and engine.response is None and not engine.scheduler.pending():
            break
        ticks += 1  # counted, not summed: sums of small steps drift off the deadlines
        clock.now = round(origin + ticks * step_s, 9)
        if i < len(events):
            clock.now = min(clock.now, events[i].time)
    engine.scheduler.panic()
    return events_to_notes(e for _, e in out.sent if e.kind != "control_change")
