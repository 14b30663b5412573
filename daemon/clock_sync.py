"""The engine's side of an incoming MIDI clock: while the DAW's clock runs it is the pulse.

  take()    (MIDI input thread) clock messages go to the MidiClock and never into the engine's
            queue or the model; a Stop queues TRANSPORT_STOP so the engine thread releases the
            answer at once.
  steer()   at the end of a call: the call's analysis with the clock's pulse in place of the
            pulse estimated from the player (the player's subdivision kept when it showed one),
            so the handover and the steering follow the DAW's beats and bar lines.
  follow()  while answering: the steering's grid and the answer's end are re-read from the
            clock, so a tempo change mid-answer moves the remaining notes onto the new grid and
            the answer still ends on the bar line it was planned to end on.

The clock's grid is straight: the DAW's grid is what the band plays to, not the player's swing.
"""

from __future__ import annotations

import dataclasses
import logging

from .analysis import CallAnalysis
from .midi_clock import CLOCK_TYPES, MidiClock

log = logging.getLogger(__name__)

TRANSPORT_STOP = object()  # queued for the engine thread: the DAW stopped
DEFAULT_SUBDIVISION = 4  # 16ths, a DAW's usual grid, when the call showed no pulse of its own
SAME_TEMPO = 0.15  # the call's pulse counts as the clock's when their tempi differ less


class ClockSync:
    def __init__(self, queue, source: str = "input", beats_per_bar: int = 4):
        """queue: the engine's input queue (TRANSPORT_STOP goes there). source: where the clock
        is read: "input" (the player's port), "port" (a port of its own) or "off"."""
        self.queue = queue
        self.source = source
        self.clock = MidiClock(beats_per_bar)
        self._end_position: float | None = None  # the current answer's end, in song ticks

    def configure(self, source: str, beats_per_bar: int) -> None:
        self.source = source
        self.clock.beats_per_bar = beats_per_bar

    def take(self, msg, t: float, port: str = "input") -> bool:
        """True when msg belongs to the clock (and was handled or ignored here)."""
        if getattr(msg, "type", None) not in CLOCK_TYPES:
            return False
        if port == self.source and self.clock.feed(msg, t) == "stop":
            self.queue.put((TRANSPORT_STOP, t))
        return True

    def take_from_port(self, msg, t: float) -> None:
        """The callback of the clock's own port: only the clock is read there."""
        self.take(msg, t, "port")

    def steer(self, analysis: CallAnalysis | None, now: float) -> CallAnalysis | None:
        call_pulse = analysis.pulse if analysis is not None else None
        sub = DEFAULT_SUBDIVISION
        pulse = self.clock.pulse(now, sub)
        if pulse is None or analysis is None:
            if self.clock.running:
                log.debug("the clock runs but gives no pulse yet: the call's own pulse is used")
            return analysis
        if call_pulse is not None and abs(call_pulse.bpm / pulse.bpm - 1) < SAME_TEMPO:
            pulse = self.clock.pulse(now, call_pulse.subdivision) or pulse
        log.debug("on the clock: %.2f bpm, beat at %.4f, %d per beat", pulse.bpm, pulse.origin,
                  pulse.subdivision)
        return with_pulse(analysis, pulse)

    def planned(self, start: float, end: float) -> None:
        """The answer was planned from start to end: keep its end as a song position."""
        self._end_position = self.clock.position_at(end)
        if self._end_position is not None:
            self._end_position = round(self._end_position)  # a tick: the bar line it was put on

    def follow(self, response, steering, now: float) -> None:
        if self._end_position is None:
            return
        if steering is not None and steering.pulse is not None:
            pulse = self.clock.pulse(now, steering.pulse.subdivision)
            if pulse is not None:
                steering.pulse = pulse
        end = self.clock.time_of(self._end_position, now)
        if end is not None and not response.closed:
            response.end = end
            if steering is not None:
                steering.end = end


def with_pulse(analysis: CallAnalysis, pulse) -> CallAnalysis:
    """The analysis on another pulse; the accents per position in the beat go with the old one
    unless it has as many positions."""
    accents = analysis.accents if len(analysis.accents) == pulse.subdivision else ()
    return dataclasses.replace(analysis, pulse=pulse, accents=accents)
