"""Figure 4: training throughput (tokens/s) of the default recipe, performance-lstm at its default
size, on this machine's CPU, for a fixed number of optimizer steps on real windows of music.

The model, loss and optimizer are the recipe's own (build + compile_model); the windows come from
the default source's train split (bench/data.py; quick mode: a few pieces). The first steps trace
and compile the graph, so they are timed apart and left out. A GPU is used only when TensorFlow
sees one; here the figure says so rather than giving a number.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from . import common, data

log = logging.getLogger(__name__)

NAME = "training_throughput"
WARMUP_STEPS = 2


def run(quick: bool = False, results_dir: Path = common.RESULTS_DIR) -> dict:
    import keras
    import tensorflow as tf

    from improvd.training import dataset
    from improvd.training.recipes import performance_lstm as recipe

    from improvd.training.recipes import load_config

    steps = 2 if quick else 20
    # The recipe's default size, as `make train-default` trains it; the quick mode only checks
    # the harness, with the CI size (tracing the default graph alone takes half a minute here).
    size = "tiny" if quick else "default"
    config = load_config(recipe.NAME, size, recipe.Config)
    seqs, source = data.splits(config, quick)
    windows = dataset.make_windows(seqs["train"], config.window, config.stride)
    if len(windows) == 0:
        raise RuntimeError(f"{source}: no training window of {config.window + 1} tokens")
    train = dataset.to_tf_dataset(windows, config.batch_size, shuffle=True, seed=0).repeat()
    keras.utils.set_random_seed(config.seed)
    model = recipe.build(config)
    recipe.compile_model(model, config)

    step_s: list[float] = []

    class StepTimer(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.began = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            step_s.append(time.perf_counter() - self.began)

    started = time.perf_counter()
    history = model.fit(train, epochs=1, steps_per_epoch=WARMUP_STEPS + steps, verbose=0,
                        shuffle=False, callbacks=[StepTimer()])  # the dataset shuffles
    wall_s = time.perf_counter() - started
    measured = step_s[WARMUP_STEPS:]
    tokens_per_step = config.batch_size * config.window
    rate = tokens_per_step * len(measured) / sum(measured)
    per_step = common.stats(measured)
    gpus = tf.config.list_physical_devices("GPU")
    figures = [
        common.figure(f"4. training throughput, CPU (performance-lstm {size} size)", rate,
                      "tokens/s", "report only", None,
                      f"{len(measured)} steps of {config.batch_size}x{config.window} tokens, "
                      f"median step {per_step['p50']:.2f} s"),
        common.figure("4. training throughput, GPU",
                      "no GPU available" if not gpus else None, "", "report only", None,
                      "TensorFlow sees no GPU on this machine" if not gpus
                      else f"{len(gpus)} GPU(s) seen but not timed by this benchmark"),
    ]
    details = {
        "size": size, "data": source, "train_windows": int(len(windows)),
        "config": {k: getattr(config, k) for k in ("layers", "units", "embed_dim", "window",
                                                   "batch_size", "learning_rate")},
        "tokens_per_step": tokens_per_step, "warmup_steps_s": step_s[:WARMUP_STEPS],
        "step_s": per_step, "tokens_per_s": rate,
        "tokens_per_s_median_step": tokens_per_step / float(np.median(measured)),
        "wall_s_including_tracing": wall_s, "final_loss": float(history.history["loss"][-1]),
        "gpu": "no GPU available" if not gpus else [g.name for g in gpus],
        "tensorflow": tf.__version__,
    }
    out = common.result(NAME, quick, figures, details)
    common.write_result(NAME, out, results_dir)
    return out
