"""buildspec.yml (version 0.2) parsed into a model, the way CodeBuild reads it.

Pure: it takes the file's text and returns a Buildspec or raises UsageError naming
the offending key, so a broken buildspec is caught before anything runs. Scalars
are read as text (YAML's base schema), as CodeBuild does: `- true` is the command
`true`, and `version: 0.2` is the string "0.2" rather than a float.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from releasectl.core.errors import EnvironmentProblem, UsageError

PHASE_NAMES: tuple[str, ...] = ("install", "pre_build", "build", "post_build")
ON_FAILURE = ("ABORT", "CONTINUE")
SHELLS = ("bash", "/bin/sh")
REPORT_FORMATS = frozenset(
    {
        "CUCUMBERJSON",
        "JUNITXML",
        "NUNITXML",
        "NUNIT3XML",
        "TESTNGXML",
        "VISUALSTUDIOTRX",
        "CLOVERXML",
        "COBERTURAXML",
        "JACOCOXML",
        "SIMPLECOV",
    }
)
_HINT = "see https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TOP_KEYS = {"version", "run-as", "env", "proxy", "batch", "phases", "reports", "artifacts", "cache"}
_ENV_KEYS = {
    "shell",
    "variables",
    "parameter-store",
    "exported-variables",
    "secrets-manager",
    "git-credential-helper",
}
_PHASE_KEYS = {"run-as", "on-failure", "runtime-versions", "commands", "finally"}
_REPORT_KEYS = {"files", "base-directory", "discard-paths", "file-format"}
_ARTIFACT_KEYS = {
    "files",
    "name",
    "discard-paths",
    "base-directory",
    "exclude-paths",
    "enable-symlinks",
    "s3-prefix",
    "secondary-artifacts",
}


@dataclass(frozen=True)
class BuildspecPhase:
    name: str  # install, pre_build, build or post_build
    commands: tuple[str, ...] = ()
    finally_commands: tuple[str, ...] = ()
    # None: not given; the runner then applies CodeBuild's default transitions, which are ABORT's.
    on_failure: str | None = None
    runtime_versions: Mapping[str, str] = field(default_factory=dict)
    run_as: str | None = None

    @property
    def phase_type(self) -> str:
        """The name CodeBuild's API uses (batch_get_builds phaseType)."""
        return self.name.upper()

    @property
    def aborts(self) -> bool:
        return self.on_failure != "CONTINUE"


@dataclass(frozen=True)
class ReportGroup:
    name: str
    files: tuple[str, ...]
    file_format: str = "JUNITXML"
    base_directory: str | None = None
    discard_paths: bool = False


@dataclass(frozen=True)
class Artifacts:
    files: tuple[str, ...]
    name: str | None = None
    base_directory: str | None = None
    discard_paths: bool = False


@dataclass(frozen=True)
class Buildspec:
    version: str
    phases: tuple[BuildspecPhase, ...]
    shell: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    exported_variables: tuple[str, ...] = ()
    parameter_store: Mapping[str, str] = field(default_factory=dict)
    secrets_manager: Mapping[str, str] = field(default_factory=dict)
    reports: tuple[ReportGroup, ...] = ()
    artifacts: Artifacts | None = None

    def phase(self, name: str) -> BuildspecPhase | None:
        return next((p for p in self.phases if p.name == name), None)


def _error(where: str, key: str, problem: str) -> UsageError:
    return UsageError(f"{where}: {key} {problem}", hint=_HINT)


