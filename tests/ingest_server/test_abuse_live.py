"""Abuse of the live socket: tickets that outlived their right.

Found by attacking a running stack: a deactivated user's ticket still opened
``/ws/live``, an open live socket kept receiving events after its ticket
expired, and one ticket opened 500 sockets. Each test performs the attack
through real sockets against a real server and the real store.
"""

# ruff: noqa: F401, F811 - fixtures imported from tests.support.ingest_helpers are used as arguments

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
from bson import ObjectId
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from hiremate import auth
from hiremate import db as dbmod
from hiremate.live_tickets import mint_ticket
from hiremate.scope import Scope
from tests.conftest import TEST_SECRET
from tests.support.ingest_helpers import (
    Client,
    focus_events,
    ingest_settings,
    issue,
    running_server,
    server,
    stored_seqs,
    with_limits,
    ws_url,
)
from tests.support.page_helpers import make_org

SECRET = TEST_SECRET.encode()


class Recruiter:
    """A real user of a real organisation, signed in (a real login session),
    and an attempt of that organisation in progress."""

    def __init__(self, db) -> None:
        self.db = db
        self.org = make_org(db, f"Org {ObjectId()}")
        self.user_id = self.org.user.id
        self.organization_id = self.org.scope.organization_id
        self.token = auth.start_session(db, self.org.user, days=1)
        self.session_id = auth.live_session_id(db, self.token)
        assert self.session_id is not None
        self.issued = issue(db, count=1, organization_id=self.organization_id)
        self.admin = Scope(db, self.organization_id, ObjectId(), is_admin=True)

    def ticket(self, **changes) -> str:
        claims = {
            "attempt_id": self.issued.attempt_id,
            "user_id": self.user_id,
            "organization_id": self.organization_id,
            "session_id": self.session_id,
            **changes,
        }
        return mint_ticket(SECRET, **{k: v for k, v in claims.items() if v is not None})

    def path(self, ticket: str) -> str:
        return f"/ws/live/{self.issued.attempt_id}?ticket={ticket}"


async def status_of(port: int, path: str, **kwargs) -> int:
    """The HTTP status of a live upgrade (101 when it opened)."""
    try:
        async with connect(ws_url(port, path), open_timeout=10, **kwargs):
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


