"""Live fan-out: ONE change stream per process, shared by every subscriber.

A thread follows the database's change stream (inserts into
``behavior_events``, updates of ``task_attempts``) and hands the changes to
the event loop, which pushes them into each interested subscriber's bounded
queue. A subscriber whose queue is full is marked overflowed (its socket is
closed with 4408); ingestion never waits for it. Events stored by any ingest
server appear, because they all write to the same database.

The stream asks only for the events of attempts someone here watches:
its pipeline names them, and it is reopened from where it stood whenever
that set changes (checked between reads, so within the stream's 250 ms
wait). Events nobody watches then cost this process nothing, however many
ingest servers write them; while nobody here watches any attempt, the stream
follows ``task_attempts`` alone, so the store does not even turn the stored
events into changes for it (``stream_target``). An attempt newly named gets
a ``resync`` of its own once the reopened stream is open: its subscribers
read the stored events again from where they are, which covers what the old
stream left out between their subscription and the reopening (the
``SequenceGate`` drops what they already have).

The stream is read as raw BSON: an inserted event is decoded only when
this process has a subscriber for its attempt (its ``attempt_id`` is read
from the document's bytes), so an event whose subscriber just left costs no
decoding and no trip to the event loop. Attempt changes are decoded whole
(they are few, and every one may concern a candidate session).

Where change streams are unavailable (a standalone mongod) the same thread
tails by ``(attempt_id, sequence_number)`` for the subscribed attempts and
polls the watched attempts' status instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import bson
from bson import ObjectId
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import OperationFailure, PyMongoError

from hiremate import db as dbmod

log = logging.getLogger("ingest_server.fanout")

ATTEMPT_FIELDS = ("status", "current_task_index", "session_epoch", "completed_at", "started_at")


@dataclass(frozen=True)
class Change:
    kind: str  # "event" | "attempt" | "resync"
    attempt_id: ObjectId | None = None
    doc: dict[str, Any] = field(default_factory=dict)


class SequenceGate:
    """Lets events through in ``sequence_number`` order, each exactly once.

    Anything at or below the last delivered seq is dropped (the backlog and
    the live stream overlap); anything beyond the next expected one waits
    until the events before it arrive.
    """

    def __init__(self, next_seq: int = 1) -> None:
        self.next_seq = next_seq
        self._waiting: dict[int, Any] = {}

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def offer(self, seq: int, item: Any) -> list[Any]:
        if seq < self.next_seq:
            return []
        self._waiting.setdefault(seq, item)
        ready = []
        while self.next_seq in self._waiting:
            ready.append(self._waiting.pop(self.next_seq))
            self.next_seq += 1
        return ready


class Subscription:
    """One live socket's bounded queue of changes for one attempt."""

    def __init__(self, attempt_id: ObjectId, maxsize: int) -> None:
        self.attempt_id = attempt_id
        self.maxsize = max(1, maxsize)
        self.overflowed = False
        self.closed = False
        self.on_overflow: Callable[[], None] | None = None
        self._items: deque[Change] = deque()
        self._wake = asyncio.Event()

    def push(self, change: Change) -> None:
        """On the loop; never blocks: a full queue marks the subscriber overflowed."""
        if self.overflowed or self.closed:
            return
        if len(self._items) >= self.maxsize:
            self.overflowed = True
            self._items.clear()
            self._wake.set()
            if self.on_overflow is not None:
                self.on_overflow()
            return
        self._items.append(change)
        self._wake.set()

    def close(self) -> None:
        self.closed = True
        self._wake.set()

    async def next_batch(self) -> list[Change]:
        """Everything queued (waits for at least one change, an overflow or the close)."""
        while not self._items and not self.overflowed and not self.closed:
            self._wake.clear()
            await self._wake.wait()
        items = list(self._items)
        self._items.clear()
        return items


AttemptListener = Callable[[ObjectId, dict[str, Any]], None]


