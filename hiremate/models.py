"""Pydantic models of every collection and every event payload.

Documents are stored as ``model.to_doc()`` (ObjectIds stay ObjectIds, enums
become plain strings) and read back with ``Model.from_doc(doc)``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bson import ObjectId
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from hiremate import emails
from hiremate.timeutil import to_ms

# The validation context of documents read back from the store
# (``Document.from_doc``): rules that only new input must meet are skipped
# there, so data stored before a rule existed can still be read (and fixed).
STORED = {"stored": True}


def _to_object_id(value: Any) -> ObjectId:
    if isinstance(value, ObjectId):
        return value
    if isinstance(value, str) and ObjectId.is_valid(value):
        return ObjectId(value)
    raise ValueError(f"not an ObjectId: {value!r}")


PyObjectId = Annotated[
    ObjectId,
    PlainValidator(_to_object_id),
    PlainSerializer(lambda v: str(v), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string"}),
]
"""An ObjectId in Python and in MongoDB, a 24-hex string in JSON."""

UTCDateTime = Annotated[datetime, AfterValidator(to_ms)]
"""A timezone-aware UTC datetime truncated to milliseconds."""


# ---------------------------------------------------------------- enums


class Role(StrEnum):
    RECRUITER = "recruiter"
    ADMIN = "admin"


class Category(StrEnum):
    PROBLEM_SOLVING = "problem_solving"
    COMMUNICATION = "communication"
    DECISION_CONFIDENCE = "decision_confidence"
    ANALYTICAL_THINKING = "analytical_thinking"
    SPEED_ACCURACY = "speed_accuracy"


class Difficulty(StrEnum):
    EASY = "easy"
    MEDIUM = "medium"
    HARD = "hard"


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class AttemptStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    EXPIRED = "expired"
    LOCKED = "locked"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({AttemptStatus.COMPLETED, AttemptStatus.EXPIRED, AttemptStatus.LOCKED})


class EventType(StrEnum):
    TASK_STARTED = "task_started"
    OPTION_VIEWED = "option_viewed"
    OPTION_SELECTED = "option_selected"
    OPTION_CHANGED = "option_changed"
    REASONING_STARTED = "reasoning_started"
    REASONING_UPDATED = "reasoning_updated"
    REASONING_SUBMITTED = "reasoning_submitted"
    TASK_COMPLETED = "task_completed"
    IDLE_DETECTED = "idle_detected"
    FOCUS_LOST = "focus_lost"
    FOCUS_GAINED = "focus_gained"
    # Protocol 1.2: the page could not proceed while it waited on the network
    # (rule 1.1 does not count that time as idle, away or hesitation).
    NETWORK_WAIT = "network_wait"


class RiskDominance(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    BALANCED = "balanced"


class ThinkingStyle(StrEnum):
    ANALYTICAL = "analytical"
    INTUITIVE = "intuitive"
    EXPLORATORY = "exploratory"
    METHODICAL = "methodical"


class DecisionSpeed(StrEnum):
    FAST = "fast"
    MODERATE = "moderate"
    DELIBERATE = "deliberate"


class DecisionConsistency(StrEnum):
    STEADY = "steady"
    VARIABLE = "variable"
    IMPROVING = "improving"


class RiskOrientationLabel(StrEnum):
    RISK_AVERSE = "risk_averse"
    BALANCED = "balanced"
    RISK_TOLERANT = "risk_tolerant"


class ReasoningDepth(StrEnum):
    BRIEF = "brief"
    MODERATE = "moderate"
    DETAILED = "detailed"


class LogicalStructure(StrEnum):
    INFORMAL = "informal"
    SEMI_STRUCTURED = "semi_structured"
    STRUCTURED = "structured"


# ---------------------------------------------------------------- base


class Document(BaseModel):
    """A stored document: ``id`` is MongoDB's ``_id``."""

    model_config = ConfigDict(populate_by_name=True, use_enum_values=True, extra="ignore")

    id: PyObjectId | None = Field(default=None, alias="_id")

    def to_doc(self) -> dict[str, Any]:
        """The document to store: ``_id`` only when set, ObjectIds kept."""
        doc = self.model_dump(by_alias=True)
        if doc.get("_id") is None:
            doc.pop("_id", None)
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Self:
        return cls.model_validate(doc, context=STORED)


class Part(BaseModel):
    """An embedded sub-document."""

    model_config = ConfigDict(populate_by_name=True, use_enum_values=True, extra="ignore")


