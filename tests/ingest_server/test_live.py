"""The live socket: ticket checks, backlog then live, status messages, slow
subscribers, polling mode, several ingest server processes."""

# ruff: noqa: F401, F811 - fixtures imported from tests.support.ingest_helpers are used as arguments

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from datetime import timedelta

import pytest
from bson import ObjectId
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from hiremate import attempts
from hiremate import db as dbmod
from hiremate import events as events_mod
from hiremate.live_tickets import mint_ticket
from hiremate.timeutil import utcnow
from ingest_server.fanout import LiveHub
from ingest_server.livesocket import event_logged
from tests.conftest import TEST_SECRET, free_port
from tests.support.ingest_helpers import (
    Client,
    ServerProcess,
    all_tasks_messages,
    focus_events,
    ingest_settings,
    issue,
    live_ticket,
    running_server,
    server,
    server_env,
    session_messages,
    until,
    with_limits,
    ws_url,
)

SECRET = TEST_SECRET.encode()


def ticket_for(issued, **changes) -> str:
    return live_ticket(issued, changes.pop("secret", SECRET), **changes)


def live_path(attempt_id, ticket: str | None) -> str:
    return f"/ws/live/{attempt_id}" + ("" if ticket is None else f"?ticket={ticket}")


async def live_status(port: int, path: str) -> int:
    with pytest.raises(InvalidStatus) as caught:
        async with connect(ws_url(port, path)):
            pass
    return caught.value.response.status_code