def _mapping(where: str, key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _error(where, key, "must be a mapping of keys to values")
    return value


def _unknown(where: str, prefix: str, data: Mapping[str, Any], allowed: set[str]) -> None:
    for key in data:
        if key not in allowed:
            raise _error(
                where,
                f"{prefix}{key}",
                f"is not a buildspec key (expected one of {', '.join(sorted(allowed))})",
            )


def _text(where: str, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _error(where, key, "must be a single value, not a list or mapping")
    return value


def _commands(where: str, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _error(where, key, "must be a list of commands")
    commands = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise _error(where, f"{key}[{index}]", "must be a non-empty command string")
        commands.append(item)
    return tuple(commands)


def _yes_no(where: str, key: str, value: Any) -> bool:
    text = _text(where, key, value).strip().lower()
    if text in {"yes", "true"}:
        return True
    if text in {"no", "false"}:
        return False
    raise _error(where, key, f"must be yes or no, got {value!r}")


def _env_name(where: str, key: str, name: str) -> str:
    if not _NAME.match(name):
        raise _error(where, key, f"{name!r} is not a valid environment variable name")
    return name


def _parse_env(where: str, raw: Any) -> dict[str, Any]:
    env = _mapping(where, "env", raw)
    _unknown(where, "env.", env, _ENV_KEYS)
    result: dict[str, Any] = {}
    if "shell" in env:
        shell = _text(where, "env.shell", env["shell"])
        if shell not in SHELLS:
            raise _error(where, "env.shell", f"must be one of {', '.join(SHELLS)} on Linux, got {shell!r}")
        result["shell"] = shell
    variables: dict[str, str] = {}
    for name, value in _mapping(where, "env.variables", env.get("variables") or {}).items():
        key = f"env.variables.{name}"
        _env_name(where, key, name)
        if name.startswith("CODEBUILD_"):
            raise _error(where, key, "uses the CODEBUILD_ prefix, which CodeBuild reserves")
        variables[name] = _text(where, key, value)
    result["variables"] = variables
    for yaml_key, field_name in (
        ("parameter-store", "parameter_store"),
        ("secrets-manager", "secrets_manager"),
    ):
        refs = _mapping(where, f"env.{yaml_key}", env.get(yaml_key) or {})
        result[field_name] = {
            _env_name(where, f"env.{yaml_key}.{k}", k): _text(where, f"env.{yaml_key}.{k}", v)
            for k, v in refs.items()
        }
    exported = env.get("exported-variables") or []
    if not isinstance(exported, list):
        raise _error(where, "env.exported-variables", "must be a list of variable names")
    names = []
    for index, name in enumerate(exported):
        key = f"env.exported-variables[{index}]"
        _env_name(where, key, _text(where, key, name))
        if name.startswith("AWS_"):
            raise _error(where, key, f"{name} cannot be exported: CodeBuild does not export AWS_ variables")
        names.append(name)
    result["exported_variables"] = tuple(names)
    if "git-credential-helper" in env:
        _yes_no(where, "env.git-credential-helper", env["git-credential-helper"])
    return result


def _parse_phase(where: str, name: str, raw: Any) -> BuildspecPhase:
    prefix = f"phases.{name}"
    data = _mapping(where, prefix, raw if raw is not None else {})
    _unknown(where, f"{prefix}.", data, _PHASE_KEYS)
    if "runtime-versions" in data and name != "install":
        raise _error(where, f"{prefix}.runtime-versions", "is only allowed in the install phase")
    if "commands" in data:
        commands = _commands(where, f"{prefix}.commands", data["commands"])
    elif name == "install":
        commands = ()
    else:
        raise _error(where, f"{prefix}.commands", "is required when the phase is given")
    finally_commands = _commands(where, f"{prefix}.finally", data["finally"]) if "finally" in data else ()
    on_failure = None
    if "on-failure" in data:
        on_failure = _text(where, f"{prefix}.on-failure", data["on-failure"]).strip().upper()
        if on_failure not in ON_FAILURE:
            raise _error(
                where, f"{prefix}.on-failure", f"must be ABORT or CONTINUE, got {data['on-failure']!r}"
            )
    runtimes = {
        k: _text(where, f"{prefix}.runtime-versions.{k}", v)
        for k, v in _mapping(where, f"{prefix}.runtime-versions", data.get("runtime-versions") or {}).items()
    }
    run_as = _text(where, f"{prefix}.run-as", data["run-as"]) if "run-as" in data else None
    return BuildspecPhase(name, commands, finally_commands, on_failure, runtimes, run_as)


def _parse_reports(where: str, raw: Any) -> tuple[ReportGroup, ...]:
    groups = []
    for name, value in _mapping(where, "reports", raw).items():
        prefix = f"reports.{name}"
        data = _mapping(where, prefix, value)
        _unknown(where, f"{prefix}.", data, _REPORT_KEYS)
        if "files" not in data:
            raise _error(where, f"{prefix}.files", "is required")
        files = _commands(where, f"{prefix}.files", data["files"])
        file_format = _text(where, f"{prefix}.file-format", data.get("file-format", "JUNITXML")).upper()
        if file_format not in REPORT_FORMATS:
            raise _error(where, f"{prefix}.file-format", f"{file_format!r} is not a CodeBuild report format")
        base = (
            _text(where, f"{prefix}.base-directory", data["base-directory"])
            if "base-directory" in data
            else None
        )
        discard = (
            _yes_no(where, f"{prefix}.discard-paths", data["discard-paths"])
            if "discard-paths" in data
            else False
        )
        groups.append(ReportGroup(name, files, file_format, base, discard))
    return tuple(groups)


def _parse_artifacts(where: str, raw: Any) -> Artifacts:
    data = _mapping(where, "artifacts", raw)
    _unknown(where, "artifacts.", data, _ARTIFACT_KEYS)
    if "files" not in data:
        raise _error(where, "artifacts.files", "is required")
    return Artifacts(
        files=_commands(where, "artifacts.files", data["files"]),
        name=_text(where, "artifacts.name", data["name"]) if "name" in data else None,
        base_directory=_text(where, "artifacts.base-directory", data["base-directory"])
        if "base-directory" in data
        else None,
        discard_paths=_yes_no(where, "artifacts.discard-paths", data["discard-paths"])
        if "discard-paths" in data
        else False,
    )


def parse_buildspec(text: str, *, source: str = "buildspec.yml") -> Buildspec:
    """Parse and validate a buildspec; UsageError (exit 2) names the first bad key."""
    try:
        import yaml
    except ImportError:
        raise EnvironmentProblem(
            "PyYAML is not installed; it is needed to read buildspec.yml", hint="pip install pyyaml"
        ) from None

    loader = getattr(yaml, "CBaseLoader", yaml.BaseLoader)
    try:
        raw = yaml.load(text, Loader=loader)  # noqa: S506 - the base loader builds plain str/list/dict only  # nosec B506
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise UsageError(f"{source} is not valid YAML{where}: {problem}", hint=_HINT) from None
    if not isinstance(raw, dict):
        raise UsageError(f"{source} must be a YAML mapping with version and phases", hint=_HINT)
    _unknown(source, "", raw, _TOP_KEYS)
    if "version" not in raw:
        raise _error(source, "version", "is required (use 0.2)")
    version = _text(source, "version", raw["version"]).strip()
    if version != "0.2":
        raise _error(
            source, "version", f"must be 0.2, got {version!r} (0.1 runs each command in its own shell)"
        )
    if "phases" not in raw:
        raise _error(source, "phases", "is required")
    phases_raw = _mapping(source, "phases", raw["phases"])
    _unknown(source, "phases.", phases_raw, set(PHASE_NAMES))
    if not phases_raw:
        raise _error(source, "phases", "must define at least one phase")
    phases = tuple(_parse_phase(source, name, phases_raw[name]) for name in PHASE_NAMES if name in phases_raw)
    env = _parse_env(source, raw["env"]) if "env" in raw else {}
    return Buildspec(
        version=version,
        phases=phases,
        reports=_parse_reports(source, raw["reports"]) if "reports" in raw else (),
        artifacts=_parse_artifacts(source, raw["artifacts"]) if "artifacts" in raw else None,
        **env,
    )
