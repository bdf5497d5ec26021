"""One place that makes boto3 clients, with one retry policy and one error translation.

Tests swap what is behind it (moto in-process, a moto server through endpoint_url,
botocore Stubber, or the sandbox) without the callers knowing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from releasectl.core.config import Config
from releasectl.core.errors import EnvironmentProblem, OperationFailed, ReleasectlError

if TYPE_CHECKING:
    # boto3-stubs is a development dependency: these names exist for the type checker only.
    from boto3.session import Session
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_codebuild import CodeBuildClient
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_sts import STSClient

Service = Literal["cloudformation", "codebuild", "ecr", "ecs", "elbv2", "logs", "s3", "sns", "sts"]
_Page = TypeVar("_Page")

# Codes that mean "you may not" or "you are not who you say": fix the credentials, exit 4.
_ACCESS_CODES = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
}
_NOT_FOUND_CODES = {
    "RepositoryNotFoundException",
    "ClusterNotFoundException",
    "ServiceNotFoundException",
    "ResourceNotFoundException",
    "ServiceNotActiveException",
}
_THROTTLE_CODES = {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"}


@dataclass
class AwsClients:
    region: str | None
    profile: str | None
    endpoint_url: str | None
    max_attempts: int = 5
    _session: Session | None = None
    _clients: dict[str, Any] = field(default_factory=dict)
    # Functions called with (service, operation) before each API call is sent, retries
    # included: how benchmarks and tests count calls.
    call_hooks: list[Callable[[str, str], None]] = field(default_factory=list)

    @classmethod
    def from_config(cls, config: Config) -> AwsClients:
        return cls(
            region=config.region,
            profile=config.profile,
            endpoint_url=config.endpoint_url,
            max_attempts=config.max_attempts,
        )

    def session(self) -> Session:
        if self._session is None:
            import boto3
            import botocore.exceptions

            try:
                self._session = boto3.session.Session(profile_name=self.profile, region_name=self.region)
            except botocore.exceptions.ProfileNotFound as exc:
                raise EnvironmentProblem(
                    str(exc), hint="check AWS_PROFILE / --profile against ~/.aws/config"
                ) from None
        return self._session

    def assume(self, role_arn: str, *, region: str | None, session_name: str) -> AwsClients:
        """Clients acting as `role_arn` (another account's deploy role, say), made from these
        credentials. One sts:AssumeRole call; refused is exit 4 naming the role and the action."""
        import boto3
        import botocore.exceptions

        sts = self.client("sts")
        with aws_errors(f"assuming role {role_arn}"):
            try:
                credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) in _ACCESS_CODES:
                    message = str(exc.response.get("Error", {}).get("Message", "")) or str(exc)
                    raise EnvironmentProblem(
                        f"cannot assume role {role_arn}: sts:AssumeRole denied ({message})",
                        hint="the role's trust policy must let the caller assume it; "
                        "`aws sts get-caller-identity` shows who the caller is",
                    ) from None
                raise
        session = boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=region or self.resolved_region(),
        )
        return AwsClients(
            region=region or self.region,
            profile=None,
            endpoint_url=self.endpoint_url,
            max_attempts=self.max_attempts,
            _session=session,
            call_hooks=self.call_hooks,
        )

    def resolved_region(self) -> str | None:
        """The region in use: the one given, else the one boto3 finds (AWS_REGION, the profile)."""
        return self.region or self.session().region_name

    @overload
    def client(self, service: Literal["cloudformation"]) -> CloudFormationClient: ...
    @overload
    def client(self, service: Literal["codebuild"]) -> CodeBuildClient: ...
    @overload
    def client(self, service: Literal["ecr"]) -> ECRClient: ...
    @overload
    def client(self, service: Literal["ecs"]) -> ECSClient: ...
    @overload
    def client(self, service: Literal["logs"]) -> CloudWatchLogsClient: ...
    @overload
    def client(self, service: Literal["sts"]) -> STSClient: ...
    @overload  # only `infra` uses S3 (templates too large to send inline): no stubs for it
    def client(self, service: Literal["s3"]) -> Any: ...
    @overload  # target health as failure evidence, and notifications: no stubs for them either
    def client(self, service: Literal["elbv2", "sns"]) -> Any: ...

    def client(self, service: Service) -> Any:
        if service not in self._clients:
            from botocore.config import Config as BotoConfig

            boto_config = BotoConfig(
                retries={"mode": "standard", "total_max_attempts": self.max_attempts},
                connect_timeout=5,
                read_timeout=60,
                user_agent_extra="releasectl",
            )
            with aws_errors():
                client = self.session().client(service, endpoint_url=self.endpoint_url, config=boto_config)
            client.meta.events.register("before-send", self._count_call)
            self._clients[service] = client
        return self._clients[service]

    def set_client(self, service: Service, client: Any) -> None:
        """Put a prepared client (Stubber-wrapped or scripted) behind the boundary."""
        self._clients[service] = client

    def _count_call(self, event_name: str = "", **kwargs: Any) -> None:
        # before-send fires once per HTTP attempt, so retries are counted too.
        if not self.call_hooks:
            return
        _, service, operation = ([*event_name.split(".", 2), "", ""])[:3]
        for hook in self.call_hooks:
            hook(service, operation)


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


@contextlib.contextmanager
def aws_errors(action: str = "") -> Iterator[None]:
    """Turn botocore's exceptions into one-line errors with the right exit code.

    ClientErrors a caller expects (a tag conflict, say) should be caught inside this
    block by the caller; whatever escapes is an environment problem or a failure.
    """
    import botocore.exceptions as bex
    from botocore.parsers import ResponseParserError

    prefix = f"{action}: " if action else ""
    try:
        yield
    except ReleasectlError:
        raise
    except (bex.NoCredentialsError, bex.PartialCredentialsError):
        raise EnvironmentProblem(
            f"{prefix}no AWS credentials found",
            hint="set AWS_PROFILE, run `aws sso login`, or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
        ) from None
    except bex.NoRegionError:
        raise EnvironmentProblem(
            f"{prefix}no AWS region configured", hint="set --region, RELEASECTL_REGION or AWS_REGION"
        ) from None
    except (bex.EndpointConnectionError, bex.ConnectTimeoutError) as exc:
        raise EnvironmentProblem(
            f"{prefix}cannot reach the AWS endpoint ({exc.__class__.__name__}: {exc})",
            hint="check --endpoint-url / AWS_ENDPOINT_URL and the network",
        ) from None
    except bex.ConnectionClosedError as exc:
        # The request was sent: AWS may have applied it, so this is no "nothing was changed" (exit 4).
        raise OperationFailed(
            f"{prefix}the connection to the AWS endpoint dropped before an answer came back, "
            f"after all retries ({exc.__class__.__name__}); the request may or may not have been applied",
            hint="check the network and what was applied, then run the command again",
        ) from None
    except bex.TokenRetrievalError as exc:
        raise EnvironmentProblem(f"{prefix}{exc}", hint="run `aws sso login`") from None
    except bex.ClientError as exc:
        code = error_code(exc)
        text = str(exc.response.get("Error", {}).get("Message", "")) or str(exc)
        if code in _ACCESS_CODES:
            raise EnvironmentProblem(
                f"{prefix}access denied ({code}): {text}",
                hint="check the IAM permissions of the credentials in use",
            ) from None
        if code in _NOT_FOUND_CODES:
            raise EnvironmentProblem(
                f"{prefix}{code}: {text}", hint="check the resource names in [tool.releasectl]"
            ) from None
        if code in _THROTTLE_CODES:
            raise OperationFailed(
                f"{prefix}AWS kept throttling the request ({code}) after all retries",
                hint="wait and run the command again",
            ) from None
        raise OperationFailed(f"{prefix}{code}: {text}") from None
    except (bex.BotoCoreError, ResponseParserError) as exc:
        # ResponseParserError (an unparseable answer, e.g. a proxy's HTML 500) is no BotoCoreError.
        raise OperationFailed(f"{prefix}{exc.__class__.__name__}: {exc}") from None


def each_page(
    pages: Iterable[_Page], guard: Callable[[], contextlib.AbstractContextManager[None]]
) -> Iterator[_Page]:
    """A paginator's pages, each fetched inside `guard()` (aws_errors, say) and handed over
    outside it, so an error in the consumer's code is never taken for one of AWS's."""
    iterator = iter(pages)
    while True:
        with guard():
            try:
                page = next(iterator)
            except StopIteration:
                return
        yield page
