"""What a security review of infra/releasectl.yaml asked for, one property per test: endpoint policies,
release images nobody can delete, a release repository a new stack can adopt, HTTPS with a redirect,
encrypted access logs, alarms for alarm-based rollback, an encrypted notification topic, and every
checkov finding left either fixed or suppressed with its reason."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.project.test_template import TEMPLATE, CfnLoader, as_list, matches, props, resources
from tests.support.paths import ROOT

NO_VALUE = {"Ref": "AWS::NoValue"}
TOOLS_ACCOUNT = {"Fn::If": ["ToolsElsewhere", {"Ref": "ToolsAccountId"}, {"Ref": "AWS::AccountId"}]}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return yaml.load(TEMPLATE.read_text(), Loader=CfnLoader)  # a SafeLoader subclass


def branches(value: Any) -> Iterator[Any]:
    """Every value an Fn::If may take (AWS::NoValue left out), or the value itself."""
    if isinstance(value, dict) and "Fn::If" in value:
        for branch in value["Fn::If"][1:]:
            yield from branches(branch)
    elif value != NO_VALUE:
        yield value


def statements_of(document: Any) -> list[dict[str, Any]]:
    return [s for d in branches(document) for item in as_list(d["Statement"]) for s in branches(item)]


def every_policy(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every statement of every policy in the template, identity and resource policies alike."""
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        documents = [p["PolicyDocument"] for p in properties.get("Policies", [])]
        for key in ("PolicyDocument", "RepositoryPolicyText", "KeyPolicy", "AssumeRolePolicyDocument"):
            if key in properties:
                documents.append(properties[key])
        for document in documents:
            for statement in statements_of(document):
                yield logical_id, statement


def endpoint_statements(template: dict[str, Any], logical_id: str) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in statements_of(props(template, logical_id)["PolicyDocument"])}


# ----------------------------------------------------------------------------- VPC endpoints


