from __future__ import annotations

import random
from datetime import timedelta

import pytest
from bson import ObjectId

from hiremate import attempts
from hiremate import db as dbmod
from hiremate import settings as settingsmod
from hiremate.attempts import (
    AttemptClosed,
    AttemptError,
    AttemptNotFound,
    TokenAlreadyUsed,
    complete,
    count_attempts,
    current_epoch,
    expire_due,
    find_by_token,
    get_attempt,
    hash_secret,
    issue_attempt,
    list_attempts,
    lock_attempt,
    new_secret,
    reissue_link,
    resume,
    set_current_task_index,
)
from hiremate.models import Accommodations, CandidateInfo
from hiremate.scope import Scope
from hiremate.task_library import LIBRARY
from hiremate.tasks import create_task, soft_delete_task, update_task
from hiremate.timeutil import utcnow
from tests.support.builders import start_attempt
from tests.support.concurrency import at_once

URL = "https://assess.example"
KEYS = ["ps_flaky_build", "com_late_handoffs", "dc_team_tool", "at_price_test", "sa_report_error", "ps_night_incident"]


def ada(**changes):
    return CandidateInfo(**{"name": "Ada Lovelace", "email": "ada@example.com", "position": "Analyst", **changes})


@pytest.fixture
def scope(db):
    return Scope(db, ObjectId(), ObjectId())


@pytest.fixture
def tasks(scope):
    return [create_task(scope, LIBRARY[key]) for key in KEYS]


@pytest.fixture
def issue(scope, tasks):
    def issue_one(candidate=None, **kwargs):
        kwargs.setdefault("task_ids", [tasks[0].id, tasks[1].id])
        return issue_attempt(scope, candidate=candidate or ada(), public_url=URL, **kwargs)

    return issue_one


def stored(db, attempt_id):
    return db[dbmod.ATTEMPTS].find_one({"_id": attempt_id})


