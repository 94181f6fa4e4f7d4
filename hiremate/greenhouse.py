"""Greenhouse's assessment partner API, the domain side (``api/greenhouse.py``
is the HTTP adapter Greenhouse calls; ``docs/integrations.md`` "Greenhouse"
is the set-up guide).

Greenhouse names a partner's tests and instances of them; HireMate maps:

* ``partner_test_id``: an assessment kit's id (``list_tests`` lists the
  organisation's kits that are not archived);
* ``partner_interview_id``: the attempt's id (``send_test`` issues one with
  the kit and emails the candidate their link; mail must be set up, since
  the candidate has no other way to get the link);
* ``test_status``: the attempt's state in Greenhouse's words, ``complete``
  once the profile exists, with the profile's labels, its review state and
  links in ``metadata``. There is no ``partner_score``: HireMate has no
  score, only labels with their evidence.

What Greenhouse gave with ``send_test`` is kept in ``greenhouse_tests``
(one document per attempt, ``_id`` = the attempt's id): the URL to PATCH
when the assessment completes and the candidate's Greenhouse profile URL.
The résumé URL is neither fetched nor kept. Erasure and the retention purge
remove the document with its attempt (``hiremate.erasure``).

On completion (after the profile is computed) ``notify_completed`` queues
one PATCH to that URL through the webhook outbox (``webhooks.queue_callback``:
retries, back-off over a day, the delivery log, the address rule), its
headers and body from HIREMATE_GREENHOUSE_PATCH_HEADERS and
HIREMATE_GREENHOUSE_PATCH_BODY.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from bson import ObjectId
from pydantic import BaseModel, ConfigDict, Field

from hiremate import attempts, kits, mail, webhooks
from hiremate import db as dbmod
from hiremate.errors import AttemptNotFound, KitError, MailNotConfigured
from hiremate.ids import as_object_id
from hiremate.models import AttemptStatus, CandidateInfo
from hiremate.scope import Scope
from hiremate.settings import Settings, get_settings
from hiremate.timeutil import utcnow

__all__ = [
    "COMPLETE",
    "GreenhouseCandidate",
    "PartnerTest",
    "SendTest",
    "TestStatus",
    "list_tests",
    "notify_completed",
    "send_test",
    "test_status",
]

log = logging.getLogger("hiremate.greenhouse")

COMPLETE = "complete"
# partner_status for an attempt without a profile yet (Greenhouse shows it as is).
_STATUS_WORDS = {
    AttemptStatus.PENDING.value: "sent",
    AttemptStatus.IN_PROGRESS.value: "in progress",
    AttemptStatus.COMPLETED.value: "in progress",  # ended, the profile not computed yet (seconds)
    AttemptStatus.EXPIRED.value: "expired",
    AttemptStatus.LOCKED.value: "cancelled",
}
NO_SCORE = "HireMate gives no score: read the labels with their evidence in the profile."


class PartnerTest(BaseModel):
    partner_test_id: str
    partner_test_name: str


class GreenhouseCandidate(BaseModel):
    model_config = ConfigDict(extra="ignore")  # Greenhouse may add fields

    first_name: str = Field("", max_length=200)
    last_name: str = Field("", max_length=200)
    email: str = Field(min_length=3, max_length=320)  # checked as the issuing form checks it (CandidateInfo)
    phone_number: str | None = Field(None, max_length=50)
    resume_url: str | None = Field(None, max_length=2000)  # expires after 7 days; never fetched or kept
    greenhouse_profile_url: str | None = Field(None, max_length=2000)


class SendTest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    partner_test_id: str = Field(min_length=1, max_length=100)
    candidate: GreenhouseCandidate
    url: str = Field(min_length=1, max_length=2000, description="where to PATCH when the test is complete")


class TestStatus(BaseModel):
    partner_status: str
    partner_profile_url: str | None  # set once complete
    metadata: dict[str, str | int | float | bool | None]


def list_tests(scope: Scope) -> list[PartnerTest]:
    """The organisation's kits (not archived), as Greenhouse lists tests."""
    return [PartnerTest(partner_test_id=str(kit.id), partner_test_name=kit.name) for kit in kits.list_kits(scope)]


