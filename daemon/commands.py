"""Daemon subcommands: `improvd run` (the live daemon) and `improvd ports` (what MIDI ports exist).

Only argparse at import time: `improvd --help` must not load onnxruntime, let alone TensorFlow.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from .errors import CommandError

log = logging.getLogger(__name__)

DEFAULT_CONFIG = "config.toml"

# CLI flag (argparse dest) -> config key; None values mean "not given".
_OVERRIDES = {
    "model": "model.path", "provider": "model.provider", "client_name": "midi.client_name",
    "backend": "midi.backend", "connect_input": "midi.connect_input",
    "connect_output": "midi.connect_output", "input_channel": "midi.input_channels",
    "output_channel": "midi.output_channel", "thru": "midi.thru",
    "silence_ms": "policy.silence_ms", "response": "policy.response",
    "barge_in": "policy.barge_in", "temperature": "sampling.temperature",
    "missing_ports": "midi.missing_ports",
    "top_p": "sampling.top_p", "seed": "sampling.seed", "log_level": "log.level",
    "synth": "synth.enabled", "record": "record.dir",
}
# Port settings are read once, when the ports open; a reload cannot change them.
_PORT_KEYS = ("backend", "client_name", "input_name", "output_name", "virtual",
              "connect_input", "connect_output", "missing_ports")


def _response(text: str):
    if text == "call":
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'call' or a number of seconds, not {text!r}") from None


def register(sub) -> None:
    run = sub.add_parser("run", help="listen on a MIDI input and answer each phrase live",
                         description="Listen on a MIDI input port and answer each phrase "
                                     "(call) with a continuation on a MIDI output port.")
    run.add_argument("--config", help=f"settings file (default: ./{DEFAULT_CONFIG} when present, "
                                      "else the built-in defaults)")
    run.add_argument("--model", help="an .onnx model exported by `improvd export`")
    run.add_argument("--provider", choices=("cpu", "cuda"))
    run.add_argument("--client-name", help="the name other programs see (default improvd)")
    run.add_argument("--backend", choices=("auto", "alsa", "jack", "coremidi", "winmm"))
    run.add_argument("--connect-input", action="append", metavar="PORT",
                     help="connect the input to the port whose name contains PORT (repeatable)")
    run.add_argument("--connect-output", action="append", metavar="PORT",
                     help="connect the output to the port whose name contains PORT (repeatable)")
    run.add_argument("--wait-for-ports", dest="missing_ports", action="store_const",
                     const="wait", help="wait for a JACK server or a --connect-* port that is "
                     "not there yet instead of exiting")
    run.add_argument("--input-channel", action="append", type=int, metavar="N",
                     help="listen to MIDI channel N only, 1..16 (repeatable; default all)")
    run.add_argument("--output-channel", type=int, metavar="N", help="answer on channel N, 1..16")
    run.add_argument("--thru", action="store_true", default=None,
                     help="also forward what the player plays to the output")
    run.add_argument("--silence-ms", type=int, help="silence that ends a call (ms)")
    run.add_argument("--response", type=_response, help="'call' or a fixed length in seconds")
    run.add_argument("--barge-in", choices=("stop", "continue"))
    run.add_argument("--temperature", type=float)
    run.add_argument("--top-p", type=float)
    run.add_argument("--seed", type=int, help="make answers repeatable (-1 = random)")
    run.add_argument("--log-level", choices=("debug", "info", "warning", "error"))
    run.add_argument("--synth", action="store_true", default=None,
                     help="start fluidsynth with a General MIDI soundfont and play through it "
                          "(with --thru the player's notes too); see [synth] in config.toml")
    run.add_argument("--record", metavar="DIR",
                     help="write every call and answer of the session to a MIDI file in DIR")
    run.add_argument("--metrics", metavar="FILE",
                     help="append the engine's timing measurements to FILE (JSON lines on the "
                          "monotonic clock; for benchmarks)")
    run.add_argument("--check", action="store_true",
                     help="load the settings and the model, time a few steps, and exit")
    run.set_defaults(handler=run_command)

    ports = sub.add_parser("ports", help="list the MIDI ports of each backend")
    ports.add_argument("--backend", choices=("auto", "alsa", "jack", "coremidi", "winmm"),
                       help="only this backend (default: every one that answers)")
    ports.set_defaults(handler=ports_command)


def load_config(args):
    """Settings file + command-line flags -> Config; errors become CommandError."""
    from .config import ConfigError, load

    path = args.config
    if path is None and Path(DEFAULT_CONFIG).is_file():
        path = DEFAULT_CONFIG
    flags = {key: getattr(args, dest, None) for dest, key in _OVERRIDES.items()}
    try:
        return load(path).with_overrides(**flags)
    except ConfigError as exc:
        raise CommandError(str(exc)) from None


def load_model(config):
    """-> a runner that is warmed up (the first onnxruntime step is slow); CommandError if bad."""
    from .artifact import ModelFileError
    from .runner import load_runner

    if not Path(config.model.path).is_file():
        raise CommandError(f"{config.model.path}: no such model file (set model.path in the "
                           "config or pass --model; `make train-default` builds the default one)")
    try:
        runner = load_runner(config.model.path, config.model.provider, config.model.threads)
    except ModelFileError as exc:  # load_runner asked the model's ModelInfo if we can play it
        raise CommandError(str(exc)) from None
    runner.advance(0)
    runner.reset()
    return runner


def _set_log_level(args, config) -> None:
    names = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
             "error": logging.ERROR}
    level = names[config.log.level]
    if getattr(args, "verbose", 0) >= 2:
        level = logging.DEBUG
    logging.getLogger().setLevel(level)


def run_command(args) -> int:
    import time

    config = load_config(args)
    _set_log_level(args, config)
    started = time.monotonic()
    runner = load_model(config)
    info = runner.info
    log.info("model %s (%s, %s) loaded in %.2f s", config.model.path, info.recipe, info.kind,
             time.monotonic() - started)
    if args.check:
        return _check(config, runner)
    return serve(args, config, runner)


def _check(config, runner) -> int:
    import time

    steps = 200
    started = time.perf_counter()
    for i in range(steps):
        tok = runner.tokenizer
        runner.advance(tok.time_shift(1 + i % 10) if tok.time_shifts else i % runner.vocab_size)
    per_step = (time.perf_counter() - started) / steps
    print(f"config ok; model {config.model.path}: {runner.info.recipe} ({runner.info.kind}), "
          f"{per_step * 1000:.3f} ms per step")
    return 0


def serve(args, config, runner) -> int:
    """Open the ports, run the engine until SIGINT/SIGTERM; SIGHUP reloads settings and model."""
    import signal
    import sys
    import threading

    from . import jack_sync_mode, ports, realtime, supervisor
    from .companions import Companions
    from .engine import Engine
    from .metrics import EngineMetrics, MetricsFile
    from .program_change import switch_model
    from .sd_notify import Notifier

    midi = config.midi
    midi_in = midi_out = clock_in = extras = watch = None
    metrics = MetricsFile(args.metrics) if args.metrics else EngineMetrics()
    stopping, reload_asked, wake = threading.Event(), threading.Event(), threading.Event()
    wait = midi.missing_ports == "wait"
    realtime.configure(config.realtime.priority, config.realtime.lock_memory)
    try:
        backend = supervisor.choose_backend(midi.backend, wait)
        if backend == "jack":
            jack_sync_mode.check()  # a warning on an asynchronous server, where it can tell
        extras = Companions.start_synth(config, backend)  # synth, recorder, status line
        midi_out = ports.MidiOutput(backend, midi.client_name, midi.output_name,
                                    virtual=midi.virtual,
                                    connect=[*midi.connect_output, *extras.connect_output],
                                    wait_for_missing=wait)
        engine = Engine(config, runner, midi_out, metrics=metrics)
        midi_in = ports.MidiInput(backend, midi.client_name, midi.input_name, virtual=midi.virtual,
                                  connect=list(midi.connect_input), wait_for_missing=wait,
                                  callback=extras.attach(engine),
                                  clock=config.clock.source == "input" or extras.wants_clock,
                                  busy=engine.wants_prompt_input)
        if config.clock.source == "port":  # the DAW's clock on a port of its own
            clock_in = ports.MidiInput(backend, f"{midi.client_name}-clock", "in",
                                       connect=list(config.clock.connect),
                                       callback=engine.sync.take_from_port, clock=True,
                                       busy=engine.wants_prompt_input)
        watch = supervisor.watch(backend, midi.client_name, wake)
    except BaseException as exc:
        metrics.close()
        for port in (midi_in, clock_in, midi_out):  # leave no half-open client behind
            if port is not None:
                port.close()
        if extras is not None:
            extras.close()
        if isinstance(exc, ports.PortError):
            raise CommandError(str(exc)) from None
        raise
    duties = supervisor.Supervisor(midi, midi_in, midi_out, engine, Notifier(), watch)
    programs: list[int] = []  # Program Changes, loaded here: the engine thread never waits

    def on_program(number):
        programs[:] = [number]  # a burst of Program Changes: only the last one is loaded
        wake.set()

    engine.controls.on_program = on_program

    def on_stop(signum, frame):
        stopping.set()
        wake.set()

    def on_reload(signum, frame):
        reload_asked.set()
        wake.set()

    # A thread waiting for the GIL waits up to the switch interval (5 ms by default) while the
    # engine thread generates: too long for a send due on a clock's beat or a tick's stamp.
    sys.setswitchinterval(0.0005)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGTERM, on_stop)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, on_reload)
    engine.start()
    extras.start()
    duties.start()  # listeners reset, READY=1
    realtime.settle_heap()  # what start-up made lives on: no full collection walks it again
    # The names as other programs see them (on JACK the output has a client of its own).
    log.info("listening on %s, answering on %s (%s)", midi_in.name, midi_out.name, backend)
    status = None
    try:
        while not stopping.is_set() and status is None:
            wake.wait(duties.wait_s)
            wake.clear()
            status = duties.check()  # an exit status when the backend is lost
            if reload_asked.is_set() and not stopping.is_set():
                reload_asked.clear()
                config = _reload(args, config, engine)
                realtime.settle_heap(collect=False)
            while programs and not stopping.is_set():
                switch_model(engine, programs.pop(0), load_model)
                realtime.settle_heap(collect=False)
    finally:
        log.info("stopping: releasing all notes")
        duties.notifier.send("STOPPING=1")
        midi_in.close()
        if clock_in is not None:
            clock_in.close()
        engine.stop()  # the scheduler panics: note-off for each sounding note + CC123
        midi_out.close()
        extras.close()  # after the last note-offs: recorded, and heard by the synth
        log.info("sent %d MIDI messages in all", engine.scheduler.sent)  # benchmarks count them
        if watch is not None:
            watch.close()
        metrics.close()
    return status or 0


def _reload(args, config, engine):
    """SIGHUP: new settings and model; on any error keep what runs now."""

    try:
        new = load_config(args)
        runner = load_model(new)
    except CommandError as exc:
        log.error("reload failed, keeping the running settings and model: %s", exc)
        return config
    changed = [k for k in _PORT_KEYS if getattr(new.midi, k) != getattr(config.midi, k)]
    if changed:
        log.warning("midi.%s changed: port settings apply at the next start; the ports stay open",
                    ", midi.".join(changed))
    for section in ("synth", "record"):  # started once, beside the ports
        if getattr(new, section) != getattr(config, section):
            log.warning("[%s] changed: it applies at the next start", section)
    _set_log_level(args, new)
    engine.reload(new, runner)
    return new


def ports_command(args) -> int:
    from . import ports

    try:
        backend = None if args.backend in (None, "auto") else args.backend
        listing = ports.list_ports(backend)
        if not listing:  # no backend usable: choose_backend's error says what to install/start
            ports.choose_backend("auto")
    except ports.PortError as exc:
        raise CommandError(str(exc)) from None
    for name, found in listing.items():
        print(f"{name}:")
        for direction in ("inputs", "outputs"):
            names = found.get(direction, [])
            print(f"  {direction}: " + (", ".join(names) if names else "(none)"))
    return 0
