"""One candidate's whole assessment over a real WebSocket, as a page sends it:
shared by tests/ingest_server/test_load.py (correctness with 40 at once) and
bench/bench_sessions.py (how fast 200 at once complete)."""

from __future__ import annotations

import random
from typing import Any

from websockets.exceptions import ConnectionClosed

from hiremate.timeutil import iso, utcnow
from tests.support.ingest_helpers import Client, Issued


async def complete_assessment(
    port: int, issued: Issued, messages: list[dict[str, Any]], rng: random.Random
) -> list[int]:
    """Start, get_task for each task as it is reached, the session's events in
    batches of 1-8 (one round trip at a time), then the server's
    assessment_completed and a normal close. Returns every seq acknowledged;
    an AssertionError names the first answer that was not the protocol's."""
    acked: list[int] = []
    async with Client.open(port, issued.token) as client:
        await client.start()
        by_task: list[list[dict[str, Any]]] = [[] for _ in issued.tasks]
        index_of = {str(task.id): i for i, task in enumerate(issued.tasks)}
        current = 0
        for message in messages:
            if message["event_type"] == "task_started":
                current = index_of[message["task_id"]]
            by_task[current].append(message)
        completed = False
        for index, events in enumerate(by_task):
            answer = await client.ask({"type": "get_task", "index": index}, timeout=60)
            assert answer["type"] == "task" and answer["index"] == index, answer
            position = 0
            while position < len(events):
                size = rng.randint(1, 8)  # what a page buffers between two sends
                chunk, position = events[position : position + size], position + size
                answer = await client.ask({"type": "batch", "sent_at": iso(utcnow()), "events": chunk}, timeout=60)
                assert answer["type"] == "ack", answer
                assert answer["seqs"] == [e["seq"] for e in chunk], (answer, chunk)
                assert "duplicates" not in answer
                acked += answer["seqs"]
        try:
            final = await client.recv(timeout=60)
            assert final["type"] == "assessment_completed", final
            completed = True
            await client.recv(timeout=30)
        except ConnectionClosed:
            pass
        assert completed
        assert client.ws.close_code == 1000
    return acked
