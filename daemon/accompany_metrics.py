"""How well an accompaniment fits the player, measured like the answers (answer_metrics.py):
key agreement with the player's key, on-grid share on the player's pulse, and clashes: notes of
the accompaniment that sound together with a player's note a semitone away (in pitch class, so
a minor ninth counts too), per minute of playing; and on which side of the player it plays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .analysis import CallAnalysis
from .answer_metrics import key_agreement, on_grid_share, onsets
from .events import Note


def clashes_per_minute(player: Sequence[Note], part: Sequence[Note]) -> float | None:
    """Accompaniment notes that start while a player's note a semitone away (pitch classes 1
    apart) sounds, or that sound when such a player's note starts; per minute of the two."""
    if not player or not part:
        return None
    clashes = 0
    for a in part:
        for p in player:
            apart = abs(a.pitch - p.pitch) % 12
            if apart in (1, 11) and a.start < p.end and p.start < a.end:
                clashes += 1
                break
    span = max(n.end for n in (*player, *part)) - min(n.start for n in (*player, *part))
    return 60.0 * clashes / max(span, 1e-9)


def register_offset(player: Sequence[Note], part: Sequence[Note],
                    window_s: float = 1.0) -> float | None:
    """Median, over the accompaniment's notes, of its pitch minus the median pitch the player
    played in the window_s before it: below the player < 0, above > 0 (semitones)."""
    offsets = []
    for a in part:
        recent = [p.pitch for p in player if a.start - window_s <= p.start <= a.start]
        if recent:
            offsets.append(a.pitch - float(np.median(recent)))
    return float(np.median(offsets)) if offsets else None


def measure(player: Sequence[Note], part: Sequence[Note], analysis: CallAnalysis) -> dict:
    key = analysis.key
    return {
        "notes": len(part),
        "key_agreement": key_agreement(part, key.scale if key else None),
        "on_grid": on_grid_share(onsets(part), analysis.pulse),
        "clashes_per_minute": clashes_per_minute(player, part),
        "register_offset": register_offset(player, part),
    }
