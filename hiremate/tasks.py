"""Task authoring: create, list, edit, soft-delete and restore decision tasks.

Every function takes a ``Scope``, so a recruiter only ever sees and changes
the tasks of their own organisation, and every change is audited. A task's
options carry a risk level and behavioural tags, never a correctness flag:
such a field is refused outright rather than silently dropped.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from bson import ObjectId
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pymongo import ASCENDING, DESCENDING, ReturnDocument

from hiremate import db as dbmod
from hiremate.errors import TaskError as TaskError  # re-exported: tasks.TaskError
from hiremate.errors import TaskNotFound, TaskValidationError
from hiremate.ids import as_object_id
from hiremate.models import Category, Difficulty, Task, TaskOption
from hiremate.scope import Scope
from hiremate.timeutil import utcnow

MAX_PAGE_SIZE = 500

# Field names that would smuggle a "right answer" into a task.
_CORRECTNESS_WORDS = ("correct", "right", "answer", "score", "best", "wrong", "expected")


class TaskInput(BaseModel):
    """What a recruiter writes; the server adds ids, owner and times."""

    model_config = ConfigDict(extra="forbid", use_enum_values=True)

    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    scenario: str = Field(min_length=1, max_length=5000)
    category: Category
    difficulty: Difficulty
    time_limit_seconds: int | None = Field(default=None, ge=10, le=3600)
    options: list[TaskOption] = Field(min_length=2, max_length=6)
    reasoning_required: bool = True
    reasoning_min_length: int = Field(default=20, ge=0, le=5000)
    language: str = Field(default="en", min_length=2, max_length=10)

    @field_validator("title", "scenario")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @field_validator("options")
    @classmethod
    def _unique_option_ids(cls, options: list[TaskOption]) -> list[TaskOption]:
        ids = [option.id for option in options]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"option ids must be unique within a task (repeated: {', '.join(duplicates)})")
        return options


AUTHORED_FIELDS = frozenset(TaskInput.model_fields)


# ---------------------------------------------------------------- public API


def create_task(scope: Scope, data: TaskInput | Mapping[str, Any], *, library_key: str | None = None) -> Task:
    """Validate and store a new task in the scope's organisation.

    ``library_key`` marks a task of the seed library; it is unique per
    organisation, so storing the same key twice raises DuplicateKeyError.
    """
    now = utcnow()
    task = Task(
        **validate_task_input(data).model_dump(),
        organization_id=scope.organization_id,
        library_key=library_key,
        created_by=scope.user_id,
        created_at=now,
        updated_at=now,
    )
    task.id = scope.collection(dbmod.TASKS).insert_one(task.to_doc()).inserted_id
    scope.audit("task.created", "task", task.id, library_key=library_key)  # the title is on the task
    return task


def list_tasks(
    scope: Scope,
    *,
    category: str | None = None,
    difficulty: str | None = None,
    active: bool | None = True,
    search: str | None = None,
    newest_first: bool = False,
    skip: int = 0,
    limit: int = 50,
) -> list[Task]:
    """Tasks of the organisation, oldest first (or newest first); ``active=None``
    lists all; ``search`` matches words of the title, case aside."""
    order = DESCENDING if newest_first else ASCENDING
    cursor = (
        scope.collection(dbmod.TASKS)
        .find(_filter(scope, category, difficulty, active, search))
        .sort([("created_at", order), ("_id", order)])
        .skip(max(skip, 0))
        .limit(min(max(limit, 1), MAX_PAGE_SIZE))
    )
    return [Task.from_doc(doc) for doc in cursor]


def count_tasks(
    scope: Scope,
    *,
    category: str | None = None,
    difficulty: str | None = None,
    active: bool | None = True,
    search: str | None = None,
) -> int:
    return scope.collection(dbmod.TASKS).count_documents(_filter(scope, category, difficulty, active, search))


def same_title(scope: Scope, title: str, *, exclude: ObjectId | str | None = None) -> list[Task]:
    """The organisation's tasks (deleted ones too) titled ``title``, case and
    spacing aside, other than ``exclude``: a page warns before a second one."""
    words = (title or "").split()
    if not words:
        return []
    pattern = r"^\s*" + r"\s+".join(re.escape(word) for word in words) + r"\s*$"
    query: dict[str, Any] = {"title": {"$regex": pattern, "$options": "i"}}
    skipped = as_object_id(exclude) if exclude is not None else None
    if skipped is not None:
        query["_id"] = {"$ne": skipped}
    docs = scope.collection(dbmod.TASKS).find(scope.where(query)).sort([("created_at", ASCENDING), ("_id", ASCENDING)])
    return [Task.from_doc(doc) for doc in docs.limit(10)]


def tag_suggestions(scope: Scope, *, limit: int = 40) -> list[str]:
    """The behavioural tags of the organisation's active tasks, most used first (then by name)."""
    used: Counter[str] = Counter()
    for doc in scope.collection(dbmod.TASKS).find(scope.where({"is_active": True}), {"options.behavioral_tags": 1}):
        for option in doc.get("options", []):
            used.update(option.get("behavioral_tags") or [])
    return [tag for tag, _ in sorted(used.items(), key=lambda item: (-item[1], item[0]))[:limit]]


