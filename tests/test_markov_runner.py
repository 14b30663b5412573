"""The Markov-5 baseline as a runner: its logits, an answer through the engine, its cached fit."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from improvd.daemon.config import Config
from improvd.daemon.events import Note, notes_to_events
from improvd.daemon.offline import answer_call
from improvd.daemon.tokenizers.performance import PerformanceTokenizer
from improvd.training import baselines
from improvd.training.markov_runner import MarkovRunner, fit_markov, model_source

TOK = PerformanceTokenizer()


def scale_piece(offset: int = 0, repeats: int = 6):
    pitches = [60, 62, 64, 65, 67, 65, 64, 62] * repeats
    return notes_to_events(Note(p + offset, 80, 0.25 * i, 0.25 * i + 0.2)
                           for i, p in enumerate(pitches))


def test_logits_are_the_markov_distribution_of_the_last_five_tokens():
    seqs = [TOK.encode(scale_piece(k)) for k in range(3)]
    model = baselines.MarkovModel(5, vocab_size=TOK.vocab_size).fit(seqs)
    runner = MarkovRunner(model, TOK)
    np.testing.assert_allclose(np.exp(runner.logits), model.next_distribution([]), rtol=1e-5)
    for t in seqs[0][:12]:
        runner.advance(int(t))
    expected = model.next_distribution(seqs[0][7:12])
    np.testing.assert_allclose(np.exp(runner.logits), expected, rtol=1e-5)
    # The training data makes the next token all but certain: the scale goes on.
    assert int(np.argmax(runner.logits)) == seqs[0][12]
    runner.reset()
    assert runner.steps == 0 and len(runner.history) == 0


def test_a_markov_runner_answers_a_call_in_the_style_it_learned():
    seqs = [TOK.encode(scale_piece(0, repeats=12))]
    runner = MarkovRunner(baselines.MarkovModel(5, vocab_size=TOK.vocab_size).fit(seqs), TOK)
    answer = answer_call(Config(), runner, scale_piece(0, repeats=1), seed=0)
    pitches = [n.pitch for n in answer.notes]
    assert len(pitches) >= 4
    # Most answer notes are notes of the one scale it has seen.
    assert np.mean([p in {60, 62, 64, 65, 67} for p in pitches]) >= 0.75


def test_the_fit_is_cached_and_reused(tmp_path, midi_writer, monkeypatch):
    folder = tmp_path / "midi"
    for i in range(6):
        notes = [(60 + (i + k) % 7, 80, 240 * k, 240 * k + 200) for k in range(24)]
        midi_writer(folder / f"piece{i}.mid", notes)
    cache = tmp_path / "cache"
    first = fit_markov(str(folder), order=5, cache_dir=cache)
    assert len(list(cache.glob("markov-*.pkl"))) == 1
    monkeypatch.setattr(baselines.MarkovModel, "fit", lambda *a: pytest.fail("fitted again"))
    again = fit_markov(str(folder), order=5, cache_dir=cache)
    context = [TOK.note_on(60), TOK.time_shift(20)]
    np.testing.assert_array_equal(again.next_distribution(context),
                                  first.next_distribution(context))


def test_model_source_reads_the_models_training_data():
    info = SimpleNamespace(training={"data": {"source": "music21:folk"}, "config": {"limit": 40}})
    assert model_source(info) == ("music21:folk", 40)
    assert model_source(SimpleNamespace(training={})) == ("music21:bach", None)
