"""A person reviews a completed profile (issue 16, human oversight).

On a completed attempt with a computed profile, a named recruiter marks the
profile reviewed: for each of its dimensions they agree or disagree (a reason
is required to disagree), and they may add notes. Separately, a recruiter who
has reviewed it records a decision, ``advance``, ``hold`` or ``reject``, with a
reason (required).

Reviews never change the computed profile: they sit beside it, in their own
collection ``profile_reviews``, one document per attempt (its ``_id`` is the
attempt's id), carrying the attempt's ``organization_id`` and every read and
write goes through ``Scope.where``. The document holds:

* ``reviews``: each reviewer's latest review, by reviewer id (who, when, the
  verdicts, the notes). Several recruiters may each review; one reviewing
  again replaces their own latest review and nobody else's.
* ``history``: every review ever submitted, oldest first (the last
  ``HISTORY_KEPT``), so a replaced review is not lost.
* ``decision``: the latest recorded decision, with who and when; ``decisions``
  the earlier ones too (the last ``HISTORY_KEPT``). Recording a decision is a
  compare-and-set on the decision the recruiter saw, so two recruiters
  deciding at once cannot silently overwrite each other.
* ``completed_at``, copied from the profile, so lists of reviewed profiles
  keep the candidates list's order (newest completion first).

Every action is written to the audit log (``profile.reviewed``,
``profile.decision_recorded``): which dimensions were agreed with, the
decision and the one it replaced. The reasons and notes recruiters type stay
in the review document, not in the log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from bson import ObjectId
from pydantic import Field
from pymongo.errors import DuplicateKeyError

from hiremate import attempt_counts, webhooks
from hiremate import db as dbmod
from hiremate.errors import ReviewError
from hiremate.ids import as_object_id
from hiremate.models import AttemptStatus, Document, Part, PyObjectId, UTCDateTime
from hiremate.scope import Scope
from hiremate.timeutil import utcnow
from hiremate.windowed import newest_first

# The profile's four dimensions, in the profile's order, and the words for them.
DIMENSIONS: dict[str, str] = {
    "thinking_style": "Thinking style",
    "decision_pattern": "Decision pattern",
    "risk_orientation": "Risk orientation",
    "communication_style": "Communication style",
}
AGREE = "agree"
DISAGREE = "disagree"
VERDICTS = (AGREE, DISAGREE)
MAX_REASON = 2000
MAX_NOTES = 5000
HISTORY_KEPT = 50  # reviews and decisions kept in a document's history (the audit log keeps every one)
MAX_AWAITING_SCAN = 1000  # completed profiles the dashboard looks through for ones awaiting review
_AWAITING_BATCH = 100


class Decision(StrEnum):
    ADVANCE = "advance"
    HOLD = "hold"
    REJECT = "reject"


class ReviewState(StrEnum):
    AWAITING = "awaiting_review"
    REVIEWED = "reviewed"


# ---------------------------------------------------------------- models


class DimensionVerdict(Part):
    verdict: Literal["agree", "disagree"]
    reason: str = Field(default="", max_length=MAX_REASON)


class Review(Part):
    """One reviewer's review, as submitted."""

    reviewer_id: PyObjectId
    reviewer_name: str
    dimensions: dict[str, DimensionVerdict]
    notes: str = Field(default="", max_length=MAX_NOTES)
    reviewed_at: UTCDateTime

    @property
    def disagreements(self) -> list[str]:
        return [name for name, item in self.dimensions.items() if item.verdict == DISAGREE]


class RecordedDecision(Part):
    value: Decision
    reason: str = Field(max_length=MAX_REASON)
    decided_by: PyObjectId
    decided_by_name: str
    decided_at: UTCDateTime


class ProfileReview(Document):
    """Everything recorded about one attempt's profile by people (``_id`` is the attempt's id)."""

    organization_id: PyObjectId
    completed_at: UTCDateTime | None = None
    reviews: dict[str, Review] = Field(default_factory=dict)
    history: list[Review] = Field(default_factory=list)
    decision: RecordedDecision | None = None
    decisions: list[RecordedDecision] = Field(default_factory=list)
    first_reviewed_at: UTCDateTime | None = None
    last_reviewed_at: UTCDateTime | None = None
    updated_at: UTCDateTime | None = None

    @property
    def attempt_id(self) -> ObjectId:
        assert self.id is not None
        return self.id

    def latest_reviews(self) -> list[Review]:
        """Each reviewer's latest review, newest first."""
        return sorted(self.reviews.values(), key=lambda review: review.reviewed_at, reverse=True)

    def review_by(self, user_id: ObjectId | None) -> Review | None:
        return None if user_id is None else self.reviews.get(str(user_id))


