"""The crawler HTTP client against a real loopback server that misbehaves on purpose."""

import gzip
import threading
import time
import tracemalloc
import zlib

import pytest

from tests.fixtures.hostile import Hostile
from tests.fixtures.loopback import Fault, Reply
from twin_core.http_fetch import FetchError, HttpFetcher, URLRefused, detect_encoding
from twin_core.object_store import LocalFolderStore

PAGE = "<html><body><article><p>Hello from the loopback.</p></article></body></html>"


def fast_client(**overrides) -> HttpFetcher:
    options = dict(timeout_s=0.3, max_retries=2, backoff_base_s=0.01, per_host_rate=0, max_retry_after_s=5)
    options.update(overrides)
    return HttpFetcher(**options)


def test_retries_500_then_succeeds(loopback):
    url = loopback.route("/flaky", Fault.sequence(Reply(500, "boom"), Reply(503, "busy"), Reply(body=PAGE)))
    with fast_client() as client:
        result = client.get(url)
    assert "Hello from the loopback." in result.text
    assert len(loopback.hits("/flaky")) == 3


def test_429_retry_after_is_honoured_then_succeeds(loopback):
    url = loopback.route("/limited", Fault.sequence(Reply(429, "slow down", {"Retry-After": "1"}), Reply(body=PAGE)))
    with fast_client() as client:
        assert "Hello" in client.get(url).text
    assert len(loopback.hits("/limited")) == 2


def test_retry_after_longer_than_limit_fails_with_reason(loopback):
    url = loopback.route("/limited", Reply(429, "slow down", {"Retry-After": "3600"}))
    with fast_client() as client, pytest.raises(FetchError, match="asked to wait 3600s"):
        client.get(url)
    assert len(loopback.hits("/limited")) == 1


def test_persistent_500_fails_after_retries(loopback):
    url = loopback.route("/down", Reply(500, "boom"))
    with fast_client(max_retries=2) as client, pytest.raises(FetchError, match=r"HTTP 500 \(after 3 tries\)"):
        client.get(url)
    assert len(loopback.hits("/down")) == 3


def test_404_is_not_retried(loopback):
    with fast_client() as client, pytest.raises(FetchError, match="HTTP 404 Not Found") as info:
        client.get(loopback.url("/missing"))
    assert info.value.status == 404
    assert len(loopback.hits("/missing")) == 1


@pytest.mark.parametrize(
    ("route", "handler", "reason"),
    [
        ("/slow", Fault.slow(1.5), "timed out after 0.3s"),
        ("/reset", Fault.reset, "connection"),
        ("/truncated", Fault.truncated, "connection broken"),
    ],
)
def test_network_faults_become_one_line_errors(loopback, route, handler, reason):
    url = loopback.route(route, handler)
    with fast_client(max_retries=1) as client, pytest.raises(FetchError) as info:
        client.get(url)
    assert reason in str(info.value)
    assert "\n" not in str(info.value)
    assert len(loopback.hits(route)) == 2  # tried, retried, gave up


def test_oversized_page_is_refused(loopback):
    big = b"<html><body>" + b"<p>" + b"x" * (20 * 1024 * 1024) + b"</p></body></html>"
    url = loopback.route("/huge", Reply(body=big))
    with fast_client(max_bytes=1024 * 1024) as client, pytest.raises(FetchError, match="1048576-byte limit"):
        client.get(url)


def test_oversized_chunked_page_is_cut_while_streaming(loopback):
    def chunked(request, conn):
        conn.send_response(200)
        conn.send_header("Content-Type", "text/html")
        conn.send_header("Transfer-Encoding", "chunked")
        conn.end_headers()
        chunk = b"x" * 65536
        try:
            for _ in range(40):
                conn.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            conn.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass

    url = loopback.route("/stream", chunked)
    with fast_client(max_bytes=256 * 1024) as client, pytest.raises(FetchError, match="exceeds the 262144-byte limit"):
        client.get(url)


def test_redirect_loop_is_cut(loopback):
    loopback.route("/a", Reply(302, "", {"Location": "/b"}))
    loopback.route("/b", Reply(301, "", {"Location": "/a"}))
    with fast_client(max_redirects=4) as client, pytest.raises(FetchError, match="too many redirects"):
        client.get(loopback.url("/a"))


