"""`make run`: the whole of HireMate on one machine, supervised.

Starts the embedded store (unless a Mongo URI is configured), seeds the demo
organisation (unless a URI is configured or HIREMATE_DEMO=0), then the
ingest server and the Streamlit app as child processes; prints where
everything is and the demo login. Everything listens on 127.0.0.1 unless
HIREMATE_APP_HOST / HIREMATE_INGEST_HOST say otherwise (the store always).

Once everything answers, a child that exits (a crash, a kill -9) is started
again after a back-off: 1 s, doubling up to 30 s, back to 1 s once it has
stayed up a minute; each restart is logged with the exit code. The ingest
server and the app reconnect to a restarted store by themselves (pymongo).
Ctrl-C stops all of it in order (writers first, the store last) and the data
stays in the data dir.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pymongo.database import Database

from hiremate import db as dbmod
from hiremate.errors import ConfigError
from hiremate.settings import Settings, get_settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_SECONDS = 60.0
RESTART_FIRST_DELAY = 1.0  # seconds before the first restart of a crashed child
RESTART_MAX_DELAY = 30.0  # the delay doubles at each crash up to this
RESTART_RESET_AFTER = 60.0  # a child up this long starts again from the first delay
SUPERVISE_INTERVAL = 0.25
WILDCARDS = frozenset({"", "0.0.0.0", "::"})
LOOPBACKS = frozenset({"127.0.0.1", "localhost", "::1"})


def app_entry_file() -> Path:
    """The file `streamlit run` starts: the ASGI wrapper when there is one
    (it adds the cookie routes around app.py), else the router itself."""
    asgi = PROJECT_ROOT / "asgi.py"
    return asgi if asgi.exists() else PROJECT_ROOT / "app.py"


def ingest_command() -> list[str]:
    return [sys.executable, "-m", "ingest_server"]


def app_command(settings: Settings) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app_entry_file()),
        # Without an address Streamlit 1.67 listens on every interface.
        "--server.address",
        settings.app_host,
        "--server.port",
        str(settings.app_port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]


def probe_host(host: str) -> str:
    """Where this machine reaches a server listening on ``host``."""
    if host in WILDCARDS:
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def say(message: str) -> None:
    print(f"hiremate: {message}", flush=True)


def describe_exit(code: int) -> str:
    """``-9`` -> ``-9 (SIGKILL)``; a plain exit code as it is."""
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"{code} ({signal.Signals(-code).name})"
    return str(code)


# ---------------------------------------------------------------- supervision


@dataclass
class Child:
    """One supervised process: how to start it, the running process, and its
    back-off. ``check`` is called every SUPERVISE_INTERVAL once the stack is up."""

    name: str
    spawn: Callable[[], subprocess.Popen[bytes]]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    delay: float = RESTART_FIRST_DELAY
    restart_at: float | None = None
    restarts: int = 0
    clock: Callable[[], float] = time.monotonic

    def start(self) -> None:
        self.process = self.spawn()
        self.started_at = self.clock()
        again = f", restart {self.restarts}" if self.restarts else ""
        say(f"started the {self.name} (pid {self.process.pid}{again})")

    def adopt(self, process: subprocess.Popen[bytes]) -> None:
        """Supervise a process started elsewhere (the store, started before seeding)."""
        self.process = process
        self.started_at = self.clock()
        say(f"started the {self.name} (pid {process.pid})")

    def exited(self) -> int | None:
        """The exit code when the process has ended (None while it runs or waits to restart)."""
        if self.process is None or self.restart_at is not None:
            return None
        return self.process.poll()

    def check(self) -> None:
        """Restart the child if it exited and its delay has passed."""
        now = self.clock()
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.restart_at = None
                self.restarts += 1
                try:
                    self.start()
                except (OSError, RuntimeError) as exc:
                    self._schedule(now, f"could not be started ({exc})")
            return
        if self.process is None:
            return
        if now - self.started_at >= RESTART_RESET_AFTER:
            self.delay = RESTART_FIRST_DELAY  # it stayed up: the next crash is a first crash
        code = self.process.poll()
        if code is None:
            return
        _kill_group(self.process)
        self._schedule(now, f"exited with code {describe_exit(code)} after {now - self.started_at:.0f}s up")

    def _schedule(self, now: float, what: str) -> None:
        say(f"the {self.name} {what}; restarting it in {self.delay:g}s")
        self.restart_at = now + self.delay
        self.delay = min(self.delay * 2, RESTART_MAX_DELAY)

    def terminate(self) -> None:
        self.restart_at = None
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """What a crashed child left in its process group (each child leads its
    own) must not hold its port when it starts again."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


