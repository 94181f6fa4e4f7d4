"""Whole sessions and batches: the rates tests/ingest_server/test_load.py and
test_pipelining.py check only for correctness.

* 100 candidates complete a 3-task assessment at once through the real ingest
  server (``python -m ingest_server``), each over its own WebSocket as a page
  does it (tests/support/load_helpers.complete_assessment: start, get_task,
  batches of 1-8 with one round trip at a time, completion): seconds until
  every one is completed, events acknowledged per second over that time,
  CPU per event of the ingest server and of the store, and seconds until
  every profile is stored.
* 10 connections sending batches of 20 tiny events with up to 4 unanswered
  (bench_ingest.py measures single events).

One file-backed store with --sync-on-commit, as `make run` configures it.
Every acknowledged event is counted afterwards: stored exactly once.

    .venv/bin/python -m bench.bench_sessions [repeats]
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bson import ObjectId

from bench.bench_ingest import cpu_seconds
from bench.common import Figure, free_port, hiremate_env, python_process, stop, wait_http
from hiremate import db as dbmod
from tests.support.ingest_helpers import Client, issue, issue_cohort, make_tasks, session_messages, tiny_events
from tests.support.load_helpers import complete_assessment

DB_NAME = "bench_sessions"
CANDIDATES = 100  # at once; 200 took 60 s of the 10 minutes make bench may take
TASKS = 3
BATCH_CONNECTIONS = 10
BATCH_EVENTS = 1000  # per connection
BATCH_SIZE = 20
BATCH_WINDOW = 4


@dataclass
class SessionResults:
    candidates: int = CANDIDATES
    events: int = 0  # events of the sessions, last run
    seconds: Figure = field(default_factory=lambda: Figure("all sessions at once: all completed", "s"))
    rate: Figure = field(default_factory=lambda: Figure("events acknowledged per second", "events/s"))
    profiles: Figure = field(default_factory=lambda: Figure("every profile stored", "s"))
    cpu_ingest: Figure = field(default_factory=lambda: Figure("ingest server CPU per event", "us"))
    cpu_store: Figure = field(default_factory=lambda: Figure("store CPU per event", "us"))
    batch_rate: Figure = field(default_factory=lambda: Figure("10 connections, batches of 20", "events/s"))
    stored_ok: bool = True


def _issue_cohort(
    db: Any, tasks: list[Any], organization_id: ObjectId, count: int
) -> list[tuple[Any, list[dict[str, Any]]]]:
    """``count`` candidates for one job's assessment (the same tasks), with their
    sessions: the same sessions in every repeat, new attempts."""
    cohort = issue_cohort(db, tasks=tasks, organization_id=organization_id, count=count)
    return [(issued, session_messages(issued.tasks, seed=n)) for n, issued in enumerate(cohort)]


async def _batches(port: int, issued: Any) -> int:
    task_id = issued.tasks[0].id
    async with Client.open(port, issued.token, max_queue=None) as client:
        await client.start()
        acked, next_seq, in_flight = 0, 1, 0
        while acked < BATCH_EVENTS:
            while in_flight < BATCH_WINDOW and next_seq <= BATCH_EVENTS:
                count = min(BATCH_SIZE, BATCH_EVENTS - next_seq + 1)
                await client.send({"type": "batch", "events": tiny_events(task_id, next_seq, count)})
                next_seq += count
                in_flight += 1
            answer = await client.recv(60)
            if answer.get("type") != "ack":
                raise RuntimeError(f"not an ack: {answer}")
            acked += len(answer["seqs"])
            in_flight -= 1
        return acked


async def run(tmp: Path, repeats: int, log: Any = print, candidates: int = CANDIDATES) -> SessionResults:
    results = SessionResults(candidates=candidates)
    results.seconds.name = f"{candidates} sessions at once: all completed"
    tmp.mkdir(parents=True, exist_ok=True)
    store_port, port = free_port(), free_port()
    uri = f"mongodb://127.0.0.1:{store_port}/"
    store = dbmod.start_embedded_store(tmp / "store", store_port, sync_on_commit=True)
    mongo = dbmod.make_client(uri)
    ingest = None
    try:
        db = mongo.get_database(DB_NAME)
        dbmod.ensure_indexes(db)
        ingest = python_process(
            ["-m", "ingest_server", "--port", str(port)], hiremate_env(uri, DB_NAME, tmp), tmp / "ingest.log"
        )
        await asyncio.to_thread(wait_http, f"http://127.0.0.1:{port}/healthz", ingest)
        organization_id = ObjectId()
        tasks = await asyncio.to_thread(make_tasks, db, organization_id, TASKS, seed=5)  # one job's assessment
        for repeat in range(repeats):
            cohort = await asyncio.to_thread(_issue_cohort, db, tasks, organization_id, candidates)
            total = sum(len(messages) for _, messages in cohort)
            rng = random.Random(repeat)
            cpu_before = cpu_seconds(ingest.pid), cpu_seconds(store.process.pid)
            started = time.perf_counter()
            acked = await asyncio.gather(
                *(
                    complete_assessment(port, issued, messages, random.Random(rng.random()))
                    for issued, messages in cohort
                )
            )
            seconds = time.perf_counter() - started
            cpu_after = cpu_seconds(ingest.pid), cpu_seconds(store.process.pid)
            ids = [issued.attempt_id for issued, _ in cohort]
            while await asyncio.to_thread(db[dbmod.PROFILES].count_documents, {"attempt_id": {"$in": ids}}) < len(ids):
                if time.perf_counter() - started > seconds + 120:
                    raise RuntimeError("profiles missing two minutes after the last completion")
                await asyncio.sleep(0.05)
            profiles = time.perf_counter() - started
            stored = await asyncio.to_thread(db[dbmod.EVENTS].count_documents, {"attempt_id": {"$in": ids}})
            if sum(len(a) for a in acked) != total or stored != total:
                results.stored_ok = False
            results.events = total
            results.seconds.runs.append(seconds)
            results.rate.runs.append(total / seconds)
            results.profiles.runs.append(profiles)
            results.cpu_ingest.runs.append((cpu_after[0] - cpu_before[0]) / total * 1e6)
            results.cpu_store.runs.append((cpu_after[1] - cpu_before[1]) / total * 1e6)

            issued = await asyncio.to_thread(lambda: [issue(db, count=1) for _ in range(BATCH_CONNECTIONS)])
            began = time.perf_counter()
            sent = await asyncio.gather(*(_batches(port, item) for item in issued))
            results.batch_rate.runs.append(sum(sent) / (time.perf_counter() - began))
            stored = await asyncio.to_thread(
                db[dbmod.EVENTS].count_documents, {"attempt_id": {"$in": [i.attempt_id for i in issued]}}
            )
            if stored != BATCH_CONNECTIONS * BATCH_EVENTS:
                results.stored_ok = False
            log(
                f"  sessions r{repeat}: {candidates} x {total / candidates:.0f} events completed in {seconds:.1f} s "
                f"= {total / seconds:,.0f} events/s, profiles after {profiles:.1f} s, CPU per event ingest "
                f"{results.cpu_ingest.runs[-1]:.0f} us store {results.cpu_store.runs[-1]:.0f} us; "
                f"batches of {BATCH_SIZE}: {results.batch_rate.runs[-1]:,.0f} events/s"
            )
    finally:
        stop(ingest)
        mongo.close()
        store.stop()
    return results


if __name__ == "__main__":
    import sys
    import tempfile

    with tempfile.TemporaryDirectory(prefix="hm-bench-") as tmp:
        print(asyncio.run(run(Path(tmp), int(sys.argv[1]) if len(sys.argv) > 1 else 1)))
