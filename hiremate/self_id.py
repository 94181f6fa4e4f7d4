"""Voluntary self-identification, kept apart from everything else.

An admin may enable it per organisation (``OrganizationSettings.
self_identification``, off by default). A candidate who completed the
assessment is then offered an optional form on the thank-you screen: sex,
and race/ethnicity in the EEO-1 categories NYC Local Law 144's bias audits
use, each with "prefer not to say", and the explicit consent GDPR Art.
9(2)(a) asks for special-category data. The page sends it over a one-shot
socket authenticated with the attempt's session key (docs/protocol.md,
"Self-identification").

**Where it lives and who reads it.** One document per attempt in
``self_identifications`` (``_id`` = the attempt's id), never embedded in
the attempt, a profile or an event. It is read by two functions only:
``groups`` (the impact report, ``hiremate.impact``: counts per group, never
one person's answer) and ``for_attempts`` (that candidate's own access
export, ``hiremate.erasure.export_candidate``). No page, recruiter export,
notification or API shows it; erasure and the retention purge remove it
with the attempt (``hiremate.erasure.OWNED_BY_ATTEMPT``).

A candidate who answers again replaces the earlier answer; withdrawing the
consent is answering "prefer not to say" to both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from bson import ObjectId
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pymongo.database import Database

from hiremate import db as dbmod
from hiremate.attempts import hash_secret
from hiremate.errors import SelfIdRefused
from hiremate.models import AttemptStatus
from hiremate.scope import Scope
from hiremate.timeutil import utcnow

__all__ = [
    "PREFER_NOT_TO_SAY",
    "RACE_ETHNICITY",
    "SEX",
    "UNKNOWN",
    "Answers",
    "SelfIdRefused",
    "enabled",
    "for_attempts",
    "groups",
    "record",
    "store",
]

PREFER_NOT_TO_SAY = "prefer_not_to_say"
UNKNOWN = "unknown"  # the report's group for "prefer not to say" and for no answer

# The categories and their words, in the order the form shows them.
SEX: dict[str, str] = {
    "female": "Female",
    "male": "Male",
    "another": "Another sex or gender (for example non-binary)",
    PREFER_NOT_TO_SAY: "Prefer not to say",
}
# EEO-1's race/ethnicity categories (the ones LL144's rules name); "Hispanic
# or Latino" is asked as one category, like EEO-1's component 1 report.
RACE_ETHNICITY: dict[str, str] = {
    "hispanic_latino": "Hispanic or Latino",
    "white": "White (not Hispanic or Latino)",
    "black": "Black or African American (not Hispanic or Latino)",
    "native_hawaiian_pacific_islander": "Native Hawaiian or Other Pacific Islander (not Hispanic or Latino)",
    "asian": "Asian (not Hispanic or Latino)",
    "american_indian_alaska_native": "American Indian or Alaska Native (not Hispanic or Latino)",
    "two_or_more": "Two or more races (not Hispanic or Latino)",
    PREFER_NOT_TO_SAY: "Prefer not to say",
}


class Answers(BaseModel):
    """What the form sends. ``consent`` must be true whenever a category
    other than "prefer not to say" is given (GDPR Art. 9(2)(a))."""

    model_config = ConfigDict(extra="forbid")

    sex: str = Field(default=PREFER_NOT_TO_SAY)
    race_ethnicity: str = Field(default=PREFER_NOT_TO_SAY)
    consent: bool = False

    @model_validator(mode="after")
    def _known_and_consented(self) -> Answers:
        if self.sex not in SEX:
            raise ValueError(f"sex is one of {', '.join(SEX)}")
        if self.race_ethnicity not in RACE_ETHNICITY:
            raise ValueError(f"race_ethnicity is one of {', '.join(RACE_ETHNICITY)}")
        if not self.consent and not self.withheld:
            raise ValueError("consent is required to record a sex or a race/ethnicity")
        return self

    @property
    def withheld(self) -> bool:
        return self.sex == PREFER_NOT_TO_SAY and self.race_ethnicity == PREFER_NOT_TO_SAY


def enabled(db: Database, organization_id: ObjectId) -> bool:
    """Whether the organisation offers the form (an admin's setting, off by default)."""
    doc = db[dbmod.ORGANIZATIONS].find_one({"_id": organization_id}, {"settings.self_identification": 1})
    return bool(((doc or {}).get("settings") or {}).get("self_identification"))


def record(db: Database, attempt_id: ObjectId, session_key: Any, answers: Mapping[str, Any]) -> datetime:
    """Store (or replace) the completed attempt's self-identification; returns when.

    Raises ``SelfIdRefused`` with a reason the candidate may read: the
    organisation does not offer it, the key is not the attempt's, the
    attempt is not completed, or the answers are not valid (nothing stored)."""
    try:
        value = Answers.model_validate(answers)
    except ValidationError as exc:
        problems = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors()[:3])
        raise SelfIdRefused(problems or "the answers are not valid") from None
    if not isinstance(session_key, str) or not session_key:
        raise SelfIdRefused("this session key is not valid for the attempt")
    attempt = db[dbmod.ATTEMPTS].find_one(
        {"_id": attempt_id, "session_key_hash": hash_secret(session_key)}, {"organization_id": 1, "status": 1}
    )
    if attempt is None:
        raise SelfIdRefused("this session key is not valid for the attempt")
    if attempt["status"] != AttemptStatus.COMPLETED.value:
        raise SelfIdRefused("the questions are asked once the assessment is completed")
    if not enabled(db, attempt["organization_id"]):
        raise SelfIdRefused("this organisation does not ask these questions")
    now = utcnow()
    store(db, attempt["organization_id"], attempt_id, value, at=now)
    return now


