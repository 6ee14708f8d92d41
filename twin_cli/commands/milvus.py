"""``twin milvus start|stop|status``: the local Milvus Lite server that every process shares.

It listens on the host/port of ``TWIN_MILVUS_URI`` (default 127.0.0.1:19530), keeps its data in
``$TWIN_HOME/milvus/`` (the same folder ``twin demo`` uses), its PID file in
``$TWIN_HOME/run/milvus.json`` and its log in ``$TWIN_HOME/logs/milvus.log``. ``twin dev`` starts
it the same way when it is not running, and stops it on exit.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from twin_cli.commands import CommandError


def register(subparsers) -> None:
    parser = subparsers.add_parser("milvus", help="Start, stop or check the local Milvus Lite server.")
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.set_defaults(handler=run)


def _pid_file() -> Path:
    from twin_core.settings import Settings

    return Settings().home.resolve() / "run" / "milvus.json"


def running():
    """The recorded server when it is alive, else None."""
    from twin_core import milvus_server

    recorded = milvus_server.read_pid_file(_pid_file())
    return recorded if recorded is not None and milvus_server.is_running(recorded.pid) else None


def ensure_started():
    """(server, started_now): start the local server unless it already runs."""
    from twin_core import milvus_server
    from twin_core.settings import Settings

    if (server := running()) is not None:
        return server, False
    settings = Settings()
    uri = urlsplit(settings.milvus_uri)
    if uri.hostname not in {"127.0.0.1", "localhost"} or not uri.port:
        raise CommandError(f"TWIN_MILVUS_URI={settings.milvus_uri} is not a local 127.0.0.1:PORT address to serve")
    home = settings.home.resolve()
    try:
        server = milvus_server.start(settings.milvus_dir, host="127.0.0.1", port=uri.port, log_path=home / "logs" / "milvus.log")
    except milvus_server.MilvusServerError as error:
        raise CommandError(str(error)) from error
    milvus_server.write_pid_file(_pid_file(), server)
    return server, True


def stop_recorded() -> int | None:
    """Stop the recorded server; its PID, or None when none was running."""
    from twin_core import milvus_server

    server = running()
    if server is not None:
        milvus_server.stop(server.pid)
    _pid_file().unlink(missing_ok=True)
    return server.pid if server else None


def run(args) -> int:
    from twin_core import milvus_server

    if args.action == "status":
        server = running()
        if server is not None and milvus_server.answers(server.uri):
            print(f"running: pid {server.pid}, {server.uri}, data {server.data_dir}")
            return 0
        print("not running" if server is None else f"pid {server.pid} is up but does not answer on {server.uri}")
        return 1
    if args.action == "stop":
        pid = stop_recorded()
        print("not running" if pid is None else f"stopped pid {pid}")
        return 0
    server, started = ensure_started()
    if started:
        print(f"started: pid {server.pid}, {server.uri}, data {server.data_dir}")
    else:
        print(f"already running: pid {server.pid}, {server.uri}")
    return 0
