"""The Tasks page for people (issue 18), through AppTest: newest first, the
search, a warning when a title is taken, and tags optional with the
organisation's own tags suggested."""

from __future__ import annotations

from hiremate import db as dbmod
from hiremate import tasks
from tests.app_pages.test_tasks import PAGE, E, fill_task, listed_titles, make_tasks, option
from tests.support.page_helpers import _fast_bcrypt, click, make_admin, open_page, run_ok, scope_of, texts  # noqa: F401


def test_newest_first_and_searchable(app_env, db):
    admin = make_admin(db)
    make_tasks(scope_of(db, admin), 3)
    at = open_page(db, admin, PAGE)
    assert listed_titles(at) == ["Task 02", "Task 01", "Task 00"]
    at.text_input(key="tasks_filter_search").input("task 01")
    run_ok(at)
    assert listed_titles(at) == ["Task 01"]
    at.text_input(key="tasks_filter_search").input("nothing like it")
    run_ok(at)
    assert "No tasks match these filters." in texts(at)


def test_a_taken_title_is_warned_about_and_tags_may_be_left_out(app_env, db):
    admin = make_admin(db)
    scope = scope_of(db, admin)
    [existing] = make_tasks(scope, 1)
    at = open_page(db, admin, PAGE)
    click(at, "tasks_new")
    assert "Tags already in use: " in texts(at)
    fill_task(at, title="  task 00 ")
    run_ok(at)
    assert "Another task is already called “Task 00”." in " ".join(w.value for w in at.warning)
    option(at, "opt_1", "tags").input("")
    option(at, "opt_2", "tags").input("")
    click(at, "tasks_save")
    assert not at.error
    [doc] = db[dbmod.TASKS].find({"_id": {"$ne": existing.id}})
    assert [o["behavioral_tags"] for o in doc["options"]] == [[], []]
    assert doc["title"] == "task 00"  # saved as asked: a warning, not a refusal

    click(at, f"tasks_edit_{existing.id}")  # its own title is no duplicate of itself ...
    warnings = " ".join(w.value for w in at.warning)
    assert "Another task is already called “task 00”." in warnings  # ... but the new one's is
    tasks.soft_delete_task(scope, doc["_id"])
    at = open_page(db, admin, PAGE)
    click(at, f"tasks_edit_{existing.id}")
    assert "Another task is already called “task 00” (deleted)." in " ".join(w.value for w in at.warning)


def test_the_tags_suggested_are_the_organisations(app_env, db):
    admin = make_admin(db)
    make_tasks(scope_of(db, admin), 1)  # the library's "A build that fails now and then", titled Task 00
    other = make_admin(db, org="Globex", email="gina@globex.test", name="Gina")
    theirs = tasks.create_task(
        scope_of(db, other),
        {
            **tasks.get_task(scope_of(db, admin), db[dbmod.TASKS].find_one()["_id"]).model_dump(
                include=tasks.AUTHORED_FIELDS
            ),
            "options": [
                {"id": "a", "text": "One", "risk_level": "low", "behavioral_tags": ["globex-only"]},
                {"id": "b", "text": "Two", "risk_level": "high", "behavioral_tags": []},
            ],
        },
    )
    at = open_page(db, admin, PAGE)
    click(at, "tasks_new")
    shown = texts(at)
    assert "Tags already in use: " in shown and "methodical" in shown and "globex-only" not in shown
    assert theirs.organization_id != scope_of(db, admin).organization_id
    assert f"{E}title" in [w.key for w in at.text_input]
