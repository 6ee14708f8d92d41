"""The page's HTTP surface on a real server: login, CSRF, profiles, collection, status."""

from __future__ import annotations

import io
import re
import socket
import zipfile

import httpx
import yaml

from tests.web.conftest import closed_port
from twin_core.settings import Settings

KEY = "correct horse battery staple"


def _csrf(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def test_key_protects_page_and_api_without_reaching_the_browser(serve_web, profile_dir):
    settings = Settings.of(profiles=profile_dir / "twin.yaml",
                           dagster_url=f"http://127.0.0.1:{closed_port()}", api_key=KEY)
    with serve_web(settings) as url, httpx.Client(base_url=url) as client:
        assert client.get("/web").headers["location"].endswith("/web/login")
        denied = client.get("/web/api/profiles")
        assert denied.status_code == 401 and "Log in" in denied.json()["error"]

        login = client.get("/web/login")
        token = _csrf(login.text)
        assert client.post("/web/login", data={"api_key": KEY}).status_code == 403  # no CSRF
        wrong = client.post("/web/login", data={"api_key": "guess", "csrf_token": token})
        assert wrong.status_code == 401 and "not the API key" in wrong.text
        ok = client.post("/web/login", data={"api_key": KEY, "csrf_token": token})
        assert ok.status_code == 303
        cookie = ok.headers["set-cookie"].lower()
        assert "twin_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie

        page = client.get("/web")
        assert page.status_code == 200 and KEY not in page.text and KEY not in str(page.url)
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert client.get("/web/api/profiles").json()["authors"][0]["name"] == "Tamsin Vale"

        ask = {"prompt": " ", "platform": "linkedin"}
        assert client.post("/web/api/ask", json=ask).status_code == 403
        invalid = client.post("/web/api/ask", json=ask, headers={"X-CSRF-Token": _csrf(page.text)})
        assert invalid.status_code == 422 and invalid.json()["detail"][0]["loc"] == ["body", "prompt"]
        # The session opens the page's routes, not the API's: /v1 still wants the key.
        assert client.post("/v1/generate", json={"prompt": "hi"}).status_code == 401

        # A forged session (right shape, wrong signature) is refused.
        forged = httpx.Client(base_url=url, cookies={"twin_session": "9999999999.abc.def"})
        assert forged.get("/web/api/profiles").status_code == 401


def test_changes_need_the_csrf_token_and_this_origin(serve_web, profile_dir):
    settings = Settings.of(profiles=profile_dir / "twin.yaml")
    before = (profile_dir / "twin.yaml").read_bytes()
    with serve_web(settings) as url, httpx.Client(base_url=url) as client:
        token = _csrf(client.get("/web").text)
        data = client.get("/web/api/profiles").json()
        body = {"authors": data["authors"]}

        assert client.put("/web/api/profiles", json=body).status_code == 403
        wrong = client.put("/web/api/profiles", json=body, headers={"X-CSRF-Token": "x" * 43})
        assert wrong.status_code == 403
        cross = client.put("/web/api/profiles", json=body,
                           headers={"X-CSRF-Token": token, "Origin": "https://evil.example"})
        assert cross.status_code == 403 and "Cross-site" in cross.json()["error"]
        assert (profile_dir / "twin.yaml").read_bytes() == before

        body["authors"][0]["web"] = {"articles": ["https://example.com/new-post"]}
        saved = client.put("/web/api/profiles", json=body,
                           headers={"X-CSRF-Token": token, "Origin": url})
        assert saved.status_code == 200
    on_disk = yaml.safe_load((profile_dir / "twin.yaml").read_text())
    assert on_disk["authors"][0]["web"] == {"articles": ["https://example.com/new-post"]}


def test_bad_profile_gets_422_per_field(serve_web, profile_dir):
    settings = Settings.of(profiles=profile_dir / "twin.yaml")
    before = (profile_dir / "twin.yaml").read_bytes()
    with serve_web(settings) as url, httpx.Client(base_url=url) as client:
        headers = {"X-CSRF-Token": _csrf(client.get("/web").text)}
        authors = client.get("/web/api/profiles").json()["authors"]
        authors[0]["substack"]["url"] = "boringml dot substack"
        response = client.put("/web/api/profiles", json={"authors": authors}, headers=headers)
        assert response.status_code == 422
        assert "malformed URL" in response.json()["errors"]["authors.0.substack.url"]
        assert client.put("/web/api/profiles", content=b"{", headers=headers).status_code == 422

        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as handle:
            handle.writestr("Shares.csv", "Date,ShareLink,ShareCommentary\n")
        upload = client.post("/web/api/profiles/exports", params={"author": "Tamsin Vale"},
                             content=archive.getvalue(), headers=headers)
        assert upload.status_code == 200 and (profile_dir / upload.json()["path"]).is_file()
        refused = client.post("/web/api/profiles/exports", params={"author": "Tamsin Vale"},
                              content=b"not a zip", headers=headers)
        assert refused.status_code == 422
    assert (profile_dir / "twin.yaml").read_bytes() == before


def test_unreachable_dagster_is_a_clear_503(serve_web, profile_dir):
    port = closed_port()
    settings = Settings.of(profiles=profile_dir / "twin.yaml", dagster_url=f"http://127.0.0.1:{port}")
    # The first status call loads the embedding model (the knowledge base is named after it):
    # seconds on a busy machine, so a client timeout above httpx's 5 s default.
    with serve_web(settings) as url, httpx.Client(base_url=url, timeout=60) as client:
        headers = {"X-CSRF-Token": _csrf(client.get("/web").text)}
        launched = client.post("/web/api/collection", headers=headers)
        assert launched.status_code == 503
        assert f"Dagster is not reachable at http://127.0.0.1:{port}" in launched.json()["error"]
        assert client.get("/web/api/collection/0b0ea334-dfb7").status_code == 503

        status = client.get("/web/api/status").json()
        assert "not reachable" in status["collection"]["error"]


def test_status_shows_the_production_model_and_its_evaluation(serve_web, profile_dir, tmp_path, monkeypatch):
    from twin_core.object_store import LocalFolderStore
    from twin_core.registry import twin_registry

    monkeypatch.setenv("TWIN_HOME", str(tmp_path / "home"))
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    registry = twin_registry(LocalFolderStore(Settings().store_root), "tamsin-vale")
    version = registry.register(model, {"metrics": {"rougeL": 0.41, "judge": {"nested": 1}}})
    registry.set_alias("production", version)

    # A Milvus that accepts the connection and never answers: the panel still shows the model.
    with socket.create_server(("127.0.0.1", 0)) as silent_milvus:
        settings = Settings.of(profiles=profile_dir / "twin.yaml", dagster_url=f"http://127.0.0.1:{closed_port()}",
                               milvus_uri=f"http://127.0.0.1:{silent_milvus.getsockname()[1]}")
        with serve_web(settings) as url:
            status = httpx.get(f"{url}/web/api/status", timeout=60).json()
    assert status["model"]["version"] == f"twin/tamsin-vale/{version}"
    assert status["model"]["metrics"] == {"rougeL": 0.41}
    assert status["knowledge_base"]["error"].startswith("The knowledge base did not answer within")
    assert "last_run_at" in status["collection"] or "error" in status["collection"]


def test_status_counts_the_chunks_answers_search(serve_web, profile_dir, chunk_collection, unique_collection):
    from tests.serving.stack import CHUNKS, chunk_rows

    settings = Settings.of(profiles=profile_dir / "twin.yaml", dagster_url=f"http://127.0.0.1:{closed_port()}",
                           milvus_uri=chunk_collection.uri, milvus_collection=unique_collection)
    with serve_web(settings, embedder=chunk_collection.embedder) as url:
        def knowledge_base() -> dict:
            return httpx.get(f"{url}/web/api/status", timeout=30).json()["knowledge_base"]

        assert f"no collection {unique_collection} yet" in knowledge_base()["error"]
        index = chunk_collection(CHUNKS[:4])
        assert knowledge_base() == {"chunks": 4, "collection": unique_collection}
        index.upsert(chunk_rows(chunk_collection.embedder, CHUNKS[4:]))
        index.refresh()
        assert knowledge_base()["chunks"] == len(CHUNKS)  # read live, not remembered