def strings_in(value):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield str(key)
            yield from strings_in(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from strings_in(inner)
    else:
        yield str(value)


def audit_entries(db, action):
    return list(db[dbmod.AUDIT_LOG].find({"action": action}))


def started(db, issued):
    return start_attempt(db, find_by_token(db, issued.token))


# ---------------------------------------------------------------- secrets


def test_secrets_are_long_random_and_hashed_with_sha256():
    first, second = new_secret(), new_secret()
    assert first != second and len(first) >= 43
    assert hash_secret("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


# ---------------------------------------------------------------- issuing


def test_issue_stores_the_token_hash_and_never_the_token(db, scope, tasks, issue):
    issued = issue(task_ids=[tasks[2].id, tasks[0].id])

    doc = stored(db, issued.attempt.id)
    assert doc["token_hash"] == hash_secret(issued.token)
    assert not any(issued.token in text for text in strings_in(doc))
    assert issued.link == f"{URL}/a/{issued.token}"
    assert doc["status"] == "pending" and doc["token_used"] is False and doc["session_epoch"] == 0
    assert doc["organization_id"] == scope.organization_id and doc["created_by"] == scope.user_id
    assert doc["task_ids"] == [tasks[2].id, tasks[0].id]
    assert [snap["title"] for snap in doc["task_snapshots"]] == [tasks[2].title, tasks[0].title]
    assert doc["candidate_info"]["email"] == "ada@example.com"
    assert timedelta(days=7) - timedelta(seconds=5) < doc["expires_at"] - doc["created_at"] <= timedelta(days=7)
    assert get_attempt(scope, issued.attempt.id) == issued.attempt
    [entry] = audit_entries(db, "attempt.issued")
    assert entry["target_id"] == str(issued.attempt.id) and entry["actor_id"] == scope.user_id
    assert not any(issued.token in text for text in strings_in(entry))


def test_issue_defaults_come_from_settings(app_env, monkeypatch, scope, tasks):
    monkeypatch.setenv("HIREMATE_PUBLIC_URL", "https://links.example/")
    monkeypatch.setenv("HIREMATE_TOKEN_EXPIRY_DAYS", "3")
    settingsmod.get_settings.cache_clear()

    issued = issue_attempt(scope, candidate=ada(), sample=1, expires_days=None)

    assert issued.link == f"https://links.example/a/{issued.token}"
    assert issued.attempt.expires_at - issued.attempt.created_at == timedelta(days=3)


def test_issue_with_explicit_expiry(issue):
    issued = issue(expires_days=2)
    assert issued.attempt.expires_at - issued.attempt.created_at == timedelta(days=2)


def test_snapshot_keeps_the_task_as_issued(db, scope, tasks, issue):
    issued = issue()
    update_task(scope, tasks[0].id, {"title": "Edited later"})

    snapshot = get_attempt(scope, issued.attempt.id).task_snapshots[0]
    assert snapshot.title == tasks[0].title
    assert snapshot.options == tasks[0].options


def test_sampling_draws_active_tasks_matching_the_filters(scope, tasks):
    soft_delete_task(scope, tasks[5].id)  # the only hard problem-solving task

    drawn = issue_attempt(scope, candidate=ada(), sample=5, rng=random.Random(7)).attempt.task_ids
    again = issue_attempt(scope, candidate=ada(), sample=5, rng=random.Random(7)).attempt.task_ids
    assert drawn == again
    assert sorted(drawn) == sorted(task.id for task in tasks[:5])

    one = issue_attempt(scope, candidate=ada(), sample=1, category="communication").attempt
    assert one.task_ids == [tasks[1].id]
    with pytest.raises(AttemptError, match="no active tasks with category problem_solving and difficulty hard"):
        issue_attempt(scope, candidate=ada(), sample=1, category="problem_solving", difficulty="hard")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "either by id or by sample size"),
        ({"task_ids": [], "sample": 2}, "either by id or by sample size"),
        ({"task_ids": []}, "choose at least one task"),
        ({"task_ids": ["nonsense"]}, "not a task id: nonsense"),
        ({"task_ids": [ObjectId("0" * 24)]}, "unknown or inactive task: " + "0" * 24),
        ({"sample": 0}, "at least one task"),
        ({"sample": 7}, "asked for 7 tasks but only 6 active tasks exist"),
        ({"sample": 2, "difficulty": "hard"}, "asked for 2 tasks but only 1 active tasks with difficulty hard exist"),
        ({"sample": 1, "expires_days": 0}, "at least one day"),
    ],
)
def test_issue_refuses_bad_requests_clearly(db, scope, tasks, kwargs, message):
    with pytest.raises(AttemptError, match=message):
        issue_attempt(scope, candidate=ada(), **kwargs)
    assert db[dbmod.ATTEMPTS].count_documents({}) == 0


def test_issue_refuses_repeated_and_inactive_tasks(scope, tasks):
    with pytest.raises(AttemptError, match="only once"):
        issue_attempt(scope, candidate=ada(), task_ids=[tasks[0].id, tasks[0].id])
    soft_delete_task(scope, tasks[0].id)
    with pytest.raises(AttemptError, match=f"unknown or inactive task: {tasks[0].id}"):
        issue_attempt(scope, candidate=ada(), task_ids=[tasks[1].id, tasks[0].id])


# ---------------------------------------------------------------- starting


def test_start_consumes_the_token_and_hands_out_a_session_key(db, issue):
    issued = issue()
    attempt = find_by_token(db, issued.token)
    assert attempt.id == issued.attempt.id

    running, session_key = start_attempt(db, attempt)

    assert running.status == "in_progress" and running.token_used
    assert running.started_at is not None and running.session_epoch == 1
    doc = stored(db, attempt.id)
    assert doc["session_key_hash"] == hash_secret(session_key)
    assert not any(session_key in text for text in strings_in(doc))
    with pytest.raises(TokenAlreadyUsed):
        start_attempt(db, attempt)  # the stale copy
    with pytest.raises(TokenAlreadyUsed):
        start_attempt(db, find_by_token(db, issued.token))
    assert current_epoch(db, attempt.id) == 1


def test_unknown_tokens_find_nothing(db, issue):
    issue()
    assert find_by_token(db, "no-such-token") is None
    assert find_by_token(db, "") is None
    assert find_by_token(db, None) is None


