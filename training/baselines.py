"""Baselines a trained model must beat: unigram, and a variable-order Markov model (numpy only).

The Markov model is the Continuator's (Pachet 2003): counts for every context of 1..max_order
tokens; a prediction starts from the longest context seen in training and falls back to shorter
ones. The fall-back is interpolated Witten-Bell smoothing, so every distribution is normalised and
no token of the vocabulary ever gets probability zero:

    P_k(w | c_k) = (count(c_k, w) + T(c_k) * P_{k-1}(w | c_{k-1})) / (count(c_k) + T(c_k))

where c_k is the last k tokens, T(c_k) the number of distinct tokens seen after c_k, and P_0 the
add-alpha unigram. A context never seen in training leaves the lower-order estimate unchanged.
"""

from __future__ import annotations

import logging
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

log = logging.getLogger(__name__)


def _as_lists(seqs: Iterable[Sequence[int]]) -> list[list[int]]:
    return [np.asarray(s, dtype=np.int64).tolist() for s in seqs]


def _infer_vocab(seqs: list[list[int]]) -> int:
    return max((max(s) for s in seqs if s), default=-1) + 1


class UnigramModel:
    """Token frequencies with add-alpha smoothing over the whole vocabulary."""

    def __init__(self, vocab_size: int | None = None, alpha: float = 1.0):
        self.vocab_size = vocab_size
        self.alpha = alpha
        self.probs: np.ndarray | None = None

    def fit(self, seqs: Iterable[Sequence[int]]) -> UnigramModel:
        seqs = _as_lists(seqs)
        self.vocab_size = self.vocab_size or _infer_vocab(seqs)
        counts = np.zeros(self.vocab_size, dtype=np.float64)
        for s in seqs:
            counts += np.bincount(s, minlength=self.vocab_size)[: self.vocab_size]
        self.probs = (counts + self.alpha) / (counts.sum() + self.alpha * self.vocab_size)
        return self

    def nll(self, seqs: Iterable[Sequence[int]], start: int = 0) -> float:
        """Mean negative log-likelihood per token (natural log) of each sequence's tokens from
        position `start` on."""
        tokens = _scored_tokens(seqs, start)
        return float(-np.log(self.probs[tokens]).mean()) if tokens.size else float("nan")

    def accuracy(self, seqs: Iterable[Sequence[int]], start: int = 0) -> float:
        tokens = _scored_tokens(seqs, start)
        return float((tokens == np.argmax(self.probs)).mean()) if tokens.size else float("nan")


def _scored_tokens(seqs: Iterable[Sequence[int]], start: int) -> np.ndarray:
    parts = [np.asarray(s, dtype=np.int64)[start:] for s in seqs]
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


