"""The contract between the sandbox and the pinned moto: what releasectl_sandbox.moto_internals
relies on. A failure here means moto changed; update moto_internals (and only it) to match,
or keep moto pinned at PINNED_MOTO."""

from __future__ import annotations

import hashlib
import inspect
import json
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import boto3
import pytest

from releasectl_sandbox import moto_internals as internals
from tests.support.moto_fixtures import create_codebuild_project

REGION = "eu-west-3"  # a region no other test uses: hooks here touch nobody else's state
CHANGED = "moto changed what releasectl_sandbox/moto_internals.py relies on"


def parameters(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_moto_is_the_pinned_version() -> None:
    import moto

    assert moto.__version__ == internals.PINNED_MOTO, (
        f"moto {moto.__version__} is installed, the sandbox is written against {internals.PINNED_MOTO}: "
        "pin it in pyproject.toml or update moto_internals and this test together"
    )
    internals.check_moto_version()


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("update_service", ["self", "service_properties"]),
        ("describe_tasks", ["self", "cluster_str", "tasks"]),
        ("stop_task", ["self", "cluster_str", "task_str", "reason"]),
        (
            "list_tasks",
            [
                "self",
                "cluster_str",
                "container_instance",
                "family",
                "started_by",
                "service_name",
                "desiredStatus",
            ],
        ),
        ("describe_services", ["self", "cluster_str", "service_names_or_arns"]),
        ("describe_task_definition", ["self", "task_definition_str"]),
        ("describe_clusters", ["self", "cluster_names"]),
        ("_get_service", ["self", "cluster_str", "service_str"]),
    ],
)
def test_ecs_backend_methods_keep_their_parameters(method: str, expected: list[str]) -> None:
    from moto.ecs.models import EC2ContainerServiceBackend

    assert parameters(getattr(EC2ContainerServiceBackend, method)) == expected, f"{CHANGED}: ECS {method}"


def test_create_service_keeps_its_leading_parameters() -> None:
    from moto.ecs.models import EC2ContainerServiceBackend
    from moto.ecs.responses import EC2ContainerServiceResponse

    found = parameters(EC2ContainerServiceBackend.create_service)
    assert found[:5] == ["self", "cluster_str", "service_name", "desired_count", "task_definition_str"], (
        CHANGED
    )
    assert parameters(EC2ContainerServiceResponse.create_service) == ["self"], CHANGED


def test_logs_backend_writes_keep_their_parameters() -> None:
    """releasectl_sandbox.logship.MotoLogs writes build and task output on the backend itself."""
    from moto.logs.models import LogsBackend

    assert parameters(LogsBackend.create_log_group)[:3] == ["self", "log_group_name", "tags"], CHANGED
    assert parameters(LogsBackend.create_log_stream) == ["self", "log_group_name", "log_stream_name"], CHANGED
    assert parameters(LogsBackend.put_log_events) == [
        "self",
        "log_group_name",
        "log_stream_name",
        "log_events",
    ], CHANGED


def test_codebuild_methods_keep_their_parameters() -> None:
    from moto.codebuild.models import CodeBuildBackend
    from moto.codebuild.responses import CodeBuildResponse

    assert parameters(CodeBuildBackend.batch_get_builds) == ["self", "ids"], CHANGED
    assert parameters(CodeBuildBackend.stop_build) == ["self", "build_id"], CHANGED
    assert parameters(CodeBuildResponse.start_build) == ["self"], CHANGED
    backend = internals.backend("codebuild", REGION)
    assert isinstance(backend.codebuild_projects, dict) and isinstance(backend.build_history, dict), CHANGED


