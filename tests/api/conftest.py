"""One REST API server per test module, on a real loopback socket (uvicorn
in a thread, the v1 app mounted at /api/v1 behind the recruiter app's
security headers, as asgi.py serves it), over a database seeded once per
module with two organisations and their keys."""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from pymongo.database import Database
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount

import api
from hiremate import api_keys, attempts, auth, kits, people
from hiremate import db as dbmod
from hiremate import settings as settingsmod
from hiremate import tasks as tasksmod
from hiremate.models import CandidateInfo, Role
from hiremate.ops import simulate
from hiremate.scope import Scope
from recruiter.security_headers import SecurityHeaders
from tests.conftest import TEST_AUDIT_KEY, TEST_SECRET, free_port

PASSWORD = "correct horse battery staple 42"
ISSUED_A = 30  # pending attempts of organisation A, besides its completed ones


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


@dataclass
class Org:
    scope: Scope
    tasks: list
    completed: list
    pending: list
    kit_id: str = ""


@dataclass
class World:
    db: Database
    a: Org
    b: Org
    keys: dict[str, str] = field(default_factory=dict)  # name -> plaintext
    key_ids: dict[str, str] = field(default_factory=dict)


@dataclass
class Api:
    host: str
    app: Any
    world: World

    def call(
        self, method: str, path: str, *, key: str | None = "a_write", body: Any = None, headers: dict | None = None
    ) -> Answer:
        sent = dict(headers or {})
        if key is not None:
            sent["Authorization"] = f"Bearer {self.world.keys.get(key, key)}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        connection = http.client.HTTPConnection(self.host, timeout=30)
        try:
            connection.request(method, api.PREFIX + path, body=data, headers=sent)
            response = connection.getresponse()
            return Answer(response.status, response.headers, response.read())
        finally:
            connection.close()

    def get(self, path: str, **kwargs: Any) -> Answer:
        return self.call("GET", path, **kwargs)


def _member(db: Database, name: str) -> Scope:
    organization = auth.create_organization(db, name)
    user = auth.create_user(
        db,
        email=f"admin@{organization.slug}.test",
        full_name=f"Admin of {name}",
        password=PASSWORD,
        organization_id=organization.id,
        role=Role.ADMIN,
    )
    return auth.scope_for(db, user)


def _org(db: Database, name: str, seed: int, completed: int, pending: int) -> Org:
    scope = _member(db, name)
    rng = random.Random(seed)
    made = [
        tasksmod.create_task(scope, task.model_dump(include=set(tasksmod.AUTHORED_FIELDS)))
        for task in simulate.make_tasks(rng, 3)
    ]
    done = [
        simulate.seed_completed_attempt(
            db,
            organization_id=scope.organization_id,
            tasks=made,
            rng=random.Random(seed * 100 + i),
            candidate=CandidateInfo(name=f"Done {i}", email=f"done{i}@{seed}.example.com", position="Analyst"),
        )
        for i in range(completed)
    ]
    issued = []
    for i in range(pending):
        # Several attempts per person (every third email repeats), to list people, not attempts.
        candidate = CandidateInfo(name=f"Cand {i}", email=f"cand{i % 20}@{seed}.example.com", position="Engineer")
        issued.append(
            attempts.issue_attempt(
                scope, candidate=candidate, task_ids=[made[0].id], public_url="http://candidates.test"
            ).attempt
        )
    people.settle(db, scope.organization_id, [a.candidate_info.email for a in issued])
    kit = kits.create_kit(scope, {"name": f"{name} kit", "task_ids": [str(t.id) for t in made[:2]]})
    return Org(scope, made, done, issued, str(kit.id))


@pytest.fixture(scope="module")
def world(mongo_client) -> Iterator[World]:
    db = mongo_client.get_database(f"t_{uuid.uuid4().hex[:12]}")
    dbmod.ensure_indexes(db)
    original = auth._BCRYPT_ROUNDS
    auth._BCRYPT_ROUNDS = 4  # fast hashes: these tests are not about passwords
    try:
        built = World(db, _org(db, "Acme", 1, completed=3, pending=ISSUED_A), _org(db, "Bravo", 2, 1, 2))
    finally:
        auth._BCRYPT_ROUNDS = original
    for name, org, access in (
        ("a_write", built.a, "write"),
        ("a_read", built.a, "read"),
        ("a_revoked", built.a, "write"),
        ("a_burst", built.a, "read"),
        ("b_write", built.b, "write"),
    ):
        public, plaintext = api_keys.create(org.scope, name, access)
        built.keys[name], built.key_ids[name] = plaintext, public.id
    api_keys.revoke(built.a.scope, built.key_ids["a_revoked"])
    yield built
    mongo_client.drop_database(db.name)


@pytest.fixture(scope="module")
def server(world: World, store_uri: str, tmp_path_factory) -> Iterator[Api]:
    """The API on a free loopback port; process settings point at the world's
    database (what the domain reads: the audit key, the public URL)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HIREMATE_MONGODB_URI", store_uri)
        patch.setenv("HIREMATE_DB_NAME", world.db.name)
        patch.setenv("HIREMATE_DATA_DIR", str(tmp_path_factory.mktemp("api-data")))
        patch.setenv("HIREMATE_SECRET", TEST_SECRET)
        patch.setenv("HIREMATE_AUDIT_KEY", TEST_AUDIT_KEY)
        patch.setenv("HIREMATE_PUBLIC_URL", "http://candidates.test")
        settingsmod.get_settings.cache_clear()
        dbmod.reset_client()
        settingsmod.get_settings()  # read now: the tests' autouse fixture clears HIREMATE_* per test
        v1 = api.create_app(requests_per_minute=6000, burst=1000, db=world.db)
        app = Starlette(routes=[Mount(api.PREFIX, app=v1)], middleware=[Middleware(SecurityHeaders, trust_proxy=False)])
        port = free_port()
        uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
        thread = threading.Thread(target=uv.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not uv.started:
            assert time.monotonic() < deadline and thread.is_alive(), "the API server did not start"
            time.sleep(0.05)
        try:
            yield Api(f"127.0.0.1:{port}", v1, world)
        finally:
            uv.should_exit = True
            thread.join(10)
            settingsmod.get_settings.cache_clear()
            dbmod.reset_client()
