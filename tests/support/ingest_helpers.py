"""Shared pieces of the ingest server tests: attempts in a test database, a
protocol client over a real WebSocket, raw HTTP, subprocess servers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId
from pymongo.database import Database
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from hiremate import attempts
from hiremate import db as dbmod
from hiremate.live_tickets import mint_ticket
from hiremate.models import CandidateInfo, EventType, LoginSession, Task, TaskAttempt, User
from hiremate.ops import simulate
from hiremate.scope import Scope
from hiremate.settings import IngestLimits, Settings
from hiremate.timeutil import iso, utcnow
from ingest_server import IngestServer

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_STATIC = Path(__file__).resolve().parent / "ingest_static"
PUBLIC_URL = "http://ingest.test"

# Generous limits for tests that are not about limits.
OPEN_LIMITS = IngestLimits(
    events_per_second=100_000.0,
    event_burst=100_000,
    connections_per_minute=10_000,
    page_requests_per_minute=10_000,
    live_connections_per_minute=10_000,
    max_sockets_per_address=10_000,
)


def with_limits(settings: Settings, **changes: Any) -> Settings:
    assert set(changes) <= set(IngestLimits.model_fields), (
        f"not a limit: {set(changes) - set(IngestLimits.model_fields)}"
    )
    return settings.model_copy(update=changes)


# ---------------------------------------------------------------- attempts


@dataclass
class Issued:
    attempt: TaskAttempt
    token: str
    tasks: list[Task]
    scope: Scope

    @property
    def attempt_id(self) -> ObjectId:
        assert self.attempt.id is not None
        return self.attempt.id


def make_tasks(db: Database, organization_id: ObjectId, count: int, *, seed: int = 1, **kwargs: Any) -> list[Task]:
    tasks = simulate.make_tasks(random.Random(seed), count, organization_id=organization_id, now=utcnow(), **kwargs)
    db[dbmod.TASKS].insert_many([task.to_doc() for task in tasks])
    return tasks


def issue(
    db: Database,
    *,
    count: int = 3,
    seed: int | None = None,
    organization_id: ObjectId | None = None,
    name: str = "Ada Lovelace",
    position: str = "Analyst",
    expires_days: int = 7,
    tasks: list[Task] | None = None,
    **task_kwargs: Any,
) -> Issued:
    scope = Scope(db, organization_id or ObjectId(), ObjectId())
    if seed is None:
        seed = random.randrange(1 << 30)
    tasks = tasks or make_tasks(db, scope.organization_id, count, seed=seed, **task_kwargs)
    issued = attempts.issue_attempt(
        scope,
        candidate=CandidateInfo(name=name, email="ada@example.com", position=position),
        task_ids=[task.id for task in tasks],
        expires_days=expires_days,
        public_url=PUBLIC_URL,
    )
    return Issued(issued.attempt, issued.token, tasks, scope)


def issue_cohort(
    db: Database, *, tasks: list[Task], organization_id: ObjectId, count: int, name: str = "Candidate"
) -> list[Issued]:
    """``count`` attempts at the same tasks for as many candidates (``name 1``,
    ``name 2``, ... each with an email of their own) in one ``issue_many``, the
    Bulk issue page's path: about 4 ms an attempt where ``issue`` one by one
    takes over 70 (each one settles its person and audits alone)."""
    scope = Scope(db, organization_id, ObjectId())
    tag = ObjectId()
    candidates = [
        attempts.NewAttempt(CandidateInfo(name=f"{name} {n}", email=f"c{n}-{tag}@example.com", position="Analyst"))
        for n in range(1, count + 1)
    ]
    issued = attempts.issue_many(
        scope, candidates, source=attempts.TaskSource(fixed=tuple(tasks)), public_url=PUBLIC_URL
    )
    return [Issued(one.attempt, one.token, list(tasks), scope) for one in issued]


def session_messages(tasks: list[Task], *, seed: int = 7, stop_after_tasks: int | None = None) -> list[dict[str, Any]]:
    """A realistic session's event messages (seq from 1), as the page sends them."""
    events = simulate.simulate_events(tasks, random.Random(seed), start=utcnow(), stop_after_tasks=stop_after_tasks)
    return [event.message() for event in events]


def minimal_task_messages(task: Task, index: int, first_seq: int) -> list[dict[str, Any]]:
    """The shortest valid run through one task."""
    option = task.options[0].id
    text = "Because the data is incomplete, I would first check it carefully."
    while len(text) < task.reasoning_min_length:
        text += " I would also ask the team."
    steps: list[tuple[EventType, dict[str, Any]]] = [
        (EventType.TASK_STARTED, {"task_index": index}),
        (EventType.OPTION_SELECTED, {"option_id": option, "is_first_selection": True}),
    ]
    if task.reasoning_required:
        steps += [
            (EventType.REASONING_STARTED, {"time_since_task_start_ms": 1000}),
            (
                EventType.REASONING_SUBMITTED,
                {"final_text": text, "word_count": len(text.split()), "character_count": len(text)},
            ),
        ]
    steps.append((EventType.TASK_COMPLETED, {"final_option_id": option, "task_duration_ms": 5000}))
    return [event(first_seq + i, task.id, kind, payload) for i, (kind, payload) in enumerate(steps)]


