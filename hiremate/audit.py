"""The audit log as tamper-evident chains (issue 17: "a log a regulator can trust").

Each organisation's entries form a chain (``chain`` = the organisation id as
a string); entries of no organisation form the ``"system"`` chain. An entry
stores ``seq`` (1, 2, 3... within its chain), ``prev`` (the previous entry's
``hmac``, ``""`` for the first) and ``hmac``: HMAC-SHA256, keyed by
``HIREMATE_AUDIT_KEY`` (never stored in the database), over
:func:`canonical` of every field but ``_id`` and ``hmac``. ``prev`` is one of
those fields, so each HMAC covers the one before it: an edited entry breaks
its own HMAC, a removed one leaves a gap in ``seq`` (or, for the newest ones,
a head older than the one recorded elsewhere from ``verify-audit``).

Appends are serialised per chain by a compare-and-set on the chain's head:
the unique index ``(chain, seq)`` lets exactly one of two writers that read
the same head insert ``seq + 1``; the other gets a DuplicateKeyError, reads
the new head and tries again (at most :data:`MAX_APPEND_TRIES` times, with a
short jittered sleep).

The first half of this module is pure (encoding, HMAC, verifying a sequence
of documents); the second is the thin database layer.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac as hmaclib
import json
import random
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from hiremate import db as dbmod
from hiremate.errors import AuditAppendFailed
from hiremate.settings import get_settings
from hiremate.timeutil import iso, to_ms, utcnow

SYSTEM_CHAIN = "system"
# Under contention every round has one winner, so a writer loses 50 rounds
# only behind 50 others on the same chain; 8 threads x 25 appends never came
# near it. Beyond it the action fails loudly rather than go unlogged.
MAX_APPEND_TRIES = 50
_SLEEP_STEP_SECONDS = 0.002
_SLEEP_CAP_SECONDS = 0.05
_UNSIGNED = ("_id", "hmac")
_DUPLICATE_KEY = 11000  # the one code read from a BulkWriteError (docs/architecture.md)


# ---------------------------------------------------------------- pure


def chain_of(organization_id: ObjectId | str | None) -> str:
    """The chain an organisation's entries belong to (``"system"`` for none)."""
    return SYSTEM_CHAIN if organization_id is None else str(organization_id)


def normalised(value: Any) -> Any:
    """``value`` as the store will give it back: datetimes UTC at milliseconds,
    tuples as lists. An entry is normalised before its HMAC is computed."""
    if isinstance(value, datetime):
        return to_ms(value)
    if isinstance(value, dict):
        return {key: normalised(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [normalised(item) for item in value]
    return value


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, ObjectId):
        return str(value)
    raise TypeError(f"an audit entry cannot hold a {type(value).__name__}")


def canonical(doc: dict[str, Any]) -> bytes:
    """The signed content of an entry: every field but ``_id`` and ``hmac``,
    as JSON with sorted keys and no blanks, datetimes as ISO 8601 UTC with
    milliseconds, ObjectIds as their hex string."""
    content = {key: value for key, value in doc.items() if key not in _UNSIGNED}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_encode)
    return text.encode("utf-8")


def entry_hmac(key: bytes, doc: dict[str, Any]) -> str:
    """The HMAC an entry must carry (its ``prev`` included)."""
    return hmaclib.new(key, canonical(doc), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Problem:
    """The first entry found changed, missing or outside the chain."""

    chain: str
    seq: int | None
    id: str | None
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"chain": self.chain, "seq": self.seq, "_id": self.id, "reason": self.reason}


@dataclass
class ChainReport:
    """What verifying one chain found: its length, its head and the first problem."""

    chain: str
    entries: int = 0
    head_seq: int = 0
    head_hmac: str = ""
    head_id: str | None = None
    problem: Problem | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.problem is None

    def as_json(self) -> dict[str, Any]:
        return {
            "chain": self.chain,
            **self.extra,
            "ok": self.ok,
            "entries": self.entries,
            "head": {"seq": self.head_seq, "hmac": self.head_hmac, "_id": self.head_id},
            "problem": self.problem.as_json() if self.problem else None,
        }


