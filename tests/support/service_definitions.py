"""A service definition as a project writes it, and the stack outputs it reads."""

from __future__ import annotations

EXAMPLE = """\
family = "shop-${env}"
cpu = 256
memory = 512
cpu_architecture = "X86_64"
execution_role_arn = "${stack:TaskExecutionRoleArn}"
task_role_arn = "${stack:TaskRoleArn}"

[service]
desired_count = 2
health_check_grace_period = 30
subnets = "${stack:PrivateSubnets}"
security_groups = ["${stack:TaskSecurityGroup}"]
target_group_arn = "${stack:TargetGroupArn}"

[service.deployment]
circuit_breaker = true
minimum_healthy_percent = 100
maximum_percent = 200

[containers.app]
port = 8080
user = "10001"
read_only_root = true
writable_paths = ["/tmp"]

[containers.app.environment]
LOG_LEVEL = "info"
GREETING = "hello"

[containers.app.secrets]
API_TOKEN = "arn:aws:ssm:us-east-1:123456789012:parameter/shop/api-token"

[containers.app.health_check]
command = ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz')"]
interval = 15
timeout = 5
retries = 3
start_period = 10

[containers.app.logs]
group = "${stack:AppLogGroup}"
stream_prefix = "app"
mode = "non-blocking"

[environments.prod.service]
desired_count = 3
"""

OUTPUTS = {
    "TaskExecutionRoleArn": "arn:aws:iam::123456789012:role/shop-exec",
    "TaskRoleArn": "arn:aws:iam::123456789012:role/shop-task",
    "PrivateSubnets": "subnet-0a,subnet-0b",
    "TaskSecurityGroup": "sg-0task",
    "TargetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop/0123456789abcdef",
    "AppLogGroup": "/ecs/shop",
}
