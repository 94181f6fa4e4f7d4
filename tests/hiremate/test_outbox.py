"""hiremate.outbox: what the mail and webhook outboxes share, on the embedded store."""

from __future__ import annotations

from datetime import timedelta

from hiremate import outbox
from hiremate.timeutil import utcnow

LEASE = timedelta(minutes=1)


def test_claim_takes_the_oldest_due_once_and_an_expired_lease_again(db):
    collection = db["an_outbox"]
    now = utcnow()
    collection.insert_many(
        [
            {"_id": 1, "status": outbox.QUEUED, "next_attempt_at": now - timedelta(seconds=1), "tries": 0},
            {"_id": 2, "status": outbox.QUEUED, "next_attempt_at": now - timedelta(seconds=9), "tries": 0},
            {"_id": 3, "status": outbox.QUEUED, "next_attempt_at": now + timedelta(seconds=5), "tries": 0},
            {"_id": 4, "status": "sent", "next_attempt_at": now - timedelta(days=1), "tries": 1},
        ]
    )
    first = outbox.claim(collection, "a", now, LEASE)
    second = outbox.claim(collection, "b", now, LEASE)
    assert (first["_id"], second["_id"]) == (2, 1)  # oldest due first; each once
    assert first["status"] == outbox.SENDING and first["lease_owner"] == "a" and first["tries"] == 1
    assert first["lease_until"] == now + LEASE
    assert outbox.claim(collection, "c", now, LEASE) is None  # 3 not due, 4 finished, 1 and 2 leased
    later = now + LEASE + timedelta(seconds=1)  # "a" and "b" died: their leases ran out
    again = [outbox.claim(collection, "c", later, LEASE)["_id"] for _ in range(3)]
    assert sorted(again) == [1, 2, 3]
    assert collection.find_one({"_id": 2})["tries"] == 2 and collection.find_one({"_id": 2})["lease_owner"] == "c"


def test_backoff_after_and_worker_names():
    schedule = (timedelta(seconds=5), timedelta(minutes=5))
    assert [outbox.backoff_after(n, schedule) for n in (0, 1, 2, 3)] == [None, schedule[0], schedule[1], None]
    assert outbox.new_worker_id() != outbox.new_worker_id()
