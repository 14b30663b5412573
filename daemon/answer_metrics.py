"""How well an answer fits its call: per-call measures a musician would check by ear.

Pure functions over note lists (events.Note) and what the call established (analysis.py): no
model, no clock. Each returns None where it does not apply (no key or pulse in the call, too few
notes in the answer), so a mean over calls never counts a measure that could not be taken.

  key_agreement     share of answer note-ons whose pitch class is in the call's scale
  on_grid           share of answer onsets within +-10 % of a tatum of the call's grid, the grid
                    extended into the answer in real time (not re-fitted to the answer)
  ioi_overlap       histogram intersection of inter-onset intervals, in log2 bins of the tatum
  pitch_distance    |median answer pitch - median call pitch|, semitones
  pitch_class_overlap  histogram intersection of the two pitch-class distributions (note-ons)
  interval_overlap  histogram intersection of melodic intervals (top note of each onset to the
                    next, -12..+12 semitones, wider leaps clipped)
  polyphony_ratio   mean notes sounding at an onset, answer / call
  velocities        distinct answer velocities, and their standard deviation
  accent_agreement  correlation of the mean velocity per position in the beat, answer vs call,
                    only where the call has accents
  cut_at_end        share of answer notes still sounding within 10 ms of the answer's end: closed
                    by the engine, not ended by the model
  copy_rate         share of the answer's pitch 4-grams that occur in the call
  handover_s        the call's last note-on -> the answer's first note-on
  phase_error_ms    the answer's first note-on -> the nearest beat of the call's pulse
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np

from .analysis import CallAnalysis, sounding_at_onsets
from .events import Note

log = logging.getLogger(__name__)

ONSET_WINDOW_S = 0.035  # starts this close are one onset (a chord), as the analysis counts them
GRID_TOLERANCE = 0.10  # of a tatum
CUT_WINDOW_S = 0.010
MIN_ACCENT_RANGE = 6.0  # velocity: a call whose positions differ less has no accents to follow
IOI_BINS = np.arange(-4, 9)  # half-octave bins of IOI / tatum: 1/4 to 16 tatums


def _sorted(notes: Sequence[Note]) -> list[Note]:
    return sorted(notes, key=lambda n: (n.start, n.pitch))


def onsets(notes: Sequence[Note], window: float = ONSET_WINDOW_S) -> np.ndarray:
    """Onset times: the first start of each group of starts within `window` of each other."""
    starts = np.sort(np.array([n.start for n in notes], dtype=float))
    if starts.size == 0:
        return starts
    new = np.concatenate([[True], np.diff(starts) > window])
    return starts[new]


def key_agreement(answer: Sequence[Note], scale: frozenset[int] | None) -> float | None:
    if not answer or not scale:
        return None
    return float(np.mean([n.pitch % 12 in scale for n in answer]))


def on_grid_share(times: Sequence[float], pulse, tolerance: float = GRID_TOLERANCE) -> float | None:
    """Share of `times` within `tolerance` tatums of a grid point of `pulse`, as the call plays
    it (a swung call's late off-beats are its grid)."""
    if pulse is None or len(times) == 0:
        return None
    return float(np.mean([pulse.grid_distance(float(t)) <= tolerance + 1e-9 for t in times]))


def ioi_histogram(onset_times: Sequence[float], tatum_s: float) -> np.ndarray | None:
    """Normalised histogram of inter-onset intervals over IOI_BINS (round(2 log2(IOI/tatum)))."""
    iois = np.diff(np.sort(np.asarray(onset_times, dtype=float)))
    iois = iois[iois > 0]
    if iois.size == 0:
        return None
    bins = np.clip(np.round(2 * np.log2(iois / tatum_s)), IOI_BINS[0], IOI_BINS[-1])
    hist = np.bincount((bins - IOI_BINS[0]).astype(int), minlength=len(IOI_BINS)).astype(float)
    return hist / hist.sum()


def ioi_overlap(call_onsets: Sequence[float], answer_onsets: Sequence[float],
                tatum_s: float | None) -> float | None:
    if not tatum_s:
        return None
    a, b = ioi_histogram(call_onsets, tatum_s), ioi_histogram(answer_onsets, tatum_s)
    if a is None or b is None:
        return None
    return float(np.minimum(a, b).sum())


def pitch_distance(call: Sequence[Note], answer: Sequence[Note]) -> float | None:
    if not call or not answer:
        return None
    return float(abs(np.median([n.pitch for n in answer]) - np.median([n.pitch for n in call])))


def _intersection(a: np.ndarray, b: np.ndarray) -> float | None:
    if a.sum() == 0 or b.sum() == 0:
        return None
    return float(np.minimum(a / a.sum(), b / b.sum()).sum())


def pitch_class_overlap(call: Sequence[Note], answer: Sequence[Note]) -> float | None:
    def hist(notes):
        return np.bincount([n.pitch % 12 for n in notes], minlength=12).astype(float)

    return _intersection(hist(call), hist(answer)) if call and answer else None


def melodic_intervals(notes: Sequence[Note], window: float = ONSET_WINDOW_S) -> np.ndarray:
    """Intervals between the top notes of successive onsets (a chord counts by its top note)."""
    ordered = _sorted(notes)
    tops: list[int] = []
    group_start = None
    for n in ordered:
        if group_start is None or n.start - group_start > window:
            tops.append(n.pitch)
            group_start = n.start
        else:
            tops[-1] = max(tops[-1], n.pitch)
    return np.diff(np.array(tops, dtype=int))


def interval_overlap(call: Sequence[Note], answer: Sequence[Note]) -> float | None:
    def hist(notes):
        steps = np.clip(melodic_intervals(notes), -12, 12) + 12
        return np.bincount(steps, minlength=25).astype(float)

    return _intersection(hist(call), hist(answer))


def polyphony_ratio(call: Sequence[Note], answer: Sequence[Note]) -> float | None:
    """Mean notes sounding at an onset (the analysis' texture), answer / call."""
    if not call or not answer:
        return None
    return float(np.mean(sounding_at_onsets(_sorted(answer)))
                 / np.mean(sounding_at_onsets(_sorted(call))))


def velocity_spread(answer: Sequence[Note]) -> tuple[int, float | None]:
    """-> (distinct velocities, their standard deviation)."""
    if not answer:
        return 0, None
    v = np.array([n.velocity for n in answer], dtype=float)
    return len(set(v.tolist())), float(v.std())


def _positions(times: Sequence[float], pulse) -> tuple[np.ndarray, int]:
    """Each time's position in the beat (its nearest tatum), and how many positions there are.
    A call with one tatum per beat has its accents on beats of the bar, when the meter is known."""
    n = np.round([pulse.index(float(t)) for t in times]).astype(int)
    if pulse.subdivision >= 2 or not pulse.beats_per_bar or pulse.downbeat is None:
        return n % pulse.subdivision, pulse.subdivision
    bar_start = round(pulse.index(pulse.downbeat))
    return (n - bar_start) % pulse.beats_per_bar, pulse.beats_per_bar


def accent_profile(notes: Sequence[Note], pulse) -> np.ndarray:
    """Mean velocity per position in the beat minus the overall mean (NaN: no note there)."""
    pos, cycle = _positions([n.start for n in notes], pulse)
    v = np.array([n.velocity for n in notes], dtype=float)
    profile = np.full(cycle, np.nan)
    for p in range(cycle):
        if (pos == p).any():
            profile[p] = v[pos == p].mean() - v.mean()
    return profile


def accent_agreement(call: Sequence[Note], answer: Sequence[Note], pulse,
                     min_range: float = MIN_ACCENT_RANGE) -> float | None:
    """Pearson correlation of the two accent profiles over the positions both play; None when
    the call has no accents; 0 when the answer plays those positions all alike."""
    if pulse is None or not call or not answer:
        return None
    c, a = accent_profile(call, pulse), accent_profile(answer, pulse)
    if len(c) < 2 or np.nanmax(c) - np.nanmin(c) < min_range:
        return None
    both = ~np.isnan(c) & ~np.isnan(a)
    if both.sum() < 2:
        return None
    c, a = c[both], a[both]
    if a.std() < 1e-9 or c.std() < 1e-9:
        return 0.0
    return float(np.corrcoef(c, a)[0, 1])


def cut_at_end(answer: Sequence[Note], end: float | None,
               window: float = CUT_WINDOW_S) -> float | None:
    if not answer or end is None:
        return None
    return float(np.mean([n.end >= end - window for n in answer]))


def pitch_ngrams(notes: Sequence[Note], n: int = 4) -> list[tuple[int, ...]]:
    pitches = [x.pitch for x in _sorted(notes)]
    return [tuple(pitches[i:i + n]) for i in range(len(pitches) - n + 1)]


def copy_rate(call: Sequence[Note], answer: Sequence[Note], n: int = 4) -> float | None:
    grams = pitch_ngrams(answer, n)
    if not grams:
        return None
    known = set(pitch_ngrams(call, n))
    return float(np.mean([g in known for g in grams]))


def handover_s(call: Sequence[Note], answer: Sequence[Note]) -> float | None:
    if not call or not answer:
        return None
    return float(min(n.start for n in answer) - max(n.start for n in call))


def phase_error_ms(t: float | None, pulse) -> float | None:
    """Distance of time t from the nearest beat of the pulse, in ms."""
    if t is None or pulse is None:
        return None
    after = pulse.next_beat(t)
    return 1000.0 * min(abs(after - t), abs(t - (after - pulse.beat_s)))


def measure(call: Sequence[Note], answer: Sequence[Note], analysis: CallAnalysis,
            answer_end: float | None) -> dict:
    """Every measure of one answer against its call -> {name: value or None}."""
    pulse, key = analysis.pulse, analysis.key
    call_on, answer_on = onsets(call), onsets(answer)
    distinct, spread = velocity_spread(answer)
    first = float(answer_on[0]) if len(answer_on) else None
    return {
        "answer_notes": len(answer),
        "key_agreement": key_agreement(answer, key.scale if key else None),
        "on_grid": on_grid_share(answer_on, pulse),
        "ioi_overlap": ioi_overlap(call_on, answer_on, pulse.tatum_s if pulse else None),
        "pitch_distance": pitch_distance(call, answer),
        "pitch_class_overlap": pitch_class_overlap(call, answer),
        "interval_overlap": interval_overlap(call, answer),
        "polyphony_ratio": polyphony_ratio(call, answer),
        "velocities_distinct": distinct,
        "velocity_std": spread,
        "accent_agreement": accent_agreement(call, answer, pulse),
        "cut_at_end": cut_at_end(answer, answer_end),
        "copy_rate": copy_rate(call, answer),
        "handover_s": handover_s(call, answer),
        "phase_error_ms": phase_error_ms(first, pulse),
        # The call against its own grid: how much "on grid" can mean for this call at all.
        "call_on_grid": on_grid_share(call_on, pulse),
    }


def mean_of(values: Sequence[float | None]) -> float | None:
    """Mean of the values that were measured (None where none was)."""
    taken = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(taken)) if taken else None
