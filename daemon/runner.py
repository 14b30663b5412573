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
    """One token plus each layer's state in, logits plus new state out.

    The hot path allocates nothing: the token, the logits and two sets of state arrays are made
    once and bound to the session (IOBinding); each step reads one set and writes the other, and
    the two swap. So the logits returned are overwritten by the next step (copy them to keep
    them), and snapshot/restore (speculation.py) copy a few kB, not the model."""

    def __init__(self, session, info: ModelInfo):
        self._token_name, *self._state_names = info.input_names
        self._out_names = info.output_names
        self._token = np.zeros((1, 1), dtype=np.int32)
        super().__init__(session, info)

    def reset(self) -> None:
        super().reset()
        self._logits = np.zeros(self._logits_shape(), dtype=np.float32)
        self.logits = self._logits.reshape(-1)
        sets = [[np.zeros(s.shape, dtype=np.float32) for s in self.info.states] for _ in (0, 1)]
        self._sets = sets
        self._side = 0  # sets[_side] holds the current state
        self._bound = [self._bind(sets[0], sets[1]), self._bind(sets[1], sets[0])]

    @property
    def state(self) -> list[np.ndarray]:
        return self._sets[self._side]

    def _logits_shape(self) -> list[int]:
        """The logits output's shape at batch 1 (symbolic dimensions are 1 for one token)."""
        shape = next(o.shape for o in self.session.get_outputs() if o.name == self._out_names[0])
        return [d if isinstance(d, int) else 1 for d in shape]

    def _bind(self, state_in: list[np.ndarray], state_out: list[np.ndarray]):
        binding = self.session.io_binding()
        binding.bind_cpu_input(self._token_name, self._token)
        for name, array in zip(self._state_names, state_in, strict=True):
            binding.bind_cpu_input(name, array)
        outputs = zip(self._out_names, [self._logits, *state_out], strict=True)
        for name, array in outputs:
            binding.bind_output(name, "cpu", 0, np.float32, list(array.shape), array.ctypes.data)
        return binding

    def advance(self, token: int) -> np.ndarray:
        """Feed one token; returns (and keeps) the logits for the next one."""
        self._token[0, 0] = token
        # No RunOptions: onnxruntime 1.31 looks a missing key up in them by raising and
        # catching an error, which costs more than the LSTM step itself.
        self.session.run_with_iobinding(self._bound[self._side])
        self._side ^= 1
        self.steps += 1
        return self.logits

    def snapshot(self) -> tuple:
        """The model's state now, to restore() later (a speculative answer that was not kept)."""
        return [a.copy() for a in self.state], self.logits.copy(), self.steps

    def restore(self, snapshot: tuple) -> None:
        state, logits, self.steps = snapshot
        for mine, saved in zip(self.state, state, strict=True):
            np.copyto(mine, saved)
        np.copyto(self.logits, logits)


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