def all_tasks_messages(tasks: list[Task], first_seq: int = 1) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for index, task in enumerate(tasks):
        out += minimal_task_messages(task, index, first_seq + len(out))
    return out


def event(seq: int, task_id: Any, event_type: EventType | str, payload: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "seq": seq,
        "task_id": str(task_id),
        "event_type": str(event_type),
        "payload": payload,
        "client_timestamp": iso(utcnow()),
        **extra,
    }


def focus_events(task_id: Any, first_seq: int, count: int) -> list[dict[str, Any]]:
    """Events valid at any time (alternating focus lost/gained)."""
    kinds = [EventType.FOCUS_LOST, EventType.FOCUS_GAINED]
    return [event(first_seq + i, task_id, kinds[i % 2], {"trigger": "tab_switch"}) for i in range(count)]


def tiny_events(task_id: Any, first_seq: int, count: int) -> list[dict[str, Any]]:
    """The smallest valid events (500 of them fit a 48 KiB batch)."""
    kinds = ["focus_lost", "focus_gained"]
    return [
        {"seq": first_seq + i, "task_id": str(task_id), "event_type": kinds[i % 2], "payload": {}} for i in range(count)
    ]


def watcher(db: Database, organization_id: ObjectId, *, session_days: int = 1) -> tuple[ObjectId, ObjectId]:
    """An active user of the organisation and a live login session of theirs,
    stored directly (no bcrypt, no organisation document): what a live ticket
    is checked against. Returns (user id, session id)."""
    now = utcnow()
    user = User(
        email=f"watcher-{ObjectId()}@example.com",
        password_hash="not-a-hash",
        full_name="Wanda Watcher",
        organization_id=organization_id,
        created_at=now,
        updated_at=now,
    )
    user_id = db[dbmod.USERS].insert_one(user.to_doc()).inserted_id
    session = LoginSession(
        session_hash=ObjectId().binary.hex(),
        user_id=user_id,
        organization_id=organization_id,
        created_at=now,
        expires_at=now + timedelta(days=session_days),
    )
    session_id = db[dbmod.SESSIONS].insert_one(session.to_doc()).inserted_id
    return user_id, session_id


def live_ticket(issued: Issued, secret: bytes, **changes: Any) -> str:
    """A v2 ticket for a fresh watcher of the attempt's organisation; ``changes``
    override the claims (``user_id``, ``session_id``, ``now``, ``ttl_seconds``, ...)."""
    if "user_id" not in changes and "session_id" not in changes:
        changes["user_id"], changes["session_id"] = watcher(issued.scope.db, issued.scope.organization_id)
    claims = {"attempt_id": issued.attempt_id, "organization_id": issued.scope.organization_id, **changes}
    return mint_ticket(secret, **claims)


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait on the loop until ``condition()`` holds; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"not within {timeout} s"
        await asyncio.sleep(0.01)


def stored_seqs(db: Database, attempt_id: ObjectId) -> list[int]:
    return [d["sequence_number"] for d in db[dbmod.EVENTS].find({"attempt_id": attempt_id}).sort("sequence_number", 1)]


# ---------------------------------------------------------------- servers


@contextlib.asynccontextmanager
async def running_server(settings: Settings, db: Database, **kwargs: Any) -> AsyncIterator[IngestServer]:
    kwargs.setdefault("sweep_interval", 3600.0)
    server = IngestServer(settings, db, **kwargs)
    async with server.running(host="127.0.0.1", port=0) as running:
        yield running


def ws_url(server: IngestServer | int, path: str) -> str:
    port = server if isinstance(server, int) else server.port
    return f"ws://127.0.0.1:{port}{path}"


# ---------------------------------------------------------------- a protocol client


def start_message(info: dict[str, Any] | None) -> dict[str, Any]:
    """The ``start`` a candidate sends after reading ``info`` (an ``assessment_info``): with consent."""
    assert info is not None and info.get("type") == "assessment_info", info
    return {"type": "start", "consent": {"notice_version": info["notice"]["version"]}}


