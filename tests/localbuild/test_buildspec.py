"""buildspec.yml: the repository's own file, and what the parser accepts and rejects."""

from __future__ import annotations

import re
import shlex

import pytest

from releasectl.core.errors import ExitCode, UsageError
from releasectl.localbuild.buildspec import PHASE_NAMES, Buildspec, parse_buildspec
from tests.support.paths import ROOT

SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL|PRIVATE|ACCESS_KEY", re.IGNORECASE)
SECRET_VALUE = re.compile(r"AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|[A-Za-z0-9/+=]{40}")


@pytest.fixture(scope="module")
def spec() -> Buildspec:
    return parse_buildspec((ROOT / "buildspec.yml").read_text(encoding="utf-8"))


def all_commands(spec: Buildspec) -> list[str]:
    return [c for p in spec.phases for c in (*p.commands, *p.finally_commands)]


# ----------------------------------------------------------------------------- the repository's buildspec.yml


def test_repository_buildspec_is_version_0_2(spec: Buildspec) -> None:
    assert spec.version == "0.2"


def test_repository_buildspec_runs_in_bash(spec: Buildspec) -> None:
    assert spec.shell == "bash"


def test_repository_buildspec_exports_the_release_variables(spec: Buildspec) -> None:
    assert {"RELEASE_VERSION", "IMAGE_URI", "IMAGE_DIGEST"} <= set(spec.exported_variables)


def test_repository_buildspec_aborts_on_failure_in_every_phase(spec: Buildspec) -> None:
    assert spec.phases, "no phases"
    assert {p.name: p.on_failure for p in spec.phases} == {p.name: "ABORT" for p in spec.phases}


def test_repository_buildspec_has_install_pre_build_and_build_in_order(spec: Buildspec) -> None:
    names = [p.name for p in spec.phases]
    assert names[:3] == ["install", "pre_build", "build"]


def test_repository_buildspec_installs_releasectl_from_the_checkout(spec: Buildspec) -> None:
    install = spec.phase("install")
    assert install is not None
    assert any(re.search(r"pip install .*'?\.(\[[a-z,]+\])?'?(\s|$)", c) for c in install.commands)


def test_repository_buildspec_installs_into_a_virtualenv_inside_the_checkout(spec: Buildspec) -> None:
    install = spec.phase("install")
    assert install is not None
    assert any("venv" in c and "$CODEBUILD_SRC_DIR" in c for c in install.commands)


def test_repository_buildspec_runs_the_fast_unit_tests_with_a_junit_report(spec: Buildspec) -> None:
    pre_build = spec.phase("pre_build")
    assert pre_build is not None
    pytest_commands = [c for c in pre_build.commands if "pytest" in c]
    assert len(pytest_commands) == 1
    words = shlex.split(pytest_commands[0])
    assert "not slow" in words
    assert any(w.startswith("--junitxml=") for w in words)


def test_repository_buildspec_reports_the_junit_file_pytest_writes(spec: Buildspec) -> None:
    pre_build = spec.phase("pre_build")
    assert pre_build is not None
    junit = next(
        w.split("=", 1)[1] for c in pre_build.commands for w in shlex.split(c) if w.startswith("--junitxml=")
    )
    assert len(spec.reports) == 1
    group = spec.reports[0]
    assert group.file_format == "JUNITXML"
    reported = [f"{group.base_directory}/{f}" if group.base_directory else f for f in group.files]
    assert junit in reported


def test_repository_buildspec_build_phase_runs_releasectl_release(spec: Buildspec) -> None:
    build = spec.phase("build")
    assert build is not None
    assert any(shlex.split(c)[:2] == ["releasectl", "release"] for c in build.commands)


def test_repository_buildspec_sources_the_env_file_release_writes(spec: Buildspec) -> None:
    build = spec.phase("build")
    assert build is not None
    release = next(shlex.split(c) for c in build.commands if c.startswith("releasectl release"))
    env_file = release[release.index("--env-file") + 1]
    assert any(f"source {env_file}" in c or f". {env_file}" in c for c in build.finally_commands)


def test_repository_buildspec_has_no_secret_looking_variables(spec: Buildspec) -> None:
    for name, value in spec.variables.items():
        assert not SECRET_NAME.search(name), name
        assert not SECRET_VALUE.search(value), name
    assert not spec.parameter_store or all(not SECRET_VALUE.search(v) for v in spec.parameter_store.values())


def test_repository_buildspec_has_no_credentials_in_commands(spec: Buildspec) -> None:
    for command in all_commands(spec):
        assert not SECRET_VALUE.search(command), command
        assert "AWS_SECRET_ACCESS_KEY" not in command


def test_repository_buildspec_publishes_imagedefinitions_as_artifact(spec: Buildspec) -> None:
    assert spec.artifacts is not None
    assert "imagedefinitions.json" in spec.artifacts.files


# ----------------------------------------------------------------------------- parsing


MINIMAL = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n"


def test_parse_reads_commands_as_text_even_when_yaml_would_make_them_booleans() -> None:
    spec = parse_buildspec("version: 0.2\nphases:\n  build:\n    commands:\n      - true\n      - 1\n")
    build = spec.phase("build")
    assert build is not None
    assert build.commands == ("true", "1")


def test_parse_keeps_phases_in_codebuild_order_whatever_the_file_order() -> None:
    text = (
        "version: 0.2\nphases:\n  post_build:\n    commands: [c]\n  build:\n    commands: [b]\n"
        "  install:\n    commands: [a]\n"
    )
    assert [p.name for p in parse_buildspec(text).phases] == ["install", "build", "post_build"]


