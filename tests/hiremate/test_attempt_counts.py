"""The attempt counters: after real life-cycle transitions (issue, start,
restart, complete, lock, expire), bulk seeding and repairs they equal a fresh
aggregation over ``task_attempts`` (the oracle below); the readers clamp,
fall back to a recount for an organisation never counted, take the exact
median to the second and count the last seven days exactly."""

from __future__ import annotations

import logging
import math
import random
import statistics
from datetime import UTC, datetime, timedelta

import pytest
from bson import ObjectId

from hiremate import attempt_counts, dashboard, reports
from hiremate import db as dbmod
from hiremate.attempt_counts import CounterKey
from hiremate.attempts import (
    AttemptClosed,
    complete,
    expire_due,
    find_by_token,
    issue_attempt,
    lock_attempt,
    reissue_link,
)
from hiremate.models import CandidateInfo
from hiremate.ops import simulate
from hiremate.scope import Scope
from hiremate.task_library import LIBRARY
from hiremate.tasks import create_task
from hiremate.timeutil import to_ms, utcnow
from tests.support.builders import start_attempt

URL = "https://assess.example"


@pytest.fixture
def scope(db):
    return Scope(db, ObjectId(), ObjectId())


@pytest.fixture
def tasks(scope):
    return [create_task(scope, LIBRARY[key]) for key in ("ps_flaky_build", "com_late_handoffs")]


def issue(scope, tasks, name, position="Analyst", expires_days=7):
    candidate = CandidateInfo(name=name, email=f"{name.lower()}@example.com", position=position)
    return issue_attempt(
        scope, candidate=candidate, task_ids=[t.id for t in tasks], expires_days=expires_days, public_url=URL
    )


# ---------------------------------------------------------------- the oracle and the counters as stored


def oracle(db, org):
    """What the counters must say, aggregated afresh from the attempts."""
    pipeline = [
        {"$match": {"organization_id": org}},
        {"$group": {"_id": {"p": "$candidate_info.position", "s": "$status"}, "n": {"$sum": 1}}},
    ]
    by_position_status = {
        (d["_id"].get("p"), d["_id"].get("s")): d["n"] for d in db[dbmod.ATTEMPTS].aggregate(pipeline)
    }
    days, durations = {}, {}
    for doc in db[dbmod.ATTEMPTS].find({"organization_id": org, "status": "completed"}):
        completed, started = doc.get("completed_at"), doc.get("started_at")
        if isinstance(completed, datetime):
            day = completed.astimezone(UTC).date()
            days[day] = days.get(day, 0) + 1
            if isinstance(started, datetime):
                seconds = math.floor((completed - started).total_seconds() + 0.5)
                durations[seconds] = durations.get(seconds, 0) + 1
    return {"by_position_status": by_position_status, "days": days, "durations": durations}


def stored(db, org):
    """The counters as stored (no fallback, zeros left out): what the writers did."""
    by_position_status, days, durations = {}, {}, {}
    for doc in db[dbmod.ATTEMPT_COUNTS].find({"organization_id": org}):
        if doc["kind"] == "status" and doc["n"]:
            by_position_status[(doc["position"], doc["status"])] = doc["n"]
        elif doc["kind"] == "day" and doc["n"]:
            days[doc["day"].astimezone(UTC).date()] = doc["n"]
        elif doc["kind"] == "durations":
            durations |= {int(s): n for s, n in doc["s"].items() if n}
    return {"by_position_status": by_position_status, "days": days, "durations": durations}


def assert_counted(db, org):
    assert stored(db, org) == oracle(db, org)


# ---------------------------------------------------------------- transitions through hiremate.attempts


