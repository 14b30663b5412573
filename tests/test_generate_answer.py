"""`improvd generate --prompt` for a performance model: the daemon's answer path, no TensorFlow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import mido
import pytest
from model_fixtures import make_random_recurrent_model

from improvd.daemon.__main__ import main
from improvd.daemon.config import Config
from improvd.daemon.offline import answer_call
from improvd.daemon.runner import load_runner
from improvd.training.answer_prompt import prompt_events

CALL = str(Path(__file__).resolve().parent / "data" / "calls" / "staccato_riff.mid")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return make_random_recurrent_model(tmp_path_factory.mktemp("gen") / "tiny.onnx")


def tracks(path) -> dict[str, list[mido.Message]]:
    midi = mido.MidiFile(path)
    return {t.name: [m for m in t if m.type in ("note_on", "note_off")] for t in midi.tracks}


def test_generate_writes_the_call_and_the_answer_the_engine_plays(model, tmp_path, capsys):
    out = tmp_path / "answer.mid"
    assert main(["generate", "--model", str(model), "--prompt", CALL, "--out", str(out),
                 "--seed", "4"]) == 0
    assert "note answer" in capsys.readouterr().out
    written = tracks(out)
    assert set(written) == {"call", "answer"}
    call = prompt_events(CALL)
    assert sum(m.type == "note_on" and m.velocity > 0 for m in written["call"]) == \
        sum(e.is_note_on for e in call)
    # The same answer as the offline answer path gives for the same config and seed.
    expected = answer_call(Config(), load_runner(model), call, seed=4)
    ons = [m.note for m in written["answer"] if m.type == "note_on" and m.velocity > 0]
    assert ons == [e.pitch for e in expected.events if e.is_note_on] and ons


def test_greedy_and_a_config_reach_the_answer(model, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[sampling]\npitch_min = 60\npitch_max = 64\n")
    runs = []
    for seed in ("1", "2"):
        out = tmp_path / f"g{seed}.mid"
        assert main(["generate", "--model", str(model), "--prompt", CALL, "--out", str(out),
                     "--config", str(config), "--greedy", "--seed", seed]) == 0
        runs.append([m.note for m in tracks(out)["answer"] if m.type == "note_on"])
    assert runs[0] == runs[1], "greedy answers depend on the seed"
    assert runs[0] and all(60 <= p <= 64 for p in runs[0])


def test_generate_names_a_bad_prompt(model, tmp_path, capsys):
    text = tmp_path / "phrase.txt"
    text.write_text("C D E")
    assert main(["generate", "--model", str(model), "--prompt", str(text), "--out",
                 str(tmp_path / "x.mid")]) == 2
    assert "phrase.txt" in capsys.readouterr().err
    assert main(["generate", "--model", str(model), "--out", str(tmp_path / "x.mid")]) == 2
    assert "--prompt" in capsys.readouterr().err


def test_generate_from_an_onnx_model_never_imports_tensorflow(model, tmp_path):
    out = tmp_path / "answer.mid"
    code = ("import sys\nfrom improvd.daemon.__main__ import main\n"
            f"rc = main(['generate', '--model', {str(model)!r}, '--prompt', {CALL!r}, "
            f"'--out', {str(out)!r}])\n"
            "print(rc, 'tensorflow' in sys.modules, 'music21' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-3:] == ["0", "False", "False"]
    assert out.is_file()
