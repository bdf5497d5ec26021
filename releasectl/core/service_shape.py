"""Between the service definition's vocabulary and ECS's: requests out, descriptions back, differences.

to_task_definition / service_settings turn a resolved definition (releasectl.core.service_definition)
into register_task_definition, create_service and update_service arguments. read_back turns what
ECS describes into the same vocabulary, reading only the fields releasectl owns, with the same
defaults, so `read_back(rendered)` of an unchanged service equals `read_back(described)` and
differences() lists exactly what a deploy would change, field by field. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_HEALTH_KEYS = {
    "command": "command",
    "interval": "interval",
    "timeout": "timeout",
    "retries": "retries",
    "start_period": "startPeriod",
}
_LOG_KEYS = {
    "group": "awslogs-group",
    "stream_prefix": "awslogs-stream-prefix",
    "region": "awslogs-region",
    "mode": "mode",
}


def volume_name(path: str) -> str:
    """The task volume that makes `path` writable under a read-only root: /tmp → tmp."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", path.strip("/")) or "root"


# ----------------------------------------------------------------------------- out: ECS requests


def to_task_definition(
    spec: Mapping[str, Any], *, container_name: str, image: str, region: str
) -> dict[str, Any]:
    """register_task_definition arguments (tags apart): `container_name` runs `image`, the others
    the image the file names."""
    containers = spec["containers"]
    body: dict[str, Any] = {
        "family": spec["family"],
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": str(spec["cpu"]),
        "memory": str(spec["memory"]),
        "containerDefinitions": [
            _container(name, body, image if name == container_name else body.get("image"), region)
            for name, body in containers.items()
        ],
    }
    if spec.get("cpu_architecture"):
        body["runtimePlatform"] = {
            "operatingSystemFamily": "LINUX",
            "cpuArchitecture": spec["cpu_architecture"],
        }
    if spec.get("execution_role_arn"):
        body["executionRoleArn"] = spec["execution_role_arn"]
    if spec.get("task_role_arn"):
        body["taskRoleArn"] = spec["task_role_arn"]
    paths = sorted({p for c in containers.values() for p in c.get("writable_paths") or ()})
    if paths:
        body["volumes"] = [{"name": volume_name(p)} for p in paths]
    return body


def _container(name: str, spec: Mapping[str, Any], image: str | None, region: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "image": image,
        "essential": spec.get("essential", True),
        "readonlyRootFilesystem": spec.get("read_only_root", False),
        "environment": [{"name": k, "value": v} for k, v in sorted((spec.get("environment") or {}).items())],
        "secrets": [{"name": k, "valueFrom": v} for k, v in sorted((spec.get("secrets") or {}).items())],
        "mountPoints": [
            {"sourceVolume": volume_name(p), "containerPath": p, "readOnly": False}
            for p in spec.get("writable_paths") or ()
        ],
    }
    if spec.get("port"):
        out["portMappings"] = [{"containerPort": spec["port"], "protocol": "tcp"}]
    for key, ecs_key in (("user", "user"), ("command", "command"), ("cpu", "cpu"), ("memory", "memory")):
        if spec.get(key) is not None:
            out[ecs_key] = spec[key]
    health = spec.get("health_check")
    if health:
        out["healthCheck"] = {_HEALTH_KEYS[k]: v for k, v in health.items()}
    logs = spec.get("logs")
    if logs:
        options = {_LOG_KEYS[k]: str(v) for k, v in logs.items()}
        options.setdefault("awslogs-region", region)
        out["logConfiguration"] = {"logDriver": "awslogs", "options": options}
    return out