class RecordingEcs:
    """EcsHandlers that answer with fixed data and record what moto passed them."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.created: list[Any] = []
        self.updates: list[dict[str, Any]] = []
        self.configured: list[Any] = []
        self.listed: dict[str, Any] = {}
        self.stops: list[tuple[str, str]] = []
        self.task = {
            "taskArn": f"arn:aws:ecs:{REGION}:{internals.ACCOUNT_ID}:task/contract/0123abcd",
            "lastStatus": "RUNNING",
            "desiredStatus": "RUNNING",
            "startedBy": "ecs-svc/1",
        }

    def on_service_created(self, service: Any) -> None:
        self.created.append(service)

    def on_update_service(
        self, service: Any, *, task_definition: str | None, desired_count: int | None, force: bool
    ) -> None:
        self.updates.append(
            {"task_definition": task_definition, "desired_count": desired_count, "force": force}
        )
        internals.publish_service(
            service,
            deployments=[
                {
                    "id": "ecs-svc/2",
                    "status": "PRIMARY",
                    "taskDefinition": task_definition,
                    "rolloutState": "IN_PROGRESS",
                },
                {"id": "ecs-svc/1", "status": "ACTIVE", "rolloutState": "COMPLETED"},
            ],
            events=[{"id": "e1", "message": "(service contract) has started 1 tasks: (task 0123abcd)."}],
            running=1,
            pending=1,
            desired=2,
            task_definition=None,
            current_service_deployment=DEPLOYMENT,
            current_service_revisions=[{"arn": REVISION, "requestedTaskCount": 2, "runningTaskCount": 1}],
        )

    def list_tasks(self, **kwargs: Any) -> list[str] | None:
        return [self.task["taskArn"]] if kwargs["service_name"] == "contract" else []

    def describe_tasks(self, *, cluster: str, tasks: Sequence[str]) -> list[dict[str, Any]]:
        return [self.task] if any(t.endswith("0123abcd") for t in tasks) else []

    def task_counts(self, *, cluster: str) -> tuple[int, int]:
        return (3, 1) if cluster == "contract" else (0, 0)

    def stop_task(self, *, cluster: str, task: str, reason: str | None) -> dict[str, Any] | None:
        return (
            {**self.task, "desiredStatus": "STOPPED", "stoppedReason": reason}
            if task.endswith("0123abcd")
            else None
        )

    # Service deployments: one ongoing (DEPLOYMENT), one finished (DONE), both of the contract service.

    def on_service_configured(self, service: Any) -> None:
        self.configured.append(service)

    def rule_exists(self, rule_arn: str) -> bool:
        return rule_arn == RULE

    def list_service_deployments(self, **kwargs: Any) -> list[dict[str, Any]]:
        self.listed = kwargs
        return [{"serviceDeploymentArn": arn, "status": "IN_PROGRESS"} for arn in (DEPLOYMENT, DONE)]

    def describe_service_deployments(self, arns: Sequence[str]) -> tuple[list[dict[str, Any]], list[str]]:
        known = {DEPLOYMENT: "IN_PROGRESS", DONE: "SUCCESSFUL"}
        found = [
            {"serviceDeploymentArn": a, "status": known[a], "lifecycleStage": "BAKE_TIME"}
            for a in arns
            if a in known
        ]
        return found, [a for a in arns if a not in known]

    def stop_service_deployment(self, arn: str, stop_type: str) -> None:
        self.stops.append((arn, stop_type))
        if arn == DONE:
            raise internals.ApiError("ConflictException", "already SUCCESSFUL")
        if arn != DEPLOYMENT:
            raise internals.ApiError("ServiceDeploymentNotFoundException", "no such service deployment")

    def describe_service_revisions(self, arns: Sequence[str]) -> tuple[list[dict[str, Any]], list[str]]:
        found = [{"serviceRevisionArn": a, "taskDefinition": "contract:2"} for a in arns if a == REVISION]
        return found, [a for a in arns if a != REVISION]


SD_PREFIX = f"arn:aws:ecs:{REGION}:{internals.ACCOUNT_ID}:service-deployment/contract/contract/"
DEPLOYMENT, DONE = SD_PREFIX + "ongoing", SD_PREFIX + "done"
REVISION = f"arn:aws:ecs:{REGION}:{internals.ACCOUNT_ID}:service-revision/contract/contract/1"
RULE = f"arn:aws:elasticloadbalancing:{REGION}:{internals.ACCOUNT_ID}:listener-rule/app/contract/1/2/3"


class RecordingCodeBuild:
    def __init__(self) -> None:
        self.started: list[tuple[Mapping[str, Any], Mapping[str, Any]]] = []

    def build(self, status: str) -> dict[str, Any]:
        return {"id": "contract-project:1234", "buildStatus": status, "projectName": "contract-project"}

    def start_build(self, project: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
        self.started.append((project, params))
        return self.build("IN_PROGRESS")

    def batch_get_builds(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        return [self.build("FAILED")] if "contract-project:1234" in ids else []

    def stop_build(self, build_id: str) -> dict[str, Any] | None:
        return self.build("STOPPED") if build_id == "contract-project:1234" else None


@pytest.fixture(scope="module")
def hooked_server() -> Iterator[tuple[str, RecordingEcs, RecordingCodeBuild]]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    ecs, codebuild = RecordingEcs(), RecordingCodeBuild()
    patches = internals.Patches()
    internals.hook_ecs(patches, ecs, REGION)
    internals.hook_codebuild(patches, codebuild, REGION)
    internals.hook_cloudformation(patches, REGION)
    try:
        yield f"http://{host}:{port}", ecs, codebuild
    finally:
        patches.restore()
        server.stop()
        internals.close_server_socket(server)


def client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(scope="module")
def contract_service(hooked_server: tuple[str, RecordingEcs, RecordingCodeBuild]) -> dict[str, Any]:
    endpoint, ecs_handlers, _ = hooked_server
    ecs = client(endpoint, "ecs")
    ecs.create_cluster(clusterName="contract")
    for _ in range(2):
        ecs.register_task_definition(
            family="contract", containerDefinitions=[{"name": "app", "image": "x", "memory": 128}]
        )
    ecs.create_service(
        cluster="contract", serviceName="contract", taskDefinition="contract:1", desiredCount=2
    )
    update = ecs.update_service(
        cluster="contract",
        service="contract",
        taskDefinition="contract:2",
        desiredCount=2,
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
    )
    return {
        "update": update["service"],
        "created": list(ecs_handlers.created),
        "updates": list(ecs_handlers.updates),
    }


def test_create_service_reaches_the_simulator_with_moto_service(contract_service: dict[str, Any]) -> None:
    (service,) = contract_service["created"]
    view = internals.service_view(service)
    assert (view.name, view.cluster_name, view.desired_count) == ("contract", "contract", 2), CHANGED
    assert view.deployments and str(view.deployments[0]["id"]).startswith("ecs-svc/"), CHANGED


def test_update_service_hands_over_task_definition_and_desired_count(
    contract_service: dict[str, Any],
) -> None:
    assert contract_service["updates"] == [
        {"task_definition": "contract:2", "desired_count": 2, "force": False}
    ]


def test_update_service_response_carries_what_the_simulator_published(
    contract_service: dict[str, Any],
) -> None:
    service = contract_service["update"]
    assert [d["id"] for d in service["deployments"]] == ["ecs-svc/2", "ecs-svc/1"], CHANGED
    assert (service["runningCount"], service["pendingCount"], service["desiredCount"]) == (1, 1, 2), CHANGED
    assert service["events"][0]["message"].startswith("(service contract)"), CHANGED
    # deploymentConfiguration is kept by update_service (create_service drops it): the breaker reads it.
    assert service["deploymentConfiguration"]["deploymentCircuitBreaker"] == {
        "enable": True,
        "rollback": True,
    }


def test_update_service_response_names_the_service_deployment_the_simulator_published(
    contract_service: dict[str, Any],
) -> None:
    service = contract_service["update"]
    assert service["currentServiceDeployment"] == DEPLOYMENT, CHANGED
    assert service["currentServiceRevisions"] == [
        {"arn": REVISION, "requestedTaskCount": 2, "runningTaskCount": 1}
    ], CHANGED


def test_the_service_deployment_actions_moto_lacks_are_served_by_the_simulator(
    hooked_server: tuple[str, RecordingEcs, RecordingCodeBuild], contract_service: dict[str, Any]
) -> None:
    ecs, handlers = client(hooked_server[0], "ecs"), hooked_server[1]
    listed = ecs.list_service_deployments(
        cluster="contract", service="contract", status=["IN_PROGRESS"], maxResults=1
    )
    assert [d["serviceDeploymentArn"] for d in listed["serviceDeployments"]] == [DEPLOYMENT]
    rest = ecs.list_service_deployments(cluster="contract", service="contract", nextToken=listed["nextToken"])
    assert [d["serviceDeploymentArn"] for d in rest["serviceDeployments"]] == [
        DONE
    ] and "nextToken" not in rest
    assert (
        handlers.__dict__["listed"]["statuses"] is None
        and handlers.__dict__["listed"]["service"] == "contract"
    )
    described = ecs.describe_service_deployments(serviceDeploymentArns=[DEPLOYMENT, SD_PREFIX + "gone"])
    assert [d["lifecycleStage"] for d in described["serviceDeployments"]] == ["BAKE_TIME"]
    assert described["failures"] == [{"arn": SD_PREFIX + "gone", "reason": "MISSING"}]
    stopped = ecs.stop_service_deployment(serviceDeploymentArn=DEPLOYMENT, stopType="ABORT")
    assert stopped["serviceDeploymentArn"] == DEPLOYMENT and handlers.stops[-1] == (DEPLOYMENT, "ABORT")
    revisions = ecs.describe_service_revisions(serviceRevisionArns=[REVISION])
    assert revisions["serviceRevisions"] == [{"serviceRevisionArn": REVISION, "taskDefinition": "contract:2"}]


def test_service_deployment_errors_keep_the_code_the_simulator_gives(
    hooked_server: tuple[str, RecordingEcs, RecordingCodeBuild], contract_service: dict[str, Any]
) -> None:
    ecs = client(hooked_server[0], "ecs")
    with pytest.raises(ecs.exceptions.ConflictException, match="already SUCCESSFUL"):
        ecs.stop_service_deployment(serviceDeploymentArn=DONE, stopType="ROLLBACK")
    with pytest.raises(ecs.exceptions.ServiceDeploymentNotFoundException):
        ecs.stop_service_deployment(serviceDeploymentArn=SD_PREFIX + "gone")
    with pytest.raises(ecs.exceptions.ServiceNotFoundException):
        ecs.list_service_deployments(cluster="contract", service="nothing")
    with pytest.raises(ecs.exceptions.ClusterNotFoundException):
        ecs.list_service_deployments(cluster="nothing", service="contract")


def test_outside_the_simulated_accounts_and_regions_the_service_deployment_actions_stay_unimplemented(
    hooked_server: tuple[str, RecordingEcs, RecordingCodeBuild],
) -> None:
    from botocore.config import Config

    ecs = boto3.client(
        "ecs",
        endpoint_url=hooked_server[0],
        region_name="ap-south-2",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )
    with pytest.raises(ecs.exceptions.ClientError) as raised:
        ecs.describe_service_deployments(serviceDeploymentArns=[DEPLOYMENT])
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500, (
        "moto answers ListServiceDeployments itself now: the sandbox's addition can go"
    )


def test_a_strategy_without_the_load_balancer_settings_it_needs_is_refused_before_moto_changes_anything(
    hooked_server: tuple[str, RecordingEcs, RecordingCodeBuild], contract_service: dict[str, Any]
) -> None:
    ecs, handlers = client(hooked_server[0], "ecs"), hooked_server[1]
    before = len(handlers.updates)
    balancer = {
        "targetGroupArn": "arn:aws:elasticloadbalancing:tg",
        "containerName": "app",
        "containerPort": 80,
    }
    with pytest.raises(ecs.exceptions.InvalidParameterException, match="roleArn"):
        ecs.update_service(
            cluster="contract",
            service="contract",
            loadBalancers=[
                {
                    **balancer,
                    "advancedConfiguration": {"alternateTargetGroupArn": "b", "productionListenerRule": RULE},
                }
            ],
            deploymentConfiguration={"strategy": "BLUE_GREEN"},
        )
    with pytest.raises(ecs.exceptions.InvalidParameterException, match="does not exist"):
        advanced = {"alternateTargetGroupArn": "b", "productionListenerRule": RULE + "9", "roleArn": "r"}
        ecs.update_service(
            cluster="contract",
            service="contract",
            loadBalancers=[{**balancer, "advancedConfiguration": advanced}],
            deploymentConfiguration={"strategy": "CANARY"},
        )
    assert len(handlers.updates) == before
    found = ecs.describe_services(cluster="contract", services=["contract"])["services"][0]
    assert found["deploymentConfiguration"].get("strategy") is None


def test_describe_services_shows_the_published_state(
    hooked_server: tuple[str, RecordingEcs, RecordingCodeBuild], contract_service: dict[str, Any]
) -> None:
    service = client(hooked_server[0], "ecs").describe_services(cluster="contract", services=["contract"])[
        "services"
    ][0]
    assert service["deployments"][0]["rolloutState"] == "IN_PROGRESS", CHANGED
    assert service["taskDefinition"].endswith("contract:1"), (
        "the simulator, not moto, decides the service's revision"
    )


def test_task_calls_are_served_by_the_simulator(
    hooked_server: tuple[str, RecordingEcs, RecordingCodeBuild], contract_service: dict[str, Any]
) -> None:
    ecs = client(hooked_server[0], "ecs")
    arns = ecs.list_tasks(cluster="contract", serviceName="contract")["taskArns"]
    assert arns == [hooked_server[1].task["taskArn"]], CHANGED
    assert ecs.describe_tasks(cluster="contract", tasks=arns)["tasks"][0]["startedBy"] == "ecs-svc/1", CHANGED
    stopped = ecs.stop_task(cluster="contract", task=arns[0], reason="contract test")["task"]
    assert stopped["stoppedReason"] == "contract test", CHANGED


def test_describe_clusters_counts_the_simulators_tasks_and_the_active_services(
    hooked_server: tuple[str, RecordingEcs, RecordingCodeBuild], contract_service: dict[str, Any]
) -> None:
    (cluster,) = client(hooked_server[0], "ecs").describe_clusters(clusters=["contract"])["clusters"]
    counts = (cluster["runningTasksCount"], cluster["pendingTasksCount"], cluster["activeServicesCount"])
    assert counts == (3, 1, 1), CHANGED


KEPT = {
    "deploymentConfiguration": {
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
        "alarms": {"alarmNames": ["contract-5xx"], "enable": True, "rollback": True},
    },
    "healthCheckGracePeriodSeconds": 10,
}


def _create_kept_service(ecs: Any) -> dict[str, Any]:
    ecs.create_cluster(clusterName="kept")
    ecs.register_task_definition(
        family="kept", containerDefinitions=[{"name": "app", "image": "x", "memory": 128}]
    )
    ecs.create_service(cluster="kept", serviceName="kept", taskDefinition="kept:1", desiredCount=1, **KEPT)
    return dict(ecs.describe_services(cluster="kept", services=["kept"])["services"][0])


def test_create_service_keeps_the_deployment_configuration_and_grace_period_asked_for(
    hooked_server: tuple[str, RecordingEcs, RecordingCodeBuild],
) -> None:
    found = _create_kept_service(client(hooked_server[0], "ecs"))
    assert found["deploymentConfiguration"] == KEPT["deploymentConfiguration"]
    assert found["healthCheckGracePeriodSeconds"] == 10
    assert any(internals.service_view(s).name == "kept" for s in hooked_server[1].created)


def test_moto_itself_still_drops_them_on_create_service(
    hooked_server: tuple[str, RecordingEcs, RecordingCodeBuild],
) -> None:
    ecs = boto3.client(
        "ecs",
        endpoint_url=hooked_server[0],
        region_name="ap-south-2",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    found = _create_kept_service(ecs)
    assert not found.get("deploymentConfiguration") and "healthCheckGracePeriodSeconds" not in found, (
        "moto keeps deploymentConfiguration on create_service now: the sandbox's hook can go"
    )


def test_a_second_account_in_the_same_region_gets_a_simulator_of_its_own(
    hooked_server: tuple[str, RecordingEcs, RecordingCodeBuild],
) -> None:
    other, account = RecordingEcs(), "210987654321"
    patches = internals.Patches()
    internals.hook_ecs(patches, other, REGION, account)
    try:
        credentials = client(hooked_server[0], "sts").assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/deploy", RoleSessionName="contract"
        )["Credentials"]
        ecs = boto3.client(
            "ecs",
            endpoint_url=hooked_server[0],
            region_name=REGION,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
        before = len(hooked_server[1].created)
        ecs.create_cluster(clusterName="other")
        ecs.register_task_definition(
            family="other", containerDefinitions=[{"name": "app", "image": "x", "memory": 128}]
        )
        created = ecs.create_service(
            cluster="other", serviceName="other", taskDefinition="other:1", desiredCount=1
        )["service"]
    finally:
        patches.restore()
    assert created["serviceArn"].startswith(f"arn:aws:ecs:{REGION}:{account}:"), CHANGED
    assert [internals.service_view(s).name for s in other.created] == ["other"]
    assert len(hooked_server[1].created) == before  # the first account's simulator never saw it


def test_update_service_to_a_deregistered_revision_is_refused_as_on_aws(
    hooked_server: tuple[str, RecordingEcs, RecordingCodeBuild], contract_service: dict[str, Any]
) -> None:
    ecs = client(hooked_server[0], "ecs")
    ecs.deregister_task_definition(taskDefinition="contract:1")
    with pytest.raises(ecs.exceptions.ClientException, match="inactive"):
        ecs.update_service(cluster="contract", service="contract", taskDefinition="contract:1")


def test_codebuild_calls_are_served_by_the_simulator_with_every_start_parameter(
    hooked_server: tuple[str, RecordingEcs, RecordingCodeBuild],
) -> None:
    endpoint, _, handlers = hooked_server
    codebuild = client(endpoint, "codebuild")
    codebuild.create_project(
        name="contract-project",
        source={"type": "GITHUB", "location": "/src"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={"type": "LINUX_CONTAINER", "image": "x", "computeType": "BUILD_GENERAL1_SMALL"},
        serviceRole=f"arn:aws:iam::{internals.ACCOUNT_ID}:role/contract",
    )
    started = codebuild.start_build(
        projectName="contract-project",
        sourceVersion="abc",
        environmentVariablesOverride=[{"name": "X", "value": "1", "type": "PLAINTEXT"}],
        timeoutInMinutesOverride=7,
    )["build"]
    assert started["buildStatus"] == "IN_PROGRESS", CHANGED
    project, params = handlers.started[0]
    assert project["name"] == "contract-project", CHANGED
    assert params["sourceVersion"] == "abc" and params["timeoutInMinutesOverride"] == 7, CHANGED
    assert params["environmentVariablesOverride"] == [{"name": "X", "value": "1", "type": "PLAINTEXT"}], (
        CHANGED
    )
    assert (
        codebuild.batch_get_builds(ids=["contract-project:1234"])["builds"][0]["buildStatus"] == "FAILED"
    ), CHANGED
    assert codebuild.stop_build(id="contract-project:1234")["build"]["buildStatus"] == "STOPPED", CHANGED
    listed = codebuild.list_builds_for_project(projectName="contract-project")["ids"]
    assert listed == ["contract-project:1234"], CHANGED


CONDITIONAL_TEMPLATE = json.dumps(
    {
        "Parameters": {"Mode": {"Type": "String", "Default": "A"}},
        "Conditions": {
            "IsA": {"Fn::Equals": [{"Ref": "Mode"}, "A"]},
            "IsB": {"Fn::Equals": [{"Ref": "Mode"}, "B"]},
        },
        "Resources": {
            "Always": {"Type": "AWS::Logs::LogGroup"},
            "OnlyA": {"Type": "AWS::Logs::LogGroup", "Condition": "IsA"},
            "OnlyB": {"Type": "AWS::Logs::LogGroup", "Condition": "IsB"},
            "Policy": {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": "b", "PolicyDocument": {}}},
        },
    }
)


def change_set(cfn: Any, stack: str, kind: str, mode: str) -> dict[str, Any]:
    created = cfn.create_change_set(
        StackName=stack,
        ChangeSetName=f"{kind.lower()}-{mode}",
        TemplateBody=CONDITIONAL_TEMPLATE,
        Parameters=[{"ParameterKey": "Mode", "ParameterValue": mode}],
        ChangeSetType=kind,
    )
    return dict(cfn.describe_change_set(ChangeSetName=created["Id"]))


def actions(described: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (c["ResourceChange"]["Action"], c["ResourceChange"]["LogicalResourceId"])
        for c in described["Changes"]
    ]


def test_change_sets_leave_out_resources_whose_condition_is_false_and_name_what_moto_skips(
    hooked_server: tuple[str, RecordingEcs, RecordingCodeBuild],
) -> None:
    described = change_set(client(hooked_server[0], "cloudformation"), "conditions", "CREATE", "A")
    assert actions(described) == [("Add", "Always"), ("Add", "OnlyA"), ("Add", "Policy")], CHANGED
    assert described["StatusReason"].startswith("sandbox: conditions honoured (1 resource(s)"), CHANGED
    assert "creates no AWS::S3::BucketPolicy (1 of the 3" in described["StatusReason"], CHANGED


@pytest.mark.filterwarnings("ignore:Tried to parse AWS..S3..BucketPolicy")
def test_an_update_change_set_adds_and_removes_what_a_flipped_condition_changes(
    hooked_server: tuple[str, RecordingEcs, RecordingCodeBuild],
) -> None:
    cfn = client(hooked_server[0], "cloudformation")
    created = change_set(cfn, "flipped", "CREATE", "A")
    cfn.execute_change_set(ChangeSetName=created["ChangeSetId"])
    described = change_set(cfn, "flipped", "UPDATE", "B")
    assert sorted(actions(described)) == [("Add", "OnlyB"), ("Remove", "OnlyA")], CHANGED


def test_other_regions_keep_plain_moto_behaviour(
    hooked_server: tuple[str, RecordingEcs, RecordingCodeBuild],
) -> None:
    ecs = boto3.client(
        "ecs",
        endpoint_url=hooked_server[0],
        region_name="ap-south-2",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    ecs.create_cluster(clusterName="plain")
    ecs.register_task_definition(
        family="plain", containerDefinitions=[{"name": "app", "image": "x", "memory": 128}]
    )
    ecs.create_service(cluster="plain", serviceName="plain", taskDefinition="plain:1", desiredCount=1)
    assert ecs.list_tasks(cluster="plain")["taskArns"] == []
    assert "plain" not in [internals.service_view(s).name for s in hooked_server[1].created]


def test_restoring_the_patches_puts_moto_back() -> None:
    from moto.ecs.models import EC2ContainerServiceBackend

    before = EC2ContainerServiceBackend.__dict__["update_service"]
    patches = internals.Patches()
    internals.hook_ecs(patches, RecordingEcs(), "sa-east-1")
    assert EC2ContainerServiceBackend.__dict__["update_service"] is not before
    patches.restore()
    assert EC2ContainerServiceBackend.__dict__["update_service"] is before


def test_two_sandboxes_cannot_hook_the_same_region_in_one_process() -> None:
    from releasectl.core.errors import EnvironmentProblem

    first = internals.Patches()
    internals.hook_ecs(first, RecordingEcs(), "sa-east-1")
    try:
        with pytest.raises(EnvironmentProblem, match="already simulates ecs"):
            internals.hook_ecs(internals.Patches(), RecordingEcs(), "sa-east-1")
        second = internals.Patches()
        internals.hook_ecs(second, RecordingEcs(), "sa-east-1", "210987654321")  # another account: allowed
        second.restore()
    finally:
        first.restore()


def test_threaded_server_keeps_its_werkzeug_server_for_closing_the_socket() -> None:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        assert getattr(server, "_server", None) is not None, CHANGED
    finally:
        server.stop()
        internals.close_server_socket(server)


def test_the_server_dispatcher_still_looks_up_moto_modules_through_the_backends_module() -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    source = inspect.getsource(DomainDispatcherApplication.get_backend_for_host)
    assert "backends.list_of_moto_modules()" in source, CHANGED


def test_trimming_the_server_keeps_the_list_of_moto_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto import backends

    monkeypatch.setattr(backends, "list_of_moto_modules", backends.list_of_moto_modules)
    before = list(backends.list_of_moto_modules())
    internals.trim_server_work()
    assert list(backends.list_of_moto_modules()) == before
    assert list(backends.list_of_moto_modules()) == before  # asked twice, as per request


def test_ec2_loads_no_default_images_when_told_not_to(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto import mock_aws

    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    with mock_aws():
        images = boto3.client("ec2", region_name=REGION).describe_images(Owners=["amazon"])["Images"]
    assert images == [], CHANGED


def test_ec2s_region_catalogue_imported_through_one_session_lists_every_partitions_regions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(sys.modules, internals.EC2_REGIONS_MODULE, raising=False)
    internals.import_ec2_regions_with_one_session()
    module = sys.modules[internals.EC2_REGIONS_MODULE]
    assert "Session().get_available_regions" in inspect.getsource(module), CHANGED
    expected = [
        region
        for partition in ("aws", "aws-us-gov", "aws-cn")
        for region in boto3.Session().get_available_regions("ec2", partition_name=partition)
    ]
    assert [region.name for region in module.RegionsAndZonesBackend.regions] == expected
    assert module.Session is boto3.Session


def test_puts_of_one_immutable_tag_on_different_images_at_once_let_exactly_one_win() -> None:
    from moto import mock_aws
    from moto.ecr.exceptions import ImageAlreadyExistsException
    from moto.ecr.models import ecr_backends

    internals.make_ecr_tag_writes_atomic()

    def manifest(n: int) -> str:
        config = {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1}
        config["digest"] = "sha256:" + hashlib.sha256(str(n).encode()).hexdigest()
        media_type = "application/vnd.docker.distribution.manifest.v2+json"
        return json.dumps({"schemaVersion": 2, "mediaType": media_type, "config": config, "layers": []})

    racers, rounds = 4, 100
    contested: list[int] = []
    interval = sys.getswitchinterval()
    # Threads switch as often as the interpreter can, so an unlocked check-then-write in moto
    # interleaves in several rounds of a hundred (5 to 13 of them without make_ecr_tag_writes_atomic).
    sys.setswitchinterval(1e-6)
    try:
        with mock_aws():
            boto3.client("ecr", region_name=REGION).create_repository(
                repositoryName="claims", imageTagMutability="IMMUTABLE"
            )
            backend = ecr_backends["123456789012"][REGION]
            for round_ in range(rounds):
                barrier = threading.Barrier(racers)
                won: list[int] = []

                def put(n: int, round_: int, barrier: threading.Barrier, won: list[int]) -> None:
                    barrier.wait()
                    try:
                        backend.put_image("claims", manifest(round_ * racers + n), f"{round_}.0.0")
                    except ImageAlreadyExistsException:  # the tag is taken: this racer lost
                        return
                    won.append(n)

                threads = [
                    threading.Thread(target=put, args=(n, round_, barrier, won)) for n in range(racers)
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                if len(won) != 1:
                    contested.append(round_)
    finally:
        sys.setswitchinterval(interval)
    assert contested == []


def read_one_build_three_times() -> list[str]:
    """The phase types of one build moto runs itself, as its third BatchGetBuilds lists them."""
    from moto import mock_aws

    with mock_aws():
        # Not REGION: the simulator's hooks there answer for builds in place of moto.
        codebuild = boto3.client("codebuild", region_name="ap-south-1")
        create_codebuild_project(codebuild, "phases")
        build_id = codebuild.start_build(projectName="phases")["build"]["id"]
        for _ in range(2):
            codebuild.batch_get_builds(ids=[build_id])
        return [
            phase["phaseType"] for phase in codebuild.batch_get_builds(ids=[build_id])["builds"][0]["phases"]
        ]


def test_moto_appends_a_builds_phases_again_on_every_batch_get_builds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from moto.codebuild.models import CodeBuildBackend

    own = CodeBuildBackend._set_phases
    monkeypatch.setattr(CodeBuildBackend, "_set_phases", getattr(own, "__wrapped__", own))
    assert read_one_build_three_times().count("COMPLETED") == 3, CHANGED


def test_a_build_moto_runs_lists_each_phase_once_however_often_it_is_read() -> None:
    internals.list_build_phases_once()
    phases = read_one_build_three_times()
    assert phases[:2] == ["SUBMITTED", "QUEUED"] and phases[-1] == "COMPLETED"
    assert len(phases) == len(set(phases)) == 11
