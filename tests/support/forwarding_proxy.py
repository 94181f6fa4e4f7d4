"""A trusted reverse proxy on loopback for the tests: every request it
forwards, the WebSocket upgrade included, carries the ``X-Forwarded-For``
the test chose, as a real proxy in front of the app would write it.

Browser-side headers cannot stand in for it: Chromium 150 with Playwright
1.65 sends a context's ``extra_http_headers`` on HTTP requests but not on
the WebSocket handshake, where Streamlit's ``st.context.headers`` come from.

Each connection carries one request (a plain request is forwarded with
``Connection: close``); an upgraded connection is piped both ways as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

HEAD_END = b"\r\n\r\n"
MAX_HEAD = 64 * 1024


def rewrite_head(head: bytes, forwarded_for: str) -> bytes:
    """The request head with ``X-Forwarded-For`` set to ``forwarded_for``
    (any the client sent dropped) and, unless it asks for an upgrade,
    ``Connection: close``."""
    request_line, *lines = head.decode("latin-1").split("\r\n")
    upgrade = any(line.lower().startswith("upgrade:") for line in lines)
    kept = [
        line
        for line in lines
        if line
        and not line.lower().startswith("x-forwarded-for:")
        and (upgrade or not line.lower().startswith("connection:"))
    ]
    kept.append(f"X-Forwarded-For: {forwarded_for}")
    if not upgrade:
        kept.append("Connection: close")
    return ("\r\n".join([request_line, *kept]) + "\r\n\r\n").encode("latin-1")


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


@contextlib.contextmanager
def forwarding_proxy(target_port: int, forwarded_for: str) -> Iterator[str]:
    """A proxy to ``127.0.0.1:target_port`` that says every request came
    through ``forwarded_for``; yields its base URL."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    port: list[int] = []
    stopping: list[asyncio.Event] = []
    handlers: set[asyncio.Task] = set()

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)  # until it ends: only the open ones are cancelled when the proxy stops
        try:
            await _forward(client_reader, client_writer)
        finally:
            handlers.discard(task)

    async def _forward(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            head = await client_reader.readuntil(HEAD_END)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            client_writer.close()
            return
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", target_port)
        upstream_writer.write(rewrite_head(head[: -len(HEAD_END)], forwarded_for))
        await asyncio.gather(_pipe(client_reader, upstream_writer), _pipe(upstream_reader, client_writer))

    async def serve() -> None:
        stopping.append(asyncio.Event())
        server = await asyncio.start_server(handle, "127.0.0.1", 0, limit=MAX_HEAD)
        port.append(server.sockets[0].getsockname()[1])
        ready.set()
        await stopping[0].wait()
        server.close()
        open_handlers = list(handlers)
        for task in open_handlers:
            task.cancel()
        await asyncio.gather(*open_handlers, return_exceptions=True)
        await server.wait_closed()

    def run() -> None:
        try:
            loop.run_until_complete(serve())
        finally:
            loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the forwarding proxy did not start")
    try:
        yield f"http://127.0.0.1:{port[0]}"
    finally:
        loop.call_soon_threadsafe(stopping[0].set)
        thread.join(10)
