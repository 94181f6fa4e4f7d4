"""What every outbox shares: claiming a due document with a lease, the worker's name.

An outbox is a collection of documents to deliver (``mail_outbox`` for
hiremate.mail, ``webhook_deliveries`` for hiremate.webhooks), each with a
``status``, a ``next_attempt_at`` and a ``tries`` count. A drainer claims
the oldest due one (``queued`` and due, or ``sending`` whose holder's lease
ran out: it died while delivering) with a compare-and-set that sets
``sending``, ``lease_owner``, ``lease_until`` and counts the try; only the
lease holder writes the outcome (its updates match ``lease_owner``). Any
number of drainers, in any number of processes, may run at once. The
collection needs the indexes ``(status, next_attempt_at)`` and
``(status, lease_until)``.

A claim asks for the oldest of each kind with its own query, each served by
its index, then takes the older of the two by ``_id`` (and looks again if
another drainer took it first). One ``find_one_and_update`` with ``$or`` and
a sort, as it was until 2026-12-06, made SecantusDB 0.7.0b3 read the whole
collection: a filter with a ``$`` key never uses an index, and its
``findAndModify`` writes with one. Sent messages stay 30 days, so a claim
grew with every message sent: 87 ms with 1,000 kept, 852 ms with 20,000,
against 9-16 ms now (``bench/bench_claims.py``).
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.collection import Collection

from hiremate import db as dbmod
from hiremate.timeutil import to_ms, utcnow

__all__ = ["QUEUED", "SENDING", "backoff_after", "claim", "new_worker_id", "now_or"]

QUEUED, SENDING = "queued", "sending"
CLAIM_ORDER = [("next_attempt_at", ASCENDING), ("_id", ASCENDING)]


def now_or(now: datetime | None) -> datetime:
    return utcnow() if now is None else to_ms(now)


def new_worker_id() -> str:
    """A drainer's name, unique across hosts, processes and restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def claim(
    collection: Collection, worker: str, now: datetime, lease: timedelta, *, extra: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """Take the oldest due document (or one whose holder's lease ran out) for ``worker``;
    each claim counts as a try. ``extra`` narrows what may be claimed."""
    narrowed = dict(extra or {})
    update = {
        "$set": {"status": SENDING, "lease_until": now + lease, "lease_owner": worker, "updated_at": now},
        "$inc": {"tries": 1},
    }
    while True:
        oldest = _oldest_claimable(collection, now, narrowed)
        if oldest is None:
            return None
        claimable = {"_id": oldest["_id"], **narrowed, **_claimable(oldest["status"], now)}
        doc = dbmod.find_one_and_update(collection, claimable, update, return_document=ReturnDocument.AFTER)
        if doc is not None:
            return doc
        # Another drainer took it (or it changed) between the look and the write: look again.


def _claimable(status: str, now: datetime) -> dict[str, Any]:
    """What makes a document of this status claimable now."""
    if status == QUEUED:
        return {"status": QUEUED, "next_attempt_at": {"$lte": now}}
    return {"status": SENDING, "lease_until": {"$lt": now}}


def _oldest_claimable(collection: Collection, now: datetime, narrowed: dict[str, Any]) -> dict[str, Any] | None:
    """The claimable document first in (``next_attempt_at``, ``_id``) order, or None."""
    found = [
        doc
        for status in (QUEUED, SENDING)
        for doc in collection.find({**narrowed, **_claimable(status, now)}, {"status": 1, "next_attempt_at": 1})
        .sort(CLAIM_ORDER)
        .limit(1)
    ]
    return min(found, key=lambda doc: (doc["next_attempt_at"], doc["_id"]), default=None)


def backoff_after(tries: int, schedule: tuple[timedelta, ...]) -> timedelta | None:
    """The wait after the ``tries``-th failed try, or None when it was the last one."""
    if tries < 1 or tries > len(schedule):
        return None
    return schedule[tries - 1]
