"""The API's own pages: the web page's static files, the root, the docs (no model, no Milvus)."""

from __future__ import annotations

import httpx
import pytest

from tests.serving.conftest import serve
from tests.serving.stack import settings_for
from twin_serving.app import create_app


@pytest.fixture(scope="module")
def bare_api_url(tokenizer):
    """The API with nothing behind it: pages must not need Milvus or a model server."""
    app = create_app(settings_for("http://127.0.0.1:9"), embedder=object(), index=object(),
                     tokenizer=tokenizer, authors=[])
    with serve(app) as url:
        yield url


def test_static_files_are_served_with_nosniff_and_confined(bare_api_url):
    script = httpx.get(bare_api_url + "/web/static/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert script.headers["x-content-type-options"] == "nosniff"
    css = httpx.get(bare_api_url + "/web/static/style.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    for path in ("/web/static/../router.py", "/web/static/%2e%2e/router.py", "/web/static/nope.js"):
        assert httpx.get(bare_api_url + path).status_code == 404, path


def test_root_redirects_to_the_page(bare_api_url):
    reply = httpx.get(bare_api_url + "/", follow_redirects=False)
    assert reply.status_code == 307 and reply.headers["location"] == "/web"
    page = httpx.get(bare_api_url + "/", follow_redirects=True)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]


def test_docs_load_every_asset_from_this_server(bare_api_url):
    import re

    page = httpx.get(bare_api_url + "/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    urls += re.findall(r"""url: *["']([^"']+)["']""", page.text)
    assert urls and not [u for u in urls if u.startswith(("http:", "https:", "//"))], urls
    for url in urls:
        assert httpx.get(bare_api_url + url).status_code == 200, url
    assert "openapi" in httpx.get(bare_api_url + "/openapi.json").json()
    assert httpx.get(bare_api_url + "/redoc").status_code == 404  # ReDoc would need a CDN