def service_settings(spec: Mapping[str, Any], *, container_name: str) -> dict[str, Any]:
    """The service's own fields releasectl owns, as update_service (and create_service) take them."""
    service = spec.get("service") or {}
    deployment = service.get("deployment") or {}
    breaker = deployment.get("circuit_breaker", True)
    settings: dict[str, Any] = {
        "desiredCount": service.get("desired_count", 1),
        "deploymentConfiguration": {
            "deploymentCircuitBreaker": {"enable": breaker, "rollback": breaker},
            "minimumHealthyPercent": deployment.get("minimum_healthy_percent", 100),
            "maximumPercent": deployment.get("maximum_percent", 200),
        },
    }
    alarms = list(deployment.get("alarms") or ())
    if alarms:
        settings["deploymentConfiguration"]["alarms"] = {
            "alarmNames": alarms,
            "enable": True,
            "rollback": True,
        }
    settings["deploymentConfiguration"].update(_strategy_settings(deployment))
    if service.get("subnets"):
        settings["networkConfiguration"] = {
            "awsvpcConfiguration": {
                "subnets": list(service["subnets"]),
                "securityGroups": list(service.get("security_groups") or ()),
                "assignPublicIp": "ENABLED" if service.get("assign_public_ip") else "DISABLED",
            }
        }
    if service.get("target_group_arn"):
        port = (spec["containers"].get(container_name) or {}).get("port")
        balancer: dict[str, Any] = {
            "targetGroupArn": service["target_group_arn"],
            "containerName": container_name,
            "containerPort": port,
        }
        advanced = {ecs_key: service[key] for key, ecs_key in _ADVANCED_KEYS.items() if service.get(key)}
        if advanced:
            balancer["advancedConfiguration"] = advanced
        settings["loadBalancers"] = [balancer]
    if service.get("health_check_grace_period") is not None:
        settings["healthCheckGracePeriodSeconds"] = service["health_check_grace_period"]
    return settings


# ECS's defaults where the service definition leaves a field out (the DeploymentConfiguration,
# CanaryConfiguration and LinearConfiguration API reference); BLUE_GREEN requires a bake time.
BAKE_TIME_DEFAULT = 5
CANARY_PERCENT_DEFAULT = 5.0
CANARY_BAKE_TIME_DEFAULT = 10
LINEAR_STEP_PERCENT_DEFAULT = 10.0
LINEAR_STEP_BAKE_TIME_DEFAULT = 6
TRAFFIC_SHIFTING = ("BLUE_GREEN", "CANARY", "LINEAR")
_ADVANCED_KEYS = {
    "alternate_target_group_arn": "alternateTargetGroupArn",
    "production_listener_rule_arn": "productionListenerRule",
    "test_listener_rule_arn": "testListenerRule",
    "infrastructure_role_arn": "roleArn",
}


def _strategy_settings(deployment: Mapping[str, Any]) -> dict[str, Any]:
    """deploymentConfiguration's strategy fields: each strategy's own, its defaults filled in,
    so that what is sent and what ECS describes back read the same."""
    strategy = deployment.get("strategy")
    out: dict[str, Any] = {}
    if strategy:
        out["strategy"] = strategy
    if strategy in TRAFFIC_SHIFTING:
        out["bakeTimeInMinutes"] = deployment.get("bake_time", BAKE_TIME_DEFAULT)
    elif deployment.get("bake_time") is not None:
        out["bakeTimeInMinutes"] = deployment["bake_time"]
    if strategy == "CANARY":
        out["canaryConfiguration"] = {
            "canaryPercent": float(deployment.get("canary_percent", CANARY_PERCENT_DEFAULT)),
            "canaryBakeTimeInMinutes": deployment.get("canary_bake_time", CANARY_BAKE_TIME_DEFAULT),
        }
    if strategy == "LINEAR":
        out["linearConfiguration"] = {
            "stepPercent": float(deployment.get("linear_step_percent", LINEAR_STEP_PERCENT_DEFAULT)),
            "stepBakeTimeInMinutes": deployment.get("linear_step_bake_time", LINEAR_STEP_BAKE_TIME_DEFAULT),
        }
    if strategy in (None, "ROLLING") and deployment.get("early_success_percent") is not None:
        out["earlySuccessCriteria"] = {
            "enable": True,
            "healthyPercent": deployment["early_success_percent"],
            "sourceServiceRevisionCleanup": deployment.get("early_success_cleanup", "DEFERRED"),
        }
    return out


