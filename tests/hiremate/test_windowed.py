"""Newest-first pages read through recent windows return exactly what the
unbounded query returns; the grouped candidate counts match count_documents."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from bson import ObjectId

from hiremate import attempt_counts, reports, windowed
from hiremate.scope import Scope
from hiremate.timeutil import utcnow


@pytest.fixture
def spread(db):
    """150 attempts of one organisation over a year (some sharing a time,
    some without ``started_at``, some in the future) and 20 of another."""
    rng = random.Random(7)
    now = utcnow()
    org, other = ObjectId(), ObjectId()
    docs = []
    for i in range(170):
        created = now - timedelta(days=rng.choice([0.2, 0.5, 2, 2, 5, 20, 60, 200, 400]), hours=rng.randrange(3))
        if i % 17 == 0:
            created = now + timedelta(hours=1)
        doc = {
            "organization_id": org if i < 150 else other,
            "created_at": created.replace(microsecond=0),
            "token_hash": f"t{i}",
            "status": rng.choice(["pending", "completed", "locked"]),
            "candidate_info": {
                "name": f"C{i}",
                "email": f"c{i}@x.test",
                "position": rng.choice(["", "Analyst", "Dev"]),
            },
        }
        if i % 3:
            doc["started_at"] = created + timedelta(minutes=rng.randrange(600))
        docs.append(doc)
    db["task_attempts"].insert_many(docs)
    attempt_counts.record_new(db, docs)  # inserted directly: counted as seeding counts them
    return db, org, now


@pytest.mark.parametrize("skip,limit", [(0, 1), (0, 20), (0, 25), (5, 10), (25, 25), (140, 25), (0, 200)])
@pytest.mark.parametrize(
    "field,query,dates_only",
    [
        ("created_at", {}, False),
        ("created_at", {"status": "completed"}, False),
        ("created_at", {"candidate_info.position": "Dev"}, False),
        ("started_at", {}, True),
    ],
)
def test_newest_first_is_the_unbounded_page(spread, skip, limit, field, query, dates_only):
    db, org, now = spread
    collection = db["task_attempts"]
    full = {**query, "organization_id": org}
    if dates_only:
        full[field] = {"$type": "date"}
    expected = list(collection.find(full, {"_id": 1}).sort([(field, -1), ("_id", -1)]).skip(skip).limit(limit))
    got = windowed.newest_first(
        collection,
        {**query, "organization_id": org},
        field,
        projection={"_id": 1},
        skip=skip,
        limit=limit,
        dates_only=dates_only,
        now=now,
    )
    assert got == expected


def test_candidate_counts_match_count_documents(spread):
    db, org, _ = spread
    scope = Scope(db, org)
    counts = reports.candidate_counts(scope)
    assert counts.positions == reports.positions(scope)
    for position in (None, "Analyst", "Dev", "Nobody"):
        for status in (None, "pending", "completed"):
            frame, total = reports.candidates_page(scope, position=position, status=status, counts=counts)
            assert frame.equals(reports.candidates_page(scope, position=position, status=status)[0])
            query = {"organization_id": org}
            if position:
                query["candidate_info.position"] = position
            if status:
                query["status"] = status
            assert total == db["task_attempts"].count_documents(query)
