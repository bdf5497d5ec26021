"""Deploy/rollback plans: what gets registered and what the service will point at. Pure."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from releasectl.core.deploy_plan import (
    READ_ONLY_FIELDS,
    Action,
    DeployPlan,
    Revision,
    digest_of,
    find_reusable,
    new_revision_input,
    plan_deploy,
    resolve_release,
)
from releasectl.core.errors import EnvironmentProblem, ExitCode, UsageError
from releasectl.core.ledger import Release
from releasectl.core.rollback_target import RollbackChoice, choose_rollback_target
from releasectl.core.versions import parse_version_argument
from tests.support.scripted_ecs import REPO_URI, T0, digest, release, task_definition_body, td_arn


def revision(
    number: int,
    *,
    image: str | None = None,
    tags: dict[str, str] | None = None,
    status: str = "ACTIVE",
    body: dict[str, Any] | None = None,
) -> Revision:
    definition = copy.deepcopy(body or task_definition_body(image=image or f"{REPO_URI}@{digest(number)}"))
    definition.update(
        taskDefinitionArn=td_arn("hello-world", number),
        revision=number,
        status=status,
        requiresAttributes=[{"name": "ecs.capability.execution-role-awslogs"}],
        compatibilities=["EC2", "FARGATE"],
        registeredAt=T0,
        registeredBy="arn:aws:sts::123456789012:assumed-role/ci/x",
    )
    return Revision(definition=definition, tags=tags or {})


def steady(task_definition: str) -> dict[str, Any]:
    return {
        "runningCount": 2,
        "desiredCount": 2,
        "deployments": [
            {
                "id": "ecs-svc/1",
                "status": "PRIMARY",
                "taskDefinition": task_definition,
                "rolloutState": "COMPLETED",
                "runningCount": 2,
                "desiredCount": 2,
            }
        ],
    }


def deploy_plan(
    current: Revision,
    release: Release,
    *,
    snapshot: dict[str, Any] | None = None,
    repository_uri: Callable[[], str] = lambda: REPO_URI,
) -> DeployPlan:
    """plan_deploy for the usual service, steady on `current` unless a snapshot says otherwise."""
    return plan_deploy(
        command="deploy",
        cluster="web",
        service="hello-world",
        container_name="app",
        snapshot=steady(current.arn) if snapshot is None else snapshot,
        current=current,
        release=release,
        repository_uri=repository_uri,
    )


# ----------------------------------------------------------------------------- versions


@pytest.mark.parametrize(
    "text", ["1.2", "v1.2.3.4", "01.2.3", "1.2.3-", "", "1.2.3+build", "latest", " 1.2.3 x"]
)
def test_malformed_version_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_version_argument(text)
    assert caught.value.exit_code is ExitCode.USAGE


@pytest.mark.parametrize(
    ("text", "canonical"), [("1.2.0", "1.2.0"), ("v1.2.0", "1.2.0"), ("2.0.0-rc.1", "2.0.0-rc.1")]
)
def test_version_argument_accepts_semver_with_optional_tag_prefix(text: str, canonical: str) -> None:
    assert parse_version_argument(text) == canonical


@given(st.tuples(st.integers(0, 999), st.integers(0, 999), st.integers(0, 999)))
def test_every_plain_semver_triple_is_accepted(parts: tuple[int, int, int]) -> None:
    text = ".".join(map(str, parts))
    assert parse_version_argument(text) == text


def test_default_release_is_the_newest_by_semver_not_by_list_order() -> None:
    releases = [release("1.10.0", 3), release("1.9.0", 2), release("1.2.0", 1)]
    assert resolve_release(list(reversed(releases)), None).version == "1.10.0"


def test_unknown_version_is_an_environment_problem() -> None:
    with pytest.raises(EnvironmentProblem) as caught:
        resolve_release([release("1.2.0", 1)], "9.9.9")
    assert caught.value.exit_code is ExitCode.ENVIRONMENT
    assert "9.9.9" in caught.value.message


def test_version_without_an_image_digest_is_an_environment_problem() -> None:
    git_only = Release(version="1.3.0", commit="a" * 40, digest=None, sources=frozenset({"git"}))
    with pytest.raises(EnvironmentProblem, match="no image"):
        resolve_release([git_only, release("1.2.0", 1)], "1.3.0")


def test_empty_ledger_is_an_environment_problem() -> None:
    with pytest.raises(EnvironmentProblem):
        resolve_release([], None)


# ----------------------------------------------------------------------------- new revisions


def test_new_revision_copies_every_registrable_field_and_drops_read_only_ones() -> None:
    current = revision(7)
    body = new_revision_input(
        current, container_name="app", image="repo@" + digest(9), version="1.3.0", commit=None
    )
    assert not READ_ONLY_FIELDS & set(body)
    for key, value in current.definition.items():
        if key not in READ_ONLY_FIELDS and key != "containerDefinitions":
            assert body[key] == value


def test_new_revision_replaces_only_the_named_containers_image() -> None:
    current = revision(7)
    image = f"{REPO_URI}@{digest(9)}"
    body = new_revision_input(current, container_name="app", image=image, version="1.3.0", commit="c" * 40)
    app, sidecar = body["containerDefinitions"]
    assert app["image"] == image
    assert {k: v for k, v in app.items() if k != "image"} == {
        k: v for k, v in current.definition["containerDefinitions"][0].items() if k != "image"
    }
    assert sidecar == current.definition["containerDefinitions"][1]


def test_new_revision_does_not_modify_the_current_definition() -> None:
    current = revision(7)
    before = copy.deepcopy(current.definition)
    new_revision_input(current, container_name="app", image="repo@" + digest(9), version="1.3.0", commit=None)
    assert current.definition == before


def test_new_revision_tags_version_and_commit_and_drops_the_old_outcome() -> None:
    current = revision(
        7,
        tags={
            "team": "web",
            "releasectl:version": "1.2.0",
            "releasectl:outcome": "succeeded",
            "aws:cloudformation:stack-name": "s",
        },
    )
    body = new_revision_input(
        current, container_name="app", image="r@" + digest(9), version="1.3.0", commit="c" * 40
    )
    assert {t["key"]: t["value"] for t in body["tags"]} == {
        "team": "web",
        "releasectl:version": "1.3.0",
        "releasectl:commit": "c" * 40,
    }


def test_unknown_container_is_a_usage_error_listing_the_containers() -> None:
    with pytest.raises(UsageError) as caught:
        new_revision_input(
            revision(7), container_name="web", image="r@" + digest(9), version="1.3.0", commit=None
        )
    assert "app" in caught.value.message
    assert "log-router" in caught.value.message


@given(
    names=st.lists(
        st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True), min_size=1, max_size=5, unique=True
    ),
    pick=st.integers(min_value=0),
)
def test_only_the_chosen_container_changes_whatever_the_containers(names: list[str], pick: int) -> None:
    body = task_definition_body()
    body["containerDefinitions"] = [
        {"name": n, "image": f"registry.local:5000/{n}:1", "essential": True} for n in names
    ]
    current = revision(3, body=body)
    chosen = names[pick % len(names)]
    result = new_revision_input(
        current, container_name=chosen, image="x@" + digest(5), version="1.0.0", commit=None
    )
    for before, after in zip(body["containerDefinitions"], result["containerDefinitions"], strict=True):
        if before["name"] == chosen:
            assert after["image"] == "x@" + digest(5)
        else:
            assert after == before


# ----------------------------------------------------------------------------- image references


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (f"{REPO_URI}@{digest(4)}", digest(4)),
        (f"localhost:5000/hello-world@{digest(4)}", digest(4)),
        (f"registry.example.com:5443/team/hello-world:1.2.0@{digest(4)}", digest(4)),
        ("localhost:5000/hello-world:1.2.0", None),
        ("nginx", None),
        (None, None),
    ],
)
def test_digest_is_read_from_image_references_including_host_port(
    image: str | None, expected: str | None
) -> None:
    assert digest_of(image) == expected


def test_register_plan_pins_a_host_port_repository_by_digest() -> None:
    current = revision(7, image="localhost:5000/hello-world:1.2.0")
    plan = deploy_plan(current, release("1.3.0", 9), repository_uri=lambda: "localhost:5000/hello-world")
    assert plan.action is Action.REGISTER
    assert plan.image == f"localhost:5000/hello-world@{digest(9)}"
    assert plan.register_input is not None
    assert plan.register_input["containerDefinitions"][0]["image"] == plan.image


def test_register_plan_drops_a_tag_from_the_repository_uri() -> None:
    current = revision(7)
    plan = deploy_plan(current, release("1.3.0", 9), repository_uri=lambda: f"{REPO_URI}:latest")
    assert plan.image == f"{REPO_URI}@{digest(9)}"


# ----------------------------------------------------------------------------- choosing revisions


def test_plan_is_noop_when_the_running_revision_already_runs_the_digest_steadily() -> None:
    current = revision(7)
    plan = deploy_plan(
        current, release("1.2.0", 7), repository_uri=lambda: pytest.fail("no ECR lookup needed")
    )
    assert plan.action is Action.NOOP


def test_same_digest_but_rollout_not_steady_is_a_real_deployment() -> None:
    current = revision(7)
    snapshot = steady(current.arn)
    snapshot["deployments"][0]["rolloutState"] = "IN_PROGRESS"
    plan = deploy_plan(current, release("1.2.0", 7), snapshot=snapshot)
    assert plan.action is Action.REGISTER


def test_reuse_never_picks_an_inactive_revision() -> None:
    current = revision(9)
    inactive = revision(5, image=f"{REPO_URI}@{digest(2)}", status="INACTIVE")
    assert find_reusable([inactive], digest=digest(2), container_name="app", current=current) is None


def test_reuse_never_picks_the_running_revision() -> None:
    current = revision(9, image=f"{REPO_URI}@{digest(2)}")
    assert find_reusable([current], digest=digest(2), container_name="app", current=current) is None


def test_reuse_picks_the_first_active_revision_pinned_to_the_digest() -> None:
    current = revision(9)
    other = revision(8, image=f"{REPO_URI}@{digest(3)}")
    match = revision(6, image=f"{REPO_URI}@{digest(2)}")
    older = revision(4, image=f"{REPO_URI}@{digest(2)}")
    assert (
        find_reusable([other, match, older], digest=digest(2), container_name="app", current=current) is match
    )


def test_reuse_stops_reading_candidates_once_one_matches() -> None:
    current = revision(9)
    read: list[int] = []

    def candidates() -> Any:
        for n in (8, 7, 6, 5):
            read.append(n)
            yield revision(n, image=f"{REPO_URI}@{digest(n)}")

    found = find_reusable(candidates(), digest=digest(7), container_name="app", current=current)
    assert found is not None and found.number == 7
    assert read == [8, 7]


def tagged(
    number: int, version: str, outcome: str | None, *, n: int | None = None, status: str = "ACTIVE"
) -> Revision:
    tags = {"releasectl:version": version}
    if outcome:
        tags["releasectl:outcome"] = outcome
    return revision(number, image=f"{REPO_URI}@{digest(n or number)}", tags=tags, status=status)


LEDGER = [release("1.0.0", 1), release("1.1.0", 2), release("1.2.0", 3), release("1.3.0", 4)]


def rollback_target(
    running: Revision, history: list[Revision], releases: list[Release] = LEDGER
) -> RollbackChoice:
    return choose_rollback_target(
        running=running, history=history, releases=releases, container_name="app", service="hello-world"
    )


def test_automatic_target_skips_a_previous_revision_that_failed() -> None:
    running = tagged(10, "1.3.0", "succeeded", n=4)
    history = [tagged(9, "1.2.0", "rolled_back", n=3), tagged(8, "1.1.0", "succeeded", n=2)]
    choice = rollback_target(running, history)
    assert choice.release.version == "1.1.0"
    assert choice.revision.number == 8


@pytest.mark.parametrize(
    ("running", "history", "expected"),
    [
        pytest.param(
            tagged(10, "1.3.0", "succeeded", n=4),
            [
                revision(9, image=f"{REPO_URI}@{digest(3)}"),  # registered by someone else, no outcome
                tagged(8, "1.0.0", "succeeded", n=1),
            ],
            "1.0.0",
            id="not-blindly-the-previous-revision",
        ),
        pytest.param(
            tagged(10, "1.3.0", "succeeded", n=4),
            [tagged(9, "1.0.0", "succeeded", n=1), tagged(8, "1.2.0", "succeeded", n=3)],
            "1.2.0",
            id="the-highest-earlier-version-not-the-newest-revision",
        ),
        pytest.param(
            tagged(10, "1.3.0", "succeeded", n=4),
            [
                tagged(9, "1.2.0", "rolled_back", n=3),  # 1.2.0's latest deployment failed...
                tagged(8, "1.2.0", "succeeded", n=3),  # ...even though an earlier one worked
                tagged(7, "1.1.0", "succeeded", n=2),
            ],
            "1.1.0",
            id="each-versions-latest-recorded-outcome-counts",
        ),
        pytest.param(
            tagged(10, "1.1.0", "succeeded", n=2),
            [tagged(9, "1.3.0", "succeeded", n=4), tagged(8, "1.0.0", "succeeded", n=1)],
            "1.0.0",
            id="versions-not-lower-than-the-running-one-are-ignored",
        ),
    ],
)
def test_automatic_target_is_the_highest_earlier_version_whose_last_deployment_succeeded(
    running: Revision, history: list[Revision], expected: str
) -> None:
    assert rollback_target(running, history).release.version == expected


def test_automatic_target_skips_a_version_whose_image_left_the_ledger() -> None:
    running = tagged(10, "1.3.0", "succeeded", n=4)
    history = [tagged(9, "1.2.0", "succeeded", n=3), tagged(8, "1.1.0", "succeeded", n=2)]
    ledger = [r for r in LEDGER if r.version != "1.2.0"]
    choice = rollback_target(running, history, releases=ledger)
    assert choice.release.version == "1.1.0"


def test_no_verified_earlier_version_is_an_environment_problem_naming_the_fix() -> None:
    running = tagged(10, "1.3.0", "succeeded", n=4)
    history = [tagged(9, "1.2.0", "rolled_back", n=3), tagged(8, "1.1.0", "timed_out", n=2)]
    with pytest.raises(EnvironmentProblem) as caught:
        rollback_target(running, history)
    assert caught.value.exit_code is ExitCode.ENVIRONMENT
    assert "--to" in (caught.value.hint or "")


def test_running_version_falls_back_to_the_ledger_by_digest() -> None:
    running = revision(10, image=f"{REPO_URI}@{digest(4)}")  # no releasectl tags
    history = [tagged(8, "1.1.0", "succeeded", n=2)]
    choice = rollback_target(running, history)
    assert choice.running_version == "1.3.0"
    assert choice.release.version == "1.1.0"
