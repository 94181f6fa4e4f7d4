"""Per-organisation counters of attempts, so the recruiter pages never read
every attempt to count them.

Why: the embedded store (SecantusDB) reads and decodes every matching
document for any count, distinct, ``$group`` or sort, index or not, so a
page that counts an organisation's attempts costs time linear in their
number (0.75 s at 10,000 attempts against 0.15 s at 1,000). These counters
are small documents found through an index on ``organization_id``: reading
them costs the same whatever the number of attempts.

The documents (collection ``attempt_counts``; the ``_id`` is derived from
what a document counts, so an ``$inc`` upsert of the same counter from two
processes meets one document, never two):

* ``kind: "status"``: attempts of one (``position``, ``status``), in ``n``;
  in ``p`` the people among them (attempts not ``superseded`` by a newer
  attempt of the same email: ``hiremate.people``).
  ``position`` is the attempt's ``candidate_info.position`` (None when
  missing, as a ``$group`` sees it; "" is kept apart from None).
* ``kind: "day"``: completed attempts whose ``completed_at`` falls on the
  UTC day ``day`` (midnight, UTC), in ``n``; by the hour of that day, in
  ``h: {"<0-23>": n}``.
* ``kind: "durations"``: a histogram of completion durations
  (``completed_at - started_at``, rounded to whole seconds), one document a
  duration hour (``hour``), ``s: {"<seconds>": n}``. Medians are exact to
  the second, and a document never grows past 3,600 keys.
* ``kind: "meta"``: ``counted_at`` and ``version``, written by ``recount``:
  the organisation has been counted in full. Readers that find no meta
  document of the current ``COUNTS_VERSION`` recount the organisation once
  (a store from before the counters or from before ``p``, or a new
  organisation), so upgrades just work.

Writers: every status change of an attempt happens in ``hiremate.attempts``
(issue, start, complete, lock, expire), which calls ``record_transition``
after its compare-and-set with the document before and after; bulk seeding
(``hiremate.ops.simulate``) calls ``record_new``. Counters are only ever changed
with ``$inc`` upserts (never read-modify-write), except by ``recount``.

Drift and repair: there are no transactions, so a process that dies between
a transition and its ``$inc`` (or a store error at that moment, which is
logged) leaves the counters off by that transition. ``recount`` (``python -m
hiremate recount``) rebuilds them from ``task_attempts``. A recount sets
absolute values, so a transition whose increment lands while it runs can be
lost or counted twice: it retries when the counters change during its scan,
which narrows that window to its final writes, but run it when the ingest
server is stopped (the launcher seeds before it starts the ingest server).
Readers never show a negative count: they clamp at zero and log a warning.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import UpdateOne
from pymongo.database import Database
from pymongo.errors import PyMongoError

from hiremate import db as dbmod
from hiremate.models import AttemptStatus
from hiremate.timeutil import to_ms, utcnow

log = logging.getLogger(__name__)

STATUS, DAY, DURATIONS, META = "status", "day", "durations", "meta"
DUPLICATE_KEY = dbmod.DUPLICATE_KEY
WRITE_BATCH = 1000
RECOUNT_TRIES = 3
_COMPLETED = AttemptStatus.COMPLETED.value
_ONE_DAY = timedelta(days=1)
_ONE_HOUR = timedelta(hours=1)
_ONE_SECOND = timedelta(seconds=1)
_HALF_SECOND = timedelta(milliseconds=500)
# What a recount reads of each attempt.
_PROJECTION = {
    "organization_id": 1,
    "status": 1,
    "candidate_info.position": 1,
    "started_at": 1,
    "completed_at": 1,
    "superseded": 1,
}
# 2: the status counters count people too (``p``).
# 3: every attempt carries superseded true or false (never unset).
COUNTS_VERSION = 4  # 4: the day documents count completions by the hour too (``h``)


@dataclass(frozen=True)
class CounterKey:
    """One counter document: what it counts, and so its ``_id``."""

    organization_id: ObjectId
    kind: str
    position: Any = None
    status: str | None = None
    day: datetime | None = None
    hour: int | None = None

    @property
    def doc_id(self) -> str:
        org = str(self.organization_id)
        if self.kind == STATUS:
            # Hashed: a position is free text (any length, dots, dollars).
            position = hashlib.sha1(json.dumps(self.position, default=str).encode()).hexdigest()[:20]
            return f"{org}:{STATUS}:{self.status}:{position}"
        if self.kind == DAY:
            return f"{org}:{DAY}:{self.day:%Y-%m-%d}" if self.day else f"{org}:{DAY}:none"
        if self.kind == DURATIONS:
            return f"{org}:{DURATIONS}:{self.hour}"
        return meta_id(self.organization_id)

    def identity(self) -> dict[str, Any]:
        """The fields a new counter document starts with (besides ``_id`` and the counts)."""
        fields: dict[str, Any] = {"organization_id": self.organization_id, "kind": self.kind}
        if self.kind == STATUS:
            fields |= {"position": self.position, "status": self.status}
        elif self.kind == DAY:
            fields["day"] = self.day
        elif self.kind == DURATIONS:
            fields["hour"] = self.hour
        return fields


# A counter document and the field in it ("n", or "s.<seconds>" of a histogram) -> a count or a change.
Counts = dict[tuple[CounterKey, str], int]


@dataclass(frozen=True)
class RecountResult:
    organizations: int
    attempts: int


def meta_id(organization_id: ObjectId) -> str:
    return f"{organization_id}:{META}"


# ---------------------------------------------------------------- pure helpers


def utc_day(value: datetime) -> datetime:
    """Midnight (UTC) of the UTC day ``value`` falls on."""
    value = _utc(value)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def duration_seconds(started_at: datetime, completed_at: datetime) -> int:
    """``completed_at - started_at`` in whole seconds, rounded to the nearest
    (half up), as the histogram keeps it: a median taken from it is within
    half a second of the exact one."""
    return (_utc(completed_at) - _utc(started_at) + _HALF_SECOND) // _ONE_SECOND


def counts_of(attempts: Iterable[Mapping[str, Any]]) -> Counts:
    """What the given attempt documents add to the counters: one to their
    (position, status); a completed one also one to its UTC day and one to
    its duration (when both times are dates)."""
    counts: Counts = {}
    for doc in attempts:
        for cell, n in _cells(doc):
            counts[cell] = counts.get(cell, 0) + n
    return counts


def transition_delta(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> Counts:
    """The change of the counters when an attempt document goes from
    ``before`` to ``after`` (None: it did not exist / no longer exists);
    cells that do not change are left out."""
    delta = counts_of([after] if after else [])
    for cell, n in counts_of([before] if before else []).items():
        delta[cell] = delta.get(cell, 0) - n
    return {cell: n for cell, n in delta.items() if n}


def median_seconds(histogram: Mapping[int, int]) -> tuple[float | None, int]:
    """Exact median of the durations a histogram ``{seconds: count}`` holds
    (the mean of the middle two for an even count) and how many it holds;
    (None, 0) when empty. Counts below one are ignored."""
    counted = sorted((seconds, n) for seconds, n in histogram.items() if n > 0)
    total = sum(n for _, n in counted)
    if not total:
        return None, 0
    wanted = {(total - 1) // 2, total // 2}  # 0-based ranks of the middle one or two
    middle: list[int] = []
    seen = 0
    for seconds, n in counted:
        middle += [seconds for rank in sorted(wanted) if seen <= rank < seen + n]
        seen += n
        if seen > max(wanted):
            break
    return sum(middle) / len(middle), total


# ---------------------------------------------------------------- writing


def record_transition(db: Database, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> None:
    """Apply one attempt's change (``before`` -> ``after``) to the counters.

    Called by ``hiremate.attempts`` right after a successful compare-and-set.
    A store error here is logged, not raised: the transition is done and is
    the truth (its caller must hear that it succeeded); the counters are off
    by it until ``recount``.
    """
    delta = transition_delta(before, after)
    if not delta:
        return
    try:
        _increment(db, delta)
    except PyMongoError:
        log.exception("attempt counters missed a transition (run `python -m hiremate recount`)")


def record_new(db: Database, attempts: Iterable[Mapping[str, Any]]) -> None:
    """Count attempt documents just inserted in bulk (seeding): one ``$inc``
    upsert per counter document touched, in one ``bulk_write``, not one per
    attempt. Store errors are raised."""
    counts = counts_of(attempts)
    if counts:
        _increment(db, counts)


def recount(db: Database, organization_id: ObjectId | None = None) -> RecountResult:
    """Rebuild the counters of one organisation (or of all) from ``task_attempts``.

    For repairs (a process died between a transition and its ``$inc``) and
    for stores seeded before the counters existed. Sets absolute values and
    marks each organisation counted. Run it with no writers (see the module
    docstring); when the counters change during the scan it scans again.
    """
    scope: dict[str, Any] = {} if organization_id is None else {"organization_id": organization_id}
    _give_every_attempt_a_flag(db, scope)
    for attempt in range(RECOUNT_TRIES):
        stored = _stored(db, scope)
        truth, organizations, scanned = _scan(db, scope)
        if _stored(db, scope) == stored:
            break
        log.warning("attempt counters changed during a recount (a writer is running); try %d", attempt + 1)
    organizations |= {key.organization_id for key in (CounterKey(**_key_fields(doc)) for doc in stored)}
    if organization_id is not None:
        organizations.add(organization_id)
    _write_absolute(db, truth, [CounterKey(**_key_fields(doc)) for doc in stored])
    now = utcnow()
    _bulk(
        db,
        [
            UpdateOne(
                {"_id": meta_id(org)},
                {
                    "$set": {"counted_at": now, "version": COUNTS_VERSION},
                    "$setOnInsert": {"organization_id": org, "kind": META},
                },
                upsert=True,
            )
            for org in sorted(organizations)
        ],
    )
    return RecountResult(len(organizations), scanned)


def _give_every_attempt_a_flag(db: Database, scope: dict[str, Any]) -> None:
    """Attempts stored before ``superseded`` was always written (version 3)
    get ``False``: each stands for its person, as it was counted, until
    ``people.rebuild`` (``python -m hiremate recount``) says otherwise; and
    profiles without it their attempt's. The lists ask ``superseded: false``,
    an equality an index serves."""
    unset = {**scope, dbmod.SUPERSEDED: {"$exists": False}}
    db[dbmod.ATTEMPTS].update_many(unset, {"$set": {dbmod.SUPERSEDED: False}})
    dbmod.backfill_profile_superseded(db, scope)


def ensure_counted(db: Database, organization_id: ObjectId) -> bool:
    """Recount an organisation that was never counted in full by this
    version (no meta document of ``COUNTS_VERSION``: a store from before the
    counters or before people were counted, or a new organisation); True
    when it did. One ``_id`` look-up otherwise."""
    meta = db[dbmod.ATTEMPT_COUNTS].find_one({"_id": meta_id(organization_id)}, {"version": 1})
    if meta is not None and meta.get("version", 1) >= COUNTS_VERSION:
        return False
    recount(db, organization_id)
    return True


# ---------------------------------------------------------------- reading


def by_position_status(db: Database, organization_id: ObjectId, *, people: bool = False) -> dict[tuple[Any, Any], int]:
    """The organisation's attempts counted by (position, status), as a
    ``$group`` on those two fields would count them (no zero entries); with
    ``people``, only each person's latest attempt (``hiremate.people``)."""
    ensure_counted(db, organization_id)
    field = "p" if people else "n"
    cursor = db[dbmod.ATTEMPT_COUNTS].find(
        {"organization_id": organization_id, "kind": STATUS}, {"position": 1, "status": 1, field: 1}
    )
    counted: dict[tuple[Any, Any], int] = {}
    for doc in cursor:
        n = dbmod.counter_value(doc["_id"], doc.get(field, 0))
        if n:
            key = (doc.get("position"), doc.get("status"))
            counted[key] = counted.get(key, 0) + n
    return counted


