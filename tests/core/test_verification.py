"""What the test listener's answers mean for a release: the version, the commit, the health."""

from __future__ import annotations

import json

from releasectl.core.verification import Answer, VerifySettings, judge

COMMIT = "0123456789abcdef0123456789abcdef01234567"
SETTINGS = VerifySettings(url="http://lb.example:9000")


def version_answer(version: str, commit: str = COMMIT) -> Answer:
    return Answer(status=200, body=json.dumps({"version": version, "commit": commit}).encode())


def problem(answer: Answer, what: str = "version", settings: VerifySettings = SETTINGS) -> str | None:
    return judge(what, settings.url + "/version", answer, settings=settings, version="1.2.0", commit=COMMIT)


def test_the_released_version_and_commit_pass() -> None:
    assert problem(version_answer("1.2.0")) is None
    assert problem(version_answer("1.2.0", COMMIT[:12])) is None


def test_another_version_or_commit_fails_naming_what_was_seen() -> None:
    assert "reports version '1.1.0', not 1.2.0" in str(problem(version_answer("1.1.0")))
    assert "reports commit 'ffffffffffff'" in str(problem(version_answer("1.2.0", "f" * 12)))


def test_expectations_can_be_turned_off() -> None:
    lax = VerifySettings(url=SETTINGS.url, expect_version=False, expect_commit=False)
    assert problem(version_answer("9.9.9", "f" * 40), settings=lax) is None


def test_errors_statuses_and_bodies_that_are_no_version() -> None:
    assert "did not answer (timed out)" in str(problem(Answer(status=None, error="timed out")))
    assert "answered HTTP 503" in str(problem(Answer(status=503), what="health"))
    assert "not JSON" in str(problem(Answer(status=200, body=b"<html>")))
    assert problem(Answer(status=200), what="health") is None


def test_settings_come_from_the_verify_table_and_without_a_url_there_is_no_check() -> None:
    assert VerifySettings.from_spec({"service": {}}) is None
    settings = VerifySettings.from_spec(
        {
            "service": {
                "verify": {
                    "url": "http://lb:9000/",
                    "health_path": False,
                    "version_path": "/v",
                    "attempts": 5,
                }
            }
        }
    )
    assert settings is not None
    assert settings.urls() == [("version", "http://lb:9000/v")]
    assert settings.attempts == 5
