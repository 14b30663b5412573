"""testsupport/clock_grid.py: where the listener's ticks sit on the song's grid."""

from __future__ import annotations

import numpy as np

from improvd.testsupport.clock_grid import _by_position

PERIOD = 60 / 90 / 24  # one tick at 90 bpm
STARTED = 100.0


def ticks(n: int = 60) -> np.ndarray:
    return STARTED + 0.0005 + np.arange(n) * PERIOD  # the first tick follows Start at once


def test_ticks_take_their_song_positions_from_the_start():
    out = _by_position(ticks(), STARTED)
    assert np.allclose(out, ticks())


def test_a_first_tick_handed_on_late_does_not_move_the_grid_a_tick():
    late = ticks()
    late[0] += 0.6 * PERIOD  # a busy machine handed it on a cycle or more after the Start
    out = _by_position(late, STARTED)
    assert len(out) == 60 and np.allclose(out[2:], ticks()[2:])  # (the late one: slot 0 or 1)


def test_a_lost_first_tick_leaves_its_place_empty():
    out = _by_position(ticks()[1:], STARTED)
    assert np.isnan(out[0]) and np.allclose(out[1:], ticks()[1:])
