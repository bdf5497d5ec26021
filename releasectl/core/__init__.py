"""Pure logic: versions, commits, ledger, plans, rollout decisions, errors, results, config.

No I/O beyond reading the one config file; no boto3, botocore, rich, typer or subprocess."""
