"""Ingest: throughput with 1, 10 and 100 connections against its two
ceilings (a bare parse-and-ack websockets server driven by the same client,
and the store's own insert_many of the same documents in the same batch
sizes), ack latency at half the measured throughput, and live fan-out from
ack to a /ws/live subscriber. Everything runs on one file-backed store with
--sync-on-commit, as `make run` configures it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import random
import signal
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bson import ObjectId
from websockets.asyncio.client import connect

from bench.common import ROOT, SECRET, Figure, free_port, hiremate_env, percentile, python_process, stop, wait_http
from hiremate import db as dbmod
from hiremate import live_tickets as livemod
from hiremate.ops import simulate
from hiremate.timeutil import utcnow
from tests.support.ingest_helpers import Client, issue_cohort, tiny_events, watcher, ws_url

DB_NAME = "bench_ingest"
CONNECTIONS = (1, 10, 100)
# At 100 connections 200 each (60 until 2026-12-06): 20,000 events, about 10 s of ingest and 2 s of the
# raw server, so that a pause of the shared machine or the store's 60 s checkpoint is a small part of a
# repeat. With 60 (3 s and 0.6 s) one repeat's ceiling ratio ranged 0.57-0.83 within a run, and the raw
# server's CPU per message, read from /proc in 10 ms ticks, 80-152 us.
EVENTS_PER_CONNECTION = {1: 600, 10: 200, 100: 200}
WINDOW = 8  # single-event messages a connection may have unanswered
LIVE_SUBSCRIBERS = 10
LATENCY_SECONDS = 3.0
# More runs than the throughput figures get: a store checkpoint (every 60 s)
# landing in one 3-second window moves its p99 by tens of ms.
LATENCY_REPEATS = 3  # each about 50 s; make bench stays under 10 minutes


@dataclass
class IngestResults:
    throughput: dict[tuple[str, int], Figure] = field(default_factory=dict)  # (kind, connections)
    ratio_raw: dict[int, Figure] = field(default_factory=dict)
    ratio_store: dict[int, Figure] = field(default_factory=dict)
    ratio_lower: dict[int, Figure] = field(default_factory=dict)
    group_size: dict[int, Figure] = field(default_factory=dict)
    # CPU time per acknowledged event (us) of the ingest server and of the store during the ingest run,
    # CPU time per message (us) of the raw websockets server during its run with the same messages,
    # and the ratio ingest / raw of the same repeat.
    cpu_ingest: dict[int, Figure] = field(default_factory=dict)
    cpu_store: dict[int, Figure] = field(default_factory=dict)
    cpu_raw: dict[int, Figure] = field(default_factory=dict)
    cpu_ratio: dict[int, Figure] = field(default_factory=dict)
    # At 100 connections, the raw server once more with permessage-deflate declined, as the ingest
    # server declines it: its CPU per message (us) and the ingest / that ratio (like for like).
    cpu_raw_plain: Figure = field(default_factory=lambda: Figure("raw CPU per message, no compression", "us"))
    cpu_ratio_plain: Figure = field(default_factory=lambda: Figure("ingest CPU / raw CPU, no compression", "x"))
    # CPU per connection (ms) spent opening and starting it (handshake, token, start), which the
    # per-event figures above leave out, and the per-event figure with that setup spread over the events.
    setup_ingest: dict[int, Figure] = field(default_factory=dict)
    setup_raw: dict[int, Figure] = field(default_factory=dict)
    cpu_ingest_with_setup: dict[int, Figure] = field(default_factory=dict)
    store_500: Figure = field(default_factory=lambda: Figure("insert_many 500", "events/s"))
    latency_p50: Figure = field(default_factory=lambda: Figure("ack p50", "ms"))
    latency_p99: Figure = field(default_factory=lambda: Figure("ack p99", "ms"))
    offered: Figure = field(default_factory=lambda: Figure("offered", "events/s"))
    fanout_p50: Figure = field(default_factory=lambda: Figure("fan-out p50", "ms"))
    fanout_p99: Figure = field(default_factory=lambda: Figure("fan-out p99", "ms"))
    latency_group: Figure = field(default_factory=lambda: Figure("mean group during the latency run", "events"))
    store_p50: Figure = field(default_factory=lambda: Figure("store insert_many of one such group, p50", "ms"))
    store_p99: Figure = field(default_factory=lambda: Figure("store insert_many of one such group, p99", "ms"))
    loaded_p50: Figure = field(default_factory=lambda: Figure("store alone at the same load, p50", "ms"))
    loaded_p99: Figure = field(default_factory=lambda: Figure("store alone at the same load, p99", "ms"))
    raw_p50: Figure = field(default_factory=lambda: Figure("raw websockets server at the same load, p50", "ms"))
    raw_p99: Figure = field(default_factory=lambda: Figure("raw websockets server at the same load, p99", "ms"))
    # The server's own part of each ack, measured inside the ingest server (ingest_server/latency.py):
    # frame received -> handed to the group writer, plus store acknowledged -> ack written.
    own_p50: Figure = field(default_factory=lambda: Figure("server's own part, p50", "ms"))
    own_p99: Figure = field(default_factory=lambda: Figure("server's own part, p99", "ms"))
    own_in_p99: Figure = field(default_factory=lambda: Figure("frame received -> handed to the writer, p99", "ms"))
    own_out_p99: Figure = field(default_factory=lambda: Figure("store acknowledged -> ack written, p99", "ms"))
    # The same window again with the ingest server on a core of its own (``own_core``): the store and the
    # load generator on the other, as where the store is its own machine and the load comes over the network.
    own_core_p50: Figure = field(default_factory=lambda: Figure("server's own part, on a core of its own, p50", "ms"))
    own_core_p99: Figure = field(default_factory=lambda: Figure("server's own part, on a core of its own, p99", "ms"))
    own_core_out_p99: Figure = field(
        default_factory=lambda: Figure("store acknowledged -> ack written, on a core of its own, p99", "ms")
    )
    own_core_ack_p99: Figure = field(default_factory=lambda: Figure("ack p99, server on a core of its own", "ms"))
    own_core_group: Figure = field(
        default_factory=lambda: Figure("mean group during the window on a core of its own", "events")
    )
    # The event loop's thread over the same windows, from /proc schedstat: its CPU per event, and how long
    # it waited for a CPU each time it became runnable (what the shared cores add to the server's own part).
    loop_cpu: Figure = field(default_factory=lambda: Figure("event loop thread, CPU per event", "us"))
    loop_wait: Figure = field(default_factory=lambda: Figure("event loop thread, wait for a CPU per run", "us"))
    own_core_loop_wait: Figure = field(
        default_factory=lambda: Figure("event loop thread on a core of its own, wait for a CPU per run", "us")
    )
    stored_ok: bool = True
    notes: list[str] = field(default_factory=list)


@dataclass
class IngestProc:
    """One ingest server process of the benchmark: ``bench/ingest_proc.py``
    run from ``root`` (this checkout, or another one's files for a side-by-side
    comparison of two versions of the server)."""

    label: str
    root: Path
    port: int
    stats_path: Path
    process: Any = None


class Bench:
    def __init__(
        self,
        tmp: Path,
        others: dict[str, Path] | None = None,
        *,
        roots: dict[str, Path] | None = None,
        **extra_env: str,
    ) -> None:
        """``others``: more ingest servers to start beside this checkout's, by
        label, each from its own source tree (same store, same database).
        ``roots``: the servers to start instead of this checkout's and
        ``others``."""
        self.tmp = tmp
        self.store_port, self.raw_port, self.raw_plain_port = free_port(), free_port(), free_port()
        self.uri = f"mongodb://127.0.0.1:{self.store_port}/"
        self.store = dbmod.start_embedded_store(tmp / "ingest-store", self.store_port, sync_on_commit=True)
        self.mongo = dbmod.make_client(self.uri)
        self.db = self.mongo.get_database(DB_NAME)
        dbmod.ensure_indexes(self.db)
        self.organization_id = ObjectId()
        self.tasks = simulate.make_tasks(random.Random(5), 1, organization_id=self.organization_id, now=utcnow())
        self.db[dbmod.TASKS].insert_many([task.to_doc() for task in self.tasks])
        # The live ticket's user and session: the ingest server checks both.
        self.watcher_id, self.watcher_session_id = watcher(self.db, self.organization_id)
        roots = roots or {"this": ROOT, **(others or {})}
        self.servers = [
            IngestProc(label, root.resolve(), free_port(), tmp / f"ingest-stats-{n}.json")
            for n, (label, root) in enumerate(roots.items())
        ]
        env = hiremate_env(self.uri, DB_NAME, tmp, **extra_env)
        for n, server in enumerate(self.servers):
            server.process = python_process(
                [
                    str(server.root / "bench" / "ingest_proc.py"),
                    "--port",
                    str(server.port),
                    "--stats",
                    str(server.stats_path),
                ],
                {**env, "PYTHONPATH": str(server.root)},
                tmp / f"ingest-{n}.log",
                cwd=server.root,
            )
        self.raw = python_process(["bench/raw_server.py", "--port", str(self.raw_port)], env, tmp / "raw.log")
        self.raw_plain = python_process(
            ["bench/raw_server.py", "--port", str(self.raw_plain_port), "--no-compression"], env, tmp / "raw-plain.log"
        )
        for server in self.servers:
            wait_http(f"http://127.0.0.1:{server.port}/healthz", server.process)
        time.sleep(0.5)  # the raw server has no HTTP route: give it a moment

    @property
    def ingest(self) -> Any:
        """This checkout's ingest server process."""
        return self.servers[0].process

    @property
    def ingest_port(self) -> int:
        return self.servers[0].port

    def close(self) -> None:
        for server in self.servers:
            stop(server.process)
        stop(self.raw)
        stop(self.raw_plain)
        self.mongo.close()
        self.store.stop()

    def issue(self, count: int) -> list[Any]:
        """Issue ``count`` attempts at once (not measured; one by one took 12 s of every 100-connection run)."""
        return issue_cohort(self.db, tasks=self.tasks, organization_id=self.organization_id, count=count)

    def committer_stats(self, server: IngestProc | None = None) -> dict[str, Any]:
        """The server's counters: ``groups``, ``events`` and, from a server
        that measures them, ``latency`` (ingest_server/latency.py's samples)."""
        server = server or self.servers[0]
        server.stats_path.unlink(missing_ok=True)
        server.process.send_signal(signal.SIGUSR1)
        for _ in range(250):
            if server.stats_path.exists():
                try:
                    return json.loads(server.stats_path.read_text())
                except ValueError:
                    pass
            time.sleep(0.02)
        raise RuntimeError("the ingest server wrote no statistics")