# ---------------------------------------------------------------- recording


def get_review(scope: Scope, attempt_id: ObjectId | str) -> ProfileReview | None:
    """What people recorded about this attempt's profile; None when nothing
    yet, or when the attempt is not one of this organisation's."""
    oid = as_object_id(attempt_id)
    if oid is None:
        return None
    doc = scope.collection(dbmod.REVIEWS).find_one(scope.where({"_id": oid}))
    return ProfileReview.from_doc(doc) if doc else None


def record_review(
    scope: Scope,
    attempt_id: ObjectId | str,
    verdicts: Mapping[str, tuple[str, str] | DimensionVerdict | None],
    notes: str = "",
) -> ProfileReview:
    """Mark the profile reviewed by the scope's user: ``verdicts`` maps each
    dimension the profile describes to ``(agree|disagree, reason)``; a reason
    is required to disagree. Replaces this reviewer's previous review (kept in
    the history). Audited."""
    reviewer_id, reviewer_name = _reviewer(scope)
    profile = _reviewable(scope, attempt_id)
    dimensions = _verdicts(profile, verdicts)
    notes = (notes or "").strip()
    if len(notes) > MAX_NOTES:
        raise ReviewError(f"keep the notes under {MAX_NOTES} characters")
    now = utcnow()
    review = Review(
        reviewer_id=reviewer_id,
        reviewer_name=reviewer_name,
        dimensions=dimensions,
        notes=notes,
        reviewed_at=now,
    )
    stored = review.model_dump()
    attempt = profile["attempt_id"]
    update = {
        "$set": {f"reviews.{reviewer_id}": stored, "last_reviewed_at": now, "updated_at": now},
        "$setOnInsert": {  # organization_id comes from the query
            "completed_at": profile.get("completed_at"),
            "first_reviewed_at": now,
            "decision": None,
            "decisions": [],
        },
        "$push": {"history": {"$each": [stored], "$slice": -HISTORY_KEPT}},
    }
    try:
        doc = dbmod.update_by_id(scope.collection(dbmod.REVIEWS), scope.where({"_id": attempt}), update, upsert=True)
    except DuplicateKeyError:
        # Two first reviews raced to insert the document: the other one won, so update it.
        doc = dbmod.update_by_id(
            scope.collection(dbmod.REVIEWS),
            scope.where({"_id": attempt}),
            {key: value for key, value in update.items() if key != "$setOnInsert"},
        )
    if doc is None:  # the id is taken outside this organisation: impossible for a scoped attempt
        raise ReviewError("this review could not be recorded; reload and try again")
    scope.audit(
        "profile.reviewed",
        "attempt",
        attempt,
        agreed=sorted(name for name, item in dimensions.items() if item.verdict == AGREE),
        disagreed=sorted(review.disagreements),
        notes=bool(notes),
    )
    return ProfileReview.from_doc(doc)


