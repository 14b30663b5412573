"""The artifact contract: what an exported .onnx file carries for the daemon to play it.

Built (`build_info`), written (`to_json`, `set_metadata_props`), read (`read_info`) and checked
(`from_json`, `check_graph`, `playable`) here and nowhere else, so export and the daemon cannot
disagree about it. metadata_props["improvd"] is JSON:
  format        1
  recipe        e.g. "performance-lstm"
  kind          "recurrent" (one token + state in; logits + new state out) or "window" (last N ids)
  tokenizer     spec dict; daemon.tokenizers.from_spec rebuilds it
  context_length  tokens of context the model was trained on (window size for "window" models)
  inputs        {"token": name}  (recurrent) or {"tokens": name} (window)
  outputs       {"logits": name}
  states        [{"input": name, "output": name, "shape": [1, units]}, ...]   (recurrent only)
  training      data summary, steps, wall time...
  metrics       held-out NLL, accuracy...
Nothing here imports onnx or onnxruntime: export hands in its ModelProto, the runner its names.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from . import tokenizers

log = logging.getLogger(__name__)

METADATA_KEY = "improvd"
FORMAT_VERSION = 1
RECURRENT, WINDOW = "recurrent", "window"
KINDS = (RECURRENT, WINDOW)
Kind = Literal["recurrent", "window"]

# The graph's tensor names, defined once: exporters name their inputs and outputs with these.
TOKEN_INPUT = "token"  # recurrent: int32 [batch, 1]
TOKENS_INPUT = "tokens"  # window: int32 [batch, N]
LOGITS_OUTPUT = "logits"
# The metadata's role -> name maps use the same words as roles.
_INPUT_ROLE = {RECURRENT: TOKEN_INPUT, WINDOW: TOKENS_INPUT}


class ModelFileError(ValueError):
    """A model file that cannot be used, with the file named in the message."""


@dataclass(frozen=True)
class StateSpec:
    """One recurrent state tensor: fed in as `input`, read back as `output` after each step."""

    input: str
    output: str
    shape: tuple[int, ...]


def lstm_states(units: Sequence[int]) -> tuple[StateSpec, ...]:
    """h then c of each LSTM layer (`units` per layer, bottom first), in the step graph's order."""
    return tuple(StateSpec(f"state_in_{i}_{hc}", f"state_out_{i}_{hc}", (1, int(n)))
                 for i, n in enumerate(units) for hc in ("h", "c"))


