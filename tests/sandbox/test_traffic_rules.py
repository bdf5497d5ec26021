"""The pure rules of the sandbox's traffic-shifting deployments and alarms, without a sandbox: the
traffic plan of each strategy, the stages a Stepper walks, what ECS refuses, and when the 5xx
alarm fires."""

from __future__ import annotations

from typing import Any

import pytest

from releasectl_sandbox.alarms import ALARM, OK, AlarmBook, RateAlarm
from releasectl_sandbox.ecs_traffic import Shift, Stepper, validation_error

BALANCER = {"targetGroupArn": "tg-a", "containerName": "app", "containerPort": 8080}
ADVANCED = {
    "alternateTargetGroupArn": "tg-b",
    "productionListenerRule": "rule-prod",
    "testListenerRule": "rule-test",
    "roleArn": "role",
}


def test_a_canary_moves_its_percentage_then_the_rest_after_its_bake_time_in_sandbox_seconds() -> None:
    config = {
        "strategy": "CANARY",
        "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 3},
    }
    shift = Shift.plan_for({**config, "bakeTimeInMinutes": 2}, minute=0.5)
    assert (shift.plan, shift.step_bake, shift.bake) == ((10.0, 100.0), 1.5, 1.0)


def test_without_settings_canary_and_linear_take_the_api_references_defaults() -> None:
    canary, linear = Shift.plan_for({"strategy": "CANARY"}, 1.0), Shift.plan_for({"strategy": "LINEAR"}, 1.0)
    assert (canary.plan, canary.step_bake, canary.bake) == ((5.0, 100.0), 10.0, 0.0)
    assert linear.plan == (10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0)
    assert linear.step_bake == 6.0


@pytest.mark.parametrize(
    ("step", "plan"),
    [
        (34.0, (34.0, 68.0, 100.0)),
        (50.0, (50.0, 100.0)),
        (100.0, (100.0,)),
        (30.0, (30.0, 60.0, 90.0, 100.0)),
    ],
)
def test_a_linear_deployment_moves_equal_steps_and_ends_at_100(step: float, plan: tuple[float, ...]) -> None:
    assert (
        Shift.plan_for({"strategy": "LINEAR", "linearConfiguration": {"stepPercent": step}}, 1.0).plan == plan
    )


def test_blue_green_moves_everything_at_once() -> None:
    assert Shift.plan_for({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 5}, 1.0).plan == (100.0,)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_stepper_walks_the_lifecycle_stages_in_order_and_sets_both_rules() -> None:
    clock, rules = Clock(), {"productionListenerRule": "rule-prod", "testListenerRule": "rule-test"}
    written: list[tuple[str, dict[str, float]]] = []
    stepper = Stepper(lambda rule, weights: written.append((rule, dict(weights))), clock)
    shift = Shift("CANARY", (10.0, 100.0), step_bake=3.0, bake=1.0, blue="tg-a", green="tg-b")
    stages = []
    for _ in range(40):
        stage = stepper.advance(shift, rules, green_ready=clock.now >= 1, sources_gone=clock.now >= 7)
        if not stages or stages[-1] != stage:
            stages.append(stage)
        if stage == "done":
            break
        clock.now += 0.5
    assert stages == [
        "PRE_SCALE_UP",
        "SCALE_UP",
        "POST_SCALE_UP",
        "TEST_TRAFFIC_SHIFT",
        "POST_TEST_TRAFFIC_SHIFT",
        "PRODUCTION_TRAFFIC_SHIFT",
        "POST_PRODUCTION_TRAFFIC_SHIFT",
        "BAKE_TIME",
        "CLEAN_UP",
        "done",
    ]
    assert written == [
        ("rule-prod", {"tg-a": 100.0, "tg-b": 0.0}),
        ("rule-test", {"tg-a": 0.0, "tg-b": 100.0}),
        ("rule-prod", {"tg-a": 90.0, "tg-b": 10.0}),
        ("rule-test", {"tg-a": 0.0, "tg-b": 100.0}),
        ("rule-prod", {"tg-a": 0.0, "tg-b": 100.0}),
        ("rule-test", {"tg-a": 0.0, "tg-b": 100.0}),
    ]