def verify_entries(key: bytes, chain: str, docs: Iterable[dict[str, Any]]) -> ChainReport:
    """Check one chain's entries, given in ``seq`` order: 1, 2, 3... without a
    gap, each ``prev`` the HMAC before it, each HMAC right. Stops at the
    first problem; the head is the last entry that checked out."""
    report = ChainReport(chain)
    for doc in docs:
        seq, doc_id = doc.get("seq"), str(doc.get("_id"))
        expected = report.head_seq + 1
        if doc.get("chain") != chain or not isinstance(seq, int):
            reason = "not an entry of this chain"
        elif seq != expected:
            missing = f"seq {expected}" if seq == expected + 1 else f"seq {expected} to {seq - 1}"
            reason = f"{missing} missing before this entry (removed)"
        elif doc.get("prev") != report.head_hmac:
            reason = "prev is not the previous entry's hmac (an entry before it was changed or removed)"
        elif not hmaclib.compare_digest(str(doc.get("hmac", "")), entry_hmac(key, doc)):
            reason = "hmac does not match the content (changed)"
        else:
            report.entries += 1
            report.head_seq, report.head_hmac, report.head_id = seq, doc["hmac"], doc_id
            continue
        report.problem = Problem(chain, seq if isinstance(seq, int) else None, doc_id, reason)
        break
    return report


# ---------------------------------------------------------------- the database


def current_key() -> bytes:
    """This process's audit key (``HIREMATE_AUDIT_KEY``, or the data folder's)."""
    return get_settings().audit_key


def _head(db: Database, chain: str) -> dict[str, Any] | None:
    """The chain's newest entry (``seq``, ``hmac``), or None for an empty chain.

    Read from the chain's noted head (``audit_heads``, written after each
    append) and then forward by ``seq``, one indexed look-up an entry
    appended since: the embedded store answers a sorted query by decoding
    every entry of the chain (24 ms at 1,000 entries, 120 ms at 5,000), and
    every audited action appends. Only a chain with no noted head (a new
    chain, or a store from before the notes) is read sorted, once.
    """
    noted = db[dbmod.AUDIT_HEADS].find_one({"_id": chain}, {"seq": 1, "hmac": 1})
    if noted is None:
        head = db[dbmod.AUDIT_LOG].find_one(
            {"chain": chain}, {"seq": 1, "hmac": 1}, sort=[("chain", ASCENDING), ("seq", DESCENDING)]
        )
    else:
        head = {"seq": noted["seq"], "hmac": noted["hmac"]}
    while head is not None:
        after = db[dbmod.AUDIT_LOG].find_one({"chain": chain, "seq": head["seq"] + 1}, {"seq": 1, "hmac": 1})
        if after is None:
            break
        head = after
    return head


def _note_head(db: Database, chain: str, seq: int, hmac: str) -> None:
    """Remember the chain's head (only ever moved forward). Besides speed, a
    noted head ahead of the entries means the newest entries were removed:
    ``verify_chain`` says so, and an append continues from the noted head,
    leaving the gap for the next verification to find."""
    with contextlib.suppress(DuplicateKeyError):  # a later head is noted already
        db[dbmod.AUDIT_HEADS].update_one(
            {"_id": chain, "seq": {"$lt": seq}}, {"$set": {"seq": seq, "hmac": hmac}}, upsert=True
        )


def _pause(tries: int) -> None:
    time.sleep(random.uniform(0, min(_SLEEP_CAP_SECONDS, _SLEEP_STEP_SECONDS * tries)))