class MarkovModel:
    """Variable-order Markov model with interpolated Witten-Bell back-off (see module doc)."""

    def __init__(self, max_order: int = 4, *, vocab_size: int | None = None, alpha: float = 1.0):
        if max_order < 1:
            raise ValueError(f"max_order must be >= 1, got {max_order}")
        self.max_order = max_order
        self.vocab_size = vocab_size
        self.unigram = UnigramModel(vocab_size, alpha)
        # context tuple -> (followers {token: count}, total count, distinct followers)
        self.tables: list[dict[tuple, tuple[dict[int, int], int, int]]] = []
        self._dist_cache: dict[tuple, np.ndarray] = {}

    def fit(self, seqs: Iterable[Sequence[int]]) -> MarkovModel:
        seqs = _as_lists(seqs)
        self.unigram.fit(seqs)
        self.vocab_size = self.unigram.vocab_size
        self.tables = [{}]  # order 0 is the unigram
        for k in range(1, self.max_order + 1):
            # Counting (context..., next) tuples with Counter runs at C speed.
            grams: Counter = Counter()
            for s in seqs:
                grams.update(zip(*(s[j:len(s) - k + j] for j in range(k + 1))))
            followers: dict[tuple, dict[int, int]] = defaultdict(dict)
            for gram, n in grams.items():
                followers[gram[:-1]][gram[-1]] = n
            self.tables.append({ctx: (f, sum(f.values()), len(f)) for ctx, f in followers.items()})
        self._dist_cache.clear()
        log.debug("markov model: %s contexts per order",
                  [len(t) for t in self.tables[1:]])
        return self

    def _prob(self, context: Sequence[int], token: int, order: int) -> float:
        p = float(self.unigram.probs[token])
        for k in range(1, min(order, len(context)) + 1):
            entry = self.tables[k].get(tuple(context[-k:]))
            if entry is None:
                break  # a longer context containing an unseen one is unseen too
            followers, total, distinct = entry
            p = (followers.get(token, 0) + distinct * p) / (total + distinct)
        return p

    def next_distribution(self, context: Sequence[int], order: int | None = None) -> np.ndarray:
        """Probabilities of every token after `context` (only its last max_order tokens count)."""
        order = self.max_order if order is None else min(order, self.max_order)
        context = [int(t) for t in context][-order:] if order else []
        key = (order, tuple(context))
        cached = self._dist_cache.get(key)
        if cached is not None:
            return cached.copy()
        dist = self.unigram.probs.copy()
        for k in range(1, len(context) + 1):
            entry = self.tables[k].get(tuple(context[-k:]))
            if entry is None:
                break
            followers, total, distinct = entry
            dist *= distinct
            idx = np.fromiter(followers.keys(), dtype=np.int64, count=len(followers))
            dist[idx] += np.fromiter(followers.values(), dtype=np.float64, count=len(followers))
            dist /= total + distinct
        if len(self._dist_cache) < 200_000:
            self._dist_cache[key] = dist
        return dist.copy()

    def nll(self, seqs: Iterable[Sequence[int]], order: int | None = None,
            start: int = 0) -> float:
        """Mean negative log-likelihood per token (natural log) of each sequence's tokens from
        position `start` on; the first tokens of a sequence use the shorter contexts they have."""
        order = self.max_order if order is None else min(order, self.max_order)
        total, count = 0.0, 0
        for s in _as_lists(seqs):
            for i in range(start, len(s)):
                total -= math.log(self._prob(s[max(0, i - order):i], s[i], order))
                count += 1
        return total / count if count else float("nan")

    def accuracy(self, seqs: Iterable[Sequence[int]], start: int = 0) -> float:
        """How often the most probable next token is the real one."""
        hits, count = 0, 0
        for s in _as_lists(seqs):
            for i in range(start, len(s)):
                dist = self.next_distribution(s[max(0, i - self.max_order):i])
                hits += int(np.argmax(dist) == s[i])
                count += 1
        return hits / count if count else float("nan")

    def sample(self, context: Sequence[int], rng: np.random.Generator,
               temperature: float = 1.0) -> int:
        """One next token drawn from next_distribution (sharpened or flattened by temperature)."""
        dist = self.next_distribution(context)
        if temperature != 1.0:
            dist = dist ** (1.0 / temperature)
            dist /= dist.sum()
        return int(rng.choice(len(dist), p=dist))


def evaluate_baselines(train_seqs: Sequence[Sequence[int]], test_seqs: Sequence[Sequence[int]],
                       vocab_size: int, max_order: int = 4, start: int = 1) -> dict:
    """Held-out figures of the uniform, unigram and Markov baselines: {"<model>": {"nll": mean
    NLL per token (natural log), "accuracy": top-1}}, with "markov-<k>" for every order up to
    max_order. Tokens are scored from position `start` of each test sequence: 1 by default, as a
    model scores tokens 2..n (the first has no context)."""
    unigram = UnigramModel(vocab_size).fit(train_seqs)
    markov = MarkovModel(max_order, vocab_size=vocab_size).fit(train_seqs)
    scored = sum(max(0, len(s) - start) for s in test_seqs)
    figures = {
        "uniform": {"nll": math.log(vocab_size)},
        "unigram": {"nll": unigram.nll(test_seqs, start),
                    "accuracy": unigram.accuracy(test_seqs, start)},
    }
    for k in range(1, max_order + 1):
        figures[f"markov-{k}"] = {"nll": markov.nll(test_seqs, order=k, start=start)}
    figures[f"markov-{max_order}"]["accuracy"] = markov.accuracy(test_seqs, start)
    figures["tokens"] = {"vocab_size": vocab_size, "train": int(sum(len(s) for s in train_seqs)),
                         "test_scored": int(scored)}
    return figures
