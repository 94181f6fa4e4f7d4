"""Behaviour events -> computed metrics, exactly as docs/metrics.md defines them.

Pure: no database, no clock. Every time comes from ``event_time`` in whole
milliseconds, so sums are exact integers until they become seconds; floats
are rounded to 4 decimals only when the document is built.

Three rule versions: ``"1.0.0"`` and ``"1.1.0"`` (kept byte-identical for
old profiles: waiting time removed from the clock, accommodations, quick
keyboard changes not counted) and ``"1.2.0"`` (the latest: 1.1.0 with the
risk pattern ``medium`` when more than 60% of choices are medium; its other
changes are in the profile's words, hiremate/skills.py). docs/metrics.md
defines all three.
"""

from __future__ import annotations

import statistics
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import attrgetter

from bson import ObjectId

from hiremate.keywords import keyword_weights, score_keywords
from hiremate.models import (
    Accommodations,
    AggregatedPatterns,
    AttemptStatus,
    BehaviorEvent,
    ComputedMetrics,
    EventType,
    GlobalMetrics,
    PerTaskMetrics,
    RiskDominance,
    RiskLevel,
    RiskPreference,
    Task,
    TaskAttempt,
)

VERSION_1_0 = "1.0.0"
VERSION_1_1 = "1.1.0"
VERSION_1_2 = "1.2.0"
VERSIONS = (VERSION_1_0, VERSION_1_1, VERSION_1_2)
LATEST = VERSION_1_2
VERSION = LATEST  # the version new metrics are computed with
IDLE_THRESHOLD_MS = 5000  # part of the v1 rules, deliberately not a setting
KEYBOARD_COMMIT_MS = 800  # 1.1.0: a quicker change that is not a pointer's or a touch's is not counted
DIGITS = 4

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)
# Only reached for data the ingest server never stores (a final option that
# is not in the task snapshot); documented in the report, not a rule.
_UNKNOWN_RISK = RiskLevel.MEDIUM


class _Timed:
    """An event with its time in epoch milliseconds.

    ``ms`` is the time every duration is measured on: the event's own time
    in 1.0.0, the waiting-free clock in 1.1.0 (``_Waits.clock``); ``real_ms``
    is always the event's own (clamped) time; ``type`` is the event's type.

    A slotted class built once per event and read a dozen times per event:
    a frozen dataclass (``object.__setattr__`` per field) and ``type`` as a
    property made this module about 40% slower (bench/bench_compute.py)."""

    __slots__ = ("event", "ms", "real_ms", "type")

    def __init__(self, ms: int, event: BehaviorEvent, real_ms: int, type: str) -> None:
        self.ms = ms
        self.event = event
        self.real_ms = real_ms
        self.type = type


@dataclass(frozen=True)
class _TaskFacts:
    """One completed task's metrics, unrounded; times in milliseconds."""

    task_id: ObjectId
    spent_ms: int
    active_ms: int
    first_decision_ms: int
    changes: int
    final_option_id: str
    risk: RiskLevel
    words: int
    keywords: int
    depth: float
    idle_ms: int
    away_ms: int
    focus_losses: int

    @property
    def hesitation_ms(self) -> int:
        return max(0, self.spent_ms - self.active_ms)


@dataclass(frozen=True)
class _Waits:
    """1.1.0: the attempt's ``network_wait`` windows ``[t - wait_duration_ms, t]``,
    merged, and the waiting-free clock they define."""

    starts: tuple[int, ...] = ()
    ends: tuple[int, ...] = ()
    waited_before: tuple[int, ...] = ()  # total waiting before each window

    @classmethod
    def of(cls, timeline: Iterable[_Timed]) -> _Waits:
        windows = sorted(
            (t.real_ms - int(t.event.payload.get("wait_duration_ms", 0)), t.real_ms)
            for t in timeline
            if t.type == EventType.NETWORK_WAIT
        )
        merged: list[list[int]] = []
        for start, end in windows:
            if end <= start:
                continue
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        waited, before = 0, []
        for start, end in merged:
            before.append(waited)
            waited += end - start
        return cls(tuple(m[0] for m in merged), tuple(m[1] for m in merged), tuple(before))

    def clock(self, ms: int) -> int:
        """``ms`` minus all the waiting up to it: durations on this clock
        leave the waiting out."""
        i = bisect_right(self.starts, ms) - 1
        if i < 0:
            return ms
        return ms - self.waited_before[i] - (min(ms, self.ends[i]) - self.starts[i])

    def covers(self, ms: int) -> bool:
        """True when ``ms`` is inside a wait window (both ends included)."""
        i = bisect_right(self.starts, ms) - 1
        return i >= 0 and ms <= self.ends[i]


