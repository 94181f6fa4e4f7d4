from __future__ import annotations

import pytest
from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from hiremate import db as dbmod
from hiremate.models import Category, Difficulty
from hiremate.scope import Scope
from hiremate.task_library import LIBRARY, install_library
from hiremate.tasks import create_task, list_tasks, soft_delete_task, update_task
from tests.support.concurrency import at_once

CORRECTNESS_WORDS = ("correct", "right", "answer", "score", "best", "wrong", "expected", "solution")


def all_keys(value):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from all_keys(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from all_keys(inner)


@pytest.fixture
def scope(db):
    return Scope(db, ObjectId(), ObjectId())


def test_library_covers_every_category_and_difficulty():
    assert len(LIBRARY) >= 15
    assert {task.category for task in LIBRARY.values()} == {c.value for c in Category}
    assert {task.difficulty for task in LIBRARY.values()} == {d.value for d in Difficulty}
    assert len({task.title for task in LIBRARY.values()}) == len(LIBRARY)


@pytest.mark.parametrize("key", sorted(LIBRARY))
def test_every_library_task_is_a_real_choice(key):
    task = LIBRARY[key]
    assert 3 <= len(task.options) <= 4
    assert len({option.id for option in task.options}) == len(task.options)
    # Options differ in risk, so the choice says something about the candidate.
    assert len({option.risk_level for option in task.options}) >= 2
    assert all(option.behavioral_tags for option in task.options)
    assert 60 <= task.time_limit_seconds <= 600
    if task.reasoning_required:
        assert 20 <= task.reasoning_min_length <= 40
    assert not any(word in key.lower() for key in all_keys(task.model_dump()) for word in CORRECTNESS_WORDS)


def test_reasoning_is_mostly_required():
    required = sum(task.reasoning_required for task in LIBRARY.values())
    assert required >= 0.75 * len(LIBRARY)


def test_install_is_idempotent(db, scope):
    assert install_library(scope) == len(LIBRARY)
    assert install_library(scope) == 0

    stored = list(db[dbmod.TASKS].find({"organization_id": scope.organization_id}))
    assert len(stored) == len(LIBRARY)
    assert sorted(doc["library_key"] for doc in stored) == sorted(LIBRARY)
    assert all(doc["is_active"] and doc["created_by"] == scope.user_id for doc in stored)


def test_stored_library_tasks_carry_no_correctness_field(db, scope):
    install_library(scope)
    for doc in db[dbmod.TASKS].find({}):
        assert not any(word in key.lower() for key in all_keys(doc) for word in CORRECTNESS_WORDS)


def test_each_organisation_gets_its_own_copy(db, scope):
    other = Scope(db, ObjectId(), None)
    install_library(scope)

    assert install_library(other) == len(LIBRARY)
    assert len(list_tasks(other, limit=100)) == len(LIBRARY)
    assert db[dbmod.TASKS].count_documents({}) == 2 * len(LIBRARY)


def test_concurrent_installs_add_each_task_once(db, scope):
    added = at_once(3, lambda: install_library(scope))

    assert sum(added) == len(LIBRARY)
    assert db[dbmod.TASKS].count_documents({"organization_id": scope.organization_id}) == len(LIBRARY)


def test_reinstalling_keeps_recruiters_edits_and_deletions(scope):
    install_library(scope)
    first, second = list_tasks(scope, limit=2)
    update_task(scope, first.id, {"title": "Our own wording"})
    soft_delete_task(scope, second.id)

    assert install_library(scope) == 0

    titles = [task.title for task in list_tasks(scope, active=None, limit=100)]
    assert "Our own wording" in titles
    assert second.title in titles and len(titles) == len(LIBRARY)
    assert second.id not in [task.id for task in list_tasks(scope, limit=100)]


def test_library_key_is_unique_per_organisation_but_own_tasks_have_none(scope):
    task = LIBRARY["ps_flaky_build"]
    create_task(scope, task, library_key="ps_flaky_build")
    with pytest.raises(DuplicateKeyError):
        create_task(scope, task, library_key="ps_flaky_build")

    # Recruiters' own tasks store library_key None, which the partial index ignores.
    create_task(scope, task)
    create_task(scope, task)
    assert len(list_tasks(scope)) == 3
