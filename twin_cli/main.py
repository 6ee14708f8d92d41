"""``twin``: the product's single command line.

Each subcommand lives in ``twin_cli/commands/<name>.py`` and exposes ``register(subparsers)``;
modules are imported only when the command line is built, and heavy libraries only when a
command runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys

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


if __name__ == "__main__":
    sys.exit(main())
