"""The strategy fields of the service definition: checked, rendered for ECS, read back the same."""

from __future__ import annotations

from typing import Any

import pytest

from releasectl.core.service_definition import DefinitionError, parse, resolve
from releasectl.core.service_shape import (
    differences,
    read_back,
    running_strategy_problems,
    service_settings,
    strategy_argument,
    strategy_problems,
    with_running_strategy,
)
from tests.support.service_definitions import EXAMPLE, OUTPUTS

ELB = "arn:aws:elasticloadbalancing:us-east-1:123456789012"
LB_OUTPUTS = {
    "AlternateTargetGroupArn": f"{ELB}:targetgroup/shop-green/1",
    "ProductionListenerRuleArn": f"{ELB}:listener-rule/app/s/1/2/3",
    "TestListenerRuleArn": f"{ELB}:listener-rule/app/s/1/9/4",
    "InfrastructureRoleArn": "arn:aws:iam::123456789012:role/shop-ecs-infrastructure",
    "TestListenerUrl": "http://shop-123.us-east-1.elb.amazonaws.com:9000",
}
LB_FIELDS = """alternate_target_group_arn = "${stack:AlternateTargetGroupArn}"
production_listener_rule_arn = "${stack:ProductionListenerRuleArn}"
test_listener_rule_arn = "${stack:TestListenerRuleArn}"
infrastructure_role_arn = "${stack:InfrastructureRoleArn}"
"""


def text(deployment: str = "", service: str = LB_FIELDS, extra: str = "") -> str:
    body = EXAMPLE.replace("maximum_percent = 200\n", "maximum_percent = 200\n" + deployment)
    body = body.replace(
        'target_group_arn = "${stack:TargetGroupArn}"\n',
        'target_group_arn = "${stack:TargetGroupArn}"\n' + service,
    )
    return body.replace("[containers.app]\n", extra + "[containers.app]\n")


def spec(deployment: str = "", service: str = LB_FIELDS, extra: str = "") -> dict[str, Any]:
    return resolve(
        parse("service.toml", text(deployment, service, extra)),
        env="staging",
        region="us-east-1",
        outputs={**OUTPUTS, **LB_OUTPUTS},
        stack="shop-staging",
    )


def test_a_canary_is_rendered_with_its_percent_and_bake_times() -> None:
    config = service_settings(
        spec('strategy = "CANARY"\nbake_time = 2\ncanary_percent = 10\ncanary_bake_time = 3\n'),
        container_name="app",
    )["deploymentConfiguration"]
    assert config["strategy"] == "CANARY"
    assert config["bakeTimeInMinutes"] == 2
    assert config["canaryConfiguration"] == {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 3}
    assert "linearConfiguration" not in config


def test_blue_green_gets_a_bake_time_even_unset_and_its_load_balancer_setup() -> None:
    settings = service_settings(spec('strategy = "BLUE_GREEN"\n'), container_name="app")
    assert settings["deploymentConfiguration"]["bakeTimeInMinutes"] == 5
    assert settings["loadBalancers"][0]["advancedConfiguration"] == {
        "alternateTargetGroupArn": LB_OUTPUTS["AlternateTargetGroupArn"],
        "productionListenerRule": LB_OUTPUTS["ProductionListenerRuleArn"],
        "testListenerRule": LB_OUTPUTS["TestListenerRuleArn"],
        "roleArn": LB_OUTPUTS["InfrastructureRoleArn"],
    }


def test_linear_defaults_are_ecss() -> None:
    config = service_settings(spec('strategy = "LINEAR"\n'), container_name="app")["deploymentConfiguration"]
    assert config["linearConfiguration"] == {"stepPercent": 10.0, "stepBakeTimeInMinutes": 6}


def test_early_success_is_rendered_for_a_rolling_service() -> None:
    config = service_settings(spec("early_success_percent = 50\n"), container_name="app")[
        "deploymentConfiguration"
    ]
    assert config["earlySuccessCriteria"] == {
        "enable": True,
        "healthyPercent": 50,
        "sourceServiceRevisionCleanup": "DEFERRED",
    }
    assert "strategy" not in config


