"""The daemon process stays light: no TensorFlow, tf2onnx, Keras or music21, and a quick start."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from model_fixtures import make_random_recurrent_model

PROJECT_ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("tensorflow", "tf2onnx", "keras", "music21")

# Runs `improvd <argv>` in a fresh interpreter and reports what it imported and how long it took.
PROBE = """
import json, sys, time
started = time.perf_counter()
from improvd.daemon.__main__ import main
try:
    status = main(sys.argv[1:])
except SystemExit as exit:
    status = exit.code
print(json.dumps({"status": status, "seconds": time.perf_counter() - started,
                  "modules": sorted(sys.modules)}))
"""


def probe(*argv: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True,
                         timeout=120, cwd=PROJECT_ROOT)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def heavy(modules) -> list[str]:
    return [m for m in modules if m.split(".")[0] in HEAVY]


def test_no_daemon_module_imports_training_libraries():
    for path in sorted((PROJECT_ROOT / "daemon").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            assert not heavy(names), f"{path.name} imports {names}"


def test_improvd_help_loads_no_runtime_at_all():
    result = probe("--help")
    assert result["status"] == 0
    assert heavy(result["modules"]) == []
    assert "onnxruntime" not in result["modules"]


def test_improvd_run_loads_the_model_without_training_libraries_and_starts_quickly(tmp_path):
    model = make_random_recurrent_model(tmp_path / "random.onnx")
    result = probe("run", "--model", str(model), "--check")
    assert result["status"] == 0
    assert "onnxruntime" in result["modules"] and "improvd.daemon.runner" in result["modules"]
    assert heavy(result["modules"]) == []
    # About a second on an idle machine; the bound leaves room for a busy CI box.
    assert result["seconds"] < 10, f"improvd run took {result['seconds']:.1f} s to load"
