"""Events over the candidate socket: acks, duplicates, gaps, every error code, limits, failures."""

# ruff: noqa: F401, F811 - fixtures imported from tests.support.ingest_helpers are used as arguments

from __future__ import annotations

import asyncio
import base64
import json
import os
from datetime import timedelta

import pytest
from bson import ObjectId

from hiremate import attempts
from hiremate import db as dbmod
from hiremate.models import EventType
from hiremate.settings import Settings
from hiremate.timeutil import iso, utcnow
from tests.support.ingest_helpers import (
    OPEN_LIMITS,
    Client,
    event,
    focus_events,
    ingest_settings,
    issue,
    minimal_task_messages,
    own_store,
    running_server,
    server,
    stored_seqs,
    tiny_events,
    with_limits,
)


@pytest.fixture
async def started(server, db):
    """A started attempt (reasoning required on every task) and its client."""
    issued = issue(db, count=2, reasoning_required=True)
    async with Client.open(server.port, issued.token) as client:
        client.key = (await client.start())["session_key"]
        yield issued, client


def error_of(answer: dict, code: str, seq: int | None = None) -> dict:
    assert answer["type"] == "error", answer
    assert answer["code"] == code, answer
    assert isinstance(answer["message"], str)
    if seq is not None:
        assert answer["seq"] == seq
    return answer


# ---------------------------------------------------------------- acks, duplicates, gaps


async def test_event_ack_is_stored(started, db):
    issued, client = started
    message = minimal_task_messages(issued.tasks[0], 0, 1)[0]
    ack = await client.send_event(message, sent_at=iso(utcnow()))
    assert ack == {"type": "ack", "seq": 1, "event_id": ack["event_id"]}
    stored = db[dbmod.EVENTS].find_one({"_id": ObjectId(ack["event_id"])})
    assert stored["sequence_number"] == 1 and stored["attempt_id"] == issued.attempt_id
    assert stored["task_id"] == issued.tasks[0].id and stored["event_type"] == "task_started"
    assert stored["payload"] == {"task_index": 0}
    assert stored["client_timestamp"] is not None and stored["event_time"] <= stored["timestamp"]
    assert stored["metadata"]["ip_hash"] and "127.0.0.1" not in str(stored["metadata"])


async def test_duplicate_is_acked_again_not_stored_twice(started, db):
    issued, client = started
    message = minimal_task_messages(issued.tasks[0], 0, 1)[0]
    first = await client.send_event(message)
    again = await client.send_event(message)
    assert again == {"type": "ack", "seq": 1, "event_id": first["event_id"], "duplicate": True}
    assert stored_seqs(db, issued.attempt_id) == [1]


async def test_pipelined_answers_byte_for_byte_in_order(server, db):
    """A recorded sequence sent all at once (acks of one group are written
    together): every answer comes in the order the messages came, and every
    ack is exactly the bytes it always was (compact JSON, keys in this
    order), its ids the stored ones. The server records its own part of each
    ack's latency once per ack."""
    issued = issue(db, count=1)
    task_id = issued.tasks[0].id
    events = focus_events(task_id, 1, 9)
    recorded_before = server.session_context.latency.count
    async with Client.open(server.port, issued.token) as client:
        await client.start()
        sent = [{"type": "event", **e} for e in events[:6]]  # 1..6
        sent.append({"type": "event", **events[2]})  # 3 again: a duplicate
        sent.append({"type": "event", **events[8]})  # 9: a gap
        sent.append({"type": "batch", "events": events[5:8]})  # 6 (duplicate), 7, 8
        sent.append({"type": "event", **{**events[8], "payload": {"trigger": 5}}})  # 9, refused
        sent.append({"type": "event", **events[8]})  # 9
        sent.append({"type": "event", "seq": "x"})  # no seq to quote
        for message in sent:
            await client.send(message)
        frames = [await client.ws.recv() for _ in sent]
    ids = {d["sequence_number"]: str(d["_id"]) for d in db[dbmod.EVENTS].find({"attempt_id": issued.attempt_id})}
    assert sorted(ids) == list(range(1, 10))
    # Literal JSON (its braces make %-formatting the readable choice here).
    expected_acks = {
        **{n: '{"type":"ack","seq":%d,"event_id":"%s"}' % (n + 1, ids[n + 1]) for n in range(6)},  # noqa: UP031
        6: '{"type":"ack","seq":3,"event_id":"%s","duplicate":true}' % ids[3],  # noqa: UP031
        8: '{"type":"ack","seqs":[6,7,8],"event_ids":["%s","%s","%s"],"duplicates":[6]}'  # noqa: UP031
        % (ids[6], ids[7], ids[8]),
        10: '{"type":"ack","seq":9,"event_id":"%s"}' % ids[9],  # noqa: UP031
    }
    for position, text in expected_acks.items():
        assert frames[position] == text, (position, frames[position])
    errors = {7: ("sequence_gap", 9), 9: ("invalid_payload", 9), 11: ("invalid_payload", None)}
    for position, (code, seq) in errors.items():
        answer = json.loads(frames[position])
        assert frames[position] == json.dumps(answer, separators=(",", ":"))
        error_of(answer, code, seq)
        assert ("seq" in answer) is (seq is not None)
    assert json.loads(frames[7])["expected"] == 7
    recorded = server.session_context.latency.samples()[recorded_before:]
    assert server.session_context.latency.count - recorded_before == len(expected_acks)
    assert all(in_ns >= 0 and out_ns >= 0 for in_ns, out_ns in recorded)


