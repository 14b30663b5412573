"""The live answer path on a virtual clock: `improvd generate` and every evaluation answer here.

answer_call plays a call into the real Engine (policy, analysis, steering, sampler, scheduler:
the objects `improvd run` uses) with time moved by hand instead of by threads. Each call event is
handled at its own time; between events the clock moves in small steps, and at each step the
engine ticks (which may end the call and generate the answer just ahead of the clock) and the
scheduler sends what is due, exactly as its thread would (`Scheduler.run_due`). Nothing of the
answer's logic lives here, so an offline answer is the answer the daemon would have played.

What it relies on from Engine: the constructor (config, runner, output, clock), handle(event, t),
tick(now), scheduler.run_due(now) / pending() / sounding(), response (None while listening; while
answering an object with `started`, `end` and `call_ended` times) and last_reaction_s.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from .config import Config
from .engine import Engine
from .events import Event, Note, events_to_notes

log = logging.getLogger(__name__)

STEP_S = 0.001  # the engine thread wakes at its deadlines; 1 ms steps stay within 1 ms of them
SLACK_S = 10.0  # past the longest answer and a slow bar before it: give up (a call too short)


class VirtualClock:
    """A clock that only moves when told to (the engine's and scheduler's `clock`)."""

    def __init__(self, now: float = 0.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


class Collector:
    """The output port: keeps every sent event with the virtual time it was sent at."""

    def __init__(self, clock: VirtualClock):
        self.clock = clock
        self.sent: list[tuple[float, Event]] = []

    def send_event(self, event: Event, channel: int) -> None:
        self.sent.append((self.clock(), event))


@dataclass(frozen=True)
class OfflineAnswer:
    """One call and the engine's answer to it; times in the call's seconds."""

    call: tuple[Event, ...]
    events: tuple[Event, ...]  # the answer as sent: note-ons and note-offs at their due times
    call_ended: float | None  # when the engine took the call as over (silence, pedal or pulse)
    started: float | None  # when the engine started the answer
    end: float | None  # when the answer was due to end (the engine closes its notes there)
    reaction_s: float | None  # call over -> first answer note due, as the engine reports it
    seed: int | None = None
    left_sounding: tuple[int, ...] = ()  # pitches still sounding after the answer: a defect
    premature: int = 0  # answers started (and cut by the call going on) before the call's end
    stats: dict = field(default_factory=dict)

    @property
    def notes(self) -> list[Note]:
        return events_to_notes(self.events)

    @property
    def call_notes(self) -> list[Note]:
        return events_to_notes(self.call)

    @property
    def first_note(self) -> float | None:
        return next((e.time for e in self.events if e.is_note_on), None)

    @property
    def call_last_onset(self) -> float | None:
        return max((e.time for e in self.call if e.is_note_on), default=None)


def offline_config(config: Config, seed: int | None = None) -> Config:
    """The daemon's config as the offline path needs it: the player's notes are not echoed to
    the output (thru) and a given seed makes the answer repeatable."""
    sampling = config.sampling
    if seed is not None:
        sampling = dataclasses.replace(sampling, seed=int(seed))
    return dataclasses.replace(config, midi=dataclasses.replace(config.midi, thru=False),
                               sampling=sampling)


def answer_call(config: Config, runner, call_events: Sequence[Event], *, seed: int | None = None,
                step_s: float = STEP_S) -> OfflineAnswer:
    """Play `call_events` (times in seconds, the first at or after 0) into a fresh Engine on a
    virtual clock and return its answer. The runner is reset first, so the answer depends only
    on the call, the config and the seed (config.sampling.seed when `seed` is None)."""
    config = offline_config(config, seed)
    call = sorted(call_events, key=lambda e: (e.time, e.is_note_on, e.pitch))
    if not any(e.is_note_on for e in call):
        raise ValueError("the call has no notes")
    runner.reset()
    clock = VirtualClock(call[0].time)
    out = Collector(clock)
    engine = Engine(config, runner, out, clock=clock)
    policy = config.policy
    deadline = call[-1].time + policy.silence_ms / 1000 + policy.max_response_s + SLACK_S
    responses: list = []  # every answer the engine started, in order
    i, ticks, origin = 0, 0, clock.now
    while True:
        while i < len(call) and call[i].time <= clock.now:
            engine.handle(call[i], call[i].time)
            i += 1
        engine.tick(clock.now)
        r = engine.response
        if r is not None and (not responses or responses[-1] is not r):
            responses.append(r)
        engine.scheduler.run_due(clock.now)
        done = (i == len(call) and engine.response is None and responses
                and _when(responses[-1], "started") >= call[-1].time)
        if (done and engine.scheduler.pending() == 0) or clock.now > deadline:
            break
        # Steps are counted, not summed: a sum of 1 ms steps drifts off the engine's deadlines.
        while round(origin + ticks * step_s, 9) <= clock.now:
            ticks += 1
        grid = round(origin + ticks * step_s, 9)
        clock.now = min(grid, call[i].time) if i < len(call) else grid
    if engine.response is not None:
        log.warning("gave up waiting for the answer to end at %.1f s of virtual time", clock.now)
    left = tuple(sorted(p for _, p in engine.scheduler.sounding()))
    if left:
        log.warning("the engine left %d answer notes sounding; released them", len(left))
        engine.scheduler.panic()
    last_event = call[-1].time
    final = responses[-1] if responses and _when(responses[-1], "started") >= last_event else None
    since = _when(final, "started") if final is not None else float("inf")
    answer = [e for t, e in out.sent if t >= since and e.kind != "control_change"]
    answer.sort(key=lambda e: e.time)  # stable: at one instant, the order they were sent in
    return OfflineAnswer(
        call=tuple(call), events=tuple(answer), call_ended=_when(final, "call_ended"),
        started=_when(final, "started"), end=_when(final, "end"),
        reaction_s=engine.last_reaction_s if final is not None else None,
        seed=config.sampling.seed, left_sounding=left,
        premature=len(responses) - (final is not None),
        stats={"model_steps": getattr(runner, "steps", None), "virtual_s": clock.now})


def _when(response, name: str) -> float | None:
    value = getattr(response, name, None) if response is not None else None
    return None if value is None else float(value)
