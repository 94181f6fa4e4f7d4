"""Fault injection: kill -9 mid-assessment, restart, resume, re-send.

Every acknowledged event survives; the stored events are exactly seq 1..N,
without a gap or a duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from websockets.exceptions import ConnectionClosed

from hiremate import db as dbmod
from tests.conftest import free_port
from tests.support.ingest_helpers import Client, ServerProcess, issue, server_env, session_messages, stored_seqs


async def _send_until_killed(client: Client, messages: list[dict], kill) -> set[int]:
    """Pipeline batches without waiting; kill the processes after a few acks.
    Returns every seq the server acknowledged."""
    acked: set[int] = set()
    sent = messages[: len(messages) * 2 // 3]  # the rest is still to be produced when the server dies
    chunks = [sent[i : i + 7] for i in range(0, len(sent), 7)]
    for chunk in chunks:
        await client.send({"type": "batch", "events": chunk})
    with contextlib.suppress(ConnectionClosed, TimeoutError):
        while True:
            answer = await client.recv(timeout=5)
            if answer["type"] == "ack":
                acked.update(answer["seqs"])
                if len(acked) >= len(messages) // 3 and kill is not None:
                    await asyncio.to_thread(kill)
                    kill = None
    return acked


@pytest.mark.slow
async def test_kill_9_mid_assessment_then_resume(tmp_path, db_name):
    store_port, ingest_port = free_port(), free_port()
    store_dir = tmp_path / "store"

    def start_store() -> dbmod.EmbeddedStore:
        return dbmod.start_embedded_store(store_dir, store_port, sync_on_commit=True, log_path=tmp_path / "store.log")

    store = start_store()
    uri = f"mongodb://127.0.0.1:{store_port}/"
    env = server_env(uri, db_name, tmp_path)
    server = ServerProcess(env, ingest_port, tmp_path / "ingest.log")
    mongo = dbmod.make_client(uri)
    try:
        db = mongo.get_database(db_name)
        dbmod.ensure_indexes(db)
        issued = issue(db, count=4)
        messages = session_messages(issued.tasks, seed=11)
        assert len(messages) > 60
        await asyncio.to_thread(server.start)

        def kill_everything() -> None:
            server.kill()  # kill -9 the ingest server...
            store.process.kill()  # ...and the store under it
            store.process.wait()

        async with Client.open(ingest_port, issued.token) as client:
            key = (await client.start())["session_key"]
            acked = await _send_until_killed(client, messages, kill_everything)
        assert len(messages) // 3 <= len(acked) < len(messages)  # killed mid-assessment
        print(f"acked {len(acked)} of {len(messages)} before kill -9")

        store = start_store()  # the same files
        await asyncio.to_thread(server.start)
        mongo.close()
        mongo = dbmod.make_client(uri)
        db = mongo.get_database(db_name)
        survived = set(stored_seqs(db, issued.attempt_id))
        assert acked <= survived, f"acknowledged but lost: {sorted(acked - survived)}"
        assert len(survived) < len(messages)
        print(f"stored after restart: {len(survived)}")

        async with Client.open(ingest_port, issued.token) as client:
            resumed = await client.resume(key)
            last = resumed["last_sequence_number"]
            assert last >= max(acked)
            # The client re-sends everything after the last stored seq (and some before: duplicates).
            answers = await client.send_all(messages[max(0, last - 5) :], batch=9)
            assert all(a["type"] == "ack" for a in answers)
            code, seen = await client.closed()
            assert code == 1000 and seen[0]["type"] == "assessment_completed"

        assert stored_seqs(db, issued.attempt_id) == list(range(1, len(messages) + 1))
        assert db[dbmod.ATTEMPTS].find_one({"_id": issued.attempt_id})["status"] == "completed"
        assert db[dbmod.PROFILES].count_documents({"attempt_id": issued.attempt_id}) == 1
    finally:
        server.kill()
        mongo.close()
        store.stop()
