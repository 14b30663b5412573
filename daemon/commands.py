"""Daemon subcommands: `improvd run`, `improvd ports` (filled in by the daemon work)."""


def register(sub) -> None:
    pass
