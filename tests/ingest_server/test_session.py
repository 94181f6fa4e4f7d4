"""The candidate session: start, resume, takeover, re-issued links, tasks, completion."""

# ruff: noqa: F401, F811 - fixtures imported from tests.support.ingest_helpers are used as arguments

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from bson import ObjectId

from hiremate import attempts
from hiremate import db as dbmod
from hiremate.attempts import hash_secret
from hiremate.models import AttemptStatus, BehaviorEvent, EventType
from hiremate.timeutil import utcnow
from ingest_server.connstate import ConnState
from ingest_server.session import EventIds
from tests.support.builders import start_attempt
from tests.support.ingest_helpers import (
    Client,
    all_tasks_messages,
    event,
    focus_events,
    ingest_settings,
    issue,
    minimal_task_messages,
    running_server,
    server,
    session_messages,
    stored_seqs,
    tiny_events,
    until,
)


def attempt_doc(db, issued):
    return db[dbmod.ATTEMPTS].find_one({"_id": issued.attempt_id})


# ---------------------------------------------------------------- start


async def test_start(server, db):
    issued = issue(db, count=3)
    async with Client.open(server.port, issued.token) as client:
        started = await client.start()
    assert set(started) == {"type", "session_key", "attempt_status"}
    assert len(started["session_key"]) >= 43  # 32+ random bytes
    assert started["attempt_status"] == {
        "type": "attempt_status",
        "status": "in_progress",
        "current_task_index": 0,
        "total_tasks": 3,
    }
    doc = attempt_doc(db, issued)
    assert doc["status"] == "in_progress" and doc["token_used"] and doc["session_epoch"] == 1
    assert doc["session_key_hash"] == hash_secret(started["session_key"])
    assert started["session_key"] not in str(doc)
    assert doc["started_at"] is not None


async def test_two_clients_racing_start_exactly_one_wins(server, db):
    issued = issue(db)

    async def try_start():
        async with Client.open(server.port, issued.token) as client:
            answer = await client.ask(client.start_message())
            if answer["type"] == "started":
                return "started", None
            code, _ = await client.closed()
            return answer.get("code"), code

    results = await asyncio.gather(*(try_start() for _ in range(4)))
    assert sorted(results, key=str) == sorted([("started", None)] + [("token_already_used", 4403)] * 3, key=str), (
        results
    )


async def test_start_on_in_progress_is_token_already_used(server, db):
    issued = issue(db)
    async with Client.open(server.port, issued.token) as first:
        await first.start()
        async with Client.open(server.port, issued.token) as second:
            assert second.info["status"] == "in_progress"
            answer = await second.ask(second.start_message())
            assert answer == {"type": "error", "code": "token_already_used", "message": answer["message"]}
            code, _ = await second.closed()
            assert code == 4403


async def test_events_before_start_are_not_started(server, db):
    issued = issue(db)
    async with Client.open(server.port, issued.token) as client:
        for message in (
            {"type": "event", **minimal_task_messages(issued.tasks[0], 0, 1)[0]},
            {"type": "batch", "events": minimal_task_messages(issued.tasks[0], 0, 1)},
            {"type": "get_task", "index": 0},
            {"type": "complete"},
        ):
            answer = await client.ask(message)
            assert answer["type"] == "error" and answer["code"] == "not_started", answer
    assert stored_seqs(db, issued.attempt_id) == []


# ---------------------------------------------------------------- resume and takeover


async def test_resume_continues_after_the_last_stored_seq(server, db):
    issued = issue(db, count=2, reasoning_required=True)
    messages = all_tasks_messages(issued.tasks)
    async with Client.open(server.port, issued.token) as client:
        key = (await client.start())["session_key"]
        await client.send_batch(messages[:3])
    async with Client.open(server.port, issued.token) as client:
        assert client.info["status"] == "in_progress"
        resumed = await client.resume(key)
        assert resumed["last_sequence_number"] == 3
        assert resumed["current_task_index"] == 0
        assert resumed["attempt_status"]["status"] == "in_progress"
        # Re-sending what may have been lost: duplicates are acknowledged again.
        ack = await client.send_batch(messages[1:5])
        assert ack["seqs"] == [2, 3, 4, 5] and ack["duplicates"] == [2, 3]
    assert attempt_doc(db, issued)["session_epoch"] == 2
    assert stored_seqs(db, issued.attempt_id) == [1, 2, 3, 4, 5]


