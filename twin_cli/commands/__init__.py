"""Subcommands of ``twin``; each module exposes ``register(subparsers)``."""


class CommandError(Exception):
    """A failure the user can act on: printed as one line, exit status 1."""