async def test_sequence_gap(started, db):
    issued, client = started
    messages = minimal_task_messages(issued.tasks[0], 0, 1)
    await client.send_event(messages[0])
    gap = await client.send_event({**messages[2], "seq": 9})
    assert gap == {"type": "error", "seq": 9, "code": "sequence_gap", "expected": 2, "message": gap["message"]}
    assert stored_seqs(db, issued.attempt_id) == [1]


async def test_a_rejected_seq_is_not_used_up(started, db):
    issued, client = started
    messages = minimal_task_messages(issued.tasks[0], 0, 1)
    await client.send_event(messages[0])
    wrong = {**messages[1], "payload": {"option_id": "nope", "is_first_selection": True}}
    error_of(await client.send_event(wrong), "unknown_option", seq=2)
    ack = await client.send_event(messages[1])  # the same seq again, now valid
    assert ack["seq"] == 2
    assert stored_seqs(db, issued.attempt_id) == [1, 2]


# ---------------------------------------------------------------- batches


async def test_batch_partial_acceptance(started, db):
    issued, client = started
    messages = minimal_task_messages(issued.tasks[0], 0, 1)
    bad = {**messages[2], "event_type": "reasoning_updated", "payload": {"character_count": 1, "word_count": 1}}
    await client.send(
        {"type": "batch", "sent_at": iso(utcnow()), "events": [messages[0], messages[1], bad, messages[3]]}
    )
    ack = await client.recv()
    assert ack["type"] == "ack" and ack["seqs"] == [1, 2] and len(ack["event_ids"]) == 2
    error_of(await client.recv(), "invalid_transition", seq=3)
    assert stored_seqs(db, issued.attempt_id) == [1, 2]
    # The rejected seq is free again.
    assert (await client.send_batch(messages[2:4]))["seqs"] == [3, 4]


async def test_batch_rejected_at_its_first_event(started, db):
    issued, client = started
    messages = minimal_task_messages(issued.tasks[0], 0, 1)
    error_of(
        await client.send_batch([{**messages[0], "event_type": "bogus"}, messages[1]]), "invalid_event_type", seq=1
    )
    assert stored_seqs(db, issued.attempt_id) == []


async def test_batch_with_duplicates_and_new_events(started, db):
    issued, client = started
    messages = minimal_task_messages(issued.tasks[0], 0, 1)
    first = await client.send_batch(messages[:2])
    ack = await client.send_batch(messages[:4])
    assert ack["seqs"] == [1, 2, 3, 4] and ack["duplicates"] == [1, 2]
    assert ack["event_ids"][:2] == first["event_ids"]
    assert stored_seqs(db, issued.attempt_id) == [1, 2, 3, 4]


async def test_batch_ids_match_the_stored_events(started, db):
    issued, client = started
    messages = minimal_task_messages(issued.tasks[0], 0, 1)
    ack = await client.send_batch(messages)
    for seq, event_id in zip(ack["seqs"], ack["event_ids"], strict=True):
        assert db[dbmod.EVENTS].find_one({"_id": ObjectId(event_id)})["sequence_number"] == seq


