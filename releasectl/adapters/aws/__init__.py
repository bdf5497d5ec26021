"""The AWS boundary: every boto3 call in releasectl goes through this package."""