# ---------------------------------------------------------------- throughput


@dataclass(frozen=True)
class ThreadSched:
    """A thread's scheduler counters (Linux /proc/<pid>/task/<tid>/schedstat):
    ns on a CPU, ns runnable but waiting for one, and how many times it ran."""

    on_cpu_ns: int
    waited_ns: int
    runs: int

    @classmethod
    def of_main_thread(cls, pid: int) -> ThreadSched | None:
        """The main thread's (the event loop's, in the ingest server); None where
        the kernel does not keep them."""
        try:
            on_cpu, waited, runs = (int(x) for x in Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split())
        except (OSError, ValueError):
            return None
        return cls(on_cpu, waited, runs)

    def since(self, before: ThreadSched) -> ThreadSched:
        return ThreadSched(
            self.on_cpu_ns - before.on_cpu_ns, self.waited_ns - before.waited_ns, self.runs - before.runs
        )

    @property
    def wait_per_run_us(self) -> float:
        return self.waited_ns / max(self.runs, 1) / 1000


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _pipelined(client: Client, events: list[dict[str, Any]], window: int) -> int:
    acked, sent, in_flight = 0, 0, 0
    while acked < len(events):
        while in_flight < window and sent < len(events):
            await client.send({"type": "event", **events[sent]})
            sent += 1
            in_flight += 1
        answer = await client.recv(60)
        if answer.get("type") != "ack":
            raise RuntimeError(f"not an ack: {answer}")
        acked += len(answer["seqs"]) if "seqs" in answer else 1
        in_flight -= 1
    return acked


