"""Retag and `promote` (docs/design.md §5): move a floating tag by digest, no pull, at most 3 API calls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from releasectl.adapters.aws.clients import AwsClients
from releasectl.adapters.aws.ecr_tags import retag
from releasectl.commands.context import Context, RecordingReporter
from releasectl.commands.promote import promote
from releasectl.core.clock import FakeClock
from releasectl.core.config import Config
from releasectl.core.errors import Conflict, EnvironmentProblem, ExitCode, OperationFailed, UsageError
from releasectl.core.result import Outcome
from tests.support.cli import run_cli
from tests.support.ecr_fixtures import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    create_repository,
    push_image,
    snapshot,
    tags_of,
)

REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"


@pytest.fixture
def ctx(ecr: Any) -> Context:
    """A context on the release repository `app` (the shared `ecr` fixture)."""
    return Context(
        config=Config(region="us-east-1", ecr_repository="app"),
        reporter=RecordingReporter(),
        clock=FakeClock(),
    )


def calls_of(ctx: Context) -> list[str]:
    calls: list[str] = []
    ctx.aws.call_hooks.append(lambda service, operation: calls.append(operation))
    return calls


def test_promote_moves_latest_to_the_versions_digest(ctx: Context, ecr: Any) -> None:
    old = push_image(ecr, "app", tags=["1.1.0", "latest"])
    new = push_image(ecr, "app", tags=["1.2.0"])

    result = promote(ctx, version="1.2.0", tag="latest")

    assert result.outcome is Outcome.SUCCEEDED
    assert result.exit_code == ExitCode.OK
    assert "latest" in tags_of(ecr, "app", new)
    assert "latest" not in tags_of(ecr, "app", old)


def test_promote_reports_the_image_pinned_by_digest(ctx: Context, ecr: Any) -> None:
    digest = push_image(ecr, "app", tags=["1.2.0"])

    result = promote(ctx, version="1.2.0", tag="latest")

    assert result.version == "1.2.0"
    assert result.image is not None
    assert result.image.repository == "app"
    assert result.image.digest == digest
    assert result.image.uri == f"{REGISTRY}/app@{digest}"
    assert result.to_json()["tag"] == "latest"


def test_promote_costs_at_most_three_api_calls(ctx: Context, ecr: Any) -> None:
    push_image(ecr, "app", tags=["1.1.0", "latest"])
    push_image(ecr, "app", tags=["1.2.0"])
    calls = calls_of(ctx)

    promote(ctx, version="1.2.0", tag="latest")

    assert calls == ["BatchGetImage", "PutImage"]


def test_promoting_again_is_a_noop_that_changes_nothing(ctx: Context, ecr: Any) -> None:
    push_image(ecr, "app", tags=["1.2.0", "latest"])
    before = snapshot(ecr, "app")
    calls = calls_of(ctx)

    result = promote(ctx, version="1.2.0", tag="latest")
    spent = len(calls)

    assert result.outcome is Outcome.NOOP
    assert result.exit_code == ExitCode.OK
    assert spent <= 3
    assert snapshot(ecr, "app") == before


def test_a_v_prefixed_version_means_the_same_release(ctx: Context, ecr: Any) -> None:
    digest = push_image(ecr, "app", tags=["1.2.0"])

    result = promote(ctx, version="v1.2.0", tag="prod")

    assert result.version == "1.2.0"
    assert "prod" in tags_of(ecr, "app", digest)


@pytest.mark.parametrize("media_type", [DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_MANIFEST, OCI_INDEX])
def test_promote_keeps_the_manifest_media_type_and_digest(ctx: Context, ecr: Any, media_type: str) -> None:
    digest = push_image(ecr, "app", tags=["1.2.0"], media_type=media_type)
    original = ecr.batch_get_image(repositoryName="app", imageIds=[{"imageTag": "1.2.0"}])["images"][0]

    promote(ctx, version="1.2.0", tag="latest")

    [detail] = ecr.describe_images(repositoryName="app", imageIds=[{"imageTag": "latest"}])["imageDetails"]
    assert detail["imageDigest"] == digest
    assert detail["imageManifestMediaType"] == media_type
    moved = ecr.batch_get_image(repositoryName="app", imageIds=[{"imageTag": "latest"}])["images"][0]
    assert moved["imageManifest"] == original["imageManifest"]


def test_promoting_an_unknown_version_is_exit_4_and_changes_nothing(ctx: Context, ecr: Any) -> None:
    push_image(ecr, "app", tags=["1.1.0", "latest"])
    before = snapshot(ecr, "app")

    with pytest.raises(EnvironmentProblem) as caught:
        promote(ctx, version="9.9.9", tag="latest")

    assert caught.value.exit_code == ExitCode.ENVIRONMENT
    assert "9.9.9 is not released" in caught.value.message
    assert snapshot(ecr, "app") == before


@pytest.mark.parametrize("version", ["1.2", "latest", "1.2.0+build.5", "01.2.0", "1.2.0-beta.1", ""])
def test_a_malformed_version_is_exit_2_before_any_api_call(ctx: Context, version: str) -> None:
    calls = calls_of(ctx)

    with pytest.raises(UsageError) as caught:
        promote(ctx, version=version, tag="latest")

    assert caught.value.exit_code == ExitCode.USAGE
    assert calls == []


@pytest.mark.parametrize("tag", ["1.3.0", "v1.3.0", "2.0.0-rc.1", "git-" + "a" * 40, "-bad", "a" * 129])
def test_only_floating_tags_may_be_promoted(ctx: Context, tag: str) -> None:
    calls = calls_of(ctx)

    with pytest.raises(UsageError):
        promote(ctx, version="1.2.0", tag=tag)

    assert calls == []


def test_a_tag_outside_floating_tags_is_exit_2_naming_the_allowed_ones_before_any_api_call(
    ctx: Context,
) -> None:
    calls = calls_of(ctx)

    with pytest.raises(UsageError) as caught:
        promote(ctx, version="1.2.0", tag="stable")

    assert caught.value.exit_code == ExitCode.USAGE
    assert "latest, staging, prod" in caught.value.message
    assert calls == []


def test_a_tag_configured_as_floating_can_be_promoted(ctx: Context, ecr: Any) -> None:
    ecr.put_image_tag_mutability(
        repositoryName="app",
        imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "stable"}],
    )
    digest = push_image(ecr, "app", tags=["1.2.0"])
    ctx.config = Config(region="us-east-1", ecr_repository="app", floating_tags=("stable",))

    promote(ctx, version="1.2.0", tag="stable")

    assert "stable" in tags_of(ecr, "app", digest)


def sandbox_release_repository(ctx: Context) -> None:
    """The release repository as `releasectl sandbox up` creates it (the template's shape)."""
    from releasectl_sandbox.provision import Resources, create_repositories

    config = Config(
        region="us-east-1",
        ecr_repository="app",
        codebuild_project="app-release",
        ecs_cluster="app",
        ecs_service="app",
        container_name="app",
    )
    create_repositories(ctx.aws, Resources.from_config(config, Path(".")))


def test_prod_moves_forward_back_and_forward_again_in_the_sandboxes_release_repository(
    aws: AwsClients,
) -> None:
    ctx = Context(config=Config(region="us-east-1", ecr_repository="app"), reporter=RecordingReporter())
    sandbox_release_repository(ctx)
    ecr = ctx.aws.client("ecr")
    older = push_image(ecr, "app", tags=["0.1.0"])
    newer = push_image(ecr, "app", tags=["0.1.1"])

    for version, digest in (("0.1.1", newer), ("0.1.0", older), ("0.1.1", newer)):
        result = promote(ctx, version=version, tag="prod")
        assert result.exit_code == ExitCode.OK, result.message
        assert result.outcome is Outcome.SUCCEEDED
        assert "prod" in tags_of(ecr, "app", digest)


def test_promote_prod_to_0_1_1_then_0_1_0_then_0_1_1_again_exits_0_each_time(
    moto_endpoint: str, tmp_path: Path
) -> None:
    ctx = Context(config=Config(region="us-east-1", endpoint_url=moto_endpoint), reporter=RecordingReporter())
    sandbox_release_repository(ctx)
    ecr = ctx.aws.client("ecr")
    digests = {version: push_image(ecr, "app", tags=[version]) for version in ("0.1.0", "0.1.1")}
    (tmp_path / "pyproject.toml").write_text('[tool.releasectl]\necr_repository = "app"\n')

    for version in ("0.1.1", "0.1.0", "0.1.1"):
        result = run_cli(
            "promote", version, "--tag", "prod", cwd=tmp_path, env={"AWS_ENDPOINT_URL": moto_endpoint}
        )
        assert result.code == 0, result.stderr
        assert "prod" in tags_of(ecr, "app", digests[version])


def test_an_immutable_target_tag_on_another_image_is_a_conflict_and_changes_nothing(aws: AwsClients) -> None:
    ctx = Context(config=Config(region="us-east-1", ecr_repository="app"), reporter=RecordingReporter())
    ecr = ctx.aws.client("ecr")
    create_repository(ecr, "app", mutability="IMMUTABLE")
    push_image(ecr, "app", tags=["1.1.0", "latest"])
    push_image(ecr, "app", tags=["1.2.0"])
    before = snapshot(ecr, "app")
    calls = calls_of(ctx)

    with pytest.raises(Conflict) as caught:
        promote(ctx, version="1.2.0", tag="latest")
    spent = len(calls)

    assert caught.value.exit_code == ExitCode.CONFLICT
    assert "immutable" in caught.value.message
    assert spent <= 3
    assert snapshot(ecr, "app") == before


def test_promote_in_a_missing_repository_is_exit_4(ctx: Context) -> None:
    ctx.config = Config(region="us-east-1", ecr_repository="does-not-exist")

    with pytest.raises(EnvironmentProblem, match="does not exist"):
        promote(ctx, version="1.2.0", tag="latest")


def test_promote_without_a_configured_repository_is_a_usage_error(ctx: Context) -> None:
    ctx.config = Config(region="us-east-1")

    with pytest.raises(UsageError, match="ecr_repository"):
        promote(ctx, version="1.2.0", tag="latest")


def test_retag_accepts_a_digest_as_source(ecr: Any) -> None:
    digest = push_image(ecr, "app", tags=["1.2.0"])

    result = retag(ecr, "app", source_tag_or_digest=digest, target_tag="latest")

    assert result.changed and result.digest == digest
    assert "latest" in tags_of(ecr, "app", digest)


def test_retag_of_a_missing_source_is_exit_4(ecr: Any) -> None:
    with pytest.raises(EnvironmentProblem, match="not found"):
        retag(ecr, "app", source_tag_or_digest="0.0.1", target_tag="latest")


# ----------------------------------------------------------------------------- what moto cannot show

SOURCE = "sha256:" + "1" * 64
ELSEWHERE = "sha256:" + "2" * 64
MANIFEST = '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}'


def _source_found(stub: Stubber) -> None:
    stub.add_response(
        "batch_get_image",
        {
            "images": [
                {
                    "registryId": "123456789012",
                    "repositoryName": "app",
                    "imageId": {"imageDigest": SOURCE, "imageTag": "1.2.0"},
                    "imageManifest": MANIFEST,
                    "imageManifestMediaType": OCI_INDEX,
                }
            ],
            "failures": [],
        },
        {
            "repositoryName": "app",
            "imageIds": [{"imageTag": "1.2.0"}],
            "acceptedMediaTypes": [DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_MANIFEST, OCI_INDEX],
        },
    )


def _put_latest() -> dict[str, Any]:
    return {
        "repositoryName": "app",
        "imageManifest": MANIFEST,
        "imageManifestMediaType": OCI_INDEX,
        "imageDigest": SOURCE,
        "imageTag": "latest",
    }


def _put_refused(stub: Stubber, code: str, *, latest_on: str, tags: list[str]) -> None:
    """put_image fails with `code`; the lookup that follows finds the tag on digest `latest_on`."""
    stub.add_client_error("put_image", code, http_status_code=400)
    stub.add_response(
        "describe_images",
        {"imageDetails": [{"imageDigest": latest_on, "imageTags": tags}]},
        {"repositoryName": "app", "imageIds": [{"imageTag": "latest"}]},
    )


def test_retag_asks_for_all_four_media_types_and_puts_the_same_one_back() -> None:
    client = boto3.client("ecr", region_name="us-east-1")
    with Stubber(client) as stub:
        _source_found(stub)
        stub.add_response("put_image", {"image": {"imageId": {"imageDigest": SOURCE}}}, _put_latest())

        result = retag(client, "app", source_tag_or_digest="1.2.0", target_tag="latest")

        stub.assert_no_pending_responses()
    assert result.media_type == OCI_INDEX and result.changed


def test_a_digest_mismatch_after_put_image_is_detected() -> None:
    client = boto3.client("ecr", region_name="us-east-1")
    with Stubber(client) as stub:
        _source_found(stub)
        stub.add_response("put_image", {"image": {"imageId": {"imageDigest": ELSEWHERE}}}, _put_latest())

        with pytest.raises(OperationFailed, match="instead of"):
            retag(client, "app", source_tag_or_digest="1.2.0", target_tag="latest")


def test_aws_image_tag_already_exists_is_a_conflict_naming_the_other_digest() -> None:
    client = boto3.client("ecr", region_name="us-east-1")
    with Stubber(client) as stub:
        _source_found(stub)
        _put_refused(stub, "ImageTagAlreadyExistsException", latest_on=ELSEWHERE, tags=["latest"])

        with pytest.raises(Conflict, match=ELSEWHERE):
            retag(client, "app", source_tag_or_digest="1.2.0", target_tag="latest")


def test_aws_image_already_exists_for_the_same_digest_is_a_noop() -> None:
    client = boto3.client("ecr", region_name="us-east-1")
    with Stubber(client) as stub:
        _source_found(stub)
        _put_refused(stub, "ImageAlreadyExistsException", latest_on=SOURCE, tags=["1.2.0", "latest"])

        result = retag(client, "app", source_tag_or_digest="1.2.0", target_tag="latest")

    assert not result.changed


def test_an_image_ecr_cannot_serve_in_any_accepted_media_type_is_a_failure() -> None:
    client = boto3.client("ecr", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response(
            "batch_get_image",
            {
                "images": [],
                "failures": [
                    {
                        "imageId": {"imageTag": "1.2.0"},
                        "failureCode": "UnsupportedImageType",
                        "failureReason": "schema1 manifest",
                    }
                ],
            },
            {"repositoryName": "app", "imageIds": [{"imageTag": "1.2.0"}], "acceptedMediaTypes": ANY},
        )

        with pytest.raises(OperationFailed, match="UnsupportedImageType"):
            retag(client, "app", source_tag_or_digest="1.2.0", target_tag="latest")
