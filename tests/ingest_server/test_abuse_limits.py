"""Abuse of the candidate socket and the page: the per-connection bounds.

Found by attacking a running stack: answers queued without limit for a client
that never read them (the server grew from 48 to 90 MB for one connection),
an upgraded socket that never sent anything stayed open for ever, nothing
capped the sockets one address held open, ``/a/<token>`` was not rate
limited, and error messages echoed up to 64 KB of the attacker's input. Each
test performs the attack through real sockets against a real server and the
real store, and checks that what was acknowledged before it is still stored.
"""

# ruff: noqa: F401, F811 - fixtures imported from tests.support.ingest_helpers are used as arguments

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import Callable
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import free_port
from tests.support.ingest_helpers import (
    Client,
    ServerProcess,
    focus_events,
    http_get,
    ingest_settings,
    issue,
    running_server,
    server,
    server_env,
    stored_seqs,
    with_limits,
    ws_url,
)

# ---------------------------------------------------------------- a client that stops reading


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def small_receive_buffer_socket(port: int) -> socket.socket:
    """A TCP socket whose receive buffer is tiny, so a client that does not
    read pushes back on the server at once (the kernel caps, not the test)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    return sock


async def flood_without_reading(
    port: int, token: str, *, gave_up: Callable[[], bool], limit: int, seconds: float
) -> tuple[int, int | None, int]:
    """Send small messages that each get an answer, never reading one, in
    rounds, until the server says it gave up on us (``gave_up``, asked after
    every round), or ``limit`` messages or ``seconds`` passed; then read
    everything. Returns (messages sent, close code, answers read). The
    client sends no pings of its own: it would time them out itself."""
    sock = small_receive_buffer_socket(port)
    message = json.dumps({"type": "event", "seq": 1})  # answered not_started: no database involved
    sent = 0
    async with connect(
        ws_url(port, f"/ws/assessment/{token}"),
        sock=sock,
        max_queue=4,
        open_timeout=10,
        ping_interval=None,
        compression=None,  # uncompressed answers: permessage-deflate shrinks these identical ones to 7 bytes
    ) as ws:
        deadline = time.monotonic() + seconds
        with contextlib.suppress(TimeoutError, ConnectionClosed):
            while sent < limit and time.monotonic() < deadline and not gave_up():
                for _ in range(1000):
                    await asyncio.wait_for(ws.send(message), 2.0)
                    sent += 1
                await asyncio.sleep(0.05)
        answers = 0
        with contextlib.suppress(ConnectionClosed, TimeoutError):  # closed, or nothing more for 10 s
            while True:
                await asyncio.wait_for(ws.recv(), 10)
                answers += 1
        return sent, ws.close_code, answers


async def test_a_client_that_stops_reading_is_closed_4429_and_the_server_stays_small(store_uri, db, db_name, tmp_path):
    port = free_port()
    process = ServerProcess(server_env(store_uri, db_name, tmp_path), port, tmp_path / "ingest.log")
    victim, attacker = issue(db, count=1), issue(db, count=1)
    try:
        await asyncio.to_thread(process.start)
        assert process.process is not None
        async with Client.open(port, victim.token) as candidate:
            await candidate.start()
            assert (await candidate.send_batch(focus_events(victim.tasks[0].id, 1, 5)))["seqs"] == [1, 2, 3, 4, 5]
        pid, log = process.process.pid, process.log_path
        before = peak = rss_bytes(pid)

        def gave_up() -> bool:  # the server logs it: the client cannot tell without reading
            nonlocal peak
            peak = max(peak, rss_bytes(pid))
            return "stopped reading its answers" in log.read_text()

        sent, code, answers = await flood_without_reading(
            port, attacker.token, gave_up=gave_up, limit=300_000, seconds=40
        )
        grown = max(peak, rss_bytes(pid)) - before
        print(f"sent {sent}, answers read {answers}, close {code}, server grew {grown / 2**20:.1f} MB")
        assert code == 4429
        assert answers < sent  # it stopped answering a client that did not read
        assert grown < 16 * 2**20
        # Everyone else is still served, and what was acknowledged is stored.
        async with Client.open(port, victim.token) as candidate:
            resumed = await candidate.ask(candidate.start_message())
            assert resumed["type"] == "error" and resumed["code"] == "token_already_used"
        assert stored_seqs(db, victim.attempt_id) == [1, 2, 3, 4, 5]
    finally:
        process.kill()


async def test_a_client_far_ahead_of_its_answers_is_held_back(ingest_settings, db):
    """A client that keeps sending while its answers wait (here: writes that
    never finish) is no longer read from once N answers are queued: the
    server's queue stays at N, the rest waits in TCP."""
    limit = 20
    settings = with_limits(ingest_settings, max_unanswered_messages=limit)
    issued = issue(db, count=1)
    async with running_server(settings, db) as running, Client.open(running.port, issued.token) as client:
        await client.start()
        loop = asyncio.get_running_loop()
        running.committer.submit = lambda *args, **kwargs: loop.create_future()  # writes that never end
        (session,) = running.sessions[issued.attempt_id]
        for message in focus_events(issued.tasks[0].id, 1, 300):
            await client.send({"type": "event", **message, "pad": "x" * 1024})  # unknown fields are ignored
        await asyncio.sleep(0.5)
        assert session._outbox.qsize() <= limit
        # Held back, the server does not read the socket, so it would notice the
        # client's close only at its next keep-alive ping: cut it short.
        session.ws.transport.abort()
        await asyncio.wait_for(session.ws.wait_closed(), 5)