async def test_batch_too_large_by_count(started, db):
    issued, client = started
    events = tiny_events(issued.tasks[0].id, 1, 501)
    error_of(await client.send_batch(events), "batch_too_large")
    assert stored_seqs(db, issued.attempt_id) == []
    ack = await client.send_batch(events[:500])  # exactly 500 is fine
    assert ack["seqs"] == list(range(1, 501))


async def test_batch_too_large_by_bytes(started, db):
    issued, client = started
    events = focus_events(issued.tasks[0].id, 1, 40)
    for e in events:
        e["payload"]["trigger"] = "x" * 100
        e["payload"]["padding"] = "y" * 1200  # dropped when stored, but it is in the frame
    frame = json.dumps({"type": "batch", "events": events})
    assert 48 * 1024 < len(frame) < 64 * 1024
    error_of(await client.ask(json.loads(frame)), "batch_too_large")
    assert stored_seqs(db, issued.attempt_id) == []


async def test_frame_over_64_kib_closes_1009(started, db):
    issued, client = started
    message = {"type": "event", **focus_events(issued.tasks[0].id, 1, 1)[0]}
    message["payload"]["padding"] = "z" * (65 * 1024)
    await client.send_if_open(message)
    code, seen = await client.closed()
    assert code == 1009 and seen == []
    assert stored_seqs(db, issued.attempt_id) == []


async def test_batch_events_must_be_a_list(started):
    _, client = started
    error_of(await client.ask({"type": "batch", "events": {"seq": 1}}), "invalid_payload")


async def test_empty_batch_is_acked_empty(started):
    _, client = started
    assert await client.ask({"type": "batch", "events": []}) == {"type": "ack", "seqs": [], "event_ids": []}


# ---------------------------------------------------------------- every error code


async def test_invalid_json(started):
    _, client = started
    for frame in ("{not json", "", "[1,"):
        error_of(await client.ask(frame), "invalid_json")
    await client.ws.send(b"\x00\x01")
    error_of(await client.recv(), "invalid_json")


async def test_unknown_message(started):
    _, client = started
    for message in ({"type": "hello"}, {"no": "type"}, [1, 2], 5, "text", {"type": None}):
        error_of(await client.ask(json.dumps(message)), "unknown_message")


async def test_invalid_event_type(started):
    issued, client = started
    message = {**minimal_task_messages(issued.tasks[0], 0, 1)[0], "event_type": "mouse_moved"}
    error_of(await client.send_event(message), "invalid_event_type", seq=1)


@pytest.mark.parametrize(
    "payload",
    [{"task_index": "0"}, {"task_index": True}, {}, "x", {"task_index": 0.5}],
)
async def test_invalid_payload(started, payload):
    issued, client = started
    message = {**minimal_task_messages(issued.tasks[0], 0, 1)[0], "payload": payload}
    error_of(await client.send_event(message), "invalid_payload", seq=1)


async def test_idle_duration_must_be_positive(started, db):
    issued, client = started
    for duration in (0, -10):
        message = event(1, issued.tasks[0].id, EventType.IDLE_DETECTED, {"idle_duration_ms": duration})
        error_of(await client.send_event(message), "invalid_payload", seq=1)
    ok = event(1, issued.tasks[0].id, EventType.IDLE_DETECTED, {"idle_duration_ms": 1, "last_activity_type": "x"})
    assert (await client.send_event(ok))["type"] == "ack"


async def test_unknown_task(started):
    issued, client = started
    other = issue(issued.scope.db, count=1)
    for task_id in (str(ObjectId()), "nope", str(other.tasks[0].id)):
        message = {**minimal_task_messages(issued.tasks[0], 0, 1)[0], "task_id": task_id}
        error_of(await client.send_event(message), "unknown_task", seq=1)


async def test_unknown_option(started):
    issued, client = started
    messages = minimal_task_messages(issued.tasks[0], 0, 1)
    await client.send_event(messages[0])
    message = event(2, issued.tasks[0].id, EventType.OPTION_VIEWED, {"option_id": "opt_99"})
    error_of(await client.send_event(message), "unknown_option", seq=2)


async def test_invalid_transition(started):
    issued, client = started
    messages = minimal_task_messages(issued.tasks[0], 0, 1)
    # task_completed before the task started; a second task started first
    error_of(await client.send_event({**messages[-1], "seq": 1}), "invalid_transition", seq=1)
    second = minimal_task_messages(issued.tasks[1], 1, 1)[0]
    error_of(await client.send_event(second), "invalid_transition", seq=1)