# ---------------------------------------------------------------- accounts


class OrganizationSettings(Part):
    """What an admin sets for the organisation; every field has a default, so
    an organisation stored before these settings existed reads as the defaults."""

    display_name: str | None = Field(default=None, max_length=200)  # None: the organisation's name
    contact: str | None = Field(default=None, max_length=320)  # None: the first admin's email
    retention_days: int = Field(default=730, ge=30, le=3650)
    notice_additions: str = Field(default="", max_length=4000)
    time_zone: str = Field(default="UTC", max_length=64)
    # Offer candidates the voluntary self-identification form (hiremate.self_id).
    self_identification: bool = False
    # Email a candidate who has not started this many hours before the link
    # expires (hiremate.mail); None: no reminders.
    reminder_hours_before_expiry: int | None = Field(default=24, ge=1, le=168)

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{value!r} is not a time zone name such as Europe/Paris") from exc
        return value


class Organization(Document):
    name: str = Field(min_length=1, max_length=200)
    slug: str = Field(min_length=1, max_length=80)
    created_at: UTCDateTime
    settings: OrganizationSettings = Field(default_factory=OrganizationSettings)


class User(Document):
    email: str
    password_hash: str
    full_name: str = Field(min_length=1, max_length=200)
    role: Role = Role.RECRUITER
    organization_id: PyObjectId | None = None
    created_at: UTCDateTime
    updated_at: UTCDateTime
    is_active: bool = True
    # Set by an admin's reset (the admin knows the password): the login gate
    # asks for a new one before anything else.
    must_change_password: bool = False


class Invitation(Document):
    organization_id: PyObjectId
    email: str
    role: Role = Role.RECRUITER
    token_hash: str
    invited_by: PyObjectId
    created_at: UTCDateTime
    expires_at: UTCDateTime
    accepted_at: UTCDateTime | None = None


class LoginSession(Document):
    """A recruiter's signed-in browser (collection ``sessions``)."""

    session_hash: str
    user_id: PyObjectId
    organization_id: PyObjectId | None = None
    created_at: UTCDateTime
    expires_at: UTCDateTime  # the absolute timeout (HIREMATE_SESSION_DAYS)
    ended_at: UTCDateTime | None = None
    # The last interaction, written at most once a TOUCH_INTERVAL (the idle
    # timeout, HIREMATE_SESSION_IDLE_HOURS, counts from it).
    last_seen_at: UTCDateTime | None = None
    # Until the browser that logged in takes it over (hiremate.auth.complete_handover):
    # a hash of that browser's login nonce, and where it goes next.
    handover_hash: str | None = None
    handover_next: str | None = None
    rotated_at: UTCDateTime | None = None


class AuditEntry(Document):
    """Append-only record of who did what; never holds candidate personal data
    for erasures."""

    organization_id: PyObjectId | None = None
    actor_id: PyObjectId | None = None
    action: str
    target_type: str | None = None
    target_id: str | None = None
    at: UTCDateTime
    details: dict[str, Any] = Field(default_factory=dict)


# ---------------------------------------------------------------- tasks


class TaskOption(Part):
    # extra="forbid": a task option has no correctness field, and none can be smuggled in.
    model_config = ConfigDict(populate_by_name=True, use_enum_values=True, extra="forbid")

    id: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_\-]+$")
    text: str = Field(min_length=1, max_length=1000)
    risk_level: RiskLevel
    # Optional (issue 18): describe the behaviour an option expresses when it helps; the rules never read them.
    behavioral_tags: list[str] = Field(default_factory=list, max_length=10)

    @field_validator("behavioral_tags")
    @classmethod
    def _clean_tags(cls, tags: list[str]) -> list[str]:
        return list(dict.fromkeys(tag.strip().lower() for tag in tags if tag and tag.strip()))


class Task(Document):
    organization_id: PyObjectId | None = None
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    scenario: str = Field(min_length=1, max_length=5000)
    category: Category
    difficulty: Difficulty
    time_limit_seconds: int | None = Field(default=None, ge=10, le=3600)
    options: list[TaskOption] = Field(min_length=2, max_length=6)
    reasoning_required: bool = True
    reasoning_min_length: int = Field(default=20, ge=0, le=5000)
    language: str = "en"
    # Set on tasks installed from hiremate.task_library (unique per organisation),
    # so installing the library again adds nothing; None on recruiters' own tasks.
    library_key: str | None = None
    created_by: PyObjectId | None = None
    created_at: UTCDateTime
    updated_at: UTCDateTime
    is_active: bool = True

    @model_validator(mode="after")
    def _unique_option_ids(self) -> Self:
        ids = [option.id for option in self.options]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"option ids must be unique within a task: {', '.join(duplicates)}")
        return self

    def option(self, option_id: str) -> TaskOption | None:
        return next((o for o in self.options if o.id == option_id), None)


