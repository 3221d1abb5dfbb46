"""One API worker process of ``sscard serve --workers N``.

    python -m issuance.api.worker FD

serves the API on the listening socket inherited as descriptor ``FD``, with
its own runtime on ``SSCARD_DATABASE_URL`` (set by the parent, which owns the
database). The socket is adopted with its own address family (uvicorn's
``--fd`` would take it for a Unix socket, so TCP_NODELAY would never be set
and small responses on kept-alive connections would wait ~40 ms for delayed
ACKs).
"""

from __future__ import annotations

import socket
import sys

import uvicorn
import uvloop

from issuance.api.app import GRACEFUL_SHUTDOWN_SECONDS, worker_app


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    sock = socket.socket(fileno=int(args[0]))  # family and type read from the descriptor
    config = uvicorn.Config(
        worker_app(), loop="none", http="httptools", log_level="warning", access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )  # fmt: skip
    uvloop.run(uvicorn.Server(config).serve(sockets=[sock]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
