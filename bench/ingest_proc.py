"""The real ingest server as ``python -m ingest_server`` runs it, plus a
statistics hook for the benchmark: on SIGUSR1 it writes the group
committer's counters (groups written, events written) and the server's own
part of the latest acks (``ingest_server/latency.py``: how many were
recorded, and the ring's samples in ns) to ``--stats``.

    python bench/ingest_proc.py --port P --stats FILE
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path

from hiremate import db as dbmod
from hiremate.settings import load_settings
from ingest_server.latency import shorten_gil_switch
from ingest_server.server import IngestServer, freeze_startup_heap


async def main(port: int, stats: Path) -> None:
    settings = load_settings().model_copy(update={"ingest_port": port, "ingest_host": "127.0.0.1"})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    db = await asyncio.to_thread(dbmod.get_db, settings)
    server = IngestServer(settings, db, live_mode=os.environ.get("BENCH_LIVE_MODE", "auto"))

    def dump() -> None:
        committer = server.committer
        stats.write_text(
            json.dumps(
                {
                    "groups": committer.groups,
                    "events": committer.events_written,
                    "latency": server.session_context.latency.snapshot(),
                }
            )
        )

    loop.add_signal_handler(signal.SIGUSR1, dump)
    async with server.running():
        freeze_startup_heap()  # as python -m ingest_server does
        shorten_gil_switch()
        await stop.wait()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--stats", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(main(args.port, args.stats))
