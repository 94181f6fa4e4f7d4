"""Shared pieces of the fuzzing, abuse and load tests: docs/protocol.md's codes,
junk values, message mutations, an independent oracle of the event rules,
and a check that what is stored re-validates from scratch."""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bson
from bson import ObjectId
from hypothesis import strategies as st
from pymongo.database import Database

from hiremate import db as dbmod
from hiremate import events as ev
from hiremate.models import BehaviorEvent, EventType, Task, TaskAttempt
from hiremate.timeutil import iso

PROTOCOL_DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def fuzz_examples(default: int) -> int:
    """How many examples a fuzzer runs: ``default`` in the suite, bounded so
    `make test` stays fast; HIREMATE_FUZZ_EXAMPLES=20000 (any count) runs them long."""
    value = os.environ.get("HIREMATE_FUZZ_EXAMPLES", "").strip()
    return int(value) if value else default


# docs/protocol.md, "Error codes (the complete list)", word for word.
PROTOCOL_ERROR_CODES = frozenset(
    {
        "invalid_json",
        "unknown_message",
        "not_started",
        "token_already_used",
        "invalid_event_type",
        "invalid_payload",
        "unknown_task",
        "unknown_option",
        "invalid_transition",
        "sequence_gap",
        "word_count_mismatch",
        "duration_out_of_range",
        "batch_too_large",
        "attempt_closed",
        "rate_limited",
        "task_not_available",
        "incomplete",
        "consent_required",
    }
)

# Every close code docs/protocol.md names for the candidate socket: completed (1000),
# frame too large (1009), database failure (1013), token already used (4403),
# timed out (4408; on the live socket: slow subscriber), taken over (4409),
# not reading its answers (4429).
PROTOCOL_CLOSE_CODES = frozenset({1000, 1009, 1013, 4403, 4408, 4409, 4429})

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)

EVENT_TYPES = [e.value for e in EventType]

# ---------------------------------------------------------------- junk

huge_ints = st.sampled_from(
    [2**31, 2**53 + 1, INT64_MAX, INT64_MAX + 1, 2**64, 10**30, INT64_MIN, INT64_MIN - 1, -(10**30)]
)
weird_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=12) | st.sampled_from(
    ["", " ", "\u2003", "\ud800", "a\x00b", "<script>alert(1)</script>", "0001-01-01T00:00:00+23:59", "NaN", "9" * 40]
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.integers()
    | huge_ints
    | st.floats(allow_nan=True, allow_infinity=True)
    | weird_text
)
junk = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
times = (
    st.sampled_from(
        [
            "2026-11-25T18:00:00.000Z",
            "2026-11-25T18:00:00",  # no offset
            "0001-01-01T00:00:00+23:59",
            "9999-12-31T23:59:59-23:59",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999Z",
            "yesterday",
            "",
        ]
    )
    | junk
)

TOP_KEYS = ["seq", "task_id", "event_type", "payload", "client_timestamp", "sent_at"]
PAYLOAD_KEYS = sorted(
    {
        "task_index",
        "option_id",
        "view_duration_ms",
        "is_first_selection",
        "from_option_id",
        "to_option_id",
        "time_since_last_change_ms",
        "time_since_task_start_ms",
        "character_count",
        "word_count",
        "final_text",
        "final_option_id",
        "task_duration_ms",
        "idle_duration_ms",
        "last_activity_type",
        "trigger",
    }
)


