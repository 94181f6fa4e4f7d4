"""Realistic, deterministic candidate sessions for tests, demos and benchmarks.

A ``random.Random`` drives everything (ids included), so a seed always gives
the same tasks, persona and events. Every generated sequence obeys
docs/protocol.md's "What each event is allowed to follow" table and payload
rules: one selection per task then ``option_changed`` chains from the
current option, reasoning started before it is updated or submitted,
``word_count == len(final_text.split())``, reasoning at least
``reasoning_min_length`` characters when required, ``final_option_id`` the
selected option, focus and idle events only while the attempt runs.

Three forms: ``BehaviorEvent`` models (for metrics), protocol messages (for
the ingest server) and stored documents (``seed_completed_attempt(s)``, which
tests, benchmarks, ``python -m hiremate simulate`` and the demo seed share).
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from bson import ObjectId
from pymongo.database import Database
from pymongo.errors import BulkWriteError

from hiremate import attempt_counts, norms, people
from hiremate.db import ATTEMPTS, EVENTS, METRICS, PROFILES
from hiremate.errors import AlreadySeeded
from hiremate.models import (
    AttemptStatus,
    BehaviorEvent,
    CandidateInfo,
    Category,
    Consent,
    Difficulty,
    EventType,
    RiskLevel,
    Task,
    TaskAttempt,
    TaskOption,
)
from hiremate.organizations import notice_for
from hiremate.profiles import Computed, build_profile, profile_doc
from hiremate.timeutil import iso, to_ms, utcnow

DEFAULT_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
DUPLICATE_KEY = 11000
SESSION_MARGIN = timedelta(hours=6)  # seeded sessions end before "now"
MAX_TEMPO = 4.0  # nobody pauses minutes between clicks without going idle
# norms.record reads its attempts by ``_id $in``, which the embedded store checks
# value by value for each attempt found: 500 at once cost 0.31 s, five times 100 0.11 s.
NORMS_CHUNK = 100


# ---------------------------------------------------------------- vocabulary

_SCENARIOS = [
    ("Missed deadline", "A key supplier tells you a delivery will be two weeks late, the week before launch."),
    ("Budget overrun", "Your project is 15% over budget with a month left and the sponsor has not noticed yet."),
    ("Angry customer", "A large customer threatens to leave after an outage that your team caused."),
    ("Conflicting data", "Two dashboards show different revenue figures an hour before the board meeting."),
    ("New hire struggling", "A new team member keeps missing small details and a release is coming up."),
    ("Vendor choice", "You must pick a vendor today: one is cheap and new, one is proven and expensive."),
    ("Security alert", "A monitoring tool flags unusual logins on a production server late on Friday."),
    ("Scope creep", "A stakeholder asks for a large new feature two days before the sprint ends."),
    ("Team disagreement", "Two senior engineers disagree strongly about the architecture of a new service."),
    ("Hiring decision", "You can make an offer now to a good candidate or wait a week for a possibly better one."),
    ("Price change", "A competitor cuts prices by 20% and sales ask you to respond by tomorrow."),
    ("Data deletion", "A script deleted part of a staging database that a partner demo relies on today."),
]
_OPTIONS = {
    RiskLevel.LOW: [
        ("Pause and gather more information before acting", ["cautious", "analytical"]),
        ("Escalate to the responsible manager and follow the agreed process", ["cautious", "collaborative"]),
        ("Keep the current plan and communicate the delay transparently", ["cautious", "transparent"]),
    ],
    RiskLevel.MEDIUM: [
        ("Propose a compromise and agree on it with the people involved", ["collaborative", "pragmatic"]),
        ("Run a small, time-boxed trial before committing", ["pragmatic", "analytical"]),
        ("Split the work and deliver the most important part first", ["pragmatic", "decisive"]),
    ],
    RiskLevel.HIGH: [
        ("Act immediately on your own judgement and explain afterwards", ["decisive", "independent"]),
        ("Commit fully to the bold option and reallocate the team", ["decisive", "bold"]),
        ("Bypass the usual process to resolve it today", ["bold", "independent"]),
    ],
}
_CLAIMS = [
    "this option keeps the team informed",
    "the customer gets a clear answer sooner",
    "we avoid expensive rework later",
    "the budget stays under control",
    "the deadline can still be met",
    "the decision is shared with the stakeholders",
    "the numbers support this choice",
    "it is the safest path for the customer",
    "it leaves room to adjust the plan",
    "the team can act on it straight away",
    "nobody is surprised by the outcome",
    "the impact on other projects stays small",
]
_REASONS = [
    "the deadline is close",
    "the data is incomplete",
    "the team is already stretched",
    "the customer asked for clarity",
    "the cost of delay is high",
    "the impact is limited to one area",
    "we have done something similar before",
    "the risk is easy to reverse",
]
_DOUBTS = [
    "it may take a little longer",
    "it costs more up front",
    "some people will disagree",
    "it depends on quick feedback",
    "the plan has to change again",
]
_CONNECTED = [
    "Because {reason}, {claim}.",
    "I chose it since {reason}.",
    "However, {doubt}.",
    "Therefore {claim}.",
    "If {reason}, then {claim}.",
    "Given that {reason}, {claim}.",
    "Assuming {reason}, {claim}.",
    "Although {doubt}, {claim}.",
    "Firstly, {claim}.",
    "Secondly, {claim}.",
    "Finally, {claim}.",
    "Considering that {reason}, {claim}.",
    "This implies {claim}.",
    "Thus {claim}.",
    "Hence {claim}.",
    "Consequently, {claim}.",
    "{Claim}, whereas the alternatives do not.",
]
_PLAIN = ["{Claim}.", "I think {claim}.", "In my view {claim}.", "It seems {claim}.", "Ok, {claim}."]
_FIRST_NAMES = ["Ada", "Grace", "Alan", "Linus", "Margaret", "Tim", "Barbara", "Ken", "Frances", "Dennis", "Radia"]
_LAST_NAMES = ["Lovelace", "Hopper", "Turing", "Torvalds", "Hamilton", "Berners", "Liskov", "Thompson", "Allen"]
_POSITIONS = ["Analyst", "Product Manager", "Software Engineer", "Operations Lead", "Support Specialist"]
_FOCUS_TRIGGERS = ["tab_switch", "window_blur"]


def new_object_id(rng: random.Random) -> ObjectId:
    """An ObjectId drawn from ``rng``, so seeded runs give the same ids."""
    return ObjectId(rng.randbytes(12))


# ---------------------------------------------------------------- tasks


def make_task(
    rng: random.Random,
    *,
    now: datetime = DEFAULT_START,
    organization_id: ObjectId | None = None,
    reasoning_required: bool | None = None,
    language: str = "en",
) -> Task:
    """One task with 3-4 options covering low, medium and high risk."""
    title, scenario = rng.choice(_SCENARIOS)
    levels = [RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.HIGH]
    if rng.random() < 0.5:
        levels.append(rng.choice(levels))
    rng.shuffle(levels)
    options = []
    for number, level in enumerate(levels, start=1):
        text, tags = rng.choice(_OPTIONS[level])
        options.append(TaskOption(id=f"opt_{number}", text=text, risk_level=level, behavioral_tags=tags))
    return Task(
        id=new_object_id(rng),
        organization_id=organization_id,
        title=title,
        description=f"Decide how to handle: {title.lower()}.",
        scenario=scenario,
        category=rng.choice(list(Category)),
        difficulty=rng.choice(list(Difficulty)),
        time_limit_seconds=rng.choice([None, 60, 120, 180, 300]),
        options=options,
        reasoning_required=rng.random() < 0.8 if reasoning_required is None else reasoning_required,
        reasoning_min_length=rng.choice([0, 20, 30, 50]),
        language=language,
        created_at=now,
        updated_at=now,
    )


def make_tasks(rng: random.Random, count: int, **kwargs: Any) -> list[Task]:
    return [make_task(rng, **kwargs) for _ in range(count)]


# ---------------------------------------------------------------- persona


# archetype: tempo, long-pause chance, changes per task, words per answer, connector share
_ARCHETYPES: dict[str, tuple[float, float, float, int, float]] = {
    "quick": (0.5, 0.01, 0.2, 12, 0.1),
    "explorer": (0.6, 0.02, 3.0, 25, 0.3),
    "steady": (1.0, 0.08, 0.8, 35, 0.4),
    "thorough": (1.6, 0.25, 0.6, 70, 0.7),
    "analyst": (2.4, 0.4, 0.5, 110, 0.9),
}


@dataclass(frozen=True)
class Persona:
    """How one simulated candidate behaves. ``draw`` picks one of a few
    archetypes and varies it, so that every thinking style, speed,
    consistency, risk orientation and writing style occurs."""

    archetype: str
    tempo: float  # scales thinking pauses: 0.5 quick .. 3 slow
    long_pause_chance: float  # share of pauses of 5 s or more
    warmup: float  # extra slowness on the first tasks, fading by the last
    changes_per_task: float
    words_per_answer: int
    connector_share: float  # share of sentences built around a logical connector
    risk_weights: tuple[float, float, float]  # low, medium, high
    focus_losses_per_task: float
    idles_per_task: float
    optional_reasoning_chance: float

    @classmethod
    def draw(cls, rng: random.Random) -> Persona:
        archetype = rng.choice(list(_ARCHETYPES))
        tempo, long_pauses, changes, words, connectors = _ARCHETYPES[archetype]
        return cls(
            archetype=archetype,
            tempo=tempo * rng.uniform(0.8, 1.25),
            long_pause_chance=long_pauses,
            warmup=rng.choice([0.0, 0.0, 0.8, 1.5]),
            changes_per_task=changes * rng.uniform(0.7, 1.3),
            words_per_answer=int(words * rng.uniform(0.7, 1.3)),
            connector_share=min(1.0, connectors * rng.uniform(0.7, 1.3)),
            risk_weights=rng.choice([(6, 2, 1), (1, 2, 6), (1, 1, 1), (2, 5, 2), (4, 1, 4)]),
            focus_losses_per_task=rng.choice([0.0, 0.0, 0.1, 0.3]),
            idles_per_task=rng.choice([0.0, 0.0, 0.1, 0.3]),
            optional_reasoning_chance=rng.random(),
        )


# ---------------------------------------------------------------- events


@dataclass(frozen=True)
class SimEvent:
    """One generated event; ``at`` is both the client time and the event time."""

    seq: int
    task_id: ObjectId
    event_type: EventType
    payload: dict[str, Any]
    at: datetime

    def message(self) -> dict[str, Any]:
        """The event as a client sends it (docs/protocol.md, without ``type``)."""
        return {
            "seq": self.seq,
            "task_id": str(self.task_id),
            "event_type": self.event_type.value,
            "payload": dict(self.payload),
            "client_timestamp": iso(self.at),
        }

    def behavior_event(self, attempt_id: ObjectId) -> BehaviorEvent:
        """The event as the ingest server stores it (no clock skew)."""
        return BehaviorEvent(
            attempt_id=attempt_id,
            task_id=self.task_id,
            event_type=self.event_type,
            timestamp=self.at,
            event_time=self.at,
            sequence_number=self.seq,
            payload=dict(self.payload),
            client_timestamp=self.at,
        )


@dataclass
class _Recorder:
    """Appends events with growing ``seq``; ``now_ms`` counts from ``start``."""

    start: datetime
    events: list[SimEvent] = field(default_factory=list)
    now_ms: int = 0

    def wait(self, ms: int) -> None:
        self.now_ms += max(0, ms)

    def emit(self, task_id: ObjectId, event_type: EventType, **payload: Any) -> int:
        at = self.start + timedelta(milliseconds=self.now_ms)
        self.events.append(SimEvent(len(self.events) + 1, task_id, event_type, payload, at))
        return self.now_ms


Step = Callable[[], None]


@dataclass
class _Candidate:
    """Plays one persona through tasks, in the orders a real person produces."""

    rng: random.Random
    persona: Persona
    recorder: _Recorder
    selected: str = ""
    last_choice_ms: int = 0
    tempo: float = 1.0  # the persona's tempo, with the warm-up of this task

    def pause(self) -> None:
        """A thinking pause; some are long enough to count as hesitation."""
        if self.rng.random() < self.persona.long_pause_chance:
            self.recorder.wait(int(self.rng.uniform(5_000, 20_000) * self.tempo))
        else:
            self.recorder.wait(int(self.rng.uniform(300, 3_200) * min(self.tempo, 1.4)))

    def between_tasks(self, next_task: Task, *, first: bool) -> None:
        """Reads the next task (maybe stepping away first) before starting it.
        Outside an open task, focus events carry the next task's id."""
        if not first and self.rng.random() < self.persona.focus_losses_per_task / 3:
            self.step_away(next_task)
        self.recorder.wait(int(self.rng.uniform(800, 6_000) * self.tempo))

    def warm_up(self, index: int, count: int) -> None:
        """Later tasks go faster once the format is familiar."""
        unfamiliar = 1 - index / (count - 1) if count > 1 else 1.0
        self.tempo = min(MAX_TEMPO, self.persona.tempo * (1 + self.persona.warmup * unfamiliar))

    def play(self, task: Task, index: int, *, finish: bool = True) -> None:
        self.selected = ""
        started = self.recorder.emit(task.id, EventType.TASK_STARTED, task_index=index)
        steps = self.deciding(task) + self.explaining(task, started)
        if not finish:
            steps = steps[: self.rng.randint(0, len(steps))]
        for step in self.with_distractions(steps, task):
            step()
        if finish:
            self.pause()
            self.recorder.emit(
                task.id,
                EventType.TASK_COMPLETED,
                final_option_id=self.selected,
                task_duration_ms=self.recorder.now_ms - started,
            )

    # -- deciding

    def deciding(self, task: Task) -> list[Step]:
        views: list[Step] = [partial(self.view, task, option_id) for option_id in self.viewing_order(task)]
        changes: list[Step] = [partial(self.change, task) for _ in range(self.change_count())]
        return [*views, partial(self.select, task), *changes]

    def viewing_order(self, task: Task) -> list[str]:
        option_ids = [option.id for option in task.options]
        count = max(1, round(len(option_ids) * self.tempo * self.rng.uniform(0.4, 1.2)))
        if self.rng.random() < 0.7:  # reads them top to bottom, maybe more than once
            return (option_ids * (count // len(option_ids) + 1))[:count]
        return self.rng.choices(option_ids, k=count)

    def view(self, task: Task, option_id: str) -> None:
        duration = int(self.rng.uniform(700, 4_000) * self.tempo)
        self.pause()
        self.recorder.emit(task.id, EventType.OPTION_VIEWED, option_id=option_id, view_duration_ms=duration)
        self.recorder.wait(duration)

    def select(self, task: Task) -> None:
        self.pause()
        self.selected = self.choose(task)
        self.last_choice_ms = self.recorder.emit(
            task.id, EventType.OPTION_SELECTED, option_id=self.selected, is_first_selection=True
        )

    def change(self, task: Task) -> None:
        self.pause()
        to_option = self.rng.choice([option.id for option in task.options if option.id != self.selected])
        self.recorder.emit(
            task.id,
            EventType.OPTION_CHANGED,
            from_option_id=self.selected,
            to_option_id=to_option,
            time_since_last_change_ms=self.recorder.now_ms - self.last_choice_ms,
        )
        self.selected, self.last_choice_ms = to_option, self.recorder.now_ms

    def choose(self, task: Task) -> str:
        weight_of = dict(zip(RiskLevel, self.persona.risk_weights, strict=True))
        weights = [weight_of[RiskLevel(option.risk_level)] for option in task.options]
        return self.rng.choices([option.id for option in task.options], weights)[0]

    def change_count(self) -> int:
        mean = self.persona.changes_per_task
        return max(0, round(self.rng.gauss(mean, 0.6))) if mean else 0

    # -- explaining

    def explaining(self, task: Task, started: int) -> list[Step]:
        if not (task.reasoning_required or self.rng.random() < self.persona.optional_reasoning_chance):
            return []
        text = self.reasoning_text(task.reasoning_min_length if task.reasoning_required else 0)
        steps: list[Step] = [partial(self.write, task, started, text)]
        if self.rng.random() < 0.1:  # reads it again and adds a sentence
            steps.append(partial(self.write, task, started, f"{text} {self.sentence()}"))
        return steps

    def write(self, task: Task, started: int, text: str) -> None:
        self.pause()
        since_start = self.recorder.now_ms - started
        self.recorder.emit(task.id, EventType.REASONING_STARTED, time_since_task_start_ms=since_start)
        words, typed = text.split(), 0
        while typed < len(words):
            chunk = min(len(words) - typed, self.rng.randint(3, 7))
            typed += chunk
            self.type_words(chunk)
            draft = text if typed == len(words) else " ".join(words[:typed])
            self.recorder.emit(
                task.id, EventType.REASONING_UPDATED, character_count=len(draft), word_count=len(draft.split())
            )
        self.pause()
        self.recorder.emit(
            task.id,
            EventType.REASONING_SUBMITTED,
            final_text=text,
            word_count=len(text.split()),
            character_count=len(text),
        )

    def type_words(self, count: int) -> None:
        self.recorder.wait(int(sum(self.rng.uniform(250, 700) for _ in range(count))))
        if self.rng.random() < 0.2:
            self.pause()

    def reasoning_text(self, min_chars: int) -> str:
        sentences = [self.sentence()]
        while len(" ".join(sentences).split()) < self.persona.words_per_answer or len(" ".join(sentences)) < min_chars:
            sentences.append(self.sentence())
        text = " ".join(sentences)
        return text.lower() if self.rng.random() < 0.1 else text

    def sentence(self) -> str:
        patterns = _CONNECTED if self.rng.random() < self.persona.connector_share else _PLAIN
        pattern, claim = self.rng.choice(patterns), self.rng.choice(_CLAIMS)
        return pattern.format(
            claim=claim,
            Claim=claim[0].upper() + claim[1:],
            reason=self.rng.choice(_REASONS),
            doubt=self.rng.choice(_DOUBTS),
        )

    # -- distractions

    def with_distractions(self, steps: list[Step], task: Task) -> Iterator[Step]:
        """The steps, with focus losses and idle periods between some."""
        for step in steps:
            yield step
            if self.rng.random() < self.persona.focus_losses_per_task / len(steps):
                yield partial(self.step_away, task)
            if self.rng.random() < self.persona.idles_per_task / len(steps):
                yield partial(self.go_idle, task)

    def step_away(self, task: Task) -> None:
        trigger = self.rng.choice(_FOCUS_TRIGGERS)
        self.pause()
        self.recorder.emit(task.id, EventType.FOCUS_LOST, trigger=trigger)
        self.recorder.wait(int(self.rng.uniform(2_000, 60_000)))
        self.recorder.emit(task.id, EventType.FOCUS_GAINED, trigger=trigger)

    def go_idle(self, task: Task) -> None:
        # The page reports an idle period when it ends, with its length.
        idle_ms = int(self.rng.uniform(5_000, 45_000))
        last_activity = self.recorder.events[-1].event_type.value
        self.recorder.wait(idle_ms + 200)
        self.recorder.emit(task.id, EventType.IDLE_DETECTED, idle_duration_ms=idle_ms, last_activity_type=last_activity)


def simulate_events(
    tasks: Sequence[Task],
    rng: random.Random,
    *,
    start: datetime = DEFAULT_START,
    persona: Persona | None = None,
    stop_after_tasks: int | None = None,
    leave_open: bool = False,
) -> list[SimEvent]:
    """One candidate's events over ``tasks``, beginning at ``start``.

    ``stop_after_tasks=k`` stops after k completed tasks; ``leave_open``
    then also starts the next task and does part of it.
    """
    candidate = _Candidate(rng, persona or Persona.draw(rng), _Recorder(to_ms(start)))
    finished = len(tasks) if stop_after_tasks is None else max(0, min(stop_after_tasks, len(tasks)))
    for index, task in enumerate(tasks[:finished]):
        candidate.warm_up(index, len(tasks))
        candidate.between_tasks(task, first=index == 0)
        candidate.play(task, index)
    if leave_open and finished < len(tasks):
        candidate.warm_up(finished, len(tasks))
        candidate.between_tasks(tasks[finished], first=finished == 0)
        candidate.play(tasks[finished], finished, finish=False)
    return candidate.recorder.events


# ---------------------------------------------------------------- attempts and sessions


def make_candidate(rng: random.Random) -> CandidateInfo:
    first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
    number = rng.randrange(10_000)
    return CandidateInfo(
        name=f"{first} {last}",
        email=f"{first}.{last}{number}@example.com".lower(),
        position=rng.choice(_POSITIONS),
    )


def make_attempt(
    tasks: Sequence[Task],
    rng: random.Random,
    *,
    organization_id: ObjectId | None = None,
    candidate: CandidateInfo | None = None,
    created_at: datetime = DEFAULT_START,
    created_by: ObjectId | None = None,
    attempt_id: ObjectId | None = None,
) -> TaskAttempt:
    """A pending attempt over ``tasks`` with their snapshots; its token is
    random and not kept (only its hash is stored). Its id is ``attempt_id``,
    or drawn from ``rng``."""
    token = rng.randbytes(32).hex()
    return TaskAttempt(
        id=attempt_id or new_object_id(rng),
        organization_id=organization_id,
        token_hash=hashlib.sha256(token.encode()).hexdigest(),
        candidate_info=candidate or make_candidate(rng),
        task_ids=[task.id for task in tasks],
        task_snapshots=list(tasks),
        created_by=created_by,
        expires_at=created_at + timedelta(days=7),
        created_at=created_at,
        updated_at=created_at,
    )


@dataclass(frozen=True)
class SimulatedSession:
    """An attempt as it stands after the simulated events."""

    attempt: TaskAttempt
    tasks: list[Task]
    events: list[SimEvent]

    @property
    def behavior_events(self) -> list[BehaviorEvent]:
        return [event.behavior_event(self.attempt.id) for event in self.events]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [event.message() for event in self.events]

    @property
    def tasks_completed(self) -> int:
        return sum(1 for event in self.events if event.event_type == EventType.TASK_COMPLETED)

    def ended(self, status: AttemptStatus) -> TaskAttempt:
        """The attempt as if it had ended now with ``status`` (expired or
        locked partway, say)."""
        last = self.events[-1].at if self.events else self.attempt.started_at
        update: dict[str, Any] = {"status": status, "updated_at": last}
        if status == AttemptStatus.LOCKED:
            update |= {"locked_at": last, "locked_reason": "Locked by a recruiter"}
        return self.attempt.model_copy(update=update)


def simulate_session(
    rng: random.Random | int,
    *,
    tasks: Sequence[Task] | None = None,
    task_count: int = 5,
    started_at: datetime = DEFAULT_START,
    organization_id: ObjectId | None = None,
    candidate: CandidateInfo | None = None,
    persona: Persona | None = None,
    stop_after_tasks: int | None = None,
    leave_open: bool = False,
    attempt_id: ObjectId | None = None,
) -> SimulatedSession:
    """A whole session: tasks (made or given), attempt (its id ``attempt_id``
    or drawn from ``rng``) and events.

    The attempt is ``completed`` (``completed_at`` = the last event) when
    every task was completed, ``in_progress`` otherwise.
    """
    rng = rng if isinstance(rng, random.Random) else random.Random(rng)
    started_at = to_ms(started_at)
    tasks = list(tasks) if tasks is not None else make_tasks(rng, task_count, organization_id=organization_id)
    attempt = make_attempt(
        tasks,
        rng,
        organization_id=organization_id,
        candidate=candidate,
        created_at=started_at - timedelta(minutes=rng.randint(5, 4 * 24 * 60)),
        attempt_id=attempt_id,
    )
    events = simulate_events(
        tasks, rng, start=started_at, persona=persona, stop_after_tasks=stop_after_tasks, leave_open=leave_open
    )
    completed = sum(1 for event in events if event.event_type == EventType.TASK_COMPLETED)
    done = completed == len(tasks)
    last = events[-1].at if events else started_at
    attempt = attempt.model_copy(
        update={
            "status": AttemptStatus.COMPLETED if done else AttemptStatus.IN_PROGRESS,
            "started_at": started_at,
            "completed_at": last if done else None,
            "current_task_index": completed,
            "token_used": True,
            "session_epoch": 1,
            "updated_at": last,
        }
    )
    return SimulatedSession(attempt, tasks, events)


# ---------------------------------------------------------------- seeding a store


def seed_completed_attempt(
    db: Database,
    *,
    organization_id: ObjectId,
    tasks: Sequence[Task],
    rng: random.Random,
    candidate: CandidateInfo | None = None,
    started_at: datetime | None = None,
    with_profile: bool = True,
) -> TaskAttempt:
    """Store one completed attempt over ``tasks``, in order: the attempt
    (with task snapshots), its events and, by default, its metrics and
    profile. It starts at ``started_at`` (default: six hours ago). Raises
    ``AlreadySeeded``, writing nothing, when its id is stored already."""
    start = started_at or utcnow() - SESSION_MARGIN
    session = simulate_session(rng, tasks=tasks, started_at=start, organization_id=organization_id, candidate=candidate)
    _store_sessions(db, [session], with_events=True, with_profiles=with_profile, skip_stored=False)
    people.settle(db, organization_id, [session.attempt.candidate_info.email])  # one row per person in lists
    return session.attempt


def seed_completed_attempts(
    db: Database,
    *,
    organization_id: ObjectId,
    tasks: Sequence[Task],
    count: int,
    rng: random.Random,
    tasks_per_attempt: int = 5,
    until: datetime | None = None,
    spread_days: float = 60.0,
    with_events: bool = True,
    with_profiles: bool = True,
    batch_size: int = 500,
    attempt_ids: Sequence[ObjectId] | None = None,
    counted: bool = True,
) -> list[TaskAttempt]:
    """Store ``count`` completed attempts with ``insert_many``, in batches,
    and count them in the organisation's attempt counters; returns the
    attempts stored.

    Each attempt takes ``tasks_per_attempt`` tasks sampled from ``tasks``
    (all of them, in order, when it asks for as many) and starts within the
    ``spread_days`` before ``until`` (default: now) minus six hours, so every
    session has ended by then. ``with_events=False`` seeds much faster for
    pages that only read profiles, but a recompute then finds no events.

    Ids are drawn from ``rng``: ids that are stored already (the same seed
    again in the same store) raise ``AlreadySeeded`` before anything of
    their batch is written. ``attempt_ids`` (``count`` of them) fixes the ids
    instead, to seed idempotently: an attempt whose id is stored already is
    skipped with its events, metrics and profile, also when another process
    stores it at the same moment.

    ``counted=False`` leaves the organisation's attempt counters and norm
    histograms to one ``attempt_counts.recount`` and ``norms.recount`` after
    a bulk load (the norm points are stored either way): counting as each
    batch is stored costs the store about three upserts an attempt (a
    benchmark's 100,000 attempts spent most of their seeding time there),
    where a recount writes each counter document once.
    """
    if attempt_ids is not None and len(attempt_ids) != count:
        raise ValueError(f"{len(attempt_ids)} attempt ids for {count} attempts")
    ids = list(attempt_ids) if attempt_ids is not None else [None] * count
    until = to_ms(until or utcnow())
    attempts: list[TaskAttempt] = []
    for first in range(0, count, batch_size):
        sessions = [
            simulate_session(
                rng,
                tasks=_pick_tasks(rng, tasks, tasks_per_attempt),
                started_at=until - SESSION_MARGIN - timedelta(days=rng.uniform(0, spread_days)),
                organization_id=organization_id,
                attempt_id=attempt_id,
            )
            for attempt_id in ids[first : first + batch_size]
        ]
        stored = _store_sessions(
            db,
            sessions,
            with_events=with_events,
            with_profiles=with_profiles,
            skip_stored=attempt_ids is not None,
            counted=counted,
        )
        attempts.extend(session.attempt for session in stored)
    return attempts


def _pick_tasks(rng: random.Random, tasks: Sequence[Task], count: int) -> list[Task]:
    return list(tasks) if count >= len(tasks) else rng.sample(list(tasks), count)


def _with_consent(session: SimulatedSession, versions: dict[ObjectId | None, str]) -> SimulatedSession:
    """A simulated candidate acknowledged the notice when they started, like every real one."""
    attempt = session.attempt
    consent = Consent(notice_version=versions[attempt.organization_id], at=attempt.started_at or attempt.created_at)
    return dataclasses.replace(session, attempt=attempt.model_copy(update={"consent": consent}))


def _store_sessions(
    db: Database,
    sessions: Sequence[SimulatedSession],
    *,
    with_events: bool,
    with_profiles: bool,
    skip_stored: bool,
    counted: bool = True,
) -> list[SimulatedSession]:
    """Store the sessions whose attempts are new; those already stored are
    skipped (``skip_stored``) or refused before anything is written."""
    stored = _stored_ids(db, [session.attempt.id for session in sessions])
    if stored and not skip_stored:
        raise AlreadySeeded(
            f"{len(stored)} of these simulated attempts are stored already "
            "(the same seed in the same store draws the same ids)"
        )
    versions = {org: notice_for(db, org).version for org in {session.attempt.organization_id for session in sessions}}
    sessions = [_with_consent(session, versions) for session in sessions if session.attempt.id not in stored]
    if not sessions:
        return []
    attempt_docs = [session.attempt.to_doc() for session in sessions]
    try:
        db[ATTEMPTS].insert_many(attempt_docs, ordered=False)
    except BulkWriteError as exc:
        if not skip_stored:
            raise
        sessions = _inserted_despite(db, sessions, exc)
        if not sessions:
            return []
        attempt_docs = [session.attempt.to_doc() for session in sessions]
    if counted:
        attempt_counts.record_new(db, attempt_docs)  # the pages count from these, not from the attempts
    events = [session.behavior_events for session in sessions]
    if with_events:
        db[EVENTS].insert_many([event.to_doc() for batch in events for event in batch], ordered=False)
    if with_profiles:
        now = utcnow()
        computed = [
            build_profile(session.attempt, batch, now=max(now, session.attempt.completed_at or now))
            for session, batch in zip(sessions, events, strict=True)
        ]
        _insert_computed(db, computed, [session.attempt.superseded for session in sessions], counted=counted)
    return list(sessions)


def _stored_ids(db: Database, ids: Sequence[ObjectId]) -> set[ObjectId]:
    return {doc["_id"] for doc in db[ATTEMPTS].find({"_id": {"$in": list(ids)}}, {"_id": 1})}


def _inserted_despite(db: Database, sessions: list[SimulatedSession], exc: BulkWriteError) -> list[SimulatedSession]:
    """The sessions an ``insert_many`` that failed in part did insert, when
    every failure is an attempt another process stored meanwhile (a
    duplicate key on an id now stored); any other failure is raised."""
    failed = {error["index"] for error in exc.details.get("writeErrors", []) if error.get("code") == DUPLICATE_KEY}
    if exc.details.get("writeConcernErrors") or len(failed) != len(exc.details.get("writeErrors", [])):
        raise exc
    now_stored = _stored_ids(db, [sessions[index].attempt.id for index in failed])
    if len(now_stored) != len(failed):
        raise exc  # a duplicate of something else than the id (a token hash)
    return [session for index, session in enumerate(sessions) if index not in failed]


def _insert_computed(db: Database, computed: Sequence[Computed], superseded: Sequence[bool], *, counted: bool) -> None:
    """The attempts were just inserted under new ids, so their documents
    are new too: plain inserts (an upsert each is several times slower),
    linked as ``profiles.store_computed`` links them, each profile with its
    attempt's ``superseded`` flag as stored (``people.settle`` moves both)."""
    metrics_docs, profile_docs = [], []
    for (metrics, profile), flag in zip(computed, superseded, strict=True):
        metrics_id = ObjectId()
        metrics_docs.append(metrics.model_copy(update={"id": metrics_id}).to_doc())
        linked = profile.model_copy(update={"id": ObjectId(), "metrics_id": metrics_id})
        profile_docs.append(profile_doc(linked, superseded=flag))
    db[METRICS].insert_many(metrics_docs, ordered=False)
    db[PROFILES].insert_many(profile_docs, ordered=False)
    for first in range(0, len(computed), NORMS_CHUNK):  # as profiles.store_computed does
        norms.record(db, computed[first : first + NORMS_CHUNK], count=counted)