@dataclass
class Run:
    """One throughput run: events acknowledged per second, and the CPU the
    measured process spent opening and starting the connections (``setup``)
    and then on the events alone (``events``), in seconds."""

    rate: float
    setup: float = 0.0
    events: float = 0.0


async def throughput(port: int, tokens: list[str], task_id: ObjectId, per_connection: int, pid: int = 0) -> Run:
    """Events acknowledged per second, all connections opened and started
    first; with ``pid``, that process's CPU for the two phases."""
    cpu_start = cpu_seconds(pid) if pid else 0.0
    gate = asyncio.Event()
    ready: list[None] = []
    events = tiny_events(task_id, 1, per_connection)

    async def one(token: str) -> int:
        async with Client.open(port, token, max_queue=None) as client:
            await client.start()
            ready.append(None)
            await gate.wait()
            return await _pipelined(client, events, WINDOW)

    tasks = [asyncio.create_task(one(token)) for token in tokens]
    while len(ready) < len(tokens):
        if any(t.done() for t in tasks):
            await asyncio.gather(*tasks)
        await asyncio.sleep(0.01)
    cpu_ready = cpu_seconds(pid) if pid else 0.0
    started = time.perf_counter()
    gate.set()
    total = sum(await asyncio.gather(*tasks))
    rate = total / (time.perf_counter() - started)
    if not pid:
        return Run(rate)
    return Run(rate, setup=cpu_ready - cpu_start, events=cpu_seconds(pid) - cpu_ready)


def store_rate(bench: Bench, template: dict[str, Any], connections: int, per_connection: int, batch: int) -> float:
    """insert_many of the same documents, ``batch`` at a time, from this process."""
    docs = []
    attempt_ids = [ObjectId() for _ in range(connections)]
    for seq in range(1, per_connection + 1):
        for attempt_id in attempt_ids:
            docs.append({**template, "_id": ObjectId(), "attempt_id": attempt_id, "sequence_number": seq})
    collection = bench.db[dbmod.EVENTS]
    started = time.perf_counter()
    for first in range(0, len(docs), batch):
        collection.insert_many(docs[first : first + batch], ordered=False)
    return len(docs) / (time.perf_counter() - started)


# ---------------------------------------------------------------- latency and fan-out


def store_latencies(bench: Bench, template: dict[str, Any], batch: int, count: int = 60) -> list[float]:
    """The store's own latency for one insert_many of ``batch`` such documents (the latency floor)."""
    collection = bench.db[dbmod.EVENTS]
    out = []
    for _ in range(count):
        attempt_id = ObjectId()
        docs = [{**template, "_id": ObjectId(), "attempt_id": attempt_id, "sequence_number": n} for n in range(batch)]
        started = time.perf_counter()
        collection.insert_many(docs, ordered=False)
        out.append((time.perf_counter() - started) * 1000)
        time.sleep(0.005)
    return out


