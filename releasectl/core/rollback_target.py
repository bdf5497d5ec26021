"""Which version an automatic rollback goes back to (`releasectl rollback` without --to). Pure.

Never "revision - 1": the previous revision may be the one that just failed, or one someone
registered by hand. The answer is the highest version lower than the running one whose latest
recorded deployment (the `releasectl:outcome` tag deploy and rollback leave on the revision
they ran) verifiably succeeded, and whose image is still in the ledger under that digest.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from releasectl.core.deploy_plan import Revision
from releasectl.core.errors import EnvironmentProblem
from releasectl.core.ledger import Release
from releasectl.core.oneoff import deployed_by_no_one
from releasectl.core.versions import precedence

# How many revisions an automatic rollback reads looking for verified-good versions; each is
# one describe_task_definition call.
HISTORY_SCAN = 250


@dataclass(frozen=True)
class RollbackChoice:
    release: Release
    revision: Revision  # the newest revision that recorded this version's outcome
    running_version: str | None
    scanned: int


def running_version(running: Revision, releases: Sequence[Release], container_name: str) -> str | None:
    """The running version: its revision's tag, else the ledger version of its digest."""
    if running.version:
        return running.version
    digest = running.digest(container_name)
    matches = [r for r in releases if digest and r.digest == digest]
    return max(matches, key=lambda r: r.key).version if matches else None


def choose_rollback_target(
    *,
    running: Revision,
    history: Iterable[Revision],
    releases: Sequence[Release],
    container_name: str,
    service: str,
    limit: int = HISTORY_SCAN,
) -> RollbackChoice:
    """The newest earlier version whose latest recorded deployment verifiably succeeded.

    Revisions are read newest first; per version only the newest revision with a recorded
    outcome counts, so a version that succeeded once and was later rolled back is skipped.
    The image must still be in the ledger under that version with the same digest.
    """
    current_version = running_version(running, releases, container_name)
    current_key = precedence(current_version)
    running_digest = running.digest(container_name)
    ledger = {r.version: r for r in releases}
    latest: dict[str, Revision] = {}
    scanned = 0
    for revision in history:
        if scanned >= limit:
            break
        scanned += 1
        if revision.arn == running.arn or not revision.outcome:
            continue
        version = revision.version
        if version and version not in latest and precedence(version) is not None:
            latest[version] = revision
    candidates: list[tuple[tuple[Any, ...], Release, Revision]] = []
    for version, revision in latest.items():
        parsed = precedence(version)
        release = ledger.get(version)
        if parsed is None or revision.outcome != "succeeded" or release is None:
            continue
        if release.digest is None or release.digest != revision.digest(container_name):
            continue
        if current_key is not None and parsed >= current_key:
            continue
        if current_key is None and release.digest == running_digest:
            continue
        candidates.append((parsed, release, revision))
    if not candidates:
        running_text = f"the running version {current_version}" if current_version else "the running image"
        raise EnvironmentProblem(
            f"no version earlier than {running_text} has a verified successful deployment on service "
            f"{service} (looked at {scanned} revisions of {running.family})",
            hint="name the version: `releasectl rollback --to VERSION` (`releasectl releases` lists them)",
        )
    _, release, revision = max(candidates, key=lambda c: c[0])
    return RollbackChoice(
        release=release, revision=revision, running_version=current_version, scanned=scanned
    )


# ----------------------------------------------------------------------------- `rollback --to`

# Recorded outcomes that make a named target unsafe: its image was seen not to run healthily.
REFUSED_OUTCOMES = frozenset({"failed", "rolled_back"})


@dataclass(frozen=True)
class TargetRecord:
    """What the service's own records say about a version named with `rollback --to`."""

    running_version: str | None
    deployed: Revision | None  # the newest revision that ran the target's image on this service
    outcome: str | None  # the target's latest recorded deployment outcome, when one was recorded
    outcome_revision: Revision | None
    scanned: tuple[Revision, ...]  # revisions read, newest first, the running one excluded

    @property
    def refused_outcome(self) -> bool:
        return self.outcome in REFUSED_OUTCOMES


def check_named_target(
    *,
    target: Release,
    running: Revision,
    history: Iterable[Revision],
    releases: Sequence[Release],
    container_name: str,
    service: str,
    force: bool,
    limit: int = HISTORY_SCAN,
) -> TargetRecord:
    """Whether `rollback --to target` is a rollback: the target is not newer than what runs, it ran
    on this service before, and (unless `force`) its latest recorded deployment did not fail.

    A revision records the target when it pins the container to the target's digest and is
    tagged with the target's version or with none (revisions registered outside releasectl,
    e.g. by CloudFormation). `history` is consumed lazily, newest first, stopping at the first
    record that carries an outcome, so a recently deployed target costs a describe or two.
    Every refusal is an EnvironmentProblem (exit 4) raised before anything is written.
    """
    version = target.version
    current_version = running_version(running, releases, container_name)
    wanted, current = precedence(version), precedence(current_version)
    if wanted is not None and current is not None and wanted > current:
        raise EnvironmentProblem(
            f"version {version} is newer than {current_version}, which service {service} runs; "
            "a rollback only goes back",
            hint=f"to move forward, deploy it: `releasectl deploy {version}`",
        )

    def records(revision: Revision) -> bool:
        # A revision registered for a one-off task (`run`, a migration) that no deployment ran is
        # no record of the service running the version.
        return (
            revision.digest(container_name) == target.digest
            and revision.version in (None, version)
            and not deployed_by_no_one(revision.tags)
        )

    deployed: Revision | None = running if records(running) else None
    with_outcome: Revision | None = running if deployed is not None and running.outcome else None
    scanned: list[Revision] = []
    if with_outcome is None:
        for revision in itertools.islice(history, limit):
            if revision.arn == running.arn:
                continue
            scanned.append(revision)
            if not records(revision):
                continue
            deployed = deployed or revision
            if revision.outcome:
                with_outcome = revision
                break
    if deployed is None:
        raise EnvironmentProblem(
            f"version {version} has never been deployed to service {service} (no revision of "
            f"{running.family} among the newest {len(scanned) + 1} runs its image), so there is nothing "
            "to roll back to",
            hint=f"to run it anyway, deploy it: `releasectl deploy {version}`",
        )
    outcome = with_outcome.outcome if with_outcome is not None else None
    if outcome in REFUSED_OUTCOMES and not force:
        assert with_outcome is not None
        raise EnvironmentProblem(
            f"version {version}'s last recorded deployment to service {service} {_said(outcome)} "
            f"(revision {with_outcome.number}); not rolling back to it",
            hint="pick another version (`releasectl releases` shows each one's outcome), "
            "or pass --force to roll back to it anyway",
        )
    return TargetRecord(
        running_version=current_version,
        deployed=deployed,
        outcome=outcome,
        outcome_revision=with_outcome,
        scanned=tuple(scanned),
    )


def _said(outcome: str | None) -> str:
    return "was rolled back" if outcome == "rolled_back" else f"ended {outcome}"