def test_every_transition_keeps_the_counters_equal_to_the_attempts(scope, tasks):
    db, org = scope.db, scope.organization_id
    assert attempt_counts.ensure_counted(db, org)  # an empty organisation: counted once, nothing to count
    assert not attempt_counts.ensure_counted(db, org)
    issued = [issue(scope, tasks, name, position) for name, position in
              [("Ann", "Analyst"), ("Bob", "Dev"), ("Cy", ""), ("Di", "Analyst"), ("Ed", "Dev"), ("Flo", "Analyst")]]  # fmt: skip
    assert_counted(db, org)
    assert stored(db, org)["by_position_status"] == {
        ("Analyst", "pending"): 3,
        ("Dev", "pending"): 2,
        ("", "pending"): 1,
    }

    now = utcnow()
    running = [start_attempt(db, find_by_token(db, i.token), now=now)[0] for i in issued[:4]]
    assert_counted(db, org)

    # A restart from a re-issued link: in progress stays in progress, nothing moves.
    again = reissue_link(scope, running[3].id, public_url=URL)
    start_attempt(db, find_by_token(db, again.token))
    assert_counted(db, org)

    complete(db, running[0].id, completed_at=now + timedelta(minutes=7, seconds=3))
    complete(db, running[1].id, completed_at=now + timedelta(hours=2, milliseconds=400))
    assert complete(db, running[0].id, completed_at=now) is None  # lost the race: counted once only
    assert_counted(db, org)
    assert stored(db, org)["durations"] == {423: 1, 7200: 1}

    lock_attempt(scope, running[2].id, "Withdrew")  # in progress -> locked
    lock_attempt(scope, issued[4].attempt.id, "Duplicate")  # pending -> locked
    with pytest.raises(AttemptClosed):
        lock_attempt(scope, running[0].id, "Too late")  # completed: refused, nothing counted
    assert_counted(db, org)

    later = now + timedelta(days=8)
    assert {a.id for a in expire_due(db, now=later)} == {running[3].id, issued[5].attempt.id}
    assert_counted(db, org)
    counts = reports.candidate_counts(scope)
    assert counts.total() == 6
    assert counts.total(status="expired") == 2 and counts.total(status="locked") == 2
    assert counts.positions == ["Analyst", "Dev"]


def test_expiry_on_access_is_counted(scope, tasks):
    db, org = scope.db, scope.organization_id
    attempt_counts.ensure_counted(db, org)
    one = issue(scope, tasks, "Gus", expires_days=1)
    expired = find_by_token(db, one.token, now=utcnow() + timedelta(days=2))
    assert expired.status == "expired"
    assert find_by_token(db, one.token, now=utcnow() + timedelta(days=3)).status == "expired"  # counted once
    assert_counted(db, org)
    assert stored(db, org)["by_position_status"] == {("Analyst", "expired"): 1}


def test_organisations_are_counted_apart(db, tasks, scope):
    other = Scope(db, ObjectId(), ObjectId())
    other_tasks = [create_task(other, LIBRARY["dc_team_tool"])]
    issue(scope, tasks, "Hal")
    issue(other, other_tasks, "Ivy", position="Dev")
    issue(other, other_tasks, "Jo", position="Dev")
    assert reports.candidate_counts(scope).by_position_status == {("Analyst", "pending"): 1}
    assert reports.candidate_counts(other).by_position_status == {("Dev", "pending"): 2}


# ---------------------------------------------------------------- seeding, repair, fallback


def test_simulated_seeding_records_its_counts_in_bulk(scope, tasks):
    db, org = scope.db, scope.organization_id
    attempt_counts.ensure_counted(db, org)
    simulate.seed_completed_attempts(
        db, organization_id=org, tasks=tasks, count=40, rng=random.Random(3), tasks_per_attempt=1,
        spread_days=20, with_events=False, with_profiles=False, batch_size=15,
    )  # fmt: skip
    assert_counted(db, org)
    assert sum(stored(db, org)["days"].values()) == 40


def test_recount_repairs_corrupted_counters(scope, tasks):
    db, org = scope.db, scope.organization_id
    attempt_counts.ensure_counted(db, org)
    simulate.seed_completed_attempts(
        db, organization_id=org, tasks=tasks, count=12, rng=random.Random(4), tasks_per_attempt=1,
        with_events=False, with_profiles=False,
    )  # fmt: skip
    issue(scope, tasks, "Kim", position="Dev")
    counters = db[dbmod.ATTEMPT_COUNTS]
    counters.update_one({"organization_id": org, "kind": "status", "status": "completed"}, {"$inc": {"n": 5}})
    counters.update_one({"organization_id": org, "kind": "day"}, {"$set": {"n": -3}})
    counters.delete_many({"organization_id": org, "kind": "durations"})
    counters.update_one(  # a counter of nothing that exists
        {"_id": CounterKey(org, "status", position="Ghost", status="pending").doc_id},
        {"$set": {"n": 2, "organization_id": org, "kind": "status", "position": "Ghost", "status": "pending"}},
        upsert=True,
    )
    assert stored(db, org) != oracle(db, org)

    result = attempt_counts.recount(db, org)
    assert result.attempts == 13 and result.organizations == 1
    assert_counted(db, org)
    attempt_counts.recount(db, org)  # idempotent
    assert_counted(db, org)
    positions = {p for p, _ in oracle(db, org)["by_position_status"] if p}
    assert "Ghost" not in reports.positions(scope) and reports.positions(scope) == sorted(positions)


