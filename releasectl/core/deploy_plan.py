"""Deploy and rollback plans: what will be registered and what the service will point at.

Pure: a plan is data built from describe outputs and the release ledger, so it can be shown
(`--dry-run`) or executed (releasectl.commands.deploy) separately. No boto3, no I/O; candidate
revisions arrive as an iterable, and iteration stops as soon as a choice is made, so a lazy
iterable that describes one revision per step costs no more calls than needed.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from releasectl.core import imageref
from releasectl.core.errors import EnvironmentProblem, UsageError
from releasectl.core.ledger import Release
from releasectl.core.rollout import steady_on
from releasectl.core.service_shape import Change
from releasectl.core.versions import COMMIT_TAG, OUTCOME_TAG, RELEASECTL_TAG_PREFIX, VERSION_TAG

# describe_task_definition fields that register_task_definition does not take. Everything
# else is copied: if AWS adds a new read-only field, registration fails loudly at the
# parameter check instead of silently dropping a setting the service relies on.
READ_ONLY_FIELDS = frozenset(
    {
        "taskDefinitionArn",
        "revision",
        "status",
        "requiresAttributes",
        "compatibilities",
        "registeredAt",
        "registeredBy",
        "deregisteredAt",
        "deleteRequestedAt",
    }
)

# How many recent ACTIVE revisions `rollback --to` inspects for one already running the
# target digest before registering a fresh revision instead (each inspection is one call).
REUSE_SCAN = 10


def resolve_release(releases: Sequence[Release], version: str | None) -> Release:
    """The release to deploy: the named one, or the newest. Exit 4 when it cannot be deployed."""
    if not releases:
        raise EnvironmentProblem(
            "the release ledger holds no versions",
            hint="publish one first (`releasectl release`); `releasectl releases` shows the ledger",
        )
    if version is None:
        chosen = max(releases, key=lambda r: r.key)
    else:
        found = next((r for r in releases if r.version == version), None)
        if found is None:
            newest = ", ".join(r.version for r in sorted(releases, key=lambda r: r.key, reverse=True)[:5])
            raise EnvironmentProblem(
                f"version {version} is not in the release ledger (newest: {newest})",
                hint="`releasectl releases` lists every released version",
            )
        chosen = found
    if not chosen.digest:
        raise EnvironmentProblem(
            f"version {chosen.version} has no image in ECR (known from git tags only)",
            hint="build and publish it with `releasectl release`, or pick another version",
        )
    return chosen


@dataclass(frozen=True)
class Revision:
    """One task-definition revision as describe_task_definition(include=["TAGS"]) returns it."""

    definition: Mapping[str, Any]
    tags: Mapping[str, str]

    @classmethod
    def from_response(cls, response: Mapping[str, Any]) -> Revision:
        tags = {str(t["key"]): str(t["value"]) for t in response.get("tags") or () if "key" in t}
        return cls(definition=response["taskDefinition"], tags=tags)

    @property
    def arn(self) -> str:
        return str(self.definition["taskDefinitionArn"])

    @property
    def family(self) -> str:
        return str(self.definition.get("family") or family_of(self.arn))

    @property
    def number(self) -> int:
        return int(self.definition.get("revision") or revision_of(self.arn))

    @property
    def status(self) -> str:
        return str(self.definition.get("status") or "ACTIVE")

    @property
    def version(self) -> str | None:
        return self.tags.get(VERSION_TAG)

    @property
    def commit(self) -> str | None:
        return self.tags.get(COMMIT_TAG)

    @property
    def outcome(self) -> str | None:
        return self.tags.get(OUTCOME_TAG)

    def container_names(self) -> list[str]:
        return [str(c.get("name")) for c in self.definition.get("containerDefinitions") or ()]

    def image(self, container_name: str) -> str | None:
        for container in self.definition.get("containerDefinitions") or ():
            if container.get("name") == container_name:
                return str(container.get("image") or "") or None
        return None

    def digest(self, container_name: str) -> str | None:
        return digest_of(self.image(container_name))


def digest_of(image: str | None) -> str | None:
    """The digest an image reference is pinned to, or None for a tag (or an unparseable name)."""
    if not image:
        return None
    try:
        return imageref.parse(image).digest
    except UsageError:
        return None


def family_of(arn: str) -> str:
    return arn.rsplit("/", 1)[-1].split(":", 1)[0]


def revision_of(arn: str) -> int:
    tail = arn.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def require_container(revision: Revision, container_name: str) -> None:
    names = revision.container_names()
    if container_name not in names:
        raise UsageError(
            f"task definition {revision.arn} has no container named {container_name!r} "
            f"(its containers: {', '.join(names) or 'none'})",
            hint="set container_name / RELEASECTL_CONTAINER_NAME to the service's own container",
        )


def new_revision_input(
    current: Revision, *, container_name: str, image: str, version: str, commit: str | None
) -> dict[str, Any]:
    """register_task_definition arguments: the current definition with one image replaced."""
    require_container(current, container_name)
    body = {k: copy.deepcopy(v) for k, v in current.definition.items() if k not in READ_ONLY_FIELDS}
    body["containerDefinitions"] = [
        {**container, "image": image} if container.get("name") == container_name else container
        for container in body.get("containerDefinitions") or ()
    ]
    # The old revision's releasectl tags (its outcome above all) describe that revision, not
    # this one; aws: tags are reserved and cannot be set.
    tags = [
        {"key": key, "value": value}
        for key, value in current.tags.items()
        if not key.startswith((RELEASECTL_TAG_PREFIX, "aws:"))
    ]
    tags.append({"key": VERSION_TAG, "value": version})
    if commit:
        tags.append({"key": COMMIT_TAG, "value": commit})
    body["tags"] = tags
    return body


class Action(StrEnum):
    REGISTER = "register"  # register a new revision, then point the service at it
    REUSE = "reuse"  # point the service at an existing ACTIVE revision
    NOOP = "noop"  # the service already runs this digest, steadily
    CREATE = "create"  # register the first revision and create the service (service definition)
    SETTINGS = "settings"  # same revision; only the service's own settings change (service definition)


@dataclass(frozen=True)
class DeployPlan:
    command: str  # "deploy" or "rollback"
    cluster: str
    service: str
    container_name: str
    release: Release
    current: Revision | None  # None: the service does not exist yet (CREATE)
    action: Action
    image: str  # what the container will run: repo@sha256:…
    reason: str
    task_definition: str | None = None  # REUSE / NOOP / SETTINGS: the revision the service will run
    register_input: Mapping[str, Any] | None = None  # REGISTER, CREATE
    # From a service definition: the service's own settings (update_service / create_service
    # arguments) and the owned fields that change, in the definition's vocabulary.
    service_settings: Mapping[str, Any] | None = None
    create_input: Mapping[str, Any] | None = None  # CREATE, without the task definition
    changes: tuple[Change, ...] = ()

    @property
    def digest(self) -> str:
        return str(self.release.digest)

    @property
    def previous_task_definition(self) -> str | None:
        return self.current.arn if self.current else None

    def lines(self) -> list[str]:
        """The plan in words, for a dry run or a log."""
        family = self.register_input.get("family") if self.register_input else None
        family = family or (self.current.family if self.current else "?")
        target = self.task_definition or f"a new revision of {family}"
        running = (
            f"{self.current.arn} ({self.current.version or 'unversioned'})"
            if self.current
            else "nothing: the service does not exist yet"
        )
        lines = [
            f"{self.command} {self.release.version} ({self.digest}) to service {self.service} "
            f"in cluster {self.cluster}",
            f"  running now  {running}",
            f"  action       {self.action.value}: {self.reason}",
            f"  will run     {target}",
            f"  container    {self.container_name} -> {self.image}",
        ]
        lines += [
            f"  change       {describe_change(c)}" for c in self.changes if not c.field.endswith(".image")
        ]
        return lines

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action.value,
            "reason": self.reason,
            "service": self.service,
            "cluster": self.cluster,
            "running": self.previous_task_definition,
            "task_definition": self.task_definition,
            "image": self.image,
            "changes": [
                {"field": c.field, "kind": c.kind, "before": c.before, "after": c.after} for c in self.changes
            ],
        }


def describe_change(change: Change) -> str:
    """One field's change in words; secrets show their names and references, never values."""
    if change.kind == "added":
        return f"{change.field}: added {change.after!r}"
    if change.kind == "removed":
        return f"{change.field}: removed (was {change.before!r})"
    return f"{change.field}: {change.before!r} -> {change.after!r}"


