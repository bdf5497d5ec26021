"""The sandbox's CodeBuild: start_build really runs the project's buildspec.yml.

Each build runs in a background thread: a fresh clone of the project's source repository (a
local git path; or, when that repository's `origin` is a remote the sandbox made for it, that
remote, so a build sees what was pushed, tags included, as CodeBuild sees GitHub) at the
requested commit, CodeBuild's environment variables, the buildspec's
phases with CodeBuild's transitions (releasectl.localbuild.checkout.run_build_in_checkout, the same
code as `releasectl build --local`). Every output line goes to CloudWatch Logs, group
`/aws/codebuild/<project>` (or the project's logsConfig group), stream `<build uuid>`, as it
happens. batch_get_builds answers from the build's live record: buildStatus IN_PROGRESS until
it ends SUCCEEDED / FAILED / STOPPED / TIMED_OUT, currentPhase and phases (with the failing
command in the phase context), logs.groupName / streamName and exportedEnvironmentVariables.
stop_build ends the running command's process group and the build ends STOPPED.

The environment of a build: the sandbox's own (PATH first lists the Python running the
sandbox, so `python` and `releasectl` are this installation's), AWS_ENDPOINT_URL and fake
credentials for the sandbox, RELEASECTL_SANDBOX=1, RELEASECTL_SANDBOX_STATE, then the project's
environment variables and start_build's overrides, then CodeBuild's own variables, and last
RELEASECTL_GIT_TAG_REMOTE: `origin` when the checkout's origin is a sandbox remote, else `none`,
so a release in a sandbox build never pushes a tag to a remote the sandbox did not create.
"""

from __future__ import annotations

import copy
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from releasectl.core.errors import EnvironmentProblem, ReleasectlError, UsageError
from releasectl.localbuild.checkout import BuildIdentity, run_build_in_checkout
from releasectl.localbuild.runner import FAILED, SUCCEEDED, TIMED_OUT, BuildRun
from releasectl_sandbox.codebuild_record import SANDBOX_IMAGE, BuildRecord, now
from releasectl_sandbox.logship import LogShipper

_DEFAULT_TIMEOUT_MIN = 60
# CodeBuild answers a StartBuild that repeats a token of the last 5 minutes with the build the
# first one started: a client retrying after a lost answer must not start a second build.
_TOKEN_TTL_S = 300.0
_ENTER = re.compile(r"^\[Container\] Entering phase (\w+)$")
_DONE = re.compile(r"^\[Container\] Phase complete: (\w+) State: (\w+)$")
_CONTEXT = re.compile(r"^\[Container\] Phase context status code: (\S+) Message: (.*)$")
_TIMED_OUT_LINE = re.compile(r"^\[Container\] Build timed out after ")
# Set (to true) in the config of a bare repository made to be a project's `origin` for the
# sandbox (the demo's scratch origin): builds clone it and may push release tags to it.
SANDBOX_REMOTE_KEY = "releasectl.sandboxRemote"
GIT_TAG_REMOTE_ENV = "RELEASECTL_GIT_TAG_REMOTE"


