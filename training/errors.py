"""The training stack's "your input is wrong" errors, at the bottom so every module can raise them;
the command line prints them as one line (exit status 2)."""

from __future__ import annotations


class SourceError(ValueError):
    """A source that cannot give any training data; the message names the source."""