@pytest.mark.parametrize(
    ("config", "balancers", "refusal"),
    [
        ({"strategy": "CANARY"}, [BALANCER], "alternateTargetGroupArn, productionListenerRule, roleArn"),
        (
            {"strategy": "BLUE_GREEN"},
            [{**BALANCER, "advancedConfiguration": {**ADVANCED, "roleArn": ""}}],
            "roleArn",
        ),
        ({"strategy": "SIDEWAYS"}, [], "Invalid deployment strategy"),
        ({"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 120.0}}, [], "canaryPercent"),
        ({"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 2.0}}, [], "stepPercent"),
        (
            {"strategy": "ROLLING", "canaryConfiguration": {"canaryPercent": 5.0}},
            [],
            "only valid with the CANARY",
        ),
        ({"bakeTimeInMinutes": 1441}, [], "bakeTimeInMinutes"),
        (
            {
                "minimumHealthyPercent": 100,
                "earlySuccessCriteria": {
                    "enable": True,
                    "healthyPercent": 50,
                    "sourceServiceRevisionCleanup": "BLOCKING",
                },
            },
            [],
            "between the minimumHealthyPercent and 100",
        ),
        (
            {"earlySuccessCriteria": {"enable": True, "healthyPercent": 100}},
            [],
            "sourceServiceRevisionCleanup",
        ),
    ],
)
def test_what_ecs_refuses_is_refused_with_a_reason(
    config: dict[str, Any], balancers: list[dict[str, Any]], refusal: str
) -> None:
    found = validation_error(config, balancers)
    assert found is not None and refusal in found


def test_a_listener_rule_that_does_not_exist_is_refused_and_a_complete_setup_is_not() -> None:
    balancers = [{**BALANCER, "advancedConfiguration": ADVANCED}]
    assert validation_error(
        {"strategy": "LINEAR"}, balancers, rule_exists=lambda arn: arn != "rule-test"
    ) == ("The testListenerRule rule-test does not exist.")
    assert validation_error({"strategy": "LINEAR"}, balancers) is None
    # Without load balancers ECS runs blue/green too, with no traffic to shift.
    assert validation_error({"strategy": "BLUE_GREEN"}, []) is None


def book(clock: Clock) -> tuple[AlarmBook, list[str]]:
    changes: list[str] = []
    alarms = AlarmBook(on_change=lambda alarm: changes.append(alarm.state), clock=clock)
    alarms.add(
        RateAlarm("5xx", frozenset({"tg-a", "tg-b"}), threshold=5.0, periods=3, datapoints=2, period_s=1.0)
    )
    return alarms, changes


def requests(alarms: AlarmBook, clock: Clock, *, group: str, bad: int, total: int) -> None:
    for index in range(total):
        alarms.record(group, 500 if index < bad else 200)
    clock.now += 1.0
    alarms.evaluate()


def test_the_5xx_alarm_fires_when_2_of_the_last_3_periods_are_above_5_percent_and_clears_after() -> None:
    clock = Clock()
    alarms, changes = book(clock)
    requests(alarms, clock, group="tg-a", bad=0, total=20)
    requests(alarms, clock, group="tg-b", bad=2, total=20)  # 10 % in the alternate target group counts too
    assert alarms.firing(["5xx"]) == []
    requests(alarms, clock, group="tg-a", bad=1, total=10)
    assert alarms.firing(["5xx", "other"]) == ["5xx"] and changes == [ALARM]
    for _ in range(2):
        requests(alarms, clock, group="tg-a", bad=0, total=20)
    assert alarms.state("5xx") == OK and changes == [ALARM, OK]


def test_exactly_5_percent_or_answers_of_another_target_group_do_not_fire_the_alarm() -> None:
    clock = Clock()
    alarms, changes = book(clock)
    for _ in range(3):
        requests(alarms, clock, group="tg-a", bad=1, total=20)  # 5 %: not above the threshold
        requests(alarms, clock, group="tg-other", bad=20, total=20)
    assert alarms.firing(["5xx"]) == [] and changes == []
