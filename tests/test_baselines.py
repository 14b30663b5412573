"""training/baselines.py: normalisation, back-off, NLL ordering, sampling, real-data figures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from improvd.daemon.tokenizers.performance import PerformanceTokenizer
from improvd.training import dataset
from improvd.training.baselines import MarkovModel, UnigramModel, evaluate_baselines
from improvd.training.sources import load_pieces

V = 12
# A repeating phrase with one variation, so contexts of different lengths matter.
TRAIN = [[0, 1, 2, 3, 0, 1, 2, 4] * 20, [5, 6, 7, 5, 6, 8] * 10]


@pytest.fixture
def markov():
    return MarkovModel(max_order=3, vocab_size=V).fit(TRAIN)


def test_unigram_smoothing_and_nll():
    model = UnigramModel(V).fit(TRAIN)
    assert model.probs.sum() == pytest.approx(1.0)
    assert model.probs[11] > 0  # never seen, still possible
    counts = np.bincount(np.concatenate(TRAIN), minlength=V)
    expected = (counts[3] + 1) / (counts.sum() + V)
    assert model.nll([[3]]) == pytest.approx(-math.log(expected))


def test_distributions_are_normalised_and_never_zero(markov):
    for context in ([], [0], [0, 1], [0, 1, 2], [9, 1, 2], [11, 11, 11], [5, 6]):
        dist = markov.next_distribution(context)
        assert dist.shape == (V,)
        assert dist.sum() == pytest.approx(1.0)
        assert (dist > 0).all()


def test_longest_context_decides_and_unseen_backs_off(markov):
    # After 0 1 2 the phrase goes on with 3 or 4 equally; after 3 0 1 2 ... the order-3 context
    # "1 2 3" is always followed by 0.
    assert np.argmax(markov.next_distribution([1, 2, 3])) == 0
    assert markov.next_distribution([5, 6])[7] > 0.4
    # A context whose longest part was never seen falls back to its seen suffix exactly.
    assert np.allclose(markov.next_distribution([11, 5, 6]), markov.next_distribution([5, 6]))
    assert np.allclose(markov.next_distribution([10, 11]), markov.unigram.probs)
    # Only the last max_order tokens count.
    assert np.allclose(markov.next_distribution([9, 9, 1, 2, 3]),
                       markov.next_distribution([1, 2, 3]))


def test_nll_matches_next_distribution(markov):
    seq = [0, 1, 2, 4, 5, 6, 11, 0]
    expected = -np.mean([math.log(markov.next_distribution(seq[max(0, i - 3):i])[t])
                         for i, t in enumerate(seq)])
    assert markov.nll([seq]) == pytest.approx(expected)


def test_trained_sequence_beats_shuffled_and_higher_orders_help(markov):
    rng = np.random.default_rng(0)
    seq = TRAIN[0]
    shuffled = list(rng.permutation(seq))
    assert markov.nll([seq]) < markov.nll([shuffled]) - 0.5
    assert markov.nll([seq], order=3) < markov.nll([seq], order=1) < UnigramModel(V).fit(
        TRAIN).nll([seq])
    assert markov.accuracy([seq], start=3) > 0.85


def test_sample_is_seeded_and_follows_the_distribution(markov):
    draws = [markov.sample([1, 2, 3], np.random.default_rng(s)) for s in range(200)]
    assert draws == [markov.sample([1, 2, 3], np.random.default_rng(s)) for s in range(200)]
    share = draws.count(0) / len(draws)
    assert share == pytest.approx(markov.next_distribution([1, 2, 3])[0], abs=0.1)
    cold = [markov.sample([1, 2, 3], np.random.default_rng(s), temperature=0.1)
            for s in range(50)]
    assert cold.count(0) == 50


def test_baselines_on_real_chorales(jsb_tgz):
    pieces = load_pieces(f"jsb:{jsb_tgz}", cache_dir=None)
    splits = dataset.split_pieces(pieces)
    tok = PerformanceTokenizer()
    train = dataset.tokenize_split(splits["train"][:80], tok)
    test = dataset.tokenize_split(splits["test"][:15], tok)
    figures = evaluate_baselines(train, test, tok.vocab_size, max_order=4)
    assert figures["uniform"]["nll"] == pytest.approx(math.log(tok.vocab_size))
    assert figures["markov-4"]["nll"] < figures["markov-1"]["nll"] < figures["unigram"]["nll"] \
        < figures["uniform"]["nll"]
    assert figures["markov-4"]["accuracy"] > figures["unigram"]["accuracy"]
    assert figures["tokens"]["test_scored"] == sum(len(s) - 1 for s in test)


def test_test_pieces_are_grouped_by_collection():
    from improvd.training.evaluate import collection

    assert collection("music21:bach/bwv66.6") == "bach"
    assert collection("music21:oneills1850/oneills1850.abc#12") == "folk"
    assert collection("music21:essenFolksong/han1#3") == "folk"
    assert collection("music21:mozart/k545/movement1") == "piano"
    assert collection("music21:palestrina/agnus") == "palestrina"
    assert collection("midi:song.mid") == "midi"
