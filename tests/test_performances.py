"""Performance variants of scores: what each draws, and that it stays a performance of the piece."""

from __future__ import annotations

import dataclasses
import itertools
import json

import numpy as np
import pytest
from synthetic_calls import call

from improvd.daemon.events import events_to_notes, notes_to_events
from improvd.daemon.tokenizers.performance import PerformanceTokenizer
from improvd.training.performances import Ranges, perform, performances, piece_rng
from improvd.training.sources import Piece

SCORE = call(100, list(np.arange(0, 16, 0.5)), accent=0, vel=80, legato=0.9, t0=0.0,
             chord=(0, 4))  # two-note chords in eighths, one velocity: as a score parses


def test_a_performance_keeps_the_music_and_draws_the_rest():
    seen = set()
    for v in range(12):
        played = perform(SCORE, piece_rng("x", v, 0), Ranges(), 0.6, 0.0)
        shift = played[0].pitch - SCORE[0].pitch
        seen.add(shift)
        assert -6 <= shift <= 5
        assert [n.pitch - shift for n in played] == [n.pitch for n in SCORE]
        stretch = (played[-1].start - played[0].start) / (SCORE[-1].start - SCORE[0].start)
        assert 0.58 <= stretch <= 1.62
        ioi = np.median(np.diff(sorted({n.start for n in played})))
        assert ioi == pytest.approx(0.3 * stretch, rel=0.1)  # eighths at 100 bpm, stretched
        # A chord's notes are struck together; the beats are louder than the off-beats.
        assert played[0].start == played[1].start
        on = [n.velocity for n, w in zip(played, SCORE) if abs(w.start / 0.6 % 1) < 1e-6]
        off = [n.velocity for n, w in zip(played, SCORE) if abs(w.start / 0.6 % 1) > 1e-6]
        assert np.mean(on) >= np.mean(off) - 2
        assert len({n.velocity for n in played}) > 1
    assert len(seen) >= 6  # transpositions spread over the octave


def test_legato_never_runs_into_the_next_strike_of_a_key():
    line = call(100, list(np.arange(0, 16, 0.5)), legato=0.95, t0=0.0)
    repeated = [dataclasses.replace(n, pitch=60 + 2 * (i % 2)) for i, n in enumerate(line)]
    legato = Ranges(articulation=(1.1, 1.1), jitter_s=0.0, tempo=(1.0, 1.0), transpose=(0, 0))
    played = perform(repeated, np.random.default_rng(0), legato, 0.6, 0.0)
    by_pitch: dict[int, list] = {}
    for n in played:
        by_pitch.setdefault(n.pitch, []).append(n)
    for notes in by_pitch.values():
        notes.sort(key=lambda n: n.start)
        assert all(a.end <= b.start + 1e-9 for a, b in itertools.pairwise(notes))
    staccato = Ranges(articulation=(0.35, 0.35), jitter_s=0.0, tempo=(1.0, 1.0))
    short = perform(SCORE, np.random.default_rng(0), staccato, 0.6, 0.0)
    assert np.median([n.end - n.start for n in short]) == pytest.approx(0.35 * 0.27, rel=0.05)


def test_performances_are_the_piece_plus_repeatable_variants():
    tok = PerformanceTokenizer()
    pieces = [Piece("a", tuple(notes_to_events(SCORE))), Piece("b", tuple(notes_to_events(
        call(120, list(range(8)), t0=0.0))))]
    first = performances(pieces, tok, 2, Ranges(), seed=1)
    again = performances(pieces, tok, 2, Ranges(), seed=1)
    other = performances(pieces, tok, 2, Ranges(), seed=2)
    assert len(first) == 6
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[1], other[1])
    assert np.array_equal(first[0], tok.encode(pieces[0].events))  # the piece as written
    assert len(events_to_notes(tok.decode(first[1]))) == len(SCORE)


@pytest.mark.slow
def test_the_recipe_trains_on_performances(tmp_path):
    from improvd.daemon.__main__ import main

    run = tmp_path / "run"
    assert main(["train", "--recipe", "performance-lstm", "--size", "tiny-performed",
                 "--out", str(run)]) == 0
    text = (run / "run.json").read_text()
    data = json.loads(text)["data"]
    # Each training piece as written plus one performance of it: about twice the tokens.
    assert data["train_tokens_augmented"] > 1.7 * data["tokens"]["train"]
    # Pieces joined into one stream: every token of it is in some window.
    assert data["windows"]["train"] >= data["train_tokens_augmented"] // 64 - 1
