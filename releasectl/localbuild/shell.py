"""The shell a buildspec's commands run in, with CodeBuild 0.2's state rules.

CodeBuild 0.2 runs each command in the shell state the previous command left
behind: variables (exported or not) and the working directory carry over across
commands and phases, while `exit 3` in a command fails that command only and a
later phase (post_build) still sees the state. One long-lived shell fed through
stdin cannot do that (an `exit` would end the session; a command reading stdin
would swallow the next ones), so each command runs in its own bash process that
restores the saved state first and saves it again when it ends, however it ends
(an EXIT trap covers `exit`). Stdin is /dev/null, as in CodeBuild. Shell functions
and `set` options do not carry over; put those in a script.

The state file holds the build's environment (credentials included), so it lives
in a private temporary directory (mode 0700) that is removed when the session ends.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType

from releasectl.core.clock import Clock

LineSink = Callable[[str], None]

# Bash's own variables: read-only, per-process, or meaningless in the next process.
_NOT_STATE = re.compile(
    r"^(__rcl_.*|BASH.*|_|PWD|SHLVL|FUNCNAME|GROUPS|PIPESTATUS|RANDOM|SRANDOM|SECONDS|LINENO|"
    r"EPOCHREALTIME|EPOCHSECONDS|HISTCMD|DIRSTACK|COMP_.*|OPTIND|OPTARG|OPTERR|PPID|UID|EUID|"
    r"SHELLOPTS|BASHOPTS)$"
)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_WRAPPER = r"""
__rcl_dir=$1
. "$__rcl_dir/state.sh" 2>/dev/null
__rcl_save() {
  local __rcl_n __rcl_names=()
  while IFS= read -r __rcl_n; do
    case $__rcl_n in
      __rcl_*|BASH*|_|PWD|SHLVL|FUNCNAME|GROUPS|PIPESTATUS|RANDOM|SRANDOM|SECONDS|LINENO) continue ;;
      EPOCHREALTIME|EPOCHSECONDS|HISTCMD|DIRSTACK|COMP_*|OPTIND|OPTARG|OPTERR) continue ;;
      PPID|UID|EUID|SHELLOPTS|BASHOPTS) continue ;;
    esac
    [[ ${!__rcl_n@a} == *r* ]] && continue
    __rcl_names+=("$__rcl_n")
  done < <(compgen -v)
  declare -p "${__rcl_names[@]}" > "$__rcl_dir/state.new" 2>/dev/null
  mv -f "$__rcl_dir/state.new" "$__rcl_dir/state.sh"
  printf '%s' "$PWD" > "$__rcl_dir/cwd"
}
trap '__rcl_rc=$?; trap - EXIT; __rcl_save; exit $__rcl_rc' EXIT
if [[ -n $__rcl_posix ]]; then set -o posix; fi
. "$__rcl_dir/command.sh" < /dev/null
"""

_READ_VARIABLES = (
    '. "$1/state.sh" 2>/dev/null; shift; for n; do [[ -v $n ]] && printf "%s\\0%s\\0" "$n" "${!n}"; done'
)


class ShellSession:
    """Runs commands one after another in carried-over shell state; use as a context manager."""

    def __init__(
        self,
        *,
        bash: str,
        workdir: Path,
        env: Mapping[str, str],
        on_line: LineSink,
        clock: Clock,
        posix: bool = False,
        poll_interval: float = 0.05,
    ) -> None:
        self.bash = bash
        self.workdir = workdir
        self.env = dict(env)
        self.on_line = on_line
        self.clock = clock
        self.posix = posix
        self.poll_interval = poll_interval
        self.sink_error: Exception | None = None
        self._lock = threading.Lock()
        self._groups: list[int] = []
        self._readers: list[threading.Thread] = []
        self._dir: Path | None = None

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> ShellSession:
        self._dir = Path(tempfile.mkdtemp(prefix="releasectl-buildspec-"))
        (self._dir / "wrapper.sh").write_text(_WRAPPER, encoding="utf-8")
        (self._dir / "cwd").write_text(str(self.workdir), encoding="utf-8")
        lines = [
            f"declare -x {name}={shlex.quote(value)}"
            for name, value in self.env.items()
            if _IDENTIFIER.match(name) and not _NOT_STATE.match(name)
        ]
        (self._dir / "state.sh").write_text("\n".join(lines) + "\n", encoding="utf-8")
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self._stop_leftovers()
        finally:
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)

    @property
    def state_dir(self) -> Path:
        if self._dir is None:
            raise RuntimeError("ShellSession used outside its with-block")
        return self._dir

    # ------------------------------------------------------------------ commands

    def say(self, line: str) -> None:
        """Send one line to the sink; lines from command output and from the runner never interleave."""
        with self._lock:
            self.on_line(line)

    def set_variable(self, name: str, value: str) -> None:
        """Export a variable to every later command, as CodeBuild does with CODEBUILD_BUILD_SUCCEEDING."""
        with (self.state_dir / "state.sh").open("a", encoding="utf-8") as handle:
            handle.write(f"\ndeclare -x {name}={shlex.quote(value)}\n")

    def run(self, command: str, *, deadline: float | None) -> int | None:
        """Run one command; its exit status, or None when `deadline` (on self.clock) passed first."""
        state_dir = self.state_dir
        (state_dir / "command.sh").write_text(command + "\n", encoding="utf-8")
        cwd = (state_dir / "cwd").read_text(encoding="utf-8")
        if not Path(cwd).is_dir():
            self.say(f"[Container] Working directory {cwd} no longer exists")
            return 1
        # Variables come from the saved state, not the process environment, so an
        # `unset` in one command stays unset in the next.
        proc_env = {k: v for k, v in self.env.items() if not _IDENTIFIER.match(k)}
        proc_env["PWD"] = cwd
        if self.posix:
            proc_env["__rcl_posix"] = "1"
        proc = subprocess.Popen(
            [self.bash, "--noprofile", "--norc", str(state_dir / "wrapper.sh"), str(state_dir)],
            cwd=cwd,
            env=proc_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._groups.append(proc.pid)
        reader = threading.Thread(target=self._pump, args=(proc,), daemon=True)
        reader.start()
        self._readers.append(reader)
        try:
            status = self._wait(proc, deadline)
        except BaseException:
            self._signal_group(proc.pid)
            raise
        # A background process started by the command may keep the pipe open; its
        # output keeps flowing, but the next command does not wait for it.
        reader.join(timeout=1.0)
        return status

    def read_variables(self, names: Iterable[str]) -> dict[str, str]:
        """The values the shell holds now for `names`; unset ones are left out."""
        wanted = list(names)
        if not wanted:
            return {}
        proc = subprocess.run(
            [
                self.bash,
                "--noprofile",
                "--norc",
                "-c",
                _READ_VARIABLES,
                "releasectl",
                str(self.state_dir),
                *wanted,
            ],
            env={},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
        parts = proc.stdout.decode("utf-8", errors="replace").split("\0")
        return dict(zip(parts[0:-1:2], parts[1:-1:2], strict=True))

    # ------------------------------------------------------------------ processes

    def _wait(self, proc: subprocess.Popen[bytes], deadline: float | None) -> int | None:
        while True:
            try:
                return proc.wait(timeout=self.poll_interval)
            except subprocess.TimeoutExpired:
                if deadline is not None and self.clock.now() >= deadline:
                    self._signal_group(proc.pid)
                    proc.wait()
                    return None

    def _pump(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        with proc.stdout:
            for raw in iter(proc.stdout.readline, b""):
                try:
                    self.say(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
                except Exception as exc:
                    # Keep draining: a child blocked on a full pipe would hang the build.
                    self.sink_error = self.sink_error or exc

    def _signal_group(self, pgid: int, sig: int = signal.SIGTERM) -> bool:
        """Signal a process group; False when it no longer exists (signal 0 only checks)."""
        try:
            os.killpg(pgid, sig)
            return True
        except (ProcessLookupError, PermissionError):
            return False

    def _stop_leftovers(self) -> None:
        """Background processes the commands started end with the session, as in CodeBuild's container."""
        alive = [pgid for pgid in self._groups if self._signal_group(pgid)]
        # Real time rather than self.clock: this waits for the OS to deliver SIGTERM,
        # at most a second, and only when something was left running.
        deadline = time.monotonic() + 1.0
        while alive and time.monotonic() < deadline:
            time.sleep(0.02)
            alive = [pgid for pgid in alive if self._signal_group(pgid, 0)]
        for pgid in alive:
            self._signal_group(pgid, signal.SIGKILL)
        for reader in self._readers:
            reader.join(timeout=1.0)
