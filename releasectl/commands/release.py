"""`releasectl release`: what CodeBuild runs on every push, and what a laptop can run too.

version → image build → claim (docs/design.md §4) → imagedefinitions.json → exported variables →
deploy and verify. Re-running for a released commit changes nothing; a lost version race
recomputes, rebuilds (the version is baked into the image) and tries again, a bounded number
of times, then exits 5.
"""

from __future__ import annotations

import json
import os
import random
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from releasectl.core.errors import Conflict, EnvironmentProblem, Interrupted, interrupted_as
from releasectl.core.ledger import Release, for_commit
from releasectl.core.result import CommandResult, ImageInfo, Outcome

if TYPE_CHECKING:
    from releasectl.adapters.aws.ecr import RepositoryInfo
    from releasectl.commands.context import Context
    from releasectl.commands.image_builders import BuildRequest
    from releasectl.commands.version import VersionPlan

EXPORTED = ("RELEASE_VERSION", "IMAGE_DIGEST", "IMAGE_URI")
IMAGE_DEFINITIONS = "imagedefinitions.json"


def release(
    ctx: Context,
    *,
    deploy: bool,
    builder: str | None,
    env_file: Path | None,
    timeout: int | None = None,
    wait: bool = True,
    env: Mapping[str, str] | None = None,
    rng: random.Random | None = None,
    allow_unpushed: bool = False,
) -> CommandResult:
    from releasectl.adapters.aws.ecr import describe_repository
    from releasectl.adapters.aws.ecr_tags import ClaimStatus, claim
    from releasectl.commands.image_builders import choose_builder, target_platform
    from releasectl.commands.version import plan_version

    env = os.environ if env is None else env
    rng = rng or random.Random()  # noqa: S311 - jitter, not security  # nosec B311
    started = ctx.clock.now()
    if env_file is not None:
        env_file.unlink(missing_ok=True)  # a stale file would export another run's image
    repository = ctx.config.require("ecr_repository")
    if deploy:
        for key in ("ecs_cluster", "ecs_service", "container_name"):
            ctx.config.require(key)
    chosen = choose_builder(ctx, builder, env)
    ecr = ctx.aws.client("ecr")
    info = describe_repository(ecr, repository)
    platform: str | None = None  # read from the service once, when an image is first needed

    attempts = ctx.config.claim_attempts
    existing: Release | None = None
    version = commit = digest = ""
    claim_note = ""
    for attempt in range(1, attempts + 1):
        plan = plan_version(ctx, offline=False, env=env)
        commit = plan.head
        existing = _released_image(plan)
        if existing is not None:
            version, digest = existing.version, str(existing.digest)
            ctx.reporter.info(f"commit {commit[:12]} is already released as {version}: nothing to build")
            claim_note = "already released"
            break
        if not plan.decision.changes and not plan.decision.released:
            return _nothing_to_release(ctx, plan, started)
        # Past here HEAD needs an image: a new version, or one tagged in git whose image ECR lacks.
        version = plan.decision.next
        _require_clean_tree(plan)
        if not allow_unpushed:
            _require_pushed(plan, env)
        ctx.reporter.info(f"releasing {commit[:12]} as {version} ({plan.decision.rule}), attempt {attempt}")
        platform = platform or target_platform(ctx, deploy=deploy)
        with interrupted_as(
            f"interrupted while building {version} of commit {commit[:12]}; nothing was claimed",
            hint="run the release again",
        ):
            candidate = chosen.build(_request(ctx, plan, info, version, platform))
        # claim() takes back a version tag it wrote without its commit tag before an interrupt.
        with interrupted_as(
            f"interrupted while claiming {version} for commit {commit[:12]} ({candidate.digest})",
            hint="`releasectl releases` shows whether it was claimed; run the release again either way",
        ):
            claimed = claim(
                ecr,
                repository,
                digest=candidate.digest,
                manifest=candidate.manifest,
                media_type=candidate.media_type,
                version=version,
                commit=commit,
                repository_info=info,
            )
        if claimed.won:
            digest = candidate.digest
            claim_note = "claimed" if claimed.status is ClaimStatus.WON else "already ours"
            ctx.reporter.info(f"{claim_note}: {repository}:{version} and git-{commit} -> {digest}")
            break
        ctx.reporter.warn(
            f"lost the race for {claimed.contested_tag} (held by {claimed.other_digest}); "
            "re-reading the ledger"
        )
        # Spread the retries of processes that lost together, so they do not collide again.
        ctx.clock.sleep(rng.uniform(0.0, 0.5 * attempt))
    else:
        raise Conflict(
            f"could not claim a version for commit {commit[:12]} after {attempts} attempts: "
            "other releases kept taking the version computed",
            hint="run the release again; raise claim_attempts in [tool.releasectl] if this repeats",
        )

    from releasectl.commands.notes import publish_github_release, release_notes, tag_message

    notes = release_notes(ctx, plan, version, commit)
    git_tag = _mirror_git_tag(ctx, plan, version, commit, tag_message(notes, version))
    github_release = publish_github_release(ctx, plan, notes, env=env)
    uri = f"{info.uri}@{digest}"
    _write_image_definitions(ctx, uri)
    exported = {"RELEASE_VERSION": version, "IMAGE_DIGEST": digest, "IMAGE_URI": uri}
    _export(ctx, exported, env_file)
    image = ImageInfo(repository=repository, digest=digest, uri=uri)
    extra: dict[str, Any] = {
        "commit": commit,
        "claim": claim_note,
        "builder": chosen.name,
        "rule": plan.decision.rule,
        "version_warnings": list(plan.warnings),
        "git_tag": git_tag,
        "github_release": github_release,
        **exported,
    }

    if not deploy:
        outcome = Outcome.NOOP if existing is not None else Outcome.SUCCEEDED
        message = f"{version} {claim_note}; not deployed (--no-deploy)"
        return _result(ctx, outcome, message, version, image, extra, started)

    if existing is not None:
        running = _running_rollout(ctx, digest)
        if running is not None:
            extra["deploy_outcome"] = "noop"
            message = f"{version} is already released and the service already runs it ({running})"
            ctx.reporter.info(message)
            return _result(ctx, Outcome.NOOP, message, version, image, extra, started)

    from releasectl.commands.migrate import failed_release_message, migrate

    migration = migrate(ctx, version=version, commit=commit, digest=digest, timeout=timeout)
    if migration is not None:
        extra["migration"] = migration.to_json()
        if migration.outcome is not Outcome.SUCCEEDED:
            # The service stays on what it runs: a failed migration is a failed release (exit 1).
            extra["deploy_outcome"] = None
            if migration.run.raw is not None:
                from releasectl.commands.evidence import task_evidence

                extra["evidence"] = task_evidence(migration.run.raw, migration.run.tail).to_json()
            outcome = Outcome.TIMED_OUT if migration.outcome is Outcome.TIMED_OUT else Outcome.FAILED
            message = failed_release_message(version, claim_note, migration)
            return _result(ctx, outcome, message, version, image, extra, started)

    from releasectl.commands.deploy import deploy as run_deploy

    with interrupted_as(
        f"interrupted while deploying {version} (claimed as {digest})",
        hint="`releasectl status` shows what the service runs; `releasectl deploy` finishes the job",
    ):
        try:
            deployed = run_deploy(ctx, version=version, timeout=timeout, wait=wait)
        except Interrupted as exc:
            exc.message = f"{version} was claimed as {digest}; {exc.message}"
            raise
    extra.update(deployed.extra)
    extra["deploy_outcome"] = deployed.outcome.value
    outcome = deployed.outcome
    if outcome is Outcome.NOOP and existing is None:
        outcome = Outcome.SUCCEEDED  # a new version was claimed even if the service had it already
    message = f"{version} {claim_note}; deploy {deployed.outcome.value}: {deployed.message}"
    return _result(ctx, outcome, message, version, image, extra, started)


