"""Performance tokens, as Magenta's Performance RNN: 388 ids.

  0..127    NOTE_ON  pitch
  128..255  NOTE_OFF pitch
  256..355  TIME_SHIFT of 1..100 steps (10 ms steps, up to 1 s; longer gaps repeat the token)
  356..387  VELOCITY bin 0..31 (sets the velocity of the note-ons that follow)

The sustain pedal (CC64) is folded into note durations while encoding: a key released with the
pedal down sounds until the pedal lifts or the key is struck again.
"""

from __future__ import annotations

from typing import Any

from ..events import SUSTAIN_CC, Event
from .base import StreamingTokenizer

NUM_PITCHES = 128


class PerformanceTokenizer(StreamingTokenizer):
    name = "performance"
    time_shifts = True

    def __init__(self, step_s: float = 0.01, max_shift_steps: int = 100, velocity_bins: int = 32):
        self.step_s = step_s
        self.max_shift_steps = max_shift_steps
        self.velocity_bins = velocity_bins
        self.note_on_offset = 0
        self.note_off_offset = NUM_PITCHES
        self.time_shift_offset = 2 * NUM_PITCHES
        self.velocity_offset = self.time_shift_offset + max_shift_steps
        self.vocab_size = self.velocity_offset + velocity_bins

    # --- spec (stored in the model's metadata) -------------------------------------------------
    def spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "step_s": self.step_s,
            "max_shift_steps": self.max_shift_steps,
            "velocity_bins": self.velocity_bins,
            "vocab_size": self.vocab_size,
        }

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> "PerformanceTokenizer":
        tok = cls(spec.get("step_s", 0.01), spec.get("max_shift_steps", 100),
                  spec.get("velocity_bins", 32))
        if "vocab_size" in spec and spec["vocab_size"] != tok.vocab_size:
            raise ValueError(f"performance tokenizer spec is inconsistent: {spec}")
        return tok

    # --- id helpers ------------------------------------------------------------------------------
    def note_on(self, pitch: int) -> int:
        return self.note_on_offset + pitch

    def note_off(self, pitch: int) -> int:
        return self.note_off_offset + pitch

    def time_shift(self, steps: int) -> int:
        return self.time_shift_offset + steps - 1

    def velocity_bin(self, velocity: int) -> int:
        return min(self.velocity_bins - 1, max(0, velocity) * self.velocity_bins // 128)

    def bin_velocity(self, bin_: int) -> int:
        # The middle of the bin, so the round trip is off by at most half a bin.
        width = 128 / self.velocity_bins
        return max(1, min(127, int(bin_ * width + width / 2)))

    def describe(self, token: int) -> tuple[str, int]:
        """id -> (kind, value): ('note_on', pitch), ('time_shift', steps), ('velocity', bin)..."""
        if not 0 <= token < self.vocab_size:
            raise ValueError(f"token {token} outside 0..{self.vocab_size - 1}")
        if token < self.note_off_offset:
            return "note_on", token
        if token < self.time_shift_offset:
            return "note_off", token - self.note_off_offset
        if token < self.velocity_offset:
            return "time_shift", token - self.time_shift_offset + 1
        return "velocity", token - self.velocity_offset

    # --- streaming (encode/decode of whole sequences come from StreamingTokenizer) -------------
    def encoder(self) -> "PerformanceEncoder":
        return PerformanceEncoder(self)

    def decoder(self, start_time: float = 0.0,
                step_s: float | None = None) -> "PerformanceDecoder":
        """step_s: real seconds per time-shift step (default the tokenizer's own; a
        beat-relative model's answer is rendered at the tracked tempo)."""
        return PerformanceDecoder(self, start_time, step_s)


class PerformanceEncoder:
    """Events -> ids one event at a time (live input). Times are absolute seconds."""

    def __init__(self, tok: PerformanceTokenizer):
        self.tok = tok
        self.origin: float | None = None
        self.step = 0  # quantized time of the last emitted token, in steps since origin
        self.velocity_bin: int | None = None
        self.sounding: set[int] = set()
        self.pedal_down = False
        self.held_by_pedal: set[int] = set()

    def _advance_to(self, time: float) -> list[int]:
        if self.origin is None:
            self.origin = time
        # Quantize absolute time (not gaps) so rounding errors never accumulate.
        target = round((time - self.origin) / self.tok.step_s)
        ids = []
        while target > self.step:
            n = min(self.tok.max_shift_steps, target - self.step)
            ids.append(self.tok.time_shift(n))
            self.step += n
        return ids

    def push(self, e: Event) -> list[int]:
        if e.kind == "control_change":
            return self._pedal(e) if e.pitch == SUSTAIN_CC else []
        if e.is_note_on:
            ids = self._advance_to(e.time)
            if e.pitch in self.sounding:  # re-strike: close the sounding note first
                ids.append(self.tok.note_off(e.pitch))
                self.held_by_pedal.discard(e.pitch)
            vbin = self.tok.velocity_bin(e.velocity)
            if vbin != self.velocity_bin:
                ids.append(self.tok.velocity_offset + vbin)
                self.velocity_bin = vbin
            ids.append(self.tok.note_on(e.pitch))
            self.sounding.add(e.pitch)
            return ids
        if e.is_note_off and e.pitch in self.sounding and e.pitch not in self.held_by_pedal:
            if self.pedal_down:
                self.held_by_pedal.add(e.pitch)
                return []
            ids = self._advance_to(e.time)
            ids.append(self.tok.note_off(e.pitch))
            self.sounding.discard(e.pitch)
            return ids
        return []  # a note-off for a note that is not sounding carries no information

    def _pedal(self, e: Event) -> list[int]:
        down = e.velocity >= 64
        ids: list[int] = []
        if self.pedal_down and not down and self.held_by_pedal:
            ids = self._advance_to(e.time)
            for pitch in sorted(self.held_by_pedal):
                ids.append(self.tok.note_off(pitch))
                self.sounding.discard(pitch)
            self.held_by_pedal.clear()
        self.pedal_down = down
        return ids

    def flush(self) -> list[int]:
        """Release notes the pedal still holds (end of a piece)."""
        ids = [self.tok.note_off(p) for p in sorted(self.held_by_pedal)]
        self.sounding -= self.held_by_pedal
        self.held_by_pedal.clear()
        return ids


class PerformanceDecoder:
    """ids -> events one token at a time (live output). `time` is the decoder's clock."""

    def __init__(self, tok: PerformanceTokenizer, start_time: float = 0.0,
                 step_s: float | None = None):
        self.tok = tok
        self.start_time = start_time
        self.step_s = step_s or tok.step_s
        self.steps = 0
        self.velocity = tok.bin_velocity(tok.velocity_bins // 2)
        self.sounding: set[int] = set()

    @property
    def time(self) -> float:
        return self.start_time + self.steps * self.step_s

    def push(self, token: int) -> list[Event]:
        kind, value = self.tok.describe(token)
        if kind == "time_shift":
            self.steps += value
            return []
        if kind == "velocity":
            self.velocity = self.tok.bin_velocity(value)
            return []
        if kind == "note_on":
            out = []
            if value in self.sounding:
                out.append(Event(self.time, "note_off", value, 0))
            self.sounding.add(value)
            out.append(Event(self.time, "note_on", value, self.velocity))
            return out
        if value in self.sounding:  # note_off
            self.sounding.discard(value)
            return [Event(self.time, "note_off", value, 0)]
        return []

    def close_all(self) -> list[Event]:
        out = [Event(self.time, "note_off", p, 0) for p in sorted(self.sounding)]
        self.sounding.clear()
        return out
