"""The Markov-5 baseline as a runner: it answers through the same engine, steering and sampler
as a trained model, so its answers are judged on equal terms.

It is fitted on the (unaugmented) training split of the data the model was trained on, through
the same source loader and split rule (sources.load_pieces, dataset.split_pieces): the model's
card and held-out NLL figures compare against the same baseline. A fit is pickled under the cache
folder, keyed by the training pieces, so a second evaluation starts at once.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
from collections import deque
from pathlib import Path

import numpy as np

from improvd.daemon.atomic import atomic_path
from improvd.daemon.runner import Runner
from improvd.daemon.tokenizers.performance import PerformanceTokenizer

from .baselines import MarkovModel
from .cache import CACHE_DIR

log = logging.getLogger(__name__)

ORDER = 5
DEFAULT_SOURCE = "music21:bach"  # models/default.md: what the shipped model was trained on


class MarkovRunner(Runner):
    """Logits = log P(next | the last `order` tokens heard or played)."""

    def __init__(self, model: MarkovModel, tokenizer=None):
        self.model = model
        super().__init__(tokenizer or PerformanceTokenizer())
        if model.vocab_size != self.vocab_size:
            raise ValueError(f"the Markov model has {model.vocab_size} tokens, the tokenizer "
                             f"{self.vocab_size}")

    def reset(self) -> None:
        super().reset()
        # MarkovModel memoises up to 200,000 distributions (3 kB each): over an evaluation of
        # many answers that would grow to most of a GB, so each answer starts with a fresh memo.
        self.model._dist_cache.clear()
        self.history: deque[int] = deque(maxlen=self.model.max_order)
        self.logits = self._logits()

    def advance(self, token: int) -> np.ndarray:
        self.history.append(int(token))
        self.steps += 1
        self.logits = self._logits()
        return self.logits

    def _logits(self) -> np.ndarray:
        # Witten-Bell never gives a token zero probability, so the log is finite.
        return np.log(self.model.next_distribution(list(self.history))).astype(np.float32)


def model_source(info) -> tuple[str, int | None]:
    """The data a model was trained on, from its metadata: (source, piece limit)."""
    training = getattr(info, "training", None) or {}
    data = training.get("data") if isinstance(training, dict) else None
    config = training.get("config") if isinstance(training, dict) else None
    source = data.get("source") if isinstance(data, dict) else None
    limit = config.get("limit") if isinstance(config, dict) else None
    return source or DEFAULT_SOURCE, limit or None


def train_sequences(source: str, limit: int | None = None,
                    cache_dir: Path | None = CACHE_DIR) -> list[np.ndarray]:
    """Token sequences of the source's training split, unaugmented."""
    from . import dataset, sources

    pieces = sources.load_pieces(source, limit=limit, cache_dir=cache_dir)
    splits = dataset.split_pieces(pieces)
    return dataset.tokenize_split(splits["train"], PerformanceTokenizer())


def held_out_pieces(source: str, limit: int | None = None):
    """The held-out test pieces of a source (the same split rule as training)."""
    from . import dataset, sources

    return dataset.split_pieces(sources.load_pieces(source, limit=limit))["test"]


def fit_markov(source: str = DEFAULT_SOURCE, limit: int | None = None, order: int = ORDER,
               cache_dir: Path | None = CACHE_DIR) -> MarkovModel:
    seqs = train_sequences(source, limit, cache_dir)
    digest = hashlib.sha256(f"markov:{order}:{PerformanceTokenizer().spec()}".encode())
    for s in seqs:
        digest.update(np.asarray(s, dtype=np.int32).tobytes())
        digest.update(b"|")
    cache = Path(cache_dir) / f"markov-{digest.hexdigest()[:20]}.pkl" if cache_dir else None
    if cache is not None and cache.is_file():
        try:
            with cache.open("rb") as f:
                model = pickle.load(f)
            log.info("Markov-%d of %s from the cache %s", order, source, cache)
            return model
        except (OSError, EOFError, AttributeError, ImportError, pickle.UnpicklingError) as exc:
            # written by another version of the code: fit again
            log.warning("ignoring unreadable Markov cache %s: %s", cache, exc)
    vocab = PerformanceTokenizer().vocab_size
    model = MarkovModel(order, vocab_size=vocab).fit(seqs)
    log.info("fitted Markov-%d on %d training sequences of %s (%d tokens)", order, len(seqs),
             source, sum(len(s) for s in seqs))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        model._dist_cache.clear()
        with atomic_path(cache) as tmp, open(tmp, "wb") as f:
            pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)
    return model