def get_task(scope: Scope, task_id: ObjectId | str) -> Task | None:
    oid = as_object_id(task_id)
    if oid is None:
        return None
    doc = scope.collection(dbmod.TASKS).find_one(scope.where({"_id": oid}))
    return Task.from_doc(doc) if doc else None


def update_task(scope: Scope, task_id: ObjectId | str, changes: Mapping[str, Any]) -> Task:
    """Change authored fields; the whole task is validated as it would become.

    Attempts already issued keep their snapshot, so an edit never changes
    what a candidate sees or how a finished attempt is scored.
    """
    current = _require(scope, task_id)
    unknown = sorted(set(changes) - AUTHORED_FIELDS)
    if unknown:
        raise TaskValidationError([_unknown_field_problem(name) for name in unknown])
    merged = validate_task_input({**current.model_dump(include=AUTHORED_FIELDS), **changes})
    new_values = merged.model_dump(include=set(changes))
    if not new_values:
        return current
    return _set_fields(scope, current.id, new_values, "task.updated", fields=sorted(new_values))


def soft_delete_task(scope: Scope, task_id: ObjectId | str) -> Task:
    """Hide the task from new attempts; issued attempts keep their snapshot."""
    return _set_fields(scope, _require(scope, task_id).id, {"is_active": False}, "task.deleted")


def restore_task(scope: Scope, task_id: ObjectId | str) -> Task:
    return _set_fields(scope, _require(scope, task_id).id, {"is_active": True}, "task.restored")


def validate_task_input(data: TaskInput | Mapping[str, Any]) -> TaskInput:
    """``data`` as a TaskInput, or one TaskValidationError naming every bad field."""
    if isinstance(data, TaskInput):
        return data
    try:
        return TaskInput.model_validate(dict(data))
    except ValidationError as exc:
        raise TaskValidationError([_describe(error) for error in exc.errors()]) from None


def candidate_view(task: CandidateViewable) -> dict[str, Any]:
    """The task as a candidate sees it, the ``task`` of the socket's ``task``
    message (docs/protocol.md): no risk levels, no behavioural tags. The one
    definition: the ingest server sends it and the recruiter's preview draws
    it. A draft not yet saved has no id (``None``)."""
    task_id = getattr(task, "id", None)
    return {
        "id": None if task_id is None else str(task_id),
        "title": task.title,
        "description": task.description,
        "scenario": task.scenario,
        "category": str(task.category),
        "difficulty": str(task.difficulty),
        "time_limit_seconds": task.time_limit_seconds,
        "reasoning_required": task.reasoning_required,
        "reasoning_min_length": task.reasoning_min_length,
        "options": [{"id": option.id, "text": option.text} for option in task.options],
    }


class _OptionViewable(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def text(self) -> str: ...


class CandidateViewable(Protocol):
    """A stored task, a validated input or a recruiter's draft."""

    @property
    def title(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def scenario(self) -> str: ...

    @property
    def category(self) -> str: ...

    @property
    def difficulty(self) -> str: ...

    @property
    def time_limit_seconds(self) -> int | None: ...

    @property
    def reasoning_required(self) -> bool: ...

    @property
    def reasoning_min_length(self) -> int: ...

    @property
    def options(self) -> Sequence[_OptionViewable]: ...


# ---------------------------------------------------------------- helpers


def _filter(
    scope: Scope, category: str | None, difficulty: str | None, active: bool | None, search: str | None = None
) -> dict[str, Any]:
    query: dict[str, Any] = {}
    words = (search or "").split()
    if words:  # every word, in any order, anywhere in the title
        query["$and"] = [{"title": {"$regex": re.escape(word), "$options": "i"}} for word in words[:10]]
    if category:
        query["category"] = str(category)
    if difficulty:
        query["difficulty"] = str(difficulty)
    if active is not None:
        query["is_active"] = active
    return scope.where(query)


def _require(scope: Scope, task_id: ObjectId | str) -> Task:
    task = get_task(scope, task_id)
    if task is None:
        raise TaskNotFound(f"no task with id {task_id} in this organisation")
    return task


def _set_fields(scope: Scope, task_id: ObjectId, values: dict[str, Any], action: str, **details: Any) -> Task:
    doc = scope.collection(dbmod.TASKS).find_one_and_update(
        scope.where({"_id": task_id}),
        {"$set": {**values, "updated_at": utcnow()}},
        return_document=ReturnDocument.AFTER,
    )
    if doc is None:
        raise TaskNotFound(f"no task with id {task_id} in this organisation")
    scope.audit(action, "task", task_id, **details)
    return Task.from_doc(doc)


def _field_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "task"


def _unknown_field_problem(path: str) -> str:
    name = path.rsplit(".", 1)[-1].lower()
    if any(word in name for word in _CORRECTNESS_WORDS):
        return f"{path}: tasks have no correct answer; options carry only a risk level and behavioural tags"
    return f"{path}: unknown field"


def _describe(error: Mapping[str, Any]) -> str:
    """One readable line for one pydantic error, naming the field."""
    loc = tuple(error.get("loc", ()))
    path, kind, field = _field_path(loc), error.get("type", ""), (loc[-1] if loc else None)
    if kind == "extra_forbidden":
        return _unknown_field_problem(path)
    if kind == "missing":
        return f"{path}: is required"
    if field == "options" and kind in {"too_short", "too_long"}:
        return f"{path}: a task needs 2 to 6 options"
    message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
    return f"{path}: {message}"