def by_status(db: Database, organization_id: ObjectId) -> dict[str, int]:
    """Attempts by status: every status, in life-cycle order, zeros included."""
    counted: dict[str, int] = {}
    for (_, status), n in by_position_status(db, organization_id).items():
        counted[status] = counted.get(status, 0) + n
    return {status.value: counted.get(status.value, 0) for status in AttemptStatus}


def completed_since(db: Database, organization_id: ObjectId, since: datetime) -> int:
    """Attempts completed at or after ``since`` (exactly: ``completed_at >= since``).

    Whole UTC days after the one ``since`` falls on come from the day
    counters, and the whole hours after ``since``'s hour on that first day
    from its hour counts; that partial first hour is counted from the
    attempts with a range on the (organization_id, status, completed_at)
    index, which reads at most one hour of completions (none when ``since``
    is on the hour). A day read whole costs as much at 100,000 attempts as a
    day of them: 1,600 over 60 days.
    """
    ensure_counted(db, organization_id)
    since = to_ms(since)
    first = utc_day(since)
    hour_start = since.replace(minute=0, second=0, microsecond=0)
    whole_hours_from = hour_start if since == hour_start else hour_start + _ONE_HOUR
    total = 0
    for doc in db[dbmod.ATTEMPT_COUNTS].find(
        {"organization_id": organization_id, "kind": DAY, "day": {"$gte": first}}, {"n": 1, "h": 1, "day": 1}
    ):
        if _utc(doc["day"]) > first:
            total += dbmod.counter_value(doc["_id"], doc.get("n", 0))
            continue
        total += sum(n for start, n in _by_hour(doc) if start >= whole_hours_from)
    if since < whole_hours_from:
        total += db[dbmod.ATTEMPTS].count_documents(
            {
                "organization_id": organization_id,
                "status": _COMPLETED,
                "completed_at": {**dbmod.at_or_after(since), "$lt": whole_hours_from},
            }
        )
    return total


