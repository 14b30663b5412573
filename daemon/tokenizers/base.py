"""What every tokenizer shares: whole sequences go through its own streaming encoder/decoder, so
training (whole pieces) and the daemon (one event at a time) can never tokenize differently."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from ..events import Event


class StreamingTokenizer:
    """Subclasses provide encoder() (push(event) -> ids, flush() -> ids) and
    decoder(start_time) (push(id) -> events, close_all() -> events)."""

    # True: the model keeps its own clock with time-shift tokens. False: no time shifts, every
    # token lasts one step of `step_s` seconds, so the daemon plays it on a step clock.
    time_shifts: ClassVar[bool] = False
    # True: time shifts count fractions of the beat the call analysis hears, rendered at the
    # tracked tempo (beat_performance.py, beat_context.py); False: seconds, or no time shifts.
    beat_relative: ClassVar[bool] = False

    def encode(self, events: Iterable[Event]) -> list[int]:
        enc = self.encoder()
        ids = [i for e in sorted(events, key=lambda e: e.time) for i in enc.push(e)]
        return ids + enc.flush()

    def decode(self, ids: Iterable[int], start_time: float = 0.0) -> list[Event]:
        dec = self.decoder(start_time)
        events = [e for i in ids for e in dec.push(int(i))]
        return events + dec.close_all()
