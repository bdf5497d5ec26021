"""`sandbox up` with environments, the command: what it reports on stdout and as it goes.

In a module of its own: one process hooks moto for one sandbox at a time, and
tests/sandbox/test_environments.py keeps one running for its whole module.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from releasectl.commands.context import Context, RecordingReporter
from releasectl_sandbox.command import sandbox_up
from releasectl_sandbox.moto_internals import ACCOUNT_ID
from tests.sandbox.test_environments import CONFIG, PROD_ACCOUNT
from tests.support.sandbox_projects import init_repo, project_config, wait_for

pytestmark = pytest.mark.e2e


def test_sandbox_up_reports_each_environment_with_its_account_and_load_balancer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = init_repo(tmp_path / "project", {"pyproject.toml": CONFIG})
    reporter = RecordingReporter()
    ctx = Context(config=project_config(project), cwd=project, json_output=True, reporter=reporter)
    stop = threading.Event()
    codes: list[int] = []
    state, env_file = tmp_path / "state", tmp_path / "env"

    def run() -> None:
        codes.append(sandbox_up(ctx, port=None, alb_port=None, state_dir=state, env_file=env_file, stop=stop))

    worker = threading.Thread(target=run)
    worker.start()
    try:
        wait_for(lambda: any("sandbox: running" in t for t in reporter.texts()), 30, "the sandbox to be up")
    finally:
        stop.set()
        worker.join(30)

    assert codes == [0]
    summary = json.loads(capsys.readouterr().out)
    assert [(e["name"], e["account"], e["cluster"], e["stack"]) for e in summary["environments"]] == [
        ("staging", ACCOUNT_ID, "hello-world-staging", "hello-world-staging"),
        ("prod", PROD_ACCOUNT, "hello-world-prod", "hello-world-prod"),
    ]
    assert summary["alb_urls"] == {e["name"]: e["alb_url"] for e in summary["environments"]}
    assert summary["alb_url"] == summary["alb_urls"]["staging"] != summary["alb_urls"]["prod"]
    assert "RELEASECTL_ECS_CLUSTER" not in summary["env"]
    assert summary["bootstrap_image"] is None  # no service to run one: the first deploy makes it
    said = reporter.texts()
    assert any(
        f"created environment prod in account {PROD_ACCOUNT}: stack hello-world-prod" in t for t in said
    )
