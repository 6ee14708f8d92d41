"""The API against hostile links and inputs, everything on 127.0.0.1.

Three figures, each against a baseline measured in the same run:

1. **Bomb links**: peak resident memory of the API process (``twin serve``, a real subprocess)
   while 16 concurrent requests each send a link answering ~1 MB of gzip that inflates to 1 GB.
   Figure: peak RSS (VmHWM) minus idle RSS. Goal: < 500 MB.
2. **Slow links**: latency of a plain request (no links) while 10 drip-fed links are in flight
   (two requests of five), against the same request with nothing else running. Goal: < 2x.
3. **Schema drift**: schemathesis (CLI, every check, ``--max-examples`` per operation, default
   300) against the API's own OpenAPI schema, served in this process with link fetching
   refused (generated links name public hosts; nothing may leave the machine). Goal: 0 failures.

The stack is real: a Milvus Lite server, the offline embedder, the tiny model behind the local
TGI-compatible server.

    .venv/bin/python -m benchmarks.hostile [--examples 300] [--skip-schemathesis]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

TEXTS = [
    "Small models that ship beat large models that never leave the notebook. Measure latency first.",
    "Our on-call week taught me that clear logs save more time than clever dashboards.",
    "A feature store is a contract between training and serving: same features, same code, same time.",
    "Vector search needs filters: author, platform and date narrow the candidates before ranking.",
    "Boring machine learning wins: retrain weekly, monitor drift, and keep a rollback button.",
]
FUZZ_KEY = "fuzzing-key"  # set, so schemathesis can check that a wrong key is refused
PLAIN = {"prompt": "Write a LinkedIn post about clear logs", "platform": "linkedin", "max_new_tokens": 8}


# -- hostile loopback site -------------------------------------------------------------------------


@contextlib.contextmanager
def hostile_site() -> Iterator[str]:
    from tests.fixtures.hostile import Hostile
    from tests.fixtures.loopback import Loopback

    site = Loopback()
    site.route("/bomb", Hostile.gzip_bomb(2**30))
    site.route("/drip", Hostile.drip_body(0.2, for_s=120))
    try:
        yield site.base
    finally:
        site.close()


# -- the stack ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def stack(tmp: Path) -> Iterator[dict[str, str]]:
    """Milvus Lite with a small collection, the tiny model behind the TGI-compatible server;
    yields the API's environment."""
    from twin_core import milvus_server
    from twin_core.embedding import Embedder
    from twin_core.models.tiny import build_tiny_model
    from twin_core.vector_index import VectorIndex
    from twin_serving.processes import start_model_server, stop_server

    milvus = milvus_server.start(tmp / "milvus", log_path=tmp / "milvus.log")
    try:
        embedder = Embedder()
        index = VectorIndex(milvus.uri, collection="hostile_chunks", dimension=embedder.dimension)
        index.ensure_collection()
        vectors = embedder.encode_documents(TEXTS)
        index.upsert([
            {"id": hashlib.sha256(t.encode()).hexdigest()[:32], "document_id": f"doc{i}", "author": "Tamsin Vale",
             "platform": "linkedin", "category": "post", "url": f"https://example.com/post/{i}",
             "title": t[:30], "position": 0, "text": t, "vector": v}
            for i, (t, v) in enumerate(zip(TEXTS, vectors, strict=True))
        ])
        index.refresh()
        model = build_tiny_model(TEXTS * 20, tmp / "model")
        tgi = start_model_server(model, log_path=tmp / "tgi.log")
        try:
            (tmp / "twin.yaml").write_text("authors: [{name: Tamsin Vale}]\n")
            yield {
                "TGI_URL": tgi.url, "TWIN_MILVUS_URI": milvus.uri, "TWIN_MILVUS_COLLECTION": "hostile_chunks",
                "TWIN_TOKENIZER": str(model), "TWIN_PROFILES": str(tmp / "twin.yaml"),
                "TWIN_HOME": str(tmp / "home"), "TWIN_LINK_ALLOWLIST": '["127.0.0.1/32"]',
                "TWIN_LINK_TIMEOUT_S": "10", "TWIN_DEFAULT_MAX_NEW_TOKENS": "8",
            }
        finally:
            stop_server(tgi.pid)
    finally:
        milvus_server.stop(milvus.pid)


def rss_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


# -- 1 and 2: bombs and slow links against the API process -----------------------------------------------


async def _post(client: httpx.AsyncClient, body: dict) -> tuple[float, int, dict]:
    started = time.perf_counter()
    response = await client.post("/v1/generate", json=body)
    return time.perf_counter() - started, response.status_code, response.json()


async def bombs(api: str, pid: int, site: str) -> dict:
    async with httpx.AsyncClient(base_url=api, timeout=120, trust_env=False) as client:
        for _ in range(3):  # warm: model, tokenizer, Milvus client, link pool
            await _post(client, PLAIN)
        idle = rss_kb(pid, "VmRSS")
        before_peak = rss_kb(pid, "VmHWM")
        results = await asyncio.gather(*(
            _post(client, {**PLAIN, "links": [f"{site}/bomb?{i}"]}) for i in range(16)
        ))
    peak = rss_kb(pid, "VmHWM")
    statuses = sorted({status for _, status, _ in results})
    warned = sum("exceeds" in " ".join(body.get("warnings", [])) for _, _, body in results)
    return {"idle_mb": idle / 1024, "peak_mb": peak / 1024, "peak_before_mb": before_peak / 1024,
            "above_idle_mb": (peak - idle) / 1024, "statuses": statuses, "bombs_refused": warned}