async def test_word_count_mismatch_carries_expected(started):
    issued, client = started
    messages = minimal_task_messages(issued.tasks[0], 0, 1)
    await client.send_batch(messages[:3])
    submitted = messages[3]
    text = "three  words\u2003here and\tmore"
    wrong = {**submitted, "payload": {"final_text": text, "word_count": 3, "character_count": len(text)}}
    answer = error_of(await client.send_event(wrong), "word_count_mismatch", seq=4)
    assert answer["expected"] == 5
    fixed = {**wrong, "payload": {**wrong["payload"], "word_count": answer["expected"]}}
    assert (await client.send_event(fixed))["type"] == "ack"


async def test_duration_out_of_range(started):
    issued, client = started
    messages = minimal_task_messages(issued.tasks[0], 0, 1)
    await client.send_batch(messages[:-1])
    last = messages[-1]
    for duration in (-1, 1_800_000):
        wrong = {**last, "payload": {**last["payload"], "task_duration_ms": duration}}
        error_of(await client.send_event(wrong), "duration_out_of_range", seq=last["seq"])
    fine = {**last, "payload": {**last["payload"], "task_duration_ms": 1_799_999}}
    assert (await client.send_event(fine))["type"] == "ack"


async def test_duration_over_30_minutes_when_the_task_spans_longer(server, db):
    """A candidate who left a task open for 40 minutes is never stuck."""
    issued = issue(db, count=1, reasoning_required=False)
    async with Client.open(server.port, issued.token) as client:
        key = (await client.start())["session_key"]
    # The attempt started 45 minutes ago; the page buffered its first event back then.
    db[dbmod.ATTEMPTS].update_one(
        {"_id": issued.attempt_id}, {"$set": {"started_at": utcnow() - timedelta(minutes=45)}}
    )
    messages = minimal_task_messages(issued.tasks[0], 0, 1)
    now = utcnow()
    messages[0]["client_timestamp"] = iso(now - timedelta(minutes=40))
    async with Client.open(server.port, issued.token) as client:
        await client.resume(key)
        assert (await client.send_event(messages[0], sent_at=iso(now)))["type"] == "ack"
        assert (await client.send_event(messages[1]))["type"] == "ack"
        long = {**messages[2], "payload": {**messages[2]["payload"], "task_duration_ms": 2_400_000}}
        assert (await client.send_event(long))["type"] == "ack"
    stored = list(db[dbmod.EVENTS].find({"attempt_id": issued.attempt_id}).sort("sequence_number", 1))
    assert stored[1]["event_time"] - stored[0]["event_time"] > timedelta(minutes=39)


async def test_attempt_closed_when_locked_during_the_session(started, db):
    issued, client = started
    await client.send_event(minimal_task_messages(issued.tasks[0], 0, 1)[0])
    attempts.lock_attempt(issued.scope, issued.attempt_id, "suspicious activity")
    for seq in (2, 2):
        message = event(seq, issued.tasks[0].id, EventType.FOCUS_LOST, {"trigger": "x"})
        error_of(await client.send_event(message), "attempt_closed", seq=2)
    error_of(await client.ask({"type": "get_task", "index": 0}), "attempt_closed")
    assert stored_seqs(db, issued.attempt_id) == [1]


async def test_attempt_closed_when_it_expires_during_the_session(started, db, server):
    issued, client = started
    await client.send_event(minimal_task_messages(issued.tasks[0], 0, 1)[0])
    db[dbmod.ATTEMPTS].update_one({"_id": issued.attempt_id}, {"$set": {"expires_at": utcnow()}})
    message = event(2, issued.tasks[0].id, EventType.FOCUS_LOST, {"trigger": "x"})
    error_of(await client.send_event(message), "attempt_closed", seq=2)
    assert stored_seqs(db, issued.attempt_id) == [1]
    # The sweep moves it to expired and computes the partial profile.
    for _ in range(50):
        if db[dbmod.METRICS].find_one({"attempt_id": issued.attempt_id}):
            break
        await asyncio.sleep(0.1)
    assert db[dbmod.ATTEMPTS].find_one({"_id": issued.attempt_id})["status"] == "expired"
    assert db[dbmod.PROFILES].count_documents({"attempt_id": issued.attempt_id}) == 1


