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
* ``received_ns``: when each complete message's last frame arrived
  (monotonic ns of the read that brought it), oldest first; a candidate
  session takes one per message it reads (``latency.py``).
* ``queue_text`` and ``flush``: answers queued without a write each, then
  written together (one write to the transport, then one drain); every
  outgoing write joins what is queued into one.
* ``close`` never hangs: websockets writes the close frame and then waits for
  the write buffer to drain, forever when the client does not read. Past
  ``close_timeout`` (plus a second) the transport is aborted.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.frames import DATA_OPCODES, Frame
from websockets.protocol import State


class IngestConnection(ServerConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last_received = self.loop.time()
        self.on_unread: Callable[[], None] | None = None
        self.releases: list[Callable[[], None]] = []
        self.received_ns: deque[int] = deque()
        self._read_ns = 0

    def data_received(self, data: bytes) -> None:
        self.last_received = self.loop.time()
        self._read_ns = time.monotonic_ns()
        super().data_received(data)

    def process_event(self, event: Any) -> None:
        if isinstance(event, Frame) and event.fin and event.opcode in DATA_OPCODES:
            self.received_ns.append(self._read_ns)
        super().process_event(event)

    def queue_text(self, text: str) -> bool:
        """Queue a text frame without writing it (the next write takes it
        along, in order); False when the socket is not open (then send it
        the ordinary way, which raises ``ConnectionClosed``)."""
        if self.protocol.state is not State.OPEN:
            return False
        self.protocol.send_text(text.encode())
        return True

    async def flush(self) -> None:
        """Write whatever is queued, and wait while the client is behind."""
        async with self.send_context():
            pass

    def send_data(self) -> None:
        """Write what the protocol has to send; frames queued together go in
        one write (one system call) rather than one write each."""
        writes = self.protocol.data_to_send()
        run: list[bytes] = []
        for data in writes:
            if data:
                run.append(data)
                continue
            if run:  # the end of the stream (b""): what came before it first
                self.transport.write(b"".join(run))
                run = []
            self.protocol.writes.append(data)  # the library's own end-of-stream handling
            super().send_data()
        if run:
            self.transport.write(run[0] if len(run) == 1 else b"".join(run))

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
