"""`releasectl notes` and `releasectl changelog`; the notes the `vX.Y.Z` tag carries; the GitHub
release `release` publishes (docs/release-notes.md).

The notes come from the same reading of the history as the version: `notes` without VERSION asks
plan_version() what comes next and lists the commits that decide it. Both commands read the git
tags only (the mirror of the ledger), so they need no AWS credentials; `release` uses the merged
ledger it claimed from. Publishing to GitHub is a courtesy to readers, never a condition of the
release: every failure is one warning and the release's exit status stands.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from releasectl.adapters.git import UNSHALLOW_HINT, Git, GitTagLedger, head_ref
from releasectl.commands.context import Context
from releasectl.core.errors import EnvironmentProblem, ReleasectlError, UsageError
from releasectl.core.ledger import Release, find
from releasectl.core.notes import Notes, changelog, notes, sections, stops
from releasectl.core.result import CommandResult, Outcome
from releasectl.core.versions import is_prerelease, parse_version_argument, version_key
from releasectl.core.view import Block, Lines, View

if TYPE_CHECKING:
    from releasectl.commands.version import VersionPlan

FORMATS = ("md", "json")


# ----------------------------------------------------------------------------- the notes of a version


def notes_of(git: Git, releases: Sequence[Release], version: str, commit: str, tag: str | None) -> Notes:
    """The notes of ``version`` released on ``commit``: the commits it reaches and the releases
    below it do not (one git process)."""
    lower = stops(releases, version)
    history = git.history([commit], [str(r.commit) for r in lower])
    return notes(version, tag=tag, commit=commit, history=history, lower=lower)


def _unreleased(git: Git, releases: Sequence[Release], head: str) -> Notes:
    lower = sorted((r for r in releases if r.commit), key=lambda r: version_key(r.version), reverse=True)
    history = git.history([head], [str(r.commit) for r in lower])
    return notes(None, tag=None, commit=head, history=history, lower=lower)


def release_notes(ctx: Context, plan: VersionPlan, version: str, commit: str | None = None) -> Notes | None:
    """The notes `release` and `bump --git-tag` put in the tag, or None (with a warning) when they
    cannot be read: a tag without notes is better than no release."""
    try:
        return notes_of(plan.git, plan.releases, version, commit or plan.head, plan.tags.tag_name(version))
    except ReleasectlError as exc:
        ctx.reporter.warn(f"release notes for {version} not written: {exc.one_line()}")
        return None


def tag_message(found: Notes | None, version: str) -> str:
    return found.tag_message() if found is not None else f"release {version}"


class NotesView(View):
    def __init__(self, found: Notes, *, released: bool) -> None:
        self.notes = found
        self.released = released

    def to_json(self) -> dict[str, Any]:
        return {**self.notes.to_json(), "released": self.released}

    def text(self, *, width: int, unicode: bool) -> list[Block]:
        return [Lines.of(self.notes.markdown().splitlines(), "keep")]


def check_format(value: str) -> str:
    text = value.strip().lower()
    if text not in FORMATS:
        raise UsageError(
            f"format {value!r} is not one of {', '.join(FORMATS)}", hint="use --format md or json"
        )
    return text


def notes_report(ctx: Context, *, version: str | None, env: Mapping[str, str] | None = None) -> NotesView:
    """The notes of VERSION (a release tagged here, or the next one), default the next one."""
    env = os.environ if env is None else env
    wanted = parse_version_argument(version, prefix=ctx.config.tag_prefix) if version else None
    if wanted is not None:
        git = _full_clone(ctx, env)
        tags = GitTagLedger.for_config(git, ctx.config)
        releases = tags.releases()
        found = find(releases, wanted)
        if found is not None and found.commit:
            return NotesView(
                notes_of(git, releases, wanted, found.commit, tags.tag_name(wanted)), released=True
            )

    from releasectl.commands.version import plan_version

    plan = plan_version(ctx, offline=True, env=env)
    decision = plan.decision
    if wanted is not None and not (decision.changes and decision.next == wanted):
        raise EnvironmentProblem(
            f"version {wanted} is neither tagged in this clone ({plan.tags.tag_name(wanted)}) nor the next "
            f"version ({decision.next if decision.changes else 'nothing is due'})",
            hint="`releasectl changelog` lists the releases; `git fetch --tags` fetches the missing ones",
        )
    if decision.released:
        found = find(plan.releases, decision.next)
        commit = found.commit if found and found.commit else plan.head
        return NotesView(
            notes_of(plan.git, plan.releases, decision.next, commit, plan.tags.tag_name(decision.next)),
            released=True,
        )
    if decision.changes:
        upcoming = notes_of(
            plan.git, plan.releases, decision.next, plan.head, plan.tags.tag_name(decision.next)
        )
        return NotesView(upcoming, released=False)
    ctx.reporter.info(f"no release is due: {decision.rule}")
    return NotesView(_unreleased(plan.git, plan.releases, plan.head), released=False)


def _full_clone(ctx: Context, env: Mapping[str, str]) -> Git:
    git = Git(ctx.cwd)
    if git.probe(head_ref(env)).shallow:
        raise EnvironmentProblem(
            "this clone is shallow: its history and release tags are incomplete, so notes read from it "
            "could miss commits",
            hint=UNSHALLOW_HINT,
        )
    return git


# ----------------------------------------------------------------------------- the changelog


def _changelog_sections(ctx: Context, env: Mapping[str, str]) -> list[Notes]:
    git = _full_clone(ctx, env)
    tags = GitTagLedger.for_config(git, ctx.config)
    releases = [r for r in tags.releases() if r.commit]
    for unread in tags.unread():
        ctx.reporter.warn(f"tag {unread.tag} is not in the changelog: {unread.reason} ({unread.hint})")
    history = git.history(sorted({str(r.commit) for r in releases}))
    found = sections(history, releases, tag_of=tags.tag_name)
    ctx.reporter.detail(f"git: {len(git.calls)} calls ({', '.join(c[0] for c in git.calls)})")
    return found


class ChangelogView(View):
    def __init__(self, found: Sequence[Notes]) -> None:
        self.sections = list(found)

    def to_json(self) -> dict[str, Any]:
        return {"releases": [n.to_json() for n in self.sections]}

    def text(self, *, width: int, unicode: bool) -> list[Block]:
        return [Lines.of(changelog(None, self.sections).splitlines(), "keep")]


def changelog_report(ctx: Context, *, env: Mapping[str, str] | None = None) -> ChangelogView:
    return ChangelogView(_changelog_sections(ctx, os.environ if env is None else env))


def write_changelog(ctx: Context, path: Path, *, env: Mapping[str, str] | None = None) -> CommandResult:
    """Write the changelog to ``path``, keeping its hand-written header; unchanged bytes are not
    rewritten, so a second run is a no-op."""
    started = ctx.clock.now()
    target = path if path.is_absolute() else ctx.cwd / path
    existing = _read(target)
    found = _changelog_sections(ctx, os.environ if env is None else env)
    document = changelog(existing, found)
    versions = [n.version for n in found]
    extra = {"path": str(path), "changed": document != existing, "releases": versions}
    count = f"{len(found)} release{'s' if len(found) != 1 else ''}"
    if document == existing:
        outcome, message = Outcome.NOOP, f"{path} is up to date ({count})"
    else:
        _write(target, document)
        outcome, message = Outcome.SUCCEEDED, f"wrote {path} ({count})"
    newest = versions[0] if versions else None
    return CommandResult(
        command="changelog",
        outcome=outcome,
        message=message,
        version=newest,
        duration_s=ctx.clock.now() - started,
        extra=extra,
    )


def _read(path: Path) -> str | None:
    try:
        # newline="" keeps CRLF as written, so the header comes back byte for byte.
        with path.open(encoding="utf-8", newline="") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise EnvironmentProblem(f"{path} is a directory, not a changelog file") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text", hint="name a markdown file") from None
    except OSError as exc:
        raise EnvironmentProblem(f"cannot read {path}: {exc.strerror}") from None


def _write(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise EnvironmentProblem(f"cannot write {path}: {exc.strerror}") from None


# ----------------------------------------------------------------------------- GitHub releases


def publish_github_release(
    ctx: Context, plan: VersionPlan, found: Notes | None, *, env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Create or update the GitHub release of the notes' tag; a record for the JSON result.

    Needs a repository (github_repository, else git_tag_remote's URL) and a token (the variable
    github_token_env names). Re-running finds the release by its tag and updates it, or leaves it
    when it already says the same: never a second release. Any failure is a warning.
    """
    env = os.environ if env is None else env
    record: dict[str, Any] = {"repository": None, "action": "skipped", "url": None, "note": None}
    if found is None or found.version is None or found.tag is None or found.commit is None:
        record["note"] = "no release notes"
        return record
    tag = found.tag
    try:
        repository, token, reason = _github_target(ctx, plan.git, env)
        record["repository"] = repository
        if reason:
            record["note"] = reason
            return record
        assert repository is not None and token is not None  # reason is set otherwise
        record["action"], record["url"] = _publish(ctx, repository, token, found, tag, plan.releases)
        ctx.reporter.info(f"GitHub release {tag} {record['action']}: {record['url']}")
    except ReleasectlError as exc:
        record.update({"action": "failed", "note": exc.one_line()})
        ctx.reporter.warn(f"GitHub release {tag} not published: {exc.one_line()}")
    except Exception as exc:  # publishing must never fail the release, not even through a bug
        record.update({"action": "failed", "note": f"{exc.__class__.__name__}: {exc}"})
        ctx.reporter.warn(
            f"GitHub release {tag} not published: internal error {exc.__class__.__name__}: {exc}"
        )
    return record


