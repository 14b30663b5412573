"""A long-lived JACK client that watches the server for the daemon: the server's shutdown, ports
that come and go (a keyboard replugged, a synth restarted) and connections made or broken.

python-rtmidi gives no access to its JACK clients, so this is one more client of our own, over
the same ctypes libjack as jack.py. It has no ports and no process callback, so it costs the
realtime cycle nothing. JACK calls the callbacks on its notification thread, where a client may
not call back into JACK: they only set threading Events, and the supervisor's thread does the
work (supervisor.py).
"""

from __future__ import annotations

import ctypes
import logging
import threading

from . import jack

log = logging.getLogger(__name__)

_SHUTDOWN = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_REGISTRATION = ctypes.CFUNCTYPE(None, ctypes.c_uint32, ctypes.c_int, ctypes.c_void_p)
_CONNECT = ctypes.CFUNCTYPE(None, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_int, ctypes.c_void_p)
PORT_IS_INPUT, PORT_IS_OUTPUT = 0x1, 0x2


def _declare(lib) -> None:
    lib.jack_on_shutdown.argtypes = [ctypes.c_void_p, _SHUTDOWN, ctypes.c_void_p]
    lib.jack_set_port_registration_callback.argtypes = [ctypes.c_void_p, _REGISTRATION,
                                                        ctypes.c_void_p]
    lib.jack_set_port_connect_callback.argtypes = [ctypes.c_void_p, _CONNECT, ctypes.c_void_p]
    lib.jack_activate.argtypes = [ctypes.c_void_p]
    lib.jack_port_by_name.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.jack_port_by_name.restype = ctypes.c_void_p
    lib.jack_port_get_all_connections.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.jack_port_get_all_connections.restype = ctypes.POINTER(ctypes.c_char_p)


class JackWatch(jack.Session):
    """`lost` is set when the server shuts down; `changed` (and `wake`) when a port or a
    connection changes. OSError when no server answers."""

    def __init__(self, name: str, wake: threading.Event | None = None):
        lib = jack.library()
        if lib is None:
            raise OSError("libjack is not installed")
        _declare(lib)
        status = ctypes.c_int(0)
        handle = lib.jack_client_open(name.encode(), jack.NO_START_SERVER, ctypes.byref(status))
        if not handle:
            raise OSError(f"no JACK server answers (jack status 0x{status.value:x})")
        super().__init__(lib, handle)
        self.lost = threading.Event()
        self.changed = threading.Event()
        self._wake = wake or threading.Event()
        # ctypes callbacks must outlive the client: kept on the object.
        self._callbacks = (_SHUTDOWN(self._on_shutdown), _REGISTRATION(self._on_registration),
                           _CONNECT(self._on_connect))
        lib.jack_on_shutdown(handle, self._callbacks[0], None)
        lib.jack_set_port_registration_callback(handle, self._callbacks[1], None)
        lib.jack_set_port_connect_callback(handle, self._callbacks[2], None)
        if lib.jack_activate(handle) != 0:
            lib.jack_client_close(handle)
            raise OSError("JACK refused to activate the watch client")

    # --- JACK's notification thread: set flags, nothing else ---------------------------------
    def _on_shutdown(self, arg) -> None:
        self.lost.set()
        self._wake.set()

    def _on_registration(self, port_id, registered, arg) -> None:
        self.changed.set()
        self._wake.set()

    def _on_connect(self, a, b, connected, arg) -> None:
        self.changed.set()
        self._wake.set()

    # --- the supervisor's thread -------------------------------------------------------------
    def connections(self, port_name: str) -> list[str]:
        """The ports connected to one of ours (empty when it does not exist)."""
        port = self._lib.jack_port_by_name(self._handle, port_name.encode())
        if not port:
            return []
        found = self._lib.jack_port_get_all_connections(self._handle, port)
        return self._names(found)

    def close(self) -> None:
        if self._handle and not self.lost.is_set():  # a dead server's client is left alone
            self._lib.jack_client_close(self._handle)
        self._handle = None
