"""Protocol 1.2: the notice and consent, accommodation requests, the grace period, replaced links."""

# ruff: noqa: F401, F811 - fixtures imported from tests.support.ingest_helpers are used as arguments

from __future__ import annotations

import asyncio
from datetime import timedelta

from bson import ObjectId

from hiremate import attempts, auth, organizations
from hiremate import db as dbmod
from hiremate.models import Accommodations, EventType, Role
from hiremate.scope import Scope
from hiremate.timeutil import parse_iso, utcnow
from tests.support.ingest_helpers import (
    Client,
    all_tasks_messages,
    event,
    http_get,
    ingest_settings,
    issue,
    minimal_task_messages,
    page_state,
    server,
    stored_seqs,
)
from tests.support.page_helpers import _fast_bcrypt  # fast hashing for the users made here


def org_with_admin(db, *, name="Acme Hiring", email="boss@acme.example"):
    admin = auth.register(db, organization_name=name, email=email, full_name="Boss", password="a long pass phrase 7")
    return admin.organization_id, Scope(db, admin.organization_id, admin.id, is_admin=True)


# ---------------------------------------------------------------- the notice


async def test_the_notice_names_the_organisation_its_contact_and_retention(server, db):
    organization, scope = org_with_admin(db)
    issued = issue(db, organization_id=organization)
    state = page_state((await http_get(server.port, f"/a/{issued.token}")).body)
    notice = state["notice"]
    assert notice["organization_name"] == "Acme Hiring"
    assert notice["contact"] == "boss@acme.example"  # the first admin, until one is set
    assert notice["retention_days"] == 730
    async with Client.open(server.port, issued.token) as client:
        assert client.info["notice"] == notice  # the page and the socket say the same

    organizations.update_settings(
        scope, {"display_name": "Acme", "contact": "jobs@acme.example", "retention_days": 365, "notice_additions": "Hi"}
    )
    changed = page_state((await http_get(server.port, f"/a/{issued.token}")).body)["notice"]
    assert changed["organization_name"] == "Acme" and changed["contact"] == "jobs@acme.example"
    assert changed["retention_days"] == 365 and changed["additions"] == "Hi"
    assert changed["version"] != notice["version"]  # a consent names exactly what was shown


async def test_start_without_consent_is_refused_and_the_socket_stays_open(server, db):
    issued = issue(db)
    async with Client.open(server.port, issued.token) as client:
        for start in (
            {"type": "start"},
            {"type": "start", "consent": True},
            {"type": "start", "consent": {"notice_version": "0-old"}},
        ):
            answer = await client.ask(start)
            assert answer["type"] == "error" and answer["code"] == "consent_required", answer
            assert answer["notice_version"] == client.info["notice"]["version"]
        doc = db[dbmod.ATTEMPTS].find_one({"_id": issued.attempt_id})
        assert doc["status"] == "pending" and doc.get("consent") is None and doc["token_used"] is False
        # No event is accepted before a start that acknowledges the notice.
        refused = await client.ask({"type": "event", **minimal_task_messages(issued.tasks[0], 0, 1)[0]})
        assert refused["code"] == "not_started"
        started = await client.start()  # the same socket, now with the consent
        assert started["type"] == "started"
    doc = db[dbmod.ATTEMPTS].find_one({"_id": issued.attempt_id})
    assert doc["consent"]["notice_version"] == client.info["notice"]["version"]
    assert abs((doc["consent"]["at"] - doc["started_at"]).total_seconds()) < 1
    assert stored_seqs(db, issued.attempt_id) == []


# ---------------------------------------------------------------- accommodations


async def test_an_accommodation_request_is_stored_without_starting(server, db):
    issued = issue(db)
    async with Client.open(server.port, issued.token) as client:
        answer = await client.ask(
            {"type": "request_accommodation", "needs": ["extra_time", "assistive_technology"], "note": "I use NVDA."}
        )
        assert answer["type"] == "accommodation_request_received"
    doc = db[dbmod.ATTEMPTS].find_one({"_id": issued.attempt_id})
    assert doc["status"] == "pending" and doc["token_used"] is False  # the link stays valid
    assert doc["accommodation_request"]["needs"] == ["extra_time", "assistive_technology"]
    assert doc["accommodation_request"]["note"] == "I use NVDA."
    state = page_state((await http_get(server.port, f"/a/{issued.token}")).body)
    assert parse_iso(state["accommodation_request"]["requested_at"]) == doc["accommodation_request"]["requested_at"]
    (request,) = attempts.open_accommodation_requests(issued.scope)
    assert request.attempt_id == issued.attempt_id
    # The audit log says that a request came, never what it says.
    entry = db[dbmod.AUDIT_LOG].find_one({"action": "attempt.accommodation_requested"})
    assert entry["target_id"] == str(issued.attempt_id) and "NVDA" not in str(entry)
    async with Client.open(server.port, issued.token) as client:
        assert (await client.start())["type"] == "started"