@dataclass
class CodeBuildSimulator:
    account: str
    region: str
    shipper: LogShipper
    build_env: Mapping[str, str]  # the build container's environment (see module docstring)
    announce: Callable[[str], None] = lambda _line: None
    # Every log line of every build, as it is written (build id, line): what watches the sandbox
    # in-process (the demo) sees build output when it happens, not when a log reader polls.
    on_log: Callable[[str, str], None] | None = None
    _builds: dict[str, BuildRecord] = field(default_factory=dict)
    _numbers: dict[str, int] = field(default_factory=dict)
    _tokens: dict[tuple[str, str], tuple[str, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ------------------------------------------------------------------ moto hooks

    def start_build(self, project: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
        name = str(project["name"])
        overrides = {
            str(v["name"]): str(v.get("value", ""))
            for v in params.get("environmentVariablesOverride") or ()
            if v.get("name")
        }
        source_version = str(params.get("sourceVersion") or project.get("sourceVersion") or "HEAD")
        timeout = int(
            params.get("timeoutInMinutesOverride") or project.get("timeoutInMinutes") or _DEFAULT_TIMEOUT_MIN
        )
        logs_config = (project.get("logsConfig") or {}).get("cloudWatchLogs") or {}
        build_uuid = str(uuid.uuid4())
        prefix = logs_config.get("streamName")
        token = str(params.get("idempotencyToken") or "")
        with self._lock:
            if token:
                earlier = self._tokens.get((name, token))
                if earlier is not None and time.monotonic() - earlier[1] < _TOKEN_TTL_S:
                    return self._builds[earlier[0]].to_api()
            number = self._numbers.get(name, 0) + 1
            self._numbers[name] = number
            build = BuildRecord(
                id=f"{name}:{build_uuid}",
                arn=f"arn:aws:codebuild:{self.region}:{self.account}:build/{name}:{build_uuid}",
                number=number,
                project=copy.deepcopy(dict(project)),
                source_version=source_version,
                env_overrides=overrides,
                timeout_min=timeout,
                group=logs_config.get("groupName") or f"/aws/codebuild/{name}",
                stream=f"{prefix}/{build_uuid}" if prefix else build_uuid,
            )
            build.phases = [
                {
                    "phaseType": "SUBMITTED",
                    "phaseStatus": SUCCEEDED,
                    "startTime": build.started,
                    "endTime": build.started,
                    "durationInSeconds": 0,
                },
                {"phaseType": "QUEUED", "startTime": build.started},
            ]
            self._builds[build.id] = build
            if token:
                self._tokens[(name, token)] = (build.id, time.monotonic())
            build.thread = threading.Thread(
                target=self._run, args=(build,), name=f"sandbox-build-{number}", daemon=True
            )
            build.thread.start()
            return build.to_api()

    def batch_get_builds(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        with self._lock:
            return [self._builds[i].to_api() for i in ids if i in self._builds]

    def stop_build(self, build_id: str) -> dict[str, Any] | None:
        with self._lock:
            build = self._builds.get(build_id)
            if build is None:
                return None
            if build.ended is None:
                build.clock.stopped.set()
            return build.to_api()

    def close(self, timeout: float = 10.0) -> None:
        """Stop every running build and wait for its processes to end."""
        with self._lock:
            running = [b for b in self._builds.values() if b.ended is None]
            for build in running:
                build.clock.stopped.set()
        deadline = time.monotonic() + timeout
        for build in running:
            if build.thread is not None:
                build.thread.join(timeout=max(0.1, deadline - time.monotonic()))

    # ------------------------------------------------------------------ the build

    def _log(self, build: BuildRecord, line: str) -> None:
        if line.startswith("[Container] "):
            line = f"[Container] {datetime.now(UTC):%Y/%m/%d %H:%M:%S.%f} {line[len('[Container] ') :]}"
        if self.on_log is not None:
            self.on_log(build.id, line)
        self.shipper.write(build.group, build.stream, line)

    def _on_line(self, build: BuildRecord, line: str) -> None:
        # The runner ends a stopped build's command the way it ends one that timed out; the build
        # says STOPPED, as CodeBuild's does: the phase's status is STOPPED, with no BUILD_TIMED_OUT
        # context (AWS's StopBuild example shows a STOPPED phase without contexts).
        stopped = build.clock.stopped.is_set()
        with self._lock:
            if (match := _ENTER.match(line)) is not None:
                build.enter(match.group(1))
            elif (match := _DONE.match(line)) is not None:
                status = "STOPPED" if stopped and match.group(2) == TIMED_OUT else match.group(2)
                build.end_phase(match.group(1), status)
                line = f"[Container] Phase complete: {match.group(1)} State: {status}"
            elif (match := _CONTEXT.match(line)) is not None:
                if stopped:
                    return
                build.add_context(match.group(1), match.group(2))
        if stopped and _TIMED_OUT_LINE.match(line):
            line = "[Container] Build was stopped (StopBuild): the running command's processes were ended"
        self._log(build, line)

    def _run(self, build: BuildRecord) -> None:
        with self._lock:
            build.enter("PROVISIONING")
            build.logs_started = True
        self._log(build, f"[Container] Running on the releasectl sandbox: {SANDBOX_IMAGE}")
        self.announce(f"sandbox: CodeBuild build {build.id} started ({build.source_version})")
        run: BuildRun | None = None
        failure: tuple[str, str] | None = None
        try:
            with self._lock:
                build.enter("DOWNLOAD_SOURCE")
            source = _checkout_source(_source_path(build.project))
            repo = source.clone_from
            commit = _resolve(repo, build.source_version)
            with self._lock:
                build.resolved = commit
            self._log(build, f"[Container] Cloning {repo} at {commit} (full history and tags, detached HEAD)")
            self._log(build, f"[Container] {GIT_TAG_REMOTE_ENV}={source.tag_remote}: {source.why}")
            identity = BuildIdentity(
                build_id=build.id,
                build_number=build.number,
                region=self.region,
                account_id=self.account,
                initiator="releasectl-sandbox",
                image=SANDBOX_IMAGE,
            )
            project_env = {
                str(v["name"]): str(v.get("value", ""))
                for v in (build.project.get("environment") or {}).get("environmentVariables") or ()
                if v.get("name")
            }
            run = run_build_in_checkout(
                repo=repo,
                commit=commit,
                source_version=build.source_version,
                identity=identity,
                on_line=lambda line: self._on_line(build, line),
                clock=build.clock,
                timeout_s=build.timeout_min * 60,
                base_env=dict(self.build_env),
                extra_env={**project_env, **build.env_overrides, GIT_TAG_REMOTE_ENV: source.tag_remote},
            )
        except UsageError as exc:  # the buildspec itself is invalid
            failure = ("YAML_FILE_ERROR", exc.one_line())
        except ReleasectlError as exc:  # no source, no such commit, no buildspec in it
            failure = ("CLIENT_ERROR", exc.one_line())
        except Exception as exc:  # the sandbox's own fault: the build says so rather than hanging
            failure = ("FAULT", f"sandbox error: {exc.__class__.__name__}: {exc}")
        self._finish(build, run, failure)
        self.shipper.flush()
        self.announce(f"sandbox: CodeBuild build {build.id} {build.status}")

    def _finish(self, build: BuildRecord, run: BuildRun | None, failure: tuple[str, str] | None) -> None:
        with self._lock:
            stopped = build.clock.stopped.is_set()
            if failure is not None:
                code, message = failure
                build.end_phase(build.current_phase, "FAULT" if code == "FAULT" else FAILED)
                build.add_context(code, message)
                status = "FAULT" if code == "FAULT" else FAILED
                self._log(build, f"[Container] Phase context status code: {code} Message: {message}")
            else:
                assert run is not None
                for ran in run.phases:
                    record = next((p for p in build.phases if p["phaseType"] == ran.phase_type), None)
                    if record is not None and "endTime" not in record:
                        build.end_phase(ran.phase_type, "STOPPED" if stopped else ran.status)
                build.exported = dict(run.exported)
                status = (
                    "STOPPED"
                    if stopped
                    else {SUCCEEDED: SUCCEEDED, FAILED: FAILED, TIMED_OUT: TIMED_OUT}[run.status]
                )
            if stopped and status != "FAULT":
                status = "STOPPED"
            for phase in ("UPLOAD_ARTIFACTS", "FINALIZING"):
                build.enter(phase)
            build.end_phase("FINALIZING", SUCCEEDED)
            build.phases.append({"phaseType": "COMPLETED", "startTime": now()})
            build.current_phase = "COMPLETED"
            build.status = status
            build.ended = now()
        self._log(build, f"[Container] Phase complete: FINALIZING State: SUCCEEDED (build {status})")


def _source_path(project: Mapping[str, Any]) -> Path:
    location = str((project.get("source") or {}).get("location") or "")
    if location.startswith("file://"):
        location = location[len("file://") :]
    path = Path(location)
    if not location or not (path / ".git").exists():
        raise EnvironmentProblem(
            f"the project's source {location!r} is not a local git repository",
            hint="create the project with source.location set to the repository's path",
        )
    return path


@dataclass(frozen=True)
class _Source:
    clone_from: Path
    tag_remote: str  # what RELEASECTL_GIT_TAG_REMOTE is in the build: "origin" or "none"
    why: str


def _checkout_source(repo: Path) -> _Source:
    """Where a build clones from, and whether a release in it may push tags to its origin.

    A remote made for the sandbox (SANDBOX_REMOTE_KEY) is what the developer pushed to: the
    build clones it, as CodeBuild clones GitHub, and sees the tags earlier builds pushed there.
    Any other origin is the user's own (GitHub, a team server): the build clones the local
    repository and a release in it pushes no tag anywhere.
    """
    origin = _local_remote(repo)
    if origin is not None and _git_out(origin, "config", "--bool", "--get", SANDBOX_REMOTE_KEY) == "true":
        return _Source(origin, "origin", f"release tags go to {origin}, the sandbox's origin")
    return _Source(
        repo,
        "none",
        "no release tag is pushed: the sandbox did not create this repository's origin",
    )


def _local_remote(repo: Path) -> Path | None:
    """The repository's origin when it is a path on this machine, else None."""
    url = _git_out(repo, "remote", "get-url", "origin")
    if url.startswith("file://"):
        url = url[len("file://") :]
    if not url or "://" in url:
        return None
    path = repo / url  # a relative URL is relative to the repository; an absolute one replaces it
    return path.resolve() if path.is_dir() else None


def _git_out(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def _resolve(repo: Path, ref: str) -> str:
    """The commit a sourceVersion names (sha, branch, tag or refs/...), as CodeBuild resolves it."""
    wanted = ref[len("refs/heads/") :] if ref.startswith("refs/heads/") else ref
    proc = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{wanted}^{{commit}}"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise EnvironmentProblem(f"sourceVersion {ref!r} is not a commit, branch or tag of {repo}")
    return proc.stdout.strip()
