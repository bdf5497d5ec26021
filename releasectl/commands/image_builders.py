"""Image builders, chosen by name: what `release --builder NAME` and the `builder` setting pick.

`docker` (buildx, push by digest) is the product's own. Other builders plug in through the
`releasectl.image_builders` entry-point group (releasectl.commands.plugins): each entry point is a
factory `(ctx, env) -> ImageBuilder`. The sandbox registers `sandbox` that way, so the product
never imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from releasectl.adapters.aws.ecr import RepositoryInfo
from releasectl.commands.context import Context
from releasectl.core.platforms import DEFAULT_PLATFORM


@dataclass(frozen=True)
class Candidate:
    """An image built for one version of one commit, ready to be claimed."""

    digest: str
    manifest: str
    media_type: str


@dataclass(frozen=True)
class BuildRequest:
    context_dir: Path
    repository: RepositoryInfo
    cache_repository_uri: str | None
    version: str
    commit: str
    commit_time: int
    source_url: str | None
    # What the service's tasks run (linux/amd64 or linux/arm64): an image for another never starts.
    platform: str = DEFAULT_PLATFORM

    @property
    def build_date(self) -> str:
        """The commit's time as RFC 3339: the image's `created`, the same on every rebuild."""
        return datetime.fromtimestamp(self.commit_time, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ImageBuilder(Protocol):
    name: str

    def build(self, request: BuildRequest) -> Candidate: ...


BuilderFactory = Callable[[Context, Mapping[str, str]], ImageBuilder]


def target_platform(ctx: Context, *, deploy: bool) -> str:
    """The platform to build for: the service's when the release deploys, else the setting.

    With both, they must agree (exit 4 naming both), checked before anything is built or pushed.
    """
    from releasectl.core.platforms import platform_of_task_definition, require_same_platform

    configured = ctx.config.platform
    if not deploy:
        return configured or DEFAULT_PLATFORM
    definition = ctx.config.service_definition_path()
    if definition is not None:
        # The revision the release deploys is registered from the service definition, so its
        # architecture decides; the service need not exist yet (the first deploy creates it).
        from releasectl.core.service_definition import merged, parse

        spec = merged(parse(str(definition), definition.read_text(encoding="utf-8")), ctx.config.env)
        architecture = {"cpuArchitecture": spec.get("cpu_architecture") or "X86_64"}
        service_platform = platform_of_task_definition({"runtimePlatform": architecture})
        if configured is not None:
            source = f"platform from {ctx.config.sources.get('platform', 'the settings')}"
            name = ctx.config.require("ecs_service")
            require_same_platform(configured, service_platform, service_name=name, source=source)
        ctx.reporter.detail(f"building for {service_platform}, as {definition.name} says")
        return service_platform
    from releasectl.adapters.aws.ecs import EcsApi

    ecs = EcsApi.from_context(ctx)
    snapshot = ecs.describe_service()
    revision = ecs.describe_task_definition(str(snapshot["taskDefinition"]))
    service_platform = platform_of_task_definition(revision.definition)
    if configured is not None:
        source = f"platform from {ctx.config.sources.get('platform', 'the settings')}"
        require_same_platform(
            configured, service_platform, service_name=ctx.config.require("ecs_service"), source=source
        )
    ctx.reporter.detail(f"building for {service_platform}, as {revision.family}:{revision.number} runs")
    return service_platform


def choose_builder(ctx: Context, requested: str | None, env: Mapping[str, str]) -> ImageBuilder:
    name = (requested or ctx.config.builder).strip().lower()
    if name in ("auto", "docker"):
        return DockerImageBuilder(ctx, env)
    from releasectl.commands.plugins import image_builder

    factory: BuilderFactory = image_builder(name)
    return factory(ctx, env)


class DockerImageBuilder:
    name = "docker"

    def __init__(self, ctx: Context, env: Mapping[str, str]) -> None:
        self.ctx = ctx
        self.env = env

    def build(self, request: BuildRequest) -> Candidate:
        from releasectl.adapters.aws.ecr import manifest_for
        from releasectl.adapters.docker import ImageBuild, build_and_push

        built = build_and_push(
            self.ctx,
            ImageBuild(
                context=request.context_dir,
                repository_uri=request.repository.uri,
                cache_repository_uri=request.cache_repository_uri,
                version=request.version,
                commit=request.commit,
                build_date=request.build_date,
                source_date_epoch=request.commit_time,
                source_url=request.source_url,
                platform=request.platform,
                buildkit_image=self.ctx.config.buildkit_image,
                base_image=self.ctx.config.base_image,
            ),
            env=self.env,
        )
        # The push left the image untagged; the claim re-puts these exact bytes with its tags.
        stored = manifest_for(self.ctx.aws.client("ecr"), request.repository.name, built.digest)
        return Candidate(digest=stored.digest, manifest=stored.manifest, media_type=stored.media_type)