@pytest.mark.parametrize("round_", range(6))
def test_exactly_one_of_two_racing_starts_wins(db, issue, round_):
    issued = issue()

    def race() -> str | None:
        try:
            return start_attempt(db, find_by_token(db, issued.token))[1]
        except TokenAlreadyUsed:
            return None

    outcomes = at_once(2, race)
    winners = [key for key in outcomes if key is not None]
    assert len(outcomes) == 2 and len(winners) == 1
    doc = stored(db, issued.attempt.id)
    assert doc["session_epoch"] == 1
    assert doc["session_key_hash"] == hash_secret(winners[0])


def test_resume_needs_the_session_key_and_takes_the_attempt_over(db, issue):
    issued = issue()
    attempt, session_key = started(db, issued)

    resumed = resume(db, attempt.id, session_key)
    assert resumed.session_epoch == 2 and resumed.status == "in_progress"
    assert resume(db, str(attempt.id), session_key).session_epoch == 3

    for wrong in ("wrong-key", "", None):
        with pytest.raises(TokenAlreadyUsed):
            resume(db, attempt.id, wrong)
    with pytest.raises(TokenAlreadyUsed):
        resume(db, ObjectId(), session_key)
    assert current_epoch(db, attempt.id) == 3
    assert current_epoch(db, ObjectId()) is None


def test_resume_of_a_pending_or_closed_attempt_is_refused(db, scope, issue):
    pending = issue()
    with pytest.raises(TokenAlreadyUsed):
        resume(db, pending.attempt.id, "any-key")

    attempt, session_key = started(db, issue())
    lock_attempt(scope, attempt.id, "suspected cheating")
    with pytest.raises(AttemptClosed):
        resume(db, attempt.id, session_key)


# ---------------------------------------------------------------- re-issuing


def test_reissue_of_a_pending_attempt_revokes_the_old_link(db, scope, issue):
    issued = issue()

    again = reissue_link(scope, issued.attempt.id, public_url=URL)

    assert again.token != issued.token and again.link == f"{URL}/a/{again.token}"
    assert find_by_token(db, issued.token) is None
    assert find_by_token(db, again.token).id == issued.attempt.id
    assert stored(db, issued.attempt.id)["token_hash"] == hash_secret(again.token)
    with pytest.raises(TokenAlreadyUsed):
        start_attempt(db, issued.attempt)  # a copy read before the re-issue
    [entry] = audit_entries(db, "attempt.link_reissued")
    assert entry["target_id"] == str(issued.attempt.id) and entry["details"]["status"] == "pending"


def test_reissue_of_a_running_attempt_lets_the_new_link_start_once(db, scope, issue):
    issued = issue()
    first, old_key = started(db, issued)
    set_current_task_index(db, first.id, 1)

    again = reissue_link(scope, first.id, public_url=URL)
    assert again.attempt.status == "in_progress" and again.attempt.token_used is False

    moved, new_key = start_attempt(db, find_by_token(db, again.token))
    assert moved.session_epoch == 2 and moved.started_at == first.started_at
    assert moved.current_task_index == 1 and moved.status == "in_progress"
    with pytest.raises(TokenAlreadyUsed):
        resume(db, first.id, old_key)
    assert resume(db, first.id, new_key).session_epoch == 3
    with pytest.raises(TokenAlreadyUsed):
        start_attempt(db, find_by_token(db, again.token))
    assert find_by_token(db, issued.token) is None


@pytest.mark.parametrize("ending", ["completed", "locked", "expired"])
def test_final_attempts_cannot_be_reissued_or_locked(db, scope, issue, ending):
    issued = issue()
    if ending == "completed":
        complete(db, started(db, issued)[0].id, completed_at=utcnow())
    elif ending == "locked":
        lock_attempt(scope, issued.attempt.id, "withdrawn")
    else:
        expire_due(db, now=issued.attempt.expires_at + timedelta(seconds=1))
    before = stored(db, issued.attempt.id)

    with pytest.raises(AttemptClosed, match=ending):
        reissue_link(scope, issued.attempt.id)
    with pytest.raises(AttemptClosed, match=ending):
        lock_attempt(scope, issued.attempt.id, "again")
    assert stored(db, issued.attempt.id) == before


# ---------------------------------------------------------------- locking, expiry, progress


