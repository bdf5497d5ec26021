"""The sandbox the reliability modules run against: one per module that asks for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.sandbox_world import World, sandbox_world


@pytest.fixture(scope="module")
def sandboxed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with sandbox_world(tmp_path_factory.mktemp("sandbox-faults")) as running:
        yield running
