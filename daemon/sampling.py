"""Choosing the next token: temperature, top-p, a seeded numpy Generator, and musical constraints
applied as logit masks (a forbidden token gets probability zero, never "resampled until legal").

The constraints speak the performance tokenizer's language (note-on, note-off, time-shift,
velocity ids) because that is what the daemon plays.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Constraints:
    pitch_min: int = 21
    pitch_max: int = 108
    max_polyphony: int = 8
    # Tokens allowed between two time shifts: keeps a model that loves note-on/note-off pairs at
    # one instant from stalling the clock.
    max_tokens_per_instant: int = 24


def legal_mask(tok, sounding: set[int], c: Constraints, *, max_shift_steps: int | None = None,
               tokens_at_instant: int = 0, out: np.ndarray | None = None) -> np.ndarray:
    """Boolean mask over the vocabulary of the tokens that may come next.

    sounding: pitches of the answer that are sounding now. max_shift_steps: the longest time
    shift allowed (None = any; 0 = none, the answer must start playing now). out: a bool array
    of vocab_size to fill instead of a new one (the engine reuses one for every token).
    """
    if out is None:
        mask = np.zeros(tok.vocab_size, dtype=bool)
    else:
        mask = out
        mask[:] = False
    on, off, shift = tok.note_on_offset, tok.note_off_offset, tok.time_shift_offset
    if tokens_at_instant < c.max_tokens_per_instant:
        if len(sounding) < c.max_polyphony:
            mask[on + c.pitch_min:on + c.pitch_max + 1] = True
            for p in sounding:  # no second note-on for a sounding note
                mask[on + p] = False
        for p in sounding:  # note-offs only for notes that sound
            mask[off + p] = True
        mask[tok.velocity_offset:tok.velocity_offset + tok.velocity_bins] = True
    longest = tok.max_shift_steps if max_shift_steps is None else min(max_shift_steps,
                                                                       tok.max_shift_steps)
    mask[shift:shift + max(0, longest)] = True
    if not mask.any():  # nothing left (no shift allowed and the instant is full): move on
        mask[shift] = True
    return mask


class Sampler:
    """Temperature + top-p sampling over the legal tokens, from a seeded Generator."""

    def __init__(self, temperature: float = 1.0, top_p: float = 0.95, seed: int | None = None):
        if temperature <= 0:
            raise ValueError("temperature must be above 0")
        self.temperature = temperature
        self.top_p = top_p
        self.rng = np.random.default_rng(None if seed is None or seed < 0 else seed)
        self._z = self._p = self._kept = self._illegal = None

    def probabilities(self, logits: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The distribution sample() draws from (a new array: the sampler's own is reused)."""
        return self._probabilities(logits, mask).copy()

    def _buffers(self, size: int) -> tuple[np.ndarray, ...]:
        if self._z is None or len(self._z) != size:  # made once per vocabulary size
            self._z, self._p, self._kept = (np.empty(size) for _ in range(3))
            self._illegal = np.empty(size, dtype=bool)
        return self._z, self._p, self._kept, self._illegal

    def _probabilities(self, logits: np.ndarray, mask: np.ndarray) -> np.ndarray:
        # The same arithmetic as a plain numpy expression (so a seed gives the same answer), done
        # in arrays made once: nothing is allocated per token but the top-p sort's order.
        z, p, kept, illegal = self._buffers(len(logits))
        np.copyto(z, logits)  # float32 -> float64 first, then the division, in float64
        z /= self.temperature
        np.logical_not(mask, out=illegal)
        z[illegal] = -np.inf
        if not math.isfinite(np.sum(z, where=mask)):  # a broken model's NaN/inf: uniform
            log.warning("the model returned non-finite logits; sampling uniformly")
            z[:] = 0.0
            z[illegal] = -np.inf
        z -= np.max(z, where=mask, initial=-np.inf)
        np.exp(z, out=p)
        p /= p.sum()
        if self.top_p < 1.0:
            order = np.argsort(-p)
            cumulative = np.cumsum(p[order])
            # Keep the smallest set whose mass reaches top_p (always at least the best token).
            keep = order[:int(np.searchsorted(cumulative, self.top_p - 1e-9)) + 1]
            kept[:] = 0.0
            kept[keep] = p[keep]
            kept /= kept.sum()
            return kept
        return p

    def sample(self, logits: np.ndarray, mask: np.ndarray) -> int:
        p = self._probabilities(logits, mask)
        return int(self.rng.choice(len(p), p=p))
