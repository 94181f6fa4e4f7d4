"""Ceiling (a): a bare `websockets` server that only parses and acks.

It speaks just enough of docs/protocol.md for the benchmark client: an
``assessment_info`` greeting, ``started`` for ``start``, an ``ack`` for each
``event`` and one for each ``batch``. No validation, no storage. With
websockets' defaults (permessage-deflate accepted when offered), as the
target was set; ``--no-compression`` declines it, as the ingest server has
since 2026-12-06, for the like-for-like figure beside it.

    python bench/raw_server.py --port P [--no-compression]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal

from bson import ObjectId
from websockets.asyncio.server import ServerConnection, serve

# The notice's version: the benchmark client acknowledges it in ``start`` (protocol 1.2).
GREETING = json.dumps(
    {
        "type": "assessment_info",
        "status": "pending",
        "total_tasks": 1,
        "current_task_index": 0,
        "notice": {"version": "1-0000000000"},
    }
)
STARTED = json.dumps({"type": "started", "session_key": "x" * 43, "attempt_status": {"type": "attempt_status"}})


async def handler(ws: ServerConnection) -> None:
    await ws.send(GREETING)
    async for raw in ws:
        message = json.loads(raw)
        kind = message.get("type")
        if kind == "event":
            await ws.send(json.dumps({"type": "ack", "seq": message["seq"], "event_id": str(ObjectId())}))
        elif kind == "batch":
            seqs = [event["seq"] for event in message["events"]]
            await ws.send(json.dumps({"type": "ack", "seqs": seqs, "event_ids": [str(ObjectId()) for _ in seqs]}))
        elif kind == "start":
            await ws.send(STARTED)


async def main(port: int, compression: str | None = "deflate") -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with serve(handler, "127.0.0.1", port, max_size=64 * 1024, compression=compression):
        print("ready", flush=True)
        await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--no-compression",
        action="store_true",
        help="decline permessage-deflate, as the ingest server does (websockets offers and accepts it by default)",
    )
    args = parser.parse_args()
    asyncio.run(main(args.port, None if args.no_compression else "deflate"))
