"""From the definition to ECS requests and back, and the differences a deploy would make."""

from __future__ import annotations

import copy
from typing import Any

from releasectl.core.service_definition import parse, resolve
from releasectl.core.service_shape import (
    Change,
    create_service_input,
    differences,
    read_back,
    service_settings,
    to_task_definition,
)
from tests.support.service_definitions import EXAMPLE, OUTPUTS

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop@sha256:" + "a" * 64


def spec(env: str = "staging", text: str = EXAMPLE) -> dict[str, Any]:
    return resolve(
        parse("service.toml", text), env=env, region="us-east-1", outputs=OUTPUTS, stack="shop-staging"
    )


def described(spec_: dict[str, Any], image: str = IMAGE) -> tuple[dict[str, Any], dict[str, Any]]:
    """What ECS would describe after registering and creating: the request plus fields ECS adds."""
    task = to_task_definition(spec_, container_name="app", image=image, region="us-east-1")
    task = {
        **copy.deepcopy(task),
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/shop-staging:3",
    }
    task["revision"] = 3
    for container in task["containerDefinitions"]:
        container["cpu"] = 0
        container["volumesFrom"] = []
        for mapping in container.get("portMappings", ()):
            mapping["hostPort"] = mapping["containerPort"]
    service = {**service_settings(spec_, container_name="app"), "serviceName": "shop", "status": "ACTIVE"}
    return task, service


def test_the_release_image_goes_to_the_named_container_only() -> None:
    text = EXAMPLE + '\n[containers.proxy]\nimage = "public.ecr.aws/nginx/nginx:1.27"\nessential = false\n'
    body = to_task_definition(spec(text=text), container_name="app", image=IMAGE, region="us-east-1")
    images = {c["name"]: c["image"] for c in body["containerDefinitions"]}
    assert images == {"app": IMAGE, "proxy": "public.ecr.aws/nginx/nginx:1.27"}


def test_the_task_definition_carries_every_owned_field() -> None:
    body = to_task_definition(spec(), container_name="app", image=IMAGE, region="us-east-1")
    app = body["containerDefinitions"][0]
    assert (body["family"], body["cpu"], body["memory"]) == ("shop-staging", "256", "512")
    assert body["volumes"] == [{"name": "tmp"}]
    assert app["mountPoints"] == [{"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False}]
    assert app["environment"] == [
        {"name": "GREETING", "value": "hello"},
        {"name": "LOG_LEVEL", "value": "info"},
    ]
    assert app["secrets"][0]["name"] == "API_TOKEN"
    assert app["logConfiguration"]["options"] == {
        "awslogs-group": "/ecs/shop",
        "awslogs-stream-prefix": "app",
        "mode": "non-blocking",
        "awslogs-region": "us-east-1",
    }


def test_the_service_settings_carry_count_network_balancer_and_deployment() -> None:
    settings = create_service_input(
        spec(), cluster="c", service="shop", task_definition="td", container_name="app"
    )
    assert settings["desiredCount"] == 2
    assert settings["networkConfiguration"]["awsvpcConfiguration"]["subnets"] == ["subnet-0a", "subnet-0b"]
    assert settings["loadBalancers"] == [
        {"targetGroupArn": OUTPUTS["TargetGroupArn"], "containerName": "app", "containerPort": 8080}
    ]
    assert settings["deploymentConfiguration"]["deploymentCircuitBreaker"] == {
        "enable": True,
        "rollback": True,
    }


def test_what_ecs_describes_after_a_deploy_reads_back_as_no_difference() -> None:
    wanted = spec()
    task, service = described(wanted)
    rendered = read_back(
        to_task_definition(wanted, container_name="app", image=IMAGE, region="us-east-1"),
        service_settings(wanted, container_name="app"),
    )
    assert differences(read_back(task, service), rendered) == []


def test_a_changed_environment_value_and_count_are_the_only_differences() -> None:
    task, service = described(spec())
    text = EXAMPLE.replace('LOG_LEVEL = "info"', 'LOG_LEVEL = "debug"').replace(
        "desired_count = 2", "desired_count = 4"
    )
    after = spec(text=text)
    rendered = read_back(
        to_task_definition(after, container_name="app", image=IMAGE, region="us-east-1"),
        service_settings(after, container_name="app"),
    )
    assert differences(read_back(task, service), rendered) == [
        Change("containers.app.environment.LOG_LEVEL", "info", "debug"),
        Change("service.desired_count", 2, 4),
    ]


def test_added_and_removed_variables_are_named() -> None:
    task, service = described(spec())
    text = EXAMPLE.replace('GREETING = "hello"\n', 'FEATURE_X = "on"\n')
    after = spec(text=text)
    rendered = read_back(
        to_task_definition(after, container_name="app", image=IMAGE, region="us-east-1"),
        service_settings(after, container_name="app"),
    )
    changes = {(c.field, c.kind) for c in differences(read_back(task, service), rendered)}
    assert changes == {
        ("containers.app.environment.FEATURE_X", "added"),
        ("containers.app.environment.GREETING", "removed"),
    }


def test_a_new_image_is_a_difference_of_the_release_container() -> None:
    task, service = described(spec())
    newer = IMAGE.replace("a" * 64, "b" * 64)
    rendered = read_back(
        to_task_definition(spec(), container_name="app", image=newer, region="us-east-1"), service
    )
    assert differences(read_back(task, service), rendered) == [Change("containers.app.image", IMAGE, newer)]
