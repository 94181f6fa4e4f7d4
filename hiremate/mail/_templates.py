"""The wording of each kind of email: defaults, an organisation's own, rendering.

A template is a subject and a plain-text body with ``{placeholder}``s. The
HTML part is made from the text (every character escaped, paragraphs at
blank lines, the link made clickable): no one's HTML is ever sent raw.
Placeholders are replaced by a regular expression, never ``str.format``,
so a template cannot reach into the values (``{link.__class__}``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from bson import ObjectId
from pymongo.database import Database

from hiremate import db as dbmod
from hiremate.errors import MailError
from hiremate.scope import Scope
from hiremate.timeutil import utcnow

INVITATION = "invitation"
REMINDER = "reminder"
COMPLETED = "completed"
ACCOMMODATION_REQUESTED = "accommodation_requested"
COLLEAGUE_INVITATION = "colleague_invitation"

KIND_TITLES = {
    INVITATION: "Invitation to a candidate",
    REMINDER: "Reminder to a candidate who has not started",
    COMPLETED: "Notice to the recruiter: an assessment was completed",
    ACCOMMODATION_REQUESTED: "Notice to the recruiter: a candidate asked for an accommodation",
    COLLEAGUE_INVITATION: "Invitation to a colleague",
}
CANDIDATE_KINDS = frozenset({INVITATION, REMINDER})

PLACEHOLDERS = {
    "candidate_name": "the candidate's name",
    "organization": "your organisation's name as candidates see it",
    "position": "the position the assessment is for",
    "link": "the candidate's assessment link; in notices and colleagues' invitations, the link to HireMate",
    "expires": "when the link or invitation stops working, in your organisation's time zone",
    "contact": "your organisation's contact for candidates",
    "token": "the invitation token a colleague enters to join",
}
_KIND_PLACEHOLDERS = {
    INVITATION: ("candidate_name", "organization", "position", "link", "expires", "contact"),
    REMINDER: ("candidate_name", "organization", "position", "link", "expires", "contact"),
    COMPLETED: ("candidate_name", "organization", "position", "link"),
    ACCOMMODATION_REQUESTED: ("candidate_name", "organization", "position", "link"),
    COLLEAGUE_INVITATION: ("organization", "link", "expires", "contact", "token"),
}
SUBJECT_MAX, BODY_MAX = 200, 5000
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Template:
    kind: str
    subject: str
    body: str
    is_default: bool = True

    @property
    def placeholders(self) -> tuple[str, ...]:
        return _KIND_PLACEHOLDERS[self.kind]


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


DEFAULTS: dict[str, Template] = {
    INVITATION: Template(
        INVITATION,
        "Your assessment for {position} at {organization}",
        """Hello {candidate_name},

Thank you for your interest in {position} at {organization}. As a next step, we invite you to a short online assessment made of everyday work scenarios. There are no trick questions and no right answers: we look at how you work through each situation.

Open your personal link to begin:
{link}

The link works until {expires}. Before anything is recorded, the first page explains what is observed and asks for your agreement. You can also ask there for an accommodation or an alternative; you do not need to start the assessment to do so.

The link is personal: please do not share it.

If you have a question, contact {contact}.

Kind regards,
{organization}""",
    ),
    REMINDER: Template(
        REMINDER,
        "Reminder: your assessment for {position} at {organization}",
        """Hello {candidate_name},

Your assessment for {position} at {organization} is still waiting for you. You can start it until {expires}.

Your link:
{link}

This is a new link: it replaces the one we sent you before, which no longer works.

If you need an accommodation, or no longer wish to take part, contact {contact}.

Kind regards,
{organization}""",
    ),
    COMPLETED: Template(
        COMPLETED,
        "{candidate_name} completed the assessment for {position}",
        """{candidate_name} completed the assessment for {position}.

The observations are ready to review in HireMate:
{link}

They describe how the candidate worked, not a score; a person reviews them before they inform any decision.""",
    ),
    ACCOMMODATION_REQUESTED: Template(
        ACCOMMODATION_REQUESTED,
        "{candidate_name} asked for an accommodation",
        """{candidate_name}, invited to the assessment for {position}, asked for an accommodation or an alternative.

The request is confidential. Read and answer it in HireMate:
{link}

The candidate's link stays valid meanwhile.""",
    ),
    COLLEAGUE_INVITATION: Template(
        COLLEAGUE_INVITATION,
        "You are invited to join {organization} on HireMate",
        """Hello,

You are invited to join {organization} on HireMate, where the team issues and reviews candidate assessments.

Open HireMate at {link}, choose to join with an invitation, and enter this email address and the invitation token below:

{token}

The invitation works until {expires}. If you did not expect it, you can ignore this email, or contact {contact}.""",
    ),
}


