"""Deploy plans from the service definition: the file plus the release's digest decide the revision.

Where releasectl.core.deploy_plan copies the running revision and replaces one image, this
renders the whole task definition and the service's own settings from the definition, compares
them with what runs (releasectl.core.service_shape) and picks the least that makes them equal:
nothing, the settings only, a new revision, or — when the service does not exist yet — creating it.
Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from releasectl.core import imageref
from releasectl.core.deploy_plan import Action, DeployPlan, Revision
from releasectl.core.errors import UsageError
from releasectl.core.ledger import Release
from releasectl.core.rollout import steady_on
from releasectl.core.service_shape import (
    create_service_input,
    differences,
    read_back,
    service_settings,
    to_task_definition,
)
from releasectl.core.versions import COMMIT_TAG, VERSION_TAG

# Recorded on a revision deployed past an unmet promotion gate, with the reason given.
GATE_OVERRIDE_TAG = "releasectl:gate-override"
_TAG_VALUE_MAX = 256


def revision_tags(release: Release, *, override_reason: str | None = None) -> list[dict[str, str]]:
    tags = [{"key": VERSION_TAG, "value": release.version}]
    if release.commit:
        tags.append({"key": COMMIT_TAG, "value": release.commit})
    if override_reason:
        tags.append({"key": GATE_OVERRIDE_TAG, "value": override_reason[:_TAG_VALUE_MAX]})
    return tags


def plan_from_definition(
    *,
    command: str,
    cluster: str,
    service: str,
    container_name: str,
    spec: Mapping[str, Any],
    region: str,
    repository_uri: str,
    release: Release,
    snapshot: Mapping[str, Any] | None,
    current: Revision | None,
    override_reason: str | None = None,
) -> DeployPlan:
    """What to do so that the service runs `release` with the definition `spec` (resolved)."""
    if container_name not in spec["containers"]:
        raise UsageError(
            f"the service definition has no container named {container_name!r} "
            f"(its containers: {', '.join(spec['containers'])})",
            hint="name the release's container [containers.<container_name>] in the service definition",
        )
    digest = imageref.validate_digest(str(release.digest))
    image = imageref.with_digest(repository_uri, digest)
    task = to_task_definition(spec, container_name=container_name, image=image, region=region)
    settings = service_settings(spec, container_name=container_name)
    register = {**task, "tags": revision_tags(release, override_reason=override_reason)}

    def make(action: Action, reason: str, **rest: Any) -> DeployPlan:
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
            service_settings=settings,
            **rest,
        )

    wanted = read_back(task, settings)
    if snapshot is None or current is None:
        return make(
            Action.CREATE,
            f"service {service} does not exist in cluster {cluster}: create it from the service definition",
            register_input=register,
            create_input=create_service_input(
                spec, cluster=cluster, service=service, task_definition="", container_name=container_name
            ),
            changes=tuple(differences({}, wanted)),
        )
    changes = tuple(differences(read_back(current.definition, snapshot), wanted))
    revision_changes = [c for c in changes if not c.field.startswith("service.")]
    if not changes:
        # The service points at exactly this; a new deployment would only restart it.
        state = "steadily" if steady_on(snapshot, current.arn) else "(its deployment is still in progress)"
        return make(
            Action.NOOP,
            f"the service already runs {release.version} as the service definition says, {state}",
            task_definition=current.arn,
        )
    if not revision_changes:
        fields = ", ".join(c.field.removeprefix("service.") for c in changes)
        return make(
            Action.SETTINGS,
            f"the revision stays; the service's settings change ({fields})",
            task_definition=current.arn,
            changes=changes,
        )
    count = len(revision_changes)
    return make(
        Action.REGISTER,
        f"new revision of {task['family']} from the service definition "
        f"({count} field{'s' if count != 1 else ''} of the task definition change)",
        register_input=register,
        changes=changes,
    )
