"""Security checks: no secrets in the tree or its history, no credentials or tokens in the CLI's
output (with -v too), and a container that stays non-root and read-only through deploys.

bandit over releasectl/ and service/, and detect-secrets over the tracked files, run as lint
steps (`make lint`); the history has no such hook, so it is scanned here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.aws_state import client
from tests.support.cli import CliResult, run_cli
from tests.support.faultproxy import FaultProxy, Request
from tests.support.flows import (
    APP,
    CLUSTER,
    SERVICE,
    docker_env,
    ledger_config,
    ledger_world,
    release_world,
    source_repo,
)
from tests.support.git import git
from tests.support.paths import ROOT

BASELINE = ROOT / ".secrets.baseline"
# Every value or line detect-secrets is told to pass over, and why it is no secret. A new
# exclusion needs a reason here, or test_every_baseline_exclusion_is_explained fails.
EXCLUSIONS = {
    "^testing$": "moto's documented fake credentials (tests/conftest.py, benchmarks)",
    "^123456789012-auth-token$": "the fixed ECR login password moto returns for its fake account",
    "^0123456789abcdef0123456789abcdef01234567$": "a made-up 40-hex git commit id in tests",
    "^token$": "the made-up password of the example URLs whose credentials git.py strips, as the "
    "baseline and this table spell them too",
    r"https://user:token@(host|example\.com/)": (  # pragma: allowlist secret
        "made-up URLs of the form whose credentials git.py strips (its docstring example, its tests)"
    ),
    '"integrity": "sha(1|256|384|512)-[A-Za-z0-9+/=]+"': "npm lockfile integrity hashes (public)",
    'ghp_notTheRightOne0{22}"': "a made-up GitHub token, mostly zeros, that an early version of "
    "tests/adapters/test_github.py sent to the GitHub stand-in as the wrong token",
    "a made-up GitHub token, mostly zeros": "the line of this table that explains the made-up GitHub token "
    "above, which the keyword detector reads as an assignment",
    "a made-up webhook URL on an example": "the line of this table that explains the made-up webhook URL "
    "below, for the same reason",
    'hooks\\.example\\.com/services/T000/B000/notarealsecretpath"': "a made-up webhook URL on an example "
    "domain that tests/core/test_config_operations.py writes in a config to see it refused unechoed; "
    "committed once before its allowlist comment",
}


def detect_secrets(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "detect_secrets", *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def baseline_exclusions() -> list[str]:
    filters = json.loads(BASELINE.read_text())["filters_used"]
    return [
        pattern
        for f in filters
        if f["path"]
        in (
            "detect_secrets.filters.regex.should_exclude_secret",
            "detect_secrets.filters.regex.should_exclude_line",
        )
        for pattern in f["pattern"]
    ]


def test_every_baseline_exclusion_is_explained_and_no_secret_is_accepted() -> None:
    baseline = json.loads(BASELINE.read_text())
    assert baseline["results"] == {}  # nothing audited as "a secret, but allowed"
    assert sorted(baseline_exclusions()) == sorted(EXCLUSIONS)


def scan_tracked(repo: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    """`make lint`'s detect-secrets step (scripts/scan-secrets.py) in `repo`."""
    script = ROOT / "scripts" / "scan-secrets.py"
    return subprocess.run(
        [sys.executable, str(script), str(cache)], cwd=repo, capture_output=True, text=True, check=False
    )