def _released_image(plan: VersionPlan) -> Release | None:
    """HEAD's release when ECR already holds its image (the idempotent re-run)."""
    if not plan.decision.released:
        return None
    for release in for_commit(plan.releases, plan.head):
        if release.version == plan.decision.next and release.digest:
            return release
    return None  # tagged in git only: build and claim that same version


def _require_clean_tree(plan: VersionPlan) -> None:
    """The image is built from the working tree but tagged as the commit: uncommitted changes to
    tracked files would ship under a commit that does not contain them (exit 4, nothing built)."""
    changed = plan.git.changed_files(untracked=False)
    if changed:
        shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
        raise EnvironmentProblem(
            f"uncommitted changes to {shown}: the image would not be commit {plan.head[:12]}, "
            "which its tags would claim",
            hint="commit or stash them, or release from a clean checkout",
        )


def _require_pushed(plan: VersionPlan, env: Mapping[str, str]) -> None:
    """A laptop release of a commit no remote has would deploy code that exists nowhere else
    (exit 4, nothing built); `--allow-unpushed` says that is meant.

    Checked against the remote-tracking branches as of the last fetch or push, so no network
    call. A clone without remotes has nothing to check. CodeBuild is not checked: it builds
    what its source provider cloned from the remote, and its detached checkout of a pushed
    commit need not sit on any remote-tracking branch of the clone.
    """
    if env.get("CODEBUILD_BUILD_ID") or env.get("CODEBUILD_RESOLVED_SOURCE_VERSION"):
        return
    remotes = plan.git.remotes()
    if not remotes or plan.git.on_remote_branch(plan.head):
        return
    raise EnvironmentProblem(
        f"commit {plan.head[:12]} is on no branch of remote {' or '.join(remotes)}: releasing it would "
        "deploy code that exists only in this clone",
        hint="push it first (then `git fetch` if another clone pushed it), or pass --allow-unpushed",
    )