@dataclass(frozen=True)
class RecentCompletions:
    """Completions by the hour, newest hour first, as the day counters hold
    them: a hint for newest-first reads of recent completions
    (``hiremate.windowed``'s ``first_span``), whose first window then holds
    about the page asked for where the fixed windows, after a quiet spell,
    could hold ten times that."""

    now: datetime
    hours: tuple[tuple[datetime, int], ...]  # (the hour's start, completions), newest first

    def span(self, at_least: int) -> timedelta | None:
        """The shortest span back from ``now``, to the start of an hour, that
        holds at least ``at_least`` completions; None when the hours hold fewer."""
        if at_least < 1:
            return None
        found = 0
        for start, n in self.hours:
            found += max(n, 0)
            if found >= at_least:
                return max(self.now - start, timedelta(0))
        return None


def recent_completions(db: Database, organization_id: ObjectId, *, now: datetime, days: int = 7) -> RecentCompletions:
    """The organisation's completions by the hour over the last ``days`` days
    (their day documents: small, one a day), read once for as many spans as
    a page asks of them."""
    ensure_counted(db, organization_id)
    first = utc_day(now) - timedelta(days=days)
    docs = db[dbmod.ATTEMPT_COUNTS].find(
        {"organization_id": organization_id, "kind": DAY, "day": {"$gte": first}}, {"h": 1, "day": 1}
    )
    return RecentCompletions(now, tuple(sorted((hour for doc in docs for hour in _by_hour(doc)), reverse=True)))


