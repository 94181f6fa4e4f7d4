"""A throughput measurement, not a test of a number: events/s acknowledged
with 10 concurrent candidate connections against a subprocess ingest server
on a file-backed store with --sync-on-commit. Run with ``-s`` to see it:

    .venv/bin/pytest -s -m slow tests/ingest_server/test_throughput.py
"""

from __future__ import annotations

import asyncio
import time

import pytest

from hiremate import db as dbmod
from tests.conftest import free_port
from tests.support.ingest_helpers import Client, ServerProcess, issue, server_env, stored_seqs, tiny_events

CONNECTIONS = 10
EVENTS_PER_CONNECTION = 2000


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
            acked += len(answer["seqs"]) if "seqs" in answer else 1
            in_flight -= 1
        return acked


@pytest.mark.slow
@pytest.mark.parametrize(("batch", "window"), [(1, 8), (20, 4)], ids=["single-events", "batches-of-20"])
async def test_throughput_with_10_connections(tmp_path, db_name, batch, window):
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
        started = time.perf_counter()
        totals = await asyncio.gather(*(_drive(ingest_port, a, batch, window) for a in attempts))
        elapsed = time.perf_counter() - started
        total = sum(totals)
        print(f"\n{CONNECTIONS} connections, {batch} event(s)/message, window {window}: "
              f"{total} events acknowledged in {elapsed:.2f}s = {total / elapsed:,.0f} events/s")  # fmt: skip
        for a in attempts:
            assert stored_seqs(db, a.attempt_id) == list(range(1, EVENTS_PER_CONNECTION + 1))
    finally:
        server.kill()
        mongo.close()
        store.stop()
