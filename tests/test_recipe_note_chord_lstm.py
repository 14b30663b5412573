"""note-chord-lstm (seed 002) through the real parts, plus the shared Note/Chord data loader."""

import json

import pytest
from music21 import chord, corpus
from note_chord_support import answer_live, train_export_generate

from improvd.daemon.__main__ import main
from improvd.daemon.runner import load_runner
from improvd.daemon.tokenizers.note_chord import NoteChordTokenizer
from improvd.training import note_chord_data
from improvd.training.note_chord_data import (
    NoteChordDataError,
    build_vocabulary,
    load_note_chord_pieces,
    stream_tokens,
)

NAME = "note-chord-lstm"


@pytest.mark.slow
def test_tiny_lstm_trains_exports_generates_and_answers_live(tmp_path, midi_writer):
    made = train_export_generate(NAME, tmp_path, midi_writer)
    run = json.loads((made["run"] / "run.json").read_text())
    assert run["config"]["seq_len"] == 20 and run["data"]["pieces"]["valid"] >= 1
    assert run["metrics"]["valid_loss"] > 0
    runner = load_runner(made["onnx"])
    assert runner.info.kind == "window" and runner.info.context_length == 20
    assert runner.tokenizer.vocabulary == run["tokenizer"]["vocabulary"]
    assert "Rescaling -> Reshape -> LSTM(" in made["card_text"]
    assert made["report"]["prompt_tokens"] == 5  # the spread chord is one token
    # The command line, with a WAV rendering of the answer.
    cli_out = tmp_path / "cli.mid"
    assert main(["generate", "--model", str(made["onnx"]), "--prompt", str(made["phrase"]),
                 "--out", str(cli_out), "--wav", str(tmp_path / "cli.wav"), "--tokens", "8"]) == 0
    assert cli_out.stat().st_size > 0 and (tmp_path / "cli.wav").stat().st_size > 44
    heard, answer, _ = answer_live(made["onnx"])
    assert len(heard) == 5  # the spread chord is one token, then four melody notes
    assert sum(e.is_note_on for e in answer) >= 8 and min(e.time for e in answer) == 2.0


def test_live_chord_lookup_agrees_with_music21_normal_order():
    """Every chord of a real piece: the tokenizer finds music21's own token from the pitches."""
    score = corpus.parse("joplin/maple_leaf_rag.mxl")
    chords = [c for c in score.flatten().notes if isinstance(c, chord.Chord)]
    vocab = sorted(set(stream_tokens(score)))
    tok = NoteChordTokenizer(vocab)
    assert len(chords) > 100
    for c in chords:
        expected = ".".join(str(pc) for pc in c.normalOrder)
        assert tok.vocabulary[tok.token_for_pitches([p.midi for p in c.pitches])] == expected


def test_loader_reads_corpus_pieces_in_parallel_and_caches(tmp_path, monkeypatch):
    pieces = load_note_chord_pieces("music21:piano", cache_dir=tmp_path, limit=3, workers=2)
    assert len(pieces) == 3 and all(p.tokens for p in pieces)
    assert len(list(tmp_path.glob("note_chord-*.pkl"))) == 1  # the one parse cache

    def no_parsing(*args):
        raise AssertionError("parsed again instead of reading the cache")

    monkeypatch.setattr(note_chord_data, "parse_file", no_parsing)
    again = load_note_chord_pieces("music21:piano", cache_dir=tmp_path, limit=3, workers=1)
    assert [p.tokens for p in again] == [p.tokens for p in pieces]
    vocab = build_vocabulary(pieces)
    assert NoteChordTokenizer(vocab).vocab_size == len(vocab)  # every token is a valid one


def test_an_abc_file_without_tunes_is_a_clear_error(tmp_path, capsys):
    abc = tmp_path / "empty.abc"
    abc.write_text("% a comment, no tune\n")
    with pytest.raises(NoteChordDataError, match="empty.abc: no ABC tunes"):
        load_note_chord_pieces(str(abc))
    out = tmp_path / "run"
    assert main(["train", "--recipe", NAME, "--size", "tiny", "--source", str(abc),
                 "--out", str(out)]) == 2
    assert "no ABC tunes" in capsys.readouterr().err and not out.exists()


def test_a_config_typo_is_a_clear_error(tmp_path, capsys):
    config = tmp_path / "typo.toml"
    config.write_text('[tiny]\nsource = "music21:piano"\nunit = [8]\n')
    assert main(["train", "--recipe", NAME, "--size", "tiny", "--config", str(config),
                 "--out", str(tmp_path / "run")]) == 2
    assert "unknown setting unit (did you mean 'units'?)" in capsys.readouterr().err
