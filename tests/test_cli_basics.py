"""The CLI's contract independent of any one command: help, version, usage errors, --json errors."""

from __future__ import annotations

import json
from pathlib import Path

from releasectl import __version__
from tests.conftest import run_cli


def test_version_flag_prints_the_package_version() -> None:
    result = run_cli("--version")
    assert result.code == 0
    assert result.stdout.strip() == f"releasectl {__version__}"


def test_version_flag_is_answered_without_importing_the_cli_framework() -> None:
    result = run_cli("-c", "pass")  # sanity: the helper runs python -m releasectl
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
        "import sys\nfrom releasectl.cli import run\nrun(['--help'])\n"
        "print('MODULES', 'rich' in sys.modules, 'boto3' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "MODULES False False"
