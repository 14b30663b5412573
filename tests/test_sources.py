"""training/sources.py and parsing.py on real data: music21's corpus, the JSB tgz, MIDI and ABC
files written here."""

from __future__ import annotations

import logging
import os

import pytest

from improvd.daemon.events import events_to_notes
from improvd.training import cache, parsing
from improvd.training.sources import Piece, SourceError, load_pieces, load_source

ABC_TWO_TUNES = """X:1
T:First
M:4/4
L:1/4
Q:1/4=120
K:C
C D E F | G4 |]

X:2
T:Second
M:3/4
L:1/8
K:G
G2 A2 B2 | d6 |]
"""


def _sorted(piece: Piece) -> bool:
    times = [e.time for e in piece.events]
    return times == sorted(times)


# --- music21 --------------------------------------------------------------------------------------
def test_music21_bach_subset_is_real_and_deterministic(cache_dir):
    first = load_pieces("music21:bach", cache_dir=None, limit=3, workers=2)
    again = load_pieces("music21:bach", cache_dir=None, limit=3, workers=1)
    assert [p.name for p in first] == [p.name for p in again]
    assert first == again  # the process pool and the serial path parse alike
    assert len(first) == 3
    for piece in first:
        assert piece.name.startswith("music21:bach/")
        assert _sorted(piece)
        notes = events_to_notes(piece.events)
        assert len(notes) > 50  # a chorale has four voices of many notes
        assert all(30 <= n.pitch <= 90 and n.end > n.start for n in notes)


def test_music21_default_mixes_collections():
    pieces = load_pieces("music21", cache_dir=None, limit=4, workers=2)
    folders = {p.name.split(":")[1].split("/")[0] for p in pieces}
    assert len(pieces) == 4 and len(folders) >= 2, folders


def test_score_conversion_tempo_ties_chords_dynamics():
    from music21 import chord, dynamics, note, stream, tempo, tie

    part = stream.Part()
    part.insert(0, tempo.MetronomeMark(number=120))  # quarter = 0.5 s
    part.insert(0, dynamics.Dynamic("f"))
    tied_a, tied_b = note.Note("C4", quarterLength=1), note.Note("C4", quarterLength=1)
    tied_a.tie, tied_b.tie = tie.Tie("start"), tie.Tie("stop")
    part.append([tied_a, tied_b, chord.Chord(["E4", "G4"], quarterLength=2)])
    loud = note.Note("A4", quarterLength=1)
    loud.volume.velocity = 120
    part.append(loud)
    notes = events_to_notes(parsing.score_to_events(part))
    assert [(n.pitch, n.start, n.end) for n in notes] == [
        (60, 0.0, 1.0), (64, 1.0, 2.0), (67, 1.0, 2.0), (69, 2.0, 2.5)]
    f_velocity = round(dynamics.Dynamic("f").volumeScalar * 127)
    assert [n.velocity for n in notes] == [f_velocity] * 3 + [120]


def test_score_without_tempo_uses_default():
    from music21 import note, stream

    part = stream.Part([note.Note("D4", quarterLength=2)])
    (n,) = events_to_notes(parsing.score_to_events(part))
    assert n.end == pytest.approx(2 * 60 / parsing.DEFAULT_QPM)
    assert n.velocity == parsing.DEFAULT_VELOCITY


def test_unknown_music21_collection():
    with pytest.raises(SourceError, match="music21:nosuch: unknown collection"):
        load_pieces("music21:nosuch", cache_dir=None)


# --- ABC ------------------------------------------------------------------------------------------
def test_abc_file_gives_one_piece_per_tune(tmp_path):
    (tmp_path / "tunes.abc").write_text(ABC_TWO_TUNES)
    pieces = load_pieces(str(tmp_path / "tunes.abc"), cache_dir=None)
    assert [p.name for p in pieces] == ["abc:tunes.abc#0000-X1", "abc:tunes.abc#0001-X2"]
    first = events_to_notes(pieces[0].events)
    assert [n.pitch for n in first] == [60, 62, 64, 65, 67]
    assert first[1].start == pytest.approx(0.5)  # Q:1/4=120
    assert first[-1].end - first[-1].start == pytest.approx(2.0)