def test_recount_of_every_organisation(db, tasks, scope):
    other = Scope(db, ObjectId(), ObjectId())
    issue(scope, tasks, "Lea")
    issue(other, [create_task(other, LIBRARY["dc_team_tool"])], "Max")
    db[dbmod.ATTEMPT_COUNTS].delete_many({})
    result = attempt_counts.recount(db)
    assert result.organizations == 2 and result.attempts == 2
    for org in (scope.organization_id, other.organization_id):
        assert_counted(db, org)
        assert db[dbmod.ATTEMPT_COUNTS].find_one({"_id": attempt_counts.meta_id(org)}) is not None


def test_an_organisation_never_counted_is_recounted_once_by_the_readers(scope, tasks, monkeypatch):
    """A store from before the counters: attempts, and no counter documents."""
    db, org = scope.db, scope.organization_id
    now = utcnow()
    docs = []
    for i, (status, position) in enumerate(
        [("pending", None), ("completed", "Dev"), ("completed", ""), ("locked", "Dev")]
    ):
        doc = simulate.make_attempt(tasks, random.Random(i), organization_id=org).to_doc()
        doc["status"] = status
        doc["candidate_info"]["position"] = position
        if status == "completed":
            doc["started_at"], doc["completed_at"] = now - timedelta(hours=1, seconds=i), now - timedelta(hours=i)
        docs.append(doc)
    db[dbmod.ATTEMPTS].insert_many(docs)
    assert db[dbmod.ATTEMPT_COUNTS].count_documents({"organization_id": org}) == 0

    counts = reports.candidate_counts(scope)
    assert counts.by_position_status == oracle(db, org)["by_position_status"]
    assert counts.positions == ["Dev"] and counts.total() == 4
    assert counts.total(position="Dev", status="completed") == 1

    def no_more_recounts(*args, **kwargs):
        raise AssertionError("recounted twice")

    monkeypatch.setattr(attempt_counts, "recount", no_more_recounts)
    stats = dashboard.dashboard_stats(scope, now=now)
    assert stats.attempts_by_status == {"pending": 1, "in_progress": 0, "completed": 2, "expired": 0, "locked": 1}
    assert stats.completed_last_7_days == 2 and stats.median_sample_size == 2


def test_negative_counters_show_as_zero_with_a_warning(scope, tasks, caplog):
    db, org = scope.db, scope.organization_id
    attempt_counts.ensure_counted(db, org)
    issue(scope, tasks, "Ned")
    attempt_counts.record_transition(db, None, {"organization_id": org, "status": "locked", "candidate_info": {}})
    attempt_counts.record_transition(db, {"organization_id": org, "status": "locked", "candidate_info": {}}, None)
    attempt_counts.record_transition(db, {"organization_id": org, "status": "expired", "candidate_info": {}}, None)
    with caplog.at_level(logging.WARNING, logger="hiremate.attempt_counts"):
        stats = dashboard.dashboard_stats(scope)
    assert stats.attempts_by_status["expired"] == 0 and stats.total_attempts == 1
    assert "recount" in caplog.text


# ---------------------------------------------------------------- the median and the seven days


@pytest.mark.parametrize(
    ("histogram", "expected"),
    [
        ({}, (None, 0)),
        ({60: 1}, (60.0, 1)),
        ({60: 1, 90: 1}, (75.0, 2)),
        ({10: 3, 500: 1}, (10.0, 4)),
        ({10: 2, 20: 2}, (15.0, 4)),
        ({5: 1, 7: 0, 9: -2, 11: 1}, (8.0, 2)),
    ],
)
def test_median_of_a_histogram(histogram, expected):
    assert attempt_counts.median_seconds(histogram) == expected


def completed_doc(org, started_at, completed_at, position="Analyst"):
    return {
        "_id": ObjectId(),
        "organization_id": org,
        "token_hash": f"hash-{ObjectId()}",
        "status": "completed",
        "candidate_info": {"name": "X", "email": "x@example.com", "position": position},
        "created_at": to_ms(started_at),
        "started_at": to_ms(started_at),
        "completed_at": to_ms(completed_at),
    }


def seed_docs(db, docs):
    db[dbmod.ATTEMPTS].insert_many(docs)
    attempt_counts.record_new(db, docs)


