"""hiremate.outbox: what the mail and webhook outboxes share, on the embedded store."""

from __future__ import annotations

from datetime import timedelta

from hiremate import outbox
from hiremate.timeutil import utcnow
from tests.support.commands import listening
from tests.support.concurrency import at_once

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


def test_drainers_racing_each_claim_every_due_document_exactly_once(db):
    collection = db["an_outbox"]
    now = utcnow()
    collection.insert_many(
        [
            {"_id": n, "status": outbox.QUEUED, "next_attempt_at": now - timedelta(seconds=n), "tries": 0}
            for n in range(30)
        ]
        + [
            {"_id": 100 + n, "status": "sent", "next_attempt_at": now - timedelta(days=1), "tries": 1}
            for n in range(50)
        ]
    )

    def drain_all() -> list[int]:
        worker, taken = outbox.new_worker_id(), []
        while (doc := outbox.claim(collection, worker, now, LEASE)) is not None:
            assert doc["lease_owner"] == worker and doc["status"] == outbox.SENDING
            taken.append(doc["_id"])
        return taken

    claimed = [doc_id for taken in at_once(6, drain_all) for doc_id in taken]
    assert sorted(claimed) == list(range(30))  # each due one once, nothing sent taken again
    assert {doc["tries"] for doc in collection.find({"status": outbox.SENDING})} == {1}
    assert collection.count_documents({"status": "sent", "tries": 1}) == 50


def test_a_claim_asks_the_store_only_what_its_indexes_serve(store_uri, db):
    """On SecantusDB a filter with a ``$`` key, and every findAndModify, read
    the whole collection, which keeps sent messages for 30 days: a claim
    sends neither, whichever kind of document it takes."""
    with listening(store_uri, db.name) as (database, commands):
        collection = database["an_outbox"]
        now = utcnow()
        collection.insert_many(
            [
                {"_id": 1, "status": outbox.QUEUED, "next_attempt_at": now - timedelta(seconds=5), "tries": 0},
                {
                    "_id": 2,
                    "status": outbox.SENDING,
                    "next_attempt_at": now - timedelta(seconds=9),
                    "tries": 1,
                    "lease_owner": "gone",
                    "lease_until": now - timedelta(seconds=1),
                },
            ]
        )
        commands.sent.clear()
        taken = [outbox.claim(collection, "a", now, LEASE)["_id"] for _ in range(2)]
        assert taken == [2, 1]  # the expired lease was due first
        assert outbox.claim(collection, "a", now, LEASE) is None
        names = [name for name, _ in commands.sent]
        assert "findAndModify" not in names and "update" in names
        filters = [body["filter"] for name, body in commands.sent if name == "find"]
        filters += [statement["q"] for name, body in commands.sent if name == "update" for statement in body["updates"]]
        assert filters and not any(key.startswith("$") for query in filters for key in query)
        assert all("status" in query for query in filters)
