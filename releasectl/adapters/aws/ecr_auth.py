"""Docker login to ECR with a token from get_authorization_token.

The password travels only through `docker login --password-stdin`: it is never
an argument (visible in `ps`), never logged (not even with -v), and scrubbed from
any error text docker prints back.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import TYPE_CHECKING

from releasectl.adapters.aws.clients import aws_errors
from releasectl.core.errors import EnvironmentProblem, OperationFailed

if TYPE_CHECKING:
    from releasectl.adapters.docker import DockerCli
    from releasectl.commands.context import Context


@dataclass(frozen=True)
class RegistryLogin:
    endpoint: str  # registry host, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com
    username: str
    password: str

    def __repr__(self) -> str:
        return f"RegistryLogin(endpoint={self.endpoint!r}, username={self.username!r}, password=<redacted>)"

    __str__ = __repr__

    def scrub(self, text: str) -> str:
        return text.replace(self.password, "<redacted>") if self.password else text


def decode_token(token: str) -> tuple[str, str]:
    """ECR's authorizationToken is base64("AWS:<password>")."""
    try:
        text = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise OperationFailed("ECR returned an authorization token that is not base64 text") from None
    username, sep, password = text.partition(":")
    if not sep or not username or not password:
        raise OperationFailed("ECR returned an authorization token without a user:password pair")
    return username, password


def registry_login(ctx: Context) -> RegistryLogin:
    ecr = ctx.aws.client("ecr")
    with aws_errors("getting an ECR login token"):
        response = ecr.get_authorization_token()
    data = (response.get("authorizationData") or [{}])[0]
    token, endpoint = data.get("authorizationToken"), data.get("proxyEndpoint", "")
    if not token:
        raise OperationFailed("ECR returned no authorization token")
    username, password = decode_token(token)
    host = endpoint.split("://", 1)[-1].rstrip("/")
    return RegistryLogin(endpoint=host, username=username, password=password)


def docker_login(login: RegistryLogin, registry: str, docker: DockerCli) -> None:
    reporter = docker.reporter
    reporter.detail(f"docker login --username {login.username} --password-stdin {registry}")
    proc = docker.run_quiet(
        ["login", "--username", login.username, "--password-stdin", registry], stdin=login.password + "\n"
    )
    if proc.returncode != 0:
        detail = login.scrub((proc.stderr or proc.stdout).strip()).splitlines()
        reason = detail[-1] if detail else f"exit {proc.returncode}"
        raise EnvironmentProblem(
            f"docker login to {registry} failed: {reason}",
            hint="check that the credentials may call ecr:GetAuthorizationToken and reach the registry",
        )
    reporter.info(f"logged in to {registry}")


def ecr_login(ctx: Context, *, docker: DockerCli, registries: list[str] | None = None) -> list[str]:
    """Log docker in to each registry (default: the account's own); returns the registries."""
    login = registry_login(ctx)
    targets = registries or [login.endpoint]
    for registry in targets:
        docker_login(login, registry, docker)
    return targets
