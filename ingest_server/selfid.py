"""The one-shot self-identification socket, ``/ws/self-id/{token}`` (docs/protocol.md).

Opened by the thank-you screen of a completed attempt whose organisation
asks the voluntary questions (``hiremate.self_id``). The client sends
``{"type":"self_identification","session_key":…,"sex":…,"race_ethnicity":…,
"consent":…}``; the server answers ``self_identification_received`` and
closes (1000), or an ``error`` and waits for a corrected message. A socket
rather than the issue's ``POST``: the ingest port's HTTP layer (websockets)
takes GET requests without bodies only. A socket that sends nothing useful
is closed after ``WAIT_SECONDS`` or ``MAX_MESSAGES``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from bson import ObjectId
from pymongo.errors import PyMongoError
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from hiremate import events as ev
from hiremate import self_id
from hiremate.errors import SelfIdRefused
from hiremate.timeutil import iso
from ingest_server.dbcall import DbCall

__all__ = ["MAX_MESSAGES", "WAIT_SECONDS", "SelfIdSession"]

WAIT_SECONDS = 60.0
MAX_MESSAGES = 10
CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008


class SelfIdSession:
    """One candidate's self-identification socket, for one completed attempt."""

    def __init__(self, ws: ServerConnection, call_db: DbCall, attempt_id: ObjectId) -> None:
        self.ws = ws
        self.call_db = call_db
        self.attempt_id = attempt_id

    async def run(self) -> None:
        try:
            async with asyncio.timeout(WAIT_SECONDS):
                for _ in range(MAX_MESSAGES):
                    if await self._answer(await self.ws.recv()):
                        await self.ws.close(CLOSE_NORMAL, "recorded")
                        return
            await self.ws.close(CLOSE_POLICY, "too many messages")
        except TimeoutError:
            with contextlib.suppress(ConnectionClosed):
                await self.ws.close(CLOSE_POLICY, "nothing recorded in time")
        except ConnectionClosed:
            pass

    async def _answer(self, raw: str | bytes) -> bool:
        """Record one message; True once recorded (the answer is sent either way)."""
        message = _parse(raw)
        if isinstance(message, ev.Rejection):
            await self._send(message.to_message())
            return False
        answers = {k: v for k, v in message.items() if k not in ("type", "session_key")}
        try:
            at = await self.call_db(self_id.record, self.attempt_id, message.get("session_key"), answers)
        except SelfIdRefused as exc:
            await self._send(ev.Rejection(ev.INVALID_PAYLOAD, str(exc)).to_message())
            return False
        except PyMongoError:  # nothing stored: the client may send again
            await self._send(
                ev.Rejection(ev.INVALID_PAYLOAD, "the answers could not be stored just now; try again").to_message()
            )
            return False
        await self._send({"type": "self_identification_received", "recorded_at": iso(at)})
        return True

    async def _send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message, separators=(",", ":")))


def _parse(raw: str | bytes) -> dict[str, Any] | ev.Rejection:
    if isinstance(raw, bytes):
        return ev.Rejection(ev.INVALID_JSON, "frames must be UTF-8 JSON text")
    try:
        message = json.loads(raw)
    except (ValueError, RecursionError):
        return ev.Rejection(ev.INVALID_JSON, "the frame is not valid JSON")
    kind = message.get("type") if isinstance(message, dict) else None
    if kind != "self_identification":
        return ev.Rejection(ev.UNKNOWN_MESSAGE, f"this socket takes self_identification only, not {ev.quote(kind)}")
    return message