async def close_code(ws, timeout: float = 10.0) -> int | None:
    """Read until the server closes; the close code it sent."""
    with contextlib.suppress(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    return ws.close_code


async def test_a_deactivated_users_ticket_is_refused(server, db):
    rita = Recruiter(db)
    ticket = rita.ticket()
    assert await status_of(server.port, rita.path(ticket)) == 101  # the ticket works ...
    auth.set_active(rita.admin, rita.user_id, False)  # ... until an admin deactivates Rita
    assert await status_of(server.port, rita.path(ticket)) == 403
    # A ticket of the old format (no session in it) is checked against the user as well.
    assert await status_of(server.port, rita.path(rita.ticket(session_id=None))) == 403


async def test_a_ticket_dies_with_the_session_or_the_membership_that_minted_it(server, db):
    rita = Recruiter(db)
    ticket = rita.ticket()
    assert await status_of(server.port, rita.path(ticket)) == 101
    auth.end_session(db, rita.token)  # Rita logs out
    assert await status_of(server.port, rita.path(ticket)) == 403
    # A v1 ticket carries no session: it survives a logout (documented), not a move to another organisation.
    old_format = rita.ticket(session_id=None)
    assert await status_of(server.port, rita.path(old_format)) == 101
    db[dbmod.USERS].update_one({"_id": rita.user_id}, {"$set": {"organization_id": ObjectId()}})
    assert await status_of(server.port, rita.path(old_format)) == 403
    # A user that never existed (a ticket minted with the secret for a made-up id).
    ghost = rita.ticket(user_id=ObjectId(), session_id=None)
    assert await status_of(server.port, rita.path(ghost)) == 403


async def test_an_open_socket_is_closed_4401_when_its_ticket_expires(server, db):
    rita = Recruiter(db)
    ticket = rita.ticket(ttl_seconds=2)  # expires within 1 to 2 s (whole seconds)
    loop = asyncio.get_running_loop()
    async with connect(ws_url(server.port, rita.path(ticket))) as ws:
        opened = loop.time()
        status = json.loads(await ws.recv())
        assert status["type"] == "attempt_status"
        assert await close_code(ws) == 4401
        assert loop.time() - opened < 4.0
    # The expired ticket opens nothing more.
    assert await status_of(server.port, rita.path(ticket)) == 401


async def test_an_open_socket_is_closed_4403_when_its_user_is_deactivated_or_logs_out(ingest_settings, db):
    settings = with_limits(ingest_settings, live_recheck_seconds=0.3)
    rita = Recruiter(db)
    bob = Recruiter(db)
    candidate_events = focus_events(rita.issued.tasks[0].id, 1, 4)
    async with (
        running_server(settings, db) as running,
        Client.open(running.port, rita.issued.token) as candidate,
        connect(ws_url(running.port, rita.path(rita.ticket()))) as watched_by_rita,
        connect(ws_url(running.port, bob.path(bob.ticket()))) as watched_by_bob,
    ):
        await candidate.start()
        assert (await candidate.send_batch(candidate_events[:2]))["seqs"] == [1, 2]
        auth.set_active(rita.admin, rita.user_id, False)
        assert await close_code(watched_by_rita, timeout=5) == 4403
        # The candidate is not touched: what was acknowledged is stored, and more is accepted.
        assert (await candidate.send_batch(candidate_events[2:]))["seqs"] == [3, 4]
        auth.end_session(db, bob.token)  # Bob logs out
        assert await close_code(watched_by_bob, timeout=5) == 4403
    assert stored_seqs(db, rita.issued.attempt_id) == [1, 2, 3, 4]


async def test_one_ticket_opens_at_most_three_sockets(server, db):
    rita = Recruiter(db)
    ticket = rita.ticket()
    url = ws_url(server.port, rita.path(ticket))
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(3):
            await stack.enter_async_context(connect(url))
        statuses = await asyncio.gather(*(status_of(server.port, rita.path(ticket)) for _ in range(20)))
        assert statuses == [429] * 20
        # Another ticket of the same user is its own count.
        assert await status_of(server.port, rita.path(rita.ticket(ttl_seconds=120))) == 101
    # Closed sockets give their places back.
    for _ in range(50):
        if not server.sockets_by_ticket:
            break
        await asyncio.sleep(0.05)
    assert await status_of(server.port, rita.path(ticket)) == 101


async def test_a_live_handshake_flood_gets_429(ingest_settings, db):
    limit = 30  # PROTOCOL.md's default live upgrades a minute per client address
    settings = with_limits(ingest_settings, live_connections_per_minute=limit)
    rita = Recruiter(db)
    async with running_server(settings, db) as running:
        forged = rita.path("v2.a.b.c.d.1.x")  # 401 while the address is allowed through
        statuses = await asyncio.gather(*(status_of(running.port, forged) for _ in range(limit + 10)))
        assert sorted(statuses) == [401] * limit + [429] * 10
        # The flooding address cannot use a genuine ticket either; another address can.
        assert await status_of(running.port, rita.path(rita.ticket())) == 429
        assert await status_of(running.port, rita.path(rita.ticket()), local_addr=("127.0.0.2", 0)) == 101


@pytest.mark.parametrize("fake", ["v1", "v2"])
async def test_a_ticket_for_a_user_of_another_organisation_is_refused(server, db, fake):
    rita, eve = Recruiter(db), Recruiter(db)
    # Eve holds the secret-signed claims of her own user, but names Rita's organisation.
    ticket = rita.ticket(user_id=eve.user_id, session_id=eve.session_id if fake == "v2" else None)
    assert await status_of(server.port, rita.path(ticket)) == 403