def check(kind: str, subject: str, body: str) -> list[str]:
    """What is wrong with a template, one line per problem (empty: nothing)."""
    if kind not in DEFAULTS:
        return [f"unknown kind of email: {kind}"]
    problems = []
    if not subject.strip():
        problems.append("The subject is empty.")
    if len(subject) > SUBJECT_MAX:
        problems.append(f"The subject is longer than {SUBJECT_MAX} characters.")
    if not body.strip():
        problems.append("The text is empty.")
    if len(body) > BODY_MAX:
        problems.append(f"The text is longer than {BODY_MAX} characters.")
    allowed = _KIND_PLACEHOLDERS[kind]
    unknown = sorted({name for name in _PLACEHOLDER.findall(subject + body) if name not in allowed})
    if unknown:
        problems.append(
            "Unknown placeholder "
            + ", ".join("{" + name + "}" for name in unknown)
            + "; this email may use "
            + ", ".join("{" + name + "}" for name in allowed)
            + "."
        )
    if "link" in allowed and "{link}" not in body:
        problems.append("The text must contain {link}: without it the email is of no use.")
    if kind == COLLEAGUE_INVITATION and "{token}" not in body:
        problems.append("The text must contain {token}: a colleague needs it to join.")
    return problems


def get_template(db: Database, organization_id: ObjectId | None, kind: str) -> Template:
    """The organisation's wording of ``kind``, else the default."""
    if kind not in DEFAULTS:
        raise MailError(f"unknown kind of email: {kind}")
    doc = db[dbmod.MAIL_TEMPLATES].find_one({"organization_id": organization_id, "kind": kind})
    if doc is None:
        return DEFAULTS[kind]
    return Template(kind, doc["subject"], doc["body"], is_default=False)


def save_template(scope: Scope, kind: str, subject: str, body: str) -> Template:
    """An admin's wording of ``kind``; MailError with every problem when it cannot be used."""
    _require_admin(scope)
    subject, body = subject.strip(), body.strip().replace("\r\n", "\n")
    problems = check(kind, subject, body)
    if problems:
        raise MailError(" ".join(problems))
    scope.db[dbmod.MAIL_TEMPLATES].update_one(
        {"organization_id": scope.organization_id, "kind": kind},
        {"$set": {"subject": subject, "body": body, "updated_at": utcnow(), "updated_by": scope.user_id}},
        upsert=True,
    )
    scope.audit("mail.template_changed", "organization", scope.organization_id, kind=kind)
    return Template(kind, subject, body, is_default=False)


def reset_template(scope: Scope, kind: str) -> Template:
    """Back to the default wording of ``kind``."""
    _require_admin(scope)
    removed = scope.db[dbmod.MAIL_TEMPLATES].delete_one({"organization_id": scope.organization_id, "kind": kind})
    if removed.deleted_count:
        scope.audit("mail.template_reset", "organization", scope.organization_id, kind=kind)
    return DEFAULTS[kind]


def render(template: Template, values: Mapping[str, str]) -> Rendered:
    """The subject, the text and the HTML of ``template`` with ``values``."""
    subject = " ".join(_fill(template.subject, values, html_mode=False).split())
    text = _fill(template.body, values, html_mode=False)
    body = _fill(template.body, values, html_mode=True)
    paragraphs = [part.strip("\n").replace("\n", "<br>\n") for part in re.split(r"\n\s*\n", body) if part.strip()]
    page = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>'
        + html.escape(subject)
        + '</title></head>\n<body style="font-family: sans-serif; line-height: 1.5; color: #1a1a1a;">\n'
        + "\n".join(f"<p>{paragraph}</p>" for paragraph in paragraphs)
        + "\n</body></html>\n"
    )
    return Rendered(subject, text, page)


def format_expiry(moment: datetime, zone: object) -> str:
    """A date and time as a candidate reads it, in the organisation's time zone: 'Friday 12 December 2026, 17:00 CET'."""
    local = moment.astimezone(zone)  # type: ignore[arg-type]
    return f"{local:%A} {local.day} {local:%B %Y, %H:%M} {local.tzname() or ''}".strip()


def _fill(template: str, values: Mapping[str, str], *, html_mode: bool) -> str:
    out: list[str] = []
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        out.append(_text(template[position : match.start()], html_mode))
        name = match.group(1)
        value = values.get(name)
        if value is None:
            out.append(_text(match.group(0), html_mode))
        elif html_mode and name == "link" and value.startswith(("https://", "http://")):
            escaped = html.escape(value, quote=True)
            out.append(f'<a href="{escaped}">{escaped}</a>')
        else:
            out.append(_text(value, html_mode))
        position = match.end()
    out.append(_text(template[position:], html_mode))
    return "".join(out)


def _text(value: str, html_mode: bool) -> str:
    return html.escape(value, quote=True) if html_mode else value


def _require_admin(scope: Scope) -> None:
    if not scope.is_admin:
        raise MailError("Only an admin of your organisation can change its emails.")
