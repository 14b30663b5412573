"""training/dataset.py: split by piece, augmentation, tokenizing, windows, tf.data."""

from __future__ import annotations

import operator
import random

import numpy as np
import pytest

from improvd.daemon.events import Event, Note, events_to_notes, notes_to_events
from improvd.daemon.tokenizers.performance import PerformanceTokenizer
from improvd.training import dataset
from improvd.training.sources import Piece, load_pieces


def _piece(name: str, notes=((60, 0.0, 0.5), (64, 0.5, 1.0))) -> Piece:
    return Piece(name, tuple(notes_to_events(Note(p, 80, s, e) for p, s, e in notes)))


@pytest.fixture(scope="module")
def chorales(jsb_tgz):
    return load_pieces(f"jsb:{jsb_tgz}", cache_dir=None)


# --- split ----------------------------------------------------------------------------------------
def test_split_is_by_name_not_order():
    pieces = [_piece(f"midi:song{i:04d}.mid") for i in range(2000)]
    shuffled = pieces[:]
    random.Random(1).shuffle(shuffled)
    a = dataset.split_pieces(pieces, 0.1, 0.2)
    b = dataset.split_pieces(shuffled, 0.1, 0.2)
    assert {k: sorted(p.name for p in v) for k, v in a.items()} == \
        {k: sorted(p.name for p in v) for k, v in b.items()}
    assert sum(len(v) for v in a.values()) == 2000
    assert 0.07 < len(a["valid"]) / 2000 < 0.13 and 0.17 < len(a["test"]) / 2000 < 0.23
    # A piece keeps its split when others join the source.
    more = dataset.split_pieces(pieces + [_piece(f"midi:new{i}.mid") for i in range(50)], 0.1, 0.2)
    assert {p.name for p in a["test"]} <= {p.name for p in more["test"]}


def test_split_honours_jsb_split(chorales):
    splits = dataset.split_pieces(chorales, 0.3, 0.3)
    assert {k: len(v) for k, v in splits.items()} == {"train": 229, "valid": 76, "test": 77}
    assert all(p.name.startswith(f"jsb:{k}/") for k, v in splits.items() for p in v)


def test_held_out_caps_keep_the_lowest_hashes_whatever_the_order_and_item_type():
    """abc-char-lstm's use: (name, text) tunes, 3% / 3% held out, at most 5 and 4 of them."""
    tunes = [(f"oneills1850.abc#{i}", "X:1") for i in range(600)]
    first = dataset.split_pieces(tunes, 0.03, 0.03, max_valid=5, max_test=4,
                                 name=operator.itemgetter(0))
    again = dataset.split_pieces(tunes[::-1], 0.03, 0.03, max_valid=5, max_test=4,
                                 name=operator.itemgetter(0))
    assert (len(first["valid"]), len(first["test"])) == (5, 4)
    assert sum(len(v) for v in first.values()) == 600
    assert {k: sorted(v) for k, v in first.items()} == {k: sorted(v) for k, v in again.items()}
    uncapped = dataset.split_pieces(tunes, 0.03, 0.03, name=operator.itemgetter(0))
    assert set(first["test"]) < set(uncapped["test"])  # the cap keeps some of the same ones


def test_small_source_still_gets_valid_and_test():
    splits = dataset.split_pieces([_piece(f"midi:{i}.mid") for i in range(4)])
    assert all(splits[k] for k in dataset.SPLITS), {k: len(v) for k, v in splits.items()}


# --- augment and tokenize -------------------------------------------------------------------------
def test_augment_transposes_stretches_and_drops_out_of_range():
    events = notes_to_events([Note(120, 80, 0.0, 1.0), Note(60, 90, 0.5, 2.0)])
    events.insert(1, Event(0.25, "control_change", 64, 127))
    up = dataset.augment(events, transpose=10, stretch=1.5)
    assert [n.pitch for n in events_to_notes(up)] == [70]  # 130 is not a MIDI note
    (note,) = events_to_notes(up)
    assert (note.start, note.end, note.velocity) == (0.75, 3.0, 90)
    assert [(e.time, e.pitch) for e in up if e.kind == "control_change"] == [(0.375, 64)]
    down = dataset.augment(events, transpose=-61)
    assert [n.pitch for n in events_to_notes(down)] == [59]


