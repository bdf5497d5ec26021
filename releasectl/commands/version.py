"""`releasectl version` and `releasectl bump`: read the ledgers and git, apply the rules.

The orchestration between the git adapter, the ECR ledger and the pure rules in
releasectl.core.versioning. Other commands (release) reuse plan_version().
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from releasectl.adapters.git import UNSHALLOW_HINT, Git, GitTagLedger, LoggedCommit, UnreadTag, head_ref
from releasectl.commands.context import Context
from releasectl.core.conventional import parse
from releasectl.core.errors import Conflict, EnvironmentProblem, UsageError
from releasectl.core.ledger import Release, for_commit, merge
from releasectl.core.result import CommandResult, Outcome
from releasectl.core.versioning import (
    RELEASE_AS,
    BumpDecision,
    Change,
    Policy,
    check_level,
    check_pre_label,
    decide,
    next_free,
    released,
)
from releasectl.core.versions import is_prerelease, version_key
from releasectl.core.view import Block, Lines, View

_SHOWN_REASONS = 10


class VersionPlan(NamedTuple):
    decision: BumpDecision
    head: str
    base: Release | None
    releases: list[Release]  # both ledgers merged, newest first
    ledgers: tuple[str, ...]
    git: Git
    tags: GitTagLedger
    warnings: tuple[str, ...] = ()  # also said on stderr as they were found
    unread_tags: tuple[UnreadTag, ...] = ()  # tags that look like versions but name no release


def plan_version(
    ctx: Context,
    *,
    level: str = "auto",
    pre: str | None = None,
    offline: bool,
    env: Mapping[str, str] | None = None,
) -> VersionPlan:
    """Decide the version of the commit being released (HEAD, or CodeBuild's resolved commit).

    The one place `version`, `bump` and `release` get their answer from, so they cannot
    disagree: a version another branch already holds is stepped past the same way for all
    three (release_decision).
    """
    env = os.environ if env is None else env
    level = check_level(level)
    if pre is not None:
        check_pre_label(pre)
    git = Git(ctx.cwd)
    probe = git.probe(head_ref(env))
    if probe.shallow:
        raise EnvironmentProblem(
            "this clone is shallow: its history and release tags are incomplete, so any version "
            "computed from it could be wrong",
            hint=UNSHALLOW_HINT,
        )
    tags = GitTagLedger.for_config(git, ctx.config)
    git_releases = tags.releases()
    unread = tags.unread()
    ecr_releases = [] if offline else _ecr_releases(ctx)
    if not git_releases and not unread:
        _check_tags_fetched(ctx, git, env, offline=offline, ecr_releases=ecr_releases)
    releases = merge(git_releases, ecr_releases)
    ledgers = ("git",) if offline else ("git", "ecr")
    policy = Policy(major_on_zero=ctx.config.major_on_zero, other_commits=ctx.config.other_commits)

    on_head = for_commit(releases, probe.head)
    walked: set[str] = {probe.head}
    if on_head:
        decision = _decide_released_head(on_head, level=level, pre=pre, policy=policy)
        base: Release | None = on_head[0]
    else:
        base, commits = _find_base(git, releases, probe.head, ref=head_ref(env))
        walked.update(c.sha for c in commits)
        changes = [Change(c.sha, parse(c.message)) for c in commits]
        decision = decide(base.version if base else None, changes, level=level, pre=pre, policy=policy)
        decision = _spend_used_footer(git, decision, releases, changes, level=level, pre=pre, policy=policy)
    decision = release_decision(decision, releases, probe.head)
    _refuse_below_unread_tags(decision, unread, walked)
    # Said once the answer stands: a tag that blocks it is named by the error instead.
    warnings = [f"tag {u.tag} is not read as a release: {u.reason} ({u.hint})" for u in unread]
    warnings += decision.notes
    for warning in warnings:
        ctx.reporter.warn(warning)
    ctx.reporter.detail(f"git: {len(git.calls)} calls ({', '.join(c[0] for c in git.calls)})")
    return VersionPlan(
        decision, probe.head, base, releases, ledgers, git, tags, tuple(warnings), tuple(unread)
    )


class TagRemote(NamedTuple):
    """Where the vX.Y.Z mirror tag goes: the remote `git_tag_remote` names, or nowhere and why."""

    name: str | None  # None: the tag is not pushed
    url: str | None  # without any credentials it may embed
    reason: str  # why not, when name is None

    def __str__(self) -> str:
        return f"{self.name} ({self.url})"


def tag_remote(ctx: Context, git: Git) -> TagRemote:
    """The remote `release` and `bump --push` push the mirror tag to (config git_tag_remote)."""
    name = ctx.config.git_tag_remote
    if name is None:
        source = ctx.config.sources.get("git_tag_remote", "config")
        return TagRemote(None, None, f'git_tag_remote is "none" ({source})')
    url = git.remote_url(name)
    if url is None:
        return TagRemote(None, None, f"this clone has no remote {name!r} (git_tag_remote)")
    return TagRemote(name, url, "")


def _decide_released_head(
    on_head: Sequence[Release], *, level: str, pre: str | None, policy: Policy
) -> BumpDecision:
    finals = [r for r in on_head if not is_prerelease(r.version)]
    if finals:
        return released(finals[0].version)
    if pre is not None:
        return released(on_head[0].version)
    # Only a pre-release sits on HEAD and a final was asked for: promote it.
    return decide(on_head[0].version, [], level=level, pre=None, policy=policy)


def _find_base(
    git: Git, releases: Sequence[Release], head: str, *, ref: str | None = None
) -> tuple[Release | None, list[LoggedCommit]]:
    """The release HEAD's history reaches first, and the commits since it (newest first).

    One walk back from HEAD, stopped at the first commit that carries a release: its cost is
    the distance to that release, whatever the number of releases on other branches (a
    maintenance branch of a repository with hundreds of newer releases costs what a main
    branch costs). On a linear stretch the commits walked are the range itself. Where merges
    interleave it, the range is read exactly, and a newer release a merge brought in (one the
    range holds) becomes the base instead; only a release deeper in history than the one
    met first but with a higher version, which happens only when versions went backwards
    along a branch, is not looked for.
    """
    by_commit: dict[str, Release] = {}
    for release in releases:  # newest first: the highest version on a commit stands for it
        if release.commit:
            by_commit.setdefault(release.commit, release)
    walk = git.walk(head, by_commit, ref=ref)
    if walk.reached is None:
        return None, walk.commits
    base = by_commit[walk.reached]
    if walk.linear:
        return base, walk.commits
    for _ in range(len(by_commit)):
        log = git.log(str(base.commit), head)
        newer = [
            by_commit[c.sha] for c in log.commits if c.sha in by_commit and by_commit[c.sha].key > base.key
        ]
        if not newer:
            return base, log.commits
        base = max(newer, key=lambda release: release.key)
    return base, git.log(str(base.commit), head).commits


def _spend_used_footer(
    git: Git,
    decision: BumpDecision,
    releases: Sequence[Release],
    changes: Sequence[Change],
    *,
    level: str,
    pre: str | None,
    policy: Policy,
) -> BumpDecision:
    """A Release-As footer applies to the first release after its commit only.

    The range since the base can still hold a footer whose version was released from a commit
    after it on another branch (a release branch cut after the footer). That release used the
    footer: the commits decide here, with a note. A version another branch holds without
    having come from the footer's commit stays a conflict (release_decision).
    """
    footer = decision.release_as
    if footer is None:
        return decision
    holder = next((r for r in releases if r.version == decision.next and r.commit), None)
    if holder is None or holder.commit is None or not git.is_ancestor(footer.commit, holder.commit):
        return decision
    again = decide(decision.current, changes, level=level, pre=pre, policy=policy, release_as=False)
    note = (
        f"commit {footer.commit[:12]} says Release-As: {decision.next}, which the release of "
        f"{holder.version} on commit {holder.commit[:12]} already used (a footer applies to the first "
        "release after its commit only), so the commits decide"
    )
    return again._replace(notes=(*decision.notes, note))


def _refuse_below_unread_tags(decision: BumpDecision, unread: Sequence[UnreadTag], walked: set[str]) -> None:
    """Never answer a version at or below one a tag on HEAD's history appears to name.

    `v1.2` or `v2.0.0-beta.1` (beta not configured) after the base release means the project
    released something releasectl cannot read; answering past the base alone would go back
    below it. Tags elsewhere (not on the commits walked) are only warned about.
    """
    if not decision.changes:
        return
    answer = version_key(decision.next)
    for tag in unread:
        if tag.commit in walked and tag.nominal is not None and tag.nominal >= answer:
            where = "HEAD" if decision.commits == 0 else f"commit {str(tag.commit)[:12]}"
            raise EnvironmentProblem(
                f"tag {tag.tag} on {where} looks like a release at or above {decision.next}, the version "
                f"the rules give, but it is not read as one: {tag.reason}",
                hint=tag.hint,
            )


def _check_tags_fetched(
    ctx: Context, git: Git, env: Mapping[str, str], *, offline: bool, ecr_releases: Sequence[Release]
) -> None:
    """Fail closed where "no release tags" more likely means "tags not fetched" than "first release"."""
    prefix = ctx.config.tag_prefix
    if offline:
        ci = "CodeBuild" if env.get("CODEBUILD_BUILD_ID") else "CI" if _truthy(env.get("CI")) else None
        if ci:
            raise EnvironmentProblem(
                f"no release tags ({prefix}X.Y.Z) in this clone; in {ci} that usually means the tags were "
                "not fetched, not that nothing was ever released",
                hint="run `git fetch --tags`, or drop --offline so the ECR ledger decides",
            )
    remotes = git.fetch_disabled_for_tags()
    if remotes:
        raise EnvironmentProblem(
            f"no release tags ({prefix}X.Y.Z) in this clone, and remote {remotes[0]!r} is configured "
            "never to fetch tags (tagOpt = --no-tags)",
            hint=f"run `git fetch --tags {remotes[0]}`",
        )
    if ecr_releases:
        ctx.reporter.warn(
            f"git has no release tags but ECR lists {len(ecr_releases)} release(s); ECR decides. "
            "Fetch the mirror with `git fetch --tags`"
        )


def _truthy(value: str | None) -> bool:
    return bool(value) and str(value).strip().lower() not in {"0", "false", "no", "off"}


def release_decision(decision: BumpDecision, releases: Sequence[Release], head: str) -> BumpDecision:
    """The version to release: the rules' answer, stepped past versions other commits hold.

    Another branch (or a release that won a race) may already hold the version the rules
    pick; it is not an ancestor of `head`, so the base stays and the rules would pick it
    again. The next free version at the same level is taken, with a note saying which was
    skipped and where it is released. A version forced by a `Release-As:` footer is not
    moved: the footer asked for exactly that one, so a taken one is a conflict (exit 5).
    """
    if not decision.changes:
        return decision
    holders: dict[str, str] = {}
    for release in releases:
        if release.commit != head and release.version not in holders:
            holders[release.version] = (
                f"commit {release.commit[:12]}" if release.commit else "an image with no commit tag"
            )
    if decision.next in holders and any(reason.level == RELEASE_AS for reason in decision.reasons):
        raise Conflict(
            f"version {decision.next}, which a Release-As footer asks for, is already released on "
            f"{holders[decision.next]}, which is not an ancestor of HEAD",
            hint="name a version nobody holds in the Release-As footer, or rebase onto that release",
        )
    return next_free(decision, holders, holders=holders)


def _ecr_releases(ctx: Context) -> list[Release]:
    try:
        from releasectl.adapters.aws.ecr import EcrLedger
    except ImportError as exc:
        raise EnvironmentProblem(
            f"the ECR ledger cannot be loaded ({exc})",
            hint="reinstall releasectl with its dependencies, or use --offline to read git tags only",
        ) from None
    repository = ctx.config.ecr_repository
    if not repository:
        raise UsageError(
            "config ecr_repository is not set, so the ECR release ledger cannot be read",
            hint="set ecr_repository under [tool.releasectl] or RELEASECTL_ECR_REPOSITORY, "
            "or pass --offline to use git tags only",
        )
    return list(EcrLedger(ctx.aws.client("ecr"), repository).releases())


# ----------------------------------------------------------------------------- version


def _summary(plan: VersionPlan) -> dict[str, Any]:
    decision = plan.decision
    return {
        "current": decision.current,
        "next": decision.next,
        "bump": decision.bump,
        "commits": decision.commits,
        "reasons": [reason.to_json() for reason in decision.reasons],
        "rule": decision.rule,
        "released": decision.released,
        "head": plan.head,
        "base": None
        if plan.base is None
        else {
            "version": plan.base.version,
            "commit": plan.base.commit,
            "sources": sorted(plan.base.sources),
        },
        "ledgers": list(plan.ledgers),
        "skipped": list(decision.skipped),
        "warnings": list(plan.warnings),
        "unread_tags": [tag.to_json() for tag in plan.unread_tags],
    }


class VersionView(View):
    def __init__(self, plan: VersionPlan) -> None:
        self.plan = plan

    def to_json(self) -> dict[str, Any]:
        return _summary(self.plan)

    def text(self, *, width: int, unicode: bool) -> list[Block]:
        return [Lines.of(explain(self.plan), "cut")]


def explain(plan: VersionPlan) -> list[str]:
    decision, base = plan.decision, plan.base
    if decision.current is None:
        current = "none (nothing released yet)"
    else:
        where = f" on {base.commit[:12]}" if base and base.commit else ""
        sources = f", from {'+'.join(sorted(base.sources))}" if base and base.sources else ""
        current = f"{decision.current}{where}{sources}"
    if decision.released:
        nxt = f"{decision.next} (HEAD is already released: nothing to do)"
    elif not decision.changes:
        nxt = f"{decision.next} (no release)"
    else:
        nxt = f"{decision.next} ({decision.bump})"
    lines = [
        f"current  {current}",
        f"next     {nxt}",
        f"rule     {decision.rule}",
        f"commits  {decision.commits} since {decision.current or 'the start of history'}",
    ]
    for reason in decision.reasons[:_SHOWN_REASONS]:
        lines.append(f"  {reason.commit[:12]}  {reason.level:<10} {reason.subject}")
    hidden = len(decision.reasons) - _SHOWN_REASONS
    if hidden > 0:
        lines.append(f"  ... and {hidden} more (--json lists them all)")
    return lines


def version_report(ctx: Context, *, offline: bool) -> View:
    return VersionView(plan_version(ctx, offline=offline))


# ----------------------------------------------------------------------------- bump


def bump(
    ctx: Context,
    *,
    level: str,
    pre: str | None,
    git_tag: bool,
    push: bool,
    dry_run: bool,
    offline: bool,
) -> CommandResult:
    started = ctx.clock.now()
    level = check_level(level)
    if pre is not None:
        check_pre_label(pre)
    if push and not git_tag:
        raise UsageError("--push needs --git-tag", hint="run `releasectl bump --git-tag --push`")
    plan = plan_version(ctx, level=level, pre=pre, offline=offline)
    decision = plan.decision
    tag = plan.tags.tag_name(decision.next)
    extra = _summary(plan)
    extra.update(
        {
            "tag": tag if git_tag else None,
            "tagged": False,
            "pushed": False,
            "remote": None,
            "remote_url": None,
            "dry_run": dry_run,
        }
    )

    def result(outcome: Outcome, message: str) -> CommandResult:
        return CommandResult(
            command="bump",
            outcome=outcome,
            message=message,
            version=decision.next,
            duration_s=ctx.clock.now() - started,
            extra=extra,
        )

    if not decision.changes and not decision.released:
        return result(Outcome.NOOP, f"nothing to release since {decision.current}: {decision.rule}")

    tag_missing = git_tag and not plan.tags.has_tag(tag)
    if git_tag and not tag_missing and plan.tags.commit_of(tag) != plan.head:
        raise Conflict(
            f"tag {tag} already exists on commit {str(plan.tags.commit_of(tag))[:12]}, not on HEAD",
            hint=f"inspect it with `git show {tag}`",
        )
    # Resolved before anything is tagged: a push that cannot happen is refused with nothing changed.
    remote = _push_remote(ctx, plan.git) if push else None
    if remote is not None:
        extra.update({"remote": remote.name, "remote_url": remote.url})
    what = f"{decision.next} ({decision.bump})" if decision.changes else decision.next
    if dry_run:
        if decision.released and not tag_missing:
            return result(Outcome.NOOP, f"HEAD is already released as {decision.next} (dry run)")
        plan_text = f"would tag {tag} on {plan.head[:12]}" if tag_missing else f"next version {what}"
        suffix = f" and push it to {remote}" if tag_missing and remote else ""
        return result(Outcome.SUCCEEDED, f"dry run: {plan_text}{suffix}; nothing changed")

    done = []
    if tag_missing:
        from releasectl.commands.notes import release_notes, tag_message

        notes = release_notes(ctx, plan, decision.next)
        plan.git.create_tag(tag, plan.head, tag_message(notes, decision.next))
        extra["tagged"] = True
        done.append(f"tagged {tag} on {plan.head[:12]}")
        ctx.reporter.info(f"created tag {tag} on {plan.head[:12]}")
    if remote is not None and remote.name is not None:  # _push_remote answers with a name or raises
        ctx.reporter.info(f"pushing {tag} to {remote}")
        plan.git.push_tag(tag, remote.name)
        extra["pushed"] = True
        done.append(f"pushed {tag} to {remote}")
    if decision.released:
        message = f"HEAD is already released as {decision.next}"
        if done:
            message += "; " + ", ".join(done)
        return result(Outcome.SUCCEEDED if extra["tagged"] else Outcome.NOOP, message)
    if not done:
        return result(Outcome.SUCCEEDED, f"next version {what}; add --git-tag to tag it")
    return result(Outcome.SUCCEEDED, f"{what}: " + ", ".join(done))


def _push_remote(ctx: Context, git: Git) -> TagRemote:
    """`bump --push`'s remote; asking to push where the setting says "nowhere" changes nothing."""
    remote = tag_remote(ctx, git)
    if remote.name is not None:
        return remote
    if ctx.config.git_tag_remote is None:
        raise UsageError(
            f"--push: there is no remote to push to, {remote.reason}",
            hint="set git_tag_remote to a remote name (RELEASECTL_GIT_TAG_REMOTE=origin), or drop --push",
        )
    raise EnvironmentProblem(
        f"--push: {remote.reason}",
        hint=f"add it with `git remote add {ctx.config.git_tag_remote} URL`, or set git_tag_remote",
    )