@pytest.mark.parametrize(
    "deployment",
    [
        'strategy = "CANARY"\ncanary_percent = 12.5\ncanary_bake_time = 1\n',
        'strategy = "LINEAR"\nlinear_step_percent = 20\nlinear_step_bake_time = 2\nbake_time = 0\n',
        'strategy = "BLUE_GREEN"\nbake_time = 15\n',
        'strategy = "ROLLING"\n',
        "early_success_percent = 75\n",
    ],
)
def test_what_is_sent_reads_back_as_what_ecs_describes_so_a_redeploy_changes_nothing(deployment: str) -> None:
    settings = service_settings(spec(deployment), container_name="app")
    described = {**settings, "deploymentController": {"type": "ECS"}}
    assert differences(read_back(None, described), read_back(None, settings)) == []


def test_a_strategy_change_is_a_settings_difference() -> None:
    before = service_settings(spec('strategy = "ROLLING"\n'), container_name="app")
    after = service_settings(spec('strategy = "CANARY"\n'), container_name="app")
    fields = {c.field for c in differences(read_back(None, before), read_back(None, after))}
    assert {"service.deployment.strategy", "service.deployment.canary_percent"} <= fields


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ('strategy = "blue-green"\n', "service.deployment.strategy"),
        ("canary_percent = 0.05\n", "service.deployment.canary_percent"),
        ("canary_percent = 10.25\n", "service.deployment.canary_percent"),
        ("linear_step_percent = 2\n", "service.deployment.linear_step_percent"),
        ("bake_time = 1441\n", "service.deployment.bake_time"),
        ('early_success_cleanup = "LATER"\n', "service.deployment.early_success_cleanup"),
    ],
)
def test_a_bad_strategy_field_is_exit_2_naming_it(line: str, field: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        parse("service.toml", text(line))
    assert "service.toml:" in caught.value.message and field in caught.value.message


def test_a_bad_verify_field_is_exit_2_naming_it() -> None:
    with pytest.raises(DefinitionError) as caught:
        parse(
            "service.toml",
            text(extra='[service.verify]\nurl = "${stack:TestListenerUrl}"\nversion_path = "version"\n'),
        )
    assert "service.verify.version_path" in caught.value.message


def test_blue_green_without_the_load_balancer_fields_names_each_missing_one() -> None:
    missing = strategy_problems(spec('strategy = "BLUE_GREEN"\n', service=""))
    assert [m.split(" ")[0] for m in missing] == [
        "service.alternate_target_group_arn",
        "service.production_listener_rule_arn",
        "service.infrastructure_role_arn",
    ]
    assert strategy_problems(spec('strategy = "ROLLING"\n', service="")) == []
    assert strategy_problems(spec('strategy = "CANARY"\n')) == []


def test_a_running_service_needs_the_advanced_configuration_and_the_ecs_controller() -> None:
    assert running_strategy_problems({"loadBalancers": []}, "CANARY") == [
        "a load balancer (the service has none)"
    ]
    coded = {"deploymentController": {"type": "CODE_DEPLOY"}}
    assert running_strategy_problems(coded, "BLUE_GREEN") == [
        "the ECS deployment controller (the service uses CODE_DEPLOY)"
    ]
    assert running_strategy_problems({}, "ROLLING") == []


def test_switching_a_running_service_keeps_its_other_deployment_settings() -> None:
    service = {
        "deploymentConfiguration": {
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
            "maximumPercent": 200,
            "minimumHealthyPercent": 100,
            "strategy": "ROLLING",
        }
    }
    config = with_running_strategy(service, "CANARY")["deploymentConfiguration"]
    assert config["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert config["strategy"] == "CANARY" and config["bakeTimeInMinutes"] == 5
    assert config["canaryConfiguration"] == {"canaryPercent": 5.0, "canaryBakeTimeInMinutes": 10}
    back = with_running_strategy({"deploymentConfiguration": config}, "ROLLING")["deploymentConfiguration"]
    assert "canaryConfiguration" not in back and "bakeTimeInMinutes" not in back


@pytest.mark.parametrize(
    ("given", "name"),
    [
        ("rolling", "ROLLING"),
        ("blue-green", "BLUE_GREEN"),
        ("Blue_Green", "BLUE_GREEN"),
        ("CANARY", "CANARY"),
        ("linear", "LINEAR"),
    ],
)
def test_strategy_names_on_the_command_line(given: str, name: str) -> None:
    assert strategy_argument(given) == name
