"""The ingest server's webhook loop, end to end: a candidate starts, asks for
an accommodation and completes through the real socket; a receiver on
loopback gets attempt.started, accommodation.requested and
attempt.completed (with the profile's labels and links), each signed and
fresh; the expiry sweep sends attempt.expired. Prints the time from the
completion to the receiver."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta

from hiremate import db as dbmod
from hiremate import webhooks
from hiremate.scope import Scope
from ingest_server.server import WEBHOOK_INTERVAL_SECONDS
from tests.support.ingest_helpers import (
    Client,
    ingest_settings,  # noqa: F401 (fixture)
    issue,
    running_server,
    session_messages,
)
from tests.support.webhook_receiver import receiver, verify


async def test_a_completion_on_the_candidate_socket_reaches_the_receiver_signed(ingest_settings, db):  # noqa: F811
    with receiver() as hook:
        async with running_server(ingest_settings, db) as server:
            assert server.webhook_interval == WEBHOOK_INTERVAL_SECONDS <= 1.0
            issued = issue(db, count=2)
            organization_id = issued.scope.organization_id
            admin = Scope(db, organization_id, None, is_admin=True)
            _, secret = await asyncio.to_thread(webhooks.add_endpoint, admin, hook.url, None, settings=ingest_settings)
            async with Client.open(server.port, issued.token) as client:
                await client.ask({"type": "request_accommodation", "needs": ["extra_time"], "note": "I use NVDA."})
                await client.start()
                await client.send_all(session_messages(issued.tasks), batch=40)
                code, seen = await client.closed()
                completed_at = time.monotonic()
            assert code == 1000 and seen[-1]["type"] == "assessment_completed"
            got = await asyncio.to_thread(hook.wait_for, 3)
            by_type = {json.loads(r.body)["type"]: r for r in got}
            latency = by_type["attempt.completed"].at - completed_at
            print(f"\ncompletion on the socket -> attempt.completed at the receiver: {latency * 1000:.0f} ms")
            await _all_recorded(db, 3)
    # Tries run several at once: the order of arrival is not promised (nor by the spec).
    assert sorted(by_type) == ["accommodation.requested", "attempt.completed", "attempt.started"]
    assert all(verify(secret, r.headers, r.body) for r in got)
    assert len({r.headers["webhook-id"] for r in got}) == 3
    completed = json.loads(by_type["attempt.completed"].body)["data"]
    assert completed["attempt_id"] == str(issued.attempt.id) and completed["status"] == "completed"
    profile = db[dbmod.PROFILES].find_one({"attempt_id": issued.attempt.id})
    assert completed["profile"]["labels"]["thinking_style"] == profile["thinking_style"]["primary"]
    assert completed["profile"]["labels"]["risk_orientation"] == profile["risk_orientation"]["preference"]
    assert completed["review"] == {"state": "awaiting_review", "decision": None, "decided_at": None}
    assert completed["links"]["profile"] == f"{ingest_settings.app_url}/profile?attempt={issued.attempt.id}"
    every = b"".join(r.body for r in got).lower()
    assert b"ada" not in every and b"lovelace" not in every and b"nvda" not in every  # no name, no request text
    assert {d["status"] for d in db[dbmod.WEBHOOK_DELIVERIES].find({})} == {webhooks.DELIVERED}


async def _all_recorded(db, count: int) -> None:
    """Wait until ``count`` deliveries have recorded their answer (the receiver answers first)."""
    for _ in range(200):
        if db[dbmod.WEBHOOK_DELIVERIES].count_documents({"status": webhooks.DELIVERED}) >= count:
            return
        await asyncio.sleep(0.05)


async def test_the_expiry_sweep_sends_attempt_expired(ingest_settings, db):  # noqa: F811
    with receiver() as hook:
        async with running_server(ingest_settings, db) as server:
            issued = issue(db, count=1)
            admin = Scope(db, issued.scope.organization_id, None, is_admin=True)
            await asyncio.to_thread(
                webhooks.add_endpoint, admin, hook.url, ["attempt.expired"], settings=ingest_settings
            )
            db[dbmod.ATTEMPTS].update_one(
                {"_id": issued.attempt.id}, {"$set": {"expires_at": issued.attempt.expires_at - timedelta(days=30)}}
            )
            assert await server.sweep_once() == [issued.attempt.id]
            [got] = await asyncio.to_thread(hook.wait_for, 1)
    body = json.loads(got.body)
    assert body["type"] == "attempt.expired" and body["data"]["attempt_id"] == str(issued.attempt.id)
    assert body["data"]["started"] is False and body["data"]["profile"] is None


async def test_a_slow_receiver_does_not_hold_the_others_back(ingest_settings, db):  # noqa: F811
    """Tries run in their own threads, several at once: one endpoint that
    hangs up late leaves the loop free for the next deliveries."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    release = threading.Event()

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            release.wait(10)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    slow = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=slow.serve_forever, daemon=True).start()
    try:
        with receiver() as fast:
            async with running_server(ingest_settings, db):
                issued = issue(db, count=1)
                admin = Scope(db, issued.scope.organization_id, None, is_admin=True)
                for url in (f"http://127.0.0.1:{slow.server_address[1]}/", fast.url):
                    await asyncio.to_thread(webhooks.add_endpoint, admin, url, None, settings=ingest_settings)
                webhooks.emit(db, issued.scope.organization_id, "attempt.started", {"n": 1})
                await asyncio.to_thread(fast.wait_for, 1)
                webhooks.emit(db, issued.scope.organization_id, "attempt.started", {"n": 2})
                got = await asyncio.to_thread(fast.wait_for, 2)
                assert [json.loads(r.body)["data"]["n"] for r in got] == [1, 2]  # while the slow one still waits
                release.set()
    finally:
        release.set()
        slow.shutdown()
        slow.server_close()
