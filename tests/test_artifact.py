"""The artifact contract: ModelInfo built, written, read and checked in daemon/artifact.py."""

from __future__ import annotations

import json

import onnx
import pytest

from improvd.daemon.artifact import (
    RECURRENT,
    WINDOW,
    ModelFileError,
    ModelInfo,
    StateSpec,
    build_info,
    lstm_states,
    read_info,
)
from improvd.daemon.runner import OnnxRecurrentRunner, load_runner
from improvd.testsupport.random_model import make_random_recurrent_model

SPEC = {"name": "performance"}


def test_the_builder_names_every_tensor_and_the_json_round_trips():
    info = build_info("r", RECURRENT, SPEC, 64, states=lstm_states([32, 16]),
                      training={"steps": 3})
    assert info.input_names == ["token", "state_in_0_h", "state_in_0_c", "state_in_1_h",
                                "state_in_1_c"]
    assert info.output_names == ["logits", "state_out_0_h", "state_out_0_c", "state_out_1_h",
                                 "state_out_1_c"]
    assert [s.shape for s in info.states] == [(1, 32), (1, 32), (1, 16), (1, 16)]
    data = json.loads(info.to_json())
    assert data["states"][0] == {"input": "state_in_0_h", "output": "state_out_0_h",
                                 "shape": [1, 32]}
    assert ModelInfo.from_json(info.to_json(), "m.onnx") == info
    window = build_info("w", WINDOW, SPEC, 128)
    assert (window.input_names, window.output_names) == (["tokens"], ["logits"])
    with pytest.raises(ValueError, match="states"):
        build_info("r", RECURRENT, SPEC, 64)
    with pytest.raises(ValueError, match="no states"):
        build_info("w", WINDOW, SPEC, 64, states=lstm_states([8]))


@pytest.mark.parametrize("change, message", [
    ({"kind": "transformer"}, "model kind 'transformer' is not one of"),
    ({"inputs": {"tokens": "tokens"}}, "a recurrent model names inputs.token"),
    ({"states": []}, "a recurrent model must list its states"),
    ({"states": [{"input": "a"}]}, "a state lacks input, output or shape"),
    ({"format": 2}, "metadata format 2 is not 1; re-export it"),
])
def test_bad_metadata_is_refused_naming_the_file(change, message):
    good = json.loads(build_info("r", RECURRENT, SPEC, 8, states=lstm_states([4])).to_json())
    with pytest.raises(ModelFileError, match=f"m.onnx: {message}"):
        ModelInfo.from_json(json.dumps({**good, **change}), "m.onnx")


def test_missing_metadata_is_refused_naming_the_file():
    good = json.loads(build_info("w", WINDOW, SPEC, 8).to_json())
    with pytest.raises(ModelFileError, match="m.onnx: metadata lacks recipe"):
        ModelInfo.from_json(json.dumps({k: v for k, v in good.items() if k != "recipe"}),
                            "m.onnx")
    with pytest.raises(ModelFileError, match="m.onnx: ONNX model has no 'improvd' metadata"):
        read_info({}, "m.onnx")


def test_the_daemon_asks_the_info_whether_it_can_play_a_model(tmp_path):
    path = make_random_recurrent_model(tmp_path / "ok.onnx", units=8, layers=1)
    runner = load_runner(path)
    assert isinstance(runner, OnnxRecurrentRunner) and runner.info.playable()
    unknown = build_info("x", RECURRENT, {"name": "midi-like"}, 8, states=lstm_states([8]))
    assert not unknown.playable()
    assert "unknown tokenizer 'midi-like'" in unknown.unplayable_reason()
    # The same graph, metadata naming a tokenizer this build lacks: refused, file named.
    model = onnx.load(str(path))
    for prop in model.metadata_props:
        prop.value = unknown.to_json()
    onnx.save(model, str(tmp_path / "odd.onnx"))
    with pytest.raises(ModelFileError, match=r"odd.onnx: unknown tokenizer 'midi-like'"):
        load_runner(tmp_path / "odd.onnx")


def test_metadata_naming_tensors_the_graph_lacks_is_refused():
    info = build_info("r", RECURRENT, SPEC, 8, states=(StateSpec("h_in", "h_out", (1, 4)),))
    info.check_graph(["token", "h_in"], ["logits", "h_out"], "m.onnx")
    with pytest.raises(ModelFileError, match=r"m.onnx: metadata names \['h_out'\] the graph"):
        info.check_graph(["token", "h_in"], ["logits"], "m.onnx")