def _github_target(
    ctx: Context, git: Git, env: Mapping[str, str]
) -> tuple[str | None, str | None, str | None]:
    """(repository, token, None), or the reason there is nothing to publish to."""
    from releasectl.adapters.github import repository_of_remote, web_host

    config = ctx.config
    opted_in = any(key in config.sources for key in ("github_repository", "github_token_env"))
    repository = config.github_repository
    if repository == "none":
        reason = f'github_repository is "none" ({config.sources.get("github_repository", "config")})'
        ctx.reporter.detail(f"no GitHub release: {reason}")
        return None, None, reason
    if repository is None:
        remote = config.git_tag_remote
        url = git.remote_url(remote) if remote else None
        repository = repository_of_remote(url, web_host(config.github_api_url)) if url else None
        if repository is None:
            where = f"remote {remote!r} ({url or 'absent'})" if remote else 'git_tag_remote "none"'
            reason = (
                f"no github_repository, and {where} names no repository on {web_host(config.github_api_url)}"
            )
            ctx.reporter.detail(f"no GitHub release: {reason}")
            return None, None, reason
    variable = config.github_token_env
    token = env.get(variable, "").strip()
    if not token:
        reason = f"{variable} is not set"
        if opted_in:
            ctx.reporter.warn(f"GitHub release for {repository} not published: {reason}")
        else:
            ctx.reporter.detail(f"no GitHub release for {repository}: {reason}")
        return repository, None, reason
    return repository, token, None


