"""Assessment kits: a named, reusable choice of tasks for a position.

A kit is either a list of tasks in order (every candidate gets those) or a
sampling rule (``count`` active tasks drawn per candidate from some
categories and difficulties). Recruiters choose one when issuing (the
Assessments page, bulk issue, ``python -m hiremate issue --kit``); it is
also the unit a REST API or an ATS integration offers (``KitPublic``: a
stable id, name, position, how many tasks).

Kits live in ``assessment_kits``, every read and write through the scope.
A name is unique (case aside) among an organisation's kits that are not
archived (a partial unique index, never check-then-insert). Archiving hides
a kit from issuing and keeps it for the attempts that name it. A kit whose
tasks were deleted or made inactive since (or whose rule no longer finds
enough tasks) says so (``kit_problems``) and is refused when issuing, with
a message naming the tasks. Every change is audited with ids and counts
only, never the text people typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from bson import ObjectId
from pydantic import ValidationError
from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from hiremate import attempts
from hiremate import db as dbmod
from hiremate.errors import AttemptError, KitError
from hiremate.ids import as_object_id
from hiremate.models import AssessmentKit, KitBase, KitCreate, KitPublic, KitUpdate
from hiremate.scope import Scope
from hiremate.timeutil import utcnow

MAX_KITS = 500  # listed at most (an organisation has a handful)
_AUTHORED = ("name", "position", "description", "task_ids", "sampling")
_M = TypeVar("_M", KitCreate, KitBase, KitUpdate)


# ---------------------------------------------------------------- writing


def create_kit(scope: Scope, data: KitCreate | Mapping[str, Any]) -> AssessmentKit:
    """Store a new kit; KitError when it is invalid, names tasks the
    organisation does not have active, or its name is taken."""
    kit_input = _validate(KitCreate, data)
    _require_usable(scope, kit_input)
    now = utcnow()
    kit = AssessmentKit(
        **kit_input.model_dump(),
        organization_id=scope.organization_id,
        name_key=name_key(kit_input.name),
        created_by=scope.user_id,
        created_at=now,
        updated_at=now,
    )
    try:
        kit.id = scope.collection(dbmod.KITS).insert_one(kit.to_doc()).inserted_id
    except DuplicateKeyError:
        raise KitError(f"A kit named “{kit.name}” exists already: choose another name.") from None
    scope.audit("kit.created", "kit", kit.id, kind=kit.kind, tasks=kit.task_count)
    return kit


def update_kit(scope: Scope, kit_id: ObjectId | str, changes: KitUpdate | Mapping[str, Any]) -> AssessmentKit:
    """Change a kit that is not archived; the kit is validated as it would
    become. Attempts already issued with it keep their tasks."""
    current = _require(scope, kit_id)
    if current.archived:
        raise KitError(f"The kit “{current.name}” is archived: restore it before editing it.")
    given = _validate(KitUpdate, changes).model_dump(exclude_unset=True)
    if "task_ids" in given and given["task_ids"] is not None:
        given["sampling"] = None
    elif "sampling" in given and given["sampling"] is not None:
        given["task_ids"] = None
    before = current.model_dump(include=set(_AUTHORED))
    merged = _validate(KitBase, {**before, **given})
    _require_usable(scope, merged)
    values = {key: value for key, value in merged.model_dump().items() if value != before[key]}
    if not values:
        return current
    changed = sorted(values)
    values["name_key"] = name_key(merged.name)
    doc = _set(scope, {"_id": current.id, "archived": False}, {**values, "updated_at": utcnow()})
    if doc is None:
        raise KitError("The kit was archived meanwhile; reload the page.")
    scope.audit("kit.updated", "kit", current.id, fields=changed, tasks=merged.task_count)
    return AssessmentKit.from_doc(doc)


def archive_kit(scope: Scope, kit_id: ObjectId | str) -> AssessmentKit:
    """Hide a kit from issuing; attempts issued with it keep naming it."""
    current = _require(scope, kit_id)
    now = utcnow()
    doc = _set(scope, {"_id": current.id}, {"archived": True, "archived_at": now, "updated_at": now})
    if doc is None:  # pragma: no cover - _require found it a moment ago
        raise KitError("The kit no longer exists.")
    scope.audit("kit.archived", "kit", current.id)
    return AssessmentKit.from_doc(doc)


def restore_kit(scope: Scope, kit_id: ObjectId | str) -> AssessmentKit:
    """Offer an archived kit again (refused while another kit has its name)."""
    current = _require(scope, kit_id)
    doc = _set(scope, {"_id": current.id}, {"archived": False, "archived_at": None, "updated_at": utcnow()})
    if doc is None:  # pragma: no cover - _require found it a moment ago
        raise KitError("The kit no longer exists.")
    scope.audit("kit.restored", "kit", current.id)
    return AssessmentKit.from_doc(doc)


# ---------------------------------------------------------------- reading


def name_key(name: str) -> str:
    """The form in which names are unique: spaces collapsed, case folded."""
    return " ".join(name.split()).casefold()


def get_kit(scope: Scope, kit_id: ObjectId | str) -> AssessmentKit | None:
    oid = as_object_id(kit_id)
    if oid is None:
        return None
    doc = scope.collection(dbmod.KITS).find_one(scope.where({"_id": oid}))
    return AssessmentKit.from_doc(doc) if doc else None


def find_kit(scope: Scope, name_or_id: str) -> AssessmentKit:
    """A kit of the organisation by id, or by name among those not archived
    (case aside); KitError when there is none."""
    text = (name_or_id or "").strip()
    kit = get_kit(scope, text) if as_object_id(text) is not None else None
    if kit is None and text:
        doc = scope.collection(dbmod.KITS).find_one(scope.where({"name_key": name_key(text), "archived": False}))
        kit = AssessmentKit.from_doc(doc) if doc else None
    if kit is None:
        raise KitError(f"No assessment kit named or with id “{text[:64]}” in this organisation.")
    return kit


def list_kits(scope: Scope, *, archived: bool | None = False) -> list[AssessmentKit]:
    """The organisation's kits by name (``archived=None``: all of them)."""
    query: dict[str, Any] = {} if archived is None else {"archived": archived}
    cursor = (
        scope.collection(dbmod.KITS)
        .find(scope.where(query))
        .sort([("name_key", ASCENDING), ("_id", ASCENDING)])
        .limit(MAX_KITS)
    )
    return [AssessmentKit.from_doc(doc) for doc in cursor]


