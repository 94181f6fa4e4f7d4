"""What the events' secondary indexes cost the store, side by side in one run.

Until 2026-12-06 ``behavior_events`` carried two indexes besides the unique
``(attempt_id, sequence_number)``: ``(attempt_id, task_id, timestamp)`` and
``(event_type, timestamp)``. No read used them (every read of the events
names its attempts), and every insert maintained them. This measures the
group committer's write, one ``insert_many`` of ``--group`` events at a time
(ordered=False, as ``ingest_server/commit.py`` writes), on a file-backed
store with --sync-on-commit, once with the indexes a store had before and
once with the product's (``dbmod.INDEXES``), alternating in each repeat and
each on a fresh store filled with the same events first. The store's CPU
comes from /proc, so it holds on a busy machine.

    .venv/bin/python -m bench.bench_event_indexes [--repeats 3] [--groups 600] [--group 8]

Not part of ``make bench`` (about a minute): the change it measured is done,
and its figures are in ``bench/README.md``'s findings.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, IndexModel, MongoClient

from bench.bench_ingest import cpu_seconds
from bench.common import Figure, fmt, free_port, percentile
from hiremate import db as dbmod

BEFORE = [
    *dbmod.INDEXES[dbmod.EVENTS],
    IndexModel([("attempt_id", ASCENDING), ("task_id", ASCENDING), ("timestamp", ASCENDING)]),
    IndexModel([("event_type", ASCENDING), ("timestamp", DESCENDING)]),
]
VARIANTS = {"before (3 indexes)": BEFORE, "now (the unique one)": dbmod.INDEXES[dbmod.EVENTS]}
PREFILLED_ATTEMPTS = 200  # of 30 events each, so inserts land in indexes that hold something
TYPES = ("option_viewed", "option_selected", "reasoning_changed", "focus_lost", "focus_gained")


def _events(attempt_id: ObjectId, count: int, now: datetime) -> list[dict[str, Any]]:
    """Documents shaped as the ingest server stores them (``BehaviorEvent.to_doc``)."""
    task_id = ObjectId()
    return [
        {
            "_id": ObjectId(),
            "attempt_id": attempt_id,
            "task_id": task_id,
            "event_type": TYPES[n % len(TYPES)],
            "timestamp": now,
            "event_time": now,
            "sequence_number": n + 1,
            "payload": {"option_id": "b"} if n % len(TYPES) < 2 else {},
            "client_timestamp": now,
            "metadata": {"user_agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/150.0", "ip_hash": "ab" * 16},
        }
        for n in range(count)
    ]


def measure(indexes: list[IndexModel], groups: int, group: int) -> tuple[list[float], float]:
    """Latencies (ms) of ``groups`` inserts of ``group`` events, and the
    store's CPU per event (us), on a fresh synced store with these indexes."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        store = dbmod.start_embedded_store(Path(tmp) / "store", port, sync_on_commit=True)
        try:
            events = MongoClient(f"mongodb://127.0.0.1:{port}/", directConnection=True).bench[dbmod.EVENTS]
            events.create_indexes(indexes)
            now = datetime.now(UTC)
            for _ in range(PREFILLED_ATTEMPTS):
                events.insert_many(_events(ObjectId(), 30, now), ordered=False)
            before = cpu_seconds(store.process.pid)
            latencies = []
            for _ in range(groups):
                docs = _events(ObjectId(), group, now)
                start = time.perf_counter()
                events.insert_many(docs, ordered=False)
                latencies.append((time.perf_counter() - start) * 1000)
            cpu_us = (cpu_seconds(store.process.pid) - before) / (groups * group) * 1e6
        finally:
            store.stop()
    return latencies, cpu_us


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--groups", type=int, default=600)
    parser.add_argument("--group", type=int, default=8, help="events per insert_many (make bench's groups: about 8)")
    args = parser.parse_args()
    figures = {
        name: {what: Figure(what, unit) for what, unit in (("p50", "ms"), ("p99", "ms"), ("cpu", "us"))}
        for name in VARIANTS
    }
    for repeat in range(args.repeats):
        for name, indexes in VARIANTS.items():
            latencies, cpu_us = measure(indexes, args.groups, args.group)
            figures[name]["p50"].runs.append(percentile(latencies, 50))
            figures[name]["p99"].runs.append(percentile(latencies, 99))
            figures[name]["cpu"].runs.append(cpu_us)
            print(
                f"r{repeat} {name}: p50 {fmt(percentile(latencies, 50))} ms, p99 {fmt(percentile(latencies, 99))} ms, "
                f"store CPU {fmt(cpu_us)} us per event",
                flush=True,
            )
    print(f"\ninsert_many of {args.group} events, {args.groups} a run, --sync-on-commit; median [min–max]")
    print("| indexes | p50 (ms) | p99 (ms) | store CPU per event (us) |\n|---|---|---|---|")
    for name, row in figures.items():
        cells = " | ".join(f"{fmt(f.median)} [{f.spread()}]" for f in row.values())
        print(f"| {name} | {cells} |")


if __name__ == "__main__":
    main()