# --- MIDI -----------------------------------------------------------------------------------------
def test_midi_folder_tempo_drums_pedal_and_corrupt_file(tmp_path, midi_writer, caplog):
    # 480 ticks per beat; 120 bpm for the first beat, then 60 bpm.
    midi_writer(tmp_path / "a" / "tempo.mid", [(60, 100, 0, 480), (62, 90, 960, 1440)],
                tempos=((0, 500_000), (480, 1_000_000)))
    midi_writer(tmp_path / "b" / "band.midi", [(64, 80, 0, 480), (36, 127, 0, 240, 9)],
                controls=((0, 64, 127), (960, 64, 0), (0, 7, 100)))
    (tmp_path / "b" / "broken.mid").write_bytes(os.urandom(300))
    (tmp_path / "notes.txt").write_text("not music")
    with caplog.at_level(logging.WARNING):
        pieces = {p.name: p for p in load_pieces(str(tmp_path), cache_dir=None, workers=2)}
    assert sorted(pieces) == ["midi:a/tempo.mid", "midi:b/band.midi"]
    assert "midi:b/broken.mid" in caplog.text

    tempo_notes = events_to_notes(pieces["midi:a/tempo.mid"].events)
    assert [(n.pitch, n.velocity) for n in tempo_notes] == [(60, 100), (62, 90)]
    assert tempo_notes[0].end == pytest.approx(0.5)
    assert tempo_notes[1].start == pytest.approx(1.5) and tempo_notes[1].end == pytest.approx(2.5)

    band = pieces["midi:b/band.midi"].events
    assert {e.pitch for e in band if e.kind != "control_change"} == {64}  # drums dropped
    pedal = [(e.time, e.velocity) for e in band if e.kind == "control_change"]
    assert pedal == [(0.0, 127), (1.0, 0)]  # CC64 kept, the volume CC not


def test_folder_errors(tmp_path):
    with pytest.raises(SourceError, match="no such file or folder"):
        load_pieces(str(tmp_path / "missing"), cache_dir=None)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SourceError, match=f"{empty} holds no MIDI"):
        load_pieces(str(empty), cache_dir=None)
    (empty / "readme.txt").write_text("no music here")
    with pytest.raises(SourceError, match="is not a MIDI"):
        load_pieces(str(empty / "readme.txt"), cache_dir=None)
    (empty / "junk.mid").write_bytes(b"MThd garbage")
    with pytest.raises(SourceError, match=f"no pieces with notes found in {empty}"):
        load_pieces(str(empty), cache_dir=None)


def test_midi_without_notes_is_skipped(tmp_path, midi_writer, caplog):
    midi_writer(tmp_path / "silent.mid", [])
    midi_writer(tmp_path / "tune.mid", [(70, 64, 0, 240)])
    with caplog.at_level(logging.WARNING):
        result = load_source(str(tmp_path), cache_dir=None, workers=1)
    assert [p.name for p in result.pieces] == ["midi:tune.mid"]
    assert result.skipped == [("midi:silent.mid", "no notes")]
    assert "midi:silent.mid" in caplog.text


# --- JSB chorales ---------------------------------------------------------------------------------
def test_jsb_tgz_keeps_split_and_holds_notes(jsb_tgz):
    pieces = load_pieces(f"jsb:{jsb_tgz}", cache_dir=None)
    splits = [p.name.split(":")[1].split("/")[0] for p in pieces]
    assert (splits.count("train"), splits.count("valid"), splits.count("test")) == (229, 76, 77)
    assert "jsb:train/chorale_000" in {p.name for p in pieces}
    assert all(_sorted(p) for p in pieces)


def test_jsb_csv_held_notes_rests_and_unisons():
    text = "note0,note1,note2,note3\n72,67,64,48\n72,67,64,48\n74,0,64,64\n74,0,64,64\n"
    notes = events_to_notes(parsing.parse_jsb_csv(text))
    step = parsing.JSB_STEP_S
    got = sorted((n.pitch, round(n.start / step), round(n.end / step)) for n in notes)
    # soprano 72 held 2 steps then 74; alto rests; tenor 64 held 4 steps; bass 48 then 64 while
    # the tenor's 64 sounds: one key, re-struck at step 2.
    assert got == [(48, 0, 2), (64, 0, 2), (64, 2, 4), (67, 0, 2), (72, 0, 2), (74, 2, 4)]
    assert step == pytest.approx(0.15)


