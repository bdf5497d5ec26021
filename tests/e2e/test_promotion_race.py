"""Two promotions of different versions to prod, racing: one wins, the other is told (exit 5).

Real `releasectl` processes against the sandbox, whose rollouts are real: staging verified each
version, prod (in a second account, through its role) runs the first, then two operators promote
the other two at once.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from releasectl_sandbox.images import build_image, push
from releasectl_sandbox.sandbox import Sandbox
from tests.support.cli import run_cli, start_cli
from tests.support.paths import ROOT
from tests.support.sandbox_projects import ENVIRONMENTS_CONFIG as CONFIG
from tests.support.sandbox_projects import copy_context, init_repo, project_config, service_files

pytestmark = pytest.mark.e2e

VERSIONS = ("1.0.0", "1.1.0", "1.2.0")


@pytest.fixture(scope="module")
def promoted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandbox, Path, dict[str, str]]]:
    root = tmp_path_factory.mktemp("promotion-race")
    files = {"pyproject.toml": CONFIG, "service.toml": (ROOT / "service.toml").read_text(), **service_files()}
    project = init_repo(root / "project", files)
    with Sandbox(
        project, config=project_config(project), state_dir=root / "state", env_file=root / "sandbox.env"
    ) as sandbox:
        digests = {}
        for number, version in enumerate(VERSIONS, start=1):
            context = copy_context(root / f"context-{version}")
            commit = f"{number:x}" * 40
            image = build_image(
                context, None, {"APP_VERSION": version, "GIT_COMMIT": commit}, store=sandbox.state.blobs
            )
            push(sandbox.clients().client("ecr"), "hello-world", image, tags=[version, f"git-{commit}"])
            digests[version] = image.digest
        env = dict(sandbox.env)
        for version in VERSIONS:
            ran = run_cli("deploy", version, "--timeout", "60", cwd=project, env=env)
            assert ran.code == 0, ran.stderr
        ran = run_cli("deploy", VERSIONS[0], "--env", "prod", "--timeout", "60", cwd=project, env=env)
        assert ran.code == 0, ran.stderr
        yield sandbox, project, digests


def finish(procs: list[subprocess.Popen[str]]) -> list[tuple[int, dict[str, Any], str]]:
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        done.append((proc.returncode, json.loads(out) if out.strip() else {}, err))
    return done


def test_two_promotions_racing_end_with_one_winner_and_the_loser_told(
    promoted: tuple[Sandbox, Path, dict[str, str]],
) -> None:
    sandbox, project, digests = promoted
    env = dict(sandbox.env)
    racers = finish(
        [
            start_cli(["deploy", version, "--env", "prod", "--timeout", "90"], project, env)
            for version in VERSIONS[1:]
        ]
    )
    for code, result, err in racers:
        assert (code, result.get("outcome")) in ((0, "succeeded"), (5, "superseded")), err
    # Both start within milliseconds and a sandbox rollout takes seconds: the first one's
    # deployment is replaced by the second's before it completes.
    assert sorted(code for code, _, _ in racers) == [0, 5], [err for _, _, err in racers]
    winners = [result for code, result, _ in racers if code == 0]
    losers = [result for code, result, _ in racers if code == 5]

    prod = next(e for e in sandbox.environments if e.name == "prod")
    ecs = prod.clients().client("ecs")
    service = ecs.describe_services(cluster="hello-world-prod", services=["hello-world"])["services"][0]
    running = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    image = running["containerDefinitions"][0]["image"]
    (final,) = [w for w in winners if w["task_definition"] == service["taskDefinition"]]
    assert image.endswith(digests[final["version"]])
    for loser in losers:
        # Told who replaced it: the winner's deployment, by id.
        assert final["deployment_id"] in loser["message"], loser["message"]
