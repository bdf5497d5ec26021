"""One HTTP GET with a timeout, for checking a service through its load balancer (standard library only)."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request

from releasectl import __version__
from releasectl.core.verification import Answer

_MAX_BODY = 64 * 1024  # a /version or /healthz answer is small; never read more than this
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def get(url: str, *, timeout: float) -> Answer:
    """GET `url`: its status and body, an HTTP error's status, or why nothing came back."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return Answer(status=None, error=f"{url!r} is not an http(s) URL")
    # A load balancer on this machine (the sandbox's) is reached directly, whatever proxy is set.
    handlers = [urllib.request.ProxyHandler({})] if parts.hostname in _LOOPBACK else []
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(url, method="GET")  # noqa: S310 (http(s) only, checked above)
    request.add_header("User-Agent", f"releasectl/{__version__} (verify)")
    request.add_header("Cache-Control", "no-cache")
    try:
        with opener.open(request, timeout=timeout) as response:
            return Answer(status=int(response.status), body=response.read(_MAX_BODY))
    except urllib.error.HTTPError as exc:
        with exc:
            return Answer(status=int(exc.code), body=exc.read(_MAX_BODY))
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        return Answer(status=None, error=str(getattr(exc, "reason", exc)))