@dataclass(frozen=True)
class _Rules:
    """What the rule version and the accommodations ask of one computation."""

    version: str
    scale: float = 1.0  # 1.1.0: the time multiplier every time figure is divided by
    blind_to_attention: bool = False  # 1.1.0: assistive technology: no idle or away
    waits: _Waits = _Waits()

    @property
    def v1_1(self) -> bool:
        return self.version != VERSION_1_0


_ATTENTION_EVENTS = frozenset({EventType.IDLE_DETECTED, EventType.FOCUS_LOST, EventType.FOCUS_GAINED})
_NETWORK_WAIT = frozenset({EventType.NETWORK_WAIT})


def compute_metrics(
    attempt: TaskAttempt,
    tasks: list[Task],
    events: list[BehaviorEvent],
    *,
    computed_at: datetime,
    version: str = LATEST,
) -> ComputedMetrics:
    """The ``computed_metrics`` document of one attempt (``_id`` left unset).

    ``tasks`` are the attempt's task snapshots (the attempt's own are used
    when none are given); ``events`` may come in any order. ``version`` is
    the rule version (``VERSIONS``); ``"1.0.0"`` gives today's documents
    byte for byte and ignores ``network_wait`` events and accommodations.
    """
    if version not in VERSIONS:
        raise ValueError(f"unknown rule version {version!r}; known: {', '.join(VERSIONS)}")
    if version == VERSION_1_0:
        # 1.0.0 predates network_wait: such events are read as if absent.
        events = [e for e in events if e.event_type != EventType.NETWORK_WAIT]
    timeline = _timeline(attempt, events)
    rules = _Rules(version)
    if version != VERSION_1_0:
        rules = _rules_1_1(version, attempt.accommodations, timeline)
        left_out = _ATTENTION_EVENTS | {EventType.NETWORK_WAIT} if rules.blind_to_attention else _NETWORK_WAIT
        if rules.waits.starts:
            clock = rules.waits.clock
            timeline = [
                _Timed(clock(t.real_ms), t.event, t.real_ms, t.type) for t in timeline if t.type not in left_out
            ]
        else:  # no waiting: the clock is the events' own, the timeline's entries serve as they are
            timeline = [t for t in timeline if t.type not in left_out]
    tasks_by_id = {task.id: task for task in (tasks or attempt.task_snapshots)}
    # Each task's own events, in timeline order: one pass instead of one scan per task.
    by_task: dict[ObjectId, list[_Timed]] = {}
    for timed in timeline:
        by_task.setdefault(timed.event.task_id, []).append(timed)
    facts = [
        fact
        for task_id in attempt.task_ids
        if (fact := _task_facts(task_id, tasks_by_id.get(task_id), by_task.get(task_id, []), rules)) is not None
    ]
    return ComputedMetrics(
        attempt_id=attempt.id,
        computed_at=computed_at,
        version=version,
        global_metrics=_global_metrics(attempt, timeline, facts, rules),
        per_task_metrics=[_per_task_document(fact, rules.scale) for fact in facts],
        aggregated_patterns=_aggregated_patterns(facts, version),
    )


def _rules_1_1(version: str, accommodations: Accommodations | None, timeline: Sequence[_Timed]) -> _Rules:
    """1.1.0's rules (and 1.2.0's, whose metrics differ only in the risk pattern)."""
    acc = accommodations or Accommodations()
    return _Rules(
        version=version,
        scale=acc.time_multiplier or 1.0,
        blind_to_attention=acc.assistive_technology,
        waits=_Waits.of(timeline),
    )


# ---------------------------------------------------------------- time line


_SEQUENCE = attrgetter("sequence_number")


def _ms(moment: datetime) -> int:
    return (moment - _EPOCH) // _ONE_MS


