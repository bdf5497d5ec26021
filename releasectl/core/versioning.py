"""The versioning rules (docs/design.md §4): which version comes next, and why. Pure: no I/O.

Rules, in the order they apply:

1. No release yet: the first version is 0.1.0, or what a ``Release-As`` footer names
   (an explicit ``major`` gives 1.0.0, ``minor`` 0.1.0, ``patch`` 0.0.1).
2. An explicit level (major, minor, patch) wins over the commits.
3. Otherwise the newest ``Release-As: X.Y.Z`` footer in the range forces that version. A
   footer that cannot apply (not a release version, or not above the current one) does not
   block: it is set aside with a note naming its commit and the fix, and the commits decide.
   ``Release-As: v2.0.0`` is read as 2.0.0, with a note. The range starts after the base
   release, so a footer applies to the first release after its commit only.
4. Otherwise the highest commit decides: breaking → major, feat → minor, fix → patch,
   anything else → patch (or no release with ``other_commits = "none"``). On 0.x a
   breaking change is a minor bump unless ``major_on_zero``.
5. Pre-releases: ``--pre rc`` gives X.Y.Z-rc.1, the next run -rc.2, and a run without
   ``--pre`` the final X.Y.Z (even with no new commits). A pre-release already covers its
   own level (1.3.0-rc.1 covers a minor bump): only a higher level moves the core version.
   releasectl makes -rc.N only: image tags and the ECR ledger know no other form. A base
   read from another label's tag (2.0.0-beta.1, with ``prerelease_labels``) is finalised or
   followed by 2.0.0-rc.1 like any pre-release.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from releasectl.core.conventional import ConventionalCommit
from releasectl.core.errors import UsageError
from releasectl.core.versions import PRE_LABELS, Version, parse_release, parse_version

INITIAL_VERSION = "0.1.0"
LEVELS = ("none", "patch", "minor", "major")
EXPLICIT_LEVELS = ("major", "minor", "patch")
BUMP_KINDS = ("major", "minor", "patch", "prerelease", "none", "initial")
RELEASE_AS = "release-as"


def check_pre_label(label: str) -> str:
    if label not in PRE_LABELS:
        raise UsageError(
            f"pre-release label {label!r} is not supported",
            hint="use --pre rc: releases are X.Y.Z or X.Y.Z-rc.N, the form image tags and the ledger know",
        )
    return label


def check_level(level: str) -> str:
    value = level.strip().lower()
    if value not in ("auto", *EXPLICIT_LEVELS):
        raise UsageError(f"bump level {level!r} is not valid", hint="use auto, major, minor or patch")
    return value


class Change(NamedTuple):
    """One commit in the range being released."""

    sha: str
    commit: ConventionalCommit


class Reason(NamedTuple):
    commit: str
    subject: str
    level: str  # major|minor|patch|none, or release-as
    kind: str  # breaking|feat|fix|other

    def to_json(self) -> dict[str, str]:
        return {"commit": self.commit, "subject": self.subject, "level": self.level, "kind": self.kind}


class BumpDecision(NamedTuple):
    current: str | None
    next: str
    bump: str  # one of BUMP_KINDS
    commits: int
    rule: str
    reasons: tuple[Reason, ...] = ()
    released: bool = False  # HEAD already carries `next`
    skipped: tuple[str, ...] = ()  # versions stepped past because other commits hold them
    notes: tuple[str, ...] = ()  # what was set aside and why (a Release-As footer that cannot apply)

    @property
    def changes(self) -> bool:
        return self.bump != "none"

    @property
    def release_as(self) -> Reason | None:
        """The footer that forced this version, if one did."""
        return next((r for r in self.reasons if r.level == RELEASE_AS), None)


class Policy(NamedTuple):
    major_on_zero: bool = False
    other_commits: str = "patch"  # "patch" or "none"


def commit_level(commit: ConventionalCommit, *, on_zero: bool, policy: Policy) -> str:
    kind = commit.kind
    if kind == "breaking":
        return "minor" if on_zero and not policy.major_on_zero else "major"
    if kind == "feat":
        return "minor"
    if kind == "fix":
        return "patch"
    return "none" if policy.other_commits == "none" else "patch"


def released(version: str, commits: int = 0) -> BumpDecision:
    """HEAD already carries a release: the answer is that release, nothing to do."""
    return BumpDecision(
        version, version, "none", commits, f"HEAD is already released as {version}", released=True
    )


def decide(
    current: str | None,
    changes: Sequence[Change],
    *,
    level: str = "auto",
    pre: str | None = None,
    policy: Policy | None = None,
    release_as: bool = True,
) -> BumpDecision:
    """The next version after ``current`` given the commits since it (newest first).

    ``release_as=False`` sets every Release-As footer aside (one already used by a release).
    """
    policy = policy or Policy()
    level = check_level(level)
    if pre is not None:
        check_pre_label(pre)
    base = parse_version(current, what="current version") if current is not None else None
    forced, notes = _release_as(changes, base, pre) if level == "auto" and release_as else (None, ())
    if base is None:
        return _initial(changes, level=level, pre=pre, forced=forced)._replace(notes=notes)
    assert current is not None  # for the type checker: base was parsed from it

    if forced is not None:
        change, version = forced
        target = _with_pre(version, base, pre)
        reason = Reason(change.sha, change.commit.header, RELEASE_AS, change.commit.kind)
        return BumpDecision(
            current,
            str(target),
            _kind(base, target),
            len(changes),
            f"Release-As: {version}",
            (reason,),
            notes=notes,
        )

    if level == "auto":
        wanted, reasons, rule = _from_commits(changes, on_zero=base.major == 0, policy=policy)
    else:
        wanted, reasons, rule = level, (), f"explicit {level} bump"

    if wanted == "none" and not (base.prerelease and pre is None):
        return BumpDecision(current, current, "none", len(changes), rule, reasons, notes=notes)
    core = _core(base, wanted)
    if pre is None and base.prerelease and core == base.finalize_version():
        rule = f"{rule}; finalises {current}" if changes or level != "auto" else f"finalises {current}"
    target = _with_pre(core, base, pre)
    _require_greater(target, base, f"pre-release {pre}")
    return BumpDecision(current, str(target), _kind(base, target), len(changes), rule, reasons, notes=notes)


def _initial(
    changes: Sequence[Change], *, level: str, pre: str | None, forced: tuple[Change, Version] | None
) -> BumpDecision:
    reasons: tuple[Reason, ...] = ()
    if forced is not None:
        change, version = forced
        rule = f"first release, Release-As: {version}"
        reasons = (Reason(change.sha, change.commit.header, RELEASE_AS, change.commit.kind),)
    elif level == "auto":
        version, rule = Version.parse(INITIAL_VERSION), f"first release: {INITIAL_VERSION}"
    else:
        version = {
            "major": Version(1),
            "minor": Version(0, 1),
            "patch": Version(0, 0, 1),
        }[level]
        rule = f"first release, explicit {level}: {version}"
    target = version.replace(prerelease=f"{pre}.1") if pre and not version.prerelease else version
    return BumpDecision(None, str(target), "initial", len(changes), rule, reasons)


def _release_as(
    changes: Sequence[Change], base: Version | None, pre: str | None
) -> tuple[tuple[Change, Version] | None, tuple[str, ...]]:
    """The newest Release-As footer in the range, if it can apply, and notes on the one that cannot.

    Newest first: a later footer overrides an earlier one in the same range. When the newest
    cannot apply, the commits decide rather than an older footer it overrode. A footer lives in
    history and cannot be edited, so a footer that cannot apply must never block releasing:
    once a release is made past it, it is out of every later range.
    """
    for change in changes:
        value = change.commit.release_as
        if value is None:
            continue
        where = f"commit {change.sha[:12]} ({change.commit.header[:60]})"
        notes: tuple[str, ...] = ()
        text = value
        if len(value) > 1 and value[0] in "vV" and value[1].isdigit():
            text = value[1:]
            notes = (f"{where} says Release-As: {value}; read as {text} (a footer names the version bare)",)
        try:
            version = parse_release(text, what="Release-As")
        except UsageError as exc:
            why = exc.message.removeprefix("Release-As ")
            return None, (
                f"{where} says Release-As: {value}, which is set aside ({why}) and the commits decide. "
                "To force a version, name X.Y.Z (or X.Y.Z-rc.N) in a new commit's footer",
            )
        if base is not None and _with_pre(version, base, pre) <= base:
            return None, (
                f"{where} says Release-As: {version}, which is not above the current {base}, so it is set "
                "aside and the commits decide. To force a version, name one above "
                f"{base} in a new commit's footer; this one is out of range after the next release",
            )
        return (change, version), notes
    return None, ()


def _from_commits(
    changes: Sequence[Change], *, on_zero: bool, policy: Policy
) -> tuple[str, tuple[Reason, ...], str]:
    best = "none"
    reasons: list[Reason] = []
    for change in changes:
        lvl = commit_level(change.commit, on_zero=on_zero, policy=policy)
        rank = LEVELS.index(lvl)
        if rank > LEVELS.index(best):
            best, reasons = lvl, []
        if lvl == best and lvl != "none":
            reasons.append(Reason(change.sha, change.commit.header, lvl, change.commit.kind))
    return best, tuple(reasons), _rule(best, reasons, len(changes), on_zero=on_zero, policy=policy)


def _rule(best: str, reasons: Sequence[Reason], total: int, *, on_zero: bool, policy: Policy) -> str:
    if total == 0:
        return "no commits since the current release"
    if best == "none":
        return 'no feat, fix or breaking commits, and other_commits = "none": no release'
    kinds = {r.kind for r in reasons}
    if "breaking" in kinds:
        if best == "minor" and on_zero:
            return "breaking change on 0.x → minor (set major_on_zero = true for 1.0.0)"
        return "breaking change → major"
    if "feat" in kinds:
        return "feat → minor"
    if "fix" in kinds:
        return "fix → patch"
    return "other commits → patch"


def _core(base: Version, wanted: str) -> Version:
    """The release X.Y.Z a bump of ``wanted`` from ``base`` lands on."""
    if base.prerelease:
        core = base.finalize_version()
        if wanted == "none" or LEVELS.index(wanted) <= LEVELS.index(_covered(core)):
            return core
        return _bump(core, wanted)
    return _bump(base, wanted)


def _covered(core: Version) -> str:
    """The level a pre-release's core version already stands for: 1.3.0-rc.1 is a minor."""
    if core.patch:
        return "patch"
    if core.minor:
        return "minor"
    return "major"


