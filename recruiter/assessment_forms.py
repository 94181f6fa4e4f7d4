"""The issue-an-assessment form's model, without Streamlit: a candidate's
details checked field by field, in words a recruiter can act on.

The resume URL must be an http(s) address: it is shown to recruiters as a
link later, and a ``javascript:`` URL there would run in their browser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import ValidationError

from hiremate import emails
from hiremate.errors import FormProblems
from hiremate.models import ACCOMMODATION_NEEDS, Accommodations, CandidateInfo

MAX_EXPIRY_DAYS = 90
_PHONE = re.compile(r"^[0-9+()./\- ]{3,50}$")


@dataclass(frozen=True)
class TaskChoice:
    """Which tasks the attempt gets: ``task_ids`` by hand, or a ``sample``."""

    task_ids: list[str] | None = None
    sample: int | None = None
    category: str | None = None
    difficulty: str | None = None


def candidate_info(
    *, name: str, email: str, phone: str = "", position: str = "", resume_url: str = ""
) -> CandidateInfo:
    """The candidate as typed, trimmed and checked; FormProblems lists what is wrong."""
    name, email = " ".join((name or "").split()), emails.normalise(email)
    phone, position, resume_url = (phone or "").strip(), " ".join((position or "").split()), (resume_url or "").strip()
    problems = []
    if not name:
        problems.append("Name: is required")
    if not email:
        problems.append("Email: is required")
    elif not emails.is_valid(email):
        problems.append("Email: is not an email address")
    if phone and not _PHONE.match(phone):
        problems.append("Phone: use digits, spaces and + ( ) - . / only")
    if resume_url and not is_web_url(resume_url):
        problems.append("Resume URL: must be a web address starting with http:// or https://")
    if problems:
        raise FormProblems(problems)
    try:
        return CandidateInfo(
            name=name, email=email, phone=phone or None, position=position, resume_url=resume_url or None
        )
    except ValidationError as error:
        raise FormProblems([_describe(e) for e in error.errors()]) from None


def task_choice(
    *,
    by_hand: bool,
    task_ids: list[str] | None = None,
    sample: int | None = None,
    category: str | None = None,
    difficulty: str | None = None,
) -> TaskChoice:
    """Tasks picked by hand (at least one) or sampled (at least one)."""
    if by_hand:
        if not task_ids:
            raise FormProblems(["Tasks: pick at least one task"])
        return TaskChoice(task_ids=list(task_ids))
    if not sample or sample < 1:
        raise FormProblems(["Number of tasks: sample at least one task"])
    return TaskChoice(sample=int(sample), category=category or None, difficulty=difficulty or None)


def expiry_days(days: int | None) -> int:
    if days is None or not 1 <= days <= MAX_EXPIRY_DAYS:
        raise FormProblems([f"Link valid for: between 1 and {MAX_EXPIRY_DAYS} days"])
    return int(days)


NO_EXTRA_TIME = "none"
UNTIMED = "untimed"
EXTRA_TIME_CHOICES = {
    NO_EXTRA_TIME: "No extra time",
    "1.25": "25% more time (×1.25)",
    "1.5": "50% more time (×1.5)",
    "2": "Double time (×2)",
    "3": "Triple time (×3)",
    UNTIMED: "Untimed (no suggested times)",
}
NEED_LABELS = dict(
    zip(
        ACCOMMODATION_NEEDS,
        (
            "Extra time",
            "Assistive technology (for example a screen reader)",
            "An alternative to this assessment",
            "Other",
        ),
        strict=True,
    )
)


def accommodations(*, extra_time: str, assistive_technology: bool, note: str) -> Accommodations | None:
    """The accommodations as chosen (None: none). ``extra_time`` is a key of EXTRA_TIME_CHOICES."""
    if extra_time not in EXTRA_TIME_CHOICES:
        raise FormProblems(["Extra time: choose one of the options"])
    granted = Accommodations(
        time_multiplier=None if extra_time in {NO_EXTRA_TIME, UNTIMED} else float(extra_time),
        untimed=extra_time == UNTIMED,
        assistive_technology=bool(assistive_technology),
        note=(note or "").strip(),
    )
    return None if granted.is_empty else granted


def extra_time_choice(granted: Accommodations | None) -> str:
    """The EXTRA_TIME_CHOICES key that shows ``granted`` (for a form's initial value)."""
    if granted is None or (granted.time_multiplier is None and not granted.untimed):
        return NO_EXTRA_TIME
    if granted.untimed:
        return UNTIMED
    return f"{granted.time_multiplier:g}"


def describe_accommodations(granted: Accommodations | None) -> str:
    """One line for the people allowed to see them (admins and the issuer)."""
    if granted is None:
        return "None"
    parts = []
    if granted.untimed or granted.time_multiplier:
        parts.append(EXTRA_TIME_CHOICES[extra_time_choice(granted)])
    if granted.assistive_technology:
        parts.append("assistive technology in use (idle and away not observed)")
    if granted.note:
        parts.append(f"note: {granted.note}")
    return "; ".join(parts) or "None"


def is_web_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in {"http", "https"} and bool(parts.netloc) and " " not in url


def _describe(error: dict) -> str:
    field = str(error.get("loc", ("?",))[-1]).replace("_", " ")
    return f"{field[:1].upper()}{field[1:]}: {error.get('msg', 'is invalid')}"