async def test_resume_with_wrong_or_missing_key(server, db):
    issued = issue(db)
    async with Client.open(server.port, issued.token) as client:
        await client.start()
    for message in (
        {"type": "resume", "session_key": "wrong"},
        {"type": "resume"},
        {"type": "resume", "session_key": 5},
    ):
        async with Client.open(server.port, issued.token) as client:
            answer = await client.ask(message)
            assert answer["type"] == "error" and answer["code"] == "token_already_used"
            assert (await client.closed())[0] == 4403


async def test_resume_on_pending_is_token_already_used(server, db):
    issued = issue(db)
    async with Client.open(server.port, issued.token) as client:
        answer = await client.ask({"type": "resume", "session_key": "anything"})
        assert answer["code"] == "token_already_used"
        assert (await client.closed())[0] == 4403


async def test_takeover_closes_the_old_connection_with_4409(server, db):
    issued = issue(db)
    task = issued.tasks[0]
    async with Client.open(server.port, issued.token) as old:
        key = (await old.start())["session_key"]
        assert (await old.send_event(focus_events(task.id, 1, 1)[0]))["type"] == "ack"
        async with Client.open(server.port, issued.token) as new:
            await new.resume(key)
            # The old one is closed, at the latest when it sends its next message.
            await old.send_if_open({"type": "event", **focus_events(task.id, 2, 1)[0]})
            code, seen = await old.closed()
            assert code == 4409
            assert all(m.get("type") != "ack" for m in seen)
            assert (await new.send_event(focus_events(task.id, 2, 1)[0]))["type"] == "ack"
    assert stored_seqs(db, issued.attempt_id) == [1, 2]


async def test_a_taken_over_connection_is_closed_before_any_answer(server, db):
    """Whatever the stale connection sends next (even junk) gets 4409, not an answer."""
    issued = issue(db)
    async with Client.open(server.port, issued.token) as old:
        key = (await old.start())["session_key"]
        # Take over behind the server's back (as another ingest server would).
        attempts.resume(db, issued.attempt_id, key)
        await old.send("not json")
        code, seen = await old.closed()
        assert code == 4409 and seen == []


async def test_takeover_across_two_server_instances(ingest_settings, db):
    issued = issue(db)
    task = issued.tasks[0]
    async with (
        running_server(ingest_settings, db) as one,
        running_server(ingest_settings, db) as two,
        Client.open(one.port, issued.token) as old,
    ):
        key = (await old.start())["session_key"]
        assert (await old.send_event(focus_events(task.id, 1, 1)[0]))["type"] == "ack"
        async with Client.open(two.port, issued.token) as new:
            resumed = await new.resume(key)
            assert resumed["last_sequence_number"] == 1
            # The change stream closes the old one without waiting for it to speak...
            code, _ = await old.closed(timeout=5)
            assert code == 4409
            assert (await new.send_event(focus_events(task.id, 2, 1)[0]))["seq"] == 2
    assert stored_seqs(db, issued.attempt_id) == [1, 2]


async def test_stale_connection_on_another_server_stores_nothing(ingest_settings, db):
    """Even before the change stream tells it, a stale connection cannot store."""
    issued = issue(db)
    task = issued.tasks[0]
    async with running_server(ingest_settings, db) as one, Client.open(one.port, issued.token) as old:
        key = (await old.start())["session_key"]
        server_side = next(iter(one.sessions[issued.attempt_id]))
        server_side.machine.switch_epoch()  # as if its own resume were in flight: deaf to the change stream
        assert server_side.state is ConnState.SWITCHING_EPOCH
        attempts.resume(db, issued.attempt_id, key)
        await old.send({"type": "event", **focus_events(task.id, 1, 1)[0]})
        code, seen = await old.closed()
        assert code == 4409 and seen == []  # only the write path could tell
        assert server_side.state in {ConnState.CLOSING, ConnState.CLOSED}
    assert stored_seqs(db, issued.attempt_id) == []