def test_tokenize_split_variants_are_int32_and_decode_back():
    tok = PerformanceTokenizer()
    pieces = [_piece("a"), _piece("b", ((50, 0.0, 2.0),))]
    plain = dataset.tokenize_split(pieces, tok)
    assert len(plain) == 2 and all(s.dtype == np.int32 for s in plain)
    variants = dataset.tokenize_split(pieces, tok, augment_transpositions=(-2, 3),
                                      stretches=(0.9, 1.1))
    assert len(variants) == 2 * 3 * 3
    assert np.array_equal(variants[0], plain[0])  # the original comes first
    shifted = [n.pitch for n in events_to_notes(tok.decode(variants[3]))]  # transpose -2, x1.0
    assert shifted == [58, 62]
    slow = events_to_notes(tok.decode(variants[2]))  # transpose 0, stretch 1.1
    assert slow[-1].end == pytest.approx(1.1, abs=tok.step_s)


def test_velocity_augmentation_changes_loudness_of_train_variants_only(chorales):
    tok = PerformanceTokenizer()
    piece = dataset.split_pieces(chorales)["train"][0]  # a real chorale: every note at one velocity
    aug = {"augment_transpositions": (2,), "stretches": (1.1,)}
    plain = dataset.tokenize_split([piece], tok, **aug)
    loud = dataset.tokenize_split([piece], tok, velocity_levels=(30, 120), velocity_swell=16,
                                  velocity_jitter=3, **aug)
    assert len(loud) == len(plain) == 4
    assert np.array_equal(loud[0], plain[0])  # the original keeps its own dynamics
    levels = []
    for p, v in zip(plain[1:], loud[1:]):
        before, after = events_to_notes(tok.decode(p)), events_to_notes(tok.decode(v))
        # Same notes at the same times; only the loudness differs.
        assert [(n.pitch, n.start, n.end) for n in before] == \
            [(n.pitch, n.start, n.end) for n in after]
        velocities = [n.velocity for n in after]
        assert {n.velocity for n in before} != set(velocities)
        assert all(30 - 8 - 3 - 2 <= x <= 120 + 8 + 3 + 2 for x in velocities)  # + bin rounding
        levels.append(np.median(velocities))
    assert len(set(levels)) > 1, "every variant got the same level"
    again = dataset.tokenize_split([piece], tok, velocity_levels=(30, 120), velocity_swell=16,
                                   velocity_jitter=3, **aug)
    assert all(np.array_equal(a, b) for a, b in zip(loud, again))  # deterministic
    # Without variants (valid and test are tokenized so) nothing is revoiced.
    only = dataset.tokenize_split([piece], tok, velocity_levels=(30, 120))
    assert len(only) == 1 and np.array_equal(only[0], plain[0])
    with pytest.raises(ValueError, match="velocity_levels"):
        dataset.tokenize_split([piece], tok, velocity_levels=(30,), **aug)


def test_revoice_keeps_relative_dynamics_and_controllers():
    events = notes_to_events([Note(60, 40, 0.0, 1.0), Note(64, 80, 1.0, 2.0),
                              Note(67, 80, 2.0, 3.0)])
    events.insert(1, Event(0.5, "control_change", 64, 127))
    out = dataset.revoice(events, np.random.default_rng(0), levels=(100, 100))
    assert [e.velocity for e in out if e.is_note_on] == [50, 100, 100]
    assert [e for e in out if not e.is_note_on] == [e for e in events if not e.is_note_on]


# --- windows --------------------------------------------------------------------------------------
def test_make_windows_shapes_and_shift():
    seqs = [np.arange(10, dtype=np.int32), np.arange(100, 103, dtype=np.int32)]
    w = dataset.make_windows(seqs, length=4, stride=3)
    assert w.dtype == np.int32 and w.shape == (2, 5)  # starts 0 and 3; the short one gives none
    assert w.tolist() == [[0, 1, 2, 3, 4], [3, 4, 5, 6, 7]]
    inputs, targets = w[:, :-1], w[:, 1:]
    assert np.array_equal(inputs[:, 1:], targets[:, :-1])
    assert dataset.make_windows([np.arange(3)], 8, 8).shape == (0, 9)
    with pytest.raises(ValueError):
        dataset.make_windows(seqs, 0, 1)


def test_to_tf_dataset_batches_inputs_and_targets():
    windows = dataset.make_windows([np.arange(50, dtype=np.int32)], length=8, stride=4)
    batches = list(dataset.to_tf_dataset(windows, batch_size=4, shuffle=True, seed=3))
    x = np.concatenate([b[0].numpy() for b in batches])
    y = np.concatenate([b[1].numpy() for b in batches])
    assert x.shape == (len(windows), 8) and np.array_equal(x[:, 1:], y[:, :-1])
    assert sorted(map(tuple, np.concatenate([x, y[:, -1:]], axis=1))) == \
        sorted(map(tuple, windows))  # shuffled, nothing lost
