"""chorale-wavenet (seed 001): tokenizer, the seed's data pipeline on the real tgz, bad input, and
a tiny real training -> tf2onnx export with parity -> a phrase answered through the daemon's
runner -> MIDI and WAV."""

from __future__ import annotations

import io
import shutil
import tarfile
import wave

import numpy as np
import pytest
from driver_support import train_export_verify

from improvd.daemon.events import Event, Note, events_to_notes, notes_to_events
from improvd.daemon.tokenizers import from_spec
from improvd.daemon.tokenizers.chorale_arpeggio import ChoraleArpeggioTokenizer
from improvd.training.recipes import chorale_wavenet as cw
from improvd.training.recipes import load_config

TOK = ChoraleArpeggioTokenizer()


# --- tokenizer -----------------------------------------------------------------------------------
def test_ids_follow_the_seed_mapping():
    assert TOK.vocab_size == 47
    assert TOK.chords_to_ids([[81, 60, 36, 0]]) == [46, 25, 1, 0]
    assert [TOK.id_pitch(i) for i in (46, 25, 1, 0)] == [81, 60, 36, 0]
    assert TOK.pitch_id(24) == 1 and TOK.pitch_id(93) == 46  # moved by octaves into range
    assert from_spec(TOK.spec()).spec() == TOK.spec()
    with pytest.raises(ValueError):
        TOK.describe(47)


def test_decode_holds_repeated_pitches_and_times_steps():
    ids = TOK.chords_to_ids([[74, 70, 65, 58]] * 4 + [[75, 70, 58, 55]] * 2)
    notes = events_to_notes(TOK.decode(ids))
    by_pitch = {n.pitch: (n.start, n.end) for n in notes}
    assert by_pitch[74] == (0.0, 1.0)            # four 0.25 s steps, one held note
    assert by_pitch[70] == (0.0, 1.5)            # held across the chord change
    assert by_pitch[58] == (0.0, 1.5)            # bass 58 becomes tenor 58: still one key
    assert by_pitch[55] == (1.0, 1.5)
    assert len(notes) == 6


def test_streaming_decoder_matches_whole_decode():
    chorale = cw.load_chorales(cw.Config.source, limit=1)["test"][0]
    ids = cw.to_ids(chorale).tolist()
    dec = TOK.decoder()
    streamed = [e for i in ids for e in dec.push(i)] + dec.close_all()
    assert streamed == TOK.decode(ids)


def test_real_chorale_survives_decode_then_encode_step_by_step():
    chorale = cw.load_chorales(cw.Config.source, limit=1)["test"][0]
    ids = TOK.encode(TOK.decode(cw.to_ids(chorale).tolist()))
    assert len(ids) == 4 * len(chorale)
    steps = np.array(ids).reshape(-1, 4)
    for chord, step in zip(chorale, steps):
        assert {p for p in chord if p} == {TOK.id_pitch(i) for i in step if i}


def test_live_encoder_lays_notes_on_the_grid():
    enc = TOK.encoder()
    t0 = 100.0  # any clock: the first note-on is the grid's origin
    phrase = [Event(t0, "note_on", 72, 90), Event(t0 + 0.02, "note_on", 60, 80),
              Event(t0 + 0.49, "note_off", 72), Event(t0 + 0.51, "note_on", 74, 90),
              Event(t0 + 0.55, "note_off", 74),  # a short note inside one step is kept
              Event(t0 + 0.98, "note_off", 60)]
    ids = [i for e in phrase for i in enc.push(e)] + enc.flush()
    steps = [tuple(TOK.id_pitch(i) for i in ids[k:k + 4]) for k in range(0, len(ids), 4)]
    assert steps[0] == (72, 60, 0, 0) and steps[1] == (72, 60, 0, 0)
    assert steps[2] == (74, 60, 0, 0) and steps[3] == (60, 0, 0, 0)
    assert len(steps) == 4


def test_long_silence_is_capped():
    enc = TOK.encoder()
    ids = enc.push(Event(0.0, "note_on", 60, 80)) + enc.push(Event(0.2, "note_off", 60))
    ids += enc.push(Event(60.0, "note_on", 62, 80))
    assert len(ids) == 4 * (1 + TOK.max_rest_steps)  # a beat of rest, not a minute
    assert enc.push(Event(60.1, "note_off", 62)) == TOK.chords_to_ids([[62, 0, 0, 0]])
    assert enc.origin == 60.0  # the phrase after the silence starts a new grid


# --- the seed's data -----------------------------------------------------------------------------
def test_seed_split_and_windows():
    splits = cw.load_chorales(cw.Config.source)
    assert {k: len(v) for k, v in splits.items()} == {"train": 229, "valid": 76, "test": 77}
    assert all(c.shape[1] == 4 for c in splits["train"])
    x, y = cw.make_windows(splits["train"][:3], cw.Config())
    assert x.shape[1] == 131 and y.shape == x.shape      # 33 chords = 132 notes, shifted by one
    assert (x[:, 1:] == y[:, :-1]).all()
    assert x.max() <= 46 and x.min() >= 0


