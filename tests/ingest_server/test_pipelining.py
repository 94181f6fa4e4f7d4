"""Pipelined events from several candidate connections at once, against a
subprocess ingest server on a file-backed store with --sync-on-commit: single
events with up to 8 unanswered, or batches of 20 with up to 4 unanswered.
Every event is acknowledged and stored exactly once, in order, seqs 1..N.

A few connections keep the group committer's groups mixed across attempts;
the events/s this reaches is measured by `make bench` (bench/bench_ingest.py
for single events at 1, 10 and 100 connections, bench/bench_sessions.py for
batches of 20), not here.
"""

from __future__ import annotations

import asyncio

import pytest

from hiremate import db as dbmod
from tests.conftest import free_port
from tests.support.ingest_helpers import Client, ServerProcess, issue, server_env, stored_seqs, tiny_events

CONNECTIONS = 3
EVENTS_PER_CONNECTION = 400


async def _drive(port: int, issued, batch: int, window: int) -> int:
    """Send EVENTS_PER_CONNECTION events, ``batch`` a message, at most ``window`` messages unanswered."""
    task_id = issued.tasks[0].id
    async with Client.open(port, issued.token, max_queue=None) as client:
        await client.start()
        acked = 0
        next_seq = 1
        in_flight = 0
        while acked < EVENTS_PER_CONNECTION:
            while in_flight < window and next_seq <= EVENTS_PER_CONNECTION:
                count = min(batch, EVENTS_PER_CONNECTION - next_seq + 1)
                events = tiny_events(task_id, next_seq, count)
                await client.send({"type": "event", **events[0]} if batch == 1 else {"type": "batch", "events": events})
                next_seq += count
                in_flight += 1
            answer = await client.recv(30)
            assert answer["type"] == "ack", answer
            seqs = answer["seqs"] if "seqs" in answer else [answer["seq"]]
            assert seqs == list(range(acked + 1, acked + len(seqs) + 1)), (acked, answer)  # in order, none lost
            assert "duplicates" not in answer, answer
            acked += len(seqs)
            in_flight -= 1
        return acked


@pytest.mark.slow
@pytest.mark.parametrize(("batch", "window"), [(1, 8), (20, 4)], ids=["single-events", "batches-of-20"])
async def test_pipelined_connections_store_every_event_once_in_order(tmp_path, db_name, batch, window):
    store_port, ingest_port = free_port(), free_port()
    store = dbmod.start_embedded_store(tmp_path / "store", store_port, sync_on_commit=True)
    uri = f"mongodb://127.0.0.1:{store_port}/"
    server = ServerProcess(server_env(uri, db_name, tmp_path), ingest_port, tmp_path / "ingest.log")
    mongo = dbmod.make_client(uri)
    try:
        db = mongo.get_database(db_name)
        dbmod.ensure_indexes(db)
        attempts = [issue(db, count=1) for _ in range(CONNECTIONS)]
        await asyncio.to_thread(server.start)
        totals = await asyncio.gather(*(_drive(ingest_port, a, batch, window) for a in attempts))
        assert totals == [EVENTS_PER_CONNECTION] * CONNECTIONS
        for a in attempts:
            assert stored_seqs(db, a.attempt_id) == list(range(1, EVENTS_PER_CONNECTION + 1))
        assert "Traceback" not in server.log_path.read_text()
    finally:
        server.kill()
        mongo.close()
        store.stop()
