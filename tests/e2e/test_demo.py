"""`releasectl demo`: the whole pipeline against a sandbox of its own, run the way a user runs it.

The full demo runs once per test session (it takes most of a minute), at 80 columns: the first
pytest worker to need it runs it and records what it saw (the story, the full log, the SVG);
other workers read that record. The run happens in a copy of this checkout made to look like a
user's clone (a tag, an uncommitted edit, an untracked file), whose git state is compared before
and after. The demo stopped part way is tests/e2e/test_demo_stops.py; how the story is told,
line by line without a run, tests/sandbox/test_demo_story.py.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest

from releasectl_sandbox.state import processes_with_marker
from tests.support.demo import demo_argv, make_checkout, run_demo_process, scratch_dir, snapshot

# The module's tests share one demo run and, run by one worker (`--dist loadfile`), never wait
# on another worker's.
pytestmark = pytest.mark.e2e


@dataclass
class DemoRun:
    code: int
    stdout: str
    stderr: str
    seconds: float
    before: dict[str, str]
    after: dict[str, str]
    leftovers: list[int]
    svg: str
    log: str  # the full log the demo wrote

    @property
    def story(self) -> list[str]:
        """What the terminal showed (stderr under --json)."""
        return self.stderr.splitlines()

    @property
    def payload(self) -> dict[str, Any]:
        return dict(json.loads(self.stdout))


def run_full_demo(base: Path) -> DemoRun:
    checkout = make_checkout(base / "checkout")
    svg = base / "demo.svg"
    before = snapshot(checkout)
    started = time.monotonic()
    proc = run_demo_process(demo_argv("--json", "demo", "--record", str(svg)), checkout, timeout=300)
    seconds = time.monotonic() - started
    try:
        payload = json.loads(proc.stdout)
        marker, log_path = payload["sandbox"]["id"], Path(payload["log"])
    except (ValueError, KeyError, TypeError):
        marker, log_path = None, None
    log = ""
    if log_path is not None and log_path.is_file():
        log = log_path.read_text()
        log_path.unlink()
    return DemoRun(
        code=proc.returncode,
        stdout=proc.stdout,
        stderr=proc.stderr,
        seconds=seconds,
        before=before,
        after=snapshot(checkout),
        leftovers=processes_with_marker(marker) if marker else [],
        svg=svg.read_text() if svg.is_file() else "",
        log=log,
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """One full run per session, shared by pytest-xdist workers through a locked record."""
    base = tmp_path_factory.getbasetemp()
    # Workers' temp dirs share the session's; without xdist the session's own dir is the one.
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    record = shared / "releasectl-demo-run.json"
    with (shared / "releasectl-demo-run.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not record.is_file():
            run = run_full_demo(tmp_path_factory.mktemp("demo"))
            record.write_text(json.dumps(asdict(run)))
    return DemoRun(**json.loads(record.read_text()))


def act(demo: DemoRun, number: int) -> list[str]:
    """The story's lines of one act, heading first."""
    text = demo.stderr.split(f"── {number}. ", 1)[1]
    return f"── {number}. {text}".split("\n\n", 1)[0].splitlines()


def index_of(lines: list[str], pattern: str) -> int:
    found = [i for i, line in enumerate(lines) if re.search(pattern, line)]
    assert found, f"no line matches {pattern!r} in:\n" + "\n".join(lines)
    return found[0]


# ----------------------------------------------------------------------------- the full run


def test_the_demo_exits_0_with_every_step_as_expected(demo: DemoRun) -> None:
    assert demo.code == 0, demo.stderr[-4000:]
    payload = demo.payload
    assert payload["command"] == "demo"
    assert payload["outcome"] == "succeeded"
    assert [(s["act"], s["command"][1:], s["exit_code"], s["ok"]) for s in payload["steps"]] == [
        (1, ["build"], 0, True),
        (2, ["build"], 0, True),
        (3, ["build"], 1, True),
        (4, ["rollback", "--to", "0.1.0"], 0, True),
        (5, ["--json", "status"], 0, True),
        (5, ["--json", "releases"], 0, True),
        (6, ["deploy", "0.1.2", "--env", "prod"], 4, True),
        (6, ["deploy", "0.1.0", "--env", "prod"], 0, True),
        (7, ["release", "--no-deploy"], 0, True),
        (7, ["deploy", "0.1.3", "--strategy", "canary"], 1, True),
    ]


