"""Image references: `[host[:port]/]path[:tag][@sha256:<hex>]` (which tags are releases: core.versions).

Pure: no I/O. Parsing follows Docker's reference grammar (distribution/reference) so a
reference that `docker pull` accepts parses here and formats back byte for byte; bad
input is a UsageError naming the part that is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from releasectl.core.errors import UsageError

# Docker's grammar. Path components are lower-case; the registry host is not. Always applied
# with fullmatch: `$` would let a trailing newline through.
_HOST_COMPONENT = r"(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])"
_HOST = rf"(?:{_HOST_COMPONENT}(?:\.{_HOST_COMPONENT})*|\[[0-9A-Fa-f:.]+\])"
_REGISTRY_RE = re.compile(rf"{_HOST}(?::[0-9]+)?")
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH_RE = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")
_NAME_MAX = 255

_ECR_HOST_RE = re.compile(
    r"(?P<account>[0-9]{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?"
)


@dataclass(frozen=True)
class ImageRef:
    repository: str  # the path, e.g. "team/app"
    registry: str | None = None  # "host[:port]"; None when the reference names none
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}" if self.registry else self.repository

    def __str__(self) -> str:
        return format_ref(self)

    def with_digest(self, digest: str) -> ImageRef:
        """The same image pinned by digest; the tag is dropped so nothing can float."""
        return replace(self, tag=None, digest=validate_digest(digest))

    @property
    def ecr(self) -> tuple[str, str] | None:
        """(account, region) when the registry is an ECR private registry."""
        return parse_ecr_registry(self.registry) if self.registry else None


def is_registry_host(component: str) -> bool:
    """Docker's rule for the part before the first `/`: a host when it has `.` or `:`,
    is `localhost`, or has upper case (which a repository path never has)."""
    return "." in component or ":" in component or component == "localhost" or component != component.lower()


def parse(text: str) -> ImageRef:
    """Parse an image reference; UsageError (exit 2) names what is wrong."""
    if not isinstance(text, str) or not text:
        raise UsageError("image reference is empty", hint="use [host[:port]/]repository[:tag][@sha256:<hex>]")
    if text != text.strip() or any(c.isspace() for c in text):
        raise UsageError(f"image reference {text!r} contains whitespace")
    rest, digest = text, None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        validate_digest(digest, what=f"digest in image reference {text!r}")
    tag = None
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
        validate_tag(tag, what=f"tag in image reference {text!r}")
    registry = None
    first, sep, remainder = rest.partition("/")
    if sep and is_registry_host(first):
        registry, rest = first, remainder
        if not _REGISTRY_RE.fullmatch(registry):
            raise UsageError(f"image reference {text!r}: {registry!r} is not a valid registry host[:port]")
    if not rest or not _PATH_RE.fullmatch(rest):
        raise UsageError(
            f"image reference {text!r}: repository {rest!r} is not valid",
            hint="repository paths are lower-case letters and digits separated by '/', '.', '_', '__' or '-'",
        )
    name = f"{registry}/{rest}" if registry else rest
    if len(name) > _NAME_MAX:
        raise UsageError(f"image reference {text!r}: name is longer than {_NAME_MAX} characters")
    return ImageRef(repository=rest, registry=registry, tag=tag, digest=digest)


def format_ref(ref: ImageRef) -> str:
    text = ref.name
    if ref.tag:
        text += f":{ref.tag}"
    if ref.digest:
        text += f"@{ref.digest}"
    return text


def with_digest(ref: str | ImageRef, digest: str) -> str:
    """`host/repo@sha256:…` for a reference and a digest; what ECS is given, never a tag."""
    parsed = parse(ref) if isinstance(ref, str) else ref
    return format_ref(parsed.with_digest(digest))


def validate_digest(digest: str, *, what: str = "image digest") -> str:
    if not isinstance(digest, str) or not _DIGEST_RE.fullmatch(digest):
        raise UsageError(f"{what} {digest!r} is not sha256:<64 lower-case hex digits>")
    return digest


def validate_tag(tag: str, *, what: str = "image tag") -> str:
    if not isinstance(tag, str) or not _TAG_RE.fullmatch(tag):
        raise UsageError(
            f"{what} {tag!r} is not a valid Docker tag",
            hint="up to 128 characters of letters, digits, '_', '.' and '-', not starting with '.' or '-'",
        )
    return tag


def ecr_registry(account: str, region: str) -> str:
    """The private registry host of an account in a region."""
    return f"{account}.dkr.ecr.{region}.amazonaws.com"


def parse_ecr_registry(host: str) -> tuple[str, str] | None:
    match = _ECR_HOST_RE.fullmatch(host)
    return (match["account"], match["region"]) if match else None
