"""Program Change n: swap in the n-th model (by file name) of the folder of model.path, without
closing the ports. The daemon's main thread does the loading (an onnxruntime session takes
tens of milliseconds to a second), then hands the model to the engine the way SIGHUP's reload
does: between two events, the answer in progress released, nothing left sounding."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path

from .errors import CommandError

log = logging.getLogger(__name__)


def models_in(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.onnx"))


def switch_model(engine, program: int, load_model: Callable) -> None:
    """load_model(config) -> a warmed-up runner, or CommandError (then nothing changes)."""
    config = engine.config  # with the live controls' changes, which the switch keeps
    folder = Path(config.model.path).parent
    models = models_in(folder)
    if program < len(models) and models[program].resolve() == Path(config.model.path).resolve():
        log.info("program %d: already playing %s", program, models[program].name)
        return
    if program >= len(models):
        log.warning("program %d: %s holds %d models (programs 0..%d); keeping %s", program,
                    folder, len(models), len(models) - 1, Path(config.model.path).name)
        return
    new = dataclasses.replace(config, model=dataclasses.replace(config.model,
                                                                path=str(models[program])))
    try:
        runner = load_model(new)
    except CommandError as exc:
        log.error("program %d: could not load %s, keeping %s: %s", program, models[program].name,
                  Path(config.model.path).name, exc)
        return
    engine.reload(new, runner)
    log.info("program %d: now playing model %s", program, models[program].name)