# ---------------------------------------------------------------- attempts


class CandidateInfo(Part):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320)
    phone: str | None = Field(default=None, max_length=50)
    position: str = Field(default="", max_length=200)
    resume_url: str | None = Field(default=None, max_length=2000)

    @field_validator("email", mode="before")
    @classmethod
    def _one_form_of_email(cls, value: Any, info: ValidationInfo) -> Any:
        """Stored trimmed and lower-case, so lookups by email find every
        attempt of a candidate; a new one must look like an address (a stored
        one from before this rule is read as it is, lower-cased)."""
        if not isinstance(value, str):
            return value
        email = emails.normalise(value)
        if not (info.context or {}).get("stored") and not emails.is_valid(email):
            raise ValueError("is not an email address")
        return email


ACCOMMODATION_NEEDS = ("extra_time", "assistive_technology", "alternative", "other")


class Accommodations(Part):
    """Granted per attempt (absent: none). Confidential (ADA): shown only to
    admins and the recruiter who issued the attempt, on the attempt."""

    time_multiplier: float | None = Field(default=None, ge=1.25, le=3.0)
    untimed: bool = False
    assistive_technology: bool = False  # idle and away are neither observed nor interpreted
    note: str = Field(default="", max_length=2000)

    @property
    def is_empty(self) -> bool:
        return self.time_multiplier is None and not self.untimed and not self.assistive_technology and not self.note


class AccommodationRequest(Part):
    """What the candidate asked for from the welcome screen, before starting."""

    needs: list[str] = Field(default_factory=list, max_length=len(ACCOMMODATION_NEEDS))
    note: str = Field(default="", max_length=2000)
    requested_at: UTCDateTime
    answered_at: UTCDateTime | None = None  # a recruiter set the accommodations or marked it answered

    @field_validator("needs")
    @classmethod
    def _known_needs(cls, value: list[str]) -> list[str]:
        unknown = [n for n in value if n not in ACCOMMODATION_NEEDS]
        if unknown:
            raise ValueError(f"unknown needs {unknown}; choose from {list(ACCOMMODATION_NEEDS)}")
        return list(dict.fromkeys(value))


class Consent(Part):
    """The candidate's acknowledgement of the notice, stored when they started."""

    notice_version: str = Field(min_length=1, max_length=80)
    at: UTCDateTime


class TaskAttempt(Document):
    organization_id: PyObjectId | None = None
    token_hash: str
    candidate_info: CandidateInfo
    task_ids: list[PyObjectId] = Field(min_length=1)
    task_snapshots: list[Task] = Field(default_factory=list)
    created_by: PyObjectId | None = None
    status: AttemptStatus = AttemptStatus.PENDING
    started_at: UTCDateTime | None = None
    completed_at: UTCDateTime | None = None
    # Until a start: when the link stops working. A start moves it on by the
    # grace period (HIREMATE_IN_PROGRESS_GRACE_HOURS), so an attempt started
    # in time may be finished; the link's own expiry is then kept in start_by.
    expires_at: UTCDateTime
    start_by: UTCDateTime | None = None
    current_task_index: int = 0
    locked_at: UTCDateTime | None = None
    locked_reason: str | None = None
    # When the candidate's socket last closed while in progress (None while connected).
    disconnected_at: UTCDateTime | None = None
    # A newer attempt of the same email stands for the person in lists (hiremate.people).
    superseded: bool = False
    # The link's token may start the attempt once: from pending, or after a
    # re-issue of an in-progress attempt (a candidate who changed device).
    token_used: bool = False
    session_key_hash: str | None = None
    session_epoch: int = 0
    resumed_from: int | None = None
    created_at: UTCDateTime
    updated_at: UTCDateTime
    accommodations: Accommodations | None = None
    accommodation_request: AccommodationRequest | None = None
    # True while the candidate's accommodation request waits for an answer
    # (hiremate.attempts keeps it beside accommodation_request): always a value,
    # so the dashboard's open requests are an indexed equality, not a $ne.
    accommodation_open: bool = False
    consent: Consent | None = None
    # Token hashes of links this attempt's re-issues replaced: such a link
    # says "replaced by a newer link" instead of "not valid".
    replaced_token_hashes: list[str] = Field(default_factory=list)
    # The assessment kit it was issued with (hiremate.kits); left out of the
    # stored document when None, so attempts issued without one stay as they were.
    kit_id: PyObjectId | None = None

    def to_doc(self) -> dict[str, Any]:
        doc = super().to_doc()
        if doc.get("kit_id") is None:
            doc.pop("kit_id", None)
        return doc


