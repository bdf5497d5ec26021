"""What other packages add to the product, found through entry points when it is needed.

Two groups: `releasectl.commands` holds the handlers of commands the CLI declares but another
package implements (`sandbox up`, `demo`), and `releasectl.image_builders` the image builders
other than docker (`release --builder sandbox`). The sandbox package registers all three in
pyproject.toml; the product never imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from releasectl.core.errors import EnvironmentProblem, UsageError

COMMANDS = "releasectl.commands"
IMAGE_BUILDERS = "releasectl.image_builders"
_INSTALL_HINT = "install releasectl with its sandbox: pip install 'releasectl[sandbox]'"


def registered(group: str) -> list[str]:
    from importlib.metadata import entry_points

    return sorted(entry.name for entry in entry_points(group=group))


def load(group: str, name: str, *, what: str) -> Any:
    """The object entry point `name` of `group` names; `what` says what it is, for errors."""
    from importlib.metadata import entry_points

    found = entry_points(group=group, name=name)
    if not found:
        raise EnvironmentProblem(f"{what} is not installed", hint=_INSTALL_HINT)
    try:
        return next(iter(found)).load()
    except ImportError as exc:
        raise EnvironmentProblem(f"{what} cannot be loaded: {exc}", hint=_INSTALL_HINT) from None


def handler(name: str) -> Callable[..., int]:
    """The handler of a command another package implements (`sandbox-up`, `demo`)."""
    run: Callable[..., int] = load(COMMANDS, name, what=f"`releasectl {name.replace('-', ' ')}`")
    return run


def image_builder(name: str) -> Any:
    """The factory of an image builder another package implements; unknown names are exit 2."""
    if name not in registered(IMAGE_BUILDERS):
        known = ", ".join(sorted({"docker", *registered(IMAGE_BUILDERS)}))
        raise UsageError(f"image builder {name!r} is not one of {known}")
    return load(IMAGE_BUILDERS, name, what=f"image builder {name!r}")