def test_lock_needs_a_reason_and_is_audited(db, scope, issue):
    issued = issue()
    with pytest.raises(AttemptError, match="reason"):
        lock_attempt(scope, issued.attempt.id, "   ")

    locked = lock_attempt(scope, issued.attempt.id, " withdrew application ")

    assert locked.status == "locked" and locked.locked_reason == "withdrew application"
    assert locked.locked_at is not None
    assert find_by_token(db, issued.token).status == "locked"
    with pytest.raises(AttemptClosed):
        start_attempt(db, find_by_token(db, issued.token))
    [entry] = audit_entries(db, "attempt.locked")
    assert entry["details"] == {"previous_status": "pending"}  # the reason is free text: on the attempt only


def test_a_running_attempt_can_be_locked(db, scope, issue):
    attempt, _ = started(db, issue())
    assert lock_attempt(scope, attempt.id, "left the building").status == "locked"
    assert complete(db, attempt.id, completed_at=utcnow()) is None


def test_expiry_on_access(db, issue):
    issued = issue()
    later = issued.attempt.expires_at + timedelta(seconds=1)

    assert find_by_token(db, issued.token, now=issued.attempt.expires_at).status == "pending"
    assert find_by_token(db, issued.token, now=later).status == "expired"
    assert stored(db, issued.attempt.id)["status"] == "expired"


def test_start_after_expiry_is_refused_and_expires(db, issue):
    issued = issue()
    attempt = find_by_token(db, issued.token)

    with pytest.raises(AttemptClosed, match="expired"):
        start_attempt(db, attempt, now=attempt.expires_at + timedelta(minutes=1))
    assert stored(db, attempt.id)["status"] == "expired"


def test_resume_after_expiry_is_refused(db, issue):
    attempt, session_key = started(db, issue())
    with pytest.raises(AttemptClosed):
        resume(db, attempt.id, session_key, now=attempt.expires_at + timedelta(seconds=1))
    assert stored(db, attempt.id)["status"] == "expired"


def test_sweep_expires_open_attempts_that_are_due(db, issue):
    due_pending = issue(expires_days=1)
    due_running = issue(expires_days=1)
    started(db, due_running)
    due_completed = issue(expires_days=1)
    complete(db, started(db, due_completed)[0].id, completed_at=utcnow())
    not_due = issue(expires_days=5)
    now = utcnow() + timedelta(days=2)

    expired = expire_due(db, now=now)

    assert sorted(a.id for a in expired) == sorted([due_pending.attempt.id, due_running.attempt.id])
    assert {a.id: a.started_at is not None for a in expired} == {
        due_pending.attempt.id: False,
        due_running.attempt.id: True,
    }
    assert stored(db, due_completed.attempt.id)["status"] == "completed"
    assert stored(db, not_due.attempt.id)["status"] == "pending"
    assert expire_due(db, now=now) == []


def test_current_task_index_only_moves_forward(db, issue):
    attempt, _ = started(db, issue())

    assert set_current_task_index(db, attempt.id, 2)
    assert not set_current_task_index(db, attempt.id, 1)
    assert not set_current_task_index(db, attempt.id, 2)
    assert set_current_task_index(db, attempt.id, 3)
    assert stored(db, attempt.id)["current_task_index"] == 3


def test_complete_only_from_in_progress(db, issue):
    pending = issue()
    assert complete(db, pending.attempt.id, completed_at=utcnow()) is None

    issued = issue()
    attempt, _ = started(db, issued)
    finished_at = utcnow()
    done = complete(db, attempt.id, completed_at=finished_at)
    assert done.status == "completed" and done.completed_at == finished_at
    assert complete(db, attempt.id, completed_at=utcnow()) is None
    with pytest.raises(AttemptClosed, match="completed"):
        start_attempt(db, find_by_token(db, issued.token))


# ---------------------------------------------------------------- the ingest server's reads


def test_read_attempt_is_the_stored_attempt_unscoped(db, issue):
    issued = issue()
    attempt, _ = started(db, issued)
    read = attempts.read_attempt(db, attempt.id)
    assert read.id == attempt.id and read.status == "in_progress" and read.session_epoch == 1
    assert attempts.read_attempt(db, str(attempt.id)).id == attempt.id
    assert attempts.read_attempt(db, ObjectId()) is None


