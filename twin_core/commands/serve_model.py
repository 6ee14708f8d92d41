"""``twin serve-model``: the local TGI-compatible server for the registry's production model."""

from __future__ import annotations

import argparse

from twin_core.commands import CommandError


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
    parser.add_argument("--fd", type=int, default=None, help=argparse.SUPPRESS)
    parser.set_defaults(handler=run)


def run(args) -> int:
    from pathlib import Path

    import uvicorn

    from twin_serving.model_source import folder_source, registry_source
    from twin_serving.tgi_server import create_tgi_app

    if args.model_dir:
        if not (Path(args.model_dir) / "config.json").is_file():
            raise CommandError(f"{args.model_dir} is not a model folder (no config.json)")
        source = folder_source(args.model_dir)
        interval = 0.0
    else:
        source = registry_source()
        interval = args.reload_interval
        try:
            source()
        except LookupError as error:
            raise CommandError(str(error)) from None
    app = create_tgi_app(source, reload_interval_s=interval)
    config = uvicorn.Config(app, host=args.host, port=args.port, fd=args.fd, log_level="info",
                            timeout_graceful_shutdown=10)
    uvicorn.Server(config).run()
    return 0
