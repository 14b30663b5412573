"""Pieces -> token arrays -> training windows: split by piece, augmentation, tf.data.

The split is by piece (never by window), so no phrase of a held-out piece leaks into training.
TensorFlow is imported only inside to_tf_dataset: everything else is numpy.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import operator
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

import numpy as np

from improvd.daemon.events import Event

from .sources import Piece

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
T = TypeVar("T")
# A piece name's first path part that already says its split (the jsb source, or a MIDI folder
# laid out as train/ valid/ test/) wins over the hash.
_EXPLICIT = {"train": "train", "valid": "valid", "validation": "valid", "test": "test"}


def explicit_split(name: str) -> str | None:
    """ "jsb:valid/chorale_250" -> "valid"; None when the name does not carry a split."""
    first = name.partition(":")[2].split("/")[0]
    return _EXPLICIT.get(first)


def _name_hash(name: str) -> float:
    """A piece's stable place in [0, 1): the same name lands in the same split on every run.
    Salted: sources.load_pieces(limit=N) keeps the N names with the lowest unsalted sha256, and
    the same hash here would put every piece of such a subset in the test split."""
    return int(hashlib.sha256(b"split:" + name.encode()).hexdigest()[:12], 16) / 16**12


def split_pieces(pieces: Sequence[T], valid_fraction: float = 0.1, test_fraction: float = 0.1,
                 *, max_valid: int = 0, max_test: int = 0,
                 name: Callable[[T], str] = operator.attrgetter("name")) -> dict[str, list[T]]:
    """The one split rule of every recipe: by a hash of each piece's name, so the same piece
    lands in the same split on every run whatever the order or subset, honouring a split the
    name already carries (a pre-split source such as the JSB chorales). max_valid/max_test
    (0 = no cap) keep the pieces with the lowest hashes and give the rest to train. When the
    hash leaves a wanted split empty (a small source), the train piece with the lowest hash moves
    there, so a run of a few pieces still has something to validate on."""
    out: dict[str, list[T]] = {s: [] for s in SPLITS}
    hashed = 0
    for piece in pieces:
        split = explicit_split(name(piece))
        if split is None:
            h = _name_hash(name(piece))
            split = "test" if h < test_fraction else \
                "valid" if h < test_fraction + valid_fraction else "train"
            hashed += 1
        out[split].append(piece)
    for split, cap in (("valid", max_valid), ("test", max_test)):
        if cap and len(out[split]) > cap:
            kept = {id(p) for p in sorted(out[split], key=lambda p: _name_hash(name(p)))[:cap]}
            out["train"] += [p for p in out[split] if id(p) not in kept]
            out[split] = [p for p in out[split] if id(p) in kept]
    if hashed and hashed == len(pieces):  # no explicit split anywhere: fill empty splits
        for split, fraction in (("valid", valid_fraction), ("test", test_fraction)):
            if fraction > 0 and not out[split] and len(out["train"]) > 1:
                donor = min(out["train"], key=lambda p: _name_hash(name(p)))
                out["train"].remove(donor)
                out[split].append(donor)
    return out


def augment(piece_events: Iterable[Event], *, transpose: int = 0,
            stretch: float = 1.0) -> list[Event]:
    """Transpose notes by semitones and scale times by `stretch` (2.0 = twice as slow). Notes
    pushed outside 0..127 are dropped, both their note-on and note-off; controllers are kept."""
    out = []
    for e in piece_events:
        time = e.time * stretch
        if e.kind == "control_change":
            out.append(Event(time, e.kind, e.pitch, e.velocity, e.channel))
            continue
        pitch = e.pitch + transpose
        if 0 <= pitch <= 127:
            out.append(Event(time, e.kind, pitch, e.velocity, e.channel))
    return out


def variant_rng(name: str, transpose: int, stretch: float, seed: int) -> np.random.Generator:
    """The same random draws for the same piece variant on every run, whatever the piece order."""
    key = f"velocity:{seed}:{name}:{transpose}:{stretch}".encode()
    return np.random.default_rng(int(hashlib.sha256(key).hexdigest()[:16], 16))


def revoice(piece_events: Sequence[Event], rng: np.random.Generator, *,
            levels: Sequence[int], swell: int = 0, jitter: int = 0) -> list[Event]:
    """New dynamics for one piece: its median note-on velocity moves to a level drawn from
    levels = (low, high) (other notes keep their ratio to it), plus a straight crescendo or
    diminuendo of up to `swell` across the piece and a per-note jitter of up to +-`jitter`.
    Scores have one velocity throughout: without this the model never learns that an answer
    should be as loud as the phrase it answers. Pitches, times and note-offs are unchanged."""
    low, high = levels
    ons = [e for e in piece_events if e.kind == "note_on" and e.velocity > 0]
    if not ons:
        return list(piece_events)
    median = float(np.median([e.velocity for e in ons]))
    level = rng.integers(low, high + 1)
    ramp = rng.uniform(-swell, swell) if swell else 0.0
    end = max(e.time for e in piece_events) or 1.0
    out = []
    for e in piece_events:
        if e.kind == "note_on" and e.velocity > 0:
            v = e.velocity * level / median + ramp * (e.time / end - 0.5)
            v += rng.integers(-jitter, jitter + 1) if jitter else 0
            e = Event(e.time, e.kind, e.pitch, int(min(127, max(1, round(v)))), e.channel)
        out.append(e)
    return out


def tokenize_split(pieces: Sequence[Piece], tokenizer, *,
                   augment_transpositions: Sequence[int] = (),
                   stretches: Sequence[float] = (), velocity_levels: Sequence[int] = (),
                   velocity_swell: int = 0, velocity_jitter: int = 0,
                   seed: int = 0) -> list[np.ndarray]:
    """One int32 token array per piece, plus one per (transposition, stretch) variant when given
    (the original is always included, as it is). With velocity_levels = (low, high) each variant
    also gets its own dynamics (see revoice). Pass no augmentation for valid/test: augmentation
    is for the train split only."""
    transpositions = [0] + [t for t in augment_transpositions if t != 0]
    scales = [1.0] + [s for s in stretches if s != 1.0]
    if velocity_levels and len(velocity_levels) != 2:
        raise ValueError(f"velocity_levels must be (low, high), got {tuple(velocity_levels)}")
    sequences = []
    for piece in pieces:
        for t, s in itertools.product(transpositions, scales):
            if (t, s) == (0, 1.0):
                events = piece.events
            else:
                events = augment(piece.events, transpose=t, stretch=s)
                if velocity_levels:
                    events = revoice(events, variant_rng(piece.name, t, s, seed),
                                     levels=velocity_levels, swell=velocity_swell,
                                     jitter=velocity_jitter)
            ids = np.asarray(tokenizer.encode(events), dtype=np.int32)
            if ids.size:
                sequences.append(ids)
    return sequences


def make_windows(sequences: Iterable[np.ndarray], length: int, stride: int) -> np.ndarray:
    """Windows of length+1 tokens every `stride` tokens of each sequence: int32 [n, length+1];
    inputs = w[:, :-1], targets = w[:, 1:]. A sequence shorter than length+1 gives none."""
    if length < 1 or stride < 1:
        raise ValueError(f"window length and stride must be >= 1 (got {length}, {stride})")
    windows = []
    for seq in sequences:
        seq = np.asarray(seq, dtype=np.int32)
        for start in range(0, len(seq) - length, stride):
            windows.append(seq[start:start + length + 1])
    if not windows:
        return np.zeros((0, length + 1), dtype=np.int32)
    return np.stack(windows)


def to_tf_dataset(windows: np.ndarray, batch_size: int, shuffle: bool, seed: int = 0):
    """tf.data.Dataset of (inputs, targets) batches from make_windows' array."""
    windows = np.asarray(windows, dtype=np.int32)
    return batches(windows[:, :-1], windows[:, 1:], batch_size,
                   shuffle=len(windows) if shuffle else 0, seed=seed)


def batches(inputs: np.ndarray, targets: np.ndarray, batch_size: int, *, shuffle: int = 0,
            seed: int = 0, prefetch: int | None = None):
    """The last stage of every recipe's pipeline: (inputs, targets) examples -> a tf.data.Dataset
    of batches, shuffled through a buffer of `shuffle` examples (0: in order; reshuffled each
    epoch) and prefetched (`prefetch` batches, default tf.data.AUTOTUNE)."""
    import tensorflow as tf  # here only: the rest of the data pipeline is numpy

    ds = tf.data.Dataset.from_tensor_slices((inputs, targets))
    if shuffle:
        ds = ds.shuffle(shuffle, seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE if prefetch is None else prefetch)
