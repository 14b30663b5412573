"""Steering: the answer follows what the call established, while the model chooses the notes.

Each answer gets a Steering built from the call's analysis and the [steering] strengths. It
reshapes the model's next-token distribution with additive logit biases (never by resampling):

  scale       note-ons outside the call's scale lose up to 6 nats
  register    note-ons beyond the call's range (10th-90th percentile, a fourth either side) lose
              a nat per semitone, and a gentle pull keeps the answer around the call's median
  texture     a note-on that would make more notes sound than the call did loses up to 6 nats
  pulse       note-ons only where the call's grid (with its groove) has a point; time shifts
              prefer to land on grid points
  phrase_end  in the last beat: stable tones of the key, notes released before the end, no new
              notes in the last tatum

and shapes the timed events it decodes to: onsets snapped onto the exact grid time (tokens are
10 ms steps), velocities from the call's level, accents per position in the beat and swell.
Runs on the engine thread; per token it costs a few vectorised operations on the vocabulary.
"""

from __future__ import annotations

import dataclasses
import logging
import math

import numpy as np

from .analysis import CallAnalysis
from .config import SteeringConfig
from .events import Event

log = logging.getLogger(__name__)

SNAP_S = 0.006  # an event this close to a grid point is moved onto it (tokens are 10 ms steps)
REGISTER_MARGIN = 5  # semitones beyond the call's range still felt as "its register"


class Steering:
    def __init__(self, cfg: SteeringConfig, analysis: CallAnalysis | None, tok, start: float,
                 end: float, rng: np.random.Generator | None = None, on_pulse: bool = True):
        """on_pulse: the answer starts on the call's grid (else the pulse is not followed)."""
        self.cfg, self.tok, self.start, self.end = cfg, tok, start, end
        self.analysis = analysis
        self.pulse = analysis.pulse if analysis is not None else None
        self.rng = rng or np.random.default_rng()
        self._on = slice(tok.note_on_offset, tok.note_on_offset + 128)
        self._off = slice(tok.note_off_offset, tok.note_off_offset + 128)
        self._shift = slice(tok.time_shift_offset, tok.time_shift_offset + tok.max_shift_steps)
        self._shift_s = np.arange(1, tok.max_shift_steps + 1) * tok.step_s
        self._pitch_bias = self._note_bias(analysis)
        self._stable = self._stable_bias(analysis)
        self.texture = max(1, round(analysis.texture)) if analysis is not None else 32
        self.locked = on_pulse and self.pulse is not None and cfg.pulse > 0

    # --- what stays the same for the whole answer ---------------------------------------------
    def _note_bias(self, a: CallAnalysis | None) -> np.ndarray:
        bias = np.zeros(128, dtype=np.float32)
        if a is None:
            return bias
        pitches = np.arange(128)
        if a.key is not None and self.cfg.scale > 0:
            outside = ~np.isin(pitches % 12, sorted(a.key.scale))
            bias[outside] -= 6.0 * self.cfg.scale
        if self.cfg.register > 0:
            low, median, high = a.register
            beyond = np.maximum(low - REGISTER_MARGIN - pitches, pitches - high - REGISTER_MARGIN)
            bias -= self.cfg.register * (np.maximum(beyond, 0) + 2.0 * ((pitches - median) / 12) ** 2)
        return bias

    def _stable_bias(self, a: CallAnalysis | None) -> np.ndarray:
        bias = np.zeros(128, dtype=np.float32)
        if a is not None and a.key is not None:
            stable = np.isin(np.arange(128) % 12, sorted(a.key.stable))
            bias[:] = np.where(stable, 1.5, -1.5) * self.cfg.phrase_end
        return bias

    # --- the grid -------------------------------------------------------------------------------
    def grid_points(self, t0: float, t1: float) -> np.ndarray:
        """Grid times (with the call's groove, as strong as `groove`) between t0 and t1."""
        p = self.pulse
        n = np.arange(math.floor(p.index(t0)) - 1, math.ceil(p.index(t1)) + 2)
        offsets = np.asarray(p.offsets or (0.0,) * p.subdivision)
        return p.origin + (n + self.cfg.groove * offsets[n % p.subdivision]) * p.tatum_s

    def _grid_distance(self, times: np.ndarray) -> np.ndarray:
        grid = self.grid_points(times.min(), times.max())
        return np.abs(times[:, None] - grid[None, :]).min(axis=1)

    # --- per token ------------------------------------------------------------------------------
    def bias(self, now: float, sounding: set[int], started: bool) -> np.ndarray:
        """Additive logits for the next token when the answer has been generated up to `now`."""
        bias = np.zeros(self.tok.vocab_size, dtype=np.float32)
        on = bias[self._on]
        on += self._pitch_bias
        if len(sounding) >= self.texture:
            on -= 6.0 * self.cfg.texture
        to_end = self.end - now
        beat = self.pulse.beat_s if self.pulse is not None else 0.5
        tatum = self.pulse.tatum_s if self.pulse is not None else 0.125
        if to_end <= beat:
            on += self._stable
            if to_end <= tatum * 0.999:
                on -= 6.0 * self.cfg.phrase_end
            if sounding and to_end <= beat / 2:
                bias[self._off] += 2.0 * self.cfg.phrase_end
        if self.locked:
            if self._grid_distance(np.array([now]))[0] > SNAP_S:
                on -= 8.0 * self.cfg.pulse
            landing = now + self._shift_s
            off_grid = self._grid_distance(landing) > SNAP_S
            bias[self._shift] -= np.where(off_grid, 3.0 * self.cfg.pulse, 0.0).astype(np.float32)
        if sounding and to_end > 0:
            # A hold that runs past the end would be cut there: release first.
            past = (now + self._shift_s) > self.end - 0.001
            bias[self._shift] -= np.where(past, 6.0 * self.cfg.phrase_end, 0.0).astype(np.float32)
        return bias

    # --- the decoded events ---------------------------------------------------------------------
    def shape(self, e: Event) -> Event:
        """Snap an event onto the grid and give a note-on the call's dynamics."""
        t = e.time
        if self.locked:
            grid = self.grid_points(t, t)
            nearest = grid[np.argmin(np.abs(grid - t))]
            if abs(nearest - t) <= SNAP_S:
                t = float(nearest)
        if e.is_note_on and self.analysis is not None and self.cfg.dynamics > 0:
            return dataclasses.replace(e, time=t, velocity=self._velocity(e.velocity, t))
        return dataclasses.replace(e, time=t) if t != e.time else e

    def _velocity(self, model_velocity: int, t: float) -> int:
        a, s = self.analysis, self.cfg.dynamics
        target = a.level + float(np.clip(0.5 * a.swell * (t - self.start), -20, 20))
        if self.pulse is not None and a.accents:
            k = self.pulse.index(t)
            if abs(k - round(k)) < 0.2:
                target += a.accents[round(k) % self.pulse.subdivision]
        target += self.rng.normal(0.0, 3.0)  # a player never strikes twice exactly alike
        return int(np.clip(round((1 - s) * model_velocity + s * target), 1, 127))

    def describe(self) -> str:
        if self.analysis is None:
            return "no call to follow"
        return self.analysis.describe()