# ---------------------------------------------------------------- silent sockets


async def test_a_silent_socket_is_closed_4408_after_the_first_message_timeout(ingest_settings, db):
    # Pings every 0.1 s, answered by the client's library: they do not count as messages.
    settings = with_limits(ingest_settings, first_message_timeout_seconds=0.5, ping_interval_seconds=0.1)
    issued = issue(db, count=1)
    async with running_server(settings, db) as running:
        loop = asyncio.get_running_loop()
        async with Client.open(running.port, issued.token) as silent:
            opened = loop.time()
            code, seen = await silent.closed(timeout=5)
            assert code == 4408 and seen == []
            assert 0.4 < loop.time() - opened < 2.5
        # A client that sends something before it starts keeps its socket as long as it keeps talking.
        async with Client.open(running.port, issued.token) as chatty:
            for _ in range(4):
                await asyncio.sleep(0.3)
                answer = await chatty.ask({"type": "get_task", "index": 0})
                assert answer["code"] == "not_started"
            await chatty.start()


async def test_a_started_candidate_who_only_answers_pings_stays_open(ingest_settings, db):
    settings = with_limits(
        ingest_settings, first_message_timeout_seconds=0.3, idle_timeout_seconds=0.8, ping_interval_seconds=0.2
    )
    issued = issue(db, count=1)
    async with running_server(settings, db) as running, Client.open(running.port, issued.token) as reader:
        await reader.start()
        await asyncio.sleep(2.5)  # reading the task: no message, but every ping is answered
        answer = await reader.send_batch(focus_events(issued.tasks[0].id, 1, 2))
        assert answer["seqs"] == [1, 2]
    assert stored_seqs(db, issued.attempt_id) == [1, 2]


async def test_a_started_socket_without_any_frame_is_closed_4408_after_the_idle_timeout(ingest_settings, db):
    # No ping within the test (every 60 s): nothing at all comes from the client.
    settings = with_limits(ingest_settings, idle_timeout_seconds=0.8, ping_interval_seconds=60, peer_timeout_seconds=90)
    issued = issue(db, count=1)
    async with running_server(settings, db) as running, Client.open(running.port, issued.token) as gone:
        await gone.start()
        assert (await gone.send_batch(focus_events(issued.tasks[0].id, 1, 3)))["seqs"] == [1, 2, 3]
        loop = asyncio.get_running_loop()
        quiet_from = loop.time()
        code, seen = await gone.closed(timeout=5)
        assert code == 4408 and seen == []
        assert 0.7 < loop.time() - quiet_from < 3.0
    assert stored_seqs(db, issued.attempt_id) == [1, 2, 3]


# ---------------------------------------------------------------- sockets per address


async def upgrade_status(port: int, path: str, **kwargs) -> int:
    try:
        async with connect(ws_url(port, path), open_timeout=10, **kwargs):
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


