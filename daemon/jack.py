"""The few libjack calls python-rtmidi does not offer: probe a server, connect ports, period length.

Loaded with ctypes, so nothing is compiled and nothing is needed where JACK is not used: the
libjack python-rtmidi already loaded into the process where there is one (its wheels carry their
own copy), else the system's (Debian: libjack-jackd2-0, pulled in by jackd2). A second copy
beside rtmidi's would keep globals of its own and map the server's shared segment a second time
(measured: 210 MB of the daemon's VmRSS with two copies, 105 MB with one, at jackd's default
port-max). One copy also means one message handler: libjack's own lines, rtmidi's clients'
included, go to this log at debug level (the daemon says what failed in its own words).

A `session()` is a short-lived client that never starts a server by itself (JackNoStartServer)
and is closed at once after use.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import logging
import re
import time
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

NO_START_SERVER = 0x01
_MESSAGE_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_char_p)


@_MESSAGE_CALLBACK
def _quiet(message: bytes) -> None:
    # libjack prints "Cannot connect to server socket" for every probe of an absent server; that
    # is an expected answer here, so it goes to debug instead of the user's terminal.
    log.debug("libjack: %s", message.decode(errors="replace"))


_lib = None


_LIBJACK = re.compile(r"/libjack(-[0-9a-f]+)?\.so[.0-9]*$")  # not libjackserver, libjacknet


def loaded_libjacks() -> list[str]:
    """The paths of the libjack copies mapped into this process (Linux; [] elsewhere)."""
    try:
        maps = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return []
    paths = (fields[-1] for line in maps if len(fields := line.split()) >= 6)
    return sorted({path for path in paths if _LIBJACK.search(path)})


def _library_name() -> str:
    try:
        import rtmidi  # noqa: F401 - loads the libjack its JACK ports use
    except ImportError:
        pass
    loaded = loaded_libjacks()
    return loaded[0] if loaded else (ctypes.util.find_library("jack") or "libjack.so.0")


def library():
    """The loaded libjack, or None when JACK is not installed."""
    global _lib
    if _lib is None:
        name = _library_name()
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            return None
        lib.jack_client_open.restype = ctypes.c_void_p
        lib.jack_client_open.argtypes = [ctypes.c_char_p, ctypes.c_int,
                                         ctypes.POINTER(ctypes.c_int)]
        lib.jack_client_close.argtypes = [ctypes.c_void_p]
        lib.jack_connect.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
        lib.jack_get_buffer_size.argtypes = [ctypes.c_void_p]
        lib.jack_get_buffer_size.restype = ctypes.c_uint32
        lib.jack_get_sample_rate.argtypes = [ctypes.c_void_p]
        lib.jack_get_sample_rate.restype = ctypes.c_uint32
        lib.jack_get_ports.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p,
                                       ctypes.c_ulong]
        lib.jack_get_ports.restype = ctypes.POINTER(ctypes.c_char_p)
        lib.jack_free.argtypes = [ctypes.c_void_p]
        lib.jack_set_error_function(_quiet)
        lib.jack_set_info_function(_quiet)
        _lib = lib
    return _lib


class Session:
    """A short-lived client for a few calls (opening a client costs a round trip to the server)."""

    def __init__(self, lib, handle):
        self._lib, self._handle = lib, handle

    def period_seconds(self) -> float:
        """Length of one JACK cycle: MIDI written now leaves on the next cycle."""
        rate = max(1, self._lib.jack_get_sample_rate(self._handle))
        return self._lib.jack_get_buffer_size(self._handle) / rate

    def port_names(self, pattern: str = "", flags: int = 0) -> list[str]:
        """Full names of the ports whose name matches the regular expression (and that have
        the JackPortFlags given: 0x1 inputs, 0x2 outputs)."""
        found = self._lib.jack_get_ports(self._handle, pattern.encode() or None, None, flags)
        return self._names(found)

    def _names(self, found) -> list[str]:
        """A NULL-terminated array of names from libjack, freed here."""
        if not found:
            return []
        names = []
        i = 0
        while found[i]:
            names.append(found[i].decode())
            i += 1
        self._lib.jack_free(ctypes.cast(found, ctypes.c_void_p))
        return names

    def connect(self, source: str, destination: str) -> None:
        """Connect an output port to an input port; already connected counts as done."""
        result = self._lib.jack_connect(self._handle, source.encode(), destination.encode())
        if result not in (0, errno.EEXIST):
            raise OSError(f"JACK refused to connect {source} -> {destination} (error {result})")


@contextmanager
def session(name: str = "improvd-ctl", attempts: int = 3):
    """A Session on the server named by $JACK_DEFAULT_SERVER; OSError when none answers.

    A busy machine can make one attempt time out, so it tries again before giving up."""
    lib = library()
    if lib is None:
        raise OSError("libjack is not installed")
    status = ctypes.c_int(0)
    for attempt in range(attempts):
        handle = lib.jack_client_open(name.encode(), NO_START_SERVER, ctypes.byref(status))
        if handle:
            break
        log.debug("JACK client open failed (status 0x%x), attempt %d", status.value, attempt + 1)
        time.sleep(0.05)
    else:
        raise OSError(f"no JACK server answers (jack status 0x{status.value:x})")
    try:
        yield Session(lib, handle)
    finally:
        lib.jack_client_close(handle)


def server_running() -> bool:
    """True when the server named by $JACK_DEFAULT_SERVER (or the default one) answers."""
    try:
        with session("improvd-probe", attempts=2):
            return True
    except OSError:
        return False
