"""The sandbox in a child process: `python -m releasectl_sandbox up --json`, started and stopped
from Python (the demo, tests), with the same .endpoint / .alb_url / .env as Sandbox.

Stopping sends SIGTERM, which the command turns into an orderly stop of everything it started;
SIGKILL follows only if it does not end in time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from releasectl.core.errors import EnvironmentProblem


class SandboxProcess:
    def __init__(
        self,
        project_dir: Path,
        *,
        port: int = 0,
        alb_port: int = 0,
        state_dir: Path | None = None,
        env_file: Path | None = None,
        env: Mapping[str, str] | None = None,
        build_env: Mapping[str, str] | None = None,
        log: Path | None = None,
        ready_timeout: float = 90.0,
    ) -> None:
        self.project_dir = project_dir
        self.port = port
        self.alb_port = alb_port
        self.state_dir = state_dir
        self.env_file = env_file
        self.base_env = dict(os.environ if env is None else env)
        self.build_env = dict(build_env or {})
        # stderr of the sandbox (everything it reports) goes here, beside its state.
        self.log_path = log or project_dir / ".releasectl" / "sandbox.log"
        self.ready_timeout = ready_timeout
        self.proc: subprocess.Popen[str] | None = None
        self.info: dict[str, Any] = {}
        self._log: IO[str] | None = None

    @property
    def endpoint(self) -> str:
        return str(self.info.get("endpoint", ""))

    @property
    def alb_url(self) -> str:
        return str(self.info.get("alb_url", ""))

    @property
    def alb_urls(self) -> dict[str, str]:
        """Each environment's load balancer (empty without environments)."""
        return dict(self.info.get("alb_urls") or {})

    @property
    def env(self) -> dict[str, str]:
        return dict(self.info.get("env") or {})

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def __enter__(self) -> SandboxProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        argv = [
            sys.executable,
            "-m",
            "releasectl_sandbox",
            "up",
            "--json",
            "--port",
            str(self.port),
            "--alb-port",
            str(self.alb_port),
        ]
        if self.state_dir:
            argv += ["--state-dir", str(self.state_dir)]
        if self.env_file:
            argv += ["--env-file", str(self.env_file)]
        for name, value in self.build_env.items():
            argv += ["--build-env", f"{name}={value}"]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("w", encoding="utf-8")
        self.proc = subprocess.Popen(
            argv, cwd=self.project_dir, env=self.base_env, stdout=subprocess.PIPE, stderr=self._log, text=True
        )
        result: list[str] = []
        reader = threading.Thread(target=self._read_ready, args=(result,), daemon=True)
        reader.start()
        reader.join(self.ready_timeout)
        if not result:
            self.stop()
            raise EnvironmentProblem(
                f"the sandbox did not come up within {self.ready_timeout:g} s", hint=f"see {self.log_path}"
            )
        self.info = json.loads(result[0])

    def _read_ready(self, result: list[str]) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        lines: list[str] = []
        for line in self.proc.stdout:
            lines.append(line)
            if line.rstrip("\n") == "}":
                result.append("".join(lines))
                return

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, wait, SIGKILL if need be; the exit status."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        if self._log is not None:
            self._log.close()
        return proc.returncode