async def test_task_not_available_and_incomplete_codes(started):
    _, client = started
    error_of(await client.ask({"type": "get_task", "index": 1}), "task_not_available")
    error_of(await client.ask({"type": "complete"}), "incomplete")


# ---------------------------------------------------------------- rate limit


async def test_rate_limited_nothing_stored_from_that_message(settings: Settings, db):
    settings = with_limits(settings, connections_per_minute=100)  # the default 50/s, burst 200
    issued = issue(db, count=1)
    task_id = issued.tasks[0].id
    async with running_server(settings, db) as running, Client.open(running.port, issued.token) as client:
        await client.start()
        ack = await client.send_batch(focus_events(task_id, 1, 200))
        assert len(ack["seqs"]) == 200
        limited = await client.send_batch(focus_events(task_id, 201, 30))
        error_of(limited, "rate_limited")
        assert "seq" not in limited  # the whole batch was refused, not one event of it
        assert stored_seqs(db, issued.attempt_id) == list(range(1, 201))
        await asyncio.sleep(0.25)  # about 12 tokens come back
        assert (await client.send_batch(focus_events(task_id, 201, 10)))["seqs"] == list(range(201, 211))


async def test_a_full_size_batch_passes_a_full_bucket_once(settings: Settings, db):
    settings = with_limits(settings, connections_per_minute=100)
    issued = issue(db, count=1)
    task_id = issued.tasks[0].id
    async with running_server(settings, db) as running, Client.open(running.port, issued.token) as client:
        await client.start()
        events = tiny_events(task_id, 1, 500)
        assert len((await client.send_batch(events))["seqs"]) == 500
        error_of(await client.send_event(focus_events(task_id, 501, 1)[0]), "rate_limited", seq=501)


async def test_rate_limit_is_per_attempt(settings: Settings, db):
    settings = with_limits(settings, connections_per_minute=100, event_burst=5, events_per_second=1)
    one, two = issue(db, count=1), issue(db, count=1)
    async with running_server(settings, db) as running:
        async with Client.open(running.port, one.token) as a, Client.open(running.port, two.token) as b:
            key = (await a.start())["session_key"]
            await b.start()
            assert len((await a.send_batch(focus_events(one.tasks[0].id, 1, 5)))["seqs"]) == 5
            assert len((await b.send_batch(focus_events(two.tasks[0].id, 1, 5)))["seqs"]) == 5
            error_of(await a.send_event(focus_events(one.tasks[0].id, 6, 1)[0]), "rate_limited")
        # A new connection does not reset the attempt's bucket.
        async with Client.open(running.port, one.token) as again:
            await again.resume(key)
            error_of(await again.send_event(focus_events(one.tasks[0].id, 6, 1)[0]), "rate_limited")


# ---------------------------------------------------------------- database failure


async def test_database_failure_closes_1013_and_acks_nothing_more(own_store, tmp_path):
    settings, db = own_store.server_setup(tmp_path, "f")
    issued = issue(db, count=1)
    task_id = issued.tasks[0].id
    async with running_server(settings, db) as running, Client.open(running.port, issued.token) as candidate:
        await candidate.start()
        assert (await candidate.send_event(focus_events(task_id, 1, 1)[0]))["type"] == "ack"
        own_store.store.process.kill()
        own_store.store.process.wait()
        await candidate.send_if_open({"type": "event", **focus_events(task_id, 2, 1)[0]})
        code, seen = await candidate.closed(timeout=30)
        assert code == 1013
        assert [m for m in seen if m.get("type") == "ack"] == []
    db.client.close()


# ---------------------------------------------------------------- keep-alive


async def test_a_silent_peer_is_dropped(ingest_settings, db):
    settings = with_limits(ingest_settings, ping_interval_seconds=0.2, peer_timeout_seconds=0.6)
    issued = issue(db)
    async with running_server(settings, db) as running:
        reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET /ws/assessment/{issued.token} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101")
        # Never answer the pings: the server gives up and closes the TCP connection.
        started = asyncio.get_running_loop().time()
        while await asyncio.wait_for(reader.read(4096), 5):
            pass
        elapsed = asyncio.get_running_loop().time() - started
        assert 0.3 < elapsed < 3.0
        writer.close()
