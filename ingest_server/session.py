"""One candidate connection on ``/ws/assessment/{token}`` (docs/protocol.md).

The reader validates each event at once against the connection's state,
which already includes the events still in flight, and hands the accepted
ones to the group committer; it does not wait for the write. Every answer
goes through one ordered outbox, so acks and errors leave in the order the
messages came in, and an ack leaves only once its write is durable. Other
messages (start, resume, get_task, complete) wait until everything before
them is answered.

The connection's phase is a ``ConnState`` kept by a sans-I/O ``ConnMachine``
(``connstate.py``); this class is the asyncio around it. What the session
needs of the process it runs in (the database, the group committer, the rate
limiter, settings, the session registry, profiles) comes in a
``SessionContext`` that the server builds: nothing here imports the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bson import ObjectId
from pydantic import ValidationError
from pymongo.errors import PyMongoError
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from hiremate import attempts, candidate, greenhouse, mail, webhooks
from hiremate import events as ev
from hiremate.errors import AttemptError, ConsentRequired
from hiremate.models import AttemptStatus, BehaviorEvent, EventMetadata, Task, TaskAttempt
from hiremate.settings import Settings
from hiremate.tasks import candidate_view
from hiremate.timeutil import iso, utcnow
from ingest_server.commit import GroupCommitter, Verdict, WriteOutcome
from ingest_server.connstate import ConnMachine, ConnState
from ingest_server.dbcall import DbCall
from ingest_server.latency import LatencyRing
from ingest_server.ratelimit import EventRateLimiter

log = logging.getLogger("ingest_server.session")

CLOSE_NORMAL = 1000
CLOSE_TRY_AGAIN = 1013
CLOSE_TOKEN_USED = 4403
CLOSE_TIMED_OUT = 4408
CLOSE_TAKEN_OVER = 4409
CLOSE_NOT_READING = 4429

RECENT_IDS = 2000

_STATUSES = frozenset(status.value for status in AttemptStatus)
_ENDED_ELSEWHERE = frozenset({AttemptStatus.EXPIRED.value, AttemptStatus.LOCKED.value})


@dataclass(frozen=True)
class SessionContext:
    """What a candidate session uses of the process it runs in; ``IngestServer`` builds one."""

    settings: Settings
    committer: GroupCommitter  # submit(): the validated events, written in groups
    event_limiter: EventRateLimiter
    call_db: DbCall  # call_db(fn, *args): fn(db, *args), off the event loop
    request_sweep: Callable[[], None]  # an attempt looks expired: run the expiry sweep now
    register: Callable[[CandidateSession], None]  # took an epoch: older local sessions are taken over
    unregister: Callable[[CandidateSession], None]
    compute_profile: Callable[[ObjectId], Awaitable[None]]  # never raises
    # emit_webhook(fn, organization_id, attempt_id): a hiremate.webhooks event, off the
    # event loop, waking the delivery loop; never raises
    emit_webhook: Callable[..., Awaitable[int]]
    latency: LatencyRing = field(default_factory=LatencyRing)  # the server's own part of each ack


@dataclass
class Pending:
    """What one event/batch message became, waiting for its write."""

    single: bool
    first_seq: int | None
    items: list[tuple[int, BehaviorEvent | None]] = field(default_factory=list)  # (seq, new event or None: duplicate)
    rejection: ev.Rejection | None = None
    refusal: ev.Rejection | None = None  # the whole message was refused before validation
    completed_tasks: int | None = None  # current_task_index after this message, if a task_completed was accepted
    all_done: bool = False
    in_ns: int = 0  # frame received -> handed to the group writer (latency.py)


class EventReply:
    """An outbox item: the answer to one event/batch message, once its write is done."""

    __slots__ = ("answered", "future", "pending", "session")

    def __init__(self, session: CandidateSession, pending: Pending) -> None:
        self.session = session
        self.pending = pending
        self.future: asyncio.Future[WriteOutcome]  # the write's, set by the session as it submits
        self.answered = False  # the ack went out the moment the write was done (``stored``)

    async def __call__(self) -> None:
        outcome = await self.future
        if not self.answered:
            await self.session._reply_events(self.pending, outcome)

    def stored(self) -> None:
        """On the loop, the moment the write is done (before the sender wakes)."""
        self.session._answer_on_the_spot(self)


OutboxItem = Callable[[], Awaitable[None]]


class EventIds:
    """ObjectIds for new events, made as bson makes them (4 bytes of seconds,
    5 random bytes of this process, a 3-byte counter) without its lock and
    process check on every id: ``ObjectId()`` was a twentieth of the CPU per
    event. Event loop only (no lock); the ingest server never forks."""

    def __init__(self) -> None:
        self._process = os.urandom(5)
        self._counter = int.from_bytes(os.urandom(3), "big")

    def next(self) -> ObjectId:
        self._counter = (self._counter + 1) & 0xFFFFFF
        return ObjectId(int(time.time()).to_bytes(4, "big") + self._process + self._counter.to_bytes(3, "big"))


_EVENT_IDS = EventIds()


def _client_event_seq(message: Any) -> int | None:
    if isinstance(message, dict):
        seq = message.get("seq")
        if isinstance(seq, int) and not isinstance(seq, bool):
            return seq
    return None


class CandidateSession:
    def __init__(
        self,
        ctx: SessionContext,
        ws: ServerConnection,
        token: str,
        attempt: TaskAttempt,
        tasks: list[Task],
        metadata: EventMetadata,
    ) -> None:
        self.ctx = ctx
        self.ws = ws
        self.token = token
        self.attempt = attempt
        self.attempt_id: ObjectId = attempt.id  # type: ignore[assignment]
        self.tasks = tasks
        self.metadata = metadata
        self.machine = ConnMachine()
        # The attempt's state rebuilt from its stored events (and the events in
        # flight): what each event is validated against. Set once started.
        self.attempt_state: ev.AttemptState | None = None
        # Two facts that are not phases of the connection, so not ConnStates:
        # * the attempt is known completed, expired or locked (and as what).
        #   That is news about the attempt: it may come in any phase (even
        #   while the epoch switches or the attempt completes) and outlives the
        #   phase; the connection stays open and answers ``attempt_closed``.
        self.attempt_over = False
        self.final_status: str | None = None
        # * another connection stored seqs this one validated: ``attempt_state``
        #   may be behind the database, rebuild it before the next message.
        #   A flag on a cache, set while ACTIVE or COMPLETING alike.
        self.resync_needed = False
        self.recent_ids: OrderedDict[int, ObjectId] = OrderedDict()
        self.limits = ctx.settings.limits  # built once: a property that builds it per event was 7% of the CPU
        self._outbox: asyncio.Queue[OutboxItem | None] = asyncio.Queue()
        # Answers queued on the socket and not yet written (``_send`` while
        # the sender runs answers whose writes are done): written together by
        # ``_flush``, each with its ack latency's "in" part and store ack time.
        self._corked = False
        self._unflushed = False
        self._acks_unflushed: list[tuple[int, int]] = []
        # The outbox item the sender waits on (its write not done yet): answered on the spot when it is.
        self._awaited: OutboxItem | None = None
        self._received_ns: deque[int] = getattr(ws, "received_ns", None) or deque()
        self._sender_task: asyncio.Task[None] | None = None
        # The loop's time since when the reader waits for the client's next
        # message; None while it handles one. What the timeouts measure from.
        self._waiting_since: float | None = None
        self._closing: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ life cycle

    @property
    def state(self) -> ConnState:
        return self.machine.state

    @property
    def epoch(self) -> int | None:
        """The attempt's session epoch this connection holds (None before its first start or resume)."""
        return self.machine.epoch

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self._sender_task = loop.create_task(self._sender())
        if hasattr(self.ws, "on_unread"):
            self.ws.on_unread = self._not_reading  # an IngestConnection tells when the client stops reading
        self._waiting_since = loop.time()
        watchdog = loop.create_task(self._watchdog())
        try:
            facts = await self.ctx.call_db(candidate.facts, self.attempt)
            await self._send(
                {
                    "type": "assessment_info",
                    "status": str(self.attempt.status),
                    "candidate_name": self.attempt.candidate_info.name,
                    "position": self.attempt.candidate_info.position,
                    "total_tasks": len(self.tasks),
                    "current_task_index": self.attempt.current_task_index,
                    "expires_at": iso(self.attempt.expires_at),
                    **facts,
                }
            )
            self.machine.info_sent()
            unanswered = self.limits.max_unanswered_messages
            async for raw in self.ws:
                self._waiting_since = None
                if self.machine.closing:
                    # Read on and drop: a reader that stops lets the socket's
                    # receive queue fill, and the client's answer to our close
                    # frame would then never be read (a 10 s hang, then an abort).
                    continue
                if self._outbox.qsize() >= unanswered:
                    # Backpressure: read no more until the answers went out
                    # (a client far ahead of its answers, or a slow database);
                    # the client's sends then wait in TCP. Memory stays bounded.
                    await self._answered_or_closed()
                await self._on_message(raw)
                self._waiting_since = loop.time()
        except ConnectionClosed:
            pass
        finally:
            watchdog.cancel()
            epoch = self.epoch
            self.machine.close()
            self._outbox.put_nowait(None)
            if self._sender_task is not None:
                try:
                    await asyncio.wait_for(asyncio.shield(self._sender_task), timeout=1.0)
                except (TimeoutError, asyncio.CancelledError):
                    self._sender_task.cancel()
            self.ctx.unregister(self)
            self.machine.finished()
            if epoch is not None:
                await self._note_disconnected(epoch)

    async def _note_disconnected(self, epoch: int) -> None:
        """Tell the live view this socket is gone (unless a newer one took over or the attempt ended)."""
        try:
            await self.ctx.call_db(attempts.mark_disconnected, self.attempt_id, epoch)
        except PyMongoError:
            log.warning("could not mark attempt %s disconnected", self.attempt_id)

    async def _sender(self) -> None:
        """Run the outbox in order. Answers to event messages whose writes
        are done are queued on the socket one after another and written
        together (one write, one drain) before anything else runs or the
        sender waits: each ack is still its own message."""
        outbox = self._outbox
        item: OutboxItem | None = None
        taken = False
        while True:
            if not taken:
                await self._guarded(self._flush)  # nothing more is ready: write what is queued
                item = await outbox.get()
            taken = False
            try:
                if item is None:
                    await self._guarded(self._flush)
                    return
                if not self.machine.closing:
                    ready = isinstance(item, EventReply) and item.future.done()
                    if not (ready and self._ack_at_once(item)):  # type: ignore[arg-type]
                        if not ready:
                            await self._flush()
                        self._corked = ready
                        self._awaited = None if ready else item
                        try:
                            await item()
                        finally:
                            self._corked = False
                            self._awaited = None
            except ConnectionClosed:
                self.machine.close()
            except PyMongoError as exc:
                log.warning("database failure on attempt %s: %s", self.attempt_id, exc)
                await self.close(CLOSE_TRY_AGAIN, "database unavailable, try again later")
            except Exception:
                log.exception("candidate session failed (attempt %s)", self.attempt_id)
                await self.close(1011, "internal error")
            finally:
                outbox.task_done()
            if not outbox.empty():
                item, taken = outbox.get_nowait(), True

    def _ack_at_once(self, reply: EventReply) -> bool:
        """The common answer (one new event, stored, nothing else to do)
        queued without a coroutine: ``_reply_events`` would answer the same.
        False for anything else (then the sender runs the reply)."""
        pending = reply.pending
        if (
            not pending.single
            or pending.refusal is not None
            or pending.completed_tasks is not None
            or pending.all_done
            or len(pending.items) != 1
            or reply.future.cancelled()
            or reply.future.exception() is not None
        ):
            return False
        outcome = reply.future.result()
        if outcome.verdict is not Verdict.OK or len(outcome.results) != 1:
            return False
        (item_seq, event), result = pending.items[0], outcome.results[0]
        if event is None or result.duplicate or result.seq != item_seq:
            return False
        # What json.dumps(separators=(",", ":")) writes for the ack dict; a test holds them equal.
        if not self._queue_text(f'{{"type":"ack","seq":{item_seq},"event_id":"{result.event_id}"}}'):
            return False  # not open: the reply raises ConnectionClosed as ever
        self._remember(item_seq, result.event_id)
        if pending.in_ns and outcome.stored_ns:
            self._acks_unflushed.append((pending.in_ns, outcome.stored_ns))
        return True

    def _answer_on_the_spot(self, reply: EventReply) -> None:
        """The write the sender waits on is done: write the common ack now, in
        the turn of the loop that learnt it, rather than one turn later when
        the sender wakes (which then finds it answered). Anything else, or a
        sender busy elsewhere, is left to the sender."""
        if self._awaited is not reply or self._unflushed or self.machine.closing:
            return
        if self._ack_at_once(reply):
            reply.answered = True
            self._write_queued()

    def _write_queued(self) -> None:
        """What ``_flush`` does, without waiting: the queued answers go to the
        transport now (the outbox bounds what a client may leave unread)."""
        acks = self._take_queued()
        if acks is not None:
            self.ws.send_data()  # type: ignore[attr-defined]  # only an IngestConnection queues text
            self._record_written(acks)

    def _take_queued(self) -> list[tuple[int, int]] | None:
        """The queued answers' latencies, now theirs to write; None when the
        socket is no longer open (a close wrote them before its close frame,
        or nothing will be written)."""
        self._unflushed = False
        acks, self._acks_unflushed = self._acks_unflushed, []
        return acks if self.ws.protocol.state is State.OPEN else None

    def _record_written(self, acks: list[tuple[int, int]]) -> None:
        written = time.monotonic_ns()
        record = self.ctx.latency.record
        for in_ns, stored_ns in acks:
            record(in_ns, written - stored_ns)

    async def _guarded(self, step: Callable[[], Awaitable[None]]) -> None:
        try:
            await step()
        except ConnectionClosed:
            self.machine.close()

    async def _flush(self) -> None:
        """Write the answers queued on the socket; record their ack latencies."""
        if not self._unflushed:
            return
        acks = self._take_queued()
        if acks is not None:
            await self.ws.flush()  # type: ignore[attr-defined]  # only an IngestConnection queues text
            self._record_written(acks)

    async def _send(self, message: dict[str, Any]) -> None:
        await self._send_text(json.dumps(message, separators=(",", ":")))

    async def _send_text(self, text: str) -> None:
        if self._corked and self._queue_text(text):
            return
        await self._flush()
        await self.ws.send(text)

    def _queue_text(self, text: str) -> bool:
        queue_text = getattr(self.ws, "queue_text", None)
        if queue_text is None or not queue_text(text):
            return False
        self._unflushed = True
        return True

    def _enqueue(self, item: OutboxItem) -> None:
        self._outbox.put_nowait(item)

    def _not_reading(self) -> None:
        """The client stopped reading its answers: close with 4429, whatever is queued."""
        if self.machine.close():
            log.info("attempt %s: the client stopped reading its answers; closing", self.attempt_id)
            self._close_soon(CLOSE_NOT_READING, "not reading its answers")

    async def _watchdog(self) -> None:
        """Close a connection that keeps silent (PROTOCOL.md, Limits): before
        it has started, application messages count (a client must send one
        within the first-message timeout of the upgrade and of its previous
        one); once started, any frame counts, pongs included, so a candidate
        whose browser answers the keep-alive pings is never cut off."""
        limits = self.limits
        loop = asyncio.get_running_loop()
        # Sleep no longer than the shorter timeout: the connection may start meanwhile.
        nap = min(limits.first_message_timeout_seconds, limits.idle_timeout_seconds)
        while not self.machine.closing:
            waiting_since = self._waiting_since
            if self.machine.started:
                timeout = limits.idle_timeout_seconds
                last_frame = getattr(self.ws, "last_received", None)
                if waiting_since is not None and last_frame is not None:
                    waiting_since = max(waiting_since, last_frame)
            else:
                timeout = limits.first_message_timeout_seconds
            if waiting_since is None:  # handling a message: not idle
                await asyncio.sleep(nap)
                continue
            left = waiting_since + timeout - loop.time()
            if left > 0:
                await asyncio.sleep(min(left, nap))
                continue
            if self.machine.close():
                reason = "idle" if self.machine.started else "no message in time"
                self._close_soon(CLOSE_TIMED_OUT, reason)
            return

    async def _answered_or_closed(self) -> None:
        """Wait until every queued answer is out, or the socket closed."""
        answered = asyncio.ensure_future(self._outbox.join())
        closed = asyncio.ensure_future(self.ws.wait_closed())
        try:
            await asyncio.wait({answered, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            answered.cancel()
            closed.cancel()

    async def _in_order(self, item: Callable[[], Awaitable[None]]) -> None:
        """Run ``item`` after every earlier answer, and wait for it."""
        self._enqueue(item)
        await self._outbox.join()

    def _reply_now(self, message: dict[str, Any]) -> None:
        async def send() -> None:
            await self._send(message)

        self._enqueue(send)

    def _reply_error(self, rejection: ev.Rejection) -> None:
        """An error for a message that stores nothing; once started, the
        connection is still checked first (a stale one gets 4409 instead)."""
        if not self.machine.started:
            self._reply_now(rejection.to_message())
            return

        async def send() -> None:
            if await self._check_current():
                await self._send(rejection.to_message())

        self._enqueue(send)

    async def close(self, code: int, reason: str) -> None:
        self.machine.close()
        with contextlib.suppress(ConnectionClosed):
            await self.ws.close(code, reason)

    def _close_soon(self, code: int, reason: str) -> None:
        """Close from a callback (the machine is already CLOSING)."""
        self._closing = asyncio.get_running_loop().create_task(self.close(code, reason))

    def take_over(self) -> None:
        """Another connection started or resumed the attempt: close with 4409."""
        if self.machine.close():
            self._close_soon(CLOSE_TAKEN_OVER, "session taken over")

    def newer_epoch(self, epoch: int) -> None:
        """A session of this server took ``epoch``: an older one here is taken over."""
        if self.machine.is_taken_over(epoch):
            self.take_over()

    def attempt_changed(self, *, epoch: int | None, status: str | None) -> None:
        """The change stream saw the attempt change (a write of any server)."""
        if epoch is not None and self.machine.is_taken_over(epoch, reported=True):
            self.take_over()
        if status in _ENDED_ELSEWHERE:
            self.note_attempt_over(status)

    def note_attempt_over(self, status: str | None) -> None:
        """The attempt is completed, expired or locked (``status`` when known)."""
        self.attempt_over = True
        if status in _STATUSES:
            self.final_status = status

    def attempt_status(self) -> dict[str, Any]:
        state = self.attempt_state
        return {
            "type": "attempt_status",
            "status": self.final_status or str(self.attempt.status),
            "current_task_index": state.current_task_index if state else self.attempt.current_task_index,
            "total_tasks": len(self.tasks),
        }

    # ------------------------------------------------------------ dispatch

    async def _on_message(self, raw: str | bytes) -> None:
        self.ctx.committer.answer_waiting()  # acks whose writes are done go out before this message's work
        received = self._received_ns
        received_ns = received.popleft() if received else time.monotonic_ns()
        if isinstance(raw, bytes):
            self._reply_error(ev.Rejection(ev.INVALID_JSON, "frames must be UTF-8 JSON text"))
            return
        try:
            message = json.loads(raw)
        except (ValueError, RecursionError):
            self._reply_error(ev.Rejection(ev.INVALID_JSON, "the frame is not valid JSON"))
            return
        kind = message.get("type") if isinstance(message, dict) else None
        if self.resync_needed:
            await self._in_order(self._resync)
        match kind:
            case "event":
                self._on_events(message, [message], 0, single=True, received_ns=received_ns)
            case "batch":
                events = message.get("events")
                if not isinstance(events, list):
                    self._reply_error(ev.Rejection(ev.INVALID_PAYLOAD, "a batch carries a list of events"))
                    return
                self._on_events(message, events, len(raw.encode()), single=False, received_ns=received_ns)
            case "start":
                consent = message.get("consent")
                notice_version = consent.get("notice_version") if isinstance(consent, dict) else None

                async def start() -> None:
                    await self._start(notice_version)

                await self._in_order(start)
            case "request_accommodation":

                async def request_accommodation() -> None:
                    await self._request_accommodation(message)

                await self._in_order(request_accommodation)
            case "resume":
                session_key = message.get("session_key")

                async def resume() -> None:
                    await self._resume(session_key)

                await self._in_order(resume)
            case "get_task":
                index = message.get("index")

                async def get_task() -> None:
                    await self._get_task(index)

                await self._in_order(get_task)
            case "complete":
                await self._in_order(self._complete_requested)
            case _:
                self._reply_error(ev.Rejection(ev.UNKNOWN_MESSAGE, f"unknown message type {ev.quote(kind)}"))

    # ------------------------------------------------------------ start / resume

    async def _take_session(self, operation: Callable[..., Any], *args: Any) -> Any | None:
        """Run ``attempts.start`` or ``attempts.resume`` (each moves the session
        epoch on); a refusal is answered here and gives None."""
        self.machine.switch_epoch()
        try:
            return await self.ctx.call_db(operation, *args)  # _begin takes the epoch, at once
        except attempts.TokenAlreadyUsed as exc:
            await self._send(ev.Rejection(ev.TOKEN_ALREADY_USED, str(exc)).to_message())
            await self.close(CLOSE_TOKEN_USED, "token already used")
            return None
        except attempts.AttemptClosed as exc:
            await self._closed_reply(None, str(exc))
            self.machine.switch_refused()
            return None
        except ConsentRequired as exc:
            # Nothing changed: the socket stays open for a start that acknowledges the notice.
            await self._send(
                ev.Rejection(ev.CONSENT_REQUIRED, str(exc), {"notice_version": exc.notice_version}).to_message()
            )
            self.machine.switch_refused()
            return None

    async def _start(self, notice_version: Any) -> None:
        was_started = self.attempt.started_at is not None
        taken = await self._take_session(attempts.start, self.attempt, notice_version)
        if taken is None:
            return
        attempt, session_key = taken
        await self._begin(attempt)
        if not was_started:
            await self.ctx.emit_webhook(webhooks.attempt_started, attempt.organization_id, attempt.id)
        state = self.attempt_state
        assert state is not None
        message: dict[str, Any] = {
            "type": "started",
            "session_key": session_key,
            "attempt_status": self.attempt_status(),
        }
        if was_started:
            # A re-issued link: the attempt continues where it was.
            message["resumed_from"] = state.last_seq
            message["last_sequence_number"] = state.last_seq
            message["current_task_index"] = state.current_task_index
        await self._send(message)

    async def _resume(self, session_key: Any) -> None:
        attempt = await self._take_session(attempts.resume, self.attempt_id, session_key)
        if attempt is None:
            return
        await self._begin(attempt)
        state = self.attempt_state
        assert state is not None
        await self._send(
            {
                "type": "resumed",
                "last_sequence_number": state.last_seq,
                "current_task_index": state.current_task_index,
                "attempt_status": self.attempt_status(),
            }
        )

    async def _request_accommodation(self, message: dict[str, Any]) -> None:
        """The candidate asks for an accommodation (before or after starting); the link stays valid."""
        needs, note = message.get("needs", []), message.get("note", "")
        if not isinstance(needs, list) or not all(isinstance(n, str) for n in needs) or not isinstance(note, str):
            self._reply_error(ev.Rejection(ev.INVALID_PAYLOAD, "needs is a list of strings and note a string"))
            return
        try:
            attempt = await self.ctx.call_db(attempts.request_accommodation, self.attempt, needs=needs, note=note)
        except ValidationError as exc:
            problems = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors()[:3])
            self._reply_error(ev.Rejection(ev.INVALID_PAYLOAD, problems or "the request is not valid"))
            return
        except attempts.AttemptClosed as exc:
            await self._closed_reply(None, str(exc))
            return
        except AttemptError as exc:  # nothing asked for, or a re-issued link
            self._reply_error(ev.Rejection(ev.INVALID_PAYLOAD, str(exc)))
            return
        request = attempt.accommodation_request
        assert request is not None
        await self.ctx.call_db(mail.notify_accommodation_requested, self.attempt_id, settings=self.ctx.settings)
        await self.ctx.emit_webhook(webhooks.accommodation_requested, attempt.organization_id, attempt.id)
        await self._send({"type": "accommodation_request_received", "requested_at": iso(request.requested_at)})

    async def _begin(self, attempt: TaskAttempt) -> None:
        """Take the attempt's new epoch and rebuild the state from the stored events."""
        self.machine.epoch_taken(attempt.session_epoch)
        self.attempt = attempt
        self.recent_ids.clear()
        self.attempt_state = await self._load_state()
        self.ctx.register(self)

    async def _load_state(self) -> ev.AttemptState:
        docs = await self.ctx.call_db(ev.stored_events, self.attempt_id)
        return ev.AttemptState.rebuild(self.attempt, docs, tasks=self.tasks)

    async def _resync(self) -> None:
        """A write found seqs already stored by someone else: re-read the truth."""
        if self.machine.started:
            self.attempt_state = await self._load_state()
        self.recent_ids.clear()
        self.resync_needed = False

    # ------------------------------------------------------------ events

    def _on_events(
        self, message: dict[str, Any], events: list[Any], size: int, *, single: bool, received_ns: int = 0
    ) -> None:
        """``size``: the message's bytes (a batch's limit; 0 for a single event, which has none)."""
        first_seq = _client_event_seq(events[0]) if events else None
        pending = Pending(single=single, first_seq=first_seq)
        seq_for_errors = first_seq if single else None
        limits = self.limits
        state = self.attempt_state
        epoch = self.machine.epoch
        if state is None or epoch is None:
            self._reply_now(ev.Rejection(ev.NOT_STARTED, "send start or resume first", seq=seq_for_errors).to_message())
            return
        now = utcnow()
        if not single and (len(events) > limits.max_batch_events or size > limits.max_batch_bytes):
            pending.refusal = ev.Rejection(
                ev.BATCH_TOO_LARGE,
                f"a batch holds at most {limits.max_batch_events} events and {limits.max_batch_bytes} bytes",
            )
        elif self.attempt_over or self.attempt.expires_at <= now:
            pending.refusal = ev.Rejection(ev.ATTEMPT_CLOSED, "this assessment is closed", seq=seq_for_errors)
            if not self.attempt_over:
                self.ctx.request_sweep()
        elif not self.ctx.event_limiter.allow(self.attempt_id, max(len(events), 1), time.monotonic()):
            pending.refusal = ev.Rejection(
                ev.RATE_LIMITED,
                f"more than {limits.events_per_second:g} events a second (burst {limits.event_burst}); slow down",
                seq=seq_for_errors,
            )
        else:
            batch_sent_at = None if single else message.get("sent_at")
            tasks_before = state.current_task_index
            for item in events:
                if not isinstance(item, dict):
                    pending.rejection = ev.Rejection(ev.INVALID_PAYLOAD, "each event must be an object")
                    break
                result = ev.validate(
                    state, item, now=now, sent_at=batch_sent_at, metadata=self.metadata, event_id=_EVENT_IDS.next()
                )
                if isinstance(result, ev.Rejection):
                    pending.rejection = result
                    break
                if isinstance(result, ev.Duplicate):
                    pending.items.append((result.seq, None))
                    continue
                state.apply(result)
                pending.items.append((result.sequence_number, result))
            if state.current_task_index != tasks_before:
                pending.completed_tasks = state.current_task_index
            pending.all_done = state.all_tasks_completed

        docs = [event.to_doc() for _, event in pending.items if event is not None]
        reply = EventReply(self, pending)
        reply.future = self.ctx.committer.submit(self.attempt_id, epoch, docs, reply.stored)
        if received_ns:
            pending.in_ns = time.monotonic_ns() - received_ns
        self._enqueue(reply)

    async def _reply_events(self, pending: Pending, outcome: WriteOutcome) -> None:
        seq = pending.first_seq if pending.single else None
        if outcome.verdict is Verdict.STALE:
            await self.close(CLOSE_TAKEN_OVER, "session taken over")
            return
        if outcome.verdict is Verdict.CLOSED:
            if outcome.expired:
                self.ctx.request_sweep()
            await self._closed_reply(outcome.status, "this assessment is closed", seq=seq)
            return
        if pending.refusal is not None:
            await self._send(pending.refusal.to_message())
            return
        if pending.single and outcome.verdict is Verdict.OK and len(pending.items) == len(outcome.results) == 1:
            (item_seq, event), result = pending.items[0], outcome.results[0]
            if event is not None and not result.duplicate and result.seq == item_seq:
                # The common answer, one new event stored: the general path below, unrolled
                # (what json.dumps(separators=(",", ":")) writes; a test holds them equal).
                self._remember(item_seq, result.event_id)
                await self._send_text(f'{{"type":"ack","seq":{item_seq},"event_id":"{result.event_id}"}}')
                self._note_latency(pending, outcome)
                await self._after_stored(pending)
                return

        stored = {result.seq: result for result in outcome.results}
        if any(result.duplicate for result in outcome.results):
            self.resync_needed = True  # another connection stored these seqs: our state may be off
        wanted = [s for s, event in pending.items if event is None and s not in self.recent_ids]
        known: dict[int, ObjectId] = {}
        if wanted and outcome.verdict is Verdict.OK:
            await self._flush()  # earlier answers do not wait for this read
            known = await self.ctx.call_db(ev.stored_ids, self.attempt_id, wanted)

        seqs: list[int] = []
        event_ids: list[str] = []
        duplicates: list[int] = []
        for item_seq, event in pending.items:
            if event is not None:
                result = stored.get(item_seq)
                if result is None:
                    break  # not stored: nothing from here on is acknowledged
                event_id, duplicate = result.event_id, result.duplicate
            else:
                event_id = self.recent_ids.get(item_seq) or known.get(item_seq)  # type: ignore[assignment]
                if event_id is None:
                    break
                duplicate = True
            seqs.append(item_seq)
            event_ids.append(str(event_id))
            if duplicate:
                duplicates.append(item_seq)
            self._remember(item_seq, event_id)

        complete = outcome.verdict is Verdict.OK and len(seqs) == len(pending.items)
        if pending.single:
            if seqs:
                ack: dict[str, Any] = {"type": "ack", "seq": seqs[0], "event_id": event_ids[0]}
                if duplicates:
                    ack["duplicate"] = True
                await self._send(ack)
                self._note_latency(pending, outcome)
        elif seqs or (complete and pending.rejection is None):
            ack = {"type": "ack", "seqs": seqs, "event_ids": event_ids}  # the stored prefix
            if duplicates:
                ack["duplicates"] = duplicates
            await self._send(ack)
            self._note_latency(pending, outcome)

        if not complete:
            # The database failed: what was stored is acknowledged, nothing more.
            await self.close(CLOSE_TRY_AGAIN, "database unavailable, try again later")
            return
        if pending.rejection is not None:
            await self._send(pending.rejection.to_message())
        await self._after_stored(pending)

    async def _after_stored(self, pending: Pending) -> None:
        """Once a message's events are stored and answered: the task index, the completion."""
        if pending.completed_tasks is not None:
            await self._flush()
            await self.ctx.call_db(attempts.set_current_task_index, self.attempt_id, pending.completed_tasks)
        if pending.all_done and pending.items:
            await self._flush()
            await self._complete()

    def _note_latency(self, pending: Pending, outcome: WriteOutcome) -> None:
        """The server's own part of this ack (latency.py), once the ack is written."""
        if not pending.in_ns or not outcome.stored_ns:
            return
        if self._unflushed:
            self._acks_unflushed.append((pending.in_ns, outcome.stored_ns))
        else:
            self.ctx.latency.record(pending.in_ns, time.monotonic_ns() - outcome.stored_ns)

    def _remember(self, seq: int, event_id: ObjectId) -> None:
        self.recent_ids[seq] = event_id
        self.recent_ids.move_to_end(seq)
        while len(self.recent_ids) > RECENT_IDS:
            self.recent_ids.popitem(last=False)

    async def _closed_reply(self, status: str | None, text: str, *, seq: int | None = None) -> None:
        self.note_attempt_over(status)
        await self._send(ev.Rejection(ev.ATTEMPT_CLOSED, text, seq=seq).to_message())

    # ------------------------------------------------------------ tasks and completion

    async def _check_current(self) -> bool:
        """Before a non-event message: is this connection still the attempt's,
        and the attempt still open? Answers and returns False otherwise."""
        epoch = self.machine.epoch
        assert epoch is not None
        outcome = await self.ctx.committer.submit(self.attempt_id, epoch, [])
        if outcome.verdict is Verdict.STALE:
            await self.close(CLOSE_TAKEN_OVER, "session taken over")
            return False
        if outcome.verdict is Verdict.CLOSED:
            if outcome.expired:
                self.ctx.request_sweep()
            await self._closed_reply(outcome.status, "this assessment is closed")
            return False
        if outcome.verdict is Verdict.FAILED:
            await self.close(CLOSE_TRY_AGAIN, "database unavailable, try again later")
            return False
        return True

    async def _current_state(self) -> ev.AttemptState | None:
        """The attempt's state when this connection has started and is still
        the current one; None (the client told, or the connection closing) otherwise."""
        if not self.machine.started:
            await self._send(ev.Rejection(ev.NOT_STARTED, "send start or resume first").to_message())
            return None
        if not await self._check_current():
            return None
        assert self.attempt_state is not None
        return self.attempt_state

    async def _get_task(self, index: Any) -> None:
        state = await self._current_state()
        if state is None:
            return
        valid = isinstance(index, int) and not isinstance(index, bool)
        if not valid or not 0 <= index <= state.current_task_index or index >= len(self.tasks):
            await self._send(
                ev.Rejection(
                    ev.TASK_NOT_AVAILABLE,
                    f"task {ev.quote(index)} is not available (current task index {state.current_task_index})",
                ).to_message()
            )
            return
        await self._send({"type": "task", "index": index, "task": candidate_view(self.tasks[index])})

    async def _complete_requested(self) -> None:
        state = await self._current_state()
        if state is None:
            return
        if not state.all_tasks_completed:
            await self._send(
                ev.Rejection(
                    ev.INCOMPLETE,
                    f"{state.current_task_index} of {len(self.tasks)} tasks are completed",
                ).to_message()
            )
            return
        await self._complete()

    async def _complete(self) -> None:
        """The last task is stored: complete the attempt, profile it, say so, close."""
        if not self.machine.begin_completion():
            return
        state = self.attempt_state
        assert state is not None
        completed_at = state.last_event_time or utcnow()
        await self.ctx.call_db(attempts.set_current_task_index, self.attempt_id, len(self.tasks))
        done = await self.ctx.call_db(attempts.complete, self.attempt_id, completed_at=completed_at)
        if done is None:
            current = await self.ctx.call_db(attempts.read_attempt, self.attempt_id)
            if current is None or current.status != AttemptStatus.COMPLETED:
                self.machine.completion_refused()
                await self._closed_reply(None if current is None else str(current.status), "this assessment is closed")
                return
            done = current
        else:
            await self.ctx.compute_profile(self.attempt_id)
            await self.ctx.call_db(mail.notify_completed, self.attempt_id, settings=self.ctx.settings)  # never raises
            await self.ctx.emit_webhook(webhooks.attempt_completed, done.organization_id, done.id)
            await self.ctx.emit_webhook(greenhouse.notify_completed, done.organization_id, done.id)
        self.note_attempt_over(AttemptStatus.COMPLETED.value)
        await self._send(
            {
                "type": "assessment_completed",
                "attempt_id": str(self.attempt_id),
                "completed_at": iso(done.completed_at or completed_at),
            }
        )
        await self.close(CLOSE_NORMAL, "assessment completed")
