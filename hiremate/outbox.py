"""What every outbox shares: claiming a due document with a lease, the worker's name.

An outbox is a collection of documents to deliver (``mail_outbox`` for
hiremate.mail, ``webhook_deliveries`` for hiremate.webhooks), each with a
``status``, a ``next_attempt_at`` and a ``tries`` count. A drainer claims
the oldest due one with one ``find_one_and_update`` (``queued`` and due, or
``sending`` whose holder's lease ran out: it died while delivering), which
sets ``sending``, ``lease_owner``, ``lease_until`` and counts the try; only
the lease holder writes the outcome (its updates match ``lease_owner``). Any
number of drainers, in any number of processes, may run at once. The
collection needs the indexes ``(status, next_attempt_at)`` and
``(status, lease_until)``.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.collection import Collection

from hiremate.timeutil import to_ms, utcnow

__all__ = ["QUEUED", "SENDING", "backoff_after", "claim", "new_worker_id", "now_or"]

QUEUED, SENDING = "queued", "sending"


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
    return collection.find_one_and_update(
        {
            **(extra or {}),
            "$or": [
                {"status": QUEUED, "next_attempt_at": {"$lte": now}},
                {"status": SENDING, "lease_until": {"$lt": now}},
            ],
        },
        {
            "$set": {"status": SENDING, "lease_until": now + lease, "lease_owner": worker, "updated_at": now},
            "$inc": {"tries": 1},
        },
        sort=[("next_attempt_at", ASCENDING), ("_id", ASCENDING)],
        return_document=ReturnDocument.AFTER,
    )


def backoff_after(tries: int, schedule: tuple[timedelta, ...]) -> timedelta | None:
    """The wait after the ``tries``-th failed try, or None when it was the last one."""
    if tries < 1 or tries > len(schedule):
        return None
    return schedule[tries - 1]