# ---------------------------------------------------------------- re-issued link


async def test_reissued_link_continues_with_resumed_from(server, db):
    issued = issue(db, count=2)
    messages = all_tasks_messages(issued.tasks)
    first_task = len(minimal_task_messages(issued.tasks[0], 0, 1))
    async with Client.open(server.port, issued.token) as old:
        old_key = (await old.start())["session_key"]
        await old.send_batch(messages[: first_task + 1])
        fresh = attempts.reissue_link(issued.scope, issued.attempt_id, public_url="http://x")
        async with Client.open(server.port, fresh.token) as new:
            assert new.info["status"] == "in_progress"
            assert new.info["current_task_index"] == 1
            started = await new.start()
            assert started["resumed_from"] == first_task + 1
            assert started["session_key"] != old_key
            assert started["attempt_status"]["current_task_index"] == 1
            assert (await old.closed())[0] == 4409
            answers = await new.send_all(messages[first_task + 1 :])
            assert answers[-1]["type"] == "ack"
            code, seen = await new.closed()
            assert code == 1000 and seen[0]["type"] == "assessment_completed"
    # The old token is gone; the new one has been used.
    assert attempts.find_by_token(db, issued.token) is None
    assert stored_seqs(db, issued.attempt_id) == list(range(1, len(messages) + 1))


async def test_reissued_link_may_start_only_once(server, db):
    issued = issue(db)
    async with Client.open(server.port, issued.token) as old:
        await old.start()
    fresh = attempts.reissue_link(issued.scope, issued.attempt_id, public_url="http://x")
    async with Client.open(server.port, fresh.token) as new:
        await new.start()
    async with Client.open(server.port, fresh.token) as again:
        assert (await again.ask(again.start_message()))["code"] == "token_already_used"
        assert (await again.closed())[0] == 4403


# ---------------------------------------------------------------- tasks


async def test_get_task_hides_risk_and_tags(server, db):
    issued = issue(db, count=2)
    async with Client.open(server.port, issued.token) as client:
        await client.start()
        answer = await client.ask({"type": "get_task", "index": 0})
    task = issued.tasks[0]
    assert answer["type"] == "task" and answer["index"] == 0
    assert answer["task"] == {
        "id": str(task.id),
        "title": task.title,
        "description": task.description,
        "scenario": task.scenario,
        "category": str(task.category),
        "difficulty": str(task.difficulty),
        "time_limit_seconds": task.time_limit_seconds,
        "reasoning_required": task.reasoning_required,
        "reasoning_min_length": task.reasoning_min_length,
        "options": [{"id": o.id, "text": o.text} for o in task.options],
    }
    assert "risk_level" not in str(answer) and "behavioral_tags" not in str(answer)


async def test_get_task_only_up_to_the_current_index(server, db):
    issued = issue(db, count=3)
    async with Client.open(server.port, issued.token) as client:
        await client.start()
        for index in (1, 2, 3, -1, "0", None, True):
            answer = await client.ask({"type": "get_task", "index": index})
            assert answer["type"] == "error" and answer["code"] == "task_not_available", (index, answer)
        await client.send_batch(minimal_task_messages(issued.tasks[0], 0, 1))
        assert (await client.ask({"type": "get_task", "index": 1}))["task"]["id"] == str(issued.tasks[1].id)
        assert (await client.ask({"type": "get_task", "index": 0}))["type"] == "task"  # earlier ones stay readable
        assert (await client.ask({"type": "get_task", "index": 2}))["code"] == "task_not_available"
    assert attempt_doc(db, issued)["current_task_index"] == 1  # the cache followed


# ---------------------------------------------------------------- completion


