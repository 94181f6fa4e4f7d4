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


@pytest.mark.parametrize("first_span", [timedelta(0), timedelta(minutes=30), timedelta(days=3), timedelta(days=2000)])
@pytest.mark.parametrize("skip,limit", [(0, 20), (25, 25)])
@pytest.mark.parametrize("field,dates_only", [("created_at", False), ("started_at", True)])
def test_a_first_span_changes_which_windows_are_read_never_the_page(spread, first_span, skip, limit, field, dates_only):
    db, org, now = spread
    collection = db["task_attempts"]

    def page(**hint):
        return windowed.newest_first(
            collection, {"organization_id": org}, field, projection={"_id": 1}, skip=skip, limit=limit,
            dates_only=dates_only, now=now, **hint,
        )  # fmt: skip

    assert page(first_span=first_span) == page() != []


def _hour(at):
    return at.replace(minute=0, second=0, microsecond=0)


def test_the_hour_counters_tell_how_far_back_recent_completions_go(db):
    org, now = ObjectId(), utcnow().replace(microsecond=0)
    completed = [now - timedelta(minutes=70)] * 3 + [now - timedelta(hours=5)] * 2 + [now - timedelta(hours=30)] * 4
    completed.append(now - timedelta(days=9))  # older than the days looked at
    docs = [
        {"organization_id": org, "status": "completed", "started_at": at - timedelta(minutes=20), "completed_at": at,
         "candidate_info": {"position": ""}, "token_hash": f"h{n}"}
        for n, at in enumerate(completed)
    ]  # fmt: skip
    db["task_attempts"].insert_many(docs)
    attempt_counts.recount(db, org)

    def span(at_least):
        return attempt_counts.recent_completions(db, org, now=now).span(at_least)

    assert span(1) == span(3) == now - _hour(completed[0])
    assert span(4) == span(5) == now - _hour(completed[3])
    assert span(9) == now - _hour(completed[5])
    assert span(10) is None and span(0) is None
