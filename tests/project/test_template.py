"""Static checks of infra/releasectl.yaml: who owns what, the environments, the promotion pipeline, and
the security and reliability properties, one per test (the hardening review's in
test_template_hardening.py).

moto skips or flattens most of these resource types, so the template is checked as data
(plus cfn-lint and checkov in `make lint`) rather than deployed.
"""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from releasectl.core.changeset import TEMPLATE_URL_LIMIT, config_values
from releasectl.core.config import KEYS, Config

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "releasectl.yaml"


class CfnLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
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
    """Every statement of every identity policy, with the resource (role or policy) it belongs to."""
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


def role_statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return [s for lid, s in policy_statements(template) if lid == role]


def role_actions(template: dict[str, Any], role: str) -> set[str]:
    return {a for s in role_statements(template, role) for a in as_list(s["Action"])}


def refers_to(value: Any, logical_id: str) -> bool:
    return value in ({"Ref": logical_id}, {"Fn::GetAtt": [logical_id, "GroupId"]})


def matches(action: str, pattern: str) -> bool:
    """Whether an IAM action pattern (with * wildcards) allows `action`."""
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def implies(template: dict[str, Any], condition: str | None, wanted: str) -> bool:
    """Whether the named condition can hold only when `wanted` does (it is `wanted`, or an And of it)."""
    if condition is None:
        return False
    if condition == wanted:
        return True
    body = template["Conditions"][condition]
    parts = body.get("Fn::And", []) if isinstance(body, dict) else []
    return any(isinstance(p, dict) and implies(template, p.get("Condition"), wanted) for p in parts)


def cluster_arn(kind: str) -> dict[str, str]:
    """`arn:...:<kind>/<this stack's cluster>/*` as the template writes it."""
    return {
        "Fn::Sub": f"arn:${{AWS::Partition}}:ecs:${{AWS::Region}}:${{AWS::AccountId}}:{kind}/${{Cluster}}/*"
    }


FAMILY_REVISIONS = {
    "Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}"
    ":task-definition/${AppName}-${EnvironmentName}:*"
}
RELEASE_REPOSITORY_ARN = {
    "Fn::Sub": [
        "arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/${Name}",
        {"Name": {"Fn::If": ["KeptRepository", {"Ref": "ExistingReleaseRepository"}, {"Ref": "AppName"}]}},
    ]
}
# What the staging (tools) stack holds beyond the platform every environment has.
TOOLS = {
    "ReleaseRepository",
    "CacheRepository",
    "DockerHubPullThroughCache",
    "BuildLogGroup",
    "CodeBuildRole",
    "BuildProject",
    "TestLogGroup",
    "TestBuildRole",
    "TestProject",
    "DeployLogGroup",
    "DeployProjectRole",
    "DeployProject",
    "GitHubConnection",
    "ArtifactBucket",
    "ArtifactBucketPolicy",
    "PipelineRole",
    "Pipeline",
    "PipelineFailedRule",
}


# ----------------------------------------------------------------------------- tooling
# cfn-lint and checkov over infra/*.yaml are `make lint` steps.


def test_template_fits_what_cloudformation_reads_from_s3() -> None:
    # Over 51,200 bytes `releasectl infra` stages it in S3 (tests/adapters/test_infra_changeset.py).
    assert len(TEMPLATE.read_bytes()) <= TEMPLATE_URL_LIMIT


# ----------------------------------------------------------------------------- one owner


def test_no_resource_is_an_ecs_service_or_task_definition(template: dict[str, Any]) -> None:
    kinds = {r["Type"] for r in template["Resources"].values()}
    assert not kinds & {"AWS::ECS::Service", "AWS::ECS::TaskDefinition", "AWS::ECS::TaskSet"}


def test_no_parameter_says_what_the_service_runs(template: dict[str, Any]) -> None:
    gone = {"ImageUri", "DesiredCount", "TaskCpu", "TaskMemory", "HealthCheckGracePeriodSeconds"}
    assert not gone & set(template["Parameters"])
    assert "CpuArchitecture" in template["Parameters"]  # the build still needs it