def test_parse_reads_finally_and_on_failure() -> None:
    text = "version: 0.2\nphases:\n  build:\n    on-failure: continue\n    commands: [a]\n    finally: [b]\n"
    build = parse_buildspec(text).phase("build")
    assert build is not None
    assert (build.on_failure, build.aborts, build.finally_commands) == ("CONTINUE", False, ("b",))


def test_phase_without_on_failure_aborts_like_codebuilds_default() -> None:
    build = parse_buildspec(MINIMAL).phase("build")
    assert build is not None
    assert build.on_failure is None
    assert build.aborts


def test_parse_reads_env_variables_and_exported_names() -> None:
    text = (
        "version: 0.2\nenv:\n  variables:\n    A: 'x y'\n  exported-variables:\n    - A\n"
        "phases:\n  build:\n    commands: [true]\n"
    )
    spec = parse_buildspec(text)
    assert (dict(spec.variables), spec.exported_variables) == ({"A": "x y"}, ("A",))


def test_install_phase_may_have_only_runtime_versions() -> None:
    spec = parse_buildspec("version: 0.2\nphases:\n  install:\n    runtime-versions:\n      python: 3.12\n")
    install = spec.phase("install")
    assert install is not None
    assert (install.commands, dict(install.runtime_versions)) == ((), {"python": "3.12"})


def test_phase_type_is_the_api_name() -> None:
    spec = parse_buildspec(
        "version: 0.2\nphases:\n  pre_build:\n    commands: [a]\n  post_build:\n    commands: [b]\n"
    )
    assert [p.phase_type for p in spec.phases] == ["PRE_BUILD", "POST_BUILD"]
    assert set(PHASE_NAMES) >= {p.name for p in spec.phases}


INVALID = [
    ("phases:\n  build:\n    commands: [a]\n", "version"),
    ("version: 0.1\nphases:\n  build:\n    commands: [a]\n", "version"),
    ("version: 0.2\n", "phases"),
    ("version: 0.2\nphase:\n  build:\n    commands: [a]\n", "phase "),
    ("version: 0.2\nphases:\n  prebuild:\n    commands: [a]\n", "phases.prebuild"),
    ("version: 0.2\nphases:\n  build:\n    on-failure: ABORT\n", "phases.build.commands"),
    ("version: 0.2\nphases:\n  build:\n    commands: echo hi\n", "phases.build.commands"),
    ("version: 0.2\nphases:\n  build:\n    commands: [a, [b]]\n", "phases.build.commands[1]"),
    ("version: 0.2\nphases:\n  build:\n    commands: [a]\n    finally: b\n", "phases.build.finally"),
    (
        "version: 0.2\nphases:\n  build:\n    on-failure: RETRY-3\n    commands: [a]\n",
        "phases.build.on-failure",
    ),
    ("version: 0.2\nphases:\n  build:\n    commnds: [a]\n", "phases.build.commnds"),
    (
        "version: 0.2\nphases:\n  build:\n    runtime-versions: {python: 3.12}\n    commands: [a]\n",
        "phases.build.runtime-versions",
    ),
    ("version: 0.2\nenv:\n  shell: zsh\nphases:\n  build:\n    commands: [a]\n", "env.shell"),
    (
        "version: 0.2\nenv:\n  variables:\n    CODEBUILD_X: '1'\nphases:\n  build:\n    commands: [a]\n",
        "env.variables.CODEBUILD_X",
    ),
    (
        "version: 0.2\nenv:\n  variables:\n    BAD-NAME: '1'\nphases:\n  build:\n    commands: [a]\n",
        "env.variables.BAD-NAME",
    ),
    (
        "version: 0.2\nenv:\n  exported-variables: [AWS_REGION]\nphases:\n  build:\n    commands: [a]\n",
        "env.exported-variables[0]",
    ),
    (
        "version: 0.2\nenv:\n  exported-variables: A\nphases:\n  build:\n    commands: [a]\n",
        "env.exported-variables",
    ),
    ("version: 0.2\nenv:\n  secret: x\nphases:\n  build:\n    commands: [a]\n", "env.secret"),
    (
        "version: 0.2\nphases:\n  build:\n    commands: [a]\nreports:\n  unit:\n    file-format: JUNITXML\n",
        "reports.unit.files",
    ),
    (
        "version: 0.2\nphases:\n  build:\n    commands: [a]\n"
        "reports:\n  unit:\n    files: [x]\n    file-format: XUNIT\n",
        "reports.unit.file-format",
    ),
    ("version: 0.2\nphases:\n  build:\n    commands: [a]\nartifacts:\n  name: x\n", "artifacts.files"),
]


@pytest.mark.parametrize(("text", "key"), INVALID, ids=[key for _, key in INVALID])
def test_invalid_buildspec_is_a_usage_error_naming_the_key(text: str, key: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_buildspec(text)
    assert key in caught.value.message
    assert caught.value.exit_code == ExitCode.USAGE


def test_yaml_syntax_error_is_a_usage_error_with_the_line() -> None:
    with pytest.raises(UsageError, match=r"buildspec.yml is not valid YAML at line 3: mapping values"):
        parse_buildspec("version: 0.2\nphases:\n  build: commands: [a]\n")


def test_buildspec_that_is_not_a_mapping_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="must be a YAML mapping"):
        parse_buildspec("- just\n- a list\n")


def test_usage_error_names_the_source_it_was_given() -> None:
    with pytest.raises(UsageError, match=r"^ci/buildspec-x\.yml: version"):
        parse_buildspec("phases: {}\n", source="ci/buildspec-x.yml")
