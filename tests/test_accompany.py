"""Accompany mode on the virtual clock: improvd plays along with the hand-written calls (never
trained on) in the player's key, on the player's grid, below the player, and falls silent when
the player stops; measured like the answers."""

from __future__ import annotations

import pytest

from improvd.daemon.accompany_metrics import clashes_per_minute, measure, register_offset
from improvd.daemon.analysis import analyze_notes
from improvd.daemon.answer_metrics import mean_of
from improvd.daemon.config import Config
from improvd.daemon.events import Note
from improvd.daemon.offline_accompany import accompany_part
from improvd.daemon.runner import load_runner
from improvd.testsupport.random_model import SHIPPED_MODEL
from improvd.training.answer_calls import hand_calls

SEEDS = (1, 2, 3)


@pytest.fixture(scope="module")
def shipped():
    if not SHIPPED_MODEL.is_file():
        pytest.skip("models/default.onnx is not there (make train-default)")
    return load_runner(str(SHIPPED_MODEL))


def test_plays_along_in_key_and_on_grid_with_the_hand_calls(shipped):
    rows = []
    for call in hand_calls():
        analysis = analyze_notes(call.notes)
        for seed in SEEDS:
            part = accompany_part(Config(), shipped, call.events, seed=seed)
            rows.append(measure(call.notes, part, analysis))
    key, grid, clashes = (mean_of([r[k] for r in rows])
                          for k in ("key_agreement", "on_grid", "clashes_per_minute"))
    print(f"{len(rows)} accompaniments: key agreement {key:.2f}, on grid {grid:.2f}, "
          f"{clashes:.1f} clashes a minute")
    assert sum(r["notes"] for r in rows) >= 3 * len(rows)  # it did play along
    assert key >= 0.90 and grid >= 0.90


def test_below_the_player_and_silent_soon_after_the_player_stops(shipped):
    call = next(c for c in hand_calls() if c.name == "fast_16th_run")
    notes = call.notes
    part = accompany_part(Config(), shipped, call.events, seed=1)
    # Below what the player was playing at the time (a run moves its register as it goes).
    assert part and register_offset(notes, part) <= -5
    pulse = analyze_notes(notes).pulse
    last = max(n.start for n in notes)
    # silence_beats = 2 (the default): nothing sounds two beats (and a beat's rounding) after.
    assert max(n.end for n in part) <= last + 3 * pulse.beat_s + 0.01
    above = accompany_part(Config().with_overrides(**{"accompany.register": "above"}), shipped,
                           call.events, seed=1)
    assert register_offset(notes, above) >= 5


def test_clashes_count_notes_sounding_a_semitone_apart():
    player = [Note(60, 80, 0.0, 1.0), Note(64, 80, 1.0, 2.0)]
    assert clashes_per_minute(player, [Note(61, 80, 0.5, 0.9)]) == pytest.approx(30.0)
    assert clashes_per_minute(player, [Note(49, 80, 0.5, 0.9)]) == pytest.approx(30.0)  # a 9th
    assert clashes_per_minute(player, [Note(61, 80, 1.2, 1.5)]) == 0.0  # C# against E: no
    assert clashes_per_minute(player, [Note(55, 80, 0.0, 2.0)]) == 0.0
    assert register_offset(player, [Note(48, 80, 0.5, 0.9), Note(52, 80, 1.5, 1.9)]) == -12
