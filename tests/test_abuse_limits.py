"""Abuse of the candidate socket and the page: the per-connection bounds.

Found by attacking a running stack: error messages echoed up to 64 KB of the
attacker's input. Each test performs the attack through real sockets against
a real server and the real store, and checks what was stored.
"""

# ruff: noqa: F401, F811 - fixtures imported from tests.ingest_helpers are used as arguments

from __future__ import annotations

import asyncio
import json

from tests.ingest_helpers import Client, ingest_settings, issue, server, stored_seqs

# ---------------------------------------------------------------- echoes


async def test_errors_echo_at_most_a_short_prefix_of_a_60_kb_input(server, db):
    issued = issue(db, count=1)
    task = issued.tasks[0]
    huge = "X" * (60 * 1024)
    async with Client.open(server.port, issued.token) as client:
        await client.start()
        hostile = [
            {"type": huge},
            {"type": [huge]},
            {"type": "get_task", "index": huge},
            {"type": "event", "seq": 1, "task_id": str(task.id), "event_type": huge, "payload": {}},
            {"type": "event", "seq": 1, "task_id": huge, "event_type": "focus_lost", "payload": {}},
            {
                "type": "event",
                "seq": 1,
                "task_id": str(task.id),
                "event_type": "task_started",
                "payload": {"task_index": 0},
            },
            {
                "type": "event",
                "seq": 2,
                "task_id": str(task.id),
                "event_type": "option_selected",
                "payload": {"option_id": huge, "is_first_selection": True},
            },
        ]
        for message in hostile:
            raw = json.dumps(message)
            assert len(raw) < 64 * 1024
            await client.send(raw)
            answer_text = await asyncio.wait_for(client.ws.recv(), 10)
            answer = json.loads(answer_text)
            if answer["type"] == "ack":
                continue
            assert answer["type"] == "error", answer
            assert len(answer_text) < 300, answer_text
            assert "XXXX" in answer["message"] and len(answer["message"]) < 200, answer["message"]
            assert "…" in answer["message"]
    assert stored_seqs(db, issued.attempt_id) == [1]
