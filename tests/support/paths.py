"""Where things are: the repository root the tests read the project's own files from."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
