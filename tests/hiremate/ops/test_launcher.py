"""`make run`'s start-up path, headless: the real store, ingest server and
Streamlit app come up, answer their health checks, hold the demo data, and
stop on Ctrl-C, twice in a row on the same data dir."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from pymongo import MongoClient

from tests.conftest import free_port

pytestmark = pytest.mark.slow


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _start(env: dict[str, str]) -> tuple[subprocess.Popen[str], list[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "hiremate.ops.launcher"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 90
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Press Ctrl-C" in line:
            return process, lines
    process.kill()
    pytest.fail("launcher did not become ready:\n" + "".join(lines))


def _stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGINT)
    return process.wait(60)


def test_make_run_start_up_path(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("store", "ingest", "app")}
    env = {
        **os.environ,
        "HIREMATE_DATA_DIR": str(tmp_path / "data"),
        "HIREMATE_EMBEDDED_PORT": str(ports["store"]),
        "HIREMATE_INGEST_PORT": str(ports["ingest"]),
        "HIREMATE_APP_PORT": str(ports["app"]),
    }
    env.pop("HIREMATE_MONGODB_URI", None)
    counts = []
    for _ in range(2):
        process, lines = _start(env)
        try:
            output = "".join(lines)
            assert f"http://localhost:{ports['app']}" in output
            assert f"http://localhost:{ports['ingest']}" in output
            assert "demo@hiremate.example" in output
            status, body = _get(f"http://127.0.0.1:{ports['ingest']}/healthz")
            assert (status, json.loads(body)) == (200, {"status": "ok", "db": "ok"})
            status, body = _get(f"http://127.0.0.1:{ports['app']}/_stcore/health")
            assert status == 200
            client: MongoClient = MongoClient(f"mongodb://127.0.0.1:{ports['store']}/", serverSelectionTimeoutMS=3000)
            database = client["hiremate"]
            counts.append(
                (
                    database.organizations.count_documents({}),
                    database.users.count_documents({}),
                    database.tasks.count_documents({}),
                )
            )
            client.close()
        finally:
            assert _stop(process) == 0
        # everything it started is gone, the store included
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{ports['ingest']}/healthz", timeout=1)
    assert (tmp_path / "data" / "db").is_dir()
    assert counts[0] == counts[1], "a second start must not duplicate the demo data"
    assert counts[0][0] == 1 and counts[0][1] == 1 and counts[0][2] >= 15
