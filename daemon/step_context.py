"""Playing models without time-shift tokens live: each token lasts one step of `step_s` seconds.

The performance ContextWindow keeps the model's clock with time-shift tokens and steers the
sampler with note-on/note-off masks. Timing-free tokenizers (note_chord: one Note/Chord token per
step, its duration from the spec) have neither: the encoder turns heard onsets into tokens, the
decoder gives every generated token its own timed note-ons and note-offs. StepContextWindow
offers the engine the same interface as ContextWindow for them; make_context picks the right one
from the tokenizer's `time_shifts`.
"""

from __future__ import annotations

import logging

import numpy as np

from .beat_context import BeatContextWindow
from .context import ContextWindow, ModelContext
from .events import Event

log = logging.getLogger(__name__)


def make_context(runner, history: int = 2048):
    """The engine's context for this model's tokenizer (runs on the engine thread)."""
    if not runner.tokenizer.time_shifts:
        return StepContextWindow(runner, history)
    if runner.tokenizer.beat_relative:
        return BeatContextWindow(runner, history)
    return ContextWindow(runner, history)


class StepContextWindow(ModelContext):
    """ContextWindow's interface for tokens that each last one step. Engine thread only."""

    time_shifts = False  # the engine bounds no waits and steers no time: every token is a step

    def __init__(self, runner, history: int = 2048):
        super().__init__(runner, history)
        self._masks: dict = {}

    # --- the player --------------------------------------------------------------------------
    def hear(self, event: Event) -> int:
        """Feed one input event (real time); returns how many tokens it became."""
        return self._heard(event, self._encoder.push(event))

    # --- the answer --------------------------------------------------------------------------
    def start_response(self, real_time: float) -> None:
        # The call's last onsets may still wait for a later event to close their group.
        flush = getattr(self._encoder, "flush", None)
        for token in flush() if flush else []:
            self._advance(token)
        self._decoder = self.tok.decoder(real_time)

    @property
    def response_sounding(self) -> set[int]:
        return getattr(self._decoder, "sounding", set())

    def legal_mask(self, constraints) -> np.ndarray:
        """Tokens whose pitches lie in the allowed range and polyphony (all, if none do)."""
        key = (constraints.pitch_min, constraints.pitch_max, constraints.max_polyphony)
        if key not in self._masks:
            mask = np.ones(self.tok.vocab_size, dtype=bool)
            if hasattr(self.tok, "pitches"):
                for token in range(self.tok.vocab_size):
                    pitches = self.tok.pitches(token)
                    mask[token] = (len(pitches) <= constraints.max_polyphony and all(
                        constraints.pitch_min <= p <= constraints.pitch_max for p in pitches))
            self._masks[key] = mask if mask.any() else np.ones_like(mask)
        return self._masks[key]

    def play(self, token: int) -> list[Event]:
        """Feed one generated token; returns the timed events it decodes to (real time)."""
        self._advance(token)
        return self._played(self._decoder.push(token))

    def end_response(self) -> list[Event]:
        events = self._decoder.close_all() if self._decoder is not None else []
        self._decoder = None
        return events
