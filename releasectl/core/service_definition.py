"""The service definition file: what releasectl owns on the service, as code (docs/service-definition.md).

Read once, checked field by field (a bad field is exit 2 naming it and its line), merged with the
selected environment's overrides, and its placeholders filled: `${stack:Name}` from the platform
stack's outputs, `${env}`, `${region}`. The result is a plain mapping in the file's own vocabulary,
which releasectl.core.service_shape turns into ECS requests and compares with what runs.
Pure: the caller reads the file and the stack outputs.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from releasectl.core.errors import EnvironmentProblem, UsageError

_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_STACK_OUTPUT = re.compile(r"^stack:([A-Za-z0-9]{1,255})$")
_SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:(secretsmanager|ssm):[a-z0-9-]+:\d{12}:(secret:|parameter/)\S+$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class DefinitionError(UsageError):
    """A field of the service definition is wrong (exit 2): the message names the file, line and field."""


# ----------------------------------------------------------------------------- the schema

Check = Callable[[Any], Any]


def _int(low: int, high: int) -> Check:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and value.isdigit():
                value = int(value)
            else:
                raise ValueError(f"{value!r} is not a whole number")
        if not low <= value <= high:
            raise ValueError(f"{value} is outside {low}..{high}")
        return int(value)

    return check


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{value!r} is not true or false")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool) or str(value).strip() == "":
        raise ValueError(f"{value!r} is not a non-empty string")
    return str(value)


def _choice(*allowed: str) -> Check:
    def check(value: Any) -> str:
        if value not in allowed:
            raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
        return str(value)

    return check


def _str_list(value: Any) -> list[str] | str:
    # A single string is allowed where it is one placeholder that a comma-separated output fills.
    if isinstance(value, str):
        if _PLACEHOLDER.fullmatch(value.strip()):
            return value
        raise ValueError(f"{value!r} is not a list of strings")
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{value!r} is not a list of strings")
    return list(value)


def _environment(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValueError('must be a table of NAME = "value"')
    for name, item in value.items():
        if not _ENV_NAME.match(name):
            raise ValueError(f"{name!r} is not an environment variable name")
        if not isinstance(item, str | int | float) or isinstance(item, bool):
            raise ValueError(f"{name}: {item!r} is not a string or number (quote it)")
    return {name: str(item) for name, item in value.items()}


def _secrets(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValueError('must be a table of NAME = "<Secrets Manager or SSM parameter ARN>"')
    for name, item in value.items():
        if not _ENV_NAME.match(name):
            raise ValueError(f"{name!r} is not an environment variable name")
        if not isinstance(item, str) or not (_SECRET_ARN.match(item) or _PLACEHOLDER.search(item)):
            # Never echo the value: it may be the secret itself, pasted by mistake.
            raise ValueError(
                f"{name} must be a Secrets Manager secret or SSM parameter ARN; "
                "secret values never belong in the repository"
            )
    return dict(value)


_HEALTH_CHECK: dict[str, Check] = {
    "command": _str_list,
    "interval": _int(5, 300),
    "timeout": _int(2, 120),
    "retries": _int(1, 10),
    "start_period": _int(0, 300),
}
_LOGS: dict[str, Check] = {
    "group": _str,
    "stream_prefix": _str,
    "region": _str,
    "mode": _choice("blocking", "non-blocking"),
}
_CONTAINER: dict[str, Any] = {
    "image": _str,
    "port": _int(1, 65535),
    "essential": _bool,
    "user": _str,
    "read_only_root": _bool,
    "writable_paths": _str_list,
    "command": _str_list,
    "cpu": _int(0, 16384),
    "memory": _int(6, 122880),
    "environment": _environment,
    "secrets": _secrets,
    "health_check": _HEALTH_CHECK,
    "logs": _LOGS,
}


def _percent(low: float, high: float) -> Check:
    # ECS takes these in steps of 0.1 (CanaryConfiguration, LinearConfiguration).
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            try:
                value = float(str(value))
            except ValueError:
                raise ValueError(f"{value!r} is not a number") from None
        number = float(value)
        if not low <= number <= high:
            raise ValueError(f"{value} is outside {low:g}..{high:g}")
        if abs(number * 10 - round(number * 10)) > 1e-9:
            raise ValueError(f"{value} is not a multiple of 0.1")
        return round(number, 1)

    return check


def _path_or_off(value: Any) -> str | bool:
    # A URL path such as "/version", or false for no such check.
    if value is False:
        return False
    if not isinstance(value, str) or not value.startswith("/"):
        raise ValueError(f"{value!r} is not a path starting with / (or false)")
    return value


_DEPLOYMENT: dict[str, Check] = {
    "circuit_breaker": _bool,
    "minimum_healthy_percent": _int(0, 100),
    "maximum_percent": _int(100, 200),
    "alarms": _str_list,
    "strategy": _choice("ROLLING", "BLUE_GREEN", "CANARY", "LINEAR"),
    "bake_time": _int(0, 1440),
    "canary_percent": _percent(0.1, 100.0),
    "canary_bake_time": _int(0, 1440),
    "linear_step_percent": _percent(3.0, 100.0),
    "linear_step_bake_time": _int(0, 1440),
    "early_success_percent": _int(0, 100),
    "early_success_cleanup": _choice("BLOCKING", "DEFERRED"),
}
_VERIFY: dict[str, Check] = {
    "url": _str,
    "version_path": _path_or_off,
    "health_path": _path_or_off,
    "expect_version": _bool,
    "expect_commit": _bool,
    "attempts": _int(1, 20),
    "timeout": _int(1, 60),
}
_SERVICE: dict[str, Any] = {
    "desired_count": _int(0, 5000),
    "health_check_grace_period": _int(0, 2147483647),
    "subnets": _str_list,
    "security_groups": _str_list,
    "assign_public_ip": _bool,
    "target_group_arn": _str,
    # Blue/green, canary and linear: what ECS needs to move traffic between two revisions.
    "alternate_target_group_arn": _str,
    "production_listener_rule_arn": _str,
    "test_listener_rule_arn": _str,
    "infrastructure_role_arn": _str,
    "deployment": _DEPLOYMENT,
    "verify": _VERIFY,
}
_TASK: dict[str, Any] = {
    "family": _str,
    "cpu": lambda value: _choice("256", "512", "1024", "2048", "4096", "8192", "16384")(str(value)),
    "memory": _int(512, 122880),
    "cpu_architecture": _choice("X86_64", "ARM64"),
    "execution_role_arn": _str,
    "task_role_arn": _str,
    "service": _SERVICE,
    "containers": None,  # a table of container tables, checked against _CONTAINER
}


# ----------------------------------------------------------------------------- the file


@dataclass(frozen=True)
class ServiceDefinition:
    """The file as written: its text (for line numbers) and its tables."""

    path: str
    text: str
    data: Mapping[str, Any]

    def error(self, field: str, problem: str) -> DefinitionError:
        line = locate(self.text, field)
        where = f"{self.path}:{line}" if line else self.path
        return DefinitionError(
            f"{where}: {field}: {problem}",
            hint="docs/service-definition.md lists every field",
        )

    def environments(self) -> list[str]:
        return list((self.data.get("environments") or {}).keys())


def parse(path: str, text: str) -> ServiceDefinition:
    """The file, checked: known fields of the right type, one container at least. Exit 2 otherwise."""
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DefinitionError(f"{path}: not valid TOML: {exc}") from None
    definition = ServiceDefinition(path=path, text=text, data=data)
    overrides = data.get("environments", {})
    base = {k: v for k, v in data.items() if k != "environments"}
    _check(definition, base, "", whole=True)
    if not isinstance(overrides, dict):
        raise definition.error("environments", "must be a table of [environments.<name>] tables")
    for name, body in overrides.items():
        if not isinstance(body, dict):
            raise definition.error(f"environments.{name}", "must be a table")
        _check(definition, body, f"environments.{name}.", whole=False)
    return definition


def _check(definition: ServiceDefinition, data: Mapping[str, Any], prefix: str, *, whole: bool) -> None:
    for key, value in data.items():
        field = f"{prefix}{key}"
        if key not in _TASK:
            raise definition.error(field, f"unknown field; known: {', '.join(_TASK)}, environments")
        if key == "containers":
            if not isinstance(value, dict):
                raise definition.error(field, "must be a table of [containers.<name>] tables")
            for name, body in value.items():
                if not isinstance(body, dict):
                    raise definition.error(f"{field}.{name}", "must be a table")
                _check_table(definition, body, _CONTAINER, f"{field}.{name}")
        elif isinstance(_TASK[key], dict):
            if not isinstance(value, dict):
                raise definition.error(field, "must be a table")
            _check_table(definition, value, _TASK[key], field)
        else:
            _check_value(definition, _TASK[key], value, field)
    if whole:
        for required in ("family", "cpu", "memory", "containers"):
            if required not in data:
                raise definition.error(required, "is required")
        if not data["containers"]:
            raise definition.error("containers", "name one container at least")


def _check_table(
    definition: ServiceDefinition, data: Mapping[str, Any], schema: Mapping[str, Any], prefix: str
) -> None:
    for key, value in data.items():
        field = f"{prefix}.{key}"
        if key not in schema:
            raise definition.error(field, f"unknown field; known: {', '.join(schema)}")
        check = schema[key]
        if isinstance(check, dict):
            if not isinstance(value, dict):
                raise definition.error(field, "must be a table")
            _check_table(definition, value, check, field)
        else:
            _check_value(definition, check, value, field)


def _check_value(definition: ServiceDefinition, check: Check, value: Any, field: str) -> None:
    if isinstance(value, str) and _PLACEHOLDER.search(value):
        _check_placeholders(definition, value, field)
        if _PLACEHOLDER.fullmatch(value):
            return  # its type is known once it is filled
    try:
        check(value)
    except ValueError as exc:
        raise definition.error(field, str(exc)) from None


def _check_placeholders(definition: ServiceDefinition, value: str, field: str) -> None:
    for name in _PLACEHOLDER.findall(value):
        if name not in ("env", "region") and not _STACK_OUTPUT.match(name):
            raise definition.error(
                field, f"unknown placeholder ${{{name}}}; use ${{stack:OutputName}}, ${{env}} or ${{region}}"
            )


def locate(text: str, field: str) -> int | None:
    """The line of a dotted field in TOML text: the line that sets it, else its table's header."""
    wanted = field.split(".")
    table: list[str] = []
    header_line: int | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if line.startswith("[") and line.endswith("]"):
            table = _dotted(line.strip("[]"))
            if table == wanted and header_line is None:
                header_line = number
            continue
        if "=" not in line:
            continue
        key = _dotted(line.split("=", 1)[0])
        path = table + key
        if path == wanted or (path[: len(wanted)] == wanted and header_line is None):
            return number
    return header_line


