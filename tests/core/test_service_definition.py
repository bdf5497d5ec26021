"""The service definition file: checked field by field, merged per environment, placeholders filled."""

from __future__ import annotations

import pytest

from releasectl.core.errors import EnvironmentProblem, ExitCode, UsageError
from releasectl.core.service_definition import locate, parse, resolve, stack_outputs_needed
from tests.support.service_definitions import EXAMPLE, OUTPUTS


def resolved(
    text: str = EXAMPLE, env: str = "staging", outputs: dict[str, str] = OUTPUTS
) -> dict[str, object]:
    return resolve(
        parse("service.toml", text), env=env, region="us-east-1", outputs=outputs, stack="shop-staging"
    )


def refusal(text: str) -> str:
    with pytest.raises(UsageError) as caught:
        resolved(text)
    assert caught.value.exit_code == ExitCode.USAGE
    return caught.value.message


def test_placeholders_are_filled_from_the_stack_outputs_the_environment_and_the_region() -> None:
    spec = resolved()
    assert spec["family"] == "shop-staging"
    assert spec["execution_role_arn"] == OUTPUTS["TaskExecutionRoleArn"]
    assert spec["containers"]["app"]["logs"]["group"] == "/ecs/shop"  # type: ignore[index]


def test_a_comma_separated_output_fills_a_list() -> None:
    assert resolved()["service"]["subnets"] == ["subnet-0a", "subnet-0b"]  # type: ignore[index]


def test_an_environment_table_overrides_only_what_it_names() -> None:
    prod = resolved(env="prod")
    assert prod["service"]["desired_count"] == 3  # type: ignore[index]
    assert prod["service"]["health_check_grace_period"] == 30  # type: ignore[index]
    assert resolved(env="staging")["service"]["desired_count"] == 2  # type: ignore[index]


def test_the_outputs_needed_are_listed_once_in_the_order_written() -> None:
    needed = stack_outputs_needed(parse("service.toml", EXAMPLE), "staging")
    assert needed == [
        "TaskExecutionRoleArn",
        "TaskRoleArn",
        "PrivateSubnets",
        "TaskSecurityGroup",
        "TargetGroupArn",
        "AppLogGroup",
    ]


def test_a_missing_stack_output_is_an_environment_problem_naming_it() -> None:
    outputs = {k: v for k, v in OUTPUTS.items() if k != "AppLogGroup"}
    with pytest.raises(EnvironmentProblem) as caught:
        resolved(outputs=outputs)
    assert "stack shop-staging has no output 'AppLogGroup'" in caught.value.message
    assert "containers.app.logs.group" in caught.value.message


def test_a_field_of_the_wrong_type_is_refused_with_its_line() -> None:
    text = EXAMPLE.replace("desired_count = 2", 'desired_count = "two"')
    line = EXAMPLE.splitlines().index("desired_count = 2") + 1
    assert refusal(text) == f"service.toml:{line}: service.desired_count: 'two' is not a whole number"


def test_an_unknown_field_is_refused_with_its_line() -> None:
    text = EXAMPLE.replace("port = 8080", "port = 8080\nprot = 8081")
    line = EXAMPLE.splitlines().index("port = 8080") + 2
    assert refusal(text).startswith(f"service.toml:{line}: containers.app.prot: unknown field")


def test_a_secret_given_as_a_value_is_refused_without_echoing_it() -> None:
    text = EXAMPLE.replace('"arn:aws:ssm:us-east-1:123456789012:parameter/shop/api-token"', '"hunter2"')
    message = refusal(text)
    assert (
        "containers.app.secrets: API_TOKEN must be a Secrets Manager secret or SSM parameter ARN" in message
    )
    assert "hunter2" not in message


def test_an_unknown_placeholder_is_refused() -> None:
    assert "unknown placeholder ${stack}" in refusal(EXAMPLE.replace("${stack:TaskRoleArn}", "${stack}"))


def test_invalid_toml_is_refused_with_the_parser_position() -> None:
    assert refusal(EXAMPLE + "\n[service\n").startswith("service.toml: not valid TOML:")


def test_a_definition_without_containers_is_refused() -> None:
    text = EXAMPLE.split("[containers.app]")[0] + "[environments.prod.service]\ndesired_count = 3\n"
    assert refusal(text) == "service.toml: containers: is required"


def test_a_filled_value_of_the_wrong_type_is_refused_too() -> None:
    text = EXAMPLE.replace("memory = 512", 'memory = "${stack:Memory}"')
    with pytest.raises(UsageError) as caught:
        resolved(text, outputs={**OUTPUTS, "Memory": "lots"})
    assert "memory: 'lots' is not a whole number" in caught.value.message


def test_locate_finds_dotted_keys_and_table_headers() -> None:
    text = '[a]\nx = 1\n[a.b]\ny = 2\n"c.d" = 3\n'
    assert (locate(text, "a.x"), locate(text, "a.b.y"), locate(text, "a.b"), locate(text, "zz")) == (
        2,
        4,
        3,
        None,
    )
