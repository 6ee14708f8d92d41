"""The Milvus Lite server starts on a free loopback port, answers, and stops by PID."""

import os
import subprocess
import sys

from pymilvus import MilvusClient

from twin_core import milvus_server as lite_server


def test_session_server_answers(milvus_server):
    assert milvus_server.startswith("http://127.0.0.1:")
    client = MilvusClient(uri=milvus_server)
    try:
        assert isinstance(client.list_collections(), list)
    finally:
        client.close()


def test_start_stop_keeps_data_and_pid_file(tmp_path):
    server = lite_server.start(tmp_path / "data", log_path=tmp_path / "log")
    try:
        assert lite_server.is_running(server.pid)
        client = MilvusClient(uri=server.uri)
        client.create_collection("kept", dimension=4)
        client.close()
        lite_server.write_pid_file(tmp_path / "pid.json", server)
        assert lite_server.read_pid_file(tmp_path / "pid.json") == server
    finally:
        assert lite_server.stop(server.pid)
    assert not lite_server.is_running(server.pid)
    assert not lite_server.answers(server.uri, timeout=0.5)
    # A clean stop released the data folder: a new server on it sees the collection.
    again = lite_server.start(tmp_path / "data")
    try:
        client = MilvusClient(uri=again.uri)
        assert "kept" in client.list_collections()
        client.close()
    finally:
        lite_server.stop(again.pid)


def test_stop_refuses_a_pid_that_is_not_milvus():
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert not lite_server.is_running(sleeper.pid)
        assert lite_server.stop(sleeper.pid) is False
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()


def test_missing_or_corrupt_pid_file_reads_as_none(tmp_path):
    assert lite_server.read_pid_file(tmp_path / "absent.json") is None
    (tmp_path / "bad.json").write_text("{not json")
    assert lite_server.read_pid_file(tmp_path / "bad.json") is None
    assert os.path.exists(tmp_path / "bad.json")


def test_a_server_started_with_ctrl_c_ignored_still_closes_on_it(tmp_path):
    # A script's background job runs with SIGINT ignored and its children inherit that; the
    # server's clean close (which releases its data folder) listens for SIGINT.
    import signal

    import psutil

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        server = lite_server.start(tmp_path / "data", log_path=tmp_path / "milvus.log")
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        os.kill(server.pid, signal.SIGINT)
        psutil.Process(server.pid).wait(10)
    finally:
        lite_server.stop(server.pid)
    assert not lite_server.is_running(server.pid)