def test_url_guard_sees_every_redirect_hop(loopback):
    loopback.route("/start", Reply(302, "", {"Location": "/middle"}))
    loopback.route("/middle", Reply(307, "", {"Location": loopback.url("/end")}))
    loopback.route("/end", Reply(body=PAGE))
    seen: list[str] = []
    with fast_client(url_guard=seen.append) as client:
        result = client.get(loopback.url("/start"))
    assert result.url == loopback.url("/end")
    assert [u for u in seen if not u.endswith("/robots.txt")] == [loopback.url(p) for p in ("/start", "/middle", "/end")]

    def refuse_middle(url: str) -> None:
        if url.endswith("/middle"):
            raise ValueError("private address")

    with fast_client(url_guard=refuse_middle) as client, pytest.raises(URLRefused, match="refused: private address") as info:
        client.get(loopback.url("/start"))
    assert isinstance(info.value.__cause__, ValueError)
    assert not loopback.hits("/end") or len(loopback.hits("/end")) == 1  # never fetched by the refused client


def test_undeclared_latin1_is_decoded(loopback):
    body = "<html><body><p>Caf\u00e9 cr\u00e8me \u2014 na\u00efve r\u00e9sum\u00e9</p></body></html>".replace("\u2014", "-").encode("latin-1")
    url = loopback.route("/latin", Reply(body=body, content_type="text/html"))
    with fast_client() as client:
        result = client.get(url)
    assert "Café crème - naïve résumé" in result.text
    assert result.encoding == "cp1252"


def test_charset_detection_order():
    assert detect_encoding("é".encode(), "text/html") == "utf-8"
    assert detect_encoding(b'<meta charset="iso-8859-15"><p>\xa4</p>') == "iso8859-15"
    assert detect_encoding("é".encode("utf-16"), None) == "utf-16"
    assert detect_encoding(b"\xe9", "text/html; charset=nonsense") == "cp1252"
    assert detect_encoding("é".encode(), "text/html; charset=ISO-8859-1") == "cp1252"


def test_robots_txt_is_respected_for_pages_not_apis(loopback):
    loopback.route("/robots.txt", Reply(body="User-agent: *\nDisallow: /private/\n", content_type="text/plain"))
    url = loopback.route("/private/post", Reply(body=PAGE))
    with fast_client() as client:
        with pytest.raises(FetchError, match="disallowed by robots.txt"):
            client.get(url)
        assert "Hello" in client.get(url, robots=False).text
    with fast_client(respect_robots=False) as client:
        assert "Hello" in client.get(url).text
    assert len(loopback.hits("/robots.txt")) == 1  # one fetch per host per client


def test_conditional_requests_make_unchanged_refresh_cheap(loopback, tmp_path):
    def etagged(request, conn):
        if request.headers.get("if-none-match") == '"v1"':
            return Reply(304, b"", {"ETag": '"v1"'})
        return Reply(body=PAGE, headers={"ETag": '"v1"', "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT"})

    url = loopback.route("/etag", etagged)
    store = LocalFolderStore(tmp_path)
    with fast_client(cache=store) as client:
        first = client.get(url)
    with fast_client(cache=store) as client:  # a later run: a new client, the same store
        second = client.get(url)
    assert not first.not_modified
    assert second.not_modified
    assert second.text == first.text
    requests = loopback.hits("/etag")
    assert requests[1].headers["if-none-match"] == '"v1"'
    assert requests[1].headers["if-modified-since"] == "Mon, 01 Jan 2024 00:00:00 GMT"