def send_test(scope: Scope, request: SendTest, *, settings: Settings | None = None) -> str:
    """Issue the kit to the candidate, email their link, remember Greenhouse's
    URLs; returns the ``partner_interview_id``. Raises KitError (no such kit,
    or it cannot be issued), MailNotConfigured, WebhookTargetRefused (a URL
    HireMate will not call) or FormProblems, before anything is stored."""
    settings = settings or get_settings()
    if not mail.is_configured(settings):
        raise MailNotConfigured(
            "Email is not set up (HIREMATE_SMTP_URL and HIREMATE_MAIL_FROM): HireMate cannot send the candidate "
            "their link, so no assessment was issued."
        )
    webhooks.check_url(request.url, allow_private=settings.webhook_allow_private)
    kit = kits.get_kit(scope, request.partner_test_id)
    if kit is None or kit.archived:
        raise KitError(f"No test {request.partner_test_id!r} in this organisation: list_tests names the tests.")
    person = request.candidate
    name = " ".join(part.strip() for part in (person.first_name, person.last_name) if part.strip())
    candidate = CandidateInfo(
        name=name or person.email, email=person.email, phone=person.phone_number, position=kit.position
    )
    issued = attempts.issue_attempt(
        scope, candidate=candidate, source=kits.task_source(scope, kit), public_url=settings.public_url
    )
    attempt_id = issued.attempt.id
    scope.collection(dbmod.GREENHOUSE_TESTS).insert_one(
        {
            "_id": attempt_id,
            "organization_id": scope.organization_id,
            "callback_url": request.url,
            "greenhouse_profile_url": person.greenhouse_profile_url,
            "created_at": utcnow(),
            "patch_queued_at": None,
        }
    )
    mail.queue_invitation(scope, issued.attempt, issued.link, settings=settings)
    scope.audit("greenhouse.test_sent", "attempt", attempt_id, kit_id=str(kit.id))
    return str(attempt_id)


def test_status(scope: Scope, partner_interview_id: str, *, settings: Settings | None = None) -> TestStatus:
    """The attempt Greenhouse sent, in Greenhouse's words; AttemptNotFound
    for an id that is not one of this organisation's Greenhouse attempts."""
    settings = settings or get_settings()
    attempt_id = as_object_id(partner_interview_id)
    sent = (
        scope.collection(dbmod.GREENHOUSE_TESTS).find_one(scope.where({"_id": attempt_id}), {"_id": 1})
        if attempt_id is not None
        else None
    )
    attempt = attempts.get_attempt(scope, attempt_id) if sent is not None else None
    if attempt is None or attempt.id is None:
        raise AttemptNotFound(f"No assessment {partner_interview_id!r} was sent from Greenhouse to this organisation.")
    summary = webhooks.profile_summary(scope.db, attempt.id)
    review = webhooks.review_state(scope.db, attempt.id)
    link = webhooks.links(attempt.id, settings)
    complete = summary is not None and attempt.status == AttemptStatus.COMPLETED
    metadata: dict[str, str | int | float | bool | None] = {
        "hiremate_status": str(attempt.status),
        "assessment_url": link["assessment"],
        "profile_url": link["profile"] if complete else None,
        "review_state": review["state"],
        "decision": review["decision"],
        "score": None,
        "score_note": NO_SCORE,
    }
    if summary is not None:
        metadata |= {
            "rules_version": summary["version"],
            "evidence_level": summary["evidence_level"],
            "tasks_completed": summary["tasks_completed"],
            **summary["labels"],
        }
    return TestStatus(
        partner_status=COMPLETE if complete else _STATUS_WORDS.get(str(attempt.status), str(attempt.status)),
        partner_profile_url=link["profile"] if complete else None,
        metadata=metadata,
    )


def notify_completed(
    db: Any, organization_id: ObjectId | None, attempt_id: ObjectId | None, *, settings: Settings | None = None
) -> int:
    """Queue the completion PATCH to Greenhouse once, for an attempt
    Greenhouse sent (1 when queued, else 0). Never raises: called by the
    ingest server beside the ``attempt.completed`` webhook."""
    try:
        settings = settings or get_settings()
        claimed = db[dbmod.GREENHOUSE_TESTS].find_one_and_update(
            {"_id": attempt_id, "organization_id": organization_id, "patch_queued_at": None},
            {"$set": {"patch_queued_at": utcnow()}},
        )
        if claimed is None:
            return 0
        values = {
            "partner_interview_id": str(attempt_id),
            "partner_status": COMPLETE,
            "partner_profile_url": webhooks.links(attempt_id, settings)["profile"],
        }
        webhooks.queue_callback(
            db,
            organization_id=organization_id,
            attempt_id=attempt_id,
            url=claimed["callback_url"],
            method="PATCH",
            headers={"Content-Type": "application/json", **json.loads(settings.greenhouse_patch_headers)},
            body=_filled(json.loads(settings.greenhouse_patch_body), values),
            event_type="greenhouse.test_completed",
            settings=settings,
        )
        return 1
    except Exception:  # a completion never fails because Greenhouse cannot be told
        log.exception("queueing the Greenhouse completion PATCH of attempt %s failed", attempt_id)
        return 0


def _filled(value: Any, values: dict[str, str]) -> Any:
    """``value`` (parsed JSON) with ``{name}`` placeholders in its strings filled in."""
    if isinstance(value, str):
        for name, text in values.items():
            value = value.replace("{" + name + "}", text)
        return value
    if isinstance(value, dict):
        return {key: _filled(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [_filled(item, values) for item in value]
    return value