@st.composite
def mutation(draw: st.DrawFn, tasks: list[Task]) -> tuple[str, Any]:
    """One way of breaking an event message: (kind, argument)."""
    kind = draw(
        st.sampled_from(
            [
                "drop_key",
                "junk_key",
                "seq_shift",
                "seq_junk",
                "task_id",
                "event_type",
                "payload_drop",
                "payload_junk",
                "payload_extra",
                "payload_replace",
                "option",
                "word_count",
                "huge_int",
                "text",
                "time",
                "nested",
            ]
        )
    )
    task_ids = [str(t.id) for t in tasks]
    options = sorted({o.id for t in tasks for o in t.options})
    match kind:
        case "drop_key":
            arg: Any = draw(st.sampled_from(TOP_KEYS))
        case "junk_key":
            arg = (draw(st.sampled_from(TOP_KEYS)), draw(junk))
        case "seq_shift":
            arg = draw(st.integers(-3, 3) | huge_ints)
        case "seq_junk":
            arg = draw(st.sampled_from([0, -1, True, False, 1.0, 2.5, "1", None, [1], {"n": 1}]) | junk)
        case "task_id":
            arg = draw(
                st.sampled_from([*task_ids, str(ObjectId()), "0" * 24, "zz" * 12, task_ids[0].upper(), ""]) | junk
            )
        case "event_type":
            arg = draw(st.sampled_from([*EVENT_TYPES, "TASK_STARTED", "task_started ", "event", ""]) | junk)
        case "payload_drop":
            arg = draw(st.integers(0, 5))
        case "payload_junk":
            arg = (draw(st.integers(0, 5)), draw(junk))
        case "payload_extra":
            arg = (draw(st.sampled_from(PAYLOAD_KEYS) | st.text(max_size=8)), draw(junk))
        case "payload_replace":
            arg = draw(junk)
        case "option":
            arg = draw(st.sampled_from([*options, "opt_99", "", "OPT_1"]) | junk)
        case "word_count":
            arg = draw(st.integers(-2, 2) | huge_ints)
        case "huge_int":
            arg = draw(huge_ints)
        case "text":
            arg = draw(weird_text | st.text(max_size=200) | st.sampled_from(["a" * 20001, "\u2003".join(["w"] * 30)]))
        case "time":
            arg = (draw(st.sampled_from(["client_timestamp", "sent_at"])), draw(times))
        case _:  # nested
            depth = draw(st.integers(1, 60))
            arg = (draw(st.sampled_from(TOP_KEYS)), _nest(depth))
    return kind, arg


def _nest(depth: int) -> Any:
    value: Any = 1
    for i in range(depth):
        value = [value] if i % 2 else {"x": value}
    return value


