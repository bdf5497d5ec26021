"""The Docker builder: the buildx command line (pure) and the run against a fake `docker` on PATH."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from releasectl.adapters.aws.ecr_auth import RegistryLogin, decode_token, ecr_login
from releasectl.adapters.docker import (
    BuildxBuilder,
    DockerCli,
    ImageBuild,
    build_and_push,
    buildx_build_argv,
    buildx_create_argv,
    digest_from_metadata,
    registry_of,
)
from releasectl.commands.context import Context, RecordingReporter
from releasectl.core.clock import FakeClock
from releasectl.core.config import DEFAULT_BUILDKIT_IMAGE, Config
from releasectl.core.errors import EnvironmentProblem, ExitCode, OperationFailed, UsageError
from tests.support import fake_docker

SHA = "0123456789abcdef0123456789abcdef01234567"
REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
REPO = f"{REGISTRY}/hello-world"
CACHE = f"{REGISTRY}/hello-world-cache"
# moto's authorization token for account 123456789012 decodes to AWS:<this>.
MOTO_PASSWORD = "123456789012-auth-token"


def image_build(tmp_path: Path, **changes: object) -> ImageBuild:
    fields: dict[str, object] = {
        "context": tmp_path,
        "repository_uri": REPO,
        "cache_repository_uri": CACHE,
        "version": "1.4.0",
        "commit": SHA,
        "build_date": "2025-01-02T03:04:05Z",
        "source_url": "https://github.com/example/hello-world",
        **changes,
    }
    return ImageBuild(**fields)  # type: ignore[arg-type]


def argv_for(tmp_path: Path, **changes: object) -> list[str]:
    return buildx_build_argv(image_build(tmp_path, **changes), metadata_file=tmp_path / "meta.json")


def values_of(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == flag]


# ----------------------------------------------------------------------------- the command line


def test_argv_is_docker_buildx_build(tmp_path: Path) -> None:
    assert argv_for(tmp_path)[:3] == ["docker", "buildx", "build"]


def test_argv_uses_the_releasectl_builder(tmp_path: Path) -> None:
    assert values_of(argv_for(tmp_path), "--builder") == ["releasectl"]


def test_argv_sets_the_platform(tmp_path: Path) -> None:
    assert values_of(argv_for(tmp_path), "--platform") == ["linux/amd64"]


def test_argv_builds_for_an_arm_task_when_asked(tmp_path: Path) -> None:
    assert values_of(argv_for(tmp_path, platform="linux/arm64"), "--platform") == ["linux/arm64"]


def test_argv_disables_provenance_attestations(tmp_path: Path) -> None:
    assert "--provenance=false" in argv_for(tmp_path)


def test_argv_passes_the_version_build_args(tmp_path: Path) -> None:
    assert values_of(argv_for(tmp_path), "--build-arg") == [
        "APP_VERSION=1.4.0",
        f"GIT_COMMIT={SHA}",
        "BUILD_DATE=2025-01-02T03:04:05Z",
        "SOURCE_URL=https://github.com/example/hello-world",
    ]


def test_argv_sets_the_oci_labels(tmp_path: Path) -> None:
    labels = dict(label.split("=", 1) for label in values_of(argv_for(tmp_path), "--label"))
    assert labels == {
        "org.opencontainers.image.version": "1.4.0",
        "org.opencontainers.image.revision": SHA,
        "org.opencontainers.image.created": "2025-01-02T03:04:05Z",
        "org.opencontainers.image.source": "https://github.com/example/hello-world",
    }


def test_argv_leaves_out_the_source_when_unknown(tmp_path: Path) -> None:
    argv = argv_for(tmp_path, source_url=None)
    assert not any("SOURCE_URL" in v or "image.source" in v for v in argv)


def test_argv_reads_the_cache_from_the_cache_repository(tmp_path: Path) -> None:
    assert values_of(argv_for(tmp_path), "--cache-from") == [f"type=registry,ref={CACHE}:buildcache"]


def test_argv_writes_a_max_mode_oci_cache_to_the_cache_repository(tmp_path: Path) -> None:
    assert values_of(argv_for(tmp_path), "--cache-to") == [
        f"type=registry,ref={CACHE}:buildcache,mode=max,image-manifest=true,oci-mediatypes=true"
    ]


def test_argv_keeps_the_cache_out_of_the_release_repository(tmp_path: Path) -> None:
    argv = argv_for(tmp_path)
    cache_refs = values_of(argv, "--cache-from") + values_of(argv, "--cache-to")
    assert all(f"ref={REPO}:" not in ref for ref in cache_refs)


def test_argv_has_no_cache_flags_without_a_cache_repository(tmp_path: Path) -> None:
    argv = argv_for(tmp_path, cache_repository_uri=None)
    assert "--cache-from" not in argv and "--cache-to" not in argv


def test_argv_pushes_the_image_to_the_release_repository_by_digest(tmp_path: Path) -> None:
    assert values_of(argv_for(tmp_path), "--output") == [
        f"type=image,name={REPO},push-by-digest=true,name-canonical=true,push=true"
    ]


def test_argv_writes_no_tag_the_version_claim_owns_them(tmp_path: Path) -> None:
    argv = argv_for(tmp_path)
    assert "--tag" not in argv and "-t" not in argv
    assert not any(value.startswith(f"{REPO}:") for value in argv)


def test_argv_writes_the_metadata_file(tmp_path: Path) -> None:
    assert values_of(argv_for(tmp_path), "--metadata-file") == [str(tmp_path / "meta.json")]


def test_argv_ends_with_the_build_context(tmp_path: Path) -> None:
    assert argv_for(tmp_path)[-1] == str(tmp_path)


def test_argv_names_a_dockerfile_only_when_given(tmp_path: Path) -> None:
    assert "--file" not in argv_for(tmp_path)
    assert values_of(argv_for(tmp_path, dockerfile=tmp_path / "Dockerfile.alt"), "--file") == [
        str(tmp_path / "Dockerfile.alt")
    ]


def test_cache_in_the_release_repository_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="own repository"):
        argv_for(tmp_path, cache_repository_uri=REPO)


def test_short_commit_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="40-hex"):
        argv_for(tmp_path, commit="0123456")


def test_version_with_build_metadata_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"1\.4\.0\+build"):
        argv_for(tmp_path, version="1.4.0+build")


def test_builder_is_created_with_the_docker_container_driver() -> None:
    assert buildx_create_argv() == [
        "docker",
        "buildx",
        "create",
        "--driver",
        "docker-container",
        "--driver-opt",
        f"image={DEFAULT_BUILDKIT_IMAGE}",
        "--name",
        "releasectl",
        "--bootstrap",
    ]


def test_registry_is_the_host_of_the_repository_uri() -> None:
    assert registry_of(REPO) == REGISTRY


def test_digest_is_read_from_the_metadata_file() -> None:
    digest = "sha256:" + "ab" * 32
    assert digest_from_metadata(json.dumps({"containerimage.digest": digest, "image.name": "x"})) == digest


@pytest.mark.parametrize("text", ["{}", '{"containerimage.digest": "sha256:short"}', "not json", "[]"])
def test_metadata_without_a_valid_digest_is_a_failure(text: str) -> None:
    with pytest.raises(OperationFailed):
        digest_from_metadata(text)


# ----------------------------------------------------------------------------- ECR login, pure parts


def test_token_decodes_to_user_and_password() -> None:
    token = base64.b64encode(b"AWS:pass:with:colons").decode()
    assert decode_token(token) == ("AWS", "pass:with:colons")


def test_token_that_is_not_base64_is_a_failure() -> None:
    with pytest.raises(OperationFailed, match="base64"):
        decode_token("%%%not-base64%%%")


def test_registry_login_never_shows_its_password() -> None:
    login = RegistryLogin(endpoint=REGISTRY, username="AWS", password="s3cr3t-value")
    assert "s3cr3t-value" not in repr(login)
    assert "s3cr3t-value" not in str(login)
    assert login.scrub("denied for s3cr3t-value") == "denied for <redacted>"


# ----------------------------------------------------------------------------- against the fake docker


@dataclass
class FakeDocker:
    bin_dir: Path
    state: Path

    def calls(self) -> list[dict[str, object]]:
        return fake_docker.calls(self.state)

    def argvs(self) -> list[list[str]]:
        return [list(call["argv"]) for call in self.calls()]  # type: ignore[call-overload]


@pytest.fixture
def docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeDocker:
    bin_dir = tmp_path / "bin"
    fake_docker.install(bin_dir, tmp_path / "docker-state")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    for name in (
        "FAKE_DOCKER_DAEMON",
        "FAKE_DOCKER_BUILDX",
        "FAKE_DOCKER_BUILD_EXIT",
        "FAKE_DOCKER_LOGIN_EXIT",
    ):
        monkeypatch.delenv(name, raising=False)
    return FakeDocker(bin_dir, tmp_path / "docker-state")


@pytest.fixture
def ctx(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    """A context on the moto server, with the release and cache repositories created."""
    import boto3

    monkeypatch.setenv("FAKE_DOCKER_ECR_ENDPOINT", moto_endpoint)
    ecr = boto3.client("ecr", endpoint_url=moto_endpoint, region_name="us-east-1")
    ecr.create_repository(repositoryName="hello-world")
    ecr.create_repository(repositoryName="hello-world-cache")
    yield Context(
        config=Config(region="us-east-1", endpoint_url=moto_endpoint, ecr_repository="hello-world"),
        reporter=RecordingReporter(),
        clock=FakeClock(),
        verbose=True,
    )


def context_dir(tmp_path: Path) -> Path:
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\n")
    return context


def reporter_of(ctx: Context) -> RecordingReporter:
    assert isinstance(ctx.reporter, RecordingReporter)
    return ctx.reporter


def test_build_and_push_returns_the_digest_the_registry_holds(
    docker: FakeDocker, ctx: Context, tmp_path: Path, moto_endpoint: str
) -> None:
    import boto3

    built = build_and_push(ctx, image_build(context_dir(tmp_path)))
    ecr = boto3.client("ecr", endpoint_url=moto_endpoint, region_name="us-east-1")
    images = ecr.describe_images(repositoryName="hello-world")["imageDetails"]
    assert [image["imageDigest"] for image in images] == [built.digest]
    assert built.uri == f"{REPO}@{built.digest}"


def test_build_and_push_leaves_the_image_untagged_for_the_version_claim(
    docker: FakeDocker, ctx: Context, tmp_path: Path, moto_endpoint: str
) -> None:
    import boto3

    build_and_push(ctx, image_build(context_dir(tmp_path)))
    ecr = boto3.client("ecr", endpoint_url=moto_endpoint, region_name="us-east-1")
    images = ecr.describe_images(repositoryName="hello-world")["imageDetails"]
    assert [image.get("imageTags", []) for image in images] == [[]]


def test_build_and_push_runs_buildx_with_the_pure_command_line(
    docker: FakeDocker, ctx: Context, tmp_path: Path
) -> None:
    build = image_build(context_dir(tmp_path))
    build_and_push(ctx, build)
    run = next(argv for argv in docker.argvs() if argv[:2] == ["buildx", "build"])
    metadata = run[run.index("--metadata-file") + 1]
    assert run == buildx_build_argv(build, metadata_file=Path(metadata))[1:]


def test_build_and_push_logs_in_checks_and_creates_the_builder_before_building(
    docker: FakeDocker, ctx: Context, tmp_path: Path
) -> None:
    build_and_push(ctx, image_build(context_dir(tmp_path)))
    steps = [" ".join(argv[:2]) for argv in docker.argvs()]
    assert steps == [
        "info --format",
        "buildx version",
        "login --username",
        "buildx inspect",
        "buildx create",
        "buildx build",
    ]


def test_existing_builder_is_reused(docker: FakeDocker, ctx: Context, tmp_path: Path) -> None:
    context = context_dir(tmp_path)
    build_and_push(ctx, image_build(context))
    build_and_push(ctx, image_build(context))
    assert sum(argv[:2] == ["buildx", "create"] for argv in docker.argvs()) == 1


def test_build_output_streams_to_the_reporter(docker: FakeDocker, ctx: Context, tmp_path: Path) -> None:
    build_and_push(ctx, image_build(context_dir(tmp_path)))
    lines = reporter_of(ctx).texts("log")
    assert lines[0] == '#0 building with "releasectl" instance using docker-container driver'
    assert any(line.startswith(f"#4 pushing manifest for {REPO}@sha256:") for line in lines)


def test_login_password_goes_only_through_stdin(docker: FakeDocker, ctx: Context, tmp_path: Path) -> None:
    build_and_push(ctx, image_build(context_dir(tmp_path)))
    login = next(call for call in docker.calls() if call["argv"][0] == "login")  # type: ignore[index]
    assert login["argv"] == ["login", "--username", "AWS", "--password-stdin", REGISTRY]
    assert login["stdin"] == MOTO_PASSWORD + "\n"
    assert all(MOTO_PASSWORD not in " ".join(argv) for argv in docker.argvs())


def test_login_token_never_appears_in_output_even_verbose(
    docker: FakeDocker, ctx: Context, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    build_and_push(ctx, image_build(context_dir(tmp_path)))
    captured = capfd.readouterr()
    token = base64.b64encode(f"AWS:{MOTO_PASSWORD}".encode()).decode()
    everything = "\n".join([*reporter_of(ctx).texts(), captured.out, captured.err])
    assert "docker login --username AWS --password-stdin" in everything  # -v shows the command...
    assert MOTO_PASSWORD not in everything  # ...never the password
    assert token not in everything


def test_failed_login_is_an_environment_problem_without_the_password(
    docker: FakeDocker, ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_DOCKER_LOGIN_EXIT", "1")
    with pytest.raises(EnvironmentProblem, match="docker login") as caught:
        ecr_login(ctx, docker=DockerCli(ctx.reporter))
    assert "401 Unauthorized" in caught.value.message
    assert MOTO_PASSWORD not in caught.value.one_line()


def test_missing_docker_is_exit_4_with_an_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    builder = BuildxBuilder(DockerCli(RecordingReporter()))
    with pytest.raises(EnvironmentProblem) as caught:
        builder.preflight()
    assert caught.value.exit_code == ExitCode.ENVIRONMENT
    assert "not installed" in caught.value.message
    assert caught.value.hint is not None and "install Docker" in caught.value.hint


def test_daemon_not_answering_is_exit_4_with_a_start_hint(
    docker: FakeDocker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_DOCKER_DAEMON", "down")
    with pytest.raises(EnvironmentProblem, match="Docker daemon does not answer") as caught:
        BuildxBuilder(DockerCli(RecordingReporter())).preflight()
    assert caught.value.exit_code == ExitCode.ENVIRONMENT
    assert caught.value.hint is not None and "start Docker" in caught.value.hint


def test_missing_buildx_is_exit_4(docker: FakeDocker, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_DOCKER_BUILDX", "missing")
    with pytest.raises(EnvironmentProblem, match="buildx"):
        BuildxBuilder(DockerCli(RecordingReporter())).preflight()


def test_failing_build_is_operation_failed_with_docker_output_shown(
    docker: FakeDocker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_DOCKER_BUILD_EXIT", "1")
    reporter = RecordingReporter()
    with pytest.raises(OperationFailed, match=r"docker buildx build failed \(exit 1\)") as caught:
        BuildxBuilder(DockerCli(reporter)).build(image_build(context_dir(tmp_path)))
    assert caught.value.exit_code == ExitCode.FAILED
    assert "ERROR: failed to solve: exit code: 1" in reporter.texts("log")


def test_push_rejected_by_the_registry_is_operation_failed(
    docker: FakeDocker, ctx: Context, tmp_path: Path
) -> None:
    with pytest.raises(OperationFailed):
        build_and_push(ctx, image_build(context_dir(tmp_path), repository_uri=f"{REGISTRY}/no-such-repo"))
    assert any("does not exist" in line for line in reporter_of(ctx).texts("log"))


def test_a_commit_time_makes_the_build_reproducible(tmp_path: Path) -> None:
    argv = argv_for(tmp_path, source_date_epoch=1_700_000_000)
    assert "SOURCE_DATE_EPOCH=1700000000" in values_of(argv, "--build-arg")
    assert values_of(argv, "--output")[0].endswith(",rewrite-timestamp=true")