def _timeline(attempt: TaskAttempt, events: Iterable[BehaviorEvent]) -> list[_Timed]:
    """Events in sequence order with their times.

    Times never run backwards: each is raised to the previous one (and to
    ``started_at``), the clamp the ingest server already applies when it
    stores ``event_time``. For stored events this changes nothing; for
    hand-built ones it keeps every duration non-negative.
    """
    floor = _ms(attempt.started_at) if attempt.started_at else None
    timeline = []
    for event in sorted(events, key=_SEQUENCE):
        ms = (event.event_time - _EPOCH) // _ONE_MS  # _ms, inlined: once per event
        if floor is None or ms > floor:
            floor = ms
        timeline.append(_Timed(floor, event, floor, event.event_type))
    return timeline


def _task_window(own_events: Sequence[_Timed]) -> list[_Timed] | None:
    """The task's events (``own_events``: those of this task alone, in
    timeline order) from its first ``task_started`` to the first
    ``task_completed`` after it; None when the task never completed."""
    start = next((i for i, timed in enumerate(own_events) if timed.type == EventType.TASK_STARTED), None)
    if start is None:
        return None
    for end in range(start + 1, len(own_events)):
        if own_events[end].type == EventType.TASK_COMPLETED:
            return list(own_events[start : end + 1])
    return None


# ---------------------------------------------------------------- per task


def _task_facts(task_id: ObjectId, task: Task | None, own_events: Sequence[_Timed], rules: _Rules) -> _TaskFacts | None:
    window = _task_window(own_events)
    if window is None:
        return None
    started, completed = window[0], window[-1]
    # The window's events by type, in one pass (each rule below reads one or two types).
    kinds: dict[str, list[_Timed]] = {}
    for timed in window:
        kind = kinds.get(timed.type)
        if kind is None:
            kinds[timed.type] = [timed]
        else:
            kind.append(timed)
    final_option_id = str(completed.event.payload.get("final_option_id", ""))
    text = _final_reasoning(kinds.get(EventType.REASONING_SUBMITTED, _NONE))
    hits = score_keywords(text, keyword_weights(task.language if task else None))
    return _TaskFacts(
        task_id=task_id,
        spent_ms=completed.ms - started.ms,
        active_ms=_active_ms(window),
        first_decision_ms=_first_decision_ms(window, kinds.get(EventType.OPTION_SELECTED, _NONE)),
        changes=_changes(kinds.get(EventType.OPTION_CHANGED, _NONE), rules),
        final_option_id=final_option_id,
        risk=_risk_of(task, final_option_id),
        words=len(text.split()),
        keywords=hits.count,
        depth=_reasoning_depth(len(text.split()), hits.score) if text else 0.0,
        idle_ms=_idle_ms(window, kinds.get(EventType.IDLE_DETECTED, _NONE), rules),
        away_ms=_away_ms(window, EventType.FOCUS_LOST in kinds),
        focus_losses=_focus_losses(kinds.get(EventType.FOCUS_LOST, _NONE), rules),
    )


_NONE: list[_Timed] = []  # read only: the window has no event of that type


def _changes(changes: Sequence[_Timed], rules: _Rules) -> int:
    """``option_changed`` events (``changes``); 1.1.0 leaves out a change made less than
    ``KEYBOARD_COMMIT_MS`` after the previous selection unless it came from a
    pointer or a touch (arrow keys moving through options are not choices)."""
    if not rules.v1_1:
        return len(changes)
    return sum(1 for timed in changes if not _keyboard_burst(timed.event.payload))


def _keyboard_burst(payload: dict) -> bool:
    since = payload.get("time_since_last_change_ms")
    quick = isinstance(since, int) and not isinstance(since, bool) and since < KEYBOARD_COMMIT_MS
    return quick and payload.get("input") not in ("pointer", "touch")