async def test_one_address_holds_at_most_n_candidate_sockets(ingest_settings, db):
    cap = 5
    settings = with_limits(ingest_settings, max_sockets_per_address=cap)
    issued = issue(db, count=1)
    path = f"/ws/assessment/{issued.token}"
    async with running_server(settings, db) as running, contextlib.AsyncExitStack() as stack:
        held = [await stack.enter_async_context(connect(ws_url(running.port, path))) for _ in range(cap)]
        assert await upgrade_status(running.port, path) == 429
        # Another address is served ...
        assert await upgrade_status(running.port, path, local_addr=("127.0.0.2", 0)) == 101
        # ... and a socket closed gives its place back.
        await held.pop().close()
        for _ in range(50):
            if running.sockets_by_address.get("127.0.0.1", 0) < cap:
                break
            await asyncio.sleep(0.05)
        assert await upgrade_status(running.port, path) == 101


async def test_behind_a_trusted_proxy_the_cap_is_per_forwarded_address(ingest_settings, db):
    settings = with_limits(ingest_settings, max_sockets_per_address=2).model_copy(update={"trust_proxy": True})
    issued = issue(db, count=1)
    path = f"/ws/assessment/{issued.token}"
    async with running_server(settings, db) as running, contextlib.AsyncExitStack() as stack:
        for _ in range(2):
            await stack.enter_async_context(
                connect(ws_url(running.port, path), additional_headers={"X-Forwarded-For": "203.0.113.7"})
            )
        spoofed_again = {"X-Forwarded-For": "203.0.113.7"}
        assert await upgrade_status(running.port, path, additional_headers=spoofed_again) == 429
        other = {"X-Forwarded-For": "198.51.100.1, 203.0.113.8"}  # the proxy's own entry is the last
        assert await upgrade_status(running.port, path, additional_headers=other) == 101


# ---------------------------------------------------------------- the page


async def test_a_page_flood_gets_429(ingest_settings, db):
    limit = 60  # PROTOCOL.md's default: 60 candidate pages a minute per client address
    settings = with_limits(ingest_settings, page_requests_per_minute=limit)
    issued = issue(db, count=1)
    async with running_server(settings, db) as running:
        answers = await asyncio.gather(*(http_get(running.port, f"/a/{'A' * 43}") for _ in range(limit + 20)))
        assert sorted(a.status for a in answers) == [200] * limit + [429] * 20
        refused = next(a for a in answers if a.status == 429)
        assert refused.headers["content-type"].startswith("text/plain") and len(refused.body) < 100
        assert (await http_get(running.port, f"/a/{issued.token}")).status == 429
        # The rest of the server is not affected.
        assert (await http_get(running.port, "/healthz")).json() == {"status": "ok", "db": "ok"}
        assert await upgrade_status(running.port, f"/ws/assessment/{issued.token}") == 101


# ---------------------------------------------------------------- echoes


async def test_errors_echo_at_most_a_short_prefix_of_a_60_kb_input(server, db):
    issued = issue(db, count=1)
    task = issued.tasks[0]
    huge = "X" * (60 * 1024)
    async with Client.open(server.port, issued.token) as client:
        await client.start()
        hostile = [
            {"type": huge},
            {"type": [huge]},
            {"type": "get_task", "index": huge},
            {"type": "event", "seq": 1, "task_id": str(task.id), "event_type": huge, "payload": {}},
            {"type": "event", "seq": 1, "task_id": huge, "event_type": "focus_lost", "payload": {}},
            {
                "type": "event",
                "seq": 1,
                "task_id": str(task.id),
                "event_type": "task_started",
                "payload": {"task_index": 0},
            },
            {
                "type": "event",
                "seq": 2,
                "task_id": str(task.id),
                "event_type": "option_selected",
                "payload": {"option_id": huge, "is_first_selection": True},
            },
        ]
        for message in hostile:
            raw = json.dumps(message)
            assert len(raw) < 64 * 1024
            await client.send(raw)
            answer_text = await asyncio.wait_for(client.ws.recv(), 10)
            answer = json.loads(answer_text)
            if answer["type"] == "ack":
                continue
            assert answer["type"] == "error", answer
            assert len(answer_text) < 300, answer_text
            assert "XXXX" in answer["message"] and len(answer["message"]) < 200, answer["message"]
            assert "…" in answer["message"]
    assert stored_seqs(db, issued.attempt_id) == [1]