def strategy_argument(text: str | None) -> str | None:
    """`deploy --strategy`'s value as ECS names it: rolling, blue-green (or blue_green), canary,
    linear, any case. Exit 2 for anything else."""
    if text is None:
        return None
    from releasectl.core.errors import UsageError

    name = text.strip().upper().replace("-", "_").replace("/", "_")
    name = {"BLUEGREEN": "BLUE_GREEN"}.get(name, name)
    if name not in ("ROLLING", *TRAFFIC_SHIFTING):
        raise UsageError(
            f"--strategy {text!r} is not a deployment strategy",
            hint="use rolling, blue-green, canary or linear",
        )
    return name


def with_strategy(spec: Mapping[str, Any], strategy: str | None) -> dict[str, Any]:
    """The resolved definition with `strategy` in place of its own (deploy --strategy)."""
    import copy

    out = copy.deepcopy(dict(spec))
    if strategy is not None:
        service = out.setdefault("service", {})
        service.setdefault("deployment", {})["strategy"] = strategy
    return out


def with_running_strategy(service: Mapping[str, Any], strategy: str) -> dict[str, Any]:
    """update_service settings that switch a running service to `strategy`, keeping the rest of
    its deployment configuration (a deploy without a service definition)."""
    config = {
        k: v
        for k, v in dict(service.get("deploymentConfiguration") or {}).items()
        if k not in ("strategy", "canaryConfiguration", "linearConfiguration", "earlySuccessCriteria")
    }
    config["strategy"] = strategy
    if strategy in TRAFFIC_SHIFTING:
        config.setdefault("bakeTimeInMinutes", BAKE_TIME_DEFAULT)
    else:
        config.pop("bakeTimeInMinutes", None)
    if strategy == "CANARY":
        config["canaryConfiguration"] = dict(
            (service.get("deploymentConfiguration") or {}).get("canaryConfiguration")
            or {"canaryPercent": CANARY_PERCENT_DEFAULT, "canaryBakeTimeInMinutes": CANARY_BAKE_TIME_DEFAULT}
        )
    if strategy == "LINEAR":
        config["linearConfiguration"] = dict(
            (service.get("deploymentConfiguration") or {}).get("linearConfiguration")
            or {
                "stepPercent": LINEAR_STEP_PERCENT_DEFAULT,
                "stepBakeTimeInMinutes": LINEAR_STEP_BAKE_TIME_DEFAULT,
            }
        )
    return {"deploymentConfiguration": config}


def strategy_problems(spec: Mapping[str, Any]) -> list[str]:
    """What the service's load balancer setup lacks for the strategy its definition asks for:
    BLUE_GREEN, CANARY and LINEAR move traffic between two target groups through a listener
    rule, with a role ECS assumes to change it. Empty when nothing is missing."""
    service = spec.get("service") or {}
    strategy = (service.get("deployment") or {}).get("strategy") or "ROLLING"
    if strategy not in TRAFFIC_SHIFTING:
        return []
    needed = (
        ("target_group_arn", "a target group (the production one)"),
        ("alternate_target_group_arn", "an alternate target group"),
        ("production_listener_rule_arn", "a production listener rule"),
        ("infrastructure_role_arn", "the ECS infrastructure role for load balancers"),
    )
    return [f"service.{key} ({what})" for key, what in needed if not service.get(key)]