class LiveHub:
    def __init__(
        self,
        db: Database,
        *,
        queue_size: int = 1000,
        mode: str = "auto",
        poll_interval: float = 0.25,
    ) -> None:
        if mode not in {"auto", "stream", "poll"}:
            raise ValueError("mode is auto, stream or poll")
        self.db = db
        self.queue_size = queue_size
        self.requested_mode = mode
        self.mode: str | None = None  # "stream" or "poll" once running
        self.poll_interval = poll_interval
        self._subs: dict[ObjectId, set[Subscription]] = {}
        self._watched: dict[ObjectId, int] = {}  # attempts with local candidate sessions (poll mode)
        self._listeners: list[AttemptListener] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._opened = threading.Event()
        self._inbox: deque[Change] = deque()
        self._drain_scheduled = False
        self._lock = threading.Lock()
        self._subscribed_version = 0  # moves whenever the set of subscribed attempts changes
        self.streamed_attempts: frozenset[ObjectId] = frozenset()  # whose events the open stream asks for
        self.streamed_scope: str | None = None  # what it follows: the database's name, or task_attempts

    # ------------------------------------------------------------ life cycle

    async def start(self, timeout: float = 10.0) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="live-hub", daemon=True)
        self._thread.start()
        # Subscribers read their backlog after subscribing; the stream must be
        # open by then, or an event stored in between would be missed.
        opened = await asyncio.to_thread(self._opened.wait, timeout)
        if not opened:
            log.warning("the live change stream did not open within %.0fs; live views may lag", timeout)

    async def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5.0)
            self._thread = None

    # ------------------------------------------------------------ registry (event loop only)

    def subscribe(self, attempt_id: ObjectId) -> Subscription:
        sub = Subscription(attempt_id, self.queue_size)
        with self._lock:
            if attempt_id not in self._subs:
                self._subscribed_version += 1
            self._subs.setdefault(attempt_id, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            subs = self._subs.get(sub.attempt_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subs[sub.attempt_id]
                    self._subscribed_version += 1

    def _subscribed(self) -> tuple[frozenset[ObjectId], int]:
        """From the thread: the attempts subscribed to now, and the set's version."""
        with self._lock:
            return frozenset(self._subs), self._subscribed_version

    def add_attempt_listener(self, listener: AttemptListener) -> None:
        self._listeners.append(listener)

    def watch_attempt(self, attempt_id: ObjectId) -> None:
        with self._lock:
            self._watched[attempt_id] = self._watched.get(attempt_id, 0) + 1

    def unwatch_attempt(self, attempt_id: ObjectId) -> None:
        with self._lock:
            count = self._watched.get(attempt_id, 0) - 1
            if count > 0:
                self._watched[attempt_id] = count
            else:
                self._watched.pop(attempt_id, None)

    def _is_subscribed(self, attempt_id: ObjectId) -> bool:
        """From the thread: does anyone here watch this attempt's events?"""
        with self._lock:
            return attempt_id in self._subs

    @property
    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subs.values())

    # ------------------------------------------------------------ thread -> loop

    def _emit(self, changes: list[Change]) -> None:
        """From the thread: queue changes and wake the loop once."""
        if not changes or self._loop is None:
            return
        with self._lock:
            self._inbox.extend(changes)
            if self._drain_scheduled:
                return
            self._drain_scheduled = True
        with contextlib.suppress(RuntimeError):  # the loop is closed: shutting down
            self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        with self._lock:
            changes = list(self._inbox)
            self._inbox.clear()
            self._drain_scheduled = False
        self.dispatch(changes)

    def dispatch(self, changes: list[Change]) -> None:
        """On the loop: hand each change to its subscribers and listeners."""
        for change in changes:
            if change.kind == "resync":
                # Every subscriber, or (after a reopening that added an attempt) that attempt's.
                targets = self._subs.values() if change.attempt_id is None else [self._subs.get(change.attempt_id, ())]
                for subs in list(targets):
                    for sub in list(subs):
                        sub.push(change)
                continue
            assert change.attempt_id is not None
            for sub in list(self._subs.get(change.attempt_id, ())):
                sub.push(change)
            if change.kind == "attempt":
                for listener in self._listeners:
                    try:
                        listener(change.attempt_id, change.doc)
                    except Exception:
                        log.exception("attempt listener failed")

    # ------------------------------------------------------------ the thread

    def _run(self) -> None:
        if self.requested_mode in {"auto", "stream"}:
            try:
                self._stream_loop()
                return
            except OperationFailure as exc:
                if self.requested_mode == "stream":
                    log.error("change streams are unavailable: %s", exc)
                    self._opened.set()
                    return
                log.info("change streams are unavailable (%s); tailing by sequence number instead", exc)
        self._poll_loop()

    def _stream_loop(self) -> None:
        token: Any = None
        token_scope: str | None = None  # the scope of the stream ``token`` was read from
        attempts_token: Any = None  # the last attempt change's position, which task_attempts resumes from
        backoff = 0.2
        ever_opened = False
        codec_options = self.db.codec_options
        raw_db = self.db.with_options(codec_options=codec_options.with_options(document_class=RawBSONDocument))
        while not self._stopping.is_set():
            stream = None
            try:
                options: dict[str, Any] = {"max_await_time_ms": 250}
                if token is not None:
                    options["resume_after"] = token
                wanted, version = self._subscribed()
                # Nobody here watching: the stream follows task_attempts alone, so
                # the store does not turn every stored event into a change only to
                # filter it out (see ``stream_target``).
                target = stream_target(raw_db, wanted)
                if target is not raw_db and token is not None and token_scope != target.name:
                    # task_attempts refuses a position read from the database's stream
                    # when that was an event's. After the last attempt change seen it
                    # misses and repeats none of them; with none seen, stay on the database.
                    if attempts_token is not None:
                        options["resume_after"] = attempts_token
                    else:
                        target = raw_db
                with target.watch(stream_pipeline(wanted), **options) as stream:
                    if ever_opened and token is None:
                        self._emit([Change("resync")])  # reopened without a position: re-read
                    else:
                        # Reopened from a position with more attempts: what the old stream left out of theirs is stored.
                        self._emit([Change("resync", attempt_id) for attempt_id in wanted - self.streamed_attempts])
                    self.streamed_attempts = wanted
                    self.streamed_scope = target.name
                    ever_opened = True
                    self.mode = "stream"
                    self._opened.set()
                    backoff = 0.2
                    while not self._stopping.is_set():
                        if self._subscribed_version != version:
                            token = stream.resume_token  # reopen from here, asking for the attempts watched now
                            token_scope = target.name
                            break
                        change = stream.try_next()
                        if change is None:
                            continue
                        # The position (stream.resume_token) is read only when
                        # reopening: it is a deep copy, per change a sixth of
                        # the server's CPU with raw documents.
                        converted = convert_raw(change, codec_options, self._is_subscribed)
                        if converted is not None:
                            if converted.kind == "attempt":
                                attempts_token = change["_id"]
                            self._emit([converted])
            except OperationFailure as exc:
                if not ever_opened:
                    raise
                log.warning("live change stream failed (%s); reopening", exc)
                token = attempts_token = None  # the position may be gone: reopen fresh and resync
            except PyMongoError as exc:
                if stream is not None:
                    token, token_scope = stream.resume_token, target.name  # where it stopped: resume there
                log.warning("live change stream interrupted (%s); retrying in %.1fs", exc, backoff)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 5.0)

    def _poll_loop(self) -> None:
        self.mode = "poll"
        self._opened.set()
        tails: dict[ObjectId, int] = {}
        known: dict[ObjectId, dict[str, Any]] = {}
        while not self._stopping.is_set():
            with self._lock:
                subscribed = list(self._subs)
                watched = set(subscribed) | set(self._watched)
            try:
                changes: list[Change] = []
                for attempt_id in subscribed:
                    last = tails.get(attempt_id, 0)
                    cursor = (
                        self.db[dbmod.EVENTS]
                        .find({"attempt_id": attempt_id, "sequence_number": {"$gt": last}})
                        .sort("sequence_number", 1)
                        .limit(1000)
                    )
                    for doc in cursor:
                        changes.append(Change("event", attempt_id, doc))
                        if doc["sequence_number"] == last + 1:
                            last += 1
                    tails[attempt_id] = last
                if watched:
                    projection = dict.fromkeys(ATTEMPT_FIELDS, 1)
                    for doc in self.db[dbmod.ATTEMPTS].find({"_id": {"$in": list(watched)}}, projection):
                        fields = {k: doc.get(k) for k in ATTEMPT_FIELDS}
                        before = known.get(doc["_id"])
                        known[doc["_id"]] = fields
                        if before is None:
                            # First sight: whatever happened before it is news to somebody;
                            # subscribers and sessions ignore what they already know.
                            changes.append(Change("attempt", doc["_id"], fields))
                        elif before != fields:
                            changed = {k: v for k, v in fields.items() if before.get(k) != v}
                            changes.append(Change("attempt", doc["_id"], changed))
                for attempt_id in [a for a in tails if a not in subscribed]:
                    del tails[attempt_id]
                for attempt_id in [a for a in known if a not in watched]:
                    del known[attempt_id]
                self._emit(changes)
            except PyMongoError as exc:
                log.warning("live polling failed: %s", exc)
            self._stopping.wait(self.poll_interval)