def record_decision(
    scope: Scope,
    attempt_id: ObjectId | str,
    decision: Decision | str,
    reason: str,
    *,
    seen_at: datetime | None,
) -> ProfileReview:
    """Record the hiring decision on this profile, by the scope's user, who
    must have reviewed it themselves. ``seen_at`` is the time of the decision
    they saw (None: they saw none): when another was recorded meanwhile, this
    is refused so they can look at it first. Audited."""
    decider_id, decider_name = _reviewer(scope)
    try:
        value = Decision(str(decision))
    except ValueError:
        raise ReviewError("choose a decision: advance, hold or reject") from None
    reason = (reason or "").strip()
    if not reason:
        raise ReviewError("give a reason for the decision")
    if len(reason) > MAX_REASON:
        raise ReviewError(f"keep the reason under {MAX_REASON} characters")
    profile = _reviewable(scope, attempt_id)
    current = get_review(scope, profile["attempt_id"])
    if current is None or current.review_by(decider_id) is None:
        raise ReviewError("mark the profile reviewed before recording a decision")
    recorded = RecordedDecision(
        value=value, reason=reason, decided_by=decider_id, decided_by_name=decider_name, decided_at=utcnow()
    )
    stored = recorded.model_dump()
    seen = {"decision": None} if seen_at is None else {"decision.decided_at": seen_at}
    doc = dbmod.update_by_id(
        scope.collection(dbmod.REVIEWS),
        scope.where({"_id": current.attempt_id, **seen}),
        {
            "$set": {"decision": stored, "updated_at": recorded.decided_at},
            "$push": {"decisions": {"$each": [stored], "$slice": -HISTORY_KEPT}},
        },
    )
    if doc is None:
        raise ReviewError("another decision was recorded meanwhile; reload the profile and look at it first")
    previous = current.decision.value if current.decision else None
    scope.audit("profile.decision_recorded", "attempt", current.attempt_id, decision=value.value, previous=previous)
    webhooks.review_decided(scope.db, scope.organization_id, current.attempt_id)  # never raises
    return ProfileReview.from_doc(doc)


# ---------------------------------------------------------------- reading for lists


@dataclass(frozen=True)
class ReviewSummary:
    """Where an attempt's review stands, as lists and exports show it."""

    state: ReviewState
    decision: Decision | None = None
    decided_by: str = ""
    decided_at: datetime | None = None


_SUMMARY_PROJECTION = {"_id": 1, "decision": 1, "organization_id": 1}


def summaries(scope: Scope, attempt_ids: list[ObjectId]) -> dict[ObjectId, ReviewSummary]:
    """The review summary of each of these attempts that has been reviewed
    (one query, by ``_id``); an attempt missing from the answer is not."""
    if not attempt_ids:
        return {}
    # By _id alone (the org checked here), bounded by the ids: the store would
    # otherwise read the organisation's reviews through its other index.
    ids = list(dict.fromkeys(attempt_ids))
    cursor = scope.collection(dbmod.REVIEWS).find({"_id": {"$in": ids}}, _SUMMARY_PROJECTION).limit(len(ids))
    return {doc["_id"]: _summary(doc) for doc in cursor if doc.get("organization_id") == scope.organization_id}


def _summary(doc: dict[str, Any]) -> ReviewSummary:
    decision = doc.get("decision") or None
    if not decision:
        return ReviewSummary(ReviewState.REVIEWED)
    return ReviewSummary(
        ReviewState.REVIEWED,
        Decision(decision["value"]),
        decision.get("decided_by_name") or "",
        decision.get("decided_at"),
    )


def reviewed_ids(scope: Scope) -> dict[ObjectId, Decision | None]:
    """Every reviewed attempt of the organisation and its decision (None:
    none yet). Reviews are written by people, one per profile a recruiter
    actually read, so this stays a human-sized set; the candidates list's
    review filters are built on it."""
    cursor = scope.collection(dbmod.REVIEWS).find(scope.where(), {"_id": 1, "decision.value": 1})
    return {doc["_id"]: _decision_of(doc) for doc in cursor}


def _decision_of(doc: dict[str, Any]) -> Decision | None:
    value = (doc.get("decision") or {}).get("value")
    return Decision(value) if value else None


@dataclass(frozen=True)
class AwaitingReview:
    """A completed profile nobody has reviewed yet, as the dashboard lists it."""

    attempt_id: ObjectId
    candidate_name: str
    position: str
    completed_at: datetime | None


