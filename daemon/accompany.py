"""Accompany mode (policy.mode = "accompany"): improvd plays along while the player plays.

Beside call and response: once the player has played [accompany] start_notes notes, improvd
comes in on the next beat, on its own channel (midi.output_channel), and keeps playing while
the player does. It hears both parts (the player's notes go into the model's context while it
plays, as every heard event does), keeps to the player's key and pulse (a running MIDI clock
is the pulse), and plays an octave below or above the player's register. It falls silent on a
beat once the player has played nothing for silence_beats beats. Barge-in rules do not apply:
the player playing is what keeps it going.

AccompanyPolicy has CallResponsePolicy's interface, so the engine's loop drives it unchanged.
Accompanist runs in the engine's generation step: it pushes the end out while the player plays
and re-steers once a beat from what the player has played so far.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from .clock_sync import with_pulse
from .config import Config
from .events import Event
from .policy import LISTENING, RESPONDING, CallResponsePolicy, Respond
from .steering import Steering

log = logging.getLogger(__name__)

OCTAVE = {"below": -12, "above": 12}
DEFAULT_BEAT_S = 0.5  # before any pulse is known


def make_policy(config: Config, analyzer, sync=None):
    """sync: the engine's ClockSync (a running clock is a pulse to come in on at once)."""
    if config.policy.mode == "accompany":
        return AccompanyPolicy(config, analyzer, sync)
    return CallResponsePolicy(config.policy, analyzer)


class AccompanyPolicy:
    def __init__(self, config: Config, analyzer, sync=None):
        self.config = config.policy
        self.acc = config.accompany
        self.analyzer = analyzer
        self.sync = sync
        self._no_pulse_at = -1  # notes heard when the player last showed no pulse to play on
        self.state = LISTENING
        self.held: set[tuple[int, int]] = set()
        self.notes = 0  # notes since improvd last fell silent
        self.first: float | None = None
        self.last_onset: float | None = None

    def on_event(self, e: Event) -> None:
        if e.is_note_on:
            self.held.add((e.channel, e.pitch))
            self.notes += 1
            self.first = e.time if self.first is None else self.first
            self.last_onset = e.time
        elif e.is_note_off:
            self.held.discard((e.channel, e.pitch))
        return None  # never a barge-in: the player playing is what keeps it going

    def resume_call(self, start: float) -> None:
        pass  # one performance, not calls

    def next_deadline(self, now: float | None = None) -> float | None:
        if self.state == LISTENING and self.acc.start_notes <= self.notes != self._no_pulse_at:
            return self.last_onset  # due at once (until a look finds no pulse yet)
        return None

    def poll(self, now: float) -> Respond | None:
        if self.state != LISTENING or self.notes < self.acc.start_notes:
            return None
        clocked = self.sync is not None and self.sync.clock.pulse(now) is not None
        analysis = None if clocked else self.analyzer.analysis(now)
        if not clocked and (analysis is None or analysis.pulse is None):
            self._no_pulse_at = self.notes  # look again at the next note
            return None
        if now - self.last_onset > self.acc.silence_beats * DEFAULT_BEAT_S:
            self.notes, self.first = 0, None  # the player stopped before we came in
            return None
        self.state = RESPONDING
        length = self.acc.silence_beats * DEFAULT_BEAT_S  # the Accompanist moves the end on
        return Respond(now - self.first, self.notes, length, now)

    def response_done(self) -> None:
        self.state = LISTENING
        self.notes, self.first = 0, None

    def drop_call(self) -> None:
        """A panic: come in again only after start_notes more of the player's notes."""
        self.notes, self.first = 0, None


def bar_s(pulse) -> float:
    beat = pulse.beat_s if pulse is not None else DEFAULT_BEAT_S
    return beat * ((pulse.beats_per_bar or 4) if pulse is not None else 4)