def store_under_load(
    bench: Bench, template: dict[str, Any], attempt_ids: list[ObjectId], rate: float, group: int
) -> list[float]:
    """The store alone doing the group committer's work at the committer's
    load: every ``group / rate`` seconds, from one thread, the attempt check
    (one ``find`` by ``_id $in``) and one ``insert_many`` of ``group`` such
    documents. Each figure is from the group's due time to the insert's
    acknowledgement, so time queued behind a slow group counts, as it does for
    an ack; the wait for the group to gather, the network, validation and the
    ack itself do not. The latency ack p99 cannot go below."""
    events, attempts = bench.db[dbmod.EVENTS], bench.db[dbmod.ATTEMPTS]
    interval = group / rate
    out = []
    begin = time.perf_counter() + 0.05
    for k in range(int(LATENCY_SECONDS / interval)):
        due = begin + k * interval
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        checked = attempt_ids[(k * group) % len(attempt_ids) :][:group]
        list(attempts.find({"_id": {"$in": checked}}, {"session_epoch": 1, "status": 1, "expires_at": 1}))
        attempt_id = ObjectId()
        docs = [{**template, "_id": ObjectId(), "attempt_id": attempt_id, "sequence_number": n} for n in range(group)]
        events.insert_many(docs, ordered=False)
        out.append((time.perf_counter() - due) * 1000)
    return out


class LatencyRig:
    """100 candidate connections, opened and started once, that offer
    ``rate`` events/s evenly for LATENCY_SECONDS per ``window()``, each
    window's events numbered on from the last; LIVE_SUBSCRIBERS of the
    attempts watched on /ws/live. ``raw`` offers the same to ceiling (a), the
    bare parse-and-ack server, with no watchers: what the client, the network
    and websockets alone cost. Opened once for all the repeats: issuing and
    starting 100 attempts on a synced store took about 11 s a repeat."""

    def __init__(self, bench: Bench, rate: float, *, raw: bool = False, server: IngestProc | None = None) -> None:
        self.bench, self.raw = bench, raw
        self.port = bench.raw_port if raw else (server or bench.servers[0]).port
        self.interval = 100 / rate
        self.per_connection = int(LATENCY_SECONDS / self.interval) + 1
        self.attempt_ids: list[ObjectId] = []
        self.next_seq = 1
        self._stack = contextlib.AsyncExitStack()
        self._clients: list[Client] = []
        self._subscribers: list[Any] = []

    async def __aenter__(self) -> LatencyRig:
        if self.raw:
            tokens = ["raw"] * 100
        else:
            issued = await asyncio.to_thread(self.bench.issue, 100)
            tokens, self.attempt_ids = [i.token for i in issued], [i.attempt_id for i in issued]

        async def candidate(token: str) -> Client:
            client = await self._stack.enter_async_context(Client.open(self.port, token, max_queue=None))
            await client.start()
            return client

        self._clients = list(await asyncio.gather(*(candidate(token) for token in tokens)))
        for attempt_id in self.attempt_ids[: 0 if self.raw else LIVE_SUBSCRIBERS]:
            ticket = livemod.mint_ticket(
                SECRET.encode(),
                attempt_id=attempt_id,
                user_id=self.bench.watcher_id,
                organization_id=self.bench.organization_id,
                session_id=self.bench.watcher_session_id,
            )
            url = ws_url(self.port, f"/ws/live/{attempt_id}?ticket={ticket}")
            self._subscribers.append(await self._stack.enter_async_context(connect(url, max_queue=None)))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    async def window(self, seconds: float = LATENCY_SECONDS) -> tuple[list[float], list[float]]:
        """One window: (send -> ack latencies, ack -> subscriber fan-out), in ms."""
        loop = asyncio.get_running_loop()
        first, interval = self.next_seq, self.interval
        per = self.per_connection if seconds == LATENCY_SECONDS else int(seconds / interval) + 1
        self.next_seq += per
        events = tiny_events(self.bench.tasks[0].id, first, per)
        acks: list[dict[int, float]] = [{} for _ in self._clients]
        sent_at: list[dict[int, float]] = [{} for _ in self._clients]
        arrivals: list[dict[int, float]] = [{} for _ in self._subscribers]
        begin = loop.time() + 0.05

        async def candidate(index: int, client: Client) -> None:
            start = begin + index * interval / 100

            async def reader() -> None:
                while len(acks[index]) < per:
                    answer = await client.recv(60)
                    if answer.get("type") == "ack":
                        acks[index][answer["seq"]] = loop.time()

            reading = asyncio.create_task(reader())
            for n, message in enumerate(events):
                delay = start + n * interval - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                sent_at[index][message["seq"]] = loop.time()
                await client.send({"type": "event", **message})
            await reading

        async def subscriber(index: int, ws: Any) -> None:
            while len(arrivals[index]) < per:
                message = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if message.get("type") == "event_logged" and message["sequence_number"] >= first:
                    arrivals[index].setdefault(message["sequence_number"], loop.time())

        tasks = [candidate(i, client) for i, client in enumerate(self._clients)]
        tasks += [subscriber(i, ws) for i, ws in enumerate(self._subscribers)]
        # The client's own collector pauses would count as the server's latency (a
        # browser has none of them): paused for the measured seconds only.
        gc.disable()
        try:
            await asyncio.gather(*tasks)
        finally:
            gc.enable()
        latencies = [(acks[i][s] - sent_at[i][s]) * 1000 for i in range(len(self._clients)) for s in sent_at[i]]
        fanout = [(arrivals[i][s] - acks[i][s]) * 1000 for i in range(len(self._subscribers)) for s in arrivals[i]]
        return latencies, fanout


