"""Synthetic calls whose pulse, key, register, texture and dynamics are known (test data)."""

from __future__ import annotations

import numpy as np

from improvd.daemon.events import Note

C_MAJOR = (60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62)


def call(bpm, beats, *, pitches=C_MAJOR, accent=25, vel=80, legato=0.8, swing=None,
         jitter=0.0, drift=0.0, chord=(0,), seed=0, t0=1.0, beat_accents=None):
    """Notes at `beats` (positions in beats) at `bpm`. accent: extra velocity on the beat;
    swing: where an off-beat eighth falls (0.5 straight, 2/3 triplet swing); drift: how much
    longer the last beat is than the first (a player slowing down); beat_accents: extra velocity
    per beat of a bar (a meter)."""
    rng = np.random.default_rng(seed)
    beat, last = 60 / bpm, max(beats)

    def time(q):
        return t0 + beat * (q + drift * q * q / (2 * last))

    notes = []
    for i, p in enumerate(beats):
        q = p
        if swing is not None and abs((p % 1) - 0.5) < 1e-9:
            q = np.floor(p) + swing
        start = time(q) + rng.normal(0, jitter)
        nxt = beats[i + 1] if i + 1 < len(beats) else p + 1
        v = vel + (accent if abs(p - round(p)) < 1e-9 else 0)
        if beat_accents and abs(p - round(p)) < 1e-9:
            v += beat_accents[round(p) % len(beat_accents)]
        for c in chord:
            notes.append(Note(pitches[i % len(pitches)] + c, int(v), start,
                              start + (time(nxt) - time(p)) * legato))
    return notes
