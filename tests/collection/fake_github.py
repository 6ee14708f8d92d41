"""A fake GitHub REST API on the loopback server, shaped like the real one: paginated repository
lists with ``Link`` headers and ETags (304 on ``If-None-Match``, not counted), the rate-limit
headers on every answer and a 403 once the budget is spent, repository objects, and tarballs
behind a redirect to a codeload path, holding a ``<owner>-<repo>-<sha>/`` top folder."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
import time
from dataclasses import dataclass, field

from tests.fixtures.loopback import Loopback, Reply, Request

LIST = "/users/{user}/repos?per_page=100&type=owner&sort=full_name"


def tarball(top: str, files: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        folder = tarfile.TarInfo(top)
        folder.type = tarfile.DIRTYPE
        archive.addfile(folder)
        for path, data in files.items():
            info = tarfile.TarInfo(f"{top}/{path}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for path, target in (links or {}).items():
            info = tarfile.TarInfo(f"{top}/{path}")
            info.type = tarfile.SYMTYPE
            info.linkname = target
            archive.addfile(info)
    return buffer.getvalue()


@dataclass
class FakeGitHub:
    server: Loopback
    limit: int = 60
    used: int = 0
    reset: int = field(default_factory=lambda: int(time.time()) + 3600)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def api(self) -> str:
        return self.server.base

    def _rate_headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - self.used)),
            "X-RateLimit-Reset": str(self.reset),
            "X-RateLimit-Used": str(self.used),
            "X-RateLimit-Resource": "core",
        }

    def _counted(self, reply: Reply, request: Request) -> Reply:
        with self.lock:
            etag = reply.headers.get("ETag")
            if etag and request.headers.get("if-none-match") == etag:
                return Reply(304, b"", {"ETag": etag, **self._rate_headers()}, content_type="")
            if self.used >= self.limit:
                body = json.dumps({"message": "API rate limit exceeded for 127.0.0.1.", "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"})
                return Reply(403, body, self._rate_headers(), "application/json; charset=utf-8")
            self.used += 1
            return Reply(reply.status, reply.body, {**reply.headers, **self._rate_headers()}, reply.content_type)

    def route(self, path: str, reply: Reply) -> None:
        self.server.route(path, lambda request, conn: self._counted(reply, request))

    def json(self, path: str, data: object, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(data)
        etag = '"' + hashlib.sha1(body.encode()).hexdigest() + '"'
        self.route(path, Reply(200, body, {"ETag": etag, **(headers or {})}, "application/json; charset=utf-8"))

    def repos(self, user: str, repos: list[dict], per_page: int = 100) -> None:
        """The listing of ``user``'s repositories, ``per_page`` a page, linked by ``Link``."""
        first = LIST.format(user=user)
        pages = [repos[i:i + per_page] for i in range(0, len(repos), per_page)] or [[]]
        for number, page in enumerate(pages, 1):
            path = first if number == 1 else f"/user/1/repos?per_page=100&type=owner&page={number}"
            links = []
            if number < len(pages):
                links.append(f'<{self.api}/user/1/repos?per_page=100&type=owner&page={number + 1}>; rel="next"')
                links.append(f'<{self.api}/user/1/repos?per_page=100&type=owner&page={len(pages)}>; rel="last"')
            self.json(path, page, {"Link": ", ".join(links)} if links else None)

    def repository(self, repo: dict, files: dict[str, bytes], links: dict[str, str] | None = None, ref: str | None = None) -> None:
        """The repository object and its tarball (for ``ref``, default its default branch)."""
        full_name = repo.get("full_name") or f"{repo['owner']['login']}/{repo['name']}"
        self.json(f"/repos/{full_name}", repo)
        ref = ref or repo.get("default_branch") or repo.get("master_branch")
        sha = hashlib.sha1(full_name.encode()).hexdigest()[:7]
        codeload = f"/codeload/{full_name}/legacy.tar.gz/{ref or 'HEAD'}"
        tail = f"/{ref}" if ref else ""
        self.route(f"/repos/{full_name}/tarball{tail}", Reply(302, b"", {"Location": f"{self.api}{codeload}"}))
        data = tarball(f"{full_name.replace('/', '-')}-{sha}", files, links)
        # codeload.github.com is another host, not counted against the API limit.
        self.server.route(codeload, Reply(200, data, {}, "application/x-gzip"))


def repo_object(full_name: str, **fields: object) -> dict:
    """A repository object as today's API returns it (the fields the crawler may read)."""
    owner, name = full_name.split("/")
    return {
        "id": int(hashlib.sha1(full_name.encode()).hexdigest()[:6], 16), "node_id": "R_kgDO" + name,
        "name": name, "full_name": full_name, "private": False,
        "owner": {"login": owner, "id": 1, "type": "User"},
        "html_url": f"https://github.com/{full_name}", "description": None, "fork": False,
        "url": f"https://api.github.com/repos/{full_name}", "default_branch": "main",
        "pushed_at": "2024-05-01T10:00:00Z", "size": 120, "language": "Python", "archived": False,
        **fields,
    }
