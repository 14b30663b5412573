"""The call's pulse: beat period and phase, the subdivision it plays, its groove and meter.

A grid search over (beat, subdivision): for each beat period between 60 and 200 bpm and each
subdivision (1..4 tatums a beat), the onsets are folded onto the tatum grid, each position in the
beat may keep its own systematic offset (that is what swing, pushing and laying back are), and
the grid scores by how closely the onsets sit on it, how clearly the player's accents mark one
position as the beat, how few tatums it needs, and a mild prior toward moderate tempi. The winner
is refined by weighted least squares on the recent onsets, so a player who drifts is followed.

Costs well under a millisecond for the 32 onsets it looks at; the analyzer calls it lazily.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MIN_BEAT_S, MAX_BEAT_S = 0.3, 1.0  # 200 and 60 bpm
SUBDIVISIONS = (1, 2, 3, 4)
WINDOW = 32  # onsets looked at: the recent ones carry the tempo the answer must keep
SIGMA = 0.1  # how far (in tatums) an onset may sit from its grid point and still count
MAX_OFFSET = 0.35  # a systematic offset larger than this is a different grid, not a groove
_BEATS = MIN_BEAT_S * np.exp(np.arange(0, math.log(MAX_BEAT_S / MIN_BEAT_S), 0.01))


@dataclass(frozen=True)
class Pulse:
    tatum_s: float  # grid step: beat / subdivision
    origin: float  # time of one beat (tatum index 0), on the events' clock
    subdivision: int  # tatums per beat
    confidence: float  # share of (weighted) onsets on the grid, 0..1
    offsets: tuple[float, ...] = ()  # groove: mean offset per tatum position, in tatums
    beats_per_bar: int | None = None
    downbeat: float | None = None  # time of one bar line, when the meter is known

    @property
    def beat_s(self) -> float:
        return self.tatum_s * self.subdivision

    @property
    def bpm(self) -> float:
        return 60.0 / self.beat_s

    def grid_time(self, n: float) -> float:
        return self.origin + n * self.tatum_s

    def index(self, t: float) -> float:
        return (t - self.origin) / self.tatum_s

    def played_time(self, n: int) -> float:
        """Where the player would put tatum n: the grid point plus its groove offset."""
        offset = self.offsets[n % self.subdivision] if self.offsets else 0.0
        return self.grid_time(n + offset)

    def grid_points(self, t0: float, t1: float, groove: float = 1.0) -> np.ndarray:
        """Grid times between t0 and t1 (a point either side too), each moved by its position's
        groove offset scaled by `groove` (1 = as the call plays it, 0 = the straight grid)."""
        n = np.arange(math.floor(self.index(t0)) - 1, math.ceil(self.index(t1)) + 2)
        offsets = np.asarray(self.offsets or (0.0,) * self.subdivision)
        return self.origin + (n + groove * offsets[n % self.subdivision]) * self.tatum_s

    def grid_distance(self, t: float) -> float:
        """How far t lies from the nearest grid point as played (groove included), in tatums."""
        return float(np.abs(self.grid_points(t, t) - t).min()) / self.tatum_s

    def next_beat(self, t: float) -> float:
        k = math.ceil((t - self.origin) / self.beat_s - 1e-9)
        return self.origin + k * self.beat_s

    def next_bar(self, t: float) -> float:
        if self.beats_per_bar is None or self.downbeat is None:
            return self.next_beat(t)
        bar = self.beat_s * self.beats_per_bar
        return self.downbeat + math.ceil((t - self.downbeat) / bar - 1e-9) * bar


def cluster_onsets(starts: np.ndarray, strengths: np.ndarray, window: float = 0.035):
    """Note starts (sorted) -> (onset times, accent strengths): a chord is one onset, as loud as
    its loudest note and a little stronger for each extra note."""
    times: list[float] = []
    accents: list[float] = []
    for t, s in zip(starts, strengths):
        if times and t - times[-1] <= window:
            accents[-1] = max(accents[-1], s) * 1.1
        else:
            times.append(float(t))
            accents.append(float(s))
    return np.asarray(times), np.asarray(accents)


def estimate_pulse(onsets: np.ndarray, accents: np.ndarray) -> Pulse | None:
    """onsets: sorted onset times (chords already clustered); accents: their strengths (> 0:
    loudness, with length and chord size, see analysis.py)."""
    onsets, accents = onsets[-WINDOW:], accents[-WINDOW:]
    if len(onsets) < 4 or onsets[-1] - onsets[0] < MIN_BEAT_S:
        return None  # a handful of notes, or a burst: no pulse to tell
    # A crescendo is no accent: what marks the beat is loudness against the phrase's trend.
    trend = np.polyval(np.polyfit(onsets - onsets[0], accents, 1), onsets - onsets[0])
    accents = accents / np.maximum(trend, 0.2 * accents.mean())
    accents = accents / accents.mean()
    best = None
    for m in SUBDIVISIONS:
        scores = _score_grids(onsets, accents, _BEATS / m, m)
        i = int(np.argmax(scores[0]))
        if best is None or scores[0][i] > best[0]:
            best = (scores[0][i], _BEATS[i], m, scores[1][i])
    _, beat, m, fit = best
    if fit < 0.68:  # rubato, or too few onsets to tell: no pulse rather than a wrong one
        return None
    return _refine(onsets, accents, beat / m, m)


def _fold(onsets: np.ndarray, tatums: np.ndarray, m: int):
    """For each candidate tatum (rows): tatum indices, deviations and groove offsets of onsets."""
    x = onsets[None, :] / tatums[:, None]
    # Phase from the circular mean of the onsets at the tatum period.
    phase = np.angle(np.exp(2j * np.pi * x).sum(axis=1)) / (2 * np.pi)
    n = np.round(x - phase[:, None])
    # A straight line through (index, onset) per candidate: the candidate grid's own small
    # tempo error must not decide between two readings that both fit.
    nc = n - n.mean(axis=1, keepdims=True)
    slope = (nc * onsets[None, :]).sum(axis=1) / np.maximum((nc * nc).sum(axis=1), 1e-9)
    slope = np.where(np.abs(slope / tatums - 1) < 0.1, slope, tatums)
    intercept = onsets.mean() - slope * n.mean(axis=1)
    dev = (onsets[None, :] - intercept[:, None]) / slope[:, None] - n
    pos = n.astype(np.int64) % m
    offsets = np.zeros((len(tatums), m))
    for p in range(m):
        sel = pos == p
        count = sel.sum(axis=1)
        # One onset alone is no groove: a position needs two to earn an offset of its own.
        mean = np.where(count > 1, (dev * sel).sum(axis=1) / np.maximum(count, 1), 0.0)
        offsets[:, p] = np.clip(mean, -MAX_OFFSET, MAX_OFFSET)
    return phase, n, pos, dev, offsets


def _score_grids(onsets, accents, tatums, m):
    _phase, n, pos, dev, offsets = _fold(onsets, tatums, m)
    rows = np.arange(len(tatums))[:, None]
    resid = dev - offsets[rows, pos]
    weight = accents / accents.sum()
    fit = (np.exp(-0.5 * (resid / SIGMA) ** 2) * weight).sum(axis=1)
    # How strongly one position in the beat carries the accents (which one is the beat).
    # Accents only say which position is the beat on a regular grid: where the positions need
    # large offsets of their own (a polyrhythm read into the grid) they say nothing.
    spread = offsets.max(axis=1) - offsets.min(axis=1)
    contrast = _accent_contrast(pos, accents, m) * np.exp(-0.5 * (spread / 0.1) ** 2)
    # A position in the beat that nothing is played on means the grid is finer than the music.
    empty = np.stack([(pos == p).sum(axis=1) == 0 for p in range(m)], axis=1).mean(axis=1)
    # So does a subdivided grid on which every onset falls on every 2nd (or 3rd) point. (Not a
    # grid of beats alone: half notes at 90 bpm are still a 90 bpm call.)
    steps = n - n[:, :1]
    too_fine = ((steps % 2 == 0).all(axis=1) | (steps % 3 == 0).all(axis=1)).astype(float)
    too_fine *= m > 1
    beat = tatums * m
    prior = -0.5 * np.log2(beat / 0.55) ** 2
    # A finer grid fits at least as well as a coarser one: prefer the coarsest that fits.
    score = fit + 0.8 * contrast + 0.1 * prior + 0.05 * np.log2(tatums) - 0.5 * (empty + too_fine)
    return score, fit


def _accent_contrast(pos: np.ndarray, accents: np.ndarray, m: int) -> np.ndarray:
    """How much louder (and longer) the strongest position in the beat is than the next
    strongest, relative to the mean accent: 0 for one position, an even stream, or a grouping
    whose "beat" is ambiguous (two positions as strong)."""
    if m == 1:
        return np.zeros(len(pos))
    total = np.stack([((pos == p) * accents).sum(axis=1) for p in range(m)], axis=1)
    count = np.stack([(pos == p).sum(axis=1) for p in range(m)], axis=1)
    # Empty positions sort first (-inf) and never count as "the next strongest".
    mean = np.where(count > 0, total / np.maximum(count, 1), -np.inf)
    top2 = np.sort(mean, axis=1)[:, -2:]
    return np.where(np.isfinite(top2[:, 0]), top2[:, 1] - top2[:, 0], 0.0) / accents.mean()


def _refine(onsets, accents, tatum, m) -> Pulse | None:
    """Least squares on tatum indices, recent onsets weighted more (a drifting player)."""
    _phase, n, pos, _dev, offsets = (a[0] for a in _fold(onsets, np.array([tatum]), m))
    # The beat is the position the accents mark.
    weight = accents / accents.sum()
    means = [accents[pos == p].mean() if (pos == p).any() else 0.0 for p in range(m)]
    beat_pos = int(np.argmax(means))
    n = n - beat_pos
    pos = n.astype(np.int64) % m
    offsets = np.roll(offsets, -beat_pos)
    offsets = offsets - offsets[0]
    target = onsets - offsets[pos] * tatum
    for _ in range(2):  # a straight line first: it assigns each onset its tatum index
        A = np.stack([np.ones_like(n), n], axis=1) * np.sqrt(weight)[:, None]
        origin, tatum = np.linalg.lstsq(A, target * np.sqrt(weight), rcond=None)[0]
        n = np.round((target - origin) / tatum)
    resid = (target - origin) / tatum - n
    fit = float((np.exp(-0.5 * (resid / SIGMA) ** 2) * weight).sum())
    if not (np.isfinite(tatum) and tatum > 0):
        return None
    last_beat = math.floor(n[-1] / m) * m
    beat_time, local = _local_tempo(target, n - last_beat, weight, tatum * m)
    if np.isfinite(local) and 0.8 * tatum < local < 1.25 * tatum:
        tatum = local  # the tempo where the call ended; a wild bend is noise, not a player
    else:
        beat_time = origin + last_beat * tatum
    # Anchored at the call's last beat with its tempo there, so a player who drifts is followed.
    offsets = tuple(float(o) for o in np.clip(offsets, -MAX_OFFSET, MAX_OFFSET))
    n = n - last_beat
    pulse = Pulse(float(tatum), float(beat_time), m, fit, offsets)
    return _with_meter(pulse, n, accents)


def _local_tempo(times, k, weight, beat_s, jitter_s=0.015, bend_s=0.002):
    """Time of tatum 0 and the tatum length there, from times ~ a + b k + c k^2 (recent onsets
    weighted more). The ridge on c (prior std bend_s per tatum squared against the player's
    jitter_s) keeps a steady call straight and lets a drifting one bend."""
    recency = 0.5 ** ((times[-1] - times) / (8 * beat_s))
    sw = np.sqrt(weight / weight.mean() * recency) / jitter_s
    A = np.stack([np.ones_like(k), k, k * k], axis=1) * sw[:, None]
    A = np.vstack([A, [0.0, 0.0, 1.0 / bend_s]])
    a, b, _ = np.linalg.lstsq(A, np.append(times * sw, 0.0), rcond=None)[0]
    return a, b


def _with_meter(pulse: Pulse, n: np.ndarray, accents: np.ndarray) -> Pulse:
    """Beats per bar from accents on beats, where two bars or more show a clear pattern."""
    m = pulse.subdivision
    on_beat = (n % m) == 0
    beats = (n[on_beat] // m).astype(np.int64)
    strong = accents[on_beat]
    if len(beats) < 4:
        return pulse
    best = None
    for per_bar in (4, 3, 2, 5, 7, 6):
        if beats.max() - beats.min() + 1 < 2 * per_bar:
            continue
        if not all((beats % per_bar == r).any() for r in range(per_bar)):
            continue  # a beat of the bar never played: its accents cannot be compared
        means = np.array([strong[beats % per_bar == r].mean() for r in range(per_bar)])
        r = int(np.argmax(means))
        others = np.delete(means, r)
        contrast = (means[r] - others.mean()) / strong.mean()
        if contrast > 0.15 and (best is None or contrast > best[0] + 0.05):
            best = (contrast, per_bar, r)
    if best is None:
        return pulse
    _, per_bar, r = best
    downbeat = pulse.grid_time(r * m)
    return Pulse(pulse.tatum_s, pulse.origin, m, pulse.confidence, pulse.offsets, per_bar,
                 downbeat)
