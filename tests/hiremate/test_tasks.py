from __future__ import annotations

import copy

import pytest
from bson import ObjectId

from hiremate import db as dbmod
from hiremate.scope import Scope
from hiremate.tasks import (
    TaskNotFound,
    TaskValidationError,
    count_tasks,
    create_task,
    get_task,
    list_tasks,
    restore_task,
    soft_delete_task,
    update_task,
)


def task_data(**overrides):
    data = {
        "title": "A deadline moves",
        "description": "A client asks for an earlier delivery.",
        "scenario": "The client wants the report a week early. What do you do?",
        "category": "problem_solving",
        "difficulty": "easy",
        "time_limit_seconds": 180,
        "options": [
            {"id": "opt_1", "text": "Agree and reprioritise.", "risk_level": "high", "behavioral_tags": ["decisive"]},
            {"id": "opt_2", "text": "Negotiate scope.", "risk_level": "medium", "behavioral_tags": ["collaborative"]},
            {"id": "opt_3", "text": "Keep the date.", "risk_level": "low", "behavioral_tags": ["cautious"]},
        ],
        "reasoning_required": True,
        "reasoning_min_length": 25,
    }
    data.update(overrides)
    return data


def with_option_change(index, **changes):
    data = task_data()
    option = data["options"][index]
    for key, value in changes.items():
        if value is None:
            option.pop(key)
        else:
            option[key] = value
    return data


@pytest.fixture
def scope(db):
    return Scope(db, ObjectId(), ObjectId())


@pytest.fixture
def other_scope(db):
    return Scope(db, ObjectId(), ObjectId())


def audit_actions(db, organization_id):
    entries = db[dbmod.AUDIT_LOG].find({"organization_id": organization_id}).sort([("at", 1), ("_id", 1)])
    return [entry["action"] for entry in entries]


def test_create_stores_the_task_in_the_scope_organisation(db, scope):
    task = create_task(scope, task_data())

    stored = get_task(scope, task.id)
    assert stored == task
    assert stored.organization_id == scope.organization_id
    assert stored.created_by == scope.user_id
    assert stored.is_active and stored.library_key is None
    assert [o.risk_level for o in stored.options] == ["high", "medium", "low"]
    assert get_task(scope, str(task.id)) == task
    assert audit_actions(db, scope.organization_id) == ["task.created"]


def test_list_filters_sorts_and_counts(scope):
    first = create_task(scope, task_data(title="one"))
    second = create_task(scope, task_data(title="two", category="communication", difficulty="hard"))
    third = create_task(scope, task_data(title="three", category="communication"))

    assert [t.title for t in list_tasks(scope)] == ["one", "two", "three"]
    assert [t.id for t in list_tasks(scope, category="communication")] == [second.id, third.id]
    assert [t.id for t in list_tasks(scope, category="communication", difficulty="hard")] == [second.id]
    assert [t.id for t in list_tasks(scope, skip=1, limit=1)] == [second.id]
    assert count_tasks(scope) == 3
    assert count_tasks(scope, category="communication") == 2

    soft_delete_task(scope, first.id)
    assert [t.id for t in list_tasks(scope)] == [second.id, third.id]
    assert [t.id for t in list_tasks(scope, active=False)] == [first.id]
    assert len(list_tasks(scope, active=None)) == 3
    assert count_tasks(scope) == 2
    assert count_tasks(scope, active=None) == 3


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (task_data(options=task_data()["options"][:1]), "options: a task needs 2 to 6 options"),
        (
            task_data(options=[copy.deepcopy(task_data()["options"][0]) | {"id": f"o{i}"} for i in range(7)]),
            "options: a task needs 2 to 6 options",
        ),
        (with_option_change(1, id="opt_1"), "options: option ids must be unique within a task (repeated: opt_1)"),
        (with_option_change(1, risk_level=None), "options[1].risk_level: is required"),
        (with_option_change(0, risk_level="extreme"), "options[0].risk_level: Input should be 'low', 'medium' or 'high'"),
        (with_option_change(1, behavioral_tags="calm"), "options[1].behavioral_tags: Input should be a valid list"),
        (with_option_change(2, is_correct=True), "options[2].is_correct: tasks have no correct answer"),
        (task_data(correct_option_id="opt_1"), "correct_option_id: tasks have no correct answer"),
        (task_data(colour="blue"), "colour: unknown field"),
        (task_data(title=None), "title: Input should be a valid string"),
        (task_data(title="   "), "title: must not be blank"),
        (task_data(category="gardening"), "category: Input should be"),
        (task_data(time_limit_seconds=5), "time_limit_seconds: Input should be greater than or equal to 10"),
    ],
)  # fmt: skip
def test_invalid_tasks_are_refused_with_a_message_naming_the_field(db, scope, data, expected):
    with pytest.raises(TaskValidationError) as caught:
        create_task(scope, data)
    assert expected in str(caught.value)
    assert str(caught.value).startswith("Invalid task: ")
    assert db[dbmod.TASKS].count_documents({}) == 0
    assert audit_actions(db, scope.organization_id) == []