async def test_a_bad_accommodation_request_is_refused_and_stores_nothing(server, db):
    issued = issue(db)
    async with Client.open(server.port, issued.token) as client:
        for bad in (
            {"needs": ["a_pony"]},
            {"needs": "extra_time"},
            {"needs": [], "note": ""},
            {"needs": [], "note": "x" * 2001},
        ):
            answer = await client.ask({"type": "request_accommodation", **bad})
            assert answer["type"] == "error" and answer["code"] == "invalid_payload", (bad, answer)
    assert db[dbmod.ATTEMPTS].find_one({"_id": issued.attempt_id}).get("accommodation_request") is None


async def test_the_candidate_is_told_their_own_accommodations_but_never_the_note(server, db):
    issued = issue(db)
    attempts.set_accommodations(
        issued.scope,
        issued.attempt_id,
        Accommodations(time_multiplier=1.5, assistive_technology=True, note="medical letter on file"),
    )
    body = (await http_get(server.port, f"/a/{issued.token}")).body
    state = page_state(body)
    assert state["accommodations"] == {"time_multiplier": 1.5, "untimed": False, "assistive_technology": True}
    assert b"medical letter" not in body
    async with Client.open(server.port, issued.token) as client:
        assert client.info["accommodations"] == state["accommodations"]


# ---------------------------------------------------------------- no answer lost to the link's expiry


async def test_an_attempt_started_in_time_may_finish_after_the_link_expired(server, db):
    issued = issue(db, count=2)
    soon = utcnow() + timedelta(seconds=2)
    db[dbmod.ATTEMPTS].update_one({"_id": issued.attempt_id}, {"$set": {"expires_at": soon}})
    async with Client.open(server.port, issued.token) as client:
        await client.start()
        doc = db[dbmod.ATTEMPTS].find_one({"_id": issued.attempt_id})
        assert doc["start_by"] == soon.replace(microsecond=soon.microsecond // 1000 * 1000)
        assert doc["expires_at"] == doc["start_by"] + timedelta(hours=24)
        await asyncio.sleep(2.2)  # the link's own expiry passes mid-task
        expired = await server.sweep_once()
        assert issued.attempt_id not in expired
        messages = all_tasks_messages(issued.tasks)
        answer = await client.ask({"type": "batch", "events": messages})
        assert answer["type"] == "ack" and answer["seqs"] == list(range(1, len(messages) + 1)), answer
        done = await client.ask({"type": "complete"})
        assert done["type"] == "assessment_completed", done
    assert db[dbmod.ATTEMPTS].find_one({"_id": issued.attempt_id})["status"] == "completed"


async def test_a_link_not_started_before_it_expired_stays_expired(server, db):
    issued = issue(db)
    db[dbmod.ATTEMPTS].update_one({"_id": issued.attempt_id}, {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}})
    state = page_state((await http_get(server.port, f"/a/{issued.token}")).body)
    assert state["state"] == "expired"


# ---------------------------------------------------------------- a replaced link


async def test_a_replaced_link_says_so_and_names_the_contact(server, db):
    organization, _ = org_with_admin(db)
    issued = issue(db, organization_id=organization)
    attempts.reissue_link(issued.scope, issued.attempt_id, public_url="http://x")
    state = page_state((await http_get(server.port, f"/a/{issued.token}")).body)
    assert state["state"] == "replaced"
    assert state["notice"]["contact"] == "boss@acme.example"
    assert "candidate_name" not in state and state["token"] is None
    unknown = page_state((await http_get(server.port, "/a/" + "x" * 43)).body)
    assert unknown["state"] == "not_found" and "notice" not in unknown