def test_per_host_concurrency_is_bounded(loopback):
    url = loopback.route("/slowish", Fault.slow(0.15, Reply(body=PAGE)))
    with fast_client(per_host_concurrency=2, timeout_s=5, respect_robots=False) as client:
        threads = [threading.Thread(target=client.get, args=(url,)) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(loopback.hits("/slowish")) == 6
    assert loopback.max_in_flight == 2


def test_non_http_urls_are_refused():
    with fast_client() as client, pytest.raises(FetchError, match="only http"):
        client.get("file:///etc/passwd")


# -- hostile servers -------------------------------------------------------------------------------


def _peak_while(call) -> tuple[int, BaseException | None]:
    """Peak bytes Python allocated during ``call`` (zlib's output buffers are Python bytes)."""
    tracemalloc.start()
    try:
        call()
        error = None
    except BaseException as caught:  # noqa: BLE001 - returned for the test to judge
        error = caught
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, error


@pytest.mark.parametrize("declare_length", [True, False])
def test_gzip_bomb_is_cut_while_inflating(loopback, declare_length):
    url = loopback.route("/bomb", Hostile.gzip_bomb(256 * 2**20, declare_length=declare_length))
    limit = 2 * 2**20
    with fast_client(max_bytes=limit, max_retries=0, timeout_s=5, respect_robots=False) as client:
        peak, error = _peak_while(lambda: client.get(url))
    assert isinstance(error, FetchError)
    assert f"decoded response exceeds the {limit}-byte limit" in str(error)
    # The cap plus a few inflate steps, not one inflated raw chunk (64 KB of gzip is 64 MB).
    assert peak < 4 * limit, f"peak {peak / 2**20:.0f} MB while inflating"


def test_gzip_page_under_the_cap_still_decodes(loopback):
    body = gzip.compress(PAGE.encode() * 50)
    url = loopback.route("/gz", Reply(body=body, headers={"Content-Encoding": "gzip"}))
    two_members = gzip.compress(b"<html><body><p>first ") + gzip.compress(b"second</p></body></html>")
    url2 = loopback.route("/gz2", Reply(body=two_members, headers={"Content-Encoding": "gzip"}))
    raw_deflate = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    deflated = raw_deflate.compress(PAGE.encode()) + raw_deflate.flush()
    url3 = loopback.route("/deflate", Reply(body=deflated, headers={"Content-Encoding": "deflate"}))
    with fast_client(respect_robots=False) as client:
        assert client.get(url).text == PAGE * 50
        assert "first second" in client.get(url2).text
        assert client.get(url3).text == PAGE


def test_corrupt_gzip_is_one_line(loopback):
    url = loopback.route("/bad", Reply(body=b"\x1f\x8bnot gzip at all", headers={"Content-Encoding": "gzip"}))
    with fast_client(respect_robots=False) as client, pytest.raises(FetchError, match="not valid gzip"):
        client.get(url)


@pytest.mark.parametrize("handler", [Hostile.drip_body(0.1), Hostile.slow_headers(0.1)], ids=["drip-body", "slow-headers"])
def test_deadline_stops_a_drip_fed_transfer(loopback, handler):
    url = loopback.route("/drip", handler)
    # Each read gets a byte well within the 1 s timeout: only the overall deadline can stop it.
    with fast_client(timeout_s=1.0, max_retries=2, respect_robots=False) as client:
        started = time.monotonic()
        with client.within(1.5), pytest.raises(FetchError, match=r"longer than the 1.5s deadline"):
            client.get(url)
        elapsed = time.monotonic() - started
    assert elapsed < 5, f"the transfer went on for {elapsed:.1f}s past a 1.5s deadline"
    assert len(loopback.hits("/drip")) == 1  # a deadline is not retried


def test_deadline_covers_retries_and_backoff(loopback):
    url = loopback.route("/busy", Reply(503, "busy", {"Retry-After": "3"}))
    with fast_client(max_retries=5, respect_robots=False, deadline_s=1.0) as client:
        started = time.monotonic()
        with pytest.raises(FetchError, match="deadline"):
            client.get(url)
    assert time.monotonic() - started < 3
    assert len(loopback.hits("/busy")) == 1


def test_the_guards_checked_address_is_the_one_connected_to(loopback):
    """Resolve once: a name the system cannot resolve still reaches the address the guard
    judged, so a DNS answer that changes after the check (rebinding) is never used."""
    loopback.route("/page", Reply(body=PAGE))
    port = loopback.base.rsplit(":", 1)[1]
    seen: list[str] = []

    def guard(url: str) -> list[str]:
        seen.append(url)
        return ["127.0.0.1"]

    with fast_client(url_guard=guard, respect_robots=False) as client:
        result = client.get(f"http://rebinding.invalid:{port}/page")
    assert "Hello" in result.text
    assert loopback.hits("/page")[0].headers["host"] == f"rebinding.invalid:{port}"


@pytest.mark.parametrize(("url", "meaning"), [
    ("http://127.0.0.1:{port}/post", "the server refused the connection: nothing is listening at that address"),
    ("http://no-such-host.invalid/post", "the host name could not be found: check the address, or the network"),
])
def test_a_failed_connection_is_told_in_words(url, meaning):
    import socket

    with socket.socket() as unused:  # a port that was free a moment ago: nothing listens there
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(FetchError) as failure:
        fast_client(max_retries=0, respect_robots=False).get(url.format(port=port))
    assert meaning in str(failure.value)
    assert "Error" not in str(failure.value) and "Errno" not in str(failure.value)