def test_the_s3_endpoint_reaches_only_the_ecr_layer_bucket_and_the_pipeline_artifacts(
    template: dict[str, Any],
) -> None:
    found = endpoint_statements(template, "S3Endpoint")
    assert set(found) == {"EcrImageLayers", "PipelineArtifacts"}
    assert found["EcrImageLayers"]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:s3:::prod-${AWS::Region}-starport-layer-bucket/*"
    }
    assert found["EcrImageLayers"]["Action"] == "s3:GetObject"
    assert found["PipelineArtifacts"]["Resource"] == {"Fn::Sub": "${ArtifactBucket.Arn}/*"}
    # The artifact bucket exists in the staging stack only; prod's endpoint leads to the layers alone.
    (artifacts,) = [s for s in props(template, "S3Endpoint")["PolicyDocument"]["Statement"] if "Fn::If" in s]
    assert artifacts["Fn::If"][0] == "IsTools" and artifacts["Fn::If"][2] == NO_VALUE
    for statement in found.values():
        assert statement["Effect"] == "Allow" and "*" not in as_list(statement["Resource"])


@pytest.mark.parametrize("endpoint", ["EcrApiEndpoint", "EcrDockerEndpoint"])
def test_the_ecr_endpoints_reach_only_repositories_of_this_and_the_tools_account(
    template: dict[str, Any], endpoint: str
) -> None:
    found = endpoint_statements(template, endpoint)
    assert set(found) == {"EcrLogin", "PullFromOurRepositories"}
    assert (found["EcrLogin"]["Action"], found["EcrLogin"]["Resource"]) == ("ecr:GetAuthorizationToken", "*")
    pull = found["PullFromOurRepositories"]
    assert sorted(pull["Action"]) == [
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
    ]
    assert pull["Resource"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/*"},
        {
            "Fn::Sub": [
                "arn:${AWS::Partition}:ecr:${AWS::Region}:${Tools}:repository/*",
                {"Tools": TOOLS_ACCOUNT},
            ]
        },
    ]


# ----------------------------------------------------------------------------- release images


def test_no_role_or_policy_may_delete_release_images(template: dict[str, Any]) -> None:
    statements = list(every_policy(template))
    assert len(statements) > 40  # every role, endpoint, bucket, key and repository policy is read
    for logical_id, statement in statements:
        if statement["Effect"] != "Allow":
            continue
        for action in as_list(statement["Action"]):
            assert not matches("ecr:BatchDeleteImage", action), f"{logical_id}: {action}"
            assert not matches("ecr:DeleteRepository", action), f"{logical_id}: {action}"
    # Nor through a managed policy AWS could widen: roles carry their own inline policies only.
    for logical_id, role in resources(template, "AWS::IAM::Role").items():
        assert "ManagedPolicyArns" not in role["Properties"], logical_id


def test_images_leave_the_release_repository_by_lifecycle_rules_only(template: dict[str, Any]) -> None:
    text = props(template, "ReleaseRepository")["LifecyclePolicy"]["LifecyclePolicyText"]["Fn::Sub"]
    assert text.count('"type": "expire"') == 3


def test_a_new_stack_can_adopt_the_release_repository_a_deleted_one_kept(template: dict[str, Any]) -> None:
    assert template["Parameters"]["ExistingReleaseRepository"]["Default"] == ""
    assert template["Conditions"]["CreateReleaseRepository"] == {
        "Fn::And": [{"Condition": "IsTools"}, {"Fn::Not": [{"Condition": "KeptRepository"}]}]
    }
    assert template["Resources"]["ReleaseRepository"]["Condition"] == "CreateReleaseRepository"
    name = {"Fn::If": ["KeptRepository", {"Ref": "ExistingReleaseRepository"}, {"Ref": "AppName"}]}
    variables = props(template, "BuildProject")["Environment"]["EnvironmentVariables"]
    assert {"Name": "RELEASECTL_ECR_REPOSITORY", "Type": "PLAINTEXT", "Value": name} in variables
    assert template["Outputs"]["EcrRepository"]["Value"] == {
        "Fn::If": ["KeptRepository", {"Ref": "ExistingReleaseRepository"}, {"Ref": "ReleaseRepository"}]
    }
    # Nothing but the outputs names the repository resource itself: every role reads the name above.
    text = TEMPLATE.read_text()
    outside_outputs = text[: text.index("\nOutputs:")]
    assert "ReleaseRepository.Arn" not in outside_outputs and "!Ref ReleaseRepository" not in outside_outputs


# ----------------------------------------------------------------------------- HTTPS


def test_with_a_certificate_http_redirects_301_to_https_under_a_modern_tls_policy(
    template: dict[str, Any],
) -> None:
    (action,) = props(template, "HttpListener")["DefaultActions"]
    condition, when_https, otherwise = action["Fn::If"]
    assert condition == "UseHttps"
    assert when_https["Type"] == "redirect"
    assert when_https["RedirectConfig"]["Protocol"] == "HTTPS"
    assert when_https["RedirectConfig"]["Port"] == "443"
    assert when_https["RedirectConfig"]["StatusCode"] == "HTTP_301"
    assert otherwise == {"Type": "forward", "TargetGroupArn": {"Ref": "TargetGroup"}}
    assert props(template, "HttpsListener")["SslPolicy"].startswith("ELBSecurityPolicy-TLS13-1-2-")


# ----------------------------------------------------------------------------- access logs


def test_load_balancer_access_logs_go_to_an_encrypted_private_expiring_bucket(
    template: dict[str, Any],
) -> None:
    attributes = {a["Key"]: a["Value"] for a in props(template, "LoadBalancer")["LoadBalancerAttributes"]}
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["access_logs.s3.bucket"] == {"Ref": "AccessLogBucket"}
    bucket = props(template, "AccessLogBucket")
    (encryption,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    (rule,) = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == {"Ref": "AccessLogRetentionDays"}
    assert template["Parameters"]["AccessLogRetentionDays"]["Default"] == 90


def test_the_access_log_bucket_takes_tls_only_and_the_load_balancers_deliveries(
    template: dict[str, Any],
) -> None:
    found = {s["Sid"]: s for s in statements_of(props(template, "AccessLogBucketPolicy")["PolicyDocument"])}
    deny = found["DenyInsecureTransport"]
    assert (deny["Effect"], deny["Action"]) == ("Deny", "s3:*")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    delivery = found["LoadBalancerLogDelivery"]
    assert delivery["Resource"] == {"Fn::Sub": "${AccessLogBucket.Arn}/alb/AWSLogs/${AWS::AccountId}/*"}
    condition, legacy, newer = delivery["Principal"]["Fn::If"]
    assert condition == "LegacyElbRegion"
    assert newer == {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}
    # The regions that use an ELB account are exactly the ones the mapping knows it for.
    _, accounts = legacy["AWS"]["Fn::Sub"]
    assert accounts["Elb"] == {"Fn::FindInMap": ["ElbLogDelivery", {"Ref": "AWS::Region"}, "Account"]}
    listed = set(re.findall(r"!Equals \[!Ref AWS::Region, ([a-z0-9-]+)\]", TEMPLATE.read_text()))
    assert listed == set(template["Mappings"]["ElbLogDelivery"])
    assert all(
        re.fullmatch(r"[0-9]{12}", v["Account"]) for v in template["Mappings"]["ElbLogDelivery"].values()
    )


def test_artifact_bucket_access_is_logged_beside_the_load_balancers(template: dict[str, Any]) -> None:
    logging = props(template, "ArtifactBucket")["LoggingConfiguration"]
    assert logging["DestinationBucketName"] == {"Ref": "AccessLogBucket"}
    found = {s["Sid"]: s for s in statements_of(props(template, "AccessLogBucketPolicy")["PolicyDocument"])}
    assert found["ArtifactBucketAccessLogs"]["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert found["ArtifactBucketAccessLogs"]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    }


# ----------------------------------------------------------------------------- alarms and notifications


def test_alarms_watch_the_5xx_rate_and_unhealthy_targets_and_are_outputs(template: dict[str, Any]) -> None:
    errors = props(template, "Target5xxAlarm")
    metrics = {m["Id"]: m for m in errors["Metrics"]}
    assert metrics["errors"]["MetricStat"]["Metric"]["MetricName"] == "HTTPCode_Target_5XX_Count"
    assert metrics["requests"]["MetricStat"]["Metric"]["MetricName"] == "RequestCount"
    assert "errors" in metrics["rate"]["Expression"] and "requests" in metrics["rate"]["Expression"]
    assert [m["Id"] for m in errors["Metrics"] if m["ReturnData"]] == ["rate"]
    unhealthy = props(template, "UnhealthyHostsAlarm")
    hosts = {m["Id"]: m for m in unhealthy["Metrics"]}
    assert {hosts[i]["MetricStat"]["Metric"]["MetricName"] for i in ("blue", "green")} == {
        "UnHealthyHostCount"
    }
    assert (unhealthy["ComparisonOperator"], unhealthy["Threshold"]) == ("GreaterThanThreshold", 0)
    for name in ("Target5xxAlarm", "UnhealthyHostsAlarm"):
        alarm = props(template, name)
        assert alarm["TreatMissingData"] == "notBreaching"  # no traffic is no reason to roll back
        assert alarm["AlarmActions"] == [{"Ref": "NotificationTopic"}]
        # The output is the alarm's name, which the service's deploymentConfiguration.alarms takes.
        assert template["Outputs"][name]["Value"] == {"Ref": name}
        # Both target groups: in a blue/green, canary or linear deployment the new tasks are in the second.
        groups = set()
        for metric in alarm["Metrics"]:
            if "MetricStat" in metric:
                dimensions = {d["Name"]: d["Value"] for d in metric["MetricStat"]["Metric"]["Dimensions"]}
                assert set(dimensions) == {"LoadBalancer", "TargetGroup"}
                groups.add(dimensions["TargetGroup"]["Fn::GetAtt"][0])
        assert groups == {"TargetGroup", "AlternateTargetGroup"}, name


def test_the_notification_topic_is_encrypted_with_a_key_eventbridge_and_cloudwatch_may_use(
    template: dict[str, Any],
) -> None:
    topic = props(template, "NotificationTopic")
    assert topic["KmsMasterKeyId"] == {"Ref": "NotificationKey"}
    key = props(template, "NotificationKey")
    assert key["EnableKeyRotation"] is True
    publishers = [s for s in statements_of(key["KeyPolicy"]) if s["Sid"] == "EventsAndAlarmsPublish"]
    assert publishers[0]["Principal"] == {"Service": ["events.amazonaws.com", "cloudwatch.amazonaws.com"]}
    (publish,) = statements_of(props(template, "NotificationTopicPolicy")["PolicyDocument"])
    assert publish["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    email = topic["Subscription"]["Fn::If"]
    assert email[0] == "EmailNotifications" and email[2] == NO_VALUE


# ----------------------------------------------------------------------------- checkov


def suppressions(template: dict[str, Any]) -> list[tuple[str, str, str]]:
    found = []
    for logical_id, resource in template["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            found.append((logical_id, skip["id"], skip.get("comment", "")))
    return found


def test_every_checkov_suppression_says_why_and_the_docs_list_it(template: dict[str, Any]) -> None:
    found = suppressions(template)
    assert found
    iac = (ROOT / "docs" / "iac.md").read_text(encoding="utf-8")
    section = iac[iac.index("## checkov") :]
    for logical_id, check, reason in found:
        assert re.fullmatch(r"CKV2?_AWS_[0-9]+", check), logical_id
        assert len(reason) > 20, f"{logical_id} {check} gives no reason"
        assert f"`{check}`" in section and f"`{logical_id}`" in section, f"{logical_id} {check}"


def test_make_lint_runs_checkov_on_the_template_from_a_pinned_virtualenv() -> None:
    # What `make lint` would run with every step out of date (-B), printed, not run (-n).
    lint = subprocess.run(
        ["make", "-n", "-B", "lint"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    script = (ROOT / "scripts" / "checkov.sh").read_text(encoding="utf-8")
    assert "scripts/checkov.sh" in lint
    assert re.search(r"^CHECKOV_VERSION=[0-9]+\.[0-9]+\.[0-9]+$", script, re.MULTILINE)
    assert '"checkov==$CHECKOV_VERSION"' in script
    assert "infra/" in script and "--skip-download" in script
    assert ".venv-checkov/" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
