"""Call analysis: what the player's phrase established, for steering the answer and judging it.

  pulse        beat period and phase, the subdivision played, groove, meter (pulse.py)
  key          tonic and mode from duration-weighted pitch classes (Krumhansl-Kessler profiles),
               earlier calls counting less and less
  register     10th / 50th / 90th percentile pitches
  texture      how many notes sound at each onset, on average
  dynamics     level (median velocity), accents per position in the beat, swell (velocity/s)
  articulation median sounding length / time to the next onset (legato ~1, staccato ~0.3)

`analyze(events)` reads a finished call at once (evaluation, tests). `CallAnalyzer` is the live
version on the engine thread: `update(event)` only appends (O(1)); the analysis is computed when
asked for and kept until the next note.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

import numpy as np

from .events import Event, Note, events_to_notes
from .pulse import MIN_BEAT_S, Pulse, cluster_onsets, estimate_pulse

log = logging.getLogger(__name__)

NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
# Krumhansl & Kessler (1982) probe-tone profiles, tonic first.
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
_PROFILES = np.stack([np.roll(p, k) for p in (_MAJOR, _MINOR) for k in range(12)])
# Scale steps: major, and natural minor with the raised leading tone melodies use.
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10, 11)}
EARLIER_CALL_WEIGHT = 0.5  # each older call counts half as much toward the key
CALL_WINDOW = 96  # notes of a long call that are analysed: the recent ones (bounds the cost)
# The shortest "long note" a call can establish: a call of notes released in the cycle they
# were struck (drum pads, a flood of random messages) has lengths of 0, and a hold limit of 0
# is no limit (steering divides by it). 50 ms is a short staccato at any tempo.
SHORTEST_LONG_NOTE_S = 0.05


@dataclass(frozen=True)
class Key:
    tonic: int  # pitch class
    mode: str  # "major" or "minor"
    confidence: float  # correlation with the best profile, -1..1

    @property
    def scale(self) -> frozenset[int]:
        return frozenset((self.tonic + s) % 12 for s in SCALES[self.mode])

    @property
    def stable(self) -> frozenset[int]:
        """The tonic triad: where a phrase comes to rest."""
        third = 4 if self.mode == "major" else 3
        return frozenset((self.tonic + s) % 12 for s in (0, third, 7))

    @property
    def name(self) -> str:
        return f"{NAMES[self.tonic]} {self.mode}"


@dataclass(frozen=True)
class CallAnalysis:
    pulse: Pulse | None
    key: Key | None
    register: tuple[float, float, float]  # low, median, high pitch
    texture: float  # mean notes sounding at an onset (including it)
    level: float  # median velocity
    accents: tuple[float, ...]  # mean velocity offset per tatum position in the beat
    swell: float  # velocity change per second over the call (crescendo > 0)
    articulation: float  # median sounding length / time to the next onset
    long_note: float  # 90th percentile of the call's note lengths, seconds
    notes: int
    start: float
    end: float  # last note-off (or the last onset, if keys are still held)

    def describe(self) -> str:
        """One line a musician reads."""
        tempo = (f"{self.pulse.bpm:.0f} bpm, {self.pulse.subdivision} per beat"
                 + (f", {self.pulse.beats_per_bar}/4" if self.pulse.beats_per_bar else "")
                 if self.pulse else "no steady pulse")
        key = self.key.name if self.key else "no clear key"
        return (f"{tempo}; {key}; notes {self.register[0]:.0f}-{self.register[2]:.0f}; "
                f"{self.texture:.1f} at once; velocity {self.level:.0f}")


def sounding_at_onsets(notes: list[Note], window: float = 0.035) -> list[int]:
    """For each note, how many notes sound as it starts (itself and its chord included)."""
    starts = np.array([n.start for n in notes])
    ends = np.array([n.end for n in notes])
    return [int(((starts <= n.start + window) & (ends > n.start)).sum()) for n in notes]


def estimate_key(notes: list[Note], weights: list[float] | None = None) -> Key | None:
    """Duration-weighted pitch-class histogram against the 24 major/minor profiles."""
    hist = np.zeros(12)
    for i, n in enumerate(notes):
        w = 1.0 if weights is None else weights[i]
        hist[n.pitch % 12] += w * (0.1 + min(n.end - n.start, 2.0))
    if np.count_nonzero(hist) < 3:
        return None
    h = hist - hist.mean()
    if not h.any():
        return None  # every pitch class alike (a chromatic cluster): no key to tell
    p = _PROFILES - _PROFILES.mean(axis=1, keepdims=True)
    corr = (p @ h) / (np.linalg.norm(p, axis=1) * np.linalg.norm(h))
    best = int(np.argmax(corr))
    return Key(best % 12, "major" if best < 12 else "minor", float(corr[best]))


def analyze(events: list[Event], earlier: list[Note] = (), earlier_weights=()) -> CallAnalysis:
    """A whole call (events on any clock) -> what it established."""
    notes = events_to_notes(e for e in events if e.kind != "control_change")
    return analyze_notes(notes, list(earlier), list(earlier_weights))


def analyze_notes(notes: list[Note], earlier: list[Note] = (),
                  earlier_weights: list[float] = ()) -> CallAnalysis:
    if not notes:
        raise ValueError("a call without notes has nothing to analyse")
    notes = sorted(notes, key=lambda n: (n.start, n.pitch))
    starts = np.array([n.start for n in notes])
    velocities = np.array([n.velocity for n in notes], dtype=float)
    pitches = np.array([n.pitch for n in notes], dtype=float)
    # A long note is heard as accented too (agogic accent), a little.
    lengths = np.array([n.end - n.start for n in notes])
    agogic = np.clip(lengths / max(np.median(lengths), 1e-3), 0.5, 2.0) ** 0.3
    onsets, accents = cluster_onsets(starts, np.maximum(velocities, 1.0) * agogic)
    pulse = estimate_pulse(onsets, accents)
    key = estimate_key(list(earlier) + notes, list(earlier_weights) + [1.0] * len(notes))
    return CallAnalysis(
        pulse=pulse,
        key=key,
        register=tuple(float(x) for x in np.percentile(pitches, [10, 50, 90])),
        texture=float(np.mean(sounding_at_onsets(notes))),
        level=float(np.median(velocities)),
        accents=_accents(pulse, starts, velocities),
        swell=_swell(starts, velocities),
        articulation=_articulation(notes, onsets),
        long_note=max(float(np.percentile(lengths, 90)), SHORTEST_LONG_NOTE_S),
        notes=len(notes),
        start=float(starts[0]),
        end=float(max(n.end for n in notes)),
    )


def _accents(pulse: Pulse | None, starts: np.ndarray, velocities: np.ndarray):
    if pulse is None:
        return ()
    pos = np.round([pulse.index(t) for t in starts]).astype(int) % pulse.subdivision
    mean = velocities.mean()
    return tuple(float(velocities[pos == p].mean() - mean) if (pos == p).any() else 0.0
                 for p in range(pulse.subdivision))


def _swell(starts: np.ndarray, velocities: np.ndarray) -> float:
    if len(starts) < 3 or starts[-1] - starts[0] < 0.5:
        return 0.0
    return float(np.polyfit(starts - starts[0], velocities, 1)[0])


def _articulation(notes: list[Note], onsets: np.ndarray) -> float:
    ratios = []
    for n in notes:
        later = onsets[onsets > n.start + 0.035]
        if len(later):
            ratios.append(min(1.5, (n.end - n.start) / (later[0] - n.start)))
    return float(np.median(ratios)) if ratios else 1.0


class CallAnalyzer:
    """Live call analysis on the engine thread: cheap updates, analysis on demand."""

    def __init__(self, history: int = 256):
        self._open: dict[tuple[int, int], tuple[float, int]] = {}  # (channel, pitch) -> start
        self._call: deque[Note] = deque(maxlen=CALL_WINDOW)
        self._earlier: deque[tuple[Note, float]] = deque(maxlen=history)
        self._cached: CallAnalysis | None = None
        self._onsets: deque[float] = deque(maxlen=9)  # recent onsets (a chord counts once)
        self.last_onset: float | None = None
        self._last_release = -float("inf")
        # The call that just ended, kept whole for a moment: a player who goes on within two
        # beats of it (the pause was a breath, not the end) is still playing that call.
        self._ended: tuple[list[Note], list[float], float] | None = None
        self.resumed: float | None = None  # when the resumed call started (the engine tells
        # the policy), set by the note-on that resumed it

    @property
    def held(self) -> int:
        return len(self._open)

    def update(self, e: Event) -> None:
        """One heard event (O(1): the analysis itself waits until it is asked for)."""
        key = (e.channel, e.pitch)
        if e.is_note_on:
            if self._ended is not None and not self._call and not self._open:
                self._resume_or_close(e.time)
            if key in self._open:  # a re-strike ends the sounding note
                self._close(key, e.time)
            self._open[key] = (e.time, e.velocity)
            if self.last_onset is None or e.time - self.last_onset > 0.035:
                self._onsets.append(e.time)
            self.last_onset = e.time
            self._cached = None
        elif e.is_note_off and key in self._open:
            self._close(key, e.time)
            self._last_release = e.time

    def release_all(self, t: float) -> None:
        """Every held key counts as released at t (a lost note-off, All Notes Off)."""
        for key in list(self._open):
            self._close(key, max(t, self._open[key][0]))
        self._last_release = t

    def _close(self, key, end: float) -> None:
        start, velocity = self._open.pop(key)
        self._call.append(Note(key[1], velocity, start, end))
        self._cached = None

    def analysis(self, now: float | None = None) -> CallAnalysis | None:
        """What the current call established (held keys count as sounding until now)."""
        if self._cached is None:
            held = [Note(p, v, s, max(s, now if now is not None else s))
                    for (_, p), (s, v) in self._open.items()]
            notes = list(self._call) + held
            if not notes:
                return None
            self._cached = analyze_notes(notes, [n for n, _ in self._earlier],
                                         [w for _, w in self._earlier])
        return self._cached

    def call_end_due(self, now: float | None = None) -> float | None:
        """When the call counts as over by its pulse: every key is up and no onset came where
        one was due (a beat, or the longest recent gap if longer, plus a quarter beat's grace).
        None when the call shows no pulse (silence alone decides). The analysis costs a few
        ms, so it is made only when asked with `now` (the engine asks when no input waits)
        and the player has paused longer than any recent gap: nothing can be due before."""
        if self._open or len(self._onsets) < 4:
            return None
        longest_gap = float(np.diff(self._onsets).max())
        # Nothing can be due before a beat (at least MIN_BEAT_S) has passed since the last
        # note-on: a fast run or a flood never pays for the analysis while it goes on. (Not
        # since the last onset: a stream of note-ons closer than a chord's spread is one onset.)
        wait = max(longest_gap, MIN_BEAT_S)
        if self._cached is None and (now is None or now < self.last_onset + wait):
            return None
        a = self.analysis()
        if a is None or a.pulse is None:
            return None
        gap = max(a.pulse.beat_s, longest_gap)
        grace = 0.25 * a.pulse.beat_s
        # A legato player lifts one key just before striking the next: a long note's release is
        # no end of the call until the next strike has had the same grace.
        return max(self._onsets[-1] + gap, self._last_release) + grace

    def end_call(self) -> CallAnalysis | None:
        """The call is over: analyse it; its notes become earlier context (weighted down) once
        the next call is clearly a new one."""
        result = self.analysis()
        if self._ended is not None:
            self._keep_as_earlier(self._ended[0])
        beat = result.pulse.beat_s if result is not None and result.pulse else 0.5
        last = self._onsets[-1] if self._onsets else -float("inf")
        # A pause of up to two beats is no end: the call resumes if the player comes back within
        # them. A quarter beat of grace, so that coming back exactly on the second beat does not
        # fall outside by how the estimated beat rounds (it did on one CPU and not another).
        self._ended = (list(self._call), list(self._onsets), last + 2.25 * beat)
        self._call.clear()
        self._onsets.clear()
        self._cached = None
        return result

    def answered(self) -> None:
        """The answer to the call that ended played out: what the player plays next is a new
        call, however soon (a resumed call is one whose answer the player cut short)."""
        if self._ended is not None:
            self._keep_as_earlier(self._ended[0])
            self._ended = None

    def drop_call(self) -> None:
        """The call will not be answered (a panic): its notes become earlier context now, and
        what the player plays next starts a new call. Keys still down stay open."""
        self.answered()
        if self._call:  # (keeping nothing would still weigh the earlier calls down once more)
            self._keep_as_earlier(list(self._call))
        self._call.clear()
        self._onsets.clear()
        self._cached = None

    def _resume_or_close(self, t: float) -> None:
        notes, onsets, resume_until = self._ended
        self._ended = None
        if t <= resume_until and notes:
            self._call.extend(notes)
            self._onsets.extend(onsets)
            self.resumed = notes[0].start
        else:
            self._keep_as_earlier(notes)

    def _keep_as_earlier(self, notes: list[Note]) -> None:
        self._earlier = deque(((n, w * EARLIER_CALL_WEIGHT) for n, w in self._earlier),
                              maxlen=self._earlier.maxlen)
        self._earlier.extend((n, 1.0) for n in notes)
