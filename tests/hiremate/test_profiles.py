"""profiles.py against the real embedded store: post-hoc only, upserts that
replace, stable ids, partial profiles, bulk recompute."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta

import pytest
from bson import ObjectId

from hiremate.db import ATTEMPTS, EVENTS, METRICS, PROFILES, TASKS
from hiremate.models import AttemptStatus, ComputedMetrics, SkillProfile
from hiremate.ops.simulate import SimulatedSession, simulate_session
from hiremate.profiles import _upsert, compute_and_store, recompute_all

ORG = ObjectId("65f000000000000000000001")
FIRST = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LATER = FIRST + timedelta(days=1)
TIMESTAMPS = {"computed_at", "generated_at"}


def store(db, session: SimulatedSession, *, status: AttemptStatus | None = None, snapshots: bool = True):
    attempt = session.attempt if status is None else session.ended(status)
    doc = attempt.to_doc()
    if not snapshots:
        doc["task_snapshots"] = []
    db[ATTEMPTS].insert_one(doc)
    if session.events:
        db[EVENTS].insert_many([event.to_doc() for event in session.behavior_events])
    return attempt


def completed(db, seed: int = 1, tasks: int = 3):
    return store(db, simulate_session(seed, task_count=tasks, organization_id=ORG))


def without(doc: dict, *keys: str) -> dict:
    return {key: value for key, value in doc.items() if key not in keys}


def test_compute_and_store_writes_linked_documents(db):
    attempt = completed(db)
    metrics, profile = compute_and_store(db, attempt.id, now=FIRST)

    metrics_doc = db[METRICS].find_one({"attempt_id": attempt.id})
    profile_doc = db[PROFILES].find_one({"attempt_id": attempt.id})
    assert ComputedMetrics.from_doc(metrics_doc) == metrics
    assert SkillProfile.from_doc(profile_doc) == profile
    assert metrics.id == metrics_doc["_id"] and profile.metrics_id == metrics.id
    assert (metrics.computed_at, profile.generated_at) == (FIRST, FIRST)
    assert metrics.global_metrics.tasks_completed == 3
    info = attempt.candidate_info
    assert profile_doc["organization_id"] == ORG
    assert (profile_doc["candidate_name"], profile_doc["candidate_email"], profile_doc["position"]) == (
        info.name,
        info.email,
        info.position,
    )
    assert profile_doc["completed_at"] == attempt.completed_at
    assert profile_doc["attempt_status"] == "completed"


def test_a_recompute_replaces_in_place_with_the_same_ids(db):
    attempt = completed(db)
    compute_and_store(db, attempt.id, now=FIRST)
    before = (db[METRICS].find_one(), db[PROFILES].find_one())
    compute_and_store(db, attempt.id, now=LATER)
    after = (db[METRICS].find_one(), db[PROFILES].find_one())

    assert db[METRICS].count_documents({}) == db[PROFILES].count_documents({}) == 1
    for old, new in zip(before, after, strict=True):
        assert old["_id"] == new["_id"]
        assert without(old, *TIMESTAMPS) == without(new, *TIMESTAMPS)
    assert (after[0]["computed_at"], after[1]["generated_at"]) == (LATER, LATER)


def test_a_recompute_picks_up_changed_attempt_fields(db):
    attempt = completed(db)
    compute_and_store(db, attempt.id, now=FIRST)
    db[ATTEMPTS].update_one({"_id": attempt.id}, {"$set": {"candidate_info.position": "Lead"}})
    _, profile = compute_and_store(db, attempt.id, now=LATER)
    assert profile.position == db[PROFILES].find_one()["position"] == "Lead"


@pytest.mark.parametrize("status", [AttemptStatus.PENDING, AttemptStatus.IN_PROGRESS])
def test_attempts_that_have_not_ended_get_nothing(db, status):
    session = simulate_session(2, task_count=3, stop_after_tasks=1, leave_open=True)
    attempt = store(db, session)
    db[ATTEMPTS].update_one({"_id": attempt.id}, {"$set": {"status": status.value}})
    assert compute_and_store(db, attempt.id, now=FIRST) is None
    assert db[METRICS].count_documents({}) == db[PROFILES].count_documents({}) == 0


@pytest.mark.parametrize("status", [AttemptStatus.EXPIRED, AttemptStatus.LOCKED])
def test_an_attempt_that_ended_before_starting_gets_nothing(db, status):
    session = simulate_session(3, task_count=2, stop_after_tasks=0)
    attempt = session.attempt.model_copy(update={"status": status, "started_at": None})
    db[ATTEMPTS].insert_one(attempt.to_doc())
    assert compute_and_store(db, attempt.id) is None
    assert db[PROFILES].count_documents({}) == 0


def test_an_unknown_attempt_gets_nothing(db):
    assert compute_and_store(db, ObjectId()) is None
    assert compute_and_store(db, str(ObjectId())) is None


@pytest.mark.parametrize("status", [AttemptStatus.EXPIRED, AttemptStatus.LOCKED])
def test_an_attempt_ended_after_starting_gets_a_partial_profile(db, status):
    session = simulate_session(4, task_count=4, stop_after_tasks=2, leave_open=True, organization_id=ORG)
    attempt = store(db, session, status=status)
    metrics, profile = compute_and_store(db, str(attempt.id), now=FIRST)

    assert (metrics.global_metrics.total_tasks, metrics.global_metrics.tasks_completed) == (4, 2)
    last_event = session.events[-1].at
    assert metrics.global_metrics.total_time_seconds == (last_event - attempt.started_at).total_seconds()
    assert profile.attempt_status == status and profile.completed_at is None
    assert db[PROFILES].count_documents({"attempt_id": attempt.id}) == 1


def test_an_attempt_that_completed_no_task_gets_the_empty_profile(db):
    attempt = store(db, simulate_session(5, task_count=2, stop_after_tasks=0), status=AttemptStatus.EXPIRED)
    _, profile = compute_and_store(db, attempt.id, now=FIRST)
    assert profile.overall_summary == "Too little was observed to describe this candidate: no task was completed."
    assert (profile.evidence_level, profile.tasks_completed) == ("none", 0)
    stored = db[PROFILES].find_one({"attempt_id": attempt.id})
    assert stored["thinking_style"] is stored["risk_orientation"] is None
    assert SkillProfile.from_doc(stored).decision_pattern is None
    # the same attempt under 1.1.0: the old no-task profile, without the 1.2.0 fields
    _, old = compute_and_store(db, attempt.id, now=FIRST, version="1.1.0")
    assert old.overall_summary == "No task was completed, so no behavioural observations are available."
    stored = db[PROFILES].find_one({"attempt_id": attempt.id})
    assert "evidence_level" not in stored and "tasks_completed" not in stored


def test_old_attempts_without_snapshots_read_the_tasks_collection(db):
    session = simulate_session(6, task_count=3)
    db[TASKS].insert_many([task.to_doc() for task in session.tasks])
    with_snapshots = store(db, session)
    expected, _ = compute_and_store(db, with_snapshots.id, now=FIRST)
    db[ATTEMPTS].update_one({"_id": with_snapshots.id}, {"$set": {"task_snapshots": []}})

    metrics, _ = compute_and_store(db, with_snapshots.id, now=FIRST)
    assert metrics == expected


def test_recompute_all_covers_ended_attempts_in_batches(db):
    ended = [completed(db, seed) for seed in range(7)]
    partial = simulate_session(50, task_count=3, stop_after_tasks=1)
    ended.append(store(db, partial, status=AttemptStatus.EXPIRED))
    in_progress = store(db, simulate_session(51, task_count=3, stop_after_tasks=2))
    calls = []

    count = recompute_all(db, progress=lambda done, total: calls.append((done, total)), batch_size=3, now=FIRST)

    assert count == 8
    assert calls == [(3, 8), (6, 8), (8, 8)]
    stored = {doc["attempt_id"] for doc in db[PROFILES].find()}
    assert stored == {attempt.id for attempt in ended}
    assert in_progress.id not in stored
    assert db[METRICS].count_documents({}) == 8


def test_recompute_all_keeps_ids_and_documents_stable(db):
    attempts = [completed(db, seed) for seed in range(4)]
    for attempt in attempts[:2]:
        compute_and_store(db, attempt.id, now=FIRST)
    first_ids = {doc["attempt_id"]: doc["_id"] for doc in db[PROFILES].find()}
    recompute_all(db, now=FIRST)
    snapshot = {doc["_id"]: doc for doc in db[PROFILES].find()}
    recompute_all(db, now=LATER)

    assert db[PROFILES].count_documents({}) == 4
    for doc in db[PROFILES].find():
        assert doc["_id"] == first_ids.get(doc["attempt_id"], doc["_id"])
        assert without(doc, *TIMESTAMPS) == without(snapshot[doc["_id"]], *TIMESTAMPS)
        assert doc["metrics_id"] == db[METRICS].find_one({"attempt_id": doc["attempt_id"]})["_id"]


def test_concurrent_computes_never_duplicate(db):
    attempts = [completed(db, seed, tasks=2) for seed in range(6)]
    errors: list[BaseException] = []

    def work(order):
        try:
            for attempt in order:
                compute_and_store(db, attempt.id)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    orders = [attempts, list(reversed(attempts)), random.Random(1).sample(attempts, len(attempts))]
    threads = [threading.Thread(target=work, args=(order,)) for order in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    for collection in (METRICS, PROFILES):
        assert db[collection].count_documents({}) == 6
    for profile in db[PROFILES].find():
        assert profile["metrics_id"] == db[METRICS].find_one({"attempt_id": profile["attempt_id"]})["_id"]


def test_an_upsert_that_lost_a_race_is_reported_not_duplicated(db):
    # What a second writer sees when another inserted the attempt's document
    # between its id lookup and its write: a duplicate key, reported for retry.
    attempt_id = ObjectId()
    db[METRICS].insert_one({"_id": ObjectId(), "attempt_id": attempt_id, "n": 1})
    other = ObjectId()
    raced = _upsert(
        db, METRICS, [{"_id": ObjectId(), "attempt_id": attempt_id, "n": 2}, {"_id": other, "attempt_id": other}]
    )
    assert raced == {attempt_id}
    assert db[METRICS].count_documents({"attempt_id": attempt_id}) == 1
    assert db[METRICS].find_one({"attempt_id": attempt_id})["n"] == 1
    assert db[METRICS].count_documents({"attempt_id": other}) == 1


# ---------------------------------------------------------------- rule versions


def test_profiles_record_their_rule_version_and_recompute_1_0_0_byte_for_byte(db):
    from hiremate.metrics import LATEST
    from hiremate.models import Accommodations
    from tests.hiremate.metrics_v1_cases import COMPUTED_AT, FIXTURE, case_inputs, dumps, loads

    case = next(c for c in loads(FIXTURE.read_text()) if c["name"] == "idle-away-changes")
    attempt, _, events = case_inputs(case)
    # an accommodation set later changes 1.1.0's figures, never 1.0.0's
    attempt = attempt.model_copy(update={"accommodations": Accommodations(time_multiplier=1.5, note="private")})
    db[ATTEMPTS].insert_one(attempt.to_doc())
    db[EVENTS].insert_many([e.to_doc() for e in events])

    latest, latest_profile = compute_and_store(db, attempt.id, now=COMPUTED_AT)
    assert latest.version == latest_profile.version == LATEST == "1.2.0"
    assert db[PROFILES].find_one({"attempt_id": attempt.id})["version"] == "1.2.0"

    old, old_profile = compute_and_store(db, attempt.id, now=COMPUTED_AT, version="1.0.0")
    assert (old.id, old_profile.id) == (latest.id, latest_profile.id)  # replaced in place
    stored_metrics = db[METRICS].find_one({"attempt_id": attempt.id})
    stored_profile = db[PROFILES].find_one({"attempt_id": attempt.id})
    assert stored_metrics["version"] == stored_profile["version"] == "1.0.0"
    candidate = {"organization_id", "candidate_name", "candidate_email", "position", "completed_at", "attempt_status"}
    assert dumps(without(stored_metrics, "_id")) == case["expected_metrics"]
    # the fixture's profile is interpret's, before the candidate fields are copied in and
    # the storage field ``superseded`` (its attempt's flag, not part of the profile) is added
    assert stored_profile["superseded"] is False
    interpreted = without(stored_profile, "_id", "superseded") | dict.fromkeys({"metrics_id", *candidate})
    assert dumps(interpreted) == case["expected_profile"]
    for doc in (stored_metrics, stored_profile):
        assert "accommodat" not in dumps(doc).lower() and "private" not in dumps(doc)

    assert recompute_all(db, now=COMPUTED_AT, version="1.0.0") == 1
    assert dumps(without(db[METRICS].find_one({"attempt_id": attempt.id}), "_id")) == case["expected_metrics"]
    assert recompute_all(db, now=COMPUTED_AT) == 1
    assert db[METRICS].find_one({"attempt_id": attempt.id})["version"] == "1.2.0"


def test_recompute_keeps_each_profiles_recorded_rule_version_unless_told(db):
    from hiremate.metrics import LATEST
    from hiremate.profiles import KEEP_RECORDED, recorded_version
    from tests.hiremate.metrics_v1_1_cases import FIXTURE as FIXTURE_1_1
    from tests.hiremate.metrics_v1_cases import COMPUTED_AT, FIXTURE, case_inputs, dumps, loads

    old = next(c for c in loads(FIXTURE.read_text()) if c["name"] == "idle-away-changes")
    mid = next(c for c in loads(FIXTURE_1_1.read_text()) if c["name"] == "slow-x2")
    fresh = store(db, simulate_session(7, task_count=3, organization_id=ORG))
    ids = []
    for case, version in ((old, "1.0.0"), (mid, "1.1.0")):
        attempt, _, events = case_inputs(case)
        db[ATTEMPTS].insert_one(attempt.to_doc() | {"token_hash": f"token-{version}"})
        db[EVENTS].insert_many([e.to_doc() | {"attempt_id": attempt.id} for e in events])
        compute_and_store(db, attempt.id, now=COMPUTED_AT, version=version)
        ids.append(attempt.id)
    assert recorded_version(db, fresh.id) is None  # never computed: the latest when kept

    assert recompute_all(db, now=COMPUTED_AT, version=KEEP_RECORDED) == 3
    assert [recorded_version(db, i) for i in (*ids, fresh.id)] == ["1.0.0", "1.1.0", LATEST]
    for attempt_id, case in zip(ids, (old, mid), strict=True):
        # kept, and byte for byte what the frozen fixture says
        assert dumps(without(db[METRICS].find_one({"attempt_id": attempt_id}), "_id")) == case["expected_metrics"]
    _, kept = compute_and_store(db, ids[0], now=COMPUTED_AT, version=KEEP_RECORDED)
    assert kept.version == "1.0.0" and kept.evidence_level is None

    assert recompute_all(db, now=COMPUTED_AT, version=LATEST) == 3
    assert {recorded_version(db, i) for i in (*ids, fresh.id)} == {"1.2.0"}
    assert db[PROFILES].find_one({"attempt_id": ids[0]})["evidence_level"] == "limited"
