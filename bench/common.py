"""Shared pieces of the benchmarks: statistics, machine facts, stores, processes."""

from __future__ import annotations

import os
import platform
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret-not-for-production-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass
class Figure:
    """One measured quantity over repeated runs: median and spread."""

    name: str
    unit: str
    runs: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.runs) if self.runs else float("nan")

    def spread(self) -> str:
        if len(self.runs) < 2:
            return "1 run"
        return f"{fmt(min(self.runs))}–{fmt(max(self.runs))} ({len(self.runs)} runs)"


def fmt(value: float) -> str:
    if value != value:  # NaN
        return "n/a"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def machine() -> dict[str, str]:
    model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as meminfo:
        total_kb = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "memory": f"{total_kb / 1024 / 1024:.1f} GiB",
        "python": platform.python_version(),
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def wait_http(url: str, process: subprocess.Popen[bytes], timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")


def stop(process: subprocess.Popen[bytes] | None, timeout: float = 15.0) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def hiremate_env(uri: str, db_name: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a HireMate process pointed at ``uri``/``db_name``,
    with the per-attempt and per-address rate limits and the per-address
    socket cap raised (benchmarks only)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HIREMATE_")}
    env.update(
        {
            "HIREMATE_MONGODB_URI": uri,
            "HIREMATE_DB_NAME": db_name,
            "HIREMATE_DATA_DIR": str(data_dir),
            "HIREMATE_SECRET": SECRET,
            "HIREMATE_AUDIT_KEY": SECRET,
            "HIREMATE_RATE_EVENTS_PER_SECOND": "1000000",
            "HIREMATE_RATE_BURST": "1000000",
            "HIREMATE_CONNECTIONS_PER_MINUTE": "1000000",
            "HIREMATE_LIVE_CONNECTIONS_PER_MINUTE": "1000000",
            "HIREMATE_MAX_SOCKETS_PER_ADDRESS": "1000000",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONPATH": str(ROOT),
            **extra,
        }
    )
    return env


def python_process(
    args: list[str], env: dict[str, str] | None = None, log: Path | None = None, *, cwd: Path = ROOT
) -> subprocess.Popen[bytes]:
    out: Any = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    try:
        return subprocess.Popen([sys.executable, *args], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    finally:
        if log:
            out.close()
