"""Output for people fits the width it is read at: COLUMNS if set, else the terminal's width, else 80.

Every table row stays one line; --json is never shortened.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from releasectl.cli.render import output_width, write_table, write_view
from releasectl.commands.status import StatusView
from tests.support.cli import run_cli
from tests.support.git import GitRepo
from tests.support.service_world import ServiceWorld

LONG_MESSAGE = (
    "(service hello-world) has started 2 tasks: (task 0123456789abcdef0123456789abcdef) "
    "(task fedcba9876543210fedcba9876543210)."
)


# ECR with three releases (floating tags on one); the service runs the first by digest.
pytestmark = pytest.mark.releases(
    {
        "1.1.0": ["1.1.0", "git-" + "1" * 40],
        "1.2.0": ["1.2.0", "git-" + "2" * 40, "latest", "prod", "staging"],
        "1.10.0-rc.3": ["1.10.0-rc.3", "git-" + "3" * 40],
    },
    running="1.1.0",
)


def lines_of(text: str) -> list[str]:
    return text.rstrip("\n").split("\n")


def table_rows(text: str) -> list[str]:
    """The body rows of rich tables (header rows use ┃, borders other characters)."""
    return [line for line in lines_of(text) if line.startswith("│")]


def widest(text: str) -> int:
    return max(len(line) for line in lines_of(text))


# ----------------------------------------------------------------------------- width


def test_tables_are_80_columns_wide_when_stdout_is_not_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    write_table("Recent events", ["time", "message"], [["2024-05-01T12:00:00+00:00", LONG_MESSAGE]])
    out = capsys.readouterr().out
    assert widest(out) == 80
    assert len(table_rows(out)) == 1


def test_columns_decides_the_width(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    write_table("Recent events", ["time", "message"], [["2024-05-01T12:00:00+00:00", LONG_MESSAGE]])
    out = capsys.readouterr().out
    assert widest(out) == 100
    assert len(table_rows(out)) == 1


def test_a_terminal_gives_its_own_width(monkeypatch: pytest.MonkeyPatch) -> None:
    import fcntl
    import struct
    import termios

    monkeypatch.delenv("COLUMNS", raising=False)
    leader, follower = os.openpty()
    try:
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 132, 0, 0))
        with open(follower, "w", closefd=False) as terminal:
            assert output_width(terminal) == 132
    finally:
        os.close(leader)
        os.close(follower)


def test_a_cell_that_does_not_fit_ends_in_an_ellipsis_on_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    rows = [["1.2.0", LONG_MESSAGE], ["1.10.0-rc.3", "short"]]
    write_table("Releases", ["version", "note"], rows)
    out = capsys.readouterr().out
    body = table_rows(out)
    assert len(body) == 2 and widest(out) <= 60
    assert body[0].rstrip(" │").endswith("…")
    assert "1.10.0-rc.3" in body[1]  # the first column, which names the row, gives way last


def test_cells_are_printed_as_given_not_read_as_markup(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    write_table("Commits", ["subject"], [["fix: keep [bold]literal[/bold] brackets"]])
    assert "[bold]literal[/bold]" in capsys.readouterr().out


def status_data(*, events: int = 5) -> dict[str, Any]:
    image = "123456789012.dkr.ecr.eu-north-1.amazonaws.com/hello-world@sha256:" + "ab" * 32
    arn = "arn:aws:ecs:eu-north-1:123456789012:task-definition/hello-world:12"
    deployment = {
        "id": "ecs-svc/1234567890123456789",
        "status": "PRIMARY",
        "task_definition": arn,
        "rollout_state": "IN_PROGRESS",
        "rollout_state_reason": "ECS deployment ecs-svc/1234567890123456789 in progress.",
        "running": 1,
        "desired": 2,
        "pending": 1,
        "failed_tasks": 3,
        "created_at": "2024-05-01T12:00:00+00:00",
    }
    return {
        "service": "hello-world",
        "cluster": "production-web-cluster",
        "version": "1.2.0",
        "version_source": "task definition tag",
        "digest": "sha256:" + "ab" * 32,
        "image": image,
        "task_definition": arn,
        "recorded_outcome": "succeeded",
        "rollout_state": "IN_PROGRESS",
        "rollout_state_reason": None,
        "running": 1,
        "desired": 2,
        "pending": 1,
        "deployments": [deployment, {**deployment, "id": "ecs-svc/9876543210987654321", "status": "ACTIVE"}],
        "events": [{"created_at": "2024-05-01T12:00:00+00:00", "message": LONG_MESSAGE}] * events,
    }


def test_status_at_80_columns_fits_and_keeps_one_line_per_row(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    write_view(StatusView(status_data(events=5)), json_output=False)
    out = capsys.readouterr().out
    assert widest(out) <= 80
    assert len(table_rows(out)) == 2 + 5
    assert "image     hello-world@sha256:abababababab" in out
    assert "task def  hello-world:12 (last outcome: succeeded)" in out


def test_status_prints_whole_values_when_the_width_allows(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    data = status_data()
    write_view(StatusView(data), json_output=False)
    out = capsys.readouterr().out
    assert f"image     {data['image']}" in out
    assert f"task def  {data['task_definition']} (last outcome: succeeded)" in out


def at_80(service_world: ServiceWorld, *args: str) -> Any:
    result = service_world.cli(*args, COLUMNS="80")
    assert result.code == 0, result.stderr
    return result


def test_status_of_a_real_service_fits_80_columns(service_world: ServiceWorld) -> None:
    data = json.loads(at_80(service_world, "status", "--json").stdout)
    out = at_80(service_world, "status").stdout
    assert widest(out) <= 80
    assert len(table_rows(out)) == len(data["deployments"]) + len(data["events"])


def test_releases_fit_80_columns_one_line_each(service_world: ServiceWorld) -> None:
    out = at_80(service_world, "releases").stdout
    assert widest(out) <= 80
    rows = table_rows(out)
    assert len(rows) == 3
    assert any("1.10.0-rc.3" in row for row in rows)


def test_version_fits_80_columns_one_line_per_commit(git_repo: GitRepo) -> None:
    git_repo.commit("feat: first")
    git_repo.tag("v0.1.0")
    subjects = [
        f"fix: {n} " + "a subject that runs on well past the edge of an eighty column window"
        for n in range(3)
    ]
    for subject in subjects:
        git_repo.commit(subject)
    result = run_cli("version", "--offline", cwd=git_repo.path, env={"COLUMNS": "80"})
    assert result.code == 0, result.stderr
    assert widest(result.stdout) <= 80
    reasons = [line for line in lines_of(result.stdout) if line.startswith("  ")]
    assert len(reasons) == len(subjects)
    assert all(line.endswith("…") for line in reasons)


def test_doctor_fits_80_columns_folding_each_fix_under_its_check(git_repo: GitRepo) -> None:
    git_repo.commit("feat: first")
    result = run_cli("doctor", cwd=git_repo.path, env={"COLUMNS": "80"})
    assert result.code == 4  # nothing is configured: checks fail, each with its fix
    lines = lines_of(result.stdout)
    assert max(len(line) for line in lines) <= 80
    checks = json.loads(run_cli("--json", "doctor", cwd=git_repo.path).stdout)["checks"]
    starts = [line for line in lines if not line.startswith(" ")]
    assert len(starts) == len(checks) + 1  # each check starts one line, then the summary
    detail_column = lines[0].index(checks[0]["detail"])
    continued = [line for line in lines if line.startswith(" ")]
    assert continued, "a fix longer than 80 columns folds"
    assert all(line.startswith(" " * detail_column) for line in continued)  # under its check's details
    fixes = " ".join(" ".join(lines).split())
    for check in checks:
        if check["hint"]:
            assert " ".join(check["hint"].split()) in fixes  # whole, not cut
