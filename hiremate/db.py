"""The database: one MongoClient per process, the embedded store, indexes.

With ``HIREMATE_MONGODB_URI`` unset, HireMate runs against SecantusDB, a
MongoDB-compatible server started here as its own process (it is GPL-2.0,
so it is only ever run as a command, never imported). Whichever HireMate
process needs it first starts it, under a file lock.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bson import ObjectId
from filelock import FileLock, Timeout
from pymongo import ASCENDING, DESCENDING, IndexModel, MongoClient, ReturnDocument, UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, OperationFailure, PyMongoError
from pymongo.write_concern import WriteConcern

from hiremate import datadir
from hiremate.errors import StoreUnavailable
from hiremate.settings import Settings, get_settings

# Collection names, in one place.
ORGANIZATIONS = "organizations"
USERS = "users"
INVITATIONS = "invitations"
SESSIONS = "sessions"
LOGIN_FAILURES = "login_failures"  # sliding-window counts per client (hiremate.throttle)
LOGIN_THROTTLE = "login_throttle"  # failures and delay per (account, client) (hiremate.throttle)
AUDIT_LOG = "audit_log"
AUDIT_HEADS = "audit_heads"  # each chain's newest seq and hmac, noted after each append (hiremate.audit)
TASKS = "tasks"
ATTEMPTS = "task_attempts"
ATTEMPT_COUNTS = "attempt_counts"  # per-organisation counters of attempts (hiremate.attempt_counts)
EVENTS = "behavior_events"
METRICS = "computed_metrics"
PROFILES = "skill_profiles"
NORM_POINTS = "norm_points"  # one per completed task of a computed profile (hiremate.norms)
NORM_COUNTS = "norm_counts"  # per-group histograms of the norm points, kept with $inc (hiremate.norms)
REVIEWS = "profile_reviews"  # people's reviews and decisions, one document per attempt (hiremate.reviews)
KITS = "assessment_kits"  # named, reusable task sets or sampling rules (hiremate.kits)
SELF_IDS = "self_identifications"  # voluntary, one per attempt, read by the impact report only (hiremate.self_id)
MAIL_OUTBOX = "mail_outbox"  # emails to send, sending, sent or failed (hiremate.mail)
MAIL_TEMPLATES = "mail_templates"  # an organisation's own wording of each kind of email (hiremate.mail)
API_KEYS = "api_keys"  # keys of the REST API, by their SHA-256 (hiremate.api_keys)
WEBHOOK_ENDPOINTS = "webhook_endpoints"  # an organisation's registered receivers, secrets sealed (hiremate.webhooks)
WEBHOOK_DELIVERIES = "webhook_deliveries"  # the webhook outbox and its delivery log (hiremate.webhooks)
GREENHOUSE_TESTS = "greenhouse_tests"  # assessments Greenhouse asked for: its callback URL (hiremate.greenhouse)

# task_attempts: true while the candidate's accommodation request waits for an answer (hiremate.attempts).
ACCOMMODATION_OPEN = "accommodation_open"
# task_attempts and skill_profiles: true on every attempt of a person but their newest, and on its
# profile; always true or false, never unset (hiremate.people). A storage field of the profile
# document, not of the computed profile (SkillProfile), whose content the rule versions fix.
SUPERSEDED = "superseded"
DUPLICATE_KEY = 11000  # the server's error code for a duplicate key
BACKFILL_BATCH = 1000  # documents a backfill updates with one write

STORE_START_TIMEOUT_SECONDS = 30.0
STORE_HOST = "127.0.0.1"  # the embedded store never listens beyond this machine


def _label_list_indexes(*labels: tuple[str, ...], first: str | None = None) -> list[IndexModel]:
    """For each run of profile label fields: (``first``,) organization_id,
    the labels, then the list's order (completed_at, _id, newest first)."""
    lead = [(first, ASCENDING)] if first else []
    return [
        IndexModel(
            [
                *lead,
                ("organization_id", ASCENDING),
                *((label, ASCENDING) for label in run),
                ("completed_at", DESCENDING),
                ("_id", DESCENDING),
            ]
        )
        for run in labels
    ]


