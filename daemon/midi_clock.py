"""MIDI clock in: a DAW's tempo and bar position, as the Pulse the answers follow.

  0xF8 clock     24 per quarter note. Tempo: a straight line through the recent tick times (up
                 to 96, four beats), late outliers dropped (a busy machine stamps a batch of
                 ticks late, never early); when three ticks in a row fall ever further off the
                 line the tempo changed and the line restarts from them, so it locks within a
                 few ticks of a jump instead of averaging the old tempo in for four beats.
  Start          the next tick is the song's first beat, bar 1.
  Continue       the next tick is at the stored song position (Stop keeps it, SPP sets it).
  Stop           the transport stops: the engine releases every answer note.
  Song Position  where Continue resumes, in 16ths (6 ticks each).

A clock that ticks without ever having sent Start/Continue (the daemon started after the DAW)
is followed once a beat of steady ticks came; its beats are counted from the first tick heard
and it knows no bar lines until the DAW starts or locates.

Runs on the MIDI input thread: a tick costs one small least-squares fit (tens of microseconds)
and never reaches the model. The engine thread reads `pulse()`, `time_of()` and `position_at()`.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque

import numpy as np

from .pulse import Pulse

log = logging.getLogger(__name__)

TICKS_PER_BEAT = 24
TICKS_PER_16TH = 6
WINDOW = 96  # ticks in the tempo fit: four beats smooth out the stamps' jitter
MIN_TICKS = 6  # a quarter beat of ticks before the clock counts as a pulse
CHANGE_S = 0.002  # a tick this far off the line (and the next ones further) is a tempo change
SETTLED = 12  # ticks a new line needs before a tempo change is looked for again: a line through
# a few jittered stamps is steep or flat by chance, and would "see" changes that are not there
LATE_S = 0.002  # a tick stamped this much later than the line is a delayed stamp, left out
GAP_BEATS = 2.0  # no tick for this many beats: the clock is gone (cable pulled, DAW quit)
EARLY_PERCENTILE = 10  # the stamps' early edge: the ticks that waited least to be read
CLOCK_TYPES = frozenset({"clock", "start", "stop", "continue", "songpos"})


class MidiClock:
    """The state of one incoming MIDI clock. feed() on the input thread, the rest anywhere."""

    def __init__(self, beats_per_bar: int = 4):
        self.beats_per_bar = beats_per_bar
        self._lock = threading.Lock()
        self._ticks: deque[tuple[int, float]] = deque(maxlen=WINDOW)  # (tick count, time)
        self._count = 0  # ticks heard since the fit's line started
        self._fit: tuple[float, float, float, float] | None = None  # see _fit_line
        self._streak: list[float] = []  # residuals of the last ticks off the line, same sign
        self._next_position = 0  # song position (ticks) of the next tick while running
        self._offset: int | None = None  # position - count while running; None: stopped
        self._phase_known = False  # Start or Continue came: the bar lines are the DAW's
        self._last: float | None = None
        self.relocks = 0  # tempo changes locked onto (for the bench and the log)
        self.lost = 0  # ticks that did not arrive, counted in their place
        self._lost_at = -TICKS_PER_BEAT

    # --- the input thread ----------------------------------------------------------------------
    def feed(self, msg, t: float) -> str | None:
        """One clock-family message (CLOCK_TYPES) stamped t. Returns "start", "stop" or
        "continue" for a transport change (the engine acts on it), None otherwise."""
        kind = msg.type
        with self._lock:
            if kind == "clock":
                self._tick(t)
                return None
            if kind == "songpos":
                self._next_position = msg.pos * TICKS_PER_16TH
                return None
            if kind == "start":
                self._next_position = 0
            # The transport moved: ticks before and after it lie on different lines (a pause,
            # maybe a new tempo), so the fit starts over.
            self._restart([])
            if kind in ("start", "continue"):
                self._offset = self._next_position - (self._count + 1)
                self._phase_known = True
            elif kind == "stop":
                self._offset = None
                self._phase_known = True
        log.info("clock: %s at bar %s", kind, self._bar_text())
        log.debug("clock: song position %d ticks, %d heard in all", self._next_position,
                  self._count)
        return kind

    def _tick(self, t: float) -> None:
        if self._last is not None and self._fit is not None \
                and t - self._last > GAP_BEATS * TICKS_PER_BEAT * self._fit[1]:
            self._restart([])  # the ticks stopped for a while: the old line says nothing now
        missed = self._missed(t)
        if missed < 0:
            return  # the same tick twice: counting it would put every later beat a tick early
        self._last = t
        self._count += 1 + missed
        if self._offset is not None:
            self._next_position = self._count + self._offset + 1
        elif not self._phase_known and self._count >= TICKS_PER_BEAT:
            self._offset = -self._count  # ticks without Start: count beats from here
            self._next_position = 1
        if self._fit is not None and len(self._ticks) >= SETTLED:
            residual = t - (self._fit[0] + self._fit[1] * self._count)
            off = max(CHANGE_S, 4 * self._fit[3])  # beyond the stamps' own jitter
            if abs(residual) > off and (not self._streak or (
                    residual * self._streak[-1] > 0 and abs(residual) > abs(self._streak[-1]))):
                self._streak.append(residual)
            else:
                self._streak = []
            # Ever further off the line: a new tempo. A batch stamped late together is off by
            # the same amount each (a reader that woke late), and is no tempo change.
            if len(self._streak) >= 3 and abs(self._streak[-1] - self._streak[0]) > off:
                keep = list(self._ticks)[-len(self._streak):]
                self._restart(keep)
                self.relocks += 1
        self._ticks.append((self._count, t))
        self._fit = _fit_line(self._ticks)

    def _missed(self, t: float) -> int:
        """Ticks lost on the way (a busy machine's MIDI input drops or doubles one now and
        then): one missing shows as an interval of two ticks on a settled line, a doubled one
        as an interval of almost none. -1: this tick is a double. A second loss within a beat
        is no loss but a slower tempo: the line starts over instead."""
        if self._fit is None or len(self._ticks) < SETTLED:
            return 0
        steps = (t - self._last) / self._fit[1]
        if steps < 0.3:
            return -1
        if 1.7 < steps < 2.3:
            if self._count - self._lost_at < TICKS_PER_BEAT:
                self._restart([self._ticks[-1]])
                return 0
            self._lost_at = self._count
            self.lost += 1
            return 1
        return 0

    def _restart(self, keep: list[tuple[int, float]]) -> None:
        self._ticks.clear()
        self._ticks.extend(keep)
        self._streak = []
        self._fit = None

    # --- any thread ----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._offset is not None

    @property
    def stopped(self) -> bool:
        """The DAW stopped its transport (and has not started or continued since)."""
        return self._offset is None and self._phase_known

    def tick_s(self, now: float) -> float | None:
        """The current tick period, or None when the clock is not running (or went silent)."""
        with self._lock:
            return self._period(now)

    def _period(self, now: float) -> float | None:
        if self._offset is None or self._fit is None or len(self._ticks) < MIN_TICKS:
            return None
        b = self._fit[1]
        if b <= 0 or now - self._last > GAP_BEATS * TICKS_PER_BEAT * b:
            return None
        return b

    def time_of(self, position: float, now: float) -> float | None:
        """When song position `position` (ticks) comes (or came) by the fitted line; None while
        the clock is not running."""
        with self._lock:
            b = self._period(now)
            return None if b is None else self._sent(0) + b * (position - self._offset)

    def position_at(self, t: float) -> float | None:
        """The song position (ticks) at time t; None while the clock is not running."""
        with self._lock:
            b = self._period(self._last) if self._last is not None else None
            return None if b is None else (t - self._sent(0)) / b + self._offset

    def pulse(self, now: float, subdivision: int = 4) -> Pulse | None:
        """The clock as a Pulse (straight grid, `subdivision` tatums a beat, the DAW's bar
        lines when it sent Start or a song position), or None while it is not running."""
        with self._lock:
            b = self._period(now)
            if b is None:
                return None
            a = self._sent(0)
            position = self._count + self._offset  # the last tick's
            beat = math.floor(position / TICKS_PER_BEAT + 1e-6) * TICKS_PER_BEAT
            origin = a + b * (beat - self._offset)
            downbeat = per_bar = None
            if self._phase_known:
                bar = TICKS_PER_BEAT * self.beats_per_bar
                first = math.floor(position / bar + 1e-6) * bar
                downbeat, per_bar = a + b * (first - self._offset), self.beats_per_bar
        return Pulse(b * TICKS_PER_BEAT / subdivision, origin, subdivision, 1.0, (), per_bar,
                     downbeat)

    def _sent(self, count: int) -> float:
        """When tick `count` was sent: the line through the stamps moved down to their early
        edge. A stamp is the send time plus the wait for the next backend cycle (up to a JACK
        period) plus our reader's wake-up: the earliest stamps carry least of both."""
        a, b, early, _ = self._fit
        return a + early + b * count

    def _bar_text(self) -> str:
        bar_ticks = TICKS_PER_BEAT * self.beats_per_bar
        bar, rest = divmod(self._next_position, bar_ticks)
        return f"{bar + 1}.{rest // TICKS_PER_BEAT + 1}"


def _fit_line(ticks) -> tuple[float, float, float, float] | None:
    """(a, b, early, jitter): least squares time = a + b * count over the window, stamps far
    later than the line left out (a reader thread that woke late stamps a whole batch late;
    nothing stamps early); `early`: how far below the line the early edge of the stamps lies
    (their 10th percentile); `jitter`: the stamps' spread about the line (robust std)."""
    if len(ticks) < 2:
        return None
    data = np.asarray(ticks, dtype=float)
    k, t = data[:, 0], data[:, 1] - data[-1, 1]  # relative times keep the fit well conditioned
    keep = np.ones(len(k), dtype=bool)
    for _ in range(2):
        b, a = np.polyfit(k[keep], t[keep], 1)
        late = (t - (a + b * k)) > LATE_S
        if late.all() or not late.any() or (~late).sum() < 2:
            break
        keep = ~late
    resid = (t - (a + b * k))[keep]
    early = np.percentile(resid, EARLY_PERCENTILE) if keep.sum() >= 8 else 0.0
    jitter = 1.4826 * np.median(np.abs(resid - np.median(resid)))
    return float(a + data[-1, 1]), float(b), float(min(0.0, early)), float(jitter)
