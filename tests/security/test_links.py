"""Links sent with a request, against hostile servers on loopback: bombs, drip feeds, slow
headers, rebinding DNS and IPv4-in-IPv6 tricks."""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.fixtures.hostile import Hostile
from tests.fixtures.loopback import Reply
from twin_serving.links import fetch_links
from twin_serving.ssrf import BlockedURL, make_url_guard

ARTICLE = "<html><head><title>Fresh</title></head><body><article><p>Fresh news from the loopback.</p></article></body></html>"


def allow_loopback():
    return make_url_guard(["127.0.0.1/32"])


@pytest.mark.parametrize(
    "address",
    ["2002:7f00:1::", "2002:a00:1::1", "2002:a9fe:a9fe::", "2002:c0a8:101::"],
    ids=["6to4-loopback", "6to4-private", "6to4-metadata", "6to4-lan"],
)
def test_6to4_addresses_are_judged_by_their_ipv4(address):
    guard = make_url_guard(resolver=lambda host, port: [address])
    with pytest.raises(BlockedURL):
        guard("http://sixtofour.example/")
    with pytest.raises(BlockedURL):
        guard(f"http://[{address}]/")


def test_6to4_of_a_public_address_passes():
    assert make_url_guard(resolver=lambda h, p: ["2002:5db8:d822::"])("http://pub.example/") == [
        "2002:5db8:d822::"
    ]


def test_link_connects_to_the_checked_address_not_a_second_lookup(loopback):
    """The guard's resolver is the only DNS answer used: the system cannot resolve this name."""
    loopback.route("/post", Reply(body=ARTICLE))
    port = loopback.base.rsplit(":", 1)[1]
    guard = make_url_guard(["127.0.0.1/32"], resolver=lambda host, port: ["127.0.0.1"])
    fetched = asyncio.run(fetch_links([f"http://rebind.invalid:{port}/post"], guard, timeout_s=5))
    assert fetched.warnings == []
    assert "Fresh news" in fetched.sources[0].text


def test_bomb_link_is_skipped_without_inflating_it(loopback):
    url = loopback.route("/bomb", Hostile.gzip_bomb(256 * 2**20))
    tracemalloc.start()
    try:
        fetched = asyncio.run(
            fetch_links([url], allow_loopback(), max_bytes=2_000_000, timeout_s=10)
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert fetched.sources == []
    [warning] = fetched.warnings
    assert "decoded response exceeds the 2000000-byte limit" in warning
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.0f} MB for a 2 MB cap"


@pytest.mark.parametrize(
    "handler",
    [Hostile.drip_body(0.1), Hostile.slow_headers(0.1)],
    ids=["drip-body", "slow-headers"],
)
def test_slow_link_stops_at_its_deadline(loopback, handler):
    url = loopback.route("/slow", handler)
    started = time.monotonic()
    fetched = asyncio.run(fetch_links([url], allow_loopback(), timeout_s=1.5))
    elapsed = time.monotonic() - started
    [warning] = fetched.warnings
    assert "deadline" in warning
    assert elapsed < 5, f"{elapsed:.1f}s for a 1.5s deadline"
    # The worker really stopped: the server saw the client go away, not a thread left reading.
    deadline = time.monotonic() + 5
    while loopback.in_flight and time.monotonic() < deadline:
        time.sleep(0.05)
    assert loopback.in_flight == 0


def test_slow_links_leave_the_default_thread_pool_free(loopback):
    """Serving runs retrieval with asyncio.to_thread: ten slow links must not take those
    threads, so a small default pool still runs other work while the links drip."""
    urls = [loopback.route(f"/drip{i}", Hostile.drip_body(0.1)) for i in range(10)]

    async def scenario():
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=2))
        links = asyncio.create_task(fetch_links(urls[:5], allow_loopback(), timeout_s=3))
        more = asyncio.create_task(fetch_links(urls[5:], allow_loopback(), timeout_s=3))
        await asyncio.sleep(0.5)  # the links are in flight
        other = await asyncio.wait_for(asyncio.to_thread(lambda: "retrieval ran"), 2)
        still_fetching = not links.done() and not more.done()
        return other, still_fetching, await links, await more

    other, still_fetching, first, second = asyncio.run(scenario())
    assert other == "retrieval ran" and still_fetching
    assert len(first.warnings) == 5 and len(second.warnings) == 5
