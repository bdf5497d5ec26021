"""Build platforms: which `linux/<arch>` an image is built for, and whether a service can run it.

ECS names a task's CPU architecture in the task definition's `runtimePlatform.cpuArchitecture`
(X86_64 or ARM64; Fargate runs X86_64 when it is absent). BuildKit names platforms
`linux/amd64` and `linux/arm64`. An image built for the one never starts on the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from releasectl.core.errors import EnvironmentProblem, UsageError

AMD64 = "linux/amd64"
ARM64 = "linux/arm64"
DEFAULT_PLATFORM = AMD64
_BY_ARCHITECTURE = {"X86_64": AMD64, "ARM64": ARM64}
# Every spelling a person or a tool is likely to use for the two architectures.
_ALIASES = {
    "linux/amd64": AMD64,
    "amd64": AMD64,
    "x86_64": AMD64,
    "x86-64": AMD64,
    "linux/arm64": ARM64,
    "linux/arm64/v8": ARM64,
    "arm64": ARM64,
    "aarch64": ARM64,
}


def parse_platform(value: Any, *, what: str = "platform") -> str:
    """`linux/amd64` or `linux/arm64` from any usual spelling; a usage error otherwise."""
    text = str(value).strip().lower()
    if text in _ALIASES:
        return _ALIASES[text]
    raise UsageError(
        f"{what}: {value!r} is not a platform Fargate runs",
        hint="use linux/amd64 or linux/arm64 (or leave it unset to follow the service)",
    )


def platform_of_task_definition(definition: Mapping[str, Any]) -> str:
    """The platform a task definition's tasks run on."""
    runtime = definition.get("runtimePlatform") or {}
    architecture = str(runtime.get("cpuArchitecture") or "X86_64").upper()
    if architecture not in _BY_ARCHITECTURE:
        raise EnvironmentProblem(f"task definition CPU architecture {architecture!r} is not X86_64 or ARM64")
    return _BY_ARCHITECTURE[architecture]


def require_same_platform(build: str, service: str, *, service_name: str, source: str) -> None:
    """Refuse (exit 4) a build the service could not run: nothing has been built or pushed yet."""
    if build != service:
        raise EnvironmentProblem(
            f"the image would be built for {build} ({source}) but service {service_name} runs {service}: "
            "its tasks could not start it",
            hint=f"unset platform to follow the service, or set it to {service}",
        )
