"""What the reliability suite checks with: AWS state snapshots and ledger invariants.

Everything reads AWS through plain boto3 on an endpoint URL, so the same checks run against a
moto server today and against the sandbox's endpoint (docs/design.md §8) unchanged.
"""

from __future__ import annotations

import functools
import re
import urllib.request
from collections.abc import Mapping
from typing import Any

RELEASE_TAG = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-rc\.(0|[1-9][0-9]*))?$")
COMMIT_TAG = re.compile(r"^git-[0-9a-f]{40}$")
REGION = "us-east-1"


@functools.lru_cache(maxsize=64)
def client(endpoint: str, service: str) -> Any:
    """A boto3 client on the endpoint, made once (making one costs ~20 ms)."""
    import boto3
    from botocore.config import Config

    # The checker must see the truth even while the code under test is being faulted.
    return boto3.client(
        service, endpoint_url=endpoint, region_name=REGION, config=Config(retries={"max_attempts": 2})
    )


def reset(endpoint: str) -> None:
    """Empty a moto server (POST /moto-api/reset)."""
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))


# ----------------------------------------------------------------------------- snapshots


def snapshot(endpoint: str) -> dict[str, Any]:
    """Everything releasectl can change, read independently: ECR repositories, images and
    tags; ECS task definitions (with tags) and services; CodeBuild builds; log groups."""
    ecr, ecs = client(endpoint, "ecr"), client(endpoint, "ecs")
    codebuild, logs = client(endpoint, "codebuild"), client(endpoint, "logs")
    state: dict[str, Any] = {"ecr": {}, "task_definitions": {}, "services": {}, "builds": [], "logs": {}}
    for repo in ecr.describe_repositories()["repositories"]:
        name = repo["repositoryName"]
        images = {
            d["imageDigest"]: tuple(sorted(d.get("imageTags") or ()))
            for page in ecr.get_paginator("describe_images").paginate(repositoryName=name)
            for d in page["imageDetails"]
        }
        state["ecr"][name] = {"mutability": repo.get("imageTagMutability"), "images": images}
    for arn in _all(ecs, "list_task_definitions", "taskDefinitionArns"):
        described = ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])
        definition = described["taskDefinition"]
        state["task_definitions"][arn] = {
            "family": definition["family"],
            "images": {c["name"]: c["image"] for c in definition["containerDefinitions"]},
            "tags": {t["key"]: t["value"] for t in described.get("tags") or ()},
        }
    for cluster in _all(ecs, "list_clusters", "clusterArns"):
        arns = _all(ecs, "list_services", "serviceArns", cluster=cluster)
        for start in range(0, len(arns), 10):
            for service in ecs.describe_services(cluster=cluster, services=arns[start : start + 10])[
                "services"
            ]:
                state["services"][f"{cluster.rsplit('/', 1)[-1]}/{service['serviceName']}"] = {
                    "task_definition": service["taskDefinition"],
                    "desired": service.get("desiredCount"),
                }
    build_ids = _all(codebuild, "list_builds", "ids")
    for start in range(0, len(build_ids), 100):
        for build in codebuild.batch_get_builds(ids=build_ids[start : start + 100])["builds"]:
            state["builds"].append((build["projectName"], build.get("sourceVersion"), build["buildStatus"]))
    state["builds"].sort(key=str)
    for group in _all(logs, "describe_log_groups", "logGroups"):
        streams = _all(logs, "describe_log_streams", "logStreams", logGroupName=group["logGroupName"])
        state["logs"][group["logGroupName"]] = sorted(s["logStreamName"] for s in streams)
    return state


def _all(api: Any, operation: str, key: str, **kwargs: Any) -> list[Any]:
    if api.can_paginate(operation):
        return [item for page in api.get_paginator(operation).paginate(**kwargs) for item in page[key]]
    return list(getattr(api, operation)(**kwargs)[key])


def service_images(state: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """service → container → image of the task definition it points at."""
    return {
        name: state["task_definitions"][service["task_definition"]]["images"]
        for name, service in state["services"].items()
    }


def normalised(state: Mapping[str, Any]) -> dict[str, Any]:
    """What two runs of one flow must agree on, whatever faults one of them met.

    Revision numbers are left out: a register_task_definition whose answer was lost and was
    retried registers the same definition twice (on AWS too), which changes no outcome. What
    stays: every image and tag, what each service runs, the distinct task-definition contents
    with their outcome tags, the builds, the log groups.
    """
    return {
        "ecr": {name: repo["images"] for name, repo in state["ecr"].items()},
        "service_images": service_images(state),
        "task_definition_contents": sorted(
            {
                (d["family"], tuple(sorted(d["images"].items())), tuple(sorted(d["tags"].items())))
                for d in state["task_definitions"].values()
            }
        ),
        "builds": state["builds"],
        "logs": state["logs"],
    }


def duplicate_revisions(state: Mapping[str, Any]) -> int:
    """Task-definition revisions registered twice with the same content (a retried register)."""
    seen = [
        (d["family"], tuple(sorted(d["images"].items())), tuple(sorted(d["tags"].items())))
        for d in state["task_definitions"].values()
    ]
    return len(seen) - len(set(seen))


# ----------------------------------------------------------------------------- invariants


def ledger_problems(state: Mapping[str, Any], floating: tuple[str, ...] = ("latest",)) -> list[str]:
    """Everything that would mean state was lost or left half-done, as readable sentences:

    - a half-claimed version: an image with a version tag and no git-<sha> tag;
    - a commit tag with no version on its image (a claim that wrote only the second half);
    - a dangling floating tag: `latest` etc. on an image that is not a release;
    - a service pointed at an image of a watched repository that is not a release.
    """
    problems: list[str] = []
    released: set[str] = set()
    uris: dict[str, str] = {}
    for name, repo in state["ecr"].items():
        for digest, tags in repo["images"].items():
            versions = [t for t in tags if RELEASE_TAG.match(t)]
            commits = [t for t in tags if COMMIT_TAG.match(t)]
            if versions and not commits:
                problems.append(
                    f"{name}: version {versions} on {digest[:19]} has no git-<sha> tag (half-claimed)"
                )
            if commits and not versions:
                problems.append(f"{name}: {commits} on {digest[:19]} has no version tag")
            if versions and commits:
                released.add(digest)
            for tag in tags:
                if tag in floating and not versions:
                    problems.append(f"{name}: floating tag {tag!r} names {digest[:19]}, which is no release")
        uris[name] = name
    for service, images in service_images(state).items():
        for container, image in images.items():
            repo_part, _, digest = image.partition("@")
            if repo_part.rsplit("/", 1)[-1] in uris and digest and digest not in released:
                problems.append(f"{service}: container {container} runs {image}, which is no release")
    return problems
