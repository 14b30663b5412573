"""The artifact contract: what an exported .onnx file must carry for the daemon to run it.

metadata_props["improvd"] is JSON:
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
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

METADATA_KEY = "improvd"
FORMAT_VERSION = 1
KINDS = ("recurrent", "window")


class ModelFileError(ValueError):
    """A model file that cannot be used, with the file named in the message."""


@dataclass(frozen=True)
class ModelInfo:
    recipe: str
    kind: str
    tokenizer: dict[str, Any]
    context_length: int
    inputs: dict[str, str]
    outputs: dict[str, str]
    states: list[dict[str, Any]] = field(default_factory=list)
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    format: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str) -> "ModelInfo":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelFileError(f"{source}: metadata '{METADATA_KEY}' is not JSON ({exc})") from exc
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
        if data["kind"] not in KINDS:
            raise ModelFileError(f"{source}: model kind {data['kind']!r} is not one of {KINDS}")
        if data["kind"] == "recurrent" and not data.get("states"):
            raise ModelFileError(f"{source}: a recurrent model must list its states")
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})
