"""The candidate socket's handshake: refusals (404/410/429) and the first message."""

# ruff: noqa: F401, F811 - fixtures imported from tests.support.ingest_helpers are used as arguments

from __future__ import annotations

import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from hiremate import attempts
from hiremate import db as dbmod
from hiremate.models import AttemptStatus
from hiremate.timeutil import utcnow
from tests.support.builders import start_attempt
from tests.support.ingest_helpers import (
    Client,
    ingest_settings,
    issue,
    running_server,
    server,
    with_limits,
    ws_url,
)


async def refused_with(port: int, token: str, **kwargs) -> int:
    with pytest.raises(InvalidStatus) as caught:
        async with connect(ws_url(port, f"/ws/assessment/{token}"), **kwargs):
            pass
    return caught.value.response.status_code


async def test_assessment_info_comes_first(server, db):
    issued = issue(db, count=5, name="Ada", position="Analyst")
    async with Client.open(server.port, issued.token) as client:
        info = client.info
    assert info == {
        "type": "assessment_info",
        "status": "pending",
        "candidate_name": "Ada",
        "position": "Analyst",
        "total_tasks": 5,
        "current_task_index": 0,
        "expires_at": info["expires_at"],
        "notice": info["notice"],
        "accommodations": None,
        "start_by": info["expires_at"],
        "finish_by": info["finish_by"],
        "grace_hours": 24,
        "accommodation_request": None,
        "self_identification": False,  # protocol 1.3
    }
    assert set(info["notice"]) == {"version", "organization_name", "contact", "retention_days", "additions"}


async def test_404_unknown_token(server):
    assert await refused_with(server.port, "x" * 43) == 404
    assert await refused_with(server.port, "not%20a%20token") == 404


async def test_404_reissued_token(server, db):
    issued = issue(db)
    attempts.reissue_link(issued.scope, issued.attempt_id, public_url="http://x")
    assert await refused_with(server.port, issued.token) == 404


async def test_410_completed(server, db):
    issued = issue(db)
    start_attempt(db, issued.attempt)
    attempts.complete(db, issued.attempt_id, completed_at=utcnow())
    assert await refused_with(server.port, issued.token) == 410


async def test_410_locked(server, db):
    issued = issue(db)
    attempts.lock_attempt(issued.scope, issued.attempt_id, "withdrawn")
    assert await refused_with(server.port, issued.token) == 410


async def test_410_expired_pending_and_in_progress(server, db):
    for started in (False, True):
        issued = issue(db)
        if started:
            start_attempt(db, issued.attempt)
        db[dbmod.ATTEMPTS].update_one({"_id": issued.attempt_id}, {"$set": {"expires_at": utcnow()}})
        assert await refused_with(server.port, issued.token) == 410
        assert db[dbmod.ATTEMPTS].find_one({"_id": issued.attempt_id})["status"] == AttemptStatus.EXPIRED


async def test_429_connection_rate_per_address(ingest_settings, db):
    settings = with_limits(ingest_settings, connections_per_minute=3)
    issued = issue(db)
    async with running_server(settings, db) as running:
        for _ in range(3):
            async with Client.open(running.port, issued.token):
                pass
        assert await refused_with(running.port, issued.token) == 429
        # Unknown tokens count too (guessing is throttled) and are refused with 429 first.
        assert await refused_with(running.port, "y" * 43) == 429


async def test_x_forwarded_for_only_with_trust_proxy(ingest_settings, db):
    issued = issue(db)
    for trust in (False, True):
        settings = with_limits(ingest_settings, connections_per_minute=2).model_copy(update={"trust_proxy": trust})
        async with running_server(settings, db) as running:
            for address in ("10.0.0.1", "10.0.0.1"):
                async with Client.open(running.port, issued.token, additional_headers={"X-Forwarded-For": address}):
                    pass
            other = {"X-Forwarded-For": "203.0.113.9, 10.0.0.2"}
            if trust:
                # Another client behind the proxy has its own budget (the last hop is the one the proxy saw).
                async with Client.open(running.port, issued.token, additional_headers=other):
                    pass
                spoofed = {"X-Forwarded-For": "10.0.0.2, 10.0.0.1"}
                assert await refused_with(running.port, issued.token, additional_headers=spoofed) == 429
            else:
                # Without trust_proxy the header is ignored: all three are 127.0.0.1.
                assert await refused_with(running.port, issued.token, additional_headers=other) == 429


async def test_permessage_deflate_offered_is_declined_and_the_session_works(server, db):
    """Protocol v1.4, transport: the server accepts no extension. A client
    offering permessage-deflate (as browsers and websockets do by default)
    gets an upgrade without Sec-WebSocket-Extensions and a working session."""
    issued = issue(db)
    async with connect(ws_url(server.port, f"/ws/assessment/{issued.token}"), compression="deflate") as ws:
        assert "permessage-deflate" in ws.request.headers["Sec-WebSocket-Extensions"]  # offered
        assert "Sec-WebSocket-Extensions" not in ws.response.headers  # declined
        assert ws.protocol.extensions == []
        assert json.loads(await ws.recv())["type"] == "assessment_info"