async def slow_links(api: str, site: str, rounds: int) -> dict:
    async with httpx.AsyncClient(base_url=api, timeout=120, trust_env=False) as client:
        idle = [(await _post(client, PLAIN))[0] for _ in range(rounds)]
        drips = [asyncio.create_task(_post(client, {**PLAIN, "links": [f"{site}/drip?{r}-{i}" for i in range(5)]}))
                 for r in range(2)]
        await asyncio.sleep(1.0)  # the ten links are in flight
        busy = []
        for _ in range(rounds):
            if all(d.done() for d in drips):
                break
            busy.append((await _post(client, PLAIN))[0])
        slow = await asyncio.gather(*drips)
    return {"idle_s": statistics.median(idle), "busy_s": statistics.median(busy), "busy_n": len(busy),
            "ratio": statistics.median(busy) / statistics.median(idle),
            "slow_request_s": [round(s[0], 1) for s in slow]}


# -- 3: schemathesis -------------------------------------------------------------------------------------


def schemathesis_run(env: dict[str, str], examples: int, tmp: Path) -> dict:
    from tests.serving.conftest import serve
    from twin_core.settings import Settings
    from twin_serving.app import create_app
    from twin_serving.ssrf import Unresolvable

    def refuse_all_links(url: str) -> None:
        # As on a machine without DNS: generated links name public hosts, none may be contacted.
        raise Unresolvable("no outside network while fuzzing")

    settings = Settings.of(
        tgi_url=env["TGI_URL"], milvus_uri=env["TWIN_MILVUS_URI"], milvus_collection=env["TWIN_MILVUS_COLLECTION"],
        tokenizer=env["TWIN_TOKENIZER"], profiles=Path(env["TWIN_PROFILES"]), default_max_new_tokens=8,
        api_key=FUZZ_KEY,
    )
    app = create_app(settings, authors=["Tamsin Vale"])
    cli = Path(sys.executable).parent / "schemathesis"
    with serve(app) as url:
        app.state.service.url_guard = refuse_all_links
        # schemathesis sends wrong keys on purpose from one address: the throttle would answer
        # every later case 429 (tests/security/test_login.py checks the throttle itself).
        app.state.key_throttle.max_failures = 10**9
        started = time.monotonic()
        completed = subprocess.run(
            [str(cli), "run", f"{url}/openapi.json", "--checks", "all", "--max-examples", str(examples),
             "--workers", "1", "--no-color", "--continue-on-failure", "--request-timeout", "120",
             "--seed", "17", "--header", f"Authorization: Bearer {FUZZ_KEY}"],
            capture_output=True, text=True, env=os.environ.copy(), cwd=tmp,
        )
        elapsed = time.monotonic() - started
    return {"exit": completed.returncode, "elapsed_s": elapsed, "summary": completed.stdout.strip().splitlines()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=300, help="schemathesis examples per operation")
    parser.add_argument("--rounds", type=int, default=15, help="plain requests per latency cell")
    parser.add_argument("--skip-schemathesis", action="store_true")
    parser.add_argument("--only-schemathesis", action="store_true")
    args = parser.parse_args()

    from twin_serving.processes import start_api, stop_server

    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        with stack(tmp) as env, hostile_site() as site:
            if not args.only_schemathesis:
                api = start_api(env=env, log_path=tmp / "api.log")
                try:
                    bomb = asyncio.run(bombs(api.url, api.pid, site))
                    slow = asyncio.run(slow_links(api.url, site, args.rounds))
                finally:
                    stop_server(api.pid)
                print(f"bomb links: 16 concurrent requests, each linking 1 MB of gzip that inflates to 1 GB: "
                      f"idle RSS {bomb['idle_mb']:.0f} MB, peak {bomb['peak_mb']:.0f} MB "
                      f"(peak before the bombs {bomb['peak_before_mb']:.0f} MB): "
                      f"{bomb['above_idle_mb']:.0f} MB above idle (goal < 500 MB); "
                      f"statuses {bomb['statuses']}, {bomb['bombs_refused']}/16 bombs cut at the cap")
                print(f"slow links: plain request median {slow['idle_s'] * 1000:.0f} ms idle, "
                      f"{slow['busy_s'] * 1000:.0f} ms with 10 drip-fed links in flight (n={slow['busy_n']}): "
                      f"{slow['ratio']:.2f}x (goal < 2x); the two slow requests took {slow['slow_request_s']} s "
                      "(link deadline 10 s)")
            if not args.skip_schemathesis:
                result = schemathesis_run(env, args.examples, tmp)
                print(f"schemathesis: {args.examples} examples per operation, all checks, "
                      f"exit {result['exit']}, {result['elapsed_s']:.0f} s")
                print("\n".join(result["summary"]))


if __name__ == "__main__":
    main()
