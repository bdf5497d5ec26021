"""The settings of operating the service: migrate_command and notify (releasectl/core/config.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from releasectl.core.config import load_config
from releasectl.core.errors import UsageError

TOPIC = "arn:aws:sns:eu-west-1:111122223333:releases"


def config_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text(f"[tool.releasectl]\n{body}\n")
    return path


def test_migrate_command_is_a_list_of_words(tmp_path: Path) -> None:
    path = config_file(tmp_path, 'migrate_command = ["python", "-m", "service.migrate", "--to", "head"]')
    config = load_config(env={}, config_path=path)
    assert config.migrate_command == ("python", "-m", "service.migrate", "--to", "head")


def test_migrate_command_from_the_environment_is_split_as_a_shell_would() -> None:
    config = load_config(env={"RELEASECTL_MIGRATE_COMMAND": "python -c 'print(1)'"}, cwd=Path("/"))
    assert config.migrate_command == ("python", "-c", "print(1)")


@pytest.mark.parametrize("value", ['["python", ""]', "[1, 2]", "3", '"python \'unclosed"'])
def test_a_migrate_command_that_is_no_list_of_words_is_a_usage_error(tmp_path: Path, value: str) -> None:
    with pytest.raises(UsageError, match="migrate_command"):
        load_config(env={}, config_path=config_file(tmp_path, f"migrate_command = {value}"))


def test_notify_names_variables_holding_webhook_urls_and_sns_topics(tmp_path: Path) -> None:
    path = config_file(tmp_path, f'notify = ["SLACK_WEBHOOK_URL", "{TOPIC}", "SLACK_WEBHOOK_URL"]')
    assert load_config(env={}, config_path=path).notify == ("SLACK_WEBHOOK_URL", TOPIC)
    from_env = load_config(env={"RELEASECTL_NOTIFY": f"OPS_HOOK,{TOPIC}"}, cwd=Path("/"))
    assert from_env.notify == ("OPS_HOOK", TOPIC)


def test_a_webhook_url_written_in_the_config_is_refused_without_being_echoed(tmp_path: Path) -> None:
    secret = "https://hooks.example.com/services/T000/B000/notarealsecretpath"  # pragma: allowlist secret
    with pytest.raises(UsageError) as caught:
        load_config(env={}, config_path=config_file(tmp_path, f'notify = ["{secret}"]'))
    assert "notarealsecretpath" not in caught.value.one_line()
    assert "environment variable" in caught.value.one_line()


@pytest.mark.parametrize(
    "value", ["arn:aws:sns:eu-west-1:1111:releases", "not a name", "arn:aws:sqs:eu-west-1:111122223333:q"]
)
def test_a_notify_target_that_is_neither_a_variable_name_nor_a_topic_is_a_usage_error(
    tmp_path: Path, value: str
) -> None:
    with pytest.raises(UsageError, match="notify"):
        load_config(env={}, config_path=config_file(tmp_path, f'notify = ["{value}"]'))
