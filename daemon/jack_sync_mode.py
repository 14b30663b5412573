"""Whether the JACK server the daemon uses runs synchronously (`jackd -S`), said once at start.

Why it matters: on JACK2's default asynchronous server a client still reading its input when the
next cycle starts finds the buffer rewritten under it, and python-rtmidi's JACK input (RtMidi,
which does not check jack_midi_event_get) then reads an event that is not there and crashes the
daemon; a machine busy enough to make a cycle run late does it (bench/stalled_reader.py: dead
within a minute asynchronous, alive synchronous). No libjack call tells a client the mode, so it
is read where the server was started from: a local jackd's command line (/proc), or jackdbus's
settings file (QjackCtl, Cadence, Studio Controls). A server started some other way (PipeWire's
JACK, another machine's, another user's jackdbus) is not known: then nothing is said.
"""

from __future__ import annotations

import logging
import os
import xml.etree.ElementTree as ET
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_SERVER = "default"
# jackd's server options that take no value: a cluster of them ("-RS") may hold -S.
_FLAGS = set("RrSsTuvm")
_HINT = ("start it as `jackd -S ...` (QjackCtl, Cadence: tick Synchronous mode; jackdbus: "
         "`jack_control eps sync true`)")


def server_name(env=os.environ) -> str:
    return env.get("JACK_DEFAULT_SERVER") or DEFAULT_SERVER


def jackd_synchronous(argv: list[str]) -> tuple[str, bool]:
    """(server name, -S given) from a jackd command line; its server options come before the
    driver's (-d/--driver)."""
    name, sync, k = DEFAULT_SERVER, False, 1
    while k < len(argv):
        arg = argv[k]
        if arg in ("-d", "--driver") or arg.startswith(("-d", "--driver=")):
            break
        if arg in ("-n", "--name") and k + 1 < len(argv):
            name, k = argv[k + 1], k + 1
        elif arg.startswith("--name="):
            name = arg.split("=", 1)[1]
        elif arg.startswith("-n") and not arg.startswith("--"):
            name = arg[2:]
        elif arg == "--sync" or (arg.startswith("-") and not arg.startswith("--")
                                 and len(arg) > 1 and set(arg[1:]) <= _FLAGS and "S" in arg):
            sync = True
        k += 1
    return name, sync


def jackdbus_synchronous(settings: Path) -> bool:
    """jackdbus's engine option "sync" in its settings file (false when not set: JACK's own
    default)."""
    try:
        root = ET.parse(settings).getroot()
    except (OSError, ET.ParseError):
        return False
    for option in root.iterfind("./engine/option"):
        if option.get("name") == "sync":
            return (option.text or "").strip().lower() == "true"
    return False


def _command_lines(proc: Path):
    """argv of each process whose command line can be read."""
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "cmdline").read_bytes()
        except OSError:  # gone, or not ours to read
            continue
        argv = [a.decode(errors="replace") for a in raw.split(b"\0") if a]
        if argv:
            yield argv


def server_synchronous(name: str, proc: Path = Path("/proc"),
                       home: Path | None = None) -> bool | None:
    """True or False where the server named `name` was found started here; None otherwise."""
    if not proc.is_dir():
        return None
    for argv in _command_lines(proc):
        program = Path(argv[0]).name
        if program == "jackd":
            found, sync = jackd_synchronous(argv)
            if found == name:
                return sync
        elif program == "jackdbus" and name == DEFAULT_SERVER:
            return jackdbus_synchronous((home or Path.home()) / ".config/jack/conf.xml")
    return None


def check(env=os.environ, proc: Path = Path("/proc")) -> bool | None:
    """One warning when the server runs asynchronously; the mode found (None: not known)."""
    name = server_name(env)
    sync = server_synchronous(name, proc)
    if sync is False:
        log.warning("the JACK server %r runs asynchronously: the MIDI library's JACK input can "
                    "crash the daemon when a cycle runs late; %s", name, _HINT)
    elif sync is None:
        log.debug("the JACK server %r was not started here by jackd or jackdbus: its mode is not "
                  "known", name)
    return sync
