"""``twin``: the product's single command line.

Each subcommand lives in ``twin_cli/commands/<name>.py`` and exposes ``register(subparsers)``;
modules are imported only when the command line is built, and heavy libraries only when a
command runs.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading

from twin_cli.commands import CommandError

# Order is the order of `twin --help`.
COMMANDS = [
    "demo",
    "up",
    "dev",
    "crawl",
    "collect",
    "serve",
    "serve_model",
    "ask",
    "milvus",
    "search",
    "models",
    "authors",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="twin", description="LLM Twin: an AI twin that writes in your voice.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"twin_cli.commands.{name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    _let_ctrl_c_through()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except CommandError as error:
        print(f"twin {args.command}: error: {error}", file=sys.stderr)
        return 1


def _let_ctrl_c_through() -> None:
    """Ctrl-C (SIGINT) stops every command, even one a script started as a background job: such
    a job inherits SIGINT ignored, and Python keeps that, so `twin up` or `twin demo` would run on
    and the servers they start would inherit it too (Milvus Lite closes its data cleanly only on
    SIGINT)."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)


if __name__ == "__main__":
    sys.exit(main())
