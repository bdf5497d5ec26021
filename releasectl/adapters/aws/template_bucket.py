"""S3: where a template too large to send inline waits for CloudFormation to read it.

CloudFormation takes at most 51,200 bytes as a TemplateBody; a larger template (up to 1 MB) must come
from S3. releasectl keeps one bucket per account and region for that, as `sam deploy --resolve-s3` and
`cdk bootstrap` do: made on first need, private, encrypted, its objects expiring after a week.
Every call names the account that must own the bucket, so a bucket of that name in another account is
refused, never written to.
"""

from __future__ import annotations

from typing import Any

from releasectl.adapters.aws.clients import aws_errors, error_code
from releasectl.core.changeset import template_bucket_name, template_key, template_url
from releasectl.core.errors import EnvironmentProblem

EXPIRE_AFTER_DAYS = 7
_MISSING = {"404", "NoSuchBucket", "NotFound"}


def stage_template(client: Any, *, account: str, region: str, stack_name: str, body: str) -> str:
    """Put `body` in the account's template bucket (made if missing) and return its URL."""
    bucket = template_bucket_name(account, region)
    key = template_key(stack_name, body)
    if not _bucket_exists(client, bucket, account):
        _create_bucket(client, bucket, account=account, region=region)
    with aws_errors(f"uploading the template to s3://{bucket}/{key}"):
        client.put_object(
            Bucket=bucket,
            Key=key,
            Body=body.encode(),
            ContentType="text/yaml",
            ServerSideEncryption="AES256",
            ExpectedBucketOwner=account,
        )
    return template_url(bucket, region, key)


def _not_ours(bucket: str, account: str) -> EnvironmentProblem:
    return EnvironmentProblem(
        f"S3 bucket {bucket} exists but account {account} does not own it (or may not read it); "
        "releasectl puts no template there",
        hint="delete or rename that bucket, or give these credentials s3:ListBucket on it",
    )


def _bucket_exists(client: Any, bucket: str, account: str) -> bool:
    import botocore.exceptions

    with aws_errors(f"looking for S3 bucket {bucket}"):
        try:
            client.head_bucket(Bucket=bucket, ExpectedBucketOwner=account)
        except botocore.exceptions.ClientError as exc:
            code = error_code(exc)
            if code in _MISSING:
                return False
            if code in {"403", "AccessDenied"}:
                raise _not_ours(bucket, account) from None
            raise
    return True


def _create_bucket(client: Any, bucket: str, *, account: str, region: str) -> None:
    import botocore.exceptions

    options: dict[str, Any] = {"Bucket": bucket, "ObjectOwnership": "BucketOwnerEnforced"}
    if region != "us-east-1":  # us-east-1 takes no location constraint
        options["CreateBucketConfiguration"] = {"LocationConstraint": region}
    owned = {"ExpectedBucketOwner": account}
    with aws_errors(f"creating S3 bucket {bucket} for templates"):
        try:
            client.create_bucket(**options)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) == "BucketAlreadyExists":
                raise _not_ours(bucket, account) from None
            if error_code(exc) != "BucketAlreadyOwnedByYou":  # another run made it meanwhile
                raise
        client.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
            **owned,
        )
        client.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
            **owned,
        )
        client.put_bucket_lifecycle_configuration(
            Bucket=bucket,
            LifecycleConfiguration={
                "Rules": [
                    {
                        "ID": "expire-templates",
                        "Status": "Enabled",
                        "Filter": {"Prefix": ""},
                        "Expiration": {"Days": EXPIRE_AFTER_DAYS},
                        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                    }
                ]
            },
            **owned,
        )