def test_live_fields_are_what_a_live_view_follows(db, scope, issue):
    attempt, _ = started(db, issue())
    set_current_task_index(db, attempt.id, 1)
    fields = attempts.live_fields(db, attempt.id)
    assert set(fields) == {"_id", "organization_id", "status", "current_task_index", "completed_at", "task_ids"}
    assert fields["organization_id"] == scope.organization_id
    assert (fields["status"], fields["current_task_index"], fields["completed_at"]) == ("in_progress", 1, None)
    assert attempts.live_fields(db, ObjectId()) is None


def test_issued_tasks_are_the_snapshots_or_todays_tasks_for_old_attempts(db, scope, tasks, issue):
    issued = issue()
    update_task(scope, tasks[0].id, {"title": "Renamed later"})
    assert [t.title for t in attempts.issued_tasks(db, issued.attempt)] == [tasks[0].title, tasks[1].title]

    # An attempt from before snapshots: the tasks as stored today, in the attempt's order, gone ones left out.
    old = issued.attempt.model_copy(update={"task_snapshots": [], "task_ids": [tasks[1].id, ObjectId(), tasks[0].id]})
    assert [t.title for t in attempts.issued_tasks(db, old)] == [tasks[1].title, "Renamed later"]


def test_ended_without_metrics_finds_started_attempts_that_lost_their_profile(db, scope, issue):
    _pending, running, done, profiled, expired_unstarted, expired_started = (issue() for _ in range(6))
    started(db, running)
    for issued in (done, profiled):
        complete(db, started(db, issued)[0].id, completed_at=utcnow())
    started(db, expired_started)
    for issued in (expired_unstarted, expired_started):
        db[dbmod.ATTEMPTS].update_one({"_id": issued.attempt.id}, {"$set": {"status": "expired"}})
    db[dbmod.METRICS].insert_one({"attempt_id": profiled.attempt.id})
    now = utcnow()

    found = attempts.ended_without_metrics(db, updated_from=now - timedelta(hours=1), updated_to=now)
    assert found == sorted([done.attempt.id, expired_started.attempt.id])
    assert attempts.ended_without_metrics(db, updated_from=now - timedelta(hours=1), updated_to=now, limit=1) == [
        min(done.attempt.id, expired_started.attempt.id)
    ]
    assert attempts.ended_without_metrics(db, updated_from=now + timedelta(seconds=1), updated_to=now) == []


# ---------------------------------------------------------------- listing and scoping


def test_list_sorts_newest_first_searches_and_counts(db, scope, issue):
    ada_ = issue(ada())
    grace = issue(ada(name="Grace Hopper", email="grace@navy.example", position="Engineer"))
    dotted = issue(ada(name="A.B. Jones", email="ab@example.com", position="Analyst"))
    axb = issue(ada(name="AxB Smith", email="axb@example.com", position="Analyst"))
    started(db, grace)

    def ids(found):
        return [attempt.id for attempt in found]

    assert ids(list_attempts(scope)) == [i.attempt.id for i in (axb, dotted, grace, ada_)]
    assert ids(list_attempts(scope, skip=1, limit=2)) == [dotted.attempt.id, grace.attempt.id]
    assert ids(list_attempts(scope, search="HOPPER")) == [grace.attempt.id]
    assert ids(list_attempts(scope, search="navy")) == [grace.attempt.id]
    assert ids(list_attempts(scope, search="engineer")) == [grace.attempt.id]
    assert ids(list_attempts(scope, search="a.b.")) == [dotted.attempt.id]  # "." is no wildcard
    assert ids(list_attempts(scope, status="in_progress")) == [grace.attempt.id]
    assert count_attempts(scope) == 4
    assert count_attempts(scope, status="pending") == 3
    assert count_attempts(scope, status="pending", search="analyst") == 3
    assert count_attempts(scope, search="nobody") == 0


