"""Steering: the answer follows what the call established, while the model chooses the notes.

Each answer gets a Steering built from the call's analysis and the [steering] strengths. It
reshapes the model's next-token distribution with additive logit biases (never by resampling):

  scale       note-ons outside the call's scale lose up to 6 nats
  register    note-ons beyond the call's range (10th-90th percentile, a fourth either side) lose
              a nat per semitone, and a gentle pull keeps the answer around the call's median
  texture     a note-on that would make more notes sound than the call did loses up to 6 nats
  articulation  a note held past 1.5 x the call's long notes (90th percentile) is pushed to
              end: its note-off gains and waiting loses up to 6 nats
  pulse       a note-on the model draws between two grid points waits for the next one (the
              engine tells the model that wait), so onsets land on the call's grid, with its
              groove, while the model keeps its own density and its note-offs their articulation
  phrase_end  in the last beat: stable tones of the key, notes released before the end, no new
              notes in the last tatum

and shapes the timed events it decodes to: onsets snapped onto the exact grid time (tokens are
10 ms steps), velocities from the call's level, accents per position in the beat and swell.
Runs on the engine thread; per token it costs a few vectorised operations on the vocabulary.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from .analysis import CallAnalysis
from .config import SteeringConfig
from .events import Event

log = logging.getLogger(__name__)

SNAP_S = 0.006  # an event this close to a grid point is moved onto it (tokens are 10 ms steps)
REGISTER_MARGIN = 5  # semitones beyond the call's range still felt as "its register"


class Steering:
    def __init__(self, cfg: SteeringConfig, analysis: CallAnalysis | None, tok, start: float,
                 end: float, rng: np.random.Generator | None = None, on_pulse: bool = True,
                 step_s: float | None = None):
        """on_pulse: the answer starts on the call's grid (else the pulse is not followed).
        step_s: real seconds per time-shift step (default the tokenizer's; a beat-relative
        model's steps last a fraction of the tracked beat)."""
        self.cfg, self.tok, self.start, self.end = cfg, tok, start, end
        self.step_s = step_s or tok.step_s
        self.analysis = analysis
        self.pulse = analysis.pulse if analysis is not None else None
        self.rng = rng or np.random.default_rng()
        self._on = slice(tok.note_on_offset, tok.note_on_offset + 128)
        self._off = slice(tok.note_off_offset, tok.note_off_offset + 128)
        self._shift = slice(tok.time_shift_offset, tok.time_shift_offset + tok.max_shift_steps)
        self._shift_s = np.arange(1, tok.max_shift_steps + 1) * self.step_s
        self._pitch_bias = self._note_bias(analysis)
        self._stable = self._stable_bias(analysis)
        self.texture = max(1, round(analysis.texture)) if analysis is not None else 32
        self._struck: dict[int, float] = {}  # sounding answer pitches -> when they started
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
            pull = 6.0 * ((pitches - median) / 12) ** 2  # 0.5 nat at a third, 2 at a fifth
            bias -= self.cfg.register * (np.maximum(beyond, 0) + pull)
        return bias

    def _stable_bias(self, a: CallAnalysis | None) -> np.ndarray:
        bias = np.zeros(128, dtype=np.float32)
        if a is not None and a.key is not None:
            stable = np.isin(np.arange(128) % 12, sorted(a.key.stable))
            bias[:] = np.where(stable, 1.5, -1.5) * self.cfg.phrase_end
        return bias

    # --- the grid -------------------------------------------------------------------------------
    def grid_points(self, t0: float, t1: float) -> np.ndarray:
        """The call's grid between t0 and t1, with its groove as strong as `groove`."""
        return self.pulse.grid_points(t0, t1, self.cfg.groove)

    def steps_to_grid(self, now: float) -> int:
        """Token steps from `now` to the next grid point (0 when `now` is on one)."""
        if not self.locked:
            return 0
        grid = self.grid_points(now, now + self.pulse.tatum_s)
        later = grid[grid >= now - SNAP_S]
        wait = later[0] - now if len(later) else 0.0
        return 0 if wait <= SNAP_S else max(1, round(wait / self.step_s))

    # --- per token ------------------------------------------------------------------------------
    def bias(self, now: float, sounding: set[int]) -> np.ndarray:
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
        if self.analysis is not None and self.cfg.articulation > 0:
            limit = 1.5 * self.analysis.long_note
            push = 0.0
            for p in sounding:
                overdue = (now - self._struck.get(p, now)) / limit - 1.0
                if overdue > 0:
                    push = self.cfg.articulation * min(6.0, 2.0 + 4.0 * overdue)
                    bias[self.tok.note_off_offset + p] += push
            bias[self._shift] -= push  # and waiting longer is what the model must not do
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
        if e.is_note_on:
            self._struck[e.pitch] = t
        elif e.is_note_off:  # never before its note-on (the grid may have moved: a DAW's tempo)
            t = max(t, self._struck.pop(e.pitch, t))
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
