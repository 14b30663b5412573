"""abc-char-lstm (seed 000): the ABC character tokenizer (reader and writer), the data loader on
music21's ABC collections, bad input, and a tiny real training -> tf2onnx step-graph export with
parity -> a phrase answered through the daemon's runner -> MIDI; generated text split into tunes
and converted with music21."""

from __future__ import annotations

import shutil
from fractions import Fraction

import pytest
from driver_support import train_export_verify

from improvd.daemon.events import Note, events_to_notes, notes_to_events
from improvd.daemon.tokenizers import from_spec
from improvd.daemon.tokenizers.abc_chars import AbcCharsTokenizer, pitch_to_abc
from improvd.daemon.tokenizers.abc_reader import key_signature, parse_length
from improvd.training.recipes import abc_char_lstm as rec

CHARS = "".join(chr(c) for c in range(32, 127)) + "\n"
TOK = AbcCharsTokenizer(CHARS, quarter_bpm=120.0)  # an eighth (L:1/8) = 0.25 s


def notes_of(text: str) -> list[Note]:
    return events_to_notes(TOK.decode(TOK.text_to_ids(text)))


# --- tokenizer: ABC reader -----------------------------------------------------------------------
def test_lengths_keys_and_pitch_names():
    assert [parse_length(t) for t in ("", "2", "/", "//", "3/2", "/4")] == [
        1, 2, Fraction(1, 2), Fraction(1, 4), Fraction(3, 2), Fraction(1, 4)]
    assert key_signature("D") == {"F": 1, "C": 1}
    assert key_signature("Ador") == {"F": 1}
    assert key_signature("Gm") == {"B": -1, "E": -1}
    assert key_signature("HP") == {}
    assert [pitch_to_abc(p) for p in (60, 61, 72, 84, 48, 47)] == [
        "C", "^C", "c", "c'", "C,", "B,,"]


def test_reader_honours_key_bar_accidentals_and_lengths():
    text = "X:1\nL:1/8\nK:D\nF2 ^G =F | F c/ c/ z2 [CEG]4 |]\n"
    notes = notes_of(text)
    assert [(n.pitch, n.start, n.end) for n in notes] == [
        (66, 0.0, 0.5),                      # F is F# in D
        (68, 0.5, 0.75), (65, 0.75, 1.0),   # explicit accidentals
        (66, 1.0, 1.25),                     # the bar line restores the key's F#
        (73, 1.25, 1.375), (73, 1.375, 1.5),
        (61, 2.0, 3.0), (64, 2.0, 3.0), (67, 2.0, 3.0),   # a rest, then a chord (C# in D)
    ]
    assert notes[0].velocity > notes[1].velocity  # the first note of a bar is accented


def test_reader_ties_broken_rhythm_tuplets_and_skips():
    notes = notes_of('X:1\nL:1/4\nK:C\n"Am"A-A B>c {g}(3ded !trill!e\n')
    assert [(n.pitch, round(n.start, 6), round(n.end, 6)) for n in notes] == [
        (69, 0.0, 1.0),                        # tied: one note of two quarters
        (71, 1.0, 1.75), (72, 1.75, 2.0),      # B>c
        (74, 2.0, 2.333333), (76, 2.333333, 2.666667), (74, 2.666667, 3.0),   # (3ded
        (76, 3.0, 3.5)]


def test_new_tune_resets_key_and_streaming_matches_whole_decode():
    text = "X:1\nK:G\nF2|\n\nX:2\nT:Two\nK:C\nF2|\n"
    assert [n.pitch for n in notes_of(text)] == [66, 65]
    dec = TOK.decoder()
    streamed = [e for i in TOK.text_to_ids(text) for e in dec.push(i)] + dec.close_all()
    assert streamed == TOK.decode(TOK.text_to_ids(text))


# --- tokenizer: writer and contract ---------------------------------------------------------------
def test_writer_puts_a_heard_phrase_in_abc():
    phrase = notes_to_events([Note(60, 90, 10.0, 10.24), Note(62, 90, 10.25, 10.74),
                              Note(73, 90, 11.0, 11.2), Note(47, 90, 11.25, 11.5)])
    text = TOK.ids_to_text(TOK.encode(phrase))
    assert text == TOK.header + "CD2z^cB,,"
    back = events_to_notes(TOK.decode(TOK.encode(phrase)))
    assert [(n.pitch, n.start, n.end) for n in back] == [
        (60, 0.0, 0.25), (62, 0.25, 0.75), (73, 1.0, 1.25), (47, 1.25, 1.5)]


def test_writer_keeps_the_top_note_of_a_chord_and_draws_bar_lines():
    phrase = notes_to_events([Note(60, 80, 0.0, 0.5), Note(64, 80, 0.01, 0.5)] +
                             [Note(67, 80, 0.5 + 0.25 * i, 0.75 + 0.25 * i) for i in range(8)])
    text = TOK.ids_to_text(TOK.encode(phrase))
    assert text == TOK.header + "E2GGGGGG|GG"  # 4/4 in eighths: a bar line every 8 units


