"""`make run` supervises: a child killed with -9 (the ingest server, the app,
the store, in turn) is started again by the launcher, with no command typed;
the ingest server and the app reconnect to a restarted store by themselves,
and nothing acknowledged before a crash is lost. Plus the back-off schedule
(1 s doubling to 30 s, reset after a minute up), on a fake clock."""

from __future__ import annotations

import os
import re
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hiremate import db as dbmod
from hiremate.ops import launcher
from hiremate.ops.launcher import Child
from recruiter import session
from tests.conftest import TEST_SECRET, free_port
from tests.support.ingest_helpers import Client, all_tasks_messages, issue, stored_seqs
from tests.support.stack import start_launcher

ROOT = Path(__file__).resolve().parents[3]
STARTED = re.compile(r"^hiremate: started the (.+?) \(pid (\d+)")


# ---------------------------------------------------------------- the back-off, on a fake clock


class FakeProcess:
    pids = iter(range(1000, 2000))

    def __init__(self) -> None:
        self.pid = next(self.pids)
        self.returncode: int | None = None

    def poll(self) -> int | None:
        return self.returncode


def _fake_child(monkeypatch: pytest.MonkeyPatch) -> tuple[Child, list[FakeProcess], list[float]]:
    monkeypatch.setattr(launcher, "_kill_group", lambda process: None)
    now = [0.0]
    spawned: list[FakeProcess] = []

    def spawn() -> Any:
        spawned.append(FakeProcess())
        return spawned[-1]

    child = Child("ingest server", spawn, clock=lambda: now[0])
    child.start()
    return child, spawned, now


def _crash_and_time_the_restart(child: Child, spawned: list[FakeProcess], now: list[float], code: int) -> float:
    """Crash the running process now; return how long until the child started again."""
    spawned[-1].returncode = code
    crashed_at, before = now[0], len(spawned)
    child.check()
    while len(spawned) == before:
        now[0] += 0.25
        child.check()
        assert now[0] - crashed_at < 100, "never restarted"
    return now[0] - crashed_at


def test_restarts_back_off_from_one_second_doubling_to_thirty(monkeypatch, capsys):
    child, spawned, now = _fake_child(monkeypatch)
    delays = [_crash_and_time_the_restart(child, spawned, now, -9) for _ in range(8)]
    assert delays == [1, 2, 4, 8, 16, 30, 30, 30]
    assert child.restarts == 8
    out = capsys.readouterr().out
    assert "the ingest server exited with code -9 (SIGKILL) after 0s up; restarting it in 1s" in out
    assert f"started the ingest server (pid {spawned[-1].pid}, restart 8)" in out


def test_a_minute_up_resets_the_back_off(monkeypatch, capsys):
    child, spawned, now = _fake_child(monkeypatch)
    assert [_crash_and_time_the_restart(child, spawned, now, 1) for _ in range(3)] == [1, 2, 4]
    now[0] += 59
    child.check()
    assert _crash_and_time_the_restart(child, spawned, now, 3) == 8  # 59 s up: still backing off
    now[0] += 60
    child.check()
    assert _crash_and_time_the_restart(child, spawned, now, 3) == 1
    assert "exited with code 3 after 60s up; restarting it in 1s" in capsys.readouterr().out


def test_a_child_that_cannot_be_started_is_tried_again(monkeypatch, capsys):
    child, spawned, now = _fake_child(monkeypatch)
    healthy_spawn = child.spawn

    def failing() -> Any:
        raise OSError("no such file")

    child.spawn = failing
    spawned[-1].returncode = 1
    child.check()
    now[0] += 1
    child.check()  # the restart fails: scheduled again, 2 s later
    assert "could not be started (no such file); restarting it in 2s" in capsys.readouterr().out
    child.spawn = healthy_spawn
    now[0] += 2
    child.check()
    assert len(spawned) == 2 and child.process is spawned[-1]


# ---------------------------------------------------------------- the real stack


class Launcher:
    """`python -m hiremate.ops.launcher` with its output read as it comes."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = start_launcher(env)
        self.lines: list[str] = []
        self._changed = threading.Condition()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()

    def wait_for(self, pattern: str, *, after: int = 0, timeout: float = 90) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines[after:]:
                    found = re.search(pattern, line)
                    if found:
                        return found
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    pytest.fail(f"no line matching {pattern!r}:\n" + "".join(self.lines[-40:]), pytrace=False)
                self._changed.wait(min(left, 0.5))

    def pids(self) -> dict[str, int]:
        """The newest pid of each child, as logged."""
        found = {}
        for line in list(self.lines):
            match = STARTED.match(line)
            if match:
                found[match.group(1)] = int(match.group(2))
        return found

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(60)


def _status(url: str, *, method: str = "GET", headers: dict[str, str] | None = None) -> int | None:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=3) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _eventually(check: Callable[[], bool], what: str, timeout: float = 60) -> float:
    """Seconds until ``check()`` held."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}", pytrace=False)
        time.sleep(0.2)
    return time.monotonic() - started


