"""The task editor's model, without Streamlit: drafts, widget state, validation
messages a recruiter can act on, and the candidate's view of a task.

A ``TaskDraft`` is what the editor holds while a recruiter types: every field
as typed (tags as one comma-separated string, no time limit as 0). It lives
in widget state under one key prefix (``state_from_draft`` /
``draft_from_state``), each option under its own id, so removing option 2
never shifts the text typed into option 3. ``to_task_input`` turns a draft
into a ``TaskInput`` or raises ``TaskValidationError`` whose problems name
fields the way the form labels them ("Option 2 text: is required").

``candidate_view`` is the task exactly as the candidate page shows it: title,
description, scenario, suggested time, option texts and the reasoning box.
Risk levels and behavioural tags never reach it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from hiremate import tasks
from hiremate.models import Category, Difficulty, RiskLevel, Task
from hiremate.reports.columns import humanize  # one definition; pages import it from here too
from hiremate.task_library import LIBRARY
from hiremate.tasks import AUTHORED_FIELDS, TaskInput, TaskValidationError, validate_task_input

MIN_OPTIONS = 2
MAX_OPTIONS = 6
DEFAULT_REASONING_MIN_LENGTH = 20
CATEGORIES: tuple[str, ...] = tuple(c.value for c in Category)
DIFFICULTIES: tuple[str, ...] = tuple(d.value for d in Difficulty)
RISK_LEVELS: tuple[str, ...] = tuple(r.value for r in RiskLevel)
# Tags the seed library uses, offered as examples next to the tags field.
COMMON_TAGS: tuple[str, ...] = tuple(
    sorted({tag for task in LIBRARY.values() for option in task.options for tag in option.behavioral_tags})
)

_OPTION_ID = re.compile(r"^opt_(\d+)$")
_TAG_SEPARATORS = re.compile(r"[,;\n]+")
_FIELD_LABELS = {
    "title": "Title",
    "description": "Description",
    "scenario": "Scenario",
    "category": "Category",
    "difficulty": "Difficulty",
    "time_limit_seconds": "Time limit",
    "options": "Options",
    "reasoning_required": "Reasoning required",
    "reasoning_min_length": "Minimum reasoning length",
    "language": "Language",
}
_OPTION_FIELD_LABELS = {"text": "text", "risk_level": "risk level", "behavioral_tags": "tags", "id": "id"}
_RANGE_HINTS = {
    "time_limit_seconds": "use 0 for none, or between 10 and 3600 seconds",
    "reasoning_min_length": "between 0 and 5000 characters",
}
_PROBLEM = re.compile(r"^(?P<path>[A-Za-z_][\w\[\].]*): (?P<message>.*)$", re.DOTALL)
_OPTION_PATH = re.compile(r"^options\[(?P<index>\d+)\](?:\.(?P<field>\w+))?")


# ---------------------------------------------------------------- drafts


@dataclass(frozen=True)
class OptionDraft:
    id: str
    text: str = ""
    risk_level: str = RiskLevel.MEDIUM.value
    tags: str = ""  # as typed: comma-separated


@dataclass(frozen=True)
class TaskDraft:
    title: str = ""
    description: str = ""
    scenario: str = ""
    category: str = Category.PROBLEM_SOLVING.value
    difficulty: str = Difficulty.MEDIUM.value
    time_limit_seconds: int = 0  # 0: no suggested time
    reasoning_required: bool = True
    reasoning_min_length: int = DEFAULT_REASONING_MIN_LENGTH
    options: tuple[OptionDraft, ...] = field(default_factory=lambda: (OptionDraft("opt_1"), OptionDraft("opt_2")))
    language: str = "en"


def new_draft() -> TaskDraft:
    """An empty task with the least number of options."""
    return TaskDraft()


def draft_from_task(task: Task | TaskInput) -> TaskDraft:
    return TaskDraft(
        title=task.title,
        description=task.description,
        scenario=task.scenario,
        category=str(task.category),
        difficulty=str(task.difficulty),
        time_limit_seconds=task.time_limit_seconds or 0,
        reasoning_required=task.reasoning_required,
        reasoning_min_length=task.reasoning_min_length,
        options=tuple(
            OptionDraft(o.id, o.text, str(o.risk_level), format_tags(o.behavioral_tags)) for o in task.options
        ),
        language=task.language,
    )


def parse_tags(text: str) -> list[str]:
    """Tags from what was typed: split on commas, semicolons or new lines,
    trimmed, lower case, first occurrence kept."""
    seen: dict[str, None] = {}
    for part in _TAG_SEPARATORS.split(text or ""):
        tag = " ".join(part.split()).lower()
        if tag:
            seen.setdefault(tag, None)
    return list(seen)


def format_tags(tags: Iterable[str]) -> str:
    return ", ".join(tags)


def next_option_id(existing: Iterable[str]) -> str:
    """``opt_N`` after the highest ``opt_N`` in use (never reusing an id)."""
    existing = set(existing)
    numbers = [int(m.group(1)) for m in map(_OPTION_ID.match, existing) if m]
    number = max(numbers, default=0) + 1
    while f"opt_{number}" in existing:  # pragma: no cover - only with odd hand-made ids
        number += 1
    return f"opt_{number}"


def can_add_option(draft: TaskDraft) -> bool:
    return len(draft.options) < MAX_OPTIONS


def can_remove_option(draft: TaskDraft) -> bool:
    return len(draft.options) > MIN_OPTIONS


def add_option(draft: TaskDraft) -> TaskDraft:
    """The draft with one more blank option (at most MAX_OPTIONS)."""
    if not can_add_option(draft):
        raise ValueError(f"a task has at most {MAX_OPTIONS} options")
    option = OptionDraft(next_option_id(o.id for o in draft.options))
    return replace(draft, options=(*draft.options, option))


def remove_option(draft: TaskDraft, option_id: str) -> TaskDraft:
    """The draft without ``option_id`` (at least MIN_OPTIONS stay)."""
    if not can_remove_option(draft):
        raise ValueError(f"a task needs at least {MIN_OPTIONS} options")
    return replace(draft, options=tuple(o for o in draft.options if o.id != option_id))


# ---------------------------------------------------------------- widget state


def field_key(prefix: str, name: str) -> str:
    """The widget key of a task field (``title``, ``scenario``...)."""
    return f"{prefix}{name}"


def option_key(prefix: str, option_id: str, name: str) -> str:
    """The widget key of one option's ``text``, ``risk_level`` or ``tags``."""
    return f"{prefix}opt_{option_id}_{name}"


