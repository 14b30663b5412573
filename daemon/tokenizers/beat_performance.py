"""Beat-relative performance tokens: the performance vocabulary with time counted in beats.

The ids are those of PerformanceTokenizer (note-on, note-off, time shift, velocity); only the
unit of a time shift changes: 1/24 of a beat (a sixteenth is 6 steps, an eighth-note triplet 8, a
thirty-second 3), up to 4 beats per token. The model never sees a tempo: a piece (or a live
call) is time-scaled so that its beat, as daemon/analysis.py hears it, lasts NOMINAL_BEAT_S, and
the model's answer is rendered back at the tracked tempo (daemon/beat_context.py).

This is one of the two time representations the performance recipe can train (the other being
absolute 10 ms shifts with wide tempo augmentation); the model card says which one a model uses.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from ..analysis import analyze_notes
from ..events import Event, events_to_notes
from .performance import PerformanceTokenizer

NOMINAL_BEAT_S = 0.5  # model time: every beat lasts this long (120 bpm)
PULSE_NOTES = 64  # the tempo of a whole piece is heard from its opening, as a call's would be


class BeatPerformanceTokenizer(PerformanceTokenizer):
    name = "beat_performance"
    beat_relative = True

    def __init__(self, steps_per_beat: int = 24, max_shift_beats: int = 4,
                 velocity_bins: int = 32):
        super().__init__(NOMINAL_BEAT_S / steps_per_beat, steps_per_beat * max_shift_beats,
                         velocity_bins)
        self.steps_per_beat = steps_per_beat

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "steps_per_beat": self.steps_per_beat,
                "max_shift_steps": self.max_shift_steps, "velocity_bins": self.velocity_bins,
                "vocab_size": self.vocab_size}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> "BeatPerformanceTokenizer":
        steps = spec.get("steps_per_beat", 24)
        max_shift = spec.get("max_shift_steps", 4 * steps)
        if max_shift % steps:
            raise ValueError(f"beat_performance spec: max_shift_steps {max_shift} is not a whole "
                             f"number of beats of {steps} steps: {spec}")
        tok = cls(steps, max_shift // steps, spec.get("velocity_bins", 32))
        if "vocab_size" in spec and spec["vocab_size"] != tok.vocab_size:
            raise ValueError(f"beat_performance tokenizer spec is inconsistent: {spec}")
        return tok

    def encode(self, events: Iterable[Event]) -> list[int]:
        """A whole sequence at its own tempo: scaled so that its beat lasts NOMINAL_BEAT_S."""
        events = sorted(events, key=lambda e: e.time)
        return self.encode_at(events, beat_seconds(events))

    def encode_at(self, events: Iterable[Event], beat_s: float | None) -> list[int]:
        """A whole sequence whose beat is known to last beat_s (None: taken as nominal)."""
        events = sorted(events, key=lambda e: e.time)
        return super().encode(at_nominal_tempo(events, beat_s))


def beat_seconds(events: list[Event]) -> float | None:
    """The beat of a sequence as the call analysis hears it (None: no pulse to hear)."""
    notes = events_to_notes(e for e in events if e.kind != "control_change")
    if len(notes) < 4:
        return None
    pulse = analyze_notes(notes[:PULSE_NOTES]).pulse
    return pulse.beat_s if pulse is not None else None


def at_nominal_tempo(events: list[Event], beat_s: float | None) -> list[Event]:
    """Times scaled by NOMINAL_BEAT_S / beat_s (unchanged without a beat)."""
    if not beat_s:
        return list(events)
    rate = NOMINAL_BEAT_S / beat_s
    origin = events[0].time if events else 0.0
    return [dataclasses.replace(e, time=origin + (e.time - origin) * rate) for e in events]
