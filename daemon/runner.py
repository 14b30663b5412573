"""Runs an exported model with onnxruntime: one token in, next-token logits out.

OnnxRecurrentRunner carries the recurrent state between calls, so each event costs one small
step (O(1)), never a re-run of the context window. OnnxWindowRunner serves window models on their
last N tokens. Both load the artifact contract from the file's metadata and refuse a file that
does not meet it, naming the file and the problem.
"""

from __future__ import annotations

import logging
from collections import deque
from pathlib import Path

import numpy as np
import onnxruntime as ort

from . import tokenizers
from .artifact import RECURRENT, WINDOW, ModelFileError, ModelInfo, read_info

log = logging.getLogger(__name__)


def cuda_usable() -> bool:
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return False
    # The provider is compiled in; it still needs a driver and a device at run time.
    return Path("/proc/driver/nvidia/version").exists() or Path("/dev/nvidia0").exists()


def choose_providers(provider: str) -> list[str]:
    if provider == "cuda":
        if cuda_usable():
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
        log.warning("CUDA was asked for but is not usable here; running on the CPU")
    return ["CPUExecutionProvider"]


def open_session(path: str | Path, provider: str = "cpu", threads: int = 1):
    """-> (InferenceSession, ModelInfo). Raises ModelFileError for any unusable file."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    options = ort.SessionOptions()
    # One thread: at batch 1 a small model is fastest without cross-thread hand-offs.
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(path), options, providers=choose_providers(provider))
    except Exception as exc:  # onnxruntime raises several unrelated types for bad files
        raise ModelFileError(f"{path}: not a loadable ONNX model ({exc})") from exc
    info = read_info(session.get_modelmeta().custom_metadata_map, str(path))
    info.check_graph([i.name for i in session.get_inputs()],
                     [o.name for o in session.get_outputs()], str(path))
    return session, info


class Runner:
    """What the engine plays: tokenizer, vocab_size, advance(token) -> the logits for the next
    token (also kept in .logits), steps, reset(). The ONNX runners below implement it, and so can
    stand-ins that are not models (baselines)."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.vocab_size = tokenizer.vocab_size
        self.reset()

    def reset(self) -> None:
        self.logits = np.zeros(self.vocab_size, dtype=np.float32)
        self.steps = 0

    def advance(self, token: int) -> np.ndarray:
        raise NotImplementedError


class OnnxRunner(Runner):
    """A Runner over an exported model: its session, and the ModelInfo it was loaded with."""

    def __init__(self, session, info: ModelInfo):
        self.session = session
        self.info = info
        super().__init__(tokenizers.from_spec(info.tokenizer))


class OnnxRecurrentRunner(OnnxRunner):
    """One token plus each layer's state in, logits plus new state out."""

    def __init__(self, session, info: ModelInfo):
        self._token_name, *self._state_names = info.input_names
        self._out_names = info.output_names
        self._token = np.zeros((1, 1), dtype=np.int32)
        super().__init__(session, info)

    def reset(self) -> None:
        super().reset()
        self.state = [np.zeros(s.shape, dtype=np.float32) for s in self.info.states]

    def advance(self, token: int) -> np.ndarray:
        """Feed one token; returns (and keeps) the logits for the next one."""
        self._token[0, 0] = token
        feed = {self._token_name: self._token, **dict(zip(self._state_names, self.state))}
        logits, *self.state = self.session.run(self._out_names, feed)
        self.logits = logits.reshape(-1)
        self.steps += 1
        return self.logits


class OnnxWindowRunner(OnnxRunner):
    """Runs on the last `context_length` tokens; each call re-reads the window (cost grows
    with N)."""

    def __init__(self, session, info: ModelInfo):
        (self._in_name,), (self._out_name,) = info.input_names, info.output_names
        super().__init__(session, info)

    def reset(self) -> None:
        super().reset()
        self.window: deque[int] = deque(maxlen=self.info.context_length)

    def advance(self, token: int) -> np.ndarray:
        self.window.append(token)
        tokens = np.asarray(self.window, dtype=np.int32)[None, :]
        (logits,) = self.session.run([self._out_name], {self._in_name: tokens})
        self.logits = logits.reshape(-1, self.vocab_size)[-1]
        self.steps += 1
        return self.logits


RUNNERS: dict[str, type[OnnxRunner]] = {
    RECURRENT: OnnxRecurrentRunner, WINDOW: OnnxWindowRunner}


def load_runner(path: str | Path, provider: str = "cpu", threads: int = 1) -> OnnxRunner:
    """-> the runner for the model's kind; ModelFileError if this build cannot play it."""
    session, info = open_session(path, provider, threads)
    info.check_playable(str(path))
    return RUNNERS[info.kind](session, info)