def option_ids_key(prefix: str) -> str:
    return f"{prefix}option_ids"


_SCALAR_FIELDS = (
    "title",
    "description",
    "scenario",
    "category",
    "difficulty",
    "time_limit_seconds",
    "reasoning_required",
    "reasoning_min_length",
    "language",
)


def state_from_draft(draft: TaskDraft, prefix: str) -> dict[str, Any]:
    """Widget state (key -> value) that shows ``draft`` in the editor."""
    state: dict[str, Any] = {field_key(prefix, name): getattr(draft, name) for name in _SCALAR_FIELDS}
    state[option_ids_key(prefix)] = [o.id for o in draft.options]
    for option in draft.options:
        state[option_key(prefix, option.id, "text")] = option.text
        state[option_key(prefix, option.id, "risk_level")] = option.risk_level
        state[option_key(prefix, option.id, "tags")] = option.tags
    return state


def draft_from_state(state: Mapping[str, Any], prefix: str) -> TaskDraft:
    """The draft the editor's widgets hold now (missing keys: the defaults)."""
    default = TaskDraft()
    values = {name: state.get(field_key(prefix, name), getattr(default, name)) for name in _SCALAR_FIELDS}
    ids = state.get(option_ids_key(prefix)) or [o.id for o in default.options]
    options = tuple(
        OptionDraft(
            id=option_id,
            text=state.get(option_key(prefix, option_id, "text"), "") or "",
            risk_level=state.get(option_key(prefix, option_id, "risk_level")) or RiskLevel.MEDIUM.value,
            tags=state.get(option_key(prefix, option_id, "tags"), "") or "",
        )
        for option_id in ids
    )
    return TaskDraft(
        title=str(values["title"] or ""),
        description=str(values["description"] or ""),
        scenario=str(values["scenario"] or ""),
        category=str(values["category"] or default.category),
        difficulty=str(values["difficulty"] or default.difficulty),
        time_limit_seconds=int(values["time_limit_seconds"] or 0),
        reasoning_required=bool(values["reasoning_required"]),
        reasoning_min_length=int(values["reasoning_min_length"] or 0),
        options=options,
        language=str(values["language"] or "en"),
    )


def state_keys(state: Iterable[str], prefix: str) -> list[str]:
    """Every key of the editor under ``prefix`` (to clear it)."""
    return [key for key in state if isinstance(key, str) and key.startswith(prefix)]


# ---------------------------------------------------------------- validation


def task_payload(draft: TaskDraft) -> dict[str, Any]:
    """The draft as TaskInput's fields (not validated yet)."""
    return {
        "title": draft.title.strip(),
        "description": draft.description.strip(),
        "scenario": draft.scenario.strip(),
        "category": draft.category,
        "difficulty": draft.difficulty,
        "time_limit_seconds": draft.time_limit_seconds or None,
        "reasoning_required": draft.reasoning_required,
        "reasoning_min_length": draft.reasoning_min_length,
        "language": draft.language,
        "options": [
            {
                "id": o.id,
                "text": o.text.strip(),
                "risk_level": o.risk_level,
                "behavioral_tags": parse_tags(o.tags),
            }
            for o in draft.options
        ],
    }


