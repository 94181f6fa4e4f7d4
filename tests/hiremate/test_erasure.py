"""hiremate.erasure against the embedded store: an erasure leaves no trace of
the person in any collection and nothing outside the audit log pointing at
their attempts, touches nobody else, keeps the counters right and is
audited with counts only; the purge removes only what is past retention
(six months at least for events) and a dry run removes nothing; an access
export holds the person's data and nobody else's."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest
from bson import ObjectId

from hiremate import attempt_counts, auth, erasure, reviews
from hiremate import db as dbmod
from hiremate.errors import ErasureError, Refusal
from hiremate.models import AttemptStatus, CandidateInfo
from hiremate.ops import simulate
from hiremate.ops.sample_impact import store_self_id
from hiremate.organizations import update_settings
from hiremate.scope import VIA_CLI, Scope
from hiremate.timeutil import utcnow
from tests.support.page_helpers import make_org, seed_completed, seed_session

NAME, EMAIL = "Zebulon Quixote", "zebulon.quixote@example.com"
AGREE_ALL = {name: ("agree", "") for name in reviews.DIMENSIONS}


def every_document(db):
    """(collection, document as JSON text) for every document of every collection."""
    for name in sorted(db.list_collection_names()):
        for doc in db[name].find({}):
            yield name, json.dumps(doc, default=str, sort_keys=True)


def admin_scope(org) -> Scope:
    return Scope(org.db, org.scope.organization_id, org.user.id, is_admin=True)


def events_of(db, attempt_id):
    return list(db[dbmod.EVENTS].find({"attempt_id": attempt_id}).sort("sequence_number", 1))


def seed_at(org, name, started_at):
    """A completed attempt (events, metrics, profile) that started at ``started_at``."""
    candidate = CandidateInfo(name=name, email=f"{name.split()[0].lower()}@example.com", position="Analyst")
    return simulate.seed_completed_attempt(
        org.db,
        organization_id=org.scope.organization_id,
        tasks=org.tasks,
        rng=random.Random(name),
        candidate=candidate,
        started_at=started_at,
    )


def person(org, **extra):
    """The person erased: a completed attempt reviewed with a decision, and a
    second one stopped partway (events, no profile)."""
    done = seed_completed(org, name=NAME, email=EMAIL, **extra)
    reviews.record_review(org.scope, done.id, AGREE_ALL, notes=f"Spoke to {NAME}")
    reviews.record_decision(org.scope, done.id, "advance", "Good reasoning", seen_at=None)
    partway, _ = seed_session(org, status=AttemptStatus.EXPIRED, name=NAME, email=EMAIL)
    self_identified(org, done.id)
    return [done.id, partway.id]


def self_identified(org, attempt_id, sex="another", race="native_hawaiian_pacific_islander"):
    store_self_id(org.db, org.scope.organization_id, attempt_id, sex, race)


def test_an_erasure_leaves_no_document_with_the_email_or_the_name_and_nothing_pointing_at_the_attempts(db):
    org = make_org(db)
    mine = person(org)
    assert db[dbmod.NORM_POINTS].count_documents({"attempt_id": mine[0]}) > 0
    assert any(EMAIL in text for _, text in every_document(db))

    receipt = erasure.erase_candidate(admin_scope(org), EMAIL.upper())  # any case: the stored form is compared

    assert sorted(receipt.attempt_ids) == sorted(mine)
    for collection, text in every_document(db):
        assert EMAIL not in text.lower(), collection
        assert "zebulon" not in text.lower() and "quixote" not in text.lower(), collection
        if collection != dbmod.AUDIT_LOG:
            assert not any(str(attempt_id) in text for attempt_id in mine), collection
    removed = receipt.removed
    assert removed[dbmod.ATTEMPTS] == 2 and removed[dbmod.REVIEWS] == 1
    assert removed[dbmod.PROFILES] == 1 and removed[dbmod.METRICS] == 1
    assert removed[dbmod.EVENTS] > 0 and removed[dbmod.NORM_POINTS] > 0
    assert removed[dbmod.SELF_IDS] == 1 and db[dbmod.SELF_IDS].count_documents({}) == 0


def test_other_candidates_and_another_organisations_same_email_are_untouched(db):
    org, other_org = make_org(db), make_org(db, "Globex")
    mine = person(org)
    colleague = seed_completed(org, name="Ada Lovelace", email="ada@example.com")
    elsewhere = seed_completed(other_org, name=NAME, email=EMAIL)
    self_identified(org, colleague.id, "female", "white")
    self_identified(other_org, elsewhere.id)
    kept = {attempt.id: events_of(db, attempt.id) for attempt in (colleague, elsewhere)}
    kept_docs = {
        collection: {doc["_id"]: doc for doc in db[collection].find({"attempt_id": {"$in": list(kept)}})}
        for collection in (dbmod.METRICS, dbmod.PROFILES, dbmod.NORM_POINTS)
    }

    erasure.erase_candidate(admin_scope(org), EMAIL)

    for attempt_id, events in kept.items():
        assert events_of(db, attempt_id) == events  # same count, same content
        assert db[dbmod.ATTEMPTS].find_one({"_id": attempt_id}) is not None
    for collection, docs in kept_docs.items():
        assert {doc["_id"]: doc for doc in db[collection].find({"attempt_id": {"$in": list(kept)}})} == docs
    assert db[dbmod.ATTEMPTS].count_documents({"_id": {"$in": mine}}) == 0
    assert sorted(doc["_id"] for doc in db[dbmod.SELF_IDS].find({})) == sorted([colleague.id, elsewhere.id])
    assert db[dbmod.ATTEMPTS].find_one({"_id": elsewhere.id})["candidate_info"]["email"] == EMAIL
    # An erasure in one organisation never reaches another's attempts, even by id.
    removed = erasure.erase_attempts(admin_scope(org), [elsewhere.id])
    assert not any(removed.values()) and events_of(db, elsewhere.id) == kept[elsewhere.id]


def test_the_counters_are_right_after_an_erasure(db):
    org = make_org(db)
    organization_id = org.scope.organization_id
    person(org)
    seed_completed(org, name="Ada Lovelace")
    seed_session(org, status=AttemptStatus.IN_PROGRESS, name="Grace Hopper", email="grace@example.com")
    assert attempt_counts.by_status(db, organization_id)["completed"] == 2

    erasure.erase_candidate(admin_scope(org), EMAIL)

    after = attempt_counts.by_status(db, organization_id)
    assert after["completed"] == 1 and after["expired"] == 0 and after["in_progress"] == 1
    day_and_durations = attempt_counts.completed_since(db, organization_id, utcnow() - timedelta(days=30))
    histogram = attempt_counts.duration_histogram(db, organization_id)
    attempt_counts.recount(db, organization_id)  # the truth, from the attempts left
    assert attempt_counts.by_status(db, organization_id) == after
    assert attempt_counts.completed_since(db, organization_id, utcnow() - timedelta(days=30)) == day_and_durations
    assert attempt_counts.duration_histogram(db, organization_id) == histogram


def test_the_receipt_and_the_audit_entry_hold_no_personal_data(db):
    org = make_org(db)
    mine = person(org)

    receipt = erasure.erase_candidate(admin_scope(org), EMAIL)

    shown = json.dumps(receipt.as_json())
    assert EMAIL not in shown and "Zebulon" not in shown
    assert receipt.as_json()["by"] == str(org.user.id) and receipt.as_json()["removed"]["task_attempts"] == 2
    [entry] = list(db[dbmod.AUDIT_LOG].find({"action": erasure.ERASED}))
    assert entry["actor_id"] == org.user.id and entry["organization_id"] == org.scope.organization_id
    assert entry["details"]["removed"] == receipt.removed
    logged = json.dumps(entry, default=str)
    assert EMAIL not in logged and "Zebulon" not in logged
    assert not any(str(attempt_id) in logged for attempt_id in mine)  # counts only
    cli = Scope(db, org.scope.organization_id, None, is_admin=True, via=VIA_CLI)
    seed_completed(org, name=NAME, email=EMAIL)
    assert erasure.erase_candidate(cli, EMAIL).by == "command line"


def test_refusals_an_unknown_email_a_recruiter_a_wrong_confirmation(db):
    org = make_org(db)
    person(org)
    with pytest.raises(ErasureError, match=r"No candidate with the email nobody@example\.com"):
        erasure.erase_candidate(admin_scope(org), "Nobody@example.com")
    with pytest.raises(ErasureError, match="Only an admin"):
        erasure.erase_candidate(org.scope, EMAIL)  # a recruiter
    with pytest.raises(ErasureError, match="again, exactly"):
        erasure.erase_candidate(admin_scope(org), EMAIL, confirmation="zebulon@example.com")
    assert issubclass(ErasureError, Refusal)
    assert db[dbmod.ATTEMPTS].count_documents({"candidate_info.email": EMAIL}) == 2
    assert db[dbmod.AUDIT_LOG].count_documents({"action": erasure.ERASED}) == 0


# ---------------------------------------------------------------- retention


def test_the_purge_removes_only_what_is_past_retention_and_keeps_events_six_months(db):
    now = utcnow()
    org = make_org(db)  # retention: the default 730 days
    short = make_org(db, "Globex")  # retention: 30 days
    admin = Scope(db, short.scope.organization_id, None, is_admin=True, via=VIA_CLI)
    update_settings(admin, {"retention_days": 30})
    old = seed_at(org, "Old Timer", now - timedelta(days=800))
    recent = seed_at(org, "Ada Lovelace", now - timedelta(days=400))
    months = seed_at(short, "Grace Hopper", now - timedelta(days=100))  # events: kept six months
    older = seed_at(short, "Alan Turing", now - timedelta(days=200))  # past 183 days
    never_started = {
        "_id": ObjectId(),
        "organization_id": short.scope.organization_id,
        "token_hash": "x",
        "candidate_info": {"name": "Never Started", "email": "never@example.com", "position": "Analyst"},
        "task_ids": [short.tasks[0].id],
        "status": "expired",
        "expires_at": now - timedelta(days=50),
        "created_at": now - timedelta(days=60),
        "updated_at": now - timedelta(days=50),
    }
    db[dbmod.ATTEMPTS].insert_one(never_started)
    attempt_counts.record_new(db, [never_started])
    reviews.record_review(org.scope, old.id, AGREE_ALL)
    old_events = db[dbmod.EVENTS].count_documents({"attempt_id": old.id})

    everything = {name: db[name].count_documents({}) for name in db.list_collection_names()}
    dry = erasure.purge(db, now=now, dry_run=True)
    assert {name: db[name].count_documents({}) for name in db.list_collection_names()} == everything
    by_org = {item.organization_id: item.removed for item in dry.organizations}
    assert by_org[org.scope.organization_id][dbmod.ATTEMPTS] == 1
    assert by_org[org.scope.organization_id][dbmod.EVENTS] == old_events
    assert by_org[short.scope.organization_id][dbmod.ATTEMPTS] == 2
    assert db[dbmod.AUDIT_LOG].count_documents({"action": erasure.PURGED}) == 0

    report = erasure.purge(db, now=now)

    gone = [old.id, older.id, never_started["_id"]]
    assert db[dbmod.ATTEMPTS].count_documents({"_id": {"$in": gone}}) == 0
    for collection, key in erasure.OWNED_BY_ATTEMPT.items():
        assert db[collection].count_documents({key: {"$in": gone}}) == 0, collection
    for attempt in (recent, months):
        assert db[dbmod.ATTEMPTS].find_one({"_id": attempt.id}) is not None
        assert db[dbmod.EVENTS].count_documents({"attempt_id": attempt.id}) > 0
    assert (
        json.loads(json.dumps(report.as_json()))["organizations"][0]["removed"]
        == dry.as_json()["organizations"][0]["removed"]
    )
    entries = list(db[dbmod.AUDIT_LOG].find({"action": erasure.PURGED}).sort("_id", 1))
    assert {entry["organization_id"] for entry in entries} == {org.scope.organization_id, short.scope.organization_id}
    for entry in entries:
        logged = json.dumps(entry, default=str)
        assert "Old Timer" not in logged and "Alan Turing" not in logged and "never@example.com" not in logged
        assert entry["details"]["via"] == erasure.VIA_RETENTION
    for organization_id in (org.scope.organization_id, short.scope.organization_id):
        counted = attempt_counts.by_status(db, organization_id)
        attempt_counts.recount(db, organization_id)
        assert attempt_counts.by_status(db, organization_id) == counted
    assert erasure.purge(db, now=now).organizations[0].removed[dbmod.ATTEMPTS] == 0  # nothing left to do


def test_the_purge_removes_dead_sessions_forgotten_throttle_entries_and_old_invitations(db):
    now = utcnow()
    org = make_org(db)
    organization_id, user_id = org.scope.organization_id, org.user.id
    live = auth.start_session(db, org.user, days=7)
    sessions = db[dbmod.SESSIONS]
    sessions.insert_many(
        [
            {"session_hash": "expired", "user_id": user_id, "created_at": now, "expires_at": now - timedelta(days=1)},
            {"session_hash": "ended", "user_id": user_id, "created_at": now, "expires_at": now + timedelta(days=1),
             "ended_at": now - timedelta(minutes=1)},
        ]
    )  # fmt: skip
    db[dbmod.LOGIN_FAILURES].insert_many([{"key": "k", "at": now - timedelta(days=2)}, {"key": "k", "at": now}])
    db[dbmod.LOGIN_THROTTLE].insert_many(
        [
            {"_id": "old", "failures": 5, "last_failure_at": now - timedelta(days=3), "locked_until": now - timedelta(days=3)},
            {"_id": "new", "failures": 5, "last_failure_at": now, "locked_until": now + timedelta(minutes=5)},
        ]
    )  # fmt: skip
    invitation = {"organization_id": organization_id, "role": "recruiter", "invited_by": user_id, "created_at": now}
    db[dbmod.INVITATIONS].insert_many(
        [
            {**invitation, "email": "a@x.test", "token_hash": "1", "expires_at": now - timedelta(days=40)},
            {**invitation, "email": "b@x.test", "token_hash": "2", "expires_at": now - timedelta(days=1)},
            {**invitation, "email": "c@x.test", "token_hash": "3", "expires_at": now + timedelta(days=1),
             "accepted_at": now - timedelta(days=31)},
            {**invitation, "email": "d@x.test", "token_hash": "4", "expires_at": now + timedelta(days=5)},
        ]
    )  # fmt: skip

    report = erasure.purge(db, now=now)

    assert auth.session_is_live(db, live)
    assert (
        sorted(doc.get("session_hash") for doc in sessions.find({"session_hash": {"$in": ["expired", "ended"]}})) == []
    )
    assert sessions.count_documents({}) == 1
    assert [doc["at"] for doc in db[dbmod.LOGIN_FAILURES].find({})] == [now]
    assert [doc["_id"] for doc in db[dbmod.LOGIN_THROTTLE].find({})] == ["new"]
    assert sorted(doc["email"] for doc in db[dbmod.INVITATIONS].find({})) == ["b@x.test", "d@x.test"]
    assert report.housekeeping == {dbmod.SESSIONS: 2, dbmod.LOGIN_THROTTLE: 1, dbmod.LOGIN_FAILURES: 1}
    assert report.organizations[0].removed[dbmod.INVITATIONS] == 2
    system = db[dbmod.AUDIT_LOG].find_one({"action": erasure.PURGED, "organization_id": None})
    assert system["details"]["removed"] == report.housekeeping


# ---------------------------------------------------------------- access


def test_an_access_export_holds_the_persons_data_and_nobody_elses(db):
    org = make_org(db)
    mine = person(org)
    other = seed_completed(org, name="Ada Lovelace", email="ada@example.com")
    elsewhere = seed_completed(make_org(db, "Globex"), name=NAME, email=EMAIL)

    exported = erasure.export_candidate(admin_scope(org), EMAIL)

    document = exported.document
    text = json.dumps(document)
    assert [item["attempt"]["_id"] for item in document["attempts"]] == [str(i) for i in sorted(mine)]
    assert all(item["attempt"]["candidate_info"]["email"] == EMAIL for item in document["attempts"])
    assert "ada@example.com" not in text and "Ada Lovelace" not in text
    assert str(other.id) not in text and str(elsewhere.id) not in text
    assert "token_hash" not in text and "session_key_hash" not in text
    done = next(item for item in document["attempts"] if item["attempt"]["_id"] == str(mine[0]))
    assert len(done["events"]) == len(events_of(db, mine[0])) and done["metrics"] and done["profile"]
    assert done["review"]["decision"]["value"] == "advance" and done["attempt"]["consent"]["notice_version"]
    assert done["self_identification"]["race_ethnicity"] == "native_hawaiian_pacific_islander"
    assert "self-identification" in exported.explanation
    assert document["explanation"] == exported.explanation
    profile = db[dbmod.PROFILES].find_one({"attempt_id": mine[0]})
    assert f"version {profile['version']}" in exported.explanation
    assert "A person reviewed this profile" in exported.explanation
    assert "What was observed" in exported.explanation and "No profile was produced" in exported.explanation
    [entry] = list(db[dbmod.AUDIT_LOG].find({"action": erasure.EXPORTED}))
    assert entry["details"]["attempts"] == 2 and EMAIL not in json.dumps(entry, default=str)
    with pytest.raises(ErasureError):
        erasure.export_candidate(org.scope, EMAIL)  # recruiters cannot