def _set_affinity(pid: int, cpus: set[int]) -> None:
    """Every thread of ``pid`` (sched_setaffinity moves one thread only)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            os.sched_setaffinity(int(task.name), cpus)


@contextlib.contextmanager
def own_core(bench: Bench, server: IngestProc | None = None) -> Iterator[bool]:
    """The ingest server on a core of its own, the store and this client on
    the other, as where the store is its own machine and the load comes over
    the network; yields False (nothing pinned) on a machine with fewer than two
    cores. Everything may use every core again afterwards."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        yield False
        return
    server_pid = (server or bench.servers[0]).process.pid
    mine, others = {cores[0]}, set(cores[1:])
    _set_affinity(server_pid, mine)
    _set_affinity(bench.store.process.pid, others)
    _set_affinity(os.getpid(), others)
    try:
        yield True
    finally:
        for pid in (server_pid, bench.store.process.pid, os.getpid()):
            _set_affinity(pid, set(cores))


def group_mean(before: dict[str, Any], after: dict[str, Any]) -> float:
    """Events per group the group committer wrote between two statistics dumps."""
    return (after["events"] - before["events"]) / max(after["groups"] - before["groups"], 1)


def own_latencies(before: dict[str, Any], after: dict[str, Any]) -> tuple[list[float], list[float], list[float]] | None:
    """The server's own part of each ack recorded between two statistics
    dumps, in ms: (both parts added, frame received -> handed to the writer,
    store acknowledged -> ack written); None from a server that does not
    measure it, or when its ring wrapped in between."""
    if "latency" not in before or "latency" not in after:
        return None
    first, last = before["latency"]["count"], after["latency"]["count"]
    samples = after["latency"]["samples"]  # the newest ones, oldest first: [received_ns, acked_ns]
    fresh = last - first
    if fresh <= 0 or fresh > len(samples):
        return None
    window = samples[len(samples) - fresh :]
    received = [r / 1e6 for r, _ in window]
    acked = [a / 1e6 for _, a in window]
    return [r + a for r, a in zip(received, acked, strict=True)], received, acked


# ---------------------------------------------------------------- the suite


async def run(tmp: Path, repeats: int, log: Any = print) -> IngestResults:
    results = IngestResults()
    bench = await asyncio.to_thread(Bench, tmp)
    try:
        template = None
        for repeat in range(repeats):
            for connections in CONNECTIONS:
                per = EVENTS_PER_CONNECTION[connections]
                task_id = bench.tasks[0].id
                events = connections * per
                raw_run = await throughput(bench.raw_port, ["raw"] * connections, task_id, per, bench.raw.pid)
                raw, raw_cpu = raw_run.rate, raw_run.events / events * 1e6
                issued = await asyncio.to_thread(bench.issue, connections)
                before = bench.committer_stats()
                store_before = cpu_seconds(bench.store.process.pid)
                served_run = await throughput(
                    bench.ingest_port, [i.token for i in issued], task_id, per, bench.ingest.pid
                )
                served = served_run.rate
                store_cpu = (cpu_seconds(bench.store.process.pid) - store_before) / events * 1e6
                after = bench.committer_stats()
                for figures, name, unit, value in (
                    (results.cpu_ingest, "CPU per event", "us", served_run.events / events * 1e6),
                    (results.cpu_store, "CPU per event", "us", store_cpu),
                    (results.cpu_raw, "raw CPU per message", "us", raw_cpu),
                    (results.setup_ingest, "CPU per connection's setup", "ms", served_run.setup / connections * 1e3),
                    (results.setup_raw, "raw CPU per connection's setup", "ms", raw_run.setup / connections * 1e3),
                    (
                        results.cpu_ingest_with_setup,
                        "CPU per event, setup included",
                        "us",
                        (served_run.setup + served_run.events) / events * 1e6,
                    ),
                ):
                    figures.setdefault(connections, Figure(name, unit)).runs.append(value)
                results.cpu_ratio.setdefault(connections, Figure("ingest CPU / raw CPU", "x")).runs.append(
                    results.cpu_ingest[connections].runs[-1] / raw_cpu
                )
                if connections == 100:
                    plain = await throughput(
                        bench.raw_plain_port, ["raw"] * connections, task_id, per, bench.raw_plain.pid
                    )
                    results.cpu_raw_plain.runs.append(plain.events / events * 1e6)
                    results.cpu_ratio_plain.runs.append(
                        results.cpu_ingest[connections].runs[-1] / results.cpu_raw_plain.runs[-1]
                    )
                stored = bench.db[dbmod.EVENTS].count_documents({"attempt_id": {"$in": [i.attempt_id for i in issued]}})
                if stored != connections * per:
                    results.stored_ok = False
                mean_group = group_mean(before, after)
                if template is None:
                    template = bench.db[dbmod.EVENTS].find_one({"attempt_id": issued[0].attempt_id}, {"_id": 0})
                store = await asyncio.to_thread(
                    store_rate, bench, template, connections, per, max(1, round(mean_group))
                )
                for kind, value in (("raw", raw), ("ingest", served), ("store", store)):
                    results.throughput.setdefault((kind, connections), Figure(kind, "events/s")).runs.append(value)
                results.group_size.setdefault(connections, Figure("group", "events")).runs.append(mean_group)
                results.ratio_raw.setdefault(connections, Figure("ingest/raw", "x")).runs.append(served / raw)
                results.ratio_store.setdefault(connections, Figure("ingest/store", "x")).runs.append(served / store)
                results.ratio_lower.setdefault(connections, Figure("ingest/lower", "x")).runs.append(
                    served / min(raw, store)
                )
                log(
                    f"  ingest r{repeat} {connections:>3} conn: raw {raw:,.0f}/s, ingest {served:,.0f}/s, "
                    f"store(batch {mean_group:.0f}) {store:,.0f}/s; CPU per event ingest "
                    f"{results.cpu_ingest[connections].runs[-1]:.0f} us, raw {raw_cpu:.0f} us "
                    f"({results.cpu_ratio[connections].runs[-1]:.2f} x)"
                )
            if template is not None:
                results.store_500.runs.append(await asyncio.to_thread(store_rate, bench, template, 10, 500, 500))
        rate = statistics.median(results.throughput[("ingest", 100)].runs) / 2
        rig, raw_rig = LatencyRig(bench, rate), LatencyRig(bench, rate, raw=True)
        async with rig, raw_rig:
            # Not measured: right after 100 starts the store is still busy with them (one run's first
            # window had an ack p50 of 222 ms against 26-30 ms in the next ones).
            await rig.window(seconds=1.0)
            for repeat in range(max(repeats, LATENCY_REPEATS)):
                await _latency_repeat(bench, results, rig, raw_rig, template, repeat, log)
    finally:
        await asyncio.to_thread(bench.close)
    return results