def _content(
    chain: str,
    organization_id: ObjectId | None,
    action: str,
    actor_id: ObjectId | None,
    target_type: str | None,
    target_id: Any,
    details: dict[str, Any] | None,
) -> dict[str, Any]:
    """An entry's signed fields but its place in the chain (seq, prev)."""
    return normalised(
        {
            "organization_id": organization_id,
            "actor_id": actor_id,
            "action": action,
            "target_type": target_type,
            "target_id": None if target_id is None else str(target_id),
            "at": utcnow(),
            "details": details or {},
            "chain": chain,
        }
    )


def append(
    db: Database,
    action: str,
    *,
    organization_id: ObjectId | None,
    actor_id: ObjectId | None = None,
    target_type: str | None = None,
    target_id: Any = None,
    details: dict[str, Any] | None = None,
    key: bytes | None = None,
) -> dict[str, Any]:
    """Append one entry to its organisation's chain and return it (with ``_id``)."""
    chain = chain_of(organization_id)
    content = _content(chain, organization_id, action, actor_id, target_type, target_id, details)
    return _append(db, chain, [content], current_key() if key is None else key)[0]


def append_many(
    db: Database,
    organization_id: ObjectId | None,
    entries: Sequence[tuple[str, ObjectId | None, str | None, Any, dict[str, Any]]],
    *,
    key: bytes | None = None,
) -> int:
    """Append ``entries`` (action, actor id, target type, target id, details)
    to one chain, in order, as :func:`append` would one by one, but with one
    head read and one ordered ``insert_many`` a round (bulk issue writes
    hundreds). Returns how many were written."""
    chain = chain_of(organization_id)
    contents = [
        _content(chain, organization_id, action, actor_id, target_type, target_id, details)
        for action, actor_id, target_type, target_id, details in entries
    ]
    return len(_append(db, chain, contents, current_key() if key is None else key))


def _append(db: Database, chain: str, contents: list[dict[str, Any]], key: bytes) -> list[dict[str, Any]]:
    """Chain ``contents`` onto the head, in order, by a compare-and-set on the
    unique ``(chain, seq)``: a writer that takes a ``seq`` meanwhile stops the
    ordered insert there (a duplicate key); the rest are chained again onto
    the new head. Returns the entries written, with their ``_id``."""
    written: list[dict[str, Any]] = []
    for tries in range(1, MAX_APPEND_TRIES + 1):
        if len(written) == len(contents):
            break
        head = _head(db, chain)
        seq, prev = (head["seq"], head["hmac"]) if head else (0, "")
        docs = []
        for content in contents[len(written) :]:
            seq += 1
            doc = {**content, "seq": seq, "prev": prev}
            doc["hmac"] = prev = entry_hmac(key, doc)
            docs.append(doc)
        try:
            if len(docs) == 1:
                db[dbmod.AUDIT_LOG].insert_one(docs[0])
            else:
                db[dbmod.AUDIT_LOG].insert_many(docs, ordered=True)
            written += docs
            _note_head(db, chain, docs[-1]["seq"], docs[-1]["hmac"])
        except DuplicateKeyError:  # another writer took this seq: read the new head
            _pause(tries)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if exc.details.get("writeConcernErrors") or any(e.get("code") != _DUPLICATE_KEY for e in errors):
                raise
            written += docs[: int(exc.details.get("nInserted", 0))]  # those are on the chain; chain the rest anew
            _pause(tries)
    if len(written) < len(contents):
        raise AuditAppendFailed(
            f"audit chain {chain}: the head moved {MAX_APPEND_TRIES} times; "
            f"{len(contents) - len(written)} entries not written"
        )
    return written