# --- bad input -----------------------------------------------------------------------------------
def test_missing_or_broken_data_is_a_clear_error(tmp_path):
    from improvd.training.sources import SourceError

    with pytest.raises(SourceError, match="nothing.tgz"):
        cw.load_chorales(str(tmp_path / "nothing.tgz"))
    bad = tmp_path / "bad.tgz"
    with tarfile.open(bad, "w:gz") as tar:
        for split in ("train", "valid", "test"):
            data = b"note0,note1,note2,note3\n60,x,55,48\n"
            info = tarfile.TarInfo(f"{split}/chorale_000.csv")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(SourceError, match="chorale_000.csv"):
        cw.load_chorales(str(bad))


def test_config_typo_is_a_clear_error(tmp_path):
    from improvd.training.recipes import ConfigError

    path = tmp_path / "c.toml"
    path.write_text("[tiny]\nlstm_unit = 3\n")
    with pytest.raises(ConfigError, match="lstm_unit"):
        load_config(cw.NAME, "tiny", cw.Config, path=path)


# --- the real parts ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("chorale")
    made = train_export_verify("chorale-wavenet", out)
    shutil.copy(made["onnx"], out / "model.onnx")
    return out, made["info"], made["card_text"]


@pytest.mark.slow
def test_tiny_training_exports_a_window_model_with_parity(exported):
    _, info, card = exported
    assert info.kind == "window" and info.context_length == 32
    # The card names the seed's layers: causal dilated convolutions, batch norm, an LSTM.
    assert "Conv1D(8, kernel 2, dilation 8, causal, relu) -> BatchNormalization" in card
    assert "LSTM(16) -> Dense(47)" in card and "last 32" in card
    for epoch in ("best_epoch", "last_epoch"):
        assert set(info.metrics[epoch]["test_windows"]) == {"loss", "accuracy"}
        assert np.isfinite(info.metrics[epoch]["test_chorales"]["nll_per_token"])


@pytest.mark.slow
def test_runner_answers_a_phrase_and_writes_midi_and_wav(exported):
    from improvd.daemon.runner import load_runner
    from improvd.training.generate import GenerateError, generate_file, write_midi
    from improvd.training.parsing import parse_midi_file

    out = exported[0]
    phrase = notes_to_events([Note(67, 90, 0.0, 0.5), Note(59, 70, 0.0, 0.5),
                              Note(69, 90, 0.5, 1.0), Note(60, 70, 0.5, 1.0)])
    prompt = write_midi(phrase, out / "phrase.mid")
    runner = load_runner(out / "model.onnx")
    assert runner.info.kind == "window" and runner.tokenizer.name == "chorale_arpeggio"
    report = generate_file(out / "model.onnx", prompt, out / "answer.mid", tokens=64,
                           temperature=1.0, seed=1, wav=out / "answer.wav")
    assert report["prompt_tokens"] == 16 and report["generated_tokens"] == 64
    events = parse_midi_file(str(out / "answer.mid"))
    ons = [e for e in events if e.is_note_on]
    offs = [e for e in events if e.is_note_off]
    assert ons and len(ons) == len(offs)
    with wave.open(str(out / "answer.wav")) as w:
        samples = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    assert np.abs(samples).max() > 0
    greedy = generate_file(out / "model.onnx", prompt, out / "g.mid", tokens=32, greedy=True)
    again = generate_file(out / "model.onnx", prompt, out / "g2.mid", tokens=32, greedy=True)
    assert greedy["tokens"] == again["tokens"]

    (out / "phrase.txt").write_text("not music")
    with pytest.raises(GenerateError, match="phrase.txt"):
        generate_file(out / "model.onnx", out / "phrase.txt", out / "x.mid")
    write_midi([], out / "empty.mid")
    with pytest.raises(GenerateError, match="no notes"):
        generate_file(out / "model.onnx", out / "empty.mid", out / "x.mid")
    assert not (out / "x.mid").exists()


@pytest.mark.slow
def test_generate_command_writes_the_seed_continuation_or_names_the_bad_input(exported, capsys):
    from improvd.daemon.__main__ import main

    out = exported[0]
    assert main(["generate", "--model", str(out / "model.onnx"), "--out", str(out / "cli.mid"),
                 "--tokens", "40", "--temperature", "0.5"]) == 0
    assert "40 tokens" in capsys.readouterr().out and (out / "cli.mid").is_file()
    assert main(["generate", "--model", str(out / "missing.onnx"), "--out",
                 str(out / "y.mid")]) == 2
    assert "missing.onnx" in capsys.readouterr().err
    assert not (out / "y.mid").exists()
