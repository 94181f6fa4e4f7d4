"""Protocol 1.3: the voluntary self-identification socket, /ws/self-id/{token}."""

# ruff: noqa: F401, F811 - fixtures imported from tests.support.ingest_helpers are used as arguments

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from hiremate import auth, organizations
from hiremate import db as dbmod
from hiremate.scope import Scope
from ingest_server.selfid import MAX_MESSAGES
from tests.support.ingest_helpers import (
    Client,
    Issued,
    all_tasks_messages,
    http_get,
    ingest_settings,
    issue,
    page_state,
    server,
    ws_url,
)
from tests.support.page_helpers import _fast_bcrypt  # fast hashing for the users made here

FEMALE_ASIAN = {"sex": "female", "race_ethnicity": "asian", "consent": True}


def organisation(db, *, asks: bool, name: str = "Acme Hiring", email: str = "boss@acme.example") -> Scope:
    admin = auth.register(db, organization_name=name, email=email, full_name="Boss", password="a long pass phrase 7")
    scope = Scope(db, admin.organization_id, admin.id, is_admin=True)
    if asks:
        organizations.update_settings(scope, {"self_identification": True})
    return scope


async def completed(server, db, scope: Scope) -> tuple[Issued, str]:
    """An attempt run to completion over the candidate socket; its token and session key."""
    issued = issue(db, count=2, organization_id=scope.organization_id)
    async with Client.open(server.port, issued.token) as client:
        assert (
            client.info["self_identification"]
            is organizations.get_organization(db, scope.organization_id).settings.self_identification
        )
        started = await client.start()
        await client.send_all(all_tasks_messages(issued.tasks))
        code, seen = await client.closed()
    assert code == 1000 and seen[-1]["type"] == "assessment_completed"
    return issued, started["session_key"]


@contextlib.asynccontextmanager
async def self_id_socket(port: int, token: str) -> AsyncIterator:
    async with connect(ws_url(port, f"/ws/self-id/{token}"), open_timeout=10) as ws:
        yield ws


async def ask(ws, message: dict) -> dict:
    await ws.send(json.dumps(message))
    return json.loads(await ws.recv())


def stored(db, issued: Issued) -> dict | None:
    return db[dbmod.SELF_IDS].find_one({"_id": issued.attempt_id})


async def test_a_completed_candidate_self_identifies_with_the_session_key(server, db):
    scope = organisation(db, asks=True)
    issued, key = await completed(server, db, scope)
    state = page_state((await http_get(server.port, f"/a/{issued.token}")).body)
    assert state["state"] == "completed" and state["self_identification"] is True

    async with self_id_socket(server.port, issued.token) as ws:
        answer = await ask(ws, {"type": "self_identification", "session_key": key, **FEMALE_ASIAN})
        assert answer["type"] == "self_identification_received" and answer["recorded_at"]
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 1000
    doc = stored(db, issued)
    assert (doc["sex"], doc["race_ethnicity"]) == ("female", "asian")
    assert doc["organization_id"] == scope.organization_id and doc["consent_at"] is not None
    # Kept apart: nothing of it on the attempt, its events or its profile.
    for collection in (dbmod.ATTEMPTS, dbmod.EVENTS, dbmod.PROFILES, dbmod.METRICS):
        for other in db[collection].find({}):
            assert "asian" not in json.dumps(other, default=str), collection

    # Answering again replaces it; "prefer not to say" twice withdraws it, no consent needed.
    async with self_id_socket(server.port, issued.token) as ws:
        withdrawn = {"sex": "prefer_not_to_say", "race_ethnicity": "prefer_not_to_say"}
        answer = await ask(ws, {"type": "self_identification", "session_key": key, **withdrawn})
        assert answer["type"] == "self_identification_received"
    doc = stored(db, issued)
    assert (doc["sex"], doc["race_ethnicity"], doc["consent_at"]) == ("prefer_not_to_say", "prefer_not_to_say", None)
    assert db[dbmod.SELF_IDS].count_documents({}) == 1


async def test_a_refused_message_stores_nothing_and_the_socket_takes_a_corrected_one(server, db):
    scope = organisation(db, asks=True)
    issued, key = await completed(server, db, scope)
    refused = [
        ({"session_key": "not-the-key", **FEMALE_ASIAN}, "not valid for the attempt"),
        ({"session_key": key, **FEMALE_ASIAN, "consent": False}, "consent is required"),
        ({"session_key": key, "sex": "robot"}, "sex is one of"),
        ({"session_key": key, "race_ethnicity": "martian", "consent": True}, "race_ethnicity is one of"),
        ({"session_key": key, **FEMALE_ASIAN, "name": "Ada"}, "Extra inputs"),
    ]
    async with self_id_socket(server.port, issued.token) as ws:
        for body, words in refused:
            answer = await ask(ws, {"type": "self_identification", **body})
            assert answer["type"] == "error" and answer["code"] == "invalid_payload", answer
            assert words in answer["message"], answer
            assert stored(db, issued) is None
        assert (await ask(ws, {"type": "start"}))["code"] == "unknown_message"
        await ws.send("{not json")
        assert json.loads(await ws.recv())["code"] == "invalid_json"
        answer = await ask(ws, {"type": "self_identification", "session_key": key, **FEMALE_ASIAN})
        assert answer["type"] == "self_identification_received"
    assert stored(db, issued)["sex"] == "female"


async def test_useless_messages_close_the_socket(server, db):
    scope = organisation(db, asks=True)
    issued, _ = await completed(server, db, scope)
    async with self_id_socket(server.port, issued.token) as ws:
        for _ in range(MAX_MESSAGES):
            assert (await ask(ws, {"type": "self_identification", "session_key": "x"}))["type"] == "error"
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 1008
    assert stored(db, issued) is None


async def refused_with(port: int, token: str) -> int:
    with pytest.raises(InvalidStatus) as refused:
        async with self_id_socket(port, token):
            pass
    return refused.value.response.status_code


async def test_the_handshake_is_refused_unless_the_attempt_is_completed_and_the_organisation_asks(server, db):
    asks = organisation(db, asks=True)
    pending = issue(db, organization_id=asks.organization_id)
    assert await refused_with(server.port, pending.token) == 409
    assert await refused_with(server.port, "x" * 43) == 404

    silent = organisation(db, asks=False, name="Quiet Co", email="boss@quiet.example")
    issued, _ = await completed(server, db, silent)
    assert page_state((await http_get(server.port, f"/a/{issued.token}")).body)["self_identification"] is False
    assert await refused_with(server.port, issued.token) == 404
    assert db[dbmod.SELF_IDS].count_documents({}) == 0


async def test_an_organisation_that_stops_asking_refuses_answers_already_on_their_way(server, db):
    scope = organisation(db, asks=True)
    issued, key = await completed(server, db, scope)
    async with self_id_socket(server.port, issued.token) as ws:
        organizations.update_settings(scope, {"self_identification": False})
        answer = await ask(ws, {"type": "self_identification", "session_key": key, **FEMALE_ASIAN})
        assert answer["code"] == "invalid_payload" and "does not ask" in answer["message"]
    assert stored(db, issued) is None
