"""`releasectl build --local`: run buildspec.yml here, in a clean checkout, the way CodeBuild would."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from releasectl.commands.context import Context
from releasectl.core.errors import UsageError, interrupted_as
from releasectl.core.result import CommandResult, ImageInfo, Outcome
from releasectl.localbuild.checkout import LOCAL_ACCOUNT, BuildIdentity, repository, run_build_in_checkout
from releasectl.localbuild.runner import SUCCEEDED, BuildRun

# Variables buildspec.yml documents as overridable by a project or start-build variable: on a
# workstation, the caller's environment plays that part for them.
OVERRIDABLE_FROM_ENV = ("UNIT_TESTS",)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def build_overrides(assignments: Sequence[str], env: Mapping[str, str]) -> dict[str, str]:
    """What overrides the buildspec's env.variables, as a start-build override does in CodeBuild:
    the documented variables from the caller's environment, then each `--build-env KEY=VALUE`."""
    overrides = {name: env[name] for name in OVERRIDABLE_FROM_ENV if env.get(name)}
    for item in assignments:
        name, eq, value = item.partition("=")
        if not eq or not _NAME.match(name):
            raise UsageError(
                f"--build-env {item!r} is not KEY=VALUE",
                hint="e.g. --build-env UNIT_TESTS=tests/core (a shell variable name, then =, then the value)",
            )
        overrides[name] = value
    return overrides


def local_build(
    ctx: Context, *, ref: str | None, env: Sequence[str] = (), environ: Mapping[str, str] | None = None
) -> CommandResult:
    """Handler for `releasectl build --local`: 0 when the build succeeds, 1 naming the failed phase."""
    started = ctx.clock.now()
    overrides = build_overrides(env, os.environ if environ is None else environ)
    git = repository(ctx.cwd)
    commit = git.resolve(ref or "HEAD")
    if git.changed_files(untracked=False):
        ctx.reporter.warn(f"uncommitted changes are not part of the build: it builds commit {commit[:12]}")
    identity = BuildIdentity(
        build_id=f"local:{uuid.uuid4()}",
        build_number=1,
        region=ctx.config.region,
        account_id=LOCAL_ACCOUNT,
        initiator="releasectl-local",
    )
    ctx.reporter.info(f"local build {identity.build_id} of {commit[:12]} in a clean checkout")
    for name, value in overrides.items():
        ctx.reporter.info(f"  {name}={value} (overrides the buildspec)")
    with interrupted_as(
        f"interrupted; local build {identity.build_id} was stopped, "
        "its processes ended and its checkout removed"
    ):
        run = run_build_in_checkout(
            repo=git.cwd,
            commit=commit,
            source_version=ref or commit,
            identity=identity,
            on_line=ctx.reporter.log_line,
            clock=ctx.clock,
            timeout_s=ctx.config.build_timeout,
            extra_env=overrides,
        )
    return build_result(run, identity=identity, commit=commit, ctx=ctx, duration_s=ctx.clock.now() - started)


def build_result(
    run: BuildRun, *, identity: BuildIdentity, commit: str, ctx: Context, duration_s: float
) -> CommandResult:
    version = run.exported.get("RELEASE_VERSION") or None
    image = None
    if run.exported.get("IMAGE_URI") or run.exported.get("IMAGE_DIGEST"):
        image = ImageInfo(
            repository=ctx.config.ecr_repository or "",
            digest=run.exported.get("IMAGE_DIGEST") or None,
            uri=run.exported.get("IMAGE_URI") or None,
        )
    # The same shape `releasectl build` gives a CodeBuild run, plus what only a local run knows.
    extra: dict[str, Any] = {
        "build_id": identity.build_id,
        "project": None,
        "commit": commit,
        "status": run.status,
        "phases": [
            {
                "type": p.phase_type,
                "status": p.status,
                "duration_s": round(p.duration_s, 3),
                "message": f"{p.context_code}: {p.message}" if p.context_code else None,
            }
            for p in run.phases
        ],
        "exported_variables": dict(run.exported),
        "local": True,
        "skipped_phases": [name.upper() for name in run.skipped],
    }
    if run.status == SUCCEEDED:
        message = f"local build {identity.build_id} SUCCEEDED"
        return CommandResult("build", Outcome.SUCCEEDED, message, version, image, duration_s, extra)
    failed = run.failed_phase
    where = f" in phase {failed.phase_type}" if failed else ""
    reason = f": {failed.message}" if failed and failed.message else ""
    message = f"local build {identity.build_id} {run.status}{where}{reason}"
    extra["failed_phase"] = failed.phase_type if failed else None
    return CommandResult("build", Outcome.FAILED, message, version, image, duration_s, extra)