def test_spec_rebuilds_the_same_tokenizer_and_drops_unknown_characters():
    again = from_spec(TOK.spec())
    assert again.spec() == TOK.spec() and again.vocab_size == len(CHARS)
    small = AbcCharsTokenizer("ABC\n")
    assert small.text_to_ids("AxB") == [0, 1]
    assert small.describe(2) == ("char", "C")
    with pytest.raises(ValueError):
        AbcCharsTokenizer("AA")


# --- data ----------------------------------------------------------------------------------------
def test_tunes_from_the_music21_abc_collection_are_cleaned():
    tunes = rec.load_tunes("music21:airdsAirs", limit=20)
    assert len(tunes) == 20
    for _, tune in tunes:
        assert tune.startswith("X:")
        fields = [line[0] for line in tune.splitlines() if line[1:2] == ":"]
        assert set(fields) <= set("XTMLK")
        assert all(32 <= ord(c) < 127 for c in tune.replace("\n", ""))


def test_abc_without_tunes_or_folder_without_abc_is_a_clear_error(tmp_path):
    from improvd.training.sources import SourceError

    empty = tmp_path / "empty.abc"
    empty.write_text("% just a comment\nT:no tune number\n")
    with pytest.raises(SourceError, match="no ABC tunes"):
        rec.load_tunes(str(empty))
    folder = tmp_path / "midi_only"
    folder.mkdir()
    (folder / "a.mid").write_bytes(b"")
    with pytest.raises(SourceError, match="midi_only holds no ABC files"):
        rec.load_tunes(str(folder))
    with pytest.raises(SourceError, match="nothing_here"):
        rec.load_tunes("music21:nothing_here")


def test_generated_text_splits_into_tunes_that_music21_reads(tmp_path):
    from improvd.training.generate import split_tunes, tunes_to_midi

    text = "X:1\nT:a\nM:4/4\nL:1/8\nK:G\nGABc d2d2|\n\nX:2\nK:C\n]]]][[[\n\nnoise"
    assert [t.split("\n")[0] for t in split_tunes(text)] == ["X:1", "X:2"]
    report = tunes_to_midi(text, tmp_path / "gen.mid")
    assert report["tunes"] == 2 and report["tunes_parsed"] == report["tunes_midi"] == 1
    assert (tmp_path / "gen.tune01.mid").is_file()


# --- the real parts ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("abc")
    made = train_export_verify("abc-char-lstm", out)
    shutil.copy(made["onnx"], out / "model.onnx")
    return out, made


@pytest.mark.slow
def test_tiny_training_exports_a_recurrent_step_model_with_parity(exported):
    _, made = exported
    info = made["info"]
    assert info.kind == "recurrent" and info.tokenizer["name"] == "abc_chars"
    assert "Embedding(" in made["card_text"] and "LSTM(32) -> Dense(" in made["card_text"]
    assert [s.shape for s in info.states] == [(1, 32), (1, 32)]


@pytest.mark.slow
def test_runner_answers_a_phrase_and_writes_midi_and_abc(exported):
    from improvd.daemon.runner import load_runner
    from improvd.training.generate import GenerateError, generate_abc, sample, write_midi
    from improvd.training.parsing import parse_midi_file

    out = exported[0]
    runner = load_runner(out / "model.onnx")
    tok = runner.tokenizer
    phrase = notes_to_events([Note(67, 90, 0.0, 0.25), Note(69, 90, 0.25, 0.5),
                              Note(71, 90, 0.5, 1.0)])
    enc = tok.encoder()
    heard = [i for e in phrase for i in enc.push(e)] + enc.flush()
    assert tok.ids_to_text(heard).endswith("GAB2")
    answer, cost = sample(runner, heard, 120, temperature=1.0, seed=3)
    assert len(answer) == 120 and len(cost) == 120
    events = tok.decode(answer)
    assert any(e.is_note_on for e in events)
    write_midi(events, out / "answer.mid")
    back = parse_midi_file(str(out / "answer.mid"))
    assert sum(e.is_note_on for e in back) == sum(e.is_note_off for e in back) > 0

    prompt = out / "tune.abc"
    prompt.write_text("X:1\nT:prompt\nM:4/4\nL:1/8\nK:G\nGABc dedB|\n")
    report = generate_abc(out / "model.onnx", prompt, out / "gen.mid", tokens=200, seed=0)
    assert (out / "gen.abc").read_text().startswith("X:1\nT:prompt")
    assert report["tunes"] >= 1 and 0.0 <= report["parse_share"] <= 1.0
    assert (out / "gen.mid").is_file()

    (out / "prompt.wav").write_bytes(b"RIFF")
    with pytest.raises(GenerateError, match="prompt.wav"):
        generate_abc(out / "model.onnx", out / "prompt.wav", out / "x.mid")
    assert not (out / "x.mid").exists()