class Client:
    """A candidate's socket, speaking docs/protocol.md."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.info: dict[str, Any] | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, port: int, token: str, **kwargs: Any) -> AsyncIterator[Client]:
        async with connect(ws_url(port, f"/ws/assessment/{token}"), open_timeout=10, **kwargs) as ws:
            client = cls(ws)
            client.info = await client.recv()
            assert client.info["type"] == "assessment_info", client.info
            yield client

    async def send(self, message: dict[str, Any] | str) -> None:
        await self.ws.send(message if isinstance(message, str) else json.dumps(message, separators=(",", ":")))

    async def send_if_open(self, message: dict[str, Any] | str) -> None:
        """Send, unless the server already closed the socket (a race the test allows)."""
        with contextlib.suppress(ConnectionClosed):
            await self.send(message)

    async def recv(self, timeout: float = 10.0) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        return json.loads(raw)

    async def ask(self, message: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
        await self.send(message)
        return await self.recv(timeout)

    def start_message(self) -> dict[str, Any]:
        """``start``, acknowledging the notice this socket's ``assessment_info`` showed."""
        return start_message(self.info)

    async def start(self) -> dict[str, Any]:
        answer = await self.ask(self.start_message())
        assert answer["type"] == "started", answer
        return answer

    async def resume(self, session_key: str) -> dict[str, Any]:
        answer = await self.ask({"type": "resume", "session_key": session_key})
        assert answer["type"] == "resumed", answer
        return answer

    async def send_event(self, message: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return await self.ask({"type": "event", **message, **extra})

    async def send_batch(self, events: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return await self.ask({"type": "batch", "sent_at": iso(utcnow()), "events": events, **extra})

    async def send_all(self, messages: Iterable[dict[str, Any]], batch: int = 50) -> list[dict[str, Any]]:
        """Send in batches; return every answer (acks, errors, completion)."""
        answers = []
        chunk: list[dict[str, Any]] = []
        for message in messages:
            chunk.append(message)
            if len(chunk) == batch:
                answers.append(await self.send_batch(chunk))
                chunk = []
        if chunk:
            answers.append(await self.send_batch(chunk))
        return answers

    async def closed(self, timeout: float = 10.0) -> tuple[int | None, list[dict[str, Any]]]:
        """Wait for the server to close; return the close code and what came before."""
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("the server did not close the socket")
                seen.append(json.loads(await asyncio.wait_for(self.ws.recv(), left)))
        except ConnectionClosed:
            pass
        return self.ws.close_code, seen


# ---------------------------------------------------------------- raw HTTP


@dataclass
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


_STATE = re.compile(rb'<script id="hm-state" type="application/json">(.*?)</script>', re.S)


def page_state(body: bytes) -> dict[str, Any]:
    """The state the candidate page's HTML carries (``<script id="hm-state">``)."""
    found = _STATE.search(body)
    assert found, body[:500]
    return json.loads(found.group(1))


async def http_get(port: int, path: str, headers: dict[str, str] | None = None, method: str = "GET") -> HttpAnswer:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {}
    for line in header_lines:
        key, _, value = line.partition(":")
        parsed[key.strip().lower()] = value.strip()
    return HttpAnswer(int(status_line.split()[1]), parsed, body)


# ---------------------------------------------------------------- subprocess servers


class ServerProcess:
    """``python -m ingest_server`` in a subprocess."""

    def __init__(self, env: dict[str, str], port: int, log_path: Path) -> None:
        self.env = env
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> ServerProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ingest_server", "--port", str(self.port)],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the ingest server exited: {self.log_path.read_text()}")
            try:
                import urllib.request

                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the ingest server did not answer: {self.log_path.read_text()}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def terminate(self, timeout: float = 15.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode


def server_env(uri: str, db_name: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HIREMATE_")}
    env.update(
        {
            "HIREMATE_MONGODB_URI": uri,
            "HIREMATE_DB_NAME": db_name,
            "HIREMATE_DATA_DIR": str(data_dir),
            "HIREMATE_SECRET": "test-secret-not-for-production-0123456789",
            "HIREMATE_AUDIT_KEY": "test-audit-key-not-for-production-0123456789",
            "HIREMATE_RATE_EVENTS_PER_SECOND": "100000",
            "HIREMATE_RATE_BURST": "100000",
            "HIREMATE_MAX_SOCKETS_PER_ADDRESS": "10000",
            "PYTHONDONTWRITEBYTECODE": "1",
            **extra,
        }
    )
    return env


# ---------------------------------------------------------------- fixtures (import them into a test module)


@pytest.fixture
def ingest_settings(settings: Settings) -> Settings:
    return with_limits(settings, **OPEN_LIMITS.model_dump())


@pytest.fixture
async def server(ingest_settings: Settings, db: Database) -> AsyncIterator[IngestServer]:
    async with running_server(ingest_settings, db, static_dir=FIXTURE_STATIC) as running:
        yield running


@dataclass
class OwnStore:
    """A store of one test's own, which the test may stop or kill."""

    uri: str
    port: int
    store: dbmod.EmbeddedStore

    def client(self) -> Any:
        return dbmod.make_client(self.uri, timeout_ms=1500)

    def server_setup(self, tmp_path: Path, db_name: str) -> tuple[Settings, Database]:
        """Settings of an ingest server on this store (open limits) and its
        database, indexes made."""
        settings = Settings(
            mongodb_uri=self.uri,
            db_name=db_name,
            data_dir=tmp_path,
            secret_from_env="s" * 32,
            audit_key_from_env="a" * 32,
            **OPEN_LIMITS.model_dump(),
        )
        db = self.client().get_database(db_name)
        dbmod.ensure_indexes(db)
        return settings, db


@pytest.fixture
def own_store() -> Iterator[OwnStore]:
    from tests.conftest import free_port

    port = free_port()
    store = dbmod.start_embedded_store(":memory:", port, sync_on_commit=False)
    try:
        yield OwnStore(f"mongodb://127.0.0.1:{port}/", port, store)
    finally:
        store.stop()
