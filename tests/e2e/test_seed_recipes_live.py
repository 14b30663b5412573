"""`improvd run` with the seed recipes (tiny, trained and exported here) on a real JACK server: the
daemon hears a played phrase through the recipe's tokenizer (chorale arpeggios on a 16th grid; ABC
characters; Note/Chord tokens of the 003 window model and the 004 recurrent model) and answers
with timed notes, every one of them released."""

from __future__ import annotations

import itertools
import time

import pytest
from improvd.daemon.__main__ import main
from improvd.daemon.runner import load_runner

from .jack_helpers import Daemon, sounding

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SILENCE_S = 0.4


def train_and_export(tmp_path_factory, recipe: str, size: str = "tiny"):
    tmp = tmp_path_factory.mktemp(recipe)
    assert main(["train", "--recipe", recipe, "--size", size, "--out", str(tmp / "run")]) == 0
    assert main(["export", "--run", str(tmp / "run"), "--out", str(tmp / "model.onnx")]) == 0
    return tmp / "model.onnx"


def grouped_onsets(times: list[float], within_s: float) -> list[float]:
    """Onset times with the notes of one chord (each within within_s of the chord's first note)
    counted once. Rounding instead would split a chord whose notes straddle a rounding boundary
    (1.2349 and 1.2351 s) into two onsets 10 ms apart."""
    groups: list[float] = []
    for t in sorted(times):
        if not groups or t - groups[-1] > within_s:
            groups.append(t)
    return groups


def answer_to_a_phrase(jack_server, peer, model, chord_within_s: float = 0.001):
    """Plays a chord (three onsets within a few ms: one Note/Chord token) then a melody;
    -> (answer messages, onset times with a chord's notes grouped when within chord_within_s,
    answer note-ons, daemon log)."""
    daemon = Daemon(jack_server, model, peer, ["--silence-ms", str(int(SILENCE_S * 1000)),
                                               "--seed", "1", "--response", "2.0"])
    try:
        start = time.monotonic()
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
        assert daemon.process.poll() is None
        onsets = grouped_onsets([t for t, _ in peer.note_ons(since=ended)], chord_within_s)
        return peer.messages(since=ended), onsets, peer.note_ons(since=ended), daemon.log()
    finally:
        daemon.stop()


def test_chorale_model_answers_in_four_voice_steps(jack_server, peer, tmp_path_factory):
    model = train_and_export(tmp_path_factory, "chorale-wavenet")
    tok = load_runner(model).tokenizer
    answer, onsets, ons, log = answer_to_a_phrase(jack_server, peer, model)
    assert not sounding(answer), log[-3000:]
    # Chords change only on the grid: every gap between onsets is a whole number of steps.
    gaps = [b - a for a, b in itertools.pairwise(onsets)]
    assert all(abs(g / tok.step_s - round(g / tok.step_s)) < 0.3 for g in gaps), gaps
    assert all(tok.min_note <= m.note <= tok.max_note for _, m in ons)
    # Four voices at most sound at once.
    assert max(len({m.note for t, m in ons if abs(t - onset) < 0.02}) for onset in onsets) <= 4


def test_abc_model_answers_with_notes_read_from_its_characters(jack_server, peer,
                                                               tmp_path_factory):
    model = train_and_export(tmp_path_factory, "abc-char-lstm")
    assert load_runner(model).tokenizer.name == "abc_chars"
    answer, onsets, ons, log = answer_to_a_phrase(jack_server, peer, model)
    assert onsets, log[-3000:]
    assert not sounding(answer), log[-3000:]
    assert all(0 <= m.note <= 127 and m.velocity > 0 for _, m in ons)


@pytest.mark.parametrize("recipe", ["note-chord-wavenet", "note-chord-composer"])
def test_a_note_chord_model_answers_a_played_phrase_in_steps(jack_server, peer,
                                                             tmp_path_factory, recipe):
    model = train_and_export(tmp_path_factory, recipe)
    tok = load_runner(model).tokenizer
    answer, onsets, ons, log = answer_to_a_phrase(jack_server, peer, model, chord_within_s=0.02)
    assert not sounding(answer), log[-3000:]
    # 2 s of answer at one token per step (0.5 s for 003's quarters, 0.25 s for 004's
    # eighths), each pitch one the model's vocabulary can sound.
    expected = round(2.0 / tok.step_s)
    assert expected - 1 <= len(onsets) <= expected + 1, f"onsets {onsets}; log:\n{log[-3000:]}"
    gaps = [b - a for a, b in itertools.pairwise(onsets)]
    assert all(abs(g - tok.step_s) < 0.1 for g in gaps), gaps
    playable = {p for t in range(tok.vocab_size) for p in tok.pitches(t)}
    assert {m.note for _, m in ons} <= playable
