"""moto's server on 127.0.0.1, in this process, started and stopped by the sandbox.

In-process so the simulators can hook moto's backends (releasectl_sandbox.moto_internals).
Anything that speaks AWS's HTTP APIs (boto3, the AWS CLI, a `releasectl` in another process)
reaches it through AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import logging
import socket
import urllib.request
from typing import Any

from releasectl.core.errors import EnvironmentProblem
from releasectl_sandbox import moto_internals
from releasectl_sandbox.botocore_sharing import share_botocore_work


def check_port_free(port: int, what: str) -> None:
    """A port in use would only fail inside moto's server thread, where nobody sees it."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise EnvironmentProblem(
                f"cannot listen on 127.0.0.1:{port} for the sandbox {what}: {exc.strerror}",
                hint="choose another port, or stop what uses it",
            ) from None


class MotoServer:
    def __init__(self, port: int = 0) -> None:
        self.port = port
        self._server: Any = None
        self.endpoint = ""

    def start(self) -> str:
        from moto.server import ThreadedMotoServer

        check_port_free(self.port, "AWS endpoint")
        # Werkzeug logs every request to stderr; the sandbox reports what it does itself.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        moto_internals.prepare_server()
        share_botocore_work()
        moto_internals.import_ec2_regions_with_one_session()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        server.start()
        self._server = server
        host, port = server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        self.reset()
        return self.endpoint

    def reset(self) -> None:
        """Empty every moto backend: the sandbox starts from nothing, as its state dir does."""
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")  # noqa: S310
        # our own http endpoint
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310  # nosec B310
            response.read()

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.stop()
        moto_internals.close_server_socket(self._server)
        self._server = None
