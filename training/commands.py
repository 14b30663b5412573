"""Training subcommands (filled in by the training work)."""


def register(sub) -> None:
    pass
