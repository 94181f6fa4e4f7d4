"""Starting HireMate as `make run` does, for the tests that need the real
processes, and the demo data as older versions seeded it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from bson import ObjectId
from pymongo import MongoClient
from pymongo.database import Database

from hiremate import auth
from hiremate import db as dbmod
from hiremate.models import Role, User
from hiremate.ops.demo import DEMO_EMAIL, DEMO_FULL_NAME, PUBLISHED_DEMO_PASSWORD
from tests.conftest import TEST_AUDIT_KEY, TEST_SECRET, free_port

ROOT = Path(__file__).resolve().parents[2]


def start_launcher(env: Mapping[str, str]) -> subprocess.Popen[str]:
    """`python -m hiremate.ops.launcher` (what `make run` runs), its output
    and errors on one pipe to read as it comes."""
    return subprocess.Popen(
        [sys.executable, "-m", "hiremate.ops.launcher"],
        cwd=ROOT,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def published_demo_admin(db: Database, organization_id: ObjectId) -> User:
    """The demo admin with the password every start published before it
    became random per data folder."""
    return auth.create_user(
        db,
        email=DEMO_EMAIL,
        full_name=DEMO_FULL_NAME,
        password=PUBLISHED_DEMO_PASSWORD,
        organization_id=organization_id,
        role=Role.ADMIN,
    )


@dataclass
class RunningApp:
    """`streamlit run asgi.py` on a free loopback port, over its own database."""

    port: int
    db: Database

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def serve_app(store_uri: str, mongo_client: MongoClient, data_dir: Path, **extra_env: str) -> Iterator[RunningApp]:
    """The recruiter app as the launcher starts it, until the generator is
    closed (then stopped, and its database dropped)."""
    db_name = f"t_{uuid.uuid4().hex[:12]}"
    database = mongo_client.get_database(db_name)
    dbmod.ensure_indexes(database)
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("HIREMATE_")}
    env |= {
        "HIREMATE_MONGODB_URI": store_uri,
        "HIREMATE_DB_NAME": db_name,
        "HIREMATE_SECRET": TEST_SECRET,
        "HIREMATE_AUDIT_KEY": TEST_AUDIT_KEY,
        "HIREMATE_DATA_DIR": str(data_dir),
        **extra_env,
    }
    command = [sys.executable, "-m", "streamlit", "run", "asgi.py", "--server.port", str(port)]
    command += ["--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{port}/_stcore/health", process)
        yield RunningApp(port, database)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        mongo_client.drop_database(db_name)


def wait_for(url: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    """Until ``url`` answers, failing early if ``process`` has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"exited with code {process.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout:.0f}s")