@dataclass(frozen=True)
class ModelInfo:
    recipe: str
    kind: Kind
    tokenizer: dict[str, Any]
    context_length: int
    inputs: dict[str, str]
    outputs: dict[str, str]
    states: tuple[StateSpec, ...] = ()
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    format: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        # States may come as their JSON form ({"input", "output", "shape"}); keep one type.
        states = tuple(s if isinstance(s, StateSpec) else _state_from_json(s)
                       for s in self.states)
        object.__setattr__(self, "states", states)

    # --- the graph ------------------------------------------------------------------------------
    @property
    def input_names(self) -> list[str]:
        """Graph inputs in feeding order: the token(s), then each state."""
        return [self.inputs[_INPUT_ROLE[self.kind]]] + [s.input for s in self.states]

    @property
    def output_names(self) -> list[str]:
        """Graph outputs in reading order: the logits, then each new state."""
        return [self.outputs[LOGITS_OUTPUT]] + [s.output for s in self.states]

    def check_graph(self, graph_inputs: Iterable[str], graph_outputs: Iterable[str],
                    source: str) -> None:
        """ModelFileError unless the graph has every input and output this metadata names."""
        missing = sorted((set(self.input_names) - set(graph_inputs))
                         | (set(self.output_names) - set(graph_outputs)))
        if missing:
            raise ModelFileError(f"{source}: metadata names {missing} the graph lacks")

    # --- can the daemon play it? -----------------------------------------------------------------
    def unplayable_reason(self) -> str | None:
        """None when this build can play the model (its runner kind and tokenizer are known),
        else why not, in words."""
        if self.kind not in KINDS:
            return f"model kind {self.kind!r} is not one of {KINDS}"
        try:
            tokenizers.factory_for(self.tokenizer)
        except tokenizers.UnknownTokenizerError as exc:
            return str(exc)
        return None

    def playable(self) -> bool:
        return self.unplayable_reason() is None

    def check_playable(self, source: str) -> None:
        reason = self.unplayable_reason()
        if reason is not None:
            raise ModelFileError(f"{source}: {reason}")

    # --- JSON -----------------------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str) -> ModelInfo:
        """Parses and checks the metadata; ModelFileError names `source` and what is wrong."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelFileError(
                f"{source}: metadata '{METADATA_KEY}' is not JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise ModelFileError(f"{source}: metadata '{METADATA_KEY}' is not a JSON object")
        required = ("recipe", "kind", "tokenizer", "context_length", "inputs", "outputs")
        missing = [k for k in required if k not in data]
        if missing:
            raise ModelFileError(f"{source}: metadata lacks {', '.join(missing)}")
        if data.get("format", FORMAT_VERSION) != FORMAT_VERSION:
            raise ModelFileError(
                f"{source}: metadata format {data['format']} is not {FORMAT_VERSION}; re-export it"
            )
        kind = data["kind"]
        if kind not in KINDS:
            raise ModelFileError(f"{source}: model kind {kind!r} is not one of {KINDS}")
        if kind == RECURRENT and not data.get("states"):
            raise ModelFileError(f"{source}: a recurrent model must list its states")
        if _INPUT_ROLE[kind] not in data["inputs"] or LOGITS_OUTPUT not in data["outputs"]:
            raise ModelFileError(f"{source}: a {kind} model names inputs.{_INPUT_ROLE[kind]} and "
                                 f"outputs.{LOGITS_OUTPUT}; this one has {data['inputs']} and "
                                 f"{data['outputs']}")
        try:
            states = tuple(_state_from_json(s) for s in data.get("states", ()))
        except (KeyError, TypeError) as exc:
            raise ModelFileError(f"{source}: a state lacks input, output or shape ({exc})") from exc
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{**{k: v for k, v in data.items() if k in known}, "states": states})


def _state_from_json(state: Mapping[str, Any]) -> StateSpec:
    return StateSpec(state["input"], state["output"], tuple(int(n) for n in state["shape"]))


def build_info(recipe: str, kind: Kind, tokenizer: Mapping[str, Any], context_length: int, *,
               states: Sequence[StateSpec] = (), training: Mapping[str, Any] | None = None,
               metrics: Mapping[str, Any] | None = None) -> ModelInfo:
    """The one way to make a ModelInfo: the tensor names come from this module.

    kind "recurrent" needs its states (e.g. lstm_states([256, 256])); "window" has none.
    """
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {KINDS}")
    if (kind == RECURRENT) != bool(states):
        raise ValueError(f"a {kind} model has {'states' if kind == RECURRENT else 'no states'}")
    return ModelInfo(recipe=recipe, kind=kind, tokenizer=dict(tokenizer),
                     context_length=int(context_length),
                     inputs={_INPUT_ROLE[kind]: _INPUT_ROLE[kind]},
                     outputs={LOGITS_OUTPUT: LOGITS_OUTPUT}, states=tuple(states),
                     training=dict(training or {}), metrics=dict(metrics or {}))


def read_info(metadata: Mapping[str, str], source: str) -> ModelInfo:
    """A model file's metadata map (onnxruntime's custom_metadata_map) -> checked ModelInfo."""
    if METADATA_KEY not in metadata:
        raise ModelFileError(f"{source}: ONNX model has no '{METADATA_KEY}' metadata; export it "
                             "with `improvd export`")
    return ModelInfo.from_json(metadata[METADATA_KEY], source)


def set_metadata_props(model_proto, info: ModelInfo) -> None:
    """Stores `info` in an onnx ModelProto's metadata_props, replacing an older entry."""
    keep = [p for p in model_proto.metadata_props if p.key != METADATA_KEY]
    del model_proto.metadata_props[:]
    model_proto.metadata_props.extend(keep)
    entry = model_proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, info.to_json()
