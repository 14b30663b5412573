# improvd: the two Quick start commands are `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# Quiet, and no "a new pip is available" notice: the packaging itself gives no warnings to hide.
PIP_INSTALL := $(PIP) install -q --disable-pip-version-check
APT_PACKAGES := jackd2 fluidsynth fluid-soundfont-gm jack-tools python3-venv

.PHONY: run test demo system-deps venv-runtime venv-full train-default bench clean

# Debian packages: JACK (MIDI ports on a machine with no sound card), fluidsynth (a real synth
# for the end-to-end test) and python3-venv (Debian's python3 has no venv without it). Skipped
# when already there; needs root or sudo otherwise.
system-deps:
	@if ! command -v jackd >/dev/null || ! command -v fluidsynth >/dev/null || ! command -v jack_lsp >/dev/null \
		|| ! python3 -c "import ensurepip" 2>/dev/null; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends $(APT_PACKAGES); \
	fi

$(PY):
	@echo "creating the virtual environment $(VENV)"
	@python3 -m venv $(VENV)
	@$(PIP_INSTALL) --upgrade pip

# The daemon alone: numpy, mido, python-rtmidi, onnxruntime. No TensorFlow, no music21.
# A regular install (rebuilt from this folder each time, a few seconds): an editable one of this
# layout (daemon/ installed as improvd.daemon) makes setuptools print a notice box every time.
# The tests need the editable install: `make test` makes it again.
venv-runtime: $(PY)
	@echo "installing improvd (runtime) into $(VENV)"
	@$(PIP_INSTALL) .

# Everything: training (TensorFlow, tf2onnx, music21) and tests.
venv-full: $(PY)
	@echo "installing improvd with training and test dependencies into $(VENV)"
	@$(PIP_INSTALL) -e ".[train,test]"

run: system-deps venv-runtime
	$(VENV)/bin/python contrib/run_with_jack.py $(VENV)/bin/improvd run $(ARGS)

# No keyboard needed: built-in phrases answered, written as MIDI, WAV and piano rolls.
demo: system-deps $(PY)
	@echo "installing improvd with matplotlib (piano rolls) into $(VENV)"
	@$(PIP_INSTALL) ".[plot]"
	$(VENV)/bin/improvd demo $(ARGS)

# The import contracts first (pyproject [tool.importlinter]: layers, no training stack in the
# daemon), then the tests.
test: system-deps venv-full
	$(VENV)/bin/lint-imports
	$(VENV)/bin/python -m pytest -q $(PYTEST_ARGS)

# Retrains the shipped model (see models/default.md for the figures of the shipped run).
train-default: venv-full
	$(VENV)/bin/improvd train --recipe performance-lstm --size default --out runs/default
	$(VENV)/bin/improvd export --run runs/default --out models/default.onnx --quantize --card models/default.md

bench: system-deps venv-full
	$(VENV)/bin/python -m bench

clean:
	rm -rf runs .cache .pytest_cache