INDEXES: dict[str, list[IndexModel]] = {
    # Points are read by attempt (the page: its own points; recording: the points it replaces) and by
    # organisation (a recount of the histograms); the histograms by ``_id``, and by organisation when recounted.
    NORM_POINTS: [
        IndexModel([("attempt_id", ASCENDING), ("task_id", ASCENDING)]),
        IndexModel([("organization_id", ASCENDING), ("task_id", ASCENDING), ("version", ASCENDING)]),
    ],
    NORM_COUNTS: [IndexModel([("organization_id", ASCENDING), ("kind", ASCENDING)])],
    ORGANIZATIONS: [IndexModel([("slug", ASCENDING)], unique=True, name="slug_unique")],
    USERS: [
        IndexModel([("email", ASCENDING)], unique=True, name="email_unique"),
        IndexModel([("organization_id", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)]),
    ],
    INVITATIONS: [
        IndexModel([("token_hash", ASCENDING)], unique=True, name="token_hash_unique"),
        IndexModel([("organization_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)]),
    ],
    SESSIONS: [
        IndexModel([("session_hash", ASCENDING)], unique=True, name="session_hash_unique"),
        IndexModel([("user_id", ASCENDING)]),
        IndexModel([("handover_hash", ASCENDING)]),
    ],
    LOGIN_FAILURES: [IndexModel([("key", ASCENDING), ("at", DESCENDING)]), IndexModel([("at", ASCENDING)])],
    LOGIN_THROTTLE: [IndexModel([("last_failure_at", ASCENDING)])],
    AUDIT_LOG: [
        IndexModel([("organization_id", ASCENDING), ("at", DESCENDING), ("_id", DESCENDING)]),
        # The compare-and-set of hiremate.audit: one entry per (chain, seq).
        # Partial: entries written before chains existed have neither field.
        IndexModel(
            [("chain", ASCENDING), ("seq", ASCENDING)],
            unique=True,
            name="chain_seq_unique",
            partialFilterExpression={"chain": {"$type": "string"}},
        ),
    ],
    TASKS: [
        IndexModel(
            [("organization_id", ASCENDING), ("is_active", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)]
        ),
        IndexModel([("organization_id", ASCENDING), ("category", ASCENDING), ("difficulty", ASCENDING)]),
        # Partial: only library tasks carry a string key (the store honours partial indexes).
        IndexModel(
            [("organization_id", ASCENDING), ("library_key", ASCENDING)],
            unique=True,
            name="library_key_unique",
            partialFilterExpression={"library_key": {"$type": "string"}},
        ),
    ],
    ATTEMPTS: [
        IndexModel([("token_hash", ASCENDING)], unique=True, name="token_hash_unique"),
        IndexModel([("organization_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)]),
        IndexModel(
            [("organization_id", ASCENDING), ("status", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)]
        ),
        IndexModel([("organization_id", ASCENDING), ("candidate_info.email", ASCENDING)]),
        IndexModel([("status", ASCENDING), ("expires_at", ASCENDING)]),
        # reports/dashboard: the position filter, completions by time, recent starts.
        IndexModel(
            [
                ("organization_id", ASCENDING),
                ("candidate_info.position", ASCENDING),
                ("created_at", DESCENDING),
                ("_id", DESCENDING),
            ]
        ),
        IndexModel(
            [("organization_id", ASCENDING), ("status", ASCENDING), ("completed_at", DESCENDING), ("_id", DESCENDING)]
        ),
        IndexModel([("organization_id", ASCENDING), ("started_at", DESCENDING), ("_id", DESCENDING)]),
        # The candidates list (people: ``superseded`` unset) by status, newest completed or issued first.
        # The embedded store serves a query from an index only when the index holds every field it names.
        IndexModel(
            [
                ("organization_id", ASCENDING),
                ("status", ASCENDING),
                ("superseded", ASCENDING),
                ("completed_at", DESCENDING),
                ("_id", DESCENDING),
            ]
        ),
        IndexModel(
            [
                ("organization_id", ASCENDING),
                ("status", ASCENDING),
                ("superseded", ASCENDING),
                ("created_at", DESCENDING),
                ("_id", DESCENDING),
            ]
        ),
        # The dashboard's open accommodation requests (attempts.open_accommodation_requests: the
        # flag, the organisation, one open status), and attempts stored before the flag
        # (``{accommodation_open: None}``, the prefix) for _backfill_accommodation_open.
        IndexModel(
            [(ACCOMMODATION_OPEN, ASCENDING), ("organization_id", ASCENDING), ("status", ASCENDING)],
            name="accommodation_open",
        ),
        # The REST API's people pages (reports.people_page): newest issued first, any status.
        IndexModel(
            [("organization_id", ASCENDING), ("superseded", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)]
        ),
    ],
    # Counter documents (their ``_id`` is derived from what they count, so upserts
    # need no unique index of their own); read by organisation and kind, day
    # documents by a range of days.
    ATTEMPT_COUNTS: [IndexModel([("organization_id", ASCENDING), ("kind", ASCENDING), ("day", ASCENDING)])],
    # Every read of the events names one attempt or a list of them (its
    # sequence range, a page, an export's batch): the unique index serves them
    # all, and each insert maintains no other (OBSOLETE_INDEXES).
    EVENTS: [
        IndexModel([("attempt_id", ASCENDING), ("sequence_number", ASCENDING)], unique=True, name="attempt_seq_unique"),
    ],
    METRICS: [IndexModel([("attempt_id", ASCENDING)], unique=True, name="attempt_unique")],
    PROFILES: [
        IndexModel([("attempt_id", ASCENDING)], unique=True, name="attempt_unique"),
        IndexModel([("organization_id", ASCENDING), ("completed_at", DESCENDING), ("_id", DESCENDING)]),
        # reports.completed_candidates: completed profiles by a range of completion times.
        IndexModel(
            [
                ("organization_id", ASCENDING),
                ("attempt_status", ASCENDING),
                ("completed_at", DESCENDING),
                ("_id", DESCENDING),
            ]
        ),
        IndexModel([("organization_id", ASCENDING), ("candidate_email", ASCENDING)]),
        IndexModel([("organization_id", ASCENDING), ("position", ASCENDING)]),
        IndexModel([("organization_id", ASCENDING), ("thinking_style.primary", ASCENDING)]),
        IndexModel([("organization_id", ASCENDING), ("risk_orientation.preference", ASCENDING)]),
        # reports: a label filter served in the list's order (newest completion first): the
        # attempts, then the people (``superseded: false``, all equalities; the embedded store
        # serves a query from an index only when the index's leading fields are every field it
        # names). The flag first, so profiles stored before it (``{superseded: None}``) are found
        # through them by _backfill_profile_superseded.
        *_label_list_indexes(("thinking_style.primary",), ("risk_orientation.preference",)),
        *_label_list_indexes(
            ("thinking_style.primary",),
            ("risk_orientation.preference",),
            ("thinking_style.primary", "risk_orientation.preference"),
            first=SUPERSEDED,
        ),
    ],
    # A kit's name is unique among an organisation's kits that are not archived;
    # lists are read by name.
    KITS: [
        IndexModel(
            [("organization_id", ASCENDING), ("name_key", ASCENDING)],
            unique=True,
            name="kit_name_unique",
            partialFilterExpression={"archived": False},
        ),
        IndexModel(
            [("organization_id", ASCENDING), ("archived", ASCENDING), ("name_key", ASCENDING), ("_id", ASCENDING)]
        ),
    ],
    # _id is the attempt's id (unique by itself). Reviewed profiles of an
    # organisation in the candidates list's order, and by decision.
    SELF_IDS: [IndexModel([("organization_id", ASCENDING), ("_id", ASCENDING)])],
    # The drain claims the oldest due message; a panel reads an attempt's mail;
    # ``key`` makes a reminder once per attempt; the purge finds old finished ones.
    MAIL_OUTBOX: [
        IndexModel([("status", ASCENDING), ("next_attempt_at", ASCENDING)]),
        IndexModel([("status", ASCENDING), ("lease_until", ASCENDING)]),
        IndexModel([("attempt_id", ASCENDING), ("created_at", DESCENDING)]),
        IndexModel([("key", ASCENDING)], unique=True, name="key_unique"),
        IndexModel([("organization_id", ASCENDING), ("status", ASCENDING), ("finished_at", ASCENDING)]),
    ],
    # emit reads an organisation's endpoints; the drain claims the oldest due
    # delivery; the page reads an endpoint's log; erasure and purge go by attempt and age.
    WEBHOOK_ENDPOINTS: [IndexModel([("organization_id", ASCENDING), ("created_at", ASCENDING)])],
    WEBHOOK_DELIVERIES: [
        IndexModel([("status", ASCENDING), ("next_attempt_at", ASCENDING)]),
        IndexModel([("status", ASCENDING), ("lease_until", ASCENDING)]),
        IndexModel([("endpoint_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)]),
        IndexModel([("attempt_id", ASCENDING)]),
        IndexModel([("organization_id", ASCENDING), ("status", ASCENDING), ("finished_at", ASCENDING)]),
    ],
    # One per attempt Greenhouse sent (its _id is the attempt's id).
    GREENHOUSE_TESTS: [IndexModel([("organization_id", ASCENDING), ("created_at", ASCENDING)])],
    MAIL_TEMPLATES: [
        IndexModel([("organization_id", ASCENDING), ("kind", ASCENDING)], unique=True, name="org_kind_unique")
    ],
    # A request finds its key by the key's hash; admins list an organisation's keys.
    API_KEYS: [
        IndexModel([("key_hash", ASCENDING)], unique=True, name="key_hash_unique"),
        IndexModel([("organization_id", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)]),
    ],
    REVIEWS: [
        IndexModel([("organization_id", ASCENDING), ("completed_at", DESCENDING), ("_id", DESCENDING)]),
        IndexModel(
            [
                ("organization_id", ASCENDING),
                ("decision.value", ASCENDING),
                ("completed_at", DESCENDING),
                ("_id", DESCENDING),
            ]
        ),
    ],
}


def counter_value(what: str, n: Any) -> int:
    """A stored counter's value (``$inc``-kept: attempt counts, norm
    histograms). Below zero only after a crash between a change and its
    increment: read as 0, with a warning naming the repair."""
    n = int(n or 0)
    if n < 0:
        logging.getLogger("hiremate.counters").warning(
            "counter %s is %d: read as 0 (run `python -m hiremate recount`)", what, n
        )
        return 0
    return n


def upsert_in_batches(collection: Collection, requests: Sequence[UpdateOne], batch_size: int = 1000) -> None:
    """Counter upserts (``$inc`` of documents whose ``_id`` is derived from
    what they count), unordered, in batches. Two first upserts of one ``_id``
    at once can make one of them fail with a duplicate key (MongoDB retries
    those itself; the embedded store serialises them): those are retried
    once, now as updates of the document the other created."""
    for first in range(0, len(requests), batch_size):
        batch = list(requests[first : first + batch_size])
        try:
            collection.bulk_write(batch, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if exc.details.get("writeConcernErrors") or any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            collection.bulk_write([batch[e["index"]] for e in errors], ordered=False)


# Indexes stores made before 2026-12-06 have and no read uses: nothing ever
# asked the events by task and time or by type and time across attempts, and
# each of the two cost every insert of the ingest server's group writer. Side
# by side on this machine (bench/bench_event_indexes.py, groups of 8 events,
# --sync-on-commit): the store's CPU per event about a fifth lower without
# them, and so its latency per group.
OBSOLETE_INDEXES: dict[str, tuple[str, ...]] = {
    EVENTS: ("attempt_id_1_task_id_1_timestamp_1", "event_type_1_timestamp_-1"),
}


def ensure_indexes(db: Database) -> None:
    """Create every index, drop the obsolete ones and fill in fields added
    since a store was made; idempotent, so every process may call it at start."""
    for collection, models in INDEXES.items():
        db[collection].create_indexes(models)
    for collection, names in OBSOLETE_INDEXES.items():
        present = set(db[collection].index_information())
        for name in names:
            if name in present:
                _drop_index_if_there(db[collection], name)
    _backfill_accommodation_open(db)
    backfill_profile_superseded(db)


def _drop_index_if_there(collection: Collection, name: str) -> None:
    """Drop one index; another process starting at the same time may have
    dropped it first, which is what was wanted."""
    try:
        collection.drop_index(name)
    except OperationFailure:
        if name in collection.index_information():
            raise


def backfill_profile_superseded(db: Database, scope: Mapping[str, Any] | None = None) -> int:
    """Profiles stored before every profile carried ``superseded`` get their
    attempt's flag (False when the attempt has none or is gone); returns how
    many. One indexed read of the profiles without the flag (none, once
    done), then per batch the attempts by ``_id`` and the profiles by
    ``attempt_id`` (never a query naming a second field, which the store
    would answer by reading every profile). ``scope`` narrows it (one
    organisation: ``{"organization_id": id}``)."""
    missing = [
        doc.get("attempt_id") for doc in db[PROFILES].find({SUPERSEDED: None, **(scope or {})}, {"attempt_id": 1})
    ]
    for first in range(0, len(missing), BACKFILL_BATCH):
        attempt_ids = missing[first : first + BACKFILL_BATCH]
        written = {attempt_id: False for attempt_id in attempt_ids} | superseded_flags(db, attempt_ids)
        flag_profiles(db, written)
        flag_profiles_changed_since(db, written)
    return len(missing)


def superseded_flags(db: Database, attempt_ids: Sequence[ObjectId]) -> dict[ObjectId, bool]:
    """Each stored attempt's ``superseded`` flag, by ``_id`` (one index read)."""
    found = db[ATTEMPTS].find({"_id": {"$in": list(attempt_ids)}}, {SUPERSEDED: 1})
    return {doc["_id"]: doc.get(SUPERSEDED) is True for doc in found}


def flag_profiles(db: Database, flags: Mapping[ObjectId, bool]) -> None:
    """Set the profiles of these attempts (by ``attempt_id``) to these flags."""
    for value in (True, False):
        ids = [attempt_id for attempt_id, flag in flags.items() if flag is value]
        for first in range(0, len(ids), BACKFILL_BATCH):
            chunk = ids[first : first + BACKFILL_BATCH]
            db[PROFILES].update_many({"attempt_id": {"$in": chunk}}, {"$set": {SUPERSEDED: value}})


def flag_profiles_changed_since(db: Database, written: Mapping[ObjectId, bool]) -> None:
    """``people.settle`` sets an attempt's flag, then its profile's: one that
    did so between a writer's read of the attempts and its write of the
    profiles was overwritten with the old flag. Read the attempts again and
    set what changed since (a settle after this read sets the profile itself)."""
    now = superseded_flags(db, list(written))
    flag_profiles(db, {attempt_id: flag for attempt_id, flag in now.items() if written.get(attempt_id) is not flag})


def _backfill_accommodation_open(db: Database) -> None:
    """Attempts stored before ``accommodation_open`` get it: true when their
    request has no answer. One indexed read of the attempts without the flag
    (none, once done); each document is set from its own request in one
    server-side update, so a request made meanwhile is not overwritten."""
    request = "$accommodation_request"
    db[ATTEMPTS].update_many(
        {ACCOMMODATION_OPEN: None},
        [
            {
                "$set": {
                    ACCOMMODATION_OPEN: {
                        "$and": [
                            {"$ne": [{"$ifNull": [f"{request}.requested_at", None]}, None]},
                            {"$eq": [{"$ifNull": [f"{request}.answered_at", None]}, None]},
                        ]
                    }
                }
            }
        ],
    )


# ---------------------------------------------------------------- the embedded store


@dataclass
class EmbeddedStore:
    """A SecantusDB process this process started (None of these when it was
    already running). ``respawn`` starts the same command again on the same
    files (the launcher's supervision); ``lock``, when set, is the store's
    file lock, held for as long as this process owns the store, so that no
    other HireMate process starts a second one while it is being restarted."""

    process: subprocess.Popen[bytes]
    log_path: Path
    command: list[str] = field(default_factory=list)
    lock: FileLock | None = None

    def respawn(self) -> None:
        """Start the store's command again (after it exited); does not wait."""
        if self.process.poll() is None:
            raise RuntimeError("the embedded store is still running")
        self.process = _spawn(self.command, self.log_path)

    def stop(self, timeout: float = 10.0) -> None:
        try:
            if self.process.poll() is not None:
                return
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        finally:
            if self.lock is not None:
                self.lock.release()
                self.lock = None


def _store_command() -> str:
    beside_python = Path(sys.executable).parent / "secantusd-py"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("secantusd-py")
    if not found:
        raise StoreUnavailable(
            "secantusd-py was not found: install requirements.txt (secantusdb) "
            "or set HIREMATE_MONGODB_URI to a MongoDB server"
        )
    return found


def _answers(uri: str, timeout_ms: int = 500) -> bool:
    client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms)
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def store_command(
    storage_path: str | Path, port: int, *, sync_on_commit: bool = True, bulk_load: bool = False
) -> list[str]:
    """The embedded store's command line: on the loopback interface only (it
    has no authentication; only processes of this machine may talk to it).

    ``bulk_load``: a store for loading data in bulk, nothing else. It then
    answers as a standalone server, which keeps no oplog: no change streams
    (the ingest server's live fan-out needs them), and each insert costs no
    oplog entry and, once the oplog is at its cap, no pruning of one
    (measured 2026-12-06: seeding 20,000 attempts inserted in 101 s instead
    of 178 s). Start the store again without it before anything else uses
    the files."""
    command = [_store_command(), "--storage-path", str(storage_path), "--host", STORE_HOST, "--port", str(port)]
    if sync_on_commit:
        command.append("--sync-on-commit")
    if bulk_load:
        command.append("--standalone")
    return command


def _spawn(command: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    devnull = log_path == Path(os.devnull)
    log = os.open(os.devnull, os.O_WRONLY) if devnull else datadir.open_private_log(log_path)
    try:
        # Its own session: a Ctrl-C in a terminal reaches the launcher, which then
        # stops the store in order, after the processes that write to it. umask
        # 077: the store's files are its user's only, like the rest of the data dir.
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, umask=0o077)
    finally:
        os.close(log)  # the child keeps its own copy


def wait_until_answers(store: EmbeddedStore, uri: str, *, timeout: float = STORE_START_TIMEOUT_SECONDS) -> None:
    """Wait until a store just spawned answers; StoreUnavailable (and the
    process killed) when it exits or stays silent."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if store.process.poll() is not None:
            raise StoreUnavailable(
                f"the embedded store exited with code {store.process.returncode} at start "
                f"({' '.join(store.command[1:])}); see {store.log_path}"
            )
        if _answers(uri, 300):
            return
        time.sleep(0.1)
    store.process.kill()
    store.process.wait()
    raise StoreUnavailable(f"the embedded store did not answer within {timeout:.0f}s; see {store.log_path}")


def start_embedded_store(
    storage_path: str | Path,
    port: int,
    *,
    sync_on_commit: bool = True,
    log_path: Path | None = None,
    bulk_load: bool = False,
    timeout: float = STORE_START_TIMEOUT_SECONDS,
) -> EmbeddedStore:
    """Start a SecantusDB server and wait until it answers (``bulk_load``: see
    ``store_command``). A store reopened on large files takes longer to
    answer: more than 30 s with 3 million events (measured 2026-12-06)."""
    command = store_command(storage_path, port, sync_on_commit=sync_on_commit, bulk_load=bulk_load)
    log_path = Path(os.devnull) if log_path is None else log_path
    store = EmbeddedStore(_spawn(command, log_path), log_path, command)
    wait_until_answers(store, f"mongodb://{STORE_HOST}:{port}/", timeout=timeout)
    return store


def _store_lock(settings: Settings) -> FileLock:
    datadir.ensure_private_dir(settings.data_dir)
    return FileLock(str(settings.data_dir / "embedded-store.lock"), mode=datadir.FILE_MODE)


def ensure_embedded_store(settings: Settings, *, own: bool = False) -> EmbeddedStore | None:
    """Make sure the embedded store answers; start it when nobody has.

    Returns the store when this call started it (the caller owns stopping
    it), None when it already answered or a Mongo URI is configured.

    The store is started under the file lock ``embedded-store.lock``, so only
    one process starts it. While the lock is held by another process (which
    is starting the store, or, as ``make run`` does, owns it and restarts it
    when it crashes), this waits for the store to answer instead. With
    ``own=True`` the returned store keeps holding the lock until it is
    stopped (the launcher, which supervises it).
    """
    if not settings.uses_embedded_store:
        return None
    if _answers(settings.mongo_uri):
        return None
    lock = _store_lock(settings)
    deadline = time.monotonic() + STORE_START_TIMEOUT_SECONDS + 10
    while True:
        try:
            lock.acquire(timeout=0.5)
        except Timeout:
            if _answers(settings.mongo_uri):
                return None  # the lock's holder has it running
            if time.monotonic() > deadline:
                raise StoreUnavailable(
                    f"the embedded store does not answer on port {settings.embedded_port} and another process "
                    f"holds {lock.lock_file} (is `make run` restarting it?); see {settings.data_dir / 'secantusd.log'}"
                ) from None
            continue
        break
    try:
        if _answers(settings.mongo_uri):
            lock.release()
            return None  # another process started it while we waited
        store = start_embedded_store(
            settings.data_dir / "db",
            settings.embedded_port,
            sync_on_commit=settings.embedded_sync_on_commit,
            log_path=settings.data_dir / "secantusd.log",
        )
    except BaseException:
        lock.release()
        raise
    if own:
        store.lock = lock
    else:
        lock.release()
    return store


# ---------------------------------------------------------------- the client

_lock = threading.Lock()
_client: MongoClient | None = None
_client_uri: str | None = None
_started_store: EmbeddedStore | None = None


_ONE_MS = timedelta(milliseconds=1)


def at_or_after(when: datetime) -> dict[str, datetime]:
    """The condition ``>= when`` for a date field, written as ``$gt`` one
    millisecond earlier (the same for BSON dates, which hold milliseconds):
    SecantusDB 0.7.0b3 serves ``$gte`` on a descending index field as ``$gt``
    and drops a document exactly at ``when``."""
    return {"$gt": when - _ONE_MS}


# The update operators ``find_one_and_update`` carries out as a find and an
# ``update_one`` on SecantusDB: what it can pin and rebuild the post-image of.
_EMULATED_OPERATORS = frozenset({"$set", "$inc", "$unset"})
_store_kinds: weakref.WeakKeyDictionary[MongoClient, bool] = weakref.WeakKeyDictionary()
_store_kinds_lock = threading.Lock()


def is_secantus(client: MongoClient) -> bool:
    """Whether ``client`` talks to SecantusDB (asked once per client)."""
    with _store_kinds_lock:
        known = _store_kinds.get(client)
    if known is None:
        known = _remember_store_kind(client, client.admin.command("buildInfo"))
    return known


def _remember_store_kind(client: MongoClient, build_info: Mapping[str, Any]) -> bool:
    """Whether ``build_info`` (the server's ``buildInfo``) is SecantusDB's, kept for ``client``."""
    known = _is_secantus_build(build_info)
    with _store_kinds_lock:
        _store_kinds[client] = known
    return known


def find_one_and_update(
    collection: Collection,
    query: Mapping[str, Any],
    update: Mapping[str, Any],
    *,
    return_document: ReturnDocument = ReturnDocument.BEFORE,
    sort: Sequence[tuple[str, int]] | None = None,
) -> dict[str, Any] | None:
    """``collection.find_one_and_update(query, update, sort=sort)``: the
    compare-and-set of one document (the first in ``sort`` order when several
    match), the document before (or after) it, None when nothing matched.

    On SecantusDB 0.7.0b3 a ``findAndModify`` reads the whole collection for
    its write (it writes with ``{_id, $and: [query]}``, and a filter with a
    ``$`` key never uses an index): with 3,000 attempts 35-50 ms a call,
    growing with the collection. There it is done as the store itself does
    it, find and then write re-asserting the query (again if the write
    missed), but with an ``update_one`` the store serves by ``_id`` (4-6 ms).
    The write also pins every field the update changes to the value found,
    so it lands only on the document as found in those fields: the
    pre-image is exact for them, and the post-image is built from it (the
    others are as found; a concurrent change to them commutes with this
    one). Anything else (other operators, dotted paths, a ``$`` key in the
    query, a MongoDB server) goes to ``find_one_and_update`` itself."""
    if not _emulable(query, update) or not is_secantus(collection.database.client):
        return collection.find_one_and_update(query, update, return_document=return_document, sort=sort)
    rest = {key: value for key, value in query.items() if key != "_id"}
    touched = {name for names in update.values() for name in names}
    while True:
        before = collection.find_one(query, sort=sort)
        if before is None:
            return None
        # _id first: the store serves a filter from an index one clause at a time, in order.
        pinned = {"_id": before["_id"], **rest, **{name: before.get(name) for name in touched}}
        if collection.update_one(pinned, update).matched_count == 1:
            return before if return_document == ReturnDocument.BEFORE else _applied(before, update)


def update_by_id(
    collection: Collection, query: Mapping[str, Any], update: Mapping[str, Any], *, upsert: bool = False
) -> dict[str, Any] | None:
    """``collection.find_one_and_update(query, update, upsert=upsert,
    return_document=AFTER)`` for a query that names the ``_id`` and an update
    ``find_one_and_update`` cannot pin (``$push``, dotted paths): the document
    after the write, None when nothing matched.

    On SecantusDB an ``update_one`` whose filter names the ``_id`` first (the
    store serves it from that index), then a read by ``_id``: its
    ``findAndModify`` reads the whole collection for its write (with 20,000
    reviews 221 ms against 2.5 ms, ``bench/bench_claims.py``). The write is
    the same single-document compare-and-set; the image read back may also hold a
    change another writer made right after it. A MongoDB server gets the
    real command."""
    if not is_secantus(collection.database.client):
        return collection.find_one_and_update(query, update, upsert=upsert, return_document=ReturnDocument.AFTER)
    doc_id = query["_id"]
    written = collection.update_one({"_id": doc_id, **query}, update, upsert=upsert)
    if written.matched_count == 0 and written.upserted_id is None:
        return None
    return collection.find_one({"_id": doc_id})


def _emulable(query: Mapping[str, Any], update: Mapping[str, Any]) -> bool:
    if not update or not set(update) <= _EMULATED_OPERATORS or any(key.startswith("$") for key in query):
        return False
    names = [name for names in update.values() for name in names]
    return all("." not in name and not name.startswith("$") and name != "_id" for name in names) and all(
        isinstance(value, int | float) and not isinstance(value, bool) for value in update.get("$inc", {}).values()
    )


def _applied(doc: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``doc`` with ``update`` ($set, $inc, $unset of top-level fields) applied."""
    after = dict(doc)
    after.update(update.get("$set", {}))
    for name, step in update.get("$inc", {}).items():
        after[name] = after.get(name, 0) + step
    for name in update.get("$unset", {}):
        after.pop(name, None)
    return after


def make_client(uri: str, *, timeout_ms: int = 5000, retry_writes: bool = False) -> MongoClient:
    """A client as HireMate uses it: tz-aware UTC datetimes, majority writes.

    Retryable writes are off unless asked for: SecantusDB 0.7.0b3 keeps a
    record of every retryable write for 30 minutes and scans them all on each
    write, sorting them once there are 10,000, so a busy store slowed from
    0.6 to 3 ms a write (p99 1 to 40 ms) after 10,000 writes, where without
    them it stays at 0.4 ms. HireMate's writes do not need the driver's
    retry: events are idempotent by their unique (attempt, sequence number)
    and are re-sent by the client, transitions are compare-and-sets whose
    failure is reported. ``get_client`` turns them on when the server is a
    MongoDB server. Options written in the URI win over these defaults."""
    options: dict[str, object] = {"tz_aware": True, "w": "majority", "appname": "hiremate"}
    lowered = uri.lower()
    if "serverselectiontimeoutms" not in lowered:
        options["serverSelectionTimeoutMS"] = timeout_ms
    if "connecttimeoutms" not in lowered:
        options["connectTimeoutMS"] = timeout_ms
    if "retrywrites" not in lowered:
        options["retryWrites"] = retry_writes
    return MongoClient(uri, **options)


def redact_uri(uri: str) -> str:
    """The URI without its password, for messages and logs."""
    scheme, sep, rest = uri.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return uri
    credentials, _, host = rest.partition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


def wants_retryable_writes(build_info: dict[str, Any], uri: str) -> bool:
    """Whether a client for this server should retry writes itself: yes for a
    MongoDB server, no for SecantusDB (see ``make_client``), and whatever the
    URI says when it says so (``make_client`` leaves that to the URI)."""
    return not _is_secantus_build(build_info) and "retrywrites" not in uri.lower()


def _is_secantus_build(build_info: Mapping[str, Any]) -> bool:
    return "secantusVersion" in build_info


def get_client(settings: Settings | None = None) -> MongoClient:
    """The one MongoClient of this process (started store and indexes included)."""
    global _client, _client_uri, _started_store
    settings = settings or get_settings()
    with _lock:
        if _client is not None and _client_uri == settings.mongo_uri:
            return _client
        _started_store = ensure_embedded_store(settings) or _started_store
        client = make_client(settings.mongo_uri)
        try:
            build_info = client.admin.command("buildInfo")
        except PyMongoError as exc:
            client.close()
            where = redact_uri(settings.mongo_uri)
            raise StoreUnavailable(
                f"the database at {where} does not answer; start it or fix HIREMATE_MONGODB_URI ({type(exc).__name__})"
            ) from exc
        if wants_retryable_writes(build_info, settings.mongo_uri):
            client.close()
            client = make_client(settings.mongo_uri, retry_writes=True)
        _remember_store_kind(client, build_info)  # find_one_and_update need not ask again
        ensure_indexes(client[settings.db_name])
        if _client is not None:
            _client.close()
        _client, _client_uri = client, settings.mongo_uri
        return client


def get_db(settings: Settings | None = None) -> Database:
    settings = settings or get_settings()
    return get_client(settings).get_database(settings.db_name, write_concern=WriteConcern("majority"))


def reset_client() -> None:
    """Forget the process client (tests switch databases with this)."""
    global _client, _client_uri
    with _lock:
        if _client is not None:
            _client.close()
        _client, _client_uri = None, None


def stop_started_store() -> None:
    """Stop the embedded store if this process started it.

    Long-running processes leave it running for the others; a short command
    (the CLI) that had to start it stops it again on its way out."""
    global _started_store
    reset_client()
    if _started_store is not None:
        _started_store.stop()
        _started_store = None


def ping(db: Database) -> bool:
    try:
        db.client.admin.command("ping")
        return True
    except PyMongoError:
        return False