def test_unisons_share_one_key():
    from improvd.daemon.events import Note

    notes = [Note(60, 80, 0.0, 1.0), Note(60, 90, 0.0, 2.0), Note(60, 70, 1.5, 3.0),
             Note(60, 60, 3.0, 4.0), Note(62, 80, 0.5, 0.7)]
    got = sorted(parsing.one_key_per_pitch(notes), key=lambda n: (n.pitch, n.start))
    assert [(n.pitch, n.start, n.end) for n in got] == [
        (60, 0.0, 1.5), (60, 1.5, 3.0), (60, 3.0, 4.0), (62, 0.5, 0.7)]


def test_jsb_bad_csv_skips_alone_and_limit_spreads(tmp_path, jsb_tgz, caplog):
    import io
    import tarfile

    tgz = tmp_path / "mini.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        for name, text in (("train/chorale_000.csv", "note0,note1,note2,note3\n60,55,52,48\n"),
                           ("train/chorale_001.csv", "note0,note1,note2,note3\n60,x,52,48\n"),
                           ("test/chorale_002.csv", "note0,note1,note2,note3\n0,0,0,0\n")):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with caplog.at_level(logging.WARNING):
        result = load_source(f"jsb:{tgz}", cache_dir=None)
    assert [p.name for p in result.pieces] == ["jsb:train/chorale_000"]
    assert [name for name, _ in result.skipped] == ["jsb:test/chorale_002", "jsb:train/chorale_001"]
    assert "jsb:train/chorale_001" in caplog.text

    subset = load_pieces(f"jsb:{jsb_tgz}", cache_dir=None, limit=30)
    assert len(subset) == 30
    assert {p.name.split(":")[1].split("/")[0] for p in subset} == {"train", "valid", "test"}


def test_jsb_missing_or_broken_tgz(tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        load_pieces(f"jsb:{tmp_path / 'nope.tgz'}", cache_dir=None)
    (tmp_path / "bad.tgz").write_bytes(b"not a tar at all")
    with pytest.raises(SourceError, match="not a readable tgz"):
        load_pieces(f"jsb:{tmp_path / 'bad.tgz'}", cache_dir=None)


# --- cache ----------------------------------------------------------------------------------------
def test_cache_hit_on_second_run_and_miss_after_edit(tmp_path, midi_writer, cache_dir, caplog):
    folder = tmp_path / "midi"
    midi_writer(folder / "one.mid", [(60, 100, 0, 480)])
    midi_writer(folder / "two.mid", [(67, 50, 0, 960)])
    first = load_source(str(folder), cache_dir=cache_dir, workers=1)
    assert not first.from_cache
    assert len(list(cache_dir.glob("*.pkl"))) == 1

    with caplog.at_level(logging.INFO, logger="improvd.training.sources"):
        second = load_source(str(folder), cache_dir=cache_dir, workers=1)
    assert second.from_cache and "from the cache" in caplog.text
    assert second.pieces == first.pieces

    midi_writer(folder / "two.mid", [(67, 50, 0, 960), (69, 50, 960, 1920)])  # edited
    third = load_source(str(folder), cache_dir=cache_dir, workers=1)
    assert not third.from_cache
    assert len(events_to_notes(third.pieces[1].events)) == 2


def test_cache_write_failure_leaves_no_file(tmp_path, midi_writer, cache_dir, monkeypatch):
    midi_writer(tmp_path / "one.mid", [(60, 100, 0, 480)])

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(cache.pickle, "dump", crash)
    with pytest.raises(OSError, match="disk full"):
        load_pieces(str(tmp_path), cache_dir=cache_dir, workers=1)
    assert list(cache_dir.iterdir()) == []
    monkeypatch.undo()
    assert len(load_pieces(str(tmp_path), cache_dir=cache_dir, workers=1)) == 1