def test_a_feature_then_a_fix_then_a_broken_patch_get_the_versions_the_rules_give(demo: DemoRun) -> None:
    assert [s["version"] for s in demo.payload["steps"][:3]] == ["0.1.0", "0.1.1", "0.1.2"]


def test_the_story_fits_in_under_140_lines_of_80_columns(demo: DemoRun) -> None:
    # Seven acts: about 95 lines for the five on staging, 15 for the promotion to prod, 20 for the canary.
    assert len(demo.story) < 140, demo.stderr
    assert [line for line in demo.story if len(line) > 80] == []


def test_each_heading_names_the_rule_releasectl_version_reported_for_the_commit(demo: DemoRun) -> None:
    headings = [line for line in demo.story if re.match(r"^── [123]\. ", line)]
    assert headings == [
        "── 1. A feature → 0.1.0 (`releasectl version`: first release: 0.1.0)",
        "── 2. A fix → 0.1.1 (`releasectl version`: fix → patch)",
        "── 3. A bad release → 0.1.2 (`releasectl version`: other commits → patch)",
    ]
    rules = [s["rule"] for s in demo.payload["steps"][:3]]
    assert rules == ["first release: 0.1.0", "fix → patch", "other commits → patch"]
    assert "(first release: 0.1.0), attempt 1" in demo.stderr  # what the release in the build applied


def test_each_build_phase_is_one_line_with_its_duration(demo: DemoRun) -> None:
    phases = [
        m.groups()
        for line in demo.story
        if (m := re.match(r"^  (INSTALL|PRE_BUILD|BUILD) +(SUCCEEDED|FAILED) +\d+\.\d s(?:   (.*))?$", line))
    ]
    assert [(phase, status) for phase, status, _ in phases] == [
        *[("INSTALL", "SUCCEEDED"), ("PRE_BUILD", "SUCCEEDED"), ("BUILD", "SUCCEEDED")] * 2,
        ("INSTALL", "SUCCEEDED"),
        ("PRE_BUILD", "SUCCEEDED"),
        ("BUILD", "FAILED"),
    ]
    tests = [summary for phase, _, summary in phases if phase == "PRE_BUILD"]
    counts = {m.group(1) for summary in tests if (m := re.match(r"^(\d+) passed in ", summary or ""))}
    assert len(tests) == 3 and len(counts) == 1, tests
    assert (
        f"collected {counts.pop()} items" not in demo.stderr
    )  # the test run's own output is in the full log


def test_the_sandbox_and_the_commands_are_told_in_the_order_things_happened(demo: DemoRun) -> None:
    for number, version in ((1, "0.1.0"), (2, "0.1.1"), (3, "0.1.2")):
        lines = act(demo, number)
        releasing = index_of(lines, rf"^    releasing \w+ as {re.escape(version)} ")
        deployment = index_of(lines, r"^  sandbox: ECS deployment \S+ started")
        verdict = index_of(lines, r"^    release: (succeeded|rolled_back)")
        built = index_of(lines, r"^  build: (succeeded|failed)")
        assert releasing < deployment < verdict < built, lines
    bad = act(demo, 3)
    assert index_of(bad, r"FAILED \(circuit breaker\)") < index_of(bad, r"^    release: rolled_back")


def test_the_full_log_holds_every_line_of_the_builds_the_sandbox_and_the_commands(demo: DemoRun) -> None:
    # At 80 columns a TMPDIR longer than /tmp (macOS's, say) wraps the line: before the path, never in it.
    assert re.search(r"^Full log \(--verbose shows it here\):\s+/\S+\.log$", demo.stderr, re.MULTILINE)
    assert any(line.startswith("Full log: ") for line in demo.story[-3:])  # named again at the end
    log = demo.log
    assert log.count("Running on the releasectl sandbox") == 3
    assert len(re.findall(r"collected \d+ items", log)) == 3
    # Each once: the line `releasectl build` prints again as it follows the build's log is dropped.
    assert log.count("Running command releasectl release --env-file release.env") == 3
    assert re.search(r"sandbox: ECS task [0-9a-f]{32} of hello-world runs on 127\.0\.0\.1", log)
    assert "RELEASE_VERSION=0.1.1" in log and "Deployments" not in demo.stderr