def stream_target(db: Database, attempt_ids: frozenset[ObjectId]) -> Database | Collection:
    """What the live change stream follows: the whole database while events of
    ``attempt_ids`` are wanted, else ``task_attempts`` alone. A stream on the
    database makes the store turn every inserted event into a change before
    ``stream_pipeline``'s filter drops it: SecantusDB 0.7.0b3 spent 669-765 us
    of CPU per stored event with one open, 443-532 without and 512-572 with
    one on ``task_attempts`` (inserts of 15 events, two runs). Switching
    between the two reopens the stream from where it stood, as any change of
    the watched set does (back to ``task_attempts``: from the last attempt
    change, since that stream refuses an event's position)."""
    return db if attempt_ids else db[dbmod.ATTEMPTS]


def stream_pipeline(attempt_ids: frozenset[ObjectId]) -> list[dict[str, Any]]:
    """The live change stream's filter: changes of attempts (every one: the
    candidate sessions listen), and inserted events of ``attempt_ids`` only."""
    wanted: list[dict[str, Any]] = [{"ns.coll": dbmod.ATTEMPTS, "operationType": {"$in": ["update", "replace"]}}]
    if attempt_ids:
        wanted.append(
            {
                "ns.coll": dbmod.EVENTS,
                "operationType": "insert",
                "fullDocument.attempt_id": {"$in": sorted(attempt_ids)},
            }
        )
    return [{"$match": {"$or": wanted}}]


