"""The CLI's contract independent of any one command: help, version, usage errors, --json errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from releasectl import __version__
from tests.support.cli import run_cli


def test_version_flag_prints_the_package_version() -> None:
    result = run_cli("--version")
    assert result.code == 0
    assert result.stdout.strip() == f"releasectl {__version__}"


def test_version_flag_is_answered_without_importing_the_cli_framework() -> None:
    result = run_cli("-c", "pass", process=True)  # sanity: the helper runs python -m releasectl
    assert result.code == 2
    import subprocess
    import sys

    probe = (
        "import sys; from releasectl.__main__ import main; main(['--version']);"
        "print('typer' in sys.modules, 'boto3' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "False False"


def test_help_lists_every_exit_code() -> None:
    result = run_cli("--help")
    assert result.code == 0
    for code in ("0", "1", "2", "3", "4", "5", "130"):
        assert f"\n    {code} " in result.stdout


def test_unknown_command_is_exit_2_with_one_line() -> None:
    result = run_cli("frobnicate")
    assert result.code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "frobnicate" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_option_is_exit_2_with_one_line() -> None:
    result = run_cli("deploy", "--wiggle")
    assert result.code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "--wiggle" in result.stderr


def test_bad_config_value_is_exit_2_and_json_mode_still_prints_one_object(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.releasectl]\ndeploy_timeout = "never"\n')
    result = run_cli("--json", "status", cwd=tmp_path)
    assert result.code == 2
    payload = json.loads(result.stdout)
    assert payload["outcome"] == "error"
    assert payload["exit_code"] == 2
    assert "deploy_timeout" in payload["message"]
    assert len(result.stderr.strip().splitlines()) == 1


def test_help_does_not_import_rich_or_boto3() -> None:
    import subprocess
    import sys

    probe = (
        "import sys\nfrom releasectl.cli.app import run\nrun(['--help'])\n"
        "print('MODULES', 'rich' in sys.modules, 'boto3' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "MODULES False False"


# ----------------------------------------------------------------------------- help


def test_no_arguments_prints_the_help_on_stdout_and_exits_0() -> None:
    result = run_cli()
    assert result.code == 0
    assert result.stdout.startswith("Usage: releasectl [OPTIONS] COMMAND")
    assert "Exit codes:" in result.stdout
    assert result.stderr == ""


def test_a_group_without_its_subcommand_prints_its_help_and_exits_0() -> None:
    result = run_cli("infra")
    assert result.code == 0
    assert result.stdout.startswith("Usage: releasectl infra [OPTIONS] COMMAND")
    assert result.stderr == ""


def test_an_unknown_command_gets_one_suggestion() -> None:
    result = run_cli("lgs")
    assert result.code == 2
    assert result.stderr.count("Did you mean") == 1
    assert "'logs'" in result.stderr


def command_paths() -> list[tuple[str, ...]]:
    import click
    import typer

    from releasectl.cli import app as cli
    from releasectl.cli.options import walk

    root = typer.main.get_command(cli.app)
    assert isinstance(root, click.Group)
    return [path for path, command in walk(root) if path and not isinstance(command, click.Group)]


def help_of(*path: str, capsys: pytest.CaptureFixture[str]) -> str:
    from releasectl.cli.app import run

    assert run([*path, "--help"]) == 0
    return capsys.readouterr().out


def test_every_command_has_its_own_exit_codes_and_no_stale_entry_remains() -> None:
    from releasectl.cli.options import COMMAND_EXIT_CODES

    assert {" ".join(path) for path in command_paths()} == set(COMMAND_EXIT_CODES)


@pytest.mark.parametrize("path", command_paths(), ids=" ".join)
def test_every_command_help_lists_the_exit_codes_it_can_return(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    from releasectl.cli.options import COMMAND_EXIT_CODES
    from releasectl.core.errors import ExitCode

    text = help_of(*path, capsys=capsys)
    assert "Exit codes:" in text
    listed = [
        int(line.split()[0])
        for line in text.split("Exit codes:")[1].splitlines()
        if line[:6].strip().isdigit()
    ]
    assert set(listed) <= {int(code) for code in ExitCode}
    assert {0, 2, 130} <= set(listed)
    assert set(listed) == {0, 2, 130} | {code for code, _ in COMMAND_EXIT_CODES[" ".join(path)]}


def test_deploy_help_names_the_version_and_timeout_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    text = " ".join(help_of("deploy", capsys=capsys).split())
    assert "[VERSION] Released version, e.g. 1.2.0. [default: (newest release)]" in text
    assert "[default: (deploy_timeout from config, 900)" in text
    assert "4 VERSION is not released" in text


def test_rollback_help_names_what_it_goes_back_to_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    text = " ".join(help_of("rollback", capsys=capsys).split())
    assert "--to TEXT Version to go back to. [default: (newest earlier healthy version)]" in text


def test_bump_help_lists_the_level_choices(capsys: pytest.CaptureFixture[str]) -> None:
    text = " ".join(help_of("bump", capsys=capsys).split())
    assert (
        "[LEVEL] auto (from the commits since the last release), major, minor or patch. [default: auto]"
        in text
    )


def test_arguments_are_described_once(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_of("logs", capsys=capsys)
    assert text.count("CodeBuild build id (project:uuid).") == 1