def _mirror_git_tag(
    ctx: Context, plan: VersionPlan, version: str, commit: str, message: str
) -> dict[str, Any]:
    """Mirror the release as an annotated git tag, pushed to git_tag_remote (docs/design.md §4).

    ECR is the ledger of record, so a tag that cannot be made or pushed is a warning: the
    release stands, and the next run reads ECR either way. The output says where the tag went,
    or that it was not pushed and why; the returned record goes into the JSON result.
    """
    from releasectl.commands.version import tag_remote
    from releasectl.core.errors import ReleasectlError

    name = plan.tags.tag_name(version)
    record: dict[str, Any] = {
        "name": name,
        "created": False,
        "pushed": False,
        "remote": None,
        "url": None,
        "note": None,
    }
    if plan.tags.commit_of(name) == commit:
        record["note"] = "already tagged"
        return record
    try:
        plan.git.create_tag(name, commit, message)
        record["created"] = True
        ctx.reporter.info(f"tagged {commit[:12]} as {name}")
        remote = tag_remote(ctx, plan.git)
        if remote.name is None:
            record["note"] = f"not pushed: {remote.reason}"
            ctx.reporter.info(f"did not push {name}: {remote.reason}")
            return record
        record.update({"remote": remote.name, "url": remote.url})
        plan.git.push_tag(name, remote.name)
        record["pushed"] = True
        ctx.reporter.info(f"pushed {name} to {remote}")
    except ReleasectlError as exc:
        record["note"] = exc.one_line()
        ctx.reporter.warn(f"git tag mirror {name}: {exc.one_line()}")
    return record


def _running_rollout(ctx: Context, digest: str) -> str | None:
    """The service's rollout state when its task definition already runs `digest`, else None.

    A re-run for a released commit must change nothing: if the service already points at the
    image (rolled out, or rolling out now), starting another deployment would only disturb it.
    If ECS rolled it back, the service points elsewhere and the re-run deploys it again.
    """
    from releasectl.adapters.aws.ecs import EcsApi
    from releasectl.core.rollout import primary

    ecs = EcsApi.from_context(ctx)
    snapshot = ecs.describe_service()
    current = ecs.describe_task_definition(str(snapshot["taskDefinition"]))
    if current.digest(ctx.config.require("container_name")) != digest:
        return None
    state = (primary(snapshot) or {}).get("rolloutState", "unknown")
    return f"rollout {str(state).lower()}, {current.arn}"


def _nothing_to_release(ctx: Context, plan: VersionPlan, started: float) -> CommandResult:
    message = (
        f"no release: {plan.decision.rule}"
        if plan.decision.current
        else "no release: nothing in the history calls for one"
    )
    ctx.reporter.info(message)
    return _result(ctx, Outcome.NOOP, message, plan.decision.current, None, {"commit": plan.head}, started)


def _request(
    ctx: Context, plan: VersionPlan, info: RepositoryInfo, version: str, platform: str
) -> BuildRequest:
    from releasectl.commands.image_builders import BuildRequest

    commit_time, top = plan.git.commit_info(plan.head)
    cache = ctx.config.cache_repository_name
    registry = info.uri.split("/", 1)[0]
    return BuildRequest(
        context_dir=top,
        repository=info,
        cache_repository_uri=f"{registry}/{cache}" if cache else None,
        version=version,
        commit=plan.head,
        commit_time=commit_time,
        source_url=plan.git.remote_url(),
        platform=platform,
    )


# ----------------------------------------------------------------------------- builders


# ----------------------------------------------------------------------------- outputs


def _write_image_definitions(ctx: Context, uri: str) -> None:
    """For a CodePipeline ECS deploy action, should a team prefer one to `releasectl deploy`."""
    container = ctx.config.container_name
    if not container:
        ctx.reporter.warn(f"container_name is not set: {IMAGE_DEFINITIONS} not written")
        return
    target = ctx.cwd / IMAGE_DEFINITIONS
    _atomic_write(target, json.dumps([{"name": container, "imageUri": uri}]) + "\n")
    ctx.reporter.detail(f"wrote {target}")


def _export(ctx: Context, values: Mapping[str, str], env_file: Path | None) -> None:
    """CodeBuild reads exported variables from the shell: buildspec.yml sources this file."""
    for name in EXPORTED:
        ctx.reporter.info(f"{name}={values[name]}")
    if env_file is not None:
        lines = "".join(f"export {name}={_quoted(values[name])}\n" for name in EXPORTED)
        _atomic_write(env_file, lines)


def _quoted(value: str) -> str:
    # shlex.quote leaves a plain word bare; this file has always quoted every value alike.
    quoted = shlex.quote(value)
    return quoted if quoted != value else f"'{value}'"


def _atomic_write(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def _result(
    ctx: Context,
    outcome: Outcome,
    message: str,
    version: str | None,
    image: ImageInfo | None,
    extra: dict[str, Any],
    started: float,
) -> CommandResult:
    return CommandResult(
        command="release",
        outcome=outcome,
        message=message,
        version=version,
        image=image,
        duration_s=ctx.clock.now() - started,
        extra=extra,
    )