def _publish(
    ctx: Context, repository: str, token: str, found: Notes, tag: str, releases: Sequence[Release]
) -> tuple[str, str | None]:
    from releasectl.adapters.github import GitHubClient, GitHubError

    version = str(found.version)
    prerelease = is_prerelease(version)
    body = found.body()
    client = GitHubClient(repository, token, api_url=ctx.config.github_api_url)
    latest = _make_latest(version, releases)
    try:
        existing = client.release_by_tag(tag)
        if existing is None:
            try:
                made = client.create_release(
                    tag,
                    commit=str(found.commit),
                    name=tag,
                    body=body,
                    prerelease=prerelease,
                    make_latest=latest,
                )
                return "created", made.html_url
            except GitHubError as exc:
                if exc.code != "already_exists":
                    raise
                existing = client.release_by_tag(tag)  # another run made it in between
                if existing is None:
                    raise GitHubError(
                        f"GitHub already has a release for {tag} that it does not return by tag: a draft",
                        hint=f"publish or delete the draft of {tag} on GitHub, then run the release again",
                    ) from None
        if (existing.body or "") == body and existing.name == tag and existing.prerelease == prerelease:
            return "unchanged", existing.html_url
        updated = client.update_release(
            existing.id, name=tag, body=body, prerelease=prerelease, make_latest=latest
        )
        return "updated", updated.html_url
    except GitHubError as exc:
        if exc.status == 401:
            exc.hint = f"the token in {ctx.config.github_token_env} is wrong, expired or revoked"
        raise


def _make_latest(version: str, releases: Sequence[Release]) -> str | None:
    """GitHub's make_latest: only the highest final is "latest", so a maintenance release (1.1.2
    after 1.2.0) does not take the mark; a pre-release cannot hold it."""
    if is_prerelease(version):
        return None
    key = version_key(version)
    higher = any(version_key(r.version) > key for r in releases if not is_prerelease(r.version))
    return "false" if higher else "true"