def plan_deploy(
    *,
    command: str,
    cluster: str,
    service: str,
    container_name: str,
    snapshot: Mapping[str, Any],
    current: Revision,
    release: Release,
    repository_uri: Callable[[], str],
    reuse_candidates: Iterable[Revision] = (),
) -> DeployPlan:
    """Decide how to make the service run `release`'s digest.

    Nothing to do when the current revision already runs that digest steadily. Otherwise an
    ACTIVE revision already running it is reused (never an INACTIVE one: update_service
    refuses those on AWS), else a new revision is registered from the CURRENT definition.
    """
    require_container(current, container_name)
    digest = imageref.validate_digest(str(release.digest))

    def make(action: Action, image: str, reason: str, **rest: Any) -> DeployPlan:
        return DeployPlan(
            command=command,
            cluster=cluster,
            service=service,
            container_name=container_name,
            release=release,
            current=current,
            action=action,
            image=image,
            reason=reason,
            **rest,
        )

    if current.digest(container_name) == digest and steady_on(snapshot, current.arn):
        return make(
            Action.NOOP,
            str(current.image(container_name)),
            f"the service already runs {release.version} steadily",
            task_definition=current.arn,
        )
    reusable = find_reusable(reuse_candidates, digest=digest, container_name=container_name, current=current)
    if reusable is not None:
        return make(
            Action.REUSE,
            str(reusable.image(container_name)),
            f"ACTIVE revision {reusable.number} already runs this digest",
            task_definition=reusable.arn,
        )
    image = imageref.with_digest(repository_uri(), digest)
    body = new_revision_input(
        current, container_name=container_name, image=image, version=release.version, commit=release.commit
    )
    return make(
        Action.REGISTER,
        image,
        f"new revision of {current.family} from revision {current.number}; only {container_name!r} changes",
        register_input=body,
    )


def find_reusable(
    candidates: Iterable[Revision], *, digest: str, container_name: str, current: Revision
) -> Revision | None:
    """The first candidate that is ACTIVE, is not the running revision (pointing the service
    at what it already runs starts no deployment) and pins this container to the digest."""
    for candidate in candidates:
        if candidate.arn == current.arn or candidate.status != "ACTIVE":
            continue
        if candidate.digest(container_name) == digest:
            return candidate
    return None
