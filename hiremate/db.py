"""The database: one MongoClient per process, the embedded store, indexes.

With ``HIREMATE_MONGODB_URI`` unset, HireMate runs against SecantusDB, a
MongoDB-compatible server started here as its own process (it is GPL-2.0,
so it is only ever run as a command, never imported). Whichever HireMate
process needs it first starts it, under a file lock.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from filelock import FileLock
from pymongo import ASCENDING, DESCENDING, IndexModel, MongoClient
from pymongo.database import Database
from pymongo.errors import PyMongoError
from pymongo.write_concern import WriteConcern

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
TASKS = "tasks"
ATTEMPTS = "task_attempts"
ATTEMPT_COUNTS = "attempt_counts"  # per-organisation counters of attempts (hiremate.attempt_counts)
EVENTS = "behavior_events"
METRICS = "computed_metrics"
PROFILES = "skill_profiles"

STORE_START_TIMEOUT_SECONDS = 30.0


INDEXES: dict[str, list[IndexModel]] = {
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
    ],
    # Counter documents (their ``_id`` is derived from what they count, so upserts
    # need no unique index of their own); read by organisation and kind, day
    # documents by a range of days.
    ATTEMPT_COUNTS: [IndexModel([("organization_id", ASCENDING), ("kind", ASCENDING), ("day", ASCENDING)])],
    EVENTS: [
        IndexModel([("attempt_id", ASCENDING), ("sequence_number", ASCENDING)], unique=True, name="attempt_seq_unique"),
        IndexModel([("attempt_id", ASCENDING), ("task_id", ASCENDING), ("timestamp", ASCENDING)]),
        IndexModel([("event_type", ASCENDING), ("timestamp", DESCENDING)]),
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
        # reports: a label filter served in the list's order (newest completion first).
        IndexModel(
            [
                ("organization_id", ASCENDING),
                ("thinking_style.primary", ASCENDING),
                ("completed_at", DESCENDING),
                ("_id", DESCENDING),
            ]
        ),
        IndexModel(
            [
                ("organization_id", ASCENDING),
                ("risk_orientation.preference", ASCENDING),
                ("completed_at", DESCENDING),
                ("_id", DESCENDING),
            ]
        ),
    ],
}


def ensure_indexes(db: Database) -> None:
    """Create every index; idempotent, so every process may call it at start."""
    for collection, models in INDEXES.items():
        db[collection].create_indexes(models)


# ---------------------------------------------------------------- the embedded store


@dataclass
class EmbeddedStore:
    """A SecantusDB process this process started (None of these when it was
    already running)."""

    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)


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


def start_embedded_store(
    storage_path: str | Path,
    port: int,
    *,
    sync_on_commit: bool = True,
    log_path: Path | None = None,
) -> EmbeddedStore:
    """Start a SecantusDB server and wait until it answers."""
    command = [_store_command(), "--storage-path", str(storage_path), "--host", "127.0.0.1", "--port", str(port)]
    if sync_on_commit:
        command.append("--sync-on-commit")
    if log_path is None:
        log_path = Path(os.devnull)
    else:
        log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")  # noqa: SIM115 - the child keeps it open
    # Its own session: a Ctrl-C in a terminal reaches the launcher, which then
    # stops the store in order, after the processes that write to it.
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    uri = f"mongodb://127.0.0.1:{port}/"
    deadline = time.monotonic() + STORE_START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StoreUnavailable(
                f"the embedded store exited with code {process.returncode} at start "
                f"(storage {storage_path}, port {port}); see {log_path}"
            )
        if _answers(uri, 300):
            return EmbeddedStore(process, log_path)
        time.sleep(0.1)
    process.kill()
    raise StoreUnavailable(
        f"the embedded store did not answer on port {port} within {STORE_START_TIMEOUT_SECONDS:.0f}s; see {log_path}"
    )


def ensure_embedded_store(settings: Settings) -> EmbeddedStore | None:
    """Make sure the embedded store answers; start it when nobody has.

    Returns the store when this call started it (the caller owns stopping
    it), None when it already answered or a Mongo URI is configured.
    """
    if not settings.uses_embedded_store:
        return None
    if _answers(settings.mongo_uri):
        return None
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(settings.data_dir / "embedded-store.lock"), timeout=STORE_START_TIMEOUT_SECONDS + 10):
        if _answers(settings.mongo_uri):
            return None  # another process started it while we waited
        return start_embedded_store(
            settings.data_dir / "db",
            settings.embedded_port,
            sync_on_commit=settings.embedded_sync_on_commit,
            log_path=settings.data_dir / "secantusd.log",
        )


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
    return "secantusVersion" not in build_info and "retrywrites" not in uri.lower()


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