def _idle_ms(window: Sequence[_Timed], idles: Sequence[_Timed], rules: _Rules) -> int:
    """1.0.0: the sum of ``idle_duration_ms`` of the window's ``idle_detected``
    events (``idles``). 1.1.0: each idle period
    ``[t - idle_duration_ms, t]`` counts only inside the task's window and
    outside every wait (lengths on the waiting-free clock)."""
    if not rules.v1_1:
        return sum(int(t.event.payload.get("idle_duration_ms", 0)) for t in idles)
    first, last = window[0].ms, window[-1].ms
    total = 0
    for timed in idles:
        began = rules.waits.clock(timed.real_ms - int(timed.event.payload.get("idle_duration_ms", 0)))
        total += max(0, min(timed.ms, last) - max(began, first))
    return total


def _focus_losses(losses: Sequence[_Timed], rules: _Rules) -> int:
    """``focus_lost`` events (``losses``); 1.1.0 leaves out those made during a wait."""
    if not rules.v1_1:
        return len(losses)
    return sum(1 for timed in losses if not rules.waits.covers(timed.real_ms))


def _active_ms(window: Sequence[_Timed]) -> int:
    total, previous = 0, window[0].ms
    for timed in window:
        gap = timed.ms - previous
        if gap < IDLE_THRESHOLD_MS:
            total += gap
        previous = timed.ms
    return total


def _first_decision_ms(window: Sequence[_Timed], selections: Sequence[_Timed]) -> int:
    # The protocol never completes a task without a selection; should one
    # appear anyway, the decision was made no earlier than completion.
    decided = selections[0] if selections else window[-1]
    return decided.ms - window[0].ms


def _final_reasoning(submissions: Sequence[_Timed]) -> str:
    if not submissions:
        return ""
    text = submissions[-1].event.payload.get("final_text", "")
    return text if isinstance(text, str) else ""


def _reasoning_depth(word_count: int, keyword_score: float) -> float:
    """Seed 7.3."""
    word_factor = min(word_count / 100, 1.0)
    keyword_factor = min(keyword_score / 10, 1.0)
    return (word_factor * 0.4) + (keyword_factor * 0.6)


def _away_ms(window: Sequence[_Timed], any_lost: bool = True) -> int:
    """Time from each ``focus_lost`` to the next ``focus_gained``, or to the
    task's completion when focus never came back. A second ``focus_lost``
    while away adds nothing. ``any_lost`` False: the window has no
    ``focus_lost``, so nothing to walk."""
    if not any_lost:
        return 0
    away, away_since = 0, None
    for timed in window:
        if timed.type == EventType.FOCUS_LOST and away_since is None:
            away_since = timed.ms
        elif timed.type == EventType.FOCUS_GAINED and away_since is not None:
            away, away_since = away + timed.ms - away_since, None
    if away_since is not None:
        away += window[-1].ms - away_since
    return away


def _risk_of(task: Task | None, option_id: str) -> RiskLevel:
    option = task.option(option_id) if task else None
    return RiskLevel(option.risk_level) if option else _UNKNOWN_RISK


def _per_task_document(fact: _TaskFacts, scale: float = 1.0) -> PerTaskMetrics:
    return PerTaskMetrics(
        task_id=fact.task_id,
        time_spent_seconds=_seconds(fact.spent_ms, scale),
        hesitation_seconds=_seconds(fact.hesitation_ms, scale),
        first_decision_speed_seconds=_seconds(fact.first_decision_ms, scale),
        decision_change_count=fact.changes,
        final_option_id=fact.final_option_id,
        final_option_risk_level=fact.risk,
        reasoning_depth_score=round(fact.depth, DIGITS),
        reasoning_word_count=fact.words,
        reasoning_logical_keywords_count=fact.keywords,
        idle_time_seconds=_seconds(fact.idle_ms, scale),
        focus_loss_count=fact.focus_losses,
    )


def _seconds(ms: int, scale: float = 1.0) -> float:
    """Whole milliseconds as seconds; 1.1.0 divides by the time multiplier."""
    if scale == 1.0:
        return round(ms / 1000, DIGITS)
    return round(ms / (1000 * scale), DIGITS)


# ---------------------------------------------------------------- global


