"""``twin serve-model``: the local TGI-compatible server for the registry's production model."""

from __future__ import annotations

import argparse

from twin_cli.commands import CommandError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "serve-model",
        help="Serve the production model (else the base model) over TGI's HTTP API, locally.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="Interface to bind (default 127.0.0.1).")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--model-dir", default=None,
                        help="Serve this model folder instead of the registry's production model.")
    parser.add_argument("--reload-interval", type=float, default=10.0,
                        help="Seconds between checks of the production alias (0: never).")
    parser.add_argument("--adapter", action="append", default=[], metavar="NAME=FOLDER",
                        help="Keep this LoRA adapter resident on the base (repeatable); requests "
                        "choose it by adapter_id (TGI) or model (OpenAI).")
    parser.add_argument("--adapters-from-registry", action="store_true",
                        help="Serve the registry's base model with every author's production twin as a LoRA adapter "
                        "resident as `twin-<author>` (promotion swaps it; the base stays loaded), instead of "
                        "the merged export.")
    parser.add_argument("--fd", type=int, default=None, help=argparse.SUPPRESS)
    parser.set_defaults(handler=run)


def run(args) -> int:
    from pathlib import Path

    import uvicorn

    from twin_serving.model_source import (
        base_source,
        folder_source,
        production_adapter_source,
        registry_source,
    )
    from twin_serving.tgi_server import create_tgi_app

    fixed = _adapters(args.adapter)
    from_registry = production_adapter_source() if args.adapters_from_registry else None
    if args.adapters_from_registry and args.model_dir:
        raise CommandError("--adapters-from-registry serves the registry's base: drop --model-dir")
    if args.model_dir:
        if not (Path(args.model_dir) / "config.json").is_file():
            raise CommandError(f"{args.model_dir} is not a model folder (no config.json)")
        source = folder_source(args.model_dir)
        interval = 0.0
    else:
        source = base_source() if args.adapters_from_registry else registry_source()
        interval = args.reload_interval
        try:
            source()
        except LookupError as error:
            raise CommandError(str(error)) from None

    def adapters() -> dict[str, tuple[str, str]]:
        return {**fixed, **(from_registry() if from_registry else {})}

    app = create_tgi_app(source, reload_interval_s=interval,
                         adapters=adapters if fixed or from_registry else None)
    config = uvicorn.Config(app, host=args.host, port=args.port, fd=args.fd, log_level="info",
                            timeout_graceful_shutdown=10)
    uvicorn.Server(config).run()
    return 0


def _adapters(specs: list[str]) -> dict[str, tuple[str, str]]:
    from pathlib import Path

    adapters: dict[str, tuple[str, str]] = {}
    for spec in specs:
        name, _, folder = spec.partition("=")
        if not name or not folder:
            raise CommandError(f"--adapter {spec!r}: write it as NAME=FOLDER")
        if not (Path(folder) / "adapter_config.json").is_file():
            raise CommandError(f"{folder} is not a LoRA adapter folder (no adapter_config.json)")
        adapters[name] = (str(Path(folder).resolve()), "local")
    return adapters
