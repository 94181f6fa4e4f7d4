"""`make run`: the whole of HireMate on one machine.

Starts the embedded store (unless a Mongo URI is configured), seeds the demo
organisation (unless a URI is configured or HIREMATE_DEMO=0), then the
ingest server and the Streamlit app as child processes; prints where
everything is and the demo login. Everything listens on 127.0.0.1 unless
HIREMATE_APP_HOST / HIREMATE_INGEST_HOST say otherwise (the store always).
Ctrl-C stops all of it in order (writers first, the store last) and the data
stays in the data dir.
"""

from __future__ import annotations

import argparse
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


def say(message: str) -> None:
    print(f"hiremate: {message}", flush=True)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class Stack:
    settings: Settings
    store: dbmod.EmbeddedStore | None = None
    children: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    demo_lines: list[str] = field(default_factory=list)

    @property
    def ingest_health_url(self) -> str:
        return f"http://{probe_host(self.settings.ingest_host)}:{self.settings.ingest_port}/healthz"

    @property
    def app_health_url(self) -> str:
        return f"http://{probe_host(self.settings.app_host)}:{self.settings.app_port}/_stcore/health"

    def start(self) -> None:
        self.store = dbmod.ensure_embedded_store(self.settings)
        self.demo_lines = prepare_demo(self.settings)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for name, command in (("ingest server", ingest_command()), ("recruiter app", app_command(self.settings))):
            # Their own process group: a Ctrl-C reaches only this launcher, which
            # then stops the writers before the store they write to.
            process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, process_group=0)
            self.children.append((name, process))

    def wait_ready(
        self, timeout: float = READY_TIMEOUT_SECONDS, *, stopping: Callable[[], bool] = lambda: False
    ) -> None:
        deadline = time.monotonic() + timeout
        pending = {self.ingest_health_url, self.app_health_url}
        while pending and time.monotonic() < deadline and not stopping():
            self.check_children()
            pending = {url for url in pending if not _http_ok(url)}
            time.sleep(0.2)
        if pending and not stopping():
            raise RuntimeError(f"not ready after {timeout:.0f}s: {', '.join(sorted(pending))}")

    def check_children(self) -> None:
        for name, process in self.children:
            if process.poll() is not None:
                raise RuntimeError(f"the {name} exited with code {process.returncode}")

    def stop(self) -> None:
        for _, process in reversed(self.children):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for _, process in self.children:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        if self.store is not None:
            self.store.stop()


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
        dbmod.reset_client()  # children open their own clients; this process only waits


def _listening(settings: Settings) -> str:
    hosts = {"recruiter app": settings.app_host, "ingest server": settings.ingest_host}
    if all(host in LOOPBACKS for host in hosts.values()):
        return "  listening on    this machine only (HIREMATE_APP_HOST, HIREMATE_INGEST_HOST open them to a network)"
    shown = ", ".join(f"{name} on {'every interface' if host in WILDCARDS else host}" for name, host in hosts.items())
    return f"  listening on    {shown}"


def banner(settings: Settings, demo_lines: Sequence[str]) -> str:
    store = f"embedded store in {settings.data_dir / 'db'}" if settings.uses_embedded_store else "MongoDB"
    app_host = "localhost" if settings.app_host in WILDCARDS | LOOPBACKS else probe_host(settings.app_host)
    return "\n".join(
        [
            "",
            "HireMate is running:",
            f"  recruiter app   http://{app_host}:{settings.app_port}",
            f"  ingest server   {settings.public_url}  (candidate links: {settings.public_url}/a/<token>)",
            f"  database        {store}",
            *demo_lines,
            _listening(settings),
            "Press Ctrl-C to stop everything.",
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
        print(banner(settings, stack.demo_lines), flush=True)
        while not stopping:
            stack.check_children()
            time.sleep(0.5)
        print("Stopping HireMate...", flush=True)
        return 0
    except (RuntimeError, ConfigError, dbmod.StoreUnavailable) as exc:
        print(f"hiremate: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