def _global_metrics(
    attempt: TaskAttempt, timeline: Sequence[_Timed], facts: Sequence[_TaskFacts], rules: _Rules
) -> GlobalMetrics:
    total_ms = _total_ms(attempt, timeline, rules.waits.clock if rules.v1_1 else None)
    active_ms = sum(fact.active_ms for fact in facts)
    spent = [fact.spent_ms / 1000 for fact in facts]
    return GlobalMetrics(
        total_time_seconds=_seconds(total_ms, rules.scale),
        active_interaction_time_seconds=_seconds(active_ms, rules.scale),
        hesitation_time_seconds=_seconds(max(0, total_ms - active_ms), rules.scale),
        total_tasks=len(attempt.task_ids),
        tasks_completed=len(facts),
        avg_time_per_task_seconds=round(sum(spent) / len(spent) / rules.scale, DIGITS) if spent else 0.0,
    )


def _total_ms(attempt: TaskAttempt, timeline: Sequence[_Timed], clock: Callable[[int], int] | None = None) -> int:
    """``completed_at - started_at``; an attempt that ended otherwise ends
    at its last event (or at its start when it has none). ``clock`` (1.1.0)
    maps the attempt's own times onto the timeline's waiting-free clock."""
    clock = clock or (lambda ms: ms)
    if attempt.started_at is not None:
        start = clock(_ms(attempt.started_at))
    elif timeline:
        start = timeline[0].ms
    else:
        return 0
    if attempt.status == AttemptStatus.COMPLETED and attempt.completed_at is not None:
        end = clock(_ms(attempt.completed_at))
    else:
        end = timeline[-1].ms if timeline else start
    return max(0, end - start)


# ---------------------------------------------------------------- aggregated


def _aggregated_patterns(facts: Sequence[_TaskFacts], version: str = VERSION_1_0) -> AggregatedPatterns:
    return AggregatedPatterns(
        risk_preference=risk_preference([fact.risk for fact in facts], version=version),
        decision_consistency=round(_decision_consistency([fact.first_decision_ms / 1000 for fact in facts]), DIGITS),
        reasoning_engagement=round(_mean([fact.depth for fact in facts]), DIGITS),
        attention_stability=round(_attention_stability(facts), DIGITS),
    )


def risk_preference(levels: Sequence[RiskLevel | str], *, version: str = VERSION_1_0) -> RiskPreference:
    """Seed 7.4 with docs/metrics.md's fix: where the seed falls through to
    'medium', the most frequent level wins, and a tie for the top is
    'balanced'. From 1.2.0, more than 60% medium is 'medium', checked
    before the balanced rule (1.0.0 and 1.1.0 called 0 low / 3 medium /
    0 high 'balanced' but 1 low / 2 medium 'medium')."""
    counts = {level: 0 for level in RiskLevel}
    for level in levels:
        counts[RiskLevel(level)] += 1
    low, medium, high = counts[RiskLevel.LOW], counts[RiskLevel.MEDIUM], counts[RiskLevel.HIGH]
    total = low + medium + high
    if low > total * 0.6:
        dominant = RiskDominance.LOW
    elif high > total * 0.6:
        dominant = RiskDominance.HIGH
    elif version not in (VERSION_1_0, VERSION_1_1) and medium > total * 0.6:
        dominant = RiskDominance.MEDIUM
    elif abs(low - high) < total * 0.2:
        dominant = RiskDominance.BALANCED
    else:
        dominant = _most_frequent(counts)
    return RiskPreference(low_count=low, medium_count=medium, high_count=high, dominant=dominant)


def _most_frequent(counts: dict[RiskLevel, int]) -> RiskDominance:
    top = max(counts.values())
    leaders = [level for level, count in counts.items() if count == top]
    return RiskDominance(leaders[0]) if len(leaders) == 1 else RiskDominance.BALANCED


def _decision_consistency(decision_seconds: Sequence[float]) -> float:
    if len(decision_seconds) < 2:
        return 1.0
    mean = statistics.mean(decision_seconds)
    if mean == 0:
        return 1.0
    return _clamp01(1 - statistics.pstdev(decision_seconds) / mean)


def _attention_stability(facts: Sequence[_TaskFacts]) -> float:
    spent_ms = sum(fact.spent_ms for fact in facts)
    if spent_ms == 0:
        return 1.0
    lost_ms = sum(fact.idle_ms + fact.away_ms for fact in facts)
    return _clamp01(1 - lost_ms / spent_ms)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _clamp01(value: float) -> float:
    return min(1.0, max(0.0, value))