def test_only_the_release_and_deploy_roles_may_update_a_service(template: dict[str, Any]) -> None:
    updating = {
        lid
        for lid, s in policy_statements(template)
        if any(matches("ecs:UpdateService", a) for a in as_list(s["Action"]))
    }
    assert updating == {"CodeBuildRole", "DeployRole"}
    for role in updating:
        (statement,) = [
            s for s in role_statements(template, role) if "ecs:UpdateService" in as_list(s["Action"])
        ]
        # Services of this stack's cluster only: staging's for the release role, prod's for DeployRole.
        assert statement["Resource"] == cluster_arn("service")
        assert "ecs:CreateService" in as_list(statement["Action"])


def test_outputs_give_what_the_service_definition_reads(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    read = {
        "TaskExecutionRoleArn",
        "TaskRoleArn",
        "PrivateSubnets",
        "TaskSecurityGroup",
        "TargetGroupArn",
        "AppLogGroup",
        "Target5xxAlarm",
        "UnhealthyHostsAlarm",
        "EcsCluster",
        "ContainerName",
        "ServiceUrl",
        "Region",
        "AlternateTargetGroupArn",
        "ProductionListenerRuleArn",
        "TestListenerRuleArn",
        "InfrastructureRoleArn",
        "TestListenerUrl",
    }
    assert read <= set(outputs)
    assert not any("Condition" in outputs[name] for name in read)  # every environment's stack has them
    assert outputs["PrivateSubnets"]["Value"] == {
        "Fn::Join": [",", [{"Ref": "PrivateSubnetA"}, {"Ref": "PrivateSubnetB"}]]
    }
    assert outputs["EcsService"]["Value"] == {"Ref": "AppName"}  # the name releasectl gives it
    assert outputs["TaskSecurityGroup"]["Value"] == {"Fn::GetAtt": ["TaskSecurityGroup", "GroupId"]}


def test_the_release_role_may_pass_the_task_roles_and_read_its_stack(template: dict[str, Any]) -> None:
    actions = role_actions(template, "CodeBuildRole")
    needed = {
        "ecs:CreateService",
        "ecs:UpdateService",
        "ecs:DescribeServices",
        "ecs:RegisterTaskDefinition",
        "ecs:DescribeTaskDefinition",
        "ecs:ListTaskDefinitions",
        "ecs:TagResource",
        "ecs:ListServiceDeployments",
        "ecs:DescribeServiceDeployments",
        "ecs:StopServiceDeployment",
        "ecs:DescribeServiceRevisions",
        "iam:PassRole",
        "cloudformation:DescribeStacks",
    }
    assert needed <= actions, needed - actions


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
        "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:DescribeRules",
        "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeTargetHealth",
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
    assert {lid for lid, _ in passing} == {"CodeBuildRole", "DeployRole"}
    for logical_id, statement in passing:
        assert as_list(statement["Action"]) == ["iam:PassRole"], logical_id
        resources_passed = sorted(map(json.dumps, as_list(statement["Resource"])))
        if resources_passed == [json.dumps({"Fn::GetAtt": ["InfrastructureRole", "Arn"]})]:
            # The role ECS moves a blue/green service's traffic with: to ECS itself only.
            assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs.amazonaws.com"}}
            continue
        assert resources_passed == sorted(
            json.dumps({"Fn::GetAtt": [role, "Arn"]}) for role in ("TaskExecutionRole", "TaskRole")
        )
        assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
    for role in ("CodeBuildRole", "DeployRole"):
        passed = [
            s for lid, s in passing if lid == role and "InfrastructureRole" in json.dumps(s["Resource"])
        ]
        assert len(passed) == 1, role


def test_task_role_grants_nothing(template: dict[str, Any]) -> None:
    assert "Policies" not in props(template, "TaskRole")
    assert "ManagedPolicyArns" not in props(template, "TaskRole")


def test_build_role_can_push_only_to_the_release_and_cache_repositories(template: dict[str, Any]) -> None:
    push = [s for s in role_statements(template, "CodeBuildRole") if "ecr:PutImage" in as_list(s["Action"])]
    assert len(push) == 1
    assert push[0]["Resource"] == [RELEASE_REPOSITORY_ARN, {"Fn::GetAtt": ["CacheRepository", "Arn"]}]


# ----------------------------------------------------------------------------- environments


def test_the_environment_name_picks_staging_with_the_tools_or_prod(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["EnvironmentName"]
    assert (parameter["Default"], parameter["AllowedValues"]) == ("staging", ["staging", "prod"])
    assert template["Conditions"]["IsTools"] == {"Fn::Equals": [{"Ref": "EnvironmentName"}, "staging"]}
    assert props(template, "Cluster")["ClusterName"] == {"Fn::Sub": "${AppName}-${EnvironmentName}"}


def test_only_the_staging_stack_holds_the_repositories_builds_and_pipeline(template: dict[str, Any]) -> None:
    tools = {
        lid for lid, r in template["Resources"].items() if implies(template, r.get("Condition"), "IsTools")
    }
    assert tools == TOOLS


def test_the_prod_stack_adds_only_the_deploy_role(template: dict[str, Any]) -> None:
    prod_only = {lid for lid, r in template["Resources"].items() if r.get("Condition") == "IsProd"}
    assert prod_only == {"DeployRole"}
    assert template["Outputs"]["DeployRoleArn"] == {
        "Condition": "IsProd",
        "Description": template["Outputs"]["DeployRoleArn"]["Description"],
        "Value": {"Fn::GetAtt": ["DeployRole", "Arn"]},
    }


def test_only_the_tools_accounts_prod_deploy_build_may_assume_the_deploy_role(
    template: dict[str, Any],
) -> None:
    tools_account = {"Fn::If": ["ToolsElsewhere", {"Ref": "ToolsAccountId"}, {"Ref": "AWS::AccountId"}]}
    (trust,) = props(template, "DeployRole")["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Principal"] == {
        "AWS": {"Fn::Sub": ["arn:${AWS::Partition}:iam::${Tools}:root", {"Tools": tools_account}]}
    }
    builder = "arn:${AWS::Partition}:iam::${Tools}:role/${AppName}-prod-deploy-build"
    assert trust["Condition"] == {
        "ArnEquals": {"aws:PrincipalArn": {"Fn::Sub": [builder, {"Tools": tools_account}]}}
    }
    assert props(template, "DeployProjectRole")["RoleName"] == {"Fn::Sub": "${AppName}-prod-deploy-build"}
    assert template["Parameters"]["ToolsAccountId"]["Default"] == ""  # this account


def test_the_deploy_role_deploys_to_its_own_cluster_and_nothing_else(template: dict[str, Any]) -> None:
    allowed = {
        "ecs:CreateService",
        "ecs:UpdateService",
        "ecs:DescribeServices",
        "ecs:ListServiceDeployments",
        "ecs:DescribeServiceDeployments",
        "ecs:StopServiceDeployment",
        "ecs:DescribeServiceRevisions",
        "ecs:RegisterTaskDefinition",
        "ecs:DescribeTaskDefinition",
        "ecs:ListTaskDefinitions",
        "ecs:TagResource",
        "ecs:ListTagsForResource",
        "ecs:DescribeClusters",
        "ecs:DescribeTasks",
        "ecs:ListTasks",
        "iam:PassRole",
        "cloudformation:DescribeStacks",
    }
    assert role_actions(template, "DeployRole") == allowed
    own = [
        cluster_arn("service"),
        cluster_arn("service-deployment"),
        cluster_arn("service-revision"),
        cluster_arn("task"),
        {"Fn::GetAtt": ["Cluster", "Arn"]},
        FAMILY_REVISIONS,
        {"Ref": "AWS::StackId"},
        {"Fn::GetAtt": ["TaskExecutionRole", "Arn"]},
        {"Fn::GetAtt": ["TaskRole", "Arn"]},
        {"Fn::GetAtt": ["InfrastructureRole", "Arn"]},
        "*",  # only the actions test_wildcard_resources_only_for_actions_without_... allows
    ]
    for statement in role_statements(template, "DeployRole"):
        for resource in as_list(statement["Resource"]):
            assert resource in own, statement["Sid"]


def test_the_release_repository_lets_the_prod_account_pull_and_nothing_more(template: dict[str, Any]) -> None:
    condition, policy, otherwise = props(template, "ReleaseRepository")["RepositoryPolicyText"]["Fn::If"]
    assert (condition, otherwise) == ("ProdPulls", {"Ref": "AWS::NoValue"})
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${ProdAccountId}:root"}}
    assert sorted(statement["Action"]) == [
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
    ]
    assert template["Parameters"]["ProdAccountId"]["Default"] == ""


def test_tasks_pull_their_image_from_the_tools_accounts_release_repository(template: dict[str, Any]) -> None:
    statements = role_statements(template, "TaskExecutionRole")
    (pull,) = [s for s in statements if "ecr:BatchGetImage" in as_list(s["Action"])]
    arn, names = pull["Resource"]["Fn::Sub"]
    assert arn == "arn:${AWS::Partition}:ecr:${AWS::Region}:${Tools}:repository/${Name}"
    assert names["Tools"] == {
        "Fn::If": ["ToolsElsewhere", {"Ref": "ToolsAccountId"}, {"Ref": "AWS::AccountId"}]
    }


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
    assert template["Resources"]["LoadBalancerHttpsIngress"]["Condition"] == "UseHttps"
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


# ----------------------------------------------------------------------------- ECS


def test_cluster_has_container_insights(template: dict[str, Any]) -> None:
    assert {"Name": "containerInsights", "Value": "enabled"} in props(template, "Cluster")["ClusterSettings"]


def test_the_task_architecture_is_the_builds(template: dict[str, Any]) -> None:
    assert template["Parameters"]["CpuArchitecture"]["AllowedValues"] == ["X86_64", "ARM64"]
    assert template["Conditions"]["ArmBuild"] == {"Fn::Equals": [{"Ref": "CpuArchitecture"}, "ARM64"]}


# ----------------------------------------------------------------------------- logs


def test_every_log_group_has_retention(template: dict[str, Any]) -> None:
    groups = resources(template, "AWS::Logs::LogGroup")
    assert len(groups) >= 4
    for logical_id, group in groups.items():
        assert group["Properties"].get("RetentionInDays"), logical_id


def test_logs_go_to_log_groups_of_this_template(template: dict[str, Any]) -> None:
    groups = set(resources(template, "AWS::Logs::LogGroup"))
    # The service definition sends the container's logs to the AppLogGroup output.
    assert template["Outputs"]["AppLogGroup"]["Value"]["Ref"] in groups
    (write,) = [
        s for s in role_statements(template, "TaskExecutionRole") if "logs:PutLogEvents" in s["Action"]
    ]
    assert write["Resource"] == {"Fn::GetAtt": ["AppLogGroup", "Arn"]}
    for project in resources(template, "AWS::CodeBuild::Project"):
        build_logs = props(template, project)["LogsConfig"]["CloudWatchLogs"]
        assert build_logs["Status"] == "ENABLED" and build_logs["GroupName"]["Ref"] in groups, project


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


def stages(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Name"]: s for s in props(template, "Pipeline")["Stages"]}


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
    assert starts("buildspec-deploy.yml") and starts("service.toml")


def test_the_pipeline_promotes_from_staging_to_prod_after_an_approval(template: dict[str, Any]) -> None:
    assert list(stages(template)) == ["Source", "Test", "ReleaseStaging", "Approval", "DeployProd"]
    (release,) = stages(template)["ReleaseStaging"]["Actions"]
    assert release["Configuration"]["ProjectName"] == {"Ref": "BuildProject"}
    assert release["Namespace"] == "ReleaseVariables"
    (approval,) = stages(template)["Approval"]["Actions"]
    assert approval["ActionTypeId"] == {
        "Category": "Approval",
        "Owner": "AWS",
        "Provider": "Manual",
        "Version": "1",
    }
    assert approval["Configuration"]["NotificationArn"] == {"Ref": "NotificationTopic"}
    assert "#{ReleaseVariables.RELEASE_VERSION}" in approval["Configuration"]["CustomData"]


def test_deploy_prod_deploys_the_version_staging_released(template: dict[str, Any]) -> None:
    (deploy,) = stages(template)["DeployProd"]["Actions"]
    assert deploy["ActionTypeId"]["Provider"] == "CodeBuild"
    assert deploy["Configuration"]["ProjectName"] == {"Ref": "DeployProject"}
    variables = json.loads(deploy["Configuration"]["EnvironmentVariables"])
    assert variables == [
        {"name": "RELEASE_VERSION", "value": "#{ReleaseVariables.RELEASE_VERSION}", "type": "PLAINTEXT"}
    ]
    project = props(template, "DeployProject")
    assert project["Source"] == {"Type": "CODEPIPELINE", "BuildSpec": "buildspec-deploy.yml"}
    assert project["ServiceRole"] == {"Fn::GetAtt": ["DeployProjectRole", "Arn"]}
    assert project["Environment"]["PrivilegedMode"] is False


def test_the_prod_deploy_build_can_read_the_ledger_and_assume_prods_role_only(
    template: dict[str, Any],
) -> None:
    actions = role_actions(template, "DeployProjectRole")
    for forbidden in ("ecr:PutImage", "ecr:BatchDeleteImage", "ecr:InitiateLayerUpload", "ecs:UpdateService"):
        assert not any(matches(forbidden, a) for a in actions), forbidden
    writes = {a for a in actions if not a.split(":")[1].startswith(("Describe", "List", "Get", "BatchGet"))}
    # Its own build log, the source through the connection, and prod's DeployRole: nothing else.
    assert writes == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "codeconnections:UseConnection",
        "codestar-connections:UseConnection",
        "sts:AssumeRole",
    }
    (assume,) = [s for s in role_statements(template, "DeployProjectRole") if s["Action"] == "sts:AssumeRole"]
    assert assume["Resource"] == {
        "Fn::If": [
            "ConventionalProdDeployRole",
            {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${AppName}-prod-deploy"},
            {"Ref": "ProdDeployRoleArn"},
        ]
    }
    (logs,) = [
        s for s in role_statements(template, "DeployProjectRole") if "logs:PutLogEvents" in s["Action"]
    ]
    assert logs["Resource"] == {"Fn::GetAtt": ["DeployLogGroup", "Arn"]}
    (ledger,) = [
        s for s in role_statements(template, "DeployProjectRole") if "ecr:DescribeImages" in s["Action"]
    ]
    assert ledger["Resource"] == RELEASE_REPOSITORY_ARN


def test_the_deploy_buildspec_installs_the_release_lock_and_deploys_to_prod() -> None:
    from releasectl.localbuild.buildspec import parse_buildspec

    spec = parse_buildspec(
        (ROOT / "buildspec-deploy.yml").read_text(encoding="utf-8"), source="buildspec-deploy.yml"
    )
    install, build = spec.phase("install"), spec.phase("build")
    assert install is not None and build is not None
    lines = [line.strip() for c in install.commands for line in c.splitlines()]
    pip = [line for line in lines if "pip install" in line]
    assert any("--require-hashes" in line and line.endswith("-r requirements/release.lock") for line in pip)
    assert all("--no-deps" in line for line in pip)
    commands = "\n".join(build.commands)
    assert 'releasectl deploy "$RELEASE_VERSION" --env prod' in commands
    assert "releasectl release" not in commands and "docker" not in commands


def test_failed_runs_and_deployments_reach_the_notification_topic(template: dict[str, Any]) -> None:
    pipeline = props(template, "PipelineFailedRule")
    assert pipeline["EventPattern"]["detail"] == {"pipeline": [{"Ref": "Pipeline"}], "state": ["FAILED"]}
    deployments = props(template, "DeploymentFailedRule")
    assert deployments["EventPattern"]["detail-type"] == ["ECS Deployment State Change"]
    assert deployments["EventPattern"]["detail"] == {"eventName": ["SERVICE_DEPLOYMENT_FAILED"]}
    assert deployments["EventPattern"]["resources"] == [
        {
            "prefix": {
                "Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:service/${Cluster}/"
            }
        }
    ]
    for rule in (pipeline, deployments):
        assert [t["Arn"] for t in rule["Targets"]] == [{"Ref": "NotificationTopic"}]


def test_codebuild_is_privileged_and_reads_buildspec_from_source(template: dict[str, Any]) -> None:
    project = props(template, "BuildProject")
    assert project["Environment"]["PrivilegedMode"] is True
    assert project["Source"] == {"Type": "CODEPIPELINE", "BuildSpec": "buildspec.yml"}


def test_arm_tasks_get_an_arm_build_image(template: dict[str, Any]) -> None:
    environment = props(template, "BuildProject")["Environment"]
    assert environment["Type"] == {"Fn::If": ["ArmBuild", "ARM_CONTAINER", "LINUX_CONTAINER"]}
    arm_image, x86_image = environment["Image"]["Fn::If"][1:]
    assert "aarch64" in arm_image and x86_image == "aws/codebuild/standard:7.0"


def test_codebuild_environment_holds_names_not_secrets(template: dict[str, Any]) -> None:
    for project in resources(template, "AWS::CodeBuild::Project"):
        for variable in props(template, project)["Environment"].get("EnvironmentVariables", []):
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


# ----------------------------------------------------------------------------- blue/green, canary, linear


def test_blue_green_has_a_second_target_group_set_up_as_the_first(template: dict[str, Any]) -> None:
    first, second = props(template, "TargetGroup"), props(template, "AlternateTargetGroup")
    assert {k: v for k, v in second.items()} == first


def forward_weights(rule: dict[str, Any]) -> dict[str, int]:
    (action,) = rule["Actions"]
    assert action["Type"] == "forward"  # ECS cannot shift a rule that mixes in other actions
    return {g["TargetGroupArn"]["Ref"]: g["Weight"] for g in action["ForwardConfig"]["TargetGroups"]}


def test_the_production_and_test_rules_forward_everything_to_the_first_group_at_first(
    template: dict[str, Any],
) -> None:
    production, test = props(template, "ProductionListenerRule"), props(template, "TestListenerRule")
    for rule in (production, test):
        assert forward_weights(rule) == {"TargetGroup": 100, "AlternateTargetGroup": 0}
        assert rule["Conditions"] == [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/*"]}}]
    assert production["ListenerArn"] == {
        "Fn::If": ["UseHttps", {"Ref": "HttpsListener"}, {"Ref": "HttpListener"}]
    }
    assert test["ListenerArn"] == {"Ref": "TestListener"}
    assert props(template, "TestListener")["Port"] == {"Ref": "TestListenerPort"}
    ingress = props(template, "LoadBalancerTestIngress")
    assert (ingress["FromPort"], ingress["CidrIp"]) == (
        {"Ref": "TestListenerPort"},
        {"Ref": "TestIngressCidr"},
    )


def test_the_infrastructure_role_is_for_ecs_and_touches_only_this_stacks_load_balancing(
    template: dict[str, Any],
) -> None:
    role = props(template, "InfrastructureRole")
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "ecs.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    writes = [s for s in role_statements(template, "InfrastructureRole") if s["Resource"] != "*"]
    refs = json.dumps([s["Resource"] for s in writes])
    for own in (
        "TargetGroup",
        "AlternateTargetGroup",
        "ProductionListenerRule",
        "TestListenerRule",
        "TestListener",
    ):
        assert f'"{own}"' in refs
    assert all(a.startswith("elasticloadbalancing:") for a in role_actions(template, "InfrastructureRole"))


def test_the_blue_green_outputs_are_what_the_service_definition_fields_read(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    assert outputs["AlternateTargetGroupArn"]["Value"] == {"Ref": "AlternateTargetGroup"}
    assert outputs["ProductionListenerRuleArn"]["Value"] == {"Ref": "ProductionListenerRule"}
    assert outputs["TestListenerRuleArn"]["Value"] == {"Ref": "TestListenerRule"}
    assert outputs["InfrastructureRoleArn"]["Value"] == {"Fn::GetAtt": ["InfrastructureRole", "Arn"]}
    assert outputs["TestListenerUrl"]["Value"] == {
        "Fn::Sub": "http://${LoadBalancer.DNSName}:${TestListenerPort}"
    }
