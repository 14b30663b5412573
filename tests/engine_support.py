"""The engine on a fake clock and a fake output port, shared by the engine tests."""

from __future__ import annotations

import threading
import time

from improvd.daemon.config import Config
from improvd.daemon.engine import Engine
from improvd.daemon.events import Event
from improvd.daemon.runner import load_runner

PHRASE = [60, 62, 64, 65, 67, 65, 64, 62]



class FakeOutput:
    def __init__(self, clock):
        self.clock = clock
        self.sent: list[tuple[float, Event]] = []
        self.lock = threading.Lock()

    def send_event(self, event, channel):
        with self.lock:
            self.sent.append((self.clock(), event))

    def events(self, since=-1.0):
        with self.lock:
            return [e for t, e in self.sent if t >= since]


def sounding(events) -> set[tuple[int, int]]:
    notes: set[tuple[int, int]] = set()
    for e in events:
        if e.is_note_on:
            notes.add((e.channel, e.pitch))
        elif e.is_note_off:
            notes.discard((e.channel, e.pitch))
    return notes


def play_until_answered(engine, out, pitches, why="no answer note sounding"):
    """Real threads, real clock: play the pitches and wait (5 s at most) for an answer note."""
    for pitch in pitches:
        engine.feed(Event(time.monotonic(), "note_on", pitch, 90), time.monotonic())
        time.sleep(0.1)
        engine.feed(Event(time.monotonic(), "note_off", pitch, 0), time.monotonic())
    deadline = time.monotonic() + 5
    while not sounding(out.events()) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert sounding(out.events()), why


class Rig:
    """An engine on a fake clock: time moves only when the test says so. By default the answer
    comes at once after silence_ms and steering is off: these tests are about the machinery
    (test_handover.py and test_steering.py test the musical side)."""

    def __init__(self, model_path, **overrides):
        self.now = 100.0
        self.out = FakeOutput(lambda: self.now)
        self.runner = load_runner(model_path)
        off = {f"steering.{k}": 0.0 for k in ("scale", "pulse", "register", "texture", "articulation",
                                               "dynamics", "groove", "phrase_end")}
        config = Config().with_overrides(**{"sampling.seed": 1, "answer_start": "now",
                                            "end_on_pulse": False, **off, **overrides})
        self.engine = Engine(config, self.runner, self.out, clock=lambda: self.now)

    def advance(self, seconds, step=0.005):
        end = self.now + seconds
        while self.now < end - 1e-9:
            self.now = min(end, self.now + step)
            self.engine.tick(self.now)
            self.engine.scheduler.run_due(self.now)

    def send(self, kind, pitch, velocity=90, channel=0):
        self.engine.handle(Event(self.now, kind, pitch, velocity, channel), self.now)
        self.engine.tick(self.now)
        self.engine.scheduler.run_due(self.now)

    def phrase(self, pitches=PHRASE, length=0.2, gap=0.05, channel=0) -> float:
        for pitch in pitches:
            self.send("note_on", pitch, channel=channel)
            self.advance(length)
            self.send("note_off", pitch, 0, channel=channel)
            ended = self.now
            self.advance(gap)
        return ended
