"""Load: 40 candidates completing assessments at once through the real
ingest server (a subprocess, as `make run` starts it, on a file-backed store
with --sync-on-commit), each over its own WebSocket: start, get_task for each
task as it reaches it, its simulated session's events in small batches, all
tasks, completion. Bounded in time. Every acknowledged event is stored
exactly once; every attempt is completed with a profile.

40 candidates are enough to keep many connections' batches in the group
committer at once; how fast such a crowd completes is a figure of
bench/bench_sessions.py (`make bench`), not of this test.
"""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from hiremate import db as dbmod
from tests.conftest import free_port
from tests.support.abuse_helpers import check_stored_events
from tests.support.ingest_helpers import ServerProcess, issue, issue_cohort, server_env, session_messages
from tests.support.load_helpers import complete_assessment

CANDIDATES = 40
DEADLINE_SECONDS = 120.0


@pytest.mark.slow
async def test_40_candidates_at_once(tmp_path, db_name):
    store_port, ingest_port = free_port(), free_port()
    store = dbmod.start_embedded_store(tmp_path / "store", store_port, sync_on_commit=True)
    uri = f"mongodb://127.0.0.1:{store_port}/"
    # Rate limits raised for this test: 40 connections come from one address
    # (127.0.0.1) within a minute, which the default 30/min would refuse;
    # server_env already lifts the per-attempt event rate.
    env = server_env(uri, db_name, tmp_path, HIREMATE_CONNECTIONS_PER_MINUTE="10000")
    server = ServerProcess(env, ingest_port, tmp_path / "ingest.log")
    mongo = dbmod.make_client(uri)
    try:
        db = mongo.get_database(db_name)
        dbmod.ensure_indexes(db)
        rng = random.Random(2026)
        first = issue(db, count=3, seed=5, name="Candidate 0")  # a job's assessment: the same tasks for everyone
        others = issue_cohort(db, tasks=first.tasks, organization_id=first.scope.organization_id, count=CANDIDATES - 1)
        candidates = [(issued, session_messages(issued.tasks, seed=n)) for n, issued in enumerate([first, *others])]
        total_events = sum(len(m) for _, m in candidates)
        await asyncio.to_thread(server.start)

        results = await asyncio.wait_for(
            asyncio.gather(
                *(
                    complete_assessment(ingest_port, issued, messages, random.Random(rng.random()))
                    for issued, messages in candidates
                )
            ),
            timeout=DEADLINE_SECONDS,
        )
        acked_total = sum(len(r) for r in results)
        assert acked_total == total_events

        # Every acknowledged event stored exactly once, seqs 1..N, and valid.
        for (issued, messages), acked in zip(candidates, results, strict=True):
            assert acked == list(range(1, len(messages) + 1))
            assert check_stored_events(db, db[dbmod.ATTEMPTS].find_one({"_id": issued.attempt_id})) == len(messages)
        duplicates = list(
            db[dbmod.EVENTS].aggregate(
                [
                    {"$group": {"_id": {"a": "$attempt_id", "s": "$sequence_number"}, "n": {"$sum": 1}}},
                    {"$match": {"n": {"$gt": 1}}},
                ]
            )
        )
        assert duplicates == []
        assert db[dbmod.EVENTS].count_documents({}) == total_events

        # Every attempt completed, with a profile (computed by the server as each one completed).
        ids = [issued.attempt_id for issued, _ in candidates]
        assert db[dbmod.ATTEMPTS].count_documents({"_id": {"$in": ids}, "status": "completed"}) == CANDIDATES
        deadline = time.monotonic() + 60
        while db[dbmod.PROFILES].count_documents({"attempt_id": {"$in": ids}}) < CANDIDATES:
            assert time.monotonic() < deadline, "profiles missing"
            await asyncio.sleep(0.2)
        assert "Traceback" not in server.log_path.read_text()
    finally:
        server.kill()
        mongo.close()
        store.stop()
