"""The GitHub REST API's releases, over the standard library's urllib (docs/release-notes.md).

Three calls, in the shapes GitHub documents (API version 2022-11-28): get a release by tag
(``GET /repos/{owner}/{repo}/releases/tags/{tag}``, 404 when there is none), create one
(``POST /repos/{owner}/{repo}/releases``, 201; 422 ``already_exists`` when the tag has a release
already, a draft included), update one (``PATCH /repos/{owner}/{repo}/releases/{id}``, 200).
Every failure becomes one GitHubError whose message names what GitHub said and what to do:
401 a rejected token, 403 or 429 with ``x-ratelimit-remaining: 0`` a spent rate limit (with the
time it resets), 404 a repository the token cannot see. The token goes in the Authorization
header only; no message, repr or URL carries it.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from releasectl import __version__
from releasectl.core.errors import OperationFailed

if TYPE_CHECKING:
    from email.message import Message

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
_TIMEOUT = 15.0
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_REPOSITORY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}")


class GitHubError(OperationFailed):
    """GitHub answered with an error, or could not be reached."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        rate_limited: bool = False,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.code = code  # the first error code of a 422 (already_exists, missing_field, ...)
        self.rate_limited = rate_limited


@dataclass(frozen=True)
class GitHubRelease:
    id: int
    tag_name: str
    name: str | None
    body: str | None
    draft: bool
    prerelease: bool
    html_url: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GitHubRelease:
        return cls(
            id=int(data["id"]),
            tag_name=str(data["tag_name"]),
            name=data.get("name"),
            body=data.get("body"),
            draft=bool(data.get("draft", False)),
            prerelease=bool(data.get("prerelease", False)),
            html_url=data.get("html_url"),
        )


