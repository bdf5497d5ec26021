"""The ECR ledger: releases read from tags in one paginated pass; repository settings; manifests."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from io import BytesIO
from typing import Any

import pytest
from botocore.stub import Stubber

from releasectl.adapters.aws.clients import AwsClients
from releasectl.adapters.aws.ecr import (
    EcrLedger,
    ImageNotFound,
    describe_repository,
    manifest_for,
    media_type_of,
    tag_digest,
    tag_is_mutable,
)
from releasectl.core.errors import EnvironmentProblem, ExitCode, OperationFailed
from tests.support.ecr_fixtures import OCI_INDEX, OCI_MANIFEST, create_repository, push_image

SHA_A = "a" * 40
SHA_B = "b" * 40


def count_calls(aws: AwsClients) -> list[str]:
    calls: list[str] = []
    aws.call_hooks.append(lambda service, operation: calls.append(operation))
    return calls


def test_releases_carry_version_commit_digest_and_push_time(ecr: Any) -> None:
    digest = push_image(ecr, "app", tags=["1.2.0", f"git-{SHA_A}"])

    [release] = EcrLedger(ecr, "app").releases()

    assert release.version == "1.2.0"
    assert release.commit == SHA_A
    assert release.digest == digest
    assert release.sources == frozenset({"ecr"})
    assert isinstance(release.pushed_at, datetime)


def test_release_candidates_are_releases(ecr: Any) -> None:
    push_image(ecr, "app", tags=["1.3.0-rc.2", f"git-{SHA_B}"])

    assert [r.version for r in EcrLedger(ecr, "app").releases()] == ["1.3.0-rc.2"]


def test_floating_cache_and_untagged_images_are_not_releases(ecr: Any) -> None:
    # moto 5.2 crashes on an untagged push into a repository with exclusion filters.
    ecr.put_image_tag_mutability(repositoryName="app", imageTagMutability="MUTABLE")
    push_image(ecr, "app", tags=["latest", "buildcache", "v1.0.0", "1.0", f"git-{SHA_A}"])
    push_image(ecr, "app", tags=[])

    assert EcrLedger(ecr, "app").releases() == []


def test_one_image_with_two_versions_gives_two_releases_on_one_digest(ecr: Any) -> None:
    digest = push_image(ecr, "app", tags=["1.0.0-rc.1", "1.0.0", f"git-{SHA_A}"])

    releases = EcrLedger(ecr, "app").releases()

    assert sorted(r.version for r in releases) == ["1.0.0", "1.0.0-rc.1"]
    assert {r.digest for r in releases} == {digest}


def test_an_image_with_several_commit_tags_claims_no_commit(ecr: Any) -> None:
    push_image(ecr, "app", tags=["1.0.0", f"git-{SHA_A}", f"git-{SHA_B}"])

    [release] = EcrLedger(ecr, "app").releases()

    assert release.commit is None


def test_a_version_without_a_commit_tag_has_no_commit(ecr: Any) -> None:
    push_image(ecr, "app", tags=["0.9.0"])

    [release] = EcrLedger(ecr, "app").releases()

    assert release.commit is None


def test_more_than_a_hundred_images_are_all_read_in_one_call(aws: AwsClients, ecr: Any) -> None:
    for n in range(130):
        push_image(ecr, "app", tags=[f"1.{n}.0"])
    calls = count_calls(aws)

    releases = EcrLedger(ecr, "app").releases()

    assert len(releases) == 130
    assert calls == ["DescribeImages"]


def test_images_are_read_once_per_ledger(aws: AwsClients, ecr: Any) -> None:
    push_image(ecr, "app", tags=["1.0.0"])
    ledger = EcrLedger(ecr, "app")
    calls = count_calls(aws)

    ledger.releases()
    ledger.releases()
    ledger.images()

    assert calls == ["DescribeImages"]


def test_missing_repository_is_an_environment_problem_with_a_hint(aws: AwsClients) -> None:
    with pytest.raises(EnvironmentProblem) as caught:
        EcrLedger(aws.client("ecr"), "nope").releases()

    assert caught.value.exit_code == ExitCode.ENVIRONMENT
    assert "'nope' does not exist" in caught.value.message
    assert caught.value.hint and "ecr_repository" in caught.value.hint


def _detail(version: str, n: int) -> dict[str, Any]:
    return {
        "registryId": "123456789012",
        "repositoryName": "app",
        "imageDigest": "sha256:" + f"{n:064x}",
        "imageTags": [version],
        "imagePushedAt": datetime(2025, 1, n, tzinfo=UTC),
    }


def test_every_page_is_read_following_next_token(aws: AwsClients) -> None:
    client = aws.client("ecr")
    first = {"repositoryName": "app", "filter": {"tagStatus": "TAGGED"}, "maxResults": 1000}
    with Stubber(client) as stub:
        stub.add_response(
            "describe_images", {"imageDetails": [_detail("1.0.0", 1)], "nextToken": "t1"}, first
        )
        stub.add_response(
            "describe_images",
            {"imageDetails": [_detail("1.1.0", 2)], "nextToken": "t2"},
            {**first, "nextToken": "t1"},
        )
        stub.add_response(
            "describe_images", {"imageDetails": [_detail("2.0.0", 3)]}, {**first, "nextToken": "t2"}
        )

        releases = EcrLedger(client, "app").releases()

        stub.assert_no_pending_responses()
    assert sorted(r.version for r in releases) == ["1.0.0", "1.1.0", "2.0.0"]


# ----------------------------------------------------------------------------- throttling


class _Raw(BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.read()


def _throttle(times: int) -> Callable[..., Any]:
    """A before-send hook answering the first `times` attempts with ECR's throttling error."""
    from botocore.awsrequest import AWSResponse

    seen = {"n": 0}

    def hook(request: Any, **_: Any) -> Any:
        seen["n"] += 1
        if seen["n"] > times:
            return None
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
        return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.1"}, _Raw(body))

    return hook