def chain_in(db: Database, doc: dict[str, Any], *, key: bytes | None = None) -> bool:
    """Chain an entry written without a chain (before chains existed) onto
    the end of its chain, by the same compare-and-set as :func:`append`.
    False when another process chained it first."""
    key = current_key() if key is None else key
    chain = chain_of(doc.get("organization_id"))
    log = db[dbmod.AUDIT_LOG]
    for tries in range(1, MAX_APPEND_TRIES + 1):
        head = _head(db, chain)
        signed = {key_: value for key_, value in doc.items() if key_ not in _UNSIGNED}
        signed |= {"chain": chain, "seq": (head["seq"] if head else 0) + 1, "prev": head["hmac"] if head else ""}
        signed["hmac"] = entry_hmac(key, signed)
        fields = {name: signed[name] for name in ("chain", "seq", "prev", "hmac")}
        try:
            result = log.update_one({"_id": doc["_id"], "chain": {"$exists": False}}, {"$set": fields})
        except DuplicateKeyError:
            _pause(tries)
            continue
        if result.modified_count == 1:
            _note_head(db, chain, fields["seq"], fields["hmac"])
        return result.modified_count == 1
    raise AuditAppendFailed(f"audit chain {chain}: the head moved {MAX_APPEND_TRIES} times; {doc['_id']} not chained")


def unchained(db: Database, chain: str | None = None) -> Iterator[dict[str, Any]]:
    """Entries without a chain (written before chains existed), in ``_id`` order."""
    query: dict[str, Any] = {"chain": {"$exists": False}}
    if chain is not None:
        query["organization_id"] = None if chain == SYSTEM_CHAIN else ObjectId(chain)
    return db[dbmod.AUDIT_LOG].find(query).sort("_id", ASCENDING)


def chain_entries(db: Database, chain: str) -> Iterator[dict[str, Any]]:
    """One chain's entries in ``seq`` order (read through the unique index)."""
    return db[dbmod.AUDIT_LOG].find({"chain": chain}).sort([("chain", ASCENDING), ("seq", ASCENDING)])


def chains(db: Database) -> list[str]:
    """Every chain that has an entry, the system chain first."""
    grouped = db[dbmod.AUDIT_LOG].aggregate([{"$match": {"chain": {"$type": "string"}}}, {"$group": {"_id": "$chain"}}])
    names = {doc["_id"] for doc in grouped}
    return sorted(names, key=lambda name: (name != SYSTEM_CHAIN, name))


def verify_chain(db: Database, chain: str, *, key: bytes | None = None) -> ChainReport:
    """Verify one chain in the database; an entry of its organisation left
    outside the chain counts as a problem too (see docs/architecture.md)."""
    key = current_key() if key is None else key
    report = verify_entries(key, chain, chain_entries(db, chain))
    if report.ok:
        noted = db[dbmod.AUDIT_HEADS].find_one({"_id": chain}, {"seq": 1})
        if noted is not None and noted["seq"] > report.head_seq:
            first, last = report.head_seq + 1, noted["seq"]
            removed = f"entry {first} was" if first == last else f"entries {first} to {last} were"
            report.problem = Problem(chain, first, None, f"{removed} removed (the chain's noted head is {last})")
    if report.ok:
        stray = next(iter(unchained(db, chain).limit(1)), None)
        if stray is not None:
            report.problem = Problem(chain, None, str(stray["_id"]), "entry outside the chain (run migrate-audit)")
    return report


def verify_all(db: Database, *, key: bytes | None = None) -> list[ChainReport]:
    """Every chain (the system chain always), plus entries of organisations
    that have no chained entry yet."""
    key = current_key() if key is None else key
    names = chains(db)
    if SYSTEM_CHAIN not in names:
        names.insert(0, SYSTEM_CHAIN)
    strays = db[dbmod.AUDIT_LOG].aggregate(
        [{"$match": {"chain": {"$exists": False}}}, {"$group": {"_id": "$organization_id"}}]
    )
    names += sorted({chain_of(doc["_id"]) for doc in strays} - set(names))
    return [verify_chain(db, name, key=key) for name in names]


def migrate(db: Database, *, key: bytes | None = None) -> int:
    """Chain every entry written before chains existed, in ``_id`` order onto
    the end of its chain; idempotent (a second run chains nothing). Returns
    how many it chained."""
    key = current_key() if key is None else key
    return sum(chain_in(db, doc, key=key) for doc in unchained(db))
