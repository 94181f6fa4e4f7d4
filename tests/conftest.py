"""Shared fixtures: one throwaway SecantusDB for the whole run, a fresh
database for each test, through real pymongo."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient
from pymongo.database import Database

from hiremate import db as dbmod
from hiremate import settings as settingsmod
from hiremate.settings import Settings

TEST_SECRET = "test-secret-not-for-production-0123456789"  # at least 32 characters, as required
# Every test process (and each HireMate process a test starts) chains the audit
# log with this key, so a chain written here verifies in a subprocess.
TEST_AUDIT_KEY = "test-audit-key-not-for-production-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def store_uri() -> Iterator[str]:
    """A SecantusDB server in memory for the whole test session."""
    port = free_port()
    store = dbmod.start_embedded_store(":memory:", port, sync_on_commit=False)
    try:
        yield f"mongodb://127.0.0.1:{port}/"
    finally:
        store.stop()


@pytest.fixture(scope="session")
def mongo_client(store_uri: str) -> Iterator[MongoClient]:
    client = dbmod.make_client(store_uri)
    yield client
    client.close()


@pytest.fixture
def db_name() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def db(mongo_client: MongoClient, db_name: str) -> Iterator[Database]:
    """A fresh database with every index, dropped afterwards."""
    database = mongo_client.get_database(db_name)
    dbmod.ensure_indexes(database)
    yield database
    mongo_client.drop_database(db_name)


@pytest.fixture
def settings(store_uri: str, db_name: str, tmp_path: Path) -> Settings:
    return Settings(
        mongodb_uri=store_uri,
        db_name=db_name,
        data_dir=tmp_path,
        secret_from_env=TEST_SECRET,
        audit_key_from_env=TEST_AUDIT_KEY,
    )


@pytest.fixture
def app_env(
    store_uri: str, db_name: str, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """The process-wide settings and client point at this test's database
    (for code that calls get_settings()/get_db(), such as Streamlit pages)."""
    monkeypatch.setenv("HIREMATE_MONGODB_URI", store_uri)
    monkeypatch.setenv("HIREMATE_DB_NAME", db_name)
    monkeypatch.setenv("HIREMATE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HIREMATE_SECRET", TEST_SECRET)
    settingsmod.get_settings.cache_clear()
    dbmod.reset_client()
    yield settingsmod.get_settings()
    settingsmod.get_settings.cache_clear()
    dbmod.reset_client()


@pytest.fixture(autouse=True)
def _no_ambient_hiremate_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own HIREMATE_* variables never leak into a test; the
    audit key is the tests' own (audit entries are written in this process,
    never into the working folder's data/audit-key)."""
    for name in list(os.environ):
        if name.startswith("HIREMATE_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HIREMATE_AUDIT_KEY", TEST_AUDIT_KEY)
