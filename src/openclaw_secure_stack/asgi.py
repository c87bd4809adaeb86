"""What the proxy and the model gateway share as ASGI servers: the lifespan exchange and the
granian settings they are served with."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from granian import Granian
from granian.constants import HTTPModes, Interfaces, Loops
from granian.http import HTTP1Settings

from openclaw_secure_stack.proxy.flow import Receive, Scope, Send

# Request heads larger than this get 431 from granian (its smallest buffer is 8 KiB + 4 KiB).
MAX_HEAD_BYTES = 64 * 1024


async def lifespan(
    receive: Receive, send: Send, on_shutdown: Callable[[], Awaitable[None]]
) -> None:
    """Answer granian's lifespan messages; `on_shutdown` closes the worker's pooled session."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await on_shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return


def serve(
    target: str,
    loader: Callable[[], Callable[[Scope, Receive, Send], Awaitable[None]]],
    *,
    host: str,
    port: int,
    workers: int,
    websockets: bool,
    client_timeout: float,
) -> None:
    """Serve the app `loader` builds in each worker (`target` names it for granian) until
    SIGINT/SIGTERM. granian bounds slow and oversized request heads (header read timeout, 431
    for heads over its buffer); the app bounds slow and oversized bodies."""
    server = Granian(
        target=target,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        loop=Loops.uvloop,
        http=HTTPModes.http1,
        websockets=websockets,
        http1_settings=HTTP1Settings(
            header_read_timeout=int(client_timeout * 1000),
            max_buffer_size=MAX_HEAD_BYTES,
        ),
        log_access=False,
    )
    server.serve(target_loader=loader, wrap_loader=False)
