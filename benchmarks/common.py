"""What the benchmark scripts share: fake AWS credentials, a moto server, peer tools' venvs,
the machine's description and their sections of RESULTS.md."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import venv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / ".work"
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
RESULTS_HEADER = (
    "# Benchmark results\n\n"
    "Each section is written by the script named in it; re-run the script with `--write` to refresh "
    "its section. See benchmarks/README.md for how to run each one.\n"
)

FAKE_AWS_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",  # moto's fake credentials, nothing real
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def use_fake_aws_credentials() -> None:
    """Point every AWS client this process (and its children) makes at moto's fake account."""
    os.environ.update(FAKE_AWS_CREDENTIALS)


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on 127.0.0.1 for the duration; yields its endpoint URL."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def peer_venv(name: str, requirement: str, executable: str) -> Path | None:
    """A private venv under benchmarks/.work holding one peer tool; None if it will not install."""
    where = WORK / name
    tool = where / "bin" / executable
    stamp = where / ".installed"
    if tool.exists() and stamp.is_file() and stamp.read_text().strip() == requirement:
        return tool
    print(f"installing {requirement} into {where} ...", file=sys.stderr)
    shutil.rmtree(where, ignore_errors=True)
    venv.EnvBuilder(with_pip=True).create(where)
    done = subprocess.run(
        [
            str(where / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            requirement,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 or not tool.exists():
        print(f"  could not install {requirement}: {done.stderr.strip()[-400:]}", file=sys.stderr)
        return None
    stamp.write_text(requirement + "\n")
    return tool


def cpu_model(default: str = "unknown") -> str:
    """The CPU's model name from /proc/cpuinfo, or `default` where there is none."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return default


def load_average() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def git_head() -> str:
    """The checkout's HEAD, abbreviated to 12 characters."""
    return _git("rev-parse", "--short=12", "HEAD")


def has_uncommitted_changes(*pathspec: str, untracked: bool = True) -> bool:
    """Whether the working tree differs from HEAD (below `pathspec`, if given)."""
    args = ["status", "--porcelain"] + ([] if untracked else ["--untracked-files=no"])
    return bool(_git(*args, "--", *pathspec))


def _git(*args: str) -> str:
    # --no-optional-locks: reading the status must not take the index lock from anyone at work here.
    done = subprocess.run(
        ["git", "--no-optional-locks", "-C", str(ROOT), *args], capture_output=True, text=True, check=False
    )
    return done.stdout.strip()


def write_section(section: str, text: str) -> None:
    """Replace `section` of RESULTS.md (or append it), leaving the other sections alone."""
    current = RESULTS.read_text() if RESULTS.exists() else RESULTS_HEADER
    pattern = re.compile(rf"^{re.escape(section)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(current):
        updated = pattern.sub(lambda _: text.rstrip("\n") + "\n\n", current, count=1)
    else:
        updated = current.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    RESULTS.write_text(updated.rstrip("\n") + "\n")
