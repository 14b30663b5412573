"""A beat-relative performance model (trained tiny here, exported, played by `improvd run` on a
real JACK server): it hears the call once its tempo is known and answers on the call's beat and
grid at that tempo, every note released."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_calls import call

from improvd.daemon import answer_metrics
from improvd.daemon.analysis import analyze_notes
from improvd.daemon.runner import load_runner

from .jack_helpers import Daemon, sounding
from .test_seed_recipes_live import train_and_export

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.kept_time]

C_MAJOR = (60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65)


BPM = 96  # not the model's nominal 120: the answer must be rendered at the call's tempo


def test_a_beat_model_answers_on_the_calls_grid(jack_server, peer, tmp_path_factory):
    bpm = BPM
    model = train_and_export(tmp_path_factory, "performance-lstm", size="tiny-beat")
    assert load_runner(model).tokenizer.name == "beat_performance"
    daemon = Daemon(jack_server, model, peer, ["--seed", "2", "--silence-ms", "2000",
                                               "--response", "3.0"])
    try:
        notes = call(bpm, list(np.arange(0, 6, 0.5)), pitches=C_MAJOR, accent=25, t0=0.0)
        heard = peer.play_notes(notes)
        pulse = analyze_notes(heard).pulse
        assert pulse.bpm == pytest.approx(bpm, rel=0.03)
        last = max(n.start for n in heard)
        assert peer.wait_for(lambda: peer.note_ons(since=last + 0.01), timeout=5), daemon.log()
        assert peer.wait_quiet(0.8, timeout=12, since=last), daemon.log()
        ons = [t for t, m in peer.note_ons(since=last + 0.01)]
        first_off_beat = pulse.beat_s * abs((ons[0] - pulse.origin) / pulse.beat_s
                                            - round((ons[0] - pulse.origin) / pulse.beat_s))
        assert first_off_beat < 0.008, f"first note {1000 * first_off_beat:.1f} ms off the beat"
        assert answer_metrics.on_grid_share(ons, pulse) >= 0.9, daemon.log()[-2000:]
        assert not sounding(peer.messages(since=heard[0].start))
        assert daemon.process.poll() is None
    finally:
        daemon.stop()
