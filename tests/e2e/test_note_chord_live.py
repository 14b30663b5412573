"""`improvd run` with Note/Chord models (tiny seed 003 window model, tiny seed 004 recurrent model)
on a real JACK server: the daemon hears a played phrase as Note/Chord tokens and answers in
tokens one step apart."""

from __future__ import annotations

import itertools
import time

import pytest
from improvd.daemon.__main__ import main
from improvd.daemon.runner import load_runner

from .jack_helpers import Daemon, sounding

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SILENCE_S = 0.4


@pytest.fixture(scope="module", params=["note-chord-wavenet", "note-chord-composer"])
def note_chord_model(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(request.param)
    assert main(["train", "--recipe", request.param, "--size", "tiny",
                 "--out", str(tmp / "run")]) == 0
    assert main(["export", "--run", str(tmp / "run"), "--out", str(tmp / "model.onnx")]) == 0
    return tmp / "model.onnx"


def test_a_note_chord_model_answers_a_played_phrase_in_steps(jack_server, peer,
                                                             note_chord_model):
    tok = load_runner(note_chord_model).tokenizer
    daemon = Daemon(jack_server, note_chord_model, peer,
                    ["--silence-ms", str(int(SILENCE_S * 1000)), "--seed", "1",
                     "--response", "2.0"])
    try:
        start = time.monotonic()
        # A chord (three onsets within a few ms: one token), then a melody.
        for pitch in (60, 64, 67):
            peer.send_raw([0x90, pitch, 90])
        time.sleep(0.3)
        for pitch in (60, 64, 67):
            peer.send_raw([0x80, pitch, 0])
        ended = peer.play([72, 71, 69, 67])
        assert peer.wait_for(lambda: peer.note_ons(since=ended), timeout=SILENCE_S + 5), \
            f"no answer; daemon log:\n{daemon.log()[-3000:]}"
        assert peer.wait_quiet(1.0, timeout=10, since=start), \
            f"notes left sounding; daemon log:\n{daemon.log()[-3000:]}"
        answer = peer.messages(since=ended)
        assert not sounding(answer)
        onsets = sorted({round(t, 2) for t, _ in peer.note_ons(since=ended)})
        # 2 s of answer at one token per step (0.5 s for 003's quarters, 0.25 s for 004's
        # eighths), each pitch one the model's vocabulary can sound.
        expected = round(2.0 / tok.step_s)
        assert expected - 1 <= len(onsets) <= expected + 1, \
            f"onsets {onsets}; daemon log:\n{daemon.log()[-3000:]}"
        gaps = [b - a for a, b in itertools.pairwise(onsets)]
        assert all(abs(g - tok.step_s) < 0.1 for g in gaps), gaps
        playable = {p for t in range(tok.vocab_size) for p in tok.pitches(t)}
        assert {m.note for _, m in peer.note_ons(since=ended)} <= playable
        assert daemon.process.poll() is None
    finally:
        daemon.stop()
