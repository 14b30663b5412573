"""`improvd run --synth`: fluidsynth with a General MIDI soundfont, started with the daemon.

    synth = Synth.start(config.synth, config.midi, backend)   # None where no audio can be heard
    ...MidiOutput(..., connect=[*midi.connect_output, synth.port])
    synth.stop()

fluidsynth takes its MIDI from the backend the daemon uses (JACK MIDI, or the ALSA sequencer) and
plays on JACK when the daemon is on JACK, else on PulseAudio / PipeWire / ALSA. Programs are set
through fluidsynth's own shell on its standard input ("prog CHANNEL PROGRAM"): the answer's
program on the output channel, the player's on every other channel, which is where the notes of
midi.thru arrive. Its output goes to a log file, never to a pipe nobody reads.

A machine with no audio device (a server, CI) has no way to hear the synth: start() says so and
returns None rather than starting a fluidsynth that fails or waits for a device.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from .jackd import die_with_parent, end_process, unique

log = logging.getLogger(__name__)

# Where Debian/Ubuntu (fluid-soundfont-gm), Fedora and Arch put soundfonts, and the user's own.
SOUNDFONT_DIRS = ("/usr/share/sounds/sf2", "/usr/share/soundfonts", "/usr/share/sounds/sf3",
                  "/usr/local/share/soundfonts", "~/.local/share/soundfonts")
PREFERRED = ("FluidR3_GM.sf2", "default-GM.sf2", "FluidR3_GM.sf3", "TimGM6mb.sf2")
PACKAGE_HINT = ("install the General MIDI soundfont (Debian/Ubuntu: apt-get install "
                "fluid-soundfont-gm) or set synth.soundfont to an .sf2 file")
START_TIMEOUT_S = 20.0


class SynthError(RuntimeError):
    """fluidsynth or a soundfont is missing, or fluidsynth did not start; says what to do."""


def find_soundfont(explicit: str = "", dirs=SOUNDFONT_DIRS) -> Path:
    """The soundfont to use: `explicit` when given, else a General MIDI one found on the system."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise SynthError(f"synth.soundfont {path}: no such file")
        return path
    found = [Path(p) for d in dirs for p in sorted(glob.glob(os.path.join(
        os.path.expanduser(d), "*.sf[23]")))]
    for name in PREFERRED:
        for path in found:
            if path.name == name:
                return path
    gm = [p for p in found if "gm" in p.name.lower()]
    if gm:
        return gm[0]
    raise SynthError(f"no General MIDI soundfont in {', '.join(dirs)}: {PACKAGE_HINT}")


def sound_card() -> bool:
    """Whether this machine has an ALSA playback device."""
    return bool(glob.glob("/dev/snd/pcmC*D*p"))


def audio_driver(midi_backend: str) -> str | None:
    """fluidsynth's audio driver for this machine, or None when nothing could be heard."""
    if midi_backend == "jack":
        return "jack"  # the JACK server routes the audio (to its device, or to a recorder)
    runtime = os.environ.get("XDG_RUNTIME_DIR", f"/run/user/{os.getuid()}")
    if os.path.exists(os.path.join(runtime, "pipewire-0")):
        return "pipewire"
    if os.path.exists(os.path.join(runtime, "pulse", "native")):
        return "pulseaudio"
    return "alsa" if sound_card() else None


def programs(answer_program: int, player_program: int, answer_channel: int) -> list[str]:
    """fluidsynth shell commands: General MIDI programs 1..128 -> fluidsynth's 0..127, the
    answer's on its channel (1..16) and the player's on all the others."""
    return [f"prog {ch} {(answer_program if ch == answer_channel - 1 else player_program) - 1}"
            for ch in range(16)]


class Synth:
    def __init__(self, process: subprocess.Popen, port: str, name: str, log_file):
        self.process = process
        self.port = port  # what the daemon's output connects to (a part of the port's name)
        self.name = name
        self._log = log_file

    @classmethod
    def start(cls, synth_config, midi_config, backend: str) -> Synth | None:
        """Start fluidsynth and wait for its MIDI input; None (and a warning) without audio."""
        if not shutil.which("fluidsynth"):
            raise SynthError("--synth needs fluidsynth (Debian/Ubuntu: apt-get install "
                             "fluidsynth fluid-soundfont-gm)")
        soundfont = find_soundfont(synth_config.soundfont)
        driver = audio_driver(backend)
        if driver is None:
            log.warning("no audio device here (no sound card, PipeWire, PulseAudio or JACK): "
                        "--synth renders nothing; connect the output to a synth elsewhere")
            return None
        if driver == "jack" and not sound_card():
            log.warning("no sound card here: --synth plays into JACK, where a recorder (jack_rec) "
                        "can take it, but nothing is heard")
        if backend not in ("jack", "alsa"):
            raise SynthError(f"--synth plays through JACK or the ALSA sequencer, not {backend}")
        name = unique(f"{midi_config.client_name}-synth")
        midi_driver = "jack" if backend == "jack" else "alsa_seq"
        cmd = ["fluidsynth", "-a", driver, "-m", midi_driver, "-g", str(synth_config.gain),
               "-o", f"midi.{midi_driver}.id={name}", "-o", f"audio.jack.id={name}",
               "-o", "audio.jack.autoconnect=1", str(soundfont)]
        log_file = tempfile.TemporaryFile("w+")  # noqa: SIM115 - lives as long as the synth
        # Its own process group: a terminal's Ctrl-C reaches the daemon, which stops it after
        # the last note-offs. die_with_parent: a killed daemon leaves no synth behind.
        process = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=log_file,
                                   stderr=subprocess.STDOUT, text=True, process_group=0,
                                   preexec_fn=die_with_parent)  # noqa: PLW1509
        synth = cls(process, f"{name}:midi" if backend == "jack" else name, name, log_file)
        try:
            synth._wait_for_port(backend)
            synth._command(programs(synth_config.answer_program, synth_config.player_program,
                                    midi_config.output_channel))
        except BaseException:
            synth.stop()
            raise
        log.info("fluidsynth %s playing through %s (%s; programs %d answer, %d player)", name,
                 driver, soundfont.name, synth_config.answer_program,
                 synth_config.player_program)
        return synth

    def _wait_for_port(self, backend: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._port_there(backend):
            if self.process.poll() is not None:
                raise SynthError(f"fluidsynth exited with status {self.process.returncode}:\n"
                                 f"{self.output()[-1500:].strip()}")
            if time.monotonic() > deadline:
                raise SynthError(f"fluidsynth's MIDI input did not appear within "
                                 f"{START_TIMEOUT_S:.0f} s:\n{self.output()[-1500:].strip()}")
            time.sleep(0.05)

    def _port_there(self, backend: str) -> bool:
        if backend == "jack":
            from . import jack

            try:
                with jack.session("improvd-synth-probe") as server:
                    return bool(server.port_names(f"^{self.name}:midi"))
            except OSError:
                return False
        from .ports import list_ports

        return any(self.name in p for p in list_ports("alsa")["alsa"]["outputs"])

    def _command(self, lines: list[str]) -> None:
        self.process.stdin.write("".join(line + "\n" for line in lines))
        self.process.stdin.flush()

    def output(self) -> str:
        self._log.seek(0)
        return self._log.read()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Quit fluidsynth (the end of its shell's input), by its PID if it does not."""
        if self.process.poll() is None:
            try:
                self.process.stdin.close()
            except OSError:
                pass
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                end_process(self.process, timeout_s)
        self._log.close()