@dataclass
class Stack:
    settings: Settings
    store: dbmod.EmbeddedStore | None = None
    store_child: Child | None = None
    children: list[Child] = field(default_factory=list)  # the writers, in start order
    demo_lines: list[str] = field(default_factory=list)

    @property
    def ingest_health_url(self) -> str:
        return f"http://{probe_host(self.settings.ingest_host)}:{self.settings.ingest_port}/healthz"

    @property
    def app_health_url(self) -> str:
        return f"http://{probe_host(self.settings.app_host)}:{self.settings.app_port}/_stcore/health"

    @property
    def supervised(self) -> list[Child]:
        return ([self.store_child] if self.store_child else []) + self.children

    def start(self) -> None:
        # own=True: this process keeps the store's lock while it runs, so no
        # other HireMate process starts a second store while this one restarts it.
        self.store = dbmod.ensure_embedded_store(self.settings, own=True)
        if self.store is not None:
            store = self.store

            def respawn() -> subprocess.Popen[bytes]:
                store.respawn()
                return store.process

            self.store_child = Child("embedded store", respawn)
            self.store_child.adopt(store.process)
        self.demo_lines = prepare_demo(self.settings)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for name, command in (("ingest server", ingest_command()), ("recruiter app", app_command(self.settings))):
            # Their own process group: a Ctrl-C reaches only this launcher, which
            # then stops the writers before the store they write to.
            child = Child(name, _spawner(command, env))
            child.start()
            self.children.append(child)

    def wait_ready(
        self, timeout: float = READY_TIMEOUT_SECONDS, *, stopping: Callable[[], bool] = lambda: False
    ) -> None:
        """Wait for both health URLs; a child that exits before is an error
        (a port in use, a bad setting: restarting would not help)."""
        deadline = time.monotonic() + timeout
        pending = {self.ingest_health_url, self.app_health_url}
        while pending and time.monotonic() < deadline and not stopping():
            for child in self.supervised:
                code = child.exited()
                if code is not None:
                    raise RuntimeError(f"the {child.name} exited with code {describe_exit(code)}")
            pending = {url for url in pending if not _http_ok(url)}
            time.sleep(0.2)
        if pending and not stopping():
            raise RuntimeError(f"not ready after {timeout:.0f}s: {', '.join(sorted(pending))}")

    def supervise(self) -> None:
        for child in self.supervised:
            child.check()

    def stop(self) -> None:
        for child in reversed(self.children):  # the app first, then the ingest server
            child.terminate()
        for child in reversed(self.children):
            child.wait(15)
        if self.store is not None:
            self.store.stop()  # last, after every writer; releases its lock


def _spawner(command: list[str], env: dict[str, str]) -> Callable[[], subprocess.Popen[bytes]]:
    def spawn() -> subprocess.Popen[bytes]:
        return subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, process_group=0)

    return spawn


# ---------------------------------------------------------------- the demo


def prepare_demo(settings: Settings) -> list[str]:
    """Seed the demo when `make run` should (the embedded store, HIREMATE_DEMO
    on); retire the published demo password wherever it is still set. The
    banner's demo line(s)."""
    from hiremate.ops.demo import demo_password, retire_published_password, seed_demo

    db: Database = dbmod.get_db(settings)
    try:
        if settings.uses_embedded_store and settings.demo:
            result = seed_demo(db, demo_password(settings.data_dir))
            say(str(result))
            return [result.login_line]
        if retire_published_password(db, lambda: demo_password(settings.data_dir)):
            say(
                "the demo admin still had the published password: replaced by the one in "
                f"{settings.data_dir / 'demo-password'} (its sessions ended)"
            )
        why = "HIREMATE_MONGODB_URI is set" if not settings.uses_embedded_store else "HIREMATE_DEMO=0"
        return [f"  demo login      not seeded ({why}); seed it with: python -m hiremate seed-demo"]
    finally:
        dbmod.reset_client()  # children open their own clients; this process only supervises


def _listening(settings: Settings) -> str:
    hosts = {"recruiter app": settings.app_host, "ingest server": settings.ingest_host}
    if all(host in LOOPBACKS for host in hosts.values()):
        return "  listening on    this machine only (HIREMATE_APP_HOST, HIREMATE_INGEST_HOST open them to a network)"
    shown = ", ".join(f"{name} on {'every interface' if host in WILDCARDS else host}" for name, host in hosts.items())
    return f"  listening on    {shown}"


def banner(settings: Settings, demo_lines: Sequence[str], *, store_owned: bool = True) -> str:
    if settings.uses_embedded_store:
        store = f"embedded store in {settings.data_dir / 'db'}"
        if not store_owned:
            store += " (already running: not started or supervised by this launcher)"
    else:
        store = "MongoDB"
    app_host = "localhost" if settings.app_host in WILDCARDS | LOOPBACKS else probe_host(settings.app_host)
    return "\n".join(
        [
            "",
            "HireMate is running:",
            f"  recruiter app   http://{app_host}:{settings.app_port}",
            f"  REST API v1     http://{app_host}:{settings.app_port}/api/v1  "
            f"(docs: http://{app_host}:{settings.app_port}/api/v1/docs; keys: the API keys page)",
            f"  ingest server   {settings.public_url}  (candidate links: {settings.public_url}/a/<token>)",
            f"  database        {store}",
            *demo_lines,
            _listening(settings),
            "A process that crashes is started again. Press Ctrl-C to stop everything.",
            "",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hiremate.ops.launcher", description=__doc__)
    parser.parse_args(argv)
    try:
        settings = get_settings()
    except ConfigError as exc:
        print(f"hiremate: configuration error: {exc}", file=sys.stderr, flush=True)
        return 2
    stack = Stack(settings)
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        stack.start()
        stack.wait_ready(stopping=lambda: stopping)
        print(banner(settings, stack.demo_lines, store_owned=stack.store is not None), flush=True)
        while not stopping:
            stack.supervise()
            time.sleep(SUPERVISE_INTERVAL)
        print("Stopping HireMate...", flush=True)
        return 0
    except (RuntimeError, ConfigError, dbmod.StoreUnavailable) as exc:
        print(f"hiremate: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