def mutate(message: dict[str, Any], kind: str, arg: Any) -> dict[str, Any]:
    """A broken copy of ``message``."""
    m = copy.deepcopy(message)
    payload = m.get("payload") if isinstance(m.get("payload"), dict) else None
    keys = sorted(payload) if payload else []
    match kind:
        case "drop_key":
            m.pop(arg, None)
        case "junk_key" | "nested":
            m[arg[0]] = arg[1]
        case "seq_shift":
            if isinstance(m.get("seq"), int):
                m["seq"] = m["seq"] + arg if abs(arg) < 10 else arg
        case "seq_junk":
            m["seq"] = arg
        case "task_id":
            m["task_id"] = arg
        case "event_type":
            m["event_type"] = arg
        case "payload_drop":
            if keys:
                payload.pop(keys[arg % len(keys)])  # type: ignore[union-attr]
        case "payload_junk":
            if keys:
                payload[keys[arg[0] % len(keys)]] = arg[1]  # type: ignore[index]
        case "payload_extra":
            if payload is not None:
                payload[arg[0]] = arg[1]
        case "payload_replace":
            m["payload"] = arg
        case "option":
            for key in ("option_id", "from_option_id", "to_option_id", "final_option_id"):
                if payload and key in payload:
                    payload[key] = arg
                    break
        case "word_count":
            if payload and "word_count" in payload and isinstance(payload["word_count"], int):
                payload["word_count"] = payload["word_count"] + arg if abs(arg) < 10 else arg
        case "huge_int":
            ints = [k for k in keys if isinstance(payload[k], int) and not isinstance(payload[k], bool)]  # type: ignore[index]
            if ints:
                payload[ints[len(ints) // 2]] = arg  # type: ignore[index]
            else:
                m["seq"] = arg
        case "text":
            if payload is not None:
                key = next((k for k in ("final_text", "trigger", "last_activity_type") if k in payload), "trigger")
                payload[key] = arg
                if key == "final_text":  # keep the counts right, so the text itself is what is tested
                    payload["word_count"] = len(arg.split()) if isinstance(arg, str) else 0
                    payload["character_count"] = len(arg) if isinstance(arg, str) else 0
        case "time":
            m[arg[0]] = arg[1]
    return m


# ---------------------------------------------------------------- an independent oracle


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # bson's Int64 is an int too


def _nonneg(value: Any) -> bool:
    return _int(value) and 0 <= value <= INT64_MAX


def _text(limit: int) -> Any:
    return lambda v: isinstance(v, str) and len(v) <= limit


# event type -> {field: (check, required, default)}
SCHEMA: dict[str, dict[str, tuple[Any, bool, Any]]] = {
    "task_started": {"task_index": (_nonneg, True, None)},
    "option_viewed": {
        "option_id": (_text(10**9), True, None),
        "view_duration_ms": (lambda v: v is None or _nonneg(v), False, None),
    },
    "option_selected": {
        "option_id": (_text(10**9), True, None),
        "is_first_selection": (lambda v: v is True or v is False, True, None),
    },
    "option_changed": {
        "from_option_id": (_text(10**9), True, None),
        "to_option_id": (_text(10**9), True, None),
        "time_since_last_change_ms": (_nonneg, True, None),
    },
    "reasoning_started": {"time_since_task_start_ms": (_nonneg, True, None)},
    "reasoning_updated": {"character_count": (_nonneg, True, None), "word_count": (_nonneg, True, None)},
    "reasoning_submitted": {
        "final_text": (_text(20000), True, None),
        "word_count": (_nonneg, True, None),
        "character_count": (_nonneg, True, None),
    },
    "task_completed": {
        "final_option_id": (_text(10**9), True, None),
        "task_duration_ms": (lambda v: _int(v) and 0 <= v < 1_800_000, True, None),
    },
    "idle_detected": {
        "idle_duration_ms": (lambda v: _int(v) and 0 < v <= INT64_MAX, True, None),
        "last_activity_type": (_text(100), False, ""),
    },
    "focus_lost": {"trigger": (_text(100), False, "")},
    "focus_gained": {"trigger": (_text(100), False, "")},
}
AMBIENT = {"focus_lost", "focus_gained", "idle_detected"}


@dataclass
class Oracle:
    """docs/protocol.md's "What each event is allowed to follow", written again
    from the table (not from hiremate.events)."""

    tasks: list[Task]
    last: int = 0
    done: int = 0  # tasks completed
    open: int | None = None
    selected: str | None = None
    writing: bool = False
    submitted: int | None = None
    log: list[str] = field(default_factory=list)

    def problems(self, event: BehaviorEvent, message: dict[str, Any]) -> list[str]:
        """Why an accepted ``event`` (from ``message``) should not have been accepted."""
        out: list[str] = []
        kind = str(event.event_type)
        p = event.payload
        if message.get("seq") != self.last + 1 or event.sequence_number != self.last + 1:
            out.append(f"seq {message.get('seq')!r} accepted, expected {self.last + 1}")
        if message.get("event_type") != kind:
            out.append("event_type differs from the message")
        if not isinstance(message.get("task_id"), str) or message["task_id"].lower() != str(event.task_id):
            out.append("task_id differs from the message")
        by_id = {str(t.id): (i, t) for i, t in enumerate(self.tasks)}
        if str(event.task_id) not in by_id:
            return [*out, "task is not part of the attempt"]
        index, task = by_id[str(event.task_id)]
        schema = SCHEMA[kind]
        sent = message.get("payload", {})
        if set(p) != set(schema):
            out.append(f"stored payload keys {sorted(p)} != {sorted(schema)}")
        for key, (check, required, default) in schema.items():
            if required and key not in sent:
                out.append(f"required {key} missing")
            value = sent.get(key, default)
            if not check(value):
                out.append(f"{key}={value!r} is not valid")
            if p.get(key) != value or isinstance(p.get(key), bool) != isinstance(value, bool):
                out.append(f"stored {key} {p.get(key)!r} differs from the sent {value!r}")
        try:
            bson.encode(event.to_doc())
        except Exception as exc:
            out.append(f"the accepted event cannot be stored: {exc!r}")
        options = {o.id for o in task.options}
        for key in ("option_id", "from_option_id", "to_option_id", "final_option_id"):
            if key in p and p[key] not in options:
                out.append(f"{key} {p[key]!r} is not an option of the task")
        if kind == "reasoning_submitted" and p.get("word_count") != len(str(p.get("final_text")).split()):
            out.append("word_count does not match the text")
        # transitions
        if kind == "task_started":
            if (
                self.open is not None
                or self.done >= len(self.tasks)
                or index != self.done
                or p.get("task_index") != self.done
            ):
                out.append("task_started not allowed")
        elif kind in AMBIENT:
            ambient = self.open if self.open is not None else min(self.done, len(self.tasks) - 1)
            if str(self.tasks[ambient].id) != str(event.task_id):
                out.append(f"{kind} not for the ambient task")
        elif self.open is None or str(self.tasks[self.open].id) != str(event.task_id):
            out.append(f"{kind} while its task is not open")
        elif kind == "option_selected" and self.selected is not None:
            out.append("second option_selected")
        elif kind == "option_changed" and (self.selected is None or p.get("from_option_id") != self.selected):
            out.append("option_changed from the wrong option")
        elif kind == "reasoning_started" and self.writing:
            out.append("reasoning_started twice")
        elif kind in {"reasoning_updated", "reasoning_submitted"} and not self.writing:
            out.append(f"{kind} without reasoning in progress")
        elif kind == "task_completed":
            if self.selected is None or p.get("final_option_id") != self.selected:
                out.append("task_completed with the wrong final option")
            if task.reasoning_required and (self.submitted is None or self.submitted < task.reasoning_min_length):
                out.append("task_completed without enough reasoning")
        return out

    def apply(self, event: BehaviorEvent) -> None:
        kind = str(event.event_type)
        p = event.payload
        self.last = event.sequence_number
        if kind == "task_started":
            self.open, self.selected, self.writing, self.submitted = self.done, None, False, None
        elif kind == "option_selected":
            self.selected = p["option_id"]
        elif kind == "option_changed":
            self.selected = p["to_option_id"]
        elif kind == "reasoning_started":
            self.writing = True
        elif kind == "reasoning_submitted":
            self.writing, self.submitted = False, len(p["final_text"])
        elif kind == "task_completed":
            self.open, self.selected, self.writing, self.submitted = None, None, False, None
            self.done += 1


# ---------------------------------------------------------------- stored events re-validate


def message_of(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored event as the message that would store it again."""
    out = {
        "seq": doc["sequence_number"],
        "task_id": str(doc["task_id"]),
        "event_type": doc["event_type"],
        "payload": doc.get("payload", {}),
    }
    if doc.get("client_timestamp") is not None:
        out["client_timestamp"] = iso(doc["client_timestamp"])
    return out


def check_stored_events(db: Database, attempt: TaskAttempt | dict[str, Any]) -> int:
    """Every stored event of the attempt re-validates, in order, against a
    fresh state; seqs are exactly 1..N with no duplicate. Returns N."""
    if isinstance(attempt, dict):
        attempt = TaskAttempt.from_doc(attempt)
    docs = list(db[dbmod.EVENTS].find({"attempt_id": attempt.id}).sort("sequence_number", 1))
    seqs = [d["sequence_number"] for d in docs]
    assert seqs == list(range(1, len(docs) + 1)), f"attempt {attempt.id}: seqs {seqs}"
    state = ev.AttemptState.initial(attempt)
    oracle = Oracle(list(attempt.task_snapshots))
    for doc in docs:
        message = message_of(doc)
        result = ev.validate(state, message, now=doc["timestamp"])
        assert isinstance(result, BehaviorEvent), (doc, result)
        assert oracle.problems(result, message) == [], (doc, oracle.problems(result, message))
        assert result.payload == doc["payload"]
        state.apply(result)
        oracle.apply(result)
    return len(docs)


def documented_error_codes() -> frozenset[str]:
    """The error codes as docs/protocol.md lists them."""
    text = PROTOCOL_DOC.read_text()
    start = text.index("Error codes (the complete list):")
    block = text[start : text.index("\n\n", start)]
    return frozenset(part.strip(" `.,\n") for part in block.split(":", 1)[1].split(",") if part.strip(" `.,\n"))
