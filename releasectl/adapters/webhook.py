"""POST a JSON body to a webhook (a Slack incoming webhook, or anything that takes JSON), with the
standard library's urllib.

The URL is a secret: no error raised here carries it, its path or its query. https only, except
http to this machine (a local stand-in in tests).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from releasectl import __version__

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class WebhookError(Exception):
    """The body was not delivered; the message names no part of the URL but its host."""


def check_url(url: str) -> str:
    """The URL's host, for messages; WebhookError when it is no https URL (or http to this machine)."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        raise WebhookError("not a URL") from None
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return host
    if parts.scheme == "http" and host in LOCAL_HOSTS:
        return host
    raise WebhookError("not an https URL (http is accepted to this machine only)")


def post_json(url: str, body: Mapping[str, Any], *, timeout: float) -> int:
    """Send `body`; the HTTP status (2xx). WebhookError for anything else, the URL never in it."""
    host = check_url(url)
    data = json.dumps(body).encode("utf-8")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above  # nosec B310
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": f"releasectl/{__version__}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310  # nosec B310
            response.read()
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        raise WebhookError(f"{host} answered HTTP {exc.code}") from None
    except TimeoutError:
        raise WebhookError(f"{host} did not answer within {timeout:g} s") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            raise WebhookError(f"{host} did not answer within {timeout:g} s") from None
        raise WebhookError(f"{host} could not be reached ({reason.__class__.__name__})") from None
    except OSError as exc:
        raise WebhookError(f"{host}: {exc.__class__.__name__}") from None
    if not 200 <= status < 300:
        raise WebhookError(f"{host} answered HTTP {status}")
    return status