class GitHubClient:
    """The releases of one repository, with one token."""

    def __init__(
        self, repository: str, token: str, *, api_url: str = DEFAULT_API_URL, timeout: float = _TIMEOUT
    ) -> None:
        if not _REPOSITORY.fullmatch(repository):
            raise GitHubError(f"{repository!r} is not a GitHub repository (owner/name)")
        self.repository = repository
        self.api_url = api_url.rstrip("/")
        self._token = token
        self._timeout = timeout
        host = urllib.parse.urlsplit(self.api_url).hostname or ""
        # A stand-in on this machine is reached directly, whatever proxy the environment names.
        handlers = [urllib.request.ProxyHandler({})] if host in _LOOPBACK else []
        self._opener = urllib.request.build_opener(*handlers)

    def __repr__(self) -> str:
        return f"GitHubClient({self.repository!r}, api_url={self.api_url!r})"

    # ------------------------------------------------------------------------- the three calls

    def release_by_tag(self, tag: str) -> GitHubRelease | None:
        """The published release of ``tag``, or None (GitHub does not return drafts by tag)."""
        try:
            data = self._request("GET", f"/releases/tags/{_quote(tag)}", what=f"read the release of {tag}")
        except GitHubError as exc:
            if exc.status == 404:
                return None
            raise
        return GitHubRelease.from_json(data)

    def create_release(
        self,
        tag: str,
        *,
        commit: str,
        name: str,
        body: str,
        prerelease: bool,
        make_latest: str | None = None,
    ) -> GitHubRelease:
        payload: dict[str, Any] = {
            "tag_name": tag,
            # Used only when GitHub lacks the tag: it is then created on this commit, not a branch tip.
            "target_commitish": commit,
            "name": name,
            "body": body,
            "draft": False,
            "prerelease": prerelease,
        }
        if make_latest is not None:
            payload["make_latest"] = make_latest
        return GitHubRelease.from_json(
            self._request("POST", "/releases", payload, what=f"create a release for {tag}")
        )

    def update_release(
        self, release_id: int, *, name: str, body: str, prerelease: bool, make_latest: str | None = None
    ) -> GitHubRelease:
        payload: dict[str, Any] = {"name": name, "body": body, "prerelease": prerelease}
        if make_latest is not None:
            payload["make_latest"] = make_latest
        data = self._request(
            "PATCH", f"/releases/{int(release_id)}", payload, what=f"update release {release_id}"
        )
        return GitHubRelease.from_json(data)

    # ------------------------------------------------------------------------- the wire

    def _request(
        self, method: str, path: str, payload: Mapping[str, Any] | None = None, *, what: str
    ) -> dict[str, Any]:
        url = f"{self.api_url}/repos/{self.repository}{path}"
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (http(s) only, checked in config)
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("X-GitHub-Api-Version", API_VERSION)
        request.add_header("User-Agent", f"releasectl/{__version__}")
        request.add_header("Authorization", f"Bearer {self._token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                return _json_object(response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                body = _json_object(exc.read())
            raise self._error(exc.code, body, exc.headers, what=what) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise GitHubError(
                f"cannot reach GitHub at {self.api_url}: {reason}",
                hint="check the network and github_api_url",
            ) from None

    def _error(
        self, status: int, body: Mapping[str, Any], headers: Message[str, str], *, what: str
    ) -> GitHubError:
        said = str(body.get("message") or "").strip() or "no message"
        if status in (403, 429) and headers.get("x-ratelimit-remaining") == "0":
            return GitHubError(
                f"GitHub's API rate limit is spent ({status}, x-ratelimit-remaining: 0); "
                f"it resets {_reset_time(headers.get('x-ratelimit-reset'))}",
                status=status,
                rate_limited=True,
                hint="publish it later by running the release again",
            )
        if status in (403, 429) and headers.get("retry-after"):
            return GitHubError(
                f"GitHub's secondary rate limit refused to {what} ({status} {said}); "
                f"retry after {headers['retry-after']} s",
                status=status,
                rate_limited=True,
            )
        if status == 401:
            return GitHubError(
                f"GitHub rejected the token (401 {said})",
                status=status,
                hint="the token is wrong, expired or revoked",
            )
        if status == 403:
            return GitHubError(
                f"GitHub refused to {what} (403 {said})",
                status=status,
                hint=f"the token needs contents: write on {self.repository}",
            )
        if status == 404:
            return GitHubError(
                f"GitHub could not {what} in {self.repository} (404 {said})",
                status=status,
                hint="check github_repository, and that the token can see the repository",
            )
        if status == 422:
            errors = [e for e in body.get("errors", []) if isinstance(e, Mapping)]
            code = str(errors[0].get("code")) if errors else None
            detail = "; ".join(
                " ".join(str(e[k]) for k in ("resource", "field", "code", "message") if e.get(k))
                for e in errors
            )
            return GitHubError(
                f"GitHub refused to {what} (422 {said}{': ' + detail if detail else ''})",
                status=status,
                code=code,
            )
        return GitHubError(f"GitHub could not {what} ({status} {said})", status=status)


def _quote(text: str) -> str:
    return urllib.parse.quote(text, safe="")


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw.decode("utf-8", "replace")) if raw.strip() else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _reset_time(value: str | None) -> str:
    if not value or not value.strip().isdigit():
        return "within the hour"
    stamp = int(value.strip())
    return f"at {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(stamp))}"


# ----------------------------------------------------------------------------- which repository


def web_host(api_url: str) -> str:
    """The host a repository's remote URL names for this API: github.com for api.github.com, the
    server itself for GitHub Enterprise Server (https://HOST/api/v3)."""
    host = (urllib.parse.urlsplit(api_url).hostname or "").lower()
    return "github.com" if host == "api.github.com" else host


def repository_of_remote(url: str, host: str) -> str | None:
    """owner/name of a remote URL on ``host`` (https, ssh or scp-like), or None for any other."""
    text = url.strip()
    scp = re.fullmatch(r"(?:[^@/:]+@)?(?P<host>[^/:]+):(?P<path>[^/].*)", text)
    if "://" in text:
        parts = urllib.parse.urlsplit(text)
        found_host, path = (parts.hostname or ""), parts.path
    elif scp:
        found_host, path = scp["host"], scp["path"]
    else:
        return None
    if found_host.lower() != host.lower():
        return None
    name = path.strip("/").removesuffix(".git")
    return name if _REPOSITORY.fullmatch(name) else None
