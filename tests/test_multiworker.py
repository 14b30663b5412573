"""`improvd train --strategy multiworker` for real: two worker processes on this machine, found
through TF_CONFIG, train one tiny run together; the chief's run directory has the checkpoint
format of a one-process run and export reads it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from improvd.training.driver import load_trained
from improvd.training.recipes import recipe
from improvd.training.run_dir import epochs_done
from improvd.training.train import read_history

pytestmark = pytest.mark.slow

TRAIN = """
import sys
from improvd.daemon.__main__ import main
sys.exit(main(["train", "--size", "tiny", "--strategy", "multiworker", "--epochs", "1",
               "--steps", "2", "--out", sys.argv[1]]))
"""


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_train_one_run_to_the_usual_checkpoints(tmp_path):
    run = tmp_path / "run"
    cluster = {"worker": [f"localhost:{p}" for p in free_ports(2)]}
    workers = []
    for index in range(2):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
               "TF_CONFIG": json.dumps({"cluster": cluster,
                                        "task": {"type": "worker", "index": index}})}
        workers.append(subprocess.Popen([sys.executable, "-c", TRAIN, str(run)], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True))
    for worker in workers:
        _, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err[-3000:]
    info = json.loads((run / "run.json").read_text())
    assert info["strategy"] == "multiworker" and info["replicas"] == 2
    assert info["training"]["epochs"] == 1 and epochs_done(run) == 1
    history = read_history(run)
    assert len(history["loss"]) == 1 and 0 < history["val_loss"][0] < 10
    # The chief's checkpoint loads into the recipe's model as any other run's does.
    config, model, _ = load_trained(recipe("performance-lstm"), run)
    assert config.units == 32 and model.count_params() == info["parameters"]
    assert not [p for p in tmp_path.iterdir() if p != run]  # the other worker kept nothing here
