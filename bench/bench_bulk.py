"""Bulk issue: 500 candidates from a CSV issued with one kit (issue 18 asks
for under 10 s of server time).

What the Bulk issue page does on the server, timed step by step, on a
file-backed store with --sync-on-commit (as `make run` configures it):
reading and checking the rows (``recruiter.bulk_issue.preview``: parsing,
the form's checks per row, duplicates, one query for open assessments),
issuing them (``bulk_issue.issue``: ``attempts.issue_many``, i.e. tokens,
hashes, snapshots, ``insert_many`` in batches of 500, counters, one audit
entry per attempt with one ``insert_many``, the summary entry) and writing
the links CSV. Then the same with email: a mail server configured (nothing
is sent: the outbox is drained by another process) and every invitation
queued through the page's mail hook (``bulk_issue.queue_invitations``). Each
flow uses a fresh organisation in the same database, so the store grows as
it would. For reference, the same 500 issued one by one with
``attempts.issue_attempt`` (what a loop over the single form would cost).

    .venv/bin/python -m bench.bench_bulk [repeats]
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bson import ObjectId
from pymongo.database import Database

from bench.common import Figure, fmt, free_port, hiremate_env
from hiremate import attempts, kits
from hiremate import db as dbmod
from hiremate import settings as settingsmod
from hiremate.scope import Scope
from hiremate.task_library import LIBRARY
from hiremate.tasks import create_task
from recruiter import bulk_issue

DB_NAME = "bench_bulk"
REFERENCE_ROWS = 50  # issued one by one, for reference (all 497 took a minute)
ROWS = 500
BAD_ROWS = 3
KIT_TASKS = 3
LIMIT_SECONDS = 10.0


@dataclass
class BulkResults:
    rows: int = ROWS
    preview: Figure = field(default_factory=lambda: Figure("read and check 500 rows", "s"))
    issue: Figure = field(default_factory=lambda: Figure("issue 497 attempts", "s"))
    links: Figure = field(default_factory=lambda: Figure("links CSV", "s"))
    total: Figure = field(default_factory=lambda: Figure("500 rows, server time", "s"))
    cpu: Figure = field(default_factory=lambda: Figure("CPU of this process, whole flow", "s"))
    emailed: Figure = field(default_factory=lambda: Figure("500 rows, every invitation queued, server time", "s"))
    one_by_one: Figure = field(
        default_factory=lambda: Figure(f"issue_attempt one by one, in ms per attempt ({REFERENCE_ROWS} timed)", "ms")
    )
    issued_ok: bool = True


def candidate_csv(rows: int = ROWS) -> str:
    """A header and ``rows`` rows, the last BAD_ROWS of them refused (no name, a bad email, a repeated email)."""
    good = rows - BAD_ROWS
    lines = ["Name,E-mail,Position,Phone"]
    lines += [f"Candidate {i},candidate{i}@example.com,Analyst,+44 20 7946 {i:04d}" for i in range(good)]
    lines += [",nameless@example.com,Analyst,", "Bad Email,not-an-address,Analyst,", "Twice,candidate1@example.com,,"]
    return "\n".join(lines)


def _organisation(db) -> tuple[Scope, object]:
    scope = Scope(db, ObjectId(), ObjectId())
    tasks = [create_task(scope, entry) for entry in list(LIBRARY.values())[:KIT_TASKS]]
    kit = kits.create_kit(scope, {"name": "Bench kit", "position": "Analyst", "task_ids": [t.id for t in tasks]})
    return scope, kit


@contextmanager
def _environment(uri: str, data_dir: Path) -> Iterator[None]:
    """This process's settings pointed at the bench store, a mail server configured; restored afterwards."""
    wanted = hiremate_env(
        uri, DB_NAME, data_dir, HIREMATE_SMTP_URL="smtp://127.0.0.1:2525", HIREMATE_MAIL_FROM="bench@bench.test"
    )
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(wanted)
    settingsmod.get_settings.cache_clear()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        settingsmod.get_settings.cache_clear()


