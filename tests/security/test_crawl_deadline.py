"""``twin crawl --timeout`` is the whole crawl's deadline: slow headers and a drip-fed body stop
there, with one line and exit status 1."""

from __future__ import annotations

import time

import pytest

from tests.fixtures.hostile import Hostile
from twin_cli.main import main


@pytest.mark.parametrize(
    "handler",
    [Hostile.drip_body(0.1), Hostile.slow_headers(0.1)],
    ids=["drip-body", "slow-headers"],
)
def test_crawl_timeout_is_an_overall_deadline(loopback, capsys, handler):
    url = loopback.route("/post", handler)
    started = time.monotonic()
    status = main(["crawl", url, "--timeout", "2", "--retries", "2", "--ignore-robots"])
    elapsed = time.monotonic() - started
    assert status == 1
    error = capsys.readouterr().err.strip()
    assert error == f"twin crawl: error: {url}: took longer than the 2s deadline"
    assert elapsed < 6, f"twin crawl --timeout 2 ran {elapsed:.1f}s"


def test_crawl_timeout_must_be_positive(capsys):
    assert main(["crawl", "https://example.com/post", "--timeout", "0"]) == 1
    assert "--timeout must be a positive" in capsys.readouterr().err