async def _latency_repeat(
    bench: Bench, results: IngestResults, rig: LatencyRig, raw_rig: LatencyRig, template: Any, repeat: int, log: Any
) -> None:
    """One latency window of the ingest server, its ceilings beside it (the
    store alone, at rest and at the same load; the raw server), into ``results``."""
    rate = 100 / rig.interval
    before = bench.committer_stats()
    latencies, fanout, loop = await _window_and_loop(bench, rig)
    attempt_ids = rig.attempt_ids
    after = bench.committer_stats()
    if loop is not None:
        results.loop_cpu.runs.append(loop.on_cpu_ns / 1000 / max(len(latencies), 1))
        results.loop_wait.runs.append(loop.wait_per_run_us)
    own = own_latencies(before, after)
    if own is not None:
        total, received, acked = own
        results.own_p50.runs.append(percentile(total, 50))
        results.own_p99.runs.append(percentile(total, 99))
        results.own_in_p99.runs.append(percentile(received, 99))
        results.own_out_p99.runs.append(percentile(acked, 99))
    own_core_p99 = await _own_core_window(bench, results, rig)
    group = group_mean(before, after)
    results.latency_group.runs.append(group)
    floor = await asyncio.to_thread(store_latencies, bench, template, max(1, round(group)))
    results.store_p50.runs.append(percentile(floor, 50))
    results.store_p99.runs.append(percentile(floor, 99))
    loaded = await asyncio.to_thread(store_under_load, bench, template, attempt_ids, rate, max(1, round(group)))
    results.loaded_p50.runs.append(percentile(loaded, 50))
    results.loaded_p99.runs.append(percentile(loaded, 99))
    raw_latencies, _ = await raw_rig.window()
    results.raw_p50.runs.append(percentile(raw_latencies, 50))
    results.raw_p99.runs.append(percentile(raw_latencies, 99))
    results.offered.runs.append(rate)
    results.latency_p50.runs.append(percentile(latencies, 50))
    results.latency_p99.runs.append(percentile(latencies, 99))
    results.fanout_p50.runs.append(percentile(fanout, 50))
    results.fanout_p99.runs.append(percentile(fanout, 99))
    log(
        f"  latency r{repeat} at {rate:,.0f}/s: ack p50 {results.latency_p50.runs[-1]:.1f} ms, "
        f"p99 {results.latency_p99.runs[-1]:.1f} ms; fan-out p50 {results.fanout_p50.runs[-1]:.1f} ms, "
        f"p99 {results.fanout_p99.runs[-1]:.1f} ms ({len(fanout)} deliveries); group {group:.1f}, "
        f"store alone p50 {results.store_p50.runs[-1]:.1f} ms p99 {results.store_p99.runs[-1]:.1f} ms, "
        f"at the same load p50 {results.loaded_p50.runs[-1]:.1f} ms p99 {results.loaded_p99.runs[-1]:.1f} ms; "
        f"raw server p50 {results.raw_p50.runs[-1]:.1f} ms p99 {results.raw_p99.runs[-1]:.1f} ms"
        + (
            f"; the server's own part p50 {results.own_p50.runs[-1]:.2f} ms p99 {results.own_p99.runs[-1]:.2f} ms"
            if own is not None
            else ""
        )
        + (f" (on a core of its own p99 {own_core_p99:.2f} ms)" if own_core_p99 is not None else "")
        + (
            f"; its event loop waited {results.loop_wait.runs[-1]:.0f} us for a CPU per run"
            if len(results.loop_wait.runs) > repeat
            else ""
        )
    )