@pytest.mark.parametrize("count", [1, 2, 7, 40, 41])
def test_the_median_is_exact_to_the_second(scope, count):
    db, org = scope.db, scope.organization_id
    attempt_counts.ensure_counted(db, org)
    rng = random.Random(count)
    start_at = utcnow() - timedelta(days=3)
    # Spread over several duration hours (several histogram documents), milliseconds included.
    durations_ms = [rng.choice([rng.randrange(1, 4 * 3600 * 1000), 90_500, 90_499]) for _ in range(count)]
    seed_docs(db, [completed_doc(org, start_at, start_at + timedelta(milliseconds=ms)) for ms in durations_ms])
    stats = dashboard.dashboard_stats(scope)
    exact = statistics.median(ms / 1000 for ms in durations_ms)
    assert stats.median_sample_size == count
    assert stats.median_completion_seconds == statistics.median((ms + 500) // 1000 for ms in durations_ms)
    assert abs(stats.median_completion_seconds - exact) <= 0.5
    assert_counted(db, org)


@pytest.mark.parametrize("at_midnight", [False, True])
def test_completed_in_the_last_seven_days_counts_the_boundary_exactly(scope, at_midnight):
    db, org = scope.db, scope.organization_id
    attempt_counts.ensure_counted(db, org)
    now = (
        datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
        if at_midnight
        else datetime(2026, 11, 25, 13, 45, 10, 250_000, tzinfo=UTC)
    )
    since = now - timedelta(days=dashboard.RECENT_DAYS)
    offsets = [
        -timedelta(milliseconds=1), timedelta(0), timedelta(milliseconds=1), timedelta(hours=-3), timedelta(hours=5),
        timedelta(days=1), timedelta(days=3, hours=2), timedelta(days=6, hours=23), timedelta(days=7),
        timedelta(days=9),  # in the future: still counted, as completed_at >= since counts it
        timedelta(days=-1), timedelta(days=-30),
    ]  # fmt: skip
    if not at_midnight:
        offsets.append(utc_midnight_after(since) - since)  # the first whole day starts here
        offsets.append(utc_midnight_after(since) - since - timedelta(milliseconds=1))
        # The first whole hour (counted from the day's hours) and the partial one before it (from attempts).
        next_hour = since.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        offsets += [next_hour - since, next_hour - since - timedelta(milliseconds=1), timedelta(minutes=7)]
        offsets += [next_hour - since + timedelta(hours=9, minutes=59)]  # the first day's last hour
    seed_docs(db, [completed_doc(org, since + offset - timedelta(minutes=20), since + offset) for offset in offsets])
    # Counted here in Python: the store's own count_documents with ``$gte`` on the
    # (organization_id, status, completed_at desc) index misses the completion at ``since``.
    completed = [d["completed_at"] for d in db[dbmod.ATTEMPTS].find({"organization_id": org})]
    expected = sum(1 for at in completed if at >= since)
    assert expected == sum(1 for offset in offsets if offset >= timedelta(0))
    assert attempt_counts.completed_since(db, org, since) == expected
    assert dashboard.dashboard_stats(scope, now=now).completed_last_7_days == expected
    assert dashboard.dashboard_stats(scope, now=now + timedelta(days=40)).completed_last_7_days == 0


def utc_midnight_after(moment):
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC) + timedelta(days=1)


# ---------------------------------------------------------------- pure pieces


def test_a_transition_that_keeps_the_status_changes_nothing():
    org = ObjectId()
    doc = {"organization_id": org, "status": "in_progress", "candidate_info": {"position": "Dev"}}
    assert attempt_counts.transition_delta(doc, {**doc, "session_epoch": 2}) == {}
    done = {**doc, "status": "completed", "started_at": datetime(2026, 1, 1, tzinfo=UTC),
            "completed_at": datetime(2026, 1, 1, 0, 0, 59, 500_000, tzinfo=UTC)}  # fmt: skip
    delta = attempt_counts.transition_delta(doc, done)
    assert delta == {
        (CounterKey(org, "status", position="Dev", status="in_progress"), "n"): -1,
        (CounterKey(org, "status", position="Dev", status="completed"), "n"): 1,
        (CounterKey(org, "status", position="Dev", status="in_progress"), "p"): -1,  # people too
        (CounterKey(org, "status", position="Dev", status="completed"), "p"): 1,
        (CounterKey(org, "day", day=datetime(2026, 1, 1, tzinfo=UTC)), "n"): 1,
        (CounterKey(org, "day", day=datetime(2026, 1, 1, tzinfo=UTC)), "h.0"): 1,  # and its hour
        (CounterKey(org, "durations", hour=0), "s.60"): 1,
    }


def test_positions_missing_null_and_empty_are_kept_apart(scope):
    db, org = scope.db, scope.organization_id
    attempt_counts.ensure_counted(db, org)
    base = {"organization_id": org, "status": "pending"}
    docs = [{**base, "candidate_info": {}}, {**base, "candidate_info": {"position": None}},
            {**base, "candidate_info": {"position": ""}}, {**base, "candidate_info": {"position": "a.b$c"}}]  # fmt: skip
    attempt_counts.record_new(db, docs)
    counts = reports.candidate_counts(scope)
    assert counts.by_position_status == {(None, "pending"): 2, ("", "pending"): 1, ("a.b$c", "pending"): 1}
    assert counts.positions == ["a.b$c"] and counts.total() == 4
