"""What an outbox claim and a review write cost the store as their collections grow.

SecantusDB 0.7.0b3's ``findAndModify`` reads the whole collection for its
write, and a filter with a ``$`` key never uses an index. Until 2026-12-06 an
outbox claim was one ``findAndModify`` with an ``$or`` filter and a sort, and
a review (a ``$push`` to its history) one ``findAndModify`` by ``_id``; the
mail outbox keeps sent messages 30 days and a person reviews every profile,
so both grew with the organisation. This times, at each size, what the
product does now (``outbox.claim``; ``db.update_by_id``) and, in the same
run on the same documents, the single command it sent before, on a
file-backed store without --sync-on-commit (the filling is the slow part).
The store's CPU comes from /proc, so it holds on a busy machine.

    .venv/bin/python -m bench.bench_claims [--sizes 0 1000 20000] [--calls 20]

Not part of ``make bench`` (about two minutes at the default sizes): the
changes it measured are done, and its figures are in ``bench/README.md``'s
findings.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, ReturnDocument
from pymongo.collection import Collection

from bench.bench_ingest import cpu_seconds
from bench.common import fmt, free_port
from hiremate import db as dbmod
from hiremate import outbox
from hiremate.timeutil import utcnow

LEASE = timedelta(minutes=5)


def _sent(count: int, organization_id: ObjectId) -> list[dict[str, Any]]:
    """Sent messages about as large as the outbox keeps them (the text is read at sending time)."""
    now = utcnow()
    return [
        {
            "organization_id": organization_id,
            "kind": "invitation",
            "attempt_id": ObjectId(),
            "status": "sent",
            "next_attempt_at": now - timedelta(days=1),
            "tries": 1,
            "last_error": None,
            "server_reply": "250 2.0.0 Ok: queued as " + "A" * 12,
            "created_at": now,
            "updated_at": now,
            "finished_at": now,
            "key": f"invitation:{ObjectId()}",
        }
        for _ in range(count)
    ]


def _review(organization_id: ObjectId) -> dict[str, Any]:
    now = utcnow()
    verdicts = {f"dimension_{n}": {"verdict": "agree", "reason": "r" * 60} for n in range(5)}
    review = {"reviewer_id": "u", "reviewer_name": "A Reviewer", "dimensions": verdicts, "notes": "n" * 200}
    return {
        "_id": ObjectId(),
        "organization_id": organization_id,
        "completed_at": now,
        "reviews": {"u": {**review, "reviewed_at": now}},
        "history": [{**review, "reviewed_at": now}],
        "decision": None,
        "decisions": [],
    }


def _claim_before(collection: Collection, worker: str) -> dict[str, Any] | None:
    """``outbox.claim`` as it was until 2026-12-06: one findAndModify."""
    now = utcnow()
    return collection.find_one_and_update(
        {
            "$or": [
                {"status": outbox.QUEUED, "next_attempt_at": {"$lte": now}},
                {"status": outbox.SENDING, "lease_until": {"$lt": now}},
            ]
        },
        {
            "$set": {"status": outbox.SENDING, "lease_until": now + LEASE, "lease_owner": worker, "updated_at": now},
            "$inc": {"tries": 1},
        },
        sort=[("next_attempt_at", ASCENDING), ("_id", ASCENDING)],
        return_document=ReturnDocument.AFTER,
    )


def _timed(store_pid: int, calls: int, call: Callable[[int], Any]) -> tuple[float, float]:
    """(wall ms, store CPU ms) per call."""
    cpu, wall = cpu_seconds(store_pid), time.perf_counter()
    for n in range(calls):
        if call(n) is None:
            raise RuntimeError("a timed call found nothing to do")
    return (time.perf_counter() - wall) / calls * 1e3, (cpu_seconds(store_pid) - cpu) / calls * 1e3


def _claims(store_pid: int, mail: Collection, calls: int) -> list[tuple[float, float]]:
    """A claim now and before, each taking ``calls`` messages made due for it."""
    figures = []
    for claim in (lambda n: outbox.claim(mail, "w", utcnow(), LEASE), lambda n: _claim_before(mail, "w")):
        due = utcnow() - timedelta(seconds=1)
        mail.insert_many([{**doc, "status": outbox.QUEUED, "next_attempt_at": due} for doc in _sent(calls, ObjectId())])
        figures.append(_timed(store_pid, calls, claim))
        mail.update_many({"status": outbox.SENDING}, {"$set": {"status": "sent"}})
    return figures


def _review_writes(store_pid: int, reviews: Collection, ids: list[ObjectId], calls: int) -> list[tuple[float, float]]:
    """A review's write now and before, on the first ``calls`` reviews."""
    push = {"$set": {"reviews.u.notes": "again"}, "$push": {"history": {"$each": [{"n": 1}], "$slice": -20}}}
    now = _timed(store_pid, calls, lambda n: dbmod.update_by_id(reviews, {"_id": ids[n]}, push))
    before = _timed(
        store_pid,
        calls,
        lambda n: reviews.find_one_and_update({"_id": ids[n]}, push, return_document=ReturnDocument.AFTER),
    )
    return [now, before]


def run(tmp: Path, sizes: list[int], calls: int) -> None:
    port = free_port()
    store = dbmod.start_embedded_store(tmp / "store", port, sync_on_commit=False)
    try:
        db = dbmod.make_client(f"mongodb://127.0.0.1:{port}/")["bench_claims"]
        dbmod.ensure_indexes(db)
        mail, reviews = db[dbmod.MAIL_OUTBOX], db[dbmod.REVIEWS]
        organization_id = ObjectId()
        review_ids = [_review(organization_id) for _ in range(calls)]
        reviews.insert_many(review_ids)
        review_ids, held = [doc["_id"] for doc in review_ids], 0
        print("| documents kept | claim now | claim before | review now | review before |")
        print("|---|---|---|---|---|")
        for size in sizes:
            for start in range(held, size, 1000):
                mail.insert_many(_sent(min(1000, size - start), organization_id))
                reviews.insert_many([_review(organization_id) for _ in range(min(1000, size - start))])
            held = max(held, size)
            figures = _claims(store.process.pid, mail, calls) + _review_writes(
                store.process.pid, reviews, review_ids, calls
            )
            cells = [f"{fmt(wall)} ms ({fmt(cpu)} of store CPU)" for wall, cpu in figures]
            print(f"| {size:,} | " + " | ".join(cells) + " |", flush=True)
    finally:
        store.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 1000, 20000])
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hm-bench-claims-") as tmp:
        run(Path(tmp), args.sizes, args.calls)
