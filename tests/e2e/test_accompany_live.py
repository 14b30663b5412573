"""Accompany mode through real ports: `improvd run` on JACK plays along while the peer plays,
below it, and falls silent after the peer stops."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_calls import call

from improvd.daemon.accompany_metrics import register_offset
from improvd.daemon.events import Note

from .jack_helpers import sounding

pytestmark = pytest.mark.e2e

D_MAJOR = (62, 64, 66, 67, 69, 71, 73, 74, 73, 71, 69, 67, 66, 64)


def test_plays_along_while_the_player_plays_and_stops_after(peer, start_daemon, config_file):
    config = config_file({"policy": {"mode": "accompany"}, "midi": {"output_channel": 2},
                          "sampling": {"seed": 3}})
    daemon = start_daemon(peer, ["--config", str(config)])
    notes = call(120, list(np.arange(0, 12, 0.5)), pitches=D_MAJOR * 2, accent=30, t0=0.0)
    heard = peer.play_notes(notes)
    last = max(n.start for n in heard)
    assert peer.wait_quiet(1.0, timeout=8, since=heard[0].start), daemon.log()[-3000:]
    along = [(t, m) for t, m in peer.note_ons(since=heard[0].start, until=last)]
    assert len(along) >= 3, f"it did not play along: {along}\n{daemon.log()[-3000:]}"
    assert all(m.channel == 1 for _, m in along)  # its own channel (output_channel = 2)
    part = [Note(m.note, m.velocity, t, t + 0.1) for t, m in along]
    assert register_offset(heard, part) < 0  # below what the player was playing
    # Silent within silence_beats (2) and a beat's rounding of the player's last note.
    after = peer.note_ons(since=last + 3 * 0.5 + 0.02)
    assert after == [], after
    assert not sounding(peer.messages(since=heard[0].start))
    assert "Traceback" not in daemon.log()
