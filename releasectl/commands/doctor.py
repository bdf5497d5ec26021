"""`releasectl doctor`: is this machine ready to release? One check per line, each with a fix.

Checks never change anything. A failed check makes the exit code 4; warnings and
information (a dirty worktree, a missing cache repository) do not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from releasectl.adapters.git import UNSHALLOW_HINT, Git, GitTagLedger
from releasectl.commands.context import Context
from releasectl.core.config import ENV_PREFIX
from releasectl.core.errors import EnvironmentProblem, ExitCode, ReleasectlError
from releasectl.core.ledger import merge
from releasectl.core.view import Block, Lines, View

OK, WARN, INFO, FAIL, SKIP = "ok", "warn", "info", "fail", "skip"
_MARKS = {OK: ("✔", "ok"), WARN: ("!", "warn"), INFO: ("·", "info"), FAIL: ("✘", "FAIL"), SKIP: ("-", "skip")}


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    hint: str | None = None

    @property
    def ok(self) -> bool:
        return self.status not in (FAIL, SKIP)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ok": self.ok,
            "status": self.status,
            "detail": self.detail,
            "hint": self.hint,
        }


class DoctorReport(View):
    def __init__(self, checks: list[Check]) -> None:
        self.checks = checks

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.ok else ExitCode.ENVIRONMENT

    def check(self, name: str) -> Check:
        return next(check for check in self.checks if check.name == name)

    def to_json(self) -> dict[str, Any]:
        return {"checks": [check.to_json() for check in self.checks], "ok": self.ok}

    def text(self, *, width: int, unicode: bool) -> list[Block]:
        fancy = unicode
        width = max(len(check.name) for check in self.checks)
        lines = []
        for check in self.checks:
            mark = _MARKS[check.status][0 if fancy else 1]
            line = f"{mark} {check.name:<{width}}  {check.detail}"
            if check.hint and check.status in (FAIL, WARN, SKIP):
                line += f" → {check.hint}" if fancy else f" -> {check.hint}"
            lines.append(line)
        failed = sum(1 for check in self.checks if not check.ok)
        lines.append("all checks passed" if not failed else f"{failed} check(s) failed")
        # A fix must be read whole: past the width it folds under the details, never cut short.
        return [Lines.of(lines, "fold", indent=width + 4)]


def _set_hint(key: str) -> str:
    return f"set {key} under [tool.releasectl] in pyproject.toml or {ENV_PREFIX}{key.upper()}"


# ----------------------------------------------------------------------------- AWS identity


def _region(ctx: Context) -> tuple[Check, bool]:
    region = ctx.config.region
    source = ctx.config.sources.get("region", "")
    if not region:
        try:
            region = ctx.aws.resolved_region()
        except ReleasectlError as exc:
            return Check("region", FAIL, exc.message, exc.hint), False
        source = "AWS config file"
    if not region:
        return Check(
            "region", FAIL, "no AWS region configured", "set --region, RELEASECTL_REGION or AWS_REGION"
        ), False
    return Check("region", OK, f"{region} (from {source})" if source else region), True


def _credentials(ctx: Context) -> tuple[Check, bool]:
    from releasectl.adapters.aws.sts import caller_identity

    try:
        identity = caller_identity(ctx.aws.client("sts"))
    except ReleasectlError as exc:
        return Check("credentials", FAIL, exc.message, exc.hint), False
    return Check("credentials", OK, f"{identity.arn} (account {identity.account})"), True


# ----------------------------------------------------------------------------- git


def _git_checks(ctx: Context) -> list[Check]:
    git = Git(ctx.cwd)
    try:
        top = git.toplevel()
    except EnvironmentProblem as exc:
        return [Check("git repository", FAIL, exc.message, exc.hint)]
    checks = [Check("git repository", OK, str(top))]

    head = git.find_commit("HEAD")
    if git.is_shallow():
        checks.append(
            Check(
                "git history",
                FAIL,
                "shallow clone: versions cannot be computed from it",
                UNSHALLOW_HINT,
            )
        )
    elif head is None:
        checks.append(Check("git history", WARN, "no commits yet", "commit something first"))
    else:
        branch = git.branch()
        where = f"on {branch}" if branch else "detached HEAD"
        checks.append(Check("git history", OK, f"full history, HEAD {head[:12]} {where}"))

    changes = git.changed_files()
    checks.append(
        Check("git worktree", INFO, f"{len(changes)} uncommitted change(s)" if changes else "clean")
    )

    prefix = ctx.config.tag_prefix
    releases = merge(GitTagLedger.for_config(git, ctx.config).releases())  # newest first
    if releases:
        newest = f"{prefix}{releases[0].version}"
        checks.append(Check("git tags", OK, f"{len(releases)} release tag(s), newest {newest}"))
    else:
        checks.append(
            Check(
                "git tags",
                WARN,
                f"no {prefix}X.Y.Z tags",
                "fine before the first release; otherwise run `git fetch --tags`",
            )
        )
    return checks


# ----------------------------------------------------------------------------- resources


def _ecr_repository(ctx: Context, name: str) -> tuple[bool, str]:
    from releasectl.adapters.aws.ecr import find_repository

    repository = find_repository(ctx.aws.client("ecr"), name)
    if repository is None:
        return False, f"repository {name} not found"
    return True, f"{repository.uri} (tags {repository.tag_mutability})"


def _codebuild_project(ctx: Context, name: str) -> tuple[bool, str]:
    from releasectl.adapters.aws.codebuild import project_exists

    if project_exists(ctx.aws.client("codebuild"), name):
        return True, name
    return False, f"project {name} not found"


def _ecs_cluster(ctx: Context, name: str) -> tuple[bool, str]:
    from releasectl.adapters.aws.ecs import find_cluster

    cluster = find_cluster(ctx.env_aws().client("ecs"), name)
    if cluster is None:
        return False, f"cluster {name} not found"
    if cluster.status != "ACTIVE":
        return False, f"cluster {name} is {cluster.status}"
    return True, f"{name} ACTIVE, {cluster.active_services} service(s)"


def _ecs_service(ctx: Context, name: str) -> tuple[bool, str]:
    cluster = ctx.config.ecs_cluster
    if not cluster:
        return False, "cannot look it up: ecs_cluster is not set"
    from releasectl.adapters.aws.ecs import ClusterMissing, find_service

    try:
        service = find_service(ctx.env_aws().client("ecs"), cluster=cluster, service=name)
    except ClusterMissing:
        return False, f"cluster {cluster} not found, so service {name} cannot exist"
    if service is None:
        return False, f"service {name} not found in cluster {cluster}"
    task_def = str(service.get("taskDefinition", "")).rsplit("/", 1)[-1]
    return True, (
        f"{name} {service.get('status')}, running {service.get('runningCount', 0)}/"
        f"{service.get('desiredCount', 0)}, {task_def}"
    )


_CREATE = "create it with `releasectl infra deploy`, or "


@dataclass(frozen=True)
class _Resource:
    name: str
    key: str
    probe: Callable[[Context, str], tuple[bool, str]]
    missing_hint: str
    warn_only: bool = False


_RESOURCES = (
    _Resource("ecr repository", "ecr_repository", _ecr_repository, _CREATE + "fix ecr_repository"),
    # Only a build cache: without it builds work, just slower.
    _Resource(
        "cache repository",
        "cache_repository",
        _ecr_repository,
        "builds still work, only slower; " + _CREATE + "set cache_repository",
        warn_only=True,
    ),
    _Resource(
        "codebuild project", "codebuild_project", _codebuild_project, _CREATE + "fix codebuild_project"
    ),
    _Resource("ecs cluster", "ecs_cluster", _ecs_cluster, _CREATE + "fix ecs_cluster"),
    _Resource("ecs service", "ecs_service", _ecs_service, _CREATE + "fix ecs_service / ecs_cluster"),
)


def _resource_check(ctx: Context, resource: _Resource, *, aws_ok: bool) -> Check:
    name, key = resource.name, resource.key
    value = ctx.config.cache_repository_name if key == "cache_repository" else getattr(ctx.config, key)
    bad = WARN if resource.warn_only else FAIL
    if not value:
        return Check(name, bad, f"not configured ({key})", _set_hint(key))
    if not aws_ok:
        return Check(name, SKIP, f"{value}: not checked without working AWS access", "fix the checks above")
    try:
        found, detail = resource.probe(ctx, value)
    except ReleasectlError as exc:
        return Check(name, bad, exc.message, exc.hint)
    return Check(name, OK, detail) if found else Check(name, bad, detail, resource.missing_hint)


def doctor(ctx: Context) -> DoctorReport:
    region, region_ok = _region(ctx)
    checks = [region]
    if ctx.config.endpoint_url:
        source = ctx.config.sources.get("endpoint_url", "")
        where = f" (from {source})" if source else ""
        checks.append(Check("endpoint", INFO, f"{ctx.config.endpoint_url}{where}: not the real AWS"))
    if region_ok:
        credentials, aws_ok = _credentials(ctx)
    else:
        credentials, aws_ok = (
            Check("credentials", SKIP, "not checked without a region", "set a region"),
            False,
        )
    checks.append(credentials)
    checks.extend(_git_checks(ctx))
    checks.extend(_resource_check(ctx, resource, aws_ok=aws_ok) for resource in _RESOURCES)
    return DoctorReport(checks)