def convert_raw(
    change: RawBSONDocument, codec_options: CodecOptions, subscribed: Callable[[ObjectId], bool]
) -> Change | None:
    """A change read as raw BSON: an event insert is decoded (with the
    database's own codec options, so the document is what a plain read
    gives) only when ``subscribed(attempt_id)``; None otherwise."""
    ns = change.get("ns") or {}
    if ns.get("coll") == dbmod.EVENTS and change.get("operationType") == "insert":
        full = change.get("fullDocument")
        if isinstance(full, RawBSONDocument):
            attempt_id = object_id_field(full.raw, b"attempt_id")
            if attempt_id is not None and not subscribed(attempt_id):
                return None
            event = _convert(
                {
                    "ns": {"coll": dbmod.EVENTS},
                    "operationType": "insert",
                    "fullDocument": bson.decode(full.raw, codec_options=codec_options),
                }
            )
            return event if event is not None and subscribed(event.attempt_id) else None
    return _convert(bson.decode(change.raw, codec_options=codec_options))


# Sizes of the BSON element types whose value has a fixed size.
_FIXED_SIZES = {
    0x01: 8,
    0x06: 0,
    0x07: 12,
    0x08: 1,
    0x09: 8,
    0x0A: 0,
    0x10: 4,
    0x11: 8,
    0x12: 8,
    0x13: 16,
    0x7F: 0,
    0xFF: 0,
}
_LENGTH_PREFIXED = {0x02: 4, 0x0D: 4, 0x0E: 4, 0x05: 5, 0x03: 0, 0x04: 0}  # extra bytes besides the int32's count


def object_id_field(raw: bytes, name: bytes) -> ObjectId | None:
    """The top-level ObjectId field ``name`` of a BSON document, read from its
    bytes without decoding the rest; None when absent, not an ObjectId, or
    behind an element this reader does not size (the caller then decodes)."""
    position, end = 4, len(raw) - 1
    try:
        while position < end:
            kind = raw[position]
            key_end = raw.index(b"\x00", position + 1)
            key = raw[position + 1 : key_end]
            position = key_end + 1
            if key == name:
                return ObjectId(raw[position : position + 12]) if kind == 0x07 else None
            size = _FIXED_SIZES.get(kind)
            if size is None:
                extra = _LENGTH_PREFIXED.get(kind)
                if extra is None:
                    return None
                size = int.from_bytes(raw[position : position + 4], "little") + extra
            position += size
    except (ValueError, IndexError):
        return None
    return None


def _convert(change: dict[str, Any]) -> Change | None:
    ns = change.get("ns") or {}
    operation = change.get("operationType")
    if ns.get("coll") == dbmod.EVENTS and operation == "insert":
        doc = change.get("fullDocument") or {}
        if "attempt_id" not in doc or "sequence_number" not in doc:
            return None
        return Change("event", doc["attempt_id"], doc)
    if ns.get("coll") == dbmod.ATTEMPTS:
        key = (change.get("documentKey") or {}).get("_id")
        if key is None:
            return None
        if operation == "update":
            updated = (change.get("updateDescription") or {}).get("updatedFields") or {}
            fields = {k: v for k, v in updated.items() if k in ATTEMPT_FIELDS}
        elif operation == "replace":
            full = change.get("fullDocument") or {}
            fields = {k: full.get(k) for k in ATTEMPT_FIELDS}
        else:
            return None
        if not fields:
            return None
        return Change("attempt", key, fields)
    return None
