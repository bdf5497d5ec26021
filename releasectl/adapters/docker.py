"""The Docker image builder (`--builder docker`): `docker buildx build` with a registry cache.

The command line is built by pure functions (buildx_build_argv and friends) so
every flag is tested without Docker; BuildxBuilder runs it, streaming Docker's
output to the reporter, and reads the pushed digest from `--metadata-file`.

Choices that matter:
- docker-container driver (a builder named "releasectl"): the default `docker`
  driver cannot export a registry cache with mode=max. Its BuildKit image is pinned by
  digest (`buildkit_image`), and the builder is created with `--bootstrap`, so a daemon image
  that cannot be pulled fails at once, naming the setting that fixes it. The Dockerfile has
  no syntax directive: nothing floating is pulled at build time.
- The BuildKit cache lives in a separate ECR repository under the `buildcache` tag,
  so release tags (X.Y.Z, git-<sha>, latest) only ever name runnable images.
- `--provenance=false`: the push is a single image manifest, not an index with an
  attestation, so the digest ECR reports is the one ECS runs and retags are exact.
- The image is pushed by digest, with no tag at all. Tags are the release ledger and
  are written only by the version claim (put_image, docs/design.md §4): `X.Y.Z` first, then
  `git-<sha>`. Were `git-<sha>` pushed here, a claim lost to a racing pipeline would
  leave that immutable tag on an image whose baked-in version is not the one released.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from releasectl.core.config import DEFAULT_BUILDKIT_IMAGE
from releasectl.core.errors import EnvironmentProblem, OperationFailed, UsageError
from releasectl.core.platforms import DEFAULT_PLATFORM

if TYPE_CHECKING:
    from releasectl.commands.context import Context, Reporter

BUILDER_NAME = "releasectl"
CACHE_TAG = "buildcache"
INSTALL_HINT = (
    "install Docker with the buildx plugin (https://docs.docker.com/engine/install/), "
    "or use --builder sandbox"
)
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class ImageBuild:
    """What to build and where to push it."""

    context: Path
    repository_uri: str  # "<account>.dkr.ecr.<region>.amazonaws.com/<name>"
    version: str
    commit: str
    build_date: str  # RFC 3339, UTC: the commit's time, so rebuilds are reproducible
    cache_repository_uri: str | None = None
    source_url: str | None = None
    # Seconds since the epoch of the commit: BuildKit clamps file times to it, so the same
    # commit and version rebuild to the same digest and a re-run's claim finds its own image.
    source_date_epoch: int | None = None
    dockerfile: Path | None = None
    platform: str = DEFAULT_PLATFORM
    builder: str = BUILDER_NAME
    buildkit_image: str = DEFAULT_BUILDKIT_IMAGE
    # The Dockerfile's BASE_IMAGE; None leaves its pinned default.
    base_image: str | None = None


@dataclass(frozen=True)
class PushedImage:
    """An image pushed by digest and not yet tagged: the version claim tags it."""

    repository_uri: str
    digest: str

    @property
    def uri(self) -> str:
        """By digest: what deployments pin."""
        return f"{self.repository_uri}@{self.digest}"


def registry_of(repository_uri: str) -> str:
    """The registry host of a repository URI ("host/name" → "host")."""
    host, sep, _ = repository_uri.partition("/")
    if not sep or not host:
        raise UsageError(f"{repository_uri!r} is not a repository URI (registry/name)")
    return host


def _check(build: ImageBuild) -> None:
    if not _COMMIT.match(build.commit):
        raise UsageError(f"commit {build.commit!r} is not a full 40-hex git commit id")
    if "+" in build.version or not build.version:
        raise UsageError(f"version {build.version!r} cannot be used in an image tag or label")
    registry_of(build.repository_uri)
    if build.cache_repository_uri:
        registry_of(build.cache_repository_uri)
        if build.cache_repository_uri == build.repository_uri:
            raise UsageError(
                "the build cache must live in its own repository, not the release repository",
                hint="set cache_repository in [tool.releasectl] (default: <ecr_repository>-cache)",
            )


def buildx_build_argv(build: ImageBuild, *, metadata_file: Path, docker: str = "docker") -> list[str]:
    """The full `docker buildx build` command line for one release image."""
    _check(build)
    argv = [
        docker,
        "buildx",
        "build",
        "--builder",
        build.builder,
        "--platform",
        build.platform,
        "--provenance=false",
        "--progress=plain",
    ]
    build_args = {
        "APP_VERSION": build.version,
        "GIT_COMMIT": build.commit,
        "BUILD_DATE": build.build_date,
    }
    labels = {
        "org.opencontainers.image.version": build.version,
        "org.opencontainers.image.revision": build.commit,
        "org.opencontainers.image.created": build.build_date,
    }
    if build.source_url:
        build_args["SOURCE_URL"] = build.source_url
        labels["org.opencontainers.image.source"] = build.source_url
    if build.source_date_epoch is not None:
        build_args["SOURCE_DATE_EPOCH"] = str(build.source_date_epoch)
    if build.base_image:
        build_args["BASE_IMAGE"] = build.base_image
    for name, value in build_args.items():
        argv += ["--build-arg", f"{name}={value}"]
    for name, value in labels.items():
        argv += ["--label", f"{name}={value}"]
    if build.cache_repository_uri:
        cache_ref = f"{build.cache_repository_uri}:{CACHE_TAG}"
        argv += ["--cache-from", f"type=registry,ref={cache_ref}"]
        # ECR accepts a registry cache only as an OCI image manifest.
        argv += [
            "--cache-to",
            f"type=registry,ref={cache_ref},mode=max,image-manifest=true,oci-mediatypes=true",
        ]
    # Pushed by digest, untagged: the version claim writes the tags (see the module docstring).
    output = f"type=image,name={build.repository_uri},push-by-digest=true,name-canonical=true,push=true"
    if build.source_date_epoch is not None:
        output += ",rewrite-timestamp=true"
    argv += [
        "--output",
        output,
        "--metadata-file",
        str(metadata_file),
    ]
    if build.dockerfile is not None:
        argv += ["--file", str(build.dockerfile)]
    argv.append(str(build.context))
    return argv


def buildx_create_argv(
    name: str = BUILDER_NAME, *, image: str = DEFAULT_BUILDKIT_IMAGE, docker: str = "docker"
) -> list[str]:
    """Create and start the builder: a BuildKit image that cannot be pulled fails here, not mid-build."""
    return [
        docker,
        "buildx",
        "create",
        "--driver",
        "docker-container",
        "--driver-opt",
        f"image={image}",
        "--name",
        name,
        "--bootstrap",
    ]


def buildx_inspect_argv(name: str = BUILDER_NAME, *, docker: str = "docker") -> list[str]:
    return [docker, "buildx", "inspect", name]


def digest_from_metadata(text: str) -> str:
    """The pushed image's digest from buildx's --metadata-file JSON."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise OperationFailed(f"docker buildx wrote an unreadable metadata file: {exc}") from None
    digest = data.get("containerimage.digest") if isinstance(data, dict) else None
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise OperationFailed(
            f"docker buildx metadata has no valid containerimage.digest (got {digest!r})",
            hint="check that the build pushed an image (--push) with a current buildx",
        )
    return digest


