"""Fixtures of the end-to-end tests: real Chromium through Playwright, the
whole stack started the way `make run` starts it, and a folder of
screenshots per test (test-artifacts/e2e/<test name>/NN-step.png).

Chromium is Debian's /usr/bin/chromium (never `playwright install`). Without
it these tests are skipped on a developer's machine, and fail where
HIREMATE_REQUIRE_CHROMIUM=1 or CI is set: CI must not pass by skipping them.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.database import Database

from hiremate import db as dbmod
from tests.conftest import free_port
from tests.e2e import helpers
from tests.support.chromium import launch, require_chromium
from tests.support.ingest_helpers import Issued, ServerProcess, server_env
from tests.support.stack import start_launcher

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
STACK_READY_TIMEOUT = 90.0

_shot_dirs: list[Path] = []


# ---------------------------------------------------------------- Chromium


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    """One headless Chromium for the e2e tests (each test opens its own contexts)."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        chromium = launch(playwright)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()


# ---------------------------------------------------------------- screenshots


class Shots:
    """Numbered full-page screenshots of one test's steps."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    def take(self, page, step: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{re.sub(r'[^a-z0-9]+', '-', step.lower()).strip('-')}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    def file(self, name: str) -> Path:
        return self.folder / name


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Shots:
    folder = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    _shot_dirs.append(folder)
    print(f"screenshots of {request.node.name}: {folder}")
    return Shots(folder)


def pytest_terminal_summary(terminalreporter) -> None:
    for folder in _shot_dirs:
        if folder.exists():
            count = len(list(folder.glob("*.png")))
            terminalreporter.write_line(f"e2e screenshots: {folder.relative_to(ROOT)} ({count} files)")


# ---------------------------------------------------------------- the stack, as `make run` starts it


@dataclass
class Stack:
    process: subprocess.Popen[str]
    app_url: str
    ingest_port: int
    store_uri: str
    data_dir: Path
    demo_password: str
    output: list[str] = field(default_factory=list)

    @property
    def ingest_url(self) -> str:
        return f"http://localhost:{self.ingest_port}"

    def database(self) -> Database:
        return MongoClient(self.store_uri, serverSelectionTimeoutMS=5000)["hiremate"]


def demo_login(lines: list[str]) -> str:
    """The demo password from the banner's `  demo login      EMAIL / PASSWORD`."""
    for line in lines:
        found = re.match(r"^  demo login {6}\S+@\S+ / (\S+)$", line.rstrip("\n"))
        if found:
            return found.group(1)
    pytest.fail("the launcher's banner has no demo login:\n" + "".join(lines[-40:]), pytrace=False)


def _drain(stream, lines: list[str], ready: threading.Event, log_path: Path) -> None:
    with open(log_path, "w", encoding="utf-8") as log:
        for line in stream:
            lines.append(line)
            log.write(line)
            log.flush()
            if "Press Ctrl-C" in line:
                ready.set()
    ready.set()  # the launcher exited: stop waiting


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """`python -m hiremate.ops.launcher` (what `make run` runs) on free ports and a
    fresh data dir. Shared by the e2e tests, stopped with Ctrl-C (SIGINT)
    after the last of them, which must exit 0."""
    ports = {name: free_port() for name in ("store", "ingest", "app")}
    data_dir = tmp_path_factory.mktemp("e2e-stack") / "data"
    env = {name: value for name, value in os.environ.items() if not name.startswith("HIREMATE_")}
    env |= {
        "HIREMATE_DATA_DIR": str(data_dir),
        "HIREMATE_EMBEDDED_PORT": str(ports["store"]),
        "HIREMATE_INGEST_PORT": str(ports["ingest"]),
        "HIREMATE_APP_PORT": str(ports["app"]),
        "PYTHONUNBUFFERED": "1",
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / "stack.log"
    process = start_launcher(env)
    lines: list[str] = []
    ready = threading.Event()
    assert process.stdout is not None
    drain = threading.Thread(target=_drain, args=(process.stdout, lines, ready, log_path), daemon=True)
    drain.start()
    started = time.monotonic()
    ready.wait(STACK_READY_TIMEOUT)
    if not any("Press Ctrl-C" in line for line in lines):
        process.kill()
        process.wait(10)
        pytest.fail("the launcher did not become ready:\n" + "".join(lines[-40:]), pytrace=False)
    print(f"stack ready in {time.monotonic() - started:.1f}s (log: {log_path})")
    demo_password = demo_login(lines)
    helpers.DEMO_PASSWORD = demo_password  # log_in's default
    stack = Stack(
        process=process,
        app_url=f"http://localhost:{ports['app']}",
        ingest_port=ports["ingest"],
        store_uri=f"mongodb://127.0.0.1:{ports['store']}/",
        data_dir=data_dir,
        demo_password=demo_password,
        output=lines,
    )
    try:
        yield stack
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            code = process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
            code = None
        drain.join(10)
        assert code == 0, f"the launcher exited with {code} after Ctrl-C:\n" + "".join(lines[-40:])


# ---------------------------------------------------------------- a store and ingest servers of the test's own

RIG_DB_NAME = "hiremate_e2e_rig"


@dataclass
class Rig:
    """A file-backed store and ingest servers on fixed ports, each stoppable on its own."""

    tmp: Path
    store_port: int
    store: dbmod.EmbeddedStore
    servers: list[ServerProcess] = field(default_factory=list)
    clients: list[Any] = field(default_factory=list)

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.store_port}/"

    def start_store(self) -> None:
        self.store = _start_store(self.tmp, self.store_port)

    def db(self) -> Database:
        client = dbmod.make_client(self.uri)
        self.clients.append(client)
        return client.get_database(RIG_DB_NAME)

    def ingest(self) -> ServerProcess:
        port = free_port()
        server = ServerProcess(server_env(self.uri, RIG_DB_NAME, self.tmp), port, self.tmp / f"ingest-{port}.log")
        self.servers.append(server)
        return server.start()

    def link(self, server: ServerProcess, issued: Issued) -> str:
        return f"http://127.0.0.1:{server.port}/a/{issued.token}"


def _start_store(tmp: Path, port: int) -> dbmod.EmbeddedStore:
    return dbmod.start_embedded_store(tmp / "store", port, sync_on_commit=True, log_path=tmp / "store.log")


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    port = free_port()
    rig = Rig(tmp_path, port, _start_store(tmp_path, port))
    dbmod.ensure_indexes(rig.db())
    try:
        yield rig
    finally:
        for server in rig.servers:
            server.kill()
        for client in rig.clients:
            client.close()
        rig.store.stop()