def awaiting_review(scope: Scope, *, limit: int = 10) -> tuple[list[AwaitingReview], bool]:
    """Completed attempts with a computed profile and no review yet, newest
    completion first, at most ``limit``; and whether there are more. Reads
    the newest completed profiles in batches and leaves out the reviewed
    ones (looking through at most ``MAX_AWAITING_SCAN`` profiles)."""
    limit = max(1, limit)
    query = scope.where({"attempt_status": AttemptStatus.COMPLETED.value})
    projection = {"attempt_id": 1, "candidate_name": 1, "position": 1, "completed_at": 1}
    found: list[AwaitingReview] = []
    # Batches through recent windows (hiremate.windowed): a plain sorted find makes the embedded
    # store decode every completed profile of the organisation (3 s at 10,000, 25 s at 100,000).
    # The hour counters tell how far back each batch's completions go (a hint; see newest_first).
    recent = attempt_counts.recent_completions(scope.db, scope.organization_id, now=utcnow())
    for offset in range(0, MAX_AWAITING_SCAN, _AWAITING_BATCH):
        docs = newest_first(
            scope.collection(dbmod.PROFILES),
            query,
            "completed_at",
            projection=projection,
            skip=offset,
            limit=_AWAITING_BATCH,
            first_span=recent.span(offset + _AWAITING_BATCH),
        )
        reviewed = summaries(scope, [doc["attempt_id"] for doc in docs])
        found += [
            AwaitingReview(
                attempt_id=doc["attempt_id"],
                candidate_name=doc.get("candidate_name") or "",
                position=doc.get("position") or "",
                completed_at=doc.get("completed_at"),
            )
            for doc in docs
            if doc["attempt_id"] not in reviewed
        ]
        if len(found) > limit or len(docs) < _AWAITING_BATCH:
            break
    return found[:limit], len(found) > limit


# ---------------------------------------------------------------- helpers


def _reviewer(scope: Scope) -> tuple[ObjectId, str]:
    """The named recruiter acting; a review is always someone's."""
    if scope.user_id is None:
        raise ReviewError("a review is recorded by a named recruiter: log in to review")
    user = scope.collection(dbmod.USERS).find_one(scope.where({"_id": scope.user_id}), {"full_name": 1})
    if user is None:
        raise ReviewError("your account is not a member of this organisation")
    return scope.user_id, str(user.get("full_name") or "")


def _reviewable(scope: Scope, attempt_id: ObjectId | str) -> dict[str, Any]:
    """The profile of a completed attempt of this organisation, or ReviewError saying why not."""
    oid = as_object_id(attempt_id)
    attempt = None
    if oid is not None:
        attempt = scope.collection(dbmod.ATTEMPTS).find_one(scope.where({"_id": oid}), {"status": 1})
    if attempt is None:
        raise ReviewError(f"no assessment {attempt_id} in your organisation")
    if attempt["status"] != AttemptStatus.COMPLETED.value:
        status = str(attempt["status"]).replace("_", " ")
        raise ReviewError(f"only completed assessments can be reviewed; this one is {status}")
    profile = scope.collection(dbmod.PROFILES).find_one(
        {"attempt_id": oid}, {"attempt_id": 1, "organization_id": 1, "completed_at": 1, **dict.fromkeys(DIMENSIONS, 1)}
    )
    if profile is None or profile.get("organization_id") != scope.organization_id:
        raise ReviewError("this assessment has no computed profile yet; compute it before reviewing")
    return profile


def _verdicts(
    profile: dict[str, Any], verdicts: Mapping[str, tuple[str, str] | DimensionVerdict | None]
) -> dict[str, DimensionVerdict]:
    """One verdict for every dimension the profile describes (a dimension the
    profile leaves empty, with too little evidence, takes none)."""
    unknown = sorted(set(verdicts) - set(DIMENSIONS))
    if unknown:
        raise ReviewError(f"not a dimension of the profile: {', '.join(unknown)}")
    result: dict[str, DimensionVerdict] = {}
    problems: list[str] = []
    for name, title in DIMENSIONS.items():
        given = verdicts.get(name)
        if profile.get(name) is None:
            continue
        if given is None:
            problems.append(f"{title}: agree or disagree")
            continue
        verdict, reason = (given.verdict, given.reason) if isinstance(given, DimensionVerdict) else given
        reason = (reason or "").strip()
        if verdict not in VERDICTS:
            problems.append(f"{title}: agree or disagree")
        elif verdict == DISAGREE and not reason:
            problems.append(f"{title}: give a reason to disagree")
        elif len(reason) > MAX_REASON:
            problems.append(f"{title}: keep the reason under {MAX_REASON} characters")
        else:
            result[name] = DimensionVerdict(verdict=verdict, reason=reason)
    if problems:
        raise ReviewError("; ".join(problems))
    return result
