"""Static checks of infra/releasectl.yaml: the security and reliability properties, one per test.

moto skips or flattens most of these resource types, so the template is checked as data
(plus cfn-lint) rather than deployed.
"""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from releasectl.core.changeset import TEMPLATE_BODY_LIMIT, config_values
from releasectl.core.config import KEYS, Config

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "releasectl.yaml"


class CfnLoader(yaml.SafeLoader):
    """A YAML loader that reads CloudFormation short tags (!Ref, !Sub, !If...) as their long form."""


def _construct(loader: CfnLoader, tag_suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


CfnLoader.add_multi_constructor("!", _construct)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return yaml.load(TEMPLATE.read_text(), Loader=CfnLoader)  # a SafeLoader subclass


def resources(template: dict[str, Any], type_name: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_name}


def props(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    return template["Resources"][logical_id].get("Properties", {})


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policy_statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every statement of every identity policy, with the resource it belongs to."""
    found = []
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        documents = []
        if resource["Type"] == "AWS::IAM::Role":
            documents = [p["PolicyDocument"] for p in properties.get("Policies", [])]
        elif resource["Type"] in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}:
            documents = [properties["PolicyDocument"]]
        for document in documents:
            found.extend((logical_id, s) for s in as_list(document["Statement"]))
    return found


def refers_to(value: Any, logical_id: str) -> bool:
    return value in ({"Ref": logical_id}, {"Fn::GetAtt": [logical_id, "GroupId"]})


# ----------------------------------------------------------------------------- tooling


def test_template_passes_cfn_lint() -> None:
    # cfn-lint is a dev dependency: CI and `make lint` have it; the release build's `.[test]` does not.
    pytest.importorskip("cfnlint")
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    proc = subprocess.run([str(cfn_lint), str(TEMPLATE)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_template_fits_in_an_inline_template_body() -> None:
    assert len(TEMPLATE.read_bytes()) <= TEMPLATE_BODY_LIMIT


# ----------------------------------------------------------------------------- IAM


def test_no_policy_allows_wildcard_actions(template: dict[str, Any]) -> None:
    for logical_id, statement in policy_statements(template):
        for action in as_list(statement["Action"]):
            assert action != "*" and not action.endswith(":*"), f"{logical_id}: {action}"


def test_wildcard_resources_only_for_actions_without_resource_level_permissions(
    template: dict[str, Any],
) -> None:
    needs_star = {
        "ecr:GetAuthorizationToken",
        "ecs:DescribeTaskDefinition",
        "ecs:ListTaskDefinitions",
        "ecs:RegisterTaskDefinition",
    }
    for logical_id, statement in policy_statements(template):
        if "*" not in as_list(statement["Resource"]):
            continue
        if as_list(statement["Action"]) == ["ecs:ListTasks"]:
            # Authorised against container instances; the cluster condition does the scoping.
            assert statement["Condition"] == {
                "ArnEquals": {"ecs:cluster": {"Fn::GetAtt": ["Cluster", "Arn"]}}
            }
            continue
        assert set(as_list(statement["Action"])) <= needs_star, f"{logical_id}: {statement}"


def test_pass_role_is_limited_to_the_task_roles_passed_to_ecs_tasks(template: dict[str, Any]) -> None:
    passing = [(lid, s) for lid, s in policy_statements(template) if "iam:PassRole" in as_list(s["Action"])]
    assert passing, "the build role must be able to pass the task roles"
    for logical_id, statement in passing:
        assert as_list(statement["Action"]) == ["iam:PassRole"], logical_id
        assert sorted(map(json.dumps, as_list(statement["Resource"]))) == sorted(
            json.dumps({"Fn::GetAtt": [role, "Arn"]}) for role in ("TaskExecutionRole", "TaskRole")
        )
        assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}


def test_task_role_grants_nothing(template: dict[str, Any]) -> None:
    assert "Policies" not in props(template, "TaskRole")
    assert "ManagedPolicyArns" not in props(template, "TaskRole")


def test_build_role_can_push_only_to_the_release_and_cache_repositories(template: dict[str, Any]) -> None:
    statements = [s for lid, s in policy_statements(template) if lid == "CodeBuildRole"]
    push = [s for s in statements if "ecr:PutImage" in as_list(s["Action"])]
    assert len(push) == 1
    assert push[0]["Resource"] == [
        {"Fn::GetAtt": ["ReleaseRepository", "Arn"]},
        {"Fn::GetAtt": ["CacheRepository", "Arn"]},
    ]


def test_build_role_can_update_only_its_own_service(template: dict[str, Any]) -> None:
    statements = [s for lid, s in policy_statements(template) if lid == "CodeBuildRole"]
    update = [s for s in statements if "ecs:UpdateService" in as_list(s["Action"])]
    assert [s["Resource"] for s in update] == [{"Ref": "Service"}]


# ----------------------------------------------------------------------------- network


def test_task_security_group_admits_only_the_load_balancer(template: dict[str, Any]) -> None:
    rules = list(props(template, "TaskSecurityGroup").get("SecurityGroupIngress", []))
    rules += [
        r["Properties"]
        for r in resources(template, "AWS::EC2::SecurityGroupIngress").values()
        if refers_to(r["Properties"]["GroupId"], "TaskSecurityGroup")
    ]
    assert rules, "the load balancer must reach the tasks"
    for rule in rules:
        assert refers_to(rule.get("SourceSecurityGroupId"), "LoadBalancerSecurityGroup"), rule
        assert "CidrIp" not in rule and "CidrIpv6" not in rule
        assert (rule["FromPort"], rule["ToPort"]) == (8080, 8080)


def test_tasks_get_no_public_ip_and_run_in_private_subnets(template: dict[str, Any]) -> None:
    network = props(template, "Service")["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["AssignPublicIp"] == "DISABLED"
    assert network["Subnets"] == [{"Ref": "PrivateSubnetA"}, {"Ref": "PrivateSubnetB"}]


def test_load_balancer_is_in_public_subnets_of_two_azs(template: dict[str, Any]) -> None:
    assert props(template, "LoadBalancer")["Subnets"] == [{"Ref": "PublicSubnetA"}, {"Ref": "PublicSubnetB"}]
    zones = [props(template, s)["AvailabilityZone"] for s in ("PublicSubnetA", "PublicSubnetB")]
    assert zones == [{"Fn::Select": [0, {"Fn::GetAZs": ""}]}, {"Fn::Select": [1, {"Fn::GetAZs": ""}]}]


def test_private_subnets_have_no_internet_gateway_route(template: dict[str, Any]) -> None:
    for route in resources(template, "AWS::EC2::Route").values():
        table = route["Properties"]["RouteTableId"]["Ref"]
        if table.startswith("Private"):
            assert "GatewayId" not in route["Properties"]
            assert route.get("Condition") == "UseNat"


# ----------------------------------------------------------------------------- load balancer


def test_target_group_health_checks_healthz_on_the_task_ips(template: dict[str, Any]) -> None:
    target_group = props(template, "TargetGroup")
    assert target_group["TargetType"] == "ip"
    assert target_group["HealthCheckPath"] == "/healthz"
    assert target_group["Port"] == 8080


def test_https_listener_exists_only_when_a_certificate_is_given(template: dict[str, Any]) -> None:
    assert template["Resources"]["HttpsListener"]["Condition"] == "UseHttps"
    assert template["Conditions"]["UseHttps"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "CertificateArn"}, ""]}]
    }
    assert template["Parameters"]["CertificateArn"]["Default"] == ""
    https_listeners = [
        lid
        for lid, r in resources(template, "AWS::ElasticLoadBalancingV2::Listener").items()
        if r["Properties"]["Protocol"] == "HTTPS"
    ]
    assert https_listeners == ["HttpsListener"]


def test_http_redirects_to_https_when_https_is_on(template: dict[str, Any]) -> None:
    (action,) = props(template, "HttpListener")["DefaultActions"]
    when_https, otherwise = action["Fn::If"][1:]
    assert action["Fn::If"][0] == "UseHttps"
    assert when_https["Type"] == "redirect" and when_https["RedirectConfig"]["Protocol"] == "HTTPS"
    assert otherwise == {"Type": "forward", "TargetGroupArn": {"Ref": "TargetGroup"}}


# ----------------------------------------------------------------------------- ECS


def test_deployment_circuit_breaker_rolls_back(template: dict[str, Any]) -> None:
    config = props(template, "Service")["DeploymentConfiguration"]
    assert config["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}


def test_rollout_keeps_full_capacity(template: dict[str, Any]) -> None:
    config = props(template, "Service")["DeploymentConfiguration"]
    assert (config["MinimumHealthyPercent"], config["MaximumPercent"]) == (100, 200)
    assert "HealthCheckGracePeriodSeconds" in props(template, "Service")


def test_service_waits_for_a_listener_on_its_target_group(template: dict[str, Any]) -> None:
    assert template["Resources"]["Service"]["DependsOn"] == "ListenersReady"
    metadata = template["Resources"]["ListenersReady"]["Metadata"]
    assert metadata["HttpListener"] == {"Ref": "HttpListener"}
    assert metadata["HttpsListener"] == {"Fn::If": ["UseHttps", {"Ref": "HttpsListener"}, ""]}


def test_container_runs_read_only_as_a_numeric_non_root_user(template: dict[str, Any]) -> None:
    (container,) = props(template, "TaskDefinition")["ContainerDefinitions"]
    assert container["ReadonlyRootFilesystem"] is True
    assert re.fullmatch(r"[1-9][0-9]*", container["User"])


def test_container_health_check_probes_healthz(template: dict[str, Any]) -> None:
    (container,) = props(template, "TaskDefinition")["ContainerDefinitions"]
    command = container["HealthCheck"]["Command"]
    assert command[:3] == ["CMD", "python", "-c"]
    assert "http://127.0.0.1:8080/healthz" in command[3]


def test_task_architecture_and_size_are_parameters(template: dict[str, Any]) -> None:
    task = props(template, "TaskDefinition")
    assert task["RuntimePlatform"]["CpuArchitecture"] == {"Ref": "CpuArchitecture"}
    assert template["Parameters"]["CpuArchitecture"]["AllowedValues"] == ["X86_64", "ARM64"]
    assert (task["Cpu"], task["Memory"]) == ({"Ref": "TaskCpu"}, {"Ref": "TaskMemory"})


def test_cluster_has_container_insights(template: dict[str, Any]) -> None:
    assert {"Name": "containerInsights", "Value": "enabled"} in props(template, "Cluster")["ClusterSettings"]


def test_bootstrap_runs_no_task_until_the_first_release(template: dict[str, Any]) -> None:
    parameters = template["Parameters"]
    assert parameters["DesiredCount"]["Default"] == 0
    assert parameters["ImageUri"]["Default"].startswith("public.ecr.aws/")


# ----------------------------------------------------------------------------- logs


def test_every_log_group_has_retention(template: dict[str, Any]) -> None:
    groups = resources(template, "AWS::Logs::LogGroup")
    assert len(groups) >= 2
    for logical_id, group in groups.items():
        assert group["Properties"].get("RetentionInDays"), logical_id


def test_logs_go_to_log_groups_of_this_template(template: dict[str, Any]) -> None:
    groups = set(resources(template, "AWS::Logs::LogGroup"))
    (container,) = props(template, "TaskDefinition")["ContainerDefinitions"]
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    assert container["LogConfiguration"]["Options"]["awslogs-group"]["Ref"] in groups
    build_logs = props(template, "BuildProject")["LogsConfig"]["CloudWatchLogs"]
    assert build_logs["Status"] == "ENABLED" and build_logs["GroupName"]["Ref"] in groups


# ----------------------------------------------------------------------------- ECR


def test_release_repository_scans_on_push(template: dict[str, Any]) -> None:
    assert props(template, "ReleaseRepository")["ImageScanningConfiguration"] == {"ScanOnPush": True}


def test_release_tags_are_immutable_except_the_default_floating_tags(template: dict[str, Any]) -> None:
    repository = props(template, "ReleaseRepository")
    assert repository["ImageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    filters = repository["ImageTagMutabilityExclusionFilters"]
    assert {f["ImageTagMutabilityExclusionFilterType"] for f in filters} == {"WILDCARD"}
    # What the repository lets move is exactly what `promote` is configured to move.
    assert [f["ImageTagMutabilityExclusionFilterValue"] for f in filters] == list(Config().floating_tags)


def _lifecycle_rules(template: dict[str, Any], logical_id: str, window: int = 30) -> list[dict[str, Any]]:
    text = props(template, logical_id)["LifecyclePolicy"]["LifecyclePolicyText"]
    if isinstance(text, dict):
        text = text["Fn::Sub"].replace("${RollbackWindow}", str(window))
    return json.loads(text)["rules"]


def test_release_lifecycle_keeps_the_rollback_window_of_versions(template: dict[str, Any]) -> None:
    rules = _lifecycle_rules(template, "ReleaseRepository", window=17)
    versions = [r for r in rules if r["selection"].get("tagPatternList") == ["*.*.*"]]
    assert [r["selection"]["countType"] for r in versions] == ["imageCountMoreThan"]
    assert versions[0]["selection"]["countNumber"] == 17
    assert fnmatch.fnmatch("1.2.3", "*.*.*") and fnmatch.fnmatch("2.0.0-rc.1", "*.*.*")
    assert any(r["selection"]["tagStatus"] == "untagged" for r in rules)
    # `any` matches every image, the running one included: never in the release repository.
    assert all(r["selection"]["tagStatus"] != "any" for r in rules)


def test_release_repository_outlives_the_stack(template: dict[str, Any]) -> None:
    assert template["Resources"]["ReleaseRepository"]["DeletionPolicy"] == "Retain"


def test_cache_repository_is_separate_mutable_and_expiring(template: dict[str, Any]) -> None:
    cache = props(template, "CacheRepository")
    assert cache["ImageTagMutability"] == "MUTABLE"
    assert cache["RepositoryName"] != props(template, "ReleaseRepository")["RepositoryName"]
    assert all(r["action"]["type"] == "expire" for r in _lifecycle_rules(template, "CacheRepository"))


# ----------------------------------------------------------------------------- pipeline


def test_pipeline_is_v2_and_queued(template: dict[str, Any]) -> None:
    pipeline = props(template, "Pipeline")
    assert (pipeline["PipelineType"], pipeline["ExecutionMode"]) == ("V2", "QUEUED")


def test_pipeline_source_is_a_full_clone_through_the_connection(template: dict[str, Any]) -> None:
    (source,) = props(template, "Pipeline")["Stages"][0]["Actions"]
    assert source["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert source["Configuration"]["OutputArtifactFormat"] == "CODEBUILD_CLONE_REF"


def test_pipeline_triggers_on_push_to_main(template: dict[str, Any]) -> None:
    (trigger,) = props(template, "Pipeline")["Triggers"]
    assert trigger["ProviderType"] == "CodeStarSourceConnection"
    (push,) = trigger["GitConfiguration"]["Push"]
    assert push["Branches"]["Includes"] == [{"Ref": "BranchName"}]
    assert template["Parameters"]["BranchName"]["Default"] == "main"


def test_docs_only_pushes_do_not_start_the_pipeline(template: dict[str, Any]) -> None:
    (trigger,) = props(template, "Pipeline")["Triggers"]
    paths = trigger["GitConfiguration"]["Push"][0]["FilePaths"]

    def starts(path: str) -> bool:
        included = any(fnmatch.fnmatch(path, p) for p in paths["Includes"])
        return included and not any(fnmatch.fnmatch(path, p) for p in paths["Excludes"])

    assert not starts("docs/pipeline.md") and not starts("service/README.md") and not starts("README.md")
    assert starts("service/hello_world.py") and starts("Dockerfile") and starts("buildspec.yml")


def test_build_stage_runs_the_release_project_and_nothing_deploys_separately(
    template: dict[str, Any],
) -> None:
    stages = props(template, "Pipeline")["Stages"]
    assert [s["Name"] for s in stages] == ["Source", "Test", "Build"]
    (build,) = stages[2]["Actions"]
    assert build["Configuration"]["ProjectName"] == {"Ref": "BuildProject"}


def test_codebuild_is_privileged_and_reads_buildspec_from_source(template: dict[str, Any]) -> None:
    project = props(template, "BuildProject")
    assert project["Environment"]["PrivilegedMode"] is True
    assert project["Source"] == {"Type": "CODEPIPELINE", "BuildSpec": "buildspec.yml"}


def test_arm_tasks_get_an_arm_build_image(template: dict[str, Any]) -> None:
    environment = props(template, "BuildProject")["Environment"]
    assert template["Conditions"]["ArmBuild"] == {"Fn::Equals": [{"Ref": "CpuArchitecture"}, "ARM64"]}
    assert environment["Type"] == {"Fn::If": ["ArmBuild", "ARM_CONTAINER", "LINUX_CONTAINER"]}
    arm_image, x86_image = environment["Image"]["Fn::If"][1:]
    assert "aarch64" in arm_image and x86_image == "aws/codebuild/standard:7.0"


def test_codebuild_environment_holds_names_not_secrets(template: dict[str, Any]) -> None:
    variables = props(template, "BuildProject")["Environment"]["EnvironmentVariables"]
    for variable in variables:
        assert variable["Type"] == "PLAINTEXT"
        assert not re.search(r"SECRET|PASSWORD|TOKEN|ACCESS_KEY", variable["Name"])
        key = variable["Name"].removeprefix("RELEASECTL_").lower()
        assert key in KEYS, variable["Name"]


def test_artifact_bucket_is_encrypted_and_private(template: dict[str, Any]) -> None:
    bucket = props(template, "ArtifactBucket")
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4


# ----------------------------------------------------------------------------- outputs


def test_outputs_name_every_resource_key_of_the_config(template: dict[str, Any]) -> None:
    values = config_values({key: "x" for key in template["Outputs"]})
    assert set(values) == {
        "ecr_repository",
        "cache_repository",
        "codebuild_project",
        "ecs_cluster",
        "ecs_service",
        "container_name",
        "region",
    }