async def _window_and_loop(bench: Bench, rig: LatencyRig) -> tuple[list[float], list[float], ThreadSched | None]:
    """One latency window (ack and fan-out latencies) and what the ingest
    server's event-loop thread did meanwhile (None where the kernel keeps no
    schedstat)."""
    before = ThreadSched.of_main_thread(bench.ingest.pid)
    latencies, fanout = await rig.window()
    after = ThreadSched.of_main_thread(bench.ingest.pid)
    return latencies, fanout, None if before is None or after is None else after.since(before)


async def _own_core_window(bench: Bench, results: IngestResults, rig: LatencyRig) -> float | None:
    """The same load once more with the server on a core of its own, into
    ``results``; returns the server's own p99 (None on a machine of one core,
    or when the server does not measure it)."""
    with own_core(bench) as pinned:
        if not pinned:
            return None
        before = bench.committer_stats()
        latencies, _, loop = await _window_and_loop(bench, rig)
        after = bench.committer_stats()
        own = own_latencies(before, after)
    if loop is not None:
        results.own_core_loop_wait.runs.append(loop.wait_per_run_us)
    if own is None:
        return None
    results.own_core_group.runs.append(group_mean(before, after))
    total, _, acked = own
    results.own_core_p50.runs.append(percentile(total, 50))
    results.own_core_p99.runs.append(percentile(total, 99))
    results.own_core_out_p99.runs.append(percentile(acked, 99))
    results.own_core_ack_p99.runs.append(percentile(latencies, 99))
    return results.own_core_p99.runs[-1]


async def side_by_side(
    tmp: Path,
    repeats: int,
    others: dict[str, Path] | None = None,
    *,
    latency: bool = True,
    pinned: bool = False,
    log: Any = print,
) -> dict[str, dict[str, Figure]]:
    """The ingest part alone, for development: at 100 connections with the
    same single-event messages, CPU per message of the raw websockets server
    and CPU per acknowledged event of this checkout's ingest server and of each
    of ``others`` (label -> another source tree, e.g. an export of the commit
    before a change), run back to back in each repeat against one store; then
    (``latency``) each server's ack p50/p99 at the same offered rate (half the
    median throughput of this checkout's server), with the in-server part
    where the server measures it. Figures by server label.

    Every server runs against the one store the whole time: what a server
    asks of the store in the background (its live change stream) weighs on
    the other's runs too, so a change to that is measured one server at a
    time, each on a store of its own."""
    bench = await asyncio.to_thread(Bench, tmp, others)
    out: dict[str, dict[str, Figure]] = {server.label: {} for server in bench.servers}
    out["raw"] = {}

    def add(label: str, name: str, unit: str, value: float) -> None:
        out[label].setdefault(name, Figure(name, unit)).runs.append(value)

    try:
        task_id = bench.tasks[0].id
        connections, per = 100, EVENTS_PER_CONNECTION[100]
        for repeat in range(repeats):
            raw_run = await throughput(bench.raw_port, ["raw"] * connections, task_id, per, bench.raw.pid)
            rate, raw_cpu = raw_run.rate, raw_run.events / (connections * per) * 1e6
            add("raw", "throughput", "events/s", rate)
            add("raw", "CPU per message", "us", raw_cpu)
            line = [f"r{repeat}: raw {raw_cpu:.0f} us ({rate:,.0f}/s)"]
            for server in bench.servers:
                issued = await asyncio.to_thread(bench.issue, connections)
                served = await throughput(server.port, [i.token for i in issued], task_id, per, server.process.pid)
                rate, cpu = served.rate, served.events / (connections * per) * 1e6
                add(server.label, "setup per connection", "ms", served.setup / connections * 1e3)
                add(server.label, "throughput", "events/s", rate)
                add(server.label, "CPU per event", "us", cpu)
                add(server.label, "CPU ratio to raw", "x", cpu / raw_cpu)
                line.append(
                    f"{server.label} {cpu:.0f} us ({cpu / raw_cpu:.2f} x raw, {rate:,.0f}/s; "
                    f"setup {served.setup / connections * 1e3:.1f} ms per connection)"
                )
            log("  " + "; ".join(line))
        if latency:
            rate = out["this"]["throughput"].median / 2
            # Each server's 100 candidates and watchers are opened once for all the repeats, as
            # make bench does: opening a fresh 100 per window took longer each time (up to the
            # client's 10 s wait for a start on a loaded store).
            async with contextlib.AsyncExitStack() as rigs:
                opened = [await rigs.enter_async_context(LatencyRig(bench, rate, server=s)) for s in bench.servers]
                for rig in opened:
                    await rig.window(seconds=1.0)  # warm-up, not counted
                await _side_by_side_latency(bench, opened, repeats, rate, pinned, add, log)
    finally:
        await asyncio.to_thread(bench.close)
    for label, figures in out.items():
        log(
            f"{label}: "
            + ", ".join(f"{name} {fig.median:.3g} {fig.unit} [{fig.spread()}]" for name, fig in figures.items())
        )
    return out


