"""Commands whose work lives in another package: `sandbox up` and `demo`.

The CLI declares them (so `--help` and the docs' checks see them), and their handlers are found
through the `releasectl.commands` entry-point group at the moment they run. The sandbox package
registers both; the product never imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ENTRY_POINT_GROUP = "releasectl.commands"


def handler(name: str) -> Callable[..., int]:
    from importlib.metadata import entry_points

    from releasectl.core.errors import EnvironmentProblem

    found = entry_points(group=ENTRY_POINT_GROUP, name=name)
    if not found:
        raise EnvironmentProblem(
            f"`releasectl {name.replace('-', ' ')}` is not installed",
            hint="install releasectl with its sandbox: pip install 'releasectl[sandbox]'",
        )
    try:
        loaded: Any = next(iter(found)).load()
    except ImportError as exc:
        raise EnvironmentProblem(
            f"`releasectl {name.replace('-', ' ')}` cannot be loaded: {exc}",
            hint="install releasectl with its sandbox: pip install 'releasectl[sandbox]'",
        ) from None
    run: Callable[..., int] = loaded
    return run
