"""Configuration: flag > RELEASECTL_* env > [tool.releasectl] > standard AWS env > default.

Pure apart from reading the one file it is pointed at. Unknown keys and bad values
are usage errors (exit 2) that name the key and what it accepts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from releasectl.core.errors import UsageError

ENV_PREFIX = "RELEASECTL_"
DEFAULT_SERVICE_DEFINITION = "service.toml"
# Tags `promote` may move; the release repository excludes exactly these from tag immutability.
DEFAULT_FLOATING_TAGS: tuple[str, ...] = ("latest", "staging", "prod")
# ECR accepts at most 5 exclusion filters per repository.
MAX_FLOATING_TAGS = 5
# The BuildKit daemon image of the docker-container builder, pinned by digest: the one place it is
# named. Refresh tag and digest together: docker buildx imagetools inspect moby/buildkit:<tag>
DEFAULT_BUILDKIT_IMAGE = (
    "moby/buildkit:v0.18.2@sha256:86c0ad9d1137c186e9d455912167df20e530bdf7f7c19de802e892bb8ca16552"
)


def _positive_int(key: str, value: Any) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        number = int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: TOML's inf
        raise UsageError(f"config {key}: {value!r} is not a whole number of seconds") from None
    if number <= 0:
        raise UsageError(f"config {key}: must be greater than 0, got {number}")
    return number


def _bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise UsageError(f"config {key}: {value!r} is not a boolean (use true or false)")


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/\-]{0,254}$")


def _name(key: str, value: Any) -> str:
    text = str(value).strip()
    if not _NAME.match(text):
        raise UsageError(f"config {key}: {value!r} is not a valid AWS resource name")
    return text


def _text(key: str, value: Any) -> str:
    text = str(value).strip()
    if not text:
        raise UsageError(f"config {key}: must not be empty")
    return text


def _choice(*allowed: str) -> Callable[[str, Any], str]:
    def check(key: str, value: Any) -> str:
        text = str(value).strip().lower()
        if text not in allowed:
            raise UsageError(f"config {key}: {value!r} is not one of {', '.join(allowed)}")
        return text

    return check


_PINNED_IMAGE = re.compile(r"^[a-z0-9][a-z0-9._:/-]*[a-z0-9](:[\w][\w.-]{0,127})?@sha256:[0-9a-f]{64}$")


def _pinned_image(key: str, value: Any) -> str:
    """An image reference pinned by digest: what a build pulls must not move under it."""
    text = str(value).strip()
    if not _PINNED_IMAGE.match(text):
        raise UsageError(
            f"config {key}: {value!r} is not an image pinned by digest",
            hint="name it as registry/name:tag@sha256:<64 hex digits> (the tag is optional)",
        )
    return text


def _platform(key: str, value: Any) -> str:
    from releasectl.core.platforms import parse_platform

    return parse_platform(value, what=f"config {key}")


def _builder_name(key: str, value: Any) -> str:
    text = str(value).strip().lower()
    if not re.fullmatch(r"[a-z][a-z0-9_-]{0,39}", text):
        raise UsageError(
            f"config {key}: {value!r} is not an image builder name (docker, or an installed one)"
        )
    return text


def _endpoint(key: str, value: Any) -> str:
    text = str(value).strip()
    if not re.match(r"^https?://[^\s/]+", text):
        raise UsageError(f"config {key}: {value!r} is not an http(s) URL")
    return text.rstrip("/")


# A remote name as `git remote add` takes it; not a URL, so a token can never sit in the config.
_REMOTE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/\-]{0,99}$")


def _git_remote(key: str, value: Any) -> str | None:
    """A git remote name, or None for "do not push" ("none" or empty)."""
    text = str(value).strip()
    if text.lower() in {"", "none"}:
        return None
    if not _REMOTE.match(text) or text.endswith((".", "/", ".lock")) or ".." in text:
        raise UsageError(
            f"config {key}: {value!r} is not a git remote name",
            hint='name a remote of the clone (e.g. "origin"), or "none" to push no tags',
        )
    return text


_GITHUB_REPOSITORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")


def _github_repository(key: str, value: Any) -> str:
    """owner/name, or "none": publish no GitHub release whatever the remote says."""
    text = str(value).strip()
    if text.lower() == "none":
        return "none"
    if not _GITHUB_REPOSITORY.match(text) or text.endswith(".git"):
        raise UsageError(
            f"config {key}: {value!r} is not a GitHub repository",
            hint='name it owner/name, e.g. "example/shop", or "none" to publish no GitHub release',
        )
    return text


_ENV_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_TOKEN_LIKE = re.compile(r"^(gh[pousr]_|github_pat_)")


def _env_var_name(key: str, value: Any) -> str:
    """The name of the environment variable that holds a secret; never the secret itself."""
    text = str(value).strip()
    if _TOKEN_LIKE.match(text):
        # Not echoed: it is a credential written where a name belongs.
        raise UsageError(
            f"config {key} holds what looks like a token, not the name of a variable",
            hint="remove the token from the config, revoke it, and name the variable that holds it",
        )
    if not _ENV_VAR.match(text):
        raise UsageError(f"config {key}: {value!r} is not an environment variable name")
    return text


def _github_api_url(key: str, value: Any) -> str:
    """https, or http to this machine only (a stand-in): the token travels with every request."""
    text = _endpoint(key, value)
    host = re.sub(r"^https?://(?:[^@/]*@)?", "", text).split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
    if not text.startswith("https://") and host not in {"127.0.0.1", "localhost", "::1"}:
        raise UsageError(
            f"config {key}: {value!r} is not https; the token would travel in the clear",
            hint="use https://api.github.com or your GitHub Enterprise https://HOST/api/v3",
        )
    return text


_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")


def _role_arn(key: str, value: Any) -> str:
    text = str(value).strip()
    if not _ROLE_ARN.match(text):
        raise UsageError(
            f"config {key}: {value!r} is not an IAM role ARN",
            hint="name it as arn:aws:iam::<12-digit account>:role/<name>",
        )
    return text


_ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


def _env_name(key: str, value: Any) -> str:
    text = str(value).strip()
    if not _ENV_NAME.match(text):
        raise UsageError(
            f"config {key}: {value!r} is not an environment name (lower-case letters, digits and -, "
            "starting with a letter)"
        )
    return text


def _floating_tags(key: str, value: Any) -> tuple[str, ...]:
    from releasectl.core.imageref import validate_tag
    from releasectl.core.versions import is_commit_tag, looks_like_version

    # The environment spells a list as `latest,prod`; empty items (a trailing comma) are dropped.
    items = [part for part in value.split(",") if part.strip()] if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise UsageError(f'config {key}: {value!r} is not a list of tags (e.g. ["latest", "prod"])')
    tags: list[str] = []
    for item in items:
        tag = str(item).strip() if isinstance(item, str) else item
        validate_tag(tag, what=f"config {key}: tag")
        # Excluding a release-like tag from immutability would let promote rewrite the ledger.
        if looks_like_version(tag) or is_commit_tag(tag):
            raise UsageError(
                f"config {key}: tag {tag!r} looks like a release tag (X.Y.Z or git-<sha>), "
                "and release tags stay immutable",
                hint="floating tags are names such as latest, staging or prod",
            )
        if tag not in tags:
            tags.append(tag)
    if not 1 <= len(tags) <= MAX_FLOATING_TAGS:
        raise UsageError(
            f"config {key}: name between 1 and {MAX_FLOATING_TAGS} tags (ECR's limit of exclusion filters), "
            f"got {len(tags)}"
        )
    return tuple(tags)


def _tag_prefix(key: str, value: Any) -> str:
    from releasectl.core.versions import check_tag_prefix

    return check_tag_prefix(key, value)


def _tag_prefixes(key: str, value: Any) -> tuple[str, ...]:
    from releasectl.core.versions import check_tag_prefixes

    return check_tag_prefixes(key, value)


def _command(key: str, value: Any) -> tuple[str, ...]:
    """A command as its words: a TOML list of strings, or one string split as a shell would
    (RELEASECTL_MIGRATE_COMMAND="python -m service.migrate"). Empty: no command."""
    import shlex

    if isinstance(value, str):
        try:
            words: list[Any] = shlex.split(value)
        except ValueError as exc:
            raise UsageError(f"config {key}: {value!r} cannot be split into words ({exc})") from None
    elif isinstance(value, list | tuple):
        words = list(value)
    else:
        raise UsageError(f'config {key}: {value!r} is not a command (e.g. ["python", "-m", "migrate"])')
    if not all(isinstance(word, str) and word for word in words):
        raise UsageError(f"config {key}: every word of the command must be a non-empty string")
    return tuple(words)


_SNS_TOPIC = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")


def _notify(key: str, value: Any) -> tuple[str, ...]:
    """Where finished commands are announced: names of environment variables that hold webhook
    URLs, and SNS topic ARNs. A URL itself is refused, unechoed: it carries its secret."""
    items = [part for part in value.split(",") if part.strip()] if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise UsageError(f'config {key}: {value!r} is not a list (e.g. ["SLACK_WEBHOOK_URL"])')
    targets: list[str] = []
    for item in items:
        text = str(item).strip()
        if "://" in text or text.lower().startswith(("http:", "https:", "hooks.")):
            raise UsageError(
                f"config {key} holds a webhook URL; its path is a secret and must not be in the config",
                hint=f'put the URL in an environment variable and name it: {key} = ["SLACK_WEBHOOK_URL"]',
            )
        if text.startswith("arn:"):
            if not _SNS_TOPIC.match(text):
                raise UsageError(
                    f"config {key}: {text!r} is not an SNS topic ARN",
                    hint="name it as arn:aws:sns:<region>:<12-digit account>:<topic>",
                )
        else:
            text = _env_var_name(key, text)
        if text not in targets:
            targets.append(text)
    return tuple(targets)


def _pre_labels(key: str, value: Any) -> tuple[str, ...]:
    from releasectl.core.versions import check_pre_labels

    return check_pre_labels(key, value)


# NamedTuples, not dataclasses: see releasectl.commands.context.Context.
class Environment(NamedTuple):
    """One place the service runs: [tool.releasectl.environments.<name>]."""

    name: str
    cluster: str
    service: str
    region: str | None = None
    role_arn: str | None = None  # assumed for this environment's ECS and CloudFormation calls
    stack: str | None = None  # the platform stack whose outputs the service definition reads
    after: str | None = None  # a version must have succeeded there first


_ENV_FIELDS: dict[str, Callable[[str, Any], Any]] = {
    "cluster": _name,
    "service": _name,
    "region": _name,
    "role_arn": _role_arn,
    "stack": _name,
    "after": _env_name,
}


def _environments(where: str, raw: Any) -> dict[str, Environment]:
    """The environments table, in the order written; every `after` names another one, without a cycle."""
    if not isinstance(raw, dict):
        raise UsageError(f"config {where}: environments must be a table of [environments.<name>] tables")
    found: dict[str, Environment] = {}
    for name, body in raw.items():
        _env_name("environments", name)
        key = f"environments.{name}"
        if not isinstance(body, dict):
            raise UsageError(f"config {key} must be a table (cluster, service, …)")
        unknown = sorted(set(body) - set(_ENV_FIELDS))
        if unknown:
            raise UsageError(
                f"unknown config key {key}.{unknown[0]!r} in {where}; valid keys: {', '.join(_ENV_FIELDS)}"
            )
        for required in ("cluster", "service"):
            if required not in body:
                raise UsageError(
                    f"config {key}.{required} is not set", hint=f'add {required} = "…" under [{key}]'
                )
        values = {field_: _ENV_FIELDS[field_](f"{key}.{field_}", value) for field_, value in body.items()}
        found[name] = Environment(name=name, **values)
    for env in found.values():
        if env.after is not None and env.after not in found:
            raise UsageError(
                f"config environments.{env.name}.after: {env.after!r} is not an environment "
                f"(known: {', '.join(found)})"
            )
        seen = {env.name}
        step = env
        while step.after is not None:
            if step.after in seen:
                raise UsageError(
                    f"config environments.{env.name}.after: the `after` chain loops back to {step.after!r}"
                )
            seen.add(step.after)
            step = found[step.after]
    return found


class Config(NamedTuple):
    """[tool.releasectl] with its defaults, merged with the environment and the command line."""

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    ecr_repository: str | None = None
    cache_repository: str | None = None
    codebuild_project: str | None = None
    ecs_cluster: str | None = None
    ecs_service: str | None = None
    container_name: str | None = None
    deploy_timeout: int = 900
    build_timeout: int = 3600
    major_on_zero: bool = False
    # What a push with no breaking, feat or fix commit does: ship a patch, or nothing.
    other_commits: str = "patch"
    tag_prefix: str = "v"
    # Prefixes of older release tags, read alongside tag_prefix ("" for tags like 8.0.1).
    legacy_tag_prefixes: tuple[str, ...] = ()
    # Pre-release labels of git tags read as releases; releasectl itself makes -rc.N only.
    prerelease_labels: tuple[str, ...] = ("rc",)
    # Concurrent pipelines each win one round at worst: eight racing releases needed up to 8.
    claim_attempts: int = 10
    max_attempts: int = 5
    builder: str = "auto"
    # Where the vX.Y.Z mirror tag is pushed (release, bump --push); None: nowhere.
    git_tag_remote: str | None = "origin"
    floating_tags: tuple[str, ...] = DEFAULT_FLOATING_TAGS
    # The image's platform (linux/amd64, linux/arm64); None: the service's task definition decides.
    platform: str | None = None
    buildkit_image: str = DEFAULT_BUILDKIT_IMAGE
    # The Dockerfile's BASE_IMAGE for releases, e.g. the same digest through an ECR pull-through
    # cache; None: the Dockerfile's own pinned default.
    base_image: str | None = None
    # The selected environment's name; None when no environments are configured.
    env: str | None = None
    role_arn: str | None = None
    stack_name: str | None = None
    # The service definition file (docs/service-definition.md); None: deploy changes the image only.
    service_definition: str | None = None
    # GitHub releases (docs/release-notes.md): owner/name, else the repository of git_tag_remote's
    # URL; "none" publishes nothing. The token is read from the variable named here, never a file.
    github_repository: str | None = None
    github_token_env: str = "GITHUB_TOKEN"  # noqa: S105 (a variable name)  # nosec B105
    github_api_url: str = "https://api.github.com"
    # What `release` runs as a one-off task from the new image before the service is updated
    # (docs/operations.md); empty: no migration.
    migrate_command: tuple[str, ...] = ()
    # Where each finished release, deploy, rollback, abort and run is announced: environment
    # variables holding webhook URLs, and SNS topic ARNs (docs/operations.md).
    notify: tuple[str, ...] = ()
    environments: Mapping[str, Environment] = MappingProxyType({})
    # The directory of the config file, which relative paths in it are read against.
    base_dir: str | None = None
    sources: Mapping[str, str] = MappingProxyType({})

    @property
    def environment(self) -> Environment | None:
        return self.environments.get(self.env) if self.env else None

    def service_definition_path(self) -> Path | None:
        """The service definition file in use: the configured one, else service.toml beside the config
        file when it exists, else None (and None without a config file)."""
        base = Path(self.base_dir) if self.base_dir else Path.cwd()
        if self.service_definition:
            return base / self.service_definition
        if self.base_dir is None:
            return None  # no config file, nothing beside it
        default = base / DEFAULT_SERVICE_DEFINITION
        return default if default.is_file() else None

    def require(self, key: str) -> str:
        """The value of a required key, or a usage error (exit 2) saying how to set it."""
        value = getattr(self, key)
        if not value:
            raise UsageError(
                f"config {key} is not set",
                hint=f"set {key} under [tool.releasectl] in pyproject.toml or {ENV_PREFIX}{key.upper()}",
            )
        return str(value)

    @property
    def cache_repository_name(self) -> str | None:
        if self.cache_repository:
            return self.cache_repository
        return f"{self.ecr_repository}-cache" if self.ecr_repository else None


_VALIDATORS: dict[str, Callable[[str, Any], Any]] = {
    "region": _name,
    "profile": _text,
    "endpoint_url": _endpoint,
    "ecr_repository": _name,
    "cache_repository": _name,
    "codebuild_project": _name,
    "ecs_cluster": _name,
    "ecs_service": _name,
    "container_name": _name,
    "deploy_timeout": _positive_int,
    "build_timeout": _positive_int,
    "major_on_zero": _bool,
    "other_commits": _choice("patch", "none"),
    "tag_prefix": _tag_prefix,
    "legacy_tag_prefixes": _tag_prefixes,
    "prerelease_labels": _pre_labels,
    "claim_attempts": _positive_int,
    "max_attempts": _positive_int,
    # Builders other than docker are plugins (releasectl.commands.image_builders), looked up only
    # when a release builds: the name is checked against them there.
    "builder": _builder_name,
    "git_tag_remote": _git_remote,
    "floating_tags": _floating_tags,
    "platform": _platform,
    "buildkit_image": _pinned_image,
    "base_image": _pinned_image,
    "env": _env_name,
    "role_arn": _role_arn,
    "stack_name": _name,
    "service_definition": _text,
    "github_repository": _github_repository,
    "github_token_env": _env_var_name,
    "github_api_url": _github_api_url,
    "migrate_command": _command,
    "notify": _notify,
}

# Set by the loader, not by a key of their own: the table of environments is read apart.
_DERIVED = {"sources", "environments", "base_dir"}
KEYS: tuple[str, ...] = tuple(name for name in Config._fields if name not in _DERIVED)
# What a selected environment sets, and the key each of its fields fills.
_FROM_ENVIRONMENT = {
    "cluster": "ecs_cluster",
    "service": "ecs_service",
    "region": "region",
    "role_arn": "role_arn",
    "stack": "stack_name",
}

# Standard AWS variables, consulted after everything of our own.
_AWS_ENV = {
    "region": ("AWS_REGION", "AWS_DEFAULT_REGION"),
    "profile": ("AWS_PROFILE",),
    "endpoint_url": ("AWS_ENDPOINT_URL",),
}


def find_config_file(start: Path) -> Path | None:
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def read_file_section(path: Path) -> dict[str, Any]:
    import tomllib

    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise UsageError(f"config file {path} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"config file {path} is not valid TOML: {exc}") from None
    section = data.get("tool", {}).get("releasectl", {})
    if not isinstance(section, dict):
        raise UsageError(f"config file {path}: [tool.releasectl] must be a table")
    return section


def _check_keys(keys: list[str], where: str) -> None:
    unknown = sorted(k for k in keys if k not in _VALIDATORS)
    if unknown:
        raise UsageError(f"unknown config key {unknown[0]!r} in {where}; valid keys: {', '.join(KEYS)}")


def load_config(
    *,
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    config_path: Path | None = None,
    cwd: Path | None = None,
) -> Config:
    env = os.environ if env is None else env
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    _check_keys(list(flags), "options")

    if config_path is None and env.get(ENV_PREFIX + "CONFIG"):
        config_path = Path(env[ENV_PREFIX + "CONFIG"])
    if config_path is not None:
        file_values = read_file_section(config_path)
        file_name = str(config_path)
    else:
        found = find_config_file(cwd or Path.cwd())
        file_values = read_file_section(found) if found else {}
        file_name = str(found) if found else ""
    environments = _environments(file_name or "config file", file_values.pop("environments", {}))
    _check_keys(list(file_values), file_name or "config file")

    env_values = {}
    for name, value in env.items():
        if name.startswith(ENV_PREFIX) and name != ENV_PREFIX + "CONFIG":
            key = name[len(ENV_PREFIX) :].lower()
            if key in _VALIDATORS:
                env_values[key] = value
            # Unknown RELEASECTL_* variables are ignored: other tools share the prefix space.

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key in KEYS:
        if key in flags:
            raw, source = flags[key], "option"
        elif key in env_values:
            raw, source = env_values[key], f"env {ENV_PREFIX}{key.upper()}"
        elif key in file_values:
            raw, source = file_values[key], file_name
        else:
            aws_name = next((n for n in _AWS_ENV.get(key, ()) if env.get(n)), None)
            if aws_name is None:
                continue
            raw, source = env[aws_name], f"env {aws_name}"
        values[key] = _VALIDATORS[key](key, raw)
        sources[key] = source
    _select_environment(values, sources, environments)
    base_dir = str(Path(file_name).parent) if file_name else None
    return Config(**values, environments=environments, base_dir=base_dir, sources=sources)


def _select_environment(
    values: dict[str, Any], sources: dict[str, str], environments: Mapping[str, Environment]
) -> None:
    """Choose the environment (--env, RELEASECTL_ENV, `env`, else the first listed) and let its
    fields fill cluster, service, region, role and stack. They win over the top-level keys and
    RELEASECTL_* variables: `--env prod` must never reach a cluster exported for another
    environment. An option that contradicts the environment is refused rather than guessed at."""
    name = values.get("env")
    if not environments:
        if name is not None:
            raise UsageError(
                f"environment {name!r} is not configured: there is no [tool.releasectl.environments] table",
                hint="add [tool.releasectl.environments.<name>] with cluster and service, or drop --env",
            )
        return
    if name is None:
        name = next(iter(environments))
        values["env"], sources["env"] = name, "first environment listed"
    environment = environments.get(name)
    if environment is None:
        raise UsageError(
            f"unknown environment {name!r}; known: {', '.join(environments)}",
            hint="pick one with --env NAME or RELEASECTL_ENV",
        )
    for field_, key in _FROM_ENVIRONMENT.items():
        value = getattr(environment, field_)
        if value is None:
            continue
        if sources.get(key) == "option" and values.get(key) != value:
            raise UsageError(
                f"--{key.replace('_', '-')} {values[key]} contradicts environment {name}'s {field_} {value}",
                hint=f"drop the option, or change environments.{name}.{field_}",
            )
        values[key], sources[key] = value, f"environment {name}"