async def _side_by_side_latency(
    bench: Bench, rigs: list[LatencyRig], repeats: int, rate: float, pinned: bool, add: Any, log: Any
) -> None:
    """The latency windows of ``side_by_side``: the servers in turn, first
    one first in even repeats and last in odd ones."""
    for repeat in range(repeats):
        line = [f"latency r{repeat} at {rate:,.0f}/s"]
        pairs = list(zip(bench.servers, rigs, strict=True))
        for server, rig in pairs if repeat % 2 == 0 else pairs[::-1]:
            stats_before = bench.committer_stats(server)
            with own_core(bench, server) if pinned else contextlib.nullcontext():
                latencies, _ = await rig.window()
            stats_after = bench.committer_stats(server)
            add(server.label, "ack p50", "ms", percentile(latencies, 50))
            add(server.label, "ack p99", "ms", percentile(latencies, 99))
            text = f"{server.label} ack p50 {percentile(latencies, 50):.1f} p99 {percentile(latencies, 99):.1f} ms"
            own = own_latencies(stats_before, stats_after)
            if own is not None:
                add(server.label, "own p50", "ms", percentile(own[0], 50))
                add(server.label, "own p99", "ms", percentile(own[0], 99))
                add(server.label, "own in p99", "ms", percentile(own[1], 99))
                add(server.label, "own out p99", "ms", percentile(own[2], 99))
                text += f" (own p99 {percentile(own[0], 99):.2f} ms)"
            line.append(text)
        log("  " + "; ".join(line))


async def apart(
    tmp: Path, rounds: int, others: dict[str, Path], rate: float, windows: int = 4, log: Any = print
) -> dict[str, dict[str, Figure]]:
    """Latency windows (``LatencyRig``: 100 connections, 10 watchers, ``rate``
    events/s) of this checkout's server and each of ``others``, ONE SERVER AT A
    TIME, each on a store of its own, the order alternating round by round:
    for a change to what a server asks of the store in the background (its
    change stream), which ``side_by_side``'s shared store would show on both.
    Per window: ack p50/p99, the server's own part p99, fan-out p99, and the
    server's and the store's CPU per event."""
    roots = {"this": ROOT, **others}
    out: dict[str, dict[str, Figure]] = {label: {} for label in roots}
    order = list(roots.items())
    for round_ in range(rounds):
        for label, root in order if round_ % 2 == 0 else order[::-1]:
            (tmp / f"{label}-{round_}").mkdir(parents=True)
            bench = await asyncio.to_thread(Bench, tmp / f"{label}-{round_}", roots={label: root})
            try:
                server, store = bench.servers[0].process.pid, bench.store.process.pid
                async with LatencyRig(bench, rate) as rig:
                    await rig.window(seconds=1.0)  # warm-up, not counted
                    for _ in range(windows):
                        before, cpu_before = bench.committer_stats(), (cpu_seconds(server), cpu_seconds(store))
                        latencies, fan_out = await rig.window()
                        cpu_after = cpu_seconds(server), cpu_seconds(store)
                        own = own_latencies(before, bench.committer_stats())
                        figures = {
                            "ack p50 (ms)": percentile(latencies, 50),
                            "ack p99 (ms)": percentile(latencies, 99),
                            "fan-out p99 (ms)": percentile(fan_out, 99),
                            "server CPU per event (us)": (cpu_after[0] - cpu_before[0]) / len(latencies) * 1e6,
                            "store CPU per event (us)": (cpu_after[1] - cpu_before[1]) / len(latencies) * 1e6,
                        }
                        if own is not None:
                            figures["own part p99 (ms)"] = percentile(own[0], 99)
                        for name, value in figures.items():
                            out[label].setdefault(name, Figure(name, "")).runs.append(value)
            finally:
                await asyncio.to_thread(bench.close)
            log(f"  round {round_} {label}: " + ", ".join(f"{n} {f.runs[-1]:.3g}" for n, f in out[label].items()))
    for label, figures in out.items():
        log(f"{label}: " + ", ".join(f"{name} {fig.median:.3g} [{fig.spread()}]" for name, fig in figures.items()))
    return out


if __name__ == "__main__":
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description="The ingest benchmark alone (make bench runs it with the rest).")
    parser.add_argument("repeats", nargs="?", type=int, default=1)
    parser.add_argument(
        "--side-by-side",
        action="store_true",
        help="only the 100-connection CPU figures (and latency), raw server and ingest server(s) back to back",
    )
    parser.add_argument(
        "--against",
        action="append",
        default=[],
        metavar="LABEL=DIR",
        help="with --side-by-side: also run the ingest server of another source tree (e.g. `git archive` of a commit)",
    )
    parser.add_argument(
        "--apart",
        type=float,
        metavar="RATE",
        help="with --against: latency windows at RATE events/s, one server at a time on a store of its own",
    )
    parser.add_argument("--no-latency", action="store_true")
    parser.add_argument("--own-core", action="store_true", help="latency with the server on a core of its own")
    args = parser.parse_args()
    others = {label: Path(path) for label, path in (item.split("=", 1) for item in args.against)}
    with tempfile.TemporaryDirectory(prefix="hm-bench-") as tmp:
        if args.apart:
            asyncio.run(apart(Path(tmp), args.repeats, others, args.apart))
        elif args.side_by_side:
            asyncio.run(
                side_by_side(Path(tmp), args.repeats, others, latency=not args.no_latency, pinned=args.own_core)
            )
        else:
            asyncio.run(run(Path(tmp), args.repeats))
