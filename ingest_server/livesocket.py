"""One recruiter connection on ``/ws/live/{attempt_id}`` (docs/protocol.md).

Subscribe first, then read the backlog: an event stored in between is in
both, and the ``SequenceGate`` lets each ``sequence_number`` through once,
in order. Then every new event, ``attempt_status`` when the status or the
task index moves, and ``assessment_completed``.

The socket lasts no longer than the right it was opened with: it is closed
with 4401 when its ticket expires, and with 4403 when a periodic re-check
(``live_access``) finds its user deactivated, moved out of the organisation
or signed out.

What it needs of the server (the live hub, database calls) comes in a
``LiveContext``: nothing here imports the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from pymongo.errors import PyMongoError
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from hiremate import attempts, events, live_access
from hiremate.live_tickets import TicketClaims
from hiremate.models import AttemptStatus
from hiremate.timeutil import iso, utcnow
from ingest_server.dbcall import DbCall
from ingest_server.fanout import Change, LiveHub, SequenceGate, Subscription

log = logging.getLogger("ingest_server.live")

CLOSE_TICKET_EXPIRED = 4401
CLOSE_ACCESS_REVOKED = 4403
CLOSE_TOO_SLOW = 4408


def event_logged(doc: dict[str, Any]) -> dict[str, Any]:
    """The seed's ``event_logged`` broadcast (plus ``event_time``)."""
    return {
        "type": "event_logged",
        "event_id": str(doc["_id"]),
        "sequence_number": doc["sequence_number"],
        "event_type": doc["event_type"],
        "task_id": str(doc["task_id"]),
        "timestamp": iso(doc.get("timestamp")),
        "event_time": iso(doc.get("event_time")),
        "payload": doc.get("payload") or {},
    }


@dataclass(frozen=True)
class LiveContext:
    """What a live session uses of the process it runs in; ``IngestServer`` builds one."""

    hub: LiveHub
    call_db: DbCall  # call_db(fn, *args): fn(db, *args), off the event loop
    recheck_seconds: float = 30.0  # how often an open socket's right is checked again


class LiveSession:
    def __init__(
        self, ctx: LiveContext, ws: ServerConnection, attempt_doc: dict[str, Any], claims: TicketClaims | None = None
    ) -> None:
        self.ctx = ctx
        self.ws = ws
        self.claims = claims
        self.attempt_id: ObjectId = attempt_doc["_id"]
        self.organization_id: ObjectId | None = attempt_doc.get("organization_id")
        self.total_tasks = len(attempt_doc.get("task_ids") or [])
        self.status: str | None = None
        self.current_task_index: int | None = None
        self.completed_sent = False
        self.gate = SequenceGate()
        self.sub: Subscription | None = None

    async def _send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message, separators=(",", ":")))

    async def run(self) -> None:
        hub = self.ctx.hub
        sub = self.sub = hub.subscribe(self.attempt_id)
        sub.on_overflow = self._too_slow
        loop = asyncio.get_running_loop()
        watcher = loop.create_task(self._watch_close(sub))
        guard = loop.create_task(self._guard())
        try:
            await self._catch_up()
            await self._refresh_attempt()
            while True:
                changes = await sub.next_batch()
                if sub.overflowed:
                    await self._close_too_slow()
                    return
                if sub.closed:
                    return
                for change in changes:
                    await self._on_change(change)
        except ConnectionClosed:
            pass
        except PyMongoError as exc:
            log.warning("live view of %s lost the database: %s", self.attempt_id, exc)
            with contextlib.suppress(ConnectionClosed):
                await self.ws.close(1013, "database unavailable, try again later")
        finally:
            hub.unsubscribe(sub)
            watcher.cancel()
            guard.cancel()

    async def _guard(self) -> None:
        """Close the socket when its ticket expires (4401) or its right ends (4403).

        The right is checked again every ``recheck_seconds``, not per event:
        one small read per socket and period."""
        claims = self.claims
        if claims is None:
            return
        while True:
            left = (claims.expires_at - utcnow()).total_seconds()
            if left <= 0:
                log.info("live view of %s: ticket expired", self.attempt_id)
                await self._close(CLOSE_TICKET_EXPIRED, "live ticket expired")
                return
            await asyncio.sleep(min(left, self.ctx.recheck_seconds))
            if claims.expires_at <= utcnow():
                continue
            try:
                refusal = await self.ctx.call_db(live_access.access_refusal, claims, self.organization_id)
            except PyMongoError as exc:
                log.warning("live view of %s could not re-check its ticket: %s", self.attempt_id, exc)
                await self._close(1013, "database unavailable, try again later")
                return
            if refusal is not None:
                log.info("live view of %s: access revoked (%s)", self.attempt_id, refusal)
                await self._close(CLOSE_ACCESS_REVOKED, "access revoked")
                return

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self.ws.close(code, reason)

    async def _watch_close(self, sub: Subscription) -> None:
        await self.ws.wait_closed()
        sub.close()

    def _too_slow(self) -> None:
        asyncio.get_running_loop().create_task(self._close_too_slow())

    async def _close_too_slow(self) -> None:
        await self._close(CLOSE_TOO_SLOW, "subscriber too slow")

    async def _deliver(self, doc: dict[str, Any]) -> None:
        for ready in self.gate.offer(doc["sequence_number"], doc):
            await self._send(event_logged(ready))

    async def _catch_up(self) -> None:
        """Send the stored events from the next expected seq on."""
        docs = await self.ctx.call_db(events.stored_events, self.attempt_id, from_seq=self.gate.next_seq)
        for doc in docs:
            await self._deliver(doc)

    async def _refresh_attempt(self) -> None:
        doc = await self.ctx.call_db(attempts.live_fields, self.attempt_id)
        if doc is not None:
            await self._status_changed(doc, force=self.status is None)

    async def _on_change(self, change: Change) -> None:
        if change.kind == "event":
            await self._deliver(change.doc)
        elif change.kind == "attempt":
            await self._status_changed(change.doc)
        elif change.kind == "resync":
            await self._catch_up()
            await self._refresh_attempt()

    async def _status_changed(self, fields: dict[str, Any], *, force: bool = False) -> None:
        status = fields.get("status", self.status)
        index = fields.get("current_task_index", self.current_task_index)
        if force or status != self.status or index != self.current_task_index:
            self.status, self.current_task_index = status, index
            await self._send(
                {
                    "type": "attempt_status",
                    "status": status,
                    "current_task_index": index if index is not None else 0,
                    "total_tasks": self.total_tasks,
                }
            )
        if status == AttemptStatus.COMPLETED.value and not self.completed_sent:
            completed_at = fields.get("completed_at")
            if completed_at is None:
                doc = await self.ctx.call_db(attempts.live_fields, self.attempt_id)
                completed_at = None if doc is None else doc.get("completed_at")
            self.completed_sent = True
            await self._send(
                {"type": "assessment_completed", "attempt_id": str(self.attempt_id), "completed_at": iso(completed_at)}
            )
