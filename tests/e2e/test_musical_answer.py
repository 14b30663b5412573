"""The musical answer through real ports: a call played in time into `improvd run` on JACK is
answered on its beat, on its grid and in its key, as a client outside the daemon receives it."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_calls import call

from improvd.daemon import answer_metrics
from improvd.daemon.analysis import analyze_notes

from .jack_helpers import sounding

pytestmark = [pytest.mark.e2e, pytest.mark.kept_time]  # judged where JACK kept time

D_MAJOR = (62, 64, 66, 67, 69, 71, 73, 74, 73, 71, 69, 67, 66, 64)


def test_answer_lands_on_the_calls_beat_grid_and_key(peer, start_daemon):
    daemon = start_daemon(peer, ["--seed", "3", "--silence-ms", "2000"])
    notes = call(120, list(np.arange(0, 8, 0.5)), pitches=D_MAJOR, accent=30, t0=0.0)
    heard = peer.play_notes(notes)  # the call as it really left: the daemon's input
    analysis = analyze_notes(heard)
    assert analysis.pulse.bpm == pytest.approx(120, rel=0.02)
    last = max(n.start for n in heard)
    assert peer.wait_for(lambda: peer.note_ons(since=last + 0.01), timeout=4), daemon.log()
    assert peer.wait_quiet(0.8, timeout=12, since=last), daemon.log()
    answer = [(t, m) for t, m in peer.messages(since=last + 0.01)]
    ons = [t for t, m in answer if m.type == "note_on" and m.velocity > 0]
    first = ons[0]
    # It came in on a beat of the call (JACK delivers on 1.3 ms cycles at both ends), well
    # before silence_ms (2 s): the call ended by its pulse.
    beat_error_ms = 1000 * analysis.pulse.beat_s * min(
        abs(k - round(k)) for k in [(first - analysis.pulse.origin) / analysis.pulse.beat_s])
    print(f"first answer note {beat_error_ms:.2f} ms from the call's beat")
    assert beat_error_ms < 8, f"first note {beat_error_ms:.1f} ms off the beat"
    assert first - last < 1.5
    pitches = [m.note for t, m in answer if m.type == "note_on" and m.velocity > 0]
    assert answer_metrics.on_grid_share(ons, analysis.pulse) >= 0.9
    assert np.mean([p % 12 in analysis.key.scale for p in pitches]) >= 0.9
    assert len({m.velocity for t, m in answer if m.type == "note_on" and m.velocity > 0}) >= 2
    assert not sounding(peer.messages(since=heard[0].start))