def running_strategy_problems(service: Mapping[str, Any], strategy: str) -> list[str]:
    """The same question about a running service (a deploy without a service definition):
    its load balancer must already carry the advanced configuration blue/green needs."""
    if strategy not in TRAFFIC_SHIFTING:
        return []
    controller = (service.get("deploymentController") or {}).get("type") or "ECS"
    if controller != "ECS":
        return [f"the ECS deployment controller (the service uses {controller})"]
    balancers = service.get("loadBalancers") or ()
    if not balancers:
        return ["a load balancer (the service has none)"]
    advanced = balancers[0].get("advancedConfiguration") or {}
    needed = (
        ("alternateTargetGroupArn", "an alternate target group"),
        ("productionListenerRule", "a production listener rule"),
        ("roleArn", "the ECS infrastructure role for load balancers"),
    )
    return [
        f"loadBalancers[0].advancedConfiguration.{key} ({what})"
        for key, what in needed
        if not advanced.get(key)
    ]


def create_service_input(
    spec: Mapping[str, Any], *, cluster: str, service: str, task_definition: str, container_name: str
) -> dict[str, Any]:
    return {
        "cluster": cluster,
        "serviceName": service,
        "taskDefinition": task_definition,
        "launchType": "FARGATE",
        "platformVersion": "LATEST",
        "deploymentController": {"type": "ECS"},
        "enableECSManagedTags": True,
        "propagateTags": "SERVICE",
        **service_settings(spec, container_name=container_name),
    }


# ----------------------------------------------------------------------------- back: what runs


def read_back(task_definition: Mapping[str, Any] | None, service: Mapping[str, Any] | None) -> dict[str, Any]:
    """What ECS describes, in the definition's vocabulary, owned fields only."""
    shape: dict[str, Any] = {}
    if task_definition:
        td = task_definition
        shape["family"] = td.get("family")
        shape["cpu"] = str(td.get("cpu")) if td.get("cpu") is not None else None
        shape["memory"] = int(td["memory"]) if td.get("memory") is not None else None
        arch = (td.get("runtimePlatform") or {}).get("cpuArchitecture")
        if arch:
            shape["cpu_architecture"] = arch
        for key, ecs_key in (("execution_role_arn", "executionRoleArn"), ("task_role_arn", "taskRoleArn")):
            if td.get(ecs_key):
                shape[key] = td[ecs_key]
        shape["containers"] = {
            str(c.get("name")): _read_container(c) for c in td.get("containerDefinitions") or ()
        }
    if service:
        shape["service"] = _read_service(service)
    return shape


def _read_container(c: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "image": c.get("image"),
        "essential": c.get("essential", True),
        "read_only_root": bool(c.get("readonlyRootFilesystem", False)),
        "environment": {str(e["name"]): str(e.get("value", "")) for e in c.get("environment") or ()},
        "secrets": {str(s["name"]): str(s.get("valueFrom", "")) for s in c.get("secrets") or ()},
        "writable_paths": [str(m.get("containerPath")) for m in c.get("mountPoints") or ()],
    }
    ports = c.get("portMappings") or ()
    if ports:
        out["port"] = ports[0].get("containerPort")
    # ECS describes an unset container cpu as 0: unset and 0 read back alike.
    for key in ("user", "cpu", "memory"):
        if c.get(key):
            out[key] = c[key]
    if c.get("command"):
        out["command"] = list(c["command"])
    health = c.get("healthCheck")
    if health:
        reverse = {v: k for k, v in _HEALTH_KEYS.items()}
        out["health_check"] = {reverse[k]: v for k, v in health.items() if k in reverse}
    logs = c.get("logConfiguration") or {}
    if logs.get("logDriver") == "awslogs":
        reverse_logs = {v: k for k, v in _LOG_KEYS.items()}
        options = logs.get("options") or {}
        out["logs"] = {reverse_logs[k]: v for k, v in options.items() if k in reverse_logs}
    return out