# ---------------------------------------------------------------- assessment kits


class SamplingRule(Part):
    """Draw ``count`` active tasks at random for each candidate, from the
    given categories and difficulties (empty: any)."""

    count: int = Field(ge=1, le=50)
    categories: list[Category] = Field(default_factory=list, max_length=len(Category))
    difficulties: list[Difficulty] = Field(default_factory=list, max_length=len(Difficulty))

    @field_validator("categories", "difficulties")
    @classmethod
    def _no_repeats(cls, values: list[str]) -> list[str]:
        return list(dict.fromkeys(values))


def _clean_line(value: str) -> str:
    return " ".join(value.split())


class KitBase(Part):
    """What a recruiter writes of a kit: exactly one of ``task_ids`` (these
    tasks, in this order) or ``sampling`` (a rule drawing them per candidate)."""

    name: str = Field(min_length=1, max_length=120)
    position: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=1000)
    task_ids: list[PyObjectId] | None = Field(default=None, max_length=50)
    sampling: SamplingRule | None = None

    @field_validator("name", "position", mode="before")
    @classmethod
    def _one_line(cls, value: Any) -> Any:
        return _clean_line(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_way_of_choosing(self) -> Self:
        if (self.task_ids is None) == (self.sampling is None):
            raise ValueError("a kit has either a list of tasks or a sampling rule, not both or neither")
        if self.task_ids is not None:
            if not self.task_ids:
                raise ValueError("a kit needs at least one task")
            if len(set(self.task_ids)) != len(self.task_ids):
                raise ValueError("a task may appear only once in a kit")
        return self

    @property
    def kind(self) -> Literal["tasks", "sampled"]:
        return "tasks" if self.task_ids is not None else "sampled"

    @property
    def task_count(self) -> int:
        """How many tasks a candidate issued with this kit gets."""
        return len(self.task_ids) if self.task_ids is not None else self.sampling.count  # type: ignore[union-attr]


class KitCreate(KitBase):
    """A new kit, as the form or an API sends it."""


class KitUpdate(Part):
    """A change of a kit: only the fields given change. Giving ``task_ids``
    replaces a sampling rule and the other way round."""

    name: str | None = Field(default=None, min_length=1, max_length=120)
    position: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=1000)
    task_ids: list[PyObjectId] | None = Field(default=None, max_length=50)
    sampling: SamplingRule | None = None


class AssessmentKit(Document, KitBase):
    """A stored kit (collection ``assessment_kits``). ``name_key`` (the name
    case-folded) is unique among an organisation's kits that are not archived."""

    organization_id: PyObjectId
    name_key: str
    created_by: PyObjectId | None = None
    created_at: UTCDateTime
    updated_at: UTCDateTime
    archived: bool = False
    archived_at: UTCDateTime | None = None


class KitPublic(BaseModel):
    """A kit as an API or an ATS integration offers it (Greenhouse's
    ``list_tests``): a stable id, its name and position, how many tasks a
    candidate gets; nothing of other organisations, no task contents."""

    id: str
    name: str
    position: str
    description: str
    kind: Literal["tasks", "sampled"]
    task_count: int
    task_ids: list[str] | None
    sampling: SamplingRule | None
    archived: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, kit: AssessmentKit) -> KitPublic:
        return cls(
            id=str(kit.id),
            name=kit.name,
            position=kit.position,
            description=kit.description,
            kind=kit.kind,
            task_count=kit.task_count,
            task_ids=None if kit.task_ids is None else [str(t) for t in kit.task_ids],
            sampling=kit.sampling,
            archived=kit.archived,
            created_at=kit.created_at,
            updated_at=kit.updated_at,
        )


# ---------------------------------------------------------------- events


class Payload(BaseModel):
    """Event payloads: strict types (no "5" for 5, no true for 1); unknown
    keys are dropped, so only these fields are ever stored."""

    model_config = ConfigDict(strict=True, extra="ignore")


NonNegInt = Annotated[int, Field(ge=0)]