def store(db: Database, organization_id: ObjectId, attempt_id: ObjectId, answers: Answers, *, at: datetime) -> None:
    """Write (or replace) the attempt's document: ``record`` after its checks,
    and simulations (``hiremate.ops.sample_impact``), which have no form."""
    doc = {
        "organization_id": organization_id,
        "sex": answers.sex,
        "race_ethnicity": answers.race_ethnicity,
        "consent_at": at if answers.consent else None,
        "recorded_at": at,
    }
    db[dbmod.SELF_IDS].replace_one({"_id": attempt_id}, doc, upsert=True)


def groups(scope: Scope, attempt_ids: Iterable[ObjectId]) -> dict[ObjectId, tuple[str, str]]:
    """(sex, race_ethnicity) of these attempts of the scope's organisation,
    ``UNKNOWN`` for "prefer not to say" and for no answer. For the impact
    report only: it shows counts per group, never one candidate's answer."""
    ids = list(dict.fromkeys(attempt_ids))
    found: dict[ObjectId, tuple[str, str]] = {}
    for first in range(0, len(ids), 1000):
        cursor = scope.collection(dbmod.SELF_IDS).find(
            scope.where({"_id": {"$in": ids[first : first + 1000]}}), {"sex": 1, "race_ethnicity": 1}
        )
        for doc in cursor:
            found[doc["_id"]] = (_known(doc.get("sex")), _known(doc.get("race_ethnicity")))
    return {attempt_id: found.get(attempt_id, (UNKNOWN, UNKNOWN)) for attempt_id in ids}


def for_attempts(scope: Scope, attempt_ids: Iterable[ObjectId]) -> list[dict[str, Any]]:
    """The stored documents of these attempts: for the candidate's own access export only."""
    ids = list(dict.fromkeys(attempt_ids))
    return list(scope.collection(dbmod.SELF_IDS).find(scope.where({"_id": {"$in": ids}})).sort("_id", 1))


def _known(value: Any) -> str:
    return value if isinstance(value, str) and value != PREFER_NOT_TO_SAY else UNKNOWN