def test_another_organisation_never_sees_or_changes_an_attempt(db, scope, tasks, issue):
    issued = issue()
    other = Scope(db, ObjectId(), ObjectId())
    before = stored(db, issued.attempt.id)

    assert get_attempt(other, issued.attempt.id) is None
    assert list_attempts(other) == [] and count_attempts(other) == 0
    with pytest.raises(AttemptNotFound):
        lock_attempt(other, issued.attempt.id, "not mine")
    with pytest.raises(AttemptNotFound):
        reissue_link(other, issued.attempt.id)
    with pytest.raises(AttemptError, match="unknown or inactive task"):
        issue_attempt(other, candidate=ada(), task_ids=[tasks[0].id])
    with pytest.raises(AttemptError, match="no active tasks"):
        issue_attempt(other, candidate=ada(), sample=1)

    assert stored(db, issued.attempt.id) == before
    assert db[dbmod.AUDIT_LOG].count_documents({"organization_id": other.organization_id}) == 0


def test_exceptions_carry_protocol_codes():
    assert TokenAlreadyUsed.code == "token_already_used"
    assert AttemptClosed.code == "attempt_closed"
    assert issubclass(TokenAlreadyUsed, attempts.AttemptError) and issubclass(AttemptClosed, attempts.AttemptError)


# ---------------------------------------------------------------- accommodation requests


NAMES = ("Grace", "Alan", "Ida", "Kurt")


def open_request_names(scope):
    return [request.candidate_name for request in attempts.open_accommodation_requests(scope)]


def test_open_accommodation_requests_follow_the_flag_oldest_first(db, scope, issue):
    grace, alan, ida, kurt = (issue(ada(name=name, email=f"{name.lower()}@example.com")) for name in NAMES)
    base = utcnow()
    for n, issued in enumerate((alan, grace, ida, kurt)):  # Alan asks first
        attempts.request_accommodation(
            db, issued.attempt, needs=["extra_time"], note="", now=base + timedelta(seconds=n)
        )
    other = Scope(db, ObjectId(), ObjectId())
    assert stored(db, grace.attempt.id)[dbmod.ACCOMMODATION_OPEN] is True
    assert stored(db, issue().attempt.id)[dbmod.ACCOMMODATION_OPEN] is False  # always a value

    started(db, ida)  # a running attempt's request is still open
    lock_attempt(scope, kurt.attempt.id, "withdrew")  # a closed one's is not
    assert open_request_names(scope) == ["Alan", "Grace", "Ida"]
    assert open_request_names(other) == []

    attempts.answer_accommodation_request(scope, alan.attempt.id)
    attempts.set_accommodations(scope, grace.attempt.id, Accommodations(time_multiplier=1.5))
    assert open_request_names(scope) == ["Ida"]
    assert stored(db, alan.attempt.id)[dbmod.ACCOMMODATION_OPEN] is False
    assert stored(db, grace.attempt.id)[dbmod.ACCOMMODATION_OPEN] is False

    again = base + timedelta(seconds=10)
    attempts.request_accommodation(db, find_by_token(db, alan.token), needs=[], note="a quiet room", now=again)
    assert open_request_names(scope) == ["Ida", "Alan"]
    assert len(attempts.open_accommodation_requests(scope, limit=1)) == 1


def test_attempts_stored_before_the_flag_get_it_where_indexes_are_ensured(db, scope, issue):
    """A store from before ``accommodation_open``: its open requests are found
    once ``ensure_indexes`` (every process's start) has run, and a second run
    changes nothing."""
    asked, answered, never = (issue(ada(name=name, email=f"{name.lower()}@example.com")) for name in NAMES[:3])
    for issued in (asked, answered):
        attempts.request_accommodation(db, issued.attempt, needs=["extra_time"], note="")
    attempts.answer_accommodation_request(scope, answered.attempt.id)
    db[dbmod.ATTEMPTS].update_many({}, {"$unset": {dbmod.ACCOMMODATION_OPEN: ""}})
    assert open_request_names(scope) == []

    dbmod.ensure_indexes(db)
    assert open_request_names(scope) == ["Grace"]
    flags = {doc["_id"]: doc[dbmod.ACCOMMODATION_OPEN] for doc in db[dbmod.ATTEMPTS].find()}
    assert flags == {asked.attempt.id: True, answered.attempt.id: False, never.attempt.id: False}

    dbmod.ensure_indexes(db)
    assert open_request_names(scope) == ["Grace"]