def test_every_problem_is_reported_at_once(scope):
    data = task_data(scenario="")
    del data["title"]
    data["options"][0]["risk_level"] = "huge"

    with pytest.raises(TaskValidationError) as caught:
        create_task(scope, data)

    problems = caught.value.problems
    assert "title: is required" in problems
    assert any(p.startswith("scenario: ") for p in problems)
    assert any(p.startswith("options[0].risk_level: ") for p in problems)


def test_update_validates_the_task_as_it_would_become(db, scope):
    task = create_task(scope, task_data())

    with pytest.raises(TaskValidationError, match=r"options: a task needs 2 to 6 options"):
        update_task(scope, task.id, {"options": task_data()["options"][:1]})
    with pytest.raises(TaskValidationError, match=r"options\[0\]\.correct: tasks have no correct answer"):
        update_task(scope, task.id, {"options": [with_option_change(0, correct=True)["options"][0]]})
    with pytest.raises(TaskValidationError, match=r"is_correct: tasks have no correct answer"):
        update_task(scope, task.id, {"is_correct": "opt_1"})
    with pytest.raises(TaskValidationError, match=r"organization_id: unknown field"):
        update_task(scope, task.id, {"organization_id": ObjectId()})
    assert get_task(scope, task.id) == task

    updated = update_task(scope, task.id, {"title": "A deadline moves again", "difficulty": "hard"})

    assert updated.title == "A deadline moves again" and updated.difficulty == "hard"
    assert updated.options == task.options
    assert updated.updated_at >= task.updated_at
    assert get_task(scope, task.id) == updated
    entry = db[dbmod.AUDIT_LOG].find_one({"action": "task.updated"})
    assert entry["target_id"] == str(task.id)
    assert entry["details"]["fields"] == ["difficulty", "title"]


def test_soft_delete_and_restore(db, scope):
    task = create_task(scope, task_data())

    deleted = soft_delete_task(scope, task.id)
    assert not deleted.is_active
    assert get_task(scope, task.id).is_active is False

    restored = restore_task(scope, task.id)
    assert restored.is_active
    assert audit_actions(db, scope.organization_id) == ["task.created", "task.deleted", "task.restored"]


def test_another_organisation_never_finds_or_changes_a_task(db, scope, other_scope):
    task = create_task(scope, task_data())
    before = db[dbmod.TASKS].find_one({"_id": task.id})

    assert get_task(other_scope, task.id) is None
    assert list_tasks(other_scope, active=None) == []
    assert count_tasks(other_scope, active=None) == 0
    for change in (
        lambda: update_task(other_scope, task.id, {"title": "hijacked"}),
        lambda: soft_delete_task(other_scope, task.id),
        lambda: restore_task(other_scope, task.id),
    ):
        with pytest.raises(TaskNotFound):
            change()

    assert db[dbmod.TASKS].find_one({"_id": task.id}) == before
    assert audit_actions(db, other_scope.organization_id) == []


def test_unknown_or_malformed_ids_are_not_found(scope):
    assert get_task(scope, ObjectId()) is None
    assert get_task(scope, "not-an-id") is None
    with pytest.raises(TaskNotFound):
        update_task(scope, "not-an-id", {"title": "x"})
