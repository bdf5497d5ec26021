"""Dockerfile parsing and image-config evaluation follow the Dockerfile reference."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from releasectl.core.errors import UsageError
from releasectl_sandbox.dockerfile import CopyStep, Healthcheck, image_config, parse
from releasectl_sandbox.dockerfile_words import expand, split_words


def config_of(body: str, **build_args: str):  # type: ignore[no-untyped-def]
    return image_config(f"FROM python:3.12.8-slim\n{body}", build_args)


def test_continuations_join_lines_and_comments_inside_them_are_dropped() -> None:
    text = (
        "# syntax=docker/dockerfile:1\nFROM base\n\n"
        "RUN apt-get update \\\n# a comment\n\n    && echo done\nUSER 1\n"
    )
    instructions = parse(text)
    assert [(i.keyword, i.line) for i in instructions] == [("FROM", 2), ("RUN", 4), ("USER", 8)]
    assert instructions[1].value == "apt-get update     && echo done"


def test_a_trailing_continuation_at_end_of_file_still_ends_the_instruction() -> None:
    assert parse("FROM base\nCMD echo hi \\")[-1].value == "echo hi"


def test_keywords_are_case_insensitive_and_flags_are_separated() -> None:
    (copy,) = parse("copy --chown=10001:10001 --link a b")
    assert (copy.keyword, copy.flags, copy.value) == (
        "COPY",
        (("chown", "10001:10001"), ("link", None)),
        "a b",
    )


def test_json_arrays_are_exec_form_and_anything_else_is_shell_form() -> None:
    exec_cmd, shell_cmd, broken = parse('CMD ["python", "app.py"]\nCMD python app.py\nCMD ["python", 1]')
    assert exec_cmd.exec_form == ("python", "app.py")
    assert shell_cmd.exec_form is None
    assert broken.exec_form is None


def test_cmd_and_entrypoint_keep_exec_form_and_wrap_shell_form_in_the_shell() -> None:
    config = config_of('ENTRYPOINT ["tini", "--"]\nCMD python -m app $PORT')
    assert config.entrypoint == ["tini", "--"]
    assert config.cmd == ["/bin/sh", "-c", "python -m app $PORT"]
    assert config.command() == ["tini", "--", "/bin/sh", "-c", "python -m app $PORT"]


def test_shell_changes_how_later_shell_forms_run() -> None:
    config = config_of('SHELL ["/bin/bash", "-o", "pipefail", "-c"]\nRUN a | b\nCMD serve')
    assert config.runs == [["/bin/bash", "-o", "pipefail", "-c", "a | b"]]
    assert config.cmd == ["/bin/bash", "-o", "pipefail", "-c", "serve"]


def test_entrypoint_clears_an_inherited_cmd_but_not_one_set_earlier() -> None:
    assert config_of('ENTRYPOINT ["app"]').cmd == []
    assert config_of('CMD ["--serve"]\nENTRYPOINT ["app"]').cmd == ["--serve"]
    assert config_of("USER 1").cmd is None


def test_env_accepts_pairs_with_quotes_and_the_legacy_form() -> None:
    config = config_of("ENV A=1 B=\"two words\" C='$literal' D=a\\ b\nENV LEGACY value with spaces")
    assert config.env == {
        "A": "1",
        "B": "two words",
        "C": "$literal",
        "D": "a b",
        "LEGACY": "value with spaces",
    }


def test_env_values_expand_earlier_env_and_args() -> None:
    config = config_of("ARG BASE=/opt\nENV HOME_DIR=$BASE/app BIN=${HOME_DIR}/bin ESC=\\$HOME_DIR")
    # Docker expands a whole ENV line against the state before it, so BIN does not see HOME_DIR yet.
    assert config.env == {"HOME_DIR": "/opt/app", "BIN": "/bin", "ESC": "$HOME_DIR"}


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("$SET", "value"),
        ("${SET}", "value"),
        ("${UNSET}", ""),
        ("${UNSET:-fallback}", "fallback"),
        ("${EMPTY:-fallback}", "fallback"),
        ("${EMPTY-fallback}", ""),
        ("${SET:-fallback}", "value"),
        ("${SET:+alt}", "alt"),
        ("${UNSET:+alt}", ""),
        ("${EMPTY+alt}", "alt"),
        ('"a $SET b"', "a value b"),
        ("'a $SET b'", "a $SET b"),
        ('"\\$SET \\" \\x"', '$SET " \\x'),
        ("$", "$"),
        ("a$-b", "a$-b"),
    ],
)
def test_variable_substitution_follows_the_dockerfile_rules(word: str, expected: str) -> None:
    variables = {"SET": "value", "EMPTY": ""}
    assert expand(word, variables.get) == expected


@pytest.mark.parametrize("word", ["${UNSET:?must be set}", "${SET/a/b}", "${SET", "'open", '"open', "${}"])
def test_unsupported_or_failing_substitutions_are_usage_errors(word: str) -> None:
    with pytest.raises(UsageError):
        expand(word, {"SET": "value"}.get)


def test_split_words_keeps_quoted_spaces_inside_one_word() -> None:
    assert split_words("a=\"b c\" d='e f' g\\ h ''") == ['a="b c"', "d='e f'", "g\\ h", "''"]


def test_build_args_override_arg_defaults_and_reach_env_and_labels() -> None:
    text = (
        "ARG APP_VERSION=0.0.0-dev\nARG COMMIT\n"
        'ENV V=$APP_VERSION C=${COMMIT:-none}\nLABEL "v"="${APP_VERSION}"'
    )
    assert config_of(text).env == {"V": "0.0.0-dev", "C": "none"}
    released = config_of(text, APP_VERSION="1.2.3", COMMIT="abc")
    assert released.env == {"V": "1.2.3", "C": "abc"}
    assert released.labels == {"v": "1.2.3"}
    assert released.args == {"APP_VERSION": "1.2.3", "COMMIT": "abc"}


def test_an_arg_used_before_its_declaration_expands_to_nothing() -> None:
    assert config_of("ENV V=x$LATE\nARG LATE=1", LATE="2").env == {"V": "x"}


def test_env_wins_over_an_arg_of_the_same_name() -> None:
    assert config_of("ARG NAME=arg\nENV NAME=env\nLABEL seen=$NAME", NAME="build").labels == {"seen": "env"}


def test_global_args_reach_from_and_a_redeclared_arg_in_the_stage() -> None:
    text = "ARG TAG=3.12.8\nFROM python:${TAG}-slim\nARG TAG\nENV T=$TAG"
    config = image_config(text, {"TAG": "3.13.1"})
    assert (config.base_image, config.env) == ("python:3.13.1-slim", {"T": "3.13.1"})
    assert image_config("ARG TAG=1\nFROM x:$TAG\nENV T=$TAG", {}).env == {"T": ""}


def test_build_args_no_arg_declares_are_reported_as_unused() -> None:
    config = config_of("ARG USED", USED="1", STRAY="2", HTTP_PROXY="http://proxy")
    assert config.unused_build_args == ["STRAY"]


def test_workdir_resolves_relative_paths_and_copy_destinations_follow_it() -> None:
    config = config_of(
        "WORKDIR /app\nWORKDIR src/../lib\nCOPY a.py .\nCOPY b.py c.py sub/\nCOPY d.py /abs/d.py"
    )
    assert config.workdir == "/app/lib"
    assert config.copies == [
        CopyStep(("a.py",), "/app/lib", 4),
        CopyStep(("b.py", "c.py"), "/app/lib/sub/", 5),
        CopyStep(("d.py",), "/abs/d.py", 6),
    ]


def test_copy_keeps_ownership_and_mode_flags_and_expands_variables() -> None:
    config = config_of('ARG UID=10001\nCOPY --chown=$UID:$UID --chmod=0444 ["src dir", "/dst/"]')
    assert config.copies == [CopyStep(("src dir",), "/dst/", 3, chown="10001:10001", chmod="0444")]


def test_user_expose_stopsignal_and_volume_are_recorded() -> None:
    config = config_of(
        "ARG P=8080\nUSER 10001:10001\nEXPOSE $P 53/udp 9000-9001/tcp 8080\nSTOPSIGNAL SIGINT\nVOLUME /data"
    )
    assert config.user == "10001:10001"
    assert config.exposed_ports == ["8080/tcp", "53/udp", "9000/tcp", "9001/tcp"]
    assert (config.stop_signal, config.volumes) == ("SIGINT", ["/data"])


def test_healthcheck_options_become_seconds_and_the_command_keeps_its_form() -> None:
    exec_form = config_of('HEALTHCHECK --interval=1m30s --timeout=500ms --retries=5 CMD ["probe", "-q"]')
    assert exec_form.healthcheck == Healthcheck(
        ("CMD", "probe", "-q"), interval_s=90.0, timeout_s=0.5, retries=5
    )
    shell_form = config_of("HEALTHCHECK --start-period=2s CMD probe || exit 1").healthcheck
    assert shell_form == Healthcheck(("CMD-SHELL", "probe || exit 1"), start_period_s=2.0)
    assert config_of("HEALTHCHECK NONE").healthcheck == Healthcheck(("NONE",))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("FROM other AS second", "multi-stage"),
        ("COPY --from=build /x /y", "--from"),
        ("ADD https://example.com/x /x", "ADD"),
        ("ONBUILD RUN x", "ONBUILD"),
        ("RUN <<EOF\necho hi\nEOF", "heredoc"),
        ("FROB x", "unknown instruction"),
        ("COPY a b c", "ending in /"),
        ("COPY onlyone", "source and a destination"),
        ("EXPOSE http", "EXPOSE"),
        ("EXPOSE 70000", "1-65535"),
        ("HEALTHCHECK --interval=soon CMD x", "duration"),
        ("HEALTHCHECK --retries=many CMD x", "whole number"),
        ("HEALTHCHECK CMD", "NONE or"),
        ("ENV A=1 B", "name=value"),
        ("ENV LONELY", "needs a value"),
        ("SHELL /bin/bash -c", "JSON array"),
        ("USER", "needs an argument"),
        ("ENV A=${B/x/y}", "modifier"),
    ],
)
def test_unsupported_or_invalid_instructions_are_usage_errors_naming_the_line(
    body: str, message: str
) -> None:
    with pytest.raises(UsageError, match=message) as caught:
        config_of(body)
    assert "Dockerfile line 2" in caught.value.message


def test_a_dockerfile_needs_a_from_and_nothing_but_arg_before_it() -> None:
    with pytest.raises(UsageError, match="no FROM"):
        image_config("ARG A=1\n", {})
    with pytest.raises(UsageError, match="before FROM"):
        image_config("ENV A=1\nFROM x\n", {})


def test_a_non_default_escape_directive_is_refused() -> None:
    with pytest.raises(UsageError, match="escape"):
        parse("# escape=`\nFROM x\n")
    assert parse("# escape=\\\nFROM x")[0].keyword == "FROM"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("FROMENVARGCOPY LABEL=$:{}-+?\"'\\[]\n#/ab1")), max_size=80))
def test_any_text_either_evaluates_or_is_a_usage_error(text: str) -> None:
    with contextlib.suppress(UsageError):
        image_config(text, {"a": "1"})
