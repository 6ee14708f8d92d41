"""``twin serve``: the LLM Twin API (FastAPI) on 127.0.0.1; it generates through ``TGI_URL``."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "serve", help="Start the twin's HTTP API (RAG over Milvus, generation through TGI_URL)."
    )
    parser.add_argument("--host", default="127.0.0.1", help="Interface to bind (default 127.0.0.1).")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--fd", type=int, default=None, help=argparse.SUPPRESS)
    parser.set_defaults(handler=run)


def run(args) -> int:
    import uvicorn

    from twin_serving.app import create_app

    # proxy_headers off: uvicorn would believe X-Forwarded-* from any local process; the app
    # believes them only from TWIN_FORWARDED_ALLOW_IPS.
    config = uvicorn.Config(create_app(), host=args.host, port=args.port, fd=args.fd,
                            log_level="info", timeout_graceful_shutdown=10, proxy_headers=False)
    uvicorn.Server(config).run()
    return 0
