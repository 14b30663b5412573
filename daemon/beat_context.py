"""The rolling context of a beat-relative model: the call is heard once its tempo is known.

A beat_performance model counts time in beats (tokenizers/beat_performance.py). Live, the beat is
only known once the call has been analysed, so the call's events wait here and are told to the
model at the call's end, time-scaled by the tempo the analysis heard (one ONNX step per token, a
few ms for a phrase); the answer is then rendered at that tempo. A player who never stops does
not make the wait unbounded: past MAX_WAITING events they are told at the last tempo known.
"""

from __future__ import annotations

from .context import ContextWindow
from .events import Event
from .tokenizers.beat_performance import NOMINAL_BEAT_S

MAX_WAITING = 512


class BeatContextWindow(ContextWindow):
    def __init__(self, runner, history: int = 2048, max_gap_s: float = 2.0):
        super().__init__(runner, history, max_gap_s)
        self._waiting: list[Event] = []

    def hear(self, event: Event) -> int:
        """Keep the event until the call's tempo is known; returns the tokens fed now (0)."""
        self._waiting.append(event)
        return self._tell_waiting() if len(self._waiting) >= MAX_WAITING else 0

    def follow_tempo(self, pulse) -> int:
        """The call is over: its beat becomes the model's, and the call is told at that tempo."""
        if pulse is not None:
            self.set_rate(NOMINAL_BEAT_S / pulse.beat_s)
        return self._tell_waiting()

    def _tell_waiting(self) -> int:
        waiting, self._waiting = self._waiting, []
        return sum(super(BeatContextWindow, self).hear(e) for e in waiting)