async def test_completion_on_the_last_task_completed(server, db):
    issued = issue(db, count=3)
    messages = session_messages(issued.tasks)
    async with Client.open(server.port, issued.token) as client:
        await client.start()
        answers = await client.send_all(messages[:-1], batch=40)
        assert all(a["type"] == "ack" for a in answers)
        last = await client.send_event(messages[-1])
        assert last == {"type": "ack", "seq": len(messages), "event_id": last["event_id"]}
        code, seen = await client.closed()
    assert code == 1000
    assert seen == [
        {"type": "assessment_completed", "attempt_id": str(issued.attempt_id), "completed_at": seen[0]["completed_at"]}
    ]
    doc = attempt_doc(db, issued)
    assert doc["status"] == AttemptStatus.COMPLETED and doc["completed_at"] is not None
    assert doc["current_task_index"] == 3
    assert stored_seqs(db, issued.attempt_id) == list(range(1, len(messages) + 1))
    metrics = list(db[dbmod.METRICS].find({"attempt_id": issued.attempt_id}))
    profiles = list(db[dbmod.PROFILES].find({"attempt_id": issued.attempt_id}))
    assert len(metrics) == 1 and len(profiles) == 1
    assert metrics[0]["global_metrics"]["tasks_completed"] == 3
    # No event is accepted afterwards: the link is refused at the handshake.
    from tests.ingest_server.test_handshake import refused_with

    assert await refused_with(server.port, issued.token) == 410


async def test_completion_inside_a_batch(server, db):
    issued = issue(db, count=2)
    messages = all_tasks_messages(issued.tasks)
    async with Client.open(server.port, issued.token) as client:
        await client.start()
        ack = await client.send_batch(messages)
        assert ack["seqs"] == list(range(1, len(messages) + 1))
        code, seen = await client.closed()
    assert code == 1000 and seen[0]["type"] == "assessment_completed"


async def test_complete_before_the_end_is_incomplete(server, db):
    issued = issue(db, count=2)
    async with Client.open(server.port, issued.token) as client:
        await client.start()
        await client.send_batch(minimal_task_messages(issued.tasks[0], 0, 1))
        answer = await client.ask({"type": "complete"})
        assert answer["type"] == "error" and answer["code"] == "incomplete"
    assert attempt_doc(db, issued)["status"] == "in_progress"


async def test_complete_after_the_last_task(server, db):
    """A server that stored the last task_completed but died before completing:
    the client resumes and sends complete."""
    issued = issue(db, count=2)
    _, key = start_attempt(db, issued.attempt)
    now = utcnow()
    stored = []
    for message in all_tasks_messages(issued.tasks):
        stored.append(
            BehaviorEvent(
                attempt_id=issued.attempt_id,
                task_id=message["task_id"],
                event_type=message["event_type"],
                timestamp=now,
                event_time=now,
                sequence_number=message["seq"],
                payload=message["payload"],
            ).to_doc()
        )
    db[dbmod.EVENTS].insert_many(stored)
    async with Client.open(server.port, issued.token) as client:
        resumed = await client.resume(key)
        assert resumed["last_sequence_number"] == len(stored)
        assert resumed["current_task_index"] == 2
        answer = await client.ask({"type": "complete"})
        assert answer["type"] == "assessment_completed"
        assert (await client.closed())[0] == 1000
    assert attempt_doc(db, issued)["status"] == "completed"
    assert db[dbmod.PROFILES].count_documents({"attempt_id": issued.attempt_id}) == 1


async def test_a_focus_event_just_before_the_final_task_completed(server, db):
    issued = issue(db, count=1)
    messages = all_tasks_messages(issued.tasks)
    extra = event(len(messages), issued.tasks[0].id, EventType.FOCUS_LOST, {"trigger": "tab_switch"})
    messages[-1], last = extra, messages[-1]  # focus lost just before the final task_completed
    last["seq"] = len(messages) + 1
    async with Client.open(server.port, issued.token) as client:
        await client.start()
        await client.send_batch(messages)
        await client.send({"type": "event", **last})
        code, seen = await client.closed()
    assert [m["type"] for m in seen] == ["ack", "assessment_completed"] and code == 1000


# ---------------------------------------------------------------- the expiry sweep