class Watcher:
    """A recruiter's live socket, collecting what arrives."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.messages: list[dict] = []

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, port: int, issued, **kwargs):
        async with connect(ws_url(port, live_path(issued.attempt_id, ticket_for(issued))), **kwargs) as ws:
            yield cls(ws)

    async def next(self, timeout: float = 10.0) -> dict:
        message = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        self.messages.append(message)
        return message

    async def until(self, predicate, timeout: float = 15.0) -> list[dict]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not any(predicate(m) for m in self.messages):
            await self.next(max(0.01, deadline - loop.time()))
        return self.messages

    def seqs(self) -> list[int]:
        return [m["sequence_number"] for m in self.messages if m["type"] == "event_logged"]


# ---------------------------------------------------------------- tickets


async def test_401_missing_malformed_forged_expired(server, db):
    issued = issue(db)
    aid = issued.attempt_id
    assert await live_status(server.port, live_path(aid, None)) == 401
    assert await live_status(server.port, live_path(aid, "")) == 401
    assert await live_status(server.port, live_path(aid, "garbage")) == 401
    forged = mint_ticket(
        b"another-secret", attempt_id=aid, user_id=ObjectId(), organization_id=issued.scope.organization_id
    )
    assert await live_status(server.port, live_path(aid, forged)) == 401
    expired = mint_ticket(
        SECRET,
        attempt_id=aid,
        user_id=ObjectId(),
        organization_id=issued.scope.organization_id,
        now=utcnow() - timedelta(minutes=6),
    )
    assert await live_status(server.port, live_path(aid, expired)) == 401


async def test_403_other_attempt_or_organisation(server, db):
    issued = issue(db)
    other = issue(db)
    # a valid ticket for another attempt
    assert await live_status(server.port, live_path(issued.attempt_id, ticket_for(other))) == 403
    # a valid ticket for this attempt, but minted for another organisation
    wrong_org = ticket_for(issued, organization_id=ObjectId())
    assert await live_status(server.port, live_path(issued.attempt_id, wrong_org)) == 403


async def test_unknown_attempt_with_a_valid_ticket(server, db):
    issued = issue(db)
    ghost = ObjectId()
    ticket = mint_ticket(SECRET, attempt_id=ghost, user_id=ObjectId(), organization_id=issued.scope.organization_id)
    assert await live_status(server.port, live_path(ghost, ticket)) == 404


# ---------------------------------------------------------------- backlog, live, status


async def test_backlog_then_live_then_completion(server, db):
    issued = issue(db, count=2, reasoning_required=True)
    messages = all_tasks_messages(issued.tasks)
    async with Client.open(server.port, issued.token) as candidate:
        await candidate.start()
        await candidate.send_batch(messages[:3])
        async with Watcher.open(server.port, issued) as watcher:
            for seq in (1, 2, 3):
                logged = await watcher.next()
                assert logged["type"] == "event_logged" and logged["sequence_number"] == seq
            status = await watcher.next()
            assert status == {
                "type": "attempt_status",
                "status": "in_progress",
                "current_task_index": 0,
                "total_tasks": 2,
            }
            await candidate.send_batch(messages[3:])
            await watcher.until(lambda m: m["type"] == "assessment_completed")
            assert (await candidate.closed())[0] == 1000
    assert watcher.seqs() == list(range(1, len(messages) + 1))
    first = watcher.messages[0]
    assert set(first) >= {"type", "event_id", "sequence_number", "event_type", "task_id", "timestamp", "payload"}
    assert first["event_type"] == "task_started" and first["payload"] == {"task_index": 0}
    assert first["task_id"] == str(issued.tasks[0].id)
    statuses = [m for m in watcher.messages if m["type"] == "attempt_status"]
    assert [s["current_task_index"] for s in statuses][-1] == 2 and statuses[-1]["status"] == "completed"
    done = watcher.messages[-1]
    assert done == {
        "type": "assessment_completed",
        "attempt_id": str(issued.attempt_id),
        "completed_at": done["completed_at"],
    }
    # After the backlog the events came in order and the completion came last of them.
    logged_positions = [i for i, m in enumerate(watcher.messages) if m["type"] == "event_logged"]
    assert logged_positions[-1] < len(watcher.messages) - 1


async def test_watching_a_completed_attempt(server, db):
    issued = issue(db, count=1)
    messages = all_tasks_messages(issued.tasks)
    async with Client.open(server.port, issued.token) as candidate:
        await candidate.start()
        await candidate.send_batch(messages)
        await candidate.closed()
    async with Watcher.open(server.port, issued) as watcher:
        await watcher.until(lambda m: m["type"] == "assessment_completed")
    assert watcher.seqs() == list(range(1, len(messages) + 1))


async def test_no_gap_no_repeat_while_subscribers_join_mid_stream(server, db):
    """Subscribers connect at random moments while events stream in: each one
    sees 1..N exactly once, in order."""
    issued = issue(db, count=1)
    task_id = issued.tasks[0].id
    total = 400
    rng = random.Random(5)
    watchers: list[Watcher] = []
    stack = contextlib.AsyncExitStack()
    async with stack, Client.open(server.port, issued.token) as candidate:
        await candidate.start()
        seq = 1
        while seq <= total:
            size = rng.randint(1, 12)
            events = focus_events(task_id, seq, min(size, total - seq + 1))
            await candidate.send({"type": "batch", "events": events})  # not waiting for the ack
            seq += len(events)
            if rng.random() < 0.15:
                watchers.append(await stack.enter_async_context(Watcher.open(server.port, issued)))
        while True:  # drain the acks
            answer = await candidate.recv()
            if answer.get("seqs") and answer["seqs"][-1] == total:
                break
        for watcher in watchers:
            await watcher.until(lambda m: m.get("sequence_number") == total)
            assert watcher.seqs() == list(range(1, total + 1))
    assert len(watchers) >= 5


async def test_a_slow_subscriber_is_closed_4408(ingest_settings, db):
    settings = with_limits(ingest_settings, live_queue_size=3)
    issued = issue(db, count=1)
    async with running_server(settings, db) as running, Client.open(running.port, issued.token) as candidate:
        await candidate.start()
        async with Watcher.open(running.port, issued) as slow, Watcher.open(running.port, issued) as fine:
            await slow.next()  # the attempt_status after the (empty) backlog
            await fine.next()
            # A burst larger than the queue arrives at once.
            await candidate.send_batch(focus_events(issued.tasks[0].id, 1, 50))
            with pytest.raises(ConnectionClosed):
                while True:
                    await slow.next()
            assert slow.ws.close_code == 4408
        # On reconnect the backlog comes again, complete.
        async with Watcher.open(running.port, issued) as again:
            await again.until(lambda m: m.get("sequence_number") == 50)
            assert again.seqs() == list(range(1, 51))


async def test_polling_mode_works_the_same(ingest_settings, db):
    issued = issue(db, count=2)
    messages = all_tasks_messages(issued.tasks)
    async with (
        running_server(ingest_settings, db, live_mode="poll", poll_interval=0.05) as running,
        Client.open(running.port, issued.token) as candidate,
    ):
        assert running.hub.mode == "poll"
        key = (await candidate.start())["session_key"]
        await candidate.send_batch(messages[:2])
        async with Watcher.open(running.port, issued) as watcher:
            await watcher.until(lambda m: m["type"] == "attempt_status")
            await candidate.send_batch(messages[2:])
            await watcher.until(lambda m: m["type"] == "assessment_completed")
        assert watcher.seqs() == list(range(1, len(messages) + 1))
        del key


async def test_polling_mode_still_takes_over(ingest_settings, db):
    issued = issue(db)
    async with (
        running_server(ingest_settings, db, live_mode="poll", poll_interval=0.05) as running,
        Client.open(running.port, issued.token) as old,
    ):
        key = (await old.start())["session_key"]
        attempts.resume(db, issued.attempt_id, key)  # another server took it over
        code, _ = await old.closed(timeout=5)
        assert code == 4409


async def test_lock_is_seen_live_and_profiled(server, db):
    issued = issue(db, count=2)
    messages = all_tasks_messages(issued.tasks)
    first = len([m for m in messages if m["task_id"] == str(issued.tasks[0].id)])
    async with Client.open(server.port, issued.token) as candidate:
        await candidate.start()
        await candidate.send_batch(messages[:first])
        async with Watcher.open(server.port, issued) as watcher:
            await watcher.until(lambda m: m["type"] == "attempt_status")
            attempts.lock_attempt(issued.scope, issued.attempt_id, "withdrawn")
            await watcher.until(lambda m: m["type"] == "attempt_status" and m["status"] == "locked")
    for _ in range(50):  # the metrics are written first, the profile right after them
        if db.skill_profiles.count_documents({"attempt_id": issued.attempt_id}):
            break
        await asyncio.sleep(0.1)
    metrics = db.computed_metrics.find_one({"attempt_id": issued.attempt_id})
    assert metrics is not None and metrics["global_metrics"]["tasks_completed"] == 1
    assert db.skill_profiles.count_documents({"attempt_id": issued.attempt_id}) == 1


# ---------------------------------------------------------------- several processes


async def test_live_across_two_ingest_server_processes(store_uri, db, db_name, tmp_path):
    issued = issue(db, count=3)
    messages = session_messages(issued.tasks)
    ports = free_port(), free_port()
    servers = [
        ServerProcess(server_env(store_uri, db_name, tmp_path), port, tmp_path / f"ingest-{port}.log") for port in ports
    ]
    try:
        await asyncio.gather(*(asyncio.to_thread(s.start) for s in servers))
        async with Watcher.open(ports[0], issued) as watcher, Client.open(ports[1], issued.token) as candidate:
            await candidate.start()
            answers = await candidate.send_all(messages, batch=25)
            assert all(a["type"] == "ack" for a in answers)
            await watcher.until(lambda m: m["type"] == "assessment_completed")
            assert watcher.seqs() == list(range(1, len(messages) + 1))
        # And the other way round, with a takeover between the processes.
        second = issue(db, count=1)
        async with Client.open(ports[0], second.token) as old:
            key = (await old.start())["session_key"]
            async with Client.open(ports[1], second.token) as new:
                await new.resume(key)
                assert (await old.closed(timeout=5))[0] == 4409
        for process in servers:
            assert process.terminate() == 0  # a clean SIGTERM shutdown
        log = servers[0].log_path.read_text()
        assert "listening on http://" in log
    finally:
        for process in servers:
            process.kill()


async def test_a_candidate_moving_between_servers_while_watched_on_one(store_uri, db, db_name, tmp_path):
    """A recruiter watches on server A. The candidate starts on B, resumes on
    A (a takeover between the processes), then on B again: the recruiter sees
    every event once, in order, and the completion."""
    issued = issue(db, count=2)
    messages = session_messages(issued.tasks)
    thirds = len(messages) // 3, 2 * len(messages) // 3
    ports = free_port(), free_port()
    servers = [
        ServerProcess(server_env(store_uri, db_name, tmp_path), port, tmp_path / f"ingest-{port}.log") for port in ports
    ]
    try:
        await asyncio.gather(*(asyncio.to_thread(s.start) for s in servers))
        async with Watcher.open(ports[0], issued) as watcher:
            async with Client.open(ports[1], issued.token) as first:
                key = (await first.start())["session_key"]
                assert all(a["type"] == "ack" for a in await first.send_all(messages[: thirds[0]], batch=7))
                await watcher.until(lambda m: m.get("sequence_number") == thirds[0])
                async with Client.open(ports[0], issued.token) as second:
                    await second.resume(key)
                    assert (await first.closed(timeout=5))[0] == 4409
                    answers = await second.send_all(messages[thirds[0] : thirds[1]], batch=7)
                    assert all(a["type"] == "ack" for a in answers)
                    async with Client.open(ports[1], issued.token) as third:
                        await third.resume(key)
                        assert (await second.closed(timeout=5))[0] == 4409
                        await third.send_all(messages[thirds[1] :], batch=7)
                        await watcher.until(lambda m: m["type"] == "assessment_completed")
            assert watcher.seqs() == list(range(1, len(messages) + 1))
    finally:
        for process in servers:
            process.kill()


async def test_watchers_get_each_event_as_a_read_of_the_store_shows_it(server, db):
    """Every ``event_logged`` is the stored event as ``event_logged`` renders
    a plain read of the store (ids, times, payload), in order."""
    issued = issue(db, count=2, reasoning_required=True)
    messages = all_tasks_messages(issued.tasks)
    async with Client.open(server.port, issued.token) as candidate, Watcher.open(server.port, issued) as watcher:
        await candidate.start()
        await watcher.until(lambda m: m["type"] == "attempt_status")
        for first in range(0, len(messages), 4):
            await candidate.send_batch(messages[first : first + 4])
        await watcher.until(lambda m: m["type"] == "assessment_completed")
    stored = events_mod.stored_events(db, issued.attempt_id)
    assert [m for m in watcher.messages if m["type"] == "event_logged"] == [event_logged(doc) for doc in stored]


# ---------------------------------------------------------------- the hub's stream


async def test_the_stream_asks_only_for_watched_attempts_and_resyncs_a_new_one(db):
    """Nobody watching: the stream asks for no events. A subscription reopens
    it from where it stood with that attempt named, and the subscriber is told
    to read the stored events again (what the old stream left out); events of
    attempts nobody watches never arrive; the last one leaving reopens it
    without."""
    hub = LiveHub(db)
    await hub.start()
    try:
        watched, other = ObjectId(), ObjectId()

        def event(attempt_id, seq):
            return {"_id": ObjectId(), "attempt_id": attempt_id, "sequence_number": seq, "event_type": "focus_lost"}

        assert hub.mode == "stream" and hub.streamed_attempts == frozenset()
        sub = hub.subscribe(watched)
        db[dbmod.EVENTS].insert_one(event(watched, 1))  # most likely before the reopening: only the resync brings it
        await until(lambda: watched in hub.streamed_attempts, timeout=10.0)
        db[dbmod.EVENTS].insert_many([event(other, 1), event(watched, 2)])
        seen: list = []
        while not any(c.kind == "event" and c.doc["sequence_number"] == 2 for c in seen):
            seen += await asyncio.wait_for(sub.next_batch(), 10)
        assert [c.kind for c in seen if c.kind == "resync"] == ["resync"]
        assert next(c for c in seen if c.kind == "resync").attempt_id == watched
        assert {c.attempt_id for c in seen if c.kind == "event"} == {watched}
        assert all(c.doc["sequence_number"] in (1, 2) for c in seen if c.kind == "event")
        hub.unsubscribe(sub)
        await until(lambda: hub.streamed_attempts == frozenset(), timeout=10.0)
    finally:
        await hub.stop()


async def test_nobody_watching_the_stream_follows_task_attempts_alone_and_loses_no_attempt_change(db, caplog):
    """Without subscribers the stream is on ``task_attempts`` (the store makes
    no change of each stored event for it); a subscriber moves it to the
    database and the last one leaving moves it back, each time from where it
    stood: the candidate sessions' attempt changes made across both switches
    all arrive, once each and in order."""
    hub = LiveHub(db)
    heard: list[tuple[ObjectId, int]] = []
    hub.add_attempt_listener(lambda attempt_id, fields: heard.append((attempt_id, fields.get("session_epoch"))))
    await hub.start()
    try:
        attempt_id = ObjectId()
        db[dbmod.ATTEMPTS].insert_one({"_id": attempt_id, "status": "in_progress", "session_epoch": 0})

        def take_over(epoch: int) -> None:
            db[dbmod.ATTEMPTS].update_one({"_id": attempt_id}, {"$set": {"session_epoch": epoch}})

        assert hub.streamed_scope == dbmod.ATTEMPTS
        take_over(1)
        await until(lambda: len(heard) == 1)
        sub = hub.subscribe(attempt_id)
        take_over(2)  # most likely while the stream moves to the database
        await until(lambda: hub.streamed_scope == db.name, timeout=10.0)
        # Many events in one go, so that the subscriber leaves while the stream is still
        # reading them: its position is then an event's, which task_attempts refuses.
        db[dbmod.EVENTS].insert_many(
            [
                {"_id": ObjectId(), "attempt_id": attempt_id, "sequence_number": n, "event_type": "focus_lost"}
                for n in range(1, 301)
            ]
        )
        seen: list = []
        while not any(c.kind == "event" for c in seen):
            # An overflowed queue (more than queue_size changes unread) answers at once
            # with nothing: fail on it here rather than spin for ever.
            assert not sub.overflowed
            seen += await asyncio.wait_for(sub.next_batch(), 10)
        hub.unsubscribe(sub)
        take_over(3)  # most likely while it moves back
        await until(lambda: hub.streamed_scope == dbmod.ATTEMPTS, timeout=10.0)
        take_over(4)
        await until(lambda: len(heard) >= 4, timeout=10.0)
        await asyncio.sleep(0.5)  # nothing arrives twice
        assert heard == [(attempt_id, epoch) for epoch in (1, 2, 3, 4)]
        assert "live change stream failed" not in caplog.text  # moved from its position, never reopened fresh
    finally:
        await hub.stop()