def test_the_closing_table_lists_each_version_with_its_rule_and_outcome(demo: DemoRun) -> None:
    table = demo.stderr.split("── Summary: versions and outcomes\n", 1)[1].split("\n\n", 1)[0]
    rows = [line.split("  ") for line in table.splitlines()]
    cells = [[cell.strip() for cell in row if cell.strip()] for row in rows]
    assert cells == [
        ["act", "env", "version", "how", "exit", "outcome", "ALB then"],
        ["1", "staging", "0.1.0", "first release: 0.1.0", "0", "succeeded", "0.1.0"],
        ["2", "staging", "0.1.1", "fix → patch", "0", "succeeded", "0.1.1"],
        ["3", "staging", "0.1.2", "other commits → patch", "1", "rolled_back", "0.1.1"],
        ["4", "staging", "0.1.0", "rollback --to 0.1.0", "0", "succeeded", "0.1.0"],
        ["6", "prod", "0.1.2", "deploy --env prod", "4", "refused"],
        ["6", "prod", "0.1.0", "deploy --env prod", "0", "succeeded", "0.1.0"],
        ["7", "staging", "0.1.3", "deploy --strategy canary", "1", "rolled_back", "0.1.0"],
    ]


def test_the_alb_answers_each_good_release_and_the_first_version_after_the_rollback(demo: DemoRun) -> None:
    for number, version in ((1, "0.1.0"), (2, "0.1.1")):
        assert f"✓ the sandbox ALB answered {version} to all 4 requests" in "\n".join(act(demo, number))
    rollback = "\n".join(act(demo, 4))
    assert "rollback: succeeded" in rollback
    assert "✓ the sandbox ALB answered 0.1.0 to all 4 requests" in rollback
    assert "pinned to 0.1.0's digest" in rollback


def test_the_broken_release_is_reported_rolled_back_while_the_alb_keeps_the_previous_version(
    demo: DemoRun,
) -> None:
    act3 = demo.payload["steps"][2]
    assert any(c.startswith("ALB answered 0.1.1 throughout") for c in act3["checks"])
    assert "release reported rolled_back" in act3["checks"]
    assert act3["outcome"] == "rolled_back"
    story = "\n".join(act(demo, 3))
    assert re.search(r"^    release: rolled_back — 0\.1\.2 claimed", story, re.MULTILINE)
    assert "FAILED (circuit breaker)" in story
    assert "failed its health checks: GET /healthz answered 500" in story
    assert "build: failed" in story


def test_status_and_the_ledger_are_checked_through_the_cli(demo: DemoRun) -> None:
    story = "\n".join(act(demo, 5))
    assert "✓ `releasectl status`: version 0.1.0, rollout COMPLETED" in story
    assert "✓ `releasectl releases`: 0.1.0 succeeded, 0.1.1 succeeded, 0.1.2 rolled_back" in story


def test_before_any_release_neither_environment_runs_a_service(demo: DemoRun) -> None:
    prologue = demo.stderr.split("── 1. ", 1)[0]
    assert "Environments: staging in account 123456789012; prod in 210987654321 (role_arn)" in prologue
    assert "GET / via staging's sandbox ALB -> 503: no service until a deploy makes it" in prologue
    assert "sandbox: created ECS service hello-world in hello-world-staging" in demo.log
    # The first release made staging's service: its first deployment is the release's.
    assert re.search(
        r"^  sandbox: ECS deployment \S+ started: hello-world-staging:1$", "\n".join(act(demo, 1)), re.M
    )


def test_prod_refuses_the_version_staging_rolled_back_with_exit_4_and_stays_untouched(demo: DemoRun) -> None:
    refused = demo.payload["steps"][6]
    assert (refused["command"][1:], refused["exit_code"], refused["ok"]) == (
        ["deploy", "0.1.2", "--env", "prod"],
        4,
        True,
    )
    assert "refused before prod changed: it has no ECS service" in refused["checks"]
    story = act(demo, 6)
    assert any(line.startswith("  error: 0.1.2 may not deploy to prod") for line in story), story
    assert "✓ refused with exit 4: staging rolled 0.1.2 back; prod is untouched (no service)" in story


def test_after_the_approval_prod_runs_the_digest_staging_runs(demo: DemoRun) -> None:
    story = act(demo, 6)
    refusal = index_of(story, r"^✓ refused with exit 4")
    approval = index_of(story, r"^Approval: on AWS the pipeline's manual approval action")
    deploy = index_of(story, r"^\$ releasectl deploy 0\.1\.0 --env prod$")
    gate = index_of(story, r"^  gate: 0\.1\.0 succeeded in staging with sha256:")
    verdict = index_of(story, r"^  deploy: succeeded")
    assert refusal < approval < deploy < gate < verdict, story
    promoted = demo.payload["steps"][7]
    digest = promoted["checks"][-1].rsplit(": ", 1)[1]
    assert promoted["checks"][-1] == f"prod and staging run one digest: {digest}"
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    assert f"✓ staging and prod run one image: {digest[:19]} (hello-world-prod:1)" in story
    assert "✓ prod's ALB answered 0.1.0 to all 4 requests" in story
    assert promoted["env"] == "prod" and promoted["alb"] == "0.1.0"


