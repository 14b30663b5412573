"""Errors every layer may raise, kept at the bottom so that nothing imports upward to reach them.

The CLI (daemon/__main__.py) prints a CommandError as one line and exits with status 2; training
and export turn their own "your input is wrong" exceptions into it.
"""

from __future__ import annotations


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 2."""


# Exit statuses of `improvd run` beyond 0 (stopped) and 2 (CommandError: bad settings or model, a
# port missing without --wait-for-ports), which a service does not retry: the MIDI backend went
# away under the daemon (the JACK server stopped). A service manager restarts it (sysexits'
# EX_UNAVAILABLE).
EXIT_BACKEND_LOST = 69
