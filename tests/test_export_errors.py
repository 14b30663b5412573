"""Bad inputs to export/verify/quantize: one clear line, exit status 2, no output file left."""

from __future__ import annotations

import json

import onnx
import pytest
from onnx import TensorProto, helper

from improvd.daemon.__main__ import main


def improvd(*argv) -> int:
    return main([str(a) for a in argv])


def onnx_without_metadata(path):
    """A valid ONNX graph (Identity) that is not an improvd model: no metadata."""
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], "plain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    # IR 8 / opset 17: what onnxruntime here loads (onnx's newest IR can be ahead of it).
    model = helper.make_model(graph, ir_version=8, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save_model(model, path)
    return path


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err, "expected an error message"
    return err[-1]


@pytest.mark.parametrize("command", ["verify", "quantize"])
def test_file_that_is_not_onnx(command, tmp_path, capsys):
    bogus = tmp_path / "notes.onnx"
    bogus.write_text("this is a shopping list, not a model\n")
    out = tmp_path / "out.onnx"
    args = [command, bogus] + (["--out", out] if command == "quantize" else [])
    assert improvd(*args) == 2
    line = error_line(capsys)
    assert str(bogus) in line and "not a loadable ONNX model" in line
    assert not out.exists()


@pytest.mark.parametrize("command", ["verify", "quantize"])
def test_onnx_without_improvd_metadata(command, tmp_path, capsys):
    plain = onnx_without_metadata(tmp_path / "plain.onnx")
    out = tmp_path / "out.onnx"
    args = [command, plain] + (["--out", out] if command == "quantize" else [])
    assert improvd(*args) == 2
    line = error_line(capsys)
    assert str(plain) in line and "no 'improvd' metadata" in line
    assert not out.exists()


def test_missing_model_file(tmp_path, capsys):
    assert improvd("verify", tmp_path / "nowhere.onnx") == 2
    assert "no such model file" in error_line(capsys)


def test_export_from_a_folder_that_is_not_a_run(tmp_path, capsys):
    out = tmp_path / "model.onnx"
    assert improvd("export", "--run", tmp_path / "empty", "--out", out) == 2
    assert "not a training run directory" in error_line(capsys)
    assert not out.exists()


def test_export_of_an_unknown_recipe(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"recipe": "transformer-xxl"}))
    out = tmp_path / "model.onnx"
    assert improvd("export", "--run", run, "--out", out) == 2
    line = error_line(capsys)
    assert "unknown recipe 'transformer-xxl'" in line and "performance-lstm" in line
    assert not out.exists()


def test_export_of_a_run_without_checkpoint(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({
        "recipe": "performance-lstm", "config": {"stretches": []}, "tokenizer": {}}))
    out = tmp_path / "model.onnx"
    assert improvd("export", "--run", run, "--out", out) == 2
    assert "no best.weights.h5" in error_line(capsys)
    assert not out.exists() and list(tmp_path.iterdir()) == [run]


def test_convert_refuses_a_graph_lacking_the_named_outputs(tmp_path):
    """The generic converter checks the metadata's names against the graph before writing."""
    import dataclasses

    import keras

    from improvd.daemon.artifact import ModelInfo, build_info
    from improvd.export.to_onnx import ExportError, convert

    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    logits = keras.layers.Dense(3)(keras.layers.Embedding(10, 2)(tokens))
    model = keras.Model(tokens, logits)
    info = build_info("x", "window", {"name": "performance"}, 4)
    misnamed = ModelInfo(**{**info.__dict__, "outputs": {"logits": "probs"}})
    out = tmp_path / "w.onnx"
    with pytest.raises(ExportError, match="probs"):
        convert(model, out, misnamed, output_names=["logits"])
    assert not out.exists()
    # Named as the contract says, the same model converts and carries the metadata.
    convert(model, out, dataclasses.replace(info, metrics={"checked": True}))
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert json.loads(meta["improvd"])["outputs"] == {"logits": "logits"}
    assert json.loads(meta["improvd"])["metrics"] == {"checked": True}


def test_a_card_for_an_int8_copy_needs_a_held_out_split(tmp_path, capsys):
    from improvd.testsupport.random_model import make_random_recurrent_model

    model = make_random_recurrent_model(tmp_path / "random.onnx")  # no training record
    out, card = tmp_path / "int8.onnx", tmp_path / "int8.md"
    assert improvd("quantize", model, "--out", out, "--card", card) == 2
    line = error_line(capsys)
    assert str(model) in line and "give the training run (--run DIR)" in line
    assert not out.exists() and not card.exists()