def test_prod_lives_in_a_second_account_reached_through_its_role(demo: DemoRun) -> None:
    assert "arn:aws:ecs:us-east-1:210987654321:task-definition/hello-world-prod:1" in demo.log
    assert "arn:aws:iam::210987654321:role/hello-world-prod-deploy" in demo.log
    assert "task-definition/hello-world-staging:" in demo.log
    assert "210987654321:task-definition/hello-world-staging" not in demo.log


def test_the_canary_of_a_release_answering_500_is_caught_at_10_percent_by_the_5xx_alarm(
    demo: DemoRun,
) -> None:
    story = act(demo, 7)
    assert story[0] == "── 7. A canary → 0.1.3 (`releasectl version`: fix → patch)"
    deploy = index_of(story, r"^\$ releasectl deploy 0\.1\.3 --strategy canary$")
    test = index_of(story, r"^  sandbox: ECS: TEST_TRAFFIC_SHIFT, production 100/0, test 0/100$")
    canary = index_of(story, r"^  sandbox: ECS: PRODUCTION_TRAFFIC_SHIFT, production 90/10, test 0/100$")
    alarm = index_of(
        story, r"^  sandbox: alarm hello-world-staging-target-5xx ALARM: 5xx over 5% in 2 of 3 min$"
    )
    failed = index_of(story, r"^  sandbox: ECS deployment \S+ FAILED \(alarm\)$")
    verdict = index_of(story, r"^  deploy: rolled_back — ")
    assert deploy < test < canary < alarm < failed < verdict, story
    step = demo.payload["steps"][-1]
    assert (step["outcome"], step["alb"]) == ("rolled_back", "0.1.0")
    assert "rolled back by the alarm hello-world-staging-target-5xx" in step["checks"]


def test_at_most_15_percent_of_the_requests_sent_during_the_canary_reached_the_bad_release(
    demo: DemoRun,
) -> None:
    story = " ".join(line.strip() for line in act(demo, 7))
    found = re.search(
        r"(\d+) requests via the sandbox ALB during the canary: 0\.1\.0 (\d+) \([\d.]+ %, all 200\), "
        r"0\.1\.3 (\d+) \([\d.]+ %, all 500\)",
        story,
    )
    assert found, story
    total, good, bad = (int(n) for n in found.groups())
    assert good + bad == total and 0 < bad <= 0.15 * total, found.group(0)
    assert f"{good} of {total} requests never reached 0.1.3" in demo.payload["steps"][-1]["checks"]
    assert re.search(r"✓ caught at 10 %: \d+ % of the requests sent during it never saw 0\.1\.3", story)


def test_the_demo_says_it_runs_locally_against_the_sandbox(demo: DemoRun) -> None:
    assert "locally, against the releasectl sandbox" in demo.stderr
    assert "sandbox: AWS endpoint (moto" in demo.stderr
    assert "via staging's sandbox ALB" in demo.stderr


def test_under_json_stdout_holds_only_the_one_result_object(demo: DemoRun) -> None:
    assert demo.stdout.lstrip().startswith("{")
    assert demo.payload["leftover_processes"] == []
    assert "── 1." not in demo.stdout


def test_record_saves_the_story_as_svg(demo: DemoRun) -> None:
    assert demo.svg.lstrip().startswith("<svg")
    for text in (
        "releasectl&#160;demo",
        "rolled_back",
        "0.1.1",
        "Summary:&#160;versions&#160;and&#160;outcomes",
    ):
        assert text in demo.svg


def test_no_process_the_demo_started_remains_after_it_succeeds(demo: DemoRun) -> None:
    assert demo.payload["sandbox"]["id"]
    assert demo.leftovers == []
    assert not scratch_dir(demo.stderr).exists()


def test_the_users_repository_is_untouched(demo: DemoRun) -> None:
    assert demo.after == demo.before
    assert "Scratch copy of 'checkout' (" in demo.stderr