def _bump(version: Version, level: str) -> Version:
    if level == "major":
        return version.bump_major()
    if level == "minor":
        return version.bump_minor()
    return version.bump_patch()


def _with_pre(core: Version, base: Version, pre: str | None) -> Version:
    if pre is None or core.prerelease:
        return core
    if base.prerelease and base.finalize_version() == core:
        label, _, number = str(base.prerelease).partition(".")
        if label == pre and number.isdigit():
            return core.replace(prerelease=f"{pre}.{int(number) + 1}")
    return core.replace(prerelease=f"{pre}.1")


def _require_greater(target: Version, base: Version, what: str) -> None:
    if target <= base:
        raise UsageError(
            f"{what} gives {target}, which is not greater than the current {base}",
            hint="pick a later version (or a pre-release label that sorts after the current one)",
        )


def _kind(base: Version, target: Version) -> str:
    if target.prerelease:
        return "prerelease"
    reference = base.finalize_version() if base.prerelease else base
    if target == reference:
        return _covered(target)
    if target.major != reference.major:
        return "major"
    if target.minor != reference.minor:
        return "minor"
    return "patch"


def next_free(
    decision: BumpDecision, taken: Iterable[str], *, holders: Mapping[str, str] | None = None
) -> BumpDecision:
    """The decision moved past versions other commits already hold, at the same level.

    A sibling commit that won the version (another branch, or a release that won a race) is
    not an ancestor of HEAD, so the base stays the same and the rules would pick the taken
    version again. Stepping at the decided level keeps the meaning (a feat still lands on a new
    minor). The rule gains a note naming what was skipped and, from ``holders`` (version ->
    "commit abc…"), who holds it, so every command that shows the decision says the same.
    """
    held = set(taken)
    if not decision.changes or decision.next not in held:
        return decision
    target = Version.parse(decision.next)
    skipped: list[str] = []
    while str(target) in held:
        skipped.append(str(target))
        if target.prerelease:
            target = target.bump_prerelease()
        else:
            target = _bump(target, decision.bump if decision.bump in LEVELS else "patch")
    verb = "is" if len(skipped) == 1 else "are"
    where = ", ".join(holders[v] for v in skipped if holders and v in holders)
    note = f"{', '.join(skipped)} {verb} already released elsewhere" + (f" ({where})" if where else "")
    return decision._replace(next=str(target), rule=f"{decision.rule}; {note}", skipped=tuple(skipped))