def _kill_and_see_it_back(stack: Launcher, name: str) -> int:
    """kill -9 one child; wait for the launcher to log the exit and start it again; the new pid."""
    old = stack.pids()[name]
    mark = len(stack.lines)
    os.kill(old, signal.SIGKILL)
    stack.wait_for(rf"the {name} exited with code -9 \(SIGKILL\) after \d+s up; restarting it in 1s", after=mark)
    new = int(stack.wait_for(rf"started the {name} \(pid (\d+), restart 1\)", after=mark).group(1))
    assert new != old
    return new


@pytest.mark.slow
async def test_each_child_killed_with_9_comes_back_by_itself_and_nothing_acked_is_lost(tmp_path):
    ports = {name: free_port() for name in ("store", "ingest", "app")}
    env = {name: value for name, value in os.environ.items() if not name.startswith("HIREMATE_")}
    env |= {
        "HIREMATE_DATA_DIR": str(tmp_path / "data"),
        "HIREMATE_EMBEDDED_PORT": str(ports["store"]),
        "HIREMATE_INGEST_PORT": str(ports["ingest"]),
        "HIREMATE_APP_PORT": str(ports["app"]),
        "HIREMATE_DEMO": "0",  # not needed here, and quicker
        "HIREMATE_SECRET": TEST_SECRET,  # known here, to seal a login cookie the app accepts
        "HIREMATE_RATE_EVENTS_PER_SECOND": "100000",
        "HIREMATE_RATE_BURST": "100000",
    }
    healthz = f"http://127.0.0.1:{ports['ingest']}/healthz"
    app_health = f"http://127.0.0.1:{ports['app']}/_stcore/health"
    # A route of the app that reads the database: the hand-over of a login
    # that never happened answers 303 when the database answered, 503 when not.
    nonce = session.seal("no-login-here", session.LOGIN_COOKIE, secret=TEST_SECRET.encode())
    handover = f"http://127.0.0.1:{ports['app']}{session.SESSION_ROUTE}"
    same_site = {"Sec-Fetch-Site": "same-origin", "Cookie": f"{session.LOGIN_COOKIE}={nonce}"}

    def app_reads_db() -> int | None:
        return _status(handover, method="POST", headers=same_site)

    stack = Launcher(env)
    mongo = None
    try:
        stack.wait_for("Press Ctrl-C")
        assert set(stack.pids()) == {"embedded store", "ingest server", "recruiter app"}
        mongo = dbmod.make_client(f"mongodb://127.0.0.1:{ports['store']}/", timeout_ms=3000)
        db = mongo["hiremate"]
        issued = issue(db, count=4)
        messages = all_tasks_messages(issued.tasks)
        assert len(messages) >= 12
        acked: set[int] = set()

        async def send(first: int, last: int, session_key: str | None = None) -> str:
            """Send messages[first:last] through the ingest socket (starting, or
            resuming the session); what it acknowledged goes into ``acked``."""
            async with Client.open(ports["ingest"], issued.token) as client:
                if session_key is None:
                    session_key = (await client.start())["session_key"]
                else:
                    await client.resume(session_key)
                answer = await client.send_batch(messages[first:last])
                assert answer["type"] == "ack", answer
                acked.update(answer["seqs"])
            return session_key

        key = await send(0, 3)

        # 1. The ingest server, killed mid-assessment: back, and the candidate resumes.
        _kill_and_see_it_back(stack, "ingest server")
        print(f"ingest server back in {_eventually(lambda: _status(healthz) == 200, 'healthz 200'):.1f}s")
        key = await send(3, 6, key)

        # 2. The app.
        _kill_and_see_it_back(stack, "recruiter app")
        _eventually(lambda: _status(app_health) == 200, "the app's health 200")
        assert app_reads_db() == 303  # the app (a new process) reads the database

        # 3. The store, under both of them: no command typed, /healthz is 200 again
        #    and the app reads the database again, on their existing clients.
        _kill_and_see_it_back(stack, "embedded store")
        took = _eventually(lambda: _status(healthz) == 200 and app_reads_db() == 303, "reconnection")
        print(f"ingest server and app reading the restarted store {took:.1f}s after its restart")
        assert acked <= set(stored_seqs(db, issued.attempt_id)), "acknowledged before the crash, lost after"
        await send(6, 9, key)  # and the ingest server writes to it again

        assert acked == set(range(1, 10))
        assert stored_seqs(db, issued.attempt_id) == list(range(1, 10))
        # Each was restarted exactly once, and nothing else was.
        assert sum("restarting it in" in line for line in stack.lines) == 3
    finally:
        if mongo is not None:
            mongo.close()
        code = stack.stop()
    assert code == 0, "".join(stack.lines[-40:])
    for name, port in ports.items():  # Ctrl-C stopped everything, the restarted store included
        with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
            sock.connect(("127.0.0.1", port))
            pytest.fail(f"the {name} still listens after Ctrl-C")
