"""What the sandbox's one-off tasks and target health rely on in the pinned moto
(releasectl_sandbox/moto_internals.py: hook_run_task, hook_target_health). A failure here means moto
changed; update moto_internals (and only it) to match.

moto's models are imported by the tests, not at collection: moto.ecs brings EC2's models with it,
0.9 s of CPU that every pytest worker would pay whether or not it runs this file."""

from __future__ import annotations

import inspect
from typing import Any


def parameters(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_run_task_is_answered_by_the_response_class_reading_its_parameters() -> None:
    from moto.ecs.models import EC2ContainerServiceBackend
    from moto.ecs.responses import EC2ContainerServiceResponse

    source = inspect.getsource(EC2ContainerServiceResponse.run_task)
    for name in ("cluster", "taskDefinition", "count", "overrides", "startedBy", "tags"):
        assert f'"{name}"' in source, f"moto's RunTask no longer reads {name}"
    assert parameters(EC2ContainerServiceBackend._get_cluster) == ["self", "name"]


def test_target_health_is_a_list_of_fake_health_statuses() -> None:
    from moto.elbv2.models import ELBv2Backend, FakeHealthStatus

    assert parameters(ELBv2Backend.describe_target_health) == ["self", "target_group_arn", "targets"]
    assert parameters(FakeHealthStatus.__init__) == [
        "self",
        "instance_id",
        "port",
        "health_port",
        "status",
        "reason",
        "description",
    ]
    status = FakeHealthStatus("task", "8080", "8080", "unhealthy", "Target.FailedHealthChecks", "why")
    assert status.target == {"Id": "task", "Port": "8080"}
    assert status.target_health == {
        "State": "unhealthy",
        "Reason": "Target.FailedHealthChecks",
        "Description": "why",
    }
