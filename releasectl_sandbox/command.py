"""`releasectl sandbox up`: the sandbox in the foreground until Ctrl-C (or SIGTERM).

stdout carries the result: the variables to export (also written to .releasectl/sandbox.env),
or one JSON object with --json. Progress and what the simulators do (builds, deployments,
tasks) go to stderr, each line starting with "sandbox:". Stopping ends every build, task
process and server the sandbox started, then removes the env file, which would point at
nothing. A second `sandbox up` where one runs is refused and changes nothing.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import FrameType

from releasectl.commands.context import Context
from releasectl.commands.output import write_json, write_lines


def sandbox_up(
    ctx: Context,
    *,
    port: int | None,
    alb_port: int | None,
    state_dir: Path | None = None,
    env_file: Path | None = None,
    build_env: Mapping[str, str] | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Run the sandbox until interrupted (or `stop` is set); 0 when it stopped cleanly.

    `build_env` adds environment variables to the sandbox's CodeBuild project (they override
    the buildspec's env.variables, as project variables do on AWS)."""
    from releasectl.localbuild.checkout import repository
    from releasectl_sandbox.sandbox import Sandbox
    from releasectl_sandbox.state import DEFAULT_ENV_FILE, env_file_text

    root = repository(ctx.cwd).cwd
    stop = stop or threading.Event()
    sandbox = Sandbox(
        root,
        config=ctx.config,
        state_dir=state_dir,
        env_file=env_file or root / DEFAULT_ENV_FILE,
        port=port or 0,
        alb_port=alb_port or 0,
        build_env=build_env,
        announce=ctx.reporter.info,
    )
    with _stop_on_signals(stop):
        # A sandbox that fails to start stops what it started itself and touches nothing else:
        # not another sandbox's env file, nor its processes.
        sandbox.start()
        try:
            environments = [e for e in sandbox.environments if e.name]
            summary = {
                "command": "sandbox up",
                "endpoint": sandbox.endpoint,
                "alb_url": sandbox.alb_url,
                "alb_urls": {e.name: e.alb_url for e in environments},
                "environments": [
                    {
                        "name": e.name,
                        "account": e.resources.account,
                        "region": e.resources.region,
                        "cluster": e.resources.cluster,
                        "service": e.resources.service,
                        "stack": e.resources.stack,
                        "alb_url": e.alb_url,
                        "test_url": e.test_url,
                    }
                    for e in environments
                ],
                "env_file": str(sandbox.env_file),
                "state_dir": str(sandbox.state.root),
                "bootstrap_image": sandbox.bootstrap_image,
                "env": sandbox.env,
            }
            if ctx.json_output:
                write_json(summary)
            else:
                ready = [f"# sandbox ready: {sandbox.alb_url} answers for the service"]
                if environments:
                    ready = [
                        f"# sandbox ready: {e.name} at {e.alb_url}, test listener {e.test_url} (account "
                        f"{e.resources.account}); its service comes with its first `releasectl deploy`"
                        for e in environments
                    ]
                write_lines([env_file_text(sandbox.env).rstrip("\n"), *ready])
            ctx.reporter.info(f"sandbox: running; `source {sandbox.env_file}` to use it")
            ctx.reporter.info("sandbox: Ctrl-C stops it and every process it started")
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            ctx.reporter.info("sandbox: stopping")
            sandbox.stop()  # removes the env file it wrote, too
            ctx.reporter.info("sandbox: stopped; every process it started has ended")
    return 0


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM and SIGINT end the foreground wait (only the main thread may install handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