def to_task_input(draft: TaskDraft) -> TaskInput:
    """The validated task, or TaskValidationError listing every problem in the
    form's own words."""
    problems = _form_problems(draft)
    try:
        task = validate_task_input(task_payload(draft))
    except TaskValidationError as error:
        named = {_subject(p) for p in problems}
        problems += [p for p in map(friendly_problem, error.problems) if _subject(p) not in named]
    if problems:
        raise TaskValidationError(list(dict.fromkeys(problems)))
    return task


def _form_problems(draft: TaskDraft) -> list[str]:
    """What the model would report with a less helpful message."""
    problems = []
    if not draft.title.strip():
        problems.append("Title: is required")
    if not draft.scenario.strip():
        problems.append("Scenario: is required")
    for number, option in enumerate(draft.options, start=1):
        if not option.text.strip():
            problems.append(f"Option {number} text: is required")
    return problems


def _subject(problem: str) -> str:
    """What a problem line is about: the part before its first colon."""
    return problem.split(":", 1)[0]


def friendly_problem(problem: str) -> str:
    """A TaskValidationError line (``options[1].text: ...``) as the form names it
    (``Option 2 text: ...``)."""
    match = _PROBLEM.match(problem)
    if match is None:
        return problem
    path, message = match["path"], match["message"]
    message = {
        "String should have at least 1 character": "is required",
        "must not be blank": "is required",
    }.get(message, message)
    if path in _RANGE_HINTS and message.startswith("Input should be"):
        message = _RANGE_HINTS[path]
    option = _OPTION_PATH.match(path)
    if option is not None:
        if option["field"] is None:
            return f"Option {int(option['index']) + 1}: {message}"
        label = _OPTION_FIELD_LABELS.get(option["field"], option["field"].replace("_", " "))
        return f"Option {int(option['index']) + 1} {label}: {message}"
    return f"{_FIELD_LABELS.get(path, humanize(path))}: {message}"


def changed_fields(task: Task, data: TaskInput) -> dict[str, Any]:
    """The authored fields ``data`` changes in ``task`` (for update_task)."""
    before = task.model_dump(include=set(AUTHORED_FIELDS), mode="json")
    after = data.model_dump(include=set(AUTHORED_FIELDS), mode="json")
    return {name: value for name, value in after.items() if before.get(name) != value}


# ---------------------------------------------------------------- the candidate's view


@dataclass(frozen=True)
class CandidateOption:
    id: str
    text: str


@dataclass(frozen=True)
class CandidateTaskView:
    """What the candidate page renders for a task, and nothing more."""

    title: str
    description: str
    scenario: str
    time_hint: str | None
    options: tuple[CandidateOption, ...]
    reasoning_required: bool
    reasoning_min_length: int
    reasoning_hint: str

    @property
    def min_length(self) -> int:
        """The characters the candidate must write (0 when optional)."""
        return self.reasoning_min_length if self.reasoning_required else 0


def candidate_view(task: tasks.CandidateViewable) -> CandidateTaskView:
    """``task`` (stored, validated or a draft) as the candidate will see it:
    the server's definition (``hiremate.tasks.candidate_view``) with the
    page's hints in words."""
    sent = tasks.candidate_view(task)
    return CandidateTaskView(
        title=sent["title"],
        description=sent["description"],
        scenario=sent["scenario"],
        time_hint=time_hint(sent["time_limit_seconds"]),
        options=tuple(CandidateOption(o["id"], o["text"]) for o in sent["options"]),
        reasoning_required=sent["reasoning_required"],
        reasoning_min_length=sent["reasoning_min_length"],
        reasoning_hint=reasoning_hint(sent["reasoning_required"], sent["reasoning_min_length"]),
    )


def time_hint(time_limit_seconds: int | None) -> str | None:
    """The candidate page's line about the suggested time (None: no line)."""
    if not time_limit_seconds or time_limit_seconds <= 0:
        return None
    minutes = max(1, math.floor(time_limit_seconds / 60 + 0.5))  # JavaScript's Math.round
    return f"Suggested time: about {minutes} {'minute' if minutes == 1 else 'minutes'}."


def reasoning_hint(required: bool, min_length: int) -> str:
    """The candidate page's hint under "Explain your choice"."""
    if not required:
        return "Optional."
    return f"Required: at least {min_length} characters." if min_length > 0 else "Required."


def reasoning_counter(text: str, min_length: int) -> str:
    """The candidate page's character counter under the reasoning box (it
    counts the text without surrounding white space, as the server does)."""
    count = len(text.strip())
    if min_length > 0:
        return f"{count} / {min_length} characters"
    return f"{count} {'character' if count == 1 else 'characters'}"