def _by_hour(doc: Mapping[str, Any]) -> list[tuple[datetime, int]]:
    """A day document's completions by the hour: (the hour's start, count)."""
    day = _utc(doc["day"])
    return [
        (day + int(hour) * _ONE_HOUR, dbmod.counter_value(f"{doc['_id']}/{hour}", n))
        for hour, n in (doc.get("h") or {}).items()
    ]


def duration_histogram(db: Database, organization_id: ObjectId) -> dict[int, int]:
    """Completion durations of the organisation's completed attempts:
    ``{seconds: count}``, from one document a duration hour."""
    ensure_counted(db, organization_id)
    histogram: dict[int, int] = {}
    for doc in db[dbmod.ATTEMPT_COUNTS].find({"organization_id": organization_id, "kind": DURATIONS}, {"s": 1}):
        for seconds, n in (doc.get("s") or {}).items():
            n = dbmod.counter_value(f"{doc['_id']}/{seconds}", n)
            if n:
                histogram[int(seconds)] = histogram.get(int(seconds), 0) + n
    return histogram


# ---------------------------------------------------------------- helpers


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _cells(doc: Mapping[str, Any]) -> list[tuple[tuple[CounterKey, str], int]]:
    org = doc.get("organization_id")
    if org is None:
        return []
    status = doc.get("status")
    status = getattr(status, "value", status)
    position = (doc.get("candidate_info") or {}).get("position")
    key = CounterKey(org, STATUS, position=position, status=status)
    cells = [((key, "n"), 1)]
    if not doc.get("superseded"):
        cells.append(((key, "p"), 1))
    completed_at, started_at = doc.get("completed_at"), doc.get("started_at")
    if status == _COMPLETED and isinstance(completed_at, datetime):
        day = CounterKey(org, DAY, day=utc_day(completed_at))
        cells += [((day, "n"), 1), ((day, f"h.{_utc(completed_at).hour}"), 1)]
        if isinstance(started_at, datetime):
            seconds = duration_seconds(started_at, completed_at)
            cells.append(((CounterKey(org, DURATIONS, hour=seconds // 3600), f"s.{seconds}"), 1))
    return cells


def _by_document(counts: Counts) -> dict[CounterKey, dict[str, int]]:
    grouped: dict[CounterKey, dict[str, int]] = {}
    for (key, field), n in counts.items():
        grouped.setdefault(key, {})[field] = n
    return grouped


def _increment(db: Database, counts: Counts) -> None:
    requests = [
        UpdateOne({"_id": key.doc_id}, {"$inc": fields, "$setOnInsert": key.identity()}, upsert=True)
        for key, fields in _by_document(counts).items()
        if any(fields.values())
    ]
    _bulk(db, requests)


def _bulk(db: Database, requests: list[UpdateOne]) -> None:
    dbmod.upsert_in_batches(db[dbmod.ATTEMPT_COUNTS], requests, WRITE_BATCH)


def _key_fields(doc: Mapping[str, Any]) -> dict[str, Any]:
    day = doc.get("day")
    return {
        "organization_id": doc["organization_id"],
        "kind": doc["kind"],
        "position": doc.get("position"),
        "status": doc.get("status"),
        "day": _utc(day) if isinstance(day, datetime) else None,
        "hour": doc.get("hour"),
    }


def _stored(db: Database, scope: dict[str, Any]) -> list[dict[str, Any]]:
    """Every counter document (meta ones aside) of the scope, in ``_id`` order."""
    docs = db[dbmod.ATTEMPT_COUNTS].find(scope).sort("_id", 1)
    return [doc for doc in docs if doc.get("kind") != META]


def _scan(db: Database, scope: dict[str, Any]) -> tuple[Counts, set[ObjectId], int]:
    counts: Counts = {}
    organizations: set[ObjectId] = set()
    scanned = 0
    for doc in db[dbmod.ATTEMPTS].find(scope, _PROJECTION).sort("_id", 1):
        scanned += 1
        if doc.get("organization_id") is not None:
            organizations.add(doc["organization_id"])
        for cell, n in _cells(doc):
            counts[cell] = counts.get(cell, 0) + n
    return counts, organizations, scanned


def _write_absolute(db: Database, truth: Counts, stored: list[CounterKey]) -> None:
    """Set every counter document to the recounted values; stored ones that
    count nothing now are set to zero (an empty histogram)."""
    values = _by_document(truth)
    for key in stored:
        values.setdefault(key, {})
    requests = []
    for key, fields in values.items():
        if key.kind == DURATIONS:
            changes: dict[str, Any] = {"s": {field.removeprefix("s."): n for field, n in fields.items()}}
        elif key.kind == STATUS:
            changes = {"n": fields.get("n", 0), "p": fields.get("p", 0)}
        elif key.kind == DAY:
            hours = {field.removeprefix("h."): n for field, n in fields.items() if field.startswith("h.")}
            changes = {"n": fields.get("n", 0), "h": hours}
        else:
            changes = {"n": fields.get("n", 0)}
        requests.append(UpdateOne({"_id": key.doc_id}, {"$set": changes, "$setOnInsert": key.identity()}, upsert=True))
    _bulk(db, requests)