@dataclass
class DockerCli:
    """The `docker` executable, found on the PATH of `env`, with output streamed to a reporter."""

    reporter: Reporter
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    def executable(self) -> str:
        found = shutil.which("docker", path=self.env.get("PATH", ""))
        if found is None:
            raise EnvironmentProblem("docker is not installed (not found on PATH)", hint=INSTALL_HINT)
        return found

    def run_quiet(self, args: Sequence[str], *, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.executable(), *args],
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=dict(self.env),
            check=False,
        )

    def run_streaming(self, args: Sequence[str]) -> int:
        proc = subprocess.Popen(
            [self.executable(), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=dict(self.env),
        )
        assert proc.stdout is not None
        try:
            with proc.stdout:
                for raw in iter(proc.stdout.readline, b""):
                    self.reporter.log_line(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
            return proc.wait()
        except BaseException:
            proc.terminate()
            proc.wait()
            raise


def _require_builder_image(name: str, image: str, inspect_output: str) -> None:
    """A builder left by an earlier run with another BuildKit image would build with that one."""
    match = re.search(r"image=\"?([^\s\",]+)", inspect_output)
    if match and match.group(1) != image:
        raise EnvironmentProblem(
            f"buildx builder {name} runs BuildKit image {match.group(1)}, not the configured {image}",
            hint=f"remove it with `docker buildx rm {name}`; the next build creates it again",
        )


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


@dataclass
class BuildxBuilder:
    cli: DockerCli

    def preflight(self) -> None:
        """Docker installed, daemon answering, buildx present: else exit 4 with what to do."""
        info = self.cli.run_quiet(["info", "--format", "{{.ServerVersion}}"])
        if info.returncode != 0:
            raise EnvironmentProblem(
                f"the Docker daemon does not answer ({_last_line(info.stderr or info.stdout)})",
                hint="start Docker (Docker Desktop, or `sudo systemctl start docker`); "
                "in CodeBuild, enable privileged mode — or use --builder sandbox",
            )
        buildx = self.cli.run_quiet(["buildx", "version"])
        if buildx.returncode != 0:
            raise EnvironmentProblem(
                "docker buildx is not available",
                hint="install the buildx plugin: https://docs.docker.com/build/",
            )

    def ensure_builder(self, name: str = BUILDER_NAME, image: str = DEFAULT_BUILDKIT_IMAGE) -> None:
        inspected = self.cli.run_quiet(buildx_inspect_argv(name)[1:])
        if inspected.returncode == 0:
            _require_builder_image(name, image, inspected.stdout)
            return
        self.cli.reporter.info(f"creating buildx builder {name} (docker-container driver, {image})")
        created = self.cli.run_quiet(buildx_create_argv(name, image=image)[1:])
        if created.returncode != 0:
            raise EnvironmentProblem(
                f"could not start buildx builder {name} with BuildKit image {image}: "
                f"{_last_line(created.stderr or created.stdout)}",
                hint="the BuildKit image must be pullable from here: set buildkit_image "
                "(RELEASECTL_BUILDKIT_IMAGE) to the same digest in a registry you reach, e.g. the "
                "template's ECR pull-through cache; then `docker buildx rm "
                f"{name}` if a half-made builder is left",
            )

    def build(self, build: ImageBuild) -> PushedImage:
        with _scratch_dir() as scratch:
            metadata = scratch / "metadata.json"
            argv = buildx_build_argv(build, metadata_file=metadata)
            self.cli.reporter.info(
                f"building {build.repository_uri} {build.version} ({build.commit[:12]}, {build.platform}) "
                "with docker buildx"
            )
            code = self.cli.run_streaming(argv[1:])
            if code != 0:
                raise OperationFailed(
                    f"docker buildx build failed (exit {code})", hint="see the build output above"
                )
            if not metadata.is_file():
                raise OperationFailed(
                    "docker buildx build wrote no metadata file; cannot tell what it pushed"
                )
            digest = digest_from_metadata(metadata.read_text(encoding="utf-8"))
        return PushedImage(repository_uri=build.repository_uri, digest=digest)


@contextlib.contextmanager
def _scratch_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="releasectl-docker-") as name:
        yield Path(name)


def build_and_push(ctx: Context, build: ImageBuild, *, env: Mapping[str, str] | None = None) -> PushedImage:
    """Check Docker, log in to ECR, make sure the builder exists, build and push by digest."""
    from releasectl.adapters.aws.ecr_auth import ecr_login

    cli = DockerCli(ctx.reporter, dict(os.environ if env is None else env))
    builder = BuildxBuilder(cli)
    builder.preflight()
    registries = {registry_of(build.repository_uri)}
    if build.cache_repository_uri:
        registries.add(registry_of(build.cache_repository_uri))
    ecr_login(ctx, docker=cli, registries=sorted(registries))
    builder.ensure_builder(build.builder, build.buildkit_image)
    return builder.build(build)
