"""``IngestConnection``: the websockets ``ServerConnection`` every socket of the
ingest server runs on (``serve(create_connection=IngestConnection)``).

It adds what the per-connection bounds of PROTOCOL.md ("Limits") need and
websockets 17 does not offer:

* ``last_received``: the event loop's time when the client last sent
  anything (any frame, pongs included), for the idle timeout.
* ``on_unread``: called when the answers written to the socket and not yet
  read by the client pass the write buffer's high-water mark (``write_limit``
  given to ``serve``): the client stopped reading.
* ``releases``: callbacks run once when the TCP connection is gone, however it
  ended (handshake refused after a slot was taken, client gone, server
  closing), so per-address and per-ticket counts never leak.
* ``close`` never hangs: websockets writes the close frame and then waits for
  the write buffer to drain, forever when the client does not read. Past
  ``close_timeout`` (plus a second) the transport is aborted.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from websockets.asyncio.server import ServerConnection


class IngestConnection(ServerConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last_received = self.loop.time()
        self.on_unread: Callable[[], None] | None = None
        self.releases: list[Callable[[], None]] = []

    def data_received(self, data: bytes) -> None:
        self.last_received = self.loop.time()
        super().data_received(data)

    def pause_writing(self) -> None:
        super().pause_writing()
        if self.on_unread is not None:
            self.on_unread()

    def connection_lost(self, exc: Exception | None) -> None:
        try:
            super().connection_lost(exc)
        finally:
            releases, self.releases = self.releases, []
            for release in releases:
                release()

    def unread_bytes(self) -> int:
        """Bytes written to the socket that the client has not taken yet (our side's buffer)."""
        transport = getattr(self, "transport", None)
        return 0 if transport is None else transport.get_write_buffer_size()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        timeout = (self.close_timeout or 10.0) + 1.0
        try:
            await asyncio.wait_for(super().close(code, reason), timeout)
        except TimeoutError:
            with contextlib.suppress(Exception):
                self.transport.abort()
