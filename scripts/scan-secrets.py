"""detect-secrets over the tracked files (a `make lint` step), skipping the ones already scanned clean.

Usage: scan-secrets.py CACHE. The scan is detect-secrets' own pre-commit hook against .secrets.baseline,
as before; what is new is that a file whose path and content were scanned clean under the same
detect-secrets version and baseline is not scanned again. The whole tree takes ~12 s of CPU; the
files an edit changes take well under a second. The cache lives in the virtualenv (the Makefile
passes .venv/secrets-clean.json), so a fresh checkout scans everything.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

BASELINE = Path(".secrets.baseline")


def settings_key() -> str:
    """What a file's verdict depends on besides the file: the scanner and its baseline."""
    digest = hashlib.sha256(f"detect-secrets {version('detect-secrets')}\0".encode())
    digest.update(BASELINE.read_bytes())
    return digest.hexdigest()


def file_key(path: str) -> str:
    # The path counts: the scanner picks its reading of a file by its name (YAML, INI, ...).
    return hashlib.sha256(path.encode() + b"\0" + Path(path).read_bytes()).hexdigest()


def load(cache: Path, settings: str) -> set[str]:
    try:
        data = json.loads(cache.read_text())
    except (OSError, ValueError):
        return set()
    return set(data.get("clean", [])) if data.get("settings") == settings else set()


def main(cache: Path) -> int:
    tracked = subprocess.run(["git", "ls-files", "-z"], capture_output=True, check=True).stdout.decode()
    files = [path for path in tracked.split("\0") if path and Path(path).is_file()]
    settings = settings_key()
    clean = load(cache, settings)
    keys = {path: file_key(path) for path in files}
    pending = [path for path in files if keys[path] not in clean]
    if pending:
        hook = Path(sys.executable).with_name("detect-secrets-hook")
        scanned = subprocess.run([str(hook), "--baseline", str(BASELINE), *pending], check=False)
        if scanned.returncode != 0:
            return scanned.returncode
    # Only what is tracked now is kept, so the cache does not grow with every edit ever made.
    cache.write_text(json.dumps({"settings": settings, "clean": sorted(set(keys.values()))}))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: scan-secrets.py CACHE")
    sys.exit(main(Path(sys.argv[1])))
