"""The AWS boundary's plumbing: typed clients for the type checker only, pages fetched one at a time."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from releasectl.adapters.aws.clients import aws_errors, each_page
from releasectl.core.errors import OperationFailed

ROOT = Path(__file__).resolve().parents[2]


def refused() -> ClientError:
    return ClientError({"Error": {"Code": "SomethingBroke", "Message": "no"}}, "ListThings")


def test_importing_every_product_module_loads_no_type_stubs_and_no_toml_editor() -> None:
    # boto3-stubs is a development dependency, and tomlkit serves one command only.
    probe = (
        "import sys, pkgutil, importlib, releasectl\n"
        "for m in pkgutil.walk_packages(releasectl.__path__, 'releasectl.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(sorted(n for n in sys.modules if n.startswith(('mypy_boto3', 'tomlkit'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_a_failing_page_fetch_becomes_one_line_naming_the_action() -> None:
    def pages() -> Iterator[list[str]]:
        yield ["a"]
        raise refused()

    read: list[list[str]] = []
    with pytest.raises(OperationFailed, match=r"^listing things: SomethingBroke: no$"):
        for page in each_page(pages(), lambda: aws_errors("listing things")):
            read.append(page)
    assert read == [["a"]]


def test_an_error_in_the_consumers_own_code_between_pages_is_not_taken_for_an_aws_one() -> None:
    with pytest.raises(ClientError):
        for _ in each_page(iter([["a"], ["b"]]), lambda: aws_errors("listing things")):
            raise refused()
