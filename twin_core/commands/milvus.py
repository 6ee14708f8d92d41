"""``twin milvus start|stop|status``: the local Milvus Lite server that every process shares.

It listens on the host/port of ``TWIN_MILVUS_URI`` (default 127.0.0.1:19530), keeps its data in
``$TWIN_HOME/milvus/`` (the same folder ``twin demo`` uses), its PID file in
``$TWIN_HOME/run/milvus.json`` and its log in ``$TWIN_HOME/logs/milvus.log``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from twin_core.commands import CommandError


def register(subparsers) -> None:
    parser = subparsers.add_parser("milvus", help="Start, stop or check the local Milvus Lite server.")
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.set_defaults(handler=run)


def _paths():
    from twin_resources.settings import TwinSettings

    settings = TwinSettings()
    home = settings.home.resolve()
    return settings, settings.milvus_dir, home / "run" / "milvus.json", home / "logs" / "milvus.log"


def run(args) -> int:
    from twin_core import milvus_server

    settings, data_dir, pid_file, log_file = _paths()
    recorded = milvus_server.read_pid_file(pid_file)
    alive = recorded is not None and milvus_server.is_running(recorded.pid)
    if args.action == "status":
        if alive and milvus_server.answers(recorded.uri):
            print(f"running: pid {recorded.pid}, {recorded.uri}, data {recorded.data_dir}")
            return 0
        print("not running" if not alive else f"pid {recorded.pid} is up but does not answer on {recorded.uri}")
        return 1
    if args.action == "stop":
        if not alive:
            pid_file.unlink(missing_ok=True)
            print("not running")
            return 0
        milvus_server.stop(recorded.pid)
        pid_file.unlink(missing_ok=True)
        print(f"stopped pid {recorded.pid}")
        return 0
    # start: idempotent
    if alive:
        print(f"already running: pid {recorded.pid}, {recorded.uri}")
        return 0
    uri = urlsplit(settings.milvus_uri)
    if uri.hostname not in {"127.0.0.1", "localhost"} or not uri.port:
        raise CommandError(f"TWIN_MILVUS_URI={settings.milvus_uri} is not a local 127.0.0.1:PORT address to serve")
    try:
        server = milvus_server.start(data_dir, host="127.0.0.1", port=uri.port, log_path=log_file)
    except milvus_server.MilvusServerError as error:
        raise CommandError(str(error)) from error
    milvus_server.write_pid_file(pid_file, server)
    print(f"started: pid {server.pid}, {server.uri}, data {data_dir}")
    return 0