def _read_service(s: Mapping[str, Any]) -> dict[str, Any]:
    config = s.get("deploymentConfiguration") or {}
    breaker = config.get("deploymentCircuitBreaker") or {}
    deployment: dict[str, Any] = {
        "circuit_breaker": bool(breaker.get("enable", False)),
        "minimum_healthy_percent": config.get("minimumHealthyPercent", 100),
        "maximum_percent": config.get("maximumPercent", 200),
    }
    alarms = config.get("alarms") or {}
    if alarms.get("enable") and alarms.get("alarmNames"):
        deployment["alarms"] = list(alarms["alarmNames"])
    deployment.update(_read_strategy(config))
    out: dict[str, Any] = {"desired_count": s.get("desiredCount"), "deployment": deployment}
    network = (s.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
    if network.get("subnets"):
        out["subnets"] = list(network["subnets"])
        out["security_groups"] = list(network.get("securityGroups") or ())
        out["assign_public_ip"] = network.get("assignPublicIp") == "ENABLED"
    balancers = s.get("loadBalancers") or ()
    if balancers:
        out["target_group_arn"] = balancers[0].get("targetGroupArn")
        advanced = balancers[0].get("advancedConfiguration") or {}
        for key, ecs_key in _ADVANCED_KEYS.items():
            if advanced.get(ecs_key):
                out[key] = advanced[ecs_key]
    if s.get("healthCheckGracePeriodSeconds") is not None:
        out["health_check_grace_period"] = s["healthCheckGracePeriodSeconds"]
    return out


def _read_strategy(config: Mapping[str, Any]) -> dict[str, Any]:
    """The strategy fields back, compared only where they mean something: ROLLING is the same as
    no strategy, and a rolling deployment's bake time is not compared (ECS may report one the
    file never set)."""
    strategy = config.get("strategy") or "ROLLING"
    out: dict[str, Any] = {}
    if strategy in TRAFFIC_SHIFTING:
        out["strategy"] = strategy
        if config.get("bakeTimeInMinutes") is not None:
            out["bake_time"] = config["bakeTimeInMinutes"]
    canary = config.get("canaryConfiguration") or {}
    if strategy == "CANARY" and canary:
        out["canary_percent"] = float(canary.get("canaryPercent", CANARY_PERCENT_DEFAULT))
        out["canary_bake_time"] = canary.get("canaryBakeTimeInMinutes", CANARY_BAKE_TIME_DEFAULT)
    linear = config.get("linearConfiguration") or {}
    if strategy == "LINEAR" and linear:
        out["linear_step_percent"] = float(linear.get("stepPercent", LINEAR_STEP_PERCENT_DEFAULT))
        out["linear_step_bake_time"] = linear.get("stepBakeTimeInMinutes", LINEAR_STEP_BAKE_TIME_DEFAULT)
    early = config.get("earlySuccessCriteria") or {}
    if strategy == "ROLLING" and early.get("enable"):
        out["early_success_percent"] = early.get("healthyPercent")
        out["early_success_cleanup"] = early.get("sourceServiceRevisionCleanup")
    return out


# ----------------------------------------------------------------------------- differences


@dataclass(frozen=True)
class Change:
    field: str  # dotted, in the definition's vocabulary: containers.app.environment.LOG_LEVEL
    before: Any  # None: not set before
    after: Any  # None: removed

    @property
    def kind(self) -> str:
        if self.before is None:
            return "added"
        if self.after is None:
            return "removed"
        return "changed"


def differences(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    """Every owned field whose value differs, in the order `after` writes them, removals last."""
    old = dict(_flatten(before))
    new = dict(_flatten(after))
    changes = [Change(key, old.get(key), value) for key, value in new.items() if old.get(key) != value]
    changes += [
        Change(key, value, None) for key, value in old.items() if key not in new and value is not None
    ]
    return changes


def _flatten(value: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, item in value.items():
        field = f"{prefix}{key}"
        if isinstance(item, Mapping):
            if not item and key in ("environment", "secrets"):
                continue
            yield from _flatten(item, f"{field}.")
        elif isinstance(item, Sequence) and not isinstance(item, str) and not item:
            continue  # an empty list is the same as none
        else:
            yield field, item
