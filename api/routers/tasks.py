"""Tasks: list, create, get, replace, soft delete (and restore), as the Tasks page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from api.deps import ScopeDep, WriteScopeDep
from api.schemas import TaskPublic, object_id_or_404
from hiremate import tasks
from hiremate.models import Category, Difficulty, Task
from hiremate.scope import Scope
from hiremate.tasks import TaskInput

router = APIRouter(prefix="/tasks", tags=["tasks"])


def _task_or_404(scope: Scope, task_id: str) -> Task:
    task = tasks.get_task(scope, object_id_or_404(task_id, "task"))
    if task is None:
        raise HTTPException(404, f"No task {task_id!r} in your organisation.")
    return task


@router.get("", summary="List tasks (oldest first)")
def list_tasks(
    scope: ScopeDep,
    category: Category | None = None,
    difficulty: Difficulty | None = None,
    active: Annotated[bool | None, Query(description="true (default): active only; false: deleted only")] = True,
    include_deleted: bool = False,
    limit: Annotated[int, Query(ge=1, le=tasks.MAX_PAGE_SIZE)] = 100,
) -> list[TaskPublic]:
    found = tasks.list_tasks(
        scope, category=category, difficulty=difficulty, active=None if include_deleted else active, limit=limit
    )
    return [TaskPublic.of(task) for task in found]


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a task")
def create_task(scope: WriteScopeDep, body: TaskInput) -> TaskPublic:
    return TaskPublic.of(tasks.create_task(scope, body))


@router.get("/{task_id}", summary="Get a task")
def get_task(scope: ScopeDep, task_id: str) -> TaskPublic:
    return TaskPublic.of(_task_or_404(scope, task_id))


@router.put("/{task_id}", summary="Replace a task's authored fields")
def update_task(scope: WriteScopeDep, task_id: str, body: TaskInput) -> TaskPublic:
    current = _task_or_404(scope, task_id)
    return TaskPublic.of(tasks.update_task(scope, current.id, body.model_dump()))


@router.delete("/{task_id}", summary="Soft-delete a task (issued attempts keep their copy)")
def delete_task(scope: WriteScopeDep, task_id: str) -> TaskPublic:
    return TaskPublic.of(tasks.soft_delete_task(scope, _task_or_404(scope, task_id).id))


@router.post("/{task_id}/restore", summary="Restore a soft-deleted task")
def restore_task(scope: WriteScopeDep, task_id: str) -> TaskPublic:
    return TaskPublic.of(tasks.restore_task(scope, _task_or_404(scope, task_id).id))