def list_public(scope: Scope) -> list[KitPublic]:
    """The kits an API or ATS integration offers: those not archived."""
    return [KitPublic.of(kit) for kit in list_kits(scope)]


def kit_problems(scope: Scope, kit: KitBase) -> list[str]:
    """Why the kit cannot be issued now, one sentence each (empty: it can)."""
    if kit.task_ids is not None:
        docs = {
            doc["_id"]: doc
            for doc in scope.collection(dbmod.TASKS).find(
                scope.where({"_id": {"$in": list(kit.task_ids)}}), {"title": 1, "is_active": 1}
            )
        }
        gone = [str(oid) for oid in kit.task_ids if oid not in docs]
        inactive = [f"“{docs[oid]['title']}”" for oid in kit.task_ids if oid in docs and not docs[oid]["is_active"]]
        problems = []
        if inactive:
            problems.append(f"{_plural(len(inactive), 'task is', 'tasks are')} deleted: {', '.join(inactive)}")
        if gone:
            problems.append(
                f"{_plural(len(gone), 'task no longer exists', 'tasks no longer exist')}: {', '.join(gone)}"
            )
        return problems
    try:
        _sampling_source(scope, kit)
    except AttemptError as exc:
        return [_sentence(str(exc))]
    return []


def task_source(scope: Scope, kit: AssessmentKit) -> attempts.TaskSource:
    """Where attempts issued with ``kit`` get their tasks; KitError, naming
    what to fix, when the kit is archived or cannot be issued now."""
    if kit.organization_id != scope.organization_id:
        raise KitError("No such assessment kit in this organisation.")
    if kit.archived:
        raise KitError(f"The kit “{kit.name}” is archived: restore it or choose another kit.")
    problems = kit_problems(scope, kit)
    if problems:
        raise KitError(
            f"The kit “{kit.name}” cannot be issued: {'; '.join(problems)}. Edit the kit or choose another one."
        )
    if kit.task_ids is not None:
        source = attempts.choose_tasks(scope, task_ids=list(kit.task_ids))
    else:
        source = _sampling_source(scope, kit)
    return attempts.TaskSource(fixed=source.fixed, pool=source.pool, size=source.size, kit_id=kit.id)


# ---------------------------------------------------------------- helpers


def _sampling_source(scope: Scope, kit: KitBase) -> attempts.TaskSource:
    rule = kit.sampling
    assert rule is not None
    return attempts.choose_tasks(
        scope, sample=rule.count, category=list(rule.categories), difficulty=list(rule.difficulties)
    )


def _require_usable(scope: Scope, kit: KitBase) -> None:
    problems = kit_problems(scope, kit)
    if problems:
        raise KitError(f"The kit cannot be saved: {'; '.join(problems)}.")


def _require(scope: Scope, kit_id: ObjectId | str) -> AssessmentKit:
    kit = get_kit(scope, kit_id)
    if kit is None:
        raise KitError("No such assessment kit in this organisation.")
    return kit


def _set(scope: Scope, query: dict[str, Any], values: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return scope.collection(dbmod.KITS).find_one_and_update(
            scope.where(query), {"$set": values}, return_document=ReturnDocument.AFTER
        )
    except DuplicateKeyError:
        raise KitError("Another kit has this name: choose another name (or archive that kit).") from None


def _validate(model: type[_M], data: _M | Mapping[str, Any]) -> _M:
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(dict(data) if isinstance(data, Mapping) else data.model_dump(exclude_unset=True))
    except ValidationError as exc:
        raise KitError("; ".join(_describe(error) for error in exc.errors())) from None


def _describe(error: Mapping[str, Any]) -> str:
    loc = [str(part) for part in error.get("loc", ()) if not isinstance(part, int)]
    field = (loc[-1] if loc else "kit").replace("_", " ")
    message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
    return message[:1].upper() + message[1:] if field == "kit" else f"{field[:1].upper()}{field[1:]}: {message}"


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]
