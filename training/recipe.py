"""The recipe protocol: what varies from one model family to the next, and nothing else.

A recipe is one module in training/recipes/ with a `Recipe` subclass and a table per size in
training/configs/<name>.toml. It says:
  Config             its settings (a frozen dataclass extending TrainConfig; the TOML fills it)
  load_data(config)  sources -> split -> tokens -> windows, as a TrainingData
  build(config, vocab_size) / compile_model(model, config)     the training graph
  inference_graph(config, model)   what the daemon runs: a step graph (one token + state) or a
                                   window graph (the last N tokens), and the trained model's own
                                   logits that the exported file must reproduce
  score(config, best, last, data)  optional figures comparable with the recipe's seed
  generation(config) optional defaults of `improvd generate` (tokens, the seed's prompt)

Everything else (resume, checkpoints, history, run.json, export, parity, held-out NLL, the
model card) is done once for every recipe: training/driver.py trains, export/driver.py exports.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from improvd.daemon.artifact import StateSpec, lstm_states

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """The keys every recipe's config has: where the data comes from and how long to train.
    A recipe's Config extends it and may give these keys its own defaults."""

    source: str = ""
    limit: int = 0  # 0 = the whole source; else at most this many pieces (CI)
    valid_fraction: float = 0.1  # pieces held out, split by a hash of their names (dataset.py)
    test_fraction: float = 0.1
    batch_size: int = 32
    epochs: int = 10
    steps_per_epoch: int = 0  # 0 = one pass over the training windows
    validation_steps: int = 0  # 0 = the whole validation split
    patience: int = 3  # epochs without improvement of `monitor` before stopping
    monitor: str = "val_loss"  # what picks the best checkpoint (the one exported)
    time_limit_min: float = 0.0  # 0 = no wall-time budget
    seed: int = 0


@dataclass
class TrainingData:
    """What a recipe's data stage hands the driver."""

    tokenizer: Any  # a daemon tokenizer: its spec() goes into run.json and the model
    sequences: dict[str, list[np.ndarray]]  # "train"/"valid"/"test": unaugmented ids per piece
    train: Any  # tf.data.Dataset of (inputs, targets) batches
    valid: Any
    summary: dict[str, Any] = field(default_factory=dict)
    # True when `train` holds every epoch's batches in order (drawn once for the whole run): a
    # resumed run then skips the batches the finished epochs saw.
    whole_run: bool = False


# tokens [time] -> (positions checked, the trained model's logits [len(positions), vocab] there)
Reference = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class InferenceGraph:
    """What export converts to ONNX, and what the converted file must agree with.

    recurrent: `function([token, *states])` -> [logits, *new states], one token [1, 1] int32 and
      the state tensors `states` names (the artifact contract's StateSpec, e.g. lstm_states).
    window: `function(tokens)` -> logits, tokens [1, n] int32 with n growing up to
      context_length; logits [1, vocab] or [1, n, vocab] (the last row is the prediction).
    `reference(tokens)` gives the trained (whole-sequence or window) model's logits at the
    positions it can predict, for the parity check against the ONNX file through the runner.
    """

    kind: str
    function: Callable
    context_length: int
    reference: Reference
    states: tuple[StateSpec, ...] = ()
    parity_tokens: int = 200  # tokens of each held-out piece fed in the parity check


class Recipe:
    """Base class of every recipe; see the module docstring for what a subclass supplies."""

    name: ClassVar[str]
    Config: ClassVar[type]
    # Keys --resume takes from the chosen size's table rather than from the run being resumed.
    resume_from_table: ClassVar[tuple[str, ...]] = ()
    PARTS: ClassVar[tuple[str, ...]] = ("load_data", "build", "compile_model")

    def __init__(self, **parts: Callable):
        """parts: a recipe module's own functions for load_data, build and compile_model,
        given by keyword in place of methods (RECIPE = MyRecipe(build=build, ...))."""
        for name, function in parts.items():
            if name not in self.PARTS:
                raise TypeError(f"{type(self).__name__}: {name!r} is not a recipe part "
                                f"({', '.join(self.PARTS)})")
            setattr(self, name, function)

    def load_data(self, config) -> TrainingData:
        raise NotImplementedError

    def build(self, config, vocab_size: int):
        raise NotImplementedError

    def compile_model(self, model, config) -> None:
        raise NotImplementedError

    def inference_graph(self, config, model) -> InferenceGraph:
        raise NotImplementedError

    def score(self, config, best, last, data: TrainingData) -> dict[str, Any]:
        """Figures beyond the shared held-out NLL (e.g. the seed's own test measure)."""
        return {}

    def generation(self, config) -> dict[str, Any]:
        """What `improvd generate` does by default with the exported model, kept in its
        metadata so that generating needs no recipe module: {"tokens": how many, "prompt":
        token ids to continue when the user gives no prompt}."""
        return {}


def lstm_step_graph(step, model, context_length: int, units: list[int]) -> InferenceGraph:
    """The usual recurrent export: `step` (one token + each LSTM's h, c in and out) for a stack
    of LSTMs of `units` trained on whole sequences by `model`."""
    return InferenceGraph(kind="recurrent", function=step, context_length=context_length,
                          reference=sequence_reference(model), states=lstm_states(units))


# --- references: the trained model's logits as the daemon's runner would see them ---------------
def sequence_reference(model) -> Reference:
    """A causal whole-sequence model: one call gives the logits after every prefix."""
    def reference(tokens: np.ndarray):
        logits = np.asarray(model(np.asarray(tokens, np.int32)[None, :], training=False))[0]
        return np.arange(len(tokens)), logits

    return reference


def window_reference(last_logits: Callable, context_length: int) -> Reference:
    """A window model: the logits after each prefix from its last `context_length` tokens, as
    the window runner feeds it. `last_logits(ids [1, n])` -> logits [vocab] of the last one."""
    def reference(tokens: np.ndarray):
        tokens = np.asarray(tokens, np.int32)
        rows = [np.asarray(last_logits(tokens[max(0, end - context_length):end][None, :]))
                for end in range(1, len(tokens) + 1)]
        return np.arange(len(tokens)), np.stack(rows)

    return reference


def full_window_reference(model, context_length: int) -> Reference:
    """A model trained on whole windows only: checked after exactly one full window."""
    def reference(tokens: np.ndarray):
        if len(tokens) < context_length:
            return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
        window = np.asarray(tokens[:context_length], np.int32)[None, :]
        return np.array([context_length - 1]), np.asarray(model(window, training=False))

    return reference