def _measure(db: Database, results: BulkResults, repeats: int, log: Callable[[str], None]) -> None:
    """The repeats and the one-by-one reference, in the bench store."""
    dbmod.ensure_indexes(db)
    text = candidate_csv()
    for repeat in range(repeats):
        scope, kit = _organisation(db)
        started, started_cpu = time.perf_counter(), time.process_time()
        checked = bulk_issue.preview(scope, text, kit)
        previewed = time.perf_counter()
        result = bulk_issue.issue(scope, checked, expires_days=7)
        issued = time.perf_counter()
        data = bulk_issue.links_csv(result)
        done = time.perf_counter()
        results.cpu.runs.append(time.process_time() - started_cpu)
        results.preview.runs.append(previewed - started)
        results.issue.runs.append(issued - previewed)
        results.links.runs.append(done - issued)
        results.total.runs.append(done - started)
        stored = db[dbmod.ATTEMPTS].count_documents({"organization_id": scope.organization_id})
        results.issued_ok &= stored == len(result.issued) == ROWS - BAD_ROWS and data.count(b"\r\n") == stored + 1
        log(f"bulk issue {repeat + 1}/{repeats}: {done - started:.2f} s for {ROWS} rows ({stored} issued)")

        scope, kit = _organisation(db)
        started = time.perf_counter()
        result = bulk_issue.issue(
            scope, bulk_issue.preview(scope, text, kit), expires_days=7, send=bulk_issue.queue_invitations
        )
        bulk_issue.links_csv(result)
        results.emailed.runs.append(time.perf_counter() - started)
        queued = db[dbmod.MAIL_OUTBOX].count_documents({"organization_id": scope.organization_id})
        results.issued_ok &= queued == len(result.issued) and not result.not_emailed
        log(f"with email {repeat + 1}/{repeats}: {results.emailed.runs[-1]:.2f} s ({queued} queued)")
    # The reference: the same candidates, one issue_attempt each (per attempt).
    scope, kit = _organisation(db)
    source = kits.task_source(scope, kit)
    # Only REFERENCE_ROWS of them: a minute for all 497 is most of what this benchmark would cost.
    candidates = [row.candidate for row in bulk_issue.preview(scope, text, kit).ready][:REFERENCE_ROWS]
    started = time.perf_counter()
    for candidate in candidates:
        attempts.issue_attempt(scope, candidate=candidate, source=source, expires_days=7)
    results.one_by_one.runs.append((time.perf_counter() - started) / len(candidates) * 1000)
    log(f"one by one: {results.one_by_one.runs[-1]:.1f} ms per attempt")


def run(tmp: Path, repeats: int, log: Callable[[str], None] = print) -> BulkResults:
    results = BulkResults()
    port = free_port()
    uri = f"mongodb://127.0.0.1:{port}/"
    store = dbmod.start_embedded_store(tmp / "bulk-store", port, sync_on_commit=True)
    client = dbmod.make_client(uri, timeout_ms=30000)
    data_dir = tmp / "bulk-data"
    data_dir.mkdir(mode=0o700, exist_ok=True)
    try:
        with _environment(uri, data_dir):
            _measure(client.get_database(DB_NAME), results, repeats, log)
    finally:
        client.close()
        store.stop()
    return results


def render(results: BulkResults) -> list[str]:
    """The README section."""

    def cell(f: Figure) -> str:
        return f"{fmt(f.median)} [{f.spread()}]"

    return [
        "## Bulk issue\n",
        f"`bench/bench_bulk.py`: a CSV of {results.rows} candidates ({BAD_ROWS} of them refused: no name, a bad "
        f"email, a repeated email) issued with a kit of {KIT_TASKS} tasks, as the Bulk issue page does it on the "
        "server (`recruiter.bulk_issue`: preview, issue, links CSV), on a file-backed store with --sync-on-commit. "
        "A fresh organisation each repeat, in the same database.\n",
        "| step | s |",
        "|---|---|",
        *(f"| {f.name} | {cell(f)} |" for f in (results.preview, results.issue, results.links, results.total)),
        f"| {results.cpu.name} | {cell(results.cpu)} |",
        f"| {results.emailed.name} | {cell(results.emailed)} |",
        f"| reference: {results.one_by_one.name} | {cell(results.one_by_one)} |",
        "",
        f"* Every row without problems was issued once and is in the links CSV (or queued, with email): "
        f"{results.issued_ok}.",
        "",
    ]


if __name__ == "__main__":
    import sys

    with tempfile.TemporaryDirectory(prefix="hm-bench-bulk-") as folder:
        measured = run(Path(folder), int(sys.argv[1]) if len(sys.argv) > 1 else 3)
    print("\n".join(render(measured)))