class TaskStartedPayload(Payload):
    task_index: NonNegInt


class OptionViewedPayload(Payload):
    option_id: str
    view_duration_ms: NonNegInt | None = None


InputKind = Literal["pointer", "keyboard", "touch"]


class OptionSelectedPayload(Payload):
    option_id: str
    is_first_selection: bool
    input: InputKind | None = None  # protocol 1.2, optional


class OptionChangedPayload(Payload):
    from_option_id: str
    to_option_id: str
    time_since_last_change_ms: NonNegInt
    input: InputKind | None = None  # protocol 1.2, optional


class ReasoningStartedPayload(Payload):
    time_since_task_start_ms: NonNegInt


class ReasoningUpdatedPayload(Payload):
    character_count: NonNegInt
    word_count: NonNegInt


class ReasoningSubmittedPayload(Payload):
    final_text: str = Field(max_length=20000)
    word_count: NonNegInt
    character_count: NonNegInt


class TaskCompletedPayload(Payload):
    final_option_id: str
    task_duration_ms: int


class IdleDetectedPayload(Payload):
    idle_duration_ms: int = Field(gt=0)
    last_activity_type: str = Field(default="", max_length=100)


class FocusPayload(Payload):
    trigger: str = Field(default="", max_length=100)


class NetworkWaitPayload(Payload):
    wait_duration_ms: int = Field(gt=0, le=86_400_000)
    reason: str = Field(default="", max_length=100)


PAYLOAD_MODELS: dict[EventType, type[Payload]] = {
    EventType.TASK_STARTED: TaskStartedPayload,
    EventType.OPTION_VIEWED: OptionViewedPayload,
    EventType.OPTION_SELECTED: OptionSelectedPayload,
    EventType.OPTION_CHANGED: OptionChangedPayload,
    EventType.REASONING_STARTED: ReasoningStartedPayload,
    EventType.REASONING_UPDATED: ReasoningUpdatedPayload,
    EventType.REASONING_SUBMITTED: ReasoningSubmittedPayload,
    EventType.TASK_COMPLETED: TaskCompletedPayload,
    EventType.IDLE_DETECTED: IdleDetectedPayload,
    EventType.FOCUS_LOST: FocusPayload,
    EventType.FOCUS_GAINED: FocusPayload,
    EventType.NETWORK_WAIT: NetworkWaitPayload,
}


class EventMetadata(Part):
    user_agent: str | None = None
    ip_hash: str | None = None


class BehaviorEvent(Document):
    """One stored event. Insert-only: no code path updates it."""

    attempt_id: PyObjectId
    task_id: PyObjectId
    event_type: EventType
    timestamp: UTCDateTime
    event_time: UTCDateTime
    sequence_number: int = Field(ge=1)
    payload: dict[str, Any] = Field(default_factory=dict)
    client_timestamp: UTCDateTime | None = None
    metadata: EventMetadata = Field(default_factory=EventMetadata)

    @classmethod
    def checked(
        cls,
        *,
        attempt_id: ObjectId,
        task_id: ObjectId,
        event_type: str,
        timestamp: datetime,
        event_time: datetime,
        sequence_number: int,
        payload: dict[str, Any],
        client_timestamp: datetime | None,
        metadata: EventMetadata,
        id: ObjectId | None = None,
    ) -> BehaviorEvent:
        """An event from values already checked and in their stored form
        (``hiremate.events.validate``: ObjectIds, the type's value, UTC times
        in milliseconds): what ``model_construct`` builds from them, without
        its generic loop over the fields (a tenth of the ingest server's CPU
        per event). A test holds it equal to the same event validated whole."""
        event = cls.__new__(cls)
        object.__setattr__(
            event,
            "__dict__",
            {
                "id": id,
                "attempt_id": attempt_id,
                "task_id": task_id,
                "event_type": event_type,
                "timestamp": timestamp,
                "event_time": event_time,
                "sequence_number": sequence_number,
                "payload": payload,
                "client_timestamp": client_timestamp,
                "metadata": metadata,
            },
        )
        fields_set = set(_CHECKED_FIELDS)
        if id is not None:
            fields_set.add("id")
        object.__setattr__(event, "__pydantic_fields_set__", fields_set)
        object.__setattr__(event, "__pydantic_extra__", None)
        object.__setattr__(event, "__pydantic_private__", None)
        return event

    def to_doc(self) -> dict[str, Any]:
        """What ``Document.to_doc`` gives (a test holds them equal), built by
        hand: the ingest server builds one per event, and ``model_dump`` was
        a sixth of its CPU per event. Payload values are flat (the payload
        models hold strings, numbers, booleans and null), so a shallow copy
        is a copy."""
        doc: dict[str, Any] = {} if self.id is None else {"_id": self.id}
        doc["attempt_id"] = self.attempt_id
        doc["task_id"] = self.task_id
        doc["event_type"] = self.event_type
        doc["timestamp"] = self.timestamp
        doc["event_time"] = self.event_time
        doc["sequence_number"] = self.sequence_number
        doc["payload"] = dict(self.payload)
        doc["client_timestamp"] = self.client_timestamp
        metadata = self.metadata
        doc["metadata"] = {name: getattr(metadata, name) for name in _METADATA_FIELDS}
        return doc


