"""Claiming a version on a pushed digest (docs/design.md §4): atomic, idempotent, and honest about losing."""

from __future__ import annotations

import threading
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from releasectl.adapters.aws.clients import AwsClients
from releasectl.adapters.aws.ecr import RepositoryInfo
from releasectl.adapters.aws.ecr_tags import ClaimResult, ClaimStatus, claim
from releasectl.core.errors import EnvironmentProblem, ExitCode, OperationFailed, UsageError
from tests.support.ecr_fixtures import (
    Manifest,
    create_repository,
    image_manifest,
    put_manifest,
    snapshot,
    tags_of,
)

SHA_A = "a" * 40
SHA_B = "b" * 40
PRODUCTION = {"mutability": "IMMUTABLE_WITH_EXCLUSION", "mutable_tags": ["latest"]}


def pushed(client: Any, build: str = "build") -> Manifest:
    """An image pushed the way the pipeline pushes it, before any release tag exists."""
    manifest = image_manifest()
    put_manifest(client, "app", manifest, tags=[f"{build}-{manifest.digest[7:15]}"])
    return manifest


def claim_for(client: Any, manifest: Manifest, *, version: str = "1.2.0", commit: str = SHA_A) -> ClaimResult:
    return claim(
        client,
        "app",
        digest=manifest.digest,
        manifest=manifest.text,
        media_type=manifest.media_type,
        version=version,
        commit=commit,
    )


def test_a_claim_puts_the_commit_and_version_tags_on_the_digest(ecr: Any) -> None:
    image = pushed(ecr)

    result = claim_for(ecr, image)

    assert result.status is ClaimStatus.WON and result.won
    assert {"1.2.0", f"git-{SHA_A}"} <= tags_of(ecr, "app", image.digest)


def test_claiming_the_same_image_again_is_already_ours_and_changes_nothing(ecr: Any) -> None:
    image = pushed(ecr)
    claim_for(ecr, image)
    before = snapshot(ecr, "app")

    result = claim_for(ecr, image)

    assert result.status is ClaimStatus.ALREADY_OURS and result.won
    assert snapshot(ecr, "app") == before


def test_a_version_held_by_another_digest_is_a_lost_race_naming_the_winner(ecr: Any) -> None:
    winner = pushed(ecr, "winner")
    claim_for(ecr, winner, commit=SHA_A)
    loser = pushed(ecr, "loser")

    result = claim_for(ecr, loser, commit=SHA_B)

    assert result.status is ClaimStatus.LOST and not result.won
    assert result.contested_tag == "1.2.0"
    assert result.other_digest == winner.digest


def test_losing_the_version_writes_nothing_at_all(ecr: Any) -> None:
    winner = pushed(ecr, "winner")
    claim_for(ecr, winner, commit=SHA_A)
    loser = pushed(ecr, "loser")
    before = snapshot(ecr, "app")

    claim_for(ecr, loser, commit=SHA_B)

    # Not even the loser's commit tag: it rebuilds under a new version, and that image
    # must be free to take git-<sha>.
    assert snapshot(ecr, "app") == before


def test_a_commit_already_released_as_another_image_gives_back_the_version_it_just_took(ecr: Any) -> None:
    first = pushed(ecr, "first")
    claim_for(ecr, first, version="1.2.0", commit=SHA_A)
    rebuilt = pushed(ecr, "rebuilt")  # same commit, different bytes, a later version computed
    before = snapshot(ecr, "app")

    result = claim_for(ecr, rebuilt, version="1.3.0", commit=SHA_A)

    assert result.status is ClaimStatus.LOST
    assert result.contested_tag == f"git-{SHA_A}"
    assert result.other_digest == first.digest
    assert snapshot(ecr, "app") == before


def test_a_claim_interrupted_after_the_version_is_completed_by_the_rerun(ecr: Any) -> None:
    image = pushed(ecr)
    put_manifest(ecr, "app", image, tags=["1.2.0"])  # the earlier run died before git-<sha>

    result = claim_for(ecr, image)

    assert result.status is ClaimStatus.WON
    assert {"1.2.0", f"git-{SHA_A}"} <= tags_of(ecr, "app", image.digest)


def test_claiming_in_a_repository_whose_release_tags_can_move_is_refused_and_changes_nothing(
    aws: AwsClients,
) -> None:
    client = boto3.client("ecr", region_name="us-east-1")
    create_repository(client, "app", mutability="MUTABLE")
    image = pushed(client)
    before = snapshot(client, "app")

    with pytest.raises(EnvironmentProblem) as caught:
        claim_for(client, image)

    assert caught.value.exit_code == ExitCode.ENVIRONMENT
    assert "cannot be atomic" in caught.value.message
    assert caught.value.hint and "IMMUTABLE_WITH_EXCLUSION" in caught.value.hint
    assert snapshot(client, "app") == before


def test_an_exclusion_filter_that_covers_version_tags_is_refused_too(aws: AwsClients) -> None:
    client = boto3.client("ecr", region_name="us-east-1")
    create_repository(client, "app", mutability="IMMUTABLE_WITH_EXCLUSION", mutable_tags=["latest", "1.*"])
    image = pushed(client)

    with pytest.raises(EnvironmentProblem, match=r"'1\.2\.0' be overwritten"):
        claim_for(client, image)