async def test_sweep_expires_and_profiles_started_attempts(server, db):
    started, pending = issue(db, count=2), issue(db, count=2)
    _, key = start_attempt(db, started.attempt)
    async with Client.open(server.port, started.token) as client:
        await client.resume(key)
        await client.send_batch(minimal_task_messages(started.tasks[0], 0, 1))
    past = utcnow()
    db[dbmod.ATTEMPTS].update_many(
        {"_id": {"$in": [started.attempt_id, pending.attempt_id]}}, {"$set": {"expires_at": past}}
    )
    expired = await server.sweep_once()
    assert set(expired) == {started.attempt_id, pending.attempt_id}
    assert attempt_doc(db, started)["status"] == attempt_doc(db, pending)["status"] == "expired"
    metrics = db[dbmod.METRICS].find_one({"attempt_id": started.attempt_id})
    assert metrics["global_metrics"]["tasks_completed"] == 1  # a partial profile
    assert db[dbmod.PROFILES].count_documents({"attempt_id": started.attempt_id}) == 1
    assert db[dbmod.METRICS].count_documents({"attempt_id": pending.attempt_id}) == 0  # never started


async def test_sweep_profiles_an_ended_attempt_that_lost_its_profile(server, db):
    """A server that died between completing an attempt and profiling it."""
    issued = issue(db, count=1)
    start_attempt(db, issued.attempt)
    attempts.complete(db, issued.attempt_id, completed_at=utcnow())
    db[dbmod.ATTEMPTS].update_one({"_id": issued.attempt_id}, {"$set": {"updated_at": utcnow() - timedelta(minutes=5)}})
    await server.sweep_once()
    assert db[dbmod.METRICS].count_documents({"attempt_id": issued.attempt_id}) == 1


def test_event_ids_are_unique_object_ids_of_now():
    """The session's own ObjectId maker (no lock, no process check per id):
    ids as bson makes them, unique, stamped with the current second."""
    ids = EventIds()
    before = datetime.now(UTC).replace(microsecond=0)
    made = [ids.next() for _ in range(20_000)]
    after = datetime.now(UTC)
    assert len(set(made)) == len(made)
    assert all(isinstance(i, ObjectId) and ObjectId.is_valid(str(i)) for i in made)
    assert all(before - timedelta(seconds=1) <= i.generation_time <= after for i in made)
    assert len({i.binary[4:9] for i in made}) == 1  # one process part, as bson's
    assert len({i.binary[4:9] for i in (made[0], EventIds().next())}) == 2


# ---------------------------------------------------------------- answers first


async def test_acks_already_written_go_out_before_the_next_message_is_handled(server, db, monkeypatch):
    """An ack whose write is done does not wait behind other connections'
    messages: each message's handling starts by sending the acks already
    written. With the writer's own wake-up of the loop withheld, candidate A's
    ack still arrives, unchanged, as soon as candidate B sends anything."""
    committer = server.committer

    def write_without_waking(loop, group):
        committer._answers.append((group, committer.write_group(group)))

    monkeypatch.setattr(committer, "_write_and_answer", write_without_waking)
    first, second = issue(db), issue(db)
    async with Client.open(server.port, first.token) as a, Client.open(server.port, second.token) as b:
        await a.start()
        await b.start()
        await a.send({"type": "event", **tiny_events(first.tasks[0].id, 1, 1)[0]})
        await until(lambda: stored_seqs(db, first.attempt_id) == [1])
        with pytest.raises(TimeoutError):
            await a.recv(0.3)  # stored, its answer queued: nothing woke the loop to send it
        await b.send({"type": "event", **tiny_events(second.tasks[0].id, 1, 1)[0]})
        stored_id = db[dbmod.EVENTS].find_one({"attempt_id": first.attempt_id})["_id"]
        assert await a.recv(5) == {"type": "ack", "seq": 1, "event_id": str(stored_id)}
        monkeypatch.undo()
        await until(lambda: stored_seqs(db, second.attempt_id) == [1])  # B's own write, then its answer
        committer.answer_waiting()
        assert (await b.recv(5))["seq"] == 1
