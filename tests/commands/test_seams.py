"""The product stands apart from the sandbox: it plugs in only through entry points."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

from releasectl.commands import image_builders, plugins
from releasectl.commands.context import Context, RecordingReporter
from releasectl.core.config import load_config
from releasectl.core.errors import EnvironmentProblem, ExitCode, UsageError

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_cli_and_every_command_loads_nothing_from_the_sandbox_or_moto() -> None:
    probe = (
        "import sys, pkgutil, importlib, releasectl\n"
        "for m in pkgutil.walk_packages(releasectl.__path__, 'releasectl.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = sorted(n for n in sys.modules if n.startswith(('releasectl_sandbox', 'moto')))\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_the_sandbox_commands_and_builder_are_registered_as_entry_points() -> None:
    assert plugins.handler("sandbox-up").__module__ == "releasectl_sandbox.command"
    assert plugins.handler("demo").__module__ == "releasectl_sandbox.demo.story"
    ctx = Context(config=load_config(env={}, cwd=ROOT), reporter=RecordingReporter())
    assert image_builders.choose_builder(ctx, "sandbox", {}).name == "sandbox"
    assert image_builders.choose_builder(ctx, "docker", {}).name == "docker"


@pytest.fixture
def no_entry_points(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def none(**_kwargs: Any) -> list[EntryPoint]:
        return []

    monkeypatch.setattr("importlib.metadata.entry_points", none)
    yield


def test_a_sandbox_command_without_the_sandbox_installed_is_exit_4_saying_what_to_install(
    no_entry_points: None,
) -> None:
    with pytest.raises(EnvironmentProblem) as caught:
        plugins.handler("sandbox-up")
    assert caught.value.exit_code == ExitCode.ENVIRONMENT
    assert "releasectl[sandbox]" in (caught.value.hint or "")


def test_an_unknown_image_builder_is_a_usage_error_naming_the_known_ones() -> None:
    ctx = Context(config=load_config(env={}, cwd=ROOT), reporter=RecordingReporter())
    with pytest.raises(UsageError) as caught:
        image_builders.choose_builder(ctx, "podman", {})
    assert "docker" in caught.value.message and "sandbox" in caught.value.message


def test_the_buildspec_has_no_sandbox_branch() -> None:
    assert "SANDBOX" not in (ROOT / "buildspec.yml").read_text()