def test_a_malformed_version_is_a_usage_error(ecr: Any) -> None:
    with pytest.raises(UsageError):
        claim_for(ecr, pushed(ecr), version="v1.2")


def test_two_claims_racing_for_one_version_have_exactly_one_winner(moto_endpoint: str) -> None:
    setup = boto3.client("ecr", region_name="us-east-1", endpoint_url=moto_endpoint)
    create_repository(setup, "app", **PRODUCTION)
    images = [pushed(setup, "a"), pushed(setup, "b")]
    commits = [SHA_A, SHA_B]
    start = threading.Barrier(2)
    results: list[ClaimResult | BaseException] = [RuntimeError("not run")] * 2

    def run(i: int) -> None:
        client = boto3.client("ecr", region_name="us-east-1", endpoint_url=moto_endpoint)
        start.wait()
        try:
            results[i] = claim_for(client, images[i], version="2.0.0", commit=commits[i])
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    outcomes = [r for r in results if isinstance(r, ClaimResult)]
    assert len(outcomes) == 2, results
    won = [r for r in outcomes if r.status is ClaimStatus.WON]
    lost = [r for r in outcomes if r.status is ClaimStatus.LOST]
    assert len(won) == 1 and len(lost) == 1
    assert lost[0].other_digest == won[0].digest
    described = setup.describe_images(repositoryName="app", imageIds=[{"imageTag": "2.0.0"}])
    assert described["imageDetails"][0]["imageDigest"] == won[0].digest


# ----------------------------------------------------------------------------- what moto cannot show

DIGEST_OURS = "sha256:" + "1" * 64
DIGEST_THEIRS = "sha256:" + "2" * 64
IMMUTABLE = RepositoryInfo(
    name="app",
    uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/app",
    registry_id="123456789012",
    arn="arn:aws:ecr:us-east-1:123456789012:repository/app",
    tag_mutability="IMMUTABLE_WITH_EXCLUSION",
    exclusion_filters=("latest",),
)


def _put(tag: str) -> dict[str, Any]:
    return {
        "repositoryName": "app",
        "imageManifest": "{}",
        "imageManifestMediaType": ANY,
        "imageDigest": DIGEST_OURS,
        "imageTag": tag,
    }


def _stubbed_claim(client: Any) -> ClaimResult:
    return claim(
        client,
        "app",
        digest=DIGEST_OURS,
        manifest="{}",
        media_type="application/vnd.docker.distribution.manifest.v2+json",
        version="1.2.0",
        commit=SHA_A,
        repository_info=IMMUTABLE,
    )


def _image(digest: str, tag: str) -> dict[str, Any]:
    return {"image": {"imageId": {"imageDigest": digest, "imageTag": tag}}}


def test_aws_image_tag_already_exists_is_read_as_a_lost_race() -> None:
    client = boto3.client("ecr", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error(
            "put_image",
            service_error_code="ImageTagAlreadyExistsException",
            service_message="The image tag '1.2.0' already exists and cannot be overwritten "
            "because the tag is immutable.",
            http_status_code=400,
            expected_params=_put("1.2.0"),
        )
        stub.add_response(
            "describe_images",
            {"imageDetails": [{"imageDigest": DIGEST_THEIRS, "imageTags": ["1.2.0"]}]},
            {"repositoryName": "app", "imageIds": [{"imageTag": "1.2.0"}]},
        )

        result = _stubbed_claim(client)

        stub.assert_no_pending_responses()
    assert result.status is ClaimStatus.LOST
    assert result.other_digest == DIGEST_THEIRS


def test_aws_image_already_exists_for_our_own_digest_is_already_ours() -> None:
    client = boto3.client("ecr", region_name="us-east-1")
    with Stubber(client) as stub:
        for tag in ("1.2.0", f"git-{SHA_A}"):
            stub.add_client_error(
                "put_image",
                service_error_code="ImageAlreadyExistsException",
                http_status_code=400,
                expected_params=_put(tag),
            )
            stub.add_response(
                "describe_images",
                {"imageDetails": [{"imageDigest": DIGEST_OURS, "imageTags": [tag]}]},
                {"repositoryName": "app", "imageIds": [{"imageTag": tag}]},
            )

        result = _stubbed_claim(client)

    assert result.status is ClaimStatus.ALREADY_OURS


def test_a_digest_other_than_ours_after_put_image_is_a_failure_not_a_win() -> None:
    client = boto3.client("ecr", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response("put_image", _image(DIGEST_THEIRS, "1.2.0"), _put("1.2.0"))

        with pytest.raises(OperationFailed, match="instead of"):
            _stubbed_claim(client)


def test_a_tag_deleted_between_refusal_and_read_is_written_again() -> None:
    client = boto3.client("ecr", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("put_image", "ImageTagAlreadyExistsException", http_status_code=400)
        stub.add_client_error("describe_images", "ImageNotFoundException", http_status_code=400)
        stub.add_response("put_image", _image(DIGEST_OURS, "1.2.0"), _put("1.2.0"))
        stub.add_response("put_image", _image(DIGEST_OURS, f"git-{SHA_A}"), _put(f"git-{SHA_A}"))

        result = _stubbed_claim(client)

        stub.assert_no_pending_responses()
    assert result.status is ClaimStatus.WON
