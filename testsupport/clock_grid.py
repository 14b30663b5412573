"""The beat grid as an outside JACK client received the clock, and how far notes sit from it.

The reference is what a listener got, not what the clock source meant to send: the ticks it
received after Start are song positions 0, 1, 2... (24 a beat); a straight line through the
ticks of one tempo (a jump starts a new segment) gives the time of any position, and a note's
error is its distance to the nearest point of the grid it was meant for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TICKS_PER_BEAT = 24


@dataclass(frozen=True)
class Segment:
    first: int  # song position (ticks) of its first tick
    last: int
    a: float  # time of position p = a + b * p
    b: float

    @property
    def bpm(self) -> float:
        return 60.0 / (self.b * TICKS_PER_BEAT)


def ticks_after_start(messages) -> np.ndarray:
    """Receive times of the ticks after the last Start in (time, mido message) pairs, up to the
    next Stop, by song position (the index): a tick the listener lost is NaN there, one it got
    twice counts once (an rtmidi client on a busy machine does both, now and then)."""
    start = max((i for i, (_, m) in enumerate(messages) if m.type == "start"), default=None)
    if start is None:
        return np.array([])
    times = []
    for t, m in messages[start + 1:]:
        if m.type == "stop":
            break
        if m.type == "clock":
            times.append(t)
    return _by_position(np.asarray(times), messages[start][0])


def _by_position(raw: np.ndarray, started: float) -> np.ndarray:
    """Each tick's song position from its interval to the one before, in periods of the recent
    tempo (rounded: a JACK cycle of jitter is far less than half a tick); the first from where
    the line through the first ticks puts it after the Start, not from its own arrival alone (a
    busy machine can hand on the first tick a cycle or more after the Start, and a grid counted
    from there would be a whole tick off)."""
    if len(raw) < 3:
        return raw
    positions = [0]
    first_period = float(np.median(np.diff(raw[:25])))  # until a dozen intervals have come
    for k in range(1, len(raw)):
        recent = np.diff(raw[max(0, k - 13):k])
        recent = recent[recent > 0.5 * np.median(recent)] if len(recent) >= 12 else []
        period = float(np.median(recent)) if len(recent) else first_period
        positions.append(positions[-1] + round((raw[k] - raw[k - 1]) / period))
    first = min(len(raw), 25)
    slope, intercept = np.polyfit(positions[:first], raw[:first], 1)
    origin = max(0, round((intercept - started) / slope))
    positions = [p + origin for p in positions]
    out = np.full(positions[-1] + 1, np.nan)  # (a first tick lost: position 0 stays NaN)
    for position, t in zip(positions, raw):
        if np.isnan(out[position]):
            out[position] = t
    return out


def filled(ticks: np.ndarray) -> np.ndarray:
    """The ticks with the lost ones put back where their neighbours say they were."""
    k = np.arange(len(ticks))
    known = ~np.isnan(ticks)
    return np.interp(k, k[known], ticks[known])


def segments(ticks: np.ndarray, jumps: int = 0, near: list[float] = ()) -> list[Segment]:
    """A line per tempo: `jumps` tempo changes, each put where two lines fit the ticks best
    (least squares over every possible cut; a tick's receive time jitters by a JACK cycle, so
    the tick intervals alone cannot tell a jump from jitter). near: when each change was asked
    for (the clock source's commands); each cut is then looked for within a few ticks of it."""
    if near:
        return _segments_near(ticks, near)
    bounds = [0, len(ticks)]
    for _ in range(jumps):
        best = None
        for i, (lo, hi) in enumerate(zip(bounds, bounds[1:])):
            for cut in range(lo + 4, hi - 3):
                gain = _sse(ticks, lo, hi) - _sse(ticks, lo, cut) - _sse(ticks, cut, hi)
                if best is None or gain > best[0]:
                    best = (gain, cut)
        bounds = sorted([*bounds, best[1]])
    return [_line(ticks, lo, hi) for lo, hi in zip(bounds, bounds[1:])]


def _segments_near(ticks: np.ndarray, near: list[float]) -> list[Segment]:
    bounds = [0]
    for i, when in enumerate(near):
        guess = int(np.searchsorted(filled(ticks), when))
        after = (int(np.searchsorted(filled(ticks), near[i + 1])) if i + 1 < len(near)
                 else len(ticks))
        lo, hi = bounds[-1], after
        best = max(range(max(lo + 4, guess - 3), min(hi - 4, guess + 4)),
                   key=lambda cut: -_sse(ticks, lo, cut) - _sse(ticks, cut, hi))
        bounds.append(best)
    bounds.append(len(ticks))
    return [_line(ticks, lo, hi) for lo, hi in zip(bounds, bounds[1:])]


def _line(ticks: np.ndarray, lo: int, hi: int) -> Segment:
    k, y = _known(ticks, lo, hi)
    b, a = np.polyfit(k, y, 1)
    return Segment(lo, hi - 1, float(a), float(b))


def _known(ticks: np.ndarray, lo: int, hi: int):
    k = np.arange(lo, hi)
    y = ticks[lo:hi]
    return k[~np.isnan(y)], y[~np.isnan(y)]


def _sse(ticks: np.ndarray, lo: int, hi: int) -> float:
    k, y = _known(ticks, lo, hi)
    coef = np.polyfit(k, y, 1)
    return float(((np.polyval(coef, k) - y) ** 2).sum())


def grid_error(t: float, segs: list[Segment], subdivision: int) -> float:
    """Seconds from t to the nearest grid point (TICKS_PER_BEAT / subdivision ticks apart) of the
    tempo segment t falls in; positive = late."""
    seg = next((s for s in reversed(segs) if t >= s.a + s.b * s.first - s.b), segs[0])
    step = TICKS_PER_BEAT / subdivision
    position = (t - seg.a) / seg.b
    nearest = round(position / step) * step
    return t - (seg.a + seg.b * nearest)


def position(t: float, segs: list[Segment]) -> float:
    seg = next((s for s in reversed(segs) if t >= s.a + s.b * s.first - s.b), segs[0])
    return (t - seg.a) / seg.b