def _dotted(text: str) -> list[str]:
    return [part.strip().strip('"').strip("'") for part in text.split(".") if part.strip()]


# ----------------------------------------------------------------------------- one environment


def stack_outputs_needed(definition: ServiceDefinition, env: str | None) -> list[str]:
    """The stack outputs this environment's definition reads, in the order written."""
    names: list[str] = []
    for _, value in _strings(merged(definition, env)):
        for name in _PLACEHOLDER.findall(value):
            match = _STACK_OUTPUT.match(name)
            if match and match.group(1) not in names:
                names.append(match.group(1))
    return names


def merged(definition: ServiceDefinition, env: str | None) -> dict[str, Any]:
    """The base tables with the environment's overrides laid over them (tables merge, values replace)."""
    base = {k: copy.deepcopy(v) for k, v in definition.data.items() if k != "environments"}
    override = (definition.data.get("environments") or {}).get(env or "", {})
    return _deep_merge(base, override)


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = _deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def resolve(
    definition: ServiceDefinition,
    *,
    env: str | None,
    region: str,
    outputs: Mapping[str, str],
    stack: str | None,
) -> dict[str, Any]:
    """The environment's definition with every placeholder filled, checked again now that the values
    are known (a stack output that is no number where a number belongs is caught here)."""
    data = merged(definition, env)

    def fill(value: str, field: str) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name == "env":
                if env is None:
                    raise definition.error(
                        field, "${env} needs an environment ([tool.releasectl.environments])"
                    )
                return env
            if name == "region":
                return region
            output = name.removeprefix("stack:")
            if stack is None:
                raise definition.error(
                    field,
                    f"reads stack output {output}, but the environment names no platform stack (stack = …)",
                )
            if output not in outputs:
                raise EnvironmentProblem(
                    f"{definition.path}: {field}: stack {stack} has no output {output!r} "
                    f"(its outputs: {', '.join(sorted(outputs)) or 'none'})",
                    hint="deploy the platform stack (`releasectl infra deploy`) or fix the output name",
                )
            return outputs[output]

        return _PLACEHOLDER.sub(one, value)

    filled: dict[str, Any] = _map_strings(data, fill, "")
    # A list given as one placeholder is a comma-separated output (subnets, say).
    for table, key in (("service", "subnets"), ("service", "security_groups")):
        section = filled.get(table) or {}
        if isinstance(section.get(key), str):
            section[key] = [part.strip() for part in section[key].split(",") if part.strip()]
    deployment = (filled.get("service") or {}).get("deployment") or {}
    if isinstance(deployment.get("alarms"), str):
        deployment["alarms"] = [part.strip() for part in deployment["alarms"].split(",") if part.strip()]
    # The values a placeholder filled are checked as if they had been written in the file.
    recheck = ServiceDefinition(path=definition.path, text=definition.text, data=filled)
    _check(recheck, filled, "", whole=True)
    return filled


def _strings(value: Any, field: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{field}.{key}" if field else key)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, field)
    elif isinstance(value, str):
        yield field, value


def _map_strings(value: Any, fill: Callable[[str, str], str], field: str) -> Any:
    if isinstance(value, dict):
        return {k: _map_strings(v, fill, f"{field}.{k}" if field else k) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_strings(v, fill, field) for v in value]
    if isinstance(value, str):
        return fill(value, field)
    return value
