"""The ingest server: one port for HTTP, the candidate socket and the live socket.

``IngestServer`` holds what a process shares: the database, the group
committer, the live hub (one change stream), the rate limiters, the open
candidate sessions and the expiry sweep. Routing happens in
``process_request``: plain HTTP is answered there, WebSocket upgrades are
checked there (404/410/429 for candidates, 401/403/429 for live) before the
handler runs. Every socket runs on an ``IngestConnection``, which gives the
per-connection bounds what they measure (``connection.py``).

    async with IngestServer(settings, db).running(port=0) as server:
        ...  # server.port, server.url
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from bson import ObjectId
from pymongo.database import Database
from pymongo.errors import PyMongoError
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from hiremate import attempts, candidate, erasure, live_access, mail, profiles, self_id, webhooks
from hiremate import db as dbmod
from hiremate.live_tickets import TicketError, verify_ticket
from hiremate.models import FINAL_STATUSES, AttemptStatus, EventMetadata, Task, TaskAttempt
from hiremate.settings import Settings
from hiremate.throttle import client_address
from hiremate.timeutil import utcnow
from ingest_server import httpd
from ingest_server.commit import GroupCommitter
from ingest_server.connection import IngestConnection
from ingest_server.fanout import LiveHub
from ingest_server.livesocket import LiveContext, LiveSession
from ingest_server.ratelimit import ConnectionRateLimiter, EventRateLimiter
from ingest_server.selfid import SelfIdSession
from ingest_server.session import CandidateSession, SessionContext

log = logging.getLogger("ingest_server")

T = TypeVar("T")

SWEEP_INTERVAL_SECONDS = 30.0
PROFILE_GRACE = timedelta(seconds=60)  # a completion in progress profiles its own attempt
PROFILE_LOOKBACK = timedelta(days=2)
# The retention purge (hiremate.erasure.purge) runs from the sweep loop once
# an hour, the first time an hour after start, and erases at most
# PURGE_LIMIT attempts per organisation a run (the rest go the next hour).
PURGE_INTERVAL_SECONDS = 3600.0
PURGE_LIMIT = 500
# The mail outbox (hiremate.mail) is drained this often, so mail queued
# anywhere leaves within seconds; due reminders are queued every REMINDER_INTERVAL.
MAIL_INTERVAL_SECONDS = 2.0
REMINDER_INTERVAL_SECONDS = 60.0
# The webhook outbox (hiremate.webhooks) is looked at this often, so an event
# queued by another process leaves within about a second (one this server
# queued, through emit_webhook, leaves at once); at most WEBHOOK_PARALLEL tries
# run at once, each in a thread of their own (a slow receiver waits its 10 s
# there, never on the event loop nor in the database threads).
WEBHOOK_INTERVAL_SECONDS = 1.0
WEBHOOK_PARALLEL = 4


def _is_upgrade(request: Request) -> bool:
    return "websocket" in request.headers.get("Upgrade", "").lower()


class IngestServer:
    def __init__(
        self,
        settings: Settings,
        db: Database | None = None,
        *,
        static_dir: Path | None = None,
        sweep_interval: float = SWEEP_INTERVAL_SECONDS,
        live_mode: str = "auto",
        poll_interval: float = 0.25,
        purge_interval: float | None = PURGE_INTERVAL_SECONDS,
        mail_interval: float | None = MAIL_INTERVAL_SECONDS,
        webhook_interval: float | None = WEBHOOK_INTERVAL_SECONDS,
    ) -> None:
        self.settings = settings
        self.db = db if db is not None else dbmod.get_db(settings)
        self.static = httpd.StaticFiles(static_dir or httpd.STATIC_DIR)
        self.sweep_interval = sweep_interval
        self.purge_interval = purge_interval  # None: this process never purges
        self._purged_at = time.monotonic()  # the first purge one interval after start
        self.mail_interval = mail_interval  # None: this process sends no mail
        self._mail_worker = mail.new_worker_id()
        self._reminded_at = 0.0
        self._mailer: asyncio.Task[None] | None = None
        self.webhook_interval = webhook_interval  # None: this process delivers no webhooks
        self._webhook_worker = webhooks.new_worker_id()
        self._webhooker: asyncio.Task[None] | None = None
        self._webhook_executor = ThreadPoolExecutor(max_workers=WEBHOOK_PARALLEL, thread_name_prefix="webhooks")
        self._webhook_tries: set[asyncio.Future[str]] = set()
        self._webhook_wakeup = asyncio.Event()
        limits = settings.limits
        self.executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="ingest-db")
        self.committer = GroupCommitter(self.db, window_ms=limits.group_commit_ms)
        self.hub = LiveHub(self.db, queue_size=limits.live_queue_size, mode=live_mode, poll_interval=poll_interval)
        self.hub.add_attempt_listener(self._on_attempt_change)
        self.event_limiter = EventRateLimiter(limits.events_per_second, limits.event_burst)
        self.connection_limiter = ConnectionRateLimiter(limits.connections_per_minute, 60.0)
        self.page_limiter = ConnectionRateLimiter(limits.page_requests_per_minute, 60.0)
        self.live_limiter = ConnectionRateLimiter(limits.live_connections_per_minute, 60.0)
        # Sockets open now: candidate sockets per client address, live sockets per ticket.
        self.sockets_by_address: dict[str, int] = {}
        self.sockets_by_ticket: dict[str, int] = {}
        self.sessions: dict[ObjectId, set[CandidateSession]] = {}
        self.port: int | None = None
        self.ws_server: Server | None = None
        self._secret = settings.secret
        self._sweeper: asyncio.Task[None] | None = None
        self._sweep_wakeup = asyncio.Event()
        self._sweep_lock = asyncio.Lock()
        self._background: set[asyncio.Task[Any]] = set()
        self._health: asyncio.Future[bool] | None = None
        # What the connections may use of the server: they never import it.
        self.session_context = SessionContext(
            settings=settings,
            committer=self.committer,
            event_limiter=self.event_limiter,
            call_db=self.call_db,
            request_sweep=self.request_sweep,
            register=self.register_session,
            unregister=self.unregister_session,
            compute_profile=self.compute_profile,
            emit_webhook=self.emit_webhook,
        )
        self.live_context = LiveContext(hub=self.hub, call_db=self.call_db, recheck_seconds=limits.live_recheck_seconds)

    # ------------------------------------------------------------ life cycle

    @property
    def url(self) -> str:
        host = self.settings.ingest_host
        shown = "localhost" if host in {"0.0.0.0", "::", ""} else host
        return f"http://{shown}:{self.port}"

    async def start(self) -> None:
        self.committer.start()
        await self.hub.start()
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_loop(), name="expiry-sweep")
        if self.mail_interval is not None and mail.is_configured(self.settings):
            self._mailer = asyncio.get_running_loop().create_task(self._mail_loop(), name="mail-drain")
        if self.webhook_interval is not None:
            self._webhooker = asyncio.get_running_loop().create_task(self._webhook_loop(), name="webhook-drain")

    async def stop(self) -> None:
        for task in (self._sweeper, self._mailer, self._webhooker):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._sweeper = self._mailer = self._webhooker = None
        # A try under way finishes in its thread (10 s at most) and records itself;
        # one not yet begun keeps its lease, so another server takes it when it runs out.
        self._webhook_executor.shutdown(wait=False, cancel_futures=True)
        for task in list(self._background):
            task.cancel()
        await self.committer.stop()
        await self.hub.stop()
        self.executor.shutdown(wait=False, cancel_futures=True)

    @contextlib.asynccontextmanager
    async def running(self, host: str | None = None, port: int | None = None) -> AsyncIterator[IngestServer]:
        """Serve until the block ends; then close every connection (1001) and stop cleanly."""
        limits = self.settings.limits
        if limits.idle_timeout_seconds <= limits.ping_interval_seconds:
            log.warning(
                "HIREMATE_IDLE_TIMEOUT_SECONDS (%g) is not above HIREMATE_PING_INTERVAL_SECONDS (%g): "
                "candidates who only read may be cut off",
                limits.idle_timeout_seconds,
                limits.ping_interval_seconds,
            )
        await self.start()
        try:
            async with serve(
                self.handler,
                self.settings.ingest_host if host is None else host,
                self.settings.ingest_port if port is None else port,
                process_request=self.process_request,
                create_connection=IngestConnection,
                max_size=limits.max_frame_bytes,
                ping_interval=limits.ping_interval_seconds,
                ping_timeout=max(limits.peer_timeout_seconds - limits.ping_interval_seconds, 1.0),
                # Past this many unread bytes of answers the transport pauses
                # writing, which tells a candidate session its client stopped reading.
                write_limit=limits.max_unread_bytes,
                server_header="HireMate",
                # No permessage-deflate: an event or an ack is 60-300 bytes, so it saves a
                # candidate almost nothing, while each socket kept a compressor and a
                # decompressor (tens of KB) and each ack paid a zlib flush. Side by side
                # at 100 connections: 198 us of CPU per event against 221 (4 runs each),
                # and queuing one ack 11 us instead of 25 (median, latency benchmark).
                compression=None,
            ) as ws_server:
                self.ws_server = ws_server
                self.port = next(iter(ws_server.sockets)).getsockname()[1]
                yield self
        finally:
            await self.stop()

    async def run_db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking pymongo call off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))

    async def call_db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(db, *args)`` off the event loop: the sessions' ``DbCall``."""
        return await self.run_db(fn, self.db, *args, **kwargs)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ------------------------------------------------------------ routing

    async def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        answer = await self._route(connection, request)
        if answer is not None and request.method == "HEAD" and not _is_upgrade(request):
            return httpd.without_body(answer)
        return answer

    async def _route(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if path.startswith("/ws/"):
            if not _is_upgrade(request):
                return httpd.not_found()
            if path.startswith("/ws/assessment/"):
                return await self._candidate_handshake(connection, request, unquote(path[len("/ws/assessment/") :]))
            if path.startswith("/ws/self-id/"):
                return await self._self_id_handshake(connection, request, unquote(path[len("/ws/self-id/") :]))
            if path.startswith("/ws/live/"):
                return await self._live_handshake(connection, request, unquote(path[len("/ws/live/") :]))
            return httpd.not_found()
        if path == "/healthz":
            healthy = await self.healthy()
            return httpd.json_response(
                200 if healthy else 503, {"status": "ok" if healthy else "error", "db": "ok" if healthy else "down"}
            )
        if path.startswith("/a/"):
            if not self.page_limiter.allow(self.client_address(connection, request), time.monotonic()):
                return httpd.text_response(429, "Too many requests; try again in a minute.\n")
            return await self._page(unquote(path[len("/a/") :]), request.headers.get("Accept-Encoding"))
        if path.startswith("/static/"):
            relative = unquote(path[len("/static/") :])
            return self.static.get(
                relative, request.headers.get("Accept-Encoding"), request.headers.get("If-None-Match")
            )
        return httpd.not_found()

    async def handler(self, connection: ServerConnection) -> None:
        route = getattr(connection, "hm_route", None)
        if route is None:
            await connection.close(1008, "no route")
            return
        kind, payload = route
        if kind == "assessment":
            token, attempt, tasks, metadata = payload
            await CandidateSession(self.session_context, connection, token, attempt, tasks, metadata).run()
        elif kind == "self_id":
            await SelfIdSession(connection, self.call_db, payload).run()
        elif kind == "live":
            doc, claims = payload
            await LiveSession(self.live_context, connection, doc, claims).run()

    @staticmethod
    def _hold(connection: ServerConnection, table: dict[str, int], key: str) -> None:
        """Count ``connection`` in ``table[key]`` until its TCP connection is gone."""
        table[key] = table.get(key, 0) + 1

        def release() -> None:
            left = table.get(key, 0) - 1
            if left > 0:
                table[key] = left
            else:
                table.pop(key, None)

        if isinstance(connection, IngestConnection):
            connection.releases.append(release)
        else:  # not served by running(): count nothing that could not be released
            release()

    def client_address(self, connection: ServerConnection, request: Request) -> str:
        """The recruiter app's rule (hiremate.throttle): with a trusted proxy,
        the X-Forwarded-For entry HIREMATE_PROXY_HOPS places from the right."""
        remote = connection.remote_address
        peer = str(remote[0]) if isinstance(remote, tuple) and remote else str(remote)
        forwarded = request.headers.get_all("X-Forwarded-For")
        address = client_address(
            peer, forwarded, trust_proxy=self.settings.trust_proxy, proxy_hops=self.settings.proxy_hops
        )
        return address or peer

    # ------------------------------------------------------------ HTTP

    async def healthy(self) -> bool:
        """Ping the database, at most one ping in flight, answered within 2 s."""
        if self._health is None or self._health.done():
            self._health = asyncio.ensure_future(self.run_db(dbmod.ping, self.db))
        try:
            return await asyncio.wait_for(asyncio.shield(self._health), timeout=2.0)
        except (TimeoutError, PyMongoError):
            return False

    async def _find_by_token(self, token: str) -> TaskAttempt | None:
        if not httpd.TOKEN_PATTERN.match(token):
            return None
        return await self.run_db(attempts.find_by_token, self.db, token)

    async def _page(self, token: str, accept_encoding: str | None) -> Response:
        try:
            state = await self.run_db(self._page_state, token)
        except PyMongoError:
            return httpd.text_response(503, "The assessment service is unavailable; try again in a moment.\n")
        # The template may read the disk, and the page is compressed: both off the event loop.
        return await self.run_db(lambda: httpd.page_response(self.static.template(), state, accept_encoding))

    def _page_state(self, token: str) -> dict[str, Any]:
        """The page's state for a link (in a database thread): its attempt's, or "replaced", or "not_found"."""
        if not httpd.TOKEN_PATTERN.match(token):
            return httpd.page_state(None, None)
        attempt = attempts.find_by_token(self.db, token)
        if attempt is not None:
            return httpd.page_state(token, attempt) | candidate.facts(self.db, attempt)
        replaced = attempts.find_replaced(self.db, token)
        if replaced is not None:
            return {"state": "replaced", "token": None, "ws_path": None} | candidate.replaced_facts(self.db, replaced)
        return httpd.page_state(None, None)

    # ------------------------------------------------------------ candidate handshake

    async def _candidate_handshake(self, connection: ServerConnection, request: Request, token: str) -> Response | None:
        address = self.client_address(connection, request)
        if not self.connection_limiter.allow(address, time.monotonic()):
            return httpd.text_response(429, "Too many connections; try again in a minute.\n")
        cap = self.settings.limits.max_sockets_per_address
        if self.sockets_by_address.get(address, 0) >= cap:
            return httpd.text_response(429, "Too many open connections from this address.\n")
        try:
            attempt = await self._find_by_token(token)
            if attempt is None:
                return httpd.text_response(404, "This assessment link is not valid.\n")
            if attempt.status in FINAL_STATUSES:
                return httpd.text_response(410, f"This assessment is {attempt.status}.\n")
            tasks = await self.attempt_tasks(attempt)
        except PyMongoError:
            return httpd.text_response(503, "The assessment service is unavailable; try again in a moment.\n")
        metadata = EventMetadata(
            user_agent=(request.headers.get("User-Agent") or "")[:512] or None, ip_hash=self.ip_hash(address)
        )
        if self.sockets_by_address.get(address, 0) >= cap:  # again: others got in while we read
            return httpd.text_response(429, "Too many open connections from this address.\n")
        self._hold(connection, self.sockets_by_address, address)
        connection.hm_route = ("assessment", (token, attempt, tasks, metadata))  # type: ignore[attr-defined]
        return None

    async def _self_id_handshake(self, connection: ServerConnection, request: Request, token: str) -> Response | None:
        """The voluntary questions' socket: a completed attempt of an organisation that asks them."""
        address = self.client_address(connection, request)
        if not self.connection_limiter.allow(address, time.monotonic()):
            return httpd.text_response(429, "Too many connections; try again in a minute.\n")
        if self.sockets_by_address.get(address, 0) >= self.settings.limits.max_sockets_per_address:
            return httpd.text_response(429, "Too many open connections from this address.\n")
        try:
            attempt = await self._find_by_token(token)
            if attempt is None:
                return httpd.text_response(404, "This assessment link is not valid.\n")
            if attempt.status != AttemptStatus.COMPLETED:
                return httpd.text_response(409, "These questions are asked once the assessment is completed.\n")
            if not await self.run_db(self_id.enabled, self.db, attempt.organization_id):
                return httpd.text_response(404, "This organisation does not ask these questions.\n")
        except PyMongoError:
            return httpd.text_response(503, "The assessment service is unavailable; try again in a moment.\n")
        self._hold(connection, self.sockets_by_address, address)
        connection.hm_route = ("self_id", attempt.id)  # type: ignore[attr-defined]
        return None

    async def attempt_tasks(self, attempt: TaskAttempt) -> list[Task]:
        """The attempt's tasks as issued (snapshots; today's tasks for old attempts)."""
        if attempt.task_snapshots:
            return list(attempt.task_snapshots)
        return await self.run_db(attempts.issued_tasks, self.db, attempt)

    def ip_hash(self, address: str) -> str:
        return hmac.new(self._secret, b"ip:" + address.encode(), hashlib.sha256).hexdigest()[:32]

    # ------------------------------------------------------------ live handshake

    async def _live_handshake(self, connection: ServerConnection, request: Request, attempt_id: str) -> Response | None:
        if not self.live_limiter.allow(self.client_address(connection, request), time.monotonic()):
            return httpd.text_response(429, "Too many connections; try again in a minute.\n")
        ticket = (parse_qs(urlsplit(request.path).query).get("ticket") or [None])[0]
        try:
            claims = verify_ticket(self._secret, ticket)
        except TicketError as exc:
            return httpd.text_response(401, f"{exc}\n")
        if claims.attempt_id != attempt_id:
            return httpd.text_response(403, "This ticket is for another attempt.\n")
        if not ObjectId.is_valid(attempt_id):
            return httpd.not_found()
        try:
            doc = await self.run_db(attempts.live_fields, self.db, ObjectId(attempt_id))
        except PyMongoError:
            return httpd.text_response(503, "The live service is unavailable; try again in a moment.\n")
        if doc is None:
            return httpd.not_found()
        if str(doc.get("organization_id")) != claims.organization_id:
            return httpd.text_response(403, "This ticket is for another organisation.\n")
        try:
            refusal = await self.run_db(live_access.access_refusal, self.db, claims, doc.get("organization_id"))
        except PyMongoError:
            return httpd.text_response(503, "The live service is unavailable; try again in a moment.\n")
        if refusal is not None:
            return httpd.text_response(403, f"This ticket no longer grants access: {refusal}.\n")
        if self.sockets_by_ticket.get(claims.ticket_id, 0) >= self.settings.limits.live_sockets_per_ticket:
            return httpd.text_response(429, "Too many open connections with this ticket.\n")
        self._hold(connection, self.sockets_by_ticket, claims.ticket_id)
        connection.hm_route = ("live", (doc, claims))  # type: ignore[attr-defined]
        return None

    # ------------------------------------------------------------ candidate sessions

    def register_session(self, session: CandidateSession) -> None:
        """A session took the attempt's newest epoch: older local ones are taken over."""
        sessions = self.sessions.setdefault(session.attempt_id, set())
        if session not in sessions:
            sessions.add(session)
            self.hub.watch_attempt(session.attempt_id)
        if session.epoch is not None:
            for other in list(sessions):
                if other is not session:
                    other.newer_epoch(session.epoch)

    def unregister_session(self, session: CandidateSession) -> None:
        sessions = self.sessions.get(session.attempt_id)
        if sessions is not None and session in sessions:
            sessions.discard(session)
            self.hub.unwatch_attempt(session.attempt_id)
            if not sessions:
                del self.sessions[session.attempt_id]

    def _on_attempt_change(self, attempt_id: ObjectId, fields: dict[str, Any]) -> None:
        """From the change stream (any server's writes): takeovers, closures, profiles."""
        epoch = fields.get("session_epoch")
        status = fields.get("status")
        for session in list(self.sessions.get(attempt_id, ())):
            session.attempt_changed(epoch=epoch, status=status)
        if status in {AttemptStatus.EXPIRED.value, AttemptStatus.LOCKED.value}:
            self._spawn(self.ensure_profile(attempt_id))

    # ------------------------------------------------------------ metrics and profiles

    async def compute_profile(self, attempt_id: ObjectId) -> None:
        """Metrics and profile of an ended attempt, off the event loop; never raises."""
        try:
            await self.run_db(profiles.compute_and_store, self.db, attempt_id)
        except Exception:
            log.exception("computing the profile of attempt %s failed", attempt_id)

    async def ensure_profile(self, attempt_id: ObjectId) -> None:
        """Profile an attempt that ended after starting, unless it already is."""
        try:
            exists = await self.run_db(self.db[dbmod.METRICS].find_one, {"attempt_id": attempt_id}, {"_id": 1})
        except PyMongoError:
            return
        if exists is None:
            await self.compute_profile(attempt_id)

    # ------------------------------------------------------------ expiry sweep

    def request_sweep(self) -> None:
        self._sweep_wakeup.set()

    async def _sweep_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._sweep_wakeup.wait(), timeout=self.sweep_interval)
            self._sweep_wakeup.clear()
            await _logged("expiry sweep", self.sweep_once)
            await _logged("retention purge", self.purge_if_due)

    # ------------------------------------------------------------ mail

    async def _mail_loop(self) -> None:
        """Send what the outbox holds every ``mail_interval`` seconds (a
        blocking drain in the thread pool); queue due reminders once a minute."""
        assert self.mail_interval is not None
        while True:
            await _logged("mail drain", self.mail_once)
            await asyncio.sleep(self.mail_interval)

    async def mail_once(self) -> mail.DrainReport:
        if time.monotonic() - self._reminded_at >= REMINDER_INTERVAL_SECONDS:
            self._reminded_at = time.monotonic()
            await self.run_db(mail.queue_due_reminders, self.db, settings=self.settings)
        report = await self.run_db(mail.drain, self.db, self.settings, worker=self._mail_worker)
        if report.sent or report.retrying or report.failed:
            log.info("mail: %d sent, %d to retry, %d failed", report.sent, report.retrying, report.failed)
        return report

    # ------------------------------------------------------------ webhooks

    async def _webhook_loop(self) -> None:
        """Start the tries of due webhook deliveries every ``webhook_interval`` seconds."""
        assert self.webhook_interval is not None
        while True:
            await _logged("webhook drain", self.webhooks_once)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._webhook_wakeup.wait(), timeout=self.webhook_interval)
            self._webhook_wakeup.clear()

    async def emit_webhook(self, emit: Callable[..., int], organization_id: Any, attempt_id: Any) -> int:
        """A hiremate.webhooks event (``webhooks.attempt_completed`` ...) in the
        database threads; what it queued is tried at once rather than at the next
        tick (events of other processes wait for the tick). Never raises."""
        try:
            queued = await self.run_db(emit, self.db, organization_id, attempt_id, settings=self.settings)
        except Exception:  # the executor shut down as the server stops
            log.exception("queueing a webhook of attempt %s failed", attempt_id)
            return 0
        if queued:
            self._webhook_wakeup.set()
        return queued

    async def webhooks_once(self) -> list[asyncio.Future[str]]:
        """Claim as many due deliveries as there are free places and try each in
        its own thread; returns the tries started (not awaited)."""
        free = WEBHOOK_PARALLEL - len(self._webhook_tries)
        if free <= 0:
            return []
        claimed = await self.run_db(webhooks.claim_due, self.db, self._webhook_worker, utcnow(), free)
        loop = asyncio.get_running_loop()
        started = []
        for doc in claimed:
            future = loop.run_in_executor(
                self._webhook_executor,
                functools.partial(webhooks.deliver, self.db, self.settings, doc, self._webhook_worker),
            )
            self._webhook_tries.add(future)
            future.add_done_callback(self._webhook_try_done)
            started.append(future)
        return started

    def _webhook_try_done(self, future: asyncio.Future[str]) -> None:
        """A place is free: look for the next due delivery now, not at the next tick."""
        self._webhook_tries.discard(future)
        self._webhook_wakeup.set()

    async def purge_if_due(self) -> erasure.PurgeReport | None:
        """The retention purge when an interval has passed since the last one
        (None otherwise). Several ingest servers may each run it: every
        deletion is a ``find_one_and_delete`` or a ``delete_many``, so two
        purges at once remove each document once and count it once."""
        if self.purge_interval is None or time.monotonic() - self._purged_at < self.purge_interval:
            return None
        self._purged_at = time.monotonic()
        report = await self.run_db(erasure.purge, self.db, limit=PURGE_LIMIT)
        log.info("retention purge: %s", report.as_json())
        return report

    async def sweep_once(self) -> list[ObjectId]:
        """Expire what is due; profile the expired attempts that had started,
        and any ended attempt that lost its profile to a crash."""
        async with self._sweep_lock:
            expired = await self.run_db(attempts.expire_due, self.db)
            for attempt in expired:
                if attempt.started_at is not None and attempt.id is not None:
                    await self.compute_profile(attempt.id)
                await self.emit_webhook(webhooks.attempt_expired, attempt.organization_id, attempt.id)
            now = utcnow()
            unprofiled = await self.run_db(
                attempts.ended_without_metrics,
                self.db,
                updated_from=now - PROFILE_LOOKBACK,
                updated_to=now - PROFILE_GRACE,
            )
            for attempt_id in unprofiled:
                await self.compute_profile(attempt_id)
            return [a.id for a in expired if a.id is not None]


def freeze_startup_heap() -> None:
    """Hide every object alive now from the garbage collector, once serving.

    Imports, models and the server itself live as long as the process; left in
    the collector's oldest generation they made each full collection walk
    about 45,000 objects, a 19-26 ms stall of the event loop (and of every ack
    waiting on it) measured during the latency benchmark. Frozen, a full
    collection walks only what came after. Call it from the process's entry
    point, never from a library or a test process: frozen garbage is never
    freed.
    """
    gc.freeze()


async def _logged(what: str, step: Callable[[], Awaitable[Any]]) -> None:
    """One step of a background loop: a failure is logged (a store error as a
    warning, anything else with its traceback) and the loop goes on."""
    try:
        await step()
    except PyMongoError as exc:
        log.warning("%s failed: %s", what, exc)
    except Exception:
        log.exception("%s failed", what)