@pytest.mark.usefixtures("fast_retries")
def test_throttling_is_retried_and_then_surfaced_as_one_clear_error(aws: AwsClients, ecr: Any) -> None:
    aws = AwsClients(region="us-east-1", profile=None, endpoint_url=None, max_attempts=3)
    client = aws.client("ecr")
    client.meta.events.register_first("before-send.ecr.DescribeImages", _throttle(times=99))
    calls = count_calls(aws)

    with pytest.raises(OperationFailed) as caught:
        EcrLedger(client, "app").releases()

    # Retried, but boundedly. (botocore's retries["max_attempts"] counts retries, not attempts,
    # so max_attempts=3 may mean 4 sends; either way it stops.)
    assert set(calls) == {"DescribeImages"}
    assert 3 <= len(calls) <= 4
    assert "throttling" in caught.value.message
    assert caught.value.exit_code == ExitCode.FAILED


@pytest.mark.usefixtures("fast_retries")
def test_throttling_that_passes_is_invisible(aws: AwsClients, ecr: Any) -> None:
    push_image(ecr, "app", tags=["1.0.0"])
    client = aws.client("ecr")
    client.meta.events.register_first("before-send.ecr.DescribeImages", _throttle(times=2))

    assert [r.version for r in EcrLedger(client, "app").releases()] == ["1.0.0"]


# ----------------------------------------------------------------------------- repository and manifests


def test_describe_repository_reads_mutability_and_exclusion_filters(aws: AwsClients) -> None:
    client = aws.client("ecr")
    create_repository(client, "app", mutability="IMMUTABLE_WITH_EXCLUSION", mutable_tags=["latest", "dev-*"])

    info = describe_repository(client, "app")

    assert info.uri == "123456789012.dkr.ecr.us-east-1.amazonaws.com/app"
    assert info.registry == "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    assert info.tag_mutability == "IMMUTABLE_WITH_EXCLUSION"
    assert info.tag_is_mutable("latest") and info.tag_is_mutable("dev-42")
    assert not info.tag_is_mutable("1.2.0")


def test_describe_repository_of_a_missing_repository_is_exit_4(aws: AwsClients) -> None:
    with pytest.raises(EnvironmentProblem, match="does not exist"):
        describe_repository(aws.client("ecr"), "nope")


@pytest.mark.parametrize(
    ("mutability", "filters", "tag", "mutable"),
    [
        ("MUTABLE", (), "1.0.0", True),
        ("IMMUTABLE", (), "latest", False),
        ("IMMUTABLE_WITH_EXCLUSION", ("latest",), "latest", True),
        ("IMMUTABLE_WITH_EXCLUSION", ("latest",), "latest2", False),
        ("IMMUTABLE_WITH_EXCLUSION", ("*",), "1.0.0", True),
        ("IMMUTABLE_WITH_EXCLUSION", ("dev-*",), "dev-", True),
        ("IMMUTABLE_WITH_EXCLUSION", ("1.*.0",), "1.2.0", True),
        ("IMMUTABLE_WITH_EXCLUSION", ("1.*.0",), "1x2.0", False),
        ("MUTABLE_WITH_EXCLUSION", ("git-*",), "git-abc", False),
        ("MUTABLE_WITH_EXCLUSION", ("git-*",), "latest", True),
    ],
)
def test_tag_mutability_follows_the_repository_setting_and_its_wildcards(
    mutability: str, filters: tuple[str, ...], tag: str, mutable: bool
) -> None:
    assert tag_is_mutable(mutability, filters, tag) is mutable


def test_manifest_for_returns_the_stored_bytes_and_media_type(ecr: Any) -> None:
    digest = push_image(ecr, "app", tags=["1.0.0"], media_type=OCI_INDEX)

    found = manifest_for(ecr, "app", digest)

    assert found.digest == digest
    assert found.media_type == OCI_INDEX
    stored = ecr.batch_get_image(repositoryName="app", imageIds=[{"imageDigest": digest}])["images"][0]
    assert found.manifest == stored["imageManifest"]


def test_manifest_for_an_unknown_digest_is_image_not_found(ecr: Any) -> None:
    with pytest.raises(ImageNotFound):
        manifest_for(ecr, "app", "sha256:" + "0" * 64)


def test_media_type_is_inferred_when_an_oci_manifest_omits_it() -> None:
    assert media_type_of(json.dumps({"schemaVersion": 2, "manifests": []})) == OCI_INDEX
    assert media_type_of(json.dumps({"schemaVersion": 2, "config": {}, "layers": []})) == OCI_MANIFEST


def test_tag_digest_says_where_a_tag_points_or_none(ecr: Any) -> None:
    digest = push_image(ecr, "app", tags=["latest"])

    assert tag_digest(ecr, "app", "latest") == digest
    assert tag_digest(ecr, "app", "missing") is None