def test_the_lint_scan_skips_files_scanned_clean_but_not_a_file_changed_since(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / ".secrets.baseline").write_text(BASELINE.read_text())
    (repo / "settings.ini").write_text("[app]\nname = shop\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "chore: first")
    cache = tmp_path / "secrets-clean.json"
    assert scan_tracked(repo, cache).returncode == 0
    remembered = cache.read_text()

    # Made up per run: no literal of it exists for a scanner to flag in this file.
    (repo / "settings.ini").write_text(f"[aws]\naws_access_key_id = AKIA{secrets.token_hex(8).upper()}\n")
    found = scan_tracked(repo, cache)

    assert found.returncode == 1, found.stdout + found.stderr
    assert "AWS Access Key" in found.stdout
    assert cache.read_text() == remembered, "a scan that found something records nothing"


def history_scan_settings() -> str:
    """What a line's verdict depends on besides the line: the scanner, its plugins and filters."""
    from importlib.metadata import version

    baseline = json.loads(BASELINE.read_text())
    settings = [version("detect-secrets"), baseline["plugins_used"], baseline["filters_used"]]
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def line_key(line: bytes) -> str:
    return hashlib.blake2b(line, digest_size=10).hexdigest()


@pytest.mark.e2e
def test_the_git_history_holds_no_secrets(tmp_path: Path, cache: pytest.Cache) -> None:
    """Every line ever added is scanned once: lines scanned clean under the same detect-secrets
    and baseline settings are kept in pytest's cache, so a run scans only what is new since
    (about 14 s of CPU for the whole history; a fresh checkout scans it all)."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    history = subprocess.run(
        ["git", "log", "-p", "--all", "--no-color", "--no-ext-diff"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    # Every line ever removed was added before; the added lines are the whole of what was written.
    # Each distinct line once: scanning is per line, and moves and reverts add the same lines again.
    added = {line_key(line): line for line in history.splitlines() if line.startswith(b"+")}
    cache_key = f"releasectl/history-clean-lines/{history_scan_settings()}"
    scanned_clean = set(cache.get(cache_key, []))
    unscanned = sorted(line for key, line in added.items() if key not in scanned_clean)
    if unscanned:
        (tmp_path / "history.diff").write_bytes(b"\n".join(unscanned))
        args = ["scan", "--all-files"]
        for pattern in baseline_exclusions():
            kind = "--exclude-secrets" if pattern.startswith("^") else "--exclude-lines"
            args += [kind, pattern]

        scanned = detect_secrets(*args, "history.diff", cwd=tmp_path)

        assert scanned.returncode == 0, scanned.stderr
        found = json.loads(scanned.stdout)["results"]
        assert found == {}, [(s["type"], s["line_number"]) for s in found.get("history.diff", [])]
    cache.set(cache_key, sorted(added))


# ----------------------------------------------------------------------------- credentials in output


def canaries() -> dict[str, str]:
    """Fake credentials, made up per run so no literal of them exists for a scanner to flag,
    and recognisable if any of them is ever printed."""
    return {
        "access_key": "AKIA" + secrets.token_hex(8).upper(),
        "secret_key": canary("Secret", 24),
        "session_token": canary("Session", 40),
        "ecr_password": canary("EcrPassword", 24),
    }


def canary(kind: str, size: int) -> str:
    return f"canary{kind}{secrets.token_urlsafe(size)}"


def leaked(values: dict[str, str], *texts: str) -> list[str]:
    token = base64.b64encode(f"AWS:{values['ecr_password']}".encode()).decode()
    needles = {**values, "ecr_token": token}
    return [name for name, needle in needles.items() for text in texts if needle in text]


def ecr_token_stub(password: str) -> Any:
    token = base64.b64encode(f"AWS:{password}".encode()).decode()
    body = json.dumps(
        {
            "authorizationData": [
                {
                    "authorizationToken": token,
                    "expiresAt": 1893456000,
                    "proxyEndpoint": "https://123456789012.dkr.ecr.us-east-1.amazonaws.com",
                }
            ]
        }
    ).encode()

    def stub(request: Request) -> tuple[int, list[tuple[str, str]], bytes] | None:
        if request.operation != "GetAuthorizationToken":
            return None
        return 200, [("Content-Type", "application/x-amz-json-1.1")], body

    return stub


def run_verbose(args: list[str], cwd: Path, env: dict[str, str]) -> CliResult:
    """With -v, in a process of its own: what a terminal would show, logging set up as a user's is."""
    return run_cli("-v", *args, cwd=cwd, env=env, process=True)


def test_the_cli_never_prints_credentials_or_the_ecr_login_token_even_with_v(
    aws_endpoint: str, tmp_path: Path
) -> None:
    values = canaries()
    release_world(aws_endpoint)
    repo = source_repo(tmp_path / "repo")
    credentials = {
        "AWS_ACCESS_KEY_ID": values["access_key"],
        "AWS_SECRET_ACCESS_KEY": values["secret_key"],
        "AWS_SESSION_TOKEN": values["session_token"],
        "AWS_SECURITY_TOKEN": values["session_token"],
    }
    outputs: dict[str, CliResult] = {}
    with FaultProxy(aws_endpoint, stub=ecr_token_stub(values["ecr_password"])) as proxy:
        env = {**docker_env(tmp_path / "bin", tmp_path / "docker", aws_endpoint), **credentials}
        env["AWS_ENDPOINT_URL"] = proxy.url
        outputs["release"] = run_verbose(["release", "--no-deploy"], repo, env)
        outputs["deploy"] = run_verbose(["--json", "deploy", "0.1.0", "--no-wait"], repo, env)
        outputs["releases"] = run_verbose(["releases"], repo, env)
        outputs["status"] = run_verbose(["status"], repo, env)
        outputs["doctor"] = run_verbose(["doctor"], repo, env)
        # Error paths: docker refusing the login echoes what it was sent; an unknown version.
        (repo / "change.txt").write_text("more\n")
        subprocess.run(["git", "commit", "-qam", "fix: more"], cwd=repo, check=True)
        outputs["login-refused"] = run_verbose(
            ["release", "--no-deploy"], repo, {**env, "FAKE_DOCKER_LOGIN_EXIT": "1"}
        )
        outputs["unknown-version"] = run_verbose(["deploy", "9.9.9"], repo, env)
        tokens_served = sum(1 for seen in proxy.log if seen.operation == "GetAuthorizationToken")

    assert outputs["release"].code == 0, outputs["release"].stderr
    assert outputs["deploy"].code == 0, outputs["deploy"].stderr
    assert outputs["login-refused"].code == 4, outputs["login-refused"].stderr
    assert "<redacted>" in outputs["login-refused"].stderr  # the echo was there, and scrubbed
    assert outputs["unknown-version"].code == 4
    assert tokens_served == 2  # both releases logged in with the canary token
    assert {name: leaked(values, ran.stdout, ran.stderr) for name, ran in outputs.items()} == {
        name: [] for name in outputs
    }


# ----------------------------------------------------------------------------- the container


def test_a_deploy_keeps_the_container_read_only_and_non_root(aws_endpoint: str, tmp_path: Path) -> None:
    """service.toml declares both (the test below reads its user); this checks that revisions
    releasectl registers keep both settings."""
    from tests.support.scripted_ecs import task_definition_body

    digests = ledger_world(aws_endpoint)
    ecs = client(aws_endpoint, "ecs")
    uri = client(aws_endpoint, "ecr").describe_repositories(repositoryNames=[APP])["repositories"][0][
        "repositoryUri"
    ]
    body = task_definition_body(image=f"{uri}@{digests['1.1.0']}")
    body["containerDefinitions"][0].update({"user": "10001", "readonlyRootFilesystem": True})
    hardened = ecs.register_task_definition(**body)["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=hardened)

    ran = run_cli(
        "--json",
        "deploy",
        "1.2.0",
        "--no-wait",
        cwd=ledger_config(tmp_path / "w"),
        env={"AWS_ENDPOINT_URL": aws_endpoint},
    )

    assert ran.code == 0, ran.stderr
    registered = ecs.describe_task_definition(taskDefinition=json.loads(ran.stdout)["task_definition"])
    app = registered["taskDefinition"]["containerDefinitions"][0]
    assert app["image"].endswith(digests["1.2.0"])
    assert (app["user"], app["readonlyRootFilesystem"]) == ("10001", True)


def test_the_task_runs_read_only_as_the_numeric_user_the_image_declares() -> None:
    """The service definition's container runs as the very uid the Dockerfile switches to, non-root,
    with a read-only root file system."""
    import tomllib

    dockerfile_user = re.search(
        r"^USER\s+(\d+)(?::\d+)?\s*$", (ROOT / "Dockerfile").read_text(), re.MULTILINE
    )
    container = tomllib.loads((ROOT / "service.toml").read_text())["containers"]["app"]
    assert dockerfile_user
    assert dockerfile_user.group(1) == container["user"] != "0"
    assert container["read_only_root"] is True
