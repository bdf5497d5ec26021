"""A stand-in for GitHub's REST API releases: an http.server on 127.0.0.1 (a free port) that the
test starts and stops as an object, speaking the shapes GitHub documents for API version
2022-11-28.

- ``GET /repos/{owner}/{repo}/releases/tags/{tag}``: 200 and the release; 404 when the tag has no
  published release (drafts are not returned by tag, as on GitHub).
- ``POST /repos/{owner}/{repo}/releases``: 201, a ``Location`` header and the release; 422
  ``Validation Failed`` with ``{"resource": "Release", "code": "already_exists", "field":
  "tag_name"}`` when the tag has a release already, a draft included.
- ``PATCH /repos/{owner}/{repo}/releases/{release_id}``: 200 and the release; 404 for an unknown id.
- Every call: 401 ``Bad credentials`` for a wrong token (``Requires authentication`` for none),
  404 ``Not Found`` for a repository it does not hold, and, once ``rate_limited`` is set, 403
  ``API rate limit exceeded`` with ``x-ratelimit-remaining: 0`` and the reset time. Every answer
  carries the ``x-ratelimit-*`` headers.

Every request is recorded (method, path, headers, JSON body) for the test to read.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

API_VERSION = "2022-11-28"
DOCS = "https://docs.github.com/rest/releases/releases"
_PATH = re.compile(r"/repos/(?P<repo>[^/]+/[^/]+)/releases(?:/tags/(?P<tag>[^/]+)|/(?P<id>[^/]+))?")
_LIMIT = 5000


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: Any
    status: int = 0


@dataclass
class GitHubStandin:
    token: str = "standin-token"
    repositories: tuple[str, ...] = ("example/shop",)
    rate_limited: bool = False
    requests: list[Recorded] = field(default_factory=list)
    _releases: dict[int, dict[str, Any]] = field(default_factory=dict)
    _latest: dict[str, int] = field(default_factory=dict)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _used: int = 0

    # ------------------------------------------------------------------------- life

    def start(self) -> GitHubStandin:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                standin._handle(self, "GET")

            def do_POST(self) -> None:
                standin._handle(self, "POST")

            def do_PATCH(self) -> None:
                standin._handle(self, "PATCH")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="github-standin",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> GitHubStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start the stand-in first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # ------------------------------------------------------------------------- state for tests

    def add_release(
        self, repository: str, tag: str, *, body: str = "", draft: bool = False
    ) -> dict[str, Any]:
        """A release made elsewhere (by hand, another tool): a draft is invisible by tag."""
        with self._lock:
            return self._create(repository, {"tag_name": tag, "name": tag, "body": body, "draft": draft})

    def edit_release(self, repository: str, tag: str, *, body: str) -> None:
        """Someone edits a release's notes on GitHub by hand."""
        with self._lock:
            for release in self._releases.values():
                if release["_repository"] == repository and release["tag_name"] == tag:
                    release["body"] = body

    def releases_of(self, repository: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._releases.values() if r["_repository"] == repository]

    def latest(self, repository: str) -> str | None:
        """The tag GitHub would mark "Latest" (set by make_latest)."""
        with self._lock:
            found = self._latest.get(repository)
            return None if found is None else str(self._releases[found]["tag_name"])

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method in ("POST", "PATCH")]

    # ------------------------------------------------------------------------- the API

    def _handle(self, http: BaseHTTPRequestHandler, method: str) -> None:
        length = int(http.headers.get("Content-Length") or 0)
        raw = http.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in http.headers.items()}
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = ValueError
        record = Recorded(method, http.path, headers, None if body is ValueError else body)
        with self._lock:
            self.requests.append(record)
            status, payload, extra = self._answer(method, http.path, headers, body)
            self._used += 1
        record.status = status
        data = json.dumps(payload).encode()
        http.send_response(status)
        http.send_header("Content-Type", "application/json; charset=utf-8")
        http.send_header("Content-Length", str(len(data)))
        http.send_header("x-github-api-version-selected", API_VERSION)
        remaining = 0 if self.rate_limited else max(_LIMIT - self._used, 0)
        for name, value in {
            "x-ratelimit-limit": str(_LIMIT),
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-used": str(_LIMIT - remaining),
            "x-ratelimit-reset": str(int(time.time()) + 1800),
            "x-ratelimit-resource": "core",
            **extra,
        }.items():
            http.send_header(name, value)
        http.end_headers()
        http.wfile.write(data)

    def _answer(
        self, method: str, path: str, headers: dict[str, str], body: Any
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        version = headers.get("x-github-api-version")
        if version is not None and version != API_VERSION:
            return 400, _error(f"Unsupported 'X-GitHub-Api-Version' header: {version}", "400"), {}
        auth = headers.get("authorization", "")
        scheme, _, given = auth.partition(" ")
        if not auth:
            return 401, _error("Requires authentication", "401", "https://docs.github.com/rest"), {}
        if scheme.lower() not in ("bearer", "token") or given != self.token:
            return 401, _error("Bad credentials", "401", "https://docs.github.com/rest"), {}
        if self.rate_limited:
            return (
                403,
                _error(
                    "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, "
                    "please include the request ID 0000:0000:0000000:0000000:00000000.",
                    "403",
                    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                ),
                {},
            )
        match = _PATH.fullmatch(path.split("?", 1)[0])
        if match is None or match["repo"] not in self.repositories:
            return 404, _error("Not Found", "404", DOCS), {}
        repository = match["repo"]
        if method == "GET" and match["tag"] is not None:
            tag = unquote(match["tag"])
            for release in self._releases.values():
                if (
                    release["_repository"] == repository
                    and release["tag_name"] == tag
                    and not release["draft"]
                ):
                    return 200, _public(release), {}
            return 404, _error("Not Found", "404", f"{DOCS}#get-a-release-by-tag-name"), {}
        if method == "POST" and match["tag"] is None and match["id"] is None:
            return self._post(repository, body)
        if method == "PATCH" and match["id"] is not None:
            return self._patch(repository, match["id"], body)
        return 404, _error("Not Found", "404", DOCS), {}

    def _post(self, repository: str, body: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
        if body is ValueError or not isinstance(body, dict):
            return 400, _error("Problems parsing JSON", "400", f"{DOCS}#create-a-release"), {}
        if not body.get("tag_name"):
            return (
                422,
                _error('Invalid request.\n\n"tag_name" wasn\'t supplied.', "422", f"{DOCS}#create-a-release"),
                {},
            )
        if body.get("make_latest", "true") not in ("true", "false", "legacy"):
            return 422, _validation("make_latest", "invalid"), {}
        taken = any(
            r["_repository"] == repository and r["tag_name"] == body["tag_name"]
            for r in self._releases.values()
        )
        if taken:
            return 422, _validation("tag_name", "already_exists"), {}
        release = self._create(repository, body)
        return 201, _public(release), {"Location": release["url"]}

    def _patch(self, repository: str, raw_id: str, body: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
        release = self._releases.get(int(raw_id)) if raw_id.isdigit() else None
        if release is None or release["_repository"] != repository:
            return 404, _error("Not Found", "404", f"{DOCS}#update-a-release"), {}
        if body is ValueError or not isinstance(body, dict):
            return 400, _error("Problems parsing JSON", "400", f"{DOCS}#update-a-release"), {}
        if body.get("make_latest", "true") not in ("true", "false", "legacy"):
            return 422, _validation("make_latest", "invalid"), {}
        for key in ("tag_name", "target_commitish", "name", "body", "draft", "prerelease"):
            if key in body:
                release[key] = body[key]
        if body.get("make_latest") == "true" and not release["draft"] and not release["prerelease"]:
            self._latest[repository] = int(release["id"])
        return 200, _public(release), {}

    def _create(self, repository: str, body: dict[str, Any]) -> dict[str, Any]:
        number = len(self._releases) + 1
        tag = str(body["tag_name"])
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        api = f"https://api.github.com/repos/{repository}/releases/{number}"
        draft = bool(body.get("draft", False))
        release = {
            "url": api,
            "html_url": f"https://github.com/{repository}/releases/tag/{tag}",
            "assets_url": f"{api}/assets",
            "upload_url": f"https://uploads.github.com/repos/{repository}/releases/{number}/assets{{?name,label}}",
            "tarball_url": f"https://api.github.com/repos/{repository}/tarball/{tag}",
            "zipball_url": f"https://api.github.com/repos/{repository}/zipball/{tag}",
            "id": number,
            "node_id": f"RE_standin{number}",
            "tag_name": tag,
            "target_commitish": body.get("target_commitish") or "main",
            "name": body.get("name"),
            "body": body.get("body"),
            "draft": draft,
            "prerelease": bool(body.get("prerelease", False)),
            "created_at": now,
            "published_at": None if draft else now,
            "author": {"login": "release-bot", "id": 1, "type": "Bot"},
            "assets": [],
            "_repository": repository,
        }
        self._releases[number] = release
        if body.get("make_latest", "true") == "true" and not draft and not release["prerelease"]:
            self._latest[repository] = number
        return release


def _public(release: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in release.items() if not key.startswith("_")}


def _error(message: str, status: str, docs: str = DOCS) -> dict[str, Any]:
    return {"message": message, "documentation_url": docs, "status": status}


def _validation(field_name: str, code: str) -> dict[str, Any]:
    return {
        "message": "Validation Failed",
        "errors": [{"resource": "Release", "code": code, "field": field_name}],
        "documentation_url": f"{DOCS}#create-a-release",
        "status": "422",
    }
