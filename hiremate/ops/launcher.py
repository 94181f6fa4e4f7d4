"""`make run`: the whole of HireMate on one machine.

Starts the embedded store (unless a Mongo URI is configured), seeds the demo
organisation, then the ingest server and the Streamlit app as child
processes; prints where everything is; Ctrl-C stops all of it in order
(writers first, the store last) and the data stays in the data dir.
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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hiremate import db as dbmod
from hiremate.settings import Settings, get_settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_SECONDS = 60.0


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
        "--server.port",
        str(settings.app_port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]


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

    @property
    def ingest_health_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.ingest_port}/healthz"

    @property
    def app_health_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.app_port}/_stcore/health"

    def start(self) -> None:
        self.store = dbmod.ensure_embedded_store(self.settings)
        seeded = _seed_demo(self.settings)
        print(seeded, flush=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for name, command in (("ingest server", ingest_command()), ("recruiter app", app_command(self.settings))):
            # Their own process group: a Ctrl-C reaches only this launcher, which
            # then stops the writers before the store they write to.
            process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, process_group=0)
            self.children.append((name, process))

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        pending = {self.ingest_health_url, self.app_health_url}
        while pending and time.monotonic() < deadline:
            self.check_children()
            pending = {url for url in pending if not _http_ok(url)}
            time.sleep(0.2)
        if pending:
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


def _seed_demo(settings: Settings) -> str:
    from hiremate.ops.demo import seed_demo

    result = seed_demo(dbmod.get_db(settings))
    dbmod.reset_client()  # children open their own clients; this process only waits
    return str(result)


def banner(settings: Settings) -> str:
    from hiremate.ops.demo import DEMO_EMAIL, DEMO_PASSWORD

    store = "embedded store in " + str(settings.data_dir / "db") if settings.uses_embedded_store else "MongoDB"
    return "\n".join(
        [
            "",
            "HireMate is running:",
            f"  recruiter app   http://localhost:{settings.app_port}",
            f"  ingest server   {settings.public_url}  (candidate links: {settings.public_url}/a/<token>)",
            f"  database        {store}",
            f"  demo login      {DEMO_EMAIL} / {DEMO_PASSWORD}",
            "Press Ctrl-C to stop everything.",
            "",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hiremate.ops.launcher", description=__doc__)
    parser.parse_args(argv)
    settings = get_settings()
    stack = Stack(settings)
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        stack.start()
        stack.wait_ready()
        print(banner(settings), flush=True)
        while not stopping:
            stack.check_children()
            time.sleep(0.5)
        print("Stopping HireMate...", flush=True)
        return 0
    except (RuntimeError, dbmod.StoreUnavailable) as exc:
        print(f"hiremate: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