_METADATA_FIELDS = tuple(EventMetadata.model_fields)
_CHECKED_FIELDS = tuple(name for name in BehaviorEvent.model_fields if name != "id")


# ---------------------------------------------------------------- metrics


class GlobalMetrics(Part):
    total_time_seconds: float
    active_interaction_time_seconds: float
    hesitation_time_seconds: float
    total_tasks: int
    tasks_completed: int
    avg_time_per_task_seconds: float


class PerTaskMetrics(Part):
    task_id: PyObjectId
    time_spent_seconds: float
    hesitation_seconds: float
    first_decision_speed_seconds: float
    decision_change_count: int
    final_option_id: str
    final_option_risk_level: RiskLevel
    reasoning_depth_score: float
    reasoning_word_count: int
    reasoning_logical_keywords_count: int
    idle_time_seconds: float
    focus_loss_count: int


class RiskPreference(Part):
    low_count: int
    medium_count: int
    high_count: int
    dominant: RiskDominance


class AggregatedPatterns(Part):
    risk_preference: RiskPreference
    decision_consistency: float
    reasoning_engagement: float
    attention_stability: float


class ComputedMetrics(Document):
    attempt_id: PyObjectId
    computed_at: UTCDateTime
    version: str
    global_metrics: GlobalMetrics
    per_task_metrics: list[PerTaskMetrics]
    aggregated_patterns: AggregatedPatterns


# ---------------------------------------------------------------- skill profile


class ThinkingStyleResult(Part):
    primary: ThinkingStyle
    confidence: float
    evidence: list[str]


class DecisionPatternResult(Part):
    speed: DecisionSpeed
    consistency: DecisionConsistency
    confidence: float
    evidence: list[str]


class RiskOrientationResult(Part):
    preference: RiskOrientationLabel
    confidence: float
    evidence: list[str]


class CommunicationStyleResult(Part):
    reasoning_depth: ReasoningDepth
    logical_structure: LogicalStructure
    confidence: float
    evidence: list[str]


class EvidenceLevel(StrEnum):
    """Rule 1.2.0: how much the profile rests on (completed tasks)."""

    NONE = "none"  # 0: the four dimensions are null
    LIMITED = "limited"  # 1 or 2
    SUFFICIENT = "sufficient"  # 3 or more


# Written by rule 1.2.0 and later only: left out of the stored document when
# None, so a 1.0.0 or 1.1.0 profile serialises exactly as it always did.
_FROM_RULE_1_2 = ("evidence_level", "tasks_completed")


class SkillProfile(Document):
    attempt_id: PyObjectId
    metrics_id: PyObjectId | None = None
    generated_at: UTCDateTime
    version: str
    # None (stored as null) only in a 1.2.0 profile whose evidence_level is "none".
    thinking_style: ThinkingStyleResult | None
    decision_pattern: DecisionPatternResult | None
    risk_orientation: RiskOrientationResult | None
    communication_style: CommunicationStyleResult | None
    overall_summary: str
    strengths: list[str]
    considerations: list[str]
    # Rule 1.2.0 and later; absent (None) in older profiles.
    evidence_level: EvidenceLevel | None = None
    tasks_completed: int | None = None
    # Repeated from the attempt when stored, so lists and filters never join.
    organization_id: PyObjectId | None = None
    candidate_name: str | None = None
    candidate_email: str | None = None
    position: str | None = None
    completed_at: UTCDateTime | None = None
    attempt_status: AttemptStatus | None = None

    def to_doc(self) -> dict[str, Any]:
        doc = super().to_doc()
        for key in _FROM_RULE_1_2:
            if doc.get(key) is None:
                doc.pop(key, None)
        return doc
