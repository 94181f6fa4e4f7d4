"""The task library's reads for people (issue 18): newest first, a search of
the title's words, titles another task already has, tags optional, and the
organisation's own tags suggested; never another organisation's."""

from __future__ import annotations

import pytest
from bson import ObjectId

from hiremate.scope import Scope
from hiremate.tasks import count_tasks, create_task, list_tasks, same_title, soft_delete_task, tag_suggestions
from tests.hiremate.test_tasks import task_data


@pytest.fixture
def scope(db):
    return Scope(db, ObjectId(), ObjectId())


@pytest.fixture
def other(db):
    return Scope(db, ObjectId(), ObjectId())


def options(*tag_lists):
    return [
        {"id": f"o{n}", "text": f"Option {n}", "risk_level": "low", "behavioral_tags": tags}
        for n, tags in enumerate(tag_lists)
    ]


def test_tags_are_optional_and_cleaned(scope):
    task = create_task(scope, task_data(options=options([], ["  ", ""], ["Calm", "calm ", "bold"])))
    assert [o.behavioral_tags for o in task.options] == [[], [], ["calm", "bold"]]
    untagged = task_data()
    for option in untagged["options"]:
        del option["behavioral_tags"]
    assert all(o.behavioral_tags == [] for o in create_task(scope, untagged).options)


def test_newest_first_and_a_search_of_the_title_words(scope, other):
    titles = ["Budget overrun (Q3)", "A late handoff", "The budget meeting", "Budget cuts"]
    created = [create_task(scope, task_data(title=title)) for title in titles]
    create_task(other, task_data(title="Budget of another organisation"))
    assert [t.title for t in list_tasks(scope, newest_first=True)] == titles[::-1]
    assert [t.title for t in list_tasks(scope, search="BUDGET", newest_first=True)] == [
        "Budget cuts",
        "The budget meeting",
        "Budget overrun (Q3)",
    ]
    assert [t.title for t in list_tasks(scope, search="meeting  the")] == ["The budget meeting"]  # any order
    assert [t.title for t in list_tasks(scope, search="(q3)")] == ["Budget overrun (Q3)"]  # taken literally
    assert count_tasks(scope, search="budget") == 3
    soft_delete_task(scope, created[3].id)
    assert count_tasks(scope, search="budget") == 2 and count_tasks(scope, search="budget", active=None) == 3


def test_same_title_finds_case_and_spacing_aside_deleted_ones_too_never_itself_or_another_org(scope, other):
    first = create_task(scope, task_data(title="A deadline  moves"))
    create_task(other, task_data(title="A deadline moves"))
    assert [t.id for t in same_title(scope, "  a DEADLINE moves ")] == [first.id]
    assert same_title(scope, "A deadline moves", exclude=first.id) == []
    assert same_title(scope, "A deadline") == [] and same_title(scope, "   ") == []
    soft_delete_task(scope, first.id)
    assert [t.id for t in same_title(scope, "a deadline moves")] == [first.id]
    assert same_title(scope, "A deadline moves.*") == []  # a title, not a pattern


def test_tag_suggestions_are_the_organisations_active_tags_most_used_first(scope, other):
    create_task(scope, task_data(options=options(["calm", "bold"], ["calm"], [])))
    create_task(scope, task_data(options=options(["steady"], ["bold", "calm"])))
    deleted = create_task(scope, task_data(options=options(["gone"], ["gone"])))
    soft_delete_task(scope, deleted.id)
    create_task(other, task_data(options=options(["theirs"], ["theirs"])))
    assert tag_suggestions(scope) == ["calm", "bold", "steady"]
    assert tag_suggestions(Scope(scope.db, ObjectId())) == []