class Accompanist:
    """Keeps the engine's current accompaniment going: called at each generation step."""

    def __init__(self, engine):
        self.engine = engine
        self._response = None
        self._heard = None  # the player's analysis the accompaniment is steered by
        self._steered_at = -float("inf")

    def follow(self, now: float) -> None:
        e = self.engine
        policy, r = e.policy, e.response
        if not isinstance(policy, AccompanyPolicy) or r is None or r.closed:
            return
        steering = e.steering
        pulse = steering.pulse if steering is not None else None
        beat = pulse.beat_s if pulse is not None else DEFAULT_BEAT_S
        if r is not self._response:
            self._heard = e.steering.analysis if e.steering is not None else None
        if r is not self._response or now - self._steered_at >= beat:
            self._resteer(r, now)
            self._response = r
        # Playing on while the player plays; silent on a beat once they stopped for a while.
        quiet_from = policy.last_onset + policy.acc.silence_beats * beat
        end = pulse.next_beat(quiet_from) if pulse is not None else quiet_from
        if end > r.end:
            r.end = end
            if e.steering is not None:
                e.steering.end = end

    def _resteer(self, r, now: float) -> None:
        e = self.engine
        if e.steering is None:
            return
        # What the player has played so far; right after coming in (the analyzer closed the
        # call and reopens it at the player's next note) what they played until then.
        analysis = e.sync.steer(e.analyzer.analysis(now), now) or self._heard
        if analysis is None:
            self._steered_at = now
            return
        self._heard = analysis
        if e.steering.pulse is not None:  # the grid it came in on stays (a clock moves it)
            analysis = with_pulse(analysis, e.steering.pulse)
        side = e.config.accompany.register
        low, _, high = analysis.register  # the player's
        shift = OCTAVE[side]
        # (Keys still held count as notes of no length yet: no limit on holding a note.)
        analysis = dataclasses.replace(analysis, long_note=max(analysis.long_note, 4 * bar_s(
            analysis.pulse)), register=tuple(p + shift for p in analysis.register))
        e.steering = AccompanySteering.after(e.steering, e.config.steering, analysis, e.tok,
                                             r.started, r.end, e.sampler.rng, on_pulse=True,
                                             step_s=e.context.step_s)
        e.steering.keep_clear(side, low if side == "below" else high)
        self._steered_at = now


class AccompanySteering(Steering):
    """Steering, plus a push to keep playing: a model trained on solo playing hears the player's
    notes as its own line and leaves the playing to them, waiting a second at a time. The longer
    the accompaniment has been silent, the likelier a note-on (up to MAX_PUSH nats after a beat of
    silence), and a wait longer than a beat loses MAX_PUSH nats. The key counts double: what
    sounds with the player's notes must not clash with them."""

    MAX_PUSH = 4.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.last_onset = self.start
        # Playing at once with the player, a note outside their key clashes rather than colours:
        # the scale lock counts double.
        key = self.analysis.key if self.analysis is not None else None
        if key is not None:
            outside = ~np.isin(np.arange(128) % 12, sorted(key.scale))
            self._pitch_bias[outside] -= 6.0 * self.cfg.scale

    def keep_clear(self, side: str, edge: float) -> None:
        """Keep below (or above) the player's range: a note-on past its edge (the player's
        10th / 90th percentile pitch) loses 6 nats, as strongly as the register is steered."""
        pitches = np.arange(128)
        past = pitches >= edge if side == "below" else pitches <= edge
        self._pitch_bias[past] -= 6.0 * self.cfg.register

    @classmethod
    def after(cls, old: Steering, *args, **kwargs) -> AccompanySteering:
        """A new steering that takes over from `old`: the notes it holds keep their start times
        (their note-offs come after them), and its silence goes on counting."""
        new = cls(*args, **kwargs)
        new._struck.update(old._struck)
        new.last_onset = getattr(old, "last_onset", new.start)
        return new

    def bias(self, now: float, sounding: set[int]) -> np.ndarray:
        bias = super().bias(now, sounding)
        beat = self.pulse.beat_s if self.pulse is not None else DEFAULT_BEAT_S
        silent = max(0.0, now - self.last_onset) / beat
        if not sounding or silent > 0.5:
            bias[self._on] += self.MAX_PUSH * min(1.0, silent)
        # and no waiting out whole beats while the player plays on
        bias[self._shift] -= np.where(self._shift_s > beat, self.MAX_PUSH, 0.0).astype(np.float32)
        return bias

    def shape(self, e: Event) -> Event:
        e = super().shape(e)
        if e.is_note_on:
            self.last_onset = max(self.last_onset, e.time)
        return e
