"""hiremate.webhooks against the embedded store and a real HTTP receiver on
loopback: endpoints and their sealed secret, emit, signing, the retry
schedule (time driven by ``now``), the lease, redelivery by hand, callbacks,
erasure and the retention purge. The address rule has its own module
(test_webhooks_ssrf.py); the ingest server's loop is in
tests/ingest_server/test_webhooks_delivery.py."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta

import pytest
from bson import ObjectId
from pymongo import MongoClient

from hiremate import attempts, erasure, reviews, webhooks
from hiremate import db as dbmod
from hiremate.errors import WebhookError
from hiremate.models import CandidateInfo
from hiremate.scope import Scope
from hiremate.timeutil import utcnow
from hiremate.webhooks import _deliveries
from tests.support.page_helpers import make_org, seed_completed
from tests.support.webhook_receiver import receiver, verify


@pytest.fixture
def org(db):
    made = make_org(db)
    db[dbmod.TASKS].insert_many([task.to_doc() for task in made.tasks])
    return made


def admin(org) -> Scope:
    return Scope(org.db, org.scope.organization_id, org.user.id, is_admin=True)


def deliveries(db) -> list[dict]:
    return list(db[dbmod.WEBHOOK_DELIVERIES].find({}).sort("_id", 1))


def issue(org, email="zeb@example.com") -> attempts.IssuedAttempt:
    return attempts.issue_attempt(
        org.scope,
        candidate=CandidateInfo(name="Zebulon Quixote", email=email, position="Analyst"),
        task_ids=[task.id for task in org.tasks],
        expires_days=7,
        public_url="https://assess.example.com",
    )


# ---------------------------------------------------------------- endpoints


def test_an_admin_registers_an_endpoint_and_sees_its_secret_once_stored_sealed(db, org, settings):
    endpoint, secret = webhooks.add_endpoint(
        admin(org), "http://127.0.0.1:9/hooks", ["attempt.completed"], settings=settings
    )
    assert secret.startswith("whsec_") and 24 <= len(_b64(secret)) <= 32
    assert endpoint.events == ["attempt.completed"] and endpoint.enabled
    stored = db[dbmod.WEBHOOK_ENDPOINTS].find_one({})
    assert secret.removeprefix("whsec_") not in json.dumps(stored, default=str)
    assert secret not in endpoint.model_dump_json() and "sealed" not in endpoint.model_dump_json()
    listed = webhooks.list_endpoints(admin(org))
    assert [e.id for e in listed] == [endpoint.id] and secret not in str(listed) and "sealed" not in str(listed)
    [entry] = db[dbmod.AUDIT_LOG].find({"action": "webhook.endpoint_added"})
    assert "127.0.0.1" not in json.dumps(entry, default=str)  # ids, counts and action names only
    # no events named: every event
    every, _ = webhooks.add_endpoint(admin(org), "http://localhost:9/", None, settings=settings)
    assert every.events == list(webhooks.EVENT_TYPES)


def _b64(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def test_recruiters_unknown_events_and_other_organisations_are_refused(db, org, settings):
    with pytest.raises(WebhookError, match="Only an admin"):
        webhooks.add_endpoint(org.scope, "http://127.0.0.1:9/", None, settings=settings)
    with pytest.raises(WebhookError, match="unknown event type"):
        webhooks.add_endpoint(admin(org), "http://127.0.0.1:9/", ["attempt.exploded"], settings=settings)
    endpoint, _ = webhooks.add_endpoint(admin(org), "http://127.0.0.1:9/", None, settings=settings)
    other = make_org(db, "Globex")
    other_admin = Scope(db, other.scope.organization_id, other.user.id, is_admin=True)
    assert webhooks.list_endpoints(other_admin) == []
    for change in (
        lambda: webhooks.remove_endpoint(other_admin, endpoint.id),
        lambda: webhooks.set_enabled(other_admin, endpoint.id, False),
        lambda: webhooks.rotate_secret(other_admin, endpoint.id, settings=settings),
    ):
        with pytest.raises(WebhookError, match="no such webhook endpoint"):
            change()
    assert db[dbmod.WEBHOOK_ENDPOINTS].count_documents({"enabled": True}) == 1


# ---------------------------------------------------------------- emit, sign, deliver


def test_emit_queues_one_delivery_per_subscribed_enabled_endpoint_and_nothing_without_one(db, org, settings):
    organization_id = org.scope.organization_id
    assert webhooks.emit(db, organization_id, "attempt.started", {"attempt_id": "x"}) == 0
    assert deliveries(db) == []
    wants, _ = webhooks.add_endpoint(admin(org), "http://127.0.0.1:9/a", ["attempt.started"], settings=settings)
    webhooks.add_endpoint(admin(org), "http://127.0.0.1:9/b", ["attempt.completed"], settings=settings)
    paused, _ = webhooks.add_endpoint(admin(org), "http://127.0.0.1:9/c", None, settings=settings)
    webhooks.set_enabled(admin(org), paused.id, False)
    everything, _ = webhooks.add_endpoint(admin(org), "http://127.0.0.1:9/d", None, settings=settings)
    assert webhooks.emit(db, organization_id, "attempt.started", {"attempt_id": "x"}) == 2
    queued = deliveries(db)
    assert {str(d["endpoint_id"]) for d in queued} == {wants.id, everything.id}
    assert len({d["msg_id"] for d in queued}) == 1 and queued[0]["msg_id"].startswith("msg_")
    body = json.loads(queued[0]["body"])
    assert body["type"] == "attempt.started" and body["data"] == {"attempt_id": "x"} and body["timestamp"]


def test_emit_never_raises_into_its_caller():
    unreachable = MongoClient("mongodb://127.0.0.1:1/", serverSelectionTimeoutMS=100)["x"]
    assert webhooks.emit(unreachable, ObjectId(), "attempt.started", {}) == 0
    assert webhooks.attempt_completed(unreachable, ObjectId(), ObjectId()) == 0


def test_a_delivery_is_signed_as_standard_webhooks_says_and_logged(db, org, settings):
    with receiver() as hook:
        _, secret = webhooks.add_endpoint(admin(org), hook.url, None, settings=settings)
        webhooks.emit(db, org.scope.organization_id, "attempt.started", {"attempt_id": "a1"})
        report = webhooks.drain(db, settings)
        assert report.delivered == 1
        [got] = hook.received
    assert got.method == "POST" and got.path == "/hooks" and got.headers["content-type"] == "application/json"
    assert verify(secret, got.headers, got.body)
    assert not verify(secret, got.headers, got.body + b" ")  # a changed body fails
    assert not verify("whsec_" + "A" * 32, got.headers, got.body)  # another secret fails
    # more than 5 minutes old: refused by the receiver's check
    assert not verify(secret, got.headers, got.body, now=int(got.headers["webhook-timestamp"]) + 301)
    [doc] = deliveries(db)
    assert got.headers["webhook-id"] == doc["msg_id"]
    assert doc["status"] == webhooks.DELIVERED and doc["tries"] == 1 and doc["last_code"] == 200
    [entry] = doc["log"]
    assert entry["code"] == 200 and entry["error"] is None and entry["ms"] >= 0


def test_a_receiver_that_fails_twice_then_succeeds_gets_the_event_exactly_once_more(db, org, settings):
    with receiver([500, 503]) as hook:
        _, secret = webhooks.add_endpoint(admin(org), hook.url, None, settings=settings)
        t0 = utcnow()
        webhooks.emit(db, org.scope.organization_id, "attempt.started", {"attempt_id": "a1"}, now=t0)
        assert webhooks.drain(db, settings, now=t0).retrying == 1
        [doc] = deliveries(db)
        assert doc["next_attempt_at"] == t0 + timedelta(seconds=5)
        assert webhooks.drain(db, settings, now=t0 + timedelta(seconds=4)).codes == []  # not due yet
        assert webhooks.drain(db, settings, now=t0 + timedelta(seconds=5)).retrying == 1
        t2 = t0 + timedelta(seconds=5)
        assert deliveries(db)[0]["next_attempt_at"] == t2 + timedelta(minutes=5)
        assert webhooks.drain(db, settings, now=t2 + timedelta(minutes=5)).delivered == 1
        for later in (timedelta(hours=1), timedelta(days=2)):  # nothing more, ever
            assert webhooks.drain(db, settings, now=t2 + later).codes == []
        assert len(hook.received) == 3
    assert len({r.headers["webhook-id"] for r in hook.received}) == 1  # the same message each time
    assert all(verify(secret, r.headers, r.body) for r in hook.received)
    [doc] = deliveries(db)
    assert [e["code"] for e in doc["log"]] == [500, 503, 200] and doc["status"] == webhooks.DELIVERED


def test_a_receiver_that_never_answers_well_is_tried_over_about_a_day_then_failed(db, org, settings):
    assert webhooks.MAX_TRIES == 8
    assert timedelta(hours=24) < sum(webhooks.BACKOFF, timedelta()) < timedelta(hours=30)
    with receiver([500] * 20) as hook:
        webhooks.add_endpoint(admin(org), hook.url, None, settings=settings)
        at = utcnow()
        webhooks.emit(db, org.scope.organization_id, "attempt.started", {}, now=at)
        for wait in (*webhooks.BACKOFF, None):
            webhooks.drain(db, settings, now=at)
            doc = deliveries(db)[0]
            if wait is None:
                break
            assert doc["status"] == webhooks.QUEUED and doc["next_attempt_at"] == at + wait
            at += wait
        assert doc["status"] == webhooks.FAILED and doc["tries"] == 8 and len(hook.received) == 8
        assert webhooks.drain(db, settings, now=at + timedelta(days=3)).codes == []


def test_a_crashed_worker_s_lease_runs_out_and_the_delivery_is_made_by_another(db, org, settings):
    with receiver() as hook:
        webhooks.add_endpoint(admin(org), hook.url, None, settings=settings)
        t0 = utcnow()
        webhooks.emit(db, org.scope.organization_id, "attempt.started", {}, now=t0)
        [claimed] = webhooks.claim_due(db, "dead-worker", t0, 5)  # claimed, then the process dies
        assert claimed["status"] == webhooks.SENDING
        assert webhooks.drain(db, settings, now=t0 + timedelta(seconds=30)).codes == []  # the lease holds
        report = webhooks.drain(db, settings, now=t0 + _deliveries.LEASE + timedelta(seconds=1))
        assert report.delivered == 1 and len(hook.received) == 1
    doc = deliveries(db)[0]
    assert doc["tries"] == 2 and doc["status"] == webhooks.DELIVERED
    # the dead worker's late write changes nothing (only the lease holder records)
    _deliveries._record(db, claimed, "dead-worker", webhooks.Try(t0, 500, "late", 1))
    assert deliveries(db)[0]["status"] == webhooks.DELIVERED


def test_redelivery_by_hand_is_one_more_try_of_the_same_message_and_audited(db, org, settings):
    with receiver([500] * 8 + [200]) as hook:
        endpoint, secret = webhooks.add_endpoint(admin(org), hook.url, None, settings=settings)
        at = utcnow()
        webhooks.emit(db, org.scope.organization_id, "attempt.started", {}, now=at)
        for _ in range(8):
            webhooks.drain(db, settings, now=at)
            at += timedelta(hours=11)
        [view] = webhooks.list_deliveries(admin(org), endpoint.id)
        assert view.status == webhooks.FAILED and view.tries == 8
        with pytest.raises(WebhookError, match="Only an admin"):
            webhooks.redeliver(org.scope, view.id)
        other = make_org(db, "Globex")
        with pytest.raises(WebhookError, match="no such webhook delivery"):
            webhooks.redeliver(Scope(db, other.scope.organization_id, other.user.id, is_admin=True), view.id)
        again = webhooks.redeliver(admin(org), view.id, now=at)
        assert again.status == webhooks.QUEUED
        assert webhooks.drain(db, settings, now=at).delivered == 1
        assert len(hook.received) == 9 and len({r.headers["webhook-id"] for r in hook.received}) == 1
        assert verify(secret, hook.received[-1].headers, hook.received[-1].body)
        # a delivered one may be sent once more too, and fails for good after that one try
        hook.answers = [500]
        webhooks.redeliver(admin(org), view.id, now=at)
        webhooks.drain(db, settings, now=at)
        assert webhooks.get_delivery(admin(org), view.id).status == webhooks.FAILED
    assert db[dbmod.AUDIT_LOG].count_documents({"action": "webhook.redelivered"}) == 2


def test_a_disabled_or_removed_endpoint_gets_nothing(db, org, settings):
    with receiver() as hook:
        endpoint, _ = webhooks.add_endpoint(admin(org), hook.url, None, settings=settings)
        webhooks.emit(db, org.scope.organization_id, "attempt.started", {})
        webhooks.set_enabled(admin(org), endpoint.id, False)
        webhooks.drain(db, settings)
        assert hook.received == []
        assert deliveries(db)[0]["last_error"] == "the endpoint is disabled"
        assert webhooks.remove_endpoint(admin(org), endpoint.id) == 1
        assert deliveries(db) == [] and webhooks.list_endpoints(admin(org)) == []


def test_a_rotated_secret_signs_from_then_on(db, org, settings):
    with receiver() as hook:
        endpoint, old = webhooks.add_endpoint(admin(org), hook.url, None, settings=settings)
        new = webhooks.rotate_secret(admin(org), endpoint.id, settings=settings)
        webhooks.emit(db, org.scope.organization_id, "attempt.started", {})
        webhooks.drain(db, settings)
        [got] = hook.received
    assert new != old and verify(new, got.headers, got.body) and not verify(old, got.headers, got.body)


# ---------------------------------------------------------------- callbacks


def test_a_callback_goes_through_the_outbox_unsigned_with_its_headers_sealed(db, org, settings):
    issued = issue(org)
    with receiver([502]) as hook:
        oid = webhooks.queue_callback(
            db,
            organization_id=org.scope.organization_id,
            attempt_id=issued.attempt.id,
            url=hook.url + "/partner",
            headers={"Authorization": "Basic c2VjcmV0LWtleTo="},
            body={"partner_interview_id": "abc"},
            settings=settings,
        )
        stored = db[dbmod.WEBHOOK_DELIVERIES].find_one({"_id": oid})
        assert "c2VjcmV0LWtleTo" not in json.dumps(stored, default=str)
        t0 = utcnow()
        webhooks.drain(db, settings, now=t0)
        webhooks.drain(db, settings, now=t0 + timedelta(seconds=5))
        first, second = hook.received
    assert first.method == second.method == "PATCH" and second.path == "/hooks/partner" and first.body == second.body
    assert second.headers["authorization"] == "Basic c2VjcmV0LWtleTo=" and "webhook-signature" not in second.headers
    assert json.loads(second.body) == {"partner_interview_id": "abc"}
    assert second.headers["content-type"] == "application/json"
    view = webhooks.get_delivery(org.scope, oid)
    assert view.status == webhooks.DELIVERED and [t.code for t in view.log] == [502, 200]


def test_a_callback_is_signed_when_asked(db, org, settings):
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    with receiver() as hook:
        webhooks.queue_callback(
            db,
            organization_id=org.scope.organization_id,
            attempt_id=None,
            url=hook.url,
            method="POST",
            body=b"raw",
            signing_secret=secret,
            settings=settings,
        )
        webhooks.drain(db, settings)
        [got] = hook.received
    assert got.method == "POST" and got.body == b"raw" and verify(secret, got.headers, got.body)


# ---------------------------------------------------------------- events, erasure, purge


def test_a_decision_emits_review_decided_with_ids_states_and_links_only(db, org, settings):
    webhooks.add_endpoint(admin(org), "http://127.0.0.1:9/", ["review.decided"], settings=settings)
    attempt = seed_completed(org, name="Ada Lovelace", email="ada@example.com")
    reviews.record_review(org.scope, attempt.id, {name: ("agree", "") for name in reviews.DIMENSIONS})
    reviews.record_decision(org.scope, attempt.id, "advance", "Strong reasoning", seen_at=None)
    [doc] = deliveries(db)
    body = json.loads(doc["body"])
    assert body["type"] == "review.decided" and doc["attempt_id"] == attempt.id
    assert body["data"]["attempt_id"] == str(attempt.id)
    assert body["data"]["review"]["state"] == "reviewed" and body["data"]["review"]["decision"] == "advance"
    assert body["data"]["links"]["profile"].endswith(f"/profile?attempt={attempt.id}")
    text = doc["body"].lower()
    assert "ada" not in text and "lovelace" not in text and "strong reasoning" not in text


def test_erasure_and_the_retention_purge_remove_the_deliveries(db, org, settings):
    webhooks.add_endpoint(admin(org), "http://127.0.0.1:9/", None, settings=settings)
    erased, kept = issue(org, "erased@example.com"), issue(org, "kept@example.com")
    for issued in (erased, kept):
        webhooks.attempt_started(db, org.scope.organization_id, issued.attempt.id, settings=settings)
    webhooks.queue_callback(
        db,
        organization_id=org.scope.organization_id,
        attempt_id=erased.attempt.id,
        url="http://127.0.0.1:9/cb",
        settings=settings,
    )
    receipt = erasure.erase_candidate(admin(org), "erased@example.com")
    assert receipt.as_json()["removed"][dbmod.WEBHOOK_DELIVERIES] == 2
    assert {d["attempt_id"] for d in deliveries(db)} == {kept.attempt.id}
    # finished more than 30 days ago: purged
    db[dbmod.WEBHOOK_DELIVERIES].update_many(
        {}, {"$set": {"status": webhooks.DELIVERED, "finished_at": utcnow() - timedelta(days=31)}}
    )
    report = erasure.purge(db)
    assert deliveries(db) == []
    assert report.organizations[0].removed[dbmod.WEBHOOK_DELIVERIES] == 1


def test_emit_costs_one_read_without_endpoints(db, org, settings):
    """Measured (printed): emit with no endpoint, and with 3."""
    organization_id = org.scope.organization_id

    def per_call(runs: int) -> float:
        started = time.perf_counter()
        for _ in range(runs):
            webhooks.emit(db, organization_id, "attempt.started", {"attempt_id": "x"})
        return (time.perf_counter() - started) / runs * 1000

    none = per_call(50)
    for n in range(3):
        webhooks.add_endpoint(admin(org), f"http://127.0.0.1:9/{n}", None, settings=settings)
    three = per_call(50)
    print(f"\nemit: {none:.2f} ms with 0 endpoints, {three:.2f} ms with 3")
    assert len(deliveries(db)) == 150


def test_an_access_request_names_what_was_sent_and_to_which_host(db, org, settings):
    with receiver() as hook:
        webhooks.add_endpoint(admin(org), hook.url, None, settings=settings)
        issued = issue(org, "asker@example.com")
        webhooks.attempt_started(db, org.scope.organization_id, issued.attempt.id, settings=settings)
        webhooks.drain(db, settings)
    exported = erasure.export_candidate(admin(org), "asker@example.com").document
    [notice] = exported["attempts"][0]["webhook_notices"]
    assert notice["event_type"] == "attempt.started" and notice["recipient_host"] == "127.0.0.1"
    assert notice["status"] == webhooks.DELIVERED and notice["delivered_at"]
    assert notice["sent"]["data"]["attempt_id"] == str(issued.attempt.id)
